/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The checker's internal header: the replay's state (struct checker), the
 * per-key and per-op state it keeps, and what the checker's files share.
 * Each property family has its own file; checker.c dispatches the records
 * to them (its head comment says where a new property goes).
 *
 * Functions shared among these files carry the prefix chk_: they are
 * internal to libkmmutrace, not API (the API is kmmu/checker.h).
 */
#ifndef KMMU_CHECKER_REPLAY_H
#define KMMU_CHECKER_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "kmmu/checker.h"
#include "kmmu/grow.h"
#include "kmmu/memslot.h"
#include "kmmu/mmu.h"
#include "kmmu/spte.h"
#include "kmmu/trace_record.h"

#include "table.h"

#define MAX_IN_FLIGHT	8	/* concurrent memslot ioctls looked at */
#define MAX_TIED	4	/* ... and replayed ones that returned at the same ns */
#define MAX_OPS_SEEN	(MAX_IN_FLIGHT + MAX_TIED)
#define PAGE_SHIFT	12
#define MAX_IDLE	16	/* idle ranges remembered */
#define MAX_CLAIMS	16
/*
 * How far apart two CPUs' trace clocks were seen, with margin: an event
 * stamped on another CPU this much after an ioctl's return may have
 * happened before it (mmio_gen.c tells what was seen).
 */
#define GEN_SKEW_NS	50000000ULL

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

/*
 * One key (as_id, level, gfn) of the leaf SPTEs: one SPTE per root.  A
 * huge page that was split has an entry of its own, whose live counts its
 * splits (see chk_on_split()).
 */
struct leaf {
	uint64_t key;			/* leaf_key(); 0: free */
	uint32_t live;			/* present leaf SPTEs with this key */
	uint32_t splits_seen;		/* splits of its huge page already in live */
	uint64_t idle_pass;		/* aging pass of its first Accessed clear once idle */
	uint64_t last;			/* new SPTE of its last traced change */
	/*
	 * Its index + 1 if it left the one live leaf, or none (live 0) after a
	 * drop or a change in place of a leaf the trace never saw installed;
	 * else 0.
	 */
	uint64_t last_pos;
	uint64_t inst_pos;		/* index + 1 of its last install, while live */
	uint64_t aged_pass;		/* aging pass of its last Accessed clear */
	/*
	 * Index + 1 of the traced change that made its one live leaf
	 * writable, while it is; 0: not writable, or made so untraced
	 * (fast_page_fault(), a split's child), when is unknown.
	 */
	uint64_t wr_pos;
};

/* The frame of a leaf the reference holds, and the gfn it maps (ref_mmu.c). */
struct ref_frame {
	uint64_t key;			/* pfn and level; 0: free */
	gfn_t gfn1;			/* gfn + 1; REF_FRAME_ALIASED: several gfns */
	uint64_t ts;			/* its install */
	uint32_t cpu;
};

#define REF_FRAME_ALIASED	(~0ULL)

/* A leaf the reference's aging found young at a pass's start (ref_mmu.c). */
struct ref_young {
	gfn_t gfn;
	uint64_t pass;			/* index + 1 of the pass's kvm_age_hva */
	uint8_t level;
};

/*
 * A leaf of the shadow MMU, by its SPTE's kernel address (shadow.c): from
 * its kvm_mmu_set_spte to its drop (the kprobe on mmu_spte_clear_track_bits).
 */
struct shadow_leaf {
	uint64_t key;			/* sptep; 0: free */
	gfn_t gfn;
	uint64_t inst_pos;		/* index + 1 of its install */
	int32_t slot;			/* its slot of address space 0, or SHADOW_SLOT_* */
	uint8_t level;
	uint8_t live;
};

#define SHADOW_SLOT_NONE	-1	/* in no live slot (SPTE_IN_SLOT's to judge) */
#define SHADOW_SLOT_UNSURE	-2	/* installed while an ioctl changed its gfns */
#define SHADOW_SLOT_STALE	-3	/* outlived its slot's removal (reported) */

/* What a task's next record must be (chk_settle_claims()). */
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

#define GEN_RECENT	16	/* replayed updates remembered (see GEN_SKEW_NS) */

struct gen_before {
	uint64_t ts;		/* the update's record */
	uint32_t cpu;
	uint64_t ref;		/* the reference's generation before it */
};

/* A live slot as the leaf checks need it. */
struct slot_view {
	gfn_t base;
	uint64_t npages;
	uint64_t hva;
	uint32_t flags;
	int id;
};

/* A live slot of address space 0 a lookup found (memslot.c's slot cache). */
struct slot_cached {
	uint64_t stamp;			/* checker's slots_stamp then; 0: empty */
	struct slot_view v;
};

#define SLOT_CACHE_BITS	6

struct checker {
	const struct kmmu_trace_record *recs;
	uint64_t nr;
	const struct kmmu_checker_opts *opts;
	struct kmmu_check_result *res;
	/*
	 * The reference VM the trace's memslot ioctls are replayed into: its
	 * memslots (ms) carry the MMU's per-slot metadata, which answers what
	 * a fault may map (kmmu_fault_max_level()).
	 */
	struct kmmu_ref_vm *vm;
	struct kmmu_vm_memslots *ms;		/* vm->memslots */
	/*
	 * The live slots of address space 0 that chk_ref_slot_at() found, by
	 * gfn hash, valid while slots_stamp (bumped by every memslot ioctl
	 * replayed) is theirs: a churn trace alternates among hundreds of
	 * slots, and the reference's last_used_slot then misses.
	 */
	struct slot_cached slot_cache[1 << SLOT_CACHE_BITS];
	uint64_t slots_stamp;

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
	bool nr_as_told;		/* ... by the test: KVM refuses the others' slots */
	uint64_t swap_gens[4];		/* address space 0 generations of this ioctl's swaps */
	unsigned int nr_swap_gens;

	uint64_t pos;			/* record being judged */

	bool oom;			/* a table could not grow: the replay is incomplete */
	/* The live memslots would exceed opts->max_guest_pages: the replay stops. */
	bool too_big;

	/* TDP MMU SPTE changes (kvm_tdp_mmu_spte_changed) */
	struct chk_table leaves;	/* of struct leaf */
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
	struct chk_table tasks;		/* of struct task_ctx */
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
	struct untraced_unmap {
		gfn_t lo, hi;		/* gfns [lo, hi) of address space as_id */
		uint64_t ts;
		uint32_t as_id;
	} *unmap_log;			/* other tasks' unmaps of guest memory, in order */
	uint64_t nr_unmap_log, unmap_log_cap;
	uint64_t unmap_bound[3];	/* leaves per level untraced unmaps may have removed */
	uint64_t last_zap_all_ts;	/* of the last kvm_mmu_zap_all_fast */
	uint32_t last_zap_all_cpu;	/* ... and the CPU that stamped it */
	int32_t zapper;			/* ... and its task */

	/* The reference VM's SPTE state (ref_mmu.c). */
	bool any_spte_changes;		/* the trace has kvm_tdp_mmu_spte_changed */
	bool ref_drops_traced;		/* ... and a complete history: zap coverage per SPTE */
	uint64_t ref_pfn;		/* the install being replayed: its frame */
	int ref_level;			/* ... and level */
	unsigned int vm_creates_total;	/* KMMU_ACT_VM_CREATE records in the trace */
	bool valid_gen_known;		/* a fast zap was seen: mmu_valid_gen is paired */
	unsigned int valid_gen_flip;	/* kernel mmu_valid_gen ^ the reference's */
	uint64_t valid_gen_zaps;	/* kvm_mmu_zap_all_fast records replayed */
	bool ref_own_zap;		/* a reference fast zap now is its own, not replayed */
	/* AGING_MAKES_OLD: what the reference's aging makes old, per pass. */
	struct chk_table ref_frames;	/* of struct ref_frame */
	struct ref_young *young;	/* leaves its passes found young, not yet judged */
	uint64_t nr_young, young_cap;
	uint64_t ref_aging_pass;	/* the pass the reference is aging for; 0: none */
	bool any_age_hva;		/* the trace has kvm_age_hva: the above are kept */
	uint64_t aging_passes;		/* kvm_age_hva records replayed */
	uint64_t aging_pages;		/* pages the reference's aging covered */
	bool aging_over_budget;		/* ... too many: no longer replayed */
	uint64_t aging_passes_unjudged;	/* ... skipped: an ioctl in flight */

	/* The shadow MMU's leaves (shadow.c), where kprobe events show its drops. */
	bool shadow_drops;		/* the trace has mmu_spte_clear_track_bits */
	bool shadow_ages;		/* ... and mmu_spte_age */
	bool any_other_as;		/* a memslot ioctl of an address space but 0 */
	struct chk_table shadow;	/* of struct shadow_leaf */
	uint32_t *shadow_slot_live;	/* [KMMU_MEM_SLOTS_NUM] live leaves per slot of as 0 */
	uint64_t shadow_unsure;		/* live leaves of SHADOW_SLOT_UNSURE */
	uint64_t shadow_unknown;	/* present SPTEs dropped the trace never saw installed */
	uint64_t shadow_scanned;	/* leaf entries the removals looked at */
	/* dirty_log.c: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2's args[0] (last that succeeded) */
	uint64_t manual_protect;
	const char *dirty_log_why;	/* why the last dirty-log ioctl was not judged */
	uint64_t *wrprots;		/* indexes of the write-protects replayed, in order */
	uint64_t nr_wrprots, wrprots_cap;

	uint32_t judged;		/* properties (1 << p) whose divergences count */
	uint32_t vm_id;			/* the VM the records are of (vms.c); 0: the trace's one */
};

void chk_ref_age_end(struct checker *c, uint64_t pass);

/* A handler of one record type (see checker.c). */
typedef void chk_handler(struct checker *c, const struct kmmu_trace_record *r);

static inline bool in_range(gfn_t gfn, gfn_t base, uint64_t npages)
{
	return gfn >= base && gfn - base < npages;
}

/* Base pages an SPTE of @level maps (levels a trace file claims are not trusted). */
static inline uint64_t level_pages(unsigned int level)
{
	return level >= 1 && level <= 5 ? KMMU_PAGES_PER_HPAGE(level) : 1;
}

static inline bool spte_present(uint64_t spte)
{
	return spte & KMMU_SPTE_MMU_PRESENT_MASK;	/* is_shadow_present_pte() */
}

/* is_shadow_present_pte() && is_last_spte(): what kvm_update_page_stats() counts. */
static inline bool tdp_leaf(uint64_t spte, unsigned int level)
{
	return spte_present(spte) && kmmu_is_last_spte(spte, level);
}

/* A present leaf, or with @table a present page-table SPTE. */
static inline bool tdp_kind(uint64_t spte, unsigned int level, bool table)
{
	return spte_present(spte) && kmmu_is_last_spte(spte, level) != table;
}

/* An unmap by another task (its SPTE changes are not in the trace) of guest memory. */
static inline bool untraced_unmap_of_guest(const struct checker *c,
					   const struct kmmu_trace_record *r)
{
	return r->hva_range.untraced && r->hva_range.start < c->hva_hi &&
	       c->hva_lo < r->hva_range.end;
}

static inline bool ad_disabled(uint64_t spte)
{
	return (spte >> SPTE_TDP_AD_SHIFT & 3) == SPTE_TDP_AD_DISABLED;
}

/* The Accessed and Dirty bits of the host's format; false if it is unknown. */
static inline bool chk_ad_masks(struct checker *c, uint64_t *a, uint64_t *d)
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

/* shadow_mmu_writable_mask of the host's TDP format; 0 if unknown. */
static inline uint64_t chk_mmu_writable_mask(struct checker *c)
{
	if (!c->host || c->host->host.tdp != 1)
		return 0;
	if (c->host->host.backend == KMMU_HOST_SVM)
		return KMMU_SPTE_MMU_WRITABLE;		/* DEFAULT_SPTE_MMU_WRITABLE */
	if (c->host->host.backend == KMMU_HOST_VMX)
		return 1ULL << 58;			/* EPT_SPTE_MMU_WRITABLE */
	return 0;
}

/* checker.c and vms.c: replays */
#define CHK_JUDGE_ALL	((1u << KMMU_PROP_NR) - 1)
_Static_assert(KMMU_PROP_NR < 32, "struct checker's judged is a uint32_t, a bit per property");
int chk_replay(const struct kmmu_trace_record *recs, uint64_t nr,
	       const struct kmmu_checker_opts *opts, struct kmmu_check_result *res,
	       uint32_t judged, uint32_t vm_id);
int chk_check_vms(const struct kmmu_trace_record *recs, uint64_t nr,
		  const struct kmmu_checker_opts *opts, struct kmmu_check_result *res);

/* report.c: divergences, with the history of their gfn */
void chk_diverge(struct checker *c, enum kmmu_check_property p, gfn_t gfn, bool have_gfn,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void chk_not_checkable(struct checker *c, enum kmmu_check_property p, const char *why);

/* memslot.c: the reference's layout, the ioctls in flight, the memslot family */
bool chk_ref_slot_range(struct checker *c, uint32_t slot, gfn_t *base, uint64_t *npages,
			uint32_t *flags);
bool chk_ref_slot_at(struct checker *c, gfn_t gfn, struct slot_view *v);
bool chk_ref_slot_at_any(struct checker *c, unsigned int as_id, gfn_t gfn, struct slot_view *v);
bool chk_ref_gfn_slot(struct checker *c, gfn_t gfn, int *id, uint32_t *flags);
int chk_ref_fault_max_level(struct checker *c, gfn_t gfn);
bool chk_op_new_covers(const struct kmmu_trace_record *r, gfn_t gfn);
bool chk_op_old_covers(struct checker *c, const struct kmmu_trace_record *r, gfn_t gfn);
int chk_ops_in_flight(struct checker *c, uint64_t ts, struct memslot_op **out, bool tied);
bool chk_gfn_in_transition(struct checker *c, uint64_t ts, gfn_t gfn);
bool chk_range_in_transition(struct checker *c, uint64_t ts, gfn_t gfn, uint64_t npages);
bool chk_hva_range_gfns(gfn_t base, uint64_t hva, uint64_t npages, uint64_t start,
			uint64_t end, gfn_t *lo, gfn_t *hi);
chk_handler chk_on_memslot, chk_on_zap_all_fast, chk_on_prepare_zap_page, chk_on_set_spte,
	chk_on_mmio;

/* mmio_gen.c: the MMIO SPTE generation family */
void chk_gen_memslots_updated(struct checker *c, uint64_t gen);
void chk_gen_note_update(struct checker *c, const struct kmmu_trace_record *r);
void chk_judge_wrap(struct checker *c, struct memslot_op *op);
chk_handler chk_on_mark_mmio, chk_on_check_mmio, chk_on_handle_mmio_pf;
void chk_mmio_gen_finish(struct checker *c);

/* task.c: what each task is in the middle of, and claims on its next record */
struct task_ctx *chk_task(struct checker *c, int32_t pid, bool create);
void chk_add_claim(struct checker *c, int32_t pid, enum claim_kind kind, gfn_t gfn,
		   unsigned int level);
void chk_settle_claims(struct checker *c, const struct kmmu_trace_record *r);

/*
 * A task's records in order: a kvm_age_hva starts an aging pass, which
 * runs kvm_tdp_mmu_age_gfn_range() over the slots its hva range overlaps
 * with mmu_lock held (no other record of that task can come in between),
 * and its A clears are the SPTE changes that follow.  Any other record of
 * the task ends the pass.  A record that is not the task's own work in the
 * kernel (an action) ends it too, which only narrows what counts as aging.
 * Inline: it runs for every record.
 */
static inline void chk_track_task(struct checker *c, const struct kmmu_trace_record *r)
{
	struct task_ctx *t;

	if (r->type == KMMU_EV_SPTE_CHANGED || r->type == KMMU_EV_SPLIT_HUGE_PAGE ||
	    r->type == KMMU_EV_SHADOW_SPTE_AGE || r->type == KMMU_EV_SHADOW_SPTE_CLEAR || !r->pid)
		return;
	t = chk_task(c, r->pid, r->type == KMMU_EV_AGE_HVA);
	if (!t)
		return;
	if (t->in_pass && c->nr_young)
		chk_ref_age_end(c, t->pass);
	t->in_pass = r->type == KMMU_EV_AGE_HVA;
	if (t->in_pass) {
		t->start = r->hva_range.start;
		t->end = r->hva_range.end;
		t->pass = c->pos + 1;
	}
}

/* spte.c: leaf SPTEs, their installs and in-place changes */
const char *chk_no_tdp_mmu(struct checker *c);
const char *chk_no_tdp_ad(struct checker *c);
struct leaf *chk_leaf_find(struct checker *c, unsigned int as_id, unsigned int level, gfn_t gfn);
void chk_judge_leaf(struct checker *c, const struct slot_view *v, gfn_t gfn,
		    unsigned int level, uint64_t old, uint64_t spte, bool install);
bool chk_huge_in_no_slot(struct checker *c, uint64_t ts, gfn_t gfn, unsigned int level);
chk_handler chk_on_spte_changed, chk_on_split;
void chk_explain_leaf(struct checker *c);
/*
 * Told each leaf of address space @as_id whose first gfn lies in [@base,
 * @base + @npages), at its level; it must not add leaf entries (a pointer
 * to one would go stale).
 */
typedef void chk_leaf_fn(struct checker *c, struct leaf *l, unsigned int level, gfn_t gfn,
			 void *arg);
void chk_for_each_leaf(struct checker *c, unsigned int as_id, gfn_t base, uint64_t npages,
		       chk_leaf_fn *fn, void *arg);

/* dirty_log.c: DIRTY_LOG_PROTECT */
void chk_dirty_log_on_memslot(struct checker *c, const struct kmmu_trace_record *r,
			      uint32_t old_flags);
void chk_note_wrprot(struct checker *c);
chk_handler chk_on_get_dirty_log, chk_on_clear_dirty_log, chk_on_protect_cap;
void chk_explain_dirty_log(struct checker *c);

/* spte_history.c: SPTE_HISTORY */
const char *chk_history_gaps(struct checker *c);
void chk_log_untraced_unmap(struct checker *c, const struct kmmu_trace_record *r);
bool chk_unmap_may_explain(struct checker *c, uint64_t since, unsigned int as_id, gfn_t gfn,
			   unsigned int level);
bool chk_judge_history(struct checker *c, const struct kmmu_trace_record *r,
		       const struct leaf *l, bool table);
void chk_judge_reinstall(struct checker *c, const struct kmmu_trace_record *r,
			 struct leaf *l, bool was, bool is, bool judged);
void chk_note_history(struct checker *c, const struct kmmu_trace_record *r, struct leaf *l,
		      bool is_leaf);

/* aging.c: the aging family */
bool chk_pass_covers(struct checker *c, const struct task_ctx *t, unsigned int as_id, gfn_t gfn,
		     unsigned int level);
void chk_judge_aging(struct checker *c, const struct kmmu_trace_record *r, struct leaf *l);
chk_handler chk_on_idle;
void chk_explain_aging(struct checker *c);

/* shadow.c: the shadow MMU's leaves, from kvm_mmu_set_spte and kprobe events */
void chk_shadow_init(struct checker *c);
/* Why the drops, the Accessed clears are not in this trace (static text); NULL if they are. */
const char *chk_shadow_no_drops(struct checker *c);
const char *chk_shadow_no_ages(struct checker *c);
void chk_shadow_on_set_spte(struct checker *c, const struct kmmu_trace_record *r);
chk_handler chk_shadow_on_clear, chk_shadow_on_age;
void chk_shadow_judge_removal(struct checker *c, int id, gfn_t base, uint64_t npages);

/* ref_mmu.c: the reference VM's SPTE state; ZAP_ON_REMOVE per SPTE, MMU_VALID_GEN */
void chk_ref_mmu_init(struct checker *c);
void chk_ref_mmu_event(void *ctx, const struct kmmu_mmu_event *ev);
void chk_ref_install(struct checker *c, const struct slot_view *v, gfn_t gfn,
		     unsigned int level, uint64_t spte);
void chk_ref_drop(struct checker *c, unsigned int as_id, gfn_t gfn, unsigned int level);
void chk_ref_unmap(struct checker *c, const struct kmmu_trace_record *r);
chk_handler chk_ref_zap_all_fast, chk_ref_age_start;
void chk_ref_judge_removal(struct checker *c, int id);
void chk_ref_explain(struct checker *c);

/* page_stats.c: PAGE_STATS */
chk_handler chk_on_unmap, chk_on_stats;
const char *chk_stats_gap(const struct kmmu_trace_record *r);
void chk_explain_page_stats(struct checker *c);

#endif
