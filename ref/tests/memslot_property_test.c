// SPDX-License-Identifier: GPL-2.0
/*
 * Property test of ref/memslot.c against the naive model
 * (tests/lib/naive_memslots.c): long random, seeded sequences of
 * KVM_SET_USER_MEMORY_REGION requests (create, delete, move, flag changes,
 * invalid ones, injected arch failures) on both; after every request the
 * return values, the generation step, gfn lookups (random and at slot
 * edges), id lookups, hva and gfn range queries, slot counts and page
 * totals must agree.
 *
 * The seed is printed; KMMU_SEED=<n> replays.  Sequence i of a run uses
 * seed + i, and a failure prints that value, so the failing sequence is
 * the first one of the replay.  KMMU_PROPERTY_SECONDS bounds the run
 * (default 2).
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/clock.h>
#include <kmmu/memslot.h>
#include "lib/memslot_hooks.h"
#include "lib/naive_memslots.h"

#define GFN_SPACE	0x3000ull
#define MAX_GFN		0xfffffull	/* a 32-bit guest: the prepare check bites */
#define OPS_PER_SEQ	1500

struct rng {
	uint64_t s;
};

/* splitmix64: tiny, good enough, and the same on every libc. */
static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

struct req {
	uint32_t slot;
	uint32_t flags;
	uint64_t gpa, size, hva;
	bool internal;
	int inject;
};

struct seq {
	struct rng rng;
	unsigned int max_slots;
	struct kmmu_vm_memslots *vm;
	struct kmmu_naive_memslots *naive;
	/* The MMU side as x86 does it, plus one-shot failure injection. */
	struct test_arch arch;
	char what[160];		/* the request, for failure messages */
};

static int rand_id(struct seq *s)
{
	/* Mostly valid ids, a few just past the limit. */
	return below(&s->rng, s->max_slots + 2);
}

static uint64_t rand_npages(struct seq *s)
{
	switch (below(&s->rng, 8)) {
	case 0:
		return 1;
	case 1:
		return 1 + below(&s->rng, 512);
	default:
		return 1 + below(&s->rng, 48);
	}
}

static uint64_t rand_gfn(struct seq *s, uint64_t npages)
{
	if (!below(&s->rng, 40))
		return MAX_GFN + 1 - below(&s->rng, 64);	/* around the arch limit */
	return below(&s->rng, GFN_SPACE);
}

static uint64_t rand_hva(struct seq *s)
{
	/* A small pool so that host ranges alias and nest. */
	return HVA_BASE + below(&s->rng, 48) * 16 * PG;
}

/* An existing slot of the naive model, or NULL. */
static const struct kmmu_naive_slot *pick_slot(struct seq *s, int as_id)
{
	unsigned int nr;
	const struct kmmu_naive_slot *slots = kmmu_naive_slots(s->naive, as_id, &nr);

	return nr ? &slots[below(&s->rng, nr)] : NULL;
}

static void make_request(struct seq *s, struct req *q)
{
	int as_id = below(&s->rng, 4) ? 0 : 1;
	const struct kmmu_naive_slot *old = pick_slot(s, as_id);
	uint64_t npages;

	memset(q, 0, sizeof(*q));
	switch (below(&s->rng, 16)) {
	case 0 ... 4:	/* create (or modify if the id exists) */
		npages = rand_npages(s);
		q->slot = as_id << 16 | rand_id(s);
		q->flags = below(&s->rng, 4);
		q->gpa = rand_gfn(s, npages) * PG;
		q->size = npages * PG;
		q->hva = rand_hva(s);
		break;
	case 5 ... 6:	/* delete an existing slot, or any id */
		q->slot = old && below(&s->rng, 4) ? (uint32_t)as_id << 16 | old->id :
			  (uint32_t)as_id << 16 | rand_id(s);
		break;
	case 7 ... 8:	/* move */
		if (!old) {
			make_request(s, q);
			return;
		}
		q->slot = as_id << 16 | old->id;
		q->flags = old->flags ^ (below(&s->rng, 8) ? 0 : KMMU_MEM_LOG_DIRTY_PAGES);
		q->gpa = (below(&s->rng, 3) ? rand_gfn(s, old->npages) :
			  old->base_gfn + below(&s->rng, 2 * old->npages) - old->npages) * PG;
		q->size = old->npages * PG;
		q->hva = old->userspace_addr;
		break;
	case 9 ... 10:	/* flags: LOG_DIRTY ok, READONLY not */
		if (!old) {
			make_request(s, q);
			return;
		}
		q->slot = as_id << 16 | old->id;
		q->flags = old->flags ^ (below(&s->rng, 4) ? KMMU_MEM_LOG_DIRTY_PAGES :
					 below(&s->rng, 2) ? KMMU_MEM_READONLY : 0);
		q->gpa = old->base_gfn * PG;
		q->size = old->npages * PG;
		q->hva = old->userspace_addr;
		break;
	case 11:	/* change size or hva of an existing slot */
		if (!old) {
			make_request(s, q);
			return;
		}
		q->slot = as_id << 16 | old->id;
		q->flags = old->flags;
		q->gpa = old->base_gfn * PG;
		q->size = (old->npages + (below(&s->rng, 2) ? 1 : -1)) * PG;
		q->hva = old->userspace_addr + (below(&s->rng, 2) ? 0 : PG);
		if (q->hva != old->userspace_addr)
			q->size = old->npages * PG;
		break;
	case 12:	/* internal (private) slot ids */
		q->internal = true;
		q->slot = as_id << 16 | (KMMU_USER_MEM_SLOTS + below(&s->rng, 4));
		q->flags = 0;
		npages = 1 + below(&s->rng, 4);
		q->gpa = below(&s->rng, 2) ? rand_gfn(s, npages) * PG : 0;
		q->size = below(&s->rng, 3) ? npages * PG : 0;
		q->hva = rand_hva(s);
		break;
	default:	/* malformed: one field broken at a time */
		npages = rand_npages(s);
		q->slot = as_id << 16 | rand_id(s);
		q->gpa = rand_gfn(s, npages) * PG;
		q->size = npages * PG;
		q->hva = rand_hva(s);
		switch (below(&s->rng, 9)) {
		case 0:
			q->flags = 1u << (2 + below(&s->rng, 30));
			break;
		case 1:
			q->size += 1 + below(&s->rng, PG - 1);
			break;
		case 2:
			q->gpa += 1 + below(&s->rng, PG - 1);
			break;
		case 3:
			q->hva += 1 + below(&s->rng, PG - 1);
			break;
		case 4:
			q->slot = (2 + below(&s->rng, 0xfffe)) << 16 | (q->slot & 0xffff);
			break;
		case 5:
			q->gpa = -(below(&s->rng, 4) * PG) - PG;
			break;
		case 6:
			q->size = (KMMU_MEM_MAX_NR_PAGES + 1 + below(&s->rng, 4)) * PG;
			q->hva = 0;
			break;
		case 7:
			q->hva = KMMU_TASK_SIZE_MAX - q->size + PG * (1 + below(&s->rng, 2));
			break;
		case 8:
			q->slot = (q->slot & ~0xffffu) | (0xffff - below(&s->rng, 8));
			break;
		}
		break;
	}
	/* Sometimes the arch prepare step fails. */
	if (!below(&s->rng, 25))
		q->inject = below(&s->rng, 2) ? -ENOMEM : -EFAULT;
}

static int as_of(const struct req *q)
{
	return q->slot >> 16;
}

/* Fails the test with the request and the sequence seed. */
#define CHECK(cond, seed, opi, fmt, ...)					\
	do {									\
		if (!(cond)) {							\
			TH_LOG("seq seed %" PRIu64 " op %d: %s: " fmt,		\
			       seed, opi, s->what, ##__VA_ARGS__);		\
			TH_LOG("replay: KMMU_SEED=%" PRIu64, seed);		\
			return false;						\
		}								\
	} while (0)

static bool same_slot(const struct kmmu_memory_slot *a, const struct kmmu_naive_slot *b)
{
	if (!a || !b)
		return !a && !b;
	return a->base_gfn == b->base_gfn && a->npages == b->npages &&
	       a->userspace_addr == b->userspace_addr && a->flags == b->flags &&
	       a->id == b->id && a->as_id == b->as_id;
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Compare one hva or gfn range query; the real one must also be ordered. */
static bool check_range(struct __test_metadata *_metadata, struct seq *s,
			uint64_t seed, int opi, struct kmmu_memslots *slots,
			int as_id, uint64_t start, uint64_t end, bool hva)
{
	uint16_t want[64], got[64];
	unsigned int nw, ng = 0;
	struct kmmu_memory_slot *slot;
	uint64_t prev = 0;

	/* The iterators are the macros' loops, spelled out to share one body. */
	if (hva) {
		nw = kmmu_naive_hva_range(s->naive, as_id, start, end, want, 64);
		slot = kmmu_memslot_hva_first(slots, start, end);
	} else {
		nw = kmmu_naive_gfn_range(s->naive, as_id, start, end, want, 64);
		slot = kmmu_memslot_gfn_first(slots, start, end);
	}
	for (; slot; slot = hva ? kmmu_memslot_hva_next(slots, slot, start, end) :
				  kmmu_memslot_gfn_next(slots, slot, end)) {
		uint64_t key = hva ? slot->userspace_addr : slot->base_gfn;

		CHECK(key >= prev, seed, opi, "%s order", hva ? "hva" : "gfn");
		prev = key;
		if (ng < 64)
			got[ng] = slot->id;
		ng++;
	}
	CHECK(ng == nw, seed, opi, "%s range [%#" PRIx64 ", %#" PRIx64 ") as %d: %u slots, naive %u",
	      hva ? "hva" : "gfn", start, end, as_id, ng, nw);
	qsort(got, ng < 64 ? ng : 64, sizeof(*got), cmp_u16);
	for (unsigned int i = 0; i < ng && i < 64; i++)
		CHECK(got[i] == want[i], seed, opi, "%s range [%#" PRIx64 ", %#" PRIx64 "): id %u vs %u",
		      hva ? "hva" : "gfn", start, end, got[i], want[i]);
	return true;
}

/* Random points, biased to slot edges. */
static uint64_t edge_point(struct seq *s, int as_id, bool hva)
{
	const struct kmmu_naive_slot *n = pick_slot(s, as_id);
	uint64_t base, len;

	if (!n || !below(&s->rng, 4))
		return hva ? HVA_BASE - PG + below(&s->rng, 50 * 16 * PG) : below(&s->rng, GFN_SPACE + 64);
	base = hva ? n->userspace_addr : n->base_gfn;
	len = hva ? n->npages * PG : n->npages;
	switch (below(&s->rng, 4)) {
	case 0:
		return base - 1;
	case 1:
		return base;
	case 2:
		return base + len - 1;
	default:
		return base + len;
	}
}

static bool check_slots(struct __test_metadata *_metadata, struct seq *s,
			uint64_t seed, int opi, bool full)
{
	int as_id, i;

	for (as_id = 0; as_id < KMMU_ADDRESS_SPACE_NUM; as_id++) {
		struct kmmu_memslots *slots = kmmu_memslots_active(s->vm, as_id);
		struct kmmu_memory_slot *slot;
		unsigned int nr, count = 0;
		uint64_t prev_end = 0;

		kmmu_naive_slots(s->naive, as_id, &nr);
		CHECK(slots->nr_slots == nr, seed, opi, "as %d: %u slots, naive %u",
		      as_id, slots->nr_slots, nr);
		kmmu_for_each_memslot(slot, slots) {
			CHECK(slot->base_gfn >= prev_end, seed, opi, "gfn tree out of order");
			CHECK(!(slot->flags & KMMU_MEMSLOT_INVALID), seed, opi, "INVALID slot left");
			CHECK(same_slot(slot, kmmu_naive_id_to_slot(s->naive, as_id, slot->id)),
			      seed, opi, "slot %d differs", slot->id);
			prev_end = slot->base_gfn + slot->npages;
			count++;
		}
		CHECK(count == nr, seed, opi, "iteration found %u slots, naive %u", count, nr);

		for (i = 0; i < (full ? 24 : 6); i++) {
			uint64_t gfn = edge_point(s, as_id, false);
			const struct kmmu_naive_slot *want = kmmu_naive_gfn_to_slot(s->naive, as_id, gfn);

			slot = kmmu_gfn_to_memslot(slots, gfn);
			CHECK(same_slot(slot, want), seed, opi, "as %d gfn %#" PRIx64 ": slot %d, naive %d",
			      as_id, gfn, slot ? slot->id : -1, want ? want->id : -1);
		}
		for (i = 0; i < (full ? 12 : 3); i++) {
			uint64_t a = edge_point(s, as_id, true), b = edge_point(s, as_id, true);

			if (!check_range(_metadata, s, seed, opi, slots, as_id,
					 a < b ? a : b, a < b ? b : a, true))
				return false;
			a = edge_point(s, as_id, false);
			b = below(&s->rng, 4) ? a + below(&s->rng, 600) : a;
			if (!check_range(_metadata, s, seed, opi, slots, as_id, a, b, false))
				return false;
		}
		if (full) {
			for (i = 0; i < (int)s->max_slots + 2; i++)
				CHECK(same_slot(kmmu_id_to_memslot(slots, i),
						kmmu_naive_id_to_slot(s->naive, as_id, i)),
				      seed, opi, "id %d", i);
		}
	}
	return true;
}

static bool check_state(struct __test_metadata *_metadata, struct seq *s,
			uint64_t seed, int opi, bool full)
{
	bool ok;

	urcu_memb_read_lock();
	ok = check_slots(_metadata, s, seed, opi, full);
	urcu_memb_read_unlock();
	if (!ok)
		return false;

	CHECK(kmmu_memslots_nr_pages(s->vm) == kmmu_naive_nr_pages(s->naive), seed, opi,
	      "nr_pages %lu, naive %" PRIu64, kmmu_memslots_nr_pages(s->vm),
	      kmmu_naive_nr_pages(s->naive));
	return true;
}

/* What the requests did, over the whole run: shows the mix is useful. */
static long outcome[8];
enum { O_CREATE, O_DELETE, O_MOVE, O_FLAGS, O_NOP, O_EINVAL, O_EEXIST, O_OTHER };

static void count_outcome(int r, int change)
{
	if (!r)
		outcome[change >= 0 ? change : O_NOP]++;
	else if (r == -EINVAL)
		outcome[O_EINVAL]++;
	else if (r == -EEXIST)
		outcome[O_EEXIST]++;
	else
		outcome[O_OTHER]++;
}

static bool run_sequence(struct __test_metadata *_metadata, uint64_t seed, long *nops)
{
	struct seq seq = {}, *s = &seq;
	bool ok = true;
	int opi;

	s->rng.s = seed;
	s->max_slots = 4 + below(&s->rng, 60);
	s->arch.max_gfn = MAX_GFN;
	if (kmmu_memslots_init(&s->vm, &test_arch_ops, &s->arch, s->max_slots) ||
	    kmmu_naive_init(&s->naive, s->max_slots, MAX_GFN)) {
		TH_LOG("init failed");
		return false;
	}

	for (opi = 0; opi < OPS_PER_SEQ && ok; opi++) {
		uint64_t gen_before[KMMU_ADDRESS_SPACE_NUM], gen, step;
		struct req q;
		int r, rn, change, as;

		make_request(s, &q);
		snprintf(s->what, sizeof(s->what),
			 "%s(slot %#x flags %#x gpa %#" PRIx64 " size %#" PRIx64 " hva %#" PRIx64 " inject %d)",
			 q.internal ? "internal" : "set", q.slot, q.flags, q.gpa, q.size, q.hva, q.inject);
		for (as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++)
			gen_before[as] = kmmu_memslots_generation(kmmu_memslots_active(s->vm, as));

		s->arch.prepare_err = q.inject;
		kmmu_naive_inject_prepare_error(s->naive, q.inject);
		if (q.internal) {
			r = kmmu_set_memory_region_internal(s->vm, q.slot, q.flags, q.gpa, q.size, q.hva);
			rn = kmmu_naive_set_memory_region_internal(s->naive, q.slot, q.flags,
								   q.gpa, q.size, q.hva);
		} else {
			r = kmmu_set_memory_region(s->vm, q.slot, q.flags, q.gpa, q.size, q.hva);
			rn = kmmu_naive_set_memory_region(s->naive, q.slot, q.flags, q.gpa, q.size, q.hva);
		}
		s->arch.prepare_err = 0;
		CHECK(r == rn, seed, opi, "returned %d, naive %d", r, rn);

		/* One swap per CREATE/FLAGS_ONLY, two per DELETE/MOVE (also when rolled back). */
		change = kmmu_naive_last_change(s->naive);
		count_outcome(r, change);
		if (change == KMMU_MR_DELETE || change == KMMU_MR_MOVE)
			step = 2 * KMMU_ADDRESS_SPACE_NUM;
		else if (change >= 0 && !r)
			step = KMMU_ADDRESS_SPACE_NUM;
		else
			step = 0;
		for (as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++) {
			gen = kmmu_memslots_generation(kmmu_memslots_active(s->vm, as));
			CHECK(!(gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS), seed, opi, "gen in progress");
			CHECK(gen == gen_before[as] + (as == as_of(&q) ? step : 0), seed, opi,
			      "as %d generation %#" PRIx64 " -> %#" PRIx64 ", expected step %" PRIu64,
			      as, gen_before[as], gen, as == as_of(&q) ? step : 0);
		}

		ok = check_state(_metadata, s, seed, opi, opi % 64 == 0);
		if (ok) {
			unsigned int n0, n1;

			kmmu_naive_slots(s->naive, 0, &n0);
			kmmu_naive_slots(s->naive, 1, &n1);
			CHECK(s->arch.arch_live == n0 + n1, seed, opi, "%ld arch blobs for %u slots",
			      s->arch.arch_live, n0 + n1);
		}
	}
	*nops += opi;

	kmmu_memslots_destroy(s->vm);
	kmmu_naive_destroy(s->naive);
	CHECK(s->arch.arch_live == 0, seed, opi, "%ld arch blobs leaked", s->arch.arch_live);
	return ok;
}

TEST(random_sequences_match_naive_model)
{
	const char *env = getenv("KMMU_SEED");
	const char *secs = getenv("KMMU_PROPERTY_SECONDS");
	double limit = secs ? atof(secs) : 2.0, start = kmmu_now();
	uint64_t seed;
	long nops = 0;
	int i;

	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	ksft_print_msg("seed %" PRIu64 " (replay: KMMU_SEED=%" PRIu64 ")\n", seed, seed);
	fflush(stdout);
	urcu_memb_register_thread();
	for (i = 0; i == 0 || kmmu_now() - start < limit; i++) {
		if (!run_sequence(_metadata, seed + i, &nops)) {
			urcu_memb_unregister_thread();
			ASSERT_TRUE(false);
		}
	}
	ksft_print_msg("%d sequences, %ld requests in %.2fs: created %ld deleted %ld moved %ld "
		       "flags %ld no-op %ld -EINVAL %ld -EEXIST %ld injected %ld\n",
		       i, nops, kmmu_now() - start, outcome[O_CREATE], outcome[O_DELETE],
		       outcome[O_MOVE], outcome[O_FLAGS], outcome[O_NOP], outcome[O_EINVAL],
		       outcome[O_EEXIST], outcome[O_OTHER]);
	fflush(stdout);
	urcu_memb_unregister_thread();
}

TEST_HARNESS_MAIN
