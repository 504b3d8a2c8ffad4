// SPDX-License-Identifier: GPL-2.0
/*
 * The MMIO SPTE generation family: MMIO_GENERATION (a new MMIO SPTE's
 * generation changes exactly with memslot updates), MMIO_GEN_MODEL (it is
 * the reference's memslot generation, up to a constant learned from the
 * first one; see kmmu/checker.h), ZAP_AT_WRAP (the update that wraps it
 * zaps all), MMIO_CHECK (check_mmio_spte's verdict is used exactly when
 * the generations match) and MMIO_SPTE_UNBACKED (an honoured MMIO SPTE has
 * no live slot under it).
 */
#include <inttypes.h>

#include <urcu/urcu-memb.h>

#include "replay.h"

/*
 * The trace's clocks are per CPU, and a TCG guest's differ: seen, a
 * mark_mmio_spte stamped on one vCPU 60 us after a memslot update's return
 * was stamped on the other still carried the generation from before it
 * (impossible on one clock: the fault's SRCU reader ends before the
 * update's synchronize_srcu() returns); on a host loaded by other work
 * (load average 6 on 2 CPUs), 8.5 ms after a MOVE's return, with the
 * generation between its two swaps.  So a generation event may carry the
 * generation from before an update stamped on another CPU up to this long
 * before it: six times the worst seen.  A generation older than the
 * oldest such update, or one on the update's own CPU, is still judged.
 */
/* GEN_SKEW_NS (replay.h) is this allowance. */

/* kvm_arch_memslots_updated() of the reference: the swaps of the ioctl being replayed. */
void chk_gen_memslots_updated(struct checker *c, uint64_t gen)
{
	/* Address space 0 has the generations 0 mod KMMU_ADDRESS_SPACE_NUM. */
	if (gen % KMMU_ADDRESS_SPACE_NUM == 0 && c->nr_swap_gens < 4)
		c->swap_gens[c->nr_swap_gens++] = gen;
}

/* The reference's generation of address space 0 (between ioctls: never in progress). */
static uint64_t ref_generation(struct checker *c)
{
	uint64_t gen;

	urcu_memb_read_lock();
	gen = kmmu_memslots_generation(kmmu_memslots_active(c->ms, 0));
	urcu_memb_read_unlock();
	return gen & ~KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS;
}

/* Before a memslot ioctl is applied to the reference: the generation before it. */
void chk_gen_note_update(struct checker *c, const struct kmmu_trace_record *r)
{
	c->recent[c->nr_recent++ % GEN_RECENT] =
		(struct gen_before){ .ts = r->ts, .cpu = r->cpu, .ref = ref_generation(c) };
	c->nr_swap_gens = 0;
}

/* The kernel's generation when the reference's (address space 0) is @ref. */
static uint64_t kernel_gen_of(struct checker *c, uint64_t ref)
{
	return (c->first_kgen + (ref - c->first_ref) / 2 * c->nr_as) & c->gen_layout->gen_mask;
}

/*
 * Is @kgen a kernel generation from between the start of an update whose
 * record was stamped on another CPU than @r, at most GEN_SKEW_NS before @r
 * (see GEN_SKEW_NS), and now: the one before it, or a DELETE's or MOVE's
 * between its two swaps?  Only once the kernel's generation is known.
 */
static bool gen_skew_explains(struct checker *c, const struct kmmu_trace_record *r, uint64_t kgen)
{
	uint64_t mask = c->gen_layout->gen_mask, now, back = 0;

	if (!c->gen_offset_known || !c->nr_as)
		return false;
	for (unsigned int i = 0; i < GEN_RECENT && i < c->nr_recent; i++) {
		const struct gen_before *g = &c->recent[(c->nr_recent - 1 - i) % GEN_RECENT];

		if (g->ts + GEN_SKEW_NS < r->ts)
			break;
		if (g->cpu != r->cpu)
			back = g->ref;	/* the oldest such update wins */
	}
	if (!back)
		return false;
	now = kernel_gen_of(c, ref_generation(c));
	return ((now - kgen) & mask) <= ((now - kernel_gen_of(c, back)) & mask);
}

/*
 * kvm_mmu_invalidate_mmio_sptes(): a swap whose kernel generation wraps the
 * MMIO generation must zap all shadow pages within the ioctl.  Judged only
 * once the kernel's generation is known (see kmmu/checker.h).
 */
void chk_judge_wrap(struct checker *c, struct memslot_op *op)
{
	const struct kmmu_trace_record *r = &c->recs[op->pos];

	if (!c->gen_offset_known || !c->nr_as)
		return;
	for (unsigned int i = 0; i < c->nr_swap_gens; i++) {
		uint64_t kgen = kernel_gen_of(c, c->swap_gens[i]);

		if (kmmu_mmio_gen_needs_zap(c->gen_layout, kgen, c->nr_as) != 1)
			continue;
		c->res->checked[KMMU_PROP_ZAP_AT_WRAP]++;
		if (!op->zapped_all)
			chk_diverge(c, KMMU_PROP_ZAP_AT_WRAP, r->memslot.gpa >> PAGE_SHIFT, false,
				    "this ioctl takes the MMIO generation to %#" PRIx64
				    " (reference generation %#" PRIx64 "), a wrap:"
				    " kvm_mmu_zap_all_fast must run within it, or MMIO SPTEs of %u"
				    " generations ago match again", kgen, c->swap_gens[i],
				    (unsigned int)(c->gen_layout->gen_mask + 1));
	}
}

/* MMIO_GENERATION: a mark_mmio_spte's generation changes exactly with memslot updates. */
static void judge_mark_mmio(struct checker *c, const struct kmmu_trace_record *r)
{
	struct memslot_op *fl[MAX_OPS_SEEN];

	/* During an update either generation may be stamped. */
	if (chk_ops_in_flight(c, r->ts, fl, true))
		return;
	/* Nor is one from before an update another CPU's clock put earlier. */
	if (gen_skew_explains(c, r, r->mark_mmio.gen))
		return;
	if (c->have_mmio_gen) {
		bool updated = c->updates != c->mmio_gen_updates;
		bool changed = r->mark_mmio.gen != c->mmio_gen;

		c->res->checked[KMMU_PROP_MMIO_GENERATION]++;
		if (updated != changed)
			chk_diverge(c, KMMU_PROP_MMIO_GENERATION, r->mark_mmio.gfn, true,
				    "generation %u %s the previous MMIO SPTE's %u: %" PRIu64
				    " memslot updates happened in between",
				    r->mark_mmio.gen, updated ? "to differ from" : "to equal",
				    c->mmio_gen, c->updates - c->mmio_gen_updates);
	}
	c->have_mmio_gen = true;
	c->mmio_gen = r->mark_mmio.gen;
	c->mmio_gen_updates = c->updates;
}

/*
 * A generation the kernel stamped into (mark_mmio_spte) or compared with
 * (check_mmio_spte's kvm_gen) an MMIO SPTE, outside memslot ioctls: it is
 * the reference's generation of address space 0, up to the constant
 * difference learned from the first such event.
 */
static void judge_mmio_gen(struct checker *c, const struct kmmu_trace_record *r, uint64_t kgen,
			   gfn_t gfn, bool have_gfn)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	uint64_t mask = c->gen_layout->gen_mask, ref, want;

	if (chk_ops_in_flight(c, r->ts, fl, true))
		return;
	ref = ref_generation(c);
	if (!c->gen_offset_known) {
		c->gen_offset = (kgen - ref) & mask;
		c->first_kgen = kgen & mask;
		c->first_ref = ref;
		c->gen_offset_known = true;
		return;
	}
	if (!c->nr_as && ref != c->first_ref) {
		uint64_t kdiff = (kgen - c->first_kgen) & mask;
		uint64_t rdiff = (ref - c->first_ref) & mask;

		/* Two steps per swap with SMM's second address space, one without. */
		if (kdiff == rdiff)
			c->nr_as = 2;
		else if (kdiff * 2 == rdiff)
			c->nr_as = 1;
		else
			c->nr_as = 2;	/* neither: judge by the reference's own model */
	}
	want = c->nr_as ? kernel_gen_of(c, ref) : c->first_kgen;
	c->res->checked[KMMU_PROP_MMIO_GEN_MODEL]++;
	if ((kgen & mask) != want && !gen_skew_explains(c, r, kgen))
		chk_diverge(c, KMMU_PROP_MMIO_GEN_MODEL, gfn, have_gfn,
			    "generation %#" PRIx64 ": the reference's memslot generation is %#"
			    PRIx64 ", and %#" PRIx64 " when the kernel's was %#" PRIx64 " (the"
			    " first MMIO SPTE event), so %#" PRIx64 " with %u address space(s); %"
			    PRIu64 " memslot updates replayed", kgen & mask, ref, c->first_ref,
			    c->first_kgen, want, c->nr_as ? c->nr_as : 2, c->updates);
}

void chk_on_mark_mmio(struct checker *c, const struct kmmu_trace_record *r)
{
	judge_mark_mmio(c, r);
	judge_mmio_gen(c, r, r->mark_mmio.gen, r->mark_mmio.gfn, true);
}

/*
 * MMIO_CHECK: check_mmio_spte() traces the generation it read from the
 * SPTE (the layout of spte.h, fixed from 6.1 to 6.12) and KVM's, and
 * handle_mmio_page_fault() uses the SPTE, tracing handle_mmio_page_fault
 * next, exactly when they match; else the fault takes the slow path.
 * (While a memslot update is in progress it returns early, untraced.)
 */
void chk_on_check_mmio(struct checker *c, const struct kmmu_trace_record *r)
{
	uint64_t gen = kmmu_get_mmio_spte_generation(c->gen_layout, r->check_mmio.spte);
	bool match = r->check_mmio.kvm_gen == r->check_mmio.spte_gen;

	judge_mmio_gen(c, r, r->check_mmio.kvm_gen, 0, false);
	c->res->checked[KMMU_PROP_MMIO_CHECK]++;
	if (gen != r->check_mmio.spte_gen) {
		chk_diverge(c, KMMU_PROP_MMIO_CHECK, 0, false,
			    "MMIO SPTE %#" PRIx64 " holds generation %#" PRIx64 ", not the %#x"
			    " traced", r->check_mmio.spte, gen, r->check_mmio.spte_gen);
		return;
	}
	chk_add_claim(c, r->pid, match ? CLAIM_MMIO_USED : CLAIM_MMIO_REJECTED, 0, 0);
}

/* Matched checks the task did not follow with a use, once the trace shows uses at all. */
static void judge_mmio_unused(struct checker *c)
{
	if (!c->mmio_unused || !c->mmio_pfs)
		return;
	c->pos = c->mmio_unused_pos;
	chk_diverge(c, KMMU_PROP_MMIO_CHECK, 0, false,
		    "%" PRIu64 " check_mmio_spte with matching generations (this the first) were"
		    " not followed by the task's handle_mmio_page_fault: the SPTE must be used",
		    c->mmio_unused);
}

/*
 * handle_mmio_page_fault: KVM honoured an MMIO SPTE (its generation
 * matched) and emulates the access as MMIO.  Outside an ioctl changing the
 * gfn, a live memslot there means a stale SPTE was trusted.
 */
void chk_on_handle_mmio_pf(struct checker *c, const struct kmmu_trace_record *r)
{
	gfn_t gfn = r->mmio_pf.gfn;
	uint32_t flags;
	int id;

	c->mmio_pfs++;
	if (chk_ref_gfn_slot(c, gfn, &id, &flags)) {
		if (chk_gfn_in_transition(c, r->ts, gfn))
			return;
		c->res->checked[KMMU_PROP_MMIO_SPTE_UNBACKED]++;
		chk_diverge(c, KMMU_PROP_MMIO_SPTE_UNBACKED, gfn, true,
			    "gfn %#" PRIx64 " lies in live memslot 0:%d: its MMIO SPTE is stale and"
			    " must fail the generation check, not be used", gfn, id);
		return;
	}
	c->res->checked[KMMU_PROP_MMIO_SPTE_UNBACKED]++;
}

/* At the end of the trace: what MMIO_CHECK could not judge, and why. */
void chk_mmio_gen_finish(struct checker *c)
{
	judge_mmio_unused(c);
	if (!c->res->checked[KMMU_PROP_MMIO_CHECK])
		chk_not_checkable(c, KMMU_PROP_MMIO_CHECK, "no check_mmio_spte in this trace"
				  " (mmio_caching=N, or no MMIO SPTE was met again)");
	else if (c->mmio_unused && !c->mmio_pfs)
		chk_not_checkable(c, KMMU_PROP_MMIO_CHECK, "no handle_mmio_page_fault in this"
				  " trace: that matching MMIO SPTEs were used");
}
