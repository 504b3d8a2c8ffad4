// SPDX-License-Identifier: GPL-2.0
/*
 * The kmmu-trace tool on input that is no trace file: report, stats and
 * check each refuse it at once, with one line on stderr that names the
 * file and why, and exit status 2 -- a FIFO nobody writes to, a device, a
 * directory, a socket, an empty file, a truncated one -- and still read a
 * good file.  A bad command line (a missing or extra operand, an unknown
 * option, an option without its value) is one line and exit status 2
 * too.  The tool is the kmmu-trace next to this test's directory.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/trace_file.h"
#include "test_paths.h"

#define TIMEOUT_MS 5000

FIXTURE(cli) {
	char tool[PATH_MAX];
	char dir[64];
	char path[192];		/* scratch: a file in dir */
	char err[1024];		/* the tool's stderr */
	int sock;
};

FIXTURE_VARIANT(cli) {
	const char *cmd;
};

/* A variant a command that reads a trace file, named as the command. */
#define CLI_VARIANT(command) FIXTURE_VARIANT_ADD(cli, command) { .cmd = #command }

CLI_VARIANT(report);
CLI_VARIANT(stats);
CLI_VARIANT(check);

FIXTURE_SETUP(cli)
{
	ASSERT_TOOL(self->tool, "kmmu-trace");
	snprintf(self->dir, sizeof(self->dir), "/tmp/kmmu-trace-test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->sock = -1;
}

FIXTURE_TEARDOWN(cli)
{
	char cmd[160];

	if (self->sock >= 0)
		close(self->sock);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	system(cmd);
}

static const char *in_dir(struct _test_data_cli *self, const char *name)
{
	snprintf(self->path, sizeof(self->path), "%s/%s", self->dir, name);
	return self->path;
}

/*
 * Runs `kmmu-trace ARGS...` (@args ends in NULL), its stdout thrown away
 * and its stderr in self->err; its exit status, or -1 when it does not
 * end within TIMEOUT_MS (then it is killed).
 */
static int run_args(struct _test_data_cli *self, const char *const *args)
{
	const char *argv[8] = { "kmmu-trace" };
	struct pollfd pfd = { .events = POLLIN };
	struct timespec t0, t;
	size_t len = 0;
	int fds[2], status, ret = -1;
	pid_t pid;

	self->err[0] = '\0';
	if (pipe(fds))
		return -1;
	pid = fork();
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		for (int i = 0; args[i] && i < 6; i++)
			argv[i + 1] = args[i];
		execv(self->tool, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (pid > 0) {
		long left;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
				     (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, left) != 1)
			break;		/* hangs */
		n = read(fds[0], self->err + len, sizeof(self->err) - 1 - len);
		if (n <= 0) {
			ret = 0;	/* its stderr closed: it ended */
			break;
		}
		len += n;
		self->err[len] = '\0';
	}
	close(fds[0]);
	if (pid <= 0)
		return -1;
	if (ret)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (ret || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* `kmmu-trace CMD PATH` */
static int run(struct _test_data_cli *self, const char *cmd, const char *path)
{
	const char *args[] = { cmd, path, NULL };

	return run_args(self, args);
}

/* `kmmu-trace CMD PATH` refuses PATH at once, in one line with PATH and @why. */
static void refused(struct __test_metadata *_metadata, struct _test_data_cli *self,
		    const char *cmd, const char *path, const char *why)
{
	char *nl;

	EXPECT_EQ(2, run(self, cmd, path)) {
		TH_LOG("kmmu-trace %s %s: %s", cmd, path, self->err[0] ? self->err : "hangs");
	}
	nl = strchr(self->err, '\n');
	EXPECT_TRUE(nl && !nl[1]) {
		TH_LOG("not one line: '%s'", self->err);
	}
	EXPECT_NE(NULL, strstr(self->err, path));
	EXPECT_NE(NULL, strstr(self->err, why)) {
		TH_LOG("'%s' does not say '%s'", self->err, why);
	}
}

TEST_F(cli, fifo_without_writer)
{
	ASSERT_EQ(0, mkfifo(in_dir(self, "fifo"), 0600));
	refused(_metadata, self, variant->cmd, self->path, "is a FIFO");
}

TEST_F(cli, devices_directories_sockets)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	refused(_metadata, self, variant->cmd, "/dev/zero", "is a character device");
	refused(_metadata, self, variant->cmd, self->dir, "is a directory");

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", self->dir);
	self->sock = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_LE(0, self->sock);
	ASSERT_EQ(0, bind(self->sock, (struct sockaddr *)&sun, sizeof(sun)));
	refused(_metadata, self, variant->cmd, sun.sun_path, "is a socket");

	refused(_metadata, self, variant->cmd, in_dir(self, "missing"), "No such file");
}

TEST_F(cli, empty_truncated_and_good_files)
{
	struct kmmu_trace_record rec = {
		.ts = 1000,
		.type = KMMU_ACT_SET_MEMSLOT,
		.memslot = { .start_ts = 900, .size = 4096, .hva = 0x7f0000000000ull },
	};
	struct stat st;
	int fd;

	fd = open(in_dir(self, "empty"), O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	close(fd);
	refused(_metadata, self, variant->cmd, self->path, "empty file");

	ASSERT_EQ(0, kmmu_trace_file_write(in_dir(self, "good"), "kernel: test\n", &rec, 1));
	EXPECT_EQ(0, run(self, variant->cmd, self->path)) {
		TH_LOG("%s", self->err);
	}
	ASSERT_EQ(0, stat(self->path, &st));
	ASSERT_EQ(0, truncate(self->path, st.st_size - 10));
	refused(_metadata, self, variant->cmd, self->path, "truncated");
	ASSERT_EQ(0, truncate(self->path, 20));
	refused(_metadata, self, variant->cmd, self->path, "truncated");
}

/*
 * A bad command line is one line on stderr that says what is wrong, and
 * exit status 2: no usage text after it, nor getopt()'s own message.
 */
static void bad_usage(struct __test_metadata *_metadata, struct _test_data_cli *self,
		      const char *const *args, const char *why)
{
	char *nl;

	EXPECT_EQ(2, run_args(self, args)) {
		TH_LOG("kmmu-trace %s: %s", args[0] ? args[0] : "", self->err);
	}
	nl = strchr(self->err, '\n');
	EXPECT_TRUE(nl && !nl[1]) {
		TH_LOG("not one line: '%s'", self->err);
	}
	EXPECT_TRUE(!strncmp(self->err, "kmmu-trace: ", 12) && strstr(self->err, why)) {
		TH_LOG("'%s' does not say 'kmmu-trace: ...%s'", self->err, why);
	}
}

TEST_F(cli, bad_command_lines)
{
	const char *none[] = { variant->cmd, NULL };
	const char *two[] = { variant->cmd, "a", "b", NULL };
	const char *unknown[] = { variant->cmd, "-x", "a", NULL };

	bad_usage(_metadata, self, none, "one trace FILE");
	bad_usage(_metadata, self, two, "one trace FILE");
	bad_usage(_metadata, self, unknown, "unknown option");
	if (strcmp(variant->cmd, "check"))
		return;		/* the others' once */
	bad_usage(_metadata, self, (const char *[]){ NULL }, "no command");
	bad_usage(_metadata, self, (const char *[]){ "export", "--dat", NULL }, "--dat needs");
	bad_usage(_metadata, self, (const char *[]){ "export", "--out", "x", NULL },
		  "unknown option --out");
	bad_usage(_metadata, self, (const char *[]){ "record", "-o", NULL }, "-o needs");
	bad_usage(_metadata, self, (const char *[]){ "record", "-x", "--", "true", NULL },
		  "unknown option -x");
}

TEST_HARNESS_MAIN
