// SPDX-License-Identifier: GPL-2.0
/*
 * The shadow MMU's kprobe events against a stand-in tracefs (a directory
 * whose kprobe_events is a plain file, so every command written is kept)
 * and a stand-in kallsyms: the probes written, the functions found
 * inlined, removal, and the removal of a dead process's probes.  Then,
 * where the running kernel has kprobe events (CONFIG_KPROBE_EVENTS: the
 * test VM's kernel, not every host), a capture's probes exist while it
 * runs, are enabled only in its instance, and are gone after it, also
 * when its process was killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kprobes.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_record.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* The file's text (static, truncated at 4 KiB). */
static const char *read_text(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

FIXTURE(fake_tracefs) {
	char dir[64];
	char events[128];
	char kallsyms[128];
	char err[256];
};

FIXTURE_SETUP(fake_tracefs)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/kmmu-kprobes-test-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->events, sizeof(self->events), "%s/kprobe_events", self->dir);
	snprintf(self->kallsyms, sizeof(self->kallsyms), "%s/kallsyms", self->dir);
	write_file(self->events, "");
	/* mmu_spte_age inlined, as in the test VM's builds */
	write_file(self->kallsyms,
		   "ffffffffc0a10000 t mmu_spte_clear_track_bits_slow\t[kvm]\n"
		   "ffffffffc0a1b2c0 t mmu_spte_clear_track_bits\t[kvm]\n"
		   "ffffffffc0a1b400 t drop_spte\t[kvm]\n");
}

FIXTURE_TEARDOWN(fake_tracefs)
{
	unlink(self->events);
	unlink(self->kallsyms);
	rmdir(self->dir);
}

TEST_F(fake_tracefs, symbols_are_found_by_whole_name)
{
	EXPECT_TRUE(kmmu_kernel_has_symbol(self->kallsyms, "mmu_spte_clear_track_bits"));
	EXPECT_TRUE(kmmu_kernel_has_symbol(self->kallsyms, "drop_spte"));
	EXPECT_FALSE(kmmu_kernel_has_symbol(self->kallsyms, "mmu_spte_age"));
	EXPECT_FALSE(kmmu_kernel_has_symbol(self->kallsyms, "mmu_spte_clear"));
	EXPECT_FALSE(kmmu_kernel_has_symbol("/nonexistent/kallsyms", "drop_spte"));
}

TEST_F(fake_tracefs, add_probes_what_exists_and_tells_what_is_inlined)
{
	unsigned int added, inlined;

	ASSERT_EQ(0, kmmu_kprobes_add(self->dir, self->kallsyms, "kmmu-42-0",
				      KMMU_KPROBE_SPTE_CLEAR | KMMU_KPROBE_SPTE_AGE, &added,
				      &inlined, self->err, sizeof(self->err))) {
		TH_LOG("%s", self->err);
	}
	EXPECT_EQ(KMMU_KPROBE_SPTE_CLEAR, added);
	EXPECT_EQ(KMMU_KPROBE_SPTE_AGE, inlined);
	EXPECT_STREQ("p:kmmu-42-0/shadow_spte_clear mmu_spte_clear_track_bits"
		     " sptep=%si:x64 old_spte=+0(%si):x64\n", read_text(self->events));
}

/* Where the direct map moves (CONFIG_RANDOMIZE_MEMORY), its base is read too. */
TEST_F(fake_tracefs, add_reads_the_direct_maps_base_where_it_moves)
{
	unsigned int added, inlined;

	write_file(self->kallsyms, "ffffffffc0a1b2c0 t mmu_spte_clear_track_bits\t[kvm]\n"
		   "ffffffff820fdb40 D page_offset_base\n");
	ASSERT_EQ(0, kmmu_kprobes_add(self->dir, self->kallsyms, "kmmu-42-0",
				      KMMU_KPROBE_SPTE_CLEAR, &added, &inlined, self->err,
				      sizeof(self->err)));
	EXPECT_STREQ("p:kmmu-42-0/shadow_spte_clear mmu_spte_clear_track_bits"
		     " sptep=%si:x64 old_spte=+0(%si):x64 page_offset=@page_offset_base:x64\n",
		     read_text(self->events));
}

TEST_F(fake_tracefs, add_refuses_a_group_the_kernel_would)
{
	unsigned int added, inlined;

	EXPECT_EQ(-EINVAL, kmmu_kprobes_add(self->dir, self->kallsyms, "kmmu 42/x",
					    KMMU_KPROBE_SPTE_CLEAR, &added, &inlined, self->err,
					    sizeof(self->err)));
	EXPECT_EQ(-EINVAL, kmmu_kprobes_add(self->dir, self->kallsyms, "42-kmmu",
					    KMMU_KPROBE_SPTE_CLEAR, &added, &inlined, self->err,
					    sizeof(self->err)));
	EXPECT_STREQ("", read_text(self->events));
}

TEST_F(fake_tracefs, add_without_kprobe_events_is_enodev)
{
	unsigned int added = 1, inlined = 1;

	unlink(self->events);
	EXPECT_FALSE(kmmu_kprobes_supported(self->dir));
	EXPECT_EQ(-ENODEV, kmmu_kprobes_add(self->dir, self->kallsyms, "kmmu-42-0",
					    KMMU_KPROBE_SPTE_CLEAR, &added, &inlined, self->err,
					    sizeof(self->err)));
	EXPECT_EQ(0, added);
	EXPECT_NE(NULL, strstr(self->err, "CONFIG_KPROBE_EVENTS"));
	write_file(self->events, "");
}

TEST_F(fake_tracefs, remove_writes_one_removal_per_probe)
{
	ASSERT_EQ(0, kmmu_kprobes_remove(self->dir, "kmmu-42-0",
					 KMMU_KPROBE_SPTE_CLEAR | KMMU_KPROBE_SPTE_AGE));
	EXPECT_STREQ("-:kmmu-42-0/shadow_spte_clear\n-:kmmu-42-0/shadow_spte_age\n",
		     read_text(self->events));
}

/* Only the probes of processes that are gone; nobody else's. */
TEST_F(fake_tracefs, stale_probes_of_dead_processes_are_removed)
{
	char listing[1024], want[1200];
	pid_t dead = fork();

	ASSERT_LE(0, dead);
	if (!dead)
		_exit(0);
	ASSERT_EQ(dead, waitpid(dead, NULL, 0));
	snprintf(listing, sizeof(listing),
		 "p:kmmu-%d-0/shadow_spte_clear kvm:mmu_spte_clear_track_bits sptep=%%si:x64\n"
		 "p:kmmu-%d-3/shadow_spte_clear kvm:mmu_spte_clear_track_bits sptep=%%si:x64\n"
		 "p:kprobes/someone_elses do_sys_open\n"
		 "r:kmmu-x-0/odd do_sys_open\n", (int)dead, (int)getpid());
	write_file(self->events, listing);
	kmmu_kprobes_remove_stale(self->dir);
	snprintf(want, sizeof(want), "%s-:kmmu-%d-0/shadow_spte_clear\n", listing, (int)dead);
	EXPECT_STREQ(want, read_text(self->events));
}

/* Each probe's records have a type of their own and a decoder's fields. */
TEST(probe_table)
{
	ASSERT_EQ(2, kmmu_nr_kprobes);
	EXPECT_EQ(&kmmu_kprobes[0], kmmu_kprobe_of(KMMU_EV_SHADOW_SPTE_CLEAR));
	EXPECT_EQ(&kmmu_kprobes[1], kmmu_kprobe_of(KMMU_EV_SHADOW_SPTE_AGE));
	EXPECT_EQ(NULL, kmmu_kprobe_of(KMMU_EV_SET_SPTE));
	for (unsigned int i = 0; i < kmmu_nr_kprobes; i++) {
		EXPECT_NE(NULL, strstr(kmmu_kprobes[i].args, "sptep="));
		EXPECT_NE(NULL, strstr(kmmu_kprobes[i].args, "old_spte="));
	}
}

/* The real kernel's kprobe_events, where it has them. */
/* The reason to skip, or NULL. */
static const char *no_kprobe_events(void)
{
	const char *dir = kmmu_tracefs_dir();

	if (!dir || access(dir, W_OK))
		return "tracefs not available or not writable (needs root)";
	if (!kmmu_kprobes_supported(dir))
		return "this kernel has no kprobe events (CONFIG_KPROBE_EVENTS)";
	if (!kmmu_kernel_has_symbol("/proc/kallsyms", "mmu_spte_clear_track_bits"))
		return "mmu_spte_clear_track_bits: no symbol (kvm not loaded, or inlined)";
	return NULL;
}

static const char *const shadow_events[] = { "kprobe:shadow_spte_clear", NULL };

/* Whether kprobe_events lists a probe of @group. */
static bool group_listed(const char *group)
{
	char path[512], pattern[128];

	snprintf(path, sizeof(path), "%s/kprobe_events", kmmu_tracefs_dir());
	snprintf(pattern, sizeof(pattern), ":%s/", group);
	return strstr(read_text(path), pattern) != NULL;
}

static char read_char(const char *path)
{
	return read_text(path)[0];
}

TEST(capture_probes_exist_only_while_it_runs)
{
	struct kmmu_trace_capture_opts opts = { .events = shadow_events };
	struct kmmu_trace_capture *cap;
	struct kmmu_trace_log log;
	char err[256], group[64], path[768];
	unsigned int inlined;

	if (no_kprobe_events())
		SKIP(return, "%s", no_kprobe_events());
	kmmu_trace_log_init(&log);
	ASSERT_EQ(0, kmmu_trace_capture_start(&cap, &opts, &log, err, sizeof(err))) {
		TH_LOG("%s", err);
	}
	snprintf(group, sizeof(group), "%s", kmmu_trace_capture_instance_name(cap));
	EXPECT_EQ(KMMU_KPROBE_SPTE_CLEAR, kmmu_trace_capture_kprobes(cap, &inlined));
	EXPECT_TRUE(kmmu_trace_capture_has(cap, KMMU_EV_SHADOW_SPTE_CLEAR));
	EXPECT_TRUE(group_listed(group));
	/* Enabled in the capture's instance, not in the global buffer. */
	snprintf(path, sizeof(path), "%s/events/%s/shadow_spte_clear/enable",
		 kmmu_trace_capture_instance_path(cap), group);
	EXPECT_EQ('1', read_char(path));
	snprintf(path, sizeof(path), "%s/events/%s/shadow_spte_clear/enable", kmmu_tracefs_dir(),
		 group);
	EXPECT_EQ('0', read_char(path));
	kmmu_trace_capture_stop(cap, NULL);
	kmmu_trace_capture_destroy(cap);
	kmmu_trace_log_free(&log);
	EXPECT_FALSE(group_listed(group));
}

/* SIGKILL: the janitor removes them; were it killed too, the next capture would. */
TEST(capture_probes_go_with_a_killed_process)
{
	int fds[2];
	char group[64] = "";
	pid_t child;

	if (no_kprobe_events())
		SKIP(return, "%s", no_kprobe_events());
	ASSERT_EQ(0, pipe(fds));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct kmmu_trace_capture_opts opts = { .events = shadow_events };
		struct kmmu_trace_capture *cap;
		struct kmmu_trace_log log;
		char err[256];

		kmmu_trace_log_init(&log);
		if (kmmu_trace_capture_start(&cap, &opts, &log, err, sizeof(err)))
			_exit(1);
		snprintf(group, sizeof(group), "%s", kmmu_trace_capture_instance_name(cap));
		if (write(fds[1], group, sizeof(group)) != sizeof(group))
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	ASSERT_EQ(sizeof(group), read(fds[0], group, sizeof(group)));
	EXPECT_TRUE(group_listed(group));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	for (int i = 0; i < 100 && group_listed(group); i++)
		usleep(100000);
	EXPECT_FALSE(group_listed(group));
}

TEST_HARNESS_MAIN
