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
 * Against a fake sysfs tree (KMMU_DAMON_SYSFS) whose "kernel" is a thread
 * answering state writes: the files the driver writes, the regions it
 * reads (tried_regions as every kernel from 6.2 to 7.1 names them, and
 * snapshots that do not add up), its teardown and its janitor, its
 * refusals (also of a kernel with neither source) -- these run on any
 * machine, as does the grouping of tracepoint records into snapshots.
 * With the fake sysfs and a real tracefs instance (root, CONFIG_DAMON):
 * SIGINT at varied points, and while the interrupted code holds a file of
 * the instance open, leaves no instance, kdamond or janitor behind.
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
#include "killed_child.h"

#define MIB		(1024UL * 1024)
#define BUF_BYTES	(16 * MIB)
#define MAX_RANGES	8192
#define MAX_REGIONS	(2 * MAX_RANGES + 64)

static void *map_locked(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t off;

	if (p == MAP_FAILED)
		return NULL;
	/* 4K pages that stay where they are: their PFNs are DAMON's regions. */
	madvise(p, len, MADV_NOHUGEPAGE);
	/* The janitor is forked later: sharing would COW-move our pages. */
	madvise(p, len, MADV_DONTFORK);
	for (off = 0; off < len; off += 4096)
		p[off] = 1;
	mlock(p, len);
	return p;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, len - 1);
	close(fd);
	if (r < 0)
		return -errno;
	buf[r] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = write(fd, val, strlen(val));
	close(fd);
	return r == (ssize_t)strlen(val) ? 0 : -EIO;
}

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
	n = 0;
	r[n++] = agg(2, 2);
	r[n++] = agg(2, 3);
	r[n++] = agg(2, 4);
	r[n++] = agg(3, 0);
	r[n++] = agg(1, 3);
	r[n++] = agg(1, 4);
	r[n++] = agg(2, 0);
	r[n++] = agg(2, 1);
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
	n = 0;
	r[n++] = agg(1, 3);
	r[n++] = agg(1, 4);
	r[n++] = agg(2, 0);
	r[n++] = agg(2, 1);
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
	n = 0;
	r[n++] = agg(1, 0);
	r[n++] = agg(1, 1);
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
	n = 0;
	r[n++] = rec(10, 0, 3, 1 * M, 2 * M, 1);
	r[n++] = rec(11, 0, 3, 2 * M, 3 * M, 1);
	r[n++] = rec(12, 1, 3, 8 * M, 9 * M, 7);
	r[n++] = rec(13, 1, 3, 9 * M, 10 * M, 7);
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
	n = 0;
	r[n++] = rec(10, 0, 4, 0 * M, 1 * M, 0);
	r[n++] = rec(11, 0, 4, 1 * M, 3 * M, 0);
	r[n++] = rec(20, 0, 5, 3 * M, 4 * M, 0);
	r[n++] = rec(21, 0, 5, 4 * M, 5 * M, 0);
	ASSERT_EQ(0, kmmu_damon_snapshot(r, n, out, 8, &keep));
	ASSERT_EQ(2, keep);

	/* Overlapping or empty regions are nothing DAMON reports: cut. */
	n = 0;
	r[n++] = rec(10, 0, 2, 0 * M, 2 * M, 0);
	r[n++] = rec(11, 0, 2, 1 * M, 3 * M, 0);
	ASSERT_EQ(0, kmmu_damon_snapshot(r, n, out, 8, NULL));
	n = 0;
	r[n++] = rec(10, 0, 2, 0 * M, 1 * M, 0);
	r[n++] = rec(11, 0, 2, 1 * M, 1 * M, 0);
	r[n++] = rec(12, 0, 2, 2 * M, 3 * M, 0);
	ASSERT_EQ(0, kmmu_damon_snapshot(r, n, out, 8, &keep));
	ASSERT_EQ(2, keep);

	/* Equal timestamps: read order decides.  One region is a snapshot. */
	n = 0;
	r[n++] = rec(50, 0, 2, 0 * M, 1 * M, 3);
	r[n++] = rec(50, 0, 2, 1 * M, 2 * M, 4);
	ASSERT_EQ(2, kmmu_damon_snapshot(r, n, out, 8, NULL));
	ASSERT_EQ(4, out[1].nr_accesses);
	n = 0;
	r[n++] = rec(60, 0, 1, 5 * M, 6 * M, 9);
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

/*
 * A child starts DAMON and is SIGKILLed: the janitor turns it off (and
 * removes the tracefs instance, if the tracepoint was the source).
 */
static void sigkill_case(struct __test_metadata *_metadata, bool fake,
			 enum kmmu_damon_source source)
{
	struct { int err; int kdamond_pid; char why[256]; char inst[512]; } info;
	struct kmmu_damon_attrs a = KMMU_DAMON_ATTRS_DEFAULT;
	int fds[2], status, i, n = -1;
	struct stat st;
	pid_t pid;

	a.source = source;

	ASSERT_EQ(0, pipe(fds));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		/* Every page its own range at worst (a fragmented VM's memory). */
		struct kmmu_phys_range r[MIB / 4096];
		struct kmmu_damon d;
		char *p = map_locked(MIB);

		close(fds[0]);
		memset(&info, 0, sizeof(info));
		info.err = fake ? 1 : kmmu_virt_to_phys(p, MIB, r, MIB / 4096);
		if (fake) {
			r[0].start = 0x100000;
			r[0].end = 0x200000;
		}
		if (info.err > 0)
			info.err = kmmu_damon_start(&d, &a, r, info.err, info.why,
						    sizeof(info.why));
		info.kdamond_pid = d.kdamond_pid;
		if (!info.err && kmmu_damon_instance(&d))
			snprintf(info.inst, sizeof(info.inst), "%s", kmmu_damon_instance(&d));
		killed_child_report(fds[1], &info, sizeof(info));
	}
	ASSERT_EQ(sizeof(info), killed_child_read(fds, &info, sizeof(info)));
	if (info.err) {
		killed_child_reap(pid);
		if (info.err == -EBUSY || info.err == -ENODEV)
			SKIP(return, "%s", info.why);
		ASSERT_EQ(0, info.err) TH_LOG("child: %s", info.why);
	}
	ASSERT_EQ(1, kmmu_damon_nr_kdamonds());
	if (source == KMMU_DAMON_SRC_TRACEPOINT) {
		ASSERT_NE(0, info.inst[0]);
		ASSERT_EQ(0, stat(info.inst, &st)) TH_LOG("%s: %s", info.inst, strerror(errno));
	}
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	for (i = 0; i < 1000; i++) {
		n = kmmu_damon_nr_kdamonds();
		if (!n && (!info.inst[0] || stat(info.inst, &st)))
			break;
		usleep(10 * 1000);
	}
	TH_LOG("kdamond %d of the killed child: nr_kdamonds %d%s%s after ~%d ms",
	       info.kdamond_pid, n, info.inst[0] ? ", instance " : "", info.inst, i * 10);
	ASSERT_EQ(0, n);
	if (info.inst[0]) {
		ASSERT_NE(0, stat(info.inst, &st)) TH_LOG("%s left behind", info.inst);
	}
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

/* ---- a fake sysfs tree ---- */

struct fake {
	char root[64];
	char kd[128];
	pthread_t thread;
	int ifd;
	volatile int stop;
};

static void fake_mk(struct fake *f, const char *rel, const char *content)
{
	char path[512], *s;

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	for (s = path + strlen(f->root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(path, 0755);
		*s = '/';
	}
	if (content)
		write_file(path, content);
	else
		mkdir(path, 0755);
}

/* What DAMON would have found: start, end, nr_accesses, age. */
static const unsigned long fake_tried_regions[3][4] = {
	{ 0x100000, 0x180000, 17, 3 },
	{ 0x180000, 0x200000, 0, 12 },
	{ 0x300000, 0x340000, 2, 1 },
};
/* How kernels name the region directories of a first update. */
static const int fake_names_6_2[3] = { 0, 1, 2 };	/* 6.2 - 6.13 */
static const int fake_names_6_14[3] = { 1, 3, 5 };	/* 6.14 - 7.1 */
static const int fake_names_6_18[3] = { 0, 2, 4 };	/* with the 2026 stable fix */

/*
 * Lay out tried_regions as an update would leave it: region @i of @reg in
 * a directory named @names[i], and total_bytes @total (NULL: no such
 * file, as before 6.6).  What was there is removed first.
 */
static void fake_tried(struct fake *f, const unsigned long (*reg)[4], const int *names,
		       int n, const char *total)
{
	static const char *const fn[] = { "start", "end", "nr_accesses", "age" };
	char rel[256], val[32], cmd[300];
	int i, k;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/kdamonds/0/contexts/0/schemes/0/tried_regions'",
		 f->root);
	if (system(cmd))
		return;
	fake_mk(f, "kdamonds/0/contexts/0/schemes/0/tried_regions", NULL);
	for (i = 0; i < n; i++) {
		for (k = 0; k < 4; k++) {
			snprintf(rel, sizeof(rel),
				 "kdamonds/0/contexts/0/schemes/0/tried_regions/%d/%s",
				 names[i], fn[k]);
			snprintf(val, sizeof(val), "%lu\n", reg[i][k]);
			fake_mk(f, rel, val);
		}
	}
	if (total)
		fake_mk(f, "kdamonds/0/contexts/0/schemes/0/tried_regions/total_bytes", total);
}

static void fake_get(struct fake *f, const char *rel, char *buf, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	buf[0] = 0;
	read_file(path, buf, len);
}

/*
 * The "kernel": answers writes to kdamonds/0/state the way DAMON does as
 * far as the driver can see -- pid is the thread's once on, -1 once off.
 * Writes do not truncate a regular file, so the state file holds the last
 * command over the tail of older ones: its prefix says which.
 */
static void *fake_kernel(void *arg)
{
	struct fake *f = arg;
	char path[256], pidp[256], buf[128];

	snprintf(path, sizeof(path), "%s/state", f->kd);
	snprintf(pidp, sizeof(pidp), "%s/pid", f->kd);
	while (!f->stop) {
		char ev[4096];
		ssize_t r = read(f->ifd, ev, sizeof(ev));

		if (r <= 0) {
			usleep(2000);
			continue;
		}
		if (read_file(path, buf, sizeof(buf)))
			continue;
		if (!strncmp(buf, "off", 3))
			write_file(pidp, "-1");
		else if (!strncmp(buf, "on", 2))
			write_file(pidp, "4242");
	}
	return NULL;
}

static void fake_setup(struct fake *f)
{
	static const char *const empty[] = {
		"contexts/0/monitoring_attrs/intervals/sample_us",
		"contexts/0/monitoring_attrs/intervals/aggr_us",
		"contexts/0/monitoring_attrs/intervals/update_us",
		"contexts/0/monitoring_attrs/nr_regions/min",
		"contexts/0/monitoring_attrs/nr_regions/max",
		"contexts/0/targets/nr_targets",
		"contexts/0/targets/0/regions/nr_regions",
		"contexts/0/schemes/nr_schemes",
		"contexts/0/schemes/0/action",
		"contexts/0/schemes/0/access_pattern/sz/min",
		"contexts/0/schemes/0/access_pattern/sz/max",
		"contexts/0/schemes/0/access_pattern/nr_accesses/min",
		"contexts/0/schemes/0/access_pattern/nr_accesses/max",
		"contexts/0/schemes/0/access_pattern/age/min",
		"contexts/0/schemes/0/access_pattern/age/max",
		"contexts/0/operations",
		"contexts/nr_contexts",
		"state",
	};
	char rel[256];
	size_t i;

	strcpy(f->root, "/tmp/kmmu-fake-damon-XXXXXX");
	if (!mkdtemp(f->root))
		return;
	snprintf(f->kd, sizeof(f->kd), "%s/kdamonds/0", f->root);
	fake_mk(f, "kdamonds/nr_kdamonds", "0");
	fake_mk(f, "kdamonds/0/pid", "-1");
	fake_mk(f, "kdamonds/0/contexts/0/avail_operations", "vaddr\nfvaddr\npaddr\n");
	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		snprintf(rel, sizeof(rel), "kdamonds/0/%s", empty[i]);
		fake_mk(f, rel, "");
	}
	for (i = 0; i < 4; i++) {
		snprintf(rel, sizeof(rel), "kdamonds/0/contexts/0/targets/0/regions/%zu/start", i);
		fake_mk(f, rel, "");
		snprintf(rel, sizeof(rel), "kdamonds/0/contexts/0/targets/0/regions/%zu/end", i);
		fake_mk(f, rel, "");
	}
	fake_mk(f, "kdamonds/0/contexts/0/addr_unit", "");
	/* As 6.18 names them: 0, 2, 4 (see kmmu/damon.h). */
	fake_tried(f, fake_tried_regions, fake_names_6_18, 3, "1310720");
	snprintf(rel, sizeof(rel), "%s/state", f->kd);
	f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	inotify_add_watch(f->ifd, rel, IN_CLOSE_WRITE);
	pthread_create(&f->thread, NULL, fake_kernel, f);
	setenv("KMMU_DAMON_SYSFS", f->root, 1);
}

static void fake_teardown(struct fake *f)
{
	char cmd[128];

	unsetenv("KMMU_DAMON_SYSFS");
	unsetenv("KMMU_DAMON_TRACEFS");
	if (!f->root[0])
		return;
	f->stop = 1;
	pthread_join(f->thread, NULL);
	close(f->ifd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd))
		return;
}

FIXTURE(fakefs) {
	struct fake f;
};

FIXTURE_SETUP(fakefs)
{
	memset(&self->f, 0, sizeof(self->f));
	fake_setup(&self->f);
	ASSERT_NE(0, self->f.root[0]);
}

FIXTURE_TEARDOWN(fakefs)
{
	fake_teardown(&self->f);
}

/* What the driver writes, reads and restores. */
TEST_F(fakefs, protocol)
{
	/* Unsorted and overlapping on purpose: the driver sorts and merges. */
	struct kmmu_phys_range r[] = {
		{ 0x300000, 0x340000 }, { 0x100000, 0x180000 }, { 0x180000, 0x200000 },
		{ 0x310000, 0x320000 },
	};
	struct kmmu_damon_attrs a = KMMU_DAMON_ATTRS_DEFAULT;
	struct kmmu_damon_region reg[2];
	struct kmmu_damon_summary s;
	char why[256], buf[128];
	struct kmmu_damon d;
	int n;

	a.sample_us = 1000;
	a.aggr_us = 20000;
	ASSERT_EQ(0, kmmu_damon_probe(why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, kmmu_damon_start(&d, &a, r, 4, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(4242, d.kdamond_pid);
	fake_get(&self->f, "kdamonds/nr_kdamonds", buf, sizeof(buf));
	ASSERT_STREQ("1", buf);
	fake_get(&self->f, "kdamonds/0/contexts/nr_contexts", buf, sizeof(buf));
	ASSERT_STREQ("1", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/operations", buf, sizeof(buf));
	ASSERT_STREQ("paddr", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/addr_unit", buf, sizeof(buf));
	ASSERT_STREQ("1", buf);		/* 6.18's: our addresses are bytes */
	fake_get(&self->f, "kdamonds/0/contexts/0/monitoring_attrs/intervals/sample_us", buf, sizeof(buf));
	ASSERT_STREQ("1000", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/monitoring_attrs/intervals/aggr_us", buf, sizeof(buf));
	ASSERT_STREQ("20000", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/monitoring_attrs/nr_regions/min", buf, sizeof(buf));
	ASSERT_STREQ("10", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/targets/nr_targets", buf, sizeof(buf));
	ASSERT_STREQ("1", buf);
	/* Merged: [1M, 2M) and [3M, 3M + 256K). */
	fake_get(&self->f, "kdamonds/0/contexts/0/targets/0/regions/nr_regions", buf, sizeof(buf));
	ASSERT_STREQ("2", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/targets/0/regions/0/start", buf, sizeof(buf));
	ASSERT_STREQ("1048576", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/targets/0/regions/0/end", buf, sizeof(buf));
	ASSERT_STREQ("2097152", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/targets/0/regions/1/start", buf, sizeof(buf));
	ASSERT_STREQ("3145728", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/targets/0/regions/1/end", buf, sizeof(buf));
	ASSERT_STREQ("3407872", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/schemes/nr_schemes", buf, sizeof(buf));
	ASSERT_STREQ("1", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/schemes/0/action", buf, sizeof(buf));
	ASSERT_STREQ("stat", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/schemes/0/access_pattern/nr_accesses/max", buf, sizeof(buf));
	ASSERT_STREQ("4294967295", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/schemes/0/access_pattern/sz/max", buf, sizeof(buf));
	ASSERT_STREQ("18446744073709551615", buf);
	fake_get(&self->f, "kdamonds/0/state", buf, sizeof(buf));
	ASSERT_STREQ("on", buf);

	/* Three regions; room for two: the count says three. */
	n = kmmu_damon_regions(&d, reg, 2);
	ASSERT_EQ(3, n);
	fake_get(&self->f, "kdamonds/0/state", buf, sizeof(buf));
	ASSERT_STREQ("update_schemes_tried_regions", buf);
	ASSERT_EQ(0x100000, reg[0].start);
	ASSERT_EQ(0x180000, reg[0].end);
	ASSERT_EQ(17, reg[0].nr_accesses);
	ASSERT_EQ(3, reg[0].age);
	ASSERT_EQ(0, reg[1].nr_accesses);
	ASSERT_EQ(12, reg[1].age);
	kmmu_damon_summarize(reg, 2, &r[1], 1, &s);
	ASSERT_EQ(0x80000, s.bytes);
	ASSERT_EQ(17, s.max_nr_accesses);

	ASSERT_EQ(0, kmmu_damon_stop(&d));
	fake_get(&self->f, "kdamonds/nr_kdamonds", buf, sizeof(buf));
	ASSERT_STREQ("0", buf);
	fake_get(&self->f, "kdamonds/0/pid", buf, sizeof(buf));
	ASSERT_STREQ("-1", buf);
	fake_get(&self->f, "kdamonds/0/state", buf, sizeof(buf));
	ASSERT_EQ(0, strncmp(buf, "off", 3));
	ASSERT_EQ(0, kmmu_damon_stop(&d));	/* twice is fine */
	ASSERT_EQ(-EINVAL, kmmu_damon_regions(&d, reg, 2));
}

/*
 * However the kernel named the region directories (see kmmu/damon.h),
 * and in whatever order it listed them: all of them, in address order.
 * The update is the kernel's, so the layout is laid out beforehand.
 */
TEST_F(fakefs, tried_regions_any_names)
{
	static const unsigned long scrambled[3][4] = {
		{ 0x300000, 0x340000, 2, 1 },
		{ 0x100000, 0x180000, 17, 3 },
		{ 0x180000, 0x200000, 0, 12 },
	};
	static const int drifted[3] = { 7, 9, 11 };	/* a later update */
	const int *names[] = { fake_names_6_2, fake_names_6_14, fake_names_6_18, drifted };
	struct kmmu_phys_range r[] = { { 0x100000, 0x200000 }, { 0x300000, 0x340000 } };
	struct kmmu_damon_attrs a = KMMU_DAMON_ATTRS_DEFAULT;
	struct kmmu_damon_region reg[4];
	char why[256];
	struct kmmu_damon d;
	size_t i;
	int n;

	a.sample_us = 1000;
	a.aggr_us = 20000;
	ASSERT_EQ(0, kmmu_damon_start(&d, &a, r, 2, why, sizeof(why))) TH_LOG("%s", why);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		fake_tried(&self->f, i & 1 ? scrambled : fake_tried_regions, names[i], 3,
			   i == 3 ? NULL : "1310720");	/* none: before 6.6 */
		memset(reg, 0xff, sizeof(reg));
		n = kmmu_damon_regions(&d, reg, 4);
		ASSERT_EQ(3, n) TH_LOG("names %d, %d, %d: %s", names[i][0], names[i][1],
				       names[i][2], kmmu_damon_error(&d));
		ASSERT_EQ(0x100000, reg[0].start);
		ASSERT_EQ(17, reg[0].nr_accesses);
		ASSERT_EQ(0x180000, reg[1].start);
		ASSERT_EQ(12, reg[1].age);
		ASSERT_EQ(0x300000, reg[2].start);
		ASSERT_EQ(0x340000, reg[2].end);
		ASSERT_EQ(~0ULL, reg[3].start);
		ASSERT_STREQ("", kmmu_damon_error(&d));
	}
	ASSERT_EQ(0, kmmu_damon_stop(&d));
}

/*
 * A snapshot that does not add up to the monitored bytes is taken again
 * and, if it stays so, an error saying why -- never a short snapshot.
 */
TEST_F(fakefs, tried_regions_incomplete)
{
	static const unsigned long overlapping[2][4] = {
		{ 0x100000, 0x180000, 1, 1 },
		{ 0x170000, 0x200000, 1, 1 },
	};
	struct kmmu_phys_range r[] = { { 0x100000, 0x200000 }, { 0x300000, 0x340000 } };
	struct kmmu_damon_attrs a = KMMU_DAMON_ATTRS_DEFAULT;
	struct kmmu_damon_region reg[4];
	char why[256], dir[300];
	uint64_t bytes, total;
	struct kmmu_damon d;

	a.sample_us = 1000;
	a.aggr_us = 20000;
	ASSERT_EQ(0, kmmu_damon_start(&d, &a, r, 2, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0x140000, d.bytes);

	/* One region of three: what counting from 0 read on 6.18. */
	fake_tried(&self->f, fake_tried_regions, fake_names_6_18, 1, "524288");
	ASSERT_EQ(-EIO, kmmu_damon_regions(&d, reg, 4));
	TH_LOG("%s", kmmu_damon_error(&d));
	ASSERT_NE(NULL, strstr(kmmu_damon_error(&d), "not the 1310720 bytes monitored"));
	/* All three, but the kernel says it walked more: a directory is missing. */
	fake_tried(&self->f, fake_tried_regions, fake_names_6_14, 3, "2000000");
	ASSERT_EQ(-EIO, kmmu_damon_regions(&d, reg, 4));
	ASSERT_NE(NULL, strstr(kmmu_damon_error(&d), "total_bytes 2000000"));
	/* Overlapping regions are no snapshot of DAMON's. */
	fake_tried(&self->f, overlapping, fake_names_6_2, 2, NULL);
	ASSERT_EQ(-EIO, kmmu_damon_regions(&d, reg, 4));
	ASSERT_NE(NULL, strstr(kmmu_damon_error(&d), "overlaps"));
	snprintf(dir, sizeof(dir), "%s/kdamonds/0/contexts/0/schemes/0/tried_regions",
		 self->f.root);
	ASSERT_EQ(-EIO, kmmu_damon_tried_read(dir, reg, 4, &bytes, &total, why, sizeof(why)));
	/* A region directory without its files. */
	fake_tried(&self->f, fake_tried_regions, fake_names_6_2, 3, "1310720");
	fake_mk(&self->f, "kdamonds/0/contexts/0/schemes/0/tried_regions/9", NULL);
	ASSERT_EQ(-ENOENT, kmmu_damon_regions(&d, reg, 4));
	ASSERT_NE(NULL, strstr(kmmu_damon_error(&d), "tried_regions/9/start"));
	/* And whole again. */
	fake_tried(&self->f, fake_tried_regions, fake_names_6_2, 3, "1310720");
	ASSERT_EQ(3, kmmu_damon_regions(&d, reg, 4)) TH_LOG("%s", kmmu_damon_error(&d));
	ASSERT_EQ(0, kmmu_damon_stop(&d));
	ASSERT_EQ(-EINVAL, kmmu_damon_regions(&d, reg, 4));
}

TEST_F(fakefs, refusals)
{
	struct kmmu_damon_attrs tp = KMMU_DAMON_ATTRS_DEFAULT, tried = KMMU_DAMON_ATTRS_DEFAULT;
	struct kmmu_phys_range r = { 0x100000, 0x200000 };
	char why[512], buf[64], path[256];
	struct kmmu_damon d;

	tp.source = KMMU_DAMON_SRC_TRACEPOINT;
	tried.source = KMMU_DAMON_SRC_TRIED_REGIONS;

	/* Someone else's kdamond: -EBUSY, and nothing written. */
	snprintf(path, sizeof(path), "%s/kdamonds/nr_kdamonds", self->f.root);
	write_file(path, "1");
	ASSERT_EQ(-EBUSY, kmmu_damon_start(&d, NULL, &r, 1, why, sizeof(why)));
	TH_LOG("%s", why);
	fake_get(&self->f, "kdamonds/nr_kdamonds", buf, sizeof(buf));
	ASSERT_STREQ("1", buf);
	fake_get(&self->f, "kdamonds/0/contexts/0/operations", buf, sizeof(buf));
	ASSERT_STREQ("", buf);
	write_file(path, "0");

	/* No paddr operations: -ENODEV, and nr_kdamonds back to 0. */
	snprintf(path, sizeof(path), "%s/kdamonds/0/contexts/0/avail_operations", self->f.root);
	write_file(path, "vaddr\nfvaddr\n");
	ASSERT_EQ(-ENODEV, kmmu_damon_start(&d, NULL, &r, 1, why, sizeof(why)));
	TH_LOG("%s", why);
	fake_get(&self->f, "kdamonds/nr_kdamonds", buf, sizeof(buf));
	ASSERT_STREQ("0", buf);
	write_file(path, "vaddr\nfvaddr\npaddr\n");

	/* Bad arguments. */
	ASSERT_EQ(-EINVAL, kmmu_damon_start(&d, NULL, &r, 0, why, sizeof(why)));

	/*
	 * A kernel that cannot report regions either way (DAMON sysfs before
	 * 6.2, no damon_aggregated tracepoint): -ENODEV naming both, and
	 * nr_kdamonds back to 0.  A forced source names only its own.
	 */
	setenv("KMMU_DAMON_TRACEFS", "/nonexistent/tracefs", 1);
	ASSERT_EQ(-ENODEV, kmmu_damon_start(&d, &tp, &r, 1, why, sizeof(why)));
	TH_LOG("%s", why);
	ASSERT_NE(NULL, strstr(why, "damon_aggregated"));
	fake_get(&self->f, "kdamonds/nr_kdamonds", buf, sizeof(buf));
	ASSERT_STREQ("0", buf);
	snprintf(path, sizeof(path), "rm -rf '%s/kdamonds/0/contexts/0/schemes/0/tried_regions'",
		 self->f.root);
	ASSERT_EQ(0, system(path));
	ASSERT_EQ(-ENODEV, kmmu_damon_start(&d, NULL, &r, 1, why, sizeof(why)));
	TH_LOG("%s", why);
	ASSERT_NE(NULL, strstr(why, "tried_regions"));
	ASSERT_NE(NULL, strstr(why, "damon_aggregated"));
	fake_get(&self->f, "kdamonds/nr_kdamonds", buf, sizeof(buf));
	ASSERT_STREQ("0", buf);
	fake_get(&self->f, "kdamonds/0/state", buf, sizeof(buf));
	ASSERT_STREQ("", buf);		/* never turned on */
	ASSERT_EQ(-ENODEV, kmmu_damon_start(&d, &tried, &r, 1, why, sizeof(why)));
	TH_LOG("%s", why);
	ASSERT_NE(NULL, strstr(why, "tried_regions"));
	ASSERT_EQ(NULL, strstr(why, "damon_aggregated"));
	unsetenv("KMMU_DAMON_TRACEFS");

	/* No DAMON sysfs at all. */
	setenv("KMMU_DAMON_SYSFS", "/nonexistent/damon", 1);
	ASSERT_EQ(-ENODEV, kmmu_damon_probe(why, sizeof(why)));
	ASSERT_EQ(-ENODEV, kmmu_damon_start(&d, NULL, &r, 1, why, sizeof(why)));
	TH_LOG("%s", why);
}

TEST_F(fakefs, sigkill_cleaned_up)
{
	char buf[64];

	sigkill_case(_metadata, true, KMMU_DAMON_SRC_AUTO);
	if (_metadata->skip)
		return;
	fake_get(&self->f, "kdamonds/0/pid", buf, sizeof(buf));
	ASSERT_STREQ("-1", buf);
	fake_get(&self->f, "kdamonds/0/state", buf, sizeof(buf));
	ASSERT_EQ(0, strncmp(buf, "off", 3));
}

/* ---- SIGINT at any point: nothing left behind ---- */

/*
 * The driver in a child, against the fake sysfs (its "kernel" is a thread
 * of this process) and a tracefs of the test's own, the tracepoint as the
 * source: so there is a real tracefs instance to leave behind, on any
 * machine with tracefs and the damon:damon_aggregated event.  All mounts
 * of tracefs show the same instances, so what is left in ours is left on
 * the host.
 */
FIXTURE(sigint) {
	struct fake f;
	char tfs[64];
	pid_t child;
};

FIXTURE_SETUP(sigint)
{
	char path[128];

	memset(&self->f, 0, sizeof(self->f));
	self->child = 0;
	strcpy(self->tfs, "/tmp/kmmu-damon-test-tracefs-XXXXXX");
	if (!mkdtemp(self->tfs)) {
		self->tfs[0] = 0;
		SKIP(return, "mkdtemp: %s", strerror(errno));
	}
	if (mount("nodev", self->tfs, "tracefs", 0, NULL)) {
		int e = errno;

		rmdir(self->tfs);
		self->tfs[0] = 0;
		SKIP(return, "cannot mount a tracefs (%s): needs root and CONFIG_TRACING",
		     strerror(e));
	}
	snprintf(path, sizeof(path), "%s/events/damon/damon_aggregated/format", self->tfs);
	if (access(path, F_OK))
		SKIP(return, "no damon:damon_aggregated tracepoint (CONFIG_DAMON)");
	fake_setup(&self->f);
	ASSERT_NE(0, self->f.root[0]);
	setenv("KMMU_DAMON_TRACEFS", self->tfs, 1);
	/* The child's janitors, orphaned by its death, become ours to watch. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
}

FIXTURE_TEARDOWN(sigint)
{
	char inst[160];

	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
		/* A failed case's leftover: not left on the host, at least. */
		snprintf(inst, sizeof(inst), "%s/instances/kmmu-%d-damon", self->tfs,
			 (int)self->child);
		rmdir(inst);
	}
	fake_teardown(&self->f);
	if (self->tfs[0]) {
		umount2(self->tfs, MNT_DETACH);
		rmdir(self->tfs);
	}
}

struct sig_info {
	int err;
	char inst[256];
	char why[256];
};

/*
 * The child: start the driver and report; with @hold, open one of the
 * instance's files and keep it open, as the code a signal interrupts
 * may (the driver's own writes and reads of control files); then read
 * regions until killed (the fake kdamond fires no events: each call waits
 * in the driver's polling loop).
 */
static void __attribute__((noreturn)) sig_child(int wfd, bool hold)
{
	struct kmmu_damon_attrs a = KMMU_DAMON_ATTRS_DEFAULT;
	struct kmmu_phys_range r = { 0x100000, 0x200000 };
	struct kmmu_damon_region reg[8];
	struct sig_info info;
	struct kmmu_damon d;
	char path[300];

	memset(&info, 0, sizeof(info));
	a.source = KMMU_DAMON_SRC_TRACEPOINT;
	a.sample_us = 1000;
	a.aggr_us = 20000;
	info.err = kmmu_damon_start(&d, &a, &r, 1, info.why, sizeof(info.why));
	if (!info.err && kmmu_damon_instance(&d))
		snprintf(info.inst, sizeof(info.inst), "%s", kmmu_damon_instance(&d));
	if (!info.err && hold) {
		snprintf(path, sizeof(path), "%s/tracing_on", info.inst);
		if (open(path, O_RDONLY) < 0)
			info.err = -errno;
	}
	if (write(wfd, &info, sizeof(info)) != sizeof(info) || info.err)
		_exit(1);
	for (;;)
		kmmu_damon_regions(&d, reg, 8);
}

/*
 * Whether a janitor of the child's is still running.  This process is
 * their subreaper (see the fixture's setup): orphaned, they become its
 * children, so they are told apart from any other program's.  Reaps those
 * that have ended.
 */
static bool janitors_running(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		;
	return pid == 0;
}

/*
 * After the child's death: within 10 s, no instance of its, nr_kdamonds 0,
 * the kdamond not left on, and no janitor left.
 */
static void sig_check_clean(struct __test_metadata *_metadata, FIXTURE_DATA(sigint) *self,
			    const char *what)
{
	char inst[160], nr[32] = "", state[64] = "";
	bool inst_left = true, others = false;
	struct stat st;
	int i;

	snprintf(inst, sizeof(inst), "%s/instances/kmmu-%d-damon", self->tfs, (int)self->child);
	for (i = 0; i < 1000; i++) {
		inst_left = !stat(inst, &st);
		fake_get(&self->f, "kdamonds/nr_kdamonds", nr, sizeof(nr));
		fake_get(&self->f, "kdamonds/0/state", state, sizeof(state));
		others = janitors_running();
		if (!inst_left && !strcmp(nr, "0") && strncmp(state, "on", 2) && !others)
			break;
		usleep(10 * 1000);
	}
	TH_LOG("%s: clean after ~%d ms", what, i * 10);
	ASSERT_FALSE(inst_left) TH_LOG("%s: tracefs instance %s left behind", what, inst);
	ASSERT_STREQ("0", nr) TH_LOG("%s", what);
	ASSERT_NE(0, strncmp(state, "on", 2)) TH_LOG("%s: the kdamond was left on", what);
	ASSERT_FALSE(others) TH_LOG("%s: a janitor is still running", what);
}

/*
 * Run the child, SIGINT it (once it holds an instance file, or after
 * @delay_us), check it cleaned up.  Returns how far it had come when the
 * signal was sent: 0 nothing of DAMON's yet, 1 nr_kdamonds or the
 * instance, 2 the kdamond on.
 */
static int sig_run(struct __test_metadata *_metadata, FIXTURE_DATA(sigint) *self,
		   bool hold, long delay_us, const char *what)
{
	char inst[160], nr[32] = "", state[64] = "";
	struct sig_info info;
	int fds[2], status, phase;
	struct stat st;
	ssize_t r;

	ASSERT_EQ(0, pipe(fds));
	self->child = fork();
	ASSERT_GE(self->child, 0);
	if (!self->child) {
		close(fds[0]);
		sig_child(fds[1], hold);
	}
	close(fds[1]);
	if (hold) {
		/* Once it holds the file. */
		r = read(fds[0], &info, sizeof(info));
		ASSERT_EQ(sizeof(info), r);
		ASSERT_EQ(0, info.err) TH_LOG("child: %s", info.why);
	} else {
		usleep(delay_us);
	}
	snprintf(inst, sizeof(inst), "%s/instances/kmmu-%d-damon", self->tfs, (int)self->child);
	fake_get(&self->f, "kdamonds/nr_kdamonds", nr, sizeof(nr));
	fake_get(&self->f, "kdamonds/0/state", state, sizeof(state));
	ASSERT_EQ(0, kill(self->child, SIGINT));
	phase = !strncmp(state, "on", 2) ? 2 : !strcmp(nr, "1") || !stat(inst, &st) ? 1 : 0;
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	close(fds[0]);
	/* The driver's handler re-raised it: the child died of it, not on. */
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT)
		TH_LOG("%s: status %#x", what, status);
	TH_LOG("%s: %s", what, phase == 2 ? "kdamond on" : phase ? "while starting" :
	       "before DAMON was touched");
	sig_check_clean(_metadata, self, what);
	self->child = 0;
	return phase;
}

/*
 * SIGINT while the interrupted code holds a file of the instance open:
 * the handler cannot remove it (EBUSY); the janitor does, once the process
 * is gone.  (Before, the handler gave up after 5 s and told the janitor
 * all was done: the instance stayed, as in issue 12's VM run.)
 */
TEST_F(sigint, holding_an_instance_file)
{
	if (_metadata->skip)
		return;
	ASSERT_EQ(2, sig_run(_metadata, self, true, 0, "SIGINT while an instance file is open"));
}

/*
 * SIGINT at varied points of starting and reading: each time nothing
 * left.  The delays span from before the child ran to well after it was
 * reading regions (also in the emulated VM, where starting takes longer).
 */
TEST_F(sigint, at_varied_points)
{
	static const long delay_us[] = { 0, 500, 2000, 5000, 10000, 20000, 40000, 80000,
					 150000, 300000, 600000, 1200000 };
	int seen[3] = { 0, 0, 0 };
	char what[64];
	size_t i;

	if (_metadata->skip)
		return;
	for (i = 0; i < sizeof(delay_us) / sizeof(delay_us[0]); i++) {
		snprintf(what, sizeof(what), "SIGINT %ld us after the fork", delay_us[i]);
		seen[sig_run(_metadata, self, false, delay_us[i], what)]++;
	}
	TH_LOG("signalled %d times before DAMON was touched, %d while starting, %d with "
	       "the kdamond on", seen[0], seen[1], seen[2]);
	/* Else the longest delays did not reach the reading they are there for. */
	ASSERT_GT(seen[2], 0);
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
