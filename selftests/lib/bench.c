// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark helpers: common options, percentiles, metrics with a noise
 * verdict, adaptive sampling and CPU pinning (see kmmu/bench.h).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>

#include "kmmu/bench.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/test_run.h"
#include "vm_internal.h"

void kmmu_bench_init(struct kmmu_bench *b)
{
	memset(b, 0, sizeof(*b));
	b->samples = KMMU_BENCH_SAMPLES_DEFAULT;
	b->cv_threshold = KMMU_BENCH_CV_DEFAULT;
}

void kmmu_bench_init_kvm(struct kmmu_bench *b, void (*usage)(FILE *f, const char *prog),
			 const struct kmmu_opt *opts)
{
	kmmu_bench_init(b);
	kmmu_bench_take_adaptive(b);
	kmmu_bench_take_pin(b);
	b->cli = (struct kmmu_cli_hooks){ .usage = usage, .opts = opts };
}

void kmmu_bench_take(struct kmmu_bench *b, double *duration, uint64_t *vcpus,
		     int *nr_vcpus, int max)
{
	b->duration = duration;
	b->vcpus = vcpus;
	b->nr_vcpus = nr_vcpus;
	b->max_vcpus = max;
}

void kmmu_bench_take_adaptive(struct kmmu_bench *b)
{
	b->adaptive = true;
}

void kmmu_bench_take_pin(struct kmmu_bench *b)
{
	b->pinnable = true;
}

/* --pin: distinct CPUs, each one this process may run on. */
static int kmmu_bench_pin_list(struct kmmu_bench *b, const char *arg, char *why, size_t len)
{
	uint64_t cpus[KMMU_BENCH_PIN_MAX];
	cpu_set_t allowed;
	int n, i, j;

	n = kmmu_parse_u64_list(arg, 0, CPU_SETSIZE - 1, cpus, KMMU_BENCH_PIN_MAX);
	if (n < 1) {
		snprintf(why, len, "--pin wants up to %d comma-separated CPU numbers below %d "
			 "(the host thread's, then one per vCPU)", KMMU_BENCH_PIN_MAX, CPU_SETSIZE);
		return -EINVAL;
	}
	if (sched_getaffinity(0, sizeof(allowed), &allowed)) {
		snprintf(why, len, "--pin: sched_getaffinity: %s", strerror(errno));
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (!CPU_ISSET(cpus[i], &allowed)) {
			snprintf(why, len, "--pin: CPU %llu is not one this process may run on "
				 "(%d allowed)", (unsigned long long)cpus[i], CPU_COUNT(&allowed));
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (cpus[j] == cpus[i]) {
				snprintf(why, len, "--pin: CPU %llu given twice: the threads "
					 "get a CPU each", (unsigned long long)cpus[i]);
				return -EINVAL;
			}
		}
	}
	for (i = 0; i < n; i++)
		b->pin_cpus[i] = cpus[i];
	b->nr_pin_cpus = n;
	return 1;
}

static int kmmu_bench_not_taken(const char *name, char *why, size_t len)
{
	snprintf(why, len, "--%s: this benchmark does not support it", name);
	return -EINVAL;
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

/* The common options that take a number: its range and where it goes. */
struct kmmu_bench_number {
	const char *name;
	double min, max;
	bool zero_ok;		/* 0 is in the range, when min is 0 */
	bool adaptive;		/* only for a benchmark that took adaptive sampling */
	size_t offset;		/* of its double in struct kmmu_bench */
	const char *want;	/* "--NAME wants WANT" */
};

static const struct kmmu_bench_number kmmu_bench_numbers[] = {
	{ "cv-threshold", 0, 1000, true, false, offsetof(struct kmmu_bench, cv_threshold),
	  "a percentage from 0 to 1000" },
	{ "target-resolution", 0, 1000, false, true,
	  offsetof(struct kmmu_bench, target_resolution), "a percentage above 0, at most 1000" },
	{ "budget", 0.01, 86400, true, true, offsetof(struct kmmu_bench, budget),
	  "seconds from 0.01 to 86400" },
};

int kmmu_bench_option(struct kmmu_bench *b, const char *name, const char *arg,
		      char *why, size_t len)
{
	unsigned int i;
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
	for (i = 0; i < sizeof(kmmu_bench_numbers) / sizeof(kmmu_bench_numbers[0]); i++) {
		const struct kmmu_bench_number *o = &kmmu_bench_numbers[i];

		if (strcmp(name, o->name))
			continue;
		if (o->adaptive && !b->adaptive)
			return kmmu_bench_not_taken(name, why, len);
		if (kmmu_parse_seconds(arg, o->min, o->max, &d) || (d == 0 && !o->zero_ok)) {
			snprintf(why, len, "--%s wants %s", name, o->want);
			return -EINVAL;
		}
		*(double *)((char *)b + o->offset) = d;
		return 1;
	}
	if (!strcmp(name, "pin")) {
		if (!b->pinnable)
			return kmmu_bench_not_taken(name, why, len);
		return kmmu_bench_pin_list(b, arg, why, len);
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
	double cv = 100 * kmmu_cv(samples, n), resolution = kmmu_bench_resolution(samples, n);

	if (b->res && kmmu_result_metric(b->res, name, unit, dir, samples, n))
		printf("# could not record metric %s (out of memory?)\n", name);
	b->nr_metrics++;
	if (!isnan(resolution)) {
		if (resolution >= b->coarsest) {
			b->coarsest = resolution;
			snprintf(b->coarsest_metric, sizeof(b->coarsest_metric), "%s %s", label, name);
		}
		if (b->target_resolution > 0) {
			if (resolution <= b->target_resolution)
				b->nr_resolved++;
			else
				b->nr_unresolved++;
		}
	}
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

const char *kmmu_bench_stop_name(enum kmmu_bench_stop why)
{
	static const char *const names[] = {
		[KMMU_BENCH_STOP_SAMPLES] = "samples",
		[KMMU_BENCH_STOP_TARGET] = "target",
		[KMMU_BENCH_STOP_BUDGET] = "budget",
		[KMMU_BENCH_STOP_LIMIT] = "limit",
	};

	return why > KMMU_BENCH_MORE && why <= KMMU_BENCH_STOP_LIMIT ? names[why] : NULL;
}

static bool kmmu_bench_sampling_on(const struct kmmu_bench *b)
{
	return b->target_resolution > 0 || b->budget > 0;
}

int kmmu_bench_max_samples(const struct kmmu_bench *b)
{
	return kmmu_bench_sampling_on(b) ? KMMU_BENCH_SAMPLES_MAX : b->samples;
}

/* The two tails of the resolution: alpha 0.05 two-sided, power 0.8. */
#define KMMU_ALPHA_TAIL	0.025
#define KMMU_POWER_TAIL	0.2

/*
 * The smallest change of the mean, in percent, that a two-sample t-test of
 * two runs like this one would detect: (t(1 - alpha/2) + t(power)) times
 * the standard error of the difference, with Student's t of 2n - 2 degrees
 * of freedom from GSL.
 */
double kmmu_bench_resolution(const double *v, int n)
{
	double mean, se, df;

	if (n < 2)
		return NAN;
	mean = gsl_stats_mean(v, 1, n);
	if (mean == 0)
		return NAN;
	se = gsl_stats_sd_m(v, 1, n, mean) * sqrt(2.0 / n);
	df = 2.0 * n - 2;
	return (gsl_cdf_tdist_Qinv(KMMU_ALPHA_TAIL, df) + gsl_cdf_tdist_Qinv(KMMU_POWER_TAIL, df)) *
	       se / fabs(mean) * 100;
}

enum kmmu_bench_stop kmmu_bench_stop_rule(const struct kmmu_bench *b, int n, double elapsed,
					  double resolution)
{
	if (n < b->samples)
		return KMMU_BENCH_MORE;
	if (!kmmu_bench_sampling_on(b))
		return KMMU_BENCH_STOP_SAMPLES;
	if (b->target_resolution > 0 && resolution <= b->target_resolution)
		return KMMU_BENCH_STOP_TARGET;
	if (n >= KMMU_BENCH_SAMPLES_MAX)
		return KMMU_BENCH_STOP_LIMIT;
	/* The samples so far say how long the next one takes. */
	if (b->budget > 0 && elapsed + elapsed / n > b->budget)
		return KMMU_BENCH_STOP_BUDGET;
	return KMMU_BENCH_MORE;
}

double kmmu_bench_sampling_seconds(const struct kmmu_bench *b, double per_sample)
{
	double least = b->samples * per_sample;

	if (b->budget > 0)
		return fmax(least, b->budget + per_sample);
	return kmmu_bench_max_samples(b) * per_sample;
}

void kmmu_bench_sampling_start(struct kmmu_bench_sampling *s, const struct kmmu_bench *b)
{
	memset(s, 0, sizeof(*s));
	s->b = b;
	s->resolution = NAN;
	s->start = kmmu_now();
}

int kmmu_bench_next_sample(struct kmmu_bench_sampling *s, double *const *metrics, int nr)
{
	enum kmmu_bench_stop why;
	double worst = NAN;
	int i;

	if (s->stopped)
		return -1;
	/* The coarsest metric decides; one that cannot be resolved, too. */
	for (i = 0; i < nr && s->n >= 2; i++) {
		double r = kmmu_bench_resolution(metrics[i], s->n);

		if (isnan(r) || !(r <= worst))
			worst = isnan(r) ? INFINITY : r;
		if (isinf(worst))
			break;
	}
	s->resolution = isinf(worst) ? NAN : worst;
	why = kmmu_bench_stop_rule(s->b, s->n, kmmu_now() - s->start, s->resolution);
	if (why != KMMU_BENCH_MORE) {
		s->stopped = kmmu_bench_stop_name(why);
		return -1;
	}
	return s->n++;
}

void kmmu_bench_sampling_record(const struct kmmu_bench_sampling *s, struct kmmu_result *res)
{
	char text[32];

	if (!res)
		return;
	if (s->b->pinned[0])
		kmmu_result_param_str(res, "pin", s->b->pinned);
	if (!kmmu_bench_sampling_on(s->b))
		return;
	kmmu_result_param_str(res, "stopped", s->stopped ? s->stopped : "?");
	if (s->b->target_resolution > 0) {
		snprintf(text, sizeof(text), "%g", s->b->target_resolution);
		kmmu_result_param_str(res, "target_resolution_pct", text);
	}
	if (s->b->budget > 0) {
		snprintf(text, sizeof(text), "%g", s->b->budget);
		kmmu_result_param_str(res, "budget_s", text);
	}
}

int kmmu_bench_pin_thread(pthread_t thread, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(thread, sizeof(set), &set);
}

int kmmu_bench_pin(struct kmmu_bench *b, struct kmmu_vm *vm, char *why, size_t len)
{
	int n = kmmu_vm_nr_vcpus(vm), i, r;
	size_t off = 0;

	b->pinned[0] = 0;
	if (!b->nr_pin_cpus)
		return 0;
	if (b->nr_pin_cpus < n + 1) {
		snprintf(why, len, "--pin names %d CPUs; the host thread and %d vCPUs need %d",
			 b->nr_pin_cpus, n, n + 1);
		return -EINVAL;
	}
	r = kmmu_bench_pin_thread(pthread_self(), b->pin_cpus[0]);
	if (r) {
		snprintf(why, len, "pinning the host thread to CPU %d: %s", b->pin_cpus[0],
			 strerror(-r));
		return r;
	}
	for (i = 0; i < n; i++) {
		struct kmmu_vcpu *vcpu = kmmu_vm_vcpu(vm, i);

		if (!vcpu->thread_started) {
			snprintf(why, len, "pinning vCPU %d: its thread is not running", i);
			return -ESRCH;
		}
		r = kmmu_bench_pin_thread(vcpu->thread, b->pin_cpus[i + 1]);
		if (r) {
			snprintf(why, len, "pinning vCPU %d to CPU %d: %s", i, b->pin_cpus[i + 1],
				 strerror(-r));
			return r;
		}
	}
	for (i = 0; i <= n; i++)
		off += snprintf(b->pinned + off, sizeof(b->pinned) - off, "%s%d", i ? "," : "",
				b->pin_cpus[i]);
	return 0;
}

int kmmu_bench_vm_start(struct kmmu_bench *b, struct kmmu_vm *vm, kmmu_guest_fn fn, void *arg,
			char *why, size_t len)
{
	int r = __kmmu_vm_start(vm, fn, arg);

	if (r) {
		snprintf(why, len, "starting vCPUs: %s", strerror(-r));
		return r;
	}
	return kmmu_bench_pin(b, vm, why, len);
}

void kmmu_bench_resolution_line(const struct kmmu_bench *b, char *buf, size_t len)
{
	int off;

	buf[0] = 0;
	if (!b->coarsest_metric[0])
		return;
	off = snprintf(buf, len, "# resolution: at most %.1f%% (%s), the smallest change of the "
		       "mean an A/B of as many samples finds at alpha 0.05 with power 0.8",
		       b->coarsest, b->coarsest_metric);
	if (b->target_resolution > 0 && off >= 0 && (size_t)off < len)
		snprintf(buf + off, len - off, "; %d of %d metrics resolve the target %g%%",
			 b->nr_resolved, b->nr_resolved + b->nr_unresolved,
			 b->target_resolution);
}

void kmmu_bench_summary(const struct kmmu_bench *b)
{
	char line[512];

	if (b->nr_noisy)
		printf("# noise: %d of %d metrics above cv %.1f%%: %s\n", b->nr_noisy,
		       b->nr_metrics, b->cv_threshold, b->noisy);
	else
		printf("# noise: all %d metrics within cv %.1f%%\n", b->nr_metrics,
		       b->cv_threshold);
	kmmu_bench_resolution_line(b, line, sizeof(line));
	if (line[0])
		printf("%s\n", line);
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

void kmmu_bench_parse(struct kmmu_bench *b, const char *prog, int *argc, char **argv)
{
	static const struct option common[] = { KMMU_BENCH_LONGOPTS };
	static const struct option duration = KMMU_BENCH_LONGOPT("duration");
	static const struct option vcpus = KMMU_BENCH_LONGOPT("vcpus");
	struct option shared[sizeof(common) / sizeof(common[0]) + 2];
	int opt, nr = sizeof(common) / sizeof(common[0]);
	struct kmmu_getopt_tables g;

	kmmu_bench_take_result(b, prog, argc, argv);
	memcpy(shared, common, sizeof(common));
	/* --duration and --vcpus only where the benchmark takes them. */
	if (b->duration)
		shared[nr++] = duration;
	if (b->vcpus)
		shared[nr++] = vcpus;
	if (kmmu_getopt_tables(&g, "", shared, nr, b->cli.opts))
		kmmu_bench_usage_error(prog, "too many options in the program's table");
	while ((opt = kmmu_bench_getopt(b, prog, *argc, argv, g.longopts)) != -1) {
		if (opt == 'h' && b->cli.usage) {
			kmmu_bench_usage(b, stdout, prog);
			exit(0);
		}
		kmmu_cli_dispatch(&b->cli, prog, opt, optarg);
	}
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

void kmmu_bench_usage_taken(FILE *f, const struct kmmu_bench *b)
{
	if (b->adaptive)
		fprintf(f,
			"  --target-resolution PCT  after --samples, sample until every metric of a\n"
			"                     configuration resolves PCT percent (A/B of n against n,\n"
			"                     alpha 0.05, power 0.8), at most %d samples\n"
			"  --budget S         stop sampling a configuration before S seconds pass\n",
			KMMU_BENCH_SAMPLES_MAX);
	if (b->pinnable)
		fprintf(f,
			"  --pin CPUS         pin the host thread to the first CPU and vCPU i to the\n"
			"                     (i+2)-th, one CPU each (default: the scheduler decides)\n");
}

void kmmu_bench_usage(const struct kmmu_bench *b, FILE *f, const char *prog)
{
	b->cli.usage(f, prog);
	kmmu_bench_usage_taken(f, b);
	kmmu_bench_usage_common(f);
}

void kmmu_bench_usage_common(FILE *f)
{
	fprintf(f,
		"  --cv-threshold PCT warn when a metric's CV exceeds PCT percent (default %.0f)\n"
		"  --result FILE      result file (default $KMMU_RESULT)\n",
		KMMU_BENCH_CV_DEFAULT);
}
