/* SPDX-License-Identifier: GPL-2.0 */
/*
 * DAMON as an aging driver: a kdamond with `paddr` operations monitors
 * given physical ranges (e.g. the pages backing guest memory).  Its access
 * checks clear and test the Accessed bits through the rmap, which also
 * calls mmu_notifier_clear_young()/test_young() -- so KVM ages the guest's
 * SPTEs for those pages.
 *
 * The results come back per region, from one of two sources, chosen by
 * what the kernel has:
 *  - tried_regions (Linux 6.2 and later): a DAMOS "stat" scheme (it does
 *    nothing to the memory) and the sysfs interface's
 *    update_schemes_tried_regions command.  The region directories are
 *    found by listing tried_regions/, not by counting 0, 1, 2, ...: from
 *    6.14 (commit "mm/damon/sysfs: use damos_walk() for
 *    update_schemes_tried_{bytes,regions}") the kernel names them with a
 *    counter that it increments twice per region added and decrements
 *    once per region cleared, so they are 1, 3, 5, ... on the first update
 *    (0, 2, 4, ... with the 2026 stable fix "mm/damon/sysfs-schemes:
 *    delete tried region in regions_rmdirs()") and start higher on each
 *    later one; counting from 0 found one region there, or none.  A
 *    snapshot must cover exactly the monitored bytes (a stat scheme
 *    without a quota is tried on every region); one that does not (a walk
 *    that began in the middle of an apply pass, a directory the kernel
 *    failed to add) is taken again;
 *  - the damon:damon_aggregated tracepoint (5.15 and later; its "age" field
 *    from 5.17), which the kdamond fires for every region at the end of each
 *    aggregation interval.  It is read by tracing/'s capture
 *    (kmmu/trace_capture.h: a private tracefs instance, kmmu-<pid>-damon),
 *    filtered in the kernel to our kdamond's pid, only while
 *    kmmu_damon_regions() waits for one complete aggregation.  This is how
 *    6.1 (no tried_regions) reports its regions at all.
 *
 * Interface: /sys/kernel/mm/damon/admin (Documentation/admin-guide/mm/
 * damon/usage.rst); the KMMU_DAMON_SYSFS environment variable points the
 * driver at another directory (tests of the driver itself), and
 * KMMU_DAMON_TRACEFS at another tracefs (a directory without the event
 * makes the tracepoint unavailable).
 *
 * Host state: the driver creates kdamond 0 only if there is no kdamond at
 * all (nr_kdamonds == 0) -- it never takes over someone else's -- and on
 * every exit path turns it off, waits for the thread to end and sets
 * nr_kdamonds back to 0: kmmu_damon_stop(), SIGINT/SIGTERM/SIGHUP (the
 * kmmu_cleanup stack) and, if the process dies any other way, its janitor
 * (see kmmu/janitor.h).  A signal may come at any point, also in the
 * middle of kmmu_damon_stop()'s own undo: the handler runs every undo step
 * again, and at the first that fails it leaves them all to the janitor,
 * which runs them once the process has died.  The tracepoint's instance
 * is the capture's: kmmu_damon_stop() destroys it, and if the process dies
 * any other way the capture's janitor removes it once the process's files
 * are closed (an instance with a file open cannot be removed).
 */
#ifndef KMMU_DAMON_H
#define KMMU_DAMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmmu/janitor.h"
#include "kmmu/pagemap.h"

/* Where the regions come from (see the top comment). */
enum kmmu_damon_source {
	KMMU_DAMON_SRC_AUTO = 0,	/* tried_regions if there, else the tracepoint */
	KMMU_DAMON_SRC_TRIED_REGIONS,
	KMMU_DAMON_SRC_TRACEPOINT,
};

struct kmmu_damon_attrs {
	unsigned long sample_us;	/* between two access checks */
	unsigned long aggr_us;		/* nr_accesses counts checks over this */
	unsigned long update_us;	/* ops update interval (paddr: little) */
	unsigned long min_nr_regions;	/* >= 3 (DAMON's rule) */
	unsigned long max_nr_regions;	/* raised to fit the initial ranges */
	enum kmmu_damon_source source;	/* a forced one that is missing: -ENODEV */
};

/* DAMON's own defaults: 5 ms sampling, 100 ms aggregation. */
#define KMMU_DAMON_ATTRS_DEFAULT { .sample_us = 5000, .aggr_us = 100000, \
	.update_us = 1000000, .min_nr_regions = 10, .max_nr_regions = 1000 }

/*
 * One monitoring region as DAMON last saw it.  nr_accesses: in how many of
 * the access checks of an aggregation interval the region was found
 * accessed (0..aggr_us/sample_us; DAMON's moving estimate); age: for how
 * many aggregation intervals its access frequency stayed about the same.
 */
struct kmmu_damon_region {
	uint64_t start;
	uint64_t end;
	unsigned int nr_accesses;
	unsigned int age;
};

struct kmmu_damon_tp;

struct kmmu_damon {
	char dir[200];		/* <root>/kdamonds/0 */
	int kdamond_pid;	/* the kernel thread, while on */
	struct kmmu_damon_attrs attrs;
	enum kmmu_damon_source source;	/* the one in use, never AUTO once started */
	struct kmmu_damon_tp *tp;	/* the tracepoint reader, if that is the source */
	uint64_t bytes;		/* what the kdamond monitors: page-aligned ranges */
	struct kmmu_janitor jan;
	int nr_undo;		/* undo steps recorded, also those already undone */
	bool started;
	char err[256];		/* why the last kmmu_damon_regions() failed */
};

/* Why the last kmmu_damon_regions() failed ("" if it did not). */
const char *kmmu_damon_error(const struct kmmu_damon *d);
/* "tried_regions", "damon_aggregated tracepoint" (for messages). */
const char *kmmu_damon_source_name(enum kmmu_damon_source src);
/* The tracefs instance's path while the tracepoint is the source, else NULL. */
const char *kmmu_damon_instance(const struct kmmu_damon *d);

/* The sysfs directory in use: $KMMU_DAMON_SYSFS or /sys/kernel/mm/damon/admin. */
const char *kmmu_damon_root(void);
/*
 * A DAMON sysfs file as a number (0x... and 0... too); EBUSY, which DAMON
 * answers while a writer holds its lock, is retried.  0 or -errno.
 */
int kmmu_damon_read_ul(const char *path, unsigned long *v);
/* nr_kdamonds, or -errno. */
int kmmu_damon_nr_kdamonds(void);
/*
 * Can this process start a kdamond?  0 if so; -ENODEV without the DAMON
 * sysfs interface, -EPERM without root, -EBUSY if kdamonds exist already.
 * @why (may be NULL) says which, for a SKIP message.
 */
int kmmu_damon_probe(char *why, size_t len);
/*
 * Start kdamond 0 with paddr operations over @ranges (need not be sorted
 * or merged; they are, on a copy) and a way to read its regions: one
 * "stat" scheme that matches every region, or the tracepoint's instance.
 * @attrs NULL means KMMU_DAMON_ATTRS_DEFAULT.  Returns 0 or -errno (those
 * of kmmu_damon_probe(), -ENODEV if paddr is not among the available
 * operations or this kernel can report regions neither way -- the reason
 * names both --, -EINVAL for ranges DAMON refuses), with @why set.
 * On failure nothing is left behind.
 */
int kmmu_damon_start(struct kmmu_damon *d, const struct kmmu_damon_attrs *attrs,
		     const struct kmmu_phys_range *ranges, int nr_ranges,
		     char *why, size_t len);
/*
 * The current regions.  tried_regions: asks the kdamond to walk its
 * regions once (blocks for up to one aggregation interval) and reads them.
 * Tracepoint: records from now on until one aggregation interval was seen
 * whole (up to two intervals; -ETIMEDOUT after twenty, or 10 s if that is
 * longer).  Fills up to @max entries of @out in address order; returns how
 * many regions there were (may exceed @max) or -errno.
 */
int kmmu_damon_regions(struct kmmu_damon *d, struct kmmu_damon_region *out, int max);
/*
 * One scheme's tried_regions directory @dir as the kernel left it: every
 * region directory in it, whatever its name (see the top comment), in
 * address order.  Fills up to @max entries of @out; returns how many
 * regions there are (may exceed @max) or -errno with @why set.  *@bytes:
 * their total size; *@total_bytes: what the kernel's total_bytes file
 * says (6.6 and later), UINT64_MAX without one.  Regions that overlap are
 * -EIO: no snapshot of DAMON's has them.
 */
int kmmu_damon_tried_read(const char *dir, struct kmmu_damon_region *out, int max,
			  uint64_t *bytes, uint64_t *total_bytes, char *why, size_t len);
/*
 * Turn the kdamond off, wait until its thread is gone, nr_kdamonds = 0.
 * 0, or the first -errno (and the state is then as far restored as it
 * could be).  Safe to call when not started.
 */
int kmmu_damon_stop(struct kmmu_damon *d);

/* What DAMON says about the part of its regions that lies inside @ranges. */
struct kmmu_damon_summary {
	uint64_t bytes;			/* bytes of @ranges the regions cover */
	uint64_t accessed_bytes;	/* ... in regions with nr_accesses > 0 */
	unsigned int max_nr_accesses;	/* over regions overlapping @ranges */
	double mean_nr_accesses;	/* byte-weighted over the overlap */
	unsigned int max_age;
};
void kmmu_damon_summarize(const struct kmmu_damon_region *reg, int nr_reg,
			  const struct kmmu_phys_range *ranges, int nr_ranges,
			  struct kmmu_damon_summary *s);

/*
 * One damon:damon_aggregated record, as the tracepoint reader decodes it.
 * @ts orders records of all CPUs (the instance's clock is "mono"); @seq
 * breaks ties in read order (per CPU, that is the order of writing).
 * @lost_before: the kernel dropped records of this CPU just before it.
 */
struct kmmu_damon_record {
	uint64_t ts;
	uint64_t seq;
	unsigned long target_id;
	unsigned int nr_regions;
	bool lost_before;
	struct kmmu_damon_region region;
};

/*
 * Records -> one snapshot, the regions of one aggregation interval.  The
 * kdamond fires the event for every region of a target in address order,
 * each with the target's region count, one target after the other, all at
 * the end of an interval.  So a snapshot is a run of records, in time
 * order, of one target and one nr_regions, with rising addresses, exactly
 * nr_regions long; a run cut short (tracing began in the middle of one,
 * the kernel lost records, a new interval began: addresses fall again) is
 * no snapshot.
 *
 * Sorts @rec[0..@nr) by (ts, seq), then copies the first complete
 * snapshot's regions (up to @max) into @out and returns its nr_regions;
 * or returns 0 if there is none yet.  *@keep (may be NULL) is where the
 * run still open at the end begins: records before it can never be part
 * of a snapshot, a caller that reads on may drop them.
 */
int kmmu_damon_snapshot(struct kmmu_damon_record *rec, size_t nr,
			struct kmmu_damon_region *out, int max, size_t *keep);

#endif
