/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A gate between the host's main thread and the vCPU threads, for
 * benchmarks whose guests run phases the host orchestrates.
 *
 * The guest ends a phase with GUEST_SYNC(); the test's sync handler (on the
 * vCPU thread) calls kmmu_gate_arrive(), which blocks until the host opens
 * the gate and returns the host's command, which the handler returns to
 * the guest as GUEST_SYNC()'s value.  The main thread waits with
 * kmmu_gate_wait() until all vCPUs are parked at the gate, does what must
 * not race with the guest (memslot setup, reading counters), then
 * kmmu_gate_open().
 *
 * Why block instead of spinning on shared memory like upstream's
 * memslot_perf_test: where KVM runs nested or on few CPUs (the project's
 * VM has one), a spinning waiter steals the CPU from the thread it waits
 * for.  A parked vCPU thread sleeps in userspace.
 */
#ifndef KMMU_GATE_H
#define KMMU_GATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kmmu/kvm_vm.h"

struct kmmu_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t arrived;	/* kmmu_gate_arrive() calls so far */
	uint64_t gen;		/* kmmu_gate_open() calls so far */
	uint64_t cmd;		/* the command of the latest open */
	bool final;		/* kmmu_gate_finish(): nobody waits any more */
};

void kmmu_gate_init(struct kmmu_gate *g);
void kmmu_gate_destroy(struct kmmu_gate *g);

/* vCPU side: counts the arrival, blocks until the next open, returns its command. */
uint64_t kmmu_gate_arrive(struct kmmu_gate *g);

/*
 * Host side: waits until @total arrivals have happened since init (so a
 * caller with n vCPUs waits for n, 2n, ...).  0; -EIO as soon as @vm (may
 * be NULL) has a failed vCPU; -ETIMEDOUT after @timeout_s.
 */
int kmmu_gate_wait(struct kmmu_gate *g, uint64_t total, struct kmmu_vm *vm,
		   double timeout_s);

/* Host side: releases every vCPU parked at the gate with @cmd. */
void kmmu_gate_open(struct kmmu_gate *g, uint64_t cmd);

/*
 * Host side, before tearing the VM down (also after a failure, when vCPUs
 * may be anywhere): releases every vCPU parked at the gate with @cmd, and
 * every later arrival returns @cmd at once.  A vCPU that reaches the gate
 * after a last kmmu_gate_open() would otherwise wait for ever, and the
 * teardown's join with it.
 */
void kmmu_gate_finish(struct kmmu_gate *g, uint64_t cmd);

#endif
