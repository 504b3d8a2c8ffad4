// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_log_test: KVM's dirty page logging, checked page by page against
 * what the guest wrote, through all three interfaces -- KVM_GET_DIRTY_LOG
 * (protect on harvest), KVM_CLEAR_DIRTY_LOG with manual protect (also with
 * KVM_DIRTY_LOG_INITIALLY_SET, and clears of 64-page-aligned sub-ranges)
 * and the dirty ring -- over 4K, THP and hugetlbfs backing, while 2 or
 * more vCPUs (one per host CPU) write and a host thread harvests, switches
 * logging off and on with flags-only updates, and deletes and re-creates
 * slots.
 *
 * Layout (GPA = GVA = KMMU_GPA_TEST + offset; the backing is one 2M-aligned
 * buffer at the same offsets, so huge mappings are possible wherever a slot
 * covers a whole 2M):
 *   slot A  [0, 4M)              1024 pages, two 2M regions
 *   slot B  [4M + 128K, 10M + 140K)  1539 pages: 32 pages off 2M alignment
 *           (so 64-page clears straddle 2M boundaries) and 3 pages beyond
 *           a multiple of 64 (the bitmap's partial last word); 2M regions
 *           [6M, 8M) and [8M, 10M) inside
 *   slot RO [12M, 16M)           guest only reads it: [12M, 14M) is
 *           PROT_READ on the host (KVM cannot map it writable), [14M, 16M)
 *           read-only in the guest's page tables
 * With THP or hugetlbfs backing the guest maps everything with 2M pages
 * (the shadow MMU needs both for a 2M SPTE); the test first runs with
 * logging off so that KVM maps 2M (KVM's pages_2m says whether it did),
 * and only then switches logging on, so the huge SPTEs must be split or
 * write-protected.
 *
 * Guest.  vCPU v owns the word at offset 64 * v of every data page.  Each
 * write first checks that the word still holds what v last wrote there
 * (kept in exp[v][p], in unlogged shared memory), then stores
 * VAL(gen, v, seq): the host's current generation, the vCPU and its write
 * counter, so every write changes the page; then updates exp and publishes
 * seq in progress[v].  Half the writes go to a small window of pages shared
 * by all vCPUs (so pages are written again right after a harvest protected
 * them, and by two vCPUs at once), the rest anywhere but the last round's
 * window (a write after the harvest that KVM did not log, through a stale
 * TLB entry, must not hide behind a new, logged one); one access in eight
 * reads an RO page and checks its pattern.  The guest parks at the gate
 * (GUEST_SYNC) when the host asks, between accesses.
 *
 * Host, per iteration: resume the vCPUs with a new generation; maybe switch
 * one slot's logging off or on (flags only, while they write); sleep;
 * note progress[] (writes completed before the harvest); harvest every
 * logged slot; let the vCPUs write on for half an interval; park them;
 * verify; maybe delete or re-create a slot (parked: the guest leaves absent
 * slots alone).  The oracle, for a data
 * page p of a logged slot, with B the pages reported since the last verify:
 *  - every word must hold exp (the host sees what the guest wrote);
 *  - changed (exp != its value at the last verify) by a write that was
 *    complete before the harvest (seq < progress noted) and made while
 *    logging was on (gen >= the generation published after logging went
 *    on) => p in B: otherwise a dirty page was MISSED;
 *  - changed by a later write and not in B => "owed": p must be in the
 *    next harvest (it was written while KVM harvested; KVM must report it
 *    now or next time, never not at all);
 *  - with manual protect, a page the last GET reported but the CLEAR left
 *    set must be reported again ("sticky"); after logging went on with
 *    KVM_DIRTY_LOG_INITIALLY_SET, the first GET must report every page;
 *  - in B without any of these reasons => an extra bit, counted; the same
 *    page reported that way by two harvests in a row (cleared each time,
 *    untouched by the guest in between) is a bit KVM does not clear, a
 *    failure.  Bits beyond the slot's last page are failures.
 * RO slot: a page KVM cannot map writable (host PROT_READ) is never
 * reported; pages read-only in the guest's page tables never are with
 * shadow paging, and with TDP at most once per vCPU in a row between
 * zaps (a read fault on writable host memory creates a writable SPTE,
 * which KVM marks dirty, and so may each vCPU that faulted with it).
 * Dirty ring: entries must name a logged slot and an offset inside it, and
 * KVM_RESET_DIRTY_RINGS must reset exactly the entries collected; vCPUs
 * collect their rings themselves on KVM_EXIT_DIRTY_RING_FULL.  KVM stats:
 * every report needs a fault, so the reports (ring entries) are at most
 * pf_taken; with huge backing, KVM must map 2M while logging is off,
 * before it is switched on and again after it is switched off for good.
 *
 * Also checked, in their own tests: the dirty ring's soft limit
 * (KVM_EXIT_DIRTY_RING_FULL before the ring overflows, with at least the
 * soft limit's entries in it) and the errnos of the dirty-log ioctls.
 *
 * $KMMU_DIRTY_INJECT=drop-one hides, from the first harvest after the first
 * round that reports a page the guest wrote before it, one such page, and
 * from every harvest after it (the test must fail); =drop-owed, the same
 * for a page the guest wrote only after the previous harvest (its "owed"
 * check, which the writes after each harvest exercise, must fail).
 *
 * One program in several files (dirty_log/dirty_log.h lists them): this
 * one holds the harness, every verdict and main(); the files in dirty_log/
 * return what they found, or an error with the reason.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/trace_log.h"
#include "dirty_log/dirty_log.h"

struct dl_opts dl_opts = {
	.vcpus = 2,
	.iterations = 12,
	.interval_ms = 20,
	.ring_entries = 256,
};

/* ---- the test over interfaces and backings ---- */

FIXTURE(dirty) {
	struct dl_ctx *c;
	struct kmmu_test_run run;	/* the hygiene baseline; the VM is c->vm */
	struct kmmu_janitor jan;
	bool jan_started;
};

FIXTURE_VARIANT(dirty) {
	enum dl_mode mode;
	enum dl_backing backing;
};

#define DL_VARIANT(name, m, b)					\
	FIXTURE_VARIANT_ADD(dirty, name) { .mode = m, .backing = b }

/* Every interface over every backing: NAME_4k, NAME_thp, NAME_hugetlb. */
#define DL_VARIANTS(name, m)					\
	DL_VARIANT(name##_4k, m, DL_4K);			\
	DL_VARIANT(name##_thp, m, DL_THP);			\
	DL_VARIANT(name##_hugetlb, m, DL_HUGETLB)

DL_VARIANTS(get, DL_GET);
DL_VARIANTS(clear, DL_CLEAR);
DL_VARIANTS(clear_init, DL_CLEAR_INIT);
DL_VARIANTS(ring, DL_RING);

FIXTURE_SETUP(dirty)
{
	KMMU_TEST_REQUIRE_KVM();
	if (!dl_opts.modes[variant->mode] || !dl_opts.backings[variant->backing])
		SKIP(return, "not selected (-M %s -B %s)", dl_mode_names[variant->mode],
		     dl_backing_names[variant->backing]);
	kmmu_test_run_start(&self->run, NULL);
}

FIXTURE_TEARDOWN(dirty)
{
	struct dl_ctx *c = self->c;
	uint64_t fast = 0, fixed = 0;

	if (c) {
		/* vCPUs at the gate, now or later, must be let go to be joined. */
		if (c->gate_init)
			kmmu_gate_finish(&c->gate, DL_CMD_QUIT);
		dl_vcpu_stat(c, "pf_fast", &fast);
		dl_vcpu_stat(c, "pf_fixed", &fixed);
		dl_stats_close(c);
		kmmu_vm_destroy(c->vm);
		c->vm = NULL;
		if (c->raw)
			munmap(c->raw, c->raw_size);
		if (c->harvests)
			ksft_print_msg("%s/%s: %ld harvests; %ld written pages reported (%ld checked strictly), %ld owed to the next harvest, %ld extra reports, %ld on guest-read-only pages, %ld writes untracked (logging off); logging on %ld off %ld, slots deleted %ld re-created %ld; %ld CLEAR calls (%ld partial); ring: %ld entries, %ld RING_FULL exits, %ld stale; faults: pf_fixed %llu pf_fast %llu; pages_2m: %lld with logging off, %lld logging, %lld after; seconds: VM %.2f, populate %.2f, rounds %.2f, finish %.2f\n",
				       dl_mode_names[c->mode], dl_backing_names[c->backing],
				       c->harvests, c->reported, c->strict, c->owed, c->extras,
				       c->ro_extras, c->untracked, c->toggles_on, c->toggles_off,
				       c->deletes, c->creates, c->clear_calls, c->partial_clears,
				       c->ring_entries, c->ring_full_exits, c->ring_stale,
				       (unsigned long long)fixed, (unsigned long long)fast,
				       (long long)c->pages_2m_populated,
				       (long long)c->pages_2m_logging,
				       (long long)c->pages_2m_recovered,
				       c->t_started - c->t0, c->t_populated - c->t_started,
				       c->t_rounds - c->t_populated, c->t_done - c->t_rounds);
		dl_ctx_free(c);
		self->c = NULL;
	}
	if (self->jan_started) {
		if (kmmu_janitor_undo(&self->jan))
			TH_LOG("restoring vm.nr_hugepages failed");
		kmmu_janitor_stop(&self->jan);
	}
	KMMU_TEST_END(&self->run);
}

KMMU_TEST_F(dirty, log, 300)
{
	struct dl_ctx *c;
	int r;

	c = calloc(1, sizeof(*c));
	ASSERT_NE(NULL, c);
	self->c = c;
	c->t0 = kmmu_now();
	ASSERT_EQ(0, dl_ctx_init(c, variant->mode, variant->backing)) TH_LOG("%s", c->err);
	if (variant->backing == DL_HUGETLB) {
		r = dl_hugetlb_reserve(c, &self->jan, &self->jan_started);
		if (r > 0)
			SKIP(return, "%s", c->err);
		ASSERT_EQ(0, r) TH_LOG("%s", c->err);
	}
	r = dl_start(c, &self->run);
	if (r > 0)
		SKIP(return, "%s", c->err);
	ASSERT_EQ(0, r) TH_LOG("%s", c->err);
	c->t_started = kmmu_now();
	r = dl_populate(c);
	c->t_populated = kmmu_now();
	if (r > 0)
		SKIP(return, "%s", c->err);
	ASSERT_EQ(0, r) TH_LOG("%s", c->err);
	/* Braces: ASSERT_EQ() is two statements. */
	for (c->iter = 0; c->iter < dl_opts.iterations; c->iter++) {
		ASSERT_EQ(0, dl_iteration(c, false)) TH_LOG("%s", c->err);
	}
	c->t_rounds = kmmu_now();
	ASSERT_EQ(0, dl_finish(c)) TH_LOG("%s", c->err);
	c->t_done = kmmu_now();
	/* With the injection the run must have failed above: say why not. */
	if (dl_opts.inject)
		TH_LOG("KMMU_DIRTY_INJECT=%s: %s", dl_opts.inject,
		       c->inject_done ? "the dropped page went unnoticed" :
		       "no harvest had a page to drop");
	/* The kernel's write protection at each enable and harvest (DIRTY_LOG_PROTECT). */
	KMMU_TEST_CHECK(&self->run);
}

/* ---- the dirty ring's soft limit ---- */

#define RF_PAGES_PER_ENTRY 4	/* pages written: 4x the ring's entries */

struct rf_ctx {
	uint32_t slot, entries, soft;
	uint64_t npages;
	uint8_t *seen;
	long exits, total, round;
	char err[256];
};

static void rf_gfn(void *ctx, uint32_t slot, uint64_t off)
{
	struct rf_ctx *c = ctx;

	c->total++;
	c->round++;
	if (slot != c->slot || off >= c->npages) {
		if (!c->err[0])
			snprintf(c->err, sizeof(c->err), "dirty ring entry for memslot %#x offset %llu: the guest wrote pages 0..%llu of memslot %#x",
				 slot, (unsigned long long)off,
				 (unsigned long long)c->npages - 1, c->slot);
		return;
	}
	c->seen[off] = 1;
}

static int rf_exit(struct kmmu_vcpu *vcpu, uint32_t reason, void *ctx)
{
	struct rf_ctx *c = ctx;
	int n, r;

	if (reason != KVM_EXIT_DIRTY_RING_FULL)
		return -1;
	c->round = 0;
	n = kmmu_vcpu_dirty_ring_collect(vcpu, rf_gfn, c);
	if (n < 0 || c->err[0]) {
		kmmu_vcpu_fail(vcpu, "collecting the ring: %s", n < 0 ? strerror(-n) : c->err);
		return 0;
	}
	if ((uint32_t)n < c->soft || (uint32_t)n > c->entries) {
		kmmu_vcpu_fail(vcpu, "KVM_EXIT_DIRTY_RING_FULL with %d entries in the ring: want its soft limit %u to %u (its size)",
			       n, c->soft, c->entries);
		return 0;
	}
	r = kmmu_vm_reset_dirty_rings(kmmu_vcpu_vm(vcpu));
	if (r != n) {
		kmmu_vcpu_fail(vcpu, "KVM_RESET_DIRTY_RINGS reset %d entries (%s), %d were collected",
			       r, r < 0 ? strerror(-r) : "ok", n);
		return 0;
	}
	c->exits++;
	return 1;
}

static void rf_guest(uint32_t v, void *arg)
{
	uint64_t n = (uint64_t)arg, p;

	for (p = 0; p < n; p++)
		*(volatile uint64_t *)(DL_GPA + p * DL_PAGE) = p + 1;
}

/* kvm_intel with PML reserves its 512-entry buffer in every ring too. */
static uint32_t rf_reserved(void)
{
	return 64 + (dl_pml() ? 512 : 0);
}

TEST(dirty_ring_full)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = 1 };
	struct rf_ctx c = { .slot = KMMU_SLOT_FIRST_FREE };
	struct kmmu_vm_handlers h = { .exit = rf_exit, .ctx = &c };
	struct kmmu_vm *vm = NULL;
	uint64_t bm[1], p, missing = 0;
	struct kmmu_mem mem = { .fd = -1 };
	char err[512], why[256];
	int fd, r;

	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd < 0)
		SKIP(return, "%s", why);
	if (kmmu_kvm_cap(fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL) <= 0 &&
	    kmmu_kvm_cap(fd, KVM_CAP_DIRTY_LOG_RING) <= 0) {
		close(fd);
		SKIP(return, "KVM has no dirty ring (KVM_CAP_DIRTY_LOG_RING)");
	}
	close(fd);
	if (!dl_opts.modes[DL_RING])
		SKIP(return, "not selected (-M ring)");
	/* The smallest ring KVM takes: a page, and more than the reserved entries. */
	for (c.entries = 256; c.entries <= 4096; c.entries *= 2) {
		vo.dirty_ring_entries = c.entries;
		r = __kmmu_vm_create(&vm, &vo, err, sizeof(err));
		if (r != -EINVAL)
			break;
	}
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	c.soft = c.entries - rf_reserved();
	c.npages = RF_PAGES_PER_ENTRY * c.entries;
	c.seen = calloc(c.npages, 1);
	ASSERT_NE(NULL, c.seen);
	r = kmmu_mem_alloc(&mem, c.npages * DL_PAGE, KMMU_BACKING_ANON, -1);
	ASSERT_EQ(0, r);
	madvise(mem.hva, mem.size, MADV_NOHUGEPAGE);
	kmmu_vm_map(vm, DL_GPA, DL_GPA, mem.size, KMMU_MAP_WRITE | KMMU_MAP_NX);
	kmmu_slot_add(vm, c.slot, DL_GPA, mem.size, mem.hva, KVM_MEM_LOG_DIRTY_PAGES);
	r = kmmu_vm_get_dirty_log(vm, c.slot, bm);
	EXPECT_EQ(-ENXIO, r) TH_LOG("KVM_GET_DIRTY_LOG with a dirty ring: %s, not ENXIO",
				    r ? strerror(-r) : "success");
	r = kmmu_vm_clear_dirty_log(vm, c.slot, bm, 0, 64);
	EXPECT_EQ(-ENXIO, r) TH_LOG("KVM_CLEAR_DIRTY_LOG with a dirty ring: %s, not ENXIO",
				    r ? strerror(-r) : "success");
	kmmu_vm_set_handlers(vm, &h);
	kmmu_vm_start(vm, rf_guest, (void *)(uintptr_t)c.npages);
	r = __kmmu_vm_wait(vm, 120);
	ASSERT_EQ(0, r) TH_LOG("%s", kmmu_vm_errors(vm));
	/* What is left after the last exit: below the soft limit. */
	c.round = 0;
	r = kmmu_vcpu_dirty_ring_collect(kmmu_vm_vcpu(vm, 0), rf_gfn, &c);
	ASSERT_LE(0, r);
	EXPECT_EQ(0, c.err[0]) TH_LOG("%s", c.err);
	EXPECT_GT(c.soft, (uint32_t)r) TH_LOG("%d entries left in the ring after the guest finished: KVM should have exited with KVM_EXIT_DIRTY_RING_FULL at %u",
					      r, c.soft);
	EXPECT_EQ(r, kmmu_vm_reset_dirty_rings(vm));
	for (p = 0; p < c.npages; p++)
		missing += !c.seen[p];
	EXPECT_EQ(0, missing) TH_LOG("%llu of the %llu pages the guest wrote were in no dirty ring entry",
				     (unsigned long long)missing, (unsigned long long)c.npages);
	/* Each exit takes at most the ring's entries, at least the soft limit's. */
	EXPECT_LE((c.total - r + c.entries - 1) / c.entries, c.exits);
	EXPECT_GE(c.total / c.soft, c.exits);
	ksft_print_msg("dirty ring of %u entries (soft limit %u): %llu pages written once, %ld entries collected, %ld KVM_EXIT_DIRTY_RING_FULL\n",
		       c.entries, c.soft, (unsigned long long)c.npages, c.total, c.exits);
	kmmu_vm_destroy(vm);
	kmmu_mem_free(&mem);
	free(c.seen);
}

/* ---- errnos of the dirty-log ioctls ---- */

/* What the runtime's dirty-log hook must have logged next: the ioctl, its arguments, result. */
static void expect_logged(struct __test_metadata *_metadata, struct kmmu_trace_log *log,
			  uint64_t *at, uint16_t type, uint32_t slot, uint64_t first, uint32_t num,
			  int ret)
{
	const struct kmmu_trace_record *r;

	ASSERT_LT(*at, log->nr) TH_LOG("record %llu of type %u not logged",
				       (unsigned long long)*at, type);
	r = &log->recs[(*at)++];
	ASSERT_EQ(type, r->type);
	if (type == KMMU_ACT_DIRTY_LOG_PROTECT) {
		EXPECT_EQ(first, r->protect_cap.flags);
		EXPECT_EQ(ret, r->protect_cap.ret);
		EXPECT_LE(r->protect_cap.start_ts, r->ts);
		return;
	}
	EXPECT_EQ(slot, r->dirty_log.slot);
	EXPECT_EQ(first, r->dirty_log.first_page);
	EXPECT_EQ(num, r->dirty_log.num_pages);
	EXPECT_EQ(ret, r->dirty_log.ret);
	EXPECT_LE(r->dirty_log.start_ts, r->ts);
}

TEST(dirty_log_errnos)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = 1, .dirty_log_hook = kmmu_test_log_dirty_log };
	struct kmmu_trace_log log;
	uint64_t at = 0;
	const uint32_t slot = KMMU_SLOT_FIRST_FREE, npages = 64 + 3;
	struct kmmu_vm *vm = NULL;
	struct kmmu_mem mem = { .fd = -1 };
	uint64_t bm[2] = { ~0ULL, ~0ULL };
	char why[256];
	long caps;
	int fd, r;
	static const struct {
		uint64_t first;
		uint32_t num;
		int ret;
		const char *what;
	} clears[] = {
		{ 1, 64, -EINVAL, "first_page not 64-aligned" },
		{ 0, 65, -EINVAL, "num_pages not a multiple of 64 short of the end" },
		{ 0, 68, -EINVAL, "beyond the slot's end" },
		{ 64, 4, -EINVAL, "beyond the slot's end from 64" },
		{ 128, 0, -EINVAL, "first_page beyond the slot" },
		{ 64, 3, 0, "the unaligned tail" },
		{ 0, 64, 0, "the first 64 pages" },
		{ 0, 67, 0, "the whole slot" },
	};
	size_t i;

	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd < 0)
		SKIP(return, "%s", why);
	close(fd);
	/* Every dirty-log ioctl logged for the checker, as a trace session would. */
	kmmu_trace_log_init(&log);
	vo.dirty_log_hook_ctx = &log;
	kmmu_vm_create(&vm, &vo);
	ASSERT_EQ(0, kmmu_mem_alloc(&mem, npages * DL_PAGE, KMMU_BACKING_ANON, -1));
	kmmu_slot_add(vm, slot, DL_GPA, mem.size, mem.hva, 0);
	EXPECT_EQ(-ENOENT, kmmu_vm_get_dirty_log(vm, slot, bm)) TH_LOG("GET, logging off");
	EXPECT_EQ(-ENOENT, kmmu_vm_get_dirty_log(vm, slot + 1, bm)) TH_LOG("GET, no such slot");
	EXPECT_EQ(-EINVAL, kmmu_vm_reset_dirty_rings(vm)) TH_LOG("KVM_RESET_DIRTY_RINGS, no ring");
	ASSERT_EQ(0, kmmu_slot_set_flags(vm, slot, KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, kmmu_vm_get_dirty_log(vm, slot, bm));
	/* No guest ran: nothing dirty, and nothing beyond the last page ever. */
	EXPECT_EQ(0, bm[0]);
	EXPECT_EQ(0, bm[1]);
	caps = kmmu_kvm_cap(kmmu_vm_fd(vm), KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (caps > 0 && (caps & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		ASSERT_EQ(0, kmmu_vm_enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
						KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE));
		for (i = 0; i < sizeof(clears) / sizeof(clears[0]); i++) {
			bm[0] = bm[1] = ~0ULL;
			r = kmmu_vm_clear_dirty_log(vm, slot, bm, clears[i].first, clears[i].num);
			EXPECT_EQ(clears[i].ret, r)
				TH_LOG("KVM_CLEAR_DIRTY_LOG first_page %llu num_pages %u (%s) of a %u-page slot: %s",
				       (unsigned long long)clears[i].first, clears[i].num,
				       clears[i].what, npages, r ? strerror(-r) : "success");
		}
		ASSERT_EQ(0, kmmu_slot_set_flags(vm, slot, 0));
		EXPECT_EQ(-ENOENT, kmmu_vm_clear_dirty_log(vm, slot, bm, 0, 64))
			TH_LOG("CLEAR, logging off");
	} else {
		ksft_print_msg("no KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: KVM_CLEAR_DIRTY_LOG not checked\n");
	}
	if (kmmu_kvm_cap(kmmu_vm_fd(vm), KVM_CAP_DIRTY_LOG_RING) > 0) {
		r = kmmu_vm_enable_cap(vm, KVM_CAP_DIRTY_LOG_RING, 4096);
		EXPECT_EQ(-EINVAL, r) TH_LOG("a dirty ring enabled after the vCPUs were created: %s",
					     r ? strerror(-r) : "success");
	}
	kmmu_vm_destroy(vm);
	kmmu_mem_free(&mem);

	/* The hook saw each as issued (the dirty ring's KVM_ENABLE_CAP not: no dirty-log cap). */
	expect_logged(_metadata, &log, &at, KMMU_ACT_GET_DIRTY_LOG, slot, 0, 0, -ENOENT);
	expect_logged(_metadata, &log, &at, KMMU_ACT_GET_DIRTY_LOG, slot + 1, 0, 0, -ENOENT);
	expect_logged(_metadata, &log, &at, KMMU_ACT_GET_DIRTY_LOG, slot, 0, 0, 0);
	if (caps > 0 && (caps & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		expect_logged(_metadata, &log, &at, KMMU_ACT_DIRTY_LOG_PROTECT, 0,
			      KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, 0, 0);
		for (i = 0; i < sizeof(clears) / sizeof(clears[0]); i++)
			expect_logged(_metadata, &log, &at, KMMU_ACT_CLEAR_DIRTY_LOG, slot,
				      clears[i].first, clears[i].num, clears[i].ret);
		expect_logged(_metadata, &log, &at, KMMU_ACT_CLEAR_DIRTY_LOG, slot, 0, 64, -ENOENT);
	}
	EXPECT_EQ(at, log.nr);
	kmmu_trace_log_free(&log);
}

/* ---- command line ---- */

static void dl_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-v vcpus] [-n iterations] [-i ms] [-r entries] [-S seed]\n"
		"          [-M modes] [-B backings] [-h]\n"
		"  -v  vCPUs, one per host CPU as far as they go (default 2, 2 to %d)\n"
		"  -n  harvest rounds per interface and backing (default 12)\n"
		"  -i  mean pause between harvests in ms (default 20; each pause 0.5x-1.5x)\n"
		"  -r  dirty ring entries per vCPU, a power of two (default 256)\n"
		"  -S  random seed (default: time based; always printed)\n"
		"  -M  interfaces, comma separated: get, clear, clear-init, ring (default all)\n"
		"  -B  backings, comma separated: 4k, thp, hugetlb (default all; hugetlb\n"
		"      raises vm.nr_hugepages for the test where root and needed)\n"
		"$KMMU_DIRTY_INJECT=drop-one hides a page the guest wrote from every harvest,\n"
		"=drop-owed one it wrote only after a harvest (the test must then fail: a\n"
		"check of the test itself)\n",
		prog, KMMU_MAX_VCPUS);
}

/* The options of this test alone (kmmu_run_parse() does the rest). */
static const struct kmmu_opt dl_cli_opts[] = {
	KMMU_OPT_U(NULL, 'n', dl_opts.iterations, 1, 100000, 0,
		   "-n wants a round count from 1 to 100000"),
	KMMU_OPT_SEC(NULL, 'i', dl_opts.interval_ms, 0, 10000,
		     "-i wants milliseconds from 0 to 10000"),
	/* KVM's smallest ring is a page. */
	KMMU_OPT_U(NULL, 'r', dl_opts.ring_entries, 256, 65536, KMMU_OPT_POWER_OF_2,
		   "-r wants a power of two from 256 to 65536"),
	KMMU_OPT_NAMELIST(NULL, 'M', dl_opts.modes, dl_mode_names, DL_NR_MODES,
			  "-M wants interfaces from get, clear, clear-init, ring (comma separated)"),
	KMMU_OPT_NAMELIST(NULL, 'B', dl_opts.backings, dl_backing_names, DL_NR_BACKINGS,
			  "-B wants backings from 4k, thp, hugetlb (comma separated)"),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "dirty_log_test";
	char why[256];
	cpu_set_t set;
	struct kmmu_run_opts run = { .vcpus = &dl_opts.vcpus, .min_vcpus = 2, .seed = &dl_opts.seed,
		.cli = { dl_usage, dl_cli_opts } };
	int fd, i;

	for (i = 0; i < DL_NR_MODES; i++)
		dl_opts.modes[i] = true;
	for (i = 0; i < DL_NR_BACKINGS; i++)
		dl_opts.backings[i] = true;
	kmmu_run_parse(&run, prog, &argc, argv);
	dl_opts.inject = getenv("KMMU_DIRTY_INJECT");
	if (dl_opts.inject && strcmp(dl_opts.inject, "drop-one") &&
	    strcmp(dl_opts.inject, "drop-owed"))
		kmmu_usage_error(prog, "KMMU_DIRTY_INJECT wants drop-one or drop-owed");
	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd >= 0)
		close(fd);
	kmmu_test_header(prog, "vcpus %d rounds %d interval %.3g ms ring %u seed %llu%s%s",
			 dl_opts.vcpus, dl_opts.iterations, dl_opts.interval_ms,
			 dl_opts.ring_entries, (unsigned long long)dl_opts.seed,
			 dl_opts.inject ? " INJECTED BUG: " : "", dl_opts.inject ? dl_opts.inject : "");
	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2)
		printf("# only one CPU: the vCPUs take turns, so harvests never race with guest writes\n");
	else
		printf("# %d CPUs: vCPU v runs on CPU v %% %d\n", CPU_COUNT(&set), CPU_COUNT(&set));
	if (dl_pml())
		printf("# kvm_intel uses PML: a write may be reported one harvest late, checked so\n");
	if (fd < 0)
		ksft_exit_skip("%s\n", why);
	/* Rounds, their pauses and parks, VM setup: generous for TCG. */
	KMMU_TEST_TIMEOUT(dirty, log, 120 + dl_opts.iterations *
			  (3 + (int)(dl_opts.interval_ms / 500)));
	return test_harness_run(argc, argv);
}
