/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rmap_lock.pml - the KVM_RMAP_LOCKED bit of the x86 shadow MMU's rmaps
 * (Linux 6.15+, arch/x86/kvm/mmu/mmu.c), which lets the aging notifiers
 * walk rmaps without mmu_lock (CONFIG_KVM_MMU_LOCKLESS_AGING).
 *
 * The data structure.  struct kvm_rmap_head is one word, ->val:
 *   0                        the rmap is empty
 *   sptep                    the only spte (bit 0, KVM_RMAP_MANY, clear)
 *   desc | KVM_RMAP_MANY     a struct pte_list_desc holding spte_count
 *                            entries sptes[0..spte_count-1]
 * and bit 1, KVM_RMAP_LOCKED, is a bit spinlock on the chain.  Here one
 * desc at a time is enough (PTE_LIST_EXT entries, three sptes in all), but
 * descs are really allocated and freed (two desc slots, so a freed desc's
 * memory is reused), because a reader following a stale desc pointer is
 * one of the ways the protocol could fail.
 *
 * The lock, __kvm_rmap_lock():  read val; an empty rmap is not locked at
 * all (return 0).  Otherwise: while the LOCKED bit is set, cpu_relax and
 * re-read; if the re-read value is 0 (the holder emptied the rmap) return 0
 * without locking; try_cmpxchg_acquire(val, old, old | LOCKED), and on
 * failure start over with the value the cmpxchg saw.  Returns the value
 * without the bit.  kvm_rmap_unlock(new) stores the new chain with release
 * semantics, clearing the bit at the same time; kvm_rmap_unlock_readonly
 * (old) stores back the value the reader found (nothing if it was 0).
 *
 * Processes:
 *   writer     everything that changes rmaps: pte_list_add (via
 *              rmap_add), pte_list_remove (via rmap_remove/drop_spte) and
 *              kvm_zap_all_rmap_sptes.  They all run with mmu_lock held
 *              for write, so there is never more than one of them; one
 *              process doing NOPS nondeterministic operations in a row
 *              covers every sequence of them.  Each takes the rmap lock
 *              (kvm_rmap_lock), changes the chain step by step (every
 *              store a separate step) and publishes it with
 *              kvm_rmap_unlock.
 *   reader[2]  kvm_rmap_age_gfn_range_lockless (test_young / the
 *              lockless clear_young): no mmu_lock; kvm_rmap_lock_readonly,
 *              walk the chain (for_each_rmap_spte_lockless), then
 *              kvm_rmap_unlock_readonly, NPASS times each.  Two readers,
 *              because readers also exclude each other (the lock bit is
 *              not a reader-writer lock).
 * What the SPTEs themselves hold (A/D bits, cleared locklessly with
 * atomics) is not protected by the rmap lock and is not modelled.
 *
 * Memory is sequentially consistent.  The cmpxchg is acquire and the
 * unlock store is release; that pair is exactly what makes every access
 * inside one critical section happen-before every access inside the next,
 * which is the SC behaviour the model assumes for lock-protected data.
 *
 * Properties:
 *   mutual exclusion   at most one process is inside a critical section
 *                      of the chain (in_cs <= 1), counting a writer whose
 *                      lock was elided because the rmap was empty;
 *   no torn reads      a reader never dereferences a freed desc, never
 *                      finds a NULL entry below spte_count, and the set of
 *                      sptes it walked equals the set the rmap holds
 *                      (the ghost set, updated by writers at unlock);
 *   no lost entries    at every lock and at the end, the chain decodes to
 *                      exactly the ghost set; a readonly unlock finds the
 *                      chain it locked (the kernel's KVM_MMU_WARN_ON);
 *   no deadlock        no invalid end states (all processes finish);
 *   progress           with -DLIVENESS, the LTL property "eventually all
 *                      processes are done" under weak fairness.
 *
 * Deliberately broken variants (spin must find each):
 *   BUG_NO_EMPTY_RECHECK     __kvm_rmap_lock without the "recheck for an
 *                            empty rmap" after spinning: a reader that
 *                            waited while a writer emptied the rmap locks
 *                            the empty rmap, returns 0, and its readonly
 *                            unlock (a no-op for 0) never clears the bit:
 *                            the lock leaks, the next writer spins
 *                            forever.  Spin reports the leaked bit at the
 *                            end (an assertion) or the stuck writer (an
 *                            invalid end state), whichever it meets first.
 *   BUG_READER_NO_LOCK       the reader walks with kvm_rmap_get() alone,
 *                            as if the chain were RCU-protected: it sees
 *                            half-built descs and freed descs.
 *   BUG_WRITER_NO_RMAP_LOCK  writers rely on mmu_lock alone (the code
 *                            before the lock bit existed): a reader's
 *                            readonly unlock writes back a stale chain.
 */

#define KVM_RMAP_MANY	1
#define KVM_RMAP_LOCKED	2
#define NSPTE		3	/* spte ids 1..NSPTE; bit s of a set */
#define EXT		3	/* PTE_LIST_EXT */
#define NDESC		2
#define DESC_ID0	4	/* desc d is encoded as (DESC_ID0 + d) << 2 */
#define NOPS		4
#define NPASS		2
#define NREADER		2

#define SINGLE(s)	((s) << 2)
#define DESCVAL(d)	((((DESC_ID0) + (d)) << 2) | KVM_RMAP_MANY)
#define IS_MANY(v)	(((v) & KVM_RMAP_MANY) != 0)
#define DESC_OF(v)	(((v) >> 2) - DESC_ID0)
#define SPTE_OF(v)	((v) >> 2)
#define BIT(s)		(1 << (s))

byte rmap_val;			/* rmap_head->val */
byte desc_cnt[NDESC];		/* pte_list_desc.spte_count */
byte desc_spte[NDESC * EXT];	/* pte_list_desc.sptes[] */
bool desc_alloc[NDESC];		/* allocated (vs. freed to the cache) */

byte ghost;			/* the set of sptes the rmap holds */
byte in_cs;			/* processes inside a chain critical section */
byte done;			/* processes finished (LIVENESS) */

#ifdef LIVENESS
ltl progress { <> (done == NREADER + 1) }
#endif

inline enter_cs()
{
	in_cs++;
	assert(in_cs == 1)
}

/*
 * The set of sptes the chain @v holds, into @set (a single step: this is
 * the observer's view, not a walk by a process).
 */
inline decode(v, set, k)
{
	d_step {
		set = 0;
		if
		:: v == 0 -> skip
		:: !IS_MANY(v) -> set = BIT(SPTE_OF(v))
		:: else ->
			assert(desc_alloc[DESC_OF(v)]);
			k = 0;
			do
			:: k < desc_cnt[DESC_OF(v)] ->
				set = set | BIT(desc_spte[DESC_OF(v) * EXT + k]);
				k++
			:: else -> break
			od
		fi;
		k = 0
	}
}

/*
 * __kvm_rmap_lock(rmap_head): returns in @old the value without the
 * LOCKED bit, 0 if the rmap was (or became) empty and was not locked.
 */
inline __kvm_rmap_lock(old, ok, is_writer)
{
	ok = false;
	atomic {
		old = rmap_val;		/* atomic_long_read */
		if
		:: old == 0 && is_writer -> enter_cs()	/* lock elided */
		:: else -> skip
		fi
	}
	if
	:: old == 0 -> skip
	:: else ->
		do
		:: !ok ->
			/*
			 * while (old & KVM_RMAP_LOCKED) { cpu_relax(); old =
			 * atomic_long_read(); }: the loop ends with the read
			 * that finds the bit clear; a blocking guard on that
			 * read has the same reachable states and makes a
			 * lock that is never released a deadlock (an invalid
			 * end state) instead of an infinite loop.
			 */
			if
			:: (old & KVM_RMAP_LOCKED) != 0 ->
				atomic {
					(rmap_val & KVM_RMAP_LOCKED) == 0 ->
					old = rmap_val
				}
			:: else -> skip
			fi;
#ifndef BUG_NO_EMPTY_RECHECK
			/* the holder purged the rmap: nothing to lock */
			if
			:: old == 0 ->
				if :: is_writer -> enter_cs() :: else -> skip fi;
				break
			:: else -> skip
			fi;
#endif
			/* atomic_long_try_cmpxchg_acquire(&val, &old, old | LOCKED) */
			atomic {
				if
				:: rmap_val == old ->
					rmap_val = old | KVM_RMAP_LOCKED;
					ok = true;
					enter_cs()
				:: else ->
					old = rmap_val
				fi
			}
		:: else -> break
		od
	fi
}

/* kvm_rmap_unlock(rmap_head, new): atomic_long_set_release; new ghost set */
inline kvm_rmap_unlock(new, newset)
{
	atomic {
		assert((new & KVM_RMAP_LOCKED) == 0);
		rmap_val = new;
		ghost = newset;
		in_cs--
	}
}

/* mmu_alloc_pte_list_desc / mmu_free_pte_list_desc */
inline alloc_desc(d)
{
	atomic {
		if
		:: !desc_alloc[0] -> d = 0
		:: !desc_alloc[1] -> d = 1
		fi;
		desc_alloc[d] = true
	}
}

inline free_desc(d)
{
	d_step {
		desc_alloc[d] = false;
		desc_cnt[d] = 0;
		desc_spte[d * EXT + 0] = 0;
		desc_spte[d * EXT + 1] = 0;
		desc_spte[d * EXT + 2] = 0
	}
}

/* The writer's lock: kvm_rmap_lock() (mmu_lock held for write). */
inline writer_lock(old, ok, set, k)
{
#ifndef BUG_WRITER_NO_RMAP_LOCK
	__kvm_rmap_lock(old, ok, true);
#else
	atomic {
		old = rmap_val & ~KVM_RMAP_LOCKED;
		enter_cs()
	}
#endif
	/* no lost entries: the chain is what the writers left */
	decode(old, set, k);
	assert(set == ghost)
}

inline writer_unlock(new, newset)
{
#ifndef BUG_WRITER_NO_RMAP_LOCK
	kvm_rmap_unlock(new, newset);
#else
	atomic {
		/* a plain store: any LOCKED bit a reader set is overwritten */
		rmap_val = new;
		ghost = newset;
		in_cs--
	}
#endif
}

active proctype writer()
{
	byte op, s, old, new, d, i, j, n, set, k;
	bool ok;

	op = 0;
	do
	:: op < NOPS ->
		/* choose the next operation: add a missing spte, remove a present one, zap all */
		if
		:: (ghost & BIT(1)) == 0 -> s = 1
		:: (ghost & BIT(2)) == 0 -> s = 2
		:: (ghost & BIT(3)) == 0 -> s = 3
		:: (ghost & BIT(1)) != 0 -> s = 1 + 8
		:: (ghost & BIT(2)) != 0 -> s = 2 + 8
		:: (ghost & BIT(3)) != 0 -> s = 3 + 8
		:: ghost != 0 -> s = 16
		fi;
		writer_lock(old, ok, set, k);
		if
		:: s < 8 ->
			/* pte_list_add(cache, spte s, rmap_head) */
			if
			:: old == 0 ->
				new = SINGLE(s)
			:: old != 0 && !IS_MANY(old) ->
				/* 1 -> many: a new desc holding the old spte and s */
				alloc_desc(d);
				desc_spte[d * EXT + 0] = SPTE_OF(old);
				desc_spte[d * EXT + 1] = s;
				desc_cnt[d] = 2;
				new = DESCVAL(d)
			:: old != 0 && IS_MANY(old) ->
				/* many -> many: desc->sptes[desc->spte_count++] = spte */
				d = DESC_OF(old);
				assert(desc_cnt[d] < EXT);
				desc_spte[d * EXT + desc_cnt[d]] = s;
				desc_cnt[d]++;
				new = old
			fi;
			writer_unlock(new, ghost | BIT(s))
		:: s > 8 && s < 16 ->
			/* pte_list_remove(kvm, spte s, rmap_head) */
			s = s - 8;
			if
			:: !IS_MANY(old) ->
				assert(SPTE_OF(old) == s);
				new = 0
			:: else ->
				/*
				 * pte_list_desc_remove_entry: move the last entry into
				 * the hole, shrink, free the desc when it is empty.
				 */
				d = DESC_OF(old);
				n = desc_cnt[d];
				i = 0;
				do
				:: desc_spte[d * EXT + i] == s -> break
				:: else -> i++; assert(i < n)
				od;
				j = n - 1;
				desc_spte[d * EXT + i] = desc_spte[d * EXT + j];
				desc_spte[d * EXT + j] = 0;
				desc_cnt[d] = j;
				if
				:: j == 0 ->
					free_desc(d);
					new = 0
				:: else ->
					new = old
				fi
			fi;
			writer_unlock(new, ghost & ~BIT(s))
		:: s == 16 ->
			/* kvm_zap_all_rmap_sptes: drop every spte, free the descs */
			if
			:: IS_MANY(old) -> d = DESC_OF(old); free_desc(d)
			:: else -> skip
			fi;
			writer_unlock(0, 0)
		fi;
		/* dead locals back to 0: fewer distinct states */
		d_step { s = 0; old = 0; new = 0; d = 0; i = 0; j = 0; n = 0; set = 0; ok = false };
		op++
	:: else -> break
	od;
	/* no lost entries at the end either */
	(done == NREADER);
	decode(rmap_val, set, k);
	assert(set == ghost && (rmap_val & KVM_RMAP_LOCKED) == 0);
	done++
}

/*
 * kvm_rmap_age_gfn_range_lockless(): for one rmap,
 * rmap_val = kvm_rmap_lock_readonly(rmap_head);
 * for_each_rmap_spte_lockless(...) { test / clear the Accessed bit }
 * kvm_rmap_unlock_readonly(rmap_head, rmap_val);
 */
active [NREADER] proctype reader()
{
	byte pass, old, cur, d, n, i, s, seen;
	bool ok;

	pass = 0;
	do
	:: pass < NPASS ->
#ifndef BUG_READER_NO_LOCK
		/* kvm_rmap_lock_readonly: preempt_disable(); __kvm_rmap_lock() */
		__kvm_rmap_lock(old, ok, false);
		if
		:: old == 0 && ok ->
			/*
			 * only with BUG_NO_EMPTY_RECHECK: an empty rmap was
			 * locked; the caller sees 0, walks nothing, and its
			 * kvm_rmap_unlock_readonly(0) returns at once: the bit
			 * stays set.
			 */
			in_cs--
		:: else -> skip
		fi;
#else
		old = 1;
#endif
		if
		:: old != 0 ->
			/* rmap_get_first: kvm_rmap_get() = val & ~KVM_RMAP_LOCKED */
			cur = rmap_val & ~KVM_RMAP_LOCKED;
			seen = 0;
			if
			:: cur == 0 -> skip
			:: cur != 0 && !IS_MANY(cur) ->
				seen = BIT(SPTE_OF(cur))
			:: cur != 0 && IS_MANY(cur) ->
				d = DESC_OF(cur);
				atomic {
					assert(desc_alloc[d]);	/* no use of a freed desc */
					n = desc_cnt[d]
				}
				i = 0;
				do
				:: i < n ->
					atomic {
						assert(desc_alloc[d]);
						s = desc_spte[d * EXT + i]
					}
					assert(s != 0);		/* no half-built entry */
					seen = seen | BIT(s);
					i++
				:: else -> break
				od
			fi;
			/* the walk saw exactly the chain: no torn/intermediate rmap */
			assert(seen == ghost);
#ifndef BUG_READER_NO_LOCK
			/* kvm_rmap_unlock_readonly(rmap_head, old); preempt_enable() */
			atomic {
				assert(old == (rmap_val & ~KVM_RMAP_LOCKED));
				rmap_val = old;
				in_cs--
			}
#endif
		:: else -> skip
		fi;
		d_step { old = 0; cur = 0; d = 0; n = 0; i = 0; s = 0; seen = 0; ok = false };
		pass++
	:: else -> break
	od;
	done++
}
