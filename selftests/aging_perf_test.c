// SPDX-License-Identifier: GPL-2.0
/*
 * aging_perf_test: duration of one aging pass over the guest's memory
 * while its vCPUs keep touching it.
 *
 * The aging pass is the kernel's idle page tracking (kmmu/page_idle.h):
 * the host writes 1 bits to /sys/kernel/mm/page_idle/bitmap for every
 * page backing guest memory, found through /proc/self/pagemap.  For each
 * page the kernel walks the rmap and clears the Accessed bit of every PTE
 * that maps it with ptep_clear_young_notify(); mmu_notifier_clear_young()
 * reaches KVM, whose kvm_age_gfn() clears the Accessed bit of the guest's
 * SPTE -- so one write of the bitmap is one pass of the aging path KVM
 * implements, over all of guest memory, with the cost of the rmap walks,
 * of mmu_lock (or of the lockless walk, where KVM ages without it) and of
 * sharing it with vCPUs that fault and run.  Other drivers of the same
 * path (DAMON, reclaim) decide themselves which pages to age and when;
 * the bitmap lets the host time exactly one pass over exactly these pages.
 *
 * Guest memory: one memslot of private anonymous 4K pages (MADV_NOHUGEPAGE:
 * one PFN, one bit, one SPTE), as large as the largest --mb, touched once
 * by the guest and then mlocked so that its PFNs stay put.  For each size
 * the vCPUs sweep the first --mb MiB without pause, vCPU i touching pages
 * i, i + n, ... (a load and a store per page).  Per sample:
 *   1. the pass over the size's pages, timed on the host (CLOCK_MONOTONIC);
 *   2. once every vCPU has finished two sweeps after the pass (so it
 *      touched each of its pages after the pass ended), a read of the
 *      bitmap: the pages it reports not idle are young again.  The host
 *      never touches guest memory, so a page can only look young through
 *      KVM's Accessed bits: young > 0 is required (the pass reached KVM and
 *      KVM reports what the guest touched); it is recorded too.
 * Before the samples of a size, one unrecorded pass warms the path, and a
 * control with the vCPUs parked: a pass, then a read, must find no page
 * young but the few that per-CPU LRU batches hide from idle tracking --
 * KVM must have cleared its Accessed bits in the pass, otherwise the
 * read's own clear-and-test would find them set (see ap_control()).
 * The control's pass is also traced (kvm:kvm_age_hva of this process,
 * where tracefs is available): every guest page must have been aged
 * through KVM.  Only there: an event per page would slow a timed pass.
 *
 * Host state: none is changed beyond the idle flags of this process's own
 * pages (freed at exit); the bitmap has nothing to restore.  Bits of other
 * pages are never written.  The read also tests (and clears) the refs of
 * pages of other processes that share a bitmap word with guest memory and
 * were marked idle by someone else; this never changes what they read as.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/bench.h"
#include "kmmu/bench_harness.h"
#include "kmmu/gate.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/page_idle.h"
#include "kmmu/result.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_log.h"

#define AP_GPA		KMMU_GPA_TEST
#define AP_SLOT		KMMU_SLOT_FIRST_FREE
#define AP_PAGE		4096ULL
#define AP_MAX_CONFIGS	16
#define AP_READ(x)	(*(volatile __typeof__(x) *)&(x))
/* A sweep that takes longer than this is a hung guest, not a slow one. */
#define AP_SWEEP_TIMEOUT	300.0
/* Folios per CPU that LRU batches may hold off the LRU (see ap_control()). */
#define AP_BATCHED	32

enum ap_cmd { AP_QUIT, AP_SWEEP };

struct ap_opts {
	struct kmmu_bench b;
	uint64_t vcpus[AP_MAX_CONFIGS];
	int nr_vcpu_configs;
	uint64_t mb[AP_MAX_CONFIGS];
	int nr_sizes;
};

static struct ap_opts ap_opts;

struct ap_shared {
	uint64_t stop;		/* host: back to the gate */
	uint64_t pages;		/* host: pages to sweep, from AP_GPA */
	uint64_t nr_vcpus;
	uint64_t pad[5];
	struct {
		uint64_t sweeps;	/* guest: complete sweeps so far */
		uint64_t pad[7];
	} vcpu[KMMU_MAX_VCPUS];
};

struct ap_ctx {
	struct kmmu_gate gate;
	struct kmmu_vm *vm;
	struct ap_shared *sh;
	uint64_t arrivals;
	int64_t control_young;	/* pages young in the last control */
	int64_t control_aged;	/* ... pages kvm_age_hva covered, -1: not traced */
	void *hva;		/* guest memory */
	int n;
};

/* ---- guest ---- */

static void ap_guest(uint32_t id, void *arg)
{
	struct ap_shared *sh = arg;
	uint64_t i;

	while (GUEST_SYNC(0) != AP_QUIT) {
		while (!AP_READ(sh->stop)) {
			for (i = id; i < sh->pages && !AP_READ(sh->stop); i += sh->nr_vcpus)
				(*(volatile uint64_t *)(AP_GPA + i * AP_PAGE))++;
			if (i >= sh->pages)
				sh->vcpu[id].sweeps++;
		}
	}
}

/* ---- host ---- */

static uint64_t ap_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct ap_ctx *c = ctx;

	return kmmu_gate_arrive(&c->gate);
}

KMMU_BENCH_FIXTURE(aging, ap_opts.b, "aging_perf_test")

static int ap_vcpu_err(struct ap_ctx *c, int r, const char *what, char *err, size_t len)
{
	snprintf(err, len, "%s: %s", what,
		 r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return r;
}

/* Releases the vCPUs into sweeping @pages pages. */
static void ap_resume(struct ap_ctx *c, uint64_t pages)
{
	c->sh->pages = pages;
	__atomic_store_n(&c->sh->stop, 0, __ATOMIC_RELEASE);
	kmmu_gate_open(&c->gate, AP_SWEEP);
}

/* Parks every vCPU at the gate. */
static int ap_park(struct ap_ctx *c, char *err, size_t len)
{
	int r;

	__atomic_store_n(&c->sh->stop, 1, __ATOMIC_RELEASE);
	c->arrivals += c->n;
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, AP_SWEEP_TIMEOUT);
	return r ? ap_vcpu_err(c, r, "vCPUs did not stop", err, len) : 0;
}

/*
 * Waits until every vCPU has completed @more sweeps beyond @base[] (each
 * one's count when the caller sampled it).  Sleeps rather than spins: the
 * project's VM has one CPU, which the vCPUs need.
 */
static int ap_wait_sweeps(struct ap_ctx *c, const uint64_t *base, uint64_t more,
			  char *err, size_t len)
{
	double t0 = kmmu_now();
	bool done;
	int v;

	do {
		kmmu_sleep_ms(1);
		if (kmmu_vm_failed(c->vm))
			return ap_vcpu_err(c, -EIO, "vCPU failed while sweeping", err, len);
		done = true;
		for (v = 0; v < c->n; v++)
			done &= __atomic_load_n(&c->sh->vcpu[v].sweeps, __ATOMIC_ACQUIRE) >=
				base[v] + more;
	} while (!done && kmmu_now() - t0 < AP_SWEEP_TIMEOUT);
	if (!done) {
		snprintf(err, len, "vCPUs did not finish %llu sweeps in %.0f s",
			 (unsigned long long)more, AP_SWEEP_TIMEOUT);
		return -ETIMEDOUT;
	}
	return 0;
}

static void ap_sweeps(struct ap_ctx *c, uint64_t *out)
{
	int v;

	for (v = 0; v < c->n; v++)
		out[v] = __atomic_load_n(&c->sh->vcpu[v].sweeps, __ATOMIC_ACQUIRE);
}

struct ap_sample {
	double pass;		/* seconds */
	double sweep;		/* seconds per guest sweep, after the pass */
	int64_t young;		/* pages read young after two more sweeps */
};

/* One pass while the vCPUs sweep, then the read once they swept twice more. */
static int ap_one_sample(struct ap_ctx *c, int fd, const struct kmmu_idle_set *set,
			 struct ap_sample *out, char *err, size_t len)
{
	uint64_t base[KMMU_MAX_VCPUS];
	double t0;
	int r;

	t0 = kmmu_now();
	r = kmmu_page_idle_mark(fd, set);
	out->pass = kmmu_now() - t0;
	if (r) {
		snprintf(err, len, "writing %s: %s", kmmu_page_idle_path(), strerror(-r));
		return r;
	}
	ap_sweeps(c, base);
	t0 = kmmu_now();
	r = ap_wait_sweeps(c, base, 2, err, len);
	if (r)
		return r;
	/*
	 * The wait took the rest of the sweep in progress plus one whole
	 * sweep, 1 to 2 sweeps' time: 1.5 is the estimate, for the table only.
	 */
	out->sweep = (kmmu_now() - t0) / 1.5;
	out->young = kmmu_page_idle_count_young(fd, set);
	if (out->young < 0) {
		snprintf(err, len, "reading %s: %s", kmmu_page_idle_path(),
			 strerror((int)-out->young));
		return (int)out->young;
	}
	return 0;
}

/*
 * The control's pass, traced: how many of the first @size bytes' pages the
 * kvm:kvm_age_hva events of this process (the pass runs in the writing
 * thread) covered -- each is one mmu_notifier_clear_young() that reached
 * KVM.  Traced only here: an event per page would be part of a timed pass.
 * -errno with @why if tracing is not available; the pass is done anyway.
 */
static int64_t ap_traced_pass(struct ap_ctx *c, int fd, const struct kmmu_idle_set *set,
			      uint64_t size, int *pass_err, char *why, size_t len)
{
	static const char *const events[] = { "kvm:kvm_age_hva", NULL };
	struct kmmu_trace_capture_opts o = { .events = events };
	uint64_t lo = (uintptr_t)c->hva, hi = lo + size, i, a;
	struct kmmu_trace_capture *cap = NULL;
	struct kmmu_trace_log log;
	unsigned long long lost;
	uint8_t *seen = NULL;
	int64_t covered = 0;
	int r;

	kmmu_trace_log_init(&log);
	r = kmmu_trace_capture_start(&cap, &o, &log, why, len);
	*pass_err = kmmu_page_idle_mark(fd, set);
	if (r)
		goto out;
	r = kmmu_trace_capture_stop(cap, &lost);
	if (r) {
		snprintf(why, len, "%s (%llu events lost)",
			 r == -ENOMEM ? "out of memory" : "the kernel dropped events", lost);
		goto out;
	}
	seen = calloc(size / AP_PAGE, 1);
	if (!seen) {
		r = -ENOMEM;
		snprintf(why, len, "out of memory");
		goto out;
	}
	for (i = 0; i < log.nr; i++) {
		const struct kmmu_trace_record *rec = &log.recs[i];

		if (rec->type != KMMU_EV_AGE_HVA)
			continue;
		for (a = rec->hva_range.start & ~(AP_PAGE - 1); a < rec->hva_range.end;
		     a += AP_PAGE)
			if (a >= lo && a < hi && !seen[(a - lo) / AP_PAGE]++)
				covered++;
	}
out:
	kmmu_trace_capture_destroy(cap);
	kmmu_trace_log_free(&log);
	free(seen);
	return r ? r : covered;
}

/*
 * With the vCPUs parked nothing touches guest memory: a pass, then a read,
 * must find every page idle.  A page read young means the pass left KVM's
 * Accessed bit set (the read tested it through KVM again).  Except: a page
 * that sits in a per-CPU LRU or mlock folio batch (up to 15 each per CPU)
 * is off the LRU for the moment, and idle tracking neither marks it nor
 * reports it idle; so a few per CPU are allowed.  A pass that does not
 * reach KVM leaves every page young.
 */
static int ap_control(struct ap_ctx *c, int fd, const struct kmmu_idle_set *set,
		      uint64_t size, char *err, size_t len)
{
	int64_t allowed = AP_BATCHED * sysconf(_SC_NPROCESSORS_CONF), young, aged;
	char why[256] = "";
	int r;

	r = ap_park(c, err, len);
	if (r)
		return r;
	aged = ap_traced_pass(c, fd, set, size, &r, why, sizeof(why));
	young = r ? r : kmmu_page_idle_count_young(fd, set);
	if (young < 0) {
		snprintf(err, len, "control pass on %s: %s", kmmu_page_idle_path(),
			 strerror((int)-young));
		return (int)young;
	}
	if (young > allowed) {
		snprintf(err, len, "control: %lld of %llu pages young after a pass with the vCPUs parked (at most %lld allowed): the pass did not clear KVM's Accessed bits",
			 (long long)young, (unsigned long long)set->nr_pages, (long long)allowed);
		return -EIO;
	}
	c->control_young = young;
	c->control_aged = aged < 0 ? -1 : aged;
	if (aged < 0) {
		printf("# control: kvm_age_hva not traced (%s)\n", why);
		return 0;
	}
	/* Every page the pass marked must have been aged through KVM. */
	if (aged + allowed < (int64_t)set->nr_pages) {
		snprintf(err, len, "control: kvm_age_hva covered %lld of %llu guest pages in the pass",
			 (long long)aged, (unsigned long long)set->nr_pages);
		return -EIO;
	}
	return 0;
}

/*
 * One size: the first @mb MiB of guest memory, the vCPUs parked at the
 * gate on entry and on return.
 */
static int ap_run_size(struct ap_ctx *c, int fd, uint64_t mb, char *err, size_t len)
{
	int cap = kmmu_bench_max_samples(&ap_opts.b), samples, s, r;
	uint64_t size = mb << 20, pages = size / AP_PAGE;
	struct kmmu_bench_sampling sampling;
	double *pass, *rate, *young, *sweep, cv_p, cv_r, med;
	struct kmmu_idle_set set = { 0 };
	struct ap_sample smp;
	char label[64];

	pass = calloc(cap, sizeof(double));
	rate = calloc(cap, sizeof(double));
	young = calloc(cap, sizeof(double));
	sweep = calloc(cap, sizeof(double));
	if (!pass || !rate || !young || !sweep) {
		r = -ENOMEM;
		snprintf(err, len, "out of memory");
		goto out;
	}
	r = kmmu_idle_set_from_range(&set, c->hva, size);
	if (r) {
		snprintf(err, len, "PFNs of guest memory from /proc/self/pagemap: %s",
			 strerror(-r));
		goto out;
	}
	ap_resume(c, pages);
	/*
	 * Warm-up, not recorded: the first pass after the guest's first
	 * touches also finds the host PTEs young (from the faults).
	 */
	r = ap_one_sample(c, fd, &set, &smp, err, len);
	if (!r)
		r = ap_control(c, fd, &set, size, err, len);
	if (r)
		goto out;
	ap_resume(c, pages);
	kmmu_bench_sampling_start(&sampling, &ap_opts.b);
	while ((s = kmmu_bench_next_sample(&sampling, (double *[]){ pass }, 1)) >= 0) {
		r = ap_one_sample(c, fd, &set, &smp, err, len);
		if (r)
			goto out;
		if (smp.young <= 0) {
			r = -EIO;
			snprintf(err, len, "no page young again after the pass although every vCPU swept its pages twice: KVM's Accessed bits did not reach idle page tracking");
			goto out;
		}
		pass[s] = 1e3 * smp.pass;
		rate[s] = (double)size / (1ULL << 30) / smp.pass;
		young[s] = smp.young;
		sweep[s] = 1e3 * smp.sweep;
	}
	r = ap_park(c, err, len);
	if (r)
		goto out;

	kmmu_result_param_reset(ap_opts.b.res);
	kmmu_result_param_int(ap_opts.b.res, "vcpus", c->n);
	kmmu_result_param_int(ap_opts.b.res, "mem_mb", mb);
	kmmu_result_param_str(ap_opts.b.res, "driver", "page_idle");
	kmmu_bench_sampling_record(&sampling, ap_opts.b.res);
	samples = sampling.n;
	snprintf(label, sizeof(label), "vcpus=%d mem_mb=%llu", c->n, (unsigned long long)mb);
	cv_p = kmmu_bench_metric(&ap_opts.b, label, "aging_pass_ms", "ms",
				 KMMU_LOWER_IS_BETTER, pass, samples);
	cv_r = kmmu_bench_metric(&ap_opts.b, label, "aging_pass_gib_per_s", "GiB/s",
				 KMMU_HIGHER_IS_BETTER, rate, samples);
	if (ap_opts.b.res &&
	    kmmu_result_metric(ap_opts.b.res, "young_pages_after_pass", "pages",
			       KMMU_HIGHER_IS_BETTER, young, samples))
		printf("# could not record metric young_pages_after_pass\n");
	med = kmmu_median(pass, samples);
	printf("%6d %8llu %10.1f (%5.1f%%) %8.3f (%5.1f%%) %8.3f %10.0f %9llu %7lld %9lld %9.1f\n",
	       c->n, (unsigned long long)mb, med, cv_p, kmmu_median(rate, samples), cv_r,
	       1e3 * med / pages, kmmu_median(young, samples), (unsigned long long)pages,
	       (long long)c->control_young, (long long)c->control_aged,
	       kmmu_median(sweep, samples));
	fflush(stdout);
out:
	kmmu_idle_set_free(&set);
	free(pass);
	free(rate);
	free(young);
	free(sweep);
	return r;
}

static int ap_run_config(struct __test_metadata *_metadata, int n, uint64_t max_mb)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = n, .shared_size = sizeof(struct ap_shared) };
	uint64_t mem = max_mb << 20, gva, base[KMMU_MAX_VCPUS] = { 0 };
	struct kmmu_vm_handlers h = { 0 };
	struct kmmu_mem m = { .hva = NULL };
	struct ap_ctx c = { .n = n };
	char err[512] = "";
	int i, r, fd = -1;
	double t;

	kmmu_gate_init(&c.gate);
	vo.pt_pages = 1024 + kmmu_pt_pages_for(mem);
	r = __kmmu_vm_create(&c.vm, &vo, err, sizeof(err));
	if (r)
		goto out;
	kmmu_result_host(ap_opts.b.res)->nr_memslots = kmmu_vm_nr_slots(c.vm);
	if (AP_GPA + mem > 1ULL << kmmu_vm_phys_bits(c.vm)) {
		r = -E2BIG;
		snprintf(err, sizeof(err), "--mb too large for guest MAXPHYADDR %u",
			 kmmu_vm_phys_bits(c.vm));
		goto out;
	}
	r = kmmu_mem_alloc(&m, mem, KMMU_BACKING_ANON, -1);
	/*
	 * MADV_DONTFORK: the trace capture forks a janitor; a COW-shared
	 * copy would give each page a second PTE, and the guest's next write
	 * would move it to a new PFN behind the pass's back.
	 */
	if (r || madvise(m.hva, mem, MADV_NOHUGEPAGE) || madvise(m.hva, mem, MADV_DONTFORK)) {
		r = r ? r : -errno;
		snprintf(err, sizeof(err), "guest memory (%llu MiB): %s",
			 (unsigned long long)max_mb, strerror(-r));
		goto out;
	}
	r = __kmmu_slot_add(c.vm, AP_SLOT, AP_GPA, mem, m.hva, 0);
	if (r) {
		snprintf(err, sizeof(err), "adding the memslot: %s", strerror(-r));
		goto out;
	}
	c.sh = kmmu_vm_alloc_shared(c.vm, sizeof(*c.sh), &gva);
	r = c.sh ? __kmmu_vm_map(c.vm, AP_GPA, AP_GPA, mem, KMMU_MAP_WRITE | KMMU_MAP_NX) :
		   -ENOMEM;
	if (r) {
		snprintf(err, sizeof(err), "guest mappings: %s", strerror(-r));
		goto out;
	}
	c.sh->nr_vcpus = n;
	c.hva = m.hva;
	h.sync = ap_sync;
	h.ctx = &c;
	kmmu_vm_set_handlers(c.vm, &h);
	r = kmmu_bench_vm_start(&ap_opts.b, c.vm, ap_guest, (void *)(uintptr_t)gva,
				err, sizeof(err));
	if (r)
		goto out;
	c.arrivals = n;
	r = kmmu_gate_wait(&c.gate, c.arrivals, c.vm, 60);
	if (r) {
		ap_vcpu_err(&c, r, "vCPUs did not reach the start", err, sizeof(err));
		goto out;
	}
	/* The first sweep faults every page in (host and KVM). */
	t = kmmu_now();
	ap_resume(&c, mem / AP_PAGE);
	r = ap_wait_sweeps(&c, base, 1, err, sizeof(err));
	if (!r)
		r = ap_park(&c, err, sizeof(err));
	if (r)
		goto out;
	printf("# vcpus=%d: %llu MiB of guest memory faulted in by the guest in %.1f s\n", n,
	       (unsigned long long)max_mb, kmmu_now() - t);
	/* The PFNs are the pass's addresses: they must not move under it. */
	if (mlock(m.hva, mem)) {
		r = -errno;
		snprintf(err, sizeof(err), "mlock of %llu MiB: %s", (unsigned long long)max_mb,
			 strerror(errno));
		goto out;
	}
	fd = kmmu_page_idle_open();
	if (fd < 0) {
		r = fd;
		snprintf(err, sizeof(err), "opening %s: %s", kmmu_page_idle_path(),
			 strerror(-fd));
		goto out;
	}
	for (i = 0; i < ap_opts.nr_sizes; i++) {
		if (ap_opts.mb[i] > max_mb)
			continue;
		r = ap_run_size(&c, fd, ap_opts.mb[i], err, sizeof(err));
		if (r)
			goto out;
	}
	kmmu_gate_open(&c.gate, AP_QUIT);
	r = __kmmu_vm_wait(c.vm, 30);
	if (r)
		ap_vcpu_err(&c, r, "vCPUs did not finish", err, sizeof(err));
out:
	if (r)
		TH_LOG("vcpus=%d: %s", n, err);
	if (fd >= 0)
		close(fd);
	if (c.vm && r)
		kmmu_vm_stop(c.vm);
	kmmu_vm_destroy(c.vm);
	if (m.hva)
		kmmu_mem_free(&m);
	kmmu_gate_destroy(&c.gate);
	return r;
}

/* Half of free RAM: guest memory is mlocked, the host must keep breathing. */
static uint64_t ap_mem_limit_mb(void)
{
	struct sysinfo si;

	if (sysinfo(&si))
		return 1024;
	return (uint64_t)si.freeram * si.mem_unit / 2 >> 20;
}

KMMU_TEST_F(aging, bench, 600)
{
	uint64_t max_mb = 0, limit = ap_mem_limit_mb();
	int i;

	for (i = 0; i < ap_opts.nr_sizes; i++) {
		if (ap_opts.mb[i] > limit)
			printf("# skipped: --mb %llu (more than half of free memory, %llu MiB)\n",
			       (unsigned long long)ap_opts.mb[i], (unsigned long long)limit);
		else if (ap_opts.mb[i] > max_mb)
			max_mb = ap_opts.mb[i];
	}
	ASSERT_NE(0, max_mb) TH_LOG("no --mb size fits into half of free memory");
	printf("# one aging pass = write of %s for every guest page while the vCPUs sweep; median (cv) over %d samples\n",
	       kmmu_page_idle_path(), ap_opts.b.samples);
	printf("# young: pages read young two sweeps after a pass; parked: the same with the vCPUs parked (control); KVM aged: pages kvm_age_hva covered in the control's pass (-1: not traced); sweep: ms per guest sweep over the size (about)\n");
	printf("# %4s %8s %19s %17s %8s %10s %9s %7s %9s %9s\n", "vcpus", "MiB", "pass ms",
	       "GiB/s", "us/page", "young", "pages", "parked", "KVM aged", "sweep ms");
	for (i = 0; i < ap_opts.nr_vcpu_configs; i++)
		ASSERT_EQ(0, ap_run_config(_metadata, ap_opts.vcpus[i], max_mb));
}

static void ap_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--samples N] [--mb LIST] [--gib LIST] [--vcpus LIST]\n"
		"          [--cv-threshold PCT] [--result FILE] [-h]\n"
		"  --samples N        samples per size (default %d)\n"
		"  --mb LIST          guest memory sizes in MiB, comma separated (default 256,1024)\n"
		"  --gib LIST         the same in GiB\n"
		"  --vcpus LIST       vCPU counts sweeping the memory, comma separated (default 1)\n",
		prog, KMMU_BENCH_SAMPLES_DEFAULT);
}

static int ap_parse_sizes(const char *prog, const char *arg, uint64_t unit_mb)
{
	char why[128];
	int n, i;

	n = kmmu_parse_u64_list(arg, 1, (1ULL << 20) / unit_mb, ap_opts.mb, AP_MAX_CONFIGS);
	if (n < 0) {
		snprintf(why, sizeof(why), "--%s wants up to %d comma-separated sizes from 1 to %llu",
			 unit_mb == 1 ? "mb" : "gib", AP_MAX_CONFIGS,
			 (unsigned long long)((1ULL << 20) / unit_mb));
		kmmu_bench_usage_error(prog, why);
	}
	for (i = 0; i < n; i++)
		ap_opts.mb[i] *= unit_mb;
	return n;
}

static void ap_parse_mb(const char *prog, const char *arg)
{
	ap_opts.nr_sizes = ap_parse_sizes(prog, arg, 1);
}

static void ap_parse_gib(const char *prog, const char *arg)
{
	ap_opts.nr_sizes = ap_parse_sizes(prog, arg, 1024);
}

/* --mb or --gib, this benchmark's options (kmmu_bench_parse() does the rest). */
static const struct kmmu_opt ap_cli_opts[] = {
	KMMU_OPT_FN("mb", 0, ap_parse_mb),
	KMMU_OPT_FN("gib", 0, ap_parse_gib),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "aging_perf_test";
	char why[256];
	int i, timeout;

	kmmu_bench_init_kvm(&ap_opts.b, ap_usage, ap_cli_opts);
	kmmu_bench_take(&ap_opts.b, NULL, ap_opts.vcpus, &ap_opts.nr_vcpu_configs, AP_MAX_CONFIGS);
	kmmu_bench_parse(&ap_opts.b, prog, &argc, argv);
	if (!ap_opts.nr_sizes) {
		ap_opts.mb[ap_opts.nr_sizes++] = 256;
		ap_opts.mb[ap_opts.nr_sizes++] = 1024;
	}
	if (!ap_opts.nr_vcpu_configs)
		ap_opts.vcpus[ap_opts.nr_vcpu_configs++] = 1;

	KMMU_BENCH_HEADER(prog, "samples %d, driver page_idle",
			  ap_opts.b.samples);
	if (kmmu_page_idle_probe(why, sizeof(why)))
		ksft_exit_skip("%s\n", why);
	/* A sample is a pass and two sweeps: generous for nested hosts. */
	timeout = 300;
	for (i = 0; i < ap_opts.nr_sizes; i++)
		timeout += ap_opts.nr_vcpu_configs *
			(int)(kmmu_bench_sampling_seconds(&ap_opts.b, 10 + ap_opts.mb[i] / 32) +
			      2 * (10 + ap_opts.mb[i] / 32));
	KMMU_TEST_TIMEOUT(aging, bench, timeout);
	return test_harness_run(argc, argv);
}
