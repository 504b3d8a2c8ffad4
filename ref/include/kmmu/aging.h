/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Aging: what the primary MMU's page reclaim asks KVM through the MMU
 * notifiers clear_young / test_young, i.e. was the guest page accessed
 * since the last look?  (kvm_age_gfn / kvm_test_age_gfn, seed 003 and its
 * upstream successor CONFIG_KVM_MMU_LOCKLESS_AGING, Linux 6.15.)
 *
 * Three implementations over the same rmaps:
 *  KMMU_AGING_LOCKED    mmu_lock held for write (the shadow MMU without
 *                       lockless aging); the Accessed bit is cleared with
 *                       an atomic and-not, since the hardware still runs.
 *  KMMU_AGING_LOCKLESS  kvm_rmap_age_gfn_range_lockless(): no mmu_lock,
 *                       an urcu-memb read-side section and the rmap lock
 *                       bit taken read-only per rmap; the bit is cleared
 *                       with cmpxchg, retried while the SPTE changes under
 *                       it (the hardware setting Dirty), abandoned when
 *                       the SPTE was zapped under it.
 *  kmmu_test_clear_young()  seed 003: the lockless walk over an hva range,
 *                       one bit per 4K page in a caller's bitmap, so that
 *                       a reclaim scan asks once per range, not per page.
 * Every Accessed bit cleared is reported through the VM's A/D hook.
 *
 * Built with -DKMMU_MUTATE_AGING_NO_CMPXCHG the lockless clear is a read
 * followed by a plain store: the planted mistake that loses a Dirty bit
 * the hardware set in between, which the stress test must catch.  Built
 * with -DKMMU_MUTATE_BITMAP_DROP test_clear_young marks only the first
 * page of a young huge SPTE: a bitmap that reports pages old that were
 * touched, which the stress test must catch too.
 *
 * The simulated hardware lives here too: kmmu_hw_access() is what the
 * CPU's page walker does on a guest access that hits in the shadow page
 * tables -- set Accessed (and Dirty on a write) atomically, without any
 * MMU lock, on whatever tables it reaches.  The update is a cmpxchg on
 * the value walked, not an atomic OR: the processor's locked A/D update
 * lands only on an entry that is still the present leaf it walked (see
 * kmmu_hw_access() for why an OR would not be that).
 */
#ifndef KMMU_AGING_H
#define KMMU_AGING_H

#include <stdbool.h>

#include "kmmu/mmu.h"

enum kmmu_aging_mode {
	KMMU_AGING_LOCKED,
	KMMU_AGING_LOCKLESS,
	KMMU_AGING_NR,
};

const char *kmmu_aging_mode_name(enum kmmu_aging_mode mode);

/*
 * kvm_mmu_notifier_clear_young(): clear Accessed on every leaf SPTE
 * mapping a page of [@start, @end) (hva, page aligned, end exclusive).
 * Returns the number of SPTEs that were young (> 0: young), -EINVAL.
 */
int kmmu_mmu_notifier_clear_young(struct kmmu_ref_vm *vm, unsigned long start,
				  unsigned long end, enum kmmu_aging_mode mode);
/* kvm_mmu_notifier_test_young(): the same, without clearing; stops at the first young. */
int kmmu_mmu_notifier_test_young(struct kmmu_ref_vm *vm, unsigned long start,
				 unsigned long end, enum kmmu_aging_mode mode);

/*
 * kvm_age_gfn()/kvm_test_age_gfn() on one slot's [@start, @end): the
 * per-slot handlers of the two above, usable on their own.  LOCKED needs
 * mmu_lock for write, LOCKLESS an urcu-memb read-side section.
 */
int kmmu_age_gfn_range(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot, gfn_t start,
		       gfn_t end, enum kmmu_aging_mode mode, bool test_only);

/*
 * Seed 003's test_clear_young over [@start, @end): bit i of @bitmap (which
 * the caller sized for (end - start) / 4K bits and zeroed) is set when the
 * page at start + i * 4K was young; Accessed is cleared, locklessly.
 * Returns the number of young pages, -EINVAL.
 */
long kmmu_test_clear_young(struct kmmu_ref_vm *vm, unsigned long start, unsigned long end,
			   unsigned long *bitmap);

/*
 * The hardware's access to @gfn through vCPU @vcpu's root of @as_id: if
 * the walk ends on a present leaf that allows the access, atomically set
 * Accessed (and Dirty for @write) and return 1, with *@set the bits this
 * access turned on (0 if they were already set) and *@pfn and *@level the
 * SPTE's frame and level; return 0 if the access would fault.  Runs in
 * its own urcu-memb read-side section.  -EINVAL for bad input.
 */
int kmmu_hw_access(struct kmmu_ref_vm *vm, unsigned int vcpu, int as_id, gfn_t gfn, bool write,
		   uint64_t *set, uint64_t *pfn, int *level);

#endif
