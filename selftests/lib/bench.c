// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark helpers: common options, percentiles, metrics with a noise
 * verdict (see kmmu/bench.h).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/bench.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/test_run.h"

void kmmu_bench_init(struct kmmu_bench *b)
{
	memset(b, 0, sizeof(*b));
	b->samples = KMMU_BENCH_SAMPLES_DEFAULT;
	b->cv_threshold = KMMU_BENCH_CV_DEFAULT;
}

void kmmu_bench_take(struct kmmu_bench *b, double *duration, uint64_t *vcpus,
		     int *nr_vcpus, int max)
{
	b->duration = duration;
	b->vcpus = vcpus;
	b->nr_vcpus = nr_vcpus;
	b->max_vcpus = max;
}

static int kmmu_bench_duration(const char *arg, double *out, char *why, size_t len)
{
	if (kmmu_parse_seconds(arg, 0.01, 3600, out)) {
		snprintf(why, len, "--duration wants seconds from 0.01 to 3600");
		return -EINVAL;
	}
	return 0;
}

/* Returns how many counts, or -EINVAL with @why. */
static int kmmu_bench_vcpus(const char *arg, uint64_t *out, int max, char *why, size_t len)
{
	int n = kmmu_parse_u64_list(arg, 1, KMMU_MAX_VCPUS, out, max);

	if (n < 0) {
		snprintf(why, len, "--vcpus wants up to %d comma-separated counts from 1 to %d",
			 max, KMMU_MAX_VCPUS);
		return -EINVAL;
	}
	return n;
}

int kmmu_bench_option(struct kmmu_bench *b, const char *name, const char *arg,
		      char *why, size_t len)
{
	int n;

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
	if (!strcmp(name, "duration") && b->duration) {
		if (kmmu_bench_duration(arg, &d, why, len))
			return -EINVAL;
		*b->duration = d;
		return 1;
	}
	if (!strcmp(name, "vcpus") && b->vcpus) {
		n = kmmu_bench_vcpus(arg, b->vcpus, b->max_vcpus, why, len);
		if (n < 0)
			return n;
		*b->nr_vcpus = n;
		return 1;
	}
	return 0;
}

double kmmu_percentile(const double *v, int n, double p)
{
	double *s, r;
	long rank;

	if (n <= 0 || !(p >= 0 && p <= 100))
		return NAN;
	s = kmmu_sorted_copy(v, n);
	if (!s)
		return NAN;
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

void kmmu_bench_begin(struct kmmu_bench *b, struct kmmu_test_run *run, const char *prog)
{
	kmmu_test_run_start(run, NULL);
	b->res = kmmu_result_new(prog);
}

int kmmu_bench_end(struct kmmu_test_run *run, char *report, size_t len)
{
	return kmmu_test_run_end(run, report, len);
}

int kmmu_bench_finish(struct kmmu_bench *b, struct kmmu_test_run *run,
		      const char *prog, bool passed)
{
	kmmu_bench_summary(b);
	if (!b->res)
		return 0;
	/* The test entry belongs to no configuration: no parameters. */
	kmmu_result_param_reset(b->res);
	run->res = b->res;
	b->res = NULL;
	return kmmu_test_run_finish(run, prog, passed, b->result_path);
}

void kmmu_bench_usage_error(const char *prog, const char *what)
{
	kmmu_usage_error(prog, "%s", what);
}

void kmmu_bench_take_result(struct kmmu_bench *b, const char *prog, int *argc, char **argv)
{
	if (kmmu_take_result_arg(argc, argv, &b->result_path))
		kmmu_bench_usage_error(prog, "--result needs a file name");
}

int kmmu_bench_getopt(struct kmmu_bench *b, const char *prog, int argc, char **argv,
		      const struct option *longopts)
{
	char why[256];
	int opt, idx;

	while ((opt = kmmu_getopt(prog, argc, argv, ":h", longopts, &idx)) == 0) {
		if (kmmu_bench_option(b, longopts[idx].name, optarg, why, sizeof(why)) < 0)
			kmmu_bench_usage_error(prog, why);
	}
	return opt;
}

void kmmu_bench_parse(struct kmmu_bench *b, const char *prog, int *argc, char **argv,
		      const struct option *longopts)
{
	int opt;

	kmmu_bench_take_result(b, prog, argc, argv);
	while ((opt = kmmu_bench_getopt(b, prog, *argc, argv, longopts)) != -1)
		kmmu_cli_dispatch(&b->cli, prog, opt, optarg);
}

void kmmu_bench_parse_duration(const char *prog, const char *arg, double *out)
{
	char why[128];

	if (kmmu_bench_duration(arg, out, why, sizeof(why)))
		kmmu_bench_usage_error(prog, why);
}

int kmmu_bench_parse_vcpus(const char *prog, const char *arg, uint64_t *out, int max)
{
	char why[128];
	int n = kmmu_bench_vcpus(arg, out, max, why, sizeof(why));

	if (n < 0)
		kmmu_bench_usage_error(prog, why);
	return n;
}

long kmmu_bench_online_vcpus(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (ncpu < 1)
		return 1;
	return ncpu > KMMU_MAX_VCPUS ? KMMU_MAX_VCPUS : ncpu;
}

void kmmu_bench_usage_common(FILE *f)
{
	fprintf(f,
		"  --cv-threshold PCT warn when a metric's CV exceeds PCT percent (default %.0f)\n"
		"  --result FILE      result file (default $KMMU_RESULT)\n",
		KMMU_BENCH_CV_DEFAULT);
}
