/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The 2013 protocol of seed 000 ("KVM: MMU: allow unmap invalid rmap out
 * of mmu-lock", Xiao Guangrong, v3 08/15), exactly as posted: the rmaps of
 * a memslot being deleted are "invalid" (no entry is ever added, no
 * descriptor freed, entries only reset to KMMU_2013_SPTE_SKIP); one
 * unmapper (slots_lock held) walks them WITHOUT mmu_lock, publishing the
 * rmap it works on in kvm->being_unmapped_rmap; everybody else removes
 * entries under mmu_lock and, before a shadow page may be freed, waits
 * while being_unmapped_rmap names the rmap of the entry it removed.
 *
 * Upstream never merged it (fast zap by mmu_valid_gen replaced it in 3.11;
 * lockless rmap walks today use KVM_RMAP_LOCKED, see kmmu/rmap.h).  It is
 * kept here, independent of the reference MMU, as a self-contained model
 * with its own shadow pages, so the suite can show on real threads under
 * ASan what ref/models/being_unmapped_rmap.pml proves: v3 on a 64-bit host
 * never lets the unmapper touch a freed shadow page, and moving the check
 * before the reset (KMMU_MUTATE_2013_CHECK_BEFORE_RESET) does, in the
 * interleaving the reviewer (Gleb Natapov) described.
 *
 * What the threads show beyond the model: v3 on 64-bit is NOT free of
 * use-after-free once the mmu notifier (kvm_unmap_invalid_rmapp, under
 * mmu_lock) runs too.  The unmapper clears an SPTE before it resets its
 * entry; a remover that reads the SPTE in between finds it not present,
 * so drops nothing, resets nothing, waits for nothing and frees the
 * shadow page; the notifier then walks the still-live entry into the
 * freed page (ref/mutants/rmap_2013_notifier).  The spin model checks
 * only the unmapper's accesses, so its "holds" does not cover this.
 *
 * Compile switches of ref/rmap_2013.c:
 *   KMMU_MUTATE_2013_CHECK_BEFORE_RESET  the remover checks
 *       being_unmapped_rmap before it resets its entry (a mutant);
 *   KMMU_2013_SPLIT_SPTE  a 32-bit PAE host: an SPTE is cleared low half
 *       (present bit) first, then the high half, then the shadow page's
 *       clear_spte_count (count_spte_clear), so a remover can see it not
 *       present while the unmapper still writes into the page.
 */
#ifndef KMMU_RMAP_2013_H
#define KMMU_RMAP_2013_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* pte_list_desc of 2013: PTE_LIST_EXT entries and a link, no counts. */
#define KMMU_2013_PTE_LIST_EXT	3
/* An entry reset by pte_list_clear_concurrently(); bit 0 clear (not MANY). */
#define KMMU_2013_SPTE_SKIP	((uint64_t *)~1UL)
#define KMMU_2013_RMAP_MANY	1UL

#define KMMU_2013_SPTE_PRESENT	1ULL	/* PT_PRESENT_MASK */
#define KMMU_2013_SPTES_PER_SP	8

struct kmmu_2013_desc {
	uint64_t *sptes[KMMU_2013_PTE_LIST_EXT];
	struct kmmu_2013_desc *more;
};

/*
 * An rmap head is an unsigned long, as in 2013: 0, one spte pointer, or a
 * desc chain | KMMU_2013_RMAP_MANY.
 */

/*
 * A shadow page: its page table and the header fields the protocol
 * touches.  rmaps[i] is the rmap of spt[i] (kvm_mmu_page_get_gfn +
 * gfn_to_rmap).  Allocated and freed as one object so that ASan reports
 * any access after kmmu_2013_free_sp().
 */
struct kmmu_2013_sp {
	uint64_t spt[KMMU_2013_SPTES_PER_SP];
	unsigned long *rmaps[KMMU_2013_SPTES_PER_SP];
	unsigned long clear_spte_count;
};

struct kmmu_2013_kvm {
	pthread_mutex_t mmu_lock;
	/* kvm->arch.being_unmapped_rmap; written only by the unmapper. */
	unsigned long *being_unmapped_rmap;
	/* kvm_set_pfn_accessed() calls (a present SPTE was cleared). */
	unsigned long pfn_accessed;
	/* Times a remover found being_unmapped_rmap naming its rmap. */
	unsigned long sync_waits;
	/*
	 * Test hook: busy-wait iterations standing for an interrupt or a
	 * cache miss at the two places whose distance decides the
	 * reviewer's race (see ref/rmap_2013.c).  Timing only: it never
	 * changes the order of the protocol's steps.
	 */
	unsigned int window_spins;
};

void kmmu_2013_kvm_init(struct kmmu_2013_kvm *kvm);

/* Setup while the rmap is still valid (mmu_lock held): rmap_add. */
int kmmu_2013_pte_list_add(unsigned long *rmapp, uint64_t *sptep);
/* Entries that are neither SKIP nor empty (for tests, no concurrency). */
unsigned int kmmu_2013_pte_list_live(const unsigned long *rmapp);
/* Frees the descriptors once nobody walks the rmap (slot freed). */
void kmmu_2013_pte_list_destroy(unsigned long *rmapp);

struct kmmu_2013_sp *kmmu_2013_alloc_sp(void);
/* kvm_mmu_free_page(): immediately, the protocol must make it safe. */
void kmmu_2013_free_sp(struct kmmu_2013_sp *sp);

/*
 * kvm_mmu_prepare_zap_page() of @sp with mmu_lock held: every present
 * SPTE is dropped (drop_spte -> rmap_remove -> invalid_rmap_remove), so
 * on return the caller may free @sp (kvm_mmu_commit_zap_page).
 */
void kmmu_2013_prepare_zap_sp(struct kmmu_2013_kvm *kvm, struct kmmu_2013_sp *sp);

/*
 * kvm_unmap_invalid_rmapp(), the mmu notifier's .rmap_unmap, mmu_lock
 * held: returns whether a present SPTE was cleared.
 */
int kmmu_2013_unmap_invalid_rmapp(struct kmmu_2013_kvm *kvm, unsigned long *rmapp);

/*
 * unmap_memslot_rmap_nolock(): the unmapper, WITHOUT mmu_lock, over the
 * slot's @nr rmaps (one level), high index to low.  One caller at a time
 * (the kernel holds slots_lock).
 */
void kmmu_2013_unmap_memslot_rmap_nolock(struct kmmu_2013_kvm *kvm,
					 unsigned long *rmaps, unsigned long nr);

#endif
