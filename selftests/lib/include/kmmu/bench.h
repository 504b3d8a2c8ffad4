/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the benchmarks on real KVM (selftests/NAME_perf_test.c):
 * the options every benchmark takes, percentiles, and recording a metric
 * together with a noise verdict.
 *
 * A benchmark repeats each measurement --samples times and records every
 * sample (kmmu_result_metric() computes median and CV).  Its noise is the
 * coefficient of variation of those samples: above the threshold
 * (--cv-threshold, percent) the benchmark prints a warning line, so that a
 * reader of a run knows which numbers not to trust.  Noise is never a
 * failure: speed goals belong in the recorded numbers, not in asserts.
 */
#ifndef KMMU_BENCH_H
#define KMMU_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kmmu/clock.h"
#include "kmmu/hygiene.h"
#include "kmmu/opts.h"
#include "kmmu/result.h"

#define KMMU_BENCH_SAMPLES_DEFAULT	5
#define KMMU_BENCH_SAMPLES_MAX		1000
#define KMMU_BENCH_CV_DEFAULT		10.0	/* percent */

struct kmmu_bench {
	struct kmmu_result *res;	/* NULL: nothing recorded, only judged */
	int samples;
	double cv_threshold;		/* percent */
	const char *result_path;	/* --result, or NULL for $KMMU_RESULT */
	int nr_metrics, nr_noisy;
	char noisy[512];		/* "label metric, ..." of the noisy ones */
	/* Where --duration and --vcpus go, for a benchmark that takes them. */
	double *duration;
	uint64_t *vcpus;
	int *nr_vcpus, max_vcpus;
	struct kmmu_cli_hooks cli;	/* for kmmu_bench_parse() */
};

/* Defaults: KMMU_BENCH_SAMPLES_DEFAULT samples, KMMU_BENCH_CV_DEFAULT. */
void kmmu_bench_init(struct kmmu_bench *b);

/*
 * The common options a benchmark may also take: --duration S into
 * *@duration, --vcpus LIST into @vcpus (at most @max counts) and its
 * length into *@nr_vcpus.  Either may be NULL.  Their entries in the
 * benchmark's long options then have val 0 (KMMU_BENCH_LONGOPT()), like
 * KMMU_BENCH_LONGOPTS, and kmmu_bench_getopt() parses them.
 */
void kmmu_bench_take(struct kmmu_bench *b, double *duration, uint64_t *vcpus,
		     int *nr_vcpus, int max);

/* A long option with an argument that kmmu_bench_option() parses. */
#define KMMU_BENCH_LONGOPT(name)	{ name, required_argument, NULL, 0 }

/*
 * Handles one of the common options: "samples" (1..KMMU_BENCH_SAMPLES_MAX)
 * or "cv-threshold" (percent, 0..1000).  Returns 1 if @name was one of
 * them and @arg valid, 0 if @name is not a common option, -EINVAL with a
 * one-line reason in @why for a bad value.
 */
int kmmu_bench_option(struct kmmu_bench *b, const char *name, const char *arg,
		      char *why, size_t len);

/*
 * The @p-th percentile (0..100) of @n values by nearest rank on a sorted
 * copy: the smallest value with at least p% of the values at or below it.
 * NAN for n <= 0 or p out of range.
 */
double kmmu_percentile(const double *v, int n, double p);

/*
 * Records metric @name (unit, direction, all samples) under the
 * parameters currently set on b->res, and judges its noise.  Returns the
 * CV in percent; when it exceeds the threshold, prints
 * "# WARNING: noisy: LABEL NAME cv X% > Y%" and remembers it for
 * kmmu_bench_summary().  @label says which configuration the metric
 * belongs to ("slots=509 op=map"), for the warning only.
 */
double kmmu_bench_metric(struct kmmu_bench *b, const char *label, const char *name,
			 const char *unit, enum kmmu_direction dir,
			 const double *samples, int n);

/* One line: how many metrics were recorded and how many were noisy. */
void kmmu_bench_summary(const struct kmmu_bench *b);

/*
 * The run of a benchmark's one test, from its fixture's setup to its
 * teardown (see kmmu/bench_harness.h, which writes both): a
 * kmmu_test_run whose result is b->res while the benchmark records its
 * metrics there.
 */
struct kmmu_test_run;

/* Setup, once KVM is known to open: a new b->res for @prog, the run started. */
void kmmu_bench_begin(struct kmmu_bench *b, struct kmmu_test_run *run, const char *prog);

/* Teardown, first half: kmmu_test_run_end(). */
int kmmu_bench_end(struct kmmu_test_run *run, char *report, size_t len);

/*
 * Teardown, second half: the noise summary, then, if b->res, the test
 * entry for @prog (pass or fail as @passed says, without the parameters
 * of the last configuration), the result file (b->result_path or
 * $KMMU_RESULT) and freeing b->res.  -EIO if the file could not be
 * written.
 */
int kmmu_bench_finish(struct kmmu_bench *b, struct kmmu_test_run *run,
		      const char *prog, bool passed);

/* The command line: a usage error as kmmu_usage_error() ends it. */
void kmmu_bench_usage_error(const char *prog, const char *what)
	__attribute__((noreturn));

/* Takes --result FILE out of argv into b->result_path (kmmu_take_result_arg()). */
void kmmu_bench_take_result(struct kmmu_bench *b, const char *prog, int *argc, char **argv);

/* The entries of the common options for getopt_long(), first in @longopts. */
#define KMMU_BENCH_LONGOPTS					\
	{ "samples", required_argument, NULL, 0 },		\
	{ "cv-threshold", required_argument, NULL, 0 }

struct option;

/*
 * getopt_long(argc, argv, ":h", @longopts) that handles what all
 * benchmarks share itself: the common options (val 0), a missing value,
 * an unknown option and, at the end, a stray operand are usage errors.
 * Returns the next benchmark-specific option (its val, 'h' for -h), or -1
 * when the command line is done.
 */
int kmmu_bench_getopt(struct kmmu_bench *b, const char *prog, int argc, char **argv,
		      const struct option *longopts);

/*
 * A benchmark's whole command line, the part every main() shared:
 * --result FILE taken out (kmmu_bench_take_result()), kmmu_bench_getopt()
 * to the end, and every benchmark-specific option to
 * kmmu_cli_dispatch(@b->cli).  Returns only if the command line is good.
 */
void kmmu_bench_parse(struct kmmu_bench *b, const char *prog, int *argc, char **argv,
		      const struct option *longopts);

/* --duration S: seconds per sample, 0.01 to 3600 (else a usage error). */
void kmmu_bench_parse_duration(const char *prog, const char *arg, double *out);

/*
 * --vcpus LIST: up to @max comma-separated vCPU counts, 1 to
 * KMMU_MAX_VCPUS each, into @out (else a usage error).  Returns how many.
 */
int kmmu_bench_parse_vcpus(const char *prog, const char *arg, uint64_t *out, int max);

/*
 * The vCPU count a benchmark defaults to: the online CPUs, at least 1 and
 * at most KMMU_MAX_VCPUS.
 */
long kmmu_bench_online_vcpus(void);

/* The usage lines of --cv-threshold and --result, the last of every usage. */
void kmmu_bench_usage_common(FILE *f);

#endif
