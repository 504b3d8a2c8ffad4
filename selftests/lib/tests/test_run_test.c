// SPDX-License-Identifier: GPL-2.0
/*
 * The run of a real-KVM test (kmmu/test_run.h): start, the two halves of
 * the teardown, the result file.  Needs no KVM: the runtime's VM is NULL.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/result.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/test_run.h"
#include "kmmu/trace_log.h"
#include "kmmu/trace_session.h"

static void test_run_read(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = 0;
}

TEST(never_started)
{
	struct kmmu_test_run run = { 0 };
	char report[64] = "stale";

	/* A SKIPped setup: nothing to judge, nothing to write. */
	ASSERT_EQ(0, kmmu_test_run_end(&run, report, sizeof(report)));
	ASSERT_STREQ("", report);
	ASSERT_EQ(0, kmmu_test_run_finish(&run, "never_started", false, "/nonexistent/r.json"));
}

TEST(result_file)
{
	char path[] = "/tmp/test_run_test_XXXXXX", report[1024], buf[8192];
	struct kmmu_test_run run = { 0 };
	int fd;

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	close(fd);
	kmmu_test_run_start(&run, "test_run_test");
	ASSERT_TRUE(run.started);
	ASSERT_NE(NULL, run.res);
	/* The test's own metrics go in between the two halves. */
	ASSERT_EQ(0, kmmu_test_metric(run.res, "guest_reads", 7, "ops", KMMU_HIGHER_IS_BETTER));
	kmmu_test_run_end(&run, report, sizeof(report));
	ASSERT_LE(0, run.dur);
	ASSERT_EQ(0, kmmu_test_run_finish(&run, "test_run_test", false, path));
	ASSERT_EQ(NULL, run.res);
	test_run_read(path, buf, sizeof(buf));
	unlink(path);
	ASSERT_NE(NULL, strstr(buf, "\"test_run_test\""));
	ASSERT_NE(NULL, strstr(buf, "see TAP output"));
	ASSERT_NE(NULL, strstr(buf, "\"guest_reads\""));
	/* Finished: a second finish has nothing to write. */
	ASSERT_EQ(0, kmmu_test_run_finish(&run, "test_run_test", true, path));
	ASSERT_NE(0, access(path, F_OK));
}

TEST(no_result)
{
	struct kmmu_test_run run = { 0 };
	char report[1024];

	kmmu_test_run_start(&run, NULL);
	ASSERT_EQ(NULL, run.res);
	kmmu_test_run_end(&run, report, sizeof(report));
	ASSERT_EQ(0, kmmu_test_run_finish(&run, "no_result", true, "/nonexistent/r.json"));
}

TEST(unwritable)
{
	struct kmmu_test_run run = { 0 };
	char report[1024];

	kmmu_test_run_start(&run, "test_run_test");
	kmmu_test_run_end(&run, report, sizeof(report));
	ASSERT_EQ(-EIO, kmmu_test_run_finish(&run, "test_run_test", true,
					     "/nonexistent/dir/result.json"));
	ASSERT_EQ(NULL, run.res);
}

/* The checker's session: off as $KMMU_CHECK=0 says, else on (tracefs) or off saying why. */
TEST(trace_session)
{
	struct kmmu_test_run run = { 0 };
	struct kmmu_vm_opts vo = { 0 };
	struct kmmu_trace_log *log;
	char err[256] = "";
	int logged = 0;

	setenv("KMMU_CHECK", "0", 1);
	kmmu_test_run_trace(&run, "test_run_test", &vo, err, sizeof(err));
	unsetenv("KMMU_CHECK");
	ASSERT_EQ(NULL, run.trace);
	ASSERT_STREQ("KMMU_CHECK=0", err);
	ASSERT_EQ(NULL, vo.memslot_hook);

	kmmu_test_run_trace(&run, "test_run_test", &vo, err, sizeof(err));
	if (!run.trace) {
		/* No tracefs here (not root): off, with the reason. */
		ASSERT_NE(0, err[0]);
		ASSERT_EQ(NULL, vo.memslot_hook);
		return;
	}
	ASSERT_TRUE(vo.memslot_hook == kmmu_test_log_memslot);
	ASSERT_EQ(kmmu_trace_session_log(run.trace), vo.memslot_hook_ctx);
	log = kmmu_trace_session_log(run.trace);
	kmmu_test_log_memslot(log, 1, 2, 0, 0x1000, 0x1000, 0x7f0000000000, 0);
	pthread_mutex_lock(&log->lock);
	for (uint64_t i = 0; i < log->nr; i++)
		logged += log->recs[i].type == KMMU_ACT_SET_MEMSLOT && log->recs[i].memslot.slot == 2;
	pthread_mutex_unlock(&log->lock);
	kmmu_trace_session_abort(run.trace);
	ASSERT_EQ(1, logged);
}

/* The checker's verdict: none to give without a session; a session is finished once. */
TEST(trace_check)
{
	struct kmmu_test_run run = { 0 };
	char err[256] = "";

	ASSERT_EQ(0, kmmu_test_run_check(&run));
	kmmu_test_run_trace(&run, "test_run_test", NULL, err, sizeof(err));
	if (!run.trace)
		SKIP(return, "no checker session here: %s", err);
	/* Nothing happened: nothing diverges. */
	ASSERT_EQ(0, kmmu_test_run_check(&run));
	ASSERT_EQ(NULL, run.trace);
	ASSERT_EQ(0, kmmu_test_run_check(&run));
}

TEST_HARNESS_MAIN
