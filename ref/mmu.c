// SPDX-License-Identifier: GPL-2.0
/*
 * The direct fault path of the reference MMU (arch/x86/kvm/mmu/mmu.c
 * semantics, shadow MMU with tdp_mmu=N): kvm_mmu_page_fault() under
 * mmu_lock, with its MMIO SPTE and in-place write-protection fixes, and
 * the lockless fast_page_fault().  The tables it builds are mmu_page.c's;
 * the VM and its memslot hooks are mmu_vm.c's.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "kmmu/mmu.h"
#include "kmmu/notifier.h"
#include "kmmu/zap.h"
#include "mmu_internal.h"

static const char *const fault_result_names[KMMU_FAULT_NR] = {
	[KMMU_FAULT_MAPPED_4K] = "mapped_4k",
	[KMMU_FAULT_MAPPED_2M] = "mapped_2m",
	[KMMU_FAULT_FIXED] = "fixed",
	[KMMU_FAULT_SPURIOUS] = "spurious",
	[KMMU_FAULT_MMIO_SPTE] = "mmio_spte",
	[KMMU_FAULT_MMIO_CACHED] = "mmio_cached",
	[KMMU_FAULT_EMULATE] = "emulate",
	[KMMU_FAULT_RO_EMULATE] = "ro_emulate",
	[KMMU_FAULT_RETRY] = "retry",
};

/*
 * The fault's outcome: @result at the SPTE @sptep of @level, as it is now.
 * Returns 0 for the fault path's "return".
 */
static int fault_found(struct kmmu_fault *out, int result, int level, uint64_t *sptep)
{
	out->result = result;
	out->level = level;
	out->sptep = sptep;
	out->spte = kmmu_spte_read(sptep);
	return 0;
}

const char *kmmu_fault_result_name(enum kmmu_fault_result r)
{
	if ((unsigned int)r >= KMMU_FAULT_NR)
		return "invalid";
	return fault_result_names[r];
}

int kmmu_fault_max_level(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot, gfn_t gfn)
{
	int level = kmmu_max_mapping_level(vm, slot, gfn);

	/* Dirty logging tracks 4K pages only. */
	if (level > KMMU_PG_LEVEL_4K && (slot->flags & KMMU_MEM_LOG_DIRTY_PAGES))
		return KMMU_PG_LEVEL_4K;
	return level;
}

/* kvm_mmu_hugepage_adjust(): the level the fault will map at. */
static int fault_goal_level(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot, gfn_t gfn)
{
	if (!slot)
		return KMMU_PG_LEVEL_4K;
	return kmmu_fault_max_level(vm, slot, gfn);
}

static void mark_page_dirty_in_slot(const struct kmmu_memory_slot *slot)
{
	struct kmmu_slot_arch *arch = slot->arch;

	/* Atomic: the lockless fast path marks pages dirty too. */
	if (slot->flags & KMMU_MEM_LOG_DIRTY_PAGES)
		__atomic_add_fetch(&arch->nr_dirty, 1, __ATOMIC_RELAXED);
}

/*
 * mmu_set_spte() for a slot-backed leaf.  Returns the fault result or
 * -errno.
 */
static int mmu_set_spte(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot, uint64_t *sptep,
			gfn_t gfn, uint64_t pfn, int level)
{
	bool was_rmapped = false;
	uint64_t spte;
	int r;

	if (kmmu_is_shadow_present_pte(kmmu_spte_read(sptep))) {
		if (level > KMMU_PG_LEVEL_4K && !kmmu_is_large_pte(kmmu_spte_read(sptep))) {
			/* A 2M leaf replaces a table: the table becomes parentless. */
			kmmu_unlink_child(vm, sptep);
		} else if (pfn != kmmu_spte_to_pfn(kmmu_spte_read(sptep))) {
			kmmu_drop_spte(vm, sptep);
		} else {
			was_rmapped = true;
		}
	}

	r = kmmu_make_spte(level, KMMU_ACC_ALL, pfn, !(slot->flags & KMMU_MEM_READONLY), &spte);
	if (r)
		return r;
	if (kmmu_spte_read(sptep) == spte) {
		r = KMMU_FAULT_SPURIOUS;
	} else {
		uint64_t old = kmmu_spte_read(sptep);

		if (kmmu_is_mmio_spte(old)) {
			vm->stat.mmio_sptes--;
			kmmu_sptep_to_sp(sptep)->nr_present--;
		}
		if (!kmmu_is_shadow_present_pte(old))
			kmmu_sptep_to_sp(sptep)->nr_present++;
		/* mmu_spte_update(): the hardware may have set A/D meanwhile. */
		old = kmmu_spte_xchg(sptep, spte);
		if (was_rmapped)
			kmmu_ad_report(vm, old, level, false);
		kmmu_ad_report(vm, spte, level, true);
		r = level == KMMU_PG_LEVEL_4K ? KMMU_FAULT_MAPPED_4K : KMMU_FAULT_MAPPED_2M;
	}
	if (spte & KMMU_PT_WRITABLE_MASK)
		mark_page_dirty_in_slot(slot);
	kmmu_set_spte_event(vm, sptep, gfn, level);
	if (!was_rmapped)
		kmmu_rmap_add(vm, slot, sptep, gfn, level);
	return r;
}

/*
 * direct_map(): walk from the root to @goal, creating tables and dropping
 * huge SPTEs in the way; returns the SPTE pointer at @goal.
 */
static uint64_t *direct_map_walk(struct kmmu_ref_vm *vm, struct kmmu_mmu_page *root, gfn_t gfn,
				 int goal)
{
	struct kmmu_mmu_page *sp = root, *child;
	union kmmu_mmu_page_role role;
	uint64_t *sptep;
	int level;

	for (level = KMMU_ROOT_LEVEL; level > goal; level--) {
		sptep = &sp->spt[kmmu_pt_index(gfn, level)];
		if (kmmu_is_shadow_present_pte(kmmu_spte_read(sptep)) &&
		    !kmmu_is_large_pte(kmmu_spte_read(sptep))) {
			sp = kmmu_spte_to_child_sp(kmmu_spte_read(sptep));
			continue;
		}
		/* drop_large_spte(): a huge leaf where a table is needed. */
		if (kmmu_is_shadow_present_pte(kmmu_spte_read(sptep)) || kmmu_is_mmio_spte(kmmu_spte_read(sptep)))
			kmmu_drop_spte(vm, sptep);

		role = sp->role;
		role.level = level - 1;
		child = kmmu_get_shadow_page(vm, gfn & ~(KMMU_PAGES_PER_HPAGE(level) - 1), role);
		if (!child)
			return NULL;
		/* link_shadow_page() */
		if (child->parent_ptep) {
			kmmu_ref_vm_bug(vm, -EIO);
			return NULL;
		}
		/* Release: a lockless walker that sees the link sees the table. */
		kmmu_spte_write(sptep, kmmu_make_nonleaf_spte((uintptr_t)child->spt));
		sp->nr_present++;
		child->parent_ptep = sptep;
		sp = child;
	}
	return &sp->spt[kmmu_pt_index(gfn, goal)];
}

static void fast_pf_event(struct kmmu_ref_vm *vm, gfn_t gfn, uint32_t ec, uint64_t *sptep,
			  uint64_t old, int ret)
{
	struct kmmu_mmu_event ev = { .type = KMMU_MMU_EV_FAST_PAGE_FAULT };

	if (!vm->event_fn)
		return;
	ev.fast_pf.gpa = gfn << KMMU_PAGE_SHIFT;
	ev.fast_pf.error_code = ec;
	ev.fast_pf.sptep = (uintptr_t)sptep;
	ev.fast_pf.old_spte = old;
	ev.fast_pf.new_spte = kmmu_spte_read(sptep);
	ev.fast_pf.ret = ret;
	kmmu_mmu_emit(vm, &ev);
}

static bool access_allowed(uint64_t spte, uint32_t ec)
{
	if ((ec & KMMU_PFERR_WRITE_MASK) && !kmmu_is_writable_pte(spte))
		return false;
	if ((ec & KMMU_PFERR_USER_MASK) && !(spte & KMMU_PT_USER_MASK))
		return false;
	if ((ec & KMMU_PFERR_FETCH_MASK) && (spte & KMMU_PT64_NX_MASK))
		return false;
	return true;
}

/* vcpu_cache_mmio_info(): never while an update is in progress. */
static void vcpu_cache_mmio_info(struct kmmu_ref_vcpu *vcpu, gfn_t gfn, unsigned int access,
				 uint64_t gen)
{
	if (gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
		return;
	vcpu->mmio_access = access;
	vcpu->mmio_gfn = gfn;
	vcpu->mmio_gen = gen;
}

/* What __kvm_faultin_pfn() found behind the faulting gfn, before mmu_lock. */
struct host_page {
	unsigned long hva;	/* 0: no usable slot, nothing resolved */
	uint64_t pfn;		/* the frame of the faulting 4K page */
	int level;		/* host_pfn_mapping_level() */
	int err;
};

/*
 * __kvm_faultin_pfn(): after mmu_invalidate_seq was sampled and before
 * mmu_lock, the host frame behind @gfn.  The host may change it right
 * after we look; is_page_fault_stale() under mmu_lock is what catches it.
 */
static void faultin_pfn(struct kmmu_ref_vm *vm, int as_id, gfn_t gfn, struct host_page *hp)
{
	struct kmmu_memory_slot *slot;

	slot = kmmu_gfn_to_memslot(kmmu_memslots_active(vm->memslots, as_id), gfn);
	if (!slot || (slot->flags & KMMU_MEMSLOT_INVALID))
		return;
	hp->hva = kmmu_gfn_to_hva_memslot(slot, gfn);
	if (vm->hva_to_pfn_fn) {
		hp->level = KMMU_PG_LEVEL_4K;
		hp->err = vm->hva_to_pfn_fn(vm->hva_to_pfn_ctx, hp->hva, &hp->pfn, &hp->level);
		if (!hp->err &&
		    (hp->level < KMMU_PG_LEVEL_4K || hp->level > KMMU_MAX_HUGEPAGE_LEVEL))
			hp->err = -EINVAL;
		return;
	}
	hp->pfn = hp->hva >> KMMU_PAGE_SHIFT;
	hp->level = vm->cfg.host_huge_pages ? KMMU_MAX_HUGEPAGE_LEVEL : KMMU_PG_LEVEL_4K;
}

static int page_fault_locked(struct kmmu_ref_vm *vm, struct kmmu_ref_vcpu *vcpu, int as_id,
			     gfn_t gfn, uint32_t ec, unsigned long mmu_seq,
			     const struct host_page *hp, struct kmmu_fault *out)
{
	const struct kmmu_mmio_gen_layout *gl = vm->gen_layout;
	struct kmmu_memory_slot *slot;
	struct kmmu_memslots *slots;
	uint64_t gen, *sptep, pfn;
	bool write = ec & KMMU_PFERR_WRITE_MASK;
	int r, level, goal;

	r = kmmu_mmu_reload(vm, vcpu, as_id);
	if (r)
		return r;
	slots = kmmu_memslots_active(vm->memslots, as_id);
	gen = kmmu_memslots_generation(slots);
	out->in_progress = gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS;

	sptep = kmmu_walk_last_spte(vcpu->root[as_id], gfn, &level);
	if (kmmu_is_mmio_spte(kmmu_spte_read(sptep))) {
		/* The hardware reports PFERR.RSVD: handle_mmio_page_fault(). */
		uint64_t kg, sg;
		bool ok;

		/* mmio_info_in_cache(): vcpu_match_mmio_gpa() for direct faults. */
		if (vcpu->mmio_gen == gen && vcpu->mmio_gfn && vcpu->mmio_gfn == gfn) {
			out->mmio_info_cached = true;
			return fault_found(out, KMMU_FAULT_MMIO_CACHED, level, sptep);
		}
		ok = kmmu_check_mmio_spte(gl, *sptep, gen, &kg, &sg);
		/* check_mmio_spte() returns before its tracepoint when in flux. */
		if (vm->event_fn && !(gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS)) {
			struct kmmu_mmu_event ev = { .type = KMMU_MMU_EV_CHECK_MMIO_SPTE };

			ev.check_mmio.kvm_gen = kg;
			ev.check_mmio.spte_gen = sg;
			ev.check_mmio.spte = kmmu_spte_read(sptep);
			kmmu_mmu_emit(vm, &ev);
		}
		if (ok) {
			if (vm->event_fn) {
				struct kmmu_mmu_event ev = {
					.type = KMMU_MMU_EV_HANDLE_MMIO_PAGE_FAULT
				};

				ev.handle_mmio.addr = gfn << KMMU_PAGE_SHIFT;
				ev.handle_mmio.gfn = kmmu_get_mmio_spte_gfn(gl, kmmu_spte_read(sptep));
				ev.handle_mmio.access = kmmu_get_mmio_spte_access(kmmu_spte_read(sptep));
				kmmu_mmu_emit(vm, &ev);
			}
			vcpu_cache_mmio_info(vcpu, kmmu_get_mmio_spte_gfn(gl, kmmu_spte_read(sptep)),
					     kmmu_get_mmio_spte_access(kmmu_spte_read(sptep)), gen);
			return fault_found(out, KMMU_FAULT_MMIO_CACHED, level, sptep);
		}
		/* Stale or in flux: RET_PF_INVALID, take the normal path. */
		out->stale_mmio = true;
	} else if (kmmu_is_shadow_present_pte(kmmu_spte_read(sptep)) &&
		   kmmu_is_last_spte(kmmu_spte_read(sptep), level)) {
		/* The hardware only faults on a present leaf if access is denied. */
		if (access_allowed(kmmu_spte_read(sptep), ec)) {
			return fault_found(out, KMMU_FAULT_SPURIOUS, level, sptep);
		}
		/*
		 * fast_page_fault(): a write to an SPTE write-protected for
		 * dirty logging is fixed in place, except on a huge SPTE of a
		 * dirty-logged slot (only its first 4K would be logged).
		 */
		if (write && kmmu_is_mmu_writable_spte(kmmu_spte_read(sptep))) {
			struct kmmu_mmu_page *sp = kmmu_sptep_to_sp(sptep);
			gfn_t base = kmmu_sp_get_gfn(sp, kmmu_spte_index(sptep));

			slot = kmmu_gfn_to_memslot(slots, gfn);
			if (!(level > KMMU_PG_LEVEL_4K && slot &&
			      (slot->flags & KMMU_MEM_LOG_DIRTY_PAGES))) {
				uint64_t old = kmmu_spte_read(sptep);

				/* A cmpxchg, as fast_pf_fix_direct_spte(): A/D may change. */
				while (!kmmu_spte_try_cmpxchg(sptep, &old,
							      old | KMMU_PT_WRITABLE_MASK))
					;
				slot = kmmu_gfn_to_memslot(slots, base);
				if (slot)
					mark_page_dirty_in_slot(slot);
				fast_pf_event(vm, gfn, ec | KMMU_PFERR_PRESENT_MASK, sptep, old,
					      KMMU_FAULT_FIXED);
				return fault_found(out, KMMU_FAULT_FIXED, level, sptep);
			}
		}
	}

	/* kvm_faultin_pfn(): the slot checks (the frame was resolved before mmu_lock). */
	slot = kmmu_gfn_to_memslot(slots, gfn);
	if (slot && (slot->flags & KMMU_MEMSLOT_INVALID)) {
		/* Let the zap of the old slot finish before mapping anything. */
		out->result = KMMU_FAULT_RETRY;
		return 0;
	}
	if (!slot) {
		vcpu_cache_mmio_info(vcpu, gfn, KMMU_ACC_ALL & KMMU_SHADOW_MMIO_ACCESS_MASK, gen);
		if (!vm->cfg.mmio_caching || gfn > kmmu_mmu_max_gfn(vm)) {
			out->result = KMMU_FAULT_EMULATE;
			return 0;
		}
		sptep = direct_map_walk(vm, vcpu->root[as_id], gfn, KMMU_PG_LEVEL_4K);
		if (!sptep)
			return vm->bug ? vm->bug : -ENOMEM;
		r = kmmu_mark_mmio_spte(vm, sptep, gfn, KMMU_ACC_ALL, gen);
		if (r)
			return r;
		return fault_found(out, KMMU_FAULT_MMIO_SPTE, KMMU_PG_LEVEL_4K, sptep);
	}
	if (write && (slot->flags & KMMU_MEM_READONLY)) {
		/* KVM_PFN_ERR_RO_FAULT: emulate, i.e. exit to userspace as MMIO. */
		out->result = KMMU_FAULT_RO_EMULATE;
		return 0;
	}

	/*
	 * The kernel resolves the frame through the slot it looked up before
	 * mmu_lock; here the slot is looked up again under the lock, and a
	 * memslot update in between may have given the gfn another hva (or
	 * none): the frame resolved is not this hva's, so fault again.
	 */
	if (hp->hva != kmmu_gfn_to_hva_memslot(slot, gfn)) {
		out->result = KMMU_FAULT_RETRY;
		return 0;
	}
	if (hp->err)
		return hp->err;
	/*
	 * is_page_fault_stale(): an invalidation of this gfn started or
	 * finished since the fault began.  The host mapping the fault
	 * resolved may be gone; retry rather than install a stale SPTE.
	 */
#ifndef KMMU_MUTATE_NO_FAULT_RETRY
	if (kmmu_mmu_invalidate_retry_gfn(vm, mmu_seq, gfn)) {
		out->result = KMMU_FAULT_RETRY;
		return 0;
	}
#endif
	goal = fault_goal_level(vm, slot, gfn);
	if (goal < 0)
		return goal;
	/* kvm_mmu_hugepage_adjust(): never larger than the host's mapping. */
	if (goal > hp->level)
		goal = hp->level;
	/*
	 * A huge SPTE would also map gfns being invalidated next to this
	 * one.  The kernel learns that from the host page tables (the host
	 * splits its huge page first); the model has no host page tables,
	 * so it maps 4K instead.
	 */
	if (goal > KMMU_PG_LEVEL_4K && vm->mmu_invalidate_in_progress) {
		gfn_t base = gfn & ~(KMMU_PAGES_PER_HPAGE(goal) - 1);

		if (vm->mmu_invalidate_range_start == KMMU_INVALID_GFN ||
		    (vm->mmu_invalidate_range_start < base + KMMU_PAGES_PER_HPAGE(goal) &&
		     vm->mmu_invalidate_range_end > base))
			goal = KMMU_PG_LEVEL_4K;
	}
	sptep = direct_map_walk(vm, vcpu->root[as_id], gfn, goal);
	if (!sptep)
		return vm->bug ? vm->bug : -ENOMEM;
	/* fault->pfn &= ~(KVM_PAGES_PER_HPAGE(level) - 1): the host's huge page. */
	gfn &= ~(KMMU_PAGES_PER_HPAGE(goal) - 1);
	pfn = hp->pfn & ~(uint64_t)(KMMU_PAGES_PER_HPAGE(goal) - 1);
	r = mmu_set_spte(vm, slot, sptep, gfn, pfn, goal);
	if (r < 0)
		return r;
	return fault_found(out, r, goal, sptep);
}

int kmmu_fast_page_fault(struct kmmu_ref_vm *vm, unsigned int vcpu, int as_id, gfn_t gfn,
			 uint32_t error_code, struct kmmu_fault *out)
{
	bool write = error_code & KMMU_PFERR_WRITE_MASK;
	struct kmmu_memory_slot *slot;
	uint64_t *sptep, spte;
	int level, r = -EAGAIN;
	gfn_t base;

	if (!vm || !out || vcpu >= vm->cfg.nr_vcpus || as_id < 0 ||
	    as_id >= KMMU_ADDRESS_SPACE_NUM || (error_code & ~KMMU_PFERR_VALID_MASK) ||
	    gfn > (KMMU_SPTE_BASE_ADDR_MASK >> KMMU_PAGE_SHIFT))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	/* walk_shadow_page_lockless_begin(): the tables stay until the unlock. */
	urcu_memb_read_lock();
	sptep = kmmu_walk_lockless(vm, vcpu, as_id, gfn, &level);
	if (!sptep)
		goto out;
	spte = kmmu_spte_read(sptep);
	for (;;) {
		if (!kmmu_is_shadow_present_pte(spte) || !kmmu_is_last_spte(spte, level))
			break;
		if (access_allowed(spte, error_code)) {
			/* Another vCPU fixed it meanwhile (RET_PF_SPURIOUS). */
			out->result = KMMU_FAULT_SPURIOUS;
			r = 0;
			break;
		}
		if (!write || !kmmu_is_mmu_writable_spte(spte) ||
		    !access_allowed(spte | KMMU_PT_WRITABLE_MASK, error_code))
			break;
		/*
		 * From the walk, not from the shadow page: its role word is
		 * written under mmu_lock (role.invalid) while we read.
		 */
		base = gfn & ~(KMMU_PAGES_PER_HPAGE(level) - 1);
		slot = kmmu_gfn_to_memslot(kmmu_memslots_active(vm->memslots, as_id), base);
		/* Only the first 4K of a huge page would be logged: slow path. */
		if (!slot || (level > KMMU_PG_LEVEL_4K &&
			      (slot->flags & KMMU_MEM_LOG_DIRTY_PAGES)))
			break;
		/*
		 * fast_pf_fix_direct_spte(): the cmpxchg fails if the SPTE was
		 * zapped, rewritten or had A/D set since we read it; decide again.
		 */
		if (kmmu_spte_try_cmpxchg(sptep, &spte, spte | KMMU_PT_WRITABLE_MASK)) {
			mark_page_dirty_in_slot(slot);
			spte |= KMMU_PT_WRITABLE_MASK;
			out->result = KMMU_FAULT_FIXED;
			r = 0;
			break;
		}
	}
	if (!r) {
		out->level = level;
		out->sptep = sptep;
		out->spte = spte;
	}
out:
	urcu_memb_read_unlock();
	return r;
}

int kmmu_page_fault(struct kmmu_ref_vm *vm, unsigned int vcpu, int as_id, gfn_t gfn,
		    uint32_t error_code, struct kmmu_fault *out)
{
	struct kmmu_fault f = { .result = KMMU_FAULT_NR };
	struct host_page hp = { 0 };
	unsigned long mmu_seq;
	int r;

	if (!vm || !out || vcpu >= vm->cfg.nr_vcpus || as_id < 0 ||
	    as_id >= KMMU_ADDRESS_SPACE_NUM || (error_code & ~KMMU_PFERR_VALID_MASK) ||
	    gfn > (KMMU_SPTE_BASE_ADDR_MASK >> KMMU_PAGE_SHIFT))
		return -EINVAL;
	/*
	 * kvm_faultin_pfn(): the invalidation sequence is sampled before the
	 * host page is looked up, and both before mmu_lock.
	 */
	mmu_seq = kmmu_mmu_invalidate_seq(vm);
	/* As the kernel: memslots (SRCU) first, then mmu_lock. */
	urcu_memb_read_lock();
	faultin_pfn(vm, as_id, gfn, &hp);
	kmmu_mmu_lock(vm);
	if (vm->bug)
		r = -EIO;
	else
		r = page_fault_locked(vm, &vm->vcpus[vcpu], as_id, gfn, error_code, mmu_seq,
				      &hp, &f);
	if (!r && vm->bug)
		r = -EIO;
	if (!r)
		vm->stat.faults++;
	kmmu_mmu_unlock(vm);
	urcu_memb_read_unlock();
	*out = f;
	return r;
}
