// SPDX-License-Identifier: GPL-2.0
/*
 * Guest page-table builder: build tables in a buffer, then walk them with
 * an independent walker written here (not kmmu_pt_walk) and check every
 * translation and flag, including U at every level.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kmmu/pt.h"

#define POOL_PAGES 256
#define POOL_GPA 0x80010000ULL

struct walk {
	uint64_t gpa;
	int level;
	uint64_t leaf;
	bool u_all;	/* U in the non-leaf entries */
	bool w_all;	/* W in the non-leaf entries */
	bool nx_upper;	/* NX in a non-leaf entry */
};

/* Independent 4-level walk over the pool; -1 not present, -2 corrupt. */
static int ref_walk(const uint8_t *pool, uint64_t pool_gpa, size_t pool_size,
		    uint64_t cr3, uint64_t gva, struct walk *w)
{
	uint64_t table = cr3;
	int shift;

	memset(w, 0, sizeof(*w));
	w->u_all = w->w_all = true;
	for (shift = 39; shift >= 12; shift -= 9) {
		uint64_t e;

		if (table < pool_gpa || table + 4096 > pool_gpa + pool_size || (table & 4095))
			return -2;
		memcpy(&e, pool + (table - pool_gpa) + ((gva >> shift) & 511) * 8, 8);
		if (!(e & 1))
			return -1;
		if (shift == 12 || (shift == 21 && (e & KMMU_PTE_PS))) {
			uint64_t mask = (1ULL << shift) - 1;

			w->gpa = (e & 0x000ffffffffff000ULL & ~mask) | (gva & mask);
			w->level = shift == 12 ? 1 : 2;
			w->leaf = e;
			return 0;
		}
		if (e & KMMU_PTE_PS)
			return -2;	/* 1G pages are never built */
		w->u_all &= !!(e & KMMU_PTE_U);
		w->w_all &= !!(e & KMMU_PTE_W);
		w->nx_upper |= !!(e & KMMU_PTE_NX);
		table = e & 0x000ffffffffff000ULL;
	}
	return -2;
}

FIXTURE(pt) {
	uint8_t *pool;
	struct kmmu_pt pt;
};

FIXTURE_SETUP(pt)
{
	self->pool = aligned_alloc(4096, POOL_PAGES * 4096);
	ASSERT_NE(NULL, self->pool);
	memset(self->pool, 0xa5, POOL_PAGES * 4096);	/* builder must zero */
	ASSERT_EQ(0, kmmu_pt_init(&self->pt, self->pool, POOL_GPA, POOL_PAGES * 4096, 46));
	ASSERT_EQ(POOL_GPA, self->pt.root_gpa);
}

FIXTURE_TEARDOWN(pt)
{
	free(self->pool);
}

static void check_range(struct __test_metadata *_metadata, FIXTURE_DATA(pt) *self,
			uint64_t gva, uint64_t gpa, uint64_t size, int level,
			bool w, bool nx, bool u_leaf)
{
	uint64_t off;

	for (off = 0; off < size; off += 4096) {
		struct walk wk;
		uint64_t lgpa;
		int llevel;

		ASSERT_EQ(0, ref_walk(self->pool, POOL_GPA, POOL_PAGES * 4096,
				      self->pt.root_gpa, gva + off + 8, &wk)) {
			TH_LOG("gva %#llx", (unsigned long long)(gva + off));
		}
		ASSERT_EQ(gpa + off + 8, wk.gpa);
		ASSERT_EQ(level, wk.level);
		ASSERT_TRUE(wk.u_all);
		ASSERT_TRUE(wk.w_all);
		ASSERT_FALSE(wk.nx_upper);
		ASSERT_EQ(u_leaf, !!(wk.leaf & KMMU_PTE_U));
		ASSERT_EQ(w, !!(wk.leaf & KMMU_PTE_W));
		ASSERT_EQ(nx, !!(wk.leaf & KMMU_PTE_NX));
		ASSERT_EQ(level == 2, !!(wk.leaf & KMMU_PTE_PS));
		ASSERT_TRUE(wk.leaf & KMMU_PTE_A);
		ASSERT_EQ(w, !!(wk.leaf & KMMU_PTE_D));
		/* The library's own walker must agree. */
		ASSERT_EQ(0, kmmu_pt_walk(&self->pt, gva + off + 8, &lgpa, &llevel, NULL));
		ASSERT_EQ(wk.gpa, lgpa);
		ASSERT_EQ(wk.level, llevel);
	}
}

TEST_F(pt, small_pages_flags)
{
	/* Crosses a PT (2M) and a PD (1G) boundary. */
	uint64_t gva = 0x3fe00000ULL - 3 * 4096, gpa = 0x123456000ULL;

	ASSERT_EQ(0, kmmu_pt_map(&self->pt, gva, gpa, 6 * 4096, KMMU_MAP_WRITE));
	check_range(_metadata, self, gva, gpa, 6 * 4096, 1, true, false, true);
	ASSERT_EQ(0, kmmu_pt_map(&self->pt, 0x400000, 0x40000000, 16 * 4096, 0));
	check_range(_metadata, self, 0x400000, 0x40000000, 16 * 4096, 1, false, false, true);
	ASSERT_EQ(0, kmmu_pt_map(&self->pt, 0x800000, 0x40100000, 4096, KMMU_MAP_NX | KMMU_MAP_WRITE));
	check_range(_metadata, self, 0x800000, 0x40100000, 4096, 1, true, true, true);
	/* Neighbours stay unmapped. */
	struct walk wk;

	ASSERT_EQ(-1, ref_walk(self->pool, POOL_GPA, POOL_PAGES * 4096, self->pt.root_gpa,
			       gva - 4096, &wk));
	ASSERT_EQ(-1, ref_walk(self->pool, POOL_GPA, POOL_PAGES * 4096, self->pt.root_gpa,
			       gva + 6 * 4096, &wk));
	ASSERT_EQ(-ENOENT, kmmu_pt_walk(&self->pt, 0x801000, NULL, NULL, NULL));
}

TEST_F(pt, huge_pages)
{
	uint64_t gva = 0x200000000ULL, gpa = 0x300000000ULL;

	/* 4K head, two 2M leaves, 4K tail: only aligned chunks become 2M. */
	ASSERT_EQ(0, kmmu_pt_map(&self->pt, gva - 8192, gpa - 8192,
				 8192 + (4ULL << 20) + 8192, KMMU_MAP_HUGE | KMMU_MAP_WRITE));
	check_range(_metadata, self, gva - 8192, gpa - 8192, 8192, 1, true, false, true);
	check_range(_metadata, self, gva, gpa, 4ULL << 20, 2, true, false, true);
	check_range(_metadata, self, gva + (4ULL << 20), gpa + (4ULL << 20), 8192, 1,
		    true, false, true);
	/* GPA not 2M aligned: falls back to 4K. */
	ASSERT_EQ(0, kmmu_pt_map(&self->pt, 0x400000000ULL, 0x500001000ULL, 2ULL << 20,
				 KMMU_MAP_HUGE));
	check_range(_metadata, self, 0x400000000ULL, 0x500001000ULL, 2ULL << 20, 1,
		    false, false, true);
}

TEST_F(pt, unbacked_and_special_leaves)
{
	/* The hypercall-style page: no memslot needed, UC, NX, writable. */
	struct walk wk;

	ASSERT_EQ(0, kmmu_pt_map(&self->pt, 0xf0000000ULL, 0xf0000000ULL, 4096,
				 KMMU_MAP_WRITE | KMMU_MAP_NX | KMMU_MAP_UNCACHED));
	check_range(_metadata, self, 0xf0000000ULL, 0xf0000000ULL, 4096, 1, true, true, true);
	ASSERT_EQ(0, ref_walk(self->pool, POOL_GPA, POOL_PAGES * 4096, self->pt.root_gpa,
			      0xf0000000ULL, &wk));
	ASSERT_TRUE(wk.leaf & KMMU_PTE_PCD);
	ASSERT_TRUE(wk.leaf & KMMU_PTE_PWT);
	/* Supervisor leaf (GDT/TSS): U clear in the leaf, still set above. */
	ASSERT_EQ(0, kmmu_pt_map(&self->pt, 0x80000000ULL, 0x80000000ULL, 8192,
				 KMMU_MAP_SUPERVISOR | KMMU_MAP_NX));
	check_range(_metadata, self, 0x80000000ULL, 0x80000000ULL, 8192, 1, false, true, false);
	/* NO_AD leaves A and D clear. */
	ASSERT_EQ(0, kmmu_pt_map(&self->pt, 0x90000000ULL, 0x90000000ULL, 4096,
				 KMMU_MAP_WRITE | KMMU_MAP_NO_AD));
	ASSERT_EQ(0, ref_walk(self->pool, POOL_GPA, POOL_PAGES * 4096, self->pt.root_gpa,
			      0x90000000ULL, &wk));
	ASSERT_FALSE(wk.leaf & (KMMU_PTE_A | KMMU_PTE_D));
	/* Upper-half canonical address. */
	ASSERT_EQ(0, kmmu_pt_map(&self->pt, 0xffff800000000000ULL, 0x1000, 4096, 0));
	check_range(_metadata, self, 0xffff800000000000ULL, 0x1000, 4096, 1, false, false, true);
}

/*
 * The leaf table of a gva: entry (gva >> 12) & 511 of it is the leaf the
 * independent walker finds; a rewrite of that entry is what the walker
 * then sees; absent entries of a table that exists have it too, 2M
 * leaves and unmapped 2M ranges have none.
 */
TEST_F(pt, leaf_table)
{
	uint64_t gva = 0x40200000ULL, table, *e;
	struct walk wk;

	ASSERT_EQ(0, kmmu_pt_map(&self->pt, gva, 0x10000000ULL, 4 * 4096, KMMU_MAP_NX));
	ASSERT_EQ(0, kmmu_pt_leaf_table(&self->pt, gva + 4096, &table));
	ASSERT_EQ(0, table & 4095);
	ASSERT_TRUE(table >= POOL_GPA && table < POOL_GPA + POOL_PAGES * 4096);
	e = (uint64_t *)(self->pool + (table - POOL_GPA));
	ASSERT_EQ(0, ref_walk(self->pool, POOL_GPA, POOL_PAGES * 4096, self->pt.root_gpa,
			      gva + 4096, &wk));
	ASSERT_EQ(wk.leaf, e[1]);
	e[1] = (e[1] & ~KMMU_PTE_ADDR_MASK) | 0x20000000ULL;
	ASSERT_EQ(0, ref_walk(self->pool, POOL_GPA, POOL_PAGES * 4096, self->pt.root_gpa,
			      gva + 4096, &wk));
	ASSERT_EQ(0x20000000ULL, wk.gpa);
	/* Not present in the same table: the same table. */
	ASSERT_EQ(0, kmmu_pt_leaf_table(&self->pt, gva + 100 * 4096, &wk.gpa));
	ASSERT_EQ(table, wk.gpa);
	ASSERT_EQ(-ENOENT, kmmu_pt_leaf_table(&self->pt, gva + (2ULL << 20), &table));
	ASSERT_EQ(0, kmmu_pt_map(&self->pt, 0x40600000ULL, 0x10200000ULL, 2ULL << 20,
				 KMMU_MAP_HUGE));
	ASSERT_EQ(-ENOENT, kmmu_pt_leaf_table(&self->pt, 0x40600000ULL, &table));
	ASSERT_EQ(-ENOENT, kmmu_pt_leaf_table(&self->pt, 1ULL << 47, &table));
}

TEST_F(pt, errors)
{
	ASSERT_EQ(-EINVAL, kmmu_pt_map(&self->pt, 0x1001, 0x1000, 4096, 0));
	ASSERT_EQ(-EINVAL, kmmu_pt_map(&self->pt, 0x1000, 0x1800, 4096, 0));
	ASSERT_EQ(-EINVAL, kmmu_pt_map(&self->pt, 0x1000, 0x1000, 100, 0));
	ASSERT_EQ(-EINVAL, kmmu_pt_map(&self->pt, 0x1000, 0x1000, 0, 0));
	/* Non-canonical, and crossing the canonical hole. */
	ASSERT_EQ(-EINVAL, kmmu_pt_map(&self->pt, 0x0000800000000000ULL, 0, 4096, 0));
	ASSERT_EQ(-EINVAL, kmmu_pt_map(&self->pt, 0x00007ffffffff000ULL, 0, 8192, 0));
	/* GPA beyond MAXPHYADDR (46 bits here). */
	ASSERT_EQ(-EINVAL, kmmu_pt_map(&self->pt, 0x1000, 1ULL << 46, 4096, 0));
	/* Overlaps: 4K over 4K, 2M over 4K, 4K under 2M. */
	ASSERT_EQ(0, kmmu_pt_map(&self->pt, 0x10000000, 0x10000000, 4096, 0));
	ASSERT_EQ(-EEXIST, kmmu_pt_map(&self->pt, 0x10000000, 0x20000000, 4096, 0));
	ASSERT_EQ(-EEXIST, kmmu_pt_map(&self->pt, 0x10000000, 0x20000000, 2 << 20, KMMU_MAP_HUGE));
	ASSERT_EQ(0, kmmu_pt_map(&self->pt, 0x20000000, 0x20000000, 2 << 20, KMMU_MAP_HUGE));
	ASSERT_EQ(-EEXIST, kmmu_pt_map(&self->pt, 0x20001000, 0x30000000, 4096, 0));
	/* Bad init arguments. */
	struct kmmu_pt pt2;

	ASSERT_EQ(-EINVAL, kmmu_pt_init(&pt2, self->pool + 8, 0, 4096, 46));
	ASSERT_EQ(-EINVAL, kmmu_pt_init(&pt2, self->pool, 0x123, 4096, 46));
	ASSERT_EQ(-EINVAL, kmmu_pt_init(&pt2, self->pool, 0, 4096, 60));
}

TEST(pool_exhaustion)
{
	uint8_t *pool = aligned_alloc(4096, 4 * 4096);
	struct kmmu_pt pt;

	ASSERT_NE(NULL, pool);
	ASSERT_EQ(0, kmmu_pt_init(&pt, pool, 0x100000, 4 * 4096, 40));
	/* PML4 + PDPT + PD + PT = 4 pages: one 4K mapping fits... */
	ASSERT_EQ(0, kmmu_pt_map(&pt, 0x1000, 0x1000, 4096, 0));
	/* ...a second PT does not. */
	ASSERT_EQ(-ENOMEM, kmmu_pt_map(&pt, 0x400000, 0x1000, 4096, 0));
	ASSERT_GE(kmmu_pt_pages_for(4096), 4 - 1);
	free(pool);
}

TEST(pages_for_is_enough)
{
	uint64_t sizes[] = { 4096, 2 << 20, (2 << 20) + 4096, 1ULL << 30, 3ULL << 30 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t pages = kmmu_pt_pages_for(sizes[i]) + 1;	/* + PML4 */
		uint8_t *pool = aligned_alloc(4096, pages * 4096);
		struct kmmu_pt pt;

		ASSERT_NE(NULL, pool);
		ASSERT_EQ(0, kmmu_pt_init(&pt, pool, 1ULL << 40, pages * 4096, 46));
		/* Worst alignment: straddle a 512G boundary. */
		ASSERT_EQ(0, kmmu_pt_map(&pt, (1ULL << 39) - 4096, 0, sizes[i], 0));
		free(pool);
	}
}

TEST_HARNESS_MAIN
