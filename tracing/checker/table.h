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

/* The entry of @key (not 0) in @t; NULL if there is none. */
void *chk_table_find(const struct chk_table *t, uint64_t key);

/*
 * The entry of @key (not 0) in @t, a new zeroed one if there is none;
 * NULL when out of memory.  Growing moves the entries: a pointer from an
 * earlier call is stale after this one.
 */
void *chk_table_get(struct chk_table *t, uint64_t key);

/* Frees the entries; @t is empty (and reusable) afterwards. */
void chk_table_free(struct chk_table *t);

#endif
