/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the reference MMU's own files share and nobody else may call:
 * mmu_page.c's shadow pages, SPTEs and walks, as the fault path (mmu.c),
 * the VM (mmu_vm.c) and the audit (mmu_audit.c) use them.  It lives beside
 * them, not in include/kmmu/, so that no program can include it.
 */
#ifndef KMMU_REF_MMU_INTERNAL_H
#define KMMU_REF_MMU_INTERNAL_H

#include "kmmu/mmu.h"

/* The table a non-leaf SPTE points to. */
static inline struct kmmu_mmu_page *kmmu_spte_to_child_sp(uint64_t spte)
{
	return (struct kmmu_mmu_page *)(uintptr_t)(spte & KMMU_SPTE_BASE_ADDR_MASK);
}

/* SPTE_INDEX(): @gfn's entry in a table of @level. */
static inline unsigned int kmmu_pt_index(gfn_t gfn, int level)
{
	return (gfn >> KMMU_HPAGE_GFN_SHIFT(level)) & (KMMU_PT64_ENT_PER_PAGE - 1);
}

/* kvm_mmu_get_shadow_page() for a direct page; NULL on -ENOMEM. */
struct kmmu_mmu_page *kmmu_get_shadow_page(struct kmmu_ref_vm *vm, gfn_t gfn,
					   union kmmu_mmu_page_role role);

/* rmap_add(): count the new leaf @sptep of @gfn, recycle a too long rmap. */
void kmmu_rmap_add(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot, uint64_t *sptep,
		   gfn_t gfn, int level);

/* trace_kvm_mmu_set_spte() for the SPTE @sptep as it is now. */
void kmmu_set_spte_event(struct kmmu_ref_vm *vm, uint64_t *sptep, gfn_t gfn, int level);

/* mark_mmio_spte(): an MMIO SPTE of generation @memslots_gen at @sptep. */
int kmmu_mark_mmio_spte(struct kmmu_ref_vm *vm, uint64_t *sptep, gfn_t gfn,
			unsigned int access, uint64_t memslots_gen);

/* kvm_mmu_free_roots() for one root of a vCPU. */
void kmmu_mmu_free_root(struct kmmu_ref_vm *vm, struct kmmu_mmu_page **rootp);

/* kvm_mmu_reload(): the vCPU has a valid root for @as_id, or -ENOMEM. */
int kmmu_mmu_reload(struct kmmu_ref_vm *vm, struct kmmu_ref_vcpu *vcpu, int as_id);

/* The last SPTE on @gfn's path from @root (mmu_lock held), its level in @level. */
uint64_t *kmmu_walk_last_spte(struct kmmu_mmu_page *root, gfn_t gfn, int *level);

#endif
