// SPDX-License-Identifier: GPL-2.0
/*
 * The aging family, judged on the TDP MMU's Accessed-bit clears of
 * present leaves: AGING_IN_PASS (it lies in an aging pass, a kvm_age_hva
 * and the same task's SPTE changes after it, whose hva range covers the
 * SPTE through the reference memslots), AGING_KEEPS_DIRTY (it keeps the
 * Dirty and Writable bits) and AGING_IDLE (a gfn the test declared idle,
 * KMMU_ACT_IDLE, is young in at most one pass after that).
 */
#include <inttypes.h>

#include "replay.h"

/*
 * Does the aging pass @t cover the SPTE (@as_id, @gfn, @level)?  As
 * __kvm_handle_hva_range(): the slots whose host range overlaps the pass,
 * and in them every gfn whose page intersects it; the SPTE is visited if
 * any of its gfns is.
 */
bool chk_pass_covers(struct checker *c, const struct task_ctx *t, unsigned int as_id, gfn_t gfn,
		     unsigned int level)
{
	struct slot_view v;
	gfn_t lo, hi;

	if (!chk_ref_slot_at_any(c, as_id, gfn, &v))
		return false;
	lo = gfn > v.base ? gfn : v.base;
	hi = gfn + level_pages(level);
	if (hi > v.base + v.npages)
		hi = v.base + v.npages;
	return v.hva + ((lo - v.base) << PAGE_SHIFT) < t->end &&
	       t->start < v.hva + ((hi - v.base) << PAGE_SHIFT);
}

/* The idle range holding @gfn (address space 0) since before @ts; -1 if none. */
static int idle_range(struct checker *c, gfn_t gfn, uint64_t ts)
{
	for (unsigned int i = 0; i < c->nr_idle; i++)
		if (c->idle[i].ts < ts && in_range(gfn, c->idle[i].gfn, c->idle[i].npages))
			return i;
	return -1;
}

/*
 * An Accessed-bit clear of a present leaf that stays one (@old and @new
 * are both leaves), as age_gfn_range() makes it:
 * same page, A/D enabled: A cleared; A/D disabled (EPT without A/D):
 * marked for access tracking (RWX cleared, R and X saved).  Other 6.1
 * paths that produce the same change: make_spte() for a prefetch, i.e. the
 * completion of an async page fault, which needs an in-kernel LAPIC (the
 * kmmu runtime's VMs have none) and a racing fault that installed the SPTE
 * first; not told apart, so a test with async page faults may see them
 * reported here.
 */
static bool is_a_clear(struct checker *c, uint64_t old, uint64_t new)
{
	uint64_t a, d;

	if (kmmu_spte_to_pfn(old) != kmmu_spte_to_pfn(new))
		return false;
	if (ad_disabled(old))
		return c->host && c->host->host.backend == KMMU_HOST_VMX && (old & EPT_RWX_MASK) &&
		       !(new & EPT_RWX_MASK);
	if (!chk_ad_masks(c, &a, &d))
		return false;
	return (old & a) && !(new & a);
}

/* A change of a leaf SPTE that stays a leaf: is it aging, and right? */
void chk_judge_aging(struct checker *c, const struct kmmu_trace_record *r, struct leaf *l)
{
	const uint64_t old = r->spte_changed.old_spte, new = r->spte_changed.new_spte;
	unsigned int level = r->spte_changed.level, as_id = r->spte_changed.as_id;
	gfn_t gfn = r->spte_changed.gfn;
	struct task_ctx *t;
	uint64_t a, d, lost;
	int i;

	if (!is_a_clear(c, old, new))
		return;
	t = chk_task(c, r->pid, false);
	if (l && t && t->in_pass)
		l->aged_pass = t->pass;		/* AGING_MAKES_OLD (ref_mmu.c) */

	/* (a) inside an aging pass of this task that covers the gfn */
	if (!t || !t->in_pass) {
		c->res->checked[KMMU_PROP_AGING_IN_PASS]++;
		chk_diverge(c, KMMU_PROP_AGING_IN_PASS, gfn, true,
			    "the Accessed bit of gfn %#" PRIx64 " (level %u) was cleared outside"
			    " any aging pass: only age_gfn_range(), after a kvm_age_hva of this"
			    " task, clears it", gfn, level);
		return;
	}
	if (!chk_gfn_in_transition(c, r->ts, gfn)) {
		c->res->checked[KMMU_PROP_AGING_IN_PASS]++;
		if (!chk_pass_covers(c, t, as_id, gfn, level))
			chk_diverge(c, KMMU_PROP_AGING_IN_PASS, gfn, true,
				    "the aging pass that cleared the Accessed bit of gfn %#" PRIx64
				    " (level %u) is for hva %#" PRIx64 "-%#" PRIx64 ", which no"
				    " memslot maps to this gfn", gfn, level, t->start, t->end);
	}

	/* (b) the Dirty and Writable bits survive */
	c->res->checked[KMMU_PROP_AGING_KEEPS_DIRTY]++;
	if (ad_disabled(old)) {
		/* mark_spte_for_access_track(); the dirty page went to kvm_set_pfn_dirty(). */
		uint64_t want = (old | (old & EPT_ACC_TRACK_SAVED) << EPT_ACC_TRACK_SHIFT) &
				~EPT_RWX_MASK;

		if (new != want)
			chk_diverge(c, KMMU_PROP_AGING_KEEPS_DIRTY, gfn, true,
				    "access tracking of gfn %#" PRIx64 " must give %#" PRIx64
				    " (RWX cleared, R and X saved, nothing else changed)", gfn,
				    want);
	} else if (chk_ad_masks(c, &a, &d)) {
		lost = old & ~new & (d | KMMU_PT_WRITABLE_MASK);
		if (lost)
			chk_diverge(c, KMMU_PROP_AGING_KEEPS_DIRTY, gfn, true,
				    "aging cleared the Accessed bit of gfn %#" PRIx64 " and lost"
				    " its%s%s bit: a dirty page would be freed without writeback",
				    gfn, lost & d ? " Dirty" : "",
				    lost & KMMU_PT_WRITABLE_MASK ? " Writable" : "");
	}

	/* (c) once idle, young in at most one pass: the one that saw the last touch */
	i = as_id ? -1 : idle_range(c, gfn, r->ts);
	if (i < 0 || !l)
		return;
	c->res->checked[KMMU_PROP_AGING_IDLE]++;
	if (!l->idle_pass) {
		l->idle_pass = t->pass;
	} else if (l->idle_pass != t->pass) {
		uint64_t first = c->recs[l->idle_pass - 1].ts;

		chk_diverge(c, KMMU_PROP_AGING_IDLE, gfn, true,
			    "the guest left gpa %#" PRIx64 "+%#" PRIx64 " idle at %" PRIu64 ".%09"
			    PRIu64 " and the aging pass at %" PRIu64 ".%09" PRIu64 " found gfn %#"
			    PRIx64 " young: this pass must find it old (aging reports a page young"
			    " that the guest left idle)", c->idle[i].gfn << PAGE_SHIFT,
			    c->idle[i].npages << PAGE_SHIFT, c->idle[i].ts / 1000000000,
			    c->idle[i].ts % 1000000000, first / 1000000000, first % 1000000000,
			    gfn);
	}
}

void chk_on_idle(struct checker *c, const struct kmmu_trace_record *r)
{
	if (c->nr_idle == MAX_IDLE)
		return;		/* not judged: a lost range only narrows the property */
	c->idle[c->nr_idle].gfn = r->idle.gpa >> PAGE_SHIFT;
	c->idle[c->nr_idle].npages = r->idle.size >> PAGE_SHIFT;
	c->idle[c->nr_idle].ts = r->ts;
	c->nr_idle++;
}

/* Why the aging properties judged nothing, when that is known. */
void chk_explain_aging(struct checker *c)
{
	static const enum kmmu_check_property aging[] = {
		KMMU_PROP_AGING_IN_PASS, KMMU_PROP_AGING_KEEPS_DIRTY, KMMU_PROP_AGING_IDLE,
	};
	const char *why = chk_no_tdp_ad(c);
	const char *shadow = NULL;

	/* The shadow MMU: Accessed clears from a kprobe at mmu_spte_age()'s entry. */
	if (why && c->host && chk_no_tdp_mmu(c)) {
		why = chk_shadow_no_ages(c);
		shadow = why ? why : "shadow MMU: the kprobe reads the SPTE before aging clears"
			 " it, not what aging left";
	}
	for (unsigned int i = 0; i < sizeof(aging) / sizeof(aging[0]); i++)
		if (!c->res->checked[aging[i]] && !c->res->not_checkable[aging[i]])
			chk_not_checkable(c, aging[i], shadow && aging[i] != KMMU_PROP_AGING_IN_PASS ?
					  shadow : why ? why :
					  aging[i] == KMMU_PROP_AGING_IDLE && !c->nr_idle ?
					  "the test declared no idle memory" :
					  "no Accessed bit was cleared in the traced tasks");
}
