// SPDX-License-Identifier: GPL-2.0
/*
 * The reference MMU in the loop: the reference VM (c->vm, ref/'s
 * kmmu_ref_vm) keeps the SPTE state the kernel's events give it, and the
 * kernel's later events are judged against what it holds.
 *
 * What goes in:
 *  - every present leaf the kernel installs in a live slot of address
 *    space 0, outside a memslot ioctl changing its gfns, is faulted into
 *    the reference with the kernel's frame and level (kmmu_page_fault()
 *    with a hva_to_pfn hook answering them; its own fault path caps the
 *    level at what the slot allows, and 1G at 2M).  The TDP MMU's come
 *    from kvm_tdp_mmu_spte_changed, which names the address space; the
 *    shadow MMU's from kvm_mmu_set_spte, which does not (0 assumed);
 *  - every drop the kernel traces (a TDP MMU leaf that stops being one),
 *    and every MMU notifier unmap (kvm_unmap_hva_range, another task's
 *    too), zaps the reference's SPTEs there (kmmu_mmu_zap_gfn_range(), the
 *    notifier's invalidate_range_start/end);
 *  - every kvm_mmu_zap_all_fast is the reference's fast zap
 *    (kmmu_mmu_zap_all_fast(): mmu_valid_gen toggles, every leaf goes);
 *    but where the kernel traces its drops, only they take SPTEs out of
 *    the reference (and its generation is toggled alongside), so that a
 *    leaf the kernel's fast zap skipped stays in the reference;
 *  - every memslot ioctl is the reference's (memslot.c): a DELETE or
 *    MOVE zaps the slot's own SPTEs there (flush_slot without the
 *    zap-all quirk: the kernel's fast zap is traced and replayed above).
 *
 * What is judged:
 *  - ZAP_ON_REMOVE, per SPTE, where the kernel traces its drops (the TDP
 *    MMU, one VM, no untraced SPTE changes: SPTE_HISTORY's conditions):
 *    when a DELETE or MOVE returns, the reference holds no SPTE of the
 *    removed range: each one the kernel installed there it also dropped,
 *    by its fast zap or otherwise.  A fast zap that skips pages shows
 *    here, not only one that is missing altogether;
 *  - MMU_VALID_GEN: each kvm_mmu_zap_all_fast reports the generation it
 *    toggles away from (trace_kvm_mmu_zap_all_fast() comes before the
 *    toggle), which is the reference's mmu_valid_gen: a fast zap that
 *    does not toggle, or toggles twice, shows at the next one.  A VM
 *    created in the trace starts at 0; else the first fast zap tells.
 *    A fast zap the reference makes on its own (its MMIO generation
 *    wraps at other times than the kernel's) flips the correspondence;
 *  - AGING_MAKES_OLD: each kvm_age_hva is the reference's clear_young
 *    over its hva range (kmmu_mmu_notifier_clear_young(), mmu_lock held
 *    as the 6.1 TDP MMU ages).  Every leaf the reference's aging finds
 *    young there, the kernel's pass (that task's SPTE changes until its
 *    next other record) must clear the Accessed bit of.  The reference's
 *    leaves are young as the kernel installed them: its fault sets
 *    Accessed, and a kernel install without it (a prefetch, A/D
 *    disabled) is aged in the reference at once.  Only the hardware sets
 *    Accessed otherwise, untraced, so the judgement goes one way: a leaf
 *    the reference holds old may be young in the kernel, never the
 *    reverse.  Judged where SPTE drops are traced (ZAP_ON_REMOVE's
 *    conditions), the host's A/D bits are known and no memslot ioctl is
 *    in flight; not for a leaf installed on another CPU within
 *    GEN_SKEW_NS before the pass (the per-CPU clocks), nor one the
 *    kernel dropped or installed again since the pass began.
 */
#include <errno.h>
#include <inttypes.h>

#include <urcu/urcu-memb.h>

#include "kmmu/aging.h"
#include "kmmu/notifier.h"
#include "kmmu/zap.h"
#include "replay.h"

/* The host's answer for the fault being replayed: the kernel's frame and level. */
static int ref_hva_to_pfn(void *ctx, unsigned long hva, uint64_t *pfn, int *level)
{
	struct checker *c = ctx;

	*pfn = c->ref_pfn;
	*level = c->ref_level;
	return 0;
}

static uint64_t frame_key(uint64_t pfn, unsigned int level)
{
	return (pfn << 3 | level) + 1;
}

/*
 * The reference's A/D reports: while it ages for a judged pass, each
 * young leaf it makes old, by the gfn the kernel installed its frame at.
 */
static void ref_ad(void *ctx, uint64_t pfn, int level, uint64_t bits, bool installed)
{
	struct checker *c = ctx;
	const struct kmmu_trace_record *pass;
	const struct ref_frame *f;

	if (!c->ref_aging_pass || installed || !(bits & KMMU_PT_ACCESSED_MASK))
		return;
	f = chk_table_find(&c->ref_frames, frame_key(pfn, level));
	if (!f || !f->gfn1 || f->gfn1 == REF_FRAME_ALIASED)
		return;
	pass = &c->recs[c->ref_aging_pass - 1];
	if (f->cpu != pass->cpu && pass->ts - f->ts < GEN_SKEW_NS)
		return;		/* it may have come after the pass began */
	if (kmmu_grow(&c->young, &c->young_cap, c->nr_young, 1, 256)) {
		c->oom = true;
		return;
	}
	c->young[c->nr_young++] = (struct ref_young){
		.gfn = f->gfn1 - 1, .pass = c->ref_aging_pass, .level = level };
}

void chk_ref_mmu_init(struct checker *c)
{
	kmmu_ref_vm_set_ad_fn(c->vm, ref_ad, c);
	kmmu_ref_vm_set_event_fn(c->vm, chk_ref_mmu_event, c);
	kmmu_ref_vm_set_hva_to_pfn_fn(c->vm, ref_hva_to_pfn, c);
	c->ref_own_zap = true;
	/* The TDP MMU traces its drops, and the history is complete: per SPTE. */
	c->ref_drops_traced = c->any_spte_changes && !c->no_history && c->vm_creates_total <= 1;
}

/* Whether the kernel's leaf @spte is young (Accessed set, A/D enabled). */
static bool kernel_young(struct checker *c, uint64_t spte)
{
	uint64_t a, d;

	return chk_ad_masks(c, &a, &d) && !ad_disabled(spte) && (spte & a);
}

/*
 * The reference faulted @gfn in as the kernel's leaf @spte of @level: its
 * frame's gfn for AGING_MAKES_OLD, and the kernel's Accessed bit (the
 * reference's fault set its own).
 */
static void ref_note_frame(struct checker *c, gfn_t gfn, unsigned int level, uint64_t spte)
{
	const struct kmmu_trace_record *r = &c->recs[c->pos];
	struct kmmu_memory_slot *s;
	struct ref_frame *f;

	/* Without aging passes nothing reads them (a lookup per install costs). */
	if (!c->any_age_hva)
		return;
	f = chk_table_get(&c->ref_frames, frame_key(kmmu_spte_to_pfn(spte), level));
	if (!f) {
		c->oom = true;
		return;
	}
	if (f->gfn1 && f->gfn1 != gfn + 1)
		f->gfn1 = REF_FRAME_ALIASED;
	else
		f->gfn1 = gfn + 1;
	f->ts = r->ts;
	f->cpu = r->cpu;
	if (kernel_young(c, spte))
		return;
	/* Installed old: the reference's aging makes its leaf old too. */
	urcu_memb_read_lock();
	s = kmmu_gfn_to_memslot(kmmu_memslots_active(c->ms, 0), gfn);
	if (s) {
		/* Within the slot: the kernel's leaf may reach past it (judged elsewhere). */
		gfn_t end = gfn + level_pages(level);

		if (end > s->base_gfn + s->npages)
			end = s->base_gfn + s->npages;
		kmmu_mmu_lock(c->vm);
		kmmu_age_gfn_range(c->vm, s, gfn, end, KMMU_AGING_LOCKED, false);
		kmmu_mmu_unlock(c->vm);
	}
	urcu_memb_read_unlock();
}

/*
 * A present leaf of @level mapping @gfn (address space 0) to the frame of
 * @spte, installed by the kernel in the live slot @v outside any ioctl
 * changing its gfns: the reference's fault makes the same mapping.
 */
void chk_ref_install(struct checker *c, const struct slot_view *v, gfn_t gfn,
		     unsigned int level, uint64_t spte)
{
	uint64_t pages = level_pages(level);
	uint32_t error_code = 0;
	struct kmmu_fault f;
	int ret;

	if (!tdp_leaf(spte, level) || level > 3 || (gfn & (pages - 1)))
		return;
	c->ref_pfn = kmmu_spte_to_pfn(spte);
	c->ref_level = level;
	/* A write fault where the kernel made it writable (a read-only slot refuses). */
	if ((spte & KMMU_PT_WRITABLE_MASK) && !(v->flags & KMMU_MEM_READONLY))
		error_code = KMMU_PFERR_WRITE_MASK;
	ret = kmmu_page_fault(c->vm, 0, 0, gfn, error_code, &f);
	if (ret) {
		c->oom |= ret == -ENOMEM;
		return;
	}
	ref_note_frame(c, gfn, level, spte);
}

/* The kernel dropped the leaf of @level at @gfn of address space @as_id. */
void chk_ref_drop(struct checker *c, unsigned int as_id, gfn_t gfn, unsigned int level)
{
	if (as_id || level < 1 || level > 3)
		return;
	kmmu_mmu_zap_gfn_range(c->vm, gfn, gfn + level_pages(level));
}

/* An MMU notifier unmap (kvm_unmap_hva_range), traced or not: the reference's. */
void chk_ref_unmap(struct checker *c, const struct kmmu_trace_record *r)
{
	if (r->hva_range.end <= r->hva_range.start)
		return;
	kmmu_mmu_notifier_invalidate_range_start(c->vm, r->hva_range.start, r->hva_range.end);
	kmmu_mmu_notifier_invalidate_range_end(c->vm, r->hva_range.start, r->hva_range.end);
}

/* kvm_mmu_zap_all_fast: MMU_VALID_GEN, then the reference's own fast zap. */
void chk_ref_zap_all_fast(struct checker *c, const struct kmmu_trace_record *r)
{
	unsigned int ref_gen = (c->vm->mmu_valid_gen ^ c->valid_gen_flip) & 1;
	bool mismatch = r->zap_all_fast.mmu_valid_gen != ref_gen;

	if (c->vm_creates_total > 1) {
		/* Each VM toggles its own. */
	} else if (!c->valid_gen_known && !c->vm_creates) {
		/* The kernel's VM may have zapped before the trace began: learn. */
		c->valid_gen_flip ^= mismatch;
	} else {
		c->res->checked[KMMU_PROP_MMU_VALID_GEN]++;
		if (mismatch)
			chk_diverge(c, KMMU_PROP_MMU_VALID_GEN, 0, false,
				    "this fast zap reports mmu_valid_gen %u, the reference's is %u:"
				    " %s", r->zap_all_fast.mmu_valid_gen, ref_gen,
				    c->valid_gen_zaps ? "the previous fast zap did not toggle it"
				    " exactly once" : "a new VM starts at 0");
		/* Once reported, follow the kernel: one bug, one report. */
		c->valid_gen_flip ^= mismatch;
	}
	c->valid_gen_known = true;
	c->valid_gen_zaps++;
	if (c->ref_drops_traced) {
		/*
		 * The kernel's drops are traced: they, not a zap of everything,
		 * take its SPTEs out of the reference, so that one the fast zap
		 * missed stays there.  The generation toggles all the same.
		 */
		c->valid_gen_flip ^= 1;
		return;
	}
	c->ref_own_zap = false;
	kmmu_mmu_zap_all_fast(c->vm);
	/* That toggle was the kernel's too; any other is the reference's own. */
	c->ref_own_zap = true;
}

/*
 * The reference VM's events: its kvm_arch_memslots_updated() tells the
 * generation family the swaps of the ioctl being replayed; a fast zap it
 * made on its own (not one replayed) flips the mmu_valid_gen pairing.
 */
void chk_ref_mmu_event(void *ctx, const struct kmmu_mmu_event *ev)
{
	struct checker *c = ctx;

	if (ev->type == KMMU_MMU_EV_MEMSLOTS_UPDATED)
		chk_gen_memslots_updated(c, ev->gen_wrap.gen);
	else if (ev->type == KMMU_MMU_EV_ZAP_ALL_FAST && c->ref_own_zap)
		c->valid_gen_flip ^= 1;
}

#define HELD_MAX	64	/* leaves looked for in a removal's late drops */
#define LATE_SCAN_MAX	(1u << 20)	/* records looked at after it */

struct held_leaf {
	gfn_t gfn;
	uint64_t pages;
	bool dropped;
};

/*
 * Whether every leaf of @held (the reference's, in a slot whose removal
 * @r returned) has a drop stamped on another CPU than @r's within
 * GEN_SKEW_NS after it: the per-CPU clocks may have put drops made before
 * the return after it.
 */
static bool dropped_late(struct checker *c, const struct kmmu_trace_record *r,
			 struct held_leaf *held, unsigned int n)
{
	unsigned int left = n;

	for (uint64_t i = c->pos + 1, k = 0; i < c->nr && k < LATE_SCAN_MAX && left; i++, k++) {
		const struct kmmu_trace_record *d = &c->recs[i];
		unsigned int level = d->spte_changed.level;

		if (d->ts > r->ts + GEN_SKEW_NS)
			break;
		if (d->type != KMMU_EV_SPTE_CHANGED || d->cpu == r->cpu || d->spte_changed.as_id ||
		    !tdp_leaf(d->spte_changed.old_spte, level) ||
		    tdp_leaf(d->spte_changed.new_spte, level))
			continue;
		for (unsigned int j = 0; j < n; j++) {
			if (held[j].dropped ||
			    d->spte_changed.gfn >= held[j].gfn + held[j].pages ||
			    held[j].gfn >= d->spte_changed.gfn + level_pages(level))
				continue;
			held[j].dropped = true;
			left--;
		}
	}
	return !left;
}

/*
 * ZAP_ON_REMOVE per SPTE: the DELETE or MOVE of slot @id (address space
 * 0) is returning; the reference still has the slot as it was.  Every
 * leaf the reference holds in it is one the kernel installed and never
 * dropped (unless the per-CPU clocks put the drop after the return).
 */
void chk_ref_judge_removal(struct checker *c, int id)
{
	const struct kmmu_trace_record *r = &c->recs[c->pos];
	struct held_leaf held_leaves[HELD_MAX];
	struct kmmu_slot_rmap_walk w;
	struct kmmu_memory_slot *s;
	uint64_t held = 0, nr_held = 0, first = 0;	/* SPTEs, their rmap heads */
	gfn_t base = 0, npages = 0;

	if (!c->ref_drops_traced)
		return;
	urcu_memb_read_lock();
	kmmu_mmu_read_lock(c->vm);
	s = kmmu_id_to_memslot(kmmu_memslots_active(c->ms, 0), id);
	if (s && s->arch) {
		base = s->base_gfn;
		npages = s->npages;
		kmmu_for_each_slot_rmap_range(s, base, base + npages, &w) {
			unsigned int n = kmmu_pte_list_count(w.head);
			gfn_t gfn = ((base >> KMMU_HPAGE_GFN_SHIFT(w.level)) + w.index) <<
				    KMMU_HPAGE_GFN_SHIFT(w.level);

			if (!n)
				continue;
			if (!held)
				first = gfn < base ? base : gfn;
			if (nr_held < HELD_MAX)
				held_leaves[nr_held] = (struct held_leaf){
					.gfn = gfn, .pages = level_pages(w.level) };
			nr_held++;
			held += n;
		}
	}
	kmmu_mmu_read_unlock(c->vm);
	urcu_memb_read_unlock();
	if (!s)
		return;
	c->res->checked[KMMU_PROP_ZAP_ON_REMOVE]++;
	if (held && (nr_held > HELD_MAX || !dropped_late(c, r, held_leaves, nr_held)))
		chk_diverge(c, KMMU_PROP_ZAP_ON_REMOVE, first, true,
			    "slot 0:%d [gfn %#" PRIx64 "+%#" PRIx64 ") is removed while %" PRIu64
			    " SPTEs the kernel installed in it (the first at gfn %#" PRIx64 ") were"
			    " never dropped: the reference holds them still", id, base, npages,
			    held, first);
}

/* Why AGING_MAKES_OLD cannot judge this trace's passes; NULL if it can. */
static const char *no_aging_judgement(struct checker *c)
{
	if (!c->ref_drops_traced)
		return !c->any_spte_changes ? "no kvm_tdp_mmu_spte_changed: SPTE drops are not"
					      " traced" :
		       c->no_history ? c->no_history : "several VMs: SPTE changes name no VM";
	return chk_no_tdp_ad(c);
}

/*
 * The reference's aging walks the rmaps of every page a pass covers: in
 * all, at most this many pages plus AGING_PAGES_PER_RECORD per record of
 * the trace, so that no trace (a fuzzed one: 8192 passes over a 2^30-page
 * slot) makes the replay hang.  A real 1 GiB pass every thousand records
 * stays within it.
 */
#define AGING_PAGES_BASE	(1ULL << 22)
#define AGING_PAGES_PER_RECORD	256

/* Pages of the reference's slots that the pass @r covers, in both address spaces. */
static uint64_t pass_pages(struct checker *c, const struct kmmu_trace_record *r)
{
	struct kmmu_memory_slot *s;
	uint64_t pages = 0;
	gfn_t lo, hi;

	urcu_memb_read_lock();
	for (int as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++)
		kmmu_for_each_memslot_in_hva_range(s, kmmu_memslots_active(c->ms, as),
						   r->hva_range.start, r->hva_range.end)
			if (chk_hva_range_gfns(s->base_gfn, s->userspace_addr, s->npages,
					       r->hva_range.start, r->hva_range.end, &lo, &hi))
				pages += hi - lo;
	urcu_memb_read_unlock();
	return pages;
}

/*
 * kvm_age_hva: the reference ages the same hva range (clear_young), and
 * remembers, for the end of the kernel's pass, the leaves it found young.
 */
void chk_ref_age_start(struct checker *c, const struct kmmu_trace_record *r)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	bool judge = !r->hva_range.untraced && !no_aging_judgement(c);
	uint64_t pages;

	if (r->hva_range.end <= r->hva_range.start || c->aging_over_budget)
		return;
	c->aging_passes++;
	pages = pass_pages(c, r);
	if (c->aging_pages + pages > AGING_PAGES_BASE + AGING_PAGES_PER_RECORD * c->nr) {
		/* Its Accessed bits are stale from here: no later pass is judged. */
		c->aging_over_budget = true;
		c->nr_young = 0;
		return;
	}
	c->aging_pages += pages;
	if (judge && chk_ops_in_flight(c, r->ts, fl, true)) {
		c->aging_passes_unjudged++;
		judge = false;
	}
	c->ref_aging_pass = judge ? c->pos + 1 : 0;
	kmmu_mmu_notifier_clear_young(c->vm, r->hva_range.start, r->hva_range.end,
				      KMMU_AGING_LOCKED);
	c->ref_aging_pass = 0;
}

/*
 * The aging pass @pass (index + 1 of its kvm_age_hva) ended: each leaf
 * the reference found young at its start had its Accessed bit cleared
 * by it, unless the kernel dropped or installed it again since.
 */
void chk_ref_age_end(struct checker *c, uint64_t pass)
{
	const struct kmmu_trace_record *age = &c->recs[pass - 1];
	uint64_t kept = 0;

	for (uint64_t i = 0; i < c->nr_young; i++) {
		struct ref_young *y = &c->young[i];
		const struct leaf *l;

		if (y->pass != pass) {
			c->young[kept++] = *y;
			continue;
		}
		l = chk_leaf_find(c, 0, y->level, y->gfn);
		if (c->any_split || !l || !l->live || l->inst_pos > pass)
			continue;
		c->res->checked[KMMU_PROP_AGING_MAKES_OLD]++;
		if (l->aged_pass != pass)
			chk_diverge(c, KMMU_PROP_AGING_MAKES_OLD, y->gfn, true,
				    "the aging pass of hva %#" PRIx64 "-%#" PRIx64 " left gfn %#"
				    PRIx64 " (level %u) young: the reference's aging finds it young"
				    " (installed with Accessed set, not aged since) and makes it old",
				    age->hva_range.start, age->hva_range.end, y->gfn, y->level);
	}
	c->nr_young = kept;
}

void chk_ref_explain(struct checker *c)
{
	if (!c->res->checked[KMMU_PROP_AGING_MAKES_OLD]) {
		const char *why = no_aging_judgement(c);

		chk_not_checkable(c, KMMU_PROP_AGING_MAKES_OLD,
				  c->aging_over_budget ? "the aging passes cover more pages than"
				  " the replay ages in the reference" : why ? why :
				  !c->aging_passes ? "no kvm_age_hva in this trace" :
				  c->aging_passes_unjudged ?
				  "every aging pass ran while a memslot ioctl was in flight" :
				  "no aging pass found a leaf young in the reference");
	}
	if (c->res->checked[KMMU_PROP_MMU_VALID_GEN])
		return;
	chk_not_checkable(c, KMMU_PROP_MMU_VALID_GEN,
			  c->vm_creates_total > 1 ?
			  "several VMs in the trace: fast zaps name no VM" :
			  c->valid_gen_zaps ? "only one fast zap, of a VM created before the trace" :
			  "no kvm_mmu_zap_all_fast in this trace");
}
