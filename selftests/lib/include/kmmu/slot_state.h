/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Slot state: how a host thread that changes memslots under running vCPUs
 * tells the guest what each slot looks like, and how the guest judges one
 * access against that (memslot_churn_test, mmio_invalidation_test).
 *
 * Layout.  Slot i is one page that lives at one of two guest physical
 * places, "home" or "alt", or is absent; the guest maps both places, so a
 * place without the slot is MMIO.  vCPU v owns the 8-byte word 8 * v of
 * every slot page, holding KMMU_SS_PATTERN(i, v, gen), gen counting the
 * stores that reached memory (the guest keeps it in its exp[]).  The host
 * completes MMIO loads with KMMU_SS_POISON (bit 63: never a pattern).
 *
 * Publication (a seqlock per slot).  The host publishes one word per slot
 * in shared memory, seq << 8 | flags: bits 0-1 the location, bit 4
 * KMMU_SS_FLAGS_ONLY, the other flag bits the test's own.  Every memslot
 * ioctl on slot i is
 *   lock; state = (seq + 1, old flags); unlock          (odd: changing)
 *   KVM_SET_USER_MEMORY_REGION
 *   lock; state = (seq + 2, new flags); last_change[i] = ++gseq; unlock
 * seq never repeats, so the word acts as a seqlock.
 *
 * Guest-side classification.  For one access the guest reads s1 = state[i]
 * and its MMIO counter m1, does the 8-byte load or store, reads m2 and s2.
 * The host's vCPU thread bumps the counter (and records the GPA) for every
 * MMIO exit of the slots before it re-enters the guest, so m2 != m1
 * exactly when this access exited.  If s1 == s2 and seq is even, no ioctl
 * on slot i overlapped the access: the one that produced s1 had returned
 * before the guest read it (every fault after it sees the new layout and
 * stale SPTEs are gone), and the next one had not published its odd seq
 * when the guest read s2 (by x86 ordering its memslot swap, which follows
 * that store, had not been seen by the access).  Then the outcome is
 * exact: the caller says whether the access must exit.  The same holds
 * when the only overlapping ioctl was a flags-only change (its odd word
 * carries KMMU_SS_FLAGS_ONLY): KVM swaps in the new slot without ever
 * removing the old one.  Otherwise either outcome is allowed.  Always: a
 * load that did not exit returns the pattern of exp, a store that did not
 * exit reached the backing (exp++), a load that exited returns POISON, and
 * one access exits at most once, at its own GPA.
 *
 * Host-side check (independent of the guest).  Before each KVM_RUN the
 * vCPU thread snapshots gseq; an MMIO exit at a place where the slot's
 * state is stable, was last changed at a gseq <= that snapshot and says
 * the slot is there, is wrong.
 *
 * The guest helpers below are inline: they run at CPL3 in the VM, call no
 * libc and report failures with GUEST_FAIL, whose first four arguments are
 * always (gpa, slot, s1, s2) so that the host can add the slot's history.
 */
#ifndef KMMU_SLOT_STATE_H
#define KMMU_SLOT_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "kmmu/guest.h"
#include "kmmu/kvm_vm.h"

#define KMMU_SS_LOC_MASK	0x3ULL
#define KMMU_SS_ABSENT		0
#define KMMU_SS_HOME		1
#define KMMU_SS_ALT		2
#define KMMU_SS_FLAGS_ONLY	0x10ULL	/* set while a flags-only change runs */
#define KMMU_SS_FLAGS		0xffULL
#define KMMU_SS_SEQ(s)		((s) >> 8)
#define KMMU_SS_STATE(seq, flags) (((uint64_t)(seq) << 8) | (flags))

#define KMMU_SS_POISON		0xdeadbeefdeadbeefULL
#define KMMU_SS_PATTERN(i, v, gen) \
	((1ULL << 62) | ((uint64_t)(i) << 40) | ((uint64_t)(v) << 32) | (uint32_t)(gen))

#define KMMU_SS_READ(x)		(*(volatile __typeof__(x) *)&(x))
#define kmmu_ss_barrier()	__asm__ volatile("" : : : "memory")

/* xorshift64*: the guest's and the host's random choices. */
static inline uint64_t kmmu_ss_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Per-vCPU counters in shared memory: the first member of a test's own. */
struct kmmu_ss_vcpu {
	uint64_t mmio_count;	/* host: MMIO exits of the slots by this vCPU */
	uint64_t mmio_last_gpa;	/* host: GPA of the latest one */
	uint64_t reads, writes;	/* guest: accesses that reached memory */
	uint64_t mmio_reads, mmio_writes; /* guest: accesses that exited */
	uint64_t stable, racy;	/* guest: accesses checked exactly / raced */
	uint64_t sweeps;	/* guest: final verification reads */
};

/* No ioctl but a flags-only one overlapped the reads of @s1 and @s2. */
static inline bool kmmu_ss_stable(uint64_t s1, uint64_t s2)
{
	if (KMMU_SS_SEQ(s2) - KMMU_SS_SEQ(s1) > 1)
		return false;
	if (KMMU_SS_SEQ(s1) & 1)
		return s1 & KMMU_SS_FLAGS_ONLY;
	if (KMMU_SS_SEQ(s2) != KMMU_SS_SEQ(s1))
		return s2 & KMMU_SS_FLAGS_ONLY;
	return true;
}

/* One access of the guest to the word of slot @i at @gva. */
struct kmmu_ss_access {
	uint64_t i, gva;
	uint64_t s1, s2;	/* state[i] before and after */
	uint64_t val;		/* what a load returned */
	uint64_t want;		/* the pattern a store writes or a load expects */
	bool write;
	bool should_exit;	/* the exact outcome, if stable */
	bool stable;		/* set by kmmu_ss_access() */
};

/* Loads @gva once; true if the load exited as MMIO. */
static inline bool kmmu_ss_load(struct kmmu_ss_vcpu *me, uint64_t gva, uint64_t *val)
{
	uint64_t m1 = KMMU_SS_READ(me->mmio_count);

	kmmu_ss_barrier();
	*val = *(volatile uint64_t *)gva;
	kmmu_ss_barrier();
	return KMMU_SS_READ(me->mmio_count) != m1;
}

/*
 * Does access @a (s1 already read, should_exit set), classifies it and
 * checks what holds whether or not it exited.  Returns true if it exited
 * (counted, all checked); false if it reached memory: the caller judges a
 * stable access that should have exited (its own words), then calls
 * kmmu_ss_reached_memory().
 */
static inline bool kmmu_ss_access(struct kmmu_ss_vcpu *me, const uint64_t *state,
				  struct kmmu_ss_access *a)
{
	uint64_t m1, m2, gva = a->gva, i = a->i, s1 = a->s1, s2;

	m1 = KMMU_SS_READ(me->mmio_count);
	kmmu_ss_barrier();
	if (a->write)
		*(volatile uint64_t *)gva = a->want;
	else
		a->val = *(volatile uint64_t *)gva;
	kmmu_ss_barrier();
	m2 = KMMU_SS_READ(me->mmio_count);
	s2 = KMMU_SS_READ(state[i]);
	a->s2 = s2;
	a->stable = kmmu_ss_stable(s1, s2);
	if (a->stable)
		me->stable++;
	else
		me->racy++;
	if (m2 == m1)
		return false;

	if (m2 - m1 != 1)
		GUEST_FAIL("one access to gpa %#lx slot %lu (state %#lx..%#lx) caused %lu MMIO exits",
			   gva, i, s1, s2, m2 - m1);
	if (KMMU_SS_READ(me->mmio_last_gpa) != gva)
		GUEST_FAIL("access to gpa %#lx slot %lu (state %#lx..%#lx) exited at gpa %#lx",
			   gva, i, s1, s2, KMMU_SS_READ(me->mmio_last_gpa));
	if (a->stable && !a->should_exit) {
		if (a->write)
			GUEST_FAIL("store to present slot exited as MMIO: gpa %#lx slot %lu state %#lx..%#lx",
				   gva, i, s1, s2);
		GUEST_FAIL("load from present slot exited as MMIO: gpa %#lx slot %lu state %#lx..%#lx",
			   gva, i, s1, s2);
	}
	if (!a->write && a->val != KMMU_SS_POISON)
		GUEST_FAIL("MMIO load of gpa %#lx slot %lu (state %#lx..%#lx) returned %#lx, not the host's poison",
			   gva, i, s1, s2, a->val);
	if (a->write)
		me->mmio_writes++;
	else
		me->mmio_reads++;
	return true;
}

/* Access @a reached memory: a store counts in @exp, a load must match it. */
static inline void kmmu_ss_reached_memory(struct kmmu_ss_vcpu *me, uint32_t *exp,
					  const struct kmmu_ss_access *a)
{
	if (a->write) {
		(*exp)++;
		me->writes++;
		return;
	}
	if (a->val != a->want)
		GUEST_FAIL("load of gpa %#lx slot %lu (state %#lx..%#lx) returned %#lx, expected %#lx",
			   a->gva, a->i, a->s1, a->s2, a->val, a->want);
	me->reads++;
}

/* ---- host ---- */

struct kmmu_vcpu;
struct kmmu_ucall_msg;

#define KMMU_SS_HIST	4	/* operations kept per slot for failure reports */

struct kmmu_ss_op {
	uint8_t kind;		/* the test's */
	uint64_t before, after;	/* state words: odd seq published, final */
	uint64_t gseq;
	int64_t arg;		/* the test's: ioctl result, swap count... */
	double t;		/* seconds since t0 */
};

struct kmmu_ss_hist {
	unsigned int n;
	struct kmmu_ss_op ops[KMMU_SS_HIST];
};

/*
 * The host's side of the state words: the publisher (one thread) and the
 * vCPU threads' checks serialize on @lock.  The test sets @state (in the
 * shared region), @t0 and how its reports name things.
 */
struct kmmu_ss_host {
	uint64_t *state;
	uint64_t nr;
	uint64_t *last_change;	/* gseq of the slot's last completed ioctl */
	struct kmmu_ss_hist *hist;
	pthread_mutex_t lock;
	_Atomic uint64_t gseq;
	uint64_t run_gseq[KMMU_MAX_VCPUS];	/* gseq before each vCPU's KVM_RUN */
	struct timespec t0;
	const char *const *op_names;		/* indexed by kind */
	int (*state_text)(uint64_t s, char *buf, size_t len);
	/* Appends what the test knows of @op to its history entry. */
	int (*op_text)(const struct kmmu_ss_op *op, char *buf, size_t len);
};

/* 0 or -ENOMEM; kmmu_ss_host_free() undoes it (also a failed one). */
int kmmu_ss_host_init(struct kmmu_ss_host *h, uint64_t nr);
void kmmu_ss_host_free(struct kmmu_ss_host *h);

double kmmu_ss_now(const struct timespec *t0);

/* The vCPU thread's pre_run: the snapshot the host-side check compares with. */
void kmmu_ss_pre_run(struct kmmu_ss_host *h, int vcpu);

/*
 * Publishes the odd seq of an ioctl on slot @i (old flags | @extra, e.g.
 * KMMU_SS_FLAGS_ONLY) and returns that word; the previous one in *@old.
 */
uint64_t kmmu_ss_begin(struct kmmu_ss_host *h, uint64_t i, uint64_t extra, uint64_t *old);

/* Publishes the end of that ioctl with @flags and records it; returns the word. */
uint64_t kmmu_ss_end(struct kmmu_ss_host *h, uint64_t i, uint64_t before, uint64_t flags,
		     uint8_t kind, int64_t arg);

/* A flags change without an ioctl: seq + 2, recorded; last_change stays. */
void kmmu_ss_set(struct kmmu_ss_host *h, uint64_t i, uint64_t flags, uint8_t kind,
		 int64_t arg);

/*
 * Slot @i's recent operations; those whose odd seq lies in [lo, hi] are
 * marked RACED.  The caller holds @lock.
 */
void kmmu_ss_history(struct kmmu_ss_host *h, uint64_t i, uint64_t lo, uint64_t hi,
		     char *buf, size_t len);

/*
 * The host-side check of an MMIO exit at place @at of slot @i (see
 * kmmu_ss_exit_wrong()): true if it was wrong, with the state, its
 * last_change and the slot's history for the report.
 */
bool kmmu_ss_check_exit(struct kmmu_ss_host *h, int vcpu, uint64_t i, uint64_t at,
			bool is_write, uint64_t ro, uint64_t *s, uint64_t *lc,
			char *hist, size_t len);

/*
 * The vCPU failure context of a guest FAIL from these helpers (args gpa,
 * slot, s1, s2): both states, @more, then the slot's history.
 */
void kmmu_ss_fail_context(struct kmmu_ss_host *h, const struct kmmu_ucall_msg *m,
			  const char *more, char *buf, size_t len);

/*
 * Which slot and place an MMIO exit at @gpa hit, the places being
 * @size bytes at @home and at @alt: KMMU_SS_HOME or KMMU_SS_ALT with the
 * slot in *@i, KMMU_SS_ABSENT if neither.
 */
uint64_t kmmu_ss_place(uint64_t gpa, uint64_t home, uint64_t alt, uint64_t size,
		       uint64_t *i);

/*
 * An MMIO exit must be this vCPU's 8-byte word of slot @i: false (after
 * kmmu_vcpu_fail()) if it is not.
 */
bool kmmu_ss_own_word(struct kmmu_vcpu *vcpu, uint64_t gpa, uint32_t len, bool is_write,
		      uint64_t i);

/*
 * The host-side check: true if an exit at place @at was wrong, the slot
 * having been there since @last_change <= @run_gseq (the vCPU's gseq
 * snapshot before KVM_RUN) with state @s (stable, or only a flags-only
 * change running) and, for a store, without flag @ro.
 */
bool kmmu_ss_exit_wrong(uint64_t s, uint64_t last_change, uint64_t run_gseq, uint64_t at,
			bool is_write, uint64_t ro);

/* Completes an exit that was right: POISON for a load, then tells the guest. */
void kmmu_ss_exit_done(struct kmmu_ss_vcpu *ss, uint64_t gpa, uint8_t *data, bool is_write);

/* Adds what the guest counted in @v to @sum: the run's totals over its vCPUs. */
void kmmu_ss_vcpu_add(struct kmmu_ss_vcpu *sum, const struct kmmu_ss_vcpu *v);

#endif
