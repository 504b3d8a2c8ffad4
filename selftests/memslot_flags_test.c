// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_flags_test: memslot semantics checked in a fixed order that
 * needs no luck: KVM_MEM_READONLY slots (ro.readonly, here), and that no
 * vCPU reaches a slot once it is deleted or moved away (gone.data_slot,
 * gone.system_slot: see "slots that are gone" below).
 *
 * ro.readonly:
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
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

static bool flags_drop_readonly;	/* KMMU_FLAGS_INJECT=drop-readonly */

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

	self->ro_flags = flags_drop_readonly ? 0 : KVM_MEM_READONLY;
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

/*
 * ---- slots that are gone ----
 *
 * After KVM_SET_USER_MEMORY_REGION deletes a slot or moves it away, no
 * vCPU may reach guest memory through the old slot: an access to its old
 * gpas must exit as MMIO (no slot), whatever the vCPU looked up last.
 * KVM keeps a per-vCPU cache of the slot it found last
 * (kvm_vcpu_gfn_to_memslot(), vcpu->last_used_slot) and drops it when the
 * memslot generation changes; without that (ci/mutants/patches/003) the
 * cache keeps returning the freed slot for gfns of its old range, as long
 * as the first lookup after the update is in that range.
 *
 * data_slot: a 4K (memfd) and a THP slot.  Each round, per slot and per
 * DELETE / MOVE: the guest loads a word of the slot, its hypercall asks
 * the host to delete or move the slot, and the guest loads the same gpa
 * again: that load must exit as MMIO at exactly that gpa (the host's
 * handler answers with a value memory never holds), and after a MOVE the
 * same page at its new gpa must read the memory.  Then the slot goes back.
 *
 * system_slot: the runtime's system slot holds the guest's page tables,
 * stack and ucall block, so after it is gone the guest can do nothing.
 * A fresh VM per round and per way: DELETE it, or MOVE it away
 * (to KMMU_GPA_TEST), either
 *   at_exit: in the handler of the guest's hypercall (the vCPU's last
 *            exit), or
 *   running: from the main thread while the guest spins, after its last
 *            fault, a store to a page of the slot it had not touched, so
 *            that the vCPU's last lookup is the system slot.
 * The host then lets the guest on (a flag in the slot's memory); a kernel
 * that runs the vCPU through the old slot lets the guest reach its next
 * hypercall, which fails the test.  A correct one ends the vCPU: with
 * KVM_EXIT_SHUTDOWN (the shadow MMU cannot load the root of the guest's
 * page tables: mmu_check_root() makes a triple fault), an internal error,
 * an MMIO exit at a gpa of the old slot, or a KVM_RUN error; the counts
 * of each are printed.  The rounds (--rounds) repeat the cheap sequence
 * so that one freed slot reused in time does not hide the bug.
 *
 * $KMMU_FLAGS_INJECT=keep-slot plants a bug in the test: the host skips
 * the DELETE / MOVE it claims to make, so the guest goes on through the
 * slot as a kernel that kept the old slot would let it; both tests must
 * fail.
 */
#define GONE_4K_GPA	(KMMU_GPA_TEST + (2ULL << 30))
#define GONE_4K_ALT	(KMMU_GPA_TEST + (3ULL << 30))
#define GONE_4K_SIZE	(16 * KMMU_PAGE_SIZE)
#define GONE_THP_GPA	(KMMU_GPA_TEST + (4ULL << 30))	/* 2M aligned */
#define GONE_THP_ALT	(KMMU_GPA_TEST + (5ULL << 30))
#define GONE_THP_SIZE	KMMU_HPAGE_SIZE
#define GONE_NR_REGIONS	2
/* Where system_slot moves the system slot: free in its VMs. */
#define GONE_SYS_ALT	KMMU_GPA_TEST
/* Loop iterations before the spinning guest's last fault (its loop's own code is mapped). */
#define GONE_SPIN_WARM	1000
#define GONE_ROUNDS_DEFAULT	16

enum gone_op { GONE_DELETE, GONE_MOVE, GONE_NR_OPS };
enum gone_when { GONE_AT_EXIT, GONE_RUNNING, GONE_NR_WHEN };

static const char *const gone_op_name[GONE_NR_OPS] = { "DELETE", "MOVE" };
static const char *const gone_when_name[GONE_NR_WHEN] = { "at_exit", "running" };

/* A data slot of data_slot and where a MOVE takes it. */
struct gone_region {
	const char *name;
	uint32_t slot;
	uint64_t gpa, alt, size;
};

static const struct gone_region gone_regions[GONE_NR_REGIONS] = {
	{ "4K", KMMU_SLOT_FIRST_FREE, GONE_4K_GPA, GONE_4K_ALT, GONE_4K_SIZE },
	{ "THP", KMMU_SLOT_FIRST_FREE + 1, GONE_THP_GPA, GONE_THP_ALT, GONE_THP_SIZE },
};

/* data_slot's hypercalls: the host deletes / moves a slot, or puts it back. */
#define GONE_SYNC_OP		0x100
#define GONE_SYNC_RESTORE	0x200
#define GONE_SYNC(kind, r, op)	((kind) | (r) << 1 | (op))

/* system_slot's hypercalls. */
#define GONE_SYNC_SYS_EXIT	1	/* at_exit: the host removes the slot here */
#define GONE_SYNC_SYS_REACHED	2	/* the guest went on after it was gone */

/* What the host keeps in word 0 of page @page of data slot @r. */
static inline uint64_t gone_pattern(int r, uint64_t page)
{
	return 1ULL << 62 | (uint64_t)(r + 1) << 48 | page << 16 | 0x5107;
}

/* What the MMIO handler answers a load from @gpa with: never a pattern. */
static inline uint64_t gone_mmio_value(uint64_t gpa)
{
	return 1ULL << 63 | gpa;
}

/* Shared by the guest and the host (page 0 of the shared region). */
struct gone_shared {
	uint64_t rounds;	/* data_slot: rounds */
	uint64_t expect_gpa;	/* data_slot: the load that must exit, 0: none */
	uint64_t exits;		/* data_slot: loads that exited as announced */
	uint64_t go;		/* system_slot: the host let the guest on */
	uint64_t fresh_gva;	/* system_slot: a page the guest has not touched */
};

/* How a system_slot vCPU ended after its slot was gone. */
enum gone_end {
	GONE_END_SHUTDOWN,
	GONE_END_INTERNAL_ERROR,
	GONE_END_MMIO,		/* at a gpa of the old slot */
	GONE_END_RUN_ERROR,
	GONE_NR_ENDS,
};

static const char *const gone_end_name[GONE_NR_ENDS] = {
	"SHUTDOWN", "INTERNAL_ERROR", "MMIO at an old gpa", "KVM_RUN error",
};

/* One system_slot VM. */
struct gone_sys {
	struct kmmu_vm *vm;
	struct gone_shared *sh;
	volatile uint64_t *fresh;	/* host view of the guest's untouched page */
	enum gone_op op;
	enum gone_when when;
	uint64_t gpa, size;		/* where the system slot was */
	void *hva;
	atomic_bool gone;		/* the update is under way: the guest may end */
	int op_ret;
	bool ended, reached;
	enum gone_end end;
	uint64_t end_gpa;
	int end_errno;
};

FIXTURE(gone) {
	struct kmmu_test_run run;	/* data_slot's VM; system_slot's current one */
	struct kmmu_mem mem4k;
	void *thp, *thp_raw;
	uint64_t thp_raw_size;
	uint8_t *hva[GONE_NR_REGIONS];
	struct gone_shared *sh;
	uint64_t slot_ops;
};

static bool flags_keep_slot;	/* KMMU_FLAGS_INJECT=keep-slot */
static uint64_t gone_rounds = GONE_ROUNDS_DEFAULT;

/* ---- the guests ---- */

static void g_data(uint32_t id, void *arg)
{
	struct gone_shared *sh = arg;
	uint64_t rounds = g_read(&sh->rounds), n, op;
	int r;

	for (n = 0; n < rounds; n++) {
		for (r = 0; r < GONE_NR_REGIONS; r++) {
			const struct gone_region *g = &gone_regions[r];

			for (op = 0; op < GONE_NR_OPS; op++) {
				uint64_t page = (n * GONE_NR_OPS + op) * 5 % (g->size / KMMU_PAGE_SIZE);
				uint64_t gpa = g->gpa + page * KMMU_PAGE_SIZE, e, v;

				/* The vCPU's last access before the update: this slot. */
				v = g_read((volatile uint64_t *)gpa);
				if (v != gone_pattern(r, page))
					GUEST_FAIL("round %lu: load from gpa %#lx (page %lu of slot %lu) read %#lx, expected %#lx",
						   n, gpa, page, (uint64_t)g->slot, v, gone_pattern(r, page));
				GUEST_SYNC(GONE_SYNC(GONE_SYNC_OP, r, op));

				e = g_read(&sh->exits);
				*(volatile uint64_t *)&sh->expect_gpa = gpa;
				v = g_read((volatile uint64_t *)gpa);
				*(volatile uint64_t *)&sh->expect_gpa = 0;
				if ((g_read(&sh->exits) != e + 1 || v != gone_mmio_value(gpa)) &&
				    op == GONE_DELETE)
					GUEST_FAIL("round %lu: after slot %lu was deleted, the load from its gpa %#lx (page %lu) read %#lx without an MMIO exit: the vCPU reached the deleted slot's memory",
						   n, (uint64_t)g->slot, gpa, page, v);
				if (g_read(&sh->exits) != e + 1 || v != gone_mmio_value(gpa))
					GUEST_FAIL("round %lu: after slot %lu was moved away, the load from its old gpa %#lx (page %lu) read %#lx without an MMIO exit: the vCPU reached the slot through its old gpa",
						   n, (uint64_t)g->slot, gpa, page, v);
				if (op == GONE_MOVE) {
					uint64_t alt = g->alt + page * KMMU_PAGE_SIZE;

					v = g_read((volatile uint64_t *)alt);
					if (v != gone_pattern(r, page))
						GUEST_FAIL("round %lu: after slot %lu moved, the load from its new gpa %#lx (page %lu) read %#lx, expected %#lx",
							   n, (uint64_t)g->slot, alt, page, v, gone_pattern(r, page));
				}
				GUEST_SYNC(GONE_SYNC(GONE_SYNC_RESTORE, r, op));
			}
		}
	}
}

static void g_sys(uint32_t id, void *arg)
{
	struct gone_shared *sh = arg;
	volatile uint64_t *fresh = (volatile uint64_t *)g_read(&sh->fresh_gva);
	uint64_t n;

	GUEST_SYNC(GONE_SYNC_SYS_EXIT);
	/*
	 * The loop's code and the flag are mapped after the first
	 * iterations; the store to the fresh page is then the vCPU's last
	 * fault, a lookup in the system slot, before the host removes it.
	 */
	for (n = 0; !g_read(&sh->go); n++)
		if (n == GONE_SPIN_WARM)
			*fresh = 1;
	GUEST_SYNC(GONE_SYNC_SYS_REACHED);
}

/* ---- data_slot, the host ---- */

static int gone_data_op(FIXTURE_DATA(gone) *self, int r, enum gone_op op, bool restore)
{
	const struct gone_region *g = &gone_regions[r];

	if (flags_keep_slot)
		return 0;
	if (op == GONE_MOVE)
		return kmmu_slot_move(self->run.vm, g->slot, restore ? g->gpa : g->alt);
	if (restore)
		return __kmmu_slot_add(self->run.vm, g->slot, g->gpa, g->size, self->hva[r], 0);
	return kmmu_slot_delete(self->run.vm, g->slot);
}

static uint64_t h_gone_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	FIXTURE_DATA(gone) *self = ctx;
	uint64_t kind = value & ~0xffULL, r = (value >> 1) & 0x7f, op = value & 1;
	int ret;

	if ((kind != GONE_SYNC_OP && kind != GONE_SYNC_RESTORE) || r >= GONE_NR_REGIONS) {
		kmmu_vcpu_fail(vcpu, "GUEST_SYNC(%#llx): no such request", (unsigned long long)value);
		return 0;
	}
	ret = gone_data_op(self, r, op, kind == GONE_SYNC_RESTORE);
	if (ret)
		kmmu_vcpu_fail(vcpu, "%s %s of the %s slot: %s",
			       kind == GONE_SYNC_RESTORE ? "undoing the" : "the",
			       gone_op_name[op], gone_regions[r].name, strerror(-ret));
	else if (kind == GONE_SYNC_OP)
		self->slot_ops++;
	return 0;
}

static int h_gone_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		       bool is_write, void *ctx)
{
	FIXTURE_DATA(gone) *self = ctx;
	uint64_t v = gone_mmio_value(gpa);

	if (is_write || len != sizeof(v) || !self->sh->expect_gpa || gpa != self->sh->expect_gpa) {
		kmmu_vcpu_fail(vcpu, "unexpected MMIO %s of %u bytes at gpa %#llx; the guest's load in flight: gpa %#llx",
			       is_write ? "store" : "load", len, (unsigned long long)gpa,
			       (unsigned long long)self->sh->expect_gpa);
		return -1;
	}
	memcpy(data, &v, sizeof(v));
	self->sh->exits++;
	return 0;
}

FIXTURE_SETUP(gone)
{
	self->mem4k.fd = -1;
	KMMU_TEST_SETUP(&self->run, NULL);
}

FIXTURE_TEARDOWN(gone)
{
	if (!self->run.started)
		return;
	KMMU_TEST_END(&self->run);
	kmmu_mem_free(&self->mem4k);
	if (self->thp_raw)
		munmap(self->thp_raw, self->thp_raw_size);
	ksft_print_msg("%.2f s\n", self->run.dur);
}

KMMU_TEST_F(gone, data_slot, 120)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = 1, .shared_size = 4096 };
	struct kmmu_vm_handlers h = { .sync = h_gone_sync, .mmio = h_gone_mmio, .ctx = self };
	uint64_t sh_gva, p;
	char err[512];
	int r;

	kmmu_test_run_trace(&self->run, "memslot_flags_test", &vo, err, sizeof(err));
	kmmu_vm_create(&self->run.vm, &vo);
	kmmu_trace_session_vm(self->run.trace, kmmu_kvm_cap(kmmu_vm_fd(self->run.vm),
							KVM_CAP_MULTI_ADDRESS_SPACE));
	self->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(*self->sh), &sh_gva);
	ASSERT_NE(NULL, self->sh);
	self->sh->rounds = gone_rounds;
	ASSERT_EQ(0, kmmu_mem_alloc(&self->mem4k, GONE_4K_SIZE, KMMU_BACKING_MEMFD, -1));
	self->hva[0] = self->mem4k.hva;
	self->thp = kmmu_map_2m_aligned(GONE_THP_SIZE, true, &self->thp_raw, &self->thp_raw_size);
	ASSERT_NE(NULL, self->thp) TH_LOG("mmap of %llu bytes: %s",
					  (unsigned long long)GONE_THP_SIZE, strerror(errno));
	/* The checker's janitor forks: shared copy-on-write, the THP would split. */
	ASSERT_EQ(0, madvise(self->thp_raw, self->thp_raw_size, MADV_DONTFORK))
		TH_LOG("madvise(MADV_DONTFORK): %s", strerror(errno));
	self->hva[1] = self->thp;
	for (r = 0; r < GONE_NR_REGIONS; r++) {
		const struct gone_region *g = &gone_regions[r];
		unsigned int huge = r ? KMMU_MAP_HUGE : 0;

		for (p = 0; p < g->size / KMMU_PAGE_SIZE; p++)
			*(uint64_t *)(self->hva[r] + p * KMMU_PAGE_SIZE) = gone_pattern(r, p);
		kmmu_vm_map(self->run.vm, g->gpa, g->gpa, g->size, KMMU_MAP_NX | huge);
		kmmu_vm_map(self->run.vm, g->alt, g->alt, g->size, KMMU_MAP_NX | huge);
		kmmu_slot_add(self->run.vm, g->slot, g->gpa, g->size, self->hva[r], 0);
	}

	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_data, (void *)(uintptr_t)sh_gva);
	kmmu_vm_wait(self->run.vm, 90);

	ksft_print_msg("data slots: %llu DELETE/MOVE (%llu rounds x 2 slots x 2), %llu loads from an old gpa, each an MMIO exit there%s\n",
		       (unsigned long long)self->slot_ops, (unsigned long long)gone_rounds,
		       (unsigned long long)self->sh->exits,
		       flags_keep_slot ? " (INJECTED: keep-slot, no update issued)" : "");
	ASSERT_EQ(gone_rounds * GONE_NR_REGIONS * GONE_NR_OPS, self->sh->exits);
	KMMU_TEST_CHECK(&self->run);
}

/* ---- system_slot, the host ---- */

/* Deletes or moves the system slot of @s->vm (unless injected): 0 or -errno. */
static int gone_sys_op(struct gone_sys *s)
{
	atomic_store(&s->gone, true);
	if (flags_keep_slot)
		return 0;
	if (s->op == GONE_DELETE)
		return kmmu_slot_set_raw(s->vm, KMMU_SLOT_SYS, 0, s->gpa, 0, 0);
	return kmmu_slot_set_raw(s->vm, KMMU_SLOT_SYS, 0, GONE_SYS_ALT, s->size,
				 (uintptr_t)s->hva);
}

static void gone_sys_end(struct gone_sys *s, enum gone_end end)
{
	s->ended = true;
	s->end = end;
}

static uint64_t h_sys_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct gone_sys *s = ctx;

	switch (value) {
	case GONE_SYNC_SYS_EXIT:
		if (s->when == GONE_AT_EXIT) {
			s->op_ret = gone_sys_op(s);
			*(volatile uint64_t *)&s->sh->go = 1;
		}
		break;
	case GONE_SYNC_SYS_REACHED:
		s->reached = true;
		break;
	default:
		kmmu_vcpu_fail(vcpu, "GUEST_SYNC(%#llx): no such request", (unsigned long long)value);
	}
	return 0;
}

static int h_sys_exit(struct kmmu_vcpu *vcpu, uint32_t reason, void *ctx)
{
	struct gone_sys *s = ctx;

	if (!atomic_load(&s->gone))
		return -1;
	if (reason == KVM_EXIT_SHUTDOWN)
		gone_sys_end(s, GONE_END_SHUTDOWN);
	else if (reason == KVM_EXIT_INTERNAL_ERROR)
		gone_sys_end(s, GONE_END_INTERNAL_ERROR);
	else
		return -1;
	return 0;
}

static int h_sys_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		      bool is_write, void *ctx)
{
	struct gone_sys *s = ctx;

	if (!atomic_load(&s->gone) || gpa < s->gpa || gpa - s->gpa >= s->size) {
		kmmu_vcpu_fail(vcpu, "unexpected MMIO %s of %u bytes at gpa %#llx (the system slot was at gpa %#llx, %#llx bytes)",
			       is_write ? "store" : "load", len, (unsigned long long)gpa,
			       (unsigned long long)s->gpa, (unsigned long long)s->size);
		return -1;
	}
	gone_sys_end(s, GONE_END_MMIO);
	s->end_gpa = gpa;
	return 1;
}

static int h_sys_run_error(struct kmmu_vcpu *vcpu, int err, void *ctx)
{
	struct gone_sys *s = ctx;

	if (!atomic_load(&s->gone))
		return -1;
	gone_sys_end(s, GONE_END_RUN_ERROR);
	s->end_errno = err;
	return 1;
}

/* Until the spinning guest made its last fault (0), or it failed or took too long. */
static int gone_wait_fresh(struct gone_sys *s, double timeout_s)
{
	struct timespec ts = { 0, 1000000 };
	double waited = 0;

	while (!*s->fresh) {
		if (kmmu_vm_failed(s->vm))
			return -EIO;
		if (waited > timeout_s)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
		waited += 1e-3;
	}
	return 0;
}

KMMU_TEST_F(gone, system_slot, 300)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = 1, .shared_size = 2 * 4096 };
	struct kmmu_vm_handlers h = { .sync = h_sys_sync, .exit = h_sys_exit, .mmio = h_sys_mmio,
				      .run_error = h_sys_run_error };
	uint64_t ends[GONE_NR_OPS][GONE_NR_WHEN][GONE_NR_ENDS] = { 0 };
	uint64_t n, sh_gva, fresh_gva;
	int op, when, e, ret;

	for (n = 0; n < gone_rounds; n++) {
		for (op = 0; op < GONE_NR_OPS; op++) {
			for (when = 0; when < GONE_NR_WHEN; when++) {
				struct gone_sys s = { .op = op, .when = when };
				const char *way = gone_op_name[op], *at = gone_when_name[when];

				kmmu_vm_destroy(self->run.vm);
				self->run.vm = NULL;
				kmmu_vm_create(&self->run.vm, &vo);
				s.vm = self->run.vm;
				s.sh = kmmu_vm_alloc_shared(s.vm, sizeof(*s.sh), &sh_gva);
				s.fresh = kmmu_vm_alloc_shared(s.vm, sizeof(*s.fresh), &fresh_gva);
				ASSERT_TRUE(s.sh && s.fresh);
				s.sh->fresh_gva = fresh_gva;
				ASSERT_EQ(0, kmmu_vm_slot_region(s.vm, KMMU_SLOT_SYS, &s.gpa, &s.size,
								 &s.hva));
				h.ctx = &s;
				kmmu_vm_set_handlers(s.vm, &h);
				kmmu_vm_start(s.vm, g_sys, (void *)(uintptr_t)sh_gva);

				if (when == GONE_RUNNING) {
					ret = gone_wait_fresh(&s, 30);
					ASSERT_EQ(0, ret)
						TH_LOG("round %llu, %s %s: the guest did not reach its spin loop: %s",
						       (unsigned long long)n, way, at,
						       ret == -EIO ? kmmu_vm_errors(s.vm) : strerror(-ret));
					s.op_ret = gone_sys_op(&s);
					*(volatile uint64_t *)&s.sh->go = 1;
				}
				ret = __kmmu_vm_wait(s.vm, 30);
				ASSERT_EQ(0, s.op_ret)
					TH_LOG("round %llu: %s of the system slot: %s", (unsigned long long)n,
					       way, strerror(-s.op_ret));
				ASSERT_FALSE(s.reached)
					TH_LOG("round %llu: after %s of the system slot (%s), which holds the guest's page tables, stack and ucall block, the guest reached its next hypercall: KVM ran the vCPU through the old slot",
					       (unsigned long long)n, way, at);
				ASSERT_FALSE(kmmu_vm_failed(s.vm))
					TH_LOG("round %llu, %s of the system slot (%s): %s",
					       (unsigned long long)n, way, at, kmmu_vm_errors(s.vm));
				ASSERT_TRUE(s.ended)
					TH_LOG("round %llu: after %s of the system slot (%s) the vCPU neither stopped nor reached its next hypercall within 30 s (%s)",
					       (unsigned long long)n, way, at,
					       ret == -ETIMEDOUT ? "timed out" : strerror(-ret));
				ends[op][when][s.end]++;
				if (n == 0 && s.end == GONE_END_MMIO)
					ksft_print_msg("%s %s: MMIO exit at gpa %#llx\n", way, at,
						       (unsigned long long)s.end_gpa);
				if (n == 0 && s.end == GONE_END_RUN_ERROR)
					ksft_print_msg("%s %s: KVM_RUN: %s\n", way, at,
						       strerror(s.end_errno));
			}
		}
	}
	for (op = 0; op < GONE_NR_OPS; op++) {
		for (when = 0; when < GONE_NR_WHEN; when++) {
			char line[256];
			size_t off = 0;

			for (e = 0; e < GONE_NR_ENDS; e++)
				if (ends[op][when][e])
					off += snprintf(line + off, sizeof(line) - off, " %s %llu",
							gone_end_name[e],
							(unsigned long long)ends[op][when][e]);
			ksft_print_msg("system slot %s %s, how the vCPU ended in %llu rounds:%s\n",
				       gone_op_name[op], gone_when_name[when],
				       (unsigned long long)gone_rounds, off ? line : " -");
		}
	}
}

static void flags_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-h] [--rounds N]\n"
		"  --rounds N  rounds of the gone.* tests (default %d): a DELETE and a MOVE\n"
		"              of each data slot per round, four VMs whose system slot goes\n"
		"              per round\n"
		"$KMMU_FLAGS_INJECT plants a bug in the test, which must then fail:\n"
		"  drop-readonly  ro.readonly creates its read-only slots without\n"
		"                 KVM_MEM_READONLY\n"
		"  keep-slot      the gone.* tests skip the DELETE / MOVE they claim to make\n",
		prog, GONE_ROUNDS_DEFAULT);
}

static const struct kmmu_opt flags_cli_opts[] = {
	KMMU_OPT_U("rounds", 0, gone_rounds, 1, 10000, 0, "--rounds wants 1 to 10000"),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "memslot_flags_test", *inject;
	struct kmmu_run_opts run = { .cli = { flags_usage, flags_cli_opts } };

	kmmu_run_parse(&run, prog, &argc, argv);
	inject = getenv("KMMU_FLAGS_INJECT");
	if (inject && *inject) {
		if (!strcmp(inject, "drop-readonly"))
			flags_drop_readonly = true;
		else if (!strcmp(inject, "keep-slot"))
			flags_keep_slot = true;
		else
			kmmu_usage_error(prog, "KMMU_FLAGS_INJECT wants drop-readonly or keep-slot");
	} else {
		inject = NULL;
	}
	/* Four VMs a round, a few seconds each in a slow test VM. */
	KMMU_TEST_TIMEOUT(gone, system_slot, 120 + 20 * gone_rounds);
	KMMU_TEST_TIMEOUT(gone, data_slot, 60 + 10 * gone_rounds);
	kmmu_test_header(prog, "rounds %llu, %s%s", (unsigned long long)gone_rounds,
			 inject ? "INJECTED BUG: " : "no injected bug", inject ? inject : "");
	return test_harness_run(argc, argv);
}
