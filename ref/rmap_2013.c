// SPDX-License-Identifier: GPL-2.0
/*
 * Seed 000, v3 08/15 "KVM: MMU: allow unmap invalid rmap out of mmu-lock"
 * as posted (see kmmu/rmap_2013.h), on real threads.  The kernel's
 * primitives map to C11 atomics as follows:
 *
 *   ACCESS_ONCE(x) / a plain word store  relaxed atomic load / store
 *   smp_mb()                             seq_cst fence
 *   smp_wmb() (32-bit split clear)       release fence
 *   cpu_relax()                          sched_yield() (CPUs may be
 *                                        overcommitted in CI)
 *
 * The protocol rests on one store->load pair on each side, a Dekker pair:
 *
 *   remover (mmu_lock)                 unmapper (no mmu_lock)
 *   entry = SKIP                       being_unmapped_rmap = X
 *   smp_mb()                           smp_mb()
 *   load being_unmapped_rmap           load entry; touch *spte
 *
 * With both fences, at least one side sees the other's store: either the
 * remover sees X and waits until the unmapper is done with X, or the
 * unmapper reads SKIP and never touches the remover's shadow page.  The
 * reviewer's interleaving (the remover's check passes, "a moment later"
 * the unmapper sets X) is therefore reachable but harmless, as long as
 * the reset comes first; the spin model ref/models/being_unmapped_rmap.pml
 * checks the same steps.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "kmmu/rmap_2013.h"

/* Shadow pages are aligned to this, so page_header() is a mask. */
#define SP_ALIGN	256

#define rd(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define wr(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define smp_mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_wmb()	__atomic_thread_fence(__ATOMIC_RELEASE)

_Static_assert(sizeof(struct kmmu_2013_sp) <= SP_ALIGN, "sp must fit its alignment");

/*
 * Stands for an interrupt or a cache miss between two steps (the test's
 * window hook); compiled into every build, it changes timing only.
 */
static void window(const struct kmmu_2013_kvm *kvm)
{
	unsigned int i, n = rd(&kvm->window_spins);

	for (i = 0; i < n; i++)
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void kmmu_2013_kvm_init(struct kmmu_2013_kvm *kvm)
{
	pthread_mutex_init(&kvm->mmu_lock, NULL);
	kvm->being_unmapped_rmap = NULL;
	kvm->pfn_accessed = 0;
	kvm->sync_waits = 0;
	kvm->window_spins = 0;
}

struct kmmu_2013_sp *kmmu_2013_alloc_sp(void)
{
	struct kmmu_2013_sp *sp = aligned_alloc(SP_ALIGN, SP_ALIGN);

	if (sp) {
		for (int i = 0; i < KMMU_2013_SPTES_PER_SP; i++) {
			sp->spt[i] = 0;
			sp->rmaps[i] = NULL;
		}
		sp->clear_spte_count = 0;
	}
	return sp;
}

void kmmu_2013_free_sp(struct kmmu_2013_sp *sp)
{
	free(sp);
}

#ifdef KMMU_2013_SPLIT_SPTE
/* page_header(__pa(sptep)) */
static struct kmmu_2013_sp *sptep_to_sp(uint64_t *sptep)
{
	return (struct kmmu_2013_sp *)((uintptr_t)sptep & ~(uintptr_t)(SP_ALIGN - 1));
}
#endif

static struct kmmu_2013_desc *rmap_desc(unsigned long val)
{
	return (struct kmmu_2013_desc *)(val & ~KMMU_2013_RMAP_MANY);
}

int kmmu_2013_pte_list_add(unsigned long *rmapp, uint64_t *sptep)
{
	struct kmmu_2013_desc *desc;
	unsigned long val = *rmapp;
	int i;

	if (!sptep || ((uintptr_t)sptep & KMMU_2013_RMAP_MANY) || sptep == KMMU_2013_SPTE_SKIP)
		return -EINVAL;
	if (!val) {
		*rmapp = (unsigned long)sptep;
		return 0;
	}
	if (!(val & KMMU_2013_RMAP_MANY)) {
		desc = calloc(1, sizeof(*desc));
		if (!desc)
			return -ENOMEM;
		desc->sptes[0] = (uint64_t *)val;
		desc->sptes[1] = sptep;
		*rmapp = (unsigned long)desc | KMMU_2013_RMAP_MANY;
		return 0;
	}
	/* Only the head descriptor may have free entries. */
	desc = rmap_desc(val);
	for (i = 0; i < KMMU_2013_PTE_LIST_EXT; i++) {
		if (!desc->sptes[i]) {
			desc->sptes[i] = sptep;
			return 0;
		}
	}
	desc = calloc(1, sizeof(*desc));
	if (!desc)
		return -ENOMEM;
	desc->sptes[0] = sptep;
	desc->more = rmap_desc(val);
	*rmapp = (unsigned long)desc | KMMU_2013_RMAP_MANY;
	return 0;
}

unsigned int kmmu_2013_pte_list_live(const unsigned long *rmapp)
{
	unsigned long val = rd(rmapp);
	struct kmmu_2013_desc *desc;
	unsigned int n = 0;
	int i;

	if (!val)
		return 0;
	if (!(val & KMMU_2013_RMAP_MANY))
		return (uint64_t *)val != KMMU_2013_SPTE_SKIP;
	for (desc = rmap_desc(val); desc; desc = desc->more)
		for (i = 0; i < KMMU_2013_PTE_LIST_EXT; i++) {
			uint64_t *p = rd(&desc->sptes[i]);

			if (p && p != KMMU_2013_SPTE_SKIP)
				n++;
		}
	return n;
}

void kmmu_2013_pte_list_destroy(unsigned long *rmapp)
{
	struct kmmu_2013_desc *desc, *next;

	if (*rmapp & KMMU_2013_RMAP_MANY) {
		for (desc = rmap_desc(*rmapp); desc; desc = next) {
			next = desc->more;
			free(desc);
		}
	}
	*rmapp = 0;
}

/*
 * pte_list_clear_concurrently() (v3 07/15): overwrite the entry holding
 * @sptep with PTE_LIST_SPTE_SKIP, one word store, never changing the
 * shape of the list, so a lockless walker reads the old pointer or SKIP
 * and always finds the chain intact.  Callable with or without mmu_lock.
 */
static void pte_list_clear_concurrently(uint64_t *sptep, unsigned long *rmapp)
{
	unsigned long val = rd(rmapp);
	struct kmmu_2013_desc *desc;
	int i;

	if (!(val & KMMU_2013_RMAP_MANY)) {
		/* Not ours: somebody else reset it already. */
		if ((uint64_t *)val == sptep)
			wr(rmapp, (unsigned long)KMMU_2013_SPTE_SKIP);
		return;
	}
	for (desc = rmap_desc(val); desc; desc = desc->more)
		for (i = 0; i < KMMU_2013_PTE_LIST_EXT; i++)
			if (rd(&desc->sptes[i]) == sptep) {
				wr(&desc->sptes[i], KMMU_2013_SPTE_SKIP);
				return;
			}
}

/*
 * mmu_spte_clear_track_bits(): read the old SPTE, clear it, and if it was
 * present tell the primary MMU the page was accessed.  64-bit: one store
 * (__update_clear_spte_fast).  32-bit PAE (KMMU_2013_SPLIT_SPTE): the low
 * half with the present bit first, smp_wmb(), the high half, then
 * count_spte_clear() bumps the shadow page's clear_spte_count; the last
 * two touch the shadow page AFTER a reader can already see the SPTE as
 * not present, which is what breaks v3 on 32-bit hosts.
 */
static bool mmu_spte_clear_track_bits(struct kmmu_2013_kvm *kvm, uint64_t *sptep)
{
	uint64_t old = rd(sptep);

#ifdef KMMU_2013_SPLIT_SPTE
	uint32_t *half = (uint32_t *)sptep;	/* x86 is little-endian */

	wr(&half[0], 0);
	smp_wmb();	/* not present before the pfn bits go */
	window(kvm);
	wr(&half[1], 0);
	smp_wmb();	/* count_spte_clear(): the SPTE clear before the count */
	{
		struct kmmu_2013_sp *sp = sptep_to_sp(sptep);

		wr(&sp->clear_spte_count, rd(&sp->clear_spte_count) + 1);
	}
#else
	wr(sptep, 0);
#endif
	if (!(old & KMMU_2013_SPTE_PRESENT))
		return false;
	/* kvm_set_pfn_accessed(): the guest page, not the shadow page. */
	__atomic_add_fetch(&kvm->pfn_accessed, 1, __ATOMIC_RELAXED);
	return true;
}

/*
 * sync_being_unmapped_rmap(): smp_mb() orders this CPU's entry reset (or,
 * for the notifier, its whole walk) before the load of the flag; then
 * spin while the unmapper works on @rmapp.  The load is an acquire so
 * that the unmapper's last accesses to the SPTEs of @rmapp (ordered
 * before its NULL store by unmap_rmap_no_lock_end's smp_mb) happen before
 * whatever the caller does next, i.e. freeing the shadow page; on x86
 * every load is an acquire.
 */
static void sync_being_unmapped_rmap(struct kmmu_2013_kvm *kvm, unsigned long *rmapp)
{
	bool waited = false;

	smp_mb();	/* entry reset / walk before the flag load */
	while (__atomic_load_n(&kvm->being_unmapped_rmap, __ATOMIC_ACQUIRE) == rmapp) {
		waited = true;
		sched_yield();	/* cpu_relax() */
	}
	if (waited)
		__atomic_add_fetch(&kvm->sync_waits, 1, __ATOMIC_RELAXED);
}

/*
 * invalid_rmap_remove(), the invalid rmaps' .rmap_remove, mmu_lock held.
 * v3: reset the entry, then sync.  The mutant checks first and resets
 * after: a check that sees NULL then proves nothing, because the unmapper
 * can set the flag and read the still-live entry before the reset (the
 * reviewer's "moment later"), and the caller frees the shadow page under
 * it.
 */
static void invalid_rmap_remove(struct kmmu_2013_kvm *kvm, uint64_t *sptep,
				unsigned long *rmapp)
{
#ifndef KMMU_MUTATE_2013_CHECK_BEFORE_RESET
	pte_list_clear_concurrently(sptep, rmapp);
	window(kvm);
	sync_being_unmapped_rmap(kvm, rmapp);
#else
	sync_being_unmapped_rmap(kvm, rmapp);
	window(kvm);
	pte_list_clear_concurrently(sptep, rmapp);
#endif
}

void kmmu_2013_prepare_zap_sp(struct kmmu_2013_kvm *kvm, struct kmmu_2013_sp *sp)
{
	int i;

	for (i = 0; i < KMMU_2013_SPTES_PER_SP; i++) {
		uint64_t *sptep = &sp->spt[i];

		/*
		 * mmu_page_zap_pte(): a SPTE that is not present has no rmap
		 * entry to drop, so nothing to wait for -- whoever cleared it
		 * (the unmapper) resets the entry itself.
		 */
		if (!(rd(sptep) & KMMU_2013_SPTE_PRESENT))
			continue;
		/* drop_spte(): if (mmu_spte_clear_track_bits()) rmap_remove() */
		if (mmu_spte_clear_track_bits(kvm, sptep))
			invalid_rmap_remove(kvm, sptep, sp->rmaps[i]);
	}
}

/*
 * __kvm_unmap_invalid_rmapp(): clear every SPTE on the rmap and reset its
 * entry; SKIP entries are gone already.  It does not call .rmap_remove()
 * (which would wait on itself in the unmapper).
 */
/*
 * One entry of __kvm_unmap_invalid_rmapp(), with the reviewer's window
 * before each step: entry read, SPTE not yet touched; then SPTE cleared,
 * entry still live.  1 if this call cleared the SPTE.
 */
static int unmap_invalid_entry(struct kmmu_2013_kvm *kvm, uint64_t *sptep,
			       unsigned long *rmapp)
{
	window(kvm);
	if (!mmu_spte_clear_track_bits(kvm, sptep))
		return 0;
	window(kvm);
	pte_list_clear_concurrently(sptep, rmapp);
	return 1;
}

static int __kvm_unmap_invalid_rmapp(struct kmmu_2013_kvm *kvm, unsigned long *rmapp)
{
	unsigned long val = rd(rmapp);
	struct kmmu_2013_desc *desc;
	uint64_t *sptep;
	int i, ret = 0;

	if (!val)
		return 0;
	if (!(val & KMMU_2013_RMAP_MANY)) {
		sptep = (uint64_t *)val;
		if (sptep != KMMU_2013_SPTE_SKIP)
			ret = unmap_invalid_entry(kvm, sptep, rmapp);
		return ret;
	}
	/* Descriptors of an invalid rmap are never freed or relinked. */
	for (desc = rmap_desc(val); desc; desc = desc->more) {
		for (i = 0; i < KMMU_2013_PTE_LIST_EXT; i++) {
			sptep = rd(&desc->sptes[i]);
			if (!sptep)
				break;
			if (sptep == KMMU_2013_SPTE_SKIP)
				continue;
			if (unmap_invalid_entry(kvm, sptep, rmapp))
				ret = 1;
		}
	}
	return ret;
}

int kmmu_2013_unmap_invalid_rmapp(struct kmmu_2013_kvm *kvm, unsigned long *rmapp)
{
	int ret = __kvm_unmap_invalid_rmapp(kvm, rmapp);

	sync_being_unmapped_rmap(kvm, rmapp);
	return ret;
}

/*
 * unmap_rmap_no_lock_begin(): publish the rmap, then smp_mb() so the
 * store is visible before any entry or SPTE of it is read (the other half
 * of the Dekker pair with invalid_rmap_remove).  preempt_disable() has no
 * equivalent in user space; it only bounds how long removers spin.
 */
static void unmap_rmap_no_lock_begin(struct kmmu_2013_kvm *kvm, unsigned long *rmapp)
{
	wr(&kvm->being_unmapped_rmap, rmapp);
	smp_mb();	/* flag store before the entry loads */
}

/*
 * unmap_rmap_no_lock_end(): smp_mb() so every SPTE clear and entry reset
 * is done before the flag is dropped, then drop it.
 */
static void unmap_rmap_no_lock_end(struct kmmu_2013_kvm *kvm)
{
	smp_mb();	/* SPTE clears and entry resets before the NULL */
	wr(&kvm->being_unmapped_rmap, NULL);
}

static void unmap_invalid_rmap_nolock(struct kmmu_2013_kvm *kvm, unsigned long *rmapp)
{
	if (!rd(rmapp))
		return;
	unmap_rmap_no_lock_begin(kvm, rmapp);
	__kvm_unmap_invalid_rmapp(kvm, rmapp);
	unmap_rmap_no_lock_end(kvm);
}

void kmmu_2013_unmap_memslot_rmap_nolock(struct kmmu_2013_kvm *kvm,
					 unsigned long *rmaps, unsigned long nr)
{
	unsigned long idx = nr;

	/* walk_memslot_rmap_nolock(): high index to low, as posted. */
	while (idx--)
		unmap_invalid_rmap_nolock(kvm, &rmaps[idx]);
}
