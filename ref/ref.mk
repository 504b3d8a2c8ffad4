# SPDX-License-Identifier: GPL-2.0
#
# ref/: the reference MMU core.  Every ref/*.c is part of libkmmuref.a
# (except result.c and atomic_file.c, the result-file writer
# libkmmuresult.a every part links; it probes nothing,
# tracing/host_probe.c describes the host);
# every ref/tests/*_test.c is a test program, built twice (plain and with
# ASan+UBSan), both run by `make check`; ref/tests/lib/*.c is linked into
# every test, ref/tests/mmu_stress/*.c into mmu_stress_test (and its
# mutants and TSan build); every ref/bench/*.c is a benchmark program.

# The kernel's own rbtree and interval tree, from the kernel tree's tools/.
REF_CFLAGS := -I$(KSRC_DIR)/tools/include
REF_LDLIBS := -lurcu-memb -lurcu-cds -lurcu-common

REF_MUTANT_DIR := $(O)/ref/mutants

# The library sees only its own headers (DESIGN.md "Layers"); its tests
# and benchmarks are programs, which may use every library.
REF_OBJ_INC = $(REF_INC)
$(O)/ref/tests/%.o $(O)/asan/ref/tests/%.o $(O)/tsan/ref/tests/%.o $(O)/ref/bench/%.o \
$(REF_MUTANT_DIR)/notifier/rmap_2013_test.o: REF_OBJ_INC = $(PROG_INC)

REF_LIB_SRCS := $(filter-out ref/result.c ref/atomic_file.c,$(wildcard ref/*.c))
REF_LIB_OBJS := $(REF_LIB_SRCS:%.c=$(O)/%.o) $(O)/ref/kernel/rbtree.o

REF_TEST_LIB_OBJS := $(patsubst %.c,$(O)/%.o,$(wildcard ref/tests/lib/*.c))
# The parts of mmu_stress_test beside its main file.
REF_STRESS_SRCS := $(wildcard ref/tests/mmu_stress/*.c)
REF_STRESS_OBJS := $(REF_STRESS_SRCS:%.c=$(O)/%.o)
REF_ASAN_STRESS_OBJS := $(REF_STRESS_SRCS:%.c=$(O)/asan/%.o)
REF_TSAN_STRESS_OBJS := $(REF_STRESS_SRCS:%.c=$(O)/tsan/%.o)
REF_TESTS := $(patsubst ref/tests/%.c,$(O)/ref/tests/%,$(wildcard ref/tests/*_test.c))
REF_BENCHES := $(patsubst ref/bench/%.c,$(O)/ref/bench/%,$(wildcard ref/bench/*.c))

# Sanitizer twins of the library and the tests.
REF_ASAN_LIB_OBJS := $(REF_LIB_SRCS:%.c=$(O)/asan/%.o) $(O)/asan/ref/kernel/rbtree.o
REF_ASAN_LIB := $(O)/asan/ref/libkmmuref.a
REF_ASAN_TEST_LIB_OBJS := $(patsubst %.c,$(O)/asan/%.o,$(wildcard ref/tests/lib/*.c))
REF_ASAN_TESTS := $(patsubst ref/tests/%.c,$(O)/asan/ref/tests/%,$(wildcard ref/tests/*_test.c))

$(O)/ref/%.o: ref/%.c $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(REF_OBJ_INC) $(REF_CFLAGS) -c -o $@ $<

$(O)/asan/ref/%.o: ref/%.c $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(BASE_CFLAGS) $(REF_OBJ_INC) $(REF_CFLAGS) -c -o $@ $<

$(O)/ref/kernel/rbtree.o: $(KSRC_DIR)/tools/lib/rbtree.c $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(REF_OBJ_INC) $(REF_CFLAGS) -w -c -o $@ $<

$(O)/asan/ref/kernel/rbtree.o: $(KSRC_DIR)/tools/lib/rbtree.c $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(BASE_CFLAGS) $(REF_OBJ_INC) $(REF_CFLAGS) -w -c -o $@ $<

# Archives are made afresh (here and in the other parts): `ar r` into the
# old one would keep the object of a source since renamed or removed.
$(REF_LIB): $(REF_LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

$(REF_ASAN_LIB): $(REF_ASAN_LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

# The result writer uses only libc: without tools/include, whose linux/*.h
# would shadow the uapi headers that <sys/sysinfo.h> needs.
$(O)/ref/result.o $(O)/ref/atomic_file.o: REF_CFLAGS :=

$(RESULT_LIB): $(O)/ref/result.o $(O)/ref/atomic_file.o
	rm -f $@ && $(AR) rcs $@ $^

$(O)/ref/tests/%: $(O)/ref/tests/%.o $(REF_TEST_LIB_OBJS) $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

$(O)/asan/ref/tests/%: $(O)/asan/ref/tests/%.o $(REF_ASAN_TEST_LIB_OBJS) $(REF_ASAN_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

# Its own rules: its parts must come before the archives they call into.
$(O)/ref/tests/mmu_stress_test: $(O)/ref/tests/mmu_stress_test.o $(REF_STRESS_OBJS) \
		$(REF_TEST_LIB_OBJS) $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

$(O)/asan/ref/tests/mmu_stress_test: $(O)/asan/ref/tests/mmu_stress_test.o \
		$(REF_ASAN_STRESS_OBJS) $(REF_ASAN_TEST_LIB_OBJS) $(REF_ASAN_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

# Benchmarks describe the host in their result: the probe is tracing/'s.
$(O)/ref/bench/%: $(O)/ref/bench/%.o $(REF_LIB) $(TRACING_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

.SECONDARY:

ALL_BINS += $(REF_TESTS) $(REF_ASAN_TESTS) $(REF_BENCHES)

# Mutants: the stress test linked with one library object rebuilt with a
# planted mistake (its symbols come before the library's, so they win).
# ref/tests/run-mutants, run by `make check`, asserts that each one fails
# the way it must: the table freed at once is a use-after-free ASan
# reports, the aging without cmpxchg loses a Dirty bit, the fault that
# ignores mmu_invalidate_seq leaves an SPTE to a replaced frame after the
# invalidation, the bitmap that marks one page per young SPTE reports
# touched pages of a huge SPTE old.
REF_MUTANTS := $(REF_MUTANT_DIR)/mmu_stress_immediate_free \
	       $(REF_MUTANT_DIR)/mmu_stress_aging_no_cmpxchg \
	       $(REF_MUTANT_DIR)/mmu_stress_no_fault_retry \
	       $(REF_MUTANT_DIR)/mmu_stress_bitmap_drop \
	       $(REF_MUTANT_DIR)/rmap_2013_check_before_reset \
	       $(REF_MUTANT_DIR)/rmap_2013_split_spte \
	       $(REF_MUTANT_DIR)/rmap_2013_notifier

# The objects rebuilt with a planted change (MUTATE: its -D, and ASan's
# flags where a sanitizer is what catches it), one recipe for all.
$(REF_MUTANT_DIR)/immediate_free/table_free.o: ref/table_free.c
$(REF_MUTANT_DIR)/immediate_free/table_free.o: MUTATE = $(SAN_FLAGS) -DKMMU_MUTATE_IMMEDIATE_FREE
$(REF_MUTANT_DIR)/aging_no_cmpxchg/aging.o: ref/aging.c
$(REF_MUTANT_DIR)/aging_no_cmpxchg/aging.o: MUTATE = -DKMMU_MUTATE_AGING_NO_CMPXCHG
$(REF_MUTANT_DIR)/no_fault_retry/mmu.o: ref/mmu.c
$(REF_MUTANT_DIR)/no_fault_retry/mmu.o: MUTATE = -DKMMU_MUTATE_NO_FAULT_RETRY
$(REF_MUTANT_DIR)/bitmap_drop/aging.o: ref/aging.c
$(REF_MUTANT_DIR)/bitmap_drop/aging.o: MUTATE = -DKMMU_MUTATE_BITMAP_DROP
$(REF_MUTANT_DIR)/check_before_reset/rmap_2013.o: ref/rmap_2013.c
$(REF_MUTANT_DIR)/check_before_reset/rmap_2013.o: \
	MUTATE = $(SAN_FLAGS) -DKMMU_MUTATE_2013_CHECK_BEFORE_RESET
$(REF_MUTANT_DIR)/split_spte/rmap_2013.o: ref/rmap_2013.c
$(REF_MUTANT_DIR)/split_spte/rmap_2013.o: MUTATE = $(SAN_FLAGS) -DKMMU_2013_SPLIT_SPTE
$(REF_MUTANT_DIR)/notifier/rmap_2013_test.o: ref/tests/rmap_2013_test.c
$(REF_MUTANT_DIR)/notifier/rmap_2013_test.o: MUTATE = $(SAN_FLAGS) -DKMMU_2013_TEST_NOTIFIER

REF_MUTANT_OBJS := $(REF_MUTANT_DIR)/immediate_free/table_free.o \
		   $(REF_MUTANT_DIR)/aging_no_cmpxchg/aging.o \
		   $(REF_MUTANT_DIR)/no_fault_retry/mmu.o \
		   $(REF_MUTANT_DIR)/bitmap_drop/aging.o \
		   $(REF_MUTANT_DIR)/check_before_reset/rmap_2013.o \
		   $(REF_MUTANT_DIR)/split_spte/rmap_2013.o \
		   $(REF_MUTANT_DIR)/notifier/rmap_2013_test.o

$(REF_MUTANT_OBJS): $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(MUTATE) $(BASE_CFLAGS) $(REF_OBJ_INC) $(REF_CFLAGS) -c -o $@ $(filter %.c,$^)

# Under ASan: the freed table is only visible to a sanitizer.
$(REF_MUTANT_DIR)/mmu_stress_immediate_free: $(O)/asan/ref/tests/mmu_stress_test.o \
		$(REF_ASAN_STRESS_OBJS) \
		$(REF_MUTANT_DIR)/immediate_free/table_free.o $(REF_ASAN_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

# Plain: the lost bit is a ledger mismatch, and speed widens the race.
$(REF_MUTANT_DIR)/mmu_stress_aging_no_cmpxchg: $(O)/ref/tests/mmu_stress_test.o \
		$(REF_STRESS_OBJS) \
		$(REF_MUTANT_DIR)/aging_no_cmpxchg/aging.o $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

# Plain: a fault that ignores the invalidation leaves a stale SPTE.
$(REF_MUTANT_DIR)/mmu_stress_no_fault_retry: $(O)/ref/tests/mmu_stress_test.o \
		$(REF_STRESS_OBJS) \
		$(REF_MUTANT_DIR)/no_fault_retry/mmu.o $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

# Plain: the bitmap is compared with the aging's own reports, call by call.
$(REF_MUTANT_DIR)/mmu_stress_bitmap_drop: $(O)/ref/tests/mmu_stress_test.o \
		$(REF_STRESS_OBJS) \
		$(REF_MUTANT_DIR)/bitmap_drop/aging.o $(REF_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

# Seed 000 (ref/rmap_2013.c) under ASan, with rmap_2013_test: the check of
# being_unmapped_rmap before the entry reset (the reviewer's interleaving
# made harmful), and v3 as posted on a 32-bit PAE host (split SPTE clears).
# The test widens the race windows (kvm->window_spins) in every build, the
# plain v3 test included, so the only difference is the planted change.
$(REF_MUTANT_DIR)/rmap_2013_check_before_reset $(REF_MUTANT_DIR)/rmap_2013_split_spte: \
$(REF_MUTANT_DIR)/rmap_2013_%: $(O)/asan/ref/tests/rmap_2013_test.o \
		$(REF_MUTANT_DIR)/%/rmap_2013.o $(REF_ASAN_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

# Not a mutant but a finding: v3 as posted on 64-bit, with an mmu notifier
# (kvm_unmap_invalid_rmapp under mmu_lock) in the test.  A remover that
# finds its SPTE already cleared by the unmapper neither resets the entry
# nor waits, and frees the page while the entry still points into it; the
# notifier then walks that entry (ref/models/being_unmapped_rmap.pml does
# not check the notifier's accesses, so it does not see this).
$(REF_MUTANT_DIR)/rmap_2013_notifier: $(REF_MUTANT_DIR)/notifier/rmap_2013_test.o \
		$(REF_ASAN_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

ALL_BINS += $(REF_MUTANTS)

# ThreadSanitizer build of the stress test (not part of make check: TSan
# and ASan cannot share a process, and the run is slow).  Debian's liburcu
# 0.13 is not built with TSan; ref/tests/tsan.supp says what is suppressed
# and why.
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer -include ref/tests/tsan_urcu.h
REF_TSAN_LIB_OBJS := $(REF_LIB_SRCS:%.c=$(O)/tsan/%.o) $(O)/tsan/ref/kernel/rbtree.o
REF_TSAN_LIB := $(O)/tsan/ref/libkmmuref.a
REF_TSAN_STRESS := $(O)/tsan/ref/tests/mmu_stress_test
KMMU_TSAN_SECONDS ?= 10

$(O)/tsan/ref/%.o: ref/%.c $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TSAN_FLAGS) $(BASE_CFLAGS) $(REF_OBJ_INC) $(REF_CFLAGS) -c -o $@ $<

$(O)/tsan/ref/kernel/rbtree.o: $(KSRC_DIR)/tools/lib/rbtree.c $(KSRC_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TSAN_FLAGS) $(BASE_CFLAGS) $(REF_OBJ_INC) $(REF_CFLAGS) -w -c -o $@ $<

$(REF_TSAN_LIB): $(REF_TSAN_LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

$(REF_TSAN_STRESS): $(O)/tsan/ref/tests/mmu_stress_test.o $(REF_TSAN_STRESS_OBJS) \
		$(REF_TSAN_LIB) $(RESULT_LIB)
	$(CC) $(CFLAGS) $(TSAN_FLAGS) -o $@ $^ $(REF_LDLIBS) $(LDLIBS) -lm

.PHONY: tsan
tsan: $(REF_TSAN_STRESS)
	TSAN_OPTIONS="suppressions=$(CURDIR)/ref/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1" \
		$(REF_TSAN_STRESS) --seconds $(KMMU_TSAN_SECONDS)
