// SPDX-License-Identifier: GPL-2.0
/*
 * The command line of the ref/ benchmarks: an integer option in a range,
 * and the usage errors getopt_long() leaves to the caller.  Each benchmark
 * is one program (each .c file in ref/bench), so these are inlines in a header
 * beside them rather than a library.  A usage error exits with status 2.
 */
#ifndef KMMU_REF_BENCH_ARGS_H
#define KMMU_REF_BENCH_ARGS_H

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

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

/* The benchmarks take no operands: one left after the options is an error. */
static inline void bench_no_operands(const char *prog, int argc, char **argv)
{
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (try -h)\n", prog, argv[optind]);
		exit(2);
	}
}

#endif /* KMMU_REF_BENCH_ARGS_H */
