// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_log_test: KVM's dirty page logging, checked page by page against
 * what the guest wrote, through all three interfaces -- KVM_GET_DIRTY_LOG
 * (protect on harvest), KVM_CLEAR_DIRTY_LOG with manual protect (also with
 * KVM_DIRTY_LOG_INITIALLY_SET, and clears of 64-page-aligned sub-ranges)
 * and the dirty ring -- over 4K, THP and hugetlbfs backing, while 2 or
 * more vCPUs (one per host CPU) write and a host thread harvests, switches
 * logging off and on with flags-only updates, and deletes and re-creates
 * slots.
 *
 * Layout (GPA = GVA = KMMU_GPA_TEST + offset; the backing is one 2M-aligned
 * buffer at the same offsets, so huge mappings are possible wherever a slot
 * covers a whole 2M):
 *   slot A  [0, 4M)              1024 pages, two 2M regions
 *   slot B  [4M + 128K, 10M + 140K)  1539 pages: 32 pages off 2M alignment
 *           (so 64-page clears straddle 2M boundaries) and 3 pages beyond
 *           a multiple of 64 (the bitmap's partial last word); 2M regions
 *           [6M, 8M) and [8M, 10M) inside
 *   slot RO [12M, 16M)           guest only reads it: [12M, 14M) is
 *           PROT_READ on the host (KVM cannot map it writable), [14M, 16M)
 *           read-only in the guest's page tables
 * With THP or hugetlbfs backing the guest maps everything with 2M pages
 * (the shadow MMU needs both for a 2M SPTE); the test first runs with
 * logging off so that KVM maps 2M (KVM's pages_2m says whether it did),
 * and only then switches logging on, so the huge SPTEs must be split or
 * write-protected.
 *
 * Guest.  vCPU v owns the word at offset 64 * v of every data page.  Each
 * write first checks that the word still holds what v last wrote there
 * (kept in exp[v][p], in unlogged shared memory), then stores
 * VAL(gen, v, seq): the host's current generation, the vCPU and its write
 * counter, so every write changes the page; then updates exp and publishes
 * seq in progress[v].  Half the writes go to a small window of pages shared
 * by all vCPUs (so pages are written again right after a harvest protected
 * them, and by two vCPUs at once), the rest anywhere; one access in eight
 * reads an RO page and checks its pattern.  The guest parks at the gate
 * (GUEST_SYNC) when the host asks, between accesses.
 *
 * Host, per iteration: resume the vCPUs with a new generation; maybe switch
 * one slot's logging off or on (flags only, while they write); sleep;
 * note progress[] (writes completed before the harvest); harvest every
 * logged slot; park the vCPUs; verify; maybe delete or re-create a slot
 * (parked: the guest leaves absent slots alone).  The oracle, for a data
 * page p of a logged slot, with B the pages reported since the last verify:
 *  - every word must hold exp (the host sees what the guest wrote);
 *  - changed (exp != its value at the last verify) by a write that was
 *    complete before the harvest (seq < progress noted) and made while
 *    logging was on (gen >= the generation published after logging went
 *    on) => p in B: otherwise a dirty page was MISSED;
 *  - changed by a later write and not in B => "owed": p must be in the
 *    next harvest (it was written while KVM harvested; KVM must report it
 *    now or next time, never not at all);
 *  - with manual protect, a page the last GET reported but the CLEAR left
 *    set must be reported again ("sticky"); after logging went on with
 *    KVM_DIRTY_LOG_INITIALLY_SET, the first GET must report every page;
 *  - in B without any of these reasons => an extra bit, counted; the same
 *    page reported that way by two harvests in a row (cleared each time,
 *    untouched by the guest in between) is a bit KVM does not clear, a
 *    failure.  Bits beyond the slot's last page are failures.
 * RO slot: a page KVM cannot map writable (host PROT_READ) is never
 * reported; pages read-only in the guest's page tables never are with
 * shadow paging, and with TDP at most once per vCPU in a row between
 * zaps (a read fault on writable host memory creates a writable SPTE,
 * which KVM marks dirty, and so may each vCPU that faulted with it).
 * Dirty ring: entries must name a logged slot and an offset inside it, and
 * KVM_RESET_DIRTY_RINGS must reset exactly the entries collected; vCPUs
 * collect their rings themselves on KVM_EXIT_DIRTY_RING_FULL.  KVM stats:
 * every report needs a fault, so the reports (ring entries) are at most
 * pf_taken; with huge backing, KVM must map 2M while logging is off,
 * before it is switched on and again after it is switched off for good.
 *
 * Also checked, in their own tests: the dirty ring's soft limit
 * (KVM_EXIT_DIRTY_RING_FULL before the ring overflows, with at least the
 * soft limit's entries in it) and the errnos of the dirty-log ioctls.
 *
 * $KMMU_DIRTY_INJECT=drop-one hides, from the first harvest after the first
 * round that reports a page the guest wrote before it, one such page, and
 * from every harvest after it (the test must fail).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/bench.h"
#include "kmmu/gate.h"
#include "kmmu/hygiene.h"
#include "kmmu/janitor.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/result.h"
#include "kmmu/kvm_stats.h"

#define DL_PAGE		4096ULL
#define DL_GPA		KMMU_GPA_TEST		/* 1G aligned */
#define DL_MEM_PAGES	4096ULL			/* 16 MiB of backing */
#define DL_HUGE_PAGES	512ULL			/* 4K pages in 2M */

enum { DL_A, DL_B, DL_RO, DL_NR_SLOTS };
#define DL_NR_DATA_SLOTS 2

/* Offset (pages from DL_GPA and the backing) and size of each slot. */
static const uint64_t dl_slot_off[DL_NR_SLOTS] = { 0, 1024 + 32, 3072 };
static const uint64_t dl_slot_pages[DL_NR_SLOTS] = { 1024, 1536 + 3, 1024 };
static const char *const dl_slot_names[DL_NR_SLOTS] = { "A", "B", "RO" };
/* Data page p: slot A's pages first, then slot B's. */
#define DL_DATA_PAGES	(1024 + 1536 + 3)
#define DL_RO_HOST_PAGES 512ULL			/* first half of RO: host PROT_READ */
/* Guest mappings: data [0, 12M) writable, RO [12M, 16M) read-only. */
#define DL_DATA_MAP	(3072 * DL_PAGE)

/*
 * VAL(gen, v, seq): generation (20 bits), vCPU (6), write counter (38).
 * Zero is "never written" (memory starts zeroed, exp too).
 */
#define DL_VAL(g, v, s)	(((uint64_t)(g) << 44) | ((uint64_t)(v) << 38) | \
			 ((uint64_t)(s) & ((1ULL << 38) - 1)))
#define DL_VAL_GEN(x)	((x) >> 44)
#define DL_VAL_SEQ(x)	((x) & ((1ULL << 38) - 1))
#define DL_GEN_MAX	((1ULL << 20) - 1)
#define DL_RO_VAL(p)	(0x524f000000000000ULL | (p))
#define DL_WINDOW	16		/* pages in the shared hot window */

enum dl_mode { DL_GET, DL_CLEAR, DL_CLEAR_INIT, DL_RING, DL_NR_MODES };
static const char *const dl_mode_names[] = { "get", "clear", "clear-init", "ring" };
enum dl_backing { DL_4K, DL_THP, DL_HUGETLB, DL_NR_BACKINGS };
static const char *const dl_backing_names[] = { "4k", "thp", "hugetlb" };

enum dl_cmd { DL_CMD_QUIT = 1, DL_CMD_SWEEP, DL_CMD_RUN };

struct dl_vcpu_shared {
	uint64_t progress;	/* writes completed */
	uint64_t ro_reads;
	uint64_t pad[6];
};

struct dl_shared {
	uint64_t gen;		/* host: generation of the writes */
	uint64_t park;		/* host: come to the gate */
	uint64_t window;	/* host: first page of the hot window */
	uint64_t seed;
	uint64_t avail[DL_NR_DATA_SLOTS];	/* host: slot present (changed while parked) */
	uint64_t exp_gva;	/* uint64_t[nr_vcpus][DL_DATA_PAGES] */
	uint64_t nr_vcpus;
	struct dl_vcpu_shared vcpu[KMMU_MAX_VCPUS];
};

/* ---- guest ---- */

static inline uint64_t dl_rand(uint64_t *s)
{
	/* xorshift64*: no libc in the guest */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static inline uint64_t dl_page_gva(uint64_t p)
{
	if (p < dl_slot_pages[DL_A])
		return DL_GPA + (dl_slot_off[DL_A] + p) * DL_PAGE;
	return DL_GPA + (dl_slot_off[DL_B] + p - dl_slot_pages[DL_A]) * DL_PAGE;
}

static void dl_guest_write(struct dl_shared *sh, volatile uint64_t *exp,
			   struct dl_vcpu_shared *me, uint32_t v, uint64_t p, uint64_t *seq)
{
	volatile uint64_t *w = (volatile uint64_t *)(dl_page_gva(p) + 64 * v);
	uint64_t cur = *w, val;

	if (cur != exp[p])
		GUEST_FAIL("data page %lu (gpa %#lx): vcpu %lu's word holds %#lx, it last wrote %#lx",
			   p, (uint64_t)w, (uint64_t)v, cur, exp[p]);
	val = DL_VAL(*(volatile uint64_t *)&sh->gen, v, *seq);
	*w = val;
	exp[p] = val;
	(*seq)++;
	/* Release: the page's store is visible before the count says so. */
	__atomic_store_n(&me->progress, *seq, __ATOMIC_RELEASE);
}

static void dl_guest_ro_read(uint32_t v, uint64_t p)
{
	volatile uint64_t *w = (volatile uint64_t *)(DL_GPA + (dl_slot_off[DL_RO] + p) * DL_PAGE +
						     64 * v);
	uint64_t val = *w;

	if (val != DL_RO_VAL(p))
		GUEST_FAIL("read-only page %lu (gpa %#lx) holds %#lx, not its pattern %#lx",
			   p, (uint64_t)w, val, DL_RO_VAL(p));
}

static bool dl_guest_avail(struct dl_shared *sh, uint64_t p)
{
	return *(volatile uint64_t *)&sh->avail[p < dl_slot_pages[DL_A] ? DL_A : DL_B];
}

static void dl_guest(uint32_t v, void *arg)
{
	struct dl_shared *sh = arg;
	volatile uint64_t *exp = (volatile uint64_t *)sh->exp_gva + (uint64_t)v * DL_DATA_PAGES;
	struct dl_vcpu_shared *me = &sh->vcpu[v];
	uint64_t rng = sh->seed ^ (0x9e3779b97f4a7c15ULL * (v + 1)), seq = 1, cmd, p, r;

	if (!rng)
		rng = 1;
	for (;;) {
		cmd = GUEST_SYNC(0);
		if (cmd == DL_CMD_QUIT)
			return;
		if (cmd == DL_CMD_SWEEP) {
			/*
			 * Every page once, the vCPUs taking turns: KVM maps all
			 * of it (2M where it can) without two vCPUs faulting on
			 * the same page at the same time.
			 */
			for (p = v; p < DL_DATA_PAGES; p += sh->nr_vcpus)
				if (dl_guest_avail(sh, p))
					dl_guest_write(sh, exp, me, v, p, &seq);
			for (p = v; p < dl_slot_pages[DL_RO]; p += sh->nr_vcpus)
				dl_guest_ro_read(v, p);
			continue;
		}
		while (!*(volatile uint64_t *)&sh->park) {
			r = dl_rand(&rng);
			if ((r & 7) == 0) {
				dl_guest_ro_read(v, (r >> 8) % dl_slot_pages[DL_RO]);
				me->ro_reads++;
				continue;
			}
			if (r & 8)
				p = (*(volatile uint64_t *)&sh->window + (r >> 8) % DL_WINDOW) %
				    DL_DATA_PAGES;
			else
				p = (r >> 8) % DL_DATA_PAGES;
			if (dl_guest_avail(sh, p))
				dl_guest_write(sh, exp, me, v, p, &seq);
		}
	}
}

/* ---- host ---- */

struct dl_opts {
	int vcpus;
	int iterations;		/* per test case */
	double interval_ms;	/* mean pause between harvests */
	uint32_t ring_entries;
	uint64_t seed;
	bool modes[DL_NR_MODES];
	bool backings[DL_NR_BACKINGS];
	const char *inject;	/* $KMMU_DIRTY_INJECT */
};

static struct dl_opts dl_opts = {
	.vcpus = 2,
	.iterations = 12,
	.interval_ms = 20,
	.ring_entries = 256,
};

/* Per-page state of the oracle (struct dl_slot.ps). */
#define PS_OWED		0x1	/* written during a harvest: the next must report it */
#define PS_STICKY	0x2	/* GET reported it, CLEAR left it set: the next GET too */
#define PS_NEXT_OK	0x4	/* may be reported next without being written again */
#define PS_EXTRA	0x8	/* reported for no reason by the harvest before */
/* Slot RO: reports in a row without a zap (upper nibble). */
#define PS_STREAK_SHIFT	4
#define PS_STREAK(ps)	((ps) >> PS_STREAK_SHIFT)
#define PS_STREAK_MAX(vcpus) ((vcpus) < 15 ? (vcpus) : 15)

struct dl_slot {
	uint32_t id;
	uint64_t off, npages;
	uint64_t first;		/* data slots: data index of the slot's page 0 */
	bool present, logging;
	uint64_t tracked_from;	/* writes of this generation on must be reported */
	bool all_due;		/* INITIALLY_SET: the next GET must report every page */
	bool fresh;		/* logging (re)started or SPTEs zapped since the last verify */
	int on_since, zapped_at;	/* rounds: logging last went on, last zap (-1: never) */
	uint64_t *bm;		/* pages reported since the last verify */
	uint64_t *tmp;		/* one KVM_GET_DIRTY_LOG */
	uint8_t *ps, *ps_next;	/* obligations of this verify, of the next */
};

struct dl_ctx {
	enum dl_mode mode;
	enum dl_backing backing;
	int nr_vcpus;
	uint64_t rng;
	bool shadow;		/* shadow paging: no TDP */
	struct kmmu_vm *vm;
	struct dl_shared *sh;
	uint64_t *exp;		/* the guest's exp[v][p], host view */
	uint64_t *snap;		/* exp at the last verify */
	uint8_t *mem;		/* backing, 2M aligned */
	void *raw;
	size_t raw_size;
	struct dl_slot slot[DL_NR_SLOTS];
	struct kmmu_gate gate;
	bool gate_init;
	uint64_t arrivals;
	uint64_t gen;
	int iter;
	uint64_t progress[KMMU_MAX_VCPUS];	/* noted before the harvest */
	bool quiesced;		/* this harvest: vCPUs parked before it */
	bool pml;		/* kvm_intel logs dirty pages with PML */
	int ncpus;
	/* dirty ring: collected by the main thread and by vCPUs on RING_FULL */
	pthread_mutex_t ring_lock;
	bool ring_lock_init;
	uint64_t ring_round;		/* collected since the last reset */
	long ring_entries, ring_full_exits, ring_stale;
	char ring_err[512];
	bool inject_done;
	int inject_slot;		/* the hidden page, once inject_done */
	uint64_t inject_page;
	/* what happened */
	long harvests, reported, extras, owed, untracked, ro_extras, strict;
	long toggles_on, toggles_off, deletes, creates, clear_calls, partial_clears;
	uint64_t reports;		/* reports that needed a fault (<= pf_taken) */
	struct kmmu_stats vm_stats, vcpu_stats[KMMU_MAX_VCPUS];
	bool stats_open;
	uint64_t pf_taken0;
	bool pf_taken_ok;
	int64_t pages_2m_populated, pages_2m_logging, pages_2m_recovered;
	double t0, t_started, t_populated, t_rounds, t_done;	/* kmmu_now() */
	char err[1024];
};

/* kvm_intel logs dirty pages with PML (a per-vCPU buffer of 512 GPAs). */
static bool dl_pml(void)
{
	char v[8];

	return !kmmu_ctl_read("/sys/module/kvm_intel/parameters/pml", v, sizeof(v)) &&
	       (v[0] == 'Y' || v[0] == '1');
}

static bool dl_test_bit(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

static void dl_set_bit(uint64_t *bm, uint64_t i)
{
	bm[i / 64] |= 1ULL << (i % 64);
}

static void dl_clear_bit(uint64_t *bm, uint64_t i)
{
	bm[i / 64] &= ~(1ULL << (i % 64));
}

static int dl_fail(struct dl_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int dl_fail(struct dl_ctx *c, const char *fmt, ...)
{
	va_list ap;
	size_t off;

	off = snprintf(c->err, sizeof(c->err), "iteration %d, %s/%s: ", c->iter,
		       dl_mode_names[c->mode], dl_backing_names[c->backing]);
	va_start(ap, fmt);
	vsnprintf(c->err + off, sizeof(c->err) - off, fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t dl_gpa(const struct dl_slot *s, uint64_t page)
{
	return DL_GPA + (s->off + page) * DL_PAGE;
}

static volatile uint64_t *dl_word(struct dl_ctx *c, const struct dl_slot *s, uint64_t page,
				  int v)
{
	return (volatile uint64_t *)(c->mem + (s->off + page) * DL_PAGE + 64 * v);
}

/* Bits at or beyond the slot's last page: KVM must never set them. */
static int dl_check_tail(struct dl_ctx *c, const struct dl_slot *s, const uint64_t *bm,
			 const char *what)
{
	uint64_t rem = s->npages % 64, w = s->npages / 64;

	if (rem && bm[w] >> rem)
		return dl_fail(c, "%s of slot %s (%llu pages) has bits beyond its last page: word %llu = %#llx",
			       what, dl_slot_names[s - c->slot], (unsigned long long)s->npages,
			       (unsigned long long)w, (unsigned long long)bm[w]);
	return 0;
}

/* ---- dirty ring ---- */

static void dl_ring_gfn(void *ctx, uint32_t id, uint64_t off)
{
	struct dl_ctx *c = ctx;
	struct dl_slot *s = NULL;
	int i;

	c->ring_round++;
	c->ring_entries++;
	for (i = 0; i < DL_NR_SLOTS; i++)
		if (c->slot[i].id == id)
			s = &c->slot[i];
	if (!s || off >= s->npages) {
		if (!c->ring_err[0])
			snprintf(c->ring_err, sizeof(c->ring_err),
				 "dirty ring entry for memslot %#x offset %llu: %s", id,
				 (unsigned long long)off,
				 s ? "beyond the slot's last page" : "not a logged slot of the test");
		return;
	}
	/* From before the slot's logging was switched off or the slot deleted. */
	if (!s->present || !s->logging) {
		c->ring_stale++;
		return;
	}
	dl_set_bit(s->bm, off);
}

/* Under ring_lock: collect every vCPU's ring, reset, compare the counts. */
static int dl_ring_collect_locked(struct dl_ctx *c, char *err, size_t len)
{
	int v, r;

	for (v = 0; v < c->nr_vcpus; v++) {
		r = kmmu_vcpu_dirty_ring_collect(kmmu_vm_vcpu(c->vm, v), dl_ring_gfn, c);
		if (r < 0) {
			snprintf(err, len, "collecting vcpu %d's dirty ring: %s", v, strerror(-r));
			return r;
		}
	}
	if (c->ring_err[0]) {
		snprintf(err, len, "%s", c->ring_err);
		return -EINVAL;
	}
	r = kmmu_vm_reset_dirty_rings(c->vm);
	if (r < 0 || (uint64_t)r != c->ring_round) {
		snprintf(err, len, "KVM_RESET_DIRTY_RINGS reset %d entries (%s), %llu were collected",
			 r, r < 0 ? strerror(-r) : "ok", (unsigned long long)c->ring_round);
		return -EIO;
	}
	c->ring_round = 0;
	return 0;
}

/* ---- vCPU threads ---- */

static uint64_t dl_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct dl_ctx *c = ctx;

	return kmmu_gate_arrive(&c->gate);
}

static int dl_exit(struct kmmu_vcpu *vcpu, uint32_t reason, void *ctx)
{
	struct dl_ctx *c = ctx;
	char err[512];
	int r;

	if (reason != KVM_EXIT_DIRTY_RING_FULL)
		return -1;
	if (c->mode != DL_RING) {
		kmmu_vcpu_fail(vcpu, "KVM_EXIT_DIRTY_RING_FULL from a VM without a dirty ring");
		return 0;
	}
	/* KVM keeps the vCPU out of the guest until its ring is reset. */
	pthread_mutex_lock(&c->ring_lock);
	c->ring_full_exits++;
	r = dl_ring_collect_locked(c, err, sizeof(err));
	pthread_mutex_unlock(&c->ring_lock);
	if (r) {
		kmmu_vcpu_fail(vcpu, "at KVM_EXIT_DIRTY_RING_FULL: %s", err);
		return 0;
	}
	return 1;
}

/* One vCPU per host CPU, so that vCPUs really run (and race) in parallel. */
static void dl_pre_run(struct kmmu_vcpu *vcpu, void *ctx)
{
	static __thread bool pinned;
	struct dl_ctx *c = ctx;
	cpu_set_t set;

	if (pinned || c->ncpus < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(kmmu_vcpu_id(vcpu) % c->ncpus, &set);
	sched_setaffinity(0, sizeof(set), &set);
	pinned = true;
}

/* ---- stats ---- */

static int dl_stats_open(struct dl_ctx *c)
{
	int v;

	if (kmmu_stats_open(&c->vm_stats, kmmu_vm_fd(c->vm)))
		return -1;
	for (v = 0; v < c->nr_vcpus; v++)
		if (kmmu_stats_open(&c->vcpu_stats[v], kmmu_vcpu_fd(kmmu_vm_vcpu(c->vm, v)))) {
			while (v--)
				kmmu_stats_close(&c->vcpu_stats[v]);
			kmmu_stats_close(&c->vm_stats);
			return -1;
		}
	c->stats_open = true;
	return 0;
}

static void dl_stats_close(struct dl_ctx *c)
{
	int v;

	if (!c->stats_open)
		return;
	for (v = 0; v < c->nr_vcpus; v++)
		kmmu_stats_close(&c->vcpu_stats[v]);
	kmmu_stats_close(&c->vm_stats);
	c->stats_open = false;
}

/* A vCPU statistic summed over the vCPUs; false if KVM lacks it. */
static bool dl_vcpu_stat(struct dl_ctx *c, const char *name, uint64_t *sum)
{
	uint64_t x;
	int v;

	*sum = 0;
	for (v = 0; c->stats_open && v < c->nr_vcpus; v++) {
		if (kmmu_stats_get(&c->vcpu_stats[v], name, &x))
			return false;
		*sum += x;
	}
	return c->stats_open;
}

static int64_t dl_vm_stat(struct dl_ctx *c, const char *name)
{
	uint64_t x;

	if (!c->stats_open || kmmu_stats_get(&c->vm_stats, name, &x))
		return -1;
	return x;
}

/* ---- harvest ---- */

/* One KVM_CLEAR_DIRTY_LOG of pages [@first, @end) with the bits of the last GET. */
static int dl_clear_call(struct dl_ctx *c, struct dl_slot *s, uint64_t first, uint64_t end,
			 uint64_t *cleared)
{
	uint64_t p;
	int r;

	r = kmmu_vm_clear_dirty_log(c->vm, s->id, s->tmp + first / 64, first, end - first);
	c->clear_calls++;
	if (r)
		return dl_fail(c, "KVM_CLEAR_DIRTY_LOG of slot %s pages [%llu, %llu): %s",
			       dl_slot_names[s - c->slot], (unsigned long long)first,
			       (unsigned long long)end, strerror(-r));
	for (p = first; p < end; p++)
		dl_set_bit(cleared, p);
	return 0;
}

/*
 * Manual protect: clear what the GET reported, in one call for the whole
 * slot, in two calls split at a 64-page boundary, or only a random
 * 64-aligned sub-range (or one reaching the slot's unaligned end).  What
 * the GET reported and no call cleared must be reported by the next GET.
 */
static int dl_clear(struct dl_ctx *c, struct dl_slot *s)
{
	uint64_t words = kmmu_dirty_bitmap_words(s->npages), r = dl_rand(&c->rng), a, b, p;
	uint64_t cleared[kmmu_dirty_bitmap_words(DL_MEM_PAGES)];

	memset(cleared, 0, sizeof(cleared));
	switch (r % 4) {
	case 2:
		a = 1 + (r >> 8) % (words - 1);
		/* Either order: KVM must not care. */
		if ((r >> 40) & 1) {
			if (dl_clear_call(c, s, a * 64, s->npages, cleared) ||
			    dl_clear_call(c, s, 0, a * 64, cleared))
				return -1;
		} else if (dl_clear_call(c, s, 0, a * 64, cleared) ||
			   dl_clear_call(c, s, a * 64, s->npages, cleared)) {
			return -1;
		}
		break;
	case 3:
		a = (r >> 8) % words;
		b = a + 1 + (r >> 24) % (words - a);
		if (dl_clear_call(c, s, a * 64, b == words ? s->npages : b * 64, cleared))
			return -1;
		c->partial_clears++;
		break;
	default:
		if (dl_clear_call(c, s, 0, s->npages, cleared))
			return -1;
	}
	for (p = 0; p < s->npages; p++)
		if (dl_test_bit(s->tmp, p) && !dl_test_bit(cleared, p))
			s->ps_next[p] |= PS_STICKY;
	return 0;
}

/* Was data page @p changed since the last verify by a write complete before the harvest? */
static bool dl_strict_change(struct dl_ctx *c, const struct dl_slot *s, uint64_t p)
{
	uint64_t d = s->first + p, e;
	int v;

	for (v = 0; v < c->nr_vcpus; v++) {
		e = __atomic_load_n(&c->exp[v * DL_DATA_PAGES + d], __ATOMIC_ACQUIRE);
		if (e != c->snap[v * DL_DATA_PAGES + d] && DL_VAL_SEQ(e) < c->progress[v] &&
		    DL_VAL_GEN(e) >= s->tracked_from)
			return true;
	}
	return false;
}

/*
 * KMMU_DIRTY_INJECT=drop-one: a page the guest wrote before a harvest is
 * hidden from that harvest and every later one, as if KVM never marked it
 * dirty again (dl_verify() hides it).
 */
static void dl_inject_drop(struct dl_ctx *c)
{
	int i;
	uint64_t p;

	if (!dl_opts.inject || c->inject_done || c->iter < 1)
		return;
	for (i = 0; i < DL_NR_DATA_SLOTS; i++) {
		struct dl_slot *s = &c->slot[i];

		if (!s->present || !s->logging)
			continue;
		for (p = 0; p < s->npages; p++)
			if (dl_test_bit(s->bm, p) && dl_strict_change(c, s, p)) {
				c->inject_done = true;
				c->inject_slot = i;
				c->inject_page = p;
				ksft_print_msg("INJECTED: slot %s page %llu (gpa %#llx) hidden from this harvest on\n",
					       dl_slot_names[i], (unsigned long long)p,
					       (unsigned long long)dl_gpa(s, p));
				return;
			}
	}
}

static int dl_harvest(struct dl_ctx *c)
{
	char err[512];
	uint64_t w;
	int i, r;

	c->harvests++;
	if (c->mode == DL_RING) {
		pthread_mutex_lock(&c->ring_lock);
		r = dl_ring_collect_locked(c, err, sizeof(err));
		pthread_mutex_unlock(&c->ring_lock);
		if (r)
			return dl_fail(c, "%s", err);
		dl_inject_drop(c);
		return 0;
	}
	for (i = 0; i < DL_NR_SLOTS; i++) {
		struct dl_slot *s = &c->slot[i];

		if (!s->present)
			continue;
		r = kmmu_vm_get_dirty_log(c->vm, s->id, s->tmp);
		if (!s->logging) {
			if (r != -ENOENT)
				return dl_fail(c, "KVM_GET_DIRTY_LOG of slot %s, whose logging is off, returned %s, not ENOENT",
					       dl_slot_names[i], r ? strerror(-r) : "success");
			continue;
		}
		if (r)
			return dl_fail(c, "KVM_GET_DIRTY_LOG of slot %s: %s", dl_slot_names[i],
				       strerror(-r));
		if (dl_check_tail(c, s, s->tmp, "KVM_GET_DIRTY_LOG"))
			return -1;
		for (w = 0; w < kmmu_dirty_bitmap_words(s->npages); w++)
			s->bm[w] |= s->tmp[w];
		if ((c->mode == DL_CLEAR || c->mode == DL_CLEAR_INIT) && dl_clear(c, s))
			return -1;
	}
	dl_inject_drop(c);
	return 0;
}

/* ---- verify (vCPUs parked) ---- */

static int dl_verify_data(struct dl_ctx *c, struct dl_slot *s)
{
	const char *name = dl_slot_names[s - c->slot];
	uint64_t p, d, e, m;
	bool changed, need, strict, late, in;
	int v, strict_v, writers;
	uint8_t ps;

	for (p = 0; p < s->npages; p++) {
		d = s->first + p;
		changed = need = strict = late = false;
		strict_v = -1;
		writers = 0;
		for (v = 0; v < c->nr_vcpus; v++) {
			e = c->exp[v * DL_DATA_PAGES + d];
			m = *dl_word(c, s, p, v);
			if (m != e)
				return dl_fail(c, "slot %s page %llu (gpa %#llx): vcpu %d's word holds %#llx in host memory, the guest wrote %#llx there",
					       name, (unsigned long long)p,
					       (unsigned long long)dl_gpa(s, p), v,
					       (unsigned long long)m, (unsigned long long)e);
			if (e == c->snap[v * DL_DATA_PAGES + d])
				continue;
			changed = true;
			writers++;
			if (DL_VAL_GEN(e) < s->tracked_from || DL_VAL_SEQ(e) >= c->progress[v])
				late = true;
			if (DL_VAL_GEN(e) >= s->tracked_from) {
				need = true;
				if (DL_VAL_SEQ(e) < c->progress[v] && !strict) {
					strict = true;
					strict_v = v;
				}
			}
		}
		if (!s->present) {
			if (changed)
				return dl_fail(c, "slot %s page %llu changed while the slot was deleted",
					       name, (unsigned long long)p);
			continue;
		}
		if (!s->logging) {
			c->untracked += changed;
			continue;
		}
		/*
		 * A write complete before the harvest may still be reported
		 * one harvest late (owed) where KVM marks the page after the
		 * guest could write it: the fast page fault path marks after
		 * its cmpxchg made the SPTE writable, so another vCPU's write
		 * can slip in before the mark; PML logs writes in a per-vCPU
		 * buffer that the harvest's kick flushes asynchronously.  With
		 * the vCPUs parked before the harvest nothing is in flight.
		 */
		if (strict && !c->quiesced && (c->pml || writers > 1))
			strict = false;
		in = dl_test_bit(s->bm, p);
		ps = s->ps[p];
		if (changed && !in) {
			if (strict) {
				e = c->exp[strict_v * DL_DATA_PAGES + d];
				return dl_fail(c, "MISSED dirty page: slot %s page %llu (gpa %#llx) was written by vcpu %d (value %#llx: generation %llu, write %llu; %llu writes were complete before the harvest) while logging was on (since generation %llu), and no %s reported it",
					       name, (unsigned long long)p,
					       (unsigned long long)dl_gpa(s, p), strict_v,
					       (unsigned long long)e,
					       (unsigned long long)DL_VAL_GEN(e),
					       (unsigned long long)DL_VAL_SEQ(e),
					       (unsigned long long)c->progress[strict_v],
					       (unsigned long long)s->tracked_from,
					       c->mode == DL_RING ? "dirty ring entry" :
					       "KVM_GET_DIRTY_LOG");
			}
			if (need) {
				s->ps_next[p] |= PS_OWED;
				c->owed++;
			} else {
				c->untracked++;
			}
		}
		if (!in && (ps & PS_OWED))
			return dl_fail(c, "MISSED dirty page: slot %s page %llu (gpa %#llx) was written during the previous harvest, which did not report it, and this one does not either",
				       name, (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
		if (!in && (ps & PS_STICKY))
			return dl_fail(c, "slot %s page %llu (gpa %#llx): the previous KVM_GET_DIRTY_LOG reported it and no KVM_CLEAR_DIRTY_LOG cleared it, but this GET does not report it",
				       name, (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
		if (!in && s->all_due)
			return dl_fail(c, "slot %s page %llu (gpa %#llx): the first KVM_GET_DIRTY_LOG after logging went on with KVM_DIRTY_LOG_INITIALLY_SET does not report it",
				       name, (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
		if (in && changed) {
			c->reported++;
			c->strict += strict;
		} else if (in && !(ps & (PS_OWED | PS_STICKY | PS_NEXT_OK)) && !s->all_due &&
			   !s->fresh) {
			if (ps & PS_EXTRA)
				return dl_fail(c, "slot %s page %llu (gpa %#llx) reported dirty by two harvests in a row although the guest did not touch it since the first (a dirty bit that does not clear); logging on since round %d, last zap in round %d",
					       name, (unsigned long long)p,
					       (unsigned long long)dl_gpa(s, p), s->on_since,
					       s->zapped_at);
			s->ps_next[p] |= PS_EXTRA;
			c->extras++;
		}
		if (late)
			s->ps_next[p] |= PS_NEXT_OK;
		/* Every report needs a fault, but not the bits KVM set itself. */
		if (in && !(ps & PS_STICKY) && !s->all_due)
			c->reports++;
	}
	return 0;
}

static int dl_verify_ro(struct dl_ctx *c, struct dl_slot *s)
{
	unsigned int streak;
	uint64_t p, m;
	int v;

	for (p = 0; p < s->npages; p++) {
		for (v = 0; v < c->nr_vcpus; v++) {
			m = *dl_word(c, s, p, v);
			if (m != DL_RO_VAL(p))
				return dl_fail(c, "read-only page %llu (gpa %#llx) holds %#llx at vcpu %d's word in host memory, not its pattern: a write landed there",
					       (unsigned long long)p, (unsigned long long)dl_gpa(s, p),
					       (unsigned long long)m, v);
		}
		if (!s->present || !s->logging)
			continue;
		if (!dl_test_bit(s->bm, p)) {
			if (s->ps[p] & PS_STICKY)
				return dl_fail(c, "slot RO page %llu (gpa %#llx): the previous KVM_GET_DIRTY_LOG reported it and no KVM_CLEAR_DIRTY_LOG cleared it, but this GET does not report it",
					       (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
			if (s->all_due)
				return dl_fail(c, "slot RO page %llu (gpa %#llx): the first KVM_GET_DIRTY_LOG after logging went on with KVM_DIRTY_LOG_INITIALLY_SET does not report it",
					       (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
			continue;
		}
		/* Bits KVM set itself (INITIALLY_SET) or we left set: no fault needed. */
		if (s->all_due || (s->ps[p] & PS_STICKY))
			continue;
		if (p < DL_RO_HOST_PAGES)
			return dl_fail(c, "read-only page %llu (gpa %#llx), which the host maps PROT_READ so KVM cannot map it writable, was reported dirty; the guest only reads it",
				       (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
		if (c->shadow)
			return dl_fail(c, "page %llu of slot RO (gpa %#llx), read-only in the guest's page tables, was reported dirty with shadow paging; the guest only reads it",
				       (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
		/*
		 * TDP: a read fault on writable host memory makes a writable
		 * SPTE, which KVM marks dirty.  Once per SPTE, but every vCPU
		 * that faulted on the page at the same time marks it, and a
		 * vCPU delayed between its mark and its (failing) install
		 * marks it after the first harvest: up to one report per
		 * vCPU in a row, unless the SPTEs were zapped (fresh).
		 */
		streak = s->fresh ? 0 : PS_STREAK(s->ps[p]) + 1;
		if (streak > PS_STREAK_MAX(c->nr_vcpus))
			return dl_fail(c, "page %llu of slot RO (gpa %#llx), which the guest only reads, reported dirty by %u harvests in a row with %d vCPUs, logging on since round %d and no SPTE zapped since round %d (a dirty bit that does not clear)",
				       (unsigned long long)p, (unsigned long long)dl_gpa(s, p),
				       streak, c->nr_vcpus, s->on_since, s->zapped_at);
		s->ps_next[p] |= streak << PS_STREAK_SHIFT;
		c->ro_extras++;
		c->reports++;
	}
	return 0;
}

static int dl_verify(struct dl_ctx *c)
{
	int i;

	if (c->inject_done)
		dl_clear_bit(c->slot[c->inject_slot].bm, c->inject_page);
	for (i = 0; i < DL_NR_SLOTS; i++) {
		struct dl_slot *s = &c->slot[i];
		uint8_t *t;

		if (dl_check_tail(c, s, s->bm, "the harvest") ||
		    (i == DL_RO ? dl_verify_ro(c, s) : dl_verify_data(c, s)))
			return -1;
		s->all_due = false;
		s->fresh = false;
		memset(s->bm, 0, kmmu_dirty_bitmap_words(s->npages) * 8);
		t = s->ps;
		s->ps = s->ps_next;
		s->ps_next = t;
		memset(s->ps_next, 0, s->npages);
	}
	memcpy(c->snap, c->exp, (size_t)c->nr_vcpus * DL_DATA_PAGES * 8);
	return 0;
}

/* ---- slot changes ---- */

static void dl_ring_lock(struct dl_ctx *c)
{
	if (c->mode == DL_RING)
		pthread_mutex_lock(&c->ring_lock);
}

static void dl_ring_unlock(struct dl_ctx *c)
{
	if (c->mode == DL_RING)
		pthread_mutex_unlock(&c->ring_lock);
}

/* Publishes the next generation: the guest's writes carry it from now on. */
static int dl_next_gen(struct dl_ctx *c)
{
	if (c->gen >= DL_GEN_MAX)
		return dl_fail(c, "out of generations (%llu)", (unsigned long long)DL_GEN_MAX);
	c->gen++;
	__atomic_store_n(&c->sh->gen, c->gen, __ATOMIC_RELEASE);
	return 0;
}

/* Logging on from the next generation: what is owed, extra or sticky starts over. */
static void dl_logging_started(struct dl_ctx *c, struct dl_slot *s, uint64_t from)
{
	s->logging = true;
	s->tracked_from = from;
	s->fresh = true;
	s->on_since = c->iter;
	s->all_due = c->mode == DL_CLEAR_INIT;
	memset(s->ps, 0, s->npages);
	memset(s->ps_next, 0, s->npages);
	memset(s->bm, 0, kmmu_dirty_bitmap_words(s->npages) * 8);
}

/*
 * KVM_MEM_LOG_DIRTY_PAGES on or off by a flags-only update, while the
 * vCPUs run (or not).  Writes the guest starts after the update returned
 * carry a later generation than the one current during it: from that one
 * on, every write must be reported.
 */
static int dl_set_logging(struct dl_ctx *c, int i, bool on)
{
	struct dl_slot *s = &c->slot[i];
	int r;

	dl_ring_lock(c);
	r = kmmu_slot_set_flags(c->vm, s->id, on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
	if (!r && !on)
		s->logging = false;
	else if (!r)
		dl_logging_started(c, s, c->gen + 1);
	dl_ring_unlock(c);
	if (r)
		return dl_fail(c, "switching logging %s on slot %s (flags only): %s", on ? "on" : "off",
			       dl_slot_names[i], strerror(-r));
	if (on) {
		c->toggles_on++;
		return dl_next_gen(c);
	}
	c->toggles_off++;
	return 0;
}

/* Parked: the guest leaves the slot alone until it is back. */
static int dl_delete(struct dl_ctx *c, int i)
{
	struct dl_slot *s = &c->slot[i];
	uint64_t bm[kmmu_dirty_bitmap_words(DL_MEM_PAGES)];
	int r, k;

	dl_ring_lock(c);
	r = kmmu_slot_delete(c->vm, s->id);
	if (!r) {
		s->present = false;
		s->logging = false;
		/* Deleting zaps every SPTE of the VM (fast zap): all refault. */
		for (k = 0; k < DL_NR_SLOTS; k++) {
			c->slot[k].fresh = true;
			c->slot[k].zapped_at = c->iter;
		}
	}
	dl_ring_unlock(c);
	if (r)
		return dl_fail(c, "deleting slot %s: %s", dl_slot_names[i], strerror(-r));
	c->sh->avail[i] = 0;
	c->deletes++;
	r = kmmu_vm_get_dirty_log(c->vm, s->id, bm);
	if (c->mode != DL_RING && r != -ENOENT)
		return dl_fail(c, "KVM_GET_DIRTY_LOG of deleted slot %s returned %s, not ENOENT",
			       dl_slot_names[i], r ? strerror(-r) : "success");
	return 0;
}

/* Parked: the slot comes back where it was, with logging on. */
static int dl_create(struct dl_ctx *c, int i, uint32_t flags)
{
	struct dl_slot *s = &c->slot[i];
	int r;

	dl_ring_lock(c);
	r = __kmmu_slot_add(c->vm, s->id, dl_gpa(s, 0), s->npages * DL_PAGE,
			    c->mem + s->off * DL_PAGE, flags);
	if (!r) {
		s->present = true;
		s->logging = false;
		if (flags & KVM_MEM_LOG_DIRTY_PAGES)
			dl_logging_started(c, s, c->gen + 1);
	}
	dl_ring_unlock(c);
	if (r)
		return dl_fail(c, "creating slot %s: %s", dl_slot_names[i], strerror(-r));
	if (i < DL_NR_DATA_SLOTS)
		c->sh->avail[i] = 1;
	c->creates++;
	return 0;
}

/* ---- phases ---- */

static int dl_park(struct dl_ctx *c)
{
	int r;

	__atomic_store_n(&c->sh->park, 1, __ATOMIC_RELEASE);
	c->arrivals += c->nr_vcpus;
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r)
		return dl_fail(c, "vCPUs did not park: %s",
			       r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return 0;
}

static void dl_resume(struct dl_ctx *c, enum dl_cmd cmd)
{
	__atomic_store_n(&c->sh->park, 0, __ATOMIC_RELEASE);
	kmmu_gate_open(&c->gate, cmd);
}

static void dl_note_progress(struct dl_ctx *c)
{
	int v;

	for (v = 0; v < c->nr_vcpus; v++)
		c->progress[v] = __atomic_load_n(&c->sh->vcpu[v].progress, __ATOMIC_ACQUIRE);
}

/* While the vCPUs write: switch logging of one slot, on a fixed rhythm plus chance. */
static int dl_running_action(struct dl_ctx *c)
{
	uint64_t r = dl_rand(&c->rng);
	int i, phase = c->iter % 8;

	if (c->iter == 0) {
		for (i = 0; i < DL_NR_SLOTS; i++)
			if (dl_set_logging(c, i, true))
				return -1;
		return 0;
	}
	if (phase == 3 || (phase != 2 && (r & 3) == 0)) {
		/* Everything that is off comes back on. */
		for (i = 0; i < DL_NR_SLOTS; i++)
			if (c->slot[i].present && !c->slot[i].logging && dl_set_logging(c, i, true))
				return -1;
		return 0;
	}
	if (phase == 2 || (r & 7) == 1) {
		i = (r >> 8) % DL_NR_SLOTS;
		if (c->slot[i].present && c->slot[i].logging)
			return dl_set_logging(c, i, false);
	}
	return 0;
}

/* Parked: delete a data slot or bring a deleted one back. */
static int dl_parked_action(struct dl_ctx *c)
{
	uint64_t r = dl_rand(&c->rng);
	int i, phase = c->iter % 8;

	if (phase == 5) {
		i = (r >> 8) % DL_NR_DATA_SLOTS;
		return c->slot[i].present ? dl_delete(c, i) : 0;
	}
	if (phase == 6)
		for (i = 0; i < DL_NR_DATA_SLOTS; i++)
			if (!c->slot[i].present && dl_create(c, i, KVM_MEM_LOG_DIRTY_PAGES))
				return -1;
	return 0;
}

static void dl_sleep_interval(struct dl_ctx *c)
{
	double ms = dl_opts.interval_ms * (0.5 + (dl_rand(&c->rng) % 1001) / 1000.0);

	kmmu_sleep_ms((long)(ms + 0.5));
}

/*
 * One round.  @final: park before noting progress, so that the harvest
 * sees the vCPUs stopped and every change is checked strictly.
 */
static int dl_iteration(struct dl_ctx *c, bool final)
{
	if (dl_next_gen(c))
		return -1;
	c->sh->window = dl_rand(&c->rng) % DL_DATA_PAGES;
	dl_resume(c, DL_CMD_RUN);
	if (!final && dl_running_action(c))
		return -1;
	dl_sleep_interval(c);
	c->quiesced = final;
	if (final && dl_park(c))
		return -1;
	dl_note_progress(c);
	if (dl_harvest(c))
		return -1;
	if (!final && dl_park(c))
		return -1;
	if (dl_verify(c))
		return -1;
	if (c->iter == 0)
		c->pages_2m_logging = dl_vm_stat(c, "pages_2m");
	return final ? 0 : dl_parked_action(c);
}

/* ---- setup ---- */

/* "HugePages_Free:" etc. from /proc/meminfo, or -1. */
static long dl_meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	size_t n = strlen(key);
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/*
 * hugetlbfs backing needs DL_MEM_PAGES / 512 free huge pages.  Where there
 * are fewer and we are root, raise vm.nr_hugepages for the test; the
 * janitor puts the old value back even if the test dies.  1 (skip, reason
 * in c->err) where that cannot be done.
 */
static int dl_hugetlb_reserve(struct dl_ctx *c, struct kmmu_janitor *jan, bool *jan_started)
{
	const char *path = "/proc/sys/vm/nr_hugepages";
	long need = DL_MEM_PAGES / DL_HUGE_PAGES, free_pages = dl_meminfo("HugePages_Free");
	char old[32], val[32];
	long total;
	int r;

	if (free_pages >= need)
		return 0;
	if (geteuid() || kmmu_ctl_read(path, old, sizeof(old))) {
		snprintf(c->err, sizeof(c->err), "hugetlbfs backing needs %ld free 2M huge pages (HugePages_Free %ld) and only root may add them",
			 need, free_pages);
		return 1;
	}
	r = kmmu_janitor_start(jan);
	if (r) {
		snprintf(c->err, sizeof(c->err), "starting the janitor: %s", strerror(-r));
		return -1;
	}
	*jan_started = true;
	r = kmmu_janitor_push(jan, KMMU_UNDO_WRITE, path, old);
	if (r) {
		snprintf(c->err, sizeof(c->err), "recording how to restore %s: %s", path, strerror(-r));
		return -1;
	}
	total = strtol(old, NULL, 10) + need - (free_pages > 0 ? free_pages : 0);
	snprintf(val, sizeof(val), "%ld", total);
	r = kmmu_ctl_write(path, val);
	free_pages = dl_meminfo("HugePages_Free");
	if (r || free_pages < need) {
		snprintf(c->err, sizeof(c->err), "the kernel could not provide %ld huge pages (%s = %s: %s, HugePages_Free %ld)",
			 need, path, val, r ? strerror(-r) : "ok", free_pages);
		return 1;
	}
	return 0;
}

/* The backing: 2M aligned; THP advised, or not, or hugetlbfs.  1: skip. */
static int dl_alloc(struct dl_ctx *c)
{
	size_t size = DL_MEM_PAGES * DL_PAGE, al = DL_HUGE_PAGES * DL_PAGE;
	struct dl_slot *ro = &c->slot[DL_RO];
	uint64_t p, w;
	uint8_t *m;

	if (c->backing == DL_HUGETLB) {
		m = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (m == MAP_FAILED) {
			snprintf(c->err, sizeof(c->err), "mmap of %zu MiB hugetlbfs memory: %s",
				 size >> 20, strerror(errno));
			return 1;
		}
		c->raw = m;
		c->raw_size = size;
	} else {
		m = mmap(NULL, size + al, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return dl_fail(c, "mmap of the backing: %s", strerror(errno));
		c->raw = m;
		c->raw_size = size + al;
		m = (uint8_t *)(((uintptr_t)m + al - 1) & ~(al - 1));
		madvise(m, size, c->backing == DL_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	}
	c->mem = m;
	/*
	 * Populated by the host: a guest read of a page never touched would
	 * map the zero page, and the write after it fault a second time.
	 */
	memset(m, 0, ro->off * DL_PAGE);
	for (p = 0; p < ro->npages; p++)
		for (w = 0; w < DL_PAGE / 8; w++)
			((uint64_t *)(m + (ro->off + p) * DL_PAGE))[w] = DL_RO_VAL(p);
	/* KVM can map these only read-only: they must never be reported. */
	if (mprotect(m + ro->off * DL_PAGE, DL_RO_HOST_PAGES * DL_PAGE, PROT_READ))
		return dl_fail(c, "mprotect of the host-read-only pages: %s", strerror(errno));
	return 0;
}

static int dl_ctx_init(struct dl_ctx *c, enum dl_mode mode, enum dl_backing backing)
{
	struct kmmu_host host;
	cpu_set_t set;
	int i;

	c->mode = mode;
	c->backing = backing;
	c->nr_vcpus = dl_opts.vcpus;
	/* Each case its own stream, the same for the same seed. */
	c->rng = dl_opts.seed ^ (0x9e3779b97f4a7c15ULL * (mode * DL_NR_BACKINGS + backing + 1));
	if (!c->rng)
		c->rng = 1;
	kmmu_host_probe(&host);
	c->shadow = host.tdp == 0;
	c->pml = dl_pml();
	c->ncpus = sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);
	pthread_mutex_init(&c->ring_lock, NULL);
	c->ring_lock_init = true;
	c->pages_2m_populated = c->pages_2m_logging = c->pages_2m_recovered = -1;
	for (i = 0; i < DL_NR_SLOTS; i++) {
		struct dl_slot *s = &c->slot[i];
		size_t words = kmmu_dirty_bitmap_words(dl_slot_pages[i]);

		s->id = KMMU_SLOT_FIRST_FREE + i;
		s->zapped_at = -1;
		s->off = dl_slot_off[i];
		s->npages = dl_slot_pages[i];
		s->first = i == DL_B ? dl_slot_pages[DL_A] : 0;
		s->bm = calloc(words, 8);
		s->tmp = calloc(words, 8);
		s->ps = calloc(s->npages, 1);
		s->ps_next = calloc(s->npages, 1);
		if (!s->bm || !s->tmp || !s->ps || !s->ps_next)
			return dl_fail(c, "out of memory");
	}
	c->snap = calloc((size_t)c->nr_vcpus * DL_DATA_PAGES, 8);
	return c->snap ? 0 : dl_fail(c, "out of memory");
}

static void dl_ctx_free(struct dl_ctx *c)
{
	int i;

	if (!c)
		return;
	dl_stats_close(c);
	if (c->gate_init)
		kmmu_gate_destroy(&c->gate);
	if (c->ring_lock_init)
		pthread_mutex_destroy(&c->ring_lock);
	for (i = 0; i < DL_NR_SLOTS; i++) {
		free(c->slot[i].bm);
		free(c->slot[i].tmp);
		free(c->slot[i].ps);
		free(c->slot[i].ps_next);
	}
	free(c->snap);
	free(c);
}

/*
 * VM, manual protect or ring, backing, slots with logging off, guest
 * mappings, vCPUs started and parked.  0, 1 (skip: c->err), -1.
 */
static int dl_start(struct dl_ctx *c)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = c->nr_vcpus };
	struct kmmu_vm_handlers h = {
		.sync = dl_sync, .exit = dl_exit, .pre_run = dl_pre_run, .ctx = c,
	};
	unsigned int map = c->backing == DL_4K ? 0 : KMMU_MAP_HUGE;
	size_t exp_bytes = (size_t)c->nr_vcpus * DL_DATA_PAGES * 8;
	uint64_t gva, exp_gva;
	long caps;
	int i, r;

	vo.shared_size = sizeof(struct dl_shared) + exp_bytes + 2 * DL_PAGE;
	vo.pt_pages = 1024 + 2 * kmmu_pt_pages_for(DL_MEM_PAGES * DL_PAGE);
	if (c->mode == DL_RING)
		vo.dirty_ring_entries = dl_opts.ring_entries;
	r = __kmmu_vm_create(&c->vm, &vo, c->err, sizeof(c->err));
	if (r == -EOPNOTSUPP)
		return 1;
	if (r)
		return -1;
	if (c->mode == DL_CLEAR || c->mode == DL_CLEAR_INIT) {
		uint64_t want = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
				(c->mode == DL_CLEAR_INIT ? KVM_DIRTY_LOG_INITIALLY_SET : 0);

		caps = kmmu_kvm_cap(kmmu_vm_fd(c->vm), KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
		if (caps <= 0 || (caps & want) != want) {
			snprintf(c->err, sizeof(c->err), "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is %ld: no %s",
				 caps, c->mode == DL_CLEAR_INIT ? "KVM_DIRTY_LOG_INITIALLY_SET" :
				 "manual protect");
			return 1;
		}
		r = kmmu_vm_enable_cap(c->vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, want);
		if (r)
			return dl_fail(c, "enabling KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 %#llx: %s",
				       (unsigned long long)want, strerror(-r));
	}
	if (DL_GPA + DL_MEM_PAGES * DL_PAGE > 1ULL << kmmu_vm_phys_bits(c->vm))
		return dl_fail(c, "guest MAXPHYADDR %u too small", kmmu_vm_phys_bits(c->vm));
	r = dl_alloc(c);
	if (r)
		return r;
	c->sh = kmmu_vm_alloc_shared(c->vm, sizeof(*c->sh), &gva);
	c->exp = c->sh ? kmmu_vm_alloc_shared(c->vm, exp_bytes, &exp_gva) : NULL;
	if (!c->exp)
		return dl_fail(c, "shared memory");
	c->sh->exp_gva = exp_gva;
	c->sh->nr_vcpus = c->nr_vcpus;
	c->sh->seed = c->rng;
	r = __kmmu_vm_map(c->vm, DL_GPA, DL_GPA, DL_DATA_MAP, KMMU_MAP_WRITE | KMMU_MAP_NX | map);
	if (!r)
		r = __kmmu_vm_map(c->vm, DL_GPA + DL_DATA_MAP, DL_GPA + DL_DATA_MAP,
				  DL_MEM_PAGES * DL_PAGE - DL_DATA_MAP, KMMU_MAP_NX | map);
	if (r)
		return dl_fail(c, "guest mappings: %s", strerror(-r));
	for (i = 0; i < DL_NR_SLOTS; i++)
		if (dl_create(c, i, 0))
			return -1;
	c->creates = 0;
	kmmu_gate_init(&c->gate);
	c->gate_init = true;
	kmmu_vm_set_handlers(c->vm, &h);
	dl_stats_open(c);
	r = __kmmu_vm_start(c->vm, dl_guest, (void *)(uintptr_t)gva);
	if (r)
		return dl_fail(c, "starting the vCPUs: %s", strerror(-r));
	/* The guest's first GUEST_SYNC. */
	c->arrivals = c->nr_vcpus;
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r)
		return dl_fail(c, "vCPUs did not start: %s",
			       r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return 0;
}

/* Every page once with logging off: KVM maps it (2M where the backing allows). */
static int dl_sweep(struct dl_ctx *c)
{
	if (dl_next_gen(c))
		return -1;
	dl_resume(c, DL_CMD_SWEEP);
	c->arrivals += c->nr_vcpus;
	if (kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120))
		return dl_fail(c, "the sweep did not finish: %s", kmmu_vm_errors(c->vm));
	memcpy(c->snap, c->exp, (size_t)c->nr_vcpus * DL_DATA_PAGES * 8);
	return 0;
}

/* 2M pages the data regions could have: A's two, B's two whole ones. */
#define DL_DATA_HUGE_REGIONS 4

/* Populate with logging off; the huge variants need KVM to have mapped 2M. 1: skip. */
static int dl_populate(struct dl_ctx *c)
{
	uint64_t x;

	if (dl_sweep(c))
		return -1;
	c->pages_2m_populated = dl_vm_stat(c, "pages_2m");
	if (c->backing != DL_4K && c->pages_2m_populated < DL_DATA_HUGE_REGIONS) {
		snprintf(c->err, sizeof(c->err), "KVM mapped %lld 2M pages after the guest touched all memory (pages_2m; at least %d expected): the %s backing gave no huge pages",
			 (long long)c->pages_2m_populated, DL_DATA_HUGE_REGIONS,
			 dl_backing_names[c->backing]);
		return 1;
	}
	c->pf_taken_ok = dl_vcpu_stat(c, "pf_taken", &x);
	c->pf_taken0 = x;
	return 0;
}

/*
 * Everything back and logged, a last round harvested with the vCPUs
 * parked (every change strict), logging off with flags-only updates, and
 * with huge backing a sweep after which KVM must map 2M again.
 */
static int dl_finish(struct dl_ctx *c)
{
	uint64_t bm[kmmu_dirty_bitmap_words(DL_MEM_PAGES)], taken;
	int i, r;

	for (i = 0; i < DL_NR_SLOTS; i++) {
		if (!c->slot[i].present && dl_create(c, i, KVM_MEM_LOG_DIRTY_PAGES))
			return -1;
		if (!c->slot[i].logging && dl_set_logging(c, i, true))
			return -1;
	}
	if (dl_iteration(c, true))
		return -1;
	if (c->mode == DL_RING)
		taken = c->ring_entries;
	else
		taken = c->reports;
	if (c->pf_taken_ok) {
		uint64_t now;

		dl_vcpu_stat(c, "pf_taken", &now);
		if (taken > now - c->pf_taken0)
			return dl_fail(c, "%llu %s needed a guest fault each, but KVM counted only %llu faults (pf_taken) meanwhile",
				       (unsigned long long)taken,
				       c->mode == DL_RING ? "dirty ring entries" : "dirty reports",
				       (unsigned long long)(now - c->pf_taken0));
	}
	for (i = 0; i < DL_NR_SLOTS; i++) {
		if (dl_set_logging(c, i, false))
			return -1;
		r = kmmu_vm_get_dirty_log(c->vm, c->slot[i].id, bm);
		if (c->mode != DL_RING && r != -ENOENT)
			return dl_fail(c, "KVM_GET_DIRTY_LOG of slot %s after logging went off returned %s, not ENOENT",
				       dl_slot_names[i], r ? strerror(-r) : "success");
	}
	if (c->backing != DL_4K) {
		if (dl_sweep(c))
			return -1;
		c->pages_2m_recovered = dl_vm_stat(c, "pages_2m");
		if (c->pages_2m_recovered < DL_DATA_HUGE_REGIONS)
			return dl_fail(c, "after logging went off and the guest wrote every page again, KVM maps only %lld 2M pages (pages_2m; %lld before logging, %d data regions): huge pages were not recovered",
				       (long long)c->pages_2m_recovered,
				       (long long)c->pages_2m_populated, DL_DATA_HUGE_REGIONS);
	}
	dl_resume(c, DL_CMD_QUIT);
	r = __kmmu_vm_wait(c->vm, 60);
	if (r)
		return dl_fail(c, "vCPUs did not finish: %s",
			       r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return 0;
}

/* ---- the test over interfaces and backings ---- */

FIXTURE(dirty) {
	struct dl_ctx *c;
	struct kmmu_test_run run;	/* the hygiene baseline; the VM is c->vm */
	struct kmmu_janitor jan;
	bool jan_started;
};

FIXTURE_VARIANT(dirty) {
	enum dl_mode mode;
	enum dl_backing backing;
};

#define DL_VARIANT(name, m, b)					\
	FIXTURE_VARIANT_ADD(dirty, name) { .mode = m, .backing = b }

DL_VARIANT(get_4k, DL_GET, DL_4K);
DL_VARIANT(get_thp, DL_GET, DL_THP);
DL_VARIANT(get_hugetlb, DL_GET, DL_HUGETLB);
DL_VARIANT(clear_4k, DL_CLEAR, DL_4K);
DL_VARIANT(clear_thp, DL_CLEAR, DL_THP);
DL_VARIANT(clear_hugetlb, DL_CLEAR, DL_HUGETLB);
DL_VARIANT(clear_init_4k, DL_CLEAR_INIT, DL_4K);
DL_VARIANT(clear_init_thp, DL_CLEAR_INIT, DL_THP);
DL_VARIANT(clear_init_hugetlb, DL_CLEAR_INIT, DL_HUGETLB);
DL_VARIANT(ring_4k, DL_RING, DL_4K);
DL_VARIANT(ring_thp, DL_RING, DL_THP);
DL_VARIANT(ring_hugetlb, DL_RING, DL_HUGETLB);

FIXTURE_SETUP(dirty)
{
	KMMU_TEST_REQUIRE_KVM();
	if (!dl_opts.modes[variant->mode] || !dl_opts.backings[variant->backing])
		SKIP(return, "not selected (-M %s -B %s)", dl_mode_names[variant->mode],
		     dl_backing_names[variant->backing]);
	kmmu_test_run_start(&self->run, NULL);
}

FIXTURE_TEARDOWN(dirty)
{
	struct dl_ctx *c = self->c;
	uint64_t fast = 0, fixed = 0;

	if (c) {
		/* vCPUs at the gate, now or later, must be let go to be joined. */
		if (c->gate_init)
			kmmu_gate_finish(&c->gate, DL_CMD_QUIT);
		dl_vcpu_stat(c, "pf_fast", &fast);
		dl_vcpu_stat(c, "pf_fixed", &fixed);
		dl_stats_close(c);
		kmmu_vm_destroy(c->vm);
		c->vm = NULL;
		if (c->raw)
			munmap(c->raw, c->raw_size);
		if (c->harvests)
			ksft_print_msg("%s/%s: %ld harvests; %ld written pages reported (%ld checked strictly), %ld owed to the next harvest, %ld extra reports, %ld on guest-read-only pages, %ld writes untracked (logging off); logging on %ld off %ld, slots deleted %ld re-created %ld; %ld CLEAR calls (%ld partial); ring: %ld entries, %ld RING_FULL exits, %ld stale; faults: pf_fixed %llu pf_fast %llu; pages_2m: %lld with logging off, %lld logging, %lld after; seconds: VM %.2f, populate %.2f, rounds %.2f, finish %.2f\n",
				       dl_mode_names[c->mode], dl_backing_names[c->backing],
				       c->harvests, c->reported, c->strict, c->owed, c->extras,
				       c->ro_extras, c->untracked, c->toggles_on, c->toggles_off,
				       c->deletes, c->creates, c->clear_calls, c->partial_clears,
				       c->ring_entries, c->ring_full_exits, c->ring_stale,
				       (unsigned long long)fixed, (unsigned long long)fast,
				       (long long)c->pages_2m_populated,
				       (long long)c->pages_2m_logging,
				       (long long)c->pages_2m_recovered,
				       c->t_started - c->t0, c->t_populated - c->t_started,
				       c->t_rounds - c->t_populated, c->t_done - c->t_rounds);
		dl_ctx_free(c);
		self->c = NULL;
	}
	if (self->jan_started) {
		if (kmmu_janitor_undo(&self->jan))
			TH_LOG("restoring vm.nr_hugepages failed");
		kmmu_janitor_stop(&self->jan);
	}
	KMMU_TEST_END(&self->run);
}

KMMU_TEST_F(dirty, log, 300)
{
	struct dl_ctx *c;
	int r;

	c = calloc(1, sizeof(*c));
	ASSERT_NE(NULL, c);
	self->c = c;
	c->t0 = kmmu_now();
	ASSERT_EQ(0, dl_ctx_init(c, variant->mode, variant->backing)) TH_LOG("%s", c->err);
	if (variant->backing == DL_HUGETLB) {
		r = dl_hugetlb_reserve(c, &self->jan, &self->jan_started);
		if (r > 0)
			SKIP(return, "%s", c->err);
		ASSERT_EQ(0, r) TH_LOG("%s", c->err);
	}
	r = dl_start(c);
	if (r > 0)
		SKIP(return, "%s", c->err);
	ASSERT_EQ(0, r) TH_LOG("%s", c->err);
	c->t_started = kmmu_now();
	r = dl_populate(c);
	c->t_populated = kmmu_now();
	if (r > 0)
		SKIP(return, "%s", c->err);
	ASSERT_EQ(0, r) TH_LOG("%s", c->err);
	/* Braces: ASSERT_EQ() is two statements. */
	for (c->iter = 0; c->iter < dl_opts.iterations; c->iter++) {
		ASSERT_EQ(0, dl_iteration(c, false)) TH_LOG("%s", c->err);
	}
	c->t_rounds = kmmu_now();
	ASSERT_EQ(0, dl_finish(c)) TH_LOG("%s", c->err);
	c->t_done = kmmu_now();
	/* With the injection the run must have failed above: say why not. */
	if (dl_opts.inject)
		TH_LOG("KMMU_DIRTY_INJECT=%s: %s", dl_opts.inject,
		       c->inject_done ? "the dropped page went unnoticed" :
		       "no harvest had a page to drop");
}

/* ---- the dirty ring's soft limit ---- */

#define RF_PAGES_PER_ENTRY 4	/* pages written: 4x the ring's entries */

struct rf_ctx {
	uint32_t slot, entries, soft;
	uint64_t npages;
	uint8_t *seen;
	long exits, total, round;
	char err[256];
};

static void rf_gfn(void *ctx, uint32_t slot, uint64_t off)
{
	struct rf_ctx *c = ctx;

	c->total++;
	c->round++;
	if (slot != c->slot || off >= c->npages) {
		if (!c->err[0])
			snprintf(c->err, sizeof(c->err), "dirty ring entry for memslot %#x offset %llu: the guest wrote pages 0..%llu of memslot %#x",
				 slot, (unsigned long long)off,
				 (unsigned long long)c->npages - 1, c->slot);
		return;
	}
	c->seen[off] = 1;
}

static int rf_exit(struct kmmu_vcpu *vcpu, uint32_t reason, void *ctx)
{
	struct rf_ctx *c = ctx;
	int n, r;

	if (reason != KVM_EXIT_DIRTY_RING_FULL)
		return -1;
	c->round = 0;
	n = kmmu_vcpu_dirty_ring_collect(vcpu, rf_gfn, c);
	if (n < 0 || c->err[0]) {
		kmmu_vcpu_fail(vcpu, "collecting the ring: %s", n < 0 ? strerror(-n) : c->err);
		return 0;
	}
	if ((uint32_t)n < c->soft || (uint32_t)n > c->entries) {
		kmmu_vcpu_fail(vcpu, "KVM_EXIT_DIRTY_RING_FULL with %d entries in the ring: want its soft limit %u to %u (its size)",
			       n, c->soft, c->entries);
		return 0;
	}
	r = kmmu_vm_reset_dirty_rings(kmmu_vcpu_vm(vcpu));
	if (r != n) {
		kmmu_vcpu_fail(vcpu, "KVM_RESET_DIRTY_RINGS reset %d entries (%s), %d were collected",
			       r, r < 0 ? strerror(-r) : "ok", n);
		return 0;
	}
	c->exits++;
	return 1;
}

static void rf_guest(uint32_t v, void *arg)
{
	uint64_t n = (uint64_t)arg, p;

	for (p = 0; p < n; p++)
		*(volatile uint64_t *)(DL_GPA + p * DL_PAGE) = p + 1;
}

/* kvm_intel with PML reserves its 512-entry buffer in every ring too. */
static uint32_t rf_reserved(void)
{
	return 64 + (dl_pml() ? 512 : 0);
}

TEST(dirty_ring_full)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = 1 };
	struct rf_ctx c = { .slot = KMMU_SLOT_FIRST_FREE };
	struct kmmu_vm_handlers h = { .exit = rf_exit, .ctx = &c };
	struct kmmu_vm *vm = NULL;
	uint64_t bm[1], p, missing = 0;
	struct kmmu_mem mem = { .fd = -1 };
	char err[512], why[256];
	int fd, r;

	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd < 0)
		SKIP(return, "%s", why);
	if (kmmu_kvm_cap(fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL) <= 0 &&
	    kmmu_kvm_cap(fd, KVM_CAP_DIRTY_LOG_RING) <= 0) {
		close(fd);
		SKIP(return, "KVM has no dirty ring (KVM_CAP_DIRTY_LOG_RING)");
	}
	close(fd);
	if (!dl_opts.modes[DL_RING])
		SKIP(return, "not selected (-M ring)");
	/* The smallest ring KVM takes: a page, and more than the reserved entries. */
	for (c.entries = 256; c.entries <= 4096; c.entries *= 2) {
		vo.dirty_ring_entries = c.entries;
		r = __kmmu_vm_create(&vm, &vo, err, sizeof(err));
		if (r != -EINVAL)
			break;
	}
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	c.soft = c.entries - rf_reserved();
	c.npages = RF_PAGES_PER_ENTRY * c.entries;
	c.seen = calloc(c.npages, 1);
	ASSERT_NE(NULL, c.seen);
	r = kmmu_mem_alloc(&mem, c.npages * DL_PAGE, KMMU_BACKING_ANON, -1);
	ASSERT_EQ(0, r);
	madvise(mem.hva, mem.size, MADV_NOHUGEPAGE);
	kmmu_vm_map(vm, DL_GPA, DL_GPA, mem.size, KMMU_MAP_WRITE | KMMU_MAP_NX);
	kmmu_slot_add(vm, c.slot, DL_GPA, mem.size, mem.hva, KVM_MEM_LOG_DIRTY_PAGES);
	r = kmmu_vm_get_dirty_log(vm, c.slot, bm);
	EXPECT_EQ(-ENXIO, r) TH_LOG("KVM_GET_DIRTY_LOG with a dirty ring: %s, not ENXIO",
				    r ? strerror(-r) : "success");
	r = kmmu_vm_clear_dirty_log(vm, c.slot, bm, 0, 64);
	EXPECT_EQ(-ENXIO, r) TH_LOG("KVM_CLEAR_DIRTY_LOG with a dirty ring: %s, not ENXIO",
				    r ? strerror(-r) : "success");
	kmmu_vm_set_handlers(vm, &h);
	kmmu_vm_start(vm, rf_guest, (void *)(uintptr_t)c.npages);
	r = __kmmu_vm_wait(vm, 120);
	ASSERT_EQ(0, r) TH_LOG("%s", kmmu_vm_errors(vm));
	/* What is left after the last exit: below the soft limit. */
	c.round = 0;
	r = kmmu_vcpu_dirty_ring_collect(kmmu_vm_vcpu(vm, 0), rf_gfn, &c);
	ASSERT_LE(0, r);
	EXPECT_EQ(0, c.err[0]) TH_LOG("%s", c.err);
	EXPECT_GT(c.soft, (uint32_t)r) TH_LOG("%d entries left in the ring after the guest finished: KVM should have exited with KVM_EXIT_DIRTY_RING_FULL at %u",
					      r, c.soft);
	EXPECT_EQ(r, kmmu_vm_reset_dirty_rings(vm));
	for (p = 0; p < c.npages; p++)
		missing += !c.seen[p];
	EXPECT_EQ(0, missing) TH_LOG("%llu of the %llu pages the guest wrote were in no dirty ring entry",
				     (unsigned long long)missing, (unsigned long long)c.npages);
	/* Each exit takes at most the ring's entries, at least the soft limit's. */
	EXPECT_LE((c.total - r + c.entries - 1) / c.entries, c.exits);
	EXPECT_GE(c.total / c.soft, c.exits);
	ksft_print_msg("dirty ring of %u entries (soft limit %u): %llu pages written once, %ld entries collected, %ld KVM_EXIT_DIRTY_RING_FULL\n",
		       c.entries, c.soft, (unsigned long long)c.npages, c.total, c.exits);
	kmmu_vm_destroy(vm);
	kmmu_mem_free(&mem);
	free(c.seen);
}

/* ---- errnos of the dirty-log ioctls ---- */

TEST(dirty_log_errnos)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = 1 };
	const uint32_t slot = KMMU_SLOT_FIRST_FREE, npages = 64 + 3;
	struct kmmu_vm *vm = NULL;
	struct kmmu_mem mem = { .fd = -1 };
	uint64_t bm[2] = { ~0ULL, ~0ULL };
	char why[256];
	long caps;
	int fd, r;
	static const struct {
		uint64_t first;
		uint32_t num;
		int ret;
		const char *what;
	} clears[] = {
		{ 1, 64, -EINVAL, "first_page not 64-aligned" },
		{ 0, 65, -EINVAL, "num_pages not a multiple of 64 short of the end" },
		{ 0, 68, -EINVAL, "beyond the slot's end" },
		{ 64, 4, -EINVAL, "beyond the slot's end from 64" },
		{ 128, 0, -EINVAL, "first_page beyond the slot" },
		{ 64, 3, 0, "the unaligned tail" },
		{ 0, 64, 0, "the first 64 pages" },
		{ 0, 67, 0, "the whole slot" },
	};
	size_t i;

	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd < 0)
		SKIP(return, "%s", why);
	close(fd);
	kmmu_vm_create(&vm, &vo);
	ASSERT_EQ(0, kmmu_mem_alloc(&mem, npages * DL_PAGE, KMMU_BACKING_ANON, -1));
	kmmu_slot_add(vm, slot, DL_GPA, mem.size, mem.hva, 0);
	EXPECT_EQ(-ENOENT, kmmu_vm_get_dirty_log(vm, slot, bm)) TH_LOG("GET, logging off");
	EXPECT_EQ(-ENOENT, kmmu_vm_get_dirty_log(vm, slot + 1, bm)) TH_LOG("GET, no such slot");
	EXPECT_EQ(-EINVAL, kmmu_vm_reset_dirty_rings(vm)) TH_LOG("KVM_RESET_DIRTY_RINGS, no ring");
	ASSERT_EQ(0, kmmu_slot_set_flags(vm, slot, KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, kmmu_vm_get_dirty_log(vm, slot, bm));
	/* No guest ran: nothing dirty, and nothing beyond the last page ever. */
	EXPECT_EQ(0, bm[0]);
	EXPECT_EQ(0, bm[1]);
	caps = kmmu_kvm_cap(kmmu_vm_fd(vm), KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (caps > 0 && (caps & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		ASSERT_EQ(0, kmmu_vm_enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
						KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE));
		for (i = 0; i < sizeof(clears) / sizeof(clears[0]); i++) {
			bm[0] = bm[1] = ~0ULL;
			r = kmmu_vm_clear_dirty_log(vm, slot, bm, clears[i].first, clears[i].num);
			EXPECT_EQ(clears[i].ret, r)
				TH_LOG("KVM_CLEAR_DIRTY_LOG first_page %llu num_pages %u (%s) of a %u-page slot: %s",
				       (unsigned long long)clears[i].first, clears[i].num,
				       clears[i].what, npages, r ? strerror(-r) : "success");
		}
		ASSERT_EQ(0, kmmu_slot_set_flags(vm, slot, 0));
		EXPECT_EQ(-ENOENT, kmmu_vm_clear_dirty_log(vm, slot, bm, 0, 64))
			TH_LOG("CLEAR, logging off");
	} else {
		ksft_print_msg("no KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: KVM_CLEAR_DIRTY_LOG not checked\n");
	}
	if (kmmu_kvm_cap(kmmu_vm_fd(vm), KVM_CAP_DIRTY_LOG_RING) > 0) {
		r = kmmu_vm_enable_cap(vm, KVM_CAP_DIRTY_LOG_RING, 4096);
		EXPECT_EQ(-EINVAL, r) TH_LOG("a dirty ring enabled after the vCPUs were created: %s",
					     r ? strerror(-r) : "success");
	}
	kmmu_vm_destroy(vm);
	kmmu_mem_free(&mem);
}

/* ---- command line ---- */

static void dl_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-v vcpus] [-n iterations] [-i ms] [-r entries] [-S seed]\n"
		"          [-M modes] [-B backings] [-h]\n"
		"  -v  vCPUs, one per host CPU as far as they go (default 2, 2 to %d)\n"
		"  -n  harvest rounds per interface and backing (default 12)\n"
		"  -i  mean pause between harvests in ms (default 20; each pause 0.5x-1.5x)\n"
		"  -r  dirty ring entries per vCPU, a power of two (default 256)\n"
		"  -S  random seed (default: time based; always printed)\n"
		"  -M  interfaces, comma separated: get, clear, clear-init, ring (default all)\n"
		"  -B  backings, comma separated: 4k, thp, hugetlb (default all; hugetlb\n"
		"      raises vm.nr_hugepages for the test where root and needed)\n"
		"$KMMU_DIRTY_INJECT=drop-one hides a page the guest wrote from every harvest\n"
		"(the test must then fail: a check of the test itself)\n",
		prog, KMMU_MAX_VCPUS);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = "dirty_log_test";
	char why[256];
	cpu_set_t set;
	bool seeded = false;
	uint64_t u;
	int opt, fd, i;

	for (i = 0; i < DL_NR_MODES; i++)
		dl_opts.modes[i] = true;
	for (i = 0; i < DL_NR_BACKINGS; i++)
		dl_opts.backings[i] = true;
	while ((opt = kmmu_getopt(prog, argc, argv, ":v:n:i:r:S:M:B:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			if (kmmu_parse_u64(optarg, 2, KMMU_MAX_VCPUS, &u))
				kmmu_usage_error(prog, "-v wants a vCPU count from 2 to 64");
			dl_opts.vcpus = u;
			break;
		case 'n':
			if (kmmu_parse_u64(optarg, 1, 100000, &u))
				kmmu_usage_error(prog, "-n wants a round count from 1 to 100000");
			dl_opts.iterations = u;
			break;
		case 'i':
			if (kmmu_parse_seconds(optarg, 0, 10000, &dl_opts.interval_ms))
				kmmu_usage_error(prog, "-i wants milliseconds from 0 to 10000");
			break;
		case 'r':
			/* KVM's smallest ring is a page. */
			if (kmmu_parse_u64(optarg, 256, 65536, &u) || (u & (u - 1)))
				kmmu_usage_error(prog, "-r wants a power of two from 256 to 65536");
			dl_opts.ring_entries = u;
			break;
		case 'S':
			if (kmmu_parse_u64(optarg, 0, ~0ULL, &dl_opts.seed))
				kmmu_usage_error(prog, "-S wants an unsigned 64-bit seed");
			seeded = true;
			break;
		case 'M':
			if (kmmu_parse_names(optarg, dl_mode_names, DL_NR_MODES, dl_opts.modes) < 0)
				kmmu_usage_error(prog, "-M wants interfaces from get, clear, clear-init, ring (comma separated)");
			break;
		case 'B':
			if (kmmu_parse_names(optarg, dl_backing_names, DL_NR_BACKINGS, dl_opts.backings) < 0)
				kmmu_usage_error(prog, "-B wants backings from 4k, thp, hugetlb (comma separated)");
			break;
		case 'h':
			dl_usage(stdout, prog);
			return 0;
		}
	}
	dl_opts.inject = getenv("KMMU_DIRTY_INJECT");
	if (dl_opts.inject && strcmp(dl_opts.inject, "drop-one"))
		kmmu_usage_error(prog, "KMMU_DIRTY_INJECT wants drop-one");
	if (!seeded)
		dl_opts.seed = kmmu_time_seed();
	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd >= 0)
		close(fd);
	kmmu_test_header(prog, "vcpus %d rounds %d interval %.3g ms ring %u seed %llu%s%s",
			 dl_opts.vcpus, dl_opts.iterations, dl_opts.interval_ms,
			 dl_opts.ring_entries, (unsigned long long)dl_opts.seed,
			 dl_opts.inject ? " INJECTED BUG: " : "", dl_opts.inject ? dl_opts.inject : "");
	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2)
		printf("# only one CPU: the vCPUs take turns, so harvests never race with guest writes\n");
	else
		printf("# %d CPUs: vCPU v runs on CPU v %% %d\n", CPU_COUNT(&set), CPU_COUNT(&set));
	if (dl_pml())
		printf("# kvm_intel uses PML: a write may be reported one harvest late, checked so\n");
	if (fd < 0)
		ksft_exit_skip("%s\n", why);
	/* Rounds, their pauses and parks, VM setup: generous for TCG. */
	KMMU_TEST_TIMEOUT(dirty, log, 120 + dl_opts.iterations *
			  (3 + (int)(dl_opts.interval_ms / 500)));
	return test_harness_run(argc, argv);
}
