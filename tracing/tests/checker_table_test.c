// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's hash table (tracing/checker/table.h) on its own: entries
 * are found again by key with what was stored in them, across growth and
 * colliding keys, it stays at most half full, and running out of memory
 * fails the one call and keeps what the table held.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../checker/table.h"

struct entry {
	uint64_t key;
	uint64_t value;
	uint32_t pad;
};

static uint64_t value_of(uint64_t key)
{
	return key * 3 + 7;
}

TEST(empty_table_finds_nothing)
{
	struct chk_table t = { .esize = sizeof(struct entry) };

	EXPECT_EQ(NULL, chk_table_find(&t, 1));
	EXPECT_EQ(NULL, chk_table_find(&t, UINT64_MAX));
	EXPECT_EQ(0, t.nr);
	chk_table_free(&t);
}

TEST(get_creates_zeroed_entry_once)
{
	struct chk_table t = { .esize = sizeof(struct entry) };
	struct entry *e = chk_table_get(&t, 42);

	ASSERT_NE(NULL, e);
	EXPECT_EQ(42, e->key);
	EXPECT_EQ(0, e->value);
	EXPECT_EQ(0, e->pad);
	e->value = 1234;
	EXPECT_EQ(e, chk_table_get(&t, 42));
	EXPECT_EQ(e, chk_table_find(&t, 42));
	EXPECT_EQ(1234, ((struct entry *)chk_table_find(&t, 42))->value);
	EXPECT_EQ(1, t.nr);
	EXPECT_EQ(NULL, chk_table_find(&t, 43));
	chk_table_free(&t);
	EXPECT_EQ(0, t.nr);
	EXPECT_EQ(NULL, chk_table_find(&t, 42));
}

/* Keys of the checker's shapes: small, sequential, and strided (gfn << 8 | level). */
TEST(values_survive_growth)
{
	const uint64_t nr = 100000;
	struct chk_table t = { .esize = sizeof(struct entry) };

	for (uint64_t i = 1; i <= nr; i++) {
		uint64_t key = i & 1 ? i : i << 20;
		struct entry *e = chk_table_get(&t, key);

		ASSERT_NE(NULL, e);
		ASSERT_EQ(0, e->value);
		e->value = value_of(key);
		ASSERT_GE(t.cap, t.nr * 2);
	}
	EXPECT_EQ(nr, t.nr);
	for (uint64_t i = 1; i <= nr; i++) {
		uint64_t key = i & 1 ? i : i << 20;
		struct entry *e = chk_table_find(&t, key);

		ASSERT_NE(NULL, e) TH_LOG("key %#llx lost", (unsigned long long)key);
		ASSERT_EQ(value_of(key), e->value);
	}
	for (uint64_t i = 1; i <= 1000; i++)
		EXPECT_EQ(NULL, chk_table_find(&t, (2 * i) | 1ull << 62));
	chk_table_free(&t);
}

/*
 * Keys that hash to the table's last entry: probing wraps to its start,
 * and each is found again with its own value.
 */
TEST(colliding_keys_wrap_around)
{
	struct chk_table t = { .esize = sizeof(struct entry) };
	uint64_t keys[8];
	int n = 0;

	/* The first growth makes 256 entries: find keys whose home is 255. */
	for (uint64_t k = 1; n < 8; k++)
		if ((k * 0x9e3779b97f4a7c15ULL >> 20 & 255) == 255)
			keys[n++] = k;
	for (int i = 0; i < n; i++) {
		struct entry *e = chk_table_get(&t, keys[i]);

		ASSERT_NE(NULL, e);
		e->value = value_of(keys[i]);
	}
	ASSERT_EQ(256, t.cap);
	for (int i = 0; i < n; i++) {
		struct entry *e = chk_table_find(&t, keys[i]);

		ASSERT_NE(NULL, e);
		EXPECT_EQ(value_of(keys[i]), e->value);
	}
	/* Linear probing: the first at the end, the others from the start. */
	EXPECT_EQ(keys[0], ((struct entry *)(t.ents + 255 * t.esize))->key);
	EXPECT_EQ(keys[1], ((struct entry *)t.ents)->key);
	chk_table_free(&t);
}

/* An entry size no calloc() can give 256 of: the first growth fails. */
TEST(out_of_memory_on_first_growth)
{
	struct chk_table t = { .esize = SIZE_MAX / 128 };

	EXPECT_EQ(NULL, chk_table_get(&t, 1));
	EXPECT_EQ(0, t.nr);
	EXPECT_EQ(0, t.cap);
	EXPECT_EQ(NULL, chk_table_find(&t, 1));
	chk_table_free(&t);
}

/* The address space stops the doubling: the table keeps its entries. */
TEST(out_of_memory_keeps_entries)
{
	struct chk_table t = { .esize = 64 << 10 };
	unsigned long pages = 0;
	struct rlimit as;
	FILE *f;

	for (uint64_t key = 1; key <= 128; key++) {
		uint64_t *e = chk_table_get(&t, key);

		ASSERT_NE(NULL, e);
		e[1] = value_of(key);
	}
	ASSERT_EQ(256, t.cap);
	/* Room for 8 MiB more; the next growth needs 32 MiB (each test is its own process). */
	f = fopen("/proc/self/statm", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%lu", &pages));
	fclose(f);
	as.rlim_cur = as.rlim_max = pages * sysconf(_SC_PAGESIZE) + (8 << 20);
	ASSERT_EQ(0, setrlimit(RLIMIT_AS, &as));

	EXPECT_EQ(NULL, chk_table_get(&t, 129));
	EXPECT_EQ(128, t.nr);
	EXPECT_EQ(256, t.cap);
	EXPECT_EQ(NULL, chk_table_find(&t, 129));
	for (uint64_t key = 1; key <= 128; key++) {
		uint64_t *e = chk_table_find(&t, key);

		ASSERT_NE(NULL, e);
		EXPECT_EQ(value_of(key), e[1]);
	}
	chk_table_free(&t);
}

TEST_HARNESS_MAIN
