// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of ref/zap.c: zapping one shadow page (children unlinked,
 * leaves out of their rmaps, parent entry cleared), fast zap by
 * mmu_valid_gen (only obsolete pages, loaded roots kept until the vCPUs
 * reload, the generation toggles), zap all, per-slot zap through the
 * rmaps, and the MMIO generation wrap decision.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/mmu.h>
#include <kmmu/zap.h>

#define HVA		0x7f0000000000ull
#define SLOT(as, id)	((uint32_t)(as) << 16 | (id))
#define MB		(1ull << 20)

struct counts {
	unsigned int prepare, zap_all_fast, wrap;
	uint8_t last_fast_gen;
};

static void count_fn(void *ctx, const struct kmmu_mmu_event *ev)
{
	struct counts *c = ctx;

	if (ev->type == KMMU_MMU_EV_PREPARE_ZAP_PAGE)
		c->prepare++;
	else if (ev->type == KMMU_MMU_EV_ZAP_ALL_FAST) {
		c->zap_all_fast++;
		c->last_fast_gen = ev->zap_all_fast.mmu_valid_gen;
	} else if (ev->type == KMMU_MMU_EV_MMIO_GEN_WRAP) {
		c->wrap++;
	}
}

FIXTURE(zap) {
	struct kmmu_ref_vm *vm;
	struct counts c;
};

FIXTURE_SETUP(zap)
{
	struct kmmu_ref_vm_config cfg;

	urcu_memb_register_thread();
	kmmu_ref_vm_config_default(&cfg);
	cfg.nr_vcpus = 2;
	cfg.slot_zap_all = false;
	ASSERT_EQ(0, kmmu_ref_vm_create(&self->vm, &cfg));
	memset(&self->c, 0, sizeof(self->c));
	kmmu_ref_vm_set_event_fn(self->vm, count_fn, &self->c);
	/* Slot 0: 4K only (hva off by a page), slot 1: 2M capable. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(self->vm, SLOT(0, 0), 0, 0, 4 * MB, HVA + 4096));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(self->vm, SLOT(0, 1), 0, 8 * MB, 4 * MB,
						   HVA + 8 * MB));
}

FIXTURE_TEARDOWN(zap)
{
	char why[160] = "";

	EXPECT_EQ(0, kmmu_mmu_audit(self->vm, why, sizeof(why))) {
		TH_LOG("audit: %s", why);
	}
	kmmu_ref_vm_destroy(self->vm);
	EXPECT_EQ(0, kmmu_pte_list_desc_live());
	urcu_memb_unregister_thread();
}

static int fault(struct kmmu_ref_vm *vm, unsigned int vcpu, int as, gfn_t gfn)
{
	struct kmmu_fault f;
	int r = kmmu_page_fault(vm, vcpu, as, gfn, 0, &f);

	return r ? r : (int)f.result;
}

/* Total rmap entries of every slot of address space 0. */
static unsigned long rmap_entries(struct kmmu_ref_vm *vm)
{
	struct kmmu_memory_slot *slot;
	unsigned long n = 0, i;
	int level;

	urcu_memb_read_lock();
	kmmu_for_each_memslot(slot, kmmu_memslots_active(vm->memslots, 0)) {
		struct kmmu_slot_arch *arch = slot->arch;

		for (level = 1; level <= KMMU_MAX_HUGEPAGE_LEVEL; level++)
			for (i = 0; i < kmmu_slot_lpages(slot->base_gfn, slot->npages, level); i++)
				n += kmmu_pte_list_count(&arch->rmap[level - 1][i]);
	}
	urcu_memb_read_unlock();
	return n;
}

/* The slot of @gfn in address space 0 (this thread is the only updater). */
static struct kmmu_memory_slot *slot_of(struct kmmu_ref_vm *vm, gfn_t gfn)
{
	struct kmmu_memory_slot *slot;

	urcu_memb_read_lock();
	slot = kmmu_gfn_to_memslot(kmmu_memslots_active(vm->memslots, 0), gfn);
	urcu_memb_read_unlock();
	return slot;
}

static void populate(struct __test_metadata *_metadata, struct kmmu_ref_vm *vm)
{
	gfn_t g;

	for (g = 0; g < 64; g++)
		ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0, g));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0, 0x800));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0, 0xa00));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0, 0x4000));
	ASSERT_EQ(64, vm->stat.pages_4k);
	ASSERT_EQ(2, vm->stat.pages_2m);
	ASSERT_EQ(66, rmap_entries(vm));
}

TEST_F(zap, one_leaf_table)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct kmmu_mmu_page *l1;
	LIST_HEAD(invalid);
	uint64_t *sptep;
	int level;

	populate(_metadata, vm);
	ASSERT_NE(0, kmmu_lookup_spte(vm, 0, 0, 5, &level));
	ASSERT_EQ(1, level);
	/* The L1 table of gfns 0-511: find it through its parent entry. */
	sptep = &vm->vcpus[0].root[0]->spt[0];
	sptep = &((struct kmmu_mmu_page *)(uintptr_t)(*sptep & KMMU_SPTE_BASE_ADDR_MASK))->spt[0];
	l1 = (struct kmmu_mmu_page *)(uintptr_t)(*sptep & KMMU_SPTE_BASE_ADDR_MASK);
	l1 = (struct kmmu_mmu_page *)(uintptr_t)(l1->spt[0] & KMMU_SPTE_BASE_ADDR_MASK);
	ASSERT_EQ(1, (int)l1->role.level);
	ASSERT_EQ(64, l1->nr_present);
	ASSERT_NE(NULL, l1->parent_ptep);

	kmmu_mmu_prepare_zap_page(vm, l1, &invalid);
	ASSERT_EQ(1, self->c.prepare);
	ASSERT_TRUE((bool)l1->role.invalid);
	ASSERT_EQ(0, l1->nr_present);
	ASSERT_EQ(NULL, l1->parent_ptep);
	kmmu_mmu_commit_zap_page(vm, &invalid);
	ASSERT_EQ(0, vm->stat.pages_4k);
	ASSERT_EQ(2, vm->stat.pages_2m);
	ASSERT_EQ(2, rmap_entries(vm));
	ASSERT_EQ(0, kmmu_lookup_spte(vm, 0, 0, 5, NULL));
	/* Refault builds a new table. */
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0, 5));
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, fault(vm, 0, 0, 0x800));
}

TEST_F(zap, fast_zap_only_obsolete)
{
	struct kmmu_ref_vm *vm = self->vm;
	unsigned long pages;

	populate(_metadata, vm);
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, fault(vm, 1, 0, 0x900));
	pages = kmmu_nr_shadow_pages(vm);
	/* root, L3, L2, L1 (gfns 0-63), L1 (MMIO): 5 pages. */
	ASSERT_EQ(5, pages);
	ASSERT_EQ(0, vm->mmu_valid_gen);

	kmmu_mmu_zap_all_fast(vm);
	ASSERT_EQ(1, vm->mmu_valid_gen);
	ASSERT_EQ(0, self->c.last_fast_gen);
	ASSERT_EQ(pages, self->c.prepare);
	ASSERT_EQ(0, rmap_entries(vm));
	ASSERT_EQ(0, vm->stat.pages_4k + vm->stat.pages_2m + vm->stat.mmio_sptes);
	/* The root is loaded by two vCPUs: kept, invalid, off the list. */
	ASSERT_EQ(0, kmmu_nr_shadow_pages(vm));
	ASSERT_EQ(1, vm->stat.mmu_used_pages);
	ASSERT_TRUE((bool)vm->vcpus[0].root[0]->role.invalid);
	ASSERT_TRUE(vm->vcpus[0].free_obsolete_roots);
	ASSERT_TRUE(vm->vcpus[1].free_obsolete_roots);

	/* vCPU 0 reloads; the old root lives on for vCPU 1. */
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0, 1));
	ASSERT_EQ(4, kmmu_nr_shadow_pages(vm));
	ASSERT_EQ(5, vm->stat.mmu_used_pages);
	/* A second fast zap only sees pages of generation 1; toggles back. */
	self->c.prepare = 0;
	kmmu_mmu_zap_all_fast(vm);
	ASSERT_EQ(0, vm->mmu_valid_gen);
	ASSERT_EQ(1, self->c.last_fast_gen);
	ASSERT_EQ(4, self->c.prepare);
	/* vCPU 1 drops the generation-0 root: it is freed now. */
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 1, 0, 0x800));
	ASSERT_EQ(3, kmmu_nr_shadow_pages(vm));
	ASSERT_EQ(4, vm->stat.mmu_used_pages);	/* + vCPU 0's invalid root */
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, fault(vm, 0, 0, 0x800));
	ASSERT_EQ(3, vm->stat.mmu_used_pages);
}

TEST_F(zap, zap_all)
{
	struct kmmu_ref_vm *vm = self->vm;

	populate(_metadata, vm);
	kmmu_mmu_zap_all(vm);
	ASSERT_EQ(0, rmap_entries(vm));
	ASSERT_EQ(0, kmmu_nr_shadow_pages(vm));
	ASSERT_EQ(1, vm->stat.mmu_used_pages);
	ASSERT_EQ(0, vm->stat.pages_4k + vm->stat.pages_2m + vm->stat.mmio_sptes);
	/* The zapped root was valid: vCPUs are asked to reload. */
	ASSERT_TRUE(vm->vcpus[0].free_obsolete_roots);
	ASSERT_EQ(0, kmmu_lookup_spte(vm, 0, 0, 0x800, NULL));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0, 0x800));
	ASSERT_EQ(3, vm->stat.mmu_used_pages);
}

TEST_F(zap, zap_memslot)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct kmmu_memory_slot *slot;

	populate(_metadata, vm);
	slot = slot_of(vm, 0);
	ASSERT_EQ(0, kmmu_mmu_zap_memslot(vm, slot));
	ASSERT_EQ(0, vm->stat.pages_4k);
	ASSERT_EQ(2, vm->stat.pages_2m);
	ASSERT_EQ(1, vm->stat.mmio_sptes);
	ASSERT_EQ(2, rmap_entries(vm));
	/* No page is zapped, only SPTEs. */
	ASSERT_EQ(0, self->c.prepare);
	ASSERT_EQ(5, kmmu_nr_shadow_pages(vm));
	/* Deleting slot 1 (quirk off) goes the same way. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 1), 0, 8 * MB, 0, 0));
	ASSERT_EQ(0, vm->stat.pages_2m);
	ASSERT_EQ(0, self->c.zap_all_fast);
	ASSERT_EQ(0, rmap_entries(vm));
}

TEST_F(zap, mmio_gen_wrap_decision)
{
	struct kmmu_ref_vm *vm = self->vm;
	uint64_t W = 1ull << 19;

	populate(_metadata, vm);
	ASSERT_EQ(0, kmmu_mmu_invalidate_mmio_sptes(vm, W - 2));
	ASSERT_EQ(0, kmmu_mmu_invalidate_mmio_sptes(vm, W - 1));
	ASSERT_EQ(0, kmmu_mmu_invalidate_mmio_sptes(vm, W + 2));
	ASSERT_EQ(0, self->c.zap_all_fast);
	ASSERT_EQ(1, vm->stat.mmio_sptes);
	ASSERT_EQ(1, kmmu_mmu_invalidate_mmio_sptes(vm, W));
	ASSERT_EQ(1, self->c.wrap);
	ASSERT_EQ(1, self->c.zap_all_fast);
	ASSERT_EQ(0, vm->stat.mmio_sptes);
	ASSERT_EQ(0, vm->stat.pages_4k);
	/* Address space 1's residue wraps too. */
	ASSERT_EQ(1, kmmu_mmu_invalidate_mmio_sptes(vm, 3 * W + 1));
	ASSERT_EQ(2, vm->stat.mmio_gen_wraps);
	ASSERT_EQ(-EINVAL, kmmu_mmu_invalidate_mmio_sptes(vm, W | (1ull << 63)));
}

TEST_F(zap, write_protect_and_dirty_bits)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct kmmu_memory_slot *slot;

	populate(_metadata, vm);
	slot = slot_of(vm, 0x800);
	ASSERT_EQ(-EINVAL, kmmu_mmu_slot_remove_write_access(vm, slot, 0));
	ASSERT_EQ(-EINVAL, kmmu_mmu_slot_remove_write_access(vm, slot, 3));
	ASSERT_EQ(0, kmmu_mmu_slot_remove_write_access(vm, slot, 2));
	ASSERT_FALSE(kmmu_is_writable_pte(kmmu_lookup_spte(vm, 0, 0, 0x800, NULL)));
	ASSERT_TRUE(kmmu_is_writable_pte(kmmu_lookup_spte(vm, 0, 0, 5, NULL)));
	/* Collapsible: nothing in a 2M-capable slot is 4K. */
	ASSERT_EQ(0, kmmu_mmu_zap_collapsible_sptes(vm, slot));
	ASSERT_EQ(2, vm->stat.pages_2m);
	ASSERT_EQ(-EINVAL, kmmu_mmu_zap_collapsible_sptes(vm, NULL));
	ASSERT_EQ(-EINVAL, kmmu_mmu_slot_leaf_clear_dirty(vm, NULL));
	ASSERT_EQ(-EINVAL, kmmu_mmu_slot_leaf_clear_dirty(NULL, slot));
	ASSERT_EQ(0, kmmu_mmu_slot_leaf_clear_dirty(vm, slot));
	ASSERT_NE(0, kmmu_lookup_spte(vm, 0, 0, 0x800, NULL) & KMMU_PT_DIRTY_MASK);
	slot = slot_of(vm, 5);
	ASSERT_EQ(0, kmmu_mmu_slot_leaf_clear_dirty(vm, slot));
	/* Only that slot's 4K SPTEs lose their dirty bit. */
	ASSERT_EQ(0, kmmu_lookup_spte(vm, 0, 0, 5, NULL) & KMMU_PT_DIRTY_MASK);
	ASSERT_NE(0, kmmu_lookup_spte(vm, 0, 0, 0x800, NULL) & KMMU_PT_DIRTY_MASK);
	ASSERT_EQ(-EINVAL, kmmu_mmu_zap_memslot(NULL, slot));
}

TEST_HARNESS_MAIN
