// SPDX-License-Identifier: GPL-2.0
/*
 * mmio_invalidation_test's two phases: the flip phase (random memslot
 * ioctls on the cells while the vCPUs read) and the wrap phase (the
 * generation driven around, sleepers primed before and woken after).
 * Returns 0 or -errno with the reason: the verdicts are
 * mmio_invalidation_test.c's.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "kmmu/sort.h"
#include "mmio_invalidation.h"

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
 * One pause of a host wait on the vCPUs' shared counters: -EIO once the
 * VM failed, -ETIMEDOUT @timeout seconds after @t0, else 0 after 200 us.
 */
static int mi_poll_pause(struct kmmu_vm *vm, const struct timespec *t0, double timeout)
{
	if (kmmu_vm_failed(vm))
		return -EIO;
	if (kmmu_ss_now(t0) > timeout)
		return -ETIMEDOUT;
	usleep(200);
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
			int r = mi_poll_pause(vm, &t0, timeout);

			if (r)
				return r;
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
			int r = mi_poll_pause(vm, &t0, timeout);

			if (r)
				return r;
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
int mi_flip(struct kmmu_vm *vm, struct mi_ctx *c, char *err, size_t len)
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
	uint64_t step;		/* first: the key kmmu_cmp_u64_key() sorts by */
	uint64_t cell;
};

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
int mi_wrap(struct kmmu_vm *vm, struct mi_ctx *c, uint64_t *rng, char *err,
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
	qsort(sched, nr_sched, sizeof(*sched), kmmu_cmp_u64_key);

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
