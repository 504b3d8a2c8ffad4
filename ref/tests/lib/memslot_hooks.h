/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the memslot tests share: an arch side that allocates per-slot data
 * as x86 does (with one-shot failure injection and a count of live blobs,
 * so a leak or a double free shows), a recorder of the arch hooks that
 * also checks what each hook sees, and reader-side helpers.  The
 * memslot_test programs use the recorder through the ms fixture
 * (memslot_fixture.h); memslot_property_test uses the arch side alone.
 */
#ifndef KMMU_TESTS_MEMSLOT_HOOKS_H
#define KMMU_TESTS_MEMSLOT_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include <kmmu/memslot.h>

#define PG		KMMU_PAGE_SIZE
#define HVA_BASE	0x7f0000000000ul
#define SLOT(as, id)	((uint32_t)(as) << 16 | (id))

/* x86's arch side: kvm_alloc_memslot_metadata() and its freeing. */
struct test_arch {
	int prepare_err;	/* injected, one shot */
	gfn_t max_gfn;		/* x86 kvm_mmu_max_gfn() check in prepare, 0: none */
	long arch_live;		/* allocated arch blobs not yet freed */
};

int test_arch_prepare(struct test_arch *a, const struct kmmu_memory_slot *old,
		      struct kmmu_memory_slot *new, enum kmmu_mr_change change);
void test_arch_commit(struct test_arch *a, struct kmmu_memory_slot *old,
		      enum kmmu_mr_change change);
void test_arch_free(struct test_arch *a, struct kmmu_memory_slot *slot);
/* The arch side as memslot ops, @ctx a struct test_arch. */
extern const struct kmmu_memslot_ops test_arch_ops;

/* Records what the arch hooks saw; also checks arch ownership rules. */
struct rec {
	struct kmmu_vm_memslots *vm;
	char log[256];
	struct test_arch arch;
	uint64_t updated_gen;
	int nr_updated;
	/* Set by the hooks when what they saw was wrong. */
	int bad;
	char why[128];
};

/* The recorder as memslot ops, @ctx a struct rec. */
extern const struct kmmu_memslot_ops rec_ops;
void rec_log(struct rec *r, const char *tok);
void rec_bad(struct rec *r, const char *why);

/* Reader-side snapshots; the updater is the caller's thread, so no races. */
struct kmmu_memory_slot *ms_lookup(struct kmmu_vm_memslots *vm, int as_id, gfn_t gfn);
struct kmmu_memory_slot *ms_by_id(struct kmmu_vm_memslots *vm, int as_id, int id);
uint64_t ms_gen_of(struct kmmu_vm_memslots *vm, int as_id);
/* KVM_SET_USER_MEMORY_REGION in pages. */
int ms_set(struct kmmu_vm_memslots *vm, uint32_t slot, uint32_t flags,
	   gfn_t gfn, unsigned long npages, unsigned long hva);
/* Slot ids overlapping hva or gfn [start, end), in iteration order, as a string. */
const char *ms_hva_ids(struct kmmu_vm_memslots *vm, int as_id,
		       unsigned long start, unsigned long end);
const char *ms_gfn_ids(struct kmmu_vm_memslots *vm, int as_id, gfn_t start, gfn_t end);
/* The hint is NULL or one of the set's own slots (never a freed one). */
bool ms_hint_is_live(struct kmmu_vm_memslots *vm, int as_id);

#endif
