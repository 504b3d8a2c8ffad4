// SPDX-License-Identifier: GPL-2.0
/*
 * The result-file writer: the document parses as JSON with the schema's
 * fields (checked by Debian's python3, the same reader plots/ uses), values
 * survive escaping, statistics are right, and a failed write never leaves a
 * partial file behind or destroys an existing one.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/result.h"

FIXTURE(result) {
	char dir[64];
	char path[128];
	struct kmmu_result *res;
};

/*
 * A host as the probe (tracing/host_probe.c) describes one: the writer
 * writes what it is given and probes nothing.
 */
static const struct kmmu_host test_host = {
	.kernel_release = "6.1.0-test",
	.kvm_backend = "svm",
	.kvm_available = true,
	.tdp = 0,
	.tdp_mmu = 1,
	.mmio_caching = -1,
	.nr_memslots = -1,
	.cpus = 2,
	.numa_nodes = 1,
	.memory_bytes = 4ULL << 30,
	.hostname = "test\"host",
	.kernel_cmdline = "console=ttyS0 nokaslr",
};

FIXTURE_SETUP(result)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/kmmu-result-test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/r.json", self->dir);
	self->res = kmmu_result_create("result_test", &test_host);
	ASSERT_NE(NULL, self->res);
}

FIXTURE_TEARDOWN(result)
{
	kmmu_result_free(self->res);
	unlink(self->path);
	rmdir(self->dir);
}

/* Runs a python3 assertion script over the document at @path. */
static int python_check(const char *path, const char *expr)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
		 "sys.exit(0 if (%s) else 1)' %s", expr, path);
	return system(cmd);
}

TEST_F(result, document_round_trips)
{
	double samples[] = { 3, 1, 2, 10 };

	ASSERT_EQ(0, kmmu_result_param_int(self->res, "slots", 509));
	ASSERT_EQ(0, kmmu_result_param_str(self->res, "order", "ran\"dom\\\n"));
	ASSERT_EQ(0, kmmu_result_metric(self->res, "lookups", "Mops/s",
					KMMU_HIGHER_IS_BETTER, samples, 4));
	kmmu_result_param_reset(self->res);
	ASSERT_EQ(0, kmmu_result_metric(self->res, "latency", "us",
					KMMU_LOWER_IS_BETTER, samples, 1));
	ASSERT_EQ(0, kmmu_result_test(self->res, "t1", KMMU_TEST_SKIP, 0.5, "no /dev/kvm"));
	kmmu_result_host(self->res)->nr_memslots = 32764;
	ASSERT_EQ(0, kmmu_result_write(self->res, self->path));

	ASSERT_EQ(0, python_check(self->path,
		"d[\"schema\"] == \"kmmu-result/1\" and d[\"program\"] == \"result_test\""
		" and __import__(\"re\").fullmatch(r\"\\d{8}T\\d{6}Z-result_test-\\d+\", d[\"run_id\"])"
		" and d[\"host\"] == {\"kernel_release\": \"6.1.0-test\", \"hostname\": \"test\\\"host\","
		" \"kernel_cmdline\": \"console=ttyS0 nokaslr\","
		" \"kvm_backend\": \"svm\", \"kvm_available\": True, \"tdp\": False, \"tdp_mmu\": True,"
		" \"mmio_caching\": None, \"nr_memslots\": 32764, \"cpus\": 2, \"numa_nodes\": 1,"
		" \"memory_bytes\": 4294967296}"
		" and len(d[\"metrics\"]) == 2"
		" and d[\"metrics\"][0][\"median\"] == 2.5"
		" and d[\"metrics\"][0][\"samples\"] == [3, 1, 2, 10]"
		" and d[\"metrics\"][0][\"direction\"] == \"higher_is_better\""
		" and d[\"metrics\"][0][\"params\"] == {\"slots\": 509, \"order\": \"ran\\\"dom\\\\\\n\"}"
		" and d[\"metrics\"][1][\"params\"] == {}"
		" and d[\"metrics\"][1][\"direction\"] == \"lower_is_better\""
		" and d[\"tests\"] == [{\"name\": \"t1\", \"status\": \"skip\", \"duration_s\": 0.5,"
		" \"reason\": \"no /dev/kvm\"}]"));
}

TEST_F(result, param_given_again_replaces)
{
	double one = 1;

	ASSERT_EQ(0, kmmu_result_param_int(self->res, "slots", 10));
	ASSERT_EQ(0, kmmu_result_param_int(self->res, "slots", 4096));
	ASSERT_EQ(0, kmmu_result_metric(self->res, "m", "x", KMMU_LOWER_IS_BETTER, &one, 1));
	ASSERT_EQ(0, kmmu_result_write(self->res, self->path));
	ASSERT_EQ(0, python_check(self->path, "d[\"metrics\"][0][\"params\"] == {\"slots\": 4096}"));
}

TEST_F(result, bad_input_is_rejected)
{
	double nan_sample = NAN, one = 1;

	EXPECT_EQ(-EINVAL, kmmu_result_metric(self->res, "m", "x", KMMU_LOWER_IS_BETTER, &one, 0));
	EXPECT_EQ(-EINVAL, kmmu_result_metric(self->res, "m", "x", KMMU_LOWER_IS_BETTER,
					      &nan_sample, 1));
	EXPECT_EQ(-EINVAL, kmmu_result_metric(self->res, NULL, "x", KMMU_LOWER_IS_BETTER, &one, 1));
	EXPECT_EQ(-EINVAL, kmmu_result_test(self->res, NULL, KMMU_TEST_PASS, 0, NULL));
	EXPECT_EQ(-EINVAL, kmmu_result_param_str(self->res, "k", NULL));
}

TEST_F(result, failed_write_keeps_the_old_file)
{
	char bad[160];
	struct stat st;
	double one = 1;

	ASSERT_EQ(0, kmmu_result_metric(self->res, "m", "x", KMMU_LOWER_IS_BETTER, &one, 1));
	ASSERT_EQ(0, kmmu_result_write(self->res, self->path));
	ASSERT_EQ(0, stat(self->path, &st));

	/* A directory that does not exist: an error, and nothing half-written. */
	snprintf(bad, sizeof(bad), "%s/missing/r.json", self->dir);
	EXPECT_EQ(-ENOENT, kmmu_result_write(self->res, bad));

	/* Renaming over a directory fails: the temp file must be gone again. */
	snprintf(bad, sizeof(bad), "%s/isdir", self->dir);
	ASSERT_EQ(0, mkdir(bad, 0755));
	EXPECT_NE(0, kmmu_result_write(self->res, bad));
	ASSERT_EQ(0, rmdir(bad));
	ASSERT_EQ(0, python_check(self->path, "len(d[\"metrics\"]) == 1"));
	/* Only r.json is left in the directory. */
	snprintf(bad, sizeof(bad), "test $(ls %s | wc -l) -eq 1", self->dir);
	ASSERT_EQ(0, system(bad));
}

TEST_F(result, no_path_no_file)
{
	unsetenv("KMMU_RESULT");
	EXPECT_EQ(0, kmmu_result_write(self->res, NULL));
	setenv("KMMU_RESULT", self->path, 1);
	EXPECT_EQ(0, kmmu_result_write(self->res, NULL));
	EXPECT_EQ(0, access(self->path, F_OK));
}

TEST(statistics)
{
	double v[] = { 5, 1, 4, 2, 3 };
	double same[] = { 7, 7, 7 };
	double two[] = { 1, 3 };
	double *sorted;

	EXPECT_EQ(3, kmmu_median(v, 5));
	EXPECT_EQ(2, kmmu_median(two, 2));
	EXPECT_TRUE(isnan(kmmu_median(v, 0)));
	/* The sorted copy leaves the samples as they were. */
	sorted = kmmu_sorted_copy(v, 5);
	ASSERT_NE(NULL, sorted);
	for (int i = 0; i < 5; i++)
		EXPECT_EQ(i + 1, sorted[i]);
	EXPECT_EQ(5, v[0]);
	free(sorted);
	EXPECT_EQ(NULL, kmmu_sorted_copy(v, 0));
	EXPECT_EQ(0, kmmu_cv(same, 3));
	EXPECT_EQ(0, kmmu_cv(v, 1));
	/* mean 2, sample stddev sqrt(2): cv = 0.7071 */
	EXPECT_LT(fabs(kmmu_cv(two, 2) - sqrt(2) / 2), 1e-12);
}

TEST(host_line)
{
	struct kmmu_host host = test_host;
	char line[256];

	host.nr_memslots = 509;
	kmmu_host_format_line(&host, line, sizeof(line));
	EXPECT_STREQ("kernel=6.1.0-test backend=svm kvm=available tdp=N tdp_mmu=Y mmio_caching=?"
		     " memslots=509 cpus=2", line);
	host.nr_memslots = -1;
	host.kvm_available = false;
	kmmu_host_format_line(&host, line, sizeof(line));
	EXPECT_NE(NULL, strstr(line, " kvm=unavailable "));
	EXPECT_NE(NULL, strstr(line, " memslots=? "));
}

/* The host block on its own (kmmu_hostinfo): the result file's members. */
TEST(host_json)
{
	struct kmmu_host host = test_host;
	char path[] = "/tmp/kmmu-host-json.XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	ASSERT_LE(0, fd);
	f = fdopen(fd, "w");
	ASSERT_NE(NULL, f);
	host.kvm_available = false;
	ASSERT_EQ(0, kmmu_host_write_json(f, &host, "cannot open /dev/kvm: \"x\""));
	fclose(f);
	EXPECT_EQ(0, python_check(path,
		"d == {\"kernel_release\": \"6.1.0-test\", \"hostname\": \"test\\\"host\","
		" \"kernel_cmdline\": \"console=ttyS0 nokaslr\","
		" \"kvm_backend\": \"svm\", \"kvm_available\": False,"
		" \"kvm_unavailable_reason\": \"cannot open /dev/kvm: \\\"x\\\"\","
		" \"tdp\": False, \"tdp_mmu\": True, \"mmio_caching\": None, \"nr_memslots\": None,"
		" \"cpus\": 2, \"numa_nodes\": 1, \"memory_bytes\": 4294967296}"));
	/* Available: no reason, whatever is given. */
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, kmmu_host_write_json(f, &test_host, "ignored"));
	fclose(f);
	EXPECT_EQ(0, python_check(path, "\"kvm_unavailable_reason\" not in d and d[\"kvm_available\"]"));
	unlink(path);
	EXPECT_EQ(-EINVAL, kmmu_host_write_json(stdout, NULL, NULL));
}

TEST(no_host_no_result)
{
	EXPECT_EQ(NULL, kmmu_result_create("result_test", NULL));
}

TEST_HARNESS_MAIN
