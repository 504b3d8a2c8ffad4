# SPDX-License-Identifier: GPL-2.0
#
# tracing/: observing the host kernel -- capture (libtracefs; the KVM
# events and DAMON's), decoding (libtraceevent), KVM binary stats, the
# host/KVM probe, host hygiene and the janitor (host state restored on
# every path), the action log, trace files, the checker -- and the
# kmmu-trace tool.  tracing/*.c except the tools form libkmmutrace.a
# (TRACING_LIB), which selftests link, and ref/bench for the host probe.

TRACING_CFLAGS := $(shell pkg-config --cflags libtracefs libtraceevent 2>/dev/null)
TRACING_LDLIBS := $(shell pkg-config --libs libtracefs libtraceevent 2>/dev/null)
TRACING_TOOL_SRCS := tracing/kmmu_trace.c
TRACING_LIB_SRCS := $(filter-out $(TRACING_TOOL_SRCS),$(wildcard tracing/*.c))
# The checker, one file per property family (tracing/checker/checker.c says which).
CHECKER_SRCS := $(wildcard tracing/checker/*.c)
TRACING_LIB_SRCS += $(CHECKER_SRCS)
TRACING_TESTS := $(patsubst tracing/tests/%.c,$(O)/tracing/tests/%,$(wildcard tracing/tests/*_test.c))
TRACING_TOOLS := $(O)/tracing/kmmu-trace

# The library sees its own headers and ref/'s (DESIGN.md "Layers"); the
# tool, tests and benchmarks are programs, which may use every library.
TRACING_OBJ_INC = $(TRACING_INC)
$(O)/tracing/tests/%.o $(O)/tracing/bench/%.o $(TRACING_TOOL_SRCS:%.c=$(O)/%.o): \
	TRACING_OBJ_INC = $(PROG_INC)

$(O)/tracing/%.o: tracing/%.c $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(TRACING_OBJ_INC) $(TRACING_CFLAGS) -c -o $@ $<

$(TRACING_LIB): $(TRACING_LIB_SRCS:%.c=$(O)/%.o)
	rm -f $@ && $(AR) rcs $@ $^

# The checker joins the kernel's events to the reference (ref/), whose
# headers need the kernel's tools/include.
$(CHECKER_SRCS:%.c=$(O)/%.o): TRACING_CFLAGS += $(REF_CFLAGS)
# ... and so do the test that drives the checker's reference VM directly and
# the one that alters real traces (it reads the memslot layout's constants).
$(O)/tracing/tests/checker_ref_test.o $(O)/tracing/tests/checker_alter_test.o: \
	TRACING_CFLAGS += $(REF_CFLAGS)
TRACING_LDLIBS += $(REF_LDLIBS)

$(O)/tracing/kmmu-trace: $(O)/tracing/kmmu_trace.o $(TRACING_LIB) $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(TRACING_LDLIBS) $(LDLIBS) -lm

$(O)/tracing/tests/%: $(O)/tracing/tests/%.o $(TRACING_LIB) $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(TRACING_LDLIBS) $(LDLIBS) -lm

ALL_BINS += $(TRACING_TESTS) $(TRACING_TOOLS)

# The ioctl interposer `kmmu-trace record` preloads into the command it
# runs: position-independent, with its own copy of the action stamping and
# of the KVM stats reader (the VMs' page stats), exporting only ioctl and
# close.
IOCTL_LOG_LIB := $(O)/tracing/libkmmu-ioctl-log.so
IOCTL_LOG_SRCS := tracing/preload/ioctl_log.c tracing/log.c tracing/kvm_stats.c

$(IOCTL_LOG_LIB): $(IOCTL_LOG_SRCS) $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Itracing/include -Iref/include -fPIC -shared -fvisibility=hidden \
		-o $@ $(IOCTL_LOG_SRCS) -ldl -pthread

ALL_BINS += $(IOCTL_LOG_LIB)

# The reader under libFuzzer (clang), ASan and UBSan; `make check` gives it
# 15 s starting from the committed seeds (new inputs go to the build dir).
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
TRACING_FUZZ := $(O)/tracing/fuzz/trace_file_fuzz

$(TRACING_FUZZ): tracing/fuzz/trace_file_fuzz.c tracing/trace_file.c tracing/log.c ref/atomic_file.c
	@mkdir -p $(dir $@) $(dir $@)corpus
	$(CLANG) $(FUZZ_FLAGS) -std=gnu11 -D_GNU_SOURCE -Itracing/include -Iref/include -o $@ $^ -pthread

ALL_BINS += $(TRACING_FUZZ)

# The checker under the same, on whatever records a reader lets through,
# starting from the real traces of tracing/fixtures.
CHECKER_FUZZ := $(O)/tracing/fuzz/checker_fuzz
CHECKER_FUZZ_SRCS := tracing/fuzz/checker_fuzz.c $(CHECKER_SRCS) tracing/trace_file.c \
	tracing/log.c ref/atomic_file.c $(REF_LIB_SRCS) $(KSRC_DIR)/tools/lib/rbtree.c

$(CHECKER_FUZZ): $(CHECKER_FUZZ_SRCS) $(KSRC_STAMP)
	@mkdir -p $(dir $@) $(dir $@)checker-corpus
	$(CLANG) $(FUZZ_FLAGS) -std=gnu11 -D_GNU_SOURCE -Itracing/include -Iref/include \
		$(REF_CFLAGS) -o $@ $(CHECKER_FUZZ_SRCS) $(REF_LDLIBS) -pthread

ALL_BINS += $(CHECKER_FUZZ)

TRACING_BENCHES := $(patsubst tracing/bench/%.c,$(O)/tracing/bench/%,$(wildcard tracing/bench/*.c))

$(O)/tracing/bench/%: $(O)/tracing/bench/%.o $(TRACING_LIB) $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(TRACING_LDLIBS) $(LDLIBS) -lm

ALL_BINS += $(TRACING_BENCHES)

# The .dat export (tracing/export_dat.c) needs no libtracecmd: only its
# test does, to read each .dat back the way trace-cmd and KernelShark do.
TRACECMD_CFLAGS := $(shell pkg-config --cflags libtracecmd 2>/dev/null)
TRACECMD_LDLIBS := $(shell pkg-config --libs libtracecmd 2>/dev/null)
$(O)/tracing/tests/export_dat_test.o: private TRACING_CFLAGS += $(TRACECMD_CFLAGS)
$(O)/tracing/tests/export_dat_test: private TRACING_LDLIBS += $(TRACECMD_LDLIBS)
# It runs the tool.
$(O)/tracing/tests/export_dat_test: | $(O)/tracing/kmmu-trace
