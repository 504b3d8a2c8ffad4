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

$(O)/tracing/%.o: tracing/%.c $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(TRACING_CFLAGS) -c -o $@ $<

$(TRACING_LIB): $(TRACING_LIB_SRCS:%.c=$(O)/%.o)
	$(AR) rcs $@ $^

# The checker joins the kernel's events to the reference (ref/), whose
# headers need the kernel's tools/include.
$(O)/tracing/checker.o: TRACING_CFLAGS += $(REF_CFLAGS)
TRACING_LDLIBS += $(REF_LDLIBS)

$(O)/tracing/kmmu-trace: $(O)/tracing/kmmu_trace.o $(TRACING_LIB) $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(TRACING_LDLIBS) $(LDLIBS)

$(O)/tracing/tests/%: $(O)/tracing/tests/%.o $(TRACING_LIB) $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(TRACING_LDLIBS) $(LDLIBS)

ALL_BINS += $(TRACING_TESTS) $(TRACING_TOOLS)

# The reader under libFuzzer (clang), ASan and UBSan; `make check` gives it
# 15 s starting from the committed seeds (new inputs go to the build dir).
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
TRACING_FUZZ := $(O)/tracing/fuzz/trace_file_fuzz

$(TRACING_FUZZ): tracing/fuzz/trace_file_fuzz.c tracing/trace_file.c tracing/log.c
	@mkdir -p $(dir $@) $(dir $@)corpus
	$(CLANG) $(FUZZ_FLAGS) -std=gnu11 -D_GNU_SOURCE -Itracing/include -o $@ $^ -pthread

ALL_BINS += $(TRACING_FUZZ)

# The checker under the same, on whatever records a reader lets through,
# starting from the real traces of tracing/fixtures.
CHECKER_FUZZ := $(O)/tracing/fuzz/checker_fuzz
CHECKER_FUZZ_SRCS := tracing/fuzz/checker_fuzz.c tracing/checker.c tracing/trace_file.c \
	tracing/log.c $(REF_LIB_SRCS) $(KSRC_DIR)/tools/lib/rbtree.c

$(CHECKER_FUZZ): $(CHECKER_FUZZ_SRCS) $(KSRC_STAMP)
	@mkdir -p $(dir $@) $(dir $@)checker-corpus
	$(CLANG) $(FUZZ_FLAGS) -std=gnu11 -D_GNU_SOURCE -Itracing/include -Iref/include \
		$(REF_CFLAGS) -o $@ $(CHECKER_FUZZ_SRCS) $(REF_LDLIBS) -pthread

ALL_BINS += $(CHECKER_FUZZ)

TRACING_BENCHES := $(patsubst tracing/bench/%.c,$(O)/tracing/bench/%,$(wildcard tracing/bench/*.c))

$(O)/tracing/bench/%: $(O)/tracing/bench/%.o $(TRACING_LIB) $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(TRACING_LDLIBS) $(LDLIBS) -lm

ALL_BINS += $(TRACING_BENCHES)
