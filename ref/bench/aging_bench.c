// SPDX-License-Identifier: GPL-2.0
/*
 * Aging and read-side microbenchmark of the reference MMU's lockless
 * protocols.
 *
 *  aging_throughput  GiB of guest memory aged per second: a 1 GiB slot,
 *                    fully mapped with 4K SPTEs, is aged with
 *                    clear_young over 2 MiB hva chunks -- locked
 *                    (mmu_lock for write), lockless (RCU + rmap lock bit +
 *                    cmpxchg) and seed 003's test_clear_young bitmap --
 *                    by 1 and 2 threads (each its own half), while one
 *                    thread keeps faulting: it invalidates and re-faults
 *                    a 64-page range and sets Accessed bits through the
 *                    simulated hardware, so that aging finds young pages
 *                    and competes for mmu_lock as it would with vCPUs;
 *                    its fault rate during each run is recorded too
 *                    (aging_fault_rate), the other side of the trade.
 *  lookup_throughput Read-side lookups per second while memslots churn
 *                    (one thread deletes and re-creates a slot,
 *                    --churn-hz times a second, default 10000):
 *                    gfn->memslot under urcu-memb (the fault path's
 *                    SRCU side) and kmmu_lookup_spte() under mmu_lock
 *                    for read, by 1 and 2 threads.  The churn is paced:
 *                    unpaced, the updater retakes mmu_lock for write the
 *                    moment it drops it, and a glibc rwlock (no hand-off,
 *                    unlike the kernel's queued rwlock) then starves a
 *                    lone reader -- the number would measure the
 *                    scheduler, not the lookup.  The updates done are
 *                    recorded (lookup_churn_rate) so that a run that
 *                    could not keep the pace says so.
 *
 * --samples N of --duration-ms each (default 5 x 300).  Prints a table and
 * writes the result file (--result FILE or $KMMU_RESULT).  Never asserts
 * on time; exits 1 only if the reference reports an error.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-memb.h>

#include <kmmu/clock.h>
#include <kmmu/aging.h>
#include <kmmu/mmu.h>
#include <kmmu/notifier.h>
#include <kmmu/host_probe.h>
#include <kmmu/result.h>

#include "bench_args.h"

#define PG		KMMU_PAGE_SIZE
#define HVA_BASE	0x7f0000000000ul
#define GUEST_PAGES	(1ul << 18)	/* 1 GiB */
#define CHUNK_PAGES	512ul		/* one clear_young call: 2 MiB */
#define CHURN_SLOT	1
#define CHURN_GPA	(4ul << 30)
#define CHURN_HVA	(HVA_BASE + (2ul << 30))
#define MAX_THREADS	2

enum bench_impl { IMPL_LOCKED, IMPL_LOCKLESS, IMPL_BITMAP, IMPL_NR };
static const char *const impl_names[IMPL_NR] = { "locked", "lockless", "bitmap" };

struct bench {
	struct kmmu_ref_vm *vm;
	int stop_bg;
	long errors;
	unsigned long bg_faults;
	long churn_hz;			/* memslot updates per second, 0: unpaced */
	unsigned long churn_updates;
};

struct worker {
	struct bench *b;
	pthread_t tid;
	int impl;
	unsigned long first, npages;	/* aging: the pages this worker ages */
	double seconds;
	double done;			/* bytes aged or lookups */
	uint64_t seed;
	bool spte_lookup;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* The faulting thread: invalidate and re-fault 64 pages, touch pages. */
static void *background(void *arg)
{
	struct bench *b = arg;
	uint64_t seed = 42, set, pfn;
	struct kmmu_fault f;
	int level, i;

	urcu_memb_register_thread();
	while (!__atomic_load_n(&b->stop_bg, __ATOMIC_ACQUIRE)) {
		unsigned long first = rnd(&seed) % (GUEST_PAGES - 64);

		if (kmmu_mmu_notifier_invalidate_range_start(b->vm, HVA_BASE + first * PG,
							     HVA_BASE + (first + 64) * PG) ||
		    kmmu_mmu_notifier_invalidate_range_end(b->vm, HVA_BASE + first * PG,
							   HVA_BASE + (first + 64) * PG))
			__atomic_add_fetch(&b->errors, 1, __ATOMIC_RELAXED);
		for (i = 0; i < 64; i++) {
			if (kmmu_page_fault(b->vm, 0, 0, first + i, KMMU_PFERR_WRITE_MASK, &f))
				__atomic_add_fetch(&b->errors, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&b->bg_faults, 1, __ATOMIC_RELAXED);
		}
		for (i = 0; i < 1024; i++)
			kmmu_hw_access(b->vm, 0, 0, rnd(&seed) % GUEST_PAGES, false, &set, &pfn,
				       &level);
	}
	urcu_memb_unregister_thread();
	return NULL;
}

static void *age_worker(void *arg)
{
	unsigned long bitmap[CHUNK_PAGES / (8 * sizeof(unsigned long))];
	struct worker *w = arg;
	unsigned long off = 0;
	double t0, bytes = 0;
	long r;

	urcu_memb_register_thread();
	t0 = kmmu_now();
	while (kmmu_now() - t0 < w->seconds) {
		unsigned long start = HVA_BASE + (w->first + off) * PG;
		unsigned long end = start + CHUNK_PAGES * PG;

		switch (w->impl) {
		case IMPL_LOCKED:
			r = kmmu_mmu_notifier_clear_young(w->b->vm, start, end, KMMU_AGING_LOCKED);
			break;
		case IMPL_LOCKLESS:
			r = kmmu_mmu_notifier_clear_young(w->b->vm, start, end,
							  KMMU_AGING_LOCKLESS);
			break;
		default:
			memset(bitmap, 0, sizeof(bitmap));
			r = kmmu_test_clear_young(w->b->vm, start, end, bitmap);
			break;
		}
		if (r < 0)
			__atomic_add_fetch(&w->b->errors, 1, __ATOMIC_RELAXED);
		bytes += CHUNK_PAGES * PG;
		off = (off + CHUNK_PAGES) % w->npages;
	}
	w->done = bytes / (kmmu_now() - t0);
	urcu_memb_unregister_thread();
	return NULL;
}

static void *lookup_worker(void *arg)
{
	struct worker *w = arg;
	double t0, n = 0;
	int i, level;

	urcu_memb_register_thread();
	t0 = kmmu_now();
	while (kmmu_now() - t0 < w->seconds) {
		if (w->spte_lookup) {
			for (i = 0; i < 64; i++)
				kmmu_lookup_spte(w->b->vm, 0, 0, rnd(&w->seed) % GUEST_PAGES,
						 &level);
		} else {
			urcu_memb_read_lock();
			for (i = 0; i < 64; i++) {
				struct kmmu_memslots *slots =
					kmmu_memslots_active(w->b->vm->memslots, 0);

				if (!kmmu_gfn_to_memslot(slots, rnd(&w->seed) % GUEST_PAGES))
					__atomic_add_fetch(&w->b->errors, 1, __ATOMIC_RELAXED);
			}
			urcu_memb_read_unlock();
		}
		n += 64;
	}
	w->done = n / (kmmu_now() - t0);
	urcu_memb_unregister_thread();
	return NULL;
}

static void timespec_add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static void *churn(void *arg)
{
	struct bench *b = arg;
	bool present = false;
	struct timespec next;

	urcu_memb_register_thread();
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!__atomic_load_n(&b->stop_bg, __ATOMIC_ACQUIRE)) {
		if (kmmu_ref_vm_set_memory_region(b->vm, CHURN_SLOT, 0, CHURN_GPA,
						  present ? 0 : 64 * PG, CHURN_HVA))
			__atomic_add_fetch(&b->errors, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&b->churn_updates, 1, __ATOMIC_RELAXED);
		present = !present;
		if (!b->churn_hz)
			continue;
		/* An absolute deadline: a late update does not slow the pace. */
		timespec_add_ns(&next, 1000000000L / b->churn_hz);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	urcu_memb_unregister_thread();
	return NULL;
}

/* One sample: @nthreads workers for @seconds; returns the sum of their rates. */
static double run_sample(struct bench *b, void *(*fn)(void *), int impl, bool spte_lookup,
			 int nthreads, double seconds)
{
	struct worker w[MAX_THREADS];
	double sum = 0;
	int i;

	for (i = 0; i < nthreads; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].b = b;
		w[i].impl = impl;
		w[i].npages = GUEST_PAGES / nthreads;
		w[i].first = i * w[i].npages;
		w[i].seconds = seconds;
		w[i].seed = 1234567 + i;
		w[i].spte_lookup = spte_lookup;
		if (pthread_create(&w[i].tid, NULL, fn, &w[i])) {
			b->errors++;
			nthreads = i;
			break;
		}
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		sum += w[i].done;
	}
	return sum;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [--samples N] [--duration-ms MS] [--churn-hz N] [--result FILE] [-h]\n"
		"  aging GiB/s (locked, lockless, bitmap; 1 and 2 threads) with a faulting\n"
		"  thread, and read-side lookups/s while memslots churn N times a second\n"
		"  (0: as fast as they can); N samples of MS each (default 5, 300; 10000)\n",
		prog);
}

static int setup(struct bench *b)
{
	struct kmmu_ref_vm_config cfg;
	struct kmmu_fault f;
	unsigned long g;
	int r;

	kmmu_ref_vm_config_default(&cfg);
	/* 4K SPTEs: the rmaps aging walks are per page, as with THP off. */
	cfg.host_huge_pages = false;
	r = kmmu_ref_vm_create(&b->vm, &cfg);
	if (r)
		return r;
	r = kmmu_ref_vm_set_memory_region(b->vm, 0, 0, 0, GUEST_PAGES * PG, HVA_BASE);
	for (g = 0; !r && g < GUEST_PAGES; g++)
		r = kmmu_page_fault(b->vm, 0, 0, g, KMMU_PFERR_WRITE_MASK, &f);
	return r;
}

int main(int argc, char **argv)
{
	long samples = 5, duration_ms = 300;
	const char *result_path = NULL;
	struct kmmu_result *res;
	struct bench b = { .churn_hz = 10000 };
	pthread_t bg;
	double *v, *fr, *cr;
	int r, rc = 0, impl, nt, kind;
	const struct bench_int_option opts[] = {
		{ "samples", 's', &samples, 1, 1000 },
		{ "duration-ms", 'd', &duration_ms, 10, 60000 },
		{ "churn-hz", 'c', &b.churn_hz, 0, 1000000 },
	};

	bench_parse_options(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), &result_path, usage);
	res = kmmu_result_new("aging_bench");
	v = calloc(samples, sizeof(double));
	fr = calloc(samples, sizeof(double));
	cr = calloc(samples, sizeof(double));
	if (!res || !v || !fr || !cr) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	bench_print_host("aging_bench", res);
	printf("# %ld samples x %ld ms; 1 GiB guest, 4K SPTEs; median (cv)\n", samples,
	       duration_ms);

	urcu_memb_register_thread();
	r = setup(&b);
	if (r) {
		fprintf(stderr, "%s: setup: %s\n", argv[0], strerror(-r));
		return 1;
	}

	printf("%-10s %8s %16s %22s\n", "aging", "threads", "GiB/s", "faulting thread Mf/s");
	if (pthread_create(&bg, NULL, background, &b)) {
		fprintf(stderr, "%s: pthread_create failed\n", argv[0]);
		return 1;
	}
	for (impl = 0; impl < IMPL_NR; impl++) {
		for (nt = 1; nt <= MAX_THREADS; nt++) {
			for (long i = 0; i < samples; i++) {
				unsigned long f0 = __atomic_load_n(&b.bg_faults, __ATOMIC_RELAXED);
				double t0 = kmmu_now();

				v[i] = run_sample(&b, age_worker, impl, false, nt,
						  duration_ms / 1e3) / (1ul << 30);
				fr[i] = (__atomic_load_n(&b.bg_faults, __ATOMIC_RELAXED) - f0) /
					(kmmu_now() - t0) / 1e6;
			}
			printf("%-10s %8d %9.2f (%4.1f%%) %15.2f (%4.1f%%)\n", impl_names[impl], nt,
			       kmmu_median(v, samples), 100 * kmmu_cv(v, samples),
			       kmmu_median(fr, samples), 100 * kmmu_cv(fr, samples));
			fflush(stdout);
			kmmu_result_param_reset(res);
			kmmu_result_param_str(res, "impl", impl_names[impl]);
			kmmu_result_param_int(res, "threads", nt);
			kmmu_result_param_int(res, "guest_mib", GUEST_PAGES * PG >> 20);
			kmmu_result_metric(res, "aging_throughput", "GiB/s", KMMU_HIGHER_IS_BETTER,
					   v, samples);
			/* What the aging cost the vCPU: the other side of the trade. */
			kmmu_result_metric(res, "aging_fault_rate", "Mfaults/s",
					   KMMU_HIGHER_IS_BETTER, fr, samples);
		}
	}
	__atomic_store_n(&b.stop_bg, 1, __ATOMIC_RELEASE);
	pthread_join(bg, NULL);
	printf("# faulting thread: %lu faults\n", b.bg_faults);

	b.stop_bg = 0;
	printf("%-10s %8s %16s %22s\n", "lookup", "threads", "Mlookups/s",
	       "memslot updates/s");
	if (pthread_create(&bg, NULL, churn, &b)) {
		fprintf(stderr, "%s: pthread_create failed\n", argv[0]);
		return 1;
	}
	for (kind = 0; kind < 2; kind++) {
		const char *name = kind ? "spte_rwlock" : "memslot_rcu";

		for (nt = 1; nt <= MAX_THREADS; nt++) {
			for (long i = 0; i < samples; i++) {
				unsigned long u0 = __atomic_load_n(&b.churn_updates,
								   __ATOMIC_RELAXED);
				double t0 = kmmu_now();

				v[i] = run_sample(&b, lookup_worker, 0, kind, nt,
						  duration_ms / 1e3) / 1e6;
				cr[i] = (__atomic_load_n(&b.churn_updates, __ATOMIC_RELAXED) - u0) /
					(kmmu_now() - t0);
			}
			printf("%-12s %6d %9.2f (%4.1f%%) %15.0f (%4.1f%%)\n", name, nt,
			       kmmu_median(v, samples), 100 * kmmu_cv(v, samples),
			       kmmu_median(cr, samples), 100 * kmmu_cv(cr, samples));
			fflush(stdout);
			kmmu_result_param_reset(res);
			kmmu_result_param_str(res, "impl", name);
			kmmu_result_param_int(res, "threads", nt);
			kmmu_result_param_int(res, "churn_hz", b.churn_hz);
			kmmu_result_metric(res, "lookup_throughput", "Mlookups/s",
					   KMMU_HIGHER_IS_BETTER, v, samples);
			/* The pace the updater kept: below churn_hz, it could not. */
			kmmu_result_metric(res, "lookup_churn_rate", "updates/s",
					   KMMU_HIGHER_IS_BETTER, cr, samples);
		}
	}
	__atomic_store_n(&b.stop_bg, 1, __ATOMIC_RELEASE);
	pthread_join(bg, NULL);

	if (b.errors || b.vm->bug) {
		fprintf(stderr, "%s: %ld errors, vm->bug %d\n", argv[0], b.errors, b.vm->bug);
		rc = 1;
	}
	kmmu_ref_vm_destroy(b.vm);
	rc |= bench_finish_result(argv[0], res, result_path);
	free(v);
	free(fr);
	free(cr);
	urcu_memb_unregister_thread();
	return rc;
}
