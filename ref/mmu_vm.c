// SPDX-License-Identifier: GPL-2.0
/*
 * The reference MMU's VM (struct kvm's MMU half): creation and teardown,
 * mmu_lock, the hooks that let the host and a tracer watch it, the
 * per-slot metadata (rmaps, lpage_info) and the kvm_arch_* memslot hooks
 * that keep it and the SPTEs in step with memslot updates, and the stats.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "kmmu/mmu.h"
#include "kmmu/notifier.h"
#include "kmmu/table_free.h"
#include "kmmu/zap.h"
#include "mmu_internal.h"

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
	kmmu_memslots_set_single_thread(vm->memslots, cfg->single_thread);
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
			kmmu_mmu_free_root(vm, &vm->vcpus[i].root[as]);
	kmmu_mmu_zap_all(vm);
	/* The zapped tables are still waiting for their grace period. */
	if (!vm->cfg.single_thread)
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
