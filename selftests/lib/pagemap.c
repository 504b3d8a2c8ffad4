// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/self/pagemap readers: physical ranges and residency; smaps' count
 * of PMD-mapped THPs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmmu/pagemap.h"
#include "kmmu/sort.h"

int kmmu_pagemap_read(const void *addr, size_t npages, uint64_t *out)
{
	long psz = sysconf(_SC_PAGESIZE);
	uintptr_t va = (uintptr_t)addr;
	size_t off = 0, want = npages * sizeof(uint64_t);
	int fd, err = 0;

	if (va % psz)
		return -EINVAL;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < want) {
		ssize_t r = pread(fd, (char *)out + off, want - off,
				  (off_t)(va / psz) * sizeof(uint64_t) + off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			break;
		}
		off += r;
	}
	close(fd);
	return err;
}

int kmmu_phys_ranges_merge(struct kmmu_phys_range *r, int n)
{
	int i, out = 0;

	qsort(r, n, sizeof(*r), kmmu_cmp_u64_key);	/* by start */
	for (i = 0; i < n; i++) {
		if (r[i].end <= r[i].start)
			continue;
		if (out && r[i].start <= r[out - 1].end) {
			if (r[i].end > r[out - 1].end)
				r[out - 1].end = r[i].end;
			continue;
		}
		r[out++] = r[i];
	}
	return out;
}

uint64_t kmmu_phys_ranges_overlap(const struct kmmu_phys_range *r, int n,
				  uint64_t start, uint64_t end)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		uint64_t s = r[i].start > start ? r[i].start : start;
		uint64_t e = r[i].end < end ? r[i].end : end;

		if (e > s)
			sum += e - s;
	}
	return sum;
}

int kmmu_virt_to_phys(const void *addr, size_t len, struct kmmu_phys_range *out, int max)
{
	long psz = sysconf(_SC_PAGESIZE);
	size_t i, npages = (len + psz - 1) / psz;
	struct kmmu_phys_range *tmp;
	uint64_t *pm;
	int n = 0, err;

	if (!npages)
		return 0;
	pm = malloc(npages * sizeof(*pm));
	tmp = malloc(npages * sizeof(*tmp));
	if (!pm || !tmp) {
		err = -ENOMEM;
		goto out;
	}
	err = kmmu_pagemap_read(addr, npages, pm);
	if (err)
		goto out;
	for (i = 0; i < npages; i++) {
		uint64_t pfn = pm[i] & KMMU_PM_PFN_MASK;

		if (!(pm[i] & KMMU_PM_PRESENT)) {
			err = -ENOENT;
			goto out;
		}
		/* Present with PFN 0: the kernel hid it from a non-admin. */
		if (!pfn) {
			err = -EPERM;
			goto out;
		}
		/* Consecutive pages are often physically consecutive: extend. */
		if (n && tmp[n - 1].end == pfn * psz) {
			tmp[n - 1].end += psz;
			continue;
		}
		tmp[n].start = pfn * psz;
		tmp[n].end = (pfn + 1) * psz;
		n++;
	}
	n = kmmu_phys_ranges_merge(tmp, n);
	if (n > max) {
		err = -ENOSPC;
		goto out;
	}
	memcpy(out, tmp, n * sizeof(*tmp));
	err = n;
out:
	free(pm);
	free(tmp);
	return err;
}

int kmmu_residency(const void *addr, size_t len, struct kmmu_residency *r)
{
	long psz = sysconf(_SC_PAGESIZE);
	size_t i, npages = (len + psz - 1) / psz;
	uint64_t *pm = malloc((npages ? npages : 1) * sizeof(*pm));
	int err;

	memset(r, 0, sizeof(*r));
	if (!pm)
		return -ENOMEM;
	err = kmmu_pagemap_read(addr, npages, pm);
	for (i = 0; !err && i < npages; i++) {
		if (pm[i] & KMMU_PM_PRESENT)
			r->present++;
		else if (pm[i] & KMMU_PM_SWAPPED)
			r->swapped++;
		else
			r->none++;
	}
	free(pm);
	return err;
}

long kmmu_anon_huge_pages(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long long lo, hi, kb;
	char line[512];
	bool in = false;
	long n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* A VMA's first line; no field line starts "hex-hex". */
		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %llu kB", &kb) == 1) {
			n = kb / 2048;
			break;
		}
	}
	fclose(f);
	return n;
}
