# SPDX-License-Identifier: GPL-2.0
#
# tracing/: capture (libtracefs), decoding (libtraceevent), the action log,
# trace files and the kmmu-trace tool.  tracing/*.c except the tools form
# libkmmutrace.a, which selftests link (TRACING_LIB).

TRACING_CFLAGS := $(shell pkg-config --cflags libtracefs libtraceevent 2>/dev/null)
TRACING_LDLIBS := $(shell pkg-config --libs libtracefs libtraceevent 2>/dev/null)
TRACING_TOOL_SRCS := tracing/kmmu_trace.c
TRACING_LIB_SRCS := $(filter-out $(TRACING_TOOL_SRCS),$(wildcard tracing/*.c))
TRACING_LIB := $(O)/tracing/libkmmutrace.a
TRACING_TESTS := $(patsubst tracing/tests/%.c,$(O)/tracing/tests/%,$(wildcard tracing/tests/*_test.c))
TRACING_TOOLS := $(O)/tracing/kmmu-trace

$(O)/tracing/%.o: tracing/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(TRACING_CFLAGS) -c -o $@ $<

$(TRACING_LIB): $(TRACING_LIB_SRCS:%.c=$(O)/%.o)
	$(AR) rcs $@ $^

$(O)/tracing/kmmu-trace: $(O)/tracing/kmmu_trace.o $(TRACING_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(TRACING_LDLIBS) $(LDLIBS)

$(O)/tracing/tests/%: $(O)/tracing/tests/%.o $(TRACING_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(TRACING_LDLIBS) $(LDLIBS)

ALL_BINS += $(TRACING_TESTS) $(TRACING_TOOLS)
CHECK_PROGS += $(TRACING_TESTS)
