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
 *    wraps at other times than the kernel's) flips the correspondence.
 */
#include <errno.h>
#include <inttypes.h>

#include <urcu/urcu-memb.h>

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

void chk_ref_mmu_init(struct checker *c)
{
	kmmu_ref_vm_set_event_fn(c->vm, chk_ref_mmu_event, c);
	kmmu_ref_vm_set_hva_to_pfn_fn(c->vm, ref_hva_to_pfn, c);
	c->ref_own_zap = true;
	/* The TDP MMU traces its drops, and the history is complete: per SPTE. */
	c->ref_drops_traced = c->any_spte_changes && !c->no_history && c->vm_creates_total <= 1;
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

	if (!tdp_leaf(spte, level) || level > 3 || (gfn & (pages - 1)))
		return;
	c->ref_pfn = kmmu_spte_to_pfn(spte);
	c->ref_level = level;
	/* A write fault where the kernel made it writable (a read-only slot refuses). */
	if ((spte & KMMU_PT_WRITABLE_MASK) && !(v->flags & KMMU_MEM_READONLY))
		error_code = KMMU_PFERR_WRITE_MASK;
	if (kmmu_page_fault(c->vm, 0, 0, gfn, error_code, &f) == -ENOMEM)
		c->oom = true;
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

void chk_ref_explain(struct checker *c)
{
	if (c->res->checked[KMMU_PROP_MMU_VALID_GEN])
		return;
	chk_not_checkable(c, KMMU_PROP_MMU_VALID_GEN,
			  c->vm_creates_total > 1 ?
			  "several VMs in the trace: fast zaps name no VM" :
			  c->valid_gen_zaps ? "only one fast zap, of a VM created before the trace" :
			  "no kvm_mmu_zap_all_fast in this trace");
}
