// SPDX-License-Identifier: GPL-2.0
/*
 * Memslot microbenchmark: gfn -> memslot lookups through the gfn rbtree
 * and last_used_slot (kmmu_gfn_to_memslot, what __gfn_to_memslot does on
 * every fault) against a linear scan of the same slots in the same run,
 * for random and sequential gfns at 10, 509, 4096 and 32764 slots (32764 =
 * KVM_USER_MEM_SLOTS on x86); and memslot update throughput (delete and
 * re-add one slot, three memslot swaps) at the same counts.
 *
 * Each sample runs for --duration-ms; --samples are taken of each.  Prints
 * a table and writes the result file (--result FILE or $KMMU_RESULT).
 * Single-threaded, no concurrent readers: the updates measure the
 * bookkeeping plus an uncontended synchronize_rcu().
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
#include <kmmu/memslot.h>
#include <kmmu/host_probe.h>
#include <kmmu/result.h>

#include "bench_args.h"

#define PG		KMMU_PAGE_SIZE
#define HVA_BASE	0x7f0000000000ul
#define SLOT_PAGES	64ul	/* slots are back to back: every gfn below the top hits */
#define BATCH		1024	/* lookups per read-side critical section */

static const unsigned int slot_counts[] = { 10, 509, 4096, 32764 };
#define NR_COUNTS ARRAY_SIZE(slot_counts)

/* The baseline: a flat array scanned front to back (no hint). */
struct linear_slot {
	gfn_t base_gfn;
	unsigned long npages;
	struct kmmu_memory_slot *slot;
};

struct setup {
	struct kmmu_vm_memslots *vm;
	struct linear_slot *linear;
	unsigned int nr;
	gfn_t nr_gfns;
};

static volatile uintptr_t sink;

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A uniform value below @n without a 64-bit division (Lemire). */
static inline uint64_t below(uint64_t *seed, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rnd(seed) * n) >> 64);
}

static inline struct kmmu_memory_slot *linear_lookup(const struct setup *su, gfn_t gfn)
{
	for (unsigned int i = 0; i < su->nr; i++) {
		if (gfn - su->linear[i].base_gfn < su->linear[i].npages)
			return su->linear[i].slot;
	}
	return NULL;
}

/*
 * Slot ids are handed out in a shuffled order so the id hash sees random
 * ids; the gfns (and hvas) ascend with creation, as a VMM lays out guest
 * memory, so the gfn tree sees ascending inserts.
 */
static int setup_slots(struct setup *su, unsigned int nr)
{
	unsigned int *order, i;
	uint64_t rs = 42;
	int r;

	memset(su, 0, sizeof(*su));
	r = kmmu_memslots_init(&su->vm, NULL, NULL, 0);
	if (r)
		return r;
	order = malloc(nr * sizeof(*order));
	su->linear = calloc(nr, sizeof(*su->linear));
	if (!order || !su->linear) {
		free(order);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++)
		order[i] = i;
	for (i = nr - 1; i > 0; i--) {
		unsigned int j = rnd(&rs) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < nr; i++) {
		r = kmmu_set_memory_region(su->vm, order[i], 0, (uint64_t)i * SLOT_PAGES * PG,
					   SLOT_PAGES * PG, HVA_BASE + (uint64_t)i * SLOT_PAGES * PG);
		if (r) {
			free(order);
			return r;
		}
	}
	free(order);

	/* The baseline array in id order, i.e. not sorted by gfn. */
	urcu_memb_read_lock();
	for (i = 0; i < nr; i++) {
		struct kmmu_memory_slot *slot =
			kmmu_id_to_memslot(kmmu_memslots_active(su->vm, 0), i);

		su->linear[i] = (struct linear_slot){ slot->base_gfn, slot->npages, slot };
	}
	urcu_memb_read_unlock();
	su->nr = nr;
	su->nr_gfns = (gfn_t)nr * SLOT_PAGES;
	return 0;
}

static void teardown(struct setup *su)
{
	kmmu_memslots_destroy(su->vm);
	free(su->linear);
}

enum pattern { RANDOM, SEQUENTIAL };
enum impl { TREE, LINEAR, NONE };

/*
 * Lookups per second over one sample of @secs.  NONE generates the gfns
 * and does no lookup: the loop's own cost, printed so it can be seen
 * that it is not what the other two measure.  Inlined into each caller,
 * so that @impl is a constant and the loop tests neither it nor @pat
 * per lookup (out of line it cost sequential lookups ~15%).
 */
static inline __attribute__((__always_inline__)) double
lookup_sample(struct setup *su, enum pattern pat, enum impl impl, double secs,
	      uint64_t *seed, long *misses)
{
	double start = kmmu_now(), t;
	uint64_t done = 0;
	gfn_t seq = rnd(seed) % su->nr_gfns;
	uintptr_t acc = 0;

	do {
		urcu_memb_read_lock();
		struct kmmu_memslots *slots = kmmu_memslots_active(su->vm, 0);

		for (int i = 0; i < BATCH; i++) {
			struct kmmu_memory_slot *slot;
			gfn_t gfn;

			if (pat == RANDOM) {
				gfn = below(seed, su->nr_gfns);
			} else {
				gfn = seq++;
				if (seq == su->nr_gfns)
					seq = 0;
			}
			if (impl == NONE) {
				acc += gfn;
				continue;
			}
			slot = impl == LINEAR ? linear_lookup(su, gfn) :
						kmmu_gfn_to_memslot(slots, gfn);
			if (!slot)
				(*misses)++;
			acc += (uintptr_t)slot;
		}
		urcu_memb_read_unlock();
		done += BATCH;
		t = kmmu_now() - start;
	} while (t < secs);
	sink = acc;
	return done / t;
}

/* Delete + re-add of one slot per second (three swaps each). */
static double update_sample(struct setup *su, double secs, uint64_t *seed, long *errors)
{
	double start = kmmu_now(), t;
	uint64_t done = 0;

	do {
		unsigned int i = rnd(seed) % su->nr;
		uint64_t gpa = su->linear[i].base_gfn * PG, hva = HVA_BASE + gpa;

		if (kmmu_set_memory_region(su->vm, i, 0, 0, 0, 0))
			(*errors)++;
		if (kmmu_set_memory_region(su->vm, i, 0, gpa, SLOT_PAGES * PG, hva))
			(*errors)++;
		done++;
		t = kmmu_now() - start;
	} while (t < secs);

	/* The re-added slots are new objects: refresh the baseline array. */
	urcu_memb_read_lock();
	for (unsigned int i = 0; i < su->nr; i++)
		su->linear[i].slot = kmmu_id_to_memslot(kmmu_memslots_active(su->vm, 0), i);
	urcu_memb_read_unlock();
	return done / t;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [--samples N] [--duration-ms MS] [--result FILE] [-h]\n"
		"  gfn->memslot lookups (tree vs. linear scan) and memslot updates\n"
		"  at %u, %u, %u and %u slots; N samples of MS each (default 5, 100)\n",
		prog, slot_counts[0], slot_counts[1], slot_counts[2], slot_counts[3]);
}

static int record(struct kmmu_result *res, const char *name, const char *unit,
		  unsigned int nr, const char *impl, const char *pattern,
		  const double *v, int n)
{
	kmmu_result_param_reset(res);
	kmmu_result_param_int(res, "slots", nr);
	if (impl)
		kmmu_result_param_str(res, "impl", impl);
	if (pattern)
		kmmu_result_param_str(res, "pattern", pattern);
	return kmmu_result_metric(res, name, unit, KMMU_HIGHER_IS_BETTER, v, n);
}

int main(int argc, char **argv)
{
	const char *result_path = NULL;
	long samples = 5, duration_ms = 100, errors = 0, misses = 0;
	struct kmmu_result *res;
	uint64_t seed = 1;
	int r, rc = 0;
	const struct bench_int_option opts[] = {
		{ "samples", 's', &samples, 1, 1000 },
		{ "duration-ms", 'd', &duration_ms, 1, 60000 },
	};

	bench_parse_options(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), &result_path, usage);

	res = kmmu_result_new("memslot_bench");
	if (!res) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	bench_print_host("memslot_bench", res);
	printf("# %ld samples x %ld ms, %lu pages per slot, lookups in batches of %d per "
	       "read-side section; median (cv)\n", samples, duration_ms, SLOT_PAGES, BATCH);
	printf("%7s %-10s %16s %16s %9s\n", "slots", "pattern", "tree Mlookup/s",
	       "linear Mlookup/s", "speedup");

	urcu_memb_register_thread();
	double *tree = calloc(samples, sizeof(double)), *lin = calloc(samples, sizeof(double));
	double *upd = calloc(samples, sizeof(double)), *loop = calloc(samples, sizeof(double));
	double upd_med[NR_COUNTS], loop_med[2] = { 0, 0 };

	if (!tree || !lin || !upd || !loop) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}

	for (unsigned int c = 0; c < NR_COUNTS; c++) {
		unsigned int nr = slot_counts[c];
		struct setup su;

		r = setup_slots(&su, nr);
		if (r) {
			fprintf(stderr, "%s: setting up %u slots: %s\n", argv[0], nr, strerror(-r));
			rc = 1;
			break;
		}
		for (int p = RANDOM; p <= SEQUENTIAL; p++) {
			const char *pname = p == RANDOM ? "random" : "sequential";

			/*
			 * Interleave the two so drift on a shared host hits both
			 * alike, and start both from the same seed: the scan
			 * looks up a prefix of the tree's gfn stream.
			 */
			for (long i = 0; i < samples; i++) {
				uint64_t s0 = rnd(&seed), s = s0;

				tree[i] = lookup_sample(&su, p, TREE, duration_ms / 1e3, &s,
							&misses) / 1e6;
				s = s0;
				lin[i] = lookup_sample(&su, p, LINEAR, duration_ms / 1e3, &s,
						       &misses) / 1e6;
			}
			double mt = kmmu_median(tree, samples), ml = kmmu_median(lin, samples);

			/* The loop alone: it does not depend on the slot count. */
			if (c == 0) {
				for (long i = 0; i < samples; i++)
					loop[i] = lookup_sample(&su, p, NONE, duration_ms / 1e3,
								&seed, &misses) / 1e6;
				loop_med[p] = kmmu_median(loop, samples);
			}

			printf("%7u %-10s %9.2f (%4.1f%%) %9.3f (%4.1f%%) %8.0fx\n", nr, pname,
			       mt, 100 * kmmu_cv(tree, samples), ml, 100 * kmmu_cv(lin, samples),
			       mt / ml);
			fflush(stdout);
			record(res, "memslot_lookup", "Mlookups/s", nr, "tree", pname, tree, samples);
			record(res, "memslot_lookup", "Mlookups/s", nr, "linear", pname, lin, samples);
		}
		for (long i = 0; i < samples; i++)
			upd[i] = update_sample(&su, duration_ms / 1e3, &seed, &errors) / 1e3;
		upd_med[c] = kmmu_median(upd, samples);
		record(res, "memslot_update", "Kupdates/s", nr, NULL, NULL, upd, samples);
		teardown(&su);
	}

	if (!rc) {
		printf("# gfn generation and loop alone: random %.0f, sequential %.0f M/s\n",
		       loop_med[RANDOM], loop_med[SEQUENTIAL]);
		printf("%7s %-10s %16s\n", "slots", "update", "K delete+add/s");
		for (unsigned int c = 0; c < NR_COUNTS; c++)
			printf("%7u %-10s %16.1f\n", slot_counts[c], "", upd_med[c]);
	}
	if (errors || misses) {
		/* Every lookup is inside a slot and every update valid: a bug. */
		fprintf(stderr, "%s: %ld failed updates, %ld lookup misses\n", argv[0],
			errors, misses);
		rc = 1;
	}

	rc |= bench_finish_result(argv[0], res, result_path);
	free(tree);
	free(lin);
	free(upd);
	free(loop);
	urcu_memb_unregister_thread();
	return rc;
}
