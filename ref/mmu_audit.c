// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu_mmu_audit(): the reference MMU's invariants, checked from scratch
 * (every SPTE against its shadow page, rmaps and stats), for the tests and
 * the stress to call between and during operations.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <urcu/urcu-memb.h>

#include "kmmu/mmu.h"
#include "mmu_internal.h"

/* ---- audit ---- */

static int __attribute__((format(printf, 3, 4)))
audit_fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EIO;
}

/*
 * A leaf SPTE must be in the rmap of its gfn and level, as found in @sets
 * (the audit's one read of each active set; flushing_slot is always NULL
 * here, it is only set while the updater holds mmu_lock).
 */
static int audit_leaf(struct kmmu_memslots *const *sets, struct kmmu_mmu_page *sp,
		      unsigned int i, char *why, size_t len)
{
	gfn_t gfn = kmmu_sp_get_gfn(sp, i);
	struct kmmu_memslots *slots = sp->role.smm < KMMU_ADDRESS_SPACE_NUM ?
				      sets[sp->role.smm] : NULL;
	struct kmmu_memory_slot *slot = slots ? kmmu_gfn_to_memslot(slots, gfn) : NULL;
	struct kmmu_rmap_head *head = kmmu_gfn_to_rmap(slot, gfn, sp->role.level);
	struct kmmu_rmap_iterator it;
	uint64_t *p;

	if (!head)
		return audit_fail(why, len, "leaf gfn 0x%llx as %d level %d has no slot",
				  (unsigned long long)gfn, sp->role.smm, sp->role.level);
	kmmu_for_each_rmap_spte(head, &it, p)
		if (p == &sp->spt[i])
			return 0;
	return audit_fail(why, len, "leaf gfn 0x%llx level %d missing from rmap",
			  (unsigned long long)gfn, sp->role.level);
}

/* Every rmap entry of @slot must be a live leaf of the right gfn and level. */
static int audit_slot_rmaps(struct kmmu_memory_slot *slot, uint64_t *nrmap,
			    char *why, size_t len)
{
	struct kmmu_slot_arch *arch = slot->arch;
	struct kmmu_rmap_iterator it;
	unsigned long n, k;
	uint64_t *p;
	int level;

	if (!arch)
		return 0;
	for (level = KMMU_PG_LEVEL_4K; level <= KMMU_MAX_HUGEPAGE_LEVEL; level++) {
		n = kmmu_slot_lpages(slot->base_gfn, slot->npages, level);
		for (k = 0; k < n; k++) {
			kmmu_for_each_rmap_spte(&arch->rmap[level - 1][k], &it, p) {
				struct kmmu_mmu_page *psp = kmmu_sptep_to_sp(p);
				gfn_t g = kmmu_sp_get_gfn(psp, kmmu_spte_index(p));

				(*nrmap)++;
				if (psp->role.level != level || !kmmu_is_shadow_present_pte(kmmu_spte_read(p)) ||
				    kmmu_gfn_to_index(g, slot->base_gfn, level) != k ||
				    !kmmu_gfn_in_memslot(slot, g))
					return audit_fail(why, len,
							  "stale rmap entry slot %d level %d idx %lu",
							  slot->id, level, k);
			}
		}
	}
	return 0;
}

static int audit_locked(struct kmmu_ref_vm *vm, char *why, size_t len)
{
	uint64_t n4k = 0, n2m = 0, nmmio = 0, nrmap = 0;
	struct kmmu_memslots *sets[KMMU_ADDRESS_SPACE_NUM];
	struct kmmu_memory_slot *slot;
	struct kmmu_mmu_page *sp;
	unsigned int i, present;
	int as, r;

	/*
	 * Each active set is read once, as the kernel reads
	 * __kvm_memslots() once before kvm_for_each_memslot().  mmu_lock
	 * does not stop a memslot update from publishing the other set
	 * (the swap takes no mmu_lock; only its synchronize_rcu() waits
	 * for us), and that set's links of a slot it does not hold are
	 * stale: a walk that switches sets midway (first/next from
	 * different sets) can visit slots twice.  E.g. when a DELETE/MOVE
	 * published the set holding the INVALID copy, rb_next() from the
	 * old slot's stale node in that set went back to its parent (the
	 * slot before it, whose right child is now the copy), counting
	 * both again: "rmap entries 522 != leaves 517".  Each set on its
	 * own agrees with the SPTEs, and the one we read stays intact
	 * until our read unlock.
	 */
	for (as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++)
		sets[as] = kmmu_memslots_active(vm->memslots, as);

	list_for_each_entry(sp, &vm->active_mmu_pages, link) {
		present = 0;
		for (i = 0; i < KMMU_PT64_ENT_PER_PAGE; i++) {
			uint64_t spte = kmmu_spte_read(&sp->spt[i]);

			if (!spte)
				continue;
			present++;
			if (kmmu_is_mmio_spte(spte)) {
				nmmio++;
			} else if (!kmmu_is_last_spte(spte, sp->role.level)) {
				if (kmmu_spte_to_child_sp(spte)->parent_ptep != &sp->spt[i])
					return audit_fail(why, len,
							  "child of %p[%u] has another parent",
							  (void *)sp, i);
			} else {
				if (sp->role.level == KMMU_PG_LEVEL_4K)
					n4k++;
				else
					n2m++;
				r = audit_leaf(sets, sp, i, why, len);
				if (r)
					return r;
			}
		}
		if (present != sp->nr_present)
			return audit_fail(why, len,
					  "sp gfn 0x%llx level %d: %u entries, nr_present %u",
					  (unsigned long long)sp->gfn, sp->role.level, present,
					  sp->nr_present);
	}

	for (as = 0; as < KMMU_ADDRESS_SPACE_NUM; as++) {
		kmmu_for_each_memslot(slot, sets[as]) {
			r = audit_slot_rmaps(slot, &nrmap, why, len);
			if (r)
				return r;
		}
	}
	if (nrmap != n4k + n2m)
		return audit_fail(why, len, "rmap entries %llu != leaves %llu",
				  (unsigned long long)nrmap, (unsigned long long)(n4k + n2m));
	if (n4k != vm->stat.pages_4k || n2m != vm->stat.pages_2m || nmmio != vm->stat.mmio_sptes)
		return audit_fail(why, len,
				  "stats 4k %llu/%llu 2m %llu/%llu mmio %llu/%llu (counted/stat)",
				  (unsigned long long)n4k, (unsigned long long)vm->stat.pages_4k,
				  (unsigned long long)n2m, (unsigned long long)vm->stat.pages_2m,
				  (unsigned long long)nmmio,
				  (unsigned long long)vm->stat.mmio_sptes);
	return 0;
}

int kmmu_mmu_audit(struct kmmu_ref_vm *vm, char *why, size_t len)
{
	int r;

	if (!vm)
		return -EINVAL;
	if (vm->bug)
		return audit_fail(why, len, "vm->bug %d", vm->bug);
	urcu_memb_read_lock();
	kmmu_mmu_lock(vm);
	r = audit_locked(vm, why, len);
	kmmu_mmu_unlock(vm);
	urcu_memb_read_unlock();
	return r;
}
