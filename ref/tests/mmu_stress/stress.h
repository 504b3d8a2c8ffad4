/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The parts of mmu_stress_test (ref/tests/mmu_stress_test.c says what it
 * does and checks): the modelled host and the checks against it
 * (host.c), the thread kinds (threads.c), and the run with its verdict
 * (mmu_stress_test.c).  This header is their shared state.
 */
#ifndef KMMU_MMU_STRESS_H
#define KMMU_MMU_STRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <kmmu/mmu.h>

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

/* The Accessed bits one aging call reported, for the call to be checked against. */
struct age_call {
	unsigned int nr;
	uint64_t pfn[MAX_AGE_REPORTS];
	int level[MAX_AGE_REPORTS];
};

/* Set by an aging thread around its call: the reports arrive in that thread. */
extern __thread struct age_call *cur_age_call;

struct thr {
	struct stress *st;
	int kind;
	void *(*fn)(struct thr *t);
	uint64_t rng;
	unsigned long n[N_NR];
	pthread_t tid;
};

/* The thread kinds, in the order their counts are printed. */
#define NR_KINDS	8
struct kind {
	const char *name;
	void *(*fn)(struct thr *t);
};
extern const struct kind kinds[NR_KINDS];

/* The run's verdict (mmu_stress_test.c). */
void fail(struct stress *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fail_stale(struct stress *st, enum stale_check c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool stopped(struct stress *st);
uint64_t rnd(uint64_t *s);

/* The host and the checks against it (host.c). */
unsigned long pfn_page(uint64_t pfn);
unsigned int host_gen(struct stress *st, unsigned long k);
int host_hva_to_pfn(void *ctx, unsigned long hva, uint64_t *pfn, int *level);
unsigned long host_migrate(struct stress *st, unsigned long s, unsigned long e);
void host_collapse(struct stress *st, unsigned long r);
long gfn_page(gfn_t gfn);
void check_reached(struct stress *st, const char *who, gfn_t gfn, uint64_t base,
		   int level, unsigned int gen0);
long check_pfns(struct stress *st, unsigned long start, unsigned long end,
		enum stale_check check, const char *when);
void ad_hook(void *ctx, uint64_t pfn, int level, uint64_t bits, bool installed);
void check_bitmap(struct stress *st, const struct age_call *ac, long r,
		  unsigned long start, unsigned long end, const unsigned long *bitmap);
void check_ledger(struct stress *st);

/* The threads (threads.c). */
void *thread_main(void *arg);

#endif
