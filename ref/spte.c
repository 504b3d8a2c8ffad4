// SPDX-License-Identifier: GPL-2.0
/*
 * SPTE encoding of the reference MMU (arch/x86/kvm/mmu/spte.[ch] semantics).
 */
#include <errno.h>
#include <stddef.h>

#include "kmmu/spte.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define GENMASK64(h, l)	((~0ULL >> (63 - (h))) & (~0ULL << (l)))

static struct kmmu_mmio_gen_layout layouts[] = {
	[KMMU_SPTE_LAYOUT_UPSTREAM] = {
		.name = "upstream",
		.low_start = 3, .low_end = 10,
		.high_start = 52, .high_end = 62,
		.wrap = KMMU_MMIO_WRAP_AT_ZERO,
	},
	[KMMU_SPTE_LAYOUT_SEED2013] = {
		.name = "seed2013",
		.low_start = 3, .low_end = 11,
		.high_start = 52, .high_end = 61,
		.wrap = KMMU_MMIO_WRAP_AT_MAX,
	},
};

static void layout_derive(struct kmmu_mmio_gen_layout *l)
{
	l->low_bits = l->low_end - l->low_start + 1;
	l->high_bits = l->high_end - l->high_start + 1;
	l->gen_mask = GENMASK64(l->low_bits + l->high_bits - 1, 0);
	l->spte_low_mask = GENMASK64(l->low_end, l->low_start);
	l->spte_high_mask = GENMASK64(l->high_end, l->high_start);
}

const struct kmmu_mmio_gen_layout *kmmu_mmio_gen_layout(enum kmmu_spte_layout layout)
{
	struct kmmu_mmio_gen_layout *l;

	if ((unsigned int)layout >= ARRAY_SIZE(layouts))
		return NULL;
	l = &layouts[layout];
	/* Derived once; the values are constants, so a racing init is benign. */
	if (!l->gen_mask)
		layout_derive(l);
	return l;
}

uint64_t kmmu_generation_mmio_spte_mask(const struct kmmu_mmio_gen_layout *l, uint64_t gen)
{
	uint64_t mask;

	gen &= l->gen_mask;
	mask = (gen << l->low_start) & l->spte_low_mask;
	mask |= ((gen >> l->low_bits) << l->high_start) & l->spte_high_mask;
	return mask;
}

uint64_t kmmu_get_mmio_spte_generation(const struct kmmu_mmio_gen_layout *l, uint64_t spte)
{
	uint64_t gen;

	gen = (spte & l->spte_low_mask) >> l->low_start;
	gen |= ((spte & l->spte_high_mask) >> l->high_start) << l->low_bits;
	return gen;
}

int kmmu_make_mmio_spte(const struct kmmu_mmio_gen_layout *l, gfn_t gfn,
			unsigned int access, uint64_t memslots_gen, uint64_t *spte)
{
	uint64_t s;

	if (!l || !spte || gfn > KMMU_MMIO_MAX_GFN || (access & ~KMMU_ACC_ALL))
		return -EINVAL;
	/* Only the low bits travel; the in-progress flag is never stored. */
	s = kmmu_generation_mmio_spte_mask(l, memslots_gen & l->gen_mask);
	s |= KMMU_SHADOW_MMIO_VALUE | (access & KMMU_SHADOW_MMIO_ACCESS_MASK);
	s |= gfn << KMMU_PAGE_SHIFT;
	*spte = s;
	return 0;
}

gfn_t kmmu_get_mmio_spte_gfn(const struct kmmu_mmio_gen_layout *l, uint64_t spte)
{
	uint64_t mask = l->spte_low_mask | l->spte_high_mask | KMMU_SHADOW_MMIO_MASK;

	return ((spte & ~mask) & KMMU_SPTE_BASE_ADDR_MASK) >> KMMU_PAGE_SHIFT;
}

unsigned int kmmu_get_mmio_spte_access(uint64_t spte)
{
	return spte & KMMU_SHADOW_MMIO_ACCESS_MASK;
}

bool kmmu_check_mmio_spte(const struct kmmu_mmio_gen_layout *l, uint64_t spte,
			  uint64_t memslots_gen, uint64_t *kvm_gen, uint64_t *spte_gen)
{
	uint64_t kg, sg;

	kg = memslots_gen & l->gen_mask;
	sg = kmmu_get_mmio_spte_generation(l, spte);
	if (kvm_gen)
		*kvm_gen = kg;
	if (spte_gen)
		*spte_gen = sg;
	/*
	 * A generation in flux would otherwise match SPTEs stamped with the
	 * old generation's low bits while the memslots are being swapped.
	 */
	if (memslots_gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
		return false;
	return kg == sg;
}

int kmmu_mmio_gen_needs_zap(const struct kmmu_mmio_gen_layout *l, uint64_t gen,
			    unsigned int nr_as)
{
	if (!l || !nr_as || (nr_as & (nr_as - 1)) ||
	    (gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS))
		return -EINVAL;

	gen &= l->gen_mask;
	if (l->wrap == KMMU_MMIO_WRAP_AT_MAX)
		return gen >= l->gen_mask;
	/*
	 * Generations advance by nr_as so that each address space has its own
	 * residue; strip it so that a wrap in any address space is seen.
	 */
	gen &= ~((uint64_t)nr_as - 1);
	return gen == 0;
}

int kmmu_make_spte(int level, unsigned int pte_access, uint64_t pfn,
		   bool host_writable, uint64_t *spte)
{
	uint64_t s = KMMU_SPTE_MMU_PRESENT_MASK | KMMU_PT_PRESENT_MASK;

	if (!spte || level < KMMU_PG_LEVEL_4K || level > KMMU_MAX_HUGEPAGE_LEVEL ||
	    (pte_access & ~KMMU_ACC_ALL) ||
	    pfn > KMMU_MMIO_MAX_GFN ||	/* bit 51 tags MMIO SPTEs */
	    (pfn & (KMMU_PAGES_PER_HPAGE(level) - 1)))
		return -EINVAL;

	/* Not a prefetch: the access that faulted sets the accessed bit. */
	s |= KMMU_PT_ACCESSED_MASK;
	if (!(pte_access & KMMU_ACC_EXEC_MASK))
		s |= KMMU_PT64_NX_MASK;
	if (pte_access & KMMU_ACC_USER_MASK)
		s |= KMMU_PT_USER_MASK;
	if (level > KMMU_PG_LEVEL_4K)
		s |= KMMU_PT_PAGE_SIZE_MASK;
	if (host_writable)
		s |= KMMU_SPTE_HOST_WRITABLE;
	else
		pte_access &= ~KMMU_ACC_WRITE_MASK;
	s |= pfn << KMMU_PAGE_SHIFT;
	/* A writable mapping is created dirty, as with A/D bits enabled. */
	if (pte_access & KMMU_ACC_WRITE_MASK)
		s |= KMMU_PT_WRITABLE_MASK | KMMU_SPTE_MMU_WRITABLE | KMMU_PT_DIRTY_MASK;
	*spte = s;
	return 0;
}

uint64_t kmmu_make_nonleaf_spte(uint64_t child_pa)
{
	return (child_pa & KMMU_SPTE_BASE_ADDR_MASK) | KMMU_SPTE_MMU_PRESENT_MASK |
	       KMMU_PT_PRESENT_MASK | KMMU_PT_WRITABLE_MASK | KMMU_PT_USER_MASK |
	       KMMU_PT_ACCESSED_MASK;
}
