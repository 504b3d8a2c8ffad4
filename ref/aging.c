// SPDX-License-Identifier: GPL-2.0
/*
 * Aging: clear_young / test_young, locked and lockless, seed 003's
 * test_clear_young bitmap, and the simulated hardware's A/D assist
 * (see kmmu/aging.h).
 */
#include <errno.h>

#include "kmmu/aging.h"
#include "kmmu/notifier.h"

#define A_BIT	KMMU_PT_ACCESSED_MASK
#define D_BIT	KMMU_PT_DIRTY_MASK

const char *kmmu_aging_mode_name(enum kmmu_aging_mode mode)
{
	switch (mode) {
	case KMMU_AGING_LOCKED:
		return "locked";
	case KMMU_AGING_LOCKLESS:
		return "lockless";
	default:
		return "invalid";
	}
}

static bool young_leaf(uint64_t spte, int level)
{
	return kmmu_is_shadow_present_pte(spte) && kmmu_is_last_spte(spte, level) &&
	       (spte & A_BIT);
}

/* mmu_lock held for write: the SPTE stays this leaf, but A/D still move. */
static bool age_spte_locked(struct kmmu_ref_vm *vm, uint64_t *sptep, int level, bool test_only)
{
	uint64_t old;

	if (test_only)
		return young_leaf(kmmu_spte_read(sptep), level);
	if (!young_leaf(kmmu_spte_read(sptep), level))
		return false;
	/* test_and_clear_bit(shadow_accessed_bit): Dirty is left alone. */
	old = __atomic_fetch_and(sptep, ~A_BIT, __ATOMIC_ACQ_REL);
	if (!young_leaf(old, level))
		return false;
	kmmu_ad_report(vm, old & ~D_BIT, level, false);
	return true;
}

/*
 * No mmu_lock: the SPTE may be zapped (cleared) or rewritten by a fault
 * while we look, and the hardware may set Dirty.  The cmpxchg only clears
 * Accessed from the exact value read; a failure re-reads and decides
 * again, so a zapped SPTE is left alone and no bit set meanwhile is lost.
 */
static bool age_spte_lockless(struct kmmu_ref_vm *vm, uint64_t *sptep, int level, bool test_only)
{
	uint64_t spte = kmmu_spte_read(sptep);

	for (;;) {
		if (!young_leaf(spte, level))
			return false;
		if (test_only)
			return true;
#ifdef KMMU_MUTATE_AGING_NO_CMPXCHG
		/*
		 * The planted mistake: a Dirty bit set since the read is
		 * overwritten.  The pause stands for an interrupt between the
		 * read and the store; it only widens the window the mistake
		 * has anyway, so that the stress meets it within seconds.
		 * The mutant looks again before it stores, so that it rarely
		 * brings back an SPTE zapped during the pause: that is the
		 * same mistake too, but the audit then stops the run before
		 * the lost Dirty bit, the harm this mutant is about, shows.
		 */
		for (int i = 0; i < 1000; i++)
			caa_cpu_relax();
		if (young_leaf(kmmu_spte_read(sptep), level))
			kmmu_spte_write(sptep, spte & ~A_BIT);
		break;
#else
		if (kmmu_spte_try_cmpxchg(sptep, &spte, spte & ~A_BIT))
			break;
#endif
	}
	kmmu_ad_report(vm, spte & ~D_BIT, level, false);
	return true;
}

/* Per young leaf: set the bitmap bits of the pages it maps (test_clear_young). */
struct young_bitmap {
	unsigned long hva_start, hva_end;
	unsigned long *bitmap;
	long nr_young;
};

static void mark_young(struct young_bitmap *yb, const struct kmmu_memory_slot *slot,
		       gfn_t base, int level, gfn_t start, gfn_t end)
{
	gfn_t g, lo = base, hi = base + KMMU_PAGES_PER_HPAGE(level);
	const unsigned long bpl = 8 * sizeof(unsigned long);

	if (lo < start)
		lo = start;
	if (hi > end)
		hi = end;
	for (g = lo; g < hi; g++) {
		unsigned long hva = kmmu_gfn_to_hva_memslot(slot, g);
		unsigned long bit, mask;

		if (hva < yb->hva_start || hva >= yb->hva_end)
			continue;
		bit = (hva - yb->hva_start) >> KMMU_PAGE_SHIFT;
		mask = 1ul << (bit % bpl);
		if (!(yb->bitmap[bit / bpl] & mask)) {
			yb->bitmap[bit / bpl] |= mask;
			yb->nr_young++;
		}
#ifdef KMMU_MUTATE_BITMAP_DROP
		/*
		 * The planted mistake: a young SPTE marks one page, as if
		 * every SPTE were 4K.  The count still agrees with the bits
		 * and with the reports (one per SPTE); only comparing the
		 * bitmap with the pages each reported SPTE maps can see it.
		 */
		break;
#endif
	}
}

static int age_slot(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot, gfn_t start,
		    gfn_t end, enum kmmu_aging_mode mode, bool test_only, struct young_bitmap *yb)
{
	struct kmmu_slot_rmap_walk w;
	struct kmmu_rmap_iterator it;
	uint64_t *sptep;
	int young = 0;

	if (!slot->arch || end <= start)
		return 0;
	kmmu_for_each_slot_rmap_range(slot, start, end, &w) {
		struct kmmu_rmap_head *head = w.head;
		int level = w.level;
		gfn_t base = ((slot->base_gfn >> KMMU_HPAGE_GFN_SHIFT(level)) + w.index) <<
			     KMMU_HPAGE_GFN_SHIFT(level);
		unsigned long val;
		bool y;

		if (mode == KMMU_AGING_LOCKED) {
			kmmu_for_each_rmap_spte(head, &it, sptep) {
				y = age_spte_locked(vm, sptep, level, test_only);
				young += y;
				if (y && test_only)
					return young;
			}
			continue;
		}
		/*
		 * kvm_rmap_age_gfn_range_lockless(): the chain cannot
		 * change while we hold the bit, and a table cannot be
		 * freed while one of its SPTEs is on a chain.
		 */
		val = kmmu_rmap_lock_readonly(head);
		kmmu_for_each_rmap_spte_val(val, &it, sptep) {
			y = age_spte_lockless(vm, sptep, level, test_only);
			young += y;
			if (y && yb)
				mark_young(yb, slot, base, level, start, end);
			if (y && test_only)
				break;
		}
		kmmu_rmap_unlock_readonly(head, val);
		if (young && test_only)
			return young;
	}
	return young;
}

int kmmu_age_gfn_range(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot, gfn_t start,
		       gfn_t end, enum kmmu_aging_mode mode, bool test_only)
{
	/* Like the kernel's gfn ranges, [start, end) lies inside the slot. */
	if (!vm || !slot || (unsigned int)mode >= KMMU_AGING_NR || start >= end ||
	    start < slot->base_gfn || end > slot->base_gfn + slot->npages)
		return -EINVAL;
	return age_slot(vm, slot, start, end, mode, test_only, NULL);
}

struct age_args {
	enum kmmu_aging_mode mode;
	bool test_only;
	struct young_bitmap *yb;
};

static int age_handler(struct kmmu_ref_vm *vm, struct kmmu_memory_slot *slot, gfn_t start,
		       gfn_t end, void *data)
{
	struct age_args *a = data;

	return age_slot(vm, slot, start, end, a->mode, a->test_only, a->yb);
}

static int notifier_age(struct kmmu_ref_vm *vm, unsigned long start, unsigned long end,
			enum kmmu_aging_mode mode, bool test_only)
{
	struct age_args a = { .mode = mode, .test_only = test_only };

	if (!vm || (unsigned int)mode >= KMMU_AGING_NR || end <= start)
		return -EINVAL;
	return kmmu_handle_hva_range(vm, start, end, NULL, age_handler, &a,
				     mode == KMMU_AGING_LOCKLESS);
}

int kmmu_mmu_notifier_clear_young(struct kmmu_ref_vm *vm, unsigned long start,
				  unsigned long end, enum kmmu_aging_mode mode)
{
	return notifier_age(vm, start, end, mode, false);
}

int kmmu_mmu_notifier_test_young(struct kmmu_ref_vm *vm, unsigned long start,
				 unsigned long end, enum kmmu_aging_mode mode)
{
	return notifier_age(vm, start, end, mode, true);
}

long kmmu_test_clear_young(struct kmmu_ref_vm *vm, unsigned long start, unsigned long end,
			   unsigned long *bitmap)
{
	struct young_bitmap yb = { .hva_start = start, .hva_end = end, .bitmap = bitmap };
	struct age_args a = { .mode = KMMU_AGING_LOCKLESS, .yb = &yb };
	int r;

	if (!vm || !bitmap || end <= start || ((start | end) & (KMMU_PAGE_SIZE - 1)))
		return -EINVAL;
	r = kmmu_handle_hva_range(vm, start, end, NULL, age_handler, &a, true);
	return r < 0 ? r : yb.nr_young;
}

int kmmu_hw_access(struct kmmu_ref_vm *vm, unsigned int vcpu, int as_id, gfn_t gfn, bool write,
		   uint64_t *set, uint64_t *pfn, int *level)
{
	uint64_t *sptep, spte, new;
	int l, r = 0;

	if (!vm || !set || !pfn || !level)
		return -EINVAL;
	*set = 0;
	urcu_memb_read_lock();
	sptep = kmmu_walk_lockless(vm, vcpu, as_id, gfn, &l);
	if (!sptep)
		goto out;
	spte = kmmu_spte_read(sptep);
	for (;;) {
		if (!kmmu_is_shadow_present_pte(spte) || !kmmu_is_last_spte(spte, l))
			break;
		if (write && !kmmu_is_writable_pte(spte))
			break;
		new = spte | A_BIT | (write ? D_BIT : 0);
		/*
		 * A cmpxchg, not an atomic OR.  The processor sets A/D with a
		 * locked RMW (Intel SDM 8.1.2.1) that only lands on a present
		 * entry (AMD APM 5.4.2: never on a not-present page; Linux
		 * treats Knights Landing's setting A/D on cleared PTEs as an
		 * erratum).  An OR cannot be made conditional: here it would
		 * set A on a zapped (zero) SPTE, or A/D on an SPTE a fault
		 * installed after the zap, for a frame this access never
		 * reached, and undoing it would race with the next writer.
		 * A failed cmpxchg stands for the processor re-reading the
		 * entry: it changed (aging, harvest, zap, another A/D set),
		 * so decide again on what is there now.
		 */
		if (new == spte || kmmu_spte_try_cmpxchg(sptep, &spte, new)) {
			*set = new & ~spte;
			*pfn = kmmu_spte_to_pfn(spte);
			*level = l;
			r = 1;
			break;
		}
	}
out:
	urcu_memb_read_unlock();
	return r;
}
