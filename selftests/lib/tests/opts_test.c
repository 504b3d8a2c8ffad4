// SPDX-License-Identifier: GPL-2.0
/*
 * Option parsing helpers.
 */
#include <errno.h>
#include <getopt.h>
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

/* Parses @arg's args (NULL-terminated, after "prog") with kmmu_getopt() to the end. */
static int opts_test_getopt_all(void *arg)
{
	const char **args = arg;
	char *argv[16] = { "prog" };
	int argc = 1;

	for (; *args && argc < 15; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	optind = 1;
	while (kmmu_getopt("prog", argc, argv, ":v:h", opts_test_longopts, NULL) != -1)
		;
	return 0;
}

/* In a child, as a usage error exits: the exit status and stderr. */
static int opts_test_parse(const char **args, char *err, size_t len)
{
	return kmmu_exit_status(opts_test_getopt_all, args, err, len);
}

TEST(getopt_errors)
{
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

	ASSERT_EQ(0, opts_test_parse((const char *[]){ "-v", "1", NULL }, err, sizeof(err)));
	ASSERT_STREQ("", err);
	/* Every bad command line: exit status 2 and exactly one line. */
	ASSERT_EQ(KMMU_EXIT_USAGE, opts_test_parse((const char *[]){ "-v", NULL },
						    err, sizeof(err)));
	ASSERT_STREQ("prog: option -v needs a value (-h for help)\n", err);
	ASSERT_EQ(KMMU_EXIT_USAGE, opts_test_parse((const char *[]){ "--host-unmap", NULL },
						    err, sizeof(err)));
	ASSERT_STREQ("prog: option --host-unmap needs a value (-h for help)\n", err);
	ASSERT_EQ(KMMU_EXIT_USAGE, opts_test_parse((const char *[]){ "-x", NULL },
						    err, sizeof(err)));
	ASSERT_STREQ("prog: unknown option -x (-h for help)\n", err);
	ASSERT_EQ(KMMU_EXIT_USAGE, opts_test_parse((const char *[]){ "--bogus", NULL },
						    err, sizeof(err)));
	ASSERT_STREQ("prog: unknown option --bogus (-h for help)\n", err);
	ASSERT_EQ(KMMU_EXIT_USAGE, opts_test_parse((const char *[]){ "-v", "1", "extra", NULL },
						    err, sizeof(err)));
	ASSERT_STREQ("prog: unexpected argument 'extra' (-h for help)\n", err);
}

TEST(time_seed)
{
	/* Not a constant: two runs a moment apart get different seeds. */
	uint64_t a = kmmu_time_seed();

	usleep(1000);
	ASSERT_NE(a, kmmu_time_seed());
}

TEST_HARNESS_MAIN
