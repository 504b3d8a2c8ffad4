// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu/timed_wait.h: deadlines carry nanoseconds into seconds and land
 * where pthread_cond_timedwait() expects them.
 */
#include <errno.h>
#include <pthread.h>

#include "kselftest_harness.h"
#include "kmmu/timed_wait.h"

TEST(add_whole_and_fraction)
{
	struct timespec ts = { .tv_sec = 10, .tv_nsec = 0 };

	kmmu_timespec_add(&ts, 2.25);
	EXPECT_EQ(12, ts.tv_sec);
	EXPECT_EQ(250000000, ts.tv_nsec);
}

TEST(add_carries_into_seconds)
{
	struct timespec ts = { .tv_sec = 1, .tv_nsec = 990000000 };

	kmmu_timespec_add(&ts, 0.02);
	EXPECT_EQ(2, ts.tv_sec);
	EXPECT_EQ(10000000, ts.tv_nsec);
}

TEST(deadline_times_out_a_wait)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	struct timespec end, now;
	int r;

	kmmu_deadline(&end, 0.05);
	pthread_mutex_lock(&lock);
	do
		r = pthread_cond_timedwait(&cond, &lock, &end);
	while (!r);
	pthread_mutex_unlock(&lock);
	ASSERT_EQ(ETIMEDOUT, r);
	clock_gettime(CLOCK_REALTIME, &now);
	EXPECT_TRUE(now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec));
}

TEST_HARNESS_MAIN
