/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture layer of kmmu's real-KVM tests (selftests/NAME_test.c): the
 * one place that knows how a test's run meets the kselftest harness.  A
 * header of macros and inlines, not part of libkmmukvm.a, because the
 * harness is itself a header whose state (TAP counters, the test registry)
 * lives in the test's own file; include it after kselftest_harness.h.
 *
 * A test's fixture holds a struct kmmu_test_run (kmmu/test_run.h: the VM,
 * the hygiene baseline, the checker's trace session, the result) next to
 * its own state:
 *
 *	FIXTURE_SETUP(x)	{ KMMU_TEST_SETUP(&self->run, "x_test"); ... }
 *	FIXTURE_TEARDOWN(x)	{ ...; KMMU_TEST_END(&self->run);
 *				  ... statistics, metrics ...;
 *				  KMMU_TEST_FINISH(&self->run, "x_test", path); }
 *	KMMU_TEST_F(x, run, 90)	{ kmmu_test_run_trace(&self->run, "x_test", &vo, ...);
 *				  ... the test ...;
 *				  KMMU_TEST_CHECK(&self->run); }
 *
 * and its main() parses its options (kmmu_run_parse(), kmmu/opts.h: the
 * shared ones, --result and -h there, its own in a struct kmmu_opt table),
 * prints kmmu_test_header() and, if the test's duration depends on them,
 * sets KMMU_TEST_TIMEOUT() before test_harness_run().  In the test, the
 * runtime's asserting calls (kmmu_vm_create() and the others below) fail
 * it with the reason; their __ forms (kmmu/kvm_vm.h) return -errno.
 *
 * What this header knows of the harness beyond its documented macros, and
 * nothing else in kmmu does: _metadata->skip (KMMU_TEST_F), the registry
 * entry's timeout (KMMU_TEST_TIMEOUT), _metadata->passed (the verdict),
 * and KSFT_TAP_LEVEL, the kselftest runner's own switch for nested TAP.
 */
#ifndef KMMU_KVM_TEST_HARNESS_H
#define KMMU_KVM_TEST_HARNESS_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmmu/kvm_vm.h"
#include "kmmu/test_run.h"
#include "kmmu/trace_session.h"

/*
 * TEST_F_TIMEOUT() whose body runs only if the setup did not SKIP: the
 * 6.1 harness runs the body after a SKIP in the setup (later harnesses
 * do not, and there the check costs nothing).
 */
#define KMMU_TEST_F(fixture, test, timeout)					\
	static void kmmu_test_##fixture##_##test(				\
		struct __test_metadata *_metadata, FIXTURE_DATA(fixture) *self,	\
		const FIXTURE_VARIANT(fixture) *variant);			\
	TEST_F_TIMEOUT(fixture, test, timeout)					\
	{									\
		if (!_metadata->skip)						\
			kmmu_test_##fixture##_##test(_metadata, self, variant);	\
	}									\
	static void kmmu_test_##fixture##_##test(				\
		struct __test_metadata __attribute__((unused)) *_metadata,	\
		FIXTURE_DATA(fixture) __attribute__((unused)) *self,		\
		const FIXTURE_VARIANT(fixture) __attribute__((unused)) *variant)

/*
 * Sets the timeout of @fixture's test @test to @seconds, from main()
 * before test_harness_run(): for a test whose duration its options set
 * (-d, the number of rounds), which TEST_F_TIMEOUT()'s constant cannot
 * know.  The harness has no call for it, so this names its registry
 * entry; nothing else in kmmu does.
 */
#define KMMU_TEST_TIMEOUT(fixture, test, seconds)				\
	(_##fixture##_##test##_object.timeout = (seconds))

/* In FIXTURE_SETUP(): SKIPs the test with the reason if /dev/kvm does not open. */
#define KMMU_TEST_REQUIRE_KVM()							\
	do {									\
		char __kmmu_why[256];						\
		int __kmmu_fd = kmmu_kvm_open(__kmmu_why, sizeof(__kmmu_why));	\
										\
		if (__kmmu_fd < 0)						\
			SKIP(return, "%s", __kmmu_why);				\
		close(__kmmu_fd);						\
	} while (0)

/*
 * In FIXTURE_SETUP(): starts @run (with a result for @result_name, NULL
 * for none), or SKIPs the test when /dev/kvm does not open.
 */
#define KMMU_TEST_SETUP(run, result_name)					\
	do {									\
		KMMU_TEST_REQUIRE_KVM();					\
		kmmu_test_run_start((run), (result_name));			\
	} while (0)

/*
 * In FIXTURE_TEARDOWN(), first: aborts a trace session the test did not
 * finish (the run failed before its check), destroys the VM, and fails
 * the test if the host went bad during the run (kmmu_test_run_end()).
 */
#define KMMU_TEST_END(run)							\
	do {									\
		char __kmmu_report[1024];					\
										\
		kmmu_trace_session_abort((run)->trace);				\
		(run)->trace = NULL;						\
		if (kmmu_test_run_end((run), __kmmu_report,			\
				      sizeof(__kmmu_report))) {			\
			TH_LOG("host hygiene: %s", __kmmu_report);		\
			_metadata->passed = 0;					\
		} else if (__kmmu_report[0]) {					\
			TH_LOG("host hygiene: %s", __kmmu_report);		\
		}								\
	} while (0)

/*
 * In the test, at its end: fails it if the checker found the kernel's
 * events diverging from the reference, or could not judge them (events
 * lost, the replay refused: kmmu_test_run_check()); nothing to judge
 * without a session.
 */
#define KMMU_TEST_CHECK(run)							\
	do {									\
		if ((run)->trace) {						\
			ASSERT_EQ(0, kmmu_test_run_check(run))			\
				TH_LOG("the checker found the kernel's MMU events"	\
				       " diverging from the reference, or could not"	\
				       " judge them (see its lines above)");	\
		}								\
	} while (0)

/*
 * In FIXTURE_TEARDOWN(), last: the test entry @name with the verdict and
 * the result file @path ($KMMU_RESULT if NULL), if the run has a result.
 */
#define KMMU_TEST_FINISH(run, name, path)					\
	do {									\
		if (kmmu_test_run_finish((run), (name), _metadata->passed, (path))) \
			TH_LOG("could not write the result file");		\
	} while (0)

/*
 * The runtime's asserting calls (the kernel's KVM selftests' two tiers:
 * vm_ioctl() asserts, __vm_ioctl() returns): for a test's body, its setup
 * and the helpers that take its _metadata, on the test's own thread.  A
 * failure fails the test there (ASSERT) with what went wrong.  The __
 * forms in kmmu/kvm_vm.h return 0 or -errno, for code that handles the
 * error, runs on another thread or in a file without the harness.  The
 * arguments may be evaluated twice.
 */
/*
 * The asserting form of any call whose last two parameters are a message
 * buffer (char *err, size_t len) and that returns 0 or -errno, the
 * runtime's or a test's own: KMMU_ASSERT_CALL(hm_quit, c) fails the test
 * with the message unless hm_quit(c, err, len) returned 0.
 */
#define KMMU_ASSERT_CALL(fn, ...)						\
	do {									\
		char __kmmu_err[1024] = "";					\
										\
		ASSERT_EQ(0, fn(__VA_ARGS__, __kmmu_err, sizeof(__kmmu_err)))	\
			TH_LOG("%s", __kmmu_err);				\
	} while (0)

#define kmmu_vm_create(vmp, opts)						\
	do {									\
		char __kmmu_err[512];						\
										\
		ASSERT_EQ(0, __kmmu_vm_create((vmp), (opts), __kmmu_err,	\
					      sizeof(__kmmu_err)))		\
			TH_LOG("creating the VM: %s", __kmmu_err);		\
	} while (0)

#define kmmu_slot_add(vm, slot, gpa, size, hva, flags)				\
	do {									\
		int __kmmu_r = __kmmu_slot_add((vm), (slot), (gpa), (size),	\
					       (hva), (flags));			\
										\
		ASSERT_EQ(0, __kmmu_r)						\
			TH_LOG("memslot %u at gpa %#llx, %#llx bytes: %s",	\
			       (unsigned int)(slot), (unsigned long long)(gpa),	\
			       (unsigned long long)(size), strerror(-__kmmu_r));	\
	} while (0)

#define kmmu_vm_map(vm, gva, gpa, size, flags)					\
	do {									\
		int __kmmu_r = __kmmu_vm_map((vm), (gva), (gpa), (size), (flags)); \
										\
		ASSERT_EQ(0, __kmmu_r)						\
			TH_LOG("mapping gva %#llx to gpa %#llx, %#llx bytes: %s", \
			       (unsigned long long)(gva), (unsigned long long)(gpa), \
			       (unsigned long long)(size), strerror(-__kmmu_r));	\
	} while (0)

#define kmmu_vm_start(vm, fn, arg)						\
	do {									\
		int __kmmu_r = __kmmu_vm_start((vm), (fn), (arg));		\
										\
		ASSERT_EQ(0, __kmmu_r)						\
			TH_LOG("starting the vCPUs: %s", strerror(-__kmmu_r));	\
	} while (0)

/* Until every vCPU finished its guest function; on failure, what they said. */
#define kmmu_vm_wait(vm, timeout_s)						\
	do {									\
		int __kmmu_r = __kmmu_vm_wait((vm), (timeout_s));		\
										\
		ASSERT_EQ(0, __kmmu_r)						\
			TH_LOG("%s%s", __kmmu_r == -ETIMEDOUT ?			\
			       "vCPUs did not finish: " : "",			\
			       kmmu_vm_errors(vm)[0] ? kmmu_vm_errors(vm) :	\
			       strerror(-__kmmu_r));				\
	} while (0)

/* In FIXTURE_TEARDOWN(): whether the test passed (so far: a SKIP passes). */
#define KMMU_TEST_PASSED()	(_metadata->passed)

/*
 * What main() prints before the harness runs: the TAP header, then
 * "# PROG: " and @fmt (the test's settings; the seed always).  The
 * harness prints its header unless KSFT_TAP_LEVEL is set, as the
 * kselftest runner sets it for nested TAP: so set here, once printed.
 */
static inline void kmmu_test_vheader(const char *prog, const char *fmt, va_list ap)
{
	ksft_print_header();
	setenv("KSFT_TAP_LEVEL", "1", 1);
	printf("# %s: ", prog);
	vprintf(fmt, ap);
	printf("\n");
}

static inline __attribute__((format(printf, 2, 3)))
void kmmu_test_header(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kmmu_test_vheader(prog, fmt, ap);
	va_end(ap);
}

#endif
