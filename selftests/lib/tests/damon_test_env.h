/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where the DAMON driver's tests (damon_test.c, damon_fakefs_test.c,
 * damon_sigint_test.c) run it: a locked buffer whose pages are DAMON's
 * physical regions, a fake DAMON sysfs tree (KMMU_DAMON_SYSFS) whose
 * "kernel" is a thread answering state writes.  The SIGKILL case that
 * needs the harness is damon_sigkill_case.h.
 */
#ifndef KMMU_TESTS_DAMON_TEST_ENV_H
#define KMMU_TESTS_DAMON_TEST_ENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "kmmu/damon.h"

#define MIB		(1024UL * 1024)
#define BUF_BYTES	(16 * MIB)
#define MAX_RANGES	8192
#define MAX_REGIONS	(2 * MAX_RANGES + 64)

/* @len bytes of touched, mlocked 4K pages that do not move (NULL: mmap failed). */
void *map_locked(size_t len);
/* The first line of @path into @buf; 0 or -errno. */
int read_file(const char *path, char *buf, size_t len);
/* @val as the whole of @path (created); 0 or -errno. */
int write_file(const char *path, const char *val);

/* A fake DAMON sysfs tree under /tmp: kdamond 0 with one context, target, scheme. */
struct fake {
	char root[64];
	char kd[128];
	pthread_t thread;
	int ifd;
	volatile int stop;
};

/* What DAMON would have found: start, end, nr_accesses, age. */
extern const unsigned long fake_tried_regions[3][4];
/* How kernels name the region directories of a first update. */
extern const int fake_names_6_2[3];	/* 6.2 - 6.13 */
extern const int fake_names_6_14[3];	/* 6.14 - 7.1 */
extern const int fake_names_6_18[3];	/* with the 2026 stable fix */

/* @rel under the tree: a file holding @content, or a directory if NULL. */
void fake_mk(struct fake *f, const char *rel, const char *content);
void fake_tried(struct fake *f, const unsigned long (*reg)[4], const int *names,
		int n, const char *total);
/* The first line of @rel ("" if it cannot be read). */
void fake_get(struct fake *f, const char *rel, char *buf, size_t len);
/* Lays the tree out, starts its kernel thread, sets KMMU_DAMON_SYSFS (root[0] 0: failed). */
void fake_setup(struct fake *f);
void fake_teardown(struct fake *f);

#endif /* KMMU_TESTS_DAMON_TEST_ENV_H */
