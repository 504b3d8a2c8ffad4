// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of ref/mmu.c: the fault path's outcomes (4K/2M mappings, slot
 * edges and hva alignment, MMIO SPTEs and their generation, MMIO caching
 * off, read-only slots, dirty logging, address spaces, slots being
 * deleted, updates in progress), shared roots, the tracepoint mirrors and
 * every error path.  Each test ends with the consistency audit.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/mmu.h>
#include <kmmu/zap.h>

#define HVA		0x7f0000000000ull	/* 2M aligned */
#define SLOT(as, id)	((uint32_t)(as) << 16 | (id))
#define MB		(1ull << 20)
#define R		0
#define W		KMMU_PFERR_WRITE_MASK

struct evlog {
	unsigned int n[KMMU_MMU_EV_NR];
	struct kmmu_mmu_event last[KMMU_MMU_EV_NR];
	/* A fault to take from inside an event (the update in flight). */
	enum kmmu_mmu_event_type inject_on;
	struct kmmu_ref_vm *vm;
	gfn_t inject_gfn;
	int inject_as;
	int inject_r;
	struct kmmu_fault inject_f;
	bool injected;
};

static void evlog_fn(void *ctx, const struct kmmu_mmu_event *ev)
{
	struct evlog *l = ctx;

	l->n[ev->type]++;
	l->last[ev->type] = *ev;
	if (l->vm && !l->injected && ev->type == l->inject_on) {
		l->injected = true;
		l->inject_r = kmmu_page_fault(l->vm, 0, l->inject_as, l->inject_gfn, R,
					      &l->inject_f);
	}
}

FIXTURE(mmu) {
	struct kmmu_ref_vm *vm;
	struct kmmu_ref_vm_config cfg;
	struct evlog log;
};

FIXTURE_SETUP(mmu)
{
	urcu_memb_register_thread();
	kmmu_ref_vm_config_default(&self->cfg);
	self->cfg.nr_vcpus = 2;
	ASSERT_EQ(0, kmmu_ref_vm_create(&self->vm, &self->cfg));
	memset(&self->log, 0, sizeof(self->log));
	self->log.inject_on = KMMU_MMU_EV_NR;
	kmmu_ref_vm_set_event_fn(self->vm, evlog_fn, &self->log);
}

FIXTURE_TEARDOWN(mmu)
{
	char why[160] = "";

	if (self->vm) {
		EXPECT_EQ(0, kmmu_mmu_audit(self->vm, why, sizeof(why))) {
			TH_LOG("audit: %s", why);
		}
		kmmu_ref_vm_destroy(self->vm);
	}
	urcu_memb_unregister_thread();
}

/* self->vm again, made from self->cfg as the test changed it, with the event log. */
static int remake_vm(FIXTURE_DATA(mmu) *self)
{
	int r;

	kmmu_ref_vm_destroy(self->vm);
	r = kmmu_ref_vm_create(&self->vm, &self->cfg);
	if (r) {
		self->vm = NULL;
		return r;
	}
	kmmu_ref_vm_set_event_fn(self->vm, evlog_fn, &self->log);
	return 0;
}

/* self->vm again (remake_vm()) with slot 0 backing gfns 0-0x3ff: the VM. */
static struct kmmu_ref_vm *remake_vm_slot0(struct __test_metadata *_metadata,
					   FIXTURE_DATA(mmu) *self)
{
	ASSERT_EQ(0, remake_vm(self));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(self->vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	return self->vm;
}

static int fault(struct kmmu_ref_vm *vm, int as, gfn_t gfn, uint32_t ec)
{
	struct kmmu_fault f;
	int r = kmmu_page_fault(vm, 0, as, gfn, ec, &f);

	return r ? r : (int)f.result;
}

/*
 * self->vm again without host huge pages, so every SPTE is 4K: gfn 0x30
 * mapped writable, then dirty logging turned on, which write-protects that
 * SPTE but keeps it, for a fast fix.
 */
static void remake_vm_4k_logged(struct __test_metadata *_metadata, FIXTURE_DATA(mmu) *self)
{
	struct kmmu_ref_vm *vm;

	self->cfg.host_huge_pages = false;
	vm = remake_vm_slot0(_metadata, self);
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x30, W));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES,
						   0, 4 * MB, HVA));
	ASSERT_FALSE(kmmu_is_writable_pte(kmmu_lookup_spte(vm, 0, 0, 0x30, NULL)));
}

static void audit_ok(struct __test_metadata *_metadata, struct kmmu_ref_vm *vm)
{
	char why[160] = "";

	ASSERT_EQ(0, kmmu_mmu_audit(vm, why, sizeof(why))) {
		TH_LOG("audit: %s", why);
	}
}

TEST_F(mmu, map_2m_and_4k)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct kmmu_fault f;
	uint64_t v = 99;

	/* 4 MiB at gpa 0, hva aligned: huge pages possible. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	ASSERT_EQ(0, kmmu_page_fault(vm, 0, 0, 0x10, R, &f));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, f.result);
	ASSERT_EQ(KMMU_PG_LEVEL_2M, f.level);
	ASSERT_TRUE(kmmu_is_writable_pte(f.spte));
	ASSERT_EQ(HVA >> 12, kmmu_spte_to_pfn(f.spte));
	ASSERT_EQ(1, vm->stat.pages_2m);
	ASSERT_EQ(0, vm->stat.pages_4k);
	/* The whole 2M frame is now mapped: no fault at all. */
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, fault(vm, 0, 0x1ff, W));
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, fault(vm, 0, 0, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x200, W));
	ASSERT_EQ(2, vm->stat.pages_2m);
	ASSERT_EQ(0, kmmu_ref_vm_stat(vm, "pages_2m", &v));
	ASSERT_EQ(2, v);
	ASSERT_EQ(0, kmmu_ref_vm_stat(vm, "pages_4k", &v));
	ASSERT_EQ(0, v);
	ASSERT_EQ(0, kmmu_ref_vm_stat(vm, "pages_1g", &v));
	ASSERT_EQ(0, v);
	ASSERT_EQ(0, kmmu_ref_vm_stat(vm, "mmu_cache_miss", &v));
	ASSERT_EQ(3, v);
	ASSERT_EQ(0, kmmu_ref_vm_stat(vm, "max_mmu_rmap_size", &v));
	ASSERT_EQ(0, v);
	ASSERT_EQ(-ENOENT, kmmu_ref_vm_stat(vm, "mmu_unsync", &v));
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_stat(vm, NULL, &v));
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_stat(NULL, "pages_4k", &v));
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_stat(vm, "pages_4k", NULL));
	/* Root, L3, L2: three shadow pages. */
	ASSERT_EQ(3, kmmu_nr_shadow_pages(vm));
	ASSERT_EQ(2, self->log.n[KMMU_MMU_EV_SET_SPTE]);
	ASSERT_EQ(0x200, self->log.last[KMMU_MMU_EV_SET_SPTE].set_spte.gfn);
	ASSERT_EQ(2, self->log.last[KMMU_MMU_EV_SET_SPTE].set_spte.level);
	audit_ok(_metadata, vm);

	/* hva not 2M-aligned relative to the gpa: 4K only. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 1), 0, 64 * MB, 4 * MB,
						   HVA + 64 * MB + 4096));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, (64 * MB >> 12) + 0x200, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, (64 * MB >> 12) + 0x201, R));
	ASSERT_EQ(2, vm->stat.pages_4k);
	ASSERT_EQ(-EINVAL, kmmu_max_mapping_level(vm, NULL, 0));
}

TEST_F(mmu, no_host_huge_pages)
{
	struct kmmu_ref_vm *vm;

	self->cfg.host_huge_pages = false;
	vm = remake_vm_slot0(_metadata, self);
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x10, R));
	ASSERT_EQ(0, vm->stat.pages_2m);
}

TEST_F(mmu, slot_edges)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct kmmu_memory_slot *slot;

	/* gfns 0x1ff .. 0x600 inclusive: partial frames at both ends. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0x1ff000, 0x402000,
						   HVA + 0x1ff000));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x1ff, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x200, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x5ff, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x600, R));
	/* Just outside: no slot. */
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x601, R));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x1fe, R));
	ASSERT_EQ(2, vm->stat.pages_4k);
	ASSERT_EQ(2, vm->stat.pages_2m);
	ASSERT_EQ(2, vm->stat.mmio_sptes);

	urcu_memb_read_lock();
	slot = kmmu_gfn_to_memslot(kmmu_memslots_active(vm->memslots, 0), 0x300);
	ASSERT_NE(NULL, slot);
	ASSERT_EQ(KMMU_PG_LEVEL_2M, kmmu_max_mapping_level(vm, slot, 0x300));
	ASSERT_EQ(KMMU_PG_LEVEL_4K, kmmu_max_mapping_level(vm, slot, 0x1ff));
	ASSERT_EQ(KMMU_PG_LEVEL_4K, kmmu_max_mapping_level(vm, slot, 0x600));
	ASSERT_EQ(-EINVAL, kmmu_max_mapping_level(vm, slot, 0x601));
	ASSERT_EQ(-EINVAL, kmmu_max_mapping_level(NULL, slot, 0x300));
	ASSERT_NE(NULL, kmmu_gfn_to_rmap(slot, 0x1ff, 1));
	ASSERT_EQ(1, kmmu_pte_list_count(kmmu_gfn_to_rmap(slot, 0x1ff, 1)));
	ASSERT_EQ(1, kmmu_pte_list_count(kmmu_gfn_to_rmap(slot, 0x3ff, 2)));
	ASSERT_EQ(NULL, kmmu_gfn_to_rmap(slot, 0x601, 1));
	ASSERT_EQ(NULL, kmmu_gfn_to_rmap(slot, 0x300, 3));
	urcu_memb_read_unlock();
}

TEST_F(mmu, mmio_generation)
{
	struct kmmu_ref_vm *vm = self->vm;
	const struct kmmu_mmio_gen_layout *l = vm->gen_layout;
	struct kmmu_fault f;
	uint64_t gen0 = kmmu_ref_vm_memslots_generation(vm, 0);

	ASSERT_EQ(0, gen0);
	ASSERT_EQ(1, kmmu_ref_vm_memslots_generation(vm, 1));
	ASSERT_EQ(0, kmmu_page_fault(vm, 0, 0, 0x100000, R, &f));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, f.result);
	ASSERT_TRUE(kmmu_is_mmio_spte(f.spte));
	ASSERT_EQ(gen0, kmmu_get_mmio_spte_generation(l, f.spte));
	ASSERT_EQ(0x100000, kmmu_get_mmio_spte_gfn(l, f.spte));
	ASSERT_EQ(1, self->log.n[KMMU_MMU_EV_MARK_MMIO_SPTE]);
	ASSERT_EQ(0x100000, self->log.last[KMMU_MMU_EV_MARK_MMIO_SPTE].mark_mmio.gfn);
	ASSERT_EQ(1, vm->stat.mmio_sptes);

	/* Same gfn, same generation: the vCPU's MMIO info answers first. */
	ASSERT_EQ(0, kmmu_page_fault(vm, 0, 0, 0x100000, W, &f));
	ASSERT_EQ(KMMU_FAULT_MMIO_CACHED, f.result);
	ASSERT_TRUE(f.mmio_info_cached);
	ASSERT_EQ(0, self->log.n[KMMU_MMU_EV_CHECK_MMIO_SPTE]);
	ASSERT_EQ(0, self->log.n[KMMU_MMU_EV_HANDLE_MMIO_PAGE_FAULT]);
	/* Another vCPU has no such info: the SPTE's generation is checked. */
	ASSERT_EQ(0, kmmu_page_fault(vm, 1, 0, 0x100000, W, &f));
	ASSERT_EQ(KMMU_FAULT_MMIO_CACHED, f.result);
	ASSERT_FALSE(f.mmio_info_cached);
	ASSERT_FALSE(f.stale_mmio);
	ASSERT_EQ(1, self->log.n[KMMU_MMU_EV_CHECK_MMIO_SPTE]);
	ASSERT_EQ(1, self->log.n[KMMU_MMU_EV_HANDLE_MMIO_PAGE_FAULT]);
	ASSERT_EQ(0x100000, self->log.last[KMMU_MMU_EV_HANDLE_MMIO_PAGE_FAULT].handle_mmio.gfn);
	/* A second MMIO gfn replaces vCPU 0's info. */
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x100001, R));
	ASSERT_EQ(0, kmmu_page_fault(vm, 0, 0, 0x100000, R, &f));
	ASSERT_FALSE(f.mmio_info_cached);
	ASSERT_EQ(2, self->log.n[KMMU_MMU_EV_HANDLE_MMIO_PAGE_FAULT]);

	/* Any update of address space 0 bumps its generation by 2. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 3), 0, 0, MB, HVA));
	ASSERT_EQ(gen0 + 2, kmmu_ref_vm_memslots_generation(vm, 0));
	ASSERT_EQ(0, kmmu_page_fault(vm, 0, 0, 0x100000, R, &f));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, f.result);
	ASSERT_TRUE(f.stale_mmio);
	ASSERT_EQ(gen0 + 2, self->log.last[KMMU_MMU_EV_CHECK_MMIO_SPTE].check_mmio.kvm_gen);
	ASSERT_EQ(gen0, self->log.last[KMMU_MMU_EV_CHECK_MMIO_SPTE].check_mmio.spte_gen);
	ASSERT_EQ(gen0 + 2, kmmu_get_mmio_spte_generation(l, f.spte));
	ASSERT_EQ(2, vm->stat.mmio_sptes);
	ASSERT_EQ(KMMU_FAULT_MMIO_CACHED, fault(vm, 0, 0x100000, R));

	/* An update of address space 1 leaves address space 0's SPTEs valid. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(1, 3), 0, 0, MB, HVA));
	ASSERT_EQ(KMMU_FAULT_MMIO_CACHED, fault(vm, 0, 0x100000, R));
	ASSERT_EQ(0, self->log.n[KMMU_MMU_EV_MMIO_GEN_WRAP]);
}

TEST_F(mmu, mmio_then_slot)
{
	struct kmmu_ref_vm *vm = self->vm;

	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x1005, R));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x3005, R));
	/* A 4K-only slot over the first: the stale MMIO SPTE is replaced. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES,
						   0x1000000, 2 * MB, HVA));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x1005, R));
	ASSERT_EQ(1, vm->stat.mmio_sptes);
	/*
	 * A 2M mapping over the second: the table holding the MMIO SPTE
	 * loses its parent but stays (the kernel only unlinks it).
	 */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 1), 0, 0x3000000, 2 * MB,
						   HVA + 0x2000000));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x3005, R));
	ASSERT_EQ(1, vm->stat.mmio_sptes);
	ASSERT_EQ(1, vm->stat.pages_2m);
	audit_ok(_metadata, vm);
	/* Deleting a slot zaps everything (quirk on), orphans included. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0x1000000, 0, 0));
	ASSERT_EQ(0, vm->stat.mmio_sptes);
	ASSERT_EQ(0, vm->stat.pages_2m);
	ASSERT_EQ(0, vm->stat.pages_4k);
}

TEST_F(mmu, mmio_caching_off_and_max_gfn)
{
	struct kmmu_ref_vm *vm;

	ASSERT_EQ(KMMU_FAULT_EMULATE, fault(self->vm, 0, 1ull << 34, R));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(self->vm, 0, (1ull << 34) - 1, R));
	self->cfg.mmio_caching = false;
	ASSERT_EQ(0, remake_vm(self));
	vm = self->vm;
	ASSERT_EQ(KMMU_FAULT_EMULATE, fault(vm, 0, 0x100, R));
	ASSERT_EQ(KMMU_FAULT_EMULATE, fault(vm, 0, 0x100, W));
	ASSERT_EQ(0, vm->stat.mmio_sptes);
	ASSERT_EQ(0, kmmu_lookup_spte(vm, 0, 0, 0x100, NULL));
	ASSERT_EQ(1, self->log.n[KMMU_MMU_EV_MARK_MMIO_SPTE]);
}

TEST_F(mmu, readonly_slot)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct kmmu_fault f;
	uint64_t spte;

	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), KMMU_MEM_READONLY, 0, 4 * MB,
						   HVA));
	/* A write before any mapping: exit as MMIO, nothing installed. */
	ASSERT_EQ(KMMU_FAULT_RO_EMULATE, fault(vm, 0, 0x300, W));
	ASSERT_EQ(0, kmmu_lookup_spte(vm, 0, 0, 0x300, NULL));
	ASSERT_EQ(0, kmmu_page_fault(vm, 0, 0, 0x300, R, &f));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, f.result);
	ASSERT_FALSE(kmmu_is_writable_pte(f.spte));
	ASSERT_EQ(0, f.spte & KMMU_SPTE_HOST_WRITABLE);
	spte = f.spte;
	ASSERT_EQ(KMMU_FAULT_RO_EMULATE, fault(vm, 0, 0x301, W));
	ASSERT_EQ(spte, kmmu_lookup_spte(vm, 0, 0, 0x301, NULL));
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, fault(vm, 0, 0x301, R));
	/* READONLY cannot be toggled (kernel: -EINVAL). */
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
}

TEST_F(mmu, dirty_logging)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct kmmu_fault f;
	uint64_t dirty_log = KMMU_MEM_LOG_DIRTY_PAGES;

	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x000, R));
	/* Second frame: made 4K by dirty logging first. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), dirty_log, 0, 4 * MB, HVA));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x200, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x201, W));
	ASSERT_EQ(1, vm->stat.pages_2m);
	ASSERT_EQ(2, vm->stat.pages_4k);

	/* Toggle off and on: everything write-protected. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	/* zap_collapsible: the 4K SPTEs of a 2M-capable frame are gone. */
	ASSERT_EQ(0, vm->stat.pages_4k);
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x200, R));
	ASSERT_EQ(2, vm->stat.pages_2m);
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), dirty_log, 0, 4 * MB, HVA));
	ASSERT_FALSE(kmmu_is_writable_pte(kmmu_lookup_spte(vm, 0, 0, 0x10, NULL)));
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, fault(vm, 0, 0x10, R));
	/* A write to a write-protected 2M SPTE: dropped, remapped 4K. */
	ASSERT_EQ(0, kmmu_page_fault(vm, 0, 0, 0x10, W, &f));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, f.result);
	ASSERT_EQ(1, vm->stat.pages_2m);
	ASSERT_EQ(1, vm->stat.pages_4k);
	/* The rest of that frame is unmapped now. */
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x11, R));
	/* Off, then map 4K pieces with logging on, then protect: fast fix. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	ASSERT_EQ(0, vm->stat.pages_4k);
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), dirty_log, 0, 4 * MB, HVA));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x30, W));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), dirty_log, 0, 4 * MB, HVA));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x30, W));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0x0, 0, 4 * MB, HVA));
}

TEST_F(mmu, dirty_logging_fast_fix)
{
	struct kmmu_ref_vm *vm;
	struct kmmu_fault f;

	/* Without host huge pages every SPTE is 4K and survives the toggles. */
	remake_vm_4k_logged(_metadata, self);
	vm = self->vm;
	ASSERT_TRUE(kmmu_is_mmu_writable_spte(kmmu_lookup_spte(vm, 0, 0, 0x30, NULL)));
	ASSERT_EQ(0, kmmu_page_fault(vm, 0, 0, 0x30, W, &f));
	ASSERT_EQ(KMMU_FAULT_FIXED, f.result);
	ASSERT_TRUE(kmmu_is_writable_pte(f.spte));
	ASSERT_EQ(1, self->log.n[KMMU_MMU_EV_FAST_PAGE_FAULT]);
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, fault(vm, 0, 0x30, W));
	ASSERT_EQ(1, vm->stat.pages_4k);
	/* Turning logging off keeps 4K SPTEs that cannot be huge anyway. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	ASSERT_EQ(1, vm->stat.pages_4k);
}

/* The same fix by the lockless fast path, and what it leaves to the slow path. */
TEST_F(mmu, lockless_fast_page_fault)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct kmmu_fault f;

	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	/* Nothing mapped: slow path. */
	ASSERT_EQ(-EAGAIN, kmmu_fast_page_fault(vm, 0, 0, 0x30, W, &f));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x30, W));
	ASSERT_EQ(0, kmmu_fast_page_fault(vm, 0, 0, 0x31, W, &f));
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, f.result);
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES,
						   0, 4 * MB, HVA));
	/* A write-protected huge SPTE of a logged slot: slow path. */
	ASSERT_EQ(-EAGAIN, kmmu_fast_page_fault(vm, 0, 0, 0x30, W, &f));

	/* 4K SPTEs survive the toggle: the fast path fixes them, no event. */
	remake_vm_4k_logged(_metadata, self);
	vm = self->vm;
	self->log.n[KMMU_MMU_EV_FAST_PAGE_FAULT] = 0;
	ASSERT_EQ(0, kmmu_fast_page_fault(vm, 0, 0, 0x30, W, &f));
	ASSERT_EQ(KMMU_FAULT_FIXED, f.result);
	ASSERT_TRUE(kmmu_is_writable_pte(kmmu_lookup_spte(vm, 0, 0, 0x30, NULL)));
	ASSERT_EQ(0, self->log.n[KMMU_MMU_EV_FAST_PAGE_FAULT]);
	ASSERT_EQ(-EINVAL, kmmu_fast_page_fault(vm, 9, 0, 0x30, W, &f));
	ASSERT_EQ(-EINVAL, kmmu_fast_page_fault(NULL, 0, 0, 0x30, W, &f));
}

TEST_F(mmu, dirty_logging_pml)
{
	struct kmmu_ref_vm *vm;
	uint64_t s4k, s2m;

	self->cfg.pml = true;
	vm = remake_vm_slot0(_metadata, self);
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 1), 0, 8 * MB, 4 * MB, HVA + 4096));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x10, W));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x810, W));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), KMMU_MEM_LOG_DIRTY_PAGES,
						   0, 4 * MB, HVA));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 1), KMMU_MEM_LOG_DIRTY_PAGES,
						   8 * MB, 4 * MB, HVA + 4096));
	s2m = kmmu_lookup_spte(vm, 0, 0, 0x10, NULL);
	s4k = kmmu_lookup_spte(vm, 0, 0, 0x810, NULL);
	/* 4K: still writable, dirty bit cleared for the CPU to log. */
	ASSERT_TRUE(kmmu_is_writable_pte(s4k));
	ASSERT_EQ(0, s4k & KMMU_PT_DIRTY_MASK);
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, fault(vm, 0, 0x810, W));
	/* 2M: write-protected, a write splits it. */
	ASSERT_FALSE(kmmu_is_writable_pte(s2m));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x10, W));
	ASSERT_EQ(0, vm->stat.pages_2m);
	ASSERT_EQ(2, vm->stat.pages_4k);
}

TEST_F(mmu, delete_zaps_all_fast)
{
	struct kmmu_ref_vm *vm = self->vm;
	uint8_t gen = vm->mmu_valid_gen;

	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 1), 0, 8 * MB, 4 * MB,
						   HVA + 8 * MB));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x10, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x810, R));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x2010, R));
	/* A fault while the slot is INVALID (from inside the flush) retries. */
	self->log.vm = vm;
	self->log.inject_on = KMMU_MMU_EV_ZAP_ALL_FAST;
	self->log.inject_gfn = 0x300;	/* in the slot, not mapped */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 0, 0));
	ASSERT_TRUE(self->log.injected);
	ASSERT_EQ(0, self->log.inject_r);
	ASSERT_EQ(KMMU_FAULT_RETRY, self->log.inject_f.result);
	ASSERT_EQ(1, vm->stat.zap_all_fast);
	ASSERT_EQ(gen, self->log.last[KMMU_MMU_EV_ZAP_ALL_FAST].zap_all_fast.mmu_valid_gen);
	ASSERT_NE(gen, vm->mmu_valid_gen);
	ASSERT_GE(self->log.n[KMMU_MMU_EV_PREPARE_ZAP_PAGE], 4);
	/* Everything went, including the other slot's mappings and MMIO. */
	ASSERT_EQ(0, vm->stat.pages_2m);
	ASSERT_EQ(0, vm->stat.mmio_sptes);
	/* The loaded root is invalid but kept until the vCPU reloads. */
	ASSERT_EQ(0, kmmu_nr_shadow_pages(vm));
	ASSERT_EQ(1, vm->stat.mmu_used_pages);
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x10, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x810, R));
	ASSERT_EQ(4, kmmu_nr_shadow_pages(vm));
	ASSERT_EQ(4, vm->stat.mmu_used_pages);
}

TEST_F(mmu, delete_zaps_slot_only)
{
	struct kmmu_ref_vm *vm;

	self->cfg.slot_zap_all = false;
	vm = remake_vm_slot0(_metadata, self);
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 1), 0, 8 * MB, 4 * MB,
						   HVA + 8 * MB + 4096));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x10, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(vm, 0, 0x810, R));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x2010, R));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 1), 0, 8 * MB, 0, 0));
	ASSERT_EQ(0, vm->stat.zap_all_fast);
	ASSERT_EQ(0, vm->stat.pages_4k);
	ASSERT_EQ(1, vm->stat.pages_2m);
	ASSERT_EQ(1, vm->stat.mmio_sptes);
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, fault(vm, 0, 0x10, R));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x810, R));
	/* The surviving MMIO SPTE is stale after the update. */
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x2010, R));
	audit_ok(_metadata, vm);
	/* Move: old gfns unmapped, new ones mapped. */
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 16 * MB, 4 * MB, HVA));
	ASSERT_EQ(0, vm->stat.pages_2m);
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x10, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x1010, R));
}

TEST_F(mmu, move_slot)
{
	struct kmmu_ref_vm *vm = self->vm;

	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x10, W));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 6 * MB, 4 * MB, HVA));
	ASSERT_EQ(1, vm->stat.zap_all_fast);
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x10, R));
	/* 6 MiB base, hva at a 2M multiple: still huge-capable. */
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, 0x610, R));
	ASSERT_EQ(HVA >> 12, kmmu_spte_to_pfn(kmmu_lookup_spte(vm, 0, 0, 0x610, NULL)));
}

TEST_F(mmu, address_spaces_and_vcpus)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct kmmu_fault f;

	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(1, 0), 0, 0, 4 * MB, HVA));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x10, R));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 1, 0x10, R));
	/* vCPU 1 shares the roots through the page hash. */
	ASSERT_EQ(0, kmmu_page_fault(vm, 1, 1, 0x10, R, &f));
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, f.result);
	ASSERT_EQ(0, kmmu_page_fault(vm, 1, 0, 0x10, R, &f));
	ASSERT_EQ(KMMU_FAULT_MMIO_CACHED, f.result);
	ASSERT_EQ(2, vm->vcpus[0].root[0]->root_count);
	ASSERT_EQ(vm->vcpus[0].root[1], vm->vcpus[1].root[1]);
	ASSERT_NE(vm->vcpus[0].root[0], vm->vcpus[0].root[1]);
	ASSERT_EQ(0, (int)vm->vcpus[0].root[0]->role.smm);
	ASSERT_EQ(1, (int)vm->vcpus[0].root[1]->role.smm);
	ASSERT_EQ(1, vm->stat.pages_2m);
	/* Fast zap: both vCPUs drop the obsolete roots on their next fault. */
	kmmu_mmu_zap_all_fast(vm);
	ASSERT_EQ(2, vm->stat.mmu_used_pages);
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 1, 0x10, R));
	ASSERT_EQ(0, kmmu_page_fault(vm, 1, 1, 0x10, R, &f));
	ASSERT_EQ(KMMU_FAULT_SPURIOUS, f.result);
	/* vCPU 1 dropped both obsolete roots on its reload. */
	ASSERT_EQ(0, kmmu_lookup_spte(vm, 1, 0, 0x10, NULL));
	ASSERT_EQ(0, kmmu_page_fault(vm, 1, 0, 0x10, R, &f));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, f.result);
	ASSERT_EQ(KMMU_FAULT_MMIO_CACHED, fault(vm, 0, 0x10, R));
}

TEST_F(mmu, update_in_progress)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct kmmu_fault f;
	uint64_t gen0 = kmmu_ref_vm_memslots_generation(vm, 0);

	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, 0x5000, R));
	/*
	 * Fault from inside kvm_arch_memslots_updated(): the new set is
	 * active with the in-progress bit.  The cached SPTE must not be used
	 * even though its stored bits equal the generation's low bits.
	 */
	self->log.vm = vm;
	self->log.inject_on = KMMU_MMU_EV_MEMSLOTS_UPDATED;
	self->log.inject_gfn = 0x5000;
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, 0, 4 * MB, HVA));
	ASSERT_TRUE(self->log.injected);
	ASSERT_EQ(0, self->log.inject_r);
	ASSERT_TRUE(self->log.inject_f.in_progress);
	ASSERT_TRUE(self->log.inject_f.stale_mmio);
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, self->log.inject_f.result);
	/* Stamped with the old generation's bits: stale once the update is done. */
	ASSERT_EQ(gen0, kmmu_get_mmio_spte_generation(vm->gen_layout, self->log.inject_f.spte));
	ASSERT_EQ(0, kmmu_page_fault(vm, 0, 0, 0x5000, R, &f));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, f.result);
	ASSERT_TRUE(f.stale_mmio);
	ASSERT_FALSE(f.in_progress);
	ASSERT_EQ(KMMU_FAULT_MMIO_CACHED, fault(vm, 0, 0x5000, R));
}

TEST_F(mmu, errors)
{
	struct kmmu_ref_vm *vm = self->vm, *v2;
	struct kmmu_ref_vm_config c;
	struct kmmu_fault f;

	ASSERT_EQ(-EINVAL, kmmu_page_fault(NULL, 0, 0, 0, R, &f));
	ASSERT_EQ(-EINVAL, kmmu_page_fault(vm, 0, 0, 0, R, NULL));
	ASSERT_EQ(-EINVAL, kmmu_page_fault(vm, 2, 0, 0, R, &f));
	ASSERT_EQ(-EINVAL, kmmu_page_fault(vm, 0, 2, 0, R, &f));
	ASSERT_EQ(-EINVAL, kmmu_page_fault(vm, 0, -1, 0, R, &f));
	ASSERT_EQ(-EINVAL, kmmu_page_fault(vm, 0, 0, 0, 1u << 3, &f));
	ASSERT_EQ(-EINVAL, kmmu_page_fault(vm, 0, 0, 1ull << 40, R, &f));
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_create(NULL, &self->cfg));
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_create(&v2, NULL));
	c = self->cfg;
	c.nr_vcpus = 0;
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_create(&v2, &c));
	c.nr_vcpus = KMMU_REF_MAX_VCPUS + 1;
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_create(&v2, &c));
	c = self->cfg;
	c.phys_bits = 52;
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_create(&v2, &c));
	c.phys_bits = 31;
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_create(&v2, &c));
	c = self->cfg;
	c.layout = (enum kmmu_spte_layout)9;
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_create(&v2, &c));
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_set_memory_region(NULL, 0, 0, 0, MB, HVA));
	/* x86 prepare: a slot may not end beyond kvm_mmu_max_gfn(). */
	ASSERT_EQ(-EINVAL, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0,
							 (1ull << 46) - MB, 2 * MB, HVA));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0,
						   (1ull << 46) - 2 * MB, 2 * MB, HVA));
	ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(vm, 0, kmmu_mmu_max_gfn(vm), R));
	ASSERT_EQ(-EINVAL, kmmu_mmu_zap_memslot(vm, NULL));
	ASSERT_EQ(-EINVAL, kmmu_mmu_slot_remove_write_access(vm, NULL, 1));
	ASSERT_EQ(-EINVAL, kmmu_mmu_zap_collapsible_sptes(NULL, NULL));
	ASSERT_EQ(-EINVAL, kmmu_mmu_invalidate_mmio_sptes(NULL, 0));
	ASSERT_EQ(-EINVAL, kmmu_mmu_invalidate_mmio_sptes(vm, 1ull << 63));
	ASSERT_EQ(-EINVAL, kmmu_mmu_audit(NULL, NULL, 0));
	ASSERT_EQ(0, kmmu_lookup_spte(NULL, 0, 0, 0, NULL));
	ASSERT_STREQ("mapped_2m", kmmu_fault_result_name(KMMU_FAULT_MAPPED_2M));
	ASSERT_STREQ("invalid", kmmu_fault_result_name(KMMU_FAULT_NR));
}

struct conc {
	struct kmmu_ref_vm *vm;
	unsigned int vcpu;
	int stop;	/* atomic */
	unsigned long faults, retries;
	int err;
};

static void *conc_faulter(void *arg)
{
	struct conc *c = arg;
	uint64_t x = 0x12345 + c->vcpu;
	struct kmmu_fault f;

	urcu_memb_register_thread();
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		int r;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r = kmmu_page_fault(c->vm, c->vcpu, x & 1, (x >> 8) % 0x3000,
				    (x >> 40) & 1 ? W : R, &f);
		if (r) {
			c->err = r;
			break;
		}
		c->faults++;
		c->retries += f.result == KMMU_FAULT_RETRY;
	}
	urcu_memb_unregister_thread();
	return NULL;
}

/*
 * Two vCPU threads fault while this thread creates, moves, deletes slots
 * and toggles dirty logging: mmu_lock and the RCU read side must keep the
 * reference consistent (audit), and no fault may fail.
 */
TEST_F(mmu, concurrent_faults_and_updates)
{
	struct kmmu_ref_vm *vm = self->vm;
	struct conc c[2] = { { .vm = vm, .vcpu = 0 }, { .vm = vm, .vcpu = 1 } };
	pthread_t t[2];
	struct timespec t0, t1;
	unsigned long updates = 0;
	uint64_t x = 99;
	int i;

	kmmu_ref_vm_set_event_fn(vm, NULL, NULL);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, conc_faulter, &c[i]));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		uint32_t id = x % 4, as = (x >> 4) & 1;
		uint64_t gpa = ((x >> 8) % 8) * 4 * MB;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Errors (overlaps, bad moves) are fine; consistency is the point. */
		kmmu_ref_vm_set_memory_region(vm, SLOT(as, id),
					      (x >> 20) & 1 ? KMMU_MEM_LOG_DIRTY_PAGES : 0,
					      gpa, (x >> 21) % 3 ? 4 * MB : 0, HVA + gpa);
		updates++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 300000000L);
	for (i = 0; i < 2; i++) {
		__atomic_store_n(&c[i].stop, 1, __ATOMIC_RELEASE);
		pthread_join(t[i], NULL);
		ASSERT_EQ(0, c[i].err);
		ASSERT_GT(c[i].faults, 0);
	}
	TH_LOG("%lu updates, %lu + %lu faults, %lu + %lu retries", updates, c[0].faults,
	       c[1].faults, c[0].retries, c[1].retries);
	audit_ok(_metadata, vm);
}

TEST_HARNESS_MAIN
