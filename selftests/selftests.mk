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
SELFTEST_LIB := $(O)/selftests/libkmmukvm.a
SELFTEST_CFLAGS := -fno-stack-protector -fno-pie -no-pie -mno-red-zone
SELFTEST_LDLIBS := -lnuma

SELFTESTS := $(patsubst selftests/%.c,$(O)/selftests/%,$(wildcard selftests/*_test.c))
SELFTEST_TOOLS := $(patsubst selftests/%.c,$(O)/selftests/%,$(wildcard selftests/kmmu_*.c))
SELFTEST_LIB_TESTS := $(patsubst selftests/lib/tests/%.c,$(O)/selftests/lib/tests/%,$(wildcard selftests/lib/tests/*_test.c))
SELFTEST_PERF := $(filter %_perf_test,$(SELFTESTS))

$(O)/selftests/%.o: selftests/%.c $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(SELFTEST_CFLAGS) -c -o $@ $<

$(SELFTEST_LIB): $(SELFTEST_LIB_OBJS)
	$(AR) rcs $@ $^

# Selftests may link the checker (tracing/) once it exists; TRACING_LIB and
# TRACING_LDLIBS are empty until tracing/tracing.mk defines them.
$(O)/selftests/%: $(O)/selftests/%.o $(SELFTEST_LIB) $(TRACING_LIB) $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) $(SELFTEST_CFLAGS) -o $@ $^ $(TRACING_LDLIBS) $(SELFTEST_LDLIBS) $(LDLIBS) -lm

ALL_BINS += $(SELFTESTS) $(SELFTEST_TOOLS) $(SELFTEST_LIB_TESTS)
