/* SPDX-License-Identifier: GPL-2.0 */
/*
 * being_unmapped_rmap.pml - seed 000: "KVM: MMU: allow unmap invalid rmap
 * out of mmu-lock" (Xiao Guangrong, v3 08/15, April 2013) and the race its
 * reviewer (Gleb Natapov) described.
 *
 * The protocol.  When a memslot is deleted its rmaps are switched to the
 * "invalid" rmap operations and unmap_memslot_rmap_nolock() walks them
 * WITHOUT mmu_lock (it holds only slots_lock, so there is one unmapper).
 * For each non-empty rmap it publishes the rmap in
 * kvm->arch.being_unmapped_rmap (unmap_rmap_no_lock_begin: store, smp_mb),
 * clears every spte on it and resets the rmap entries to
 * PTE_LIST_SPTE_SKIP (__kvm_unmap_invalid_rmapp), then clears the flag
 * (unmap_rmap_no_lock_end: smp_mb, store NULL).
 *
 * Everybody else runs under mmu_lock.  A path that drops an spte from an
 * invalid rmap (invalid_rmap_remove, reached from drop_spte -> rmap_remove
 * when kvm_mmu_prepare_zap_page zaps a shadow page) first resets its rmap
 * entry (pte_list_clear_concurrently), then spins in
 * sync_being_unmapped_rmap() (smp_mb, then wait while
 * being_unmapped_rmap == rmapp) before the shadow page may be freed
 * (kvm_mmu_commit_zap_page -> kvm_mmu_free_page).  The mmu notifier path
 * (kvm_unmap_invalid_rmapp) does the same walk as the unmapper and then
 * sync_being_unmapped_rmap(), after which the primary MMU frees the page.
 *
 * The reviewer: "Suppose that rmap == X and kvm->arch.being_unmapped_rmap
 * == NULL so "goto retry" is skipped, but moment later
 * unmap_memslot_rmap_nolock() does vm->arch.being_unmapped_rmap = X."
 * That is a check-then-set race: the remover's check of the flag says
 * nobody is working on X, the shadow page is freed, and only then does the
 * unmapper announce that it works on X.
 *
 * What the model has.  One invalid rmap X (a gfn of the slot being
 * deleted) with a pte_list_desc of two entries: spte A in shadow page A and
 * spte B in shadow page B; both map the same host page P (they are on the
 * same rmap, so they map the same gfn).  Three processes:
 *   unmapper   unmap_memslot_rmap_nolock -> unmap_invalid_rmap_nolock(X)
 *   zap_sp_a   kvm_mmu_prepare_zap_page(sp A) + kvm_mmu_commit_zap_page
 *   notifier   kvm_mmu_notifier_invalidate_range_start for P: the invalid
 *              rmap's .rmap_unmap = kvm_unmap_invalid_rmapp(X); when it
 *              returns the primary MMU frees P
 * The unmapper's walk over the slot's other rmaps (high index to low, all
 * levels) only ever makes being_unmapped_rmap point at some other rmap or
 * NULL while it is not working on X, which a remover of an X entry treats
 * exactly like NULL; one rmap is enough.  Memory is sequentially
 * consistent: the two smp_mb() of the patch (after the flag store in
 * unmap_rmap_no_lock_begin, before the flag load in
 * sync_being_unmapped_rmap) are exactly what make a store->load pair
 * behave as under SC (store buffering is the only reordering x86 allows).
 *
 * Properties (assertions):
 *   sp_access(s)    every access to the memory of a shadow page (the spte
 *                   itself, or the sp header) by a process that does not
 *                   own that page -- the unmapper, and the notifier, which
 *                   reaches sptes of other shadow pages through rmap X --
 *                   happens before kvm_mmu_free_page freed it: no
 *                   use-after-free of a shadow page;
 *   page_access()   kvm_set_pfn_accessed/dirty by the unmapper happens
 *                   before the primary MMU freed P: no use-after-free of
 *                   the guest page (the mmu notifier contract).
 * These are the consequences the reviewer's objection is about: the whole
 * point of being_unmapped_rmap is "protect the lifecycle of sp".
 *
 * Build variants (spin -D...):
 *   (none)                 v3 as posted, 64-bit host: spin finds a
 *                          use-after-free of sp A by the notifier.  The
 *                          unmapper clears spte A but has not yet reset
 *                          its rmap entry; the zapper reads spte A as not
 *                          present, so mmu_page_zap_pte() calls neither
 *                          drop_spte() nor rmap_remove() -- no reset, no
 *                          wait -- and frees sp A with rmap X still
 *                          pointing into it; the notifier, under mmu_lock,
 *                          walks X and reads the freed spte.  The flag only
 *                          orders removers that remove an rmap entry.
 *                          (ref/tests/rmap_2013_test.c finds the same in C:
 *                          run-mutants' rmap_2013_notifier.)
 *   UNMAPPER_ONLY          assert only the unmapper's accesses (the
 *                          notifier's are not checked).  v3 on a 64-bit
 *                          host then holds: the reviewer's interleaving is
 *                          reachable but harmless to the unmapper: the
 *                          remover reset its rmap entry BEFORE it checked
 *                          the flag, so an unmapper that sets the flag "a
 *                          moment later" can only read PTE_LIST_SPTE_SKIP
 *                          (a Dekker pair: reset; mb; load flag  vs.  store
 *                          flag; mb; load entry -- one side always sees the
 *                          other).  The three variants below are about the
 *                          unmapper too and are checked with it.
 *   REVIEWER               adds the reviewer's scenario itself as an
 *                          assertion ("no remover passes the check of X
 *                          and frees its shadow page before the unmapper
 *                          sets being_unmapped_rmap = X"); spin finds it
 *                          and the trail is the interleaving of the mail.
 *   BUG_CHECK_BEFORE_RESET the remover checks the flag before it resets its
 *                          entry (the order the objection implicitly
 *                          assumes): the interleaving becomes a
 *                          use-after-free of shadow page A.
 *   SPLIT_SPTE             v3 as posted on a 32-bit PAE host, where
 *                          clearing an spte (__update_clear_spte_fast/slow)
 *                          writes the low half (with the present bit),
 *                          then the high half, then sp->clear_spte_count
 *                          (count_spte_clear).  A remover that reads the
 *                          half-cleared spte as not present never calls
 *                          rmap_remove, so never waits on the flag, and
 *                          frees the shadow page while the unmapper is
 *                          still writing into it: a real use-after-free in
 *                          v3 that the flag does not prevent, because the
 *                          wait is tied to removing an rmap entry, not to
 *                          the lifetime of the shadow page.
 */

#define NULL_RMAP	0
#define RMAP_X		1	/* &slot->arch.rmap[..][idx of gfn X] */
#define SKIP		255	/* PTE_LIST_SPTE_SKIP */
#define SPTE_A		0	/* an spte in shadow page A (index = sp) */
#define SPTE_B		1	/* an spte in shadow page B */
#define NSPTE		2

#define WHO_UNMAPPER	1	/* for the replay's printouts */
#define WHO_ZAP		2
#define WHO_NOTIFIER	3

#ifdef UNMAPPER_ONLY
#define NOTIFIER_CHECK	false
#else
#define NOTIFIER_CHECK	true
#endif

bool spte_present[NSPTE];	/* low half of the spte, PT_PRESENT_MASK */
bool spte_high[NSPTE];		/* high half (SPLIT_SPTE), pfn bits */
bool sp_freed[NSPTE];		/* kvm_mmu_free_page() of the spte's sp */
byte desc[NSPTE];		/* rmap X's pte_list_desc->sptes[] */
byte being_unmapped_rmap;	/* kvm->arch.being_unmapped_rmap */
bool mmu_lock;			/* kvm->mmu_lock (a spinlock in 2013) */
bool page_freed;		/* host page P freed by the primary MMU */

/* Ghost state for the REVIEWER witness. */
bool unmapper_began_x;		/* being_unmapped_rmap = X has happened */
bool passed_before_set;		/* a remover's check passed before that */

inline sp_access(s)
{
	assert(!sp_freed[s])
}

inline page_access()
{
	assert(!page_freed)
}

inline lock()
{
	atomic { !mmu_lock -> mmu_lock = true }
}

inline unlock()
{
	mmu_lock = false
}

/*
 * pte_list_clear_concurrently(spte, rmapp): find the entry that points at
 * @s and overwrite it with PTE_LIST_SPTE_SKIP, without changing the shape
 * of the list (descs are never freed while the rmap is invalid), so that a
 * lockless walker sees either the old pointer or SKIP.  Each entry is one
 * word: one read and at most one write per step.
 */
inline pte_list_clear_concurrently(s, j, who)
{
	j = 0;
	do
	:: j < NSPTE ->
		if
		:: desc[j] == s ->
			atomic {
				desc[j] = SKIP;
				if
				:: who == WHO_UNMAPPER ->
					printf("MSC: unmapper: pte_list_clear_concurrently: desc entry %d = PTE_LIST_SPTE_SKIP\n", j)
				:: who == WHO_ZAP ->
					printf("MSC: zap_sp_a: pte_list_clear_concurrently: desc entry %d = PTE_LIST_SPTE_SKIP\n", j)
				:: who == WHO_NOTIFIER ->
					printf("MSC: notifier: pte_list_clear_concurrently: desc entry %d = PTE_LIST_SPTE_SKIP\n", j)
				fi
			}
		:: else -> skip
		fi;
		j++
	:: else -> break
	od
}

/*
 * mmu_spte_clear_track_bits(sptep): read the old spte, clear it, and if
 * it was present tell the primary MMU the page was accessed/dirty
 * (kvm_set_pfn_accessed/dirty).  Returns (in @was) whether it was
 * present.  @check says whether the caller must assert that the shadow
 * page is still allocated: the zapper owns the sp it is zapping; the
 * unmapper (no mmu_lock) and the notifier (mmu_lock, but it found the spte
 * through rmap X, not through a shadow page it owns) hold no reference.
 * @who names the caller in the printouts.
 */
inline mmu_spte_clear_track_bits(s, was, check, who)
{
	/* old_spte = *sptep */
	atomic {
		if :: check -> sp_access(s) :: else -> skip fi;
		was = spte_present[s]
	}
	/* 64-bit: WRITE_ONCE(*sptep, 0); 32-bit: ssptep->spte_low = 0 */
	atomic {
		if :: check -> sp_access(s) :: else -> skip fi;
		spte_present[s] = false;
		if
		:: who == WHO_UNMAPPER ->
			printf("MSC: unmapper: spte %d cleared (32-bit: low half)\n", s)
		:: who == WHO_NOTIFIER ->
			printf("MSC: notifier: spte %d cleared (32-bit: low half)\n", s)
		:: else -> skip
		fi
	}
#ifdef SPLIT_SPTE
	/* smp_wmb(); ssptep->spte_high = 0 */
	atomic {
		if :: check -> sp_access(s) :: else -> skip fi;
		spte_high[s] = false;
		if
		:: who == WHO_UNMAPPER ->
			printf("MSC: unmapper: spte %d high half cleared\n", s)
		:: else -> skip
		fi
	}
	/* count_spte_clear(): sptep_to_sp(sptep)->clear_spte_count++ */
	atomic {
		if :: check -> sp_access(s) :: else -> skip fi;
		if
		:: who == WHO_UNMAPPER ->
			printf("MSC: unmapper: sp->clear_spte_count++ of spte %d's sp\n", s)
		:: else -> skip
		fi
	}
#endif
	if
	:: was -> page_access()	/* kvm_set_pfn_accessed / dirty */
	:: else -> skip
	fi
}

/*
 * sync_being_unmapped_rmap(kvm, rmapp): smp_mb(); spin while
 * ACCESS_ONCE(kvm->arch.being_unmapped_rmap) == rmapp.
 */
inline sync_being_unmapped_rmap(from_notifier)
{
	do
	:: being_unmapped_rmap == RMAP_X -> skip	/* cpu_relax() */
	:: atomic {
		being_unmapped_rmap != RMAP_X ->
		if
		:: from_notifier ->
			printf("MSC: notifier: sync_being_unmapped_rmap(X) reads being_unmapped_rmap != X, no wait\n")
		:: else ->
			printf("MSC: zap_sp_a: sync_being_unmapped_rmap(X) reads being_unmapped_rmap != X, no wait\n")
		fi;
		if
		:: !unmapper_began_x -> passed_before_set = true
		:: else -> skip
		fi;
		break
	   }
	od
}

/*
 * unmap_memslot_rmap_nolock(kvm, slot) -> walk_memslot_rmap_nolock ->
 * unmap_invalid_rmap_nolock(X): no mmu_lock, preemption disabled.
 */
proctype unmapper()
{
	byte i, sptep, j;
	bool was;

	/*
	 * if (!ACCESS_ONCE(*rmapp)) return;  The rmap head of X points at its
	 * desc and is never cleared while the rmap is invalid, so the walk
	 * always goes on.
	 */

	/* unmap_rmap_no_lock_begin: store, smp_mb() */
	atomic {
		printf("MSC: unmapper: unmap_rmap_no_lock_begin: being_unmapped_rmap = X\n");
#ifdef REVIEWER
		assert(!(passed_before_set && sp_freed[SPTE_A]));
#endif
		being_unmapped_rmap = RMAP_X;
		unmapper_began_x = true
	}

	/* __kvm_unmap_invalid_rmapp(rmapp) */
	i = 0;
	do
	:: i < NSPTE ->
		atomic {
			sptep = desc[i];
			printf("MSC: unmapper: desc entry %d = %d (255 = PTE_LIST_SPTE_SKIP)\n", i, sptep)
		}
		if
		:: sptep == SKIP -> skip
		:: else ->
			mmu_spte_clear_track_bits(sptep, was, true, WHO_UNMAPPER);
			if
			:: was -> pte_list_clear_concurrently(sptep, j, WHO_UNMAPPER)
			:: else -> skip
			fi
		fi;
		i++
	:: else -> break
	od;

	/* unmap_rmap_no_lock_end: smp_mb(), store NULL */
	atomic {
		being_unmapped_rmap = NULL_RMAP;
		printf("MSC: unmapper: unmap_rmap_no_lock_end: being_unmapped_rmap = NULL\n")
	}
}

/*
 * kvm_mmu_prepare_zap_page(sp A) -> kvm_mmu_page_unlink_children ->
 * mmu_page_zap_pte(sp A, spte A) -> drop_spte -> rmap_remove ->
 * invalid_rmap_remove; then kvm_mmu_commit_zap_page -> kvm_mmu_free_page.
 */
proctype zap_sp_a()
{
	bool pte, was;
	byte j;

	lock();
	/* mmu_page_zap_pte: pte = *spte; if (is_shadow_present_pte(pte)) */
	atomic {
		pte = spte_present[SPTE_A];
		printf("MSC: zap_sp_a: mmu_page_zap_pte reads spte A: present=%d\n", pte)
	}
	if
	:: pte ->
		/* drop_spte: if (mmu_spte_clear_track_bits(sptep)) rmap_remove() */
		mmu_spte_clear_track_bits(SPTE_A, was, false, WHO_ZAP);
		if
		:: was ->
			/* invalid_rmap_remove(kvm, spte, rmapp) */
#ifndef BUG_CHECK_BEFORE_RESET
			pte_list_clear_concurrently(SPTE_A, j, WHO_ZAP);
			sync_being_unmapped_rmap(false);
#else
			sync_being_unmapped_rmap(false);
			pte_list_clear_concurrently(SPTE_A, j, WHO_ZAP);
#endif
		:: else -> skip
		fi
	:: else -> skip	/* not present: no drop_spte, no rmap_remove, no wait */
	fi;
	/* kvm_mmu_commit_zap_page -> kvm_mmu_free_page(sp A) */
	atomic {
		sp_freed[SPTE_A] = true;
		printf("MSC: zap_sp_a: kvm_mmu_free_page(sp A)\n")
	}
	unlock()
}

/*
 * kvm_mmu_notifier_invalidate_range_start(P) -> kvm_unmap_hva_range ->
 * kvm_handle_hva_range -> kvm_unmap_invalid_rmapp(kvm, X), under
 * mmu_lock; after it returns the primary MMU frees P.
 */
proctype notifier()
{
	byte i, sptep, j;
	bool was;

	lock();
	/* __kvm_unmap_invalid_rmapp(rmapp) */
	i = 0;
	do
	:: i < NSPTE ->
		atomic {
			sptep = desc[i];
			printf("MSC: notifier: desc entry %d = %d (255 = PTE_LIST_SPTE_SKIP)\n", i, sptep)
		}
		if
		:: sptep == SKIP -> skip
		:: else ->
			mmu_spte_clear_track_bits(sptep, was, NOTIFIER_CHECK,
						  WHO_NOTIFIER);
			if
			:: was -> pte_list_clear_concurrently(sptep, j, WHO_NOTIFIER)
			:: else -> skip
			fi
		fi;
		i++
	:: else -> break
	od;
	sync_being_unmapped_rmap(true);
	unlock();
	/* invalidate_range_start returned: the primary MMU frees the page */
	page_freed = true;
	printf("MSC: notifier: primary MMU frees page P\n")
}

init {
	atomic {
		spte_present[SPTE_A] = true;
		spte_present[SPTE_B] = true;
		spte_high[SPTE_A] = true;
		spte_high[SPTE_B] = true;
		desc[0] = SPTE_A;
		desc[1] = SPTE_B;
		run unmapper();
		run zap_sp_a();
		run notifier()
	}
}
