// SPDX-License-Identifier: GPL-2.0
/*
 * Memslots: reference of virt/kvm/kvm_main.c (6.1), the reader side and
 * the slots themselves: the two memslot sets per address space, their
 * lookups (id hash, gfn rbtree, hva interval tree), the slot allocator and
 * the locks.  memslot_update.c is KVM_SET_USER_MEMORY_REGION.  See
 * kmmu/memslot.h for the model; function names follow the kernel's with a
 * kmmu_ prefix so the two can be read side by side.
 *
 * SRCU is replaced by urcu-memb: readers use urcu_memb_read_lock(), the
 * updater's synchronize_srcu_expedited() is urcu_memb_synchronize_rcu().
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "memslot_internal.h"

/* SLUB's POISON_FREE: a reader using a freed slot sees garbage, not the slot. */
#define KMMU_POISON_FREE 0x6b

_Static_assert(offsetof(struct kmmu_memory_slot, npages) + sizeof(unsigned long) <= 64,
	       "the gfn lookup fields must share the first cache line");

/*
 * Slots are carved from chunks, KMMU_SLOT_PITCH bytes apart: an odd
 * number of cache lines.  A gfn lookup touches one line per slot, the
 * first.  With an even pitch (glibc hands out aligned 256-byte slots 384
 * bytes apart) those lines use only half of the cache sets, e.g. 24 of
 * L1's 48 KiB: with 32764 slots, random lookups in a fresh process ran at
 * 3.0 M/s from malloc and 5.4 M/s from the arena (the malloc layout does
 * not always lose that much; it depends on what the heap held before).
 * The tail of the pitch beyond the slot holds the free list link, so a
 * freed slot stays poisoned as a whole.
 *
 * Under ASan every slot is still its own allocation: ASan's quarantine
 * then reports a reader that uses a freed slot, which a reused arena
 * slot would hide.
 */
#if defined(__SANITIZE_ADDRESS__)
#define KMMU_SLOT_ARENA 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KMMU_SLOT_ARENA 0
#endif
#endif
#ifndef KMMU_SLOT_ARENA
#define KMMU_SLOT_ARENA 1
#endif

#define KMMU_CACHE_LINE 64
#define KMMU_SLOT_PITCH							\
	(((sizeof(struct kmmu_memory_slot) + sizeof(void *) +		\
	   KMMU_CACHE_LINE - 1) / KMMU_CACHE_LINE | 1) * KMMU_CACHE_LINE)
/* Slots per chunk: 20 KiB chunks, few enough mallocs at 32k slots. */
#define KMMU_SLOT_CHUNK 64

/* A chunk: this line, then KMMU_SLOT_CHUNK slots. */
struct kmmu_slot_chunk {
	struct kmmu_slot_chunk *next;
} __attribute__((aligned(KMMU_CACHE_LINE)));


int kmmu_memslots_init(struct kmmu_vm_memslots **out,
		       const struct kmmu_memslot_ops *ops, void *ctx,
		       unsigned int max_slots)
{
	struct kmmu_vm_memslots *vm;
	int i, j;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (max_slots == 0)
		max_slots = KMMU_USER_MEM_SLOTS;
	if (max_slots > KMMU_USER_MEM_SLOTS)
		return -EINVAL;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;

	pthread_mutex_init(&vm->slots_lock, NULL);
	pthread_mutex_init(&vm->slots_arch_lock, NULL);
	pthread_mutex_init(&vm->mn_invalidate_lock, NULL);
	pthread_cond_init(&vm->mn_memslots_update_wait, NULL);
	if (ops)
		vm->ops = *ops;
	vm->ctx = ctx;
	vm->max_slots = max_slots;

	/* As kvm_create_vm(). */
	for (i = 0; i < KMMU_ADDRESS_SPACE_NUM; i++) {
		for (j = 0; j < 2; j++) {
			struct kmmu_memslots *slots = &vm->__memslots[i][j];

			slots->last_used_slot = NULL;
			slots->hva_tree = RB_ROOT_CACHED;
			slots->gfn_tree = RB_ROOT;
			hash_init(slots->id_hash);
			slots->node_idx = j;
			/* Generations must be different for each address space. */
			slots->generation = i;
			slots->nr_slots = 0;
		}
		rcu_assign_pointer(vm->memslots[i], &vm->__memslots[i][0]);
	}

	*out = vm;
	return 0;
}

static struct kmmu_memory_slot **kmmu_slot_free_link(struct kmmu_memory_slot *slot)
{
	return (struct kmmu_memory_slot **)((char *)slot + KMMU_SLOT_PITCH - sizeof(void *));
}

/* The next never used slot, from a new chunk if the newest is full. */
static struct kmmu_memory_slot *kmmu_arena_carve(struct kmmu_slot_arena *arena)
{
	struct kmmu_slot_chunk *chunk;

	if (!arena->unused) {
		chunk = aligned_alloc(KMMU_CACHE_LINE, sizeof(*chunk) +
				      KMMU_SLOT_CHUNK * KMMU_SLOT_PITCH);
		if (!chunk)
			return NULL;
		chunk->next = arena->chunks;
		arena->chunks = chunk;
		arena->unused = KMMU_SLOT_CHUNK;
	}
	chunk = arena->chunks;
	return (struct kmmu_memory_slot *)((char *)(chunk + 1) +
		(KMMU_SLOT_CHUNK - arena->unused--) * KMMU_SLOT_PITCH);
}

/* kzalloc() of a slot; cache-line aligned for the lookup path. */
struct kmmu_memory_slot *kmmu_alloc_slot(struct kmmu_vm_memslots *vm)
{
	struct kmmu_memory_slot *slot;

	if (KMMU_SLOT_ARENA) {
		struct kmmu_slot_arena *arena = &vm->arena;

		slot = arena->free;
		if (slot)
			arena->free = *kmmu_slot_free_link(slot);
		else
			slot = kmmu_arena_carve(arena);
	} else {
		slot = aligned_alloc(_Alignof(struct kmmu_memory_slot), sizeof(*slot));
	}
	if (slot)
		memset(slot, 0, sizeof(*slot));
	return slot;
}

/*
 * kfree(): only once no reader can hold @slot.  Poisoned first so a
 * use-after-free shows in plain builds too (ASan builds catch it anyway).
 */
void kmmu_free_slot_mem(struct kmmu_vm_memslots *vm, struct kmmu_memory_slot *slot)
{
	if (!slot)
		return;
	memset(slot, KMMU_POISON_FREE, sizeof(*slot));
	if (KMMU_SLOT_ARENA) {
		*kmmu_slot_free_link(slot) = vm->arena.free;
		vm->arena.free = slot;
	} else {
		free(slot);
	}
}

/* Frees the chunks, and with them every slot still in them. */
static void kmmu_arena_destroy(struct kmmu_slot_arena *arena)
{
	struct kmmu_slot_chunk *chunk, *next;

	for (chunk = arena->chunks; chunk; chunk = next) {
		next = chunk->next;
		free(chunk);
	}
	memset(arena, 0, sizeof(*arena));
}

/* kvm_free_memslot(): does not unlink the slot from any set. */
void kmmu_free_memslot(struct kmmu_vm_memslots *vm, struct kmmu_memory_slot *slot)
{
	if (vm->ops.free_slot)
		vm->ops.free_slot(vm->ctx, slot);
	kmmu_free_slot_mem(vm, slot);
}

void kmmu_memslots_destroy(struct kmmu_vm_memslots *vm)
{
	struct kmmu_memory_slot *slot;
	struct hlist_node *tmp;
	int i, bkt;

	if (!vm)
		return;

	/*
	 * The same slots live in both sets; free them through set 1 only, as
	 * kvm_free_memslots() does, so nothing is freed twice.
	 */
	for (i = 0; i < KMMU_ADDRESS_SPACE_NUM; i++) {
		struct kmmu_memslots *slots = &vm->__memslots[i][1];

		hash_for_each_safe(slots->id_hash, bkt, tmp, slot, id_node[1])
			kmmu_free_memslot(vm, slot);
	}
	kmmu_arena_destroy(&vm->arena);

	pthread_cond_destroy(&vm->mn_memslots_update_wait);
	pthread_mutex_destroy(&vm->mn_invalidate_lock);
	pthread_mutex_destroy(&vm->slots_arch_lock);
	pthread_mutex_destroy(&vm->slots_lock);
	free(vm);
}

unsigned int kmmu_memslots_max_slots(struct kmmu_vm_memslots *vm)
{
	return vm ? vm->max_slots : 0;
}

void kmmu_memslots_set_single_thread(struct kmmu_vm_memslots *vm, bool single_thread)
{
	if (vm)
		vm->single_thread = single_thread;
}

void kmmu_memslots_lock(struct kmmu_vm_memslots *vm)
{
	pthread_mutex_lock(&vm->slots_lock);
}

void kmmu_memslots_unlock(struct kmmu_vm_memslots *vm)
{
	pthread_mutex_unlock(&vm->slots_lock);
}

void kmmu_memslots_arch_lock(struct kmmu_vm_memslots *vm)
{
	pthread_mutex_lock(&vm->slots_arch_lock);
}

void kmmu_memslots_arch_unlock(struct kmmu_vm_memslots *vm)
{
	pthread_mutex_unlock(&vm->slots_arch_lock);
}

void kmmu_memslots_mn_invalidate_begin(struct kmmu_vm_memslots *vm)
{
	pthread_mutex_lock(&vm->mn_invalidate_lock);
	vm->mn_active_invalidate_count++;
	pthread_mutex_unlock(&vm->mn_invalidate_lock);
}

void kmmu_memslots_mn_invalidate_end(struct kmmu_vm_memslots *vm)
{
	bool wake;

	pthread_mutex_lock(&vm->mn_invalidate_lock);
	KMMU_BUG_ON(!vm->mn_active_invalidate_count);
	wake = !--vm->mn_active_invalidate_count;
	pthread_mutex_unlock(&vm->mn_invalidate_lock);

	/* As kvm_mmu_notifier_invalidate_range_end(): let a pending swap go. */
	if (wake)
		pthread_cond_broadcast(&vm->mn_memslots_update_wait);
}

unsigned long kmmu_memslots_nr_pages(struct kmmu_vm_memslots *vm)
{
	return __atomic_load_n(&vm->nr_memslot_pages, __ATOMIC_RELAXED);
}

struct kmmu_memslots *kmmu_memslots_active(struct kmmu_vm_memslots *vm, int as_id)
{
	if (!vm || as_id < 0 || as_id >= KMMU_ADDRESS_SPACE_NUM)
		return NULL;
	return rcu_dereference(vm->memslots[as_id]);
}

struct kmmu_memory_slot *kmmu_id_to_memslot(struct kmmu_memslots *slots, int id)
{
	struct kmmu_memory_slot *slot;
	int idx = slots->node_idx;

	hash_for_each_possible(slots->id_hash, slot, id_node[idx], id) {
		if (slot->id == id)
			return slot;
	}
	return NULL;
}

static inline struct kmmu_memory_slot *kmmu_gfn_node_slot(struct rb_node *node, int idx)
{
	return node ? container_of(node, struct kmmu_memory_slot, gfn_node[idx]) : NULL;
}

struct kmmu_memory_slot *kmmu_memslot_first(struct kmmu_memslots *slots)
{
	return kmmu_gfn_node_slot(rb_first(&slots->gfn_tree), slots->node_idx);
}

struct kmmu_memory_slot *kmmu_memslot_next(struct kmmu_memslots *slots,
					   struct kmmu_memory_slot *slot)
{
	int idx = slots->node_idx;

	return kmmu_gfn_node_slot(rb_next(&slot->gfn_node[idx]), idx);
}

/* kvm_memslot_iter_start() followed by kvm_memslot_iter_is_valid(). */
struct kmmu_memory_slot *kmmu_memslot_gfn_first(struct kmmu_memslots *slots,
						gfn_t start, gfn_t end)
{
	int idx = slots->node_idx;
	struct kmmu_memory_slot *slot;
	struct rb_node *node = NULL, *tmp;

	/* The kernel never asks for an empty range; define it as empty. */
	if (start >= end)
		return NULL;

	/* The "upper bound": the first slot starting strictly after @start. */
	for (tmp = slots->gfn_tree.rb_node; tmp; ) {
		slot = container_of(tmp, struct kmmu_memory_slot, gfn_node[idx]);
		if (start < slot->base_gfn) {
			node = tmp;
			tmp = tmp->rb_left;
		} else {
			tmp = tmp->rb_right;
		}
	}

	/*
	 * The slot before it is the last one starting at or below @start and
	 * is the only earlier slot that can still reach into the range (slots
	 * do not overlap).
	 */
	if (node) {
		tmp = rb_prev(node);
		if (tmp)
			node = tmp;
	} else {
		node = rb_last(&slots->gfn_tree);
	}
	if (!node)
		return NULL;

	slot = container_of(node, struct kmmu_memory_slot, gfn_node[idx]);
	if (slot->base_gfn + slot->npages <= start) {
		node = rb_next(node);
		if (!node)
			return NULL;
		slot = container_of(node, struct kmmu_memory_slot, gfn_node[idx]);
	}
	return slot->base_gfn < end ? slot : NULL;
}

struct kmmu_memory_slot *kmmu_memslot_gfn_next(struct kmmu_memslots *slots,
					       struct kmmu_memory_slot *slot,
					       gfn_t end)
{
	struct kmmu_memory_slot *next = kmmu_memslot_next(slots, slot);

	/* Once a slot starts at or beyond @end, so does every later one. */
	return next && next->base_gfn < end ? next : NULL;
}

static inline struct kmmu_memory_slot *
kmmu_hva_node_slot(struct kmmu_interval_tree_node *node, int idx)
{
	return node ? container_of(node, struct kmmu_memory_slot, hva_node[idx]) : NULL;
}

/*
 * The interval tree stores inclusive [start, last] byte ranges; callers
 * pass [start, end) as kvm_handle_hva_range() gets them from the MMU
 * notifier, and, like it, we query with end - 1.
 */
struct kmmu_memory_slot *kmmu_memslot_hva_first(struct kmmu_memslots *slots,
						unsigned long start,
						unsigned long end)
{
	int idx = slots->node_idx;

	if (end <= start)
		return NULL;
	return kmmu_hva_node_slot(kmmu_interval_tree_iter_first(&slots->hva_tree,
								start, end - 1),
				  idx);
}

struct kmmu_memory_slot *kmmu_memslot_hva_next(struct kmmu_memslots *slots,
					       struct kmmu_memory_slot *slot,
					       unsigned long start,
					       unsigned long end)
{
	int idx = slots->node_idx;

	if (end <= start)
		return NULL;
	return kmmu_hva_node_slot(kmmu_interval_tree_iter_next(&slot->hva_node[idx],
							       start, end - 1),
				  idx);
}

