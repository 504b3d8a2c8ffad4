// SPDX-License-Identifier: GPL-2.0
/*
 * pte_list rmaps (the kernel's representation, see kmmu/rmap.h) and the
 * KMMU_RMAP_LOCKED bit.  The list operations work on a private copy of
 * the head taken with the lock and publish it with the unlock, so a
 * lockless walker sees either the old or the new chain, never a mix.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "kmmu/rmap.h"

static long desc_live;

static inline struct kmmu_pte_list_desc *head_desc(unsigned long val)
{
	return (struct kmmu_pte_list_desc *)(val & KMMU_RMAP_PTR_MASK);
}

static inline unsigned long head_val(const struct kmmu_rmap_head *head)
{
	return __atomic_load_n(&head->val, __ATOMIC_ACQUIRE) & ~KMMU_RMAP_LOCKED;
}

/* __kvm_rmap_lock(): spin while locked; never lock an empty rmap. */
static unsigned long __rmap_lock(struct kmmu_rmap_head *head)
{
	unsigned long old = __atomic_load_n(&head->val, __ATOMIC_RELAXED);

	if (!old)
		return 0;
	do {
		while (old & KMMU_RMAP_LOCKED) {
			/* Holders are short, but the CPUs may be overcommitted. */
			sched_yield();
			old = __atomic_load_n(&head->val, __ATOMIC_RELAXED);
		}
		/* The holder emptied it: nothing to lock. */
		if (!old)
			return 0;
	} while (!__atomic_compare_exchange_n(&head->val, &old, old | KMMU_RMAP_LOCKED, false,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return old;
}

unsigned long kmmu_rmap_lock(struct kmmu_rmap_head *head)
{
	return __rmap_lock(head);
}

void kmmu_rmap_unlock(struct kmmu_rmap_head *head, unsigned long new_val)
{
	__atomic_store_n(&head->val, new_val & ~KMMU_RMAP_LOCKED, __ATOMIC_RELEASE);
}

unsigned long kmmu_rmap_lock_readonly(struct kmmu_rmap_head *head)
{
	return __rmap_lock(head);
}

void kmmu_rmap_unlock_readonly(struct kmmu_rmap_head *head, unsigned long old_val)
{
	if (!old_val)
		return;
	__atomic_store_n(&head->val, old_val, __ATOMIC_RELEASE);
}

static struct kmmu_pte_list_desc *desc_alloc(void)
{
	struct kmmu_pte_list_desc *d = calloc(1, sizeof(*d));

	if (d)
		__atomic_add_fetch(&desc_live, 1, __ATOMIC_RELAXED);
	return d;
}

static void desc_free(struct kmmu_pte_list_desc *d)
{
	__atomic_sub_fetch(&desc_live, 1, __ATOMIC_RELAXED);
	free(d);
}

long kmmu_pte_list_desc_live(void)
{
	return __atomic_load_n(&desc_live, __ATOMIC_RELAXED);
}

static int __pte_list_add(struct kmmu_rmap_head *head, uint64_t *sptep)
{
	struct kmmu_pte_list_desc *desc;
	int count;

	if (!head->val) {
		head->val = (unsigned long)sptep;
		return 0;
	}
	if (!(head->val & KMMU_RMAP_MANY)) {
		desc = desc_alloc();
		if (!desc)
			return -ENOMEM;
		desc->sptes[0] = (uint64_t *)head->val;
		desc->sptes[1] = sptep;
		desc->spte_count = 2;
		desc->tail_count = 0;
		head->val = (unsigned long)desc | KMMU_RMAP_MANY;
		return 1;
	}

	desc = head_desc(head->val);
	count = desc->tail_count + desc->spte_count;
	/* Tails are always full; a full head means a new head. */
	if (desc->spte_count == KMMU_PTE_LIST_EXT) {
		struct kmmu_pte_list_desc *n = desc_alloc();

		if (!n)
			return -ENOMEM;
		n->more = desc;
		n->spte_count = 0;
		n->tail_count = count;
		head->val = (unsigned long)n | KMMU_RMAP_MANY;
		desc = n;
	}
	desc->sptes[desc->spte_count++] = sptep;
	return count;
}

static void desc_remove_entry(struct kmmu_rmap_head *head,
			      struct kmmu_pte_list_desc *desc, int i)
{
	struct kmmu_pte_list_desc *hd = head_desc(head->val);
	int j = hd->spte_count - 1;

	/* Refill the hole from the head so that tails stay full. */
	desc->sptes[i] = hd->sptes[j];
	hd->sptes[j] = NULL;
	hd->spte_count--;
	if (hd->spte_count)
		return;
	if (!hd->more)
		head->val = 0;
	else
		head->val = (unsigned long)hd->more | KMMU_RMAP_MANY;
	desc_free(hd);
}

static int __pte_list_remove(struct kmmu_rmap_head *head, uint64_t *sptep)
{
	struct kmmu_pte_list_desc *desc;
	unsigned int i;

	if (!sptep || !head->val)
		return -ENOENT;

	if (!(head->val & KMMU_RMAP_MANY)) {
		if ((uint64_t *)head->val != sptep)
			return -ENOENT;
		head->val = 0;
		return 0;
	}

	for (desc = head_desc(head->val); desc; desc = desc->more) {
		for (i = 0; i < desc->spte_count; i++) {
			if (desc->sptes[i] == sptep) {
				desc_remove_entry(head, desc, i);
				return 0;
			}
		}
	}
	return -ENOENT;
}

int kmmu_pte_list_add(struct kmmu_rmap_head *head, uint64_t *sptep)
{
	struct kmmu_rmap_head tmp;
	int r;

	if (!head || !sptep || ((unsigned long)sptep & ~KMMU_RMAP_PTR_MASK))
		return -EINVAL;
	tmp.val = kmmu_rmap_lock(head);
	r = __pte_list_add(&tmp, sptep);
	kmmu_rmap_unlock(head, tmp.val);
	return r;
}

int kmmu_pte_list_remove(struct kmmu_rmap_head *head, uint64_t *sptep)
{
	struct kmmu_rmap_head tmp;
	int r;

	if (!head)
		return -ENOENT;
	tmp.val = kmmu_rmap_lock(head);
	r = __pte_list_remove(&tmp, sptep);
	kmmu_rmap_unlock(head, tmp.val);
	return r;
}

unsigned int kmmu_pte_list_count(const struct kmmu_rmap_head *head)
{
	struct kmmu_pte_list_desc *desc;
	unsigned long val;

	if (!head)
		return 0;
	val = head_val(head);
	if (!val)
		return 0;
	if (!(val & KMMU_RMAP_MANY))
		return 1;
	desc = head_desc(val);
	return desc->tail_count + desc->spte_count;
}

unsigned int kmmu_pte_list_nr_desc(const struct kmmu_rmap_head *head)
{
	struct kmmu_pte_list_desc *desc;
	unsigned int n = 0;

	if (!head || !(head_val(head) & KMMU_RMAP_MANY))
		return 0;
	for (desc = head_desc(head_val(head)); desc; desc = desc->more)
		n++;
	return n;
}

void kmmu_pte_list_destroy(struct kmmu_rmap_head *head)
{
	struct kmmu_pte_list_desc *desc, *next;
	unsigned long val;

	if (!head)
		return;
	val = kmmu_rmap_lock(head);
	if (val & KMMU_RMAP_MANY) {
		for (desc = head_desc(val); desc; desc = next) {
			next = desc->more;
			desc_free(desc);
		}
	}
	kmmu_rmap_unlock(head, 0);
}

uint64_t *kmmu_rmap_get_first_val(unsigned long val, struct kmmu_rmap_iterator *iter)
{
	val &= ~KMMU_RMAP_LOCKED;
	if (!iter || !val)
		return NULL;
	if (!(val & KMMU_RMAP_MANY)) {
		iter->desc = NULL;
		return (uint64_t *)val;
	}
	iter->desc = head_desc(val);
	iter->pos = 0;
	return iter->desc->sptes[0];
}

/*
 * Writers hold mmu_lock for write, so the chain cannot change under them,
 * but a lockless walker may hold the lock bit: mask it.
 */
uint64_t *kmmu_rmap_get_first(const struct kmmu_rmap_head *head,
			      struct kmmu_rmap_iterator *iter)
{
	if (!head)
		return NULL;
	return kmmu_rmap_get_first_val(head_val(head), iter);
}

uint64_t *kmmu_rmap_get_next(struct kmmu_rmap_iterator *iter)
{
	if (!iter->desc)
		return NULL;
	if (iter->pos < KMMU_PTE_LIST_EXT - 1) {
		++iter->pos;
		if (iter->desc->sptes[iter->pos])
			return iter->desc->sptes[iter->pos];
	}
	iter->desc = iter->desc->more;
	if (!iter->desc)
		return NULL;
	iter->pos = 0;
	/* Only the head can be partially filled, so sptes[0] is valid. */
	return iter->desc->sptes[0];
}
