// SPDX-License-Identifier: GPL-2.0
/*
 * The checker on small hand-made histories (checker_history.h): each
 * property passes on a history a correct kernel produces, fails on one with
 * the planted mistake, and is reported not checkable when its events are
 * absent.  This file: the checker as a whole -- a correct history passes
 * every property, input it cannot judge is refused, a history without the
 * test's actions judges nothing, and many tasks' aging passes stay apart.
 * The property families have a file each: checker_memslot_test.c (SPTEs
 * and memslots, zaps), checker_spte_history_test.c (SPTE histories, page
 * stats, splits), checker_mmio_test.c (MMIO exits and generations).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checker_history.h"

TEST_F(chk, correct_history_passes)
{
	mmio(&self->h, 0x200000, 2);		/* unbacked: fine */
	memslot_zapping(&self->h, 0, 0x100, 0, 0);	/* a delete that zaps */
	mmio(&self->h, 0x105000, 1);		/* now unbacked */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MEMSLOT_RESULT));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_IN_SLOT));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_UNBACKED));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_ON_REMOVE));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_NO_SPTE_AFTER_ZAP));
	EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE,
		  kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GENERATION));
}

TEST_F(chk, unsorted_or_foreign_records_are_refused)
{
	add(&self->h, KMMU_EV_SET_SPTE)->ts = 1;
	EXPECT_EQ(-EINVAL, check(&self->h, &self->res));
	self->h.nr--;
	add(&self->h, KMMU_EV_SET_SPTE)->type = 999;
	EXPECT_EQ(-EINVAL, check(&self->h, &self->res));
}

/*
 * Every task's aging pass is its own, however many tasks age: 300 of them
 * each age the slot and clear the Accessed bit of one of its SPTEs.
 */
TEST(aging_passes_of_many_tasks)
{
	const uint64_t present = 1ull << 11, accessed = 1ull << 5;
	const int tasks = 300, nr = 2 + 2 * tasks;
	struct kmmu_trace_record *recs = calloc(nr, sizeof(*recs)), *r;
	struct kmmu_check_result res;

	ASSERT_NE(NULL, recs);
	for (int i = 0; i < nr; i++)
		recs[i].ts = 1000 * (i + 1);
	recs[0].type = KMMU_ACT_HOST;
	recs[0].host.backend = KMMU_HOST_SVM;
	recs[0].host.tdp = recs[0].host.tdp_mmu = 1;
	r = &recs[1];
	r->type = KMMU_ACT_SET_MEMSLOT;
	r->memslot.start_ts = r->ts - 500;
	r->memslot.gpa = 0x100000;
	r->memslot.size = 16 << 12;
	r->memslot.hva = HVA;
	for (int t = 0; t < tasks; t++) {
		r = &recs[2 + 2 * t];
		r->type = KMMU_EV_AGE_HVA;
		r->pid = 1000 + t;
		r->hva_range.start = HVA;
		r->hva_range.end = HVA + (16 << 12);
		r++;
		r->type = KMMU_EV_SPTE_CHANGED;
		r->pid = 1000 + t;
		r->spte_changed.gfn = 0x100 + t % 16;
		r->spte_changed.level = 1;
		r->spte_changed.old_spte = present | accessed | 0x1234000;
		r->spte_changed.new_spte = present | 0x1234000;
	}
	ASSERT_EQ(0, kmmu_check(recs, nr, NULL, &res));
	EXPECT_EQ(0, res.nr_divergences) {
		TH_LOG("%s", res.first_divergence);
	}
	EXPECT_EQ(tasks, res.checked[KMMU_PROP_AGING_IN_PASS]);
	free(recs);
}
TEST(no_actions_nothing_judged)
{
	struct kmmu_check_result res;
	struct history h = { 0 };

	set_spte(&h, 0x105);
	mmio(&h, 0x105000, 1);
	ASSERT_EQ(0, kmmu_check(h.recs, h.nr, NULL, &res));
	EXPECT_TRUE(res.no_actions);
	EXPECT_EQ(0, res.nr_divergences);
	for (int p = 0; p < KMMU_PROP_NR; p++)
		EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE, kmmu_check_verdict(&res, p));
}

TEST_HARNESS_MAIN
