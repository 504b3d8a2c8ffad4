/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Idle page tracking as an aging driver (Documentation/admin-guide/mm/
 * idle_page_tracking.rst): /sys/kernel/mm/page_idle/bitmap has one bit per
 * PFN, in 64-bit words.  Writing a 1 bit runs page_idle_clear_pte_refs()
 * on that page -- an rmap walk that clears the Accessed bit of every PTE
 * mapping it with ptep_clear_young_notify(), so mmu_notifier_clear_young()
 * reaches KVM, which clears the Accessed bit of the guest's SPTE
 * (kvm_age_gfn) -- and marks the page idle.  Reading gives 1 for a page
 * still idle; for a page marked idle the read first clears the PTE refs
 * again, so a page is read as young (0) when the host or, through KVM,
 * the guest touched it since it was marked.
 *
 * Pages are given as a set of PFNs, kept as runs of bitmap words with a
 * mask per word, so that a pass writes 1 bits for exactly these pages and
 * nothing else.  Words between two used words are written as zeros when
 * the gap is short (fewer syscalls; a zero bit costs the kernel a test),
 * and skipped when it is long (a sparse set on a large host must not make
 * the kernel walk gigabytes of other memory's bits).
 *
 * Host state: the bitmap has no switch to restore; marking pages idle
 * changes nothing but their idle/young page flags, which the kernel's own
 * reclaim treats as a hint.  The driver only ever writes 1 bits for the
 * pages of its set.
 *
 * $KMMU_PAGE_IDLE_BITMAP points the driver at another file (tests of the
 * driver itself on kernels without CONFIG_IDLE_PAGE_TRACKING).
 */
#ifndef KMMU_PAGE_IDLE_H
#define KMMU_PAGE_IDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Words of zeros written rather than starting a new run (4 KiB). */
#define KMMU_IDLE_GAP_WORDS	512

struct kmmu_idle_run {
	uint64_t word;		/* first word: PFNs word * 64 .. */
	uint64_t nr;		/* words */
	uint64_t first;		/* index of its first mask in kmmu_idle_set.mask */
};

struct kmmu_idle_set {
	uint64_t *mask;		/* 1 bits: the set's PFNs, all runs' words in a row */
	struct kmmu_idle_run *runs;
	int nr_runs;
	uint64_t nr_words;	/* entries of mask */
	uint64_t nr_pages;	/* distinct PFNs */
};

/* $KMMU_PAGE_IDLE_BITMAP or /sys/kernel/mm/page_idle/bitmap. */
const char *kmmu_page_idle_path(void);
/*
 * Can this process use the bitmap?  0 if so; -ENODEV if it does not exist
 * (CONFIG_IDLE_PAGE_TRACKING off), -EPERM if it cannot be opened for
 * reading and writing (not root).  @why (may be NULL) says which.
 */
int kmmu_page_idle_probe(char *why, size_t len);
/* The bitmap, open read-write (close-on-exec): fd or -errno. */
int kmmu_page_idle_open(void);

/*
 * Builds @s from @n PFNs (any order, duplicates allowed).  0 or -ENOMEM;
 * an empty set for n == 0.
 */
int kmmu_idle_set_from_pfns(struct kmmu_idle_set *s, const uint64_t *pfns, size_t n);
/*
 * Builds @s from the pages backing [@addr, @addr + @len) (page aligned,
 * every page present: touch and mlock() them), found through
 * /proc/self/pagemap.  0, -ENOENT (a page not present), -EPERM (PFNs
 * hidden: not root) or -ENOMEM.
 */
int kmmu_idle_set_from_range(struct kmmu_idle_set *s, const void *addr, size_t len);
void kmmu_idle_set_free(struct kmmu_idle_set *s);

/*
 * One aging pass: writes the set's 1 bits to the bitmap open on @fd.
 * 0 or -errno (of the first write that failed).
 */
int kmmu_page_idle_mark(int fd, const struct kmmu_idle_set *s);
/*
 * Reads the bitmap for the set: the number of its pages that are not
 * idle (touched since marked, or never marked), or -errno.
 */
int64_t kmmu_page_idle_count_young(int fd, const struct kmmu_idle_set *s);
/*
 * Reads the bitmap for @n pages, for verdicts per page: @idle[i] is true
 * if @pfns[i] is idle, false if not (touched since marked, never marked,
 * or not a user page on an LRU list: a THP's tail pages are never idle,
 * its head stands for the whole folio).  Each bitmap word is read once:
 * a read is itself an aging pass over the idle pages of its 64, so
 * reading a word again would age them again.  0 or -errno.
 */
int kmmu_page_idle_read(int fd, const uint64_t *pfns, size_t n, bool *idle);

#endif
