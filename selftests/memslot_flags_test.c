// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_flags_test: the semantics of KVM_MEM_READONLY memslots, in a
 * fixed order that needs no luck.
 *
 * A read-only slot is ROM: a guest load reads its memory, a guest store
 * must exit to userspace as an MMIO write (KVM_EXIT_MMIO, is_write, the
 * store's gpa and value) and leave the memory unchanged.  KVM gets that
 * by never giving a read-only slot a writable pfn
 * (__gfn_to_pfn_memslot()), so that no SPTE of it is writable: a store
 * always faults and the fault path sends it to the emulator.  A bug that
 * maps a read fault writable (ci/mutants/patches/012) lets every store
 * after a load land in memory; a random churn finds it only when it
 * happens to load and then store into such a slot, so here every page
 * is loaded first and stored to, or stored to first, then loaded, then
 * stored to again.
 *
 * Two read-only slots: 64 pages of memfd (4K pages), and 4M of anonymous
 * THP memory with 2M-aligned gpa and host address, mapped by the guest
 * with 2M pages, so that KVM may map it with 2M SPTEs (KVM's pages_2m is
 * printed).  The host fills word 0 of every page with a pattern naming
 * the slot, page and generation.  For each tested page, the guest:
 *   load-first pages: load (the pattern), store (must exit), load (still
 *   the pattern), store (must exit);
 *   store-first pages: store (must exit), load, store (must exit), load.
 * Before each store the guest tells the host which gpa and value it is
 * about to store; the MMIO handler counts the exit only if it is exactly
 * that store, fails the vCPU on any other exit, and the guest fails if
 * its store was not counted (it reached memory instead).  After each
 * phase the host reads every page of both slots: only what the test
 * meant to change may have changed.
 *
 * Then the slots become read-write (DELETE and CREATE over the same
 * memory): the guest's stores must now reach memory without an exit,
 * which leaves writable SPTEs behind.  KVM refuses to toggle READONLY in
 * place (a flags-only update: EINVAL), which the test checks, so the
 * slots become read-only again by DELETE and CREATE, and the first
 * phase runs again over the new values: the writable SPTEs of the
 * read-write slots must all be gone.
 *
 * The run is checked against the reference when tracing is available:
 * the property "no SPTE of a read-only slot is writable" judges every
 * traced SPTE install (kvm_mmu_set_spte, both MMUs) in the read-only
 * slots, and "MMIO is emulated only for gfns without a live memslot"
 * allows a store to a read-only slot only.  The first must have judged
 * SPTEs (both MMUs trace their installs): the test fails if it is NOT
 * CHECKABLE, rather than pass having judged nothing.
 *
 * $KMMU_FLAGS_INJECT=drop-readonly plants a bug in the test itself: it
 * creates its read-only slots without KVM_MEM_READONLY, so the stores
 * land in memory as a writable SPTE would let them; the test must fail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/checker.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/opts.h"

#define RO_4K_GPA	KMMU_GPA_TEST
#define RO_4K_SIZE	(64 * KMMU_PAGE_SIZE)
#define RO_THP_GPA	(KMMU_GPA_TEST + (1ULL << 30))	/* 2M aligned */
#define RO_THP_SIZE	(2 * KMMU_HPAGE_SIZE)
#define RO_NR_REGIONS	2
#define RO_MAX_TESTED	10

/* Phases: GUEST_SYNC(phase) after each; the host then verifies and changes slots. */
enum ro_phase {
	RO_PHASE_RO = 1,	/* read-only slots: stores exit */
	RO_PHASE_RW,		/* re-created read-write: stores land */
	RO_PHASE_RO_AGAIN,	/* read-only again, by DELETE + CREATE */
};

/* One read-only slot and the pages of it the guest tests. */
struct ro_region {
	const char *name;
	uint32_t slot;
	uint64_t gpa, size;
	int nr_tested;
	/* Even entries are loaded first, odd ones stored to first. */
	uint32_t tested[RO_MAX_TESTED];
};

static const struct ro_region ro_regions[RO_NR_REGIONS] = {
	{ "4K", KMMU_SLOT_FIRST_FREE, RO_4K_GPA, RO_4K_SIZE, 8,
	  { 0, 1, 2, 3, 17, 30, 62, 63 } },
	/* Both 2M frames, their first and last pages, loads before stores in each. */
	{ "THP", KMMU_SLOT_FIRST_FREE + 1, RO_THP_GPA, RO_THP_SIZE, 10,
	  { 0, 1, 256, 255, 511, 510, 512, 513, 1023, 1000 } },
};

/* What the host keeps in word 0 of page @page of region @r, generation @gen. */
static inline uint64_t ro_pattern(int r, uint64_t page, uint64_t gen)
{
	return 1ULL << 62 | (uint64_t)(r + 1) << 48 | page << 16 | gen;
}

/* What the guest stores there: never a pattern (bit 61). */
static inline uint64_t ro_store_value(int r, uint64_t page, uint64_t gen, uint64_t nth)
{
	return ro_pattern(r, page, gen) | 1ULL << 61 | nth << 8;
}

/* Shared by the guest and the host's MMIO handler. */
struct ro_shared {
	uint64_t expect_gpa;	/* the store the guest is about to make, 0: none */
	uint64_t expect_val;
	uint64_t exits;		/* stores that exited exactly as announced */
	uint64_t gen;		/* the generation the tested pages hold */
};

FIXTURE(ro) {
	struct kmmu_test_run run;	/* the VM is run.vm */
	struct kmmu_mem mem4k;
	void *thp, *thp_raw;
	uint64_t thp_raw_size;
	uint8_t *hva[RO_NR_REGIONS];
	struct ro_shared *sh;
	uint32_t ro_flags;		/* KVM_MEM_READONLY, or 0 when injected */
	uint64_t gen;			/* the host's view of ro_shared.gen */
	int toggle_errno;		/* of the in-place READONLY toggle */
	uint64_t pages_2m[RO_PHASE_RO_AGAIN + 1];
	uint64_t exits_want;
	char bad[2048];
	int nr_bad;
};

/* ---- the guest ---- */

static uint64_t g_read(volatile uint64_t *p)
{
	return *p;
}

static void g_load(int r, uint64_t page, uint64_t want)
{
	uint64_t gva = ro_regions[r].gpa + page * KMMU_PAGE_SIZE;
	uint64_t got = g_read((volatile uint64_t *)gva);

	if (got != want)
		GUEST_FAIL("load from gpa %#lx (page %lu of slot %lu) read %#lx, expected %#lx",
			   gva, page, ro_regions[r].slot, got, want);
}

/* A store that must exit as MMIO (@exit) or reach memory. */
static void g_store(struct ro_shared *sh, int r, uint64_t page, uint64_t val, bool exit)
{
	uint64_t gva = ro_regions[r].gpa + page * KMMU_PAGE_SIZE;
	uint64_t n = g_read(&sh->exits);

	/* Volatile: the store in flight must be in memory when the exit comes. */
	if (exit) {
		*(volatile uint64_t *)&sh->expect_val = val;
		*(volatile uint64_t *)&sh->expect_gpa = gva;
	}
	*(volatile uint64_t *)gva = val;
	*(volatile uint64_t *)&sh->expect_gpa = 0;
	if (exit && g_read(&sh->exits) != n + 1)
		GUEST_FAIL("store of %#lx to read-only gpa %#lx (page %lu of slot %lu) did not exit as MMIO: it reached memory",
			   val, gva, page, ro_regions[r].slot);
	if (!exit && g_read(&sh->exits) != n)
		GUEST_FAIL("store of %#lx to read-write gpa %#lx (page %lu of slot %lu) exited",
			   val, gva, page, ro_regions[r].slot);
}

/* Every tested page of a read-only slot, in its order (see the top). */
static void g_readonly(struct ro_shared *sh)
{
	uint64_t gen = g_read(&sh->gen);
	int r, j;

	for (r = 0; r < RO_NR_REGIONS; r++) {
		for (j = 0; j < ro_regions[r].nr_tested; j++) {
			uint64_t p = ro_regions[r].tested[j], old = ro_pattern(r, p, gen);

			if (j % 2 == 0) {
				g_load(r, p, old);
				g_store(sh, r, p, ro_store_value(r, p, gen, 1), true);
				g_load(r, p, old);
				g_store(sh, r, p, ro_store_value(r, p, gen, 2), true);
			} else {
				g_store(sh, r, p, ro_store_value(r, p, gen, 1), true);
				g_load(r, p, old);
				g_store(sh, r, p, ro_store_value(r, p, gen, 2), true);
				g_load(r, p, old);
			}
		}
	}
}

/* The read-write slots: the next generation reaches memory, exit-free. */
static void g_readwrite(struct ro_shared *sh)
{
	uint64_t gen = g_read(&sh->gen);
	int r, j;

	for (r = 0; r < RO_NR_REGIONS; r++) {
		for (j = 0; j < ro_regions[r].nr_tested; j++) {
			uint64_t p = ro_regions[r].tested[j];

			g_load(r, p, ro_pattern(r, p, gen));
			g_store(sh, r, p, ro_pattern(r, p, gen + 1), false);
			g_load(r, p, ro_pattern(r, p, gen + 1));
		}
	}
}

static void g_main(uint32_t id, void *arg)
{
	struct ro_shared *sh = arg;

	g_readonly(sh);
	GUEST_SYNC(RO_PHASE_RO);
	g_readwrite(sh);
	GUEST_SYNC(RO_PHASE_RW);
	g_readonly(sh);
	GUEST_SYNC(RO_PHASE_RO_AGAIN);
}

/* ---- the host ---- */

static bool ro_is_tested(int r, uint64_t page)
{
	int j;

	for (j = 0; j < ro_regions[r].nr_tested; j++)
		if (ro_regions[r].tested[j] == page)
			return true;
	return false;
}

/* Word 0 of every page of both slots: what the host wrote, the tested ones at @gen. */
static void ro_verify_memory(FIXTURE_DATA(ro) *self, uint64_t phase)
{
	size_t off = strlen(self->bad);
	uint64_t p;
	int r;

	for (r = 0; r < RO_NR_REGIONS; r++) {
		for (p = 0; p < ro_regions[r].size / KMMU_PAGE_SIZE; p++) {
			uint64_t got = *(volatile uint64_t *)(self->hva[r] + p * KMMU_PAGE_SIZE);
			uint64_t want = ro_pattern(r, p, ro_is_tested(r, p) ? self->gen : 0);

			if (got == want)
				continue;
			if (self->nr_bad++ < 8 && off < sizeof(self->bad))
				off += snprintf(self->bad + off, sizeof(self->bad) - off,
						"\n  after phase %llu: page %llu of the %s slot holds %#llx, want %#llx",
						(unsigned long long)phase, (unsigned long long)p,
						ro_regions[r].name, (unsigned long long)got,
						(unsigned long long)want);
		}
	}
}

/* DELETE and CREATE both slots over the same memory with @flags. */
static int ro_recreate(FIXTURE_DATA(ro) *self, uint32_t flags)
{
	int r, ret;

	for (r = 0; r < RO_NR_REGIONS; r++) {
		ret = kmmu_slot_delete(self->run.vm, ro_regions[r].slot);
		if (!ret)
			ret = __kmmu_slot_add(self->run.vm, ro_regions[r].slot, ro_regions[r].gpa,
					      ro_regions[r].size, self->hva[r], flags);
		if (ret)
			return ret;
	}
	return 0;
}

static uint64_t ro_tested_pages(void)
{
	uint64_t n = 0;
	int r;

	for (r = 0; r < RO_NR_REGIONS; r++)
		n += ro_regions[r].nr_tested;
	return n;
}

static uint64_t h_sync(struct kmmu_vcpu *vcpu, uint64_t phase, void *ctx)
{
	FIXTURE_DATA(ro) *self = ctx;
	uint64_t pages[3];
	int ret;

	if (phase < RO_PHASE_RO || phase > RO_PHASE_RO_AGAIN) {
		kmmu_vcpu_fail(vcpu, "GUEST_SYNC(%llu): no such phase", (unsigned long long)phase);
		return 0;
	}
	if (!kmmu_stats_vm_pages(kmmu_vm_fd(self->run.vm), pages))
		self->pages_2m[phase] = pages[1];
	if (phase != RO_PHASE_RW)
		self->exits_want += 2 * ro_tested_pages();
	if (self->sh->exits != self->exits_want)
		kmmu_vcpu_fail(vcpu, "after phase %llu: %llu MMIO store exits, want %llu",
			       (unsigned long long)phase, (unsigned long long)self->sh->exits,
			       (unsigned long long)self->exits_want);
	if (phase == RO_PHASE_RW)
		self->gen++;
	ro_verify_memory(self, phase);

	switch (phase) {
	case RO_PHASE_RO:
		ret = ro_recreate(self, 0);
		if (ret)
			kmmu_vcpu_fail(vcpu, "re-creating the slots read-write: %s", strerror(-ret));
		break;
	case RO_PHASE_RW:
		/* KVM refuses a flags-only update that toggles READONLY. */
		self->toggle_errno = -kmmu_slot_set_flags(self->run.vm, ro_regions[0].slot,
							  KVM_MEM_READONLY);
		ret = ro_recreate(self, self->ro_flags);
		if (ret)
			kmmu_vcpu_fail(vcpu, "re-creating the slots read-only: %s", strerror(-ret));
		self->sh->gen = self->gen;
		break;
	default:
		break;
	}
	return 0;
}

static int h_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		  bool is_write, void *ctx)
{
	FIXTURE_DATA(ro) *self = ctx;
	uint64_t val = 0;

	if (len == sizeof(val))
		memcpy(&val, data, len);
	if (!is_write || len != sizeof(val) || !self->sh->expect_gpa ||
	    gpa != self->sh->expect_gpa || val != self->sh->expect_val) {
		kmmu_vcpu_fail(vcpu, "unexpected MMIO %s of %u bytes at gpa %#llx (value %#llx); the guest's store in flight: %#llx to gpa %#llx",
			       is_write ? "store" : "load", len, (unsigned long long)gpa,
			       (unsigned long long)val, (unsigned long long)self->sh->expect_val,
			       (unsigned long long)self->sh->expect_gpa);
		return -1;
	}
	self->sh->exits++;
	return 0;
}

static const char *ro_inject;

FIXTURE_SETUP(ro)
{
	self->mem4k.fd = -1;
	KMMU_TEST_SETUP(&self->run, NULL);
}

FIXTURE_TEARDOWN(ro)
{
	if (!self->run.started)
		return;
	KMMU_TEST_END(&self->run);
	kmmu_mem_free(&self->mem4k);
	if (self->thp_raw)
		munmap(self->thp_raw, self->thp_raw_size);
	ksft_print_msg("%.2f s\n", self->run.dur);
}

KMMU_TEST_F(ro, readonly, 120)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = 1, .shared_size = 4096 };
	struct kmmu_vm_handlers h = { .sync = h_sync, .mmio = h_mmio, .ctx = self };
	uint64_t sh_gva, p;
	char err[512];
	int r;

	self->ro_flags = ro_inject ? 0 : KVM_MEM_READONLY;
	kmmu_test_run_trace(&self->run, "memslot_flags_test", &vo, err, sizeof(err));
	kmmu_vm_create(&self->run.vm, &vo);
	kmmu_trace_session_vm(self->run.trace, kmmu_kvm_cap(kmmu_vm_fd(self->run.vm),
							KVM_CAP_MULTI_ADDRESS_SPACE));
	if (kmmu_kvm_cap(kmmu_vm_fd(self->run.vm), KVM_CAP_READONLY_MEM) <= 0)
		SKIP(return, "KVM has no read-only memslots (KVM_CAP_READONLY_MEM)");

	self->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(*self->sh), &sh_gva);
	ASSERT_NE(NULL, self->sh);
	ASSERT_EQ(0, kmmu_mem_alloc(&self->mem4k, RO_4K_SIZE, KMMU_BACKING_MEMFD, -1));
	self->hva[0] = self->mem4k.hva;
	self->thp = kmmu_map_2m_aligned(RO_THP_SIZE, true, &self->thp_raw, &self->thp_raw_size);
	ASSERT_NE(NULL, self->thp) TH_LOG("mmap of %llu bytes: %s",
					  (unsigned long long)RO_THP_SIZE, strerror(errno));
	/* The checker's janitor forks: shared copy-on-write, every THP would split. */
	ASSERT_EQ(0, madvise(self->thp_raw, self->thp_raw_size, MADV_DONTFORK))
		TH_LOG("madvise(MADV_DONTFORK): %s", strerror(errno));
	self->hva[1] = self->thp;
	for (r = 0; r < RO_NR_REGIONS; r++)
		for (p = 0; p < ro_regions[r].size / KMMU_PAGE_SIZE; p++)
			*(uint64_t *)(self->hva[r] + p * KMMU_PAGE_SIZE) = ro_pattern(r, p, 0);

	kmmu_vm_map(self->run.vm, RO_4K_GPA, RO_4K_GPA, RO_4K_SIZE, KMMU_MAP_WRITE | KMMU_MAP_NX);
	kmmu_vm_map(self->run.vm, RO_THP_GPA, RO_THP_GPA, RO_THP_SIZE,
		    KMMU_MAP_WRITE | KMMU_MAP_NX | KMMU_MAP_HUGE);
	for (r = 0; r < RO_NR_REGIONS; r++)
		kmmu_slot_add(self->run.vm, ro_regions[r].slot, ro_regions[r].gpa,
			      ro_regions[r].size, self->hva[r], self->ro_flags);

	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_main, (void *)(uintptr_t)sh_gva);
	kmmu_vm_wait(self->run.vm, 60);

	ksft_print_msg("MMIO store exits to read-only slots: %llu (%llu tested pages, 2 stores each, 2 read-only phases)\n",
		       (unsigned long long)self->sh->exits, (unsigned long long)ro_tested_pages());
	ksft_print_msg("KVM pages_2m after each phase: read-only %llu, read-write %llu, read-only again %llu\n",
		       (unsigned long long)self->pages_2m[RO_PHASE_RO],
		       (unsigned long long)self->pages_2m[RO_PHASE_RW],
		       (unsigned long long)self->pages_2m[RO_PHASE_RO_AGAIN]);
	ASSERT_EQ(0, self->nr_bad) TH_LOG("%d pages whose memory is not what it must be:%s",
					  self->nr_bad, self->bad);
	ASSERT_EQ(EINVAL, self->toggle_errno)
		TH_LOG("a flags-only update toggling KVM_MEM_READONLY returned %s, want EINVAL",
		       self->toggle_errno ? strerror(self->toggle_errno) : "success");
	if (self->run.trace) {
		struct kmmu_check_result res;

		ASSERT_EQ(0, kmmu_test_run_check_result(&self->run, &res))
			TH_LOG("the checker found the kernel's MMU events diverging from the reference, or could not judge them (see its lines above)");
		/* kvm_mmu_set_spte is traced on both MMUs: never left unjudged. */
		ASSERT_NE(0, res.checked[KMMU_PROP_SPTE_WRITABLE])
			TH_LOG("the checker judged no SPTE of the read-only slots: %s",
			       res.not_checkable[KMMU_PROP_SPTE_WRITABLE] ?
			       res.not_checkable[KMMU_PROP_SPTE_WRITABLE] : "no reason given");
	}
}

static void ro_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-h]\n"
		"$KMMU_FLAGS_INJECT=drop-readonly plants a bug in the test, which must then\n"
		"fail: its read-only slots are created without KVM_MEM_READONLY\n",
		prog);
}

int main(int argc, char **argv)
{
	const char *prog = "memslot_flags_test";
	struct kmmu_run_opts run = { .cli = { ro_usage, NULL } };

	kmmu_run_parse(&run, prog, &argc, argv);
	ro_inject = getenv("KMMU_FLAGS_INJECT");
	if (ro_inject && !*ro_inject)
		ro_inject = NULL;
	if (ro_inject && strcmp(ro_inject, "drop-readonly"))
		kmmu_usage_error(prog, "KMMU_FLAGS_INJECT wants drop-readonly");
	kmmu_test_header(prog, "%s%s", ro_inject ? "INJECTED BUG: " : "no injected bug",
			 ro_inject ? ro_inject : "");
	return test_harness_run(argc, argv);
}
