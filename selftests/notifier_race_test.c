// SPDX-License-Identifier: GPL-2.0
/*
 * notifier_race_test: guest faults racing host MMU-notifier invalidations.
 * KVM must never leave a guest mapping to a page the host has since
 * unmapped.
 *
 * A fault resolves a gfn to a pfn outside mmu_lock and maps it under the
 * lock only if no MMU-notifier invalidation ran or runs meanwhile
 * (mmu_invalidate_seq, mmu_invalidate_in_progress); the shadow MMU's
 * guest-PTE prefetch maps the neighbours of a faulting gfn and must not
 * do so while an invalidation is in progress.  A fault that misses an
 * invalidation (the sequence snapshotted too late, a missing retry, a
 * wrong range in the notifier, a stale prefetch, a lost zap) leaves an
 * SPTE to the old page: the host frees it and refaults a new one, while
 * the guest keeps reading the old one.  Those are races: no fixed order
 * reaches them, so this test makes as many overlaps as it can for a
 * bounded time (ci/mutants/patches/016 and 021 are two such bugs).
 *
 * One memslot of RACE_PAGES 4K pages, mapped 4K by the guest with the
 * Accessed bit set in every guest PTE (the shadow MMU prefetches only
 * accessed gptes, in aligned groups of 8: PTE_PREFETCH_NUM).  A host
 * thread drops pages of its backing in steps: one page at a time, each
 * twice in a row and then the next (so that a vCPU faults on a page while
 * the host drops it again, or drops its neighbour in the same group of
 * 8), and a quarter of the steps a random range of 2-8 pages.  A step
 * marks its pages' sequence numbers odd (in shared memory, not in the
 * slot), drops them (MADV_DONTNEED on anonymous memory; on a shared memfd
 * FALLOC_FL_PUNCH_HOLE and MADV_REMOVE in turn), writes each page's next
 * version into it through the host mapping, and makes the sequence
 * numbers even again (2 * the version).  Between drop and write it
 * touches as many pages of a scratch buffer outside the slot as it
 * dropped: the page allocator hands out the pages freed last first, and a
 * host write right after the drop would often get the dropped page back,
 * so a stale SPTE to it would read correct data (the host counts, from
 * /proc/self/pagemap, how often a rewritten page still got its old frame:
 * without the scratch pages, most of them).
 *
 * The vCPUs (two by default, on one CPU while the host thread has another
 * to itself, see race_pre_run()) read word 0 of every page in a loop, one
 * upwards, the other downwards: reads of dropped pages fault and, on the
 * shadow MMU, prefetch their neighbours.  A read between two loads of its
 * page's sequence number that saw the same even number 2v must read
 * exactly version v: a read that starts after the guest saw "version v
 * done" and sees v - 1, zero or anything else read a page the host
 * unmapped.  The guest fails with the page, its version, the value read
 * and the value expected.  Reads that overlapped a step are counted, not
 * judged (the page is zero between drop and write).
 *
 * Printed: drop steps and pages dropped, the guest's judged reads, those
 * that were the first of a new version (nearly all of them a fault on a
 * page dropped a moment before), reads that overlapped a step, and the
 * vCPUs' KVM fault statistics with the retries they imply (faults that
 * met an invalidation): a run that did not race shows.  Not checked
 * against the reference (no trace session): the data is the oracle, and
 * tracing would slow the race down.
 *
 * Options: -d S seconds of racing per backing (default 12; the nightly
 * runs longer ones), -v vCPUs, -S seed (the steps' random ranges).
 * $KMMU_RACE_INJECT=stale plants a bug in the test: once, a step writes
 * the page's old version back after the drop instead of the new one, as
 * a stale mapping would show it; the test must fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/clock.h"
#include "kmmu/host_thread.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/opts.h"
#include "kmmu/pagemap.h"

#define RACE_GPA		KMMU_GPA_TEST
#define RACE_PAGES		32	/* 4 groups of PTE_PREFETCH_NUM (8) */
#define RACE_SIZE		(RACE_PAGES * KMMU_PAGE_SIZE)
#define RACE_MAX_RANGE		8
#define RACE_SCRATCH_PAGES	256
#define RACE_SCRATCH_BLOCK	32	/* given back at once */
#define RACE_MAX_VCPUS		8
/* The injected stale step: late enough that the race is under way. */
#define RACE_INJECT_STEP	64
/* Every this many steps the host compares a dropped page's frame with its new one. */
#define RACE_PFN_SAMPLE		8

/* What the host writes into word 0 of page @q as its version @v. */
static inline uint64_t race_pattern(uint64_t q, uint64_t v)
{
	return 0x5aULL << 56 | q << 40 | v;
}

/* What the scratch buffer's pages hold (a stale SPTE may show it). */
#define RACE_SCRATCH_WORD	(0x5cULL << 56)

struct race_vcpu_counts {
	uint64_t passes;	/* over every page */
	uint64_t judged;	/* reads between two equal even sequence numbers */
	uint64_t fresh;		/* judged reads that were the first of a new version */
	uint64_t racy;		/* reads that overlapped a step on their page */
};

/* Shared by the guest and the host (the runtime's shared region). */
struct race_shared {
	uint64_t seq[RACE_PAGES];	/* odd while a step drops the page, else 2 * version */
	uint64_t steps;			/* the host's steps done */
	uint64_t stop;
	struct race_vcpu_counts vc[RACE_MAX_VCPUS];
};

static struct {
	int vcpus;
	double duration;
	uint64_t seed;
	bool inject;
} race_opts = { .vcpus = 2, .duration = 12 };

/* ---- the guest ---- */

static void g_main(uint32_t id, void *arg)
{
	struct race_shared *sh = arg;
	struct race_vcpu_counts *c = &sh->vc[id];
	uint64_t last[RACE_PAGES];
	uint64_t i, q, s1, s2, w, want;

	kmmu_guest_memset(last, 0, sizeof(last));
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < RACE_PAGES; i++) {
			q = id & 1 ? RACE_PAGES - 1 - i : i;
			s1 = __atomic_load_n(&sh->seq[q], __ATOMIC_ACQUIRE);
			w = *(volatile uint64_t *)(RACE_GPA + q * KMMU_PAGE_SIZE);
			/* x86 keeps loads in order; the compiler must too. */
			__asm__ volatile("" ::: "memory");
			s2 = __atomic_load_n(&sh->seq[q], __ATOMIC_ACQUIRE);
			if (s1 != s2 || (s1 & 1)) {
				c->racy++;
				continue;
			}
			c->judged++;
			if (s1 / 2 != last[q]) {
				c->fresh++;
				last[q] = s1 / 2;
			}
			want = race_pattern(q, s1 / 2);
			if (w != want)
				GUEST_FAIL("page %lu (gpa %#lx): read %#lx after the host's step writing its version %lu was done, expected %#lx (host steps done: %lu): a mapping to a page the host unmapped",
					   q, RACE_GPA + q * KMMU_PAGE_SIZE, w, s1 / 2, want,
					   __atomic_load_n(&sh->steps, __ATOMIC_RELAXED));
		}
		c->passes++;
	}
	GUEST_DONE();
}

/* ---- the host ---- */

struct race_host {
	struct race_shared *sh;
	struct kmmu_mem *mem;
	uint8_t *scratch;
	uint64_t scratch_at;
	uint64_t version[RACE_PAGES];
	uint64_t rng;
	int nr_vcpus;
	int cpu;			/* pinned here, or -1 */
	bool inject;
	/* Results, read after the thread ended. */
	uint64_t steps, ranges, dropped;
	uint64_t pfn_sampled;		/* rewritten pages whose frames were compared */
	uint64_t same_pfn;		/* ... that got their dropped frame back */
	uint64_t injected_page;		/* RACE_PAGES: none yet */
	int err;			/* -errno of a failed call */
	const char *failed_call;
	struct kmmu_host_thread thread;
};

static uint64_t race_rand(struct race_host *h)
{
	/* xorshift64*: the steps' ranges from the seed. */
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545f4914f6cdd1dULL;
}

static int race_drop(struct race_host *h, uint64_t first, uint64_t n)
{
	uint8_t *hva = (uint8_t *)h->mem->hva + first * KMMU_PAGE_SIZE;
	size_t len = n * KMMU_PAGE_SIZE;

	if (h->mem->backing == KMMU_BACKING_ANON) {
		h->failed_call = "madvise(MADV_DONTNEED)";
		return madvise(hva, len, MADV_DONTNEED) ? -errno : 0;
	}
	/* A shared memfd: the pages leave the file, as DONTNEED would only unmap them. */
	if (h->steps & 1) {
		h->failed_call = "madvise(MADV_REMOVE)";
		return madvise(hva, len, MADV_REMOVE) ? -errno : 0;
	}
	h->failed_call = "fallocate(FALLOC_FL_PUNCH_HOLE)";
	return fallocate(h->mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)(first * KMMU_PAGE_SIZE), len) ? -errno : 0;
}

/*
 * The scratch pages that take the freed pages; the blocks half the ring
 * away are given back, a block per madvise().
 */
static void race_take_freed(struct race_host *h, uint64_t n)
{
	uint64_t i, k, back;

	for (i = 0; i < n; i++) {
		k = h->scratch_at++ % RACE_SCRATCH_PAGES;
		*(volatile uint64_t *)(h->scratch + k * KMMU_PAGE_SIZE) = RACE_SCRATCH_WORD | k;
		if (k % RACE_SCRATCH_BLOCK)
			continue;
		back = (k + RACE_SCRATCH_PAGES / 2) % RACE_SCRATCH_PAGES;
		madvise(h->scratch + back * KMMU_PAGE_SIZE, RACE_SCRATCH_BLOCK * KMMU_PAGE_SIZE,
			MADV_DONTNEED);
	}
}

/* Until a vCPU made two more passes over every page (at most 60 s). */
static void race_wait_passes(struct race_host *h)
{
	uint64_t start[RACE_MAX_VCPUS];
	double t0 = kmmu_now();
	int v, behind;

	for (v = 0; v < h->nr_vcpus; v++)
		start[v] = __atomic_load_n(&h->sh->vc[v].passes, __ATOMIC_ACQUIRE);
	do {
		usleep(1000);
		for (behind = 0, v = 0; v < h->nr_vcpus; v++)
			behind += __atomic_load_n(&h->sh->vc[v].passes, __ATOMIC_ACQUIRE) <
				  start[v] + 2;
	} while (behind == h->nr_vcpus && kmmu_now() - t0 < 60 &&
		 !kmmu_host_thread_stopping(&h->thread));
}

/* One step: pages [first, first + n) dropped and rewritten with their next version. */
static int race_step(struct race_host *h, uint64_t first, uint64_t n)
{
	uint8_t *hva = (uint8_t *)h->mem->hva + first * KMMU_PAGE_SIZE;
	uint64_t old_pfn[RACE_PAGES], new_pfn[RACE_PAGES], q, v;
	bool stale = false, pfns;
	int r;

	/* A sample: two more system calls in every step would slow the race. */
	pfns = h->steps % RACE_PFN_SAMPLE == 0 && !kmmu_pagemap_read(hva, n, old_pfn);
	for (q = first; q < first + n; q++)
		__atomic_store_n(&h->sh->seq[q], 2 * h->version[q] + 1, __ATOMIC_RELEASE);
	r = race_drop(h, first, n);
	if (r)
		return r;
	race_take_freed(h, n);
	for (q = first; q < first + n; q++) {
		v = ++h->version[q];
		if (h->inject && n == 1 && h->steps >= RACE_INJECT_STEP &&
		    h->injected_page == RACE_PAGES) {
			/* As if the guest still read the page the host dropped. */
			h->injected_page = q;
			stale = true;
			v--;
		}
		*(volatile uint64_t *)((uint8_t *)h->mem->hva + q * KMMU_PAGE_SIZE) =
			race_pattern(q, v);
	}
	for (q = first; q < first + n; q++)
		__atomic_store_n(&h->sh->seq[q], 2 * h->version[q], __ATOMIC_RELEASE);
	/* Not KVM's doing, but what makes a stale mapping visible: see the top. */
	if (pfns && !kmmu_pagemap_read(hva, n, new_pfn)) {
		for (q = 0; q < n; q++) {
			if (!(old_pfn[q] & new_pfn[q] & KMMU_PM_PRESENT) ||
			    !(old_pfn[q] & KMMU_PM_PFN_MASK))
				continue;
			h->pfn_sampled++;
			h->same_pfn += (old_pfn[q] & KMMU_PM_PFN_MASK) ==
				       (new_pfn[q] & KMMU_PM_PFN_MASK);
		}
	}
	h->steps++;
	h->dropped += n;
	__atomic_store_n(&h->sh->steps, h->steps, __ATOMIC_RELEASE);
	if (stale)
		race_wait_passes(h);
	return 0;
}

/* The calling thread on @cpu (if >= 0): best effort, a placement only. */
static void race_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Single pages in the order 0, 0, 1, 1, 2, 2 ...: while the vCPUs fault on
 * the page the last step rewrote, the next step drops that page again
 * (a fault that resolved the pfn before the drop and maps it after) or
 * its neighbour (a fault whose prefetch maps the neighbour in the middle
 * of its invalidation).  A quarter of the steps drop a random range.
 */
static void *race_host_thread(void *arg)
{
	struct race_host *h = arg;
	uint64_t next = 0, first, n;

	race_pin(h->cpu);
	while (!kmmu_host_thread_stopping(&h->thread)) {
		if (race_rand(h) % 4 == 0) {
			/* A range: 2-8 pages from anywhere, across groups too. */
			n = 2 + race_rand(h) % (RACE_MAX_RANGE - 1);
			first = race_rand(h) % (RACE_PAGES - n + 1);
			h->ranges++;
		} else {
			n = 1;
			first = next / 2;
			next = (next + 1) % (2 * RACE_PAGES);
		}
		h->err = race_step(h, first, n);
		if (h->err)
			break;
	}
	return NULL;
}

/* What the value a guest failure read is (its args: page, gpa, value, version, ...). */
static void race_fail_context(struct kmmu_vcpu *vcpu, const struct kmmu_ucall_msg *m,
			      char *buf, size_t len, void *ctx)
{
	uint64_t w = m->args[2], page = w >> 40 & 0xffff, v = w & ((1ULL << 40) - 1);

	if (m->nr != KMMU_UCALL_FAIL || m->nr_args < 4)
		return;
	if (!w)
		snprintf(buf, len, "zero: the page as the drop left it, before the host's write");
	else if (w >> 56 == 0x5a && page == m->args[0])
		snprintf(buf, len, "the value read is version %llu of this page, %llu behind",
			 (unsigned long long)v, (unsigned long long)(m->args[3] - v));
	else if (w >> 56 == 0x5a)
		snprintf(buf, len, "the value read is version %llu of page %llu: a freed page reused",
			 (unsigned long long)v, (unsigned long long)page);
	else if ((w & ~0xffffULL) == RACE_SCRATCH_WORD)
		snprintf(buf, len, "the value read is the host's scratch page %llu's: the dropped page, reused",
			 (unsigned long long)(w & 0xffff));
	else
		snprintf(buf, len, "the value read is no page's version: a freed page reused");
}

/*
 * On a host with two CPUs or more the vCPUs share the first and the host
 * thread has the second to itself: vCPUs and drops run in parallel, and
 * a vCPU preempted in the middle of a fault (by the other vCPU, or on a
 * nested host by the outer one) stays there while the host drops pages.
 * The test VM's single-threaded TCG runs its CPUs in turns: there every
 * switch freezes the vCPUs' CPU wherever it is, a fault's window
 * included, while the host thread's CPU runs.  On one CPU all three
 * threads share it.
 */
static int race_vcpu_cpu = -1;

static void race_pre_run(struct kmmu_vcpu *vcpu, void *ctx)
{
	static __thread bool pinned;

	if (!pinned)
		race_pin(race_vcpu_cpu);
	pinned = true;
}

/* The first two CPUs this process may use, or -1 for none. */
static void race_cpus(int *vcpu_cpu, int *host_cpu)
{
	cpu_set_t set;
	int cpu, n = 0;

	*vcpu_cpu = *host_cpu = -1;
	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2)
		return;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (n++)
			*host_cpu = cpu;
		else
			*vcpu_cpu = cpu;
	}
}

/* The vCPUs' KVM statistics the report shows, summed. */
static const char *const race_stat_names[] = { "pf_taken", "pf_fixed", "pf_spurious",
					       "pf_fast", "pf_emulate" };	/* in this order */
#define RACE_NR_STATS	(sizeof(race_stat_names) / sizeof(race_stat_names[0]))

FIXTURE(race) {
	struct kmmu_test_run run;	/* the VM is run.vm */
	struct kmmu_mem mem;
	uint8_t *scratch;
	struct race_host host;
	struct kmmu_stats stats[RACE_MAX_VCPUS];
	int nr_stats;
};

FIXTURE_VARIANT(race) {
	enum kmmu_backing backing;
	const char *drops;
};

FIXTURE_VARIANT_ADD(race, anon) {
	.backing = KMMU_BACKING_ANON,
	.drops = "MADV_DONTNEED",
};

FIXTURE_VARIANT_ADD(race, memfd) {
	.backing = KMMU_BACKING_MEMFD,
	.drops = "FALLOC_FL_PUNCH_HOLE and MADV_REMOVE",
};

FIXTURE_SETUP(race)
{
	self->mem.fd = -1;
	KMMU_TEST_SETUP(&self->run, NULL);
}

FIXTURE_TEARDOWN(race)
{
	int v;

	if (!self->run.started)
		return;
	kmmu_host_thread_stop(&self->host.thread);
	for (v = 0; v < self->nr_stats; v++)
		kmmu_stats_close(&self->stats[v]);
	KMMU_TEST_END(&self->run);
	kmmu_mem_free(&self->mem);
	if (self->scratch)
		munmap(self->scratch, RACE_SCRATCH_PAGES * KMMU_PAGE_SIZE);
	ksft_print_msg("%.2f s\n", self->run.dur);
}

/* The vCPUs' statistics summed into @sum; false if KVM has them not. */
static bool race_stats(FIXTURE_DATA(race) *self, uint64_t sum[RACE_NR_STATS])
{
	uint64_t x;
	size_t i;
	int v;

	memset(sum, 0, RACE_NR_STATS * sizeof(sum[0]));
	for (v = 0; v < self->nr_stats; v++) {
		for (i = 0; i < RACE_NR_STATS; i++) {
			if (kmmu_stats_get(&self->stats[v], race_stat_names[i], &x))
				return false;
			sum[i] += x;
		}
	}
	return self->nr_stats > 0;
}

KMMU_TEST_F(race, run, 120)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = race_opts.vcpus,
				   .shared_size = sizeof(struct race_shared) };
	struct kmmu_vm_handlers hd = { .pre_run = race_pre_run,
				       .fail_context = race_fail_context };
	struct race_host *h = &self->host;
	uint64_t st0[RACE_NR_STATS], st1[RACE_NR_STATS], sh_gva, q;
	struct race_vcpu_counts tot = { 0 };
	bool have_stats;
	double t0, secs;
	int v, r;

	kmmu_vm_create(&self->run.vm, &vo);
	h->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(*h->sh), &sh_gva);
	ASSERT_NE(NULL, h->sh);
	ASSERT_EQ(0, kmmu_mem_alloc(&self->mem, RACE_SIZE, variant->backing, -1));
	self->scratch = mmap(NULL, RACE_SCRATCH_PAGES * KMMU_PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->scratch) TH_LOG("mmap: %s", strerror(errno));
	for (q = 0; q < RACE_PAGES; q++)
		*(uint64_t *)((uint8_t *)self->mem.hva + q * KMMU_PAGE_SIZE) = race_pattern(q, 0);

	/* 4K guest PTEs with the Accessed bit (the runtime's default): prefetchable. */
	kmmu_vm_map(self->run.vm, RACE_GPA, RACE_GPA, RACE_SIZE, KMMU_MAP_NX);
	kmmu_slot_add(self->run.vm, KMMU_SLOT_FIRST_FREE, RACE_GPA, RACE_SIZE, self->mem.hva, 0);

	for (v = 0; v < race_opts.vcpus; v++) {
		if (kmmu_stats_open(&self->stats[v], kmmu_vcpu_fd(kmmu_vm_vcpu(self->run.vm, v))))
			break;
		self->nr_stats++;
	}
	have_stats = race_stats(self, st0);

	h->mem = &self->mem;
	h->scratch = self->scratch;
	h->rng = race_opts.seed | 1;
	h->nr_vcpus = race_opts.vcpus;
	h->inject = race_opts.inject;
	h->injected_page = RACE_PAGES;
	race_cpus(&race_vcpu_cpu, &h->cpu);
	kmmu_vm_set_handlers(self->run.vm, &hd);
	kmmu_vm_start(self->run.vm, g_main, (void *)(uintptr_t)sh_gva);
	r = kmmu_host_thread_start(&h->thread, race_host_thread, h);
	ASSERT_EQ(0, r) TH_LOG("starting the host thread: %s", strerror(-r));

	t0 = kmmu_now();
	while (kmmu_now() - t0 < race_opts.duration && !kmmu_vm_failed(self->run.vm) &&
	       !__atomic_load_n(&h->err, __ATOMIC_RELAXED))
		usleep(20000);
	kmmu_host_thread_stop(&h->thread);
	secs = kmmu_now() - t0;
	__atomic_store_n(&h->sh->stop, 1, __ATOMIC_RELEASE);
	r = __kmmu_vm_wait(self->run.vm, 60);
	have_stats = have_stats && race_stats(self, st1);

	for (v = 0; v < race_opts.vcpus; v++) {
		tot.passes += h->sh->vc[v].passes;
		tot.judged += h->sh->vc[v].judged;
		tot.fresh += h->sh->vc[v].fresh;
		tot.racy += h->sh->vc[v].racy;
	}
	ksft_print_msg("%s: %.1f s of racing: %llu host steps (%llu of them ranges), %llu pages dropped and rewritten (%.0f/s)\n",
		       variant->drops, secs, (unsigned long long)h->steps,
		       (unsigned long long)h->ranges, (unsigned long long)h->dropped,
		       h->dropped / (secs > 0 ? secs : 1));
	if (h->pfn_sampled)
		ksft_print_msg("host: %llu of %llu rewritten pages sampled got the frame they were dropped from back (a stale mapping to it would read right)\n",
			       (unsigned long long)h->same_pfn,
			       (unsigned long long)h->pfn_sampled);
	ksft_print_msg("guest: %llu passes over the %d pages, %llu reads judged, %llu of them the first of a new version, %llu overlapped a step\n",
		       (unsigned long long)tot.passes, RACE_PAGES, (unsigned long long)tot.judged,
		       (unsigned long long)tot.fresh, (unsigned long long)tot.racy);
	if (have_stats) {
		uint64_t d[RACE_NR_STATS];
		size_t i;

		for (i = 0; i < RACE_NR_STATS; i++)
			d[i] = st1[i] - st0[i];
		/* RET_PF_RETRY is not counted: what is taken and neither fixed, spurious nor emulated. */
		ksft_print_msg("KVM, %d vCPUs: pf_taken %llu, pf_fixed %llu, pf_spurious %llu, pf_fast %llu, pf_emulate %llu; retried %llu (faults that found an invalidation in progress or finished since they resolved their pfn, each retried until it ends; or lost a race to the other vCPU)\n",
			       race_opts.vcpus, (unsigned long long)d[0], (unsigned long long)d[1],
			       (unsigned long long)d[2], (unsigned long long)d[3],
			       (unsigned long long)d[4],
			       (unsigned long long)(d[0] - d[1] - d[2] - d[4]));
	}
	else
		ksft_print_msg("KVM's vCPU fault statistics are not readable here\n");
	if (h->inject)
		ksft_print_msg(h->injected_page < RACE_PAGES ?
			       "INJECTED: page %llu got its old version back after a drop\n" :
			       "INJECTED: no step reached the injection (%llu)\n",
			       (unsigned long long)h->injected_page);

	ASSERT_EQ(0, h->err) TH_LOG("the host's %s failed: %s", h->failed_call, strerror(-h->err));
	ASSERT_EQ(0, r) TH_LOG("%s%s", r == -ETIMEDOUT ? "vCPUs did not finish: " : "",
			       kmmu_vm_errors(self->run.vm)[0] ? kmmu_vm_errors(self->run.vm) :
			       strerror(-r));
	/* A run that never judged a read of a rewritten page tested nothing. */
	ASSERT_LT(RACE_PAGES, tot.fresh)
		TH_LOG("the guest judged only %llu first reads of a page version: no race was run",
		       (unsigned long long)tot.fresh);
}

static void race_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-d seconds] [-v vcpus] [-S seed]\n"
		"  -d  seconds of racing per backing (anonymous, shared memfd; default 12)\n"
		"  -v  vCPUs reading the pages (default 2, max %d)\n"
		"  -S  random seed of the host's range drops (default: time based; always printed)\n"
		"$KMMU_RACE_INJECT=stale plants a bug in the test, which must then fail: once,\n"
		"a step writes the page's old version back after the drop, as a stale\n"
		"mapping would show it\n",
		prog, RACE_MAX_VCPUS);
}

int main(int argc, char **argv)
{
	const char *prog = "notifier_race_test";
	struct kmmu_run_opts run = { .vcpus = &race_opts.vcpus, .min_vcpus = 1,
		.duration = &race_opts.duration, .seed = &race_opts.seed,
		.cli = { race_usage, NULL } };
	const char *inject;

	kmmu_run_parse(&run, prog, &argc, argv);
	if (race_opts.vcpus > RACE_MAX_VCPUS)
		kmmu_usage_error(prog, "-v wants 1 to %d vCPUs", RACE_MAX_VCPUS);
	inject = getenv("KMMU_RACE_INJECT");
	if (inject && *inject && strcmp(inject, "stale"))
		kmmu_usage_error(prog, "KMMU_RACE_INJECT wants stale");
	race_opts.inject = inject && *inject;
	kmmu_test_header(prog, "vcpus %d duration %.3gs per backing seed %llu %s",
			 race_opts.vcpus, race_opts.duration, (unsigned long long)race_opts.seed,
			 race_opts.inject ? "INJECTED BUG: stale" : "no injected bug");
	/* The harness kills a test after .timeout seconds: size it to -d. */
	KMMU_TEST_TIMEOUT(race, run, (int)race_opts.duration + 120);
	return test_harness_run(argc, argv);
}
