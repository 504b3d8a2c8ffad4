// SPDX-License-Identifier: GPL-2.0
/*
 * Replay throughput of the checker: records judged per second on a history
 * shaped like a memslot-churn run (many slots, SPTEs installed across them,
 * MMIO on unbacked gfns, a delete + re-add with its zap every so often).
 * The history is generated, not recorded, so that its size can be chosen;
 * it is correct by construction and the run fails if the checker disagrees.
 *
 *   replay_bench [--records N] [--slots N] [--samples N] [--result FILE]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kmmu/clock.h"
#include "kmmu/checker.h"
#include "kmmu/host_probe.h"
#include "kmmu/result.h"
#include "kmmu/trace_log.h"

#define SLOT_PAGES 64
#define GFN_BASE 0x100000ull

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
				      uint64_t *now, enum kmmu_rec_type type)
{
	struct kmmu_trace_record *r = &recs[(*n)++];

	memset(r, 0, sizeof(*r));
	*now += 50;
	r->ts = *now;
	r->type = type;
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

static uint64_t generate(struct kmmu_trace_record *recs, uint64_t want, unsigned int slots)
{
	uint64_t n = 0, now = 0, zaps = 0;

	for (unsigned int s = 0; s < slots; s++)
		memslot(next(recs, &n, &now, KMMU_ACT_SET_MEMSLOT), now, s, SLOT_PAGES << 12);
	while (n + 8 < want) {
		uint64_t r = rnd();

		if (r % 1000 == 0) {
			/* Delete and re-add a slot, zapping in the window. */
			unsigned int s = (r >> 16) % slots;
			uint64_t issued = now + 1;

			/* Each fast zap toggles mmu_valid_gen, which it reports first. */
			next(recs, &n, &now, KMMU_EV_ZAP_ALL_FAST)->zap_all_fast.mmu_valid_gen =
				zaps++ & 1;
			memslot(next(recs, &n, &now, KMMU_ACT_SET_MEMSLOT), issued, s, 0);
			memslot(next(recs, &n, &now, KMMU_ACT_SET_MEMSLOT), now, s, SLOT_PAGES << 12);
		} else if (r % 10 == 0) {
			next(recs, &n, &now, KMMU_EV_MMIO)->mmio.gpa = 0xfee00000ull + (r & 0xff0);
			recs[n - 1].mmio.type = 2;
		} else {
			uint64_t gfn = GFN_BASE + (r >> 20) % ((uint64_t)slots * SLOT_PAGES);

			next(recs, &n, &now, KMMU_EV_SET_SPTE)->set_spte.gfn = gfn;
		}
	}
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "records", required_argument, NULL, 'n' },
		{ "slots", required_argument, NULL, 's' },
		{ "samples", required_argument, NULL, 'S' },
		{ "result", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	long records = 5000000, slots = 256, samples = 5;
	const char *result_path = NULL;
	struct kmmu_trace_record *recs;
	struct kmmu_check_result *res;
	struct kmmu_result *out;
	double *rates;
	uint64_t nr;
	int opt, ret = 0;

	while ((opt = getopt_long(argc, argv, "n:s:S:r:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': records = parse_count("records", optarg, 1000, 100000000); break;
		case 's': slots = parse_count("slots", optarg, 1, 32000); break;
		case 'S': samples = parse_count("samples", optarg, 1, 1000); break;
		case 'r': result_path = optarg; break;
		case 'h':
			printf("usage: replay_bench [--records N] [--slots N] [--samples N] [--result FILE]\n");
			return 0;
		default:
			fprintf(stderr, "usage: replay_bench [--records N] [--slots N] [--samples N] [--result FILE]\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "replay_bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	recs = malloc(records * sizeof(*recs));
	res = malloc(sizeof(*res));
	rates = calloc(samples, sizeof(*rates));
	out = kmmu_result_new("replay_bench");
	if (!recs || !res || !rates || !out) {
		fprintf(stderr, "replay_bench: out of memory for %ld records\n", records);
		return 1;
	}
	nr = generate(recs, records, slots);

	printf("# replay of %llu records over %ld slots\n", (unsigned long long)nr, slots);
	for (long i = 0; i < samples; i++) {
		double t0 = kmmu_now(), dt;

		ret = kmmu_check(recs, nr, NULL, res);
		dt = kmmu_now() - t0;
		if (ret || res->nr_divergences) {
			fprintf(stderr, "replay_bench: the checker %s on a correct history: %s\n",
				ret ? "failed" : "diverged", ret ? strerror(-ret) : res->first_divergence);
			return 1;
		}
		rates[i] = nr / dt / 1e6;
		printf("sample %ld: %.2f M records/s (%.3f s)\n", i + 1, rates[i], dt);
	}
	printf("replay: median %.2f M records/s, cv %.1f%%\n", kmmu_median(rates, samples),
	       100 * kmmu_cv(rates, samples));

	kmmu_result_param_int(out, "records", nr);
	kmmu_result_param_int(out, "slots", slots);
	kmmu_result_metric(out, "checker_replay", "Mrecords/s", KMMU_HIGHER_IS_BETTER, rates, samples);
	ret = kmmu_result_write(out, result_path);
	if (ret)
		fprintf(stderr, "replay_bench: cannot write the result file: %s\n", strerror(-ret));
	kmmu_result_free(out);
	free(recs);
	free(res);
	free(rates);
	return ret ? 1 : 0;
}
