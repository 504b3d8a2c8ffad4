// SPDX-License-Identifier: GPL-2.0
/*
 * A test's stoppable host thread: it runs until stopped, stop joins it
 * (once: a second stop, or a stop of a thread never started, does nothing).
 */
#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/host_thread.h"

struct host_thread_test {
	struct kmmu_host_thread t;
	_Atomic long loops;
	_Atomic bool returned;
};

static void *host_thread_test_loop(void *arg)
{
	struct host_thread_test *h = arg;

	while (!kmmu_host_thread_stopping(&h->t)) {
		atomic_fetch_add(&h->loops, 1);
		usleep(100);
	}
	atomic_store(&h->returned, true);
	return NULL;
}

TEST(runs_until_stopped)
{
	struct host_thread_test h = { 0 };

	kmmu_host_thread_stop(&h.t);		/* never started: nothing to join */
	ASSERT_EQ(0, kmmu_host_thread_start(&h.t, host_thread_test_loop, &h));
	ASSERT_TRUE(h.t.running);
	while (atomic_load(&h.loops) < 3)
		usleep(100);
	ASSERT_FALSE(atomic_load(&h.returned));
	kmmu_host_thread_stop(&h.t);
	/* Joined: the thread has left its loop. */
	ASSERT_TRUE(atomic_load(&h.returned));
	ASSERT_FALSE(h.t.running);
	kmmu_host_thread_stop(&h.t);		/* the teardown's second stop */
	ASSERT_FALSE(h.t.running);
}

TEST(restarts_after_a_stop)
{
	struct host_thread_test h = { 0 };

	ASSERT_EQ(0, kmmu_host_thread_start(&h.t, host_thread_test_loop, &h));
	kmmu_host_thread_stop(&h.t);
	atomic_store(&h.returned, false);
	ASSERT_EQ(0, kmmu_host_thread_start(&h.t, host_thread_test_loop, &h));
	ASSERT_FALSE(kmmu_host_thread_stopping(&h.t));
	kmmu_host_thread_stop(&h.t);
	ASSERT_TRUE(atomic_load(&h.returned));
}

TEST_HARNESS_MAIN
