/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The small hand-made histories the checker tests feed kmmu_check(): the
 * record builders (an ioctl, a tracepoint, the checker's verdicts only) and
 * the fixture every property family's test starts from, slot 0 backing
 * gfns 0x100-0x10f with one SPTE.  Shared by tracing/tests/checker_*_test.c.
 */
#ifndef KMMU_TESTS_CHECKER_HISTORY_H
#define KMMU_TESTS_CHECKER_HISTORY_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kmmu/checker.h"
#include "kmmu/spte.h"

#define MAX_RECS 64
#define HVA 0x7f0000000000ull

struct history {
	struct kmmu_trace_record recs[MAX_RECS];
	int nr;
	uint64_t now;
	int32_t pid;		/* of every record add() makes; 0 unless the test sets it */
	uint32_t vm;		/* the VM memslot() records are of; 0: unnumbered */
};

static inline struct kmmu_trace_record *add(struct history *h, enum kmmu_rec_type type)
{
	struct kmmu_trace_record *r = &h->recs[h->nr++];

	memset(r, 0, sizeof(*r));
	h->now += 1000;
	r->ts = h->now;
	r->type = type;
	r->pid = h->pid;
	return r;
}

/* An ioctl issued now and returned after @events_inside records were added. */
static inline struct kmmu_trace_record *memslot(struct history *h, uint32_t slot, uint64_t gfn,
					 uint64_t npages, uint32_t flags, int ret)
{
	struct kmmu_trace_record *r = add(h, KMMU_ACT_SET_MEMSLOT);

	r->memslot.start_ts = r->ts - 500;
	r->memslot.slot = slot;
	r->memslot.gpa = gfn << 12;
	r->memslot.size = npages << 12;
	r->memslot.hva = HVA + (slot << 24);
	r->memslot.flags = flags;
	r->memslot.ret = ret;
	r->memslot.vm = h->vm;
	return r;
}

/* The VMM created VM number @id (0: unnumbered, as kmmu's own tests log it); memslot() is its. */
static inline void vm_create(struct history *h, uint32_t id)
{
	struct kmmu_trace_record *r = add(h, KMMU_ACT_VM_CREATE);

	r->vm.nr_address_spaces = 1;
	r->vm.id = id;
	h->vm = id;
}

/* The VMM closed VM @id's fd. */
static inline void vm_close(struct history *h, uint32_t id)
{
	add(h, KMMU_ACT_VM_CLOSE)->vm.id = id;
}

/* Starts an ioctl whose record comes later: events in between are "in flight". */
static inline uint64_t issue(struct history *h)
{
	h->now += 1000;
	return h->now;
}

static inline struct kmmu_trace_record *memslot_issued(struct history *h, uint64_t issued, uint32_t slot,
						uint64_t gfn, uint64_t npages, int ret)
{
	struct kmmu_trace_record *r = memslot(h, slot, gfn, npages, 0, ret);

	r->memslot.start_ts = issued;
	return r;
}

/* An ioctl during which the kernel zapped every SPTE (fast zap): a delete done right. */
static inline struct kmmu_trace_record *memslot_zapping(struct history *h, uint32_t slot,
							uint64_t gfn, uint64_t npages, int ret)
{
	uint64_t issued = issue(h);

	add(h, KMMU_EV_ZAP_ALL_FAST);
	return memslot_issued(h, issued, slot, gfn, npages, ret);
}

static inline void set_spte(struct history *h, uint64_t gfn)
{
	add(h, KMMU_EV_SET_SPTE)->set_spte.gfn = gfn;
}

/* SPTE bits of the x86 (shadow, NPT) format */
#define P_W	(1ull << 1)
#define P_PS	(1ull << 7)
#define P_MMU	(1ull << 11)	/* SPTE_MMU_PRESENT_MASK */

static inline uint64_t leaf(uint64_t pfn, unsigned int level, bool writable)
{
	return P_MMU | 1 | pfn << 12 | (level > 1 ? P_PS : 0) | (writable ? P_W : 0);
}

/*
 * A tracepoint's record: the event's fields as one initializer (add()
 * zeroed the rest).
 */
#define EVENT(h, type, field, ...) \
	({ struct kmmu_trace_record *__r = add(h, type); \
	   __r->field = (__typeof__(__r->field)){ __VA_ARGS__ }; })

static inline void set_spte_at(struct history *h, uint64_t gfn, unsigned int level, uint64_t spte)
{
	EVENT(h, KMMU_EV_SET_SPTE, set_spte, .gfn = gfn, .level = level, .spte = spte);
}

static inline void spte_changed(struct history *h, uint64_t gfn, unsigned int level,
				uint64_t old, uint64_t new)
{
	EVENT(h, KMMU_EV_SPTE_CHANGED, spte_changed,
	      .gfn = gfn, .level = level, .old_spte = old, .new_spte = new);
}

static inline void mmio(struct history *h, uint64_t gpa, uint32_t type)
{
	EVENT(h, KMMU_EV_MMIO, mmio, .gpa = gpa, .type = type, .len = 8);
}

static inline void mark_mmio(struct history *h, uint64_t gfn, uint32_t gen)
{
	EVENT(h, KMMU_EV_MARK_MMIO_SPTE, mark_mmio, .gfn = gfn, .gen = gen);
}

/* A check_mmio_spte of an SPTE of generation @spte_gen (upstream layout). */
static inline void check_mmio(struct history *h, uint32_t kvm_gen, uint32_t spte_gen)
{
	uint64_t gen_mask = kmmu_generation_mmio_spte_mask(
		kmmu_mmio_gen_layout(KMMU_SPTE_LAYOUT_UPSTREAM), spte_gen);

	EVENT(h, KMMU_EV_CHECK_MMIO_SPTE, check_mmio, .kvm_gen = kvm_gen, .spte_gen = spte_gen,
	      .spte = KMMU_SHADOW_MMIO_VALUE | gen_mask);
}

static inline void handle_mmio_pf(struct history *h, uint64_t gfn)
{
	add(h, KMMU_EV_HANDLE_MMIO_PAGE_FAULT)->mmio_pf.gfn = gfn;
}

/*
 * The test read KVM's binary stats of one VM just now: @pages_4k and
 * @pages_2m leaves; of the VM memslot() records are of, as the ioctl
 * interposer numbers it (0: unnumbered, a session's).
 */
static inline void stats(struct history *h, uint64_t pages_4k, uint64_t pages_2m)
{
	struct kmmu_trace_record *r = add(h, KMMU_ACT_STATS);

	r->stats.start_ts = r->ts - 10;
	r->stats.pages[0] = pages_4k;
	r->stats.pages[1] = pages_2m;
	r->stats.nr_vms = 1;
	r->stats.vm = h->vm;
}

/* The record added last is task @pid's. */
static inline void by_task(struct history *h, int32_t pid)
{
	h->recs[h->nr - 1].pid = pid;
}

static inline int check(struct history *h, struct kmmu_check_result *res)
{
	struct kmmu_checker_opts opts = { .report = NULL };	/* verdicts only */

	return kmmu_check(h->recs, h->nr, &opts, res);
}

/* In a chk test: its history checks with no divergence (else the first is logged). */
#define ASSERT_CHECKS_CLEAN()							\
	do {									\
		ASSERT_EQ(0, check(&self->h, &self->res));			\
		EXPECT_EQ(0, self->res.nr_divergences) {			\
			TH_LOG("%s", self->res.first_divergence);		\
		}								\
	} while (0)

/* A test with a fixture of its own defines CHECKER_HISTORY_NO_CHK first. */
#ifndef CHECKER_HISTORY_NO_CHK
FIXTURE(chk) {
	struct history h;
	struct kmmu_check_result res;
};

FIXTURE_SETUP(chk)
{
	memset(&self->h, 0, sizeof(self->h));
	/* Slot 0 backs gfns 0x100-0x10f. */
	memslot(&self->h, 0, 0x100, 16, 0, 0);
	set_spte(&self->h, 0x105);
}

FIXTURE_TEARDOWN(chk)
{
}
#endif


#endif /* KMMU_TESTS_CHECKER_HISTORY_H */
