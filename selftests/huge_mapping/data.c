// SPDX-License-Identifier: GPL-2.0
/*
 * hm.thp_data and hm.hugetlb_data's runs: the layouts (slots that KVM may
 * and may not map 2M), the rounds of guest and host writes checked through
 * both views, and KVM's pages_2m around each slot's first touch against
 * the 2M frames it may and must map.  Returns 0 or -errno with the reason:
 * the verdicts are huge_mapping_test.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "huge_mapping.h"
#include "kmmu/pagemap.h"

/* ---- hm.thp_data and hm.hugetlb_data ---- */

/* An order to write n pages in: stride 1, n - 1 (backwards) or a prime. */
static uint64_t hm_stride(struct hm_ctx *c, uint64_t n)
{
	static const uint64_t primes[] = { 7919, 8191, 131071 };
	uint64_t r = kmmu_ss_rand(&c->rng), p = primes[(r >> 8) % 3];

	switch (r % 3) {
	case 1:
		return n > 1 ? n - 1 : 1;
	case 2:
		return n % p ? p : 1;
	default:
		return 1;
	}
}

/*
 * Transparent huge pages.  Window A: aligned; a tail inside a frame; a
 * head in the same frame (the two share it); a slot whose host address is
 * 4K past its guest address modulo 2M; two 1M slots that share a frame.
 * Window B changes congruence and alignment: the aligned slot becomes
 * incongruent, the incongruent one congruent (with a head and a tail).
 */
static const struct hm_bufdef hm_thp_bufs[] = {
	{ HM_BK_THP, 4 * HM_MB }, { HM_BK_THP, 4 * HM_MB }, { HM_BK_THP, 6 * HM_MB },
	{ HM_BK_THP, 6 * HM_MB }, { HM_BK_THP, 2 * HM_MB }, { HM_BK_THP, 2 * HM_MB },
};

static const struct hm_slotdef hm_thp_slots[] = {
	{ "aligned", 0, 0, 4 * HM_MB, { 0, 4096 } },
	{ "tail", 1, 0, 3 * HM_MB + 16384, { 4 * HM_MB, 6 * HM_MB } },
	{ "head", 2, HM_MB + 16384, 5 * HM_MB - 16384, { 7 * HM_MB + 16384, 11 * HM_MB + 16384 } },
	{ "incongruent", 3, 4096, 4 * HM_MB, { 12 * HM_MB, 16 * HM_MB + 4096 } },
	{ "half-low", 4, 0, HM_MB, { 16 * HM_MB, 22 * HM_MB } },
	{ "half-high", 5, HM_MB, HM_MB, { 17 * HM_MB, 23 * HM_MB } },
};

/*
 * hugetlb: aligned (2 frames, then incongruent), a tail (1 frame, then a
 * misaligned incongruent start), an incongruent slot (none, then 1 frame
 * between a head and a tail).
 */
static const struct hm_bufdef hm_hugetlb_bufs[] = {
	{ HM_BK_HUGETLB, 4 * HM_MB }, { HM_BK_HUGETLB, 4 * HM_MB }, { HM_BK_HUGETLB, 4 * HM_MB },
};

static const struct hm_slotdef hm_hugetlb_slots[] = {
	{ "aligned", 0, 0, 4 * HM_MB, { 0, 4096 } },
	{ "tail", 1, 0, 3 * HM_MB, { 4 * HM_MB, 5 * HM_MB } },
	{ "incongruent", 2, 4096, 4 * HM_MB - 4096, { 8 * HM_MB, 12 * HM_MB + 4096 } },
};

#define HM_NR(a)	((int)(sizeof(a) / sizeof((a)[0])))

const struct hm_layout hm_thp_layout = {
	hm_thp_bufs, HM_NR(hm_thp_bufs), hm_thp_slots, HM_NR(hm_thp_slots),
};

const struct hm_layout hm_hugetlb_layout = {
	hm_hugetlb_bufs, HM_NR(hm_hugetlb_bufs), hm_hugetlb_slots, HM_NR(hm_hugetlb_slots),
};


/* 2M frames of slot @s at @gpa that KVM may map huge (lpage_info allows). */
static uint64_t hm_eligible(struct hm_ctx *c, int s, uint64_t gpa)
{
	struct hm_slot *sl = &c->slot[s];
	uint64_t hva = (uintptr_t)hm_hva(c, sl), f, n = 0;

	if ((gpa ^ hva) & (HM_HUGE - 1))
		return 0;
	for (f = (gpa + HM_HUGE - 1) & ~(HM_HUGE - 1); f + HM_HUGE <= gpa + sl->size; f += HM_HUGE)
		n++;
	return n;
}

/* Backing 2M pages of slot @s the host maps with a PMD (-1: unknown). */
static long hm_backed_2m(struct hm_ctx *c, int s)
{
	struct hm_buf *b = &c->buf[c->slot[s].buf];

	if (b->kind == HM_BK_HUGETLB)
		return b->size / HM_HUGE;
	return kmmu_anon_huge_pages(b->base);
}

struct hm_map_stats {
	int64_t eligible, thp_lo;	/* what KVM may map 2M, at least must */
	int64_t d2m, d4k;		/* pages_2m / pages_4k deltas */
	long thp;			/* the buffer's PMD-mapped 2M pages, -1: unknown */
	bool known;
};

/*
 * One round of the data tests: slot by slot (in a seeded order) one vCPU
 * writes generation @gen, KVM's page counts are read around it and the
 * host checks the slot; then the other vCPU reads everything through both
 * views; then the host writes @gen + 1 and both read it.
 */
static int hm_data_round(struct hm_ctx *c, int round, uint64_t gen, char *err, size_t len)
{
	int order[HM_MAX_SLOTS], i, j, s, r, writer = round % HM_NR_VCPUS;
	struct hm_map_stats ms[HM_MAX_SLOTS];
	uint64_t a2 = 0, a4 = 0, b2 = 0, b4 = 0, n;
	long thp_before, thp_after;

	for (i = 0; i < c->nr_slots; i++)
		order[i] = i;
	for (i = c->nr_slots - 1; i > 0; i--) {
		j = kmmu_ss_rand(&c->rng) % (i + 1);
		s = order[i];
		order[i] = order[j];
		order[j] = s;
	}
	for (i = 0; i < c->nr_slots; i++) {
		struct hm_slot *sl = &c->slot[order[i]];

		s = order[i];
		n = sl->size / HM_PAGE;
		snprintf(c->phase, sizeof(c->phase), "round %d: vCPU %d writes generation %llu into slot %s (gpa %#llx, %llu KiB, hva %p)",
			 round, writer, (unsigned long long)gen, sl->name,
			 (unsigned long long)sl->gpa, (unsigned long long)(sl->size >> 10),
			 hm_hva(c, sl));
		c->sh->arg[0] = s;
		c->sh->arg[1] = gen;
		c->sh->arg[2] = writer;
		c->sh->arg[3] = kmmu_ss_rand(&c->rng) % n;
		/* A stride coprime with n: 1, n - 1 (backwards), or a prime. */
		c->sh->arg[4] = hm_stride(c, n);
		thp_before = hm_backed_2m(c, s);
		ms[s].known = !hm_stat(c, "pages_2m", &b2) && !hm_stat(c, "pages_4k", &b4);
		r = hm_step(c, HM_WRITE, err, len);
		if (r)
			return r;
		ms[s].known &= !hm_stat(c, "pages_2m", &a2) && !hm_stat(c, "pages_4k", &a4);
		thp_after = hm_backed_2m(c, s);
		ms[s].eligible = hm_eligible(c, s, sl->gpa);
		ms[s].d2m = (int64_t)(a2 - b2);
		ms[s].d4k = (int64_t)(a4 - b4);
		/*
		 * At least every eligible frame that was a PMD-mapped THP
		 * before and after: the buffer's other frames are the slot's
		 * non-eligible ones (or lie outside it).
		 */
		thp_before = thp_before < thp_after ? thp_before : thp_after;
		ms[s].thp = thp_before;
		n = c->buf[sl->buf].size / HM_HUGE - ms[s].eligible;
		ms[s].thp_lo = thp_before > (long)n ? thp_before - (long)n : 0;
		if (thp_before < 0)
			ms[s].thp_lo = 0;
		for (n = 0; n < sl->size / HM_PAGE; n++)
			hm_set_exp_page(c, s, n, hm_pat(HM_TAG_GUEST, s, n, gen));
		r = hm_host_check_slot(c, s, err, len);
		if (r)
			return r;
	}
	for (s = 0; s < c->nr_slots; s++) {
		struct hm_slot *sl = &c->slot[s];

		ksft_print_msg("round %d: slot %-11s gpa %#llx +%5llu KiB hva %p (buffer %ld/%zu 2M pages PMD-mapped): 2M frames KVM may map %lld, of them huge-backed >= %lld; KVM mapped %s%lld 2M, %lld 4K\n",
			       round, sl->name, (unsigned long long)sl->gpa,
			       (unsigned long long)(sl->size >> 10), hm_hva(c, sl), ms[s].thp,
			       c->buf[sl->buf].size / HM_HUGE,
			       (long long)ms[s].eligible, (long long)ms[s].thp_lo,
			       ms[s].known ? "" : "(stats unknown) ",
			       (long long)ms[s].d2m, (long long)ms[s].d4k);
		if (!ms[s].known)
			continue;
		if (ms[s].d2m > ms[s].eligible) {
			snprintf(err, len, "round %d: KVM mapped %lld 2M pages while the guest first touched slot %s (gpa %#llx, %llu KiB, hva %p), which has only %lld 2M frames KVM may map huge (unaligned head or tail, or host address not congruent with the guest address modulo 2M): a huge mapping reaches beyond the slot or onto misaligned memory",
				 round, (long long)ms[s].d2m, sl->name,
				 (unsigned long long)sl->gpa, (unsigned long long)(sl->size >> 10),
				 hm_hva(c, sl), (long long)ms[s].eligible);
			return -1;
		}
		if (ms[s].d2m < ms[s].thp_lo) {
			snprintf(err, len, "round %d: KVM mapped only %lld 2M pages for slot %s (gpa %#llx, %llu KiB, hva %p), whose %lld eligible frames include at least %lld backed by PMD-mapped huge pages: it mapped 4K where 2M was possible",
				 round, (long long)ms[s].d2m, sl->name,
				 (unsigned long long)sl->gpa, (unsigned long long)(sl->size >> 10),
				 hm_hva(c, sl), (long long)ms[s].eligible,
				 (long long)ms[s].thp_lo);
			return -1;
		}
	}
	snprintf(c->phase, sizeof(c->phase), "round %d: checking the host memory outside the slots after vCPU %d's stores",
		 round, writer);
	r = hm_foreign(c, false, err, len);
	if (r)
		return r;
	snprintf(c->phase, sizeof(c->phase), "round %d: vCPU %d reads generation %llu of every slot through both views",
		 round, !writer, (unsigned long long)gen);
	c->sh->arg[0] = 1 << !writer;
	c->sh->arg[1] = 3;
	c->sh->arg[2] = ~0ULL;
	r = hm_step(c, HM_CHECK, err, len);
	if (r)
		return r;
	for (s = 0; s < c->nr_slots; s++)
		hm_host_write_slot(c, s, gen + 1);
	if (round == 0 && hm_inject("swap")) {
		/* Two pages of the first 2M frame of the aligned slot trade places. */
		uint8_t *h = hm_hva(c, &c->slot[0]);
		uint64_t x = hm_w0(h + 5 * HM_PAGE), y = hm_w0(h + 6 * HM_PAGE);

		hm_put(h + 5 * HM_PAGE, y);
		hm_put(h + 6 * HM_PAGE, x);
		ksft_print_msg("INJECTED: pages 5 and 6 of slot %s swapped behind the guest's back\n",
			       c->slot[0].name);
	}
	snprintf(c->phase, sizeof(c->phase), "round %d: both vCPUs read the host's generation %llu of every slot through both views",
		 round, (unsigned long long)gen + 1);
	c->sh->arg[0] = 3;
	r = hm_step(c, HM_CHECK, err, len);
	if (r)
		return r;
	return hm_foreign(c, false, err, len);
}

/* Page @gpa as a probe, while there is room. */
static void hm_probe_add(struct hm_ctx *c, uint64_t gpa)
{
	if (c->sh->nr_probes < HM_MAX_PROBES)
		c->sh->probe_gpa[c->sh->nr_probes++] = gpa;
}

/*
 * Places the layout for @round: create at A, MOVE to B, DELETE and create
 * at A...  The places the slots left -- their first and last pages and
 * both sides of every 2M boundary in them -- become probes: the guest
 * must find no memory there any more.
 */
static int hm_data_place(struct hm_ctx *c, const struct hm_slotdef *defs, int round,
			 char *err, size_t len)
{
	int s, r, where = round % 2;
	bool move = round % 2 == 1;
	uint64_t f;

	c->sh->nr_probes = 0;
	for (s = 0; round && s < c->nr_slots; s++) {
		uint64_t g = c->slot[s].gpa, end = g + c->slot[s].size;

		hm_probe_add(c, g);
		hm_probe_add(c, end - HM_PAGE);
		for (f = (g + HM_HUGE) & ~(HM_HUGE - 1); f < end; f += HM_HUGE) {
			hm_probe_add(c, f - HM_PAGE);
			hm_probe_add(c, f);
		}
	}
	if (round && !move) {
		for (s = 0; s < c->nr_slots; s++) {
			r = hm_unplace(c, s, err, len);
			if (r)
				return r;
		}
	}
	/* Window B's places overlap window A's in no slot: MOVEs never collide. */
	for (s = 0; s < c->nr_slots; s++) {
		r = hm_place(c, s, (where ? HM_WIN_B : HM_WIN_A) + defs[s].at[where],
			     move, err, len);
		if (r)
			return r;
	}
	return 0;
}

int hm_data_setup(struct hm_ctx *c, const struct hm_layout *layout, char *err, size_t len)
{
	const struct hm_bufdef *bufs = layout->bufs;
	const struct hm_slotdef *slots = layout->slots;
	int i, r, nr_bufs = layout->nr_bufs, nr_slots = layout->nr_slots;

	for (i = 0; i < nr_bufs; i++) {
		r = hm_buf_alloc(c, bufs[i].kind, bufs[i].size, err, len);
		if (r)
			return r;
	}
	for (i = 0; i < nr_slots; i++)
		hm_slot_def(c, slots[i].name, slots[i].buf, slots[i].off, slots[i].size,
			    HM_WIN_A + slots[i].at[0]);
	/* Every page written once by the host: THPs are allocated now. */
	return hm_foreign(c, true, err, len);
}

int hm_data_run(struct hm_ctx *c, struct kmmu_trace_session *trace,
		const struct hm_layout *layout, char *err, size_t len)
{
	const struct hm_slotdef *defs = layout->slots;
	int round, s, r;

	r = hm_vm_start(c, trace, HM_WIN_A, HM_WIN_B, HM_WIN_SIZE, err, len);
	if (r)
		return r;
	for (s = 0; s < c->nr_slots; s++)
		hm_host_write_slot(c, s, 0);
	/* Loads from places no slot covers (any more) exit; the handler answers. */
	c->mmio_lo[0] = HM_WIN_A;
	c->mmio_hi[0] = HM_WIN_B + HM_WIN_SIZE;
	for (round = 0; round < hm_opts.rounds; round++) {
		snprintf(c->phase, sizeof(c->phase), "round %d: placing the slots", round);
		r = hm_data_place(c, defs, round, err, len);
		if (r)
			return r;
		if (c->sh->nr_probes) {
			snprintf(c->phase, sizeof(c->phase), "round %d: vCPU %d reads %llu pages the slots %s",
				 round, !(round % HM_NR_VCPUS), (unsigned long long)c->sh->nr_probes,
				 round % 2 ? "moved away from" : "were deleted from");
			c->sh->arg[0] = 1 << !(round % HM_NR_VCPUS);
			r = hm_step(c, HM_GONE, err, len);
			c->sh->nr_probes = 0;
			if (r)
				return r;
		}
		r = hm_data_round(c, round, 2 * round + 1, err, len);
		if (r)
			return r;
	}
	return 0;
}
