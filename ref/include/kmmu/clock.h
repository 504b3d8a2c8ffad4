/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The clock the benchmarks and the time-bounded tests measure with, in
 * every layer: CLOCK_MONOTONIC, which no settimeofday() or NTP step moves.
 */
#ifndef KMMU_CLOCK_H
#define KMMU_CLOCK_H

#include <time.h>

/* CLOCK_MONOTONIC in seconds. */
static inline double kmmu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

#endif /* KMMU_CLOCK_H */
