// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of ref/spte.c: where each layout puts the MMIO generation,
 * encode/decode round trips over the whole generation space, that the
 * update-in-progress bit is never stored but always defeats the check,
 * the wrap rules, leaf SPTE bits, and every -EINVAL.
 */
#include <errno.h>
#include <stdint.h>

#include "kselftest_harness.h"
#include <kmmu/spte.h>

#define UP	KMMU_SPTE_LAYOUT_UPSTREAM
#define SEED	KMMU_SPTE_LAYOUT_SEED2013
#define INPROG	KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS

static uint64_t mmio(enum kmmu_spte_layout lay, gfn_t gfn, uint64_t gen)
{
	uint64_t spte = 0;

	if (kmmu_make_mmio_spte(kmmu_mmio_gen_layout(lay), gfn, KMMU_ACC_ALL, gen, &spte))
		return 0;
	return spte;
}

TEST(layout_masks)
{
	const struct kmmu_mmio_gen_layout *up = kmmu_mmio_gen_layout(UP);
	const struct kmmu_mmio_gen_layout *seed = kmmu_mmio_gen_layout(SEED);

	ASSERT_NE(NULL, up);
	ASSERT_NE(NULL, seed);
	ASSERT_EQ(NULL, kmmu_mmio_gen_layout((enum kmmu_spte_layout)7));
	/* Both carry 19 bits of generation. */
	ASSERT_EQ((1ull << 19) - 1, up->gen_mask);
	ASSERT_EQ((1ull << 19) - 1, seed->gen_mask);
	/* Upstream: SPTE bits 3-10 and 52-62. */
	ASSERT_EQ(0x7f8ull, up->spte_low_mask);
	ASSERT_EQ(0x7ffull << 52, up->spte_high_mask);
	ASSERT_EQ(8, up->low_bits);
	ASSERT_EQ(11, up->high_bits);
	/* Seed 002 (3.11): SPTE bits 3-11 and 52-61. */
	ASSERT_EQ(0xff8ull, seed->spte_low_mask);
	ASSERT_EQ(0x3ffull << 52, seed->spte_high_mask);
	ASSERT_EQ(9, seed->low_bits);
	ASSERT_EQ(10, seed->high_bits);
	/* No generation bit collides with the MMIO tag or the gfn. */
	ASSERT_EQ(0, (up->spte_low_mask | up->spte_high_mask) &
		     (KMMU_SHADOW_MMIO_MASK | KMMU_MMIO_MAX_GFN << KMMU_PAGE_SHIFT |
		      KMMU_SHADOW_MMIO_ACCESS_MASK));
	ASSERT_EQ(0, (seed->spte_low_mask | seed->spte_high_mask) &
		     (KMMU_SHADOW_MMIO_MASK | KMMU_MMIO_MAX_GFN << KMMU_PAGE_SHIFT |
		      KMMU_SHADOW_MMIO_ACCESS_MASK));
	/* Upstream keeps bit 11 (MMU-present) free; the seed layout uses it. */
	ASSERT_EQ(0, up->spte_low_mask & KMMU_SPTE_MMU_PRESENT_MASK);
	ASSERT_NE(0, seed->spte_low_mask & KMMU_SPTE_MMU_PRESENT_MASK);
}

TEST(bit_placement)
{
	const uint64_t tag = KMMU_SHADOW_MMIO_VALUE;

	/* gen bit 0 -> SPTE bit 3 in both. */
	ASSERT_EQ(tag | 1ull << 3, mmio(UP, 0, 1) & ~(uint64_t)KMMU_SHADOW_MMIO_ACCESS_MASK);
	ASSERT_EQ(tag | 1ull << 3, mmio(SEED, 0, 1) & ~(uint64_t)KMMU_SHADOW_MMIO_ACCESS_MASK);
	/* gen bit 7: last low bit upstream (SPTE 10). */
	ASSERT_EQ(tag | 1ull << 10, mmio(UP, 0, 1 << 7) & ~6ull);
	/* gen bit 8: upstream SPTE 52, seed SPTE 11. */
	ASSERT_EQ(tag | 1ull << 52, mmio(UP, 0, 1 << 8) & ~6ull);
	ASSERT_EQ(tag | 1ull << 11, mmio(SEED, 0, 1 << 8) & ~6ull);
	/* gen bit 9: upstream SPTE 53, seed SPTE 52. */
	ASSERT_EQ(tag | 1ull << 53, mmio(UP, 0, 1 << 9) & ~6ull);
	ASSERT_EQ(tag | 1ull << 52, mmio(SEED, 0, 1 << 9) & ~6ull);
	/* gen bit 18: upstream SPTE 62, seed SPTE 61. */
	ASSERT_EQ(tag | 1ull << 62, mmio(UP, 0, 1 << 18) & ~6ull);
	ASSERT_EQ(tag | 1ull << 61, mmio(SEED, 0, 1 << 18) & ~6ull);
	/* gen bit 19 and above are dropped. */
	ASSERT_EQ(tag, mmio(UP, 0, 1 << 19) & ~6ull);
	ASSERT_EQ(tag, mmio(SEED, 0, 1 << 19) & ~6ull);
	/* Only write/user access survive. */
	ASSERT_EQ(KMMU_ACC_WRITE_MASK | KMMU_ACC_USER_MASK,
		  kmmu_get_mmio_spte_access(mmio(UP, 0, 0)));
}

TEST(round_trip_all_generations)
{
	enum kmmu_spte_layout lays[] = { UP, SEED };
	unsigned int li;

	for (li = 0; li < 2; li++) {
		const struct kmmu_mmio_gen_layout *l = kmmu_mmio_gen_layout(lays[li]);
		uint64_t gen;

		for (gen = 0; gen < (1ull << 19); gen++) {
			gfn_t gfn = (gen * 2654435761ull) & KMMU_MMIO_MAX_GFN;
			uint64_t spte;

			ASSERT_EQ(0, kmmu_make_mmio_spte(l, gfn, KMMU_ACC_WRITE_MASK, gen, &spte));
			ASSERT_TRUE(kmmu_is_mmio_spte(spte));
			ASSERT_FALSE(kmmu_is_shadow_present_pte(spte));
			ASSERT_EQ(gen, kmmu_get_mmio_spte_generation(l, spte));
			ASSERT_EQ(gfn, kmmu_get_mmio_spte_gfn(l, spte));
			ASSERT_TRUE(kmmu_check_mmio_spte(l, spte, gen, NULL, NULL));
		}
	}
}

TEST(in_progress_never_stored)
{
	const struct kmmu_mmio_gen_layout *l = kmmu_mmio_gen_layout(UP);
	uint64_t a, b, kg = 1, sg = 1;

	ASSERT_EQ(0, kmmu_make_mmio_spte(l, 0x1234, KMMU_ACC_ALL, 0x42, &a));
	ASSERT_EQ(0, kmmu_make_mmio_spte(l, 0x1234, KMMU_ACC_ALL, 0x42 | INPROG, &b));
	ASSERT_EQ(a, b);
	ASSERT_EQ(0, a & INPROG);
	/* Same low bits, but in progress: never a hit. */
	ASSERT_FALSE(kmmu_check_mmio_spte(l, a, 0x42 | INPROG, &kg, &sg));
	ASSERT_EQ(0x42, kg);
	ASSERT_EQ(0x42, sg);
	ASSERT_TRUE(kmmu_check_mmio_spte(l, a, 0x42, &kg, &sg));
}

TEST(check_mmio_spte)
{
	const struct kmmu_mmio_gen_layout *l = kmmu_mmio_gen_layout(UP);
	uint64_t s = mmio(UP, 7, 100);

	ASSERT_TRUE(kmmu_check_mmio_spte(l, s, 100, NULL, NULL));
	/* The next update of this address space (+2) makes it stale. */
	ASSERT_FALSE(kmmu_check_mmio_spte(l, s, 102, NULL, NULL));
	ASSERT_FALSE(kmmu_check_mmio_spte(l, s, 101, NULL, NULL));
	ASSERT_FALSE(kmmu_check_mmio_spte(l, s, 98, NULL, NULL));
	/* Bits above the 19 alias: this is why the wrap must zap everything. */
	ASSERT_TRUE(kmmu_check_mmio_spte(l, s, 100 + (1ull << 19), NULL, NULL));
	ASSERT_TRUE(kmmu_check_mmio_spte(l, s, 100 + (5ull << 40), NULL, NULL));
	ASSERT_FALSE(kmmu_check_mmio_spte(l, s, 100 | INPROG, NULL, NULL));
}

TEST(wrap_rules)
{
	const struct kmmu_mmio_gen_layout *up = kmmu_mmio_gen_layout(UP);
	const struct kmmu_mmio_gen_layout *seed = kmmu_mmio_gen_layout(SEED);
	const uint64_t W = 1ull << 19;

	/* Upstream: the address-space residue is stripped, then == 0. */
	ASSERT_EQ(1, kmmu_mmio_gen_needs_zap(up, W, 2));
	ASSERT_EQ(1, kmmu_mmio_gen_needs_zap(up, W + 1, 2));
	ASSERT_EQ(0, kmmu_mmio_gen_needs_zap(up, W - 2, 2));
	ASSERT_EQ(0, kmmu_mmio_gen_needs_zap(up, W - 1, 2));
	ASSERT_EQ(0, kmmu_mmio_gen_needs_zap(up, W + 2, 2));
	ASSERT_EQ(0, kmmu_mmio_gen_needs_zap(up, W + 3, 2));
	ASSERT_EQ(1, kmmu_mmio_gen_needs_zap(up, 5 * W + 1, 2));
	ASSERT_EQ(0, kmmu_mmio_gen_needs_zap(up, W + 1, 1));
	ASSERT_EQ(1, kmmu_mmio_gen_needs_zap(up, W, 1));
	/* 2013: zap when the generation reaches MMIO_MAX_GEN. */
	ASSERT_EQ(1, kmmu_mmio_gen_needs_zap(seed, W - 1, 1));
	ASSERT_EQ(0, kmmu_mmio_gen_needs_zap(seed, W - 2, 1));
	ASSERT_EQ(0, kmmu_mmio_gen_needs_zap(seed, W, 1));
	ASSERT_EQ(0, kmmu_mmio_gen_needs_zap(seed, 0, 1));
	ASSERT_EQ(1, kmmu_mmio_gen_needs_zap(seed, 3 * W - 1, 1));
	/* Errors. */
	ASSERT_EQ(-EINVAL, kmmu_mmio_gen_needs_zap(NULL, 0, 2));
	ASSERT_EQ(-EINVAL, kmmu_mmio_gen_needs_zap(up, 0, 0));
	ASSERT_EQ(-EINVAL, kmmu_mmio_gen_needs_zap(up, 0, 3));
	ASSERT_EQ(-EINVAL, kmmu_mmio_gen_needs_zap(up, W | INPROG, 2));
}

TEST(make_mmio_errors)
{
	const struct kmmu_mmio_gen_layout *l = kmmu_mmio_gen_layout(UP);
	uint64_t s;

	ASSERT_EQ(-EINVAL, kmmu_make_mmio_spte(NULL, 0, 0, 0, &s));
	ASSERT_EQ(-EINVAL, kmmu_make_mmio_spte(l, 0, 0, 0, NULL));
	ASSERT_EQ(-EINVAL, kmmu_make_mmio_spte(l, KMMU_MMIO_MAX_GFN + 1, 0, 0, &s));
	ASSERT_EQ(-EINVAL, kmmu_make_mmio_spte(l, 0, 8, 0, &s));
	ASSERT_EQ(0, kmmu_make_mmio_spte(l, KMMU_MMIO_MAX_GFN, 0, 0, &s));
	ASSERT_EQ(KMMU_MMIO_MAX_GFN, kmmu_get_mmio_spte_gfn(l, s));
}

TEST(leaf_spte_bits)
{
	uint64_t s;

	ASSERT_EQ(0, kmmu_make_spte(KMMU_PG_LEVEL_4K, KMMU_ACC_ALL, 0x12345, true, &s));
	ASSERT_TRUE(kmmu_is_shadow_present_pte(s));
	ASSERT_FALSE(kmmu_is_mmio_spte(s));
	ASSERT_TRUE(kmmu_is_writable_pte(s));
	ASSERT_TRUE(kmmu_is_mmu_writable_spte(s));
	ASSERT_NE(0, s & KMMU_SPTE_HOST_WRITABLE);
	ASSERT_NE(0, s & KMMU_PT_ACCESSED_MASK);
	ASSERT_NE(0, s & KMMU_PT_DIRTY_MASK);
	ASSERT_NE(0, s & KMMU_PT_USER_MASK);
	ASSERT_EQ(0, s & KMMU_PT64_NX_MASK);
	ASSERT_EQ(0, s & KMMU_PT_PAGE_SIZE_MASK);
	ASSERT_EQ(0x12345, kmmu_spte_to_pfn(s));
	ASSERT_TRUE(kmmu_is_last_spte(s, KMMU_PG_LEVEL_4K));

	/* Read-only slot: no write, not host-writable, not dirty. */
	ASSERT_EQ(0, kmmu_make_spte(KMMU_PG_LEVEL_4K, KMMU_ACC_ALL, 1, false, &s));
	ASSERT_FALSE(kmmu_is_writable_pte(s));
	ASSERT_FALSE(kmmu_is_mmu_writable_spte(s));
	ASSERT_EQ(0, s & (KMMU_SPTE_HOST_WRITABLE | KMMU_PT_DIRTY_MASK));

	/* No exec: NX. */
	ASSERT_EQ(0, kmmu_make_spte(KMMU_PG_LEVEL_4K, KMMU_ACC_WRITE_MASK, 1, true, &s));
	ASSERT_NE(0, s & KMMU_PT64_NX_MASK);
	ASSERT_EQ(0, s & KMMU_PT_USER_MASK);

	/* 2M: page-size bit, 2M-aligned pfn. */
	ASSERT_EQ(0, kmmu_make_spte(KMMU_PG_LEVEL_2M, KMMU_ACC_ALL, 0x200, true, &s));
	ASSERT_TRUE(kmmu_is_large_pte(s));
	ASSERT_TRUE(kmmu_is_last_spte(s, KMMU_PG_LEVEL_2M));

	/* Non-leaf. */
	s = kmmu_make_nonleaf_spte(0x7f0000001000ull);
	ASSERT_TRUE(kmmu_is_shadow_present_pte(s));
	ASSERT_FALSE(kmmu_is_last_spte(s, KMMU_PG_LEVEL_2M));
	ASSERT_EQ(0x7f0000001ull, kmmu_spte_to_pfn(s));
}

TEST(leaf_spte_errors)
{
	uint64_t s;

	ASSERT_EQ(-EINVAL, kmmu_make_spte(KMMU_PG_LEVEL_4K, KMMU_ACC_ALL, 1, true, NULL));
	ASSERT_EQ(-EINVAL, kmmu_make_spte(0, KMMU_ACC_ALL, 1, true, &s));
	ASSERT_EQ(-EINVAL, kmmu_make_spte(KMMU_PG_LEVEL_1G, KMMU_ACC_ALL, 0, true, &s));
	ASSERT_EQ(-EINVAL, kmmu_make_spte(KMMU_PG_LEVEL_4K, 8, 1, true, &s));
	ASSERT_EQ(-EINVAL, kmmu_make_spte(KMMU_PG_LEVEL_2M, KMMU_ACC_ALL, 0x201, true, &s));
	/* A pfn reaching bit 51 would read back as an MMIO SPTE. */
	ASSERT_EQ(-EINVAL, kmmu_make_spte(KMMU_PG_LEVEL_4K, KMMU_ACC_ALL,
					  KMMU_MMIO_MAX_GFN + 1, true, &s));
	ASSERT_EQ(0, kmmu_make_spte(KMMU_PG_LEVEL_4K, KMMU_ACC_ALL, KMMU_MMIO_MAX_GFN, true, &s));
	ASSERT_FALSE(kmmu_is_mmio_spte(s));
}

TEST_HARNESS_MAIN
