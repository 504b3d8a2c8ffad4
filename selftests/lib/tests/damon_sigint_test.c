// SPDX-License-Identifier: GPL-2.0
/*
 * The DAMON aging driver interrupted: with the fake sysfs tree
 * (damon_test_env.h) and a real tracefs instance (root, CONFIG_DAMON),
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
#include "damon_test_env.h"
#include "killed_child.h"

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

TEST_HARNESS_MAIN
