// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark helpers: option handling, percentiles, the noise verdict.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kmmu/bench.h"

TEST(options)
{
	struct kmmu_bench b;
	char why[128];

	kmmu_bench_init(&b);
	ASSERT_EQ(KMMU_BENCH_SAMPLES_DEFAULT, b.samples);
	ASSERT_EQ(1, kmmu_bench_option(&b, "samples", "7", why, sizeof(why)));
	ASSERT_EQ(7, b.samples);
	ASSERT_EQ(-EINVAL, kmmu_bench_option(&b, "samples", "0", why, sizeof(why)));
	ASSERT_NE(NULL, strstr(why, "--samples"));
	ASSERT_EQ(-EINVAL, kmmu_bench_option(&b, "samples", "3x", why, sizeof(why)));
	ASSERT_EQ(7, b.samples);
	ASSERT_EQ(1, kmmu_bench_option(&b, "cv-threshold", "2.5", why, sizeof(why)));
	ASSERT_EQ(2.5, b.cv_threshold);
	ASSERT_EQ(-EINVAL, kmmu_bench_option(&b, "cv-threshold", "-1", why, sizeof(why)));
	ASSERT_EQ(0, kmmu_bench_option(&b, "slots", "10", why, sizeof(why)));
}

TEST(percentile)
{
	double v[100], one = 4;
	int i;

	/* 100..1 reversed: the helper must sort a copy, not the input. */
	for (i = 0; i < 100; i++)
		v[i] = 100 - i;
	ASSERT_EQ(99, kmmu_percentile(v, 100, 99));
	ASSERT_EQ(50, kmmu_percentile(v, 100, 50));
	ASSERT_EQ(1, kmmu_percentile(v, 100, 0));
	ASSERT_EQ(100, kmmu_percentile(v, 100, 100));
	ASSERT_EQ(100, v[0]);
	ASSERT_EQ(3, kmmu_percentile((double[]){ 5, 1, 3 }, 3, 50));
	ASSERT_EQ(5, kmmu_percentile((double[]){ 5, 1, 3 }, 3, 99));
	ASSERT_EQ(4, kmmu_percentile(&one, 1, 99));
	ASSERT_TRUE(isnan(kmmu_percentile(v, 0, 50)));
	ASSERT_TRUE(isnan(kmmu_percentile(v, 100, 101)));
}

TEST(noise_verdict)
{
	struct kmmu_bench b;
	double steady[] = { 100, 101, 99, 100, 100 };
	double noisy[] = { 100, 150, 60, 100, 130 };

	kmmu_bench_init(&b);
	b.res = kmmu_result_new("bench_test");
	ASSERT_NE(NULL, b.res);
	ASSERT_LT(kmmu_bench_metric(&b, "cfg=a", "steady", "ns", KMMU_LOWER_IS_BETTER,
				    steady, 5), 10.0);
	ASSERT_EQ(0, b.nr_noisy);
	ASSERT_GT(kmmu_bench_metric(&b, "cfg=b", "noisy", "ns", KMMU_LOWER_IS_BETTER,
				    noisy, 5), 10.0);
	ASSERT_EQ(1, b.nr_noisy);
	ASSERT_EQ(2, b.nr_metrics);
	ASSERT_NE(NULL, strstr(b.noisy, "cfg=b noisy"));
	/* One sample has no spread: never noisy. */
	ASSERT_EQ(0, kmmu_bench_metric(&b, "cfg=c", "single", "ns", KMMU_LOWER_IS_BETTER,
				       noisy, 1));
	ASSERT_EQ(1, b.nr_noisy);
	kmmu_result_free(b.res);
}

TEST_HARNESS_MAIN
