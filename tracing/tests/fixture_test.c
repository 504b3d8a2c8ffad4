// SPDX-License-Identifier: GPL-2.0
/*
 * The checker on real traces: tracing/fixtures/ holds small memslot-churn
 * runs recorded on real KVM (Debian 6.1 kvm_amd in the project's test VM,
 * shadow paging and TDP), recorded with
 *
 *   ci/vm/run-in-vm --kvm-amd npt=0 -- env KMMU_TRACE_SAVE=DIR \
 *	build/selftests/memslot_churn_test -s 8 -n 150 -v 1 -S 42
 *   ci/vm/run-in-vm -- env KMMU_TRACE_SAVE=DIR \
 *	build/selftests/memslot_churn_test -s 8 -n 150 -v 2 -S 43
 *
 * Each must replay without a divergence, with the core properties judged
 * (not merely "not checkable"), and each of three kernel bugs planted in a
 * copy must be found: an SPTE for a deleted slot's gfn, MMIO emulated for a
 * GPA inside a live slot, and a removal whose zap is missing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kmmu/checker.h"
#include "kmmu/spte.h"
#include "kmmu/trace_file.h"
#include "test_paths.h"

#define PAGE_SHIFT 12

FIXTURE(fixture) {
	struct kmmu_trace_file tf;
	struct kmmu_check_result res;
};

FIXTURE_VARIANT(fixture) {
	const char *file;
};

FIXTURE_VARIANT_ADD(fixture, shadow) {
	.file = "churn-shadow-6.1.kmmutrace",
};

FIXTURE_VARIANT_ADD(fixture, tdp) {
	.file = "churn-tdp-6.1.kmmutrace",
};

FIXTURE_SETUP(fixture)
{
	KMMU_ASSERT_FIXTURE(variant->file, &self->tf);
}

FIXTURE_TEARDOWN(fixture)
{
	kmmu_trace_file_free(&self->tf);
}

/* A copy of the records with @rec inserted at @at. */
static struct kmmu_trace_record *with_inserted_n(const struct kmmu_trace_file *tf, uint64_t at,
						 const struct kmmu_trace_record *recs, uint64_t n)
{
	struct kmmu_trace_record *c = malloc((tf->nr + n) * sizeof(*c));

	if (!c)
		return NULL;
	memcpy(c, tf->recs, at * sizeof(*c));
	memcpy(c + at, recs, n * sizeof(*c));
	memcpy(c + at + n, tf->recs + at, (tf->nr - at) * sizeof(*c));
	return c;
}

static struct kmmu_trace_record *with_inserted(const struct kmmu_trace_file *tf, uint64_t at,
					       const struct kmmu_trace_record *rec)
{
	return with_inserted_n(tf, at, rec, 1);
}

/* Index of the first successful DELETE (size 0) of a slot, and its old gpa. */
static int64_t find_delete(const struct kmmu_trace_file *tf, uint64_t *old_gpa)
{
	uint64_t gpa_of[65536] = { 0 };

	for (uint64_t i = 0; i < tf->nr; i++) {
		const struct kmmu_trace_record *r = &tf->recs[i];

		if (r->type != KMMU_ACT_SET_MEMSLOT || r->memslot.ret || (r->memslot.slot >> 16))
			continue;
		if (r->memslot.size) {
			gpa_of[r->memslot.slot & 0xffff] = r->memslot.gpa;
		} else if (gpa_of[r->memslot.slot & 0xffff]) {
			*old_gpa = gpa_of[r->memslot.slot & 0xffff];
			return i;
		}
	}
	return -1;
}

/* How many divergences expect_found() wants: any, or all of the property's. */
#define ANY_COUNT	(-1)
#define ALL_OF_PROP	(-2)

/*
 * A planted bug is found: the checker replays @recs (the fixture's, or a
 * copy that is freed) and @prop fails, with @count divergences (or
 * ANY_COUNT, ALL_OF_PROP) and, unless @says is NULL, a report saying it.
 */
static void expect_found(struct __test_metadata *_metadata, const struct kmmu_trace_file *tf,
			 struct kmmu_trace_record *recs, uint64_t nr,
			 struct kmmu_check_result *res, enum kmmu_check_property prop, int count,
			 const char *says)
{
	int r = kmmu_check(recs, nr, NULL, res);

	if (recs != tf->recs)
		free(recs);
	ASSERT_EQ(0, r);
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(res, prop));
	if (count >= 0)
		EXPECT_EQ(count, res->nr_divergences) {
			TH_LOG("%s", res->first_divergence);
		}
	if (count == ALL_OF_PROP)
		EXPECT_EQ(res->divergences[prop], res->nr_divergences) {
			TH_LOG("%s", res->first_divergence);
		}
	if (says)
		EXPECT_NE(NULL, strstr(res->first_divergence, says)) {
			TH_LOG("%s", res->first_divergence);
		}
}

/* In a test of either fixture: its trace file and result. */
#define EXPECT_FOUND(recs, nr, prop, count, says) \
	expect_found(_metadata, &self->tf, recs, nr, &self->res, KMMU_PROP_##prop, count, says)

TEST_F(fixture, replays_clean)
{
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_FALSE(self->res.no_actions);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MEMSLOT_RESULT));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_UNBACKED));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_IN_SLOT));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_ON_REMOVE));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_NO_SPTE_AFTER_ZAP));
}

TEST_F(fixture, planted_spte_for_a_deleted_slot)
{
	struct kmmu_trace_record spte = { .type = KMMU_EV_SET_SPTE }, *c;
	uint64_t gpa = 0;
	int64_t del = find_delete(&self->tf, &gpa);

	ASSERT_LE(0, del);
	/* Right after the delete returned, before anything else happened. */
	spte.ts = self->tf.recs[del].ts;
	spte.pid = self->tf.recs[del].pid;
	spte.set_spte.gfn = gpa >> PAGE_SHIFT;
	spte.set_spte.level = 1;
	c = with_inserted(&self->tf, del + 1, &spte);
	ASSERT_NE(NULL, c);
	EXPECT_FOUND(c, self->tf.nr + 1, SPTE_IN_SLOT, 1, NULL);
}

TEST_F(fixture, planted_mmio_inside_a_live_slot)
{
	struct kmmu_trace_record mmio = { .type = KMMU_EV_MMIO }, *c;
	int64_t at = -1;

	/* After a successful, writable create: a write there must go to RAM. */
	for (uint64_t i = 0; i < self->tf.nr && at < 0; i++) {
		const struct kmmu_trace_record *r = &self->tf.recs[i];

		if (r->type == KMMU_ACT_SET_MEMSLOT && !r->memslot.ret && r->memslot.size &&
		    !(r->memslot.flags & 2) && !(r->memslot.slot >> 16))
			at = i;
	}
	ASSERT_LE(0, at);
	mmio.ts = self->tf.recs[at].ts;
	mmio.mmio.gpa = self->tf.recs[at].memslot.gpa + 8;
	mmio.mmio.type = 2;	/* KVM_TRACE_MMIO_WRITE */
	mmio.mmio.len = 8;
	c = with_inserted(&self->tf, at + 1, &mmio);
	ASSERT_NE(NULL, c);
	EXPECT_FOUND(c, self->tf.nr + 1, MMIO_UNBACKED, 1, NULL);
}

TEST_F(fixture, planted_missing_zap)
{
	struct kmmu_trace_record *c = malloc(self->tf.nr * sizeof(*c));
	uint64_t n = 0, removed = 0;

	ASSERT_NE(NULL, c);
	/* Drop every zap that happened while a memslot ioctl was in flight. */
	for (uint64_t i = 0; i < self->tf.nr; i++) {
		const struct kmmu_trace_record *r = &self->tf.recs[i];
		bool in_ioctl = false;

		if (r->type == KMMU_EV_ZAP_ALL_FAST || r->type == KMMU_EV_PREPARE_ZAP_PAGE) {
			for (uint64_t j = i + 1; j < self->tf.nr; j++) {
				const struct kmmu_trace_record *a = &self->tf.recs[j];

				if (a->type != KMMU_ACT_SET_MEMSLOT)
					continue;
				in_ioctl = a->memslot.start_ts <= r->ts;
				break;
			}
		}
		if (in_ioctl)
			removed++;
		else
			c[n++] = *r;
	}
	ASSERT_LT(0, removed);
	EXPECT_FOUND(c, n, ZAP_ON_REMOVE, ALL_OF_PROP, NULL);
}

/*
 * TDP MMU runs that capture kvm_tdp_mmu_spte_changed (every SPTE change)
 * and end with the kernel's page stats:
 *
 *   ci/vm/run-in-vm -- env KMMU_TRACE_SAVE=DIR \
 *	build/selftests/memslot_churn_test -s 4 -n 30 -v 2 -S 44
 *   ci/vm/run-in-vm -- env KMMU_TRACE_SAVE=DIR \
 *	build/selftests/aging_test --driver reclaim --hot-mb 1 --cold-mb 2
 *
 * pruned of the spte_changed records from non-present to non-present (the
 * zap of a table marks all 512 entries removed: 97% of a churn trace, and
 * no property reads them; the header says how many).  Both replay clean
 * with the page stats judged, the aging run with its three aging
 * properties judged; a stats count off by one, an Accessed clear outside
 * any aging pass, one that drops the Dirty bit and a second clear of an
 * idle page in a later pass must each be found.
 */
FIXTURE(tdp) {
	struct kmmu_trace_file tf;
	struct kmmu_check_result res;
};

FIXTURE_VARIANT(tdp) {
	const char *file;
	bool aging;
};

FIXTURE_VARIANT_ADD(tdp, churn) {
	.file = "churn-tdp-spte-6.1.kmmutrace",
};

FIXTURE_VARIANT_ADD(tdp, aging) {
	.file = "aging-tdp-6.1.kmmutrace",
	.aging = true,
};

FIXTURE_SETUP(tdp)
{
	KMMU_ASSERT_FIXTURE(variant->file, &self->tf);
}

FIXTURE_TEARDOWN(tdp)
{
	kmmu_trace_file_free(&self->tf);
}

/* The TDP fixtures were recorded on NPT (kvm_amd): the x86 page-table format. */
#define PRESENT	KMMU_SPTE_MMU_PRESENT_MASK
#define NPT_A	KMMU_PT_ACCESSED_MASK
#define NPT_D	KMMU_PT_DIRTY_MASK

/* Index of the first record of @type matching @want (NULL: any); -1 if none. */
static int64_t find_rec(const struct kmmu_trace_file *tf, unsigned int type,
			bool (*want)(const struct kmmu_trace_record *))
{
	for (uint64_t i = 0; i < tf->nr; i++)
		if (tf->recs[i].type == type && (!want || want(&tf->recs[i])))
			return i;
	return -1;
}

static bool is_young_leaf_install(const struct kmmu_trace_record *r)
{
	return !(r->spte_changed.old_spte & PRESENT) && (r->spte_changed.new_spte & PRESENT) &&
	       r->spte_changed.level == 1 && (r->spte_changed.new_spte & NPT_A);
}

static bool is_a_clear(const struct kmmu_trace_record *r)
{
	return (r->spte_changed.old_spte & PRESENT) && (r->spte_changed.old_spte & NPT_A) &&
	       !(r->spte_changed.new_spte & NPT_A);
}

static bool is_dirty_a_clear(const struct kmmu_trace_record *r)
{
	return is_a_clear(r) && (r->spte_changed.old_spte & NPT_D);
}

TEST_F(tdp, replays_clean)
{
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_IN_SLOT));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_PAGE_STATS));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));
	if (variant->aging) {
		EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_AGING_IN_PASS));
		EXPECT_EQ(KMMU_CHECK_PASS,
			  kmmu_check_verdict(&self->res, KMMU_PROP_AGING_KEEPS_DIRTY));
		EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_AGING_IDLE));
		EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_LEAF_CHANGE));
	} else {
		EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE,
			  kmmu_check_verdict(&self->res, KMMU_PROP_AGING_IN_PASS));
	}
}

TEST_F(tdp, planted_stats_off_by_one)
{
	int64_t at = find_rec(&self->tf, KMMU_ACT_STATS, NULL);

	ASSERT_LE(0, at);
	self->tf.recs[at].stats.pages[0]++;
	EXPECT_FOUND(self->tf.recs, self->tf.nr, PAGE_STATS, 1, "pages_4k");
}

/* Right after a young leaf was installed, a task that is in no aging pass clears A. */
TEST_F(tdp, planted_a_clear_outside_aging)
{
	int64_t at = find_rec(&self->tf, KMMU_EV_SPTE_CHANGED, is_young_leaf_install);
	struct kmmu_trace_record clear, *c;

	ASSERT_LE(0, at);
	clear = self->tf.recs[at];
	clear.pid = 999999;
	clear.spte_changed.old_spte = self->tf.recs[at].spte_changed.new_spte;
	clear.spte_changed.new_spte = clear.spte_changed.old_spte & ~NPT_A;
	c = with_inserted(&self->tf, at + 1, &clear);
	ASSERT_NE(NULL, c);
	EXPECT_FOUND(c, self->tf.nr + 1, AGING_IN_PASS, 1, NULL);
}

/* A real aging clear of a written page that also drops its Dirty bit. */
TEST_F(tdp, planted_a_clear_dropping_dirty)
{
	int64_t at;

	if (!variant->aging)
		SKIP(return, "no aging in this run");
	at = find_rec(&self->tf, KMMU_EV_SPTE_CHANGED, is_dirty_a_clear);
	ASSERT_LE(0, at);
	self->tf.recs[at].spte_changed.new_spte &= ~NPT_D;
	EXPECT_FOUND(self->tf.recs, self->tf.nr, AGING_KEEPS_DIRTY, 1, NULL);
}

static bool is_leaf_install(const struct kmmu_trace_record *r)
{
	return !(r->spte_changed.old_spte & PRESENT) && (r->spte_changed.new_spte & PRESENT) &&
	       r->spte_changed.level == 1;
}

/*
 * The kernel counts far fewer 4K leaves than the trace left: more than
 * other tasks' unmaps of guest memory could have removed untraced.
 */
TEST_F(tdp, planted_stats_shortfall)
{
	int64_t at = find_rec(&self->tf, KMMU_ACT_STATS, NULL);

	/* Reclaim's unmaps there cover more than every leaf the trace left. */
	if (variant->aging)
		SKIP(return, "other tasks' unmaps may have removed every leaf");
	ASSERT_LE(0, at);
	ASSERT_LT(0, self->tf.recs[at].stats.pages[0]);
	self->tf.recs[at].stats.pages[0] = 0;
	EXPECT_FOUND(self->tf.recs, self->tf.nr, PAGE_STATS, ANY_COUNT, "pages_4k");
}

/* check_mmio_spte traced a generation its SPTE does not hold. */
TEST_F(tdp, planted_check_mmio_generation)
{
	int64_t at = find_rec(&self->tf, KMMU_EV_CHECK_MMIO_SPTE, NULL);

	if (at < 0)
		SKIP(return, "no check_mmio_spte in this run");
	self->tf.recs[at].check_mmio.spte_gen ^= 1;
	EXPECT_FOUND(self->tf.recs, self->tf.nr, MMIO_CHECK, ANY_COUNT, "traced");
}

/*
 * A leaf install recorded twice: the second does not start from the
 * first's SPTE.  The run's last install, away from the memslot ioctls and
 * other tasks' unmaps of the start.
 */
TEST_F(tdp, planted_repeated_install)
{
	struct kmmu_trace_record *c;
	int64_t at = -1;

	for (uint64_t i = 0; i < self->tf.nr; i++)
		if (self->tf.recs[i].type == KMMU_EV_SPTE_CHANGED &&
		    is_leaf_install(&self->tf.recs[i]))
			at = i;
	ASSERT_LE(0, at);
	c = with_inserted(&self->tf, at + 1, &self->tf.recs[at]);
	ASSERT_NE(NULL, c);
	EXPECT_FOUND(c, self->tf.nr + 1, SPTE_HISTORY, ANY_COUNT, "previous traced change");
}

/* A TDP leaf installed (no kvm_mmu_set_spte) for a gfn no slot holds. */
TEST_F(tdp, planted_leaf_install_outside_the_slots)
{
	int64_t at = find_rec(&self->tf, KMMU_EV_SPTE_CHANGED, is_leaf_install);
	struct kmmu_trace_record rec, *c;

	ASSERT_LE(0, at);
	rec = self->tf.recs[at];
	rec.spte_changed.gfn = 0xfff00000;
	c = with_inserted(&self->tf, at + 1, &rec);
	ASSERT_NE(NULL, c);
	EXPECT_FOUND(c, self->tf.nr + 1, SPTE_IN_SLOT, ANY_COUNT, "gfn 0xfff00000 is in no live");
}

/* An aging clear that also moves the leaf to another page. */
TEST_F(tdp, planted_leaf_moved_in_place)
{
	int64_t at;

	if (!variant->aging)
		SKIP(return, "no aging in this run");
	at = find_rec(&self->tf, KMMU_EV_SPTE_CHANGED, is_a_clear);
	ASSERT_LE(0, at);
	self->tf.recs[at].spte_changed.new_spte ^= 1ull << 12;
	EXPECT_FOUND(self->tf.recs, self->tf.nr, LEAF_CHANGE, ANY_COUNT, "in place");
}

/*
 * Whether the leaf the change @at leaves is never dropped after it: a
 * copy of the change later in the run then still changes a live leaf
 * (SPTE_HISTORY holds).
 */
static bool live_to_the_end(const struct kmmu_trace_file *tf, uint64_t at)
{
	const struct kmmu_trace_record *c = &tf->recs[at];

	for (uint64_t i = at + 1; i < tf->nr; i++) {
		const struct kmmu_trace_record *r = &tf->recs[i];

		if (r->type == KMMU_EV_SPTE_CHANGED && r->spte_changed.gfn == c->spte_changed.gfn &&
		    r->spte_changed.level == c->spte_changed.level &&
		    r->spte_changed.as_id == c->spte_changed.as_id &&
		    !(r->spte_changed.new_spte & KMMU_SPTE_MMU_PRESENT_MASK))
			return false;
	}
	return true;
}

/*
 * The last aging pass of the run finds young again an idle page an earlier
 * pass (after the idle declaration) had already found young.
 */
TEST_F(tdp, planted_idle_page_young_twice)
{
	const struct kmmu_trace_record *idle;
	struct kmmu_trace_record again[2], *c;
	int64_t at = find_rec(&self->tf, KMMU_ACT_IDLE, NULL), first = -1, pass = -1, last;
	uint64_t n = self->tf.nr;

	if (!variant->aging)
		SKIP(return, "no idle memory in this run");
	ASSERT_LE(0, at);
	idle = &self->tf.recs[at];
	for (uint64_t i = at; i < n && first < 0; i++) {
		const struct kmmu_trace_record *r = &self->tf.recs[i];

		if (r->type == KMMU_EV_AGE_HVA)
			pass = i;
		if (r->type == KMMU_EV_SPTE_CHANGED && is_a_clear(r) && !r->spte_changed.as_id &&
		    r->spte_changed.gfn >= idle->idle.gpa >> PAGE_SHIFT &&
		    r->spte_changed.gfn < (idle->idle.gpa + idle->idle.size) >> PAGE_SHIFT &&
		    live_to_the_end(&self->tf, i))
			first = i;
	}
	ASSERT_LE(0, first);
	ASSERT_LE(0, pass);
	/* A copy of that pass's start and the clear, at the end of the run. */
	last = find_rec(&self->tf, KMMU_ACT_STATS, NULL);
	ASSERT_LT(first, last);
	again[0] = self->tf.recs[pass];
	again[1] = self->tf.recs[first];
	again[0].ts = again[1].ts = self->tf.recs[last].ts - 1;
	/* Another task: its pass, not the one of the first clear. */
	again[0].pid = again[1].pid = 999999;
	c = with_inserted_n(&self->tf, last, again, 2);
	ASSERT_NE(NULL, c);
	EXPECT_FOUND(c, n + 2, AGING_IDLE, ALL_OF_PROP, NULL);
}

TEST_HARNESS_MAIN
