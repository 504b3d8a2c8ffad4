/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A host thread a test runs beside its vCPUs (a memslot churner, an
 * unmapper of guest memory) until it is told to stop.  The thread's loop
 * polls kmmu_host_thread_stopping(); kmmu_host_thread_stop() asks it to
 * end and joins it, and does nothing for a thread that is not running, so
 * the test's own path and its teardown may both call it.
 */
#ifndef KMMU_HOST_THREAD_H
#define KMMU_HOST_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct kmmu_host_thread {
	pthread_t thread;
	bool running;
	_Atomic bool stop;
};

/* Runs @fn(@arg) in a new thread; 0 or -errno (then not running). */
int kmmu_host_thread_start(struct kmmu_host_thread *t, void *(*fn)(void *), void *arg);

/* In the thread's loop: whether it was asked to end. */
static inline bool kmmu_host_thread_stopping(struct kmmu_host_thread *t)
{
	return atomic_load(&t->stop);
}

/* Asks the thread to end and joins it; a no-op if it is not running. */
void kmmu_host_thread_stop(struct kmmu_host_thread *t);

#endif
