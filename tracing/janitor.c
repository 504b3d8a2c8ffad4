// SPDX-License-Identifier: GPL-2.0
/*
 * Undo journal and janitor process: host state is restored even when the
 * process that changed it dies without cleaning up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/hygiene.h"
#include "kmmu/janitor.h"

struct kmmu_janitor_msg {
	char type;		/* 'A': add the step; 'C': all undone, forget */
	struct kmmu_undo u;
};

/*
 * Write ends of the pipes of the janitors this process owns: a child forked
 * later closes them, or it would keep a janitor from seeing its owner die.
 */
#define KMMU_JANITOR_FDS 8
static int kmmu_janitor_fds[KMMU_JANITOR_FDS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
static pthread_once_t kmmu_janitor_once = PTHREAD_ONCE_INIT;

static void kmmu_janitor_atfork_child(void)
{
	int i;

	for (i = 0; i < KMMU_JANITOR_FDS; i++) {
		int fd = __atomic_exchange_n(&kmmu_janitor_fds[i], -1, __ATOMIC_SEQ_CST);

		if (fd >= 0)
			close(fd);
	}
}

static void kmmu_janitor_register_atfork(void)
{
	pthread_atfork(NULL, NULL, kmmu_janitor_atfork_child);
}

static void kmmu_janitor_fd_add(int fd)
{
	int i;

	for (i = 0; i < KMMU_JANITOR_FDS; i++) {
		int expected = -1;

		if (__atomic_compare_exchange_n(&kmmu_janitor_fds[i], &expected, fd, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return;
	}
}

static void kmmu_janitor_fd_del(int fd)
{
	int i;

	for (i = 0; i < KMMU_JANITOR_FDS; i++) {
		int expected = fd;

		__atomic_compare_exchange_n(&kmmu_janitor_fds[i], &expected, -1, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
}

/* ---- the steps: plain system calls only, the janitor runs them too ---- */

static int kmmu_undo_move_procs(const char *from, const char *to)
{
	char src[KMMU_UNDO_PATH + 16], dst[KMMU_UNDO_ARG + 16], buf[4096];
	int round, err = 0;

	strcpy(src, from);
	strcat(src, "/cgroup.procs");
	strcpy(dst, to);
	strcat(dst, "/cgroup.procs");
	/* A few rounds: a process may fork while we move it. */
	for (round = 0; round < 10; round++) {
		char *p, *next;
		int r = kmmu_ctl_read(src, buf, sizeof(buf));

		if (r == -ENOENT)
			return 0;
		if (r)
			return r;
		if (!buf[0])
			return 0;
		for (p = buf; *p; p = next) {
			char pid[16];
			size_t n = strcspn(p, "\n");

			next = p[n] ? p + n + 1 : p + n;
			if (!n || n >= sizeof(pid))
				continue;
			memcpy(pid, p, n);
			pid[n] = 0;
			r = kmmu_ctl_write_retry(dst, pid, 1000);
			if (r && r != -ESRCH)
				err = r;
		}
		if (err)
			return err;
	}
	return -EBUSY;
}

/* ---- host state shared by concurrent kmmu processes ---- */

static const char *kmmu_shared_dir(void)
{
	const char *d = getenv("KMMU_SHARED_DIR");

	return d && *d ? d : "/run/kmmu";
}

int kmmu_shared_lock(void)
{
	char path[256];
	int fd;

	if (mkdir(kmmu_shared_dir(), 0700) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/lock", kmmu_shared_dir());
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	return fd;
}

void kmmu_shared_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* drops the flock */
}

void kmmu_shared_marker(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", kmmu_shared_dir(), name);
}

int kmmu_shared_mark(const char *name)
{
	char path[256];
	int fd;

	kmmu_shared_marker(name, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

bool kmmu_shared_marked(const char *name)
{
	char path[256];

	kmmu_shared_marker(name, path, sizeof(path));
	return !access(path, F_OK);
}

/* A kmmu-* directory (another kmmu process's cgroup) beside @file. */
static bool kmmu_kmmu_sibling_dir(const char *file)
{
	char dir[KMMU_UNDO_PATH];
	struct dirent *e;
	bool found = false;
	char *slash;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s", file);
	slash = strrchr(dir, '/');
	if (!slash)
		return false;
	*slash = 0;
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d)))
		found = e->d_type == DT_DIR && !strncmp(e->d_name, "kmmu-", 5);
	closedir(d);
	return found;
}

static int kmmu_undo_shared(const struct kmmu_undo *u)
{
	int fd = kmmu_shared_lock(), r = 0;

	if (fd < 0)
		return fd;
	if (access(u->arg, F_OK))
		goto out;	/* the host's own state, or already undone */
	if (u->op == KMMU_UNDO_SHARED_CG_OFF) {
		if (kmmu_kmmu_sibling_dir(u->path))
			goto out;	/* the last of them undoes it */
		r = kmmu_ctl_write_retry(u->path, "-memory", 1000);
		if (r == -ENOENT)
			r = 0;
	} else if (syscall(SYS_delete_module, u->path, O_NONBLOCK)) {
		if (errno == EBUSY || errno == EAGAIN)
			goto out;	/* in use: its user recorded this step too */
		/* Not loaded, or no module support: nothing to unload. */
		if (errno != ENOENT && errno != ENOSYS)
			r = -errno;
	}
	if (!r && unlink(u->arg) && errno != ENOENT)
		r = -errno;
out:
	kmmu_shared_unlock(fd);
	return r;
}

int kmmu_undo_run(const struct kmmu_undo *u)
{
	char buf[KMMU_UNDO_ARG + 16];
	int i, r;

	switch (u->op) {
	case KMMU_UNDO_WRITE:
		r = kmmu_ctl_write_retry(u->path, u->arg, 1000);
		/*
		 * Gone, or already in the state we want (DAMON refuses "off"
		 * for a kdamond that is not running): a later step checks
		 * what matters.
		 */
		if (r == -ENOENT || r == -ENODEV || r == -EINVAL || r == -EPERM)
			r = 0;
		return r;
	case KMMU_UNDO_WAIT:
		for (i = 0; i < 1000; i++) {
			r = kmmu_ctl_read(u->path, buf, sizeof(buf));
			if (r == -ENOENT)
				return 0;
			if (!r && !strcmp(buf, u->arg))
				return 0;
			kmmu_sleep_ms(10);
		}
		return -ETIMEDOUT;
	case KMMU_UNDO_SWAPOFF:
		if (swapoff(u->path) && errno != EINVAL && errno != ENOENT)
			return -errno;
		return 0;
	case KMMU_UNDO_MOVE_PROCS:
		return kmmu_undo_move_procs(u->path, u->arg);
	case KMMU_UNDO_RMDIR:
		/* A memcg is busy for a moment after its last task left. */
		for (i = 0; i < 500; i++) {
			if (!rmdir(u->path) || errno == ENOENT)
				return 0;
			if (errno != EBUSY)
				return -errno;
			kmmu_sleep_ms(10);
		}
		return -EBUSY;
	case KMMU_UNDO_UMOUNT:
		/*
		 * Busy when the owner undoes from a signal handler that
		 * interrupted a write to one of its files (the fd is still
		 * open): detach it lazily, it goes once the fd is closed.
		 */
		if (umount2(u->path, 0)) {
			if (errno == EBUSY) {
				if (umount2(u->path, MNT_DETACH))
					return -errno;
			} else if (errno != EINVAL && errno != ENOENT) {
				return -errno;
			}
		}
		if (rmdir(u->path) && errno != ENOENT)
			return -errno;
		return 0;
	case KMMU_UNDO_UNLINK:
		if (unlink(u->path) && errno != ENOENT)
			return -errno;
		return 0;
	case KMMU_UNDO_RMMOD:
		/* Not loaded (any more) is fine; in use is an error. */
		if (syscall(SYS_delete_module, u->path, O_NONBLOCK) && errno != ENOENT)
			return -errno;
		return 0;
	case KMMU_UNDO_SHARED_CG_OFF:
	case KMMU_UNDO_SHARED_RMMOD:
		return kmmu_undo_shared(u);
	}
	return -EINVAL;
}

/* ---- the janitor process ---- */

static int kmmu_read_full(int fd, void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t r = read(fd, (char *)buf + off, len - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return off ? -EIO : 0;	/* EOF: the owner is gone */
		off += r;
	}
	return 1;
}

static void __attribute__((noreturn)) kmmu_janitor_main(int rfd)
{
	static struct kmmu_undo undo[KMMU_UNDO_MAX];
	struct kmmu_janitor_msg m;
	int nr = 0, devnull;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	setsid();
	/* Pin no directory (a test's mount point, say). */
	if (chdir("/")) {
		/* then it pins the old one: harmless */
	}
	/* Off 0..2 first, which /dev/null is about to take. */
	devnull = fcntl(rfd, F_DUPFD, 3);
	if (devnull >= 0) {
		if (rfd >= 3)
			close(rfd);
		rfd = devnull;
	}
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
	}
	/* Hold nothing else open: not a runner's pipe, not other janitors'. */
	if (rfd > 3)
		close_range(3, rfd - 1, 0);
	close_range(rfd + 1, ~0U, 0);

	while (kmmu_read_full(rfd, &m, sizeof(m)) == 1) {
		if (m.type == 'C')
			nr = 0;
		else if (m.type == 'A' && nr < KMMU_UNDO_MAX)
			undo[nr++] = m.u;
	}
	while (nr > 0)
		kmmu_undo_run(&undo[--nr]);
	_exit(0);
}

int kmmu_janitor_start(struct kmmu_janitor *j)
{
	int fds[2];
	pid_t pid;

	pthread_once(&kmmu_janitor_once, kmmu_janitor_register_atfork);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->owner = getpid();
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (!pid) {
		close(fds[1]);
		kmmu_janitor_main(fds[0]);
	}
	close(fds[0]);
	j->pid = pid;
	j->fd = fds[1];
	kmmu_janitor_fd_add(j->fd);
	return 0;
}

static int kmmu_janitor_send(struct kmmu_janitor *j, char type, const struct kmmu_undo *u)
{
	struct kmmu_janitor_msg m;
	ssize_t r;

	memset(&m, 0, sizeof(m));
	m.type = type;
	if (u)
		m.u = *u;
	if (j->fd < 0)
		return -EBADF;
	/* Below PIPE_BUF: one atomic write. */
	do {
		r = write(j->fd, &m, sizeof(m));
	} while (r < 0 && errno == EINTR);
	return r == sizeof(m) ? 0 : -EIO;
}

int kmmu_janitor_push(struct kmmu_janitor *j, enum kmmu_undo_op op,
		      const char *path, const char *arg)
{
	struct kmmu_undo *u;

	if (j->owner != getpid())
		return -EPERM;
	if (j->nr >= KMMU_UNDO_MAX)
		return -ENOSPC;
	if (strlen(path) >= KMMU_UNDO_PATH || (arg && strlen(arg) >= KMMU_UNDO_ARG))
		return -ENAMETOOLONG;
	u = &j->undo[j->nr];
	memset(u, 0, sizeof(*u));
	u->op = op;
	strcpy(u->path, path);
	if (arg)
		strcpy(u->arg, arg);
	j->nr++;
	return kmmu_janitor_send(j, 'A', u);
}

int kmmu_janitor_undo(struct kmmu_janitor *j)
{
	int err = 0;

	if (j->owner != getpid())
		return 0;
	while (j->nr > 0) {
		int r = kmmu_undo_run(&j->undo[--j->nr]);

		if (r && !err)
			err = r;
	}
	if (j->fd >= 0)
		kmmu_janitor_send(j, 'C', NULL);
	return err;
}

void kmmu_janitor_stop(struct kmmu_janitor *j)
{
	if (j->owner != getpid())
		return;
	if (j->fd >= 0) {
		/* Whatever is still recorded is left to the janitor. */
		kmmu_janitor_fd_del(j->fd);
		close(j->fd);
		j->fd = -1;
	}
	if (j->pid > 0) {
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			;
		j->pid = 0;
	}
}
