/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reclaim as an aging driver: memory of a process in a memory cgroup whose
 * limit is lowered is reclaimed by the kernel's LRU.  Reclaim decides what
 * to evict with folio_referenced(), which clears and tests the Accessed
 * bits through the rmap -- and calls mmu_notifier_clear_flush_young(), so
 * KVM ages (and, for what is evicted, unmaps) the guest's SPTEs.
 * Anonymous memory (guest RAM) is only reclaimable with swap: the driver
 * sets up a zram swap device for the test.
 *
 * Pieces, each optional, in this order:
 *   kmmu_reclaim_init()      the janitor; before allocating test memory
 *   kmmu_reclaim_swap_on()   a new zram device (hot_add; else an unused
 *                            zram0), a swap header, swapon(2)
 *   kmmu_reclaim_memcg()     a memory cgroup: v1 if the memory controller
 *                            is mounted as v1 (a child of this process's
 *                            memcg), else v2 (a child of the root; a
 *                            cgroup2 is mounted if none is)
 *   kmmu_reclaim_attach()    move a process into it
 *   kmmu_reclaim_limit()     lower (or lift) its limit
 *   kmmu_reclaim_reclaim()   reclaim a number of bytes from it now
 *   kmmu_reclaim_teardown()  limit lifted, processes moved back, cgroup
 *                            removed, swapoff, zram reset and removed
 * The teardown also runs on SIGINT/SIGTERM/SIGHUP (kmmu_cleanup stack) and,
 * if the process dies otherwise, in its janitor (kmmu/janitor.h).
 *
 * Errors are -errno with a reason in @why: -ENODEV (no zram, no memory
 * cgroup controller), -EBUSY (zram0 in use and no hot_add), -EPERM (not
 * root).
 */
#ifndef KMMU_RECLAIM_H
#define KMMU_RECLAIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kmmu/janitor.h"

#define KMMU_RECLAIM_UNLIMITED UINT64_MAX

struct kmmu_reclaim {
	struct kmmu_janitor jan;
	bool inited;
	/* swap */
	int zram_id;			/* -1: none */
	char swap_dev[64];		/* "/dev/zramN" once swapped on */
	/* memory cgroup */
	int cg_version;			/* 1 or 2; 0: none */
	char cg_dir[KMMU_UNDO_PATH];	/* ours */
	char cg_home[KMMU_UNDO_PATH];	/* where this process was */
	bool limit_pushed;
	bool attach_pushed;
};

/* Root, zram and a memory cgroup controller, as kmmu_reclaim_*() need them. */
int kmmu_reclaim_probe(char *why, size_t len);
/* Start the janitor.  0 or -errno. */
int kmmu_reclaim_init(struct kmmu_reclaim *r, char *why, size_t len);
/* A zram swap device of @bytes (lzo-rle or the kernel's default). */
int kmmu_reclaim_swap_on(struct kmmu_reclaim *r, uint64_t bytes, char *why, size_t len);
/* Create the memory cgroup. */
int kmmu_reclaim_memcg(struct kmmu_reclaim *r, char *why, size_t len);
/* Move process @pid (0: this one, all its threads) into the cgroup. */
int kmmu_reclaim_attach(struct kmmu_reclaim *r, pid_t pid);
/*
 * Set the cgroup's limit: v1 memory.limit_in_bytes (the kernel reclaims
 * down to it, EBUSY if it cannot -- it never OOM-kills for it); v2
 * memory.high (reclaim and throttling above it; memory.max would OOM-kill
 * what cannot be reclaimed).  KMMU_RECLAIM_UNLIMITED lifts it.
 */
int kmmu_reclaim_limit(struct kmmu_reclaim *r, uint64_t bytes);
/*
 * Reclaim about @bytes from the cgroup now: v2 memory.reclaim; v1 the limit
 * lowered to usage - @bytes for the moment, then lifted again.  0 or -errno
 * (-EAGAIN: the kernel could not reclaim that much).
 */
int kmmu_reclaim_reclaim(struct kmmu_reclaim *r, uint64_t bytes);
/* Memory charged to the cgroup (v1 usage_in_bytes, v2 memory.current). */
int kmmu_reclaim_usage(struct kmmu_reclaim *r, uint64_t *bytes);
/* Bytes of the cgroup's memory in swap, from memory.stat ("swap"). */
int kmmu_reclaim_swap_usage(struct kmmu_reclaim *r, uint64_t *bytes);
/* Undo everything; 0 or the first -errno.  Safe to call twice. */
int kmmu_reclaim_teardown(struct kmmu_reclaim *r);

/* Is @dev (e.g. "/dev/zram1") in /proc/swaps?  1, 0 or -errno. */
int kmmu_swap_active(const char *dev);
/* Write a version-1 swap header (the kernel's union swap_header) to @dev. */
int kmmu_mkswap(const char *dev, char *why, size_t len);

#endif
