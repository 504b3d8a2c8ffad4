// SPDX-License-Identifier: GPL-2.0
/*
 * Memslots: reference of virt/kvm/kvm_main.c (6.1) KVM_SET_USER_MEMORY_REGION:
 * the checks of __kvm_set_memory_region(), the copy-update-swap of the two
 * sets (kvm_set_memslot() and its create/delete/move/flags cases) with the
 * arch hooks in the kernel's order, and the swap under SRCU.  The sets and
 * their lookups are memslot.c's.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "memslot_internal.h"

/* Helper for when one of the pointers may be NULL (kvm_memslots_get_as_id). */
static int kmmu_memslots_get_as_id(struct kmmu_memory_slot *a, struct kmmu_memory_slot *b)
{
	KMMU_BUG_ON(!a && !b);
	if (!a)
		return b->as_id;
	if (!b)
		return a->as_id;
	KMMU_BUG_ON(a->as_id != b->as_id);
	return a->as_id;
}

static void kmmu_insert_gfn_node(struct kmmu_memslots *slots, struct kmmu_memory_slot *slot)
{
	struct rb_node **node, *parent = NULL;
	int idx = slots->node_idx;

	for (node = &slots->gfn_tree.rb_node; *node; ) {
		struct kmmu_memory_slot *tmp;

		tmp = container_of(*node, struct kmmu_memory_slot, gfn_node[idx]);
		parent = *node;
		if (slot->base_gfn < tmp->base_gfn)
			node = &(*node)->rb_left;
		else if (slot->base_gfn > tmp->base_gfn)
			node = &(*node)->rb_right;
		else
			KMMU_BUG_ON(1);	/* overlap check let a duplicate through */
	}

	rb_link_node(&slot->gfn_node[idx], parent, node);
	rb_insert_color(&slot->gfn_node[idx], &slots->gfn_tree);
}

static void kmmu_erase_gfn_node(struct kmmu_memslots *slots, struct kmmu_memory_slot *slot)
{
	rb_erase(&slot->gfn_node[slots->node_idx], &slots->gfn_tree);
}

static void kmmu_replace_gfn_node(struct kmmu_memslots *slots,
				  struct kmmu_memory_slot *old,
				  struct kmmu_memory_slot *new)
{
	int idx = slots->node_idx;

	KMMU_BUG_ON(old->base_gfn != new->base_gfn);
	rb_replace_node(&old->gfn_node[idx], &new->gfn_node[idx], &slots->gfn_tree);
}

/*
 * kvm_replace_memslot(): replace @old with @new in the inactive set of their
 * address space.  NULL @old adds @new, NULL @new removes @old.
 */
static void kmmu_replace_memslot(struct kmmu_vm_memslots *vm,
				 struct kmmu_memory_slot *old,
				 struct kmmu_memory_slot *new)
{
	int as_id = kmmu_memslots_get_as_id(old, new);
	struct kmmu_memslots *slots = kmmu_get_inactive_memslots(vm, as_id);
	int idx = slots->node_idx;

	if (old) {
		hash_del(&old->id_node[idx]);
		kmmu_interval_tree_remove(&old->hva_node[idx], &slots->hva_tree);

		/*
		 * The hint must never point at a slot that is not in this set.
		 * No reader uses the inactive set, so this need not be atomic
		 * as a whole (the kernel open-codes it for the same reason).
		 */
		if (__atomic_load_n(&slots->last_used_slot, __ATOMIC_RELAXED) == old)
			__atomic_store_n(&slots->last_used_slot, new, __ATOMIC_RELAXED);

		if (!new) {
			kmmu_erase_gfn_node(slots, old);
			slots->nr_slots--;
			return;
		}
	} else {
		slots->nr_slots++;
	}

	/*
	 * Set @new's hva range even when replacing: kmmu_copy_memslot()
	 * deliberately leaves node data alone.
	 */
	new->hva_node[idx].start = new->userspace_addr;
	new->hva_node[idx].last = new->userspace_addr +
				  (new->npages << KMMU_PAGE_SHIFT) - 1;

	/* No O(1) interval tree replace: the hva node is removed + inserted. */
	hash_add(slots->id_hash, &new->id_node[idx], new->id);
	kmmu_interval_tree_insert(&new->hva_node[idx], &slots->hva_tree);

	/* Same gfn: an O(1) rb_replace_node() instead of erase + insert. */
	if (old && old->base_gfn == new->base_gfn) {
		kmmu_replace_gfn_node(slots, old, new);
	} else {
		if (old)
			kmmu_erase_gfn_node(slots, old);
		kmmu_insert_gfn_node(slots, new);
	}
}

/*
 * kvm_swap_active_memslots(): publish the inactive set of @as_id.  Entered
 * with slots_arch_lock held, returns with it released (it must be dropped
 * before waiting for readers, who may take it).
 */
static void kmmu_swap_active_memslots(struct kmmu_vm_memslots *vm, int as_id)
{
	struct kmmu_memslots *slots = kmmu_get_inactive_memslots(vm, as_id);
	uint64_t gen = kmmu_memslots_generation(kmmu_memslots_active_locked(vm, as_id));

	/*
	 * Readers that pick up the new set before the generation is final see
	 * the in-progress bit, so nothing they cache (e.g. an MMIO SPTE) can
	 * match the final generation.
	 */
	KMMU_BUG_ON(gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS);
	kmmu_set_generation(slots, gen | KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS);

	/*
	 * Don't publish while MMU notifier invalidations are in flight, or
	 * invalidate_range_start and _end could see different memslots.
	 */
	pthread_mutex_lock(&vm->mn_invalidate_lock);
	while (vm->mn_active_invalidate_count)
		pthread_cond_wait(&vm->mn_memslots_update_wait, &vm->mn_invalidate_lock);
	rcu_assign_pointer(vm->memslots[as_id], slots);
	pthread_mutex_unlock(&vm->mn_invalidate_lock);

	pthread_mutex_unlock(&vm->slots_arch_lock);

	/* With one thread, no reader can still see the old set. */
	if (!vm->single_thread)
		urcu_memb_synchronize_rcu();

	/*
	 * Drop the in-progress bit and advance by the number of address
	 * spaces: generations stay unique across address spaces (as 0 uses
	 * 0, 2, 4, ..., as 1 uses 1, 3, 5, ...).
	 */
	gen = slots->generation & ~KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS;
	gen += KMMU_ADDRESS_SPACE_NUM;

	if (vm->ops.memslots_updated)
		vm->ops.memslots_updated(vm->ctx, gen);

	kmmu_set_generation(slots, gen);
}

/*
 * kvm_activate_memslot(): swap, then propagate the change to the set that
 * just became inactive (no reader can see it any more).
 */
static void kmmu_activate_memslot(struct kmmu_vm_memslots *vm,
				  struct kmmu_memory_slot *old,
				  struct kmmu_memory_slot *new)
{
	int as_id = kmmu_memslots_get_as_id(old, new);

	kmmu_swap_active_memslots(vm, as_id);
	kmmu_replace_memslot(vm, old, new);
}

/* kvm_copy_memslot(): the payload only, never the tree/hash nodes. */
static void kmmu_copy_memslot(struct kmmu_memory_slot *dest,
			      const struct kmmu_memory_slot *src)
{
	dest->base_gfn = src->base_gfn;
	dest->npages = src->npages;
	dest->arch = src->arch;
	dest->userspace_addr = src->userspace_addr;
	dest->flags = src->flags;
	dest->id = src->id;
	dest->as_id = src->as_id;
}

/*
 * kvm_invalidate_memslot(): make an INVALID copy of @old active so no new
 * mapping of the slot can be created, then zap the old one.  @old stays in
 * the (now) inactive set, so a failing prepare can swap it back.
 */
static void kmmu_invalidate_memslot(struct kmmu_vm_memslots *vm,
				    struct kmmu_memory_slot *old,
				    struct kmmu_memory_slot *invalid_slot)
{
	kmmu_copy_memslot(invalid_slot, old);
	invalid_slot->flags |= KMMU_MEMSLOT_INVALID;
	kmmu_replace_memslot(vm, old, invalid_slot);

	/* Activate the INVALID slot, but don't propagate it. */
	kmmu_swap_active_memslots(vm, old->as_id);

	/* From here no reader can find a valid version of the slot. */
	if (vm->ops.flush_slot)
		vm->ops.flush_slot(vm->ctx, old);

	/* Released by the swap. */
	pthread_mutex_lock(&vm->slots_arch_lock);

	/* Arch data may have changed through the active (INVALID) copy. */
	old->arch = invalid_slot->arch;
}

static void kmmu_create_memslot(struct kmmu_vm_memslots *vm, struct kmmu_memory_slot *new)
{
	kmmu_replace_memslot(vm, NULL, new);
	kmmu_activate_memslot(vm, NULL, new);
}

static void kmmu_delete_memslot(struct kmmu_vm_memslots *vm,
				struct kmmu_memory_slot *old,
				struct kmmu_memory_slot *invalid_slot)
{
	/* @old is in the inactive set, its INVALID copy in the active one. */
	kmmu_replace_memslot(vm, old, NULL);
	kmmu_activate_memslot(vm, invalid_slot, NULL);
}

static void kmmu_move_memslot(struct kmmu_vm_memslots *vm,
			      struct kmmu_memory_slot *old,
			      struct kmmu_memory_slot *new,
			      struct kmmu_memory_slot *invalid_slot)
{
	kmmu_replace_memslot(vm, old, new);
	kmmu_activate_memslot(vm, invalid_slot, new);
}

static void kmmu_update_flags_memslot(struct kmmu_vm_memslots *vm,
				      struct kmmu_memory_slot *old,
				      struct kmmu_memory_slot *new)
{
	/* No zap needed: replace in both sets, one after the other. */
	kmmu_replace_memslot(vm, old, new);
	kmmu_activate_memslot(vm, old, new);
}

static void kmmu_commit_memory_region(struct kmmu_vm_memslots *vm,
				      struct kmmu_memory_slot *old,
				      const struct kmmu_memory_slot *new,
				      enum kmmu_mr_change change)
{
	/* Updated before the hook so it can consume the result. */
	if (change == KMMU_MR_DELETE)
		__atomic_store_n(&vm->nr_memslot_pages,
				 vm->nr_memslot_pages - old->npages, __ATOMIC_RELAXED);
	else if (change == KMMU_MR_CREATE)
		__atomic_store_n(&vm->nr_memslot_pages,
				 vm->nr_memslot_pages + new->npages, __ATOMIC_RELAXED);

	if (vm->ops.commit)
		vm->ops.commit(vm->ctx, old, new, change);

	switch (change) {
	case KMMU_MR_CREATE:
		break;
	case KMMU_MR_DELETE:
		kmmu_free_memslot(vm, old);
		break;
	case KMMU_MR_MOVE:
	case KMMU_MR_FLAGS_ONLY:
		/* Only the memory: arch data was taken over or freed by commit. */
		kmmu_free_slot_mem(vm, old);
		break;
	}
}

static int kmmu_set_memslot(struct kmmu_vm_memslots *vm,
			    struct kmmu_memory_slot *old,
			    struct kmmu_memory_slot *new,
			    enum kmmu_mr_change change)
{
	struct kmmu_memory_slot *invalid_slot = NULL;
	int r = 0;

	/* Released in kmmu_swap_active_memslots(). */
	pthread_mutex_lock(&vm->slots_arch_lock);

	/*
	 * DELETE/MOVE first make the slot INVALID and zap it, so vCPUs keep
	 * running without ever mapping a slot that is going away.  The old
	 * slot is kept (in the inactive set) for the rollback below.
	 */
	if (change == KMMU_MR_DELETE || change == KMMU_MR_MOVE) {
		invalid_slot = kmmu_alloc_slot(vm);
		if (!invalid_slot) {
			pthread_mutex_unlock(&vm->slots_arch_lock);
			return -ENOMEM;
		}
		kmmu_invalidate_memslot(vm, old, invalid_slot);
	}

	if (vm->ops.prepare)
		r = vm->ops.prepare(vm->ctx, old, new, change);
	if (r) {
		if (change == KMMU_MR_DELETE || change == KMMU_MR_MOVE) {
			/* Swap the preserved old slot back in; releases the lock. */
			kmmu_activate_memslot(vm, invalid_slot, old);
			kmmu_free_slot_mem(vm, invalid_slot);
		} else {
			pthread_mutex_unlock(&vm->slots_arch_lock);
		}
		return r;
	}

	switch (change) {
	case KMMU_MR_CREATE:
		kmmu_create_memslot(vm, new);
		break;
	case KMMU_MR_DELETE:
		kmmu_delete_memslot(vm, old, invalid_slot);
		break;
	case KMMU_MR_MOVE:
		kmmu_move_memslot(vm, old, new, invalid_slot);
		break;
	case KMMU_MR_FLAGS_ONLY:
		kmmu_update_flags_memslot(vm, old, new);
		break;
	}

	kmmu_free_slot_mem(vm, invalid_slot);

	kmmu_commit_memory_region(vm, old, new, change);
	return 0;
}

/* kvm_check_memslot_overlap(): any other slot within [start, end)? */
static bool kmmu_check_memslot_overlap(struct kmmu_memslots *slots, int id,
				       gfn_t start, gfn_t end)
{
	struct kmmu_memory_slot *slot;

	kmmu_for_each_memslot_in_gfn_range(slot, slots, start, end) {
		if (slot->id != id)
			return true;
	}
	return false;
}

/* The generic access_ok() x86 uses since 5.18. */
static bool kmmu_access_ok(uint64_t addr, uint64_t size)
{
	return size <= KMMU_TASK_SIZE_MAX && addr <= KMMU_TASK_SIZE_MAX - size;
}

/* __kvm_set_memory_region(), slots_lock held. */
static int __kmmu_set_memory_region(struct kmmu_vm_memslots *vm, uint32_t mem_slot,
				    uint32_t mem_flags, uint64_t guest_phys_addr,
				    uint64_t memory_size, uint64_t userspace_addr)
{
	struct kmmu_memory_slot *old, *new;
	struct kmmu_memslots *slots;
	enum kmmu_mr_change change;
	unsigned long npages;
	gfn_t base_gfn;
	int as_id, id;
	int r;

	/* check_memory_region_flags() */
	if (mem_flags & ~KMMU_MEM_VALID_FLAGS)
		return -EINVAL;

	as_id = mem_slot >> 16;
	id = (uint16_t)mem_slot;

	/* General sanity checks (memory_size always fits a 64-bit long). */
	if (memory_size & (KMMU_PAGE_SIZE - 1))
		return -EINVAL;
	if (guest_phys_addr & (KMMU_PAGE_SIZE - 1))
		return -EINVAL;
	/* untagged_addr() is the identity on x86 in 6.1 (no LAM yet). */
	if ((userspace_addr & (KMMU_PAGE_SIZE - 1)) ||
	    !kmmu_access_ok(userspace_addr, memory_size))
		return -EINVAL;
	if (as_id >= KMMU_ADDRESS_SPACE_NUM || id >= KMMU_MEM_SLOTS_NUM)
		return -EINVAL;
	if (guest_phys_addr + memory_size < guest_phys_addr)
		return -EINVAL;
	if ((memory_size >> KMMU_PAGE_SHIFT) > KMMU_MEM_MAX_NR_PAGES)
		return -EINVAL;

	slots = kmmu_memslots_active_locked(vm, as_id);

	/* @old may be invalidated and freed by kmmu_set_memslot(). */
	old = kmmu_id_to_memslot(slots, id);

	if (!memory_size) {
		if (!old || !old->npages)
			return -EINVAL;
		if (vm->nr_memslot_pages < old->npages)
			return -EIO;	/* WARN_ON_ONCE in the kernel */
		return kmmu_set_memslot(vm, old, NULL, KMMU_MR_DELETE);
	}

	base_gfn = guest_phys_addr >> KMMU_PAGE_SHIFT;
	npages = memory_size >> KMMU_PAGE_SHIFT;

	if (!old || !old->npages) {
		change = KMMU_MR_CREATE;
		/* The total page count must fit an unsigned long. */
		if (vm->nr_memslot_pages + npages < vm->nr_memslot_pages)
			return -EINVAL;
	} else {
		/* Only the gpa and the LOG_DIRTY_PAGES flag may change. */
		if (userspace_addr != old->userspace_addr ||
		    npages != old->npages ||
		    ((mem_flags ^ old->flags) & KMMU_MEM_READONLY))
			return -EINVAL;

		if (base_gfn != old->base_gfn)
			change = KMMU_MR_MOVE;
		else if (mem_flags != old->flags)
			change = KMMU_MR_FLAGS_ONLY;
		else
			return 0;	/* nothing to change */
	}

	if ((change == KMMU_MR_CREATE || change == KMMU_MR_MOVE) &&
	    kmmu_check_memslot_overlap(slots, id, base_gfn, base_gfn + npages))
		return -EEXIST;

	new = kmmu_alloc_slot(vm);
	if (!new)
		return -ENOMEM;

	new->as_id = as_id;
	new->id = id;
	new->base_gfn = base_gfn;
	new->npages = npages;
	new->flags = mem_flags;
	new->userspace_addr = userspace_addr;

	r = kmmu_set_memslot(vm, old, new, change);
	if (r)
		kmmu_free_slot_mem(vm, new);
	return r;
}

int kmmu_set_memory_region_internal(struct kmmu_vm_memslots *vm, uint32_t slot,
				    uint32_t flags, uint64_t guest_phys_addr,
				    uint64_t memory_size, uint64_t userspace_addr)
{
	int r;

	if (!vm)
		return -EINVAL;

	pthread_mutex_lock(&vm->slots_lock);
	r = __kmmu_set_memory_region(vm, slot, flags, guest_phys_addr,
				     memory_size, userspace_addr);
	pthread_mutex_unlock(&vm->slots_lock);
	return r;
}

/* kvm_vm_ioctl_set_memory_region(): user ids stop at KVM_CAP_NR_MEMSLOTS. */
int kmmu_set_memory_region(struct kmmu_vm_memslots *vm, uint32_t slot,
			   uint32_t flags, uint64_t guest_phys_addr,
			   uint64_t memory_size, uint64_t userspace_addr)
{
	if (!vm)
		return -EINVAL;
	if ((uint16_t)slot >= vm->max_slots)
		return -EINVAL;

	return kmmu_set_memory_region_internal(vm, slot, flags, guest_phys_addr,
					       memory_size, userspace_addr);
}
