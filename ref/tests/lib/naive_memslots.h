/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A deliberately naive model of KVM_SET_USER_MEMORY_REGION (kernel 6.1
 * semantics, including every errno): per address space one flat array of
 * live slots, linear scans, no trees, no generations, no two-set swap.
 * Property tests run the same operations on it and on ref/memslot.c and
 * compare every result.
 *
 * The arch part of the kernel's checks (x86 kvm_arch_prepare_memory_region:
 * a CREATE/MOVE must not end beyond kvm_mmu_max_gfn()) is modelled by
 * @max_gfn; a prepare failure can also be injected, to mirror a test's
 * prepare hook failing.
 */
#ifndef KMMU_NAIVE_MEMSLOTS_H
#define KMMU_NAIVE_MEMSLOTS_H

#include <stdbool.h>
#include <stdint.h>

#include <kmmu/memslot.h>

struct kmmu_naive_slot {
	uint64_t base_gfn;
	uint64_t npages;
	uint64_t userspace_addr;
	uint32_t flags;
	uint16_t id;
	uint16_t as_id;
};

struct kmmu_naive_memslots;

/*
 * @max_slots: user id bound (0: KMMU_USER_MEM_SLOTS); @max_gfn: highest gfn a
 * slot may cover (0: no limit).  -EINVAL, -ENOMEM.
 */
int kmmu_naive_init(struct kmmu_naive_memslots **out, unsigned int max_slots,
		    gfn_t max_gfn);
void kmmu_naive_destroy(struct kmmu_naive_memslots *n);

/* Same arguments and results as kmmu_set_memory_region(). */
int kmmu_naive_set_memory_region(struct kmmu_naive_memslots *n, uint32_t slot,
				 uint32_t flags, uint64_t gpa, uint64_t size,
				 uint64_t hva);
/* Same as kmmu_set_memory_region_internal(): no user id bound. */
int kmmu_naive_set_memory_region_internal(struct kmmu_naive_memslots *n,
					  uint32_t slot, uint32_t flags,
					  uint64_t gpa, uint64_t size,
					  uint64_t hva);

/*
 * The next request that gets as far as the arch prepare step fails with
 * @err (a negative errno; 0 disarms).  Consumed by every request.
 */
void kmmu_naive_inject_prepare_error(struct kmmu_naive_memslots *n, int err);
/*
 * What the last request did: enum kmmu_mr_change if it reached prepare
 * (whether or not prepare then failed), -1 if rejected or a no-op earlier.
 */
int kmmu_naive_last_change(const struct kmmu_naive_memslots *n);

/* Lookups; the returned pointer is valid until the next update. */
const struct kmmu_naive_slot *kmmu_naive_gfn_to_slot(const struct kmmu_naive_memslots *n,
						     int as_id, gfn_t gfn);
const struct kmmu_naive_slot *kmmu_naive_id_to_slot(const struct kmmu_naive_memslots *n,
						    int as_id, int id);
/* Live slots of @as_id, in no particular order: *nr entries. */
const struct kmmu_naive_slot *kmmu_naive_slots(const struct kmmu_naive_memslots *n,
					       int as_id, unsigned int *nr);
/*
 * Ids of the slots of @as_id whose host range overlaps [start, end), sorted
 * ascending, at most @max stored; returns how many overlap in total.
 */
unsigned int kmmu_naive_hva_range(const struct kmmu_naive_memslots *n, int as_id,
				  uint64_t start, uint64_t end,
				  uint16_t *ids, unsigned int max);
/* Same for the gfn range [start, end). */
unsigned int kmmu_naive_gfn_range(const struct kmmu_naive_memslots *n, int as_id,
				  gfn_t start, gfn_t end,
				  uint16_t *ids, unsigned int max);
/* Pages in all slots of all address spaces (kvm->nr_memslot_pages). */
uint64_t kmmu_naive_nr_pages(const struct kmmu_naive_memslots *n);

#endif
