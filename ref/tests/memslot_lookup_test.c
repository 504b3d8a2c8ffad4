// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of ref/memslot.c's lookups: last_used_slot and its
 * invalidation, id / gfn / hva-range lookups at their edges, both address
 * spaces, and many slots at once.
 */
#define _LGPL_SOURCE
#include <errno.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/memslot.h>
#include "lib/memslot_fixture.h"

TEST_F(ms, last_used_slot)
{
	struct kmmu_vm_memslots *vm = self->vm;
	struct kmmu_memory_slot *a, *b;

	ASSERT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0x100, 16, HVA_BASE));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 1), 0, 0x200, 16, HVA_BASE));
	a = ms_lookup(vm, 0, 0x100);
	urcu_memb_read_lock();
	EXPECT_EQ(a, kmmu_memslots_last_used(kmmu_memslots_active(vm, 0)));
	urcu_memb_read_unlock();
	b = ms_lookup(vm, 0, 0x205);
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
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 1), 0, 0x400, 16, HVA_BASE));
	EXPECT_TRUE(ms_hint_is_live(vm, 0));
	EXPECT_EQ(NULL, ms_lookup(vm, 0, 0x205));
	b = ms_lookup(vm, 0, 0x405);
	ASSERT_NE(NULL, b);
	/* FLAGS_ONLY replaces the slot object; the hint must follow. */
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 1), KMMU_MEM_LOG_DIRTY_PAGES, 0x400, 16, HVA_BASE));
	EXPECT_TRUE(ms_hint_is_live(vm, 0));
	b = ms_lookup(vm, 0, 0x405);
	EXPECT_EQ(KMMU_MEM_LOG_DIRTY_PAGES, b->flags);
	/* The other set, which becomes active on the next swap, too. */
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 7), 0, 0x900, 1, HVA_BASE));
	EXPECT_TRUE(ms_hint_is_live(vm, 0));
	/* DELETE of the hinted slot, in both sets. */
	ms_lookup(vm, 0, 0x405);
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 1), 0, 0, 0, 0));
	EXPECT_TRUE(ms_hint_is_live(vm, 0));
	EXPECT_EQ(NULL, ms_lookup(vm, 0, 0x405));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 8), 0, 0xa00, 1, HVA_BASE));
	EXPECT_TRUE(ms_hint_is_live(vm, 0));
	EXPECT_EQ(NULL, ms_lookup(vm, 0, 0x405));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 9), 0, 0xb00, 1, HVA_BASE));
	EXPECT_TRUE(ms_hint_is_live(vm, 0));
	EXPECT_EQ(NULL, ms_lookup(vm, 0, 0x405));
	EXPECT_EQ(a, ms_lookup(vm, 0, 0x10f));
}

TEST_F(ms, hva_range_edges)
{
	struct kmmu_vm_memslots *vm = self->vm;
	unsigned long a = HVA_BASE, b = HVA_BASE + 0x100000;

	/* Slot 0: hva [a, a + 16 pages); slot 1: [b, b + 1 page). */
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0x100, 16, a));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 1), 0, 0x800, 1, b));
	EXPECT_STREQ("0", ms_hva_ids(vm, 0, a, a + 1));
	EXPECT_STREQ("0", ms_hva_ids(vm, 0, a + 16 * PG - 1, a + 16 * PG));
	EXPECT_STREQ("", ms_hva_ids(vm, 0, a + 16 * PG, a + 16 * PG + 1));
	EXPECT_STREQ("", ms_hva_ids(vm, 0, a - 1, a));
	EXPECT_STREQ("0", ms_hva_ids(vm, 0, a - 1, a + 1));
	EXPECT_STREQ("", ms_hva_ids(vm, 0, a - PG, a));
	EXPECT_STREQ("", ms_hva_ids(vm, 0, a + 16 * PG, b));
	EXPECT_STREQ("1", ms_hva_ids(vm, 0, a + 16 * PG, b + 1));
	EXPECT_STREQ("0,1", ms_hva_ids(vm, 0, a + 16 * PG - 1, b + 1));
	EXPECT_STREQ("0,1", ms_hva_ids(vm, 0, 0, ~0ul));
	EXPECT_STREQ("1", ms_hva_ids(vm, 0, b + PG - 1, ~0ul));
	EXPECT_STREQ("", ms_hva_ids(vm, 0, b + PG, ~0ul));
	/* Empty and reversed ranges. */
	EXPECT_STREQ("", ms_hva_ids(vm, 0, a + 5, a + 5));
	EXPECT_STREQ("", ms_hva_ids(vm, 0, b, a));
	EXPECT_STREQ("", ms_hva_ids(vm, 1, 0, ~0ul));

	/* Aliases: slot 2 is backed by slot 0's last page, in another AS too. */
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 2), 0, 0x900, 1, a + 15 * PG));
	ASSERT_EQ(0, ms_set(vm, SLOT(1, 2), 0, 0x900, 2, a + 15 * PG));
	EXPECT_STREQ("0,2", ms_hva_ids(vm, 0, a + 15 * PG, a + 15 * PG + 1));
	EXPECT_STREQ("0", ms_hva_ids(vm, 0, a + 14 * PG, a + 15 * PG));
	EXPECT_STREQ("2", ms_hva_ids(vm, 1, a, a + 16 * PG + 1));
	EXPECT_STREQ("", ms_hva_ids(vm, 1, a, a + 15 * PG));

	/* After a MOVE the hva range is unchanged; after DELETE it is gone. */
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0x1100, 16, a));
	EXPECT_STREQ("0", ms_hva_ids(vm, 0, a, a + 1));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 0), 0, 0, 0, 0));
	EXPECT_STREQ("", ms_hva_ids(vm, 0, a, a + 1));
	EXPECT_STREQ("2,1", ms_hva_ids(vm, 0, a, ~0ul - 1));
}

TEST_F(ms, gfn_range_and_order)
{
	struct kmmu_vm_memslots *vm = self->vm;
	struct kmmu_memory_slot *slot;
	char buf[64];
	size_t len = 0;

	ASSERT_EQ(0, ms_set(vm, SLOT(0, 5), 0, 0x300, 16, HVA_BASE));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 7), 0, 0x100, 16, HVA_BASE));
	ASSERT_EQ(0, ms_set(vm, SLOT(0, 6), 0, 0x200, 1, HVA_BASE));
	EXPECT_STREQ("7,6,5", ms_gfn_ids(vm, 0, 0, ~0ull));
	EXPECT_STREQ("7", ms_gfn_ids(vm, 0, 0x10f, 0x110));
	EXPECT_STREQ("", ms_gfn_ids(vm, 0, 0x110, 0x200));
	EXPECT_STREQ("6", ms_gfn_ids(vm, 0, 0x110, 0x201));
	EXPECT_STREQ("7,6", ms_gfn_ids(vm, 0, 0x10f, 0x201));
	EXPECT_STREQ("6,5", ms_gfn_ids(vm, 0, 0x200, 0x301));
	EXPECT_STREQ("", ms_gfn_ids(vm, 0, 0x201, 0x300));
	EXPECT_STREQ("5", ms_gfn_ids(vm, 0, 0x30f, 0x310));
	EXPECT_STREQ("", ms_gfn_ids(vm, 0, 0x310, ~0ull));
	EXPECT_STREQ("", ms_gfn_ids(vm, 0, 0, 0x100));
	EXPECT_STREQ("", ms_gfn_ids(vm, 0, 0x105, 0x105));

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

	ASSERT_EQ(0, ms_set(vm, SLOT(0, 3), 0, 0x100, 16, HVA_BASE));
	ASSERT_EQ(0, ms_set(vm, SLOT(1, 3), KMMU_MEM_READONLY, 0x100, 8, HVA_BASE + 0x10000));
	s0 = ms_lookup(vm, 0, 0x105);
	s1 = ms_lookup(vm, 1, 0x105);
	ASSERT_NE(NULL, s0);
	ASSERT_NE(NULL, s1);
	EXPECT_NE(s0, s1);
	EXPECT_EQ(1, s1->as_id);
	EXPECT_EQ(8, s1->npages);
	EXPECT_EQ(NULL, ms_lookup(vm, 1, 0x10a));
	EXPECT_EQ(24, kmmu_memslots_nr_pages(vm));
	ASSERT_EQ(0, ms_set(vm, SLOT(1, 3), 0, 0, 0, 0));
	EXPECT_EQ(s0, ms_lookup(vm, 0, 0x105));
	EXPECT_EQ(NULL, ms_lookup(vm, 1, 0x105));
	EXPECT_EQ(16, kmmu_memslots_nr_pages(vm));
}


/* Many slots: every id and every slot boundary resolves (hash + tree). */
TEST(many_slots)
{
	struct kmmu_vm_memslots *vm;
	int i, n = 2000;

	urcu_memb_register_thread();
	ASSERT_EQ(0, kmmu_memslots_init(&vm, NULL, NULL, 0));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, ms_set(vm, SLOT(0, (i * 7919) % n), 0, 4 * ((i * 7919) % n), 3,
				 HVA_BASE + 3 * PG * i));
	for (i = 0; i < n; i++) {
		struct kmmu_memory_slot *s = ms_by_id(vm, 0, i);

		ASSERT_NE(NULL, s);
		ASSERT_EQ(4 * i, s->base_gfn);
		ASSERT_EQ(s, ms_lookup(vm, 0, 4 * i));
		ASSERT_EQ(s, ms_lookup(vm, 0, 4 * i + 2));
		ASSERT_EQ(NULL, ms_lookup(vm, 0, 4 * i + 3));
	}
	for (i = 0; i < n; i += 2)
		ASSERT_EQ(0, ms_set(vm, SLOT(0, i), 0, 0, 0, 0));
	for (i = 0; i < n; i++)
		ASSERT_EQ(i & 1 ? ms_by_id(vm, 0, i) : NULL, ms_lookup(vm, 0, 4 * i + 1));
	kmmu_memslots_destroy(vm);
	urcu_memb_unregister_thread();
}


TEST_HARNESS_MAIN
