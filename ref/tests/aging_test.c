// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of ref/aging.c: test_young/clear_young in both modes (young
 * once, old after the clear, young again after a hardware access, Dirty
 * untouched), seed 003's bitmap for 4K and 2M mappings, the A/D hook
 * (aging reports Accessed, a zap reports Dirty), the hardware assist, and
 * bad input.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/aging.h>
#include <kmmu/mmu.h>
#include <kmmu/notifier.h>

#define HVA	0x7f0000000000ul
#define PG	4096ul
#define MB	(1ul << 20)

struct ledger {
	unsigned long rep_a, rep_d, inst_a, inst_d;
};

static void ad_fn(void *ctx, uint64_t pfn, int level, uint64_t bits, bool installed)
{
	struct ledger *l = ctx;

	if (bits & KMMU_PT_ACCESSED_MASK)
		(*(installed ? &l->inst_a : &l->rep_a))++;
	if (bits & KMMU_PT_DIRTY_MASK)
		(*(installed ? &l->inst_d : &l->rep_d))++;
}

FIXTURE(aging) {
	struct kmmu_ref_vm *vm;
	struct ledger l;
};

FIXTURE_SETUP(aging)
{
	struct kmmu_ref_vm_config cfg;

	urcu_memb_register_thread();
	kmmu_ref_vm_config_default(&cfg);
	ASSERT_EQ(0, kmmu_ref_vm_create(&self->vm, &cfg));
	memset(&self->l, 0, sizeof(self->l));
	kmmu_ref_vm_set_ad_fn(self->vm, ad_fn, &self->l);
	/* Slot 0: 4K only (hva misaligned by a page); slot 1: 2M capable. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(self->vm, 0, 0, 0, 4 * MB, HVA + PG));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(self->vm, 1, 0, 16 * MB, 4 * MB,
						   HVA + 8 * MB));
}

FIXTURE_TEARDOWN(aging)
{
	kmmu_ref_vm_destroy(self->vm);
	urcu_memb_unregister_thread();
}

static int fault(struct kmmu_ref_vm *vm, gfn_t gfn, bool write)
{
	struct kmmu_fault f;

	if (kmmu_page_fault(vm, 0, 0, gfn, write ? KMMU_PFERR_WRITE_MASK : 0, &f))
		return -1;
	return f.result;
}

TEST_F(aging, young_then_old_both_modes)
{
	struct kmmu_ref_vm *vm = self->vm;
	unsigned long hva = HVA + PG + 3 * PG;	/* gfn 3 */
	uint64_t set, pfn, spte;
	int mode, level;

	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 3, true));
	for (mode = 0; mode < KMMU_AGING_NR; mode++) {
		TH_LOG("mode %s", kmmu_aging_mode_name(mode));
		EXPECT_EQ(1, kmmu_mmu_notifier_test_young(vm, hva, hva + PG, mode));
		EXPECT_EQ(1, kmmu_mmu_notifier_clear_young(vm, hva, hva + PG, mode));
		EXPECT_EQ(0, kmmu_mmu_notifier_test_young(vm, hva, hva + PG, mode));
		EXPECT_EQ(0, kmmu_mmu_notifier_clear_young(vm, hva, hva + PG, mode));
		spte = kmmu_lookup_spte(vm, 0, 0, 3, &level);
		EXPECT_FALSE(spte & KMMU_PT_ACCESSED_MASK);
		/* Aging never touches Dirty. */
		EXPECT_TRUE(spte & KMMU_PT_DIRTY_MASK);
		/* The hardware touches it again. */
		EXPECT_EQ(1, kmmu_hw_access(vm, 0, 0, 3, false, &set, &pfn, &level));
		EXPECT_EQ(KMMU_PT_ACCESSED_MASK, set);
		EXPECT_EQ((HVA + PG) / PG + 3, pfn);
		EXPECT_EQ(1, level);
	}
	EXPECT_EQ(2, self->l.rep_a);
	EXPECT_EQ(1, self->l.inst_a);
	EXPECT_EQ(1, self->l.inst_d);
	/* A zap hands the Dirty (and Accessed) bit to the host. */
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_start(vm, hva, hva + PG));
	ASSERT_EQ(0, kmmu_mmu_notifier_invalidate_range_end(vm, hva, hva + PG));
	EXPECT_EQ(1, self->l.rep_d);
	EXPECT_EQ(3, self->l.rep_a);
}

TEST_F(aging, hardware_assist)
{
	struct kmmu_ref_vm *vm = self->vm;
	uint64_t set, pfn;
	int level;

	/* Nothing mapped: the access would fault. */
	EXPECT_EQ(0, kmmu_hw_access(vm, 0, 0, 7, false, &set, &pfn, &level));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 7, false));
	/* Made writable, accessed and dirty: an access sets nothing new. */
	EXPECT_EQ(1, kmmu_hw_access(vm, 0, 0, 7, true, &set, &pfn, &level));
	EXPECT_EQ(0, set);
	/* Write-protected (dirty logging without PML): a write would fault. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, 0, KMMU_MEM_LOG_DIRTY_PAGES, 0, 4 * MB,
						   HVA + PG));
	EXPECT_EQ(0, kmmu_hw_access(vm, 0, 0, 7, true, &set, &pfn, &level));
	EXPECT_EQ(1, kmmu_hw_access(vm, 0, 0, 7, false, &set, &pfn, &level));
	EXPECT_EQ(-EINVAL, kmmu_hw_access(vm, 0, 0, 7, false, NULL, &pfn, &level));
}

TEST_F(aging, bitmap_4k_and_2m)
{
	unsigned long bitmap[1024 / (8 * sizeof(unsigned long))];
	struct kmmu_ref_vm *vm = self->vm;
	unsigned long i, base = HVA + PG;	/* slot 0's gfn 0 */

	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, false));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 2, false));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 5, false));
	memset(bitmap, 0, sizeof(bitmap));
	EXPECT_EQ(3, kmmu_test_clear_young(vm, base, base + 16 * PG, bitmap));
	EXPECT_EQ((1ul << 0) | (1ul << 2) | (1ul << 5), bitmap[0]);
	memset(bitmap, 0, sizeof(bitmap));
	EXPECT_EQ(0, kmmu_test_clear_young(vm, base, base + 16 * PG, bitmap));
	EXPECT_EQ(0, bitmap[0]);

	/* A 2M SPTE is young for every page of it inside the range (here 1000). */
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, (16 * MB) / PG + 100, false));
	memset(bitmap, 0, sizeof(bitmap));
	EXPECT_EQ(512, kmmu_test_clear_young(vm, HVA + 8 * MB, HVA + 8 * MB + 1024 * PG,
					     bitmap));
	for (i = 0; i < 1024; i++)
		EXPECT_EQ(i < 512, !!(bitmap[i / 64] & (1ul << (i % 64))));
	EXPECT_EQ(0, kmmu_mmu_notifier_test_young(vm, HVA + 8 * MB, HVA + 10 * MB,
						  KMMU_AGING_LOCKED));
}

TEST_F(aging, bad_input)
{
	unsigned long bitmap[1];

	EXPECT_EQ(-EINVAL, kmmu_mmu_notifier_clear_young(NULL, HVA, HVA + PG, KMMU_AGING_LOCKED));
	EXPECT_EQ(-EINVAL, kmmu_mmu_notifier_clear_young(self->vm, HVA, HVA + PG, KMMU_AGING_NR));
	EXPECT_EQ(-EINVAL, kmmu_mmu_notifier_test_young(self->vm, HVA + PG, HVA,
							KMMU_AGING_LOCKLESS));
	EXPECT_EQ(-EINVAL, kmmu_test_clear_young(self->vm, HVA, HVA + PG, NULL));
	EXPECT_EQ(-EINVAL, kmmu_test_clear_young(self->vm, HVA + 1, HVA + PG, bitmap));
	EXPECT_EQ(-EINVAL, kmmu_age_gfn_range(self->vm, NULL, 0, 1, KMMU_AGING_LOCKED, false));
}

/* A gfn range for one slot must lie inside it: the rmap arrays end there. */
TEST_F(aging, gfn_range_outside_its_slot)
{
	struct kmmu_memory_slot *s;
	gfn_t base, n;

	urcu_memb_read_lock();
	s = kmmu_id_to_memslot(kmmu_memslots_active(self->vm->memslots, 0), 1);
	ASSERT_NE(NULL, s);
	base = s->base_gfn;
	n = s->npages;
	kmmu_mmu_lock(self->vm);
	EXPECT_EQ(-EINVAL, kmmu_age_gfn_range(self->vm, s, base - 1, base + 1, KMMU_AGING_LOCKED,
					      false));
	EXPECT_EQ(-EINVAL, kmmu_age_gfn_range(self->vm, s, base + n - 1, base + n + 1,
					      KMMU_AGING_LOCKED, false));
	EXPECT_EQ(-EINVAL, kmmu_age_gfn_range(self->vm, s, base + 2, base + 2, KMMU_AGING_LOCKED,
					      false));
	EXPECT_EQ(0, kmmu_age_gfn_range(self->vm, s, base, base + n, KMMU_AGING_LOCKED, false));
	kmmu_mmu_unlock(self->vm);
	urcu_memb_read_unlock();
}

TEST_HARNESS_MAIN
