/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MMU notifier invalidation in the reference MMU (virt/kvm/kvm_main.c,
 * upstream 6.18 semantics):
 *
 *  invalidate_range_start(hva range)
 *    mn_active_invalidate_count++ (memslot swaps wait for it to drop, so
 *    start and end see the same slots); then, for the first slot the hva
 *    range hits, under mmu_lock for write: kvm_mmu_invalidate_begin()
 *    (mmu_invalidate_in_progress++, the gfn range reset when it is the
 *    first), and for every slot hit kvm_mmu_invalidate_range_add() and
 *    kvm_unmap_gfn_range(): interval tree -> slots -> gfns -> rmaps -> zap.
 *  invalidate_range_end(hva range)
 *    under mmu_lock for write, if a slot is hit: kvm_mmu_invalidate_end():
 *    mmu_invalidate_seq++, then in_progress-- (in that order: a fault that
 *    sees in_progress drop sees the new sequence); then the count drops.
 *
 * A fault samples mmu_invalidate_seq before it resolves the host page and
 * calls kmmu_mmu_invalidate_retry_gfn() under mmu_lock before it installs
 * an SPTE: if an invalidation covering the gfn is in progress, or one ended
 * since the sample, the fault retries instead of installing a stale SPTE.
 * This is the protocol of ref/models/invalidation_retry.pml.
 */
#ifndef KMMU_NOTIFIER_H
#define KMMU_NOTIFIER_H

#include <stdbool.h>

#include "kmmu/mmu.h"

/* INVALID_GPA's gfn: no invalidation range recorded. */
#define KMMU_INVALID_GFN	(~(gfn_t)0)

/* 0, or -EINVAL for a NULL vm or an empty/overflowing range (end exclusive). */
int kmmu_mmu_notifier_invalidate_range_start(struct kmmu_ref_vm *vm, unsigned long start,
					     unsigned long end);
int kmmu_mmu_notifier_invalidate_range_end(struct kmmu_ref_vm *vm, unsigned long start,
					   unsigned long end);

/* READ_ONCE(kvm->mmu_invalidate_seq) + smp_rmb(): sample before the host lookup. */
unsigned long kmmu_mmu_invalidate_seq(struct kmmu_ref_vm *vm);
/* mmu_invalidate_retry_gfn(), mmu_lock held. */
bool kmmu_mmu_invalidate_retry_gfn(struct kmmu_ref_vm *vm, unsigned long mmu_seq, gfn_t gfn);

/*
 * kvm_handle_hva_range(): call @handler for the gfn range [@start, @end)
 * of every slot of every address space that [@hva_start, @hva_end) hits,
 * inside an urcu-memb read-side section and, unless @lockless, with
 * mmu_lock held for write (taken at the first hit, when @on_lock runs).
 * Returns the sum of what the handlers return (each >= 0), or the first
 * negative one.
 */
typedef int (*kmmu_gfn_range_fn)(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot,
				 gfn_t start, gfn_t end, void *data);
int kmmu_handle_hva_range(struct kmmu_ref_vm *vm, unsigned long hva_start,
			  unsigned long hva_end, void (*on_lock)(struct kmmu_ref_vm *vm),
			  kmmu_gfn_range_fn handler, void *data, bool lockless);

/* kvm_unmap_gfn_range() on one slot, mmu_lock held for write; returns the SPTEs zapped. */
int kmmu_unmap_gfn_range(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot, gfn_t start,
			 gfn_t end);

/*
 * Leaf SPTEs (rmap entries, at every level) mapping any page of
 * [@start, @end), counted under mmu_lock: the stress test's "no SPTE
 * survives in an invalidated range" check.  >= 0 or -EINVAL.
 */
long kmmu_mmu_hva_range_mapped(struct kmmu_ref_vm *vm, unsigned long start, unsigned long end);

/*
 * @fn(@ctx, hva, pfn, level) for every 4K page of [@start, @end) that a
 * leaf SPTE maps (a page partly in the range counts, as in
 * kmmu_handle_hva_range()), with the frame the SPTE maps that page to (its base
 * frame plus the page's offset in a huge SPTE), all under one hold of
 * mmu_lock: the stress test's "no SPTE maps a frame the host has
 * replaced" check.  Returns the pages visited, the first negative @fn
 * return, or -EINVAL.
 */
typedef int (*kmmu_hva_pfn_fn)(void *ctx, unsigned long hva, uint64_t pfn, int level);
long kmmu_mmu_hva_range_for_each_pfn(struct kmmu_ref_vm *vm, unsigned long start,
				     unsigned long end, kmmu_hva_pfn_fn fn, void *ctx);

/*
 * kvm_zap_gfn_range(): zap every leaf SPTE of gfns [@start, @end) in every
 * slot and address space, under mmu_lock and inside an invalidation
 * (mmu_invalidate_seq moves, so a fault that looked up its page before
 * the zap retries).  Takes mmu_lock and an urcu-memb read-side section
 * itself.  Returns the SPTEs zapped, -EINVAL.
 */
int kmmu_mmu_zap_gfn_range(struct kmmu_ref_vm *vm, gfn_t start, gfn_t end);

#endif
