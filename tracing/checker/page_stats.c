// SPDX-License-Identifier: GPL-2.0
/*
 * PAGE_STATS: the kernel's page stats (pages_4k/2m/1g, read by the session
 * at its end: KMMU_ACT_STATS) equal the leaf SPTEs the TDP MMU's traced
 * changes installed and removed (counted in spte.c), or the shadow MMU's
 * installs and kprobe drops (shadow.c).  Other tasks' unmaps
 * the trace lacks may explain a shortfall, up to the most leaves they can
 * have removed (bounded here as they come).
 */
#include <inttypes.h>

#include <urcu/urcu-memb.h>

#include "replay.h"

static const char *const stat_names[3] = { "pages_4k", "pages_2m", "pages_1g" };

/* Why the session says the trace may lack removals of leaves; NULL if it cannot. */
const char *chk_stats_gap(const struct kmmu_trace_record *r)
{
	if (r->stats.flags & KMMU_STATS_NX_RECOVERY)
		return "the NX huge page recovery thread zaps SPTEs untraced";
	if (r->stats.flags & KMMU_STATS_OTHERS_UNKNOWN)
		return "other tasks' MMU notifier calls were not captured";
	return NULL;
}

/*
 * Why the trace cannot count the leaves; NULL if it can: from the TDP
 * MMU's changes, or the shadow MMU's installs and kprobe drops (shadow.c).
 */
static const char *no_leaf_count(struct checker *c)
{
	if (c->shadow_drops)
		return c->shadow_unknown ? "shadow MMU: leaves installed before the trace began"
					   " were dropped (their level is unknown)" : NULL;
	if (!chk_no_tdp_mmu(c))
		return NULL;
	return c->host ? chk_shadow_no_drops(c) : chk_no_tdp_mmu(c);
}

/* Adds the leaves of each level that gfns [lo, hi) can hold, @roots times. */
static void bound_add(struct checker *c, gfn_t lo, gfn_t hi, unsigned int roots)
{
	for (unsigned int l = 1; l <= 3 && lo < hi; l++) {
		unsigned int shift = KMMU_HPAGE_GFN_SHIFT(l);

		c->unmap_bound[l - 1] += (((hi - 1) >> shift) - (lo >> shift) + 1) * roots;
	}
}

static void bound_slot(struct checker *c, gfn_t base, uint64_t hva, uint64_t npages,
		       const struct kmmu_trace_record *r, unsigned int roots)
{
	gfn_t lo, hi;

	if (chk_hva_range_gfns(base, hva, npages, r->hva_range.start, r->hva_range.end, &lo, &hi))
		bound_add(c, lo, hi, roots);
}

/*
 * How many leaves per level an untraced unmap may have removed: one per
 * root for every huge page frame of each level its host range covers
 * through the slots of every address space, the reference's and those of
 * the ioctls in flight.  A VM has one root per address space except while
 * a memslot ioctl's kvm_mmu_zap_all_fast() runs: two then.  A bound on the
 * page stats' shortfall (chk_on_stats()), for chk_on_unmap().
 */
static void bound_untraced_unmap(struct checker *c, const struct kmmu_trace_record *r)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	struct kmmu_memory_slot *s;
	unsigned int roots;
	int n;

	n = chk_ops_in_flight(c, r->ts, fl, true);
	roots = n ? 2 : 1;
	for (int i = 0; i < n; i++) {
		const struct kmmu_trace_record *op = &c->recs[fl[i]->pos];

		bound_slot(c, op->memslot.gpa >> PAGE_SHIFT, op->memslot.hva,
			   op->memslot.size >> PAGE_SHIFT, r, roots);
	}
	urcu_memb_read_lock();
	for (int as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++)
		kmmu_for_each_memslot_in_hva_range(s, kmmu_memslots_active(c->ms, as),
						   r->hva_range.start, r->hva_range.end)
			bound_slot(c, s->base_gfn, s->userspace_addr, s->npages, r, roots);
	urcu_memb_read_unlock();
}

/* Another task unmapped guest memory, and the trace lacks its SPTE changes. */
void chk_on_unmap(struct checker *c, const struct kmmu_trace_record *r)
{
	if (!untraced_unmap_of_guest(c, r))
		return;
	c->untraced_unmaps++;
	bound_untraced_unmap(c, r);
}

/*
 * The kernel has @missing fewer leaves of level @l + 1 than the trace:
 * removals by other tasks' unmaps the trace lacks, at most as many as
 * bound_untraced_unmap() counted.  Judged as that bound only.
 */
static void judge_stats_shortfall(struct checker *c, const struct kmmu_trace_record *r, int l,
				  int64_t missing, gfn_t gfn, bool have_gfn)
{
	if ((uint64_t)missing > c->unmap_bound[l]) {
		chk_diverge(c, KMMU_PROP_PAGE_STATS, gfn, have_gfn,
			    "%s %" PRIu64 ": %" PRId64 " fewer leaf SPTEs than the trace installed"
			    " and removed, but other tasks' unmaps of guest memory can have"
			    " removed at most %" PRIu64 " untraced", stat_names[l],
			    r->stats.pages[l], missing, c->unmap_bound[l]);
		return;
	}
	chk_not_checkable(c, KMMU_PROP_PAGE_STATS,
			  "where other tasks' unmaps removed leaves untraced, the stats were judged"
			  " only against the most those unmaps could remove");
}

/*
 * The kernel's page stats, read while nothing changed SPTEs, against the
 * leaves the trace installed and removed.  The trace may lack changes in
 * one direction only: removals by tasks it did not follow (another task's
 * mmu notifier call, the NX huge page recovery thread).  Nothing adds a
 * leaf outside the test's own threads, so more leaves in the kernel than
 * in the trace is always a divergence; fewer is one only when no removal
 * can have escaped the trace.
 */
void chk_on_stats(struct checker *c, const struct kmmu_trace_record *r)
{
	const char *missed_removals = chk_stats_gap(r);
	const char *why = no_leaf_count(c);

	if (why) {
		chk_not_checkable(c, KMMU_PROP_PAGE_STATS, why);
		return;
	}
	if (r->stats.nr_vms > c->vm_creates) {
		chk_not_checkable(c, KMMU_PROP_PAGE_STATS,
				  "a VM older than the trace: its first SPTEs are not in it");
		return;
	}
	if (c->last_leaf_change_ts >= r->stats.start_ts) {
		chk_not_checkable(c, KMMU_PROP_PAGE_STATS,
				  "SPTEs changed while the stats were read");
		return;
	}
	for (int l = 0; l < 3; l++) {
		int64_t kernel = (int64_t)r->stats.pages[l], ref = c->pages[l];
		/*
		 * No kernel counts 2^63 pages: only a corrupt trace does, and
		 * the shortfall below would overflow (found by checker_fuzz).
		 */
		if (r->stats.pages[l] > INT64_MAX) {
			chk_not_checkable(c, KMMU_PROP_PAGE_STATS,
					  "a page count in the stats record is impossible (corrupt trace)");
			continue;
		}
		uint64_t last = c->last_leaf_change[l];
		const struct kmmu_trace_record *e = last ? &c->recs[last - 1] : NULL;
		gfn_t gfn = !e ? 0 : e->type == KMMU_EV_SPLIT_HUGE_PAGE ? e->split.gfn :
			    e->type == KMMU_EV_SET_SPTE ? e->set_spte.gfn : e->spte_changed.gfn;

		if (kernel < ref && missed_removals) {
			chk_not_checkable(c, KMMU_PROP_PAGE_STATS, missed_removals);
			continue;
		}
		c->res->checked[KMMU_PROP_PAGE_STATS]++;
		if (kernel < ref && c->untraced_unmaps) {
			judge_stats_shortfall(c, r, l, ref - kernel, gfn, e != NULL);
			continue;
		}
		if (kernel != ref)
			chk_diverge(c, KMMU_PROP_PAGE_STATS, gfn, e != NULL,
				    "%s %" PRId64 " (%u VM(s)), but the trace installed and"
				    " removed leaf SPTEs to %" PRId64 "%s; the last leaf change at"
				    " this level was gfn %#" PRIx64, stat_names[l], kernel,
				    r->stats.nr_vms, ref, c->unknown_leaves ?
				    " (and removed leaves it never saw installed)" : "", gfn);
	}
}

/* Why PAGE_STATS judged nothing, when that is known. */
void chk_explain_page_stats(struct checker *c)
{
	const char *why = no_leaf_count(c);

	if (!c->res->checked[KMMU_PROP_PAGE_STATS] && !c->res->not_checkable[KMMU_PROP_PAGE_STATS])
		chk_not_checkable(c, KMMU_PROP_PAGE_STATS, why ? why :
				  "the test recorded no page stats");
}
