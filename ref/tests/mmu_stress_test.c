// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress of the reference MMU's lockless protocols: for a
 * bounded time, N threads of each kind (--threads N, default 1) play
 *   hw          the CPU's page walker: lockless walks from the vCPU roots,
 *               Accessed/Dirty set with atomic RMWs (kmmu_hw_access)
 *   fault       vCPU faults: the lockless fast path (cmpxchg under RCU)
 *               first, then the slow path (host frame looked up before
 *               mmu_lock, invalidation retry under it)
 *   aging       clear_young/test_young locked and lockless, and seed 003's
 *               test_clear_young bitmap, over random hva ranges
 *   harvest     the dirty log: clears Dirty of the hottest pages
 *               (KVM_CLEAR_DIRTY_LOG with PML), now and then of the whole
 *               dirty-logged slot, or write-protects it
 *   invalidate  MMU notifier invalidate_range_start/end of random hva
 *               ranges; inside the window the host moves the pages to new
 *               frames (migration), collapses a 2M region into a new huge
 *               page (khugepaged), or changes nothing (e.g. mprotect)
 *   zap         kvm_zap_gfn_range() of random gfn ranges, a slot's SPTEs,
 *               the fast zap (mmu_valid_gen) and, rarely, everything
 *   memslots    moves, deletes/re-creates and re-flags a slot (every
 *               delete/move zaps everything: call_rcu frees the tables)
 *   audit       kmmu_mmu_audit(): rmaps and SPTEs agree, stats match
 * The host is modelled too: hva page k is backed by frame
 * PFN0 + gen[k] * NR_PFNS + k, and gen[k] only grows, inside an
 * invalidation of k; a 2M host page has one gen for its 512 pages.
 * The invariants are:
 *   - no SPTE maps a page of a range between its invalidate_range_start
 *     and _end (a fault that raced retried) -- "stale SPTE";
 *   - no SPTE maps a frame the host has replaced: after each
 *     invalidate_range_end in its range, in the audit over all memory,
 *     and for every frame the hardware or a fault reaches ("stale SPTE
 *     ... old pfn");
 *   - A/D conservation, per host frame: every Accessed or Dirty bit that
 *     the hardware turned on or a fault installed is, once the VM is
 *     destroyed, reported to the host exactly once -- a Dirty bit lost is
 *     "lost Dirty bit", an Accessed bit lost is a touched page reported
 *     old ("lost Accessed bit");
 *   - each aging call's answer is what it reported to the host: the young
 *     count of clear_young is the number of Accessed bits it reported,
 *     test_young reports none, and test_clear_young's bitmap is exactly
 *     the pages of the range that the SPTEs it reported map;
 *   - the audit holds and vm->bug stays 0 (a freed table had no parent
 *     and no vCPU: zap.c's commit checks it); with ASan, no walker ever
 *     touches a freed table.
 * The pieces: ref/tests/mmu_stress/host.c (the host and the checks),
 * threads.c (the thread kinds), this file (the run and its verdict).
 * The run is seeded (--seed or $KMMU_SEED, printed) and bounded
 * (--seconds, default $KMMU_STRESS_SECONDS or 4).  The seed fixes each
 * thread's choices, not the interleaving.  TAP output; exit 0 pass, 1
 * fail, 2 bad usage.
 *
 * Built with -DKMMU_MUTATE_IMMEDIATE_FREE, -DKMMU_MUTATE_AGING_NO_CMPXCHG,
 * -DKMMU_MUTATE_NO_FAULT_RETRY or -DKMMU_MUTATE_BITMAP_DROP (ref/ref.mk's
 * mutant targets) it must fail: ref/tests/run-mutants checks that it
 * does, and how.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include <kmmu/mmu.h>

#include "mmu_stress/stress.h"

static void vreport(struct stress *st, int stale, const char *fmt, va_list ap)
{
	char msg[512];
	bool print;

	pthread_mutex_lock(&st->lock);
	/*
	 * The first is the verdict; a few more help to see the pattern.  A
	 * stale-SPTE check prints only its first finding: it may find the
	 * same SPTE a million times before the run ends.
	 */
	if (stale >= 0)
		print = !st->stale_found[stale] && st->printed < 16;
	else
		print = st->printed < 8;
	if (print) {
		vsnprintf(msg, sizeof(msg), fmt, ap);
		if (!st->failed)
			snprintf(st->why, sizeof(st->why), "%s", msg);
		printf("# FAIL: %s\n", msg);
		st->printed++;
	}
	if (stale >= 0)
		st->stale_found[stale]++;
	st->failed++;
	pthread_mutex_unlock(&st->lock);
}

void fail(struct stress *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(st, -1, fmt, ap);
	va_end(ap);
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELEASE);
}

/*
 * A stale SPTE leaves the MMU's structures intact, so the run goes on for
 * STALE_GRACE_MS: long enough for the other stale-SPTE checks to say what
 * they see of it (did an old frame outlive invalidate_range_end, did the
 * hardware reach it?), which tells a protocol slip from the harm it does.
 */
void fail_stale(struct stress *st, enum stale_check c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(st, c, fmt, ap);
	va_end(ap);
	__atomic_store_n(&st->stale, 1, __ATOMIC_RELEASE);
}

bool stopped(struct stress *st)
{
	return __atomic_load_n(&st->stop, __ATOMIC_ACQUIRE);
}

/* xorshift64*: deterministic per thread from the seed. */
uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static int setup(struct stress *st)
{
	struct kmmu_ref_vm_config cfg;
	unsigned long r;
	int ret;

	/* Every region starts as a host huge page in generation 0. */
	pthread_mutex_init(&st->host.lock, NULL);
	for (r = 0; r < NR_REGIONS; r++)
		st->host.huge[r] = 1;
	pthread_mutex_init(&st->moving.lock, NULL);
	st->moving.gpa = MOVING_GPA0;
	st->moving.present = true;

	kmmu_ref_vm_config_default(&cfg);
	cfg.nr_vcpus = st->nr_vcpus;
	cfg.pml = true;
	/* Every delete/move zaps all: whole tables go through call_rcu. */
	cfg.slot_zap_all = true;
	ret = kmmu_ref_vm_create(&st->vm, &cfg);
	if (ret)
		return ret;
	kmmu_ref_vm_set_ad_fn(st->vm, ad_hook, st);
	kmmu_ref_vm_set_hva_to_pfn_fn(st->vm, host_hva_to_pfn, st);
	ret = kmmu_ref_vm_set_memory_region(st->vm, HOT_SLOT, KMMU_MEM_LOG_DIRTY_PAGES, 0,
					    HOT_PAGES * PG, HOT_HVA);
	if (!ret)
		ret = kmmu_ref_vm_set_memory_region(st->vm, BIG_SLOT, 0, HOT_PAGES * PG,
						    BIG_PAGES * PG, BIG_HVA);
	if (!ret)
		ret = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, 0, MOVING_GPA0,
						    MOVING_PAGES * PG, MOVING_HVA);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *env = getenv("KMMU_STRESS_SECONDS");
	double seconds = env ? atof(env) : 4;
	unsigned long total[NR_KINDS][N_NR] = { { 0 } }, sum[N_NR] = { 0 };
	struct thr *thr;
	struct timespec ts;
	struct stress *st;
	unsigned int i, j, k, n = 0;
	char *endp;
	int opt, r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return 1;
	st->threads = 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	st->seed = (unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20);
	/* The suite's convention: KMMU_SEED replays, --seed overrides it. */
	if (getenv("KMMU_SEED"))
		st->seed = strtoul(getenv("KMMU_SEED"), NULL, 0);
	while ((opt = getopt_long(argc, argv, "s:t:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			st->seed = strtoul(optarg, NULL, 0);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'n':
			errno = 0;
			st->threads = strtoul(optarg, &endp, 10);
			if (errno || endp == optarg || *endp || !st->threads ||
			    st->threads > MAX_THREADS) {
				fprintf(stderr, "%s: --threads wants 1..%d per kind, not '%s'\n",
					argv[0], MAX_THREADS, optarg);
				return 2;
			}
			break;
		default:
			printf("usage: %s [--seed N] [--seconds S] [--threads N]\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (seconds <= 0 || seconds > 86400) {
		fprintf(stderr, "%s: --seconds wants (0, 86400]\n", argv[0]);
		return 2;
	}
	/* As many vCPUs as faulting threads, so that no vCPU faults against itself much. */
	st->nr_vcpus = st->threads > MIN_VCPUS ? st->threads : MIN_VCPUS;
	thr = calloc(NR_KINDS * st->threads, sizeof(*thr));
	if (!thr)
		return 1;
	pthread_mutex_init(&st->lock, NULL);
	printf("TAP version 13\n1..1\n# seed=%lu seconds=%g threads=%u per kind (rerun: %s --seed %lu --threads %u)\n",
	       st->seed, seconds, st->threads, argv[0], st->seed, st->threads);
	fflush(stdout);

	urcu_memb_register_thread();
	r = setup(st);
	if (r) {
		printf("not ok 1 mmu_stress # setup: %s\n", strerror(-r));
		return 1;
	}
	for (i = 0; i < NR_KINDS; i++) {
		for (j = 0; j < st->threads; j++) {
			thr[n].st = st;
			thr[n].kind = i;
			thr[n].fn = kinds[i].fn;
			thr[n].rng = st->seed * 0x9E3779B97F4A7C15ull + i * MAX_THREADS + j + 1;
			if (pthread_create(&thr[n].tid, NULL, thread_main, &thr[n])) {
				fail(st, "pthread_create");
				break;
			}
			n++;
		}
	}
	for (i = 0, k = 0; i < (unsigned int)(seconds * 100) && !stopped(st); i++) {
		usleep(10000);
		if (__atomic_load_n(&st->stale, __ATOMIC_ACQUIRE) && ++k > STALE_GRACE_MS / 10)
			break;
	}
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++) {
		pthread_join(thr[i].tid, NULL);
		for (k = 0; k < N_NR; k++) {
			total[thr[i].kind][k] += thr[i].n[k];
			sum[k] += thr[i].n[k];
		}
	}

	if (!st->failed) {
		char why[256];

		if (kmmu_mmu_audit(st->vm, why, sizeof(why)))
			fail(st, "final audit: %s", why);
		else
			check_pfns(st, HVA_BASE, HVA_BASE + NR_PFNS * PG, STALE_AUDIT,
				   "at the end");
	}
	if (st->vm->bug)
		fail(st, "vm->bug %d (e.g. a freed table still reachable)", st->vm->bug);
	kmmu_ref_vm_destroy(st->vm);
	urcu_memb_unregister_thread();
	/* Even after another failure: the ledger says whether bits were lost. */
	check_ledger(st);

	for (i = 0; i < NR_KINDS; i++)
		printf("# %-10s %lu ops\n", kinds[i].name, total[i][N_OPS]);
	printf("# hw hits %lu, lockless fast-path fixes %lu, fault retries %lu, 2M maps %lu, "
	       "stale checks %lu, pfn checks %lu\n", sum[N_HW_HITS], sum[N_FAST_FIXED],
	       sum[N_RETRIES], sum[N_MAPPED_2M], sum[N_STALE_CHECKS], sum[N_PFN_CHECKS]);
	printf("# aging calls checked %lu, young answers %lu, bitmap young pages %lu\n",
	       sum[N_AGE_CHECKS], sum[N_YOUNG], sum[N_BITMAP_YOUNG]);
	printf("# host pages migrated %lu, 2M collapses %lu, SPTEs zapped by gfn range %lu, "
	       "zap-alls %lu, slot moves %lu\n", sum[N_MIGRATED], sum[N_COLLAPSES],
	       sum[N_ZAPPED], sum[N_ZAP_ALL], sum[N_MOVES]);
	if (st->stale)
		printf("# stale SPTEs found: %lu inside a window, %lu after its end, "
		       "%lu by the audit, %lu reached by hw/faults\n", st->stale_found[STALE_WINDOW],
		       st->stale_found[STALE_AFTER_END], st->stale_found[STALE_AUDIT],
		       st->stale_found[STALE_REACHED]);
	free(thr);
	if (st->failed) {
		printf("not ok 1 mmu_stress # seed=%lu: %s\n", st->seed, st->why);
		return 1;
	}
	printf("ok 1 mmu_stress\n");
	free(st);
	return 0;
}
