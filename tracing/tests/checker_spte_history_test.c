// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's SPTE history and page statistics properties
 * (checker_history.h): what may change between two traced changes of an
 * SPTE, the KVM page stats against the leaves the trace installed, and
 * huge-page splits, whose children count as installed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "checker_history.h"
#include "kmmu/trace_file.h"

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

/* Swaps @r and the record after it, keeping the timestamps in order. */
static void move_after_next(struct kmmu_trace_record *r)
{
	struct kmmu_trace_record next = r[1];
	uint64_t ts = r[0].ts;

	r[1] = r[0];
	r[1].ts = next.ts;
	r[0] = next;
	r[0].ts = ts;
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
	ASSERT_CHECKS_CLEAN();
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
	ASSERT_CHECKS_CLEAN();
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
/*
 * A leaf installed before the trace began is live from its first traced
 * change in place: an install over it does not start from what that
 * change left (found by checker_alter_test: an install and the Accessed
 * clear after it swapped).  Dropped first, it may be installed again.
 */
TEST_F(chk, spte_history_of_a_leaf_installed_before_the_trace)
{
	uint64_t l = leaf(0x2000, 1, true) | P_MMUW | P_A | P_D;

	tdp_run(&self->h);
	spte_changed_by(&self->h, 7, 0x105, l, l & ~P_W);	/* write-protected */
	spte_changed_by(&self->h, 7, 0x105, l & ~P_W, 0);	/* zapped */
	spte_changed_by(&self->h, 7, 0x105, 0, l);		/* faulted in again */
	end_stats(&self->h);
	/* The trace installed and dropped as many leaves as it shows. */
	self->h.recs[self->h.nr - 1].stats.pages[0] = 0;
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(1, self->res.checked[KMMU_PROP_SPTE_HISTORY]);	/* the zap */

	self->h.nr -= 3;
	spte_changed_by(&self->h, 7, 0x105, 0, l);		/* over the live leaf */
	end_stats(&self->h);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "previous traced change")) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

/*
 * Once the key's one leaf is dropped, no change from a present leaf may
 * follow until a fault installs one again (found by checker_alter_test: an
 * Accessed clear and the zap after it swapped).  Unless another CPU's
 * clock put the drop first: the change left what the drop starts from.
 */
TEST_F(chk, spte_history_change_after_drop)
{
	uint64_t l = leaf(0x2000, 1, true) | P_MMUW | P_A | P_D;

	tdp_run(&self->h);
	spte_changed_by(&self->h, 7, 0x105, 0, l);
	spte_changed_by(&self->h, 7, 0x105, l, 0);		/* zapped */
	spte_changed_by(&self->h, 8, 0x105, l, l & ~P_A);	/* aged after the zap */
	end_stats(&self->h);
	self->h.recs[self->h.nr - 1].stats.pages[0] = 0;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);

	/* The zap on CPU 1, stamped before the clear that really came first. */
	self->h.recs[self->h.nr - 3].spte_changed.old_spte = l & ~P_A;
	self->h.recs[self->h.nr - 3].cpu = 1;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_SPTE_HISTORY]) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

/*
 * A zap-all and installs stamped on different CPUs, whose clocks may be
 * milliseconds apart (found by checker_alter_test moving one CPU's clock of
 * the khugepaged fixture by 0.2-5 ms): an install stamped just after a
 * zap-all on another CPU may have gone to the old root, and one stamped
 * just before it may have gone to the new root.  Stamped 20 ms apart, the
 * order is sure and a second install into one root is reported.
 */
TEST_F(chk, spte_history_zap_all_on_another_cpu)
{
	uint64_t l = leaf(0x2000, 1, false) | P_MMUW | P_A, t;
	struct kmmu_trace_record *z;

	tdp_run(&self->h);
	t = issue(&self->h);
	z = add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	z->pid = 5;						/* the ioctl's task */
	spte_changed_by(&self->h, 7, 0x105, 0, l)->cpu = 1;	/* old root, after all */
	spte_changed_by(&self->h, 5, 0x105, l, 0x5a0);		/* the old root zapped */
	spte_changed_by(&self->h, 8, 0x105, 0, l)->cpu = 1;	/* the new root */
	memslot_issued(&self->h, t, 1, 0x400, 4, 0)->pid = 5;
	end_stats(&self->h);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_SPTE_HISTORY]) {
		TH_LOG("%s", self->res.first_divergence);
	}
	/* On the zap-all's CPU, the first install was surely the new root's. */
	self->h.recs[self->h.nr - 5].cpu = 0;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);

	/* A new-root install stamped before the next ioctl's zap-all on another CPU. */
	self->h.nr = 0;
	tdp_run(&self->h);
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST)->pid = 5;
	spte_changed_by(&self->h, 7, 0x105, 0, l);		/* the new root */
	memslot_issued(&self->h, t, 1, 0x400, 4, 0)->pid = 5;
	self->h.now += 20000000;
	t = issue(&self->h);
	spte_changed_by(&self->h, 8, 0x105, 0, l)->cpu = 1;	/* the next new root */
	add(&self->h, KMMU_EV_ZAP_ALL_FAST)->pid = 5;
	spte_changed_by(&self->h, 5, 0x105, l, 0x5a0);		/* the old root zapped */
	memslot_issued(&self->h, t, 2, 0x500, 4, 0)->pid = 5;
	end_stats(&self->h);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_SPTE_HISTORY]) {
		TH_LOG("%s", self->res.first_divergence);
	}
	/* The zap-all 20 ms later: the install came before it, over the live leaf. */
	for (int i = self->h.nr - 4; i < self->h.nr; i++)
		self->h.recs[i].ts += 20000000;
	self->h.recs[self->h.nr - 2].memslot.start_ts = t;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);
}

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
 * Seen on a clean 6.1 (memslot_churn_test, the mutant campaign's
 * baseline): while the ioctl's zap-all was in flight, a vCPU installed a
 * leaf in the new root, the zapping task zapped the old root's leaf of
 * the same value, khugepaged (another task, untraced) unmapped the gfn's
 * 2M of host memory, which zaps the leaf in every root, and the vCPU
 * faulted it in again at the same sptep, on the collapsed page.  The
 * second install follows an untraced removal: not judged.  An unmap of
 * other gfns explains nothing: still judged.
 */
TEST_F(chk, spte_history_reinstall_after_untraced_unmap)
{
	uint64_t l = leaf(0x2000, 1, true) | P_MMUW | P_A, collapsed = leaf(0x3c05, 1, true);
	struct kmmu_trace_record *u;
	uint64_t t;

	tdp_run(&self->h);
	spte_changed_by(&self->h, 7, 0x105, 0, l);		/* the old root */
	t = issue(&self->h);
	add(&self->h, KMMU_EV_ZAP_ALL_FAST);
	by_task(&self->h, 9);
	spte_changed_by(&self->h, 7, 0x105, 0, l);		/* the new root */
	spte_changed_by(&self->h, 9, 0x105, l, 0x5a0);		/* the old one zapped */
	u = add(&self->h, KMMU_EV_UNMAP_HVA_RANGE);		/* khugepaged's */
	by_task(&self->h, 30);
	u->hva_range.start = HVA;
	u->hva_range.end = HVA + 0x200000;
	u->hva_range.untraced = 1;
	spte_changed_by(&self->h, 7, 0x105, 0, collapsed);	/* faulted in again */
	memslot_issued(&self->h, t, 1, 0x400, 4, 0);
	by_task(&self->h, 9);
	end_stats(&self->h);
	ASSERT_CHECKS_CLEAN();

	u->hva_range.start = HVA + 0x6000;			/* gfn 0x106 only */
	u->hva_range.end = HVA + 0x7000;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "a second time")) {
		TH_LOG("%s", self->res.first_divergence);
	}

	/*
	 * The unmap sorted just after the re-install: from another CPU, the
	 * clocks' skew may have put it there (not judged); from the same
	 * CPU, the order is sure (judged).
	 */
	u->hva_range.start = HVA;
	u->hva_range.end = HVA + 0x200000;
	move_after_next(u);
	u[1].cpu = 1;
	ASSERT_CHECKS_CLEAN();
	u[1].cpu = 0;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);
}

/*
 * An unmap zaps in every address space (__kvm_handle_hva_range() walks
 * the slots of each): a leaf of address space 1 (SMM), zapped by another
 * task's unmap of its slot's host memory and faulted in again, is not
 * judged; the same gfn of address space 0, whose slot the unmap misses, is.
 */
TEST_F(chk, spte_history_unmap_in_another_address_space)
{
	uint64_t l = leaf(0x2000, 1, true) | P_MMUW | P_A;
	struct kmmu_trace_record *u, *smram;

	tdp_run(&self->h);
	smram = memslot(&self->h, 1 << 16 | 3, 0x100, 16, 0, 0);
	smram->memslot.hva = HVA + 0x100000;
	spte_changed_by(&self->h, 7, 0x105, 0, l)->spte_changed.as_id = 1;
	u = add(&self->h, KMMU_EV_UNMAP_HVA_RANGE);
	by_task(&self->h, 30);
	u->hva_range.start = HVA + 0x100000;
	u->hva_range.end = HVA + 0x110000;
	u->hva_range.untraced = 1;
	spte_changed_by(&self->h, 7, 0x105, 0, leaf(0x3c05, 1, true))->spte_changed.as_id = 1;
	end_stats(&self->h);
	self->h.recs[self->h.nr - 1].stats.pages[0] = 1;
	ASSERT_CHECKS_CLEAN();

	self->h.recs[self->h.nr - 4].spte_changed.as_id = 0;
	self->h.recs[self->h.nr - 2].spte_changed.as_id = 0;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

/* Without a zap-all: a leaf faulted in again, the unmap that zapped it sorted after. */
TEST_F(chk, spte_history_unmap_sorted_after_by_skew)
{
	uint64_t l = leaf(0x2000, 1, true) | P_MMUW | P_A;
	struct kmmu_trace_record *u;

	tdp_run(&self->h);
	spte_changed_by(&self->h, 7, 0x105, 0, l);
	spte_changed_by(&self->h, 7, 0x105, 0, leaf(0x3c05, 1, true));	/* faulted in again */
	u = add(&self->h, KMMU_EV_UNMAP_HVA_RANGE);
	by_task(&self->h, 30);
	u->hva_range.start = HVA;
	u->hva_range.end = HVA + 0x200000;
	u->hva_range.untraced = 1;
	u->cpu = 1;
	end_stats(&self->h);
	ASSERT_CHECKS_CLEAN();
	EXPECT_EQ(KMMU_CHECK_NOT_CHECKABLE,
		  kmmu_check_verdict(&self->res, KMMU_PROP_SPTE_HISTORY));

	u->cpu = 0;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(1, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);
}

/*
 * The same on the real trace, cut (tracing/fixtures/churn-tdp-khugepaged-
 * 6.1.kmmutrace, its header says from what): every record of the ioctl's
 * zap-all window (62.414-62.667: the vCPUs' new-root installs, the
 * zapping task's old-root zaps, khugepaged's unmap at 62.457665, the ten
 * re-installs), all actions, zap-alls and unmaps, and of the SPTE changes
 * before and after it those that keep each SPTE's live count and history
 * (from the last time it had none), each with the fault's kvm_mmu_set_spte
 * that follows it.  Clean; without khugepaged's unmap, the re-installs are
 * the ten divergences again.
 */
TEST(spte_history_khugepaged_fixture)
{
	const char *dir = getenv("KMMU_FIXTURE_DIR");
	struct kmmu_checker_opts opts = { .report = NULL };
	struct kmmu_check_result res;
	struct kmmu_trace_file tf;
	char path[512], err[512];
	uint64_t unmap = 0;

	snprintf(path, sizeof(path), "%s/churn-tdp-khugepaged-6.1.kmmutrace",
		 dir ? dir : "tracing/fixtures");
	ASSERT_EQ(0, kmmu_trace_file_read(path, &tf, err, sizeof(err)))
		TH_LOG("%s (run from the repository root or set KMMU_FIXTURE_DIR)", err);
	ASSERT_EQ(0, kmmu_check(tf.recs, tf.nr, &opts, &res));
	EXPECT_EQ(0, res.nr_divergences) TH_LOG("%s", res.first_divergence);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&res, KMMU_PROP_SPTE_HISTORY));
	EXPECT_LE(100, res.checked[KMMU_PROP_SPTE_HISTORY]);
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&res, KMMU_PROP_PAGE_STATS));

	for (uint64_t i = 0; i < tf.nr; i++)
		if (tf.recs[i].type == KMMU_EV_UNMAP_HVA_RANGE && tf.recs[i].pid == 30 &&
		    tf.recs[i].hva_range.start == 0x7fb306600000ULL)
			unmap = i + 1;
	ASSERT_NE(0, unmap) TH_LOG("khugepaged's unmap is not in the fixture");
	memmove(&tf.recs[unmap - 1], &tf.recs[unmap], (tf.nr - unmap) * sizeof(*tf.recs));
	ASSERT_EQ(0, kmmu_check(tf.recs, tf.nr - 1, &opts, &res));
	EXPECT_EQ(10, res.divergences[KMMU_PROP_SPTE_HISTORY]);
	EXPECT_NE(NULL, strstr(res.first_divergence, "a second time")) {
		TH_LOG("%s", res.first_divergence);
	}
	kmmu_trace_file_free(&tf);
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

/*
 * The same, with the zap on the CPU of the change sorted before the install
 * (seen in the TCG VM: the host thread cleared Dirty on CPU 1 right after a
 * vCPU's install on CPU 0, stamped 1 ms earlier, then zapped on CPU 1):
 * the change is still the last one before the zap, as CPU 1's own order says.
 */
TEST_F(chk, spte_history_across_cpus_zap_on_the_changing_cpu)
{
	uint64_t clean = leaf(0x2000, 1, true) | P_MMUW | P_A, dirty = clean | P_D;

	tdp_run(&self->h);
	spte_changed_by(&self->h, 8, 0x105, dirty, clean)->cpu = 1;	/* really after the install */
	spte_changed_by(&self->h, 7, 0x105, 0, dirty);
	spte_changed_by(&self->h, 8, 0x105, clean, 0x5a0)->cpu = 1;	/* REMOVED_SPTE */
	end_stats(&self->h);
	self->h.recs[self->h.nr - 1].stats.pages[0] = 0;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_SPTE_HISTORY]) {
		TH_LOG("%s", self->res.first_divergence);
	}

	/*
	 * The install on CPU 1 too: CPU 1's order is the order, so the install
	 * came over the live leaf the change shows, and Dirty came back.
	 */
	self->h.recs[self->h.nr - 3].cpu = 1;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(2, self->res.divergences[KMMU_PROP_SPTE_HISTORY]);
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
	ASSERT_CHECKS_CLEAN();
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

/*
 * Dirty logging splits a huge leaf into a page table, and when it stops,
 * KVM zaps that table (its REMOVED_SPTE cleared untraced) and faults the
 * huge leaf in again: an install from no SPTE, not from what the split left
 * (a false alarm on every real TDP trace of dirty_log_test on THP).
 */
TEST_F(chk, spte_history_huge_leaf_after_split_and_collapse)
{
	uint64_t table = P_MMU | 1 | P_W | 4 | P_A | 0x3000ull << 12;
	uint64_t huge = leaf(0x200, 2, true) | P_MMUW | P_A | P_D;

	tdp_run(&self->h);
	spte_changed(&self->h, 0x100, 2, 0, huge);
	spte_changed(&self->h, 0x100, 2, huge, table);		/* split */
	spte_changed(&self->h, 0x100, 2, table, 0x5a0);		/* collapsible: zapped */
	spte_changed(&self->h, 0x100, 2, 0, huge);		/* the huge leaf again */
	end_stats(&self->h);
	self->h.recs[self->h.nr - 1].stats.pages[1] = 1;
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.divergences[KMMU_PROP_SPTE_HISTORY]) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

/* A leaf moved to another page in place; a change only a fault may make. */
TEST_F(chk, leaf_changes_in_place)
{
	uint64_t l = leaf(0x2000, 1, false) | P_MMUW | P_A;
	struct kmmu_trace_record *u;

	tdp_run(&self->h);
	spte_changed_by(&self->h, 7, 0x105, 0, l);
	set_spte_at(&self->h, 0x105, 1, l);
	by_task(&self->h, 7);
	u = add(&self->h, KMMU_EV_AGE_HVA);
	u->pid = 9;
	u->hva_range.start = HVA + 0x5000;
	u->hva_range.end = HVA + 0x6000;
	spte_changed_by(&self->h, 9, 0x105, l, l & ~P_A);		/* aging */
	spte_changed_by(&self->h, 7, 0x105, l & ~P_A, l | P_W | P_D);	/* a write fault */
	set_spte_at(&self->h, 0x105, 1, l | P_W | P_D);
	by_task(&self->h, 7);
	ASSERT_CHECKS_CLEAN();
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

TEST_HARNESS_MAIN
