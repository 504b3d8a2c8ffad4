// SPDX-License-Identifier: GPL-2.0
/*
 * Strict option parsing helpers (see kmmu/opts.h).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"

/*
 * What strtoull()/strtol()/strtod() left: -EINVAL unless they took all of
 * @s (and something), -ERANGE if they overflowed (errno, cleared before)
 * or the value is outside the caller's range (@in_range false), else 0.
 */
static int kmmu_parse_end(const char *s, const char *end, bool in_range)
{
	if (end == s || *end)
		return -EINVAL;
	if (errno == ERANGE || !in_range)
		return -ERANGE;
	return 0;
}

int kmmu_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int r;

	if (!s || !*s)
		return -EINVAL;
	while (*s == ' ' || *s == '\t')
		s++;
	/* strtoull accepts "-1" as a huge number: reject any sign. */
	if (*s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	r = kmmu_parse_end(s, end, v >= min && v <= max);
	if (!r)
		*out = v;
	return r;
}

int kmmu_parse_names(const char *s, const char *const *names, int n, bool *sel)
{
	const char *e;
	int i, given = 0;

	memset(sel, 0, n * sizeof(*sel));
	if (!s)
		return -EINVAL;
	for (;;) {
		e = strchr(s, ',');
		if (!e)
			e = s + strlen(s);
		for (i = 0; i < n; i++)
			if (strlen(names[i]) == (size_t)(e - s) && !strncmp(s, names[i], e - s))
				break;
		if (i == n || e == s)
			return -EINVAL;
		sel[i] = true;
		given++;
		if (!*e)
			return given;
		s = e + 1;
	}
}

int kmmu_parse_either(const char *s, const char *a, const char *b, bool sel[2])
{
	bool both = s && !strcmp(s, "both");

	if (!s || (!both && strcmp(s, a) && strcmp(s, b)))
		return -EINVAL;
	sel[0] = both || !strcmp(s, a);
	sel[1] = both || !strcmp(s, b);
	return 0;
}

int kmmu_parse_u64_list(const char *s, uint64_t min, uint64_t max, uint64_t *out,
			int max_n)
{
	char buf[32];
	int n = 0, r;

	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);

		if (!len || len >= sizeof(buf))
			return -EINVAL;
		if (n == max_n)
			return -ERANGE;
		memcpy(buf, s, len);
		buf[len] = 0;
		r = kmmu_parse_u64(buf, min, max, &out[n]);
		if (r)
			return r;
		n++;
		if (!comma)
			return n;
		s = comma + 1;
	}
}

int kmmu_parse_long(const char *s, long min, long max, long *out)
{
	long v;
	char *end;
	int r;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 0);
	r = kmmu_parse_end(s, end, v >= min && v <= max);
	if (!r)
		*out = v;
	return r;
}

int kmmu_parse_seconds(const char *s, double min, double max, double *out)
{
	double v;
	char *end;
	int r;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (isnan(v))
		return -EINVAL;
	r = kmmu_parse_end(s, end, v >= min && v <= max);
	if (!r)
		*out = v;
	return r;
}

int kmmu_take_result_arg(int *argc, char **argv, const char **path)
{
	int i, j;

	for (i = 1; i < *argc; i++) {
		int take;

		if (!strcmp(argv[i], "--"))
			break;
		if (!strncmp(argv[i], "--result=", 9)) {
			if (!argv[i][9])
				return -EINVAL;
			*path = argv[i] + 9;
			take = 1;
		} else if (!strcmp(argv[i], "--result")) {
			if (i + 1 >= *argc)
				return -EINVAL;
			*path = argv[i + 1];
			take = 2;
		} else {
			continue;
		}
		for (j = i; j + take <= *argc; j++)
			argv[j] = argv[j + take];
		*argc -= take;
		i--;
	}
	return 0;
}

void kmmu_usage_error(const char *prog, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* One write: stderr is unbuffered, and readers take the line whole. */
	fprintf(stderr, "%s: %s (-h for help)\n", prog, what);
	exit(KMMU_EXIT_USAGE);
}

uint64_t kmmu_option_u64(const char *prog, const char *arg, uint64_t min, uint64_t max,
			 const char *what)
{
	uint64_t u;

	if (kmmu_parse_u64(arg, min, max, &u))
		kmmu_usage_error(prog, "%s", what);
	return u;
}

int kmmu_getopt(const char *prog, int argc, char **argv, const char *shortopts,
		const struct option *longopts, int *longindex)
{
	int opt;

	/* The errors are ours, in the one-line form. */
	opterr = 0;
	opt = getopt_long(argc, argv, shortopts, longopts, longindex);
	switch (opt) {
	case ':':
		kmmu_usage_error(prog, "option %s needs a value", argv[optind - 1]);
	case '?':
		/* getopt_long() gives a flag's val for "--flag=V": say so, by name. */
		if (optopt && !strncmp(argv[optind - 1], "--", 2))
			kmmu_usage_error(prog, "option %.*s takes no value",
					 (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
		if (optopt)
			kmmu_usage_error(prog, "unknown option -%c", optopt);
		kmmu_usage_error(prog, "unknown option %s", argv[optind - 1]);
	case -1:
		if (optind < argc)
			kmmu_usage_error(prog, "unexpected argument '%s'", argv[optind]);
		return -1;
	default:
		return opt;
	}
}

int kmmu_exit_status(int (*fn)(void *arg), void *arg, char *err, size_t len)
{
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (!pid) {
		close(pfd[0]);
		dup2(pfd[1], 2);
		_exit(fn(arg));
	}
	close(pfd[1]);
	n = read(pfd[0], err, len - 1);
	err[n > 0 ? n : 0] = 0;
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

uint64_t kmmu_time_seed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000007ULL ^ t.tv_nsec ^ getpid();
}

/* One of the shared options (kmmu_run_getopt()), or false if @opt is not bound. */
static bool kmmu_run_option(struct kmmu_run_opts *o, const char *prog, int opt,
			    const char *arg)
{
	uint64_t u;

	switch (opt) {
	case 'v':
		if (!o->vcpus)
			return false;
		if (kmmu_parse_u64(arg, o->min_vcpus, KMMU_MAX_VCPUS, &u))
			kmmu_usage_error(prog, "-v wants a vCPU count from %d to %d",
					 o->min_vcpus, KMMU_MAX_VCPUS);
		*o->vcpus = u;
		return true;
	case 'n':
		if (!o->ops)
			return false;
		if (kmmu_parse_u64(arg, 0, o->max_ops, &u))
			kmmu_usage_error(prog, "-n wants an operation count from 0 to %ld",
					 o->max_ops);
		*o->ops = u;
		return true;
	case 'd':
		if (!o->duration)
			return false;
		if (kmmu_parse_seconds(arg, 0.001, 86400, o->duration))
			kmmu_usage_error(prog, "-d wants a duration in seconds (0.001 to 86400)");
		o->timed = true;
		return true;
	case 'S':
		if (!o->seed)
			return false;
		if (kmmu_parse_u64(arg, 0, ~0ULL, o->seed))
			kmmu_usage_error(prog, "-S wants an unsigned 64-bit seed");
		o->seeded = true;
		return true;
	}
	return false;
}

int kmmu_run_getopt(struct kmmu_run_opts *o, const char *prog, int argc, char **argv,
		    const char *shortopts, const struct option *longopts)
{
	int opt;

	while ((opt = kmmu_getopt(prog, argc, argv, shortopts, longopts, NULL)) != -1)
		if (!kmmu_run_option(o, prog, opt, optarg))
			return opt;
	if (o->seed && !o->seeded && !o->keep_seed)
		*o->seed = kmmu_time_seed();
	return -1;
}

void kmmu_usage_no_options(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [-h]\n"
		"No options: what it tests is at the head of selftests/%s.c.\n", prog, prog);
}

void kmmu_cli_dispatch(const struct kmmu_cli_hooks *h, const char *prog, int opt,
		       const char *arg)
{
	if (opt == 'h' && h->usage) {
		h->usage(stdout, prog);
		exit(0);
	}
	if (!kmmu_opt_apply(h->opts, prog, opt, arg))
		kmmu_usage_error(prog, "option -%c is not handled", opt);
}

void kmmu_run_parse(struct kmmu_run_opts *o, const char *prog, int *argc, char **argv)
{
	struct kmmu_getopt_tables g;
	char shared[16] = "";
	int opt;

	if (o->result && kmmu_take_result_arg(argc, argv, o->result))
		kmmu_usage_error(prog, "--result needs a file name");
	/* The letters of the shared options the test binds, then its own. */
	snprintf(shared, sizeof(shared), "%s%s%s%s", o->vcpus ? "v:" : "",
		 o->ops ? "n:" : "", o->duration ? "d:" : "", o->seed ? "S:" : "");
	if (kmmu_getopt_tables(&g, shared, NULL, 0, o->cli.opts))
		kmmu_usage_error(prog, "too many options in the program's table");
	while ((opt = kmmu_run_getopt(o, prog, *argc, argv, g.shortopts, g.longopts)) != -1)
		kmmu_cli_dispatch(&o->cli, prog, opt, optarg);
}

int kmmu_getopt_tables(struct kmmu_getopt_tables *g, const char *shared,
		       const struct option *shared_long, int nr_shared,
		       const struct kmmu_opt *t)
{
	/* ':', the shared letters, "h" and the NUL; each lettered option's below. */
	size_t len = 0, need = strlen(shared) + 3;
	int i, n = 0;

	for (i = 0; t && (t[i].name || t[i].letter); i++)
		if (t[i].letter)
			need += t[i].kind == KMMU_OPT_FLAG ? 1 : 2;
	if (nr_shared + i > KMMU_OPTS_MAX || need > sizeof(g->shortopts))
		return -E2BIG;
	g->shortopts[len++] = ':';
	len += sprintf(g->shortopts + len, "%s", shared);
	for (n = 0; n < nr_shared; n++)
		g->longopts[n] = shared_long[n];
	for (i = 0; t && (t[i].name || t[i].letter); i++) {
		bool value = t[i].kind != KMMU_OPT_FLAG;

		if (t[i].letter) {
			g->shortopts[len++] = t[i].letter;
			if (value)
				g->shortopts[len++] = ':';
		}
		if (t[i].name)
			g->longopts[n++] = (struct option){ t[i].name,
				value ? required_argument : no_argument, NULL,
				t[i].letter ? t[i].letter : KMMU_OPT_VAL(i) };
	}
	strcpy(g->shortopts + len, "h");
	g->longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	g->longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	return 0;
}

/* @u into the integer field of @o, whatever its width. */
static void kmmu_opt_store(const struct kmmu_opt *o, uint64_t u)
{
	switch (o->size) {
	case 1:
		*(uint8_t *)o->field = u;
		break;
	case 2:
		*(uint16_t *)o->field = u;
		break;
	case 4:
		*(uint32_t *)o->field = u;
		break;
	default:
		*(uint64_t *)o->field = u;
	}
}

/* The value of the option @o, or -EINVAL / -ERANGE for a bad one. */
static int kmmu_opt_parse(const struct kmmu_opt *o, const char *prog, const char *arg)
{
	uint64_t u;
	int i;

	switch (o->kind) {
	case KMMU_OPT_FLAG:
		kmmu_opt_store(o, 1);
		return 0;
	case KMMU_OPT_UINT:
		if (kmmu_parse_u64(arg, o->min, o->max, &u) ||
		    ((o->must & KMMU_OPT_EVEN) && (u & 1)) ||
		    ((o->must & KMMU_OPT_POWER_OF_2) && (u & (u - 1))))
			return -EINVAL;
		kmmu_opt_store(o, u);
		return 0;
	case KMMU_OPT_SECONDS:
		return kmmu_parse_seconds(arg, o->dmin, o->dmax, o->field);
	case KMMU_OPT_NAMES:
		return kmmu_parse_names(arg, o->names, o->nr_names, o->field) < 0 ? -EINVAL : 0;
	case KMMU_OPT_EITHER:
		return kmmu_parse_either(arg, o->names[0], o->names[1], o->field);
	case KMMU_OPT_CHOICE:
		for (i = 0; i < o->nr_names; i++) {
			if (!strcmp(arg, o->names[i])) {
				kmmu_opt_store(o, o->values[i]);
				return 0;
			}
		}
		return -EINVAL;
	case KMMU_OPT_CUSTOM:
		o->parse(prog, arg);
		return 0;
	}
	return -EINVAL;
}

bool kmmu_opt_apply(const struct kmmu_opt *t, const char *prog, int opt, const char *arg)
{
	int i;

	for (i = 0; t && (t[i].name || t[i].letter); i++) {
		if (opt != (t[i].letter ? t[i].letter : KMMU_OPT_VAL(i)))
			continue;
		if (kmmu_opt_parse(&t[i], prog, arg))
			kmmu_usage_error(prog, "%s", t[i].what);
		return true;
	}
	return false;
}
