/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Command-line helpers shared by the selftests.  The 6.1 kselftest harness
 * ignores argv, so a test parses its own options with getopt() before it
 * hands over to the harness; these helpers make the checks strict (no
 * trailing garbage, no negative counts, ranges).
 */
#ifndef KMMU_OPTS_H
#define KMMU_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


/* Exit status for a bad command line (one line on stderr, no TAP). */
#define KMMU_EXIT_USAGE 2

/*
 * Decimal (or 0x hex) integer in [@min, @max].  0, -EINVAL (not a number,
 * empty, trailing characters, a '-' sign where min >= 0) or -ERANGE.
 */
int kmmu_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int kmmu_parse_long(const char *s, long min, long max, long *out);
/*
 * Comma-separated list of integers in [@min, @max] ("10,509,4096"): at
 * most @max_n, stored in @out.  Number of values, or -EINVAL / -ERANGE
 * (an element as for kmmu_parse_u64, an empty element, more than @max_n).
 */
int kmmu_parse_u64_list(const char *s, uint64_t min, uint64_t max, uint64_t *out,
			int max_n);
/*
 * Comma-separated names, each one of @names[0..@n) ("get,ring"): clears
 * @sel[0..@n), then sets @sel[i] for every name given (repeats allowed).
 * The number of names given, or -EINVAL (an unknown or empty name).
 */
int kmmu_parse_names(const char *s, const char *const *names, int n, bool *sel);
/*
 * One of two things or both ("4k", "2m" or "both"): sets @sel[0] for @a,
 * @sel[1] for @b, both for "both".  0, or -EINVAL (anything else; @sel
 * untouched).
 */
int kmmu_parse_either(const char *s, const char *a, const char *b, bool sel[2]);
/* Seconds, possibly fractional, in [@min, @max]. */
int kmmu_parse_seconds(const char *s, double min, double max, double *out);

/*
 * Removes "--result FILE" / "--result=FILE" from argv (anywhere) and
 * stores FILE in *@path (left untouched if absent).  0 or -EINVAL when
 * FILE is missing.
 */
int kmmu_take_result_arg(int *argc, char **argv, const char **path);

/*
 * The command line of a test or benchmark.  Every bad one ends the same
 * way, so that the runner and the nightly can tell it from a failed run:
 * "PROG: WHAT (-h for help)" on stderr, exit status KMMU_EXIT_USAGE.
 */
void kmmu_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/*
 * The value of a program's own option that takes an integer in [@min,
 * @max] (kmmu_parse_u64()); anything else ends the program in the usage
 * error @what (kmmu_usage_error()).  One call per option, so that an
 * option's range and its message stand together.
 */
uint64_t kmmu_option_u64(const char *prog, const char *arg, uint64_t min, uint64_t max,
			 const char *what);

/*
 * getopt_long(argc, argv, @shortopts, @longopts, @longindex) that turns
 * what no program handles itself into usage errors: a missing value
 * (@shortopts must start with ':'), an unknown option and, at the end, a
 * stray operand.  Returns the next option as getopt_long() does, or -1
 * when the command line is done.
 */
int kmmu_getopt(const char *prog, int argc, char **argv, const char *shortopts,
		const struct option *longopts, int *longindex);

/*
 * For the tests of what ends the program (a usage error): runs @fn(@arg)
 * in a child whose stderr goes into @err (at most @len - 1 bytes) and
 * which exits with what @fn returns.  Its exit status, or -1 if it did
 * not exit.
 */
int kmmu_exit_status(int (*fn)(void *arg), void *arg, char *err, size_t len);

/* A seed for a run not given one (-S): from the time and the pid. */
uint64_t kmmu_time_seed(void);

/*
 * What a program's main() gives the shared parsers (kmmu_run_parse(),
 * kmmu_bench_parse()): -h prints @usage on stdout and exits 0; the
 * program's own options are the table @opts (struct kmmu_opt below), from
 * which the parsers build getopt_long()'s tables and which stores each
 * value or ends in kmmu_usage_error().
 */
struct kmmu_opt;

struct kmmu_cli_hooks {
	void (*usage)(FILE *f, const char *prog);
	const struct kmmu_opt *opts;
};

/*
 * The usage of a test without options of its own (kmmu_cli_hooks.usage,
 * opts NULL): -h says so and where the test is described; anything else
 * on its command line is a usage error.
 */
void kmmu_usage_no_options(FILE *f, const char *prog);

/*
 * A program's own options as one table, one line per option, ended by
 * KMMU_OPTS_END: the shared parsers build the getopt_long() tables from it
 * and store each value in its field, or end in the option's usage error.
 */
enum kmmu_opt_kind {
	KMMU_OPT_FLAG,		/* no value: *(bool *)field = true */
	KMMU_OPT_UINT,		/* integer in [min, max] (kmmu_parse_u64()) */
	KMMU_OPT_SECONDS,	/* number in [dmin, dmax] (kmmu_parse_seconds()) */
	KMMU_OPT_NAMES,		/* names[] (kmmu_parse_names()) into bool field[nr_names] */
	KMMU_OPT_EITHER,	/* names[0], names[1] or "both" (kmmu_parse_either()) */
	KMMU_OPT_CHOICE,	/* one of names[]: the integer field = values[its index] */
	KMMU_OPT_CUSTOM,	/* parse(prog, arg) stores or ends in a usage error */
};

/* What a KMMU_OPT_UINT value must also be. */
#define KMMU_OPT_EVEN		1
#define KMMU_OPT_POWER_OF_2	2

struct kmmu_opt {
	const char *name;	/* --NAME, or NULL */
	int letter;		/* -LETTER, or 0: long only */
	enum kmmu_opt_kind kind;
	void *field;
	size_t size;		/* of an integer field: 1, 2, 4 or 8 bytes */
	uint64_t min, max;
	unsigned int must;	/* KMMU_OPT_EVEN, KMMU_OPT_POWER_OF_2 */
	double dmin, dmax;
	const char *const *names;
	const int *values;	/* KMMU_OPT_CHOICE */
	int nr_names;
	void (*parse)(const char *prog, const char *arg);
	const char *what;	/* the usage error for a bad value */
};

#define KMMU_OPT_U(nm, l, f, lo, hi, m, w)				\
	{ .name = nm, .letter = l, .kind = KMMU_OPT_UINT, .field = &(f),	\
	  .size = sizeof(f), .min = lo, .max = hi, .must = m, .what = w }
#define KMMU_OPT_SEC(nm, l, f, lo, hi, w)				\
	{ .name = nm, .letter = l, .kind = KMMU_OPT_SECONDS, .field = &(f),	\
	  .dmin = lo, .dmax = hi, .what = w }
#define KMMU_OPT_BOOL(nm, l, f)						\
	{ .name = nm, .letter = l, .kind = KMMU_OPT_FLAG, .field = &(f), .size = sizeof(f) }
#define KMMU_OPT_NAMELIST(nm, l, sel, list, n, w)			\
	{ .name = nm, .letter = l, .kind = KMMU_OPT_NAMES, .field = (sel),	\
	  .names = list, .nr_names = n, .what = w }
#define KMMU_OPT_PAIR(nm, l, sel, list, w)				\
	{ .name = nm, .letter = l, .kind = KMMU_OPT_EITHER, .field = (sel),	\
	  .names = list, .nr_names = 2, .what = w }
#define KMMU_OPT_ONE_OF(nm, l, f, list, vals, n, w)			\
	{ .name = nm, .letter = l, .kind = KMMU_OPT_CHOICE, .field = &(f),	\
	  .size = sizeof(f), .names = list, .values = vals, .nr_names = n, .what = w }
#define KMMU_OPT_FN(nm, l, fn)						\
	{ .name = nm, .letter = l, .kind = KMMU_OPT_CUSTOM, .parse = fn }
#define KMMU_OPTS_END	{ .name = NULL, .letter = 0 }

/* getopt_long()'s val for the long-only option @i of a table. */
#define KMMU_OPT_VAL(i)		(0x100 + (i))
/* At most this many options in a table, shared ones included. */
#define KMMU_OPTS_MAX		32

/* The getopt_long() tables built from a struct kmmu_opt table. */
struct kmmu_getopt_tables {
	char shortopts[2 * KMMU_OPTS_MAX + 4];
	struct option longopts[KMMU_OPTS_MAX + 2];
};

/*
 * Fills @g: the short options ":" @shared, then every lettered option of
 * @t, then "h"; the long options @shared_long (@nr_shared of them), then
 * every named option of @t, then --help.  0, or -E2BIG (too many options, or
 * too many short option characters for @g).
 */
int kmmu_getopt_tables(struct kmmu_getopt_tables *g, const char *shared,
		       const struct option *shared_long, int nr_shared,
		       const struct kmmu_opt *t);

/*
 * Parses @arg for the option of @t whose getopt_long() val is @opt into
 * its field, or ends in its usage error.  False if @t has no such option.
 */
bool kmmu_opt_apply(const struct kmmu_opt *t, const char *prog, int opt, const char *arg);

/* @opt (and its @arg) as @h says. */
void kmmu_cli_dispatch(const struct kmmu_cli_hooks *h, const char *prog, int opt,
		       const char *arg);

/*
 * The options the randomized real-KVM tests share, parsed in one place
 * (as struct kmmu_bench does for the benchmarks): a test binds the ones it
 * takes to its own fields (kmmu_run_parse() then accepts their letters).
 */
struct kmmu_run_opts {
	int *vcpus;		/* -v N: min_vcpus to KMMU_MAX_VCPUS */
	int min_vcpus;
	long *ops;		/* -n N: operations, 0 to max_ops */
	long max_ops;
	double *duration;	/* -d S: seconds, 0.001 to 86400 */
	uint64_t *seed;		/* -S N: where absent, a time seed (unless keep_seed) */
	bool keep_seed;		/* no -S: *seed is left as it was */
	bool seeded;		/* out: -S was given */
	bool timed;		/* out: -d was given */
	/* For kmmu_run_parse(): */
	const char **result;	/* --result FILE goes here; NULL: no such option */
	struct kmmu_cli_hooks cli;
};

/*
 * kmmu_getopt() that handles the options @o binds (an unbound letter is
 * returned like any other) and returns the test's own; at the end (-1)
 * seeds an unseeded run.
 */
int kmmu_run_getopt(struct kmmu_run_opts *o, const char *prog, int argc, char **argv,
		    const char *shortopts, const struct option *longopts);

/*
 * A test's whole command line, the part every main() shared: --result
 * FILE taken out first (if @o->result), then kmmu_run_getopt() to the
 * end, and every option of the test's own to kmmu_cli_dispatch(@o->cli),
 * the options being the shared ones @o binds and the test's table
 * @o->cli.opts (kmmu_getopt_tables()).  Returns only if the command line
 * is good.
 */
void kmmu_run_parse(struct kmmu_run_opts *o, const char *prog, int *argc, char **argv);

#endif
