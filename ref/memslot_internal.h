/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the memslot files share and nobody else may use: the per-VM state
 * behind the opaque struct kmmu_vm_memslots, the slot allocator of
 * memslot.c that memslot_update.c allocates and frees through, and the
 * hva interval tree both of them walk.  It lives beside them, not in
 * include/kmmu/, so that no program can include it.
 */
#ifndef KMMU_REF_MEMSLOT_INTERNAL_H
#define KMMU_REF_MEMSLOT_INTERNAL_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <urcu/urcu-memb.h>

#include <kmmu/memslot.h>
#include <linux/interval_tree_generic.h>

#define KMMU_IT_START(n) ((n)->start)
#define KMMU_IT_LAST(n) ((n)->last)

/* The kernel's lib/interval_tree.c, instantiated on our node type. */
INTERVAL_TREE_DEFINE(struct kmmu_interval_tree_node, rb, unsigned long,
		     __subtree_last, KMMU_IT_START, KMMU_IT_LAST, static inline,
		     kmmu_interval_tree)

struct kmmu_slot_chunk;

struct kmmu_slot_arena {
	struct kmmu_slot_chunk *chunks;
	/* Free slots, linked through kmmu_slot_free_link(). */
	struct kmmu_memory_slot *free;
	/* Never used slots at the end of the newest chunk. */
	unsigned int unused;
};

struct kmmu_vm_memslots {
	/* Serializes updaters (kvm->slots_lock). */
	pthread_mutex_t slots_lock;
	/* Protects arch data of active slots against installation (kvm->slots_arch_lock). */
	pthread_mutex_t slots_arch_lock;
	/* mn_invalidate_lock, mn_active_invalidate_count, mn_memslots_update_rcuwait */
	pthread_mutex_t mn_invalidate_lock;
	pthread_cond_t mn_memslots_update_wait;
	unsigned long mn_active_invalidate_count;

	unsigned long nr_memslot_pages;
	struct kmmu_memslots __memslots[KMMU_ADDRESS_SPACE_NUM][2];
	/* The active set of each address space, published with rcu_assign_pointer. */
	struct kmmu_memslots *memslots[KMMU_ADDRESS_SPACE_NUM];

	struct kmmu_memslot_ops ops;
	void *ctx;
	unsigned int max_slots;
	bool single_thread;	/* kmmu_memslots_set_single_thread() */

	/* Where slots come from; used under slots_lock only. */
	struct kmmu_slot_arena arena;
};

/*
 * A kernel WARN_ON/BUG in this code means the reference itself is broken;
 * there is nothing sensible to continue with, so stop loudly.
 */
#define KMMU_BUG_ON(cond)						\
	do {								\
		if (cond) {						\
			fprintf(stderr, "kmmu memslot BUG: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);		\
			abort();					\
		}							\
	} while (0)

static inline void kmmu_set_generation(struct kmmu_memslots *slots, uint64_t gen)
{
	__atomic_store_n(&slots->generation, gen, __ATOMIC_RELEASE);
}

/* Updater side: slots_lock is held, so the active pointer is stable. */
static inline struct kmmu_memslots *kmmu_memslots_active_locked(struct kmmu_vm_memslots *vm,
							 int as_id)
{
	return CMM_LOAD_SHARED(vm->memslots[as_id]);
}

static inline struct kmmu_memslots *kmmu_get_inactive_memslots(struct kmmu_vm_memslots *vm,
							int as_id)
{
	struct kmmu_memslots *active = kmmu_memslots_active_locked(vm, as_id);

	return &vm->__memslots[as_id][active->node_idx ^ 1];
}
/* kzalloc() of a slot from the VM's arena (memslot.c). */
struct kmmu_memory_slot *kmmu_alloc_slot(struct kmmu_vm_memslots *vm);

/* kfree() of a slot, poisoned first; only once no reader can hold it. */
void kmmu_free_slot_mem(struct kmmu_vm_memslots *vm, struct kmmu_memory_slot *slot);

/* kvm_free_memslot(): the arch hook, then the memory; unlinks nothing. */
void kmmu_free_memslot(struct kmmu_vm_memslots *vm, struct kmmu_memory_slot *slot);

#endif
