/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The checker's per-key state (leaf SPTEs, tasks): a hash table of
 * fixed-size entries stored inline, each starting with its uint64_t key,
 * 0 marking a free one.  Open addressing with linear probing; it doubles
 * when half full, so a lookup stays a probe or two, and it holds one entry
 * per key the trace names, so its memory follows what the trace holds.
 *
 * Not liburcu's rculfhash: the replay is one thread with no concurrent
 * readers, and rculfhash would cost a node allocation per key, a chain of
 * pointers per lookup, and a call_rcu worker thread to resize.
 */
#ifndef KMMU_CHECKER_TABLE_H
#define KMMU_CHECKER_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct chk_table {
	char *ents;
	size_t esize;			/* bytes per entry, its key first */
	uint64_t nr, cap;		/* cap: 0 or a power of 2 */
};

/* The entry of @key in @ents (@cap entries, a power of 2), or the free one it would take. */
static inline void *chk_table_slot(char *ents, size_t esize, uint64_t cap, uint64_t key)
{
	uint64_t i = key * 0x9e3779b97f4a7c15ULL >> 20 & (cap - 1);
	uint64_t *k;

	for (;; i = (i + 1) & (cap - 1)) {
		k = (uint64_t *)(ents + i * esize);
		if (!*k || *k == key)
			return k;
	}
}

/* The entry of @key (not 0) in @t; NULL if there is none.  Inline: the replay's hot path. */
static inline void *chk_table_find(const struct chk_table *t, uint64_t key)
{
	uint64_t *k;

	if (!t->cap)
		return NULL;
	k = chk_table_slot(t->ents, t->esize, t->cap, key);
	return *k ? k : NULL;
}

/* Doubles @t's entries (to 256 from none): 0, or -ENOMEM leaving @t as it was. */
int chk_table_grow(struct chk_table *t);

/*
 * The entry of @key (not 0) in @t, a new zeroed one if there is none;
 * NULL when out of memory.  Growing moves the entries: a pointer from an
 * earlier call is stale after this one.
 */
static inline void *chk_table_get(struct chk_table *t, uint64_t key)
{
	uint64_t *k;

	if (t->nr * 2 >= t->cap && chk_table_grow(t))
		return NULL;
	k = chk_table_slot(t->ents, t->esize, t->cap, key);
	if (!*k) {
		*k = key;
		t->nr++;
	}
	return k;
}

/* Frees the entries; @t is empty (and reusable) afterwards. */
void chk_table_free(struct chk_table *t);

#endif
