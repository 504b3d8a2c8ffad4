// SPDX-License-Identifier: GPL-2.0
/*
 * Host/vCPU-thread gate for phased benchmarks (see kmmu/gate.h).
 */
#include <errno.h>
#include <time.h>

#include "kmmu/gate.h"
#include "kmmu/timed_wait.h"

void kmmu_gate_init(struct kmmu_gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->arrived = g->gen = g->cmd = 0;
	g->final = false;
}

void kmmu_gate_destroy(struct kmmu_gate *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

uint64_t kmmu_gate_arrive(struct kmmu_gate *g)
{
	uint64_t gen, cmd;

	pthread_mutex_lock(&g->lock);
	gen = g->gen;
	g->arrived++;
	pthread_cond_broadcast(&g->cond);
	while (g->gen == gen && !g->final)
		pthread_cond_wait(&g->cond, &g->lock);
	cmd = g->cmd;
	pthread_mutex_unlock(&g->lock);
	return cmd;
}

int kmmu_gate_wait(struct kmmu_gate *g, uint64_t total, struct kmmu_vm *vm,
		   double timeout_s)
{
	struct timespec now, end;
	int r = 0;

	kmmu_deadline(&end, timeout_s);
	pthread_mutex_lock(&g->lock);
	while (g->arrived < total) {
		/* A failed vCPU never arrives: look every 100 ms. */
		if (vm && kmmu_vm_failed(vm)) {
			r = -EIO;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec)) {
			r = -ETIMEDOUT;
			break;
		}
		kmmu_timespec_add(&now, 0.1);
		pthread_cond_timedwait(&g->cond, &g->lock, &now);
	}
	pthread_mutex_unlock(&g->lock);
	return r;
}

void kmmu_gate_finish(struct kmmu_gate *g, uint64_t cmd)
{
	pthread_mutex_lock(&g->lock);
	g->final = true;
	g->cmd = cmd;
	g->gen++;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

void kmmu_gate_open(struct kmmu_gate *g, uint64_t cmd)
{
	pthread_mutex_lock(&g->lock);
	g->cmd = cmd;
	g->gen++;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}
