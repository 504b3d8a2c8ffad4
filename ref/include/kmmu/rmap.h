/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reverse maps: gfn -> the leaf SPTEs that map it, one head per gfn (or per
 * huge-page frame) and level of a memslot, in the kernel's pte_list
 * representation (arch/x86/kvm/mmu/mmu.c):
 *
 *   head->val == 0                       empty
 *   head->val & KMMU_RMAP_MANY == 0      the only SPTE pointer, inline
 *   head->val & KMMU_RMAP_MANY           a struct kmmu_pte_list_desc chain
 *
 * Bit 1, KMMU_RMAP_LOCKED, is a bit spinlock on the chain (upstream 6.15,
 * KVM_RMAP_LOCKED): every change of a chain takes it, and so do the
 * lockless aging walkers (kmmu_rmap_lock_readonly()), which run without
 * mmu_lock and must neither see a half-edited chain nor a freed
 * descriptor.  An empty rmap is never locked: the walker has nothing to
 * do, and a writer holds mmu_lock for write, so no other writer can fill
 * it meanwhile.  The protocol is the one checked in ref/models/rmap_lock.pml.
 *
 * Descriptors hold KMMU_PTE_LIST_EXT entries.  New descriptors are added
 * at the head, and removal refills the hole from the head descriptor, so
 * every descriptor but the head is full and tail_count (the number of
 * entries behind a descriptor) stays exact: the count of a chain is
 * head->spte_count + head->tail_count (upstream since 6.4).
 */
#ifndef KMMU_RMAP_H
#define KMMU_RMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "kmmu/spte.h"

#define KMMU_RMAP_MANY		1UL
#define KMMU_RMAP_LOCKED	2UL
#define KMMU_RMAP_PTR_MASK	(~(KMMU_RMAP_MANY | KMMU_RMAP_LOCKED))
#define KMMU_PTE_LIST_EXT	14

struct kmmu_rmap_head {
	unsigned long val;
};

struct kmmu_pte_list_desc {
	struct kmmu_pte_list_desc *more;
	uint32_t spte_count;	/* entries in this descriptor */
	uint32_t tail_count;	/* entries in all descriptors behind it */
	uint64_t *sptes[KMMU_PTE_LIST_EXT];
};

/*
 * kvm_rmap_lock()/kvm_rmap_unlock(): the writer side, mmu_lock held for
 * write.  Returns the chain without the lock bit (0: empty, not locked);
 * unlock publishes @new_val (release) and drops the bit in one store.
 * Unlocking an rmap that lock returned 0 for is allowed and just stores.
 */
unsigned long kmmu_rmap_lock(struct kmmu_rmap_head *head);
void kmmu_rmap_unlock(struct kmmu_rmap_head *head, unsigned long new_val);
/*
 * kvm_rmap_lock_readonly()/kvm_rmap_unlock_readonly(): the lockless
 * walkers.  While held, the chain and its descriptors do not change, so
 * the SPTE pointers it holds stay valid (a zap must remove the SPTE from
 * the rmap before its table can be freed); the SPTE values do change.
 * unlock_readonly(0) does nothing.
 */
unsigned long kmmu_rmap_lock_readonly(struct kmmu_rmap_head *head);
void kmmu_rmap_unlock_readonly(struct kmmu_rmap_head *head, unsigned long old_val);

/*
 * Adds @sptep.  Returns the number of entries before the add (what the
 * kernel compares against max_mmu_rmap_size), -EINVAL for NULL, a
 * misaligned pointer (bit 0 is the MANY tag) or -ENOMEM.
 */
int kmmu_pte_list_add(struct kmmu_rmap_head *head, uint64_t *sptep);
/* Removes @sptep; -ENOENT if it is not in the list (the kernel BUG()s). */
int kmmu_pte_list_remove(struct kmmu_rmap_head *head, uint64_t *sptep);
unsigned int kmmu_pte_list_count(const struct kmmu_rmap_head *head);
/* Number of descriptors in the chain (0 when empty or inline). */
unsigned int kmmu_pte_list_nr_desc(const struct kmmu_rmap_head *head);
/* Frees all descriptors and empties @head without touching the SPTEs. */
void kmmu_pte_list_destroy(struct kmmu_rmap_head *head);

/*
 * rmap_get_first()/rmap_get_next().  After removing an entry restart with
 * kmmu_rmap_get_first(): removal moves entries around.
 */
struct kmmu_rmap_iterator {
	struct kmmu_pte_list_desc *desc;
	int pos;
};
uint64_t *kmmu_rmap_get_first(const struct kmmu_rmap_head *head,
			      struct kmmu_rmap_iterator *iter);
uint64_t *kmmu_rmap_get_next(struct kmmu_rmap_iterator *iter);

#define kmmu_for_each_rmap_spte(head, iter, sptep)		\
	for (sptep = kmmu_rmap_get_first(head, iter);		\
	     sptep; sptep = kmmu_rmap_get_next(iter))

/* for_each_rmap_spte_lockless(): over a value from kmmu_rmap_lock_readonly(). */
uint64_t *kmmu_rmap_get_first_val(unsigned long val, struct kmmu_rmap_iterator *iter);
#define kmmu_for_each_rmap_spte_val(val, iter, sptep)		\
	for (sptep = kmmu_rmap_get_first_val(val, iter);	\
	     sptep; sptep = kmmu_rmap_get_next(iter))

/* Index of @gfn's head in a slot starting at @base_gfn for @level. */
static inline unsigned long kmmu_gfn_to_index(gfn_t gfn, gfn_t base_gfn, int level)
{
	return (gfn >> KMMU_HPAGE_GFN_SHIFT(level)) -
	       (base_gfn >> KMMU_HPAGE_GFN_SHIFT(level));
}

/* Heads a slot of @npages at @base_gfn needs for @level (__kvm_mmu_slot_lpages). */
static inline unsigned long kmmu_slot_lpages(gfn_t base_gfn, unsigned long npages, int level)
{
	return kmmu_gfn_to_index(base_gfn + npages - 1, base_gfn, level) + 1;
}

/* Live descriptors of all chains (leak check for tests). */
long kmmu_pte_list_desc_live(void);

#endif
