// SPDX-License-Identifier: GPL-2.0
/*
 * huge_mapping_test's guest: the code its two vCPUs run at CPL3, one
 * command of the host's at a time (enum hm_cmd): writing and checking the
 * slots' patterns through the 2M and the 4K view, the notifier steps'
 * touch, race, storm and verify, the invalid_memslots sweeps and probes.
 * A wrong value is a GUEST_FAIL with what the page held and should have.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "huge_mapping.h"

/* ---- guest ---- */

static inline uint64_t hm_rd(uint64_t gva)
{
	return *(volatile uint64_t *)gva;
}

static inline void hm_wr(uint64_t gva, uint64_t v)
{
	*(volatile uint64_t *)gva = v;
}

static inline uint64_t hm_gexp(struct hm_shared *sh, uint64_t s, uint64_t page)
{
	return ((volatile uint64_t *)sh->slot[s].exp_gva)[page];
}

/* Page @page of slot @s through the views in @views (bit 0: 2M, bit 1: 4K). */
static void hm_g_check_page(struct hm_shared *sh, uint64_t s, uint64_t page, uint64_t views)
{
	uint64_t gpa = sh->slot[s].gpa + page * HM_PAGE, want = hm_gexp(sh, s, page), a;

	for (a = 0; a < 2; a++) {
		uint64_t gva = gpa + (a ? HM_ALIAS : 0), w;

		if (!(views & (1 << a)))
			continue;
		w = hm_rd(gva);
		if (w != want)
			GUEST_FAIL("slot %lu page %lu: load from gva %#lx (gpa %#lx) read %#lx, expected %#lx",
				   s, page, gva, gpa, w, want);
		w = hm_rd(gva + HM_W1);
		if (w != hm_tail(want))
			GUEST_FAIL("slot %lu page %lu: load from gva %#lx (gpa %#lx) read %#lx, expected %#lx",
				   s, page, gva + HM_W1, gpa + HM_W1, w, hm_tail(want));
	}
}

static void hm_g_check_slots(struct hm_shared *sh, uint64_t views, uint64_t mask)
{
	uint64_t s, p;

	for (s = 0; s < sh->nr_slots; s++) {
		if (!(mask & (1ULL << s)) || !sh->slot[s].size)
			continue;
		for (p = 0; p < sh->slot[s].size / HM_PAGE; p++)
			hm_g_check_page(sh, s, p, views);
	}
}

/* Every page of @s's 2M frame around @page but [@page, @page + @n) itself. */
static void hm_g_check_frame(struct hm_shared *sh, uint64_t s, uint64_t page, uint64_t n)
{
	uint64_t gpa = sh->slot[s].gpa, pages = sh->slot[s].size / HM_PAGE;
	uint64_t frame = (gpa + page * HM_PAGE) & ~(HM_HUGE - 1), p, first, last;

	first = frame > gpa ? (frame - gpa) / HM_PAGE : 0;
	last = (frame + HM_HUGE - gpa) / HM_PAGE;
	if (last > pages)
		last = pages;
	for (p = first; p < last; p++)
		if (p < page || p >= page + n)
			hm_g_check_page(sh, s, p, 3);
}

/* HM_WRITE: every page of one slot, in the host's order, then read back. */
static void hm_g_write(struct hm_shared *sh)
{
	uint64_t s = sh->arg[0], gen = sh->arg[1], start = sh->arg[3], stride = sh->arg[4];
	uint64_t gpa = sh->slot[s].gpa, n = sh->slot[s].size / HM_PAGE, k, p, v, w;

	for (k = 0; k < n; k++) {
		p = (start + k * stride) % n;
		v = hm_pat(HM_TAG_GUEST, s, p, gen);
		hm_wr(gpa + p * HM_PAGE, v);
		hm_wr(gpa + p * HM_PAGE + HM_W1, hm_tail(v));
	}
	for (p = 0; p < n; p++) {
		v = hm_pat(HM_TAG_GUEST, s, p, gen);
		w = hm_rd(HM_ALIAS + gpa + p * HM_PAGE);
		if (w != v)
			GUEST_FAIL("slot %lu page %lu: stored %#lx through the 2M view, read %#lx back through the 4K view (gpa %#lx)",
				   s, p, v, w, gpa + p * HM_PAGE);
		w = hm_rd(HM_ALIAS + gpa + p * HM_PAGE + HM_W1);
		if (w != hm_tail(v))
			GUEST_FAIL("slot %lu page %lu: stored %#lx through the 2M view, read %#lx back through the 4K view (gpa %#lx)",
				   s, p, hm_tail(v), w, gpa + p * HM_PAGE + HM_W1);
	}
}

/*
 * The notifier steps operate on pages [page, page + n) of slot s, and on
 * page ap of slot as when another slot maps the same (single) host page.
 * The values before and after are computed, not looked up: the host
 * changes the expectations while the sweeping vCPU reads.
 */
static inline uint64_t hm_g_old(struct hm_shared *sh, uint64_t q)
{
	return sh->arg[HM_A_NEWKIND] == HM_NEW_HOST_ON_ZERO ? 0 :
	       hm_pat(HM_TAG_GUEST, sh->arg[HM_A_SLOT], q, sh->arg[HM_A_OLDGEN]);
}

static inline uint64_t hm_g_new(struct hm_shared *sh, uint64_t q)
{
	switch (sh->arg[HM_A_NEWKIND]) {
	case HM_NEW_STORM:
		return hm_g_storm_val(sh, q, sh->arg[HM_A_STORM]);
	case HM_NEW_ZERO:
		return 0;
	case HM_NEW_OLD:
		return hm_g_old(sh, q);
	case HM_NEW_FILE:
		return hm_pat(HM_TAG_FILE, HM_FILE_SLOT, sh->arg[HM_A_NEWARG] + q - sh->arg[HM_A_PAGE], 0);
	default:
		return hm_pat(HM_TAG_HOST, sh->arg[HM_A_SLOT], q, sh->arg[HM_A_NEWARG]);
	}
}

/* The target page of slot s that (t, q) shows, or HM_NONE. */
static inline uint64_t hm_g_target(struct hm_shared *sh, uint64_t t, uint64_t q)
{
	uint64_t page = sh->arg[HM_A_PAGE];

	if (t == sh->arg[HM_A_SLOT] && q >= page && q < page + sh->arg[HM_A_NPAGES])
		return q;
	if (t == sh->arg[HM_A_ASLOT] && q == sh->arg[HM_A_APAGE])
		return page;
	return HM_NONE;
}

/* HM_TOUCH: the verifier maps the pages (stores, or loads) and their frame. */
static void hm_g_touch(struct hm_shared *sh)
{
	uint64_t s = sh->arg[HM_A_SLOT], page = sh->arg[HM_A_PAGE], n = sh->arg[HM_A_NPAGES];
	uint64_t q, gpa, v, w;

	for (q = page; q < page + n; q++) {
		gpa = sh->slot[s].gpa + q * HM_PAGE;
		if (sh->arg[HM_A_NEWKIND] == HM_NEW_HOST_ON_ZERO) {
			hm_g_check_page(sh, s, q, 3);
			continue;
		}
		v = hm_pat(HM_TAG_GUEST, s, q, sh->arg[HM_A_GEN]);
		hm_wr(gpa, v);
		hm_wr(gpa + HM_W1, hm_tail(v));
		w = hm_rd(HM_ALIAS + gpa);
		if (w != v)
			GUEST_FAIL("slot %lu page %lu: stored %#lx through the 2M view, read %#lx back through the 4K view (gpa %#lx)",
				   s, q, v, w, gpa);
	}
	hm_g_check_frame(sh, s, page, n);
}

/*
 * HM_RACE, on the vCPU that does not verify: sweeps the target's slot (and
 * its alias) until the host says the operation returned, then once more.
 * A target page reads its value before or after while the operation runs,
 * only the value after once it returned; every other page its own value.
 */
static void hm_g_race(struct hm_shared *sh)
{
	uint64_t pass, done, i, t, q, x, gva, w, old, new;

	for (pass = 0;; pass++) {
		done = __atomic_load_n(&sh->race_done, __ATOMIC_ACQUIRE);
		for (i = 0; i < 2; i++) {
			t = i ? sh->arg[HM_A_ASLOT] : sh->arg[HM_A_SLOT];
			if (t == HM_NONE)
				continue;
			for (q = 0; q < sh->slot[t].size / HM_PAGE; q++) {
				gva = sh->slot[t].gpa + q * HM_PAGE + ((pass & 1) ? HM_ALIAS : 0);
				w = hm_rd(gva);
				x = hm_g_target(sh, t, q);
				if (x == HM_NONE) {
					if (w != hm_gexp(sh, t, q))
						GUEST_FAIL("slot %lu page %lu: while the host operated on other pages, a load from gva %#lx read %#lx, expected %#lx",
							   t, q, gva, w, hm_gexp(sh, t, q));
					continue;
				}
				old = hm_g_old(sh, x);
				new = hm_g_new(sh, x);
				if (done && w != new)
					GUEST_FAIL("slot %lu page %lu: after the host's operation returned, a load from gva %#lx read %#lx, expected %#lx (the content before: %#lx)",
						   t, q, gva, w, new, old);
				if (w != old && w != new)
					GUEST_FAIL("slot %lu page %lu: during the host's operation, a load from gva %#lx read %#lx, neither %#lx (before) nor %#lx (after)",
						   t, q, gva, w, old, new);
			}
		}
		if (!pass)
			__atomic_store_n(&sh->race_started, 1, __ATOMIC_RELEASE);
		if (done)
			break;
		GUEST_SYNC(HM_SYNC_YIELD);
	}
}

/*
 * HM_RACE for a storm: reads the two pages (mostly through the 4K view,
 * where the shadow MMU prefetches neighbouring PTEs) between the host's
 * steps.  A read whose step count was the same before and after it must
 * see exactly that step's content: a mapping that survived a step (an
 * invalidation missed by a fault that raced with it) shows an older one.
 */
static void hm_g_storm(struct hm_shared *sh)
{
	uint64_t s = sh->arg[HM_A_SLOT], page = sh->arg[HM_A_PAGE], pass, done, q, gva;
	uint64_t s1, s2, w;

	for (pass = 0;; pass++) {
		done = __atomic_load_n(&sh->race_done, __ATOMIC_ACQUIRE);
		for (q = page; q < page + 2; q++) {
			gva = sh->slot[s].gpa + q * HM_PAGE + ((pass & 3) ? HM_ALIAS : 0);
			s1 = __atomic_load_n(&sh->storm_seq, __ATOMIC_ACQUIRE);
			w = hm_rd(gva);
			__asm__ volatile("" ::: "memory");
			s2 = __atomic_load_n(&sh->storm_seq, __ATOMIC_ACQUIRE);
			if (s1 != s2 || (s1 & 1)) {
				sh->storm_racy++;
				continue;
			}
			sh->storm_checked++;
			if (w != hm_g_storm_val(sh, q, s1 / 2))
				GUEST_FAIL("slot %lu page %lu: a load from gva %#lx read %#lx between the host's steps (seq %lu), expected %#lx",
					   s, q, gva, w, s1, hm_g_storm_val(sh, q, s1 / 2));
		}
		if (!pass)
			__atomic_store_n(&sh->race_started, 1, __ATOMIC_RELEASE);
		if (done)
			break;
		if ((pass & 15) == 15)
			GUEST_SYNC(HM_SYNC_YIELD);
	}
}

/* HM_VERIFY: the new content, the frame around it, then stores through the 4K view. */
static void hm_g_verify(struct hm_shared *sh)
{
	uint64_t s = sh->arg[HM_A_SLOT], page = sh->arg[HM_A_PAGE], n = sh->arg[HM_A_NPAGES];
	uint64_t as = sh->arg[HM_A_ASLOT], ap = sh->arg[HM_A_APAGE], q, gpa, v, w;

	for (q = page; q < page + n; q++)
		hm_g_check_page(sh, s, q, 3);
	if (as != HM_NONE)
		hm_g_check_page(sh, as, ap, 3);
	hm_g_check_frame(sh, s, page, n);
	/*
	 * Last page first: after mprotect() the first store must be the one
	 * that fails KVM_RUN (the host then makes them all writable again).
	 */
	for (q = page + n; q-- > page;) {
		gpa = sh->slot[s].gpa + q * HM_PAGE;
		v = hm_pat(HM_TAG_GUEST, s, q, sh->arg[HM_A_GEN]);
		__atomic_store_n(&sh->verify_at, gpa, __ATOMIC_RELEASE);
		hm_wr(HM_ALIAS + gpa, v);
		hm_wr(HM_ALIAS + gpa + HM_W1, hm_tail(v));
		w = hm_rd(gpa);
		if (w != v)
			GUEST_FAIL("slot %lu page %lu: stored %#lx through the 4K view, read %#lx back through the 2M view (gpa %#lx)",
				   s, q, v, w, gpa);
		if (as != HM_NONE) {
			w = hm_rd(sh->slot[as].gpa + ap * HM_PAGE);
			if (w != v)
				GUEST_FAIL("slot %lu page %lu: stored %#lx through slot %lu page %lu, read %#lx through this alias of the same host page",
					   as, ap, v, s, q, w);
		}
	}
}

/*
 * Places where no memslot is (ranges KVM refused to create a slot at,
 * places slots were moved or deleted from) must exit as MMIO: a mapping
 * left there reads memory.
 */
static void hm_g_probes(struct hm_shared *sh)
{
	uint64_t k, w;

	for (k = 0; k < sh->nr_probes; k++) {
		w = hm_rd(sh->probe_gpa[k] & ~(HM_PAGE - 1));
		if (w != HM_POISON)
			GUEST_FAIL("gpa %#lx, where no memslot is, read %#lx: not MMIO (a mapping survived the slot's removal or refusal)",
				   sh->probe_gpa[k], w);
	}
}

/*
 * HM_SPIN (invalid_memslots) until the host sets stop.  vCPU 0 reads the
 * stable slots exactly; vCPU 1 reads the churned slots at both their
 * places (own content, or MMIO while absent) and the refused ranges
 * (MMIO only).
 */
static void hm_g_spin(struct hm_shared *sh, uint32_t v)
{
	uint64_t s, p, k, w, gpa;

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		if (v == 0) {
			hm_g_check_slots(sh, 1, sh->arg[0]);
		} else {
			for (s = 0; s < sh->nr_slots; s++) {
				if (!(sh->arg[1] & (1ULL << s)))
					continue;
				for (p = 0; p < sh->slot[s].size / HM_PAGE; p++) {
					for (k = 0; k < 2; k++) {
						gpa = (k ? sh->slot[s].alt_gpa : sh->slot[s].gpa) + p * HM_PAGE;
						w = hm_rd(gpa);
						if (w != hm_gexp(sh, s, p) && w != HM_POISON)
							GUEST_FAIL("churned slot %lu page %lu: load from gpa %#lx read %#lx, neither its content %#lx nor MMIO",
								   s, p, gpa, w, hm_gexp(sh, s, p));
					}
				}
			}
			hm_g_probes(sh);
		}
		__atomic_store_n(&sh->progress[v], sh->progress[v] + 1, __ATOMIC_RELEASE);
		GUEST_SYNC(HM_SYNC_YIELD);
	}
}

void hm_guest(uint32_t v, void *arg)
{
	struct hm_shared *sh = arg;

	for (;;) {
		switch (GUEST_SYNC(HM_SYNC_GATE)) {
		case HM_QUIT:
			return;
		case HM_WRITE:
			if (v == sh->arg[2])
				hm_g_write(sh);
			break;
		case HM_CHECK:
			if (sh->arg[0] & (1 << v))
				hm_g_check_slots(sh, sh->arg[1], sh->arg[2]);
			break;
		case HM_TOUCH:
			if (v == sh->arg[HM_A_VERIFIER])
				hm_g_touch(sh);
			break;
		case HM_RACE:
			if (v == sh->arg[HM_A_VERIFIER])
				break;
			if (sh->arg[HM_A_NEWKIND] == HM_NEW_STORM)
				hm_g_storm(sh);
			else
				hm_g_race(sh);
			break;
		case HM_VERIFY:
			if (v == sh->arg[HM_A_VERIFIER])
				hm_g_verify(sh);
			break;
		case HM_SPIN:
			hm_g_spin(sh, v);
			break;
		case HM_FINAL:
			hm_g_check_slots(sh, 3, ~0ULL);
			hm_g_probes(sh);
			break;
		case HM_GONE:
			if (sh->arg[0] & (1 << v))
				hm_g_probes(sh);
			break;
		default:
			break;
		}
	}
}
