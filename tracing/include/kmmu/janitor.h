/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Undo journal with a janitor process as its backstop.
 *
 * A driver that changes host state (a kdamond, a swap device, a memory
 * cgroup) records, before each change, how to undo it.  Normally the owner
 * undoes everything itself (kmmu_janitor_undo()).  If the owner dies before
 * that -- SIGKILL, a crash, a test harness's _exit() after a failed
 * assertion -- the janitor does it: a child forked at kmmu_janitor_start()
 * that blocks reading a pipe.  The owner sends it each undo step as it is
 * recorded; EOF without a "done" message means the owner died, and the
 * janitor runs the steps it has, last first.
 *
 * The janitor ignores SIGINT/SIGTERM/SIGHUP, runs in its own session (a
 * kill of the test's process group does not reach it), has stdin, stdout
 * and stderr on /dev/null and no other descriptor, so it never holds a
 * test runner's pipe open.  Children the owner forks later close their copy
 * of the pipe (pthread_atfork), so only the owner's death counts; the pipe
 * is close-on-exec, so an exec() by the owner counts as its death.
 *
 * Every step is idempotent and tolerant of "already undone", because both
 * the owner and then the janitor may run it.  The janitor is a fork of the
 * owner: start it before mapping large buffers (or madvise them
 * MADV_DONTFORK), so that it shares none of the memory a test measures.
 */
#ifndef KMMU_JANITOR_H
#define KMMU_JANITOR_H

#include <stdbool.h>
#include <sys/types.h>

enum kmmu_undo_op {
	KMMU_UNDO_WRITE = 1,	/* write arg to the file path */
	KMMU_UNDO_WAIT,		/* poll path until it reads arg (10 s at most) */
	KMMU_UNDO_SWAPOFF,	/* swapoff(path) */
	KMMU_UNDO_MOVE_PROCS,	/* move every pid in path/cgroup.procs to arg/ */
	KMMU_UNDO_RMDIR,	/* rmdir(path), retried while the kernel says EBUSY */
	KMMU_UNDO_UMOUNT,	/* umount(path), then rmdir(path) */
	KMMU_UNDO_UNLINK,	/* unlink(path) */
	KMMU_UNDO_RMMOD,	/* delete_module(path) (a module name) */
	/*
	 * Shared host state (see kmmu_shared_lock()), under the shared lock
	 * and only while the marker file arg exists:
	 *  SHARED_CG_OFF  no kmmu-* child cgroup left beside the
	 *                 cgroup.subtree_control file path: write "-memory"
	 *                 to it and unlink arg;
	 *  SHARED_RMMOD   delete_module(path); still in use (another kmmu
	 *                 process, which recorded the same step, has a device
	 *                 open): leave both to that one; unloaded: unlink arg.
	 */
	KMMU_UNDO_SHARED_CG_OFF,
	KMMU_UNDO_SHARED_RMMOD,
};

#define KMMU_UNDO_PATH	240
#define KMMU_UNDO_ARG	240
#define KMMU_UNDO_MAX	24

struct kmmu_undo {
	int op;
	char path[KMMU_UNDO_PATH];
	char arg[KMMU_UNDO_ARG];
};

struct kmmu_janitor {
	pid_t owner;		/* only this process undoes anything */
	pid_t pid;		/* the janitor, 0 if none */
	int fd;			/* write end of the janitor's pipe, or -1 */
	int nr;
	struct kmmu_undo undo[KMMU_UNDO_MAX];
};

/*
 * Fork the janitor.  @j is initialised here.  Returns 0 or -errno.  The
 * caller owns the janitor (and, through it, the undo steps).
 */
int kmmu_janitor_start(struct kmmu_janitor *j);
/* Record an undo step (in @j and at the janitor).  0 or -errno. */
int kmmu_janitor_push(struct kmmu_janitor *j, enum kmmu_undo_op op,
		      const char *path, const char *arg);
/*
 * Run the recorded steps, last first, in this process (nothing if this is
 * not the owner, e.g. a forked child), then forget them here and at the
 * janitor.  Returns 0 or the first step's -errno.
 */
int kmmu_janitor_undo(struct kmmu_janitor *j);
/*
 * End the janitor: tell it that nothing is left to do, close the pipe and
 * reap it.  Call kmmu_janitor_undo() first.  Safe to call twice.
 */
void kmmu_janitor_stop(struct kmmu_janitor *j);
/* Run one step here (what the janitor does); also for tests. */
int kmmu_undo_run(const struct kmmu_undo *u);

/*
 * Host state that concurrent kmmu processes share: the memory controller
 * one of them enabled in a cgroup2 root's subtree_control, the zram module
 * one of them loaded.  Whoever changed it must not undo it under another
 * kmmu process still using it (its memcg would lose memory.*, its zram
 * swap its module), and whoever found it changed must undo it if it is the
 * last user.  So: checking, changing and starting to use such state, and
 * the undo's "is anybody else using it", happen under one lock (flock of
 * $KMMU_SHARED_DIR/lock, default /run/kmmu); a marker file there says a
 * kmmu process made the change (never the host), and every user records
 * the SHARED_* undo step, which acts only while the marker exists.
 */
#define KMMU_SHARED_CG_MEMORY	"cgroup-memory-enabled"
#define KMMU_SHARED_ZRAM	"zram-loaded"
/* The lock: an fd to pass to kmmu_shared_unlock(), or -errno. */
int kmmu_shared_lock(void);
void kmmu_shared_unlock(int fd);
/* The marker's path for @name (one of KMMU_SHARED_*), in @out. */
void kmmu_shared_marker(const char *name, char *out, size_t len);
/* Create the marker (under the lock).  0 or -errno. */
int kmmu_shared_mark(const char *name);
bool kmmu_shared_marked(const char *name);

#endif
