// SPDX-License-Identifier: GPL-2.0
/*
 * A test's stoppable host thread (see kmmu/host_thread.h).
 */
#include "kmmu/host_thread.h"

int kmmu_host_thread_start(struct kmmu_host_thread *t, void *(*fn)(void *), void *arg)
{
	int r;

	atomic_store(&t->stop, false);
	r = pthread_create(&t->thread, NULL, fn, arg);
	if (r)
		return -r;
	t->running = true;
	return 0;
}

void kmmu_host_thread_stop(struct kmmu_host_thread *t)
{
	if (!t->running)
		return;
	atomic_store(&t->stop, true);
	pthread_join(t->thread, NULL);
	t->running = false;
}
