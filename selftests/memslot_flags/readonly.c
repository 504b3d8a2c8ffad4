// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_flags_test's ro.readonly: the guest's loads and stores in the
 * read-only slots, the host's handlers, and the run up to the guest's end
 * (what it tests: the head comment of selftests/memslot_flags_test.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "kmmu/guest.h"
#include "kmmu/kvm_stats.h"
#include "memslot_flags.h"

static const struct ro_region ro_regions[RO_NR_REGIONS] = {
	{ "4K", KMMU_SLOT_FIRST_FREE, RO_4K_GPA, RO_4K_SIZE, 8,
	  { 0, 1, 2, 3, 17, 30, 62, 63 } },
	/* Both 2M frames, their first and last pages, loads before stores in each. */
	{ "THP", KMMU_SLOT_FIRST_FREE + 1, RO_THP_GPA, RO_THP_SIZE, 10,
	  { 0, 1, 256, 255, 511, 510, 512, 513, 1023, 1000 } },
};

/* ---- the guest ---- */

static void g_load(int r, uint64_t page, uint64_t want)
{
	uint64_t gva = ro_regions[r].gpa + page * KMMU_PAGE_SIZE;
	uint64_t got = g_read((volatile uint64_t *)gva);

	if (got != want)
		GUEST_FAIL("load from gpa %#lx (page %lu of slot %lu) read %#lx, expected %#lx",
			   gva, page, ro_regions[r].slot, got, want);
}

/* A store that must exit as MMIO (@exit) or reach memory. */
static void g_store(struct ro_shared *sh, int r, uint64_t page, uint64_t val, bool exit)
{
	uint64_t gva = ro_regions[r].gpa + page * KMMU_PAGE_SIZE;
	uint64_t n = g_read(&sh->exits);

	/* Volatile: the store in flight must be in memory when the exit comes. */
	if (exit) {
		*(volatile uint64_t *)&sh->expect_val = val;
		*(volatile uint64_t *)&sh->expect_gpa = gva;
	}
	*(volatile uint64_t *)gva = val;
	*(volatile uint64_t *)&sh->expect_gpa = 0;
	if (exit && g_read(&sh->exits) != n + 1)
		GUEST_FAIL("store of %#lx to read-only gpa %#lx (page %lu of slot %lu) did not exit as MMIO: it reached memory",
			   val, gva, page, ro_regions[r].slot);
	if (!exit && g_read(&sh->exits) != n)
		GUEST_FAIL("store of %#lx to read-write gpa %#lx (page %lu of slot %lu) exited",
			   val, gva, page, ro_regions[r].slot);
}

/* Every tested page of a read-only slot, in its order (see the top). */
static void g_readonly(struct ro_shared *sh)
{
	uint64_t gen = g_read(&sh->gen);
	int r, j;

	for (r = 0; r < RO_NR_REGIONS; r++) {
		for (j = 0; j < ro_regions[r].nr_tested; j++) {
			uint64_t p = ro_regions[r].tested[j], old = ro_pattern(r, p, gen);

			if (j % 2 == 0) {
				g_load(r, p, old);
				g_store(sh, r, p, ro_store_value(r, p, gen, 1), true);
				g_load(r, p, old);
				g_store(sh, r, p, ro_store_value(r, p, gen, 2), true);
			} else {
				g_store(sh, r, p, ro_store_value(r, p, gen, 1), true);
				g_load(r, p, old);
				g_store(sh, r, p, ro_store_value(r, p, gen, 2), true);
				g_load(r, p, old);
			}
		}
	}
}

/* The read-write slots: the next generation reaches memory, exit-free. */
static void g_readwrite(struct ro_shared *sh)
{
	uint64_t gen = g_read(&sh->gen);
	int r, j;

	for (r = 0; r < RO_NR_REGIONS; r++) {
		for (j = 0; j < ro_regions[r].nr_tested; j++) {
			uint64_t p = ro_regions[r].tested[j];

			g_load(r, p, ro_pattern(r, p, gen));
			g_store(sh, r, p, ro_pattern(r, p, gen + 1), false);
			g_load(r, p, ro_pattern(r, p, gen + 1));
		}
	}
}

static void g_main(uint32_t id, void *arg)
{
	struct ro_shared *sh = arg;

	g_readonly(sh);
	GUEST_SYNC(RO_PHASE_RO);
	g_readwrite(sh);
	GUEST_SYNC(RO_PHASE_RW);
	g_readonly(sh);
	GUEST_SYNC(RO_PHASE_RO_AGAIN);
}

/* ---- the host ---- */

static bool ro_is_tested(int r, uint64_t page)
{
	int j;

	for (j = 0; j < ro_regions[r].nr_tested; j++)
		if (ro_regions[r].tested[j] == page)
			return true;
	return false;
}

/* Word 0 of every page of both slots: what the host wrote, the tested ones at @gen. */
static void ro_verify_memory(struct ro_run *self, uint64_t phase)
{
	size_t off = strlen(self->bad);
	uint64_t p;
	int r;

	for (r = 0; r < RO_NR_REGIONS; r++) {
		for (p = 0; p < ro_regions[r].size / KMMU_PAGE_SIZE; p++) {
			uint64_t got = *(volatile uint64_t *)(self->mem.hva[r] + p * KMMU_PAGE_SIZE);
			uint64_t want = ro_pattern(r, p, ro_is_tested(r, p) ? self->gen : 0);

			if (got == want)
				continue;
			if (self->nr_bad++ < 8 && off < sizeof(self->bad))
				off += snprintf(self->bad + off, sizeof(self->bad) - off,
						"\n  after phase %llu: page %llu of the %s slot holds %#llx, want %#llx",
						(unsigned long long)phase, (unsigned long long)p,
						ro_regions[r].name, (unsigned long long)got,
						(unsigned long long)want);
		}
	}
}

/* DELETE and CREATE both slots over the same memory with @flags. */
static int ro_recreate(struct ro_run *self, uint32_t flags)
{
	int r, ret;

	for (r = 0; r < RO_NR_REGIONS; r++) {
		ret = kmmu_slot_delete(self->run.vm, ro_regions[r].slot);
		if (!ret)
			ret = __kmmu_slot_add(self->run.vm, ro_regions[r].slot, ro_regions[r].gpa,
					      ro_regions[r].size, self->mem.hva[r], flags);
		if (ret)
			return ret;
	}
	return 0;
}

uint64_t mf_ro_tested_pages(void)
{
	uint64_t n = 0;
	int r;

	for (r = 0; r < RO_NR_REGIONS; r++)
		n += ro_regions[r].nr_tested;
	return n;
}

static uint64_t h_sync(struct kmmu_vcpu *vcpu, uint64_t phase, void *ctx)
{
	struct ro_run *self = ctx;
	uint64_t pages[3];
	int ret;

	if (phase < RO_PHASE_RO || phase > RO_PHASE_RO_AGAIN) {
		kmmu_vcpu_fail(vcpu, "GUEST_SYNC(%llu): no such phase", (unsigned long long)phase);
		return 0;
	}
	if (!kmmu_stats_vm_pages(kmmu_vm_fd(self->run.vm), pages))
		self->pages_2m[phase] = pages[1];
	if (phase != RO_PHASE_RW)
		self->exits_want += 2 * mf_ro_tested_pages();
	if (self->sh->exits != self->exits_want)
		kmmu_vcpu_fail(vcpu, "after phase %llu: %llu MMIO store exits, want %llu",
			       (unsigned long long)phase, (unsigned long long)self->sh->exits,
			       (unsigned long long)self->exits_want);
	if (phase == RO_PHASE_RW)
		self->gen++;
	ro_verify_memory(self, phase);

	switch (phase) {
	case RO_PHASE_RO:
		ret = ro_recreate(self, 0);
		if (ret)
			kmmu_vcpu_fail(vcpu, "re-creating the slots read-write: %s", strerror(-ret));
		break;
	case RO_PHASE_RW:
		/* KVM refuses a flags-only update that toggles READONLY. */
		self->toggle_errno = -kmmu_slot_set_flags(self->run.vm, ro_regions[0].slot,
							  KVM_MEM_READONLY);
		ret = ro_recreate(self, self->ro_flags);
		if (ret)
			kmmu_vcpu_fail(vcpu, "re-creating the slots read-only: %s", strerror(-ret));
		self->sh->gen = self->gen;
		break;
	default:
		break;
	}
	return 0;
}

static int h_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		  bool is_write, void *ctx)
{
	struct ro_run *self = ctx;
	uint64_t val = 0;

	if (len == sizeof(val))
		memcpy(&val, data, len);
	if (!is_write || len != sizeof(val) || !self->sh->expect_gpa ||
	    gpa != self->sh->expect_gpa || val != self->sh->expect_val) {
		kmmu_vcpu_fail(vcpu, "unexpected MMIO %s of %u bytes at gpa %#llx (value %#llx); the guest's store in flight: %#llx to gpa %#llx",
			       is_write ? "store" : "load", len, (unsigned long long)gpa,
			       (unsigned long long)val, (unsigned long long)self->sh->expect_val,
			       (unsigned long long)self->sh->expect_gpa);
		return -1;
	}
	self->sh->exits++;
	return 0;
}

/*
 * On the VM the test created (self->run.vm): the slots, their memory and
 * the guest, up to its end.  0, or -errno with the reason in @err.
 */
int mf_readonly_run(struct ro_run *self, char *err, size_t len)
{
	struct kmmu_vm_handlers h = { .sync = h_sync, .mmio = h_mmio, .ctx = self };
	uint64_t sh_gva, p;
	int r, ret;

	self->ro_flags = mf_drop_readonly ? 0 : KVM_MEM_READONLY;
	self->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(*self->sh), &sh_gva);
	if (!self->sh) {
		snprintf(err, len, "no shared memory for the guest");
		return -ENOMEM;
	}
	ret = mf_backing_alloc(&self->mem, RO_4K_SIZE, RO_THP_SIZE, err, len);
	if (ret)
		return ret;
	for (r = 0; r < RO_NR_REGIONS; r++)
		for (p = 0; p < ro_regions[r].size / KMMU_PAGE_SIZE; p++)
			*(uint64_t *)(self->mem.hva[r] + p * KMMU_PAGE_SIZE) = ro_pattern(r, p, 0);

	ret = __kmmu_vm_map(self->run.vm, RO_4K_GPA, RO_4K_GPA, RO_4K_SIZE,
			    KMMU_MAP_WRITE | KMMU_MAP_NX);
	if (!ret)
		ret = __kmmu_vm_map(self->run.vm, RO_THP_GPA, RO_THP_GPA, RO_THP_SIZE,
				    KMMU_MAP_WRITE | KMMU_MAP_NX | KMMU_MAP_HUGE);
	if (ret) {
		snprintf(err, len, "guest page tables: %s", strerror(-ret));
		return ret;
	}
	for (r = 0; r < RO_NR_REGIONS; r++) {
		ret = __kmmu_slot_add(self->run.vm, ro_regions[r].slot, ro_regions[r].gpa,
				      ro_regions[r].size, self->mem.hva[r], self->ro_flags);
		if (ret) {
			snprintf(err, len, "memslot %u at gpa %#llx, %#llx bytes: %s",
				 ro_regions[r].slot, (unsigned long long)ro_regions[r].gpa,
				 (unsigned long long)ro_regions[r].size, strerror(-ret));
			return ret;
		}
	}

	kmmu_vm_set_handlers(self->run.vm, &h);
	ret = __kmmu_vm_start(self->run.vm, g_main, (void *)(uintptr_t)sh_gva);
	if (ret) {
		snprintf(err, len, "starting the vCPUs: %s", strerror(-ret));
		return ret;
	}
	return mf_vm_wait(self->run.vm, 60, err, len);
}
