// SPDX-License-Identifier: GPL-2.0
/*
 * Shadow pages and the direct fault path of the reference MMU
 * (arch/x86/kvm/mmu/mmu.c semantics, shadow MMU with tdp_mmu=N).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "kmmu/mmu.h"
#include "kmmu/notifier.h"
#include "kmmu/table_free.h"
#include "kmmu/zap.h"

/* kvm_zap_all_rmap_sptes() once a gfn has this many mappings. */
#define RMAP_RECYCLE_THRESHOLD	1000

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

void kmmu_ref_vm_bug(struct kmmu_ref_vm *vm, int err)
{
	if (!vm->bug)
		vm->bug = err;
}

void kmmu_mmu_emit(struct kmmu_ref_vm *vm, const struct kmmu_mmu_event *ev)
{
	if (vm->event_fn)
		vm->event_fn(vm->event_ctx, ev);
}

static inline unsigned long self_id(void)
{
	return (unsigned long)pthread_self();
}

bool kmmu_mmu_lock_held_write(struct kmmu_ref_vm *vm)
{
	return __atomic_load_n(&vm->mmu_lock_owner, __ATOMIC_RELAXED) == self_id();
}

/*
 * Only the owner compares equal to its own id, so the relaxed read of
 * mmu_lock_owner can race with other threads' stores without harm.
 */
void kmmu_mmu_lock(struct kmmu_ref_vm *vm)
{
	if (kmmu_mmu_lock_held_write(vm)) {
		vm->mmu_lock_depth++;
		return;
	}
	pthread_rwlock_wrlock(&vm->mmu_lock);
	__atomic_store_n(&vm->mmu_lock_owner, self_id(), __ATOMIC_RELAXED);
	vm->mmu_lock_depth = 1;
}

void kmmu_mmu_unlock(struct kmmu_ref_vm *vm)
{
	if (--vm->mmu_lock_depth)
		return;
	__atomic_store_n(&vm->mmu_lock_owner, 0, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&vm->mmu_lock);
}

/* Inside the write side, a read section is just more recursion. */
void kmmu_mmu_read_lock(struct kmmu_ref_vm *vm)
{
	if (kmmu_mmu_lock_held_write(vm)) {
		vm->mmu_lock_depth++;
		return;
	}
	pthread_rwlock_rdlock(&vm->mmu_lock);
}

void kmmu_mmu_read_unlock(struct kmmu_ref_vm *vm)
{
	if (kmmu_mmu_lock_held_write(vm)) {
		vm->mmu_lock_depth--;
		return;
	}
	pthread_rwlock_unlock(&vm->mmu_lock);
}

void kmmu_ref_vm_set_ad_fn(struct kmmu_ref_vm *vm, kmmu_ad_fn fn, void *ctx)
{
	if (!vm)
		return;
	vm->ad_fn = fn;
	vm->ad_ctx = ctx;
}

void kmmu_ref_vm_set_hva_to_pfn_fn(struct kmmu_ref_vm *vm, kmmu_hva_to_pfn_fn fn, void *ctx)
{
	if (!vm)
		return;
	vm->hva_to_pfn_fn = fn;
	vm->hva_to_pfn_ctx = ctx;
}

/* kvm_set_pfn_accessed()/kvm_set_pfn_dirty() for the bits of @spte. */
void kmmu_ad_report(struct kmmu_ref_vm *vm, uint64_t spte, int level, bool installed)
{
	uint64_t bits = spte & (KMMU_PT_ACCESSED_MASK | KMMU_PT_DIRTY_MASK);

	if (!vm->ad_fn || !bits || !kmmu_is_shadow_present_pte(spte) ||
	    !kmmu_is_last_spte(spte, level))
		return;
	vm->ad_fn(vm->ad_ctx, kmmu_spte_to_pfn(spte), level, bits, installed);
}

/*
 * mmu_spte_clear_track_bits(): clear the SPTE with xchg, so that an
 * Accessed/Dirty bit the hardware sets up to the last moment is seen and
 * reported, never lost.  Returns the old value.
 */
uint64_t kmmu_spte_clear_track_bits(struct kmmu_ref_vm *vm, uint64_t *sptep, int level)
{
	uint64_t old = kmmu_spte_xchg(sptep, 0);

	kmmu_ad_report(vm, old, level, false);
	return old;
}

void kmmu_ref_vm_set_event_fn(struct kmmu_ref_vm *vm, kmmu_mmu_event_fn fn, void *ctx)
{
	if (!vm)
		return;
	vm->event_fn = fn;
	vm->event_ctx = ctx;
}

gfn_t kmmu_mmu_max_gfn(struct kmmu_ref_vm *vm)
{
	return (1ULL << (vm->cfg.phys_bits - KMMU_PAGE_SHIFT)) - 1;
}

/* ---- per-slot metadata: rmaps and lpage_info ---- */

struct kmmu_rmap_head *kmmu_gfn_to_rmap(const struct kmmu_memory_slot *slot,
					gfn_t gfn, int level)
{
	struct kmmu_slot_arch *arch;

	if (!slot || !slot->arch || level < KMMU_PG_LEVEL_4K ||
	    level > KMMU_MAX_HUGEPAGE_LEVEL || !kmmu_gfn_in_memslot(slot, gfn))
		return NULL;
	arch = slot->arch;
	return &arch->rmap[level - KMMU_PG_LEVEL_4K][kmmu_gfn_to_index(gfn, slot->base_gfn, level)];
}

static struct kmmu_lpage_info *lpage_info_slot(gfn_t gfn, const struct kmmu_memory_slot *slot,
					       int level)
{
	struct kmmu_slot_arch *arch = slot->arch;

	return &arch->lpage_info[level - 2][kmmu_gfn_to_index(gfn, slot->base_gfn, level)];
}

static void free_slot_arch(struct kmmu_slot_arch *arch)
{
	int i;

	if (!arch)
		return;
	for (i = 0; i < KMMU_NR_PAGE_SIZES; i++)
		free(arch->rmap[i]);
	for (i = 0; i < KMMU_NR_PAGE_SIZES - 1; i++)
		free(arch->lpage_info[i]);
	free(arch);
}

/* kvm_alloc_memslot_metadata(). */
static int alloc_slot_arch(struct kmmu_memory_slot *slot)
{
	struct kmmu_slot_arch *arch;
	unsigned long npages = slot->npages, ugfn, lpages, j;
	int level;

	arch = calloc(1, sizeof(*arch));
	if (!arch)
		return -ENOMEM;
	for (level = KMMU_PG_LEVEL_4K; level <= KMMU_MAX_HUGEPAGE_LEVEL; level++) {
		lpages = kmmu_slot_lpages(slot->base_gfn, npages, level);
		arch->rmap[level - 1] = calloc(lpages, sizeof(struct kmmu_rmap_head));
		if (!arch->rmap[level - 1])
			goto fail;
		if (level == KMMU_PG_LEVEL_4K)
			continue;

		arch->lpage_info[level - 2] = calloc(lpages, sizeof(struct kmmu_lpage_info));
		if (!arch->lpage_info[level - 2])
			goto fail;
		/* A huge page sticking out of the slot at either end is not allowed. */
		if (slot->base_gfn & (KMMU_PAGES_PER_HPAGE(level) - 1))
			arch->lpage_info[level - 2][0].disallow_lpage = 1;
		if ((slot->base_gfn + npages) & (KMMU_PAGES_PER_HPAGE(level) - 1))
			arch->lpage_info[level - 2][lpages - 1].disallow_lpage = 1;
		/* gfn and hva misaligned wrt each other: no huge pages at all. */
		ugfn = slot->userspace_addr >> KMMU_PAGE_SHIFT;
		if ((slot->base_gfn ^ ugfn) & (KMMU_PAGES_PER_HPAGE(level) - 1)) {
			for (j = 0; j < lpages; j++)
				arch->lpage_info[level - 2][j].disallow_lpage = 1;
		}
	}
	slot->arch = arch;
	return 0;
fail:
	free_slot_arch(arch);
	return -ENOMEM;
}

int kmmu_max_mapping_level(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot,
			   gfn_t gfn)
{
	if (!vm || !slot || !slot->arch || !kmmu_gfn_in_memslot(slot, gfn))
		return -EINVAL;
	return kmmu_max_mapping_level_any(vm, slot, gfn);
}

/*
 * Without the range check: zap_collapsible asks about sp->gfn, which may
 * lie before the slot in the same huge page (index 0, as in the kernel).
 */
int kmmu_max_mapping_level_any(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot,
			       gfn_t gfn)
{
	int level;

	for (level = KMMU_MAX_HUGEPAGE_LEVEL; level > KMMU_PG_LEVEL_4K; level--) {
		if (!lpage_info_slot(gfn, slot, level)->disallow_lpage)
			break;
	}
	if (level == KMMU_PG_LEVEL_4K)
		return level;
	/* host_pfn_mapping_level(): what the host page tables use. */
	if (!vm->cfg.host_huge_pages)
		return KMMU_PG_LEVEL_4K;
	return level;
}

/* ---- shadow pages ---- */

static unsigned int page_table_hashfn(gfn_t gfn)
{
	return (unsigned int)((gfn * 0x61C8864680B583EBULL) >> (64 - KMMU_MMU_HASH_BITS));
}

bool kmmu_is_obsolete_sp(struct kmmu_ref_vm *vm, const struct kmmu_mmu_page *sp)
{
	return sp->role.invalid || sp->mmu_valid_gen != vm->mmu_valid_gen;
}

static void page_event(struct kmmu_ref_vm *vm, enum kmmu_mmu_event_type type,
		       const struct kmmu_mmu_page *sp, bool created)
{
	struct kmmu_mmu_event ev = { .type = type };

	if (!vm->event_fn)
		return;
	ev.page.mmu_valid_gen = sp->mmu_valid_gen;
	ev.page.gfn = sp->gfn;
	ev.page.role = sp->role.word;
	ev.page.root_count = sp->root_count;
	ev.page.unsync = false;
	ev.page.created = created;
	kmmu_mmu_emit(vm, &ev);
}

/* kvm_mmu_get_shadow_page() for a direct page. */
static struct kmmu_mmu_page *get_shadow_page(struct kmmu_ref_vm *vm, gfn_t gfn,
					     union kmmu_mmu_page_role role)
{
	struct hlist_head *bucket = &vm->mmu_page_hash[page_table_hashfn(gfn)];
	struct kmmu_mmu_page *sp;
	void *mem;

	hlist_for_each_entry(sp, bucket, hash_link) {
		if (kmmu_is_obsolete_sp(vm, sp))
			continue;
		if (sp->gfn == gfn && sp->role.word == role.word) {
			page_event(vm, KMMU_MMU_EV_GET_PAGE, sp, false);
			return sp;
		}
	}

	if (posix_memalign(&mem, KMMU_PAGE_SIZE, sizeof(*sp)))
		return NULL;
	sp = mem;
	memset(sp, 0, sizeof(*sp));
	sp->gfn = gfn;
	sp->role = role;
	sp->mmu_valid_gen = vm->mmu_valid_gen;
	/* New pages go to the head: obsolete pages gather at the tail. */
	list_add(&sp->link, &vm->active_mmu_pages);
	hlist_add_head(&sp->hash_link, bucket);
	vm->stat.mmu_cache_miss++;
	vm->stat.mmu_used_pages++;
	page_event(vm, KMMU_MMU_EV_GET_PAGE, sp, true);
	return sp;
}

void kmmu_mmu_free_page(struct kmmu_ref_vm *vm, struct kmmu_mmu_page *sp)
{
	hlist_del(&sp->hash_link);
	list_del(&sp->link);
	/* Lockless walkers may still be reading it: free after a grace period. */
	kmmu_table_free(sp);
}

static inline struct kmmu_mmu_page *spte_to_child_sp(uint64_t spte)
{
	return (struct kmmu_mmu_page *)(uintptr_t)(spte & KMMU_SPTE_BASE_ADDR_MASK);
}

static void update_page_stats(struct kmmu_ref_vm *vm, int level, int delta)
{
	if (level == KMMU_PG_LEVEL_4K)
		vm->stat.pages_4k += delta;
	else if (level == KMMU_PG_LEVEL_2M)
		vm->stat.pages_2m += delta;
}

/* The slot whose rmaps hold a leaf of @sp for @gfn (rmap_remove()). */
static struct kmmu_memory_slot *sp_gfn_to_slot(struct kmmu_ref_vm *vm,
					       const struct kmmu_mmu_page *sp, gfn_t gfn)
{
	struct kmmu_memory_slot *slot;
	struct kmmu_memslots *slots;

	/*
	 * flush_slot runs while the INVALID copy of the slot is active; the
	 * SPTEs being zapped are in the rmaps of the slot we were given.
	 */
	slot = vm->flushing_slot;
	if (slot && slot->as_id == sp->role.smm && kmmu_gfn_in_memslot(slot, gfn))
		return slot;
	slots = kmmu_memslots_active(vm->memslots, sp->role.smm);
	return slots ? kmmu_gfn_to_memslot(slots, gfn) : NULL;
}

/*
 * drop_spte(): clear a leaf (or MMIO) SPTE and, for a leaf, its rmap entry
 * and the page stats (mmu_spte_clear_track_bits + rmap_remove).
 */
void kmmu_drop_spte(struct kmmu_ref_vm *vm, uint64_t *sptep)
{
	struct kmmu_mmu_page *sp = kmmu_sptep_to_sp(sptep);
	uint64_t old = kmmu_spte_read(sptep);
	struct kmmu_memory_slot *slot;
	struct kmmu_rmap_head *head;
	gfn_t gfn;

	if (kmmu_is_mmio_spte(old)) {
		kmmu_spte_write(sptep, 0);
		sp->nr_present--;
		vm->stat.mmio_sptes--;
		return;
	}
	if (!kmmu_is_shadow_present_pte(old))
		return;
	kmmu_spte_clear_track_bits(vm, sptep, sp->role.level);
	sp->nr_present--;
	update_page_stats(vm, sp->role.level, -1);

	gfn = kmmu_sp_get_gfn(sp, kmmu_spte_index(sptep));
	slot = sp_gfn_to_slot(vm, sp, gfn);
	head = kmmu_gfn_to_rmap(slot, gfn, sp->role.level);
	if (!head || kmmu_pte_list_remove(head, sptep))
		kmmu_ref_vm_bug(vm, -EIO);
}

static void rmap_add(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot, uint64_t *sptep,
		     gfn_t gfn, int level)
{
	struct kmmu_rmap_head *head = kmmu_gfn_to_rmap(slot, gfn, level);
	int count;

	update_page_stats(vm, level, 1);
	count = head ? kmmu_pte_list_add(head, sptep) : -EIO;
	if (count < 0) {
		kmmu_ref_vm_bug(vm, count);
		return;
	}
	if ((uint64_t)count > vm->stat.max_mmu_rmap_size)
		vm->stat.max_mmu_rmap_size = count;
	if (count > RMAP_RECYCLE_THRESHOLD)
		kmmu_zap_all_rmap_sptes(vm, head, level);
}

/* drop_parent_pte(): unlink @child from the non-leaf SPTE @sptep. */
static void drop_parent_pte(struct kmmu_mmu_page *child, uint64_t *sptep)
{
	if (child->parent_ptep == sptep)
		child->parent_ptep = NULL;
	kmmu_sptep_to_sp(sptep)->nr_present--;
	kmmu_spte_write(sptep, 0);
}

void kmmu_unlink_child(struct kmmu_ref_vm *vm, uint64_t *sptep)
{
	drop_parent_pte(spte_to_child_sp(kmmu_spte_read(sptep)), sptep);
}

static void set_spte_event(struct kmmu_ref_vm *vm, uint64_t *sptep, gfn_t gfn, int level)
{
	struct kmmu_mmu_event ev = { .type = KMMU_MMU_EV_SET_SPTE };

	if (!vm->event_fn)
		return;
	ev.set_spte.gfn = gfn;
	ev.set_spte.spte = kmmu_spte_read(sptep);
	ev.set_spte.sptep = (uintptr_t)sptep;
	ev.set_spte.level = level;
	ev.set_spte.r = kmmu_spte_read(sptep) & KMMU_PT_PRESENT_MASK;
	ev.set_spte.x = !(kmmu_spte_read(sptep) & KMMU_PT64_NX_MASK);
	ev.set_spte.u = !!(kmmu_spte_read(sptep) & KMMU_PT_USER_MASK);
	kmmu_mmu_emit(vm, &ev);
}

/* mark_mmio_spte(). */
static int mark_mmio_spte(struct kmmu_ref_vm *vm, uint64_t *sptep, gfn_t gfn,
			  unsigned int access, uint64_t memslots_gen)
{
	struct kmmu_mmu_page *sp = kmmu_sptep_to_sp(sptep);
	uint64_t spte;
	int r;

	r = kmmu_make_mmio_spte(vm->gen_layout, gfn, access, memslots_gen, &spte);
	if (r)
		return r;
	if (kmmu_is_mmio_spte(kmmu_spte_read(sptep))) {
		vm->stat.mmio_sptes--;
		sp->nr_present--;
	} else if (kmmu_is_shadow_present_pte(kmmu_spte_read(sptep))) {
		kmmu_drop_spte(vm, sptep);
	}
	sp->nr_present++;
	kmmu_spte_write(sptep, spte);
	vm->stat.mmio_sptes++;
	if (vm->event_fn) {
		struct kmmu_mmu_event ev = { .type = KMMU_MMU_EV_MARK_MMIO_SPTE };

		ev.mark_mmio.sptep = (uintptr_t)sptep;
		ev.mark_mmio.gfn = gfn;
		ev.mark_mmio.access = access & KMMU_SHADOW_MMIO_ACCESS_MASK;
		ev.mark_mmio.gen = memslots_gen & vm->gen_layout->gen_mask;
		kmmu_mmu_emit(vm, &ev);
	}
	return 0;
}

/* ---- roots ---- */

static union kmmu_mmu_page_role root_role(int as_id)
{
	union kmmu_mmu_page_role role = { .word = 0 };

	role.level = KMMU_ROOT_LEVEL;
	role.direct = 1;
	role.access = KMMU_ACC_ALL;
	role.efer_nx = 1;
	role.cr0_wp = 1;
	role.smm = as_id;
	return role;
}

/* kvm_mmu_free_roots() for one root: drop the reference, free if invalid. */
static void mmu_free_root(struct kmmu_ref_vm *vm, struct kmmu_mmu_page **rootp)
{
	struct kmmu_mmu_page *root = *rootp;
	LIST_HEAD(invalid_list);

	__atomic_store_n(rootp, NULL, __ATOMIC_RELEASE);
	if (!root)
		return;
	if (--root->root_count == 0 && root->role.invalid) {
		kmmu_mmu_prepare_zap_page(vm, root, &invalid_list);
		kmmu_mmu_commit_zap_page(vm, &invalid_list);
	}
}

/* kvm_mmu_reload(): free obsolete roots on request, allocate missing ones. */
static int mmu_reload(struct kmmu_ref_vm *vm, struct kmmu_ref_vcpu *vcpu, int as_id)
{
	struct kmmu_mmu_page *root;
	int i;

	if (vcpu->free_obsolete_roots) {
		vcpu->free_obsolete_roots = false;
		for (i = 0; i < KMMU_ADDRESS_SPACE_NUM; i++) {
			if (vcpu->root[i] && kmmu_is_obsolete_sp(vm, vcpu->root[i]))
				mmu_free_root(vm, &vcpu->root[i]);
		}
	}
	if (vcpu->root[as_id])
		return 0;
	root = get_shadow_page(vm, 0, root_role(as_id));
	if (!root)
		return -ENOMEM;
	root->root_count++;
	__atomic_store_n(&vcpu->root[as_id], root, __ATOMIC_RELEASE);
	return 0;
}

void kmmu_request_free_obsolete_roots(struct kmmu_ref_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->cfg.nr_vcpus; i++)
		vm->vcpus[i].free_obsolete_roots = true;
}

static inline unsigned int pt_index(gfn_t gfn, int level)
{
	return (gfn >> KMMU_HPAGE_GFN_SHIFT(level)) & (KMMU_PT64_ENT_PER_PAGE - 1);
}

/* walk_shadow_page_lockless(): the last SPTE on @gfn's path from @root. */
static uint64_t *walk_last_spte(struct kmmu_mmu_page *root, gfn_t gfn, int *level)
{
	struct kmmu_mmu_page *sp = root;
	uint64_t *sptep;
	int l;

	for (l = KMMU_ROOT_LEVEL; ; l--) {
		sptep = &sp->spt[pt_index(gfn, l)];
		if (l == KMMU_PG_LEVEL_4K || !kmmu_is_shadow_present_pte(kmmu_spte_read(sptep)) ||
		    kmmu_is_large_pte(kmmu_spte_read(sptep)))
			break;
		sp = spte_to_child_sp(kmmu_spte_read(sptep));
	}
	*level = l;
	return sptep;
}

uint64_t *kmmu_walk_lockless(struct kmmu_ref_vm *vm, unsigned int vcpu, int as_id, gfn_t gfn,
			     int *level)
{
	struct kmmu_mmu_page *sp;
	uint64_t *sptep, spte;
	int l;

	if (!vm || vcpu >= vm->cfg.nr_vcpus || as_id < 0 || as_id >= KMMU_ADDRESS_SPACE_NUM ||
	    gfn > (KMMU_SPTE_BASE_ADDR_MASK >> KMMU_PAGE_SHIFT))
		return NULL;
	sp = __atomic_load_n(&vm->vcpus[vcpu].root[as_id], __ATOMIC_ACQUIRE);
	if (!sp)
		return NULL;
	for (l = KMMU_ROOT_LEVEL; ; l--) {
		sptep = &sp->spt[pt_index(gfn, l)];
		spte = kmmu_spte_read(sptep);
		if (l == KMMU_PG_LEVEL_4K || !kmmu_is_shadow_present_pte(spte) ||
		    kmmu_is_large_pte(spte))
			break;
		/* Read once: the link may be cleared right after. */
		sp = spte_to_child_sp(spte);
	}
	if (level)
		*level = l;
	return sptep;
}

uint64_t kmmu_lookup_spte(struct kmmu_ref_vm *vm, unsigned int vcpu, int as_id, gfn_t gfn,
			  int *level)
{
	struct kmmu_mmu_page *root;
	uint64_t *sptep, spte;
	int l;

	if (!vm || vcpu >= vm->cfg.nr_vcpus || as_id < 0 || as_id >= KMMU_ADDRESS_SPACE_NUM)
		return 0;
	kmmu_mmu_read_lock(vm);
	root = vm->vcpus[vcpu].root[as_id];
	if (!root || kmmu_is_obsolete_sp(vm, root)) {
		kmmu_mmu_read_unlock(vm);
		return 0;
	}
	sptep = walk_last_spte(root, gfn, &l);
	if (level)
		*level = l;
	spte = kmmu_spte_read(sptep);
	kmmu_mmu_read_unlock(vm);
	return spte;
}

/* kvm_mmu_hugepage_adjust(): the level the fault will map at. */
static int fault_goal_level(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot, gfn_t gfn)
{
	if (!slot)
		return KMMU_PG_LEVEL_4K;
	/* Dirty logging tracks 4K pages only. */
	if (slot->flags & KMMU_MEM_LOG_DIRTY_PAGES)
		return KMMU_PG_LEVEL_4K;
	return kmmu_max_mapping_level(vm, slot, gfn);
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
	set_spte_event(vm, sptep, gfn, level);
	if (!was_rmapped)
		rmap_add(vm, slot, sptep, gfn, level);
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
		sptep = &sp->spt[pt_index(gfn, level)];
		if (kmmu_is_shadow_present_pte(kmmu_spte_read(sptep)) &&
		    !kmmu_is_large_pte(kmmu_spte_read(sptep))) {
			sp = spte_to_child_sp(kmmu_spte_read(sptep));
			continue;
		}
		/* drop_large_spte(): a huge leaf where a table is needed. */
		if (kmmu_is_shadow_present_pte(kmmu_spte_read(sptep)) || kmmu_is_mmio_spte(kmmu_spte_read(sptep)))
			kmmu_drop_spte(vm, sptep);

		role = sp->role;
		role.level = level - 1;
		child = get_shadow_page(vm, gfn & ~(KMMU_PAGES_PER_HPAGE(level) - 1), role);
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
	return &sp->spt[pt_index(gfn, goal)];
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

	r = mmu_reload(vm, vcpu, as_id);
	if (r)
		return r;
	slots = kmmu_memslots_active(vm->memslots, as_id);
	gen = kmmu_memslots_generation(slots);
	out->in_progress = gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS;

	sptep = walk_last_spte(vcpu->root[as_id], gfn, &level);
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
		r = mark_mmio_spte(vm, sptep, gfn, KMMU_ACC_ALL, gen);
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

/* ---- memslot hooks (kvm_arch_*) ---- */

static int hook_prepare(void *ctx, const struct kmmu_memory_slot *old,
			struct kmmu_memory_slot *new, enum kmmu_mr_change change)
{
	struct kmmu_ref_vm *vm = ctx;

	if (change == KMMU_MR_CREATE || change == KMMU_MR_MOVE) {
		if (!new || !new->npages)
			return -EINVAL;
		if (new->base_gfn + new->npages - 1 > kmmu_mmu_max_gfn(vm))
			return -EINVAL;
		return alloc_slot_arch(new);
	}
	if (change == KMMU_MR_FLAGS_ONLY) {
		if (!old || !new)
			return -EINVAL;
		new->arch = old->arch;
		return 0;
	}
	if (change != KMMU_MR_DELETE)
		return -EIO;
	return 0;
}

static void hook_flush_slot(void *ctx, struct kmmu_memory_slot *slot)
{
	struct kmmu_ref_vm *vm = ctx;

	kmmu_mmu_lock(vm);
	vm->flushing_slot = slot;
	if (vm->cfg.slot_zap_all)
		kmmu_mmu_zap_all_fast(vm);
	else
		kmmu_mmu_zap_memslot(vm, slot);
	vm->flushing_slot = NULL;
	kmmu_mmu_unlock(vm);
}

/* kvm_mmu_slot_apply_flags() */
static void hook_commit(void *ctx, struct kmmu_memory_slot *old,
			const struct kmmu_memory_slot *new, enum kmmu_mr_change change)
{
	struct kmmu_ref_vm *vm = ctx;
	uint32_t old_flags = old ? old->flags : 0, new_flags = new ? new->flags : 0;

	if (change == KMMU_MR_MOVE && old) {
		/* flush_slot emptied the old rmaps; nobody can reach them now. */
		free_slot_arch(old->arch);
		old->arch = NULL;
		return;
	}
	if (change != KMMU_MR_FLAGS_ONLY || (new_flags & KMMU_MEM_READONLY))
		return;
	if (!((old_flags ^ new_flags) & KMMU_MEM_LOG_DIRTY_PAGES))
		return;
	if (!(new_flags & KMMU_MEM_LOG_DIRTY_PAGES)) {
		kmmu_mmu_zap_collapsible_sptes(vm, new);
	} else if (vm->cfg.pml) {
		/* The CPU logs writes to 4K pages; huge ones must fault. */
		kmmu_mmu_slot_leaf_clear_dirty(vm, new);
		kmmu_mmu_slot_remove_write_access(vm, new, KMMU_PG_LEVEL_2M);
	} else {
		kmmu_mmu_slot_remove_write_access(vm, new, KMMU_PG_LEVEL_4K);
	}
}

static void hook_free_slot(void *ctx, struct kmmu_memory_slot *slot)
{
	free_slot_arch(slot->arch);
	slot->arch = NULL;
}

static void hook_memslots_updated(void *ctx, uint64_t gen)
{
	struct kmmu_ref_vm *vm = ctx;

	kmmu_mmu_lock(vm);
	if (vm->event_fn) {
		struct kmmu_mmu_event ev = { .type = KMMU_MMU_EV_MEMSLOTS_UPDATED };

		ev.gen_wrap.gen = gen;
		kmmu_mmu_emit(vm, &ev);
	}
	kmmu_mmu_invalidate_mmio_sptes(vm, gen);
	kmmu_mmu_unlock(vm);
}

static const struct kmmu_memslot_ops kmmu_mmu_memslot_ops = {
	.prepare = hook_prepare,
	.flush_slot = hook_flush_slot,
	.commit = hook_commit,
	.free_slot = hook_free_slot,
	.memslots_updated = hook_memslots_updated,
};

/* ---- VM ---- */

void kmmu_ref_vm_config_default(struct kmmu_ref_vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->layout = KMMU_SPTE_LAYOUT_UPSTREAM;
	cfg->mmio_caching = true;
	cfg->slot_zap_all = true;
	cfg->host_huge_pages = true;
	cfg->nr_vcpus = 1;
	cfg->phys_bits = 46;
}

int kmmu_ref_vm_create(struct kmmu_ref_vm **out, const struct kmmu_ref_vm_config *cfg)
{
	struct kmmu_ref_vm *vm;
	int r;

	if (!out || !cfg || !cfg->nr_vcpus || cfg->nr_vcpus > KMMU_REF_MAX_VCPUS ||
	    cfg->phys_bits < 32 || cfg->phys_bits > 51 ||
	    !kmmu_mmio_gen_layout(cfg->layout))
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->cfg = *cfg;
	vm->gen_layout = kmmu_mmio_gen_layout(cfg->layout);
	INIT_LIST_HEAD(&vm->active_mmu_pages);
	vm->mmu_invalidate_range_start = KMMU_INVALID_GFN;
	vm->mmu_invalidate_range_end = KMMU_INVALID_GFN;
	r = -pthread_rwlock_init(&vm->mmu_lock, NULL);
	if (r) {
		free(vm);
		return r;
	}
	r = kmmu_memslots_init(&vm->memslots, &kmmu_mmu_memslot_ops, vm, cfg->max_slots);
	if (r) {
		pthread_rwlock_destroy(&vm->mmu_lock);
		free(vm);
		return r;
	}
	*out = vm;
	return 0;
}

void kmmu_ref_vm_destroy(struct kmmu_ref_vm *vm)
{
	unsigned int i;
	int as;

	if (!vm)
		return;
	/* kvm_mmu_unload() on every vCPU, then kvm_mmu_zap_all(). */
	for (i = 0; i < vm->cfg.nr_vcpus; i++)
		for (as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++)
			mmu_free_root(vm, &vm->vcpus[i].root[as]);
	kmmu_mmu_zap_all(vm);
	/* The zapped tables are still waiting for their grace period. */
	kmmu_table_free_barrier();
	kmmu_memslots_destroy(vm->memslots);
	pthread_rwlock_destroy(&vm->mmu_lock);
	free(vm);
}

int kmmu_ref_vm_set_memory_region(struct kmmu_ref_vm *vm, uint32_t slot, uint32_t flags,
				  uint64_t gpa, uint64_t size, uint64_t hva)
{
	if (!vm)
		return -EINVAL;
	return kmmu_set_memory_region(vm->memslots, slot, flags, gpa, size, hva);
}

uint64_t kmmu_ref_vm_memslots_generation(struct kmmu_ref_vm *vm, int as_id)
{
	uint64_t gen;

	if (!vm || as_id < 0 || as_id >= KMMU_ADDRESS_SPACE_NUM)
		return 0;
	urcu_memb_read_lock();
	gen = kmmu_memslots_generation(kmmu_memslots_active(vm->memslots, as_id));
	urcu_memb_read_unlock();
	return gen;
}

int kmmu_ref_vm_stat(struct kmmu_ref_vm *vm, const char *name, uint64_t *val)
{
	static const struct {
		const char *name;
		size_t off;
	} stats[] = {
		{ "pages_4k", offsetof(struct kmmu_mmu_stats, pages_4k) },
		{ "pages_2m", offsetof(struct kmmu_mmu_stats, pages_2m) },
		{ "max_mmu_rmap_size", offsetof(struct kmmu_mmu_stats, max_mmu_rmap_size) },
		{ "mmu_shadow_zapped", offsetof(struct kmmu_mmu_stats, mmu_shadow_zapped) },
		{ "mmu_cache_miss", offsetof(struct kmmu_mmu_stats, mmu_cache_miss) },
	};
	unsigned int i;

	if (!vm || !name || !val)
		return -EINVAL;
	/* No 1G mappings in this model. */
	if (!strcmp(name, "pages_1g")) {
		*val = 0;
		return 0;
	}
	for (i = 0; i < sizeof(stats) / sizeof(stats[0]); i++) {
		if (strcmp(name, stats[i].name))
			continue;
		kmmu_mmu_read_lock(vm);
		*val = *(uint64_t *)((char *)&vm->stat + stats[i].off);
		kmmu_mmu_read_unlock(vm);
		return 0;
	}
	return -ENOENT;
}

unsigned long kmmu_nr_shadow_pages(struct kmmu_ref_vm *vm)
{
	struct kmmu_mmu_page *sp;
	unsigned long n = 0;

	kmmu_mmu_read_lock(vm);
	list_for_each_entry(sp, &vm->active_mmu_pages, link)
		n++;
	kmmu_mmu_read_unlock(vm);
	return n;
}

/* ---- audit ---- */

static int __attribute__((format(printf, 3, 4)))
audit_fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EIO;
}

/*
 * A leaf SPTE must be in the rmap of its gfn and level, as found in @sets
 * (the audit's one read of each active set; flushing_slot is always NULL
 * here, it is only set while the updater holds mmu_lock).
 */
static int audit_leaf(struct kmmu_memslots *const *sets, struct kmmu_mmu_page *sp,
		      unsigned int i, char *why, size_t len)
{
	gfn_t gfn = kmmu_sp_get_gfn(sp, i);
	struct kmmu_memslots *slots = sp->role.smm < KMMU_ADDRESS_SPACE_NUM ?
				      sets[sp->role.smm] : NULL;
	struct kmmu_memory_slot *slot = slots ? kmmu_gfn_to_memslot(slots, gfn) : NULL;
	struct kmmu_rmap_head *head = kmmu_gfn_to_rmap(slot, gfn, sp->role.level);
	struct kmmu_rmap_iterator it;
	uint64_t *p;

	if (!head)
		return audit_fail(why, len, "leaf gfn 0x%llx as %d level %d has no slot",
				  (unsigned long long)gfn, sp->role.smm, sp->role.level);
	kmmu_for_each_rmap_spte(head, &it, p)
		if (p == &sp->spt[i])
			return 0;
	return audit_fail(why, len, "leaf gfn 0x%llx level %d missing from rmap",
			  (unsigned long long)gfn, sp->role.level);
}

/* Every rmap entry of @slot must be a live leaf of the right gfn and level. */
static int audit_slot_rmaps(struct kmmu_memory_slot *slot, uint64_t *nrmap,
			    char *why, size_t len)
{
	struct kmmu_slot_arch *arch = slot->arch;
	struct kmmu_rmap_iterator it;
	unsigned long n, k;
	uint64_t *p;
	int level;

	if (!arch)
		return 0;
	for (level = KMMU_PG_LEVEL_4K; level <= KMMU_MAX_HUGEPAGE_LEVEL; level++) {
		n = kmmu_slot_lpages(slot->base_gfn, slot->npages, level);
		for (k = 0; k < n; k++) {
			kmmu_for_each_rmap_spte(&arch->rmap[level - 1][k], &it, p) {
				struct kmmu_mmu_page *psp = kmmu_sptep_to_sp(p);
				gfn_t g = kmmu_sp_get_gfn(psp, kmmu_spte_index(p));

				(*nrmap)++;
				if (psp->role.level != level || !kmmu_is_shadow_present_pte(kmmu_spte_read(p)) ||
				    kmmu_gfn_to_index(g, slot->base_gfn, level) != k ||
				    !kmmu_gfn_in_memslot(slot, g))
					return audit_fail(why, len,
							  "stale rmap entry slot %d level %d idx %lu",
							  slot->id, level, k);
			}
		}
	}
	return 0;
}

static int audit_locked(struct kmmu_ref_vm *vm, char *why, size_t len)
{
	uint64_t n4k = 0, n2m = 0, nmmio = 0, nrmap = 0;
	struct kmmu_memslots *sets[KMMU_ADDRESS_SPACE_NUM];
	struct kmmu_memory_slot *slot;
	struct kmmu_mmu_page *sp;
	unsigned int i, present;
	int as, r;

	/*
	 * Each active set is read once, as the kernel reads
	 * __kvm_memslots() once before kvm_for_each_memslot().  mmu_lock
	 * does not stop a memslot update from publishing the other set
	 * (the swap takes no mmu_lock; only its synchronize_rcu() waits
	 * for us), and that set's links of a slot it does not hold are
	 * stale: a walk that switches sets midway (first/next from
	 * different sets) can visit slots twice.  E.g. when a DELETE/MOVE
	 * published the set holding the INVALID copy, rb_next() from the
	 * old slot's stale node in that set went back to its parent (the
	 * slot before it, whose right child is now the copy), counting
	 * both again: "rmap entries 522 != leaves 517".  Each set on its
	 * own agrees with the SPTEs, and the one we read stays intact
	 * until our read unlock.
	 */
	for (as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++)
		sets[as] = kmmu_memslots_active(vm->memslots, as);

	list_for_each_entry(sp, &vm->active_mmu_pages, link) {
		present = 0;
		for (i = 0; i < KMMU_PT64_ENT_PER_PAGE; i++) {
			uint64_t spte = kmmu_spte_read(&sp->spt[i]);

			if (!spte)
				continue;
			present++;
			if (kmmu_is_mmio_spte(spte)) {
				nmmio++;
			} else if (!kmmu_is_last_spte(spte, sp->role.level)) {
				if (spte_to_child_sp(spte)->parent_ptep != &sp->spt[i])
					return audit_fail(why, len,
							  "child of %p[%u] has another parent",
							  (void *)sp, i);
			} else {
				if (sp->role.level == KMMU_PG_LEVEL_4K)
					n4k++;
				else
					n2m++;
				r = audit_leaf(sets, sp, i, why, len);
				if (r)
					return r;
			}
		}
		if (present != sp->nr_present)
			return audit_fail(why, len,
					  "sp gfn 0x%llx level %d: %u entries, nr_present %u",
					  (unsigned long long)sp->gfn, sp->role.level, present,
					  sp->nr_present);
	}

	for (as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++) {
		kmmu_for_each_memslot(slot, sets[as]) {
			r = audit_slot_rmaps(slot, &nrmap, why, len);
			if (r)
				return r;
		}
	}
	if (nrmap != n4k + n2m)
		return audit_fail(why, len, "rmap entries %llu != leaves %llu",
				  (unsigned long long)nrmap, (unsigned long long)(n4k + n2m));
	if (n4k != vm->stat.pages_4k || n2m != vm->stat.pages_2m || nmmio != vm->stat.mmio_sptes)
		return audit_fail(why, len,
				  "stats 4k %llu/%llu 2m %llu/%llu mmio %llu/%llu (counted/stat)",
				  (unsigned long long)n4k, (unsigned long long)vm->stat.pages_4k,
				  (unsigned long long)n2m, (unsigned long long)vm->stat.pages_2m,
				  (unsigned long long)nmmio,
				  (unsigned long long)vm->stat.mmio_sptes);
	return 0;
}

int kmmu_mmu_audit(struct kmmu_ref_vm *vm, char *why, size_t len)
{
	int r;

	if (!vm)
		return -EINVAL;
	if (vm->bug)
		return audit_fail(why, len, "vm->bug %d", vm->bug);
	urcu_memb_read_lock();
	kmmu_mmu_lock(vm);
	r = audit_locked(vm, why, len);
	kmmu_mmu_unlock(vm);
	urcu_memb_read_unlock();
	return r;
}
