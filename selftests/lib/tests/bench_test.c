// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark helpers: option handling, percentiles, the noise verdict.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/bench.h"
#include "kmmu/host_probe.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/test_run.h"
#include "../vm_internal.h"

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

/* The fixture's life: begin, end, finish writes the test entry and frees. */
TEST(run_result)
{
	char path[] = "/tmp/bench_test_XXXXXX", report[1024], buf[4096];
	struct kmmu_test_run run = { 0 };
	struct kmmu_bench b;
	size_t n;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	close(fd);
	kmmu_bench_init(&b);
	b.result_path = path;
	kmmu_bench_begin(&b, &run, "bench_run_test");
	ASSERT_TRUE(run.started);
	ASSERT_NE(NULL, b.res);
	kmmu_bench_end(&run, report, sizeof(report));
	ASSERT_LE(0, run.dur);
	ASSERT_EQ(0, kmmu_bench_finish(&b, &run, "bench_run_test", false));
	ASSERT_EQ(NULL, b.res);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	unlink(path);
	ASSERT_NE(NULL, strstr(buf, "bench_run_test"));
	ASSERT_NE(NULL, strstr(buf, "see TAP output"));
	/* Nothing to record (setup skipped): only the summary. */
	ASSERT_EQ(0, kmmu_bench_finish(&b, &run, "bench_run_test", true));
	/* A result file that cannot be written is reported. */
	b.result_path = "/nonexistent/dir/result.json";
	kmmu_bench_begin(&b, &run, "bench_run_test");
	kmmu_bench_end(&run, report, sizeof(report));
	ASSERT_EQ(-EIO, kmmu_bench_finish(&b, &run, "bench_run_test", true));
	ASSERT_EQ(NULL, b.res);
}

static const struct option bench_test_longopts[] = {
	KMMU_BENCH_LONGOPTS,
	{ "duration", required_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* kmmu_bench_parse()'s hooks, as a benchmark's main() gives them. */
static void bench_test_usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s\n", prog);
	/* kmmu_exit_status() captures stderr only: say it there too. */
	fprintf(stderr, "usage printed\n");
}

/* --duration as the benchmark's own option, not the common one. */
static void bench_test_duration(const char *prog, const char *arg)
{
	if (strcmp(arg, "1"))
		kmmu_usage_error(prog, "--duration here wants 1");
}

static const struct kmmu_opt bench_test_own[] = {
	KMMU_OPT_FN("duration", 0, bench_test_duration),
	KMMU_OPTS_END,
};

/* A benchmark's own options as a table: --mem, long only. */
static uint64_t bench_test_mem;

static const struct kmmu_opt bench_test_opts[] = {
	KMMU_OPT_U("mem", 0, bench_test_mem, 2, 64, KMMU_OPT_EVEN, "--mem wants 2 to 64, even"),
	KMMU_OPTS_END,
};

/*
 * @arg's args parsed with the long options built from bench_test_opts:
 * --duration only if @arg's first is "take-duration".
 */
static int bench_test_table_parse_all(void *arg)
{
	const char **args = arg;
	char *argv[16] = { "prog" };
	struct kmmu_bench b;
	double duration;
	int argc = 1;

	kmmu_bench_init_kvm(&b, bench_test_usage, bench_test_opts);
	if (*args && !strcmp(*args, "take-duration")) {
		kmmu_bench_take(&b, &duration, NULL, NULL, 0);
		args++;
	}
	while (*args && argc < 15)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	optind = 1;
	kmmu_bench_parse(&b, "prog", &argc, argv);
	fprintf(stderr, "mem %llu\n", (unsigned long long)bench_test_mem);
	return 0;
}

/* Parses @arg's args (NULL-terminated, after the program name) to the end. */
static int bench_test_parse_all(void *arg)
{
	const char **args = arg;
	char *argv[16] = { "prog" };
	struct kmmu_bench b;
	int argc = 1;

	while (*args && argc < 15)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	kmmu_bench_init(&b);
	b.cli = (struct kmmu_cli_hooks){ .usage = bench_test_usage, .opts = bench_test_own };
	optind = 1;
	kmmu_bench_parse(&b, "prog", &argc, argv);
	return 0;
}

/* In a child, as the usage errors exit: the exit status and stderr. */
static int bench_test_parse(const char **args, char *err, size_t len)
{
	return kmmu_exit_status(bench_test_parse_all, args, err, len);
}

TEST(command_line)
{
	char *argv[] = { "prog", "--samples", "3", "--duration", "2", "--cv-threshold=4", "-h",
			 NULL };
	struct kmmu_bench b;
	char err[512];

	kmmu_bench_init(&b);
	optind = 1;
	ASSERT_EQ('d', kmmu_bench_getopt(&b, "prog", 7, argv, bench_test_longopts));
	ASSERT_STREQ("2", optarg);
	ASSERT_EQ(3, b.samples);
	ASSERT_EQ('h', kmmu_bench_getopt(&b, "prog", 7, argv, bench_test_longopts));
	ASSERT_EQ(4, b.cv_threshold);
	ASSERT_EQ(-1, kmmu_bench_getopt(&b, "prog", 7, argv, bench_test_longopts));

	ASSERT_EQ(0, bench_test_parse((const char *[]){ "--result", "f", "--duration", "1", NULL },
				      err, sizeof(err)));
	ASSERT_STREQ("", err);
	/* Every bad command line: exit status 2 and exactly one line. */
	ASSERT_EQ(KMMU_EXIT_USAGE, bench_test_parse((const char *[]){ "--samples", "0", NULL },
						     err, sizeof(err)));
	ASSERT_STREQ("prog: --samples wants a count from 1 to 1000 (-h for help)\n", err);
	ASSERT_EQ(KMMU_EXIT_USAGE, bench_test_parse((const char *[]){ "--duration", NULL },
						     err, sizeof(err)));
	ASSERT_STREQ("prog: option --duration needs a value (-h for help)\n", err);
	ASSERT_EQ(KMMU_EXIT_USAGE, bench_test_parse((const char *[]){ "--bogus", NULL },
						     err, sizeof(err)));
	ASSERT_STREQ("prog: unknown option --bogus (-h for help)\n", err);
	ASSERT_EQ(KMMU_EXIT_USAGE,
		  bench_test_parse((const char *[]){ "--duration", "1", "extra", NULL },
				   err, sizeof(err)));
	ASSERT_STREQ("prog: unexpected argument 'extra' (-h for help)\n", err);
	ASSERT_EQ(KMMU_EXIT_USAGE, bench_test_parse((const char *[]){ "--result", NULL },
						     err, sizeof(err)));
	ASSERT_STREQ("prog: --result needs a file name (-h for help)\n", err);
	/* The benchmark's own options reach its hook; -h is its usage, exit 0. */
	ASSERT_EQ(KMMU_EXIT_USAGE, bench_test_parse((const char *[]){ "--duration", "2", NULL },
						     err, sizeof(err)));
	ASSERT_STREQ("prog: --duration here wants 1 (-h for help)\n", err);
	ASSERT_EQ(0, bench_test_parse((const char *[]){ "--samples", "2", "-h", "--bogus", NULL },
				      err, sizeof(err)));
	ASSERT_STREQ("usage printed\n", err);
}

/* The long options from the table: the common ones, --duration where taken, the table's. */
TEST(parse_table)
{
	static const struct {
		const char *args[4], *err;
	} bad[] = {
		{ { "--duration=1" }, "prog: unknown option --duration=1 (-h for help)\n" },
		{ { "--mem=7" }, "prog: --mem wants 2 to 64, even (-h for help)\n" },
		{ { "-m", "8" }, "prog: unknown option -m (-h for help)\n" },
		{ { "--vcpus=1" }, "prog: unknown option --vcpus=1 (-h for help)\n" },
	};
	char err[512];
	unsigned int i;

	ASSERT_EQ(0, kmmu_exit_status(bench_test_table_parse_all,
				      (const char *[]){ "--mem=8", "--budget", "2", NULL },
				      err, sizeof(err)));
	ASSERT_STREQ("mem 8\n", err);
	ASSERT_EQ(0, kmmu_exit_status(bench_test_table_parse_all,
				      (const char *[]){ "take-duration", "--duration=1", NULL },
				      err, sizeof(err)));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(KMMU_EXIT_USAGE, kmmu_exit_status(bench_test_table_parse_all,
							    (void *)bad[i].args, err, sizeof(err)));
		ASSERT_STREQ(bad[i].err, err);
	}
}

/* A benchmark on real KVM: adaptive sampling and --pin taken, its hooks set. */
TEST(init_kvm)
{
	struct kmmu_bench b;
	char why[128], cpu[16];

	snprintf(cpu, sizeof(cpu), "%d", sched_getcpu());
	memset(&b, 0xff, sizeof(b));
	kmmu_bench_init_kvm(&b, bench_test_usage, bench_test_opts);
	ASSERT_EQ(KMMU_BENCH_SAMPLES_DEFAULT, b.samples);
	ASSERT_EQ(NULL, b.duration);
	ASSERT_TRUE(b.cli.usage == bench_test_usage);
	ASSERT_TRUE(b.cli.opts == bench_test_opts);
	ASSERT_EQ(1, kmmu_bench_option(&b, "budget", "3", why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(1, kmmu_bench_option(&b, "pin", cpu, why, sizeof(why))) TH_LOG("%s", why);
}

struct bench_test_values_args {
	const char *duration, *vcpus;
};

/* 0 if --duration and --vcpus parse to 0.5 and 3 counts ending in 64. */
static int bench_test_parse_values(void *arg)
{
	const struct bench_test_values_args *a = arg;
	uint64_t v[16];
	double d;

	kmmu_bench_parse_duration("prog", a->duration, &d);
	return kmmu_bench_parse_vcpus("prog", a->vcpus, v, 16) == 3 && d == 0.5 &&
	       v[2] == 64 ? 0 : 1;
}

/* In a child, as the usage errors exit: the exit status and stderr. */
static int bench_test_values(const char *duration, const char *vcpus, char *err, size_t len)
{
	struct bench_test_values_args a = { duration, vcpus };

	return kmmu_exit_status(bench_test_parse_values, &a, err, len);
}

TEST(duration_vcpus)
{
	char err[512];

	ASSERT_EQ(0, bench_test_values("0.5", "1,2,64", err, sizeof(err)));
	ASSERT_STREQ("", err);
	ASSERT_EQ(KMMU_EXIT_USAGE, bench_test_values("0.001", "1", err, sizeof(err)));
	ASSERT_STREQ("prog: --duration wants seconds from 0.01 to 3600 (-h for help)\n", err);
	ASSERT_EQ(KMMU_EXIT_USAGE, bench_test_values("0.5", "65", err, sizeof(err)));
	ASSERT_STREQ("prog: --vcpus wants up to 16 comma-separated counts from 1 to 64 (-h for help)\n",
		     err);
	ASSERT_EQ(KMMU_EXIT_USAGE, bench_test_values("0.5", "0", err, sizeof(err)));
}

/* --duration and --vcpus as common options: only where the benchmark takes them. */
TEST(take_duration_vcpus)
{
	struct kmmu_bench b;
	uint64_t v[4] = { 0 };
	double d = 1;
	int nr = 0;
	char why[256] = "";

	kmmu_bench_init(&b);
	ASSERT_EQ(0, kmmu_bench_option(&b, "duration", "0.5", why, sizeof(why)));
	ASSERT_EQ(0, kmmu_bench_option(&b, "vcpus", "1,2", why, sizeof(why)));
	kmmu_bench_take(&b, &d, v, &nr, 4);
	ASSERT_EQ(1, kmmu_bench_option(&b, "duration", "0.5", why, sizeof(why)));
	ASSERT_EQ(0.5, d);
	ASSERT_EQ(1, kmmu_bench_option(&b, "vcpus", "1,2,64", why, sizeof(why)));
	ASSERT_EQ(3, nr);
	ASSERT_EQ(64, v[2]);
	ASSERT_EQ(-EINVAL, kmmu_bench_option(&b, "duration", "0.001", why, sizeof(why)));
	ASSERT_STREQ("--duration wants seconds from 0.01 to 3600", why);
	ASSERT_EQ(-EINVAL, kmmu_bench_option(&b, "vcpus", "1,2,3,4,5", why, sizeof(why)));
	ASSERT_STREQ("--vcpus wants up to 4 comma-separated counts from 1 to 64", why);
	ASSERT_EQ(3, nr);
}

/* The default vCPU count: every online CPU the runtime can give a vCPU. */
TEST(online_vcpus)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), n = kmmu_bench_online_vcpus();

	ASSERT_LE(1, n);
	ASSERT_GE(KMMU_MAX_VCPUS, n);
	if (ncpu >= 1 && ncpu <= KMMU_MAX_VCPUS)
		ASSERT_EQ(ncpu, n);
}

TEST(usage_common)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ASSERT_NE(NULL, f);
	kmmu_bench_usage_common(f);
	fclose(f);
	ASSERT_STREQ("  --cv-threshold PCT warn when a metric's CV exceeds PCT percent (default 10)\n"
		     "  --result FILE      result file (default $KMMU_RESULT)\n", buf);
	free(buf);
}

/* -h's whole usage: the benchmark's own lines, then those of what it took, the common last. */
TEST(usage_whole)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct kmmu_bench b;

	ASSERT_NE(NULL, f);
	kmmu_bench_init(&b);
	kmmu_bench_take_pin(&b);
	b.cli = (struct kmmu_cli_hooks){ .usage = bench_test_usage, .opts = bench_test_own };
	kmmu_bench_usage(&b, f, "prog");
	fclose(f);
	ASSERT_EQ(0, strncmp("usage: prog\n  --pin CPUS ", buf, 23)) TH_LOG("%s", buf);
	ASSERT_EQ(NULL, strstr(buf, "--budget"));
	ASSERT_STREQ("  --result FILE      result file (default $KMMU_RESULT)\n",
		     buf + len - 56);
	free(buf);
}

/* n values with mean 100 and a sample standard deviation of exactly @sd. */
static void bench_test_spread(double *v, int n, double sd)
{
	double ss = 0;
	int i;

	for (i = 0; i < n; i++) {
		v[i] = i - (n - 1) / 2.0;
		ss += v[i] * v[i];
	}
	for (i = 0; i < n; i++)
		v[i] = 100 + v[i] * sd / sqrt(ss / (n - 1));
}

/*
 * Against kmmu-plot's exact resolution (plots/kmmu/stats.py,
 * detectable_difference(1, n, 1, n, 0.05) with the noncentral t): an A/B
 * of n against n values with sd 1 around a mean of 100, in percent.
 */
TEST(resolution)
{
	static const struct { int n; double exact, tolerance; } cases[] = {
		{ 2, 5.653489, 0.06 }, { 3, 3.070892, 0.015 }, { 5, 2.024439, 0.01 },
		{ 10, 1.324947, 0.005 }, { 30, 0.735621, 0.005 }, { 100, 0.398138, 0.005 },
	};
	double v[100], zero[3] = { -1, 0, 1 }, same[4] = { 7, 7, 7, 7 };
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double r;

		bench_test_spread(v, cases[i].n, 1.0);
		r = kmmu_bench_resolution(v, cases[i].n);
		EXPECT_LT(fabs(r / cases[i].exact - 1), cases[i].tolerance)
			TH_LOG("n=%d: %g, exact %g", cases[i].n, r, cases[i].exact);
	}
	/* Twice the noise, twice the resolution. */
	bench_test_spread(v, 10, 2.0);
	EXPECT_LT(fabs(kmmu_bench_resolution(v, 10) / (2 * 1.324947) - 1), 0.005);
	EXPECT_TRUE(isnan(kmmu_bench_resolution(v, 1)));
	EXPECT_TRUE(isnan(kmmu_bench_resolution(zero, 3)));
	EXPECT_EQ(0, kmmu_bench_resolution(same, 4));
}

TEST(stop_rule)
{
	struct kmmu_bench b;

	/* No target, no budget: --samples samples, whatever the noise. */
	kmmu_bench_init(&b);
	EXPECT_EQ(KMMU_BENCH_SAMPLES_DEFAULT, kmmu_bench_max_samples(&b));
	EXPECT_EQ(KMMU_BENCH_MORE, kmmu_bench_stop_rule(&b, 4, 100, 50));
	EXPECT_EQ(KMMU_BENCH_STOP_SAMPLES, kmmu_bench_stop_rule(&b, 5, 0, 50));
	EXPECT_EQ(KMMU_BENCH_STOP_SAMPLES, kmmu_bench_stop_rule(&b, 5, 0, NAN));
	EXPECT_STREQ("samples", kmmu_bench_stop_name(KMMU_BENCH_STOP_SAMPLES));
	EXPECT_EQ(NULL, kmmu_bench_stop_name(KMMU_BENCH_MORE));

	/* A target: --samples at least, then until it is reached. */
	b.target_resolution = 5;
	EXPECT_EQ(KMMU_BENCH_SAMPLES_MAX, kmmu_bench_max_samples(&b));
	EXPECT_EQ(KMMU_BENCH_MORE, kmmu_bench_stop_rule(&b, 4, 0, 1));
	EXPECT_EQ(KMMU_BENCH_MORE, kmmu_bench_stop_rule(&b, 5, 0, 5.01));
	EXPECT_EQ(KMMU_BENCH_MORE, kmmu_bench_stop_rule(&b, 5, 0, NAN));
	EXPECT_EQ(KMMU_BENCH_STOP_TARGET, kmmu_bench_stop_rule(&b, 5, 0, 5));
	EXPECT_EQ(KMMU_BENCH_STOP_LIMIT, kmmu_bench_stop_rule(&b, KMMU_BENCH_SAMPLES_MAX, 0, 6));
	EXPECT_STREQ("target", kmmu_bench_stop_name(KMMU_BENCH_STOP_TARGET));
	EXPECT_STREQ("limit", kmmu_bench_stop_name(KMMU_BENCH_STOP_LIMIT));

	/* A budget of 10 s: stop when the next sample (as long as the mean so far) would end past it. */
	b.budget = 10;
	EXPECT_EQ(KMMU_BENCH_MORE, kmmu_bench_stop_rule(&b, 5, 8, 6));	/* 8 + 1.6 */
	EXPECT_EQ(KMMU_BENCH_STOP_BUDGET, kmmu_bench_stop_rule(&b, 5, 9, 6));	/* 9 + 1.8 */
	EXPECT_EQ(KMMU_BENCH_STOP_TARGET, kmmu_bench_stop_rule(&b, 5, 9, 4));	/* the target first */
	EXPECT_EQ(KMMU_BENCH_MORE, kmmu_bench_stop_rule(&b, 4, 60, 6));	/* --samples always */
	EXPECT_STREQ("budget", kmmu_bench_stop_name(KMMU_BENCH_STOP_BUDGET));
	/* A budget alone: sample until it runs out. */
	b.target_resolution = 0;
	EXPECT_EQ(KMMU_BENCH_SAMPLES_MAX, kmmu_bench_max_samples(&b));
	EXPECT_EQ(KMMU_BENCH_MORE, kmmu_bench_stop_rule(&b, 5, 1, 0));
	EXPECT_EQ(KMMU_BENCH_STOP_BUDGET, kmmu_bench_stop_rule(&b, 5, 9, 0));

	/* The longest a configuration samples, for the timeouts. */
	EXPECT_EQ(12, kmmu_bench_sampling_seconds(&b, 2));	/* 10 s budget + 1 sample */
	EXPECT_EQ(15, kmmu_bench_sampling_seconds(&b, 3));	/* --samples, above the budget */
	b.target_resolution = 5;
	b.budget = 0;
	EXPECT_EQ(KMMU_BENCH_SAMPLES_MAX * 2, kmmu_bench_sampling_seconds(&b, 2));
	b.target_resolution = 0;
	EXPECT_EQ(KMMU_BENCH_SAMPLES_DEFAULT * 2, kmmu_bench_sampling_seconds(&b, 2));
}

/* Noise that averages out: 100 +- 10, alternating. */
static double bench_test_noisy(int i)
{
	return i % 2 ? 110 : 90;
}

static void bench_test_read(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = 0;
	if (f)
		fclose(f);
}

TEST(next_sample)
{
	static double a[KMMU_BENCH_SAMPLES_MAX], c[KMMU_BENCH_SAMPLES_MAX];
	char path[] = "/tmp/bench_test_XXXXXX", buf[8192];
	double *metrics[2] = { a, c };
	struct kmmu_bench_sampling smp;
	struct kmmu_bench b;
	struct kmmu_result *res;
	int s, expect = 0, fd;

	/* Without the options: exactly --samples, the plain loop's indices. */
	kmmu_bench_init(&b);
	kmmu_bench_sampling_start(&smp, &b);
	while ((s = kmmu_bench_next_sample(&smp, metrics, 2)) >= 0) {
		ASSERT_EQ(expect++, s);
		a[s] = c[s] = bench_test_noisy(s);
	}
	ASSERT_EQ(KMMU_BENCH_SAMPLES_DEFAULT, smp.n);
	ASSERT_STREQ("samples", smp.stopped);
	ASSERT_EQ(-1, kmmu_bench_next_sample(&smp, metrics, 2));
	ASSERT_EQ(KMMU_BENCH_SAMPLES_DEFAULT, smp.n);

	/* A 5% target: more samples, until the noisier metric resolves it. */
	b.target_resolution = 5;
	kmmu_bench_sampling_start(&smp, &b);
	while ((s = kmmu_bench_next_sample(&smp, metrics, 2)) >= 0) {
		a[s] = 100 + (s % 2 ? 1 : -1);		/* resolves 5% at once */
		c[s] = bench_test_noisy(s);
	}
	ASSERT_STREQ("target", smp.stopped);
	ASSERT_GT(smp.n, KMMU_BENCH_SAMPLES_DEFAULT);
	ASSERT_LE(kmmu_bench_resolution(c, smp.n), 5.0);
	ASSERT_GT(kmmu_bench_resolution(c, smp.n - 1), 5.0);
	ASSERT_EQ(kmmu_bench_resolution(c, smp.n), smp.resolution);

	/* An unreachable target: the limit. */
	b.target_resolution = 1e-9;
	kmmu_bench_sampling_start(&smp, &b);
	while ((s = kmmu_bench_next_sample(&smp, metrics, 1)) >= 0)
		a[s] = bench_test_noisy(s);
	ASSERT_STREQ("limit", smp.stopped);
	ASSERT_EQ(KMMU_BENCH_SAMPLES_MAX, smp.n);

	/* ... or the budget: 10 ms samples, 0.1 s. */
	b.budget = 0.1;
	kmmu_bench_sampling_start(&smp, &b);
	while ((s = kmmu_bench_next_sample(&smp, metrics, 1)) >= 0) {
		a[s] = bench_test_noisy(s);
		usleep(10000);
	}
	ASSERT_STREQ("budget", smp.stopped);
	ASSERT_GE(smp.n, KMMU_BENCH_SAMPLES_DEFAULT);
	ASSERT_LE(smp.n, 10);
	ASSERT_LE(kmmu_now() - smp.start, 0.1 + 0.05);

	/* How it stopped goes into the parameters of the metrics recorded next. */
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	close(fd);
	res = kmmu_result_new("bench_test");
	ASSERT_NE(NULL, res);
	kmmu_bench_sampling_record(&smp, res);
	ASSERT_EQ(0, kmmu_result_metric(res, "m", "ns", KMMU_LOWER_IS_BETTER, a, smp.n));
	kmmu_result_param_reset(res);
	kmmu_bench_init(&b);
	kmmu_bench_sampling_start(&smp, &b);
	while ((s = kmmu_bench_next_sample(&smp, metrics, 1)) >= 0)
		;
	kmmu_bench_sampling_record(&smp, res);	/* nothing without the options */
	ASSERT_EQ(0, kmmu_result_metric(res, "plain", "ns", KMMU_LOWER_IS_BETTER, a, smp.n));
	ASSERT_EQ(0, kmmu_result_write(res, path));
	kmmu_result_free(res);
	bench_test_read(path, buf, sizeof(buf));
	unlink(path);
	ASSERT_NE(NULL, strstr(buf, "\"stopped\": \"budget\"")) TH_LOG("%s", buf);
	ASSERT_NE(NULL, strstr(buf, "\"target_resolution_pct\": \"1e-09\""));
	ASSERT_NE(NULL, strstr(buf, "\"budget_s\": \"0.1\""));
	ASSERT_EQ(NULL, strstr(strstr(buf, "\"plain\""), "\"stopped\""));
}

/* Parses one option into a bench that took adaptive sampling and pinning as @take says. */
static int bench_test_parse_option(bool take, const char *name, const char *arg, char *why,
				   size_t len, struct kmmu_bench *b)
{
	kmmu_bench_init(b);
	if (take) {
		kmmu_bench_take_adaptive(b);
		kmmu_bench_take_pin(b);
	}
	why[0] = 0;
	return kmmu_bench_option(b, name, arg, why, len);
}

TEST(sampling_and_pin_options)
{
	struct kmmu_bench b;
	char why[256], text[96];
	cpu_set_t allowed;
	int cpu, outside;

	/* Only where the benchmark does something with them. */
	ASSERT_EQ(-EINVAL, bench_test_parse_option(false, "target-resolution", "5", why, sizeof(why), &b));
	ASSERT_STREQ("--target-resolution: this benchmark does not support it", why);
	ASSERT_EQ(-EINVAL, bench_test_parse_option(false, "budget", "60", why, sizeof(why), &b));
	ASSERT_EQ(-EINVAL, bench_test_parse_option(false, "pin", "0", why, sizeof(why), &b));
	ASSERT_STREQ("--pin: this benchmark does not support it", why);

	ASSERT_EQ(1, bench_test_parse_option(true, "target-resolution", "2.5", why, sizeof(why), &b));
	ASSERT_EQ(2.5, b.target_resolution);
	ASSERT_EQ(-EINVAL, bench_test_parse_option(true, "target-resolution", "0", why, sizeof(why), &b));
	ASSERT_NE(NULL, strstr(why, "--target-resolution wants"));
	ASSERT_EQ(1, bench_test_parse_option(true, "budget", "90", why, sizeof(why), &b));
	ASSERT_EQ(90, b.budget);
	ASSERT_EQ(-EINVAL, bench_test_parse_option(true, "budget", "0", why, sizeof(why), &b));
	ASSERT_STREQ("--budget wants seconds from 0.01 to 86400", why);

	/* --pin: CPUs this process may run on, each once. */
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(allowed), &allowed));
	for (cpu = 0; !CPU_ISSET(cpu, &allowed); cpu++)
		;
	for (outside = CPU_SETSIZE - 1; CPU_ISSET(outside, &allowed); outside--)
		;
	snprintf(text, sizeof(text), "%d", cpu);
	ASSERT_EQ(1, bench_test_parse_option(true, "pin", text, why, sizeof(why), &b));
	ASSERT_EQ(1, b.nr_pin_cpus);
	ASSERT_EQ(cpu, b.pin_cpus[0]);
	snprintf(text, sizeof(text), "%d,%d", cpu, outside);
	ASSERT_EQ(-EINVAL, bench_test_parse_option(true, "pin", text, why, sizeof(why), &b));
	snprintf(text, sizeof(text), "--pin: CPU %d is not one this process may run on", outside);
	ASSERT_EQ(0, strncmp(why, text, strlen(text))) TH_LOG("%s", why);
	ASSERT_EQ(0, b.nr_pin_cpus);
	snprintf(text, sizeof(text), "%d,%d", cpu, cpu);
	ASSERT_EQ(-EINVAL, bench_test_parse_option(true, "pin", text, why, sizeof(why), &b));
	ASSERT_NE(NULL, strstr(why, "given twice"));
	ASSERT_EQ(-EINVAL, bench_test_parse_option(true, "pin", "x", why, sizeof(why), &b));
}

/*
 * kmmu_bench_vm_start() on VMs without vCPUs: a started one is refused
 * with the reason; a new one starts and is pinned as --pin says.
 */
TEST(vm_start_then_pin)
{
	struct kmmu_vm *vm = calloc(1, sizeof(*vm));
	cpu_set_t saved;
	char why[256] = "", cpu[16];
	struct kmmu_bench b;

	ASSERT_NE(NULL, vm);
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(saved), &saved));
	kmmu_bench_init(&b);
	kmmu_bench_take_pin(&b);
	snprintf(cpu, sizeof(cpu), "%d", sched_getcpu());
	ASSERT_EQ(1, kmmu_bench_option(&b, "pin", cpu, why, sizeof(why))) TH_LOG("%s", why);
	vm->started = true;
	ASSERT_EQ(-EBUSY, kmmu_bench_vm_start(&b, vm, NULL, NULL, why, sizeof(why)));
	ASSERT_STREQ("starting vCPUs: Device or resource busy", why);
	ASSERT_STREQ("", b.pinned);
	vm->started = false;
	ASSERT_EQ(0, kmmu_bench_vm_start(&b, vm, NULL, NULL, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_TRUE(vm->started);
	ASSERT_STREQ(cpu, b.pinned);
	free(vm);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(saved), &saved));
}

static void *bench_test_idle(void *arg)
{
	atomic_bool *stop = arg;

	while (!atomic_load(stop))
		usleep(1000);
	return NULL;
}

/*
 * kmmu_bench_pin() on a VM whose vCPU "threads" are plain threads: the
 * host thread and each vCPU thread end up on their CPU alone, and the
 * CPUs are recorded.  Needs two allowed CPUs.
 */
TEST(pin_threads)
{
	struct kmmu_bench_sampling smp;
	cpu_set_t allowed, got, saved;
	char why[256] = "", path[] = "/tmp/bench_test_XXXXXX", buf[4096], want[64];
	struct kmmu_result *res;
	struct kmmu_bench b;
	atomic_bool stop = false;
	struct kmmu_vm *vm;
	int cpus[2], n = 0, cpu, fd;
	double one = 1;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(allowed), &allowed));
	saved = allowed;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
		if (CPU_ISSET(cpu, &allowed))
			cpus[n++] = cpu;
	if (n < 2)
		SKIP(return, "one CPU allowed: nothing to pin apart");
	vm = calloc(1, sizeof(*vm));
	ASSERT_NE(NULL, vm);
	vm->nr_vcpus = 1;
	vm->vcpus[0].vm = vm;
	ASSERT_EQ(0, pthread_create(&vm->vcpus[0].thread, NULL, bench_test_idle, &stop));
	vm->vcpus[0].thread_started = true;

	kmmu_bench_init(&b);
	kmmu_bench_take_pin(&b);
	/* No --pin: nothing pinned, nothing recorded. */
	ASSERT_EQ(0, kmmu_bench_pin(&b, vm, why, sizeof(why)));
	ASSERT_STREQ("", b.pinned);
	/* The vCPU first, then the host thread: a list of 1 is too short for 2 threads. */
	snprintf(want, sizeof(want), "%d", cpus[1]);
	ASSERT_EQ(1, kmmu_bench_option(&b, "pin", want, why, sizeof(why)));
	ASSERT_EQ(-EINVAL, kmmu_bench_pin(&b, vm, why, sizeof(why)));
	ASSERT_STREQ("--pin names 1 CPUs; the host thread and 1 vCPUs need 2", why);
	snprintf(want, sizeof(want), "%d,%d", cpus[1], cpus[0]);
	ASSERT_EQ(1, kmmu_bench_option(&b, "pin", want, why, sizeof(why)));
	ASSERT_EQ(0, kmmu_bench_pin(&b, vm, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_STREQ(want, b.pinned);
	ASSERT_EQ(0, pthread_getaffinity_np(pthread_self(), sizeof(got), &got));
	ASSERT_EQ(1, CPU_COUNT(&got));
	ASSERT_TRUE(CPU_ISSET(cpus[1], &got));
	ASSERT_EQ(0, pthread_getaffinity_np(vm->vcpus[0].thread, sizeof(got), &got));
	ASSERT_EQ(1, CPU_COUNT(&got));
	ASSERT_TRUE(CPU_ISSET(cpus[0], &got));
	atomic_store(&stop, true);
	pthread_join(vm->vcpus[0].thread, NULL);
	free(vm);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(saved), &saved));

	/* The CPUs go with the metrics, even without adaptive sampling. */
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	close(fd);
	res = kmmu_result_new("bench_test");
	ASSERT_NE(NULL, res);
	kmmu_bench_sampling_start(&smp, &b);
	kmmu_bench_sampling_record(&smp, res);
	ASSERT_EQ(0, kmmu_result_metric(res, "m", "ns", KMMU_LOWER_IS_BETTER, &one, 1));
	ASSERT_EQ(0, kmmu_result_write(res, path));
	kmmu_result_free(res);
	bench_test_read(path, buf, sizeof(buf));
	unlink(path);
	snprintf(want, sizeof(want), "\"pin\": \"%d,%d\"", cpus[1], cpus[0]);
	ASSERT_NE(NULL, strstr(buf, want)) TH_LOG("%s", buf);
}

/* The summary's resolution line: the coarsest metric, and the target's count. */
TEST(resolution_summary)
{
	double fine[10], coarse[10], one = 3;
	struct kmmu_bench b;
	char line[512];

	bench_test_spread(fine, 10, 1.0);	/* 1.3% */
	bench_test_spread(coarse, 10, 4.0);	/* 5.3% */
	kmmu_bench_init(&b);
	kmmu_bench_resolution_line(&b, line, sizeof(line));
	ASSERT_STREQ("", line);
	kmmu_bench_metric(&b, "cfg=a", "one", "ns", KMMU_LOWER_IS_BETTER, &one, 1);
	kmmu_bench_resolution_line(&b, line, sizeof(line));
	ASSERT_STREQ("", line);		/* one sample resolves nothing */
	kmmu_bench_metric(&b, "cfg=a", "fine", "ns", KMMU_LOWER_IS_BETTER, fine, 10);
	kmmu_bench_metric(&b, "cfg=b", "coarse", "ns", KMMU_LOWER_IS_BETTER, coarse, 10);
	kmmu_bench_metric(&b, "cfg=c", "fine", "ns", KMMU_LOWER_IS_BETTER, fine, 10);
	kmmu_bench_resolution_line(&b, line, sizeof(line));
	ASSERT_EQ(0, strncmp(line, "# resolution: at most 5.3% (cfg=b coarse), ", 43))
		TH_LOG("%s", line);
	ASSERT_EQ(NULL, strstr(line, "target"));
	b.target_resolution = 2;
	kmmu_bench_metric(&b, "cfg=d", "fine", "ns", KMMU_LOWER_IS_BETTER, fine, 10);
	kmmu_bench_metric(&b, "cfg=e", "coarse", "ns", KMMU_LOWER_IS_BETTER, coarse, 10);
	kmmu_bench_metric(&b, "cfg=f", "fine", "ns", KMMU_LOWER_IS_BETTER, fine, 10);
	kmmu_bench_resolution_line(&b, line, sizeof(line));
	ASSERT_NE(NULL, strstr(line, "(cfg=e coarse)")) TH_LOG("%s", line);
	ASSERT_NE(NULL, strstr(line, "; 2 of 3 metrics resolve the target 2%")) TH_LOG("%s", line);
}

TEST_HARNESS_MAIN
