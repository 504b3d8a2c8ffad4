// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of ref/memslot.c: every KVM_SET_USER_MEMORY_REGION operation
 * and error path with the kernel's errno, the order of the arch hooks, the
 * generation and its update-in-progress bit, last_used_slot invalidation,
 * id / gfn / hva-range lookups at their edges, both address spaces and the
 * slot id limit.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/memslot.h>

#define PG		KMMU_PAGE_SIZE
#define HVA_BASE	0x7f0000000000ul
#define SLOT(as, id)	((uint32_t)(as) << 16 | (id))

/* Records what the arch hooks saw; also checks arch ownership rules. */
struct rec {
	struct kmmu_vm_memslots *vm;
	char log[256];
	int prepare_err;	/* injected, one shot */
	gfn_t max_gfn;		/* x86 kvm_mmu_max_gfn() check in prepare */
	int arch_live;		/* allocated arch blobs not yet freed */
	uint64_t updated_gen;
	int nr_updated;
	/* Set by the hooks when what they saw was wrong. */
	int bad;
	char why[128];
};

static void rec_log(struct rec *r, const char *tok)
{
	size_t len = strlen(r->log);

	snprintf(r->log + len, sizeof(r->log) - len, "%s%s", len ? " " : "", tok);
}

static void rec_bad(struct rec *r, const char *why)
{
	if (!r->bad++)
		snprintf(r->why, sizeof(r->why), "%s", why);
}

static const char change_ch[] = { 'c', 'd', 'm', 'f' };

static int rec_prepare(void *ctx, const struct kmmu_memory_slot *old,
		       struct kmmu_memory_slot *new, enum kmmu_mr_change change)
{
	struct rec *r = ctx;
	char tok[4] = { 'P', change_ch[change], 0 };
	int err;

	rec_log(r, tok);
	if ((change == KMMU_MR_CREATE) != !old || (change == KMMU_MR_DELETE) != !new)
		rec_bad(r, "prepare: old/new do not match the change");
	if (change == KMMU_MR_CREATE || change == KMMU_MR_MOVE) {
		if (r->max_gfn && new->base_gfn + new->npages - 1 > r->max_gfn)
			return -EINVAL;
	}
	if (r->prepare_err) {
		err = r->prepare_err;
		r->prepare_err = 0;
		return err;
	}
	if (change == KMMU_MR_CREATE || change == KMMU_MR_MOVE) {
		new->arch = malloc(16);
		if (!new->arch)
			return -ENOMEM;
		r->arch_live++;
	} else if (change == KMMU_MR_FLAGS_ONLY) {
		new->arch = old->arch;
	}
	return 0;
}

static void rec_flush(void *ctx, struct kmmu_memory_slot *slot)
{
	struct rec *r = ctx;
	struct kmmu_memslots *slots;
	struct kmmu_memory_slot *active;

	rec_log(r, "F");
	if (slot->flags & KMMU_MEMSLOT_INVALID)
		rec_bad(r, "flush got the INVALID slot");

	/* Readers must already see only the INVALID copy. */
	urcu_memb_read_lock();
	slots = kmmu_memslots_active(r->vm, slot->as_id);
	active = kmmu_id_to_memslot(slots, slot->id);
	if (!active || active == slot || !(active->flags & KMMU_MEMSLOT_INVALID))
		rec_bad(r, "flush: active set does not hold an INVALID copy");
	else if (kmmu_gfn_to_memslot(slots, slot->base_gfn) != active)
		rec_bad(r, "flush: gfn lookup does not find the INVALID copy");
	if (kmmu_memslots_generation(slots) & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
		rec_bad(r, "flush: generation still in progress");
	urcu_memb_read_unlock();
}

static void rec_commit(void *ctx, struct kmmu_memory_slot *old,
		       const struct kmmu_memory_slot *new, enum kmmu_mr_change change)
{
	struct rec *r = ctx;
	char tok[4] = { 'C', change_ch[change], 0 };
	struct kmmu_memslots *slots;
	int as_id = old ? old->as_id : new->as_id;

	rec_log(r, tok);
	urcu_memb_read_lock();
	slots = kmmu_memslots_active(r->vm, as_id);
	if (new && kmmu_id_to_memslot(slots, new->id) != new)
		rec_bad(r, "commit: new slot is not active");
	if (!new && kmmu_id_to_memslot(slots, old->id))
		rec_bad(r, "commit: deleted slot still active");
	urcu_memb_read_unlock();

	/* As x86: the old metadata goes away on MOVE, new has its own. */
	if (change == KMMU_MR_MOVE) {
		free(old->arch);
		r->arch_live--;
	}
}

static void rec_free(void *ctx, struct kmmu_memory_slot *slot)
{
	struct rec *r = ctx;

	rec_log(r, "X");
	if (slot->arch) {
		free(slot->arch);
		r->arch_live--;
	}
}

static void rec_updated(void *ctx, uint64_t gen)
{
	struct rec *r = ctx;

	rec_log(r, "U");
	r->updated_gen = gen;
	r->nr_updated++;
	if (gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
		rec_bad(r, "memslots_updated got the in-progress bit");
}

static const struct kmmu_memslot_ops rec_ops = {
	.prepare = rec_prepare,
	.flush_slot = rec_flush,
	.commit = rec_commit,
	.free_slot = rec_free,
	.memslots_updated = rec_updated,
};

FIXTURE(ms) {
	struct rec rec;
	struct kmmu_vm_memslots *vm;
};

FIXTURE_SETUP(ms)
{
	urcu_memb_register_thread();
	memset(&self->rec, 0, sizeof(self->rec));
	ASSERT_EQ(0, kmmu_memslots_init(&self->vm, &rec_ops, &self->rec, 0));
	self->rec.vm = self->vm;
}

FIXTURE_TEARDOWN(ms)
{
	kmmu_memslots_destroy(self->vm);
	/* Every arch blob handed out was freed exactly once. */
	EXPECT_EQ(0, self->rec.arch_live);
	EXPECT_EQ(0, self->rec.bad) TH_LOG("%s", self->rec.why);
	urcu_memb_unregister_thread();
}

/* Reader-side snapshot helpers; the updater is this thread, so no races. */
static struct kmmu_memory_slot *lookup(struct kmmu_vm_memslots *vm, int as_id, gfn_t gfn)
{
	struct kmmu_memory_slot *slot;

	urcu_memb_read_lock();
	slot = kmmu_gfn_to_memslot(kmmu_memslots_active(vm, as_id), gfn);
	urcu_memb_read_unlock();
	return slot;
}

static struct kmmu_memory_slot *by_id(struct kmmu_vm_memslots *vm, int as_id, int id)
{
	struct kmmu_memory_slot *slot;

	urcu_memb_read_lock();
	slot = kmmu_id_to_memslot(kmmu_memslots_active(vm, as_id), id);
	urcu_memb_read_unlock();
	return slot;
}

static uint64_t gen_of(struct kmmu_vm_memslots *vm, int as_id)
{
	return kmmu_memslots_generation(kmmu_memslots_active(vm, as_id));
}

static int set(struct kmmu_vm_memslots *vm, uint32_t slot, uint32_t flags,
	       gfn_t gfn, unsigned long npages, unsigned long hva)
{
	return kmmu_set_memory_region(vm, slot, flags, gfn * PG, npages * PG, hva);
}

/* Slot ids overlapping hva [start, end), in iteration order, as a string. */
static const char *hva_ids(struct kmmu_vm_memslots *vm, int as_id,
			   unsigned long start, unsigned long end)
{
	static char buf[256];
	struct kmmu_memory_slot *slot;
	size_t len = 0;

	buf[0] = 0;
	urcu_memb_read_lock();
	kmmu_for_each_memslot_in_hva_range(slot, kmmu_memslots_active(vm, as_id), start, end)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%d", len ? "," : "", slot->id);
	urcu_memb_read_unlock();
	return buf;
}

static const char *gfn_ids(struct kmmu_vm_memslots *vm, int as_id, gfn_t start, gfn_t end)
{
	static char buf[256];
	struct kmmu_memory_slot *slot;
	size_t len = 0;

	buf[0] = 0;
	urcu_memb_read_lock();
	kmmu_for_each_memslot_in_gfn_range(slot, kmmu_memslots_active(vm, as_id), start, end)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%d", len ? "," : "", slot->id);
	urcu_memb_read_unlock();
	return buf;
}

/* The hint is NULL or one of the set's own slots (never a freed one). */
static bool hint_is_live(struct kmmu_vm_memslots *vm, int as_id)
{
	struct kmmu_memslots *slots;
	struct kmmu_memory_slot *hint, *slot;
	bool ok;

	urcu_memb_read_lock();
	slots = kmmu_memslots_active(vm, as_id);
	hint = kmmu_memslots_last_used(slots);
	ok = !hint;
	kmmu_for_each_memslot(slot, slots)
		ok |= slot == hint;
	urcu_memb_read_unlock();
	return ok;
}

TEST_F(ms, create_and_lookup)
{
	struct kmmu_memory_slot *s;

	ASSERT_EQ(0, set(self->vm, SLOT(0, 3), KMMU_MEM_LOG_DIRTY_PAGES, 0x100, 16, HVA_BASE));
	s = lookup(self->vm, 0, 0x100);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0x100, s->base_gfn);
	EXPECT_EQ(16, s->npages);
	EXPECT_EQ(HVA_BASE, s->userspace_addr);
	EXPECT_EQ(KMMU_MEM_LOG_DIRTY_PAGES, s->flags);
	EXPECT_EQ(3, s->id);
	EXPECT_EQ(0, s->as_id);
	EXPECT_NE(NULL, s->arch);
	EXPECT_EQ(s, lookup(self->vm, 0, 0x10f));
	EXPECT_EQ(NULL, lookup(self->vm, 0, 0xff));
	EXPECT_EQ(NULL, lookup(self->vm, 0, 0x110));
	EXPECT_EQ(NULL, lookup(self->vm, 1, 0x100));
	EXPECT_EQ(s, by_id(self->vm, 0, 3));
	EXPECT_EQ(NULL, by_id(self->vm, 0, 2));
	EXPECT_EQ(NULL, by_id(self->vm, 1, 3));
	EXPECT_EQ(16, kmmu_memslots_nr_pages(self->vm));
	EXPECT_EQ(HVA_BASE + 5 * PG, kmmu_gfn_to_hva_memslot(s, 0x105));
	EXPECT_EQ(0x105, kmmu_hva_to_gfn_memslot(HVA_BASE + 5 * PG + 7, s));
	EXPECT_TRUE(kmmu_memslot_is_visible(s));
	EXPECT_EQ(NULL, kmmu_memslots_active(self->vm, 2));
	EXPECT_EQ(NULL, kmmu_memslots_active(self->vm, -1));
}

TEST_F(ms, hook_order_per_change)
{
	struct kmmu_memory_slot *s;

	ASSERT_EQ(0, set(self->vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	EXPECT_STREQ("Pc U Cc", self->rec.log);

	self->rec.log[0] = 0;
	ASSERT_EQ(0, set(self->vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES, 0x100, 16, HVA_BASE));
	EXPECT_STREQ("Pf U Cf", self->rec.log);
	s = lookup(self->vm, 0, 0x100);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(KMMU_MEM_LOG_DIRTY_PAGES, s->flags);

	/* MOVE and DELETE invalidate (swap + flush) before prepare. */
	self->rec.log[0] = 0;
	ASSERT_EQ(0, set(self->vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES, 0x200, 16, HVA_BASE));
	EXPECT_STREQ("U F Pm U Cm", self->rec.log);
	EXPECT_EQ(NULL, lookup(self->vm, 0, 0x100));
	s = lookup(self->vm, 0, 0x20f);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0x200, s->base_gfn);
	EXPECT_EQ(0, s->flags & KMMU_MEMSLOT_INVALID);

	self->rec.log[0] = 0;
	ASSERT_EQ(0, set(self->vm, SLOT(0, 0), 0, 0, 0, 0));
	EXPECT_STREQ("U F Pd U Cd X", self->rec.log);
	EXPECT_EQ(NULL, lookup(self->vm, 0, 0x200));
	EXPECT_EQ(NULL, by_id(self->vm, 0, 0));
	EXPECT_EQ(0, kmmu_memslots_nr_pages(self->vm));

	/* Unchanged parameters: nothing at all happens. */
	ASSERT_EQ(0, set(self->vm, SLOT(0, 1), 0, 0x100, 1, HVA_BASE));
	self->rec.log[0] = 0;
	ASSERT_EQ(0, set(self->vm, SLOT(0, 1), 0, 0x100, 1, HVA_BASE));
	EXPECT_STREQ("", self->rec.log);
}

TEST_F(ms, generation_sequence)
{
	struct kmmu_memslots *slots;

	EXPECT_EQ(0, gen_of(self->vm, 0));
	EXPECT_EQ(1, gen_of(self->vm, 1));

	/* CREATE: one swap, += KMMU_ADDRESS_SPACE_NUM. */
	ASSERT_EQ(0, set(self->vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	EXPECT_EQ(2, gen_of(self->vm, 0));
	EXPECT_EQ(2, self->rec.updated_gen);
	EXPECT_EQ(1, gen_of(self->vm, 1));

	/* FLAGS_ONLY: one swap. */
	ASSERT_EQ(0, set(self->vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES, 0x100, 16, HVA_BASE));
	EXPECT_EQ(4, gen_of(self->vm, 0));
	/* MOVE: invalidate + install, two swaps. */
	ASSERT_EQ(0, set(self->vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES, 0x200, 16, HVA_BASE));
	EXPECT_EQ(8, gen_of(self->vm, 0));
	/* DELETE: two swaps. */
	ASSERT_EQ(0, set(self->vm, SLOT(0, 0), 0, 0, 0, 0));
	EXPECT_EQ(12, gen_of(self->vm, 0));
	EXPECT_EQ(12, self->rec.updated_gen);
	EXPECT_EQ(6, self->rec.nr_updated);

	/* Address space 1 keeps to odd generations. */
	ASSERT_EQ(0, set(self->vm, SLOT(1, 0), 0, 0x100, 16, HVA_BASE));
	EXPECT_EQ(3, gen_of(self->vm, 1));
	EXPECT_EQ(3, self->rec.updated_gen);
	EXPECT_EQ(12, gen_of(self->vm, 0));

	/* Rejected requests and no-ops do not touch the generation. */
	EXPECT_EQ(-EINVAL, set(self->vm, SLOT(1, 0), 0, 0x100, 17, HVA_BASE));
	ASSERT_EQ(0, set(self->vm, SLOT(1, 0), 0, 0x100, 16, HVA_BASE));
	EXPECT_EQ(3, gen_of(self->vm, 1));

	urcu_memb_read_lock();
	slots = kmmu_memslots_active(self->vm, 1);
	EXPECT_EQ(0, kmmu_memslots_generation(slots) & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS);
	urcu_memb_read_unlock();
}

/*
 * memslots_updated() runs after the new set is published but before its
 * generation is final: the active generation must then carry the bit.
 */
static void inprogress_updated(void *ctx, uint64_t gen)
{
	struct rec *r = ctx;
	uint64_t cur;
	int as_id = gen & 1;

	urcu_memb_read_lock();
	cur = kmmu_memslots_generation(kmmu_memslots_active(r->vm, as_id));
	urcu_memb_read_unlock();
	if (cur != ((gen - KMMU_ADDRESS_SPACE_NUM) | KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS))
		rec_bad(r, "active generation lacks the in-progress bit during the swap");
	r->nr_updated++;
}

TEST(generation_in_progress_during_swap)
{
	struct kmmu_memslot_ops ops = { .memslots_updated = inprogress_updated };
	struct rec rec = {};
	struct kmmu_vm_memslots *vm;

	urcu_memb_register_thread();
	ASSERT_EQ(0, kmmu_memslots_init(&vm, &ops, &rec, 0));
	rec.vm = vm;
	ASSERT_EQ(0, set(vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	ASSERT_EQ(0, set(vm, SLOT(1, 0), 0, 0x100, 16, HVA_BASE));
	ASSERT_EQ(0, set(vm, SLOT(0, 0), 0, 0x300, 16, HVA_BASE));
	ASSERT_EQ(0, set(vm, SLOT(0, 0), 0, 0, 0, 0));
	EXPECT_EQ(6, rec.nr_updated);
	EXPECT_EQ(0, rec.bad) TH_LOG("%s", rec.why);
	EXPECT_EQ(10, gen_of(vm, 0));
	kmmu_memslots_destroy(vm);
	urcu_memb_unregister_thread();
}

TEST_F(ms, einval_flags_and_alignment)
{
	struct kmmu_vm_memslots *vm = self->vm;

	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 0, 1u << 2, 0, PG, HVA_BASE));
	/* The internal INVALID flag is not a user flag. */
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 0, KMMU_MEMSLOT_INVALID, 0, PG, HVA_BASE));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 0, 0, 0, PG + 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 0, 0, 0, PG - 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 0, 0, 0x800, PG, HVA_BASE));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 0, 0, 0, PG, HVA_BASE + 8));
	/* Delete requests are checked the same way before the slot lookup. */
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 0, 0, 0x800, 0, 0));
	EXPECT_EQ(0, kmmu_set_memory_region(vm, 0, KMMU_MEM_READONLY | KMMU_MEM_LOG_DIRTY_PAGES,
					    0, PG, HVA_BASE));
	EXPECT_STREQ("Pc U Cc", self->rec.log);
}

TEST_F(ms, einval_user_address_range)
{
	struct kmmu_vm_memslots *vm = self->vm;
	uint64_t top = KMMU_TASK_SIZE_MAX;

	/* The last page below TASK_SIZE_MAX is fine, one more is not. */
	EXPECT_EQ(0, kmmu_set_memory_region(vm, 0, 0, 0, PG, top - PG));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 1, 0, 0x1000000, 2 * PG, top - PG));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 1, 0, 0x1000000, PG, top));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 1, 0, 0x1000000, PG, ~0ul & ~(PG - 1)));
	/* hva 0 is a user address. */
	EXPECT_EQ(0, kmmu_set_memory_region(vm, 1, 0, 0x1000000, PG, 0));
}

TEST_F(ms, einval_ids_and_address_spaces)
{
	struct kmmu_vm_memslots *vm = self->vm;

	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, KMMU_USER_MEM_SLOTS), 0, 0, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 0xffff), 0, 0, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(2, 0), 0, 0, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0xffff, 0), 0, 0, 1, HVA_BASE));
	EXPECT_EQ(0, set(vm, SLOT(0, KMMU_USER_MEM_SLOTS - 1), 0, 0, 1, HVA_BASE));
	EXPECT_EQ(0, set(vm, SLOT(1, KMMU_USER_MEM_SLOTS - 1), 0, 0, 1, HVA_BASE));

	/* Internal (x86 private) slots: up to KVM_MEM_SLOTS_NUM - 1. */
	EXPECT_EQ(0, kmmu_set_memory_region_internal(vm, SLOT(0, KMMU_USER_MEM_SLOTS), 0,
						     0x10 * PG, PG, HVA_BASE));
	EXPECT_EQ(0, kmmu_set_memory_region_internal(vm, SLOT(0, KMMU_MEM_SLOTS_NUM - 1), 0,
						     0x20 * PG, PG, HVA_BASE));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region_internal(vm, SLOT(0, KMMU_MEM_SLOTS_NUM), 0,
							   0x30 * PG, PG, HVA_BASE));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region_internal(vm, SLOT(2, 5), 0,
							   0x30 * PG, PG, HVA_BASE));
	EXPECT_FALSE(kmmu_memslot_is_visible(lookup(vm, 0, 0x10)));
	EXPECT_TRUE(kmmu_memslot_is_visible(lookup(vm, 0, 0)));
	/* The user API cannot touch them, not even to delete. */
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, KMMU_USER_MEM_SLOTS), 0, 0, 0, 0));
	EXPECT_NE(NULL, by_id(vm, 0, KMMU_USER_MEM_SLOTS));
}

TEST_F(ms, einval_sizes)
{
	struct kmmu_vm_memslots *vm = self->vm;
	uint64_t max_size = KMMU_MEM_MAX_NR_PAGES * PG;

	/* gpa + size wraps around. */
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 0, 0, ~0ull & ~(PG - 1), 2 * PG, HVA_BASE));
	/* Ends exactly at 2^64: gpa + size == 0 < gpa. */
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 0, 0, ~0ull & ~(PG - 1), PG, HVA_BASE));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(vm, 0, 0, 0, max_size + PG, 0));
	EXPECT_EQ(0, kmmu_set_memory_region(vm, 0, 0, 0, max_size, 0));
	EXPECT_EQ(KMMU_MEM_MAX_NR_PAGES, kmmu_memslots_nr_pages(vm));
}

TEST_F(ms, einval_delete_and_modify)
{
	struct kmmu_vm_memslots *vm = self->vm;

	/* DELETE of a slot that does not exist (6.1: -EINVAL). */
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 4), 0, 0, 0, 0));
	ASSERT_EQ(0, set(vm, SLOT(0, 4), 0, 0x100, 16, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(1, 4), 0, 0, 0, 0));

	/* The size and hva of a slot are fixed. */
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 4), 0, 0x100, 17, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 4), 0, 0x100, 15, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 4), 0, 0x100, 16, HVA_BASE + PG));
	/* So is READONLY, also combined with a move. */
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 4), KMMU_MEM_READONLY, 0x100, 16, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 4), KMMU_MEM_READONLY, 0x900, 16, HVA_BASE));
	ASSERT_EQ(0, set(vm, SLOT(0, 5), KMMU_MEM_READONLY, 0x300, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 5), 0, 0x300, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 5), 0, 0x400, 1, HVA_BASE));
	/* LOG_DIRTY_PAGES may change, with a move too. */
	EXPECT_EQ(0, set(vm, SLOT(0, 5), KMMU_MEM_READONLY | KMMU_MEM_LOG_DIRTY_PAGES,
			 0x400, 1, HVA_BASE));
	EXPECT_EQ(KMMU_MEM_READONLY | KMMU_MEM_LOG_DIRTY_PAGES, lookup(vm, 0, 0x400)->flags);

	/* Nothing of it changed a thing. */
	EXPECT_EQ(16, lookup(vm, 0, 0x100)->npages);
	EXPECT_EQ(17, kmmu_memslots_nr_pages(vm));
	EXPECT_EQ(NULL, lookup(vm, 0, 0x300));
}

TEST_F(ms, eexist_overlap)
{
	struct kmmu_vm_memslots *vm = self->vm;

	ASSERT_EQ(0, set(vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	/* Overlapping the first and the last page, containing, contained. */
	EXPECT_EQ(-EEXIST, set(vm, SLOT(0, 1), 0, 0xf1, 16, HVA_BASE));
	EXPECT_EQ(-EEXIST, set(vm, SLOT(0, 1), 0, 0x10f, 16, HVA_BASE));
	EXPECT_EQ(-EEXIST, set(vm, SLOT(0, 1), 0, 0x80, 0x100, HVA_BASE));
	EXPECT_EQ(-EEXIST, set(vm, SLOT(0, 1), 0, 0x104, 2, HVA_BASE));
	/* Adjacent on either side is fine; so is another address space. */
	EXPECT_EQ(0, set(vm, SLOT(0, 1), 0, 0xf0, 16, HVA_BASE));
	EXPECT_EQ(0, set(vm, SLOT(0, 2), 0, 0x110, 16, HVA_BASE));
	EXPECT_EQ(0, set(vm, SLOT(1, 1), 0, 0x100, 16, HVA_BASE));

	/* A MOVE into another slot fails; overlapping only itself is fine. */
	EXPECT_EQ(-EEXIST, set(vm, SLOT(0, 0), 0, 0x108, 16, HVA_BASE));
	EXPECT_STREQ("Pc U Cc Pc U Cc Pc U Cc Pc U Cc", self->rec.log);
	ASSERT_EQ(0, set(vm, SLOT(0, 2), 0, 0x118, 16, HVA_BASE));
	EXPECT_EQ(0x118, lookup(vm, 0, 0x127)->base_gfn);
	EXPECT_EQ(NULL, lookup(vm, 0, 0x110));
	EXPECT_EQ(0, set(vm, SLOT(0, 0), 0, 0x108, 16, HVA_BASE));
	EXPECT_EQ(4 * 16, kmmu_memslots_nr_pages(vm));
}

TEST_F(ms, prepare_failure_rolls_back)
{
	struct kmmu_vm_memslots *vm = self->vm;
	struct kmmu_memory_slot *s;

	self->rec.prepare_err = -ENOMEM;
	EXPECT_EQ(-ENOMEM, set(vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	EXPECT_EQ(NULL, lookup(vm, 0, 0x100));
	EXPECT_EQ(0, gen_of(vm, 0));
	EXPECT_EQ(0, kmmu_memslots_nr_pages(vm));

	ASSERT_EQ(0, set(vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	self->rec.log[0] = 0;
	self->rec.prepare_err = -ENOSPC;
	EXPECT_EQ(-ENOSPC, set(vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES, 0x100, 16, HVA_BASE));
	EXPECT_STREQ("Pf", self->rec.log);
	EXPECT_EQ(2, gen_of(vm, 0));
	EXPECT_EQ(0, lookup(vm, 0, 0x100)->flags);

	/* DELETE / MOVE: invalidated and zapped, then swapped back. */
	self->rec.log[0] = 0;
	self->rec.prepare_err = -EIO;
	EXPECT_EQ(-EIO, set(vm, SLOT(0, 0), 0, 0, 0, 0));
	EXPECT_STREQ("U F Pd U", self->rec.log);
	EXPECT_EQ(6, gen_of(vm, 0));
	s = lookup(vm, 0, 0x100);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, s->flags);
	EXPECT_EQ(s, by_id(vm, 0, 0));

	self->rec.prepare_err = -EFAULT;
	EXPECT_EQ(-EFAULT, set(vm, SLOT(0, 0), 0, 0x500, 16, HVA_BASE));
	EXPECT_EQ(10, gen_of(vm, 0));
	EXPECT_EQ(s, lookup(vm, 0, 0x100));
	EXPECT_EQ(NULL, lookup(vm, 0, 0x500));
	EXPECT_EQ(16, kmmu_memslots_nr_pages(vm));

	/* The x86 max gfn check lives in prepare. */
	self->rec.max_gfn = 0xfff;
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 0), 0, 0xff1, 16, HVA_BASE));
	EXPECT_EQ(0, set(vm, SLOT(0, 0), 0, 0xff0, 16, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 1), 0, 0x1000, 1, HVA_BASE));
}

TEST_F(ms, last_used_slot)
{
	struct kmmu_vm_memslots *vm = self->vm;
	struct kmmu_memory_slot *a, *b;

	ASSERT_EQ(0, set(vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	ASSERT_EQ(0, set(vm, SLOT(0, 1), 0, 0x200, 16, HVA_BASE));
	a = lookup(vm, 0, 0x100);
	urcu_memb_read_lock();
	EXPECT_EQ(a, kmmu_memslots_last_used(kmmu_memslots_active(vm, 0)));
	urcu_memb_read_unlock();
	b = lookup(vm, 0, 0x205);
	urcu_memb_read_lock();
	EXPECT_EQ(b, kmmu_memslots_last_used(kmmu_memslots_active(vm, 0)));
	/* A miss leaves the hint alone; search does not update it. */
	EXPECT_EQ(NULL, kmmu_gfn_to_memslot(kmmu_memslots_active(vm, 0), 0x150));
	EXPECT_EQ(a, kmmu_search_memslots(kmmu_memslots_active(vm, 0), 0x100, false));
	EXPECT_EQ(b, kmmu_memslots_last_used(kmmu_memslots_active(vm, 0)));
	/* approx: a neighbour of the hole. */
	EXPECT_NE(NULL, kmmu_search_memslots(kmmu_memslots_active(vm, 0), 0x150, true));
	urcu_memb_read_unlock();

	/* MOVE the hinted slot away: its old gfns must not be found. */
	ASSERT_EQ(0, set(vm, SLOT(0, 1), 0, 0x400, 16, HVA_BASE));
	EXPECT_TRUE(hint_is_live(vm, 0));
	EXPECT_EQ(NULL, lookup(vm, 0, 0x205));
	b = lookup(vm, 0, 0x405);
	ASSERT_NE(NULL, b);
	/* FLAGS_ONLY replaces the slot object; the hint must follow. */
	ASSERT_EQ(0, set(vm, SLOT(0, 1), KMMU_MEM_LOG_DIRTY_PAGES, 0x400, 16, HVA_BASE));
	EXPECT_TRUE(hint_is_live(vm, 0));
	b = lookup(vm, 0, 0x405);
	EXPECT_EQ(KMMU_MEM_LOG_DIRTY_PAGES, b->flags);
	/* The other set, which becomes active on the next swap, too. */
	ASSERT_EQ(0, set(vm, SLOT(0, 7), 0, 0x900, 1, HVA_BASE));
	EXPECT_TRUE(hint_is_live(vm, 0));
	/* DELETE of the hinted slot, in both sets. */
	lookup(vm, 0, 0x405);
	ASSERT_EQ(0, set(vm, SLOT(0, 1), 0, 0, 0, 0));
	EXPECT_TRUE(hint_is_live(vm, 0));
	EXPECT_EQ(NULL, lookup(vm, 0, 0x405));
	ASSERT_EQ(0, set(vm, SLOT(0, 8), 0, 0xa00, 1, HVA_BASE));
	EXPECT_TRUE(hint_is_live(vm, 0));
	EXPECT_EQ(NULL, lookup(vm, 0, 0x405));
	ASSERT_EQ(0, set(vm, SLOT(0, 9), 0, 0xb00, 1, HVA_BASE));
	EXPECT_TRUE(hint_is_live(vm, 0));
	EXPECT_EQ(NULL, lookup(vm, 0, 0x405));
	EXPECT_EQ(a, lookup(vm, 0, 0x10f));
}

TEST_F(ms, hva_range_edges)
{
	struct kmmu_vm_memslots *vm = self->vm;
	unsigned long a = HVA_BASE, b = HVA_BASE + 0x100000;

	/* Slot 0: hva [a, a + 16 pages); slot 1: [b, b + 1 page). */
	ASSERT_EQ(0, set(vm, SLOT(0, 0), 0, 0x100, 16, a));
	ASSERT_EQ(0, set(vm, SLOT(0, 1), 0, 0x800, 1, b));
	EXPECT_STREQ("0", hva_ids(vm, 0, a, a + 1));
	EXPECT_STREQ("0", hva_ids(vm, 0, a + 16 * PG - 1, a + 16 * PG));
	EXPECT_STREQ("", hva_ids(vm, 0, a + 16 * PG, a + 16 * PG + 1));
	EXPECT_STREQ("", hva_ids(vm, 0, a - 1, a));
	EXPECT_STREQ("0", hva_ids(vm, 0, a - 1, a + 1));
	EXPECT_STREQ("", hva_ids(vm, 0, a - PG, a));
	EXPECT_STREQ("", hva_ids(vm, 0, a + 16 * PG, b));
	EXPECT_STREQ("1", hva_ids(vm, 0, a + 16 * PG, b + 1));
	EXPECT_STREQ("0,1", hva_ids(vm, 0, a + 16 * PG - 1, b + 1));
	EXPECT_STREQ("0,1", hva_ids(vm, 0, 0, ~0ul));
	EXPECT_STREQ("1", hva_ids(vm, 0, b + PG - 1, ~0ul));
	EXPECT_STREQ("", hva_ids(vm, 0, b + PG, ~0ul));
	/* Empty and reversed ranges. */
	EXPECT_STREQ("", hva_ids(vm, 0, a + 5, a + 5));
	EXPECT_STREQ("", hva_ids(vm, 0, b, a));
	EXPECT_STREQ("", hva_ids(vm, 1, 0, ~0ul));

	/* Aliases: slot 2 is backed by slot 0's last page, in another AS too. */
	ASSERT_EQ(0, set(vm, SLOT(0, 2), 0, 0x900, 1, a + 15 * PG));
	ASSERT_EQ(0, set(vm, SLOT(1, 2), 0, 0x900, 2, a + 15 * PG));
	EXPECT_STREQ("0,2", hva_ids(vm, 0, a + 15 * PG, a + 15 * PG + 1));
	EXPECT_STREQ("0", hva_ids(vm, 0, a + 14 * PG, a + 15 * PG));
	EXPECT_STREQ("2", hva_ids(vm, 1, a, a + 16 * PG + 1));
	EXPECT_STREQ("", hva_ids(vm, 1, a, a + 15 * PG));

	/* After a MOVE the hva range is unchanged; after DELETE it is gone. */
	ASSERT_EQ(0, set(vm, SLOT(0, 0), 0, 0x1100, 16, a));
	EXPECT_STREQ("0", hva_ids(vm, 0, a, a + 1));
	ASSERT_EQ(0, set(vm, SLOT(0, 0), 0, 0, 0, 0));
	EXPECT_STREQ("", hva_ids(vm, 0, a, a + 1));
	EXPECT_STREQ("2,1", hva_ids(vm, 0, a, ~0ul - 1));
}

TEST_F(ms, gfn_range_and_order)
{
	struct kmmu_vm_memslots *vm = self->vm;
	struct kmmu_memory_slot *slot;
	char buf[64];
	size_t len = 0;

	ASSERT_EQ(0, set(vm, SLOT(0, 5), 0, 0x300, 16, HVA_BASE));
	ASSERT_EQ(0, set(vm, SLOT(0, 7), 0, 0x100, 16, HVA_BASE));
	ASSERT_EQ(0, set(vm, SLOT(0, 6), 0, 0x200, 1, HVA_BASE));
	EXPECT_STREQ("7,6,5", gfn_ids(vm, 0, 0, ~0ull));
	EXPECT_STREQ("7", gfn_ids(vm, 0, 0x10f, 0x110));
	EXPECT_STREQ("", gfn_ids(vm, 0, 0x110, 0x200));
	EXPECT_STREQ("6", gfn_ids(vm, 0, 0x110, 0x201));
	EXPECT_STREQ("7,6", gfn_ids(vm, 0, 0x10f, 0x201));
	EXPECT_STREQ("6,5", gfn_ids(vm, 0, 0x200, 0x301));
	EXPECT_STREQ("", gfn_ids(vm, 0, 0x201, 0x300));
	EXPECT_STREQ("5", gfn_ids(vm, 0, 0x30f, 0x310));
	EXPECT_STREQ("", gfn_ids(vm, 0, 0x310, ~0ull));
	EXPECT_STREQ("", gfn_ids(vm, 0, 0, 0x100));
	EXPECT_STREQ("", gfn_ids(vm, 0, 0x105, 0x105));

	urcu_memb_read_lock();
	kmmu_for_each_memslot(slot, kmmu_memslots_active(vm, 0))
		len += snprintf(buf + len, sizeof(buf) - len, "%lx ", (unsigned long)slot->base_gfn);
	EXPECT_EQ(3, kmmu_memslots_active(vm, 0)->nr_slots);
	EXPECT_FALSE(kmmu_memslots_empty(kmmu_memslots_active(vm, 0)));
	EXPECT_TRUE(kmmu_memslots_empty(kmmu_memslots_active(vm, 1)));
	urcu_memb_read_unlock();
	EXPECT_STREQ("100 200 300 ", buf);
}

TEST_F(ms, address_spaces_are_independent)
{
	struct kmmu_vm_memslots *vm = self->vm;
	struct kmmu_memory_slot *s0, *s1;

	ASSERT_EQ(0, set(vm, SLOT(0, 3), 0, 0x100, 16, HVA_BASE));
	ASSERT_EQ(0, set(vm, SLOT(1, 3), KMMU_MEM_READONLY, 0x100, 8, HVA_BASE + 0x10000));
	s0 = lookup(vm, 0, 0x105);
	s1 = lookup(vm, 1, 0x105);
	ASSERT_NE(NULL, s0);
	ASSERT_NE(NULL, s1);
	EXPECT_NE(s0, s1);
	EXPECT_EQ(1, s1->as_id);
	EXPECT_EQ(8, s1->npages);
	EXPECT_EQ(NULL, lookup(vm, 1, 0x10a));
	EXPECT_EQ(24, kmmu_memslots_nr_pages(vm));
	ASSERT_EQ(0, set(vm, SLOT(1, 3), 0, 0, 0, 0));
	EXPECT_EQ(s0, lookup(vm, 0, 0x105));
	EXPECT_EQ(NULL, lookup(vm, 1, 0x105));
	EXPECT_EQ(16, kmmu_memslots_nr_pages(vm));
}

TEST(max_slots_limit)
{
	struct kmmu_vm_memslots *vm;
	int i;

	urcu_memb_register_thread();
	EXPECT_EQ(-EINVAL, kmmu_memslots_init(NULL, NULL, NULL, 8));
	EXPECT_EQ(-EINVAL, kmmu_memslots_init(&vm, NULL, NULL, KMMU_USER_MEM_SLOTS + 1));
	ASSERT_EQ(0, kmmu_memslots_init(&vm, NULL, NULL, 0));
	EXPECT_EQ(KMMU_USER_MEM_SLOTS, kmmu_memslots_max_slots(vm));
	kmmu_memslots_destroy(vm);

	ASSERT_EQ(0, kmmu_memslots_init(&vm, NULL, NULL, 8));
	EXPECT_EQ(8, kmmu_memslots_max_slots(vm));
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(0, set(vm, SLOT(0, i), 0, 0x100 * i, 1, HVA_BASE));
		EXPECT_EQ(0, set(vm, SLOT(1, i), 0, 0x100 * i, 1, HVA_BASE));
	}
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 8), 0, 0x1000, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(1, 8), 0, 0x1000, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, set(vm, SLOT(0, 8), 0, 0, 0, 0));
	EXPECT_EQ(0, kmmu_set_memory_region_internal(vm, SLOT(0, 8), 0, 0x1000 * PG, PG, 0));
	urcu_memb_read_lock();
	EXPECT_EQ(9, kmmu_memslots_active(vm, 0)->nr_slots);
	EXPECT_EQ(8, kmmu_memslots_active(vm, 1)->nr_slots);
	urcu_memb_read_unlock();
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0, set(vm, SLOT(0, i), 0, 0, 0, 0));
	EXPECT_EQ(0, set(vm, SLOT(0, 7), 0, 0x7000, 1, HVA_BASE));
	kmmu_memslots_destroy(vm);

	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(NULL, 0, 0, 0, PG, 0));
	urcu_memb_unregister_thread();
}

/* Many slots: every id and every slot boundary resolves (hash + tree). */
TEST(many_slots)
{
	struct kmmu_vm_memslots *vm;
	int i, n = 2000;

	urcu_memb_register_thread();
	ASSERT_EQ(0, kmmu_memslots_init(&vm, NULL, NULL, 0));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, set(vm, SLOT(0, (i * 7919) % n), 0, 4 * ((i * 7919) % n), 3,
				 HVA_BASE + 3 * PG * i));
	for (i = 0; i < n; i++) {
		struct kmmu_memory_slot *s = by_id(vm, 0, i);

		ASSERT_NE(NULL, s);
		ASSERT_EQ(4 * i, s->base_gfn);
		ASSERT_EQ(s, lookup(vm, 0, 4 * i));
		ASSERT_EQ(s, lookup(vm, 0, 4 * i + 2));
		ASSERT_EQ(NULL, lookup(vm, 0, 4 * i + 3));
	}
	for (i = 0; i < n; i += 2)
		ASSERT_EQ(0, set(vm, SLOT(0, i), 0, 0, 0, 0));
	for (i = 0; i < n; i++)
		ASSERT_EQ(i & 1 ? by_id(vm, 0, i) : NULL, lookup(vm, 0, 4 * i + 1));
	kmmu_memslots_destroy(vm);
	urcu_memb_unregister_thread();
}

struct mn_arg {
	struct kmmu_vm_memslots *vm;
	volatile int done;
	int r;
};

static void *mn_updater(void *p)
{
	struct mn_arg *a = p;

	a->r = set(a->vm, SLOT(0, 0), 0, 0x100, 1, HVA_BASE);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A swap waits for MMU notifier invalidations in flight. */
TEST(swap_waits_for_mn_invalidation)
{
	struct mn_arg a = {};
	pthread_t t;

	urcu_memb_register_thread();
	ASSERT_EQ(0, kmmu_memslots_init(&a.vm, NULL, NULL, 0));
	kmmu_memslots_mn_invalidate_begin(a.vm);
	kmmu_memslots_mn_invalidate_begin(a.vm);
	ASSERT_EQ(0, pthread_create(&t, NULL, mn_updater, &a));
	usleep(50000);
	EXPECT_EQ(0, __atomic_load_n(&a.done, __ATOMIC_ACQUIRE));
	EXPECT_EQ(NULL, lookup(a.vm, 0, 0x100));
	kmmu_memslots_mn_invalidate_end(a.vm);
	usleep(20000);
	EXPECT_EQ(0, __atomic_load_n(&a.done, __ATOMIC_ACQUIRE));
	kmmu_memslots_mn_invalidate_end(a.vm);
	pthread_join(t, NULL);
	EXPECT_EQ(1, a.done);
	EXPECT_EQ(0, a.r);
	EXPECT_NE(NULL, lookup(a.vm, 0, 0x100));
	kmmu_memslots_destroy(a.vm);
	urcu_memb_unregister_thread();
}

TEST_HARNESS_MAIN
