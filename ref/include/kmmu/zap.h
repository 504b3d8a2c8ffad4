/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Zapping in the reference MMU (arch/x86/kvm/mmu/mmu.c):
 *
 *  - kmmu_mmu_prepare_zap_page()/commit: unlink a shadow page from its
 *    children and parent, clear its SPTEs (leaves leave their rmaps), move
 *    it to an invalid list and free it, or, for a root still loaded by a
 *    vCPU, take it off the active list and mark it invalid: it is freed
 *    when the last vCPU drops it.
 *  - kmmu_mmu_zap_all_fast(): toggle mmu_valid_gen, ask the vCPUs to drop
 *    obsolete roots, zap every obsolete page (they sit at the tail of the
 *    FIFO active list).  No leaf SPTE survives it.
 *  - kmmu_mmu_zap_all(): every page (VM destruction).
 *  - kmmu_mmu_zap_memslot(): only the slot's leaf SPTEs, through its rmaps
 *    (flush_slot without KVM_X86_QUIRK_SLOT_ZAP_ALL).
 *  - kmmu_mmu_invalidate_mmio_sptes(): after each memslots update, zap all
 *    when the MMIO generation wraps (the layout's rule).
 *  - dirty logging: write-protect a slot, zap collapsible 4K SPTEs.
 */
#ifndef KMMU_ZAP_H
#define KMMU_ZAP_H

#include <stdbool.h>
#include <linux/list.h>

#include "kmmu/mmu.h"

/*
 * The public functions below take vm->mmu_lock themselves; prepare/commit
 * expect the caller to hold it.
 * Returns true if pages other than @sp left the active list (restart).
 */
bool kmmu_mmu_prepare_zap_page(struct kmmu_ref_vm *vm, struct kmmu_mmu_page *sp,
			       struct list_head *invalid_list);
void kmmu_mmu_commit_zap_page(struct kmmu_ref_vm *vm, struct list_head *invalid_list);

void kmmu_mmu_zap_all_fast(struct kmmu_ref_vm *vm);
void kmmu_mmu_zap_all(struct kmmu_ref_vm *vm);
/* 0, or -EINVAL for a NULL/foreign slot. */
int kmmu_mmu_zap_memslot(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot);

/*
 * kvm_mmu_invalidate_mmio_sptes(): @gen is the new generation of an
 * address space (no in-progress bit).  Returns 1 if everything was
 * zapped, 0 if not, -EINVAL for bad input.
 */
int kmmu_mmu_invalidate_mmio_sptes(struct kmmu_ref_vm *vm, uint64_t gen);

/* kvm_mmu_slot_remove_write_access() for levels >= @start_level. */
int kmmu_mmu_slot_remove_write_access(struct kmmu_ref_vm *vm,
				      const struct kmmu_memory_slot *slot, int start_level);
/* kvm_mmu_slot_leaf_clear_dirty(): clear the dirty bit of 4K SPTEs. */
int kmmu_mmu_slot_leaf_clear_dirty(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot);
/*
 * kvm_mmu_clear_dirty_pt_masked() with PML (KVM_CLEAR_DIRTY_LOG): clear
 * the dirty bit of the 4K SPTEs of gfns [@start, @end) of @slot, the bits
 * going to the host.  -EINVAL outside the slot.
 */
int kmmu_mmu_clear_dirty_gfn_range(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot,
				   gfn_t start, gfn_t end);
/* kvm_mmu_zap_collapsible_sptes(): 4K SPTEs that could now be huge. */
int kmmu_mmu_zap_collapsible_sptes(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot);

/* Internal, shared with mmu.c. */
bool kmmu_zap_all_rmap_sptes(struct kmmu_ref_vm *vm, struct kmmu_rmap_head *head, int level);
void kmmu_unlink_child(struct kmmu_ref_vm *vm, uint64_t *sptep);
void kmmu_request_free_obsolete_roots(struct kmmu_ref_vm *vm);
int kmmu_max_mapping_level_any(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot,
			       gfn_t gfn);

#endif
