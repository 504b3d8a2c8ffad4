// SPDX-License-Identifier: GPL-2.0
/*
 * Fault-path throughput of the reference MMU: guest accesses that create
 * new mappings in a fresh VM spread over many memslots (4K, and 2M where
 * slots allow it, in sequential and random gfn order), accesses with no
 * memslot that install MMIO SPTEs, and accesses that hit those MMIO SPTEs
 * while their generation is current.  Only the fault loop is timed; every
 * sample uses a fresh VM.  Prints a table and writes the result file;
 * never asserts on time.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-memb.h>

#include <kmmu/clock.h>
#include <kmmu/mmu.h>
#include <kmmu/host_probe.h>
#include <kmmu/result.h>
#include <kmmu/zap.h>

#include "bench_args.h"

#define NR_SLOTS	64
#define SLOT_PAGES	2048ul			/* 8 MiB */
#define SLOT_STRIDE	(16ull << 20)		/* gpa/hva distance between slots */
#define HVA_BASE	0x7f0000000000ull
#define NR_FAULTS	(NR_SLOTS * SLOT_PAGES)
#define ROUNDS_2M	128

enum workload { MAP_4K_SEQ, MAP_4K_RANDOM, MAP_2M, MMIO_CREATE, MMIO_CACHED, NR_WORKLOADS };

static const struct {
	const char *metric;
	const char *desc;
	enum kmmu_fault_result want;
} workloads[NR_WORKLOADS] = {
	[MAP_4K_SEQ] = { "fault_map_4k_seq", "new 4K mappings, sequential",
			 KMMU_FAULT_MAPPED_4K },
	[MAP_4K_RANDOM] = { "fault_map_4k_random", "new 4K mappings, random",
			    KMMU_FAULT_MAPPED_4K },
	[MAP_2M] = { "fault_map_2m", "new 2M mappings (x128 fast zaps)", KMMU_FAULT_MAPPED_2M },
	[MMIO_CREATE] = { "fault_mmio_spte_create", "no slot: MMIO SPTE created",
			  KMMU_FAULT_MMIO_SPTE },
	[MMIO_CACHED] = { "fault_mmio_spte_cached", "MMIO SPTE hit (current gen)",
			  KMMU_FAULT_MMIO_CACHED },
};

static gfn_t *order_seq, *order_rand, *order_2m;
static unsigned long nr_2m;

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int make_orders(void)
{
	uint64_t rs = 0x9e3779b97f4a7c15ull;
	unsigned long i, s, p;

	order_seq = calloc(NR_FAULTS, sizeof(gfn_t));
	order_rand = calloc(NR_FAULTS, sizeof(gfn_t));
	order_2m = calloc(NR_FAULTS, sizeof(gfn_t));
	if (!order_seq || !order_rand || !order_2m)
		return -ENOMEM;
	for (s = 0, i = 0; s < NR_SLOTS; s++)
		for (p = 0; p < SLOT_PAGES; p++, i++)
			order_seq[i] = (s * SLOT_STRIDE >> 12) + p;
	memcpy(order_rand, order_seq, NR_FAULTS * sizeof(gfn_t));
	for (i = NR_FAULTS - 1; i > 0; i--) {
		unsigned long j = rng(&rs) % (i + 1);
		gfn_t t = order_rand[i];

		order_rand[i] = order_rand[j];
		order_rand[j] = t;
	}
	/* One access per 2M frame. */
	for (i = 0; i < NR_FAULTS; i += 512)
		order_2m[nr_2m++] = order_seq[i] + 7;
	return 0;
}

/* A fresh VM with the slots (or none, for MMIO workloads). */
static int setup(struct kmmu_ref_vm **vmp, bool huge, bool slots)
{
	struct kmmu_ref_vm_config cfg;
	unsigned long s;
	int r;

	kmmu_ref_vm_config_default(&cfg);
	cfg.host_huge_pages = huge;
	r = kmmu_ref_vm_create(vmp, &cfg);
	if (r || !slots)
		return r;
	for (s = 0; s < NR_SLOTS; s++) {
		r = kmmu_ref_vm_set_memory_region(*vmp, s, 0, s * SLOT_STRIDE, SLOT_PAGES << 12,
						  HVA_BASE + s * SLOT_STRIDE);
		if (r) {
			kmmu_ref_vm_destroy(*vmp);
			return r;
		}
	}
	return 0;
}

static int run_faults(struct kmmu_ref_vm *vm, const gfn_t *order, unsigned long n,
		      enum kmmu_fault_result want, double *secs)
{
	struct kmmu_fault f;
	unsigned long i;
	double t0;
	int r;

	t0 = kmmu_now();
	for (i = 0; i < n; i++) {
		r = kmmu_page_fault(vm, 0, 0, order[i], 0, &f);
		if (r)
			return r;
		if (f.result != want)
			return -EPROTO;
	}
	*secs = kmmu_now() - t0;
	return 0;
}

/* One sample of @w: faults per second. */
static int sample(enum workload w, double *fps)
{
	struct kmmu_ref_vm *vm;
	const gfn_t *order = order_seq;
	unsigned long n = NR_FAULTS;
	double secs = 0;
	unsigned int i;
	int r;

	switch (w) {
	case MAP_4K_SEQ:
	case MAP_4K_RANDOM:
		r = setup(&vm, false, true);
		order = w == MAP_4K_SEQ ? order_seq : order_rand;
		break;
	case MAP_2M:
		/*
		 * Only nr_2m frames exist: map them, fast-zap (untimed) and map
		 * them again, so that the sample is long enough to time.
		 */
		r = setup(&vm, true, true);
		for (i = 0; !r && i < ROUNDS_2M; i++) {
			double t;

			r = run_faults(vm, order_2m, nr_2m, KMMU_FAULT_MAPPED_2M, &t);
			kmmu_mmu_zap_all_fast(vm);
			secs += t;
		}
		if (r)
			goto out;
		kmmu_ref_vm_destroy(vm);
		*fps = (double)nr_2m * ROUNDS_2M / secs;
		return 0;
	default:
		/* No slots: the same gfns are all MMIO. */
		r = setup(&vm, true, false);
		if (!r && w == MMIO_CACHED)
			r = run_faults(vm, order, n, KMMU_FAULT_MMIO_SPTE, &secs);
		break;
	}
	if (r)
		return r;
	r = run_faults(vm, order, n, workloads[w].want, &secs);
out:
	kmmu_ref_vm_destroy(vm);
	if (r)
		return r;
	*fps = n / secs;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [--samples N] [--result FILE] [-h]\n"
		"  Fault-path throughput of the reference MMU (faults/s).\n"
		"  -s, --samples N   samples per workload (1..1000, default 5)\n"
		"  -r, --result FILE write the kmmu-result/1 document to FILE\n"
		"                    (default: $KMMU_RESULT, or none)\n"
		"  -h, --help        this help\n", prog);
}

int main(int argc, char **argv)
{
	const char *result_path = NULL;
	double v[1000];
	long samples = 5;
	struct kmmu_result *res;
	int r, rc = 0;
	unsigned int w;
	const struct bench_int_option opts[] = {
		{ "samples", 's', &samples, 1, 1000 },
	};

	bench_parse_options(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), &result_path, usage);

	res = kmmu_result_new("mmu_bench");
	if (!res || make_orders()) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	urcu_memb_register_thread();
	bench_print_host("mmu_bench", res);
	printf("# reference MMU fault path, %d slots x %lu pages, %ld samples, fresh VM per sample\n",
	       NR_SLOTS, SLOT_PAGES, samples);
	printf("%-24s %-30s %9s %12s %12s %12s %6s\n", "metric", "workload", "faults",
	       "median M/s", "min M/s", "max M/s", "cv");

	for (w = 0; w < NR_WORKLOADS; w++) {
		double mn = 0, mx = 0;
		long i;

		for (i = 0; i < samples; i++) {
			r = sample(w, &v[i]);
			if (r) {
				fprintf(stderr, "%s: %s: %s\n", argv[0], workloads[w].metric,
					r == -EPROTO ? "unexpected fault outcome" : strerror(-r));
				rc = 1;
				goto out;
			}
			if (!i || v[i] < mn)
				mn = v[i];
			if (!i || v[i] > mx)
				mx = v[i];
		}
		printf("%-24s %-30s %9lu %12.2f %12.2f %12.2f %5.1f%%\n", workloads[w].metric,
		       workloads[w].desc, w == MAP_2M ? nr_2m * ROUNDS_2M : (unsigned long)NR_FAULTS,
		       kmmu_median(v, samples) / 1e6, mn / 1e6, mx / 1e6,
		       100 * kmmu_cv(v, samples));
		kmmu_result_param_reset(res);
		/* The MMIO workloads fault on the same gfns with no slots at all. */
		kmmu_result_param_int(res, "slots", w >= MMIO_CREATE ? 0 : NR_SLOTS);
		kmmu_result_param_int(res, "slot_pages", SLOT_PAGES);
		kmmu_result_param_int(res, "faults", w == MAP_2M ? nr_2m * ROUNDS_2M : NR_FAULTS);
		kmmu_result_param_str(res, "workload", workloads[w].desc);
		r = kmmu_result_metric(res, workloads[w].metric, "faults/s",
				       KMMU_HIGHER_IS_BETTER, v, samples);
		if (r) {
			fprintf(stderr, "%s: recording %s: %s\n", argv[0], workloads[w].metric,
				strerror(-r));
			rc = 1;
			goto out;
		}
	}
out:
	rc |= bench_finish_result(argv[0], res, result_path);
	urcu_memb_unregister_thread();
	free(order_seq);
	free(order_rand);
	free(order_2m);
	return rc;
}
