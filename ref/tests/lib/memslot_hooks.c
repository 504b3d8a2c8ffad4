// SPDX-License-Identifier: GPL-2.0
/*
 * The memslot tests' arch side, hook recorder and reader-side helpers
 * (memslot_hooks.h says who uses what).
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "memslot_hooks.h"

int test_arch_prepare(struct test_arch *a, const struct kmmu_memory_slot *old,
		      struct kmmu_memory_slot *new, enum kmmu_mr_change change)
{
	int err;

	if (change == KMMU_MR_CREATE || change == KMMU_MR_MOVE) {
		if (a->max_gfn && new->base_gfn + new->npages - 1 > a->max_gfn)
			return -EINVAL;
	}
	if (a->prepare_err) {
		err = a->prepare_err;
		a->prepare_err = 0;
		return err;
	}
	if (change == KMMU_MR_CREATE || change == KMMU_MR_MOVE) {
		new->arch = malloc(16);
		if (!new->arch)
			return -ENOMEM;
		a->arch_live++;
	} else if (change == KMMU_MR_FLAGS_ONLY) {
		new->arch = old->arch;
	}
	return 0;
}

/* As x86: the old metadata goes away on MOVE, new has its own. */
void test_arch_commit(struct test_arch *a, struct kmmu_memory_slot *old,
		      enum kmmu_mr_change change)
{
	if (change == KMMU_MR_MOVE) {
		free(old->arch);
		a->arch_live--;
	}
}

void test_arch_free(struct test_arch *a, struct kmmu_memory_slot *slot)
{
	if (slot->arch) {
		free(slot->arch);
		a->arch_live--;
	}
}

static int arch_prepare(void *ctx, const struct kmmu_memory_slot *old,
			struct kmmu_memory_slot *new, enum kmmu_mr_change change)
{
	return test_arch_prepare(ctx, old, new, change);
}

static void arch_commit(void *ctx, struct kmmu_memory_slot *old,
			const struct kmmu_memory_slot *new, enum kmmu_mr_change change)
{
	test_arch_commit(ctx, old, change);
}

static void arch_free(void *ctx, struct kmmu_memory_slot *slot)
{
	test_arch_free(ctx, slot);
}

const struct kmmu_memslot_ops test_arch_ops = {
	.prepare = arch_prepare,
	.commit = arch_commit,
	.free_slot = arch_free,
};

void rec_log(struct rec *r, const char *tok)
{
	size_t len = strlen(r->log);

	snprintf(r->log + len, sizeof(r->log) - len, "%s%s", len ? " " : "", tok);
}

void rec_bad(struct rec *r, const char *why)
{
	if (!r->bad++)
		snprintf(r->why, sizeof(r->why), "%s", why);
}

static const char change_ch[] = { 'c', 'd', 'm', 'f' };

static int rec_prepare(void *ctx, const struct kmmu_memory_slot *old,
		       struct kmmu_memory_slot *new, enum kmmu_mr_change change)
{
	struct rec *r = ctx;
	char tok[4] = { 'P', change_ch[change], 0 };

	rec_log(r, tok);
	if ((change == KMMU_MR_CREATE) != !old || (change == KMMU_MR_DELETE) != !new)
		rec_bad(r, "prepare: old/new do not match the change");
	return test_arch_prepare(&r->arch, old, new, change);
}

static void rec_flush(void *ctx, struct kmmu_memory_slot *slot)
{
	struct rec *r = ctx;
	struct kmmu_memslots *slots;
	struct kmmu_memory_slot *active;

	rec_log(r, "F");
	if (slot->flags & KMMU_MEMSLOT_INVALID)
		rec_bad(r, "flush got the INVALID slot");

	/* Readers must already see only the INVALID copy. */
	urcu_memb_read_lock();
	slots = kmmu_memslots_active(r->vm, slot->as_id);
	active = kmmu_id_to_memslot(slots, slot->id);
	if (!active || active == slot || !(active->flags & KMMU_MEMSLOT_INVALID))
		rec_bad(r, "flush: active set does not hold an INVALID copy");
	else if (kmmu_gfn_to_memslot(slots, slot->base_gfn) != active)
		rec_bad(r, "flush: gfn lookup does not find the INVALID copy");
	if (kmmu_memslots_generation(slots) & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
		rec_bad(r, "flush: generation still in progress");
	urcu_memb_read_unlock();
}

static void rec_commit(void *ctx, struct kmmu_memory_slot *old,
		       const struct kmmu_memory_slot *new, enum kmmu_mr_change change)
{
	struct rec *r = ctx;
	char tok[4] = { 'C', change_ch[change], 0 };
	struct kmmu_memslots *slots;
	int as_id = old ? old->as_id : new->as_id;

	rec_log(r, tok);
	urcu_memb_read_lock();
	slots = kmmu_memslots_active(r->vm, as_id);
	if (new && kmmu_id_to_memslot(slots, new->id) != new)
		rec_bad(r, "commit: new slot is not active");
	if (!new && kmmu_id_to_memslot(slots, old->id))
		rec_bad(r, "commit: deleted slot still active");
	urcu_memb_read_unlock();
	test_arch_commit(&r->arch, old, change);
}

static void rec_free(void *ctx, struct kmmu_memory_slot *slot)
{
	struct rec *r = ctx;

	rec_log(r, "X");
	test_arch_free(&r->arch, slot);
}

static void rec_updated(void *ctx, uint64_t gen)
{
	struct rec *r = ctx;

	rec_log(r, "U");
	r->updated_gen = gen;
	r->nr_updated++;
	if (gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
		rec_bad(r, "memslots_updated got the in-progress bit");
}

const struct kmmu_memslot_ops rec_ops = {
	.prepare = rec_prepare,
	.flush_slot = rec_flush,
	.commit = rec_commit,
	.free_slot = rec_free,
	.memslots_updated = rec_updated,
};
/* The slot of gfn @key, or of id @key, in the active set of @as_id. */
static struct kmmu_memory_slot *find_slot(struct kmmu_vm_memslots *vm, int as_id,
					  uint64_t key, bool by_id)
{
	struct kmmu_memslots *slots;
	struct kmmu_memory_slot *slot;

	urcu_memb_read_lock();
	slots = kmmu_memslots_active(vm, as_id);
	slot = by_id ? kmmu_id_to_memslot(slots, key) : kmmu_gfn_to_memslot(slots, key);
	urcu_memb_read_unlock();
	return slot;
}

struct kmmu_memory_slot *ms_lookup(struct kmmu_vm_memslots *vm, int as_id, gfn_t gfn)
{
	return find_slot(vm, as_id, gfn, false);
}

struct kmmu_memory_slot *ms_by_id(struct kmmu_vm_memslots *vm, int as_id, int id)
{
	return find_slot(vm, as_id, id, true);
}

uint64_t ms_gen_of(struct kmmu_vm_memslots *vm, int as_id)
{
	return kmmu_memslots_generation(kmmu_memslots_active(vm, as_id));
}

int ms_set(struct kmmu_vm_memslots *vm, uint32_t slot, uint32_t flags,
	   gfn_t gfn, unsigned long npages, unsigned long hva)
{
	return kmmu_set_memory_region(vm, slot, flags, gfn * PG, npages * PG, hva);
}

/* One more id on the list in @buf, which holds @len characters. */
static size_t append_id(char *buf, size_t size, size_t len, int id)
{
	return len + snprintf(buf + len, size - len, "%s%d", len ? "," : "", id);
}

/* The ids of the slots in hva (@hva) or gfn [start, end), as the iterator visits them. */
static const char *slot_ids(struct kmmu_vm_memslots *vm, int as_id, uint64_t start,
			    uint64_t end, bool hva)
{
	static char buf[256];
	struct kmmu_memory_slot *slot;
	struct kmmu_memslots *slots;
	size_t len = 0;

	buf[0] = 0;
	urcu_memb_read_lock();
	slots = kmmu_memslots_active(vm, as_id);
	if (hva) {
		kmmu_for_each_memslot_in_hva_range(slot, slots, start, end)
			len = append_id(buf, sizeof(buf), len, slot->id);
	} else {
		kmmu_for_each_memslot_in_gfn_range(slot, slots, start, end)
			len = append_id(buf, sizeof(buf), len, slot->id);
	}
	urcu_memb_read_unlock();
	return buf;
}

const char *ms_hva_ids(struct kmmu_vm_memslots *vm, int as_id,
		       unsigned long start, unsigned long end)
{
	return slot_ids(vm, as_id, start, end, true);
}

const char *ms_gfn_ids(struct kmmu_vm_memslots *vm, int as_id, gfn_t start, gfn_t end)
{
	return slot_ids(vm, as_id, start, end, false);
}

bool ms_hint_is_live(struct kmmu_vm_memslots *vm, int as_id)
{
	struct kmmu_memslots *slots;
	struct kmmu_memory_slot *hint, *slot;
	bool ok;

	urcu_memb_read_lock();
	slots = kmmu_memslots_active(vm, as_id);
	hint = kmmu_memslots_last_used(slots);
	ok = !hint;
	kmmu_for_each_memslot(slot, slots)
		ok |= slot == hint;
	urcu_memb_read_unlock();
	return ok;
}

