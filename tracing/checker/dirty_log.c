// SPDX-License-Identifier: GPL-2.0
/*
 * DIRTY_LOG_PROTECT: dirty logging write-protects a slot's writable leaves
 * where KVM must (6.1: kvm_mmu_slot_apply_flags(), kvm_get_dirty_log_protect(),
 * kvm_clear_dirty_log_protect(), kvm_arch_mmu_enable_log_dirty_pt_masked()),
 * and its ioctls write-protect nothing else.  From the test's records of
 * the dirty-log ioctls (KMMU_ACT_GET_DIRTY_LOG, _CLEAR_DIRTY_LOG,
 * _DIRTY_LOG_PROTECT: the manual-protect capability) and of the memslot
 * ioctls, and the TDP MMU's SPTE changes, which trace every write-protect
 * (wrprot_gfn_range(), clear_dirty_pt_masked()) and every drop.
 *
 * Must protect (where the host has no PML: SVM, PVM; with PML, VMX only,
 * KVM clears Dirty bits instead and the trace does not say whether PML was
 * on):
 *  - a FLAGS_ONLY update that turns KVM_MEM_LOG_DIRTY_PAGES on (not
 *    read-only) leaves no leaf of the slot, at any level, writable that was
 *    writable when it was issued: write-protected or dropped (a split huge
 *    page is dropped) by its return; unless manual protect with
 *    KVM_DIRTY_LOG_INITIALLY_SET is on, where KVM protects nothing then;
 *  - a KVM_GET_DIRTY_LOG that returns 0 without manual protect does the
 *    same for the slot's 4K leaves: a leaf made writable under dirty
 *    logging was marked dirty then (make_spte(), fast_page_fault()), so it
 *    is harvested and re-protected (huge leaves are not touched by the
 *    harvest, and are never writable while logging: SPTE_WRITABLE's).
 * A leaf is judged only where the trace knows it: its one live SPTE, made
 * writable by a traced change (not by fast_page_fault() or as a split
 * huge page's child, both untraced), with one VM and no untraced SPTE
 * changes (the history's conditions), and not where the clocks may have
 * put the change that made it writable before the issue (another CPU's
 * than the return's, or any CPU's if the task ran on another meanwhile:
 * the issue's CPU is not recorded) or another CPU's protect of it after
 * the return (GEN_SKEW_NS), nor where an untraced unmap may have dropped
 * it.
 *
 * Must not protect: while one of these ioctls is in flight, its own task
 * write-protects (clears Writable of a present leaf) only
 *  - KVM_CLEAR_DIRTY_LOG that returned 0: leaves of its slot overlapping
 *    its pages [first_page, +num_pages) (4K leaves whose bits were set in
 *    both bitmaps, and with INITIALLY_SET the huge pages at the range's
 *    first and last set bit);
 *  - KVM_GET_DIRTY_LOG without manual protect: 4K leaves of its slot;
 *    with manual protect: none (it only copies the bitmap);
 *  - the update that enables logging: leaves of its slot; with
 *    INITIALLY_SET none;
 *  - any of them that failed (but GET's -EFAULT, which comes after the
 *    harvest): none.
 * Judged on every host with the TDP MMU's SPTE changes (PML changes what
 * is cleared, not where), for the write-protects stamped on the CPU of the
 * ioctl's return.  A write-protect another ioctl of the same task may have
 * made (its records within GEN_SKEW_NS) is not reported.  What
 * KVM_CLEAR_DIRTY_LOG must protect is not judged: the bitmap it was given
 * is not in the trace.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "replay.h"

/* Records a skew or neighbour scan looks at before it assumes the benign case. */
#define SCAN_MAX	(1ULL << 20)

/* Why this trace's SPTE changes cannot tell write-protects; NULL if they can. */
static const char *no_wrprot_trace(struct checker *c)
{
	const char *why = chk_no_tdp_mmu(c);

	if (why)
		return why;
	if (c->vm_creates != 1)
		return "not exactly one VM created in the trace: SPTE changes name no VM";
	return c->no_history;
}

/* ... or why it cannot tell what must be protected (PML). */
static const char *no_must_protect(struct checker *c)
{
	const char *why = no_wrprot_trace(c);

	if (why)
		return why;
	if (!c->host || c->host->host.backend == KMMU_HOST_UNKNOWN)
		return "the host's KVM backend is not in this trace: with PML (VMX) KVM clears"
		       " Dirty bits instead of write-protecting";
	if (c->host->host.backend == KMMU_HOST_VMX)
		return "VMX host: with PML (kvm_intel.enable_pml) KVM clears Dirty bits instead"
		       " of write-protecting, and the trace does not say whether PML was on";
	return NULL;
}

static bool is_wrprot(const struct kmmu_trace_record *x)
{
	unsigned int level = x->spte_changed.level;

	return x->type == KMMU_EV_SPTE_CHANGED && tdp_leaf(x->spte_changed.old_spte, level) &&
	       (x->spte_changed.old_spte & KMMU_PT_WRITABLE_MASK) &&
	       tdp_leaf(x->spte_changed.new_spte, level) &&
	       !(x->spte_changed.new_spte & KMMU_PT_WRITABLE_MASK);
}

/* What an ioctl of the trace may write-protect (see the head comment). */
struct may_protect {
	unsigned int as_id;
	gfn_t lo, hi;			/* leaves overlapping gfns [lo, hi) */
	unsigned int max_level;		/* 0: none at all */
};

static bool may_protect(const struct may_protect *m, const struct kmmu_trace_record *x)
{
	unsigned int level = x->spte_changed.level;
	gfn_t gfn = x->spte_changed.gfn;

	return level <= m->max_level && x->spte_changed.as_id == m->as_id && gfn < m->hi &&
	       m->lo < gfn + level_pages(level);
}

/*
 * What the ioctl of record @r may write-protect, at the replay's point
 * (its slot as the reference holds it; manual protect as last enabled).
 * False if it cannot be told (its slot is unknown): anything may be.
 */
static bool allowed_of(struct checker *c, const struct kmmu_trace_record *r,
		       struct may_protect *m)
{
	uint32_t slot;
	gfn_t base;
	uint64_t npages;
	bool ok;

	*m = (struct may_protect){ 0 };
	switch (r->type) {
	case KMMU_ACT_GET_DIRTY_LOG:
		ok = !r->dirty_log.ret || r->dirty_log.ret == -EFAULT;
		if (!ok || c->manual_protect)
			return true;
		slot = r->dirty_log.slot;
		m->max_level = 1;
		break;
	case KMMU_ACT_CLEAR_DIRTY_LOG:
		if (r->dirty_log.ret)
			return true;
		slot = r->dirty_log.slot;
		/* With INITIALLY_SET, also the huge pages at the range's ends. */
		m->max_level = c->manual_protect & KMMU_DIRTY_LOG_INITIALLY_SET ? 3 : 1;
		break;
	case KMMU_ACT_SET_MEMSLOT:
		/* kvm_dirty_log_manual_protect_and_init_set(): nothing at the enable. */
		if (r->memslot.ret || !(r->memslot.flags & KMMU_MEM_LOG_DIRTY_PAGES) ||
		    (c->manual_protect & KMMU_DIRTY_LOG_INITIALLY_SET))
			return true;
		slot = r->memslot.slot;
		m->max_level = 3;
		break;
	default:
		return true;
	}
	if (!chk_ref_slot_range(c, slot, &base, &npages, NULL))
		return false;
	m->as_id = slot >> 16;
	m->lo = base;
	m->hi = base + npages;
	if (r->type == KMMU_ACT_CLEAR_DIRTY_LOG) {
		m->lo = base + r->dirty_log.first_page;
		m->hi = m->lo + r->dirty_log.num_pages;
	}
	return true;
}

/* The index into c->wrprots of the first write-protect stamped at or after @ts. */
static uint64_t first_wrprot_since(struct checker *c, uint64_t ts)
{
	uint64_t lo = 0, hi = c->nr_wrprots;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (c->recs[c->wrprots[mid]].ts < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Did the task of the ioctl @r run on another CPU than its return's while
 * it was in flight (from @start_ts), as its write-protects show?  Then the
 * CPU its issue was stamped on is not known.
 */
static bool task_moved(struct checker *c, const struct kmmu_trace_record *r, uint64_t start_ts)
{
	for (uint64_t i = first_wrprot_since(c, start_ts); i < c->nr_wrprots; i++) {
		const struct kmmu_trace_record *x = &c->recs[c->wrprots[i]];

		if (x->pid == r->pid && x->cpu != r->cpu)
			return true;
	}
	return false;
}

static bool may_wrprot_task(const struct kmmu_trace_record *a)
{
	return a->type == KMMU_ACT_GET_DIRTY_LOG || a->type == KMMU_ACT_CLEAR_DIRTY_LOG ||
	       a->type == KMMU_ACT_SET_MEMSLOT;
}

/* When the ioctl of @a was issued; 0 for a record of no ioctl. */
static uint64_t issued_ts(const struct kmmu_trace_record *a)
{
	switch (a->type) {
	case KMMU_ACT_SET_MEMSLOT:
		return a->memslot.start_ts;
	case KMMU_ACT_GET_DIRTY_LOG:
	case KMMU_ACT_CLEAR_DIRTY_LOG:
		return a->dirty_log.start_ts;
	case KMMU_ACT_DIRTY_LOG_PROTECT:
		return a->protect_cap.start_ts;
	default:
		return 0;
	}
}

/*
 * May another ioctl of @r's task than @r have made the write-protect @x,
 * its record or issue within GEN_SKEW_NS of @x (the per-CPU clocks)?
 * Looked at only for a write-protect @r may not make: divergences are rare.
 */
static bool neighbour_explains(struct checker *c, const struct kmmu_trace_record *r,
			       const struct kmmu_trace_record *x)
{
	struct may_protect m;
	uint64_t n = 0;

	for (uint64_t i = c->pos; i-- > 0 && c->recs[i].ts + GEN_SKEW_NS >= x->ts;) {
		const struct kmmu_trace_record *a = &c->recs[i];

		if (++n > SCAN_MAX)
			return true;
		if (a != r && a->pid == r->pid && may_wrprot_task(a) &&
		    (!allowed_of(c, a, &m) || may_protect(&m, x)))
			return true;
	}
	for (uint64_t i = c->pos + 1; i < c->nr; i++) {
		const struct kmmu_trace_record *a = &c->recs[i];

		if (++n > SCAN_MAX)
			return true;
		if (a->pid != r->pid || !issued_ts(a))
			continue;
		/* The task's ioctls follow one another: a later one was issued later. */
		if (issued_ts(a) > x->ts + GEN_SKEW_NS)
			return false;
		if (may_wrprot_task(a) && (!allowed_of(c, a, &m) || may_protect(&m, x)))
			return true;
	}
	return false;
}

/*
 * The must-not half: the write-protects @r's task made while @r was in
 * flight ([@start_ts, @r->ts], the records before @r) are ones @r may make.
 * Those stamped on the CPU its return was stamped on: another CPU's clock
 * may have put a write-protect of the task's ioctl before or after this
 * one in its window (seen: milliseconds apart under QEMU's TCG), and the
 * dirty ring's KVM_RESET_DIRTY_RINGS write-protects unlogged.
 */
static void judge_task_wrprots(struct checker *c, const struct kmmu_trace_record *r,
			       uint64_t start_ts)
{
	struct may_protect m;

	if (!r->pid || !allowed_of(c, r, &m))
		return;
	c->res->checked[KMMU_PROP_DIRTY_LOG_PROTECT]++;
	for (uint64_t i = first_wrprot_since(c, start_ts); i < c->nr_wrprots; i++) {
		const struct kmmu_trace_record *x = &c->recs[c->wrprots[i]];

		if (x->pid != r->pid || x->cpu != r->cpu || !is_wrprot(x) || may_protect(&m, x) ||
		    neighbour_explains(c, r, x))
			continue;
		chk_diverge(c, KMMU_PROP_DIRTY_LOG_PROTECT, x->spte_changed.gfn, true,
			    "while %s was in flight its task write-protected the level-%u leaf of"
			    " gfn %#" PRIx64 " (as %u), which it may not: %s",
			    kmmu_rec_type_name(r->type), x->spte_changed.level, x->spte_changed.gfn,
			    x->spte_changed.as_id,
			    !m.max_level ? "this ioctl write-protects nothing (it failed, or"
			    " manual protect / INITIALLY_SET is on)" :
			    r->type == KMMU_ACT_CLEAR_DIRTY_LOG ? "it lies outside the slot's"
			    " pages the ioctl cleared" : m.max_level == 1 ?
			    "the harvest write-protects only 4K leaves of its slot" :
			    "it lies outside the slot");
		return;
	}
}

/*
 * The record being replayed write-protects a present leaf: remembered for
 * the must-not half, which looks at the write-protects in an ioctl's
 * window (a memslot ioctl's lasts milliseconds, full of vCPUs' faults).
 * Out of memory: the replay is incomplete.
 */
void chk_note_wrprot(struct checker *c)
{
	if (kmmu_grow(&c->wrprots, &c->wrprots_cap, c->nr_wrprots, 1, 1024)) {
		c->oom = true;
		return;
	}
	c->wrprots[c->nr_wrprots++] = c->pos;
}

/* A leaf that was writable at the issue and still is at the return. */
struct suspect {
	uint64_t key;			/* suspect_key(); 0: free */
	uint64_t wr_pos;		/* what made it writable */
	gfn_t gfn;
	unsigned int level;
	bool explained;
};

static uint64_t suspect_key(unsigned int as_id, unsigned int level, gfn_t gfn)
{
	return (gfn << 8 | (as_id & 0xf) << 4 | (level & 0xf)) + 1;
}

struct must_protect {
	const struct kmmu_trace_record *r;
	uint64_t start_ts;
	unsigned int as_id, max_level;
	bool moved;			/* task_moved() */
	struct chk_table suspects;	/* of struct suspect */
	uint64_t nr;
	bool oom;
};

static void note_suspect(struct checker *c, struct leaf *l, unsigned int level, gfn_t gfn,
			 void *arg)
{
	struct must_protect *mp = arg;
	const struct kmmu_trace_record *w;
	struct suspect *s;

	if (level > mp->max_level || l->live != 1 || !l->last_pos || !l->wr_pos)
		return;
	w = &c->recs[l->wr_pos - 1];
	/*
	 * Made writable since the issue, or maybe so by another CPU's clock
	 * than the issue's: taken to be the return's CPU, unless the task ran
	 * elsewhere meanwhile (a memslot ioctl sleeps in synchronize_srcu()).
	 */
	if (w->ts >= mp->start_ts ||
	    ((mp->moved || w->cpu != mp->r->cpu) && w->ts + GEN_SKEW_NS > mp->start_ts))
		return;
	if (chk_unmap_may_explain(c, w->ts, mp->as_id, gfn, level))
		return;
	s = chk_table_get(&mp->suspects, suspect_key(mp->as_id, level, gfn));
	if (!s) {
		mp->oom = true;
		return;
	}
	s->wr_pos = l->wr_pos;
	s->gfn = gfn;
	s->level = level;
	mp->nr++;
}

/*
 * The must half: each leaf of @r's slot (@as_id, [@base, +@npages)) up to
 * @max_level that was writable when @r was issued (@start_ts) is not at
 * its return, unless another CPU's write-protect or drop of it, stamped
 * within GEN_SKEW_NS after the return, may have come before it.
 */
static void judge_must_protect(struct checker *c, const struct kmmu_trace_record *r,
			       uint64_t start_ts, unsigned int as_id, gfn_t base, uint64_t npages,
			       unsigned int max_level, const char *what)
{
	struct must_protect mp = { .r = r, .start_ts = start_ts, .as_id = as_id,
				   .max_level = max_level, .moved = task_moved(c, r, start_ts),
				   .suspects.esize = sizeof(struct suspect) };
	struct suspect *first = NULL;
	uint64_t n = 0, left = 0;

	c->res->checked[KMMU_PROP_DIRTY_LOG_PROTECT]++;
	chk_for_each_leaf(c, as_id, base, npages, note_suspect, &mp);
	if (mp.oom)
		c->oom = true;
	if (!mp.nr || mp.oom)
		goto out;
	for (uint64_t i = c->pos + 1; i < c->nr && c->recs[i].ts <= r->ts + GEN_SKEW_NS; i++) {
		const struct kmmu_trace_record *x = &c->recs[i];
		unsigned int level = x->spte_changed.level;
		struct suspect *s;

		if (++n > SCAN_MAX)
			goto out;
		if (x->type != KMMU_EV_SPTE_CHANGED || x->cpu == r->cpu ||
		    !tdp_leaf(x->spte_changed.old_spte, level) ||
		    (tdp_leaf(x->spte_changed.new_spte, level) &&
		     (x->spte_changed.new_spte & KMMU_PT_WRITABLE_MASK)))
			continue;
		s = chk_table_find(&mp.suspects, suspect_key(x->spte_changed.as_id, level,
							     x->spte_changed.gfn));
		if (s)
			s->explained = true;
	}
	for (uint64_t i = 0; i < mp.suspects.cap; i++) {
		struct suspect *s = (struct suspect *)(mp.suspects.ents + i * mp.suspects.esize);

		if (!s->key || s->explained)
			continue;
		left++;
		if (!first || s->wr_pos < first->wr_pos)
			first = s;
	}
	if (first)
		chk_diverge(c, KMMU_PROP_DIRTY_LOG_PROTECT, first->gfn, true,
			    "%s of slot %u:%u returned with %" PRIu64 " leaf SPTE(s) still writable"
			    " that were writable when it was issued, e.g. the level-%u leaf of gfn %#"
			    PRIx64 " (made writable at %" PRIu64 ".%09" PRIu64 "): KVM must"
			    " write-protect (or drop) them before it returns", what,
			    as_id, (unsigned int)(r->type == KMMU_ACT_SET_MEMSLOT ?
			    r->memslot.slot : r->dirty_log.slot) & 0xffff, left, first->level,
			    first->gfn, c->recs[first->wr_pos - 1].ts / 1000000000,
			    c->recs[first->wr_pos - 1].ts % 1000000000);
out:
	chk_table_free(&mp.suspects);
}

/* A memslot update replayed (@old_flags: its slot's before): logging turned on? */
void chk_dirty_log_on_memslot(struct checker *c, const struct kmmu_trace_record *r,
			      uint32_t old_flags)
{
	uint32_t flags = r->memslot.flags;
	const char *why;
	gfn_t base;
	uint64_t npages;

	if (r->memslot.ret || !((old_flags ^ flags) & KMMU_MEM_LOG_DIRTY_PAGES) ||
	    !(flags & KMMU_MEM_LOG_DIRTY_PAGES) || (flags & KMMU_MEM_READONLY))
		return;
	why = no_wrprot_trace(c);
	if (why) {
		c->dirty_log_why = why;
		return;
	}
	judge_task_wrprots(c, r, r->memslot.start_ts);
	if (c->manual_protect & KMMU_DIRTY_LOG_INITIALLY_SET)
		return;		/* KVM protects at the first KVM_CLEAR_DIRTY_LOG instead */
	why = no_must_protect(c);
	if (why) {
		c->dirty_log_why = why;
		return;
	}
	if (chk_ref_slot_range(c, r->memslot.slot, &base, &npages, NULL))
		judge_must_protect(c, r, r->memslot.start_ts, r->memslot.slot >> 16, base, npages,
				   3, "the memslot update that enabled dirty logging");
}

void chk_on_get_dirty_log(struct checker *c, const struct kmmu_trace_record *r)
{
	const char *why = no_wrprot_trace(c);
	gfn_t base;
	uint64_t npages;

	if (why) {
		c->dirty_log_why = why;
		return;
	}
	judge_task_wrprots(c, r, r->dirty_log.start_ts);
	if (r->dirty_log.ret || c->manual_protect)
		return;
	why = no_must_protect(c);
	if (why) {
		c->dirty_log_why = why;
		return;
	}
	if (chk_ref_slot_range(c, r->dirty_log.slot, &base, &npages, NULL))
		judge_must_protect(c, r, r->dirty_log.start_ts, r->dirty_log.slot >> 16, base,
				   npages, 1, "KVM_GET_DIRTY_LOG");
}

void chk_on_clear_dirty_log(struct checker *c, const struct kmmu_trace_record *r)
{
	const char *why = no_wrprot_trace(c);

	if (why) {
		c->dirty_log_why = why;
		return;
	}
	judge_task_wrprots(c, r, r->dirty_log.start_ts);
}

void chk_on_protect_cap(struct checker *c, const struct kmmu_trace_record *r)
{
	if (!r->protect_cap.ret)
		c->manual_protect = r->protect_cap.flags;
}

void chk_explain_dirty_log(struct checker *c)
{
	if (!c->res->checked[KMMU_PROP_DIRTY_LOG_PROTECT])
		chk_not_checkable(c, KMMU_PROP_DIRTY_LOG_PROTECT, c->dirty_log_why ?
				  c->dirty_log_why :
				  "no dirty logging enabled or harvested (KVM_GET_DIRTY_LOG,"
				  " KVM_CLEAR_DIRTY_LOG) in this trace");
}
