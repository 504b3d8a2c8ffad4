// SPDX-License-Identifier: GPL-2.0
/*
 * The KMMU_RMAP_LOCKED bit (ref/rmap.c) under concurrency, as in
 * ref/models/rmap_lock.pml: one writer (the mmu_lock holder) grows and
 * shrinks one rmap through the pte_list operations, always keeping it
 * the set {sptes[0], ..., sptes[n - 1]} for some n, across the inline,
 * one-descriptor and many-descriptor shapes; lockless readers take the
 * bit read-only and walk the chain.  Every walk must see exactly such a
 * prefix set (no torn chain, no entry twice, nothing outside), and under
 * ASan no freed descriptor is ever read.  Also: a reader's bit holds a
 * writer off until it is released, and an empty rmap is never locked.
 * Bounded by KMMU_CONCURRENCY_SECONDS (default 1).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include <kmmu/rmap.h>

#define NR_SPTES	64	/* > 4 descriptors of KMMU_PTE_LIST_EXT */

static uint64_t sptes[NR_SPTES];

struct shared {
	struct kmmu_rmap_head head;
	int stop;
	long walks, bad, max_seen;
	char why[128];
};

static int index_of(uint64_t *p)
{
	if (p < sptes || p >= sptes + NR_SPTES)
		return -1;
	return p - sptes;
}

static void *reader(void *arg)
{
	struct shared *sh = arg;
	struct kmmu_rmap_iterator it;
	unsigned char seen[NR_SPTES];
	uint64_t *p;

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		unsigned long val = kmmu_rmap_lock_readonly(&sh->head);
		int n = 0, max = -1, i;

		memset(seen, 0, sizeof(seen));
		kmmu_for_each_rmap_spte_val(val, &it, p) {
			i = index_of(p);
			if (i < 0 || seen[i]) {
				__atomic_add_fetch(&sh->bad, 1, __ATOMIC_RELAXED);
				break;
			}
			seen[i] = 1;
			n++;
			if (i > max)
				max = i;
		}
		/* A prefix: n entries, the largest index n - 1. */
		if (max != n - 1)
			__atomic_add_fetch(&sh->bad, 1, __ATOMIC_RELAXED);
		if (n > __atomic_load_n(&sh->max_seen, __ATOMIC_RELAXED))
			__atomic_store_n(&sh->max_seen, n, __ATOMIC_RELAXED);
		kmmu_rmap_unlock_readonly(&sh->head, val);
		__atomic_add_fetch(&sh->walks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST(readers_see_whole_chains)
{
	const char *env = getenv("KMMU_CONCURRENCY_SECONDS");
	double secs = env ? atof(env) : 1;
	struct shared sh = { 0 };
	pthread_t rd[2];
	struct timespec t0, t;
	unsigned int n = 0, seed = 1, ops = 0;
	int i;

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&rd[i], NULL, reader, &sh));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		/* Random walk of the size, biased to visit every shape. */
		bool grow = n == 0 || (n < NR_SPTES && (rand_r(&seed) % 2));

		if (grow) {
			ASSERT_EQ((int)n, kmmu_pte_list_add(&sh.head, &sptes[n]));
			n++;
		} else {
			ASSERT_EQ(0, kmmu_pte_list_remove(&sh.head, &sptes[n - 1]));
			n--;
		}
		ASSERT_EQ(n, kmmu_pte_list_count(&sh.head));
		ops++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++)
		pthread_join(rd[i], NULL);
	kmmu_pte_list_destroy(&sh.head);
	TH_LOG("%u writer ops, %ld walks, largest chain seen %ld", ops, sh.walks, sh.max_seen);
	EXPECT_EQ(0, sh.bad);
	EXPECT_GT(sh.walks, 100);
	EXPECT_EQ(0, kmmu_pte_list_desc_live());
}

struct holder {
	struct kmmu_rmap_head *head;
	int added;
};

static void *writer_add(void *arg)
{
	struct holder *h = arg;

	kmmu_pte_list_add(h->head, &sptes[1]);
	__atomic_store_n(&h->added, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST(reader_holds_writer_off)
{
	struct kmmu_rmap_head head = { 0 };
	struct holder h = { .head = &head };
	unsigned long val;
	pthread_t w;

	/* Empty: nothing to lock, nothing stored. */
	EXPECT_EQ(0, kmmu_rmap_lock_readonly(&head));
	EXPECT_EQ(0, head.val);
	kmmu_rmap_unlock_readonly(&head, 0);

	ASSERT_EQ(0, kmmu_pte_list_add(&head, &sptes[0]));
	val = kmmu_rmap_lock_readonly(&head);
	EXPECT_EQ((unsigned long)&sptes[0], val);
	EXPECT_EQ(val | KMMU_RMAP_LOCKED, head.val);
	ASSERT_EQ(0, pthread_create(&w, NULL, writer_add, &h));
	usleep(50000);
	EXPECT_EQ(0, __atomic_load_n(&h.added, __ATOMIC_ACQUIRE));
	kmmu_rmap_unlock_readonly(&head, val);
	pthread_join(w, NULL);
	EXPECT_EQ(1, h.added);
	EXPECT_EQ(2, kmmu_pte_list_count(&head));
	EXPECT_EQ(0, head.val & KMMU_RMAP_LOCKED);
	kmmu_pte_list_destroy(&head);
	EXPECT_EQ(-EINVAL, kmmu_pte_list_add(&head, (uint64_t *)((uintptr_t)&sptes[0] | 2)));
}

TEST_HARNESS_MAIN
