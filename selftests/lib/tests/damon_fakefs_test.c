// SPDX-License-Identifier: GPL-2.0
/*
 * The DAMON aging driver against a fake sysfs tree (KMMU_DAMON_SYSFS,
 * damon_test_env.h) whose "kernel" is a thread answering state writes: the
 * files the driver writes, the regions it reads (tried_regions as every
 * kernel from 6.2 to 7.1 names them, and snapshots that do not add up), its
 * teardown and its janitor, its refusals (also of a kernel with neither
 * source).  These run on any machine.
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

/* In a fakefs test: the first line of the fake tree's file @rel is @want. */
#define ASSERT_FAKE(rel, want)							\
	do {									\
		char __buf[64];							\
										\
		fake_get(&self->f, (rel), __buf, sizeof(__buf));		\
		ASSERT_STREQ((want), __buf) TH_LOG("%s", (rel));		\
	} while (0)

/* @reg[0..@n) are the fake tree's first @n regions (fake_tried_regions), in address order. */
static void expect_fake_regions(struct __test_metadata *_metadata,
				const struct kmmu_damon_region *reg, int n)
{
	for (int i = 0; i < n; i++) {
		const unsigned long *want = fake_tried_regions[i];

		ASSERT_EQ(want[0], reg[i].start) TH_LOG("region %d", i);
		ASSERT_EQ(want[1], reg[i].end) TH_LOG("region %d", i);
		ASSERT_EQ(want[2], reg[i].nr_accesses) TH_LOG("region %d", i);
		ASSERT_EQ(want[3], reg[i].age) TH_LOG("region %d", i);
	}
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
	ASSERT_FAKE("kdamonds/nr_kdamonds", "1");
	ASSERT_FAKE("kdamonds/0/contexts/nr_contexts", "1");
	ASSERT_FAKE("kdamonds/0/contexts/0/operations", "paddr");
	ASSERT_FAKE("kdamonds/0/contexts/0/addr_unit", "1");		/* 6.18's: our addresses are bytes */
	ASSERT_FAKE("kdamonds/0/contexts/0/monitoring_attrs/intervals/sample_us", "1000");
	ASSERT_FAKE("kdamonds/0/contexts/0/monitoring_attrs/intervals/aggr_us", "20000");
	ASSERT_FAKE("kdamonds/0/contexts/0/monitoring_attrs/nr_regions/min", "10");
	ASSERT_FAKE("kdamonds/0/contexts/0/targets/nr_targets", "1");
	/* Merged: [1M, 2M) and [3M, 3M + 256K). */
	ASSERT_FAKE("kdamonds/0/contexts/0/targets/0/regions/nr_regions", "2");
	ASSERT_FAKE("kdamonds/0/contexts/0/targets/0/regions/0/start", "1048576");
	ASSERT_FAKE("kdamonds/0/contexts/0/targets/0/regions/0/end", "2097152");
	ASSERT_FAKE("kdamonds/0/contexts/0/targets/0/regions/1/start", "3145728");
	ASSERT_FAKE("kdamonds/0/contexts/0/targets/0/regions/1/end", "3407872");
	ASSERT_FAKE("kdamonds/0/contexts/0/schemes/nr_schemes", "1");
	ASSERT_FAKE("kdamonds/0/contexts/0/schemes/0/action", "stat");
	ASSERT_FAKE("kdamonds/0/contexts/0/schemes/0/access_pattern/nr_accesses/max", "4294967295");
	ASSERT_FAKE("kdamonds/0/contexts/0/schemes/0/access_pattern/sz/max", "18446744073709551615");
	ASSERT_FAKE("kdamonds/0/state", "on");

	/* Three regions; room for two: the count says three. */
	n = kmmu_damon_regions(&d, reg, 2);
	ASSERT_EQ(3, n);
	ASSERT_FAKE("kdamonds/0/state", "update_schemes_tried_regions");
	expect_fake_regions(_metadata, reg, 2);
	kmmu_damon_summarize(reg, 2, &r[1], 1, &s);
	ASSERT_EQ(0x80000, s.bytes);
	ASSERT_EQ(17, s.max_nr_accesses);

	ASSERT_EQ(0, kmmu_damon_stop(&d));
	ASSERT_FAKE("kdamonds/nr_kdamonds", "0");
	ASSERT_FAKE("kdamonds/0/pid", "-1");
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
		expect_fake_regions(_metadata, reg, 3);
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
	char why[512], path[256];
	struct kmmu_damon d;

	tp.source = KMMU_DAMON_SRC_TRACEPOINT;
	tried.source = KMMU_DAMON_SRC_TRIED_REGIONS;

	/* Someone else's kdamond: -EBUSY, and nothing written. */
	snprintf(path, sizeof(path), "%s/kdamonds/nr_kdamonds", self->f.root);
	write_file(path, "1");
	ASSERT_EQ(-EBUSY, kmmu_damon_start(&d, NULL, &r, 1, why, sizeof(why)));
	TH_LOG("%s", why);
	ASSERT_FAKE("kdamonds/nr_kdamonds", "1");
	ASSERT_FAKE("kdamonds/0/contexts/0/operations", "");
	write_file(path, "0");

	/* No paddr operations: -ENODEV, and nr_kdamonds back to 0. */
	snprintf(path, sizeof(path), "%s/kdamonds/0/contexts/0/avail_operations", self->f.root);
	write_file(path, "vaddr\nfvaddr\n");
	ASSERT_EQ(-ENODEV, kmmu_damon_start(&d, NULL, &r, 1, why, sizeof(why)));
	TH_LOG("%s", why);
	ASSERT_FAKE("kdamonds/nr_kdamonds", "0");
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
	ASSERT_FAKE("kdamonds/nr_kdamonds", "0");
	snprintf(path, sizeof(path), "rm -rf '%s/kdamonds/0/contexts/0/schemes/0/tried_regions'",
		 self->f.root);
	ASSERT_EQ(0, system(path));
	ASSERT_EQ(-ENODEV, kmmu_damon_start(&d, NULL, &r, 1, why, sizeof(why)));
	TH_LOG("%s", why);
	ASSERT_NE(NULL, strstr(why, "tried_regions"));
	ASSERT_NE(NULL, strstr(why, "damon_aggregated"));
	ASSERT_FAKE("kdamonds/nr_kdamonds", "0");
	ASSERT_FAKE("kdamonds/0/state", "");		/* never turned on */
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
	ASSERT_FAKE("kdamonds/0/pid", "-1");
	fake_get(&self->f, "kdamonds/0/state", buf, sizeof(buf));
	ASSERT_EQ(0, strncmp(buf, "off", 3));
}

TEST_HARNESS_MAIN
