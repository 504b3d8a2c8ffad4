// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress of the reference MMU's lockless protocols: for a
 * bounded time, threads play
 *   hw          the CPU's page walker: lockless walks from the vCPU roots,
 *               Accessed/Dirty set with atomic RMWs (kmmu_hw_access)
 *   fault       vCPU faults: the lockless fast path (cmpxchg under RCU)
 *               first, then the slow path (mmu_lock for write,
 *               invalidation retry)
 *   aging       clear_young/test_young locked and lockless, and seed 003's
 *               test_clear_young bitmap, over random hva ranges
 *   harvest     the dirty log: clears Dirty of the hottest pages
 *               (KVM_CLEAR_DIRTY_LOG with PML), now and then of the whole
 *               dirty-logged slot, or write-protects it
 *   invalidate  MMU notifier invalidate_range_start/end of random hva
 *               ranges; inside the window it counts the SPTEs left
 *   memslots    moves, deletes/re-creates and re-flags a slot (every
 *               delete/move zaps everything: call_rcu frees the tables)
 *   audit       kmmu_mmu_audit(): rmaps and SPTEs agree, stats match
 * and the invariants are:
 *   - no SPTE maps a page of a range between its invalidate_range_start
 *     and _end (a fault that raced retried) -- "stale SPTE";
 *   - A/D conservation, per host frame: every Accessed or Dirty bit that
 *     the hardware turned on or a fault installed is, once the VM is
 *     destroyed, reported to the host exactly once -- a Dirty bit lost is
 *     "lost Dirty bit", an Accessed bit lost is a touched page reported
 *     old ("lost Accessed bit");
 *   - the audit holds and vm->bug stays 0 (a freed table had no parent
 *     and no vCPU: zap.c's commit checks it); with ASan, no walker ever
 *     touches a freed table.
 * The run is seeded (--seed or $KMMU_SEED, printed) and bounded
 * (--seconds, default $KMMU_STRESS_SECONDS or 4).  The seed fixes each
 * thread's choices, not the interleaving.  TAP output; exit 0 pass, 1 fail.
 *
 * Built with -DKMMU_MUTATE_IMMEDIATE_FREE, -DKMMU_MUTATE_AGING_NO_CMPXCHG or
 * -DKMMU_MUTATE_NO_FAULT_RETRY
 * (ref/ref.mk's mutant targets) it must fail: ref/tests/run-mutants checks
 * that it does, and how.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include <kmmu/aging.h>
#include <kmmu/mmu.h>
#include <kmmu/notifier.h>
#include <kmmu/table_free.h>
#include <kmmu/zap.h>

#define PG		KMMU_PAGE_SIZE
#define HVA_BASE	0x7f0000000000ul	/* 2M aligned */
#define NR_PFNS		4096ul			/* 16 MiB of host memory */
#define HOT_SLOT	0	/* gpa 0, 2 MiB, dirty logged, harvested */
#define BIG_SLOT	1	/* gpa 2M, 8 MiB, huge pages */
#define MOVING_SLOT	2	/* 2 MiB, moved/deleted/re-flagged */
#define HOT_PAGES	512ul
#define BIG_PAGES	2048ul
#define MOVING_PAGES	512ul
#define HOTTEST		16ul
#define HOT_HVA		HVA_BASE
#define BIG_HVA		(HVA_BASE + HOT_PAGES * PG)
#define MOVING_HVA	(HVA_BASE + (HOT_PAGES + BIG_PAGES) * PG)
#define MOVING_GPA0	(16ul << 20)
#define MOVING_GPA1	(32ul << 20)
#define GFN_SPAN	((MOVING_GPA1 >> 12) + MOVING_PAGES + 64)
#define NR_VCPUS	2

enum { C_HW_A, C_HW_D, C_INST_A, C_INST_D, C_REP_A, C_REP_D, C_NR };

struct stress {
	struct kmmu_ref_vm *vm;
	unsigned long seed;
	int stop;
	int failed;
	pthread_mutex_t lock;
	char why[512];
	/* Per host frame: the A/D ledger. */
	unsigned long ad[C_NR][NR_PFNS];
	/* Per thread kind: operations done. */
	unsigned long ops[8];
	unsigned long fast_fixed, retries, stale_checks, young, bitmap_young, hw_hits, moves;
};

static void fail(struct stress *st, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&st->lock);
	/* The first is the verdict; a few more help to see the pattern. */
	if (st->failed < 8) {
		char msg[512];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (!st->failed)
			snprintf(st->why, sizeof(st->why), "%s", msg);
		printf("# FAIL: %s\n", msg);
	}
	st->failed++;
	pthread_mutex_unlock(&st->lock);
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELEASE);
}

static bool stopped(struct stress *st)
{
	return __atomic_load_n(&st->stop, __ATOMIC_ACQUIRE);
}

/* xorshift64*: deterministic per thread from the seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static void ad_hook(void *ctx, uint64_t pfn, int level, uint64_t bits, bool installed)
{
	struct stress *st = ctx;
	uint64_t k = pfn - (HVA_BASE >> KMMU_PAGE_SHIFT);

	if (k >= NR_PFNS) {
		fail(st, "A/D reported for pfn %#" PRIx64 " outside the host range", pfn);
		return;
	}
	if (bits & KMMU_PT_ACCESSED_MASK)
		__atomic_add_fetch(&st->ad[installed ? C_INST_A : C_REP_A][k], 1, __ATOMIC_RELAXED);
	if (bits & KMMU_PT_DIRTY_MASK)
		__atomic_add_fetch(&st->ad[installed ? C_INST_D : C_REP_D][k], 1, __ATOMIC_RELAXED);
}

/*
 * Mostly the hot slot, a quarter of the time its first HOTTEST pages, so
 * that the hardware, aging and the harvest collide on the same SPTEs.
 */
static gfn_t pick_gfn(uint64_t *s)
{
	uint64_t r = rnd(s);

	switch (r % 8) {
	case 0: case 1:
		return (r >> 8) % HOTTEST;
	case 2: case 3:
		return (r >> 8) % HOT_PAGES;
	case 4: case 5:
		return HOT_PAGES + (r >> 8) % BIG_PAGES;
	case 6:
		return ((r & 64) ? MOVING_GPA1 : MOVING_GPA0) / PG + (r >> 8) % MOVING_PAGES;
	default:
		return (r >> 8) % GFN_SPAN;
	}
}

/* A random page-aligned hva range of 1..64 pages inside the host range. */
static void pick_hva_range(uint64_t *s, unsigned long *start, unsigned long *end)
{
	uint64_t r = rnd(s);
	unsigned long n = 1 + (r % 64), first = (r >> 8) % (NR_PFNS - n);

	/* Mostly where the hot slot is, often exactly its hottest pages. */
	if ((r >> 40) % 4 == 0) {
		*start = HVA_BASE;
		*end = HVA_BASE + HOTTEST * PG;
		return;
	}
	if (r & (1ull << 50))
		first %= HOT_PAGES;
	*start = HVA_BASE + first * PG;
	*end = *start + n * PG;
}

struct thr {
	struct stress *st;
	int idx;
	void *(*fn)(struct thr *t);
	uint64_t rng;
	pthread_t tid;
};

static void *hw_thread(struct thr *t)
{
	struct stress *st = t->st;
	unsigned long n = 0;

	while (!stopped(st)) {
		uint64_t set, pfn, k, r = rnd(&t->rng);
		int level;

		if (kmmu_hw_access(st->vm, r % NR_VCPUS, 0, pick_gfn(&t->rng), (r >> 4) & 1,
				   &set, &pfn, &level) == 1) {
			st->hw_hits++;
			k = pfn - (HVA_BASE >> KMMU_PAGE_SHIFT);
			if (k >= NR_PFNS) {
				fail(st, "hw: SPTE maps pfn %#" PRIx64 " outside the host range", pfn);
				break;
			}
			if (set & KMMU_PT_ACCESSED_MASK)
				__atomic_add_fetch(&st->ad[C_HW_A][k], 1, __ATOMIC_RELAXED);
			if (set & KMMU_PT_DIRTY_MASK)
				__atomic_add_fetch(&st->ad[C_HW_D][k], 1, __ATOMIC_RELAXED);
		}
		n++;
	}
	__atomic_add_fetch(&st->ops[t->idx], n, __ATOMIC_RELAXED);
	return NULL;
}

static void *fault_thread(struct thr *t)
{
	struct stress *st = t->st;
	unsigned long n = 0;
	struct kmmu_fault f;
	int r;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);

		gfn_t gfn = pick_gfn(&t->rng);
		uint32_t ec = (x & 16) ? KMMU_PFERR_WRITE_MASK : 0;

		/* kvm_mmu_page_fault(): the lockless fast path first. */
		r = kmmu_fast_page_fault(st->vm, x % NR_VCPUS, 0, gfn, ec, &f);
		if (!r)
			st->fast_fixed += f.result == KMMU_FAULT_FIXED;
		if (r == -EAGAIN)
			r = kmmu_page_fault(st->vm, x % NR_VCPUS, 0, gfn, ec, &f);
		if (r) {
			fail(st, "fault: %s", strerror(-r));
			break;
		}
		if (f.result == KMMU_FAULT_RETRY)
			st->retries++;
		n++;
	}
	st->ops[t->idx] += n;
	return NULL;
}

static void *aging_thread(struct thr *t)
{
	unsigned long bitmap[64 / (8 * sizeof(unsigned long)) + 1];
	struct stress *st = t->st;
	unsigned long n = 0, start, end;
	long r;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);

		pick_hva_range(&t->rng, &start, &end);
		switch (x % 5) {
		case 0:
			r = kmmu_mmu_notifier_clear_young(st->vm, start, end, KMMU_AGING_LOCKED);
			break;
		case 1:
		case 2:
			r = kmmu_mmu_notifier_clear_young(st->vm, start, end, KMMU_AGING_LOCKLESS);
			break;
		case 3:
			r = kmmu_mmu_notifier_test_young(st->vm, start, end,
							 (x >> 8) & 1 ? KMMU_AGING_LOCKLESS :
									KMMU_AGING_LOCKED);
			break;
		default:
			memset(bitmap, 0, sizeof(bitmap));
			r = kmmu_test_clear_young(st->vm, start, end, bitmap);
			if (r > (long)((end - start) / PG))
				fail(st, "test_clear_young: %ld young pages in %lu", r,
				     (end - start) / PG);
			if (r > 0)
				st->bitmap_young += r;
			break;
		}
		if (r < 0) {
			fail(st, "aging: %s", strerror((int)-r));
			break;
		}
		st->young += r > 0;
		n++;
	}
	st->ops[t->idx] += n;
	return NULL;
}

static void *harvest_thread(struct thr *t)
{
	struct stress *st = t->st;
	struct kmmu_memory_slot *slot;
	unsigned long n = 0;
	int r;

	while (!stopped(st)) {
		urcu_memb_read_lock();
		slot = kmmu_id_to_memslot(kmmu_memslots_active(st->vm->memslots, 0), HOT_SLOT);
		/*
		 * Both ways of harvesting the dirty log: clear Dirty (PML) or
		 * write-protect (the lockless fast path makes it writable).
		 */
		if (!slot)
			r = -ENOENT;
		else if (n % 8 == 1)
			r = kmmu_mmu_slot_remove_write_access(st->vm, slot, KMMU_PG_LEVEL_4K);
		else if (n % 8 == 5)
			r = kmmu_mmu_slot_leaf_clear_dirty(st->vm, slot);
		else	/* KVM_CLEAR_DIRTY_LOG of the hottest pages: many Dirty 0->1 */
			r = kmmu_mmu_clear_dirty_gfn_range(st->vm, slot, 0, HOTTEST);
		urcu_memb_read_unlock();
		if (r) {
			fail(st, "clear dirty: %s", strerror(-r));
			break;
		}
		n++;
		usleep(20);
	}
	st->ops[t->idx] += n;
	return NULL;
}

static void *invalidate_thread(struct thr *t)
{
	struct stress *st = t->st;
	unsigned long n = 0, start, end;
	long mapped;
	int r;

	while (!stopped(st)) {
		pick_hva_range(&t->rng, &start, &end);
		r = kmmu_mmu_notifier_invalidate_range_start(st->vm, start, end);
		if (r) {
			fail(st, "invalidate_range_start: %s", strerror(-r));
			break;
		}
		/* Let faults race with the open window. */
		if (rnd(&t->rng) & 1)
			sched_yield();
		mapped = kmmu_mmu_hva_range_mapped(st->vm, start, end);
		st->stale_checks++;
		if (mapped)
			fail(st, "stale SPTE: %ld SPTEs map hva [%#lx, %#lx) inside its invalidation",
			     mapped, start, end);
		r = kmmu_mmu_notifier_invalidate_range_end(st->vm, start, end);
		if (r) {
			fail(st, "invalidate_range_end: %s", strerror(-r));
			break;
		}
		n++;
		usleep(50);
	}
	st->ops[t->idx] += n;
	return NULL;
}

static void *memslot_thread(struct thr *t)
{
	struct stress *st = t->st;
	unsigned long n = 0, gpa = MOVING_GPA0;
	uint32_t flags = 0;
	bool present = true;
	int r = 0;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);

		if (!present) {
			r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, flags, gpa,
							  MOVING_PAGES * PG, MOVING_HVA);
			present = true;
		} else {
			switch (x % 3) {
			case 0:	/* MOVE */
				gpa = gpa == MOVING_GPA0 ? MOVING_GPA1 : MOVING_GPA0;
				r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, flags,
								  gpa, MOVING_PAGES * PG,
								  MOVING_HVA);
				st->moves++;
				break;
			case 1:	/* DELETE */
				r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, flags,
								  gpa, 0, MOVING_HVA);
				present = false;
				break;
			default: /* FLAGS_ONLY: dirty logging on/off */
				flags ^= KMMU_MEM_LOG_DIRTY_PAGES;
				r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, flags,
								  gpa, MOVING_PAGES * PG,
								  MOVING_HVA);
				break;
			}
		}
		if (r) {
			fail(st, "set_memory_region: %s", strerror(-r));
			break;
		}
		n++;
		usleep(500);
	}
	st->ops[t->idx] += n;
	return NULL;
}

static void *audit_thread(struct thr *t)
{
	struct stress *st = t->st;
	unsigned long n = 0;
	char why[256];

	while (!stopped(st)) {
		if (kmmu_mmu_audit(st->vm, why, sizeof(why))) {
			fail(st, "audit: %s", why);
			break;
		}
		n++;
		usleep(20000);
	}
	st->ops[t->idx] += n;
	return NULL;
}

static void *thread_main(void *arg)
{
	struct thr *t = arg;

	urcu_memb_register_thread();
	t->fn(t);
	urcu_memb_unregister_thread();
	return NULL;
}

static const struct {
	const char *name;
	void *(*fn)(struct thr *t);
} kinds[] = {
	{ "hw", hw_thread },
	{ "fault", fault_thread },
	{ "aging", aging_thread },
	{ "harvest", harvest_thread },
	{ "invalidate", invalidate_thread },
	{ "memslots", memslot_thread },
	{ "audit", audit_thread },
};
#define NR_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/*
 * After the VM is gone every bit must have come back exactly once: per
 * bit, frames that lost one, then frames that got one back twice (a bit
 * resurrected by a store over a concurrent clear).
 */
static void check_ledger(struct stress *st)
{
	unsigned long k, on, back, nr, first;
	int which, lost;

	for (lost = 1; lost >= 0; lost--) {
		for (which = 1; which >= 0; which--) {
			nr = 0;
			first = 0;
			for (k = 0; k < NR_PFNS; k++) {
				on = st->ad[which ? C_HW_D : C_HW_A][k] +
				     st->ad[which ? C_INST_D : C_INST_A][k];
				back = st->ad[which ? C_REP_D : C_REP_A][k];
				if (lost ? on > back : on < back) {
					if (!nr++)
						first = k;
				}
			}
			if (!nr)
				continue;
			k = first;
			fail(st, "%s %s bit: %lu frames, e.g. pfn %#lx: %lu set (hw %lu, fault %lu), %lu reported",
			     lost ? "lost" : "duplicated", which ? "Dirty" : "Accessed", nr,
			     (HVA_BASE >> KMMU_PAGE_SHIFT) + k,
			     st->ad[which ? C_HW_D : C_HW_A][k] + st->ad[which ? C_INST_D : C_INST_A][k],
			     st->ad[which ? C_HW_D : C_HW_A][k],
			     st->ad[which ? C_INST_D : C_INST_A][k],
			     st->ad[which ? C_REP_D : C_REP_A][k]);
		}
	}
}

static int setup(struct stress *st)
{
	struct kmmu_ref_vm_config cfg;
	int r;

	kmmu_ref_vm_config_default(&cfg);
	cfg.nr_vcpus = NR_VCPUS;
	cfg.pml = true;
	/* Every delete/move zaps all: whole tables go through call_rcu. */
	cfg.slot_zap_all = true;
	r = kmmu_ref_vm_create(&st->vm, &cfg);
	if (r)
		return r;
	kmmu_ref_vm_set_ad_fn(st->vm, ad_hook, st);
	r = kmmu_ref_vm_set_memory_region(st->vm, HOT_SLOT, KMMU_MEM_LOG_DIRTY_PAGES, 0,
					  HOT_PAGES * PG, HOT_HVA);
	if (!r)
		r = kmmu_ref_vm_set_memory_region(st->vm, BIG_SLOT, 0, HOT_PAGES * PG,
						  BIG_PAGES * PG, BIG_HVA);
	if (!r)
		r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, 0, MOVING_GPA0,
						  MOVING_PAGES * PG, MOVING_HVA);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *env = getenv("KMMU_STRESS_SECONDS");
	double seconds = env ? atof(env) : 4;
	struct thr thr[NR_KINDS + 1];
	struct timespec ts;
	struct stress *st;
	unsigned int i, n = 0;
	int opt, r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	st->seed = (unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20);
	/* The suite's convention: KMMU_SEED replays, --seed overrides it. */
	if (getenv("KMMU_SEED"))
		st->seed = strtoul(getenv("KMMU_SEED"), NULL, 0);
	while ((opt = getopt_long(argc, argv, "s:t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			st->seed = strtoul(optarg, NULL, 0);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			printf("usage: %s [--seed N] [--seconds S]\n", argv[0]);
			return opt == 'h' ? 0 : 1;
		}
	}
	if (seconds <= 0 || seconds > 86400) {
		fprintf(stderr, "%s: --seconds wants (0, 86400]\n", argv[0]);
		return 1;
	}
	pthread_mutex_init(&st->lock, NULL);
	printf("TAP version 13\n1..1\n# seed=%lu seconds=%g (rerun: %s --seed %lu)\n", st->seed,
	       seconds, argv[0], st->seed);
	fflush(stdout);

	urcu_memb_register_thread();
	r = setup(st);
	if (r) {
		printf("not ok 1 mmu_stress # setup: %s\n", strerror(-r));
		return 1;
	}
	for (i = 0; i < NR_KINDS; i++) {
		thr[n].st = st;
		thr[n].idx = i;
		thr[n].fn = kinds[i].fn;
		thr[n].rng = st->seed * 0x9E3779B97F4A7C15ull + i + 1;
		if (pthread_create(&thr[n].tid, NULL, thread_main, &thr[n])) {
			fail(st, "pthread_create");
			break;
		}
		n++;
	}
	for (i = 0; i < (unsigned int)(seconds * 100) && !stopped(st); i++)
		usleep(10000);
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++)
		pthread_join(thr[i].tid, NULL);

	if (!st->failed) {
		char why[256];

		if (kmmu_mmu_audit(st->vm, why, sizeof(why)))
			fail(st, "final audit: %s", why);
	}
	if (st->vm->bug)
		fail(st, "vm->bug %d (e.g. a freed table still reachable)", st->vm->bug);
	kmmu_ref_vm_destroy(st->vm);
	urcu_memb_unregister_thread();
	/* Even after another failure: the ledger says whether bits were lost. */
	check_ledger(st);

	for (i = 0; i < NR_KINDS; i++)
		printf("# %-10s %lu ops\n", kinds[i].name, st->ops[i]);
	printf("# hw hits %lu, lockless fast-path fixes %lu, fault retries %lu, stale checks %lu, "
	       "young answers %lu, bitmap young pages %lu, moves %lu\n", st->hw_hits,
	       st->fast_fixed, st->retries,
	       st->stale_checks, st->young, st->bitmap_young, st->moves);
	if (st->failed) {
		printf("not ok 1 mmu_stress # seed=%lu: %s\n", st->seed, st->why);
		return 1;
	}
	printf("ok 1 mmu_stress\n");
	free(st);
	return 0;
}
