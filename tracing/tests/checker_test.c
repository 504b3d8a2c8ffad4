// SPDX-License-Identifier: GPL-2.0
/*
 * The checker on small hand-made histories: each property passes on a
 * history a correct kernel produces, fails on one with the planted mistake,
 * and is reported not checkable when its events are absent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kmmu/checker.h"
#include "kmmu/spte.h"

#define MAX_RECS 64
#define HVA 0x7f0000000000ull

struct history {
	struct kmmu_trace_record recs[MAX_RECS];
	int nr;
	uint64_t now;
};

static struct kmmu_trace_record *add(struct history *h, enum kmmu_rec_type type)
{
	struct kmmu_trace_record *r = &h->recs[h->nr++];

	memset(r, 0, sizeof(*r));
	h->now += 1000;
	r->ts = h->now;
	r->type = type;
	return r;
}

/* An ioctl issued now and returned after @events_inside records were added. */
static struct kmmu_trace_record *memslot(struct history *h, uint32_t slot, uint64_t gfn,
					 uint64_t npages, uint32_t flags, int ret)
{
	struct kmmu_trace_record *r = add(h, KMMU_ACT_SET_MEMSLOT);

	r->memslot.start_ts = r->ts - 500;
	r->memslot.slot = slot;
	r->memslot.gpa = gfn << 12;
	r->memslot.size = npages << 12;
	r->memslot.hva = HVA + (slot << 24);
	r->memslot.flags = flags;
	r->memslot.ret = ret;
	return r;
}

/* Starts an ioctl whose record comes later: events in between are "in flight". */
static uint64_t issue(struct history *h)
{
	h->now += 1000;
	return h->now;
}

static struct kmmu_trace_record *memslot_issued(struct history *h, uint64_t issued, uint32_t slot,
						uint64_t gfn, uint64_t npages, int ret)
{
	struct kmmu_trace_record *r = memslot(h, slot, gfn, npages, 0, ret);

	r->memslot.start_ts = issued;
	return r;
}

static void set_spte(struct history *h, uint64_t gfn)
{
	add(h, KMMU_EV_SET_SPTE)->set_spte.gfn = gfn;
}

/* SPTE bits of the x86 (shadow, NPT) format */
#define P_W	(1ull << 1)
#define P_PS	(1ull << 7)
#define P_MMU	(1ull << 11)	/* SPTE_MMU_PRESENT_MASK */

static uint64_t leaf(uint64_t pfn, unsigned int level, bool writable)
{
	return P_MMU | 1 | pfn << 12 | (level > 1 ? P_PS : 0) | (writable ? P_W : 0);
}

static void set_spte_at(struct history *h, uint64_t gfn, unsigned int level, uint64_t spte)
{
	struct kmmu_trace_record *r = add(h, KMMU_EV_SET_SPTE);

	r->set_spte.gfn = gfn;
	r->set_spte.level = level;
	r->set_spte.spte = spte;
}

static void spte_changed(struct history *h, uint64_t gfn, unsigned int level, uint64_t old,
			 uint64_t new)
{
	struct kmmu_trace_record *r = add(h, KMMU_EV_SPTE_CHANGED);

	r->spte_changed.gfn = gfn;
	r->spte_changed.level = level;
	r->spte_changed.old_spte = old;
	r->spte_changed.new_spte = new;
}

static void mmio(struct history *h, uint64_t gpa, uint32_t type)
{
	struct kmmu_trace_record *r = add(h, KMMU_EV_MMIO);

	r->mmio.gpa = gpa;
	r->mmio.type = type;
	r->mmio.len = 8;
}

static void mark_mmio(struct history *h, uint64_t gfn, uint32_t gen)
{
	struct kmmu_trace_record *r = add(h, KMMU_EV_MARK_MMIO_SPTE);

	r->mark_mmio.gfn = gfn;
	r->mark_mmio.gen = gen;
}

static void check_mmio(struct history *h, uint32_t kvm_gen, uint32_t spte_gen)
{
	struct kmmu_trace_record *r = add(h, KMMU_EV_CHECK_MMIO_SPTE);

	r->check_mmio.kvm_gen = kvm_gen;
	r->check_mmio.spte_gen = spte_gen;
	r->check_mmio.spte = KMMU_SHADOW_MMIO_VALUE |
		kmmu_generation_mmio_spte_mask(kmmu_mmio_gen_layout(KMMU_SPTE_LAYOUT_UPSTREAM),
					       spte_gen);
}

static void handle_mmio_pf(struct history *h, uint64_t gfn)
{
	add(h, KMMU_EV_HANDLE_MMIO_PAGE_FAULT)->mmio_pf.gfn = gfn;
}

static int check(struct history *h, struct kmmu_check_result *res)
{
	struct kmmu_checker_opts opts = { .report = NULL };	/* verdicts only */

	return kmmu_check(h->recs, h->nr, &opts, res);
}

FIXTURE(chk) {
	struct history h;
	struct kmmu_check_result res;
};

FIXTURE_SETUP(chk)
{
	memset(&self->h, 0, sizeof(self->h));
	/* Slot 0 backs gfns 0x100-0x10f. */
	memslot(&self->h, 0, 0x100, 16, 0, 0);
	set_spte(&self->h, 0x105);
}

FIXTURE_TEARDOWN(chk)
{
}

TEST_F(chk, correct_history_passes)
{
	uint64_t t;

	mmio(&self->h, 0x200000, 2);		/* unbacked: fine */
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);	/* the delete zaps... */
	memslot_issued(&self->h, t, 0, 0x100, 0, 0);	/* ...while deleting */
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
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
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
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	memslot_issued(&self->h, t, 0, 0x200, 16, 0);
	t = issue(&self->h);
	memslot_issued(&self->h, t, 0, 0x200, 0, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

/* An SPTE for the new range of an ioctl that failed mapped no slot. */
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
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
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
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	spte_changed(&self->h, 0x200, 2, leaf(0x3000, 2, false), leaf(0x3000, 2, true));
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_WRITABLE));
	EXPECT_EQ(1, self->res.nr_divergences);
}

/* A TDP MMU run on NPT: one VM, its stats at the end say nothing escaped the trace. */
#define P_A	(1ull << 5)
#define P_D	(1ull << 6)
#define P_MMUW	(1ull << 10)	/* DEFAULT_SPTE_MMU_WRITABLE */

static void tdp_run(struct history *h)
{
	struct kmmu_trace_record *r = add(h, KMMU_ACT_HOST);

	r->host.backend = KMMU_HOST_SVM;
	r->host.tdp = 1;
	r->host.tdp_mmu = 1;
	add(h, KMMU_ACT_VM_CREATE)->vm.nr_address_spaces = 2;
}

static struct kmmu_trace_record *spte_changed_by(struct history *h, int32_t pid, uint64_t gfn,
						 uint64_t old, uint64_t new)
{
	spte_changed(h, gfn, 1, old, new);
	h->recs[h->nr - 1].pid = pid;
	return &h->recs[h->nr - 1];
}

static void end_stats(struct history *h)
{
	struct kmmu_trace_record *r = add(h, KMMU_ACT_STATS);

	r->stats.start_ts = r->ts - 10;
	r->stats.nr_vms = 1;
	r->stats.pages[0] = 1;
}

/*
 * What may change between two traced changes of one SPTE: the CPU sets
 * Accessed and Dirty, fast_page_fault() sets Writable where MMU-writable,
 * other tasks' aging clears Accessed, their unmaps zap.
 */
TEST_F(chk, spte_history_untraced_changes_allowed)
{
	uint64_t l = leaf(0x2000, 1, false) | P_MMUW, hw = l | P_A | P_D | P_W;
	struct kmmu_trace_record *u;

	tdp_run(&self->h);
	spte_changed_by(&self->h, 7, 0x105, 0, l);
	spte_changed_by(&self->h, 7, 0x105, hw, hw & ~P_W);		/* write-protect */
	spte_changed_by(&self->h, 7, 0x105, hw & ~P_W & ~P_A, 0);	/* zap */
	spte_changed_by(&self->h, 7, 0x106, 0, l);
	u = add(&self->h, KMMU_EV_UNMAP_HVA_RANGE);			/* another task's */
	u->hva_range.start = HVA + 0x6000;
	u->hva_range.end = HVA + 0x7000;
	u->hva_range.untraced = 1;
	spte_changed_by(&self->h, 7, 0x106, 0, l);			/* after its zap */
	end_stats(&self->h);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_SPTE_HISTORY]);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));
}

TEST_F(chk, spte_history_repeated_or_inconsistent)
{
	uint64_t l = leaf(0x2000, 1, false) | P_MMUW | P_A;

	tdp_run(&self->h);
	spte_changed_by(&self->h, 7, 0x105, 0, l);
	spte_changed_by(&self->h, 7, 0x105, 0, l);			/* installed twice */
	end_stats(&self->h);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "previous traced change")) {
		TH_LOG("%s", self->res.first_divergence);
	}

	self->h.nr -= 2;
	spte_changed_by(&self->h, 7, 0x105, l & ~P_MMUW, 0);		/* lost a bit */
	end_stats(&self->h);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));

	self->h.nr -= 2;
	spte_changed_by(&self->h, 7, 0x105, l | P_PS, 0);		/* gained one */
	end_stats(&self->h);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);

	/* Writable needs MMU-writable to be set behind the trace's back. */
	self->h.nr -= 3;
	spte_changed_by(&self->h, 7, 0x105, 0, l & ~P_MMUW);
	spte_changed_by(&self->h, 7, 0x105, (l & ~P_MMUW) | P_W, 0);
	end_stats(&self->h);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));

	/* Without the stats record, other tasks may have changed it: not judged. */
	self->h.nr--;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences);
	EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE,
		  kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));
	EXPECT_NE(NULL, strstr(self->res.not_checkable[KMMU_PROP_SPTE_HISTORY], "stats"));
}

/*
 * Other tasks' unmaps of guest memory remove leaves the trace does not
 * show: the kernel may count fewer, but no more fewer than they cover.
 */
TEST_F(chk, page_stats_shortfall_beyond_untraced_unmaps)
{
	struct kmmu_trace_record *u;

	tdp_run(&self->h);
	for (int i = 0; i < 3; i++)
		spte_changed_by(&self->h, 7, 0x105 + i, 0, leaf(0x2000 + i, 1, true));
	u = add(&self->h, KMMU_EV_UNMAP_HVA_RANGE);
	u->hva_range.start = HVA + 0x5000;	/* gfn 0x105 */
	u->hva_range.end = HVA + 0x6000;
	u->hva_range.untraced = 1;
	end_stats(&self->h);
	self->h.recs[self->h.nr - 1].stats.pages[0] = 2;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_PAGE_STATS));
	/* ... and the summary says pages_4k was judged only as a bound. */
	EXPECT_NE(NULL, self->res.not_checkable[KMMU_PROP_PAGE_STATS]);

	self->h.recs[self->h.nr - 1].stats.pages[0] = 1;	/* two missing */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_PAGE_STATS));
	EXPECT_EQ(1, self->res.nr_divergences);
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "at most 1 untraced")) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

/* A corrupt stats record (a count no kernel has) is not judged, and does not overflow. */
TEST_F(chk, page_stats_impossible_count)
{
	tdp_run(&self->h);
	spte_changed_by(&self->h, 7, 0x105, 0, leaf(0x2000, 1, true));
	end_stats(&self->h);
	self->h.recs[self->h.nr - 1].stats.pages[0] = 1ULL << 63;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) TH_LOG("%s", self->res.first_divergence);
	EXPECT_NE(NULL, self->res.not_checkable[KMMU_PROP_PAGE_STATS]);
	EXPECT_NE(NULL, strstr(self->res.not_checkable[KMMU_PROP_PAGE_STATS], "impossible"));
}

/*
 * While an ioctl's zap-all runs, the new root's install may meet the old
 * root's leaf for the same gfn: not judged.  A leaf installed after the
 * zap-all is in the new root: a second install over it is judged.
 */
TEST_F(chk, spte_history_across_a_zap_all)
{
	uint64_t l = leaf(0x2000, 1, false) | P_MMUW | P_A, t;

	tdp_run(&self->h);
	spte_changed_by(&self->h, 7, 0x105, 0, l);		/* the old root */
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	spte_changed_by(&self->h, 7, 0x105, 0, l);		/* the new root */
	spte_changed_by(&self->h, 7, 0x105, l, 0x5a0);		/* the old one zapped */
	memslot_issued(&self->h, t, 1, 0x400, 4, 0);
	end_stats(&self->h);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_SPTE_HISTORY]) {
		TH_LOG("%s", self->res.first_divergence);
	}

	self->h.nr -= 3;
	spte_changed_by(&self->h, 7, 0x106, 0, l);		/* after the zap-all */
	spte_changed_by(&self->h, 7, 0x106, 0, l);		/* installed twice */
	memslot_issued(&self->h, t, 1, 0x400, 4, 0);
	end_stats(&self->h);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);
}

/*
 * Each CPU stamps its own trace buffer: in a guest without a stable TSC a
 * change from another CPU may be sorted before the install it changed.
 * A mismatch such a change explains is not reported; others are.
 */
TEST_F(chk, spte_history_across_cpus)
{
	uint64_t l1 = leaf(0x2000, 1, false) | P_MMUW | P_A, l2 = l1 | 4;	/* User */

	tdp_run(&self->h);
	spte_changed_by(&self->h, 8, 0x105, l1, l2)->cpu = 1;	/* really after the install */
	spte_changed_by(&self->h, 7, 0x105, 0, l1);
	spte_changed_by(&self->h, 7, 0x105, l2, 0);
	end_stats(&self->h);
	self->h.recs[self->h.nr - 1].stats.pages[0] = 0;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_SPTE_HISTORY]) {
		TH_LOG("%s", self->res.first_divergence);
	}

	self->h.recs[self->h.nr - 4].spte_changed.new_spte = l1 | P_PS;	/* explains nothing */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);
}

/* Page-table SPTEs have a history too: linked twice, or unlinked as another. */
TEST_F(chk, spte_history_of_page_tables)
{
	uint64_t table = P_MMU | 1 | P_W | 4 | P_A | 0x3000ull << 12;

	tdp_run(&self->h);
	spte_changed(&self->h, 0x100, 2, 0, table);
	spte_changed(&self->h, 0x100, 2, table, 0x5a0);		/* zapped */
	spte_changed(&self->h, 0x100, 2, 0, table);
	end_stats(&self->h);
	self->h.recs[self->h.nr - 1].stats.pages[0] = 0;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(1, self->res.checked[KMMU_PROP_SPTE_HISTORY]);

	self->h.nr--;
	spte_changed(&self->h, 0x100, 2, 0, table);		/* linked again */
	end_stats(&self->h);
	self->h.recs[self->h.nr - 1].stats.pages[0] = 0;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);

	self->h.nr -= 2;
	spte_changed(&self->h, 0x100, 2, table ^ 1ull << 13, 0);	/* another table */
	end_stats(&self->h);
	self->h.recs[self->h.nr - 1].stats.pages[0] = 0;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);
}

/* A leaf moved to another page in place; a change only a fault may make. */
TEST_F(chk, leaf_changes_in_place)
{
	uint64_t l = leaf(0x2000, 1, false) | P_MMUW | P_A;
	struct kmmu_trace_record *u;

	tdp_run(&self->h);
	spte_changed_by(&self->h, 7, 0x105, 0, l);
	set_spte_at(&self->h, 0x105, 1, l);
	self->h.recs[self->h.nr - 1].pid = 7;
	u = add(&self->h, KMMU_EV_AGE_HVA);
	u->pid = 9;
	u->hva_range.start = HVA + 0x5000;
	u->hva_range.end = HVA + 0x6000;
	spte_changed_by(&self->h, 9, 0x105, l, l & ~P_A);		/* aging */
	spte_changed_by(&self->h, 7, 0x105, l & ~P_A, l | P_W | P_D);	/* a write fault */
	set_spte_at(&self->h, 0x105, 1, l | P_W | P_D);
	self->h.recs[self->h.nr - 1].pid = 7;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_LEAF_CHANGE));

	spte_changed_by(&self->h, 7, 0x105, l | P_W | P_D, leaf(0x2001, 1, true) | P_MMUW);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_LEAF_CHANGE));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "in place"));

	/* A change to itself is never traced (e.g. a write-protection that kept W). */
	self->h.nr--;
	spte_changed_by(&self->h, 9, 0x105, l | P_W | P_D, l | P_W | P_D);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_LEAF_CHANGE));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "to itself"));

	/* Bits set, and no fault's kvm_mmu_set_spte follows. */
	self->h.nr--;
	spte_changed_by(&self->h, 9, 0x105, l | P_W | P_D, l | P_W | P_D | P_PS);
	add(&self->h, KMMU_EV_AGE_HVA)->pid = 9;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_LEAF_CHANGE));
	EXPECT_EQ(1, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

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
	self->h.recs[self->h.nr - 1].pid = 7;
	memslot(&self->h, 1, 0x300, 1, 0, 0);	/* now backed */
	mmio(&self->h, 0x300000, 1);		/* vCPU 7 completes its read */
	self->h.recs[self->h.nr - 1].pid = 7;
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
	self->h.recs[self->h.nr - 1].pid = 100;
	mmio(&self->h, 0x400000, 0);
	self->h.recs[self->h.nr - 1].pid = 164;
	memslot(&self->h, 1, 0x300, 1, 0, 0);	/* both gpas backed from here */
	memslot(&self->h, 2, 0x400, 1, 0, 0);
	mmio(&self->h, 0x300000, 1);		/* each completes its own read */
	self->h.recs[self->h.nr - 1].pid = 100;
	mmio(&self->h, 0x400000, 1);
	self->h.recs[self->h.nr - 1].pid = 164;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_MMIO_UNBACKED]);

	/* A completion is consumed: a second READ of 100 is judged. */
	mmio(&self->h, 0x300000, 1);
	self->h.recs[self->h.nr - 1].pid = 100;
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
	uint64_t t;

	mark_mmio(&self->h, 0x5000, 10);		/* offset 8 learned */
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	memslot_issued(&self->h, t, 0, 0x100, 0, 0);	/* DELETE: two swaps */
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
	uint64_t t;

	vm_address_spaces(&self->h, 2);
	mark_mmio(&self->h, 0x5000, 10);
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	memslot_issued(&self->h, t, 0, 0x100, 0, 0);
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
	uint64_t t;

	mark_mmio(&self->h, 0x5000, 10);
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	memslot_issued(&self->h, t, 0, 0x100, 0, 0);	/* DELETE: two swaps, +2 */
	mark_mmio(&self->h, 0x5002, 12);		/* learned: one address space */
	memslot(&self->h, 6, 0x6000, 1, 0, 0);		/* CREATE: +1 */
	mark_mmio(&self->h, 0x5003, 13);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
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
	uint64_t t;

	vm_address_spaces(&self->h, 2);
	mark_mmio(&self->h, 0x5000, 0x7fffe);
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	memslot_issued(&self->h, t, 6, 0x6000, 1, 0);	/* CREATE: generation 0 */
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
	self->h.recs[self->h.nr - 1].pid = 7;
	handle_mmio_pf(&self->h, 0x200);
	self->h.recs[self->h.nr - 1].pid = 7;
	check_mmio(&self->h, 10, 8);		/* stale: the slow path installs anew */
	self->h.recs[self->h.nr - 1].pid = 7;
	mark_mmio(&self->h, 0x200, 10);
	self->h.recs[self->h.nr - 1].pid = 7;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_CHECK));

	/* A stale one used. */
	self->h.nr--;
	handle_mmio_pf(&self->h, 0x200);
	self->h.recs[self->h.nr - 1].pid = 7;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MMIO_CHECK));
	EXPECT_EQ(1, self->res.nr_divergences);
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "must not be used"));

	/* A current one not used (in a trace that shows uses). */
	self->h.nr -= 3;
	mark_mmio(&self->h, 0x200, 10);
	self->h.recs[self->h.nr - 1].pid = 7;
	check_mmio(&self->h, 10, 10);
	self->h.recs[self->h.nr - 1].pid = 8;
	handle_mmio_pf(&self->h, 0x300);
	self->h.recs[self->h.nr - 1].pid = 8;
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

#define NPT_PRESENT	(1ull << 11)	/* SPTE_MMU_PRESENT_MASK */
#define NPT_HUGE	(1ull << 7)

/* A TDP MMU history on an NPT host: slot 0 backs gfns 0x200-0x3ff (one 2M page). */
static void tdp_history(struct history *h)
{
	struct kmmu_trace_record *r;

	memset(h, 0, sizeof(*h));
	r = add(h, KMMU_ACT_HOST);
	r->host.backend = KMMU_HOST_SVM;
	r->host.tdp = r->host.tdp_mmu = 1;
	add(h, KMMU_ACT_VM_CREATE)->vm.nr_address_spaces = 2;
	memslot(h, 0, 0x200, 512, 0, 0);
}

static void split(struct history *h, uint64_t gfn, unsigned int level)
{
	struct kmmu_trace_record *r = add(h, KMMU_EV_SPLIT_HUGE_PAGE);

	r->split.gfn = gfn;
	r->split.level = level;
}

static void stats(struct history *h, uint64_t pages_4k, uint64_t pages_2m)
{
	struct kmmu_trace_record *r = add(h, KMMU_ACT_STATS);

	r->stats.start_ts = r->ts - 1;
	r->stats.pages[0] = pages_4k;
	r->stats.pages[1] = pages_2m;
	r->stats.nr_vms = 1;
}

/*
 * tdp_mmu_split_huge_page(): the 2M leaf becomes a table and its 512 4K
 * children count from then on, as leaves the trace installed: dropping
 * one is no unknown leaf.
 */
TEST(split_children_count_as_installed)
{
	const uint64_t huge = NPT_PRESENT | NPT_HUGE | 0x40000000;
	struct kmmu_check_result res;
	struct history h;

	tdp_history(&h);
	spte_changed(&h, 0x200, 2, 0, huge);
	spte_changed(&h, 0x200, 2, huge, NPT_PRESENT | 0x5000);
	split(&h, 0x200, 2);
	spte_changed(&h, 0x203, 1, NPT_PRESENT | 0x40003000, 0);
	stats(&h, 511, 0);
	ASSERT_EQ(0, check(&h, &res));
	EXPECT_EQ(0, res.nr_divergences) {
		TH_LOG("%s", res.first_divergence);
	}
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&res, KMMU_PROP_PAGE_STATS));

	/* Off by one: a divergence, with no leaf removed that was never installed. */
	h.recs[h.nr - 1].stats.pages[0] = 510;
	ASSERT_EQ(0, check(&h, &res));
	EXPECT_EQ(1, res.divergences[KMMU_PROP_PAGE_STATS]);
	EXPECT_EQ(NULL, strstr(res.first_divergence, "never saw installed"));

	/* A second split of the same page (collapsed in between, untraced) counts too. */
	h.nr--;
	spte_changed(&h, 0x200, 2, NPT_PRESENT | 0x5000, huge);
	spte_changed(&h, 0x200, 2, huge, NPT_PRESENT | 0x6000);
	split(&h, 0x200, 2);
	spte_changed(&h, 0x203, 1, NPT_PRESENT | 0x40003000, 0);
	spte_changed(&h, 0x204, 1, NPT_PRESENT | 0x40004000, 0);
	stats(&h, 511 + 512 - 2, 0);
	ASSERT_EQ(0, check(&h, &res));
	EXPECT_EQ(0, res.nr_divergences) {
		TH_LOG("%s", res.first_divergence);
	}

	/* A 4K leaf outside any split page was never installed. */
	h.nr--;
	spte_changed(&h, 0x400, 1, NPT_PRESENT | 0x1000, 0);
	stats(&h, 1019, 0);
	ASSERT_EQ(0, check(&h, &res));
	EXPECT_NE(NULL, strstr(res.first_divergence, "never saw installed")) {
		TH_LOG("%s", res.first_divergence);
	}
}

/*
 * Memory follows the trace's content, not what its records claim: 20000
 * splits of distinct 2M pages (a 1.3 MB trace file) once made the checker
 * keep 512 leaves per split, over 1 GB.  Replayed in a child limited to
 * 512 MB of address space, whose peak RSS must stay under 64 MB.
 */
TEST(many_splits_stay_small)
{
	const int nr_splits = 20000;
	struct kmmu_trace_record *recs = calloc(nr_splits + 2, sizeof(*recs));
	struct rlimit as = { 512 << 20, 512 << 20 };
	struct rusage ru;
	int status;
	pid_t pid;

	ASSERT_NE(NULL, recs);
	recs[0].ts = 1000;
	recs[0].type = KMMU_ACT_SET_MEMSLOT;
	recs[0].memslot.start_ts = 500;
	recs[0].memslot.size = 1ull << 30;
	recs[0].memslot.hva = HVA;
	recs[1].ts = 2000;
	recs[1].type = KMMU_EV_SPTE_CHANGED;
	recs[1].spte_changed.level = 2;
	recs[1].spte_changed.new_spte = NPT_PRESENT | NPT_HUGE;
	for (int i = 0; i < nr_splits; i++) {
		struct kmmu_trace_record *r = &recs[2 + i];

		r->ts = 3000 + i;
		r->type = KMMU_EV_SPLIT_HUGE_PAGE;
		r->split.gfn = (uint64_t)i << 9;
		r->split.level = 2;
	}
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct kmmu_check_result res;

		if (setrlimit(RLIMIT_AS, &as))
			_exit(2);
		_exit(kmmu_check(recs, nr_splits + 2, NULL, &res) ? 1 : 0);
	}
	ASSERT_EQ(pid, wait4(pid, &status, 0, &ru));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		TH_LOG("the replay failed: status %#x", status);
	}
	EXPECT_GT(64 << 10, ru.ru_maxrss) {
		TH_LOG("peak RSS %ld KB for %d split records", ru.ru_maxrss, nr_splits);
	}
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
