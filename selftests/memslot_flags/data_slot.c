// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_flags_test's gone.data_slot: the guest's loads around each
 * DELETE and MOVE of a data slot, the host's handlers that make them, and
 * the run up to the guest's end (what it tests: "slots that are gone" in
 * selftests/memslot_flags_test.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "kmmu/guest.h"
#include "memslot_flags.h"

const char *const mf_gone_op_name[GONE_NR_OPS] = { "DELETE", "MOVE" };

static const struct gone_region gone_regions[GONE_NR_REGIONS] = {
	{ "4K", KMMU_SLOT_FIRST_FREE, GONE_4K_GPA, GONE_4K_ALT, GONE_4K_SIZE },
	{ "THP", KMMU_SLOT_FIRST_FREE + 1, GONE_THP_GPA, GONE_THP_ALT, GONE_THP_SIZE },
};

/* ---- the guest ---- */

static void g_data(uint32_t id, void *arg)
{
	struct gone_shared *sh = arg;
	uint64_t rounds = g_read(&sh->rounds), n, op;
	int r;

	for (n = 0; n < rounds; n++) {
		for (r = 0; r < GONE_NR_REGIONS; r++) {
			const struct gone_region *g = &gone_regions[r];

			for (op = 0; op < GONE_NR_OPS; op++) {
				uint64_t page = (n * GONE_NR_OPS + op) * 5 % (g->size / KMMU_PAGE_SIZE);
				uint64_t gpa = g->gpa + page * KMMU_PAGE_SIZE, e, v;

				/* The vCPU's last access before the update: this slot. */
				v = g_read((volatile uint64_t *)gpa);
				if (v != gone_pattern(r, page))
					GUEST_FAIL("round %lu: load from gpa %#lx (page %lu of slot %lu) read %#lx, expected %#lx",
						   n, gpa, page, (uint64_t)g->slot, v, gone_pattern(r, page));
				GUEST_SYNC(GONE_SYNC(GONE_SYNC_OP, r, op));

				e = g_read(&sh->exits);
				*(volatile uint64_t *)&sh->expect_gpa = gpa;
				v = g_read((volatile uint64_t *)gpa);
				*(volatile uint64_t *)&sh->expect_gpa = 0;
				if ((g_read(&sh->exits) != e + 1 || v != gone_mmio_value(gpa)) &&
				    op == GONE_DELETE)
					GUEST_FAIL("round %lu: after slot %lu was deleted, the load from its gpa %#lx (page %lu) read %#lx without an MMIO exit: the vCPU reached the deleted slot's memory",
						   n, (uint64_t)g->slot, gpa, page, v);
				if (g_read(&sh->exits) != e + 1 || v != gone_mmio_value(gpa))
					GUEST_FAIL("round %lu: after slot %lu was moved away, the load from its old gpa %#lx (page %lu) read %#lx without an MMIO exit: the vCPU reached the slot through its old gpa",
						   n, (uint64_t)g->slot, gpa, page, v);
				if (op == GONE_MOVE) {
					uint64_t alt = g->alt + page * KMMU_PAGE_SIZE;

					v = g_read((volatile uint64_t *)alt);
					if (v != gone_pattern(r, page))
						GUEST_FAIL("round %lu: after slot %lu moved, the load from its new gpa %#lx (page %lu) read %#lx, expected %#lx",
							   n, (uint64_t)g->slot, alt, page, v, gone_pattern(r, page));
				}
				GUEST_SYNC(GONE_SYNC(GONE_SYNC_RESTORE, r, op));
			}
		}
	}
}

/* ---- the host ---- */

static int gone_data_op(struct gone_run *self, int r, enum gone_op op, bool restore)
{
	const struct gone_region *g = &gone_regions[r];

	if (mf_keep_slot)
		return 0;
	if (op == GONE_MOVE)
		return kmmu_slot_move(self->run.vm, g->slot, restore ? g->gpa : g->alt);
	if (restore)
		return __kmmu_slot_add(self->run.vm, g->slot, g->gpa, g->size, self->mem.hva[r], 0);
	return kmmu_slot_delete(self->run.vm, g->slot);
}

static uint64_t h_gone_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct gone_run *self = ctx;
	uint64_t kind = value & ~0xffULL, r = (value >> 1) & 0x7f, op = value & 1;
	int ret;

	if ((kind != GONE_SYNC_OP && kind != GONE_SYNC_RESTORE) || r >= GONE_NR_REGIONS) {
		kmmu_vcpu_fail(vcpu, "GUEST_SYNC(%#llx): no such request", (unsigned long long)value);
		return 0;
	}
	ret = gone_data_op(self, r, op, kind == GONE_SYNC_RESTORE);
	if (ret)
		kmmu_vcpu_fail(vcpu, "%s %s of the %s slot: %s",
			       kind == GONE_SYNC_RESTORE ? "undoing the" : "the",
			       mf_gone_op_name[op], gone_regions[r].name, strerror(-ret));
	else if (kind == GONE_SYNC_OP)
		self->slot_ops++;
	return 0;
}

static int h_gone_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		       bool is_write, void *ctx)
{
	struct gone_run *self = ctx;
	uint64_t v = gone_mmio_value(gpa);

	if (is_write || len != sizeof(v) || !self->sh->expect_gpa || gpa != self->sh->expect_gpa) {
		kmmu_vcpu_fail(vcpu, "unexpected MMIO %s of %u bytes at gpa %#llx; the guest's load in flight: gpa %#llx",
			       is_write ? "store" : "load", len, (unsigned long long)gpa,
			       (unsigned long long)self->sh->expect_gpa);
		return -1;
	}
	memcpy(data, &v, sizeof(v));
	self->sh->exits++;
	return 0;
}

/*
 * On the VM the test created (self->run.vm): the data slots, their memory
 * and the guest, up to its end.  0, or -errno with the reason in @err.
 */
int mf_data_slot_run(struct gone_run *self, char *err, size_t len)
{
	struct kmmu_vm_handlers h = { .sync = h_gone_sync, .mmio = h_gone_mmio, .ctx = self };
	uint64_t sh_gva, p;
	int r, ret;

	self->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(*self->sh), &sh_gva);
	if (!self->sh) {
		snprintf(err, len, "no shared memory for the guest");
		return -ENOMEM;
	}
	self->sh->rounds = mf_gone_rounds;
	ret = mf_backing_alloc(&self->mem, GONE_4K_SIZE, GONE_THP_SIZE, err, len);
	if (ret)
		return ret;
	for (r = 0; r < GONE_NR_REGIONS; r++) {
		const struct gone_region *g = &gone_regions[r];
		unsigned int huge = r ? KMMU_MAP_HUGE : 0;

		for (p = 0; p < g->size / KMMU_PAGE_SIZE; p++)
			*(uint64_t *)(self->mem.hva[r] + p * KMMU_PAGE_SIZE) = gone_pattern(r, p);
		ret = __kmmu_vm_map(self->run.vm, g->gpa, g->gpa, g->size, KMMU_MAP_NX | huge);
		if (!ret)
			ret = __kmmu_vm_map(self->run.vm, g->alt, g->alt, g->size,
					    KMMU_MAP_NX | huge);
		if (ret) {
			snprintf(err, len, "guest page tables of the %s slot: %s", g->name,
				 strerror(-ret));
			return ret;
		}
		ret = __kmmu_slot_add(self->run.vm, g->slot, g->gpa, g->size, self->mem.hva[r], 0);
		if (ret) {
			snprintf(err, len, "memslot %u at gpa %#llx, %#llx bytes: %s", g->slot,
				 (unsigned long long)g->gpa, (unsigned long long)g->size,
				 strerror(-ret));
			return ret;
		}
	}

	kmmu_vm_set_handlers(self->run.vm, &h);
	ret = __kmmu_vm_start(self->run.vm, g_data, (void *)(uintptr_t)sh_gva);
	if (ret) {
		snprintf(err, len, "starting the vCPUs: %s", strerror(-ret));
		return ret;
	}
	return mf_vm_wait(self->run.vm, 90, err, len);
}
