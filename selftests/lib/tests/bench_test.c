// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark helpers: option handling, percentiles, the noise verdict.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
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

static void bench_test_option(const char *prog, int opt, const char *arg)
{
	if (opt == 'd' && strcmp(arg, "1"))
		kmmu_usage_error(prog, "--duration here wants 1");
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
	b.cli = (struct kmmu_cli_hooks){ bench_test_usage, bench_test_option };
	optind = 1;
	kmmu_bench_parse(&b, "prog", &argc, argv, bench_test_longopts);
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

TEST_HARNESS_MAIN
