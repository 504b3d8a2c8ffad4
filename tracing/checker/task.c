// SPDX-License-Identifier: GPL-2.0
/*
 * Per task (a vCPU thread, a VMM thread): what it is in the middle of
 * (struct task_ctx: its aging pass, a pending MMIO read), and claims on
 * its next record, which the kernel's code path fixes: a leaf change only
 * a fault makes is followed by that fault's kvm_mmu_set_spte
 * (LEAF_CHANGE), and a check_mmio_spte by handle_mmio_page_fault exactly
 * when its generations match (MMIO_CHECK).
 */
#include <inttypes.h>

#include "replay.h"

/*
 * The entry of task @pid; with @create, a new one if it has none.  Only
 * tasks that aged or read MMIO get one: a task without an entry is in no
 * aging pass and has no read pending.
 */
struct task_ctx *chk_task(struct checker *c, int32_t pid, bool create)
{
	uint64_t key = (uint64_t)(uint32_t)pid + 1;
	struct task_ctx *t;

	if (!create)
		return chk_table_find(&c->tasks, key);
	t = chk_table_get(&c->tasks, key);
	if (!t)
		c->oom = true;	/* the replay fails rather than judge with state it lost */
	return t;
}

/* Claims what @pid's next record is; none left or no task: not judged. */
void chk_add_claim(struct checker *c, int32_t pid, enum claim_kind kind, gfn_t gfn,
		   unsigned int level)
{
	if (!pid || c->nr_claims == MAX_CLAIMS)
		return;
	c->claims[c->nr_claims].pid = pid;
	c->claims[c->nr_claims].kind = kind;
	c->claims[c->nr_claims].gfn = gfn;
	c->claims[c->nr_claims].level = level;
	c->claims[c->nr_claims].pos = c->pos;
	c->nr_claims++;
}

/* The claim @f's task broke with its next record @r. */
static void claim_broken(struct checker *c, const struct fault_claim *f,
			 const struct kmmu_trace_record *r)
{
	const struct kmmu_trace_record *e = &c->recs[f->pos];
	uint64_t pos = c->pos;

	if (f->kind == CLAIM_MMIO_USED && !c->mmio_pfs) {
		/* Perhaps the trace has no handle_mmio_page_fault at all: decided at its end. */
		if (!c->mmio_unused++)
			c->mmio_unused_pos = f->pos;
		return;
	}
	c->pos = f->pos;	/* report the claiming record itself */
	if (f->kind == CLAIM_SET_SPTE)
		chk_diverge(c, KMMU_PROP_LEAF_CHANGE, f->gfn, true,
			    "%#" PRIx64 " -> %#" PRIx64 " (level %u) sets or clears bits only a"
			    " fault changes in place, but the task's next event is not that"
			    " fault's kvm_mmu_set_spte for the gfn", e->spte_changed.old_spte,
			    e->spte_changed.new_spte, f->level);
	else if (f->kind == CLAIM_MMIO_USED)
		chk_diverge(c, KMMU_PROP_MMIO_CHECK, 0, false,
			    "generations %#x and %#x match: handle_mmio_page_fault() must use the"
			    " MMIO SPTE (trace handle_mmio_page_fault next), but the task's next"
			    " event is a %s", e->check_mmio.kvm_gen, e->check_mmio.spte_gen,
			    kmmu_rec_type_name(r->type));
	else
		chk_diverge(c, KMMU_PROP_MMIO_CHECK, r->mmio_pf.gfn, true,
			    "generations %#x and %#x differ: the stale MMIO SPTE must not be used,"
			    " yet handle_mmio_page_fault for gfn %#" PRIx64 " follows",
			    e->check_mmio.kvm_gen, e->check_mmio.spte_gen, r->mmio_pf.gfn);
	c->pos = pos;
}

/* @r is the next record of a task with a claim: does it keep it? */
void chk_settle_claims(struct checker *c, const struct kmmu_trace_record *r)
{
	for (unsigned int i = 0; i < c->nr_claims; i++) {
		struct fault_claim *f = &c->claims[i];
		bool kept;

		if (f->pid != r->pid || f->pos == c->pos)
			continue;
		switch (f->kind) {
		case CLAIM_SET_SPTE:
			kept = r->type == KMMU_EV_SET_SPTE && r->set_spte.gfn == f->gfn &&
			       r->set_spte.level == f->level;
			break;
		case CLAIM_MMIO_USED:
			kept = r->type == KMMU_EV_HANDLE_MMIO_PAGE_FAULT;
			break;
		default:
			kept = r->type != KMMU_EV_HANDLE_MMIO_PAGE_FAULT;
			break;
		}
		/*
		 * A record stamped the same nanosecond may have been sorted in
		 * from another CPU's buffer (a coarse guest clock, a task
		 * migrated in between): not judged.
		 */
		if (!kept && r->ts != c->recs[f->pos].ts)
			claim_broken(c, f, r);
		c->claims[i--] = c->claims[--c->nr_claims];
	}
}
