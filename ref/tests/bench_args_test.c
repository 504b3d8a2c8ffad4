// SPDX-License-Identifier: GPL-2.0
/*
 * The ref/ benchmarks' command line (ref/bench/bench_args.h): integer
 * options by long and short name within their ranges, --result, and
 * every usage error a one-line message with exit status 2.  Each case
 * parses in a child, since the parser exits on errors and on --help.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../bench/bench_args.h"

struct parsed {
	long samples, duration_ms;
	char result[64];
};

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s\n", prog);
}

/*
 * Parses @args (NULL-terminated, without the program name) in a child
 * and returns its exit status; the values it parsed come back through a
 * pipe into @out (zeroes if it exited in the parser), what it printed
 * (stdout and stderr) into @err.
 */
static int parse_in_child(const char *const *args, struct parsed *out, char *err, size_t len)
{
	int values[2], errs[2], status, argc = 1;
	char *argv[16] = { "bench" };
	ssize_t n;
	pid_t pid;

	while (args[argc - 1])
		argv[argc] = (char *)args[argc - 1], argc++;
	if (pipe(values) || pipe(errs))
		return -1;
	pid = fork();
	if (pid == 0) {
		long samples = 5, duration_ms = 100;
		const char *result = NULL;
		const struct bench_int_option opts[] = {
			{ "samples", 's', &samples, 1, 1000 },
			{ "duration-ms", 'd', &duration_ms, 10, 60000 },
		};

		dup2(errs[1], 1);
		dup2(errs[1], 2);
		bench_parse_options(argc, argv, opts, 2, &result, usage);
		out->samples = samples;
		out->duration_ms = duration_ms;
		snprintf(out->result, sizeof(out->result), "%s", result ? result : "");
		_exit(write(values[1], out, sizeof(*out)) == sizeof(*out) ? 0 : 3);
	}
	close(values[1]);
	close(errs[1]);
	n = read(values[0], out, sizeof(*out));
	if (n != sizeof(*out))
		memset(out, 0, sizeof(*out));
	n = read(errs[0], err, len - 1);
	err[n > 0 ? n : 0] = 0;
	close(values[0]);
	close(errs[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Values by long and short name; without an option, its default. */
TEST(values)
{
	static const struct {
		const char *args[8];
		struct parsed want;
	} cases[] = {
		{ { "--samples", "7", "-d", "250", "--result", "r.json" }, { 7, 250, "r.json" } },
		{ { "-s", "1000", "--duration-ms", "10" }, { 1000, 10, "" } },
		{ { NULL }, { 5, 100, "" } },
	};
	struct parsed p;
	char err[256];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(0, parse_in_child(cases[i].args, &p, err, sizeof(err)))
			TH_LOG("case %u: %s", i, err);
		EXPECT_EQ(cases[i].want.samples, p.samples) TH_LOG("case %u", i);
		EXPECT_EQ(cases[i].want.duration_ms, p.duration_ms) TH_LOG("case %u", i);
		EXPECT_STREQ(cases[i].want.result, p.result) TH_LOG("case %u", i);
		EXPECT_STREQ("", err) TH_LOG("case %u", i);
	}
}

TEST(help_exits_0)
{
	const char *const args[] = { "--help", NULL };
	struct parsed p;
	char err[256];

	EXPECT_EQ(0, parse_in_child(args, &p, err, sizeof(err)));
	EXPECT_STREQ("usage: bench\n", err);
	/* It exited in the parser: no values came back. */
	EXPECT_EQ(0, p.samples);
}

/* Every usage error: exit 2 and one line on stderr naming the problem. */
TEST(usage_errors)
{
	static const struct {
		const char *args[4];
		const char *says;
	} cases[] = {
		{ { "--samples", "0" }, "--samples wants 1..1000, got '0'" },
		{ { "-s", "1001" }, "--samples wants 1..1000, got '1001'" },
		{ { "--duration-ms", "9" }, "--duration-ms wants 10..60000, got '9'" },
		{ { "-d", "10x" }, "--duration-ms wants 10..60000, got '10x'" },
		{ { "--samples" }, "option '--samples' needs an argument" },
		{ { "-s" }, "option '-s' needs an argument" },
		{ { "--bogus" }, "unknown option '--bogus'" },
		{ { "-z" }, "unknown option '-z'" },
		{ { "operand" }, "unexpected argument 'operand'" },
	};
	struct parsed p;
	char err[256];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT_EQ(2, parse_in_child(cases[i].args, &p, err, sizeof(err)))
			TH_LOG("case %u", i);
		EXPECT_NE(NULL, strstr(err, cases[i].says)) TH_LOG("case %u: %s", i, err);
		EXPECT_EQ(1, !!strchr(err, '\n') && !strchr(strchr(err, '\n') + 1, '\n'))
			TH_LOG("case %u: not one line: %s", i, err);
	}
}

TEST_HARNESS_MAIN
