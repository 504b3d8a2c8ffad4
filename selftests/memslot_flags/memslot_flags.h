/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memslot_flags_test, one program in five files (what it tests and why it
 * is judged so: the head comments of selftests/memslot_flags_test.c):
 *
 *   memslot_flags_test.c        the harness: the fixtures, the verdicts, main()
 *   memslot_flags/readonly.c    ro.readonly's guest, handlers and run
 *   memslot_flags/data_slot.c   gone.data_slot's guest, handlers and run
 *   memslot_flags/system_slot.c gone.system_slot's guest, handlers and rounds
 *   memslot_flags/backing.c     the 4K memfd and THP backings of the first two
 *
 * The kselftest harness can be in one file of a program only (it defines
 * its runner there), so the runs return 0 or -errno with the reason in
 * err; every ASSERT is memslot_flags_test.c's.
 */
#ifndef KMMU_MEMSLOT_FLAGS_H
#define KMMU_MEMSLOT_FLAGS_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kmmu/kvm_vm.h"
#include "kmmu/test_run.h"

/* ---- ro.readonly ---- */

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

/*
 * The two backings both tests' slots use (backing.c): a 4K memfd and a
 * 2M-aligned THP mapping, in that order as their regions 0 and 1.
 */
struct mf_backing {
	struct kmmu_mem mem4k;
	void *thp, *thp_raw;
	uint64_t thp_raw_size;
	uint8_t *hva[2];		/* [0] the memfd's, [1] the THP's */
};

/* ro.readonly's state: the fixture's, and its handlers' context. */
struct ro_run {
	struct kmmu_test_run run;	/* the VM is run.vm */
	struct mf_backing mem;		/* region r is mem.hva[r] */
	struct ro_shared *sh;
	uint32_t ro_flags;		/* KVM_MEM_READONLY, or 0 when injected */
	uint64_t gen;			/* the host's view of ro_shared.gen */
	int toggle_errno;		/* of the in-place READONLY toggle */
	uint64_t pages_2m[RO_PHASE_RO_AGAIN + 1];
	uint64_t exits_want;
	char bad[2048];
	int nr_bad;
};

/* ---- gone.data_slot, gone.system_slot ---- */

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

/* A data slot of data_slot and where a MOVE takes it. */
struct gone_region {
	const char *name;
	uint32_t slot;
	uint64_t gpa, alt, size;
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

/* gone.*'s state: the fixture's, and data_slot's handlers' context. */
struct gone_run {
	struct kmmu_test_run run;	/* data_slot's VM; system_slot's current one */
	struct mf_backing mem;		/* region r is mem.hva[r] */
	struct gone_shared *sh;
	uint64_t slot_ops;
};

/* ---- the guest's ---- */

static inline uint64_t g_read(volatile uint64_t *p)
{
	return *p;
}

/*
 * kmmu_vm_wait() of kmmu/kvm_test_harness.h for a run: until every vCPU
 * finished its guest function, or -errno with what they said in @err.
 */
static inline int mf_vm_wait(struct kmmu_vm *vm, double timeout_s, char *err, size_t len)
{
	int ret = __kmmu_vm_wait(vm, timeout_s);

	if (ret)
		snprintf(err, len, "%s%s", ret == -ETIMEDOUT ? "vCPUs did not finish: " : "",
			 kmmu_vm_errors(vm)[0] ? kmmu_vm_errors(vm) : strerror(-ret));
	return ret;
}

/* backing.c */
void mf_backing_init(struct mf_backing *b);
int mf_backing_alloc(struct mf_backing *b, uint64_t size_4k, uint64_t size_thp, char *err,
		     size_t len);
void mf_backing_free(struct mf_backing *b);

/* readonly.c */
uint64_t mf_ro_tested_pages(void);
int mf_readonly_run(struct ro_run *self, char *err, size_t len);

/* data_slot.c */
extern const char *const mf_gone_op_name[GONE_NR_OPS];
int mf_data_slot_run(struct gone_run *self, char *err, size_t len);

/* system_slot.c */
extern const char *const mf_gone_when_name[GONE_NR_WHEN];
extern const char *const mf_gone_end_name[GONE_NR_ENDS];
int mf_system_slot_run(struct gone_run *self,
		       uint64_t ends[GONE_NR_OPS][GONE_NR_WHEN][GONE_NR_ENDS], char *err,
		       size_t len);

/* memslot_flags_test.c: the command line */
extern bool mf_drop_readonly;	/* KMMU_FLAGS_INJECT=drop-readonly */
extern bool mf_keep_slot;	/* KMMU_FLAGS_INJECT=keep-slot */
extern uint64_t mf_gone_rounds;	/* --rounds */

#endif
