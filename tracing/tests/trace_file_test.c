// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu-trace/1 files: round trips, and every kind of damage a file can
 * have (truncation at every length, corrupt header, foreign files, bad
 * records, trailing garbage) is refused with a message, never a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/trace_file.h"
#include "kmmu/trace_log.h"

#define NR_RECS 5

FIXTURE(tfile) {
	char dir[64];
	char path[128];
	struct kmmu_trace_record recs[NR_RECS];
	char *image;		/* the written file's bytes */
	size_t len;
};

FIXTURE_SETUP(tfile)
{
	struct stat st;
	int fd;

	snprintf(self->dir, sizeof(self->dir), "/tmp/kmmu-tfile-test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/t.kmmutrace", self->dir);
	memset(self->recs, 0, sizeof(self->recs));
	for (int i = 0; i < NR_RECS; i++) {
		self->recs[i].ts = 1000 + i;
		self->recs[i].type = i % 2 ? KMMU_EV_SET_SPTE : KMMU_ACT_SET_MEMSLOT;
		self->recs[i].set_spte.gfn = 0x100 + i;
	}
	ASSERT_EQ(0, kmmu_trace_file_write(self->path, "kernel: 6.18\nclock: mono\n",
					   self->recs, NR_RECS));
	ASSERT_EQ(0, stat(self->path, &st));
	self->len = st.st_size;
	self->image = malloc(self->len);
	ASSERT_NE(NULL, self->image);
	fd = open(self->path, O_RDONLY);
	ASSERT_EQ((ssize_t)self->len, read(fd, self->image, self->len));
	close(fd);
}

FIXTURE_TEARDOWN(tfile)
{
	char cmd[160];

	free(self->image);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	system(cmd);
}

TEST_F(tfile, round_trip)
{
	struct kmmu_trace_file tf;
	char err[256], val[64];

	ASSERT_EQ(16 + 25 + 8 + NR_RECS * 64, self->len);
	ASSERT_EQ(0, kmmu_trace_file_read(self->path, &tf, err, sizeof(err)));
	ASSERT_EQ(NR_RECS, tf.nr);
	EXPECT_EQ(0, memcmp(tf.recs, self->recs, sizeof(self->recs)));
	EXPECT_STREQ("mono", kmmu_trace_file_header_get(&tf, "clock", val, sizeof(val)));
	EXPECT_STREQ("6.18", kmmu_trace_file_header_get(&tf, "kernel", val, sizeof(val)));
	EXPECT_EQ(NULL, kmmu_trace_file_header_get(&tf, "kern", val, sizeof(val)));
	kmmu_trace_file_free(&tf);
}

TEST_F(tfile, every_truncation_is_refused)
{
	struct kmmu_trace_file tf;
	char err[256];

	for (size_t len = 0; len < self->len; len++) {
		err[0] = '\0';
		ASSERT_EQ(-EINVAL, kmmu_trace_file_parse(self->image, len, &tf, err, sizeof(err))) {
			TH_LOG("length %zu accepted", len);
		}
		ASSERT_NE('\0', err[0]);
	}
}

/* The same through the file reader, which reads a file part by part. */
TEST_F(tfile, every_truncated_file_is_refused)
{
	struct kmmu_trace_file tf;
	char err[256];

	for (size_t len = self->len; len-- > 0;) {
		ASSERT_EQ(0, truncate(self->path, len));	/* shorter each time */
		err[0] = '\0';
		ASSERT_EQ(-EINVAL, kmmu_trace_file_read(self->path, &tf, err, sizeof(err))) {
			TH_LOG("length %zu accepted", len);
		}
		ASSERT_NE(NULL, strstr(err, self->path));
		ASSERT_NE(NULL, strstr(err, len ? len < 16 ? "bad magic" : "truncated" : "empty")) {
			TH_LOG("length %zu: %s", len, err);
		}
	}
}

/*
 * kmmu_trace_file_read() in a child, which gets @secs to answer: 0 or
 * -errno, with the reason in @err; -ETIMEDOUT if it hangs.
 */
static int read_in_child(const char *path, char *err, size_t len, int secs)
{
	struct pollfd pfd = { .events = POLLIN };
	int fds[2], ret = -ETIMEDOUT, status;
	pid_t pid;

	if (pipe(fds))
		return -errno;
	pid = fork();
	if (!pid) {
		struct kmmu_trace_file tf;
		char msg[256] = "";

		close(fds[0]);
		ret = kmmu_trace_file_read(path, &tf, msg, sizeof(msg));
		if (write(fds[1], &ret, sizeof(ret)) != sizeof(ret) ||
		    write(fds[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	snprintf(err, len, "hangs");
	if (pid > 0 && poll(&pfd, 1, secs * 1000) == 1 &&
	    read(fds[0], &ret, sizeof(ret)) == sizeof(ret)) {
		char msg[256];

		if (read(fds[0], msg, sizeof(msg)) == sizeof(msg))
			snprintf(err, len, "%s", msg);
	}
	close(fds[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	return ret;
}

/* Special files are refused by what they are, at once: a FIFO nobody writes to too. */
TEST_F(tfile, special_files_are_refused_without_waiting)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char fifo[160], err[256];
	int sock;

	snprintf(fifo, sizeof(fifo), "%s/fifo", self->dir);
	ASSERT_EQ(0, mkfifo(fifo, 0600));
	EXPECT_EQ(-EINVAL, read_in_child(fifo, err, sizeof(err), 5));
	EXPECT_NE(NULL, strstr(err, "is a FIFO, not a regular file")) {
		TH_LOG("%s", err);
	}

	EXPECT_EQ(-EINVAL, read_in_child("/dev/zero", err, sizeof(err), 5));
	EXPECT_NE(NULL, strstr(err, "/dev/zero: is a character device")) {
		TH_LOG("%s", err);
	}

	EXPECT_EQ(-EINVAL, read_in_child(self->dir, err, sizeof(err), 5));
	EXPECT_NE(NULL, strstr(err, "is a directory")) {
		TH_LOG("%s", err);
	}

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", self->dir);
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_LE(0, sock);
	ASSERT_EQ(0, bind(sock, (struct sockaddr *)&sun, sizeof(sun)));
	EXPECT_EQ(-EINVAL, read_in_child(sun.sun_path, err, sizeof(err), 5));
	EXPECT_NE(NULL, strstr(err, "is a socket")) {
		TH_LOG("%s", err);
	}
	close(sock);

	/* The reader still reads regular files. */
	EXPECT_EQ(0, read_in_child(self->path, err, sizeof(err), 5)) {
		TH_LOG("%s", err);
	}
}

TEST_F(tfile, damage_is_named)
{
	struct kmmu_trace_file tf;
	char err[256], *copy = malloc(self->len + 64);
	size_t rec0 = 16 + 25 + 8;
	uint16_t bad_type = 999;
	uint64_t ts = 1;

	ASSERT_NE(NULL, copy);

	memcpy(copy, self->image, self->len);
	copy[0] = 'X';
	EXPECT_EQ(-EINVAL, kmmu_trace_file_parse(copy, self->len, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "bad magic"));

	memcpy(copy, self->image, self->len);
	copy[8] = 2;
	EXPECT_EQ(-EINVAL, kmmu_trace_file_parse(copy, self->len, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "version 2"));

	memcpy(copy, self->image, self->len);
	copy[20] = '\0';
	EXPECT_EQ(-EINVAL, kmmu_trace_file_parse(copy, self->len, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "corrupt header"));

	memcpy(copy, self->image, self->len);
	memset(copy + 12, 0xff, 4);
	EXPECT_EQ(-EINVAL, kmmu_trace_file_parse(copy, self->len, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "header length"));

	/* A record count that would overflow when multiplied by 64. */
	memcpy(copy, self->image, self->len);
	memset(copy + 16 + 25, 0xff, 8);
	EXPECT_EQ(-EINVAL, kmmu_trace_file_parse(copy, self->len, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "truncated"));

	memcpy(copy, self->image, self->len);
	memset(copy + self->len, 0, 10);
	EXPECT_EQ(-EINVAL, kmmu_trace_file_parse(copy, self->len + 10, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "trailing garbage"));

	memcpy(copy, self->image, self->len);
	memcpy(copy + rec0 + 64 * 2 + 8, &bad_type, 2);
	EXPECT_EQ(-EINVAL, kmmu_trace_file_parse(copy, self->len, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "record 2")) {
		TH_LOG("%s", err);
	}
	EXPECT_NE(NULL, strstr(err, "unknown type 999"));

	memcpy(copy, self->image, self->len);
	memcpy(copy + rec0 + 64 * 3, &ts, 8);
	EXPECT_EQ(-EINVAL, kmmu_trace_file_parse(copy, self->len, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "backwards"));
	free(copy);
}

TEST_F(tfile, files_that_are_no_trace)
{
	struct kmmu_trace_file tf;
	char err[256], path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/missing", self->dir);
	EXPECT_EQ(-ENOENT, kmmu_trace_file_read(path, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, path));
	EXPECT_EQ(-EINVAL, kmmu_trace_file_read(self->dir, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "not a regular file"));

	snprintf(path, sizeof(path), "%s/empty", self->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	EXPECT_EQ(-EINVAL, kmmu_trace_file_read(path, &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "empty"));

	/* A trace-cmd .dat or any other file. */
	EXPECT_EQ(-EINVAL, kmmu_trace_file_read("/proc/self/exe", &tf, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "bad magic"));
}

TEST_F(tfile, writer_refuses_bad_input_and_keeps_old_file)
{
	struct kmmu_trace_file tf;
	char bad[160], err[128];

	EXPECT_EQ(-EINVAL, kmmu_trace_file_write(self->path, NULL, self->recs, 1));
	EXPECT_EQ(-EINVAL, kmmu_trace_file_write(self->path, "h\n", NULL, 3));
	snprintf(bad, sizeof(bad), "%s/no/such/dir/t", self->dir);
	EXPECT_EQ(-ENOENT, kmmu_trace_file_write(bad, "h\n", self->recs, 1));
	/* The original is intact. */
	ASSERT_EQ(0, kmmu_trace_file_read(self->path, &tf, err, sizeof(err)));
	EXPECT_EQ(NR_RECS, tf.nr);
	kmmu_trace_file_free(&tf);
}

TEST(log_sort_is_stable)
{
	struct kmmu_trace_log log;
	struct kmmu_trace_record r;
	const int n = 10000;

	kmmu_trace_log_init(&log);
	memset(&r, 0, sizeof(r));
	srand(1);
	for (int i = 0; i < n; i++) {
		r.ts = rand() % 100;
		r.type = KMMU_EV_SET_SPTE;
		r.set_spte.gfn = i;	/* insertion order */
		ASSERT_EQ(0, kmmu_trace_log_append(&log, &r));
	}
	kmmu_trace_log_sort(&log);
	ASSERT_EQ(n, log.nr);
	for (int i = 1; i < n; i++) {
		ASSERT_LE(log.recs[i - 1].ts, log.recs[i].ts);
		if (log.recs[i - 1].ts == log.recs[i].ts)
			ASSERT_LT(log.recs[i - 1].set_spte.gfn, log.recs[i].set_spte.gfn);
	}
	kmmu_trace_log_free(&log);
}

/* Merging sorted records gives what appending them and sorting gives. */
TEST(log_merge_is_append_and_sort)
{
	struct kmmu_trace_log merged, sorted;
	struct kmmu_trace_record r, add[700];
	const int n = 3000, nr_add = 700;

	kmmu_trace_log_init(&merged);
	kmmu_trace_log_init(&sorted);
	memset(&r, 0, sizeof(r));
	srand(2);
	r.type = KMMU_EV_SET_SPTE;
	for (int i = 0; i < n; i++) {
		r.ts = rand() % 500;
		r.set_spte.gfn = i;
		ASSERT_EQ(0, kmmu_trace_log_append(&merged, &r));
		ASSERT_EQ(0, kmmu_trace_log_append(&sorted, &r));
	}
	kmmu_trace_log_sort(&merged);
	kmmu_trace_log_sort(&sorted);
	r.type = KMMU_EV_UNMAP_HVA_RANGE;
	for (int i = 0; i < nr_add; i++) {
		add[i] = r;
		add[i].ts = (uint64_t)i * 500 / nr_add;	/* sorted; ties with the log and itself */
		add[i].hva_range.start = n + i;
	}
	for (int i = 0; i < nr_add; i++)
		ASSERT_EQ(0, kmmu_trace_log_append(&sorted, &add[i]));
	kmmu_trace_log_sort(&sorted);
	ASSERT_EQ(0, kmmu_trace_log_merge_sorted(&merged, add, nr_add));
	ASSERT_EQ(sorted.nr, merged.nr);
	ASSERT_EQ(0, memcmp(sorted.recs, merged.recs, sorted.nr * sizeof(r)));
	ASSERT_EQ(0, kmmu_trace_log_merge_sorted(&merged, add, 0));
	ASSERT_EQ(sorted.nr, merged.nr);
	kmmu_trace_log_free(&merged);
	kmmu_trace_log_free(&sorted);
}

TEST(record_format_names_the_event)
{
	struct kmmu_trace_record r = { .ts = 1500000001, .type = KMMU_ACT_SET_MEMSLOT };
	char buf[256];

	r.memslot.slot = (1 << 16) | 7;
	r.memslot.ret = -17;
	kmmu_rec_format(&r, buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "1.500000001"));
	EXPECT_NE(NULL, strstr(buf, "action:set_memslot"));
	EXPECT_NE(NULL, strstr(buf, "slot 1:7"));
	EXPECT_NE(NULL, strstr(buf, "ret -17"));
	EXPECT_STREQ("unknown", kmmu_rec_type_name(12345));
	EXPECT_FALSE(kmmu_rec_type_valid(0));
	EXPECT_FALSE(kmmu_rec_type_valid(KMMU_EV_NR_KERNEL));
	EXPECT_TRUE(kmmu_rec_type_valid(KMMU_EV_SET_SPTE));
	EXPECT_TRUE(kmmu_rec_type_valid(KMMU_ACT_VM_CREATE));
}

TEST_HARNESS_MAIN
