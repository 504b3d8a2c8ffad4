// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of ref/memslot_update.c's protocol: slots created, moved,
 * re-flagged and deleted through KVM_SET_USER_MEMORY_REGION, the order of
 * the arch hooks, the generation and its update-in-progress bit, a failed
 * prepare rolling back, the slot id limit, and the swap waiting for MMU
 * notifier invalidations.  Its errors are memslot_errno_test's, its
 * lookups memslot_lookup_test's.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/memslot.h>
#include "lib/memslot_fixture.h"

TEST_F(ms, create_and_lookup)
{
	struct kmmu_memory_slot *s;

	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 3), KMMU_MEM_LOG_DIRTY_PAGES, 0x100, 16, HVA_BASE));
	s = ms_lookup(self->vm, 0, 0x100);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0x100, s->base_gfn);
	EXPECT_EQ(16, s->npages);
	EXPECT_EQ(HVA_BASE, s->userspace_addr);
	EXPECT_EQ(KMMU_MEM_LOG_DIRTY_PAGES, s->flags);
	EXPECT_EQ(3, s->id);
	EXPECT_EQ(0, s->as_id);
	EXPECT_NE(NULL, s->arch);
	EXPECT_EQ(s, ms_lookup(self->vm, 0, 0x10f));
	EXPECT_EQ(NULL, ms_lookup(self->vm, 0, 0xff));
	EXPECT_EQ(NULL, ms_lookup(self->vm, 0, 0x110));
	EXPECT_EQ(NULL, ms_lookup(self->vm, 1, 0x100));
	EXPECT_EQ(s, ms_by_id(self->vm, 0, 3));
	EXPECT_EQ(NULL, ms_by_id(self->vm, 0, 2));
	EXPECT_EQ(NULL, ms_by_id(self->vm, 1, 3));
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

	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	EXPECT_STREQ("Pc U Cc", self->rec.log);

	self->rec.log[0] = 0;
	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES, 0x100, 16, HVA_BASE));
	EXPECT_STREQ("Pf U Cf", self->rec.log);
	s = ms_lookup(self->vm, 0, 0x100);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(KMMU_MEM_LOG_DIRTY_PAGES, s->flags);

	/* MOVE and DELETE invalidate (swap + flush) before prepare. */
	self->rec.log[0] = 0;
	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES, 0x200, 16, HVA_BASE));
	EXPECT_STREQ("U F Pm U Cm", self->rec.log);
	EXPECT_EQ(NULL, ms_lookup(self->vm, 0, 0x100));
	s = ms_lookup(self->vm, 0, 0x20f);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0x200, s->base_gfn);
	EXPECT_EQ(0, s->flags & KMMU_MEMSLOT_INVALID);

	self->rec.log[0] = 0;
	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 0), 0, 0, 0, 0));
	EXPECT_STREQ("U F Pd U Cd X", self->rec.log);
	EXPECT_EQ(NULL, ms_lookup(self->vm, 0, 0x200));
	EXPECT_EQ(NULL, ms_by_id(self->vm, 0, 0));
	EXPECT_EQ(0, kmmu_memslots_nr_pages(self->vm));

	/* Unchanged parameters: nothing at all happens. */
	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 1), 0, 0x100, 1, HVA_BASE));
	self->rec.log[0] = 0;
	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 1), 0, 0x100, 1, HVA_BASE));
	EXPECT_STREQ("", self->rec.log);
}

TEST_F(ms, generation_sequence)
{
	struct kmmu_memslots *slots;

	EXPECT_EQ(0, ms_gen_of(self->vm, 0));
	EXPECT_EQ(1, ms_gen_of(self->vm, 1));

	/* CREATE: one swap, += KMMU_ADDRESS_SPACE_NUM. */
	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	EXPECT_EQ(2, ms_gen_of(self->vm, 0));
	EXPECT_EQ(2, self->rec.updated_gen);
	EXPECT_EQ(1, ms_gen_of(self->vm, 1));

	/* FLAGS_ONLY: one swap. */
	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES, 0x100, 16, HVA_BASE));
	EXPECT_EQ(4, ms_gen_of(self->vm, 0));
	/* MOVE: invalidate + install, two swaps. */
	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES, 0x200, 16, HVA_BASE));
	EXPECT_EQ(8, ms_gen_of(self->vm, 0));
	/* DELETE: two swaps. */
	ASSERT_EQ(0, ms_set(self->vm, SLOT(0, 0), 0, 0, 0, 0));
	EXPECT_EQ(12, ms_gen_of(self->vm, 0));
	EXPECT_EQ(12, self->rec.updated_gen);
	EXPECT_EQ(6, self->rec.nr_updated);

	/* Address space 1 keeps to odd generations. */
	ASSERT_EQ(0, ms_set(self->vm, SLOT(1, 0), 0, 0x100, 16, HVA_BASE));
	EXPECT_EQ(3, ms_gen_of(self->vm, 1));
	EXPECT_EQ(3, self->rec.updated_gen);
	EXPECT_EQ(12, ms_gen_of(self->vm, 0));

	/* Rejected requests and no-ops do not touch the generation. */
	EXPECT_EQ(-EINVAL, ms_set(self->vm, SLOT(1, 0), 0, 0x100, 17, HVA_BASE));
	ASSERT_EQ(0, ms_set(self->vm, SLOT(1, 0), 0, 0x100, 16, HVA_BASE));
	EXPECT_EQ(3, ms_gen_of(self->vm, 1));

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
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	ASSERT_EQ(0, ms_set(vm, SLOT(1, 0), 0, 0x100, 16, HVA_BASE));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0x300, 16, HVA_BASE));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0, 0, 0));
	EXPECT_EQ(6, rec.nr_updated);
	EXPECT_EQ(0, rec.bad) TH_LOG("%s", rec.why);
	EXPECT_EQ(10, ms_gen_of(vm, 0));
	kmmu_memslots_destroy(vm);
	urcu_memb_unregister_thread();
}


TEST_F(ms, prepare_failure_rolls_back)
{
	struct kmmu_vm_memslots *vm = self->vm;
	struct kmmu_memory_slot *s;

	self->rec.arch.prepare_err = -ENOMEM;
	EXPECT_EQ(-ENOMEM, ms_set(vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	EXPECT_EQ(NULL, ms_lookup(vm, 0, 0x100));
	EXPECT_EQ(0, ms_gen_of(vm, 0));
	EXPECT_EQ(0, kmmu_memslots_nr_pages(vm));

	ASSERT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	self->rec.log[0] = 0;
	self->rec.arch.prepare_err = -ENOSPC;
	EXPECT_EQ(-ENOSPC, ms_set(vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES, 0x100, 16, HVA_BASE));
	EXPECT_STREQ("Pf", self->rec.log);
	EXPECT_EQ(2, ms_gen_of(vm, 0));
	EXPECT_EQ(0, ms_lookup(vm, 0, 0x100)->flags);

	/* DELETE / MOVE: invalidated and zapped, then swapped back. */
	self->rec.log[0] = 0;
	self->rec.arch.prepare_err = -EIO;
	EXPECT_EQ(-EIO, ms_set(vm, SLOT(0, 0), 0, 0, 0, 0));
	EXPECT_STREQ("U F Pd U", self->rec.log);
	EXPECT_EQ(6, ms_gen_of(vm, 0));
	s = ms_lookup(vm, 0, 0x100);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, s->flags);
	EXPECT_EQ(s, ms_by_id(vm, 0, 0));

	self->rec.arch.prepare_err = -EFAULT;
	EXPECT_EQ(-EFAULT, ms_set(vm, SLOT(0, 0), 0, 0x500, 16, HVA_BASE));
	EXPECT_EQ(10, ms_gen_of(vm, 0));
	EXPECT_EQ(s, ms_lookup(vm, 0, 0x100));
	EXPECT_EQ(NULL, ms_lookup(vm, 0, 0x500));
	EXPECT_EQ(16, kmmu_memslots_nr_pages(vm));

	/* The x86 max gfn check lives in prepare. */
	self->rec.arch.max_gfn = 0xfff;
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 0), 0, 0xff1, 16, HVA_BASE));
	EXPECT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0xff0, 16, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 1), 0, 0x1000, 1, HVA_BASE));
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
		EXPECT_EQ(0, ms_set(vm, SLOT(0, i), 0, 0x100 * i, 1, HVA_BASE));
		EXPECT_EQ(0, ms_set(vm, SLOT(1, i), 0, 0x100 * i, 1, HVA_BASE));
	}
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 8), 0, 0x1000, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(1, 8), 0, 0x1000, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 8), 0, 0, 0, 0));
	EXPECT_EQ(0, kmmu_set_memory_region_internal(vm, SLOT(0, 8), 0, 0x1000 * PG, PG, 0));
	urcu_memb_read_lock();
	EXPECT_EQ(9, kmmu_memslots_active(vm, 0)->nr_slots);
	EXPECT_EQ(8, kmmu_memslots_active(vm, 1)->nr_slots);
	urcu_memb_read_unlock();
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0, ms_set(vm, SLOT(0, i), 0, 0, 0, 0));
	EXPECT_EQ(0, ms_set(vm, SLOT(0, 7), 0, 0x7000, 1, HVA_BASE));
	kmmu_memslots_destroy(vm);

	EXPECT_EQ(-EINVAL, kmmu_set_memory_region(NULL, 0, 0, 0, PG, 0));
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

	a->r = ms_set(a->vm, SLOT(0, 0), 0, 0x100, 1, HVA_BASE);
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
	EXPECT_EQ(NULL, ms_lookup(a.vm, 0, 0x100));
	kmmu_memslots_mn_invalidate_end(a.vm);
	usleep(20000);
	EXPECT_EQ(0, __atomic_load_n(&a.done, __ATOMIC_ACQUIRE));
	kmmu_memslots_mn_invalidate_end(a.vm);
	pthread_join(t, NULL);
	EXPECT_EQ(1, a.done);
	EXPECT_EQ(0, a.r);
	EXPECT_NE(NULL, ms_lookup(a.vm, 0, 0x100));
	kmmu_memslots_destroy(a.vm);
	urcu_memb_unregister_thread();
}

TEST_HARNESS_MAIN
