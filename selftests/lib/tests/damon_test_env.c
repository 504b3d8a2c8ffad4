// SPDX-License-Identifier: GPL-2.0
/*
 * Where the DAMON driver's tests run it (damon_test_env.h): a locked
 * buffer of 4K pages and a fake DAMON sysfs tree whose "kernel" is a
 * thread.  Without the harness: it is one per program.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmmu/damon.h"
#include "damon_test_env.h"

void *map_locked(size_t len)
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

int read_file(const char *path, char *buf, size_t len)
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

int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = write(fd, val, strlen(val));
	close(fd);
	return r == (ssize_t)strlen(val) ? 0 : -EIO;
}

void fake_mk(struct fake *f, const char *rel, const char *content)
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

/* What DAMON would have found (damon_test_env.h). */
const unsigned long fake_tried_regions[3][4] = {
	{ 0x100000, 0x180000, 17, 3 },
	{ 0x180000, 0x200000, 0, 12 },
	{ 0x300000, 0x340000, 2, 1 },
};
/* How kernels name the region directories of a first update. */
const int fake_names_6_2[3] = { 0, 1, 2 };	/* 6.2 - 6.13 */
const int fake_names_6_14[3] = { 1, 3, 5 };	/* 6.14 - 7.1 */
const int fake_names_6_18[3] = { 0, 2, 4 };	/* with the 2026 stable fix */

/*
 * Lay out tried_regions as an update would leave it: region @i of @reg in
 * a directory named @names[i], and total_bytes @total (NULL: no such
 * file, as before 6.6).  What was there is removed first.
 */
void fake_tried(struct fake *f, const unsigned long (*reg)[4], const int *names,
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

void fake_get(struct fake *f, const char *rel, char *buf, size_t len)
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

void fake_setup(struct fake *f)
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

void fake_teardown(struct fake *f)
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
