// SPDX-License-Identifier: GPL-2.0
/*
 * Result files (schema kmmu-result/1, DESIGN.md "Result files").
 *
 * Collected in memory and written once, atomically: a run that fails half
 * way must never leave a truncated document where a complete one was.
 * The host block is the probe's description (tracing/host_probe.c): the
 * writer observes nothing itself.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/atomic_file.h"
#include "kmmu/result.h"

struct kmmu_param {
	char *key;
	char *value;		/* already JSON: a number or a quoted string */
};

struct kmmu_metric {
	char *name;
	char *unit;
	enum kmmu_direction dir;
	double *samples;
	int nr_samples;
	struct kmmu_param *params;
	int nr_params;
};

struct kmmu_test {
	char *name;
	enum kmmu_test_status status;
	double duration_s;
	char *reason;
};

struct kmmu_result {
	char *program;
	struct timespec start;
	struct kmmu_host host;

	struct kmmu_param *params;	/* pending, for the next metrics */
	int nr_params;

	struct kmmu_metric *metrics;
	int nr_metrics;
	struct kmmu_test *tests;
	int nr_tests;
};

static const char *tristate(int v)
{
	return v < 0 ? "?" : v ? "Y" : "N";
}

void kmmu_host_format_line(const struct kmmu_host *host, char *buf, size_t len)
{
	char slots[24];

	if (host->nr_memslots >= 0)
		snprintf(slots, sizeof(slots), "%ld", host->nr_memslots);
	else
		snprintf(slots, sizeof(slots), "?");
	snprintf(buf, len,
		 "kernel=%s backend=%s kvm=%s tdp=%s tdp_mmu=%s mmio_caching=%s memslots=%s cpus=%d",
		 host->kernel_release, host->kvm_backend,
		 host->kvm_available ? "available" : "unavailable", tristate(host->tdp),
		 tristate(host->tdp_mmu), tristate(host->mmio_caching), slots, host->cpus);
}

struct kmmu_result *kmmu_result_create(const char *program, const struct kmmu_host *host)
{
	struct kmmu_result *res;

	if (!host)
		return NULL;
	res = calloc(1, sizeof(*res));
	if (!res)
		return NULL;
	res->program = strdup(program ? program : "unknown");
	if (!res->program) {
		free(res);
		return NULL;
	}
	clock_gettime(CLOCK_REALTIME, &res->start);
	res->host = *host;
	return res;
}

static void free_params(struct kmmu_param *p, int n)
{
	for (int i = 0; i < n; i++) {
		free(p[i].key);
		free(p[i].value);
	}
	free(p);
}

void kmmu_result_free(struct kmmu_result *res)
{
	if (!res)
		return;
	for (int i = 0; i < res->nr_metrics; i++) {
		free(res->metrics[i].name);
		free(res->metrics[i].unit);
		free(res->metrics[i].samples);
		free_params(res->metrics[i].params, res->metrics[i].nr_params);
	}
	for (int i = 0; i < res->nr_tests; i++) {
		free(res->tests[i].name);
		free(res->tests[i].reason);
	}
	free_params(res->params, res->nr_params);
	free(res->metrics);
	free(res->tests);
	free(res->program);
	free(res);
}

struct kmmu_host *kmmu_result_host(struct kmmu_result *res)
{
	return &res->host;
}

/* JSON string escaping into a malloc'ed, quoted string. */
static char *json_quote(const char *s)
{
	size_t len = strlen(s), n = 0;
	char *out = malloc(len * 6 + 3);

	if (!out)
		return NULL;
	out[n++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			out[n++] = '\\';
			out[n++] = *p;
		} else if (*p < 0x20) {
			n += sprintf(out + n, "\\u%04x", *p);
		} else {
			out[n++] = *p;
		}
	}
	out[n++] = '"';
	out[n] = '\0';
	return out;
}

static int add_param(struct kmmu_result *res, const char *key, char *json_value)
{
	struct kmmu_param *p;

	if (!json_value)
		return -ENOMEM;
	/* A key given again replaces its value: loops set the same keys. */
	for (int i = 0; i < res->nr_params; i++) {
		if (!strcmp(res->params[i].key, key)) {
			free(res->params[i].value);
			res->params[i].value = json_value;
			return 0;
		}
	}
	p = realloc(res->params, (res->nr_params + 1) * sizeof(*p));
	if (!p)
		goto nomem;
	res->params = p;
	p[res->nr_params].key = strdup(key);
	if (!p[res->nr_params].key)
		goto nomem;
	p[res->nr_params++].value = json_value;
	return 0;
nomem:
	free(json_value);
	return -ENOMEM;
}

int kmmu_result_param_int(struct kmmu_result *res, const char *key, long long v)
{
	char buf[32];

	if (!res || !key)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%lld", v);
	return add_param(res, key, strdup(buf));
}

int kmmu_result_param_str(struct kmmu_result *res, const char *key, const char *v)
{
	if (!res || !key || !v)
		return -EINVAL;
	return add_param(res, key, json_quote(v));
}

void kmmu_result_param_reset(struct kmmu_result *res)
{
	free_params(res->params, res->nr_params);
	res->params = NULL;
	res->nr_params = 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double *kmmu_sorted_copy(const double *v, int n)
{
	double *s;

	if (n <= 0)
		return NULL;
	s = malloc(n * sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return s;
}

double kmmu_median(const double *v, int n)
{
	double *s = kmmu_sorted_copy(v, n), m;

	if (!s)
		return NAN;
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

double kmmu_cv(const double *v, int n)
{
	double mean = 0, var = 0;

	if (n < 2)
		return 0;
	for (int i = 0; i < n; i++)
		mean += v[i];
	mean /= n;
	if (mean == 0)
		return 0;
	for (int i = 0; i < n; i++)
		var += (v[i] - mean) * (v[i] - mean);
	var /= n - 1;
	return sqrt(var) / fabs(mean);
}

/*
 * Grows the array *@arr of *@nr elements of @size bytes by one: the new
 * element, zeroed (*@nr unchanged: the caller counts it once it is
 * complete), or NULL.
 */
static void *append_zeroed(void *arr, int nr, size_t size)
{
	void **p = arr;
	char *a = realloc(*p, (nr + 1) * size);

	if (!a)
		return NULL;
	*p = a;
	memset(a + nr * size, 0, size);
	return a + nr * size;
}

int kmmu_result_metric(struct kmmu_result *res, const char *name, const char *unit,
		       enum kmmu_direction dir, const double *samples, int nr_samples)
{
	struct kmmu_metric *m;

	if (!res || !name || !unit || !samples || nr_samples <= 0)
		return -EINVAL;
	for (int i = 0; i < nr_samples; i++)
		if (!isfinite(samples[i]))
			return -EINVAL;
	m = append_zeroed(&res->metrics, res->nr_metrics, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->name = strdup(name);
	m->unit = strdup(unit);
	m->samples = malloc(nr_samples * sizeof(double));
	m->params = calloc(res->nr_params ? res->nr_params : 1, sizeof(*m->params));
	if (!m->name || !m->unit || !m->samples || !m->params)
		goto nomem;
	memcpy(m->samples, samples, nr_samples * sizeof(double));
	m->nr_samples = nr_samples;
	m->dir = dir;
	for (int i = 0; i < res->nr_params; i++) {
		m->params[i].key = strdup(res->params[i].key);
		m->params[i].value = strdup(res->params[i].value);
		m->nr_params = i + 1;
		if (!m->params[i].key || !m->params[i].value)
			goto nomem;
	}
	res->nr_metrics++;
	return 0;
nomem:
	free(m->name);
	free(m->unit);
	free(m->samples);
	free_params(m->params, m->nr_params);
	return -ENOMEM;
}

int kmmu_result_test(struct kmmu_result *res, const char *name,
		     enum kmmu_test_status status, double duration_s, const char *reason)
{
	struct kmmu_test *t;

	if (!res || !name || status > KMMU_TEST_SKIP)
		return -EINVAL;
	t = append_zeroed(&res->tests, res->nr_tests, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->name = strdup(name);
	t->reason = reason ? strdup(reason) : NULL;
	if (!t->name || (reason && !t->reason)) {
		free(t->name);
		free(t->reason);
		return -ENOMEM;
	}
	t->status = status;
	t->duration_s = duration_s;
	res->nr_tests++;
	return 0;
}

static void put_string(FILE *f, const char *s)
{
	char *q = json_quote(s);

	fputs(q ? q : "\"\"", f);
	free(q);
}

static void put_tristate(FILE *f, int v)
{
	fputs(v < 0 ? "null" : v ? "true" : "false", f);
}

/* A member after the first, indented by @in: a string, or true/false/null (< 0). */
static void put_string_member(FILE *f, const char *in, const char *key, const char *v)
{
	fprintf(f, ",\n%s\"%s\": ", in, key);
	put_string(f, v);
}

static void put_tristate_member(FILE *f, const char *in, const char *key, int v)
{
	fprintf(f, ",\n%s\"%s\": ", in, key);
	put_tristate(f, v);
}

/*
 * The host block's members, each line indented by @in: in a result file
 * (nested, "    ") and on its own (kmmu_host_write_json(), "  ").
 */
static void write_host_members(FILE *f, const struct kmmu_host *h, const char *in,
			       const char *unavailable_reason)
{
	fprintf(f, "%s\"kernel_release\": ", in);
	put_string(f, h->kernel_release);
	put_string_member(f, in, "hostname", h->hostname);
	put_string_member(f, in, "kernel_cmdline", h->kernel_cmdline);
	put_string_member(f, in, "kvm_backend", h->kvm_backend);
	fprintf(f, ",\n%s\"kvm_available\": %s", in, h->kvm_available ? "true" : "false");
	if (unavailable_reason && !h->kvm_available)
		put_string_member(f, in, "kvm_unavailable_reason", unavailable_reason);
	put_tristate_member(f, in, "tdp", h->tdp);
	put_tristate_member(f, in, "tdp_mmu", h->tdp_mmu);
	put_tristate_member(f, in, "mmio_caching", h->mmio_caching);
	if (h->nr_memslots >= 0)
		fprintf(f, ",\n%s\"nr_memslots\": %ld", in, h->nr_memslots);
	else
		fprintf(f, ",\n%s\"nr_memslots\": null", in);
	fprintf(f, ",\n%s\"cpus\": %d,\n%s\"numa_nodes\": %d,\n%s\"memory_bytes\": %llu\n",
		in, h->cpus, in, h->numa_nodes, in, h->memory_bytes);
}

static void write_host(FILE *f, const struct kmmu_host *h)
{
	fputs("  \"host\": {\n", f);
	write_host_members(f, h, "    ", NULL);
	fputs("  }", f);
}

int kmmu_host_write_json(FILE *f, const struct kmmu_host *host, const char *unavailable_reason)
{
	if (!f || !host)
		return -EINVAL;
	fputs("{\n", f);
	write_host_members(f, host, "  ", unavailable_reason);
	fputs("}\n", f);
	return ferror(f) ? -EIO : 0;
}

static const char *status_name[] = {
	[KMMU_TEST_PASS] = "pass",
	[KMMU_TEST_FAIL] = "fail",
	[KMMU_TEST_SKIP] = "skip",
};

static void write_document(FILE *f, const struct kmmu_result *res)
{
	char start[32], run_id[128];
	struct tm tm;

	gmtime_r(&res->start.tv_sec, &tm);
	strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(run_id, sizeof(run_id), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(run_id + strlen(run_id), sizeof(run_id) - strlen(run_id), "-%s-%d",
		 res->program, (int)getpid());

	fprintf(f, "{\n  \"schema\": \"%s\",\n  \"run_id\": ", KMMU_RESULT_SCHEMA);
	put_string(f, run_id);
	fputs(",\n  \"start_time\": ", f);
	put_string(f, start);
	fputs(",\n  \"program\": ", f);
	put_string(f, res->program);
	fputs(",\n  \"suite_revision\": ", f);
	put_string(f, getenv("KMMU_REVISION") ? getenv("KMMU_REVISION") : "unknown");
	fputs(",\n", f);
	write_host(f, &res->host);

	fputs(",\n  \"tests\": [", f);
	for (int i = 0; i < res->nr_tests; i++) {
		const struct kmmu_test *t = &res->tests[i];

		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
		put_string(f, t->name);
		fprintf(f, ", \"status\": \"%s\", \"duration_s\": %.6f",
			status_name[t->status], t->duration_s);
		if (t->reason) {
			fputs(", \"reason\": ", f);
			put_string(f, t->reason);
		}
		fputs("}", f);
	}
	fputs(res->nr_tests ? "\n  ],\n" : "],\n", f);

	fputs("  \"metrics\": [", f);
	for (int i = 0; i < res->nr_metrics; i++) {
		const struct kmmu_metric *m = &res->metrics[i];

		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
		put_string(f, m->name);
		fputs(", \"unit\": ", f);
		put_string(f, m->unit);
		fprintf(f, ", \"direction\": \"%s\",\n     \"samples\": [",
			m->dir == KMMU_HIGHER_IS_BETTER ? "higher_is_better" : "lower_is_better");
		for (int j = 0; j < m->nr_samples; j++)
			fprintf(f, "%s%.17g", j ? ", " : "", m->samples[j]);
		fprintf(f, "], \"median\": %.17g, \"cv\": %.6g,\n     \"params\": {",
			kmmu_median(m->samples, m->nr_samples),
			kmmu_cv(m->samples, m->nr_samples));
		for (int j = 0; j < m->nr_params; j++) {
			fputs(j ? ", " : "", f);
			put_string(f, m->params[j].key);
			fprintf(f, ": %s", m->params[j].value);
		}
		fputs("}}", f);
	}
	fputs(res->nr_metrics ? "\n  ]\n}\n" : "]\n}\n", f);
}

/* kmmu_file_write_atomic()'s fill: the document through a stdio stream on a copy of @fd. */
static int fill_document(int fd, void *res)
{
	FILE *f;
	int ret = 0;

	fd = dup(fd);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		return ret;
	}
	write_document(f, res);
	if (fflush(f) || ferror(f))
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -EIO;
	return ret;
}

int kmmu_result_write(struct kmmu_result *res, const char *path)
{
	if (!res)
		return -EINVAL;
	if (!path)
		path = getenv("KMMU_RESULT");
	if (!path || !*path)
		return 0;
	return kmmu_file_write_atomic(path, fill_document, res);
}
