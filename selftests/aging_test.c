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
 *
 * This file is the harness side: the fixture, each variant's verdicts,
 * the result file and main().  The variants' runs are aging/reclaim.c and
 * aging/damon.c, what they share aging/run.c (see aging/aging.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/bench.h"
#include "kmmu/damon.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/pagemap.h"
#include "kmmu/reclaim.h"
#include "kmmu/result.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_session.h"
#include "aging/aging.h"

/* ---- options and the result shared across the harness's children ---- */

struct ag_options ag_opts = {
	.vcpus = 1, .hot_mb = 16, .cold_mb = 64, .drivers = AG_DAMON | AG_RECLAIM,
};

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

FIXTURE(aging) {
	struct ag_run ag;
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

/* SKIP(), and the reason kept in the report @rep. */
#define AG_SKIP(rep, statement, fmt, ...)					\
	do {									\
		ag_skipped((rep), fmt, ##__VA_ARGS__);				\
		SKIP(statement, fmt, ##__VA_ARGS__);				\
	} while (0)

FIXTURE_SETUP(aging)
{
	struct ag_run *ag = &self->ag;
	char why[256];
	int fd;

	ag->mem.fd = -1;
	ag->zram_id = -1;
	self->rep = &ag_reports[variant->driver == AG_DAMON ? 0 : 1];
	/* The harness made this process the leader of its own group. */
	self->rep->pid = getpid();
	__atomic_store_n(&self->rep->state, 1, __ATOMIC_SEQ_CST);
	self->t0 = kmmu_now();
	/* The parent's forwarding handler is not for the test's process. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (ag_interrupted)
		AG_SKIP(self->rep, return, "interrupted");
	if (!(ag_opts.drivers & variant->driver))
		AG_SKIP(self->rep, return, "not selected (--driver)");
	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd < 0)
		AG_SKIP(self->rep, return, "%s", why);
	close(fd);
	kmmu_test_run_start(&ag->run, NULL);
}

/* Nothing of ours left on the host: checked after every teardown. */
static void ag_check_host_clean(struct __test_metadata *_metadata, struct ag_run *self)
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
	struct ag_run *ag = &self->ag;

	if (ag->stats_open)
		kmmu_stats_close(&ag->stats);
	if (ag->damon_started)
		EXPECT_EQ(0, kmmu_damon_stop(&ag->damon));
	kmmu_trace_session_abort(ag->run.trace);	/* still set: the run failed */
	ag->run.trace = NULL;
	kmmu_vm_destroy(ag->run.vm);
	ag->run.vm = NULL;
	/* The instance before the memory: freeing it would log unmaps. */
	kmmu_trace_capture_destroy(ag->cap);
	ag->cap = NULL;
	if (ag->log_inited)
		kmmu_trace_log_free(&ag->log);
	/* Swapped pages are freed with the memory, not read back by swapoff. */
	kmmu_mem_free(&ag->mem);
	EXPECT_EQ(0, kmmu_reclaim_teardown(&ag->rc));
	ag_check_host_clean(_metadata, ag);
	free(ag->evflags);
	free(ag->expect_hot);
	free(ag->pm);
	/* After the drivers' teardown: swapoff and zram log too. */
	KMMU_TEST_END(&ag->run);
	rep->duration = kmmu_now() - self->t0;
	rep->passed = KMMU_TEST_PASSED();
	ag_metric(rep, "duration", rep->duration, "s", KMMU_LOWER_IS_BETTER);
	__atomic_store_n(&rep->state, 2, __ATOMIC_SEQ_CST);
}

/*
 * The reclaim variant: its run (aging/reclaim.c), then the verdicts on
 * what it measured (see the top comment: what is exact, what heuristic).
 */
static void ag_reclaim(struct __test_metadata *_metadata, struct ag_run *self,
		       struct ag_report *rep)
{
	uint64_t hot_pages = ag_hot_pages(), cold_pages = ag_pages() - hot_pages;
	uint64_t i, bad_hot = 0;
	struct ag_reclaim m = { 0 };
	char why[512];
	int err, k;

	err = ag_reclaim_run(self, &m, why, sizeof(why));
	if (err == AG_RUN_SKIP)
		AG_SKIP(rep, return, "%s", why);
	ASSERT_EQ(0, err) TH_LOG("%s", why);
	/* The readings, by the names the checks print (ci/tests/inject_test reads them). */
	struct ag_res *r1 = m.r1, *r2 = m.r2;
	uint64_t squeeze_pages = m.squeeze_pages, hot_aged = m.hot_aged;
	uint64_t hot_evicted = m.hot_evicted, hot_evicted_late = m.hot_evicted_late;
	uint64_t cold_swapped_no_unmap = m.cold_swapped_no_unmap;
	int64_t hot_touched_evicted = m.hot_touched_evicted;
	bool have_p4k = m.have_p4k, squeeze_ok = m.squeeze_ok;
	uint64_t p4k0 = m.p4k0, p4k1 = m.p4k1;
	double t_sq = m.t_sq;
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

	ASSERT_TRUE(squeeze_ok) TH_LOG("the cgroup refused the reclaim request at %s",
				       m.squeeze_why);
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
}


/* The DAMON variant: its run (aging/damon.c), then the verdicts on its regions. */
static void ag_damon(struct __test_metadata *_metadata, struct ag_run *self,
		     struct ag_report *rep)
{
	struct ag_damon_readings m = { 0 };
	char why[512];
	int err;

	err = ag_damon_run(self, &m, why, sizeof(why));
	if (err == AG_RUN_SKIP)
		AG_SKIP(rep, return, "%s", why);
	ASSERT_EQ(0, err) TH_LOG("%s", why);
	/* The readings, by the names the checks print. */
	struct kmmu_damon_summary hs = m.hs, cs = m.cs;
	uint64_t hot_bytes = m.hot_bytes, cold_bytes = m.cold_bytes, bad_regions = m.bad_regions;
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
}

KMMU_TEST_F(aging, run, 300)
{
	if (variant->driver == AG_RECLAIM)
		ag_reclaim(_metadata, &self->ag, self->rep);
	else
		ag_damon(_metadata, &self->ag, self->rep);
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
			kmmu_test_metric(res, name, m->value, m->unit, m->dir);
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

static const char *const ag_driver_names[] = { "damon", "reclaim", "all" };
static const int ag_driver_values[] = { AG_DAMON, AG_RECLAIM, AG_DAMON | AG_RECLAIM };

/* The options of this test alone (kmmu_run_parse() does the rest). */
static const struct kmmu_opt ag_cli_opts[] = {
	KMMU_OPT_U("hot-mb", 0, ag_opts.hot_mb, 1, 4096, 0, "--hot-mb wants MiB from 1 to 4096"),
	KMMU_OPT_U("cold-mb", 0, ag_opts.cold_mb, 2, 16384, 0,
		   "--cold-mb wants MiB from 2 to 16384"),
	KMMU_OPT_ONE_OF("driver", 0, ag_opts.drivers, ag_driver_names, ag_driver_values, 3,
			"--driver wants damon, reclaim or all"),
	KMMU_OPT_BOOL("control", 0, ag_opts.control),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "aging_test", *inject;
	struct sigaction sa = { .sa_handler = ag_forward_signal };
	/* Without -S: $KMMU_SEED or 0 (the workload is deterministic). */
	struct kmmu_run_opts run = { .vcpus = &ag_opts.vcpus, .min_vcpus = 1,
		.seed = &ag_opts.seed, .keep_seed = true, .result = &ag_opts.result,
		.cli = { ag_usage, ag_cli_opts } };
	char why[256];
	int fd;

	kmmu_run_parse(&run, prog, &argc, argv);
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
