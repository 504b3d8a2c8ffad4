// SPDX-License-Identifier: GPL-2.0
/*
 * mmio_invalidation_test: vCPUs load from and store to a set of guest
 * physical pages while the host turns them from MMIO into RAM (creates a
 * memslot over them) and back (deletes or moves the slot).  KVM caches
 * "this GPA is MMIO" in MMIO SPTEs stamped with the memslot generation; a
 * memslot update that adds RAM does not zap them, it only bumps the
 * generation, so a stale MMIO SPTE must never be honoured after the
 * update.  The generation stored in an SPTE has 19 bits: when it wraps,
 * KVM zaps everything, or a SPTE from 2^19 generations ago would match
 * again.  Both are checked: phase "flip" and phase "wrap".
 *
 * Generation arithmetic (Linux 6.1; the rules have held since 5.2):
 * virt/kvm/kvm_main.c kvm_swap_active_memslots() sets the new memslot set's
 * generation to the old one plus KVM_ADDRESS_SPACE_NUM (2 on x86,
 * arch/x86/include/asm/kvm_host.h), address space 0 starting at 0
 * (kvm_create_vm()).  kvm_set_memslot() swaps once for CREATE and
 * FLAGS_ONLY, twice for DELETE and MOVE (kvm_invalidate_memslot() swaps in
 * the INVALID copy first); a call that changes nothing returns before
 * swapping.  Each swap calls kvm_arch_memslots_updated() ->
 * kvm_mmu_invalidate_mmio_sptes() (arch/x86/kvm/mmu/mmu.c), which zaps all
 * shadow pages (kvm_mmu_zap_all_fast) when (gen & MMIO_SPTE_GEN_MASK &
 * ~(KVM_ADDRESS_SPACE_NUM - 1)) == 0, MMIO_SPTE_GEN_MASK being 19 bits
 * (arch/x86/kvm/mmu/spte.h).  So in address space 0 the MMIO generation
 * wraps every 2^19 / 2 = 262144 swaps, i.e. when the number of swaps since
 * the VM was created is a multiple of 262144.  This test counts swaps
 * itself from every KVM_SET_USER_MEMORY_REGION of the VM (the runtime's
 * memslot hook, the runtime's own slots included) and predicts the
 * generation from them; where the host emits the MMIO SPTE tracepoints
 * the checker compares the prediction with the kernel (see below).
 * DELETE and MOVE also zap all shadow pages in 6.1
 * (kvm_arch_flush_shadow_memslot -> kvm_mmu_zap_all_fast), which would
 * clear every stale MMIO SPTE as a side effect: the wrap phase therefore
 * only creates slots and advances the generation with FLAGS_ONLY changes
 * (toggling dirty logging) of a scratch slot the guest never touches.
 *
 * Layout.  Cell i is one page with its own one-page memslot (id
 * KMMU_SLOT_FIRST_FREE + i) backed by page i of one host buffer; it lives
 * at "home" (home_gpa + i * 4K) or "alt" (alt_gpa + i * 4K), or is absent.
 * The guest page tables map both ranges (GVA == GPA), so the guest can
 * touch either place at any time; a place without the slot is MMIO.  vCPU
 * v owns the 8-byte word 8 * v of every cell, which holds
 * pattern(i, v, gen) = 1 << 62 | i << 40 | v << 32 | gen, gen counting
 * the stores that reached memory; the backing follows the slot, so the
 * value survives moves, deletes and re-creates.  MMIO loads are completed
 * with POISON (bit 63 set, never a pattern); MMIO stores are dropped.
 *
 * Publication and classification: the slot-state seqlock and the guest's
 * judgement of one access, see kmmu/slot_state.h.  Flags here: location |
 * SLEEP; a flag change without an ioctl (SLEEP) just adds 2 to seq.  A
 * stable access must exit iff the cell is not at the accessed place: the
 * ioctl that produced its state had returned, so every fault after it
 * sees the new layout and the new memslot generation.
 *
 * Phase "flip" (-n ops, at most -d seconds): random CREATE (home or alt),
 * DELETE and MOVE of the cells; the guest picks a cell and a place
 * uniformly, so MMIO SPTEs exist for many places when they turn into RAM.
 *
 * Phase "wrap" (--generations N swaps, or --full-wrap):
 *   1. every cell is deleted (absent at both places);
 *   2. prime: the vCPUs touch everything; the host waits until each
 *      "sleeper" cell (a quarter of them) exited as MMIO at home, i.e. has
 *      an MMIO SPTE there (with mmio_caching=Y) stamped with the current
 *      generation G; then it marks them SLEEP (the guest leaves them alone)
 *      and waits two loop iterations of every vCPU so none is in flight;
 *   3. the sleepers are created at home: their MMIO SPTEs are now stale,
 *      and nothing touches or zaps them;
 *   4. drive: one swap per step, a scratch slot's FLAGS_ONLY toggle or the
 *      scheduled CREATE of another cell at home (half of those clustered
 *      around the wrap); the vCPUs keep hammering the other cells and the
 *      always-absent alt places, so MMIO SPTEs are made, used and
 *      invalidated at every generation, across the wrap;
 *   5. wake: with --full-wrap when the generation is G + 2^19 again (the
 *      sleepers' stale SPTEs would match; only the zap at the wrap removed
 *      them), else after N steps: every vCPU reads every sleeper, which must
 *      be RAM with its exact value; then the sleepers join the others;
 *   6. with --full-wrap, some more steps past the wake.
 * --full-wrap drives 262144 swaps and is for `make stress`/nightly; the
 * default N is bounded so the test fits make check's budget.
 *
 * End of each phase: absent cells are re-created at home, then the vCPUs
 * read every cell once more (no exit allowed, exact value).
 *
 * Checking against the reference (tracing/): every ioctl of the VM goes
 * to the checker's action log through the memslot hook.  With
 * mmio_caching=Y the checker compares the generations of mark_mmio_spte
 * and check_mmio_spte with the reference's memslot generation, requires
 * every handle_mmio_page_fault (an MMIO SPTE KVM trusted) to be for a gfn
 * without a live memslot, and requires a kvm_mmu_zap_all_fast inside the
 * ioctl that wraps the MMIO generation.  Where the host has
 * mmio_caching=N those events never fire: the checker reports the
 * properties as not checkable and the test says so.
 *
 * $KMMU_MMIO_INJECT=invert-one inverts the guest's expectation for cell 0,
 * which must make the test fail (a check of the test, not of KVM).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/result.h"
#include "kmmu/slot_state.h"
#include "kmmu/trace_session.h"

#define MI_MAX_CELLS	4096
#define MI_SLEEP	0x4ULL		/* the guest must not touch the cell */

/*
 * arch/x86/kvm/mmu/spte.h MMIO_SPTE_GEN_MASK.  Each swap moves the
 * generation by the VM's number of memslot address spaces: 2 on x86 with
 * SMM (the 6.1 figures above), 1 on a kernel without CONFIG_KVM_SMM, where
 * a wrap takes twice the swaps.  Read from KVM_CAP_MULTI_ADDRESS_SPACE.
 */
#define MI_MMIO_GEN_MASK	((1ULL << 19) - 1)
#define MI_SWAPS_PER_WRAP_SMM	((MI_MMIO_GEN_MASK + 1) / 2)
/* Swaps after the wake point driven by --full-wrap, and the cluster width. */
#define MI_WRAP_WINDOW		2000

#define MI_NO_CELL	(~0ULL)

struct mi_vcpu_shared {
	struct kmmu_ss_vcpu ss;
	uint64_t wake_reads;	/* guest: sleeper reads at the wake */
	uint64_t iters;		/* guest: loop iterations */
	uint64_t woke;		/* guest: the last wake it served */
	uint64_t swept;		/* guest: the last sweep it served */
	uint64_t pad[3];
};

struct mi_shared {
	uint64_t stop;		/* host: end the run after a final sweep */
	uint64_t sweep;		/* host: bump to request a final sweep */
	uint64_t wake;		/* host: bump to request a sleeper sweep */
	uint64_t nr_cells;
	uint64_t seed;
	uint64_t home_gva, alt_gva;
	uint64_t state_gva;	/* uint64_t[nr_cells] */
	uint64_t exp_gva;	/* uint32_t[nr_vcpus][nr_cells], guest-private */
	uint64_t inject_cell;	/* expectation inverted for it (MI_NO_CELL: none) */
	struct mi_vcpu_shared vcpu[KMMU_MAX_VCPUS];
};

/* ---- guest ---- */

static inline bool mi_expect_exit(const struct mi_shared *sh, uint64_t i, uint64_t loc,
				  uint64_t at)
{
	bool e = loc != at;

	return i == sh->inject_cell ? !e : e;
}

/*
 * One exact read of cell @i where the host says it is and holds still: no
 * exit unless the (possibly inverted) expectation says so, exact value.
 */
static void mi_guest_exact_read(struct mi_shared *sh, uint32_t v, uint64_t *state,
				uint32_t *exp, struct mi_vcpu_shared *me, uint64_t i,
				const char *what)
{
	uint64_t s = KMMU_SS_READ(state[i]), loc = s & KMMU_SS_LOC_MASK;
	uint64_t gva = (loc == KMMU_SS_ALT ? sh->alt_gva : sh->home_gva) + i * 4096 + v * 8;
	uint64_t val, want = KMMU_SS_PATTERN(i, v, exp[i]);
	bool exited;

	if (loc == KMMU_SS_ABSENT || (KMMU_SS_SEQ(s) & 1))
		GUEST_FAIL("%s: gpa %#lx slot %lu is not present and still (state %#lx..%#lx)",
			   (uint64_t)what, gva, i, s, s);
	exited = kmmu_ss_load(&me->ss, gva, &val);
	if (exited != mi_expect_exit(sh, i, loc, loc)) {
		if (exited)
			GUEST_FAIL("load from present slot exited as MMIO: gpa %#lx slot %lu state %#lx..%#lx (%s)",
				   gva, i, s, s, (uint64_t)what);
		GUEST_FAIL("load from absent slot did not exit: gpa %#lx slot %lu state %#lx..%#lx (%s)",
			   gva, i, s, s, (uint64_t)what);
	}
	if (!exited && val != want)
		GUEST_FAIL("gpa %#lx slot %lu (state %#lx..%#lx) holds %#lx, expected %#lx",
			   gva, i, s, s, val, want);
}

static void mi_guest(uint32_t v, void *arg)
{
	struct mi_shared *sh = arg;
	struct mi_vcpu_shared *me = &sh->vcpu[v];
	uint64_t n = sh->nr_cells;
	uint64_t *state = (uint64_t *)sh->state_gva;
	uint32_t *exp = (uint32_t *)sh->exp_gva + (uint64_t)v * n;
	uint64_t rng = sh->seed ^ (0x9e3779b97f4a7c15ULL * (v + 1));

	if (!rng)
		rng = 1;
	for (;;) {
		uint64_t r = kmmu_ss_rand(&rng), i = r % n, w, sw;
		struct kmmu_ss_access a = { .i = i };
		uint64_t loc, at;

		me->iters++;
		/* Requests of the host, each served once; the host holds still meanwhile. */
		w = KMMU_SS_READ(sh->wake);
		if (w != me->woke) {
			for (uint64_t k = 0; k < n; k++) {
				if (!(KMMU_SS_READ(state[k]) & MI_SLEEP))
					continue;
				mi_guest_exact_read(sh, v, state, exp, me, k,
						    "sleeper read at the wake");
				me->wake_reads++;
			}
			me->woke = w;
		}
		sw = KMMU_SS_READ(sh->sweep);
		if (sw != me->swept) {
			for (uint64_t k = 0; k < n; k++) {
				mi_guest_exact_read(sh, v, state, exp, me, k, "final sweep");
				me->ss.sweeps++;
			}
			me->swept = sw;
		}
		if (KMMU_SS_READ(sh->stop))
			break;

		a.s1 = KMMU_SS_READ(state[i]);
		if (a.s1 & MI_SLEEP)
			continue;
		loc = a.s1 & KMMU_SS_LOC_MASK;
		r >>= 20;
		at = (r & 1) ? KMMU_SS_ALT : KMMU_SS_HOME;
		a.write = (r >> 1) & 1;
		a.gva = (at == KMMU_SS_ALT ? sh->alt_gva : sh->home_gva) + i * 4096 + v * 8;
		a.want = KMMU_SS_PATTERN(i, v, exp[i] + a.write);
		a.should_exit = mi_expect_exit(sh, i, loc, at);

		if (kmmu_ss_access(&me->ss, state, &a))
			continue;
		if (a.stable && a.should_exit) {
			if (a.write)
				GUEST_FAIL("store to absent slot reached RAM: gpa %#lx slot %lu state %#lx..%#lx value %#lx",
					   a.gva, i, a.s1, a.s2, a.want);
			GUEST_FAIL("load from absent slot read RAM: gpa %#lx slot %lu state %#lx..%#lx read %#lx",
				   a.gva, i, a.s1, a.s2, a.val);
		}
		kmmu_ss_reached_memory(&me->ss, &exp[i], &a);
	}
}

/* ---- host ---- */

enum mi_op_kind { MI_OP_NONE, MI_OP_CREATE, MI_OP_DELETE, MI_OP_MOVE, MI_OP_SLEEP };

static const char *const mi_op_names[] = {
	[MI_OP_NONE] = "none", [MI_OP_CREATE] = "create", [MI_OP_DELETE] = "delete",
	[MI_OP_MOVE] = "move", [MI_OP_SLEEP] = "sleep-flag",
};

struct mi_opts {
	int vcpus;
	long cells;
	long ops;
	long generations;
	bool full_wrap;
	double duration;
	uint64_t seed;
	const char *result;
	const char *inject;	/* $KMMU_MMIO_INJECT */
};

static struct mi_opts mi_opts = {
	.vcpus = 2,
	.cells = 64,
	.ops = 3000,
	.generations = 20000,
	.duration = 60,
};

/* What the runtime's memslot hook saw of one slot id (address space 0). */
struct mi_slot_view {
	bool present;
	uint64_t gpa;
	uint32_t flags;
};

struct mi_ctx {
	struct mi_shared *sh;
	struct kmmu_ss_host ss;		/* the state words (ss.state: host view) */
	_Atomic uint64_t *home_exits;	/* MMIO exits at the cell's home place */
	uint64_t mmio_exits[KMMU_MAX_VCPUS];
	uint64_t home_gpa, alt_gpa, scratch_gpa, region;
	uint8_t *backing, *scratch;

	/* The generation model, fed by the memslot hook. */
	struct kmmu_trace_log *log;	/* checker's action log, or NULL */
	struct mi_slot_view *views;
	uint32_t nr_views;
	uint64_t swaps;			/* memslot swaps of address space 0 */
	uint64_t hook_failures, hook_unknown;

	/* Counts. */
	long creates, deletes, moves, toggles;
	long flip_ops;
	uint64_t flip_swaps, wrap_swaps;	/* swaps during each phase */
	uint64_t prime_swaps, wake_swaps;	/* swap counts at prime and wake */
	uint64_t wraps_crossed;
	long sleepers;
	bool woke;
	double flip_s, wrap_s;
	uint64_t swaps_per_wrap;
};

/*
 * The VM's memslot address spaces, set once it exists (one VM per test
 * process); history texts are printed by callbacks that get no context.
 */
static unsigned int mi_nr_as = 2;

static uint64_t mi_mmio_gen(uint64_t swaps)
{
	return (swaps * mi_nr_as) & MI_MMIO_GEN_MASK;
}

/*
 * The runtime's memslot hook: counts memslot swaps the way
 * kvm_set_memslot() does them (see the top comment) and forwards every
 * ioctl to the checker's log.  Runs on the thread that issued the ioctl;
 * all of this test's ioctls come from the main thread.
 */
static void mi_memslot_hook(void *ctx, uint64_t issued_ns, uint32_t slot, uint32_t flags,
			    uint64_t gpa, uint64_t size, uint64_t hva, int ret)
{
	struct mi_ctx *c = ctx;
	struct mi_slot_view *s;

	if (c->log)
		kmmu_trace_action_memslot(c->log, issued_ns, slot, flags, gpa, size, hva, ret);
	if (ret) {
		/* Where it failed decides the swaps: the test fails anyway. */
		c->hook_failures++;
		return;
	}
	if ((slot >> 16) || slot >= c->nr_views) {
		c->hook_unknown++;
		return;
	}
	s = &c->views[slot];
	if (!size) {
		c->swaps += 2;				/* DELETE */
		s->present = false;
	} else if (!s->present) {
		c->swaps += 1;				/* CREATE */
		s->present = true;
	} else if (gpa != s->gpa) {
		c->swaps += 2;				/* MOVE */
	} else if (flags != s->flags) {
		c->swaps += 1;				/* FLAGS_ONLY */
	}						/* else: no change, no swap */
	s->gpa = gpa;
	s->flags = flags;
}

static int mi_state_text(uint64_t s, char *buf, size_t len)
{
	static const char *const locs[] = { "absent", "home", "alt", "?" };

	return snprintf(buf, len, "seq %llu%s %s%s", (unsigned long long)KMMU_SS_SEQ(s),
			KMMU_SS_SEQ(s) & 1 ? " (changing)" : "", locs[s & KMMU_SS_LOC_MASK],
			s & MI_SLEEP ? " asleep" : "");
}

/* An operation's entry in a cell's history (arg: the VM's swaps after it). */
static int mi_op_text(const struct kmmu_ss_op *op, char *buf, size_t len)
{
	return snprintf(buf, len, "; MMIO generation now %#llx",
			(unsigned long long)mi_mmio_gen(op->arg));
}

static void mi_pre_run(struct kmmu_vcpu *vcpu, void *ctx)
{
	struct mi_ctx *c = ctx;

	kmmu_ss_pre_run(&c->ss, kmmu_vcpu_id(vcpu));
}

static int mi_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data,
		   uint32_t len, bool is_write, void *ctx)
{
	struct mi_ctx *c = ctx;
	int v = kmmu_vcpu_id(vcpu);
	uint64_t i, at, s, lc;
	char hist[1024], st[64];

	at = kmmu_ss_place(gpa, c->home_gpa, c->alt_gpa, c->region, &i);
	if (at == KMMU_SS_ABSENT) {
		kmmu_vcpu_fail(vcpu, "MMIO %s of %u bytes at gpa %#llx, outside the cells (the scratch slot or a runtime slot?)",
			       is_write ? "store" : "load", len, (unsigned long long)gpa);
		return -1;
	}
	if (!kmmu_ss_own_word(vcpu, gpa, len, is_write, i))
		return -1;
	if (kmmu_ss_check_exit(&c->ss, v, i, at, is_write, 0, &s, &lc, hist, sizeof(hist))) {
		mi_state_text(s, st, sizeof(st));
		kmmu_vcpu_fail(vcpu, "MMIO exit (%s) at gpa %#llx of slot %llu, which has been RAM there (%s) since gseq %llu, before this KVM_RUN began (gseq %llu); %s",
			       is_write ? "store" : "load", (unsigned long long)gpa,
			       (unsigned long long)i, st, (unsigned long long)lc,
			       (unsigned long long)c->ss.run_gseq[v], hist);
		return -1;
	}
	if (at == KMMU_SS_HOME)
		atomic_fetch_add(&c->home_exits[i], 1);
	c->mmio_exits[v]++;
	kmmu_ss_exit_done(&c->sh->vcpu[v].ss, gpa, data, is_write);
	return 0;
}

static void mi_fail_context(struct kmmu_vcpu *vcpu, const struct kmmu_ucall_msg *m,
			    char *buf, size_t len, void *ctx)
{
	struct mi_ctx *c = ctx;
	char more[96];

	snprintf(more, sizeof(more), "MMIO generation now %#llx (%llu memslot swaps); ",
		 (unsigned long long)mi_mmio_gen(c->swaps), (unsigned long long)c->swaps);
	kmmu_ss_fail_context(&c->ss, m, more, buf, len);
}

/* One memslot ioctl on cell @i towards location @loc (keeping SLEEP if @sleep). */
static int mi_do_op(struct kmmu_vm *vm, struct mi_ctx *c, uint64_t i, enum mi_op_kind kind,
		    uint64_t loc, bool sleep, char *err, size_t len)
{
	uint32_t slot = KMMU_SLOT_FIRST_FREE + i;
	uint64_t gpa = (loc == KMMU_SS_ALT ? c->alt_gpa : c->home_gpa) + i * 4096;
	uint64_t old, before;
	int r;

	before = kmmu_ss_begin(&c->ss, i, 0, &old);

	switch (kind) {
	case MI_OP_CREATE:
		r = __kmmu_slot_add(vm, slot, gpa, 4096, c->backing + i * 4096, 0);
		break;
	case MI_OP_DELETE:
		r = kmmu_slot_delete(vm, slot);
		break;
	case MI_OP_MOVE:
		r = kmmu_slot_move(vm, slot, gpa);
		break;
	default:
		r = -EINVAL;
	}

	kmmu_ss_end(&c->ss, i, before, r ? (old & KMMU_SS_FLAGS) : (loc | (sleep ? MI_SLEEP : 0)),
		    kind, c->swaps);

	if (r) {
		char st[64];

		mi_state_text(old, st, sizeof(st));
		snprintf(err, len, "%s of slot %llu (memslot %u, from %s) failed: %s",
			 mi_op_names[kind], (unsigned long long)i, slot, st, strerror(-r));
		return r;
	}
	if (kind == MI_OP_CREATE)
		c->creates++;
	else if (kind == MI_OP_DELETE)
		c->deletes++;
	else
		c->moves++;
	return 0;
}

/* Sets or clears SLEEP on cell @i: no ioctl, the layout stays. */
static void mi_set_sleep(struct mi_ctx *c, uint64_t i, bool sleep)
{
	/* This thread is the only one that changes the state words. */
	kmmu_ss_set(&c->ss, i, (c->ss.state[i] & KMMU_SS_LOC_MASK) | (sleep ? MI_SLEEP : 0),
		    MI_OP_SLEEP, c->swaps);
}

/* One FLAGS_ONLY change of the scratch slot: one swap, no zap. */
static int mi_toggle_scratch(struct kmmu_vm *vm, struct mi_ctx *c, char *err, size_t len)
{
	uint32_t slot = KMMU_SLOT_FIRST_FREE + c->sh->nr_cells;
	uint32_t flags = c->views[slot].flags ^ KVM_MEM_LOG_DIRTY_PAGES;
	int r = kmmu_slot_set_flags(vm, slot, flags);

	if (r) {
		snprintf(err, len, "dirty-logging toggle of the scratch slot (memslot %u) failed: %s",
			 slot, strerror(-r));
		return r;
	}
	c->toggles++;
	return 0;
}

/*
 * Waits until every vCPU went through @iters more loop iterations (or
 * failed): afterwards no access that read an older state word is in flight.
 */
static int mi_quiesce(struct kmmu_vm *vm, struct mi_ctx *c, uint64_t iters, double timeout)
{
	uint64_t base[KMMU_MAX_VCPUS];
	struct timespec t0;
	int v, n = kmmu_vm_nr_vcpus(vm);

	for (v = 0; v < n; v++)
		base[v] = KMMU_SS_READ(c->sh->vcpu[v].iters);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (v = 0; v < n; v++) {
		while (KMMU_SS_READ(c->sh->vcpu[v].iters) - base[v] < iters) {
			if (kmmu_vm_failed(vm))
				return -EIO;
			if (kmmu_ss_now(&t0) > timeout)
				return -ETIMEDOUT;
			usleep(200);
		}
	}
	return 0;
}

/* Asks every vCPU to serve request word @req (wake or sweep) and waits. */
static int mi_request(struct kmmu_vm *vm, struct mi_ctx *c, uint64_t *req, size_t served_off,
		      double timeout)
{
	uint64_t want = __atomic_add_fetch(req, 1, __ATOMIC_RELEASE);
	struct timespec t0;
	int v, n = kmmu_vm_nr_vcpus(vm);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (v = 0; v < n; v++) {
		uint64_t *served = (uint64_t *)((char *)&c->sh->vcpu[v] + served_off);

		while (KMMU_SS_READ(*served) != want) {
			if (kmmu_vm_failed(vm))
				return -EIO;
			if (kmmu_ss_now(&t0) > timeout)
				return -ETIMEDOUT;
			usleep(200);
		}
	}
	return 0;
}

/* Re-creates every absent cell at home, then every vCPU reads every cell. */
static int mi_restore_and_sweep(struct kmmu_vm *vm, struct mi_ctx *c, char *err, size_t len)
{
	uint64_t i;
	int r;

	for (i = 0; i < c->sh->nr_cells; i++) {
		if ((c->ss.state[i] & KMMU_SS_LOC_MASK) != KMMU_SS_ABSENT)
			continue;
		r = mi_do_op(vm, c, i, MI_OP_CREATE, KMMU_SS_HOME, false, err, len);
		if (r)
			return r;
	}
	r = mi_request(vm, c, &c->sh->sweep, offsetof(struct mi_vcpu_shared, swept),
		       60 + c->sh->nr_cells / 100.0);
	if (r)
		snprintf(err, len, "final sweep: %s", r == -ETIMEDOUT ?
			 "the vCPUs did not finish it" : "a vCPU failed");
	return r;
}

/* Phase "flip": random CREATE / DELETE / MOVE. */
static int mi_flip(struct kmmu_vm *vm, struct mi_ctx *c, char *err, size_t len)
{
	uint64_t rng = mi_opts.seed ? mi_opts.seed : 1, swaps0 = c->swaps;
	double t0 = kmmu_ss_now(&c->ss.t0);
	long done = 0;
	int r = 0;

	while (done < mi_opts.ops && kmmu_ss_now(&c->ss.t0) - t0 < mi_opts.duration &&
	       !kmmu_vm_failed(vm)) {
		uint64_t x = kmmu_ss_rand(&rng), i = x % c->sh->nr_cells;
		uint64_t loc = c->ss.state[i] & KMMU_SS_LOC_MASK;

		x >>= 20;
		if (loc == KMMU_SS_ABSENT)
			r = mi_do_op(vm, c, i, MI_OP_CREATE, (x & 1) ? KMMU_SS_ALT : KMMU_SS_HOME,
				     false, err, len);
		else if (x & 2)
			r = mi_do_op(vm, c, i, MI_OP_DELETE, KMMU_SS_ABSENT, false, err, len);
		else
			r = mi_do_op(vm, c, i, MI_OP_MOVE,
				     loc == KMMU_SS_HOME ? KMMU_SS_ALT : KMMU_SS_HOME, false, err, len);
		if (r)
			break;
		done++;
	}
	if (!r && kmmu_vm_failed(vm)) {
		snprintf(err, len, "a vCPU failed");
		r = -EIO;
	}
	if (!r)
		r = mi_restore_and_sweep(vm, c, err, len);
	c->flip_ops = done;
	c->flip_swaps = c->swaps - swaps0;
	c->flip_s = kmmu_ss_now(&c->ss.t0) - t0;
	return r;
}

struct mi_sched {
	uint64_t step;
	uint64_t cell;
};

static int mi_sched_cmp(const void *a, const void *b)
{
	const struct mi_sched *x = a, *y = b;

	return x->step < y->step ? -1 : x->step > y->step;
}

/*
 * Drives the generation one swap per step until c->swaps reaches @until,
 * creating the scheduled cells on the way.  Stops early (returns 1) when
 * the phase runs out of time.
 */
static int mi_drive(struct kmmu_vm *vm, struct mi_ctx *c, uint64_t until,
		    const struct mi_sched *sched, uint64_t nr_sched, uint64_t *next,
		    double deadline, char *err, size_t len)
{
	int r;

	while (c->swaps < until) {
		uint64_t before = c->swaps;

		if (kmmu_vm_failed(vm)) {
			snprintf(err, len, "a vCPU failed");
			return -EIO;
		}
		if (kmmu_ss_now(&c->ss.t0) > deadline)
			return 1;
		if (*next < nr_sched && sched[*next].step <= c->swaps) {
			r = mi_do_op(vm, c, sched[*next].cell, MI_OP_CREATE, KMMU_SS_HOME, false,
				     err, len);
			(*next)++;
		} else {
			r = mi_toggle_scratch(vm, c, err, len);
		}
		if (r)
			return r;
		if (c->swaps / c->swaps_per_wrap != before / c->swaps_per_wrap)
			c->wraps_crossed++;
	}
	return 0;
}

/* Phase "wrap": see the top comment, steps 1-6. */
static int mi_wrap(struct kmmu_vm *vm, struct mi_ctx *c, uint64_t *rng, char *err,
		   size_t len)
{
	uint64_t n = c->sh->nr_cells, nsleep = n / 4 ? n / 4 : 1, i;
	uint64_t swaps0 = c->swaps, wake_at, end_at, wrap_at, nr_sched = 0, next = 0;
	uint64_t *exits0;
	struct mi_sched *sched;
	double t0 = kmmu_ss_now(&c->ss.t0), deadline = t0 + mi_opts.duration;
	uint32_t scratch = KMMU_SLOT_FIRST_FREE + n;
	int r;

	/* 1. Everything absent; the scratch slot exists. */
	for (i = 0; i < n; i++) {
		if ((c->ss.state[i] & KMMU_SS_LOC_MASK) == KMMU_SS_ABSENT)
			continue;
		r = mi_do_op(vm, c, i, MI_OP_DELETE, KMMU_SS_ABSENT, false, err, len);
		if (r)
			return r;
	}
	if (!c->views[scratch].present) {
		r = __kmmu_slot_add(vm, scratch, c->scratch_gpa, 4096, c->scratch, 0);
		if (r) {
			snprintf(err, len, "creating the scratch slot: %s", strerror(-r));
			return r;
		}
	}

	/* 2. Prime: every sleeper has exited as MMIO at home since now. */
	exits0 = calloc(nsleep, sizeof(*exits0));
	if (!exits0)
		return -ENOMEM;
	for (i = 0; i < nsleep; i++)
		exits0[i] = atomic_load(&c->home_exits[i]);
	for (i = 0; i < nsleep; i++) {
		while (atomic_load(&c->home_exits[i]) == exits0[i]) {
			if (kmmu_vm_failed(vm)) {
				free(exits0);
				snprintf(err, len, "priming: a vCPU failed");
				return -EIO;
			}
			if (kmmu_ss_now(&c->ss.t0) > t0 + 60) {
				free(exits0);
				snprintf(err, len, "priming: slot %llu never exited as MMIO at home in 60 s",
					 (unsigned long long)i);
				return -ETIMEDOUT;
			}
			usleep(500);
		}
	}
	free(exits0);
	for (i = 0; i < nsleep; i++)
		mi_set_sleep(c, i, true);
	r = mi_quiesce(vm, c, 2, 60);
	if (r) {
		snprintf(err, len, "waiting for the vCPUs to leave the sleepers: %s", strerror(-r));
		return r;
	}
	c->prime_swaps = c->swaps;
	c->sleepers = nsleep;

	/* 3. The sleepers become RAM; their MMIO SPTEs stay, stale. */
	for (i = 0; i < nsleep; i++) {
		r = mi_do_op(vm, c, i, MI_OP_CREATE, KMMU_SS_HOME, true, err, len);
		if (r)
			return r;
	}

	/*
	 * 4. Schedule: the sleepers' generation comes back after one full
	 * wrap; or N steps.
	 */
	if (mi_opts.full_wrap) {
		wake_at = c->prime_swaps + c->swaps_per_wrap;
		end_at = wake_at + MI_WRAP_WINDOW;
		wrap_at = (c->prime_swaps / c->swaps_per_wrap + 1) * c->swaps_per_wrap;
	} else {
		wake_at = c->swaps + mi_opts.generations;
		end_at = wake_at;
		wrap_at = 0;
	}
	sched = calloc(n, sizeof(*sched));
	if (!sched)
		return -ENOMEM;
	for (i = nsleep; i < n; i++) {
		uint64_t x = kmmu_ss_rand(rng), lo = c->swaps, span = end_at - lo;

		/* Half of them near the wrap, when there is one. */
		if (wrap_at && (i & 1)) {
			lo = wrap_at > MI_WRAP_WINDOW ? wrap_at - MI_WRAP_WINDOW : 0;
			if (lo < c->swaps)
				lo = c->swaps;
			span = 2 * MI_WRAP_WINDOW;
		}
		sched[nr_sched].step = lo + x % (span ? span : 1);
		sched[nr_sched++].cell = i;
	}
	qsort(sched, nr_sched, sizeof(*sched), mi_sched_cmp);

	r = mi_drive(vm, c, wake_at, sched, nr_sched, &next, deadline, err, len);
	if (r < 0)
		goto out;
	if (r > 0 && mi_opts.full_wrap) {
		snprintf(err, len, "out of time (-d %.0f s) after %llu of the %llu memslot swaps to the wrap",
			 mi_opts.duration, (unsigned long long)(c->swaps - c->prime_swaps),
			 (unsigned long long)c->swaps_per_wrap);
		r = -ETIMEDOUT;
		goto out;
	}

	/* 5. Wake: every sleeper must read as RAM with its value. */
	c->wake_swaps = c->swaps;
	r = mi_request(vm, c, &c->sh->wake, offsetof(struct mi_vcpu_shared, woke), 60);
	if (r) {
		snprintf(err, len, "wake: %s", r == -ETIMEDOUT ?
			 "the vCPUs did not read the sleepers in 60 s" : "a vCPU failed");
		goto out;
	}
	c->woke = true;
	for (i = 0; i < nsleep; i++)
		mi_set_sleep(c, i, false);

	/* 6. Past the wake point. */
	if (end_at > c->swaps) {
		r = mi_drive(vm, c, end_at, sched, nr_sched, &next, deadline + 60, err, len);
		if (r < 0)
			goto out;
	}
	/* Cells not created by now (out of time) are created by the restore. */
	r = mi_restore_and_sweep(vm, c, err, len);
out:
	free(sched);
	c->wrap_swaps = c->swaps - swaps0;
	c->wrap_s = kmmu_ss_now(&c->ss.t0) - t0;
	return r;
}

/* ---- the run's statistics: totals, the lines printed, the result ---- */

/* What the vCPUs did, summed over them. */
struct mi_totals {
	struct kmmu_ss_vcpu ss;		/* the guest's counters */
	long long mmio;			/* the MMIO exits the host saw */
	long long wake_reads;		/* the sleepers' reads at the wake */
};

/* From the guest's shared counters: before the VM, and its memory, go. */
static void mi_totals(const struct mi_ctx *c, struct mi_totals *t)
{
	int v;

	for (v = 0; v < mi_opts.vcpus; v++) {
		kmmu_ss_vcpu_add(&t->ss, &c->sh->vcpu[v].ss);
		t->wake_reads += c->sh->vcpu[v].wake_reads;
		t->mmio += c->mmio_exits[v];
	}
}

static void mi_print(const struct mi_ctx *c, const struct mi_totals *t, double dur)
{
	ksft_print_msg("seed %llu: flip: %ld ops (creates+deletes+moves) in %.2f s, %llu memslot swaps\n",
		       (unsigned long long)mi_opts.seed, c->flip_ops, c->flip_s,
		       (unsigned long long)c->flip_swaps);
	ksft_print_msg("wrap: %llu memslot swaps (generations) in %.2f s (%ld scratch toggles), sleepers %ld stamped at MMIO generation %#llx (swap %llu), woken%s at generation %#llx (swap %llu), MMIO generation wraps crossed %llu%s\n",
		       (unsigned long long)c->wrap_swaps, c->wrap_s, c->toggles,
		       c->sleepers, (unsigned long long)mi_mmio_gen(c->prime_swaps),
		       (unsigned long long)c->prime_swaps, c->woke ? "" : " (not reached)",
		       (unsigned long long)mi_mmio_gen(c->wake_swaps),
		       (unsigned long long)c->wake_swaps,
		       (unsigned long long)c->wraps_crossed,
		       mi_opts.full_wrap ? " (full wrap)" : " (bounded; --full-wrap for the wrap)");
	ksft_print_msg("totals: creates %ld deletes %ld moves %ld; memslot swaps %llu (MMIO generation %#llx); guest reads %lld writes %lld, MMIO loads %lld stores %lld (host saw %lld MMIO exits); accesses checked exactly %lld, raced %lld; sleeper reads at the wake %lld; final sweep reads %lld; %.2f s\n",
		       c->creates, c->deletes, c->moves, (unsigned long long)c->swaps,
		       (unsigned long long)mi_mmio_gen(c->swaps), (long long)t->ss.reads,
		       (long long)t->ss.writes, (long long)t->ss.mmio_reads,
		       (long long)t->ss.mmio_writes, t->mmio, (long long)t->ss.stable,
		       (long long)t->ss.racy, t->wake_reads, (long long)t->ss.sweeps, dur);
}

static void mi_metric(struct kmmu_result *res, const char *name, double v,
		      const char *unit, enum kmmu_direction dir)
{
	kmmu_result_metric(res, name, unit, dir, &v, 1);
}

/* The parameters and metrics of the result file; @c NULL: the run never began. */
static void mi_record(struct kmmu_result *res, const struct mi_ctx *c,
		      const struct mi_totals *t, double dur)
{
	char seed[32];

	kmmu_result_param_int(res, "vcpus", mi_opts.vcpus);
	kmmu_result_param_int(res, "cells", mi_opts.cells);
	kmmu_result_param_int(res, "ops", mi_opts.ops);
	kmmu_result_param_int(res, "generations", mi_opts.full_wrap ?
			      (long long)(c && c->swaps_per_wrap ? c->swaps_per_wrap :
					  MI_SWAPS_PER_WRAP_SMM) + MI_WRAP_WINDOW :
			      mi_opts.generations);
	kmmu_result_param_str(res, "full_wrap", mi_opts.full_wrap ? "yes" : "no");
	/* A string: JSON readers lose precision on integers above 2^53. */
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)mi_opts.seed);
	kmmu_result_param_str(res, "seed", seed);
	if (c) {
		mi_metric(res, "flip_ops", c->flip_ops, "ops", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "flip_duration", c->flip_s, "s", KMMU_LOWER_IS_BETTER);
		mi_metric(res, "memslot_creates", c->creates, "ops", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "memslot_deletes", c->deletes, "ops", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "memslot_moves", c->moves, "ops", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "scratch_toggles", c->toggles, "ops", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "memslot_swaps", c->swaps, "count", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "wrap_generations", c->wrap_swaps, "count", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "wrap_duration", c->wrap_s, "s", KMMU_LOWER_IS_BETTER);
		mi_metric(res, "mmio_generation_wraps", c->wraps_crossed, "count",
			  KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "guest_reads", t->ss.reads, "ops", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "guest_writes", t->ss.writes, "ops", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "mmio_exits", t->mmio, "ops", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "accesses_exact", t->ss.stable, "ops", KMMU_HIGHER_IS_BETTER);
		mi_metric(res, "accesses_raced", t->ss.racy, "ops", KMMU_HIGHER_IS_BETTER);
	}
	mi_metric(res, "duration", dur, "s", KMMU_LOWER_IS_BETTER);
}

/* ---- the harness ---- */

FIXTURE(mi) {
	struct kmmu_test_run run;	/* the VM, the checker's session, the result */
	struct kmmu_mem backing, scratch;
	struct mi_ctx *c;
};

FIXTURE_SETUP(mi)
{
	self->backing.fd = -1;
	self->scratch.fd = -1;
	KMMU_TEST_SETUP(&self->run, "mmio_invalidation_test");
}

FIXTURE_TEARDOWN(mi)
{
	struct mi_ctx *c = self->c;
	struct mi_totals t = { 0 };

	if (!self->run.started)
		return;
	if (c && c->sh)
		mi_totals(c, &t);
	/* The VM goes before the kernel log is looked at. */
	KMMU_TEST_END(&self->run);
	kmmu_mem_free(&self->backing);
	kmmu_mem_free(&self->scratch);
	if (c)
		mi_print(c, &t, self->run.dur);
	if (self->run.res)
		mi_record(self->run.res, c, &t, self->run.dur);
	KMMU_TEST_FINISH(&self->run, "mmio_invalidation_test", mi_opts.result);
	if (c) {
		kmmu_ss_host_free(&c->ss);
		free(c->home_exits);
		free(c->views);
		free(c);
		self->c = NULL;
	}
}

static bool mi_mmio_caching(void)
{
	FILE *f = fopen("/sys/module/kvm/parameters/mmio_caching", "r");
	int ch = f ? fgetc(f) : 'N';

	if (f)
		fclose(f);
	return ch == 'Y' || ch == 'y' || ch == '1';
}

KMMU_TEST_F(mi, run, 200)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = mi_opts.vcpus };
	struct kmmu_vm_handlers h = { 0 };
	uint64_t n = mi_opts.cells, i, sh_gva, rng;
	size_t exp_bytes, state_bytes;
	struct mi_ctx *c;
	char err[512];
	long cap;
	int r, v;

	c = calloc(1, sizeof(*c));
	ASSERT_NE(NULL, c);
	self->c = c;
	ASSERT_EQ(0, kmmu_ss_host_init(&c->ss, n));
	c->ss.op_names = mi_op_names;
	c->ss.state_text = mi_state_text;
	c->ss.op_text = mi_op_text;
	c->home_exits = calloc(n, sizeof(*c->home_exits));
	c->nr_views = KMMU_SLOT_FIRST_FREE + n + 1;
	c->views = calloc(c->nr_views, sizeof(*c->views));
	ASSERT_TRUE(c->home_exits && c->views);

	c->region = n * 4096;
	c->home_gpa = KMMU_GPA_TEST;
	c->alt_gpa = KMMU_GPA_TEST + ((c->region + (1ULL << 30) - 1) & ~((1ULL << 30) - 1));
	c->scratch_gpa = c->alt_gpa + ((c->region + (1ULL << 30) - 1) & ~((1ULL << 30) - 1));
	state_bytes = n * sizeof(uint64_t);
	exp_bytes = (size_t)mi_opts.vcpus * n * sizeof(uint32_t);
	vo.shared_size = sizeof(struct mi_shared) + 4096 + state_bytes + 4096 + exp_bytes + 4096;
	vo.pt_pages = 1024 + 2 * kmmu_pt_pages_for(c->region);
	/* The hook counts every memslot swap, the runtime's own slots included. */
	vo.memslot_hook = mi_memslot_hook;
	vo.memslot_hook_ctx = c;

	self->run.trace = kmmu_trace_session_start("mmio_invalidation_test", err, sizeof(err));
	if (self->run.trace) {
		c->log = kmmu_trace_session_log(self->run.trace);
		ksft_print_msg("checking against the reference: on\n");
	} else {
		ksft_print_msg("checking against the reference: off (%s)\n", err);
	}
	if (!mi_mmio_caching())
		ksft_print_msg("this host has mmio_caching=N: KVM makes no MMIO SPTEs, so their generations (mark_mmio_spte, check_mmio_spte, handle_mmio_page_fault) are not checkable here; classification still is\n");

	kmmu_vm_create(&self->run.vm, &vo);
	cap = kmmu_kvm_cap(kmmu_vm_fd(self->run.vm), KVM_CAP_MULTI_ADDRESS_SPACE);
	mi_nr_as = cap > 1 ? cap : 1;
	c->swaps_per_wrap = (MI_MMIO_GEN_MASK + 1) / mi_nr_as;
	kmmu_trace_session_vm(self->run.trace, cap);
	kmmu_result_host(self->run.res)->nr_memslots = kmmu_vm_nr_slots(self->run.vm);
	ASSERT_LE(n + 1, kmmu_vm_nr_slots(self->run.vm) - KMMU_RUNTIME_SLOTS);
	ASSERT_LT(c->scratch_gpa + 4096 - 1, 1ULL << kmmu_vm_phys_bits(self->run.vm))
		TH_LOG("guest MAXPHYADDR %u too small", kmmu_vm_phys_bits(self->run.vm));
	ASSERT_EQ(0, c->hook_unknown + c->hook_failures);

	c->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(struct mi_shared), &sh_gva);
	ASSERT_NE(NULL, c->sh);
	c->sh->nr_cells = n;
	c->sh->seed = mi_opts.seed;
	c->sh->home_gva = c->home_gpa;
	c->sh->alt_gva = c->alt_gpa;
	c->sh->inject_cell = mi_opts.inject ? 0 : MI_NO_CELL;
	c->ss.state = kmmu_vm_alloc_shared(self->run.vm, state_bytes, &c->sh->state_gva);
	ASSERT_NE(NULL, c->ss.state);
	ASSERT_NE(NULL, kmmu_vm_alloc_shared(self->run.vm, exp_bytes, &c->sh->exp_gva));

	/* Both places, GVA == GPA, mapped whether backed or not. */
	kmmu_vm_map(self->run.vm, c->home_gpa, c->home_gpa, c->region,
		    KMMU_MAP_WRITE | KMMU_MAP_NX);
	kmmu_vm_map(self->run.vm, c->alt_gpa, c->alt_gpa, c->region,
		    KMMU_MAP_WRITE | KMMU_MAP_NX);

	r = kmmu_mem_alloc(&self->backing, c->region, KMMU_BACKING_MEMFD, -1);
	ASSERT_EQ(0, r) TH_LOG("guest memory: %s", strerror(-r));
	r = kmmu_mem_alloc(&self->scratch, 4096, KMMU_BACKING_ANON, -1);
	ASSERT_EQ(0, r) TH_LOG("scratch memory: %s", strerror(-r));
	c->backing = self->backing.hva;
	c->scratch = self->scratch.hva;
	for (i = 0; i < n; i++)
		for (v = 0; v < mi_opts.vcpus; v++)
			((uint64_t *)(c->backing + i * 4096))[v] = KMMU_SS_PATTERN(i, v, 0);

	/* Every cell starts as RAM at home. */
	clock_gettime(CLOCK_MONOTONIC, &c->ss.t0);
	for (i = 0; i < n; i++) {
		r = mi_do_op(self->run.vm, c, i, MI_OP_CREATE, KMMU_SS_HOME, false, err, sizeof(err));
		ASSERT_EQ(0, r) TH_LOG("%s", err);
	}
	c->creates = 0;

	h.mmio = mi_mmio;
	h.fail_context = mi_fail_context;
	h.pre_run = mi_pre_run;
	h.ctx = c;
	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, mi_guest, (void *)(uintptr_t)sh_gva);

	r = mi_flip(self->run.vm, c, err, sizeof(err));
	if (r) {
		kmmu_vm_stop(self->run.vm);
		ASSERT_EQ(0, r) TH_LOG("flip phase: %s; vCPUs: %s", err, kmmu_vm_errors(self->run.vm));
	}
	if (mi_opts.generations || mi_opts.full_wrap) {
		rng = mi_opts.seed ^ 0x5bd1e995ULL;
		if (!rng)
			rng = 1;
		r = mi_wrap(self->run.vm, c, &rng, err, sizeof(err));
		if (r) {
			kmmu_vm_stop(self->run.vm);
			ASSERT_EQ(0, r) TH_LOG("wrap phase: %s; vCPUs: %s", err,
					       kmmu_vm_errors(self->run.vm));
		}
	}
	__atomic_store_n(&c->sh->stop, 1, __ATOMIC_RELEASE);
	r = __kmmu_vm_wait(self->run.vm, 60);
	if (r) {
		const char *e = kmmu_vm_errors(self->run.vm);

		ASSERT_EQ(0, r) TH_LOG("%s%s", r == -ETIMEDOUT ? "vCPUs did not finish: " : "",
				       e[0] ? e : strerror(-r));
	}
	ASSERT_EQ(0, c->hook_unknown + c->hook_failures)
		TH_LOG("memslot ioctls the generation model could not follow");
	for (v = 0; v < mi_opts.vcpus; v++)
		ASSERT_NE(0, c->sh->vcpu[v].ss.sweeps);
	if (self->run.trace) {
		r = kmmu_trace_session_finish(self->run.trace, NULL);
		self->run.trace = NULL;
		c->log = NULL;
		ASSERT_EQ(0, r) TH_LOG("the kernel's MMU events diverge from the reference"
				       " (see the checker's lines above)");
	}
}

static void mi_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-v vcpus] [-s cells] [-n ops] [-d seconds] [-S seed] [--generations N] [--full-wrap] [--result FILE]\n"
		"  -v  vCPUs (default 2, max %d)\n"
		"  -s  guest pages, each with its own memslot (default 64, max %d)\n"
		"  -n  memslot operations of the flip phase (default 3000; 0 skips it)\n"
		"  -d  maximum duration of each phase in seconds (default 60, 1800 with\n"
		"      --full-wrap, where not reaching the wrap in time is a failure)\n"
		"  -S  random seed (default: time based; always printed)\n"
		"  --generations N  memslot swaps the wrap phase drives (default 20000;\n"
		"      0 skips the phase); the MMIO generation wraps every %llu\n"
		"  --full-wrap  drive the generation once around (%llu swaps) and check\n"
		"      the pages whose stale MMIO SPTEs would match again (stress/nightly)\n"
		"  --result FILE  result file (default $KMMU_RESULT)\n"
		"$KMMU_MMIO_INJECT=invert-one inverts the expected outcome for page 0 (the\n"
		"test must then fail: a check of the test itself)\n",
		prog, KMMU_MAX_VCPUS, MI_MAX_CELLS, (unsigned long long)MI_SWAPS_PER_WRAP_SMM,
		(unsigned long long)MI_SWAPS_PER_WRAP_SMM);
}

/* Long-only options: values no short option has. */
enum { MI_OPT_GENERATIONS = 256, MI_OPT_FULL_WRAP };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "generations", required_argument, NULL, MI_OPT_GENERATIONS },
		{ "full-wrap", no_argument, NULL, MI_OPT_FULL_WRAP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = "mmio_invalidation_test";
	char why[256], msg[160];
	bool seeded = false, timed = false;
	uint64_t u;
	long cap;
	int opt, fd;

	if (kmmu_take_result_arg(&argc, argv, &mi_opts.result))
		kmmu_usage_error(prog, "--result needs a file name");
	while ((opt = kmmu_getopt(prog, argc, argv, ":v:s:n:d:S:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			if (kmmu_parse_u64(optarg, 1, KMMU_MAX_VCPUS, &u))
				kmmu_usage_error(prog, "-v wants a vCPU count from 1 to 64");
			mi_opts.vcpus = u;
			break;
		case 's':
			if (kmmu_parse_u64(optarg, 1, MI_MAX_CELLS, &u))
				kmmu_usage_error(prog, "-s wants a page count from 1 to 4096");
			mi_opts.cells = u;
			break;
		case 'n':
			if (kmmu_parse_u64(optarg, 0, 1000000000, &u))
				kmmu_usage_error(prog, "-n wants an operation count from 0 to 1e9");
			mi_opts.ops = u;
			break;
		case 'd':
			if (kmmu_parse_seconds(optarg, 0.001, 86400, &mi_opts.duration))
				kmmu_usage_error(prog, "-d wants a duration in seconds (0.001 to 86400)");
			timed = true;
			break;
		case 'S':
			if (kmmu_parse_u64(optarg, 0, ~0ULL, &mi_opts.seed))
				kmmu_usage_error(prog, "-S wants an unsigned 64-bit seed");
			seeded = true;
			break;
		case MI_OPT_GENERATIONS:
			if (kmmu_parse_u64(optarg, 0, 100000000, &u))
				kmmu_usage_error(prog, "--generations wants a count from 0 to 1e8");
			mi_opts.generations = u;
			break;
		case MI_OPT_FULL_WRAP:
			mi_opts.full_wrap = true;
			break;
		case 'h':
			mi_usage(stdout, prog);
			return 0;
		}
	}
	/* A full wrap is 262144 memslot updates: give it time unless told. */
	if (mi_opts.full_wrap && !timed)
		mi_opts.duration = 1800;
	mi_opts.inject = getenv("KMMU_MMIO_INJECT");
	if (mi_opts.inject && strcmp(mi_opts.inject, "invert-one"))
		kmmu_usage_error(prog, "KMMU_MMIO_INJECT wants invert-one");
	if (!seeded)
		mi_opts.seed = kmmu_time_seed();

	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd >= 0) {
		cap = kmmu_kvm_cap(fd, KVM_CAP_NR_MEMSLOTS);
		close(fd);
		if (cap > 0 && mi_opts.cells + 1 > cap - KMMU_RUNTIME_SLOTS)
			kmmu_usage_error(prog, "-s %ld: this host allows %ld memslots, %d of them used by the runtime, one by the test",
					 mi_opts.cells, cap, KMMU_RUNTIME_SLOTS);
	}
	kmmu_test_header(prog, "vcpus %d cells %ld ops %ld generations %s duration %.3gs seed %llu%s%s",
			 mi_opts.vcpus, mi_opts.cells, mi_opts.ops,
			 mi_opts.full_wrap ? "full-wrap" : (snprintf(msg, sizeof(msg), "%ld",
								     mi_opts.generations), msg),
			 mi_opts.duration, (unsigned long long)mi_opts.seed,
			 mi_opts.inject ? " INJECTED BUG: " : "", mi_opts.inject ? mi_opts.inject : "");
	if (fd < 0)
		ksft_exit_skip("%s\n", why);
	/* The harness kills a test after .timeout seconds: both phases, the waits. */
	KMMU_TEST_TIMEOUT(mi, run, (int)(2 * mi_opts.duration) + 240 + mi_opts.cells / 100);
	return test_harness_run(argc, argv);
}
