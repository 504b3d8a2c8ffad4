// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_SET_USER_MEMORY_REGION's checks in ref/memslot_update.c: every bad
 * request fails with the kernel's errno and changes nothing.
 */
#define _LGPL_SOURCE
#include <errno.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/memslot.h>
#include "lib/memslot_fixture.h"

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

	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, KMMU_USER_MEM_SLOTS), 0, 0, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 0xffff), 0, 0, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(2, 0), 0, 0, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0xffff, 0), 0, 0, 1, HVA_BASE));
	EXPECT_EQ(0, ms_set(vm, SLOT(0, KMMU_USER_MEM_SLOTS - 1), 0, 0, 1, HVA_BASE));
	EXPECT_EQ(0, ms_set(vm, SLOT(1, KMMU_USER_MEM_SLOTS - 1), 0, 0, 1, HVA_BASE));

	/* Internal (x86 private) slots: up to KVM_MEM_SLOTS_NUM - 1. */
	EXPECT_EQ(0, kmmu_set_memory_region_internal(vm, SLOT(0, KMMU_USER_MEM_SLOTS), 0,
						     0x10 * PG, PG, HVA_BASE));
	EXPECT_EQ(0, kmmu_set_memory_region_internal(vm, SLOT(0, KMMU_MEM_SLOTS_NUM - 1), 0,
						     0x20 * PG, PG, HVA_BASE));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region_internal(vm, SLOT(0, KMMU_MEM_SLOTS_NUM), 0,
							   0x30 * PG, PG, HVA_BASE));
	EXPECT_EQ(-EINVAL, kmmu_set_memory_region_internal(vm, SLOT(2, 5), 0,
							   0x30 * PG, PG, HVA_BASE));
	EXPECT_FALSE(kmmu_memslot_is_visible(ms_lookup(vm, 0, 0x10)));
	EXPECT_TRUE(kmmu_memslot_is_visible(ms_lookup(vm, 0, 0)));
	/* The user API cannot touch them, not even to delete. */
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, KMMU_USER_MEM_SLOTS), 0, 0, 0, 0));
	EXPECT_NE(NULL, ms_by_id(vm, 0, KMMU_USER_MEM_SLOTS));
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
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 4), 0, 0, 0, 0));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 4), 0, 0x100, 16, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(1, 4), 0, 0, 0, 0));

	/* The size and hva of a slot are fixed. */
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 4), 0, 0x100, 17, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 4), 0, 0x100, 15, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 4), 0, 0x100, 16, HVA_BASE + PG));
	/* So is READONLY, also combined with a move. */
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 4), KMMU_MEM_READONLY, 0x100, 16, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 4), KMMU_MEM_READONLY, 0x900, 16, HVA_BASE));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 5), KMMU_MEM_READONLY, 0x300, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 5), 0, 0x300, 1, HVA_BASE));
	EXPECT_EQ(-EINVAL, ms_set(vm, SLOT(0, 5), 0, 0x400, 1, HVA_BASE));
	/* LOG_DIRTY_PAGES may change, with a move too. */
	EXPECT_EQ(0, ms_set(vm, SLOT(0, 5), KMMU_MEM_READONLY | KMMU_MEM_LOG_DIRTY_PAGES,
			 0x400, 1, HVA_BASE));
	EXPECT_EQ(KMMU_MEM_READONLY | KMMU_MEM_LOG_DIRTY_PAGES, ms_lookup(vm, 0, 0x400)->flags);

	/* Nothing of it changed a thing. */
	EXPECT_EQ(16, ms_lookup(vm, 0, 0x100)->npages);
	EXPECT_EQ(17, kmmu_memslots_nr_pages(vm));
	EXPECT_EQ(NULL, ms_lookup(vm, 0, 0x300));
}

TEST_F(ms, eexist_overlap)
{
	struct kmmu_vm_memslots *vm = self->vm;

	ASSERT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	/* Overlapping the first and the last page, containing, contained. */
	EXPECT_EQ(-EEXIST, ms_set(vm, SLOT(0, 1), 0, 0xf1, 16, HVA_BASE));
	EXPECT_EQ(-EEXIST, ms_set(vm, SLOT(0, 1), 0, 0x10f, 16, HVA_BASE));
	EXPECT_EQ(-EEXIST, ms_set(vm, SLOT(0, 1), 0, 0x80, 0x100, HVA_BASE));
	EXPECT_EQ(-EEXIST, ms_set(vm, SLOT(0, 1), 0, 0x104, 2, HVA_BASE));
	/* Adjacent on either side is fine; so is another address space. */
	EXPECT_EQ(0, ms_set(vm, SLOT(0, 1), 0, 0xf0, 16, HVA_BASE));
	EXPECT_EQ(0, ms_set(vm, SLOT(0, 2), 0, 0x110, 16, HVA_BASE));
	EXPECT_EQ(0, ms_set(vm, SLOT(1, 1), 0, 0x100, 16, HVA_BASE));

	/* A MOVE into another slot fails; overlapping only itself is fine. */
	EXPECT_EQ(-EEXIST, ms_set(vm, SLOT(0, 0), 0, 0x108, 16, HVA_BASE));
	EXPECT_STREQ("Pc U Cc Pc U Cc Pc U Cc Pc U Cc", self->rec.log);
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 2), 0, 0x118, 16, HVA_BASE));
	EXPECT_EQ(0x118, ms_lookup(vm, 0, 0x127)->base_gfn);
	EXPECT_EQ(NULL, ms_lookup(vm, 0, 0x110));
	EXPECT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0x108, 16, HVA_BASE));
	EXPECT_EQ(4 * 16, kmmu_memslots_nr_pages(vm));
}


TEST_HARNESS_MAIN
