// SPDX-License-Identifier: GPL-2.0
/*
 * mmio_invalidation_test's cells: the guest's reads and the sleeper, the
 * memslot hook's model of the MMIO generation, the vCPUs' MMIO exit
 * handler (an exit is judged against the cell's state word), and the
 * memslot ioctl on one cell.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "mmio_invalidation.h"

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

void mi_guest(uint32_t v, void *arg)
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

const char *const mi_op_names[] = {
	[MI_OP_NONE] = "none", [MI_OP_CREATE] = "create", [MI_OP_DELETE] = "delete",
	[MI_OP_MOVE] = "move", [MI_OP_SLEEP] = "sleep-flag",
};

/*
 * The VM's memslot address spaces, set once it exists (one VM per test
 * process); history texts are printed by callbacks that get no context.
 */
unsigned int mi_nr_as = 2;

uint64_t mi_mmio_gen(uint64_t swaps)
{
	return (swaps * mi_nr_as) & MI_MMIO_GEN_MASK;
}

/*
 * The runtime's memslot hook: counts memslot swaps the way
 * kvm_set_memslot() does them (see the top comment) and forwards every
 * ioctl to the checker's log.  Runs on the thread that issued the ioctl;
 * all of this test's ioctls come from the main thread.
 */
void mi_memslot_hook(void *ctx, uint64_t issued_ns, uint32_t slot, uint32_t flags,
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

int mi_state_text(uint64_t s, char *buf, size_t len)
{
	static const char *const locs[] = { "absent", "home", "alt", "?" };

	return snprintf(buf, len, "seq %llu%s %s%s", (unsigned long long)KMMU_SS_SEQ(s),
			KMMU_SS_SEQ(s) & 1 ? " (changing)" : "", locs[s & KMMU_SS_LOC_MASK],
			s & MI_SLEEP ? " asleep" : "");
}

/* An operation's entry in a cell's history (arg: the VM's swaps after it). */
int mi_op_text(const struct kmmu_ss_op *op, char *buf, size_t len)
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
	const struct kmmu_slot_exit_rules rules = {
		.home_gpa = c->home_gpa, .alt_gpa = c->alt_gpa, .size = c->region, .ro = 0,
		.outside = "the cells (the scratch slot or a runtime slot?)", .mapped = "RAM",
	};
	int v = kmmu_vcpu_id(vcpu);
	uint64_t i, at;

	if (kmmu_slot_exit_check(&rules, &c->ss, vcpu, gpa, len, is_write, &i, &at))
		return -1;
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

/* The vCPU threads' handlers of the cells, with @c as their context. */
void mi_set_handlers(struct kmmu_vm *vm, struct mi_ctx *c)
{
	struct kmmu_vm_handlers h = {
		.mmio = mi_mmio, .fail_context = mi_fail_context, .pre_run = mi_pre_run, .ctx = c,
	};

	kmmu_vm_set_handlers(vm, &h);
}

/* One memslot ioctl on cell @i towards location @loc (keeping SLEEP if @sleep). */
int mi_do_op(struct kmmu_vm *vm, struct mi_ctx *c, uint64_t i, enum mi_op_kind kind,
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
