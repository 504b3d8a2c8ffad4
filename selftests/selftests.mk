# SPDX-License-Identifier: GPL-2.0
#
# selftests/: tests and benchmarks on real KVM guests.  selftests/lib/*.c is
# the guest runtime (libkmmukvm.a); every selftests/*_test.c is a selftest
# (kselftest harness, TAP), every selftests/*_perf_test.c also a benchmark;
# selftests/lib/tests/*_test.c test the runtime itself.
#
# Guest code is compiled into the same binary and runs at CPL3 in the
# guest: it must not use the stack protector, red zone-sensitive signal
# tricks or SSE beyond what CR4.OSFXSR enables, nor call into libc.

SELFTEST_LIB_SRCS := $(wildcard selftests/lib/*.c)
SELFTEST_LIB_OBJS := $(SELFTEST_LIB_SRCS:%.c=$(O)/%.o)
SELFTEST_CFLAGS := -fno-stack-protector -fno-pie -no-pie -mno-red-zone
SELFTEST_LDLIBS := -lnuma -lgsl -lgslcblas

SELFTESTS := $(patsubst selftests/%.c,$(O)/selftests/%,$(wildcard selftests/*_test.c))
SELFTEST_TOOLS := $(patsubst selftests/%.c,$(O)/selftests/%,$(wildcard selftests/kmmu_*.c))
SELFTEST_LIB_TESTS := $(patsubst selftests/lib/tests/%.c,$(O)/selftests/lib/tests/%,$(wildcard selftests/lib/tests/*_test.c))
SELFTEST_PERF := $(filter %_perf_test,$(SELFTESTS))

# The runtime sees its own headers and those of tracing/ and ref/ below it
# (DESIGN.md "Layers"); tests and tools are programs: every library and
# the kselftest harness.
SELFTEST_OBJ_INC = $(PROG_INC)
$(SELFTEST_LIB_OBJS): SELFTEST_OBJ_INC = $(SELFTEST_INC)

$(O)/selftests/%.o: selftests/%.c $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(SELFTEST_OBJ_INC) $(SELFTEST_CFLAGS) -c -o $@ $<

$(SELFTEST_LIB): $(SELFTEST_LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

# Selftests link the checker and the host probe (tracing/).
# The objects first, then the libraries they need (a program of several
# files, below, adds objects after the libraries in $^).
$(O)/selftests/%: $(O)/selftests/%.o $(SELFTEST_LIB) $(TRACING_LIB) $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) $(SELFTEST_CFLAGS) -o $@ $(filter %.o,$^) $(filter-out %.o,$^) $(TRACING_LDLIBS) $(SELFTEST_LDLIBS) $(LDLIBS) -lm

# Programs in several files: selftests/NAME/*.c are linked into NAME_test
# (the kselftest harness, and so TEST_F and main(), is in NAME_test.c).
AGING_TEST_OBJS := $(patsubst %.c,$(O)/%.o,$(wildcard selftests/aging/*.c))
$(O)/selftests/aging_test: $(AGING_TEST_OBJS)
HUGE_MAPPING_TEST_OBJS := $(patsubst %.c,$(O)/%.o,$(wildcard selftests/huge_mapping/*.c))
$(O)/selftests/huge_mapping_test: $(HUGE_MAPPING_TEST_OBJS)
DIRTY_LOG_TEST_OBJS := $(patsubst %.c,$(O)/%.o,$(wildcard selftests/dirty_log/*.c))
$(O)/selftests/dirty_log_test: $(DIRTY_LOG_TEST_OBJS)
MEMSLOT_CHURN_TEST_OBJS := $(patsubst %.c,$(O)/%.o,$(wildcard selftests/memslot_churn/*.c))
$(O)/selftests/memslot_churn_test: $(MEMSLOT_CHURN_TEST_OBJS)
MMIO_INVALIDATION_TEST_OBJS := $(patsubst %.c,$(O)/%.o,$(wildcard selftests/mmio_invalidation/*.c))
$(O)/selftests/mmio_invalidation_test: $(MMIO_INVALIDATION_TEST_OBJS)
MEMSLOT_FLAGS_TEST_OBJS := $(patsubst %.c,$(O)/%.o,$(wildcard selftests/memslot_flags/*.c))
$(O)/selftests/memslot_flags_test: $(MEMSLOT_FLAGS_TEST_OBJS)

# The DAMON driver's tests share where they run it (damon_test_env.c).
DAMON_TEST_ENV_OBJ := $(O)/selftests/lib/tests/damon_test_env.o
$(filter $(O)/selftests/lib/tests/damon%,$(SELFTEST_LIB_TESTS)): $(DAMON_TEST_ENV_OBJ)

ALL_BINS += $(SELFTESTS) $(SELFTEST_TOOLS) $(SELFTEST_LIB_TESTS)
