// SPDX-License-Identifier: GPL-2.0
/*
 * The checker on the shadow MMU's hand-made histories: installs
 * (kvm_mmu_set_spte, by SPTE address) and drops and Accessed clears
 * (kprobe events on mmu_spte_clear_track_bits and mmu_spte_age) make the
 * page stats, the zap of a removed slot and aging checkable; without the
 * kprobe events, or with their functions inlined, they are NOT CHECKABLE
 * and say why.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kmmu/trace_file.h"
/* The records of checker_history.h, in a fixture of this test's own. */
#define CHECKER_HISTORY_NO_CHK
#include "checker_history.h"
#include "test_paths.h"

#define SPTEP 0x12345000ull		/* the shadow page of the test's leaves (physical) */
#define DIRECT_MAP 0xffff9a4000000000ull	/* page_offset_base, randomized */
#define DIRECT_MAP_L4 0xffff888000000000ull	/* ... without CONFIG_RANDOMIZE_MEMORY */

/* An x86-format (shadow paging) leaf: present, MMU-present, Accessed */
#define LEAF(pfn)	(1ull | 1ull << 11 | 1ull << 5 | (uint64_t)(pfn) << 12)
#define ACCESSED	(1ull << 5)

/* The session's first records: the host (SVM, npt=0) with @kprobes, one VM. */
static void start(struct history *h, uint8_t kprobes, uint8_t inlined)
{
	struct kmmu_trace_record *r = add(h, KMMU_ACT_HOST);

	r->host.backend = KMMU_HOST_SVM;
	r->host.tdp = 0;
	r->host.tdp_mmu = 1;		/* kvm.tdp_mmu=Y is moot without npt */
	r->host.kprobes = kprobes;
	r->host.kprobes_inlined = inlined;
	add(h, KMMU_ACT_VM_CREATE)->vm.nr_address_spaces = 1;
}

/* DELETE of slot 0 issued at @issued: the zap-all comes in flight. */
static void delete_slot0(struct history *h, uint64_t issued)
{
	memslot_issued(h, issued, 0, 0, 0, 0);
}

/* The leaf at SPTEP + 8 * @index maps @gfn. */
static void install(struct history *h, unsigned int index, uint64_t gfn, unsigned int level)
{
	struct kmmu_trace_record *r = add(h, KMMU_EV_SET_SPTE);

	r->set_spte.sptep = SPTEP + 8 * index;
	r->set_spte.gfn = gfn;
	r->set_spte.level = level;
	r->set_spte.spte = LEAF(0x1000 + gfn) | (level > 1 ? 1ull << 7 : 0);
}

static void probe(struct history *h, enum kmmu_rec_type type, unsigned int index,
		  uint64_t old)
{
	struct kmmu_trace_record *r = add(h, type);

	/* The kprobe reads the direct-map address; kvm_mmu_set_spte gives the physical one. */
	r->shadow_spte.sptep = DIRECT_MAP + SPTEP + 8 * index;
	r->shadow_spte.page_offset = DIRECT_MAP;
	r->shadow_spte.old_spte = old;
}

static void drop(struct history *h, unsigned int index, uint64_t gfn)
{
	probe(h, KMMU_EV_SHADOW_SPTE_CLEAR, index, LEAF(0x1000 + gfn));
}

/* checker_history.h's check(), with the checker's report on stderr. */
static int check_reporting(struct history *h, struct kmmu_check_result *res)
{
	struct kmmu_checker_opts opts = { .report = stderr };

	return kmmu_check(h->recs, h->nr, &opts, res);
}

FIXTURE(shadow) {
	struct history h;
	struct kmmu_check_result res;
};

FIXTURE_SETUP(shadow)
{
	memset(&self->h, 0, sizeof(self->h));
	memset(&self->res, 0, sizeof(self->res));
	self->h.pid = 100;	/* the test's task: aging is judged per task */
}

FIXTURE_TEARDOWN(shadow)
{
}

/* Three leaves in, one out: the kernel's two leaves (one 2M) pass. */
static void leaves_installed_and_dropped(struct history *h, uint8_t kprobes)
{
	start(h, kprobes, 0);
	memslot(h, 0, 0x200, 0x400, 0, 0);	/* 2M-aligned: a 2M leaf may map it */
	install(h, 0, 0x200, 1);
	install(h, 1, 0x201, 1);
	install(h, 2, 0x400, 2);
	install(h, 1, 0x201, 1);	/* made again: still one leaf */
	drop(h, 0, 0x200);
	probe(h, KMMU_EV_SHADOW_SPTE_CLEAR, 3, 0);	/* not present: not a leaf */
}

TEST_F(shadow, page_stats_pass_with_the_drops)
{
	leaves_installed_and_dropped(&self->h, KMMU_KPROBE_SPTE_CLEAR);
	stats(&self->h, 1, 1);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(1, self->res.checked[KMMU_PROP_PAGE_STATS] >= 1);
	EXPECT_EQ(0, self->res.nr_divergences);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_PAGE_STATS));
}

/* A drop the kernel counted but the trace would not (a leaf left behind) diverges. */
TEST_F(shadow, page_stats_diverge_on_a_leaf_too_many)
{
	leaves_installed_and_dropped(&self->h, KMMU_KPROBE_SPTE_CLEAR);
	stats(&self->h, 2, 1);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_PAGE_STATS]);
}

/* Without the kprobe event: not checkable, and why. */
TEST_F(shadow, page_stats_not_checkable_without_kprobes)
{
	leaves_installed_and_dropped(&self->h, 0);
	stats(&self->h, 1, 1);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(0, self->res.checked[KMMU_PROP_PAGE_STATS]);
	ASSERT_NE(NULL, self->res.not_checkable[KMMU_PROP_PAGE_STATS]);
	EXPECT_NE(NULL, strstr(self->res.not_checkable[KMMU_PROP_PAGE_STATS], "kprobe"));
}

TEST_F(shadow, page_stats_say_the_function_was_inlined)
{
	start(&self->h, 0, KMMU_KPROBE_SPTE_CLEAR | KMMU_KPROBE_SPTE_AGE);
	memslot(&self->h, 0, 0x100, 0x400, 0, 0);
	install(&self->h, 0, 0x100, 1);
	stats(&self->h, 1, 0);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	ASSERT_NE(NULL, self->res.not_checkable[KMMU_PROP_PAGE_STATS]);
	EXPECT_STREQ("NOT CHECKABLE: mmu_spte_clear_track_bits inlined in this kernel: no kprobe"
		     " shows the shadow MMU's SPTE drops",
		     self->res.not_checkable[KMMU_PROP_PAGE_STATS]);
	ASSERT_NE(NULL, self->res.not_checkable[KMMU_PROP_AGING_IN_PASS]);
	EXPECT_NE(NULL, strstr(self->res.not_checkable[KMMU_PROP_AGING_IN_PASS],
			       "mmu_spte_age inlined in this kernel"));
}

/* A kernel without page_offset_base: the direct map is at 4-level paging's base. */
TEST_F(shadow, page_stats_pass_with_the_fixed_direct_map)
{
	leaves_installed_and_dropped(&self->h, KMMU_KPROBE_SPTE_CLEAR);
	for (int i = 0; i < self->h.nr; i++) {
		struct kmmu_trace_record *r = &self->h.recs[i];

		if (r->type != KMMU_EV_SHADOW_SPTE_CLEAR)
			continue;
		r->shadow_spte.sptep += DIRECT_MAP_L4 - DIRECT_MAP;
		r->shadow_spte.page_offset = 0;
	}
	stats(&self->h, 1, 1);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_PAGE_STATS));
}

/* A leaf installed before the trace and dropped in it: its level is unknown. */
TEST_F(shadow, page_stats_not_checkable_after_an_unknown_drop)
{
	leaves_installed_and_dropped(&self->h, KMMU_KPROBE_SPTE_CLEAR);
	drop(&self->h, 9, 0x300);
	stats(&self->h, 1, 1);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(0, self->res.checked[KMMU_PROP_PAGE_STATS]);
	ASSERT_NE(NULL, self->res.not_checkable[KMMU_PROP_PAGE_STATS]);
	EXPECT_NE(NULL, strstr(self->res.not_checkable[KMMU_PROP_PAGE_STATS], "before the trace"));
}

/* DELETE of slot 0 that dropped its leaves (the zap-all did): passes. */
static void delete_slot(struct history *h, bool drop_all)
{
	uint64_t issued;

	start(h, KMMU_KPROBE_SPTE_CLEAR, 0);
	memslot(h, 0, 0x100, 0x100, 0, 0);
	memslot(h, 1, 0x1000, 0x100, 0, 0);
	install(h, 0, 0x100, 1);
	install(h, 1, 0x180, 1);
	install(h, 2, 0x1000, 1);	/* slot 1: stays */
	issued = h->now + 1;
	add(h, KMMU_EV_ZAP_ALL_FAST);
	drop(h, 0, 0x100);
	if (drop_all)
		drop(h, 1, 0x180);
	delete_slot0(h, issued);
	stats(h, drop_all ? 1 : 2, 0);
}

TEST_F(shadow, delete_drops_the_slots_leaves)
{
	delete_slot(&self->h, true);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(1, self->res.checked[KMMU_PROP_ZAP_ON_REMOVE] >= 1);
	EXPECT_EQ(0, self->res.nr_divergences);
}

/* As the mutant 007 leaves it: the zap-all stopped early, one leaf of the slot survives. */
TEST_F(shadow, delete_that_leaves_a_leaf_diverges)
{
	delete_slot(&self->h, false);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_ZAP_ON_REMOVE]);
	/* The leaf is still the kernel's: the page stats agree. */
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_PAGE_STATS]);
}

/*
 * A drop of a leaf the trace never saw installed (a drop sorted before its
 * install by skewed per-CPU clocks looks so): the leaves are not known
 * well enough to judge a removal by them.
 */
TEST_F(shadow, delete_after_an_unknown_drop_is_not_judged_by_leaves)
{
	delete_slot(&self->h, false);
	memmove(&self->h.recs[3], &self->h.recs[2], (self->h.nr - 2) * sizeof(self->h.recs[0]));
	self->h.nr++;
	self->h.recs[2] = self->h.recs[3];	/* a drop of an unknown leaf, early on */
	self->h.recs[2].type = KMMU_EV_SHADOW_SPTE_CLEAR;
	self->h.recs[2].shadow_spte.sptep = DIRECT_MAP + SPTEP + 8 * 40;
	self->h.recs[2].shadow_spte.page_offset = DIRECT_MAP;
	self->h.recs[2].shadow_spte.old_spte = LEAF(0x5000);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_ZAP_ON_REMOVE]);
}

/* Another task's unmap of the slot may have dropped it untraced: not reported. */
TEST_F(shadow, delete_after_an_untraced_unmap_is_not_judged_on_it)
{
	struct kmmu_trace_record *r;
	uint64_t issued;

	start(&self->h, KMMU_KPROBE_SPTE_CLEAR, 0);
	memslot(&self->h, 0, 0x100, 0x100, 0, 0);
	install(&self->h, 0, 0x100, 1);
	install(&self->h, 1, 0x180, 1);
	issued = self->h.now + 1;
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	r = add(&self->h, KMMU_EV_UNMAP_HVA_RANGE);
	r->pid = 200;
	r->hva_range.start = HVA + (0x80 << 12);
	r->hva_range.end = HVA + (0x81 << 12);
	r->hva_range.untraced = 1;
	drop(&self->h, 0, 0x100);
	delete_slot0(&self->h, issued);
	stats(&self->h, 0, 0);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_ZAP_ON_REMOVE]);
}

/* Two VMs: a gfn names no one SPTE, the removal of one VM's slot is not judged. */
TEST_F(shadow, delete_with_two_vms_is_not_judged_by_leaves)
{
	delete_slot(&self->h, false);
	self->h.recs[self->h.nr - 1].stats.nr_vms = 2;
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_ZAP_ON_REMOVE]);
}

/* mmu_spte_age() inside an aging pass of the task over the leaf's hva: passes. */
static void age(struct history *h, bool in_pass, uint64_t hva_page)
{
	struct kmmu_trace_record *r;

	start(h, KMMU_KPROBE_SPTE_CLEAR | KMMU_KPROBE_SPTE_AGE, 0);
	memslot(h, 0, 0x100, 0x100, 0, 0);
	install(h, 0, 0x100, 1);
	if (in_pass) {
		r = add(h, KMMU_EV_AGE_HVA);
		r->hva_range.start = HVA + (hva_page << 12);
		r->hva_range.end = r->hva_range.start + 4096;
	}
	probe(h, KMMU_EV_SHADOW_SPTE_AGE, 0, LEAF(0x1100));
	probe(h, KMMU_EV_SHADOW_SPTE_AGE, 0, LEAF(0x1100) & ~ACCESSED);	/* old: no clear */
	stats(h, 1, 0);
}

TEST_F(shadow, accessed_clear_in_a_pass_passes)
{
	age(&self->h, true, 0);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(1, self->res.checked[KMMU_PROP_AGING_IN_PASS]);
	EXPECT_EQ(0, self->res.nr_divergences);
	ASSERT_NE(NULL, self->res.not_checkable[KMMU_PROP_AGING_KEEPS_DIRTY]);
	EXPECT_NE(NULL, strstr(self->res.not_checkable[KMMU_PROP_AGING_KEEPS_DIRTY], "before"));
}

TEST_F(shadow, accessed_clear_outside_a_pass_diverges)
{
	age(&self->h, false, 0);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_AGING_IN_PASS]);
}

TEST_F(shadow, accessed_clear_of_another_hva_diverges)
{
	age(&self->h, true, 0x50);
	ASSERT_EQ(0, check_reporting(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_AGING_IN_PASS]);
}

/*
 * Removals are judged by a scan of the leaves, bounded per record: a
 * trace with a leaf of no sure slot (installed while its slot was being
 * created) and many leaves and removals stops being judged on them
 * instead of replaying in quadratic time.
 */
TEST(removal_scans_are_bounded)
{
	enum { LEAVES = 60000, CYCLES = 600 };
	uint64_t cap = 4 + LEAVES + 2 * CYCLES + 1, issued;
	struct kmmu_checker_opts quiet = { 0 };
	struct kmmu_check_result res;
	struct history *h = calloc(1, sizeof(*h));
	struct kmmu_trace_record *recs = calloc(cap, sizeof(*recs));
	uint64_t nr = 0;

	ASSERT_NE(NULL, h);
	ASSERT_NE(NULL, recs);
	/* The small history's helpers, a few records at a time, copied out. */
#define FLUSH() do { memcpy(recs + nr, h->recs, h->nr * sizeof(*recs)); nr += h->nr; \
		     h->nr = 0; } while (0)
	start(h, KMMU_KPROBE_SPTE_CLEAR, 0);
	memslot(h, 2, 0x10000, LEAVES, 0, 0);
	issued = h->now + 1;
	install(h, 0, 0x100, 1);	/* slot 1 is being created: no sure slot */
	memslot_issued(h, issued, 1, 0x100, 1, 0);
	FLUSH();
	for (unsigned int i = 0; i < LEAVES; i++) {
		install(h, 1 + i, 0x10000 + i, 1);
		FLUSH();
	}
	for (unsigned int i = 0; i < CYCLES; i++) {
		memslot(h, 3, 0x80000, 1, 0, 0);
		memslot(h, 3, 0, 0, 0, 0);
		FLUSH();
	}
	stats(h, LEAVES + 1, 0);
	FLUSH();
#undef FLUSH
	ASSERT_EQ(0, kmmu_check(recs, nr, &quiet, &res));
	EXPECT_EQ(0, res.nr_divergences);
	/* judged until the bound: some, not all */
	EXPECT_LT(0, res.checked[KMMU_PROP_ZAP_ON_REMOVE]);
	EXPECT_GT(CYCLES, res.checked[KMMU_PROP_ZAP_ON_REMOVE]);
	free(recs);
	free(h);
}

/*
 * A real trace: memslot_churn_test on the test VM's 6.1 with kvm_amd
 * npt=0, recorded with the kprobe event on mmu_spte_clear_track_bits.
 */
#define FIXTURE_FILE "churn-shadow-kprobe-6.1.kmmutrace"

FIXTURE(real) {
	struct kmmu_trace_file tf;
	struct kmmu_check_result res;
};

FIXTURE_SETUP(real)
{
	KMMU_ASSERT_FIXTURE(FIXTURE_FILE, &self->tf);
}

FIXTURE_TEARDOWN(real)
{
	kmmu_trace_file_free(&self->tf);
}

static int check_real(struct _test_data_real *self)
{
	struct kmmu_checker_opts opts = { .report = stderr };

	return kmmu_check(self->tf.recs, self->tf.nr, &opts, &self->res);
}

TEST_F(real, passes_as_recorded_with_the_drops_judged)
{
	ASSERT_EQ(0, check_real(self));
	EXPECT_EQ(0, self->res.nr_divergences);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_PAGE_STATS));
	EXPECT_LT(0, self->res.checked[KMMU_PROP_ZAP_ON_REMOVE]);
}

/*
 * @recs without the drops in flight of the DELETE at @del (as mutant 007
 * leaves one: kvm_zap_obsolete_pages() stopped early), into @out; how
 * many records @out holds, and the drops left out in *@removed.
 */
static uint64_t without_drops_of(const struct kmmu_trace_record *recs, uint64_t nr, uint64_t del,
				 struct kmmu_trace_record *out, uint64_t *removed)
{
	uint64_t n = 0;

	*removed = 0;
	for (uint64_t i = 0; i < nr; i++) {
		if (i < del && recs[i].type == KMMU_EV_SHADOW_SPTE_CLEAR &&
		    recs[i].ts >= recs[del].memslot.start_ts)
			(*removed)++;
		else
			out[n++] = recs[i];
	}
	return n;
}

/*
 * Each DELETE whose zap dropped leaves, replayed without those drops,
 * until one removed a slot that still had leaves.  A DELETE whose leaves
 * another task may have unmapped untraced (the trace's own process unmaps
 * guest memory too: kvm_unmap_hva_range is not in its own capture) is not
 * judged on them, so not every DELETE shows it; at least one must.  The
 * kernel's page stats still count the leaves a zap left, so the removal
 * is what diverges.
 */
TEST_F(real, a_delete_whose_zap_dropped_nothing_diverges)
{
	const struct kmmu_trace_record *recs = self->tf.recs;
	struct kmmu_checker_opts quiet = { 0 };
	struct kmmu_trace_record *copy = malloc(self->tf.nr * sizeof(*copy));
	uint64_t nr = self->tf.nr, del, removed, judged = 0;

	ASSERT_NE(NULL, copy);
	for (del = 0; del < nr; del++) {
		uint64_t n;

		if (recs[del].type != KMMU_ACT_SET_MEMSLOT || recs[del].memslot.size ||
		    recs[del].memslot.ret)
			continue;
		n = without_drops_of(recs, nr, del, copy, &removed);
		if (!removed)
			continue;
		judged++;
		ASSERT_EQ(0, kmmu_check(copy, n, &quiet, &self->res));
		if (self->res.divergences[KMMU_PROP_ZAP_ON_REMOVE])
			break;
	}
	free(copy);
	TH_LOG("%" PRIu64 " DELETEs replayed without their drops", judged);
	ASSERT_LT(del, nr);
	EXPECT_LE(1, self->res.divergences[KMMU_PROP_ZAP_ON_REMOVE]);
}

TEST_HARNESS_MAIN
