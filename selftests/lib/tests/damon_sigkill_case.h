/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The DAMON driver's janitor test, run on the running kernel (damon_test.c)
 * and against the fake sysfs tree (damon_fakefs_test.c): a child starts
 * DAMON and is SIGKILLed.  Included after kselftest_harness.h, whose
 * assertions it uses (the harness is one per program: a header, as
 * killed_child.h).
 */
#ifndef KMMU_TESTS_DAMON_SIGKILL_CASE_H
#define KMMU_TESTS_DAMON_SIGKILL_CASE_H

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "kmmu/damon.h"
#include "kmmu/pagemap.h"
#include "damon_test_env.h"
#include "killed_child.h"

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

#endif /* KMMU_TESTS_DAMON_SIGKILL_CASE_H */
