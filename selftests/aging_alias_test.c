// SPDX-License-Identifier: GPL-2.0
/*
 * aging_alias_test: an aging pass must clear the Accessed bit of EVERY
 * SPTE of a page -- of a gfn the guest maps at two virtual addresses, of
 * all the 4K SPTEs of a 2M host page aged at once, and of a 2M SPTE.
 *
 * aging_test maps each guest page by one SPTE and ages ranges one SPTE
 * covers; two kinds of aging bug escape that.  (a) A gfn with several
 * SPTEs: on the shadow MMU a gfn mapped at two guest virtual addresses, by
 * two guest page tables, has two SPTEs on its rmap, and kvm_age_rmap()
 * must clear both.  (b) A host range covering many SPTEs: a transparent
 * huge page that the host maps with a PMD is aged as one 2M range
 * (pmdp_clear_young_notify(): page_idle, DAMON's vaddr mkold, reclaim's
 * folio_referenced), and where KVM maps it with 4K SPTEs (a slot whose gpa
 * is not congruent with its hva modulo 2M, or dirty logging on) the
 * clear_young over the range must clear every young SPTE in it, on both
 * MMUs (kvm_tdp_mmu_handle_gfn walks them all; kvm_handle_gfn_range every
 * gfn's rmap).  (c) A huge SPTE: where KVM maps the THP with one 2M SPTE,
 * aging must test and clear that SPTE's Accessed bit (aging_test's pages
 * are 4K, and (b) keeps KVM off 2M on purpose).
 *
 * The driver is idle page tracking (kmmu/page_idle.h), whose verdicts are
 * exact: writing a page's bit runs clear_young on every mapping of it and
 * marks it idle; reading it runs clear_young again and says idle unless
 * something reported it young in between.  The host process itself never
 * touches guest memory after setting it up, so only KVM's SPTEs can make
 * a page young.  For a THP, idle page tracking handles the folio as a
 * whole: its head PFN stands for the 2M, its tail PFNs are never idle.
 *
 * Units: three variants, one VM each --
 *   alias_4k        64 private anonymous 4K pages; a unit is a page;
 *   thp_misaligned  4 PMD-mapped THPs in a slot whose gpa is 4K past a 2M
 *                   boundary while its hva is 2M aligned (KVM may map no
 *                   2M page there); a unit is a 2M folio;
 *   thp_dirty_log   4 PMD-mapped THPs in a 2M-aligned slot with dirty
 *                   logging on (KVM maps 4K only);
 *   thp_huge        4 PMD-mapped THPs in a 2M-aligned slot, and 2M guest
 *                   pages: KVM maps each folio with 2M SPTEs (one per
 *                   view on the shadow MMU, one on TDP).
 * The guest maps the slot twice, at GVA = GPA and 1G above (two sets of
 * guest page tables).  Each round (-n, default 8: every combination of
 * view and write/read twice, and every folio position for each even folio):
 *   1. the guest writes every page of every unit through both views:
 *      every SPTE of the slot young (on the shadow MMU two per gfn);
 *   2. the host marks every unit idle (one aging pass); in odd rounds it
 *      reads them back at once: all must be idle, the guest touched
 *      nothing since (a pass that left one SPTE young fails here);
 *   3. the guest touches the even units only, through ONE view (round
 *      parity picks which), by a write in rounds 0, 1 (mod 4) and a read
 *      in 2, 3; in a folio one 4K page, whose position moves with the
 *      round and the unit (first, last, second, middle ...);
 *   4. the host reads every unit: even ones must be young, odd ones idle.
 * An odd unit read young had a young SPTE the pass in step 2 did not
 * clear: the other alias's (a), another 4K SPTE of its folio (b), or its
 * 2M SPTE (c).  An even unit read idle had its touch missed (in thp_huge:
 * a 2M SPTE the aging did not test).  In the 4K-mapped variants KVM's
 * pages_2m must not grow when the guest first touches the slot (else it
 * maps 2M and (b) is not what is tested), and pages_4k must grow by at
 * least the slot's pages (twice that on the shadow MMU: the alias SPTEs
 * exist); in thp_huge pages_2m must grow by at least the folios.  PFNs are read
 * from pagemap at every marking and again after the verdicts: the memory
 * is mlocked, and a page that moved anyway voids its verdict (a failure
 * with that reason, not a wrong verdict); so does a THP split meanwhile
 * (smaps' AnonHugePages, read after every round's verdicts).
 *
 * SKIPs with the reason without idle page tracking (Debian's packaged
 * kernel; ci/vm/build-kernel's has it), and for the THP variants without
 * THP or when the kernel gave fewer PMD-mapped THPs than asked for.
 *
 * $KMMU_AGEALIAS_INJECT plants a bug in the test, which must then fail on
 * unit 1 (odd) of round 0: touch-odd (the guest also touches it in step
 * 3, the host still expects idle) or skip-mark (the host leaves it out of
 * the pass in step 2: never marked, it cannot read idle).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/ctl_file.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/page_idle.h"
#include "kmmu/pagemap.h"
#include "kmmu/result.h"

#define AA_SLOT		KMMU_SLOT_FIRST_FREE
#define AA_GPA		KMMU_GPA_TEST
#define AA_ALIAS	(1ULL << 30)	/* view 1: GVA = GPA + AA_ALIAS */
#define AA_HPAGES	(KMMU_HPAGE_SIZE / KMMU_PAGE_SIZE)
#define AA_MAX_UNITS	64
#define AA_INJECT_UNIT	1		/* odd: expected idle in step 4 */
#define AA_MAX_LOGGED	16		/* wrong verdicts printed per variant */

enum aa_sync { AA_SYNC_START = 1, AA_SYNC_MARK, AA_SYNC_CHECK };
enum aa_inject { AA_INJECT_NONE, AA_INJECT_TOUCH_ODD, AA_INJECT_SKIP_MARK };

static const char *const aa_inject_names[] = { "none", "touch-odd", "skip-mark" };

static struct {
	long rounds;
	enum aa_inject inject;
} aa_opts = { .rounds = 8 };

/* What the guest needs, in the shared region (the image copy is made at creation). */
struct aa_params {
	uint64_t gva[2];	/* the two views */
	uint64_t nr_units, unit_pages;
	uint64_t rounds;
	uint64_t touch_odd;	/* the touch-odd injection */
};

/* The page of an even unit that the guest touches in step 3 of @round. */
static inline uint64_t aa_touch_page(uint64_t unit_pages, uint64_t unit, uint64_t round)
{
	static const uint16_t pos[] = { 0, 511, 1, 256, 510, 255, 129, 383 };

	if (unit_pages == 1)
		return 0;
	return pos[(unit / 2 + round) % (sizeof(pos) / sizeof(pos[0]))] % unit_pages;
}

static inline bool aa_guest_touches(const struct aa_params *p, uint64_t unit, uint64_t round)
{
	return unit % 2 == 0 || (p->touch_odd && round == 0 && unit == AA_INJECT_UNIT);
}

/* ---- the guest ---- */

static void aa_guest(uint32_t id, void *arg)
{
	const struct aa_params *p = arg;
	uint64_t r, v, u, pg, pages = p->nr_units * p->unit_pages;

	GUEST_SYNC(AA_SYNC_START);
	for (r = 0; r < p->rounds; r++) {
		for (v = 0; v < 2; v++)
			for (pg = 0; pg < pages; pg++)
				*(volatile uint64_t *)(p->gva[v] + pg * KMMU_PAGE_SIZE) = r;
		GUEST_SYNC(AA_SYNC_MARK);
		v = r % 2;
		for (u = 0; u < p->nr_units; u++) {
			volatile uint64_t *q;

			if (!aa_guest_touches(p, u, r))
				continue;
			q = (volatile uint64_t *)(p->gva[v] + (u * p->unit_pages +
					aa_touch_page(p->unit_pages, u, r)) * KMMU_PAGE_SIZE);
			if (r % 4 < 2)
				*q = r;
			else
				(void)*q;
		}
		GUEST_SYNC(AA_SYNC_CHECK);
	}
}

/* ---- the host ---- */

FIXTURE(aa) {
	struct kmmu_test_run run;
	void *raw;			/* the mapping to munmap */
	uint64_t raw_size;
	uint8_t *hva;			/* the slot's memory */
	uint64_t size, pages, gpa;
	struct aa_params *p;		/* host view of the guest's parameters */
	uint64_t params_gva;		/* and the guest's */
	int idle_fd;
	int shadow;			/* the MMU: 1 shadow, 0 TDP, -1 unknown */
	bool huge;			/* KVM must map the folios with 2M SPTEs */
	uint64_t round;
	uint64_t pfn[AA_MAX_UNITS];	/* each unit's PFN (a folio's head) as marked */
	uint64_t start_pages[3];	/* pages_4k/2m/1g before the guest's first touch */
	uint64_t verdicts, wrong, moved;
	int nr_logged;			/* wrong verdicts printed */
	char err[512];			/* an error of the host's side (not a verdict) */
};

FIXTURE_VARIANT(aa) {
	bool thp;
	uint64_t nr_units;
	uint64_t gpa_offset;		/* of the slot from a 2M boundary */
	uint32_t slot_flags;
	bool guest_huge;		/* 2M guest pages: KVM maps 2M */
};

FIXTURE_VARIANT_ADD(aa, alias_4k) {
	.thp = false, .nr_units = 64,
};

FIXTURE_VARIANT_ADD(aa, thp_misaligned) {
	.thp = true, .nr_units = 4, .gpa_offset = KMMU_PAGE_SIZE,
};

FIXTURE_VARIANT_ADD(aa, thp_dirty_log) {
	.thp = true, .nr_units = 4, .slot_flags = KVM_MEM_LOG_DIRTY_PAGES,
};

FIXTURE_VARIANT_ADD(aa, thp_huge) {
	.thp = true, .nr_units = 4, .guest_huge = true,
};

static void aa_log(FIXTURE_DATA(aa) *self, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One wrong verdict, on a line of its own (the first few of a run). */
static void aa_log(FIXTURE_DATA(aa) *self, const char *fmt, ...)
{
	va_list ap;

	if (self->nr_logged++ >= AA_MAX_LOGGED)
		return;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

/* The PFN idle page tracking knows unit @u by: its page, or its folio's head. */
static int aa_unit_pfn(FIXTURE_DATA(aa) *self, uint64_t u, uint64_t *pfn)
{
	uint64_t pm;
	int r = kmmu_pagemap_read(self->hva + u * self->p->unit_pages * KMMU_PAGE_SIZE, 1, &pm);

	if (r)
		return r;
	if (!(pm & KMMU_PM_PRESENT) || !(pm & KMMU_PM_PFN_MASK))
		return -ENOENT;
	*pfn = pm & KMMU_PM_PFN_MASK;
	/* A THP's head is 2M aligned; anything else is not the folio asked for. */
	return *pfn % self->p->unit_pages ? -EXDEV : 0;
}

static const char *aa_unit_name(const FIXTURE_DATA(aa) *self)
{
	return self->p->unit_pages == 1 ? "4K page" : "2M folio";
}

/*
 * Every unit's verdict read back; @after_touch: the guest touched the even
 * units since the marking.
 */
static void aa_judge(FIXTURE_DATA(aa) *self, const char *when, bool after_touch)
{
	uint64_t r = self->round, u;
	bool idle[AA_MAX_UNITS];
	int err = kmmu_page_idle_read(self->idle_fd, self->pfn, self->p->nr_units, idle);

	if (err) {
		snprintf(self->err, sizeof(self->err), "reading %s: %s", kmmu_page_idle_path(),
			 strerror(-err));
		return;
	}
	for (u = 0; u < self->p->nr_units; u++) {
		/* The test's expectation: the injections do not change it. */
		bool want_young = after_touch && u % 2 == 0;

		self->verdicts++;
		if (!idle[u] == want_young)
			continue;
		self->wrong++;
		if (want_young)
			aa_log(self, "round %llu, %s: %s %llu (gpa %#llx, pfn %#llx) read idle, "
			       "but the guest %s its page %llu through view %llu since the marking",
			       (unsigned long long)r, when, aa_unit_name(self),
			       (unsigned long long)u,
			       (unsigned long long)(self->gpa + u * self->p->unit_pages * KMMU_PAGE_SIZE),
			       (unsigned long long)self->pfn[u], r % 4 < 2 ? "wrote" : "read",
			       (unsigned long long)aa_touch_page(self->p->unit_pages, u, r),
			       (unsigned long long)(r % 2));
		else
			aa_log(self, "round %llu, %s: %s %llu (gpa %#llx, pfn %#llx) read young, "
			       "but the guest did not touch it since the marking (it wrote all its "
			       "pages through both views before): an SPTE the pass left young",
			       (unsigned long long)r, when, aa_unit_name(self),
			       (unsigned long long)u,
			       (unsigned long long)(self->gpa + u * self->p->unit_pages * KMMU_PAGE_SIZE),
			       (unsigned long long)self->pfn[u]);
	}
}

/*
 * After the guest's first touches: KVM mapped the slot with 4K SPTEs, both
 * views, or (thp_huge) every folio with a 2M SPTE.
 */
static void aa_check_mapping(FIXTURE_DATA(aa) *self, struct kmmu_vm *vm)
{
	uint64_t now[3] = { 0 }, want4k = self->pages * (self->shadow == 1 ? 2 : 1);
	int r = kmmu_stats_vm_pages(kmmu_vm_fd(vm), now);

	if (r) {
		ksft_print_msg("KVM's pages_4k/pages_2m not readable (%s): mapping not checked\n",
			       strerror(-r));
		return;
	}
	ksft_print_msg("first touches: pages_4k +%lld, pages_2m +%lld (%s MMU, slot of %llu pages)\n",
		       (long long)(now[0] - self->start_pages[0]),
		       (long long)(now[1] - self->start_pages[1]),
		       self->shadow == 1 ? "shadow" : self->shadow == 0 ? "TDP" : "unknown",
		       (unsigned long long)self->pages);
	if (self->huge) {
		if (now[1] - self->start_pages[1] < self->p->nr_units)
			snprintf(self->err, sizeof(self->err),
				 "pages_2m grew by %lld when the guest first touched the slot's %llu "
				 "2M-aligned THPs through 2M guest pages, want at least %llu: KVM did "
				 "not map them huge", (long long)(now[1] - self->start_pages[1]),
				 (unsigned long long)self->p->nr_units,
				 (unsigned long long)self->p->nr_units);
	} else if (now[1] != self->start_pages[1])
		snprintf(self->err, sizeof(self->err),
			 "KVM mapped %lld 2M pages when the guest first touched the slot: it must "
			 "map it with 4K SPTEs only for this test", (long long)(now[1] - self->start_pages[1]));
	else if (now[0] - self->start_pages[0] < want4k)
		snprintf(self->err, sizeof(self->err),
			 "pages_4k grew by %llu when the guest first touched the slot's %llu pages "
			 "through two views, want at least %llu",
			 (unsigned long long)(now[0] - self->start_pages[0]),
			 (unsigned long long)self->pages, (unsigned long long)want4k);
}

/* Step 2: one aging pass over every unit (but an injected one). */
static void aa_mark(FIXTURE_DATA(aa) *self)
{
	uint64_t pfns[AA_MAX_UNITS], u;
	struct kmmu_idle_set set;
	size_t n = 0;
	int r;

	for (u = 0; u < self->p->nr_units; u++) {
		r = aa_unit_pfn(self, u, &self->pfn[u]);
		if (r) {
			snprintf(self->err, sizeof(self->err), "no PFN for unit %llu: %s",
				 (unsigned long long)u, r == -EXDEV ? "not a 2M-aligned THP head" :
				 strerror(-r));
			return;
		}
		if (aa_opts.inject == AA_INJECT_SKIP_MARK && self->round == 0 &&
		    u == AA_INJECT_UNIT) {
			ksft_print_msg("INJECTED: round 0 leaves unit %d (pfn %#llx) unmarked\n",
				       AA_INJECT_UNIT, (unsigned long long)self->pfn[u]);
			continue;
		}
		pfns[n++] = self->pfn[u];
	}
	r = kmmu_idle_set_from_pfns(&set, pfns, n);
	if (!r)
		r = kmmu_page_idle_mark(self->idle_fd, &set);
	kmmu_idle_set_free(&set);
	if (r)
		snprintf(self->err, sizeof(self->err), "marking pages idle in %s: %s",
			 kmmu_page_idle_path(), strerror(-r));
}

/*
 * After the verdicts: a unit whose page moved since the marking voids its
 * verdict, and so does a THP the host no longer maps with a PMD (then the
 * pass aged 4K ranges, not the 2M one this variant is about).
 */
static void aa_check_moved(FIXTURE_DATA(aa) *self)
{
	uint64_t u, pfn;

	if (self->p->unit_pages > 1) {
		long thps = kmmu_anon_huge_pages(self->hva);

		if (thps >= 0 && (uint64_t)thps < self->p->nr_units) {
			snprintf(self->err, sizeof(self->err),
				 "only %ld of the %llu THPs are still PMD-mapped (smaps): the "
				 "round's verdicts are void", thps,
				 (unsigned long long)self->p->nr_units);
			return;
		}
	}

	for (u = 0; u < self->p->nr_units; u++) {
		if (!aa_unit_pfn(self, u, &pfn) && pfn == self->pfn[u])
			continue;
		self->moved++;
		snprintf(self->err, sizeof(self->err),
			 "unit %llu moved (pfn %#llx) between marking and reading, although "
			 "mlocked: its verdict is void", (unsigned long long)u,
			 (unsigned long long)self->pfn[u]);
	}
}

static uint64_t aa_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	FIXTURE_DATA(aa) *self = ctx;
	struct kmmu_vm *vm = kmmu_vcpu_vm(vcpu);

	switch (value) {
	case AA_SYNC_START:
		kmmu_stats_vm_pages(kmmu_vm_fd(vm), self->start_pages);
		break;
	case AA_SYNC_MARK:
		if (self->round == 0)
			aa_check_mapping(self, vm);
		if (!self->err[0])
			aa_mark(self);
		if (!self->err[0] && self->round % 2)
			aa_judge(self, "read right after the marking", false);
		break;
	case AA_SYNC_CHECK:
		aa_judge(self, "after the guest's touches", true);
		if (!self->err[0])
			aa_check_moved(self);
		self->round++;
		break;
	default:
		kmmu_vcpu_fail(vcpu, "unexpected GUEST_SYNC(%llu)", (unsigned long long)value);
		return 0;
	}
	if (self->err[0])
		kmmu_vcpu_fail(vcpu, "round %llu: %s", (unsigned long long)self->round, self->err);
	return 0;
}

FIXTURE_SETUP(aa)
{
	struct kmmu_vm_opts o = { .nr_vcpus = 1, .shared_size = KMMU_PAGE_SIZE };
	struct kmmu_host host;
	char why[256];
	uint64_t gva, i;
	uint32_t map_flags;
	long thps;

	self->idle_fd = -1;
	KMMU_TEST_SETUP(&self->run, NULL);
	if (kmmu_page_idle_probe(why, sizeof(why)))
		SKIP(return, "%s", why);
	if (variant->thp) {
		char thp[64] = "";

		if (kmmu_ctl_read("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp)) ||
		    strstr(thp, "[never]"))
			SKIP(return, "transparent huge pages are off (%s)",
			     thp[0] ? thp : "no sysfs file");
	}
	self->size = variant->nr_units * (variant->thp ? KMMU_HPAGE_SIZE : KMMU_PAGE_SIZE);
	self->pages = self->size / KMMU_PAGE_SIZE;
	self->gpa = AA_GPA + variant->gpa_offset;
	/*
	 * 2M aligned either way; 4K pages refused THP (a THP is aged as a
	 * whole).  The host writes every page once: allocated now, the
	 * guest's first touches only fault SPTEs in.
	 */
	self->hva = kmmu_map_2m_aligned(self->size, variant->thp, &self->raw, &self->raw_size);
	ASSERT_NE(NULL, self->hva);
	for (i = 0; i < self->pages; i++)
		self->hva[i * KMMU_PAGE_SIZE] = 1;
	if (variant->thp) {
		thps = kmmu_anon_huge_pages(self->hva);
		if (thps < (long)variant->nr_units)
			SKIP(return, "the kernel gave %ld of %llu PMD-mapped THPs (smaps)", thps,
			     (unsigned long long)variant->nr_units);
	}
	ASSERT_EQ(0, mlock(self->hva, self->size)) TH_LOG("mlock: %s", strerror(errno));
	self->idle_fd = kmmu_page_idle_open();
	ASSERT_LE(0, self->idle_fd) TH_LOG("opening %s: %s", kmmu_page_idle_path(),
					   strerror(-self->idle_fd));
	kmmu_host_probe(&host);
	self->shadow = host.tdp < 0 ? -1 : !host.tdp;
	self->huge = variant->guest_huge;
	map_flags = KMMU_MAP_WRITE | KMMU_MAP_NX | (variant->guest_huge ? KMMU_MAP_HUGE : 0);

	kmmu_vm_create(&self->run.vm, &o);
	kmmu_slot_add(self->run.vm, AA_SLOT, self->gpa, self->size, self->hva, variant->slot_flags);
	kmmu_vm_map(self->run.vm, self->gpa, self->gpa, self->size, map_flags);
	kmmu_vm_map(self->run.vm, self->gpa + AA_ALIAS, self->gpa, self->size, map_flags);
	self->p = kmmu_vm_alloc_shared(self->run.vm, sizeof(*self->p), &gva);
	ASSERT_NE(NULL, self->p);
	self->p->gva[0] = self->gpa;
	self->p->gva[1] = self->gpa + AA_ALIAS;
	self->p->nr_units = variant->nr_units;
	self->p->unit_pages = variant->thp ? AA_HPAGES : 1;
	self->p->rounds = aa_opts.rounds;
	self->p->touch_odd = aa_opts.inject == AA_INJECT_TOUCH_ODD;
	self->params_gva = gva;
}

FIXTURE_TEARDOWN(aa)
{
	if (self->run.started)
		KMMU_TEST_END(&self->run);
	if (self->idle_fd >= 0)
		close(self->idle_fd);
	if (self->raw)
		munmap(self->raw, self->raw_size);
}

KMMU_TEST_F(aa, run, 300)
{
	struct kmmu_vm_handlers h = { .sync = aa_sync, .ctx = self };

	if (aa_opts.inject == AA_INJECT_TOUCH_ODD)
		ksft_print_msg("INJECTED: round 0's guest also touches unit %d, expected idle\n",
			       AA_INJECT_UNIT);
	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, aa_guest, (void *)self->params_gva);
	kmmu_vm_wait(self->run.vm, 60 + 10 * aa_opts.rounds);
	ksft_print_msg("%llu rounds, %llu %ss (%s): %llu verdicts, %llu wrong\n",
		       (unsigned long long)self->round, (unsigned long long)self->p->nr_units,
		       aa_unit_name(self), self->shadow == 1 ? "shadow MMU" :
		       self->shadow == 0 ? "TDP" : "MMU unknown",
		       (unsigned long long)self->verdicts, (unsigned long long)self->wrong);
	ASSERT_EQ(aa_opts.rounds, self->round);
	ASSERT_EQ(0, self->wrong) TH_LOG("%llu wrong idle/young verdicts (the first %d above)",
					 (unsigned long long)self->wrong, AA_MAX_LOGGED);
}

static void aa_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-n rounds]\n"
		"  -n  rounds of touch all / mark idle / touch the even units / read, per\n"
		"      variant (default 8: every view and write/read pairing twice, every\n"
		"      touch position in a folio; max 10000)\n"
		"$KMMU_AGEALIAS_INJECT plants a bug in the test, which must then fail on unit 1\n"
		"of round 0: touch-odd (the guest touches it too) or skip-mark (the host does\n"
		"not mark it idle)\n", prog);
}

int main(int argc, char **argv)
{
	const char *prog = "aging_alias_test";
	struct kmmu_run_opts run = { .ops = &aa_opts.rounds, .max_ops = 10000,
		.cli = { aa_usage, NULL } };
	const char *inject = getenv("KMMU_AGEALIAS_INJECT");
	int i;

	kmmu_run_parse(&run, prog, &argc, argv);
	if (aa_opts.rounds < 1)
		kmmu_usage_error(prog, "-n wants 1 to 10000 rounds");
	if (inject && *inject) {
		for (i = 1; i < 3 && strcmp(inject, aa_inject_names[i]); i++)
			;
		if (i == 3)
			kmmu_usage_error(prog, "KMMU_AGEALIAS_INJECT wants touch-odd or skip-mark");
		aa_opts.inject = i;
	}
	kmmu_test_header(prog, "rounds %ld %s%s", aa_opts.rounds,
			 aa_opts.inject ? "INJECTED BUG: " : "no injected bug",
			 aa_opts.inject ? aa_inject_names[aa_opts.inject] : "");
	KMMU_TEST_TIMEOUT(aa, run, 120 + 10 * (int)aa_opts.rounds);
	return test_harness_run(argc, argv);
}
