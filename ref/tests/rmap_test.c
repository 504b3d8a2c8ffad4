// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of ref/rmap.c: the inline entry, the 1 -> many switch, full
 * tails and a partial head (KMMU_PTE_LIST_EXT), counts, walks, removal from
 * every position, random add/remove against a plain array, and errors.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include <kmmu/rmap.h>

#define N	200

static uint64_t sptes[N];

static unsigned int walk(struct kmmu_rmap_head *h, unsigned char *seen)
{
	struct kmmu_rmap_iterator it;
	unsigned int n = 0;
	uint64_t *p;

	kmmu_for_each_rmap_spte(h, &it, p) {
		seen[p - sptes]++;
		n++;
	}
	return n;
}

TEST(inline_and_many)
{
	struct kmmu_rmap_head h = { 0 };
	unsigned char seen[N] = { 0 };

	ASSERT_EQ(0, kmmu_pte_list_count(&h));
	ASSERT_EQ(0, kmmu_pte_list_add(&h, &sptes[0]));
	/* One entry lives in the head itself. */
	ASSERT_EQ((unsigned long)&sptes[0], h.val);
	ASSERT_EQ(0, h.val & KMMU_RMAP_MANY);
	ASSERT_EQ(1, kmmu_pte_list_count(&h));
	ASSERT_EQ(0, kmmu_pte_list_nr_desc(&h));

	ASSERT_EQ(1, kmmu_pte_list_add(&h, &sptes[1]));
	ASSERT_NE(0, h.val & KMMU_RMAP_MANY);
	ASSERT_EQ(1, kmmu_pte_list_nr_desc(&h));
	ASSERT_EQ(2, kmmu_pte_list_count(&h));
	ASSERT_EQ(1, kmmu_pte_list_desc_live());
	ASSERT_EQ(2, walk(&h, seen));
	ASSERT_EQ(1, seen[0]);
	ASSERT_EQ(1, seen[1]);

	/* Back to inline is not done: the desc stays until it empties. */
	ASSERT_EQ(0, kmmu_pte_list_remove(&h, &sptes[0]));
	ASSERT_EQ(1, kmmu_pte_list_count(&h));
	ASSERT_EQ(0, kmmu_pte_list_remove(&h, &sptes[1]));
	ASSERT_EQ(0, h.val);
	ASSERT_EQ(0, kmmu_pte_list_desc_live());
}

TEST(descriptor_capacity)
{
	struct kmmu_rmap_head h = { 0 };
	struct kmmu_pte_list_desc *d;
	unsigned char seen[N] = { 0 };
	int i;

	for (i = 0; i < KMMU_PTE_LIST_EXT; i++)
		ASSERT_EQ(i, kmmu_pte_list_add(&h, &sptes[i]));
	ASSERT_EQ(1, kmmu_pte_list_nr_desc(&h));
	d = (struct kmmu_pte_list_desc *)(h.val & ~KMMU_RMAP_MANY);
	ASSERT_EQ(KMMU_PTE_LIST_EXT, d->spte_count);
	/* The next one needs a new head descriptor; the old one is the tail. */
	ASSERT_EQ(KMMU_PTE_LIST_EXT, kmmu_pte_list_add(&h, &sptes[KMMU_PTE_LIST_EXT]));
	ASSERT_EQ(2, kmmu_pte_list_nr_desc(&h));
	d = (struct kmmu_pte_list_desc *)(h.val & ~KMMU_RMAP_MANY);
	ASSERT_EQ(1, d->spte_count);
	ASSERT_EQ(KMMU_PTE_LIST_EXT, d->tail_count);
	ASSERT_EQ(KMMU_PTE_LIST_EXT + 1, kmmu_pte_list_count(&h));
	ASSERT_EQ(KMMU_PTE_LIST_EXT + 1, walk(&h, seen));

	/* Removing from the full tail refills it from the head. */
	ASSERT_EQ(0, kmmu_pte_list_remove(&h, &sptes[3]));
	ASSERT_EQ(1, kmmu_pte_list_nr_desc(&h));
	d = (struct kmmu_pte_list_desc *)(h.val & ~KMMU_RMAP_MANY);
	ASSERT_EQ(KMMU_PTE_LIST_EXT, d->spte_count);
	ASSERT_EQ(0, d->tail_count);
	ASSERT_EQ(KMMU_PTE_LIST_EXT, kmmu_pte_list_count(&h));
	kmmu_pte_list_destroy(&h);
	ASSERT_EQ(0, h.val);
	ASSERT_EQ(0, kmmu_pte_list_desc_live());
}

TEST(random_against_array)
{
	struct kmmu_rmap_head h = { 0 };
	unsigned char in[N] = { 0 };
	unsigned int n = 0, step, i, max_count = 0;

	srandom(12345);
	for (step = 0; step < 20000; step++) {
		unsigned int k = random() % N;
		unsigned char seen[N] = { 0 };

		if (in[k]) {
			ASSERT_EQ(0, kmmu_pte_list_remove(&h, &sptes[k]));
			in[k] = 0;
			n--;
			/* Gone means gone: a second removal fails. */
			ASSERT_EQ(-ENOENT, kmmu_pte_list_remove(&h, &sptes[k]));
		} else {
			int c = kmmu_pte_list_add(&h, &sptes[k]);

			ASSERT_EQ(n, c);
			in[k] = 1;
			n++;
			if ((unsigned int)c > max_count)
				max_count = c;
		}
		ASSERT_EQ(n, kmmu_pte_list_count(&h));
		ASSERT_EQ(n, walk(&h, seen));
		for (i = 0; i < N; i++)
			ASSERT_EQ(in[i], seen[i]);
		/* Descriptors: ceil((n) / EXT) once there are two or more. */
		if (n >= 2) {
			ASSERT_EQ((n + KMMU_PTE_LIST_EXT - 1) / KMMU_PTE_LIST_EXT,
				  kmmu_pte_list_nr_desc(&h));
		} else if (n == 0) {
			ASSERT_EQ(0, h.val);
		}
	}
	/* Drain in random order: every count on the way down to empty. */
	while (n) {
		unsigned int k = random() % N;

		if (!in[k])
			continue;
		ASSERT_EQ(0, kmmu_pte_list_remove(&h, &sptes[k]));
		in[k] = 0;
		n--;
		ASSERT_EQ(n, kmmu_pte_list_count(&h));
	}
	ASSERT_EQ(0, h.val);
	ASSERT_EQ(0, kmmu_pte_list_desc_live());
	ASSERT_GT(max_count, 2 * KMMU_PTE_LIST_EXT);
	kmmu_pte_list_destroy(&h);
	ASSERT_EQ(0, kmmu_pte_list_desc_live());
}

TEST(errors)
{
	struct kmmu_rmap_head h = { 0 };
	struct kmmu_rmap_iterator it;

	ASSERT_EQ(-EINVAL, kmmu_pte_list_add(NULL, &sptes[0]));
	ASSERT_EQ(-EINVAL, kmmu_pte_list_add(&h, NULL));
	/* Bit 0 is the MANY tag: a misaligned pointer cannot be stored. */
	ASSERT_EQ(-EINVAL, kmmu_pte_list_add(&h, (uint64_t *)((char *)&sptes[0] + 1)));
	ASSERT_EQ(-ENOENT, kmmu_pte_list_remove(&h, &sptes[0]));
	ASSERT_EQ(-ENOENT, kmmu_pte_list_remove(NULL, &sptes[0]));
	ASSERT_EQ(0, kmmu_pte_list_add(&h, &sptes[0]));
	ASSERT_EQ(-ENOENT, kmmu_pte_list_remove(&h, &sptes[1]));
	ASSERT_EQ(-ENOENT, kmmu_pte_list_remove(&h, NULL));
	ASSERT_EQ(1, kmmu_pte_list_add(&h, &sptes[1]));
	ASSERT_EQ(-ENOENT, kmmu_pte_list_remove(&h, &sptes[2]));
	ASSERT_EQ(NULL, kmmu_rmap_get_first(NULL, &it));
	ASSERT_EQ(0, kmmu_pte_list_count(NULL));
	kmmu_pte_list_destroy(&h);
	kmmu_pte_list_destroy(NULL);
	ASSERT_EQ(NULL, kmmu_rmap_get_first(&h, &it));
}

TEST(gfn_index)
{
	ASSERT_EQ(0, kmmu_gfn_to_index(0x1000, 0x1000, 1));
	ASSERT_EQ(5, kmmu_gfn_to_index(0x1005, 0x1000, 1));
	/* 2M heads are per 512-gfn frame, counted from the slot's frame. */
	ASSERT_EQ(0, kmmu_gfn_to_index(0x11ff, 0x1001, 2));
	ASSERT_EQ(1, kmmu_gfn_to_index(0x1200, 0x11ff, 2));
	ASSERT_EQ(3, kmmu_slot_lpages(0x1ff, 514, 2));
	ASSERT_EQ(1, kmmu_slot_lpages(0x200, 512, 2));
	ASSERT_EQ(2, kmmu_slot_lpages(0x200, 513, 2));
}

TEST_HARNESS_MAIN
