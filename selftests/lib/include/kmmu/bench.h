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
 * The summary also gives the coarsest resolution (the smallest change an
 * A/B of as many samples detects).  A benchmark may take more samples
 * until a target resolution or a time budget (kmmu_bench_next_sample())
 * and pin its host and vCPU threads to CPUs of their own (kmmu_bench_pin()).
 */
#ifndef KMMU_BENCH_H
#define KMMU_BENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kmmu/clock.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/result.h"

#define KMMU_BENCH_SAMPLES_DEFAULT	5
#define KMMU_BENCH_SAMPLES_MAX		1000
#define KMMU_BENCH_CV_DEFAULT		10.0	/* percent */
/* The most CPUs --pin names: the host thread's and one per vCPU. */
#define KMMU_BENCH_PIN_MAX		(KMMU_MAX_VCPUS + 1)

struct kmmu_bench {
	struct kmmu_result *res;	/* NULL: nothing recorded, only judged */
	int samples;			/* with a target or budget: the least */
	double cv_threshold;		/* percent */
	/*
	 * Adaptive sampling (kmmu_bench_next_sample()), for a benchmark
	 * that took it (kmmu_bench_take_adaptive()): 0 means off.
	 */
	bool adaptive;
	double target_resolution;	/* percent */
	double budget;			/* seconds of sampling per configuration */
	/* --pin: the host thread's CPU, then vCPU 0's, 1's, ... (kmmu_bench_pin()). */
	bool pinnable;
	int pin_cpus[KMMU_BENCH_PIN_MAX];
	int nr_pin_cpus;
	char pinned[8 * KMMU_BENCH_PIN_MAX];	/* "0,1,2": what kmmu_bench_pin() did */
	const char *result_path;	/* --result, or NULL for $KMMU_RESULT */
	int nr_metrics, nr_noisy;
	char noisy[512];		/* "label metric, ..." of the noisy ones */
	/* The coarsest resolution recorded (kmmu_bench_resolution()), percent. */
	double coarsest;
	char coarsest_metric[128];	/* "label metric" */
	int nr_resolved, nr_unresolved;	/* against target_resolution, when given */
	/* Where --duration and --vcpus go, for a benchmark that takes them. */
	double *duration;
	uint64_t *vcpus;
	int *nr_vcpus, max_vcpus;
	/* For kmmu_bench_parse(); usage prints the benchmark's own lines only. */
	struct kmmu_cli_hooks cli;
};

/* Defaults: KMMU_BENCH_SAMPLES_DEFAULT samples, KMMU_BENCH_CV_DEFAULT. */
void kmmu_bench_init(struct kmmu_bench *b);

/*
 * kmmu_bench_init() for a benchmark on real KVM, all of which sample with
 * kmmu_bench_next_sample() and start their vCPUs with
 * kmmu_bench_vm_start(): --target-resolution, --budget and --pin taken,
 * @usage the benchmark's -h lines and @opts its own options (a table
 * ended by KMMU_OPTS_END) for kmmu_bench_parse().
 */
void kmmu_bench_init_kvm(struct kmmu_bench *b, void (*usage)(FILE *f, const char *prog),
			 const struct kmmu_opt *opts);

/*
 * The common options a benchmark may also take: --duration S into
 * *@duration, --vcpus LIST into @vcpus (at most @max counts) and its
 * length into *@nr_vcpus.  Either may be NULL.  Their entries in the
 * benchmark's long options then have val 0 (KMMU_BENCH_LONGOPT()), like
 * KMMU_BENCH_LONGOPTS, and kmmu_bench_getopt() parses them.
 */
void kmmu_bench_take(struct kmmu_bench *b, double *duration, uint64_t *vcpus,
		     int *nr_vcpus, int max);

/*
 * The benchmark samples with kmmu_bench_next_sample() and records
 * kmmu_bench_sampling_record(): --target-resolution and --budget are
 * accepted (elsewhere they are a usage error, not silently ignored).
 */
void kmmu_bench_take_adaptive(struct kmmu_bench *b);

/*
 * The benchmark calls kmmu_bench_pin() once its vCPU threads run: --pin
 * is accepted (elsewhere it is a usage error).
 */
void kmmu_bench_take_pin(struct kmmu_bench *b);

/* A long option with an argument that kmmu_bench_option() parses. */
#define KMMU_BENCH_LONGOPT(name)	{ name, required_argument, NULL, 0 }

/*
 * Handles one of the common options: "samples" (1..KMMU_BENCH_SAMPLES_MAX),
 * "cv-threshold" (percent, 0..1000), "target-resolution" (percent, more
 * than 0 and at most 1000), "budget" (seconds, 0.01..86400) or "pin" (up
 * to KMMU_BENCH_PIN_MAX distinct CPUs this process may run on).  Returns
 * 1 if @name was one of them and @arg valid, 0 if @name is not a common
 * option, -EINVAL with a one-line reason in @why for a bad value or an
 * option the benchmark did not take.
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
 * kmmu_bench_summary(), as it does the metric's resolution.  @label says which configuration the metric
 * belongs to ("slots=509 op=map"), for the warning only.
 */
double kmmu_bench_metric(struct kmmu_bench *b, const char *label, const char *name,
			 const char *unit, enum kmmu_direction dir,
			 const double *samples, int n);

/*
 * Adaptive sampling.  A benchmark's configuration takes samples of one
 * or more metrics together (one sample = one value of each):
 *
 *	double *v[2] = { rate, latency };	(kmmu_bench_max_samples() each)
 *	struct kmmu_bench_sampling smp;
 *
 *	kmmu_bench_sampling_start(&smp, b);
 *	while ((s = kmmu_bench_next_sample(&smp, v, 2)) >= 0)
 *		measure into rate[s], latency[s];
 *	... record smp.n samples, kmmu_bench_sampling_record() first ...
 *
 * Without --target-resolution and --budget it takes exactly --samples
 * samples, as a plain loop would.  With a target it keeps sampling, after
 * --samples, until every metric's resolution (kmmu_bench_resolution())
 * is at most the target; with a budget until the next sample would end
 * past that many seconds since the start; at KMMU_BENCH_SAMPLES_MAX in
 * any case.  This resolves the samples of one run; runs vary more than
 * that (issue 15), which ci/ab's rounds and kmmu-plot compare measure.
 */
struct kmmu_bench_sampling {
	const struct kmmu_bench *b;
	double start;		/* kmmu_now() at kmmu_bench_sampling_start() */
	int n;			/* samples taken (handed out) so far */
	double resolution;	/* percent: the coarsest metric's at the stop (NAN: unknown) */
	const char *stopped;	/* why it stopped (enum kmmu_bench_stop's name); NULL until then */
};

enum kmmu_bench_stop {
	KMMU_BENCH_MORE,		/* not stopped: take another sample */
	KMMU_BENCH_STOP_SAMPLES,	/* --samples taken, no target or budget */
	KMMU_BENCH_STOP_TARGET,		/* every metric resolves the target */
	KMMU_BENCH_STOP_BUDGET,		/* the next sample would end past the budget */
	KMMU_BENCH_STOP_LIMIT,		/* KMMU_BENCH_SAMPLES_MAX taken */
};

/* "samples", "target", "budget", "limit" (NULL for KMMU_BENCH_MORE). */
const char *kmmu_bench_stop_name(enum kmmu_bench_stop why);

/*
 * How many samples a metric's array must hold: --samples, or
 * KMMU_BENCH_SAMPLES_MAX when adaptive sampling is on.
 */
int kmmu_bench_max_samples(const struct kmmu_bench *b);

/*
 * The resolution of @n samples, in percent of their mean: the smallest
 * change of the mean that Welch's test at alpha 0.05 finds with power
 * 0.8 in an A/B of n against n values with this standard deviation, as
 * kmmu-plot resolution reports it.  The noncentral t is approximated by
 * (t(0.975, df) + t(0.8, df)) * se, df = 2n - 2, each quantile by its
 * Cornish-Fisher expansion: within 1.5% of the exact value from 3 samples
 * on, 5% at 2.  NAN with fewer than 2 samples or a mean of 0.
 */
double kmmu_bench_resolution(const double *v, int n);

/*
 * The stopping rule: whether to take another sample after @n, @elapsed
 * seconds after the start, the coarsest metric's resolution being
 * @resolution (NAN: unknown, never reaches a target).
 */
enum kmmu_bench_stop kmmu_bench_stop_rule(const struct kmmu_bench *b, int n, double elapsed,
					  double resolution);

/*
 * The longest a configuration's sampling can take when one sample takes
 * @per_sample seconds, for the benchmark's timeout: --samples samples;
 * with a budget the budget and one sample more (the rule stops before the
 * next would end past it, which a slower sample can still overrun); with
 * a target alone KMMU_BENCH_SAMPLES_MAX samples.
 */
double kmmu_bench_sampling_seconds(const struct kmmu_bench *b, double per_sample);

void kmmu_bench_sampling_start(struct kmmu_bench_sampling *s, const struct kmmu_bench *b);

/*
 * The index of the next sample to take into each of @metrics[0..@nr)
 * (whose first s->n values are taken), or -1 when sampling stops: then
 * s->stopped says why and s->n is the count.
 */
int kmmu_bench_next_sample(struct kmmu_bench_sampling *s, double *const *metrics, int nr);

/*
 * Records how the samples were taken in @res's parameters, for the
 * metrics recorded next: "pin" (the CPUs, when kmmu_bench_pin() pinned:
 * it changes what is measured, so it is part of a metric's identity),
 * and with adaptive sampling "stopped" (why), "target_resolution_pct" and
 * "budget_s" when given, which kmmu-plot does not count in a metric's
 * identity: runs that stopped for different reasons still compare.
 * Nothing without --pin, --target-resolution or --budget, so that result
 * files stay as they were.
 */
void kmmu_bench_sampling_record(const struct kmmu_bench_sampling *s, struct kmmu_result *res);

/*
 * CPU pinning (--pin CPUS): the calling (host) thread on the first CPU,
 * vCPU i's thread on CPU i + 1 of the list, each on that one CPU alone,
 * so that the host thread and the vCPUs do not take turns on a CPU and
 * the scheduler does not move them.  Remembers the CPUs ("0,1,2") in
 * b->pinned for kmmu_bench_sampling_record().  0 without --pin; -EINVAL with a one-line reason in @why
 * when the list has fewer than 1 + the VM's vCPUs CPUs; a negative errno
 * from sched_setaffinity() / pthread_setaffinity_np() with @why.
 */
int kmmu_bench_pin(struct kmmu_bench *b, struct kmmu_vm *vm, char *why, size_t len);

/*
 * A benchmark's vCPUs running: __kmmu_vm_start(@vm, @fn, @arg), then
 * kmmu_bench_pin().  0, or a negative errno with a one-line reason in
 * @why ("starting vCPUs: ..." or kmmu_bench_pin()'s).
 */
int kmmu_bench_vm_start(struct kmmu_bench *b, struct kmmu_vm *vm, kmmu_guest_fn fn, void *arg,
			char *why, size_t len);

/* Pins @thread to @cpu alone: 0 or a negative errno. */
int kmmu_bench_pin_thread(pthread_t thread, int cpu);

/*
 * Two lines: how many metrics were recorded and how many were noisy; the
 * coarsest resolution among them (kmmu_bench_resolution_line()).
 */
void kmmu_bench_summary(const struct kmmu_bench *b);

/*
 * "# resolution: ..." without a newline: the coarsest resolution of the
 * metrics recorded so far and which metric it is, and with a target how
 * many metrics reach it; "" before any metric with 2 samples.
 */
void kmmu_bench_resolution_line(const struct kmmu_bench *b, char *buf, size_t len);

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
	{ "cv-threshold", required_argument, NULL, 0 },		\
	{ "target-resolution", required_argument, NULL, 0 },	\
	{ "budget", required_argument, NULL, 0 },		\
	{ "pin", required_argument, NULL, 0 }

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
 * to the end, -h as kmmu_bench_usage() on stdout and exit 0, and every
 * benchmark-specific option to kmmu_cli_dispatch(@b->cli).  Returns only
 * if the command line is good.  The long options: the common ones (with
 * --duration and --vcpus where taken), then those of @b->cli.opts.
 */
void kmmu_bench_parse(struct kmmu_bench *b, const char *prog, int *argc, char **argv);

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

/*
 * The usage lines of --target-resolution and --budget, and of --pin, where
 * the benchmark took them (kmmu_bench_take_adaptive(), _take_pin()).
 */
void kmmu_bench_usage_taken(FILE *f, const struct kmmu_bench *b);

/* The usage lines of --cv-threshold and --result, the last of every usage. */
void kmmu_bench_usage_common(FILE *f);

/*
 * A benchmark's whole usage, what -h prints (kmmu_bench_parse()): the
 * benchmark's own lines (@b->cli.usage), then those of the options it
 * took and of the common ones.
 */
void kmmu_bench_usage(const struct kmmu_bench *b, FILE *f, const char *prog);

#endif
