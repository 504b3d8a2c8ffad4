/* SPDX-License-Identifier: GPL-2.0 */
/*
 * aging_test, one program in four files (what it tests and why it is
 * judged so: the head comment of selftests/aging_test.c):
 *
 *   aging_test.c     the harness: the fixture, each variant's verdict on
 *                    what its run measured, the result file, main()
 *   aging/run.c      what both variants share: the guest and its VM, the
 *                    all-process capture of the aging events, the checker
 *   aging/reclaim.c  the reclaim variant's run: zram swap, a memcg, the
 *                    squeeze, and what it took from the hot and cold sets
 *   aging/damon.c    the DAMON variant's run: a kdamond on the guest's
 *                    frames, and the hot and cold sets in its regions
 *
 * The kselftest harness can be in one file of a program only (it defines
 * its runner there), so the variants' runs report a failure as -1 with
 * the reason, a SKIP as AG_RUN_SKIP with the reason, and what they
 * measured in a struct; the verdicts on those numbers are aging_test.c's.
 */
#ifndef KMMU_AGING_H
#define KMMU_AGING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kmmu/damon.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/reclaim.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/test_run.h"
#include "kmmu/trace_capture.h"

#define AG_PAGE		4096ULL
#define AG_MIB		(1024ULL * 1024)
#define AG_READ(x)	(*(volatile __typeof__(x) *)&(x))
#define AG_VALUE(i)	(0x5a00000000000000ULL | (uint64_t)(i))

enum ag_driver { AG_DAMON = 1, AG_RECLAIM = 2 };

struct ag_vcpu_shared {
	uint64_t sweeps;	/* guest: passes of its main loop */
	uint64_t pad[7];
};

struct ag_shared {
	uint64_t hot_gva, hot_pages, cold_gva, cold_pages;
	uint64_t nr_vcpus;
	uint64_t control;
	uint64_t hot_done, cold_done;	/* guest: vCPUs past each phase */
	uint64_t stop;			/* host */
	struct ag_vcpu_shared vcpu[KMMU_MAX_VCPUS];
};

/* The command line (aging_test.c's main()). */
struct ag_options {
	int vcpus;
	uint64_t hot_mb, cold_mb;
	unsigned int drivers;
	bool control;
	uint64_t seed;
	const char *result;
	bool invert_one;
	bool idle_hot;		/* injected: the control's guest, judged as a run */
};

extern struct ag_options ag_opts;

/* Per guest page: what the kernel's events said about its hva. */
#define AG_EV_AGED	0x1	/* kvm_age_hva covered it */
#define AG_EV_TESTED	0x2	/* kvm_test_age_hva */
#define AG_EV_UNMAPPED	0x4	/* kvm_unmap_hva_range */
#define AG_EV_UNMAPPED_LATE 0x8	/* ... after the squeeze's first quarter */
#define AG_EV_UNMAPPED_ANY 0x10	/* ... at any time (UNMAPPED: during the squeeze) */

struct ag_events {
	bool captured;		/* complete capture: per-page checks may use it */
	char why[256];		/* if not */
	uint64_t ages, tests, unmaps;	/* events touching guest memory */
	uint64_t unmaps_before;		/* ... unmaps before the squeeze */
	uint64_t all_ages, all_tests, all_unmaps;	/* from every process */
};

/*
 * One variant's run: what the fixture holds besides the report, and what
 * the variants' runs and the teardown share.
 */
struct ag_run {
	struct kmmu_test_run run;	/* the VM, the checker's session (NULL: off) */
	struct kmmu_mem mem;
	struct ag_shared *sh;
	uint64_t sh_gva;
	struct kmmu_trace_capture *cap;		/* the aging events */
	struct kmmu_trace_log log;
	bool log_inited;
	char cap_instance[128];
	struct kmmu_reclaim rc;
	struct kmmu_damon damon;
	bool damon_started;
	char damon_instance[512];	/* its tracefs instance, if any */
	char swap_dev[64];
	char cg_dir[KMMU_UNDO_PATH];
	int zram_id;
	struct kmmu_stats stats;
	bool stats_open;
	uint8_t *evflags;	/* per page */
	uint8_t *expect_hot;	/* per page: the test's expectation */
	uint64_t *pm;		/* pagemap entries, per page */
	struct ag_events ev;
	uint64_t t_squeeze;	/* trace clock: the squeeze began */
	uint64_t t_late;	/* ... its first quarter is over */
};

static inline uint64_t ag_pages(void)
{
	return (ag_opts.hot_mb + ag_opts.cold_mb) * AG_MIB / AG_PAGE;
}

static inline uint64_t ag_hot_pages(void)
{
	return ag_opts.hot_mb * AG_MIB / AG_PAGE;
}

/* A variant's run was skipped: why says why. */
#define AG_RUN_SKIP	1

/* Formats @why and returns -1: a failed step of a variant's run. */
int ag_fail(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * TH_LOG()'s line (to stderr, as the test "run"), for the files without
 * the harness.
 */
#define AG_LOG(fmt, ...)							\
	fprintf(stderr, "# %s:%d:run:" fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__)

/* ---- aging/run.c (what each does: its comment there) ---- */

void ag_guest(uint32_t v, void *arg);
void ag_capture_start(struct ag_run *self);
void ag_capture_finish(struct ag_run *self);
int ag_vm_create(struct ag_run *self, char *err, size_t len);
int ag_vm_start(struct ag_run *self, char *err, size_t len);
int64_t ag_sweeps(struct ag_run *self, uint64_t *min);
int ag_wait_sweeps(struct ag_run *self, uint64_t n, double timeout_s);
int ag_wait_warm(struct ag_run *self, double timeout_s);
int ag_stop_guest(struct ag_run *self);
int ag_check(struct ag_run *self);

/* ---- aging/reclaim.c ---- */

struct ag_res {
	uint64_t present, swapped, none;
};

/* What the reclaim variant's run measured. */
struct ag_reclaim {
	struct ag_res r1[2];		/* hot [0] and cold [1] after the squeeze */
	struct ag_res r2[2];		/* ... at the end */
	uint64_t squeeze_pages;
	uint64_t hot_evicted, hot_evicted_late, hot_aged;
	uint64_t cold_swapped_no_unmap;
	int64_t hot_touched_evicted;	/* see ag_hot_evicted_touched() */
	bool have_p4k;			/* KVM's pages_4k, before and after */
	uint64_t p4k0, p4k1;
	double t_sq;			/* the squeeze took, seconds */
	bool squeeze_ok;		/* else the refused step: */
	char squeeze_why[512];
};

/* The reclaim variant's run: 0, AG_RUN_SKIP or -1, @why saying why. */
int ag_reclaim_run(struct ag_run *self, struct ag_reclaim *out, char *why, size_t len);

/* ---- aging/damon.c ---- */

/* What the DAMON variant's run measured, from its last snapshot. */
struct ag_damon_readings {
	uint64_t hot_bytes, cold_bytes;		/* of the guest memory */
	struct kmmu_damon_summary hs, cs;	/* hot and cold set in DAMON's regions */
	uint64_t bad_regions;			/* cold-only regions seen accessed */
};

/* The DAMON variant's run: 0, AG_RUN_SKIP or -1, @why saying why. */
int ag_damon_run(struct ag_run *self, struct ag_damon_readings *out, char *why, size_t len);

#endif
