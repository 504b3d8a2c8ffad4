// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of ref/notifier.c: invalidate_range_start unmaps exactly the
 * SPTEs of the hva range (through the interval tree, every level), the
 * sequence/in-progress bookkeeping, faults retry inside an invalidated
 * range and after a sequence change, map 4K next to an invalidation
 * instead of a huge page over it, and bad input.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/mmu.h>
#include <kmmu/notifier.h>

#define HVA	0x7f0000000000ul
#define PG	4096ul
#define MB	(1ul << 20)

FIXTURE(notifier) {
	struct kmmu_ref_vm *vm;
};

FIXTURE_SETUP(notifier)
{
	struct kmmu_ref_vm_config cfg;

	urcu_memb_register_thread();
	kmmu_ref_vm_config_default(&cfg);
	ASSERT_EQ(0, kmmu_ref_vm_create(&self->vm, &cfg));
	/* Slot 0: gpa 0, 4 MiB at HVA; slot 1: gpa 16 MiB, 4 MiB at HVA + 4 MiB. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(self->vm, 0, 0, 0, 4 * MB, HVA));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(self->vm, 1, 0, 16 * MB, 4 * MB,
						   HVA + 4 * MB));
}

FIXTURE_TEARDOWN(notifier)
{
	kmmu_ref_vm_destroy(self->vm);
	urcu_memb_unregister_thread();
}

static enum kmmu_fault_result fault(struct kmmu_ref_vm *vm, gfn_t gfn)
{
	struct kmmu_fault f;

	if (kmmu_page_fault(vm, 0, 0, gfn, KMMU_PFERR_WRITE_MASK, &f))
		return KMMU_FAULT_NR;
	return f.result;
}

TEST_F(notifier, unmap_exactly_the_range)
{
	struct kmmu_ref_vm *vm = self->vm;
	char why[256];
	gfn_t g;

	/* 2M mappings in slot 0, then one 4K page in slot 1 via a 2M too. */
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 512));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, (16 * MB) / PG));
	ASSERT_EQ(3, kmmu_mmu_hva_range_mapped(vm, HVA, HVA + 8 * MB));

	/* One page of the second 2M of slot 0: its huge SPTE goes, nothing else. */
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_start(vm, HVA + 2 * MB + 5 * PG,
							      HVA + 2 * MB + 6 * PG));
	EXPECT_EQ(1, vm->mmu_invalidate_in_progress);
	EXPECT_EQ(512 + 5, vm->mmu_invalidate_range_start);
	EXPECT_EQ(512 + 6, vm->mmu_invalidate_range_end);
	EXPECT_EQ(0, kmmu_mmu_hva_range_mapped(vm, HVA + 2 * MB, HVA + 4 * MB));
	EXPECT_EQ(2, kmmu_mmu_hva_range_mapped(vm, HVA, HVA + 8 * MB));
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_end(vm, HVA + 2 * MB + 5 * PG,
							    HVA + 2 * MB + 6 * PG));
	EXPECT_EQ(0, vm->mmu_invalidate_in_progress);
	EXPECT_EQ(1, vm->mmu_invalidate_seq);

	/* A range across both slots hits both. */
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_start(vm, HVA + 4 * MB - PG,
							      HVA + 4 * MB + PG));
	EXPECT_EQ(0, kmmu_mmu_hva_range_mapped(vm, HVA, HVA + 8 * MB) -
		     kmmu_mmu_hva_range_mapped(vm, HVA, HVA + 2 * MB));
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_end(vm, HVA + 4 * MB - PG,
							    HVA + 4 * MB + PG));
	EXPECT_EQ(2, vm->mmu_invalidate_seq);
	EXPECT_EQ(0, kmmu_mmu_audit(vm, why, sizeof(why))) TH_LOG("%s", why);

	/* A range no slot covers changes nothing, not even the sequence. */
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_start(vm, HVA + 64 * MB,
							      HVA + 65 * MB));
	EXPECT_EQ(0, vm->mmu_invalidate_in_progress);
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_end(vm, HVA + 64 * MB, HVA + 65 * MB));
	EXPECT_EQ(2, vm->mmu_invalidate_seq);
	for (g = 0; g < 1024; g += 100)
		EXPECT_NE(KMMU_FAULT_NR, fault(vm, g));
}

TEST_F(notifier, fault_retries_inside_the_window)
{
	struct kmmu_ref_vm *vm = self->vm;
	unsigned long seq;
	int level;

	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_start(vm, HVA + 10 * PG, HVA + 20 * PG));
	/* Inside: retry, no SPTE.  Same 2M frame, outside: 4K, not a huge page over it. */
	EXPECT_EQ(KMMU_FAULT_RETRY, fault(vm, 10));
	EXPECT_EQ(KMMU_FAULT_RETRY, fault(vm, 19));
	EXPECT_EQ(0, kmmu_lookup_spte(vm, 0, 0, 10, &level));
	EXPECT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 20));
	EXPECT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 9));
	/* Another 2M frame is unaffected. */
	EXPECT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 512));
	EXPECT_EQ(0, kmmu_mmu_hva_range_mapped(vm, HVA + 10 * PG, HVA + 20 * PG));
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_end(vm, HVA + 10 * PG, HVA + 20 * PG));
	/* Afterwards the frame may be huge again. */
	EXPECT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 10));

	/* A fault that sampled the sequence before an invalidation ended retries. */
	seq = kmmu_mmu_invalidate_seq(vm);
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_start(vm, HVA + 100 * PG,
							      HVA + 101 * PG));
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_end(vm, HVA + 100 * PG, HVA + 101 * PG));
	kmmu_mmu_lock(vm);
	EXPECT_TRUE(kmmu_mmu_invalidate_retry_gfn(vm, seq, 300));
	EXPECT_FALSE(kmmu_mmu_invalidate_retry_gfn(vm, kmmu_mmu_invalidate_seq(vm), 300));
	kmmu_mmu_unlock(vm);

	/* Nested invalidations: the union of the ranges, until the last end. */
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_start(vm, HVA + 30 * PG, HVA + 31 * PG));
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_start(vm, HVA + 40 * PG, HVA + 41 * PG));
	EXPECT_EQ(2, vm->mmu_invalidate_in_progress);
	EXPECT_EQ(KMMU_FAULT_RETRY, fault(vm, 35));
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_end(vm, HVA + 30 * PG, HVA + 31 * PG));
	EXPECT_EQ(KMMU_FAULT_RETRY, fault(vm, 35));
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_end(vm, HVA + 40 * PG, HVA + 41 * PG));
	EXPECT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 35));
}

TEST_F(notifier, bad_input)
{
	EXPECT_EQ(-EINVAL, kmmu_mmu_notifier_invalidate_range_start(NULL, HVA, HVA + PG));
	EXPECT_EQ(-EINVAL, kmmu_mmu_notifier_invalidate_range_start(self->vm, HVA + PG, HVA));
	EXPECT_EQ(-EINVAL, kmmu_mmu_notifier_invalidate_range_start(self->vm, HVA + 1, HVA + PG));
	EXPECT_EQ(-EINVAL, kmmu_mmu_notifier_invalidate_range_end(self->vm, HVA, HVA));
	EXPECT_EQ(-EINVAL, kmmu_mmu_hva_range_mapped(self->vm, HVA, HVA));
}

TEST_HARNESS_MAIN
