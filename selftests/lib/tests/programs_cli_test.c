// SPDX-License-Identifier: GPL-2.0
/*
 * Every selftest program (build/selftests/NAME_test, benchmarks included)
 * refuses a bad command line before it does anything: an unknown option
 * and an operand are one line on stderr and exit status 2
 * (kmmu_run_parse(), kmmu_bench_parse()).  The 6.1 kselftest harness
 * ignores argv, so a program that hands it over unparsed runs its tests
 * on whatever it was given; each program here gets 30 s to refuse.
 * Run from the build tree (an installed kselftest tree has no
 * build/selftests beside it: SKIP).
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/opts.h"

struct program_run {
	const char *prog, *arg;
};

/* In kmmu_exit_status()'s child: @run's program, its stdout thrown away. */
static int exec_program(void *arg)
{
	const struct program_run *run = arg;
	int null = open("/dev/null", O_WRONLY);

	dup2(null, 1);
	alarm(30);	/* kept across exec: one that runs its tests is killed */
	execl(run->prog, run->prog, run->arg, (char *)NULL);
	return 127;
}

/* @prog @arg with stderr into @err; its exit status, or -1 (killed, or no run). */
static int run_program(const char *prog, const char *arg, char *err, size_t len)
{
	struct program_run run = { prog, arg };

	return kmmu_exit_status(exec_program, &run, err, len);
}

TEST(bad_command_lines_are_refused_in_one_line)
{
	static const char *const bad[] = { "--no-such-option", "an-operand" };
	char dir[PATH_MAX], prog[PATH_MAX + 256], err[4096];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	int programs = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;

	ASSERT_LT(0, n);
	dir[n] = '\0';
	if (!strstr(dir, "/selftests/lib/tests/"))
		SKIP(return, "not run from a build tree, whose selftests/ it checks");
	/* build/selftests/lib/tests/THIS -> build/selftests */
	for (int up = 0; up < 3; up++)
		*strrchr(dir, '/') = '\0';
	d = opendir(dir);
	ASSERT_NE(NULL, d) TH_LOG("%s", dir);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, "_test"))
			continue;
		snprintf(prog, sizeof(prog), "%s/%s", dir, e->d_name);
		if (stat(prog, &st) || !S_ISREG(st.st_mode) || access(prog, X_OK))
			continue;
		programs++;
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char *nl;

			EXPECT_EQ(2, run_program(prog, bad[i], err, sizeof(err)))
				TH_LOG("%s %s: %s", e->d_name, bad[i], err);
			nl = strchr(err, '\n');
			EXPECT_TRUE(nl && !nl[1]) TH_LOG("%s %s: not one line: '%s'", e->d_name,
							 bad[i], err);
			EXPECT_NE(NULL, strstr(err, bad[i])) TH_LOG("%s: '%s' does not name '%s'",
								     e->d_name, err, bad[i]);
		}
	}
	closedir(d);
	/* The suite's dozen, built with this test (make all). */
	EXPECT_LE(10, programs);
}

TEST_HARNESS_MAIN
