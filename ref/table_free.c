// SPDX-License-Identifier: GPL-2.0
/*
 * RCU-deferred freeing of shadow page tables (see kmmu/table_free.h).
 */
#include <stdlib.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "kmmu/table_free.h"

static long pending;

/* The TSan build says here that the callback follows a grace period. */
#ifndef KMMU_RCU_CALLBACK_BEGIN
#define KMMU_RCU_CALLBACK_BEGIN() do { } while (0)
#endif

static __attribute__((unused)) void table_free_rcu(struct rcu_head *head)
{
	struct kmmu_mmu_page *sp = caa_container_of(head, struct kmmu_mmu_page, rcu_head);

	KMMU_RCU_CALLBACK_BEGIN();
	free(sp);
	__atomic_sub_fetch(&pending, 1, __ATOMIC_RELAXED);
}

void kmmu_table_free(struct kmmu_mmu_page *sp)
{
#ifdef KMMU_MUTATE_IMMEDIATE_FREE
	/* The planted mistake: a walker inside its read section may be on it. */
	free(sp);
#else
	__atomic_add_fetch(&pending, 1, __ATOMIC_RELAXED);
	urcu_memb_call_rcu(&sp->rcu_head, table_free_rcu);
#endif
}

void kmmu_table_free_barrier(void)
{
	urcu_memb_barrier();
}

long kmmu_table_free_pending(void)
{
	return __atomic_load_n(&pending, __ATOMIC_RELAXED);
}
