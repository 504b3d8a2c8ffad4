/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a tracing test finds what it runs on: the tools built next to its
 * own directory (build/tracing/tests/NAME_test -> build/tracing/TOOL) and
 * the committed traces in tracing/fixtures/ ($KMMU_FIXTURE_DIR instead,
 * for a run from elsewhere than the repository root), and how it runs a
 * tool.  Shared by the tests of kmmu-trace, its interposer, replay_bench
 * and the checker on real traces.
 */
#ifndef KMMU_TESTS_TEST_PATHS_H
#define KMMU_TESTS_TEST_PATHS_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/trace_file.h"

/* @buf = build/tracing/@tool for this test's binary; 0 or -errno. */
static inline int test_tool_path(char *buf, size_t len, const char *tool)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		return -errno;
	buf[n] = '\0';
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(buf, '/');

		if (!slash)
			return -ENOENT;
		*slash = '\0';
	}
	if (strlen(buf) + 1 + strlen(tool) >= len)
		return -ENAMETOOLONG;
	strcat(buf, "/");
	strcat(buf, tool);
	return 0;
}

/*
 * Runs @argv (@envp, or this environment if NULL) with its stderr into
 * @err (NUL-terminated, at most @err_len - 1 bytes) and its stdout on
 * this one's stdout if @keep_stdout, else on /dev/null; its wait status,
 * or -1.
 */
static inline int test_run_cmd(char *const argv[], char *const envp[], bool keep_stdout,
			       char *err, size_t err_len)
{
	int pipefd[2], status = -1;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		if (!keep_stdout) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
		}
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		if (envp)
			execve(argv[0], argv, envp);
		else
			execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (got + 1 < err_len && (n = read(pipefd[0], err + got, err_len - 1 - got)) > 0)
		got += n;
	err[got] = '\0';
	close(pipefd[0]);
	if (pid < 0)
		return -1;
	waitpid(pid, &status, 0);
	return status;
}

/* test_run_cmd() with the tool's stdout on /dev/null. */
static inline int test_run_tool(char *const argv[], char *const envp[], char *err, size_t err_len)
{
	return test_run_cmd(argv, envp, false, err, err_len);
}

/* In a fixture's setup: @buf = the tool @tool, which must be built. */
#define ASSERT_TOOL(buf, tool)								\
	do {										\
		ASSERT_EQ(0, test_tool_path((buf), sizeof(buf), (tool)));		\
		ASSERT_EQ(0, access((buf), X_OK)) {					\
			TH_LOG("no %s: build it first (make all)", (buf));		\
		}									\
	} while (0)

/* @buf = tracing/fixtures/@file (or in $KMMU_FIXTURE_DIR). */
static inline void fixture_path(char *buf, size_t len, const char *file)
{
	const char *dir = getenv("KMMU_FIXTURE_DIR");

	snprintf(buf, len, "%s/%s", dir ? dir : "tracing/fixtures", file);
}

/* The fixture @file read into @tf; 0 or -errno with @err. */
static inline int read_fixture(const char *file, struct kmmu_trace_file *tf, char *err,
			       size_t len)
{
	char path[512];

	fixture_path(path, sizeof(path), file);
	return kmmu_trace_file_read(path, tf, err, len);
}

/* In a fixture's setup: @file read into @tf, else the test fails saying why. */
#define KMMU_ASSERT_FIXTURE(file, tf)							\
	do {										\
		char __err[512];							\
											\
		ASSERT_EQ(0, read_fixture((file), (tf), __err, sizeof(__err)))		\
			TH_LOG("%s (run from the repository root or set KMMU_FIXTURE_DIR)", \
			       __err);							\
	} while (0)

#endif /* KMMU_TESTS_TEST_PATHS_H */
