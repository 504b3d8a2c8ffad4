// SPDX-License-Identifier: GPL-2.0
/*
 * SPTE_HISTORY: each traced change of a TDP MMU SPTE (leaf or page table)
 * starts from what the previous traced change of it left, up to what KVM
 * changes untraced (the CPU's Accessed/Dirty, fast_page_fault()'s
 * Writable, other tasks' aging and unmaps, logged here), judged where the
 * trace names one SPTE and not reported where the per-CPU clocks' skew
 * explains the mismatch; and no key is installed twice into the new root
 * after a zap-all, unless an untraced unmap may have removed it between.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "replay.h"

/*
 * Whether the trace can miss SPTE changes of the test's VM: the session's
 * page stats record (the run's last) says if other tasks' notifier calls
 * or the NX huge page recovery thread may have changed SPTEs untraced.
 * Looked up once, from the end.
 */
const char *chk_history_gaps(struct checker *c)
{
	for (uint64_t i = c->nr; i-- > 0;) {
		const struct kmmu_trace_record *r = &c->recs[i];
		const char *gap;

		if (r->type != KMMU_ACT_STATS)
			continue;
		gap = chk_stats_gap(r);
		if (gap)
			return gap;
		if (r->stats.nr_vms != 1)
			return "not exactly one VM: SPTE changes name no VM";
		return NULL;
	}
	return "no page stats record: whether other tasks changed SPTEs is unknown";
}

/* Appends gfns [lo, hi) of @as_id to the untraced unmap log; false when out of memory. */
static bool unmap_log_add(struct checker *c, unsigned int as_id, gfn_t lo, gfn_t hi, uint64_t ts)
{
	if (kmmu_grow(&c->unmap_log, &c->unmap_log_cap, c->nr_unmap_log, 1, 1024))
		return false;
	c->unmap_log[c->nr_unmap_log].lo = lo;
	c->unmap_log[c->nr_unmap_log].hi = hi;
	c->unmap_log[c->nr_unmap_log].ts = ts;
	c->unmap_log[c->nr_unmap_log].as_id = as_id;
	c->nr_unmap_log++;
	return true;
}

/* Told gfns [@lo, @hi) of @as_id an untraced unmap hits; true stops the walk. */
typedef bool unmapped_fn(struct checker *c, unsigned int as_id, gfn_t lo, gfn_t hi,
			 uint64_t ts, void *arg);

/* @fn on the gfns of a slot (@as_id, @base, @hva, @npages) the unmap @u hits, if any. */
static bool unmapped_slot(struct checker *c, unsigned int as_id, gfn_t base, uint64_t hva,
			  uint64_t npages, const struct kmmu_trace_record *u, unmapped_fn *fn,
			  void *arg)
{
	gfn_t lo, hi;

	return chk_hva_range_gfns(base, hva, npages, u->hva_range.start, u->hva_range.end, &lo,
				  &hi) && fn(c, as_id, lo, hi, u->ts, arg);
}

/*
 * @fn on the gfns the untraced unmap @u may hit, in every address space
 * (__kvm_handle_hva_range() walks the slots of each): through the ioctls
 * in flight at its time, their new slots, and the reference's slots;
 * until @fn returns true, and whether it did.
 */
static bool walk_unmapped(struct checker *c, const struct kmmu_trace_record *u,
			  unmapped_fn *fn, void *arg)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	struct kmmu_memory_slot *s;
	bool stop = false;
	int n;

	n = chk_ops_in_flight(c, u->ts, fl, true);
	for (int i = 0; i < n && !stop; i++) {
		const struct kmmu_trace_record *op = &c->recs[fl[i]->pos];

		if ((op->memslot.slot >> 16) < KMMU_ADDRESS_SPACE_NUM)
			stop = unmapped_slot(c, op->memslot.slot >> 16, op->memslot.gpa >> PAGE_SHIFT,
					     op->memslot.hva, op->memslot.size >> PAGE_SHIFT, u,
					     fn, arg);
	}
	urcu_memb_read_lock();
	for (unsigned int as = 0; as < KMMU_ADDRESS_SPACE_NUM && !stop; as++)
		kmmu_for_each_memslot_in_hva_range(s, kmmu_memslots_active(c->ms, as),
						   u->hva_range.start, u->hva_range.end) {
			if (stop)
				break;
			stop = unmapped_slot(c, as, s->base_gfn, s->userspace_addr, s->npages, u,
					     fn, arg);
		}
	urcu_memb_read_unlock();
	return stop;
}

static bool log_failed(struct checker *c, unsigned int as_id, gfn_t lo, gfn_t hi, uint64_t ts,
		       void *arg)
{
	return !unmap_log_add(c, as_id, lo, hi, ts);
}

/*
 * An untraced unmap (another task's notifier call) zaps SPTEs the trace
 * does not show: the gfns it covers, for chk_judge_history().  Out of
 * memory: history is not judged any more.
 */
void chk_log_untraced_unmap(struct checker *c, const struct kmmu_trace_record *r)
{
	if (untraced_unmap_of_guest(c, r) && !c->no_history && walk_unmapped(c, r, log_failed, NULL))
		c->no_history = "out of memory";
}

/*
 * A notifier call is traced before it takes mmu_lock (and the task may be
 * preempted in between), so a fault may still install the SPTE after the
 * event and before its zap: unmaps this long before a change count too.
 */
#define UNMAP_LATENCY_NS	1000000000ULL

/*
 * The index of the first of the @nr entries of @size bytes at @base, sorted
 * by the uint64_t timestamp @ts_off bytes into each, stamped at or after
 * @from; @nr if there is none.
 */
static uint64_t first_since(const void *base, uint64_t nr, size_t size, size_t ts_off,
			    uint64_t from)
{
	uint64_t lo = 0, hi = nr, ts;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		memcpy(&ts, (const char *)base + mid * size + ts_off, sizeof(ts));
		if (ts < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * May an untraced unmap have zapped the SPTE (@as_id, @gfn, @level) since
 * its last traced change at @since?  Too many to look at: assume so.
 */
bool chk_unmap_may_explain(struct checker *c, uint64_t since, unsigned int as_id, gfn_t gfn,
			   unsigned int level)
{
	uint64_t from_ts = since > UNMAP_LATENCY_NS ? since - UNMAP_LATENCY_NS : 0;
	uint32_t from = first_since(c->unmap_log, c->nr_unmap_log, sizeof(*c->unmap_log),
				    offsetof(struct untraced_unmap, ts), from_ts);
	gfn_t end = gfn + level_pages(level);

	if (c->nr_unmap_log - from > 256)
		return true;
	for (uint32_t i = from; i < c->nr_unmap_log; i++)
		if (c->unmap_log[i].as_id == as_id && c->unmap_log[i].lo < end &&
		    gfn < c->unmap_log[i].hi)
			return true;
	return false;
}

/*
 * The per-CPU trace buffers are stamped by each CPU's clock, and a guest
 * without a stable TSC (QEMU's TCG) stamps them milliseconds apart: seen,
 * a change sorted 4.5 ms before the install it changed.  Changes of one
 * key from different CPUs closer than this may be out of order.
 */
#define CPU_SKEW_NS	1000000000ULL

#define SKEW_SCAN_MAX	(1ULL << 20)	/* records looked at each way */

/*
 * How far apart a zap-all and an install on another CPU must be stamped
 * for the order to be sure: twice the worst skew seen (4.5 ms above).  Not
 * CPU_SKEW_NS: a churn run zaps all every few tens of milliseconds, and a
 * second install into one root would never be judged across CPUs.
 */
#define ZAP_ALL_SKEW_NS	10000000ULL

static bool same_key(const struct kmmu_trace_record *a, const struct kmmu_trace_record *b)
{
	return a->type == KMMU_EV_SPTE_CHANGED && a->spte_changed.gfn == b->spte_changed.gfn &&
	       a->spte_changed.level == b->spte_changed.level &&
	       a->spte_changed.as_id == b->spte_changed.as_id;
}

/*
 * Is there a change of @r's SPTE within CPU_SKEW_NS of @ts that left what
 * @r starts from, and that may really have come last before @r: from
 * another CPU than @r's (any order), or from @r's own CPU before @r (that
 * CPU's order is sure; the change may still have followed @p, the one
 * sorted last, from another CPU), and not before @p on @p's CPU?  Too many
 * records to look at: assume so.
 */
static bool other_cpu_explains(struct checker *c, const struct kmmu_trace_record *r,
			       const struct kmmu_trace_record *p, uint64_t ts)
{
	uint64_t from = ts > CPU_SKEW_NS ? ts - CPU_SKEW_NS : 0;
	uint64_t lo = first_since(c->recs, c->nr, sizeof(*c->recs),
				  offsetof(struct kmmu_trace_record, ts), from);

	for (uint64_t n = 0; lo < c->nr && c->recs[lo].ts <= ts + CPU_SKEW_NS; lo++) {
		const struct kmmu_trace_record *x = &c->recs[lo];

		if (++n > SKEW_SCAN_MAX)
			return true;
		if (same_key(x, r) && x != r && x != p && (x->cpu != r->cpu || x->ts < r->ts) &&
		    (x->cpu != p->cpu || x->ts > p->ts) &&
		    x->spte_changed.new_spte == r->spte_changed.old_spte)
			return true;
	}
	return false;
}

struct key_gfns {
	unsigned int as_id;
	gfn_t gfn, end;
};

static bool hits_key(struct checker *c, unsigned int as_id, gfn_t lo, gfn_t hi, uint64_t ts,
		     void *arg)
{
	const struct key_gfns *k = arg;

	return as_id == k->as_id && lo < k->end && k->gfn < hi;
}

/*
 * Is there an untraced unmap of @r's gfns from another CPU than @r's,
 * sorted after @r within CPU_SKEW_NS: @r may really have followed the
 * zap it made?  Too many records to look at: assume so.
 */
static bool unmap_sorted_after(struct checker *c, const struct kmmu_trace_record *r)
{
	struct key_gfns k = { r->spte_changed.as_id, r->spte_changed.gfn,
			      r->spte_changed.gfn + level_pages(r->spte_changed.level) };
	uint64_t n = 0;

	for (uint64_t i = c->pos + 1; i < c->nr && c->recs[i].ts <= r->ts + CPU_SKEW_NS; i++) {
		const struct kmmu_trace_record *u = &c->recs[i];

		if (++n > SKEW_SCAN_MAX)
			return true;
		if (u->type == KMMU_EV_UNMAP_HVA_RANGE && u->cpu != r->cpu &&
		    untraced_unmap_of_guest(c, u) && walk_unmapped(c, u, hits_key, &k))
			return true;
	}
	return false;
}

/*
 * Is there a kvm_mmu_zap_all_fast from another CPU than @r's sorted after
 * @r within ZAP_ALL_SKEW_NS: @r, an install, may really have followed it,
 * into the new root it made?  Too many records to look at: assume so.
 */
static bool zap_all_sorted_after(struct checker *c, const struct kmmu_trace_record *r)
{
	uint64_t n = 0;

	for (uint64_t i = c->pos + 1; i < c->nr && c->recs[i].ts <= r->ts + ZAP_ALL_SKEW_NS; i++) {
		if (++n > SKEW_SCAN_MAX)
			return true;
		if (c->recs[i].type == KMMU_EV_ZAP_ALL_FAST && c->recs[i].cpu != r->cpu)
			return true;
	}
	return false;
}

/*
 * Before reporting that @r does not start from what the change at @prev
 * left: can the per-CPU clocks' skew explain it?  When @r really came
 * before @prev (@prev starts from what @r left), or after another CPU's
 * change of the SPTE sorted elsewhere that left what @r starts from, or,
 * starting from no SPTE, after another CPU's untraced unmap or zap-all
 * sorted after it.  Looked at only then: divergences are rare.
 */
static bool order_unsure(struct checker *c, const struct kmmu_trace_record *r, uint64_t prev)
{
	const struct kmmu_trace_record *p = &c->recs[prev];

	if (p->cpu != r->cpu && r->ts - p->ts < CPU_SKEW_NS &&
	    p->spte_changed.old_spte == r->spte_changed.new_spte)
		return true;
	return other_cpu_explains(c, r, p, p->ts) || other_cpu_explains(c, r, p, r->ts) ||
	       (!spte_present(r->spte_changed.old_spte) &&
		(unmap_sorted_after(c, r) || zap_all_sorted_after(c, r)));
}

/*
 * The change @r must start from @last, up to what KVM changes untraced
 * (see chk_judge_history()).
 */
static void compare_history(struct checker *c, const struct kmmu_trace_record *r, uint64_t last,
			    uint64_t prev, bool table)
{
	const uint64_t old = r->spte_changed.old_spte;
	uint64_t a, d, may_set, lost, gained;

	if (ad_disabled(last) || !chk_ad_masks(c, &a, &d))
		return;
	may_set = a | d;
	if (!table && (last & chk_mmu_writable_mask(c)))
		may_set |= KMMU_PT_WRITABLE_MASK;
	lost = last & ~old & ~a;
	gained = old & ~last & ~may_set;
	if ((lost || gained) && order_unsure(c, r, prev))
		return;
	c->res->checked[KMMU_PROP_SPTE_HISTORY]++;
	if (lost || gained)
		chk_diverge(c, KMMU_PROP_SPTE_HISTORY, r->spte_changed.gfn, true,
			    "old SPTE %#" PRIx64 " (level %u): the previous traced change of this"
			    " SPTE left %#" PRIx64 ", and since then only the CPU (Accessed,"
			    " Dirty), fast_page_fault() (Writable) and other tasks' aging"
			    " (Accessed) change it untraced; bits %#" PRIx64 " lost, %#" PRIx64
			    " gained", old, r->spte_changed.level, last, lost, gained);
}

/*
 * Did the change @r surely come after the last zap-all, into the new root?
 * Stamped after it on the zap-all's CPU, or later than the per-CPU
 * clocks' skew allows on another: one stamped on another CPU closer than
 * that may have come before it, into the old root.
 */
static bool after_zap_all(struct checker *c, const struct kmmu_trace_record *r)
{
	return r->ts > c->last_zap_all_ts &&
	       (r->cpu == c->last_zap_all_cpu || r->ts - c->last_zap_all_ts > ZAP_ALL_SKEW_NS);
}

/*
 * SPTE_HISTORY: a key (as_id, level, gfn) whose one live leaf (or, with
 * @table, page-table SPTE) the trace saw last changed must be changed
 * next from what that change left.  The
 * key names one SPTE when the trace has one VM (events name none): a
 * change from a leaf changes that one; another (an install) may be in a
 * second root after a memslot ioctl's zap-all, until it returns, and is
 * then not judged: a VM has one TDP root per address space (roots are
 * invalidated only by kvm_mmu_zap_all_fast() and at VM teardown, and
 * kept while valid), and the ioctl whose zap-all invalidated them zaps
 * the old root before it returns, in its own task.  Between two traced changes the TDP MMU
 * changes an SPTE untraced only so: the CPU sets Accessed and Dirty,
 * fast_page_fault() sets Writable on an MMU-writable SPTE, or restores an
 * access-tracked one (A/D disabled: not judged), and other tasks' notifier
 * calls, which the trace lacks, clear Accessed (aging: not captured at
 * all) or zap the leaf (unmaps: logged, see chk_unmap_may_explain()).  Every
 * other write, every zap included, goes through handle_changed_spte() and
 * is traced (6.1 and 6.12).
 */
bool chk_judge_history(struct checker *c, const struct kmmu_trace_record *r,
		       const struct leaf *l, bool table)
{
	const uint64_t old = r->spte_changed.old_spte;
	struct memslot_op *fl[MAX_OPS_SEEN];
	uint64_t a, d;

	/*
	 * No live leaf counted, but the last traced change is known: it left a
	 * leaf whose install the trace lacks (made before it began, or sorted
	 * after the change by the clocks' skew), and an install over it does
	 * not start from it; or it dropped the key's one leaf, and a change
	 * from a present leaf must not follow (only faults install one, all
	 * traced).  Installs after a drop are not judged so: a zap's
	 * REMOVED_SPTE is cleared untraced.
	 */
	bool known = l && !l->live && l->last_pos && !table &&
		     (spte_present(l->last) || tdp_leaf(old, r->spte_changed.level));

	if (!l || (l->live != 1 && !known) || !l->last_pos || c->vm_creates != 1 ||
	    c->no_history || ad_disabled(l->last) || !chk_ad_masks(c, &a, &d))
		return false;
	/*
	 * A change from a leaf changes the one live leaf of the key, whatever
	 * the roots; another change may be a second root's, once a zap-all
	 * of an ioctl in flight made one, unless the live leaf was itself
	 * installed after the zap-all: only into the new root, as faults
	 * retry on an invalid one.
	 */
	if (!tdp_kind(old, r->spte_changed.level, table)) {
		const struct kmmu_trace_record *prev = &c->recs[l->last_pos - 1];
		bool new_root = after_zap_all(c, prev) &&
				!tdp_kind(prev->spte_changed.old_spte, prev->spte_changed.level,
					  table);
		int n = new_root ? 0 : chk_ops_in_flight(c, r->ts, fl, true);

		for (int i = 0; i < n; i++)
			if (fl[i]->zapped_all)
				return false;
	}
	if (!spte_present(old) &&
	    chk_unmap_may_explain(c, c->recs[l->last_pos - 1].ts, r->spte_changed.as_id,
				  r->spte_changed.gfn, r->spte_changed.level))
		return false;
	compare_history(c, r, l->last, l->last_pos - 1, table);
	return true;
}

/*
 * While a memslot ioctl's zap-all may have left a second root, installs
 * go only to the new one (faults retry on an invalid root), and the
 * zapping task's removals are the old root's (it zaps the invalidated
 * roots before it returns).  So a key installed twice since the zap-all,
 * with no other task's removal in between, was installed twice in one
 * root: SPTE_HISTORY, where chk_judge_history() could not tell the roots
 * apart.  Other tasks' unmaps remove leaves untraced, in every root
 * (kvm_tdp_mmu_unmap_gfn_range() walks the invalid ones too): a second
 * install one of them may explain is not judged.  Seen on a clean 6.1:
 * khugepaged collapsed the 2M of host memory under a vCPU's new-root
 * leaves while the ioctl still zapped the old root, and the vCPU faulted
 * them in again on the new page.  @was and @is: the change's old and new
 * SPTE are of the key's kind.
 */
void chk_judge_reinstall(struct checker *c, const struct kmmu_trace_record *r,
			 struct leaf *l, bool was, bool is, bool judged)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	bool window = false;
	int n;

	if (!l || was == is)
		return;
	n = c->last_zap_all_ts ? chk_ops_in_flight(c, r->ts, fl, true) : 0;
	for (int i = 0; i < n; i++)
		window |= fl[i]->zapped_all;
	if (was) {
		if (!window || r->pid != c->zapper)
			l->inst_pos = 0;
		return;
	}
	if (window && !judged && l->inst_pos && c->vm_creates == 1 && !c->no_history &&
	    after_zap_all(c, &c->recs[l->inst_pos - 1]) && r->ts > c->last_zap_all_ts &&
	    !chk_unmap_may_explain(c, c->recs[l->inst_pos - 1].ts, r->spte_changed.as_id,
				   r->spte_changed.gfn, r->spte_changed.level) &&
	    !order_unsure(c, r, l->inst_pos - 1)) {
		c->res->checked[KMMU_PROP_SPTE_HISTORY]++;
		chk_diverge(c, KMMU_PROP_SPTE_HISTORY, r->spte_changed.gfn, true,
			    "installed (level %u) a second time since the zap-all at %" PRIu64
			    ".%09" PRIu64 ", with no removal by another task than the zapping one"
			    " in between, traced or an untraced unmap: after a zap-all every"
			    " install goes to the new root",
			    r->spte_changed.level, c->last_zap_all_ts / 1000000000,
			    c->last_zap_all_ts % 1000000000);
	}
	l->inst_pos = c->pos + 1;
}

/* After a change of @l's key: is its one live leaf known? */
void chk_note_history(struct checker *c, const struct kmmu_trace_record *r, struct leaf *l,
		      bool is_leaf)
{
	if (!l)
		return;
	l->last = r->spte_changed.new_spte;
	l->last_pos = is_leaf && l->live == 1 ? c->pos + 1 : 0;
	/*
	 * None counted live after a leaf's change in place (its install not
	 * in the trace) or its drop: what the next change starts from is
	 * known all the same.  Not after a huge leaf split into a page table:
	 * the key's next leaf follows that table's drop, a table change this
	 * history does not note.
	 */
	if (!l->live && (is_leaf || (tdp_leaf(r->spte_changed.old_spte, r->spte_changed.level) &&
				     !spte_present(r->spte_changed.new_spte))))
		l->last_pos = c->pos + 1;
}
