/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reference x86 shadow MMU (arch/x86/kvm/mmu/mmu.c, tdp_mmu=N) for
 * direct (TDP-style) faults: a VM with memslots (kmmu/memslot.h), vCPUs
 * with one root per address space, shadow pages (struct kmmu_mmu_page) in
 * a hash and the active list, leaf SPTEs with rmaps, MMIO SPTEs stamped
 * with the memslot generation, and the memslot hooks (kvm_arch_*).
 *
 * Not modelled: indirect shadow pages (guest page tables, unsync, write
 * tracking), 1G mappings, the TDP MMU, NX huge pages, page limits/shrinker.
 * MMU notifier invalidation is kmmu/notifier.h, aging kmmu/aging.h, the
 * RCU-deferred freeing of tables kmmu/table_free.h.
 *
 * Threading: vm->mmu_lock is a reader-writer lock, as the kernel's
 * (rwlock_t on x86).  The shadow MMU takes it for write for everything
 * that changes SPTEs or rmaps: faults, zaps, the memslot hooks, MMU
 * notifier invalidation and the locked aging.  Readers (kmmu_mmu_read_lock)
 * only look: kmmu_lookup_spte(), statistics.  The write side is recursive
 * (a test may fault from inside an event callback, i.e. in the middle of
 * an update) and a write holder may also take the read side; a reader
 * must not upgrade.  Lockless walkers hold neither: the aging variants of
 * kmmu/aging.h and the simulated hardware run inside an urcu-memb
 * read-side section and the rmap lock bit; tables are freed with call_rcu.
 * Each fault runs inside an urcu-memb read-side section (the kernel's
 * SRCU), so a memslot update's synchronize step waits for faults that saw
 * the old slots, as kvm_swap_active_memslots() does.  Every thread that
 * faults or walks must be registered with urcu-memb.
 *
 * SPTEs are only changed with atomics (kmmu_spte_*), because the
 * hardware sets Accessed/Dirty at any time: whenever the MMU takes an
 * Accessed or Dirty bit out of a leaf SPTE (zap, update, aging, dirty
 * harvest) it reports it to the host through the A/D hook
 * (kmmu_ref_vm_set_ad_fn; kvm_set_pfn_accessed/kvm_set_pfn_dirty in 6.1),
 * so a Dirty bit is never lost.
 */
#ifndef KMMU_MMU_H
#define KMMU_MMU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/list.h>
#include <urcu/urcu-memb.h>

#include "kmmu/spte.h"
#include "kmmu/rmap.h"
#include "kmmu/memslot.h"

#define KMMU_REF_MAX_VCPUS		64
#define KMMU_MMU_HASH_BITS	12

/* PFERR_* bits of the error code the fault path takes. */
#define KMMU_PFERR_PRESENT_MASK	(1u << 0)
#define KMMU_PFERR_WRITE_MASK	(1u << 1)
#define KMMU_PFERR_USER_MASK	(1u << 2)
#define KMMU_PFERR_FETCH_MASK	(1u << 4)
#define KMMU_PFERR_VALID_MASK	(KMMU_PFERR_PRESENT_MASK | KMMU_PFERR_WRITE_MASK | \
				 KMMU_PFERR_USER_MASK | KMMU_PFERR_FETCH_MASK)

/* union kvm_mmu_page_role, reduced to what direct pages use. */
union kmmu_mmu_page_role {
	uint32_t word;
	struct {
		unsigned int level:4;
		unsigned int has_4_byte_gpte:1;
		unsigned int quadrant:2;
		unsigned int direct:1;
		unsigned int access:3;
		unsigned int invalid:1;
		unsigned int efer_nx:1;
		unsigned int cr0_wp:1;
		unsigned int smep_andnot_wp:1;
		unsigned int smap_andnot_wp:1;
		unsigned int ad_disabled:1;
		unsigned int guest_mode:1;
		unsigned int passthrough:1;
		unsigned int :5;
		unsigned int smm:8;	/* the address space */
	};
};

/*
 * struct kvm_mmu_page.  spt[] comes first and the page is 4 KiB aligned,
 * so an SPTE pointer leads back to its page (sptep_to_sp()) and a non-leaf
 * SPTE holds the address of the child's spt.
 */
struct kmmu_mmu_page {
	uint64_t spt[KMMU_PT64_ENT_PER_PAGE];
	struct list_head link;		/* vm->active_mmu_pages or a zap list */
	struct hlist_node hash_link;
	gfn_t gfn;			/* first gfn this page translates */
	union kmmu_mmu_page_role role;
	uint8_t mmu_valid_gen;
	int root_count;
	uint64_t *parent_ptep;		/* direct pages have at most one parent */
	unsigned int nr_present;	/* present or MMIO entries (debug) */
	struct rcu_head rcu_head;	/* freed after a grace period (table_free.h) */
};

static inline struct kmmu_mmu_page *kmmu_sptep_to_sp(const uint64_t *sptep)
{
	return (struct kmmu_mmu_page *)((uintptr_t)sptep & ~(uintptr_t)(KMMU_PAGE_SIZE - 1));
}

static inline unsigned int kmmu_spte_index(const uint64_t *sptep)
{
	return ((uintptr_t)sptep & (KMMU_PAGE_SIZE - 1)) / sizeof(uint64_t);
}

/* kvm_mmu_page_get_gfn() for direct pages. */
static inline gfn_t kmmu_sp_get_gfn(const struct kmmu_mmu_page *sp, unsigned int index)
{
	return sp->gfn + ((gfn_t)index << KMMU_HPAGE_GFN_SHIFT(sp->role.level));
}

/* Per-slot MMU data (kvm_arch_memory_slot). */
struct kmmu_lpage_info {
	int disallow_lpage;
};

struct kmmu_slot_arch {
	struct kmmu_rmap_head *rmap[KMMU_NR_PAGE_SIZES];
	/* lpage_info[i] is for level i + 2 */
	struct kmmu_lpage_info *lpage_info[KMMU_NR_PAGE_SIZES - 1];
	unsigned long nr_dirty;		/* mark_page_dirty_in_slot() calls */
};

/*
 * for_each_slot_rmap_range() (arch/x86/kvm/mmu/mmu.c): the rmap heads of a
 * slot that cover gfns [start, end), level by level from 4K up.  The walk
 * says where it is: ->level, ->index (of the head in its level's array)
 * and ->head.  The slot must have its arch part.
 */
struct kmmu_slot_rmap_walk {
	const struct kmmu_memory_slot *slot;
	gfn_t start, end;
	int level;
	unsigned long index, last;
	struct kmmu_rmap_head *head;
};

static inline void __kmmu_slot_rmap_walk_level(struct kmmu_slot_rmap_walk *w)
{
	w->index = kmmu_gfn_to_index(w->start, w->slot->base_gfn, w->level);
	w->last = kmmu_gfn_to_index(w->end - 1, w->slot->base_gfn, w->level);
}

/* Past a level's last head: on to the next level's first. */
static inline void __kmmu_slot_rmap_walk_settle(struct kmmu_slot_rmap_walk *w)
{
	while (w->level <= KMMU_MAX_HUGEPAGE_LEVEL && w->index > w->last)
		if (++w->level <= KMMU_MAX_HUGEPAGE_LEVEL)
			__kmmu_slot_rmap_walk_level(w);
}

static inline void kmmu_slot_rmap_walk_init(struct kmmu_slot_rmap_walk *w,
					    const struct kmmu_memory_slot *slot,
					    gfn_t start, gfn_t end)
{
	w->slot = slot;
	w->start = start;
	w->end = end;
	w->level = KMMU_PG_LEVEL_4K;
	__kmmu_slot_rmap_walk_level(w);
	__kmmu_slot_rmap_walk_settle(w);
}

static inline bool kmmu_slot_rmap_walk_okay(struct kmmu_slot_rmap_walk *w)
{
	struct kmmu_slot_arch *arch = w->slot->arch;

	if (w->level > KMMU_MAX_HUGEPAGE_LEVEL)
		return false;
	w->head = &arch->rmap[w->level - 1][w->index];
	return true;
}

static inline void kmmu_slot_rmap_walk_next(struct kmmu_slot_rmap_walk *w)
{
	w->index++;
	__kmmu_slot_rmap_walk_settle(w);
}

#define kmmu_for_each_slot_rmap_range(slot, start, end, w)		\
	for (kmmu_slot_rmap_walk_init(w, slot, start, end);		\
	     kmmu_slot_rmap_walk_okay(w);				\
	     kmmu_slot_rmap_walk_next(w))

/* Tracepoint mirrors (arch/x86/kvm/mmu/mmutrace.h), in firing order. */
enum kmmu_mmu_event_type {
	KMMU_MMU_EV_GET_PAGE,		/* kvm_mmu_get_page */
	KMMU_MMU_EV_SET_SPTE,		/* kvm_mmu_set_spte */
	KMMU_MMU_EV_MARK_MMIO_SPTE,		/* mark_mmio_spte */
	KMMU_MMU_EV_HANDLE_MMIO_PAGE_FAULT,	/* handle_mmio_page_fault */
	KMMU_MMU_EV_CHECK_MMIO_SPTE,	/* check_mmio_spte */
	KMMU_MMU_EV_FAST_PAGE_FAULT,	/* fast_page_fault */
	KMMU_MMU_EV_PREPARE_ZAP_PAGE,	/* kvm_mmu_prepare_zap_page */
	KMMU_MMU_EV_ZAP_ALL_FAST,		/* kvm_mmu_zap_all_fast */
	KMMU_MMU_EV_MMIO_GEN_WRAP,		/* kvm_debug "mmio generation wraparound" */
	KMMU_MMU_EV_MEMSLOTS_UPDATED,	/* kvm_arch_memslots_updated() entry (no tracepoint) */
	KMMU_MMU_EV_NR,
};

struct kmmu_mmu_event {
	enum kmmu_mmu_event_type type;
	union {
		struct {	/* kvm_mmu_page_class (+ created for GET_PAGE) */
			uint8_t mmu_valid_gen;
			uint64_t gfn;
			uint32_t role;
			uint32_t root_count;
			bool unsync;
			bool created;
		} page;
		struct {
			uint64_t gfn;
			uint64_t spte;
			uint64_t sptep;
			uint8_t level;
			bool r, x;
			signed char u;
		} set_spte;
		struct {
			uint64_t sptep;
			gfn_t gfn;
			unsigned int access;
			unsigned int gen;
		} mark_mmio;
		struct {
			uint64_t addr;
			gfn_t gfn;
			unsigned int access;
		} handle_mmio;
		struct {
			unsigned int kvm_gen;
			unsigned int spte_gen;
			uint64_t spte;
		} check_mmio;
		struct {
			uint64_t gpa;
			uint32_t error_code;
			uint64_t sptep, old_spte, new_spte;
			int ret;
		} fast_pf;
		struct {
			uint8_t mmu_valid_gen;
			unsigned int mmu_used_pages;
		} zap_all_fast;
		struct {	/* GEN_WRAP and MEMSLOTS_UPDATED */
			uint64_t gen;
		} gen_wrap;
	};
};

typedef void (*kmmu_mmu_event_fn)(void *ctx, const struct kmmu_mmu_event *ev);

/*
 * The A/D hook: @bits (KMMU_PT_ACCESSED_MASK | KMMU_PT_DIRTY_MASK) of the
 * leaf SPTE mapping host frame @pfn at @level were installed by the MMU
 * (@installed: a fault made the SPTE with them) or taken out of it and
 * handed to the host (!@installed: zap, overwrite, aging, dirty harvest).
 * Called from any thread, with or without mmu_lock: keep it lock-free.
 */
typedef void (*kmmu_ad_fn)(void *ctx, uint64_t pfn, int level, uint64_t bits, bool installed);

/*
 * The host's half of kvm_faultin_pfn(): the frame that backs @hva now
 * (hva_to_pfn(), i.e. GUP) in *@pfn, and in *@level the largest level at
 * which the host maps it (host_pfn_mapping_level(); a 2M host mapping is
 * 2M aligned in frames too).  0, or a -errno the fault fails with.
 * Called before mmu_lock, after the fault sampled mmu_invalidate_seq, in
 * its urcu-memb read-side section: a host that changes the page behind an
 * hva does so between invalidate_range_start and _end, and the fault's
 * retry check under mmu_lock is what keeps a frame resolved before such a
 * change out of the SPTEs.  Without a hook the host maps hva to frame
 * hva >> 12, with huge pages if the config says so.
 */
typedef int (*kmmu_hva_to_pfn_fn)(void *ctx, unsigned long hva, uint64_t *pfn, int *level);

/*
 * kvm->stat (the MMU's part) plus counters the reference can check.
 * max_mmu_rmap_size stays 0 here: with direct pages only, a gfn of a slot
 * is mapped by at most one SPTE per level (as KVM with TDP reports).
 */
struct kmmu_mmu_stats {
	uint64_t pages_4k;		/* leaf SPTEs per level (kvm_update_page_stats) */
	uint64_t pages_2m;
	uint64_t max_mmu_rmap_size;
	uint64_t mmu_shadow_zapped;
	uint64_t mmu_cache_miss;	/* shadow pages created */
	uint64_t mmu_used_pages;	/* n_used_mmu_pages */
	uint64_t mmio_sptes;		/* live MMIO SPTEs (not a KVM stat) */
	uint64_t zap_all_fast;
	uint64_t mmio_gen_wraps;
	uint64_t faults;
};

struct kmmu_ref_vm_config {
	enum kmmu_spte_layout layout;
	bool mmio_caching;		/* kvm.mmio_caching (hosts differ) */
	/*
	 * KVM_X86_QUIRK_SLOT_ZAP_ALL (default VM, on by default): deleting or
	 * moving a slot zaps everything (fast zap); off: only the slot's SPTEs.
	 */
	bool slot_zap_all;
	bool host_huge_pages;		/* the host backs memory with 2M pages */
	/*
	 * CPU dirty logging (PML on VMX, kvm_x86_ops.cpu_dirty_log_size):
	 * enabling dirty logging clears the dirty bit of 4K SPTEs and only
	 * write-protects huge ones; without it every SPTE is write-protected.
	 */
	bool pml;
	unsigned int nr_vcpus;		/* 1..KMMU_REF_MAX_VCPUS */
	unsigned int phys_bits;		/* host MAXPHYADDR, 32..51 */
	unsigned int max_slots;		/* 0: the memslot layer's default */
	/*
	 * One thread does everything with the VM (the checker's replay): no
	 * lockless reader can be inside a read-side section while the VM's
	 * updater runs, so a grace period is over at once.  Memslot swaps do
	 * not wait for one and zapped tables are freed at once, not by
	 * call_rcu (whose worker batches for 10 ms, which a teardown's
	 * barrier then waits for).  Off by default.
	 */
	bool single_thread;
};

/* The upstream defaults: layout upstream, caching on, quirk on, 46 bits. */
void kmmu_ref_vm_config_default(struct kmmu_ref_vm_config *cfg);

struct kmmu_ref_vcpu {
	struct kmmu_mmu_page *root[KMMU_ADDRESS_SPACE_NUM];
	bool free_obsolete_roots;	/* KVM_REQ_MMU_FREE_OBSOLETE_ROOTS */
	/*
	 * vcpu->arch.mmio_{gfn,gen,access}: the last MMIO gfn and the full
	 * memslots generation it was seen at.  An MMIO SPTE fault on that gfn
	 * at that generation is answered without looking at the SPTE (so no
	 * check_mmio_spte event).  gfn 0 never matches, as in the kernel.
	 */
	gfn_t mmio_gfn;
	uint64_t mmio_gen;
	unsigned int mmio_access;
};

struct kmmu_ref_vm {
	struct kmmu_ref_vm_config cfg;
	const struct kmmu_mmio_gen_layout *gen_layout;
	struct kmmu_vm_memslots *memslots;
	uint8_t mmu_valid_gen;
	struct list_head active_mmu_pages;	/* FIFO: new pages at the head */
	struct hlist_head mmu_page_hash[1u << KMMU_MMU_HASH_BITS];
	struct kmmu_ref_vcpu vcpus[KMMU_REF_MAX_VCPUS];
	/* The slot whose SPTEs flush_slot is zapping (see rmap lookup). */
	struct kmmu_memory_slot *flushing_slot;
	struct kmmu_mmu_stats stat;
	pthread_rwlock_t mmu_lock;	/* see the top of this file */
	unsigned long mmu_lock_owner;	/* pthread_self() of the writer, 0 */
	unsigned int mmu_lock_depth;	/* the writer's recursion */
	/*
	 * MMU notifier invalidation (kmmu/notifier.h), under mmu_lock:
	 * kvm->mmu_invalidate_seq, _in_progress and the gfn range
	 * [_range_start, _range_end) of the invalidations in progress.
	 */
	unsigned long mmu_invalidate_seq;
	long mmu_invalidate_in_progress;
	gfn_t mmu_invalidate_range_start;
	gfn_t mmu_invalidate_range_end;
	kmmu_mmu_event_fn event_fn;
	void *event_ctx;
	kmmu_ad_fn ad_fn;
	void *ad_ctx;
	kmmu_hva_to_pfn_fn hva_to_pfn_fn;
	void *hva_to_pfn_ctx;
	int bug;			/* first internal inconsistency, -errno */
};

/*
 * Creates a VM and its memslots (with this MMU's hooks).  -EINVAL for a
 * bad config, -ENOMEM.  kmmu_ref_vm_destroy() frees everything.
 */
int kmmu_ref_vm_create(struct kmmu_ref_vm **out, const struct kmmu_ref_vm_config *cfg);
void kmmu_ref_vm_destroy(struct kmmu_ref_vm *vm);

/* KVM_SET_USER_MEMORY_REGION on the VM's memslots. */
int kmmu_ref_vm_set_memory_region(struct kmmu_ref_vm *vm, uint32_t slot, uint32_t flags,
				  uint64_t gpa, uint64_t size, uint64_t hva);

/* write_lock(&kvm->mmu_lock) (recursive) and read_lock(). */
void kmmu_mmu_lock(struct kmmu_ref_vm *vm);
void kmmu_mmu_unlock(struct kmmu_ref_vm *vm);
void kmmu_mmu_read_lock(struct kmmu_ref_vm *vm);
void kmmu_mmu_read_unlock(struct kmmu_ref_vm *vm);
/* Does the calling thread hold mmu_lock for write? */
bool kmmu_mmu_lock_held_write(struct kmmu_ref_vm *vm);

/* The A/D hook (NULL: none); set it before any thread runs. */
void kmmu_ref_vm_set_ad_fn(struct kmmu_ref_vm *vm, kmmu_ad_fn fn, void *ctx);

/* The host's hva-to-frame translation (NULL: identity); set it before any thread runs. */
void kmmu_ref_vm_set_hva_to_pfn_fn(struct kmmu_ref_vm *vm, kmmu_hva_to_pfn_fn fn, void *ctx);

/* Every event goes to @fn (NULL: none), called with mmu_lock held. */
void kmmu_ref_vm_set_event_fn(struct kmmu_ref_vm *vm, kmmu_mmu_event_fn fn, void *ctx);

/*
 * The reference's value of the KVM VM statistic @name (binary stats /
 * debugfs names: "pages_4k", "pages_2m", "pages_1g", "max_mmu_rmap_size",
 * "mmu_shadow_zapped", "mmu_cache_miss"), taken under mmu_lock, so that the
 * checker can compare by name.  -ENOENT for a statistic not modelled,
 * -EINVAL for bad input.
 */
int kmmu_ref_vm_stat(struct kmmu_ref_vm *vm, const char *name, uint64_t *val);

/* The active generation of @as_id (with the in-progress bit, if any); 0 for bad input. */
uint64_t kmmu_ref_vm_memslots_generation(struct kmmu_ref_vm *vm, int as_id);

enum kmmu_fault_result {
	KMMU_FAULT_MAPPED_4K,	/* new 4K leaf SPTE (RET_PF_FIXED) */
	KMMU_FAULT_MAPPED_2M,	/* new 2M leaf SPTE */
	KMMU_FAULT_FIXED,	/* fast path made a write-protected SPTE writable */
	KMMU_FAULT_SPURIOUS,	/* already mapped with enough access */
	KMMU_FAULT_MMIO_SPTE,	/* no slot: MMIO SPTE installed, exit to userspace */
	KMMU_FAULT_MMIO_CACHED,	/* MMIO SPTE of the current generation: exit */
	KMMU_FAULT_EMULATE,	/* no slot, no caching (or gfn > max): exit, no SPTE */
	KMMU_FAULT_RO_EMULATE,	/* write to a read-only slot: exit as MMIO */
	KMMU_FAULT_RETRY,	/* fault again: slot being deleted/moved (KVM_MEMSLOT_INVALID),
				 * an invalidation raced with the host lookup, or the
				 * gfn's hva changed since it */
	KMMU_FAULT_NR,
};

const char *kmmu_fault_result_name(enum kmmu_fault_result r);

struct kmmu_fault {
	enum kmmu_fault_result result;
	int level;			/* of the SPTE installed/found */
	uint64_t spte;			/* the SPTE after the fault (0 if none) */
	uint64_t *sptep;
	bool stale_mmio;		/* an MMIO SPTE was found but not usable */
	bool in_progress;		/* the generation had the in-progress bit */
	bool mmio_info_cached;		/* answered by the vCPU's MMIO info cache */
};

/*
 * A guest access to @gfn in address space @as_id by vCPU @vcpu, as the
 * hardware would report it: an access that hits an MMIO SPTE takes the
 * PFERR.RSVD path (handle_mmio_page_fault), anything else kvm_tdp_page_fault.
 * @error_code: KMMU_PFERR_* bits.  0 with @out filled, -EINVAL for bad
 * input, -ENOMEM, -EIO after an internal inconsistency (vm->bug).
 */
int kmmu_page_fault(struct kmmu_ref_vm *vm, unsigned int vcpu, int as_id, gfn_t gfn,
		    uint32_t error_code, struct kmmu_fault *out);

/*
 * fast_page_fault() on its own: without mmu_lock, inside an urcu-memb
 * read-side section, fix a write to a leaf SPTE that is write-protected
 * only for dirty logging (MMU-writable) with a cmpxchg, or find that
 * another vCPU already did (KMMU_FAULT_SPURIOUS).  -EAGAIN when the fault
 * needs the slow path (kmmu_page_fault), -EINVAL for bad input.  No
 * events: they are emitted under mmu_lock.  kmmu_page_fault() still has
 * its own locked fast path, so calling it alone stays valid.
 */
int kmmu_fast_page_fault(struct kmmu_ref_vm *vm, unsigned int vcpu, int as_id, gfn_t gfn,
			 uint32_t error_code, struct kmmu_fault *out);

/*
 * The leaf or MMIO SPTE currently mapping @gfn in @as_id as seen from
 * vCPU @vcpu's root (0 if none); @level receives its level.
 */
uint64_t kmmu_lookup_spte(struct kmmu_ref_vm *vm, unsigned int vcpu, int as_id, gfn_t gfn,
			  int *level);

/* kvm_mmu_max_mapping_level() for @gfn in @slot (ignores dirty logging). */
int kmmu_max_mapping_level(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot,
			   gfn_t gfn);

/*
 * The largest level a fault may map @gfn of @slot at, as
 * kvm_mmu_hugepage_adjust() bounds it: 4K while the slot logs dirty pages,
 * else kmmu_max_mapping_level().  The tracing checker judges the kernel's
 * installs by it.  -EINVAL for bad input (a gfn outside @slot).
 */
int kmmu_fault_max_level(struct kmmu_ref_vm *vm, const struct kmmu_memory_slot *slot, gfn_t gfn);

/* kvm_mmu_max_gfn(): the largest gfn the MMU maps (host MAXPHYADDR). */
gfn_t kmmu_mmu_max_gfn(struct kmmu_ref_vm *vm);

/* The rmap head of @gfn at @level in @slot, NULL outside. */
struct kmmu_rmap_head *kmmu_gfn_to_rmap(const struct kmmu_memory_slot *slot,
					gfn_t gfn, int level);

/*
 * Consistency audit: every leaf SPTE reachable from the active list is in
 * exactly the right rmap, every rmap entry points at a matching leaf, the
 * stats equal the counted leaves/MMIO SPTEs.  0 or -EIO (and a message
 * in @why, if given).
 */
int kmmu_mmu_audit(struct kmmu_ref_vm *vm, char *why, size_t len);

/* Number of shadow pages on the active list (incl. invalid roots). */
unsigned long kmmu_nr_shadow_pages(struct kmmu_ref_vm *vm);

/*
 * walk_shadow_page_lockless(): the last SPTE on @gfn's path from vCPU
 * @vcpu's root of @as_id, without mmu_lock.  Call inside
 * urcu_memb_read_lock(): the tables it passes are not freed before the
 * read unlock.  NULL when the vCPU has no root.
 */
uint64_t *kmmu_walk_lockless(struct kmmu_ref_vm *vm, unsigned int vcpu, int as_id, gfn_t gfn,
			     int *level);

/* Internal, shared with zap.c, notifier.c, aging.c. */
uint64_t kmmu_spte_clear_track_bits(struct kmmu_ref_vm *vm, uint64_t *sptep, int level);
void kmmu_ad_report(struct kmmu_ref_vm *vm, uint64_t spte, int level, bool installed);
void kmmu_mmu_emit(struct kmmu_ref_vm *vm, const struct kmmu_mmu_event *ev);
void kmmu_drop_spte(struct kmmu_ref_vm *vm, uint64_t *sptep);
void kmmu_mmu_free_page(struct kmmu_ref_vm *vm, struct kmmu_mmu_page *sp);
bool kmmu_is_obsolete_sp(struct kmmu_ref_vm *vm, const struct kmmu_mmu_page *sp);
void kmmu_ref_vm_bug(struct kmmu_ref_vm *vm, int err);

#endif
