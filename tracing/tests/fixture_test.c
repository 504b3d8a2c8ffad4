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
#include "kmmu/trace_file.h"

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
	const char *dir = getenv("KMMU_FIXTURE_DIR");
	char path[512], err[512];

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tracing/fixtures", variant->file);
	ASSERT_EQ(0, kmmu_trace_file_read(path, &self->tf, err, sizeof(err))) {
		TH_LOG("%s (run from the repository root or set KMMU_FIXTURE_DIR)", err);
	}
}

FIXTURE_TEARDOWN(fixture)
{
	kmmu_trace_file_free(&self->tf);
}

/* A copy of the records with @rec inserted at @at. */
static struct kmmu_trace_record *with_inserted(const struct kmmu_trace_file *tf, uint64_t at,
					       const struct kmmu_trace_record *rec)
{
	struct kmmu_trace_record *c = malloc((tf->nr + 1) * sizeof(*c));

	if (!c)
		return NULL;
	memcpy(c, tf->recs, at * sizeof(*c));
	c[at] = *rec;
	memcpy(c + at + 1, tf->recs + at, (tf->nr - at) * sizeof(*c));
	return c;
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
	ASSERT_EQ(0, kmmu_check(c, self->tf.nr + 1, NULL, &self->res));
	free(c);
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_IN_SLOT));
	EXPECT_EQ(1, self->res.nr_divergences);
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
	ASSERT_EQ(0, kmmu_check(c, self->tf.nr + 1, NULL, &self->res));
	free(c);
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_UNBACKED));
	EXPECT_EQ(1, self->res.nr_divergences);
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
	ASSERT_EQ(0, kmmu_check(c, n, NULL, &self->res));
	free(c);
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_ON_REMOVE));
	EXPECT_EQ(self->res.divergences[KMMU_PROP_ZAP_ON_REMOVE], self->res.nr_divergences);
}

TEST_HARNESS_MAIN
