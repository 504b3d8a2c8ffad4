/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RCU-deferred freeing of shadow page tables (seed 001; upstream the TDP
 * MMU's call_rcu(&sp->rcu_head, tdp_mmu_free_sp_rcu_callback) and x86's
 * HAVE_RCU_TABLE_FREE).  A zap unlinks a table under mmu_lock, but a
 * lockless walker (aging, the simulated hardware, walk_shadow_page_lockless)
 * that read the link before the unlink may still be reading the table:
 * the memory is handed to urcu-memb's call_rcu and freed only after every
 * read-side section that could have seen it has ended.
 *
 * Built with -DKMMU_MUTATE_IMMEDIATE_FREE the table is freed at once: the
 * planted mistake that the stress test under ASan must catch.
 */
#ifndef KMMU_TABLE_FREE_H
#define KMMU_TABLE_FREE_H

#include "kmmu/mmu.h"

/* Frees @sp (already unreachable from roots, parents, lists) after a grace period. */
void kmmu_table_free(struct kmmu_mmu_page *sp);
/* rcu_barrier(): every table freed so far is gone.  Not inside a read-side section. */
void kmmu_table_free_barrier(void);
/* Tables handed to call_rcu whose callback has not run yet. */
long kmmu_table_free_pending(void);

#endif
