// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_churn_test: vCPUs write and read known patterns across a guest
 * region made of many one-page memslots while a host thread deletes,
 * re-adds, moves and re-flags those slots in a seeded random order.
 *
 * What must hold: every value a vCPU reads is the last value it wrote there
 * (no lost or stale write); an access to a GPA that no slot covers exits to
 * the host as MMIO; an access to a present slot does not.
 *
 * Layout.  Slot i (memslot id KMMU_SLOT_FIRST_FREE + i) is one page, backed
 * by page i of one host buffer, and lives at one of two guest physical
 * places: "home" (home_gpa + i * 4K) or "alt" (alt_gpa + i * 4K), or is
 * absent.  The guest page tables map both whole ranges (GVA == GPA), so the
 * guest can touch either place at any time.  vCPU v owns the 8-byte word
 * at offset 8 * v of every slot page, so vCPUs never race with each other.
 * Because the backing page follows the slot (delete keeps it, re-add and
 * MOVE reuse it), its contents survive every operation: the value of a
 * word is always the last value the guest managed to store into it.
 *
 * Values.  pattern(i, v, gen) = 1 << 62 | i << 40 | v << 32 | gen, where
 * gen counts the stores of vCPU v into slot i that reached memory (the
 * guest keeps it in exp[v][i]).  The host fills every word with gen 0
 * before the vCPUs start.  MMIO reads are completed by the host with
 * POISON (bit 63 set, never a pattern).
 *
 * Publication and classification: the slot-state seqlock and the guest's
 * judgement of one access, see kmmu/slot_state.h.  Flags here: location,
 * READONLY, LOG_DIRTY and KMMU_SS_FLAGS_ONLY.  A stable access must exit
 * iff the slot is not at the accessed place or it is a store to a
 * READONLY slot; a flags-only change keeps that exact, as READONLY cannot
 * change in place.  The host-side check (kmmu/slot_state.h) also counts a
 * slot whose only change since is a flags-only one still running as there.
 *
 * Host unmaps (--host-unmap N).  A second host thread, about N times a
 * second, picks a run of slots its state words show present and
 * madvise(MADV_DONTNEED)s their backing pages, racing with the churn on
 * those same slots.  KVM's MMU notifier zaps the SPTEs; the next guest
 * access refaults the page through KVM.  With memfd backing the data lives
 * in the file, so every check above still holds exactly; anonymous memory
 * would lose it (zero pages), so the option refuses -m anon.  The backing
 * is one buffer that outlives every slot (only the teardown frees it,
 * after joining the thread), so a range whose slot is being deleted or
 * moved is still the test's memory.  Traced runs also capture
 * kvm:kvm_unmap_hva_range (not in the checker's event list) and require
 * one event with exactly each madvised range.
 *
 * End.  When the operation budget (-n) or the time (-d) is used up, the
 * host re-adds every absent slot, then sets stop; each vCPU then reads
 * every slot at its place once more (no exit allowed, value exact).
 *
 * Failures report the GPA, slot, the state words seen, the values, and the
 * slot's recent operations with their seq, marking those that overlapped.
 */
#include <errno.h>
#include <getopt.h>
#include <numa.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/result.h"
#include "kmmu/slot_state.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_session.h"

#define CH_MAX_SLOTS	32768		/* 15 bits of slot index in a pattern */
#define CH_RO		0x4ULL
#define CH_DIRTY	0x8ULL
#define CH_UNMAP_MAX_PAGES 8		/* pages per host unmap, at most */
#define CH_UNMAP_MAX_RATE 1000000	/* --host-unmap, per second */

/* Per-vCPU counters in shared memory. */
struct ch_vcpu_shared {
	struct kmmu_ss_vcpu ss;
	uint64_t pad[7];
};

struct ch_shared {
	uint64_t stop;
	uint64_t nr_slots;
	uint64_t nr_vcpus;
	uint64_t seed;
	uint64_t home_gva, alt_gva;
	uint64_t state_gva;	/* uint64_t[nr_slots] */
	uint64_t exp_gva;	/* uint32_t[nr_vcpus][nr_slots], guest-private */
	struct ch_vcpu_shared vcpu[KMMU_MAX_VCPUS];
};

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

static void ch_guest(uint32_t v, void *arg)
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

/* ---- host ---- */

enum ch_op_kind { CH_OP_NONE, CH_OP_CREATE, CH_OP_DELETE, CH_OP_MOVE, CH_OP_FLAGS };

static const char *const ch_op_names[] = {
	[CH_OP_NONE] = "none", [CH_OP_CREATE] = "create", [CH_OP_DELETE] = "delete",
	[CH_OP_MOVE] = "move", [CH_OP_FLAGS] = "flags",
};

struct ch_opts {
	int vcpus;
	long slots;
	long ops;
	double duration;
	uint64_t seed;
	enum kmmu_backing backing;
	long host_unmap;	/* unmaps per second, 0: none */
	int numa_node;		/* the churned slots' backing bound here, or -1 */
	const char *result;
	/*
	 * $KMMU_CHURN_INJECT, to show that the test catches the bugs it is
	 * about: "stale-delete" publishes every 50th delete without doing it
	 * (a slot that should be gone keeps working), "phantom-add" publishes
	 * every 50th create without doing it (a present slot exits as MMIO),
	 * "lost-write" flips a word in the backing behind the guest's back
	 * once, mid-run, "unmap-anon" runs --host-unmap on anonymous memory,
	 * where MADV_DONTNEED drops the data (what the refusal prevents).
	 */
	const char *inject;
};

static struct ch_opts ch_opts = {
	.vcpus = 2,
	.slots = 256,
	.ops = 10000,
	.duration = 30,
	.backing = KMMU_BACKING_MEMFD,
	.numa_node = -1,
};

/* KVM binary stats reported as metrics: VM-wide, and summed over vCPUs. */
static const char *const ch_vm_stats[] = {
	"mmu_shadow_zapped", "mmu_pte_write", "mmu_flooded", "mmu_recycled",
	"mmu_cache_miss", "remote_tlb_flush", "pages_4k", "pages_2m",
};
static const char *const ch_vcpu_stats[] = {
	"pf_fixed", "pf_mmio_spte_created", "pf_guest", "mmio_exits", "exits",
};
#define CH_NR_VM_STATS (sizeof(ch_vm_stats) / sizeof(ch_vm_stats[0]))
#define CH_NR_VCPU_STATS (sizeof(ch_vcpu_stats) / sizeof(ch_vcpu_stats[0]))
#define CH_NR_STATS (CH_NR_VM_STATS + CH_NR_VCPU_STATS)

/* An madvised hva range [start, end), or one kvm_unmap_hva_range saw. */
struct ch_range {
	uint64_t start, end;
};

struct ch_ctx {
	struct kmmu_stats vm_stats, vcpu_stats[KMMU_MAX_VCPUS];
	bool stats_open;
	bool stat_found[CH_NR_STATS];
	uint64_t stat_value[CH_NR_STATS];	/* delta, or final value if instant */
	struct ch_shared *sh;
	struct kmmu_ss_host ss;	/* the state words (ss.state: host view) */
	uint32_t *exp;
	bool *frozen;		/* slots an injected bug left alone */
	double churn_s;		/* the churn loop alone: what tracing may slow down */
	uint64_t home_gpa, alt_gpa, region;
	uint64_t mmio_exits[KMMU_MAX_VCPUS];
	long creates, deletes, moves, flag_changes;
	bool readonly_ok;
	_Atomic uint64_t churn_slot;	/* slot of the latest memslot ioctl */

	/* --host-unmap: the thread, what it did, and what KVM saw of it. */
	uint8_t *backing;
	pthread_t unmapper;
	bool unmapper_running;
	_Atomic bool unmap_stop;
	int unmap_err;			/* errno of a failed madvise */
	long unmaps, unmap_pages, unmaps_raced;
	double unmap_s;			/* the thread's running time */
	uint32_t *unmap_count;		/* per slot, for failure reports */
	uint64_t *unmap_last_ns;	/* per slot, since ss.t0 */
	struct ch_range *ranges;	/* every madvised range, when verified */
	size_t nr_ranges, cap_ranges;
	bool record_ranges, ranges_oom;
	struct kmmu_trace_capture *ucap;	/* kvm:kvm_unmap_hva_range only */
	struct kmmu_trace_log ulog;
	bool ulog_init;
	bool unmap_verified;
	long unmap_events;		/* events inside the backing */
	char unmap_why[160];		/* why not verified */
};

static int ch_state_text(uint64_t s, char *buf, size_t len)
{
	static const char *const locs[] = { "absent", "home", "alt", "?" };

	return snprintf(buf, len, "seq %llu%s %s%s%s", (unsigned long long)KMMU_SS_SEQ(s),
			!(KMMU_SS_SEQ(s) & 1) ? "" : (s & KMMU_SS_FLAGS_ONLY) ? " (changing flags)" :
			" (changing)", locs[s & KMMU_SS_LOC_MASK],
			s & CH_RO ? " ro" : "", s & CH_DIRTY ? " dirty-log" : "");
}

/* An operation's entry in a slot's history (arg: the ioctl's result). */
static int ch_op_text(const struct kmmu_ss_op *op, char *buf, size_t len)
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
	int v = kmmu_vcpu_id(vcpu);
	uint64_t i, at, s, lc;
	char hist[1024], st[80];

	at = kmmu_ss_place(gpa, c->home_gpa, c->alt_gpa, c->region, &i);
	if (at == KMMU_SS_ABSENT) {
		kmmu_vcpu_fail(vcpu, "MMIO %s of %u bytes at gpa %#llx, outside the churned region (a runtime slot vanished?)",
			       is_write ? "store" : "load", len, (unsigned long long)gpa);
		return -1;
	}
	if (!kmmu_ss_own_word(vcpu, gpa, len, is_write, i))
		return -1;
	if (kmmu_ss_check_exit(&c->ss, v, i, at, is_write, CH_RO, &s, &lc, hist, sizeof(hist))) {
		ch_state_text(s, st, sizeof(st));
		kmmu_vcpu_fail(vcpu, "MMIO exit (%s) at gpa %#llx of slot %llu, which has been present there (%s) since gseq %llu, before this KVM_RUN began (gseq %llu); %s",
			       is_write ? "store" : "load", (unsigned long long)gpa,
			       (unsigned long long)i, st, (unsigned long long)lc,
			       (unsigned long long)c->ss.run_gseq[v], hist);
		return -1;
	}
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

static uint32_t ch_kvm_flags(uint64_t st)
{
	return (st & CH_RO ? KVM_MEM_READONLY : 0) | (st & CH_DIRTY ? KVM_MEM_LOG_DIRTY_PAGES : 0);
}

/* One operation on slot @i towards state flags @want (location + flags). */
static int ch_do_op(struct kmmu_vm *vm, struct ch_ctx *c, uint8_t *backing,
		    uint64_t i, enum ch_op_kind kind, uint64_t want, char *err, size_t len)
{
	uint64_t old, before;
	uint32_t slot = KMMU_SLOT_FIRST_FREE + i;
	uint64_t gpa = ((want & KMMU_SS_LOC_MASK) == KMMU_SS_ALT ? c->alt_gpa : c->home_gpa) + i * 4096;
	int r;

	atomic_store_explicit(&c->churn_slot, i, memory_order_relaxed);
	before = kmmu_ss_begin(&c->ss, i, kind == CH_OP_FLAGS ? KMMU_SS_FLAGS_ONLY : 0, &old);

	switch (kind) {
	case CH_OP_CREATE:
		if (ch_opts.inject && !strcmp(ch_opts.inject, "phantom-add") &&
		    c->creates % 50 == 49) {
			/* Say "present", leave it absent, never touch it again. */
			c->frozen[i] = true;
			r = 0;
			break;
		}
		r = __kmmu_slot_add(vm, slot, gpa, 4096, backing + i * 4096, ch_kvm_flags(want));
		break;
	case CH_OP_DELETE:
		if (ch_opts.inject && !strcmp(ch_opts.inject, "stale-delete") &&
		    c->deletes % 50 == 49) {
			/* Say "absent", keep it present, never touch it again. */
			c->frozen[i] = true;
			r = 0;
			break;
		}
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
static int ch_random_op(struct kmmu_vm *vm, struct ch_ctx *c, uint8_t *backing,
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

/* ---- host unmaps (--host-unmap) ---- */

static bool ch_present(const struct ch_ctx *c, uint64_t i, uint64_t *s)
{
	*s = __atomic_load_n(&c->ss.state[i], __ATOMIC_ACQUIRE);
	return (*s & KMMU_SS_LOC_MASK) != KMMU_SS_ABSENT;
}

static void ch_record_range(struct ch_ctx *c, uint64_t start, uint64_t end)
{
	if (c->nr_ranges == c->cap_ranges) {
		size_t cap = c->cap_ranges ? 2 * c->cap_ranges : 4096;
		struct ch_range *r = realloc(c->ranges, cap * sizeof(*r));

		if (!r) {
			c->ranges_oom = true;
			c->record_ranges = false;
			return;
		}
		c->ranges = r;
		c->cap_ranges = cap;
	}
	c->ranges[c->nr_ranges++] = (struct ch_range){ start, end };
}

/*
 * One unmap: from a slot that is present -- every other time the slot of
 * the churn's latest ioctl, to hit one that is being deleted or moved, else
 * a random one (a few tries) -- up to CH_UNMAP_MAX_PAGES pages while the
 * next slots are present too.  The state words only choose; whatever the
 * churn does meanwhile, the pages are the test's (the backing outlives
 * every slot).  0, or -errno of madvise.
 */
static int ch_unmap_one(struct ch_ctx *c, uint64_t *rng)
{
	uint64_t n = c->sh->nr_slots, r = kmmu_ss_rand(rng), i = r % n, k, len, s;
	uint64_t before[CH_UNMAP_MAX_PAGES], ns;
	int tries;
	bool raced = false;

	if (r & (1ULL << 63))
		i = atomic_load_explicit(&c->churn_slot, memory_order_relaxed);
	for (tries = 0; !ch_present(c, i, &s); tries++) {
		if (tries == 8)
			return 0;
		i = kmmu_ss_rand(rng) % n;
	}
	len = 1 + (r >> 40) % CH_UNMAP_MAX_PAGES;
	for (k = 0; k < len && i + k < n && ch_present(c, i + k, &before[k]); k++)
		;
	len = k;
	/* Noted first: a vCPU may fail on the page before madvise returns. */
	ns = kmmu_ss_now(&c->ss.t0) * 1e9;
	for (k = 0; k < len; k++) {
		__atomic_store_n(&c->unmap_count[i + k], c->unmap_count[i + k] + 1,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&c->unmap_last_ns[i + k], ns, __ATOMIC_RELAXED);
	}
	if (madvise(c->backing + i * 4096, len * 4096, MADV_DONTNEED))
		return -errno;
	for (k = 0; k < len; k++)
		raced |= __atomic_load_n(&c->ss.state[i + k], __ATOMIC_ACQUIRE) != before[k];
	c->unmaps++;
	c->unmap_pages += len;
	c->unmaps_raced += raced;
	if (c->record_ranges)
		ch_record_range(c, (uintptr_t)c->backing + i * 4096,
				(uintptr_t)c->backing + (i + len) * 4096);
	return 0;
}

/* The unmap thread: ch_opts.host_unmap unmaps a second, no bursts after a stall. */
static void *ch_unmapper(void *arg)
{
	struct ch_ctx *c = arg;
	uint64_t rng = ch_opts.seed ^ 0x5bd1e9955bd1e995ULL;
	double period = 1.0 / ch_opts.host_unmap, next = 0, now;
	struct timespec t0;
	int r;

	if (!rng)
		rng = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(&c->unmap_stop)) {
		now = kmmu_ss_now(&t0);
		if (now < next) {
			/* At most 10 ms asleep: stop is noticed promptly. */
			double d = next - now < 0.01 ? next - now : 0.01;
			struct timespec ts = { 0, (long)(d * 1e9) };

			nanosleep(&ts, NULL);
			continue;
		}
		next = now - next > 1 ? now + period : next + period;
		r = ch_unmap_one(c, &rng);
		if (r) {
			c->unmap_err = -r;
			break;
		}
	}
	c->unmap_s = kmmu_ss_now(&t0);
	return NULL;
}

/*
 * Starts the unmap thread; when the run is checked, first a capture of
 * kvm:kvm_unmap_hva_range for this process (the checker does not capture
 * it).  0 or -errno.
 */
static int ch_unmapper_start(struct ch_ctx *c, bool traced)
{
	static const char *const events[] = { "kvm:kvm_unmap_hva_range", NULL };
	struct kmmu_trace_capture_opts o = { .events = events, .buffer_kb = 1024 };
	char why[128];
	int r;

	c->unmap_count = calloc(c->ss.nr, sizeof(*c->unmap_count));
	c->unmap_last_ns = calloc(c->ss.nr, sizeof(*c->unmap_last_ns));
	if (!c->unmap_count || !c->unmap_last_ns)
		return -ENOMEM;
	if (!traced) {
		snprintf(c->unmap_why, sizeof(c->unmap_why), "the run is not traced");
	} else {
		kmmu_trace_log_init(&c->ulog);
		c->ulog_init = true;
		r = kmmu_trace_capture_start(&c->ucap, &o, &c->ulog, why, sizeof(why));
		if (r)
			snprintf(c->unmap_why, sizeof(c->unmap_why), "capture: %s", why);
		c->record_ranges = !r;
	}
	r = pthread_create(&c->unmapper, NULL, ch_unmapper, c);
	if (r)
		return -r;
	c->unmapper_running = true;
	return 0;
}

/* Stops and joins the thread (idempotent: also the teardown's). */
static void ch_unmapper_stop(struct ch_ctx *c)
{
	if (!c->unmapper_running)
		return;
	atomic_store(&c->unmap_stop, true);
	pthread_join(c->unmapper, NULL);
	c->unmapper_running = false;
}

static int ch_range_cmp(const void *a, const void *b)
{
	const struct ch_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/*
 * After ch_unmapper_stop(): every madvised range must have a
 * kvm_unmap_hva_range event with exactly that range (KVM's MMU notifier
 * saw it).  0 (verified, or not verifiable: c->unmap_why says why), or -1
 * with the reason in @err.
 */
static int ch_unmap_verify(struct ch_ctx *c, char *err, size_t len)
{
	uint64_t base = (uintptr_t)c->backing, top = base + c->region, k;
	unsigned long long lost = 0;
	struct ch_range *ev;
	size_t nr = 0, a, b;
	int r;

	if (!c->ucap)
		return 0;
	r = kmmu_trace_capture_stop(c->ucap, &lost);
	kmmu_trace_capture_destroy(c->ucap);
	c->ucap = NULL;
	if (r) {
		snprintf(err, len, "the capture of kvm_unmap_hva_range is incomplete (%s, %llu lost)",
			 strerror(-r), lost);
		return -1;
	}
	if (c->ranges_oom) {
		snprintf(c->unmap_why, sizeof(c->unmap_why), "out of memory for the ranges");
		return 0;
	}
	ev = malloc((c->ulog.nr + 1) * sizeof(*ev));
	if (!ev) {
		snprintf(c->unmap_why, sizeof(c->unmap_why), "out of memory for the events");
		return 0;
	}
	for (k = 0; k < c->ulog.nr; k++) {
		const struct kmmu_trace_record *rec = &c->ulog.recs[k];

		if (rec->type == KMMU_EV_UNMAP_HVA_RANGE && rec->hva_range.start >= base &&
		    rec->hva_range.end <= top)
			ev[nr++] = (struct ch_range){ rec->hva_range.start, rec->hva_range.end };
	}
	c->unmap_events = nr;
	qsort(ev, nr, sizeof(*ev), ch_range_cmp);
	qsort(c->ranges, c->nr_ranges, sizeof(*c->ranges), ch_range_cmp);
	/* A multiset inclusion: both sorted, each event matches one unmap. */
	for (a = b = 0; a < c->nr_ranges; a++) {
		while (b < nr && ch_range_cmp(&ev[b], &c->ranges[a]) < 0)
			b++;
		if (b == nr || ch_range_cmp(&ev[b], &c->ranges[a])) {
			snprintf(err, len, "KVM saw no kvm_unmap_hva_range for the host's madvise of backing pages %llu..%llu (%zu of %zu unmaps checked, %zu events in the backing)",
				 (unsigned long long)((c->ranges[a].start - base) / 4096),
				 (unsigned long long)((c->ranges[a].end - base) / 4096 - 1),
				 a, c->nr_ranges, nr);
			free(ev);
			return -1;
		}
		b++;
	}
	free(ev);
	c->unmap_verified = true;
	return 0;
}

static void ch_unmapper_free(struct ch_ctx *c)
{
	ch_unmapper_stop(c);
	kmmu_trace_capture_destroy(c->ucap);
	c->ucap = NULL;
	if (c->ulog_init)
		kmmu_trace_log_free(&c->ulog);
	c->ulog_init = false;
	free(c->ranges);
	free(c->unmap_count);
	free(c->unmap_last_ns);
	c->ranges = NULL;
	c->unmap_count = NULL;
	c->unmap_last_ns = NULL;
}

/*
 * Reads the stats of ch_vm_stats/ch_vcpu_stats: at the start (@end false)
 * the values, at the end the delta (cumulative) or the value (instant).
 * Stats this kernel lacks are left out.
 */
static void ch_stats(struct ch_ctx *c, struct kmmu_vm *vm, bool end)
{
	size_t k;
	int v;

	if (!end) {
		if (kmmu_stats_open(&c->vm_stats, kmmu_vm_fd(vm)))
			return;
		for (v = 0; v < ch_opts.vcpus; v++)
			if (kmmu_stats_open(&c->vcpu_stats[v],
					    kmmu_vcpu_fd(kmmu_vm_vcpu(vm, v)))) {
				while (v--)
					kmmu_stats_close(&c->vcpu_stats[v]);
				kmmu_stats_close(&c->vm_stats);
				return;
			}
		c->stats_open = true;
	}
	if (!c->stats_open)
		return;
	for (k = 0; k < CH_NR_STATS; k++) {
		bool vm_stat = k < CH_NR_VM_STATS;
		const char *name = vm_stat ? ch_vm_stats[k] : ch_vcpu_stats[k - CH_NR_VM_STATS];
		const struct kvm_stats_desc *d = kmmu_stats_find(&c->vm_stats, name);
		uint64_t sum = 0, x;
		bool found = true;

		if (vm_stat) {
			found = d && !kmmu_stats_get(&c->vm_stats, name, &sum);
		} else {
			d = kmmu_stats_find(&c->vcpu_stats[0], name);
			for (v = 0; v < ch_opts.vcpus && found; v++) {
				found = !kmmu_stats_get(&c->vcpu_stats[v], name, &x);
				sum += x;
			}
		}
		if (!end) {
			c->stat_found[k] = found;
			c->stat_value[k] = sum;
		} else if (found && c->stat_found[k]) {
			uint32_t type = d->flags & KVM_STATS_TYPE_MASK;

			c->stat_value[k] = type == KVM_STATS_TYPE_CUMULATIVE ?
					   sum - c->stat_value[k] : sum;
		} else {
			c->stat_found[k] = false;
		}
	}
	if (end) {
		c->stats_open = false;
		for (v = 0; v < ch_opts.vcpus; v++)
			kmmu_stats_close(&c->vcpu_stats[v]);
		kmmu_stats_close(&c->vm_stats);
	}
}

/* ---- the run's statistics: totals, the lines printed, the result ---- */

/* What the vCPUs did, summed over them. */
struct ch_totals {
	struct kmmu_ss_vcpu ss;		/* the guest's counters */
	long long mmio;			/* the MMIO exits the host saw */
};

/* From the guest's shared counters: before the VM, and its memory, go. */
static void ch_totals(const struct ch_ctx *c, struct ch_totals *t)
{
	int v;

	for (v = 0; v < ch_opts.vcpus; v++) {
		kmmu_ss_vcpu_add(&t->ss, &c->sh->vcpu[v].ss);
		t->mmio += c->mmio_exits[v];
	}
}

static const char *ch_stat_name(size_t k)
{
	return k < CH_NR_VM_STATS ? ch_vm_stats[k] : ch_vcpu_stats[k - CH_NR_VM_STATS];
}

static void ch_print(const struct ch_ctx *c, const struct ch_totals *t, double dur)
{
	char line[1024];
	size_t off = 0, k;

	ksft_print_msg("seed %llu: creates %ld deletes %ld moves %ld flag-changes %ld; guest reads %lld writes %lld, MMIO loads %lld stores %lld (host saw %lld MMIO exits); accesses checked exactly %lld, raced %lld; final sweep reads %lld; %.2f s\n",
		       (unsigned long long)ch_opts.seed, c->creates, c->deletes,
		       c->moves, c->flag_changes, (long long)t->ss.reads, (long long)t->ss.writes,
		       (long long)t->ss.mmio_reads, (long long)t->ss.mmio_writes, t->mmio,
		       (long long)t->ss.stable, (long long)t->ss.racy, (long long)t->ss.sweeps, dur);
	line[0] = 0;
	for (k = 0; k < CH_NR_STATS && off < sizeof(line); k++)
		if (c->stat_found[k])
			off += snprintf(line + off, sizeof(line) - off, " %s %llu",
					ch_stat_name(k), (unsigned long long)c->stat_value[k]);
	if (line[0])
		ksft_print_msg("KVM stats over the run:%s\n", line);
	if (!ch_opts.host_unmap)
		return;
	if (c->unmap_verified)
		snprintf(line, sizeof(line), "%ld kvm_unmap_hva_range events in the backing, one for every unmap",
			 c->unmap_events);
	else
		snprintf(line, sizeof(line), "not verified (%s)",
			 c->unmap_why[0] ? c->unmap_why : "the run ended early");
	ksft_print_msg("host unmaps: %ld madvise(MADV_DONTNEED) of %ld pages in %.2f s (%.0f/s, asked %ld/s), %ld overlapped a memslot ioctl on the same slot; seen by KVM: %s\n",
		       c->unmaps, c->unmap_pages, c->unmap_s,
		       c->unmap_s > 0 ? c->unmaps / c->unmap_s : 0.0,
		       ch_opts.host_unmap, c->unmaps_raced, line);
}

static void ch_metric(struct kmmu_result *res, const char *name, double v,
		      const char *unit, enum kmmu_direction dir)
{
	kmmu_result_metric(res, name, unit, dir, &v, 1);
}

/* The parameters and metrics of the result file; @c NULL: the run never began. */
static void ch_record(struct kmmu_result *res, const struct ch_ctx *c,
		      const struct ch_totals *t, double dur)
{
	char seed[32];
	size_t k;

	kmmu_result_param_int(res, "vcpus", ch_opts.vcpus);
	kmmu_result_param_int(res, "slots", ch_opts.slots);
	kmmu_result_param_int(res, "ops", ch_opts.ops);
	/* A string: JSON readers lose precision on integers above 2^53. */
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)ch_opts.seed);
	kmmu_result_param_str(res, "seed", seed);
	kmmu_result_param_str(res, "backing",
			      ch_opts.backing == KMMU_BACKING_ANON ? "anon" : "memfd");
	kmmu_result_param_int(res, "host_unmap", ch_opts.host_unmap);
	/* Only when bound: unbound runs keep the parameters they always had. */
	if (ch_opts.numa_node >= 0)
		kmmu_result_param_int(res, "numa_node", ch_opts.numa_node);
	if (c) {
		ch_metric(res, "memslot_creates", c->creates, "ops", KMMU_HIGHER_IS_BETTER);
		ch_metric(res, "memslot_deletes", c->deletes, "ops", KMMU_HIGHER_IS_BETTER);
		ch_metric(res, "memslot_moves", c->moves, "ops", KMMU_HIGHER_IS_BETTER);
		ch_metric(res, "memslot_flag_changes", c->flag_changes, "ops",
			  KMMU_HIGHER_IS_BETTER);
		ch_metric(res, "guest_reads", t->ss.reads, "ops", KMMU_HIGHER_IS_BETTER);
		ch_metric(res, "guest_writes", t->ss.writes, "ops", KMMU_HIGHER_IS_BETTER);
		ch_metric(res, "mmio_exits", t->mmio, "ops", KMMU_HIGHER_IS_BETTER);
		ch_metric(res, "guest_mmio_loads", t->ss.mmio_reads, "ops", KMMU_HIGHER_IS_BETTER);
		ch_metric(res, "guest_mmio_stores", t->ss.mmio_writes, "ops",
			  KMMU_HIGHER_IS_BETTER);
		if (c->churn_s > 0)
			ch_metric(res, "churn_duration", c->churn_s, "s", KMMU_LOWER_IS_BETTER);
		if (ch_opts.host_unmap) {
			ch_metric(res, "host_unmaps", c->unmaps, "ops", KMMU_HIGHER_IS_BETTER);
			ch_metric(res, "host_unmap_pages", c->unmap_pages, "pages",
				  KMMU_HIGHER_IS_BETTER);
			ch_metric(res, "host_unmaps_raced", c->unmaps_raced, "ops",
				  KMMU_HIGHER_IS_BETTER);
			if (c->unmap_verified)
				ch_metric(res, "kvm_unmap_hva_range_events", c->unmap_events,
					  "count", KMMU_HIGHER_IS_BETTER);
		}
		for (k = 0; k < CH_NR_STATS; k++) {
			char name[80];

			if (!c->stat_found[k])
				continue;
			snprintf(name, sizeof(name), "kvm_%s", ch_stat_name(k));
			ch_metric(res, name, c->stat_value[k], "count", KMMU_LOWER_IS_BETTER);
		}
	}
	ch_metric(res, "duration", dur, "s", KMMU_LOWER_IS_BETTER);
}

/* ---- the harness ---- */

FIXTURE(churn) {
	struct kmmu_test_run run;	/* the VM, the checker's session, the result */
	struct kmmu_mem backing;
	struct ch_ctx *c;
};

FIXTURE_SETUP(churn)
{
	self->backing.fd = -1;
	KMMU_TEST_SETUP(&self->run, "memslot_churn_test");
}

FIXTURE_TEARDOWN(churn)
{
	struct ch_ctx *c = self->c;
	struct ch_totals t = { 0 };
	int v;

	if (!self->run.started)
		return;
	if (c && c->sh)
		ch_totals(c, &t);
	if (c && c->stats_open) {
		/* The test failed between the two readings: no KVM stats. */
		for (v = 0; v < ch_opts.vcpus; v++)
			kmmu_stats_close(&c->vcpu_stats[v]);
		kmmu_stats_close(&c->vm_stats);
		c->stats_open = false;
		memset(c->stat_found, 0, sizeof(c->stat_found));
	}
	/* The unmapper touches the backing: stopped before it goes. */
	if (c)
		ch_unmapper_stop(c);
	/* The VM goes before the kernel log is looked at. */
	KMMU_TEST_END(&self->run);
	kmmu_mem_free(&self->backing);
	if (c)
		ch_print(c, &t, self->run.dur);
	if (self->run.res)
		ch_record(self->run.res, c, &t, self->run.dur);
	KMMU_TEST_FINISH(&self->run, "memslot_churn_test", ch_opts.result);
	if (c) {
		ch_unmapper_free(c);
		kmmu_ss_host_free(&c->ss);
		free(c->frozen);
		free(c);
		self->c = NULL;
	}
}

/* The runtime's memslot hook: every ioctl goes into the checker's action log. */
static void ch_log_memslot(void *ctx, uint64_t issued_ns, uint32_t slot, uint32_t flags,
			   uint64_t gpa, uint64_t size, uint64_t hva, int ret)
{
	kmmu_trace_action_memslot(ctx, issued_ns, slot, flags, gpa, size, hva, ret);
}

KMMU_TEST_F(churn, run, 90)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = ch_opts.vcpus };
	struct kmmu_vm_handlers h = { 0 };
	struct ch_ctx *c;
	uint64_t n = ch_opts.slots, i, gva, rng, region;
	size_t exp_bytes, state_bytes;
	char err[512];
	uint8_t *backing;
	long done = 0;
	int r, v;

	c = calloc(1, sizeof(*c));
	ASSERT_NE(NULL, c);
	self->c = c;
	c->frozen = calloc(n, sizeof(*c->frozen));
	ASSERT_EQ(0, kmmu_ss_host_init(&c->ss, n));
	ASSERT_NE(NULL, c->frozen);
	c->ss.op_names = ch_op_names;
	c->ss.state_text = ch_state_text;
	c->ss.op_text = ch_op_text;

	region = n * 4096;
	c->region = region;
	c->home_gpa = KMMU_GPA_TEST;
	c->alt_gpa = KMMU_GPA_TEST + ((region + (1ULL << 30) - 1) & ~((1ULL << 30) - 1));
	state_bytes = n * sizeof(uint64_t);
	exp_bytes = (size_t)ch_opts.vcpus * n * sizeof(uint32_t);
	vo.shared_size = sizeof(struct ch_shared) + 4096 + state_bytes + 4096 + exp_bytes + 4096;
	vo.pt_pages = 1024 + 2 * kmmu_pt_pages_for(region);

	/* Checked against the reference from the VM's first memslot on. */
	self->run.trace = kmmu_trace_session_start("memslot_churn_test", err, sizeof(err));
	if (self->run.trace) {
		vo.memslot_hook = ch_log_memslot;
		vo.memslot_hook_ctx = kmmu_trace_session_log(self->run.trace);
		ksft_print_msg("checking against the reference: on\n");
	} else {
		ksft_print_msg("checking against the reference: off (%s)\n", err);
	}

	kmmu_vm_create(&self->run.vm, &vo);
	kmmu_trace_session_vm(self->run.trace, kmmu_kvm_cap(kmmu_vm_fd(self->run.vm),
							KVM_CAP_MULTI_ADDRESS_SPACE));
	kmmu_result_host(self->run.res)->nr_memslots = kmmu_vm_nr_slots(self->run.vm);
	ASSERT_LE(n, kmmu_vm_nr_slots(self->run.vm) - KMMU_RUNTIME_SLOTS);
	ASSERT_LT(c->alt_gpa + region - 1, 1ULL << kmmu_vm_phys_bits(self->run.vm))
		TH_LOG("guest MAXPHYADDR %u too small", kmmu_vm_phys_bits(self->run.vm));
	c->readonly_ok = kmmu_kvm_cap(kmmu_vm_fd(self->run.vm), KVM_CAP_READONLY_MEM) > 0;

	/* Shared region: header, state words, guest expectations. */
	c->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(struct ch_shared), &gva);
	ASSERT_NE(NULL, c->sh);
	c->sh->nr_slots = n;
	c->sh->nr_vcpus = ch_opts.vcpus;
	c->sh->seed = ch_opts.seed;
	c->sh->home_gva = c->home_gpa;
	c->sh->alt_gva = c->alt_gpa;
	uint64_t sh_gva = gva;

	c->ss.state = kmmu_vm_alloc_shared(self->run.vm, state_bytes, &c->sh->state_gva);
	c->exp = kmmu_vm_alloc_shared(self->run.vm, exp_bytes, &c->sh->exp_gva);
	ASSERT_TRUE(c->ss.state && c->exp);

	/* Both places of the region, GVA == GPA, mapped whether backed or not. */
	kmmu_vm_map(self->run.vm, c->home_gpa, c->home_gpa, region,
		    KMMU_MAP_WRITE | KMMU_MAP_NX);
	kmmu_vm_map(self->run.vm, c->alt_gpa, c->alt_gpa, region,
		    KMMU_MAP_WRITE | KMMU_MAP_NX);

	r = kmmu_mem_alloc(&self->backing, region, ch_opts.backing, ch_opts.numa_node);
	ASSERT_EQ(0, r) TH_LOG("guest memory: %s", strerror(-r));
	backing = self->backing.hva;
	c->backing = backing;
	for (i = 0; i < n; i++)
		for (v = 0; v < ch_opts.vcpus; v++)
			((uint64_t *)(backing + i * 4096))[v] = KMMU_SS_PATTERN(i, v, 0);

	/* All slots start present at home. */
	clock_gettime(CLOCK_MONOTONIC, &c->ss.t0);
	for (i = 0; i < n; i++) {
		r = ch_do_op(self->run.vm, c, backing, i, CH_OP_CREATE, KMMU_SS_HOME, err, sizeof(err));
		ASSERT_EQ(0, r) TH_LOG("%s", err);
	}
	c->creates = 0;

	h.mmio = ch_mmio;
	h.fail_context = ch_fail_context;
	h.pre_run = ch_pre_run;
	h.ctx = c;
	kmmu_vm_set_handlers(self->run.vm, &h);
	ch_stats(c, self->run.vm, false);
	kmmu_vm_start(self->run.vm, ch_guest, (void *)(uintptr_t)sh_gva);
	if (ch_opts.host_unmap) {
		r = ch_unmapper_start(c, self->run.trace);
		if (r)
			kmmu_vm_stop(self->run.vm);
		ASSERT_EQ(0, r) TH_LOG("starting the unmap thread: %s", strerror(-r));
	}

	/* The churn: this thread is the updater. */
	rng = ch_opts.seed ? ch_opts.seed : 1;
	while (done < ch_opts.ops && kmmu_ss_now(&c->ss.t0) < ch_opts.duration &&
	       !kmmu_vm_failed(self->run.vm)) {
		if (ch_opts.inject && !strcmp(ch_opts.inject, "lost-write") &&
		    done == ch_opts.ops / 4) {
			/* vCPU 0's word in every slot loses its latest store. */
			for (i = 0; i < n; i++)
				((uint64_t *)(backing + i * 4096))[0] ^= 1;
		}
		r = ch_random_op(self->run.vm, c, backing, &rng, err, sizeof(err));
		if (r) {
			/* Kick the vCPUs out without starting their final sweep. */
			kmmu_vm_stop(self->run.vm);
			ASSERT_EQ(0, r) TH_LOG("%s; vCPUs: %s", err, kmmu_vm_errors(self->run.vm));
		}
		done++;
	}
	c->churn_s = kmmu_ss_now(&c->ss.t0);
	if (ch_opts.host_unmap) {
		ch_unmapper_stop(c);
		if (c->unmap_err) {
			kmmu_vm_stop(self->run.vm);
			ASSERT_EQ(0, c->unmap_err) TH_LOG("madvise(MADV_DONTNEED) of the backing failed: %s",
							  strerror(c->unmap_err));
		}
		r = ch_unmap_verify(c, err, sizeof(err));
		if (r)
			kmmu_vm_stop(self->run.vm);
		ASSERT_EQ(0, r) TH_LOG("%s", err);
	}
	if (!kmmu_vm_failed(self->run.vm)) {
		/* Everything back, then the final sweep. */
		for (i = 0; i < n; i++) {
			if ((c->ss.state[i] & KMMU_SS_LOC_MASK) != KMMU_SS_ABSENT || c->frozen[i])
				continue;
			r = ch_do_op(self->run.vm, c, backing, i, CH_OP_CREATE, KMMU_SS_HOME,
				     err, sizeof(err));
			ASSERT_EQ(0, r) TH_LOG("%s", err);
		}
	}
	__atomic_store_n(&c->sh->stop, 1, __ATOMIC_RELEASE);
	r = __kmmu_vm_wait(self->run.vm, 30 + n / 1000.0);
	if (r) {
		const char *e = kmmu_vm_errors(self->run.vm);

		ASSERT_EQ(0, r) TH_LOG("%s%s", r == -ETIMEDOUT ? "vCPUs did not finish: " : "",
				       e[0] ? e : strerror(-r));
	}
	for (v = 0; v < ch_opts.vcpus; v++)
		ASSERT_EQ(n, c->sh->vcpu[v].ss.sweeps);
	ch_stats(c, self->run.vm, true);
	if (self->run.trace) {
		r = kmmu_trace_session_finish(self->run.trace, NULL);
		self->run.trace = NULL;
		ASSERT_EQ(0, r) TH_LOG("the kernel's MMU events diverge from the reference"
				       " (see the checker's lines above)");
	}
}

static void ch_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-v vcpus] [-s slots] [-n ops] [-d seconds] [-S seed] [-m anon|memfd]\n"
		"          [-N node] [--host-unmap N] [--result FILE]\n"
		"  -v  vCPUs (default 2, max %d)\n"
		"  -s  one-page memslots churned (default 256, max %d and KVM_CAP_NR_MEMSLOTS - %d)\n"
		"  -n  memslot operations (default 10000)\n"
		"  -d  maximum churn duration in seconds (default 30)\n"
		"  -S  random seed (default: time based; always printed)\n"
		"  -m  guest memory backing (default memfd)\n"
		"  -N, --numa-node NODE  bind the churned slots' backing to NUMA node NODE\n"
		"      (MPOL_BIND; default: the process's policy)\n"
		"  --host-unmap N  a host thread madvise(MADV_DONTNEED)s the backing of up to\n"
		"      %d present slots N times a second during the churn (max %d; memfd\n"
		"      backing only: anonymous memory would lose the data)\n"
		"  --result FILE  result file (default $KMMU_RESULT)\n"
		"$KMMU_CHURN_INJECT=stale-delete|phantom-add|lost-write|unmap-anon injects a\n"
		"bug the test must catch (to check the test itself); unmap-anon runs\n"
		"--host-unmap on anonymous backing\n",
		prog, KMMU_MAX_VCPUS, CH_MAX_SLOTS, KMMU_RUNTIME_SLOTS, CH_UNMAP_MAX_PAGES,
		CH_UNMAP_MAX_RATE);
}

/* Long-only options: values no short option has. */
enum { CH_OPT_HOST_UNMAP = 256 };

/*
 * -N's node must be one this process may allocate memory on: mbind() would
 * refuse any other only once the test runs, as a failure, not a usage error.
 */
static void ch_parse_numa_node(const char *prog, const char *arg)
{
	struct bitmask *allowed;
	bool ok;
	uint64_t u;

	if (kmmu_parse_u64(arg, 0, 1023, &u))
		kmmu_usage_error(prog, "-N wants a NUMA node number from 0 to 1023");
	if (numa_available() < 0)
		kmmu_usage_error(prog, "-N: this host has no NUMA support (libnuma's numa_available() < 0)");
	allowed = numa_get_mems_allowed();
	ok = u <= (uint64_t)numa_max_node() && numa_bitmask_isbitset(allowed, u);
	numa_bitmask_free(allowed);
	if (!ok)
		kmmu_usage_error(prog, "-N %llu: not a NUMA node with memory this process may use (highest node %d)",
				 (unsigned long long)u, numa_max_node());
	ch_opts.numa_node = u;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host-unmap", required_argument, NULL, CH_OPT_HOST_UNMAP },
		{ "numa-node", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = "memslot_churn_test";
	char why[256], msg[160];
	bool seeded = false;
	size_t off;
	uint64_t u;
	long cap;
	int opt, fd;

	if (kmmu_take_result_arg(&argc, argv, &ch_opts.result))
		kmmu_usage_error(prog, "--result needs a file name");
	while ((opt = kmmu_getopt(prog, argc, argv, ":v:s:n:d:S:m:N:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			if (kmmu_parse_u64(optarg, 1, KMMU_MAX_VCPUS, &u))
				kmmu_usage_error(prog, "-v wants a vCPU count from 1 to 64");
			ch_opts.vcpus = u;
			break;
		case 's':
			if (kmmu_parse_u64(optarg, 1, CH_MAX_SLOTS, &u))
				kmmu_usage_error(prog, "-s wants a slot count from 1 to 32768");
			ch_opts.slots = u;
			break;
		case 'n':
			if (kmmu_parse_u64(optarg, 0, 1000000000, &u))
				kmmu_usage_error(prog, "-n wants an operation count from 0 to 1e9");
			ch_opts.ops = u;
			break;
		case 'd':
			if (kmmu_parse_seconds(optarg, 0.001, 86400, &ch_opts.duration))
				kmmu_usage_error(prog, "-d wants a duration in seconds (0.001 to 86400)");
			break;
		case 'S':
			if (kmmu_parse_u64(optarg, 0, ~0ULL, &ch_opts.seed))
				kmmu_usage_error(prog, "-S wants an unsigned 64-bit seed");
			seeded = true;
			break;
		case 'm':
			if (!strcmp(optarg, "anon"))
				ch_opts.backing = KMMU_BACKING_ANON;
			else if (!strcmp(optarg, "memfd"))
				ch_opts.backing = KMMU_BACKING_MEMFD;
			else
				kmmu_usage_error(prog, "-m wants anon or memfd");
			break;
		case 'N':
			ch_parse_numa_node(prog, optarg);
			break;
		case CH_OPT_HOST_UNMAP:
			if (kmmu_parse_u64(optarg, 0, CH_UNMAP_MAX_RATE, &u))
				kmmu_usage_error(prog, "--host-unmap wants unmaps per second from 0 to 1000000");
			ch_opts.host_unmap = u;
			break;
		case 'h':
			ch_usage(stdout, prog);
			return 0;
		}
	}
	ch_opts.inject = getenv("KMMU_CHURN_INJECT");
	if (ch_opts.inject && strcmp(ch_opts.inject, "stale-delete") &&
	    strcmp(ch_opts.inject, "phantom-add") && strcmp(ch_opts.inject, "lost-write") &&
	    strcmp(ch_opts.inject, "unmap-anon"))
		kmmu_usage_error(prog, "KMMU_CHURN_INJECT wants stale-delete, phantom-add, lost-write or unmap-anon");
	if (ch_opts.inject && !strcmp(ch_opts.inject, "unmap-anon")) {
		if (!ch_opts.host_unmap)
			kmmu_usage_error(prog, "KMMU_CHURN_INJECT=unmap-anon needs --host-unmap N");
		ch_opts.backing = KMMU_BACKING_ANON;
	} else if (ch_opts.host_unmap && ch_opts.backing == KMMU_BACKING_ANON) {
		kmmu_usage_error(prog, "--host-unmap needs -m memfd: MADV_DONTNEED would drop anonymous guest memory");
	}
	if (!seeded)
		ch_opts.seed = kmmu_time_seed();

	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd >= 0) {
		cap = kmmu_kvm_cap(fd, KVM_CAP_NR_MEMSLOTS);
		close(fd);
		if (cap > 0 && ch_opts.slots > cap - KMMU_RUNTIME_SLOTS)
			kmmu_usage_error(prog, "-s %ld: this host allows %ld memslots, %d of them used by the runtime",
					 ch_opts.slots, cap, KMMU_RUNTIME_SLOTS);
	}
	/* The parameters: the seed is always printed. */
	off = 0;
	msg[0] = 0;
	if (ch_opts.numa_node >= 0)
		off += snprintf(msg + off, sizeof(msg) - off, " numa-node %d", ch_opts.numa_node);
	if (ch_opts.host_unmap)
		snprintf(msg + off, sizeof(msg) - off, " host-unmap %ld/s", ch_opts.host_unmap);
	kmmu_test_header(prog, "vcpus %d slots %ld ops %ld duration %.3gs seed %llu backing %s%s%s%s",
			 ch_opts.vcpus, ch_opts.slots, ch_opts.ops, ch_opts.duration,
			 (unsigned long long)ch_opts.seed,
			 ch_opts.backing == KMMU_BACKING_ANON ? "anon" : "memfd", msg,
			 ch_opts.inject ? " INJECTED BUG: " : "", ch_opts.inject ? ch_opts.inject : "");
	if (fd < 0)
		ksft_exit_skip("%s\n", why);
	/* The harness kills a test after .timeout seconds: size it to -d. */
	KMMU_TEST_TIMEOUT(churn, run, (int)ch_opts.duration + 60 + ch_opts.slots / 500);
	return test_harness_run(argc, argv);
}
