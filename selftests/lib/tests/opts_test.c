// SPDX-License-Identifier: GPL-2.0
/*
 * Option parsing helpers.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/opts.h"

TEST(parse_u64)
{
	uint64_t v = 99;

	ASSERT_EQ(0, kmmu_parse_u64("256", 1, 32768, &v));
	ASSERT_EQ(256, v);
	ASSERT_EQ(0, kmmu_parse_u64("0x10", 0, 100, &v));
	ASSERT_EQ(16, v);
	v = 99;
	ASSERT_EQ(-EINVAL, kmmu_parse_u64("-1", 0, 100, &v));
	ASSERT_EQ(-EINVAL, kmmu_parse_u64("+1", 0, 100, &v));
	ASSERT_EQ(-EINVAL, kmmu_parse_u64("", 0, 100, &v));
	ASSERT_EQ(-EINVAL, kmmu_parse_u64("12x", 0, 100, &v));
	ASSERT_EQ(-EINVAL, kmmu_parse_u64("abc", 0, 100, &v));
	ASSERT_EQ(-EINVAL, kmmu_parse_u64(NULL, 0, 100, &v));
	ASSERT_EQ(-ERANGE, kmmu_parse_u64("0", 1, 100, &v));
	ASSERT_EQ(-ERANGE, kmmu_parse_u64("101", 1, 100, &v));
	ASSERT_EQ(-ERANGE, kmmu_parse_u64("99999999999999999999999", 0, ~0ULL, &v));
	ASSERT_EQ(99, v);	/* untouched on error */
	ASSERT_EQ(0, kmmu_parse_u64("18446744073709551615", 0, ~0ULL, &v));
	ASSERT_EQ(~0ULL, v);
}

TEST(parse_u64_list)
{
	uint64_t v[4];

	ASSERT_EQ(3, kmmu_parse_u64_list("10,509,4096", 1, 32768, v, 4));
	ASSERT_EQ(10, v[0]);
	ASSERT_EQ(509, v[1]);
	ASSERT_EQ(4096, v[2]);
	ASSERT_EQ(1, kmmu_parse_u64_list("7", 1, 10, v, 4));
	ASSERT_EQ(7, v[0]);
	ASSERT_EQ(-EINVAL, kmmu_parse_u64_list("", 1, 10, v, 4));
	ASSERT_EQ(-EINVAL, kmmu_parse_u64_list("1,,2", 1, 10, v, 4));
	ASSERT_EQ(-EINVAL, kmmu_parse_u64_list("1,2,", 1, 10, v, 4));
	ASSERT_EQ(-EINVAL, kmmu_parse_u64_list("1,x", 1, 10, v, 4));
	ASSERT_EQ(-ERANGE, kmmu_parse_u64_list("1,11", 1, 10, v, 4));
	ASSERT_EQ(-ERANGE, kmmu_parse_u64_list("1,2,3,4,5", 1, 10, v, 4));
}

TEST(parse_names)
{
	static const char *const names[] = { "get", "clear", "clear-init", "ring" };
	bool sel[4] = { true, true, true, true };

	ASSERT_EQ(2, kmmu_parse_names("ring,clear", names, 4, sel));
	ASSERT_FALSE(sel[0]);
	ASSERT_TRUE(sel[1]);
	ASSERT_FALSE(sel[2]);
	ASSERT_TRUE(sel[3]);
	/* "clear" is a prefix of "clear-init": whole names only. */
	ASSERT_EQ(1, kmmu_parse_names("clear-init", names, 4, sel));
	ASSERT_FALSE(sel[1]);
	ASSERT_TRUE(sel[2]);
	ASSERT_EQ(2, kmmu_parse_names("get,get", names, 4, sel));
	ASSERT_TRUE(sel[0]);
	ASSERT_EQ(-EINVAL, kmmu_parse_names("", names, 4, sel));
	ASSERT_EQ(-EINVAL, kmmu_parse_names("get,", names, 4, sel));
	ASSERT_EQ(-EINVAL, kmmu_parse_names(",get", names, 4, sel));
	ASSERT_EQ(-EINVAL, kmmu_parse_names("get,,ring", names, 4, sel));
	ASSERT_EQ(-EINVAL, kmmu_parse_names("cle", names, 4, sel));
	ASSERT_EQ(-EINVAL, kmmu_parse_names("ring,x", names, 4, sel));
	ASSERT_EQ(-EINVAL, kmmu_parse_names(NULL, names, 4, sel));
}

TEST(parse_either)
{
	bool sel[2] = { false, false };

	ASSERT_EQ(0, kmmu_parse_either("4k", "4k", "2m", sel));
	ASSERT_TRUE(sel[0]);
	ASSERT_FALSE(sel[1]);
	ASSERT_EQ(0, kmmu_parse_either("2m", "4k", "2m", sel));
	ASSERT_FALSE(sel[0]);
	ASSERT_TRUE(sel[1]);
	ASSERT_EQ(0, kmmu_parse_either("both", "4k", "2m", sel));
	ASSERT_TRUE(sel[0] && sel[1]);
	sel[0] = false;
	ASSERT_EQ(-EINVAL, kmmu_parse_either("4k,2m", "4k", "2m", sel));
	ASSERT_EQ(-EINVAL, kmmu_parse_either("", "4k", "2m", sel));
	ASSERT_EQ(-EINVAL, kmmu_parse_either(NULL, "4k", "2m", sel));
	ASSERT_FALSE(sel[0]);
	ASSERT_TRUE(sel[1]);
}

TEST(parse_long_seconds)
{
	long l;
	double d;

	ASSERT_EQ(0, kmmu_parse_long("-5", -10, 10, &l));
	ASSERT_EQ(-5, l);
	ASSERT_EQ(-ERANGE, kmmu_parse_long("-11", -10, 10, &l));
	ASSERT_EQ(-EINVAL, kmmu_parse_long("1.5", -10, 10, &l));
	ASSERT_EQ(0, kmmu_parse_seconds("1.5", 0.001, 3600, &d));
	ASSERT_EQ(1500, (int)(d * 1000));
	ASSERT_EQ(-ERANGE, kmmu_parse_seconds("0", 0.001, 3600, &d));
	ASSERT_EQ(-ERANGE, kmmu_parse_seconds("-1", 0.001, 3600, &d));
	ASSERT_EQ(-EINVAL, kmmu_parse_seconds("nan", 0.001, 3600, &d));
	ASSERT_EQ(-EINVAL, kmmu_parse_seconds("5s", 0.001, 3600, &d));
}

TEST(take_result)
{
	char *a1[] = { "prog", "-v", "3", "--result", "out.json", "-s", "9", NULL };
	char *a2[] = { "prog", "--result=x.json", "-h", NULL };
	char *a3[] = { "prog", "-v", "--result", NULL };
	char *a4[] = { "prog", "--", "--result", "f", NULL };
	const char *path = NULL;
	int argc;

	argc = 7;
	ASSERT_EQ(0, kmmu_take_result_arg(&argc, a1, &path));
	ASSERT_EQ(5, argc);
	ASSERT_STREQ("out.json", path);
	ASSERT_STREQ("-v", a1[1]);
	ASSERT_STREQ("3", a1[2]);
	ASSERT_STREQ("-s", a1[3]);
	ASSERT_STREQ("9", a1[4]);
	ASSERT_EQ(NULL, a1[5]);
	argc = 3;
	ASSERT_EQ(0, kmmu_take_result_arg(&argc, a2, &path));
	ASSERT_EQ(2, argc);
	ASSERT_STREQ("x.json", path);
	ASSERT_STREQ("-h", a2[1]);
	argc = 3;
	ASSERT_EQ(-EINVAL, kmmu_take_result_arg(&argc, a3, &path));
	argc = 4;
	path = NULL;
	ASSERT_EQ(0, kmmu_take_result_arg(&argc, a4, &path));
	ASSERT_EQ(4, argc);
	ASSERT_EQ(NULL, path);
}

static const struct option opts_test_longopts[] = {
	{ "host-unmap", required_argument, NULL, 256 },
	{ "control", no_argument, NULL, 'c' },
	{ NULL, 0, NULL, 0 },
};

/* argv of "prog" and @args (NULL-terminated); argc. */
static int opts_test_argv(const char **args, char **argv, int max)
{
	int argc = 1;

	argv[0] = "prog";
	for (; *args && argc < max - 1; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	optind = 1;
	return argc;
}

/* Parses @arg's args (NULL-terminated, after "prog") with kmmu_getopt() to the end. */
static int opts_test_getopt_all(void *arg)
{
	char *argv[16];
	int argc = opts_test_argv(arg, argv, 16);

	while (kmmu_getopt("prog", argc, argv, ":v:h", opts_test_longopts, NULL) != -1)
		;
	return 0;
}

/* The same with kmmu_run_getopt(): -v from 2, -n to 10, -d, -S bound. */
static int opts_test_run_getopt_all(void *arg)
{
	char *argv[16];
	int argc = opts_test_argv(arg, argv, 16), vcpus;
	uint64_t seed;
	double secs;
	long ops;
	struct kmmu_run_opts o = { .vcpus = &vcpus, .min_vcpus = 2, .ops = &ops, .max_ops = 10,
				   .duration = &secs, .seed = &seed };

	while (kmmu_run_getopt(&o, "prog", argc, argv, ":v:n:d:S:", NULL) != -1)
		;
	return 0;
}

/*
 * Every bad command line: exit status 2 and exactly one line.  Each of
 * @cases runs @parse in a child; @cases ends with a NULL err.
 */
struct opts_test_bad {
	const char *args[4];
	const char *err;
};

static void opts_test_expect_bad(struct __test_metadata *_metadata, int (*parse)(void *),
				 const struct opts_test_bad *cases)
{
	char err[512];

	for (; cases->err; cases++) {
		ASSERT_EQ(KMMU_EXIT_USAGE,
			  kmmu_exit_status(parse, (void *)cases->args, err, sizeof(err)))
			TH_LOG("%s", cases->args[0]);
		ASSERT_STREQ(cases->err, err);
	}
}

TEST(getopt_errors)
{
	static const struct opts_test_bad bad[] = {
		{ { "-v" }, "prog: option -v needs a value (-h for help)\n" },
		{ { "--host-unmap" }, "prog: option --host-unmap needs a value (-h for help)\n" },
		{ { "-x" }, "prog: unknown option -x (-h for help)\n" },
		{ { "--bogus" }, "prog: unknown option --bogus (-h for help)\n" },
		{ { "--control=1" }, "prog: option --control takes no value (-h for help)\n" },
		{ { "-v", "1", "extra" }, "prog: unexpected argument 'extra' (-h for help)\n" },
		{ },
	};
	char *argv[] = { "prog", "-v", "3", "--host-unmap=5", "--control", "-h", NULL };
	char err[512];

	optind = 1;
	ASSERT_EQ('v', kmmu_getopt("prog", 6, argv, ":v:h", opts_test_longopts, NULL));
	ASSERT_STREQ("3", optarg);
	ASSERT_EQ(256, kmmu_getopt("prog", 6, argv, ":v:h", opts_test_longopts, NULL));
	ASSERT_STREQ("5", optarg);
	ASSERT_EQ('c', kmmu_getopt("prog", 6, argv, ":v:h", opts_test_longopts, NULL));
	ASSERT_EQ('h', kmmu_getopt("prog", 6, argv, ":v:h", opts_test_longopts, NULL));
	ASSERT_EQ(-1, kmmu_getopt("prog", 6, argv, ":v:h", opts_test_longopts, NULL));

	ASSERT_EQ(0, kmmu_exit_status(opts_test_getopt_all, (const char *[]){ "-v", "1", NULL },
				      err, sizeof(err)));
	ASSERT_STREQ("", err);
	opts_test_expect_bad(_metadata, opts_test_getopt_all, bad);
}

/* The randomized tests' shared options: parsed where bound, handed back where not. */
TEST(run_getopt)
{
	static const struct opts_test_bad bad[] = {
		{ { "-v", "1" }, "prog: -v wants a vCPU count from 2 to 64 (-h for help)\n" },
		{ { "-n", "11" }, "prog: -n wants an operation count from 0 to 10 (-h for help)\n" },
		{ { "-d", "0" },
		  "prog: -d wants a duration in seconds (0.001 to 86400) (-h for help)\n" },
		{ { "-S", "-1" }, "prog: -S wants an unsigned 64-bit seed (-h for help)\n" },
		{ },
	};
	char *all[] = { "prog", "-v", "3", "-n", "7", "-d", "0.5", "-S", "42", "-x", "1", NULL };
	char *unbound[] = { "prog", "-n", "5", NULL };
	int vcpus = 0;
	uint64_t seed = 0;
	double secs = 0;
	long ops = 0;
	struct kmmu_run_opts o = { .vcpus = &vcpus, .min_vcpus = 2, .ops = &ops, .max_ops = 10,
				   .duration = &secs, .seed = &seed };
	struct kmmu_run_opts seed_only = { .seed = &seed };
	struct kmmu_run_opts kept = { .seed = &seed, .keep_seed = true };

	optind = 1;
	ASSERT_EQ('x', kmmu_run_getopt(&o, "prog", 11, all, ":v:n:d:S:x:", NULL));
	ASSERT_STREQ("1", optarg);
	ASSERT_EQ(-1, kmmu_run_getopt(&o, "prog", 11, all, ":v:n:d:S:x:", NULL));
	ASSERT_EQ(3, vcpus);
	ASSERT_EQ(7, ops);
	ASSERT_EQ(0.5, secs);
	ASSERT_EQ(42, seed);
	ASSERT_TRUE(o.seeded);
	ASSERT_TRUE(o.timed);

	/* -n not bound: the test's own; no -S: a time seed. */
	seed = 0;
	optind = 1;
	ASSERT_EQ('n', kmmu_run_getopt(&seed_only, "prog", 3, unbound, ":n:", NULL));
	ASSERT_EQ(-1, kmmu_run_getopt(&seed_only, "prog", 3, unbound, ":n:", NULL));
	ASSERT_FALSE(seed_only.seeded);
	ASSERT_NE(0, seed);
	/* ... unless the test keeps its own. */
	seed = 7;
	optind = 1;
	ASSERT_EQ(-1, kmmu_run_getopt(&kept, "prog", 1, unbound, ":n:", NULL));
	ASSERT_EQ(7, seed);

	opts_test_expect_bad(_metadata, opts_test_run_getopt_all, bad);
}

/* kmmu_run_parse()'s hooks: what a test's main() gives it. */
static char opts_test_seen[64];

static void opts_test_usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s\n", prog);
	/* stdout is not captured by kmmu_exit_status(): say it on stderr too. */
	fprintf(stderr, "usage printed\n");
}

static void opts_test_x(const char *prog, const char *arg)
{
	size_t n = strlen(opts_test_seen);

	snprintf(opts_test_seen + n, sizeof(opts_test_seen) - n, "x=%s;", arg);
	if (!strcmp(arg, "bad"))
		kmmu_usage_error(prog, "-x wants good");
}

static bool opts_test_control;

static const struct kmmu_opt opts_test_own[] = {
	KMMU_OPT_FN(NULL, 'x', opts_test_x),
	KMMU_OPT_BOOL("control", 'c', opts_test_control),
	KMMU_OPTS_END,
};

static int opts_test_run_parse_all(void *arg)
{
	char *argv[16];
	int argc = opts_test_argv(arg, argv, 16), vcpus;
	const char *result = NULL;
	struct kmmu_run_opts o = { .vcpus = &vcpus, .min_vcpus = 1, .result = &result,
				   .cli = { opts_test_usage, opts_test_own } };

	kmmu_run_parse(&o, "prog", &argc, argv);
	return 0;
}

/* The whole command line: --result taken, -h the usage, the rest the test's. */
TEST(run_parse)
{
	static const struct opts_test_bad bad[] = {
		{ { "--result" }, "prog: --result needs a file name (-h for help)\n" },
		{ { "-x", "bad" }, "prog: -x wants good (-h for help)\n" },
		{ { "-v", "0" }, "prog: -v wants a vCPU count from 1 to 64 (-h for help)\n" },
		{ { "-q" }, "prog: unknown option -q (-h for help)\n" },
		{ },
	};
	char *argv[] = { "prog", "-x", "1", "--result", "r.json", "--control", "-v", "2", NULL };
	int argc = 8, vcpus = 0;
	const char *result = NULL;
	struct kmmu_run_opts o = { .vcpus = &vcpus, .min_vcpus = 1, .result = &result,
				   .cli = { opts_test_usage, opts_test_own } };
	char err[512];

	optind = 1;
	opts_test_seen[0] = 0;
	kmmu_run_parse(&o, "prog", &argc, argv);
	ASSERT_STREQ("r.json", result);
	ASSERT_EQ(6, argc);
	ASSERT_STREQ("x=1;", opts_test_seen);
	ASSERT_TRUE(opts_test_control);
	ASSERT_EQ(2, vcpus);

	ASSERT_EQ(0, kmmu_exit_status(opts_test_run_parse_all, (const char *[]){ "-h", NULL },
				      err, sizeof(err)));
	ASSERT_STREQ("usage printed\n", err);
	ASSERT_EQ(0, kmmu_exit_status(opts_test_run_parse_all,
				      (const char *[]){ "-h", "-x", "bad", NULL },
				      err, sizeof(err)));
	ASSERT_STREQ("usage printed\n", err);
	opts_test_expect_bad(_metadata, opts_test_run_parse_all, bad);
}

/* A program's integer option: its value in range, else the option's own usage error. */
static int opts_test_option_u64(void *arg)
{
	const char *const *args = arg;

	printf("%llu\n", (unsigned long long)kmmu_option_u64("prog", args[0], 2, 64,
							       "-s wants a count from 2 to 64"));
	return 0;
}

TEST(option_u64)
{
	static const struct opts_test_bad bad[] = {
		{ { "1" }, "prog: -s wants a count from 2 to 64 (-h for help)\n" },
		{ { "65" }, "prog: -s wants a count from 2 to 64 (-h for help)\n" },
		{ { "8x" }, "prog: -s wants a count from 2 to 64 (-h for help)\n" },
		{ },
	};

	ASSERT_EQ(2, kmmu_option_u64("prog", "2", 2, 64, "unused"));
	ASSERT_EQ(64, kmmu_option_u64("prog", "0x40", 2, 64, "unused"));
	opts_test_expect_bad(_metadata, opts_test_option_u64, bad);
}

TEST(time_seed)
{
	/* Not a constant: two runs a moment apart get different seeds. */
	uint64_t a = kmmu_time_seed();

	usleep(1000);
	ASSERT_NE(a, kmmu_time_seed());
}

/* A program's option table, one of each kind, and the fields it sets. */
static struct {
	int count;		/* -c, a 4-byte field */
	uint64_t even;		/* --even, even from 2 to 100 */
	uint8_t pow2;		/* --pow2, a power of two to 128 */
	double secs;		/* -t */
	bool quiet;		/* --quiet / -q */
	bool picked[3];		/* --pick a,b,c */
	bool pair[2];		/* --pair x|y|both */
	char custom[16];	/* --custom */
	int level;		/* --level low|high */
} opts_table_got;

static const char *const opts_table_names[] = { "a", "b", "c" };
static const char *const opts_table_levels[] = { "low", "high" };
static const int opts_table_level_values[] = { 10, 20 };

static void opts_table_custom(const char *prog, const char *arg)
{
	if (strlen(arg) >= sizeof(opts_table_got.custom))
		kmmu_usage_error(prog, "--custom wants a short word");
	strcpy(opts_table_got.custom, arg);
}

static const struct kmmu_opt opts_table[] = {
	KMMU_OPT_U(NULL, 'c', opts_table_got.count, 1, 1000, 0, "-c wants 1 to 1000"),
	KMMU_OPT_U("even", 0, opts_table_got.even, 2, 100, KMMU_OPT_EVEN,
		   "--even wants an even number"),
	KMMU_OPT_U("pow2", 0, opts_table_got.pow2, 1, 128, KMMU_OPT_POWER_OF_2,
		   "--pow2 wants a power of two"),
	KMMU_OPT_SEC(NULL, 't', opts_table_got.secs, 0.5, 10, "-t wants 0.5 to 10 s"),
	KMMU_OPT_BOOL("quiet", 'q', opts_table_got.quiet),
	KMMU_OPT_NAMELIST("pick", 0, opts_table_got.picked, opts_table_names, 3,
			  "--pick wants a, b, c"),
	KMMU_OPT_PAIR("pair", 0, opts_table_got.pair, ((const char *const[]){ "x", "y" }),
		      "--pair wants x, y or both"),
	KMMU_OPT_FN("custom", 0, opts_table_custom),
	KMMU_OPT_ONE_OF("level", 0, opts_table_got.level, opts_table_levels,
			opts_table_level_values, 2, "--level wants low or high"),
	KMMU_OPTS_END,
};

/* The getopt_long() tables: the shared options first, then the table's, then --help. */
TEST(opt_table_getopt_tables)
{
	static const struct option shared[] = { { "samples", required_argument, NULL, 0 } };
	struct kmmu_getopt_tables g;
	struct kmmu_opt many[KMMU_OPTS_MAX + 1] = { };
	int i;

	ASSERT_EQ(0, kmmu_getopt_tables(&g, "v:", shared, 1, opts_table));
	ASSERT_STREQ(":v:c:t:qh", g.shortopts);
	ASSERT_STREQ("samples", g.longopts[0].name);
	ASSERT_STREQ("even", g.longopts[1].name);
	ASSERT_EQ(KMMU_OPT_VAL(1), g.longopts[1].val);
	ASSERT_EQ(required_argument, g.longopts[1].has_arg);
	ASSERT_STREQ("quiet", g.longopts[3].name);
	ASSERT_EQ('q', g.longopts[3].val);
	ASSERT_EQ(no_argument, g.longopts[3].has_arg);
	ASSERT_STREQ("custom", g.longopts[6].name);
	ASSERT_STREQ("level", g.longopts[7].name);
	ASSERT_STREQ("help", g.longopts[8].name);
	ASSERT_EQ('h', g.longopts[8].val);
	ASSERT_EQ(NULL, g.longopts[9].name);

	for (i = 0; i < KMMU_OPTS_MAX; i++)
		many[i] = (struct kmmu_opt)KMMU_OPT_BOOL("x", 0, opts_table_got.quiet);
	ASSERT_EQ(-E2BIG, kmmu_getopt_tables(&g, "", shared, 1, many));
	ASSERT_EQ(0, kmmu_getopt_tables(&g, "", NULL, 0, many));
}

/*
 * The short options fit, or the table is refused: every lettered option
 * that takes a value needs two characters, after ":" and the shared
 * letters.  A full table of such options fits alone, not after the four
 * shared options of kmmu_run_parse().
 */
TEST(opt_table_short_options_fit)
{
	static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef";
	static uint64_t values[KMMU_OPTS_MAX];
	struct kmmu_getopt_tables g;
	struct kmmu_opt lettered[KMMU_OPTS_MAX + 1] = { };
	char want[2 * KMMU_OPTS_MAX + 4] = ":";
	int i;

	for (i = 0; i < KMMU_OPTS_MAX; i++) {
		lettered[i] = (struct kmmu_opt)KMMU_OPT_U(NULL, letters[i], values[i], 0, 9, 0,
							  "wants a digit");
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%c:", letters[i]);
	}
	strcat(want, "h");
	ASSERT_EQ(0, kmmu_getopt_tables(&g, "", NULL, 0, lettered));
	ASSERT_STREQ(want, g.shortopts);
	ASSERT_EQ(-E2BIG, kmmu_getopt_tables(&g, "v:n:d:S:", NULL, 0, lettered));
	/* Four fewer make room for them. */
	lettered[KMMU_OPTS_MAX - 4] = (struct kmmu_opt)KMMU_OPTS_END;
	ASSERT_EQ(0, kmmu_getopt_tables(&g, "v:n:d:S:", NULL, 0, lettered));
	ASSERT_EQ(0, strncmp(g.shortopts, ":v:n:d:S:A:B:", 13));
}

static int opts_table_run_parse_all(void *arg)
{
	char *argv[16];
	int argc = opts_test_argv(arg, argv, 16), vcpus;
	struct kmmu_run_opts o = { .vcpus = &vcpus, .min_vcpus = 1,
				   .cli = { opts_test_usage, opts_table } };

	kmmu_run_parse(&o, "prog", &argc, argv);
	return 0;
}

/* kmmu_run_parse() from a table: every kind stored in its field, or its usage error. */
TEST(opt_table_run_parse)
{
	/* A value out of range, or not as the option must have it. */
	static const struct opts_test_bad bad_values[] = {
		{ { "-c", "0" }, "prog: -c wants 1 to 1000 (-h for help)\n" },
		{ { "-c", "1001" }, "prog: -c wants 1 to 1000 (-h for help)\n" },
		{ { "--even=7" }, "prog: --even wants an even number (-h for help)\n" },
		{ { "--pow2=96" }, "prog: --pow2 wants a power of two (-h for help)\n" },
		{ { "--pow2=256" }, "prog: --pow2 wants a power of two (-h for help)\n" },
		{ },
	};
	static const struct opts_test_bad bad_kinds[] = {
		{ { "-t", "0.1" }, "prog: -t wants 0.5 to 10 s (-h for help)\n" },
		{ { "--pick=a,d" }, "prog: --pick wants a, b, c (-h for help)\n" },
		{ { "--pair=z" }, "prog: --pair wants x, y or both (-h for help)\n" },
		{ { "--custom=abcdefghijklmnopq" }, "prog: --custom wants a short word (-h for help)\n" },
		{ { "--level=mid" }, "prog: --level wants low or high (-h for help)\n" },
		{ },
	};
	/* What getopt_long() refuses: only the table's letters and names are options. */
	static const struct opts_test_bad bad_options[] = {
		{ { "--quiet=1" }, "prog: option --quiet takes no value (-h for help)\n" },
		{ { "-e" }, "prog: unknown option -e (-h for help)\n" },
		{ { "--count=1" }, "prog: unknown option --count=1 (-h for help)\n" },
		{ { "--even" }, "prog: option --even needs a value (-h for help)\n" },
		{ { "-n", "1" }, "prog: unknown option -n (-h for help)\n" },
		{ },
	};
	char *argv[] = { "prog", "-c", "700", "--even", "64", "--pow2=128", "-t", "2.5", "-q",
			 "--pick=c,a", "--pair", "y", "--custom=word", "-v", "3", "--level=high", NULL };
	int vcpus = 0;
	struct kmmu_run_opts o = { .vcpus = &vcpus, .min_vcpus = 1,
				   .cli = { opts_test_usage, opts_table } };
	int argc = 16;
	char err[512];


	optind = 1;
	kmmu_run_parse(&o, "prog", &argc, argv);
	ASSERT_EQ(700, opts_table_got.count);
	ASSERT_EQ(3, vcpus);
	ASSERT_EQ(64, opts_table_got.even);
	ASSERT_EQ(128, opts_table_got.pow2);
	ASSERT_EQ(2.5, opts_table_got.secs);
	ASSERT_TRUE(opts_table_got.quiet);
	ASSERT_TRUE(opts_table_got.picked[0] && !opts_table_got.picked[1] &&
		    opts_table_got.picked[2]);
	ASSERT_TRUE(!opts_table_got.pair[0] && opts_table_got.pair[1]);
	ASSERT_STREQ("word", opts_table_got.custom);
	ASSERT_EQ(20, opts_table_got.level);

	ASSERT_EQ(0, kmmu_exit_status(opts_table_run_parse_all, (const char *[]){ "-h", NULL },
				      err, sizeof(err)));
	ASSERT_STREQ("usage printed\n", err);
	opts_test_expect_bad(_metadata, opts_table_run_parse_all, bad_values);
	opts_test_expect_bad(_metadata, opts_table_run_parse_all, bad_kinds);
	opts_test_expect_bad(_metadata, opts_table_run_parse_all, bad_options);
}

TEST_HARNESS_MAIN
