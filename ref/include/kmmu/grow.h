/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Arrays that grow by doubling, the one way the suite appends to a list
 * of unknown length (trace logs, replay tables, captured records).
 */
#ifndef KMMU_GROW_H
#define KMMU_GROW_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline int __kmmu_grow(void **items, uint64_t *cap, uint64_t nr, uint64_t more,
			      size_t esize, uint64_t first)
{
	uint64_t want = nr + more, n = *cap ? *cap : first;
	void *p;

	if (want < nr)
		return -ENOMEM;
	if (want <= *cap)
		return 0;
	while (n < want) {
		if (n > UINT64_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	if (n > SIZE_MAX / esize)
		return -ENOMEM;
	p = realloc(*items, n * esize);
	if (!p)
		return -ENOMEM;
	*items = p;
	*cap = n;
	return 0;
}

/*
 * Makes room for @nr + @more elements in the array *@arrp (any pointer
 * type), whose room is *@capp (a uint64_t) elements: doubles it, from
 * @first when empty, until they fit.  0, or -ENOMEM (also when the size
 * would overflow) with the array and its room as they were.
 */
#define kmmu_grow(arrp, capp, nr, more, first) ({				\
	void *__kmmu_grow_p = *(arrp);						\
	int __kmmu_grow_ret = __kmmu_grow(&__kmmu_grow_p, (capp), (nr), (more),	\
					  sizeof(**(arrp)), (first));		\
	*(arrp) = __kmmu_grow_p;						\
	__kmmu_grow_ret;							\
})

#endif
