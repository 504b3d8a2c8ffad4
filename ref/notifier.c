// SPDX-License-Identifier: GPL-2.0
/*
 * MMU notifier invalidation and unmap of hva ranges (see kmmu/notifier.h).
 */
#include <errno.h>

#include "kmmu/notifier.h"
#include "kmmu/zap.h"

unsigned long kmmu_mmu_invalidate_seq(struct kmmu_ref_vm *vm)
{
	/* Acquire: pairs with the release store of in_progress in end. */
	return __atomic_load_n(&vm->mmu_invalidate_seq, __ATOMIC_ACQUIRE);
}

bool kmmu_mmu_invalidate_retry_gfn(struct kmmu_ref_vm *vm, unsigned long mmu_seq, gfn_t gfn)
{
	if (vm->mmu_invalidate_in_progress) {
		/* In progress without a range would be a bug: retry anyway. */
		if (vm->mmu_invalidate_range_start == KMMU_INVALID_GFN)
			return true;
		if (gfn >= vm->mmu_invalidate_range_start && gfn < vm->mmu_invalidate_range_end)
			return true;
	}
	return vm->mmu_invalidate_seq != mmu_seq;
}

int kmmu_handle_hva_range(struct kmmu_ref_vm *vm, unsigned long hva_start,
			  unsigned long hva_end, void (*on_lock)(struct kmmu_ref_vm *vm),
			  kmmu_gfn_range_fn handler, void *data, bool lockless)
{
	struct kmmu_memory_slot *slot;
	bool locked = false;
	int as, r, ret = 0;

	if (!vm || !handler || hva_end <= hva_start)
		return -EINVAL;
	urcu_memb_read_lock();
	for (as = 0; as < KMMU_ADDRESS_SPACE_NUM && ret >= 0; as++) {
		struct kmmu_memslots *slots = kmmu_memslots_active(vm->memslots, as);

		kmmu_for_each_memslot_in_hva_range(slot, slots, hva_start, hva_end) {
			unsigned long s = hva_start, e = hva_end;
			unsigned long ua_end = slot->userspace_addr +
					       (slot->npages << KMMU_PAGE_SHIFT);

			if (s < slot->userspace_addr)
				s = slot->userspace_addr;
			if (e > ua_end)
				e = ua_end;
			if (!locked && !lockless) {
				locked = true;
				kmmu_mmu_lock(vm);
				if (on_lock)
					on_lock(vm);
			}
			/* hva_to_gfn_memslot(end + PAGE_SIZE - 1): partial pages count. */
			r = handler(vm, slot, kmmu_hva_to_gfn_memslot(s, slot),
				    kmmu_hva_to_gfn_memslot(e + KMMU_PAGE_SIZE - 1, slot), data);
			if (r < 0) {
				ret = r;
				break;
			}
			ret += r;
		}
	}
	if (locked)
		kmmu_mmu_unlock(vm);
	urcu_memb_read_unlock();
	return ret;
}

int kmmu_unmap_gfn_range(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot, gfn_t start,
			 gfn_t end)
{
	struct kmmu_slot_rmap_walk w;
	int n = 0;

	if (!slot->arch || end <= start)
		return 0;
	kmmu_for_each_slot_rmap_range(slot, start, end, &w) {
		n += kmmu_pte_list_count(w.head);
		/* kvm_zap_rmap() */
		kmmu_zap_all_rmap_sptes(vm, w.head, w.level);
	}
	return n;
}

/* kvm_mmu_invalidate_begin() */
static void invalidate_begin(struct kmmu_ref_vm *vm)
{
	vm->mmu_invalidate_in_progress++;
	if (vm->mmu_invalidate_in_progress == 1) {
		vm->mmu_invalidate_range_start = KMMU_INVALID_GFN;
		vm->mmu_invalidate_range_end = KMMU_INVALID_GFN;
	}
}

/* kvm_mmu_invalidate_range_add() */
static void invalidate_range_add(struct kmmu_ref_vm *vm, gfn_t start, gfn_t end)
{
	if (vm->mmu_invalidate_range_start == KMMU_INVALID_GFN) {
		vm->mmu_invalidate_range_start = start;
		vm->mmu_invalidate_range_end = end;
	} else {
		if (start < vm->mmu_invalidate_range_start)
			vm->mmu_invalidate_range_start = start;
		if (end > vm->mmu_invalidate_range_end)
			vm->mmu_invalidate_range_end = end;
	}
}

/* kvm_mmu_invalidate_range_add() + kvm_mmu_unmap_gfn_range() */
static int invalidate_handler(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot,
			      gfn_t start, gfn_t end, void *data)
{
	invalidate_range_add(vm, start, end);
	kmmu_unmap_gfn_range(vm, slot, start, end);
	return 0;
}

/* kvm_mmu_invalidate_end() */
static void invalidate_end(struct kmmu_ref_vm *vm)
{
	/*
	 * The sequence first: a fault that sampled the old sequence and then
	 * saw in_progress drop must find the sequence changed.  The release
	 * stores order the two for faults that sample without mmu_lock.
	 */
	__atomic_store_n(&vm->mmu_invalidate_seq, vm->mmu_invalidate_seq + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&vm->mmu_invalidate_in_progress, vm->mmu_invalidate_in_progress - 1,
			 __ATOMIC_RELEASE);
	if (vm->mmu_invalidate_in_progress < 0)
		kmmu_ref_vm_bug(vm, -EIO);
}

static int nop_handler(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot,
		       gfn_t start, gfn_t end, void *data)
{
	return 0;
}

static bool range_ok(unsigned long start, unsigned long end)
{
	return start < end && !(start & (KMMU_PAGE_SIZE - 1)) && !(end & (KMMU_PAGE_SIZE - 1));
}

int kmmu_mmu_notifier_invalidate_range_start(struct kmmu_ref_vm *vm, unsigned long start,
					     unsigned long end)
{
	int r;

	if (!vm || !range_ok(start, end))
		return -EINVAL;
	kmmu_memslots_mn_invalidate_begin(vm->memslots);
	r = kmmu_handle_hva_range(vm, start, end, invalidate_begin, invalidate_handler, NULL,
				  false);
	return r < 0 ? r : 0;
}

int kmmu_mmu_notifier_invalidate_range_end(struct kmmu_ref_vm *vm, unsigned long start,
					   unsigned long end)
{
	int r;

	if (!vm || !range_ok(start, end))
		return -EINVAL;
	r = kmmu_handle_hva_range(vm, start, end, invalidate_end, nop_handler, NULL, false);
	kmmu_memslots_mn_invalidate_end(vm->memslots);
	return r < 0 ? r : 0;
}

static int count_handler(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot,
			 gfn_t start, gfn_t end, void *data)
{
	struct kmmu_slot_rmap_walk w;
	struct kmmu_rmap_iterator it;
	long *n = data;
	uint64_t *sptep;

	if (!slot->arch)
		return 0;
	kmmu_for_each_slot_rmap_range(slot, start, end, &w)
		kmmu_for_each_rmap_spte(w.head, &it, sptep)
			(*n)++;
	return 0;
}

long kmmu_mmu_hva_range_mapped(struct kmmu_ref_vm *vm, unsigned long start, unsigned long end)
{
	long n = 0;
	int r;

	r = kmmu_handle_hva_range(vm, start, end, NULL, count_handler, &n, false);
	return r < 0 ? r : n;
}

int kmmu_mmu_zap_gfn_range(struct kmmu_ref_vm *vm, gfn_t start, gfn_t end)
{
	struct kmmu_memory_slot *slot;
	int as, n = 0;

	if (!vm || end <= start)
		return -EINVAL;
	/* The caller's SRCU in the kernel: the slots stay while we walk them. */
	urcu_memb_read_lock();
	kmmu_mmu_lock(vm);
	/*
	 * Under mmu_lock throughout, so no fault sees the range in progress;
	 * what matters is the sequence bump at the end: a fault that resolved
	 * its page before the zap and takes mmu_lock after it must retry.
	 */
	invalidate_begin(vm);
	invalidate_range_add(vm, start, end);
	for (as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++) {
		kmmu_for_each_memslot_in_gfn_range(slot, kmmu_memslots_active(vm->memslots, as),
						   start, end) {
			gfn_t s = start > slot->base_gfn ? start : slot->base_gfn;
			gfn_t e = end < slot->base_gfn + slot->npages ? end :
				  slot->base_gfn + slot->npages;

			n += kmmu_unmap_gfn_range(vm, slot, s, e);
		}
	}
	invalidate_end(vm);
	kmmu_mmu_unlock(vm);
	urcu_memb_read_unlock();
	return n;
}

struct pfn_walk {
	kmmu_hva_pfn_fn fn;
	void *ctx;
	long n;
};

static int pfn_walk_handler(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot,
			    gfn_t start, gfn_t end, void *data)
{
	struct kmmu_slot_rmap_walk rw;
	struct pfn_walk *w = data;
	struct kmmu_rmap_iterator it;
	uint64_t *sptep;
	int level, r;

	if (!slot->arch)
		return 0;
	kmmu_for_each_slot_rmap_range(slot, start, end, &rw) {
		level = rw.level;
		kmmu_for_each_rmap_spte(rw.head, &it, sptep) {
			uint64_t spte = kmmu_spte_read(sptep);
			gfn_t g, lo, hi, base;

			if (!kmmu_is_shadow_present_pte(spte) ||
			    !kmmu_is_last_spte(spte, level))
				continue;
			base = kmmu_sp_get_gfn(kmmu_sptep_to_sp(sptep),
					       kmmu_spte_index(sptep));
			/*
			 * The pages of the leaf in [@start, @end): the
			 * range lies in the slot and in the hva range.
			 */
			lo = base > start ? base : start;
			hi = base + KMMU_PAGES_PER_HPAGE(level);
			if (hi > end)
				hi = end;
			for (g = lo; g < hi; g++) {
				w->n++;
				r = w->fn(w->ctx, kmmu_gfn_to_hva_memslot(slot, g),
					  kmmu_spte_to_pfn(spte) + (g - base), level);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

long kmmu_mmu_hva_range_for_each_pfn(struct kmmu_ref_vm *vm, unsigned long start,
				     unsigned long end, kmmu_hva_pfn_fn fn, void *ctx)
{
	struct pfn_walk w = { .fn = fn, .ctx = ctx };
	int r;

	if (!fn)
		return -EINVAL;
	r = kmmu_handle_hva_range(vm, start, end, NULL, pfn_walk_handler, &w, false);
	return r < 0 ? r : w.n;
}
