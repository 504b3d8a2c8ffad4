// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_churn_test's churned slots: the guest's sweeps over them, the
 * vCPUs' MMIO exit handler (an exit is judged against the slot's state
 * word), and the memslot operations the updater does on them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "memslot_churn.h"

/* ---- guest ---- */

static void ch_guest_sweep(struct ch_shared *sh, uint32_t v, uint64_t *state,
			   uint32_t *exp, struct ch_vcpu_shared *me)
{
	uint64_t n = sh->nr_slots, i;

	for (i = 0; i < n; i++) {
		uint64_t s = KMMU_SS_READ(state[i]), loc = s & KMMU_SS_LOC_MASK;
		uint64_t base = loc == KMMU_SS_ALT ? sh->alt_gva : sh->home_gva;
		uint64_t gva = base + i * 4096 + v * 8, val, want;

		if (loc == KMMU_SS_ABSENT || (KMMU_SS_SEQ(s) & 1))
			GUEST_FAIL("final sweep: gpa %#lx slot %lu not restored (state %#lx..%#lx)",
				   gva, i, s, s);
		want = KMMU_SS_PATTERN(i, v, exp[i]);
		if (kmmu_ss_load(&me->ss, gva, &val))
			GUEST_FAIL("final sweep: read of gpa %#lx slot %lu (state %#lx..%#lx) exited as MMIO",
				   gva, i, s, s);
		if (val != want)
			GUEST_FAIL("final sweep: gpa %#lx slot %lu (state %#lx..%#lx) holds %#lx, expected %#lx",
				   gva, i, s, s, val, want);
		me->ss.sweeps++;
	}
}

void ch_guest(uint32_t v, void *arg)
{
	struct ch_shared *sh = arg;
	struct ch_vcpu_shared *me = &sh->vcpu[v];
	uint64_t n = sh->nr_slots;
	uint64_t *state = (uint64_t *)sh->state_gva;
	uint32_t *exp = (uint32_t *)sh->exp_gva + (uint64_t)v * n;
	uint64_t rng = sh->seed ^ (0x9e3779b97f4a7c15ULL * (v + 1));

	if (!rng)
		rng = 1;
	while (!KMMU_SS_READ(sh->stop)) {
		uint64_t r = kmmu_ss_rand(&rng), i = r % n;
		struct kmmu_ss_access a = { .i = i };
		uint64_t loc, at;

		a.s1 = KMMU_SS_READ(state[i]);
		loc = a.s1 & KMMU_SS_LOC_MASK;
		r >>= 20;
		/* Mostly where the slot is; 1/8 of the time the other place. */
		if (loc == KMMU_SS_ABSENT)
			at = (r & 1) ? KMMU_SS_ALT : KMMU_SS_HOME;
		else if ((r & 0xe) == 0)
			at = loc == KMMU_SS_HOME ? KMMU_SS_ALT : KMMU_SS_HOME;
		else
			at = loc;
		a.write = (r >> 4) & 1;
		a.gva = (at == KMMU_SS_ALT ? sh->alt_gva : sh->home_gva) + i * 4096 + v * 8;
		a.want = KMMU_SS_PATTERN(i, v, exp[i] + a.write);
		a.should_exit = loc != at || (a.write && (a.s1 & CH_RO));

		if (kmmu_ss_access(&me->ss, state, &a))
			continue;
		if (a.stable && a.should_exit) {
			if (a.write)
				GUEST_FAIL("store to absent or read-only slot did not exit: gpa %#lx slot %lu state %#lx..%#lx value %#lx",
					   a.gva, i, a.s1, a.s2, a.want);
			GUEST_FAIL("load from absent slot did not exit: gpa %#lx slot %lu state %#lx..%#lx read %#lx",
				   a.gva, i, a.s1, a.s2, a.val);
		}
		kmmu_ss_reached_memory(&me->ss, &exp[i], &a);
	}
	ch_guest_sweep(sh, v, state, exp, me);
}

const char *const ch_op_names[] = {
	[CH_OP_NONE] = "none", [CH_OP_CREATE] = "create", [CH_OP_DELETE] = "delete",
	[CH_OP_MOVE] = "move", [CH_OP_FLAGS] = "flags",
};

int ch_state_text(uint64_t s, char *buf, size_t len)
{
	static const char *const locs[] = { "absent", "home", "alt", "?" };

	return snprintf(buf, len, "seq %llu%s %s%s%s", (unsigned long long)KMMU_SS_SEQ(s),
			!(KMMU_SS_SEQ(s) & 1) ? "" : (s & KMMU_SS_FLAGS_ONLY) ? " (changing flags)" :
			" (changing)", locs[s & KMMU_SS_LOC_MASK],
			s & CH_RO ? " ro" : "", s & CH_DIRTY ? " dirty-log" : "");
}

/* An operation's entry in a slot's history (arg: the ioctl's result). */
int ch_op_text(const struct kmmu_ss_op *op, char *buf, size_t len)
{
	return snprintf(buf, len, ", ret %d", (int)op->arg);
}

static void ch_pre_run(struct kmmu_vcpu *vcpu, void *ctx)
{
	struct ch_ctx *c = ctx;

	kmmu_ss_pre_run(&c->ss, kmmu_vcpu_id(vcpu));
}

static int ch_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data,
		   uint32_t len, bool is_write, void *ctx)
{
	struct ch_ctx *c = ctx;
	const struct kmmu_slot_exit_rules rules = {
		.home_gpa = c->home_gpa, .alt_gpa = c->alt_gpa, .size = c->region, .ro = CH_RO,
		.outside = "the churned region (a runtime slot vanished?)", .mapped = "present",
	};
	int v = kmmu_vcpu_id(vcpu);
	uint64_t i, at;

	if (kmmu_slot_exit_check(&rules, &c->ss, vcpu, gpa, len, is_write, &i, &at))
		return -1;
	c->mmio_exits[v]++;
	kmmu_ss_exit_done(&c->sh->vcpu[v].ss, gpa, data, is_write);
	return 0;
}

static void ch_fail_context(struct kmmu_vcpu *vcpu, const struct kmmu_ucall_msg *m,
			    char *buf, size_t len, void *ctx)
{
	struct ch_ctx *c = ctx;
	uint64_t i = m->args[1], ns;
	char more[160] = "";

	if (c->unmap_count && m->nr == KMMU_UCALL_FAIL && m->nr_args >= 4 && i < c->ss.nr &&
	    __atomic_load_n(&c->unmap_count[i], __ATOMIC_RELAXED)) {
		ns = __atomic_load_n(&c->unmap_last_ns[i], __ATOMIC_RELAXED);
		snprintf(more, sizeof(more), "the host unmapped its page %u times, the last from %.6fs; ",
			 __atomic_load_n(&c->unmap_count[i], __ATOMIC_RELAXED), ns / 1e9);
	}
	kmmu_ss_fail_context(&c->ss, m, more, buf, len);
}

/* The vCPU threads' handlers of the churned slots, with @c as their context. */
void ch_set_handlers(struct kmmu_vm *vm, struct ch_ctx *c)
{
	struct kmmu_vm_handlers h = {
		.mmio = ch_mmio, .fail_context = ch_fail_context, .pre_run = ch_pre_run, .ctx = c,
	};

	kmmu_vm_set_handlers(vm, &h);
}

static uint32_t ch_kvm_flags(uint64_t st)
{
	return (st & CH_RO ? KVM_MEM_READONLY : 0) | (st & CH_DIRTY ? KVM_MEM_LOG_DIRTY_PAGES : 0);
}

/*
 * $KMMU_CHURN_INJECT=@what: every 50th operation of its kind (@done so far)
 * on slot @i is only said to be done, and the slot never touched again.
 */
static bool ch_inject_freeze(struct ch_ctx *c, uint64_t i, const char *what, long done)
{
	if (!ch_opts.inject || strcmp(ch_opts.inject, what) || done % 50 != 49)
		return false;
	c->frozen[i] = true;
	return true;
}

/* One operation on slot @i towards state flags @want (location + flags). */
int ch_do_op(struct kmmu_vm *vm, struct ch_ctx *c, uint8_t *backing,
	     uint64_t i, enum ch_op_kind kind, uint64_t want, char *err, size_t len)
{
	uint64_t old, before;
	uint32_t slot = KMMU_SLOT_FIRST_FREE + i;
	uint64_t gpa = ((want & KMMU_SS_LOC_MASK) == KMMU_SS_ALT ? c->alt_gpa : c->home_gpa) + i * 4096;
	int r;

	atomic_store_explicit(&c->churn_slot, i, memory_order_relaxed);
	before = kmmu_ss_begin(&c->ss, i, kind == CH_OP_FLAGS ? KMMU_SS_FLAGS_ONLY : 0, &old);

	r = 0;
	switch (kind) {
	case CH_OP_CREATE:
		/* phantom-add: say "present", leave it absent. */
		if (!ch_inject_freeze(c, i, "phantom-add", c->creates))
			r = __kmmu_slot_add(vm, slot, gpa, 4096, backing + i * 4096,
					    ch_kvm_flags(want));
		break;
	case CH_OP_DELETE:
		/* stale-delete: say "absent", keep it present. */
		if (!ch_inject_freeze(c, i, "stale-delete", c->deletes))
			r = kmmu_slot_delete(vm, slot);
		break;
	case CH_OP_MOVE:
		r = kmmu_slot_move(vm, slot, gpa);
		break;
	case CH_OP_FLAGS:
		r = kmmu_slot_set_flags(vm, slot, ch_kvm_flags(want));
		break;
	default:
		r = -EINVAL;
	}

	kmmu_ss_end(&c->ss, i, before, r ? (old & KMMU_SS_FLAGS) : want, kind, r);

	if (r) {
		char st[80];

		ch_state_text(old, st, sizeof(st));
		snprintf(err, len, "%s of slot %llu (memslot %u, from %s) failed: %s",
			 ch_op_names[kind], (unsigned long long)i, slot, st, strerror(-r));
		return r;
	}
	switch (kind) {
	case CH_OP_CREATE: c->creates++; break;
	case CH_OP_DELETE: c->deletes++; break;
	case CH_OP_MOVE: c->moves++; break;
	case CH_OP_FLAGS: c->flag_changes++; break;
	default: break;
	}
	return 0;
}

static uint64_t ch_host_rand(uint64_t *s)
{
	return kmmu_ss_rand(s);
}

/* One random operation; returns 0 or -errno (with @err). */
int ch_random_op(struct kmmu_vm *vm, struct ch_ctx *c, uint8_t *backing,
		 uint64_t *rng, char *err, size_t len)
{
	uint64_t r = ch_host_rand(rng), i = r % c->sh->nr_slots;
	uint64_t st = c->ss.state[i] & 0xff, loc = st & KMMU_SS_LOC_MASK, want;

	if (c->frozen[i])
		return 0;
	r >>= 20;
	if (loc == KMMU_SS_ABSENT) {
		want = (r & 1) ? KMMU_SS_ALT : KMMU_SS_HOME;
		if (c->readonly_ok && ((r >> 1) & 3) == 0)
			want |= CH_RO;
		else if (((r >> 1) & 3) == 1)
			want |= CH_DIRTY;
		return ch_do_op(vm, c, backing, i, CH_OP_CREATE, want, err, len);
	}
	switch ((r >> 3) % 3) {
	case 0:
		return ch_do_op(vm, c, backing, i, CH_OP_DELETE, KMMU_SS_ABSENT, err, len);
	case 1:
		want = (st & ~KMMU_SS_LOC_MASK) | (loc == KMMU_SS_HOME ? KMMU_SS_ALT : KMMU_SS_HOME);
		return ch_do_op(vm, c, backing, i, CH_OP_MOVE, want, err, len);
	default:
		/* KVM refuses to toggle READONLY in place: delete those instead. */
		if (st & CH_RO)
			return ch_do_op(vm, c, backing, i, CH_OP_DELETE, KMMU_SS_ABSENT, err, len);
		return ch_do_op(vm, c, backing, i, CH_OP_FLAGS, st ^ CH_DIRTY, err, len);
	}
}
