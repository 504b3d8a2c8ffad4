// SPDX-License-Identifier: GPL-2.0
/*
 * mmu_stress_test's thread kinds: each plays one actor of the kernel (the
 * CPU's page walker, vCPU faults, aging, the dirty log, MMU notifiers,
 * zaps, memslot updates, the audit) in a loop until the run stops, with
 * choices drawn from its own seeded generator.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include <kmmu/aging.h>
#include <kmmu/notifier.h>
#include <kmmu/zap.h>

#include "stress.h"

/*
 * Mostly the hot slot, a quarter of the time its first HOTTEST pages, so
 * that the hardware, aging and the harvest collide on the same SPTEs.
 */
static gfn_t pick_gfn(uint64_t *s)
{
	uint64_t r = rnd(s);

	switch (r % 8) {
	case 0: case 1:
		return (r >> 8) % HOTTEST;
	case 2: case 3:
		return (r >> 8) % HOT_PAGES;
	case 4: case 5:
		return HOT_PAGES + (r >> 8) % BIG_PAGES;
	case 6:
		return ((r & 64) ? MOVING_GPA1 : MOVING_GPA0) / PG + (r >> 8) % MOVING_PAGES;
	default:
		return (r >> 8) % GFN_SPAN;
	}
}

/* A random page-aligned hva range of 1..64 pages inside the host range. */
static void pick_hva_range(uint64_t *s, unsigned long *start, unsigned long *end)
{
	uint64_t r = rnd(s);
	unsigned long n = 1 + (r % MAX_RANGE_PAGES), first = (r >> 8) % (NR_PFNS - n);

	/* Mostly where the hot slot is, often exactly its hottest pages. */
	if ((r >> 40) % 4 == 0) {
		*start = HVA_BASE;
		*end = HVA_BASE + HOTTEST * PG;
		return;
	}
	if (r & (1ull << 50))
		first %= HOT_PAGES;
	*start = HVA_BASE + first * PG;
	*end = *start + n * PG;
}

/*
 * The end of a thread's step: a negative @r fails the run (@what names
 * the call), anything else counts the step and pauses the thread for
 * @pause_us.  Returns whether the thread goes on.
 */
static bool step_done(struct thr *t, int r, const char *what, useconds_t pause_us)
{
	if (r < 0) {
		fail(t->st, "%s: %s", what, strerror(-r));
		return false;
	}
	t->n[N_OPS]++;
	usleep(pause_us);
	return true;
}

static void *hw_thread(struct thr *t)
{
	struct stress *st = t->st;

	while (!stopped(st)) {
		uint64_t set, pfn, k, r = rnd(&t->rng);
		gfn_t gfn = pick_gfn(&t->rng);
		long page = gfn_page(gfn);
		unsigned int gen0 = page < 0 ? 0 : host_gen(st, page);
		int level;

		if (kmmu_hw_access(st->vm, r % st->nr_vcpus, 0, gfn, (r >> 4) & 1,
				   &set, &pfn, &level) == 1) {
			t->n[N_HW_HITS]++;
			check_reached(st, "hw", gfn, pfn, level, gen0);
			k = (pfn - PFN0) % NR_FRAMES;
			if (set & KMMU_PT_ACCESSED_MASK)
				__atomic_add_fetch(&st->ad[C_HW_A][k], 1, __ATOMIC_RELAXED);
			if (set & KMMU_PT_DIRTY_MASK)
				__atomic_add_fetch(&st->ad[C_HW_D][k], 1, __ATOMIC_RELAXED);
		}
		t->n[N_OPS]++;
	}
	return NULL;
}

static void *fault_thread(struct thr *t)
{
	struct stress *st = t->st;
	struct kmmu_fault f;
	int r;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);
		gfn_t gfn = pick_gfn(&t->rng);
		long page = gfn_page(gfn);
		unsigned int gen0 = page < 0 ? 0 : host_gen(st, page);
		uint32_t ec = (x & 16) ? KMMU_PFERR_WRITE_MASK : 0;

		/* kvm_mmu_page_fault(): the lockless fast path first. */
		r = kmmu_fast_page_fault(st->vm, x % st->nr_vcpus, 0, gfn, ec, &f);
		if (!r)
			t->n[N_FAST_FIXED] += f.result == KMMU_FAULT_FIXED;
		if (r == -EAGAIN)
			r = kmmu_page_fault(st->vm, x % st->nr_vcpus, 0, gfn, ec, &f);
		if (r) {
			fail(st, "fault: %s", strerror(-r));
			break;
		}
		if (f.result == KMMU_FAULT_RETRY)
			t->n[N_RETRIES]++;
		t->n[N_MAPPED_2M] += f.result == KMMU_FAULT_MAPPED_2M;
		/* Whatever leaf the fault made or found maps the page's frame now. */
		if (kmmu_is_shadow_present_pte(f.spte) && kmmu_is_last_spte(f.spte, f.level))
			check_reached(st, "fault", gfn, kmmu_spte_to_pfn(f.spte), f.level,
				      gen0);
		t->n[N_OPS]++;
	}
	return NULL;
}

static void *aging_thread(struct thr *t)
{
	unsigned long bitmap[BITMAP_LONGS];
	struct stress *st = t->st;
	struct age_call *ac;
	unsigned long start, end;
	const char *what;
	long r;

	ac = malloc(sizeof(*ac));
	if (!ac) {
		fail(st, "aging: out of memory");
		return NULL;
	}
	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);

		pick_hva_range(&t->rng, &start, &end);
		ac->nr = 0;
		cur_age_call = ac;
		switch (x % 5) {
		case 0:
			what = "clear_young (locked)";
			r = kmmu_mmu_notifier_clear_young(st->vm, start, end, KMMU_AGING_LOCKED);
			break;
		case 1:
		case 2:
			what = "clear_young (lockless)";
			r = kmmu_mmu_notifier_clear_young(st->vm, start, end, KMMU_AGING_LOCKLESS);
			break;
		case 3:
			what = "test_young";
			r = kmmu_mmu_notifier_test_young(st->vm, start, end,
							 (x >> 8) & 1 ? KMMU_AGING_LOCKLESS :
									KMMU_AGING_LOCKED);
			break;
		default:
			what = "test_clear_young";
			memset(bitmap, 0, sizeof(bitmap));
			r = kmmu_test_clear_young(st->vm, start, end, bitmap);
			break;
		}
		cur_age_call = NULL;
		if (r < 0) {
			fail(st, "%s: %s", what, strerror((int)-r));
			break;
		}
		/*
		 * The answer is what reclaim acts on, the reports what the
		 * ledger checks: they must agree call by call.
		 */
		if (ac->nr > MAX_AGE_REPORTS) {
			fail(st, "%s: %u Accessed bits reported for %lu pages", what, ac->nr,
			     (end - start) / PG);
		} else if (x % 5 == 3) {
			if (ac->nr)
				fail(st, "test_young cleared %u Accessed bits", ac->nr);
		} else if (x % 5 == 4) {
			if (r > (long)((end - start) / PG))
				fail(st, "test_clear_young: %ld young pages in %lu", r,
				     (end - start) / PG);
			else
				check_bitmap(st, ac, r, start, end, bitmap);
			t->n[N_BITMAP_YOUNG] += r;
		} else if (r != (long)ac->nr) {
			fail(st, "%s: answered %ld young, reported %u Accessed bits", what, r,
			     ac->nr);
		}
		t->n[N_AGE_CHECKS]++;
		t->n[N_YOUNG] += r > 0;
		t->n[N_OPS]++;
	}
	free(ac);
	return NULL;
}

static void *harvest_thread(struct thr *t)
{
	struct stress *st = t->st;
	struct kmmu_memory_slot *slot;
	unsigned long n = 0;
	int r;

	while (!stopped(st)) {
		urcu_memb_read_lock();
		slot = kmmu_id_to_memslot(kmmu_memslots_active(st->vm->memslots, 0), HOT_SLOT);
		/*
		 * Both ways of harvesting the dirty log: clear Dirty (PML) or
		 * write-protect (the lockless fast path makes it writable).
		 */
		if (!slot)
			r = -ENOENT;
		else if (n % 8 == 1)
			r = kmmu_mmu_slot_remove_write_access(st->vm, slot, KMMU_PG_LEVEL_4K);
		else if (n % 8 == 5)
			r = kmmu_mmu_slot_leaf_clear_dirty(st->vm, slot);
		else	/* KVM_CLEAR_DIRTY_LOG of the hottest pages: many Dirty 0->1 */
			r = kmmu_mmu_clear_dirty_gfn_range(st->vm, slot, 0, HOTTEST);
		urcu_memb_read_unlock();
		if (r) {
			fail(st, "clear dirty: %s", strerror(-r));
			break;
		}
		n++;
		usleep(20);
	}
	t->n[N_OPS] += n;
	return NULL;
}

static void *invalidate_thread(struct thr *t)
{
	struct stress *st = t->st;
	unsigned long start, end, first, last, r2;
	long mapped;
	int r;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);
		int op = x % 8;		/* 0-1 nothing moves, 2 collapse, else migrate */

		pick_hva_range(&t->rng, &start, &end);
		first = (start - HVA_BASE) / PG;
		last = (end - HVA_BASE) / PG;
		if (op == 2) {
			/* A whole 2M region gets a new huge page. */
			first -= first % HPAGE;
			last = first + HPAGE;
		} else if (op > 2) {
			/*
			 * Host huge pages in the way are split by the same
			 * invalidation: it covers them whole.  (Racy: one that
			 * appears meanwhile is left alone by host_migrate().)
			 */
			for (r2 = first / HPAGE; r2 <= (last - 1) / HPAGE; r2++) {
				if (!__atomic_load_n(&st->host.huge[r2], __ATOMIC_RELAXED))
					continue;
				if (first > r2 * HPAGE)
					first = r2 * HPAGE;
				if (last < (r2 + 1) * HPAGE)
					last = (r2 + 1) * HPAGE;
			}
		}
		start = HVA_BASE + first * PG;
		end = HVA_BASE + last * PG;
		r = kmmu_mmu_notifier_invalidate_range_start(st->vm, start, end);
		if (r) {
			fail(st, "invalidate_range_start: %s", strerror(-r));
			break;
		}
		/* The host changes the pages only once KVM has let go of them. */
		if (op == 2) {
			host_collapse(st, first / HPAGE);
			t->n[N_COLLAPSES]++;
		} else if (op > 2) {
			t->n[N_MIGRATED] += host_migrate(st, first, last);
		}
		/* Let faults race with the open window. */
		if (rnd(&t->rng) & 1)
			sched_yield();
		mapped = kmmu_mmu_hva_range_mapped(st->vm, start, end);
		t->n[N_STALE_CHECKS]++;
		if (mapped)
			fail_stale(st, STALE_WINDOW,
				   "stale SPTE: %ld SPTEs map hva [%#lx, %#lx) inside its invalidation",
				   mapped, start, end);
		r = kmmu_mmu_notifier_invalidate_range_end(st->vm, start, end);
		if (r) {
			fail(st, "invalidate_range_end: %s", strerror(-r));
			break;
		}
		/*
		 * Faults may map the range again now, but only to the frames
		 * the host has now: one that looked up its frame before the
		 * change and did not retry has left the old one behind.
		 */
		check_pfns(st, start, end, STALE_AFTER_END, "after invalidate_range_end");
		t->n[N_PFN_CHECKS]++;
		t->n[N_OPS]++;
		usleep(50);
	}
	return NULL;
}

static void *zap_thread(struct thr *t)
{
	struct stress *st = t->st;
	struct kmmu_memory_slot *slot;
	gfn_t gfn;
	int r = 0;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);

		switch (x % 32) {
		case 0:	/* kvm_mmu_zap_all_fast(): a new mmu_valid_gen */
			kmmu_mmu_zap_all_fast(st->vm);
			t->n[N_ZAP_ALL]++;
			break;
		case 1:	/* kvm_mmu_zap_all(), now and then */
			if ((x >> 8) % 4 == 0) {
				kmmu_mmu_zap_all(st->vm);
				t->n[N_ZAP_ALL]++;
			}
			break;
		case 2: case 3: case 4: case 5:	/* kvm_mmu_zap_memslot() */
			urcu_memb_read_lock();
			slot = kmmu_id_to_memslot(kmmu_memslots_active(st->vm->memslots, 0),
						  (x >> 8) % 3);
			r = slot ? kmmu_mmu_zap_memslot(st->vm, slot) : 0;
			urcu_memb_read_unlock();
			break;
		default: /* kvm_zap_gfn_range(), sometimes a whole 2M */
			gfn = pick_gfn(&t->rng);
			if ((x >> 8) % 4 == 0)
				r = kmmu_mmu_zap_gfn_range(st->vm, gfn & ~(HPAGE - 1),
							   (gfn | (HPAGE - 1)) + 1);
			else
				r = kmmu_mmu_zap_gfn_range(st->vm, gfn, gfn + 1 + (x >> 16) % 64);
			if (r > 0)
				t->n[N_ZAPPED] += r;
			break;
		}
		if (!step_done(t, r, "zap", 100))
			break;
	}
	return NULL;
}

static void *memslot_thread(struct thr *t)
{
	struct stress *st = t->st;
	struct moving *m = &st->moving;
	int r = 0;

	while (!stopped(st)) {
		uint64_t x = rnd(&t->rng);

		pthread_mutex_lock(&m->lock);
		if (!m->present) {
			r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, m->flags, m->gpa,
							  MOVING_PAGES * PG, MOVING_HVA);
			m->present = true;
		} else {
			switch (x % 3) {
			case 0:	/* MOVE */
				m->gpa = m->gpa == MOVING_GPA0 ? MOVING_GPA1 : MOVING_GPA0;
				r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, m->flags,
								  m->gpa, MOVING_PAGES * PG,
								  MOVING_HVA);
				t->n[N_MOVES]++;
				break;
			case 1:	/* DELETE */
				r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, m->flags,
								  m->gpa, 0, MOVING_HVA);
				m->present = false;
				break;
			default: /* FLAGS_ONLY: dirty logging on/off */
				m->flags ^= KMMU_MEM_LOG_DIRTY_PAGES;
				r = kmmu_ref_vm_set_memory_region(st->vm, MOVING_SLOT, m->flags,
								  m->gpa, MOVING_PAGES * PG,
								  MOVING_HVA);
				break;
			}
		}
		pthread_mutex_unlock(&m->lock);
		if (!step_done(t, r, "set_memory_region", 500))
			break;
	}
	return NULL;
}

static void *audit_thread(struct thr *t)
{
	struct stress *st = t->st;
	char why[256];

	while (!stopped(st)) {
		if (kmmu_mmu_audit(st->vm, why, sizeof(why))) {
			fail(st, "audit: %s", why);
			break;
		}
		/* Every SPTE of the VM against the host, not just a range just invalidated. */
		check_pfns(st, HVA_BASE, HVA_BASE + NR_PFNS * PG, STALE_AUDIT, "in the audit");
		t->n[N_PFN_CHECKS]++;
		t->n[N_OPS]++;
		usleep(20000);
	}
	return NULL;
}

void *thread_main(void *arg)
{
	struct thr *t = arg;

	urcu_memb_register_thread();
	t->fn(t);
	urcu_memb_unregister_thread();
	return NULL;
}

const struct kind kinds[NR_KINDS] = {
	{ "hw", hw_thread },
	{ "fault", fault_thread },
	{ "aging", aging_thread },
	{ "harvest", harvest_thread },
	{ "invalidate", invalidate_thread },
	{ "zap", zap_thread },
	{ "memslots", memslot_thread },
	{ "audit", audit_thread },
};
