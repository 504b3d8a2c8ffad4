// SPDX-License-Identifier: GPL-2.0
/*
 * Traces of several VMs (checker/vms.c), as the ioctl interposer numbers
 * them: VMs one after another are judged one at a time, each from a fresh
 * reference VM, so slot ids may repeat; while two VMs are live the
 * properties that need a kernel event's VM are NOT CHECKABLE, never
 * misjudged, and the memslot ioctls (which carry their VM) are still
 * judged; a trace without VM numbers is one VM's, as before, and one whose
 * numbers no interposer writes is judged not at all, saying why.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHECKER_HISTORY_NO_CHK
#include "checker_history.h"

#define OVERLAP_REASON "kernel events carry no VM and 2 VMs were live"

FIXTURE(vms) {
	struct history h;
	struct kmmu_check_result res;
};

FIXTURE_SETUP(vms)
{
	memset(&self->h, 0, sizeof(self->h));
}

FIXTURE_TEARDOWN(vms)
{
}

/* A TDP MMU host record: the SPTE and page stats properties can be judged. */
static void tdp_host(struct history *h)
{
	struct kmmu_trace_record *host = add(h, KMMU_ACT_HOST);

	host->host.backend = KMMU_HOST_SVM;
	host->host.tdp = 1;
	host->host.tdp_mmu = 1;
}

/*
 * VM 1: slot 0 backs gfns 0x100-0x10f, one SPTE, and the VMM closes it
 * without deleting the slot.  VM 2 reuses gfns 0x100-0x107 for its slot 1 and puts
 * its slot 0 elsewhere: one memslot model would find slot 1 overlapping VM
 * 1's slot 0 (EEXIST) and slot 0 moved.
 */
static void two_vms_one_after_another(struct history *h, uint32_t first, uint32_t second)
{
	vm_create(h, first);
	memslot(h, 0, 0x100, 16, 0, 0);
	set_spte(h, 0x105);
	if (first)
		vm_close(h, first);	/* unnumbered traces log no close */
	vm_create(h, second);
	memslot(h, 1, 0x100, 8, 0, 0);
	set_spte(h, 0x105);
	memslot(h, 0, 0x200, 16, 0, 0);
	set_spte(h, 0x205);
}

TEST_F(vms, one_after_another_reusing_slot_ids)
{
	two_vms_one_after_another(&self->h, 1, 2);
	vm_close(&self->h, 2);
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(3, self->res.checked[KMMU_PROP_MEMSLOT_RESULT]);
	EXPECT_EQ(3, self->res.checked[KMMU_PROP_SPTE_IN_SLOT]);
	EXPECT_EQ(NULL, self->res.not_checkable[KMMU_PROP_SPTE_IN_SLOT]);
	EXPECT_FALSE(self->res.no_actions);
}

TEST_F(vms, unnumbered_vms_are_one_model_as_before)
{
	/* The same history without VM numbers: one memslot model, which sees EEXIST. */
	two_vms_one_after_another(&self->h, 0, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MEMSLOT_RESULT));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "File exists"))
		TH_LOG("%s", self->res.first_divergence);
}

TEST_F(vms, divergence_in_the_second_vm)
{
	two_vms_one_after_another(&self->h, 1, 2);
	/* In VM 1's slot, not in any of VM 2's. */
	set_spte(&self->h, 0x10a);
	vm_close(&self->h, 2);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.nr_divergences);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MEMSLOT_RESULT));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_IN_SLOT));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "gfn 0x10a is in no live memslot"))
		TH_LOG("%s", self->res.first_divergence);
	/* The report says whose replay it is. */
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "divergence in VM 2 ("))
		TH_LOG("%s", self->res.first_divergence);
}

TEST_F(vms, each_vm_starts_at_mmu_valid_gen_0)
{
	/* Each VM's fast zaps toggle its own mmu_valid_gen, from 0. */
	vm_create(&self->h, 1);
	memslot(&self->h, 0, 0x100, 16, 0, 0);
	EVENT(&self->h, KMMU_EV_ZAP_ALL_FAST, zap_all_fast, .mmu_valid_gen = 0);
	EVENT(&self->h, KMMU_EV_ZAP_ALL_FAST, zap_all_fast, .mmu_valid_gen = 1);
	vm_close(&self->h, 1);
	vm_create(&self->h, 2);
	memslot(&self->h, 0, 0x100, 16, 0, 0);
	EVENT(&self->h, KMMU_EV_ZAP_ALL_FAST, zap_all_fast, .mmu_valid_gen = 0);
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(3, self->res.checked[KMMU_PROP_MMU_VALID_GEN]);

	/* A second VM that goes on from the first's generation is a divergence. */
	self->h.recs[self->h.nr - 1].zap_all_fast.mmu_valid_gen = 1;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMU_VALID_GEN));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "a new VM starts at 0"))
		TH_LOG("%s", self->res.first_divergence);
}

/*
 * The kernel tears VM 1 down after the VMM's close, here after VM 2 began:
 * the drop of VM 1's SPTE at gfn 0x105 is VM 1's, not a leaf VM 2 never
 * had; VM 2's own SPTE at that gfn (another frame) is still VM 2's.
 */
TEST_F(vms, teardown_of_the_old_vm_after_the_new_one_began)
{
	uint64_t old = leaf(0x1000, 1, true), new = leaf(0x2000, 1, true);

	/* A TDP MMU run whose stats tell each VM's SPTE history is complete. */
	tdp_host(&self->h);
	vm_create(&self->h, 1);
	memslot(&self->h, 0, 0x100, 16, 0, 0);
	spte_changed(&self->h, 0x105, 1, 0, old);
	stats(&self->h, 1, 0);
	vm_close(&self->h, 1);
	vm_create(&self->h, 2);
	memslot(&self->h, 0, 0x100, 16, 0, 0);
	spte_changed(&self->h, 0x105, 1, 0, new);
	stats(&self->h, 1, 0);
	spte_changed(&self->h, 0x105, 1, old, 0);	/* VM 1's teardown */
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));

	/* Given to VM 2, the same drop is one of a leaf VM 2 holds with another value. */
	self->h.recs[self->h.nr - 1].spte_changed.old_spte = leaf(0x3000, 1, true);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));
}

/*
 * Two VMs one after another as `kmmu-trace record` has them: each VM's
 * page stats, read by the interposer before its close, name the VM and
 * are judged against that VM's own leaves (VM 1: two, VM 2: one), and
 * make its SPTE history judgeable (without them whether other tasks
 * changed SPTEs is unknown).
 */
static void two_vms_with_stats(struct history *h)
{
	tdp_host(h);
	vm_create(h, 1);
	memslot(h, 0, 0x100, 16, 0, 0);
	spte_changed(h, 0x105, 1, 0, leaf(0x1000, 1, true));
	spte_changed(h, 0x106, 1, 0, leaf(0x1001, 1, true));
	stats(h, 2, 0);
	vm_close(h, 1);
	/* Its teardown, from the SPTEs it had: judged against its history. */
	spte_changed(h, 0x105, 1, leaf(0x1000, 1, true), 0);
	spte_changed(h, 0x106, 1, leaf(0x1001, 1, true), 0);
	vm_create(h, 2);
	memslot(h, 0, 0x100, 16, 0, 0);
	spte_changed(h, 0x105, 1, 0, leaf(0x2000, 1, true));
	stats(h, 1, 0);
	vm_close(h, 2);
}

TEST_F(vms, page_stats_are_judged_per_vm)
{
	two_vms_with_stats(&self->h);
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_PAGE_STATS));
	EXPECT_EQ(6, self->res.checked[KMMU_PROP_PAGE_STATS]);	/* 3 levels, 2 VMs */
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_SPTE_HISTORY])
		TH_LOG("%s", self->res.not_checkable[KMMU_PROP_SPTE_HISTORY]);

	/* VM 1's stats with VM 2's count: a divergence, and VM 1's. */
	for (int i = 0; i < self->h.nr; i++)
		if (self->h.recs[i].type == KMMU_ACT_STATS && self->h.recs[i].stats.vm == 1)
			self->h.recs[i].stats.pages[0] = 1;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.nr_divergences);
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_PAGE_STATS));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "divergence in VM 1 ("))
		TH_LOG("%s", self->res.first_divergence);
}

/*
 * VM 2 is created before VM 1 is closed: while both live, the kernel's
 * events are nobody's.  VM 1's delete without a zap and the SPTEs for gfns
 * of either VM's slots are not judged; the ioctls are, per VM.
 */
static void two_vms_overlapping(struct history *h)
{
	vm_create(h, 1);
	memslot(h, 0, 0x100, 16, 0, 0);
	set_spte(h, 0x105);			/* VM 1 alone: judged */
	vm_create(h, 2);
	memslot(h, 0, 0x200, 16, 0, 0);
	set_spte(h, 0x205);
	set_spte(h, 0x105);
	h->vm = 1;
	memslot(h, 0, 0x100, 0, 0, 0);		/* no zap: whose SPTEs are whose? */
	vm_close(h, 1);
	set_spte(h, 0x105);			/* VM 2 alone, but its history is lost */
	vm_close(h, 2);
}

TEST_F(vms, overlapping_vms_are_not_misjudged)
{
	two_vms_overlapping(&self->h);
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(3, self->res.checked[KMMU_PROP_MEMSLOT_RESULT]);
	EXPECT_EQ(NULL, self->res.not_checkable[KMMU_PROP_MEMSLOT_RESULT]);
	/* VM 1's SPTE before VM 2 existed is judged; nothing after. */
	EXPECT_EQ(1, self->res.checked[KMMU_PROP_SPTE_IN_SLOT]);
	EXPECT_STREQ(OVERLAP_REASON, self->res.not_checkable[KMMU_PROP_SPTE_IN_SLOT]);
	EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE,
		  kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_ON_REMOVE));
	EXPECT_STREQ(OVERLAP_REASON, self->res.not_checkable[KMMU_PROP_ZAP_ON_REMOVE]);
}

TEST_F(vms, overlapping_vms_ioctls_are_judged_per_vm)
{
	two_vms_overlapping(&self->h);
	/* VM 2's slot 0 overlaps nothing of VM 2: the kernel's EEXIST is wrong. */
	for (int i = 0; i < self->h.nr; i++)
		if (self->h.recs[i].type == KMMU_ACT_SET_MEMSLOT && self->h.recs[i].memslot.vm == 2)
			self->h.recs[i].memslot.ret = -EEXIST;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.nr_divergences);
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MEMSLOT_RESULT));
}

/* Numbers no interposer writes: nothing judged, every property says why. */
static void expect_unusable_numbers(struct __test_metadata *_metadata, struct history *h,
				    struct kmmu_check_result *res)
{
	ASSERT_EQ(0, check(h, res));
	EXPECT_EQ(0, res->nr_divergences);
	for (int p = 0; p < KMMU_PROP_NR; p++) {
		EXPECT_EQ(0, res->checked[p]);
		EXPECT_NE(NULL, res->not_checkable[p]);
		if (res->not_checkable[p])
			EXPECT_NE(NULL, strstr(res->not_checkable[p], "VM numbers are inconsistent"));
	}
}

TEST_F(vms, inconsistent_vm_numbers_judge_nothing)
{
	vm_create(&self->h, 1);
	memslot(&self->h, 0, 0x100, 16, 0, 0);
	self->h.vm = 3;				/* no such VM */
	memslot(&self->h, 1, 0x200, 16, 0, 0);
	expect_unusable_numbers(_metadata, &self->h, &self->res);

	self->h.nr = 2;
	vm_close(&self->h, 2);			/* never created */
	expect_unusable_numbers(_metadata, &self->h, &self->res);

	self->h.nr = 2;
	vm_create(&self->h, 3);			/* numbers go 1, 2, ... */
	expect_unusable_numbers(_metadata, &self->h, &self->res);

	self->h.nr = 2;
	vm_close(&self->h, 1);
	vm_close(&self->h, 1);			/* closed twice */
	expect_unusable_numbers(_metadata, &self->h, &self->res);

	self->h.nr = 2;
	vm_create(&self->h, 2);
	self->h.vm = 3;
	memslot(&self->h, 0, 0x100, 16, 0, 0);	/* VM 3 is created after it */
	vm_create(&self->h, 3);
	expect_unusable_numbers(_metadata, &self->h, &self->res);

	/* Page stats name their VM too: one never created, or read after its close. */
	self->h.nr = 2;
	self->h.vm = 2;
	stats(&self->h, 0, 0);
	expect_unusable_numbers(_metadata, &self->h, &self->res);

	self->h.nr = 2;
	vm_close(&self->h, 1);
	self->h.vm = 1;
	stats(&self->h, 0, 0);
	expect_unusable_numbers(_metadata, &self->h, &self->res);
}

TEST_HARNESS_MAIN
