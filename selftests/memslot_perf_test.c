// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_perf_test: the operations of upstream's memslot_perf_test
 * (tools/testing/selftests/kvm) with many memslots, guests at CPL3.
 *
 * For each slot count (--slots) one VM gets a test area of P pages split
 * into that many memslots: all but the last get the same number of pages,
 * the last (the one the move operations move) the rest, at least
 * MS_MOVE_SLOT_MIN pages.  P is 64 MiB, or more when the slot count needs
 * it (every slot at least one page).  The guest maps the area 4K, GVA ==
 * GPA; the host backs it with one anonymous mapping (MADV_NOHUGEPAGE, so
 * that unmapping a page does not split a huge page and KVM maps 4K).
 *
 * Operations, each timed per iteration, iterations repeated for
 * --duration seconds per sample (at least one); a sample is the median
 * iteration time of the sample:
 *   map        the guest first-touches --map-pages pages spread evenly over
 *              one half of the area while the host unmaps
 *              (MADV_DONTNEED, one call per memslot) the other half; then
 *              the halves swap.  Faults on fresh memory vs. MMU-notifier
 *              invalidations, both looking up memslots.
 *   unmap      the guest touches one page of a half; the host unmaps the
 *              half page by page: one MMU-notifier invalidation per 4K.
 *   unmap-chunked  the same in 2 MiB chunks.
 *   move-active    the guest keeps writing MS_MOVE_PAGES pages, the second
 *              half of which lies in the last memslot; the host moves that
 *              slot away and back (a pair of KVM_SET_USER_MEMORY_REGION).
 *              While it is away the guest's stores exit as MMIO.
 *   move-inactive  the same, with the guest's pages all below the slot.
 *   rw         the host writes a value into every page, the guest writes
 *              another into every page and checks the host's; the host
 *              checks the guest's.  All pages stay mapped (a first
 *              iteration, not timed, maps them): memory access across
 *              many slots.
 * Plus slot setup: the time to add all the slots, and the time per slot
 * to re-add the last up to 1024 of them (see ms_setup_slots()).
 *
 * Differences to upstream: the guest runs at CPL3 and the host and guest
 * synchronize through the runtime's ucall (an MMIO exit) and a gate that
 * parks the vCPU thread (kmmu/gate.h) instead of spinning on shared
 * memory, because on a host with one or two CPUs a spinning waiter takes
 * the CPU from the side it waits for; the ucall costs one exit per phase,
 * small against a phase.  Sizes are smaller (64 MiB instead of 512 MiB,
 * 2048 pages mapped per map iteration instead of 8192) so that a run fits
 * the time a nested KVM has.  One VM serves all operations of a slot
 * count, so the slots are set up once.
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

#define MS_PAGE			4096ULL
#define MS_GPA			KMMU_GPA_TEST
#define MS_AREA_MIN_PAGES	16384ULL	/* 64 MiB */
#define MS_MOVE_SLOT_MIN	64ULL		/* pages of the moved (last) slot */
#define MS_MOVE_PAGES		32ULL		/* pages the move guests write */
#define MS_CHUNK_PAGES		512ULL		/* unmap-chunked: 2 MiB */
#define MS_MAX_CONFIGS		16
#define MS_VAL_GUEST		0x1122334455667788ULL
#define MS_VAL_HOST		0x99aabbccddeeff00ULL

enum ms_op { MS_MAP, MS_UNMAP, MS_UNMAP_CHUNKED, MS_MOVE_ACTIVE, MS_MOVE_INACTIVE,
	     MS_RW, MS_NR_OPS };
static const char *const ms_op_names[] = {
	"map", "unmap", "unmap-chunked", "move-active", "move-inactive", "rw",
};

enum ms_cmd { MS_CMD_QUIT, MS_CMD_WRITE, MS_CMD_SPIN, MS_CMD_RW };

struct ms_opts {
	struct kmmu_bench b;
	uint64_t slots[MS_MAX_CONFIGS];
	int nr_slot_configs;
	bool ops[MS_NR_OPS];
	double duration;
	uint64_t map_pages;
};

static struct ms_opts ms_opts = {
	.duration = 1.0,
	.map_pages = 2048,
};

/* Guest's orders: what the next command works on. */
struct ms_shared {
	uint64_t gva;		/* first page */
	uint64_t count;		/* pages */
	uint64_t stride;	/* bytes between pages */
	uint64_t stop;		/* MS_CMD_SPIN: host says stop */
	uint64_t spins;		/* MS_CMD_SPIN: passes done */
};

struct ms_ctx {
	struct kmmu_gate gate;
	uint64_t arrivals;
	struct kmmu_vm *vm;
	struct ms_shared *sh;
	uint8_t *mem;		/* host view of the area */
	uint64_t pages, nr_slots, pps, last_first;	/* last slot: pages from last_first */
	uint64_t move_dest;
	uint64_t mmio_lo, mmio_hi;	/* GPAs where MMIO is expected now */
	uint64_t mmio_exits;
	double *iter;		/* seconds per iteration of the current sample */
	long cap;
	long *iters;		/* iterations per sample */
};

/* ---- guest ---- */

static void ms_guest(uint32_t id, void *arg)
{
	struct ms_shared *sh = arg;
	uint64_t cmd, i;

	while ((cmd = GUEST_SYNC(0)) != MS_CMD_QUIT) {
		uint64_t gva = sh->gva, n = sh->count, stride = sh->stride;

		switch (cmd) {
		case MS_CMD_WRITE:
			for (i = 0; i < n; i++)
				*(volatile uint64_t *)(gva + i * stride) = MS_VAL_GUEST;
			break;
		case MS_CMD_SPIN:
			while (!*(volatile uint64_t *)&sh->stop) {
				for (i = 0; i < n; i++)
					*(volatile uint64_t *)(gva + i * stride) = MS_VAL_GUEST;
				sh->spins++;
			}
			break;
		case MS_CMD_RW:
			for (i = 0; i < n; i++)
				*(volatile uint64_t *)(gva + i * MS_PAGE) = MS_VAL_GUEST;
			for (i = 0; i < n; i++) {
				volatile uint64_t *p = (volatile uint64_t *)(gva + i * MS_PAGE +
									      MS_PAGE / 2);

				if (*p != MS_VAL_HOST)
					GUEST_FAIL("page %lu holds %#lx at offset 2048, the host wrote %#lx",
						   i, *p, MS_VAL_HOST);
				*p = 0;
			}
			break;
		default:
			GUEST_FAIL("unknown command %lu", cmd);
		}
	}
}

/* ---- host ---- */

static uint64_t ms_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct ms_ctx *c = ctx;

	return kmmu_gate_arrive(&c->gate);
}

static int ms_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		   bool is_write, void *ctx)
{
	struct ms_ctx *c = ctx;

	if (!is_write || len != 8 || gpa < c->mmio_lo || gpa >= c->mmio_hi) {
		kmmu_vcpu_fail(vcpu, "unexpected MMIO %s of %u bytes at gpa %#llx (expected only stores to [%#llx, %#llx))",
			       is_write ? "store" : "load", len, (unsigned long long)gpa,
			       (unsigned long long)c->mmio_lo, (unsigned long long)c->mmio_hi);
		return -1;
	}
	c->mmio_exits++;
	return 0;
}

/* The guest is parked at the gate: give it @cmd (it runs while we return). */
static void ms_cmd(struct ms_ctx *c, enum ms_cmd cmd, uint64_t first_page, uint64_t count,
		   uint64_t stride_pages)
{
	c->sh->gva = MS_GPA + first_page * MS_PAGE;
	c->sh->count = count;
	c->sh->stride = stride_pages * MS_PAGE;
	c->sh->stop = 0;
	kmmu_gate_open(&c->gate, cmd);
	c->arrivals++;
}

/* Waits until the guest finished its command and parked again. */
static int ms_wait(struct ms_ctx *c, char *err, size_t len)
{
	int r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 300);

	if (r)
		snprintf(err, len, "guest did not finish its command: %s",
			 r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return r;
}

static uint64_t ms_slot_first(struct ms_ctx *c, uint64_t i)
{
	return i * c->pps;
}

static uint64_t ms_slot_of(struct ms_ctx *c, uint64_t page)
{
	uint64_t i = page / c->pps;

	return i < c->nr_slots - 1 ? i : c->nr_slots - 1;
}

/*
 * MADV_DONTNEED of @n pages from @first, one call per @chunk pages and
 * never across a memslot boundary (like upstream: an invalidation per
 * call, each for one slot).
 */
static int ms_unmap(struct ms_ctx *c, uint64_t first, uint64_t n, uint64_t chunk,
		    char *err, size_t len)
{
	uint64_t p = first, end = first + n;

	while (p < end) {
		uint64_t s = ms_slot_of(c, p);
		uint64_t slot_end = s == c->nr_slots - 1 ? c->pages : ms_slot_first(c, s + 1);
		uint64_t k = slot_end - p;

		if (k > chunk)
			k = chunk;
		if (k > end - p)
			k = end - p;
		if (madvise(c->mem + p * MS_PAGE, k * MS_PAGE, MADV_DONTNEED)) {
			snprintf(err, len, "madvise(MADV_DONTNEED) of pages %llu+%llu: %s",
				 (unsigned long long)p, (unsigned long long)k, strerror(errno));
			return -errno;
		}
		p += k;
	}
	return 0;
}

/* One iteration of @op; 0 or -errno with @err. */
static int ms_iteration(struct ms_ctx *c, enum ms_op op, char *err, size_t len)
{
	uint64_t half = c->pages / 2, n, stride, i;
	uint64_t chunk = op == MS_UNMAP ? 1 : MS_CHUNK_PAGES;
	uint32_t slot = KMMU_SLOT_FIRST_FREE + c->nr_slots - 1;
	uint64_t *w;
	int r;

	switch (op) {
	case MS_MAP:
		n = ms_opts.map_pages / 2;
		if (n > half)
			n = half;
		stride = half / n;
		ms_cmd(c, MS_CMD_WRITE, 0, n, stride);
		r = ms_unmap(c, half, c->pages - half, ~0ULL, err, len);
		if (!r)
			r = ms_wait(c, err, len);
		if (r)
			return r;
		ms_cmd(c, MS_CMD_WRITE, half, n, stride);
		r = ms_unmap(c, 0, half, ~0ULL, err, len);
		return r ? r : ms_wait(c, err, len);
	case MS_UNMAP:
	case MS_UNMAP_CHUNKED:
		/* The guest maps a page of one half while the host unmaps the other. */
		ms_cmd(c, MS_CMD_WRITE, half, 1, 1);
		r = ms_unmap(c, 0, half, chunk, err, len);
		if (!r)
			r = ms_wait(c, err, len);
		if (r)
			return r;
		ms_cmd(c, MS_CMD_WRITE, 0, 1, 1);
		r = ms_unmap(c, half, c->pages - half, chunk, err, len);
		return r ? r : ms_wait(c, err, len);
	case MS_MOVE_ACTIVE:
	case MS_MOVE_INACTIVE:
		r = kmmu_slot_move(c->vm, slot, c->move_dest);
		if (!r)
			r = kmmu_slot_move(c->vm, slot, MS_GPA + c->last_first * MS_PAGE);
		if (r)
			snprintf(err, len, "moving memslot %u: %s", slot, strerror(-r));
		return r;
	case MS_RW:
		for (i = 0; i < c->pages; i++)
			((uint64_t *)(c->mem + i * MS_PAGE))[MS_PAGE / 16] = MS_VAL_HOST;
		ms_cmd(c, MS_CMD_RW, 0, c->pages, 1);
		r = ms_wait(c, err, len);
		if (r)
			return r;
		for (i = 0; i < c->pages; i++) {
			w = (uint64_t *)(c->mem + i * MS_PAGE);
			if (*w != MS_VAL_GUEST) {
				snprintf(err, len, "page %llu holds %#llx, the guest wrote %#llx",
					 (unsigned long long)i, (unsigned long long)*w,
					 MS_VAL_GUEST);
				return -EIO;
			}
			*w = 0;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

/* Runs @op for the samples @sampling hands out; @per_iter gets ms per iteration. */
static int ms_run_op(struct ms_ctx *c, enum ms_op op, double *per_iter,
		     struct kmmu_bench_sampling *sampling, char *err, size_t len)
{
	uint64_t src = MS_GPA + c->last_first * MS_PAGE, first;
	bool move = op == MS_MOVE_ACTIVE || op == MS_MOVE_INACTIVE;
	double t_warm;
	int s, r = 0;

	/* Every operation starts from an unmapped area. */
	if (madvise(c->mem, c->pages * MS_PAGE, MADV_DONTNEED)) {
		snprintf(err, len, "madvise: %s", strerror(errno));
		return -errno;
	}
	if (move) {
		/* Active: half below the slot, half in it; inactive: all below. */
		first = c->last_first - (op == MS_MOVE_ACTIVE ? MS_MOVE_PAGES / 2 : MS_MOVE_PAGES);
		c->mmio_lo = op == MS_MOVE_ACTIVE ? src : 0;
		c->mmio_hi = op == MS_MOVE_ACTIVE ? src + MS_MOVE_PAGES / 2 * MS_PAGE : 0;
		c->sh->spins = 0;
		ms_cmd(c, MS_CMD_SPIN, first, MS_MOVE_PAGES, 1);
	}
	/*
	 * Iterations not timed, for a quarter of --duration (at least one):
	 * they create the shadow pages (or TDP tables) the operation needs,
	 * for rw map every page, for the moves let the guest fault its pages
	 * in, and warm whatever the host caches.
	 */
	t_warm = kmmu_now();
	do
		r = ms_iteration(c, op, err, len);
	while (!r && kmmu_now() - t_warm < ms_opts.duration / 4);
	kmmu_bench_sampling_start(sampling, &ms_opts.b);
	while (!r && (s = kmmu_bench_next_sample(sampling, &per_iter, 1)) >= 0) {
		double t0 = kmmu_now(), t1 = t0, t;
		long iters = 0;

		do {
			r = ms_iteration(c, op, err, len);
			t = kmmu_now();
			if (iters == c->cap) {
				long cap = c->cap ? 2 * c->cap : 4096;
				double *v = realloc(c->iter, cap * sizeof(*v));

				if (!v) {
					r = -ENOMEM;
					snprintf(err, len, "out of memory");
					break;
				}
				c->iter = v;
				c->cap = cap;
			}
			c->iter[iters++] = t - t1;
			t1 = t;
		} while (!r && t - t0 < ms_opts.duration);
		/*
		 * The median iteration of the sample: an iteration during
		 * which the host descheduled us (on a host with few CPUs the
		 * vCPU thread itself competes with this one) does not move it.
		 */
		per_iter[s] = 1e3 * kmmu_median(c->iter, iters);
		c->iters[s] = iters;
	}
	if (move) {
		__atomic_store_n(&c->sh->stop, 1, __ATOMIC_RELEASE);
		if (!r)
			r = ms_wait(c, err, len);
		c->mmio_lo = c->mmio_hi = 0;
	}
	return r;
}

KMMU_BENCH_FIXTURE(memslot, ms_opts.b, "memslot_perf_test")

static void ms_params(struct ms_ctx *c, const char *op)
{
	struct kmmu_result *res = ms_opts.b.res;

	kmmu_result_param_reset(res);
	kmmu_result_param_int(res, "slots", c->nr_slots);
	kmmu_result_param_str(res, "op", op);
	kmmu_result_param_int(res, "area_pages", c->pages);
	kmmu_result_param_int(res, "pages_per_slot", c->pps);
}

static int ms_add_slots(struct ms_ctx *c, uint64_t from, uint64_t to, char *err, size_t len)
{
	uint64_t i;
	int r;

	for (i = from; i < to; i++) {
		uint64_t first = ms_slot_first(c, i);
		uint64_t np = i == c->nr_slots - 1 ? c->pages - first : c->pps;

		r = __kmmu_slot_add(c->vm, KMMU_SLOT_FIRST_FREE + i, MS_GPA + first * MS_PAGE,
				    np * MS_PAGE, c->mem + first * MS_PAGE, 0);
		if (r) {
			snprintf(err, len, "adding memslot %llu of %llu: %s",
				 (unsigned long long)i + 1, (unsigned long long)c->nr_slots,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

/*
 * Adds the slots; records the time of that fill (slot_setup_total, one
 * sample) and the time per slot added to a VM that already has about
 * that many (slot_setup_per_slot): --samples times, the last
 * MS_SETUP_REFILL slots (all, if fewer) are deleted (not timed) and added
 * again (timed).  Cutting the one fill into parts instead would mix the
 * growth of the cost with the slot count into the noise.
 */
#define MS_SETUP_REFILL		1024

static int ms_setup_slots(struct ms_ctx *c, char *err, size_t len)
{
	int cap = kmmu_bench_max_samples(&ms_opts.b), samples, s, r;
	uint64_t k = c->nr_slots < MS_SETUP_REFILL ? c->nr_slots : MS_SETUP_REFILL;
	struct kmmu_bench_sampling sampling;
	uint64_t from = c->nr_slots - k, i;
	double *per_slot, total, cv, t0;
	char label[64];

	per_slot = calloc(cap, sizeof(*per_slot));
	if (!per_slot)
		return -ENOMEM;
	t0 = kmmu_now();
	r = ms_add_slots(c, 0, c->nr_slots, err, len);
	total = kmmu_now() - t0;
	kmmu_bench_sampling_start(&sampling, &ms_opts.b);
	while (!r && (s = kmmu_bench_next_sample(&sampling, &per_slot, 1)) >= 0) {
		for (i = from; i < c->nr_slots && !r; i++)
			r = kmmu_slot_delete(c->vm, KMMU_SLOT_FIRST_FREE + i);
		if (r) {
			snprintf(err, len, "deleting memslots: %s", strerror(-r));
			break;
		}
		t0 = kmmu_now();
		r = ms_add_slots(c, from, c->nr_slots, err, len);
		per_slot[s] = 1e6 * (kmmu_now() - t0) / k;
	}
	if (r) {
		free(per_slot);
		return r;
	}
	ms_params(c, "setup");
	kmmu_result_param_int(ms_opts.b.res, "slots_readded", k);
	kmmu_bench_sampling_record(&sampling, ms_opts.b.res);
	samples = sampling.n;
	snprintf(label, sizeof(label), "slots=%llu op=setup", (unsigned long long)c->nr_slots);
	cv = kmmu_bench_metric(&ms_opts.b, label, "slot_setup_per_slot", "us",
			       KMMU_LOWER_IS_BETTER, per_slot, samples);
	kmmu_result_metric(ms_opts.b.res, "slot_setup_total", "s", KMMU_LOWER_IS_BETTER,
			   &total, 1);
	printf("%6llu %-14s %10.1f us (%5.1f%%) per slot (last %llu re-added); %.3f s to add all\n",
	       (unsigned long long)c->nr_slots, "setup", kmmu_median(per_slot, samples), cv,
	       (unsigned long long)k, total);
	fflush(stdout);
	free(per_slot);
	return 0;
}

static int ms_run_config(struct __test_metadata *_metadata, uint64_t nr_slots)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = 1, .shared_size = sizeof(struct ms_shared) };
	struct kmmu_vm_handlers h = { 0 };
	int cap = kmmu_bench_max_samples(&ms_opts.b), samples, r, op;
	struct kmmu_bench_sampling sampling;
	struct ms_ctx *c;
	uint64_t gva, area;
	double *per_iter = NULL;
	char err[512], label[64];

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	kmmu_gate_init(&c->gate);
	c->nr_slots = nr_slots;
	c->pages = nr_slots - 1 + MS_MOVE_SLOT_MIN;
	if (c->pages < MS_AREA_MIN_PAGES)
		c->pages = MS_AREA_MIN_PAGES;
	c->pages = (c->pages + 511) & ~511ULL;
	c->pps = (c->pages - MS_MOVE_SLOT_MIN) / (nr_slots - 1);
	c->last_first = (nr_slots - 1) * c->pps;
	area = c->pages * MS_PAGE;
	c->move_dest = MS_GPA + ((area + (1ULL << 30) - 1) & ~((1ULL << 30) - 1));
	vo.pt_pages = 1024 + kmmu_pt_pages_for(area);

	per_iter = calloc(cap, sizeof(*per_iter));
	c->iters = calloc(cap, sizeof(*c->iters));
	c->mem = mmap(NULL, area, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->mem == MAP_FAILED || !per_iter || !c->iters) {
		c->mem = NULL;
		r = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	madvise(c->mem, area, MADV_NOHUGEPAGE);
	/*
	 * Touch and free the area once: where this host is itself a VM the
	 * first use of memory also costs the outer hypervisor's faults, which
	 * would slow the first samples of the first operations only.
	 */
	memset(c->mem, 1, area);
	madvise(c->mem, area, MADV_DONTNEED);
	r = __kmmu_vm_create(&c->vm, &vo, err, sizeof(err));
	if (r)
		goto out;
	kmmu_result_host(ms_opts.b.res)->nr_memslots = kmmu_vm_nr_slots(c->vm);
	c->sh = kmmu_vm_alloc_shared(c->vm, sizeof(*c->sh), &gva);
	r = c->sh ? __kmmu_vm_map(c->vm, MS_GPA, MS_GPA, area, KMMU_MAP_WRITE | KMMU_MAP_NX) :
		-ENOMEM;
	if (r) {
		snprintf(err, sizeof(err), "guest mappings: %s", strerror(-r));
		goto out;
	}
	r = ms_setup_slots(c, err, sizeof(err));
	if (r)
		goto out;
	h.sync = ms_sync;
	h.mmio = ms_mmio;
	h.ctx = c;
	kmmu_vm_set_handlers(c->vm, &h);
	r = kmmu_bench_vm_start(&ms_opts.b, c->vm, ms_guest, (void *)(uintptr_t)gva,
				err, sizeof(err));
	if (r)
		goto out;
	c->arrivals = 1;
	r = ms_wait(c, err, sizeof(err));
	if (r)
		goto out;
	for (op = 0; op < MS_NR_OPS; op++) {
		double cv;

		if (!ms_opts.ops[op])
			continue;
		c->mmio_exits = 0;
		r = ms_run_op(c, op, per_iter, &sampling, err, sizeof(err));
		if (r)
			goto out;
		ms_params(c, ms_op_names[op]);
		kmmu_bench_sampling_record(&sampling, ms_opts.b.res);
		samples = sampling.n;
		snprintf(label, sizeof(label), "slots=%llu op=%s",
			 (unsigned long long)nr_slots, ms_op_names[op]);
		cv = kmmu_bench_metric(&ms_opts.b, label, "iteration_time", "ms",
				       KMMU_LOWER_IS_BETTER, per_iter, samples);
		printf("%6llu %-14s %10.3f ms (%5.1f%%) %8ld", (unsigned long long)nr_slots,
		       ms_op_names[op], kmmu_median(per_iter, samples), cv, c->iters[samples / 2]);
		if (op == MS_MOVE_ACTIVE || op == MS_MOVE_INACTIVE)
			printf(" guest passes %llu, MMIO exits %llu",
			       (unsigned long long)c->sh->spins,
			       (unsigned long long)c->mmio_exits);
		printf("\n");
		fflush(stdout);
	}
	kmmu_gate_open(&c->gate, MS_CMD_QUIT);
	r = __kmmu_vm_wait(c->vm, 30);
	if (r)
		snprintf(err, sizeof(err), "vCPU did not finish: %s",
			 r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
out:
	if (r)
		TH_LOG("slots=%llu: %s", (unsigned long long)nr_slots, err);
	kmmu_vm_destroy(c->vm);
	if (c->mem)
		munmap(c->mem, area);
	kmmu_gate_destroy(&c->gate);
	free(per_iter);
	free(c->iter);
	free(c->iters);
	free(c);
	return r;
}

KMMU_TEST_F(memslot, bench, 600)
{
	long cap = -1;
	int fd, i;
	char why[256];

	fd = kmmu_kvm_open(why, sizeof(why));
	ASSERT_LE(0, fd) TH_LOG("%s", why);
	cap = kmmu_kvm_cap(fd, KVM_CAP_NR_MEMSLOTS);
	close(fd);
	printf("# time per iteration (median within a sample), median (cv) over %d samples of >= %.3g s; iterations in one sample; KVM_CAP_NR_MEMSLOTS %ld, %d used by the runtime\n",
	       ms_opts.b.samples, ms_opts.duration, cap, KMMU_RUNTIME_SLOTS);
	printf("# %5s %-14s %21s %8s\n", "slots", "operation", "per iteration", "iters");
	for (i = 0; i < ms_opts.nr_slot_configs; i++) {
		uint64_t n = ms_opts.slots[i];

		if (cap > 0 && n > (uint64_t)cap - KMMU_RUNTIME_SLOTS) {
			printf("# slots=%llu capped to %ld: KVM_CAP_NR_MEMSLOTS is %ld, %d of them the runtime's\n",
			       (unsigned long long)n, cap - KMMU_RUNTIME_SLOTS, cap,
			       KMMU_RUNTIME_SLOTS);
			n = cap - KMMU_RUNTIME_SLOTS;
			if (n < 2) {
				printf("# skipped: slots=%llu (fewer than 2 memslots available)\n",
				       (unsigned long long)ms_opts.slots[i]);
				continue;
			}
		}
		ASSERT_EQ(0, ms_run_config(_metadata, n));
	}
}

static void ms_usage(FILE *f, const char *prog)
{
	int op;

	fprintf(f,
		"usage: %s [--samples N] [--duration S] [--slots LIST] [--ops LIST]\n"
		"          [--map-pages N] [--cv-threshold PCT] [--result FILE] [-h]\n"
		"  --samples N        samples per operation (default %d)\n"
		"  --duration S       seconds per sample, at least one iteration (default 1)\n"
		"  --slots LIST       memslot counts, comma separated, 2..32768, capped by\n"
		"                     KVM_CAP_NR_MEMSLOTS minus the runtime's %d (default 10,509,4096,32764)\n"
		"  --ops LIST         operations, comma separated (default all):",
		prog, KMMU_BENCH_SAMPLES_DEFAULT, KMMU_RUNTIME_SLOTS);
	for (op = 0; op < MS_NR_OPS; op++)
		fprintf(f, " %s", ms_op_names[op]);
	fprintf(f, "\n"
		"  --map-pages N      pages the guest maps per map iteration (default 2048)\n");
}

static int ms_parse_ops(const char *s)
{
	char buf[256], *tok, *save;
	int op;

	if (strlen(s) >= sizeof(buf) || !*s)
		return -EINVAL;
	strcpy(buf, s);
	memset(ms_opts.ops, 0, sizeof(ms_opts.ops));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (op = 0; op < MS_NR_OPS; op++)
			if (!strcmp(tok, ms_op_names[op]))
				break;
		if (op == MS_NR_OPS)
			return -EINVAL;
		ms_opts.ops[op] = true;
	}
	return 0;
}

/* --slots: the slot counts to measure. */
static void ms_parse_slots(const char *prog, const char *arg)
{
	ms_opts.nr_slot_configs = kmmu_parse_u64_list(arg, 2, 32768, ms_opts.slots,
						      MS_MAX_CONFIGS);
	if (ms_opts.nr_slot_configs < 0)
		kmmu_bench_usage_error(prog, "--slots wants up to 16 comma-separated counts from 2 to 32768");
}

/* --ops: the operations to measure. */
static void ms_parse_op_list(const char *prog, const char *arg)
{
	if (ms_parse_ops(arg))
		kmmu_bench_usage_error(prog, "--ops wants a comma-separated list of map, unmap, unmap-chunked, move-active, move-inactive, rw");
}

/* The options of this benchmark alone (kmmu_bench_parse() does the rest). */
static const struct kmmu_opt ms_cli_opts[] = {
	KMMU_OPT_FN("slots", 0, ms_parse_slots),
	KMMU_OPT_FN("ops", 0, ms_parse_op_list),
	KMMU_OPT_U("map-pages", 0, ms_opts.map_pages, 2, 1 << 20, 0,
		   "--map-pages wants a page count from 2 to 1048576"),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	static const uint64_t default_slots[] = { 10, 509, 4096, 32764 };
	const char *prog = "memslot_perf_test";
	int op;
	size_t k;

	kmmu_bench_init_kvm(&ms_opts.b, ms_usage, ms_cli_opts);
	kmmu_bench_take(&ms_opts.b, &ms_opts.duration, NULL, NULL, 0);
	for (op = 0; op < MS_NR_OPS; op++)
		ms_opts.ops[op] = true;
	kmmu_bench_parse(&ms_opts.b, prog, &argc, argv);
	if (!ms_opts.nr_slot_configs)
		for (k = 0; k < sizeof(default_slots) / sizeof(default_slots[0]); k++)
			ms_opts.slots[ms_opts.nr_slot_configs++] = default_slots[k];

	KMMU_BENCH_HEADER(prog, "samples %d x %.3g s", ms_opts.b.samples,
			  ms_opts.duration);
	/* Generous: setup of 32k slots alone takes seconds in a nested KVM. */
	KMMU_TEST_TIMEOUT(memslot, bench, 300 + (int)(ms_opts.nr_slot_configs * (MS_NR_OPS + 1) *
			  kmmu_bench_sampling_seconds(&ms_opts.b, ms_opts.duration + 2)));
	return test_harness_run(argc, argv);
}
