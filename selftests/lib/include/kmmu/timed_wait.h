/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Absolute CLOCK_REALTIME times for pthread_cond_timedwait() and
 * pthread_timedjoin_np(), which take a deadline, not a timeout: the VM's
 * wait for its vCPUs, the join that kicks a vCPU out of KVM_RUN, and the
 * gate's wait for the guests to arrive.
 */
#ifndef KMMU_TIMED_WAIT_H
#define KMMU_TIMED_WAIT_H

#include <time.h>

/* @ts plus @seconds (at least 0), normalised. */
static inline void kmmu_timespec_add(struct timespec *ts, double seconds)
{
	ts->tv_sec += (time_t)seconds;
	ts->tv_nsec += (long)((seconds - (time_t)seconds) * 1e9);
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* The CLOCK_REALTIME time @seconds from now. */
static inline void kmmu_deadline(struct timespec *ts, double seconds)
{
	clock_gettime(CLOCK_REALTIME, ts);
	kmmu_timespec_add(ts, seconds);
}

#endif /* KMMU_TIMED_WAIT_H */
