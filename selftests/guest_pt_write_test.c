// SPDX-License-Identifier: GPL-2.0
/*
 * guest_pt_write_test: the guest rewrites its own page tables.  After a
 * guest page-table write and a guest TLB flush, every vCPU's translations
 * must follow the guest's page tables.
 *
 * With TDP the CPU walks the guest's tables; a shadow MMU has to notice
 * the writes.  KVM write-protects a guest page table once it shadows it
 * (account_shadowed(): kvm_mmu_slot_gfn_write_protect() and a remote TLB
 * flush, so that no vCPU keeps a writable translation of it), and a
 * guest store to it then faults: for a level-1 table KVM marks the shadow
 * page unsync and lets the stores through (mmu_try_to_unsync_pages()),
 * resyncing it from the guest's entries when the guest flushes its TLB
 * (kvm_mmu_sync_roots() on a CR3 load or a TLB flush request); upper
 * levels stay write-protected and each store is emulated
 * (kvm_mmu_pte_write(); not exercised here: the guest rewrites level-1
 * entries only).  A shadow page KVM wrongly believes in sync keeps its
 * stale SPTEs through the flush.
 *
 * The guest maps a 2M-aligned region R of 4K pages: R[i] (the first
 * GPT_MAPPED) to target pages of a memslot whose word 0 names them, the
 * rest of its level-1 table X not present; X itself is mapped writable
 * at W (kmmu_vm_map_page_table()), so that guest code rewrites R's PTEs
 * with plain stores to W.  What a load through R[i] reads says which
 * target the vCPU's translation used, exactly.  The guest runs at CPL3
 * and cannot flush its TLB: the host does, between two of its hypercalls
 * (kmmu_vcpu_flush_guest_tlb(): KVM_SET_SREGS with CR4.PGE toggled and
 * back, a guest TLB flush as KVM sees it).
 *
 * gpt.one_vcpu, each round: every mapped R[i] reads its target (the loads
 * make KVM shadow X); then with X shadowed, one PTE at a time rewritten to
 * another target (present -> present), host flush, R[i] must read the new
 * target and its neighbour its own; every mapped PTE rewritten in a row,
 * one flush, all checked (the unsync path: KVM lets the stores through and
 * resyncs at the flush); the not-present PTEs made present and loaded at
 * once, without a flush (a not-present entry is never cached), then made
 * not present again (and flushed); then every shadow page zapped (a
 * memslot deleted and re-added: kvm_mmu_zap_all_fast()) and every mapped
 * PTE rewritten before X is shadowed again, flush, all checked.
 *
 * gpt.two_vcpus, rounds for a bounded time, vCPU n on the n-th CPU where
 * there are two: the host zaps every shadow page (X is no longer shadowed,
 * and vCPU 1's translation of W is gone); vCPU 1, the writer, rewrites the
 * mapped PTEs through W one after another, round and round, with a spin
 * between stores (its length drawn per round; a plain loop, not PAUSE,
 * which KVM's pause filter intercepts and QEMU's TCG then exits on every
 * time).  vCPU 0, the reader, once the writer has made a number of stores
 * the host drew (so that it has a writable translation of W), loads
 * R[0..15]: the first load makes KVM shadow X and write-protect it, and
 * the writer's writable translation of W must be flushed then (ci/mutants
 * 015 leaves it).  The reader then says so and its host thread sleeps a
 * millisecond (its CPU idles, the writer's runs); the writer, seeing it,
 * rewrites every mapped PTE once more in a burst and leaves W alone.  The
 * host flushes the reader's TLB, and the reader loads every R[i]: each
 * must read the target of the writer's burst.  With the flush, the
 * burst's first store faults and X's shadow page goes unsync (the flush
 * resyncs it); without it, the burst goes past KVM and X's shadow page
 * stays "in sync" with the SPTEs of R[0..15] stale.
 *
 * What the 015 kind of bug needs to show here: the writer keeps its
 * writable translation of W from before the reader's first load through
 * its burst, i.e. no VM exit of the writer in between (on hardware an exit
 * need not flush the TLB; QEMU's TCG flushes its whole TLB on every VMRUN
 * and #VMEXIT); a store after such an exit faults on the write-protected
 * SPTE and marks X's shadow page unsync, and the reader's flush then
 * resyncs it, stale entries included.  In the test VM the two CPUs take
 * turns; the reader's loads, its note and its idling take microseconds,
 * so an exit of the writer in between is mostly its timer tick pending
 * when its turn comes.  So the catch is a race, run every round.
 *
 * Not checked against the reference (no trace session): the data is the
 * oracle, and the checker does not model unsync shadow pages.
 *
 * Printed: rounds, PTE stores, loads checked, host flushes (and how many
 * found an unsync shadow page: KVM's mmu_unsync before the flush; on a
 * stock kernel every one of two_vcpus'), in how many rounds the writer
 * stored during the reader's first loads (on a stock kernel the remote
 * flush's IPI brings the writer's turn), and the KVM statistics of the
 * run (pf_emulate, mmu_pte_write, remote_tlb_flush, ...).  Options: -n N rounds of one_vcpu (default 4), -d S seconds of
 * two_vcpus rounds (default 10: about 12 s for the program in the TCG VM),
 * -S seed (the sweeps' lengths and the reader's start points).
 * $KMMU_GPT_INJECT plants a bug in the test, which must then fail:
 * no-flush (the host skips its flushes while the guest still expects the
 * new targets: on a shadow MMU the unsync shadow page keeps the old ones;
 * with TDP nothing caches them across the exit in the TCG VM, so it
 * passes) or undo (once, the host puts the PTE the guest rewrote last back
 * behind its back before the flush: one_vcpu reads the old target with
 * both MMUs; two_vcpus on a shadow MMU only if X was unsync, as KVM need
 * not see host writes to a table it shadows in sync).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/bench.h"
#include "kmmu/clock.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/opts.h"

#define GPT_TARGET_GPA	KMMU_GPA_TEST
#define GPT_TARGETS	1024
#define GPT_R_GVA	(KMMU_GPA_TEST + (1ULL << 30))	/* 2M aligned: X is R's alone */
#define GPT_ENTRIES	512
#define GPT_MAPPED	448				/* the rest of X not present */
#define GPT_W_GVA	(KMMU_GPA_TEST + (2ULL << 30))
#define GPT_SPARE_GPA	(KMMU_GPA_TEST + (3ULL << 30))
#define GPT_TARGET_SLOT	KMMU_SLOT_FIRST_FREE
#define GPT_SPARE_SLOT	(KMMU_SLOT_FIRST_FREE + 1)
#define GPT_NONE	(~0ULL)				/* want[]: not present */
/* The next target of an entry: odd, so never the same one within 1024 rewrites. */
#define GPT_STEP	449
#define GPT_ONE_PER_ROUND 16	/* single-PTE rewrites per one_vcpu round */
/* The reader's first loads: they shadow X and map R[0..15] (prefetch: 8 a fault). */
#define GPT_FIRST_LOADS	16
/* How long the reader's host thread sleeps so that its CPU idles, us. */
#define GPT_YIELD_US	1000
/* Loops between the writer's stores before its burst, drawn per round. */
#define GPT_SPIN_MIN	0
#define GPT_SPIN_MAX	5000

/* Host calls (GUEST_SYNC values). */
enum {
	GPT_SYNC_FLUSH = 1,	/* flush this vCPU's guest TLB */
	GPT_SYNC_UNSHADOW,	/* zap every shadow page */
	GPT_SYNC_NEXT,		/* two_vcpus: zap, draw the round; 0 when time is up */
	GPT_SYNC_YIELD,		/* two_vcpus: the host sleeps a moment */
};

/* What a check was after (the guest's failure names it by number). */
enum gpt_case {
	GPT_CASE_MAPPED,	/* the round's first loads */
	GPT_CASE_ONE,		/* one PTE rewritten, flush */
	GPT_CASE_NEIGHBOUR,	/* ... its neighbour, not rewritten */
	GPT_CASE_ROW,		/* every mapped PTE rewritten, one flush */
	GPT_CASE_NOT_PRESENT,	/* not present -> present, no flush */
	GPT_CASE_UNSHADOWED,	/* rewritten while X was not shadowed, flush */
	GPT_CASE_TWO_VCPUS,	/* the other vCPU's rewrites, flush */
};

static const char *const gpt_case_names[] = {
	"the round's first load of a mapped page",
	"one PTE rewritten (table shadowed), then a flush",
	"the neighbour of a PTE rewritten alone (not rewritten itself), after the flush",
	"every mapped PTE of the table rewritten in a row, then one flush",
	"a not-present PTE made present, loaded at once (no flush needed)",
	"every mapped PTE rewritten while the table was not shadowed, then a flush",
	"the other vCPU's PTE rewrites over (its burst after our first loads), then a flush of this vCPU",
};

/* Word 0 of target page @k: names it. */
static inline uint64_t gpt_word(uint64_t k)
{
	return 0x67ULL << 56 | k;
}

/* Shared by the guest and the host (the runtime's shared region). */
struct gpt_shared {
	uint64_t want[GPT_ENTRIES];	/* target of R[i] as last written, or GPT_NONE */
	uint64_t old[GPT_ENTRIES];	/* ... before that */
	uint64_t last;			/* the entry written last */
	uint64_t rounds;		/* one_vcpu: rounds to run */
	uint64_t spin;			/* two_vcpus: the writer's loops between stores */
	uint64_t start_at;		/* ... the reader's loads begin after this many stores */
	uint64_t go, done, stop;	/* two_vcpus: round started, burst over, end */
	uint64_t sweep_pos;		/* two_vcpus: the writer's stores this round */
	uint64_t writes, checks;
	uint64_t mapped;		/* two_vcpus: the reader's first pass is over */
	uint64_t sweep_stores;		/* the writer's stores before the burst */
	uint64_t overlaps;		/* rounds whose first pass saw the writer store */
};

static struct {
	long rounds;
	double duration;
	uint64_t seed;
	enum { GPT_INJECT_NONE, GPT_INJECT_NO_FLUSH, GPT_INJECT_UNDO } inject;
} gpt_opts = { .rounds = 4, .duration = 10 };

/* ---- the guest ---- */

/*
 * Not PAUSE: with SVM's pause filter KVM intercepts it, and QEMU's TCG
 * (which the test VM is) exits on every one: an exit per spin, and the
 * writer's translations flushed with it.
 */
static inline void g_spin(uint64_t n)
{
	while (n--)
		__asm__ volatile("" ::: "memory");
}

static inline uint64_t g_load(uint64_t i)
{
	return *(volatile uint64_t *)(GPT_R_GVA + i * KMMU_PAGE_SIZE);
}

/* R[i] -> target @k (GPT_NONE: not present), through W. */
static void g_set(struct gpt_shared *sh, uint64_t i, uint64_t k)
{
	volatile uint64_t *x = (volatile uint64_t *)GPT_W_GVA;

	x[i] = k == GPT_NONE ? 0 : (GPT_TARGET_GPA + k * KMMU_PAGE_SIZE) | KMMU_PTE_P |
				   KMMU_PTE_U | KMMU_PTE_A | KMMU_PTE_NX;
	sh->old[i] = sh->want[i];
	__atomic_store_n(&sh->want[i], k, __ATOMIC_RELEASE);
	sh->last = i;
	sh->writes++;
}

static inline uint64_t g_next(const struct gpt_shared *sh, uint64_t i)
{
	uint64_t k = sh->want[i];

	return ((k == GPT_NONE ? i : k) + GPT_STEP) % GPT_TARGETS;
}

static void g_check(struct gpt_shared *sh, uint64_t i, enum gpt_case c)
{
	uint64_t w = g_load(i), k = __atomic_load_n(&sh->want[i], __ATOMIC_ACQUIRE);

	sh->checks++;
	if (w != gpt_word(k))
		GUEST_FAIL("case %lu: R[%lu] (gva %#lx) read %#lx, expected target %lu's word (before it target %lu)",
			   (uint64_t)c, i, GPT_R_GVA + i * KMMU_PAGE_SIZE, w, k, sh->old[i]);
}

static void g_one(uint32_t id, void *arg)
{
	struct gpt_shared *sh = arg;
	uint64_t round, n, i;

	for (round = 0; round < sh->rounds; round++) {
		for (i = 0; i < GPT_MAPPED; i++)
			g_check(sh, i, GPT_CASE_MAPPED);
		for (n = 0; n < GPT_ONE_PER_ROUND; n++) {
			i = (n * 61 + round * 7) % GPT_MAPPED;
			g_set(sh, i, g_next(sh, i));
			GUEST_SYNC(GPT_SYNC_FLUSH);
			g_check(sh, i, GPT_CASE_ONE);
			g_check(sh, (i + 1) % GPT_MAPPED, GPT_CASE_NEIGHBOUR);
		}
		for (i = 0; i < GPT_MAPPED; i++)
			g_set(sh, i, g_next(sh, i));
		GUEST_SYNC(GPT_SYNC_FLUSH);
		for (i = 0; i < GPT_MAPPED; i++)
			g_check(sh, i, GPT_CASE_ROW);
		for (i = GPT_MAPPED; i < GPT_ENTRIES; i++) {
			g_set(sh, i, g_next(sh, i));
			g_check(sh, i, GPT_CASE_NOT_PRESENT);
		}
		/* Back to not present: never loaded again before the flush. */
		for (i = GPT_MAPPED; i < GPT_ENTRIES; i++)
			g_set(sh, i, GPT_NONE);
		GUEST_SYNC(GPT_SYNC_FLUSH);
		GUEST_SYNC(GPT_SYNC_UNSHADOW);
		for (i = 0; i < GPT_MAPPED; i++)
			g_set(sh, i, g_next(sh, i));
		GUEST_SYNC(GPT_SYNC_FLUSH);
		for (i = 0; i < GPT_MAPPED; i++)
			g_check(sh, i, GPT_CASE_UNSHADOWED);
	}
	GUEST_DONE();
}

/*
 * vCPU 0 reads through R, vCPU 1 rewrites R's PTEs through W: one after
 * another, round and round, until vCPU 0's first pass over R (which
 * shadowed X) is over, then every one once more in a burst, and then
 * leaves W alone until the next round.
 */
static void g_two(uint32_t id, void *arg)
{
	struct gpt_shared *sh = arg;
	uint64_t round, i, n, pos0, pos1;

	if (id == 1) {
		for (round = 1; ; round++) {
			while (__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE) != round) {
				if (__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
					GUEST_DONE();
				g_spin(1);
			}
			for (n = 0; __atomic_load_n(&sh->mapped, __ATOMIC_ACQUIRE) != round; n++) {
				i = n % GPT_MAPPED;
				g_set(sh, i, g_next(sh, i));
				__atomic_store_n(&sh->sweep_pos, n + 1, __ATOMIC_RELEASE);
				g_spin(sh->spin);
			}
			for (i = 0; i < GPT_MAPPED; i++)
				g_set(sh, i, g_next(sh, i));
			__atomic_store_n(&sh->done, round, __ATOMIC_RELEASE);
		}
	}
	for (round = 1; GUEST_SYNC(GPT_SYNC_NEXT); round++) {
		__atomic_store_n(&sh->go, round, __ATOMIC_RELEASE);
		/* Once the writer has a writable translation of W, as it goes on storing. */
		while (__atomic_load_n(&sh->sweep_pos, __ATOMIC_ACQUIRE) < sh->start_at)
			g_spin(1);
		/* Shadows X and maps the first entries (a fault prefetches 8). */
		pos0 = __atomic_load_n(&sh->sweep_pos, __ATOMIC_ACQUIRE);
		for (i = 0; i < GPT_FIRST_LOADS; i++)
			(void)g_load(i);
		pos1 = __atomic_load_n(&sh->sweep_pos, __ATOMIC_ACQUIRE);
		if (pos1 != pos0)
			sh->overlaps++;
		__atomic_store_n(&sh->mapped, round, __ATOMIC_RELEASE);
		/* This CPU idles: the writer's runs on, its burst right after our loads. */
		GUEST_SYNC(GPT_SYNC_YIELD);
		while (__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE) != round)
			g_spin(1);
		sh->sweep_stores += __atomic_load_n(&sh->sweep_pos, __ATOMIC_ACQUIRE);
		GUEST_SYNC(GPT_SYNC_FLUSH);
		for (i = 0; i < GPT_MAPPED; i++)
			g_check(sh, i, GPT_CASE_TWO_VCPUS);
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	GUEST_DONE();
}

/* ---- the host ---- */

/* The statistics printed: VM's, then the vCPUs' summed. */
static const char *const gpt_vm_stats[] = {
	"mmu_pte_write", "mmu_pde_zapped", "mmu_flooded", "mmu_shadow_zapped",
	"remote_tlb_flush",
};
static const char *const gpt_vcpu_stats[] = { "pf_fixed", "pf_emulate", "tlb_flush" };
#define GPT_NR_VM_STATS		(sizeof(gpt_vm_stats) / sizeof(gpt_vm_stats[0]))
#define GPT_NR_VCPU_STATS	(sizeof(gpt_vcpu_stats) / sizeof(gpt_vcpu_stats[0]))
#define GPT_NR_STATS		(GPT_NR_VM_STATS + GPT_NR_VCPU_STATS)

FIXTURE(gpt) {
	struct kmmu_test_run run;	/* the VM is run.vm */
	struct kmmu_mem targets, spare;
	struct gpt_shared *sh;
	uint64_t sh_gva;
	uint64_t *x;			/* host view of X */
	struct kmmu_stats vm_stats, vcpu_stats[2];
	bool have_vm_stats;
	int nr_vcpu_stats;
	double t0;
	uint64_t rng;
	/* Counted by the handlers (vCPU 0's thread, but for one_vcpu's only vCPU). */
	uint64_t flushes, unsync_flushes, unshadows, rounds;
	bool injected;
	char inject_note[256];
};

static uint64_t gpt_rand(FIXTURE_DATA(gpt) *self)
{
	/* xorshift64*: the rounds' sweeps and start points from the seed. */
	self->rng ^= self->rng >> 12;
	self->rng ^= self->rng << 25;
	self->rng ^= self->rng >> 27;
	return self->rng * 0x2545f4914f6cdd1dULL;
}

/* Every shadow page zapped: a memslot DELETE does kvm_mmu_zap_all_fast(). */
static uint64_t gpt_unshadow(FIXTURE_DATA(gpt) *self, struct kmmu_vcpu *vcpu)
{
	struct kmmu_vm *vm = kmmu_vcpu_vm(vcpu);
	int r = kmmu_slot_delete(vm, GPT_SPARE_SLOT);

	if (!r)
		r = __kmmu_slot_add(vm, GPT_SPARE_SLOT, GPT_SPARE_GPA, KMMU_PAGE_SIZE,
				    self->spare.hva, 0);
	if (r)
		kmmu_vcpu_fail(vcpu, "deleting and re-adding the spare slot: %s", strerror(-r));
	self->unshadows++;
	return 0;
}

static uint64_t gpt_flush(FIXTURE_DATA(gpt) *self, struct kmmu_vcpu *vcpu)
{
	struct gpt_shared *sh = self->sh;
	uint64_t unsync, i = sh->last;
	int r;

	if (self->have_vm_stats && !kmmu_stats_get(&self->vm_stats, "mmu_unsync", &unsync) &&
	    unsync)
		self->unsync_flushes++;
	if (gpt_opts.inject == GPT_INJECT_UNDO && !self->injected && sh->old[i] != GPT_NONE &&
	    sh->want[i] != GPT_NONE) {
		/* Behind the guest's back, as a lost guest store would look. */
		self->x[i] = (GPT_TARGET_GPA + sh->old[i] * KMMU_PAGE_SIZE) | KMMU_PTE_P |
			     KMMU_PTE_U | KMMU_PTE_A | KMMU_PTE_NX;
		self->injected = true;
		snprintf(self->inject_note, sizeof(self->inject_note),
			 "R[%llu]'s PTE put back to target %llu (the guest wrote target %llu) before flush %llu",
			 (unsigned long long)i, (unsigned long long)sh->old[i],
			 (unsigned long long)sh->want[i], (unsigned long long)self->flushes + 1);
	}
	self->flushes++;
	if (gpt_opts.inject == GPT_INJECT_NO_FLUSH) {
		self->injected = true;
		return 0;
	}
	r = kmmu_vcpu_flush_guest_tlb(vcpu);
	if (r)
		kmmu_vcpu_fail(vcpu, "flushing the guest TLB (KVM_SET_SREGS, CR4.PGE): %s",
			       strerror(-r));
	return 0;
}

static uint64_t h_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	FIXTURE_DATA(gpt) *self = ctx;

	switch (value) {
	case GPT_SYNC_FLUSH:
		return gpt_flush(self, vcpu);
	case GPT_SYNC_UNSHADOW:
		return gpt_unshadow(self, vcpu);
	case GPT_SYNC_YIELD:
		usleep(GPT_YIELD_US);
		return 0;
	case GPT_SYNC_NEXT:
		if (kmmu_now() - self->t0 >= gpt_opts.duration)
			return 0;
		gpt_unshadow(self, vcpu);
		self->sh->sweep_pos = 0;	/* the writer waits for the round */
		/* The writer's pace, and when the reader's first load comes. */
		self->sh->spin = GPT_SPIN_MIN + gpt_rand(self) % (GPT_SPIN_MAX - GPT_SPIN_MIN + 1);
		self->sh->start_at = 1 + gpt_rand(self) % GPT_MAPPED;
		self->rounds++;
		return 1;
	}
	kmmu_vcpu_fail(vcpu, "unknown host call %llu", (unsigned long long)value);
	return 0;
}

/* Names the case and what the value read was. */
static void gpt_fail_context(struct kmmu_vcpu *vcpu, const struct kmmu_ucall_msg *m,
			     char *buf, size_t len, void *ctx)
{
	uint64_t c = m->args[0], w = m->args[3], old = m->args[5];
	size_t off;

	if (m->nr != KMMU_UCALL_FAIL || m->nr_args < 6)
		return;
	off = snprintf(buf, len, "%s",
		       c < sizeof(gpt_case_names) / sizeof(gpt_case_names[0]) ?
		       gpt_case_names[c] : "?");
	if (off >= len)
		return;
	if (w >> 56 != 0x67)
		snprintf(buf + off, len - off, "; the value read is no target's word");
	else if ((w & 0xffffffff) == old)
		snprintf(buf + off, len - off,
			 "; the value read is the old target's: a stale translation");
	else
		snprintf(buf + off, len - off, "; the value read is target %llu's",
			 (unsigned long long)(w & 0xffffffff));
}

/* vCPU n on the n-th CPU this process may use, where there are two. */
static void gpt_pre_run(struct kmmu_vcpu *vcpu, void *ctx)
{
	static __thread bool pinned;
	cpu_set_t set;
	int cpu, n = 0;

	if (pinned)
		return;
	pinned = true;
	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2)
		return;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (n++ == kmmu_vcpu_id(vcpu)) {
			kmmu_bench_pin_thread(pthread_self(), cpu);
			return;
		}
	}
}

static bool gpt_stats(FIXTURE_DATA(gpt) *self, uint64_t v[GPT_NR_STATS])
{
	size_t i;
	int c;

	memset(v, 0, GPT_NR_STATS * sizeof(v[0]));
	if (!self->have_vm_stats || !self->nr_vcpu_stats)
		return false;
	for (i = 0; i < GPT_NR_VM_STATS; i++)
		if (kmmu_stats_get(&self->vm_stats, gpt_vm_stats[i], &v[i]))
			return false;
	for (c = 0; c < self->nr_vcpu_stats; c++) {
		for (i = 0; i < GPT_NR_VCPU_STATS; i++) {
			uint64_t x;

			if (kmmu_stats_get(&self->vcpu_stats[c], gpt_vcpu_stats[i], &x))
				return false;
			v[GPT_NR_VM_STATS + i] += x;
		}
	}
	return true;
}

static void gpt_build(struct __test_metadata *_metadata, FIXTURE_DATA(gpt) *self,
		      int nr_vcpus)
{
	struct kmmu_vm_opts o = { .nr_vcpus = nr_vcpus, .shared_size = sizeof(struct gpt_shared) };
	uint64_t x_gpa, k;
	int c;

	kmmu_vm_create(&self->run.vm, &o);
	self->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(*self->sh), &self->sh_gva);
	ASSERT_NE(NULL, self->sh);
	ASSERT_EQ(0, kmmu_mem_alloc(&self->targets, GPT_TARGETS * KMMU_PAGE_SIZE,
				    KMMU_BACKING_MEMFD, -1));
	ASSERT_EQ(0, kmmu_mem_alloc(&self->spare, KMMU_PAGE_SIZE, KMMU_BACKING_ANON, -1));
	for (k = 0; k < GPT_TARGETS; k++)
		*(uint64_t *)((uint8_t *)self->targets.hva + k * KMMU_PAGE_SIZE) = gpt_word(k);
	kmmu_slot_add(self->run.vm, GPT_TARGET_SLOT, GPT_TARGET_GPA,
		      GPT_TARGETS * KMMU_PAGE_SIZE, self->targets.hva, 0);
	kmmu_slot_add(self->run.vm, GPT_SPARE_SLOT, GPT_SPARE_GPA, KMMU_PAGE_SIZE,
		      self->spare.hva, 0);
	/* R[i] -> target i, Accessed set (the runtime's default): prefetchable. */
	kmmu_vm_map(self->run.vm, GPT_R_GVA, GPT_TARGET_GPA, GPT_MAPPED * KMMU_PAGE_SIZE,
		    KMMU_MAP_NX);
	ASSERT_EQ(0, kmmu_vm_map_page_table(self->run.vm, GPT_R_GVA, GPT_W_GVA, &x_gpa));
	self->x = kmmu_vm_gpa_to_hva(self->run.vm, x_gpa);
	ASSERT_NE(NULL, self->x);
	/* The table is what the builder made: entry i maps target i, the rest absent. */
	for (k = 0; k < GPT_ENTRIES; k++) {
		ASSERT_EQ(k < GPT_MAPPED ? GPT_TARGET_GPA + k * KMMU_PAGE_SIZE : 0,
			  self->x[k] & KMMU_PTE_ADDR_MASK);
		self->sh->want[k] = k < GPT_MAPPED ? k : GPT_NONE;
		self->sh->old[k] = GPT_NONE;
	}
	self->sh->rounds = gpt_opts.rounds;
	self->rng = gpt_opts.seed | 1;

	self->have_vm_stats = !kmmu_stats_open(&self->vm_stats, kmmu_vm_fd(self->run.vm));
	for (c = 0; c < nr_vcpus; c++) {
		if (kmmu_stats_open(&self->vcpu_stats[c],
				    kmmu_vcpu_fd(kmmu_vm_vcpu(self->run.vm, c))))
			break;
		self->nr_vcpu_stats++;
	}
}

static void gpt_report(FIXTURE_DATA(gpt) *self, const uint64_t st0[GPT_NR_STATS],
		       bool have_stats)
{
	uint64_t st1[GPT_NR_STATS], unsync = 0;
	size_t i;

	ksft_print_msg("%llu PTE stores through W, %llu loads checked, %llu host flushes (%llu found an unsync shadow page), %llu zaps of every shadow page\n",
		       (unsigned long long)self->sh->writes, (unsigned long long)self->sh->checks,
		       (unsigned long long)self->flushes, (unsigned long long)self->unsync_flushes,
		       (unsigned long long)self->unshadows);
	if (have_stats && gpt_stats(self, st1)) {
		char line[512];
		size_t off = 0;

		for (i = 0; i < GPT_NR_STATS && off < sizeof(line); i++)
			off += snprintf(line + off, sizeof(line) - off, "%s%s %llu",
					i ? ", " : "",
					i < GPT_NR_VM_STATS ? gpt_vm_stats[i] :
					gpt_vcpu_stats[i - GPT_NR_VM_STATS],
					(unsigned long long)(st1[i] - st0[i]));
		kmmu_stats_get(&self->vm_stats, "mmu_unsync", &unsync);
		ksft_print_msg("KVM: %s; mmu_unsync now %llu\n", line, (unsigned long long)unsync);
	} else {
		ksft_print_msg("KVM's statistics are not readable here\n");
	}
	if (gpt_opts.inject == GPT_INJECT_UNDO)
		ksft_print_msg(self->injected ? "INJECTED: %s\n" :
			       "INJECTED: no flush came after a rewrite%s\n", self->inject_note);
	else if (gpt_opts.inject == GPT_INJECT_NO_FLUSH)
		ksft_print_msg("INJECTED: %llu host flushes skipped\n",
			       (unsigned long long)self->flushes);
}

FIXTURE_SETUP(gpt)
{
	self->targets.fd = self->spare.fd = -1;
	KMMU_TEST_SETUP(&self->run, NULL);
}

FIXTURE_TEARDOWN(gpt)
{
	int c;

	if (!self->run.started)
		return;
	if (self->have_vm_stats)
		kmmu_stats_close(&self->vm_stats);
	for (c = 0; c < self->nr_vcpu_stats; c++)
		kmmu_stats_close(&self->vcpu_stats[c]);
	KMMU_TEST_END(&self->run);
	kmmu_mem_free(&self->targets);
	kmmu_mem_free(&self->spare);
	ksft_print_msg("%.2f s\n", self->run.dur);
}

/* A round takes about 0.25 s in the TCG VM. */
static double gpt_one_vcpu_wait(void)
{
	return 120 + 2.0 * gpt_opts.rounds;
}

KMMU_TEST_F(gpt, one_vcpu, 300)
{
	struct kmmu_vm_handlers h = { .sync = h_sync, .fail_context = gpt_fail_context,
				      .ctx = self };
	uint64_t st0[GPT_NR_STATS];
	bool have_stats;

	gpt_build(_metadata, self, 1);
	have_stats = gpt_stats(self, st0);
	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_one, (void *)(uintptr_t)self->sh_gva);
	__kmmu_vm_wait(self->run.vm, gpt_one_vcpu_wait());
	ksft_print_msg("one vCPU: %ld rounds\n", gpt_opts.rounds);
	gpt_report(self, st0, have_stats);
	ASSERT_FALSE(kmmu_vm_failed(self->run.vm)) TH_LOG("%s", kmmu_vm_errors(self->run.vm));
	ASSERT_EQ(KMMU_VCPU_DONE, kmmu_vcpu_status(kmmu_vm_vcpu(self->run.vm, 0)))
		TH_LOG("the vCPU did not finish");
}

KMMU_TEST_F(gpt, two_vcpus, 300)
{
	struct kmmu_vm_handlers h = { .sync = h_sync, .fail_context = gpt_fail_context,
				      .pre_run = gpt_pre_run, .ctx = self };
	uint64_t st0[GPT_NR_STATS];
	bool have_stats;
	double secs;
	int r;

	gpt_build(_metadata, self, 2);
	have_stats = gpt_stats(self, st0);
	kmmu_vm_set_handlers(self->run.vm, &h);
	self->t0 = kmmu_now();
	kmmu_vm_start(self->run.vm, g_two, (void *)(uintptr_t)self->sh_gva);
	r = __kmmu_vm_wait(self->run.vm, gpt_opts.duration + 120);
	secs = kmmu_now() - self->t0;
	ksft_print_msg("two vCPUs: %llu rounds in %.1f s: the writer's %llu stores while the reader waited for it and made its first %d loads through R (which shadowed X; in %llu rounds the writer stored during them), then a burst of %d per round\n",
		       (unsigned long long)self->rounds, secs,
		       (unsigned long long)self->sh->sweep_stores, GPT_FIRST_LOADS,
		       (unsigned long long)self->sh->overlaps, GPT_MAPPED);
	gpt_report(self, st0, have_stats);
	ASSERT_EQ(0, r) TH_LOG("%s%s", r == -ETIMEDOUT ? "vCPUs did not finish: " : "",
			       kmmu_vm_errors(self->run.vm)[0] ? kmmu_vm_errors(self->run.vm) :
			       strerror(-r));
	/* A run without a whole round tested nothing. */
	ASSERT_LT(0, self->rounds);
}

static void gpt_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-n rounds] [-d seconds] [-S seed]\n"
		"  -n  rounds of one_vcpu (default 4)\n"
		"  -d  seconds of two_vcpus rounds (default 10)\n"
		"  -S  random seed of the sweeps' lengths and the reader's start points\n"
		"      (default: time based; always printed)\n"
		"$KMMU_GPT_INJECT plants a bug in the test, which must then fail: no-flush (the\n"
		"host skips its guest TLB flushes; fails on a shadow MMU) or undo (once, the host\n"
		"puts the PTE the guest rewrote last back before a flush; fails one_vcpu on both\n"
		"MMUs)\n",
		prog);
}

int main(int argc, char **argv)
{
	const char *prog = "guest_pt_write_test";
	struct kmmu_run_opts run = { .ops = &gpt_opts.rounds, .max_ops = 100000,
		.duration = &gpt_opts.duration, .seed = &gpt_opts.seed,
		.cli = { gpt_usage, NULL } };
	const char *inject = getenv("KMMU_GPT_INJECT");

	kmmu_run_parse(&run, prog, &argc, argv);
	if (inject && *inject) {
		if (!strcmp(inject, "no-flush"))
			gpt_opts.inject = GPT_INJECT_NO_FLUSH;
		else if (!strcmp(inject, "undo"))
			gpt_opts.inject = GPT_INJECT_UNDO;
		else
			kmmu_usage_error(prog, "KMMU_GPT_INJECT wants no-flush or undo");
	}
	kmmu_test_header(prog, "rounds %ld duration %.3gs seed %llu %s%s", gpt_opts.rounds,
			 gpt_opts.duration, (unsigned long long)gpt_opts.seed,
			 gpt_opts.inject ? "INJECTED BUG: " : "no injected bug",
			 gpt_opts.inject ? inject : "");
	/* The harness kills a test after .timeout seconds: size them to -n and -d. */
	KMMU_TEST_TIMEOUT(gpt, one_vcpu, (int)gpt_one_vcpu_wait() + 60);
	KMMU_TEST_TIMEOUT(gpt, two_vcpus, (int)gpt_opts.duration + 180);
	return test_harness_run(argc, argv);
}
