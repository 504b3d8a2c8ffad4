/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memslots: the reference of virt/kvm/kvm_main.c's memslot layer as merged
 * in Linux 5.17 (seed 004) and as it is in 6.1.
 *
 * Per address space there are two memslot sets, the active one (read by
 * vCPUs and MMU notifiers under SRCU, here under urcu-memb's
 * rcu_read_lock) and the inactive one (modified by the single updater that
 * holds slots_lock).  Each set has its own gfn rbtree, hva interval tree and
 * id hash; a slot that is in both sets is linked through node index 0 in one
 * and index 1 in the other (slots->node_idx).  A change is made on the
 * inactive set, the sets are swapped (rcu_assign_pointer + synchronize_rcu)
 * and the change is then replayed on the set that just became inactive.
 * Readers therefore never see a tree that is being modified.
 *
 * Everything here returns 0 or -errno exactly as the kernel's
 * KVM_SET_USER_MEMORY_REGION does (kernel 6.1 semantics).
 *
 * What the kernel does in kvm_arch_*() is delegated to struct
 * kmmu_memslot_ops, implemented by the MMU.  In particular the x86 check
 * that a slot does not end beyond kvm_mmu_max_gfn() lives in x86's
 * kvm_arch_prepare_memory_region(), so it is the prepare hook's job here.
 *
 * Not modelled: dirty bitmaps (no dirty logging in the reference; the
 * LOG_DIRTY_PAGES flag is kept and passed to the hooks), per-vCPU
 * last_used_slot caches, guest_memfd / KVM_SET_USER_MEMORY_REGION2 (6.8+).
 */
#ifndef KMMU_MEMSLOT_H
#define KMMU_MEMSLOT_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include <linux/rbtree.h>
#include <linux/hashtable.h>

#include "kmmu/gfn.h"

/* x86: SMM has its own address space (KVM_ADDRESS_SPACE_NUM == 2). */
#define KMMU_ADDRESS_SPACE_NUM 2

/* Userspace flags (uapi KVM_MEM_*); x86 has __KVM_HAVE_READONLY_MEM. */
#define KMMU_MEM_LOG_DIRTY_PAGES (1u << 0)
#define KMMU_MEM_READONLY        (1u << 1)
#define KMMU_MEM_VALID_FLAGS     (KMMU_MEM_LOG_DIRTY_PAGES | KMMU_MEM_READONLY)
/* Internal flag: the slot is being deleted or moved (KVM_MEMSLOT_INVALID). */
#define KMMU_MEMSLOT_INVALID     (1u << 16)

/*
 * Bit 63 of a generation: an update is in progress (see swap in memslot.c).
 * History, for reading old traces: the 2013 code of seed 002 bumped the
 * generation once per update; from 2014 it was bumped before and after
 * the install, an odd value meaning "in progress"; since 2019 the
 * in-progress state is this bit and each swap adds KVM_ADDRESS_SPACE_NUM,
 * which is what is modelled.  How a generation is stored in an MMIO SPTE
 * is spte.h's business.
 */
#define KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS (1ull << 63)

/* KVM_MEM_SLOTS_NUM is SHRT_MAX; x86 reserves 3 ids for private slots. */
#define KMMU_MEM_SLOTS_NUM       32767
#define KMMU_INTERNAL_MEM_SLOTS  3
#define KMMU_USER_MEM_SLOTS      (KMMU_MEM_SLOTS_NUM - KMMU_INTERNAL_MEM_SLOTS)
/* KVM_MEM_MAX_NR_PAGES: bitops limit on the dirty bitmap. */
#define KMMU_MEM_MAX_NR_PAGES    ((1ul << 31) - 1)
/*
 * access_ok() limit on x86-64 with 4-level paging (TASK_SIZE_MAX).  With
 * 5-level paging it is (1 << 56) - PAGE_SIZE; the reference models 4-level.
 */
#define KMMU_TASK_SIZE_MAX       ((1ul << 47) - KMMU_PAGE_SIZE)

enum kmmu_mr_change {
	KMMU_MR_CREATE,
	KMMU_MR_DELETE,
	KMMU_MR_MOVE,
	KMMU_MR_FLAGS_ONLY,
};

/* struct interval_tree_node, instantiated with the kernel's template. */
struct kmmu_interval_tree_node {
	struct rb_node rb;
	unsigned long start;	/* first byte */
	unsigned long last;	/* last byte, inclusive */
	unsigned long __subtree_last;
};

/*
 * Mirrors struct kvm_memory_slot.  The field order differs: what a gfn
 * lookup reads at every tree level (the gfn node links, base_gfn, npages)
 * fills exactly the first cache line, and slots are cache-line aligned.
 */
struct kmmu_memory_slot {
	struct rb_node gfn_node[2];
	gfn_t base_gfn;
	unsigned long npages;
	struct kmmu_interval_tree_node hva_node[2];
	struct hlist_node id_node[2];
	unsigned long userspace_addr;
	void *arch;		/* owned by the MMU: rmaps, lpage info */
	uint32_t flags;
	short id;
	uint16_t as_id;
} __attribute__((aligned(64)));

/* Mirrors struct kvm_memslots: one of the two sets of one address space. */
struct kmmu_memslots {
	uint64_t generation;		/* read with kmmu_memslots_generation() */
	struct kmmu_memory_slot *last_used_slot;	/* atomic, see lookup */
	struct rb_root_cached hva_tree;
	struct rb_root gfn_tree;
	/* 7 bits, as in the kernel: sized for 512 slots, not for 32k. */
	DECLARE_HASHTABLE(id_hash, 7);
	int node_idx;
	unsigned int nr_slots;		/* not in the kernel; for tests/stats */
};

/*
 * The kvm_arch_*() hooks.  Any may be NULL (no-op).  @ctx is the pointer
 * given to kmmu_memslots_init().  All are called with slots_lock held.
 *
 * prepare:  kvm_arch_prepare_memory_region().  @old is NULL for CREATE,
 *           @new is NULL for DELETE.  May fail with -errno, which is then
 *           returned to the caller and the change is rolled back (for
 *           DELETE/MOVE the INVALID slot is swapped out again).  For
 *           CREATE/MOVE it allocates new->arch; for FLAGS_ONLY it must take
 *           over old->arch (x86 copies it).  On failure it frees what it
 *           allocated.
 * flush_slot: kvm_arch_flush_shadow_memslot(), called with the (valid) old
 *           slot after the INVALID copy became active and readers drained,
 *           for DELETE and MOVE.  Must zap every SPTE of the slot.
 * commit:   kvm_arch_commit_memory_region(), after the change is active in
 *           both sets.  @old is NULL for CREATE, @new NULL for DELETE.  As on
 *           x86 it must free old->arch on MOVE (new has its own).  After it
 *           returns, @old is freed (DELETE: via free_slot first).
 * free_slot: kvm_arch_free_memslot(): free slot->arch.  Called for DELETE
 *           and for every slot on destroy.
 * memslots_updated: kvm_arch_memslots_updated(): the new generation (no
 *           in-progress bit) of the address space that was just swapped;
 *           called before it is stored.  x86 zaps MMIO SPTEs on wrap.
 */
struct kmmu_memslot_ops {
	int  (*prepare)(void *ctx, const struct kmmu_memory_slot *old,
			struct kmmu_memory_slot *new, enum kmmu_mr_change change);
	void (*flush_slot)(void *ctx, struct kmmu_memory_slot *slot);
	void (*commit)(void *ctx, struct kmmu_memory_slot *old,
		       const struct kmmu_memory_slot *new,
		       enum kmmu_mr_change change);
	void (*free_slot)(void *ctx, struct kmmu_memory_slot *slot);
	void (*memslots_updated)(void *ctx, uint64_t gen);
};

/* Both sets of both address spaces, slots_lock, slots_arch_lock. Opaque. */
struct kmmu_vm_memslots;

/*
 * @max_slots: KVM_CAP_NR_MEMSLOTS, the bound on user slot ids
 * (0 means KMMU_USER_MEM_SLOTS, the x86 value; larger is -EINVAL).
 * -ENOMEM, -EINVAL.
 */
int kmmu_memslots_init(struct kmmu_vm_memslots **out,
		       const struct kmmu_memslot_ops *ops, void *ctx,
		       unsigned int max_slots);
/* Frees every slot (free_slot hook first).  No reader may be running. */
void kmmu_memslots_destroy(struct kmmu_vm_memslots *vm);
unsigned int kmmu_memslots_max_slots(struct kmmu_vm_memslots *vm);
/*
 * Whether one thread does everything with these memslots (a trace replay):
 * then no reader can be inside a read-side critical section while a swap
 * runs, so the grace period is over at once and swaps do not wait for it.
 * Off by default.
 */
void kmmu_memslots_set_single_thread(struct kmmu_vm_memslots *vm, bool single_thread);

/*
 * KVM_SET_USER_MEMORY_REGION: @slot is as_id << 16 | id.  memory_size 0
 * deletes.  Takes slots_lock; calls synchronize_rcu(), so the caller must
 * not be inside an RCU read-side critical section.  Returns 0 or the
 * kernel's -errno (-EINVAL, -EEXIST, -ENOMEM, or the prepare hook's).
 */
int kmmu_set_memory_region(struct kmmu_vm_memslots *vm, uint32_t slot,
			   uint32_t flags, uint64_t guest_phys_addr,
			   uint64_t memory_size, uint64_t userspace_addr);
/*
 * __kvm_set_memory_region() as used by x86's __x86_set_memory_region() for
 * the private slots: ids up to KMMU_MEM_SLOTS_NUM - 1 are allowed.
 */
int kmmu_set_memory_region_internal(struct kmmu_vm_memslots *vm, uint32_t slot,
				    uint32_t flags, uint64_t guest_phys_addr,
				    uint64_t memory_size, uint64_t userspace_addr);

/* kvm->slots_lock (held by kmmu_set_memory_region) and slots_arch_lock. */
void kmmu_memslots_lock(struct kmmu_vm_memslots *vm);
void kmmu_memslots_unlock(struct kmmu_vm_memslots *vm);
void kmmu_memslots_arch_lock(struct kmmu_vm_memslots *vm);
void kmmu_memslots_arch_unlock(struct kmmu_vm_memslots *vm);

/*
 * MMU notifier side of kvm_swap_active_memslots(): while an invalidation
 * is between begin and end (mn_active_invalidate_count != 0), a swap waits,
 * so invalidate_range_start/end see the same memslots.
 */
void kmmu_memslots_mn_invalidate_begin(struct kmmu_vm_memslots *vm);
void kmmu_memslots_mn_invalidate_end(struct kmmu_vm_memslots *vm);

/* kvm->nr_memslot_pages: pages across all slots of all address spaces. */
unsigned long kmmu_memslots_nr_pages(struct kmmu_vm_memslots *vm);

/*
 * Readers.  Call inside urcu_memb_read_lock() from a registered thread;
 * the set and the slots it returns stay valid until the read unlock.
 */
struct kmmu_memslots *kmmu_memslots_active(struct kmmu_vm_memslots *vm, int as_id);

/* Includes KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS while a swap is in flight. */
static inline uint64_t kmmu_memslots_generation(struct kmmu_memslots *slots)
{
	return __atomic_load_n(&slots->generation, __ATOMIC_ACQUIRE);
}

static inline bool kmmu_memslots_empty(struct kmmu_memslots *slots)
{
	return RB_EMPTY_ROOT(&slots->gfn_tree);
}

static inline bool kmmu_gfn_in_memslot(const struct kmmu_memory_slot *slot, gfn_t gfn)
{
	return gfn >= slot->base_gfn && gfn < slot->base_gfn + slot->npages;
}

/* kvm_is_visible_memslot(): a user slot that is not being deleted/moved. */
static inline bool kmmu_memslot_is_visible(const struct kmmu_memory_slot *slot)
{
	return slot && slot->id < KMMU_USER_MEM_SLOTS &&
	       !(slot->flags & KMMU_MEMSLOT_INVALID);
}

static inline unsigned long kmmu_gfn_to_hva_memslot(const struct kmmu_memory_slot *slot,
						    gfn_t gfn)
{
	return slot->userspace_addr + ((gfn - slot->base_gfn) << KMMU_PAGE_SHIFT);
}

static inline gfn_t kmmu_hva_to_gfn_memslot(unsigned long hva,
					    const struct kmmu_memory_slot *slot)
{
	return slot->base_gfn + ((hva - slot->userspace_addr) >> KMMU_PAGE_SHIFT);
}

/*
 * search_memslots(): the slot containing @gfn, or NULL.  With @approx a
 * slot bordering the hole is returned instead of NULL (unless empty).
 * The kernel's loop, plus a prefetch of both children.  For random gfns
 * the branch at each level is a coin toss; when it is mispredicted, the
 * right child's load would only issue after the pipeline refills, on top
 * of its cache miss.  Issued before the branch, the prefetches overlap
 * that refill with the miss: +15-20% random lookups at 4096 slots, where
 * the lower levels hit L2, +10-15% at 32764, a few % at 10 and 509.  A
 * branch-free descent was measured slower: it gives up the speculation
 * down the predicted child.
 */
static inline struct kmmu_memory_slot *
kmmu_search_memslots(struct kmmu_memslots *slots, gfn_t gfn, bool approx)
{
	struct kmmu_memory_slot *slot = NULL;
	struct rb_node *node;
	int idx = slots->node_idx;

	for (node = slots->gfn_tree.rb_node; node; ) {
		slot = container_of(node, struct kmmu_memory_slot, gfn_node[idx]);
		/* A hint only: prefetching NULL is harmless and never faults. */
		__builtin_prefetch(node->rb_left);
		__builtin_prefetch(node->rb_right);
		if (gfn >= slot->base_gfn) {
			if (gfn < slot->base_gfn + slot->npages)
				return slot;
			node = node->rb_right;
		} else {
			node = node->rb_left;
		}
	}
	return approx ? slot : NULL;
}

/*
 * __gfn_to_memslot(): try last_used_slot, then the tree; a hit becomes the
 * new last_used_slot.  Concurrent readers race on last_used_slot benignly
 * (any slot of this set is a valid hint), hence relaxed atomics.
 */
static inline struct kmmu_memory_slot *
kmmu_gfn_to_memslot(struct kmmu_memslots *slots, gfn_t gfn)
{
	struct kmmu_memory_slot *slot;

	slot = __atomic_load_n(&slots->last_used_slot, __ATOMIC_RELAXED);
	if (slot && kmmu_gfn_in_memslot(slot, gfn))
		return slot;

	slot = kmmu_search_memslots(slots, gfn, false);
	if (slot)
		__atomic_store_n(&slots->last_used_slot, slot, __ATOMIC_RELAXED);
	return slot;
}

/* The cached hint (tests check its invalidation); may be NULL. */
static inline struct kmmu_memory_slot *
kmmu_memslots_last_used(struct kmmu_memslots *slots)
{
	return __atomic_load_n(&slots->last_used_slot, __ATOMIC_RELAXED);
}

/* id_to_memslot(): @id is the 16-bit id (not as_id << 16 | id). */
struct kmmu_memory_slot *kmmu_id_to_memslot(struct kmmu_memslots *slots, int id);

/*
 * All slots of a set in gfn order.
 *
 * The iterators below evaluate @slots once, as the kernel's callers read
 * __kvm_memslots() once into a local: an updater publishes the other set
 * without any lock a reader holds (synchronize_rcu() only waits for the
 * reader afterwards), and a walk that reads the active set at each step
 * can start in one set and continue in the other, through the stale links
 * of a slot that set no longer holds, visiting slots twice or skipping
 * some.  A break leaves the walk as usual.
 */
struct kmmu_memory_slot *kmmu_memslot_first(struct kmmu_memslots *slots);
struct kmmu_memory_slot *kmmu_memslot_next(struct kmmu_memslots *slots,
					   struct kmmu_memory_slot *slot);
#define kmmu_for_each_memslot(slot, slots)				\
	for (struct kmmu_memslots *__kmmu_set = (slots); __kmmu_set;	\
	     __kmmu_set = NULL)						\
		for ((slot) = kmmu_memslot_first(__kmmu_set); (slot);	\
		     (slot) = kmmu_memslot_next(__kmmu_set, slot))

/*
 * Slots overlapping the gfn range [start, end), in gfn order
 * (kvm_for_each_memslot_in_gfn_range).
 */
struct kmmu_memory_slot *kmmu_memslot_gfn_first(struct kmmu_memslots *slots,
						gfn_t start, gfn_t end);
struct kmmu_memory_slot *kmmu_memslot_gfn_next(struct kmmu_memslots *slots,
					       struct kmmu_memory_slot *slot,
					       gfn_t end);
#define kmmu_for_each_memslot_in_gfn_range(slot, slots, start, end)	\
	for (struct kmmu_memslots *__kmmu_set = (slots); __kmmu_set;	\
	     __kmmu_set = NULL)						\
		for ((slot) = kmmu_memslot_gfn_first(__kmmu_set, start, end); \
		     (slot); (slot) = kmmu_memslot_gfn_next(__kmmu_set, slot, end))

/*
 * Slots whose host virtual range overlaps [start, end) (end exclusive),
 * in interval-tree order (by userspace_addr) as
 * kvm_for_each_memslot_in_hva_range(node, slots, start, end - 1) walks them
 * in kvm_handle_hva_range().  An empty range (end <= start) yields nothing.
 */
struct kmmu_memory_slot *kmmu_memslot_hva_first(struct kmmu_memslots *slots,
						unsigned long start,
						unsigned long end);
struct kmmu_memory_slot *kmmu_memslot_hva_next(struct kmmu_memslots *slots,
					       struct kmmu_memory_slot *slot,
					       unsigned long start,
					       unsigned long end);
#define kmmu_for_each_memslot_in_hva_range(slot, slots, start, end)	\
	for (struct kmmu_memslots *__kmmu_set = (slots); __kmmu_set;	\
	     __kmmu_set = NULL)						\
		for ((slot) = kmmu_memslot_hva_first(__kmmu_set, start, end); \
		     (slot);						\
		     (slot) = kmmu_memslot_hva_next(__kmmu_set, slot, start, end))

#endif /* KMMU_MEMSLOT_H */
