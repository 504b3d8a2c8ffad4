// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's MMIO properties (checker_history.h): guest accesses with
 * no live memslot exit as MMIO and none other do, and MMIO SPTEs carry the
 * memslot generation the reference expects.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checker_history.h"

TEST_F(chk, mmio_inside_a_live_slot)
{
	mmio(&self->h, 0x10f008, 1);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_UNBACKED));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "live memslot 0:0"));
}

/* kvm_mmio READ_UNSATISFIED decides, READ completes on the next KVM_RUN. */
TEST_F(chk, completion_of_an_mmio_read_is_not_judged)
{
	struct kmmu_trace_record *r;

	mmio(&self->h, 0x300000, 0);		/* unbacked: exit to userspace */
	by_task(&self->h, 7);
	memslot(&self->h, 1, 0x300, 1, 0, 0);	/* now backed */
	mmio(&self->h, 0x300000, 1);		/* vCPU 7 completes its read */
	by_task(&self->h, 7);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);

	/* A READ that completes nothing is judged. */
	r = add(&self->h, KMMU_EV_MMIO);
	r->mmio.gpa = 0x300008;
	r->mmio.type = 1;
	r->pid = 7;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_UNBACKED));

	/* Deciding MMIO for a backed gfn is wrong, whatever completes later. */
	self->h.nr--;
	mmio(&self->h, 0x300010, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_UNBACKED));
}

/*
 * Each vCPU thread's pending read is its own, whatever the pids: 100 and
 * 164 (64 apart, which a table indexed by pid % 64 mixed up) interleave.
 */
TEST_F(chk, mmio_reads_of_two_tasks_interleave)
{
	mmio(&self->h, 0x300000, 0);
	by_task(&self->h, 100);
	mmio(&self->h, 0x400000, 0);
	by_task(&self->h, 164);
	memslot(&self->h, 1, 0x300, 1, 0, 0);	/* both gpas backed from here */
	memslot(&self->h, 2, 0x400, 1, 0, 0);
	mmio(&self->h, 0x300000, 1);		/* each completes its own read */
	by_task(&self->h, 100);
	mmio(&self->h, 0x400000, 1);
	by_task(&self->h, 164);
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_MMIO_UNBACKED]);

	/* A completion is consumed: a second READ of 100 is judged. */
	mmio(&self->h, 0x300000, 1);
	by_task(&self->h, 100);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_MMIO_UNBACKED]);
}

TEST_F(chk, mmio_write_to_a_readonly_slot_is_fine)
{
	memslot(&self->h, 2, 0x1000, 1, 2 /* KVM_MEM_READONLY */, 0);
	mmio(&self->h, 0x1000000, 2);		/* write: emulated */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
	mmio(&self->h, 0x1000010, 1);		/* read: must be RAM */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_UNBACKED));
}

TEST_F(chk, ioctl_results_must_agree)
{
	memslot(&self->h, 3, 0x108, 4, 0, -EEXIST);	/* overlaps slot 0: right */
	memslot(&self->h, 4, 0x10a, 4, 0, 0);		/* overlaps, yet "succeeded" */
	memslot(&self->h, 5, 0x3000, 1, 0x80, -EINVAL);	/* unknown flag: right */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_MEMSLOT_RESULT]);
	EXPECT_EQ(4, self->res.checked[KMMU_PROP_MEMSLOT_RESULT]);
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "reference returns -17"));
}

TEST_F(chk, mmio_generation)
{
	mark_mmio(&self->h, 0x5000, 10);
	mark_mmio(&self->h, 0x5001, 10);
	memslot(&self->h, 6, 0x6000, 1, 0, 0);
	mark_mmio(&self->h, 0x5002, 12);	/* changed with the update: right */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GENERATION));

	memslot(&self->h, 7, 0x7000, 1, 0, 0);
	mark_mmio(&self->h, 0x5003, 12);	/* stale generation after an update */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GENERATION));
}

/*
 * The setup's CREATE left the reference at generation 2 (one swap of
 * address space 0); the first MMIO SPTE event fixes the kernel's offset.
 */
TEST_F(chk, mmio_generation_follows_the_reference)
{
	uint64_t t;

	mark_mmio(&self->h, 0x5000, 10);		/* offset 8 learned */
	check_mmio(&self->h, 10, 10);
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	mark_mmio(&self->h, 0x5001, 11);		/* in flight: not judged */
	memslot_issued(&self->h, t, 0, 0x100, 0, 0);	/* DELETE: two swaps */
	mark_mmio(&self->h, 0x5002, 14);
	check_mmio(&self->h, 14, 10);			/* a stale SPTE, seen as such */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
	EXPECT_EQ(3, self->res.checked[KMMU_PROP_MMIO_GEN_MODEL]);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GEN_MODEL));
}

/*
 * An update's record is stamped after its ioctl returned: a kernel event
 * stamped the same nanosecond may still have seen the old generation,
 * whether it comes before or after the record in the log.  One later
 * still must not.
 */
TEST_F(chk, mmio_generation_tied_with_the_return)
{
	mark_mmio(&self->h, 0x5000, 10);		/* offset 8 learned */
	memslot_zapping(&self->h, 0, 0x100, 0, 0);	/* DELETE: two swaps */
	mark_mmio(&self->h, 0x5001, 10);
	self->h.recs[self->h.nr - 1].ts = self->h.recs[self->h.nr - 2].ts;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
	EXPECT_EQ(0, self->res.checked[KMMU_PROP_MMIO_GEN_MODEL]);

	mark_mmio(&self->h, 0x5002, 10);		/* 1 us after the return */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.checked[KMMU_PROP_MMIO_GEN_MODEL]);
	/* Both: not the reference's generation, and unchanged across updates. */
	EXPECT_EQ(2, self->res.nr_divergences);
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GENERATION));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GEN_MODEL));
}

/*
 * The per-CPU clocks of a TCG guest differ: a mark stamped on another CPU
 * up to 50 ms after an update's record may still carry the generation from
 * before it, or a MOVE's between its two swaps.  On the update's own CPU,
 * or long after, it may not.
 */
TEST_F(chk, mmio_generation_across_skewed_cpus)
{
	struct kmmu_trace_record *op;
	uint64_t t;

	mark_mmio(&self->h, 0x5000, 10);		/* offset 8 learned */
	memslot(&self->h, 1, 0x200, 16, 0, 0);		/* CREATE: 10 -> 12 */
	mark_mmio(&self->h, 0x5001, 12);		/* one address space... two */
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	op = memslot_issued(&self->h, t, 0, 0x100, 0, 0);	/* DELETE: 12 -> 16 */
	op->cpu = 1;
	mark_mmio(&self->h, 0x5002, 12);		/* cpu 0, 1 us later */
	mark_mmio(&self->h, 0x5003, 14);		/* between the two swaps */
	mark_mmio(&self->h, 0x5004, 16);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) TH_LOG("%s", self->res.first_divergence);
	EXPECT_EQ(4, self->res.checked[KMMU_PROP_MMIO_GEN_MODEL]);

	/* On the update's own CPU the clock is one: stale. */
	add(&self->h, KMMU_EV_MARK_MMIO_SPTE)->cpu = 1;
	self->h.recs[self->h.nr - 1].mark_mmio.gfn = 0x5005;
	self->h.recs[self->h.nr - 1].mark_mmio.gen = 12;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GEN_MODEL));
	self->h.nr--;

	/* 8.5 ms later, as seen on a loaded host: still explained. */
	self->h.now += 8500000;
	mark_mmio(&self->h, 0x5006, 12);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) TH_LOG("%s", self->res.first_divergence);

	/* Beyond the skew any clock could have: stale. */
	self->h.now += 50000000;
	mark_mmio(&self->h, 0x5007, 12);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GEN_MODEL));
}

static void vm_address_spaces(struct history *h, uint32_t nr)
{
	add(h, KMMU_ACT_VM_CREATE)->vm.nr_address_spaces = nr;
}

TEST_F(chk, mmio_generation_one_swap_short)
{
	vm_address_spaces(&self->h, 2);
	mark_mmio(&self->h, 0x5000, 10);
	memslot_zapping(&self->h, 0, 0x100, 0, 0);
	/* Changed, so the older property is content; a DELETE swaps twice. */
	mark_mmio(&self->h, 0x5002, 12);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GENERATION));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GEN_MODEL));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "so 0xe"));
}

/* A kernel without SMM (one address space) steps the generation by 1 per swap. */
TEST_F(chk, mmio_generation_one_address_space)
{
	mark_mmio(&self->h, 0x5000, 10);
	memslot_zapping(&self->h, 0, 0x100, 0, 0);	/* DELETE: two swaps, +2 */
	mark_mmio(&self->h, 0x5002, 12);		/* learned: one address space */
	memslot(&self->h, 6, 0x6000, 1, 0, 0);		/* CREATE: +1 */
	mark_mmio(&self->h, 0x5003, 13);
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GEN_MODEL));

	/* Once learned, a CREATE that moved it by 2 is wrong. */
	memslot(&self->h, 7, 0x7000, 1, 0, 0);
	mark_mmio(&self->h, 0x5004, 15);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GEN_MODEL));

	/* Told (KVM_CAP_MULTI_ADDRESS_SPACE): no guessing. */
	memmove(&self->h.recs[1], &self->h.recs[0], self->h.nr * sizeof(self->h.recs[0]));
	self->h.nr++;
	self->h.recs[0].type = KMMU_ACT_VM_CREATE;
	self->h.recs[0].vm.nr_address_spaces = 2;
	self->h.recs[0].ts = 1;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GEN_MODEL));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "with 2 address space(s)"));
}

TEST_F(chk, mmio_generation_from_check_mmio_spte)
{
	check_mmio(&self->h, 0x40, 0x40);
	memslot(&self->h, 6, 0x6000, 1, 0, 0);
	check_mmio(&self->h, 0x40, 0x40);	/* the update did not advance it */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GEN_MODEL));
}

/* Reference generation 2 is kernel generation 0x7fffe: the next swap wraps. */
TEST_F(chk, zap_at_the_wrap)
{
	vm_address_spaces(&self->h, 2);
	mark_mmio(&self->h, 0x5000, 0x7fffe);
	memslot_zapping(&self->h, 6, 0x6000, 1, 0);	/* CREATE: generation 0 */
	mark_mmio(&self->h, 0x5000, 0);
	memslot(&self->h, 7, 0x7000, 1, 0, 0);		/* 2: no wrap, no zap needed */
	mark_mmio(&self->h, 0x5000, 2);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
	EXPECT_EQ(1, self->res.checked[KMMU_PROP_ZAP_AT_WRAP]);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_AT_WRAP));
}

TEST_F(chk, no_zap_at_the_wrap)
{
	vm_address_spaces(&self->h, 2);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);		/* before the ioctl: does not count */
	mark_mmio(&self->h, 0x5000, 0x7fffe);
	memslot(&self->h, 6, 0x6000, 1, 0, 0);
	mark_mmio(&self->h, 0x5000, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_AT_WRAP));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "a wrap"));
}

/* mmio_caching=N: no MMIO SPTE events, so neither the model nor the wrap is judged. */
TEST_F(chk, wrap_without_mmio_events_is_not_checkable)
{
	for (int i = 0; i < 8; i++)
		memslot(&self->h, 6 + i, 0x6000 + i, 1, 0, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
	EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE,
		  kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_GEN_MODEL));
	EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE, kmmu_check_verdict(&self->res, KMMU_PROP_ZAP_AT_WRAP));
	EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE,
		  kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_SPTE_UNBACKED));
}

/*
 * check_mmio_spte's verdict: the SPTE holds the generation traced, and it
 * is used (handle_mmio_page_fault next in the task) exactly when it is
 * KVM's.
 */
TEST_F(chk, mmio_spte_used_exactly_when_current)
{
	check_mmio(&self->h, 10, 10);
	by_task(&self->h, 7);
	handle_mmio_pf(&self->h, 0x200);
	by_task(&self->h, 7);
	check_mmio(&self->h, 10, 8);		/* stale: the slow path installs anew */
	by_task(&self->h, 7);
	mark_mmio(&self->h, 0x200, 10);
	by_task(&self->h, 7);
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_CHECK));

	/* A stale one used. */
	self->h.nr--;
	handle_mmio_pf(&self->h, 0x200);
	by_task(&self->h, 7);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_CHECK));
	EXPECT_EQ(1, self->res.nr_divergences);
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "must not be used"));

	/* A current one not used (in a trace that shows uses). */
	self->h.nr -= 3;
	mark_mmio(&self->h, 0x200, 10);
	by_task(&self->h, 7);
	check_mmio(&self->h, 10, 10);
	by_task(&self->h, 8);
	handle_mmio_pf(&self->h, 0x300);
	by_task(&self->h, 8);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_CHECK));
	EXPECT_EQ(1, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}

	/* A generation the SPTE does not hold. */
	self->h.nr = 2;
	check_mmio(&self->h, 10, 10);
	self->h.recs[self->h.nr - 1].check_mmio.spte_gen = 12;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_CHECK));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "not the 0xc traced"));
}

TEST_F(chk, mmio_spte_honoured_for_a_live_slot)
{
	uint64_t t;

	handle_mmio_pf(&self->h, 0x200);		/* unbacked: right */
	t = issue(&self->h);
	handle_mmio_pf(&self->h, 0x300);		/* while created: still unbacked */
	memslot_issued(&self->h, t, 6, 0x300, 1, 0);
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	handle_mmio_pf(&self->h, 0x105);		/* while deleted: not judged */
	memslot_issued(&self->h, t, 0, 0x100, 0, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_MMIO_SPTE_UNBACKED]);

	handle_mmio_pf(&self->h, 0x300);		/* created: a stale SPTE used */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL,
		  kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_SPTE_UNBACKED));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "stale"));
}

TEST_HARNESS_MAIN
