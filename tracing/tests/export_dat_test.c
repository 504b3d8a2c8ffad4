// SPDX-License-Identifier: GPL-2.0
/*
 * `kmmu-trace export --dat` on the committed fixtures (tracing/fixtures):
 * the .dat it writes holds, as libtracecmd reads it and as `trace-cmd
 * report` prints it, every record of the trace reader's, in order, each
 * with its event name, CPU, pid and timestamp to the nanosecond, and the
 * fields the record keeps.  A corrupt trace or an unwritable output is
 * refused in one line with exit status 2 and leaves no .dat behind.  The
 * tool is the kmmu-trace next to this test's directory; trace-cmd report
 * is skipped when trace-cmd is not installed.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <trace-cmd.h>

#include "kselftest_harness.h"
#include "kmmu/trace_dat.h"
#include "kmmu/trace_events.h"
#include "kmmu/trace_file.h"
#include "test_paths.h"

#define TRACE_CMD "/usr/bin/trace-cmd"

FIXTURE(export) {
	char tool[PATH_MAX];
	char dir[64];
	char dat[128];
	char trace[PATH_MAX];
	struct kmmu_trace_file tf;
};

FIXTURE_VARIANT(export) {
	const char *fixture;
	/* The fixtures were recorded on one CPU: spread over this many. */
	unsigned int spread_cpus;
	/* As the ioctl interposer records a VMM: VM 1, its close at the end. */
	bool numbered_vm;
};

FIXTURE_VARIANT_ADD(export, churn_tdp) {
	.fixture = "churn-tdp-6.1.kmmutrace",
};

FIXTURE_VARIANT_ADD(export, churn_tdp_spte) {
	.fixture = "churn-tdp-spte-6.1.kmmutrace",
};

FIXTURE_VARIANT_ADD(export, churn_shadow) {
	.fixture = "churn-shadow-6.1.kmmutrace",
};

FIXTURE_VARIANT_ADD(export, aging_tdp) {
	.fixture = "aging-tdp-6.1.kmmutrace",
};

FIXTURE_VARIANT_ADD(export, churn_tdp_on_3_cpus) {
	.fixture = "churn-tdp-6.1.kmmutrace",
	.spread_cpus = 3,
};

FIXTURE_VARIANT_ADD(export, churn_tdp_numbered_vm) {
	.fixture = "churn-tdp-6.1.kmmutrace",
	.numbered_vm = true,
};

FIXTURE_SETUP(export)
{
	char err[512];

	ASSERT_TOOL(self->tool, "kmmu-trace");
	snprintf(self->dir, sizeof(self->dir), "/tmp/kmmu-export-test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->dat, sizeof(self->dat), "%s/out.dat", self->dir);
	fixture_path(self->trace, sizeof(self->trace), variant->fixture);
	ASSERT_EQ(0, kmmu_trace_file_read(self->trace, &self->tf, err, sizeof(err))) {
		TH_LOG("%s", err);
	}
	ASSERT_LT(0, self->tf.nr);
	if (variant->numbered_vm) {
		struct kmmu_trace_record *recs = realloc(self->tf.recs,
							 (self->tf.nr + 4) * sizeof(*recs));
		uint64_t t;

		ASSERT_NE(NULL, recs);
		self->tf.recs = recs;
		for (uint64_t i = 0; i < self->tf.nr; i++) {
			if (recs[i].type == KMMU_ACT_VM_CREATE)
				recs[i].vm.id = 1;
			else if (recs[i].type == KMMU_ACT_SET_MEMSLOT)
				recs[i].memslot.vm = 1;
		}
		/* Its dirty-log ioctls, as the interposer logs them. */
		t = recs[self->tf.nr - 1].ts;
		kmmu_rec_protect_cap(&recs[self->tf.nr], 1, t + 1, 3, 0);
		kmmu_rec_dirty_log(&recs[self->tf.nr + 1], KMMU_ACT_GET_DIRTY_LOG, 1, t + 2,
				   1 << 16 | 5, 0, 0, -ENOENT);
		kmmu_rec_dirty_log(&recs[self->tf.nr + 2], KMMU_ACT_CLEAR_DIRTY_LOG, 1, t + 3, 5,
				   64, 128, 0);
		for (int k = 0; k < 3; k++)
			recs[self->tf.nr + k].ts = t + 10 + k;
		self->tf.nr += 3;
		recs[self->tf.nr] = recs[self->tf.nr - 1];
		recs[self->tf.nr].type = KMMU_ACT_VM_CLOSE;
		memset(&recs[self->tf.nr].vm, 0, sizeof(recs[self->tf.nr].vm));
		recs[self->tf.nr].vm.id = 1;
		recs[self->tf.nr].ts++;
		self->tf.nr++;
	}
	if (variant->spread_cpus || variant->numbered_vm) {
		for (uint64_t i = 0; variant->spread_cpus && i < self->tf.nr; i++)
			self->tf.recs[i].cpu = i % variant->spread_cpus;
		snprintf(self->trace, sizeof(self->trace), "%s/spread.kmmutrace", self->dir);
		ASSERT_EQ(0, kmmu_trace_file_write(self->trace, self->tf.header, self->tf.recs,
						   self->tf.nr));
	}
}

FIXTURE_TEARDOWN(export)
{
	char cmd[160];

	kmmu_trace_file_free(&self->tf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	system(cmd);
}

/*
 * Runs `kmmu-trace export --dat @out @trace`, its stderr into @err (one
 * line at most is kept, and whether there were more); its exit status.
 */
static int export(struct _test_data_export *self, const char *out, const char *trace,
		  char *err, size_t err_len, int *nr_lines)
{
	char cmd[3 * PATH_MAX], log[128];
	int status;
	FILE *f;

	snprintf(log, sizeof(log), "%s/stderr", self->dir);
	snprintf(cmd, sizeof(cmd), "timeout 60 '%s' export --dat '%s' '%s' >/dev/null 2>'%s'",
		 self->tool, out, trace, log);
	status = system(cmd);
	*nr_lines = 0;
	err[0] = '\0';
	f = fopen(log, "r");
	if (f) {
		char line[1024];

		while (fgets(line, sizeof(line), f))
			if (!(*nr_lines)++)
				snprintf(err, err_len, "%s", line);
		fclose(f);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Files in the test's directory whose name starts with @prefix. */
static int count_files(struct _test_data_export *self, const char *prefix)
{
	struct dirent *de;
	DIR *d = opendir(self->dir);
	int nr = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		nr += !strncmp(de->d_name, prefix, strlen(prefix));
	closedir(d);
	return nr;
}

/* The .dat of the fixture, written by the tool. */
static void export_fixture(struct __test_metadata *_metadata, struct _test_data_export *self)
{
	char err[1024];
	int lines;

	ASSERT_EQ(0, export(self, self->dat, self->trace, err, sizeof(err), &lines)) {
		TH_LOG("%s", err);
	}
	ASSERT_EQ(1, count_files(self, "out.dat"));	/* no temp file left */
}

/* The value of field @f of record @r. */
static unsigned long long field_of(const struct kmmu_trace_record *r, const struct kmmu_event_field *f)
{
	unsigned long long v = 0;

	memcpy(&v, (const char *)r + f->off, f->size);
	return v;
}

/* An event as libtracecmd reads it from a .dat. */
struct dat_event {
	uint64_t ts;
	int cpu, pid;
	char system[32], name[64];	/* "" when no format describes it */
	unsigned long long val[KMMU_EVENT_MAX_FIELDS];
	bool has[KMMU_EVENT_MAX_FIELDS];
};

struct dat_events {
	struct dat_event *e;
	size_t nr, cap;
};

/* tracecmd_iterate_events(): every event, in time order across the CPUs. */
static int collect(struct tracecmd_input *in, struct tep_record *rec, int cpu, void *ctx)
{
	struct tep_handle *tep = tracecmd_get_tep(in);
	struct dat_events *all = ctx;
	const struct kmmu_event_spec *spec;
	struct tep_event *ev = tep_find_event_by_record(tep, rec);
	struct dat_event *e;

	if (all->nr == all->cap) {
		all->cap = all->cap ? 2 * all->cap : 1024;
		all->e = realloc(all->e, all->cap * sizeof(*all->e));
		if (!all->e)
			return -1;
	}
	e = &all->e[all->nr++];
	memset(e, 0, sizeof(*e));
	e->ts = rec->ts;
	e->cpu = cpu;
	e->pid = tep_data_pid(tep, rec);
	if (!ev)
		return 0;
	snprintf(e->system, sizeof(e->system), "%s", ev->system);
	snprintf(e->name, sizeof(e->name), "%s", ev->name);
	spec = kmmu_trace_dat_spec(ev->id);
	for (int f = 0; spec && f < KMMU_EVENT_MAX_FIELDS && spec->fields[f].name; f++)
		e->has[f] = !tep_get_field_val(NULL, ev, spec->fields[f].name, rec, &e->val[f], 0);
	return 0;
}

/* Every event of the .dat at @path, through libtracecmd; -1 if it cannot open it. */
static int read_dat(const char *path, struct dat_events *all)
{
	struct tracecmd_input *in = tracecmd_open(path, 0);

	memset(all, 0, sizeof(*all));
	if (!in)
		return -1;
	tracecmd_iterate_events(in, NULL, 0, collect, all);
	tracecmd_close(in);
	return 0;
}

/*
 * libtracecmd reads back every record in order: event name, CPU, pid,
 * timestamp, and each field the record keeps, read through the event
 * format the .dat carries.
 */
TEST_F(export, libtracecmd_reads_every_record)
{
	struct dat_events all;

	export_fixture(_metadata, self);
	ASSERT_EQ(0, read_dat(self->dat, &all));
	ASSERT_EQ(self->tf.nr, all.nr);
	for (uint64_t i = 0; i < all.nr; i++) {
		const struct kmmu_trace_record *r = &self->tf.recs[i];
		const struct kmmu_event_spec *spec = kmmu_trace_dat_spec(r->type);
		const struct dat_event *e = &all.e[i];

		ASSERT_NE(NULL, spec);
		EXPECT_STREQ(spec->system, e->system);
		EXPECT_STREQ(spec->name, e->name);
		EXPECT_EQ(r->cpu, e->cpu);
		EXPECT_EQ(r->ts, e->ts);
		EXPECT_EQ(r->pid, e->pid);
		for (int f = 0; f < KMMU_EVENT_MAX_FIELDS && spec->fields[f].name; f++) {
			const struct kmmu_event_field *fs = &spec->fields[f];
			unsigned long long v = e->val[f];

			EXPECT_TRUE(e->has[f]) {
				TH_LOG("%s:%s has no field %s", spec->system, spec->name, fs->name);
			}
			if (fs->size < 8)
				v &= (1ull << 8 * fs->size) - 1;
			EXPECT_EQ(field_of(r, fs), v) {
				TH_LOG("record %" PRIu64 " %s.%s", i, spec->name, fs->name);
			}
		}
		if (!_metadata->passed)
			break;
	}
	free(all.e);
}

/*
 * One line of trace-cmd report -t: "COMM-PID [CPU] SEC.NSEC: EVENT: ...";
 * 0 with its parts, -1 for a line that is no event (the header).
 */
static int parse_report_line(const char *line, int *pid, unsigned int *cpu, uint64_t *ts,
			     char *event, size_t event_len)
{
	const char *open = strstr(line, " [");
	const char *dash;
	unsigned long long sec, nsec;
	char name[128];
	int frac_len = 0;

	if (!open)
		return -1;
	for (dash = open; dash > line && dash[-1] != '-'; dash--)
		;
	if (dash == line || sscanf(dash, "%d", pid) != 1)
		return -1;
	if (sscanf(open, " [%u] %llu.%n", cpu, &sec, &frac_len) != 2 || !frac_len)
		return -1;
	if (sscanf(open + frac_len, "%llu: %127[^:]:", &nsec, name) != 2)
		return -1;
	*ts = sec * 1000000000ull + nsec;
	snprintf(event, event_len, "%s", name);
	return 0;
}

/* trace-cmd report prints every record with its CPU, pid and timestamp. */
TEST_F(export, trace_cmd_report_shows_every_record)
{
	char cmd[PATH_MAX + 256], line[4096], event[128];
	uint64_t i = 0, ts;
	unsigned int cpu;
	FILE *report;
	int pid, status;

	if (access(TRACE_CMD, X_OK))
		SKIP(return, "no %s (Debian package trace-cmd)", TRACE_CMD);
	export_fixture(_metadata, self);
	/* -t: full timestamps (ns), not rounded to microseconds */
	snprintf(cmd, sizeof(cmd), "%s report -t -i '%s' 2>&1", TRACE_CMD, self->dat);
	report = popen(cmd, "r");
	ASSERT_NE(NULL, report);
	while (fgets(line, sizeof(line), report)) {
		const struct kmmu_event_spec *spec;
		const struct kmmu_trace_record *r;
		const char *name;

		if (parse_report_line(line, &pid, &cpu, &ts, event, sizeof(event)))
			continue;
		if (i >= self->tf.nr) {
			i++;
			continue;
		}
		r = &self->tf.recs[i++];
		spec = kmmu_trace_dat_spec(r->type);
		name = spec ? spec->name : NULL;
		EXPECT_TRUE(name && !strcmp(name, event) && r->cpu == cpu && r->ts == ts &&
			    r->pid == pid) {
			TH_LOG("record %" PRIu64 ": %s cpu %u pid %d ts %" PRIu64
			       "; trace-cmd report: %s", i - 1, name, r->cpu, r->pid, r->ts, line);
			break;
		}
	}
	status = pclose(report);
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	EXPECT_EQ(self->tf.nr, i);
}

/* A trace with a corrupt record: one line, exit 2, no .dat, no temp file. */
TEST_F(export, corrupt_trace_leaves_nothing)
{
	char bad[128], err[1024];
	int lines;
	struct kmmu_trace_record *r;

	snprintf(bad, sizeof(bad), "%s/bad.kmmutrace", self->dir);
	r = &self->tf.recs[self->tf.nr / 2];
	r->type = 0xffff;	/* no record type */
	ASSERT_EQ(0, kmmu_trace_file_write(bad, self->tf.header, self->tf.recs, self->tf.nr));
	EXPECT_EQ(2, export(self, self->dat, bad, err, sizeof(err), &lines));
	EXPECT_EQ(1, lines) {
		TH_LOG("%d lines: %s", lines, err);
	}
	EXPECT_NE(NULL, strstr(err, "unknown type")) {
		TH_LOG("%s", err);
	}
	EXPECT_EQ(0, count_files(self, "out.dat"));

	/* Truncated inside the records. */
	ASSERT_EQ(0, truncate(bad, 300));
	EXPECT_EQ(2, export(self, self->dat, bad, err, sizeof(err), &lines));
	EXPECT_EQ(1, lines);
	EXPECT_NE(NULL, strstr(err, "truncated"));
	EXPECT_EQ(0, count_files(self, "out.dat"));
}

/* An output that cannot be written: one line naming it, exit 2, nothing left. */
TEST_F(export, unwritable_output_leaves_nothing)
{
	char out[192], err[1024];
	int lines;

	snprintf(out, sizeof(out), "%s/no-such-dir/out.dat", self->dir);
	EXPECT_EQ(2, export(self, out, self->trace, err, sizeof(err), &lines));
	EXPECT_EQ(1, lines);
	EXPECT_NE(NULL, strstr(err, out)) {
		TH_LOG("%s", err);
	}
	/* An existing .dat is replaced whole or not at all: a directory in its way. */
	ASSERT_EQ(0, mkdir(self->dat, 0755));
	EXPECT_EQ(2, export(self, self->dat, self->trace, err, sizeof(err), &lines));
	EXPECT_EQ(1, lines);
	EXPECT_EQ(1, count_files(self, "out.dat"));	/* the directory, no temp file */
}

/* The library refuses what no .dat can hold, before it creates a file. */
TEST_F(export, library_refuses_bad_records)
{
	struct kmmu_trace_record recs[2] = {
		{ .ts = 10, .type = KMMU_EV_SET_SPTE, .cpu = KMMU_DAT_MAX_CPUS },
		{ .ts = 5, .type = KMMU_EV_SET_SPTE },
	};
	struct dat_events all;
	char err[256];

	EXPECT_EQ(-EINVAL, kmmu_trace_dat_write(self->dat, recs, 1, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "cpu 8192"));
	recs[0].cpu = 1;
	EXPECT_EQ(-EINVAL, kmmu_trace_dat_write(self->dat, recs, 2, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "backwards"));
	recs[1].type = KMMU_REC_NONE;
	recs[1].ts = 20;
	EXPECT_EQ(-EINVAL, kmmu_trace_dat_write(self->dat, recs, 2, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "no trace-cmd event"));
	EXPECT_EQ(0, count_files(self, "out.dat"));
	/* A gap wider than a ring-buffer delta (27 bits of ns) survives. */
	recs[1].type = KMMU_EV_SET_SPTE;
	recs[1].ts = 10 + (5ull << 27) + 3;
	recs[1].cpu = 1;
	recs[1].set_spte.gfn = 0x1234;
	ASSERT_EQ(0, kmmu_trace_dat_write(self->dat, recs, 2, err, sizeof(err)));
	ASSERT_EQ(0, read_dat(self->dat, &all));
	ASSERT_EQ(2, all.nr);
	EXPECT_EQ(10, all.e[0].ts);
	EXPECT_EQ(recs[1].ts, all.e[1].ts);
	EXPECT_EQ(1, all.e[1].cpu);
	EXPECT_TRUE(all.e[1].has[0]);
	EXPECT_EQ(0x1234, all.e[1].val[0]);	/* gfn */
	free(all.e);
}

TEST_HARNESS_MAIN
