// SPDX-License-Identifier: GPL-2.0
/*
 * huge_mapping_test: guest data through 2M mappings, MMU-notifier ranges of
 * one page inside multi-page (and huge-mapped) slots, and memslot updates
 * KVM must refuse while other slots churn.  Four tests, each on its own VM
 * with two vCPUs (each on its own host thread, so on two CPUs where there
 * are two):
 *
 * hm.thp_data, hm.hugetlb_data.  Slots backed by transparent huge pages
 * (anonymous memory, 2M aligned, MADV_HUGEPAGE) or by 2M hugetlb pages
 * (reserved for the test, SKIP if none can be; nr_hugepages is restored
 * on every path), laid out so that KVM must map 2M in some places and
 * must not in others: 2M-aligned slots; slots whose size ends inside a 2M
 * frame (the tail) or whose start does (the head), two slots sharing one
 * frame; slots whose host address is not congruent with their guest
 * address modulo 2M (KVM may map no 2M page in them at all: lpage_info
 * disallows it).  The guest maps the whole window twice: with 2M pages at
 * GVA = GPA (so that the shadow MMU too may map 2M) and with 4K pages at
 * GVA = GPA + HM_ALIAS.  Each round, one vCPU writes a pattern of (slot,
 * page, generation) into every page, slot by slot, and the host checks it
 * through its own mapping; then the host writes the next generation and
 * both vCPUs read every page through both views.  A wrong gfn->pfn offset
 * in a huge mapping shows as another page's pattern; a huge mapping that
 * reaches beyond its slot as another slot's pattern, or as the "foreign"
 * pattern the host keeps in the parts of each buffer that no slot maps,
 * which must also survive the guest's writes.  Rounds alternate the
 * writer, MOVE every slot to places where congruence changes (a slot that
 * could be huge no longer can, and the reverse), and DELETE and re-create
 * them.  KVM's pages_2m, read around each slot's first touch, must not
 * exceed the 2M frames KVM may map in that slot, and must reach the
 * frames it may map whose backing is a PMD-mapped THP (smaps'
 * AnonHugePages, before and after) or a hugetlb page.  The hugetlb test
 * ends with MADV_DONTNEED of one 2M page inside a 4M slot.
 *
 * hm.notifier_one_page.  Operations on ONE page of multi-page slots (now
 * and then two or three, whose last page an off-by-one walk would miss)
 * while the other vCPU keeps reading the slot: MADV_DONTNEED of anonymous memory
 * (new content: zero), of a 4K page inside a huge-mapped THP (the other
 * 511 pages keep their data), of a private memfd mapping (the file's
 * content comes back), of a shared memfd mapping (content unchanged),
 * FALLOC_FL_PUNCH_HOLE of a shared memfd page (zero), mprotect(PROT_READ)
 * (the guest's first store, to the range's last page, must fail KVM_RUN
 * with EFAULT; the host then restores PROT_READ|PROT_WRITE and the stores
 * must land in the pages), host stores into a page
 * the guest has mapped, into zero pages the guest has mapped (4K and the
 * huge zero page: copy-on-write), and into pages two slots map at
 * different guest addresses (both must follow); and storms: 256 times in a
 * row the host drops one of two neighbouring pages and stores into it
 * again while the other vCPU reads both, and a read between two steps
 * must see exactly that step's content (a fault that raced with the
 * invalidation and mapped the dropped page -- a missed mmu_invalidate_seq
 * retry, a prefetch during the invalidation -- shows an older one).  Slots start at host
 * offsets that differ from their guest offsets, so a notifier that
 * converts hva->gfn wrongly, drops a partial range or misses a level of
 * a huge mapping leaves a stale SPTE: the guest reads the old page, or
 * its store does not reach the host.  Every step is exact: the verifying
 * vCPU reads after the operation returned; the reading vCPU accepts the
 * old or new value while it runs and only the new one after.
 *
 * hm.invalid_memslots.  While a host thread deletes, re-adds and moves
 * small slots and both vCPUs read (vCPU 0 stable slots exactly, vCPU 1
 * the churned slots and the target ranges of refused creates, which must
 * exit as MMIO), the main thread tries CREATEs and MOVEs that
 * __kvm_set_memory_region() (and x86's kvm_arch_prepare_memory_region())
 * must refuse, each errno compared with what the kernel specifies:
 * overlaps (EEXIST), misaligned gpa/size/hva, wrapping, too many pages,
 * beyond the guest physical address space (a MOVE there is refused only
 * after the slot was invalidated: the rollback path), ids and address
 * spaces out of range, size/hva/READONLY changes of an existing slot and
 * a MOVE that also toggles READONLY (EINVAL).  The vCPUs must keep making
 * progress; at the end the churn is undone and the guest reads every slot
 * exactly and every refused range as MMIO: the layout is unchanged.
 *
 * invalid_memslots is checked against the reference when tracing is
 * available (see kmmu/trace_session.h: every memslot ioctl's result and
 * the generations it moves), the other three only with --check-all: a
 * session costs 5-15 s in the TCG VM, and what it would add there (leaf
 * SPTEs against pages_4k/pages_2m on the TDP MMU, SPTEs only in live
 * slots) is left to such runs.  The two refusals
 * beyond the address space are tried after the check ended: its replay
 * lacks x86's max_gfn check.  Buffers are MADV_DONTFORK: the capture's
 * janitor child would otherwise share them copy-on-write and split every
 * THP at the next store.
 *
 * $KMMU_HUGE_INJECT plants a bug in the test itself, to show that it
 * fails: "swap" exchanges two pages of a huge slot behind the guest's
 * back (a wrong gfn->pfn offset), "stale" writes the old content back into
 * a page the host just dropped (a stale SPTE), "accept" replaces one
 * refused CREATE by one KVM accepts.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/bench.h"
#include "kmmu/gate.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/slot_state.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/trace_session.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB	(21 << MAP_HUGE_SHIFT)
#endif

#define HM_PAGE		4096ULL
#define HM_HUGE		(2ULL << 20)
#define HM_MB		(1ULL << 20)
#define HM_PAGES_2M	512
#define HM_WIN_A	KMMU_GPA_TEST			/* 1G aligned */
#define HM_WIN_SIZE	(64ULL << 20)
#define HM_WIN_B	(HM_WIN_A + HM_WIN_SIZE)
#define HM_ALIAS	(1ULL << 40)	/* the 4K view: GVA = GPA + HM_ALIAS */
#define HM_W1		(HM_PAGE - 8)	/* the second word of a page that is checked */
#define HM_MAX_SLOTS	24
#define HM_MAX_BUFS	24
#define HM_MAX_PROBES	64
#define HM_NR_VCPUS	2
#define HM_SLOT_ID0	KMMU_SLOT_FIRST_FREE
#define HM_HUGETLB_DIR	"/sys/kernel/mm/hugepages/hugepages-2048kB"

/* ---- values ---- */

enum {
	HM_TAG_GUEST = 0xa5,	/* written by a vCPU */
	HM_TAG_HOST = 0x5a,	/* written by the host */
	HM_TAG_FILE = 0xf1,	/* a memfd's file content */
	HM_TAG_FOREIGN = 0xee,	/* buffer memory outside every slot */
};
#define HM_POISON	0xdeadbeefdeadbeefULL	/* MMIO loads read this */

/* Word 0 of a page: tag, slot (index), page in the slot, generation. */
static inline uint64_t hm_pat(uint64_t tag, uint64_t slot, uint64_t page, uint64_t gen)
{
	return tag << 56 | (slot & 0xff) << 48 | (page & 0xffffff) << 24 | (gen & 0xffffff);
}

/* The last word of a page: derived from word 0, so that both are checked. */
static inline uint64_t hm_tail(uint64_t v)
{
	return v ? v ^ 0x0f0f0f0f0f0f0f0fULL : 0;
}

/* ---- shared memory ---- */

struct hm_gslot {
	uint64_t gpa, size;	/* where the guest finds it; size 0: not there */
	uint64_t exp_gva;	/* uint64_t[size / 4K]: expected word 0 of each page */
	uint64_t alt_gpa;	/* invalid_memslots: the churned slot's other place */
};

enum hm_cmd {
	HM_QUIT = 1,
	HM_IDLE,
	HM_WRITE,	/* arg: slot, gen, writer, start, stride */
	HM_CHECK,	/* arg: vCPU mask, view mask, slot mask */
	HM_TOUCH,	/* the notifier steps: arg[HM_A_*] */
	HM_RACE,
	HM_VERIFY,
	HM_SPIN,	/* arg: stable slot mask, churned slot mask */
	HM_FINAL,	/* HM_CHECK by both, then the probes */
	HM_GONE,	/* arg: vCPU mask; the probes */
};

enum { HM_SYNC_GATE, HM_SYNC_YIELD };
#define HM_NONE		(~0ULL)

/* The notifier steps' arguments (arg[]). */
enum {
	HM_A_SLOT, HM_A_PAGE, HM_A_NPAGES, HM_A_ASLOT, HM_A_APAGE, HM_A_VERIFIER,
	HM_A_GEN,	/* of the verifier's stores (TOUCH, VERIFY) */
	HM_A_OLDGEN,	/* of the content before the operation */
	HM_A_NEWKIND, HM_A_NEWARG,	/* the content after: enum hm_new */
	HM_A_STORM,	/* HM_NEW_STORM: the host's steps */
	HM_NR_ARGS,
};

/* The content of a page after the host's operation. */
enum hm_new {
	HM_NEW_ZERO,		/* dropped anonymous or punched page */
	HM_NEW_OLD,		/* unchanged (mprotect, shared memfd DONTNEED) */
	HM_NEW_FILE,		/* the private memfd's file page NEWARG + i */
	HM_NEW_HOST,		/* the host's pattern, generation NEWARG */
	HM_NEW_HOST_ON_ZERO,	/* the same, stored into a mapped zero page */
	HM_NEW_STORM,		/* hm_g_storm_val() */
};

#define HM_FILE_SLOT	3	/* the private memfd slot (its file pattern) */

struct hm_shared {
	uint64_t nr_slots;
	struct hm_gslot slot[HM_MAX_SLOTS];
	uint64_t arg[HM_NR_ARGS];
	uint64_t race_started, race_done;
	uint64_t verify_at;	/* the GPA of the verifier's latest store */
	uint64_t storm_seq;	/* odd while a storm step runs, 2 * steps done */
	uint64_t storm_checked, storm_racy;	/* guest: reads between / across steps */
	uint64_t stop;
	uint64_t progress[HM_NR_VCPUS];
	uint64_t nr_probes;
	uint64_t probe_gpa[HM_MAX_PROBES];
};

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

/*
 * A storm alternates between two pages: step j (1, 2, ...) drops page
 * page + (j & 1) and stores the host's pattern of generation NEWARG + j
 * into it.  The content of page q once 2 * i steps... i steps are done:
 */
static inline uint64_t hm_g_storm_val(struct hm_shared *sh, uint64_t q, uint64_t i)
{
	uint64_t j = q == sh->arg[HM_A_PAGE] ? i & ~1ULL : (i & 1 ? i : i - 1);

	if (!i || !j)
		return hm_pat(HM_TAG_GUEST, sh->arg[HM_A_SLOT], q, sh->arg[HM_A_OLDGEN]);
	return hm_pat(HM_TAG_HOST, sh->arg[HM_A_SLOT], q, sh->arg[HM_A_NEWARG] + j);
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

static void hm_guest(uint32_t v, void *arg)
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

/* ---- options ---- */

struct hm_opts {
	uint64_t seed;
	long rounds;		/* data tests */
	long ops;		/* notifier_one_page */
	long passes;		/* invalid_memslots */
	bool check_all;		/* every test against the reference */
	const char *inject;
};

static struct hm_opts hm_opts = {
	.rounds = 3,
	.ops = 24,
	.passes = 3,
};

static bool hm_inject(const char *what)
{
	return hm_opts.inject && !strcmp(hm_opts.inject, what);
}

/* ---- host: buffers and slots ---- */

enum hm_kind {
	HM_BK_THP,		/* anonymous, MADV_HUGEPAGE */
	HM_BK_ANON4K,		/* anonymous, MADV_NOHUGEPAGE */
	HM_BK_HUGETLB,		/* anonymous MAP_HUGETLB, 2M pages */
	HM_BK_MEMFD_PRIVATE,	/* memfd, MAP_PRIVATE: copy-on-write over the file */
	HM_BK_MEMFD_SHARED,	/* memfd, MAP_SHARED */
};

static const char *const hm_kind_names[] = {
	"THP", "anon 4K", "hugetlb 2M", "memfd private", "memfd shared",
};

struct hm_buf {
	enum hm_kind kind;
	uint8_t *raw;		/* the whole mapping (guards included) */
	size_t raw_size;
	uint8_t *base;		/* 2M aligned */
	size_t size;
	int fd;
};

struct hm_slot {
	const char *name;
	uint32_t id;		/* memslot id */
	int buf;
	uint64_t off;		/* in the buffer */
	uint64_t size;
	uint64_t gpa;		/* current place (when present) */
	bool present;
	uint64_t *exp;		/* host view of the guest's expectations */
	uint64_t exp_gva;
};

struct hm_ctx {
	struct kmmu_vm *vm;
	struct kmmu_gate gate;
	bool gate_init;
	uint64_t arrivals;
	struct hm_shared *sh;
	uint64_t sh_gva;
	struct hm_buf buf[HM_MAX_BUFS];
	int nr_bufs;
	struct hm_slot slot[HM_MAX_SLOTS];
	int nr_slots;
	struct kmmu_stats stats;
	bool stats_ok;
	/* The reference check's action log while the session runs, else NULL. */
	_Atomic(struct kmmu_trace_log *) log;
	uint64_t rng;
	char phase[320];	/* what the host is doing: for failure reports */

	/* notifier_one_page: the page made read-only, and what KVM_RUN said */
	_Atomic(uint8_t *) ro_page;
	size_t ro_len;
	uint64_t efault_at;	/* the verifier's store that failed KVM_RUN */
	_Atomic int ro_vcpu;
	_Atomic int efaults, other_run_errors;

	/* hugetlb_data */
	bool hugetlb_changed;
	long hugetlb_old;

	/* invalid_memslots */
	uint64_t mmio_lo[3], mmio_hi[3];	/* ranges whose loads may exit */
	_Atomic long mmio_exits;
};

static uint8_t *hm_hva(struct hm_ctx *c, const struct hm_slot *s)
{
	return c->buf[s->buf].base + s->off;
}

static uint64_t hm_w0(const uint8_t *p)
{
	return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

static uint64_t hm_w1(const uint8_t *p)
{
	return __atomic_load_n((const uint64_t *)(p + HM_W1), __ATOMIC_RELAXED);
}

static void hm_put(uint8_t *p, uint64_t v)
{
	__atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)(p + HM_W1), hm_tail(v), __ATOMIC_RELAXED);
}

/* A value this test writes (or the MMIO poison)? */
static bool hm_tagged(uint64_t v)
{
	uint64_t tag = v >> 56;

	return v == HM_POISON || tag == HM_TAG_GUEST || tag == HM_TAG_HOST ||
	       tag == HM_TAG_FILE || tag == HM_TAG_FOREIGN;
}

/* What a value is, for failure reports. */
static void hm_describe(struct hm_ctx *c, uint64_t v, char *buf, size_t len)
{
	uint64_t tag = v >> 56, s = (v >> 48) & 0xff, page = (v >> 24) & 0xffffff;
	uint64_t gen = v & 0xffffff;
	const char *name = s < (uint64_t)c->nr_slots ? c->slot[s].name : "?";

	if (!v)
		snprintf(buf, len, "zero");
	else if (v == HM_POISON)
		snprintf(buf, len, "the MMIO poison (no memslot)");
	else if (tag == HM_TAG_GUEST || tag == HM_TAG_HOST)
		snprintf(buf, len, "the %s's data of slot %s page %llu generation %llu",
			 tag == HM_TAG_GUEST ? "guest" : "host", name,
			 (unsigned long long)page, (unsigned long long)gen);
	else if (tag == HM_TAG_FILE)
		snprintf(buf, len, "the memfd file's content of page %llu (slot %s)",
			 (unsigned long long)page, name);
	else if (tag == HM_TAG_FOREIGN)
		snprintf(buf, len, "host memory outside every slot (buffer %llu page %llu)",
			 (unsigned long long)s, (unsigned long long)page);
	else
		snprintf(buf, len, "no value this test writes");
}

/*
 * Children of this process (the trace capture's janitor) get none of the
 * buffer: shared copy-on-write with a child, a THP would be split at the
 * next store (do_huge_pmd_wp_page) and every store would copy.
 */
static int hm_buf_dontfork(struct hm_buf *b, char *err, size_t len)
{
	if (!madvise(b->raw, b->raw_size, MADV_DONTFORK))
		return 0;
	snprintf(err, len, "madvise(MADV_DONTFORK): %s", strerror(errno));
	return -errno;
}

/*
 * Allocates a buffer of @size bytes (2M multiple) at a 2M-aligned address,
 * its own VMA: PROT_NONE guards on both sides keep it from merging with a
 * neighbour, so smaps' AnonHugePages of its VMA counts its THPs alone.
 */
static int hm_buf_alloc(struct hm_ctx *c, enum hm_kind kind, size_t size, char *err, size_t len)
{
	struct hm_buf *b = &c->buf[c->nr_bufs];
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, prot = PROT_READ | PROT_WRITE;
	size_t head;

	if (c->nr_bufs == HM_MAX_BUFS) {
		snprintf(err, len, "too many buffers");
		return -ENOSPC;
	}
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->kind = kind;
	b->size = size;
	if (kind == HM_BK_HUGETLB) {
		/* hugetlb mappings are aligned and never merge. */
		b->raw = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			      MAP_HUGE_2MB, -1, 0);
		if (b->raw == MAP_FAILED) {
			snprintf(err, len, "mmap(MAP_HUGETLB) of %zu MiB: %s", size >> 20,
				 strerror(errno));
			return -errno;
		}
		b->raw_size = size;
		b->base = b->raw;
		c->nr_bufs++;
		return hm_buf_dontfork(b, err, len);
	}
	b->raw_size = size + 2 * HM_HUGE;
	b->raw = mmap(NULL, b->raw_size, PROT_NONE, flags, -1, 0);
	if (b->raw == MAP_FAILED) {
		snprintf(err, len, "mmap of %zu MiB: %s", b->raw_size >> 20, strerror(errno));
		return -errno;
	}
	b->base = (uint8_t *)(((uintptr_t)b->raw + HM_HUGE) & ~(HM_HUGE - 1));
	head = b->base - b->raw;
	c->nr_bufs++;	/* freed by the teardown from here on */
	if (kind == HM_BK_MEMFD_PRIVATE || kind == HM_BK_MEMFD_SHARED) {
		b->fd = memfd_create("kmmu-huge", MFD_CLOEXEC);
		if (b->fd < 0 || ftruncate(b->fd, size)) {
			snprintf(err, len, "memfd of %zu MiB: %s", size >> 20, strerror(errno));
			return -errno;
		}
		flags = (kind == HM_BK_MEMFD_SHARED ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED;
		if (mmap(b->base, size, prot, flags, b->fd, 0) == MAP_FAILED) {
			snprintf(err, len, "mmap of the memfd: %s", strerror(errno));
			return -errno;
		}
		return hm_buf_dontfork(b, err, len);
	}
	if (mprotect(b->base, size, prot) ||
	    madvise(b->base, size, kind == HM_BK_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
		snprintf(err, len, "mprotect/madvise of %zu MiB (head %zu): %s", size >> 20, head,
			 strerror(errno));
		return -errno;
	}
	return hm_buf_dontfork(b, err, len);
}

static void hm_bufs_free(struct hm_ctx *c)
{
	int i;

	for (i = 0; i < c->nr_bufs; i++) {
		if (c->buf[i].raw && c->buf[i].raw != MAP_FAILED)
			munmap(c->buf[i].raw, c->buf[i].raw_size);
		if (c->buf[i].fd >= 0)
			close(c->buf[i].fd);
	}
	c->nr_bufs = 0;
}

/* Slot @name: buffer @buf at @off, @size bytes, first placed at @gpa. */
static struct hm_slot *hm_slot_def(struct hm_ctx *c, const char *name, int buf, uint64_t off,
				   uint64_t size, uint64_t gpa)
{
	struct hm_slot *s = &c->slot[c->nr_slots];

	s->name = name;
	s->id = HM_SLOT_ID0 + c->nr_slots;
	s->buf = buf;
	s->off = off;
	s->size = size;
	s->gpa = gpa;
	c->nr_slots++;
	return s;
}

/* The guest's expectation of one slot page (and the host's copy). */
static void hm_set_exp_page(struct hm_ctx *c, int s, uint64_t page, uint64_t v)
{
	__atomic_store_n(&c->slot[s].exp[page], v, __ATOMIC_RELEASE);
}

/* The host page at @hva now holds @v: every slot that maps it expects it. */
static void hm_set_exp_hva(struct hm_ctx *c, const uint8_t *hva, uint64_t v)
{
	int s;

	for (s = 0; s < c->nr_slots; s++) {
		const uint8_t *h = hm_hva(c, &c->slot[s]);

		if (hva >= h && hva < h + c->slot[s].size)
			hm_set_exp_page(c, s, (hva - h) / HM_PAGE, v);
	}
}

/* Publishes where the guest finds slot @s (after the memslot changed). */
static void hm_publish(struct hm_ctx *c, int s)
{
	c->sh->slot[s].gpa = c->slot[s].gpa;
	__atomic_store_n(&c->sh->slot[s].size, c->slot[s].present ? c->slot[s].size : 0,
			 __ATOMIC_RELEASE);
}

/* Shared memory: the header and every slot's expectations. */
static int hm_shared_setup(struct hm_ctx *c, char *err, size_t len)
{
	int s;

	c->sh = kmmu_vm_alloc_shared(c->vm, sizeof(*c->sh), &c->sh_gva);
	if (!c->sh) {
		snprintf(err, len, "shared memory for the header");
		return -ENOMEM;
	}
	c->sh->nr_slots = c->nr_slots;
	for (s = 0; s < c->nr_slots; s++) {
		c->slot[s].exp = kmmu_vm_alloc_shared(c->vm, c->slot[s].size / HM_PAGE * 8,
						      &c->slot[s].exp_gva);
		if (!c->slot[s].exp) {
			snprintf(err, len, "shared memory for slot %s's expectations",
				 c->slot[s].name);
			return -ENOMEM;
		}
		c->sh->slot[s].exp_gva = c->slot[s].exp_gva;
	}
	return 0;
}

static size_t hm_shared_size(struct hm_ctx *c)
{
	size_t n = sizeof(struct hm_shared) + HM_PAGE;
	int s;

	for (s = 0; s < c->nr_slots; s++)
		n += (c->slot[s].size / HM_PAGE * 8 + HM_PAGE - 1) & ~(HM_PAGE - 1);
	return n;
}

/*
 * Ends the reference check: 0, or non-zero (the checker said why).  No
 * memslot ioctl may run meanwhile: the runtime's hook stops logging first.
 */
static int hm_trace_finish(struct hm_ctx *c, struct kmmu_trace_session **t)
{
	int r;

	atomic_store(&c->log, NULL);
	if (!*t)
		return 0;
	r = kmmu_trace_session_finish(*t, NULL);
	*t = NULL;
	return r;
}

/* ---- host: the VM ---- */

static uint64_t hm_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct hm_ctx *c = ctx;

	if (value == HM_SYNC_YIELD) {
		/* A sweeping vCPU gives the host's threads the CPU now and then. */
		sched_yield();
		return 0;
	}
	return kmmu_gate_arrive(&c->gate);
}

static void hm_fail_context(struct kmmu_vcpu *vcpu, const struct kmmu_ucall_msg *m,
			    char *buf, size_t len, void *ctx)
{
	struct hm_ctx *c = ctx;
	size_t off;
	char d[160];
	int i;

	off = snprintf(buf, len, "the host was at: %s", c->phase);
	if (m->nr < KMMU_UCALL_ASSERT)
		return;
	if (m->nr_args >= 1 && m->args[0] < (uint64_t)c->nr_slots && off < len)
		off += snprintf(buf + off, len - off, "; slot %llu is '%s' (memslot %u, %s)",
				(unsigned long long)m->args[0], c->slot[m->args[0]].name,
				c->slot[m->args[0]].id, hm_kind_names[c->buf[c->slot[m->args[0]].buf].kind]);
	/* Values among the arguments (addresses and indexes have no tag). */
	for (i = 1; i < m->nr_args && off < len; i++) {
		uint64_t v = m->args[i];

		if (!hm_tagged(v) && hm_tagged(hm_tail(v)))
			v = hm_tail(v);		/* a page's last word */
		if (!hm_tagged(v))
			continue;
		hm_describe(c, v, d, sizeof(d));
		off += snprintf(buf + off, len - off, "; %#llx is %s%s",
				(unsigned long long)m->args[i], v != m->args[i] ? "the last word of " : "", d);
	}
}

/* The mprotect() step: EFAULT on the verifier while a page is read-only. */
static int hm_run_error(struct kmmu_vcpu *vcpu, int err, void *ctx)
{
	struct hm_ctx *c = ctx;
	uint8_t *p = atomic_load(&c->ro_page);

	if (err != EFAULT || !p || kmmu_vcpu_id(vcpu) != atomic_load(&c->ro_vcpu)) {
		atomic_fetch_add(&c->other_run_errors, 1);
		return -1;
	}
	/* KVM could not get a writable page: give it one and let the guest retry. */
	if (mprotect(p, c->ro_len, PROT_READ | PROT_WRITE)) {
		kmmu_vcpu_fail(vcpu, "mprotect(PROT_READ|PROT_WRITE) after the EFAULT: %s",
			       strerror(errno));
		return -1;
	}
	atomic_store(&c->ro_page, NULL);
	c->efault_at = __atomic_load_n(&c->sh->verify_at, __ATOMIC_ACQUIRE);
	atomic_fetch_add(&c->efaults, 1);
	return 0;
}

static int hm_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		   bool is_write, void *ctx)
{
	struct hm_ctx *c = ctx;
	uint64_t poison = HM_POISON;
	int i;

	for (i = 0; i < 3; i++) {
		if (gpa >= c->mmio_lo[i] && gpa < c->mmio_hi[i] && !is_write && len <= 8) {
			memcpy(data, &poison, len);
			atomic_fetch_add(&c->mmio_exits, 1);
			return 0;
		}
	}
	kmmu_vcpu_fail(vcpu, "MMIO %s of %u bytes at gpa %#llx, which should be memory (while %s)",
		       is_write ? "store" : "load", len, (unsigned long long)gpa, c->phase);
	return -1;
}

static void hm_log_memslot(void *ctx, uint64_t issued_ns, uint32_t slot, uint32_t flags,
			   uint64_t gpa, uint64_t size, uint64_t hva, int ret)
{
	struct hm_ctx *c = ctx;
	struct kmmu_trace_log *log = atomic_load(&c->log);

	if (log)
		kmmu_trace_action_memslot(log, issued_ns, slot, flags, gpa, size, hva, ret);
}

/*
 * The VM: two vCPUs, the shared region for @c's slots, the window at
 * @win (@win_size bytes) mapped twice (2M view and 4K view), and @win2
 * likewise when not 0.  vCPUs are started and parked at the gate.
 */
static int hm_vm_start(struct hm_ctx *c, struct kmmu_trace_session *trace, uint64_t win,
		       uint64_t win2, uint64_t win_size, char *err, size_t len)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = HM_NR_VCPUS };
	struct kmmu_vm_handlers h = { 0 };
	uint64_t w[2] = { win, win2 };
	int r, i;

	vo.shared_size = hm_shared_size(c);
	vo.pt_pages = 1024 + 2 * kmmu_pt_pages_for(win_size) + 64;
	if (trace) {
		atomic_store(&c->log, kmmu_trace_session_log(trace));
		vo.memslot_hook = hm_log_memslot;
		vo.memslot_hook_ctx = c;
	}
	r = __kmmu_vm_create(&c->vm, &vo, err, len);
	if (r)
		return r;
	kmmu_trace_session_vm(trace, kmmu_kvm_cap(kmmu_vm_fd(c->vm), KVM_CAP_MULTI_ADDRESS_SPACE));
	for (i = 0; i < 2; i++) {
		if (!w[i])
			continue;
		if (w[i] + win_size > 1ULL << kmmu_vm_phys_bits(c->vm)) {
			snprintf(err, len, "guest MAXPHYADDR %u is too small", kmmu_vm_phys_bits(c->vm));
			return -E2BIG;
		}
		r = __kmmu_vm_map(c->vm, w[i], w[i], win_size,
				  KMMU_MAP_WRITE | KMMU_MAP_NX | KMMU_MAP_HUGE);
		if (!r)
			r = __kmmu_vm_map(c->vm, w[i] + HM_ALIAS, w[i], win_size,
					  KMMU_MAP_WRITE | KMMU_MAP_NX);
		if (r) {
			snprintf(err, len, "guest page tables: %s", strerror(-r));
			return r;
		}
	}
	r = hm_shared_setup(c, err, len);
	if (r)
		return r;
	c->stats_ok = !kmmu_stats_open(&c->stats, kmmu_vm_fd(c->vm));
	kmmu_gate_init(&c->gate);
	c->gate_init = true;
	h.sync = hm_sync;
	h.fail_context = hm_fail_context;
	h.run_error = hm_run_error;
	h.mmio = hm_mmio;
	h.ctx = c;
	kmmu_vm_set_handlers(c->vm, &h);
	r = __kmmu_vm_start(c->vm, hm_guest, (void *)(uintptr_t)c->sh_gva);
	if (r) {
		snprintf(err, len, "starting the vCPUs: %s", strerror(-r));
		return r;
	}
	c->arrivals = HM_NR_VCPUS;
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r)
		snprintf(err, len, "the vCPUs did not reach the gate: %s",
			 r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return r;
}

/* Opens the gate with @cmd and waits until both vCPUs are back at it. */
static int hm_step(struct hm_ctx *c, uint64_t cmd, char *err, size_t len)
{
	int r;

	kmmu_gate_open(&c->gate, cmd);
	c->arrivals += HM_NR_VCPUS;
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r)
		snprintf(err, len, "%s: %s", c->phase,
			 r == -EIO ? kmmu_vm_errors(c->vm) : "the vCPUs did not come back in 120 s");
	return r;
}

static int hm_quit(struct hm_ctx *c, char *err, size_t len)
{
	int r;

	snprintf(c->phase, sizeof(c->phase), "ending the guest");
	kmmu_gate_open(&c->gate, HM_QUIT);
	r = __kmmu_vm_wait(c->vm, 60);
	if (r)
		snprintf(err, len, "the vCPUs did not finish: %s",
			 r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return r;
}

static int hm_stat(struct hm_ctx *c, const char *name, uint64_t *v)
{
	*v = 0;
	return c->stats_ok ? kmmu_stats_get(&c->stats, name, v) : -ENOENT;
}

/* Adds slot @s at its gpa (or moves it there when present). */
static int hm_place(struct hm_ctx *c, int s, uint64_t gpa, bool move, char *err, size_t len)
{
	struct hm_slot *sl = &c->slot[s];
	int r;

	if (move)
		r = kmmu_slot_move(c->vm, sl->id, gpa);
	else
		r = __kmmu_slot_add(c->vm, sl->id, gpa, sl->size, hm_hva(c, sl), 0);
	if (r) {
		snprintf(err, len, "%s slot %s (memslot %u) at gpa %#llx, %llu KiB, hva %p: %s",
			 move ? "moving" : "adding", sl->name, sl->id, (unsigned long long)gpa,
			 (unsigned long long)(sl->size >> 10), hm_hva(c, sl), strerror(-r));
		return r;
	}
	sl->gpa = gpa;
	sl->present = true;
	hm_publish(c, s);
	return 0;
}

static int hm_unplace(struct hm_ctx *c, int s, char *err, size_t len)
{
	struct hm_slot *sl = &c->slot[s];
	int r;

	sl->present = false;
	hm_publish(c, s);
	r = kmmu_slot_delete(c->vm, sl->id);
	if (r)
		snprintf(err, len, "deleting slot %s: %s", sl->name, strerror(-r));
	return r;
}

/* Every page of slot @s holds what the guest expects (host view). */
static int hm_host_check_slot(struct hm_ctx *c, int s, char *err, size_t len)
{
	struct hm_slot *sl = &c->slot[s];
	uint8_t *h = hm_hva(c, sl);
	uint64_t p, w0, w1, want;
	char d[160];

	for (p = 0; p < sl->size / HM_PAGE; p++) {
		want = sl->exp[p];
		w0 = hm_w0(h + p * HM_PAGE);
		w1 = hm_w1(h + p * HM_PAGE);
		if (w0 == want && w1 == hm_tail(want))
			continue;
		hm_describe(c, w0, d, sizeof(d));
		snprintf(err, len, "%s: the host reads %#llx/%#llx (%s) in slot %s page %llu (gpa %#llx, hva %p), expected %#llx/%#llx",
			 c->phase, (unsigned long long)w0, (unsigned long long)w1, d, sl->name,
			 (unsigned long long)p, (unsigned long long)(sl->gpa + p * HM_PAGE),
			 h + p * HM_PAGE, (unsigned long long)want,
			 (unsigned long long)hm_tail(want));
		return -1;
	}
	return 0;
}

/* Is host page @p of buffer @b mapped by some slot? */
static bool hm_in_slot(struct hm_ctx *c, int b, const uint8_t *p)
{
	int s;

	for (s = 0; s < c->nr_slots; s++)
		if (c->slot[s].buf == b && p >= hm_hva(c, &c->slot[s]) &&
		    p < hm_hva(c, &c->slot[s]) + c->slot[s].size)
			return true;
	return false;
}

/* Buffer memory outside every slot: written once (@fill), then checked. */
static int hm_foreign(struct hm_ctx *c, bool fill, char *err, size_t len)
{
	uint64_t p, v;
	int b;
	char d[160];

	for (b = 0; b < c->nr_bufs; b++) {
		for (p = 0; p < c->buf[b].size / HM_PAGE; p++) {
			uint8_t *h = c->buf[b].base + p * HM_PAGE;

			if (hm_in_slot(c, b, h))
				continue;
			v = hm_pat(HM_TAG_FOREIGN, b, p, 0);
			if (fill) {
				hm_put(h, v);
				continue;
			}
			if (hm_w0(h) == v && hm_w1(h) == hm_tail(v))
				continue;
			hm_describe(c, hm_w0(h), d, sizeof(d));
			snprintf(err, len, "%s: host memory that no slot maps changed: buffer %d page %llu (hva %p) holds %#llx (%s), expected %#llx: a guest store went through a mapping beyond its slot",
				 c->phase, b, (unsigned long long)p, h,
				 (unsigned long long)hm_w0(h), d, (unsigned long long)v);
			return -1;
		}
	}
	return 0;
}

/* Writes generation @gen of the host's pattern into every page of slot @s. */
static void hm_host_write_slot(struct hm_ctx *c, int s, uint64_t gen)
{
	struct hm_slot *sl = &c->slot[s];
	uint64_t p, v;

	for (p = 0; p < sl->size / HM_PAGE; p++) {
		v = hm_pat(HM_TAG_HOST, s, p, gen);
		hm_put(hm_hva(c, sl) + p * HM_PAGE, v);
		hm_set_exp_page(c, s, p, v);
	}
}

/* ---- hm.thp_data and hm.hugetlb_data ---- */

/* An order to write n pages in: stride 1, n - 1 (backwards) or a prime. */
static uint64_t hm_stride(struct hm_ctx *c, uint64_t n)
{
	static const uint64_t primes[] = { 7919, 8191, 131071 };
	uint64_t r = kmmu_ss_rand(&c->rng), p = primes[(r >> 8) % 3];

	switch (r % 3) {
	case 1:
		return n > 1 ? n - 1 : 1;
	case 2:
		return n % p ? p : 1;
	default:
		return 1;
	}
}

/* A layout: buffers, then slots on them with two places each. */
struct hm_bufdef {
	enum hm_kind kind;
	uint64_t size;
};

struct hm_slotdef {
	const char *name;
	int buf;
	uint64_t off, size;
	uint64_t at[2];		/* offset in window A, in window B */
};

/*
 * Transparent huge pages.  Window A: aligned; a tail inside a frame; a
 * head in the same frame (the two share it); a slot whose host address is
 * 4K past its guest address modulo 2M; two 1M slots that share a frame.
 * Window B changes congruence and alignment: the aligned slot becomes
 * incongruent, the incongruent one congruent (with a head and a tail).
 */
static const struct hm_bufdef hm_thp_bufs[] = {
	{ HM_BK_THP, 4 * HM_MB }, { HM_BK_THP, 4 * HM_MB }, { HM_BK_THP, 6 * HM_MB },
	{ HM_BK_THP, 6 * HM_MB }, { HM_BK_THP, 2 * HM_MB }, { HM_BK_THP, 2 * HM_MB },
};

static const struct hm_slotdef hm_thp_slots[] = {
	{ "aligned", 0, 0, 4 * HM_MB, { 0, 4096 } },
	{ "tail", 1, 0, 3 * HM_MB + 16384, { 4 * HM_MB, 6 * HM_MB } },
	{ "head", 2, HM_MB + 16384, 5 * HM_MB - 16384, { 7 * HM_MB + 16384, 11 * HM_MB + 16384 } },
	{ "incongruent", 3, 4096, 4 * HM_MB, { 12 * HM_MB, 16 * HM_MB + 4096 } },
	{ "half-low", 4, 0, HM_MB, { 16 * HM_MB, 22 * HM_MB } },
	{ "half-high", 5, HM_MB, HM_MB, { 17 * HM_MB, 23 * HM_MB } },
};

/*
 * hugetlb: aligned (2 frames, then incongruent), a tail (1 frame, then a
 * misaligned incongruent start), an incongruent slot (none, then 1 frame
 * between a head and a tail).
 */
static const struct hm_bufdef hm_hugetlb_bufs[] = {
	{ HM_BK_HUGETLB, 4 * HM_MB }, { HM_BK_HUGETLB, 4 * HM_MB }, { HM_BK_HUGETLB, 4 * HM_MB },
};

static const struct hm_slotdef hm_hugetlb_slots[] = {
	{ "aligned", 0, 0, 4 * HM_MB, { 0, 4096 } },
	{ "tail", 1, 0, 3 * HM_MB, { 4 * HM_MB, 5 * HM_MB } },
	{ "incongruent", 2, 4096, 4 * HM_MB - 4096, { 8 * HM_MB, 12 * HM_MB + 4096 } },
};

#define HM_HUGETLB_PAGES 6

/* 2M frames of slot @s at @gpa that KVM may map huge (lpage_info allows). */
static uint64_t hm_eligible(struct hm_ctx *c, int s, uint64_t gpa)
{
	struct hm_slot *sl = &c->slot[s];
	uint64_t hva = (uintptr_t)hm_hva(c, sl), f, n = 0;

	if ((gpa ^ hva) & (HM_HUGE - 1))
		return 0;
	for (f = (gpa + HM_HUGE - 1) & ~(HM_HUGE - 1); f + HM_HUGE <= gpa + sl->size; f += HM_HUGE)
		n++;
	return n;
}

/* smaps' AnonHugePages of the VMA at @addr, in 2M pages; -1 if unknown. */
static long hm_thp_pages(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long long lo, hi, kb;
	char line[512];
	bool in = false;
	long n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* A VMA's first line; no field line starts "hex-hex". */
		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %llu kB", &kb) == 1) {
			n = kb / 2048;
			break;
		}
	}
	fclose(f);
	return n;
}

/* Backing 2M pages of slot @s the host maps with a PMD (-1: unknown). */
static long hm_backed_2m(struct hm_ctx *c, int s)
{
	struct hm_buf *b = &c->buf[c->slot[s].buf];

	if (b->kind == HM_BK_HUGETLB)
		return b->size / HM_HUGE;
	return hm_thp_pages(b->base);
}

struct hm_map_stats {
	int64_t eligible, thp_lo;	/* what KVM may map 2M, at least must */
	int64_t d2m, d4k;		/* pages_2m / pages_4k deltas */
	long thp;			/* the buffer's PMD-mapped 2M pages, -1: unknown */
	bool known;
};

/*
 * One round of the data tests: slot by slot (in a seeded order) one vCPU
 * writes generation @gen, KVM's page counts are read around it and the
 * host checks the slot; then the other vCPU reads everything through both
 * views; then the host writes @gen + 1 and both read it.
 */
static int hm_data_round(struct __test_metadata *_metadata, struct hm_ctx *c, int round,
			 uint64_t gen, char *err, size_t len)
{
	int order[HM_MAX_SLOTS], i, j, s, r, writer = round % HM_NR_VCPUS;
	struct hm_map_stats ms[HM_MAX_SLOTS];
	uint64_t a2 = 0, a4 = 0, b2 = 0, b4 = 0, n;
	long thp_before, thp_after;

	for (i = 0; i < c->nr_slots; i++)
		order[i] = i;
	for (i = c->nr_slots - 1; i > 0; i--) {
		j = kmmu_ss_rand(&c->rng) % (i + 1);
		s = order[i];
		order[i] = order[j];
		order[j] = s;
	}
	for (i = 0; i < c->nr_slots; i++) {
		struct hm_slot *sl = &c->slot[order[i]];

		s = order[i];
		n = sl->size / HM_PAGE;
		snprintf(c->phase, sizeof(c->phase), "round %d: vCPU %d writes generation %llu into slot %s (gpa %#llx, %llu KiB, hva %p)",
			 round, writer, (unsigned long long)gen, sl->name,
			 (unsigned long long)sl->gpa, (unsigned long long)(sl->size >> 10),
			 hm_hva(c, sl));
		c->sh->arg[0] = s;
		c->sh->arg[1] = gen;
		c->sh->arg[2] = writer;
		c->sh->arg[3] = kmmu_ss_rand(&c->rng) % n;
		/* A stride coprime with n: 1, n - 1 (backwards), or a prime. */
		c->sh->arg[4] = hm_stride(c, n);
		thp_before = hm_backed_2m(c, s);
		ms[s].known = !hm_stat(c, "pages_2m", &b2) && !hm_stat(c, "pages_4k", &b4);
		r = hm_step(c, HM_WRITE, err, len);
		if (r)
			return r;
		ms[s].known &= !hm_stat(c, "pages_2m", &a2) && !hm_stat(c, "pages_4k", &a4);
		thp_after = hm_backed_2m(c, s);
		ms[s].eligible = hm_eligible(c, s, sl->gpa);
		ms[s].d2m = (int64_t)(a2 - b2);
		ms[s].d4k = (int64_t)(a4 - b4);
		/*
		 * At least every eligible frame that was a PMD-mapped THP
		 * before and after: the buffer's other frames are the slot's
		 * non-eligible ones (or lie outside it).
		 */
		thp_before = thp_before < thp_after ? thp_before : thp_after;
		ms[s].thp = thp_before;
		n = c->buf[sl->buf].size / HM_HUGE - ms[s].eligible;
		ms[s].thp_lo = thp_before > (long)n ? thp_before - (long)n : 0;
		if (thp_before < 0)
			ms[s].thp_lo = 0;
		for (n = 0; n < sl->size / HM_PAGE; n++)
			hm_set_exp_page(c, s, n, hm_pat(HM_TAG_GUEST, s, n, gen));
		r = hm_host_check_slot(c, s, err, len);
		if (r)
			return r;
	}
	for (s = 0; s < c->nr_slots; s++) {
		struct hm_slot *sl = &c->slot[s];

		ksft_print_msg("round %d: slot %-11s gpa %#llx +%5llu KiB hva %p (buffer %ld/%zu 2M pages PMD-mapped): 2M frames KVM may map %lld, of them huge-backed >= %lld; KVM mapped %s%lld 2M, %lld 4K\n",
			       round, sl->name, (unsigned long long)sl->gpa,
			       (unsigned long long)(sl->size >> 10), hm_hva(c, sl), ms[s].thp,
			       c->buf[sl->buf].size / HM_HUGE,
			       (long long)ms[s].eligible, (long long)ms[s].thp_lo,
			       ms[s].known ? "" : "(stats unknown) ",
			       (long long)ms[s].d2m, (long long)ms[s].d4k);
		if (!ms[s].known)
			continue;
		if (ms[s].d2m > ms[s].eligible) {
			snprintf(err, len, "round %d: KVM mapped %lld 2M pages while the guest first touched slot %s (gpa %#llx, %llu KiB, hva %p), which has only %lld 2M frames KVM may map huge (unaligned head or tail, or host address not congruent with the guest address modulo 2M): a huge mapping reaches beyond the slot or onto misaligned memory",
				 round, (long long)ms[s].d2m, sl->name,
				 (unsigned long long)sl->gpa, (unsigned long long)(sl->size >> 10),
				 hm_hva(c, sl), (long long)ms[s].eligible);
			return -1;
		}
		if (ms[s].d2m < ms[s].thp_lo) {
			snprintf(err, len, "round %d: KVM mapped only %lld 2M pages for slot %s (gpa %#llx, %llu KiB, hva %p), whose %lld eligible frames include at least %lld backed by PMD-mapped huge pages: it mapped 4K where 2M was possible",
				 round, (long long)ms[s].d2m, sl->name,
				 (unsigned long long)sl->gpa, (unsigned long long)(sl->size >> 10),
				 hm_hva(c, sl), (long long)ms[s].eligible,
				 (long long)ms[s].thp_lo);
			return -1;
		}
	}
	snprintf(c->phase, sizeof(c->phase), "round %d: checking the host memory outside the slots after vCPU %d's stores",
		 round, writer);
	r = hm_foreign(c, false, err, len);
	if (r)
		return r;
	snprintf(c->phase, sizeof(c->phase), "round %d: vCPU %d reads generation %llu of every slot through both views",
		 round, !writer, (unsigned long long)gen);
	c->sh->arg[0] = 1 << !writer;
	c->sh->arg[1] = 3;
	c->sh->arg[2] = ~0ULL;
	r = hm_step(c, HM_CHECK, err, len);
	if (r)
		return r;
	for (s = 0; s < c->nr_slots; s++)
		hm_host_write_slot(c, s, gen + 1);
	if (round == 0 && hm_inject("swap")) {
		/* Two pages of the first 2M frame of the aligned slot trade places. */
		uint8_t *h = hm_hva(c, &c->slot[0]);
		uint64_t x = hm_w0(h + 5 * HM_PAGE), y = hm_w0(h + 6 * HM_PAGE);

		hm_put(h + 5 * HM_PAGE, y);
		hm_put(h + 6 * HM_PAGE, x);
		ksft_print_msg("INJECTED: pages 5 and 6 of slot %s swapped behind the guest's back\n",
			       c->slot[0].name);
	}
	snprintf(c->phase, sizeof(c->phase), "round %d: both vCPUs read the host's generation %llu of every slot through both views",
		 round, (unsigned long long)gen + 1);
	c->sh->arg[0] = 3;
	r = hm_step(c, HM_CHECK, err, len);
	if (r)
		return r;
	return hm_foreign(c, false, err, len);
}

/* Page @gpa as a probe, while there is room. */
static void hm_probe_add(struct hm_ctx *c, uint64_t gpa)
{
	if (c->sh->nr_probes < HM_MAX_PROBES)
		c->sh->probe_gpa[c->sh->nr_probes++] = gpa;
}

/*
 * Places the layout for @round: create at A, MOVE to B, DELETE and create
 * at A...  The places the slots left -- their first and last pages and
 * both sides of every 2M boundary in them -- become probes: the guest
 * must find no memory there any more.
 */
static int hm_data_place(struct hm_ctx *c, const struct hm_slotdef *defs, int round,
			 char *err, size_t len)
{
	int s, r, where = round % 2;
	bool move = round % 2 == 1;
	uint64_t f;

	c->sh->nr_probes = 0;
	for (s = 0; round && s < c->nr_slots; s++) {
		uint64_t g = c->slot[s].gpa, end = g + c->slot[s].size;

		hm_probe_add(c, g);
		hm_probe_add(c, end - HM_PAGE);
		for (f = (g + HM_HUGE) & ~(HM_HUGE - 1); f < end; f += HM_HUGE) {
			hm_probe_add(c, f - HM_PAGE);
			hm_probe_add(c, f);
		}
	}
	if (round && !move) {
		for (s = 0; s < c->nr_slots; s++) {
			r = hm_unplace(c, s, err, len);
			if (r)
				return r;
		}
	}
	/* Window B's places overlap window A's in no slot: MOVEs never collide. */
	for (s = 0; s < c->nr_slots; s++) {
		r = hm_place(c, s, (where ? HM_WIN_B : HM_WIN_A) + defs[s].at[where],
			     move, err, len);
		if (r)
			return r;
	}
	return 0;
}

static int hm_data_setup(struct hm_ctx *c, const struct hm_bufdef *bufs, int nr_bufs,
			 const struct hm_slotdef *slots, int nr_slots, char *err, size_t len)
{
	int i, r;

	for (i = 0; i < nr_bufs; i++) {
		r = hm_buf_alloc(c, bufs[i].kind, bufs[i].size, err, len);
		if (r)
			return r;
	}
	for (i = 0; i < nr_slots; i++)
		hm_slot_def(c, slots[i].name, slots[i].buf, slots[i].off, slots[i].size,
			    HM_WIN_A + slots[i].at[0]);
	/* Every page written once by the host: THPs are allocated now. */
	return hm_foreign(c, true, err, len);
}

static int hm_data_run(struct __test_metadata *_metadata, struct hm_ctx *c,
		       struct kmmu_trace_session *trace, const struct hm_slotdef *defs,
		       char *err, size_t len)
{
	int round, s, r;

	r = hm_vm_start(c, trace, HM_WIN_A, HM_WIN_B, HM_WIN_SIZE, err, len);
	if (r)
		return r;
	for (s = 0; s < c->nr_slots; s++)
		hm_host_write_slot(c, s, 0);
	/* Loads from places no slot covers (any more) exit; the handler answers. */
	c->mmio_lo[0] = HM_WIN_A;
	c->mmio_hi[0] = HM_WIN_B + HM_WIN_SIZE;
	for (round = 0; round < hm_opts.rounds; round++) {
		snprintf(c->phase, sizeof(c->phase), "round %d: placing the slots", round);
		r = hm_data_place(c, defs, round, err, len);
		if (r)
			return r;
		if (c->sh->nr_probes) {
			snprintf(c->phase, sizeof(c->phase), "round %d: vCPU %d reads %llu pages the slots %s",
				 round, !(round % HM_NR_VCPUS), (unsigned long long)c->sh->nr_probes,
				 round % 2 ? "moved away from" : "were deleted from");
			c->sh->arg[0] = 1 << !(round % HM_NR_VCPUS);
			r = hm_step(c, HM_GONE, err, len);
			c->sh->nr_probes = 0;
			if (r)
				return r;
		}
		r = hm_data_round(_metadata, c, round, 2 * round + 1, err, len);
		if (r)
			return r;
	}
	return 0;
}

/* ---- hugetlb reservation ---- */

static long hm_read_long(const char *path)
{
	char buf[64];
	long v;

	if (kmmu_ctl_read(path, buf, sizeof(buf)) || kmmu_parse_long(buf, 0, 1L << 40, &v))
		return -1;
	return v;
}

static void hm_hugetlb_restore(void *arg)
{
	struct hm_ctx *c = arg;
	char buf[32];

	if (!c->hugetlb_changed)
		return;
	snprintf(buf, sizeof(buf), "%ld", c->hugetlb_old);
	kmmu_ctl_write(HM_HUGETLB_DIR "/nr_hugepages", buf);
	c->hugetlb_changed = false;
}

/*
 * At least @need free 2M hugetlb pages, raising nr_hugepages if there are
 * fewer (restored by hm_hugetlb_restore(), also on signals).  0, or
 * -errno with the reason (a SKIP) in @why.
 */
static int hm_hugetlb_reserve(struct hm_ctx *c, long need, char *why, size_t len)
{
	long nr = hm_read_long(HM_HUGETLB_DIR "/nr_hugepages");
	long fr = hm_read_long(HM_HUGETLB_DIR "/free_hugepages");
	char buf[32];
	int r;

	if (nr < 0 || fr < 0) {
		snprintf(why, len, "no 2M hugetlb pages on this kernel (%s unreadable)", HM_HUGETLB_DIR);
		return -ENOENT;
	}
	if (fr >= need)
		return 0;
	c->hugetlb_old = nr;
	c->hugetlb_changed = true;
	kmmu_cleanup_push(hm_hugetlb_restore, c);
	snprintf(buf, sizeof(buf), "%ld", nr + need - fr);
	r = kmmu_ctl_write(HM_HUGETLB_DIR "/nr_hugepages", buf);
	fr = hm_read_long(HM_HUGETLB_DIR "/free_hugepages");
	if (r || fr < need) {
		snprintf(why, len, "%ld free 2M hugetlb pages, %ld needed, and raising nr_hugepages from %ld to %s %s",
			 fr, need, nr, buf, r ? strerror(-r) : "did not free enough (memory fragmented?)");
		hm_hugetlb_restore(c);
		kmmu_cleanup_forget(hm_hugetlb_restore, c);
		return -ENOMEM;
	}
	return 0;
}

/* ---- hm.notifier_one_page ---- */

enum hm_nop {
	HM_OP_DONTNEED,
	HM_OP_PUNCH,
	HM_OP_MPROTECT,
	HM_OP_HOSTWRITE,
	HM_OP_ZERO_COW,		/* host store into a zero page the guest mapped */
	HM_OP_STORM,		/* HM_STORM_STEPS drops and stores, two pages */
	HM_NR_OPS,
};

static const char *const hm_op_names[] = {
	"MADV_DONTNEED", "FALLOC_FL_PUNCH_HOLE", "mprotect(PROT_READ)", "host store",
	"host store into a mapped zero page",
	"MADV_DONTNEED + host store storm",
};

/* The notifier layout: which operations each slot gets. */
struct hm_nslot {
	const char *name;
	int buf;
	uint64_t off, size, at;
	unsigned int ops;	/* 1 << enum hm_nop */
	int alias_of;		/* -1, or the slot whose pages [alias_first, ...) it maps */
	uint64_t alias_first;
};

#define HM_N_MOST	((1 << HM_OP_DONTNEED) | (1 << HM_OP_MPROTECT) | (1 << HM_OP_HOSTWRITE))
#define HM_N_ANON	(HM_N_MOST | (1 << HM_OP_STORM))
#define HM_STORM_STEPS	256
#define HM_N_SHARED	(HM_N_ANON | (1 << HM_OP_PUNCH))	/* storms punch holes */
#define HM_N_ZERO	(1 << HM_OP_ZERO_COW)

static const struct hm_bufdef hm_n_bufs[] = {
	{ HM_BK_THP, 8 * HM_MB },		/* 0 */
	{ HM_BK_ANON4K, 2 * HM_MB },		/* 1: two slots, overlapping */
	{ HM_BK_MEMFD_PRIVATE, 2 * HM_MB },	/* 2 */
	{ HM_BK_MEMFD_SHARED, 2 * HM_MB },	/* 3 */
	{ HM_BK_ANON4K, 2 * HM_MB },		/* 4: zero pages */
	{ HM_BK_THP, 8 * HM_MB },		/* 5: huge zero pages */
};

static const struct hm_nslot hm_n_slots[] = {
	{ "thp", 0, 0, 8 * HM_MB, 0, HM_N_ANON, -1, 0 },
	{ "anon", 1, 9 * 4096, 40 * 4096, 8 * HM_MB + 5 * 4096, HM_N_ANON, -1, 0 },
	{ "anon-alias", 1, 25 * 4096, 24 * 4096, 9 * HM_MB + 3 * 4096, HM_N_MOST, 1, 16 },
	{ "memfd-private", 2, 2 * 4096, 48 * 4096, 10 * HM_MB + 3 * 4096, HM_N_ANON, -1, 0 },
	{ "memfd-shared", 3, 7 * 4096, 40 * 4096, 11 * HM_MB, HM_N_SHARED, -1, 0 },
	{ "zero", 4, 0, 128 * 4096, 12 * HM_MB + 4096, HM_N_ZERO, -1, 0 },
	{ "huge-zero", 5, 0, 8 * HM_MB, 16 * HM_MB, HM_N_ZERO, -1, 0 },
};

#define HM_N_SLOTS ((int)(sizeof(hm_n_slots) / sizeof(hm_n_slots[0])))

/* The file content of page @fp of the private memfd (what DONTNEED brings back). */
static uint64_t hm_file_val(uint64_t fp)
{
	return hm_pat(HM_TAG_FILE, HM_FILE_SLOT, fp, 0);
}

/* The slot and page of the other view of (s, page), or -1. */
static int hm_n_alias(int s, uint64_t page, uint64_t *apage)
{
	int t;

	for (t = 0; t < HM_N_SLOTS; t++) {
		const struct hm_nslot *a = &hm_n_slots[t], *b = &hm_n_slots[s];

		if (t == s || a->buf != b->buf)
			continue;
		/* Same buffer, other slot: is the host page in it? */
		if (b->off + page * 4096 >= a->off && b->off + page * 4096 < a->off + a->size) {
			*apage = (b->off + page * 4096 - a->off) / 4096;
			return t;
		}
	}
	return -1;
}

/* A page of slot @s: its first or last, one at a 2M boundary, or any. */
static uint64_t hm_n_pick_page(struct hm_ctx *c, int s)
{
	uint64_t n = c->slot[s].size / HM_PAGE, r = kmmu_ss_rand(&c->rng);
	uint64_t gpa = c->slot[s].gpa, end = gpa + c->slot[s].size;
	uint64_t f = (gpa + HM_HUGE) & ~(HM_HUGE - 1);	/* first boundary above gpa */

	switch (r % 4) {
	case 0:
		return 0;
	case 1:
		return n - 1;
	case 2:
		/* Either side of a 2M boundary inside the slot, if there is one. */
		if (f < end) {
			f += (r >> 8) % ((end - 1 - f) / HM_HUGE + 1) * HM_HUGE;
			return (f - gpa) / HM_PAGE - ((r >> 40) & 1);
		}
		/* fall through */
	default:
		return (r >> 8) % n;
	}
}

/* An untouched page of a zero slot, or -1 when all were used. */
static int64_t hm_n_zero_page(struct hm_ctx *c, int s, bool *used)
{
	uint64_t n = c->slot[s].size / HM_PAGE, start = kmmu_ss_rand(&c->rng) % n, k;

	for (k = 0; k < n; k++) {
		uint64_t p = (start + k) % n;

		if (!used[p] && !c->slot[s].exp[p])
			return p;
	}
	return -1;
}

/* Waits until @flag (guest memory) is set, the VM fails, or 120 s pass. */
static int hm_wait_flag(struct hm_ctx *c, uint64_t *flag, char *err, size_t len)
{
	double t0 = kmmu_now();

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (kmmu_vm_failed(c->vm)) {
			snprintf(err, len, "%s: %s", c->phase, kmmu_vm_errors(c->vm));
			return -EIO;
		}
		if (kmmu_now() - t0 > 120) {
			snprintf(err, len, "%s: the sweeping vCPU did not start in 120 s", c->phase);
			return -ETIMEDOUT;
		}
		usleep(200);
	}
	return 0;
}

struct hm_n_counts {
	long ops[HM_NR_OPS];
	long pages;
	long efaults;
};

/* The content of page @q of the range after @op (host side of hm_g_new()). */
static uint64_t hm_n_new(struct hm_ctx *c, uint64_t q)
{
	uint64_t *a = c->sh->arg;

	switch (a[HM_A_NEWKIND]) {
	case HM_NEW_STORM:
		return hm_g_storm_val(c->sh, q, a[HM_A_STORM]);
	case HM_NEW_ZERO:
		return 0;
	case HM_NEW_OLD:
		return hm_pat(HM_TAG_GUEST, a[HM_A_SLOT], q, a[HM_A_OLDGEN]);
	case HM_NEW_FILE:
		return hm_file_val(a[HM_A_NEWARG] + q - a[HM_A_PAGE]);
	default:
		return hm_pat(HM_TAG_HOST, a[HM_A_SLOT], q, a[HM_A_NEWARG]);
	}
}

/*
 * The storm (HM_OP_STORM), while the other vCPU reads both pages: step j
 * drops page + (j & 1) (MADV_DONTNEED, or a punched hole for shared
 * memory) and stores the host's pattern into it; storm_seq is odd while a
 * step runs.  0 or -errno.
 */
static int hm_n_storm(struct hm_ctx *c, struct hm_slot *sl, uint64_t page)
{
	struct hm_buf *b = &c->buf[sl->buf];
	uint64_t j, q;
	uint8_t *h;

	for (j = 1; j <= HM_STORM_STEPS; j++) {
		q = page + (j & 1);
		h = hm_hva(c, sl) + q * HM_PAGE;
		__atomic_store_n(&c->sh->storm_seq, 2 * j - 1, __ATOMIC_RELEASE);
		if (b->kind == HM_BK_MEMFD_SHARED ?
		    fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)(h - b->base), HM_PAGE) :
		    madvise(h, HM_PAGE, MADV_DONTNEED))
			return -errno;
		hm_put(h, hm_g_storm_val(c->sh, q, j));
		__atomic_store_n(&c->sh->storm_seq, 2 * j, __ATOMIC_RELEASE);
		/* Give the reading vCPU a chance to fault in between. */
		sched_yield();
	}
	return 0;
}

/*
 * One operation on pages [page, page + n) of slot @s: the verifier maps
 * them, the host operates while the other vCPU sweeps the slot, the
 * verifier reads the new content and stores through the other view.
 */
static int hm_n_op(struct hm_ctx *c, int k, int s, uint64_t page, uint64_t n, enum hm_nop op,
		   bool *zero_used[], struct hm_n_counts *cnt, char *err, size_t len)
{
	struct hm_slot *sl = &c->slot[s];
	struct hm_buf *b = &c->buf[sl->buf];
	uint8_t *h = hm_hva(c, sl) + page * HM_PAGE;
	uint64_t apage = HM_NONE, fp = (h - b->base) / HM_PAGE, *a = c->sh->arg, q, v;
	int as = n == 1 ? hm_n_alias(s, page, &apage) : -1, vc = k % HM_NR_VCPUS, r;
	char d[160];

	snprintf(c->phase, sizeof(c->phase), "op %d: %s on slot %s pages %llu..%llu (gpa %#llx, hva %p, %s)%s; vCPU %d verifies",
		 k, hm_op_names[op], sl->name, (unsigned long long)page,
		 (unsigned long long)(page + n - 1), (unsigned long long)(sl->gpa + page * HM_PAGE),
		 h, hm_kind_names[b->kind], as >= 0 ? ", which another slot maps too" : "", vc);
	ksft_print_msg("%s\n", c->phase);
	a[HM_A_VERIFIER] = vc;
	a[HM_A_SLOT] = s;
	a[HM_A_PAGE] = page;
	a[HM_A_NPAGES] = n;
	a[HM_A_ASLOT] = as >= 0 ? (uint64_t)as : HM_NONE;
	a[HM_A_APAGE] = apage;
	a[HM_A_GEN] = a[HM_A_OLDGEN] = 2 * k + 1;
	switch (op) {
	case HM_OP_DONTNEED:
		a[HM_A_NEWKIND] = b->kind == HM_BK_MEMFD_PRIVATE ? HM_NEW_FILE :
				  b->kind == HM_BK_MEMFD_SHARED ? HM_NEW_OLD : HM_NEW_ZERO;
		a[HM_A_NEWARG] = fp;
		break;
	case HM_OP_PUNCH:
		a[HM_A_NEWKIND] = HM_NEW_ZERO;
		break;
	case HM_OP_MPROTECT:
		a[HM_A_NEWKIND] = HM_NEW_OLD;
		break;
	case HM_OP_ZERO_COW:
		a[HM_A_NEWKIND] = HM_NEW_HOST_ON_ZERO;
		a[HM_A_NEWARG] = 2 * k + 1;
		break;
	case HM_OP_STORM:
		a[HM_A_NEWKIND] = HM_NEW_STORM;
		a[HM_A_NEWARG] = (uint64_t)(k + 1) << 9;	/* + step, step <= 256 */
		a[HM_A_STORM] = HM_STORM_STEPS;
		__atomic_store_n(&c->sh->storm_seq, 0, __ATOMIC_RELEASE);
		break;
	default:
		a[HM_A_NEWKIND] = HM_NEW_HOST;
		a[HM_A_NEWARG] = 2 * k + 1;
		break;
	}

	/* 1. The verifier maps the pages: stores, or (zero pages) loads. */
	r = hm_step(c, HM_TOUCH, err, len);
	if (r)
		return r;
	for (q = page; q < page + n; q++) {
		if (op == HM_OP_ZERO_COW)
			zero_used[s][q] = true;
		else
			hm_set_exp_hva(c, hm_hva(c, sl) + q * HM_PAGE, hm_pat(HM_TAG_GUEST, s, q, a[HM_A_GEN]));
	}
	r = hm_host_check_slot(c, s, err, len);
	if (r)
		return r;

	/* 2. The operation, while the other vCPU sweeps the slot(s). */
	__atomic_store_n(&c->sh->race_started, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->sh->race_done, 0, __ATOMIC_RELEASE);
	kmmu_gate_open(&c->gate, HM_RACE);
	c->arrivals += HM_NR_VCPUS;
	r = kmmu_gate_wait(&c->gate, c->arrivals - 1, c->vm, 120);
	if (!r)
		r = hm_wait_flag(c, &c->sh->race_started, err, len);
	else
		snprintf(err, len, "%s: %s", c->phase, kmmu_vm_errors(c->vm));
	if (r)
		return r;
	switch (op) {
	case HM_OP_DONTNEED:
		r = madvise(h, n * HM_PAGE, MADV_DONTNEED) ? -errno : 0;
		if (!r && hm_inject("stale") && a[HM_A_NEWKIND] == HM_NEW_ZERO &&
		    !cnt->ops[op]) {
			/* As if the guest still saw the old page. */
			hm_put(h, hm_pat(HM_TAG_GUEST, s, page, a[HM_A_OLDGEN]));
			ksft_print_msg("INJECTED: the old content written back after %s\n", c->phase);
		}
		break;
	case HM_OP_PUNCH:
		r = fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)fp * HM_PAGE, n * HM_PAGE) ? -errno : 0;
		break;
	case HM_OP_MPROTECT:
		atomic_store(&c->ro_vcpu, vc);
		atomic_store(&c->efaults, 0);
		c->efault_at = 0;
		c->ro_len = n * HM_PAGE;
		r = mprotect(h, n * HM_PAGE, PROT_READ) ? -errno : 0;
		if (!r)
			atomic_store(&c->ro_page, h);
		break;
	case HM_OP_STORM:
		r = hm_n_storm(c, sl, page);
		break;
	default:
		for (q = page; q < page + n; q++)
			hm_put(hm_hva(c, sl) + q * HM_PAGE, hm_n_new(c, q));
		r = 0;
		break;
	}
	if (r) {
		snprintf(err, len, "%s: the host's call failed: %s", c->phase, strerror(-r));
		return r;
	}
	for (q = page; q < page + n; q++)
		hm_set_exp_hva(c, hm_hva(c, sl) + q * HM_PAGE, hm_n_new(c, q));
	__atomic_store_n(&c->sh->race_done, 1, __ATOMIC_RELEASE);
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r) {
		snprintf(err, len, "%s: %s", c->phase,
			 r == -EIO ? kmmu_vm_errors(c->vm) : "the sweeping vCPU did not finish in 120 s");
		return r;
	}
	for (q = page; q < page + n && !hm_inject("stale"); q++) {
		v = hm_w0(hm_hva(c, sl) + q * HM_PAGE);
		if (v == hm_n_new(c, q))
			continue;
		hm_describe(c, v, d, sizeof(d));
		snprintf(err, len, "%s: the host reads %#llx (%s) in page %llu after its own operation, expected %#llx",
			 c->phase, (unsigned long long)v, d, (unsigned long long)q,
			 (unsigned long long)hm_n_new(c, q));
		return -1;
	}

	/* 3. The verifier reads the new content and the frame, then stores. */
	a[HM_A_GEN] = 2 * k + 2;
	r = hm_step(c, HM_VERIFY, err, len);
	if (op == HM_OP_MPROTECT) {
		uint8_t *still = atomic_exchange(&c->ro_page, NULL);

		if (still)
			mprotect(still, c->ro_len, PROT_READ | PROT_WRITE);
		cnt->efaults += atomic_load(&c->efaults);
		if (!r && atomic_load(&c->efaults) != 1) {
			snprintf(err, len, "%s: the guest's store to the page(s) the host had made read-only completed without KVM_RUN failing with EFAULT (%d EFAULTs): KVM kept a writable mapping after the MMU notifier",
				 c->phase, atomic_load(&c->efaults));
			return -1;
		}
		q = sl->gpa + (page + n - 1) * HM_PAGE;
		if (!r && c->efault_at != q) {
			snprintf(err, len, "%s: the guest's first store, to gpa %#llx (the last page), completed while the host had the page read-only; KVM_RUN failed only at gpa %#llx: KVM kept a writable mapping of the range's last page after the MMU notifier",
				 c->phase, (unsigned long long)q, (unsigned long long)c->efault_at);
			return -1;
		}
	}
	if (r)
		return r;
	for (q = page; q < page + n; q++)
		hm_set_exp_hva(c, hm_hva(c, sl) + q * HM_PAGE, hm_pat(HM_TAG_GUEST, s, q, a[HM_A_GEN]));
	r = hm_host_check_slot(c, s, err, len);
	if (!r && as >= 0)
		r = hm_host_check_slot(c, as, err, len);
	cnt->ops[op]++;
	cnt->pages += n;
	return r;
}

static int hm_notifier_run(struct __test_metadata *_metadata, struct hm_ctx *c,
			   struct kmmu_trace_session *trace, struct hm_n_counts *cnt,
			   char *err, size_t len)
{
	bool *zero_used[HM_MAX_SLOTS] = { 0 };
	uint64_t p, v, fp, u;
	int i, k, s, r;

	for (i = 0; i < (int)(sizeof(hm_n_bufs) / sizeof(hm_n_bufs[0])); i++) {
		r = hm_buf_alloc(c, hm_n_bufs[i].kind, hm_n_bufs[i].size, err, len);
		if (r)
			return r;
	}
	/* The private memfd's file content: what DONTNEED brings back. */
	for (fp = 0; fp < c->buf[2].size / HM_PAGE; fp++) {
		uint64_t w[2] = { hm_file_val(fp), hm_tail(hm_file_val(fp)) };

		if (pwrite(c->buf[2].fd, &w[0], 8, fp * HM_PAGE) != 8 ||
		    pwrite(c->buf[2].fd, &w[1], 8, fp * HM_PAGE + HM_W1) != 8) {
			snprintf(err, len, "writing the memfd: %s", strerror(errno));
			return -EIO;
		}
	}
	for (s = 0; s < HM_N_SLOTS; s++)
		hm_slot_def(c, hm_n_slots[s].name, hm_n_slots[s].buf, hm_n_slots[s].off,
			    hm_n_slots[s].size, HM_WIN_A + hm_n_slots[s].at);
	r = hm_vm_start(c, trace, HM_WIN_A, 0, 32 * HM_MB, err, len);
	if (r)
		return r;
	for (s = 0; s < HM_N_SLOTS; s++) {
		struct hm_slot *sl = &c->slot[s];

		zero_used[s] = calloc(sl->size / HM_PAGE, sizeof(bool));
		if (!zero_used[s]) {
			r = -ENOMEM;
			snprintf(err, len, "out of memory");
			goto out;
		}
		for (p = 0; p < sl->size / HM_PAGE; p++) {
			uint8_t *h = hm_hva(c, sl) + p * HM_PAGE;

			if (hm_n_slots[s].alias_of >= 0)
				continue;	/* the slot it aliases set it */
			if (hm_n_slots[s].ops == HM_N_ZERO) {
				v = 0;	/* never touched by the host */
			} else if (c->buf[sl->buf].kind == HM_BK_MEMFD_PRIVATE) {
				/* The file's page, not copied: DONTNEED must change it. */
				v = hm_file_val((h - c->buf[sl->buf].base) / HM_PAGE);
			} else {
				v = hm_pat(HM_TAG_HOST, s, p, 0);
				hm_put(h, v);
			}
			hm_set_exp_hva(c, h, v);
		}
		r = hm_place(c, s, sl->gpa, false, err, len);
		if (r)
			goto out;
	}
	for (k = 0; k < hm_opts.ops; k++) {
		uint64_t n = 1;
		enum hm_nop op;
		int64_t page;

		/* A slot, then one of its operations (on a page still unused for zero pages). */
		do {
			s = kmmu_ss_rand(&c->rng) % HM_N_SLOTS;
			do
				op = kmmu_ss_rand(&c->rng) % HM_NR_OPS;
			while (!(hm_n_slots[s].ops & (1 << op)));
			page = op == HM_OP_ZERO_COW ? hm_n_zero_page(c, s, zero_used[s]) :
			       (int64_t)hm_n_pick_page(c, s);
		} while (page < 0);
		/*
		 * One page mostly; now and then 2 or 3, whose last page a walk
		 * with an off-by-one end would leave mapped (not where two
		 * slots map the same host page: one page there).
		 */
		if (op == HM_OP_STORM)
			n = 2;
		else if (op != HM_OP_ZERO_COW && hm_n_slots[s].alias_of < 0 &&
			 hm_n_alias(s, page, &u) < 0)
			n = (uint64_t[]){ 1, 1, 2, 3 }[kmmu_ss_rand(&c->rng) % 4];
		if (page + n > c->slot[s].size / HM_PAGE)
			page = c->slot[s].size / HM_PAGE - n;
		r = hm_n_op(c, k, s, page, n, op, zero_used, cnt, err, len);
		if (r)
			goto out;
	}
	snprintf(c->phase, sizeof(c->phase), "after %ld operations: both vCPUs read every slot through both views",
		 hm_opts.ops);
	c->sh->arg[0] = 3;
	c->sh->arg[1] = 3;
	c->sh->arg[2] = ~0ULL;
	r = hm_step(c, HM_CHECK, err, len);
	for (s = 0; !r && s < HM_N_SLOTS; s++)
		r = hm_host_check_slot(c, s, err, len);
out:
	for (s = 0; s < HM_N_SLOTS; s++)
		free(zero_used[s]);
	return r;
}

/* ---- hm.invalid_memslots ---- */

/* Refused updates: the ioctl's arguments, what the kernel must return. */
struct hm_case {
	char what[96];
	uint32_t slot, flags;
	uint64_t gpa, size, hva;
	int want;		/* -errno */
	/*
	 * Tried only after the reference check ended: the checker replays
	 * memslots without x86's kvm_arch_prepare_memory_region(), so it
	 * would accept a slot beyond kvm_mmu_max_gfn() that the kernel
	 * refuses (and, for a MOVE, the refusal's two memslot swaps).
	 */
	bool untraced;
	long tried, wrong;
	int got;		/* the last wrong answer */
};

#define HM_I_STABLE	4	/* slots 0..3: huge, anon, memfd, the mover */
#define HM_I_CHURN	8	/* slots 4..11, two pages each */
#define HM_I_PROBE	(HM_WIN_A + 12 * HM_MB)	/* refused creates land here */
#define HM_I_FREE	(HM_WIN_A + 10 * HM_MB)	/* refused MOVEs go here */
#define HM_I_HOME	(HM_WIN_A + 16 * HM_MB)
#define HM_I_ALT	(HM_WIN_A + 20 * HM_MB)
#define HM_I_NEWID	(HM_SLOT_ID0 + 20)
#define HM_I_MIN_CHURN	8	/* churn updates per pass, at least */

struct hm_churn {
	struct hm_ctx *c;
	pthread_t thread;
	bool running;
	_Atomic bool stop;
	int where[HM_I_CHURN];	/* 0 absent, 1 home, 2 alt */
	long ops;
	int err;		/* -errno of a failed memslot call */
	char what[160];
	uint64_t rng;
};

static void *hm_churn_thread(void *arg)
{
	struct hm_churn *ch = arg;
	struct hm_ctx *c = ch->c;
	int i, r, to;

	while (!atomic_load(&ch->stop)) {
		uint64_t x = kmmu_ss_rand(&ch->rng);
		struct hm_slot *sl;

		i = x % HM_I_CHURN;
		sl = &c->slot[HM_I_STABLE + i];
		to = ch->where[i] ? ((x >> 8) & 1 ? 0 : 3 - ch->where[i]) : 1 + ((x >> 8) & 1);
		if (!to)
			r = kmmu_slot_delete(c->vm, sl->id);
		else if (ch->where[i])
			r = kmmu_slot_move(c->vm, sl->id, to == 1 ? sl->gpa : c->sh->slot[HM_I_STABLE + i].alt_gpa);
		else
			r = __kmmu_slot_add(c->vm, sl->id, to == 1 ? sl->gpa : c->sh->slot[HM_I_STABLE + i].alt_gpa,
					    sl->size, hm_hva(c, sl), 0);
		if (r) {
			ch->err = r;
			snprintf(ch->what, sizeof(ch->what), "churn: slot %s from %d to %d: %s",
				 sl->name, ch->where[i], to, strerror(-r));
			break;
		}
		ch->where[i] = to;
		ch->ops++;
	}
	return NULL;
}

/* All churned slots home again (the thread is stopped). */
static int hm_churn_restore(struct hm_churn *ch, char *err, size_t len)
{
	struct hm_ctx *c = ch->c;
	int i, r = 0;

	for (i = 0; i < HM_I_CHURN && !r; i++) {
		struct hm_slot *sl = &c->slot[HM_I_STABLE + i];

		if (ch->where[i] == 2)
			r = kmmu_slot_move(c->vm, sl->id, sl->gpa);
		else if (!ch->where[i])
			r = __kmmu_slot_add(c->vm, sl->id, sl->gpa, sl->size, hm_hva(c, sl), 0);
		if (r)
			snprintf(err, len, "restoring churned slot %s: %s", sl->name, strerror(-r));
		else
			ch->where[i] = 1;
	}
	return r;
}

static int hm_churn_start(struct hm_churn *ch, char *err, size_t len)
{
	int r;

	atomic_store(&ch->stop, false);
	r = pthread_create(&ch->thread, NULL, hm_churn_thread, ch);
	if (r) {
		snprintf(err, len, "starting the churn thread: %s", strerror(r));
		return -r;
	}
	ch->running = true;
	return 0;
}

static void hm_churn_stop(struct hm_churn *ch)
{
	if (!ch->running)
		return;
	atomic_store(&ch->stop, true);
	pthread_join(ch->thread, NULL);
	ch->running = false;
}

static int hm_cases(struct hm_ctx *c, struct hm_case *cs, uint64_t *probes, int *nr_probes)
{
	struct hm_slot *huge = &c->slot[0], *anon = &c->slot[1], *mfd = &c->slot[2];
	struct hm_slot *mv = &c->slot[3];
	uint64_t decoy = (uintptr_t)c->buf[c->nr_bufs - 1].base;
	long nslots = kmmu_vm_nr_slots(c->vm);
	long as = kmmu_kvm_cap(kmmu_vm_fd(c->vm), KVM_CAP_MULTI_ADDRESS_SPACE);
	uint32_t ro = KVM_MEM_READONLY;
	int n = 0, np = 0;

#define HM_CASE(w, sl, fl, g, sz, h, e) do {				\
		snprintf(cs[n].what, sizeof(cs[n].what), "%s", w);		\
		cs[n].untraced = (g) == 1ULL << 52;				\
		cs[n].slot = (sl);						\
		cs[n].flags = (fl);						\
		cs[n].gpa = (g);						\
		cs[n].size = (sz);						\
		cs[n].hva = (h);						\
		cs[n].want = (e);						\
		n++;								\
	} while (0)
#define HM_PROBE(g) (probes[np++] = (g))

	/* Overlaps: CREATE onto occupied ranges, MOVE onto other slots. */
	HM_CASE("create over the huge slot's last page", HM_I_NEWID, 0,
		huge->gpa + huge->size - HM_PAGE, 2 * HM_PAGE, decoy, -EEXIST);
	HM_CASE("create over the huge slot's middle 2M frame", HM_I_NEWID, 0,
		huge->gpa + HM_HUGE, HM_HUGE, decoy, -EEXIST);
	HM_CASE("create around a whole slot", HM_I_NEWID, 0, anon->gpa - HM_PAGE,
		anon->size + 2 * HM_PAGE, decoy, -EEXIST);
	HM_CASE("create exactly over another slot", HM_I_NEWID, 0, mfd->gpa, mfd->size, decoy,
		-EEXIST);
	HM_CASE("create whose last page is another slot's first page", HM_I_NEWID, 0,
		mfd->gpa - 3 * HM_PAGE, 4 * HM_PAGE, decoy, -EEXIST);
	HM_CASE("create of one page onto a slot's first page", HM_I_NEWID, 0, mfd->gpa, HM_PAGE,
		decoy, -EEXIST);
	HM_CASE("create inside the runtime's system slot", HM_I_NEWID, 0, KMMU_GPA_SYS, HM_PAGE,
		decoy, -EEXIST);
	HM_CASE("move onto another slot's first page", mv->id, 0,
		mfd->gpa - mv->size + HM_PAGE, mv->size, (uintptr_t)hm_hva(c, mv), -EEXIST);
	HM_CASE("move into the huge slot", mv->id, 0, huge->gpa + HM_HUGE - HM_PAGE, mv->size,
		(uintptr_t)hm_hva(c, mv), -EEXIST);
	/* Misaligned, wrapping, too large, beyond the address space. */
	HM_PROBE(HM_I_PROBE + 0 * 65536 + 0x800);
	HM_CASE("create with a gpa not page aligned", HM_I_NEWID, 0, probes[np - 1], HM_PAGE,
		decoy, -EINVAL);
	HM_PROBE(HM_I_PROBE + 1 * 65536);
	HM_CASE("create with a size not page aligned", HM_I_NEWID, 0, probes[np - 1],
		HM_PAGE + 512, decoy, -EINVAL);
	HM_PROBE(HM_I_PROBE + 2 * 65536);
	HM_CASE("create with an hva not page aligned", HM_I_NEWID, 0, probes[np - 1], HM_PAGE,
		decoy + 8, -EINVAL);
	HM_PROBE(HM_I_PROBE + 3 * 65536);
	HM_CASE("create with an hva in the kernel's half", HM_I_NEWID, 0, probes[np - 1], HM_PAGE,
		0xffffffff80000000ULL, -EINVAL);
	HM_CASE("create whose gpa + size wraps around", HM_I_NEWID, 0, ~0ULL & ~(HM_PAGE - 1),
		2 * HM_PAGE, decoy, -EINVAL);
	HM_PROBE(HM_I_PROBE + 4 * 65536);
	HM_CASE("create of 2^31 pages (KVM_MEM_MAX_NR_PAGES + 1)", HM_I_NEWID, 0, probes[np - 1],
		1ULL << 43, decoy, -EINVAL);
	HM_CASE("create beyond the guest physical address space (gpa 2^52)", HM_I_NEWID, 0,
		1ULL << 52, HM_PAGE, decoy, -EINVAL);
	HM_CASE("move beyond the guest physical address space (refused after invalidation)",
		mv->id, 0, 1ULL << 52, mv->size, (uintptr_t)hm_hva(c, mv), -EINVAL);
	HM_CASE("move to a gpa not page aligned", mv->id, 0, HM_I_FREE + 0x800, mv->size,
		(uintptr_t)hm_hva(c, mv), -EINVAL);
	/* Ids and address spaces out of range. */
	HM_PROBE(HM_I_PROBE + 5 * 65536);
	HM_CASE("create with id KVM_CAP_NR_MEMSLOTS", (uint32_t)nslots, 0, probes[np - 1], HM_PAGE,
		decoy, -EINVAL);
	HM_PROBE(HM_I_PROBE + 6 * 65536);
	HM_CASE("create in an address space beyond KVM_CAP_MULTI_ADDRESS_SPACE",
		(uint32_t)(as > 1 ? as : 1) << 16 | HM_I_NEWID, 0, probes[np - 1], HM_PAGE, decoy,
		-EINVAL);
	HM_PROBE(HM_I_PROBE + 7 * 65536);
	HM_CASE("create with an unknown flag (bit 7)", HM_I_NEWID, 1U << 7, probes[np - 1],
		HM_PAGE, decoy, -EINVAL);
	HM_CASE("delete an id that has no slot", HM_I_NEWID, 0, 0, 0, 0, -EINVAL);
	/* Changes of an existing slot that only CREATE may make. */
	HM_CASE("grow an existing slot in place", anon->id, 0, anon->gpa, anon->size + HM_PAGE,
		(uintptr_t)hm_hva(c, anon), -EINVAL);
	HM_CASE("shrink the huge slot in place", huge->id, 0, huge->gpa, huge->size - HM_HUGE,
		(uintptr_t)hm_hva(c, huge), -EINVAL);
	HM_CASE("change an existing slot's hva", anon->id, 0, anon->gpa, anon->size,
		(uintptr_t)hm_hva(c, anon) + HM_PAGE, -EINVAL);
	HM_CASE("toggle READONLY on an existing slot", anon->id, ro, anon->gpa, anon->size,
		(uintptr_t)hm_hva(c, anon), -EINVAL);
	HM_CASE("move and toggle READONLY at once", mv->id, ro, HM_I_FREE, mv->size,
		(uintptr_t)hm_hva(c, mv), -EINVAL);
	HM_CASE("move and change the size at once", mv->id, 0, HM_I_FREE, 2 * mv->size,
		(uintptr_t)hm_hva(c, mv), -EINVAL);
#undef HM_CASE
#undef HM_PROBE
	*nr_probes = np;
	return n;
}

#define HM_MAX_CASES 40

/* Ends HM_SPIN: both vCPUs back at the gate. */
static int hm_spin_pause(struct hm_ctx *c, char *err, size_t len)
{
	int r;

	__atomic_store_n(&c->sh->stop, 1, __ATOMIC_RELEASE);
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r)
		snprintf(err, len, "stopping the sweeps: %s",
			 r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return r;
}

/*
 * One pass over the cases (those with ->untraced == @untraced), in a
 * seeded order; then both vCPUs must complete two more sweeps.
 */
static int hm_invalid_pass(struct hm_ctx *c, struct hm_churn *ch, struct hm_case *cs, int n,
			   bool untraced, int pass, char *err, size_t len)
{
	uint64_t last[HM_NR_VCPUS];
	int i, r, order[HM_MAX_CASES];
	long churned = ch->ops;
	double t0;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		int j = kmmu_ss_rand(&c->rng) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < HM_NR_VCPUS; i++)
		last[i] = __atomic_load_n(&c->sh->progress[i], __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		struct hm_case *k = &cs[order[i]];
		uint64_t size = k->size;

		if (k->untraced != untraced)
			continue;
		if (hm_inject("accept") && pass == 0 && k->want == -EINVAL &&
		    size == HM_PAGE + 512) {
			size = HM_PAGE;	/* KVM accepts this one */
			ksft_print_msg("INJECTED: '%s' issued with a valid size\n", k->what);
		}
		snprintf(c->phase, sizeof(c->phase), "pass %d: %s (slot %#x flags %#x gpa %#llx size %#llx hva %#llx)",
			 pass, k->what, k->slot, k->flags, (unsigned long long)k->gpa,
			 (unsigned long long)size, (unsigned long long)k->hva);
		r = kmmu_slot_set_raw(c->vm, k->slot, k->flags, k->gpa, size, k->hva);
		k->tried++;
		if (r != k->want) {
			k->wrong++;
			k->got = r;
			snprintf(err, len, "%s: KVM_SET_USER_MEMORY_REGION returned %d (%s), __kvm_set_memory_region specifies %d (%s)",
				 c->phase, r, r ? strerror(-r) : "success", k->want,
				 strerror(-k->want));
			return -1;
		}
		if (kmmu_vm_failed(c->vm)) {
			snprintf(err, len, "after %s: %s", c->phase, kmmu_vm_errors(c->vm));
			return -EIO;
		}
	}
	/*
	 * Both vCPUs must still get through their sweeps, and the churn must
	 * have moved (a busy host may starve its thread while the cases run).
	 */
	snprintf(c->phase, sizeof(c->phase), "pass %d: waiting for both vCPUs to sweep twice", pass);
	t0 = kmmu_now();
	while (ch->ops < churned + HM_I_MIN_CHURN && !ch->err && kmmu_now() - t0 < 60)
		usleep(1000);
	for (i = 0; i < HM_NR_VCPUS; i++) {
		while (__atomic_load_n(&c->sh->progress[i], __ATOMIC_ACQUIRE) < last[i] + 2) {
			if (kmmu_vm_failed(c->vm)) {
				snprintf(err, len, "pass %d: %s", pass, kmmu_vm_errors(c->vm));
				return -EIO;
			}
			if (kmmu_now() - t0 > 60) {
				snprintf(err, len, "pass %d: vCPU %d finished no sweep of its slots in 60 s after the refused updates (a slot left invalid, a fault retried forever?)",
					 pass, i);
				return -ETIMEDOUT;
			}
			usleep(1000);
		}
	}
	if (ch->err) {
		snprintf(err, len, "%s", ch->what);
		return ch->err;
	}
	return 0;
}

static int hm_invalid_run(struct __test_metadata *_metadata, struct hm_ctx *c,
			  struct kmmu_trace_session **trace, struct hm_churn *ch,
			  struct hm_case *cs, int *nr_cases, char *err, size_t len)
{
	uint64_t probes[HM_MAX_PROBES], p;
	int i, s, r, n, np, pass;
	double t0;

	/* Buffers: huge, anon, memfd, mover, churned, decoy (last). */
	static const struct hm_bufdef bufs[] = {
		{ HM_BK_THP, 4 * HM_MB }, { HM_BK_ANON4K, 2 * HM_MB },
		{ HM_BK_MEMFD_SHARED, 2 * HM_MB }, { HM_BK_ANON4K, 2 * HM_MB },
		{ HM_BK_ANON4K, 2 * HM_MB }, { HM_BK_ANON4K, 2 * HM_MB },
	};
	for (i = 0; i < (int)(sizeof(bufs) / sizeof(bufs[0])); i++) {
		r = hm_buf_alloc(c, bufs[i].kind, bufs[i].size, err, len);
		if (r)
			return r;
	}
	hm_slot_def(c, "huge", 0, 0, 4 * HM_MB, HM_WIN_A);
	hm_slot_def(c, "anon", 1, 3 * HM_PAGE, 16 * HM_PAGE, HM_WIN_A + 8 * HM_MB + 3 * HM_PAGE);
	hm_slot_def(c, "memfd", 2, 5 * HM_PAGE, 8 * HM_PAGE, HM_WIN_A + 8 * HM_MB + 256 * 1024);
	hm_slot_def(c, "mover", 3, HM_PAGE, 4 * HM_PAGE, HM_WIN_A + 9 * HM_MB);
	for (i = 0; i < HM_I_CHURN; i++) {
		static const char *const names[HM_I_CHURN] = {
			"churn0", "churn1", "churn2", "churn3", "churn4", "churn5", "churn6", "churn7",
		};

		hm_slot_def(c, names[i], 4, (2 * i + 1) * HM_PAGE, 2 * HM_PAGE,
			    HM_I_HOME + i * 65536);
	}
	r = hm_vm_start(c, *trace, HM_WIN_A, 0, 32 * HM_MB, err, len);
	if (r)
		return r;
	/* The decoy: what a wrongly accepted overlapping create would show. */
	for (p = 0; p < c->buf[5].size / HM_PAGE; p++)
		hm_put(c->buf[5].base + p * HM_PAGE, hm_pat(HM_TAG_FOREIGN, 5, p, 0));
	for (s = 0; s < c->nr_slots; s++) {
		hm_host_write_slot(c, s, 0);
		if (s >= HM_I_STABLE)
			c->sh->slot[s].alt_gpa = HM_I_ALT + (s - HM_I_STABLE) * 65536;
		r = hm_place(c, s, c->slot[s].gpa, false, err, len);
		if (r)
			return r;
	}
	n = hm_cases(c, cs, probes, &np);
	*nr_cases = n;
	c->sh->nr_probes = np;
	for (i = 0; i < np; i++)
		c->sh->probe_gpa[i] = probes[i];
	/* MMIO allowed: the churned slots' two places and the probes. */
	c->mmio_lo[0] = HM_I_HOME;
	c->mmio_hi[0] = HM_I_HOME + HM_I_CHURN * 65536;
	c->mmio_lo[1] = HM_I_ALT;
	c->mmio_hi[1] = HM_I_ALT + HM_I_CHURN * 65536;
	c->mmio_lo[2] = HM_I_PROBE;
	c->mmio_hi[2] = HM_I_PROBE + HM_MB;

	for (i = 0; i < HM_I_CHURN; i++)
		ch->where[i] = 1;
	ch->c = c;
	ch->rng = c->rng ^ 0x5bd1e9955bd1e995ULL;
	if (!ch->rng)
		ch->rng = 1;
	snprintf(c->phase, sizeof(c->phase), "refused memslot updates while slots churn");
	c->sh->arg[0] = (1ULL << HM_I_STABLE) - 1;
	c->sh->arg[1] = ((1ULL << HM_I_CHURN) - 1) << HM_I_STABLE;
	kmmu_gate_open(&c->gate, HM_SPIN);
	c->arrivals += HM_NR_VCPUS;
	r = hm_churn_start(ch, err, len);
	if (r)
		return r;

	/* The reference check covers every case but those it cannot judge. */
	t0 = kmmu_now();
	for (pass = 0; pass < hm_opts.passes; pass++) {
		r = hm_invalid_pass(c, ch, cs, n, false, pass, err, len);
		if (r)
			return r;
	}
	/*
	 * The churn thread is the other memslot writer: stopped while the
	 * check ends; the vCPUs pause too, so that the replay gets the CPU.
	 */
	hm_churn_stop(ch);
	ksft_print_msg("traced passes: %.2f s, %ld churn updates\n", kmmu_now() - t0, ch->ops);
	t0 = kmmu_now();
	if (ch->err) {
		snprintf(err, len, "%s", ch->what);
		return ch->err;
	}
	if (*trace) {
		r = hm_spin_pause(c, err, len);
		if (r)
			return r;
		r = hm_trace_finish(c, trace);
		if (r) {
			snprintf(err, len, "the kernel's MMU events diverge from the reference (see the checker's lines above)");
			return -1;
		}
		__atomic_store_n(&c->sh->stop, 0, __ATOMIC_RELEASE);
		kmmu_gate_open(&c->gate, HM_SPIN);
		c->arrivals += HM_NR_VCPUS;
	}
	for (i = 0; i < n; i++)
		if (cs[i].untraced)
			ksft_print_msg("after the reference check: %s\n", cs[i].what);
	ksft_print_msg("checker: %.2f s\n", kmmu_now() - t0);
	t0 = kmmu_now();
	r = hm_churn_start(ch, err, len);
	if (r)
		return r;
	for (pass = 0; pass < hm_opts.passes; pass++) {
		r = hm_invalid_pass(c, ch, cs, n, true, pass, err, len);
		if (r)
			return r;
	}
	hm_churn_stop(ch);
	ksft_print_msg("untraced passes: %.2f s, %ld churn updates\n", kmmu_now() - t0, ch->ops);
	if (ch->err) {
		snprintf(err, len, "%s", ch->what);
		return ch->err;
	}
	snprintf(c->phase, sizeof(c->phase), "undoing the churn");
	r = hm_churn_restore(ch, err, len);
	if (r)
		return r;
	r = hm_spin_pause(c, err, len);
	if (r)
		return r;
	snprintf(c->phase, sizeof(c->phase), "the final sweep: every slot exact, every refused range MMIO");
	r = hm_step(c, HM_FINAL, err, len);
	for (s = 0; !r && s < c->nr_slots; s++)
		r = hm_host_check_slot(c, s, err, len);
	return r;
}

/* ---- the harness ---- */

FIXTURE(hm) {
	struct kmmu_test_run run;	/* the checker's session; the VM is c->vm */
	struct hm_ctx *c;
	struct hm_churn *ch;
};

FIXTURE_SETUP(hm)
{
	KMMU_TEST_SETUP(&self->run, NULL);
	self->c = calloc(1, sizeof(*self->c));
	ASSERT_NE(NULL, self->c);
	self->c->rng = hm_opts.seed ? hm_opts.seed : 1;
}

FIXTURE_TEARDOWN(hm)
{
	struct hm_ctx *c = self->c;

	if (!self->run.started)
		return;
	/* Still set: the run failed.  Aborted first, as it always was. */
	kmmu_trace_session_abort(self->run.trace);
	self->run.trace = NULL;
	if (self->ch)
		hm_churn_stop(self->ch);
	if (c) {
		/*
		 * A vCPU parked at the gate waits in its sync handler, where
		 * no kick reaches it: release it into the guest's exit path.
		 */
		if (c->gate_init)
			kmmu_gate_open(&c->gate, HM_QUIT);
		kmmu_vm_destroy(c->vm);
		if (c->stats_ok)
			kmmu_stats_close(&c->stats);
		if (c->gate_init)
			kmmu_gate_destroy(&c->gate);
		hm_bufs_free(c);
		if (c->hugetlb_changed) {
			hm_hugetlb_restore(c);
			kmmu_cleanup_forget(hm_hugetlb_restore, c);
		}
	}
	free(self->ch);
	free(c);
	KMMU_TEST_END(&self->run);
	ksft_print_msg("%.2f s\n", kmmu_now() - self->run.t0);
}

/* A checked run of @name, or NULL.  @always: unless KMMU_CHECK=0; else with --check-all. */
static struct kmmu_trace_session *hm_trace_start(const char *name, bool always)
{
	char why[256];
	struct kmmu_trace_session *t;

	if (!always && !hm_opts.check_all) {
		ksft_print_msg("checking against the reference: off in this test (--check-all)\n");
		return NULL;
	}
	t = kmmu_trace_session_start(name, why, sizeof(why));

	if (t)
		ksft_print_msg("checking against the reference: on\n");
	else
		ksft_print_msg("checking against the reference: off (%s)\n", why);
	return t;
}



KMMU_TEST_F(hm, thp_data, 300)
{
	char err[1024], thp[64] = "";
	int r;

	if (kmmu_ctl_read("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp)) ||
	    strstr(thp, "[never]"))
		SKIP(return, "transparent huge pages are off (%s)", thp[0] ? thp : "no sysfs file");
	r = hm_data_setup(self->c, hm_thp_bufs, sizeof(hm_thp_bufs) / sizeof(hm_thp_bufs[0]),
			  hm_thp_slots, sizeof(hm_thp_slots) / sizeof(hm_thp_slots[0]),
			  err, sizeof(err));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	self->run.trace = hm_trace_start("huge_mapping_test.thp_data", false);
	r = hm_data_run(_metadata, self->c, self->run.trace, hm_thp_slots, err, sizeof(err));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	r = hm_quit(self->c, err, sizeof(err));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	ASSERT_EQ(0, hm_trace_finish(self->c, &self->run.trace))
		TH_LOG("the kernel's MMU events diverge from the reference (see the checker's lines above)");
}

KMMU_TEST_F(hm, hugetlb_data, 300)
{
	struct hm_ctx *c = self->c;
	char err[1024];
	uint64_t p;
	int r;

	r = hm_hugetlb_reserve(c, HM_HUGETLB_PAGES, err, sizeof(err));
	if (r)
		SKIP(return, "%s", err);
	r = hm_data_setup(c, hm_hugetlb_bufs, sizeof(hm_hugetlb_bufs) / sizeof(hm_hugetlb_bufs[0]),
			  hm_hugetlb_slots, sizeof(hm_hugetlb_slots) / sizeof(hm_hugetlb_slots[0]),
			  err, sizeof(err));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	self->run.trace = hm_trace_start("huge_mapping_test.hugetlb_data", false);
	r = hm_data_run(_metadata, c, self->run.trace, hm_hugetlb_slots, err, sizeof(err));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	/* One 2M page of the 4M slot dropped: it reads zero, the other keeps its data. */
	snprintf(c->phase, sizeof(c->phase), "MADV_DONTNEED of the second 2M page of slot %s",
		 c->slot[0].name);
	ASSERT_EQ(0, madvise(hm_hva(c, &c->slot[0]) + HM_HUGE, HM_HUGE, MADV_DONTNEED))
		TH_LOG("madvise: %s", strerror(errno));
	for (p = HM_PAGES_2M; p < 2 * HM_PAGES_2M; p++)
		hm_set_exp_page(c, 0, p, 0);
	c->sh->arg[0] = 3;
	c->sh->arg[1] = 3;
	c->sh->arg[2] = ~0ULL;
	r = hm_step(c, HM_CHECK, err, sizeof(err));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	r = hm_quit(c, err, sizeof(err));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	ASSERT_EQ(0, hm_trace_finish(self->c, &self->run.trace))
		TH_LOG("the kernel's MMU events diverge from the reference (see the checker's lines above)");
}

KMMU_TEST_F(hm, notifier_one_page, 300)
{
	struct hm_n_counts cnt = { 0 };
	char err[1024];
	int r, i;

	self->run.trace = hm_trace_start("huge_mapping_test.notifier_one_page", false);
	r = hm_notifier_run(_metadata, self->c, self->run.trace, &cnt, err, sizeof(err));
	for (i = 0; i < HM_NR_OPS; i++)
		ksft_print_msg("%-34s x%ld\n", hm_op_names[i], cnt.ops[i]);
	ksft_print_msg("pages operated on: %ld; KVM_RUN EFAULTs on stores to read-only pages: %ld\n",
		       cnt.pages, cnt.efaults);
	if (self->c->sh)
		ksft_print_msg("storms: %llu guest loads between two steps checked, %llu overlapped a step\n",
			       (unsigned long long)self->c->sh->storm_checked,
			       (unsigned long long)self->c->sh->storm_racy);
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	ASSERT_EQ(0, atomic_load(&self->c->other_run_errors));
	r = hm_quit(self->c, err, sizeof(err));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	ASSERT_EQ(0, hm_trace_finish(self->c, &self->run.trace))
		TH_LOG("the kernel's MMU events diverge from the reference (see the checker's lines above)");
}

KMMU_TEST_F(hm, invalid_memslots, 300)
{
	struct hm_case cs[HM_MAX_CASES];
	char err[1024];
	int r, i, n = 0;

	memset(cs, 0, sizeof(cs));
	self->ch = calloc(1, sizeof(*self->ch));
	ASSERT_NE(NULL, self->ch);
	self->run.trace = hm_trace_start("huge_mapping_test.invalid_memslots", true);
	r = hm_invalid_run(_metadata, self->c, &self->run.trace, self->ch, cs, &n, err, sizeof(err));
	for (i = 0; i < n; i++)
		ksft_print_msg("%-78s %-6s x%ld%s\n", cs[i].what, strerror(-cs[i].want), cs[i].tried,
			       cs[i].wrong ? " WRONG" : "");
	ksft_print_msg("churn: %ld memslot updates meanwhile; MMIO exits %ld; guest sweeps %llu + %llu\n",
		       self->ch->ops, atomic_load(&self->c->mmio_exits),
		       (unsigned long long)(self->c->sh ? self->c->sh->progress[0] : 0),
		       (unsigned long long)(self->c->sh ? self->c->sh->progress[1] : 0));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	r = hm_quit(self->c, err, sizeof(err));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	ASSERT_EQ(0, hm_trace_finish(self->c, &self->run.trace))
		TH_LOG("the kernel's MMU events diverge from the reference (see the checker's lines above)");
}

/* ---- main ---- */

static void hm_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-S seed] [-r rounds] [-n ops] [-p passes] [--check-all] [-h]\n"
		"  -S  random seed (default: time based; always printed)\n"
		"  -r  data rounds per huge-page backing (default %ld, max 64)\n"
		"  -n  one-page MMU-notifier operations (default %ld, max 10000)\n"
		"  -p  passes over the refused memslot updates (default %ld, max 1000)\n"
		"  --check-all  check thp_data, hugetlb_data and notifier_one_page against\n"
		"      the reference too (invalid_memslots always is, unless KMMU_CHECK=0;\n"
		"      each check costs 5-15 s in a TCG VM)\n"
		"$KMMU_HUGE_INJECT=swap|stale|accept plants a bug in the test, which must\n"
		"then fail: swap (two pages of a huge slot trade places), stale (a dropped\n"
		"page gets its old content back), accept (a refused create made valid)\n",
		prog, hm_opts.rounds, hm_opts.ops, hm_opts.passes);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check-all", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = "huge_mapping_test";
	bool seeded = false;
	char why[256];
	uint64_t u;
	int opt, fd;

	while ((opt = kmmu_getopt(prog, argc, argv, ":S:r:n:p:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'S':
			if (kmmu_parse_u64(optarg, 0, ~0ULL, &hm_opts.seed))
				kmmu_usage_error(prog, "-S wants an unsigned 64-bit seed");
			seeded = true;
			break;
		case 'r':
			if (kmmu_parse_u64(optarg, 1, 64, &u))
				kmmu_usage_error(prog, "-r wants a round count from 1 to 64");
			hm_opts.rounds = u;
			break;
		case 'n':
			if (kmmu_parse_u64(optarg, 0, 10000, &u))
				kmmu_usage_error(prog, "-n wants an operation count from 0 to 10000");
			hm_opts.ops = u;
			break;
		case 'p':
			if (kmmu_parse_u64(optarg, 1, 1000, &u))
				kmmu_usage_error(prog, "-p wants a pass count from 1 to 1000");
			hm_opts.passes = u;
			break;
		case 'C':
			hm_opts.check_all = true;
			break;
		case 'h':
			hm_usage(stdout, prog);
			return 0;
		}
	}
	hm_opts.inject = getenv("KMMU_HUGE_INJECT");
	if (hm_opts.inject && !*hm_opts.inject)
		hm_opts.inject = NULL;
	if (hm_opts.inject && !hm_inject("swap") && !hm_inject("stale") && !hm_inject("accept"))
		kmmu_usage_error(prog, "KMMU_HUGE_INJECT wants swap, stale or accept");
	if (!seeded)
		hm_opts.seed = kmmu_time_seed();
	kmmu_test_header(prog, "seed %llu rounds %ld ops %ld passes %ld%s%s%s",
			 (unsigned long long)hm_opts.seed, hm_opts.rounds, hm_opts.ops,
			 hm_opts.passes, hm_opts.check_all ? " check-all" : "",
			 hm_opts.inject ? " INJECTED BUG: " : "", hm_opts.inject ? hm_opts.inject : "");
	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd < 0)
		ksft_exit_skip("%s\n", why);
	close(fd);
	return test_harness_run(argc, argv);
}
