// SPDX-License-Identifier: GPL-2.0
/*
 * Replay throughput of the checker: records judged per second.
 *
 * By default on a generated history shaped like a TDP MMU memslot-churn
 * run (corpus-61-tdp's memslot_churn_test, `kmmu-trace stats`): of its
 * records about a fifth are present leaf installs (kvm_tdp_mmu_spte_changed
 * followed by the vCPU's kvm_mmu_set_spte), a fifth drops of them, an
 * eighth MMIO exits on unbacked gfns, and about one in 500 a slot's
 * delete (its fast zap and the drops of its leaves in the ioctl's window)
 * and re-add; faults mostly walk the pages in order, as a guest
 * touching its memory does.  Every install goes through the reference
 * MMU's fault path and every drop through its zap, as in a real replay.
 * The history is generated, not recorded, so that its size can be
 * chosen; it is correct by construction and the run fails if the checker
 * disagrees.
 *
 * With --trace FILE, on a recorded trace instead (its verdicts are not
 * asserted: only that the replay completes).
 *
 *   replay_bench [--records N] [--slots N] [--samples N] [--trace FILE] [--result FILE]
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kmmu/clock.h"
#include "kmmu/checker.h"
#include "kmmu/host_probe.h"
#include "kmmu/result.h"
#include "kmmu/trace_file.h"
#include "kmmu/trace_log.h"

#define SLOT_PAGES 64
#define GFN_BASE 0x100000ull
#define VCPU_PID 2		/* the vCPU thread: faults, its installs */
#define VMM_PID 1		/* the VMM thread: memslot ioctls, their zaps */
/*
 * A present, writable, Accessed and Dirty 4K NPT leaf, as the 6.1 TDP MMU
 * on kvm_amd (the corpus trace's host) makes them.
 */
#define LEAF_BITS 0xe67ull

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: fast, and the same history every run */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static struct kmmu_trace_record *next(struct kmmu_trace_record *recs, uint64_t *n,
				      uint64_t *now, enum kmmu_rec_type type, int32_t pid)
{
	struct kmmu_trace_record *r = &recs[(*n)++];

	memset(r, 0, sizeof(*r));
	*now += 50;
	r->ts = *now;
	r->type = type;
	r->pid = pid;
	return r;
}

static void memslot(struct kmmu_trace_record *r, uint64_t issued, unsigned int slot, uint64_t size)
{
	r->memslot.start_ts = issued;
	r->memslot.slot = slot;
	r->memslot.gpa = (GFN_BASE + slot * SLOT_PAGES) << 12;
	r->memslot.size = size;
	r->memslot.hva = 0x7f0000000000ull + ((uint64_t)slot * SLOT_PAGES << 12);
}

/* The TDP MMU's change of the 4K leaf at @gfn, from @old to @new. */
static void spte_changed(struct kmmu_trace_record *recs, uint64_t *n, uint64_t *now, int32_t pid,
			 uint64_t gfn, uint64_t old, uint64_t new)
{
	struct kmmu_trace_record *r = next(recs, n, now, KMMU_EV_SPTE_CHANGED, pid);

	r->spte_changed.gfn = gfn;
	r->spte_changed.level = 1;
	r->spte_changed.old_spte = old;
	r->spte_changed.new_spte = new;
}

static uint64_t leaf_spte(uint64_t gfn)
{
	return (0x100000ull + gfn) << 12 | LEAF_BITS;	/* any frame: one per gfn */
}

/*
 * @want records (at most) into @recs over @slots slots; @present (one
 * flag per gfn) tracks which leaves the history has installed.
 */
static uint64_t generate(struct kmmu_trace_record *recs, uint64_t want, unsigned int slots,
			 bool *present)
{
	uint64_t n = 0, now = 0, zaps = 0, live = 0, last = 0, npages = (uint64_t)slots * SLOT_PAGES;
	struct kmmu_trace_record *r;

	next(recs, &n, &now, KMMU_ACT_VM_CREATE, VMM_PID)->vm.nr_address_spaces = 2;
	r = next(recs, &n, &now, KMMU_ACT_HOST, VMM_PID);
	r->host.backend = KMMU_HOST_SVM;
	r->host.tdp = 1;
	r->host.tdp_mmu = 1;
	for (unsigned int s = 0; s < slots; s++)
		memslot(next(recs, &n, &now, KMMU_ACT_SET_MEMSLOT, VMM_PID), now, s,
			SLOT_PAGES << 12);
	/* Room for a delete's drops, and the stats record at the end. */
	while (n + SLOT_PAGES + 8 < want) {
		uint64_t x = rnd(), roll = x % 1000;

		if (roll < 2) {
			/* Delete a slot (fast zap, drops of its leaves) and re-add it. */
			unsigned int s = (x >> 16) % slots;
			uint64_t issued = now + 1;

			/* Each fast zap reports mmu_valid_gen, then toggles it. */
			next(recs, &n, &now, KMMU_EV_ZAP_ALL_FAST, VMM_PID)->zap_all_fast.mmu_valid_gen =
				zaps++ & 1;
			for (uint64_t i = 0; i < SLOT_PAGES; i++) {
				uint64_t g = (uint64_t)s * SLOT_PAGES + i;

				if (!present[g])
					continue;
				spte_changed(recs, &n, &now, VMM_PID, GFN_BASE + g, leaf_spte(g), 0);
				present[g] = false;
				live--;
			}
			memslot(next(recs, &n, &now, KMMU_ACT_SET_MEMSLOT, VMM_PID), issued, s, 0);
			memslot(next(recs, &n, &now, KMMU_ACT_SET_MEMSLOT, VMM_PID), now, s,
				SLOT_PAGES << 12);
		} else if (roll < 130) {
			r = next(recs, &n, &now, KMMU_EV_MMIO, VCPU_PID);
			r->mmio.gpa = 0xfee00000ull + (x & 0xff0);
			r->mmio.type = 2;
		} else {
			/*
			 * A fault installs the leaf, or the host's unmap drops
			 * it: mostly at the page after the last one, as a
			 * guest walking its memory faults (the real traces'
			 * locality), else anywhere.
			 */
			uint64_t g = (x >> 20) % 8 ? (last + 1) % npages : (x >> 23) % npages;

			if (present[g]) {
				spte_changed(recs, &n, &now, VMM_PID, GFN_BASE + g, leaf_spte(g), 0);
				live--;
			} else {
				spte_changed(recs, &n, &now, VCPU_PID, GFN_BASE + g, 0, leaf_spte(g));
				r = next(recs, &n, &now, KMMU_EV_SET_SPTE, VCPU_PID);
				r->set_spte.gfn = GFN_BASE + g;
				r->set_spte.spte = leaf_spte(g);
				r->set_spte.level = 1;
				live++;
			}
			present[g] = !present[g];
			last = g;
		}
	}
	/* KVM's page stats at the end: what the history left installed. */
	r = next(recs, &n, &now, KMMU_ACT_STATS, VMM_PID);
	r->stats.start_ts = now - 10;
	r->stats.pages[0] = live;
	r->stats.nr_vms = 1;
	return n;
}

static long parse_count(const char *opt, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || v < min || v > max) {
		fprintf(stderr, "replay_bench: --%s wants an integer in [%ld, %ld], got '%s'\n",
			opt, min, max, arg);
		exit(2);
	}
	return v;
}

#define USAGE "usage: replay_bench [--records N] [--slots N] [--samples N] [--trace FILE]" \
	      " [--result FILE]\n"

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "records", required_argument, NULL, 'n' },
		{ "slots", required_argument, NULL, 's' },
		{ "samples", required_argument, NULL, 'S' },
		{ "trace", required_argument, NULL, 't' },
		{ "result", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	long records = 5000000, slots = 256, samples = 5;
	const char *result_path = NULL, *trace_path = NULL;
	struct kmmu_trace_file tf = { };
	struct kmmu_trace_record *recs;
	struct kmmu_check_result *res;
	struct kmmu_result *out;
	char err[256];
	double *rates;
	bool *present;
	uint64_t nr;
	int opt, ret = 0;

	/* Our own one-line messages, not getopt's and the usage after it. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:s:S:t:r:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': records = parse_count("records", optarg, 1000, 100000000); break;
		case 's': slots = parse_count("slots", optarg, 1, 32000); break;
		case 'S': samples = parse_count("samples", optarg, 1, 1000); break;
		case 't': trace_path = optarg; break;
		case 'r': result_path = optarg; break;
		case 'h':
			printf(USAGE);
			return 0;
		case ':':
			fprintf(stderr, "replay_bench: option '%s' needs a value (-h for help)\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "replay_bench: unknown option '%s' (-h for help)\n",
				optopt && strncmp(argv[optind - 1], "--", 2) ?
				(char []){ '-', (char)optopt, 0 } : argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "replay_bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	res = malloc(sizeof(*res));
	rates = calloc(samples, sizeof(*rates));
	out = kmmu_result_new("replay_bench");
	if (!res || !rates || !out) {
		fprintf(stderr, "replay_bench: out of memory\n");
		return 1;
	}
	if (trace_path) {
		if (kmmu_trace_file_read(trace_path, &tf, err, sizeof(err))) {
			fprintf(stderr, "replay_bench: %s\n", err);
			return 2;
		}
		recs = tf.recs;
		nr = tf.nr;
		printf("# replay of %llu records of %s\n", (unsigned long long)nr, trace_path);
	} else {
		recs = malloc(records * sizeof(*recs));
		present = calloc(slots * SLOT_PAGES, sizeof(*present));
		if (!recs || !present) {
			fprintf(stderr, "replay_bench: out of memory for %ld records\n", records);
			return 1;
		}
		nr = generate(recs, records, slots, present);
		free(present);
		printf("# replay of %llu generated records over %ld slots\n",
		       (unsigned long long)nr, slots);
	}

	for (long i = 0; i < samples; i++) {
		double t0 = kmmu_now(), dt;

		ret = kmmu_check(recs, nr, NULL, res);
		dt = kmmu_now() - t0;
		if (ret || (!trace_path && res->nr_divergences)) {
			fprintf(stderr, "replay_bench: the checker %s on a correct history: %s\n",
				ret ? "failed" : "diverged", ret ? strerror(-ret) : res->first_divergence);
			return 1;
		}
		rates[i] = nr / dt / 1e6;
		printf("sample %ld: %.2f M records/s (%.3f s)\n", i + 1, rates[i], dt);
	}
	printf("replay: median %.2f M records/s, cv %.1f%%\n", kmmu_median(rates, samples),
	       100 * kmmu_cv(rates, samples));
	printf("judged: %llu SPTE installs in slots, %llu slot removals per SPTE, %llu page stats\n",
	       (unsigned long long)res->checked[KMMU_PROP_SPTE_IN_SLOT],
	       (unsigned long long)res->checked[KMMU_PROP_ZAP_ON_REMOVE],
	       (unsigned long long)res->checked[KMMU_PROP_PAGE_STATS]);

	kmmu_result_param_int(out, "records", nr);
	if (!trace_path)
		kmmu_result_param_int(out, "slots", slots);
	kmmu_result_metric(out, trace_path ? "checker_replay_trace" : "checker_replay",
			   "Mrecords/s", KMMU_HIGHER_IS_BETTER, rates, samples);
	ret = kmmu_result_write(out, result_path);
	if (ret)
		fprintf(stderr, "replay_bench: cannot write the result file: %s\n", strerror(-ret));
	kmmu_result_free(out);
	if (trace_path)
		kmmu_trace_file_free(&tf);
	else
		free(recs);
	free(res);
	free(rates);
	return ret ? 1 : 0;
}
