// SPDX-License-Identifier: GPL-2.0
/*
 * The memslot family: the reference's layout and the memslot ioctls in
 * flight, which every other family asks "is this gfn in a live slot, or
 * in one an ioctl is changing?", and the properties of the layout itself:
 * MEMSLOT_RESULT (each ioctl returns what the reference returns),
 * SPTE_IN_SLOT for kvm_mmu_set_spte, ZAP_ON_REMOVE and NO_SPTE_AFTER_ZAP
 * (a removed slot's SPTEs are zapped, and none comes back before the
 * removal is done), and MMIO_UNBACKED (kvm_mmio only where no slot is).
 *
 * A memslot ioctl is applied to the reference when its record (stamped at
 * its return) is replayed; between its issue and that, events touching
 * the gfns it changes may follow either layout (see kmmu/checker.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "replay.h"

/* kvm_mmio's types (include/trace/events/kvm.h) */
#define KVM_TRACE_MMIO_READ_UNSATISFIED	0
#define KVM_TRACE_MMIO_READ		1
#define KVM_TRACE_MMIO_WRITE		2

/* gfn range of the slot @slot (as << 16 | id) in the reference right now. */
bool chk_ref_slot_range(struct checker *c, uint32_t slot, gfn_t *base, uint64_t *npages,
			uint32_t *flags)
{
	struct kmmu_memory_slot *s;
	bool found = false;

	if ((slot >> 16) >= KMMU_ADDRESS_SPACE_NUM)
		return false;
	urcu_memb_read_lock();
	s = kmmu_id_to_memslot(kmmu_memslots_active(c->ms, slot >> 16), slot & 0xffff);
	if (s) {
		*base = s->base_gfn;
		*npages = s->npages;
		if (flags)
			*flags = s->flags;
		found = true;
	}
	urcu_memb_read_unlock();
	return found;
}

/*
 * The slot of address space @as_id holding @gfn, with @live a visible one;
 * false if none.  Inlined into each caller: the replay's hot path.
 */
static inline __attribute__((always_inline))
bool ref_slot_lookup(struct checker *c, unsigned int as_id, gfn_t gfn, bool live,
		     struct slot_view *v)
{
	struct kmmu_memory_slot *s;
	bool found = false;

	if (as_id >= KMMU_ADDRESS_SPACE_NUM)
		return false;
	urcu_memb_read_lock();
	s = kmmu_gfn_to_memslot(kmmu_memslots_active(c->ms, as_id), gfn);
	if (s && (!live || kmmu_memslot_is_visible(s))) {
		v->base = s->base_gfn;
		v->npages = s->npages;
		v->hva = s->userspace_addr;
		v->flags = s->flags;
		v->id = s->id;
		found = true;
	}
	urcu_memb_read_unlock();
	return found;
}

/* The live slot of address space 0 holding @gfn; false if none. */
bool chk_ref_slot_at(struct checker *c, gfn_t gfn, struct slot_view *v)
{
	struct slot_cached *e = &c->slot_cache[gfn * 0x9e3779b97f4a7c15ULL >> (64 - SLOT_CACHE_BITS)];

	if (e->stamp == c->slots_stamp && in_range(gfn, e->v.base, e->v.npages)) {
		*v = e->v;
		return true;
	}
	if (!ref_slot_lookup(c, 0, gfn, true, v))
		return false;
	e->stamp = c->slots_stamp;
	e->v = *v;
	return true;
}

/* The slot of address space @as_id holding @gfn, live or not; false if none. */
bool chk_ref_slot_at_any(struct checker *c, unsigned int as_id, gfn_t gfn, struct slot_view *v)
{
	return ref_slot_lookup(c, as_id, gfn, false, v);
}

/* The live slot holding @gfn (address space 0), as its id and flags; false if none. */
bool chk_ref_gfn_slot(struct checker *c, gfn_t gfn, int *id, uint32_t *flags)
{
	struct slot_view v;

	if (!chk_ref_slot_at(c, gfn, &v))
		return false;
	*id = v.id;
	*flags = v.flags;
	return true;
}

/*
 * The largest level the reference's fault path may map @gfn at, in its
 * live slot of address space 0 (kmmu_fault_max_level(): the slot's
 * lpage_info, i.e. its ends and its gfn/hva alignment, and dirty
 * logging); 0 if no live slot holds it.
 */
int chk_ref_fault_max_level(struct checker *c, gfn_t gfn)
{
	struct kmmu_memory_slot *s;
	int level = 0;

	urcu_memb_read_lock();
	s = kmmu_gfn_to_memslot(kmmu_memslots_active(c->ms, 0), gfn);
	if (s && kmmu_memslot_is_visible(s))
		level = kmmu_fault_max_level(c->vm, s, gfn);
	urcu_memb_read_unlock();
	return level > 0 ? level : 0;
}

bool chk_op_new_covers(const struct kmmu_trace_record *r, gfn_t gfn)
{
	return r->memslot.size && (r->memslot.slot >> 16) == 0 &&
	       in_range(gfn, r->memslot.gpa >> PAGE_SHIFT, r->memslot.size >> PAGE_SHIFT);
}

/* A successful MOVE of its slot, as the reference holds it now. */
static bool op_moves(struct checker *c, const struct kmmu_trace_record *r)
{
	gfn_t base;
	uint64_t npages;

	return !r->memslot.ret && r->memslot.size &&
	       chk_ref_slot_range(c, r->memslot.slot, &base, &npages, NULL) &&
	       base != r->memslot.gpa >> PAGE_SHIFT;
}

bool chk_op_old_covers(struct checker *c, const struct kmmu_trace_record *r, gfn_t gfn)
{
	gfn_t base;
	uint64_t npages;

	return (r->memslot.slot >> 16) == 0 &&
	       chk_ref_slot_range(c, r->memslot.slot, &base, &npages, NULL) &&
	       in_range(gfn, base, npages);
}

/*
 * The memslot ops in flight at @ts: issued at or before it, returned after.
 * Ops are ordered by return time, so they are the next few not yet replayed.
 * With @tied also the last few replayed that returned at @ts itself: an
 * op's record is stamped after its ioctl returned, so a kernel event with
 * the same timestamp may have happened before that, whichever comes first
 * in the log (the clock is coarse in a TCG guest: seen, mark_mmio_spte with
 * the old generation at the very nanosecond an update's record was
 * stamped).  Only the generation checks take it: a planted event at an
 * op's return time is still judged everywhere else.
 */
int chk_ops_in_flight(struct checker *c, uint64_t ts, struct memslot_op **out, bool tied)
{
	int n = 0;

	for (uint64_t i = c->next_op; tied && i > 0 && n < MAX_TIED; i--) {
		if (c->recs[c->ops[i - 1].pos].ts != ts)
			break;
		out[n++] = &c->ops[i - 1];
	}
	for (uint64_t i = c->next_op; i < c->nr_ops && i < c->next_op + MAX_IN_FLIGHT; i++) {
		const struct kmmu_trace_record *r = &c->recs[c->ops[i].pos];

		if (r->memslot.start_ts <= ts)
			out[n++] = &c->ops[i];
	}
	return n;
}

/* Whether an op in flight at the current record may change what @gfn maps to. */
bool chk_gfn_in_transition(struct checker *c, uint64_t ts, gfn_t gfn)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	int n = chk_ops_in_flight(c, ts, fl, false);

	for (int i = 0; i < n; i++) {
		const struct kmmu_trace_record *r = &c->recs[fl[i]->pos];

		if (chk_op_new_covers(r, gfn) || chk_op_old_covers(c, r, gfn))
			return true;
	}
	return false;
}

/* Whether [gfn, gfn + npages) of @r's old or new range overlap. */
static bool op_overlaps(struct checker *c, const struct kmmu_trace_record *r, gfn_t gfn,
			uint64_t npages)
{
	gfn_t base;
	uint64_t n;

	if ((r->memslot.slot >> 16) != 0)
		return false;
	if (r->memslot.size) {
		base = r->memslot.gpa >> PAGE_SHIFT;
		n = r->memslot.size >> PAGE_SHIFT;
		if (base < gfn + npages && gfn < base + n)
			return true;
	}
	return chk_ref_slot_range(c, r->memslot.slot, &base, &n, NULL) &&
	       base < gfn + npages && gfn < base + n;
}

/* chk_gfn_in_transition() for every gfn of an SPTE of @npages pages. */
bool chk_range_in_transition(struct checker *c, uint64_t ts, gfn_t gfn, uint64_t npages)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	int n = chk_ops_in_flight(c, ts, fl, false);

	for (int i = 0; i < n; i++)
		if (op_overlaps(c, &c->recs[fl[i]->pos], gfn, npages))
			return true;
	return false;
}

/*
 * The gfns [@lo, @hi) of a slot (@base, @hva, @npages) whose pages the host
 * range [@start, @end) touches; false if none.
 */
bool chk_hva_range_gfns(gfn_t base, uint64_t hva, uint64_t npages, uint64_t start,
			uint64_t end, gfn_t *lo, gfn_t *hi)
{
	uint64_t to;

	if (!npages || end <= hva || start >= hva + (npages << PAGE_SHIFT))
		return false;
	*lo = base + (start > hva ? (start - hva) >> PAGE_SHIFT : 0);
	to = (end - hva + (1ULL << PAGE_SHIFT) - 1) >> PAGE_SHIFT;
	*hi = base + (to < npages ? to : npages);
	return true;
}

static struct slot_sptes *slot_sptes(struct checker *c, unsigned int as_id, unsigned int id)
{
	struct slot_sptes *s = &c->sptes[as_id * KMMU_MEM_SLOTS_NUM + id];

	if (s->epoch != c->epoch) {
		s->epoch = c->epoch;
		s->count = 0;
	}
	return s;
}

/* The count of slot @slot (as << 16 | id); NULL for one no VM can have. */
static struct slot_sptes *slot_sptes_of(struct checker *c, uint32_t slot)
{
	if ((slot >> 16) >= KMMU_ADDRESS_SPACE_NUM || (slot & 0xffff) >= KMMU_MEM_SLOTS_NUM)
		return NULL;
	return slot_sptes(c, slot >> 16, slot & 0xffff);
}

/* Counts an SPTE installed in flight for the slot @op creates or moves. */
static void op_add_new_spte(struct checker *c, struct memslot_op *op, gfn_t gfn)
{
	if (op->new_sptes_epoch != c->epoch) {
		op->new_sptes_epoch = c->epoch;	/* a zap-all since: those are gone */
		op->new_sptes = 0;
	}
	if (!op->new_sptes)
		op->first_new_gfn = gfn;
	op->new_sptes++;
}

/*
 * An SPTE installed while memslot ioctls are in flight, for a gfn the
 * reference (the layout before them) does not back.  A fault resolves its
 * gfn to a slot under SRCU and the ioctl's swap waits for it, so the kernel
 * cannot install it before the new layout is visible: it maps the slot the
 * op whose new range covers it creates or moves, and that slot's removal
 * later must zap it.  It is judged when the op is replayed: the op must
 * have succeeded.  Covered by more than one op in flight: not attributed,
 * which only narrows what the zap properties require.
 */
static void attribute_in_flight(struct checker *c, uint64_t ts, gfn_t gfn)
{
	struct memslot_op *fl[MAX_OPS_SEEN], *op = NULL;
	int n = chk_ops_in_flight(c, ts, fl, false);

	for (int i = 0; i < n; i++) {
		if (!chk_op_new_covers(&c->recs[fl[i]->pos], gfn))
			continue;
		if (op)
			return;
		op = fl[i];
	}
	if (!op)
		return;
	op_add_new_spte(c, op, gfn);
	op->unbacked_sptes++;
}

/*
 * The replayed op @op made its slot @slot: the SPTEs installed in flight
 * for its new range count for that slot, unless a zap-all came after them;
 * if it failed, the new range was never visible and they mapped nothing.
 */
static void settle_in_flight(struct checker *c, struct memslot_op *op, uint32_t slot, int ret)
{
	const struct kmmu_trace_record *r = &c->recs[op->pos];
	struct slot_sptes *s;

	if (op->unbacked_sptes) {
		c->res->checked[KMMU_PROP_SPTE_IN_SLOT] += op->unbacked_sptes;
		if (ret)
			chk_diverge(c, KMMU_PROP_SPTE_IN_SLOT, op->first_new_gfn, true,
				    "%u SPTEs (the first for gfn %#" PRIx64 ") were installed"
				    " while this ioctl was in flight for gfns only its new range"
				    " [gfn %#" PRIx64 "+%#" PRIx64 ") would back, but it failed:"
				    " that range was never a live memslot", op->unbacked_sptes,
				    op->first_new_gfn, (gfn_t)(r->memslot.gpa >> PAGE_SHIFT),
				    (uint64_t)(r->memslot.size >> PAGE_SHIFT));
	}
	if (ret || !op->new_sptes || op->new_sptes_epoch != c->epoch)
		return;
	s = slot_sptes_of(c, slot);
	if (s)
		s->count += op->new_sptes;
}

/*
 * Whether this ioctl's slot would take the reference VM past the guest
 * pages it may back (its rmaps and lpage_info are allocated per page, as
 * the kernel's are).  A size the memslot layer refuses before allocating
 * (above KVM_MEM_MAX_NR_PAGES) is left to it: that refusal is judged.
 * The slot's own pages, @old_npages where it exists (a MOVE or a flags
 * change), are replaced, not added: the kernel's nr_memslot_pages grows
 * only by a CREATE.
 */
static bool ref_would_exceed(struct checker *c, const struct kmmu_trace_record *r,
			     uint64_t old_npages)
{
	uint64_t max = c->opts && c->opts->max_guest_pages ? c->opts->max_guest_pages :
		       KMMU_CHECK_MAX_GUEST_PAGES;
	uint64_t npages = r->memslot.size >> PAGE_SHIFT, live = kmmu_memslots_nr_pages(c->ms);

	live -= old_npages < live ? old_npages : live;
	return npages && npages <= KMMU_MEM_MAX_NR_PAGES && live + npages > max;
}

void chk_on_memslot(struct checker *c, const struct kmmu_trace_record *r)
{
	struct memslot_op *op = &c->ops[c->next_op];
	uint32_t slot = r->memslot.slot, old_flags = 0;
	bool had_old, removes;
	gfn_t old_base = 0;
	uint64_t old_npages = 0;
	struct slot_sptes *s;
	int ret;

	chk_gen_note_update(c, r);
	had_old = chk_ref_slot_range(c, slot, &old_base, &old_npages, &old_flags);
	/* DELETE, or MOVE: the old gfns stop being backed. */
	removes = had_old && (!r->memslot.size ||
			      (r->memslot.gpa >> PAGE_SHIFT) != old_base);

	/* The reference still has the old slot: what the kernel left in it. */
	if (removes && !r->memslot.ret && !(slot >> 16))
		chk_ref_judge_removal(c, slot & 0xffff);
	if (ref_would_exceed(c, r, had_old ? old_npages : 0)) {
		c->too_big = true;
		return;
	}
	/*
	 * An address space the VM does not have (a kernel without SMM has
	 * one): __kvm_set_memory_region() refuses it, and every check before
	 * that one fails with EINVAL too.  The reference has two.
	 */
	if (c->nr_as_told && (slot >> 16) >= c->nr_as)
		ret = -EINVAL;
	else
		ret = kmmu_set_memory_region(c->ms, slot, r->memslot.flags, r->memslot.gpa,
					     r->memslot.size, r->memslot.hva);
	if (ret == -ENOMEM && r->memslot.ret != -ENOMEM) {
		/* The reference's metadata, not the kernel: the replay is incomplete. */
		c->oom = true;
		ret = r->memslot.ret;
	}
	c->slots_stamp++;	/* the slots chk_ref_slot_at() found may be gone */
	chk_judge_wrap(c, op);
	c->res->checked[KMMU_PROP_MEMSLOT_RESULT]++;
	if (ret != r->memslot.ret)
		chk_diverge(c, KMMU_PROP_MEMSLOT_RESULT, r->memslot.gpa >> PAGE_SHIFT, true,
			    "the reference returns %d (%s) for this ioctl, the kernel returned %d",
			    ret, ret ? strerror(-ret) : "success", r->memslot.ret);
	if (!ret)
		c->updates++;
	if (!ret && r->memslot.size) {
		if (!c->hva_hi || r->memslot.hva < c->hva_lo)
			c->hva_lo = r->memslot.hva;
		if (r->memslot.hva + r->memslot.size > c->hva_hi)
			c->hva_hi = r->memslot.hva + r->memslot.size;
	}

	s = removes && !ret ? slot_sptes_of(c, slot) : NULL;
	if (s) {
		/* A zap-all in the window reset the count: what it found is what counts. */
		if (s->count || op->sptes_at_zap) {
			c->res->checked[KMMU_PROP_ZAP_ON_REMOVE]++;
			if (!op->zapped)
				chk_diverge(c, KMMU_PROP_ZAP_ON_REMOVE, old_base, true,
					    "slot %u:%u [gfn %#" PRIx64 "+%#" PRIx64 ") had %u"
					    " SPTEs since the last zap, yet nothing was zapped"
					    " while it was removed", slot >> 16, slot & 0xffff,
					    old_base, old_npages, s->count > op->sptes_at_zap ?
					    s->count : op->sptes_at_zap);
		}
		s->count = 0;
	}
	if (removes && !ret && !(slot >> 16))
		chk_shadow_judge_removal(c, slot & 0xffff, old_base, old_npages);
	if (had_old && !removes && !ret && r->memslot.size)
		chk_dirty_log_on_memslot(c, r, old_flags);
	settle_in_flight(c, op, slot, ret);
	/* The window of a zapped removal was watched for late SPTEs. */
	if (removes && !ret && op->zapped)
		c->res->checked[KMMU_PROP_NO_SPTE_AFTER_ZAP]++;
	c->next_op++;
}

/* Marks in-flight DELETE/MOVE ops whose old range a zap covered. */
static void on_zap(struct checker *c, uint64_t ts, bool all, gfn_t gfn)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	int n = chk_ops_in_flight(c, ts, fl, false);

	for (int i = 0; i < n; i++) {
		const struct kmmu_trace_record *r = &c->recs[fl[i]->pos];

		if (all || chk_op_old_covers(c, r, gfn)) {
			if (!fl[i]->zapped) {
				struct slot_sptes *s = slot_sptes_of(c, r->memslot.slot);

				fl[i]->zap_ts = ts;
				if (s)
					fl[i]->sptes_at_zap = s->count;
			}
			fl[i]->zapped = true;
		}
		if (all)
			fl[i]->zapped_all = true;
	}
	if (all) {
		c->epoch++;
		c->last_zap_all_ts = ts;
	}
}

void chk_on_zap_all_fast(struct checker *c, const struct kmmu_trace_record *r)
{
	c->zapper = r->pid;
	c->last_zap_all_cpu = r->cpu;
	on_zap(c, r->ts, true, 0);
	chk_ref_zap_all_fast(c, r);
}

void chk_on_prepare_zap_page(struct checker *c, const struct kmmu_trace_record *r)
{
	on_zap(c, r->ts, false, r->sp.gfn);
}

void chk_on_set_spte(struct checker *c, const struct kmmu_trace_record *r)
{
	gfn_t gfn = r->set_spte.gfn;
	struct memslot_op *fl[MAX_OPS_SEEN];
	struct slot_view v;
	int id, n;

	c->set_sptes++;
	if (c->shadow_drops)
		chk_shadow_on_set_spte(c, r);
	if (!chk_ref_slot_at(c, gfn, &v)) {
		if (chk_gfn_in_transition(c, r->ts, gfn)) {
			if (!(tdp_leaf(r->set_spte.spte, r->set_spte.level) &&
			      chk_huge_in_no_slot(c, r->ts, gfn, r->set_spte.level)))
				attribute_in_flight(c, r->ts, gfn);
			return;
		}
		c->res->checked[KMMU_PROP_SPTE_IN_SLOT]++;
		chk_diverge(c, KMMU_PROP_SPTE_IN_SLOT, gfn, true,
			    "gfn %#" PRIx64 " is in no live memslot: no SPTE may map it", gfn);
		return;
	}
	id = v.id;
	c->res->checked[KMMU_PROP_SPTE_IN_SLOT]++;
	slot_sptes(c, 0, id)->count++;
	/*
	 * mmu_set_spte() traces what it set: a leaf, but its old value is not
	 * told.  A 4K one of a writable slot has nothing more to judge.
	 */
	if (r->set_spte.level > 1 || (v.flags & KMMU_MEM_READONLY)) {
		if (!chk_range_in_transition(c, r->ts, gfn, level_pages(r->set_spte.level)))
			chk_judge_leaf(c, &v, gfn, r->set_spte.level, 0, r->set_spte.spte, true);
		else if (tdp_leaf(r->set_spte.spte, r->set_spte.level))
			chk_huge_in_no_slot(c, r->ts, gfn, r->set_spte.level);
	}
	/* The shadow MMU's installs into the reference (the TDP MMU's: spte.c). */
	if (!c->any_spte_changes && tdp_leaf(r->set_spte.spte, r->set_spte.level) &&
	    !chk_range_in_transition(c, r->ts, gfn, level_pages(r->set_spte.level)))
		chk_ref_install(c, &v, gfn, r->set_spte.level, r->set_spte.spte);

	/* Between the zap of a slot being removed and the end of its removal. */
	n = chk_ops_in_flight(c, r->ts, fl, false);
	for (int i = 0; i < n; i++) {
		const struct kmmu_trace_record *op = &c->recs[fl[i]->pos];

		if (!fl[i]->zapped || (op->memslot.slot & 0xffff) != (uint32_t)id ||
		    (op->memslot.slot >> 16) != 0)
			continue;
		/*
		 * Still backed afterwards: FLAGS_ONLY, or a MOVE overlapping
		 * itself, whose zap came first: the SPTE maps the moved slot.
		 */
		if (chk_op_new_covers(op, gfn)) {
			if (op_moves(c, op))
				op_add_new_spte(c, fl[i], gfn);
			continue;
		}
		chk_diverge(c, KMMU_PROP_NO_SPTE_AFTER_ZAP, gfn, true,
			    "slot 0:%d was zapped at %" PRIu64 ".%09" PRIu64 " for its removal; a"
			    " fault on it must retry until the removal is done, not install an"
			    " SPTE", id, fl[i]->zap_ts / 1000000000, fl[i]->zap_ts % 1000000000);
	}
}

/*
 * A read that exits to userspace traces kvm_mmio twice: READ_UNSATISFIED
 * when KVM decides it is MMIO, READ when userspace's data is completed on
 * the next KVM_RUN -- by then a slot may exist.  The decision is what is
 * judged; the completion is matched by vCPU thread and gpa.
 */
void chk_on_mmio(struct checker *c, const struct kmmu_trace_record *r)
{
	gfn_t gfn = r->mmio.gpa >> PAGE_SHIFT;
	struct task_ctx *t;
	uint32_t flags;
	int id;

	if (r->mmio.type == KVM_TRACE_MMIO_READ_UNSATISFIED) {
		t = chk_task(c, r->pid, true);
		if (t) {
			t->read_pending = true;
			t->read_gpa = r->mmio.gpa;
		}
	} else if (r->mmio.type == KVM_TRACE_MMIO_READ) {
		t = chk_task(c, r->pid, false);
		if (t && t->read_pending && t->read_gpa == r->mmio.gpa) {
			t->read_pending = false;	/* the completion of a judged read */
			return;
		}
	}

	if (!chk_ref_gfn_slot(c, gfn, &id, &flags))
		goto ok;
	/* A write to a read-only slot is emulated as MMIO by design. */
	if ((flags & KMMU_MEM_READONLY) && r->mmio.type == KVM_TRACE_MMIO_WRITE)
		goto ok;
	if (chk_gfn_in_transition(c, r->ts, gfn))
		return;
	c->res->checked[KMMU_PROP_MMIO_UNBACKED]++;
	chk_diverge(c, KMMU_PROP_MMIO_UNBACKED, gfn, true,
		    "gpa %#" PRIx64 " lies in live memslot 0:%d: the access must go to RAM, not"
		    " be emulated as MMIO", r->mmio.gpa, id);
	return;
ok:
	c->res->checked[KMMU_PROP_MMIO_UNBACKED]++;
}
