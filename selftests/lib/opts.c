// SPDX-License-Identifier: GPL-2.0
/*
 * Strict option parsing helpers (see kmmu/opts.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmmu/opts.h"

int kmmu_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s)
		return -EINVAL;
	while (*s == ' ' || *s == '\t')
		s++;
	/* strtoull accepts "-1" as a huge number: reject any sign. */
	if (*s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (end == s || *end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
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

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 0);
	if (end == s || *end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int kmmu_parse_seconds(const char *s, double min, double max, double *out)
{
	double v;
	char *end;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || isnan(v))
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
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
