// SPDX-License-Identifier: GPL-2.0
/*
 * Traces of several VMs: the ioctl interposer numbers each KVM_CREATE_VM
 * (vm.id 1, 2, ...), puts the number in every memslot record of the VM and
 * logs the close of the VM's fd.  Slot ids repeat across VMs and a new VM
 * starts from nothing (no slots, no SPTEs, generation and mmu_valid_gen 0),
 * so each VM gets a replay of its own, into a fresh reference VM: this
 * file splits the trace into one history per VM and replays each
 * (chk_replay()), adding their judgements into one result.
 *
 * The kernel's events carry no VM; they go to a VM by when they happened:
 *  - while one VM is live (created, not yet closed by the VMM), to it;
 *  - while none is, to the VM closed last: the kernel tears a VM down at
 *    its last reference, after the VMM's close;
 *  - while one is live and the VM closed before it is torn down, a drop
 *    or zap the live VM cannot have made (an SPTE change from a value only
 *    the old VM's SPTE had at its key; a shadow page zap or shadow SPTE
 *    clear before the live VM installed any SPTE; an unmap of host memory
 *    only the old VM's slots held) to the old VM;
 *  - while two or more are live, to none: the properties that need the VM
 *    of a kernel event are NOT CHECKABLE for the VMs live then, from then
 *    on (their models miss what happened), with the reason.  Each VM's
 *    memslot ioctls carry their VM, so MEMSLOT_RESULT is judged for all.
 * Records before the first VM's create go to it.  The run's KMMU_ACT_HOST
 * goes to every VM.  A page stats record the interposer read of one VM
 * names it (stats.vm) and goes to that VM, like its memslot ioctls and
 * dirty-log ioctls; one without a number goes by when it happened.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

static const char bad_numbers[] = "the trace's VM numbers are inconsistent (not 1, 2, ... in"
	" order of creation, or a VM closed twice, or an ioctl or page stats of a VM never"
	" created)";
static const char overlap_two[] = "kernel events carry no VM and 2 VMs were live";
static const char overlap_more[] = "kernel events carry no VM and 3 or more VMs were live";

/* An SPTE of a VM's history as the split saw it last: key (as_id, level, gfn). */
struct vm_spte {
	uint64_t key;			/* spte_key(); 0: free */
	uint64_t spte;			/* its value; 0: none */
};

/* One VM's history, and what the split needs to know of it. */
struct vm_history {
	struct kmmu_trace_record *recs;
	uint64_t nr, cap;
	bool created, closed;
	bool blind;			/* two VMs were live at blind_ts: its events are lost */
	uint64_t blind_ts;
	uint64_t nr_ops;		/* its memslot records */
	uint64_t installs;		/* SPTEs it installed */
	uint64_t hva_lo, hva_hi;	/* its slots' host memory lies in here; hi 0: none */
	struct chk_table sptes;		/* of struct vm_spte */
};

static int history_add(struct vm_history *h, const struct kmmu_trace_record *r)
{
	if (kmmu_grow(&h->recs, &h->cap, h->nr, 1, 256))
		return -ENOMEM;
	h->recs[h->nr++] = *r;
	return 0;
}

static uint64_t spte_key(const struct kmmu_trace_record *r)
{
	return (r->spte_changed.gfn << 8 | (uint64_t)r->spte_changed.as_id << 4 |
		r->spte_changed.level) + 1;
}

/* What @r, given to @h, tells of the SPTEs and memory @h has. */
static int history_note(struct vm_history *h, const struct kmmu_trace_record *r)
{
	struct vm_spte *s;

	switch (r->type) {
	case KMMU_EV_SPTE_CHANGED:
		s = chk_table_get(&h->sptes, spte_key(r));
		if (!s)
			return -ENOMEM;
		s->spte = r->spte_changed.new_spte;
		h->installs += r->spte_changed.new_spte != 0;
		break;
	case KMMU_EV_SET_SPTE:
		h->installs++;
		break;
	case KMMU_ACT_SET_MEMSLOT:
		if (r->memslot.ret || !r->memslot.size)
			break;
		if (!h->hva_hi || r->memslot.hva < h->hva_lo)
			h->hva_lo = r->memslot.hva;
		if (r->memslot.hva + r->memslot.size > h->hva_hi)
			h->hva_hi = r->memslot.hva + r->memslot.size;
		break;
	}
	return 0;
}

static uint64_t spte_of(struct vm_history *h, const struct kmmu_trace_record *r)
{
	struct vm_spte *s = chk_table_find(&h->sptes, spte_key(r));

	return s ? s->spte : 0;
}

static bool hva_overlaps(const struct vm_history *h, const struct kmmu_trace_record *r)
{
	return h->hva_hi && r->hva_range.start < h->hva_hi && h->hva_lo < r->hva_range.end;
}

/* Whether @r, while @live is the one live VM, is the teardown of @old instead. */
static bool tears_down(struct vm_history *old, struct vm_history *live,
		       const struct kmmu_trace_record *r)
{
	uint64_t was;

	switch (r->type) {
	case KMMU_EV_SPTE_CHANGED:
		was = r->spte_changed.old_spte;
		return was && spte_of(old, r) == was && spte_of(live, r) != was;
	case KMMU_EV_PREPARE_ZAP_PAGE:
	case KMMU_EV_SHADOW_SPTE_CLEAR:
		return !live->installs;
	case KMMU_EV_UNMAP_HVA_RANGE:
		return hva_overlaps(old, r) && !hva_overlaps(live, r);
	default:
		return false;
	}
}

/* The VM number a dirty-log ioctl's record carries (0: unknown). */
static uint32_t dirty_log_vm(const struct kmmu_trace_record *r)
{
	return r->type == KMMU_ACT_DIRTY_LOG_PROTECT ? r->protect_cap.vm : r->dirty_log.vm;
}

/*
 * Splits @recs into @vms[1..nr_vms] (the ids exist); the most VMs live at
 * once.  -EINVAL: a VM closed twice, or an ioctl of one not yet created.
 */
static int split(const struct kmmu_trace_record *recs, uint64_t nr, struct vm_history *vms,
		 uint32_t nr_vms, struct vm_history *pre, unsigned int *most_live)
{
	struct vm_history *live = NULL, *old = NULL, *to;
	unsigned int nr_live = 0;
	int ret;

	*most_live = 0;
	for (uint64_t i = 0; i < nr; i++) {
		const struct kmmu_trace_record *r = &recs[i];
		struct vm_history *h = NULL;

		switch (r->type) {
		case KMMU_ACT_HOST:
			/* Every VM's: to those created, and to those to come by pre. */
			for (uint32_t v = 1; v <= nr_vms; v++)
				if (vms[v].created && (ret = history_add(&vms[v], r)))
					return ret;
			if ((ret = history_add(pre, r)))
				return ret;
			continue;
		case KMMU_ACT_VM_CREATE:
			h = &vms[r->vm.id];
			if (h->created)
				return -EINVAL;		/* one create per number */
			h->created = true;
			/* What came before the first VM, and the run's host records. */
			for (uint64_t k = 0; k < pre->nr; k++)
				if ((!live && !old && !nr_live) || pre->recs[k].type == KMMU_ACT_HOST)
					if ((ret = history_add(h, &pre->recs[k])))
						return ret;
			if (++nr_live > *most_live)
				*most_live = nr_live;
			if (nr_live > 1) {
				for (uint32_t v = 1; v <= nr_vms; v++)
					if (vms[v].created && !vms[v].closed && !vms[v].blind) {
						vms[v].blind = true;
						vms[v].blind_ts = r->ts;
					}
			}
			live = h;
			ret = history_add(h, r);
			if (ret)
				return ret;
			continue;
		case KMMU_ACT_VM_CLOSE:
			h = &vms[r->vm.id];
			if (!h->created || h->closed)
				return -EINVAL;
			h->closed = true;
			nr_live--;
			old = h;
			live = NULL;
			for (uint32_t v = 1; v <= nr_vms && nr_live == 1; v++)
				if (vms[v].created && !vms[v].closed)
					live = &vms[v];
			ret = history_add(h, r);
			if (ret)
				return ret;
			continue;
		case KMMU_ACT_SET_MEMSLOT:
			if (r->memslot.vm) {
				h = &vms[r->memslot.vm];
				/* Stamped at its return: a close racing with it may come first. */
				if (!h->created)
					return -EINVAL;
				h->nr_ops++;
				if ((ret = history_add(h, r)) || (ret = history_note(h, r)))
					return ret;
				continue;
			}
			break;
		case KMMU_ACT_GET_DIRTY_LOG:
		case KMMU_ACT_CLEAR_DIRTY_LOG:
		case KMMU_ACT_DIRTY_LOG_PROTECT:
			if (dirty_log_vm(r)) {
				h = &vms[dirty_log_vm(r)];
				/* Like a memslot ioctl: a close racing with it may come first. */
				if (!h->created)
					return -EINVAL;
				if ((ret = history_add(h, r)))
					return ret;
				continue;
			}
			break;
		case KMMU_ACT_STATS:
			if (r->stats.vm) {
				h = &vms[r->stats.vm];
				/* Read before the VM's close, by its VMM. */
				if (!h->created || h->closed)
					return -EINVAL;
				if ((ret = history_add(h, r)))
					return ret;
				continue;
			}
			break;
		}
		/* A record of no known VM: by when it happened. */
		if (nr_live > 1)
			continue;
		if (nr_live == 1)
			to = old && !old->blind && tears_down(old, live, r) ? old : live;
		else
			to = old ? old : pre;
		if (to->blind)
			continue;
		to->nr_ops += r->type == KMMU_ACT_SET_MEMSLOT;
		if ((ret = history_add(to, r)) || (ret = history_note(to, r)))
			return ret;
	}
	return 0;
}

/*
 * A VM whose events were lost from @h->blind_ts on: its history up to then
 * is judged in full, its memslot ioctls (which carry their VM) for
 * MEMSLOT_RESULT all through.
 */
static int replay_blind(struct vm_history *h, uint32_t vm_id,
			const struct kmmu_checker_opts *opts, struct kmmu_check_result *res)
{
	struct vm_history ops = { 0 };
	uint64_t before = 0;
	int ret;

	while (before < h->nr && h->recs[before].ts < h->blind_ts)
		before++;
	ret = chk_replay(h->recs, before, opts, res,
			 CHK_JUDGE_ALL & ~(1u << KMMU_PROP_MEMSLOT_RESULT), vm_id);
	for (uint64_t i = 0; !ret && i < h->nr; i++) {
		unsigned int t = h->recs[i].type;

		if (t == KMMU_ACT_SET_MEMSLOT || t == KMMU_ACT_VM_CREATE || t == KMMU_ACT_HOST)
			ret = history_add(&ops, &h->recs[i]);
	}
	if (!ret)
		ret = chk_replay(ops.recs, ops.nr, opts, res, 1u << KMMU_PROP_MEMSLOT_RESULT,
				 vm_id);
	free(ops.recs);
	return ret;
}

/*
 * Numbers no interposer writes (a trace pieced together, a corrupted one):
 * which VM an ioctl is of is not known, and one model would misjudge a
 * trace of several VMs.  Nothing is judged, every property says why.
 */
static int unusable_numbers(struct kmmu_check_result *res)
{
	for (int p = 0; p < KMMU_PROP_NR; p++)
		res->not_checkable[p] = bad_numbers;
	return 0;
}

int chk_check_vms(const struct kmmu_trace_record *recs, uint64_t nr,
		  const struct kmmu_checker_opts *opts, struct kmmu_check_result *res)
{
	struct vm_history *vms, pre = { .sptes.esize = sizeof(struct vm_spte) };
	uint32_t nr_vms = 0;
	unsigned int most_live;
	bool any_ops = false, any_blind = false;
	int ret = 0;

	/* chk_replay() validated the records: these are the numbers' own checks. */
	for (uint64_t i = 0; i < nr; i++) {
		/* Numbered in order of creation: a trace with one numbered, all are. */
		if (recs[i].type == KMMU_ACT_VM_CREATE && recs[i].vm.id != ++nr_vms)
			return unusable_numbers(res);
	}
	for (uint64_t i = 0; i < nr; i++) {
		if ((recs[i].type == KMMU_ACT_VM_CLOSE && (!recs[i].vm.id || recs[i].vm.id > nr_vms)) ||
		    (recs[i].type == KMMU_ACT_SET_MEMSLOT && recs[i].memslot.vm > nr_vms) ||
		    (recs[i].type == KMMU_ACT_STATS && recs[i].stats.vm > nr_vms) ||
		    ((recs[i].type == KMMU_ACT_GET_DIRTY_LOG ||
		      recs[i].type == KMMU_ACT_CLEAR_DIRTY_LOG ||
		      recs[i].type == KMMU_ACT_DIRTY_LOG_PROTECT) && dirty_log_vm(&recs[i]) > nr_vms))
			return unusable_numbers(res);
	}
	vms = calloc(nr_vms + 1, sizeof(*vms));
	if (!vms)
		return -ENOMEM;
	for (uint32_t v = 0; v <= nr_vms; v++)
		vms[v].sptes.esize = sizeof(struct vm_spte);
	ret = split(recs, nr, vms, nr_vms, &pre, &most_live);
	if (ret == -EINVAL) {
		ret = unusable_numbers(res);
		goto out;
	}

	for (uint32_t v = 1; !ret && v <= nr_vms; v++) {
		struct vm_history *h = &vms[v];

		any_ops |= h->nr_ops != 0;
		any_blind |= h->blind;
		if (h->blind)
			ret = replay_blind(h, v, opts, res);
		else
			ret = chk_replay(h->recs, h->nr, opts, res, CHK_JUDGE_ALL, v);
	}
	if (!ret) {
		res->no_actions = !any_ops;
		for (int p = 0; p < KMMU_PROP_NR && any_blind; p++)
			if (p != KMMU_PROP_MEMSLOT_RESULT)
				res->not_checkable[p] = most_live > 2 ? overlap_more : overlap_two;
	}
out:
	for (uint32_t v = 0; v <= nr_vms; v++) {
		free(vms[v].recs);
		chk_table_free(&vms[v].sptes);
	}
	free(vms);
	free(pre.recs);
	chk_table_free(&pre.sptes);
	return ret;
}
