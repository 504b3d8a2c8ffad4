/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Result files: one JSON document per run, schema "kmmu-result/1"
 * (DESIGN.md "Result files"), written atomically (temp file + rename).
 *
 * A program collects tests and metrics into a struct kmmu_result and writes
 * it with kmmu_result_write().  ci/kmmu-run merges the documents of all
 * programs of a run into one file.  The path comes from the program's
 * --result option or, when it runs under ci/kmmu-run, from $KMMU_RESULT.
 *
 * The writer probes nothing: the host block is the description it is given
 * (struct kmmu_host, filled by the host probe in tracing/, kmmu/host_probe.h,
 * whose kmmu_result_new() is probe + kmmu_result_create()); programs that
 * learn more later (e.g. nr_memslots) set it through kmmu_result_host().
 */
#ifndef KMMU_RESULT_H
#define KMMU_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define KMMU_RESULT_SCHEMA "kmmu-result/1"

enum kmmu_direction {
	KMMU_LOWER_IS_BETTER,
	KMMU_HIGHER_IS_BETTER,
};

enum kmmu_test_status {
	KMMU_TEST_PASS,
	KMMU_TEST_FAIL,
	KMMU_TEST_SKIP,
};

/*
 * What the host is; -1 (or "unknown") where it could not be learned.
 * Filled by the host probe (kmmu/host_probe.h in tracing/).
 */
struct kmmu_host {
	char kernel_release[128];
	char kvm_backend[16];	/* "vmx", "svm", "pvm", "none" */
	bool kvm_available;	/* /dev/kvm could be opened */
	int tdp;		/* two-dimensional paging in use (ept/npt): 1, 0, -1 unknown */
	int tdp_mmu;		/* kvm.tdp_mmu: 1, 0, -1 unknown (moot without tdp) */
	int mmio_caching;	/* 1, 0, -1 unknown */
	long nr_memslots;	/* KVM_CAP_NR_MEMSLOTS, -1 unknown */
	int cpus;
	int numa_nodes;
	unsigned long long memory_bytes;
	char hostname[64];
	/* /proc/cmdline: e.g. transparent_hugepage=, which the emulated VM's timings depend on */
	char kernel_cmdline[256];
};

struct kmmu_result;

/*
 * The host block as a JSON document of its own (kmmu_hostinfo): the same
 * members as in a result file, and "kvm_unavailable_reason" after
 * kvm_available when @unavailable_reason is given and KVM is not.  0 or
 * -EIO.
 */
int kmmu_host_write_json(FILE *f, const struct kmmu_host *host, const char *unavailable_reason);
/* One line "backend=pvm kvm=available tdp_mmu=N mmio_caching=N memslots=32764". */
void kmmu_host_format_line(const struct kmmu_host *host, char *buf, size_t len);

/*
 * @program names the producer ("memslot_churn_test", "ref_bench"); @host
 * (copied) is the host block.  NULL on ENOMEM or without @host.
 */
struct kmmu_result *kmmu_result_create(const char *program, const struct kmmu_host *host);
void kmmu_result_free(struct kmmu_result *res);
struct kmmu_host *kmmu_result_host(struct kmmu_result *res);

/*
 * Parameters of the next metric(s): "key=value" pairs, numbers are
 * recorded as numbers.  kmmu_result_param_reset() clears them.
 */
int kmmu_result_param_int(struct kmmu_result *res, const char *key, long long v);
int kmmu_result_param_str(struct kmmu_result *res, const char *key, const char *v);
void kmmu_result_param_reset(struct kmmu_result *res);

/* A metric with all its samples; the median is computed. Returns 0/-errno. */
int kmmu_result_metric(struct kmmu_result *res, const char *name, const char *unit,
		       enum kmmu_direction dir, const double *samples, int nr_samples);
int kmmu_result_test(struct kmmu_result *res, const char *name,
		     enum kmmu_test_status status, double duration_s, const char *reason);

/*
 * Writes the document to @path (or $KMMU_RESULT if @path is NULL; nothing
 * and 0 if neither is set): temp file in the same directory, fsync, rename.
 * An existing file is only replaced by a complete new one.
 */
int kmmu_result_write(struct kmmu_result *res, const char *path);

/* Summary statistics used by benchmarks to report noise. */
/* A sorted (ascending) copy of @v[0..@n), to free(); NULL if n <= 0 or no memory. */
double *kmmu_sorted_copy(const double *v, int n);
double kmmu_median(const double *v, int n);
double kmmu_cv(const double *v, int n);	/* stddev / mean, 0 for n < 2 */

#endif
