// SPDX-License-Identifier: GPL-2.0
/*
 * Guest page-table builder (see kmmu/pt.h).
 */
#include <errno.h>
#include <string.h>

#include "kmmu/pt.h"

#define KMMU_PT_ENTRIES	512

static int kmmu_pt_canonical(uint64_t gva)
{
	uint64_t top = gva >> 47;

	return top == 0 || top == 0x1ffff;
}

static uint64_t *kmmu_pt_table(const struct kmmu_pt *pt, uint64_t gpa)
{
	if (gpa < pt->pool_gpa || gpa - pt->pool_gpa >= pt->used)
		return NULL;
	return (uint64_t *)(pt->mem + (gpa - pt->pool_gpa));
}

static int kmmu_pt_alloc(struct kmmu_pt *pt, uint64_t *gpa)
{
	if (pt->used + KMMU_PAGE_SIZE > pt->pool_size)
		return -ENOMEM;
	memset(pt->mem + pt->used, 0, KMMU_PAGE_SIZE);
	*gpa = pt->pool_gpa + pt->used;
	pt->used += KMMU_PAGE_SIZE;
	return 0;
}

int kmmu_pt_init(struct kmmu_pt *pt, void *mem, uint64_t pool_gpa, size_t size,
		 unsigned int phys_bits)
{
	if (!mem || ((uintptr_t)mem & (KMMU_PAGE_SIZE - 1)) ||
	    (pool_gpa & (KMMU_PAGE_SIZE - 1)) || (size & (KMMU_PAGE_SIZE - 1)) ||
	    size < KMMU_PAGE_SIZE || phys_bits < 32 || phys_bits > 52)
		return -EINVAL;
	memset(pt, 0, sizeof(*pt));
	pt->mem = mem;
	pt->pool_gpa = pool_gpa;
	pt->pool_size = size;
	pt->maxphyaddr_mask = (1ULL << phys_bits) - 1;
	if (pool_gpa + size - 1 > pt->maxphyaddr_mask)
		return -EINVAL;
	return kmmu_pt_alloc(pt, &pt->root_gpa);
}

static uint64_t kmmu_pt_leaf_bits(unsigned int flags)
{
	uint64_t e = KMMU_PTE_P;

	if (!(flags & KMMU_MAP_SUPERVISOR))
		e |= KMMU_PTE_U;
	if (flags & KMMU_MAP_WRITE)
		e |= KMMU_PTE_W;
	if (flags & KMMU_MAP_NX)
		e |= KMMU_PTE_NX;
	if (flags & KMMU_MAP_UNCACHED)
		e |= KMMU_PTE_PCD | KMMU_PTE_PWT;
	/*
	 * Preset A (and D for writable pages) so that the first guest access
	 * does not also have to emulate an A/D update of the guest PTE;
	 * tests that want that path pass KMMU_MAP_NO_AD.
	 */
	if (!(flags & KMMU_MAP_NO_AD)) {
		e |= KMMU_PTE_A;
		if (flags & KMMU_MAP_WRITE)
			e |= KMMU_PTE_D;
	}
	return e;
}

/* Returns the table one level down from entry @e, allocating it. */
static int kmmu_pt_next(struct kmmu_pt *pt, uint64_t *e, uint64_t **next)
{
	uint64_t gpa;
	int r;

	if (*e & KMMU_PTE_P) {
		if (*e & KMMU_PTE_PS)
			return -EEXIST;
		*next = kmmu_pt_table(pt, *e & KMMU_PTE_ADDR_MASK);
		return *next ? 0 : -EFAULT;
	}
	r = kmmu_pt_alloc(pt, &gpa);
	if (r)
		return r;
	*e = gpa | KMMU_PTE_P | KMMU_PTE_W | KMMU_PTE_U;
	*next = kmmu_pt_table(pt, gpa);
	return 0;
}

static int kmmu_pt_map_one(struct kmmu_pt *pt, uint64_t gva, uint64_t gpa,
			   int level, unsigned int flags)
{
	uint64_t *table = kmmu_pt_table(pt, pt->root_gpa);
	int l, r;

	for (l = 4; l > level; l--) {
		uint64_t *e = &table[(gva >> (12 + 9 * (l - 1))) & 511];

		r = kmmu_pt_next(pt, e, &table);
		if (r)
			return r;
	}
	table += (gva >> (12 + 9 * (level - 1))) & 511;
	if (*table & KMMU_PTE_P)
		return -EEXIST;
	*table = gpa | kmmu_pt_leaf_bits(flags) | (level == 2 ? KMMU_PTE_PS : 0);
	return 0;
}

/* True if any 4K page of the 2M range at @gva is already mapped. */
static int kmmu_pt_range_used(const struct kmmu_pt *pt, uint64_t gva)
{
	uint64_t *table = kmmu_pt_table(pt, pt->root_gpa);
	int l;

	for (l = 4; l > 2; l--) {
		uint64_t e = table[(gva >> (12 + 9 * (l - 1))) & 511];

		if (!(e & KMMU_PTE_P))
			return 0;
		if (e & KMMU_PTE_PS)
			return 1;
		table = kmmu_pt_table(pt, e & KMMU_PTE_ADDR_MASK);
		if (!table)
			return 1;
	}
	return (table[(gva >> 21) & 511] & KMMU_PTE_P) != 0;
}

int kmmu_pt_map(struct kmmu_pt *pt, uint64_t gva, uint64_t gpa, uint64_t size,
		unsigned int flags)
{
	uint64_t end = gva + size;
	int r;

	if ((gva | gpa | size) & (KMMU_PAGE_SIZE - 1) || !size)
		return -EINVAL;
	if (end < gva || gpa + size < gpa)
		return -EINVAL;
	if (!kmmu_pt_canonical(gva) || !kmmu_pt_canonical(end - 1) ||
	    (gva >> 47) != ((end - 1) >> 47))
		return -EINVAL;
	if ((gpa + size - 1) & ~pt->maxphyaddr_mask)
		return -EINVAL;

	while (gva < end) {
		if ((flags & KMMU_MAP_HUGE) && !(gva & (KMMU_HPAGE_SIZE - 1)) &&
		    !(gpa & (KMMU_HPAGE_SIZE - 1)) && end - gva >= KMMU_HPAGE_SIZE) {
			if (kmmu_pt_range_used(pt, gva))
				return -EEXIST;
			r = kmmu_pt_map_one(pt, gva, gpa, 2, flags);
			if (r)
				return r;
			gva += KMMU_HPAGE_SIZE;
			gpa += KMMU_HPAGE_SIZE;
			continue;
		}
		r = kmmu_pt_map_one(pt, gva, gpa, 1, flags);
		if (r)
			return r;
		gva += KMMU_PAGE_SIZE;
		gpa += KMMU_PAGE_SIZE;
	}
	return 0;
}

/*
 * The walk of @gva; also the gpa of the level-1 table it reached, in
 * @l1_table (left alone when it stopped above level 1), whether or not
 * the entry there is present.
 */
static int pt_walk(const struct kmmu_pt *pt, uint64_t gva, uint64_t *gpa, int *level,
		   uint64_t *leaf, uint64_t *l1_table)
{
	uint64_t table_gpa = pt->root_gpa;
	uint64_t *table = kmmu_pt_table(pt, table_gpa);
	int l;

	if (!kmmu_pt_canonical(gva))
		return -ENOENT;
	for (l = 4; l >= 1; l--) {
		uint64_t e = table[(gva >> (12 + 9 * (l - 1))) & 511];

		if (l == 1 && l1_table)
			*l1_table = table_gpa;
		if (!(e & KMMU_PTE_P))
			return -ENOENT;
		if (l == 1 || (l == 2 && (e & KMMU_PTE_PS))) {
			uint64_t mask = (1ULL << (12 + 9 * (l - 1))) - 1;

			/* For a 2M leaf, bit 12 is PAT: masked with the offset. */
			if (gpa)
				*gpa = (e & KMMU_PTE_ADDR_MASK & ~mask) + (gva & mask);
			if (level)
				*level = l;
			if (leaf)
				*leaf = e;
			return 0;
		}
		table_gpa = e & KMMU_PTE_ADDR_MASK;
		table = kmmu_pt_table(pt, table_gpa);
		if (!table)
			return -EFAULT;
	}
	return -ENOENT;
}

int kmmu_pt_walk(const struct kmmu_pt *pt, uint64_t gva, uint64_t *gpa,
		 int *level, uint64_t *leaf)
{
	return pt_walk(pt, gva, gpa, level, leaf, NULL);
}

int kmmu_pt_leaf_table(const struct kmmu_pt *pt, uint64_t gva, uint64_t *table_gpa)
{
	uint64_t t = UINT64_MAX;
	int r = pt_walk(pt, gva, NULL, NULL, NULL, &t);

	if (r == -EFAULT)
		return r;
	/* Stopped above level 1: not mapped, or a 2M leaf, which has no level-1 table. */
	if (t == UINT64_MAX)
		return -ENOENT;
	*table_gpa = t;
	return 0;
}

size_t kmmu_pt_pages_for(uint64_t size)
{
	uint64_t pages = (size + KMMU_PAGE_SIZE - 1) / KMMU_PAGE_SIZE + 1;
	/* PTs, PDs, PDPTs: one per 512 of the level below, +2 for misalignment. */
	uint64_t pts = pages / 512 + 2;
	uint64_t pds = pts / 512 + 2;
	uint64_t pdpts = pds / 512 + 2;

	return pts + pds + pdpts;
}
