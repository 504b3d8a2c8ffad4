// SPDX-License-Identifier: GPL-2.0
/*
 * DAMON aging driver over the sysfs interface: one kdamond, paddr
 * operations; the results are a "stat" scheme's tried regions or, where
 * the kernel has none (before 6.2), the damon_aggregated tracepoint.
 *
 * The tracepoint is read by tracing/'s capture (kmmu/trace_capture.h):
 * its tracefs instance, ring-buffer reader and decoder, the layer below
 * this one that observes the kernel; this file keeps DAMON's control.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/clock.h"
#include "kmmu/damon.h"
#include "kmmu/grow.h"
#include "kmmu/hygiene.h"
#include "kmmu/trace_capture.h"

#define KMMU_DAMON_DEFAULT_ROOT "/sys/kernel/mm/damon/admin"
#define KMMU_DAMON_EVENT "events/damon/damon_aggregated"
/* Updates of tried_regions before a snapshot that does not add up is an error. */
#define KMMU_DAMON_TRIED_TRIES 3

/*
 * The tracepoint reader: a capture (tracing/capture.c) of only our event,
 * of only our kdamond, paused but while kmmu_damon_regions() waits.
 */
struct kmmu_damon_tp {
	char dir[256];		/* tracefs: $KMMU_DAMON_TRACEFS, or the system's */
	char inst[600];		/* the capture's instance, once armed */
	unsigned int buffer_kb;	/* per CPU */
	struct kmmu_trace_capture *cap;
	struct kmmu_trace_log log;	/* what the capture decoded */
	bool has_age;
	struct kmmu_damon_record *rec;
	uint64_t nr, cap_nr;
	uint64_t seq;
};

const char *kmmu_damon_root(void)
{
	const char *r = getenv("KMMU_DAMON_SYSFS");

	return r && *r ? r : KMMU_DAMON_DEFAULT_ROOT;
}

/*
 * Read a sysfs file into @buf without the trailing newline(s).  DAMON's
 * "pid" answers EBUSY while its lock is taken by a writer: retry.
 */
static int kmmu_damon_read(const char *path, char *buf, size_t len)
{
	return kmmu_ctl_read_retry(path, buf, len, 200);
}

int kmmu_damon_read_ul(const char *path, unsigned long *v)
{
	char buf[64], *end;
	int err = kmmu_damon_read(path, buf, sizeof(buf));

	if (err)
		return err;
	errno = 0;
	*v = strtoul(buf, &end, 0);
	if (errno || end == buf)
		return -EIO;
	return 0;
}

/* Write @val; DAMON's files answer EBUSY while its lock is taken: retry. */
static int kmmu_damon_write(const char *path, const char *val, char *why, size_t len)
{
	int r = kmmu_ctl_write_retry(path, val, 200);

	if (r)
		kmmu_why(why, len, "writing \"%s\" to %s: %s", val, path, strerror(-r));
	return r;
}

/* Write "%lu" to <dir>/<rel>. */
static int kmmu_damon_set(const char *dir, const char *rel, unsigned long v,
			  char *why, size_t len)
{
	char path[512], val[32];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(val, sizeof(val), "%lu", v);
	return kmmu_damon_write(path, val, why, len);
}

int kmmu_damon_nr_kdamonds(void)
{
	char path[512];
	unsigned long n;
	int err;

	snprintf(path, sizeof(path), "%s/kdamonds/nr_kdamonds", kmmu_damon_root());
	err = kmmu_damon_read_ul(path, &n);
	return err ? err : (int)n;
}

int kmmu_damon_probe(char *why, size_t len)
{
	const char *root = kmmu_damon_root();
	char path[512], state[32] = "?", pid[32] = "?";
	int n;

	snprintf(path, sizeof(path), "%s/kdamonds/nr_kdamonds", root);
	if (access(path, F_OK)) {
		kmmu_why(why, len, "no DAMON sysfs interface (%s: %s); the kernel needs "
			 "CONFIG_DAMON_SYSFS and CONFIG_DAMON_PADDR", path, strerror(errno));
		return -ENODEV;
	}
	if (geteuid() != 0 || access(path, W_OK)) {
		kmmu_why(why, len, "DAMON's sysfs interface needs root (%s)", path);
		return -EPERM;
	}
	n = kmmu_damon_nr_kdamonds();
	if (n < 0) {
		kmmu_why(why, len, "reading %s: %s", path, strerror(-n));
		return n;
	}
	if (n) {
		snprintf(path, sizeof(path), "%s/kdamonds/0/state", root);
		kmmu_damon_read(path, state, sizeof(state));
		snprintf(path, sizeof(path), "%s/kdamonds/0/pid", root);
		kmmu_damon_read(path, pid, sizeof(pid));
		kmmu_why(why, len, "DAMON is in use by someone else: nr_kdamonds=%d "
			 "(kdamond 0: state %s, pid %s); not taking it over", n, state, pid);
		return -EBUSY;
	}
	return 0;
}

const char *kmmu_damon_source_name(enum kmmu_damon_source src)
{
	switch (src) {
	case KMMU_DAMON_SRC_TRIED_REGIONS:
		return "tried_regions";
	case KMMU_DAMON_SRC_TRACEPOINT:
		return "damon_aggregated tracepoint";
	default:
		return "auto";
	}
}

const char *kmmu_damon_instance(const struct kmmu_damon *d)
{
	return d->tp && d->tp->inst[0] ? d->tp->inst : NULL;
}

const char *kmmu_damon_error(const struct kmmu_damon *d)
{
	return d->err;
}

/* Record an undo step; nr_undo remembers it after it has been undone, too. */
static int kmmu_damon_push(struct kmmu_damon *d, enum kmmu_undo_op op,
			   const char *path, const char *arg)
{
	int err = kmmu_janitor_push(&d->jan, op, path, arg);

	if (d->jan.nr > d->nr_undo)
		d->nr_undo = d->jan.nr;
	return err;
}

static void kmmu_damon_tp_free(struct kmmu_damon *d)
{
	struct kmmu_damon_tp *tp = d->tp;

	if (!tp)
		return;
	kmmu_trace_capture_destroy(tp->cap);
	kmmu_trace_log_free(&tp->log);
	free(tp->rec);
	free(tp);
	d->tp = NULL;
}

/*
 * The cleanup stack's step, also from a signal handler: close() and the
 * undo steps only.  It runs every step again, last first -- all of them,
 * not only those kmmu_janitor_undo() has not reached: the signal may have
 * interrupted it (kmmu_damon_stop()) in the middle of one, and each step
 * is idempotent.  The instance's removal is tried once, without the
 * janitor's retries: it fails (EBUSY) while the code the signal
 * interrupted holds one of the instance's files open (a control file
 * being written, a stats file being read), and only this process's death
 * closes that.  So at the first step that fails, stop and send the
 * janitor no "done": it runs every step again once this process has died
 * (the handler re-raises the signal).  The tracepoint's instance is the
 * capture's: its own janitor removes it once this process has died.
 */
static void kmmu_damon_cleanup_cb(void *arg)
{
	struct kmmu_damon *d = arg;
	int i = d->nr_undo > d->jan.nr ? d->nr_undo : d->jan.nr;

	if (d->jan.owner != getpid())
		return;
	while (i-- > 0) {
		const struct kmmu_undo *u = &d->jan.undo[i];
		int r;

		if (u->op == KMMU_UNDO_RMDIR)
			r = rmdir(u->path) && errno != ENOENT ? -errno : 0;
		else
			r = kmmu_undo_run(u);
		if (r)
			return;
	}
	/* All undone: nothing for kmmu_janitor_undo() to run, it tells the janitor. */
	d->jan.nr = 0;
	kmmu_janitor_undo(&d->jan);
}

/*
 * The tracepoint as the source: is the event there (its format in
 * tracefs)?  -ENODEV with @why if not.  The capture itself starts once the
 * kdamond's pid is known (kmmu_damon_tp_arm()).
 */
static int kmmu_damon_tp_setup(struct kmmu_damon *d, char *why, size_t len)
{
	const char *env = getenv("KMMU_DAMON_TRACEFS");
	const char *dir = env && *env ? env : kmmu_tracefs_dir();
	struct kmmu_damon_tp *tp;
	char path[512];
	unsigned long kb;

	tp = d->tp = calloc(1, sizeof(*tp));
	if (!tp)
		return -ENOMEM;
	kmmu_trace_log_init(&tp->log);
	if (!dir) {
		kmmu_why(why, len, "no tracefs mounted, and mounting one failed");
		return -ENODEV;
	}
	snprintf(tp->dir, sizeof(tp->dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/events/damon/damon_aggregated/format", tp->dir);
	if (access(path, F_OK)) {
		kmmu_why(why, len, "no damon:damon_aggregated tracepoint (%s: %s)",
			 path, strerror(errno));
		return -ENODEV;
	}
	/*
	 * Per CPU room for two aggregations' records (about 56 bytes each):
	 * the kdamond may fire all of them on one CPU between two reads.
	 */
	kb = 2 * d->attrs.max_nr_regions * 64 / 1024 + 64;
	if (kb < 1024)
		kb = 1024;
	if (kb > 65536)
		kb = 65536;
	tp->buffer_kb = kb;
	return 0;
}

/* Only our kdamond's records, filtered in the kernel. */
static int kmmu_damon_tp_arm(struct kmmu_damon *d, char *why, size_t len)
{
	static const char *const events[] = { "damon:damon_aggregated", NULL };
	struct kmmu_damon_tp *tp = d->tp;
	const char *env = getenv("KMMU_DAMON_TRACEFS");
	char filter[64];
	struct kmmu_trace_capture_opts o = {
		.events = events, .all_pids = true, .buffer_kb = tp->buffer_kb,
		.filter = filter, .paused = true, .name = "damon",
		.tracefs_dir = env && *env ? env : NULL,
	};
	int err;

	snprintf(filter, sizeof(filter), "common_pid == %d", d->kdamond_pid);
	err = kmmu_trace_capture_start(&tp->cap, &o, &tp->log, why, len);
	if (err)
		return err;
	snprintf(tp->inst, sizeof(tp->inst), "%s", kmmu_trace_capture_instance_path(tp->cap));
	tp->has_age = kmmu_trace_capture_has_field(tp->cap, KMMU_EV_DAMON_AGGREGATED, "age");
	return 0;
}

static int kmmu_damon_configure(struct kmmu_damon *d, const struct kmmu_damon_attrs *a,
				const struct kmmu_phys_range *r, int n,
				char *why, size_t len)
{
	char ctx[300], path[512], buf[256];
	bool tried;
	int err, i;

	err = kmmu_damon_set(d->dir, "contexts/nr_contexts", 1, why, len);
	if (err)
		return err;
	snprintf(ctx, sizeof(ctx), "%s/contexts/0", d->dir);
	snprintf(path, sizeof(path), "%s/avail_operations", ctx);
	/* Older kernels have no avail_operations: then "operations" says. */
	if (!kmmu_damon_read(path, buf, sizeof(buf)) && !strstr(buf, "paddr")) {
		char *nl;

		while ((nl = strchr(buf, '\n')))
			*nl = ' ';
		kmmu_why(why, len, "DAMON has no paddr operations (available: %s); "
			 "the kernel needs CONFIG_DAMON_PADDR", buf);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "%s/operations", ctx);
	err = kmmu_damon_write(path, "paddr", why, len);
	if (err)
		return err == -EINVAL ? -ENODEV : err;

	/*
	 * 6.18 made the unit of the addresses written and read a setting
	 * (addr_unit, for physical address spaces beyond unsigned long);
	 * ours are bytes.  1 is the default; written where the file exists,
	 * so a kernel that defaults otherwise still reads our ranges right.
	 */
	snprintf(path, sizeof(path), "%s/addr_unit", ctx);
	if (!access(path, F_OK) && (err = kmmu_damon_write(path, "1", why, len)))
		return err;

	if ((err = kmmu_damon_set(ctx, "monitoring_attrs/intervals/sample_us", a->sample_us, why, len)) ||
	    (err = kmmu_damon_set(ctx, "monitoring_attrs/intervals/aggr_us", a->aggr_us, why, len)) ||
	    (err = kmmu_damon_set(ctx, "monitoring_attrs/intervals/update_us", a->update_us, why, len)) ||
	    (err = kmmu_damon_set(ctx, "monitoring_attrs/nr_regions/max", a->max_nr_regions, why, len)) ||
	    (err = kmmu_damon_set(ctx, "monitoring_attrs/nr_regions/min", a->min_nr_regions, why, len)))
		return err;

	if ((err = kmmu_damon_set(ctx, "targets/nr_targets", 1, why, len)) ||
	    (err = kmmu_damon_set(ctx, "targets/0/regions/nr_regions", n, why, len)))
		return err;
	for (i = 0; i < n; i++) {
		char rel[96];

		snprintf(rel, sizeof(rel), "targets/0/regions/%d/start", i);
		err = kmmu_damon_set(ctx, rel, r[i].start, why, len);
		if (err)
			return err;
		snprintf(rel, sizeof(rel), "targets/0/regions/%d/end", i);
		err = kmmu_damon_set(ctx, rel, r[i].end, why, len);
		if (err)
			return err;
	}

	/*
	 * One scheme that matches every region and does nothing to it
	 * ("stat"): its tried regions are DAMON's view of all of them.  No
	 * quota (0 = unlimited) and no watermarks (metric none = always on)
	 * are the sysfs defaults.
	 */
	if ((err = kmmu_damon_set(ctx, "schemes/nr_schemes", 1, why, len)))
		return err;
	/*
	 * Through sysfs, regions reach user space only as a scheme's
	 * tried_regions (and the "update_schemes_tried_regions" command), new
	 * in Linux 6.2.  6.1's DAMON says what it saw only through its
	 * damon_aggregated tracepoint.  Having neither is not a failure of
	 * the kernel under test.
	 */
	snprintf(path, sizeof(path), "%s/schemes/0/tried_regions", ctx);
	tried = !access(path, F_OK);
	if (!tried || d->attrs.source == KMMU_DAMON_SRC_TRACEPOINT) {
		char tpwhy[300] = "";

		if (d->attrs.source == KMMU_DAMON_SRC_TRIED_REGIONS) {
			kmmu_why(why, len, "DAMON on this kernel cannot report its regions "
				 "through sysfs (no %s: tried_regions came with Linux 6.2)", path);
			return -ENODEV;
		}
		/* No scheme: the tracepoint fires for every region anyway. */
		if ((err = kmmu_damon_set(ctx, "schemes/nr_schemes", 0, why, len)))
			return err;
		err = kmmu_damon_tp_setup(d, tpwhy, sizeof(tpwhy));
		if (err == -ENODEV && !tried)
			kmmu_why(why, len, "DAMON on this kernel cannot report its regions: no %s "
				 "(tried_regions came with Linux 6.2) and %s", path, tpwhy);
		else if (err)
			kmmu_why(why, len, "%s", tpwhy);
		if (!err)
			d->source = KMMU_DAMON_SRC_TRACEPOINT;
		return err;
	}
	d->source = KMMU_DAMON_SRC_TRIED_REGIONS;
	snprintf(path, sizeof(path), "%s/schemes/0/action", ctx);
	if ((err = kmmu_damon_write(path, "stat", why, len)) ||
	    (err = kmmu_damon_set(ctx, "schemes/0/access_pattern/sz/min", 0, why, len)) ||
	    (err = kmmu_damon_set(ctx, "schemes/0/access_pattern/sz/max", ~0UL, why, len)) ||
	    (err = kmmu_damon_set(ctx, "schemes/0/access_pattern/nr_accesses/min", 0, why, len)) ||
	    (err = kmmu_damon_set(ctx, "schemes/0/access_pattern/nr_accesses/max", 0xffffffffUL, why, len)) ||
	    (err = kmmu_damon_set(ctx, "schemes/0/access_pattern/age/min", 0, why, len)) ||
	    (err = kmmu_damon_set(ctx, "schemes/0/access_pattern/age/max", 0xffffffffUL, why, len)))
		return err;
	return 0;
}

int kmmu_damon_start(struct kmmu_damon *d, const struct kmmu_damon_attrs *attrs,
		     const struct kmmu_phys_range *ranges, int nr_ranges,
		     char *why, size_t len)
{
	static const struct kmmu_damon_attrs def = KMMU_DAMON_ATTRS_DEFAULT;
	const char *root = kmmu_damon_root();
	struct kmmu_phys_range *r;
	char path[512], buf[64];
	unsigned long pid = 0;
	uint64_t pg;
	int err, n, i;

	memset(d, 0, sizeof(*d));
	d->jan.fd = -1;
	d->attrs = attrs ? *attrs : def;
	kmmu_why(why, len, "ok");
	if (nr_ranges <= 0 || d->attrs.min_nr_regions < 3 ||
	    d->attrs.sample_us == 0 || d->attrs.aggr_us < d->attrs.sample_us ||
	    d->attrs.source > KMMU_DAMON_SRC_TRACEPOINT) {
		kmmu_why(why, len, "bad arguments (%d ranges, min_nr_regions %lu, "
			 "sample %lu us, aggregation %lu us)", nr_ranges,
			 d->attrs.min_nr_regions, d->attrs.sample_us, d->attrs.aggr_us);
		return -EINVAL;
	}
	r = malloc(nr_ranges * sizeof(*r));
	if (!r)
		return -ENOMEM;
	memcpy(r, ranges, nr_ranges * sizeof(*r));
	/*
	 * DAMON monitors whole pages (it aligns each range out to
	 * DAMON_MIN_REGION, a page) and wants sorted, non-overlapping
	 * regions: align, then merge what now touches.  d->bytes is then
	 * exactly what its regions add up to.
	 */
	pg = getpagesize();
	for (i = 0; i < nr_ranges; i++) {
		if (r[i].end <= r[i].start)
			continue;
		r[i].start &= ~(pg - 1);
		r[i].end = (r[i].end + pg - 1) & ~(pg - 1);
	}
	n = kmmu_phys_ranges_merge(r, nr_ranges);
	if (!n) {
		free(r);
		kmmu_why(why, len, "all %d ranges are empty", nr_ranges);
		return -EINVAL;
	}
	for (i = 0; i < n; i++)
		d->bytes += r[i].end - r[i].start;
	/* Initial regions are never merged across gaps: leave room. */
	if (d->attrs.max_nr_regions < (unsigned long)n + d->attrs.min_nr_regions)
		d->attrs.max_nr_regions = n + d->attrs.min_nr_regions;
	if (d->attrs.max_nr_regions < d->attrs.min_nr_regions)
		d->attrs.max_nr_regions = d->attrs.min_nr_regions;

	err = kmmu_damon_probe(why, len);
	if (err)
		goto out_free;
	snprintf(d->dir, sizeof(d->dir), "%s/kdamonds/0", root);

	/* Undo steps first, then the change: so no path leaves it behind. */
	err = kmmu_janitor_start(&d->jan);
	if (err) {
		kmmu_why(why, len, "starting the janitor: %s", strerror(-err));
		goto out_free;
	}
	snprintf(path, sizeof(path), "%s/kdamonds/nr_kdamonds", root);
	err = kmmu_damon_push(d, KMMU_UNDO_WRITE, path, "0");
	if (err)
		goto out_undo;
	kmmu_cleanup_push(kmmu_damon_cleanup_cb, d);
	err = kmmu_damon_write(path, "1", why, len);
	if (err)
		goto out_undo;
	/* Someone may have raced us to it: then it is not ours. */
	if (kmmu_damon_nr_kdamonds() != 1) {
		kmmu_why(why, len, "nr_kdamonds changed under us");
		err = -EBUSY;
		goto out_undo;
	}
	err = kmmu_damon_configure(d, &d->attrs, r, n, why, len);
	if (err)
		goto out_undo;

	snprintf(path, sizeof(path), "%s/pid", d->dir);
	err = kmmu_damon_push(d, KMMU_UNDO_WAIT, path, "-1");
	if (!err) {
		snprintf(path, sizeof(path), "%s/state", d->dir);
		err = kmmu_damon_push(d, KMMU_UNDO_WRITE, path, "off");
	}
	if (err)
		goto out_undo;
	err = kmmu_damon_write(path, "on", why, len);
	if (err)
		goto out_undo;
	/* "on" returns once the thread is created; its pid says it runs. */
	snprintf(path, sizeof(path), "%s/pid", d->dir);
	for (i = 0; i < 500; i++) {
		if (!kmmu_damon_read(path, buf, sizeof(buf)) && atol(buf) > 0) {
			pid = atol(buf);
			break;
		}
		kmmu_sleep_ms(10);
	}
	if (!pid) {
		kmmu_why(why, len, "the kdamond did not start (%s: %s)", path, buf);
		err = -EIO;
		goto out_undo;
	}
	d->kdamond_pid = pid;
	if (d->source == KMMU_DAMON_SRC_TRACEPOINT) {
		err = kmmu_damon_tp_arm(d, why, len);
		if (err)
			goto out_undo;
	}
	d->started = true;
	free(r);
	kmmu_why(why, len, "kdamond %lu monitors %d physical ranges; regions from %s%s",
		 pid, n, kmmu_damon_source_name(d->source),
		 d->tp && !d->tp->has_age ? " (no age field: every age reads 0)" : "");
	return 0;

out_undo:
	kmmu_janitor_undo(&d->jan);
	kmmu_janitor_stop(&d->jan);
	kmmu_cleanup_forget(kmmu_damon_cleanup_cb, d);
	kmmu_damon_tp_free(d);
out_free:
	free(r);
	return err;
}

static int kmmu_damon_tp_append(struct kmmu_damon_tp *tp, const struct kmmu_damon_record *r)
{
	if (kmmu_grow(&tp->rec, &tp->cap_nr, tp->nr, 1, 4096))
		return -ENOMEM;
	tp->rec[tp->nr++] = *r;
	return 0;
}

/*
 * Everything the buffers hold now, decoded by the capture into its log and
 * from there into tp->rec, in read order (@seq).
 */
static int kmmu_damon_tp_drain(struct kmmu_damon_tp *tp)
{
	int err = kmmu_trace_capture_drain(tp->cap);
	uint64_t i;

	if (err)
		return err;
	pthread_mutex_lock(&tp->log.lock);
	for (i = 0; !err && i < tp->log.nr; i++) {
		const struct kmmu_trace_record *r = &tp->log.recs[i];
		struct kmmu_damon_record rec = {
			.ts = r->ts, .seq = tp->seq++, .target_id = r->damon.target_id,
			.nr_regions = r->damon.nr_regions, .lost_before = r->damon.lost_before,
			.region = { .start = r->damon.start, .end = r->damon.end,
				    .nr_accesses = r->damon.nr_accesses, .age = r->damon.age },
		};

		if (r->type == KMMU_EV_DAMON_AGGREGATED)
			err = kmmu_damon_tp_append(tp, &rec);
	}
	tp->log.nr = 0;
	pthread_mutex_unlock(&tp->log.lock);
	return err;
}

/*
 * Record from now on until a whole aggregation interval was seen (see
 * kmmu_damon_snapshot()); the buffers are read every quarter interval.
 */
static int kmmu_damon_tp_regions(struct kmmu_damon *d, struct kmmu_damon_region *out, int max)
{
	struct kmmu_damon_tp *tp = d->tp;
	long poll_ms = d->attrs.aggr_us / 4000;
	double deadline = 20.0 * d->attrs.aggr_us / 1e6;
	size_t keep;
	int n = -ETIMEDOUT, err;
	unsigned long long losses, seen;

	if (poll_ms < 5)
		poll_ms = 5;
	if (poll_ms > 100)
		poll_ms = 100;
	deadline = kmmu_now() + (deadline > 10 ? deadline : 10);
	/* Nothing of an earlier call: empty the buffers and what was read. */
	err = kmmu_trace_capture_clear(tp->cap);
	if (!err)
		err = kmmu_damon_tp_drain(tp);
	if (err)
		return err;
	tp->nr = 0;
	seen = kmmu_trace_capture_losses(tp->cap);
	err = kmmu_trace_capture_resume(tp->cap);
	if (err)
		return err;
	while (kmmu_now() < deadline) {
		kmmu_sleep_ms(poll_ms);
		err = kmmu_damon_tp_drain(tp);
		if (err) {
			n = err;
			break;
		}
		/*
		 * The kernel lost records: which ones, a page header says
		 * only sometimes (kbuffer reports it for a page's first
		 * event).  Start over rather than risk a run with a hole.
		 */
		losses = kmmu_trace_capture_losses(tp->cap);
		if (losses != seen) {
			seen = losses;
			tp->nr = 0;
			continue;
		}
		n = kmmu_damon_snapshot(tp->rec, tp->nr, out, max, &keep);
		if (n > 0)
			break;
		n = -ETIMEDOUT;
		memmove(tp->rec, tp->rec + keep, (tp->nr - keep) * sizeof(*tp->rec));
		tp->nr -= keep;
	}
	err = kmmu_trace_capture_pause(tp->cap);
	return n < 0 ? n : err ? err : n;
}

static int kmmu_damon_tried_regions(struct kmmu_damon *d, struct kmmu_damon_region *out,
				    int max)
{
	char path[512], dir[400], why[sizeof(d->err)];
	uint64_t bytes = 0, total = 0;
	int err, n = 0, try;

	snprintf(path, sizeof(path), "%s/state", d->dir);
	snprintf(dir, sizeof(dir), "%s/contexts/0/schemes/0/tried_regions", d->dir);
	for (try = 0; try < KMMU_DAMON_TRIED_TRIES; try++) {
		/* Blocks until the scheme was applied once: fresh regions. */
		err = kmmu_damon_write(path, "update_schemes_tried_regions", why, sizeof(why));
		if (err) {
			kmmu_why(d->err, sizeof(d->err), "%s", why);
			return err;
		}
		n = kmmu_damon_tried_read(dir, out, max, &bytes, &total, why, sizeof(why));
		if (n < 0) {
			kmmu_why(d->err, sizeof(d->err), "%s", why);
			return n;
		}
		if (bytes == d->bytes && (total == UINT64_MAX || total == bytes))
			return n;
	}
	kmmu_why(d->err, sizeof(d->err), "%d updates of tried_regions in a row found %d "
		 "regions of %llu bytes (total_bytes %lld), not the %llu bytes monitored",
		 KMMU_DAMON_TRIED_TRIES, n, (unsigned long long)bytes,
		 total == UINT64_MAX ? -1LL : (long long)total, (unsigned long long)d->bytes);
	return -EIO;
}

int kmmu_damon_regions(struct kmmu_damon *d, struct kmmu_damon_region *out, int max)
{
	int n;

	d->err[0] = 0;
	if (!d->started) {
		kmmu_why(d->err, sizeof(d->err), "not started");
		return -EINVAL;
	}
	if (d->source == KMMU_DAMON_SRC_TRIED_REGIONS)
		return kmmu_damon_tried_regions(d, out, max);
	n = kmmu_damon_tp_regions(d, out, max);
	if (n < 0)
		kmmu_why(d->err, sizeof(d->err), "reading damon:damon_aggregated from %s: %s",
			 d->tp->inst, strerror(-n));
	return n;
}

int kmmu_damon_stop(struct kmmu_damon *d)
{
	int err, n;

	if (!d->started)
		return 0;
	if (d->jan.owner != getpid())
		return 0;		/* a forked child: not ours to stop */
	/*
	 * Off (the kernel joins the thread), pid -1, nr_kdamonds 0; the
	 * capture's instance removed.
	 */
	err = kmmu_janitor_undo(&d->jan);
	kmmu_janitor_stop(&d->jan);
	kmmu_cleanup_forget(kmmu_damon_cleanup_cb, d);
	d->started = false;
	if (d->tp) {
		char inst[sizeof(d->tp->inst)];

		snprintf(inst, sizeof(inst), "%s", d->tp->inst);
		kmmu_damon_tp_free(d);
		if (!err && inst[0] && !access(inst, F_OK))
			err = -EBUSY;
	}
	if (err)
		return err;
	n = kmmu_damon_nr_kdamonds();
	if (n < 0)
		return n;
	return n ? -EBUSY : 0;
}
