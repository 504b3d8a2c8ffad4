/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kselftest-harness side of a benchmark (selftests/NAME_perf_test.c):
 * its fixture and the lines it prints before the harness runs.  A header
 * of macros and inlines, not part of libkmmukvm.a, because the harness is
 * itself a header whose state (TAP counters, the test registry) lives in
 * the benchmark's own file; include it after kselftest_harness.h.
 *
 * The work is in kmmu/bench.h's kmmu_bench_begin(), _end() and _finish(),
 * which the library's unit tests exercise.
 */
#ifndef KMMU_BENCH_HARNESS_H
#define KMMU_BENCH_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "kmmu/bench.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/result.h"

/*
 * FIXTURE(@name) for a benchmark whose options are @bench (a struct
 * kmmu_bench) and whose results are @prog's: without KVM the test is
 * skipped; otherwise the setup starts the run (result, hygiene baseline)
 * and the teardown fails the test if the host went bad, prints the noise
 * summary and writes the result file.
 */
#define KMMU_BENCH_FIXTURE(name, bench, prog)					\
	FIXTURE(name) {								\
		struct kmmu_test_run run;					\
	};									\
	FIXTURE_SETUP(name)							\
	{									\
		KMMU_TEST_REQUIRE_KVM();					\
		kmmu_bench_begin(&(bench), &self->run, (prog));			\
	}									\
	FIXTURE_TEARDOWN(name)							\
	{									\
		if (!self->run.started)						\
			return;							\
		KMMU_TEST_END(&self->run);					\
		if (kmmu_bench_finish(&(bench), &self->run, (prog),		\
				      _metadata->passed))			\
			TH_LOG("could not write the result file");		\
	}

/*
 * What main() prints before the harness runs: the TAP header and
 * "# PROG: HOST; " followed by @fmt (the benchmark's settings).  Returns 0
 * if /dev/kvm opens, else -1 with the reason in @why: the caller then
 * exits with ksft_exit_skip(), which must count in its own file.
 */
static inline __attribute__((format(printf, 4, 5)))
int kmmu_bench_header(const char *prog, char *why, size_t len, const char *fmt, ...)
{
	struct kmmu_host host;
	char line[256], settings[512];
	va_list ap;
	int ret;

	ret = kmmu_host_probe_kvm(&host, why, len);
	kmmu_host_format_line(&host, line, sizeof(line));
	va_start(ap, fmt);
	vsnprintf(settings, sizeof(settings), fmt, ap);
	va_end(ap);
	kmmu_test_header(prog, "%s; %s", line, settings);
	return ret;
}

/*
 * kmmu_bench_header() in main(), or the kselftest SKIP (exit 4) with the
 * reason: a macro, so that ksft_exit_skip() counts in the benchmark's own
 * file.
 */
#define KMMU_BENCH_HEADER(prog, fmt, ...)					\
	do {									\
		char _why[256];							\
										\
		if (kmmu_bench_header((prog), _why, sizeof(_why), fmt,		\
				      ##__VA_ARGS__))				\
			ksft_exit_skip("%s\n", _why);				\
	} while (0)

#endif
