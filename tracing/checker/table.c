// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's hash table of inline entries (see table.h): the doubling
 * that keeps it at most half full; lookups and insertion are inline.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

int chk_table_grow(struct chk_table *t)
{
	uint64_t cap = t->cap ? t->cap * 2 : 256, *k;
	char *n = calloc(cap, t->esize);

	if (!n)
		return -ENOMEM;
	for (uint64_t i = 0; i < t->cap; i++) {
		k = (uint64_t *)(t->ents + i * t->esize);
		if (*k)
			memcpy(chk_table_slot(n, t->esize, cap, *k), k, t->esize);
	}
	free(t->ents);
	t->ents = n;
	t->cap = cap;
	return 0;
}

void chk_table_free(struct chk_table *t)
{
	free(t->ents);
	t->ents = NULL;
	t->nr = 0;
	t->cap = 0;
}
