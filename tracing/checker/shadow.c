// SPDX-License-Identifier: GPL-2.0
/*
 * The shadow MMU's leaves (kvm_amd npt=0, kvm_intel ept=0, or tdp_mmu=0),
 * which no tracepoint shows leaving: kvm_mmu_set_spte names each install
 * by its SPTE's physical address (sptep), and the kprobe event on
 * mmu_spte_clear_track_bits() (tracing/kprobes.c) each drop by its
 * direct-map address and the map's base, with the SPTE it clears.  Every present leaf the shadow MMU
 * drops, and takes out of the page stats, goes through that function
 * (6.1, 6.12); a shadow page's SPTEs are all dropped before it is freed,
 * so an address names one leaf from its install to its drop.
 *
 * With them, on the shadow MMU as on the TDP MMU:
 * - PAGE_STATS: the leaves installed and not dropped, per level, are the
 *   kernel's pages_4k/2m/1g (page_stats.c compares; counted here);
 * - ZAP_ON_REMOVE: when a DELETE or MOVE returns, no leaf of the slot's
 *   old gfns is left (kvm_mmu_zap_all_fast() and the slot zap drop them
 *   all before the ioctl returns; a zap that stops early leaves some);
 * - AGING_IN_PASS, where the kernel has mmu_spte_age() out of line (6.1
 *   builds that did not inline it): an Accessed clear lies in an aging
 *   pass of the same task that covers the leaf.
 */
#include <inttypes.h>

#include "replay.h"

/* The trace's first KMMU_ACT_HOST says which kprobe events the capture had. */
void chk_shadow_init(struct checker *c)
{
	for (uint64_t i = 0; i < c->nr; i++) {
		const struct kmmu_trace_record *r = &c->recs[i];

		if (r->type != KMMU_ACT_HOST)
			continue;
		if (r->host.tdp == 1 && r->host.tdp_mmu == 1)
			return;		/* the TDP MMU: kvm_tdp_mmu_spte_changed */
		c->shadow_drops = r->host.kprobes & KMMU_KPROBE_SPTE_CLEAR;
		c->shadow_ages = r->host.kprobes & KMMU_KPROBE_SPTE_AGE;
		return;
	}
}

/*
 * Why the shadow MMU's kprobe event @bit is not in this trace (static
 * text: @inlined when the capture found no symbol for its function, else
 * @absent); NULL if it is.
 */
static const char *kprobe_gap(struct checker *c, unsigned int bit, const char *inlined,
			      const char *absent)
{
	if (c->host && (c->host->host.kprobes & bit))
		return NULL;
	return c->host && (c->host->host.kprobes_inlined & bit) ? inlined : absent;
}

const char *chk_shadow_no_drops(struct checker *c)
{
	return kprobe_gap(c, KMMU_KPROBE_SPTE_CLEAR,
			  "NOT CHECKABLE: mmu_spte_clear_track_bits inlined in this kernel: no"
			  " kprobe shows the shadow MMU's SPTE drops",
			  "shadow MMU: SPTE drops are not traced (no kprobe events on this kernel)");
}

const char *chk_shadow_no_ages(struct checker *c)
{
	return kprobe_gap(c, KMMU_KPROBE_SPTE_AGE,
			  "NOT CHECKABLE: mmu_spte_age inlined in this kernel: no kprobe shows the"
			  " shadow MMU's Accessed clears",
			  "shadow MMU: Accessed clears are not traced (no kprobe event on"
			  " mmu_spte_age)");
}

/* Leaf entries the removals may scan, per record of the trace */
#define SHADOW_SCAN_PER_RECORD	256

/* __PAGE_OFFSET_BASE_L4: the direct map's base without CONFIG_RANDOMIZE_MEMORY */
#define PAGE_OFFSET_L4		0xffff888000000000ULL

/* The probed SPTE's physical address, as kvm_mmu_set_spte names it (virt_to_phys()). */
static uint64_t probed_sptep(const struct kmmu_trace_record *r)
{
	return r->shadow_spte.sptep - (r->shadow_spte.page_offset ? r->shadow_spte.page_offset :
				       PAGE_OFFSET_L4);
}

static struct shadow_leaf *shadow_get(struct checker *c, uint64_t sptep)
{
	struct shadow_leaf *l = chk_table_get(&c->shadow, sptep);

	if (!l)
		c->oom = true;
	return l;
}

/* The live leaves of @l's slot (or those of no sure slot) change by @delta. */
static void count_in_slot(struct checker *c, const struct shadow_leaf *l, int delta)
{
	if (l->slot >= 0)
		c->shadow_slot_live[l->slot] += delta;
	else if (l->slot == SHADOW_SLOT_UNSURE)
		c->shadow_unsure += delta;
}

/* The leaf @l came (@delta 1) or went (-1): the page stats' count and its slot's. */
static void count_leaf(struct checker *c, const struct shadow_leaf *l, int delta)
{
	if (l->level >= 1 && l->level <= 3) {
		c->pages[l->level - 1] += delta;
		c->last_leaf_change[l->level - 1] = l->inst_pos;
	}
	c->last_leaf_change_ts = c->recs[c->pos].ts;
	count_in_slot(c, l, delta);
}

/*
 * A kvm_mmu_set_spte of the shadow MMU: a new leaf unless its address
 * holds one already (mmu_set_spte() drops one of another pfn first, which
 * the kprobe shows before).  Its slot is the reference's live one, or
 * unsure while a memslot ioctl changes its gfns.
 */
void chk_shadow_on_set_spte(struct checker *c, const struct kmmu_trace_record *r)
{
	unsigned int level = r->set_spte.level;
	struct shadow_leaf *l;
	struct slot_view v;

	if (!r->set_spte.sptep || !spte_present(r->set_spte.spte))
		return;
	l = shadow_get(c, r->set_spte.sptep);
	if (!l)
		return;
	if (l->live) {
		l->gfn = r->set_spte.gfn;	/* the same leaf, made again */
		return;
	}
	l->live = 1;
	l->gfn = r->set_spte.gfn;
	l->level = level;
	l->inst_pos = c->pos + 1;
	if (chk_range_in_transition(c, r->ts, l->gfn, level_pages(level)))
		l->slot = SHADOW_SLOT_UNSURE;
	else
		l->slot = chk_ref_slot_at(c, l->gfn, &v) && v.id >= 0 &&
			  v.id < KMMU_MEM_SLOTS_NUM ? v.id : SHADOW_SLOT_NONE;
	count_leaf(c, l, 1);
}

/* mmu_spte_clear_track_bits(): a present SPTE leaves (others return early). */
void chk_shadow_on_clear(struct checker *c, const struct kmmu_trace_record *r)
{
	struct shadow_leaf *l;

	if (!c->shadow_drops || !spte_present(r->shadow_spte.old_spte))
		return;
	l = chk_table_find(&c->shadow, probed_sptep(r));
	if (!l || !l->live) {
		c->shadow_unknown++;	/* installed before the trace began */
		return;
	}
	l->live = 0;
	count_leaf(c, l, -1);
}

/*
 * mmu_spte_age() at entry: it clears the Accessed bit of @old if set, as
 * kvm_age_rmap() runs it over the rmaps of an aging pass's gfns.  Only
 * inside such a pass of the same task, over a gfn it covers.
 */
void chk_shadow_on_age(struct checker *c, const struct kmmu_trace_record *r)
{
	const uint64_t old = r->shadow_spte.old_spte;
	struct shadow_leaf *l;
	struct task_ctx *t;

	if (!c->shadow_ages || !spte_present(old) || !(old & KMMU_PT_ACCESSED_MASK))
		return;		/* nothing to clear: it returns early */
	l = chk_table_find(&c->shadow, probed_sptep(r));
	t = chk_task(c, r->pid, false);
	c->res->checked[KMMU_PROP_AGING_IN_PASS]++;
	if (!t || !t->in_pass) {
		chk_diverge(c, KMMU_PROP_AGING_IN_PASS, l && l->live ? l->gfn : 0, l && l->live,
			    "the shadow MMU cleared the Accessed bit of SPTE %#" PRIx64 " (at %#"
			    PRIx64 ") outside any aging pass: only kvm_age_rmap(), after a"
			    " kvm_age_hva of this task, clears it", old, r->shadow_spte.sptep);
		return;
	}
	if (l && l->live && !chk_gfn_in_transition(c, r->ts, l->gfn) &&
	    !chk_pass_covers(c, t, 0, l->gfn, l->level))
		chk_diverge(c, KMMU_PROP_AGING_IN_PASS, l->gfn, true,
			    "the aging pass that cleared the Accessed bit of gfn %#" PRIx64
			    " (level %u, shadow MMU) is for hva %#" PRIx64 "-%#" PRIx64 ", which"
			    " no memslot maps to this gfn", l->gfn, l->level, t->start, t->end);
}

/*
 * A DELETE or MOVE of slot 0:@id [@base, +@npages) returned: none of the
 * leaves of those gfns may be left.  Judged where the trace holds every
 * drop of the VM's leaves: one VM (events name none), no other task's
 * unmap that may have dropped the leaf untraced (chk_unmap_may_explain()),
 * no address space but 0 (set_spte names none), and no drop so far of a
 * leaf the trace did not see installed: one installed before the trace,
 * or a drop sorted before its install by the per-CPU clocks' skew (TCG),
 * after which the re-installed leaf would look left behind.
 */
void chk_shadow_judge_removal(struct checker *c, int id, gfn_t base, uint64_t npages)
{
	struct shadow_leaf *first = NULL;
	uint32_t left = 0;

	if (!c->shadow_drops || c->vm_creates != 1 || c->no_history || c->any_other_as ||
	    c->shadow_unknown || id < 0 || id >= KMMU_MEM_SLOTS_NUM)
		return;
	if (!c->shadow_slot_live[id] && !c->shadow_unsure)
		return;
	/*
	 * A scan of every leaf per removal: bounded to a few entries per
	 * record, so that no trace makes the replay quadratic; beyond it the
	 * removals are not judged on their leaves.
	 */
	c->shadow_scanned += c->shadow.cap;
	if (c->shadow_scanned > SHADOW_SCAN_PER_RECORD * (c->nr + 1))
		return;
	for (uint64_t i = 0; i < c->shadow.cap; i++) {
		struct shadow_leaf *l = (struct shadow_leaf *)(c->shadow.ents + i * c->shadow.esize);

		if (!l->key || !l->live || l->slot == SHADOW_SLOT_STALE ||
		    !(l->slot == id || l->slot == SHADOW_SLOT_UNSURE) ||
		    l->gfn >= base + npages || l->gfn + level_pages(l->level) <= base ||
		    chk_unmap_may_explain(c, c->recs[l->inst_pos - 1].ts, 0, l->gfn, l->level))
			continue;
		if (!first || l->inst_pos < first->inst_pos)
			first = l;
		left++;
		/* Reported once: it stays a leaf for the page stats, but of no slot. */
		count_in_slot(c, l, -1);
		l->slot = SHADOW_SLOT_STALE;
	}
	c->res->checked[KMMU_PROP_ZAP_ON_REMOVE]++;
	if (first)
		chk_diverge(c, KMMU_PROP_ZAP_ON_REMOVE, first->gfn, true,
			    "slot 0:%d [gfn %#" PRIx64 "+%#" PRIx64 ") was removed, but %u of its"
			    " leaf SPTEs were never dropped (shadow MMU; the first: gfn %#" PRIx64
			    " level %u, SPTE at physical %#" PRIx64 "): the removal must zap them"
			    " all",
			    id, base, npages, left, first->gfn, first->level, first->key);
}
