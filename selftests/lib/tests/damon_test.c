// SPDX-License-Identifier: GPL-2.0
/*
 * The DAMON aging driver.
 *
 * On the running kernel (root, DAMON sysfs with paddr, no kdamond of
 * anyone else's -- else SKIP), once per source of regions the kernel has
 * (tried_regions from 6.2, the damon_aggregated tracepoint from 5.15): a
 * buffer touched all the time by a thread is reported accessed, one
 * touched once is not, and the regions cover exactly what was given;
 * afterwards nr_kdamonds is 0 again and no tracefs instance is left; a
 * child that started DAMON and was SIGKILLed leaves nothing behind (its
 * janitor).  If another kdamond exists, the driver must refuse and leave
 * it untouched: the host's own (refuses_foreign_kdamond) or, where DAMON
 * is free, one this test starts through sysfs as another tool would
 * (refuses_kdamond_of_another_tool).
 *
 * On any machine: the pure helpers (ranges, summaries) and the grouping
 * of tracepoint records into snapshots.
 *
 * Its other cases: damon_fakefs_test.c (a fake sysfs tree) and
 * damon_sigint_test.c (SIGINT at any point).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/damon.h"
#include "kmmu/hygiene.h"
#include "kmmu/janitor.h"
#include "kmmu/pagemap.h"
#include "damon_sigkill_case.h"
#include "damon_test_env.h"
#include "killed_child.h"

/* ---- pure helpers ---- */

TEST(ranges_merge_and_overlap)
{
	struct kmmu_phys_range r[] = {
		{ 0x5000, 0x6000 }, { 0x1000, 0x2000 }, { 0x2000, 0x3000 },
		{ 0x8000, 0x8000 }, { 0x5800, 0x7000 }, { 0x0, 0x800 },
	};
	int n = kmmu_phys_ranges_merge(r, 6);

	ASSERT_EQ(3, n);
	ASSERT_EQ(0x0, r[0].start);
	ASSERT_EQ(0x800, r[0].end);
	ASSERT_EQ(0x1000, r[1].start);
	ASSERT_EQ(0x3000, r[1].end);	/* adjacent ranges merged */
	ASSERT_EQ(0x5000, r[2].start);
	ASSERT_EQ(0x7000, r[2].end);	/* overlapping ranges merged */
	ASSERT_EQ(0x800 + 0x1000, kmmu_phys_ranges_overlap(r, n, 0x400, 0x2400));
	ASSERT_EQ(0, kmmu_phys_ranges_overlap(r, n, 0x3000, 0x5000));
}

TEST(summarize)
{
	struct kmmu_phys_range hot = { 0x10000, 0x20000 };
	struct kmmu_damon_region reg[] = {
		{ 0x0, 0x10000, 9, 1 },		/* outside */
		{ 0x10000, 0x18000, 4, 2 },
		{ 0x18000, 0x28000, 0, 7 },	/* half inside */
	};
	struct kmmu_damon_summary s;

	kmmu_damon_summarize(reg, 3, &hot, 1, &s);
	ASSERT_EQ(0x10000, s.bytes);
	ASSERT_EQ(0x8000, s.accessed_bytes);
	ASSERT_EQ(4, s.max_nr_accesses);
	ASSERT_EQ(7, s.max_age);
	ASSERT_TRUE(s.mean_nr_accesses > 1.99 && s.mean_nr_accesses < 2.01);
}

static struct kmmu_damon_record rec(uint64_t ts, unsigned long target, unsigned int nr,
				    uint64_t start, uint64_t end, unsigned int acc)
{
	static uint64_t seq;
	struct kmmu_damon_record r = {
		.ts = ts, .seq = seq++, .target_id = target, .nr_regions = nr,
		.region = { .start = start, .end = end, .nr_accesses = acc, .age = acc + 1 },
	};

	return r;
}

/*
 * Records -> snapshot.  Aggregation k of a target with five regions fires
 * at ts 100k.. with nr_accesses 10k + i for region i at [i M, (i+1) M).
 */
#define M 0x100000ULL
static struct kmmu_damon_record agg(int k, int i)
{
	return rec(100 * k + i, 0, 5, i * M, (i + 1) * M, 10 * k + i);
}

/* @r[0..] = the records given; how many. */
#define PUT_RECS(r, ...)							\
	put_recs(r, (const struct kmmu_damon_record[]){ __VA_ARGS__ },		\
		 sizeof((const struct kmmu_damon_record[]){ __VA_ARGS__ }) /	\
		 sizeof(struct kmmu_damon_record))

static int put_recs(struct kmmu_damon_record *r, const struct kmmu_damon_record *from, int n)
{
	memcpy(r, from, n * sizeof(*r));
	return n;
}

TEST(snapshot_grouping)
{
	struct kmmu_damon_region out[8];
	struct kmmu_damon_record r[16];
	size_t keep;
	int i, n;

	/*
	 * Tracing began inside aggregation 1 (its regions 3, 4), then all of
	 * aggregation 2, then the start of 3.  Read from two CPUs: the
	 * kdamond moved to CPU 1 after region 1 of aggregation 2, and CPU 1's
	 * buffer was read first.  The snapshot is aggregation 2, in order.
	 */
	n = PUT_RECS(r, agg(2, 2), agg(2, 3), agg(2, 4), agg(3, 0), agg(1, 3), agg(1, 4),
		     agg(2, 0), agg(2, 1));
	ASSERT_EQ(5, kmmu_damon_snapshot(r, n, out, 8, &keep));
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(i * M, out[i].start);
		ASSERT_EQ((i + 1) * M, out[i].end);
		ASSERT_EQ(20 + i, out[i].nr_accesses);
		ASSERT_EQ(21 + i, out[i].age);
	}
	ASSERT_EQ(7, keep);	/* sorted: 2 of aggregation 1, 5 of 2 */

	/* Room for three: the count still says five. */
	memset(out, 0xff, sizeof(out));
	n = 0;
	for (i = 0; i < 5; i++)
		r[n++] = agg(4, i);
	ASSERT_EQ(5, kmmu_damon_snapshot(r, n, out, 3, NULL));
	ASSERT_EQ(42, out[2].nr_accesses);
	ASSERT_EQ(~0ULL, out[3].start);

	/* No whole aggregation yet: the open run (3's start) is to be kept. */
	n = PUT_RECS(r, agg(1, 3), agg(1, 4), agg(2, 0), agg(2, 1));
	ASSERT_EQ(0, kmmu_damon_snapshot(r, n, out, 8, &keep));
	ASSERT_EQ(2, keep);
	ASSERT_EQ(0, kmmu_damon_snapshot(r, 0, out, 8, &keep));
	ASSERT_EQ(0, keep);

	/* Records lost inside aggregation 1: only 2 is a snapshot. */
	n = 0;
	for (i = 0; i < 5; i++)
		r[n++] = agg(1, i);
	r[3].lost_before = true;
	for (i = 0; i < 5; i++)
		r[n++] = agg(2, i);
	ASSERT_EQ(5, kmmu_damon_snapshot(r, n, out, 8, &keep));
	ASSERT_EQ(20, out[0].nr_accesses);
	ASSERT_EQ(10, keep);
	/* ... even when the loss hid aggregation 1's end and 2's start. */
	n = PUT_RECS(r, agg(1, 0), agg(1, 1));
	r[n] = agg(2, 2);
	r[n++].lost_before = true;
	r[n++] = agg(2, 3);
	r[n++] = agg(2, 4);
	ASSERT_EQ(0, kmmu_damon_snapshot(r, n, out, 8, &keep));

	/*
	 * The end of target 0 and the start of target 1 (both three regions,
	 * addresses rising across them) are no snapshot; target 1's whole
	 * aggregation is.
	 */
	n = PUT_RECS(r, rec(10, 0, 3, 1 * M, 2 * M, 1), rec(11, 0, 3, 2 * M, 3 * M, 1),
		     rec(12, 1, 3, 8 * M, 9 * M, 7), rec(13, 1, 3, 9 * M, 10 * M, 7));
	ASSERT_EQ(0, kmmu_damon_snapshot(r, n, out, 8, &keep));
	ASSERT_EQ(2, keep);
	r[n++] = rec(14, 1, 3, 10 * M, 11 * M, 7);
	ASSERT_EQ(3, kmmu_damon_snapshot(r, n, out, 8, &keep));
	ASSERT_EQ(8 * M, out[0].start);
	ASSERT_EQ(11 * M, out[2].end);

	/*
	 * nr_regions changed between aggregations (DAMON split or merged):
	 * the tail of one with four regions and the start of one with five
	 * do not add up to either.
	 */
	n = PUT_RECS(r, rec(10, 0, 4, 0 * M, 1 * M, 0), rec(11, 0, 4, 1 * M, 3 * M, 0),
		     rec(20, 0, 5, 3 * M, 4 * M, 0), rec(21, 0, 5, 4 * M, 5 * M, 0));
	ASSERT_EQ(0, kmmu_damon_snapshot(r, n, out, 8, &keep));
	ASSERT_EQ(2, keep);

	/* Overlapping or empty regions are nothing DAMON reports: cut. */
	n = PUT_RECS(r, rec(10, 0, 2, 0 * M, 2 * M, 0), rec(11, 0, 2, 1 * M, 3 * M, 0));
	ASSERT_EQ(0, kmmu_damon_snapshot(r, n, out, 8, NULL));
	n = PUT_RECS(r, rec(10, 0, 2, 0 * M, 1 * M, 0), rec(11, 0, 2, 1 * M, 1 * M, 0),
		     rec(12, 0, 2, 2 * M, 3 * M, 0));
	ASSERT_EQ(0, kmmu_damon_snapshot(r, n, out, 8, &keep));
	ASSERT_EQ(2, keep);

	/* Equal timestamps: read order decides.  One region is a snapshot. */
	n = PUT_RECS(r, rec(50, 0, 2, 0 * M, 1 * M, 3), rec(50, 0, 2, 1 * M, 2 * M, 4));
	ASSERT_EQ(2, kmmu_damon_snapshot(r, n, out, 8, NULL));
	ASSERT_EQ(4, out[1].nr_accesses);
	n = PUT_RECS(r, rec(60, 0, 1, 5 * M, 6 * M, 9));
	ASSERT_EQ(1, kmmu_damon_snapshot(r, n, out, 8, NULL));
	ASSERT_EQ(9, out[0].nr_accesses);
}

/* Physical ranges of a touched, locked buffer: they add up to its size. */
TEST(virt_to_phys)
{
	static struct kmmu_phys_range r[MAX_RANGES];
	char *p = map_locked(BUF_BYTES), *untouched;
	uint64_t sum = 0;
	int n, i;

	ASSERT_NE(NULL, p);
	n = kmmu_virt_to_phys(p, BUF_BYTES, r, MAX_RANGES);
	if (n == -EPERM)
		SKIP(return, "the kernel hides PFNs from this process (needs root)");
	ASSERT_GT(n, 0) TH_LOG("kmmu_virt_to_phys: %s", strerror(-n));
	for (i = 0; i < n; i++) {
		ASSERT_LT(r[i].start, r[i].end);
		ASSERT_EQ(0, r[i].start % 4096);
		if (i) {
			ASSERT_LT(r[i - 1].end, r[i].start);	/* sorted, merged */
		}
		sum += r[i].end - r[i].start;
	}
	ASSERT_EQ(BUF_BYTES, sum);
	TH_LOG("%lu MiB in %d physical ranges", BUF_BYTES / MIB, n);
	ASSERT_EQ(-ENOSPC, kmmu_virt_to_phys(p, BUF_BYTES, r, n - 1 > 0 ? n - 1 : 0));

	untouched = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, untouched);
	ASSERT_EQ(-ENOENT, kmmu_virt_to_phys(untouched, 4096, r, MAX_RANGES));
	munmap(untouched, 4096);
	munmap(p, BUF_BYTES);
}

/* ---- the running kernel ---- */

/* Someone else's kdamond: refused, and left exactly as it was. */
TEST(refuses_foreign_kdamond)
{
	char state0[32] = "", pid0[32] = "", state1[32] = "", pid1[32] = "", why[256];
	char dir[256], path[300];
	struct kmmu_phys_range r = { 0x100000, 0x200000 };
	struct kmmu_damon d;
	int n = kmmu_damon_nr_kdamonds();

	if (n < 0)
		SKIP(return, "no DAMON sysfs interface (%s); the fake sysfs test covers "
		     "the refusal", strerror(-n));
	if (!n)
		SKIP(return, "no kdamond of anyone else's here; the fake sysfs test "
		     "covers the refusal");
	snprintf(dir, sizeof(dir), "%s/kdamonds/0", kmmu_damon_root());
	snprintf(path, sizeof(path), "%s/state", dir);
	read_file(path, state0, sizeof(state0));
	snprintf(path, sizeof(path), "%s/pid", dir);
	read_file(path, pid0, sizeof(pid0));
	ASSERT_EQ(-EBUSY, kmmu_damon_start(&d, NULL, &r, 1, why, sizeof(why)));
	TH_LOG("%s", why);
	ASSERT_EQ(n, kmmu_damon_nr_kdamonds());
	snprintf(path, sizeof(path), "%s/state", dir);
	read_file(path, state1, sizeof(state1));
	snprintf(path, sizeof(path), "%s/pid", dir);
	read_file(path, pid1, sizeof(pid1));
	ASSERT_STREQ(state0, state1);
	ASSERT_STREQ(pid0, pid1);
	ASSERT_EQ(0, kmmu_damon_stop(&d));	/* not started: nothing to do */
}

struct toucher {
	volatile char *buf;
	size_t len;
	volatile int stop;
	unsigned long passes;
	char *flush;		/* FLUSH_PAGES pages to mprotect */
};

/* Above the kernel's single-page flush ceiling (33): a whole-TLB flush. */
#define FLUSH_PAGES 64

static void *touch_loop(void *arg)
{
	struct toucher *t = arg;

	while (!t->stop) {
		size_t off;

		for (off = 0; off < t->len; off += 4096)
			t->buf[off]++;
		t->passes++;
		/*
		 * DAMON clears Accessed bits without a TLB flush (as all of
		 * x86's aging does); a CPU sets the bit again only when it
		 * refills the entry.  A real TLB is smaller than this buffer
		 * and refills all the time; QEMU TCG's software TLB holds all
		 * of it, so on an emulated CPU, with no other process to
		 * switch to, the hot buffer looked idle (measured in the VM:
		 * nr_accesses 0 everywhere).  Changing the protection of
		 * FLUSH_PAGES present pages flushes this CPU's whole TLB.
		 */
		mprotect(t->flush, FLUSH_PAGES * 4096, PROT_READ);
		mprotect(t->flush, FLUSH_PAGES * 4096, PROT_READ | PROT_WRITE);
		/* Not flat out: DAMON only needs the bit set between checks. */
		usleep(1000);
	}
	return NULL;
}

/* One run per source of regions; each SKIPs where the kernel lacks it. */
FIXTURE(live) {
};

FIXTURE_VARIANT(live) {
	enum kmmu_damon_source source;
};

FIXTURE_VARIANT_ADD(live, tried_regions) {
	.source = KMMU_DAMON_SRC_TRIED_REGIONS,
};

FIXTURE_VARIANT_ADD(live, tracepoint) {
	.source = KMMU_DAMON_SRC_TRACEPOINT,
};

FIXTURE_SETUP(live)
{
}

FIXTURE_TEARDOWN(live)
{
}

TEST_F(live, hot_accessed_cold_not)
{
	static struct kmmu_phys_range hot_r[MAX_RANGES], cold_r[MAX_RANGES], all[2 * MAX_RANGES];
	static struct kmmu_damon_region reg[MAX_REGIONS];
	struct kmmu_damon_attrs a = KMMU_DAMON_ATTRS_DEFAULT;
	struct kmmu_damon_summary hs = {}, cs = {};
	struct toucher t = { .len = BUF_BYTES };
	char why[512], *cold, inst[512] = "";
	uint64_t covered = 0;
	struct kmmu_damon d;
	struct stat st;
	int nh, nc, n, i, k, err;
	pthread_t th;

	err = kmmu_damon_probe(why, sizeof(why));
	if (err)
		SKIP(return, "%s", why);
	cold = map_locked(BUF_BYTES);
	t.buf = map_locked(BUF_BYTES);
	t.flush = map_locked(FLUSH_PAGES * 4096);
	ASSERT_NE(NULL, cold);
	ASSERT_NE(NULL, t.buf);
	ASSERT_NE(NULL, t.flush);
	nh = kmmu_virt_to_phys((void *)t.buf, BUF_BYTES, hot_r, MAX_RANGES);
	nc = kmmu_virt_to_phys(cold, BUF_BYTES, cold_r, MAX_RANGES);
	ASSERT_GT(nh, 0);
	ASSERT_GT(nc, 0);
	memcpy(all, hot_r, nh * sizeof(*all));
	memcpy(all + nh, cold_r, nc * sizeof(*all));
	ASSERT_EQ(0, pthread_create(&th, NULL, touch_loop, &t));

	/*
	 * 10 ms checks, 200 ms aggregation: nr_accesses is 0..20.  Every
	 * physical range is a region of its own (thousands, for 4K pages),
	 * each checked once per sample: not faster, or the kdamond eats a
	 * CPU of this small machine.
	 */
	a.sample_us = 10000;
	a.aggr_us = 200000;
	a.source = variant->source;
	err = kmmu_damon_start(&d, &a, all, nh + nc, why, sizeof(why));
	if (err) {
		t.stop = 1;
		pthread_join(th, NULL);
		if (err == -EBUSY || err == -ENODEV)
			SKIP(return, "%s", why);
		ASSERT_EQ(0, err) TH_LOG("%s", why);
	}
	ASSERT_EQ(1, kmmu_damon_nr_kdamonds());
	ASSERT_EQ(variant->source, d.source);
	if (kmmu_damon_instance(&d))
		snprintf(inst, sizeof(inst), "%s", kmmu_damon_instance(&d));
	ASSERT_EQ(variant->source == KMMU_DAMON_SRC_TRACEPOINT, inst[0] != 0);
	TH_LOG("%s; hot %d ranges, cold %d", why, nh, nc);
	/* A few aggregation intervals to split regions and count. */
	for (i = 0; i < 4; i++) {
		usleep(500 * 1000);
		n = kmmu_damon_regions(&d, reg, MAX_REGIONS);
		ASSERT_GT(n, 0) TH_LOG("kmmu_damon_regions: %s: %s", strerror(-n),
				       kmmu_damon_error(&d));
		ASSERT_LE(n, MAX_REGIONS);
		/*
		 * One aggregation's regions, whole: sorted, disjoint, and
		 * together exactly the memory DAMON was given (paddr never
		 * merges across a gap between the initial ranges).
		 */
		for (k = 0, covered = 0; k < n; k++) {
			ASSERT_LT(reg[k].start, reg[k].end);
			if (k) {
				ASSERT_LE(reg[k - 1].end, reg[k].start);
			}
			covered += reg[k].end - reg[k].start;
		}
		ASSERT_EQ(2 * BUF_BYTES, covered);
		kmmu_damon_summarize(reg, n, hot_r, nh, &hs);
		kmmu_damon_summarize(reg, n, cold_r, nc, &cs);
		TH_LOG("%d regions; hot: %lu/%lu KiB accessed, nr_accesses max %u mean %.2f; "
		       "cold: %lu/%lu KiB accessed, max %u mean %.2f, age max %u",
		       n, (unsigned long)(hs.accessed_bytes >> 10), (unsigned long)(hs.bytes >> 10),
		       hs.max_nr_accesses, hs.mean_nr_accesses,
		       (unsigned long)(cs.accessed_bytes >> 10), (unsigned long)(cs.bytes >> 10),
		       cs.max_nr_accesses, cs.mean_nr_accesses, cs.max_age);
	}
	t.stop = 1;
	pthread_join(th, NULL);
	ASSERT_EQ(0, kmmu_damon_stop(&d));
	ASSERT_EQ(0, kmmu_damon_nr_kdamonds());
	if (inst[0]) {
		ASSERT_NE(0, stat(inst, &st)) TH_LOG("tracefs instance %s left behind", inst);
	}

	/* DAMON saw all of both buffers. */
	EXPECT_EQ(BUF_BYTES, hs.bytes);
	EXPECT_EQ(BUF_BYTES, cs.bytes);
	/*
	 * Hot: accessed.  Cold: not, up to DAMON's region granularity -- a
	 * region may straddle a hot and a cold page that are physically
	 * adjacent, and DAMON checks one random page per region, so allow a
	 * quarter of the cold bytes in accessed regions and require the hot
	 * mean well above the cold one.
	 */
	EXPECT_GT(hs.max_nr_accesses, 0);
	EXPECT_GE(hs.accessed_bytes, BUF_BYTES / 2);
	EXPECT_LE(cs.accessed_bytes, BUF_BYTES / 4);
	EXPECT_GT(hs.mean_nr_accesses, 2 * cs.mean_nr_accesses);
	TH_LOG("the thread touched the hot buffer %lu times", t.passes);
	munmap((void *)t.buf, BUF_BYTES);
	munmap(cold, BUF_BYTES);
	munmap(t.flush, FLUSH_PAGES * 4096);
}

TEST(sigkill_cleaned_up)
{
	char why[256];

	if (kmmu_damon_probe(why, sizeof(why)))
		SKIP(return, "%s", why);
	sigkill_case(_metadata, false, KMMU_DAMON_SRC_AUTO);
}

TEST(sigkill_cleaned_up_tracepoint)
{
	char why[256];

	if (kmmu_damon_probe(why, sizeof(why)))
		SKIP(return, "%s", why);
	sigkill_case(_metadata, false, KMMU_DAMON_SRC_TRACEPOINT);
}

/* ---- DAMON held by another tool ---- */

/*
 * "Someone else": a kdamond this test starts through sysfs, as any other
 * tool would (paddr over a locked MiB of its own), where DAMON is free.
 * The driver must refuse, with its reason, and leave that kdamond as it
 * was, running; then the test stops it and restores nr_kdamonds = 0 (a
 * janitor of its own does that if the test dies first).  Where DAMON is
 * held already (a system kdamond), refuses_foreign_kdamond covers it and
 * this one SKIPs: it never touches a kdamond it did not start.
 */
TEST(refuses_kdamond_of_another_tool)
{
	static const struct { const char *rel, *val; } cfg[] = {
		{ "contexts/nr_contexts", "1" },
		{ "contexts/0/operations", "paddr" },
		{ "contexts/0/targets/nr_targets", "1" },
		{ "contexts/0/targets/0/regions/nr_regions", "1" },
	};
	char root[256], kd[300], path[400], val[32], why[512], buf[64];
	char state0[32] = "", pid0[32] = "", state1[32] = "", pid1[32] = "", comm[64] = "";
	struct kmmu_phys_range r[MIB / 4096], mine = { 0x100000, 0x200000 };
	struct kmmu_janitor jan;
	struct kmmu_damon d;
	size_t i;
	char *p;
	int n, k;

	n = kmmu_damon_nr_kdamonds();
	if (n < 0)
		SKIP(return, "no DAMON sysfs interface (%s)", strerror(-n));
	if (n)
		SKIP(return, "DAMON is held already (nr_kdamonds=%d): refuses_foreign_kdamond "
		     "checks the refusal against that kdamond", n);
	if (geteuid())
		SKIP(return, "starting a kdamond needs root");
	snprintf(root, sizeof(root), "%s", kmmu_damon_root());
	snprintf(kd, sizeof(kd), "%s/kdamonds/0", root);
	p = map_locked(MIB);
	ASSERT_NE(NULL, p);
	n = kmmu_virt_to_phys(p, MIB, r, MIB / 4096);
	ASSERT_GT(n, 0) TH_LOG("kmmu_virt_to_phys: %s", strerror(-n));

	/* The other tool's undo, as the driver's: so a failed test leaves nothing. */
	ASSERT_EQ(0, kmmu_janitor_start(&jan));
	snprintf(path, sizeof(path), "%s/kdamonds/nr_kdamonds", root);
	ASSERT_EQ(0, kmmu_janitor_push(&jan, KMMU_UNDO_WRITE, path, "0"));
	ASSERT_EQ(0, kmmu_ctl_write_retry(path, "1", 200));
	for (i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", kd, cfg[i].rel);
		k = kmmu_ctl_write_retry(path, cfg[i].val, 200);
		if (k == -EINVAL && !strcmp(cfg[i].val, "paddr")) {
			kmmu_janitor_undo(&jan);
			kmmu_janitor_stop(&jan);
			SKIP(return, "no paddr operations");
		}
		ASSERT_EQ(0, k) TH_LOG("%s: %s", path, strerror(-k));
	}
	snprintf(path, sizeof(path), "%s/contexts/0/targets/0/regions/0/start", kd);
	snprintf(val, sizeof(val), "%llu", (unsigned long long)r[0].start);
	ASSERT_EQ(0, kmmu_ctl_write_retry(path, val, 200));
	snprintf(path, sizeof(path), "%s/contexts/0/targets/0/regions/0/end", kd);
	snprintf(val, sizeof(val), "%llu", (unsigned long long)r[0].end);
	ASSERT_EQ(0, kmmu_ctl_write_retry(path, val, 200));
	snprintf(path, sizeof(path), "%s/pid", kd);
	ASSERT_EQ(0, kmmu_janitor_push(&jan, KMMU_UNDO_WAIT, path, "-1"));
	snprintf(path, sizeof(path), "%s/state", kd);
	ASSERT_EQ(0, kmmu_janitor_push(&jan, KMMU_UNDO_WRITE, path, "off"));
	ASSERT_EQ(0, kmmu_ctl_write_retry(path, "on", 200));
	snprintf(path, sizeof(path), "%s/pid", kd);
	for (k = 0; k < 500; k++) {
		if (!kmmu_ctl_read_retry(path, pid0, sizeof(pid0), 200) && atoi(pid0) > 0)
			break;
		usleep(10 * 1000);
	}
	ASSERT_GT(atoi(pid0), 0) TH_LOG("the other tool's kdamond did not start");
	snprintf(path, sizeof(path), "%s/state", kd);
	ASSERT_EQ(0, kmmu_ctl_read_retry(path, state0, sizeof(state0), 200));
	ASSERT_STREQ("on", state0);

	/* The driver: refused, with its reason, and nothing written. */
	ASSERT_EQ(-EBUSY, kmmu_damon_probe(why, sizeof(why)));
	ASSERT_NE(NULL, strstr(why, "in use by someone else")) TH_LOG("%s", why);
	ASSERT_EQ(-EBUSY, kmmu_damon_start(&d, NULL, &mine, 1, why, sizeof(why)));
	TH_LOG("%s", why);
	ASSERT_EQ(0, kmmu_damon_stop(&d));
	ASSERT_EQ(1, kmmu_damon_nr_kdamonds());
	snprintf(path, sizeof(path), "%s/state", kd);
	ASSERT_EQ(0, kmmu_ctl_read_retry(path, state1, sizeof(state1), 200));
	snprintf(path, sizeof(path), "%s/pid", kd);
	ASSERT_EQ(0, kmmu_ctl_read_retry(path, pid1, sizeof(pid1), 200));
	ASSERT_STREQ(state0, state1);
	ASSERT_STREQ(pid0, pid1);
	snprintf(path, sizeof(path), "/proc/%s/comm", pid1);
	ASSERT_EQ(0, read_file(path, comm, sizeof(comm))) TH_LOG("kdamond %s is gone", pid1);
	ASSERT_EQ(0, strncmp(comm, "kdamond", 7)) TH_LOG("pid %s is %s", pid1, comm);
	snprintf(path, sizeof(path), "%s/contexts/0/targets/0/regions/0/start", kd);
	ASSERT_EQ(0, kmmu_ctl_read_retry(path, buf, sizeof(buf), 200));
	ASSERT_EQ(r[0].start, strtoull(buf, NULL, 0)) TH_LOG("its regions were rewritten");

	/* The other tool stops its kdamond and restores nr_kdamonds. */
	ASSERT_EQ(0, kmmu_janitor_undo(&jan));
	kmmu_janitor_stop(&jan);
	ASSERT_EQ(0, kmmu_damon_nr_kdamonds());
	munmap(p, MIB);
}

TEST_HARNESS_MAIN
