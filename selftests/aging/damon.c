// SPDX-License-Identifier: GPL-2.0
/*
 * aging_test's DAMON variant, its run (see aging/aging.h): a kdamond with
 * paddr operations on the physical frames of the guest memory (mlocked
 * after the guest's first touches, found through /proc/self/pagemap),
 * snapshots of its regions, and which guest pages each region holds.
 * The verdicts on what it saw are aging_test.c's ag_damon().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest.h"
#include "kmmu/damon.h"
#include "kmmu/hygiene.h"
#include "kmmu/pagemap.h"
#include "kmmu/sort.h"
#include "aging.h"

#define AG_DAMON_SNAPSHOTS	4

struct ag_pfn {
	uint64_t pfn;		/* first: the key kmmu_cmp_u64_key() sorts by */
	uint64_t page;
};

/* The first entry of @p (sorted by pfn) with pfn >= @pfn. */
static size_t ag_pfn_lower_bound(const struct ag_pfn *p, size_t n, uint64_t pfn)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p[mid].pfn < pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The guest pages whose frames lie in DAMON region @r, by the test's
 * expectation: how many are expected hot and cold, and the lowest page.
 * If @invert, they are expected cold from now on (the injection).
 */
static void ag_damon_region_pages(struct ag_run *self, const struct ag_pfn *pfns,
				  size_t n, const struct kmmu_damon_region *r,
				  uint64_t *hot, uint64_t *cold, uint64_t *first, bool invert)
{
	size_t j = ag_pfn_lower_bound(pfns, n, r->start / AG_PAGE);

	*hot = *cold = 0;
	*first = ~0ULL;
	for (; j < n && pfns[j].pfn * AG_PAGE < r->end; j++) {
		if (self->expect_hot[pfns[j].page])
			(*hot)++;
		else
			(*cold)++;
		if (pfns[j].page < *first)
			*first = pfns[j].page;
		if (invert)
			self->expect_hot[pfns[j].page] = 0;
	}
}

/*
 * KMMU_AGING_INJECT=invert-one for DAMON, which judges regions, not
 * pages: the smallest region that was accessed and holds only hot pages
 * is expected cold.  The per-region check must then fail on it.
 */
static void ag_damon_invert_one(struct ag_run *self, const struct ag_pfn *pfns, size_t n,
				const struct kmmu_damon_region *reg, int nreg)
{
	uint64_t hot, cold, first, best_hot = ~0ULL;
	int s, best = -1;

	for (s = 0; s < nreg; s++) {
		if (!reg[s].nr_accesses)
			continue;
		ag_damon_region_pages(self, pfns, n, &reg[s], &hot, &cold, &first, false);
		if (hot && !cold && hot < best_hot) {
			best = s;
			best_hot = hot;
		}
	}
	if (best < 0) {
		ksft_print_msg("INJECTED: no accessed hot-only DAMON region whose expectation could be inverted\n");
		return;
	}
	ag_damon_region_pages(self, pfns, n, &reg[best], &hot, &cold, &first, true);
	ksft_print_msg("INJECTED: the expectation for the %llu hot pages of DAMON region [%#llx, %#llx) (nr_accesses %u, first gpa %#llx) is inverted to cold\n",
		       (unsigned long long)hot, (unsigned long long)reg[best].start,
		       (unsigned long long)reg[best].end, reg[best].nr_accesses,
		       (unsigned long long)(KMMU_GPA_TEST + first * AG_PAGE));
}

int ag_damon_run(struct ag_run *self, struct ag_damon_readings *out, char *why, size_t len)
{
	uint64_t hot_pages = ag_hot_pages(), n = ag_pages(), i;
	uint64_t hot_bytes = hot_pages * AG_PAGE, cold_bytes = (n - hot_pages) * AG_PAGE;
	struct kmmu_damon_attrs a = KMMU_DAMON_ATTRS_DEFAULT;
	struct kmmu_phys_range *hot_r = NULL, *cold_r = NULL, *all = NULL;
	struct kmmu_damon_summary hs = {}, cs = {};
	struct kmmu_damon_region *reg = NULL;
	struct ag_pfn *pfns = NULL;
	uint64_t bad_regions = 0, pure_cold = 0, pure_hot = 0;
	int nh, nc, nreg = 0, s, max_reg;
	int err, ret = -1;

	err = kmmu_damon_probe(why, len);
	if (err)
		return AG_RUN_SKIP;
	ag_capture_start(self);
	if (ag_vm_create(self, why, len) || ag_vm_start(self, why, len))
		return -1;
	err = ag_wait_warm(self, 120);
	if (err)
		return ag_fail(why, len, "guest did not get through its first touches: %s; %s",
			       strerror(-err), kmmu_vm_errors(self->run.vm));
	/* The frames DAMON watches must stay where they are: no reclaim, no swap. */
	if (mlock(self->mem.hva, self->mem.size))
		return ag_fail(why, len, "mlock: %s", strerror(errno));

	hot_r = calloc(n, sizeof(*hot_r));
	cold_r = calloc(n, sizeof(*cold_r));
	all = calloc(n, sizeof(*all));
	max_reg = 2 * n + 64;
	reg = calloc(max_reg, sizeof(*reg));
	pfns = calloc(n, sizeof(*pfns));
	if (!hot_r || !cold_r || !all || !reg || !pfns) {
		ag_fail(why, len, "out of memory");
		goto out;
	}
	nh = kmmu_virt_to_phys(self->mem.hva, hot_bytes, hot_r, n);
	nc = kmmu_virt_to_phys((uint8_t *)self->mem.hva + hot_bytes, cold_bytes, cold_r, n);
	if (nh == -EPERM || nc == -EPERM) {
		snprintf(why, len, "the kernel hides PFNs from this process");
		ret = AG_RUN_SKIP;
		goto out;
	}
	if (nh <= 0 || nc <= 0) {
		ag_fail(why, len, "%s set physical ranges: %s", nh <= 0 ? "hot" : "cold",
			strerror(nh <= 0 ? -nh : -nc));
		goto out;
	}
	memcpy(all, hot_r, nh * sizeof(*all));
	memcpy(all + nh, cold_r, nc * sizeof(*all));
	err = kmmu_pagemap_read(self->mem.hva, n, self->pm);
	if (err) {
		ag_fail(why, len, "pagemap: %s", strerror(-err));
		goto out;
	}
	for (i = 0; i < n; i++) {
		pfns[i].pfn = self->pm[i] & KMMU_PM_PFN_MASK;
		pfns[i].page = i;
	}
	qsort(pfns, n, sizeof(*pfns), kmmu_cmp_u64_key);

	/* As damon_test: 10 ms checks, 200 ms aggregation (see there why not faster). */
	a.sample_us = 10000;
	a.aggr_us = 200000;
	err = kmmu_damon_start(&self->damon, &a, all, nh + nc, why, len);
	if (err == -EBUSY || err == -ENODEV) {
		ret = AG_RUN_SKIP;
		goto out;
	}
	if (err)
		goto out;
	self->damon_started = true;
	if (kmmu_damon_instance(&self->damon))
		snprintf(self->damon_instance, sizeof(self->damon_instance), "%s",
			 kmmu_damon_instance(&self->damon));
	ksft_print_msg("damon: %s; hot %d physical ranges, cold %d\n", why, nh, nc);
	for (s = 0; s < AG_DAMON_SNAPSHOTS; s++) {
		kmmu_sleep_ms(500);
		nreg = kmmu_damon_regions(&self->damon, reg, max_reg);
		if (nreg <= 0) {
			ag_fail(why, len, "kmmu_damon_regions: %s: %s", strerror(-nreg),
				kmmu_damon_error(&self->damon));
			goto out;
		}
		if (nreg > max_reg)
			nreg = max_reg;
		kmmu_damon_summarize(reg, nreg, hot_r, nh, &hs);
		kmmu_damon_summarize(reg, nreg, cold_r, nc, &cs);
		ksft_print_msg("damon: %d regions; HOT %llu/%llu KiB in accessed regions, nr_accesses max %u mean %.2f; COLD %llu/%llu KiB, max %u mean %.2f\n",
			       nreg, (unsigned long long)(hs.accessed_bytes >> 10),
			       (unsigned long long)(hs.bytes >> 10), hs.max_nr_accesses,
			       hs.mean_nr_accesses, (unsigned long long)(cs.accessed_bytes >> 10),
			       (unsigned long long)(cs.bytes >> 10), cs.max_nr_accesses,
			       cs.mean_nr_accesses);
	}
	err = kmmu_damon_stop(&self->damon);
	if (err) {
		ag_fail(why, len, "stopping DAMON: %s", strerror(-err));
		goto out;
	}
	if (ag_stop_guest(self)) {
		ag_fail(why, len, "vCPUs: %s", kmmu_vm_errors(self->run.vm));
		goto out;
	}
	ag_capture_finish(self);

	/*
	 * Per region of the last snapshot: one holding only cold-expected
	 * pages must not be accessed (exact: nothing touches them).
	 */
	if (ag_opts.invert_one)
		ag_damon_invert_one(self, pfns, n, reg, nreg);
	for (s = 0; s < nreg; s++) {
		uint64_t hot, cold, first;

		ag_damon_region_pages(self, pfns, n, &reg[s], &hot, &cold, &first, false);
		if (hot && !cold)
			pure_hot++;
		if (!hot && cold) {
			pure_cold++;
			if (reg[s].nr_accesses && bad_regions++ < 5)
				AG_LOG("DAMON region [%#llx, %#llx) holds only cold pages (first gpa %#llx) but was accessed (nr_accesses %u)",
				       (unsigned long long)reg[s].start, (unsigned long long)reg[s].end,
				       (unsigned long long)(KMMU_GPA_TEST + first * AG_PAGE),
				       reg[s].nr_accesses);
		}
	}
	ksft_print_msg("damon%s: last snapshot: %llu regions only hot, %llu only cold, %llu mixed\n",
		       ag_opts.control ? " (CONTROL: hot set idle)" : "",
		       (unsigned long long)pure_hot, (unsigned long long)pure_cold,
		       (unsigned long long)(nreg - pure_hot - pure_cold));
	out->hot_bytes = hot_bytes;
	out->cold_bytes = cold_bytes;
	out->hs = hs;
	out->cs = cs;
	out->bad_regions = bad_regions;
	ret = 0;
out:
	free(hot_r);
	free(cold_r);
	free(all);
	free(reg);
	free(pfns);
	return ret;
}
