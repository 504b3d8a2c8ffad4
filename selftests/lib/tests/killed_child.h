/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The janitor tests' child: it sets host state up (a kdamond, a swap
 * device, a memory cgroup), tells the parent what it made through a pipe
 * and waits to be killed with SIGKILL, so the test can prove the janitor
 * cleans up after an owner that had no chance to.  Shared by the DAMON
 * and reclaim tests.
 */
#ifndef KMMU_TESTS_KILLED_CHILD_H
#define KMMU_TESTS_KILLED_CHILD_H

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: @len bytes of @info to the parent on @fd, then park. */
static inline __attribute__((noreturn))
void killed_child_report(int fd, const void *info, size_t len)
{
	if (write(fd, info, len) != (ssize_t)len)
		_exit(1);
	for (;;)
		pause();
}

/* In the parent: the child's report from the pipe @fds (closes both ends). */
static inline ssize_t killed_child_read(int fds[2], void *info, size_t len)
{
	ssize_t n;

	close(fds[1]);
	n = read(fds[0], info, len);
	close(fds[0]);
	return n;
}

/* The child could not set up: kill it before the test skips or fails. */
static inline void killed_child_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

#endif /* KMMU_TESTS_KILLED_CHILD_H */
