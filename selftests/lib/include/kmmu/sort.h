/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one qsort() comparator the runtime and the tests need: by a
 * uint64_t key at the start of each element.  It sorts arrays of uint64_t
 * (pfns) and of structs whose first member is their key (a physical range
 * by its start, a pfn with its page, a schedule by its step): C puts a
 * struct's first member at the struct's own address.
 */
#ifndef KMMU_SORT_H
#define KMMU_SORT_H

#include <stdint.h>

static inline int kmmu_cmp_u64_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#endif
