// SPDX-License-Identifier: GPL-2.0
/*
 * The run of one real-KVM test: setup and teardown around the test's own
 * work (see kmmu/test_run.h).
 */
#include <errno.h>
#include <stdio.h>

#include "kmmu/bench.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/result.h"
#include "kmmu/test_run.h"
#include "kmmu/trace_log.h"
#include "kmmu/trace_session.h"

void kmmu_test_run_start(struct kmmu_test_run *run, const char *result_name)
{
	run->t0 = kmmu_now();
	run->res = result_name ? kmmu_result_new(result_name) : NULL;
	kmmu_hygiene_begin(&run->hyg);
	run->started = true;
}

void kmmu_test_log_memslot(void *ctx, uint64_t issued_ns, uint32_t slot, uint32_t flags,
			   uint64_t gpa, uint64_t size, uint64_t hva, int ret)
{
	kmmu_trace_action_memslot(ctx, issued_ns, slot, flags, gpa, size, hva, ret);
}

void kmmu_test_log_dirty_log(void *ctx, uint64_t issued_ns, enum kmmu_dirty_log_ioctl which,
			     uint32_t slot, uint64_t first_page, uint32_t num_pages, int ret)
{
	struct kmmu_trace_record r;

	if (which == KMMU_DIRTY_LOG_PROTECT_CAP)
		kmmu_rec_protect_cap(&r, 0, issued_ns, first_page, ret);
	else
		kmmu_rec_dirty_log(&r, which == KMMU_DIRTY_LOG_GET ? KMMU_ACT_GET_DIRTY_LOG :
				   KMMU_ACT_CLEAR_DIRTY_LOG, 0, issued_ns, slot, first_page,
				   num_pages, ret);
	kmmu_trace_log_append(ctx, &r);
}

void kmmu_test_run_trace(struct kmmu_test_run *run, const char *name, struct kmmu_vm_opts *vo,
			 char *err, size_t len)
{
	run->trace = kmmu_trace_session_start(name, err, len);
	if (!run->trace) {
		/* ksft_print_msg()'s form: this file is not the harness's. */
		printf("# checking against the reference: off (%s)\n", err);
		return;
	}
	if (vo) {
		vo->memslot_hook = kmmu_test_log_memslot;
		vo->memslot_hook_ctx = kmmu_trace_session_log(run->trace);
		vo->dirty_log_hook = kmmu_test_log_dirty_log;
		vo->dirty_log_hook_ctx = kmmu_trace_session_log(run->trace);
	}
	printf("# checking against the reference: on\n");
}

int kmmu_test_run_check_result(struct kmmu_test_run *run, struct kmmu_check_result *res)
{
	int r;

	if (!run->trace)
		return 0;
	r = kmmu_trace_session_finish(run->trace, res);
	run->trace = NULL;
	return r;
}

int kmmu_test_run_check(struct kmmu_test_run *run)
{
	return kmmu_test_run_check_result(run, NULL);
}

int kmmu_test_run_end(struct kmmu_test_run *run, char *report, size_t len)
{
	if (len)
		report[0] = 0;
	if (!run->started)
		return 0;
	kmmu_vm_destroy(run->vm);
	run->vm = NULL;
	/* Before the hygiene check: its kernel log scan is not part of the run. */
	run->dur = kmmu_now() - run->t0;
	return kmmu_hygiene_end(&run->hyg, report, len);
}

int kmmu_test_run_finish(struct kmmu_test_run *run, const char *name, bool passed,
			 const char *path)
{
	int r = 0;

	if (!run->res)
		return 0;
	kmmu_result_test(run->res, name, passed ? KMMU_TEST_PASS : KMMU_TEST_FAIL, run->dur,
			 passed ? NULL : "see TAP output");
	if (kmmu_result_write(run->res, path))
		r = -EIO;
	kmmu_result_free(run->res);
	run->res = NULL;
	return r;
}

int kmmu_test_metric(struct kmmu_result *res, const char *name, double v, const char *unit,
		     enum kmmu_direction dir)
{
	return kmmu_result_metric(res, name, unit, dir, &v, 1);
}
