// SPDX-License-Identifier: GPL-2.0
/*
 * A tracing session's hand-over of other tasks' notifier calls
 * (kmmu_trace_session_add_foreign()): which tasks' records go to the
 * checker, and which do not; and the files a session saves its trace in.
 * Needs a session, so root and tracefs with the kvm events; SKIPs
 * otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/trace_session.h"

#define GUEST_LO	0x7f0000000000ULL
#define GUEST_HI	0x7f0000100000ULL

static bool on_guest(const struct kmmu_trace_record *r, void *ctx)
{
	int *calls = ctx;

	(*calls)++;
	if (r->type == KMMU_EV_TEST_AGE_HVA)
		return r->test_age.hva >= GUEST_LO && r->test_age.hva < GUEST_HI;
	return r->hva_range.start < GUEST_HI && GUEST_LO < r->hva_range.end;
}

static void add(struct kmmu_trace_log *log, int32_t pid, enum kmmu_rec_type type,
		uint64_t a, uint64_t b)
{
	struct kmmu_trace_record r;

	memset(&r, 0, sizeof(r));
	r.ts = log->nr + 1;
	r.pid = pid;
	r.type = type;
	if (type == KMMU_EV_TEST_AGE_HVA)
		r.test_age.hva = a;
	else if (type == KMMU_EV_SPTE_CHANGED)
		r.spte_changed.gfn = a;
	else {
		r.hva_range.start = a;
		r.hva_range.end = b;
	}
	kmmu_trace_log_append(log, &r);
}

/* Records of @pid in the session's log from index @from on. */
static int count_pid(struct kmmu_trace_log *log, uint64_t from, int32_t pid)
{
	int n = 0;

	for (uint64_t i = from; i < log->nr; i++)
		n += log->recs[i].pid == pid;
	return n;
}

TEST(foreign_tasks_on_guest_memory_are_handed_over)
{
	struct kmmu_trace_session *s;
	struct kmmu_trace_log foreign, *log;
	int32_t own = 0;
	uint64_t before, added = 0;
	char why[256];
	int calls = 0;

	unsetenv("KMMU_CHECK");
	s = kmmu_trace_session_start("session_test", why, sizeof(why));
	if (!s)
		SKIP(return, "no tracing session: %s", why);
	log = kmmu_trace_session_log(s);
	/* A task the session has already: an action of this thread. */
	kmmu_trace_action_age(log, GUEST_LO, GUEST_HI);
	pthread_mutex_lock(&log->lock);
	before = log->nr;
	own = log->recs[before - 1].pid;
	pthread_mutex_unlock(&log->lock);

	kmmu_trace_log_init(&foreign);
	/* Task 101 ages guest memory, and changes an SPTE while at it. */
	add(&foreign, 101, KMMU_EV_AGE_HVA, GUEST_LO, GUEST_LO + 4096);
	add(&foreign, 101, KMMU_EV_SPTE_CHANGED, 7, 0);
	/* Task 102 unmaps other memory: neither the call nor its SPTE changes. */
	add(&foreign, 102, KMMU_EV_UNMAP_HVA_RANGE, 0x1000, 0x2000);
	add(&foreign, 102, KMMU_EV_SPTE_CHANGED, 8, 0);
	/* Task 103 tests a guest page: switches it on, itself not handed over. */
	add(&foreign, 103, KMMU_EV_TEST_AGE_HVA, GUEST_LO + 8192, 0);
	add(&foreign, 103, KMMU_EV_SPTE_CHANGED, 9, 0);
	/* This process's own records are the session's already. */
	add(&foreign, own, KMMU_EV_AGE_HVA, GUEST_LO, GUEST_HI);

	ASSERT_EQ(0, kmmu_trace_session_add_foreign(s, &foreign, on_guest, &calls, &added));
	EXPECT_EQ(3, added);
	EXPECT_EQ(3, calls);	/* the notifier calls of foreign tasks, not SPTE changes */
	pthread_mutex_lock(&log->lock);
	EXPECT_EQ(2, count_pid(log, before, 101));
	EXPECT_EQ(0, count_pid(log, before, 102));
	EXPECT_EQ(1, count_pid(log, before, 103));
	pthread_mutex_unlock(&log->lock);

	EXPECT_EQ(-EINVAL, kmmu_trace_session_add_foreign(NULL, &foreign, on_guest, &calls, &added));
	EXPECT_EQ(0, added);
	kmmu_trace_log_free(&foreign);
	kmmu_trace_session_abort(s);
}

/*
 * kmmu_trace_session_stop() hands the test the whole history, sorted;
 * finishing after it judges that same log.  (The kernel's stats record
 * it logs needs a VM: none here.)
 */
TEST(stop_hands_over_the_sorted_log_before_finish)
{
	struct kmmu_trace_session *s;
	struct kmmu_trace_log *log;
	struct kmmu_trace_record r;
	uint64_t i, nr;
	char why[256];

	unsetenv("KMMU_CHECK");
	unsetenv("KMMU_TRACE_SAVE");
	s = kmmu_trace_session_start("session_test", why, sizeof(why));
	if (!s)
		SKIP(return, "no tracing session: %s", why);
	log = kmmu_trace_session_log(s);
	/* Two actions logged out of order: the later one first. */
	kmmu_trace_action_age(log, GUEST_LO, GUEST_HI);
	pthread_mutex_lock(&log->lock);
	r = log->recs[log->nr - 1];
	pthread_mutex_unlock(&log->lock);
	r.ts -= 1000;
	r.hva_range.start = GUEST_LO + 4096;
	ASSERT_EQ(0, kmmu_trace_log_append(log, &r));

	ASSERT_EQ(0, kmmu_trace_session_stop(s));
	nr = log->nr;
	ASSERT_LE(2, nr);
	for (i = 1; i < nr; i++)
		ASSERT_LE(log->recs[i - 1].ts, log->recs[i].ts);
	/* The one logged second, stamped earlier, now comes first of the two. */
	for (i = 0; i < nr && log->recs[i].type != KMMU_ACT_AGE_REQUEST; i++)
		;
	ASSERT_LT(i + 1, nr);
	ASSERT_EQ(GUEST_LO + 4096, log->recs[i].hva_range.start);
	ASSERT_EQ(GUEST_LO, log->recs[i + 1].hva_range.start);
	/* Again: nothing more is stopped, sorted or logged. */
	ASSERT_EQ(0, kmmu_trace_session_stop(s));
	ASSERT_EQ(nr, log->nr);
	ASSERT_EQ(-EINVAL, kmmu_trace_session_stop(NULL));
	ASSERT_EQ(0, kmmu_trace_session_finish(s, NULL));
}

/*
 * A saved trace (here: $KMMU_TRACE_SAVE; a divergence saves the same way)
 * is a kmmu trace file and, beside it with the same name, a trace-cmd data
 * file of the same records.
 */
TEST(saved_trace_has_a_trace_cmd_dat_beside_it)
{
	static const char dat_magic[] = "\x17\x08\x44tracing6";
	char dir[] = "/tmp/kmmu-session-test.XXXXXX", why[256], path[512], stem[256] = "";
	char head[sizeof(dat_magic)] = "", cmd[64];
	struct kmmu_trace_session *s;
	struct dirent *de;
	int nr_files = 0;
	FILE *f;
	DIR *d;

	unsetenv("KMMU_CHECK");
	ASSERT_NE(NULL, mkdtemp(dir));
	setenv("KMMU_TRACE_SAVE", dir, 1);
	s = kmmu_trace_session_start("session_test", why, sizeof(why));
	if (!s) {
		rmdir(dir);
		SKIP(return, "no tracing session: %s", why);
	}
	kmmu_trace_action_age(kmmu_trace_session_log(s), GUEST_LO, GUEST_HI);
	EXPECT_EQ(0, kmmu_trace_session_finish(s, NULL));
	unsetenv("KMMU_TRACE_SAVE");

	d = opendir(dir);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		char *dot = strrchr(de->d_name, '.');

		if (de->d_name[0] == '.')
			continue;
		nr_files++;
		if (dot && !strcmp(dot, ".kmmutrace"))
			snprintf(stem, sizeof(stem), "%.*s", (int)(dot - de->d_name), de->d_name);
	}
	closedir(d);
	EXPECT_EQ(2, nr_files);
	ASSERT_STRNE("", stem);
	snprintf(path, sizeof(path), "%s/%s.dat", dir, stem);
	f = fopen(path, "r");
	EXPECT_NE(NULL, f) {
		TH_LOG("no %s beside %s.kmmutrace", path, stem);
	}
	if (f) {
		EXPECT_EQ(1, fread(head, sizeof(head) - 1, 1, f));
		fclose(f);
		EXPECT_EQ(0, memcmp(head, dat_magic, sizeof(dat_magic) - 1));
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	system(cmd);
}

TEST_HARNESS_MAIN
