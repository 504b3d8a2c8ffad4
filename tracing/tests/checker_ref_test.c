// SPDX-License-Identifier: GPL-2.0
/*
 * The reference MMU in the checker's loop: the judgements the checker
 * takes from ref/'s VM rather than from rules of its own, each shown on
 * a real trace altered in one record (the bug it must flag) and on benign
 * alterations it must pass, and on small hand-made histories where a real
 * trace has no such event.
 *
 * tracing/fixtures/huge-tdp-6.1.kmmutrace is huge_mapping_test's
 * invalid_memslots run on Debian's 6.1 with the TDP MMU (kvm_amd, NPT),
 * from the corpus the nightly keeps: slot 0:2 (gpa 4 GiB, 4 MiB, host
 * memory 2M-aligned) is mapped with 2M SPTEs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>

#include <urcu/urcu-memb.h>

#include "checker_history.h"
#include "kmmu/mmu.h"
#include "kmmu/table_free.h"
#include "kmmu/trace_file.h"
#include "kmmu/zap.h"

#define HUGE_FIXTURE	"huge-tdp-6.1.kmmutrace"
#define HUGE_SLOT	2		/* the slot with the 2M SPTEs */

/* tracing/fixtures/@file (or in $KMMU_FIXTURE_DIR); 0 or -errno with @err. */
static int read_fixture(const char *file, struct kmmu_trace_file *tf, char *err, size_t len)
{
	const char *dir = getenv("KMMU_FIXTURE_DIR");
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tracing/fixtures", file);
	return kmmu_trace_file_read(path, tf, err, len);
}

FIXTURE(huge) {
	struct kmmu_trace_file tf;
	struct kmmu_check_result res;
	int64_t create;			/* the record creating HUGE_SLOT */
};

FIXTURE_SETUP(huge)
{
	char err[512];

	ASSERT_EQ(0, read_fixture(HUGE_FIXTURE, &self->tf, err, sizeof(err)))
		TH_LOG("%s (run from the repository root or set KMMU_FIXTURE_DIR)", err);
	self->create = -1;
	for (uint64_t i = 0; i < self->tf.nr && self->create < 0; i++) {
		const struct kmmu_trace_record *r = &self->tf.recs[i];

		if (r->type == KMMU_ACT_SET_MEMSLOT && r->memslot.slot == HUGE_SLOT &&
		    r->memslot.size && !r->memslot.ret)
			self->create = i;
	}
	ASSERT_LE(0, self->create) TH_LOG("slot %d is never created in the fixture", HUGE_SLOT);
}

FIXTURE_TEARDOWN(huge)
{
	kmmu_trace_file_free(&self->tf);
}

static struct kmmu_trace_record *huge_create(struct _test_data_huge *self)
{
	return &self->tf.recs[self->create];
}

/* The fixture (as altered) replays without a divergence, huge SPTEs judged. */
static void expect_clean(struct __test_metadata *_metadata, struct _test_data_huge *self)
{
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_HUGE_ALLOWED));
	EXPECT_LE(10, self->res.checked[KMMU_PROP_HUGE_ALLOWED]);
}

/* HUGE_ALLOWED fails, and only it, with a report saying @says. */
static void expect_huge_flagged(struct __test_metadata *_metadata, struct _test_data_huge *self,
				const char *says)
{
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_HUGE_ALLOWED));
	EXPECT_EQ(self->res.divergences[KMMU_PROP_HUGE_ALLOWED], self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_NE(NULL, strstr(self->res.first_divergence, says)) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

TEST_F(huge, replays_clean)
{
	expect_clean(_metadata, self);
}

/*
 * The slot's host memory 4K off the 2M alignment of its gfns: the
 * reference's lpage_info allows no 2M page in it, so every 2M SPTE the
 * kernel installed there is one the reference's fault would not make.
 */
TEST_F(huge, planted_misaligned_host_memory)
{
	huge_create(self)->memslot.hva += 0x1000;
	expect_huge_flagged(_metadata, self, "the reference maps gfn");
}

/* The slot created with dirty logging: the reference maps it 4K only. */
TEST_F(huge, planted_dirty_logging)
{
	huge_create(self)->memslot.flags |= KVM_MEM_LOG_DIRTY_PAGES;
	expect_huge_flagged(_metadata, self, "logs dirty pages");
}

/* Benign: the host memory moved by 2M keeps gfns and hvas aligned alike. */
TEST_F(huge, benign_host_memory_moved_by_2m)
{
	huge_create(self)->memslot.hva += 0x200000;
	expect_clean(_metadata, self);
}

/*
 * tracing/fixtures/churn-tdp-spte-6.1.kmmutrace: memslot_churn_test on the
 * TDP MMU, every SPTE change traced, the VM created in the trace; each
 * DELETE and MOVE fast-zaps, and the kernel's drops follow.
 */
#define TDP_FIXTURE	"churn-tdp-spte-6.1.kmmutrace"

/* A fixture @name: the fixture trace @file, read afresh for each test, and a result. */
#define TRACE_FIXTURE(name, file)						\
FIXTURE(name) {									\
	struct kmmu_trace_file tf;						\
	struct kmmu_check_result res;						\
};										\
										\
FIXTURE_SETUP(name)								\
{										\
	char err[512];								\
										\
	ASSERT_EQ(0, read_fixture(file, &self->tf, err, sizeof(err)))		\
		TH_LOG("%s (run from the repository root or set KMMU_FIXTURE_DIR)", err); \
}										\
										\
FIXTURE_TEARDOWN(name)								\
{										\
	kmmu_trace_file_free(&self->tf);					\
}

TRACE_FIXTURE(tdp, TDP_FIXTURE)

/* The fixture's records without the one at @at (in place). */
static void remove_rec(struct kmmu_trace_file *tf, uint64_t at)
{
	memmove(&tf->recs[at], &tf->recs[at + 1], (tf->nr - at - 1) * sizeof(tf->recs[0]));
	tf->nr--;
}

/* The @nth kvm_mmu_zap_all_fast of the trace (from 0); -1 if none. */
static int64_t find_zap_all_fast(const struct kmmu_trace_file *tf, unsigned int nth)
{
	for (uint64_t i = 0; i < tf->nr; i++)
		if (tf->recs[i].type == KMMU_EV_ZAP_ALL_FAST && !nth--)
			return i;
	return -1;
}

static bool is_leaf_drop(const struct kmmu_trace_record *r)
{
	return r->type == KMMU_EV_SPTE_CHANGED && !r->spte_changed.as_id &&
	       r->spte_changed.level == 1 &&
	       (r->spte_changed.old_spte & KMMU_SPTE_MMU_PRESENT_MASK) &&
	       !(r->spte_changed.new_spte & KMMU_SPTE_MMU_PRESENT_MASK);
}

/*
 * The first successful DELETE (as 0) with a traced drop of a 4K leaf of
 * its slot in its window: the drop's index in *@drop, and in *@other a
 * second drop in that window (of any slot), or -1; the DELETE's in *@del
 * (if @del).  False if none.
 */
static bool find_removal_drop_of(const struct kmmu_trace_file *tf, int64_t *drop, int64_t *other,
				 int64_t *del)
{
	uint64_t base[64] = { 0 }, npages[64] = { 0 };

	for (uint64_t i = 0; i < tf->nr; i++) {
		const struct kmmu_trace_record *r = &tf->recs[i];
		uint32_t id = r->memslot.slot & 0xffff;

		if (r->type != KMMU_ACT_SET_MEMSLOT || r->memslot.ret || (r->memslot.slot >> 16) ||
		    id >= 64)
			continue;
		if (r->memslot.size) {
			base[id] = r->memslot.gpa >> 12;
			npages[id] = r->memslot.size >> 12;
			continue;
		}
		*drop = *other = -1;
		for (uint64_t j = i; j-- > 0 && tf->recs[j].ts >= r->memslot.start_ts;) {
			const struct kmmu_trace_record *d = &tf->recs[j];

			if (!is_leaf_drop(d))
				continue;
			if (*drop < 0 && d->spte_changed.gfn - base[id] < npages[id])
				*drop = j;
			else if (*other < 0)
				*other = j;
		}
		if (*drop >= 0) {
			if (del)
				*del = i;
			return true;
		}
	}
	return false;
}

static bool find_removal_drop(const struct kmmu_trace_file *tf, int64_t *drop, int64_t *other)
{
	return find_removal_drop_of(tf, drop, other, NULL);
}

/*
 * The DELETE's drop of its slot's leaf moved to @ns after the DELETE's
 * return, stamped on CPU @cpu.
 */
static void move_drop_after_delete(struct __test_metadata *_metadata, struct kmmu_trace_file *tf,
				   uint64_t ns, uint16_t cpu)
{
	struct kmmu_trace_record rec;
	int64_t drop, other, del;

	ASSERT_TRUE(find_removal_drop_of(tf, &drop, &other, &del));
	ASSERT_LT(drop, del);
	rec = tf->recs[drop];
	remove_rec(tf, drop);
	del--;
	rec.ts = tf->recs[del].ts + ns;
	rec.cpu = cpu;
	ASSERT_LT(rec.ts, tf->recs[del + 1].ts) TH_LOG("the next record comes too soon");
	memmove(&tf->recs[del + 2], &tf->recs[del + 1], (tf->nr - del - 1) * sizeof(rec));
	tf->recs[del + 1] = rec;
	tf->nr++;
}

/* Only @prop's divergences, at least one, the first saying @says. */
static void expect_only(struct __test_metadata *_metadata, struct kmmu_trace_file *tf,
			struct kmmu_check_result *res, enum kmmu_check_property prop,
			const char *says)
{
	ASSERT_EQ(0, kmmu_check(tf->recs, tf->nr, NULL, res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(res, prop));
	EXPECT_NE(NULL, strstr(res->first_divergence, says)) {
		TH_LOG("%s", res->first_divergence);
	}
}

static void expect_tdp_clean(struct __test_metadata *_metadata, struct kmmu_trace_file *tf,
			     struct kmmu_check_result *res)
{
	ASSERT_EQ(0, kmmu_check(tf->recs, tf->nr, NULL, res));
	EXPECT_EQ(0, res->nr_divergences) {
		TH_LOG("%s", res->first_divergence);
	}
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(res, KMMU_PROP_MMU_VALID_GEN));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(res, KMMU_PROP_ZAP_ON_REMOVE));
}

TEST_F(tdp, replays_clean)
{
	expect_tdp_clean(_metadata, &self->tf, &self->res);
	EXPECT_LE(3, self->res.checked[KMMU_PROP_MMU_VALID_GEN]);
}

/*
 * The second fast zap did not toggle mmu_valid_gen: the third reports the
 * generation the second did, and so on, each one off from then on.
 */
TEST_F(tdp, planted_fast_zap_without_toggle)
{
	ASSERT_LE(0, find_zap_all_fast(&self->tf, 2));
	for (unsigned int nth = 2; find_zap_all_fast(&self->tf, nth) >= 0; nth++)
		self->tf.recs[find_zap_all_fast(&self->tf, nth)].zap_all_fast.mmu_valid_gen ^= 1;
	expect_only(_metadata, &self->tf, &self->res, KMMU_PROP_MMU_VALID_GEN,
		    "did not toggle it exactly once");
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_MMU_VALID_GEN]);
}

/* The VM was created in the trace: its first fast zap finds generation 0. */
TEST_F(tdp, planted_new_vm_at_generation_1)
{
	for (uint64_t i = 0; i < self->tf.nr; i++)
		if (self->tf.recs[i].type == KMMU_EV_ZAP_ALL_FAST)
			self->tf.recs[i].zap_all_fast.mmu_valid_gen ^= 1;
	expect_only(_metadata, &self->tf, &self->res, KMMU_PROP_MMU_VALID_GEN,
		    "a new VM starts at 0");
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_MMU_VALID_GEN]);
}

/*
 * Benign: the same trace from a VM created before it began, after an odd
 * number of fast zaps: the pairing is learned from the first one.
 */
TEST_F(tdp, benign_vm_older_than_the_trace)
{
	for (uint64_t i = self->tf.nr; i-- > 0;) {
		if (self->tf.recs[i].type == KMMU_EV_ZAP_ALL_FAST)
			self->tf.recs[i].zap_all_fast.mmu_valid_gen ^= 1;
		else if (self->tf.recs[i].type == KMMU_ACT_VM_CREATE)
			remove_rec(&self->tf, i);
	}
	expect_tdp_clean(_metadata, &self->tf, &self->res);
}

/* Benign: what the fast zap found in use is not judged. */
TEST_F(tdp, benign_used_pages_changed)
{
	int64_t at = find_zap_all_fast(&self->tf, 0);

	ASSERT_LE(0, at);
	self->tf.recs[at].zap_all_fast.used_pages += 7;
	expect_tdp_clean(_metadata, &self->tf, &self->res);
}

/*
 * A DELETE's fast zap that left one leaf of the slot in place (its traced
 * drop removed): the reference still holds it when the DELETE returns.
 * The zap itself happened, so only the reference's SPTE state tells.
 */
TEST_F(tdp, planted_fast_zap_missing_a_leaf)
{
	int64_t drop, other;

	ASSERT_TRUE(find_removal_drop(&self->tf, &drop, &other));
	remove_rec(&self->tf, drop);
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_ON_REMOVE));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_ZAP_ON_REMOVE]);
}

/*
 * Benign: the drop stamped on another CPU just after the DELETE's return:
 * the per-CPU clocks may disagree that much.
 */
TEST_F(tdp, benign_drop_stamped_late_on_another_cpu)
{
	move_drop_after_delete(_metadata, &self->tf, 1000, 1);
	expect_tdp_clean(_metadata, &self->tf, &self->res);
}

/* ... but on the DELETE's own CPU, after its return, it really came too late. */
TEST_F(tdp, planted_drop_after_the_delete_returned)
{
	move_drop_after_delete(_metadata, &self->tf, 1000, 0);
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_ON_REMOVE));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "never dropped")) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

/* Benign: two drops of the window in the other order. */
TEST_F(tdp, benign_drops_reordered)
{
	struct kmmu_trace_record tmp;
	int64_t drop, other;

	ASSERT_TRUE(find_removal_drop(&self->tf, &drop, &other));
	ASSERT_LE(0, other) TH_LOG("one drop in the window");
	tmp = self->tf.recs[drop];
	self->tf.recs[drop].spte_changed = self->tf.recs[other].spte_changed;
	self->tf.recs[other].spte_changed = tmp.spte_changed;
	expect_tdp_clean(_metadata, &self->tf, &self->res);
}

/*
 * AGING_MAKES_OLD on tracing/fixtures/aging-tdp-6.1.kmmutrace
 * (aging_test on Debian's 6.1, TDP MMU, kvm_amd NPT: Accessed is bit 5):
 * each kvm_age_hva is the reference's clear_young, and each leaf it finds
 * young the kernel's pass must make old.
 */
#define AGING_FIXTURE	"aging-tdp-6.1.kmmutrace"
#define NPT_ACCESSED	(1ull << 5)

TRACE_FIXTURE(aging, AGING_FIXTURE)

/* Is record @i an Accessed clear of a 4K leaf (old and new the same page)? */
static bool is_a_clear(const struct kmmu_trace_file *tf, uint64_t i)
{
	const struct kmmu_trace_record *r = &tf->recs[i];
	uint64_t old = r->spte_changed.old_spte, new = r->spte_changed.new_spte;

	return r->type == KMMU_EV_SPTE_CHANGED && r->spte_changed.level == 1 &&
	       (old & P_MMU) && (new & P_MMU) && (old & NPT_ACCESSED) &&
	       (old & ~NPT_ACCESSED) == new;
}

/* The @nth Accessed clear of the fixture (from 0); -1 if none. */
static int64_t nth_a_clear(const struct kmmu_trace_file *tf, unsigned int nth)
{
	for (uint64_t i = 0; i < tf->nr; i++)
		if (is_a_clear(tf, i) && !nth--)
			return i;
	return -1;
}

TEST_F(aging, replays_clean)
{
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_LT(100, self->res.checked[KMMU_PROP_AGING_MAKES_OLD]);
}

/*
 * Planted: a pass skips a young leaf (its Accessed clear is gone, so the
 * leaf stays young in the kernel).  The checker's own aging properties
 * judge only clears that happen: a skipped one passed them all.
 */
TEST_F(aging, planted_pass_skips_a_young_leaf)
{
	int64_t at = nth_a_clear(&self->tf, 0);
	gfn_t gfn;
	char want[64];

	ASSERT_LE(0, at);
	gfn = self->tf.recs[at].spte_changed.gfn;
	remove_rec(&self->tf, at);
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_AGING_MAKES_OLD));
	snprintf(want, sizeof(want), "left gfn %#llx (level 1) young", (unsigned long long)gfn);
	EXPECT_NE(NULL, strstr(self->res.first_divergence, want)) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

/*
 * Benign: two aging passes (aging_test ages a page per pass: its
 * kvm_age_hva and its Accessed clear) in the other order.
 */
TEST_F(aging, benign_passes_reordered)
{
	struct kmmu_trace_record *r = self->tf.recs, tmp[2];
	int64_t at = -1;

	for (uint64_t i = 0; i + 3 < self->tf.nr && at < 0; i++)
		if (r[i].type == KMMU_EV_AGE_HVA && is_a_clear(&self->tf, i + 1) &&
		    r[i + 2].type == KMMU_EV_AGE_HVA && is_a_clear(&self->tf, i + 3) &&
		    r[i].pid == r[i + 3].pid && r[i + 1].spte_changed.gfn != r[i + 3].spte_changed.gfn)
			at = i;
	ASSERT_LE(0, at) TH_LOG("no two one-page passes in a row");
	memcpy(tmp, &r[at], sizeof(tmp));
	memcpy(&r[at], &r[at + 2], sizeof(tmp));
	memcpy(&r[at + 2], tmp, sizeof(tmp));
	for (int i = 0; i < 4; i++)	/* the timestamps stay in order */
		r[at + i].ts = tmp[0].ts + i;
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_AGING_MAKES_OLD));
}

/*
 * Benign: the leaf was installed old (a prefetch) and the guest never
 * touched it: the pass has nothing to clear.  The install, the vCPU's
 * kvm_mmu_set_spte of it and every later value lack Accessed, and the
 * clear is gone.
 */
TEST_F(aging, benign_installed_old_not_cleared)
{
	int64_t at = nth_a_clear(&self->tf, 0);
	gfn_t gfn;

	ASSERT_LE(0, at);
	gfn = self->tf.recs[at].spte_changed.gfn;
	remove_rec(&self->tf, at);
	for (uint64_t i = 0; i < self->tf.nr; i++) {
		struct kmmu_trace_record *r = &self->tf.recs[i];

		if (r->type == KMMU_EV_SPTE_CHANGED && r->spte_changed.gfn == gfn &&
		    r->spte_changed.level == 1) {
			r->spte_changed.old_spte &= ~NPT_ACCESSED;
			r->spte_changed.new_spte &= ~NPT_ACCESSED;
		} else if (r->type == KMMU_EV_SET_SPTE && r->set_spte.gfn == gfn) {
			r->set_spte.spte &= ~NPT_ACCESSED;
		}
	}
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_AGING_MAKES_OLD)) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

/*
 * The reference's aging of a pass walks every page it covers: passes over
 * a 16 GiB slot, one after another, stop being replayed once they cover
 * more pages than the replay's budget (a fuzzed trace must not hang it).
 */
TEST_F(chk, aging_passes_beyond_the_budget)
{
	memslot(&self->h, 1, 1ull << 24, 1ull << 22, 0, 0);
	for (int i = 0; i < 50; i++) {
		struct kmmu_trace_record *r = add(&self->h, KMMU_EV_AGE_HVA);

		r->hva_range.start = HVA;
		r->hva_range.end = HVA + (1ull << 40);
		by_task(&self->h, 7);
	}
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE,
		  kmmu_check_verdict(&self->res, KMMU_PROP_AGING_MAKES_OLD));
	EXPECT_NE(NULL, strstr(self->res.not_checkable[KMMU_PROP_AGING_MAKES_OLD],
			       "cover more pages")) {
		TH_LOG("%s", self->res.not_checkable[KMMU_PROP_AGING_MAKES_OLD]);
	}
}

/*
 * The reference VM refuses a slot beyond the guest physical address space
 * (x86's kvm_mmu_max_gfn() check in kvm_arch_prepare_memory_region()), as
 * the kernel does: a kernel's -EINVAL there is right, a 0 is not.  The
 * reference memslots alone lacked that check, so huge_mapping_test's
 * refusals there showed as divergences.  (The chk fixture: slot 0 at gfn
 * 0x100, one SPTE; checker_history.h.)
 */
#define BEYOND_GFN	(1ull << 40)	/* gpa 2^52: beyond any MAXPHYADDR */

TEST_F(chk, slot_beyond_the_address_space_refused)
{
	memslot(&self->h, 1, BEYOND_GFN, 4, 0, -EINVAL);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_MEMSLOT_RESULT]);
}

TEST_F(chk, slot_beyond_the_address_space_accepted)
{
	memslot(&self->h, 1, BEYOND_GFN, 4, 0, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MEMSLOT_RESULT));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "the reference returns -22"));
}

/* A 2M SPTE at the first 2M of a slot whose base is not 2M-aligned. */
TEST_F(chk, huge_spte_at_an_unaligned_slot_base)
{
	/* gfns 0x1ff-0x5ff, host memory aligned alike */
	memslot(&self->h, 1, 0x1ff, 0x401, 0, 0)->memslot.hva -= 0x1000;
	set_spte_at(&self->h, 0x200, 2, leaf(0x3000, 2, true));	/* allowed */
	set_spte_at(&self->h, 0x400, 2, leaf(0x3200, 2, true));	/* allowed */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_HUGE_ALLOWED]);
}

/*
 * The checker's reference VM is single-threaded (kmmu_ref_vm_config's
 * single_thread): a memslot swap does not wait for a grace period, so it
 * may even run inside the thread's own read-side section (where a
 * synchronize_rcu() would wait for itself: the harness's timeout fails
 * it), and the tables a zap frees are freed at once, not queued for
 * call_rcu's worker, whose 10 ms batching each replay's teardown waited for.
 */
static int one_frame(void *ctx, unsigned long hva, uint64_t *pfn, int *level)
{
	*pfn = hva >> 12;
	*level = 1;
	return 0;
}

TEST(single_thread_vm_needs_no_grace_period)
{
	struct kmmu_ref_vm_config cfg;
	struct kmmu_ref_vm *vm;
	struct kmmu_fault f;
	uint64_t used;
	long pending;

	kmmu_ref_vm_config_default(&cfg);
	cfg.single_thread = true;
	ASSERT_EQ(0, kmmu_ref_vm_create(&vm, &cfg));
	kmmu_ref_vm_set_hva_to_pfn_fn(vm, one_frame, NULL);
	urcu_memb_register_thread();
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, 0, 0, 0x100000, 0x200000,
						   0x7f0000000000ull));
	ASSERT_EQ(0, kmmu_page_fault(vm, 0, 0, 0x100, KMMU_PFERR_WRITE_MASK, &f));
	used = vm->stat.mmu_used_pages;
	ASSERT_LT(0, used);
	pending = kmmu_table_free_pending();

	urcu_memb_read_lock();
	/* The delete zaps all (the quirk's fast zap): the tables go. */
	EXPECT_EQ(0, kmmu_ref_vm_set_memory_region(vm, 0, 0, 0x100000, 0, 0x7f0000000000ull));
	urcu_memb_read_unlock();
	kmmu_mmu_zap_all(vm);
	EXPECT_GT(used, vm->stat.mmu_used_pages);
	EXPECT_EQ(pending, kmmu_table_free_pending());

	kmmu_ref_vm_destroy(vm);
	urcu_memb_unregister_thread();
}

TEST_HARNESS_MAIN
