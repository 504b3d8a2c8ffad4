// SPDX-License-Identifier: GPL-2.0
/*
 * aging_test: does KVM's aging tell the host's memory management which
 * guest pages the guest uses?
 *
 * The guest (CPL3, -v vCPUs) first writes every page of a "hot" set, then
 * every page of a "cold" set once, and from then on keeps touching the hot
 * set (with --control it touches nothing more: the control run).  The host
 * process never touches guest memory while it measures, so the only way a
 * hot page can look young to the kernel is through KVM's aging: the mmu
 * notifier's clear_young/test_young, i.e. kvm_age_hva / kvm_test_age_hva,
 * which test and clear the Accessed bits of the guest's SPTEs.
 *
 * Two drivers of the kernel's real aging paths, one harness variant each,
 * each SKIPping with its reason where it is not available:
 *
 * damon    a kdamond with paddr operations monitors the physical pages
 *          backing guest memory (found through /proc/self/pagemap; the
 *          memory is mlocked after the guest's first touches so that the
 *          frames stay put).  Hot regions must be reported accessed, cold
 *          ones not.
 * reclaim  the process runs in a memory cgroup with a zram swap device,
 *          and the cgroup is asked to reclaim cold/2 bytes (at least the
 *          hot set's size; v2 memory.reclaim, v1 a momentary limit).  Cold
 *          pages must go to swap (KVM unmaps them: kvm_unmap_hva_range,
 *          pages_4k drops), hot ones must stay.
 *
 * Why the LRU order is against the hot set.  The guest writes the hot set
 * *before* the cold set, so on the (inactive) anon LRU the hot pages are
 * the older ones: reclaim scans them first.  Without aging information
 * (the control run) reclaim takes the hot set first; a test that passed
 * only because of LRU order would pass the control as well.  What decides
 * is folio_check_references(): a page found referenced on its first scan
 * is kept for another trip and activated when it is referenced again;
 * "referenced" is the host PTE's Accessed bit OR'ed with what KVM reports
 * for the SPTE.  The host PTE of a hot page is young only from its first
 * fault; after the first scan only KVM can make it young again.
 *
 * What is exact and what is heuristic:
 *   exact  - a cold page that went to swap had its SPTE zapped first (mmu
 *            notifier invalidation): a kvm_unmap_hva_range covers it, and
 *            pages_4k drops by at least the number of such pages (nothing
 *            re-maps a page the guest never touches again);
 *          - once the squeeze is over, no more cgroup reclaim happens; after
 *            two more complete sweeps of the guest over the hot set, every
 *            hot page is resident (a page reclaim took was faulted back in
 *            by the guest).  Checked per GPA (the planted misclassification
 *            fails here);
 *          - a DAMON region holding only cold pages is never accessed (only
 *            the guest, and only hot pages, are touched);
 *          - a hot page is protected only if the guest touched it between
 *            two scans of it, so it is judged per page against the guest's
 *            own progress: a thread samples each vCPU's pass counter during
 *            the squeeze, and a hot page evicted after KVM's last two aging
 *            calls on it (kvm_age_hva) had two complete passes of its vCPU
 *            between them was written after the first cleared its
 *            Accessed bit: the second had to report it young, and reclaim
 *            keep it.  How many hot pages reclaim takes depends on how
 *            much CPU the vCPU got (a loaded host, a 1-CPU VM: measured 0
 *            to all of the hot set in the first pass), so that count is
 *            printed and recorded, not judged;
 *   heuristic, checked with margins - how much reclaim takes from where:
 *            at least half of the squeeze from the cold set (the cgroup
 *            also holds this program's own late allocations, and reclaim
 *            overshoots in batches); at most a hundredth of the hot set
 *            evicted although touched as above (a migration unmaps a page
 *            too); in the control run at least half of the hot
 *            set evicted; DAMON's regions straddle hot and cold frames that are
 *            physically adjacent and it samples one page per region, so a
 *            quarter of the cold bytes may sit in accessed regions and half
 *            of the hot bytes must.
 *
 * Backing: private anonymous memory (what VMMs normally use for guest RAM),
 * 4K pages (MADV_NOHUGEPAGE: a THP is aged and reclaimed as a whole) and
 * MADV_DONTFORK (the drivers' janitors are forked: a shared COW mapping
 * would give every page a second PTE and change what reclaim counts).
 * Anonymous rather than memfd/shmem because pagemap tells present from
 * swapped exactly for private anonymous pages (the swap entry stays in the
 * PTE), while a swapped-out shmem page just has no PTE; zram swaps both.
 *
 * Events: kvm_age_hva, kvm_test_age_hva and kvm_unmap_hva_range fire in
 * kswapd, kdamond or whichever task reclaims, not only in this process, so
 * they are captured from all processes (a private tracefs instance) and
 * attributed by the guest memory's host virtual range.  Another process's
 * VM with memory at the same virtual addresses would add to the counts;
 * that needs two mmap placements to coincide under ASLR, and the per-page
 * checks that rely on events only ever require an event to be there.
 *
 * Reference: the checker judges every Accessed-bit clear of the TDP MMU
 * (kvm_tdp_mmu_spte_changed): inside an aging pass covering its gfn, Dirty
 * and Writable kept, and -- the cold set being declared idle once the
 * guest's first touches are done -- at most one pass finding a cold page
 * young.  Passes of other tasks (kdamond, kswapd) are captured here, from
 * all processes, and handed to the checker with their SPTE changes when
 * their hva range is guest memory.  With the shadow MMU nothing of this is
 * traced: not checkable.
 *
 * $KMMU_AGING_INJECT=idle-hot runs --control's guest (the hot set idle:
 * its passes go on, its writes stop) and judges it as a normal run: to
 * reclaim that is what KVM reporting written pages old looks like, and the
 * per-page check of hot evictions must fail on it.
 *
 * $KMMU_AGING_INJECT=invert-one flips the expectation for one GPA (a cold
 * page that reclaim evicted is expected hot): the reclaim run must fail on
 * it.  DAMON judges regions, not pages (one region usually spans many
 * pages), so there it flips the pages of one region: the smallest accessed
 * one holding only hot pages is expected cold, and the per-region check
 * must fail on it.
 *
 * DAMON's regions come from its tried_regions (Linux 6.2 and later) or,
 * on 6.1, its damon_aggregated tracepoint (see kmmu/damon.h): the same
 * snapshots, the same checks.  Where DAMON is held by someone else (any
 * kdamond exists) the variant SKIPs with that reason and touches nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/damon.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/pagemap.h"
#include "kmmu/reclaim.h"
#include "kmmu/result.h"
#include "kmmu/stats.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_session.h"

#define AG_PAGE		4096ULL
#define AG_MIB		(1024ULL * 1024)
#define AG_READ(x)	(*(volatile __typeof__(x) *)&(x))
#define AG_VALUE(i)	(0x5a00000000000000ULL | (uint64_t)(i))

enum ag_driver { AG_DAMON = 1, AG_RECLAIM = 2 };

struct ag_vcpu_shared {
	uint64_t sweeps;	/* guest: passes of its main loop */
	uint64_t pad[7];
};

struct ag_shared {
	uint64_t hot_gva, hot_pages, cold_gva, cold_pages;
	uint64_t nr_vcpus;
	uint64_t control;
	uint64_t hot_done, cold_done;	/* guest: vCPUs past each phase */
	uint64_t stop;			/* host */
	struct ag_vcpu_shared vcpu[KMMU_MAX_VCPUS];
};

/* ---- guest ---- */

static void ag_guest(uint32_t v, void *arg)
{
	struct ag_shared *sh = arg;
	uint64_t nr = sh->nr_vcpus, i;

	/* Hot first: the older pages on the LRU (see the top comment). */
	for (i = v; i < sh->hot_pages; i += nr)
		*(volatile uint64_t *)(sh->hot_gva + i * AG_PAGE) = AG_VALUE(i);
	__atomic_add_fetch(&sh->hot_done, 1, __ATOMIC_SEQ_CST);
	while (AG_READ(sh->hot_done) < nr)
		;
	for (i = v; i < sh->cold_pages; i += nr)
		*(volatile uint64_t *)(sh->cold_gva + i * AG_PAGE) = AG_VALUE(sh->hot_pages + i);
	__atomic_add_fetch(&sh->cold_done, 1, __ATOMIC_SEQ_CST);
	while (!AG_READ(sh->stop)) {
		if (!sh->control)
			for (i = v; i < sh->hot_pages; i += nr)
				(*(volatile uint64_t *)(sh->hot_gva + i * AG_PAGE + 8))++;
		sh->vcpu[v].sweeps++;
	}
}

/* ---- options and the result shared across the harness's children ---- */

static struct {
	int vcpus;
	uint64_t hot_mb, cold_mb;
	unsigned int drivers;
	bool control;
	uint64_t seed;
	const char *result;
	bool invert_one;
	bool idle_hot;		/* injected: the control's guest, judged as a run */
} ag_opts = { .vcpus = 1, .hot_mb = 16, .cold_mb = 64, .drivers = AG_DAMON | AG_RECLAIM };

#define AG_MAX_METRICS 24

struct ag_metric {
	char name[48];
	char unit[16];
	double value;
	int dir;
};

/*
 * Each harness test runs in a child; the parent writes one result file for
 * the program at exit, from what the children left here (MAP_SHARED).
 */
struct ag_report {
	int state;		/* 0 not run, 1 running, 2 done */
	pid_t pid;		/* the test's process (and group), while running */
	int passed, skipped;
	double duration;
	char reason[200];
	int nr_metrics;
	struct ag_metric m[AG_MAX_METRICS];
};

static struct ag_report *ag_reports;	/* [0] damon, [1] reclaim */
static volatile sig_atomic_t ag_interrupted;

static void ag_metric(struct ag_report *rep, const char *name, double v, const char *unit,
		      enum kmmu_direction dir)
{
	struct ag_metric *m;

	if (!rep || rep->nr_metrics >= AG_MAX_METRICS)
		return;
	m = &rep->m[rep->nr_metrics++];
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->unit, sizeof(m->unit), "%s", unit);
	m->value = v;
	m->dir = dir;
}

/* ---- host helpers ---- */

static double ag_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void ag_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Per guest page: what the kernel's events said about its hva. */
#define AG_EV_AGED	0x1	/* kvm_age_hva covered it */
#define AG_EV_TESTED	0x2	/* kvm_test_age_hva */
#define AG_EV_UNMAPPED	0x4	/* kvm_unmap_hva_range */
#define AG_EV_UNMAPPED_LATE 0x8	/* ... after the squeeze's first quarter */
#define AG_EV_UNMAPPED_ANY 0x10	/* ... at any time (UNMAPPED: during the squeeze) */

struct ag_events {
	bool captured;		/* complete capture: per-page checks may use it */
	char why[256];		/* if not */
	uint64_t ages, tests, unmaps;	/* events touching guest memory */
	uint64_t unmaps_before;		/* ... unmaps before the squeeze */
	uint64_t all_ages, all_tests, all_unmaps;	/* from every process */
};

FIXTURE(aging) {
	struct kmmu_test_run run;	/* the VM, the checker's session (NULL: off) */
	struct kmmu_mem mem;
	struct ag_shared *sh;
	uint64_t sh_gva;
	struct kmmu_trace_capture *cap;		/* the aging events */
	struct kmmu_trace_log log;
	bool log_inited;
	char cap_instance[128];
	struct kmmu_reclaim rc;
	struct kmmu_damon damon;
	bool damon_started;
	char damon_instance[512];	/* its tracefs instance, if any */
	char swap_dev[64];
	char cg_dir[KMMU_UNDO_PATH];
	int zram_id;
	struct kmmu_stats stats;
	bool stats_open;
	uint8_t *evflags;	/* per page */
	uint8_t *expect_hot;	/* per page: the test's expectation */
	uint64_t *pm;		/* pagemap entries, per page */
	struct ag_events ev;
	uint64_t t_squeeze;	/* trace clock: the squeeze began */
	uint64_t t_late;	/* ... its first quarter is over */
	struct ag_report *rep;
	double t0;
};

FIXTURE_VARIANT(aging) {
	enum ag_driver driver;
	const char *name;
};

FIXTURE_VARIANT_ADD(aging, damon) {
	.driver = AG_DAMON,
	.name = "damon",
};

FIXTURE_VARIANT_ADD(aging, reclaim) {
	.driver = AG_RECLAIM,
	.name = "reclaim",
};

static uint64_t ag_pages(void)
{
	return (ag_opts.hot_mb + ag_opts.cold_mb) * AG_MIB / AG_PAGE;
}

static uint64_t ag_hot_pages(void)
{
	return ag_opts.hot_mb * AG_MIB / AG_PAGE;
}

/* A SKIP's reason, for the result file the parent writes from the report. */
static __attribute__((format(printf, 2, 3)))
void ag_skipped(struct ag_report *rep, const char *fmt, ...)
{
	char reason[1024];	/* as long as the harness's */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(rep->reason, sizeof(rep->reason), "%.199s", reason);
	rep->skipped = 1;
}

/* SKIP(), and the reason kept in the report. */
#define AG_SKIP(statement, fmt, ...)						\
	do {									\
		ag_skipped(self->rep, fmt, ##__VA_ARGS__);			\
		SKIP(statement, fmt, ##__VA_ARGS__);				\
	} while (0)

FIXTURE_SETUP(aging)
{
	char why[256];
	int fd;

	self->mem.fd = -1;
	self->zram_id = -1;
	self->rep = &ag_reports[variant->driver == AG_DAMON ? 0 : 1];
	/* The harness made this process the leader of its own group. */
	self->rep->pid = getpid();
	__atomic_store_n(&self->rep->state, 1, __ATOMIC_SEQ_CST);
	self->t0 = ag_now();
	/* The parent's forwarding handler is not for the test's process. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (ag_interrupted)
		AG_SKIP(return, "interrupted");
	if (!(ag_opts.drivers & variant->driver))
		AG_SKIP(return, "not selected (--driver)");
	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd < 0)
		AG_SKIP(return, "%s", why);
	close(fd);
	kmmu_test_run_start(&self->run, NULL);
}

/* Nothing of ours left on the host: checked after every teardown. */
static void ag_check_host_clean(struct __test_metadata *_metadata, FIXTURE_DATA(aging) *self)
{
	char path[512];
	struct stat st;

	if (self->swap_dev[0]) {
		EXPECT_EQ(0, kmmu_swap_active(self->swap_dev))
			TH_LOG("%s is still a swap device", self->swap_dev);
	}
	if (self->zram_id > 0) {
		snprintf(path, sizeof(path), "/sys/block/zram%d", self->zram_id);
		EXPECT_NE(0, stat(path, &st)) TH_LOG("%s left behind", path);
	}
	if (self->cg_dir[0]) {
		EXPECT_NE(0, stat(self->cg_dir, &st)) TH_LOG("%s left behind", self->cg_dir);
	}
	if (self->damon_started) {
		EXPECT_EQ(0, kmmu_damon_nr_kdamonds()) TH_LOG("a kdamond is still there");
	}
	if (self->damon_instance[0]) {
		EXPECT_NE(0, stat(self->damon_instance, &st))
			TH_LOG("DAMON's tracefs instance %s left behind", self->damon_instance);
	}
	if (self->cap_instance[0]) {
		const char *dir = kmmu_tracefs_dir();

		snprintf(path, sizeof(path), "%s/instances/%s", dir ? dir : "", self->cap_instance);
		EXPECT_NE(0, stat(path, &st)) TH_LOG("tracefs instance %s left behind", path);
	}
}

FIXTURE_TEARDOWN(aging)
{
	struct ag_report *rep = self->rep;

	if (self->stats_open)
		kmmu_stats_close(&self->stats);
	if (self->damon_started)
		EXPECT_EQ(0, kmmu_damon_stop(&self->damon));
	kmmu_trace_session_abort(self->run.trace);	/* still set: the run failed */
	self->run.trace = NULL;
	kmmu_vm_destroy(self->run.vm);
	self->run.vm = NULL;
	/* The instance before the memory: freeing it would log unmaps. */
	kmmu_trace_capture_destroy(self->cap);
	self->cap = NULL;
	if (self->log_inited)
		kmmu_trace_log_free(&self->log);
	/* Swapped pages are freed with the memory, not read back by swapoff. */
	kmmu_mem_free(&self->mem);
	EXPECT_EQ(0, kmmu_reclaim_teardown(&self->rc));
	ag_check_host_clean(_metadata, self);
	free(self->evflags);
	free(self->expect_hot);
	free(self->pm);
	/* After the drivers' teardown: swapoff and zram log too. */
	KMMU_TEST_END(&self->run);
	rep->duration = ag_now() - self->t0;
	rep->passed = KMMU_TEST_PASSED();
	ag_metric(rep, "duration", rep->duration, "s", KMMU_LOWER_IS_BETTER);
	__atomic_store_n(&rep->state, 2, __ATOMIC_SEQ_CST);
}

/*
 * All-process capture of the three aging events (see the top comment).
 * Must run before guest memory exists: it forks a janitor.
 */
static void ag_capture_start(FIXTURE_DATA(aging) *self)
{
	static const char *const events[] = {
		"kvm:kvm_age_hva", "kvm:kvm_test_age_hva", "kvm:kvm_unmap_hva_range",
		"kvmmmu:kvm_tdp_mmu_spte_changed", NULL,
	};
	struct kmmu_trace_capture_opts o = { .events = events, .all_pids = true };
	int r;

	kmmu_trace_log_init(&self->log);
	self->log_inited = true;
	r = kmmu_trace_capture_start(&self->cap, &o, &self->log, self->ev.why,
				     sizeof(self->ev.why));
	if (r) {
		self->cap = NULL;
		ksft_print_msg("aging events: not captured (%s)\n", self->ev.why);
		return;
	}
	snprintf(self->cap_instance, sizeof(self->cap_instance), "%s",
		 kmmu_trace_capture_instance_name(self->cap));
	if (kmmu_trace_capture_missing(self->cap)[0])
		ksft_print_msg("aging events this kernel lacks: %s\n",
			       kmmu_trace_capture_missing(self->cap));
}

/* Whether a notifier call @r is about this VM's guest memory. */
static bool ag_guest_hva(FIXTURE_DATA(aging) *self, const struct kmmu_trace_record *r)
{
	uint64_t lo = (uint64_t)(uintptr_t)self->mem.hva, hi = lo + self->mem.size;

	if (r->type == KMMU_EV_TEST_AGE_HVA)
		return r->test_age.hva >= lo && r->test_age.hva < hi;
	return r->hva_range.start < hi && lo < r->hva_range.end;
}

/*
 * Other tasks' notifier calls on guest memory go to the checker with the
 * SPTE changes they made: those of the same task that follow the call (it
 * holds mmu_lock throughout, see the checker).  The checker's own capture
 * has this process's records; its tasks are left out here.
 */
static void ag_merge_foreign(FIXTURE_DATA(aging) *self)
{
	struct kmmu_trace_log *log = kmmu_trace_session_log(self->run.trace);
	struct { int32_t pid; bool on; } task[64] = { 0 };
	uint64_t nr, i, j, merged = 0;
	int32_t *own;
	size_t nr_own = 0;

	if (!log)
		return;
	pthread_mutex_lock(&log->lock);
	nr = log->nr;
	own = malloc((nr + 1) * sizeof(*own));
	for (i = 0; own && i < nr; i++) {
		for (j = 0; j < nr_own && own[j] != log->recs[i].pid; j++)
			;
		if (j == nr_own && nr_own < 4096)
			own[nr_own++] = log->recs[i].pid;
	}
	pthread_mutex_unlock(&log->lock);
	if (!own)
		return;
	for (i = 0; i < self->log.nr; i++) {
		const struct kmmu_trace_record *r = &self->log.recs[i];
		unsigned int t;

		for (j = 0; j < nr_own && own[j] != r->pid; j++)
			;
		if (j < nr_own)
			continue;
		for (t = 0; t < 64 && task[t].pid && task[t].pid != r->pid; t++)
			;
		if (t == 64)
			continue;	/* too many tasks: theirs are not handed over */
		task[t].pid = r->pid;
		if (r->type != KMMU_EV_SPTE_CHANGED)
			task[t].on = ag_guest_hva(self, r);
		if (task[t].on && r->type != KMMU_EV_TEST_AGE_HVA) {
			kmmu_trace_log_append(log, r);
			merged++;
		}
	}
	free(own);
	ksft_print_msg("checker: %llu records of other tasks' aging and unmapping of guest memory handed over\n",
		       (unsigned long long)merged);
}

/* Stop the capture and attribute the events to guest pages. */
static void ag_capture_finish(FIXTURE_DATA(aging) *self)
{
	uint64_t lo = (uint64_t)(uintptr_t)self->mem.hva, hi = lo + self->mem.size, i, p;
	unsigned long long lost = 0;
	int r;

	if (!self->cap)
		return;
	r = kmmu_trace_capture_stop(self->cap, &lost);
	if (r) {
		snprintf(self->ev.why, sizeof(self->ev.why), "%s (%llu events lost)",
			 r == -ENOMEM ? "out of memory" : "the kernel dropped events", lost);
	}
	kmmu_trace_log_sort(&self->log);
	if (!r)
		ag_merge_foreign(self);
	for (i = 0; i < self->log.nr; i++) {
		const struct kmmu_trace_record *rec = &self->log.recs[i];
		uint64_t s, e;
		uint8_t bit;

		switch (rec->type) {
		case KMMU_EV_AGE_HVA:
			self->ev.all_ages++;
			bit = AG_EV_AGED;
			s = rec->hva_range.start;
			e = rec->hva_range.end;
			break;
		case KMMU_EV_UNMAP_HVA_RANGE:
			self->ev.all_unmaps++;
			bit = AG_EV_UNMAPPED;
			s = rec->hva_range.start;
			e = rec->hva_range.end;
			break;
		case KMMU_EV_TEST_AGE_HVA:
			self->ev.all_tests++;
			bit = AG_EV_TESTED;
			s = rec->test_age.hva;
			e = s + 1;
			break;
		default:
			continue;
		}
		if (e <= lo || s >= hi)
			continue;
		if (bit == AG_EV_UNMAPPED) {
			if (rec->ts < self->t_squeeze) {
				self->ev.unmaps_before++;
				bit = AG_EV_UNMAPPED_ANY;
			} else {
				bit |= AG_EV_UNMAPPED_ANY;
			}
			if (self->t_late && rec->ts >= self->t_late)
				bit |= AG_EV_UNMAPPED_LATE;
		}
		if (bit == AG_EV_AGED)
			self->ev.ages++;
		else if (bit & AG_EV_UNMAPPED_ANY)
			self->ev.unmaps++;
		else
			self->ev.tests++;
		if (s < lo)
			s = lo;
		if (e > hi)
			e = hi;
		for (p = (s - lo) / AG_PAGE; p < (e - lo + AG_PAGE - 1) / AG_PAGE; p++)
			self->evflags[p] |= bit;
	}
	self->ev.captured = !r;
	ksft_print_msg("aging events for guest memory: kvm_age_hva %llu, kvm_test_age_hva %llu, kvm_unmap_hva_range %llu, %llu of them before the squeeze (all processes: %llu, %llu, %llu)%s%s\n",
		       (unsigned long long)self->ev.ages, (unsigned long long)self->ev.tests,
		       (unsigned long long)self->ev.unmaps, (unsigned long long)self->ev.unmaps_before,
		       (unsigned long long)self->ev.all_ages,
		       (unsigned long long)self->ev.all_tests, (unsigned long long)self->ev.all_unmaps,
		       r ? "; INCOMPLETE: " : "", r ? self->ev.why : "");
}

/* The runtime's memslot hook: every ioctl goes into the checker's action log. */
static void ag_log_memslot(void *ctx, uint64_t issued_ns, uint32_t slot, uint32_t flags,
			   uint64_t gpa, uint64_t size, uint64_t hva, int ret)
{
	kmmu_trace_action_memslot(ctx, issued_ns, slot, flags, gpa, size, hva, ret);
}

/*
 * The VM, its page tables and shared page (no guest memory yet), and the
 * checker's session (this process only: the memslot and SPTE properties).
 * Both fork janitors: before guest memory exists.
 */
static int ag_vm_create(FIXTURE_DATA(aging) *self, char *err, size_t len)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = ag_opts.vcpus };
	uint64_t size = ag_pages() * AG_PAGE;
	int r;

	self->run.trace = kmmu_trace_session_start("aging_test", err, len);
	if (self->run.trace) {
		vo.memslot_hook = ag_log_memslot;
		vo.memslot_hook_ctx = kmmu_trace_session_log(self->run.trace);
		ksft_print_msg("checking against the reference: on\n");
	} else {
		ksft_print_msg("checking against the reference: off (%s)\n", err);
	}

	vo.shared_size = sizeof(struct ag_shared) + AG_PAGE;
	vo.pt_pages = 1024 + kmmu_pt_pages_for(size);
	r = kmmu_vm_create(&self->run.vm, &vo, err, len);
	if (r)
		return r;
	kmmu_trace_session_vm(self->run.trace, kmmu_kvm_cap(kmmu_vm_fd(self->run.vm),
							KVM_CAP_MULTI_ADDRESS_SPACE));
	r = kmmu_vm_map(self->run.vm, KMMU_GPA_TEST, KMMU_GPA_TEST, size,
			KMMU_MAP_WRITE | KMMU_MAP_NX);
	if (r) {
		snprintf(err, len, "mapping the test region: %s", strerror(-r));
		return r;
	}
	self->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(struct ag_shared), &self->sh_gva);
	if (!self->sh) {
		snprintf(err, len, "no shared region");
		return -ENOMEM;
	}
	self->sh->hot_gva = KMMU_GPA_TEST;
	self->sh->hot_pages = ag_hot_pages();
	self->sh->cold_gva = KMMU_GPA_TEST + ag_hot_pages() * AG_PAGE;
	self->sh->cold_pages = ag_pages() - ag_hot_pages();
	self->sh->nr_vcpus = ag_opts.vcpus;
	self->sh->control = ag_opts.control || ag_opts.idle_hot;
	self->evflags = calloc(ag_pages(), 1);
	self->expect_hot = calloc(ag_pages(), 1);
	self->pm = calloc(ag_pages(), sizeof(uint64_t));
	if (!self->evflags || !self->expect_hot || !self->pm)
		return -ENOMEM;
	/* The expectation: hot pages are young, cold ones are not. */
	memset(self->expect_hot, 1, ag_hot_pages());
	return 0;
}

/* Guest memory (in whatever memcg the process is in now), slot, vCPUs. */
static int ag_vm_start(FIXTURE_DATA(aging) *self, char *err, size_t len)
{
	uint64_t size = ag_pages() * AG_PAGE;
	int r;

	r = kmmu_mem_alloc(&self->mem, size, KMMU_BACKING_ANON, -1);
	if (r) {
		snprintf(err, len, "guest memory: %s", strerror(-r));
		return r;
	}
	if (madvise(self->mem.hva, size, MADV_NOHUGEPAGE) ||
	    madvise(self->mem.hva, size, MADV_DONTFORK)) {
		snprintf(err, len, "madvise: %s", strerror(errno));
		return -errno;
	}
	r = kmmu_slot_add(self->run.vm, KMMU_SLOT_FIRST_FREE, KMMU_GPA_TEST, size, self->mem.hva, 0);
	if (r) {
		snprintf(err, len, "memslot: %s", strerror(-r));
		return r;
	}
	if (!kmmu_stats_open(&self->stats, kmmu_vm_fd(self->run.vm)))
		self->stats_open = true;
	r = kmmu_vm_start(self->run.vm, ag_guest, (void *)(uintptr_t)self->sh_gva);
	if (r)
		snprintf(err, len, "starting vCPUs: %s", strerror(-r));
	return r;
}

/* Sum of the guest's main-loop passes; -1 once a vCPU failed. */
static int64_t ag_sweeps(FIXTURE_DATA(aging) *self, uint64_t *min)
{
	uint64_t m = ~0ULL, sum = 0;
	int v;

	if (kmmu_vm_failed(self->run.vm))
		return -1;
	for (v = 0; v < ag_opts.vcpus; v++) {
		uint64_t s = AG_READ(self->sh->vcpu[v].sweeps);

		sum += s;
		if (s < m)
			m = s;
	}
	if (min)
		*min = m;
	return sum;
}

/* Wait until every vCPU made @n more passes (0) or @timeout_s passed. */
static int ag_wait_sweeps(FIXTURE_DATA(aging) *self, uint64_t n, double timeout_s)
{
	uint64_t start[KMMU_MAX_VCPUS];
	double t0 = ag_now();
	int v, done;

	for (v = 0; v < ag_opts.vcpus; v++)
		start[v] = AG_READ(self->sh->vcpu[v].sweeps);
	do {
		if (kmmu_vm_failed(self->run.vm))
			return -EIO;
		for (v = 0, done = 1; v < ag_opts.vcpus; v++)
			if (AG_READ(self->sh->vcpu[v].sweeps) - start[v] < n)
				done = 0;
		if (done)
			return 0;
		ag_sleep_ms(5);
	} while (ag_now() - t0 < timeout_s);
	return -ETIMEDOUT;
}

/*
 * The guest's progress over time, for judging a hot page's eviction by
 * whether its vCPU touched it between two of KVM's aging calls: a thread
 * reads every vCPU's pass counter each millisecond of the squeeze, with the
 * trace clock before and after the reads.  Bounded memory (it is charged to
 * the squeezed memcg): when full, every other sample goes and the period
 * doubles.
 */
#define AG_SAMPLES_MAX	8192

struct ag_sampler {
	const struct ag_shared *sh;
	int nr_vcpus;
	pthread_t thread;
	bool started;
	int stop;
	unsigned int nr, period_ms;
	uint64_t *t;		/* [nr][2]: trace clock before, after the reads */
	uint64_t *sweeps;	/* [nr][nr_vcpus] */
};

static void ag_sampler_halve(struct ag_sampler *s)
{
	unsigned int i, nv = s->nr_vcpus;

	for (i = 0; 2 * i < s->nr; i++) {
		s->t[2 * i] = s->t[4 * i];
		s->t[2 * i + 1] = s->t[4 * i + 1];
		memmove(&s->sweeps[i * nv], &s->sweeps[2 * i * nv], nv * sizeof(uint64_t));
	}
	s->nr = i;
	s->period_ms *= 2;
}

static void *ag_sampler_fn(void *arg)
{
	struct ag_sampler *s = arg;
	int v;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		unsigned int i;

		if (s->nr == AG_SAMPLES_MAX)
			ag_sampler_halve(s);
		i = s->nr;
		s->t[2 * i] = kmmu_trace_now();
		for (v = 0; v < s->nr_vcpus; v++)
			s->sweeps[i * s->nr_vcpus + v] = AG_READ(s->sh->vcpu[v].sweeps);
		s->t[2 * i + 1] = kmmu_trace_now();
		s->nr = i + 1;
		ag_sleep_ms(s->period_ms);
	}
	return NULL;
}

static int ag_sampler_start(struct ag_sampler *s, const struct ag_shared *sh, int nr_vcpus)
{
	memset(s, 0, sizeof(*s));
	s->sh = sh;
	s->nr_vcpus = nr_vcpus;
	s->period_ms = 1;
	s->t = calloc(2 * AG_SAMPLES_MAX, sizeof(uint64_t));
	s->sweeps = calloc((size_t)AG_SAMPLES_MAX * nr_vcpus, sizeof(uint64_t));
	if (!s->t || !s->sweeps)
		return -ENOMEM;
	if (pthread_create(&s->thread, NULL, ag_sampler_fn, s))
		return -EAGAIN;
	s->started = true;
	return 0;
}

static void ag_sampler_stop(struct ag_sampler *s)
{
	if (!s->started)
		return;
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->thread, NULL);
	s->started = false;
}

static void ag_sampler_free(struct ag_sampler *s)
{
	ag_sampler_stop(s);
	free(s->t);
	free(s->sweeps);
	s->t = s->sweeps = NULL;
}

/*
 * Did vCPU @v make @passes complete passes within [@from, @to] (trace
 * clock)?  A sample read at or after @from saw count a, one read at or
 * before @to saw b: the passes that ended with counts a+2 .. b began after
 * the first read and ended before the second (the one ending with a+1 may
 * have begun before it).
 */
static bool ag_passes_within(const struct ag_sampler *s, int v, uint64_t from, uint64_t to,
			     unsigned int passes)
{
	unsigned int lo = 0, hi = s->nr, a, b;

	while (lo < hi) {	/* the first sample taken entirely after @from */
		unsigned int mid = (lo + hi) / 2;

		if (s->t[2 * mid] < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	a = lo;
	lo = 0;
	hi = s->nr;
	while (lo < hi) {	/* the first sample not entirely before @to */
		unsigned int mid = (lo + hi) / 2;

		if (s->t[2 * mid + 1] <= to)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || a >= s->nr)
		return false;
	b = lo - 1;
	return b > a && s->sweeps[b * s->nr_vcpus + v] >=
			s->sweeps[a * s->nr_vcpus + v] + passes + 1;
}

/* Until both phases are done and the main loop runs. */
static int ag_wait_warm(FIXTURE_DATA(aging) *self, double timeout_s)
{
	double t0 = ag_now();

	while (AG_READ(self->sh->cold_done) < (uint64_t)ag_opts.vcpus) {
		if (kmmu_vm_failed(self->run.vm))
			return -EIO;
		if (ag_now() - t0 > timeout_s)
			return -ETIMEDOUT;
		ag_sleep_ms(10);
	}
	/* The guest never touches the cold set again: the checker holds aging to that. */
	if (self->run.trace) {
		struct kmmu_trace_record idle;

		kmmu_rec_stamp(&idle, KMMU_ACT_IDLE);
		idle.idle.gpa = self->sh->cold_gva;
		idle.idle.size = self->sh->cold_pages * AG_PAGE;
		kmmu_trace_log_append(kmmu_trace_session_log(self->run.trace), &idle);
	}
	return ag_wait_sweeps(self, 2, timeout_s);
}

static int ag_stop_guest(FIXTURE_DATA(aging) *self)
{
	__atomic_store_n(&self->sh->stop, 1, __ATOMIC_RELEASE);
	return kmmu_vm_wait(self->run.vm, 60);
}

static int ag_pages_4k(FIXTURE_DATA(aging) *self, uint64_t *v)
{
	if (!self->stats_open)
		return -ENOENT;
	return kmmu_stats_get(&self->stats, "pages_4k", v);
}

struct ag_res {
	uint64_t present, swapped, none;
};

/* Residency of the hot [0] and cold [1] pages; pagemap entries kept in self->pm. */
static int ag_residency(FIXTURE_DATA(aging) *self, struct ag_res res[2])
{
	uint64_t i, n = ag_pages();
	int r = kmmu_pagemap_read(self->mem.hva, n, self->pm);

	memset(res, 0, 2 * sizeof(*res));
	if (r)
		return r;
	for (i = 0; i < n; i++) {
		struct ag_res *x = &res[i < ag_hot_pages() ? 0 : 1];

		if (self->pm[i] & KMMU_PM_PRESENT)
			x->present++;
		else if (self->pm[i] & KMMU_PM_SWAPPED)
			x->swapped++;
		else
			x->none++;
	}
	return 0;
}

/*
 * Hot pages a late kvm_unmap_hva_range (after the squeeze's first quarter)
 * took although their vCPU made two complete passes over them between
 * KVM's last two aging calls on them before it (see the top comment).
 * *@judged: the late unmaps of hot pages that had two aging calls before
 * them.  -ENOMEM if the per-page history does not fit.
 */
static int64_t ag_hot_evicted_touched(struct __test_metadata *_metadata,
				      FIXTURE_DATA(aging) *self, const struct ag_sampler *smp,
				      uint64_t *judged)
{
	uint64_t hot = ag_hot_pages(), lo = (uint64_t)(uintptr_t)self->mem.hva;
	uint64_t hi = lo + hot * AG_PAGE, *prev, *last, i, p;
	uint8_t *flagged;
	int64_t bad = 0;

	*judged = 0;
	prev = calloc(hot, sizeof(*prev));
	last = calloc(hot, sizeof(*last));
	flagged = calloc(hot, 1);
	if (!prev || !last || !flagged) {
		bad = -ENOMEM;
		goto out;
	}
	for (i = 0; i < self->log.nr; i++) {
		const struct kmmu_trace_record *rec = &self->log.recs[i];
		bool age = rec->type == KMMU_EV_AGE_HVA;
		uint64_t s, e;

		if (!age && rec->type != KMMU_EV_UNMAP_HVA_RANGE)
			continue;
		s = rec->hva_range.start;
		e = rec->hva_range.end;
		if (e <= lo || s >= hi)
			continue;
		s = s < lo ? lo : s;
		e = e > hi ? hi : e;
		for (p = (s - lo) / AG_PAGE; p < (e - lo + AG_PAGE - 1) / AG_PAGE; p++) {
			if (age) {
				prev[p] = last[p];
				last[p] = rec->ts;
				continue;
			}
			if (self->t_late && rec->ts >= self->t_late && prev[p]) {
				(*judged)++;
				if (!flagged[p] &&
				    ag_passes_within(smp, p % ag_opts.vcpus, prev[p], last[p], 2)) {
					flagged[p] = 1;
					if (bad++ < 5)
						TH_LOG("hot page %llu (gpa %#llx) unmapped at %+.3f s although vCPU %llu made two passes over it between KVM's aging calls at %+.3f s and %+.3f s",
						       (unsigned long long)p,
						       (unsigned long long)(KMMU_GPA_TEST + p * AG_PAGE),
						       ((double)rec->ts - self->t_squeeze) / 1e9,
						       (unsigned long long)(p % ag_opts.vcpus),
						       ((double)prev[p] - self->t_squeeze) / 1e9,
						       ((double)last[p] - self->t_squeeze) / 1e9);
				}
			}
			/* The SPTE is gone: its aging history starts again. */
			prev[p] = last[p] = 0;
		}
	}
out:
	free(prev);
	free(last);
	free(flagged);
	return bad;
}

/* The checker's verdicts on the run: memslots, SPTEs, page stats and aging. */
static int ag_check(FIXTURE_DATA(aging) *self)
{
	int r = 0;

	if (self->run.trace) {
		r = kmmu_trace_session_finish(self->run.trace, NULL);
		self->run.trace = NULL;
	}
	return r;
}

/* ---- reclaim ---- */

static void ag_reclaim(struct __test_metadata *_metadata, FIXTURE_DATA(aging) *self)
{
	uint64_t hot_pages = ag_hot_pages(), cold_pages = ag_pages() - hot_pages;
	uint64_t squeeze = ag_opts.cold_mb / 2 * AG_MIB;
	uint64_t squeeze_pages = squeeze / AG_PAGE, usage0 = 0, usage1 = 0, swap_bytes = 0, taken;
	uint64_t p4k0 = 0, p4k1 = 0, i, hot_evicted = 0, hot_evicted_late = 0, hot_aged = 0;
	uint64_t cold_aged = 0;
	uint64_t cold_unmapped = 0, hot_unmapped = 0, cold_swapped_no_unmap = 0, bad_hot = 0;
	uint64_t *pm_hold = NULL, sweeps_squeeze0, sweeps_squeeze1, judged_unmaps = 0;
	struct ag_sampler smp = { 0 };
	int64_t hot_touched_evicted = 0;
	struct ag_res r0[2], r1[2], r2[2];
	struct ag_report *rep = self->rep;
	bool have_p4k, squeeze_ok = true;
	double t_sq, t_hold;
	char why[512];
	int err, k;

	err = kmmu_reclaim_probe(why, sizeof(why));
	if (err)
		AG_SKIP(return, "%s", why);
	/* The janitors fork here, before any guest memory exists. */
	ASSERT_EQ(0, kmmu_reclaim_init(&self->rc, why, sizeof(why))) TH_LOG("%s", why);
	err = kmmu_reclaim_swap_on(&self->rc, ag_pages() * AG_PAGE + 64 * AG_MIB, why, sizeof(why));
	snprintf(self->swap_dev, sizeof(self->swap_dev), "%s", self->rc.swap_dev);
	self->zram_id = self->rc.zram_id;
	if (err == -ENODEV || err == -EBUSY)
		AG_SKIP(return, "%s", why);
	ASSERT_EQ(0, err) TH_LOG("%s", why);
	err = kmmu_reclaim_memcg(&self->rc, why, sizeof(why));
	snprintf(self->cg_dir, sizeof(self->cg_dir), "%s", self->rc.cg_dir);
	if (err == -ENODEV)
		AG_SKIP(return, "%s", why);
	ASSERT_EQ(0, err) TH_LOG("%s", why);
	ag_capture_start(self);
	/* The runtime's own memory stays charged where the process was. */
	ASSERT_EQ(0, ag_vm_create(self, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, kmmu_reclaim_attach(&self->rc, 0));
	ksft_print_msg("reclaim: swap on %s, memcg v%d %s; squeeze %llu MiB = cold/2\n",
		       self->rc.swap_dev, self->rc.cg_version, self->rc.cg_dir,
		       (unsigned long long)(squeeze / AG_MIB));
	ASSERT_EQ(0, ag_vm_start(self, why, sizeof(why))) TH_LOG("%s", why);
	err = ag_wait_warm(self, 120);
	ASSERT_EQ(0, err) TH_LOG("guest did not get through its first touches: %s; %s",
				 strerror(-err), kmmu_vm_errors(self->run.vm));

	ASSERT_EQ(0, ag_residency(self, r0));
	ASSERT_EQ(hot_pages, r0[0].present) TH_LOG("hot pages not all resident before the squeeze");
	ASSERT_EQ(cold_pages, r0[1].present) TH_LOG("cold pages not all resident before the squeeze");
	have_p4k = !ag_pages_4k(self, &p4k0);
	ASSERT_EQ(0, kmmu_reclaim_usage(&self->rc, &usage0));
	ASSERT_GE(usage0, ag_pages() * AG_PAGE * 9 / 10)
		TH_LOG("memcg usage %llu: the guest memory is not charged to it?",
		       (unsigned long long)usage0);

	/*
	 * The squeeze: the cgroup's own reclaim request (v2 memory.reclaim;
	 * v1 a momentary limit), in steps of an eighth, 100 ms apart, so that the guest
	 * keeps running between them (on a 1-CPU machine the reclaiming
	 * thread and the vCPU share the CPU).  Not a standing memory.high:
	 * above it, every task of the cgroup that charges memory -- the vCPU
	 * thread too, for KVM's shadow pages and for refaults -- is
	 * throttled on its way back into the guest
	 * (mem_cgroup_handle_over_high), so the guest stops touching its hot
	 * set and KVM then rightly reports it old: measured, the hot set
	 * collapsed that way.  Up to 48 steps until the squeeze is taken: a
	 * memcg whose reclaim stalls for a while gets the time (seen on a
	 * memcg v1 host whose own DAMON pageout scheme works on the same
	 * memory: 12 of 32 MiB in 16 steps).
	 */
	sweeps_squeeze0 = ag_sweeps(self, NULL);
	ASSERT_EQ(0, ag_sampler_start(&smp, self->sh, ag_opts.vcpus))
		TH_LOG("cannot sample the guest's passes");
	self->t_squeeze = kmmu_trace_now();
	t_sq = ag_now();
	/*
	 * What the steps took, each measured around its own request: the
	 * usage seen after the pause also counts the hot pages the guest
	 * faulted back meanwhile, and squeezing until that dropped by the
	 * squeeze took 70 MiB for a 32 MiB squeeze when the vCPU was busy
	 * refaulting (a loaded host): reclaim then rightly ate the hot set.
	 */
	for (k = 1, taken = 0; k <= 48 && taken < squeeze; k++) {
		uint64_t before, after;

		if (kmmu_reclaim_usage(&self->rc, &before))
			before = 0;
		err = kmmu_reclaim_reclaim(&self->rc, squeeze / 8);
		if (!kmmu_reclaim_usage(&self->rc, &after) && after < before)
			taken += before - after;
		/*
		 * -EAGAIN: the cgroup found nothing more to take this time;
		 * -EINTR: memory.reclaim gives up when a signal is pending
		 * for the writer.  Neither is a refusal; the next step asks
		 * again.
		 */
		if (err && err != -EAGAIN && err != -EINTR) {
			ksft_print_msg("reclaim: step %d: %s\n", k, strerror(-err));
			snprintf(why, sizeof(why), "step %d of the squeeze: %s", k,
				 strerror(-err));
			squeeze_ok = false;
			break;
		}
		if (!self->t_late && taken >= squeeze / 4)
			self->t_late = kmmu_trace_now();
		ag_sleep_ms(100);
	}
	t_sq = ag_now() - t_sq;
	/* A while after it, the hot set still in use. */
	t_hold = ag_now();
	ag_sleep_ms(1000);
	sweeps_squeeze1 = ag_sweeps(self, NULL);
	ag_sampler_stop(&smp);
	ASSERT_EQ(0, ag_residency(self, r1));
	pm_hold = malloc(ag_pages() * sizeof(uint64_t));
	ASSERT_NE(NULL, pm_hold);
	memcpy(pm_hold, self->pm, ag_pages() * sizeof(uint64_t));
	kmmu_reclaim_usage(&self->rc, &usage1);
	kmmu_reclaim_swap_usage(&self->rc, &swap_bytes);
	/* No limit is left standing: no more cgroup reclaim from here on. */
	t_hold = ag_now() - t_hold;
	if (!ag_opts.control) {
		/* Every hot page touched twice since: whatever reclaim took is back. */
		err = ag_wait_sweeps(self, 2, 60);
		ASSERT_EQ(0, err) TH_LOG("guest stopped sweeping: %s", kmmu_vm_errors(self->run.vm));
	}
	err = ag_stop_guest(self);
	ASSERT_EQ(0, err) TH_LOG("vCPUs: %s", kmmu_vm_errors(self->run.vm));
	ASSERT_EQ(0, ag_residency(self, r2));
	if (have_p4k)
		have_p4k = !ag_pages_4k(self, &p4k1);
	ag_capture_finish(self);
	if (self->ev.captured)
		hot_touched_evicted = ag_hot_evicted_touched(_metadata, self, &smp, &judged_unmaps);
	ag_sampler_free(&smp);
	ASSERT_LE(0, hot_touched_evicted) TH_LOG("judging the hot pages' evictions: %s",
						 strerror((int)-hot_touched_evicted));

	for (i = 0; i < ag_pages(); i++) {
		bool hot = i < hot_pages;
		bool evicted = (pm_hold[i] & KMMU_PM_SWAPPED) || (self->evflags[i] & AG_EV_UNMAPPED);

		if (hot) {
			hot_evicted += evicted;
			hot_evicted_late += (pm_hold[i] & KMMU_PM_SWAPPED) ||
					    (self->evflags[i] & AG_EV_UNMAPPED_LATE);
			hot_aged += !!(self->evflags[i] & AG_EV_AGED);
			hot_unmapped += !!(self->evflags[i] & AG_EV_UNMAPPED);
		} else {
			cold_aged += !!(self->evflags[i] & AG_EV_AGED);
			cold_unmapped += !!(self->evflags[i] & AG_EV_UNMAPPED);
			if ((self->pm[i] & KMMU_PM_SWAPPED) && !(self->evflags[i] & AG_EV_UNMAPPED_ANY))
				cold_swapped_no_unmap++;
		}
	}
	if (ag_opts.invert_one) {
		/* A cold page reclaim evicted is now expected to be hot. */
		for (i = hot_pages; i < ag_pages(); i++)
			if (self->pm[i] & KMMU_PM_SWAPPED)
				break;
		if (i < ag_pages()) {
			self->expect_hot[i] = 1;
			ksft_print_msg("INJECTED: the expectation for gpa %#llx (cold page %llu) is inverted to hot\n",
				       (unsigned long long)(KMMU_GPA_TEST + i * AG_PAGE),
				       (unsigned long long)(i - hot_pages));
		} else {
			ksft_print_msg("INJECTED: no evicted cold page whose expectation could be inverted\n");
		}
	}

	ksft_print_msg("reclaim%s: memcg usage %llu MiB -> %llu MiB after the squeeze, memcg swap %llu MiB; squeeze took %.2f s, held %.2f s; guest passes during squeeze+hold %llu\n",
		       ag_opts.control ? " (CONTROL: hot set idle)" : "",
		       (unsigned long long)(usage0 / AG_MIB), (unsigned long long)(usage1 / AG_MIB),
		       (unsigned long long)(swap_bytes / AG_MIB), t_sq, t_hold,
		       (unsigned long long)(sweeps_squeeze1 - sweeps_squeeze0));
	ksft_print_msg("reclaim: after the squeeze HOT %llu/%llu resident (%.1f%%), %llu swapped; COLD %llu/%llu resident (%.1f%%), %llu swapped\n",
		       (unsigned long long)r1[0].present, (unsigned long long)hot_pages,
		       100.0 * r1[0].present / hot_pages, (unsigned long long)r1[0].swapped,
		       (unsigned long long)r1[1].present, (unsigned long long)cold_pages,
		       100.0 * r1[1].present / cold_pages, (unsigned long long)r1[1].swapped);
	ksft_print_msg("reclaim: at the end       HOT %llu/%llu resident, %llu swapped; COLD %llu/%llu resident, %llu swapped\n",
		       (unsigned long long)r2[0].present, (unsigned long long)hot_pages,
		       (unsigned long long)r2[0].swapped, (unsigned long long)r2[1].present,
		       (unsigned long long)cold_pages, (unsigned long long)r2[1].swapped);
	ksft_print_msg("reclaim: pages aged by KVM (kvm_age_hva): hot %llu/%llu, cold %llu/%llu; unmapped by KVM (kvm_unmap_hva_range): hot %llu, cold %llu; hot pages evicted %llu, after the first quarter %llu\n",
		       (unsigned long long)hot_aged, (unsigned long long)hot_pages,
		       (unsigned long long)cold_aged, (unsigned long long)cold_pages,
		       (unsigned long long)hot_unmapped, (unsigned long long)cold_unmapped,
		       (unsigned long long)hot_evicted, (unsigned long long)hot_evicted_late);
	if (self->ev.captured)
		ksft_print_msg("reclaim: late unmaps of hot pages after two aging calls %llu; hot pages among them touched twice between the calls %lld (guest passes sampled %u times, every %u ms at the end)\n",
			       (unsigned long long)judged_unmaps, (long long)hot_touched_evicted,
			       smp.nr, smp.period_ms);
	if (have_p4k)
		ksft_print_msg("reclaim: KVM pages_4k %llu -> %llu (drop %lld)\n",
			       (unsigned long long)p4k0, (unsigned long long)p4k1,
			       (long long)(p4k0 - p4k1));
	err = ag_check(self);
	EXPECT_EQ(0, err) TH_LOG("the kernel's MMU events diverge from the reference");

	ag_metric(rep, "reclaim_hot_resident_fraction", (double)r1[0].present / hot_pages,
		  "fraction", KMMU_HIGHER_IS_BETTER);
	ag_metric(rep, "reclaim_cold_resident_fraction", (double)r1[1].present / cold_pages,
		  "fraction", KMMU_LOWER_IS_BETTER);
	ag_metric(rep, "reclaim_hot_evicted_pages", hot_evicted, "pages", KMMU_LOWER_IS_BETTER);
	ag_metric(rep, "reclaim_hot_evicted_late_pages", hot_evicted_late, "pages",
		  KMMU_LOWER_IS_BETTER);
	ag_metric(rep, "reclaim_cold_swapped_pages", r1[1].swapped, "pages", KMMU_HIGHER_IS_BETTER);
	ag_metric(rep, "reclaim_kvm_age_hva", self->ev.ages, "events", KMMU_HIGHER_IS_BETTER);
	ag_metric(rep, "reclaim_kvm_unmap_hva_range", self->ev.unmaps, "events",
		  KMMU_HIGHER_IS_BETTER);
	if (have_p4k)
		ag_metric(rep, "reclaim_pages_4k_drop", (double)p4k0 - (double)p4k1, "pages",
			  KMMU_HIGHER_IS_BETTER);
	ag_metric(rep, "reclaim_squeeze_duration", t_sq, "s", KMMU_LOWER_IS_BETTER);

	ASSERT_TRUE(squeeze_ok) TH_LOG("the cgroup refused the reclaim request at %s", why);
	/* Exact: swap-out of a page KVM maps goes through the mmu notifier. */
	if (self->ev.captured) {
		EXPECT_GT(self->ev.ages, 0) TH_LOG("reclaim never asked KVM about guest memory (kvm_age_hva)");
		EXPECT_GE(hot_aged, hot_pages / 2) TH_LOG("reclaim did not age the (older) hot set through KVM");
		EXPECT_EQ(0, cold_swapped_no_unmap)
			TH_LOG("%llu cold pages went to swap without kvm_unmap_hva_range",
			       (unsigned long long)cold_swapped_no_unmap);
	} else {
		ksft_print_msg("reclaim: event checks not judged: %s\n", self->ev.why);
	}
	if (have_p4k) {
		EXPECT_GE((int64_t)(p4k0 - p4k1), (int64_t)(r2[1].swapped * 9 / 10))
			TH_LOG("pages_4k dropped by %lld but %llu cold pages are in swap",
			       (long long)(p4k0 - p4k1), (unsigned long long)r2[1].swapped);
	}
	if (ag_opts.control) {
		/* Nothing makes the older hot set young: it goes first. */
		EXPECT_GE(hot_evicted, hot_pages / 2)
			TH_LOG("control: the idle hot set was not reclaimed (%llu of %llu pages): "
			       "something other than the guest keeps it young",
			       (unsigned long long)hot_evicted, (unsigned long long)hot_pages);
	} else {
		/*
		 * Most of the guest memory reclaim took must be cold.  Not
		 * all it took is guest memory: the test's own heap (its
		 * trace log grows by megabytes in a busy run) is charged
		 * to the memcg too; and a KVM unmap is no eviction (a
		 * migration unmaps too: seen, 8621 cold pages unmapped
		 * from KVM, 3834 of them swapped).  So: the guest pages in
		 * swap or evicted from the hot set, at most the squeeze.
		 */
		uint64_t evicted = r1[1].swapped + hot_evicted;
		uint64_t judged = evicted < squeeze_pages ? evicted : squeeze_pages;

		if (judged < squeeze_pages / 2)
			ksft_print_msg("reclaim: it took only %llu guest pages for a squeeze of %llu; cold-first is judged on those\n",
				       (unsigned long long)evicted, (unsigned long long)squeeze_pages);
		EXPECT_GE(r1[1].swapped, judged / 2)
			TH_LOG("reclaim took only %llu cold pages of the %llu guest pages it evicted (squeeze %llu)",
			       (unsigned long long)r1[1].swapped, (unsigned long long)evicted,
			       (unsigned long long)squeeze_pages);
		/*
		 * Whether a hot page is touched between two scans of it
		 * depends on the scheduler giving the vCPU time (a 1-CPU VM,
		 * a loaded host: measured 0 to all of the hot set evicted,
		 * and faulted straight back), so what is judged is the pages
		 * the guest did touch between KVM's two aging calls: KVM
		 * had to report them young.  A hundredth: a migration
		 * unmaps a page as well.
		 */
		if (self->ev.captured) {
			EXPECT_LE(hot_touched_evicted, (int64_t)hot_pages / 100)
				TH_LOG("reclaim evicted %lld hot pages that the guest wrote between KVM's last two aging calls on them: KVM did not report them young",
				       (long long)hot_touched_evicted);
		} else {
			ksft_print_msg("reclaim: hot evictions not judged: %s\n", self->ev.why);
		}
		/* Per GPA, exact: after the lift and two sweeps, every hot page is in. */
		for (i = 0; i < ag_pages(); i++) {
			if (!self->expect_hot[i] || (self->pm[i] & KMMU_PM_PRESENT))
				continue;
			if (bad_hot++ < 5)
				TH_LOG("gpa %#llx (%s page %llu) expected hot but not resident after two guest sweeps: %s, events%s%s%s",
				       (unsigned long long)(KMMU_GPA_TEST + i * AG_PAGE),
				       i < hot_pages ? "hot" : "cold",
				       (unsigned long long)(i < hot_pages ? i : i - hot_pages),
				       self->pm[i] & KMMU_PM_SWAPPED ? "swapped" : "not mapped",
				       self->evflags[i] & AG_EV_AGED ? " aged" : "",
				       self->evflags[i] & AG_EV_UNMAPPED ? " unmapped" : "",
				       self->evflags[i] ? "" : " none");
		}
		EXPECT_EQ(0, bad_hot) TH_LOG("%llu pages expected hot are not resident",
					     (unsigned long long)bad_hot);
	}
	/* Swap kept the contents (read only now: the measurement is over). */
	for (i = 0, k = 0; i < ag_pages(); i++)
		if (*(volatile uint64_t *)((uint8_t *)self->mem.hva + i * AG_PAGE) != AG_VALUE(i))
			k++;
	EXPECT_EQ(0, k) TH_LOG("%d guest pages lost their contents", k);
	free(pm_hold);
}

/* ---- DAMON ---- */

#define AG_DAMON_SNAPSHOTS	4

struct ag_pfn {
	uint64_t pfn;
	uint64_t page;
};

static int ag_pfn_cmp(const void *a, const void *b)
{
	const struct ag_pfn *x = a, *y = b;

	return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

/* The first entry of @p (sorted by pfn) with pfn >= @pfn. */
static size_t ag_pfn_lower_bound(const struct ag_pfn *p, size_t n, uint64_t pfn)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p[mid].pfn < pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The guest pages whose frames lie in DAMON region @r, by the test's
 * expectation: how many are expected hot and cold, and the lowest page.
 * If @invert, they are expected cold from now on (the injection).
 */
static void ag_damon_region_pages(FIXTURE_DATA(aging) *self, const struct ag_pfn *pfns,
				  size_t n, const struct kmmu_damon_region *r,
				  uint64_t *hot, uint64_t *cold, uint64_t *first, bool invert)
{
	size_t j = ag_pfn_lower_bound(pfns, n, r->start / AG_PAGE);

	*hot = *cold = 0;
	*first = ~0ULL;
	for (; j < n && pfns[j].pfn * AG_PAGE < r->end; j++) {
		if (self->expect_hot[pfns[j].page])
			(*hot)++;
		else
			(*cold)++;
		if (pfns[j].page < *first)
			*first = pfns[j].page;
		if (invert)
			self->expect_hot[pfns[j].page] = 0;
	}
}

/*
 * KMMU_AGING_INJECT=invert-one for DAMON, which judges regions, not
 * pages: the smallest region that was accessed and holds only hot pages
 * is expected cold.  The per-region check must then fail on it.
 */
static void ag_damon_invert_one(FIXTURE_DATA(aging) *self, const struct ag_pfn *pfns, size_t n,
				const struct kmmu_damon_region *reg, int nreg)
{
	uint64_t hot, cold, first, best_hot = ~0ULL;
	int s, best = -1;

	for (s = 0; s < nreg; s++) {
		if (!reg[s].nr_accesses)
			continue;
		ag_damon_region_pages(self, pfns, n, &reg[s], &hot, &cold, &first, false);
		if (hot && !cold && hot < best_hot) {
			best = s;
			best_hot = hot;
		}
	}
	if (best < 0) {
		ksft_print_msg("INJECTED: no accessed hot-only DAMON region whose expectation could be inverted\n");
		return;
	}
	ag_damon_region_pages(self, pfns, n, &reg[best], &hot, &cold, &first, true);
	ksft_print_msg("INJECTED: the expectation for the %llu hot pages of DAMON region [%#llx, %#llx) (nr_accesses %u, first gpa %#llx) is inverted to cold\n",
		       (unsigned long long)hot, (unsigned long long)reg[best].start,
		       (unsigned long long)reg[best].end, reg[best].nr_accesses,
		       (unsigned long long)(KMMU_GPA_TEST + first * AG_PAGE));
}

static void ag_damon(struct __test_metadata *_metadata, FIXTURE_DATA(aging) *self)
{
	uint64_t hot_pages = ag_hot_pages(), n = ag_pages(), i;
	uint64_t hot_bytes = hot_pages * AG_PAGE, cold_bytes = (n - hot_pages) * AG_PAGE;
	struct kmmu_damon_attrs a = KMMU_DAMON_ATTRS_DEFAULT;
	struct kmmu_phys_range *hot_r = NULL, *cold_r = NULL, *all = NULL;
	struct kmmu_damon_summary hs = {}, cs = {};
	struct kmmu_damon_region *reg = NULL;
	struct ag_report *rep = self->rep;
	struct ag_pfn *pfns = NULL;
	uint64_t bad_regions = 0, pure_cold = 0, pure_hot = 0;
	int nh, nc, nreg = 0, s, max_reg;
	char why[512];
	int err;

	err = kmmu_damon_probe(why, sizeof(why));
	if (err)
		AG_SKIP(return, "%s", why);
	ag_capture_start(self);
	ASSERT_EQ(0, ag_vm_create(self, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, ag_vm_start(self, why, sizeof(why))) TH_LOG("%s", why);
	err = ag_wait_warm(self, 120);
	ASSERT_EQ(0, err) TH_LOG("guest did not get through its first touches: %s; %s",
				 strerror(-err), kmmu_vm_errors(self->run.vm));
	/* The frames DAMON watches must stay where they are: no reclaim, no swap. */
	ASSERT_EQ(0, mlock(self->mem.hva, self->mem.size)) TH_LOG("mlock: %s", strerror(errno));

	hot_r = calloc(n, sizeof(*hot_r));
	cold_r = calloc(n, sizeof(*cold_r));
	all = calloc(n, sizeof(*all));
	max_reg = 2 * n + 64;
	reg = calloc(max_reg, sizeof(*reg));
	pfns = calloc(n, sizeof(*pfns));
	ASSERT_TRUE(hot_r && cold_r && all && reg && pfns);
	nh = kmmu_virt_to_phys(self->mem.hva, hot_bytes, hot_r, n);
	nc = kmmu_virt_to_phys((uint8_t *)self->mem.hva + hot_bytes, cold_bytes, cold_r, n);
	if (nh == -EPERM || nc == -EPERM)
		AG_SKIP(goto out, "the kernel hides PFNs from this process");
	ASSERT_GT(nh, 0) TH_LOG("hot set physical ranges: %s", strerror(-nh));
	ASSERT_GT(nc, 0) TH_LOG("cold set physical ranges: %s", strerror(-nc));
	memcpy(all, hot_r, nh * sizeof(*all));
	memcpy(all + nh, cold_r, nc * sizeof(*all));
	ASSERT_EQ(0, kmmu_pagemap_read(self->mem.hva, n, self->pm));
	for (i = 0; i < n; i++) {
		pfns[i].pfn = self->pm[i] & KMMU_PM_PFN_MASK;
		pfns[i].page = i;
	}
	qsort(pfns, n, sizeof(*pfns), ag_pfn_cmp);

	/* As damon_test: 10 ms checks, 200 ms aggregation (see there why not faster). */
	a.sample_us = 10000;
	a.aggr_us = 200000;
	err = kmmu_damon_start(&self->damon, &a, all, nh + nc, why, sizeof(why));
	if (err == -EBUSY || err == -ENODEV)
		AG_SKIP(goto out, "%s", why);
	ASSERT_EQ(0, err) TH_LOG("%s", why);
	self->damon_started = true;
	if (kmmu_damon_instance(&self->damon))
		snprintf(self->damon_instance, sizeof(self->damon_instance), "%s",
			 kmmu_damon_instance(&self->damon));
	ksft_print_msg("damon: %s; hot %d physical ranges, cold %d\n", why, nh, nc);
	for (s = 0; s < AG_DAMON_SNAPSHOTS; s++) {
		ag_sleep_ms(500);
		nreg = kmmu_damon_regions(&self->damon, reg, max_reg);
		ASSERT_GT(nreg, 0) TH_LOG("kmmu_damon_regions: %s: %s", strerror(-nreg),
					  kmmu_damon_error(&self->damon));
		if (nreg > max_reg)
			nreg = max_reg;
		kmmu_damon_summarize(reg, nreg, hot_r, nh, &hs);
		kmmu_damon_summarize(reg, nreg, cold_r, nc, &cs);
		ksft_print_msg("damon: %d regions; HOT %llu/%llu KiB in accessed regions, nr_accesses max %u mean %.2f; COLD %llu/%llu KiB, max %u mean %.2f\n",
			       nreg, (unsigned long long)(hs.accessed_bytes >> 10),
			       (unsigned long long)(hs.bytes >> 10), hs.max_nr_accesses,
			       hs.mean_nr_accesses, (unsigned long long)(cs.accessed_bytes >> 10),
			       (unsigned long long)(cs.bytes >> 10), cs.max_nr_accesses,
			       cs.mean_nr_accesses);
	}
	ASSERT_EQ(0, kmmu_damon_stop(&self->damon));
	ASSERT_EQ(0, ag_stop_guest(self)) TH_LOG("vCPUs: %s", kmmu_vm_errors(self->run.vm));
	ag_capture_finish(self);

	/*
	 * Per region of the last snapshot: one holding only cold-expected
	 * pages must not be accessed (exact: nothing touches them).
	 */
	if (ag_opts.invert_one)
		ag_damon_invert_one(self, pfns, n, reg, nreg);
	for (s = 0; s < nreg; s++) {
		uint64_t hot, cold, first;

		ag_damon_region_pages(self, pfns, n, &reg[s], &hot, &cold, &first, false);
		if (hot && !cold)
			pure_hot++;
		if (!hot && cold) {
			pure_cold++;
			if (reg[s].nr_accesses && bad_regions++ < 5)
				TH_LOG("DAMON region [%#llx, %#llx) holds only cold pages (first gpa %#llx) but was accessed (nr_accesses %u)",
				       (unsigned long long)reg[s].start, (unsigned long long)reg[s].end,
				       (unsigned long long)(KMMU_GPA_TEST + first * AG_PAGE),
				       reg[s].nr_accesses);
		}
	}
	ksft_print_msg("damon%s: last snapshot: %llu regions only hot, %llu only cold, %llu mixed\n",
		       ag_opts.control ? " (CONTROL: hot set idle)" : "",
		       (unsigned long long)pure_hot, (unsigned long long)pure_cold,
		       (unsigned long long)(nreg - pure_hot - pure_cold));
	err = ag_check(self);
	EXPECT_EQ(0, err) TH_LOG("the kernel's MMU events diverge from the reference");
	ag_metric(rep, "damon_hot_accessed_fraction", hs.bytes ? (double)hs.accessed_bytes / hs.bytes : 0,
		  "fraction", KMMU_HIGHER_IS_BETTER);
	ag_metric(rep, "damon_cold_accessed_fraction", cs.bytes ? (double)cs.accessed_bytes / cs.bytes : 0,
		  "fraction", KMMU_LOWER_IS_BETTER);
	ag_metric(rep, "damon_hot_mean_nr_accesses", hs.mean_nr_accesses, "count", KMMU_HIGHER_IS_BETTER);
	ag_metric(rep, "damon_cold_mean_nr_accesses", cs.mean_nr_accesses, "count", KMMU_LOWER_IS_BETTER);
	ag_metric(rep, "damon_kvm_age_hva", self->ev.ages, "events", KMMU_HIGHER_IS_BETTER);
	ag_metric(rep, "damon_kvm_test_age_hva", self->ev.tests, "events", KMMU_HIGHER_IS_BETTER);

	EXPECT_EQ(hot_bytes, hs.bytes);
	EXPECT_EQ(cold_bytes, cs.bytes);
	if (self->ev.captured) {
		EXPECT_GT(self->ev.ages, 0) TH_LOG("DAMON never cleared young through KVM");
		EXPECT_GT(self->ev.tests, 0) TH_LOG("DAMON never tested young through KVM");
	} else {
		ksft_print_msg("damon: event checks not judged: %s\n", self->ev.why);
	}
	EXPECT_EQ(0, bad_regions) TH_LOG("%llu cold-only regions were accessed",
					 (unsigned long long)bad_regions);
	EXPECT_LE(cs.accessed_bytes, cold_bytes / 4);
	if (ag_opts.control) {
		EXPECT_LE(hs.accessed_bytes, hot_bytes / 4)
			TH_LOG("control: the idle hot set looks accessed");
	} else {
		EXPECT_GE(hs.accessed_bytes, hot_bytes / 2)
			TH_LOG("the hot set does not look accessed: KVM's aging did not report it young");
		EXPECT_GT(hs.mean_nr_accesses, 2 * cs.mean_nr_accesses);
	}
out:
	free(hot_r);
	free(cold_r);
	free(all);
	free(reg);
	free(pfns);
}

KMMU_TEST_F(aging, run, 300)
{
	if (variant->driver == AG_RECLAIM)
		ag_reclaim(_metadata, self);
	else
		ag_damon(_metadata, self);
}

/* ---- main ---- */

/* The parent: one result file for both tests, from what the children left. */
static void ag_write_result(void)
{
	static const char *const names[2] = { "damon", "reclaim" };
	struct kmmu_result *res;
	char buf[64];
	int d, k;

	if (!ag_reports)
		return;
	res = kmmu_result_new("aging_test");
	if (!res)
		return;
	kmmu_result_param_int(res, "vcpus", ag_opts.vcpus);
	kmmu_result_param_int(res, "hot_mb", ag_opts.hot_mb);
	kmmu_result_param_int(res, "cold_mb", ag_opts.cold_mb);
	kmmu_result_param_int(res, "control", ag_opts.control);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)ag_opts.seed);
	kmmu_result_param_str(res, "seed", buf);
	kmmu_result_param_str(res, "backing", "anon");
	for (d = 0; d < 2; d++) {
		struct ag_report *rep = &ag_reports[d];
		enum kmmu_test_status st;
		char name[64];

		snprintf(name, sizeof(name), "aging_test.%s", names[d]);
		if (rep->state == 0)
			continue;
		if (rep->state == 1)
			st = KMMU_TEST_FAIL;
		else
			st = rep->skipped ? KMMU_TEST_SKIP : rep->passed ? KMMU_TEST_PASS : KMMU_TEST_FAIL;
		kmmu_result_test(res, name, st, rep->duration,
				 rep->state == 1 ? "killed or timed out" :
				 rep->skipped ? rep->reason : rep->passed ? NULL : "see TAP output");
		if (rep->skipped)
			continue;
		for (k = 0; k < rep->nr_metrics; k++) {
			struct ag_metric *m = &rep->m[k];

			if (!strcmp(m->name, "duration"))
				snprintf(name, sizeof(name), "%s_duration", names[d]);
			else
				snprintf(name, sizeof(name), "%s", m->name);
			kmmu_result_metric(res, name, m->unit, m->dir, &m->value, 1);
		}
	}
	if (kmmu_result_write(res, ag_opts.result))
		fprintf(stderr, "aging_test: could not write the result file\n");
	kmmu_result_free(res);
}

/*
 * SIGINT/SIGTERM at the harness parent: pass it on to the running test's
 * process group (the harness puts each test in its own), whose cleanup
 * handlers tear the drivers down; later tests then SKIP.
 */
static void ag_forward_signal(int sig)
{
	int d;

	ag_interrupted = 1;
	for (d = 0; ag_reports && d < 2; d++)
		if (__atomic_load_n(&ag_reports[d].state, __ATOMIC_SEQ_CST) == 1 &&
		    ag_reports[d].pid > 0)
			kill(-ag_reports[d].pid, sig);
}

static void ag_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-v vcpus] [--hot-mb N] [--cold-mb N] [--driver damon|reclaim|all] [--control] [-S seed] [--result FILE]\n"
		"  -v         vCPUs (default 1, max %d)\n"
		"  --hot-mb   hot set, touched all the time (default 16)\n"
		"  --cold-mb  cold set, touched once (default 64; at least 2x hot)\n"
		"  --driver   aging driver(s) to run (default all)\n"
		"  --control  the guest leaves the hot set alone after its first touch:\n"
		"             the same workload without the aging signal, for comparison\n"
		"  -S         seed (recorded; the workload is deterministic)\n"
		"  --result FILE  result file (default $KMMU_RESULT)\n"
		"$KMMU_AGING_INJECT=invert-one inverts the expectation for one GPA (reclaim)\n"
		"or for the pages of one DAMON region (damon): the run must then fail;\n"
		"$KMMU_AGING_INJECT=idle-hot gives the guest --control's idle hot set but\n"
		"judges the run as one whose guest touches it (what KVM reporting a written\n"
		"page old looks like): the reclaim run must then fail\n",
		prog, KMMU_MAX_VCPUS);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "hot-mb", required_argument, NULL, 'H' },
		{ "cold-mb", required_argument, NULL, 'C' },
		{ "driver", required_argument, NULL, 'D' },
		{ "control", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = "aging_test", *inject;
	struct sigaction sa = { .sa_handler = ag_forward_signal };
	char why[256];
	uint64_t u;
	int opt, fd;

	if (kmmu_take_result_arg(&argc, argv, &ag_opts.result))
		kmmu_usage_error(prog, "--result needs a file name");
	while ((opt = kmmu_getopt(prog, argc, argv, ":v:S:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			if (kmmu_parse_u64(optarg, 1, KMMU_MAX_VCPUS, &u))
				kmmu_usage_error(prog, "-v wants a vCPU count from 1 to 64");
			ag_opts.vcpus = u;
			break;
		case 'H':
			if (kmmu_parse_u64(optarg, 1, 4096, &ag_opts.hot_mb))
				kmmu_usage_error(prog, "--hot-mb wants MiB from 1 to 4096");
			break;
		case 'C':
			if (kmmu_parse_u64(optarg, 2, 16384, &ag_opts.cold_mb))
				kmmu_usage_error(prog, "--cold-mb wants MiB from 2 to 16384");
			break;
		case 'D':
			if (!strcmp(optarg, "damon"))
				ag_opts.drivers = AG_DAMON;
			else if (!strcmp(optarg, "reclaim"))
				ag_opts.drivers = AG_RECLAIM;
			else if (!strcmp(optarg, "all"))
				ag_opts.drivers = AG_DAMON | AG_RECLAIM;
			else
				kmmu_usage_error(prog, "--driver wants damon, reclaim or all");
			break;
		case 'c':
			ag_opts.control = true;
			break;
		case 'S':
			if (kmmu_parse_u64(optarg, 0, ~0ULL, &ag_opts.seed))
				kmmu_usage_error(prog, "-S wants an unsigned 64-bit seed");
			break;
		case 'h':
			ag_usage(stdout, prog);
			return 0;
		}
	}
	/*
	 * The squeeze is cold/2: cold alone can give it with a margin for
	 * reclaim's overshoot, and it is at least the hot set, which the
	 * control run must then lose.
	 */
	if (ag_opts.cold_mb < 2 * ag_opts.hot_mb)
		kmmu_usage_error(prog, "--cold-mb must be at least twice --hot-mb");
	inject = getenv("KMMU_AGING_INJECT");
	if (inject && *inject) {
		if (!strcmp(inject, "invert-one"))
			ag_opts.invert_one = true;
		else if (!strcmp(inject, "idle-hot"))
			ag_opts.idle_hot = true;
		else
			kmmu_usage_error(prog, "KMMU_AGING_INJECT wants invert-one or idle-hot");
	}
	if (!ag_opts.seed)
		ag_opts.seed = getenv("KMMU_SEED") ? strtoull(getenv("KMMU_SEED"), NULL, 0) : 0;

	ag_reports = mmap(NULL, 2 * sizeof(*ag_reports), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ag_reports == MAP_FAILED)
		ag_reports = NULL;
	else
		memset(ag_reports, 0, 2 * sizeof(*ag_reports));

	kmmu_test_header(prog, "vcpus %d hot %llu MiB cold %llu MiB drivers %s%s seed %llu backing anon%s",
			 ag_opts.vcpus, (unsigned long long)ag_opts.hot_mb,
			 (unsigned long long)ag_opts.cold_mb,
			 ag_opts.drivers == AG_DAMON ? "damon" :
			 ag_opts.drivers == AG_RECLAIM ? "reclaim" : "damon,reclaim",
			 ag_opts.control ? " CONTROL (hot set idle)" : "",
			 (unsigned long long)ag_opts.seed,
			 ag_opts.invert_one ? " INJECTED: invert-one" :
			 ag_opts.idle_hot ? " INJECTED: idle-hot" : "");
	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd < 0)
		ksft_exit_skip("%s\n", why);
	close(fd);
	sigemptyset(&sa.sa_mask);
	/* The harness's waitpid() must go on waiting for the test. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	atexit(ag_write_result);
	return test_harness_run(argc, argv);
}
