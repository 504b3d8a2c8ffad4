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
#define HPAGE		512ul			/* 4K pages in a 2M host page */
#define NR_REGIONS	(NR_PFNS / HPAGE)
/*
 * The frame of hva page 0 in generation 0 (4 GiB; 2M aligned, as NR_PFNS
 * is, so a host huge page is 2M aligned in frames too).
 */
#define PFN0		0x100000ul
/* The A/D ledger tells this many generations of a page's frame apart. */
#define LEDGER_GENS	4ul
#define NR_FRAMES	(NR_PFNS * LEDGER_GENS)
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
#define MIN_VCPUS	2
#define MAX_THREADS	16	/* per kind */
/* pick_hva_range() picks at most this many pages (the aging bitmaps). */
#define MAX_RANGE_PAGES	64
#define BITMAP_LONGS	(MAX_RANGE_PAGES / (8 * sizeof(unsigned long)) + 1)
/* Far more young SPTEs than a range can hold. */
#define MAX_AGE_REPORTS	256

enum { C_HW_A, C_HW_D, C_INST_A, C_INST_D, C_REP_A, C_REP_D, C_NR };

/* What the threads count, summed over the threads at the end. */
enum {
	N_OPS, N_HW_HITS, N_FAST_FIXED, N_RETRIES, N_MAPPED_2M, N_STALE_CHECKS, N_PFN_CHECKS,
	N_YOUNG, N_BITMAP_YOUNG, N_AGE_CHECKS, N_MIGRATED, N_COLLAPSES, N_ZAPPED, N_ZAP_ALL, N_MOVES,
	N_NR
};

/*
 * The host's memory: gen[] and huge[] change together under the lock (the
 * host's page table lock), always inside an invalidation of the pages
 * they change; the fault's hva_to_pfn reads them without it.
 */
struct host {
	pthread_mutex_t lock;
	unsigned int gen[NR_PFNS];
	unsigned char huge[NR_REGIONS];
};

/* The moving slot's state: one update at a time, as under slots_lock. */
struct moving {
	pthread_mutex_t lock;
	unsigned long gpa;
	uint32_t flags;
	bool present;
};

/* The checks that find a stale SPTE, each from its own vantage point. */
enum stale_check { STALE_WINDOW, STALE_AFTER_END, STALE_AUDIT, STALE_REACHED, STALE_NR };
#define STALE_GRACE_MS	500

struct stress {
	struct kmmu_ref_vm *vm;
	unsigned long seed;
	unsigned int threads, nr_vcpus;
	int stop;
	int stale;		/* a stale SPTE was found: stop soon */
	int failed, printed;
	unsigned long stale_found[STALE_NR];
	pthread_mutex_t lock;
	char why[512];
	struct host host;
	struct moving moving;
	/* Per host frame (modulo LEDGER_GENS generations): the A/D ledger. */
	unsigned long ad[C_NR][NR_FRAMES];
};

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

static void fail(struct stress *st, const char *fmt, ...)
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
static void fail_stale(struct stress *st, enum stale_check c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(st, c, fmt, ap);
	va_end(ap);
	__atomic_store_n(&st->stale, 1, __ATOMIC_RELEASE);
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

/* ---- the host ---- */

static uint64_t host_pfn(unsigned long k, unsigned int gen)
{
	return PFN0 + (uint64_t)gen * NR_PFNS + k;
}

/* The hva page a frame backs, and in which generation. */
static unsigned long pfn_page(uint64_t pfn)
{
	return (pfn - PFN0) % NR_PFNS;
}

static unsigned long pfn_gen(uint64_t pfn)
{
	return (pfn - PFN0) / NR_PFNS;
}

static unsigned int host_gen(struct stress *st, unsigned long k)
{
	return __atomic_load_n(&st->host.gen[k], __ATOMIC_ACQUIRE);
}

/*
 * hva_to_pfn() and host_pfn_mapping_level() for the fault: lockless, as
 * GUP-fast and the kernel's walk of the host page tables are.
 */
static int host_hva_to_pfn(void *ctx, unsigned long hva, uint64_t *pfn, int *level)
{
	struct stress *st = ctx;
	unsigned long k = (hva - HVA_BASE) >> KMMU_PAGE_SHIFT;

	if (hva < HVA_BASE || k >= NR_PFNS)
		return -EFAULT;
	*pfn = host_pfn(k, host_gen(st, k));
	*level = __atomic_load_n(&st->host.huge[k / HPAGE], __ATOMIC_ACQUIRE) ?
		 KMMU_PG_LEVEL_2M : KMMU_PG_LEVEL_4K;
	return 0;
}

/*
 * Migration, inside the invalidation of pages [@s, @e): they move to new
 * frames.  A page of a host huge page moves only if the window covers all
 * of it: the host splits it first, and the split is an invalidation of
 * the whole 2M.  Returns the pages moved.
 */
static unsigned long host_migrate(struct stress *st, unsigned long s, unsigned long e)
{
	struct host *h = &st->host;
	unsigned long k, r, n = 0;

	pthread_mutex_lock(&h->lock);
	for (k = s; k < e; k++) {
		r = k / HPAGE;
		if (h->huge[r]) {
			if (s > r * HPAGE || e < (r + 1) * HPAGE)
				continue;
			__atomic_store_n(&h->huge[r], 0, __ATOMIC_RELEASE);
		}
		__atomic_store_n(&h->gen[k], h->gen[k] + 1, __ATOMIC_RELEASE);
		n++;
	}
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* khugepaged, inside the invalidation of all of 2M region @r: a new huge page. */
static void host_collapse(struct stress *st, unsigned long r)
{
	struct host *h = &st->host;
	unsigned int gen = 0;
	unsigned long k;

	pthread_mutex_lock(&h->lock);
	for (k = r * HPAGE; k < (r + 1) * HPAGE; k++)
		if (h->gen[k] > gen)
			gen = h->gen[k];
	gen++;
	for (k = r * HPAGE; k < (r + 1) * HPAGE; k++)
		__atomic_store_n(&h->gen[k], gen, __ATOMIC_RELEASE);
	__atomic_store_n(&h->huge[r], 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&h->lock);
}

/* The hva page of @gfn in whichever slot can map it, -1 if none can. */
static long gfn_page(gfn_t gfn)
{
	if (gfn < HOT_PAGES + BIG_PAGES)
		return gfn;
	if (gfn >= MOVING_GPA0 / PG && gfn < MOVING_GPA0 / PG + MOVING_PAGES)
		return HOT_PAGES + BIG_PAGES + gfn - MOVING_GPA0 / PG;
	if (gfn >= MOVING_GPA1 / PG && gfn < MOVING_GPA1 / PG + MOVING_PAGES)
		return HOT_PAGES + BIG_PAGES + gfn - MOVING_GPA1 / PG;
	return -1;
}

/*
 * A present leaf SPTE of @level that maps frame @base reached @gfn after
 * the host backed @gfn's page with generation @gen0: the frame of @gfn's
 * 4K page in it must be that page's, of @gen0 or later.
 */
static void check_reached(struct stress *st, const char *who, gfn_t gfn, uint64_t base,
			  int level, unsigned int gen0)
{
	uint64_t pfn = base + (gfn & (KMMU_PAGES_PER_HPAGE(level) - 1));
	long k = gfn_page(gfn);

	if (k < 0 || pfn < PFN0 || pfn_page(pfn) != (unsigned long)k) {
		fail(st, "%s: gfn %#" PRIx64 " reached pfn %#" PRIx64 ", not a frame of hva page %ld",
		     who, gfn, pfn, k);
		return;
	}
	if (pfn_gen(pfn) < gen0)
		fail_stale(st, STALE_REACHED,
			   "stale SPTE: %s reached old pfn %#" PRIx64 " at gfn %#" PRIx64
			   ", replaced by %#" PRIx64 " before the access", who, pfn, gfn,
			   host_pfn(k, gen0));
}

struct pfn_check {
	struct stress *st;
	enum stale_check check;
	const char *when;
};

/* Under mmu_lock: a present SPTE's page cannot be changing frames now. */
static int pfn_check_fn(void *ctx, unsigned long hva, uint64_t pfn, int level)
{
	struct pfn_check *c = ctx;
	unsigned long k = (hva - HVA_BASE) >> KMMU_PAGE_SHIFT;
	uint64_t now = host_pfn(k, host_gen(c->st, k));

	if (pfn == now)
		return 0;
	if (pfn >= PFN0 && pfn_page(pfn) == k && pfn < now)
		fail_stale(c->st, c->check,
			   "stale SPTE %s: hva %#lx maps old pfn %#" PRIx64 " (%s), the host's is %#"
			   PRIx64, c->when, hva, pfn, level > KMMU_PG_LEVEL_4K ? "2M" : "4K", now);
	else
		fail(c->st, "SPTE %s: hva %#lx maps pfn %#" PRIx64 ", the host's is %#" PRIx64,
		     c->when, hva, pfn, now);
	return -1;
}

static long check_pfns(struct stress *st, unsigned long start, unsigned long end,
		       enum stale_check check, const char *when)
{
	struct pfn_check c = { .st = st, .check = check, .when = when };
	long r = kmmu_mmu_hva_range_for_each_pfn(st->vm, start, end, pfn_check_fn, &c);

	if (r < -1)
		fail(st, "pfn walk %s: %s", when, strerror((int)-r));
	return r;
}

/* ---- A/D reports ---- */

/* The Accessed bits one aging call reported, for the call to be checked against. */
struct age_call {
	unsigned int nr;
	uint64_t pfn[MAX_AGE_REPORTS];
	int level[MAX_AGE_REPORTS];
};

/* Set by an aging thread around its call: the reports arrive in that thread. */
static __thread struct age_call *cur_age_call;

static void ad_hook(void *ctx, uint64_t pfn, int level, uint64_t bits, bool installed)
{
	struct stress *st = ctx;
	struct age_call *ac = cur_age_call;
	uint64_t k = (pfn - PFN0) % NR_FRAMES;

	if (pfn < PFN0) {
		fail(st, "A/D reported for pfn %#" PRIx64 " outside the host range", pfn);
		return;
	}
	if (bits & KMMU_PT_ACCESSED_MASK)
		__atomic_add_fetch(&st->ad[installed ? C_INST_A : C_REP_A][k], 1, __ATOMIC_RELAXED);
	if (bits & KMMU_PT_DIRTY_MASK)
		__atomic_add_fetch(&st->ad[installed ? C_INST_D : C_REP_D][k], 1, __ATOMIC_RELAXED);
	if (ac && !installed && (bits & KMMU_PT_ACCESSED_MASK)) {
		if (ac->nr < MAX_AGE_REPORTS) {
			ac->pfn[ac->nr] = pfn;
			ac->level[ac->nr] = level;
		}
		ac->nr++;
	}
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
	unsigned long n = 1 + (r % MAX_RANGE_PAGES), first = (r >> 8) % (NR_PFNS - n);

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
	int kind;
	void *(*fn)(struct thr *t);
	uint64_t rng;
	unsigned long n[N_NR];
	pthread_t tid;
};

static void *hw_thread(struct thr *t)
{
	struct stress *st = t->st;

	while (!stopped(st)) {
		uint64_t set, pfn, k, r = rnd(&t->rng);
		gfn_t gfn = pick_gfn(&t->rng);
		long page = gfn_page(gfn);
		unsigned int gen0 = page < 0 ? 0 : host_gen(st, page);
		int level;

		if (kmmu_hw_access(st->vm, r % st->nr_vcpus, 0, gfn, (r >> 4) & 1,
				   &set, &pfn, &level) == 1) {
			t->n[N_HW_HITS]++;
			check_reached(st, "hw", gfn, pfn, level, gen0);
			k = (pfn - PFN0) % NR_FRAMES;
			if (set & KMMU_PT_ACCESSED_MASK)
				__atomic_add_fetch(&st->ad[C_HW_A][k], 1, __ATOMIC_RELAXED);
			if (set & KMMU_PT_DIRTY_MASK)
				__atomic_add_fetch(&st->ad[C_HW_D][k], 1, __ATOMIC_RELAXED);
		}
		t->n[N_OPS]++;
	}
	return NULL;
}

static void *fault_thread(struct thr *t)
{
	struct stress *st = t->st;
	struct kmmu_fault f;
	int r;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);
		gfn_t gfn = pick_gfn(&t->rng);
		long page = gfn_page(gfn);
		unsigned int gen0 = page < 0 ? 0 : host_gen(st, page);
		uint32_t ec = (x & 16) ? KMMU_PFERR_WRITE_MASK : 0;

		/* kvm_mmu_page_fault(): the lockless fast path first. */
		r = kmmu_fast_page_fault(st->vm, x % st->nr_vcpus, 0, gfn, ec, &f);
		if (!r)
			t->n[N_FAST_FIXED] += f.result == KMMU_FAULT_FIXED;
		if (r == -EAGAIN)
			r = kmmu_page_fault(st->vm, x % st->nr_vcpus, 0, gfn, ec, &f);
		if (r) {
			fail(st, "fault: %s", strerror(-r));
			break;
		}
		if (f.result == KMMU_FAULT_RETRY)
			t->n[N_RETRIES]++;
		t->n[N_MAPPED_2M] += f.result == KMMU_FAULT_MAPPED_2M;
		/* Whatever leaf the fault made or found maps the page's frame now. */
		if (kmmu_is_shadow_present_pte(f.spte) && kmmu_is_last_spte(f.spte, f.level))
			check_reached(st, "fault", gfn, kmmu_spte_to_pfn(f.spte), f.level,
				      gen0);
		t->n[N_OPS]++;
	}
	return NULL;
}

/* The bit of @hva in a bitmap of [@start, @end), -1 outside. */
static long hva_bit(unsigned long hva, unsigned long start, unsigned long end)
{
	return hva >= start && hva < end ? (long)((hva - start) / PG) : -1;
}

/*
 * test_clear_young's answer against its reports: the bitmap must be
 * exactly the pages of the range that the reported SPTEs map (a bit
 * missing is a touched page reported old), and the count its weight.
 */
static void check_bitmap(struct stress *st, const struct age_call *ac, long r,
			 unsigned long start, unsigned long end, const unsigned long *bitmap)
{
	const unsigned long bpl = 8 * sizeof(unsigned long);
	unsigned long want[BITMAP_LONGS] = { 0 };
	unsigned long i, j, npages = (end - start) / PG;
	long bit, weight = 0;

	for (i = 0; i < ac->nr; i++) {
		unsigned long k0 = pfn_page(ac->pfn[i]);

		for (j = 0; j < KMMU_PAGES_PER_HPAGE(ac->level[i]); j++) {
			bit = hva_bit(HVA_BASE + (k0 + j) * PG, start, end);
			if (bit >= 0)
				want[bit / bpl] |= 1ul << (bit % bpl);
		}
	}
	for (i = 0; i < npages; i++) {
		bool got = bitmap[i / bpl] & (1ul << (i % bpl));
		bool exp = want[i / bpl] & (1ul << (i % bpl));

		weight += got;
		if (got == exp)
			continue;
		fail(st, "test_clear_young: hva %#lx %s in the bitmap, but %s", start + i * PG,
		     got ? "young" : "old", got ? "no SPTE reported young maps it" :
		     "an SPTE that maps it was reported young");
		return;
	}
	if (weight != r)
		fail(st, "test_clear_young: answered %ld young pages, the bitmap has %ld", r,
		     weight);
}

static void *aging_thread(struct thr *t)
{
	unsigned long bitmap[BITMAP_LONGS];
	struct stress *st = t->st;
	struct age_call *ac;
	unsigned long start, end;
	const char *what;
	long r;

	ac = malloc(sizeof(*ac));
	if (!ac) {
		fail(st, "aging: out of memory");
		return NULL;
	}
	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);

		pick_hva_range(&t->rng, &start, &end);
		ac->nr = 0;
		cur_age_call = ac;
		switch (x % 5) {
		case 0:
			what = "clear_young (locked)";
			r = kmmu_mmu_notifier_clear_young(st->vm, start, end, KMMU_AGING_LOCKED);
			break;
		case 1:
		case 2:
			what = "clear_young (lockless)";
			r = kmmu_mmu_notifier_clear_young(st->vm, start, end, KMMU_AGING_LOCKLESS);
			break;
		case 3:
			what = "test_young";
			r = kmmu_mmu_notifier_test_young(st->vm, start, end,
							 (x >> 8) & 1 ? KMMU_AGING_LOCKLESS :
									KMMU_AGING_LOCKED);
			break;
		default:
			what = "test_clear_young";
			memset(bitmap, 0, sizeof(bitmap));
			r = kmmu_test_clear_young(st->vm, start, end, bitmap);
			break;
		}
		cur_age_call = NULL;
		if (r < 0) {
			fail(st, "%s: %s", what, strerror((int)-r));
			break;
		}
		/*
		 * The answer is what reclaim acts on, the reports what the
		 * ledger checks: they must agree call by call.
		 */
		if (ac->nr > MAX_AGE_REPORTS) {
			fail(st, "%s: %u Accessed bits reported for %lu pages", what, ac->nr,
			     (end - start) / PG);
		} else if (x % 5 == 3) {
			if (ac->nr)
				fail(st, "test_young cleared %u Accessed bits", ac->nr);
		} else if (x % 5 == 4) {
			if (r > (long)((end - start) / PG))
				fail(st, "test_clear_young: %ld young pages in %lu", r,
				     (end - start) / PG);
			else
				check_bitmap(st, ac, r, start, end, bitmap);
			t->n[N_BITMAP_YOUNG] += r;
		} else if (r != (long)ac->nr) {
			fail(st, "%s: answered %ld young, reported %u Accessed bits", what, r,
			     ac->nr);
		}
		t->n[N_AGE_CHECKS]++;
		t->n[N_YOUNG] += r > 0;
		t->n[N_OPS]++;
	}
	free(ac);
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
	t->n[N_OPS] += n;
	return NULL;
}

static void *invalidate_thread(struct thr *t)
{
	struct stress *st = t->st;
	unsigned long start, end, first, last, r2;
	long mapped;
	int r;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);
		int op = x % 8;		/* 0-1 nothing moves, 2 collapse, else migrate */

		pick_hva_range(&t->rng, &start, &end);
		first = (start - HVA_BASE) / PG;
		last = (end - HVA_BASE) / PG;
		if (op == 2) {
			/* A whole 2M region gets a new huge page. */
			first -= first % HPAGE;
			last = first + HPAGE;
		} else if (op > 2) {
			/*
			 * Host huge pages in the way are split by the same
			 * invalidation: it covers them whole.  (Racy: one that
			 * appears meanwhile is left alone by host_migrate().)
			 */
			for (r2 = first / HPAGE; r2 <= (last - 1) / HPAGE; r2++) {
				if (!__atomic_load_n(&st->host.huge[r2], __ATOMIC_RELAXED))
					continue;
				if (first > r2 * HPAGE)
					first = r2 * HPAGE;
				if (last < (r2 + 1) * HPAGE)
					last = (r2 + 1) * HPAGE;
			}
		}
		start = HVA_BASE + first * PG;
		end = HVA_BASE + last * PG;
		r = kmmu_mmu_notifier_invalidate_range_start(st->vm, start, end);
		if (r) {
			fail(st, "invalidate_range_start: %s", strerror(-r));
			break;
		}
		/* The host changes the pages only once KVM has let go of them. */
		if (op == 2) {
			host_collapse(st, first / HPAGE);
			t->n[N_COLLAPSES]++;
		} else if (op > 2) {
			t->n[N_MIGRATED] += host_migrate(st, first, last);
		}
		/* Let faults race with the open window. */
		if (rnd(&t->rng) & 1)
			sched_yield();
		mapped = kmmu_mmu_hva_range_mapped(st->vm, start, end);
		t->n[N_STALE_CHECKS]++;
		if (mapped)
			fail_stale(st, STALE_WINDOW,
				   "stale SPTE: %ld SPTEs map hva [%#lx, %#lx) inside its invalidation",
				   mapped, start, end);
		r = kmmu_mmu_notifier_invalidate_range_end(st->vm, start, end);
		if (r) {
			fail(st, "invalidate_range_end: %s", strerror(-r));
			break;
		}
		/*
		 * Faults may map the range again now, but only to the frames
		 * the host has now: one that looked up its frame before the
		 * change and did not retry has left the old one behind.
		 */
		check_pfns(st, start, end, STALE_AFTER_END, "after invalidate_range_end");
		t->n[N_PFN_CHECKS]++;
		t->n[N_OPS]++;
		usleep(50);
	}
	return NULL;
}

static void *zap_thread(struct thr *t)
{
	struct stress *st = t->st;
	struct kmmu_memory_slot *slot;
	gfn_t gfn;
	int r = 0;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);

		switch (x % 32) {
		case 0:	/* kvm_mmu_zap_all_fast(): a new mmu_valid_gen */
			kmmu_mmu_zap_all_fast(st->vm);
			t->n[N_ZAP_ALL]++;
			break;
		case 1:	/* kvm_mmu_zap_all(), now and then */
			if ((x >> 8) % 4 == 0) {
				kmmu_mmu_zap_all(st->vm);
				t->n[N_ZAP_ALL]++;
			}
			break;
		case 2: case 3: case 4: case 5:	/* kvm_mmu_zap_memslot() */
			urcu_memb_read_lock();
			slot = kmmu_id_to_memslot(kmmu_memslots_active(st->vm->memslots, 0),
						  (x >> 8) % 3);
			r = slot ? kmmu_mmu_zap_memslot(st->vm, slot) : 0;
			urcu_memb_read_unlock();
			break;
		default: /* kvm_zap_gfn_range(), sometimes a whole 2M */
			gfn = pick_gfn(&t->rng);
			if ((x >> 8) % 4 == 0)
				r = kmmu_mmu_zap_gfn_range(st->vm, gfn & ~(HPAGE - 1),
							   (gfn | (HPAGE - 1)) + 1);
			else
				r = kmmu_mmu_zap_gfn_range(st->vm, gfn, gfn + 1 + (x >> 16) % 64);
			if (r > 0)
				t->n[N_ZAPPED] += r;
			break;
		}
		if (r < 0) {
			fail(st, "zap: %s", strerror(-r));
			break;
		}
		t->n[N_OPS]++;
		usleep(100);
	}
	return NULL;
}

static void *memslot_thread(struct thr *t)
{
	struct stress *st = t->st;
	struct moving *m = &st->moving;
	int r = 0;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);

		pthread_mutex_lock(&m->lock);
		if (!m->present) {
			r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, m->flags, m->gpa,
							  MOVING_PAGES * PG, MOVING_HVA);
			m->present = true;
		} else {
			switch (x % 3) {
			case 0:	/* MOVE */
				m->gpa = m->gpa == MOVING_GPA0 ? MOVING_GPA1 : MOVING_GPA0;
				r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, m->flags,
								  m->gpa, MOVING_PAGES * PG,
								  MOVING_HVA);
				t->n[N_MOVES]++;
				break;
			case 1:	/* DELETE */
				r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, m->flags,
								  m->gpa, 0, MOVING_HVA);
				m->present = false;
				break;
			default: /* FLAGS_ONLY: dirty logging on/off */
				m->flags ^= KMMU_MEM_LOG_DIRTY_PAGES;
				r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, m->flags,
								  m->gpa, MOVING_PAGES * PG,
								  MOVING_HVA);
				break;
			}
		}
		pthread_mutex_unlock(&m->lock);
		if (r) {
			fail(st, "set_memory_region: %s", strerror(-r));
			break;
		}
		t->n[N_OPS]++;
		usleep(500);
	}
	return NULL;
}

static void *audit_thread(struct thr *t)
{
	struct stress *st = t->st;
	char why[256];

	while (!stopped(st)) {
		if (kmmu_mmu_audit(st->vm, why, sizeof(why))) {
			fail(st, "audit: %s", why);
			break;
		}
		/* Every SPTE of the VM against the host, not just a range just invalidated. */
		check_pfns(st, HVA_BASE, HVA_BASE + NR_PFNS * PG, STALE_AUDIT, "in the audit");
		t->n[N_PFN_CHECKS]++;
		t->n[N_OPS]++;
		usleep(20000);
	}
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
	{ "zap", zap_thread },
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
			for (k = 0; k < NR_FRAMES; k++) {
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
			fail(st, "%s %s bit: %lu frames, e.g. pfn %#lx (mod %lu generations): %lu set (hw %lu, fault %lu), %lu reported",
			     lost ? "lost" : "duplicated", which ? "Dirty" : "Accessed", nr,
			     PFN0 + k, LEDGER_GENS,
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
