// SPDX-License-Identifier: GPL-2.0
/*
 * A test's tracing session: capture + action log + checker + trace file.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/ctl_file.h"
#include "kmmu/host_probe.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_dat.h"
#include "kmmu/trace_file.h"
#include "kmmu/trace_session.h"

struct kmmu_trace_session {
	char test[64];
	struct kmmu_trace_capture *cap;
	struct kmmu_trace_log log;
	/*
	 * Notifier calls of other tasks: the capture above sees only this
	 * process, so their SPTE changes are missing from it.
	 */
	struct kmmu_trace_others others;
	uint32_t stats_flags;		/* KMMU_STATS_* */
	struct kmmu_host host;		/* probed once, at the start */
	/* kmmu_trace_session_stop(): done, its result, the events the kernel lost. */
	bool stopped;
	int stop_ret;
	unsigned long long lost;
};

void kmmu_trace_log_host(struct kmmu_trace_capture *cap, const struct kmmu_host *host,
			 struct kmmu_trace_log *log)
{
	struct kmmu_trace_record r;
	unsigned int inlined;

	kmmu_rec_stamp(&r, KMMU_ACT_HOST);
	r.host.kprobes = kmmu_trace_capture_kprobes(cap, &inlined);
	r.host.kprobes_inlined = inlined;
	if (!strcmp(host->kvm_backend, "vmx"))
		r.host.backend = KMMU_HOST_VMX;
	else if (!strcmp(host->kvm_backend, "svm"))
		r.host.backend = KMMU_HOST_SVM;
	else if (!strcmp(host->kvm_backend, "pvm"))
		r.host.backend = KMMU_HOST_PVM;
	r.host.tdp = host->tdp;
	r.host.tdp_mmu = host->tdp_mmu;
	kmmu_trace_log_append(log, &r);
}

uint32_t kmmu_trace_host_stats_flags(void)
{
	char nx[8] = "";

	/* The NX huge page recovery kthread zaps SPTEs no capture of ours sees. */
	if (!kmmu_ctl_read("/sys/module/kvm/parameters/nx_huge_pages", nx, sizeof(nx)) &&
	    (nx[0] == 'Y' || nx[0] == 'f'))
		return KMMU_STATS_NX_RECOVERY;
	return 0;
}

void kmmu_trace_log_mark_stats(struct kmmu_trace_log *log, uint32_t flags)
{
	pthread_mutex_lock(&log->lock);
	for (uint64_t i = 0; i < log->nr; i++)
		if (log->recs[i].type == KMMU_ACT_STATS)
			log->recs[i].stats.flags |= flags;
	pthread_mutex_unlock(&log->lock);
}

static void log_host(struct kmmu_trace_session *s)
{
	kmmu_trace_log_host(s->cap, &s->host, &s->log);
	s->stats_flags |= kmmu_trace_host_stats_flags();
}

uint32_t kmmu_trace_others_start(struct kmmu_trace_others *o)
{
	static const char *const events[] = { "kvm:kvm_unmap_hva_range", NULL };
	struct kmmu_trace_capture_opts opts = {
		.events = events, .all_pids = true, .buffer_kb = 1024,
	};
	char why[256];

	kmmu_trace_log_init(&o->log);
	if (kmmu_trace_capture_start(&o->cap, &opts, &o->log, why, sizeof(why))) {
		o->cap = NULL;
		return KMMU_STATS_OTHERS_UNKNOWN;
	}
	return 0;
}

/* One event in two instances: each ring buffer stamps it on its own. */
#define SAME_EVENT_NS	100000

/*
 * Stops the all-process capture and adds to the log, marked untraced, the
 * notifier calls the process's own capture lacks: another task's.  A test
 * may have merged other tasks' calls with their SPTE changes itself
 * (aging_test): those are in the log already and stay as they are.
 */
uint32_t kmmu_trace_others_merge(struct kmmu_trace_others *o, struct kmmu_trace_log *log)
{
	unsigned long long lost = 0;
	struct kmmu_trace_record *add;
	uint64_t nr = log->nr, nr_add = 0;
	uint32_t flags = 0;

	if (!o->cap)
		return KMMU_STATS_OTHERS_UNKNOWN;
	if (kmmu_trace_capture_stop(o->cap, &lost))
		flags |= KMMU_STATS_OTHERS_UNKNOWN;
	/* In time order, so they merge into the sorted log without sorting it again. */
	kmmu_trace_log_sort(&o->log);
	add = malloc((o->log.nr + 1) * sizeof(*add));
	if (!add) {
		log->oom = true;	/* as a failed append would */
		return flags | KMMU_STATS_OTHERS_UNKNOWN;
	}
	for (uint64_t i = 0; i < o->log.nr; i++) {
		struct kmmu_trace_record r = o->log.recs[i];
		uint64_t lo = 0, hi = nr, from = r.ts > SAME_EVENT_NS ? r.ts - SAME_EVENT_NS : 0;
		bool seen = false;

		/* The log is sorted: the first record at or after @from. */
		while (lo < hi) {
			uint64_t mid = lo + (hi - lo) / 2;

			if (log->recs[mid].ts < from)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < nr && log->recs[lo].ts <= r.ts + SAME_EVENT_NS && !seen; lo++) {
			const struct kmmu_trace_record *own = &log->recs[lo];

			seen = own->pid == r.pid && own->type == r.type &&
			       own->hva_range.start == r.hva_range.start &&
			       own->hva_range.end == r.hva_range.end;
		}
		if (seen)
			continue;
		r.hva_range.untraced = 1;
		add[nr_add++] = r;
	}
	if (kmmu_trace_log_merge_sorted(log, add, nr_add))
		flags |= KMMU_STATS_OTHERS_UNKNOWN;
	free(add);
	return flags;
}

int kmmu_trace_session_add_foreign(struct kmmu_trace_session *s,
				   const struct kmmu_trace_log *from,
				   bool (*on_guest_memory)(const struct kmmu_trace_record *r, void *ctx),
				   void *ctx, uint64_t *added)
{
	struct kmmu_trace_log *log = s ? &s->log : NULL;
	struct { int32_t pid; bool on; } task[64] = { 0 };
	uint64_t nr, i, j, merged = 0;
	int32_t *own;
	size_t nr_own = 0;

	if (added)
		*added = 0;
	if (!log)
		return -EINVAL;
	/* The session's capture may still be appending: its tasks, under the lock. */
	pthread_mutex_lock(&log->lock);
	nr = log->nr;
	own = malloc((nr + 1) * sizeof(*own));
	for (i = 0; own && i < nr; i++) {
		for (j = 0; j < nr_own && own[j] != log->recs[i].pid; j++)
			;
		if (j == nr_own && nr_own < 4096)
			own[nr_own++] = log->recs[i].pid;
	}
	pthread_mutex_unlock(&log->lock);
	if (!own)
		return -ENOMEM;
	for (i = 0; i < from->nr; i++) {
		const struct kmmu_trace_record *r = &from->recs[i];
		unsigned int t;

		for (j = 0; j < nr_own && own[j] != r->pid; j++)
			;
		if (j < nr_own)
			continue;
		for (t = 0; t < 64 && task[t].pid && task[t].pid != r->pid; t++)
			;
		if (t == 64)
			continue;	/* too many tasks: theirs are not handed over */
		task[t].pid = r->pid;
		if (r->type != KMMU_EV_SPTE_CHANGED)
			task[t].on = on_guest_memory(r, ctx);
		if (task[t].on && r->type != KMMU_EV_TEST_AGE_HVA) {
			kmmu_trace_log_append(log, r);
			merged++;
		}
	}
	free(own);
	if (added)
		*added = merged;
	return 0;
}

void kmmu_trace_others_destroy(struct kmmu_trace_others *o)
{
	kmmu_trace_capture_destroy(o->cap);
	o->cap = NULL;
	kmmu_trace_log_free(&o->log);
}

/*
 * The page stats of every VM of this process, as one action: the trace's
 * events carry no VM, so with several VMs the sums are compared.  The
 * reading is an interval (start_ts .. ts): SPTE changes inside it make the
 * comparison moot, which the checker tells.
 */
static void log_stats(struct kmmu_trace_session *s)
{
	struct kmmu_trace_record r;
	uint64_t start = kmmu_trace_now();
	struct dirent *de;
	uint32_t nr_vms = 0;
	uint64_t pages[3] = { 0 };
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300], link[64];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, "anon_inode:kvm-vm"))
			continue;
		if (kmmu_stats_vm_pages(atoi(de->d_name), pages)) {
			nr_vms = 0;	/* a VM not counted: no sum */
			break;
		}
		nr_vms++;
	}
	closedir(d);
	if (!nr_vms)
		return;
	kmmu_rec_stamp(&r, KMMU_ACT_STATS);
	r.stats.start_ts = start;
	memcpy(r.stats.pages, pages, sizeof(pages));
	r.stats.nr_vms = nr_vms;
	r.stats.flags = s->stats_flags;
	kmmu_trace_log_append(&s->log, &r);
}

struct kmmu_trace_session *kmmu_trace_session_start(const char *test, char *why, size_t why_len)
{
	const char *env = getenv("KMMU_CHECK");
	struct kmmu_trace_capture_opts opts = { 0 };
	const char *tdp_events[32];
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
	kmmu_host_probe(&s->host);
	/* Only what the checker reads ($KMMU_TRACE_ALL=1: every event, for reports). */
	env = getenv("KMMU_TRACE_ALL");
	opts.events = env && !strcmp(env, "1") ? NULL : kmmu_check_events;
	/* The TDP MMU traces its own drops: no global kprobe events for nothing. */
	if (s->host.tdp == 1 && s->host.tdp_mmu == 1 && opts.events) {
		size_t n = 0;

		for (const char *const *e = kmmu_check_events; *e && n < 31; e++)
			if (strncmp(*e, "kprobe:", 7))
				tdp_events[n++] = *e;
		tdp_events[n] = NULL;
		opts.events = tdp_events;
	}
	ret = kmmu_trace_capture_start(&s->cap, &opts, &s->log, why, why_len);
	if (ret) {
		kmmu_trace_log_free(&s->log);
		free(s);
		return NULL;
	}
	log_host(s);
	s->stats_flags |= kmmu_trace_others_start(&s->others);
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

/*
 * The same records beside the trace file @path (X.kmmutrace -> X.dat) for
 * the kernel's own tools: trace-cmd report, KernelShark.
 */
static void save_dat(struct kmmu_trace_session *s, const char *path)
{
	char dat[512], err[512];
	size_t len = strlen(path) - strlen(".kmmutrace");

	snprintf(dat, sizeof(dat), "%.*s.dat", (int)len, path);
	if (kmmu_trace_dat_write(dat, s->log.recs, s->log.nr, err, sizeof(err)))
		printf("# checker: cannot write the trace-cmd data file: %s\n", err);
	else
		printf("# checker: the same as trace-cmd data in %s (trace-cmd report -i %s,"
		       " or KernelShark)\n", dat, dat);
}

static void save_trace(struct kmmu_trace_session *s, const char *why, unsigned long long lost)
{
	const char *dir = getenv("KMMU_TRACE_SAVE");
	char path[512], header[1024], stamp[32], host_line[256];
	time_t now = time(NULL);
	int ret;

	if (!dir || !*dir)
		dir = getenv("KMMU_TRACE_DIR");
	if (!dir || !*dir)
		dir = "results";
	mkdir(dir, 0755);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", gmtime(&now));
	snprintf(path, sizeof(path), "%s/%s-%s-%d.kmmutrace", dir, s->test, stamp, (int)getpid());
	kmmu_host_format_line(&s->host, host_line, sizeof(host_line));
	snprintf(header, sizeof(header),
		 "kernel: %s\nhost: %s\nclock: mono\ntest: %s\nsaved because: %s\n"
		 "events missing on this kernel: %s\nlost events: %llu\n",
		 s->host.kernel_release, host_line, s->test, why, kmmu_trace_capture_missing(s->cap), lost);
	ret = kmmu_trace_file_write(path, header, s->log.recs, s->log.nr);
	if (ret)
		printf("# checker: cannot write the trace file %s: %s\n", path, strerror(-ret));
	else
		printf("# checker: trace saved to %s (%" PRIu64 " records); re-check with"
		       " kmmu-trace check %s\n", path, s->log.nr, path);
	save_dat(s, path);
}

int kmmu_trace_session_stop(struct kmmu_trace_session *s)
{
	if (!s)
		return -EINVAL;
	if (s->stopped)
		return s->stop_ret;
	/*
	 * Before the capture stops, so that the stats follow every event
	 * that made them.  The tests finish with their vCPUs stopped and no
	 * memslot ioctl in flight, when nothing changes SPTEs.
	 */
	log_stats(s);
	s->stop_ret = kmmu_trace_capture_stop(s->cap, &s->lost);
	kmmu_trace_log_sort(&s->log);
	/*
	 * Whether the others' capture kept every call is known only now,
	 * after the stats record was logged: it learns it here.
	 */
	if (!s->stop_ret)
		kmmu_trace_log_mark_stats(&s->log, kmmu_trace_others_merge(&s->others, &s->log));
	s->stopped = true;
	return s->stop_ret;
}

int kmmu_trace_session_finish(struct kmmu_trace_session *s, struct kmmu_check_result *res_out)
{
	struct kmmu_checker_opts opts = { .report = stdout };
	struct kmmu_check_result *res;
	unsigned long long lost;
	int ret;

	if (!s)
		return -EINVAL;
	ret = kmmu_trace_session_stop(s);
	lost = s->lost;
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
		printf("# checker: cannot replay the trace: %s\n", kmmu_check_strerror(ret));
	}
	free(res);
out:
	fflush(stdout);		/* a harness child ends with _exit() */
	kmmu_trace_others_destroy(&s->others);
	kmmu_trace_capture_destroy(s->cap);
	kmmu_trace_log_free(&s->log);
	free(s);
	return ret;
}

void kmmu_trace_session_abort(struct kmmu_trace_session *s)
{
	if (!s)
		return;
	kmmu_trace_others_destroy(&s->others);
	kmmu_trace_capture_destroy(s->cap);
	kmmu_trace_log_free(&s->log);
	free(s);
}
