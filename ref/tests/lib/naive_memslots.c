// SPDX-License-Identifier: GPL-2.0
/*
 * Naive memslot model: see naive_memslots.h.  Written from the kernel's
 * documented behaviour, not from ref/memslot.c, so the two can disagree.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "naive_memslots.h"

struct kmmu_naive_memslots {
	unsigned int max_slots;
	gfn_t max_gfn;
	int prepare_error;
	int last_change;
	uint64_t nr_pages;
	/* Live slots, packed at the front; order is irrelevant. */
	struct kmmu_naive_slot *slots[KMMU_ADDRESS_SPACE_NUM];
	unsigned int nr[KMMU_ADDRESS_SPACE_NUM];
};

int kmmu_naive_init(struct kmmu_naive_memslots **out, unsigned int max_slots,
		    gfn_t max_gfn)
{
	struct kmmu_naive_memslots *n;
	int i;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!max_slots)
		max_slots = KMMU_USER_MEM_SLOTS;
	if (max_slots > KMMU_USER_MEM_SLOTS)
		return -EINVAL;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->max_slots = max_slots;
	n->max_gfn = max_gfn;
	n->last_change = -1;
	for (i = 0; i < KMMU_ADDRESS_SPACE_NUM; i++) {
		/* Every id there can be: internal ones included. */
		n->slots[i] = calloc(KMMU_MEM_SLOTS_NUM, sizeof(struct kmmu_naive_slot));
		if (!n->slots[i]) {
			kmmu_naive_destroy(n);
			return -ENOMEM;
		}
	}
	*out = n;
	return 0;
}

void kmmu_naive_destroy(struct kmmu_naive_memslots *n)
{
	int i;

	if (!n)
		return;
	for (i = 0; i < KMMU_ADDRESS_SPACE_NUM; i++)
		free(n->slots[i]);
	free(n);
}

void kmmu_naive_inject_prepare_error(struct kmmu_naive_memslots *n, int err)
{
	n->prepare_error = err;
}

int kmmu_naive_last_change(const struct kmmu_naive_memslots *n)
{
	return n->last_change;
}

static struct kmmu_naive_slot *naive_find_id(const struct kmmu_naive_memslots *n,
					     int as_id, int id)
{
	unsigned int i;

	for (i = 0; i < n->nr[as_id]; i++)
		if (n->slots[as_id][i].id == id)
			return &n->slots[as_id][i];
	return NULL;
}

static bool ranges_overlap(uint64_t a_start, uint64_t a_len, uint64_t b_start,
			   uint64_t b_len)
{
	return a_start < b_start + b_len && b_start < a_start + a_len;
}

static int naive_set(struct kmmu_naive_memslots *n, uint32_t slot, uint32_t flags,
		     uint64_t gpa, uint64_t size, uint64_t hva)
{
	unsigned int as_id = slot >> 16, id = slot & 0xffff, i;
	uint64_t gfn = gpa / KMMU_PAGE_SIZE, npages = size / KMMU_PAGE_SIZE;
	struct kmmu_naive_slot *cur;
	int change, err;

	if (flags & ~(uint32_t)(KMMU_MEM_LOG_DIRTY_PAGES | KMMU_MEM_READONLY))
		return -EINVAL;
	if (size % KMMU_PAGE_SIZE || gpa % KMMU_PAGE_SIZE || hva % KMMU_PAGE_SIZE)
		return -EINVAL;
	/* The whole host range must be user memory. */
	if (size > KMMU_TASK_SIZE_MAX || hva > KMMU_TASK_SIZE_MAX ||
	    hva + size > KMMU_TASK_SIZE_MAX)
		return -EINVAL;
	if (as_id >= KMMU_ADDRESS_SPACE_NUM || id >= KMMU_MEM_SLOTS_NUM)
		return -EINVAL;
	if (gpa + size < gpa)
		return -EINVAL;
	if (npages > KMMU_MEM_MAX_NR_PAGES)
		return -EINVAL;

	cur = naive_find_id(n, as_id, id);
	if (size == 0) {
		if (!cur)
			return -EINVAL;
		change = KMMU_MR_DELETE;
	} else if (!cur) {
		change = KMMU_MR_CREATE;
	} else {
		if (hva != cur->userspace_addr || npages != cur->npages ||
		    (flags & KMMU_MEM_READONLY) != (cur->flags & KMMU_MEM_READONLY))
			return -EINVAL;
		if (gfn != cur->base_gfn)
			change = KMMU_MR_MOVE;
		else if (flags != cur->flags)
			change = KMMU_MR_FLAGS_ONLY;
		else
			return 0;
	}

	if (change == KMMU_MR_CREATE || change == KMMU_MR_MOVE) {
		for (i = 0; i < n->nr[as_id]; i++) {
			struct kmmu_naive_slot *s = &n->slots[as_id][i];

			if (s->id != id &&
			    ranges_overlap(s->base_gfn, s->npages, gfn, npages))
				return -EEXIST;
		}
	}

	/* The arch prepare step. */
	n->last_change = change;
	if ((change == KMMU_MR_CREATE || change == KMMU_MR_MOVE) && n->max_gfn &&
	    gfn + npages - 1 > n->max_gfn)
		return -EINVAL;
	if (n->prepare_error) {
		err = n->prepare_error;
		n->prepare_error = 0;
		return err;
	}

	switch (change) {
	case KMMU_MR_CREATE:
		cur = &n->slots[as_id][n->nr[as_id]++];
		cur->id = id;
		cur->as_id = as_id;
		cur->base_gfn = gfn;
		cur->npages = npages;
		cur->userspace_addr = hva;
		cur->flags = flags;
		n->nr_pages += npages;
		break;
	case KMMU_MR_DELETE:
		n->nr_pages -= cur->npages;
		*cur = n->slots[as_id][--n->nr[as_id]];
		break;
	case KMMU_MR_MOVE:
		cur->base_gfn = gfn;
		cur->flags = flags;
		break;
	case KMMU_MR_FLAGS_ONLY:
		cur->flags = flags;
		break;
	}
	return 0;
}

int kmmu_naive_set_memory_region_internal(struct kmmu_naive_memslots *n,
					  uint32_t slot, uint32_t flags,
					  uint64_t gpa, uint64_t size,
					  uint64_t hva)
{
	int r;

	if (!n)
		return -EINVAL;
	n->last_change = -1;
	r = naive_set(n, slot, flags, gpa, size, hva);
	n->prepare_error = 0;
	return r;
}

int kmmu_naive_set_memory_region(struct kmmu_naive_memslots *n, uint32_t slot,
				 uint32_t flags, uint64_t gpa, uint64_t size,
				 uint64_t hva)
{
	if (!n)
		return -EINVAL;
	if ((slot & 0xffff) >= n->max_slots) {
		n->last_change = -1;
		n->prepare_error = 0;
		return -EINVAL;
	}
	return kmmu_naive_set_memory_region_internal(n, slot, flags, gpa, size, hva);
}

const struct kmmu_naive_slot *kmmu_naive_gfn_to_slot(const struct kmmu_naive_memslots *n,
						     int as_id, gfn_t gfn)
{
	unsigned int i;

	if (as_id < 0 || as_id >= KMMU_ADDRESS_SPACE_NUM)
		return NULL;
	for (i = 0; i < n->nr[as_id]; i++) {
		const struct kmmu_naive_slot *s = &n->slots[as_id][i];

		if (gfn >= s->base_gfn && gfn - s->base_gfn < s->npages)
			return s;
	}
	return NULL;
}

const struct kmmu_naive_slot *kmmu_naive_id_to_slot(const struct kmmu_naive_memslots *n,
						    int as_id, int id)
{
	if (as_id < 0 || as_id >= KMMU_ADDRESS_SPACE_NUM)
		return NULL;
	return naive_find_id(n, as_id, id);
}

const struct kmmu_naive_slot *kmmu_naive_slots(const struct kmmu_naive_memslots *n,
					       int as_id, unsigned int *nr)
{
	if (as_id < 0 || as_id >= KMMU_ADDRESS_SPACE_NUM) {
		*nr = 0;
		return NULL;
	}
	*nr = n->nr[as_id];
	return n->slots[as_id];
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static unsigned int naive_range(const struct kmmu_naive_memslots *n, int as_id,
				uint64_t start, uint64_t end, bool hva,
				uint16_t *ids, unsigned int max)
{
	unsigned int i, found = 0;

	if (as_id < 0 || as_id >= KMMU_ADDRESS_SPACE_NUM || end <= start)
		return 0;
	for (i = 0; i < n->nr[as_id]; i++) {
		const struct kmmu_naive_slot *s = &n->slots[as_id][i];
		uint64_t s_start = hva ? s->userspace_addr : s->base_gfn;
		uint64_t s_len = hva ? s->npages * KMMU_PAGE_SIZE : s->npages;

		if (!ranges_overlap(s_start, s_len, start, end - start))
			continue;
		if (found < max)
			ids[found] = s->id;
		found++;
	}
	qsort(ids, found < max ? found : max, sizeof(*ids), cmp_u16);
	return found;
}

unsigned int kmmu_naive_hva_range(const struct kmmu_naive_memslots *n, int as_id,
				  uint64_t start, uint64_t end,
				  uint16_t *ids, unsigned int max)
{
	return naive_range(n, as_id, start, end, true, ids, max);
}

unsigned int kmmu_naive_gfn_range(const struct kmmu_naive_memslots *n, int as_id,
				  gfn_t start, gfn_t end,
				  uint16_t *ids, unsigned int max)
{
	return naive_range(n, as_id, start, end, false, ids, max);
}

uint64_t kmmu_naive_nr_pages(const struct kmmu_naive_memslots *n)
{
	return n->nr_pages;
}
