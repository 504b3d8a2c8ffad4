// SPDX-License-Identifier: GPL-2.0
/*
 * mmio_perf_test: MMIO exit round-trip latency and exit rate.
 *
 * Each vCPU runs a CPL3 guest that does nothing but 8-byte stores (or
 * loads) to its own page of guest physical memory that no memslot covers:
 * every access faults, KVM finds no memslot (or, where MMIO caching is on,
 * an MMIO SPTE), emulates the instruction and exits to userspace with
 * KVM_EXIT_MMIO; the vCPU thread completes it and re-enters.
 *
 * How latency is measured: on the host, in the MMIO handler, which runs on
 * the vCPU thread right after KVM_RUN returned.  The time between two
 * consecutive MMIO exits of one vCPU is one full round trip as the guest
 * sees it: exit to userspace, the handler, KVM_RUN, guest entry, the
 * guest's next access (a compare and a store: negligible), the fault, the
 * emulation, the exit.  Host-side clock_gettime() was chosen over a guest
 * RDTSC because it needs no TSC frequency (KVM may scale or offset the
 * guest TSC, and nested/PVM hosts emulate it) and works whatever CR4.TSD
 * the backend forces; its cost (vDSO, tens of ns) is in every interval
 * alike.  The first exit after each start is not a round trip and is not
 * counted.
 *
 * Per sample (--duration seconds, all vCPUs at once): the median and the
 * 99th percentile of all round trips of all vCPUs, and the exits per
 * second per vCPU.  Each metric gets --samples samples.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/bench.h"
#include "kmmu/bench_harness.h"
#include "kmmu/gate.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/result.h"
#include "kmmu/kvm_stats.h"

#define MP_MMIO_GPA	(KMMU_GPA_TEST + 0x10000000ULL)	/* mapped, never backed */
#define MP_MAX_CONFIGS	16
#define MP_MAX_DELTAS	(4u << 20)	/* per vCPU and sample; beyond: counted only */

enum mp_cmd { MP_QUIT, MP_WRITE, MP_READ };

static const char *const mp_kind_names[] = { [MP_WRITE] = "write", [MP_READ] = "read" };

struct mp_opts {
	struct kmmu_bench b;
	uint64_t vcpus[MP_MAX_CONFIGS];
	int nr_vcpu_configs;
	bool kinds[3];
	double duration;
};

static struct mp_opts mp_opts = {
	.kinds = { [MP_WRITE] = true, [MP_READ] = true },
	.duration = 1.0,
};

/* Guest-visible: one stop word per vCPU, each on its own cache line. */
struct mp_shared {
	struct {
		uint64_t stop;
		uint64_t pad[7];
	} vcpu[KMMU_MAX_VCPUS];
};

struct mp_vcpu {
	double start, prev, last;
	uint64_t exits;
	double *deltas;		/* seconds */
	uint32_t nr_deltas, cap;
	int kind;
};

struct mp_ctx {
	struct kmmu_gate gate;
	struct mp_shared *sh;
	struct mp_vcpu v[KMMU_MAX_VCPUS];
	double duration;
	bool bad_access;
};

/* ---- guest ---- */

static void mp_guest(uint32_t id, void *arg)
{
	struct mp_shared *sh = arg;
	volatile uint64_t *stop = &sh->vcpu[id].stop;
	volatile uint64_t *mmio = (volatile uint64_t *)(MP_MMIO_GPA + id * KMMU_PAGE_SIZE);
	uint64_t cmd, sink = 0;

	while ((cmd = GUEST_SYNC(0)) != MP_QUIT) {
		if (cmd == MP_WRITE) {
			while (!*stop)
				*mmio = ++sink;
		} else {
			while (!*stop)
				sink += *mmio;
		}
	}
}

/* ---- host ---- */

static int mp_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		   bool is_write, void *ctx)
{
	struct mp_ctx *c = ctx;
	int id = kmmu_vcpu_id(vcpu);
	struct mp_vcpu *v = &c->v[id];
	double t = kmmu_now();

	if (gpa != MP_MMIO_GPA + id * KMMU_PAGE_SIZE || len != 8 ||
	    is_write != (v->kind == MP_WRITE)) {
		kmmu_vcpu_fail(vcpu, "unexpected MMIO %s of %u bytes at gpa %#llx",
			       is_write ? "store" : "load", len, (unsigned long long)gpa);
		return -1;
	}
	if (!is_write)
		memset(data, 0x5a, len);
	if (v->prev > 0) {
		if (v->nr_deltas == v->cap && v->cap < MP_MAX_DELTAS) {
			uint32_t cap = v->cap ? 2 * v->cap : 65536;
			double *d = realloc(v->deltas, cap * sizeof(*d));

			if (d) {
				v->deltas = d;
				v->cap = cap;
			}
		}
		if (v->nr_deltas < v->cap)
			v->deltas[v->nr_deltas++] = t - v->prev;
		v->exits++;
		v->last = t;
	} else {
		v->start = t;
	}
	v->prev = t;
	if (t - v->start >= c->duration)
		__atomic_store_n(&c->sh->vcpu[id].stop, 1, __ATOMIC_RELEASE);
	return 0;
}

static uint64_t mp_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct mp_ctx *c = ctx;
	int id = kmmu_vcpu_id(vcpu);
	uint64_t cmd = kmmu_gate_arrive(&c->gate);

	/* Parked until the host opened the gate: set up this vCPU's sample. */
	c->v[id].kind = cmd;
	c->v[id].prev = 0;
	c->v[id].exits = 0;
	c->v[id].nr_deltas = 0;
	c->sh->vcpu[id].stop = 0;
	return cmd;
}

KMMU_BENCH_FIXTURE(mmio, mp_opts.b, "mmio_perf_test")

/* One VM with @n vCPUs: every kind, --samples samples each. */
static int mp_run_config(struct __test_metadata *_metadata, int n)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = n, .shared_size = sizeof(struct mp_shared) };
	struct kmmu_vm_handlers h = { 0 };
	int cap = kmmu_bench_max_samples(&mp_opts.b), samples, kind, s, v, r;
	struct kmmu_bench_sampling smp;
	struct kmmu_vm *vm = NULL;
	struct mp_ctx *c;
	uint64_t gva, arrivals = 0;
	char err[512], label[64];
	double *rate, *med, *p99;

	c = calloc(1, sizeof(*c));
	rate = calloc(cap, sizeof(double));
	med = calloc(cap, sizeof(double));
	p99 = calloc(cap, sizeof(double));
	if (!c || !rate || !med || !p99) {
		r = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	kmmu_gate_init(&c->gate);
	c->duration = mp_opts.duration;
	r = __kmmu_vm_create(&vm, &vo, err, sizeof(err));
	if (r)
		goto out;
	kmmu_result_host(mp_opts.b.res)->nr_memslots = kmmu_vm_nr_slots(vm);
	c->sh = kmmu_vm_alloc_shared(vm, sizeof(*c->sh), &gva);
	r = c->sh ? __kmmu_vm_map(vm, MP_MMIO_GPA, MP_MMIO_GPA, n * KMMU_PAGE_SIZE,
				  KMMU_MAP_WRITE | KMMU_MAP_NX) : -ENOMEM;
	if (r) {
		snprintf(err, sizeof(err), "guest mappings: %s", strerror(-r));
		goto out;
	}
	h.mmio = mp_mmio;
	h.sync = mp_sync;
	h.ctx = c;
	kmmu_vm_set_handlers(vm, &h);
	r = kmmu_bench_vm_start(&mp_opts.b, vm, mp_guest, (void *)(uintptr_t)gva, err, sizeof(err));
	if (r)
		goto out;
	/* Every vCPU parks at the gate before each sample (see mp_guest). */
	arrivals = n;
	r = kmmu_gate_wait(&c->gate, arrivals, vm, 60);
	if (r) {
		snprintf(err, sizeof(err), "vCPUs did not reach the start: %s",
			 r == -EIO ? kmmu_vm_errors(vm) : strerror(-r));
		goto out;
	}
	for (kind = MP_WRITE; kind <= MP_READ; kind++) {
		if (!mp_opts.kinds[kind])
			continue;
		/*
		 * Warm-up, not recorded: the first exits of a kind create
		 * shadow pages (and MMIO SPTEs where cached) and fault in the
		 * handler's buffers.
		 */
		c->duration = mp_opts.duration / 5;
		kmmu_gate_open(&c->gate, kind);
		arrivals += n;
		r = kmmu_gate_wait(&c->gate, arrivals, vm, 60 + 2 * c->duration);
		c->duration = mp_opts.duration;
		if (r) {
			snprintf(err, sizeof(err), "vCPUs did not finish the warm-up: %s",
				 r == -EIO ? kmmu_vm_errors(vm) : strerror(-r));
			goto out;
		}
		kmmu_bench_sampling_start(&smp, &mp_opts.b);
		while ((s = kmmu_bench_next_sample(&smp, (double *[]){ rate, med, p99 }, 3)) >= 0) {
			double *all, sum_rate = 0;
			size_t nr_all = 0;

			kmmu_gate_open(&c->gate, kind);
			arrivals += n;
			r = kmmu_gate_wait(&c->gate, arrivals, vm, 60 + 2 * c->duration);
			if (r) {
				snprintf(err, sizeof(err), "vCPUs did not finish the sample: %s",
					 r == -EIO ? kmmu_vm_errors(vm) : strerror(-r));
				goto out;
			}
			/* All vCPUs parked again: their counters are stable. */
			for (v = 0; v < n; v++)
				nr_all += c->v[v].nr_deltas;
			all = malloc((nr_all ? nr_all : 1) * sizeof(*all));
			if (!all) {
				r = -ENOMEM;
				snprintf(err, sizeof(err), "out of memory");
				goto out;
			}
			nr_all = 0;
			for (v = 0; v < n; v++) {
				struct mp_vcpu *pv = &c->v[v];

				memcpy(all + nr_all, pv->deltas, pv->nr_deltas * sizeof(*all));
				nr_all += pv->nr_deltas;
				if (pv->last > pv->start)
					sum_rate += pv->exits / (pv->last - pv->start);
			}
			if (!nr_all) {
				free(all);
				r = -EIO;
				snprintf(err, sizeof(err), "no MMIO round trip measured");
				goto out;
			}
			rate[s] = sum_rate / n;
			med[s] = 1e6 * kmmu_percentile(all, nr_all, 50);
			p99[s] = 1e6 * kmmu_percentile(all, nr_all, 99);
			free(all);
		}
		kmmu_result_param_reset(mp_opts.b.res);
		kmmu_result_param_int(mp_opts.b.res, "vcpus", n);
		kmmu_result_param_str(mp_opts.b.res, "access", mp_kind_names[kind]);
		kmmu_result_param_int(mp_opts.b.res, "duration_ms", (long long)(c->duration * 1000));
		kmmu_bench_sampling_record(&smp, mp_opts.b.res);
		samples = smp.n;
		snprintf(label, sizeof(label), "vcpus=%d access=%s", n, mp_kind_names[kind]);
		{
			double cv_r, cv_m, cv_p;

			cv_r = kmmu_bench_metric(&mp_opts.b, label, "mmio_exits_per_s_per_vcpu",
						 "exits/s", KMMU_HIGHER_IS_BETTER, rate, samples);
			cv_m = kmmu_bench_metric(&mp_opts.b, label, "mmio_roundtrip_median",
						 "us", KMMU_LOWER_IS_BETTER, med, samples);
			cv_p = kmmu_bench_metric(&mp_opts.b, label, "mmio_roundtrip_p99",
						 "us", KMMU_LOWER_IS_BETTER, p99, samples);
			printf("%6d %-6s %12.0f (%5.1f%%) %10.2f (%5.1f%%) %10.2f (%5.1f%%)\n", n,
			       mp_kind_names[kind], kmmu_median(rate, samples), cv_r,
			       kmmu_median(med, samples), cv_m, kmmu_median(p99, samples), cv_p);
			fflush(stdout);
		}
	}
	kmmu_gate_open(&c->gate, MP_QUIT);
	r = __kmmu_vm_wait(vm, 30);
	if (r)
		snprintf(err, sizeof(err), "vCPUs did not finish: %s",
			 r == -EIO ? kmmu_vm_errors(vm) : strerror(-r));
out:
	if (r)
		TH_LOG("vcpus=%d: %s", n, err);
	if (vm && r)
		kmmu_vm_stop(vm);
	kmmu_vm_destroy(vm);
	if (c) {
		for (v = 0; v < KMMU_MAX_VCPUS; v++)
			free(c->v[v].deltas);
		kmmu_gate_destroy(&c->gate);
	}
	free(c);
	free(rate);
	free(med);
	free(p99);
	return r;
}

KMMU_TEST_F(mmio, bench, 600)
{
	int i;

	printf("# round trip = time between consecutive MMIO exits of a vCPU (host clock); median (cv over %d samples of %.3g s)\n",
	       mp_opts.b.samples, mp_opts.duration);
	printf("# %4s %-6s %21s %19s %19s\n", "vcpus", "access", "exits/s/vcpu",
	       "median us", "p99 us");
	for (i = 0; i < mp_opts.nr_vcpu_configs; i++)
		ASSERT_EQ(0, mp_run_config(_metadata, mp_opts.vcpus[i]));
}

static void mp_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--samples N] [--duration S] [--vcpus LIST] [--access write|read|both]\n"
		"          [--cv-threshold PCT] [--result FILE] [-h]\n"
		"  --samples N        samples per metric (default %d)\n"
		"  --duration S       seconds per sample (default 1)\n"
		"  --vcpus LIST       vCPU counts, comma separated (default 1 and the CPU count, max %d)\n"
		"  --access KIND      MMIO stores, loads or both (default both)\n",
		prog, KMMU_BENCH_SAMPLES_DEFAULT, KMMU_MAX_VCPUS);
}

_Static_assert(MP_READ == MP_WRITE + 1, "kinds[MP_WRITE] and [MP_READ] are a pair");

/* --access, this benchmark's one option (kmmu_bench_parse() does the rest). */
static const struct kmmu_opt mp_cli_opts[] = {
	KMMU_OPT_PAIR("access", 0, &mp_opts.kinds[MP_WRITE], ((const char *const[]){ "write", "read" }),
		      "--access wants write, read or both"),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "mmio_perf_test";
	long ncpu;

	kmmu_bench_init_kvm(&mp_opts.b, mp_usage, mp_cli_opts);
	kmmu_bench_take(&mp_opts.b, &mp_opts.duration, mp_opts.vcpus, &mp_opts.nr_vcpu_configs,
			MP_MAX_CONFIGS);
	kmmu_bench_parse(&mp_opts.b, prog, &argc, argv);
	if (!mp_opts.nr_vcpu_configs) {
		ncpu = kmmu_bench_online_vcpus();
		mp_opts.vcpus[mp_opts.nr_vcpu_configs++] = 1;
		if (ncpu > 1)
			mp_opts.vcpus[mp_opts.nr_vcpu_configs++] = ncpu;
	}

	KMMU_BENCH_HEADER(prog, "samples %d x %.3g s, access %s",
			  mp_opts.b.samples, mp_opts.duration,
			  mp_opts.kinds[MP_WRITE] && mp_opts.kinds[MP_READ] ? "both" :
			  mp_opts.kinds[MP_WRITE] ? "write" : "read");
	KMMU_TEST_TIMEOUT(mmio, bench, 120 + (int)(mp_opts.nr_vcpu_configs * 2 *
			  kmmu_bench_sampling_seconds(&mp_opts.b, mp_opts.duration + 1)));
	return test_harness_run(argc, argv);
}
