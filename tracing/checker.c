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
	[KMMU_PROP_SPTE_IN_SLOT] = "kvm_mmu_set_spte only for gfns in a live memslot",
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
};

/* leaf_key() level of a split huge page's entry: this | its children's level. */
#define SPLIT_KEY_LEVEL		8

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

/* The live slot holding @gfn (address space 0), as its id and flags; false if none. */
static bool ref_gfn_slot(struct checker *c, gfn_t gfn, int *id, uint32_t *flags)
{
	struct kmmu_memory_slot *s;
	bool found = false;

	urcu_memb_read_lock();
	s = kmmu_gfn_to_memslot(kmmu_memslots_active(c->ms, 0), gfn);
	if (s && kmmu_memslot_is_visible(s)) {
		*id = s->id;
		*flags = s->flags;
		found = true;
	}
	urcu_memb_read_unlock();
	return found;
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

static void on_memslot(struct checker *c, const struct kmmu_trace_record *r)
{
	struct memslot_op *op = &c->ops[c->next_op];
	uint32_t slot = r->memslot.slot, old_flags = 0;
	bool had_old, removes;
	gfn_t old_base = 0;
	uint64_t old_npages = 0;
	int ret;

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
	if (all)
		c->epoch++;
}

static void on_set_spte(struct checker *c, const struct kmmu_trace_record *r)
{
	gfn_t gfn = r->set_spte.gfn;
	struct memslot_op *fl[MAX_OPS_SEEN];
	uint32_t flags;
	int id, n;

	if (!ref_gfn_slot(c, gfn, &id, &flags)) {
		if (gfn_in_transition(c, r->ts, gfn))
			return;
		c->res->checked[KMMU_PROP_SPTE_IN_SLOT]++;
		diverge(c, KMMU_PROP_SPTE_IN_SLOT, gfn, true,
			"gfn %#" PRIx64 " is in no live memslot: no SPTE may map it", gfn);
		return;
	}
	c->res->checked[KMMU_PROP_SPTE_IN_SLOT]++;
	slot_sptes(c, 0, id)->count++;

	/* Between the zap of a slot being removed and the end of its removal. */
	n = ops_in_flight(c, r->ts, fl, false);
	for (int i = 0; i < n; i++) {
		const struct kmmu_trace_record *op = &c->recs[fl[i]->pos];

		if (!fl[i]->zapped || (op->memslot.slot & 0xffff) != (uint32_t)id ||
		    (op->memslot.slot >> 16) != 0)
			continue;
		/* Still backed afterwards: FLAGS_ONLY, or a MOVE overlapping itself. */
		if (op_new_covers(op, gfn))
			continue;
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
	if ((kgen & mask) != want)
		diverge(c, KMMU_PROP_MMIO_GEN_MODEL, gfn, have_gfn,
			"generation %#" PRIx64 ": the reference's memslot generation is %#" PRIx64
			", and %#" PRIx64 " when the kernel's was %#" PRIx64 " (the first MMIO SPTE"
			" event), so %#" PRIx64 " with %u address space(s); %" PRIu64
			" memslot updates replayed", kgen & mask, ref, c->first_ref, c->first_kgen,
			want, c->nr_as ? c->nr_as : 2, c->updates);
}

static void on_check_mmio(struct checker *c, const struct kmmu_trace_record *r)
{
	judge_mmio_gen(c, r, r->check_mmio.kvm_gen, 0, false);
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
static void on_stats(struct checker *c, const struct kmmu_trace_record *r)
{
	static const char *const names[3] = { "pages_4k", "pages_2m", "pages_1g" };
	bool may_miss_removals = c->untraced_unmaps ||
				 (r->stats.flags & (KMMU_STATS_NX_RECOVERY |
						    KMMU_STATS_OTHERS_UNKNOWN));
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
				      "another task unmapped guest memory: its SPTE changes are"
				      " not traced");
			continue;
		}
		c->res->checked[KMMU_PROP_PAGE_STATS]++;
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
	/* Reference readers must be registered urcu threads; ours is for this replay. */
	urcu_memb_register_thread();

	for (c.pos = 0; c.pos < nr; c.pos++) {
		const struct kmmu_trace_record *r = &recs[c.pos];

		track_task(&c, r);
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
			break;
		case KMMU_EV_SET_SPTE:
			on_set_spte(&c, r);
			break;
		case KMMU_EV_MMIO:
			on_mmio(&c, r);
			break;
		case KMMU_EV_ZAP_ALL_FAST:
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
			on_handle_mmio_pf(&c, r);
			break;
		default:
			break;
		}
	}
	explain_tdp(&c);
	urcu_memb_unregister_thread();
	kmmu_memslots_destroy(c.ms);
	ret = c.oom ? -ENOMEM : 0;
out:
	free(c.ops);
	free(c.sptes);
	free(c.leaves.ents);
	free(c.tasks.ents);
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
			fprintf(f, "PASS  %s (%" PRIu64 " checked)\n", prop_names[p], res->checked[p]);
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
