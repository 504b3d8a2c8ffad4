// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu_cmp_u64_key(): u64 arrays, and structs by their first member,
 * including keys that a signed or int-sized comparison would misorder.
 */
#include <stdint.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include "kmmu/sort.h"

TEST(u64_array)
{
	uint64_t v[] = { 5, UINT64_MAX, 0, 1ULL << 32, 3 };
	uint64_t want[] = { 0, 3, 5, 1ULL << 32, UINT64_MAX };

	qsort(v, 5, sizeof(v[0]), kmmu_cmp_u64_key);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(want[i], v[i]);
}

TEST(structs_by_their_first_member)
{
	struct keyed {
		uint64_t key;
		uint64_t payload;
	} v[] = { { 9, 90 }, { 1ULL << 63, 1 }, { 2, 20 }, { 2, 21 } };

	qsort(v, 4, sizeof(v[0]), kmmu_cmp_u64_key);
	ASSERT_EQ(2, v[0].key);
	ASSERT_EQ(2, v[1].key);
	ASSERT_EQ(41, v[0].payload + v[1].payload);	/* the payload moved with its key */
	ASSERT_EQ(9, v[2].key);
	ASSERT_EQ(90, v[2].payload);
	ASSERT_EQ(1ULL << 63, v[3].key);
}

TEST_HARNESS_MAIN
