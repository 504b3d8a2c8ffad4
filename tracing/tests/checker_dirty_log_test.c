// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's DIRTY_LOG_PROTECT (tracing/checker/dirty_log.c) on
 * hand-made histories (checker_history.h) of a TDP MMU run: the write
 * protection KVM owes at dirty logging's enable and at KVM_GET_DIRTY_LOG,
 * what manual protect, KVM_DIRTY_LOG_INITIALLY_SET and PML change, the
 * per-CPU clock skew, and that the ioctls' tasks protect nothing else.
 */
#include <stdio.h>

#define CHECKER_HISTORY_NO_CHK
#include "checker_history.h"

#define P_MMUW		(1ull << 10)	/* DEFAULT_SPTE_MMU_WRITABLE */
#define VMM		5		/* the VMM thread: the ioctls */
#define VCPU		7		/* the vCPU thread: the faults */
#define VMM_CPU		0
#define VCPU_CPU	1
#define LONG_AGO_NS	200000000ull	/* beyond GEN_SKEW_NS */
#define SLOT		1
#define SLOT_GFN	0x100
#define OTHER_SLOT	2
#define OTHER_GFN	0x200
#define LOG_DIRTY	0x1		/* KVM_MEM_LOG_DIRTY_PAGES */

FIXTURE(dl) {
	struct history h;
	struct kmmu_check_result res;
	uint64_t w, ro;		/* a writable 4K leaf, and it write-protected */
	char report[16384];
};

/* A change of the 4K SPTE of @gfn by task @pid on @cpu. */
static struct kmmu_trace_record *change(struct history *h, int32_t pid, uint16_t cpu,
					uint64_t gfn, uint64_t old, uint64_t new)
{
	spte_changed(h, gfn, 1, old, new);
	h->recs[h->nr - 1].pid = pid;
	h->recs[h->nr - 1].cpu = cpu;
	return &h->recs[h->nr - 1];
}

/* Every record added from here on is this task's, on this CPU. */
static struct kmmu_trace_record *by(struct kmmu_trace_record *r, int32_t pid, uint16_t cpu)
{
	r->pid = pid;
	r->cpu = cpu;
	return r;
}

static void set_backend(struct history *h, uint8_t backend)
{
	struct kmmu_trace_record *r = add(h, KMMU_ACT_HOST);

	r->host.backend = backend;
	r->host.tdp = 1;
	r->host.tdp_mmu = 1;
}

/*
 * An SVM host with the TDP MMU, one VM; slots 1 (gfns 0x100-0x10f) and 2
 * (0x200-0x20f) without dirty logging; the vCPU made the leaves of 0x100
 * and 0x101 writable long ago.
 */
FIXTURE_SETUP(dl)
{
	struct history *h = &self->h;

	memset(h, 0, sizeof(*h));
	self->w = leaf(0x2000, 1, true) | P_MMUW;
	self->ro = self->w & ~P_W;
	set_backend(h, KMMU_HOST_SVM);
	add(h, KMMU_ACT_VM_CREATE)->vm.nr_address_spaces = 1;
	by(memslot(h, SLOT, SLOT_GFN, 16, 0, 0), VMM, VMM_CPU);
	by(memslot(h, OTHER_SLOT, OTHER_GFN, 16, 0, 0), VMM, VMM_CPU);
	change(h, VCPU, VCPU_CPU, 0x100, 0, self->w);
	change(h, VCPU, VCPU_CPU, 0x101, 0, self->w);
	change(h, VCPU, VCPU_CPU, OTHER_GFN, 0, self->w);
}

FIXTURE_TEARDOWN(dl)
{
}

/* The VMM issues an ioctl after a while: returns its issue time. */
static uint64_t issue_later(struct history *h, uint64_t after_ns)
{
	h->now += after_ns;
	return issue(h);
}

/* The memslot update that turns dirty logging on for slot 1, issued at @issued. */
static struct kmmu_trace_record *enable_logging(struct history *h, uint64_t issued)
{
	struct kmmu_trace_record *r = by(memslot(h, SLOT, SLOT_GFN, 16,
						 LOG_DIRTY, 0), VMM, VMM_CPU);

	r->memslot.start_ts = issued;
	return r;
}

static struct kmmu_trace_record *dirty_log(struct history *h, unsigned int type, uint64_t issued,
					   uint32_t slot, uint64_t first, uint32_t num, int ret)
{
	struct kmmu_trace_record *r = by(add(h, type), VMM, VMM_CPU);

	r->dirty_log.start_ts = issued;
	r->dirty_log.slot = slot;
	r->dirty_log.first_page = first;
	r->dirty_log.num_pages = num;
	r->dirty_log.ret = ret;
	return r;
}

static void protect_cap(struct history *h, uint64_t flags)
{
	struct kmmu_trace_record *r = by(add(h, KMMU_ACT_DIRTY_LOG_PROTECT), VMM, VMM_CPU);

	r->protect_cap.start_ts = r->ts - 100;
	r->protect_cap.flags = flags;
}

/* The session's page stats at the end: nothing escaped the trace. */
static void end_stats(struct history *h)
{
	struct kmmu_trace_record *r = add(h, KMMU_ACT_STATS);

	r->stats.start_ts = r->ts - 10;
	r->stats.nr_vms = 1;
}

/*
 * DIRTY_LOG_PROTECT's verdict on @h, the session's stats appended; every
 * divergence reported into @report (the other properties', PAGE_STATS
 * among them, are not these tests' concern).
 */
static enum kmmu_check_verdict verdict(struct history *h, struct kmmu_check_result *res,
				       char *report, size_t len)
{
	struct kmmu_checker_opts opts = { .max_reported = 100 };
	int ret;

	end_stats(h);
	memset(report, 0, len);
	opts.report = fmemopen(report, len - 1, "w");
	if (!opts.report)
		return -1;
	ret = kmmu_check(h->recs, h->nr, &opts, res);
	fclose(opts.report);
	return ret ? -1 : kmmu_check_verdict(res, KMMU_PROP_DIRTY_LOG_PROTECT);
}

#define EXPECT_VERDICT(v)							\
	do {									\
		EXPECT_EQ(v, verdict(&self->h, &self->res, self->report,	\
				     sizeof(self->report))) {			\
			TH_LOG("%s | %s", self->report,				\
			       self->res.not_checkable[KMMU_PROP_DIRTY_LOG_PROTECT] ?	\
			       self->res.not_checkable[KMMU_PROP_DIRTY_LOG_PROTECT] : ""); \
		}								\
	} while (0)

/* DIRTY_LOG_PROTECT's divergence says @text. */
#define EXPECT_REPORTED(text) \
	EXPECT_NE(NULL, strstr(self->report, text)) TH_LOG("%s", self->report)

/* Logging turned on: the enable write-protects both writable leaves. */
static void enable_right(struct history *h, uint64_t w,
			 uint64_t ro)
{
	uint64_t issued = issue_later(h, LONG_AGO_NS);

	change(h, VMM, VMM_CPU, 0x100, w, ro);
	change(h, VMM, VMM_CPU, 0x101, w, ro);
	enable_logging(h, issued);
}

TEST_F(dl, enable_write_protects_passes)
{
	enable_right(&self->h, self->w, self->ro);
	EXPECT_VERDICT(KMMU_CHECK_PASS);
	/* Its task's protects, and the must half. */
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_DIRTY_LOG_PROTECT]);
}

TEST_F(dl, enable_missing_write_protect_fails)
{
	uint64_t issued = issue_later(&self->h, LONG_AGO_NS);

	change(&self->h, VMM, VMM_CPU, 0x100, self->w, self->ro);
	enable_logging(&self->h, issued);		/* 0x101 left writable */
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
	EXPECT_REPORTED("gfn 0x101");
}

/* A dropped leaf is not writable: a zap (or a split) instead of a protect. */
TEST_F(dl, enable_leaf_dropped_instead_passes)
{
	uint64_t issued = issue_later(&self->h, LONG_AGO_NS);

	change(&self->h, VMM, VMM_CPU, 0x100, self->w, self->ro);
	change(&self->h, VCPU, VCPU_CPU, 0x101, self->w, 0);
	enable_logging(&self->h, issued);
	EXPECT_VERDICT(KMMU_CHECK_PASS);
}

/* The enable protects every level: a huge leaf too (or splits it, a drop). */
TEST_F(dl, enable_huge_leaf)
{
	uint64_t issued, huge = leaf(0x400, 2, true) | P_MMUW;
	struct kmmu_trace_record *r;

	by(memslot(&self->h, 3, 0x400, 512, 0, 0), VMM, VMM_CPU);
	r = change(&self->h, VCPU, VCPU_CPU, 0x400, 0, huge);
	r->spte_changed.level = 2;
	issued = issue_later(&self->h, LONG_AGO_NS);
	r = by(memslot(&self->h, 3, 0x400, 512, LOG_DIRTY, 0), VMM, VMM_CPU);
	r->memslot.start_ts = issued;
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
	EXPECT_REPORTED("level-2 leaf of gfn 0x400");

	self->h.nr -= 2;
	r = change(&self->h, VMM, VMM_CPU, 0x400, huge, huge & ~P_W);
	r->spte_changed.level = 2;
	r = by(memslot(&self->h, 3, 0x400, 512, LOG_DIRTY, 0), VMM, VMM_CPU);
	r->memslot.start_ts = issued;
	EXPECT_VERDICT(KMMU_CHECK_PASS);
}

/* Made writable again by a fault after the protect, before the return: fine. */
TEST_F(dl, enable_refaulted_in_flight_passes)
{
	uint64_t issued = issue_later(&self->h, LONG_AGO_NS);

	change(&self->h, VMM, VMM_CPU, 0x100, self->w, self->ro);
	change(&self->h, VMM, VMM_CPU, 0x101, self->w, self->ro);
	change(&self->h, VCPU, VCPU_CPU, 0x101, self->ro, self->w);
	enable_logging(&self->h, issued);
	EXPECT_VERDICT(KMMU_CHECK_PASS);
}

/* The enable's task protects a leaf of another slot. */
TEST_F(dl, enable_protects_another_slot_fails)
{
	uint64_t issued = issue_later(&self->h, LONG_AGO_NS);

	change(&self->h, VMM, VMM_CPU, 0x100, self->w, self->ro);
	change(&self->h, VMM, VMM_CPU, 0x101, self->w, self->ro);
	change(&self->h, VMM, VMM_CPU, OTHER_GFN, self->w, self->ro);
	enable_logging(&self->h, issued);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
	EXPECT_REPORTED("outside the slot");

	/* Stamped on another CPU: another ioctl's, sorted into this one by the clocks? */
	self->h.recs[self->h.nr - 3].cpu = VCPU_CPU;
	self->h.nr--;
	EXPECT_VERDICT(KMMU_CHECK_PASS);
}

/*
 * Under dirty logging a fault makes 0x102 writable (KVM marks it dirty);
 * a KVM_GET_DIRTY_LOG later must protect it.
 */
static uint64_t dirtied_then_get(struct history *h, uint64_t w,
				 uint64_t ro)
{
	enable_right(h, w, ro);
	change(h, VCPU, VCPU_CPU, 0x102, 0, w);
	return issue_later(h, LONG_AGO_NS);
}

TEST_F(dl, get_write_protects_passes)
{
	uint64_t issued = dirtied_then_get(&self->h, self->w, self->ro);

	change(&self->h, VMM, VMM_CPU, 0x102, self->w, self->ro);
	dirty_log(&self->h, KMMU_ACT_GET_DIRTY_LOG, issued, SLOT, 0, 0, 0);
	EXPECT_VERDICT(KMMU_CHECK_PASS);
	EXPECT_EQ(4, self->res.checked[KMMU_PROP_DIRTY_LOG_PROTECT]);
}

TEST_F(dl, get_missing_write_protect_fails)
{
	uint64_t issued = dirtied_then_get(&self->h, self->w, self->ro);

	dirty_log(&self->h, KMMU_ACT_GET_DIRTY_LOG, issued, SLOT, 0, 0, 0);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
	EXPECT_REPORTED("KVM_GET_DIRTY_LOG");
	EXPECT_REPORTED("gfn 0x102");
}

/* A GET that failed (no bitmap: -ENOENT) protects nothing, and owes nothing. */
TEST_F(dl, get_failed_owes_nothing_protects_nothing)
{
	uint64_t issued = dirtied_then_get(&self->h, self->w, self->ro);

	dirty_log(&self->h, KMMU_ACT_GET_DIRTY_LOG, issued, SLOT, 0, 0, -ENOENT);
	EXPECT_VERDICT(KMMU_CHECK_PASS);

	self->h.nr -= 2;	/* the GET again, protecting */
	change(&self->h, VMM, VMM_CPU, 0x102, self->w, self->ro);
	dirty_log(&self->h, KMMU_ACT_GET_DIRTY_LOG, issued, SLOT, 0, 0, -ENOENT);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
}

/* With manual protect, GET only copies the bitmap: it owes nothing, and protects nothing. */
TEST_F(dl, get_with_manual_protect)
{
	uint64_t issued;

	protect_cap(&self->h, KMMU_DIRTY_LOG_MANUAL_PROTECT);
	issued = dirtied_then_get(&self->h, self->w, self->ro);
	dirty_log(&self->h, KMMU_ACT_GET_DIRTY_LOG, issued, SLOT, 0, 0, 0);
	EXPECT_VERDICT(KMMU_CHECK_PASS);

	self->h.nr -= 2;
	change(&self->h, VMM, VMM_CPU, 0x102, self->w, self->ro);
	dirty_log(&self->h, KMMU_ACT_GET_DIRTY_LOG, issued, SLOT, 0, 0, 0);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
	EXPECT_REPORTED("write-protects nothing");
}

/* KVM_DIRTY_LOG_INITIALLY_SET: the enable protects nothing; doing so is wrong. */
TEST_F(dl, initially_set_enable)
{
	uint64_t issued;

	protect_cap(&self->h, KMMU_DIRTY_LOG_MANUAL_PROTECT | KMMU_DIRTY_LOG_INITIALLY_SET);
	issued = issue_later(&self->h, LONG_AGO_NS);
	enable_logging(&self->h, issued);
	EXPECT_VERDICT(KMMU_CHECK_PASS);

	self->h.nr -= 2;
	change(&self->h, VMM, VMM_CPU, 0x100, self->w, self->ro);
	enable_logging(&self->h, issued);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
}

/* A protect cap that failed changes nothing: the enable still owes its protects. */
TEST_F(dl, failed_protect_cap_ignored)
{
	uint64_t issued;

	protect_cap(&self->h, KMMU_DIRTY_LOG_MANUAL_PROTECT | KMMU_DIRTY_LOG_INITIALLY_SET);
	self->h.recs[self->h.nr - 1].protect_cap.ret = -EINVAL;
	issued = issue_later(&self->h, LONG_AGO_NS);
	enable_logging(&self->h, issued);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
}

/*
 * KVM_CLEAR_DIRTY_LOG: its task protects only leaves of the pages it
 * names (the bitmap is not in the trace: what it must protect is not
 * judged), and nothing when it fails.
 */
TEST_F(dl, clear_protects_only_its_pages)
{
	uint64_t issued;

	protect_cap(&self->h, KMMU_DIRTY_LOG_MANUAL_PROTECT);
	issued = dirtied_then_get(&self->h, self->w, self->ro);
	change(&self->h, VMM, VMM_CPU, 0x102, self->w, self->ro);
	dirty_log(&self->h, KMMU_ACT_CLEAR_DIRTY_LOG, issued, SLOT, 0, 16, 0);
	EXPECT_VERDICT(KMMU_CHECK_PASS);

	/* Nothing protected: as far as the trace tells, the bitmap had no bit set. */
	self->h.nr -= 3;
	dirty_log(&self->h, KMMU_ACT_CLEAR_DIRTY_LOG, issued, SLOT, 0, 16, 0);
	EXPECT_VERDICT(KMMU_CHECK_PASS);

	self->h.nr -= 2;
	change(&self->h, VMM, VMM_CPU, OTHER_GFN, self->w, self->ro);
	dirty_log(&self->h, KMMU_ACT_CLEAR_DIRTY_LOG, issued, SLOT, 0, 16, 0);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
	EXPECT_REPORTED("outside the slot's pages");

	self->h.nr -= 3;
	change(&self->h, VMM, VMM_CPU, 0x102, self->w, self->ro);
	dirty_log(&self->h, KMMU_ACT_CLEAR_DIRTY_LOG, issued, SLOT, 0, 16, -EINVAL);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
}

/* Huge leaves: only with INITIALLY_SET (the range's ends' huge pages). */
TEST_F(dl, clear_huge_only_initially_set)
{
	uint64_t issued, huge = leaf(0x200, 2, true) | P_MMUW;
	struct kmmu_trace_record *r;

	protect_cap(&self->h, KMMU_DIRTY_LOG_MANUAL_PROTECT);
	issued = issue_later(&self->h, LONG_AGO_NS);
	r = change(&self->h, VMM, VMM_CPU, SLOT_GFN, huge, huge & ~P_W);
	r->spte_changed.level = 2;
	dirty_log(&self->h, KMMU_ACT_CLEAR_DIRTY_LOG, issued, SLOT, 0, 16, 0);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
	EXPECT_REPORTED("outside the slot's pages");

	self->h.recs[self->h.nr - 4].protect_cap.flags |= KMMU_DIRTY_LOG_INITIALLY_SET;
	self->h.nr--;
	EXPECT_VERDICT(KMMU_CHECK_PASS);
}

/*
 * Another ioctl of the same task close by (within the clocks' skew) may
 * have made a protect stamped inside this one: not reported.
 */
TEST_F(dl, clear_neighbour_ioctl_explains)
{
	uint64_t issued;

	protect_cap(&self->h, KMMU_DIRTY_LOG_MANUAL_PROTECT);
	issued = issue_later(&self->h, LONG_AGO_NS);
	dirty_log(&self->h, KMMU_ACT_CLEAR_DIRTY_LOG, issued, OTHER_SLOT, 0, 16, 0);
	issued = issue(&self->h);
	change(&self->h, VMM, VMM_CPU, OTHER_GFN, self->w, self->ro);
	dirty_log(&self->h, KMMU_ACT_CLEAR_DIRTY_LOG, issued, SLOT, 0, 16, 0);
	EXPECT_VERDICT(KMMU_CHECK_PASS);

	/* Long after the other slot's CLEAR, nothing explains it. */
	self->h.nr -= 4;
	issued = issue_later(&self->h, LONG_AGO_NS);
	dirty_log(&self->h, KMMU_ACT_CLEAR_DIRTY_LOG, issued, OTHER_SLOT, 0, 16, 0);
	issued = issue_later(&self->h, LONG_AGO_NS);
	change(&self->h, VMM, VMM_CPU, OTHER_GFN, self->w, self->ro);
	dirty_log(&self->h, KMMU_ACT_CLEAR_DIRTY_LOG, issued, SLOT, 0, 16, 0);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
}

/*
 * The per-CPU clocks: a leaf another CPU made writable just before the
 * issue may really have been made so after the protect.  The issue's CPU
 * is taken to be the return's, unless the task's write-protects show it
 * ran elsewhere in between.
 */
TEST_F(dl, skew_writable_just_before_issue)
{
	uint64_t issued;

	enable_right(&self->h, self->w, self->ro);
	issued = issue_later(&self->h, LONG_AGO_NS);
	change(&self->h, VCPU, VCPU_CPU, 0x102, 0, self->w);
	dirty_log(&self->h, KMMU_ACT_GET_DIRTY_LOG, issued + 2000, SLOT, 0, 0, 0);
	EXPECT_VERDICT(KMMU_CHECK_PASS);

	/* On the CPU of the ioctl's return, its order is sure. */
	self->h.recs[self->h.nr - 3].cpu = VMM_CPU;
	self->h.nr--;
	EXPECT_VERDICT(KMMU_CHECK_FAIL);

	/* ... unless the task ran on another CPU while in flight. */
	self->h.nr -= 2;
	change(&self->h, VMM, VCPU_CPU, 0x101, self->ro | P_W, self->ro);
	dirty_log(&self->h, KMMU_ACT_GET_DIRTY_LOG, issued + 2000, SLOT, 0, 0, 0);
	EXPECT_VERDICT(KMMU_CHECK_PASS);
}

/* ... and a protect another CPU stamped just after the return may have come before it. */
TEST_F(dl, skew_protect_just_after_return)
{
	uint64_t issued = dirtied_then_get(&self->h, self->w, self->ro);

	dirty_log(&self->h, KMMU_ACT_GET_DIRTY_LOG, issued, SLOT, 0, 0, 0);
	change(&self->h, VMM, VCPU_CPU, 0x102, self->w, self->ro);
	EXPECT_VERDICT(KMMU_CHECK_PASS);

	self->h.nr--;
	self->h.recs[self->h.nr - 1].cpu = VMM_CPU;
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
}

/* PML (VMX): KVM may clear Dirty bits instead; what it must protect is not judged. */
TEST_F(dl, pml_host_owes_no_protect)
{
	uint64_t issued;

	self->h.recs[0].host.backend = KMMU_HOST_VMX;
	issued = issue_later(&self->h, LONG_AGO_NS);
	enable_logging(&self->h, issued);
	EXPECT_VERDICT(KMMU_CHECK_PASS);
	EXPECT_EQ(1, self->res.checked[KMMU_PROP_DIRTY_LOG_PROTECT]);

	/* ... but its task still protects only its own slot. */
	self->h.nr -= 2;
	change(&self->h, VMM, VMM_CPU, OTHER_GFN, self->w, self->ro);
	enable_logging(&self->h, issued);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);
}

/* Without the TDP MMU's SPTE changes: NOT CHECKABLE, with the reason. */
TEST_F(dl, shadow_mmu_not_checkable)
{
	struct history *h = &self->h;
	uint64_t issued;

	memset(h, 0, sizeof(*h));
	set_backend(h, KMMU_HOST_SVM);
	h->recs[0].host.tdp_mmu = 0;
	add(h, KMMU_ACT_VM_CREATE)->vm.nr_address_spaces = 1;
	memslot(h, SLOT, SLOT_GFN, 16, 0, 0);
	issued = issue_later(h, LONG_AGO_NS);
	enable_logging(h, issued);
	EXPECT_VERDICT(KMMU_CHECK_NOT_CHECKABLE);
	EXPECT_NE(NULL, strstr(self->res.not_checkable[KMMU_PROP_DIRTY_LOG_PROTECT],
			       "shadow MMU"));
}

/* No dirty-log ioctl at all: NOT CHECKABLE, saying so. */
TEST_F(dl, no_dirty_logging_not_checkable)
{
	EXPECT_VERDICT(KMMU_CHECK_NOT_CHECKABLE);
	EXPECT_NE(NULL, strstr(self->res.not_checkable[KMMU_PROP_DIRTY_LOG_PROTECT],
			       "no dirty logging"));
}

/* The interposer's numbered VMs: the records go to their VM's replay. */
TEST_F(dl, numbered_vm_judged)
{
	struct history *h = &self->h;
	uint64_t issued;

	memset(h, 0, sizeof(*h));
	set_backend(h, KMMU_HOST_SVM);
	vm_create(h, 1);
	by(memslot(h, SLOT, SLOT_GFN, 16, 0, 0), VMM, VMM_CPU);
	change(h, VCPU, VCPU_CPU, 0x100, 0, self->w);
	issued = issue_later(h, LONG_AGO_NS);
	enable_logging(h, issued);
	EXPECT_VERDICT(KMMU_CHECK_FAIL);

	/* A record of a VM never created makes the numbers unusable. */
	h->nr--;
	dirty_log(h, KMMU_ACT_GET_DIRTY_LOG, issued, SLOT, 0, 0, 0)->dirty_log.vm = 2;
	EXPECT_VERDICT(KMMU_CHECK_NOT_CHECKABLE);
	EXPECT_NE(NULL, strstr(self->res.not_checkable[KMMU_PROP_DIRTY_LOG_PROTECT],
			       "inconsistent"));
}

TEST_HARNESS_MAIN
