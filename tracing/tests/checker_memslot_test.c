// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's memslot properties (checker_history.h): an SPTE lies in a
 * live slot, a removed or moved slot is zapped, huge and writable SPTEs
 * only where the slot allows them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>

#include "checker_history.h"

TEST_F(chk, spte_for_a_deleted_slot)
{
	uint64_t t = issue(&self->h);

	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	memslot_issued(&self->h, t, 0, 0x100, 0, 0);
	set_spte(&self->h, 0x105);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_IN_SLOT));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "gfn 0x105 is in no live memslot"));
	/* The report carries the gfn's history: the delete. */
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "action:set_memslot"));
}

TEST_F(chk, spte_while_the_slot_changes_is_not_judged)
{
	uint64_t t = issue(&self->h);

	set_spte(&self->h, 0x105);		/* before the zap: either layout */
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	memslot_issued(&self->h, t, 0, 0x100, 0, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
}

TEST_F(chk, spte_after_the_zap_of_a_removal)
{
	uint64_t t = issue(&self->h);

	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	set_spte(&self->h, 0x105);		/* a fault that should have retried */
	memslot_issued(&self->h, t, 0, 0x100, 0, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_NO_SPTE_AFTER_ZAP));
}

TEST_F(chk, missing_zap)
{
	uint64_t t = issue(&self->h);

	memslot_issued(&self->h, t, 0, 0x100, 0, 0);	/* no zap in the window */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_ON_REMOVE));
	EXPECT_EQ(1, self->res.nr_divergences);
}

TEST_F(chk, zap_before_the_ioctl_does_not_count)
{
	uint64_t t;

	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	set_spte(&self->h, 0x106);
	t = issue(&self->h);
	memslot_issued(&self->h, t, 0, 0x100, 0, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_ON_REMOVE));
}

TEST_F(chk, slot_without_sptes_needs_no_zap)
{
	uint64_t t;

	memslot(&self->h, 1, 0x400, 4, 0, 0);
	t = issue(&self->h);
	memslot_issued(&self->h, t, 1, 0x800, 4, 0);	/* MOVE, never mapped */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
}

/*
 * An SPTE installed while the CREATE of its slot is in flight maps that
 * slot: deleting the slot later must zap it.
 */
TEST_F(chk, spte_installed_while_its_slot_is_created)
{
	uint64_t t = issue(&self->h);

	set_spte(&self->h, 0x402);
	memslot_issued(&self->h, t, 1, 0x400, 4, 0);
	t = issue(&self->h);
	memslot_issued(&self->h, t, 1, 0x400, 0, 0);	/* DELETE, nothing zapped */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_ON_REMOVE));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "slot 0:1")) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(1, self->res.nr_divergences);
}

/* ... and likewise for a MOVE, whose zap came before the SPTE. */
TEST_F(chk, spte_installed_while_its_slot_moves)
{
	uint64_t t = issue(&self->h);

	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	set_spte(&self->h, 0x208);			/* the new place */
	memslot_issued(&self->h, t, 0, 0x200, 16, 0);	/* MOVE 0x100 -> 0x200 */
	ASSERT_CHECKS_CLEAN();
	t = issue(&self->h);
	memslot_issued(&self->h, t, 0, 0x200, 0, 0);	/* DELETE, nothing zapped */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_ON_REMOVE));
	EXPECT_EQ(1, self->res.nr_divergences);

}

/* A zap-all after it, still in the window, took it: nothing left to zap. */
TEST_F(chk, spte_of_a_moving_slot_zapped_in_the_window)
{
	uint64_t t = issue(&self->h);

	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	set_spte(&self->h, 0x208);
	/* The first toggled mmu_valid_gen to 1. */
	add(&self->h, KMMU_EV_ZAP_ALL_FAST)->zap_all_fast.mmu_valid_gen = 1;
	memslot_issued(&self->h, t, 0, 0x200, 16, 0);
	t = issue(&self->h);
	memslot_issued(&self->h, t, 0, 0x200, 0, 0);
	ASSERT_CHECKS_CLEAN();
}

/* An SPTE for the new range of an ioctl that failed mapped no slot. */
/*
 * A VM of one address space (a kernel without SMM, as the test tells):
 * a slot of address space 1 is refused with -EINVAL, as the kernel did in
 * huge_mapping_test on a PVM host; with two, it is a slot like any.
 */
TEST_F(chk, slot_of_an_address_space_the_vm_lacks)
{
	vm_create(&self->h, 0);				/* one address space */
	memslot(&self->h, 1 << 16 | 3, 0x800, 16, 0, -EINVAL);
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MEMSLOT_RESULT));

	self->h.nr--;
	memslot(&self->h, 1 << 16 | 3, 0x800, 16, 0, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MEMSLOT_RESULT));

	self->h.recs[self->h.nr - 2].vm.nr_address_spaces = 2;
	ASSERT_CHECKS_CLEAN();
}

TEST_F(chk, spte_installed_for_a_failed_create)
{
	uint64_t t = issue(&self->h);

	set_spte(&self->h, 0x402);
	memslot_issued(&self->h, t, 1, 0x400, 4, -ENOMEM);
	/* The reference says this CREATE succeeds: make it agree. */
	self->h.recs[self->h.nr - 1].memslot.flags = 0x80;
	self->h.recs[self->h.nr - 1].memslot.ret = -EINVAL;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_IN_SLOT));
	EXPECT_EQ(1, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "never a live memslot"));
}

/* Slot 1 backs gfns 0x200-0x5ff, 2M-aligned in both gfn and hva. */
TEST_F(chk, huge_spte_where_the_slot_allows)
{
	memslot(&self->h, 1, 0x200, 0x400, 0, 0);
	set_spte_at(&self->h, 0x200, 2, leaf(0x3000, 2, true));
	set_spte_at(&self->h, 0x400, 2, leaf(0x3200, 2, true));
	spte_changed(&self->h, 0x400, 2, 0, leaf(0x3200, 2, true));	/* TDP's own trace */
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(3, self->res.checked[KMMU_PROP_HUGE_ALLOWED]);
	EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE,
		  kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_WRITABLE));
}

/* Only its first gfn was judged: a 2M SPTE reaching past the slot's end. */
TEST_F(chk, huge_spte_crossing_the_slot_end)
{
	memslot(&self->h, 1, 0x200, 0x300, 0, 0);
	set_spte_at(&self->h, 0x400, 2, leaf(0x3200, 2, true));
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_IN_SLOT));
	EXPECT_EQ(1, self->res.nr_divergences);
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "wholly inside one slot"));
}

/*
 * While an ioctl changing some of its gfns is in flight, a huge SPTE must
 * still lie wholly in one slot of the layout before or after it (found by
 * checker_alter_test: a 4K install made 2M over one-page churn slots was
 * not judged at all, some ioctl being always in flight there).
 */
TEST_F(chk, huge_spte_crossing_slots_while_an_ioctl_is_in_flight)
{
	uint64_t t;

	memslot(&self->h, 1, 0x200, 0x100, 0, 0);
	t = issue(&self->h);
	set_spte_at(&self->h, 0x200, 2, leaf(0x3000, 2, true));	/* ends past slot 1 */
	memslot_issued(&self->h, t, 2, 0x300, 0x10, 0);		/* ... into slot 2 */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_IN_SLOT));
	EXPECT_EQ(1, self->res.nr_divergences);
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "wholly inside one slot"));

	/* Wholly in the slot the ioctl creates: either layout may hold. */
	self->h.nr -= 2;
	t = issue(&self->h);
	set_spte_at(&self->h, 0x600, 2, leaf(0x3000, 2, true));
	memslot_issued(&self->h, t, 2, 0x600, 0x200, 0);
	ASSERT_CHECKS_CLEAN();
}

TEST_F(chk, huge_spte_the_slot_disallows)
{
	struct kmmu_trace_record *ms;

	memslot(&self->h, 1, 0x200, 0x400, 0, 0);
	set_spte_at(&self->h, 0x201, 2, leaf(0x3001, 2, true));	/* unaligned gfn */
	set_spte_at(&self->h, 0x400, 2, leaf(0x3201, 2, true));	/* unaligned pfn */
	memslot(&self->h, 2, 0x800, 0x400, 1, 0);		/* dirty logging */
	set_spte_at(&self->h, 0xa00, 2, leaf(0x4000, 2, false));
	ms = memslot(&self->h, 3, 0x1000, 0x400, 0, 0);
	ms->memslot.hva += 0x1000;				/* hva not 2M-aligned */
	set_spte_at(&self->h, 0x1200, 2, leaf(0x5000, 2, true));
	set_spte_at(&self->h, 0x1201, 1, leaf(0x5001, 1, true));	/* 4K: fine */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(4, self->res.divergences[KMMU_PROP_HUGE_ALLOWED]);
	EXPECT_EQ(4, self->res.nr_divergences);
	EXPECT_EQ(4, self->res.checked[KMMU_PROP_HUGE_ALLOWED]);
}

/* A leaf the TDP MMU installed without a fault's kvm_mmu_set_spte is judged too. */
TEST_F(chk, tdp_leaf_install_outside_any_slot)
{
	spte_changed(&self->h, 0x105, 1, 0, leaf(0x2000, 1, true));	/* in slot 0 */
	spte_changed(&self->h, 0x900, 1, 0, leaf(0x2001, 1, true));
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_IN_SLOT));
	EXPECT_EQ(1, self->res.nr_divergences);
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "gfn 0x900 is in no live memslot"));
}

TEST_F(chk, writable_spte_of_a_readonly_slot)
{
	memslot(&self->h, 2, 0x1000, 4, 2 /* KVM_MEM_READONLY */, 0);
	set_spte_at(&self->h, 0x1000, 1, leaf(0x2000, 1, false));
	spte_changed(&self->h, 0x1001, 1, 0, leaf(0x2001, 1, false));
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_WRITABLE));

	set_spte_at(&self->h, 0x1002, 1, leaf(0x2002, 1, true));
	spte_changed(&self->h, 0x1001, 1, leaf(0x2001, 1, false), leaf(0x2001, 1, true));
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(2, self->res.divergences[KMMU_PROP_SPTE_WRITABLE]);
	EXPECT_EQ(2, self->res.nr_divergences);
}

/*
 * A huge leaf that predates dirty logging stays until split, write-
 * protected; it must not be made writable again while logging is on.  A
 * 4K one may: make_spte() logs the page.
 */
TEST_F(chk, huge_spte_made_writable_while_dirty_logging)
{
	memslot(&self->h, 1, 0x200, 0x400, 0, 0);
	set_spte_at(&self->h, 0x200, 2, leaf(0x3000, 2, true));
	memslot(&self->h, 1, 0x200, 0x400, 1, 0);		/* FLAGS_ONLY: log */
	spte_changed(&self->h, 0x200, 2, leaf(0x3000, 2, true), leaf(0x3000, 2, false));
	spte_changed(&self->h, 0x400, 1, 0, leaf(0x3400, 1, true));
	ASSERT_CHECKS_CLEAN();
	spte_changed(&self->h, 0x200, 2, leaf(0x3000, 2, false), leaf(0x3000, 2, true));
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_WRITABLE));
	EXPECT_EQ(1, self->res.nr_divergences);
}

/*
 * The reference VM's metadata is per guest page, as the kernel's: a trace
 * whose live slots back more than the limit is refused, not replayed with
 * allocations failing (a fuzzed trace of TiB slots ran libFuzzer out of
 * memory).  The limit counts live slots only: a deleted one frees its pages.
 */
TEST_F(chk, live_memslots_beyond_the_guest_page_limit_are_refused)
{
	struct kmmu_checker_opts opts = { .max_guest_pages = 64 };

	memslot(&self->h, 1, 0x400, 32, 0, 0);		/* 16 + 32 live */
	memslot(&self->h, 1, 0x400, 0, 0, 0);		/* deleted again */
	memslot(&self->h, 2, 0x800, 48, 0, 0);		/* 16 + 48 live */
	ASSERT_EQ(0, kmmu_check(self->h.recs, self->h.nr, &opts, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
	/* A flags change or a move of a live slot backs no more pages. */
	memslot(&self->h, 2, 0x800, 48, KVM_MEM_LOG_DIRTY_PAGES, 0);
	memslot(&self->h, 2, 0x900, 48, KVM_MEM_LOG_DIRTY_PAGES, 0);
	ASSERT_EQ(0, kmmu_check(self->h.recs, self->h.nr, &opts, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) TH_LOG("%s", self->res.first_divergence);
	EXPECT_EQ(6, self->res.checked[KMMU_PROP_MEMSLOT_RESULT]);

	memslot(&self->h, 3, 0x1000, 1, 0, 0);		/* one page too many */
	EXPECT_EQ(-EFBIG, kmmu_check(self->h.recs, self->h.nr, &opts, &self->res));
	/* Said as what it is, by the tool and by a test's session alike. */
	EXPECT_NE(NULL, strstr(kmmu_check_strerror(-EFBIG), "guest memory"));
	EXPECT_STREQ(strerror(ENOMEM), kmmu_check_strerror(-ENOMEM));
	/* The default limit is far above it. */
	opts.max_guest_pages = 0;
	EXPECT_EQ(0, kmmu_check(self->h.recs, self->h.nr, &opts, &self->res));
}

/*
 * A VM of one address space (KVM_CAP_MULTI_ADDRESS_SPACE 1: a kernel
 * without SMM, as 6.18 may be built): KVM refuses a slot of address space
 * 1 with EINVAL (__kvm_set_memory_region()'s as_id check), which the
 * reference of two address spaces would have created.  Told by the test's
 * VM record; with two address spaces the same slot is created.
 */
TEST_F(chk, address_spaces_the_vm_does_not_have_are_refused)
{
	struct kmmu_trace_record *create = add(&self->h, KMMU_ACT_VM_CREATE);

	/* Before the fixture's records: the test logs its VM first. */
	memmove(&self->h.recs[1], &self->h.recs[0], (self->h.nr - 1) * sizeof(*create));
	self->h.recs[0] = (struct kmmu_trace_record){ .ts = 1, .type = KMMU_ACT_VM_CREATE,
						      .vm.nr_address_spaces = 1 };
	memslot(&self->h, 1 << 16 | 22, 0x2000, 1, 0, -EINVAL);
	ASSERT_EQ(0, kmmu_check(self->h.recs, self->h.nr, NULL, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) TH_LOG("%s", self->res.first_divergence);
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_MEMSLOT_RESULT]);

	self->h.recs[0].vm.nr_address_spaces = 2;
	self->h.recs[self->h.nr - 1].memslot.ret = 0;
	ASSERT_EQ(0, kmmu_check(self->h.recs, self->h.nr, NULL, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) TH_LOG("%s", self->res.first_divergence);
	/* ... and refusing it there is the kernel's divergence. */
	self->h.recs[self->h.nr - 1].memslot.ret = -EINVAL;
	ASSERT_EQ(0, kmmu_check(self->h.recs, self->h.nr, NULL, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_MEMSLOT_RESULT]);
}

TEST_HARNESS_MAIN
