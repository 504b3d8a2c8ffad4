// SPDX-License-Identifier: GPL-2.0
/*
 * zap_race_test: memslot updates whose zap races vCPUs that fault, with
 * thousands of shadow pages into the slot.  No SPTE of a deleted or
 * moved slot may survive the update: not in an obsolete shadow page a
 * fast zap left on the list, not in one the zap never reached.
 *
 * On the shadow MMU every DELETE and MOVE is a fast zap (in 6.1):
 * kvm_mmu_zap_all_fast() makes every shadow page obsolete (mmu_valid_gen
 * toggles) and kvm_zap_obsolete_pages() walks active_mmu_pages from the
 * tail, zapping obsolete pages until it meets the first valid one; every
 * 10 zapped pages it drops mmu_lock if the lock is contended (a vCPU
 * reloading its root, or faulting; rwlock_needbreak() needs
 * CONFIG_PREEMPTION, which Debian's PREEMPT_DYNAMIC 6.1 has) or the CPU
 * should reschedule, and restarts from the tail.  A walk that stops early (new pages in the
 * wrong place of the list, ci/mutants/patches/007; a wrong generation
 * check) leaves obsolete pages with SPTEs and rmaps into the slot that is
 * gone.  They do harm later: zapped by the next fast zap, by reclaim or
 * at VM teardown, rmap_remove() looks the gfn up in a slot that is gone
 * (an Oops) or in a new instance of it that has no rmap for the SPTE (a
 * BUG); with the generation toggled back they count as valid again, and a
 * fault that looks its guest page table up links the old page, SPTEs to
 * the slot's old memory and all, into the new tree.  What such a walk
 * leaves matters only if it maps the slot that goes, and with a few
 * dozen shadow pages there is little to leave.  So:
 *
 * The guest maps the slot's pages again and again, in every 2M of a range
 * of -t 2M chunks (default ZR_TABLES): one guest page table per chunk, so
 * one shadow page per chunk, each with 8 SPTEs into the slot (one read
 * faults one in, the shadow MMU prefetches the other accessed entries of
 * its group of 8), while guest memory stays small (the tables, and 8
 * pages for every 256 chunks: more chunks per page would pass the shadow
 * MMU's RMAP_RECYCLE_THRESHOLD, 1000 SPTEs of a gfn, and a fault would
 * zap them all).  Two vCPUs read one word of every chunk in a
 * loop, one upwards and one downwards, so they fault all the time on a
 * freshly zapped MMU.  The host makes KVM_SET_NR_MMU_PAGES large enough
 * for all of them (the default, 2% of the VM's memory, would recycle
 * them), then, in rounds, each time after a vCPU made a whole pass over
 * the chunks since the last update (every chunk shadowed again):
 *   1. DELETEs the data slot and re-adds it at the same gpa with the
 *      other of two host buffers, holding the next version;
 *   2. MOVEs it to a gpa the guest never maps and back, writing the next
 *      version into it meanwhile;
 *   3. shrinks KVM_SET_NR_MMU_PAGES to the minimum (64: reclaim zaps the
 *      oldest pages under the vCPUs) and restores it;
 *   4. parks the vCPUs outside KVM_RUN and DELETEs the slot once more:
 *      with no vCPU to fault, nothing may be left after the zap, so KVM's
 *      pages_4k + pages_2m + pages_1g must read 0; then re-adds it.  (A
 *      DELETE zaps every SPTE of the VM, not only the slot's: so in 6.1,
 *      and later with KVM_X86_QUIRK_SLOT_ZAP_ALL, which is on unless the
 *      VMM turns it off; this test does not.)
 * A seqlock in shared memory (odd while an update runs, else 2 * the
 * version) lets the guest judge a read that saw no update begin or end:
 * it must read that version of its page; anything else fails the guest
 * with what it read (an older version is the slot's old memory through a
 * stale SPTE; the MMIO poison, an exit while the slot was there).  Reads
 * that overlap an update (retried faults on the invalid slot, then MMIO
 * exits, which the host completes with the poison) are counted only.  The
 * run's kernel log must stay clean (the hygiene check), through the VM's
 * teardown, which zaps everything left.  Where it can trace (root,
 * tracefs), the run is checked against the reference (tracing/checker):
 * there ZAP_ON_REMOVE judges each DELETE and MOVE as it returns, on the
 * shadow MMU from the kprobe on mmu_spte_clear_track_bits(): every leaf
 * of the slot's gfns must have been dropped by then, so a walk that
 * stopped early fails the run, Oops or not.
 *
 * What the run prints shows whether the race ran: per kind of update,
 * how many, the leaf SPTEs KVM held before each (pages_4k...), the
 * shadow pages zapped (mmu_shadow_zapped) and, while the update's ioctls
 * ran, the shadow pages the vCPUs made (mmu_cache_miss) and the faults
 * they took (pf_taken).  Pages made during the ioctl may come before or
 * after the zap's walk as well as from a yield in it; the yield itself
 * shows only in the trace, and a traced run counts it (zr_walks()): the
 * walks, the pages each zapped, and those in which a vCPU took mmu_lock
 * between two of the walk's pages.  In the test VM (2 CPUs, TCG) every
 * racing DELETE's and MOVE's walk was so interrupted, after 11 to 186 of
 * its ~2060 pages (where the vCPU made its new root); the parked DELETE's
 * walk never was.
 *
 * TDP MMU: the fast zap invalidates the roots under mmu_lock and zaps
 * them with the lock shared while vCPUs fault on new roots; there the
 * test checks the same things (no SPTE left after the parked DELETE, no
 * stale read, ZAP_ON_REMOVE from kvm_tdp_mmu_spte_changed, a clean
 * kernel log), with leaf SPTEs (about 2100: the guest's page tables, the
 * slot, the runtime's pages) and faults as the race's numbers, and from
 * the trace the roots' page tables each zap freed and the zaps the vCPUs
 * faulted in the middle of; KVM_SET_NR_MMU_PAGES has nothing to reclaim,
 * and shadow pages made are not counted (mmu_cache_miss is the shadow
 * MMU's).
 *
 * Options: -d S seconds of rounds (at least one round; default 4), -t N
 * guest page tables (chunks), -v vCPUs, --no-check (no trace, no checker:
 * the race at full speed, judged by data, stats and the kernel log).  $KMMU_ZAP_INJECT plants a bug in
 * the test, which must then fail: "keep" (the parked DELETE of round 0
 * is skipped, as if its zap had left every SPTE) fails the check that
 * nothing is left; "stale" (once, the re-added buffer holds the previous
 * version, as the slot's old memory read through a stale SPTE) fails the
 * guest's read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/clock.h"
#include "kmmu/gate.h"
#include "kmmu/host_probe.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/checker.h"
#include "kmmu/opts.h"
#include "kmmu/trace_log.h"
#include "kmmu/trace_session.h"

#define ZR_SLOT			KMMU_SLOT_FIRST_FREE
#define ZR_DATA_GPA		KMMU_GPA_TEST
/* A chunk maps a group of PTE_PREFETCH_NUM pages: one fault maps them all. */
#define ZR_GROUP_PAGES		8
/*
 * Chunks per group at most: each page of a group then has at most this
 * many SPTEs, below the shadow MMU's RMAP_RECYCLE_THRESHOLD (1000), past
 * which a fault zaps every SPTE of the gfn and the chunks would hold few.
 */
#define ZR_CHUNKS_PER_GROUP	256
/* Where MOVE takes the slot: never mapped in the guest. */
#define ZR_ALT_GPA		(KMMU_GPA_TEST + (1ULL << 30))
/* The aliased range: chunk t at ZR_ALIAS_GVA + t * 2M. */
#define ZR_ALIAS_GVA		0x10000000000ULL
#define ZR_TABLES		2048
#define ZR_MIN_TABLES		64
#define ZR_MAX_TABLES		32768
#define ZR_MAX_VCPUS		8
/* KVM_MIN_ALLOC_MMU_PAGES: the smallest KVM_SET_NR_MMU_PAGES. */
#define ZR_MIN_MMU_PAGES	64
/* What the host completes an MMIO read with: never a version's pattern. */
#define ZR_POISON		(~0ULL)
#define ZR_PASS_TIMEOUT		120	/* seconds for a pass after an update */

/* The gate's commands. */
#define ZR_GO			1
#define ZR_QUIT			2

/* What the host writes into word 0 of data page @p as version @v. */
static inline uint64_t zr_pattern(uint64_t p, uint64_t v)
{
	return 0x2aULL << 56 | p << 40 | v;
}

struct zr_vcpu_counts {
	uint64_t passes;	/* over every chunk */
	uint64_t judged;	/* reads between two equal even sequence numbers */
	uint64_t racy;		/* reads that overlapped an update */
};

/* Shared by the guest and the host (the runtime's shared region). */
struct zr_shared {
	uint64_t seq;		/* odd while the host updates the slot, else 2 * version */
	uint64_t park;		/* the host wants every vCPU at the gate */
	uint64_t tables;
	uint64_t groups;	/* chunk t maps group t % groups */
	struct zr_vcpu_counts vc[ZR_MAX_VCPUS];
};

static struct {
	int vcpus;
	double duration;
	uint64_t tables;
	int inject;		/* ZR_INJECT_* */
	bool no_check;		/* --no-check: no trace session for the checker */
} zr_opts = { .vcpus = 2, .duration = 4, .tables = ZR_TABLES };

enum { ZR_INJECT_NONE, ZR_INJECT_KEEP, ZR_INJECT_STALE };

static uint64_t zr_groups(void)
{
	return (zr_opts.tables + ZR_CHUNKS_PER_GROUP - 1) / ZR_CHUNKS_PER_GROUP;
}

static uint64_t zr_data_pages(void)
{
	return zr_groups() * ZR_GROUP_PAGES;
}

static uint64_t zr_data_size(void)
{
	return zr_data_pages() * KMMU_PAGE_SIZE;
}

/* ---- the guest ---- */

static void g_main(uint32_t id, void *arg)
{
	struct zr_shared *sh = arg;
	struct zr_vcpu_counts *c = &sh->vc[id];
	uint64_t i, t, p, gva, s1, s2, w, want, n = sh->tables, g = sh->groups;

	for (;;) {
		if (__atomic_load_n(&sh->park, __ATOMIC_ACQUIRE)) {
			if (GUEST_SYNC(0) == ZR_QUIT)
				GUEST_DONE();
			continue;
		}
		for (i = 0; i < n; i++) {
			if (__atomic_load_n(&sh->park, __ATOMIC_RELAXED))
				break;
			t = id & 1 ? n - 1 - i : i;
			/* A page of its group; the next chunk of the group reads the next. */
			p = t / g % ZR_GROUP_PAGES;
			gva = ZR_ALIAS_GVA + t * KMMU_HPAGE_SIZE + p * KMMU_PAGE_SIZE;
			p += t % g * ZR_GROUP_PAGES;
			s1 = __atomic_load_n(&sh->seq, __ATOMIC_ACQUIRE);
			w = *(volatile uint64_t *)gva;
			/* x86 keeps loads in order; the compiler must too. */
			__asm__ volatile("" ::: "memory");
			s2 = __atomic_load_n(&sh->seq, __ATOMIC_ACQUIRE);
			if (s1 != s2 || (s1 & 1)) {
				c->racy++;
				continue;
			}
			c->judged++;
			want = zr_pattern(p, s1 / 2);
			if (w != want)
				GUEST_FAIL("chunk %lu (gva %#lx, data page %lu): read %#lx after slot update %lu was done, expected %#lx",
					   t, gva, p, w, s1 / 2, want);
		}
		if (i == n)
			c->passes++;
	}
}

/* ---- the host ---- */

/* The VM's statistics the run reads, and the vCPUs' faults. */
static const char *const zr_vm_stat_names[] = {
	"pages_4k", "pages_2m", "pages_1g", "mmu_cache_miss", "mmu_shadow_zapped",
	"mmu_recycled", "max_mmu_rmap_size",
};
enum { ZR_PAGES_4K, ZR_PAGES_2M, ZR_PAGES_1G, ZR_CACHE_MISS, ZR_SHADOW_ZAPPED,
       ZR_RECYCLED, ZR_RMAP_MAX, ZR_NR_VM_STATS };

struct zr_snap {
	uint64_t vm[ZR_NR_VM_STATS];	/* 0 for one KVM has not */
	uint64_t pf_taken;		/* all vCPUs */
};

/* The kinds of update of a round, and what each found. */
enum { ZR_DELETE, ZR_MOVE, ZR_RECLAIM, ZR_PARKED, ZR_NR_KINDS };
static const char *const zr_kind_names[] = {
	"DELETE + re-add", "MOVE away and back", "NR_MMU_PAGES 64 and back",
	"parked DELETE + re-add",
};

struct zr_kind_counts {
	uint64_t n;
	uint64_t sptes, min_sptes;	/* leaf SPTEs before each */
	uint64_t zapped;		/* mmu_shadow_zapped during */
	uint64_t recycled;		/* mmu_recycled during */
	uint64_t made, raced;		/* shadow pages made during; updates with some */
	uint64_t faults, faulted;	/* vCPU faults during; updates with some */
	double secs;			/* in the update's ioctls */
	/* The fast zaps' walks in the checker's trace (zr_walks()). */
	uint64_t walks, walk_pages, yielded;	/* walks, pages they zapped, walks that yielded */
	uint64_t first_yield_min, first_yield_max;	/* pages zapped before the first yield */
};

/* An update's ioctls on the trace clock, for finding its zaps in the trace. */
struct zr_window {
	uint64_t t0, t1;
	int kind;
};
#define ZR_MAX_WINDOWS		4096

FIXTURE(zr) {
	struct kmmu_test_run run;	/* the VM is run.vm */
	struct kmmu_mem buf[2];
	struct kmmu_gate gate;
	bool gate_ready;
	struct kmmu_stats vm_stats;
	struct kmmu_stats vcpu_stats[ZR_MAX_VCPUS];
	bool vm_stats_open;
	int nr_vcpu_stats;
	bool stat_found[ZR_NR_VM_STATS];
	bool pf_found;
	struct zr_shared *sh;
	uint64_t mmio[ZR_MAX_VCPUS];	/* MMIO exits completed with the poison */
	uint64_t version;		/* the slot's current version */
	int cur;			/* the buffer in the slot */
	struct zr_kind_counts kind[ZR_NR_KINDS];
	uint64_t rounds;
	bool stale_injected;
	struct zr_window win[ZR_MAX_WINDOWS];
	int nr_win;
};

FIXTURE_SETUP(zr)
{
	self->buf[0].fd = self->buf[1].fd = -1;
	KMMU_TEST_SETUP(&self->run, NULL);
}

FIXTURE_TEARDOWN(zr)
{
	int v;

	if (!self->run.started)
		return;
	if (self->gate_ready)
		kmmu_gate_finish(&self->gate, ZR_QUIT);
	for (v = 0; v < self->nr_vcpu_stats; v++)
		kmmu_stats_close(&self->vcpu_stats[v]);
	if (self->vm_stats_open)
		kmmu_stats_close(&self->vm_stats);
	/* The VM's teardown zaps what is left: its kernel log is judged here. */
	KMMU_TEST_END(&self->run);
	if (self->gate_ready)
		kmmu_gate_destroy(&self->gate);
	kmmu_mem_free(&self->buf[0]);
	kmmu_mem_free(&self->buf[1]);
	ksft_print_msg("%.2f s\n", self->run.dur);
}

static void zr_snap(FIXTURE_DATA(zr) *self, struct zr_snap *s)
{
	uint64_t x;
	int i, v;

	memset(s, 0, sizeof(*s));
	for (i = 0; self->vm_stats_open && i < ZR_NR_VM_STATS; i++)
		if (self->stat_found[i] && !kmmu_stats_get(&self->vm_stats, zr_vm_stat_names[i], &x))
			s->vm[i] = x;
	for (v = 0; self->pf_found && v < self->nr_vcpu_stats; v++)
		if (!kmmu_stats_get(&self->vcpu_stats[v], "pf_taken", &x))
			s->pf_taken += x;
}

static uint64_t zr_sptes(const struct zr_snap *s)
{
	return s->vm[ZR_PAGES_4K] + s->vm[ZR_PAGES_2M] + s->vm[ZR_PAGES_1G];
}

/* What an update of kind @k found: @a before its first ioctl, @b after its last. */
static void zr_count(FIXTURE_DATA(zr) *self, int k, const struct zr_snap *a,
		     const struct zr_snap *b, double secs)
{
	struct zr_kind_counts *c = &self->kind[k];
	uint64_t made = b->vm[ZR_CACHE_MISS] - a->vm[ZR_CACHE_MISS];
	uint64_t faults = b->pf_taken - a->pf_taken;

	if (!c->n || zr_sptes(a) < c->min_sptes)
		c->min_sptes = zr_sptes(a);
	c->n++;
	c->sptes += zr_sptes(a);
	c->zapped += b->vm[ZR_SHADOW_ZAPPED] - a->vm[ZR_SHADOW_ZAPPED];
	c->recycled += b->vm[ZR_RECYCLED] - a->vm[ZR_RECYCLED];
	c->made += made;
	c->raced += made > 0;
	c->faults += faults;
	c->faulted += faults > 0;
	c->secs += secs;
}

/* The next version into buffer @b (not in the slot now). */
static void zr_fill(FIXTURE_DATA(zr) *self, int b, uint64_t v)
{
	uint64_t p;

	for (p = 0; p < zr_data_pages(); p++)
		*(volatile uint64_t *)((uint8_t *)self->buf[b].hva + p * KMMU_PAGE_SIZE) =
			zr_pattern(p, v);
}

static void zr_seq(FIXTURE_DATA(zr) *self, bool updating)
{
	__atomic_store_n(&self->sh->seq, 2 * self->version + updating, __ATOMIC_RELEASE);
}

/*
 * DELETE and re-add with the other buffer, holding the next version.
 * With the "stale" injection (once), that buffer holds the version before
 * the current one instead: what the guest would read through an SPTE
 * into the slot's old memory.
 */
static int zr_delete_readd(FIXTURE_DATA(zr) *self)
{
	int r, next = !self->cur;

	zr_seq(self, true);
	r = kmmu_slot_delete(self->run.vm, ZR_SLOT);
	if (r)
		return r;
	self->version++;
	if (zr_opts.inject == ZR_INJECT_STALE && !self->stale_injected) {
		zr_fill(self, next, self->version - 1);
		self->stale_injected = true;
	} else {
		zr_fill(self, next, self->version);
	}
	r = __kmmu_slot_add(self->run.vm, ZR_SLOT, ZR_DATA_GPA, zr_data_size(),
			    self->buf[next].hva, 0);
	if (r)
		return r;
	self->cur = next;
	zr_seq(self, false);
	return 0;
}

static int zr_move(FIXTURE_DATA(zr) *self)
{
	int r;

	zr_seq(self, true);
	r = kmmu_slot_move(self->run.vm, ZR_SLOT, ZR_ALT_GPA);
	if (r)
		return r;
	self->version++;
	zr_fill(self, self->cur, self->version);
	r = kmmu_slot_move(self->run.vm, ZR_SLOT, ZR_DATA_GPA);
	if (r)
		return r;
	zr_seq(self, false);
	return 0;
}

static int zr_set_mmu_pages(FIXTURE_DATA(zr) *self, uint64_t n)
{
	return ioctl(kmmu_vm_fd(self->run.vm), KVM_SET_NR_MMU_PAGES, (unsigned long)n) ? -errno : 0;
}

/* The shadow MMU's page budget for every chunk's table, with room for the rest. */
static uint64_t zr_mmu_pages(void)
{
	return 2 * zr_opts.tables + 4096;
}

/* Until one vCPU made two more passes (so one whole pass after now). */
static int zr_wait_pass(FIXTURE_DATA(zr) *self)
{
	uint64_t start[ZR_MAX_VCPUS];
	double t0 = kmmu_now();
	int v;

	for (v = 0; v < zr_opts.vcpus; v++)
		start[v] = __atomic_load_n(&self->sh->vc[v].passes, __ATOMIC_ACQUIRE);
	while (kmmu_now() - t0 < ZR_PASS_TIMEOUT) {
		if (kmmu_vm_failed(self->run.vm))
			return -EIO;
		for (v = 0; v < zr_opts.vcpus; v++)
			if (__atomic_load_n(&self->sh->vc[v].passes, __ATOMIC_ACQUIRE) >=
			    start[v] + 2)
				return 0;
		usleep(2000);
	}
	return -ETIMEDOUT;
}

static int zr_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		   bool is_write, void *ctx)
{
	FIXTURE_DATA(zr) *self = ctx;

	if (is_write || gpa < ZR_DATA_GPA || gpa + len > ZR_DATA_GPA + zr_data_size()) {
		kmmu_vcpu_fail(vcpu, "an MMIO %s at gpa %#llx, not a read of the data slot's gpa range",
			       is_write ? "write" : "read", (unsigned long long)gpa);
		return -1;
	}
	/* The slot is away: the guest does not judge a read that overlapped an update. */
	memset(data, 0xff, len);
	__atomic_add_fetch(&self->mmio[kmmu_vcpu_id(vcpu)], 1, __ATOMIC_RELAXED);
	return 0;
}

static uint64_t zr_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	FIXTURE_DATA(zr) *self = ctx;

	return kmmu_gate_arrive(&self->gate);
}

/* What the value of a guest failure is (its args: chunk, gva, page, value, version, want). */
static void zr_fail_context(struct kmmu_vcpu *vcpu, const struct kmmu_ucall_msg *m,
			    char *buf, size_t len, void *ctx)
{
	uint64_t w = m->args[3], page = w >> 40 & 0xffff, v = w & ((1ULL << 40) - 1);

	if (m->nr != KMMU_UCALL_FAIL || m->nr_args < 6)
		return;
	if (w == ZR_POISON)
		snprintf(buf, len, "the value read is the host's MMIO poison: the read exited as MMIO while the slot was there");
	else if (w >> 56 == 0x2a && page == m->args[2] && v < m->args[4])
		snprintf(buf, len, "the value read is version %llu of this page, %llu behind: the slot's old memory, through an SPTE a zap left",
			 (unsigned long long)v, (unsigned long long)(m->args[4] - v));
	else if (w >> 56 == 0x2a)
		snprintf(buf, len, "the value read is version %llu of data page %llu: another gfn's memory",
			 (unsigned long long)v, (unsigned long long)page);
	else
		snprintf(buf, len, "the value read is no page's version");
}

static void zr_window_begin(FIXTURE_DATA(zr) *self, int k)
{
	if (self->run.trace && self->nr_win < ZR_MAX_WINDOWS)
		self->win[self->nr_win] = (struct zr_window){ .t0 = kmmu_trace_now(), .kind = k };
}

static void zr_window_end(FIXTURE_DATA(zr) *self)
{
	if (self->run.trace && self->nr_win < ZR_MAX_WINDOWS)
		self->win[self->nr_win++].t1 = kmmu_trace_now();
}

/* What only a holder of the shadow MMU's mmu_lock (for write) traces. */
static bool zr_under_lock(const struct kmmu_trace_record *r)
{
	return r->type == KMMU_EV_SET_SPTE || r->type == KMMU_EV_MARK_MMIO_SPTE ||
	       r->type == KMMU_EV_PREPARE_ZAP_PAGE;
}

/*
 * The walks of kvm_zap_obsolete_pages() in the checker's trace, per kind
 * of update: a walk is the kvm_mmu_prepare_zap_page events of the task
 * that traced kvm_mmu_zap_all_fast, from there to its next one or the
 * end of the update's ioctls.  It yielded mmu_lock to a vCPU if another
 * task traced something only a holder of the lock can (an SPTE installed,
 * an MMIO SPTE, a page zapped: the shadow MMU's vCPUs take it for write)
 * between its first and last page.  A walk that stops at a yield (007)
 * shows as one that zapped few pages and did not yield.  After
 * kmmu_trace_session_stop(): the whole log, sorted.
 */
static void zr_walks(FIXTURE_DATA(zr) *self)
{
	struct kmmu_trace_log *log = kmmu_trace_session_log(self->run.trace);
	struct kmmu_trace_record *r = NULL;
	uint64_t i, j, n = 0, end, pages, before, others;
	int w = 0, z;

	if (!self->nr_win)
		return;
	r = malloc(log->nr * sizeof(*r) + 1);
	for (i = 0; r && i < log->nr; i++)
		if (zr_under_lock(&log->recs[i]) || log->recs[i].type == KMMU_EV_ZAP_ALL_FAST)
			r[n++] = log->recs[i];
	if (!r)
		return;
	for (i = 0; i < n; i++) {
		struct zr_kind_counts *c;

		if (r[i].type != KMMU_EV_ZAP_ALL_FAST)
			continue;
		while (w < self->nr_win && self->win[w].t1 < r[i].ts)
			w++;
		if (w == self->nr_win)
			break;
		if (r[i].ts < self->win[w].t0)
			continue;	/* not one of the updates (VM teardown is after them) */
		c = &self->kind[self->win[w].kind];
		z = r[i].pid;
		/* The walk ends at the zapper's next fast zap or the window's end. */
		for (end = i + 1; end < n && r[end].ts <= self->win[w].t1; end++)
			if (r[end].pid == z && r[end].type == KMMU_EV_ZAP_ALL_FAST)
				break;
		pages = before = others = 0;
		for (j = i + 1; j < end; j++) {
			if (r[j].pid == z && r[j].type == KMMU_EV_PREPARE_ZAP_PAGE) {
				pages++;
				/* Another task's locked events before this page: a yield. */
				if (others && !before)
					before = pages - 1;
			} else if (r[j].pid != z && pages) {
				others++;
			}
		}
		c->walks++;
		c->walk_pages += pages;
		if (!before)
			continue;
		if (!c->yielded || before < c->first_yield_min)
			c->first_yield_min = before;
		if (before > c->first_yield_max)
			c->first_yield_max = before;
		c->yielded++;
	}
	free(r);
}

/* One update of kind @k, counted; 0 or -errno with the call that failed in @what. */
static int zr_update(FIXTURE_DATA(zr) *self, int k, const char **what)
{
	struct zr_snap a, b;
	double t0, secs;
	int r = 0;

	zr_snap(self, &a);
	t0 = kmmu_now();
	zr_window_begin(self, k);
	switch (k) {
	case ZR_DELETE:
		*what = "DELETE and re-add of the data slot";
		r = zr_delete_readd(self);
		break;
	case ZR_MOVE:
		*what = "MOVE of the data slot";
		r = zr_move(self);
		break;
	case ZR_RECLAIM:
		*what = "KVM_SET_NR_MMU_PAGES";
		r = zr_set_mmu_pages(self, ZR_MIN_MMU_PAGES);
		if (!r)
			r = zr_set_mmu_pages(self, zr_mmu_pages());
		break;
	}
	secs = kmmu_now() - t0;
	zr_window_end(self);
	zr_snap(self, &b);
	if (!r)
		zr_count(self, k, &a, &b, secs);
	return r;
}

KMMU_TEST_F(zr, run, 300)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = zr_opts.vcpus,
				   .shared_size = sizeof(struct zr_shared) };
	struct kmmu_vm_handlers hd = { .mmio = zr_mmio, .sync = zr_sync,
				       .fail_context = zr_fail_context, .ctx = self };
	uint64_t sh_gva, t, arrivals = 0, mmio = 0, judged = 0, racy = 0, passes = 0;
	struct zr_snap before, left;
	const char *what = "";
	char err[512];
	double t0, secs;
	int b, v, k, r, i;

	vo.pt_pages = 1024 + zr_opts.tables + zr_opts.tables / 512 + 8;
	if (!zr_opts.no_check)
		kmmu_test_run_trace(&self->run, "zap_race_test", &vo, err, sizeof(err));
	kmmu_vm_create(&self->run.vm, &vo);
	kmmu_trace_session_vm(self->run.trace, kmmu_kvm_cap(kmmu_vm_fd(self->run.vm),
							KVM_CAP_MULTI_ADDRESS_SPACE));
	self->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(*self->sh), &sh_gva);
	ASSERT_NE(NULL, self->sh);
	self->sh->tables = zr_opts.tables;
	self->sh->groups = zr_groups();
	for (b = 0; b < 2; b++) {
		r = kmmu_mem_alloc(&self->buf[b], zr_data_size(), KMMU_BACKING_ANON, -1);
		ASSERT_EQ(0, r) TH_LOG("guest memory: %s", strerror(-r));
	}
	zr_fill(self, 0, 0);
	ASSERT_LT(ZR_ALT_GPA + zr_data_size() - 1, 1ULL << kmmu_vm_phys_bits(self->run.vm))
		TH_LOG("guest MAXPHYADDR %u too small", kmmu_vm_phys_bits(self->run.vm));

	/* Every chunk its own guest page table, mapping its group of the slot (read-only, NX). */
	for (t = 0; t < zr_opts.tables; t++)
		kmmu_vm_map(self->run.vm, ZR_ALIAS_GVA + t * KMMU_HPAGE_SIZE,
			    ZR_DATA_GPA + t % zr_groups() * ZR_GROUP_PAGES * KMMU_PAGE_SIZE,
			    ZR_GROUP_PAGES * KMMU_PAGE_SIZE, KMMU_MAP_NX);
	kmmu_slot_add(self->run.vm, ZR_SLOT, ZR_DATA_GPA, zr_data_size(), self->buf[0].hva, 0);
	r = zr_set_mmu_pages(self, zr_mmu_pages());
	ASSERT_EQ(0, r) TH_LOG("KVM_SET_NR_MMU_PAGES %llu: %s",
			       (unsigned long long)zr_mmu_pages(), strerror(-r));

	self->vm_stats_open = !kmmu_stats_open(&self->vm_stats, kmmu_vm_fd(self->run.vm));
	for (i = 0; self->vm_stats_open && i < ZR_NR_VM_STATS; i++)
		self->stat_found[i] = kmmu_stats_find(&self->vm_stats, zr_vm_stat_names[i]);
	for (v = 0; v < zr_opts.vcpus; v++) {
		if (kmmu_stats_open(&self->vcpu_stats[v],
				    kmmu_vcpu_fd(kmmu_vm_vcpu(self->run.vm, v))))
			break;
		self->nr_vcpu_stats++;
	}
	self->pf_found = self->nr_vcpu_stats == zr_opts.vcpus &&
			 kmmu_stats_find(&self->vcpu_stats[0], "pf_taken");

	kmmu_gate_init(&self->gate);
	self->gate_ready = true;
	kmmu_vm_set_handlers(self->run.vm, &hd);
	kmmu_vm_start(self->run.vm, g_main, (void *)(uintptr_t)sh_gva);

	t0 = kmmu_now();
	do {
		for (k = 0; k < ZR_NR_KINDS; k++) {
			r = zr_wait_pass(self);
			ASSERT_EQ(0, r) TH_LOG("%s", r == -EIO ? kmmu_vm_errors(self->run.vm) :
					       "the vCPUs made no pass over the chunks in 120 s");
			if (k != ZR_PARKED) {
				r = zr_update(self, k, &what);
				ASSERT_EQ(0, r) TH_LOG("%s: %s", what, strerror(-r));
				continue;
			}
			/* Every vCPU outside KVM_RUN: nothing faults while the slot goes. */
			__atomic_store_n(&self->sh->park, 1, __ATOMIC_RELEASE);
			arrivals += zr_opts.vcpus;
			r = kmmu_gate_wait(&self->gate, arrivals, self->run.vm, 60);
			ASSERT_EQ(0, r) TH_LOG("parking the vCPUs: %s", r == -EIO ?
					       kmmu_vm_errors(self->run.vm) : strerror(-r));
			__atomic_store_n(&self->sh->park, 0, __ATOMIC_RELEASE);
			zr_snap(self, &before);
			if (zr_opts.inject == ZR_INJECT_KEEP && !self->rounds) {
				/* As if the zap had left every SPTE. */
				ksft_print_msg("INJECTED: the parked DELETE of round 0 skipped, %llu leaf SPTEs kept\n",
					       (unsigned long long)zr_sptes(&before));
				zr_snap(self, &left);
			} else {
				zr_seq(self, true);
				zr_window_begin(self, ZR_PARKED);
				r = kmmu_slot_delete(self->run.vm, ZR_SLOT);
				zr_window_end(self);
				ASSERT_EQ(0, r) TH_LOG("DELETE of the data slot: %s", strerror(-r));
				zr_snap(self, &left);
				/* Back, and counted as this kind's update. */
				r = __kmmu_slot_add(self->run.vm, ZR_SLOT, ZR_DATA_GPA, zr_data_size(),
						    self->buf[self->cur].hva, 0);
				ASSERT_EQ(0, r) TH_LOG("re-adding the data slot: %s", strerror(-r));
				zr_seq(self, false);
				zr_count(self, ZR_PARKED, &before, &left, 0);
			}
			if (self->vm_stats_open && self->stat_found[ZR_PAGES_4K])
				ASSERT_EQ(0, zr_sptes(&left))
					TH_LOG("round %llu: after a DELETE of the data slot with every vCPU parked outside KVM_RUN, KVM still holds %llu leaf SPTEs (pages_4k %llu, pages_2m %llu; %llu before): SPTEs or shadow pages a zap left behind",
					       (unsigned long long)self->rounds,
					       (unsigned long long)zr_sptes(&left),
					       (unsigned long long)left.vm[ZR_PAGES_4K],
					       (unsigned long long)left.vm[ZR_PAGES_2M],
					       (unsigned long long)zr_sptes(&before));
			kmmu_gate_open(&self->gate, ZR_GO);
		}
		self->rounds++;
	} while (kmmu_now() - t0 < zr_opts.duration);
	secs = kmmu_now() - t0;

	__atomic_store_n(&self->sh->park, 1, __ATOMIC_RELEASE);
	arrivals += zr_opts.vcpus;
	r = kmmu_gate_wait(&self->gate, arrivals, self->run.vm, 60);
	ASSERT_EQ(0, r) TH_LOG("stopping the vCPUs: %s", r == -EIO ?
			       kmmu_vm_errors(self->run.vm) : strerror(-r));
	kmmu_gate_finish(&self->gate, ZR_QUIT);
	r = __kmmu_vm_wait(self->run.vm, 60);
	ASSERT_EQ(0, r) TH_LOG("%s", kmmu_vm_errors(self->run.vm)[0] ?
			       kmmu_vm_errors(self->run.vm) : strerror(-r));

	for (v = 0; v < zr_opts.vcpus; v++) {
		passes += self->sh->vc[v].passes;
		judged += self->sh->vc[v].judged;
		racy += self->sh->vc[v].racy;
		mmio += self->mmio[v];
	}
	ksft_print_msg("%.1f s: %llu rounds over %llu guest page tables (2M chunks) mapping the %llu-page slot\n",
		       secs, (unsigned long long)self->rounds,
		       (unsigned long long)zr_opts.tables, (unsigned long long)zr_data_pages());
	ksft_print_msg("guest: %llu passes, %llu reads judged, %llu overlapped an update (%llu of them MMIO exits)\n",
		       (unsigned long long)passes, (unsigned long long)judged,
		       (unsigned long long)racy, (unsigned long long)mmio);
	for (k = 0; k < ZR_NR_KINDS; k++) {
		struct zr_kind_counts *c = &self->kind[k];

		if (!c->n)
			continue;
		ksft_print_msg("%s: %llu, leaf SPTEs before each %llu (fewest %llu), shadow pages zapped %llu, recycled %llu; during them the vCPUs made %llu shadow pages (in %llu of %llu) and took %llu faults (in %llu); %.3f s in the ioctls\n",
			       zr_kind_names[k], (unsigned long long)c->n,
			       (unsigned long long)(c->sptes / c->n),
			       (unsigned long long)c->min_sptes,
			       (unsigned long long)c->zapped, (unsigned long long)c->recycled,
			       (unsigned long long)c->made, (unsigned long long)c->raced,
			       (unsigned long long)c->n, (unsigned long long)c->faults,
			       (unsigned long long)c->faulted, c->secs);
	}
	if (self->run.trace) {
		struct kmmu_host host;
		bool tdp_mmu;

		kmmu_host_probe(&host);
		tdp_mmu = host.tdp == 1 && host.tdp_mmu == 1;
		/* The whole trace, for the walks; finishing judges it below. */
		kmmu_trace_session_stop(self->run.trace);
		zr_walks(self);
		for (k = 0; k < ZR_NR_KINDS; k++) {
			struct zr_kind_counts *c = &self->kind[k];

			if (!c->walk_pages)
				continue;
			/*
			 * The TDP MMU zaps its invalidated roots with mmu_lock
			 * shared, as its vCPUs fault: there the count is of
			 * zaps the vCPUs faulted in the middle of, not yields.
			 */
			ksft_print_msg(tdp_mmu ?
				       "%s, traced (TDP MMU): %llu fast zaps freed %llu page tables of the invalidated roots (%llu a zap); the vCPUs installed SPTEs or zapped tables in the middle of %llu of them" :
				       "%s, traced: %llu fast zaps walked %llu shadow pages (%llu a walk); a vCPU took mmu_lock in the middle of %llu of the walks",
				       zr_kind_names[k], (unsigned long long)c->walks,
				       (unsigned long long)c->walk_pages,
				       (unsigned long long)(c->walk_pages / c->walks),
				       (unsigned long long)c->yielded);
			if (c->yielded)
				printf(", after %llu to %llu of their pages",
				       (unsigned long long)c->first_yield_min,
				       (unsigned long long)c->first_yield_max);
			printf("\n");
		}
	}
	if (self->vm_stats_open && self->stat_found[ZR_RMAP_MAX]) {
		zr_snap(self, &left);
		ksft_print_msg("KVM: %llu shadow pages made in all (mmu_cache_miss), longest rmap %llu\n",
			       (unsigned long long)left.vm[ZR_CACHE_MISS],
			       (unsigned long long)left.vm[ZR_RMAP_MAX]);
	}
	if (!self->vm_stats_open || !self->stat_found[ZR_PAGES_4K])
		ksft_print_msg("KVM's pages_4k is not readable here: nothing left after the parked DELETE not judged\n");
	if (zr_opts.inject == ZR_INJECT_STALE)
		ksft_print_msg(self->stale_injected ?
			       "INJECTED: the first re-added buffer held the previous version\n" :
			       "INJECTED: no DELETE reached the injection\n");
	/* A run that judged nothing after an update tested nothing. */
	ASSERT_LT(zr_opts.tables, judged)
		TH_LOG("the guest judged only %llu reads", (unsigned long long)judged);
	if (self->run.trace) {
		struct kmmu_check_result res;

		ASSERT_EQ(0, kmmu_test_run_check_result(&self->run, &res))
			TH_LOG("the checker found the kernel's MMU events diverging from the reference, or could not judge them (see its lines above)");
		ksft_print_msg("checker: ZAP_ON_REMOVE judged %llu%s%s\n",
			       (unsigned long long)res.checked[KMMU_PROP_ZAP_ON_REMOVE],
			       res.not_checkable[KMMU_PROP_ZAP_ON_REMOVE] ? ": " : "",
			       res.not_checkable[KMMU_PROP_ZAP_ON_REMOVE] ?
			       res.not_checkable[KMMU_PROP_ZAP_ON_REMOVE] : "");
	}
}

static void zr_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-d seconds] [-t tables] [-v vcpus] [--no-check]\n"
		"  -d  seconds of rounds of slot updates (at least one round; default 4)\n"
		"  -t  guest page tables, one per 2M chunk of the aliased range (default %d,\n"
		"      %d to %d): as many shadow pages with SPTEs into the data slot\n"
		"  -v  vCPUs reading the chunks (default 2, max %d)\n"
		"  --no-check  no trace session: not checked against the reference, the\n"
		"      walks not counted\n"
		"$KMMU_ZAP_INJECT plants a bug in the test, which must then fail: keep (the\n"
		"parked DELETE of round 0 skipped, as if its zap had left every SPTE) or\n"
		"stale (the first re-added buffer holds the previous version, as the\n"
		"slot's old memory read through a stale SPTE)\n",
		prog, ZR_TABLES, ZR_MIN_TABLES, ZR_MAX_TABLES, ZR_MAX_VCPUS);
}

static const struct kmmu_opt zr_table[] = {
	KMMU_OPT_BOOL("no-check", 0, zr_opts.no_check),
	KMMU_OPT_U(NULL, 't', zr_opts.tables, ZR_MIN_TABLES, ZR_MAX_TABLES, 0,
		   "-t wants 64 to 32768 guest page tables"),
	KMMU_OPTS_END
};

int main(int argc, char **argv)
{
	const char *prog = "zap_race_test";
	struct kmmu_run_opts run = { .vcpus = &zr_opts.vcpus, .min_vcpus = 1,
		.duration = &zr_opts.duration,
		.cli = { zr_usage, zr_table } };
	const char *inject;

	kmmu_run_parse(&run, prog, &argc, argv);
	if (zr_opts.vcpus > ZR_MAX_VCPUS)
		kmmu_usage_error(prog, "-v wants 1 to %d vCPUs", ZR_MAX_VCPUS);
	inject = getenv("KMMU_ZAP_INJECT");
	if (inject && *inject) {
		if (!strcmp(inject, "keep"))
			zr_opts.inject = ZR_INJECT_KEEP;
		else if (!strcmp(inject, "stale"))
			zr_opts.inject = ZR_INJECT_STALE;
		else
			kmmu_usage_error(prog, "KMMU_ZAP_INJECT wants keep or stale");
	}
	kmmu_test_header(prog, "tables %llu vcpus %d duration %.3gs %s",
			 (unsigned long long)zr_opts.tables, zr_opts.vcpus, zr_opts.duration,
			 zr_opts.inject == ZR_INJECT_KEEP ? "INJECTED BUG: keep" :
			 zr_opts.inject == ZR_INJECT_STALE ? "INJECTED BUG: stale" :
			 "no injected bug");
	KMMU_TEST_TIMEOUT(zr, run, (int)zr_opts.duration + 600);
	return test_harness_run(argc, argv);
}
