/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The run of one real-KVM test or benchmark, from its fixture's setup to
 * its teardown: what every such test owns besides its own state.
 *
 * The setup starts the run once /dev/kvm opens (else the test SKIPs): it
 * takes the host hygiene baseline, starts the clock and, for a test that
 * writes a result file, creates the result.  The teardown ends it in two
 * halves, with the test's own teardown (its statistics, printing and
 * metrics) in between: kmmu_test_run_end() destroys the VM and judges the
 * host (a host that got tainted or logged a kernel error fails the test),
 * kmmu_test_run_finish() records the verdict and writes the result file.
 *
 * kmmu/kvm_test_harness.h wraps these for the kselftest harness; they do
 * not depend on it, so the library's unit tests exercise them directly.
 */
#ifndef KMMU_TEST_RUN_H
#define KMMU_TEST_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/result.h"

struct kmmu_check_result;
struct kmmu_result;
struct kmmu_trace_session;
struct kmmu_vm;
struct kmmu_vm_opts;

struct kmmu_test_run {
	struct kmmu_hygiene hyg;
	bool started;			/* setup got past the KVM check */
	double t0, dur;			/* seconds, CLOCK_MONOTONIC */
	struct kmmu_vm *vm;		/* destroyed by kmmu_test_run_end() */
	/*
	 * The checker's session; the test clears it once it finished the
	 * check.  Still set at the teardown, the run failed before: the
	 * harness header aborts it (the tracing library is not ours to call).
	 */
	struct kmmu_trace_session *trace;
	struct kmmu_result *res;	/* NULL: no result file */
};

/*
 * Setup, once KVM is known to open: the clock, the hygiene baseline and,
 * if @result_name, run->res, a result for the program @result_name.
 */
void kmmu_test_run_start(struct kmmu_test_run *run, const char *result_name);

/*
 * The checker's session of @run (run->trace), started as @name before the
 * VM: if @vo, the VM it creates logs its memslot and dirty-log ioctls into
 * the session (vo->memslot_hook, vo->dirty_log_hook; a test with hooks of
 * its own passes NULL and logs them itself).  Prints whether the run is
 * checked against the reference; checking off (run->trace NULL), @err
 * says why.
 */
void kmmu_test_run_trace(struct kmmu_test_run *run, const char *name, struct kmmu_vm_opts *vo,
			 char *err, size_t len);

/*
 * The checker's verdict on the run: finishes run->trace (the replay, its
 * lines, a saved trace on divergence) and clears it.  0 if it agreed or
 * there was no session, else nonzero as kmmu_trace_session_finish().
 */
int kmmu_test_run_check(struct kmmu_test_run *run);

/*
 * kmmu_test_run_check(), also filling @res (kmmu/checker.h): for a test
 * that requires a property to have been judged, not only not violated.
 */
int kmmu_test_run_check_result(struct kmmu_test_run *run, struct kmmu_check_result *res);

/* A memslot hook (kmmu_memslot_hook_fn) whose @ctx is a struct kmmu_trace_log. */
void kmmu_test_log_memslot(void *ctx, uint64_t issued_ns, uint32_t slot, uint32_t flags,
			   uint64_t gpa, uint64_t size, uint64_t hva, int ret);
/* A dirty-log hook (kmmu_dirty_log_hook_fn) whose @ctx is a struct kmmu_trace_log. */
void kmmu_test_log_dirty_log(void *ctx, uint64_t issued_ns, enum kmmu_dirty_log_ioctl which,
			     uint32_t slot, uint64_t first_page, uint32_t num_pages, int ret);

/*
 * Teardown, first half: destroys run->vm (before the kernel log is read:
 * its teardown is part of the run), takes the run's duration, and returns
 * the hygiene verdict as kmmu_hygiene_end() gives it (1 if the host went
 * bad; @report says why, and may say something even when it returns 0).
 * 0 with an empty @report if the run never started.
 */
int kmmu_test_run_end(struct kmmu_test_run *run, char *report, size_t len);

/*
 * Teardown, second half: if run->res, the test entry @name (pass or fail
 * as @passed says, with the run's duration), the result file (@path, or
 * $KMMU_RESULT if NULL), and freeing run->res.  -EIO if the file could not
 * be written.
 */
int kmmu_test_run_finish(struct kmmu_test_run *run, const char *name, bool passed,
			 const char *path);

/*
 * A test's metric: one value @v, not a benchmark's samples (no noise
 * verdict).  0 or -errno as kmmu_result_metric().
 */
int kmmu_test_metric(struct kmmu_result *res, const char *name, double v, const char *unit,
		     enum kmmu_direction dir);

#endif
