// SPDX-License-Identifier: GPL-2.0
/*
 * The checker on altered real traces (issue 13): every committed fixture
 * (tracing/fixtures/, every .kmmutrace) is altered, one change at a time, in the
 * ways a reviewer plants kernel bugs in a real trace -- an MMIO exit on a
 * live slot, an SPTE outside any slot, a missing zap, SPTE updates
 * reordered, aging that drops Dirty or runs outside a pass, generations
 * changed, ... -- and in ways a correct kernel's trace may differ -- clocks
 * shifted within their skew, unrelated records dropped, pids and CPUs
 * renumbered, harmless reads duplicated.  Each kind names the property it
 * breaks, or is benign; its positions come from a fixed-seed PRNG.
 *
 * Whether a change breaks its property is decided here, from the
 * property's definition in kmmu/checker.h and the trace itself (the memslot
 * layout over time, the leaves the kernel installed and dropped, the
 * generation events), never from the checker's verdict: a zap removed
 * where no SPTE was left to zap is not a miss, a forward generation where
 * no other generation event fixes the constant is not either.  Those are
 * counted apart ("no break").
 *
 * A breaking change is detected when kmmu_check() reports its property
 * FAIL; NOT CHECKABLE (the trace lacks what the property needs) is counted
 * apart.  A benign change must raise no FAIL at all.  Each check runs in a
 * child with a time limit, so a crash or hang is counted, not fatal, and a
 * -errno result is counted too.
 *
 * The test asserts, per fixture and kind, detection >= 98% of the breaking
 * changes whose property is checkable there, no false alarm and no
 * crash, hang or error.  KMMU_ALTER_N sets the changes per kind and fixture
 * (default 16; the reviewer's scale is a few hundred in all), KMMU_ALTER_SEED
 * the seed, KMMU_ALTER_SKEW_NS the most a CPU's clock is moved (default
 * 5 ms), and KMMU_ALTER_SAVE=DIR writes every miss and false alarm there
 * as a trace file for `kmmu-trace check` (and every change judged not to
 * break its property that the checker failed it for: column nbfail).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/checker.h"
#include "kmmu/memslot.h"
#include "kmmu/spte.h"
#include "kmmu/trace_file.h"
#include "test_paths.h"

#define PAGE_SHIFT	12
#define HANG_SECONDS	20	/* a check of these small traces takes milliseconds */
#define GEN_MASK	0x7ffffULL	/* the 19-bit MMIO generation (6.1) */
/* kvm_mmio's types (include/trace/events/kvm.h) */
#define MMIO_READ_UNSATISFIED	0
#define MMIO_READ		1
#define MMIO_WRITE		2
/* union kvm_mmu_page_role (6.1): level in bits 0-3, direct in bit 7 */
#define ROLE_LEVEL(role)	((role) & 0xf)
#define ROLE_DIRECT		(1u << 7)
/* The most a per-CPU clock was seen off (the checker's GEN_SKEW_NS, with margin). */
#define GEN_SKEW_NS		50000000ULL

static const char *const fixtures[] = {
	"aging-tdp-6.1.kmmutrace",
	"churn-shadow-6.1.kmmutrace",
	"churn-shadow-kprobe-6.1.kmmutrace",
	"churn-tdp-6.1.kmmutrace",
	"churn-tdp-khugepaged-6.1.kmmutrace",
	"churn-tdp-spte-6.1.kmmutrace",
	"huge-tdp-6.1.kmmutrace",
};
#define NR_FIXTURES	(sizeof(fixtures) / sizeof(fixtures[0]))

/* xorshift64*: the positions and values of the changes, the same every run. */
struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *g)
{
	g->s ^= g->s >> 12;
	g->s ^= g->s << 25;
	g->s ^= g->s >> 27;
	return g->s * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n); 0 when n is 0. */
static uint64_t rnd_below(struct rng *g, uint64_t n)
{
	return n ? rnd(g) % n : 0;
}

/* A memslot of address space 0 with one layout, live over [from, to]. */
struct slot_ival {
	uint64_t base, npages, hva;
	uint32_t flags;
	uint64_t from, to;
};

/* A successful memslot ioctl of address space 0, with what it changed. */
struct ioctl_win {
	uint64_t pos;			/* its record */
	uint64_t start, end;		/* issued, returned */
	uint64_t old_base, old_npages;	/* its slot before (npages 0: none) */
	uint64_t new_base, new_npages;	/* ... and after (0: deleted) */
	bool removes;			/* DELETE or MOVE */
	unsigned int swaps;		/* memslot generation swaps it made */
};

/* A fixture and what the judgements read from it. */
struct fx {
	const char *name;
	struct kmmu_trace_file tf;
	const struct kmmu_trace_record *r;
	uint64_t nr;
	struct slot_ival *iv;
	size_t niv;
	struct ioctl_win *win;
	size_t nwin;
	uint64_t *by_type[KMMU_REC_TYPE_MAX];	/* record indices per type */
	size_t nr_type[KMMU_REC_TYPE_MAX];
	uint64_t gfn_end;		/* past every gfn a slot ever had */
	uint64_t hva_end;		/* past every slot's host memory */
	uint64_t a_mask, d_mask;	/* the host's Accessed and Dirty bits; 0: unknown */
	bool tdp_changes;		/* kvm_tdp_mmu_spte_changed records */
	bool shadow_clears;		/* the shadow MMU's kprobe drops */
	bool untraced_unmaps;		/* other tasks' notifier calls */
	bool multi_cpu;
	unsigned int vm_creates;
	uint64_t margin;		/* clock margin around layout changes */
};

/* A trace the change made: a copy of the fixture's records. */
struct altered {
	struct kmmu_trace_record *r;
	uint64_t nr;
	char what[160];			/* the change, for the report */
};

enum judged {
	ALT_SKIP,		/* no such change at this position */
	ALT_BREAKS,		/* it breaks the kind's property */
	ALT_NO_BREAK,		/* a change of the kind that breaks nothing here */
	ALT_BENIGN,		/* a benign kind's change */
};

typedef enum judged alter_fn(struct fx *fx, struct rng *g, struct altered *a);

/* ---- the fixture's layout over time ------------------------------------ */

static bool is_as0(const struct kmmu_trace_record *r)
{
	return (r->memslot.slot >> 16) == 0;
}

static int fx_layout(struct fx *fx)
{
	struct { bool live; struct slot_ival v; } cur[KMMU_MEM_SLOTS_NUM];
	size_t cap = 0, wcap = 0;

	memset(cur, 0, sizeof(cur));
	for (uint64_t i = 0; i < fx->nr; i++) {
		const struct kmmu_trace_record *r = &fx->r[i];
		unsigned int id = r->memslot.slot & 0xffff;
		struct ioctl_win w = { .pos = i };
		bool same;

		if (r->type != KMMU_ACT_SET_MEMSLOT || r->memslot.ret || !is_as0(r) ||
		    id >= KMMU_MEM_SLOTS_NUM)
			continue;
		w.start = r->memslot.start_ts;
		w.end = r->ts;
		w.new_base = r->memslot.gpa >> PAGE_SHIFT;
		w.new_npages = r->memslot.size >> PAGE_SHIFT;
		same = cur[id].live && cur[id].v.base == w.new_base && w.new_npages;
		if (cur[id].live) {
			w.old_base = cur[id].v.base;
			w.old_npages = cur[id].v.npages;
			w.removes = !same;
			if (fx->niv == cap) {
				cap = cap ? 2 * cap : 64;
				fx->iv = realloc(fx->iv, cap * sizeof(*fx->iv));
				if (!fx->iv)
					return -ENOMEM;
			}
			/* A flags change keeps the range live throughout. */
			cur[id].v.to = same ? r->ts : r->memslot.start_ts;
			fx->iv[fx->niv++] = cur[id].v;
			cur[id].live = false;
		}
		w.swaps = w.removes ? 2 : 1;
		if (w.new_npages) {
			cur[id].live = true;
			cur[id].v = (struct slot_ival){
				.base = w.new_base, .npages = w.new_npages, .hva = r->memslot.hva,
				.flags = r->memslot.flags, .from = same ? r->memslot.start_ts : r->ts,
			};
			if (w.new_base + w.new_npages > fx->gfn_end)
				fx->gfn_end = w.new_base + w.new_npages;
			if (r->memslot.hva + r->memslot.size > fx->hva_end)
				fx->hva_end = r->memslot.hva + r->memslot.size;
		}
		if (fx->nwin == wcap) {
			wcap = wcap ? 2 * wcap : 64;
			fx->win = realloc(fx->win, wcap * sizeof(*fx->win));
			if (!fx->win)
				return -ENOMEM;
		}
		fx->win[fx->nwin++] = w;
	}
	for (unsigned int id = 0; id < KMMU_MEM_SLOTS_NUM; id++) {
		if (!cur[id].live)
			continue;
		if (fx->niv == cap) {
			cap = cap ? 2 * cap : 64;
			fx->iv = realloc(fx->iv, cap * sizeof(*fx->iv));
			if (!fx->iv)
				return -ENOMEM;
		}
		cur[id].v.to = UINT64_MAX;
		fx->iv[fx->niv++] = cur[id].v;
	}
	return 0;
}

/* Whether some layout of a slot puts @gfn in it at any time in [lo, hi], with @flags. */
static bool gfn_backed_during(const struct fx *fx, uint64_t gfn, uint64_t lo, uint64_t hi,
			      uint32_t flags)
{
	for (size_t i = 0; i < fx->niv; i++) {
		const struct slot_ival *v = &fx->iv[i];

		if (gfn >= v->base && gfn - v->base < v->npages && v->from <= hi && lo <= v->to &&
		    (!flags || (v->flags & flags)))
			return true;
	}
	return false;
}

/*
 * A random gfn that a writable slot backs throughout [ts - margin, ts +
 * margin], that no read-only layout ever backs then, and that no memslot
 * ioctl in flight then changes; with @ro, one of a read-only slot instead.
 * False if there is none.
 */
static bool pick_live_gfn(const struct fx *fx, struct rng *g, uint64_t ts, bool ro, uint64_t *gfn)
{
	uint64_t lo = ts > fx->margin + 1 ? ts - fx->margin - 1 : 0, hi = ts + fx->margin + 1;
	size_t n = 0, *ok = malloc((fx->niv + 1) * sizeof(*ok));

	if (!ok)
		return false;
	for (size_t i = 0; i < fx->niv; i++)
		if (fx->iv[i].from < lo && hi < fx->iv[i].to &&
		    !!(fx->iv[i].flags & KMMU_MEM_READONLY) == ro)
			ok[n++] = i;
	for (int tries = 0; n && tries < 16; tries++) {
		const struct slot_ival *v = &fx->iv[ok[rnd_below(g, n)]];
		uint64_t x = v->base + rnd_below(g, v->npages);
		bool moving = false;

		for (size_t w = 0; w < fx->nwin; w++) {
			const struct ioctl_win *o = &fx->win[w];

			if (o->start <= hi && lo <= o->end &&
			    ((x >= o->old_base && x - o->old_base < o->old_npages) ||
			     (x >= o->new_base && x - o->new_base < o->new_npages)))
				moving = true;
		}
		if (moving || (!ro && gfn_backed_during(fx, x, lo, hi, KMMU_MEM_READONLY)))
			continue;
		*gfn = x;
		free(ok);
		return true;
	}
	free(ok);
	return false;
}

/* A gfn no slot ever backs, aligned for @level: past the end of every slot. */
static uint64_t hole_gfn(const struct fx *fx, struct rng *g, unsigned int level)
{
	uint64_t pages = level >= 2 ? 1ULL << (9 * (level - 1)) : 1;

	return (fx->gfn_end + pages + rnd_below(g, 1 << 20)) & ~(pages - 1);
}

/* Whether @ts lies in a successful memslot ioctl of address space 0, ends included. */
static bool in_any_window(const struct fx *fx, uint64_t ts)
{
	for (size_t w = 0; w < fx->nwin; w++)
		if (fx->win[w].start <= ts && ts <= fx->win[w].end)
			return true;
	/* A failed or other-address-space ioctl changes no generation: not counted. */
	return false;
}

static int fx_load(struct fx *fx, const char *name, char *err, size_t len)
{
	int ret = read_fixture(name, &fx->tf, err, len);
	uint32_t cpu0;

	if (ret)
		return ret;
	fx->name = name;
	fx->r = fx->tf.recs;
	fx->nr = fx->tf.nr;
	cpu0 = fx->nr ? fx->r[0].cpu : 0;
	for (uint64_t i = 0; i < fx->nr; i++) {
		const struct kmmu_trace_record *r = &fx->r[i];

		fx->nr_type[r->type]++;
		fx->multi_cpu |= r->cpu != cpu0;
		fx->tdp_changes |= r->type == KMMU_EV_SPTE_CHANGED;
		fx->shadow_clears |= r->type == KMMU_EV_SHADOW_SPTE_CLEAR;
		fx->vm_creates += r->type == KMMU_ACT_VM_CREATE;
		fx->untraced_unmaps |= r->type == KMMU_EV_UNMAP_HVA_RANGE && r->hva_range.untraced;
		if (r->type == KMMU_ACT_HOST && r->host.tdp == 1) {
			if (r->host.backend == KMMU_HOST_SVM) {
				fx->a_mask = KMMU_PT_ACCESSED_MASK;
				fx->d_mask = KMMU_PT_DIRTY_MASK;
			} else if (r->host.backend == KMMU_HOST_VMX) {
				fx->a_mask = 1ULL << 8;
				fx->d_mask = 1ULL << 9;
			}
		}
	}
	for (unsigned int t = 0; t < KMMU_REC_TYPE_MAX; t++) {
		fx->by_type[t] = calloc(fx->nr_type[t] + 1, sizeof(uint64_t));
		if (!fx->by_type[t])
			return -ENOMEM;
		fx->nr_type[t] = 0;
	}
	for (uint64_t i = 0; i < fx->nr; i++)
		fx->by_type[fx->r[i].type][fx->nr_type[fx->r[i].type]++] = i;
	/*
	 * One CPU's records are in the order they happened; across CPUs the
	 * clocks may differ: a layout change is then kept a millisecond clear of.
	 */
	fx->margin = fx->multi_cpu ? 1000000 : 0;
	return fx_layout(fx);
}

static void fx_free(struct fx *fx)
{
	for (unsigned int t = 0; t < KMMU_REC_TYPE_MAX; t++)
		free(fx->by_type[t]);
	free(fx->iv);
	free(fx->win);
	kmmu_trace_file_free(&fx->tf);
}

/* ---- building a changed copy --------------------------------------------- */

static int alt_copy(const struct fx *fx, struct altered *a, uint64_t extra)
{
	a->r = malloc((fx->nr + extra + 1) * sizeof(*a->r));
	if (!a->r)
		return -ENOMEM;
	memcpy(a->r, fx->r, fx->nr * sizeof(*a->r));
	a->nr = fx->nr;
	return 0;
}

/* Inserts @rec where its timestamp sorts it, after the records of the same ns. */
static uint64_t alt_insert(struct altered *a, const struct kmmu_trace_record *rec)
{
	uint64_t at = a->nr;

	while (at && a->r[at - 1].ts > rec->ts)
		at--;
	memmove(a->r + at + 1, a->r + at, (a->nr - at) * sizeof(*a->r));
	a->r[at] = *rec;
	a->nr++;
	return at;
}

static int cmp_ts(const void *x, const void *y)
{
	const struct kmmu_trace_record *a = x, *b = y;

	return a->ts < b->ts ? -1 : a->ts > b->ts;
}

/* A random record of @type; false if the trace has none. */
static bool pick_type(const struct fx *fx, struct rng *g, unsigned int type, uint64_t *pos)
{
	if (!fx->nr_type[type])
		return false;
	*pos = fx->by_type[type][rnd_below(g, fx->nr_type[type])];
	return true;
}

static bool present_leaf(uint64_t spte, unsigned int level)
{
	return (spte & KMMU_SPTE_MMU_PRESENT_MASK) && kmmu_is_last_spte(spte, level);
}

/* An Accessed-bit clear of a present leaf with A/D bits, as aging makes one. */
static bool is_a_clear(const struct fx *fx, const struct kmmu_trace_record *r)
{
	uint64_t o = r->spte_changed.old_spte, n = r->spte_changed.new_spte;
	unsigned int l = r->spte_changed.level;

	return r->type == KMMU_EV_SPTE_CHANGED && fx->a_mask && present_leaf(o, l) &&
	       present_leaf(n, l) && kmmu_spte_to_pfn(o) == kmmu_spte_to_pfn(n) &&
	       (o >> 52 & 3) != 1 && (o & fx->a_mask) && !(n & fx->a_mask);
}

/* A random record satisfying @ok; false after enough tries. */
static bool pick_where(const struct fx *fx, struct rng *g, unsigned int type, uint64_t *pos,
		       bool (*ok)(const struct fx *fx, const struct kmmu_trace_record *r))
{
	for (int tries = 0; tries < 4096; tries++)
		if (pick_type(fx, g, type, pos) && ok(fx, &fx->r[*pos]))
			return true;
	return false;
}

/* ---- kinds that break a property ----------------------------------------- */

/*
 * The gpa of the read exit (READ_UNSATISFIED) the task of record @pos is
 * waiting on there: its kvm_mmio READ then completes that read, decided
 * when it exited; UINT64_MAX if none is pending.
 */
static uint64_t pending_read(const struct fx *fx, uint64_t pos)
{
	for (uint64_t i = pos; i-- > 0;) {
		const struct kmmu_trace_record *e = &fx->r[i];

		if (e->type != KMMU_EV_MMIO || e->pid != fx->r[pos].pid)
			continue;
		if (e->mmio.type == MMIO_READ_UNSATISFIED)
			return e->mmio.gpa;
		if (e->mmio.type == MMIO_READ)
			return UINT64_MAX;
	}
	return UINT64_MAX;
}

/*
 * MMIO_UNBACKED: a kvm_mmio's gpa moved into a slot live at the time
 * (a read-only one for a read).  A read's completion at the gpa its exit was decided for is no
 * decision: that breaks nothing.
 */
static enum judged mmio_live_gpa(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos, gfn;
	bool completion;

	if (!pick_type(fx, g, KMMU_EV_MMIO, &pos))
		return ALT_SKIP;
	/* A read of a read-only slot is RAM too (only writes to one exit). */
	if (!(fx->r[pos].mmio.type != MMIO_WRITE && rnd_below(g, 3) == 0 &&
	      pick_live_gfn(fx, g, fx->r[pos].ts, true, &gfn)) &&
	    !pick_live_gfn(fx, g, fx->r[pos].ts, false, &gfn))
		return ALT_SKIP;
	if (alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].mmio.gpa = gfn << PAGE_SHIFT | (a->r[pos].mmio.gpa & 0xfff);
	completion = a->r[pos].mmio.type == MMIO_READ && pending_read(fx, pos) == a->r[pos].mmio.gpa;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": kvm_mmio gpa -> %#" PRIx64 "%s",
		 pos, a->r[pos].mmio.gpa, completion ? " (the pending read's)" : "");
	return completion ? ALT_NO_BREAK : ALT_BREAKS;
}

/* MMIO_UNBACKED: a kvm_mmio write to a live slot inserted by a vCPU thread. */
static enum judged mmio_live_insert(struct fx *fx, struct rng *g, struct altered *a)
{
	struct kmmu_trace_record rec = { .type = KMMU_EV_MMIO };
	uint64_t pos, at, gfn;

	if (!pick_type(fx, g, KMMU_EV_MMIO, &pos))
		return ALT_SKIP;
	at = rnd_below(g, fx->nr);
	rec.ts = fx->r[at].ts;
	rec.cpu = fx->r[pos].cpu;
	rec.pid = fx->r[pos].pid;
	if (!pick_live_gfn(fx, g, rec.ts, false, &gfn) || alt_copy(fx, a, 1))
		return ALT_SKIP;
	rec.mmio.type = MMIO_WRITE;
	rec.mmio.len = 4;
	rec.mmio.gpa = gfn << PAGE_SHIFT;
	at = alt_insert(a, &rec);
	snprintf(a->what, sizeof(a->what), "inserted at %" PRIu64 ": kvm_mmio write gpa %#" PRIx64,
		 at, rec.mmio.gpa);
	return ALT_BREAKS;
}

/* MMIO_SPTE_UNBACKED: handle_mmio_page_fault's gfn moved into a live slot. */
static enum judged mmio_pf_live(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos, gfn;

	if (!pick_type(fx, g, KMMU_EV_HANDLE_MMIO_PAGE_FAULT, &pos))
		return ALT_SKIP;
	if (!pick_live_gfn(fx, g, fx->r[pos].ts, false, &gfn) || alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].mmio_pf.gfn = gfn;
	a->r[pos].mmio_pf.addr = gfn << PAGE_SHIFT;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": handle_mmio_page_fault gfn ->"
		 " %#" PRIx64, pos, gfn);
	return ALT_BREAKS;
}

static bool set_spte_leaf(const struct fx *fx, const struct kmmu_trace_record *r)
{
	return present_leaf(r->set_spte.spte, r->set_spte.level);
}

/* SPTE_IN_SLOT: kvm_mmu_set_spte for a gfn no slot ever had. */
static enum judged spte_unbacked(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos;

	if (!pick_where(fx, g, KMMU_EV_SET_SPTE, &pos, set_spte_leaf) || alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].set_spte.gfn = hole_gfn(fx, g, a->r[pos].set_spte.level);
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": kvm_mmu_set_spte gfn -> %#" PRIx64,
		 pos, (uint64_t)a->r[pos].set_spte.gfn);
	return ALT_BREAKS;
}

/*
 * A gfn some slot backs at another time but none around @ts (with the
 * clock margin), and no ioctl then changes: a removed or not yet created
 * slot's.  False if there is none.
 */
static bool pick_stale_gfn(const struct fx *fx, struct rng *g, uint64_t ts, unsigned int level,
			   uint64_t *gfn)
{
	uint64_t pages = level >= 2 ? 1ULL << (9 * (level - 1)) : 1;
	uint64_t lo = ts > fx->margin + 1 ? ts - fx->margin - 1 : 0, hi = ts + fx->margin + 1;

	for (int tries = 0; fx->niv && tries < 64; tries++) {
		const struct slot_ival *v = &fx->iv[rnd_below(g, fx->niv)];
		uint64_t x = (v->base + rnd_below(g, v->npages)) & ~(pages - 1);
		bool backed = false;

		for (uint64_t k = 0; k < pages && !backed; k++)
			backed = gfn_backed_during(fx, x + k, lo, hi, 0);
		for (size_t w = 0; w < fx->nwin && !backed; w++) {
			const struct ioctl_win *o = &fx->win[w];

			backed = o->start <= hi && lo <= o->end &&
				 ((x < o->old_base + o->old_npages && o->old_base < x + pages) ||
				  (x < o->new_base + o->new_npages && o->new_base < x + pages));
		}
		if (!backed) {
			*gfn = x;
			return true;
		}
	}
	return false;
}

/* SPTE_IN_SLOT: kvm_mmu_set_spte for a gfn of a slot not live at the time. */
static enum judged spte_stale_gfn(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos, gfn;

	if (!pick_where(fx, g, KMMU_EV_SET_SPTE, &pos, set_spte_leaf) ||
	    !pick_stale_gfn(fx, g, fx->r[pos].ts, fx->r[pos].set_spte.level, &gfn) ||
	    alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].set_spte.gfn = gfn;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": kvm_mmu_set_spte gfn -> %#" PRIx64
		 " (no slot's then)", pos, gfn);
	return ALT_BREAKS;
}

static bool tdp_install(const struct fx *fx, const struct kmmu_trace_record *r)
{
	unsigned int l = r->spte_changed.level;

	return !r->spte_changed.as_id && !present_leaf(r->spte_changed.old_spte, l) &&
	       present_leaf(r->spte_changed.new_spte, l);
}

/* SPTE_IN_SLOT: a TDP MMU leaf installed for a gfn no slot ever had. */
static enum judged tdp_install_unbacked(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos;

	if (!pick_where(fx, g, KMMU_EV_SPTE_CHANGED, &pos, tdp_install) || alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].spte_changed.gfn = hole_gfn(fx, g, a->r[pos].spte_changed.level);
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": kvm_tdp_mmu_spte_changed install"
		 " gfn -> %#" PRIx64, pos, (uint64_t)a->r[pos].spte_changed.gfn);
	return ALT_BREAKS;
}

/* SPTE_IN_SLOT: a TDP MMU leaf installed for a gfn of a slot not live at the time. */
static enum judged tdp_install_stale_gfn(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos, gfn;

	if (!pick_where(fx, g, KMMU_EV_SPTE_CHANGED, &pos, tdp_install) ||
	    !pick_stale_gfn(fx, g, fx->r[pos].ts, fx->r[pos].spte_changed.level, &gfn) ||
	    alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].spte_changed.gfn = gfn;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": kvm_tdp_mmu_spte_changed install"
		 " gfn -> %#" PRIx64 " (no slot's then)", pos, gfn);
	return ALT_BREAKS;
}

/*
 * SPTE_IN_SLOT: a 4K leaf install made a 2M one (aligned down, its pfn
 * too) where the 2M around it is not wholly in one slot live throughout.
 */
static enum judged huge_crosses_slot(struct fx *fx, struct rng *g, struct altered *a)
{
	for (int tries = 0; tries < 256; tries++) {
		unsigned int type = rnd_below(g, 2) ? KMMU_EV_SET_SPTE : KMMU_EV_SPTE_CHANGED;
		uint64_t pos, gfn, lo, hi, *spte;
		bool inside = false;

		if (!pick_where(fx, g, type, &pos, type == KMMU_EV_SET_SPTE ? set_spte_leaf :
				tdp_install))
			continue;
		if ((type == KMMU_EV_SET_SPTE ? fx->r[pos].set_spte.level :
		     fx->r[pos].spte_changed.level) != 1)
			continue;
		gfn = (type == KMMU_EV_SET_SPTE ? fx->r[pos].set_spte.gfn :
		       fx->r[pos].spte_changed.gfn) & ~511ULL;
		lo = fx->r[pos].ts > fx->margin + 1 ? fx->r[pos].ts - fx->margin - 1 : 0;
		hi = fx->r[pos].ts + fx->margin + 1;
		for (size_t i = 0; i < fx->niv; i++)
			inside |= fx->iv[i].base <= gfn && gfn + 512 <= fx->iv[i].base + fx->iv[i].npages &&
				  fx->iv[i].from <= hi && lo <= fx->iv[i].to;
		if (inside || alt_copy(fx, a, 0))
			continue;
		if (type == KMMU_EV_SET_SPTE) {
			a->r[pos].set_spte.gfn = gfn;
			a->r[pos].set_spte.level = 2;
			spte = &a->r[pos].set_spte.spte;
		} else {
			a->r[pos].spte_changed.gfn = gfn;
			a->r[pos].spte_changed.level = 2;
			spte = &a->r[pos].spte_changed.new_spte;
		}
		*spte = (*spte & ~(511ULL << PAGE_SHIFT)) | KMMU_PT_PAGE_SIZE_MASK;
		snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": %s made a 2M leaf at gfn %#"
			 PRIx64 ", not wholly in a slot", pos, kmmu_rec_type_name(type), gfn);
		return ALT_BREAKS;
	}
	return ALT_SKIP;
}

/* SPTE_WRITABLE: a leaf of a read-only slot made writable. */
static enum judged ro_writable(struct fx *fx, struct rng *g, struct altered *a)
{
	for (int tries = 0; tries < 256; tries++) {
		uint64_t pos, gfn, pages;
		const struct kmmu_trace_record *r;

		if (!pick_where(fx, g, KMMU_EV_SET_SPTE, &pos, set_spte_leaf))
			return ALT_SKIP;
		r = &fx->r[pos];
		pages = r->set_spte.level >= 2 ? 1ULL << (9 * (r->set_spte.level - 1)) : 1;
		gfn = r->set_spte.gfn;
		/* Only a read-only layout backs it then, and none changes under it. */
		if (!gfn_backed_during(fx, gfn, r->ts - fx->margin, r->ts + fx->margin,
				       KMMU_MEM_READONLY) || pages != 1)
			continue;
		{
			bool other = false;

			for (size_t i = 0; i < fx->niv; i++) {
				const struct slot_ival *v = &fx->iv[i];

				if (gfn >= v->base && gfn - v->base < v->npages &&
				    v->from <= r->ts + fx->margin && r->ts <= v->to + fx->margin &&
				    (!(v->flags & KMMU_MEM_READONLY) ||
				     !(v->from < r->ts - fx->margin && r->ts + fx->margin < v->to)))
					other = true;
			}
			if (other)
				continue;
		}
		if (alt_copy(fx, a, 0))
			return ALT_SKIP;
		a->r[pos].set_spte.spte |= KMMU_PT_WRITABLE_MASK;
		snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": kvm_mmu_set_spte of read-only"
			 " gfn %#" PRIx64 " made writable", pos, gfn);
		return ALT_BREAKS;
	}
	return ALT_SKIP;
}

static bool huge_install(const struct fx *fx, const struct kmmu_trace_record *r)
{
	if (r->type == KMMU_EV_SET_SPTE)
		return r->set_spte.level >= 2 && set_spte_leaf(fx, r);
	return r->spte_changed.level >= 2 && tdp_install(fx, r);
}

/* HUGE_ALLOWED: a huge leaf's pfn not aligned to its size. */
static enum judged huge_pfn_misaligned(struct fx *fx, struct rng *g, struct altered *a)
{
	unsigned int type = rnd_below(g, 2) ? KMMU_EV_SET_SPTE : KMMU_EV_SPTE_CHANGED;
	uint64_t pos, *spte;

	if (!pick_where(fx, g, type, &pos, huge_install) &&
	    !pick_where(fx, g, type ^ KMMU_EV_SET_SPTE ^ KMMU_EV_SPTE_CHANGED, &pos, huge_install))
		return ALT_SKIP;
	if (alt_copy(fx, a, 0))
		return ALT_SKIP;
	spte = a->r[pos].type == KMMU_EV_SET_SPTE ? &a->r[pos].set_spte.spte :
		&a->r[pos].spte_changed.new_spte;
	*spte += (1 + rnd_below(g, 511)) << PAGE_SHIFT;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": huge %s pfn -> %#" PRIx64, pos,
		 kmmu_rec_type_name(a->r[pos].type), kmmu_spte_to_pfn(*spte));
	return ALT_BREAKS;
}

static bool leaf_to_leaf(const struct fx *fx, const struct kmmu_trace_record *r)
{
	unsigned int l = r->spte_changed.level;

	return present_leaf(r->spte_changed.old_spte, l) && present_leaf(r->spte_changed.new_spte, l);
}

/* LEAF_CHANGE: a present leaf moved to another pfn in place. */
static enum judged leaf_pfn_moved(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos, bit;

	if (!pick_where(fx, g, KMMU_EV_SPTE_CHANGED, &pos, leaf_to_leaf) || alt_copy(fx, a, 0))
		return ALT_SKIP;
	bit = PAGE_SHIFT + 9 * (a->r[pos].spte_changed.level - 1) + rnd_below(g, 8);
	a->r[pos].spte_changed.new_spte ^= 1ULL << bit;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": leaf change's new pfn bit %" PRIu64
		 " flipped", pos, bit);
	return ALT_BREAKS;
}

/* LEAF_CHANGE: a traced change of a present leaf that changes nothing. */
static enum judged leaf_change_noop(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos;

	if (!pick_where(fx, g, KMMU_EV_SPTE_CHANGED, &pos, leaf_to_leaf) || alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].spte_changed.new_spte = a->r[pos].spte_changed.old_spte;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": leaf change to itself", pos);
	return ALT_BREAKS;
}

/* MEMSLOT_RESULT: an ioctl's recorded result changed (the reference's stays). */
static enum judged memslot_ret(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos;

	if (!pick_type(fx, g, KMMU_ACT_SET_MEMSLOT, &pos) || alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].memslot.ret = a->r[pos].memslot.ret ? 0 :
				rnd_below(g, 2) ? -EINVAL : -EEXIST;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": memslot ioctl ret -> %d", pos,
		 a->r[pos].memslot.ret);
	return ALT_BREAKS;
}

/*
 * The leaves of address space 0 the trace @r holds, as the kernel's events
 * tell: installs (kvm_mmu_set_spte on the shadow MMU, the TDP MMU's
 * changes), traced drops, notifier unmaps, and on the shadow MMU without
 * its kprobe drops fast zaps and shadow pages zapped (their own level's
 * leaves: a direct one's in its range, an indirect one's anywhere); with
 * those drops, and on the TDP MMU, each drop is traced.  Whatever may
 * have dropped a leaf drops it here: the count errs towards fewer.
 */
struct live_leaf {
	uint64_t gfn, pages, sptep;
};

static const struct ioctl_win *win_of_record(const struct fx *fx,
					     const struct kmmu_trace_record *r);

/*
 * ZAP_ON_REMOVE on @r: does a DELETE or MOVE returning at or after @from
 * leave a leaf of its old range live?
 */
static bool leaves_survive_removal(const struct fx *fx, const struct kmmu_trace_record *r,
				   uint64_t nr, uint64_t from)
{
	struct live_leaf *l = NULL;
	size_t n = 0, cap = 0;
	bool survive = false;

	for (uint64_t i = 0; i < nr && !survive; i++) {
		const struct kmmu_trace_record *e = &r[i];
		uint64_t lo = 0, hi = 0, sptep = 0;
		bool add = false;
		unsigned int level = 0;

		switch (e->type) {
		case KMMU_ACT_SET_MEMSLOT: {
			const struct ioctl_win *w = e->ts >= from ? win_of_record(fx, e) : NULL;

			for (size_t k = 0; w && w->removes && k < n; k++)
				survive |= l[k].gfn < w->old_base + w->old_npages &&
					   w->old_base < l[k].gfn + l[k].pages;
			continue;
		}
		case KMMU_EV_SET_SPTE:
			if (fx->tdp_changes || !present_leaf(e->set_spte.spte, e->set_spte.level))
				continue;
			level = e->set_spte.level;
			lo = e->set_spte.gfn;
			sptep = e->set_spte.sptep;
			add = true;
			break;
		case KMMU_EV_SPTE_CHANGED: {
			bool was, is;

			level = e->spte_changed.level;
			was = present_leaf(e->spte_changed.old_spte, level);
			is = present_leaf(e->spte_changed.new_spte, level);
			if (e->spte_changed.as_id || was == is)
				continue;
			lo = e->spte_changed.gfn;
			add = is;
			if (!add)
				hi = lo + (level >= 2 ? 1ULL << (9 * (level - 1)) : 1);
			break;
		}
		case KMMU_EV_ZAP_ALL_FAST:
			/* Where each drop is traced, only the drops count. */
			if (fx->tdp_changes || fx->shadow_clears)
				continue;
			lo = 0;
			hi = UINT64_MAX;
			break;
		case KMMU_EV_PREPARE_ZAP_PAGE:
			/*
			 * A shadow page zapped drops the leaves it holds, of its
			 * own level (its children pages are only unlinked): a
			 * direct one's lie in its range, an indirect one's
			 * anywhere (they follow the guest's page table).
			 */
			if (fx->tdp_changes || fx->shadow_clears)
				continue;
			level = ROLE_LEVEL(e->sp.role);
			if (level < 1 || level > 5)
				level = 5;	/* not a level: anything goes */
			if (e->sp.role & ROLE_DIRECT) {
				lo = e->sp.gfn;
				hi = lo + (1ULL << (9 * level));
			} else {
				hi = UINT64_MAX;
			}
			for (size_t k = 0; k < n; k++)
				if (l[k].gfn < hi && lo < l[k].gfn + l[k].pages &&
				    l[k].pages == 1ULL << (9 * (level - 1)))
					l[k--] = l[--n];
			continue;
		case KMMU_EV_SHADOW_SPTE_CLEAR:
			sptep = e->shadow_spte.sptep - (e->shadow_spte.page_offset ?
				e->shadow_spte.page_offset : 0xffff888000000000ULL);
			for (size_t k = 0; k < n; k++)
				if (l[k].sptep == sptep)
					l[k--] = l[--n];
			continue;
		case KMMU_EV_UNMAP_HVA_RANGE:
			/* Every slot live around it whose host range it overlaps. */
			for (size_t v = 0; v < fx->niv; v++) {
				const struct slot_ival *s = &fx->iv[v];
				uint64_t a0, b0;

				if (s->from > e->ts + fx->margin || e->ts > s->to + fx->margin ||
				    e->hva_range.end <= s->hva ||
				    e->hva_range.start >= s->hva + (s->npages << PAGE_SHIFT))
					continue;
				a0 = e->hva_range.start > s->hva ?
				     s->base + ((e->hva_range.start - s->hva) >> PAGE_SHIFT) : s->base;
				b0 = s->base + ((e->hva_range.end - s->hva + 4095) >> PAGE_SHIFT);
				if (b0 > s->base + s->npages)
					b0 = s->base + s->npages;
				for (size_t k = 0; k < n; k++)
					if (l[k].gfn < b0 && a0 < l[k].gfn + l[k].pages)
						l[k--] = l[--n];
			}
			continue;
		default:
			continue;
		}
		if (add) {
			if (n == cap) {
				struct live_leaf *more;

				cap = cap ? 2 * cap : 256;
				more = realloc(l, cap * sizeof(*l));
				if (!more) {
					free(l);
					return false;
				}
				l = more;
			}
			/* The shadow MMU overwrites an SPTE in place. */
			for (size_t k = 0; sptep && k < n; k++)
				if (l[k].sptep == sptep)
					l[k--] = l[--n];
			l[n++] = (struct live_leaf){
				.gfn = lo, .sptep = sptep,
				.pages = level >= 2 ? 1ULL << (9 * (level - 1)) : 1 };
			continue;
		}
		for (size_t k = 0; k < n; k++)
			if (l[k].gfn < hi && lo < l[k].gfn + l[k].pages)
				l[k--] = l[--n];
	}
	free(l);
	return survive;
}

/* The window of record @pos; NULL if it is none's. */
static const struct ioctl_win *win_of(const struct fx *fx, uint64_t pos)
{
	for (size_t w = 0; w < fx->nwin; w++)
		if (fx->win[w].pos == pos)
			return &fx->win[w];
	return NULL;
}

/* The window of the memslot record @r of a changed copy (the same ioctl's); NULL if none. */
static const struct ioctl_win *win_of_record(const struct fx *fx,
					     const struct kmmu_trace_record *r)
{
	for (size_t w = 0; w < fx->nwin; w++)
		if (fx->win[w].end == r->ts && fx->win[w].start == r->memslot.start_ts &&
		    fx->r[fx->win[w].pos].memslot.slot == r->memslot.slot)
			return &fx->win[w];
	return NULL;
}

static bool is_zap_record(const struct kmmu_trace_record *e)
{
	unsigned int l = e->spte_changed.level;

	return e->type == KMMU_EV_ZAP_ALL_FAST || e->type == KMMU_EV_PREPARE_ZAP_PAGE ||
	       e->type == KMMU_EV_SHADOW_SPTE_CLEAR ||
	       (e->type == KMMU_EV_SPTE_CHANGED &&
		(e->spte_changed.old_spte & KMMU_SPTE_MMU_PRESENT_MASK) &&
		!(e->spte_changed.new_spte & KMMU_SPTE_MMU_PRESENT_MASK) && l);
}

/*
 * ZAP_ON_REMOVE: a DELETE or MOVE whose zap is missing: every zap record
 * of the ioctl's task while it was in flight (fast zap, shadow pages
 * zapped, SPTE drops) is removed.  It breaks the property when the slot
 * still had a leaf then, or a later removal finds one of its slot that
 * only the missing fast zap had dropped.
 */
static enum judged missing_zap(struct fx *fx, struct rng *g, struct altered *a)
{
	const struct ioctl_win *w = NULL;
	uint64_t pos, k = 0, removed = 0;
	bool held;

	for (int tries = 0; tries < 256 && !w; tries++) {
		if (!pick_type(fx, g, KMMU_ACT_SET_MEMSLOT, &pos))
			return ALT_SKIP;
		w = win_of(fx, pos);
		if (w && !w->removes)
			w = NULL;
	}
	if (!w || alt_copy(fx, a, 0))
		return ALT_SKIP;
	for (uint64_t i = 0; i < fx->nr; i++) {
		const struct kmmu_trace_record *e = &fx->r[i];

		if (e->ts >= w->start && i < w->pos && e->pid == fx->r[w->pos].pid &&
		    is_zap_record(e)) {
			removed++;
			continue;
		}
		a->r[k++] = *e;
	}
	a->nr = k;
	if (!removed) {
		free(a->r);
		a->r = NULL;
		return ALT_SKIP;	/* nothing was zapped: nothing to take away */
	}
	/* This removal, or a later one whose leaves the missing zap-all dropped. */
	held = leaves_survive_removal(fx, a->r, a->nr, fx->r[w->pos].ts);
	snprintf(a->what, sizeof(a->what), "%" PRIu64 " zap records of the %s at record %" PRIu64
		 " (slot [gfn %#" PRIx64 "+%#" PRIx64 ")) removed", removed,
		 w->new_npages ? "MOVE" : "DELETE", w->pos, w->old_base, w->old_npages);
	return held ? ALT_BREAKS : ALT_NO_BREAK;
}

/*
 * NO_SPTE_AFTER_ZAP: a kvm_mmu_set_spte for a removed slot's gfn inserted
 * between its zap and the end of its removal.
 */
static enum judged spte_after_zap(struct fx *fx, struct rng *g, struct altered *a)
{
	for (int tries = 0; tries < 256; tries++) {
		struct kmmu_trace_record rec = { .type = KMMU_EV_SET_SPTE };
		uint64_t pos, leaf, zap_ts = 0, gfn;
		const struct ioctl_win *w;

		if (!pick_type(fx, g, KMMU_ACT_SET_MEMSLOT, &pos))
			return ALT_SKIP;
		w = win_of(fx, pos);
		if (!w || !w->removes || !pick_where(fx, g, KMMU_EV_SET_SPTE, &leaf, set_spte_leaf))
			continue;
		for (uint64_t i = 0; i < w->pos && !zap_ts; i++) {
			const struct kmmu_trace_record *e = &fx->r[i];

			if (e->ts >= w->start && e->pid == fx->r[pos].pid &&
			    (e->type == KMMU_EV_ZAP_ALL_FAST || e->type == KMMU_EV_PREPARE_ZAP_PAGE))
				zap_ts = e->ts;
		}
		if (!zap_ts || w->end - zap_ts < 2)
			continue;
		gfn = w->old_base + rnd_below(g, w->old_npages);
		if (gfn >= w->new_base && gfn - w->new_base < w->new_npages)
			continue;
		rec.ts = zap_ts + 1 + rnd_below(g, w->end - zap_ts - 1);
		rec.cpu = fx->r[pos].cpu;
		rec.pid = fx->r[leaf].pid;
		rec.set_spte = fx->r[leaf].set_spte;
		rec.set_spte.gfn = gfn;
		rec.set_spte.level = 1;
		rec.set_spte.sptep = 0;
		rec.set_spte.spte &= ~KMMU_PT_PAGE_SIZE_MASK;
		if (alt_copy(fx, a, 1))
			return ALT_SKIP;
		pos = alt_insert(a, &rec);
		snprintf(a->what, sizeof(a->what), "inserted at %" PRIu64 ": kvm_mmu_set_spte gfn %#"
			 PRIx64 " after the zap of the removal at record %" PRIu64, pos, gfn, w->pos);
		return ALT_BREAKS;
	}
	return ALT_SKIP;
}

static uint64_t spte_key(const struct kmmu_trace_record *r)
{
	return r->spte_changed.gfn << 8 | r->spte_changed.as_id << 4 | r->spte_changed.level;
}

/* Could KVM have changed @from into @to untraced (the CPU's A/D, fast_page_fault()'s W)? */
static bool untraced_explains(const struct fx *fx, uint64_t from, uint64_t to)
{
	uint64_t loose = fx->a_mask | fx->d_mask | KMMU_PT_WRITABLE_MASK | KMMU_SPTE_MMU_WRITABLE |
			 (1ULL << 58);

	if (!(from & KMMU_SPTE_MMU_PRESENT_MASK) && !(to & KMMU_SPTE_MMU_PRESENT_MASK))
		return true;
	if (!fx->a_mask)
		return from == to;
	return !((from ^ to) & ~loose);
}

/* Whether a memslot ioctl with a fast zap (a second root) overlaps [lo, hi]. */
static bool zap_all_during(const struct fx *fx, uint64_t lo, uint64_t hi)
{
	for (size_t i = 0; i < fx->nr_type[KMMU_EV_ZAP_ALL_FAST]; i++) {
		uint64_t ts = fx->r[fx->by_type[KMMU_EV_ZAP_ALL_FAST][i]].ts;

		for (size_t w = 0; w < fx->nwin; w++)
			if (fx->win[w].start <= ts && ts <= fx->win[w].end &&
			    fx->win[w].start <= hi && lo <= fx->win[w].end)
				return true;
		if (lo <= ts && ts <= hi)
			return true;
	}
	return false;
}

/*
 * SPTE_HISTORY: two successive traced changes of one SPTE, made on one
 * CPU, swapped (each keeps its place in time).  It breaks the property
 * when one of them no longer starts from what the change before it left,
 * beyond what KVM changes untraced; judged only where the trace names one
 * SPTE (one VM, no second root from a fast zap around).
 */
static enum judged reorder_spte_updates(struct fx *fx, struct rng *g, struct altered *a)
{
	if (fx->vm_creates > 1)
		return ALT_SKIP;
	for (int tries = 0; tries < 256; tries++) {
		uint64_t i, j, p = UINT64_MAX, key;
		struct kmmu_trace_record t;
		bool breaks;

		if (!pick_type(fx, g, KMMU_EV_SPTE_CHANGED, &i))
			return ALT_SKIP;
		key = spte_key(&fx->r[i]);
		for (j = i + 1; j < fx->nr; j++)
			if (fx->r[j].type == KMMU_EV_SPTE_CHANGED && spte_key(&fx->r[j]) == key)
				break;
		if (j == fx->nr || fx->r[j].cpu != fx->r[i].cpu)
			continue;
		for (uint64_t k = i; k-- > 0;)
			if (fx->r[k].type == KMMU_EV_SPTE_CHANGED && spte_key(&fx->r[k]) == key) {
				p = k;
				break;
			}
		if (zap_all_during(fx, fx->r[p == UINT64_MAX ? i : p].ts, fx->r[j].ts))
			continue;
		if (alt_copy(fx, a, 0))
			return ALT_SKIP;
		t = a->r[i];
		a->r[i] = a->r[j];
		a->r[j] = t;
		a->r[j].ts = fx->r[j].ts;
		a->r[i].ts = fx->r[i].ts;
		/* At i: B (y -> z) after p; at j: A (x -> y) after B. */
		breaks = !untraced_explains(fx, a->r[i].spte_changed.new_spte,
					    a->r[j].spte_changed.old_spte) ||
			 (p != UINT64_MAX &&
			  !untraced_explains(fx, fx->r[p].spte_changed.new_spte,
					     a->r[i].spte_changed.old_spte));
		snprintf(a->what, sizeof(a->what), "records %" PRIu64 " and %" PRIu64 " (gfn %#" PRIx64
			 " level %u) swapped", i, j, (uint64_t)fx->r[i].spte_changed.gfn,
			 fx->r[i].spte_changed.level);
		return breaks ? ALT_BREAKS : ALT_NO_BREAK;
	}
	return ALT_SKIP;
}

static bool a_clear(const struct fx *fx, const struct kmmu_trace_record *r)
{
	return is_a_clear(fx, r);
}

static bool a_clear_keeping(const struct fx *fx, const struct kmmu_trace_record *r)
{
	return is_a_clear(fx, r) && (r->spte_changed.new_spte & (fx->d_mask | KMMU_PT_WRITABLE_MASK));
}

/* AGING_KEEPS_DIRTY: an aging pass's Accessed clear also clears Dirty or Writable. */
static enum judged aging_drops_dirty(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos, keep, lose;

	if (!pick_where(fx, g, KMMU_EV_SPTE_CHANGED, &pos, a_clear_keeping) || alt_copy(fx, a, 0))
		return ALT_SKIP;
	keep = a->r[pos].spte_changed.new_spte & (fx->d_mask | KMMU_PT_WRITABLE_MASK);
	lose = keep;
	if ((keep & fx->d_mask) && (keep & KMMU_PT_WRITABLE_MASK) && rnd_below(g, 3))
		lose = rnd_below(g, 2) ? fx->d_mask : KMMU_PT_WRITABLE_MASK;
	a->r[pos].spte_changed.new_spte &= ~lose;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": Accessed clear also clears %s%s",
		 pos, lose & fx->d_mask ? "Dirty " : "", lose & KMMU_PT_WRITABLE_MASK ? "Writable" : "");
	return ALT_BREAKS;
}

/* AGING_IN_PASS: an Accessed clear made by a task that is not aging. */
static enum judged aging_other_task(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos;

	if (!pick_where(fx, g, KMMU_EV_SPTE_CHANGED, &pos, a_clear) || alt_copy(fx, a, 0))
		return ALT_SKIP;
	/* A pid no record of the trace has: that task never ran kvm_age_hva. */
	a->r[pos].pid = 0x40000000 + (int32_t)rnd_below(g, 1 << 20);
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": Accessed clear by pid %d", pos,
		 a->r[pos].pid);
	return ALT_BREAKS;
}

/* Whether the host range of the age request @age covers the leaf @r changes, through a slot. */
static bool pass_covers_leaf(const struct fx *fx, const struct kmmu_trace_record *age,
			     const struct kmmu_trace_record *r)
{
	uint64_t gfn = r->spte_changed.gfn, level = r->spte_changed.level;
	uint64_t pages = level >= 2 && level <= 3 ? 1ULL << (9 * (level - 1)) : 1;

	for (size_t i = 0; i < fx->niv; i++) {
		const struct slot_ival *v = &fx->iv[i];
		uint64_t lo, hi;

		if (gfn + pages <= v->base || gfn >= v->base + v->npages ||
		    v->from > age->ts + fx->margin || age->ts > v->to + fx->margin)
			continue;
		lo = v->hva + ((gfn > v->base ? gfn - v->base : 0) << PAGE_SHIFT);
		hi = v->hva + ((gfn + pages < v->base + v->npages ? gfn + pages - v->base :
				v->npages) << PAGE_SHIFT);
		if (lo < age->hva_range.end && age->hva_range.start < hi)
			return true;
	}
	return false;
}

/*
 * AGING_IN_PASS: an Accessed clear moved out of its pass, after the task's
 * next record that is not an SPTE change (which ends the pass).  Where
 * that record starts another pass, the clear is in it: a break only if
 * that pass's host range does not cover the leaf.
 */
static enum judged aging_moved_out(struct fx *fx, struct rng *g, struct altered *a)
{
	for (int tries = 0; tries < 256; tries++) {
		struct kmmu_trace_record rec;
		uint64_t pos, end;
		bool covered;

		if (!pick_where(fx, g, KMMU_EV_SPTE_CHANGED, &pos, a_clear))
			return ALT_SKIP;
		for (end = pos + 1; end < fx->nr; end++)
			if (fx->r[end].pid == fx->r[pos].pid &&
			    fx->r[end].type != KMMU_EV_SPTE_CHANGED &&
			    fx->r[end].type != KMMU_EV_SPLIT_HUGE_PAGE)
				break;
		if (end == fx->nr || alt_copy(fx, a, 0))
			continue;
		covered = fx->r[end].type == KMMU_EV_AGE_HVA &&
			  pass_covers_leaf(fx, &fx->r[end], &fx->r[pos]);
		rec = a->r[pos];
		rec.ts = fx->r[end].ts;
		memmove(a->r + pos, a->r + pos + 1, (a->nr - pos - 1) * sizeof(*a->r));
		a->nr--;
		/* Right after the record that ended the pass. */
		memmove(a->r + end + 1, a->r + end, (a->nr - end) * sizeof(*a->r));
		a->r[end] = rec;
		a->nr++;
		snprintf(a->what, sizeof(a->what), "record %" PRIu64 " (an Accessed clear) moved after"
			 " record %" PRIu64 " (%s), which ended its pass%s", pos, end,
			 kmmu_rec_type_name(fx->r[end].type), covered ? " (and covers it)" : "");
		return covered ? ALT_NO_BREAK : ALT_BREAKS;
	}
	return ALT_SKIP;
}

/* AGING_IN_PASS: a kvm_age_hva whose pass cleared Accessed bits moved to no slot's memory. */
static enum judged aging_wrong_hva(struct fx *fx, struct rng *g, struct altered *a)
{
	for (int tries = 0; tries < 256; tries++) {
		uint64_t pos, len, clears = 0;

		if (!pick_type(fx, g, KMMU_EV_AGE_HVA, &pos))
			return ALT_SKIP;
		/* The pass: the task's records after it up to its next other one. */
		for (uint64_t i = pos + 1; i < fx->nr; i++) {
			const struct kmmu_trace_record *e = &fx->r[i];

			if (e->pid != fx->r[pos].pid)
				continue;
			if (e->type != KMMU_EV_SPTE_CHANGED && e->type != KMMU_EV_SPLIT_HUGE_PAGE)
				break;
			clears += is_a_clear(fx, e) && !e->spte_changed.as_id;
		}
		if (!clears || alt_copy(fx, a, 0))
			continue;
		len = fx->r[pos].hva_range.end - fx->r[pos].hva_range.start;
		a->r[pos].hva_range.start = fx->hva_end + (1ULL << 30) +
					    (rnd_below(g, 1 << 20) << PAGE_SHIFT);
		a->r[pos].hva_range.end = a->r[pos].hva_range.start + len;
		snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": kvm_age_hva of a pass with %"
			 PRIu64 " Accessed clears moved to hva %#" PRIx64, pos, clears,
			 (uint64_t)a->r[pos].hva_range.start);
		return ALT_BREAKS;
	}
	return ALT_SKIP;
}

/*
 * The memslot generation swaps of address space 0 replayed before @ts
 * (each successful ioctl: one, DELETE and MOVE two); a generation event
 * may be judged against them when no ioctl is in flight at @ts.
 */
static uint64_t swaps_before(const struct fx *fx, uint64_t ts)
{
	uint64_t n = 0;

	for (size_t w = 0; w < fx->nwin; w++)
		if (fx->win[w].end < ts)
			n += fx->win[w].swaps;
	return n;
}

/* A generation event clear of every ioctl and of another CPU's recent update. */
static bool gen_event_judgeable(const struct fx *fx, const struct kmmu_trace_record *r)
{
	if (in_any_window(fx, r->ts))
		return false;
	for (size_t i = 0; i < fx->nr_type[KMMU_ACT_SET_MEMSLOT]; i++) {
		const struct kmmu_trace_record *o = &fx->r[fx->by_type[KMMU_ACT_SET_MEMSLOT][i]];

		if (o->ts == r->ts || (o->memslot.start_ts <= r->ts && r->ts <= o->ts))
			return false;
		if (o->cpu != r->cpu && o->ts < r->ts && r->ts - o->ts < GEN_SKEW_NS)
			return false;
	}
	return true;
}

static uint64_t kernel_gen(const struct kmmu_trace_record *r)
{
	return r->type == KMMU_EV_MARK_MMIO_SPTE ? r->mark_mmio.gen : r->check_mmio.kvm_gen;
}

/*
 * MMIO_GEN_MODEL holds for @a if one constant C and a step of 1 or 2 per
 * swap (one or two address spaces) give every judgeable generation event:
 * kernel gen == C + swaps * step.
 */
static bool gens_fit_model(const struct fx *fx, const struct altered *a)
{
	for (uint64_t step = 1; step <= 2; step++) {
		bool have = false, fits = true;
		uint64_t c = 0;

		for (uint64_t i = 0; i < a->nr && fits; i++) {
			const struct kmmu_trace_record *r = &a->r[i];
			uint64_t model;

			if ((r->type != KMMU_EV_MARK_MMIO_SPTE && r->type != KMMU_EV_CHECK_MMIO_SPTE) ||
			    !gen_event_judgeable(fx, r))
				continue;
			model = swaps_before(fx, r->ts) * step;
			if (!have) {
				c = (kernel_gen(r) - model) & GEN_MASK;
				have = true;
			}
			fits = ((kernel_gen(r) - model) & GEN_MASK) == c;
		}
		if (fits)
			return true;
	}
	return false;
}

static bool gen_forwardable(const struct fx *fx, const struct kmmu_trace_record *r)
{
	return gen_event_judgeable(fx, r);
}

/*
 * MMIO_GEN_MODEL: a generation the kernel stamped (mark_mmio_spte) or
 * compared with (check_mmio_spte) moved forward or back, outside any
 * memslot ioctl and any other CPU's recent update.  It breaks the
 * property when no constant fits every such generation event any more.
 */
static enum judged gen_forward(struct fx *fx, struct rng *g, struct altered *a)
{
	unsigned int type = rnd_below(g, 2) ? KMMU_EV_MARK_MMIO_SPTE : KMMU_EV_CHECK_MMIO_SPTE;
	uint64_t pos, d = 1 + rnd_below(g, 16);

	/* Older generations too: where no other CPU's update explains them. */
	if (rnd_below(g, 2))
		d = GEN_MASK + 1 - d;

	if (!pick_where(fx, g, type, &pos, gen_forwardable) &&
	    !pick_where(fx, g, type ^ KMMU_EV_MARK_MMIO_SPTE ^ KMMU_EV_CHECK_MMIO_SPTE, &pos,
			gen_forwardable))
		return ALT_SKIP;
	if (alt_copy(fx, a, 0))
		return ALT_SKIP;
	if (a->r[pos].type == KMMU_EV_MARK_MMIO_SPTE)
		a->r[pos].mark_mmio.gen = (a->r[pos].mark_mmio.gen + d) & GEN_MASK;
	else
		a->r[pos].check_mmio.kvm_gen = (a->r[pos].check_mmio.kvm_gen + d) & GEN_MASK;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": %s generation %+" PRId64, pos,
		 kmmu_rec_type_name(a->r[pos].type), (int64_t)(d > GEN_MASK / 2 ? d - GEN_MASK - 1 : d));
	return gens_fit_model(fx, a) ? ALT_NO_BREAK : ALT_BREAKS;
}

/* MMIO_CHECK: check_mmio_spte traces a generation its SPTE does not hold. */
static enum judged check_spte_gen(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos;

	if (!pick_type(fx, g, KMMU_EV_CHECK_MMIO_SPTE, &pos) || alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].check_mmio.spte_gen ^= 1u << rnd_below(g, 19);
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": check_mmio_spte spte_gen -> %#x",
		 pos, a->r[pos].check_mmio.spte_gen);
	return ALT_BREAKS;
}

/*
 * MMU_VALID_GEN: a fast zap reports the other mmu_valid_gen.  The first
 * of a VM created before the trace only tells the pairing: flipping it
 * breaks the property when another fast zap follows.
 */
static enum judged valid_gen_flip(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos, k;

	if (fx->vm_creates > 1 || !pick_type(fx, g, KMMU_EV_ZAP_ALL_FAST, &pos) ||
	    alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].zap_all_fast.mmu_valid_gen ^= 1;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": kvm_mmu_zap_all_fast"
		 " mmu_valid_gen flipped", pos);
	for (k = 0; k < fx->nr_type[KMMU_EV_ZAP_ALL_FAST]; k++)
		if (fx->by_type[KMMU_EV_ZAP_ALL_FAST][k] == pos)
			break;
	return fx->vm_creates || k > 0 || fx->nr_type[KMMU_EV_ZAP_ALL_FAST] > 1 ?
	       ALT_BREAKS : ALT_NO_BREAK;
}

/*
 * The leaves per level (4K, 2M, 1G) the TDP MMU's traced changes leave:
 * installs less drops, and a split's 512 children (written untraced).
 */
static void traced_leaves(const struct fx *fx, int64_t pages[3])
{
	memset(pages, 0, 3 * sizeof(*pages));
	for (uint64_t i = 0; i < fx->nr; i++) {
		const struct kmmu_trace_record *e = &fx->r[i];
		unsigned int l = e->spte_changed.level;
		bool was, is;

		if (e->type == KMMU_EV_SPLIT_HUGE_PAGE && !e->split.err && e->split.level >= 2 &&
		    e->split.level <= 3)
			pages[e->split.level - 2] += 512;
		if (e->type != KMMU_EV_SPTE_CHANGED || l < 1 || l > 3)
			continue;
		was = present_leaf(e->spte_changed.old_spte, l);
		is = present_leaf(e->spte_changed.new_spte, l);
		if (was != is)
			pages[l - 1] += is ? 1 : -1;
	}
}

/*
 * PAGE_STATS: the kernel reports more leaves at a level than the trace
 * leaves (no untraced change adds one), or fewer where nothing untraced
 * may have removed them.  Where other tasks' unmaps did, the kernel may
 * have fewer: more than the fixture's count breaks the property only
 * past what the trace leaves.
 */
static enum judged stats_off(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos, k = 1 + rnd_below(g, 3);
	unsigned int level = rnd_below(g, 3);
	bool more = rnd_below(g, 2);
	uint64_t *p;

	if (!pick_type(fx, g, KMMU_ACT_STATS, &pos) || alt_copy(fx, a, 0))
		return ALT_SKIP;
	p = &a->r[pos].stats.pages[level];
	if (!more && *p < k)
		more = true;
	*p = more ? *p + k : *p - k;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": pages at level %u %s %" PRIu64,
		 pos, level + 1, more ? "+" : "-", k);
	if (!fx->tdp_changes && !fx->shadow_clears)
		return ALT_NO_BREAK;	/* the leaves are not all traced: nothing to compare */
	if (!more && (fx->untraced_unmaps || a->r[pos].stats.flags))
		return ALT_NO_BREAK;
	if (more && fx->tdp_changes && (fx->untraced_unmaps || a->r[pos].stats.flags)) {
		int64_t traced[3];

		traced_leaves(fx, traced);
		return (int64_t)*p > traced[level] ? ALT_BREAKS : ALT_NO_BREAK;
	}
	return ALT_BREAKS;
}

/* ---- benign kinds --------------------------------------------------------- */

/* A record's timestamp moved between its neighbours', crossing no ioctl's issue. */
static enum judged jitter_ts(struct fx *fx, struct rng *g, struct altered *a)
{
	uint64_t pos = rnd_below(g, fx->nr), lo, hi, ts;

	lo = pos ? fx->r[pos - 1].ts : fx->r[pos].ts;
	hi = pos + 1 < fx->nr ? fx->r[pos + 1].ts : fx->r[pos].ts;
	if (hi <= lo)
		return ALT_SKIP;
	ts = lo + rnd_below(g, hi - lo + 1);
	for (size_t i = 0; i < fx->nr_type[KMMU_ACT_SET_MEMSLOT]; i++) {
		uint64_t s = fx->r[fx->by_type[KMMU_ACT_SET_MEMSLOT][i]].memslot.start_ts;

		if ((s > fx->r[pos].ts) != (s > ts) || s == ts || s == fx->r[pos].ts)
			return ALT_SKIP;
	}
	if (fx->r[pos].type == KMMU_ACT_SET_MEMSLOT && ts < fx->r[pos].memslot.start_ts)
		return ALT_SKIP;
	if (alt_copy(fx, a, 0))
		return ALT_SKIP;
	a->r[pos].ts = ts;
	snprintf(a->what, sizeof(a->what), "record %" PRIu64 ": ts %+" PRId64 " ns", pos,
		 (int64_t)(ts - fx->r[pos].ts));
	return ALT_BENIGN;
}

/* The most cpu_clock_offset moves a CPU's clock (KMMU_ALTER_SKEW_NS). */
static uint64_t max_skew_ns = 5000000;

/*
 * One CPU's clock off by up to max_skew_ns (5 ms: TCG's per-CPU clocks
 * were seen 4.5 ms apart, see spte_history.c), its records sorted in
 * again; a one-CPU trace only moves in time.
 */
static enum judged cpu_clock_offset(struct fx *fx, struct rng *g, struct altered *a)
{
	uint32_t cpu = fx->r[rnd_below(g, fx->nr)].cpu;
	int64_t d = (int64_t)rnd_below(g, 2 * max_skew_ns + 1) - (int64_t)max_skew_ns;

	if (alt_copy(fx, a, 0))
		return ALT_SKIP;
	for (uint64_t i = 0; i < a->nr; i++) {
		struct kmmu_trace_record *r = &a->r[i];

		if (r->cpu != cpu)
			continue;
		r->ts += d;
		if (r->type == KMMU_ACT_SET_MEMSLOT)
			r->memslot.start_ts += d;
		if (r->type == KMMU_ACT_STATS)
			r->stats.start_ts += d;
	}
	qsort(a->r, a->nr, sizeof(*a->r), cmp_ts);
	snprintf(a->what, sizeof(a->what), "cpu %u's clock %+" PRId64 " ns", cpu, d);
	return ALT_BENIGN;
}

/* Records no property reads: dropping one loses nothing the checker judges by. */
static bool unrelated(unsigned int type)
{
	switch (type) {
	case KMMU_EV_PAGE_FAULT:
	case KMMU_EV_SPTE_REQUESTED:
	case KMMU_EV_GET_PAGE:
	case KMMU_EV_FAST_PAGE_FAULT:
	case KMMU_EV_USERSPACE_EXIT:
	case KMMU_EV_MARKER:
	case KMMU_EV_SYS_ENTER:
	case KMMU_EV_TEST_AGE_HVA:
	case KMMU_EV_DAMON_AGGREGATED:
	case KMMU_ACT_GUEST_ACCESS:
	case KMMU_ACT_MMIO_EXIT:
	case KMMU_ACT_AGE_REQUEST:
		return true;
	}
	return false;
}

/*
 * Also records no property needs: an MMIO write exit (none must happen), a
 * read's completion (the exit was the decision), a new MMIO SPTE (its
 * generation is judged against the last one's, which any earlier one has
 * too), a check of one (whether it is used is judged only where checked),
 * a notifier unmap of memory no slot ever has.
 */
static bool droppable(const struct fx *fx, const struct kmmu_trace_record *r)
{
	if (unrelated(r->type))
		return true;
	if (r->type == KMMU_EV_MMIO)
		return r->mmio.type == MMIO_WRITE || r->mmio.type == MMIO_READ;
	if (r->type == KMMU_EV_MARK_MMIO_SPTE || r->type == KMMU_EV_CHECK_MMIO_SPTE)
		return true;
	if (r->type != KMMU_EV_UNMAP_HVA_RANGE)
		return false;
	for (size_t i = 0; i < fx->niv; i++)
		if (r->hva_range.start < fx->iv[i].hva + (fx->iv[i].npages << PAGE_SHIFT) &&
		    fx->iv[i].hva < r->hva_range.end)
			return false;
	return true;
}

static enum judged drop_unrelated(struct fx *fx, struct rng *g, struct altered *a)
{
	for (int tries = 0; tries < 4096; tries++) {
		uint64_t pos = rnd_below(g, fx->nr);

		if (!droppable(fx, &fx->r[pos]))
			continue;
		if (alt_copy(fx, a, 0))
			return ALT_SKIP;
		memmove(a->r + pos, a->r + pos + 1, (a->nr - pos - 1) * sizeof(*a->r));
		a->nr--;
		snprintf(a->what, sizeof(a->what), "record %" PRIu64 " (%s) dropped", pos,
			 kmmu_rec_type_name(fx->r[pos].type));
		return ALT_BENIGN;
	}
	return ALT_SKIP;
}

/* Every timestamp moved by one offset: the trace clock's origin is arbitrary. */
static enum judged shift_all(struct fx *fx, struct rng *g, struct altered *a)
{
	int64_t d = (int64_t)rnd_below(g, 2000000001) - 1000000000;

	if (fx->nr && d < 0 && (uint64_t)-d >= fx->r[0].ts)
		d = -d;
	if (alt_copy(fx, a, 0))
		return ALT_SKIP;
	for (uint64_t i = 0; i < a->nr; i++) {
		a->r[i].ts += d;
		if (a->r[i].type == KMMU_ACT_SET_MEMSLOT)
			a->r[i].memslot.start_ts += d;
		if (a->r[i].type == KMMU_ACT_STATS)
			a->r[i].stats.start_ts += d;
	}
	snprintf(a->what, sizeof(a->what), "every timestamp %+" PRId64 " ns", d);
	return ALT_BENIGN;
}

/* Every pid moved by one offset, often a multiple of 64 (pids that collide mod 64). */
static enum judged renumber_pids(struct fx *fx, struct rng *g, struct altered *a)
{
	int32_t d = rnd_below(g, 2) ? 64 * (int32_t)(1 + rnd_below(g, 1000)) :
		    (int32_t)(1 + rnd_below(g, 100000));

	if (alt_copy(fx, a, 0))
		return ALT_SKIP;
	for (uint64_t i = 0; i < a->nr; i++)
		if (a->r[i].pid > 0)
			a->r[i].pid += d;
	snprintf(a->what, sizeof(a->what), "pids %+d", d);
	return ALT_BENIGN;
}

/* The CPUs renumbered: each moved by one offset, or two of them swapped. */
static enum judged renumber_cpus(struct fx *fx, struct rng *g, struct altered *a)
{
	uint32_t x = fx->r[rnd_below(g, fx->nr)].cpu, y = rnd_below(g, 8);
	uint32_t d = 1 + rnd_below(g, 200);
	bool swap = rnd_below(g, 2);

	if (alt_copy(fx, a, 0))
		return ALT_SKIP;
	for (uint64_t i = 0; i < a->nr; i++) {
		uint16_t *c = &a->r[i].cpu;

		if (!swap)
			*c += d;
		else if (*c == x)
			*c = y;
		else if (*c == y)
			*c = x;
	}
	if (swap)
		snprintf(a->what, sizeof(a->what), "cpus %u and %u swapped", x, y);
	else
		snprintf(a->what, sizeof(a->what), "cpus +%u", d);
	return ALT_BENIGN;
}

/*
 * A harmless read duplicated at the same time: a fault, a young test,
 * the guest's read, an MMIO SPTE made or checked again, or an MMIO exit
 * of a gpa no slot backs around it.
 */
static enum judged dup_read(struct fx *fx, struct rng *g, struct altered *a)
{
	for (int tries = 0; tries < 4096; tries++) {
		uint64_t pos = rnd_below(g, fx->nr), at;
		const struct kmmu_trace_record *r = &fx->r[pos];
		bool ok;

		switch (r->type) {
		case KMMU_EV_PAGE_FAULT:
		case KMMU_EV_TEST_AGE_HVA:
		case KMMU_EV_SPTE_REQUESTED:
			ok = true;
			break;
		case KMMU_ACT_GUEST_ACCESS:
			ok = !r->access.write;
			break;
		case KMMU_EV_MARK_MMIO_SPTE:
		case KMMU_EV_CHECK_MMIO_SPTE:
			ok = true;
			break;
		case KMMU_EV_MMIO:
			ok = !gfn_backed_during(fx, r->mmio.gpa >> PAGE_SHIFT,
						r->ts - fx->margin - 1, r->ts + fx->margin + 1, 0);
			break;
		default:
			ok = false;
		}
		if (!ok)
			continue;
		if (alt_copy(fx, a, 1))
			return ALT_SKIP;
		at = alt_insert(a, r);
		snprintf(a->what, sizeof(a->what), "record %" PRIu64 " (%s) duplicated at %" PRIu64,
			 pos, kmmu_rec_type_name(r->type), at);
		return ALT_BENIGN;
	}
	return ALT_SKIP;
}

/* ---- the run ------------------------------------------------------------- */

#define BENIGN	(-1)

static const struct kind {
	const char *name;
	int prop;		/* the property it breaks; BENIGN */
	alter_fn *alter;
} kinds[] = {
	{ "mmio_live_gpa", KMMU_PROP_MMIO_UNBACKED, mmio_live_gpa },
	{ "mmio_live_insert", KMMU_PROP_MMIO_UNBACKED, mmio_live_insert },
	{ "mmio_pf_live", KMMU_PROP_MMIO_SPTE_UNBACKED, mmio_pf_live },
	{ "spte_unbacked", KMMU_PROP_SPTE_IN_SLOT, spte_unbacked },
	{ "spte_stale_gfn", KMMU_PROP_SPTE_IN_SLOT, spte_stale_gfn },
	{ "tdp_install_unbacked", KMMU_PROP_SPTE_IN_SLOT, tdp_install_unbacked },
	{ "tdp_install_stale_gfn", KMMU_PROP_SPTE_IN_SLOT, tdp_install_stale_gfn },
	{ "huge_crosses_slot", KMMU_PROP_SPTE_IN_SLOT, huge_crosses_slot },
	{ "ro_writable", KMMU_PROP_SPTE_WRITABLE, ro_writable },
	{ "huge_pfn_misaligned", KMMU_PROP_HUGE_ALLOWED, huge_pfn_misaligned },
	{ "missing_zap", KMMU_PROP_ZAP_ON_REMOVE, missing_zap },
	{ "spte_after_zap", KMMU_PROP_NO_SPTE_AFTER_ZAP, spte_after_zap },
	{ "reorder_spte_updates", KMMU_PROP_SPTE_HISTORY, reorder_spte_updates },
	{ "leaf_pfn_moved", KMMU_PROP_LEAF_CHANGE, leaf_pfn_moved },
	{ "leaf_change_noop", KMMU_PROP_LEAF_CHANGE, leaf_change_noop },
	{ "aging_drops_dirty", KMMU_PROP_AGING_KEEPS_DIRTY, aging_drops_dirty },
	{ "aging_other_task", KMMU_PROP_AGING_IN_PASS, aging_other_task },
	{ "aging_wrong_hva", KMMU_PROP_AGING_IN_PASS, aging_wrong_hva },
	{ "aging_moved_out", KMMU_PROP_AGING_IN_PASS, aging_moved_out },
	{ "gen_changed", KMMU_PROP_MMIO_GEN_MODEL, gen_forward },
	{ "check_spte_gen", KMMU_PROP_MMIO_CHECK, check_spte_gen },
	{ "valid_gen_flip", KMMU_PROP_MMU_VALID_GEN, valid_gen_flip },
	{ "stats_off", KMMU_PROP_PAGE_STATS, stats_off },
	{ "memslot_ret", KMMU_PROP_MEMSLOT_RESULT, memslot_ret },
	{ "jitter_ts", BENIGN, jitter_ts },
	{ "cpu_clock_offset", BENIGN, cpu_clock_offset },
	{ "drop_unrelated", BENIGN, drop_unrelated },
	{ "shift_all", BENIGN, shift_all },
	{ "renumber_pids", BENIGN, renumber_pids },
	{ "renumber_cpus", BENIGN, renumber_cpus },
	{ "dup_read", BENIGN, dup_read },
};
#define NR_KINDS	(sizeof(kinds) / sizeof(kinds[0]))

/* What one check of a changed trace gave. */
struct outcome {
	int ret;			/* kmmu_check()'s */
	int signal;			/* the child died of it (SIGALRM: a hang) */
	uint8_t verdict[KMMU_PROP_NR];
};

/* kmmu_check() of @a in a child, which a crash or a hang does not take the test down with. */
static void check_in_child(const struct altered *a, struct outcome *o)
{
	int fd[2], status;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	if (pipe(fd)) {
		o->ret = -errno;
		return;
	}
	pid = fork();
	if (pid < 0) {
		o->ret = -errno;
		close(fd[0]);
		close(fd[1]);
		return;
	}
	if (!pid) {
		struct kmmu_check_result res;
		struct outcome c = { 0 };

		close(fd[0]);
		alarm(HANG_SECONDS);
		c.ret = kmmu_check(a->r, a->nr, NULL, &res);
		for (int p = 0; p < KMMU_PROP_NR; p++)
			c.verdict[p] = kmmu_check_verdict(&res, p);
		_exit(write(fd[1], &c, sizeof(c)) == sizeof(c) ? 0 : 1);
	}
	close(fd[1]);
	if (read(fd[0], o, sizeof(*o)) != sizeof(*o))
		o->ret = -EPIPE;
	close(fd[0]);
	if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status))
		o->signal = WTERMSIG(status);
}

struct tally {
	unsigned int made;		/* changes made */
	unsigned int breaks, no_break;
	unsigned int no_break_failed;	/* ... whose property the checker failed */
	unsigned int detected, not_checkable, missed;
	unsigned int false_alarms;
	unsigned int crashed, hung, errors;
};

static void save_case(const struct fx *fx, const struct kind *k, unsigned int n,
		      const struct altered *a)
{
	const char *dir = getenv("KMMU_ALTER_SAVE");
	char path[512];

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s-%s-%u.kmmutrace", dir, fx->name, k->name, n);
	if (kmmu_trace_file_write(path, fx->tf.header, a->r, a->nr))
		fprintf(stderr, "# could not write %s\n", path);
}

static unsigned int env_uint(const char *name, unsigned int def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long x;

	if (!v || !*v)
		return def;
	x = strtoul(v, &end, 0);
	if (*end || x > 1000000000) {
		fprintf(stderr, "%s=%s: not a number up to 1000000000\n", name, v);
		exit(KSFT_FAIL);
	}
	return x;
}

/* The changes of kind @k on @fx: made, checked, tallied. */
static void run_kind(struct fx *fx, const struct kind *k, unsigned int per_kind, uint64_t seed,
		     struct tally *t)
{
	struct rng g = { .s = seed * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)0 };
	unsigned int attempts = 0, reported = 0;

	/* The seed of the kind and fixture, by their names: the same across builds. */
	for (const char *s = k->name; *s; s++)
		g.s = (g.s ^ (uint8_t)*s) * 0x100000001b3ULL;
	for (const char *s = fx->name; *s; s++)
		g.s = (g.s ^ (uint8_t)*s) * 0x100000001b3ULL;
	if (!g.s)
		g.s = 1;
	memset(t, 0, sizeof(*t));
	while (t->made < per_kind && attempts++ < 8 * per_kind) {
		struct altered a = { 0 };
		struct outcome o;
		enum judged j = k->alter(fx, &g, &a);
		bool fail_any = false, bad = false;

		if (j == ALT_SKIP) {
			free(a.r);
			continue;
		}
		t->made++;
		check_in_child(&a, &o);
		for (int p = 0; p < KMMU_PROP_NR; p++)
			fail_any |= o.verdict[p] == KMMU_CHECK_FAIL;
		if (o.signal == SIGALRM) {
			t->hung++;
			bad = true;
		} else if (o.signal) {
			t->crashed++;
			bad = true;
		} else if (o.ret) {
			t->errors++;
			bad = true;
		} else if (j == ALT_BENIGN) {
			if (fail_any) {
				t->false_alarms++;
				bad = true;
			}
		} else if (j == ALT_NO_BREAK) {
			t->no_break++;
			/* Not judged either way; told, since it may show this test's limits. */
			if (o.verdict[k->prop] == KMMU_CHECK_FAIL) {
				if (t->no_break_failed++ < 2)
					printf("#   %s %s: %s -> judged no break, yet failed\n",
					       fx->name, k->name, a.what);
				save_case(fx, k, t->made, &a);
			}
		} else {
			t->breaks++;
			if (o.verdict[k->prop] == KMMU_CHECK_FAIL) {
				t->detected++;
			} else if (o.verdict[k->prop] == KMMU_CHECK_NOT_CHECKABLE) {
				t->not_checkable++;
			} else {
				t->missed++;
				bad = true;
			}
		}
		if (bad) {
			if (reported++ < 3)
				printf("#   %s %s: %s -> %s%s%s\n", fx->name, k->name, a.what,
				       o.signal ? strsignal(o.signal) : o.ret ? strerror(-o.ret) :
				       j == ALT_BENIGN ? "false alarm" : "missed",
				       j == ALT_BENIGN && fail_any ? " on " : "",
				       "");
			if (j == ALT_BENIGN && fail_any && reported <= 3)
				for (int p = 0; p < KMMU_PROP_NR; p++)
					if (o.verdict[p] == KMMU_CHECK_FAIL)
						printf("#     FAIL %s\n", kmmu_check_property_name(p));
			save_case(fx, k, t->made, &a);
		}
		free(a.r);
	}
}

FIXTURE(alter) {
};

FIXTURE_SETUP(alter)
{
}

FIXTURE_TEARDOWN(alter)
{
}

/*
 * A few seconds at the default size; each check has its own limit
 * (HANG_SECONDS), so this one only bounds a large KMMU_ALTER_N run.
 */
TEST_F_TIMEOUT(alter, altered_fixtures, 3600)
{
	unsigned int per_kind = env_uint("KMMU_ALTER_N", 16);
	uint64_t seed = env_uint("KMMU_ALTER_SEED", 13);

	max_skew_ns = env_uint("KMMU_ALTER_SKEW_NS", max_skew_ns);
	struct tally sum[NR_KINDS] = { 0 }, all = { 0 };
	unsigned int failed = 0;

	printf("# %u changes per kind and fixture, seed %" PRIu64 "\n", per_kind, seed);
	printf("# %-36s %-22s %5s %6s %8s %7s %6s %8s %6s %6s %6s\n", "fixture", "kind", "made",
	       "breaks", "detected", "nocheck", "missed", "nobreak", "nbfail", "false", "crash");
	for (unsigned int f = 0; f < NR_FIXTURES; f++) {
		struct fx fx = { 0 };
		char err[512];

		ASSERT_EQ(0, fx_load(&fx, fixtures[f], err, sizeof(err))) {
			TH_LOG("%s: %s (run from the repository root or set KMMU_FIXTURE_DIR)",
			       fixtures[f], err);
		}
		for (unsigned int k = 0; k < NR_KINDS; k++) {
			struct tally t;
			unsigned int checkable;
			bool ok;

			run_kind(&fx, &kinds[k], per_kind, seed, &t);
			if (!t.made)
				continue;
			checkable = t.breaks - t.not_checkable;
			ok = t.detected * 100 >= 98 * checkable && !t.false_alarms && !t.crashed &&
			     !t.hung && !t.errors;
			failed += !ok;
			printf("# %-36s %-22s %5u %6u %8u %7u %6u %8u %6u %6u %6u%s\n", fixtures[f],
			       kinds[k].name, t.made, t.breaks, t.detected, t.not_checkable,
			       t.missed, t.no_break, t.no_break_failed, t.false_alarms,
			       t.crashed + t.hung + t.errors, ok ? "" : "  <--");
			sum[k].made += t.made;
			sum[k].breaks += t.breaks;
			sum[k].detected += t.detected;
			sum[k].not_checkable += t.not_checkable;
			sum[k].missed += t.missed;
			sum[k].no_break += t.no_break;
			sum[k].no_break_failed += t.no_break_failed;
			sum[k].false_alarms += t.false_alarms;
			sum[k].crashed += t.crashed + t.hung + t.errors;
		}
		fx_free(&fx);
	}
	for (unsigned int k = 0; k < NR_KINDS; k++) {
		printf("# %-36s %-22s %5u %6u %8u %7u %6u %8u %6u %6u %6u\n", "all fixtures",
		       kinds[k].name, sum[k].made, sum[k].breaks, sum[k].detected,
		       sum[k].not_checkable, sum[k].missed, sum[k].no_break,
		       sum[k].no_break_failed, sum[k].false_alarms, sum[k].crashed);
		all.made += sum[k].made;
		all.breaks += sum[k].breaks;
		all.detected += sum[k].detected;
		all.not_checkable += sum[k].not_checkable;
		all.false_alarms += sum[k].false_alarms;
		all.crashed += sum[k].crashed;
		if (kinds[k].prop == BENIGN)
			all.no_break += sum[k].made;	/* benign changes made */
	}
	printf("# overall: %u changes; %u of %u breaking changes detected (%.1f%%), %u not"
	       " checkable; %u false alarms in %u benign changes; %u crashes, hangs or errors\n",
	       all.made, all.detected, all.breaks - all.not_checkable,
	       all.breaks - all.not_checkable ?
	       100.0 * all.detected / (all.breaks - all.not_checkable) : 100.0,
	       all.not_checkable, all.false_alarms, all.no_break, all.crashed);
	fflush(stdout);
	EXPECT_EQ(0, failed) {
		TH_LOG("%u fixture and kind pairs below 98%% detection or with a false alarm,"
		       " crash, hang or error (marked <--)", failed);
	}
}

TEST_HARNESS_MAIN
