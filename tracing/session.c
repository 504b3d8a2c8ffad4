// SPDX-License-Identifier: GPL-2.0
/*
 * A test's tracing session: capture + action log + checker + trace file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/result.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_file.h"
#include "kmmu/trace_session.h"

struct kmmu_trace_session {
	char test[64];
	struct kmmu_trace_capture *cap;
	struct kmmu_trace_log log;
};

struct kmmu_trace_session *kmmu_trace_session_start(const char *test, char *why, size_t why_len)
{
	const char *env = getenv("KMMU_CHECK");
	struct kmmu_trace_capture_opts opts = { 0 };
	struct kmmu_trace_session *s;
	int ret;

	if (env && !strcmp(env, "0")) {
		snprintf(why, why_len, "KMMU_CHECK=0");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	snprintf(s->test, sizeof(s->test), "%s", test);
	kmmu_trace_log_init(&s->log);
	/* Only what the checker reads ($KMMU_TRACE_ALL=1: every event, for reports). */
	env = getenv("KMMU_TRACE_ALL");
	opts.events = env && !strcmp(env, "1") ? NULL : kmmu_check_events;
	ret = kmmu_trace_capture_start(&s->cap, &opts, &s->log, why, why_len);
	if (ret) {
		kmmu_trace_log_free(&s->log);
		free(s);
		return NULL;
	}
	return s;
}

struct kmmu_trace_log *kmmu_trace_session_log(struct kmmu_trace_session *s)
{
	return s ? &s->log : NULL;
}

void kmmu_trace_session_vm(struct kmmu_trace_session *s, long multi_address_space_cap)
{
	if (s)
		kmmu_trace_action_vm(&s->log, multi_address_space_cap > 1 ? multi_address_space_cap : 1);
}

static void save_trace(struct kmmu_trace_session *s, const char *why, unsigned long long lost)
{
	const char *dir = getenv("KMMU_TRACE_SAVE");
	char path[512], header[1024], stamp[32], host_line[256];
	struct kmmu_host host;
	struct utsname uts;
	time_t now = time(NULL);
	int ret;

	if (!dir || !*dir)
		dir = getenv("KMMU_TRACE_DIR");
	if (!dir || !*dir)
		dir = "results";
	mkdir(dir, 0755);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", gmtime(&now));
	snprintf(path, sizeof(path), "%s/%s-%s-%d.kmmutrace", dir, s->test, stamp, (int)getpid());
	uname(&uts);
	kmmu_host_probe(&host);
	kmmu_host_format_line(&host, host_line, sizeof(host_line));
	snprintf(header, sizeof(header),
		 "kernel: %s\nhost: %s\nclock: mono\ntest: %s\nsaved because: %s\n"
		 "events missing on this kernel: %s\nlost events: %llu\n",
		 uts.release, host_line, s->test, why, kmmu_trace_capture_missing(s->cap), lost);
	ret = kmmu_trace_file_write(path, header, s->log.recs, s->log.nr);
	if (ret)
		printf("# checker: cannot write the trace file %s: %s\n", path, strerror(-ret));
	else
		printf("# checker: trace saved to %s (%" PRIu64 " records); re-check with"
		       " kmmu-trace check %s\n", path, s->log.nr, path);
}

int kmmu_trace_session_finish(struct kmmu_trace_session *s, struct kmmu_check_result *res_out)
{
	struct kmmu_checker_opts opts = { .report = stdout };
	struct kmmu_check_result *res;
	unsigned long long lost = 0;
	int ret;

	if (!s)
		return -EINVAL;
	ret = kmmu_trace_capture_stop(s->cap, &lost);
	kmmu_trace_log_sort(&s->log);
	if (ret) {
		printf("# checker: the trace is incomplete (%s, %llu events lost): nothing judged\n",
		       ret == -ENOMEM ? "out of memory" : "the kernel dropped events", lost);
		save_trace(s, "incomplete trace", lost);
		goto out;
	}
	res = malloc(sizeof(*res));
	if (!res) {
		ret = -ENOMEM;
		goto out;
	}
	fflush(stdout);
	ret = kmmu_check(s->log.recs, s->log.nr, &opts, res);
	if (!ret) {
		char line[256];
		FILE *mem;
		char *text = NULL;
		size_t len = 0;

		/* The summary as "# checker: ..." lines: TAP diagnostics. */
		mem = open_memstream(&text, &len);
		if (mem) {
			kmmu_check_print_summary(mem, res);
			fclose(mem);
			for (char *p = text, *eol; p && *p; p = eol ? eol + 1 : NULL) {
				eol = strchr(p, '\n');
				snprintf(line, sizeof(line), "%.*s", eol ? (int)(eol - p) : (int)strlen(p), p);
				printf("# checker: %s\n", line);
			}
			free(text);
		}
		printf("# checker: %" PRIu64 " records (%llu kernel events), %" PRIu64 " divergences\n",
		       res->nr_records, kmmu_trace_capture_count(s->cap), res->nr_divergences);
		if (res->nr_divergences) {
			save_trace(s, "divergence", 0);
			ret = 1;
		} else if (getenv("KMMU_TRACE_SAVE")) {
			save_trace(s, "KMMU_TRACE_SAVE", 0);
		}
		if (res_out)
			*res_out = *res;
	} else {
		printf("# checker: cannot replay the trace: %s\n", strerror(-ret));
	}
	free(res);
out:
	fflush(stdout);		/* a harness child ends with _exit() */
	kmmu_trace_capture_destroy(s->cap);
	kmmu_trace_log_free(&s->log);
	free(s);
	return ret;
}

void kmmu_trace_session_abort(struct kmmu_trace_session *s)
{
	if (!s)
		return;
	kmmu_trace_capture_destroy(s->cap);
	kmmu_trace_log_free(&s->log);
	free(s);
}
