/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Forced into every object of the ThreadSanitizer build (`make tsan`,
 * -include) and nowhere else.  Debian's liburcu 0.13 is not built for
 * TSan: rcu_assign_pointer()/rcu_dereference() are a compiler barrier, a
 * fence and volatile accesses, and a grace period ends inside liburcu with
 * membarrier() and futexes, none of which TSan can see.  Every RCU
 * publication and every free after a grace period would be a false report.
 * This header states the same ordering in terms TSan understands, without
 * changing what the code does:
 *   - rcu_assign_pointer/rcu_dereference become release/acquire atomics
 *     (what liburcu 0.14 does with CONFIG_RCU_USE_ATOMIC_BUILTINS);
 *   - every read-side unlock and every call_rcu() releases, and the end
 *     of synchronize_rcu(), rcu_barrier() and every call_rcu callback of
 *     ours acquires, one "grace period" sync object: exactly the edges
 *     RCU guarantees (a read section that ended before the grace period,
 *     and what the caller of call_rcu did before it, happen before what
 *     follows the grace period).
 * What remains, liburcu's own internals, is in ref/tests/tsan.supp.
 */
#ifndef KMMU_TSAN_URCU_H
#define KMMU_TSAN_URCU_H

#include <urcu/urcu-memb.h>
#include <sanitizer/tsan_interface.h>

/* One address for the whole program: a weak definition in every object. */
__attribute__((weak)) char kmmu_tsan_grace_period;

static inline void kmmu_tsan_read_unlock(void)
{
	__tsan_release(&kmmu_tsan_grace_period);
	urcu_memb_read_unlock();
}

static inline void kmmu_tsan_synchronize_rcu(void)
{
	urcu_memb_synchronize_rcu();
	__tsan_acquire(&kmmu_tsan_grace_period);
}

static inline void kmmu_tsan_barrier(void)
{
	urcu_memb_barrier();
	__tsan_acquire(&kmmu_tsan_grace_period);
}

static inline void kmmu_tsan_call_rcu(struct rcu_head *head,
				      void (*func)(struct rcu_head *head))
{
	__tsan_release(&kmmu_tsan_grace_period);
	urcu_memb_call_rcu(head, func);
}

#undef urcu_memb_read_unlock
#define urcu_memb_read_unlock		kmmu_tsan_read_unlock
#undef urcu_memb_synchronize_rcu
#define urcu_memb_synchronize_rcu	kmmu_tsan_synchronize_rcu
#undef urcu_memb_barrier
#define urcu_memb_barrier		kmmu_tsan_barrier
#undef urcu_memb_call_rcu
#define urcu_memb_call_rcu		kmmu_tsan_call_rcu
#undef rcu_dereference
#define rcu_dereference(p)		__atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#undef rcu_assign_pointer
#define rcu_assign_pointer(p, v)	__atomic_store_n(&(p), (v), __ATOMIC_RELEASE)

/* Used by table_free.c's call_rcu callback. */
#define KMMU_RCU_CALLBACK_BEGIN()	__tsan_acquire(&kmmu_tsan_grace_period)

#endif
