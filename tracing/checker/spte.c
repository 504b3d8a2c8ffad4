// SPDX-License-Identifier: GPL-2.0
/*
 * The leaf SPTE family: every leaf SPTE the kernel installs or changes.
 * SPTE_IN_SLOT (it lies wholly in one live slot), HUGE_ALLOWED (huge only
 * where the slot's alignment and flags allow), SPTE_WRITABLE (not writable
 * in a read-only slot, nor made writable huge while dirty logging), and,
 * from the TDP MMU's kvm_tdp_mmu_spte_changed, LEAF_CHANGE (a leaf changes
 * in place only as KVM changes one).  It keeps the per-key leaf table the
 * history (spte_history.c), aging (aging.c) and page stats (page_stats.c)
 * read, and the count of leaves per level.
 */
#include <inttypes.h>

#include "replay.h"

/* leaf_key() level of a split huge page's entry: this | its children's level. */
#define SPLIT_KEY_LEVEL		8
/* leaf_key() address space of a page-table SPTE's entry: this | its own. */
#define TABLE_KEY_AS		8

/* Why the TDP MMU's SPTE changes cannot be in this trace; NULL if they can. */
const char *chk_no_tdp_mmu(struct checker *c)
{
	if (c->spte_changes ||
	    (c->host && c->host->host.tdp == 1 && c->host->host.tdp_mmu == 1))
		return NULL;
	return c->host ? "shadow MMU: SPTE changes are not traced" :
			 "no kvm_tdp_mmu_spte_changed in this trace";
}

/* Why the TDP MMU's SPTE changes and their A/D bits cannot be read; NULL if they can. */
const char *chk_no_tdp_ad(struct checker *c)
{
	const char *why = chk_no_tdp_mmu(c);
	uint64_t a, d;

	if (!why && !chk_ad_masks(c, &a, &d))
		why = "the host's SPTE format (EPT or NPT) is not in this trace";
	return why;
}

static uint64_t leaf_key(unsigned int as_id, unsigned int level, gfn_t gfn)
{
	return (gfn << 8 | (as_id & 0xf) << 4 | (level & 0xf)) + 1;
}

/* The entry of the leaf (@as_id, @level, @gfn); NULL if the trace has none. */
struct leaf *chk_leaf_find(struct checker *c, unsigned int as_id, unsigned int level, gfn_t gfn)
{
	return chk_table_find(&c->leaves, leaf_key(as_id, level, gfn));
}

/*
 * The entry of @key, created if needed; NULL when out of memory, which
 * fails the replay (c->oom) rather than letting it judge with state it
 * lost.  A pointer from an earlier call is stale after this one.
 */
static struct leaf *leaf_get(struct checker *c, uint64_t key)
{
	struct leaf *l = chk_table_get(&c->leaves, key);

	if (!l)
		c->oom = true;
	return l;
}

/*
 * The entry of the leaf (@as_id, @level, @gfn), created if needed, with
 * the splits of its huge page that happened since it was last looked at
 * counted in; NULL when out of memory.
 */
static struct leaf *leaf_of(struct checker *c, unsigned int as_id, unsigned int level, gfn_t gfn)
{
	uint32_t splits = 0;
	struct leaf *l;

	if (c->any_split && !as_id && level < 3) {
		l = chk_table_find(&c->leaves, leaf_key(0, SPLIT_KEY_LEVEL | level,
							gfn & ~(level_pages(level + 1) - 1)));
		if (l)
			splits = l->live;
	}
	l = leaf_get(c, leaf_key(as_id, level, gfn));
	if (l && l->splits_seen != splits) {
		l->live += splits - l->splits_seen;
		l->splits_seen = splits;
		l->last_pos = 0;	/* written untraced: its value is unknown */
		l->wr_pos = 0;
	}
	return l;
}

/*
 * HUGE_ALLOWED's bound: the level the reference's fault path would map
 * @gfn of the live slot @v at (see chk_judge_leaf()).
 */
static void judge_level(struct checker *c, const struct slot_view *v, gfn_t gfn,
			unsigned int level)
{
	int ref = chk_ref_fault_max_level(c, gfn);
	uint64_t pages = level_pages(level);

	/* Below the reference's largest level, its answer is the whole bound. */
	if (level > (unsigned int)ref && ref < KMMU_MAX_HUGEPAGE_LEVEL) {
		if (v->flags & KMMU_MEM_LOG_DIRTY_PAGES)
			chk_diverge(c, KMMU_PROP_HUGE_ALLOWED, gfn, true,
				    "slot 0:%d logs dirty pages: no huge page may be mapped in it"
				    " (a level-%u SPTE for gfn %#" PRIx64 " was)", v->id, level,
				    gfn);
		else
			chk_diverge(c, KMMU_PROP_HUGE_ALLOWED, gfn, true,
				    "the reference maps gfn %#" PRIx64 " of slot 0:%d [gfn %#"
				    PRIx64 "+%#" PRIx64 ", hva %#" PRIx64 ") at level %d at most"
				    " (its lpage_info: the slot's ends, its gfns and host addresses"
				    " aligned alike or not), the kernel at level %u", gfn, v->id,
				    v->base, v->npages, v->hva, ref, level);
		return;
	}
	if (level > KMMU_MAX_HUGEPAGE_LEVEL && ((v->base ^ v->hva >> PAGE_SHIFT) & (pages - 1)))
		chk_diverge(c, KMMU_PROP_HUGE_ALLOWED, gfn, true,
			    "slot 0:%d's gfns (from %#" PRIx64 ") and host addresses (from"
			    " %#" PRIx64 ") are not aligned alike at level %u: no level-%u"
			    " SPTE may map it (disallow_lpage)", v->id, v->base, v->hva,
			    level, level);
}

/*
 * A present leaf SPTE of address space 0 that the kernel installed
 * (@install; @old is then not a leaf) or changed from the leaf @old,
 * whose first gfn lies in the live slot @v, outside any memslot ioctl
 * that changes its gfns (kvm_mmu_set_spte gives no old SPTE: @old is 0).
 *
 * - SPTE_IN_SLOT: all its gfns lie in that one slot.  A fault maps a huge
 *   page only where lpage_info allows, and kvm_alloc_memslot_metadata()
 *   disallows the huge pages that cross the slot's ends.
 * - HUGE_ALLOWED (installs above 4K): the huge SPTE's gfn and pfn are
 *   aligned to its size (the pfn is masked: pfn &= ~mask), and its level
 *   is at most what the reference's fault path would map there
 *   (kmmu_fault_max_level() on the reference VM's slot: no huge page while
 *   the slot logs dirty pages, nor where its lpage_info disallows one: a
 *   huge page crossing the slot's ends, or gfns and host addresses not
 *   aligned alike).  The reference models no 1G pages: a 1G SPTE must be
 *   one where the reference maps 2M, and its slot's gfns and host
 *   addresses aligned alike at 1G (kvm_alloc_memslot_metadata()'s rule,
 *   the one part judged here rather than by ref/).
 * - SPTE_WRITABLE: a read-only slot gives no writable pfn
 *   (__gfn_to_pfn_memslot() clears *writable; prefetch of it fails), so
 *   make_spte() never sets the Writable bit; and no huge SPTE is made
 *   writable while the slot logs dirty pages (make_spte() WARNs: huge
 *   pages are not mapped then, and fast_page_fault() does not fix a huge
 *   one).  A 4K SPTE may legitimately become writable in a dirty-logged
 *   slot at any fault (make_spte() marks the page dirty then; the TDP MMU
 *   does so even for a read fault), so that is not judged.
 */
void chk_judge_leaf(struct checker *c, const struct slot_view *v, gfn_t gfn,
		    unsigned int level, uint64_t old, uint64_t spte, bool install)
{
	uint64_t pages = level_pages(level);
	bool ro = v->flags & KMMU_MEM_READONLY, logged = v->flags & KMMU_MEM_LOG_DIRTY_PAGES;
	bool huge = level > 1 && pages > 1;

	/*
	 * kvm_mmu_set_spte reads the SPTE when it traces: under the TDP MMU's
	 * shared mmu_lock another fault may have zapped it or replaced a huge
	 * one by a table by then.
	 */
	if (!spte_present(spte) || !kmmu_is_last_spte(spte, level))
		return;
	if (install && huge) {
		if (gfn + pages > v->base + v->npages) {
			chk_diverge(c, KMMU_PROP_SPTE_IN_SLOT, gfn, true,
				    "the level-%u SPTE at gfn %#" PRIx64 " maps %#" PRIx64
				    " pages, but its slot 0:%d [gfn %#" PRIx64 "+%#" PRIx64 ")"
				    " ends within them: a huge page must lie wholly inside one"
				    " slot", level, gfn, pages, v->id, v->base, v->npages);
			return;
		}
		c->res->checked[KMMU_PROP_HUGE_ALLOWED]++;
		if ((gfn | kmmu_spte_to_pfn(spte)) & (pages - 1))
			chk_diverge(c, KMMU_PROP_HUGE_ALLOWED, gfn, true,
				    "a level-%u SPTE maps gfn %#" PRIx64 " to pfn %#" PRIx64 ":"
				    " both must be aligned to its %#" PRIx64 " pages", level, gfn,
				    kmmu_spte_to_pfn(spte), pages);
		else
			judge_level(c, v, gfn, level);
	}
	/* A huge install in a dirty-logged slot is HUGE_ALLOWED's. */
	if (!ro && !(logged && huge && !install))
		return;
	c->res->checked[KMMU_PROP_SPTE_WRITABLE]++;
	if (!(spte & KMMU_PT_WRITABLE_MASK))
		return;
	if (ro)
		chk_diverge(c, KMMU_PROP_SPTE_WRITABLE, gfn, true,
			    "slot 0:%d is read-only: the level-%u SPTE for gfn %#" PRIx64 " must"
			    " not be writable", v->id, level, gfn);
	else if (!spte_present(old) || !(old & KMMU_PT_WRITABLE_MASK))
		chk_diverge(c, KMMU_PROP_SPTE_WRITABLE, gfn, true,
			    "slot 0:%d logs dirty pages: the level-%u SPTE for gfn %#" PRIx64
			    " must not be made writable (a write must be logged per 4K page)",
			    v->id, level, gfn);
}

/*
 * SPTE_IN_SLOT for a huge leaf (@pages of them from @gfn) installed while
 * a memslot ioctl changing some of its gfns is in flight, when either
 * layout may hold: it must lie wholly in a slot of one of them, the
 * reference's (before the ioctls in flight) or an ioctl's new range.
 * Reported (and true returned) when it lies in none.
 */
bool chk_huge_in_no_slot(struct checker *c, uint64_t ts, gfn_t gfn, unsigned int level)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	uint64_t pages = level_pages(level);
	struct slot_view v;
	int n;

	if (pages == 1)
		return false;
	c->res->checked[KMMU_PROP_SPTE_IN_SLOT]++;
	if (chk_ref_slot_at(c, gfn, &v) && gfn + pages <= v.base + v.npages)
		return false;
	n = chk_ops_in_flight(c, ts, fl, false);
	for (int i = 0; i < n; i++) {
		const struct kmmu_trace_record *op = &c->recs[fl[i]->pos];

		if (chk_op_new_covers(op, gfn) && chk_op_new_covers(op, gfn + pages - 1))
			return false;
	}
	chk_diverge(c, KMMU_PROP_SPTE_IN_SLOT, gfn, true,
		    "the level-%u SPTE at gfn %#" PRIx64 " maps %#" PRIx64 " pages, but no slot"
		    " holds them all, before or after the memslot ioctls in flight: a huge"
		    " page must lie wholly inside one slot", level, gfn, pages);
	return true;
}

/*
 * A TDP MMU change that leaves a present leaf: installs (the faults',
 * also traced by kvm_mmu_set_spte, and those no fault makes: the MMU
 * notifier's change_pte in 6.1) must lie in a live slot like any SPTE;
 * both installs and leaf-to-leaf changes are judged by chk_judge_leaf().
 * Address space 0 only: the memslot ioctls of others are not followed in
 * flight.
 */
static void judge_tdp_leaf(struct checker *c, const struct kmmu_trace_record *r, bool install)
{
	unsigned int level = r->spte_changed.level;
	gfn_t gfn = r->spte_changed.gfn;
	struct slot_view v;

	if (r->spte_changed.as_id)
		return;
	if (chk_range_in_transition(c, r->ts, gfn, level_pages(level))) {
		if (install)
			chk_huge_in_no_slot(c, r->ts, gfn, level);
		return;
	}
	if (!chk_ref_slot_at(c, gfn, &v)) {
		if (!install)
			return;	/* a leaf already installed: judged when it was */
		c->res->checked[KMMU_PROP_SPTE_IN_SLOT]++;
		chk_diverge(c, KMMU_PROP_SPTE_IN_SLOT, gfn, true,
			    "gfn %#" PRIx64 " is in no live memslot: no SPTE may map it (a level-%u"
			    " leaf was installed)", gfn, level);
		return;
	}
	if (install) {
		c->res->checked[KMMU_PROP_SPTE_IN_SLOT]++;
		chk_ref_install(c, &v, gfn, level, r->spte_changed.new_spte);
	}
	chk_judge_leaf(c, &v, gfn, level, r->spte_changed.old_spte, r->spte_changed.new_spte,
		       install);
}

/*
 * LEAF_CHANGE: a traced change changes something (6.1 and 6.12 return
 * before the tracepoint otherwise); a present leaf that stays one keeps
 * its pfn: KVM zaps
 * before it maps another page (handle_changed_spte() BUG()s otherwise,
 * 6.1 and 6.12; change_pte in 6.1 zaps, then installs).  Outside faults,
 * KVM only clears bits of a leaf in place: Accessed (aging), Dirty
 * (dirty-log clearing), Writable and MMU-writable (write protection), or
 * marks it for access tracking (A/D disabled: not judged).  Anything else
 * must be a fault re-making the SPTE, which tdp_mmu_map_handle_target_level()
 * traces right after as kvm_mmu_set_spte for the same gfn and level: the
 * task's next record (checked by chk_settle_claims()).
 */
static void judge_leaf_change(struct checker *c, const struct kmmu_trace_record *r)
{
	const uint64_t old = r->spte_changed.old_spte, new = r->spte_changed.new_spte;
	uint64_t a, d, cleared_ok;

	c->res->checked[KMMU_PROP_LEAF_CHANGE]++;
	if (kmmu_spte_to_pfn(old) != kmmu_spte_to_pfn(new)) {
		chk_diverge(c, KMMU_PROP_LEAF_CHANGE, r->spte_changed.gfn, true,
			    "a present leaf (level %u) moved from pfn %#" PRIx64 " to %#" PRIx64
			    " in place: KVM must zap it first", r->spte_changed.level,
			    kmmu_spte_to_pfn(old), kmmu_spte_to_pfn(new));
		return;
	}
	/* handle_changed_spte() returns before its tracepoint when nothing changed. */
	if (old == new) {
		chk_diverge(c, KMMU_PROP_LEAF_CHANGE, r->spte_changed.gfn, true,
			    "a change of a present leaf (level %u) from %#" PRIx64 " to itself: KVM"
			    " traces only real changes", r->spte_changed.level, old);
		return;
	}
	if (!c->set_sptes || ad_disabled(old) || ad_disabled(new) || !chk_ad_masks(c, &a, &d))
		return;
	cleared_ok = a | d | KMMU_PT_WRITABLE_MASK | chk_mmu_writable_mask(c);
	if (!(new & ~old) && !(old & ~new & ~cleared_ok))
		return;
	chk_add_claim(c, r->pid, CLAIM_SET_SPTE, r->spte_changed.gfn, r->spte_changed.level);
}

/*
 * Page-table SPTEs have a history too: linked (tdp_mmu_link_sp()), changed
 * by the CPU only in the Accessed bit, unlinked when zapped or replaced by
 * a huge leaf, all traced.  Their keys are the leaves' with TABLE_KEY_AS
 * in the address space; live counts them as for leaves, for
 * chk_judge_history().
 */
static void track_table(struct checker *c, const struct kmmu_trace_record *r)
{
	unsigned int level = r->spte_changed.level;
	bool was = tdp_kind(r->spte_changed.old_spte, level, true);
	bool is = tdp_kind(r->spte_changed.new_spte, level, true);
	struct leaf *t = leaf_get(c, leaf_key(r->spte_changed.as_id | TABLE_KEY_AS, level,
					      r->spte_changed.gfn));

	if (!t)
		return;
	chk_judge_reinstall(c, r, t, was, is, chk_judge_history(c, r, t, true));
	if (is && !was)
		t->live++;
	else if (was && !is && t->live)
		t->live--;
	chk_note_history(c, r, t, is);
}

/* __handle_changed_spte(): the page stats follow leaf-ness; then aging. */
void chk_on_spte_changed(struct checker *c, const struct kmmu_trace_record *r)
{
	const uint64_t old = r->spte_changed.old_spte, new = r->spte_changed.new_spte;
	unsigned int level = r->spte_changed.level;
	bool was_leaf = tdp_leaf(old, level), is_leaf = tdp_leaf(new, level);
	struct leaf *l = NULL;

	c->spte_changes++;
	if (level < 1 || level > 5)
		return;
	if (was_leaf || is_leaf)
		l = leaf_of(c, r->spte_changed.as_id, level, r->spte_changed.gfn);
	chk_judge_reinstall(c, r, l, was_leaf, is_leaf, chk_judge_history(c, r, l, false));
	if (was_leaf && is_leaf) {
		judge_leaf_change(c, r);
		if ((old & KMMU_PT_WRITABLE_MASK) && !(new & KMMU_PT_WRITABLE_MASK))
			chk_note_wrprot(c);
	}
	if (was_leaf && !is_leaf)
		chk_ref_drop(c, r->spte_changed.as_id, r->spte_changed.gfn, level);
	if (was_leaf != is_leaf) {
		if (level <= 3) {
			c->pages[level - 1] += is_leaf ? 1 : -1;
			c->last_leaf_change[level - 1] = c->pos + 1;
		}
		c->last_leaf_change_ts = r->ts;
		if (l && is_leaf) {
			l->live++;
			l->idle_pass = 0;	/* a new SPTE: its faulting access is the guest's */
		} else if (l && l->live) {
			l->live--;
		} else {
			c->unknown_leaves++;
		}
	}
	chk_note_history(c, r, l, is_leaf);
	/* Made writable by this change, kept so, or not writable (dirty_log.c). */
	if (l)
		l->wr_pos = !is_leaf || !(new & KMMU_PT_WRITABLE_MASK) ? 0 :
			    was_leaf && (old & KMMU_PT_WRITABLE_MASK) ? l->wr_pos : c->pos + 1;
	if (tdp_kind(old, level, true) || tdp_kind(new, level, true))
		track_table(c, r);
	if (is_leaf)
		judge_tdp_leaf(c, r, !was_leaf);
	if (was_leaf && is_leaf)
		chk_judge_aging(c, r, l);
}

/*
 * tdp_mmu_split_huge_page(): the huge leaf became a table (a traced
 * change), and its 512 children, written before the table was linked and
 * never traced, were added to the stats of the level below.
 *
 * The children become leaves of the trace when it next touches them
 * (leaf_of()), not here: an entry for each would make a record of 64
 * bytes cost 512 entries, and a trace of 20000 splits over a gigabyte.
 * The huge page's own entry counts its splits.  The trace names no
 * address space: 0, as every kmmu VM's memory; and its gfn is aligned to
 * the level, as the kernel's iterator is.
 */
void chk_on_split(struct checker *c, const struct kmmu_trace_record *r)
{
	unsigned int level = r->split.level;
	struct leaf *l;

	if (r->split.err || level < 2 || level > 3 || !c->spte_changes)
		return;	/* the shadow MMU's splits are not counted here */
	c->pages[level - 2] += KMMU_PT64_ENT_PER_PAGE;
	c->last_leaf_change[level - 2] = c->pos + 1;
	c->last_leaf_change_ts = r->ts;
	l = leaf_get(c, leaf_key(0, SPLIT_KEY_LEVEL | (level - 1),
				 r->split.gfn & ~(level_pages(level) - 1)));
	if (l)
		l->live++;
	c->any_split = true;
}

void chk_for_each_leaf(struct checker *c, unsigned int as_id, gfn_t base, uint64_t npages,
		       chk_leaf_fn *fn, void *arg)
{
	struct leaf *l;

	/* Whichever is fewer: the table's entries, or the range's keys. */
	if (c->leaves.cap <= npages * 3) {
		for (uint64_t i = 0; i < c->leaves.cap; i++) {
			uint64_t key;
			unsigned int level;

			l = (struct leaf *)(c->leaves.ents + i * c->leaves.esize);
			if (!l->key)
				continue;
			key = l->key - 1;
			level = key & 0xf;
			/* Split huge pages' and page tables' entries are no leaves. */
			if ((key >> 4 & 0xf) != as_id || (level & SPLIT_KEY_LEVEL) ||
			    !in_range(key >> 8, base, npages))
				continue;
			fn(c, l, level, key >> 8, arg);
		}
		return;
	}
	for (gfn_t gfn = base; gfn < base + npages; gfn++)
		for (unsigned int level = 1; level <= 3; level++) {
			if (gfn & (level_pages(level) - 1))
				break;
			l = chk_leaf_find(c, as_id, level, gfn);
			if (l)
				fn(c, l, level, gfn, arg);
		}
}

/* Why the leaf properties judged nothing. */
void chk_explain_leaf(struct checker *c)
{
	const char *why = chk_no_tdp_ad(c);

	if (!c->res->checked[KMMU_PROP_LEAF_CHANGE])
		chk_not_checkable(c, KMMU_PROP_LEAF_CHANGE, why ? why :
				  "no present leaf SPTE changed in place");
	if (!why)
		why = c->no_history ? c->no_history : c->vm_creates != 1 ?
		      "not exactly one VM created in the trace: SPTE changes name no VM" :
		      "no traced change found its SPTE's last traced state";
	if (!c->res->checked[KMMU_PROP_SPTE_HISTORY])
		chk_not_checkable(c, KMMU_PROP_SPTE_HISTORY, why);
	if (!c->res->checked[KMMU_PROP_HUGE_ALLOWED])
		chk_not_checkable(c, KMMU_PROP_HUGE_ALLOWED,
				  "no huge SPTE was installed outside a memslot ioctl changing its"
				  " gfns");
	if (!c->res->checked[KMMU_PROP_SPTE_WRITABLE])
		chk_not_checkable(c, KMMU_PROP_SPTE_WRITABLE,
				  "no SPTE of a read-only slot, nor a huge one of a dirty-logged"
				  " slot, was traced");
}
