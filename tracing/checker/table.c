// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's hash table of inline entries (see table.h): the probing,
 * and the doubling that keeps it at most half full.
 */
#include <stdlib.h>
#include <string.h>

#include "table.h"

/* The entry of @key in @ents (@cap entries, a power of 2), or the free one it would take. */
static void *table_slot(char *ents, size_t esize, uint64_t cap, uint64_t key)
{
	uint64_t i = key * 0x9e3779b97f4a7c15ULL >> 20 & (cap - 1);
	uint64_t *k;

	for (;; i = (i + 1) & (cap - 1)) {
		k = (uint64_t *)(ents + i * esize);
		if (!*k || *k == key)
			return k;
	}
}

void *chk_table_find(const struct chk_table *t, uint64_t key)
{
	uint64_t *k;

	if (!t->cap)
		return NULL;
	k = table_slot(t->ents, t->esize, t->cap, key);
	return *k ? k : NULL;
}

void *chk_table_get(struct chk_table *t, uint64_t key)
{
	uint64_t *k;

	if (t->nr * 2 >= t->cap) {
		uint64_t cap = t->cap ? t->cap * 2 : 256;
		char *n = calloc(cap, t->esize);

		if (!n)
			return NULL;
		for (uint64_t i = 0; i < t->cap; i++) {
			k = (uint64_t *)(t->ents + i * t->esize);
			if (*k)
				memcpy(table_slot(n, t->esize, cap, *k), k, t->esize);
		}
		free(t->ents);
		t->ents = n;
		t->cap = cap;
	}
	k = table_slot(t->ents, t->esize, t->cap, key);
	if (!*k) {
		*k = key;
		t->nr++;
	}
	return k;
}

void chk_table_free(struct chk_table *t)
{
	free(t->ents);
	t->ents = NULL;
	t->nr = 0;
	t->cap = 0;
}
