// SPDX-License-Identifier: GPL-2.0
/*
 * Reclaim aging driver: zram swap, a memory cgroup, a lowered limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/hygiene.h"
#include "kmmu/reclaim.h"

#define ZRAM_CONTROL "/sys/class/zram-control"

static int kmmu_rread_u64(const char *path, uint64_t *v)
{
	char buf[64], *end;
	int err = kmmu_ctl_read(path, buf, sizeof(buf));

	if (err)
		return err;
	if (!strcmp(buf, "max")) {
		*v = KMMU_RECLAIM_UNLIMITED;
		return 0;
	}
	errno = 0;
	*v = strtoull(buf, &end, 0);
	return errno || end == buf ? -EIO : 0;
}

int kmmu_swap_active(const char *dev)
{
	char line[512];
	size_t n = strlen(dev);
	FILE *f = fopen("/proc/swaps", "re");
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, dev, n) && (line[n] == ' ' || line[n] == '\t'))
			found = 1;
	fclose(f);
	return found;
}

/*
 * The kernel's union swap_header (include/linux/swap.h), version 1: the
 * first page holds 1024 boot bytes, then version, last_page, nr_badpages,
 * a UUID, a label and padding; "SWAPSPACE2" ends the page.
 */
struct kmmu_swap_info {
	uint32_t version;
	uint32_t last_page;
	uint32_t nr_badpages;
	unsigned char uuid[16];
	char volume[16];
};

int kmmu_mkswap(const char *dev, char *why, size_t len)
{
	long psz = sysconf(_SC_PAGESIZE);
	struct kmmu_swap_info info = { .version = 1 };
	unsigned long long size;
	char *page;
	ssize_t w;
	int fd, i;

	fd = open(dev, O_WRONLY | O_CLOEXEC | O_EXCL);
	if (fd < 0) {
		kmmu_why(why, len, "opening %s: %s", dev, strerror(errno));
		return -errno;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < 10ULL * psz) {
		close(fd);
		kmmu_why(why, len, "%s is too small for swap (%llu bytes)", dev, size);
		return -EINVAL;
	}
	page = calloc(1, psz);
	if (!page) {
		close(fd);
		return -ENOMEM;
	}
	info.last_page = size / psz - 1;
	for (i = 0; i < 16; i++)
		info.uuid[i] = rand();
	info.uuid[6] = (info.uuid[6] & 0x0f) | 0x40;	/* random (v4) UUID */
	info.uuid[8] = (info.uuid[8] & 0x3f) | 0x80;
	strcpy(info.volume, "kmmu-zram");
	memcpy(page + 1024, &info, sizeof(info));
	memcpy(page + psz - 10, "SWAPSPACE2", 10);
	w = pwrite(fd, page, psz, 0);
	if (w != psz || fsync(fd)) {
		int err = w < 0 ? -errno : -EIO;

		kmmu_why(why, len, "writing the swap header to %s: %s", dev, strerror(-err));
		free(page);
		close(fd);
		return err;
	}
	free(page);
	close(fd);
	return 0;
}

static void kmmu_reclaim_cleanup_cb(void *arg)
{
	kmmu_reclaim_teardown(arg);
}

int kmmu_reclaim_init(struct kmmu_reclaim *r, char *why, size_t len)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->zram_id = -1;
	r->jan.fd = -1;
	if (geteuid() != 0) {
		kmmu_why(why, len, "swap devices and memory cgroups need root");
		return -EPERM;
	}
	err = kmmu_janitor_start(&r->jan);
	if (err) {
		kmmu_why(why, len, "starting the janitor: %s", strerror(-err));
		return err;
	}
	r->inited = true;
	/* SIGINT/SIGTERM/SIGHUP and exit() tear down here, before the janitor. */
	kmmu_cleanup_push(kmmu_reclaim_cleanup_cb, r);
	return 0;
}

/* modprobe zram (fork/exec): the VM's kernel has it as a module. */
static int kmmu_modprobe_zram(void)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (!pid) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("modprobe", "modprobe", "-q", "zram", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -ENODEV;
}

/* A zram device for us: a new one (hot_add), else zram0 if unused. */
static int kmmu_zram_get(struct kmmu_reclaim *r, char *why, size_t len)
{
	char buf[64], path[128];
	int err, id;

	char marker[256];

	/*
	 * Loaded by a kmmu process (this one or another still running):
	 * unloaded by the last of them (janitor.h: shared host state).  The
	 * step goes in before the load, the marker before the step can act.
	 */
	kmmu_shared_marker(KMMU_SHARED_ZRAM, marker, sizeof(marker));
	if (access(ZRAM_CONTROL, F_OK) && access("/sys/block/zram0", F_OK)) {
		err = kmmu_janitor_push(&r->jan, KMMU_UNDO_SHARED_RMMOD, "zram", marker);
		if (!err)
			err = kmmu_shared_mark(KMMU_SHARED_ZRAM);
		if (err)
			return err;
		if (kmmu_modprobe_zram() ||
		    (access(ZRAM_CONTROL, F_OK) && access("/sys/block/zram0", F_OK))) {
			kmmu_why(why, len, "no zram: neither %s nor /sys/block/zram0 "
				  "(CONFIG_ZRAM), and modprobe zram failed", ZRAM_CONTROL);
			return -ENODEV;
		}
	} else if (kmmu_shared_marked(KMMU_SHARED_ZRAM)) {
		err = kmmu_janitor_push(&r->jan, KMMU_UNDO_SHARED_RMMOD, "zram", marker);
		if (err)
			return err;
	}
	if (!kmmu_ctl_read(ZRAM_CONTROL "/hot_add", buf, sizeof(buf))) {
		id = atoi(buf);
		snprintf(path, sizeof(path), "%d", id);
		err = kmmu_janitor_push(&r->jan, KMMU_UNDO_WRITE,
					ZRAM_CONTROL "/hot_remove", path);
		if (err) {
			kmmu_ctl_write(ZRAM_CONTROL "/hot_remove", path);
			return err;
		}
		return id;
	}
	/* No hot_add: zram0 if nobody uses it. */
	if (kmmu_ctl_read("/sys/block/zram0/initstate", buf, sizeof(buf)) || atoi(buf) ||
	    kmmu_swap_active("/dev/zram0") > 0) {
		kmmu_why(why, len, "zram0 is already in use (initialised or swap) and "
			  "zram-control/hot_add cannot add another");
		return -EBUSY;
	}
	return 0;
}

static int kmmu_reclaim_swap_on_locked(struct kmmu_reclaim *r, uint64_t bytes,
				       char *why, size_t len)
{
	char path[128], val[32], devnum[32];
	int err, id, i;

	id = kmmu_zram_get(r, why, len);
	if (id < 0)
		return id;
	r->zram_id = id;
	snprintf(path, sizeof(path), "/sys/block/zram%d/reset", id);
	err = kmmu_janitor_push(&r->jan, KMMU_UNDO_WRITE, path, "1");
	if (err)
		return err;
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", id);
	snprintf(val, sizeof(val), "%llu", (unsigned long long)bytes);
	err = kmmu_ctl_write(path, val);
	if (err) {
		kmmu_why(why, len, "writing %s to %s: %s", val, path, strerror(-err));
		return err;
	}
	snprintf(r->swap_dev, sizeof(r->swap_dev), "/dev/zram%d", id);
	/* devtmpfs adds the node; without it, make one (and remove it later). */
	for (i = 0; i < 100 && access(r->swap_dev, F_OK); i++)
		kmmu_sleep_ms(10);
	if (access(r->swap_dev, F_OK)) {
		unsigned int maj, min;

		snprintf(path, sizeof(path), "/sys/block/zram%d/dev", id);
		if (kmmu_ctl_read(path, devnum, sizeof(devnum)) ||
		    sscanf(devnum, "%u:%u", &maj, &min) != 2) {
			kmmu_why(why, len, "no %s and no %s", r->swap_dev, path);
			return -ENODEV;
		}
		err = kmmu_janitor_push(&r->jan, KMMU_UNDO_UNLINK, r->swap_dev, NULL);
		if (err)
			return err;
		if (mknod(r->swap_dev, S_IFBLK | 0600, makedev(maj, min))) {
			err = -errno;
			kmmu_why(why, len, "mknod %s: %s", r->swap_dev, strerror(errno));
			return err;
		}
	}
	err = kmmu_mkswap(r->swap_dev, why, len);
	if (err)
		return err;
	err = kmmu_janitor_push(&r->jan, KMMU_UNDO_SWAPOFF, r->swap_dev, NULL);
	if (err)
		return err;
	/*
	 * Highest priority: where the machine has other swap, the test's
	 * pages go to this (fast, private) device first.
	 */
	if (swapon(r->swap_dev, SWAP_FLAG_PREFER | (32767 & SWAP_FLAG_PRIO_MASK))) {
		err = -errno;
		kmmu_why(why, len, "swapon %s: %s", r->swap_dev, strerror(errno));
		return err;
	}
	return 0;
}

/*
 * Under the shared lock from the module check to swapon: until its device
 * is open, a zram a kmmu process loaded could be unloaded under it by the
 * last other user's teardown.
 */
int kmmu_reclaim_swap_on(struct kmmu_reclaim *r, uint64_t bytes, char *why, size_t len)
{
	int lock, err;

	if (!r->inited || r->zram_id >= 0)
		return -EINVAL;
	lock = kmmu_shared_lock();
	if (lock < 0) {
		kmmu_why(why, len, "the kmmu shared-state lock: %s", strerror(-lock));
		return lock;
	}
	err = kmmu_reclaim_swap_on_locked(r, bytes, why, len);
	kmmu_shared_unlock(lock);
	return err;
}

/* The mount point of the v1 hierarchy with the memory controller, or of a cgroup2. */
/* Where a process mounts cgroup2 when the host has it nowhere. */
#define KMMU_CGROUP2_MNT	"/tmp/kmmu-cgroup2-"

static int kmmu_cgroup_mounts(char *v1, size_t l1, char *v2, size_t l2)
{
	char line[1024];
	FILE *f = fopen("/proc/self/mounts", "re");

	v1[0] = v2[0] = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char dev[256], mnt[128], type[64], opts[512];

		if (sscanf(line, "%255s %127s %63s %511s", dev, mnt, type, opts) != 4)
			continue;
		if (!strcmp(type, "cgroup") && !v1[0]) {
			char *o, *save = NULL;

			for (o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
				if (!strcmp(o, "memory"))
					snprintf(v1, l1, "%s", mnt);
		} else if (!strcmp(type, "cgroup2") && !v2[0] &&
			   strncmp(mnt, KMMU_CGROUP2_MNT, strlen(KMMU_CGROUP2_MNT))) {
			/*
			 * Not another kmmu process's private mount: it goes
			 * with that process's teardown, and our cgroup's
			 * files under it with it.
			 */
			snprintf(v2, l2, "%s", mnt);
		}
	}
	fclose(f);
	return 0;
}

/* This process's cgroup path in the v1 memory hierarchy (v1) or in cgroup2. */
static int kmmu_self_cgroup(int version, char *out, size_t len)
{
	char line[1024];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *ctrl = strchr(line, ':'), *path;

		if (!ctrl)
			continue;
		ctrl++;
		path = strchr(ctrl, ':');
		if (!path)
			continue;
		*path++ = 0;
		path[strcspn(path, "\n")] = 0;
		if (version == 2 && !ctrl[0] && !strncmp(line, "0:", 2)) {
			snprintf(out, len, "%s", path);
			err = 0;
		} else if (version == 1) {
			char *o, *save = NULL;

			for (o = strtok_r(ctrl, ",", &save); o; o = strtok_r(NULL, ",", &save))
				if (!strcmp(o, "memory")) {
					snprintf(out, len, "%s", path);
					err = 0;
				}
		}
	}
	fclose(f);
	return err;
}

static bool kmmu_has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

int kmmu_reclaim_probe(char *why, size_t len)
{
	char v1[128], v2[128], path[300], buf[256];

	if (geteuid() != 0) {
		kmmu_why(why, len, "swap devices and memory cgroups need root");
		return -EPERM;
	}
	if (access(ZRAM_CONTROL, F_OK) && access("/sys/block/zram0", F_OK) &&
	    kmmu_modprobe_zram()) {
		kmmu_why(why, len, "no zram (CONFIG_ZRAM): no %s, no /sys/block/zram0, "
			  "modprobe zram failed", ZRAM_CONTROL);
		return -ENODEV;
	}
	kmmu_cgroup_mounts(v1, sizeof(v1), v2, sizeof(v2));
	if (v1[0])
		return 0;
	if (v2[0]) {
		snprintf(path, sizeof(path), "%s/cgroup.controllers", v2);
		if (!kmmu_ctl_read(path, buf, sizeof(buf)) && kmmu_has_word(buf, "memory"))
			return 0;
		kmmu_why(why, len, "no memory cgroup controller (%s has \"%s\")", path, buf);
		return -ENODEV;
	}
	/* Nothing mounted: kmmu_reclaim_memcg() mounts a cgroup2 for itself. */
	return 0;
}

static int kmmu_reclaim_memcg_locked(struct kmmu_reclaim *r, char *why, size_t len)
{
	char v1[128], v2[128], path[512], buf[256], self[96], marker[256];
	static int seq;
	int err;

	err = kmmu_cgroup_mounts(v1, sizeof(v1), v2, sizeof(v2));
	if (err)
		return err;
	if (v1[0]) {
		/* Under our own memcg: whoever limits us still does. */
		err = kmmu_self_cgroup(1, self, sizeof(self));
		if (err) {
			kmmu_why(why, len, "no memory line in /proc/self/cgroup");
			return err;
		}
		snprintf(r->cg_home, sizeof(r->cg_home), "%s%s", v1,
			 strcmp(self, "/") ? self : "");
		r->cg_version = 1;
	} else {
		if (!v2[0]) {
			/* No cgroup file system at all (a bare VM): mount one. */
			char tmpl[] = KMMU_CGROUP2_MNT "XXXXXX";

			if (!mkdtemp(tmpl)) {
				kmmu_why(why, len, "mkdtemp: %s", strerror(errno));
				return -errno;
			}
			err = kmmu_janitor_push(&r->jan, KMMU_UNDO_UMOUNT, tmpl, NULL);
			if (err) {
				rmdir(tmpl);
				return err;
			}
			if (mount("cgroup2", tmpl, "cgroup2", 0, NULL)) {
				err = -errno;
				kmmu_why(why, len, "mounting cgroup2 on %s: %s", tmpl, strerror(errno));
				return err == -ENODEV ? -ENODEV : err;
			}
			snprintf(v2, sizeof(v2), "%s", tmpl);
		}
		snprintf(path, sizeof(path), "%s/cgroup.controllers", v2);
		if (kmmu_ctl_read(path, buf, sizeof(buf)) || !kmmu_has_word(buf, "memory")) {
			kmmu_why(why, len, "no memory controller in %s", path);
			return -ENODEV;
		}
		/*
		 * A child of the root: v2 lets only the root have both
		 * processes and controllers enabled for its children.
		 */
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", v2);
		kmmu_shared_marker(KMMU_SHARED_CG_MEMORY, marker, sizeof(marker));
		if (kmmu_ctl_read(path, buf, sizeof(buf)) || !kmmu_has_word(buf, "memory")) {
			/* Disabled again by the last kmmu process that uses it. */
			err = kmmu_janitor_push(&r->jan, KMMU_UNDO_SHARED_CG_OFF, path, marker);
			if (!err)
				err = kmmu_shared_mark(KMMU_SHARED_CG_MEMORY);
			if (!err)
				err = kmmu_ctl_write(path, "+memory");
			if (err) {
				kmmu_why(why, len, "enabling memory in %s: %s", path, strerror(-err));
				return err;
			}
		} else if (kmmu_shared_marked(KMMU_SHARED_CG_MEMORY)) {
			err = kmmu_janitor_push(&r->jan, KMMU_UNDO_SHARED_CG_OFF, path, marker);
			if (err)
				return err;
		}
		err = kmmu_self_cgroup(2, self, sizeof(self));
		if (err)
			snprintf(self, sizeof(self), "/");
		snprintf(r->cg_home, sizeof(r->cg_home), "%s%s", v2,
			 strcmp(self, "/") ? self : "");
		snprintf(v1, sizeof(v1), "%s", v2);
		r->cg_version = 2;
	}
	if (strlen(r->cg_home) > 190)
		return -ENAMETOOLONG;
	if (r->cg_version == 1)
		snprintf(r->cg_dir, sizeof(r->cg_dir), "%.190s/kmmu-reclaim-%d-%d",
			 r->cg_home, getpid(), seq++);
	else
		snprintf(r->cg_dir, sizeof(r->cg_dir), "%s/kmmu-reclaim-%d-%d",
			 v1, getpid(), seq++);
	err = kmmu_janitor_push(&r->jan, KMMU_UNDO_RMDIR, r->cg_dir, NULL);
	if (err)
		return err;
	if (mkdir(r->cg_dir, 0755)) {
		err = -errno;
		kmmu_why(why, len, "mkdir %s: %s", r->cg_dir, strerror(errno));
		return err;
	}
	/* v1 memcgs inherit swappiness; 0 would keep anonymous memory in. */
	snprintf(path, sizeof(path), "%s/memory.swappiness", r->cg_dir);
	if (r->cg_version == 1)
		kmmu_ctl_write(path, "100");
	return 0;
}

/*
 * Under the shared lock from the subtree_control check to our mkdir: a
 * kmmu process's teardown disables the memory controller it enabled only
 * when no kmmu-* cgroup is left beside it, so ours must exist by the time
 * anybody looks.
 */
int kmmu_reclaim_memcg(struct kmmu_reclaim *r, char *why, size_t len)
{
	int lock, err;

	if (!r->inited || r->cg_version)
		return -EINVAL;
	lock = kmmu_shared_lock();
	if (lock < 0) {
		kmmu_why(why, len, "the kmmu shared-state lock: %s", strerror(-lock));
		return lock;
	}
	err = kmmu_reclaim_memcg_locked(r, why, len);
	kmmu_shared_unlock(lock);
	return err;
}

int kmmu_reclaim_attach(struct kmmu_reclaim *r, pid_t pid)
{
	char path[KMMU_UNDO_PATH + 32], val[16];
	int err;

	if (!r->cg_version)
		return -EINVAL;
	if (!r->attach_pushed) {
		err = kmmu_janitor_push(&r->jan, KMMU_UNDO_MOVE_PROCS, r->cg_dir, r->cg_home);
		if (err)
			return err;
		r->attach_pushed = true;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", r->cg_dir);
	snprintf(val, sizeof(val), "%d", pid ? pid : getpid());
	return kmmu_ctl_write(path, val);
}

static const char *kmmu_limit_file(struct kmmu_reclaim *r)
{
	return r->cg_version == 1 ? "memory.limit_in_bytes" : "memory.high";
}

int kmmu_reclaim_limit(struct kmmu_reclaim *r, uint64_t bytes)
{
	char path[KMMU_UNDO_PATH + 32], val[32];
	const char *unlimited = r->cg_version == 1 ? "-1" : "max";
	int err;

	if (!r->cg_version)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", r->cg_dir, kmmu_limit_file(r));
	if (!r->limit_pushed) {
		err = kmmu_janitor_push(&r->jan, KMMU_UNDO_WRITE, path, unlimited);
		if (err)
			return err;
		r->limit_pushed = true;
	}
	if (bytes == KMMU_RECLAIM_UNLIMITED)
		snprintf(val, sizeof(val), "%s", unlimited);
	else
		snprintf(val, sizeof(val), "%llu", (unsigned long long)bytes);
	return kmmu_ctl_write(path, val);
}

int kmmu_reclaim_usage(struct kmmu_reclaim *r, uint64_t *bytes)
{
	char path[KMMU_UNDO_PATH + 32];

	if (!r->cg_version)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", r->cg_dir,
		 r->cg_version == 1 ? "memory.usage_in_bytes" : "memory.current");
	return kmmu_rread_u64(path, bytes);
}

int kmmu_reclaim_swap_usage(struct kmmu_reclaim *r, uint64_t *bytes)
{
	char path[KMMU_UNDO_PATH + 32], line[256];
	FILE *f;
	int err = -ENOENT;

	if (!r->cg_version)
		return -EINVAL;
	if (r->cg_version == 2) {
		snprintf(path, sizeof(path), "%s/memory.swap.current", r->cg_dir);
		return kmmu_rread_u64(path, bytes);
	}
	snprintf(path, sizeof(path), "%s/memory.stat", r->cg_dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "swap %llu", &v) == 1) {
			*bytes = v;
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

int kmmu_reclaim_reclaim(struct kmmu_reclaim *r, uint64_t bytes)
{
	char path[KMMU_UNDO_PATH + 32], val[32];
	uint64_t usage, old;
	int err, err2;

	if (!r->cg_version)
		return -EINVAL;
	if (r->cg_version == 2) {
		snprintf(path, sizeof(path), "%s/memory.reclaim", r->cg_dir);
		snprintf(val, sizeof(val), "%llu", (unsigned long long)bytes);
		if (access(path, F_OK))
			goto emulate;	/* before 5.19 */
		err = kmmu_ctl_write(path, val);
		return err;
	}
emulate:
	err = kmmu_reclaim_usage(r, &usage);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%s", r->cg_dir, kmmu_limit_file(r));
	err = kmmu_rread_u64(path, &old);
	if (err)
		return err;
	if (usage <= bytes)
		bytes = usage;
	/* The kernel reclaims down to the new limit before the write returns. */
	err = kmmu_reclaim_limit(r, usage - bytes);
	if (err == -EBUSY)
		err = -EAGAIN;
	err2 = kmmu_reclaim_limit(r, old >= (1ULL << 62) ? KMMU_RECLAIM_UNLIMITED : old);
	return err ? err : err2;
}

int kmmu_reclaim_teardown(struct kmmu_reclaim *r)
{
	int err;

	if (!r->inited || r->jan.owner != getpid())
		return 0;
	kmmu_cleanup_forget(kmmu_reclaim_cleanup_cb, r);
	/* Limit lifted, tasks home, rmdir, swapoff, zram reset and removed. */
	err = kmmu_janitor_undo(&r->jan);
	kmmu_janitor_stop(&r->jan);
	r->inited = false;
	r->cg_version = 0;
	r->zram_id = -1;
	return err;
}
