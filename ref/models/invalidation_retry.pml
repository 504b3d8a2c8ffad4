/* SPDX-License-Identifier: GPL-2.0 */
/*
 * invalidation_retry.pml - the MMU notifier invalidation protocol between
 * the primary MMU and KVM's page fault path (virt/kvm/kvm_main.c,
 * include/linux/kvm_host.h, arch/x86/kvm/mmu/mmu.c, Linux 6.1).
 *
 * The protocol.  KVM holds no reference on the pages its SPTEs map; the
 * primary MMU tells it before a mapping goes away:
 *   kvm_mmu_notifier_invalidate_range_start(): under mmu_lock,
 *     kvm_mmu_invalidate_begin() increments mmu_invalidate_in_progress and
 *     records the range (mmu_invalidate_range_start/end), and
 *     kvm_unmap_gfn_range() zaps the SPTEs of the range.  When it returns
 *     the primary MMU may change the PTE and free the old page.
 *   kvm_mmu_notifier_invalidate_range_end(): under mmu_lock,
 *     kvm_mmu_invalidate_end() increments mmu_invalidate_seq, smp_wmb(),
 *     decrements mmu_invalidate_in_progress.
 * A vCPU fault (direct_page_fault / kvm_tdp_mmu_page_fault) reads
 *   fault->mmu_seq = kvm->mmu_invalidate_seq; smp_rmb();
 * then looks the page up WITHOUT mmu_lock (kvm_faultin_pfn ->
 * __gfn_to_pfn_memslot: get_user_pages), then takes mmu_lock and asks
 * is_page_fault_stale() -> mmu_invalidate_retry_hva(): retry if an
 * invalidation is in progress and its range covers the fault's hva, or if
 * mmu_invalidate_seq moved since the fault read it.  Otherwise it installs
 * the SPTE (direct_map / kvm_tdp_mmu_map).
 *
 * What the model has.  One gfn backed by one hva.  The primary MMU maps
 * the hva to a page; an invalidation replaces it (migration, COW, reclaim:
 * the page the hva maps afterwards is a different one, numbered
 * primary_pfn + 1).  Processes:
 *   notifier   NINVAL invalidations of the hva, each: range_start (under
 *              mmu_lock: begin + zap), the primary MMU switching the
 *              mapping to a new page, range_end (under mmu_lock).
 *   vcpu[2]    one guest access each, which faults until the fault is not
 *              stale: read the sequence, look up the page without the
 *              lock, take the lock, check, install or retry.  Retries are
 *              unbounded (RET_PF_RETRY re-enters the guest, which faults
 *              again).  Two vCPUs, so that a fault can also meet a
 *              concurrent fault's SPTE.
 * mmu_lock is a FIFO (ticket) lock, as the kernel's queued spin/rwlocks
 * are; the fault path of the shadow MMU takes it for write, the TDP MMU for
 * read, which against the notifier (always a writer) is the same.  Memory
 * is sequentially consistent: the smp_wmb() in kvm_mmu_invalidate_end and
 * the smp_rmb()s of the fault path are what make the kernel behave so for
 * these two counters (and both are re-read under mmu_lock anyway).  The
 * range is the one hva, so "in progress" and "covers the hva" coincide; a
 * second, unrelated hva would only add faults that correctly proceed.
 *
 * Properties:
 *   no stale SPTE   an SPTE, whenever it exists, maps the page the
 *                   primary MMU maps now (spte_pfn == 0 || spte_pfn ==
 *                   primary_pfn, checked after every step that changes
 *                   either).  After range_start returned the old page may
 *                   be freed; an SPTE left pointing at it is a
 *                   use-after-free by the guest.  In particular, after
 *                   invalidate_range_end no stale mapping survives, and
 *                   the last assertion of the notifier says so.
 *   no deadlock     no invalid end states.
 *   progress        with -DLIVENESS: every vCPU's fault eventually
 *                   completes (the LTL property <> all faults done, under
 *                   weak fairness): retrying cannot go on forever once the
 *                   invalidations stop.
 *
 * Deliberately broken variants (spin must find each):
 *   BUG_NO_SEQ_CHECK           is_page_fault_stale without the
 *                              "mmu_invalidate_seq != mmu_seq" test: a
 *                              fault that looked the page up before a whole
 *                              invalidation (start..end) happened installs
 *                              the old page.
 *   BUG_NO_IN_PROGRESS_CHECK   without the "invalidation in progress over
 *                              this hva" test: a fault that read the
 *                              sequence during an invalidation, after the
 *                              zap but before the primary MMU changed the
 *                              PTE, installs the page about to be freed.
 */

#define NINVAL	2
#define NVCPU	2
#define NTICKET	4	/* > processes that can wait for mmu_lock at once */

byte mmu_invalidate_seq;		/* kvm->mmu_invalidate_seq */
byte mmu_invalidate_in_progress;	/* kvm->mmu_invalidate_in_progress */
bool range_covers_hva;			/* mmu_invalidate_range_start/end */
byte primary_pfn = 1;			/* the page the primary MMU maps */
byte spte_pfn;				/* the SPTE: 0 = not present */
byte faults_done;

/* mmu_lock: a ticket lock, FIFO like qspinlock / qrwlock */
byte next_ticket;
byte now_serving;

#ifdef LIVENESS
ltl progress { <> (faults_done == NVCPU) }
#endif

inline lock(t)
{
	atomic {
		t = next_ticket;
		next_ticket = (next_ticket + 1) % NTICKET
	}
	(now_serving == t)
}

inline unlock(t)
{
	atomic {
		now_serving = (now_serving + 1) % NTICKET;
		t = 0
	}
}

inline check_no_stale_spte()
{
	assert(spte_pfn == 0 || spte_pfn == primary_pfn)
}

active proctype notifier()
{
	byte k, t;

	k = 0;
	do
	:: k < NINVAL ->
		/* kvm_mmu_notifier_invalidate_range_start */
		lock(t);
		/* kvm_mmu_invalidate_begin */
		atomic {
			mmu_invalidate_in_progress++;
			range_covers_hva = true;
			printf("MSC: notifier: invalidate_range_start: in_progress = %d\n", mmu_invalidate_in_progress)
		}
		/* kvm_unmap_gfn_range: zap the SPTE */
		atomic {
			spte_pfn = 0;
			printf("MSC: notifier: invalidate_range_start: SPTE zapped\n")
		}
		unlock(t);

		/* the primary MMU changes the PTE; the old page may be freed */
		atomic {
			primary_pfn++;
			printf("MSC: notifier: primary MMU now maps pfn %d, old page freed\n", primary_pfn);
			check_no_stale_spte()
		}

		/* kvm_mmu_notifier_invalidate_range_end */
		lock(t);
		/* kvm_mmu_invalidate_end: seq++, smp_wmb(), in_progress-- */
		mmu_invalidate_seq++;
		atomic {
			mmu_invalidate_in_progress--;
			printf("MSC: notifier: invalidate_range_end: seq = %d, in_progress = %d\n", mmu_invalidate_seq, mmu_invalidate_in_progress)
		}
		/*
		 * With no invalidation left the range no longer matters
		 * (mmu_invalidate_retry_hva tests in_progress first).
		 */
		if
		:: mmu_invalidate_in_progress == 0 -> range_covers_hva = false
		:: else -> skip
		fi;
		unlock(t);
		/* after invalidate_range_end no stale mapping survives */
		check_no_stale_spte();
		k++
	:: else -> break
	od
}

active [NVCPU] proctype vcpu()
{
	byte mmu_seq, pfn, t;
	bool stale;

	do
	:: true ->
		/* kvm_faultin_pfn: fault->mmu_seq = kvm->mmu_invalidate_seq; smp_rmb() */
		mmu_seq = mmu_invalidate_seq;
		/* __gfn_to_pfn_memslot: get_user_pages, outside mmu_lock */
		atomic {
			pfn = primary_pfn;
			printf("MSC: vcpu %d: kvm_faultin_pfn: mmu_seq = %d, pfn %d\n", _pid, mmu_seq, pfn)
		}

		lock(t);
		/* is_page_fault_stale -> mmu_invalidate_retry_hva(kvm, mmu_seq, hva) */
		stale = false;
#ifndef BUG_NO_IN_PROGRESS_CHECK
		if
		:: mmu_invalidate_in_progress != 0 && range_covers_hva -> stale = true
		:: else -> skip
		fi;
#endif
#ifndef BUG_NO_SEQ_CHECK
		if
		:: mmu_invalidate_seq != mmu_seq -> stale = true
		:: else -> skip
		fi;
#endif
		if
		:: stale ->
			/* RET_PF_RETRY: kvm_release_pfn_clean, back to the guest */
			printf("MSC: vcpu %d: is_page_fault_stale: retry\n", _pid);
			unlock(t);
			d_step { mmu_seq = 0; pfn = 0; stale = false }
		:: else ->
			/* direct_map / kvm_tdp_mmu_map: install the SPTE */
			atomic {
				spte_pfn = pfn;
				printf("MSC: vcpu %d: not stale: SPTE -> pfn %d\n", _pid, pfn);
				check_no_stale_spte()
			}
			unlock(t);
			break
		fi
	od;
	faults_done++
}
