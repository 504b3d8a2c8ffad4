// SPDX-License-Identifier: GPL-2.0
/*
 * Seed 000's being_unmapped_rmap protocol (ref/rmap_2013.c, v3 as posted)
 * on real threads: in each round one memslot's invalid rmaps hold the
 * SPTEs of NR_SP shadow pages; the unmapper walks them without mmu_lock
 * while NR_REMOVERS threads zap the shadow pages under mmu_lock and free
 * each one at once.  Nothing defers the free: the protocol alone must keep
 * the unmapper off freed shadow pages, and the ASan build reports it if
 * it does not.  Rounds alternate the width of the window between reading
 * an entry and touching its SPTE (and between the remover's reset and
 * check), so the reviewer's interleaving happens often; the mutant
 * ref/mutants/rmap_2013_check_before_reset, with the same windows, must
 * die of heap-use-after-free (ref/tests/run-mutants).
 * Bounded by KMMU_2013_SECONDS (default 2, at most 25: the harness's
 * timeout is 30); KMMU_2013_WINDOW pins the window.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "kselftest_harness.h"
#include <kmmu/rmap_2013.h>

#define NR_RMAPS	16
#define NR_SP		32
#define NR_REMOVERS	2

struct round {
	struct kmmu_2013_kvm kvm;
	unsigned long rmaps[NR_RMAPS];
	struct kmmu_2013_sp *sp[NR_SP];
	pthread_barrier_t start;
	unsigned int seed;
	int removers_left;
};

struct remover {
	struct round *r;
	int id;
};

static void *unmapper(void *arg)
{
	struct round *r = arg;

	pthread_barrier_wait(&r->start);
	kmmu_2013_unmap_memslot_rmap_nolock(&r->kvm, r->rmaps, NR_RMAPS);
	return NULL;
}

static void *remover(void *arg)
{
	struct remover *rm = arg;
	struct round *r = rm->r;
	unsigned int seed = r->seed * 31 + rm->id;
	int order[NR_SP / NR_REMOVERS], n = 0, i, j, t;

	for (i = rm->id; i < NR_SP; i += NR_REMOVERS)
		order[n++] = i;
	for (i = n - 1; i > 0; i--) {
		j = rand_r(&seed) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	pthread_barrier_wait(&r->start);
	for (i = 0; i < n; i++) {
		struct kmmu_2013_sp *sp = r->sp[order[i]];

		/* kvm_mmu_prepare_zap_page + kvm_mmu_commit_zap_page */
		pthread_mutex_lock(&r->kvm.mmu_lock);
		kmmu_2013_prepare_zap_sp(&r->kvm, sp);
		kmmu_2013_free_sp(sp);
		pthread_mutex_unlock(&r->kvm.mmu_lock);
	}
	__atomic_sub_fetch(&r->removers_left, 1, __ATOMIC_RELEASE);
	return NULL;
}

#ifdef KMMU_2013_TEST_NOTIFIER
/*
 * The mmu notifier for the slot's pages, under mmu_lock: the invalid
 * rmaps' .rmap_unmap (kvm_unmap_invalid_rmapp) on random rmaps while the
 * removers and the unmapper run.  Only in the finding build
 * ref/mutants/rmap_2013_notifier: it walks entries the unmapper has not
 * reset yet although their SPTE is clear and their shadow page freed.
 */
static void *notifier(void *arg)
{
	struct round *r = arg;
	unsigned int seed = r->seed * 17;

	pthread_barrier_wait(&r->start);
	while (__atomic_load_n(&r->removers_left, __ATOMIC_ACQUIRE)) {
		/*
		 * An invalidation may hit any page of the slot at any time;
		 * aim at the one the unmapper works on, where the window is.
		 */
		unsigned long *rmapp = __atomic_load_n(&r->kvm.being_unmapped_rmap,
							  __ATOMIC_RELAXED);

		if (!rmapp)
			rmapp = &r->rmaps[rand_r(&seed) % NR_RMAPS];
		pthread_mutex_lock(&r->kvm.mmu_lock);
		kmmu_2013_unmap_invalid_rmapp(&r->kvm, rmapp);
		pthread_mutex_unlock(&r->kvm.mmu_lock);
	}
	return NULL;
}
#define NR_EXTRA	1
#else
#define NR_EXTRA	0
#endif

/* Shadow pages whose SPTEs spread over the slot's rmaps; all present. */
static int setup(struct round *r, unsigned int window_spins)
{
	int s, i;

	kmmu_2013_kvm_init(&r->kvm);
	r->kvm.window_spins = window_spins;
	for (i = 0; i < NR_RMAPS; i++)
		r->rmaps[i] = 0;
	for (s = 0; s < NR_SP; s++) {
		r->sp[s] = kmmu_2013_alloc_sp();
		if (!r->sp[s])
			return -1;
		for (i = 0; i < KMMU_2013_SPTES_PER_SP; i++) {
			unsigned long *rmapp = &r->rmaps[(s * 7 + i) % NR_RMAPS];

			r->sp[s]->spt[i] = KMMU_2013_SPTE_PRESENT |
					   ((uint64_t)(s * KMMU_2013_SPTES_PER_SP + i) << 12);
			r->sp[s]->rmaps[i] = rmapp;
			if (kmmu_2013_pte_list_add(rmapp, &r->sp[s]->spt[i]))
				return -1;
		}
	}
	return 0;
}

TEST(v3_unmapper_never_touches_freed_sp)
{
#ifndef KMMU_2013_TEST_NOTIFIER
	static const unsigned int windows[] = { 0, 100, 1000, 5000 };
#else
	/*
	 * The notifier's window needs a remover and the notifier to take
	 * mmu_lock in turn while the unmapper holds one entry: wider.
	 */
	static const unsigned int windows[] = { 1000, 50000, 100000, 200000 };
#endif
	const char *env = getenv("KMMU_2013_SECONDS");
	double secs = env ? atof(env) : 2;
	/* The harness kills a test after TEST_TIMEOUT_DEFAULT (30) seconds. */
	if (secs > 25)
		secs = 25;
	/* KMMU_2013_WINDOW=N pins the window (e.g. 0: no widening at all). */
	const char *wenv = getenv("KMMU_2013_WINDOW");
	unsigned long rounds = 0, waits = 0, bad_live = 0, bad_accessed = 0;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct round r;
		struct remover rm[NR_REMOVERS];
		pthread_t th[NR_REMOVERS + 1 + NR_EXTRA];
		int i;

		r.seed = rounds + 1;
		r.removers_left = NR_REMOVERS;
		ASSERT_EQ(0, setup(&r, wenv ? (unsigned int)atoi(wenv) : windows[rounds % 4]));
		ASSERT_EQ(0, pthread_barrier_init(&r.start, NULL, NR_REMOVERS + 1 + NR_EXTRA));
		ASSERT_EQ(0, pthread_create(&th[0], NULL, unmapper, &r));
		for (i = 0; i < NR_REMOVERS; i++) {
			rm[i].r = &r;
			rm[i].id = i;
			ASSERT_EQ(0, pthread_create(&th[i + 1], NULL, remover, &rm[i]));
		}
#ifdef KMMU_2013_TEST_NOTIFIER
		ASSERT_EQ(0, pthread_create(&th[NR_REMOVERS + 1], NULL, notifier, &r));
#endif
		for (i = 0; i < NR_REMOVERS + 1 + NR_EXTRA; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&r.start);

		/*
		 * Whoever cleared a present SPTE reset its entry: no rmap
		 * may still point into a (now freed) shadow page, and every
		 * SPTE was reported accessed at least once (twice when the
		 * unmapper and a remover both read it present).
		 */
		for (i = 0; i < NR_RMAPS; i++) {
			if (kmmu_2013_pte_list_live(&r.rmaps[i]))
				bad_live++;
			kmmu_2013_pte_list_destroy(&r.rmaps[i]);
		}
		if (r.kvm.pfn_accessed < NR_SP * KMMU_2013_SPTES_PER_SP)
			bad_accessed++;
		waits += r.kvm.sync_waits;
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	TH_LOG("%lu rounds of %d shadow pages, %lu removals waited on being_unmapped_rmap",
	       rounds, NR_SP, waits);
	EXPECT_EQ(0, bad_live);
	EXPECT_EQ(0, bad_accessed);
	EXPECT_GT(rounds, 10);
}

/* The notifier path, alone: every SPTE cleared, every entry reset. */
TEST(notifier_unmaps_invalid_rmap)
{
	struct kmmu_2013_kvm kvm;
	unsigned long rmap = 0;
	struct kmmu_2013_sp *sp = kmmu_2013_alloc_sp();
	int i;

	ASSERT_NE(NULL, sp);
	kmmu_2013_kvm_init(&kvm);
	for (i = 0; i < KMMU_2013_SPTES_PER_SP; i++) {
		sp->spt[i] = KMMU_2013_SPTE_PRESENT | ((uint64_t)i << 12);
		sp->rmaps[i] = &rmap;
		ASSERT_EQ(0, kmmu_2013_pte_list_add(&rmap, &sp->spt[i]));
	}
	EXPECT_EQ(-EINVAL, kmmu_2013_pte_list_add(&rmap, KMMU_2013_SPTE_SKIP));
	EXPECT_EQ(KMMU_2013_SPTES_PER_SP, kmmu_2013_pte_list_live(&rmap));
	pthread_mutex_lock(&kvm.mmu_lock);
	EXPECT_EQ(1, kmmu_2013_unmap_invalid_rmapp(&kvm, &rmap));
	EXPECT_EQ(0, kmmu_2013_unmap_invalid_rmapp(&kvm, &rmap));
	pthread_mutex_unlock(&kvm.mmu_lock);
	EXPECT_EQ(0, kmmu_2013_pte_list_live(&rmap));
	EXPECT_EQ(KMMU_2013_SPTES_PER_SP, kvm.pfn_accessed);
	for (i = 0; i < KMMU_2013_SPTES_PER_SP; i++)
		EXPECT_EQ(0, sp->spt[i]);
	/* Nothing left to drop: zapping the page touches no rmap. */
	kmmu_2013_prepare_zap_sp(&kvm, sp);
	EXPECT_EQ(KMMU_2013_SPTES_PER_SP, kvm.pfn_accessed);
	kmmu_2013_free_sp(sp);
	kmmu_2013_pte_list_destroy(&rmap);
}

TEST_HARNESS_MAIN
