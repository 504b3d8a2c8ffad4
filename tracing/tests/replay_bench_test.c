// SPDX-License-Identifier: GPL-2.0
/*
 * replay_bench's command line (tracing/bench/replay_bench.c): every bad
 * one -- an unknown option, an option without its value, a value out of
 * range, an operand, a file that is no trace -- is one line on stderr
 * and exit status 2, before anything is measured; -h is the usage on
 * stdout and exit status 0.  The benchmark is the one next to this
 * test's directory (build/tracing/bench/replay_bench).
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "test_paths.h"

/* Runs @tool with @args (NULL-terminated), its stderr into @err; its exit status, or -1. */
static int run_bench(char *tool, const char *const *args, char *err, size_t len)
{
	char *argv[8] = { tool };
	int status;

	for (int i = 0; args[i] && i < 6; i++)
		argv[i + 1] = (char *)args[i];
	status = test_run_tool(argv, NULL, err, len);
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(bad_command_lines_are_one_line)
{
	static const struct {
		const char *args[4];
		const char *says;
	} bad[] = {
		{ { "--bogus" }, "unknown option '--bogus'" },
		{ { "-x" }, "unknown option '-x'" },
		{ { "--records" }, "'--records' needs a value" },
		{ { "--records", "0" }, "--records wants" },
		{ { "extra" }, "unexpected argument 'extra'" },
		{ { "--trace", "/nonexistent" }, "/nonexistent" },
	};
	char tool[PATH_MAX], out[2048], *nl;

	ASSERT_EQ(0, test_tool_path(tool, sizeof(tool), "bench/replay_bench"));
	ASSERT_EQ(0, access(tool, X_OK)) TH_LOG("no %s: build it first (make all)", tool);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(2, run_bench(tool, bad[i].args, out, sizeof(out))) TH_LOG("%s", bad[i].args[0]);
		nl = strchr(out, '\n');
		EXPECT_TRUE(nl && !nl[1]) TH_LOG("%s: not one line: '%s'", bad[i].args[0], out);
		EXPECT_NE(NULL, strstr(out, bad[i].says)) TH_LOG("'%s' does not say '%s'", out,
								bad[i].says);
	}
	EXPECT_EQ(0, run_bench(tool, (const char *[]){ "-h", NULL }, out, sizeof(out)));
	EXPECT_STREQ("", out);		/* the usage went to stdout */
}

TEST_HARNESS_MAIN
