// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu_grow(): doubling from the first size, room for several at once,
 * contents kept across the moves, and an overflowing size refused with the
 * array left as it was.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include <kmmu/grow.h>

struct item {
	uint64_t a, b;
};

TEST(doubles_from_the_first_size_and_keeps_the_contents)
{
	struct item *items = NULL;
	uint64_t nr = 0, cap = 0, i;

	for (i = 0; i < 1000; i++) {
		ASSERT_EQ(0, kmmu_grow(&items, &cap, nr, 1, 16));
		items[nr++] = (struct item){ .a = i, .b = ~i };
		if (nr == 1)
			EXPECT_EQ(16, cap);
	}
	EXPECT_EQ(1024, cap);
	for (i = 0; i < nr; i++)
		ASSERT_TRUE(items[i].a == i && items[i].b == ~i);
	/* Room enough already: nothing moves. */
	ASSERT_EQ(0, kmmu_grow(&items, &cap, nr, 24, 16));
	EXPECT_EQ(1024, cap);
	free(items);
}

TEST(room_for_many_at_once)
{
	uint32_t *v = NULL;
	uint64_t cap = 0;

	ASSERT_EQ(0, kmmu_grow(&v, &cap, 0, 100, 8));
	EXPECT_EQ(128, cap);
	v[99] = 7;
	ASSERT_EQ(0, kmmu_grow(&v, &cap, 100, 1000, 8));
	EXPECT_EQ(2048, cap);
	EXPECT_EQ(7, v[99]);
	free(v);
}

TEST(overflowing_sizes_are_refused_and_nothing_changes)
{
	struct item *items = NULL;
	uint64_t cap = 0;

	ASSERT_EQ(0, kmmu_grow(&items, &cap, 0, 1, 4));
	items[0].a = 42;
	EXPECT_EQ(-ENOMEM, kmmu_grow(&items, &cap, 4, UINT64_MAX - 2, 4));
	EXPECT_EQ(-ENOMEM, kmmu_grow(&items, &cap, 4, UINT64_MAX / 4, 4));
	EXPECT_EQ(4, cap);
	EXPECT_EQ(42, items[0].a);
	free(items);
}

TEST_HARNESS_MAIN
