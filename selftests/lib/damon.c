// SPDX-License-Identifier: GPL-2.0
/*
 * DAMON aging driver over the sysfs interface: one kdamond, paddr
 * operations, a "stat" scheme whose tried regions are the results.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/damon.h"
#include "kmmu/hygiene.h"

#define KMMU_DAMON_DEFAULT_ROOT "/sys/kernel/mm/damon/admin"

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

static int kmmu_damon_read_ul(const char *path, unsigned long *v)
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

static void kmmu_damon_cleanup_cb(void *arg)
{
	struct kmmu_damon *d = arg;

	kmmu_janitor_undo(&d->jan);
}

static int kmmu_damon_configure(struct kmmu_damon *d, const struct kmmu_damon_attrs *a,
				const struct kmmu_phys_range *r, int n,
				char *why, size_t len)
{
	char ctx[300], path[512], buf[256];
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
	 * Regions reach user space only through a scheme's tried_regions
	 * (and the "update_schemes_tried_regions" command), new in Linux
	 * 6.2: 6.1's DAMON monitors but cannot say what it saw, short of its
	 * damon_aggregated tracepoint.  Not a failure of the kernel under test.
	 */
	snprintf(path, sizeof(path), "%s/schemes/0/tried_regions", ctx);
	if (access(path, F_OK)) {
		kmmu_why(why, len, "DAMON on this kernel cannot report its regions (no %s: "
			 "tried_regions came with Linux 6.2)", path);
		return -ENODEV;
	}
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
	int err, n, i;

	memset(d, 0, sizeof(*d));
	d->jan.fd = -1;
	d->attrs = attrs ? *attrs : def;
	kmmu_why(why, len, "ok");
	if (nr_ranges <= 0 || d->attrs.min_nr_regions < 3 ||
	    d->attrs.sample_us == 0 || d->attrs.aggr_us < d->attrs.sample_us) {
		kmmu_why(why, len, "bad arguments (%d ranges, min_nr_regions %lu, "
			 "sample %lu us, aggregation %lu us)", nr_ranges,
			 d->attrs.min_nr_regions, d->attrs.sample_us, d->attrs.aggr_us);
		return -EINVAL;
	}
	r = malloc(nr_ranges * sizeof(*r));
	if (!r)
		return -ENOMEM;
	memcpy(r, ranges, nr_ranges * sizeof(*r));
	/* DAMON wants sorted, non-overlapping regions. */
	n = kmmu_phys_ranges_merge(r, nr_ranges);
	if (!n) {
		free(r);
		kmmu_why(why, len, "all %d ranges are empty", nr_ranges);
		return -EINVAL;
	}
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
	err = kmmu_janitor_push(&d->jan, KMMU_UNDO_WRITE, path, "0");
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
	err = kmmu_janitor_push(&d->jan, KMMU_UNDO_WAIT, path, "-1");
	if (!err) {
		snprintf(path, sizeof(path), "%s/state", d->dir);
		err = kmmu_janitor_push(&d->jan, KMMU_UNDO_WRITE, path, "off");
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
	d->started = true;
	free(r);
	kmmu_why(why, len, "kdamond %lu monitors %d physical ranges", pid, n);
	return 0;

out_undo:
	kmmu_janitor_undo(&d->jan);
	kmmu_janitor_stop(&d->jan);
	kmmu_cleanup_forget(kmmu_damon_cleanup_cb, d);
out_free:
	free(r);
	return err;
}

int kmmu_damon_regions(struct kmmu_damon *d, struct kmmu_damon_region *out, int max)
{
	char path[512], dir[400];
	int err, i;

	if (!d->started)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/state", d->dir);
	/* Blocks until the scheme was applied once: fresh regions. */
	err = kmmu_damon_write(path, "update_schemes_tried_regions", NULL, 0);
	if (err)
		return err;
	for (i = 0;; i++) {
		unsigned long v[4];
		static const char *const f[] = { "start", "end", "nr_accesses", "age" };
		int k;

		snprintf(dir, sizeof(dir), "%s/contexts/0/schemes/0/tried_regions/%d",
			 d->dir, i);
		if (access(dir, F_OK))
			break;
		if (i >= max)
			continue;
		for (k = 0; k < 4; k++) {
			snprintf(path, sizeof(path), "%s/%s", dir, f[k]);
			err = kmmu_damon_read_ul(path, &v[k]);
			if (err)
				return err;
		}
		out[i].start = v[0];
		out[i].end = v[1];
		out[i].nr_accesses = v[2];
		out[i].age = v[3];
	}
	return i;
}

int kmmu_damon_stop(struct kmmu_damon *d)
{
	int err, n;

	if (!d->started)
		return 0;
	if (d->jan.owner != getpid())
		return 0;		/* a forked child: not ours to stop */
	/* Off (the kernel joins the thread), pid -1, nr_kdamonds 0. */
	err = kmmu_janitor_undo(&d->jan);
	kmmu_janitor_stop(&d->jan);
	kmmu_cleanup_forget(kmmu_damon_cleanup_cb, d);
	d->started = false;
	if (err)
		return err;
	n = kmmu_damon_nr_kdamonds();
	if (n < 0)
		return n;
	return n ? -EBUSY : 0;
}

void kmmu_damon_summarize(const struct kmmu_damon_region *reg, int nr_reg,
			  const struct kmmu_phys_range *ranges, int nr_ranges,
			  struct kmmu_damon_summary *s)
{
	double weighted = 0;
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < nr_reg; i++) {
		uint64_t b = kmmu_phys_ranges_overlap(ranges, nr_ranges,
						      reg[i].start, reg[i].end);

		if (!b)
			continue;
		s->bytes += b;
		if (reg[i].nr_accesses)
			s->accessed_bytes += b;
		if (reg[i].nr_accesses > s->max_nr_accesses)
			s->max_nr_accesses = reg[i].nr_accesses;
		if (reg[i].age > s->max_age)
			s->max_age = reg[i].age;
		weighted += (double)b * reg[i].nr_accesses;
	}
	if (s->bytes)
		s->mean_nr_accesses = weighted / s->bytes;
}
