/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SPTE bit layout of the reference MMU: the x86 shadow MMU's 64-bit SPTEs
 * as KVM builds them for NPT/shadow paging (non-EPT masks), and MMIO SPTEs
 * that carry the memslot generation (arch/x86/kvm/mmu/spte.h).
 *
 * Two layouts of the MMIO generation are selectable:
 *   KMMU_SPTE_LAYOUT_UPSTREAM  19 bits, gen 0-7 -> SPTE 3-10, gen 8-18 ->
 *                              SPTE 52-62; zap all when the generation, less
 *                              its address-space bits, wraps to 0.
 *   KMMU_SPTE_LAYOUT_SEED2013  the layout of seed 002 (Linux 3.11): 19 bits,
 *                              gen 0-8 -> SPTE 3-11, gen 9-18 -> SPTE 52-61;
 *                              zap all when the generation reaches its
 *                              maximum (MMIO_MAX_GEN), i.e. one before the
 *                              wrap.
 * In neither layout is KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS stored: an MMIO
 * SPTE can never match while an update is in progress because the check
 * looks at the flag itself (upstream check_mmio_spte()).
 */
#ifndef KMMU_SPTE_H
#define KMMU_SPTE_H

#include <stdbool.h>
#include <stdint.h>

#include "kmmu/gfn.h"

/* Page-table levels (enum pg_level). */
#define KMMU_PG_LEVEL_4K	1
#define KMMU_PG_LEVEL_2M	2
#define KMMU_PG_LEVEL_1G	3
#define KMMU_ROOT_LEVEL		4	/* PT64_ROOT_4LEVEL */
/* Leaf sizes this model maps: 4K and 2M (the host never backs with 1G). */
#define KMMU_MAX_HUGEPAGE_LEVEL	KMMU_PG_LEVEL_2M
#define KMMU_NR_PAGE_SIZES	(KMMU_MAX_HUGEPAGE_LEVEL - KMMU_PG_LEVEL_4K + 1)
#define KMMU_PT64_ENT_PER_PAGE	512
#define KMMU_LEVEL_SHIFT(level)	(KMMU_PAGE_SHIFT + ((level) - 1) * 9)
#define KMMU_HPAGE_GFN_SHIFT(level)	(((level) - 1) * 9)
#define KMMU_PAGES_PER_HPAGE(level)	(1ULL << KMMU_HPAGE_GFN_SHIFT(level))

/* Hardware bits of a (non-EPT) SPTE. */
#define KMMU_PT_PRESENT_MASK		(1ULL << 0)
#define KMMU_PT_WRITABLE_MASK		(1ULL << 1)
#define KMMU_PT_USER_MASK		(1ULL << 2)
#define KMMU_PT_ACCESSED_MASK		(1ULL << 5)
#define KMMU_PT_DIRTY_MASK		(1ULL << 6)
#define KMMU_PT_PAGE_SIZE_MASK		(1ULL << 7)
#define KMMU_PT64_NX_MASK		(1ULL << 63)
/* Software bits (DEFAULT_SPTE_HOST_WRITEABLE etc.). */
#define KMMU_SPTE_HOST_WRITABLE		(1ULL << 9)
#define KMMU_SPTE_MMU_WRITABLE		(1ULL << 10)
#define KMMU_SPTE_MMU_PRESENT_MASK	(1ULL << 11)
#define KMMU_SPTE_BASE_ADDR_MASK	(((1ULL << 52) - 1) & ~(KMMU_PAGE_SIZE - 1))

/* Access bits (ACC_*_MASK). */
#define KMMU_ACC_EXEC_MASK	1u
#define KMMU_ACC_WRITE_MASK	2u	/* == PT_WRITABLE_MASK */
#define KMMU_ACC_USER_MASK	4u	/* == PT_USER_MASK */
#define KMMU_ACC_ALL		(KMMU_ACC_EXEC_MASK | KMMU_ACC_WRITE_MASK | KMMU_ACC_USER_MASK)

/*
 * MMIO SPTEs: a reserved physical-address bit (51) plus the present bit, so
 * that the hardware takes a PFERR.RSVD fault, as kvm_mmu_reset_all_pte_masks()
 * sets up when the host MAXPHYADDR is below 52.  Only the write and user
 * access bits are kept (shadow_mmio_access_mask).  The L1TF
 * nonpresent_or_rsvd mask is not modelled (hosts without L1TF).
 */
#define KMMU_SHADOW_MMIO_VALUE		((1ULL << 51) | KMMU_PT_PRESENT_MASK)
#define KMMU_SHADOW_MMIO_MASK		KMMU_SHADOW_MMIO_VALUE
#define KMMU_SHADOW_MMIO_ACCESS_MASK	(KMMU_ACC_WRITE_MASK | KMMU_ACC_USER_MASK)
/* Largest gfn whose gpa fits below the MMIO value bit. */
#define KMMU_MMIO_MAX_GFN		((1ULL << (51 - KMMU_PAGE_SHIFT)) - 1)

#ifndef KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS
/* Bit 63 of a memslots generation: an update is in flight (kvm_host.h). */
#define KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS (1ull << 63)
#endif

enum kmmu_spte_layout {
	KMMU_SPTE_LAYOUT_UPSTREAM,
	KMMU_SPTE_LAYOUT_SEED2013,
};

/* When kvm_mmu_invalidate_mmio_sptes() zaps everything. */
enum kmmu_mmio_wrap_rule {
	KMMU_MMIO_WRAP_AT_ZERO,	/* upstream: (gen & mask & ~(nr_as - 1)) == 0 */
	KMMU_MMIO_WRAP_AT_MAX,	/* 2013: (gen & mask) >= MMIO_MAX_GEN */
};

struct kmmu_mmio_gen_layout {
	const char *name;
	unsigned int low_start, low_end;	/* SPTE bits of gen's low part */
	unsigned int high_start, high_end;	/* SPTE bits of gen's high part */
	enum kmmu_mmio_wrap_rule wrap;
	/* derived */
	unsigned int low_bits, high_bits;
	uint64_t gen_mask;			/* MMIO_SPTE_GEN_MASK */
	uint64_t spte_low_mask, spte_high_mask;
};

/* NULL for an unknown layout. */
const struct kmmu_mmio_gen_layout *kmmu_mmio_gen_layout(enum kmmu_spte_layout layout);

/* The generation bits an MMIO SPTE stores for @gen (generation_mmio_spte_mask). */
uint64_t kmmu_generation_mmio_spte_mask(const struct kmmu_mmio_gen_layout *l, uint64_t gen);

/*
 * Builds the MMIO SPTE for @gfn stamped with the memslots generation
 * @memslots_gen (its low bits; the in-progress flag is dropped).
 * -EINVAL for a NULL argument, a gfn above KMMU_MMIO_MAX_GFN or access
 * bits outside KMMU_ACC_ALL.
 */
int kmmu_make_mmio_spte(const struct kmmu_mmio_gen_layout *l, gfn_t gfn,
			unsigned int access, uint64_t memslots_gen, uint64_t *spte);

static inline bool kmmu_is_mmio_spte(uint64_t spte)
{
	return (spte & KMMU_SHADOW_MMIO_MASK) == KMMU_SHADOW_MMIO_VALUE;
}

/*
 * MMU-present: backed by memory.  The seed layout stores generation bit 8 in
 * SPTE bit 11, the MMU-present bit, so MMIO SPTEs are excluded explicitly
 * (as 2013's is_shadow_present_pte() did).
 */
static inline bool kmmu_is_shadow_present_pte(uint64_t spte)
{
	return (spte & KMMU_SPTE_MMU_PRESENT_MASK) && !kmmu_is_mmio_spte(spte);
}

static inline bool kmmu_is_large_pte(uint64_t spte)
{
	return spte & KMMU_PT_PAGE_SIZE_MASK;
}

static inline bool kmmu_is_last_spte(uint64_t spte, int level)
{
	return level == KMMU_PG_LEVEL_4K || kmmu_is_large_pte(spte);
}

static inline bool kmmu_is_writable_pte(uint64_t spte)
{
	return spte & KMMU_PT_WRITABLE_MASK;
}

static inline bool kmmu_is_mmu_writable_spte(uint64_t spte)
{
	return spte & KMMU_SPTE_MMU_WRITABLE;
}

static inline uint64_t kmmu_spte_to_pfn(uint64_t spte)
{
	return (spte & KMMU_SPTE_BASE_ADDR_MASK) >> KMMU_PAGE_SHIFT;
}

/*
 * SPTE accessors.  Leaf SPTEs change under mmu_lock while lockless walkers
 * (aging, the simulated hardware's Accessed/Dirty assist) read them and
 * set or clear bits with atomics, so every access is atomic: READ_ONCE(),
 * WRITE_ONCE() (release, so that a walker that sees a new table link sees
 * the table's contents), xchg() and try_cmpxchg() as in spte.h/mmu.c.
 */
static inline uint64_t kmmu_spte_read(const uint64_t *sptep)
{
	return __atomic_load_n(sptep, __ATOMIC_ACQUIRE);
}

static inline void kmmu_spte_write(uint64_t *sptep, uint64_t spte)
{
	__atomic_store_n(sptep, spte, __ATOMIC_RELEASE);
}

static inline uint64_t kmmu_spte_xchg(uint64_t *sptep, uint64_t spte)
{
	return __atomic_exchange_n(sptep, spte, __ATOMIC_ACQ_REL);
}

/* On failure *@old receives the current value. */
static inline bool kmmu_spte_try_cmpxchg(uint64_t *sptep, uint64_t *old, uint64_t spte)
{
	return __atomic_compare_exchange_n(sptep, old, spte, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

uint64_t kmmu_get_mmio_spte_generation(const struct kmmu_mmio_gen_layout *l, uint64_t spte);
gfn_t kmmu_get_mmio_spte_gfn(const struct kmmu_mmio_gen_layout *l, uint64_t spte);
unsigned int kmmu_get_mmio_spte_access(uint64_t spte);

/*
 * check_mmio_spte(): may the cached MMIO SPTE be used with the memslots
 * generation @memslots_gen?  False while an update is in progress or when
 * the stored generation differs: the fault must take the normal path.
 * @kvm_gen/@spte_gen (may be NULL) receive what the tracepoint reports.
 */
bool kmmu_check_mmio_spte(const struct kmmu_mmio_gen_layout *l, uint64_t spte,
			  uint64_t memslots_gen, uint64_t *kvm_gen, uint64_t *spte_gen);

/*
 * kvm_mmu_invalidate_mmio_sptes()'s decision: must a memslots update to
 * @gen (never in progress) zap all shadow pages?  @nr_as is the number of
 * address spaces, a power of two.  -EINVAL (<0) for bad input, else 0/1.
 */
int kmmu_mmio_gen_needs_zap(const struct kmmu_mmio_gen_layout *l, uint64_t gen,
			    unsigned int nr_as);

/*
 * make_spte() for a direct (TDP-style) leaf: @level 4K or 2M, @pte_access
 * ACC_* bits, @pfn the host frame, @host_writable false for read-only
 * memslots, @prefetch false (accessed bit set).  -EINVAL for bad input.
 */
int kmmu_make_spte(int level, unsigned int pte_access, uint64_t pfn,
		   bool host_writable, uint64_t *spte);
/* make_nonleaf_spte(): points at the child table at host address @child_pa. */
uint64_t kmmu_make_nonleaf_spte(uint64_t child_pa);

#endif
