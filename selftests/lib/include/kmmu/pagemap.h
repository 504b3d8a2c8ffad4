/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /proc/self/pagemap: where this process's pages are -- physical ranges
 * (what DAMON's paddr operations monitor) and residency (what reclaim
 * swapped out).  See Documentation/admin-guide/mm/pagemap.rst.
 *
 * PFNs read as 0 without CAP_SYS_ADMIN: the physical-range helper needs
 * root; residency does not.
 */
#ifndef KMMU_PAGEMAP_H
#define KMMU_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

#define KMMU_PM_PRESENT		(1ULL << 63)
#define KMMU_PM_SWAPPED		(1ULL << 62)
#define KMMU_PM_PFN_MASK	((1ULL << 55) - 1)

/* A physical address range [start, end), byte addresses. */
struct kmmu_phys_range {
	uint64_t start;
	uint64_t end;
};

/* The pagemap entries of @npages pages from @addr (page aligned).  0 or -errno. */
int kmmu_pagemap_read(const void *addr, size_t npages, uint64_t *out);

/*
 * Physical ranges of [addr, addr + len), sorted and merged.  Every page
 * must be present (touch and mlock() them first): -ENOENT if one is not,
 * -EPERM if the kernel hides PFNs (not root), -ENOSPC if more than @max
 * ranges would be needed.  Returns the number of ranges.
 */
int kmmu_virt_to_phys(const void *addr, size_t len, struct kmmu_phys_range *out, int max);

/*
 * Sort @r by start and merge overlapping or adjacent ranges in place;
 * empty ranges are dropped.  Returns the new count.
 */
int kmmu_phys_ranges_merge(struct kmmu_phys_range *r, int n);

/* Bytes of [start, end) that some range of @r covers (sorted, merged). */
uint64_t kmmu_phys_ranges_overlap(const struct kmmu_phys_range *r, int n,
				  uint64_t start, uint64_t end);

struct kmmu_residency {
	size_t present;		/* pages in RAM */
	size_t swapped;		/* pages in swap */
	size_t none;		/* neither (never touched, or dropped) */
};

/* Count the pages of [addr, addr + len) by where they are.  0 or -errno. */
int kmmu_residency(const void *addr, size_t len, struct kmmu_residency *r);

/*
 * The 2M pages of the mapping (VMA) holding @addr that are transparent
 * huge pages mapped by a PMD (/proc/self/smaps' AnonHugePages; pagemap
 * does not tell a PMD mapping from 512 PTEs), or -1 if unknown.
 */
long kmmu_anon_huge_pages(const void *addr);

#endif
