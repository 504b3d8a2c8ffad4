// SPDX-License-Identifier: GPL-2.0
/*
 * The differential checker (see kmmu/checker.h).  One pass over the sorted
 * records; memslot actions are applied to the reference memslots when their
 * ioctl returned, kernel events are judged against the reference layout at
 * their timestamp, widened by the memslot ioctls in flight at that moment.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "kmmu/checker.h"
#include "kmmu/memslot.h"
#include "kmmu/spte.h"
#include "kmmu/trace_record.h"

#define HISTORY		64	/* records remembered for a divergence report */
#define MAX_IN_FLIGHT	8	/* concurrent memslot ioctls looked at */
#define MAX_TIED	4	/* ... and replayed ones that returned at the same ns */
#define MAX_OPS_SEEN	(MAX_IN_FLIGHT + MAX_TIED)
#define PAGE_SHIFT	12

/* kvm_mmio's types (include/trace/events/kvm.h) */
#define KVM_TRACE_MMIO_READ_UNSATISFIED	0
#define KVM_TRACE_MMIO_READ		1
#define KVM_TRACE_MMIO_WRITE		2

static const char *const prop_names[KMMU_PROP_NR] = {
	[KMMU_PROP_MEMSLOT_RESULT] = "memslot ioctls return what the reference returns",
	[KMMU_PROP_MMIO_UNBACKED] = "MMIO is emulated only for gfns without a live memslot",
	[KMMU_PROP_SPTE_IN_SLOT] = "a leaf SPTE is installed only for gfns of one live memslot",
	[KMMU_PROP_ZAP_ON_REMOVE] = "deleting or moving a slot with SPTEs zaps them",
	[KMMU_PROP_NO_SPTE_AFTER_ZAP] = "no SPTE for a slot between its zap and its removal",
	[KMMU_PROP_MMIO_GENERATION] = "MMIO SPTE generation changes exactly with memslot updates",
	[KMMU_PROP_MMIO_GEN_MODEL] = "MMIO SPTE generation is the reference's memslot generation",
	[KMMU_PROP_MMIO_SPTE_UNBACKED] = "an MMIO SPTE is honoured only for gfns without a live memslot",
	[KMMU_PROP_ZAP_AT_WRAP] = "the update that wraps the MMIO generation zaps all shadow pages",
	[KMMU_PROP_PAGE_STATS] = "KVM page stats equal the traced leaf SPTEs per level",
	[KMMU_PROP_AGING_IN_PASS] = "an Accessed bit is cleared only by aging that gfn's hva",
	[KMMU_PROP_AGING_KEEPS_DIRTY] = "aging keeps the Dirty and Writable bits",
	[KMMU_PROP_AGING_IDLE] = "aging reports a page the guest left idle young at most once",
	[KMMU_PROP_HUGE_ALLOWED] = "a huge SPTE is installed only where its slot's alignment and flags allow one",
	[KMMU_PROP_SPTE_WRITABLE] = "no SPTE of a read-only slot is writable, nor made writable huge while dirty logging",
	[KMMU_PROP_SPTE_HISTORY] = "each SPTE change starts from the SPTE the previous traced change left",
	[KMMU_PROP_LEAF_CHANGE] = "a present leaf SPTE changes in place only as KVM changes one",
	[KMMU_PROP_MMIO_CHECK] = "an MMIO SPTE is used exactly when its generation is KVM's",
};

const char *const kmmu_check_events[] = {
	"kvmmmu:kvm_mmu_set_spte",
	"kvmmmu:kvm_mmu_prepare_zap_page",
	"kvmmmu:kvm_mmu_zap_all_fast",
	"kvmmmu:mark_mmio_spte",
	"kvmmmu:check_mmio_spte",
	"kvmmmu:handle_mmio_page_fault",
	"kvm:kvm_mmio",
	"kvmmmu:kvm_tdp_mmu_spte_changed",
	"kvmmmu:kvm_mmu_split_huge_page",
	"kvm:kvm_age_hva",
	NULL
};

/*
 * SPTE bits the TDP checks read (arch/x86/kvm/mmu/spte.h, 6.1).  Present
 * and huge are one bit in both formats; Accessed and Dirty are not.
 */
#define SPTE_TDP_AD_SHIFT	52
#define SPTE_TDP_AD_DISABLED	1ULL	/* SPTE_TDP_AD_DISABLED_MASK >> shift */
#define EPT_RWX_MASK		0x7ULL	/* shadow_acc_track_mask with EPT */
#define EPT_ACC_TRACK_SAVED	0x5ULL	/* R and X: SHADOW_ACC_TRACK_SAVED_BITS_MASK */
#define EPT_ACC_TRACK_SHIFT	54
#define EPT_ACCESSED		(1ULL << 8)
#define EPT_DIRTY		(1ULL << 9)
#define MAX_IDLE		16	/* idle ranges remembered */

/*
 * One key (as_id, level, gfn) of the leaf SPTEs: one SPTE per root.  A
 * huge page that was split has an entry of its own, whose live counts its
 * splits (see on_split()).
 */
struct leaf {
	uint64_t key;			/* leaf_key(); 0: free */
	uint32_t live;			/* present leaf SPTEs with this key */
	uint32_t splits_seen;		/* splits of its huge page already in live */
	uint64_t idle_pass;		/* aging pass of its first Accessed clear once idle */
	uint64_t last;			/* new SPTE of its last traced change */
	uint64_t last_pos;		/* its index + 1 if it left the one live leaf; else 0 */
	uint64_t inst_pos;		/* index + 1 of its last install, while live (judge_reinstall()) */
};

/* What a task's next record must be (settle_claims()). */
enum claim_kind {
	CLAIM_SET_SPTE,		/* a leaf change only a fault makes: its kvm_mmu_set_spte */
	CLAIM_MMIO_USED,	/* check_mmio_spte matched: handle_mmio_page_fault */
	CLAIM_MMIO_REJECTED,	/* ... did not: anything else */
};

struct fault_claim {
	int32_t pid;
	uint8_t level;
	uint8_t kind;			/* enum claim_kind */
	gfn_t gfn;
	uint64_t pos;			/* the record that made the claim */
};
#define MAX_CLAIMS	16


/* leaf_key() level of a split huge page's entry: this | its children's level. */
#define SPLIT_KEY_LEVEL		8
/* leaf_key() address space of a page-table SPTE's entry: this | its own. */
#define TABLE_KEY_AS		8

/*
 * What a task (a vCPU thread, a VMM thread) is in the middle of: the
 * aging pass started by its last kvm_age_hva, or not; an MMIO read that
 * exited to userspace, or not.
 */
struct task_ctx {
	uint64_t key;			/* its pid + 1; 0: free */
	bool in_pass;
	bool read_pending;
	uint64_t start, end;		/* the pass's hva range */
	uint64_t pass;			/* index + 1 of its kvm_age_hva */
	uint64_t read_gpa;		/* the pending read's gpa */
};

/*
 * Per-key state of the replay (leaf SPTEs, tasks): open addressing with
 * linear probing; every entry starts with its uint64_t key, 0 marks a free
 * one.  It doubles when half full, so a lookup stays a probe or two, and
 * it holds one entry per key the trace names, so its memory follows what
 * the trace holds.
 */
struct table {
	char *ents;
	size_t esize;
	uint64_t nr, cap;		/* cap: 0 or a power of 2 */
};

/* SPTEs installed in a slot since the last zap-all (an epoch per zap-all). */
struct slot_sptes {
	uint32_t epoch;
	uint32_t count;
};

/* A memslot ioctl of the trace, with what it changes. */
struct memslot_op {
	uint64_t pos;			/* index of its record */
	bool zapped;			/* a zap of its old range was seen in flight */
	bool zapped_all;		/* a kvm_mmu_zap_all_fast was seen in flight */
	uint64_t zap_ts;
	uint32_t sptes_at_zap;		/* SPTEs its old slot had when the zap came */
	/*
	 * SPTEs installed while it was in flight for gfns only its new range
	 * backs: they map the slot it creates or moves (see attribute_in_flight()).
	 */
	uint32_t new_sptes;
	uint32_t new_sptes_epoch;	/* the zap-all epoch they were counted in */
	uint32_t unbacked_sptes;	/* ... those for gfns no slot backed before */
	uint64_t first_new_gfn;
};

/*
 * The trace's clocks are per CPU, and a TCG guest's differ: seen, a
 * mark_mmio_spte stamped on one vCPU 60 us after a memslot update's return
 * was stamped on the other still carried the generation from before it
 * (impossible on one clock: the fault's SRCU reader ends before the
 * update's synchronize_srcu() returns).  So a generation event may carry
 * the generation from before an update stamped on another CPU up to this
 * long before it.
 */
#define GEN_SKEW_NS	5000000ULL
#define GEN_RECENT	16	/* replayed updates remembered for it */

struct gen_before {
	uint64_t ts;		/* the update's record */
	uint32_t cpu;
	uint64_t ref;		/* the reference's generation before it */
};

struct checker {
	const struct kmmu_trace_record *recs;
	uint64_t nr;
	const struct kmmu_checker_opts *opts;
	struct kmmu_check_result *res;
	struct kmmu_vm_memslots *ms;

	struct memslot_op *ops;
	uint64_t nr_ops;
	uint64_t next_op;		/* first op whose record is not replayed yet */
	struct gen_before recent[GEN_RECENT];	/* ring: the latest updates replayed */
	unsigned int nr_recent;

	struct slot_sptes *sptes;	/* [as][id] */
	uint32_t epoch;

	bool have_mmio_gen;
	uint32_t mmio_gen;		/* last seen in mark_mmio_spte */
	uint64_t mmio_gen_updates;	/* memslot updates when it was seen */
	uint64_t updates;		/* successful memslot updates so far */

	/* The reference's generation model (see kmmu/checker.h). */
	const struct kmmu_mmio_gen_layout *gen_layout;
	bool gen_offset_known;
	uint64_t gen_offset;		/* kernel MMIO gen - reference gen, masked */
	/*
	 * The reference steps address space 0's generation by 2 per swap (x86
	 * with SMM); a kernel without CONFIG_KVM_SMM has one address space and
	 * steps by 1.  Told by the test (KMMU_ACT_VM_CREATE), else learned
	 * from the first two MMIO SPTE generations seen across a memslot
	 * update; 0 until then.
	 */
	uint64_t first_kgen, first_ref;
	unsigned int nr_as;
	uint64_t swap_gens[4];		/* address space 0 generations of this ioctl's swaps */
	unsigned int nr_swap_gens;

	uint64_t pos;			/* record being judged */

	bool oom;			/* a table could not grow: the replay is incomplete */

	/* TDP MMU SPTE changes (kvm_tdp_mmu_spte_changed) */
	struct table leaves;		/* of struct leaf */
	bool any_split;		/* a huge page was split: leaves may have splits to count */
	int64_t pages[3];		/* leaf SPTEs per level (4K, 2M, 1G) as traced */
	uint64_t last_leaf_change_ts;
	uint64_t last_leaf_change[3];	/* index + 1 of the last change per level */
	uint64_t spte_changes;
	uint64_t unknown_leaves;	/* leaves dropped that the trace never installed */
	uint64_t untraced_unmaps;	/* other tasks' unmaps of guest memory */
	uint64_t hva_lo, hva_hi;	/* every memslot's host memory lies in here */
	unsigned int vm_creates;
	const struct kmmu_trace_record *host;	/* the run's KMMU_ACT_HOST; NULL: none */
	struct table tasks;		/* of struct task_ctx */
	struct {
		uint64_t gfn, npages, ts;
	} idle[MAX_IDLE];
	unsigned int nr_idle;
	struct fault_claim claims[MAX_CLAIMS];
	unsigned int nr_claims;
	uint64_t set_sptes;		/* kvm_mmu_set_spte records replayed */
	const char *no_history;		/* why SPTE_HISTORY cannot be judged; NULL: it can */
	uint64_t mmio_pfs;		/* handle_mmio_page_fault records replayed */
	uint64_t mmio_unused;		/* matched checks the task did not follow with a use */
	uint64_t mmio_unused_pos;	/* ... the first of them */
	struct {
		gfn_t lo, hi;		/* gfns [lo, hi) of address space 0 */
		uint64_t ts;
	} *unmap_log;			/* other tasks' unmaps of guest memory, in order */
	uint32_t nr_unmap_log, unmap_log_cap;
	uint64_t unmap_bound[3];	/* leaves per level untraced unmaps may have removed */
	uint64_t last_zap_all_ts;	/* of the last kvm_mmu_zap_all_fast */
	int32_t zapper;			/* ... and its task */

};

const char *kmmu_check_property_name(enum kmmu_check_property p)
{
	return p < KMMU_PROP_NR ? prop_names[p] : "unknown";
}

/* The entry of @key in @ents (@cap entries, a power of 2), or the free one it would take. */
static void *table_slot(char *ents, size_t esize, uint64_t cap, uint64_t key)
{
	uint64_t i = key * 0x9e3779b97f4a7c15ULL >> 20 & (cap - 1);
	uint64_t *k;

	for (;; i = (i + 1) & (cap - 1)) {
		k = (uint64_t *)(ents + i * esize);
		if (!*k || *k == key)
			return k;
	}
}

/* The entry of @key (not 0) in @t; NULL if there is none. */
static void *table_find(const struct table *t, uint64_t key)
{
	uint64_t *k;

	if (!t->cap)
		return NULL;
	k = table_slot(t->ents, t->esize, t->cap, key);
	return *k ? k : NULL;
}

/*
 * The entry of @key (not 0) in @t, a new zeroed one if there is none;
 * NULL when out of memory, which fails the replay (c->oom) rather than
 * letting it judge with state it lost.  Growing moves the entries: a
 * pointer from an earlier call is stale after this one.
 */
static void *table_get(struct checker *c, struct table *t, uint64_t key)
{
	uint64_t *k;

	if (t->nr * 2 >= t->cap) {
		uint64_t cap = t->cap ? t->cap * 2 : 256;
		char *n = calloc(cap, t->esize);

		if (!n) {
			c->oom = true;
			return NULL;
		}
		for (uint64_t i = 0; i < t->cap; i++) {
			k = (uint64_t *)(t->ents + i * t->esize);
			if (*k)
				memcpy(table_slot(n, t->esize, cap, *k), k, t->esize);
		}
		free(t->ents);
		t->ents = n;
		t->cap = cap;
	}
	k = table_slot(t->ents, t->esize, t->cap, key);
	if (!*k) {
		*k = key;
		t->nr++;
	}
	return k;
}

/*
 * The entry of task @pid; with @create, a new one if it has none.  Only
 * tasks that aged or read MMIO get one: a task without an entry is in no
 * aging pass and has no read pending.
 */
static struct task_ctx *task(struct checker *c, int32_t pid, bool create)
{
	uint64_t key = (uint64_t)(uint32_t)pid + 1;

	return create ? table_get(c, &c->tasks, key) : table_find(&c->tasks, key);
}

/* gfn range of the slot @slot (as << 16 | id) in the reference right now. */
static bool ref_slot_range(struct checker *c, uint32_t slot, gfn_t *base, uint64_t *npages,
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

/* A live slot as the leaf checks need it. */
struct slot_view {
	gfn_t base;
	uint64_t npages;
	uint64_t hva;
	uint32_t flags;
	int id;
};

/* The live slot of address space @as_id holding @gfn; false if none. */
static bool ref_slot_at(struct checker *c, unsigned int as_id, gfn_t gfn, struct slot_view *v)
{
	struct kmmu_memory_slot *s;
	bool found = false;

	if (as_id >= KMMU_ADDRESS_SPACE_NUM)
		return false;
	urcu_memb_read_lock();
	s = kmmu_gfn_to_memslot(kmmu_memslots_active(c->ms, as_id), gfn);
	if (s && kmmu_memslot_is_visible(s)) {
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

/* The live slot holding @gfn (address space 0), as its id and flags; false if none. */
static bool ref_gfn_slot(struct checker *c, gfn_t gfn, int *id, uint32_t *flags)
{
	struct slot_view v;

	if (!ref_slot_at(c, 0, gfn, &v))
		return false;
	*id = v.id;
	*flags = v.flags;
	return true;
}

static bool in_range(gfn_t gfn, gfn_t base, uint64_t npages)
{
	return gfn >= base && gfn - base < npages;
}

/* Base pages an SPTE of @level maps (levels a trace file claims are not trusted). */
static uint64_t level_pages(unsigned int level)
{
	return level >= 1 && level <= 5 ? KMMU_PAGES_PER_HPAGE(level) : 1;
}

static bool op_new_covers(const struct kmmu_trace_record *r, gfn_t gfn)
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
	       ref_slot_range(c, r->memslot.slot, &base, &npages, NULL) &&
	       base != r->memslot.gpa >> PAGE_SHIFT;
}

static bool op_old_covers(struct checker *c, const struct kmmu_trace_record *r, gfn_t gfn)
{
	gfn_t base;
	uint64_t npages;

	return (r->memslot.slot >> 16) == 0 &&
	       ref_slot_range(c, r->memslot.slot, &base, &npages, NULL) &&
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
static int ops_in_flight(struct checker *c, uint64_t ts, struct memslot_op **out, bool tied)
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
static bool gfn_in_transition(struct checker *c, uint64_t ts, gfn_t gfn)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	int n = ops_in_flight(c, ts, fl, false);

	for (int i = 0; i < n; i++) {
		const struct kmmu_trace_record *r = &c->recs[fl[i]->pos];

		if (op_new_covers(r, gfn) || op_old_covers(c, r, gfn))
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
	return ref_slot_range(c, r->memslot.slot, &base, &n, NULL) &&
	       base < gfn + npages && gfn < base + n;
}

/* gfn_in_transition() for every gfn of an SPTE of @npages pages. */
static bool range_in_transition(struct checker *c, uint64_t ts, gfn_t gfn, uint64_t npages)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	int n = ops_in_flight(c, ts, fl, false);

	for (int i = 0; i < n; i++)
		if (op_overlaps(c, &c->recs[fl[i]->pos], gfn, npages))
			return true;
	return false;
}

static bool record_touches(struct checker *c, const struct kmmu_trace_record *r, gfn_t gfn)
{
	switch (r->type) {
	case KMMU_EV_SET_SPTE:
		return r->set_spte.gfn == gfn;
	case KMMU_EV_SPTE_REQUESTED:
		return r->spte_requested.gfn == gfn;
	case KMMU_EV_MMIO:
		return r->mmio.gpa >> PAGE_SHIFT == gfn;
	case KMMU_EV_MARK_MMIO_SPTE:
		return r->mark_mmio.gfn == gfn;
	case KMMU_EV_HANDLE_MMIO_PAGE_FAULT:
		return r->mmio_pf.gfn == gfn;
	case KMMU_EV_ZAP_ALL_FAST:
		return true;
	case KMMU_EV_SPTE_CHANGED:
		return in_range(gfn, r->spte_changed.gfn, level_pages(r->spte_changed.level));
	case KMMU_EV_SPLIT_HUGE_PAGE:
		return in_range(gfn, r->split.gfn, level_pages(r->split.level));
	case KMMU_ACT_SET_MEMSLOT:
		return op_new_covers(r, gfn) || op_old_covers(c, r, gfn);
	case KMMU_ACT_GUEST_ACCESS:
	case KMMU_ACT_MMIO_EXIT:
		return r->access.gpa >> PAGE_SHIFT == gfn;
	default:
		return false;
	}
}

static void diverge(struct checker *c, enum kmmu_check_property p, gfn_t gfn, bool have_gfn,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void diverge(struct checker *c, enum kmmu_check_property p, gfn_t gfn, bool have_gfn,
		    const char *fmt, ...)
{
	unsigned int max = c->opts && c->opts->max_reported ? c->opts->max_reported : 10;
	FILE *f = c->opts ? c->opts->report : NULL;
	char buf[2048], line[512];
	size_t len = 0;
	va_list ap;
	int shown = 0;

	c->res->divergences[p]++;
	if (c->res->nr_divergences++ >= max && c->res->first_divergence[0])
		return;

	kmmu_rec_format(&c->recs[c->pos], line, sizeof(line));
	len += snprintf(buf + len, sizeof(buf) - len, "divergence (%s): %s\n  expected: ",
			prop_names[p], line);
	va_start(ap, fmt);
	len += vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	va_end(ap);
	len += snprintf(buf + len, sizeof(buf) - len, "\n");
	/* What happened to this gfn just before, newest last. */
	if (have_gfn) {
		uint64_t from = c->pos > 4096 ? c->pos - 4096 : 0;
		uint64_t hits[HISTORY];

		for (uint64_t i = c->pos; i-- > from && shown < 8;)
			if (record_touches(c, &c->recs[i], gfn))
				hits[shown++] = i;
		if (shown)
			len += snprintf(buf + len, sizeof(buf) - len, "  history of gfn %#" PRIx64 ":\n", gfn);
		while (shown-- > 0 && len < sizeof(buf)) {
			kmmu_rec_format(&c->recs[hits[shown]], line, sizeof(line));
			len += snprintf(buf + len, sizeof(buf) - len, "    %s\n", line);
		}
	}
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	buf[len] = '\0';
	if (!c->res->first_divergence[0])
		snprintf(c->res->first_divergence, sizeof(c->res->first_divergence), "%s", buf);
	if (f && c->res->nr_divergences <= max)
		fputs(buf, f);
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

/* kvm_arch_memslots_updated() of the reference: the swaps of the ioctl being replayed. */
static void ref_memslots_updated(void *ctx, uint64_t gen)
{
	struct checker *c = ctx;

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
static void judge_wrap(struct checker *c, struct memslot_op *op)
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
			diverge(c, KMMU_PROP_ZAP_AT_WRAP, r->memslot.gpa >> PAGE_SHIFT, false,
				"this ioctl takes the MMIO generation to %#" PRIx64 " (reference"
				" generation %#" PRIx64 "), a wrap: kvm_mmu_zap_all_fast must run"
				" within it, or MMIO SPTEs of %u generations ago match again",
				kgen, c->swap_gens[i], (unsigned int)(c->gen_layout->gen_mask + 1));
	}
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
	int n = ops_in_flight(c, ts, fl, false);

	for (int i = 0; i < n; i++) {
		if (!op_new_covers(&c->recs[fl[i]->pos], gfn))
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

	if (op->unbacked_sptes) {
		c->res->checked[KMMU_PROP_SPTE_IN_SLOT] += op->unbacked_sptes;
		if (ret)
			diverge(c, KMMU_PROP_SPTE_IN_SLOT, op->first_new_gfn, true,
				"%u SPTEs (the first for gfn %#" PRIx64 ") were installed while"
				" this ioctl was in flight for gfns only its new range [gfn %#"
				PRIx64 "+%#" PRIx64 ") would back, but it failed: that range"
				" was never a live memslot", op->unbacked_sptes, op->first_new_gfn,
				(gfn_t)(r->memslot.gpa >> PAGE_SHIFT),
				(uint64_t)(r->memslot.size >> PAGE_SHIFT));
	}
	if (ret || !op->new_sptes || op->new_sptes_epoch != c->epoch ||
	    (slot >> 16) >= KMMU_ADDRESS_SPACE_NUM || (slot & 0xffff) >= KMMU_MEM_SLOTS_NUM)
		return;
	slot_sptes(c, slot >> 16, slot & 0xffff)->count += op->new_sptes;
}

static void on_memslot(struct checker *c, const struct kmmu_trace_record *r)
{
	struct memslot_op *op = &c->ops[c->next_op];
	uint32_t slot = r->memslot.slot, old_flags = 0;
	bool had_old, removes;
	gfn_t old_base = 0;
	uint64_t old_npages = 0;
	int ret;

	c->recent[c->nr_recent++ % GEN_RECENT] =
		(struct gen_before){ .ts = r->ts, .cpu = r->cpu, .ref = ref_generation(c) };
	had_old = ref_slot_range(c, slot, &old_base, &old_npages, &old_flags);
	/* DELETE, or MOVE: the old gfns stop being backed. */
	removes = had_old && (!r->memslot.size ||
			      (r->memslot.gpa >> PAGE_SHIFT) != old_base);

	c->nr_swap_gens = 0;
	ret = kmmu_set_memory_region(c->ms, slot, r->memslot.flags, r->memslot.gpa,
				     r->memslot.size, r->memslot.hva);
	judge_wrap(c, op);
	c->res->checked[KMMU_PROP_MEMSLOT_RESULT]++;
	if (ret != r->memslot.ret)
		diverge(c, KMMU_PROP_MEMSLOT_RESULT, r->memslot.gpa >> PAGE_SHIFT, true,
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

	if (removes && !ret && (slot >> 16) < KMMU_ADDRESS_SPACE_NUM &&
	    (slot & 0xffff) < KMMU_MEM_SLOTS_NUM) {
		struct slot_sptes *s = slot_sptes(c, slot >> 16, slot & 0xffff);

		/* A zap-all in the window reset the count: what it found is what counts. */
		if (s->count || op->sptes_at_zap) {
			c->res->checked[KMMU_PROP_ZAP_ON_REMOVE]++;
			if (!op->zapped)
				diverge(c, KMMU_PROP_ZAP_ON_REMOVE, old_base, true,
					"slot %u:%u [gfn %#" PRIx64 "+%#" PRIx64 ") had %u SPTEs since the"
					" last zap, yet nothing was zapped while it was removed",
					slot >> 16, slot & 0xffff, old_base, old_npages,
					s->count > op->sptes_at_zap ? s->count : op->sptes_at_zap);
		}
		s->count = 0;
	}
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
	int n = ops_in_flight(c, ts, fl, false);

	for (int i = 0; i < n; i++) {
		const struct kmmu_trace_record *r = &c->recs[fl[i]->pos];

		if (all || op_old_covers(c, r, gfn)) {
			uint32_t slot = r->memslot.slot;

			if (!fl[i]->zapped) {
				fl[i]->zap_ts = ts;
				if ((slot >> 16) < KMMU_ADDRESS_SPACE_NUM &&
				    (slot & 0xffff) < KMMU_MEM_SLOTS_NUM)
					fl[i]->sptes_at_zap =
						slot_sptes(c, slot >> 16, slot & 0xffff)->count;
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

static bool spte_present(uint64_t spte)
{
	return spte & KMMU_SPTE_MMU_PRESENT_MASK;	/* is_shadow_present_pte() */
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
 * - HUGE_ALLOWED (installs above 4K): kvm_mmu_hugepage_adjust() maps no
 *   huge page in a slot with dirty logging, nor in one whose gfns and host
 *   addresses are not aligned alike at that level (disallow_lpage), and
 *   the huge SPTE's gfn and pfn are aligned to its size (the pfn is
 *   masked: pfn &= ~mask).
 * - SPTE_WRITABLE: a read-only slot gives no writable pfn
 *   (__gfn_to_pfn_memslot() clears *writable; prefetch of it fails), so
 *   make_spte() never sets the Writable bit; and no huge SPTE is made
 *   writable while the slot logs dirty pages (make_spte() WARNs: huge
 *   pages are not mapped then, and fast_page_fault() does not fix a huge
 *   one).  A 4K SPTE may legitimately become writable in a dirty-logged
 *   slot at any fault (make_spte() marks the page dirty then; the TDP MMU
 *   does so even for a read fault), so that is not judged.
 */
static void judge_leaf(struct checker *c, const struct slot_view *v, gfn_t gfn,
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
			diverge(c, KMMU_PROP_SPTE_IN_SLOT, gfn, true,
				"the level-%u SPTE at gfn %#" PRIx64 " maps %#" PRIx64 " pages,"
				" but its slot 0:%d [gfn %#" PRIx64 "+%#" PRIx64 ") ends within them:"
				" a huge page must lie wholly inside one slot", level, gfn, pages,
				v->id, v->base, v->npages);
			return;
		}
		c->res->checked[KMMU_PROP_HUGE_ALLOWED]++;
		if ((gfn | kmmu_spte_to_pfn(spte)) & (pages - 1))
			diverge(c, KMMU_PROP_HUGE_ALLOWED, gfn, true,
				"a level-%u SPTE maps gfn %#" PRIx64 " to pfn %#" PRIx64 ": both"
				" must be aligned to its %#" PRIx64 " pages", level, gfn,
				kmmu_spte_to_pfn(spte), pages);
		else if (logged)
			diverge(c, KMMU_PROP_HUGE_ALLOWED, gfn, true,
				"slot 0:%d logs dirty pages: no huge page may be mapped in it"
				" (a level-%u SPTE for gfn %#" PRIx64 " was)", v->id, level, gfn);
		else if ((v->base ^ v->hva >> PAGE_SHIFT) & (pages - 1))
			diverge(c, KMMU_PROP_HUGE_ALLOWED, gfn, true,
				"slot 0:%d's gfns (from %#" PRIx64 ") and host addresses (from %#"
				PRIx64 ") are not aligned alike at level %u: no level-%u SPTE may"
				" map it (disallow_lpage)", v->id, v->base, v->hva, level, level);
	}
	/* A huge install in a dirty-logged slot is HUGE_ALLOWED's. */
	if (!ro && !(logged && huge && !install))
		return;
	c->res->checked[KMMU_PROP_SPTE_WRITABLE]++;
	if (!(spte & KMMU_PT_WRITABLE_MASK))
		return;
	if (ro)
		diverge(c, KMMU_PROP_SPTE_WRITABLE, gfn, true,
			"slot 0:%d is read-only: the level-%u SPTE for gfn %#" PRIx64 " must not be"
			" writable", v->id, level, gfn);
	else if (!spte_present(old) || !(old & KMMU_PT_WRITABLE_MASK))
		diverge(c, KMMU_PROP_SPTE_WRITABLE, gfn, true,
			"slot 0:%d logs dirty pages: the level-%u SPTE for gfn %#" PRIx64
			" must not be made writable (a write must be logged per 4K page)",
			v->id, level, gfn);
}

static void on_set_spte(struct checker *c, const struct kmmu_trace_record *r)
{
	gfn_t gfn = r->set_spte.gfn;
	struct memslot_op *fl[MAX_OPS_SEEN];
	struct slot_view v;
	int id, n;

	if (!ref_slot_at(c, 0, gfn, &v)) {
		if (gfn_in_transition(c, r->ts, gfn)) {
			attribute_in_flight(c, r->ts, gfn);
			return;
		}
		c->res->checked[KMMU_PROP_SPTE_IN_SLOT]++;
		diverge(c, KMMU_PROP_SPTE_IN_SLOT, gfn, true,
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
	if ((r->set_spte.level > 1 || (v.flags & KMMU_MEM_READONLY)) &&
	    !range_in_transition(c, r->ts, gfn, level_pages(r->set_spte.level)))
		judge_leaf(c, &v, gfn, r->set_spte.level, 0, r->set_spte.spte, true);

	/* Between the zap of a slot being removed and the end of its removal. */
	n = ops_in_flight(c, r->ts, fl, false);
	for (int i = 0; i < n; i++) {
		const struct kmmu_trace_record *op = &c->recs[fl[i]->pos];

		if (!fl[i]->zapped || (op->memslot.slot & 0xffff) != (uint32_t)id ||
		    (op->memslot.slot >> 16) != 0)
			continue;
		/*
		 * Still backed afterwards: FLAGS_ONLY, or a MOVE overlapping
		 * itself, whose zap came first: the SPTE maps the moved slot.
		 */
		if (op_new_covers(op, gfn)) {
			if (op_moves(c, op))
				op_add_new_spte(c, fl[i], gfn);
			continue;
		}
		diverge(c, KMMU_PROP_NO_SPTE_AFTER_ZAP, gfn, true,
			"slot 0:%d was zapped at %" PRIu64 ".%09" PRIu64 " for its removal; a fault"
			" on it must retry until the removal is done, not install an SPTE",
			id, fl[i]->zap_ts / 1000000000, fl[i]->zap_ts % 1000000000);
	}
}

/*
 * A read that exits to userspace traces kvm_mmio twice: READ_UNSATISFIED
 * when KVM decides it is MMIO, READ when userspace's data is completed on
 * the next KVM_RUN -- by then a slot may exist.  The decision is what is
 * judged; the completion is matched by vCPU thread and gpa.
 */
static void on_mmio(struct checker *c, const struct kmmu_trace_record *r)
{
	gfn_t gfn = r->mmio.gpa >> PAGE_SHIFT;
	struct task_ctx *t;
	uint32_t flags;
	int id;

	if (r->mmio.type == KVM_TRACE_MMIO_READ_UNSATISFIED) {
		t = task(c, r->pid, true);
		if (t) {
			t->read_pending = true;
			t->read_gpa = r->mmio.gpa;
		}
	} else if (r->mmio.type == KVM_TRACE_MMIO_READ) {
		t = task(c, r->pid, false);
		if (t && t->read_pending && t->read_gpa == r->mmio.gpa) {
			t->read_pending = false;	/* the completion of a judged read */
			return;
		}
	}

	if (!ref_gfn_slot(c, gfn, &id, &flags))
		goto ok;
	/* A write to a read-only slot is emulated as MMIO by design. */
	if ((flags & KMMU_MEM_READONLY) && r->mmio.type == KVM_TRACE_MMIO_WRITE)
		goto ok;
	if (gfn_in_transition(c, r->ts, gfn))
		return;
	c->res->checked[KMMU_PROP_MMIO_UNBACKED]++;
	diverge(c, KMMU_PROP_MMIO_UNBACKED, gfn, true,
		"gpa %#" PRIx64 " lies in live memslot 0:%d: the access must go to RAM, not"
		" be emulated as MMIO", r->mmio.gpa, id);
	return;
ok:
	c->res->checked[KMMU_PROP_MMIO_UNBACKED]++;
}

static void on_mark_mmio(struct checker *c, const struct kmmu_trace_record *r)
{
	struct memslot_op *fl[MAX_OPS_SEEN];

	/* During an update either generation may be stamped. */
	if (ops_in_flight(c, r->ts, fl, true))
		return;
	/* Nor is one from before an update another CPU's clock put earlier. */
	if (gen_skew_explains(c, r, r->mark_mmio.gen))
		return;
	if (c->have_mmio_gen) {
		bool updated = c->updates != c->mmio_gen_updates;
		bool changed = r->mark_mmio.gen != c->mmio_gen;

		c->res->checked[KMMU_PROP_MMIO_GENERATION]++;
		if (updated != changed)
			diverge(c, KMMU_PROP_MMIO_GENERATION, r->mark_mmio.gfn, true,
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

	if (ops_in_flight(c, r->ts, fl, true))
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
		diverge(c, KMMU_PROP_MMIO_GEN_MODEL, gfn, have_gfn,
			"generation %#" PRIx64 ": the reference's memslot generation is %#" PRIx64
			", and %#" PRIx64 " when the kernel's was %#" PRIx64 " (the first MMIO SPTE"
			" event), so %#" PRIx64 " with %u address space(s); %" PRIu64
			" memslot updates replayed", kgen & mask, ref, c->first_ref, c->first_kgen,
			want, c->nr_as ? c->nr_as : 2, c->updates);
}

/* Claims what @pid's next record is; none left or no task: not judged. */
static void add_claim(struct checker *c, int32_t pid, enum claim_kind kind, gfn_t gfn,
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

/*
 * MMIO_CHECK: check_mmio_spte() traces the generation it read from the
 * SPTE (the layout of spte.h, fixed from 6.1 to 6.12) and KVM's, and
 * handle_mmio_page_fault() uses the SPTE, tracing handle_mmio_page_fault
 * next, exactly when they match; else the fault takes the slow path.
 * (While a memslot update is in progress it returns early, untraced.)
 */
static void on_check_mmio(struct checker *c, const struct kmmu_trace_record *r)
{
	uint64_t gen = kmmu_get_mmio_spte_generation(c->gen_layout, r->check_mmio.spte);
	bool match = r->check_mmio.kvm_gen == r->check_mmio.spte_gen;

	judge_mmio_gen(c, r, r->check_mmio.kvm_gen, 0, false);
	c->res->checked[KMMU_PROP_MMIO_CHECK]++;
	if (gen != r->check_mmio.spte_gen) {
		diverge(c, KMMU_PROP_MMIO_CHECK, 0, false,
			"MMIO SPTE %#" PRIx64 " holds generation %#" PRIx64 ", not the %#x traced",
			r->check_mmio.spte, gen, r->check_mmio.spte_gen);
		return;
	}
	add_claim(c, r->pid, match ? CLAIM_MMIO_USED : CLAIM_MMIO_REJECTED, 0, 0);
}

/* Matched checks the task did not follow with a use, once the trace shows uses at all. */
static void judge_mmio_unused(struct checker *c)
{
	if (!c->mmio_unused || !c->mmio_pfs)
		return;
	c->pos = c->mmio_unused_pos;
	diverge(c, KMMU_PROP_MMIO_CHECK, 0, false,
		"%" PRIu64 " check_mmio_spte with matching generations (this the first) were"
		" not followed by the task's handle_mmio_page_fault: the SPTE must be used",
		c->mmio_unused);
}

/*
 * handle_mmio_page_fault: KVM honoured an MMIO SPTE (its generation
 * matched) and emulates the access as MMIO.  Outside an ioctl changing the
 * gfn, a live memslot there means a stale SPTE was trusted.
 */
static void on_handle_mmio_pf(struct checker *c, const struct kmmu_trace_record *r)
{
	gfn_t gfn = r->mmio_pf.gfn;
	uint32_t flags;
	int id;

	if (ref_gfn_slot(c, gfn, &id, &flags)) {
		if (gfn_in_transition(c, r->ts, gfn))
			return;
		c->res->checked[KMMU_PROP_MMIO_SPTE_UNBACKED]++;
		diverge(c, KMMU_PROP_MMIO_SPTE_UNBACKED, gfn, true,
			"gfn %#" PRIx64 " lies in live memslot 0:%d: its MMIO SPTE is stale and"
			" must fail the generation check, not be used", gfn, id);
		return;
	}
	c->res->checked[KMMU_PROP_MMIO_SPTE_UNBACKED]++;
}

static uint64_t leaf_key(unsigned int as_id, unsigned int level, gfn_t gfn)
{
	return (gfn << 8 | (as_id & 0xf) << 4 | (level & 0xf)) + 1;
}

/* The entry of @key, created if needed; NULL when out of memory. */
static struct leaf *leaf_get(struct checker *c, uint64_t key)
{
	return table_get(c, &c->leaves, key);
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
		l = table_find(&c->leaves, leaf_key(0, SPLIT_KEY_LEVEL | level,
						    gfn & ~(level_pages(level + 1) - 1)));
		if (l)
			splits = l->live;
	}
	l = leaf_get(c, leaf_key(as_id, level, gfn));
	if (l && l->splits_seen != splits) {
		l->live += splits - l->splits_seen;
		l->splits_seen = splits;
		l->last_pos = 0;	/* written untraced: its value is unknown */
	}
	return l;
}

static bool tdp_present(uint64_t spte)
{
	return spte & KMMU_SPTE_MMU_PRESENT_MASK;	/* is_shadow_present_pte() */
}

/* is_shadow_present_pte() && is_last_spte(): what kvm_update_page_stats() counts. */
static bool tdp_leaf(uint64_t spte, unsigned int level)
{
	return tdp_present(spte) && kmmu_is_last_spte(spte, level);
}

/* A present leaf, or with @table a present page-table SPTE. */
static bool tdp_kind(uint64_t spte, unsigned int level, bool table)
{
	return tdp_present(spte) && kmmu_is_last_spte(spte, level) != table;
}

static bool ad_disabled(uint64_t spte)
{
	return (spte >> SPTE_TDP_AD_SHIFT & 3) == SPTE_TDP_AD_DISABLED;
}

/* The Accessed and Dirty bits of the host's format; false if it is unknown. */
static bool ad_masks(struct checker *c, uint64_t *a, uint64_t *d)
{
	if (!c->host || c->host->host.tdp != 1)
		return false;
	if (c->host->host.backend == KMMU_HOST_SVM) {
		*a = KMMU_PT_ACCESSED_MASK;
		*d = KMMU_PT_DIRTY_MASK;
		return true;
	}
	if (c->host->host.backend == KMMU_HOST_VMX) {
		*a = EPT_ACCESSED;
		*d = EPT_DIRTY;
		return true;
	}
	return false;
}

/*
 * A task's records in order: a kvm_age_hva starts an aging pass, which
 * runs kvm_tdp_mmu_age_gfn_range() over the slots its hva range overlaps
 * with mmu_lock held (no other record of that task can come in between),
 * and its A clears are the SPTE changes that follow.  Any other record of
 * the task ends the pass.  A record that is not the task's own work in the
 * kernel (an action) ends it too, which only narrows what counts as aging.
 */
static void track_task(struct checker *c, const struct kmmu_trace_record *r)
{
	struct task_ctx *t;

	if (r->type == KMMU_EV_SPTE_CHANGED || r->type == KMMU_EV_SPLIT_HUGE_PAGE || !r->pid)
		return;
	t = task(c, r->pid, r->type == KMMU_EV_AGE_HVA);
	if (!t)
		return;
	t->in_pass = r->type == KMMU_EV_AGE_HVA;
	if (t->in_pass) {
		t->start = r->hva_range.start;
		t->end = r->hva_range.end;
		t->pass = c->pos + 1;
	}
}

/*
 * Does the aging pass @t cover the SPTE (@as_id, @gfn, @level)?  As
 * __kvm_handle_hva_range(): the slots whose host range overlaps the pass,
 * and in them every gfn whose page intersects it; the SPTE is visited if
 * any of its gfns is.
 */
static bool pass_covers(struct checker *c, const struct task_ctx *t, unsigned int as_id, gfn_t gfn,
			unsigned int level)
{
	struct kmmu_memory_slot *s;
	bool covers = false;

	if (as_id >= KMMU_ADDRESS_SPACE_NUM)
		return false;
	urcu_memb_read_lock();
	s = kmmu_gfn_to_memslot(kmmu_memslots_active(c->ms, as_id), gfn);
	if (s) {
		gfn_t lo = gfn > s->base_gfn ? gfn : s->base_gfn;
		gfn_t hi = gfn + level_pages(level);
		uint64_t hva_lo, hva_hi;

		if (hi > s->base_gfn + s->npages)
			hi = s->base_gfn + s->npages;
		hva_lo = s->userspace_addr + ((lo - s->base_gfn) << PAGE_SHIFT);
		hva_hi = s->userspace_addr + ((hi - s->base_gfn) << PAGE_SHIFT);
		covers = hva_lo < t->end && t->start < hva_hi;
	}
	urcu_memb_read_unlock();
	return covers;
}

/* The idle range holding @gfn (address space 0) since before @ts; -1 if none. */
static int idle_range(struct checker *c, gfn_t gfn, uint64_t ts)
{
	for (unsigned int i = 0; i < c->nr_idle; i++)
		if (c->idle[i].ts < ts && in_range(gfn, c->idle[i].gfn, c->idle[i].npages))
			return i;
	return -1;
}

/*
 * An Accessed-bit clear of a present leaf that stays one (@old and @new
 * are both leaves), as age_gfn_range() makes it:
 * same page, A/D enabled: A cleared; A/D disabled (EPT without A/D):
 * marked for access tracking (RWX cleared, R and X saved).  Other 6.1
 * paths that produce the same change: make_spte() for a prefetch, i.e. the
 * completion of an async page fault, which needs an in-kernel LAPIC (the
 * kmmu runtime's VMs have none) and a racing fault that installed the SPTE
 * first; not told apart, so a test with async page faults may see them
 * reported here.
 */
static bool is_a_clear(struct checker *c, uint64_t old, uint64_t new)
{
	uint64_t a, d;

	if (kmmu_spte_to_pfn(old) != kmmu_spte_to_pfn(new))
		return false;
	if (ad_disabled(old))
		return c->host && c->host->host.backend == KMMU_HOST_VMX && (old & EPT_RWX_MASK) &&
		       !(new & EPT_RWX_MASK);
	if (!ad_masks(c, &a, &d))
		return false;
	return (old & a) && !(new & a);
}

/* A change of a leaf SPTE that stays a leaf: is it aging, and right? */
static void judge_aging(struct checker *c, const struct kmmu_trace_record *r, struct leaf *l)
{
	const uint64_t old = r->spte_changed.old_spte, new = r->spte_changed.new_spte;
	unsigned int level = r->spte_changed.level, as_id = r->spte_changed.as_id;
	gfn_t gfn = r->spte_changed.gfn;
	struct task_ctx *t;
	uint64_t a, d, lost;
	int i;

	if (!is_a_clear(c, old, new))
		return;
	t = task(c, r->pid, false);

	/* (a) inside an aging pass of this task that covers the gfn */
	if (!t || !t->in_pass) {
		c->res->checked[KMMU_PROP_AGING_IN_PASS]++;
		diverge(c, KMMU_PROP_AGING_IN_PASS, gfn, true,
			"the Accessed bit of gfn %#" PRIx64 " (level %u) was cleared outside any"
			" aging pass: only age_gfn_range(), after a kvm_age_hva of this task,"
			" clears it", gfn, level);
		return;
	}
	if (!gfn_in_transition(c, r->ts, gfn)) {
		c->res->checked[KMMU_PROP_AGING_IN_PASS]++;
		if (!pass_covers(c, t, as_id, gfn, level))
			diverge(c, KMMU_PROP_AGING_IN_PASS, gfn, true,
				"the aging pass that cleared the Accessed bit of gfn %#" PRIx64
				" (level %u) is for hva %#" PRIx64 "-%#" PRIx64 ", which no memslot"
				" maps to this gfn", gfn, level, t->start, t->end);
	}

	/* (b) the Dirty and Writable bits survive */
	c->res->checked[KMMU_PROP_AGING_KEEPS_DIRTY]++;
	if (ad_disabled(old)) {
		/* mark_spte_for_access_track(); the dirty page went to kvm_set_pfn_dirty(). */
		uint64_t want = (old | (old & EPT_ACC_TRACK_SAVED) << EPT_ACC_TRACK_SHIFT) &
				~EPT_RWX_MASK;

		if (new != want)
			diverge(c, KMMU_PROP_AGING_KEEPS_DIRTY, gfn, true,
				"access tracking of gfn %#" PRIx64 " must give %#" PRIx64
				" (RWX cleared, R and X saved, nothing else changed)", gfn, want);
	} else if (ad_masks(c, &a, &d)) {
		lost = old & ~new & (d | KMMU_PT_WRITABLE_MASK);
		if (lost)
			diverge(c, KMMU_PROP_AGING_KEEPS_DIRTY, gfn, true,
				"aging cleared the Accessed bit of gfn %#" PRIx64 " and lost its%s%s"
				" bit: a dirty page would be freed without writeback", gfn,
				lost & d ? " Dirty" : "", lost & KMMU_PT_WRITABLE_MASK ? " Writable" : "");
	}

	/* (c) once idle, young in at most one pass: the one that saw the last touch */
	i = as_id ? -1 : idle_range(c, gfn, r->ts);
	if (i < 0 || !l)
		return;
	c->res->checked[KMMU_PROP_AGING_IDLE]++;
	if (!l->idle_pass) {
		l->idle_pass = t->pass;
	} else if (l->idle_pass != t->pass) {
		uint64_t first = c->recs[l->idle_pass - 1].ts;

		diverge(c, KMMU_PROP_AGING_IDLE, gfn, true,
			"the guest left gpa %#" PRIx64 "+%#" PRIx64 " idle at %" PRIu64 ".%09" PRIu64
			" and the aging pass at %" PRIu64 ".%09" PRIu64 " found gfn %#" PRIx64
			" young: this pass must find it old (aging reports a page young that"
			" the guest left idle)", c->idle[i].gfn << PAGE_SHIFT,
			c->idle[i].npages << PAGE_SHIFT, c->idle[i].ts / 1000000000,
			c->idle[i].ts % 1000000000, first / 1000000000, first % 1000000000, gfn);
	}
}

/*
 * A TDP MMU change that leaves a present leaf: installs (the faults',
 * also traced by kvm_mmu_set_spte, and those no fault makes: the MMU
 * notifier's change_pte in 6.1) must lie in a live slot like any SPTE;
 * both installs and leaf-to-leaf changes are judged by judge_leaf().
 * Address space 0 only: the memslot ioctls of others are not followed in
 * flight.
 */
static void judge_tdp_leaf(struct checker *c, const struct kmmu_trace_record *r, bool install)
{
	unsigned int level = r->spte_changed.level;
	gfn_t gfn = r->spte_changed.gfn;
	struct slot_view v;

	if (r->spte_changed.as_id || range_in_transition(c, r->ts, gfn, level_pages(level)))
		return;
	if (!ref_slot_at(c, 0, gfn, &v)) {
		if (!install)
			return;	/* a leaf already installed: judged when it was */
		c->res->checked[KMMU_PROP_SPTE_IN_SLOT]++;
		diverge(c, KMMU_PROP_SPTE_IN_SLOT, gfn, true,
			"gfn %#" PRIx64 " is in no live memslot: no SPTE may map it (a level-%u"
			" leaf was installed)", gfn, level);
		return;
	}
	if (install)
		c->res->checked[KMMU_PROP_SPTE_IN_SLOT]++;
	judge_leaf(c, &v, gfn, level, r->spte_changed.old_spte, r->spte_changed.new_spte,
		   install);
}

/* shadow_mmu_writable_mask of the host's TDP format; 0 if unknown. */
static uint64_t mmu_writable_mask(struct checker *c)
{
	if (!c->host || c->host->host.tdp != 1)
		return 0;
	if (c->host->host.backend == KMMU_HOST_SVM)
		return KMMU_SPTE_MMU_WRITABLE;		/* DEFAULT_SPTE_MMU_WRITABLE */
	if (c->host->host.backend == KMMU_HOST_VMX)
		return 1ULL << 58;			/* EPT_SPTE_MMU_WRITABLE */
	return 0;
}

/*
 * Whether the trace can miss SPTE changes of the test's VM: the session's
 * page stats record (the run's last) says if other tasks' notifier calls
 * or the NX huge page recovery thread may have changed SPTEs untraced.
 * Looked up once, from the end.
 */
static const char *history_gaps(struct checker *c)
{
	for (uint64_t i = c->nr; i-- > 0;) {
		const struct kmmu_trace_record *r = &c->recs[i];

		if (r->type != KMMU_ACT_STATS)
			continue;
		if (r->stats.flags & KMMU_STATS_NX_RECOVERY)
			return "the NX huge page recovery thread zaps SPTEs untraced";
		if (r->stats.flags & KMMU_STATS_OTHERS_UNKNOWN)
			return "other tasks' MMU notifier calls were not captured";
		if (r->stats.nr_vms != 1)
			return "not exactly one VM: SPTE changes name no VM";
		return NULL;
	}
	return "no page stats record: whether other tasks changed SPTEs is unknown";
}

/* Appends gfns [lo, hi) to the untraced unmap log; false when out of memory. */
static bool unmap_log_add(struct checker *c, gfn_t lo, gfn_t hi, uint64_t ts)
{
	if (c->nr_unmap_log == c->unmap_log_cap) {
		uint32_t cap = c->unmap_log_cap ? c->unmap_log_cap * 2 : 1024;
		void *n = realloc(c->unmap_log, cap * sizeof(*c->unmap_log));

		if (!n)
			return false;
		c->unmap_log = n;
		c->unmap_log_cap = cap;
	}
	c->unmap_log[c->nr_unmap_log].lo = lo;
	c->unmap_log[c->nr_unmap_log].hi = hi;
	c->unmap_log[c->nr_unmap_log].ts = ts;
	c->nr_unmap_log++;
	return true;
}

/*
 * The gfns [@lo, @hi) of a slot (@base, @hva, @npages) whose pages the host
 * range [@start, @end) touches; false if none.
 */
static bool hva_range_gfns(gfn_t base, uint64_t hva, uint64_t npages, uint64_t start,
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

/* Logs the gfns of a slot (@base, @hva, @npages) the unmap [@start, @end) hits. */
static bool unmap_log_slot(struct checker *c, gfn_t base, uint64_t hva, uint64_t npages,
			   uint64_t start, uint64_t end, uint64_t ts)
{
	gfn_t lo, hi;

	return !hva_range_gfns(base, hva, npages, start, end, &lo, &hi) ||
	       unmap_log_add(c, lo, hi, ts);
}

/*
 * An untraced unmap (another task's notifier call) zaps SPTEs the trace
 * does not show: the gfns it covers, through the reference slots and, for
 * the ioctls in flight, their new ones, for judge_history().  Out of
 * memory: history is not judged any more.
 */
static void log_untraced_unmap(struct checker *c, const struct kmmu_trace_record *r)
{
	uint64_t start = r->hva_range.start, end = r->hva_range.end;
	struct memslot_op *fl[MAX_OPS_SEEN];
	struct kmmu_memory_slot *s;
	struct kmmu_memslots *slots;
	bool ok = true;
	int n;

	if (!r->hva_range.untraced || c->no_history || start >= c->hva_hi || c->hva_lo >= end)
		return;
	n = ops_in_flight(c, r->ts, fl, true);
	for (int i = 0; i < n && ok; i++) {
		const struct kmmu_trace_record *op = &c->recs[fl[i]->pos];

		if (!(op->memslot.slot >> 16))
			ok = unmap_log_slot(c, op->memslot.gpa >> PAGE_SHIFT, op->memslot.hva,
					    op->memslot.size >> PAGE_SHIFT, start, end, r->ts);
	}
	urcu_memb_read_lock();
	slots = kmmu_memslots_active(c->ms, 0);
	kmmu_for_each_memslot_in_hva_range(s, slots, start, end) {
		if (!ok)
			break;
		ok = unmap_log_slot(c, s->base_gfn, s->userspace_addr, s->npages, start, end,
				    r->ts);
	}
	urcu_memb_read_unlock();
	if (!ok)
		c->no_history = "out of memory";
}

/*
 * A notifier call is traced before it takes mmu_lock (and the task may be
 * preempted in between), so a fault may still install the SPTE after the
 * event and before its zap: unmaps this long before a change count too.
 */
#define UNMAP_LATENCY_NS	1000000000ULL

/*
 * May an untraced unmap have zapped the SPTE (@gfn, @level) since its last
 * traced change at @since?  Too many to look at: assume so.
 */
static bool unmap_may_explain(struct checker *c, uint64_t since, gfn_t gfn, unsigned int level)
{
	uint64_t from_ts = since > UNMAP_LATENCY_NS ? since - UNMAP_LATENCY_NS : 0;
	uint32_t from = 0, hi = c->nr_unmap_log;
	gfn_t end = gfn + level_pages(level);

	while (from < hi) {
		uint32_t mid = from + (hi - from) / 2;

		if (c->unmap_log[mid].ts < from_ts)
			from = mid + 1;
		else
			hi = mid;
	}
	if (c->nr_unmap_log - from > 256)
		return true;
	for (uint32_t i = from; i < c->nr_unmap_log; i++)
		if (c->unmap_log[i].lo < end && gfn < c->unmap_log[i].hi)
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

static bool same_key(const struct kmmu_trace_record *a, const struct kmmu_trace_record *b)
{
	return a->type == KMMU_EV_SPTE_CHANGED && a->spte_changed.gfn == b->spte_changed.gfn &&
	       a->spte_changed.level == b->spte_changed.level &&
	       a->spte_changed.as_id == b->spte_changed.as_id;
}

/*
 * Is there a change of @r's SPTE from another CPU than @r's, within
 * CPU_SKEW_NS of @ts, that left what @r starts from: @r may really have
 * followed it?  Too many records to look at: assume so.
 */
static bool other_cpu_explains(struct checker *c, const struct kmmu_trace_record *r, uint64_t ts)
{
	uint64_t from = ts > CPU_SKEW_NS ? ts - CPU_SKEW_NS : 0, lo = 0, hi = c->nr;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (c->recs[mid].ts < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint64_t n = 0; lo < c->nr && c->recs[lo].ts <= ts + CPU_SKEW_NS; lo++) {
		const struct kmmu_trace_record *x = &c->recs[lo];

		if (++n > SKEW_SCAN_MAX)
			return true;
		if (same_key(x, r) && x->cpu != r->cpu &&
		    x->spte_changed.new_spte == r->spte_changed.old_spte)
			return true;
	}
	return false;
}

/*
 * Before reporting that @r does not start from what the change at @prev
 * left: can the per-CPU clocks' skew explain it?  When @r really came
 * before @prev (@prev starts from what @r left), or after another CPU's
 * change of the SPTE sorted elsewhere that left what @r starts from.
 * Looked at only then: divergences are rare.
 */
static bool order_unsure(struct checker *c, const struct kmmu_trace_record *r, uint64_t prev)
{
	const struct kmmu_trace_record *p = &c->recs[prev];

	if (p->cpu != r->cpu && r->ts - p->ts < CPU_SKEW_NS &&
	    p->spte_changed.old_spte == r->spte_changed.new_spte)
		return true;
	return other_cpu_explains(c, r, p->ts) || other_cpu_explains(c, r, r->ts);
}

/*
 * The change @r must start from @last, up to what KVM changes untraced
 * (see judge_history()).
 */
static void compare_history(struct checker *c, const struct kmmu_trace_record *r, uint64_t last,
			    uint64_t prev, bool table)
{
	const uint64_t old = r->spte_changed.old_spte;
	uint64_t a, d, may_set, lost, gained;

	if (ad_disabled(last) || !ad_masks(c, &a, &d))
		return;
	may_set = a | d;
	if (!table && (last & mmu_writable_mask(c)))
		may_set |= KMMU_PT_WRITABLE_MASK;
	lost = last & ~old & ~a;
	gained = old & ~last & ~may_set;
	if ((lost || gained) && order_unsure(c, r, prev))
		return;
	c->res->checked[KMMU_PROP_SPTE_HISTORY]++;
	if (lost || gained)
		diverge(c, KMMU_PROP_SPTE_HISTORY, r->spte_changed.gfn, true,
			"old SPTE %#" PRIx64 " (level %u): the previous traced change of this"
			" SPTE left %#" PRIx64 ", and since then only the CPU (Accessed, Dirty),"
			" fast_page_fault() (Writable) and other tasks' aging (Accessed) change"
			" it untraced; bits %#" PRIx64
			" lost, %#" PRIx64 " gained", old, r->spte_changed.level, last,
			lost, gained);
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
 * all) or zap the leaf (unmaps: logged, see unmap_may_explain()).  Every
 * other write, every zap included, goes through handle_changed_spte() and
 * is traced (6.1 and 6.12).
 */
static bool judge_history(struct checker *c, const struct kmmu_trace_record *r,
			  const struct leaf *l, bool table)
{
	const uint64_t old = r->spte_changed.old_spte;
	struct memslot_op *fl[MAX_OPS_SEEN];
	uint64_t a, d;

	if (!l || l->live != 1 || !l->last_pos || c->vm_creates != 1 || c->no_history ||
	    ad_disabled(l->last) || !ad_masks(c, &a, &d))
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
		bool new_root = prev->ts > c->last_zap_all_ts &&
				!tdp_kind(prev->spte_changed.old_spte, prev->spte_changed.level,
					  table);
		int n = new_root ? 0 : ops_in_flight(c, r->ts, fl, true);

		for (int i = 0; i < n; i++)
			if (fl[i]->zapped_all)
				return false;
	}
	if (!spte_present(old) &&
	    unmap_may_explain(c, c->recs[l->last_pos - 1].ts, r->spte_changed.gfn,
			      r->spte_changed.level))
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
 * root: SPTE_HISTORY, where judge_history() could not tell the roots
 * apart.  @was and @is: the change's old and new SPTE are of the key's
 * kind.
 */
static void judge_reinstall(struct checker *c, const struct kmmu_trace_record *r,
			    struct leaf *l, bool was, bool is, bool judged)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	bool window = false;
	int n;

	if (!l || was == is)
		return;
	n = c->last_zap_all_ts ? ops_in_flight(c, r->ts, fl, true) : 0;
	for (int i = 0; i < n; i++)
		window |= fl[i]->zapped_all;
	if (was) {
		if (!window || r->pid != c->zapper)
			l->inst_pos = 0;
		return;
	}
	if (window && !judged && l->inst_pos && c->vm_creates == 1 && !c->no_history &&
	    c->recs[l->inst_pos - 1].ts > c->last_zap_all_ts && r->ts > c->last_zap_all_ts &&
	    !order_unsure(c, r, l->inst_pos - 1)) {
		c->res->checked[KMMU_PROP_SPTE_HISTORY]++;
		diverge(c, KMMU_PROP_SPTE_HISTORY, r->spte_changed.gfn, true,
			"installed (level %u) a second time since the zap-all at %" PRIu64 ".%09"
			PRIu64 ", with no removal by another task than the zapping one in"
			" between: after a zap-all every install goes to the new root",
			r->spte_changed.level, c->last_zap_all_ts / 1000000000,
			c->last_zap_all_ts % 1000000000);
	}
	l->inst_pos = c->pos + 1;
}

/* After a change of @l's key: is its one live leaf known? */
static void note_history(struct checker *c, const struct kmmu_trace_record *r, struct leaf *l,
			 bool is_leaf)
{
	if (!l)
		return;
	l->last = r->spte_changed.new_spte;
	l->last_pos = is_leaf && l->live == 1 ? c->pos + 1 : 0;
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
 * task's next record (checked by settle_claims()).
 */
static void judge_leaf_change(struct checker *c, const struct kmmu_trace_record *r)
{
	const uint64_t old = r->spte_changed.old_spte, new = r->spte_changed.new_spte;
	uint64_t a, d, cleared_ok;

	c->res->checked[KMMU_PROP_LEAF_CHANGE]++;
	if (kmmu_spte_to_pfn(old) != kmmu_spte_to_pfn(new)) {
		diverge(c, KMMU_PROP_LEAF_CHANGE, r->spte_changed.gfn, true,
			"a present leaf (level %u) moved from pfn %#" PRIx64 " to %#" PRIx64
			" in place: KVM must zap it first", r->spte_changed.level,
			kmmu_spte_to_pfn(old), kmmu_spte_to_pfn(new));
		return;
	}
	/* handle_changed_spte() returns before its tracepoint when nothing changed. */
	if (old == new) {
		diverge(c, KMMU_PROP_LEAF_CHANGE, r->spte_changed.gfn, true,
			"a change of a present leaf (level %u) from %#" PRIx64 " to itself: KVM"
			" traces only real changes", r->spte_changed.level, old);
		return;
	}
	if (!c->set_sptes || ad_disabled(old) || ad_disabled(new) || !ad_masks(c, &a, &d))
		return;
	cleared_ok = a | d | KMMU_PT_WRITABLE_MASK | mmu_writable_mask(c);
	if (!(new & ~old) && !(old & ~new & ~cleared_ok))
		return;
	add_claim(c, r->pid, CLAIM_SET_SPTE, r->spte_changed.gfn, r->spte_changed.level);
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
		diverge(c, KMMU_PROP_LEAF_CHANGE, f->gfn, true,
			"%#" PRIx64 " -> %#" PRIx64 " (level %u) sets or clears bits only a"
			" fault changes in place, but the task's next event is not that"
			" fault's kvm_mmu_set_spte for the gfn", e->spte_changed.old_spte,
			e->spte_changed.new_spte, f->level);
	else if (f->kind == CLAIM_MMIO_USED)
		diverge(c, KMMU_PROP_MMIO_CHECK, 0, false,
			"generations %#x and %#x match: handle_mmio_page_fault() must use the"
			" MMIO SPTE (trace handle_mmio_page_fault next), but the task's next"
			" event is a %s", e->check_mmio.kvm_gen, e->check_mmio.spte_gen,
			kmmu_rec_type_name(r->type));
	else
		diverge(c, KMMU_PROP_MMIO_CHECK, r->mmio_pf.gfn, true,
			"generations %#x and %#x differ: the stale MMIO SPTE must not be used,"
			" yet handle_mmio_page_fault for gfn %#" PRIx64 " follows",
			e->check_mmio.kvm_gen, e->check_mmio.spte_gen, r->mmio_pf.gfn);
	c->pos = pos;
}

/* @r is the next record of a task with a claim: does it keep it? */
static void settle_claims(struct checker *c, const struct kmmu_trace_record *r)
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

/*
 * Page-table SPTEs have a history too: linked (tdp_mmu_link_sp()), changed
 * by the CPU only in the Accessed bit, unlinked when zapped or replaced by
 * a huge leaf, all traced.  Their keys are the leaves' with TABLE_KEY_AS
 * in the address space; live counts them as for leaves, for
 * judge_history().
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
	judge_reinstall(c, r, t, was, is, judge_history(c, r, t, true));
	if (is && !was)
		t->live++;
	else if (was && !is && t->live)
		t->live--;
	note_history(c, r, t, is);
}

/* __handle_changed_spte(): the page stats follow leaf-ness; then aging. */
static void on_spte_changed(struct checker *c, const struct kmmu_trace_record *r)
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
	judge_reinstall(c, r, l, was_leaf, is_leaf, judge_history(c, r, l, false));
	if (was_leaf && is_leaf)
		judge_leaf_change(c, r);
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
	note_history(c, r, l, is_leaf);
	if (tdp_kind(old, level, true) || tdp_kind(new, level, true))
		track_table(c, r);
	if (is_leaf)
		judge_tdp_leaf(c, r, !was_leaf);
	if (was_leaf && is_leaf)
		judge_aging(c, r, l);
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
static void on_split(struct checker *c, const struct kmmu_trace_record *r)
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

/* Another task unmapped guest memory, and the trace lacks its SPTE changes. */
static void on_unmap(struct checker *c, const struct kmmu_trace_record *r)
{
	if (r->hva_range.untraced && r->hva_range.start < c->hva_hi &&
	    c->hva_lo < r->hva_range.end)
		c->untraced_unmaps++;
}

/* Adds the leaves of each level that gfns [lo, hi) can hold, @roots times. */
static void bound_add(struct checker *c, gfn_t lo, gfn_t hi, unsigned int roots)
{
	for (unsigned int l = 1; l <= 3 && lo < hi; l++) {
		unsigned int shift = KMMU_HPAGE_GFN_SHIFT(l);

		c->unmap_bound[l - 1] += (((hi - 1) >> shift) - (lo >> shift) + 1) * roots;
	}
}

static void bound_slot(struct checker *c, gfn_t base, uint64_t hva, uint64_t npages,
		       const struct kmmu_trace_record *r, unsigned int roots)
{
	gfn_t lo, hi;

	if (hva_range_gfns(base, hva, npages, r->hva_range.start, r->hva_range.end, &lo, &hi))
		bound_add(c, lo, hi, roots);
}

/*
 * How many leaves per level an untraced unmap may have removed: one per
 * root for every huge page frame of each level its host range covers
 * through the slots of every address space, the reference's and those of
 * the ioctls in flight.  A VM has one root per address space except while
 * a memslot ioctl's kvm_mmu_zap_all_fast() runs: two then.  A bound on the
 * page stats' shortfall (on_stats()).
 */
static void bound_untraced_unmap(struct checker *c, const struct kmmu_trace_record *r)
{
	struct memslot_op *fl[MAX_OPS_SEEN];
	struct kmmu_memory_slot *s;
	unsigned int roots;
	int n;

	if (!r->hva_range.untraced || r->hva_range.start >= c->hva_hi ||
	    c->hva_lo >= r->hva_range.end)
		return;
	n = ops_in_flight(c, r->ts, fl, true);
	roots = n ? 2 : 1;
	for (int i = 0; i < n; i++) {
		const struct kmmu_trace_record *op = &c->recs[fl[i]->pos];

		bound_slot(c, op->memslot.gpa >> PAGE_SHIFT, op->memslot.hva,
			   op->memslot.size >> PAGE_SHIFT, r, roots);
	}
	urcu_memb_read_lock();
	for (int as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++)
		kmmu_for_each_memslot_in_hva_range(s, kmmu_memslots_active(c->ms, as),
						   r->hva_range.start, r->hva_range.end)
			bound_slot(c, s->base_gfn, s->userspace_addr, s->npages, r, roots);
	urcu_memb_read_unlock();
}

/* Why the TDP MMU's SPTE changes cannot be in this trace; NULL if they can. */
static const char *no_tdp_mmu(struct checker *c)
{
	if (c->spte_changes ||
	    (c->host && c->host->host.tdp == 1 && c->host->host.tdp_mmu == 1))
		return NULL;
	return c->host ? "shadow MMU: SPTE changes are not traced" :
			 "no kvm_tdp_mmu_spte_changed in this trace";
}

static void not_checkable(struct checker *c, enum kmmu_check_property p, const char *why)
{
	c->res->not_checkable[p] = why;
}

/*
 * The kernel's page stats, read while nothing changed SPTEs, against the
 * leaves the trace installed and removed.  The trace may lack changes in
 * one direction only: removals by tasks it did not follow (another task's
 * mmu notifier call, the NX huge page recovery thread).  Nothing adds a
 * leaf outside the test's own threads, so more leaves in the kernel than
 * in the trace is always a divergence; fewer is one only when no removal
 * can have escaped the trace.
 */
/*
 * The kernel has @missing fewer leaves of level @l + 1 than the trace:
 * removals by other tasks' unmaps the trace lacks, at most as many as
 * bound_untraced_unmap() counted.  Judged as that bound only.
 */
static void judge_stats_shortfall(struct checker *c, const struct kmmu_trace_record *r, int l,
				  int64_t missing, gfn_t gfn, bool have_gfn)
{
	static const char *const names[3] = { "pages_4k", "pages_2m", "pages_1g" };

	if ((uint64_t)missing > c->unmap_bound[l]) {
		diverge(c, KMMU_PROP_PAGE_STATS, gfn, have_gfn,
			"%s %" PRIu64 ": %" PRId64 " fewer leaf SPTEs than the trace installed and"
			" removed, but other tasks' unmaps of guest memory can have removed at"
			" most %" PRIu64 " untraced", names[l], r->stats.pages[l], missing,
			c->unmap_bound[l]);
		return;
	}
	not_checkable(c, KMMU_PROP_PAGE_STATS,
		      "where other tasks' unmaps removed leaves untraced, the stats were judged"
		      " only against the most those unmaps could remove");
}

static void on_stats(struct checker *c, const struct kmmu_trace_record *r)
{
	static const char *const names[3] = { "pages_4k", "pages_2m", "pages_1g" };
	bool may_miss_removals = r->stats.flags & (KMMU_STATS_NX_RECOVERY |
						   KMMU_STATS_OTHERS_UNKNOWN);
	const char *why = no_tdp_mmu(c);

	if (why) {
		not_checkable(c, KMMU_PROP_PAGE_STATS, why);
		return;
	}
	if (r->stats.nr_vms > c->vm_creates) {
		not_checkable(c, KMMU_PROP_PAGE_STATS,
			      "a VM older than the trace: its first SPTEs are not in it");
		return;
	}
	if (c->last_leaf_change_ts >= r->stats.start_ts) {
		not_checkable(c, KMMU_PROP_PAGE_STATS, "SPTEs changed while the stats were read");
		return;
	}
	for (int l = 0; l < 3; l++) {
		int64_t kernel = (int64_t)r->stats.pages[l], ref = c->pages[l];
		uint64_t last = c->last_leaf_change[l];
		const struct kmmu_trace_record *e = last ? &c->recs[last - 1] : NULL;
		gfn_t gfn = !e ? 0 : e->type == KMMU_EV_SPLIT_HUGE_PAGE ? e->split.gfn :
			    e->spte_changed.gfn;

		if (kernel < ref && may_miss_removals) {
			not_checkable(c, KMMU_PROP_PAGE_STATS,
				      r->stats.flags & KMMU_STATS_NX_RECOVERY ?
				      "the NX huge page recovery thread zaps SPTEs untraced" :
				      "other tasks' MMU notifier calls were not captured");
			continue;
		}
		c->res->checked[KMMU_PROP_PAGE_STATS]++;
		if (kernel < ref && c->untraced_unmaps) {
			judge_stats_shortfall(c, r, l, ref - kernel, gfn, e != NULL);
			continue;
		}
		if (kernel != ref)
			diverge(c, KMMU_PROP_PAGE_STATS, gfn, e != NULL,
				"%s %" PRId64 " (%u VM(s)), but the trace installed and removed"
				" leaf SPTEs to %" PRId64 "%s; the last leaf change at this level"
				" was gfn %#" PRIx64, names[l], kernel, r->stats.nr_vms, ref,
				c->unknown_leaves ? " (and removed leaves it never saw installed)" :
				"", gfn);
	}
}

static void on_idle(struct checker *c, const struct kmmu_trace_record *r)
{
	if (c->nr_idle == MAX_IDLE)
		return;		/* not judged: a lost range only narrows the property */
	c->idle[c->nr_idle].gfn = r->idle.gpa >> PAGE_SHIFT;
	c->idle[c->nr_idle].npages = r->idle.size >> PAGE_SHIFT;
	c->idle[c->nr_idle].ts = r->ts;
	c->nr_idle++;
}

/* Why the TDP properties judged nothing, when that is known. */
static void explain_tdp(struct checker *c)
{
	static const enum kmmu_check_property aging[] = {
		KMMU_PROP_AGING_IN_PASS, KMMU_PROP_AGING_KEEPS_DIRTY, KMMU_PROP_AGING_IDLE,
	};
	uint64_t a, d;
	const char *no_tdp = no_tdp_mmu(c), *why = no_tdp;

	if (!why && !ad_masks(c, &a, &d))
		why = "the host's SPTE format (EPT or NPT) is not in this trace";
	for (unsigned int i = 0; i < sizeof(aging) / sizeof(aging[0]); i++)
		if (!c->res->checked[aging[i]] && !c->res->not_checkable[aging[i]])
			not_checkable(c, aging[i], why ? why : aging[i] == KMMU_PROP_AGING_IDLE &&
				      !c->nr_idle ? "the test declared no idle memory" :
				      "no Accessed bit was cleared in the traced tasks");
	if (!c->res->checked[KMMU_PROP_PAGE_STATS] && !c->res->not_checkable[KMMU_PROP_PAGE_STATS])
		not_checkable(c, KMMU_PROP_PAGE_STATS, no_tdp ? no_tdp :
			      "the test recorded no page stats");
}

/* Why the leaf properties judged nothing. */
static void explain_leaf(struct checker *c)
{
	const char *why = no_tdp_mmu(c);
	uint64_t a, d;

	if (!why && !ad_masks(c, &a, &d))
		why = "the host's SPTE format (EPT or NPT) is not in this trace";
	if (!c->res->checked[KMMU_PROP_LEAF_CHANGE])
		not_checkable(c, KMMU_PROP_LEAF_CHANGE, why ? why :
			      "no present leaf SPTE changed in place");
	if (!why)
		why = c->no_history ? c->no_history : c->vm_creates != 1 ?
		      "not exactly one VM created in the trace: SPTE changes name no VM" :
		      "no traced change found its SPTE's last traced state";
	if (!c->res->checked[KMMU_PROP_SPTE_HISTORY])
		not_checkable(c, KMMU_PROP_SPTE_HISTORY, why);
	if (!c->res->checked[KMMU_PROP_MMIO_CHECK])
		not_checkable(c, KMMU_PROP_MMIO_CHECK, "no check_mmio_spte in this trace"
			      " (mmio_caching=N, or no MMIO SPTE was met again)");
	else if (c->mmio_unused && !c->mmio_pfs)
		not_checkable(c, KMMU_PROP_MMIO_CHECK, "no handle_mmio_page_fault in this trace:"
			      " that matching MMIO SPTEs were used");
	if (!c->res->checked[KMMU_PROP_HUGE_ALLOWED])
		not_checkable(c, KMMU_PROP_HUGE_ALLOWED,
			      "no huge SPTE was installed outside a memslot ioctl changing its gfns");
	if (!c->res->checked[KMMU_PROP_SPTE_WRITABLE])
		not_checkable(c, KMMU_PROP_SPTE_WRITABLE,
			      "no SPTE of a read-only slot, nor a huge one of a dirty-logged slot,"
			      " was traced");
}

int kmmu_check(const struct kmmu_trace_record *recs, uint64_t nr,
	       const struct kmmu_checker_opts *opts, struct kmmu_check_result *res)
{
	static const struct kmmu_memslot_ops ref_ops = {
		.memslots_updated = ref_memslots_updated,
	};
	struct checker c = {
		.recs = recs, .nr = nr, .opts = opts, .res = res,
		.leaves.esize = sizeof(struct leaf),
		.tasks.esize = sizeof(struct task_ctx),
	};
	int ret;

	memset(res, 0, sizeof(*res));
	res->nr_records = nr;
	if (nr && !recs)
		return -EINVAL;

	for (uint64_t i = 0; i < nr; i++) {
		if (!kmmu_rec_type_valid(recs[i].type) || (i && recs[i].ts < recs[i - 1].ts))
			return -EINVAL;
		if (recs[i].type == KMMU_ACT_SET_MEMSLOT)
			c.nr_ops++;
	}
	c.ops = calloc(c.nr_ops ? c.nr_ops : 1, sizeof(*c.ops));
	c.sptes = calloc(KMMU_ADDRESS_SPACE_NUM * KMMU_MEM_SLOTS_NUM, sizeof(*c.sptes));
	if (!c.ops || !c.sptes) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0, k = 0; i < nr; i++)
		if (recs[i].type == KMMU_ACT_SET_MEMSLOT)
			c.ops[k++].pos = i;
	c.epoch = 1;

	/*
	 * Without the test's memslot actions (a trace of a foreign program) the
	 * layout is unknown: judging against an empty one would cry wolf.
	 */
	if (!c.nr_ops) {
		res->no_actions = true;
		ret = 0;
		goto out;
	}
	c.gen_layout = kmmu_mmio_gen_layout(KMMU_SPTE_LAYOUT_UPSTREAM);
	ret = kmmu_memslots_init(&c.ms, &ref_ops, &c, 0);
	if (ret)
		goto out;
	c.no_history = history_gaps(&c);
	/* Reference readers must be registered urcu threads; ours is for this replay. */
	urcu_memb_register_thread();

	for (c.pos = 0; c.pos < nr; c.pos++) {
		const struct kmmu_trace_record *r = &recs[c.pos];

		track_task(&c, r);
		if (c.nr_claims)
			settle_claims(&c, r);
		switch (r->type) {
		case KMMU_ACT_SET_MEMSLOT:
			on_memslot(&c, r);
			break;
		case KMMU_ACT_VM_CREATE:
			/* Told, not guessed: overrides what was learned. */
			if (r->vm.nr_address_spaces == 1 || r->vm.nr_address_spaces == 2)
				c.nr_as = r->vm.nr_address_spaces;
			c.vm_creates++;
			break;
		case KMMU_ACT_HOST:
			c.host = r;
			break;
		case KMMU_ACT_STATS:
			on_stats(&c, r);
			break;
		case KMMU_ACT_IDLE:
			on_idle(&c, r);
			break;
		case KMMU_EV_SPTE_CHANGED:
			on_spte_changed(&c, r);
			break;
		case KMMU_EV_SPLIT_HUGE_PAGE:
			on_split(&c, r);
			break;
		case KMMU_EV_UNMAP_HVA_RANGE:
			on_unmap(&c, r);
			log_untraced_unmap(&c, r);
			bound_untraced_unmap(&c, r);
			break;
		case KMMU_EV_SET_SPTE:
			c.set_sptes++;
			on_set_spte(&c, r);
			break;
		case KMMU_EV_MMIO:
			on_mmio(&c, r);
			break;
		case KMMU_EV_ZAP_ALL_FAST:
			c.zapper = r->pid;
			on_zap(&c, r->ts, true, 0);
			break;
		case KMMU_EV_PREPARE_ZAP_PAGE:
			on_zap(&c, r->ts, false, r->sp.gfn);
			break;
		case KMMU_EV_MARK_MMIO_SPTE:
			on_mark_mmio(&c, r);
			judge_mmio_gen(&c, r, r->mark_mmio.gen, r->mark_mmio.gfn, true);
			break;
		case KMMU_EV_CHECK_MMIO_SPTE:
			on_check_mmio(&c, r);
			break;
		case KMMU_EV_HANDLE_MMIO_PAGE_FAULT:
			c.mmio_pfs++;
			on_handle_mmio_pf(&c, r);
			break;
		default:
			break;
		}
	}
	judge_mmio_unused(&c);
	explain_tdp(&c);
	explain_leaf(&c);
	urcu_memb_unregister_thread();
	kmmu_memslots_destroy(c.ms);
	ret = c.oom ? -ENOMEM : 0;
out:
	free(c.ops);
	free(c.sptes);
	free(c.leaves.ents);
	free(c.tasks.ents);
	free(c.unmap_log);
	return ret;
}

enum kmmu_check_verdict kmmu_check_verdict(const struct kmmu_check_result *res,
					   enum kmmu_check_property p)
{
	if (res->divergences[p])
		return KMMU_CHECK_FAIL;
	return res->checked[p] ? KMMU_CHECK_PASS : KMMU_CHECK_NOT_CHECKABLE;
}

void kmmu_check_print_summary(FILE *f, const struct kmmu_check_result *res)
{
	if (res->no_actions)
		fprintf(f, "NOTHING CHECKABLE  the trace has no memslot actions of the test:"
			" the memslot layout the kernel worked on is unknown\n");
	for (int p = 0; p < KMMU_PROP_NR; p++) {
		switch (kmmu_check_verdict(res, p)) {
		case KMMU_CHECK_PASS:
			/* Judged in part: say what was not. */
			fprintf(f, "PASS  %s (%" PRIu64 " checked%s%s)\n", prop_names[p],
				res->checked[p], res->not_checkable[p] ? "; not judged: " : "",
				res->not_checkable[p] ? res->not_checkable[p] : "");
			break;
		case KMMU_CHECK_FAIL:
			fprintf(f, "FAIL  %s (%" PRIu64 " of %" PRIu64 " diverge)\n", prop_names[p],
				res->divergences[p], res->checked[p]);
			break;
		default:
			if (!res->no_actions)
				fprintf(f, "NOT CHECKABLE  %s (%s)\n", prop_names[p],
					res->not_checkable[p] ? res->not_checkable[p] :
					"no such events in this trace");
			break;
		}
	}
}
