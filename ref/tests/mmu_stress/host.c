// SPDX-License-Identifier: GPL-2.0
/*
 * mmu_stress_test's host: hva page k is backed by frame
 * PFN0 + gen[k] * NR_PFNS + k, and gen[k] only grows, inside an
 * invalidation of k (migration, khugepaged's collapse).  The fault looks
 * frames up here; the checks compare what the MMU maps, reaches and
 * reports (A/D bits, aging answers) with it.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <kmmu/notifier.h>

#include "stress.h"

static uint64_t host_pfn(unsigned long k, unsigned int gen)
{
	return PFN0 + (uint64_t)gen * NR_PFNS + k;
}

/* The hva page a frame backs, and in which generation. */
unsigned long pfn_page(uint64_t pfn)
{
	return (pfn - PFN0) % NR_PFNS;
}

static unsigned long pfn_gen(uint64_t pfn)
{
	return (pfn - PFN0) / NR_PFNS;
}

unsigned int host_gen(struct stress *st, unsigned long k)
{
	return __atomic_load_n(&st->host.gen[k], __ATOMIC_ACQUIRE);
}

/*
 * hva_to_pfn() and host_pfn_mapping_level() for the fault: lockless, as
 * GUP-fast and the kernel's walk of the host page tables are.
 */
int host_hva_to_pfn(void *ctx, unsigned long hva, uint64_t *pfn, int *level)
{
	struct stress *st = ctx;
	unsigned long k = (hva - HVA_BASE) >> KMMU_PAGE_SHIFT;

	if (hva < HVA_BASE || k >= NR_PFNS)
		return -EFAULT;
	*pfn = host_pfn(k, host_gen(st, k));
	*level = __atomic_load_n(&st->host.huge[k / HPAGE], __ATOMIC_ACQUIRE) ?
		 KMMU_PG_LEVEL_2M : KMMU_PG_LEVEL_4K;
	return 0;
}

/*
 * Migration, inside the invalidation of pages [@s, @e): they move to new
 * frames.  A page of a host huge page moves only if the window covers all
 * of it: the host splits it first, and the split is an invalidation of
 * the whole 2M.  Returns the pages moved.
 */
unsigned long host_migrate(struct stress *st, unsigned long s, unsigned long e)
{
	struct host *h = &st->host;
	unsigned long k, r, n = 0;

	pthread_mutex_lock(&h->lock);
	for (k = s; k < e; k++) {
		r = k / HPAGE;
		if (h->huge[r]) {
			if (s > r * HPAGE || e < (r + 1) * HPAGE)
				continue;
			__atomic_store_n(&h->huge[r], 0, __ATOMIC_RELEASE);
		}
		__atomic_store_n(&h->gen[k], h->gen[k] + 1, __ATOMIC_RELEASE);
		n++;
	}
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* khugepaged, inside the invalidation of all of 2M region @r: a new huge page. */
void host_collapse(struct stress *st, unsigned long r)
{
	struct host *h = &st->host;
	unsigned int gen = 0;
	unsigned long k;

	pthread_mutex_lock(&h->lock);
	for (k = r * HPAGE; k < (r + 1) * HPAGE; k++)
		if (h->gen[k] > gen)
			gen = h->gen[k];
	gen++;
	for (k = r * HPAGE; k < (r + 1) * HPAGE; k++)
		__atomic_store_n(&h->gen[k], gen, __ATOMIC_RELEASE);
	__atomic_store_n(&h->huge[r], 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&h->lock);
}

/* The hva page of @gfn in whichever slot can map it, -1 if none can. */
long gfn_page(gfn_t gfn)
{
	if (gfn < HOT_PAGES + BIG_PAGES)
		return gfn;
	if (gfn >= MOVING_GPA0 / PG && gfn < MOVING_GPA0 / PG + MOVING_PAGES)
		return HOT_PAGES + BIG_PAGES + gfn - MOVING_GPA0 / PG;
	if (gfn >= MOVING_GPA1 / PG && gfn < MOVING_GPA1 / PG + MOVING_PAGES)
		return HOT_PAGES + BIG_PAGES + gfn - MOVING_GPA1 / PG;
	return -1;
}

/*
 * A present leaf SPTE of @level that maps frame @base reached @gfn after
 * the host backed @gfn's page with generation @gen0: the frame of @gfn's
 * 4K page in it must be that page's, of @gen0 or later.
 */
void check_reached(struct stress *st, const char *who, gfn_t gfn, uint64_t base,
			  int level, unsigned int gen0)
{
	uint64_t pfn = base + (gfn & (KMMU_PAGES_PER_HPAGE(level) - 1));
	long k = gfn_page(gfn);

	if (k < 0 || pfn < PFN0 || pfn_page(pfn) != (unsigned long)k) {
		fail(st, "%s: gfn %#" PRIx64 " reached pfn %#" PRIx64 ", not a frame of hva page %ld",
		     who, gfn, pfn, k);
		return;
	}
	if (pfn_gen(pfn) < gen0)
		fail_stale(st, STALE_REACHED,
			   "stale SPTE: %s reached old pfn %#" PRIx64 " at gfn %#" PRIx64
			   ", replaced by %#" PRIx64 " before the access", who, pfn, gfn,
			   host_pfn(k, gen0));
}

struct pfn_check {
	struct stress *st;
	enum stale_check check;
	const char *when;
};

/* Under mmu_lock: a present SPTE's page cannot be changing frames now. */
static int pfn_check_fn(void *ctx, unsigned long hva, uint64_t pfn, int level)
{
	struct pfn_check *c = ctx;
	unsigned long k = (hva - HVA_BASE) >> KMMU_PAGE_SHIFT;
	uint64_t now = host_pfn(k, host_gen(c->st, k));

	if (pfn == now)
		return 0;
	if (pfn >= PFN0 && pfn_page(pfn) == k && pfn < now)
		fail_stale(c->st, c->check,
			   "stale SPTE %s: hva %#lx maps old pfn %#" PRIx64 " (%s), the host's is %#"
			   PRIx64, c->when, hva, pfn, level > KMMU_PG_LEVEL_4K ? "2M" : "4K", now);
	else
		fail(c->st, "SPTE %s: hva %#lx maps pfn %#" PRIx64 ", the host's is %#" PRIx64,
		     c->when, hva, pfn, now);
	return -1;
}

long check_pfns(struct stress *st, unsigned long start, unsigned long end,
		       enum stale_check check, const char *when)
{
	struct pfn_check c = { .st = st, .check = check, .when = when };
	long r = kmmu_mmu_hva_range_for_each_pfn(st->vm, start, end, pfn_check_fn, &c);

	if (r < -1)
		fail(st, "pfn walk %s: %s", when, strerror((int)-r));
	return r;
}

/* Set by an aging thread around its call: the reports arrive in that thread. */
__thread struct age_call *cur_age_call;

void ad_hook(void *ctx, uint64_t pfn, int level, uint64_t bits, bool installed)
{
	struct stress *st = ctx;
	struct age_call *ac = cur_age_call;
	uint64_t k = (pfn - PFN0) % NR_FRAMES;

	if (pfn < PFN0) {
		fail(st, "A/D reported for pfn %#" PRIx64 " outside the host range", pfn);
		return;
	}
	if (bits & KMMU_PT_ACCESSED_MASK)
		__atomic_add_fetch(&st->ad[installed ? C_INST_A : C_REP_A][k], 1, __ATOMIC_RELAXED);
	if (bits & KMMU_PT_DIRTY_MASK)
		__atomic_add_fetch(&st->ad[installed ? C_INST_D : C_REP_D][k], 1, __ATOMIC_RELAXED);
	if (ac && !installed && (bits & KMMU_PT_ACCESSED_MASK)) {
		if (ac->nr < MAX_AGE_REPORTS) {
			ac->pfn[ac->nr] = pfn;
			ac->level[ac->nr] = level;
		}
		ac->nr++;
	}
}

/* The bit of @hva in a bitmap of [@start, @end), -1 outside. */
static long hva_bit(unsigned long hva, unsigned long start, unsigned long end)
{
	return hva >= start && hva < end ? (long)((hva - start) / PG) : -1;
}

/*
 * test_clear_young's answer against its reports: the bitmap must be
 * exactly the pages of the range that the reported SPTEs map (a bit
 * missing is a touched page reported old), and the count its weight.
 */
void check_bitmap(struct stress *st, const struct age_call *ac, long r,
			 unsigned long start, unsigned long end, const unsigned long *bitmap)
{
	const unsigned long bpl = 8 * sizeof(unsigned long);
	unsigned long want[BITMAP_LONGS] = { 0 };
	unsigned long i, j, npages = (end - start) / PG;
	long bit, weight = 0;

	for (i = 0; i < ac->nr; i++) {
		unsigned long k0 = pfn_page(ac->pfn[i]);

		for (j = 0; j < KMMU_PAGES_PER_HPAGE(ac->level[i]); j++) {
			bit = hva_bit(HVA_BASE + (k0 + j) * PG, start, end);
			if (bit >= 0)
				want[bit / bpl] |= 1ul << (bit % bpl);
		}
	}
	for (i = 0; i < npages; i++) {
		bool got = bitmap[i / bpl] & (1ul << (i % bpl));
		bool exp = want[i / bpl] & (1ul << (i % bpl));

		weight += got;
		if (got == exp)
			continue;
		fail(st, "test_clear_young: hva %#lx %s in the bitmap, but %s", start + i * PG,
		     got ? "young" : "old", got ? "no SPTE reported young maps it" :
		     "an SPTE that maps it was reported young");
		return;
	}
	if (weight != r)
		fail(st, "test_clear_young: answered %ld young pages, the bitmap has %ld", r,
		     weight);
}

/*
 * After the VM is gone every bit must have come back exactly once: per
 * bit, frames that lost one, then frames that got one back twice (a bit
 * resurrected by a store over a concurrent clear).
 */
void check_ledger(struct stress *st)
{
	unsigned long k, on, back, nr, first;
	int which, lost;

	for (lost = 1; lost >= 0; lost--) {
		for (which = 1; which >= 0; which--) {
			nr = 0;
			first = 0;
			for (k = 0; k < NR_FRAMES; k++) {
				on = st->ad[which ? C_HW_D : C_HW_A][k] +
				     st->ad[which ? C_INST_D : C_INST_A][k];
				back = st->ad[which ? C_REP_D : C_REP_A][k];
				if (lost ? on > back : on < back) {
					if (!nr++)
						first = k;
				}
			}
			if (!nr)
				continue;
			k = first;
			fail(st, "%s %s bit: %lu frames, e.g. pfn %#lx (mod %lu generations): %lu set (hw %lu, fault %lu), %lu reported",
			     lost ? "lost" : "duplicated", which ? "Dirty" : "Accessed", nr,
			     PFN0 + k, LEDGER_GENS,
			     st->ad[which ? C_HW_D : C_HW_A][k] + st->ad[which ? C_INST_D : C_INST_A][k],
			     st->ad[which ? C_HW_D : C_HW_A][k],
			     st->ad[which ? C_INST_D : C_INST_A][k],
			     st->ad[which ? C_REP_D : C_REP_A][k]);
		}
	}
}
