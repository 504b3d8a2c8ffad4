// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_log_test's run: the guest's writers, the vCPU threads' handlers,
 * the slot changes between harvests (logging on and off, DELETE and
 * re-CREATE), and one iteration of harvest, change and verify.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "dirty_log.h"

/* ---- guest ---- */

static inline uint64_t dl_page_gva(uint64_t p)
{
	if (p < dl_slot_pages[DL_A])
		return DL_GPA + (dl_slot_off[DL_A] + p) * DL_PAGE;
	return DL_GPA + (dl_slot_off[DL_B] + p - dl_slot_pages[DL_A]) * DL_PAGE;
}

static void dl_guest_write(struct dl_shared *sh, volatile uint64_t *exp,
			   struct dl_vcpu_shared *me, uint32_t v, uint64_t p, uint64_t *seq)
{
	volatile uint64_t *w = (volatile uint64_t *)(dl_page_gva(p) + 64 * v);
	uint64_t cur = *w, val;

	if (cur != exp[p])
		GUEST_FAIL("data page %lu (gpa %#lx): vcpu %lu's word holds %#lx, it last wrote %#lx",
			   p, (uint64_t)w, (uint64_t)v, cur, exp[p]);
	val = DL_VAL(*(volatile uint64_t *)&sh->gen, v, *seq);
	*w = val;
	exp[p] = val;
	(*seq)++;
	/* Release: the page's store is visible before the count says so. */
	__atomic_store_n(&me->progress, *seq, __ATOMIC_RELEASE);
}

static void dl_guest_ro_read(uint32_t v, uint64_t p)
{
	volatile uint64_t *w = (volatile uint64_t *)(DL_GPA + (dl_slot_off[DL_RO] + p) * DL_PAGE +
						     64 * v);
	uint64_t val = *w;

	if (val != DL_RO_VAL(p))
		GUEST_FAIL("read-only page %lu (gpa %#lx) holds %#lx, not its pattern %#lx",
			   p, (uint64_t)w, val, DL_RO_VAL(p));
}

/* Whether data page @p is in the window of DL_WINDOW pages from @first (wrapping). */
static inline bool dl_window_has(uint64_t first, uint64_t p)
{
	return (p + DL_DATA_PAGES - first) % DL_DATA_PAGES < DL_WINDOW;
}

static bool dl_guest_avail(struct dl_shared *sh, uint64_t p)
{
	return *(volatile uint64_t *)&sh->avail[p < dl_slot_pages[DL_A] ? DL_A : DL_B];
}

void dl_guest(uint32_t v, void *arg)
{
	struct dl_shared *sh = arg;
	volatile uint64_t *exp = (volatile uint64_t *)sh->exp_gva + (uint64_t)v * DL_DATA_PAGES;
	struct dl_vcpu_shared *me = &sh->vcpu[v];
	uint64_t rng = sh->seed ^ (0x9e3779b97f4a7c15ULL * (v + 1)), seq = 1, cmd, p, r;

	if (!rng)
		rng = 1;
	for (;;) {
		cmd = GUEST_SYNC(0);
		if (cmd == DL_CMD_QUIT)
			return;
		if (cmd == DL_CMD_SWEEP) {
			/*
			 * Every page once, the vCPUs taking turns: KVM maps all
			 * of it (2M where it can) without two vCPUs faulting on
			 * the same page at the same time.
			 */
			for (p = v; p < DL_DATA_PAGES; p += sh->nr_vcpus)
				if (dl_guest_avail(sh, p))
					dl_guest_write(sh, exp, me, v, p, &seq);
			for (p = v; p < dl_slot_pages[DL_RO]; p += sh->nr_vcpus)
				dl_guest_ro_read(v, p);
			continue;
		}
		while (!*(volatile uint64_t *)&sh->park) {
			r = dl_rand(&rng);
			if ((r & 7) == 0) {
				dl_guest_ro_read(v, (r >> 8) % dl_slot_pages[DL_RO]);
				me->ro_reads++;
				continue;
			}
			if (r & 8)
				p = (*(volatile uint64_t *)&sh->window + (r >> 8) % DL_WINDOW) %
				    DL_DATA_PAGES;
			else
				p = (r >> 8) % DL_DATA_PAGES;
			if (dl_window_has(*(volatile uint64_t *)&sh->cold, p))
				continue;
			if (dl_guest_avail(sh, p))
				dl_guest_write(sh, exp, me, v, p, &seq);
		}
	}
}

/* ---- vCPU threads ---- */

uint64_t dl_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct dl_ctx *c = ctx;

	return kmmu_gate_arrive(&c->gate);
}

int dl_exit(struct kmmu_vcpu *vcpu, uint32_t reason, void *ctx)
{
	struct dl_ctx *c = ctx;
	char err[512];
	int r;

	if (reason != KVM_EXIT_DIRTY_RING_FULL)
		return -1;
	if (c->mode != DL_RING) {
		kmmu_vcpu_fail(vcpu, "KVM_EXIT_DIRTY_RING_FULL from a VM without a dirty ring");
		return 0;
	}
	/* KVM keeps the vCPU out of the guest until its ring is reset. */
	pthread_mutex_lock(&c->ring_lock);
	c->ring_full_exits++;
	r = dl_ring_collect_locked(c, err, sizeof(err));
	pthread_mutex_unlock(&c->ring_lock);
	if (r) {
		kmmu_vcpu_fail(vcpu, "at KVM_EXIT_DIRTY_RING_FULL: %s", err);
		return 0;
	}
	return 1;
}

/* One vCPU per host CPU, so that vCPUs really run (and race) in parallel. */
void dl_pre_run(struct kmmu_vcpu *vcpu, void *ctx)
{
	static __thread bool pinned;
	struct dl_ctx *c = ctx;
	cpu_set_t set;

	if (pinned || c->ncpus < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(kmmu_vcpu_id(vcpu) % c->ncpus, &set);
	sched_setaffinity(0, sizeof(set), &set);
	pinned = true;
}

/* ---- slot changes ---- */

static void dl_ring_lock(struct dl_ctx *c)
{
	if (c->mode == DL_RING)
		pthread_mutex_lock(&c->ring_lock);
}

static void dl_ring_unlock(struct dl_ctx *c)
{
	if (c->mode == DL_RING)
		pthread_mutex_unlock(&c->ring_lock);
}

/* Publishes the next generation: the guest's writes carry it from now on. */
int dl_next_gen(struct dl_ctx *c)
{
	if (c->gen >= DL_GEN_MAX)
		return dl_fail(c, "out of generations (%llu)", (unsigned long long)DL_GEN_MAX);
	c->gen++;
	__atomic_store_n(&c->sh->gen, c->gen, __ATOMIC_RELEASE);
	return 0;
}

/* Logging on from the next generation: what is owed, extra or sticky starts over. */
static void dl_logging_started(struct dl_ctx *c, struct dl_slot *s, uint64_t from)
{
	s->logging = true;
	s->tracked_from = from;
	s->fresh = true;
	s->on_since = c->iter;
	s->all_due = c->mode == DL_CLEAR_INIT;
	memset(s->ps, 0, s->npages);
	memset(s->ps_next, 0, s->npages);
	memset(s->bm, 0, kmmu_dirty_bitmap_words(s->npages) * 8);
}

/*
 * KVM_MEM_LOG_DIRTY_PAGES on or off by a flags-only update, while the
 * vCPUs run (or not).  Writes the guest starts after the update returned
 * carry a later generation than the one current during it: from that one
 * on, every write must be reported.
 */
int dl_set_logging(struct dl_ctx *c, int i, bool on)
{
	struct dl_slot *s = &c->slot[i];
	int r;

	dl_ring_lock(c);
	r = kmmu_slot_set_flags(c->vm, s->id, on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
	if (!r && !on)
		s->logging = false;
	else if (!r)
		dl_logging_started(c, s, c->gen + 1);
	dl_ring_unlock(c);
	if (r)
		return dl_fail(c, "switching logging %s on slot %s (flags only): %s", on ? "on" : "off",
			       dl_slot_names[i], strerror(-r));
	if (on) {
		c->toggles_on++;
		return dl_next_gen(c);
	}
	c->toggles_off++;
	return 0;
}

/* Parked: the guest leaves the slot alone until it is back. */
static int dl_delete(struct dl_ctx *c, int i)
{
	struct dl_slot *s = &c->slot[i];
	uint64_t bm[kmmu_dirty_bitmap_words(DL_MEM_PAGES)];
	int r, k;

	dl_ring_lock(c);
	r = kmmu_slot_delete(c->vm, s->id);
	if (!r) {
		s->present = false;
		s->logging = false;
		/* Deleting zaps every SPTE of the VM (fast zap): all refault. */
		for (k = 0; k < DL_NR_SLOTS; k++) {
			c->slot[k].fresh = true;
			c->slot[k].zapped_at = c->iter;
		}
	}
	dl_ring_unlock(c);
	if (r)
		return dl_fail(c, "deleting slot %s: %s", dl_slot_names[i], strerror(-r));
	c->sh->avail[i] = 0;
	c->deletes++;
	r = kmmu_vm_get_dirty_log(c->vm, s->id, bm);
	if (c->mode != DL_RING && r != -ENOENT)
		return dl_fail(c, "KVM_GET_DIRTY_LOG of deleted slot %s returned %s, not ENOENT",
			       dl_slot_names[i], r ? strerror(-r) : "success");
	return 0;
}

/* Parked: the slot comes back where it was, with logging on. */
int dl_create(struct dl_ctx *c, int i, uint32_t flags)
{
	struct dl_slot *s = &c->slot[i];
	int r;

	dl_ring_lock(c);
	r = __kmmu_slot_add(c->vm, s->id, dl_gpa(s, 0), s->npages * DL_PAGE,
			    c->mem + s->off * DL_PAGE, flags);
	if (!r) {
		s->present = true;
		s->logging = false;
		if (flags & KVM_MEM_LOG_DIRTY_PAGES)
			dl_logging_started(c, s, c->gen + 1);
	}
	dl_ring_unlock(c);
	if (r)
		return dl_fail(c, "creating slot %s: %s", dl_slot_names[i], strerror(-r));
	if (i < DL_NR_DATA_SLOTS)
		c->sh->avail[i] = 1;
	c->creates++;
	return 0;
}

/* ---- phases ---- */

static int dl_park(struct dl_ctx *c)
{
	int r;

	__atomic_store_n(&c->sh->park, 1, __ATOMIC_RELEASE);
	c->arrivals += c->nr_vcpus;
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r)
		return dl_fail(c, "vCPUs did not park: %s",
			       r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return 0;
}

void dl_resume(struct dl_ctx *c, enum dl_cmd cmd)
{
	__atomic_store_n(&c->sh->park, 0, __ATOMIC_RELEASE);
	kmmu_gate_open(&c->gate, cmd);
}

static void dl_note_progress(struct dl_ctx *c)
{
	int v;

	for (v = 0; v < c->nr_vcpus; v++)
		c->progress[v] = __atomic_load_n(&c->sh->vcpu[v].progress, __ATOMIC_ACQUIRE);
}

/* While the vCPUs write: switch logging of one slot, on a fixed rhythm plus chance. */
static int dl_running_action(struct dl_ctx *c)
{
	uint64_t r = dl_rand(&c->rng);
	int i, phase = c->iter % 8;

	if (c->iter == 0) {
		for (i = 0; i < DL_NR_SLOTS; i++)
			if (dl_set_logging(c, i, true))
				return -1;
		return 0;
	}
	if (phase == 3 || (phase != 2 && (r & 3) == 0)) {
		/* Everything that is off comes back on. */
		for (i = 0; i < DL_NR_SLOTS; i++)
			if (c->slot[i].present && !c->slot[i].logging && dl_set_logging(c, i, true))
				return -1;
		return 0;
	}
	if (phase == 2 || (r & 7) == 1) {
		i = (r >> 8) % DL_NR_SLOTS;
		if (c->slot[i].present && c->slot[i].logging)
			return dl_set_logging(c, i, false);
	}
	return 0;
}

/* Parked: delete a data slot or bring a deleted one back. */
static int dl_parked_action(struct dl_ctx *c)
{
	uint64_t r = dl_rand(&c->rng);
	int i, phase = c->iter % 8;

	if (phase == 5) {
		i = (r >> 8) % DL_NR_DATA_SLOTS;
		return c->slot[i].present ? dl_delete(c, i) : 0;
	}
	if (phase == 6)
		for (i = 0; i < DL_NR_DATA_SLOTS; i++)
			if (!c->slot[i].present && dl_create(c, i, KVM_MEM_LOG_DIRTY_PAGES))
				return -1;
	return 0;
}

static void dl_sleep_interval(struct dl_ctx *c)
{
	double ms = dl_opts.interval_ms * (0.5 + (dl_rand(&c->rng) % 1001) / 1000.0);

	kmmu_sleep_ms((long)(ms + 0.5));
}

/*
 * One round.  @final: park before noting progress, so that the harvest
 * sees the vCPUs stopped and every change is checked strictly.
 */
int dl_iteration(struct dl_ctx *c, bool final)
{
	uint64_t w;

	if (dl_next_gen(c))
		return -1;
	/*
	 * The last round's hot window is left alone this round: its pages
	 * were written right up to the harvest and maybe on after it, through
	 * whatever the vCPUs' TLBs still held, and a write that KVM did not
	 * log then (a missing TLB flush after write-protecting) must show as
	 * a page owed to this harvest, not be hidden by a new write that
	 * faults and is logged.
	 */
	do {
		w = dl_rand(&c->rng) % DL_DATA_PAGES;
	} while (dl_window_has(c->sh->window, w) || dl_window_has(w, c->sh->window));
	c->sh->cold = c->sh->window;
	c->sh->window = w;
	dl_resume(c, DL_CMD_RUN);
	if (!final && dl_running_action(c))
		return -1;
	dl_sleep_interval(c);
	c->quiesced = final;
	if (final && dl_park(c))
		return -1;
	dl_note_progress(c);
	if (dl_harvest(c))
		return -1;
	/*
	 * The vCPUs write on for a while after the harvest: pages KVM has
	 * just write-protected, in the window it will leave alone next round,
	 * are owed to the next harvest.
	 */
	if (!final)
		kmmu_sleep_ms((long)(dl_opts.interval_ms / 2 + 0.5));
	if (!final && dl_park(c))
		return -1;
	if (dl_verify(c))
		return -1;
	if (c->iter == 0)
		c->pages_2m_logging = dl_vm_stat(c, "pages_2m");
	return final ? 0 : dl_parked_action(c);
}
