// SPDX-License-Identifier: GPL-2.0
/*
 * fault_perf_test: first-touch fault throughput, 1..N vCPUs, 4K and 2M.
 *
 * Each sample gives the guest fresh memory: a new anonymous mapping is
 * added as a memslot, every vCPU stores one word into each page of its own
 * part of it (one page per store: 4K pages, or 2M pages for the 2M
 * backing), and the slot is deleted and the memory unmapped afterwards.
 * Each store is a first touch: KVM faults, the host allocates (and zeroes)
 * the page, KVM installs the mapping.  Throughput = pages touched by all
 * vCPUs / wall time, counted from the moment the host releases the vCPUs
 * until --duration passed or one vCPU ran out of memory (--mem per vCPU);
 * the guest publishes its count after every page, so the host reads exact
 * counts at the end of the interval.  Each configuration runs one
 * unrecorded warm-up sample first, and the host touches the largest
 * sample's memory once before all of them (see fp_warm_host()).
 *
 * 2M backing: the region is 2M aligned and madvise(MADV_HUGEPAGE)d, and
 * the guest maps it with 2M pages, so KVM can map 2M if the host backs it
 * with a transparent huge page (with shadow paging it needs both).  The
 * KVM stat pages_2m says whether it did; it is recorded per sample and
 * the table shows the share of touched 2M pages KVM mapped as 2M.  4K
 * backing is MADV_NOHUGEPAGE so that THP=always hosts measure 4K faults.
 */
#include <errno.h>
#include <getopt.h>
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

#define FP_GPA		KMMU_GPA_TEST	/* 1G aligned */
#define FP_SLOT		KMMU_SLOT_FIRST_FREE
#define FP_MAX_CONFIGS	16

enum fp_backing { FP_4K, FP_2M, FP_NR_BACKINGS };
static const char *const fp_backing_names[] = { "4k", "2m" };
static const uint64_t fp_page_size[] = { 4096, 2 << 20 };

enum fp_cmd { FP_QUIT, FP_TOUCH };

struct fp_opts {
	struct kmmu_bench b;
	uint64_t vcpus[FP_MAX_CONFIGS];
	int nr_vcpu_configs;
	bool backings[FP_NR_BACKINGS];
	double duration;
	uint64_t mem_mb;	/* per vCPU */
	uint64_t max_total;	/* bytes per sample, all vCPUs (half of MemAvailable) */
};

static struct fp_opts fp_opts = {
	.backings = { [FP_4K] = true, [FP_2M] = true },
	.duration = 1.0,
	.mem_mb = 256,
};

struct fp_shared {
	uint64_t stop;
	uint64_t page_size;
	uint64_t part_size;	/* bytes per vCPU */
	uint64_t pad[5];
	struct {
		uint64_t touched;	/* guest: pages of this sample */
		uint64_t done;		/* guest: ran out of memory */
		uint64_t pad[6];
	} vcpu[KMMU_MAX_VCPUS];
};

struct fp_ctx {
	struct kmmu_gate gate;
};

/* ---- guest ---- */

static void fp_guest(uint32_t id, void *arg)
{
	struct fp_shared *sh = arg;
	volatile uint64_t *touched = &sh->vcpu[id].touched;
	volatile uint64_t *stop = &sh->stop;

	while (GUEST_SYNC(0) != FP_QUIT) {
		uint64_t base = FP_GPA + id * sh->part_size, step = sh->page_size;
		uint64_t end = base + sh->part_size, a, n = 0;

		for (a = base; a < end && !*stop; a += step) {
			*(volatile uint64_t *)a = a;
			*touched = ++n;
		}
		if (a >= end)
			sh->vcpu[id].done = 1;
	}
}

/* ---- host ---- */

static uint64_t fp_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct fp_ctx *c = ctx;

	return kmmu_gate_arrive(&c->gate);
}

KMMU_BENCH_FIXTURE(fault, fp_opts.b, "fault_perf_test")

/* "always [madvise] never" -> the bracketed word, or "unknown". */
static void fp_thp_mode(char *buf, size_t len)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char line[128], *a, *b;

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && (a = strchr(line, '[')) && (b = strchr(a, ']'))) {
		*b = 0;
		snprintf(buf, len, "%s", a + 1);
	}
	fclose(f);
}

/* MemAvailable in bytes (1 GiB if unknown). */
static uint64_t fp_mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kb = 1 << 20;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb << 10;
}

/*
 * Touches @mem bytes once from the host process and frees them again.
 * Where the host is itself a VM (the project's nested VM, a cloud guest),
 * the first use of its memory costs the outer hypervisor's faults too,
 * which would make the first samples slow and the rest fast depending on
 * how much memory earlier samples had warmed; after this, samples reuse
 * warm memory.  On bare metal it only costs a memset.
 */
static void fp_warm_host(uint64_t mem)
{
	uint64_t raw_size;
	void *raw, *p;

	p = kmmu_map_2m_aligned(mem, true, &raw, &raw_size);
	if (!p)
		return;
	memset(p, 1, mem);
	munmap(raw, raw_size);
}

struct fp_sample {
	double rate;		/* pages/s, all vCPUs */
	uint64_t pages;
	uint64_t pages_final;	/* touched when the vCPUs had stopped */
	uint64_t pages_2m, pages_4k;	/* KVM stats at the end */
	bool stats;
};

static int fp_one_sample(struct kmmu_vm *vm, struct fp_ctx *c, struct fp_shared *sh,
			 int n, enum fp_backing bk, uint64_t mem, uint64_t *arrivals,
			 struct fp_sample *out, char *err, size_t len)
{
	struct kmmu_stats st;
	uint64_t raw_size, pages;
	double t0, t1;
	void *raw, *p;
	bool done;
	int r, v;

	p = kmmu_map_2m_aligned(mem, bk == FP_2M, &raw, &raw_size);
	if (!p) {
		snprintf(err, len, "mmap of %llu MiB failed", (unsigned long long)(mem >> 20));
		return -ENOMEM;
	}
	r = __kmmu_slot_add(vm, FP_SLOT, FP_GPA, mem, p, 0);
	if (r) {
		munmap(raw, raw_size);
		snprintf(err, len, "adding the memslot: %s", strerror(-r));
		return r;
	}
	sh->stop = 0;
	for (v = 0; v < n; v++)
		sh->vcpu[v].touched = sh->vcpu[v].done = 0;
	t0 = kmmu_now();
	kmmu_gate_open(&c->gate, FP_TOUCH);
	/*
	 * Poll with sleeps: on a host with fewer CPUs than vCPUs + 1 a
	 * spinning main thread would take time from the vCPUs.
	 */
	do {
		usleep(1000);
		t1 = kmmu_now();
		done = false;
		for (v = 0; v < n; v++)
			done |= __atomic_load_n(&sh->vcpu[v].done, __ATOMIC_ACQUIRE);
	} while (!done && t1 - t0 < fp_opts.duration && !kmmu_vm_failed(vm));
	pages = 0;
	for (v = 0; v < n; v++)
		pages += __atomic_load_n(&sh->vcpu[v].touched, __ATOMIC_ACQUIRE);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	*arrivals += n;
	r = kmmu_gate_wait(&c->gate, *arrivals, vm, 120);
	if (r) {
		snprintf(err, len, "vCPUs did not stop: %s",
			 r == -EIO ? kmmu_vm_errors(vm) : strerror(-r));
		return r;
	}
	out->pages = pages;
	out->pages_final = 0;
	for (v = 0; v < n; v++)
		out->pages_final += sh->vcpu[v].touched;
	out->rate = pages / (t1 - t0);
	out->stats = !kmmu_stats_open(&st, kmmu_vm_fd(vm));
	if (out->stats) {
		out->stats = !kmmu_stats_get(&st, "pages_2m", &out->pages_2m) &&
			     !kmmu_stats_get(&st, "pages_4k", &out->pages_4k);
		kmmu_stats_close(&st);
	}
	r = kmmu_slot_delete(vm, FP_SLOT);
	munmap(raw, raw_size);
	if (r) {
		snprintf(err, len, "deleting the memslot: %s", strerror(-r));
		return r;
	}
	return 0;
}

static int fp_run_config(struct __test_metadata *_metadata, int n, enum fp_backing bk)
{
	uint64_t ps = fp_page_size[bk], part, mem, gva, arrivals;
	struct kmmu_vm_opts vo = { .nr_vcpus = n, .shared_size = sizeof(struct fp_shared) };
	struct kmmu_vm_handlers h = { 0 };
	int cap = kmmu_bench_max_samples(&fp_opts.b), samples, s, r;
	struct kmmu_bench_sampling sampling;
	struct kmmu_vm *vm = NULL;
	struct fp_sample *smp;
	struct fp_shared *sh;
	struct fp_ctx c;
	double *rate, *p2m, ratio = 0;
	char err[512], label[64];

	part = fp_opts.mem_mb << 20;
	if (part * n > fp_opts.max_total)
		part = fp_opts.max_total / n & ~((2ULL << 20) - 1);
	if (!part) {
		TH_LOG("less than 2 MiB of memory available per vCPU");
		return -ENOMEM;
	}
	mem = part * n;
	vo.pt_pages = 1024 + (bk == FP_4K ? kmmu_pt_pages_for(mem) : mem / (1ULL << 30) + 8);
	kmmu_gate_init(&c.gate);
	smp = calloc(cap, sizeof(*smp));
	rate = calloc(cap, sizeof(double));
	p2m = calloc(cap, sizeof(double));
	if (!smp || !rate || !p2m) {
		r = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	r = __kmmu_vm_create(&vm, &vo, err, sizeof(err));
	if (r)
		goto out;
	kmmu_result_host(fp_opts.b.res)->nr_memslots = kmmu_vm_nr_slots(vm);
	if (FP_GPA + mem > 1ULL << kmmu_vm_phys_bits(vm)) {
		r = -E2BIG;
		snprintf(err, sizeof(err), "--mem too large for guest MAXPHYADDR %u",
			 kmmu_vm_phys_bits(vm));
		goto out;
	}
	sh = kmmu_vm_alloc_shared(vm, sizeof(*sh), &gva);
	r = sh ? __kmmu_vm_map(vm, FP_GPA, FP_GPA, mem, KMMU_MAP_WRITE | KMMU_MAP_NX |
			       (bk == FP_2M ? KMMU_MAP_HUGE : 0)) : -ENOMEM;
	if (r) {
		snprintf(err, sizeof(err), "guest mappings: %s", strerror(-r));
		goto out;
	}
	sh->page_size = ps;
	sh->part_size = part;
	h.sync = fp_sync;
	h.ctx = &c;
	kmmu_vm_set_handlers(vm, &h);
	r = kmmu_bench_vm_start(&fp_opts.b, vm, fp_guest, (void *)(uintptr_t)gva, err, sizeof(err));
	if (r)
		goto out;
	arrivals = n;
	r = kmmu_gate_wait(&c.gate, arrivals, vm, 60);
	if (r) {
		snprintf(err, sizeof(err), "vCPUs did not reach the start: %s",
			 r == -EIO ? kmmu_vm_errors(vm) : strerror(-r));
		goto out;
	}
	/*
	 * One sample first that is not recorded: the first faults of a VM
	 * also create its shadow pages / page-table pages for the image and
	 * the stacks, and a nested host warms its own paths.
	 */
	r = fp_one_sample(vm, &c, sh, n, bk, mem, &arrivals, &smp[0], err, sizeof(err));
	if (r)
		goto out;
	kmmu_bench_sampling_start(&sampling, &fp_opts.b);
	while ((s = kmmu_bench_next_sample(&sampling, (double *[]){ rate }, 1)) >= 0) {
		r = fp_one_sample(vm, &c, sh, n, bk, mem, &arrivals, &smp[s], err, sizeof(err));
		if (r)
			goto out;
		rate[s] = smp[s].rate;
		p2m[s] = smp[s].pages_2m;
		if (bk == FP_2M && smp[s].pages_final)
			ratio += (double)smp[s].pages_2m / smp[s].pages_final;
	}
	samples = sampling.n;
	ratio /= samples;
	kmmu_gate_open(&c.gate, FP_QUIT);
	r = __kmmu_vm_wait(vm, 30);
	if (r) {
		snprintf(err, sizeof(err), "vCPUs did not finish: %s",
			 r == -EIO ? kmmu_vm_errors(vm) : strerror(-r));
		goto out;
	}

	kmmu_result_param_reset(fp_opts.b.res);
	kmmu_result_param_int(fp_opts.b.res, "vcpus", n);
	kmmu_result_param_str(fp_opts.b.res, "backing", fp_backing_names[bk]);
	kmmu_result_param_int(fp_opts.b.res, "mem_mb", mem >> 20);
	kmmu_result_param_int(fp_opts.b.res, "duration_ms", (long long)(fp_opts.duration * 1000));
	kmmu_bench_sampling_record(&sampling, fp_opts.b.res);
	if (bk == FP_2M)
		kmmu_result_param_str(fp_opts.b.res, "kvm_mapped_2m",
				      !smp[0].stats ? "unknown" : ratio > 0.99 ? "all" :
				      ratio > 0 ? "partly" : "none");
	snprintf(label, sizeof(label), "vcpus=%d backing=%s", n, fp_backing_names[bk]);
	{
		double cv = kmmu_bench_metric(&fp_opts.b, label, "first_touch_pages_per_s",
					      "pages/s", KMMU_HIGHER_IS_BETTER, rate, samples);
		double med = kmmu_median(rate, samples);
		char mapped[32] = "-";

		if (smp[0].stats) {
			kmmu_result_metric(fp_opts.b.res, "kvm_pages_2m", "count",
					   KMMU_HIGHER_IS_BETTER, p2m, samples);
			if (bk == FP_2M)
				snprintf(mapped, sizeof(mapped), "%.0f%%", 100 * ratio);
		}
		printf("%6d %-7s %12.0f (%5.1f%%) %10.1f %10.3f %9s %8llu\n", n,
		       fp_backing_names[bk], med, cv, med * ps / (1 << 20),
		       med ? 1e6 * n / med : 0, mapped,
		       (unsigned long long)smp[samples / 2].pages);
		fflush(stdout);
	}
out:
	if (r)
		TH_LOG("vcpus=%d backing=%s: %s", n, fp_backing_names[bk], err);
	kmmu_vm_destroy(vm);
	kmmu_gate_destroy(&c.gate);
	free(smp);
	free(rate);
	free(p2m);
	return r;
}

KMMU_TEST_F(fault, bench, 600)
{
	char thp[32];
	int i, bk;
	uint64_t warm;
	double t;

	fp_thp_mode(thp, sizeof(thp));
	printf("# first touch of fresh anonymous memory, one store per page; THP %s; median (cv) over %d samples of at most %.3g s and %llu MiB per vCPU\n",
	       thp, fp_opts.b.samples, fp_opts.duration, (unsigned long long)fp_opts.mem_mb);
	printf("# %4s %-7s %21s %10s %10s %9s %8s\n", "vcpus", "backing", "pages/s",
	       "MiB/s", "us/page", "KVM 2M", "pages");
	warm = 0;
	for (i = 0; i < fp_opts.nr_vcpu_configs; i++)
		if ((fp_opts.mem_mb << 20) * fp_opts.vcpus[i] > warm)
			warm = (fp_opts.mem_mb << 20) * fp_opts.vcpus[i];
	if (warm > fp_opts.max_total) {
		warm = fp_opts.max_total;
		printf("# memory per sample capped to %llu MiB (half of MemAvailable)\n",
		       (unsigned long long)(warm >> 20));
	}
	t = kmmu_now();
	fp_warm_host(warm);
	printf("# host memory warmed: %llu MiB touched once in %.2f s\n",
	       (unsigned long long)(warm >> 20), kmmu_now() - t);
	for (bk = 0; bk < FP_NR_BACKINGS; bk++) {
		if (!fp_opts.backings[bk])
			continue;
		if (bk == FP_2M && !strcmp(thp, "never")) {
			printf("# skipped: backing=2m (transparent huge pages are off: %s)\n", thp);
			continue;
		}
		for (i = 0; i < fp_opts.nr_vcpu_configs; i++)
			ASSERT_EQ(0, fp_run_config(_metadata, fp_opts.vcpus[i], bk));
	}
}

static void fp_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--samples N] [--duration S] [--vcpus LIST] [--backing 4k|2m|both]\n"
		"          [--mem MB] [--cv-threshold PCT] [--result FILE] [-h]\n"
		"  --samples N        samples per configuration (default %d)\n"
		"  --duration S       at most S seconds per sample (default 1)\n"
		"  --vcpus LIST       vCPU counts, comma separated (default 1, 2, 4, ... up to the CPU count)\n"
		"  --backing KIND     4K pages, 2M (THP) pages or both (default both)\n"
		"  --mem MB           fresh memory per vCPU and sample (default 256; all vCPUs\n"
		"                     together at most half of MemAvailable)\n",
		prog, KMMU_BENCH_SAMPLES_DEFAULT);
}

_Static_assert(FP_4K == 0 && FP_2M == 1, "backings[FP_4K] and [FP_2M] are a pair");

/* The options of this benchmark alone (kmmu_bench_parse() does the rest). */
static const struct kmmu_opt fp_cli_opts[] = {
	KMMU_OPT_PAIR("backing", 0, fp_opts.backings, ((const char *const[]){ "4k", "2m" }),
		      "--backing wants 4k, 2m or both"),
	KMMU_OPT_U("mem", 0, fp_opts.mem_mb, 2, 1 << 20, KMMU_OPT_EVEN,
		   "--mem wants an even number of MiB from 2 to 1048576"),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "fault_perf_test";
	long ncpu, k;

	kmmu_bench_init_kvm(&fp_opts.b, fp_usage, fp_cli_opts);
	kmmu_bench_take(&fp_opts.b, &fp_opts.duration, fp_opts.vcpus, &fp_opts.nr_vcpu_configs,
			FP_MAX_CONFIGS);
	kmmu_bench_parse(&fp_opts.b, prog, &argc, argv);
	if (!fp_opts.nr_vcpu_configs) {
		ncpu = kmmu_bench_online_vcpus();
		for (k = 1; k < ncpu && fp_opts.nr_vcpu_configs < FP_MAX_CONFIGS - 1; k *= 2)
			fp_opts.vcpus[fp_opts.nr_vcpu_configs++] = k;
		fp_opts.vcpus[fp_opts.nr_vcpu_configs++] = ncpu;
	}

	fp_opts.max_total = fp_mem_available() / 2;
	KMMU_BENCH_HEADER(prog, "samples %d x %.3g s, mem %llu MiB per vCPU",
			  fp_opts.b.samples, fp_opts.duration,
			  (unsigned long long)fp_opts.mem_mb);
	KMMU_TEST_TIMEOUT(fault, bench, 120 + (int)(fp_opts.nr_vcpu_configs * 2 *
			  kmmu_bench_sampling_seconds(&fp_opts.b, fp_opts.duration + 2)));
	return test_harness_run(argc, argv);
}
