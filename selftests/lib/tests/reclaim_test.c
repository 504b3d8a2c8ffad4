// SPDX-License-Identifier: GPL-2.0
/*
 * The reclaim aging driver on this host: under a lowered memcg limit with
 * zram swap, a buffer touched once goes to swap while one touched all the
 * time stays; teardown restores swap, zram and cgroups; so does the
 * janitor when the owner is SIGKILLed.  Needs root, zram and a memory
 * cgroup controller, else SKIP.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/clock.h"
#include "kmmu/hygiene.h"
#include "kmmu/pagemap.h"
#include "kmmu/reclaim.h"
#include "killed_child.h"

#define MIB		(1024UL * 1024)
#define COLD_BYTES	(64 * MIB)
#define HOT_BYTES	(16 * MIB)
#define SQUEEZE_BYTES	(48 * MIB)
#define ZRAM_BYTES	(128 * MIB)

static void *map_buffer(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* 4K pages on the LRU: a THP is reclaimed (and split) as a whole. */
	madvise(p, len, MADV_NOHUGEPAGE);
	/* A later fork (janitor, child) must not share the pages. */
	madvise(p, len, MADV_DONTFORK);
	return p;
}

/* Distinct, compressible contents: zram stores them, not as "same" pages. */
static void fill(char *p, size_t len, unsigned long seed)
{
	size_t off;

	for (off = 0; off < len; off += 4096) {
		unsigned long *w = (unsigned long *)(p + off);

		w[0] = seed + off;
		w[1] = ~(seed + off);
	}
}

/* Pages whose contents are not what fill() wrote. */
static size_t count_bad(const char *p, size_t len, unsigned long seed)
{
	size_t off, bad = 0;

	for (off = 0; off < len; off += 4096) {
		const unsigned long *w = (const unsigned long *)(p + off);

		if (w[0] != seed + off || w[1] != ~(seed + off))
			bad++;
	}
	return bad;
}

struct hot {
	char *buf;
	size_t len;
	volatile int stop;
	volatile int measuring;
	long majflt_start, majflt_end;
	unsigned long passes;
};

static long thread_majflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_majflt;
}

/*
 * Touches every hot page over and over.  A swapped-out page touched again
 * is a major fault (swap-in) of this thread: that, not a pagemap snapshot
 * (the touch brings the page right back), tells whether reclaim took hot
 * pages.
 */
static void *hot_loop(void *arg)
{
	struct hot *h = arg;
	int was = 0;

	while (!h->stop) {
		size_t off;

		if (h->measuring != was) {
			was = h->measuring;
			if (was)
				h->majflt_start = thread_majflt();
			else
				h->majflt_end = thread_majflt();
		}
		for (off = 0; off < h->len; off += 4096)
			h->buf[off]++;
		h->passes++;
	}
	if (was)
		h->majflt_end = thread_majflt();
	return NULL;
}

static int in_proc_swaps(const char *dev)
{
	return kmmu_swap_active(dev);
}

FIXTURE(reclaim) {
	struct kmmu_reclaim r;
	int zram_id;
	char cg_dir[KMMU_UNDO_PATH];
	char home_line[512];
};

/*
 * This process's memory cgroup(s) as "v1:<path> v2:<path>".  A kernel shows
 * no "0::" line until a cgroup2 is first mounted: that reads as "/".
 */
static void self_memcg_line(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[512], v1[256] = "-", v2[256] = "/";

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *path = strchr(line, ':');

			if (!path || !(path = strchr(path + 1, ':')))
				continue;
			path[strcspn(path, "\n")] = 0;
			if (!strncmp(line, "0::", 3))
				snprintf(v2, sizeof(v2), "%s", path + 1);
			else if (strstr(line, "memory"))
				snprintf(v1, sizeof(v1), "%s", path + 1);
		}
		fclose(f);
	}
	snprintf(out, len, "v1:%s v2:%s", v1, v2);
}

FIXTURE_SETUP(reclaim)
{
	char why[256];
	int err;

	memset(self, 0, sizeof(*self));
	self->zram_id = -1;
	err = kmmu_reclaim_probe(why, sizeof(why));
	if (err)
		SKIP(return, "%s", why);
	self_memcg_line(self->home_line, sizeof(self->home_line));
	ASSERT_EQ(0, kmmu_reclaim_init(&self->r, why, sizeof(why))) TH_LOG("%s", why);
	err = kmmu_reclaim_swap_on(&self->r, ZRAM_BYTES, why, sizeof(why));
	if (err == -ENODEV || err == -EBUSY) {
		kmmu_reclaim_teardown(&self->r);
		SKIP(return, "%s", why);
	}
	ASSERT_EQ(0, err) TH_LOG("%s", why);
	self->zram_id = self->r.zram_id;
	ASSERT_EQ(1, in_proc_swaps(self->r.swap_dev));
	err = kmmu_reclaim_memcg(&self->r, why, sizeof(why));
	if (err == -ENODEV) {
		kmmu_reclaim_teardown(&self->r);
		SKIP(return, "%s", why);
	}
	ASSERT_EQ(0, err) TH_LOG("%s", why);
	strcpy(self->cg_dir, self->r.cg_dir);
	TH_LOG("swap on %s (%lu MiB zram), memcg v%d %s", self->r.swap_dev,
	       ZRAM_BYTES / MIB, self->r.cg_version, self->r.cg_dir);
}

FIXTURE_TEARDOWN(reclaim)
{
	char dev[64], path[128], line[512];
	struct stat st;

	if (!self->r.inited)
		return;
	snprintf(dev, sizeof(dev), "%s", self->r.swap_dev);
	EXPECT_EQ(0, kmmu_reclaim_teardown(&self->r));
	/* Everything as before: no swap, no zram device, no cgroup, home again. */
	if (dev[0]) {
		EXPECT_EQ(0, in_proc_swaps(dev));
	}
	if (self->zram_id > 0) {
		snprintf(path, sizeof(path), "/sys/block/zram%d", self->zram_id);
		EXPECT_NE(0, stat(path, &st)) TH_LOG("%s still there", path);
	}
	if (self->cg_dir[0]) {
		EXPECT_NE(0, stat(self->cg_dir, &st)) TH_LOG("%s still there", self->cg_dir);
	}
	self_memcg_line(line, sizeof(line));
	EXPECT_STREQ(self->home_line, line);
}

TEST_F_TIMEOUT(reclaim, cold_swapped_hot_resident, 60)
{
	struct kmmu_residency cold_res, hot_res;
	uint64_t usage, swap_bytes = 0;
	struct hot h = { .len = HOT_BYTES };
	char *cold;
	pthread_t t;
	double t0, t1;
	size_t hot_pages = HOT_BYTES / 4096, squeeze_pages = SQUEEZE_BYTES / 4096;
	int err;

	/* The 6.1 harness runs the body after a SKIP in the setup. */
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, kmmu_reclaim_attach(&self->r, 0));
	cold = map_buffer(COLD_BYTES);
	h.buf = map_buffer(HOT_BYTES);
	ASSERT_NE(NULL, cold);
	ASSERT_NE(NULL, h.buf);
	/* Cold first: touched once, the oldest on the (inactive) anon LRU. */
	fill(cold, COLD_BYTES, 0x1234);
	fill(h.buf, HOT_BYTES, 0x5678);
	ASSERT_EQ(0, pthread_create(&t, NULL, hot_loop, &h));
	usleep(300 * 1000);
	ASSERT_EQ(0, kmmu_reclaim_usage(&self->r, &usage));
	ASSERT_GT(usage, SQUEEZE_BYTES + 16 * MIB);

	/* The limit below usage: the write returns once reclaim got under it. */
	h.measuring = 1;
	usleep(50 * 1000);
	t0 = kmmu_now();
	err = kmmu_reclaim_limit(&self->r, usage - SQUEEZE_BYTES);
	t1 = kmmu_now();
	/* Keep the hot set hot under the limit for a while, as a guest would. */
	usleep(1000 * 1000);
	h.measuring = 0;
	usleep(50 * 1000);
	h.stop = 1;
	pthread_join(t, NULL);
	ASSERT_EQ(0, err) TH_LOG("limit %lu: %s", (unsigned long)(usage - SQUEEZE_BYTES),
				 strerror(-err));

	ASSERT_EQ(0, kmmu_residency(cold, COLD_BYTES, &cold_res));
	ASSERT_EQ(0, kmmu_residency(h.buf, HOT_BYTES, &hot_res));
	kmmu_reclaim_swap_usage(&self->r, &swap_bytes);
	TH_LOG("usage %lu MiB, limit -%lu MiB took %.3f s; cold: %zu swapped, %zu present "
	       "of %lu pages; hot: %ld major faults (swap-ins) in %lu passes, %zu swapped "
	       "now, of %zu pages; memcg swap %lu MiB",
	       (unsigned long)(usage / MIB), SQUEEZE_BYTES / MIB, t1 - t0,
	       cold_res.swapped, cold_res.present, COLD_BYTES / 4096,
	       h.majflt_end - h.majflt_start, h.passes, hot_res.swapped, hot_pages,
	       (unsigned long)(swap_bytes / MIB));
	/*
	 * Reclaim took what it needed mostly from the cold buffer.  Margin:
	 * the cgroup also holds this program's own pages and page cache,
	 * reclaim works in batches and overshoots, and the LRU is an
	 * approximation (the hot pages' Accessed bits are only looked at
	 * when reclaim scans them) -- so at least half of the squeeze from
	 * the cold buffer, and at most a tenth of the hot pages swapped in
	 * again.
	 */
	EXPECT_GE(cold_res.swapped, squeeze_pages / 2);
	EXPECT_LE(h.majflt_end - h.majflt_start, (long)hot_pages / 10);
	EXPECT_LE(hot_res.swapped, hot_pages / 10);
	EXPECT_GE(swap_bytes, SQUEEZE_BYTES / 2);

	/* memory.reclaim / a momentary limit: more of the cold buffer goes. */
	ASSERT_EQ(0, kmmu_reclaim_limit(&self->r, KMMU_RECLAIM_UNLIMITED));
	err = kmmu_reclaim_reclaim(&self->r, 8 * MIB);
	EXPECT_TRUE(!err || err == -EAGAIN) TH_LOG("reclaim: %s", strerror(-err));
	ASSERT_EQ(0, kmmu_residency(cold, COLD_BYTES, &hot_res));
	TH_LOG("after reclaiming 8 MiB more: cold %zu swapped", hot_res.swapped);
	EXPECT_GE(hot_res.swapped, cold_res.swapped);

	/* Swapped-out pages come back intact. */
	EXPECT_EQ(0, count_bad(cold, COLD_BYTES, 0x1234));
	munmap(cold, COLD_BYTES);
	munmap(h.buf, HOT_BYTES);
}

/* A child sets everything up and is SIGKILLed: its janitor restores it all. */
TEST(sigkill_cleaned_up)
{
	struct {
		int zram_id;
		char dev[64];
		char cg_dir[KMMU_UNDO_PATH];
		int err;
		char why[256];
	} info;
	char path[128];
	struct stat st;
	int fds[2], status, i;
	pid_t pid;

	if (geteuid())
		SKIP(return, "swap devices and memory cgroups need root");
	ASSERT_EQ(0, pipe(fds));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct kmmu_reclaim r;
		char *buf;

		close(fds[0]);
		memset(&info, 0, sizeof(info));
		info.err = kmmu_reclaim_init(&r, info.why, sizeof(info.why));
		/* Without zram (the VM), the cgroup part alone. */
		if (!info.err)
			info.err = kmmu_reclaim_swap_on(&r, 32 * MIB, info.why, sizeof(info.why));
		if (info.err == -ENODEV)
			info.err = 0;
		if (!info.err)
			info.err = kmmu_reclaim_memcg(&r, info.why, sizeof(info.why));
		if (!info.err)
			info.err = kmmu_reclaim_attach(&r, 0);
		buf = map_buffer(16 * MIB);
		if (!info.err && buf) {
			fill(buf, 16 * MIB, 1);
			info.err = kmmu_reclaim_reclaim(&r, 8 * MIB);
			if (info.err == -EAGAIN)
				info.err = 0;
			if (!info.err)
				info.err = kmmu_reclaim_limit(&r, 64 * MIB);
		}
		info.zram_id = r.zram_id;
		strcpy(info.dev, r.swap_dev);
		strcpy(info.cg_dir, r.cg_dir);
		killed_child_report(fds[1], &info, sizeof(info));
	}
	ASSERT_EQ(sizeof(info), killed_child_read(fds, &info, sizeof(info)));
	if (info.err) {
		killed_child_reap(pid);
		if (info.err == -ENODEV)
			SKIP(return, "%s", info.why);
		ASSERT_EQ(0, info.err) TH_LOG("child: %s", info.why);
	}
	if (info.dev[0]) {
		ASSERT_EQ(1, in_proc_swaps(info.dev));
	} else {
		TH_LOG("no zram here: the memory cgroup alone");
	}
	ASSERT_EQ(0, stat(info.cg_dir, &st));

	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	/* The janitor saw EOF on its pipe: give it a few seconds. */
	snprintf(path, sizeof(path), "/sys/block/zram%d", info.zram_id);
	for (i = 0; i < 1000; i++) {
		if ((!info.dev[0] || !in_proc_swaps(info.dev)) && stat(info.cg_dir, &st) &&
		    (info.zram_id <= 0 || stat(path, &st)))
			break;
		usleep(10 * 1000);
	}
	TH_LOG("janitor done after ~%d ms", i * 10);
	if (info.dev[0]) {
		EXPECT_EQ(0, in_proc_swaps(info.dev));
	}
	EXPECT_NE(0, stat(info.cg_dir, &st)) TH_LOG("%s left behind", info.cg_dir);
	if (info.zram_id > 0) {
		EXPECT_NE(0, stat(path, &st)) TH_LOG("%s left behind", path);
	}
}

/*
 * The cgroup part alone (no swap needed): create, attach, limit, usage,
 * a momentary squeeze, teardown puts everything back.  Exercises cgroup2
 * (and mounting one) where the memory controller is not on v1.
 */
TEST(memcg_only)
{
	char why[256], home[512], line[512], dir[KMMU_UNDO_PATH];
	struct kmmu_reclaim r;
	uint64_t usage = 0;
	struct stat st;
	char *buf;
	int err;

	if (geteuid())
		SKIP(return, "memory cgroups need root");
	self_memcg_line(home, sizeof(home));
	ASSERT_EQ(0, kmmu_reclaim_init(&r, why, sizeof(why))) TH_LOG("%s", why);
	err = kmmu_reclaim_memcg(&r, why, sizeof(why));
	if (err == -ENODEV) {
		kmmu_reclaim_teardown(&r);
		SKIP(return, "%s", why);
	}
	ASSERT_EQ(0, err) TH_LOG("%s", why);
	strcpy(dir, r.cg_dir);
	TH_LOG("memcg v%d %s", r.cg_version, r.cg_dir);
	ASSERT_EQ(0, stat(dir, &st));
	ASSERT_EQ(0, kmmu_reclaim_attach(&r, 0));
	self_memcg_line(line, sizeof(line));
	ASSERT_NE(NULL, strstr(line, strrchr(dir, '/'))) TH_LOG("%s", line);
	buf = map_buffer(8 * MIB);
	ASSERT_NE(NULL, buf);
	fill(buf, 8 * MIB, 7);
	ASSERT_EQ(0, kmmu_reclaim_usage(&r, &usage));
	EXPECT_GE(usage, 8 * MIB);
	ASSERT_EQ(0, kmmu_reclaim_limit(&r, 512 * MIB));
	/* Without swap little anonymous memory can go: ok or -EAGAIN. */
	err = kmmu_reclaim_reclaim(&r, 1 * MIB);
	EXPECT_TRUE(!err || err == -EAGAIN) TH_LOG("%s", strerror(-err));
	EXPECT_EQ(0, count_bad(buf, 8 * MIB, 7));
	EXPECT_EQ(0, kmmu_reclaim_teardown(&r));
	EXPECT_NE(0, stat(dir, &st)) TH_LOG("%s left behind", dir);
	self_memcg_line(line, sizeof(line));
	EXPECT_STREQ(home, line);
	EXPECT_EQ(0, kmmu_reclaim_teardown(&r));	/* twice is fine */
	munmap(buf, 8 * MIB);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static bool file_starts(const char *path, const char *text)
{
	char buf[64];

	return !kmmu_ctl_read(path, buf, sizeof(buf)) && !strncmp(buf, text, strlen(text));
}

/*
 * Shared host state (janitor.h) on plain files in a scratch directory: the
 * SHARED_* steps act only while a kmmu process's marker exists, the cgroup
 * one only once no kmmu-* cgroup is left beside the file, and the lock
 * excludes another holder.  Runs anywhere.
 */
TEST(shared_undo_waits_for_the_last_user)
{
	char dir[] = "/tmp/kmmu-shared-test-XXXXXX";
	char file[128], sibling[128], marker[256], lockpath[128];
	struct kmmu_undo u = { .op = KMMU_UNDO_SHARED_CG_OFF };
	int fd, st;
	pid_t pid;

	ASSERT_NE(NULL, mkdtemp(dir));
	setenv("KMMU_SHARED_DIR", dir, 1);
	snprintf(file, sizeof(file), "%s/cgroup.subtree_control", dir);
	snprintf(sibling, sizeof(sibling), "%s/kmmu-reclaim-1-0", dir);
	snprintf(lockpath, sizeof(lockpath), "%s/lock", dir);
	write_file(file, "memory\n");
	kmmu_shared_marker(KMMU_SHARED_CG_MEMORY, marker, sizeof(marker));
	strcpy(u.path, file);
	strcpy(u.arg, marker);

	/* No marker: the host enabled it, nobody of ours disables it. */
	EXPECT_EQ(0, kmmu_undo_run(&u));
	EXPECT_TRUE(file_starts(file, "memory"));

	/* Another kmmu process's cgroup is still there: left to it. */
	ASSERT_EQ(0, kmmu_shared_mark(KMMU_SHARED_CG_MEMORY));
	EXPECT_TRUE(kmmu_shared_marked(KMMU_SHARED_CG_MEMORY));
	ASSERT_EQ(0, mkdir(sibling, 0700));
	EXPECT_EQ(0, kmmu_undo_run(&u));
	EXPECT_TRUE(file_starts(file, "memory"));
	EXPECT_TRUE(kmmu_shared_marked(KMMU_SHARED_CG_MEMORY));

	/* The last user: disabled, and the marker goes; again is harmless. */
	rmdir(sibling);
	EXPECT_EQ(0, kmmu_undo_run(&u));
	EXPECT_TRUE(file_starts(file, "-memory"));
	EXPECT_FALSE(kmmu_shared_marked(KMMU_SHARED_CG_MEMORY));
	EXPECT_EQ(0, kmmu_undo_run(&u));

	/* A module no longer loaded: only the marker goes (needs root). */
	if (!geteuid()) {
		struct kmmu_undo m = { .op = KMMU_UNDO_SHARED_RMMOD };

		strcpy(m.path, "kmmu_no_such_module");
		kmmu_shared_marker(KMMU_SHARED_ZRAM, m.arg, sizeof(m.arg));
		ASSERT_EQ(0, kmmu_shared_mark(KMMU_SHARED_ZRAM));
		EXPECT_EQ(0, kmmu_undo_run(&m));
		EXPECT_FALSE(kmmu_shared_marked(KMMU_SHARED_ZRAM));
	}

	/* The lock: a second holder waits (here: fails to take it at once). */
	fd = kmmu_shared_lock();
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(-fd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int other = open(lockpath, O_RDWR | O_CLOEXEC);

		_exit(other >= 0 && flock(other, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK ?
		      0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("the lock did not exclude");
	kmmu_shared_unlock(fd);

	unlink(lockpath);
	unlink(file);
	rmdir(dir);
	unsetenv("KMMU_SHARED_DIR");
}

/*
 * Two users at once, as two stress jobs are: the first one's teardown
 * must leave the second one's memcg and swap working, whichever of them
 * enabled the memory controller or loaded zram, and the second one's
 * must then leave the host as it was.
 */
TEST(two_users_at_once)
{
	char why[256], dev[64], cg[KMMU_UNDO_PATH], home[512], line[512];
	struct kmmu_reclaim a, b;
	uint64_t usage;
	struct stat st;
	int err;

	err = kmmu_reclaim_probe(why, sizeof(why));
	if (err)
		SKIP(return, "%s", why);
	self_memcg_line(home, sizeof(home));
	ASSERT_EQ(0, kmmu_reclaim_init(&a, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, kmmu_reclaim_init(&b, why, sizeof(why))) TH_LOG("%s", why);
	err = kmmu_reclaim_swap_on(&a, ZRAM_BYTES, why, sizeof(why));
	if (!err)
		err = kmmu_reclaim_memcg(&a, why, sizeof(why));
	if (err == -ENODEV || err == -EBUSY) {
		kmmu_reclaim_teardown(&a);
		kmmu_reclaim_teardown(&b);
		SKIP(return, "%s", why);
	}
	ASSERT_EQ(0, err) TH_LOG("%s", why);
	ASSERT_EQ(0, kmmu_reclaim_swap_on(&b, ZRAM_BYTES, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, kmmu_reclaim_memcg(&b, why, sizeof(why))) TH_LOG("%s", why);
	snprintf(dev, sizeof(dev), "%s", b.swap_dev);
	snprintf(cg, sizeof(cg), "%s", b.cg_dir);
	TH_LOG("a: %s %s; b: %s %s; shared markers: memory %d, zram %d", a.swap_dev,
	       a.cg_dir, dev, cg, kmmu_shared_marked(KMMU_SHARED_CG_MEMORY),
	       kmmu_shared_marked(KMMU_SHARED_ZRAM));

	EXPECT_EQ(0, kmmu_reclaim_teardown(&a));
	EXPECT_EQ(1, in_proc_swaps(dev)) TH_LOG("b's swap went with a's teardown");
	EXPECT_EQ(0, kmmu_reclaim_usage(&b, &usage)) TH_LOG("b's memcg lost its memory files");
	EXPECT_EQ(0, kmmu_reclaim_limit(&b, 512 * MIB));

	EXPECT_EQ(0, kmmu_reclaim_teardown(&b));
	EXPECT_EQ(0, in_proc_swaps(dev));
	EXPECT_NE(0, stat(cg, &st)) TH_LOG("%s left behind", cg);
	EXPECT_FALSE(kmmu_shared_marked(KMMU_SHARED_CG_MEMORY));
	EXPECT_FALSE(kmmu_shared_marked(KMMU_SHARED_ZRAM));
	self_memcg_line(line, sizeof(line));
	EXPECT_STREQ(home, line);
}

TEST(mkswap_header)
{
	char tmpl[] = "/tmp/kmmu-swaphdr-XXXXXX", why[256], page[4096];
	int fd = mkstemp(tmpl);
	unsigned int v[3];

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, 64 * 4096));
	close(fd);
	ASSERT_EQ(0, kmmu_mkswap(tmpl, why, sizeof(why))) TH_LOG("%s", why);
	fd = open(tmpl, O_RDONLY);
	ASSERT_EQ(4096, read(fd, page, sizeof(page)));
	close(fd);
	unlink(tmpl);
	ASSERT_EQ(0, memcmp(page + 4096 - 10, "SWAPSPACE2", 10));
	memcpy(v, page + 1024, sizeof(v));
	ASSERT_EQ(1, v[0]);		/* version */
	ASSERT_EQ(63, v[1]);		/* last_page */
	ASSERT_EQ(0, v[2]);		/* nr_badpages */
	ASSERT_STREQ("kmmu-zram", page + 1024 + 12 + 16);
}

TEST_HARNESS_MAIN
