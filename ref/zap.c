// SPDX-License-Identifier: GPL-2.0
/*
 * Zapping shadow pages and SPTEs (see kmmu/zap.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "kmmu/zap.h"

static inline struct kmmu_mmu_page *child_sp(uint64_t spte)
{
	return (struct kmmu_mmu_page *)(uintptr_t)(spte & KMMU_SPTE_BASE_ADDR_MASK);
}

/* mmu_page_zap_pte() */
static void zap_pte(struct kmmu_ref_vm *vm, struct kmmu_mmu_page *sp, uint64_t *sptep)
{
	uint64_t pte = kmmu_spte_read(sptep);

	if (!pte)
		return;
	if (kmmu_is_shadow_present_pte(pte) && !kmmu_is_last_spte(pte, sp->role.level)) {
		/*
		 * Direct children are only unlinked, not zapped: they stay on
		 * the active list, parentless, until they are zapped in turn
		 * (the kernel recurses only into nested TDP children).
		 */
		kmmu_unlink_child(vm, sptep);
		return;
	}
	kmmu_drop_spte(vm, sptep);
}

bool kmmu_mmu_prepare_zap_page(struct kmmu_ref_vm *vm, struct kmmu_mmu_page *sp,
			       struct list_head *invalid_list)
{
	struct kmmu_mmu_event ev = { .type = KMMU_MMU_EV_PREPARE_ZAP_PAGE };
	unsigned int i;

	if (vm->event_fn) {
		ev.page.mmu_valid_gen = sp->mmu_valid_gen;
		ev.page.gfn = sp->gfn;
		ev.page.role = sp->role.word;
		ev.page.root_count = sp->root_count;
		kmmu_mmu_emit(vm, &ev);
	}
	vm->stat.mmu_shadow_zapped++;

	/* kvm_mmu_page_unlink_children() */
	for (i = 0; i < KMMU_PT64_ENT_PER_PAGE; i++)
		zap_pte(vm, sp, &sp->spt[i]);
	/* kvm_mmu_unlink_parents() */
	if (sp->parent_ptep)
		kmmu_unlink_child(vm, sp->parent_ptep);

	if (!sp->root_count) {
		/* An invalid root has already left the active list. */
		if (sp->role.invalid)
			list_add(&sp->link, invalid_list);
		else
			list_move(&sp->link, invalid_list);
		vm->stat.mmu_used_pages--;
	} else {
		/* A loaded root is freed when its last user drops it. */
		list_del(&sp->link);
		if (!kmmu_is_obsolete_sp(vm, sp))
			kmmu_request_free_obsolete_roots(vm);
	}
	sp->role.invalid = 1;
	return false;
}

void kmmu_mmu_commit_zap_page(struct kmmu_ref_vm *vm, struct list_head *invalid_list)
{
	struct kmmu_mmu_page *sp, *n;

	list_for_each_entry_safe(sp, n, invalid_list, link) {
		/* Freed tables must be unreachable: no parent link, no vCPU. */
		if (!sp->role.invalid || sp->root_count || sp->nr_present || sp->parent_ptep)
			kmmu_ref_vm_bug(vm, -EIO);
		kmmu_mmu_free_page(vm, sp);
	}
}

/* kvm_zap_obsolete_pages(): obsolete pages are at the tail of the FIFO. */
static void zap_obsolete_pages(struct kmmu_ref_vm *vm)
{
	LIST_HEAD(invalid_list);
	struct kmmu_mmu_page *sp;

	while (!list_empty(&vm->active_mmu_pages)) {
		sp = list_last_entry(&vm->active_mmu_pages, struct kmmu_mmu_page, link);
		if (!kmmu_is_obsolete_sp(vm, sp))
			break;
		kmmu_mmu_prepare_zap_page(vm, sp, &invalid_list);
	}
	kmmu_mmu_commit_zap_page(vm, &invalid_list);
}

void kmmu_mmu_zap_all_fast(struct kmmu_ref_vm *vm)
{
	struct kmmu_mmu_event ev = { .type = KMMU_MMU_EV_ZAP_ALL_FAST };

	kmmu_mmu_lock(vm);
	if (vm->event_fn) {
		ev.zap_all_fast.mmu_valid_gen = vm->mmu_valid_gen;
		ev.zap_all_fast.mmu_used_pages = vm->stat.mmu_used_pages;
		kmmu_mmu_emit(vm, &ev);
	}
	vm->stat.zap_all_fast++;
	/*
	 * Toggling suffices: slots_lock is held until every page of the old
	 * generation is zapped, so at most two generations ever coexist.
	 */
	vm->mmu_valid_gen = vm->mmu_valid_gen ? 0 : 1;
	kmmu_request_free_obsolete_roots(vm);
	zap_obsolete_pages(vm);
	kmmu_mmu_unlock(vm);
}

void kmmu_mmu_zap_all(struct kmmu_ref_vm *vm)
{
	LIST_HEAD(invalid_list);
	struct kmmu_mmu_page *sp;

	kmmu_mmu_lock(vm);
	while (!list_empty(&vm->active_mmu_pages)) {
		sp = list_first_entry(&vm->active_mmu_pages, struct kmmu_mmu_page, link);
		kmmu_mmu_prepare_zap_page(vm, sp, &invalid_list);
	}
	kmmu_mmu_commit_zap_page(vm, &invalid_list);
	kmmu_mmu_unlock(vm);
}

/* kvm_zap_all_rmap_sptes(): clear every SPTE of @head and empty it. */
bool kmmu_zap_all_rmap_sptes(struct kmmu_ref_vm *vm, struct kmmu_rmap_head *head, int level)
{
	struct kmmu_rmap_iterator it;
	uint64_t *sptep;

	if (!kmmu_rmap_get_first(head, &it))
		return false;
	kmmu_for_each_rmap_spte(head, &it, sptep) {
		if (!kmmu_is_shadow_present_pte(kmmu_spte_read(sptep)))
			kmmu_ref_vm_bug(vm, -EIO);
		kmmu_spte_clear_track_bits(vm, sptep, level);
		kmmu_sptep_to_sp(sptep)->nr_present--;
		if (level == KMMU_PG_LEVEL_4K)
			vm->stat.pages_4k--;
		else
			vm->stat.pages_2m--;
	}
	kmmu_pte_list_destroy(head);
	return true;
}

static int slot_arch_ok(const struct kmmu_memory_slot *slot)
{
	return slot && slot->arch && slot->npages;
}

int kmmu_mmu_zap_memslot(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot)
{
	struct kmmu_slot_arch *arch;
	unsigned long i, n;
	int level;

	if (!vm || !slot_arch_ok(slot))
		return -EINVAL;
	arch = slot->arch;
	kmmu_mmu_lock(vm);
	for (level = KMMU_PG_LEVEL_4K; level <= KMMU_MAX_HUGEPAGE_LEVEL; level++) {
		n = kmmu_slot_lpages(slot->base_gfn, slot->npages, level);
		for (i = 0; i < n; i++)
			kmmu_zap_all_rmap_sptes(vm, &arch->rmap[level - 1][i], level);
	}
	kmmu_mmu_unlock(vm);
	return 0;
}

int kmmu_mmu_invalidate_mmio_sptes(struct kmmu_ref_vm *vm, uint64_t gen)
{
	int r;

	if (!vm)
		return -EINVAL;
	r = kmmu_mmio_gen_needs_zap(vm->gen_layout, gen, KMMU_ADDRESS_SPACE_NUM);
	if (r <= 0)
		return r;
	kmmu_mmu_lock(vm);
	if (vm->event_fn) {
		struct kmmu_mmu_event ev = { .type = KMMU_MMU_EV_MMIO_GEN_WRAP };

		ev.gen_wrap.gen = gen;
		kmmu_mmu_emit(vm, &ev);
	}
	vm->stat.mmio_gen_wraps++;
	kmmu_mmu_zap_all_fast(vm);
	kmmu_mmu_unlock(vm);
	return 1;
}

int kmmu_mmu_slot_remove_write_access(struct kmmu_ref_vm *vm,
				      const struct kmmu_memory_slot *slot, int start_level)
{
	struct kmmu_slot_arch *arch;
	struct kmmu_rmap_iterator it;
	unsigned long i, n;
	uint64_t *sptep;
	int level;

	if (!vm || !slot_arch_ok(slot) || start_level < KMMU_PG_LEVEL_4K ||
	    start_level > KMMU_MAX_HUGEPAGE_LEVEL)
		return -EINVAL;
	arch = slot->arch;
	kmmu_mmu_lock(vm);
	for (level = start_level; level <= KMMU_MAX_HUGEPAGE_LEVEL; level++) {
		n = kmmu_slot_lpages(slot->base_gfn, slot->npages, level);
		for (i = 0; i < n; i++) {
			/*
			 * spte_write_protect(pt_protect=false): MMU-writable
			 * stays.  An atomic and: A/D bits set meanwhile survive.
			 */
			kmmu_for_each_rmap_spte(&arch->rmap[level - 1][i], &it, sptep)
				__atomic_fetch_and(sptep, ~KMMU_PT_WRITABLE_MASK,
						   __ATOMIC_ACQ_REL);
		}
	}
	kmmu_mmu_unlock(vm);
	return 0;
}

/*
 * Clears the Dirty bit of the 4K SPTEs on @slot's rmaps @first .. @end - 1;
 * the bits taken out go to the host (the dirty log harvest).  Caller holds
 * mmu_lock.
 */
static void __clear_dirty_rmaps(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot,
				unsigned long first, unsigned long end)
{
	struct kmmu_slot_arch *arch = slot->arch;
	struct kmmu_rmap_iterator it;
	unsigned long i;
	uint64_t *sptep;

	for (i = first; i < end; i++)
		kmmu_for_each_rmap_spte(&arch->rmap[0][i], &it, sptep) {
			uint64_t old = __atomic_fetch_and(sptep, ~KMMU_PT_DIRTY_MASK,
							  __ATOMIC_ACQ_REL);

			kmmu_ad_report(vm, old & ~KMMU_PT_ACCESSED_MASK, KMMU_PG_LEVEL_4K,
				       false);
		}
}

int kmmu_mmu_slot_leaf_clear_dirty(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot)
{
	if (!vm || !slot_arch_ok(slot))
		return -EINVAL;
	kmmu_mmu_lock(vm);
	__clear_dirty_rmaps(vm, slot, 0, slot->npages);
	kmmu_mmu_unlock(vm);
	return 0;
}

int kmmu_mmu_clear_dirty_gfn_range(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot,
				   gfn_t start, gfn_t end)
{
	if (!vm || !slot_arch_ok(slot) || end <= start || start < slot->base_gfn ||
	    end > slot->base_gfn + slot->npages)
		return -EINVAL;
	kmmu_mmu_lock(vm);
	__clear_dirty_rmaps(vm, slot, start - slot->base_gfn, end - slot->base_gfn);
	kmmu_mmu_unlock(vm);
	return 0;
}

int kmmu_mmu_zap_collapsible_sptes(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot)
{
	struct kmmu_slot_arch *arch;
	struct kmmu_rmap_iterator it;
	struct kmmu_rmap_head *head;
	unsigned long i;
	uint64_t *sptep;

	if (!vm || !slot_arch_ok(slot))
		return -EINVAL;
	arch = slot->arch;
	kmmu_mmu_lock(vm);
	/* Levels 4K..KVM_MAX_HUGEPAGE_LEVEL-1; only 4K can collapse here. */
	for (i = 0; i < slot->npages; i++) {
		head = &arch->rmap[0][i];
restart:
		kmmu_for_each_rmap_spte(head, &it, sptep) {
			struct kmmu_mmu_page *sp = kmmu_sptep_to_sp(sptep);

			if (sp->role.direct &&
			    sp->role.level < kmmu_max_mapping_level_any(vm, slot, sp->gfn)) {
				/* kvm_zap_one_rmap_spte() */
				kmmu_spte_clear_track_bits(vm, sptep, KMMU_PG_LEVEL_4K);
				sp->nr_present--;
				vm->stat.pages_4k--;
				if (kmmu_pte_list_remove(head, sptep))
					kmmu_ref_vm_bug(vm, -EIO);
				goto restart;
			}
		}
	}
	kmmu_mmu_unlock(vm);
	return 0;
}
