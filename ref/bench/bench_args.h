/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the ref/ benchmarks share around their measurements: the command
 * line (integer options in a range, the common options and the usage errors
 * getopt_long() leaves to the caller, exit status 2), the host line and
 * the result file.  Each benchmark is one program (each .c file in
 * ref/bench), so these are inlines in a header beside them, not a library.
 */
#ifndef KMMU_REF_BENCH_ARGS_H
#define KMMU_REF_BENCH_ARGS_H

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmmu/host_probe.h>
#include <kmmu/result.h>

/* --@name's @arg as an integer in [@lo, @hi], else a usage error. */
static inline long bench_arg_long(const char *prog, const char *name, const char *arg,
				  long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi) {
		fprintf(stderr, "%s: --%s wants %ld..%ld, got '%s'\n", prog, name, lo, hi, arg);
		exit(2);
	}
	return v;
}

/*
 * What getopt_long() refused with opterr = 0 and ":" leading the short
 * options: @opt is ':' for a missing argument, anything else unknown.
 */
static inline void bench_bad_option(const char *prog, int opt, char **argv)
{
	if (opt == ':')
		fprintf(stderr, "%s: option '%s' needs an argument (try -h)\n", prog,
			argv[optind - 1]);
	else
		fprintf(stderr, "%s: unknown option '%s' (try -h)\n", prog, argv[optind - 1]);
	exit(2);
}

/*
 * The options every benchmark has, --result FILE into *@result_path and
 * --help (@usage on stdout, then exit 0), and getopt_long()'s errors: the
 * default case of the benchmark's option switch.
 */
static inline void bench_common_option(const char *prog, int opt, char **argv,
				       const char **result_path,
				       void (*usage)(FILE *f, const char *prog))
{
	switch (opt) {
	case 'r':
		*result_path = optarg;
		return;
	case 'h':
		usage(stdout, prog);
		exit(0);
	default:
		bench_bad_option(prog, opt, argv);
	}
}

/* The benchmarks take no operands: one left after the options is an error. */
static inline void bench_no_operands(const char *prog, int argc, char **argv)
{
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (try -h)\n", prog, argv[optind]);
		exit(2);
	}
}

/* An integer option of a benchmark: --@name N (or -@letter N) into *@val. */
struct bench_int_option {
	const char *name;
	char letter;
	long *val;
	long lo, hi;
};

#define BENCH_MAX_INT_OPTIONS	8

/*
 * The whole command line of a benchmark: its integer options @opts (@nr
 * of them, each checked against its range), --result FILE into
 * *@result_path and --help; an unknown or incomplete option, a value out
 * of range or an operand is a one-line usage error and exit status 2.
 */
static inline void bench_parse_options(int argc, char **argv,
				       const struct bench_int_option *opts, int nr,
				       const char **result_path,
				       void (*usage)(FILE *f, const char *prog))
{
	struct option longopts[BENCH_MAX_INT_OPTIONS + 3] = { { 0 } };
	char shortopts[3 * BENCH_MAX_INT_OPTIONS + 5] = ":hr:";
	size_t len = strlen(shortopts);
	int i, opt;

	if (nr > BENCH_MAX_INT_OPTIONS)
		abort();
	for (i = 0; i < nr; i++) {
		longopts[i] = (struct option){ opts[i].name, required_argument, NULL,
					       opts[i].letter };
		shortopts[len++] = opts[i].letter;
		shortopts[len++] = ':';
	}
	longopts[nr] = (struct option){ "result", required_argument, NULL, 'r' };
	longopts[nr + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	/* Our own messages, not getopt's as well. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		for (i = 0; i < nr && opts[i].letter != opt; i++)
			;
		if (i < nr)
			*opts[i].val = bench_arg_long(argv[0], opts[i].name, optarg, opts[i].lo,
						      opts[i].hi);
		else
			bench_common_option(argv[0], opt, argv, result_path, usage);
	}
	bench_no_operands(argv[0], argc, argv);
}

/* The first line of the output: "# PROG: " and the host the result is from. */
static inline void bench_print_host(const char *prog, struct kmmu_result *res)
{
	char line[256];

	kmmu_host_format_line(kmmu_result_host(res), line, sizeof(line));
	printf("# %s: %s\n", prog, line);
}

/*
 * The end of a benchmark's result: @res written to @path (NULL:
 * $KMMU_RESULT) and freed.  1, said on stderr, if the write fails.
 */
static inline int bench_finish_result(const char *prog, struct kmmu_result *res,
				      const char *path)
{
	int r = kmmu_result_write(res, path);

	kmmu_result_free(res);
	if (r) {
		fprintf(stderr, "%s: writing the result file: %s\n", prog, strerror(-r));
		return 1;
	}
	return 0;
}

#endif /* KMMU_REF_BENCH_ARGS_H */
