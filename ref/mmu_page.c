// SPDX-License-Identifier: GPL-2.0
/*
 * Shadow pages of the reference MMU (arch/x86/kvm/mmu/mmu.c semantics):
 * finding or allocating a page, installing and dropping SPTEs with their
 * rmap entries and page stats, vCPU roots, and the walks from a root.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kmmu/mmu.h"
#include "kmmu/table_free.h"
#include "kmmu/zap.h"
#include "mmu_internal.h"

/* kvm_zap_all_rmap_sptes() once a gfn has this many mappings. */
#define RMAP_RECYCLE_THRESHOLD	1000

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
struct kmmu_mmu_page *kmmu_get_shadow_page(struct kmmu_ref_vm *vm, gfn_t gfn,
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
	if (vm->cfg.single_thread)
		free(sp);	/* ... unless there can be none */
	else
		kmmu_table_free(sp);
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

void kmmu_rmap_add(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot, uint64_t *sptep,
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
	drop_parent_pte(kmmu_spte_to_child_sp(kmmu_spte_read(sptep)), sptep);
}

void kmmu_set_spte_event(struct kmmu_ref_vm *vm, uint64_t *sptep, gfn_t gfn, int level)
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
int kmmu_mark_mmio_spte(struct kmmu_ref_vm *vm, uint64_t *sptep, gfn_t gfn,
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
void kmmu_mmu_free_root(struct kmmu_ref_vm *vm, struct kmmu_mmu_page **rootp)
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
int kmmu_mmu_reload(struct kmmu_ref_vm *vm, struct kmmu_ref_vcpu *vcpu, int as_id)
{
	struct kmmu_mmu_page *root;
	int i;

	if (vcpu->free_obsolete_roots) {
		vcpu->free_obsolete_roots = false;
		for (i = 0; i < KMMU_ADDRESS_SPACE_NUM; i++) {
			if (vcpu->root[i] && kmmu_is_obsolete_sp(vm, vcpu->root[i]))
				kmmu_mmu_free_root(vm, &vcpu->root[i]);
		}
	}
	if (vcpu->root[as_id])
		return 0;
	root = kmmu_get_shadow_page(vm, 0, root_role(as_id));
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

/* walk_shadow_page_lockless(): the last SPTE on @gfn's path from @root. */
uint64_t *kmmu_walk_last_spte(struct kmmu_mmu_page *root, gfn_t gfn, int *level)
{
	struct kmmu_mmu_page *sp = root;
	uint64_t *sptep;
	int l;

	for (l = KMMU_ROOT_LEVEL; ; l--) {
		sptep = &sp->spt[kmmu_pt_index(gfn, l)];
		if (l == KMMU_PG_LEVEL_4K || !kmmu_is_shadow_present_pte(kmmu_spte_read(sptep)) ||
		    kmmu_is_large_pte(kmmu_spte_read(sptep)))
			break;
		sp = kmmu_spte_to_child_sp(kmmu_spte_read(sptep));
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
		sptep = &sp->spt[kmmu_pt_index(gfn, l)];
		spte = kmmu_spte_read(sptep);
		if (l == KMMU_PG_LEVEL_4K || !kmmu_is_shadow_present_pte(spte) ||
		    kmmu_is_large_pte(spte))
			break;
		/* Read once: the link may be cleared right after. */
		sp = kmmu_spte_to_child_sp(spte);
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
	sptep = kmmu_walk_last_spte(root, gfn, &l);
	if (level)
		*level = l;
	spte = kmmu_spte_read(sptep);
	kmmu_mmu_read_unlock(vm);
	return spte;
}
