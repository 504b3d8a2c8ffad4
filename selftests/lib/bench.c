// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark helpers: common options, percentiles, metrics with a noise
 * verdict (see kmmu/bench.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kmmu/bench.h"
#include "kmmu/opts.h"

void kmmu_bench_init(struct kmmu_bench *b)
{
	memset(b, 0, sizeof(*b));
	b->samples = KMMU_BENCH_SAMPLES_DEFAULT;
	b->cv_threshold = KMMU_BENCH_CV_DEFAULT;
}

int kmmu_bench_option(struct kmmu_bench *b, const char *name, const char *arg,
		      char *why, size_t len)
{
	uint64_t u;
	double d;

	if (!strcmp(name, "samples")) {
		if (kmmu_parse_u64(arg, 1, KMMU_BENCH_SAMPLES_MAX, &u)) {
			snprintf(why, len, "--samples wants a count from 1 to %d",
				 KMMU_BENCH_SAMPLES_MAX);
			return -EINVAL;
		}
		b->samples = u;
		return 1;
	}
	if (!strcmp(name, "cv-threshold")) {
		if (kmmu_parse_seconds(arg, 0, 1000, &d)) {
			snprintf(why, len, "--cv-threshold wants a percentage from 0 to 1000");
			return -EINVAL;
		}
		b->cv_threshold = d;
		return 1;
	}
	return 0;
}

static int kmmu_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double kmmu_percentile(const double *v, int n, double p)
{
	double *s, r;
	long rank;

	if (n <= 0 || !(p >= 0 && p <= 100))
		return NAN;
	s = malloc(n * sizeof(*s));
	if (!s)
		return NAN;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), kmmu_cmp_double);
	/* Nearest rank: ceil(p/100 * n), at least the first value. */
	rank = (long)ceil(p / 100.0 * n - 1e-9);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	r = s[rank - 1];
	free(s);
	return r;
}

double kmmu_bench_metric(struct kmmu_bench *b, const char *label, const char *name,
			 const char *unit, enum kmmu_direction dir,
			 const double *samples, int n)
{
	double cv = 100 * kmmu_cv(samples, n);

	if (b->res && kmmu_result_metric(b->res, name, unit, dir, samples, n))
		printf("# could not record metric %s (out of memory?)\n", name);
	b->nr_metrics++;
	if (cv > b->cv_threshold) {
		size_t off = strlen(b->noisy);

		printf("# WARNING: noisy: %s %s cv %.1f%% > %.1f%% (%d samples)\n",
		       label, name, cv, b->cv_threshold, n);
		b->nr_noisy++;
		if (off < sizeof(b->noisy) - 1)
			snprintf(b->noisy + off, sizeof(b->noisy) - off, "%s%s %s",
				 off ? ", " : "", label, name);
	}
	return cv;
}

void kmmu_bench_summary(const struct kmmu_bench *b)
{
	if (b->nr_noisy)
		printf("# noise: %d of %d metrics above cv %.1f%%: %s\n", b->nr_noisy,
		       b->nr_metrics, b->cv_threshold, b->noisy);
	else
		printf("# noise: all %d metrics within cv %.1f%%\n", b->nr_metrics,
		       b->cv_threshold);
}

double kmmu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}
