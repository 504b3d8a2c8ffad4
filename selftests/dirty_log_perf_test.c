// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_log_perf_test: what dirty logging costs, after upstream's
 * dirty_log_perf_test: populating guest memory, switching logging on,
 * the guest's write passes over logged memory, harvesting the dirty log,
 * and switching logging off, for KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG
 * and the dirty ring, over 4K and THP backing.
 *
 * Each sample is a new VM whose vCPUs each own --mem MiB of guest memory
 * in --slots memslots (the memory split evenly; each vCPU writes only its
 * own part).  The phases, each timed from the host releasing the vCPUs
 * (or issuing the ioctls) to all of them being done:
 *  1. populate: every vCPU writes every 4K page of its part once, logging
 *     off (KVM maps it, 2M where THP and the guest's 2M pages allow);
 *  2. enable logging: a flags-only KVM_MEM_LOG_DIRTY_PAGES on every slot
 *     (KVM write-protects, or with KVM_DIRTY_LOG_INITIALLY_SET does not);
 *  3. --iterations passes: every vCPU writes every page of its part once
 *     more (each write faults on the write-protected page and KVM marks
 *     it dirty); then the harvest: KVM_GET_DIRTY_LOG of every slot (get,
 *     clear), KVM_CLEAR_DIRTY_LOG of every slot's whole range (clear:
 *     manual protect, with INITIALLY_SET where KVM has it, as upstream's
 *     default), or collecting every vCPU's ring and KVM_RESET_DIRTY_RINGS
 *     (ring; a vCPU whose ring fills collects its own at
 *     KVM_EXIT_DIRTY_RING_FULL, inside its pass);
 *  4. disable logging: flags 0 on every slot (KVM zaps what it can map
 *     huge again).
 * Pass and harvest times are the mean over the passes of a sample; pages/s
 * is the pages written by all vCPUs in the passes over their time.
 *
 * The host touches the backing once before the first sample and every
 * sample reuses it: where the host is itself a VM the first touch of
 * memory costs the outer hypervisor's faults (see fault_perf_test), which
 * populate would otherwise measure in the first sample only.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/bench.h"
#include "kmmu/bench_harness.h"
#include "kmmu/gate.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/result.h"
#include "kmmu/kvm_stats.h"

#define DP_GPA		KMMU_GPA_TEST		/* 1G aligned */
#define DP_PAGE		4096ULL
#define DP_HUGE		(2ULL << 20)
#define DP_MAX_CONFIGS	16
#define DP_MAX_SLOTS	64
#define DP_MAX_ITERATIONS 1000

enum dp_mode { DP_GET, DP_CLEAR, DP_RING, DP_NR_MODES };
static const char *const dp_mode_names[] = { "get", "clear", "ring" };
enum dp_backing { DP_4K, DP_THP, DP_NR_BACKINGS };
static const char *const dp_backing_names[] = { "4k", "thp" };

enum dp_cmd { DP_QUIT, DP_WRITE };

struct dp_opts {
	struct kmmu_bench b;
	uint64_t vcpus[DP_MAX_CONFIGS];
	int nr_vcpu_configs;
	bool modes[DP_NR_MODES];
	bool backings[DP_NR_BACKINGS];
	uint64_t mem_mb;	/* per vCPU */
	uint64_t slots;
	uint64_t iterations;
	uint64_t ring_entries;
};

static struct dp_opts dp_opts = {
	.mem_mb = 8,
	.slots = 1,
	.iterations = 2,
	.ring_entries = 16384,
};

struct dp_shared {
	uint64_t part;		/* bytes per vCPU */
	uint64_t pad[7];
};

/* ---- guest ---- */

static void dp_guest(uint32_t v, void *arg)
{
	struct dp_shared *sh = arg;
	uint64_t pass = 0, a, base, end;

	while (GUEST_SYNC(0) != DP_QUIT) {
		pass++;
		base = DP_GPA + v * sh->part;
		end = base + sh->part;
		for (a = base; a < end; a += DP_PAGE)
			*(volatile uint64_t *)a = pass;
	}
}

/* ---- host ---- */

struct dp_ctx {
	struct kmmu_gate gate;
	struct kmmu_vm *vm;
	enum dp_mode mode;
	int nr_vcpus;
	pthread_mutex_t ring_lock;	/* a ring is collected by one thread at a time */
	uint64_t ring_round;		/* collected since the last reset */
	long ring_full_exits;
	uint64_t harvested;		/* pages reported in this sample's passes */
	char ring_err[256];
};

static uint64_t dp_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct dp_ctx *c = ctx;

	return kmmu_gate_arrive(&c->gate);
}

static void dp_ring_gfn(void *ctx, uint32_t slot, uint64_t offset)
{
	struct dp_ctx *c = ctx;

	c->ring_round++;
}

/* Under ring_lock: collect every vCPU's ring, then reset them. */
static int dp_ring_harvest_locked(struct dp_ctx *c)
{
	int v, r;

	for (v = 0; v < c->nr_vcpus; v++) {
		r = kmmu_vcpu_dirty_ring_collect(kmmu_vm_vcpu(c->vm, v), dp_ring_gfn, c);
		if (r < 0)
			return r;
	}
	r = kmmu_vm_reset_dirty_rings(c->vm);
	if (r < 0)
		return r;
	if ((uint64_t)r != c->ring_round) {
		snprintf(c->ring_err, sizeof(c->ring_err), "KVM_RESET_DIRTY_RINGS reset %d entries, %llu were collected",
			 r, (unsigned long long)c->ring_round);
		return -EIO;
	}
	c->harvested += c->ring_round;
	c->ring_round = 0;
	return 0;
}

static int dp_exit(struct kmmu_vcpu *vcpu, uint32_t reason, void *ctx)
{
	struct dp_ctx *c = ctx;
	int r;

	if (reason != KVM_EXIT_DIRTY_RING_FULL || c->mode != DP_RING)
		return -1;
	pthread_mutex_lock(&c->ring_lock);
	c->ring_full_exits++;
	r = dp_ring_harvest_locked(c);
	pthread_mutex_unlock(&c->ring_lock);
	if (r) {
		kmmu_vcpu_fail(vcpu, "harvesting the dirty rings at KVM_EXIT_DIRTY_RING_FULL: %s",
			       c->ring_err[0] ? c->ring_err : strerror(-r));
		return 0;
	}
	return 1;
}

KMMU_BENCH_FIXTURE(dirty, dp_opts.b, "dirty_log_perf_test")

/* One sample's times in seconds (pass, get, clear, ring: means over the passes). */
struct dp_sample {
	double populate, enable, pass, get, clear, ring, disable;
	uint64_t pages;		/* written per pass, all vCPUs */
	uint64_t harvested;	/* pages the harvests reported, all passes */
	long ring_full_exits;
	int64_t pages_2m;	/* KVM's after populate, -1 unknown */
};

/* Releases the vCPUs for one pass and waits for all: the pass's seconds, or < 0. */
static double dp_pass(struct dp_ctx *c, uint64_t *arrivals, char *err, size_t len)
{
	double t = kmmu_now();
	int r;

	kmmu_gate_open(&c->gate, DP_WRITE);
	*arrivals += c->nr_vcpus;
	r = kmmu_gate_wait(&c->gate, *arrivals, c->vm, 600);
	if (r) {
		snprintf(err, len, "vCPUs did not finish their pass: %s",
			 r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
		return -1;
	}
	return kmmu_now() - t;
}

static int dp_set_logging(struct dp_ctx *c, uint64_t slots, bool on, char *err, size_t len)
{
	uint64_t s;
	int r;

	for (s = 0; s < slots; s++) {
		r = kmmu_slot_set_flags(c->vm, KMMU_SLOT_FIRST_FREE + s,
					on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
		if (r) {
			snprintf(err, len, "switching logging %s on slot %llu: %s", on ? "on" : "off",
				 (unsigned long long)s, strerror(-r));
			return r;
		}
	}
	return 0;
}

static uint64_t dp_popcount(const uint64_t *bm, size_t words)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < words; i++)
		n += __builtin_popcountll(bm[i]);
	return n;
}

/* One harvest of every slot; adds the seconds of each ioctl kind to @s. */
static int dp_harvest(struct dp_ctx *c, uint64_t slots, uint64_t slot_pages, uint64_t *bm,
		      struct dp_sample *s, char *err, size_t len)
{
	size_t words = kmmu_dirty_bitmap_words(slot_pages);
	uint64_t i;
	double t;
	int r = 0;

	if (c->mode == DP_RING) {
		t = kmmu_now();
		pthread_mutex_lock(&c->ring_lock);
		r = dp_ring_harvest_locked(c);
		pthread_mutex_unlock(&c->ring_lock);
		s->ring += kmmu_now() - t;
		if (r)
			snprintf(err, len, "harvesting the dirty rings: %s",
				 c->ring_err[0] ? c->ring_err : strerror(-r));
		return r;
	}
	t = kmmu_now();
	for (i = 0; i < slots && !r; i++)
		r = kmmu_vm_get_dirty_log(c->vm, KMMU_SLOT_FIRST_FREE + i, bm + i * words);
	s->get += kmmu_now() - t;
	if (r) {
		snprintf(err, len, "KVM_GET_DIRTY_LOG of slot %llu: %s", (unsigned long long)i - 1,
			 strerror(-r));
		return r;
	}
	for (i = 0; i < slots; i++)
		c->harvested += dp_popcount(bm + i * words, words);
	if (c->mode != DP_CLEAR)
		return 0;
	t = kmmu_now();
	for (i = 0; i < slots && !r; i++)
		r = kmmu_vm_clear_dirty_log(c->vm, KMMU_SLOT_FIRST_FREE + i, bm + i * words, 0,
					    slot_pages);
	s->clear += kmmu_now() - t;
	if (r)
		snprintf(err, len, "KVM_CLEAR_DIRTY_LOG of slot %llu: %s", (unsigned long long)i - 1,
			 strerror(-r));
	return r;
}

/* The manual-protect flags KVM_CLEAR_DIRTY_LOG runs with: upstream's default. */
static uint64_t dp_manual_caps(int fd)
{
	long caps = kmmu_kvm_cap(fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);

	return caps > 0 ? caps & (KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
				  KVM_DIRTY_LOG_INITIALLY_SET) : 0;
}

static int dp_one_sample(enum dp_mode mode, enum dp_backing bk, int n, uint8_t *mem,
			 uint64_t part, struct dp_sample *s, char *err, size_t len)
{
	uint64_t total = part * n, slots = dp_opts.slots, slot_size = total / slots;
	uint64_t slot_pages = slot_size / DP_PAGE, arrivals, gva, i, *bm = NULL;
	struct kmmu_vm_opts vo = { .nr_vcpus = n, .shared_size = sizeof(struct dp_shared) };
	struct dp_ctx c = { .mode = mode, .nr_vcpus = n };
	struct kmmu_vm_handlers h = { .sync = dp_sync, .exit = dp_exit, .ctx = &c };
	struct dp_shared *sh;
	struct kmmu_stats st;
	uint64_t x;
	double t, d;
	int r;

	memset(s, 0, sizeof(*s));
	s->pages_2m = -1;
	kmmu_gate_init(&c.gate);
	pthread_mutex_init(&c.ring_lock, NULL);
	vo.pt_pages = 1024 + (bk == DP_4K ? kmmu_pt_pages_for(total) : total / (1ULL << 30) + 8);
	if (mode == DP_RING)
		vo.dirty_ring_entries = dp_opts.ring_entries;
	r = __kmmu_vm_create(&c.vm, &vo, err, len);
	if (r)
		goto out;
	if (mode == DP_CLEAR) {
		r = kmmu_vm_enable_cap(c.vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
				       dp_manual_caps(kmmu_vm_fd(c.vm)));
		if (r) {
			snprintf(err, len, "enabling manual dirty log protect: %s", strerror(-r));
			goto out;
		}
	}
	bm = calloc(slots * kmmu_dirty_bitmap_words(slot_pages), 8);
	sh = kmmu_vm_alloc_shared(c.vm, sizeof(*sh), &gva);
	if (!bm || !sh) {
		r = -ENOMEM;
		snprintf(err, len, "out of memory");
		goto out;
	}
	sh->part = part;
	r = __kmmu_vm_map(c.vm, DP_GPA, DP_GPA, total,
			  KMMU_MAP_WRITE | KMMU_MAP_NX | (bk == DP_THP ? KMMU_MAP_HUGE : 0));
	for (i = 0; i < slots && !r; i++)
		r = __kmmu_slot_add(c.vm, KMMU_SLOT_FIRST_FREE + i, DP_GPA + i * slot_size, slot_size,
				    mem + i * slot_size, 0);
	if (r) {
		snprintf(err, len, "guest memory: %s", strerror(-r));
		goto out;
	}
	kmmu_vm_set_handlers(c.vm, &h);
	r = kmmu_bench_vm_start(&dp_opts.b, c.vm, dp_guest, (void *)(uintptr_t)gva, err, len);
	if (r)
		goto out;
	arrivals = n;
	r = kmmu_gate_wait(&c.gate, arrivals, c.vm, 120);
	if (r) {
		snprintf(err, len, "vCPUs did not start: %s",
			 r == -EIO ? kmmu_vm_errors(c.vm) : strerror(-r));
		goto out;
	}

	r = -EIO;
	s->populate = dp_pass(&c, &arrivals, err, len);
	if (s->populate < 0)
		goto out;
	if (!kmmu_stats_open(&st, kmmu_vm_fd(c.vm))) {
		if (!kmmu_stats_get(&st, "pages_2m", &x))
			s->pages_2m = x;
		kmmu_stats_close(&st);
	}
	t = kmmu_now();
	r = dp_set_logging(&c, slots, true, err, len);
	s->enable = kmmu_now() - t;
	if (r)
		goto out;
	c.harvested = 0;
	for (i = 0; i < dp_opts.iterations; i++) {
		d = dp_pass(&c, &arrivals, err, len);
		if (d < 0) {
			r = -EIO;
			goto out;
		}
		s->pass += d;
		r = dp_harvest(&c, slots, slot_pages, bm, s, err, len);
		if (r)
			goto out;
	}
	s->pass /= dp_opts.iterations;
	s->get /= dp_opts.iterations;
	s->clear /= dp_opts.iterations;
	s->ring /= dp_opts.iterations;
	s->pages = total / DP_PAGE;
	s->harvested = c.harvested;
	s->ring_full_exits = c.ring_full_exits;
	t = kmmu_now();
	r = dp_set_logging(&c, slots, false, err, len);
	s->disable = kmmu_now() - t;
	if (r)
		goto out;
	kmmu_gate_open(&c.gate, DP_QUIT);
	r = __kmmu_vm_wait(c.vm, 60);
	if (r)
		snprintf(err, len, "vCPUs did not finish: %s",
			 r == -EIO ? kmmu_vm_errors(c.vm) : strerror(-r));
out:
	/* vCPUs at the gate, now or later, must be let go to be joined. */
	kmmu_gate_finish(&c.gate, DP_QUIT);
	kmmu_vm_destroy(c.vm);
	kmmu_gate_destroy(&c.gate);
	pthread_mutex_destroy(&c.ring_lock);
	free(bm);
	return r;
}

static void dp_metric(const char *label, const char *name, const char *unit,
		      enum kmmu_direction dir, const double *v, int n, double *med, double *cv)
{
	*cv = kmmu_bench_metric(&dp_opts.b, label, name, unit, dir, v, n);
	*med = kmmu_median(v, n);
}

static int dp_run_config(struct __test_metadata *_metadata, enum dp_mode mode,
			 enum dp_backing bk, int n)
{
	int cap = kmmu_bench_max_samples(&dp_opts.b), samples, k, r = 0;
	uint64_t part = dp_opts.mem_mb << 20, total = part * n, raw_size;
	double *v[10], med[10], cv[10];
	struct kmmu_bench_sampling sampling;
	struct dp_sample *smp;
	char err[512], label[64], mapped[16] = "-";
	uint8_t *mem;
	void *raw;

	smp = calloc(cap, sizeof(*smp));
	for (k = 0; k < 10; k++)
		v[k] = calloc(cap, sizeof(double));
	mem = kmmu_map_2m_aligned(total, bk == DP_THP, &raw, &raw_size);
	if (!smp || !mem) {
		TH_LOG("mode=%s backing=%s vcpus=%d: out of memory", dp_mode_names[mode],
		       dp_backing_names[bk], n);
		r = -ENOMEM;
		goto out;
	}
	memset(mem, 0, total);		/* touched once by the host */
	kmmu_bench_sampling_start(&sampling, &dp_opts.b);
	/* Enough samples when the pass and the harvest (get, clear or ring) resolve. */
	while ((k = kmmu_bench_next_sample(&sampling, (double *[]){ v[2], v[mode == DP_RING ? 6 : 4],
								  v[5] }, mode == DP_CLEAR ? 3 : 2)) >= 0) {
		r = dp_one_sample(mode, bk, n, mem, part, &smp[k], err, sizeof(err));
		if (r) {
			TH_LOG("mode=%s backing=%s vcpus=%d sample %d: %s", dp_mode_names[mode],
			       dp_backing_names[bk], n, k, err);
			goto out;
		}
		v[0][k] = smp[k].populate;
		v[1][k] = smp[k].enable;
		v[2][k] = smp[k].pass;
		v[3][k] = smp[k].pass > 0 ? smp[k].pages / smp[k].pass : 0;
		v[4][k] = smp[k].get;
		v[5][k] = smp[k].clear;
		v[6][k] = smp[k].ring;
		v[7][k] = smp[k].disable;
		v[8][k] = smp[k].pages_2m;
		v[9][k] = smp[k].harvested;
	}
	kmmu_result_param_reset(dp_opts.b.res);
	kmmu_result_param_str(dp_opts.b.res, "mode", dp_mode_names[mode]);
	kmmu_result_param_str(dp_opts.b.res, "backing", dp_backing_names[bk]);
	kmmu_result_param_int(dp_opts.b.res, "vcpus", n);
	kmmu_result_param_int(dp_opts.b.res, "mem_mb", dp_opts.mem_mb);
	kmmu_result_param_int(dp_opts.b.res, "slots", dp_opts.slots);
	kmmu_result_param_int(dp_opts.b.res, "iterations", dp_opts.iterations);
	if (mode == DP_RING)
		kmmu_result_param_int(dp_opts.b.res, "ring_entries", dp_opts.ring_entries);
	kmmu_bench_sampling_record(&sampling, dp_opts.b.res);
	samples = sampling.n;
	snprintf(label, sizeof(label), "mode=%s backing=%s vcpus=%d", dp_mode_names[mode],
		 dp_backing_names[bk], n);
	dp_metric(label, "populate_time", "s", KMMU_LOWER_IS_BETTER, v[0], samples, &med[0], &cv[0]);
	dp_metric(label, "enable_logging_time", "s", KMMU_LOWER_IS_BETTER, v[1], samples,
		  &med[1], &cv[1]);
	dp_metric(label, "dirty_pass_time", "s", KMMU_LOWER_IS_BETTER, v[2], samples,
		  &med[2], &cv[2]);
	dp_metric(label, "dirty_pages_per_s", "pages/s", KMMU_HIGHER_IS_BETTER, v[3], samples,
		  &med[3], &cv[3]);
	med[4] = med[5] = med[6] = 0;
	if (mode != DP_RING)
		dp_metric(label, "get_dirty_log_time", "s", KMMU_LOWER_IS_BETTER, v[4], samples,
			  &med[4], &cv[4]);
	if (mode == DP_CLEAR)
		dp_metric(label, "clear_dirty_log_time", "s", KMMU_LOWER_IS_BETTER, v[5], samples,
			  &med[5], &cv[5]);
	if (mode == DP_RING)
		dp_metric(label, "ring_harvest_time", "s", KMMU_LOWER_IS_BETTER, v[6], samples,
			  &med[6], &cv[6]);
	dp_metric(label, "disable_logging_time", "s", KMMU_LOWER_IS_BETTER, v[7], samples,
		  &med[7], &cv[7]);
	/* Not timings: what KVM did, so that a change in it explains a change in time. */
	if (smp[0].pages_2m >= 0)
		kmmu_result_metric(dp_opts.b.res, "kvm_pages_2m_populated", "count",
				   KMMU_HIGHER_IS_BETTER, v[8], samples);
	kmmu_result_metric(dp_opts.b.res, "pages_harvested", "pages", KMMU_HIGHER_IS_BETTER,
			   v[9], samples);
	if (smp[0].pages_2m >= 0)
		snprintf(mapped, sizeof(mapped), "%lld", (long long)kmmu_median(v[8], samples));
	printf("%-5s %-4s %5d %9.4f %9.4f %9.4f %10.0f %9.5f %9.5f %9.5f %9.4f %6s %8llu %5ld\n",
	       dp_mode_names[mode], dp_backing_names[bk], n, med[0], med[1], med[2], med[3],
	       med[4], med[5], med[6], med[7], mapped,
	       (unsigned long long)kmmu_median(v[9], samples), smp[samples / 2].ring_full_exits);
	fflush(stdout);
out:
	if (mem)
		munmap(raw, raw_size);
	for (k = 0; k < 10; k++)
		free(v[k]);
	free(smp);
	return r;
}

KMMU_TEST_F(dirty, bench, 3600)
{
	char why[256];
	int fd, m, bk, i;
	bool manual, ring;

	fd = kmmu_kvm_open(why, sizeof(why));
	ASSERT_LE(0, fd) TH_LOG("%s", why);
	manual = dp_manual_caps(fd) & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
	ring = kmmu_kvm_cap(fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL) > 0 ||
	       kmmu_kvm_cap(fd, KVM_CAP_DIRTY_LOG_RING) > 0;
	printf("# manual protect: %s; per sample %llu MiB per vCPU in %llu slot(s), %llu passes; median over %d samples\n",
	       !manual ? "none" : dp_manual_caps(fd) & KVM_DIRTY_LOG_INITIALLY_SET ?
	       "with KVM_DIRTY_LOG_INITIALLY_SET" : "without INITIALLY_SET",
	       (unsigned long long)dp_opts.mem_mb, (unsigned long long)dp_opts.slots,
	       (unsigned long long)dp_opts.iterations, dp_opts.b.samples);
	close(fd);
	printf("# %-4s %-4s %5s %9s %9s %9s %10s %9s %9s %9s %9s %6s %8s %5s\n", "mode", "bk",
	       "vcpus", "populate", "enable", "pass", "pages/s", "get", "clear", "ring",
	       "disable", "KVM2M", "reported", "full");
	for (m = 0; m < DP_NR_MODES; m++) {
		if (!dp_opts.modes[m])
			continue;
		if ((m == DP_CLEAR && !manual) || (m == DP_RING && !ring)) {
			printf("# skipped: mode=%s (KVM has no %s)\n", dp_mode_names[m],
			       m == DP_RING ? "dirty ring" : "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
			continue;
		}
		for (bk = 0; bk < DP_NR_BACKINGS; bk++) {
			if (!dp_opts.backings[bk])
				continue;
			for (i = 0; i < dp_opts.nr_vcpu_configs; i++)
				ASSERT_EQ(0, dp_run_config(_metadata, m, bk, dp_opts.vcpus[i]));
		}
	}
}

static void dp_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--samples N] [--vcpus LIST] [--mem MB] [--slots N] [--iterations N]\n"
		"          [--mode LIST] [--backing LIST] [--ring-entries N] [--cv-threshold PCT]\n"
		"          [--result FILE] [-h]\n"
		"  --samples N        samples (a new VM each) per configuration (default %d)\n"
		"  --vcpus LIST       vCPU counts, comma separated (default: the CPU count)\n"
		"  --mem MB           guest memory per vCPU, an even number (default 8)\n"
		"  --slots N          memslots the memory is split into (default 1, max %d)\n"
		"  --iterations N     write passes and harvests per sample (default 2)\n"
		"  --mode LIST        get, clear, ring, comma separated (default all)\n"
		"  --backing LIST     4k, thp, comma separated (default both)\n"
		"  --ring-entries N   dirty ring entries per vCPU, a power of two (default 16384)\n",
		prog, KMMU_BENCH_SAMPLES_DEFAULT, DP_MAX_SLOTS);
}

/* The options of this benchmark alone (kmmu_bench_parse() does the rest). */
static const struct kmmu_opt dp_cli_opts[] = {
	KMMU_OPT_U("mem", 0, dp_opts.mem_mb, 2, 1 << 20, KMMU_OPT_EVEN,
		   "--mem wants an even number of MiB from 2 to 1048576"),
	KMMU_OPT_U("slots", 0, dp_opts.slots, 1, DP_MAX_SLOTS, 0,
		   "--slots wants a count from 1 to 64"),
	KMMU_OPT_U("iterations", 0, dp_opts.iterations, 1, DP_MAX_ITERATIONS, 0,
		   "--iterations wants a count from 1 to 1000"),
	KMMU_OPT_NAMELIST("mode", 0, dp_opts.modes, dp_mode_names, DP_NR_MODES,
			  "--mode wants get, clear, ring (comma separated)"),
	KMMU_OPT_NAMELIST("backing", 0, dp_opts.backings, dp_backing_names, DP_NR_BACKINGS,
			  "--backing wants 4k, thp (comma separated)"),
	/* KVM's smallest ring is a page. */
	KMMU_OPT_U("ring-entries", 0, dp_opts.ring_entries, 256, 65536, KMMU_OPT_POWER_OF_2,
		   "--ring-entries wants a power of two from 256 to 65536"),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "dirty_log_perf_test";
	uint64_t mem = 0, configs;
	int m;

	kmmu_bench_init_kvm(&dp_opts.b, dp_usage, dp_cli_opts);
	kmmu_bench_take(&dp_opts.b, NULL, dp_opts.vcpus, &dp_opts.nr_vcpu_configs, DP_MAX_CONFIGS);
	for (m = 0; m < DP_NR_MODES; m++)
		dp_opts.modes[m] = true;
	dp_opts.backings[DP_4K] = dp_opts.backings[DP_THP] = true;
	kmmu_bench_parse(&dp_opts.b, prog, &argc, argv);
	if (!dp_opts.nr_vcpu_configs) {
		dp_opts.vcpus[0] = kmmu_bench_online_vcpus();
		dp_opts.nr_vcpu_configs = 1;
	}
	/* Every slot a whole number of 2M, so that THP can back all of it. */
	if (((dp_opts.mem_mb << 20) * dp_opts.vcpus[0]) % (dp_opts.slots * DP_HUGE))
		kmmu_bench_usage_error(prog, "--slots must divide the guest memory into whole 2 MiB units");
	for (m = 1; m < dp_opts.nr_vcpu_configs; m++)
		if (((dp_opts.mem_mb << 20) * dp_opts.vcpus[m]) % (dp_opts.slots * DP_HUGE))
			kmmu_bench_usage_error(prog, "--slots must divide the guest memory into whole 2 MiB units");
	/* Generous for a nested TCG VM: a few seconds per MiB and pass. */
	configs = 0;
	for (m = 0; m < DP_NR_MODES; m++)
		configs += dp_opts.modes[m] * (dp_opts.backings[DP_4K] + dp_opts.backings[DP_THP]);
	for (m = 0; m < dp_opts.nr_vcpu_configs; m++)
		mem += dp_opts.mem_mb * dp_opts.vcpus[m];
	KMMU_TEST_TIMEOUT(dirty, bench, 120 + (int)(configs * kmmu_bench_sampling_seconds(&dp_opts.b,
			  10 + mem * (dp_opts.iterations + 1) / 2)));
	KMMU_BENCH_HEADER(prog, "samples %d, mem %llu MiB per vCPU, %llu passes",
			  dp_opts.b.samples, (unsigned long long)dp_opts.mem_mb,
			  (unsigned long long)dp_opts.iterations);
	return test_harness_run(argc, argv);
}
