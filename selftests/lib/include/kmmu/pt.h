/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest page-table builder: x86-64 4-level paging (4K and 2M leaves) over a
 * plain memory buffer that will back guest memory.  Pure code, no KVM, so
 * that it can be unit-tested by walking the tables it produced.
 *
 * Every entry the builder writes has the U bit set at every level of the
 * walk unless the caller asks for a supervisor leaf: the guests of this
 * suite run at CPL3 (PVM hosts execute CPL0 code in KVM's emulator), and a
 * CPL3 access needs U=1 in all four levels.  Non-leaf entries are always
 * P|W|U with NX clear so that the leaf alone decides the permissions.
 *
 * A mapping may point at a GPA that no memslot covers: that is how MMIO
 * (and the suite's hypercall) is reached.
 *
 * The tables must be complete before a vCPU first runs: on a shadow-MMU
 * host KVM only notices changes to guest page tables that the guest
 * itself makes (write-protection), never stores by the host process.
 */
#ifndef KMMU_PT_H
#define KMMU_PT_H

#include <stddef.h>
#include <stdint.h>

#define KMMU_PAGE_SIZE		4096ULL
#define KMMU_HPAGE_SIZE		(2ULL << 20)

/* x86 PTE bits */
#define KMMU_PTE_P		(1ULL << 0)
#define KMMU_PTE_W		(1ULL << 1)
#define KMMU_PTE_U		(1ULL << 2)
#define KMMU_PTE_PWT		(1ULL << 3)
#define KMMU_PTE_PCD		(1ULL << 4)
#define KMMU_PTE_A		(1ULL << 5)
#define KMMU_PTE_D		(1ULL << 6)
#define KMMU_PTE_PS		(1ULL << 7)
#define KMMU_PTE_NX		(1ULL << 63)
#define KMMU_PTE_ADDR_MASK	0x000ffffffffff000ULL

/* kmmu_pt_map() flags */
#define KMMU_MAP_WRITE		(1U << 0)	/* W */
#define KMMU_MAP_NX		(1U << 1)	/* not executable */
#define KMMU_MAP_HUGE		(1U << 2)	/* 2M leaves where aligned */
#define KMMU_MAP_SUPERVISOR	(1U << 3)	/* leaf without U (GDT, TSS) */
#define KMMU_MAP_UNCACHED	(1U << 4)	/* PCD|PWT in the leaf */
#define KMMU_MAP_NO_AD		(1U << 5)	/* leave A/D clear in the leaf */

struct kmmu_pt {
	uint8_t *mem;		/* host view of the table pool */
	uint64_t pool_gpa;	/* guest physical address of mem[0] */
	size_t pool_size;	/* bytes, multiple of 4K */
	size_t used;		/* bytes handed out (bump allocator) */
	uint64_t root_gpa;	/* PML4, the guest's CR3 */
	uint64_t maxphyaddr_mask; /* GPAs must fit in this mask */
};

/*
 * @mem (4K aligned, @size bytes) will appear in the guest at @pool_gpa.
 * @phys_bits is the guest MAXPHYADDR (e.g. from CPUID 0x80000008; 52 max).
 * Allocates and zeroes the PML4.  0 or -EINVAL/-ENOMEM.
 */
int kmmu_pt_init(struct kmmu_pt *pt, void *mem, uint64_t pool_gpa, size_t size,
		 unsigned int phys_bits);

/*
 * Maps [@gva, @gva + @size) to [@gpa, ...).  All three must be 4K aligned
 * and @gva canonical (48 bit).  With KMMU_MAP_HUGE, every 2M-aligned chunk
 * whose GVA and GPA are both 2M aligned becomes a 2M leaf.
 * 0, -EINVAL (alignment, range), -EEXIST (overlaps an existing mapping,
 * nothing of this call is left half done... except already-mapped pages
 * before the conflicting one; callers treat it as fatal), -ENOMEM (pool).
 */
int kmmu_pt_map(struct kmmu_pt *pt, uint64_t gva, uint64_t gpa, uint64_t size,
		unsigned int flags);

/*
 * Software walk of @gva.  On success returns 0 and stores the GPA, the
 * leaf level (1 = 4K, 2 = 2M) and the leaf entry.  -ENOENT if not mapped,
 * -EFAULT if an entry points outside the pool (corrupt tables).
 */
int kmmu_pt_walk(const struct kmmu_pt *pt, uint64_t gva, uint64_t *gpa,
		 int *level, uint64_t *leaf);

/*
 * The GPA of the level-1 table (page table page) that holds @gva's 4K leaf
 * entry, whether that entry is present or not: where guest code that
 * rewrites @gva's mapping writes.  0, -ENOENT if no level-1 table covers
 * @gva (nothing mapped in its 2M, or a 2M leaf), -EFAULT (corrupt tables).
 */
int kmmu_pt_leaf_table(const struct kmmu_pt *pt, uint64_t gva, uint64_t *table_gpa);

/* Worst-case 4K table pages for mapping @size bytes at any alignment. */
size_t kmmu_pt_pages_for(uint64_t size);

#endif
