// SPDX-License-Identifier: GPL-2.0
/*
 * The MMIO generation wrap (seed 002, kvm_mmu_invalidate_mmio_sptes()):
 * drive each address space's memslot generation through its whole 19-bit
 * MMIO range with real memslot updates (each bumps the generation by
 * KMMU_ADDRESS_SPACE_NUM, counted here independently from the kernel's
 * rule) while MMIO SPTEs and leaf mappings exist, and check that
 *  - before the wrap every SPTE survives every update, and an MMIO SPTE of
 *    an older generation is stale: the access takes the normal fault path
 *    and reinstalls it, after which it answers again;
 *  - exactly at the wrap (upstream: generation, less its address-space
 *    bits, == 0 modulo 2^19; seed 2013: == MMIO_MAX_GEN) everything is
 *    zapped, not one update earlier or later.
 * A last test shows why upstream strips the address-space bits: with the
 * seed's ">= MMIO_MAX_GEN" rule address space 0 (even generations) never
 * hits the odd maximum, wraps unzapped, and an MMIO SPTE created 2^18
 * updates earlier answers for a gfn that is now RAM.
 *
 * KMMU_WRAP_UPDATES bounds the number of updates per test (default: what
 * the wrap needs, about 2^19 in total, a few seconds even with ASan).
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/mmu.h>

#define NR_AS		KMMU_ADDRESS_SPACE_NUM
#define NR_MMIO		8
#define HVA		0x7f0000000000ull
#define TOGGLE_GPA	0x100000000ull
#define SLOT(as, id)	((uint32_t)(as) << 16 | (id))
#define GEN_BITS	19
#define GEN_MASK	((1ull << GEN_BITS) - 1)

struct wrap {
	struct kmmu_ref_vm *vm;
	uint64_t exp_gen[NR_AS];
	uint32_t toggle_flags[NR_AS];
	unsigned int wraps, wrap_events;
	uint64_t wrap_event_gen;
	unsigned long updates;
	/* Faults taken from inside each update, while it is in progress. */
	unsigned long inprog_faults, inprog_bad;
	int inprog_err;
};

/* An MMIO gfn refreshed after every update and faulted during the next. */
#define HOT_GFN		0x20000

static void ev_fn(void *ctx, const struct kmmu_mmu_event *ev)
{
	struct wrap *w = ctx;

	if (ev->type == KMMU_MMU_EV_MMIO_GEN_WRAP) {
		w->wrap_events++;
		w->wrap_event_gen = ev->gen_wrap.gen;
	}
	if (ev->type == KMMU_MMU_EV_MEMSLOTS_UPDATED && w->vm) {
		/*
		 * The new memslots are active with the in-progress bit; the hot
		 * SPTE carries the old generation, whose low bits they share:
		 * it must not be used.
		 */
		struct kmmu_fault f;
		int as = ev->gen_wrap.gen & (NR_AS - 1);
		int r = kmmu_page_fault(w->vm, 0, as, HOT_GFN, 0, &f);

		w->inprog_faults++;
		if (r)
			w->inprog_err = r;
		else if (f.result != KMMU_FAULT_MMIO_SPTE || !f.in_progress)
			w->inprog_bad++;
	}
}

static gfn_t mmio_gfn(int k)
{
	return 0x10000 + (gfn_t)k * 0x1000;
}

static int fault(struct kmmu_ref_vm *vm, int as, gfn_t gfn, struct kmmu_fault *f)
{
	int r = kmmu_page_fault(vm, 0, as, gfn, 0, f);

	return r ? r : (int)f->result;
}

/* (Re)creates the MMIO SPTEs and the two leaf mappings of every AS. */
static void populate(struct __test_metadata *_metadata, struct wrap *w)
{
	struct kmmu_fault f;
	int as, k;

	for (as = 0; as < NR_AS; as++) {
		for (k = 0; k < NR_MMIO; k++)
			ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(w->vm, as, mmio_gfn(k), &f));
		ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(w->vm, as, HOT_GFN, &f));
		ASSERT_EQ(KMMU_FAULT_MAPPED_2M, fault(w->vm, as, 0x10, &f));
		ASSERT_EQ(KMMU_FAULT_MAPPED_4K, fault(w->vm, as, 0x805, &f));
	}
	ASSERT_EQ(NR_AS * (NR_MMIO + 1), w->vm->stat.mmio_sptes);
	ASSERT_EQ(NR_AS, w->vm->stat.pages_2m);
	ASSERT_EQ(NR_AS, w->vm->stat.pages_4k);
}

static void setup_vm(struct __test_metadata *_metadata, struct wrap *w,
		     enum kmmu_spte_layout layout)
{
	struct kmmu_ref_vm_config cfg;
	int as;

	urcu_memb_register_thread();
	memset(w, 0, sizeof(*w));
	kmmu_ref_vm_config_default(&cfg);
	cfg.layout = layout;
	ASSERT_EQ(0, kmmu_ref_vm_create(&w->vm, &cfg));
	kmmu_ref_vm_set_event_fn(w->vm, ev_fn, w);
	for (as = 0; as < NR_AS; as++) {
		/* The initial generation of address space i is i. */
		ASSERT_EQ((uint64_t)as, kmmu_ref_vm_memslots_generation(w->vm, as));
		w->exp_gen[as] = as;
		/* A small slot whose dirty logging is toggled to update memslots. */
		ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(w->vm, SLOT(as, 0), 0, TOGGLE_GPA,
							   4096, HVA + (1ull << 32)));
		/* RAM: a 2M-capable slot and a 4K-only slot. */
		ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(w->vm, SLOT(as, 1), 0, 0, 4 << 20, HVA));
		ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(w->vm, SLOT(as, 2), 0, 8 << 20, 4 << 20,
							   HVA + (8 << 20) + 4096));
		/* CREATE is one swap: +KMMU_ADDRESS_SPACE_NUM each. */
		w->exp_gen[as] += 3 * NR_AS;
		ASSERT_EQ(w->exp_gen[as], kmmu_ref_vm_memslots_generation(w->vm, as));
	}
	populate(_metadata, w);
}

static unsigned long max_updates(unsigned long dflt)
{
	const char *env = getenv("KMMU_WRAP_UPDATES");

	return env ? strtoul(env, NULL, 0) : dflt;
}

/* One FLAGS_ONLY update of @as; returns whether the reference should zap. */
static bool update(struct __test_metadata *_metadata, struct wrap *w, int as,
		   enum kmmu_spte_layout layout)
{
	uint64_t g;

	w->toggle_flags[as] ^= KMMU_MEM_LOG_DIRTY_PAGES;
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(w->vm, SLOT(as, 0), w->toggle_flags[as],
						   TOGGLE_GPA, 4096, HVA + (1ull << 32)));
	w->updates++;
	w->exp_gen[as] += NR_AS;
	ASSERT_EQ(w->exp_gen[as], kmmu_ref_vm_memslots_generation(w->vm, as));
	g = w->exp_gen[as] & GEN_MASK;
	if (layout == KMMU_SPTE_LAYOUT_SEED2013)
		return g >= GEN_MASK;
	return (g & ~(uint64_t)(NR_AS - 1)) == 0;
}

/* After an update of @as that must not zap: everything survives. */
static void check_survived(struct __test_metadata *_metadata, struct wrap *w, int as)
{
	struct kmmu_ref_vm *vm = w->vm;
	int k = w->updates % NR_MMIO, level;
	struct kmmu_fault f;
	uint64_t spte;

	ASSERT_EQ(w->wraps, vm->stat.zap_all_fast);
	ASSERT_EQ(NR_AS * (NR_MMIO + 1), vm->stat.mmio_sptes);
	ASSERT_EQ(NR_AS, vm->stat.pages_2m);
	ASSERT_EQ(NR_AS, vm->stat.pages_4k);
	spte = kmmu_lookup_spte(vm, 0, as, mmio_gfn(k), &level);
	ASSERT_TRUE(kmmu_is_mmio_spte(spte));
	/* Stamped before this update: stale, so a normal fault reinstalls it. */
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, as, mmio_gfn(k), &f)) {
		TH_LOG("update %lu as %d gen %#" PRIx64, w->updates, as, w->exp_gen[as]);
	}
	ASSERT_TRUE(f.stale_mmio);
	ASSERT_EQ(w->exp_gen[as] & GEN_MASK,
		  kmmu_get_mmio_spte_generation(vm->gen_layout, f.spte));
	/* The hot SPTE was re-stamped during the update: stale again now. */
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, as, HOT_GFN, &f));
	/*
	 * Alternate gfns so that the vCPU's one-entry MMIO info never
	 * answers: these hits must come from the SPTEs' generation.
	 */
	ASSERT_EQ(KMMU_FAULT_MMIO_CACHED, fault(vm, as, mmio_gfn(k), &f));
	ASSERT_FALSE(f.mmio_info_cached);
	ASSERT_EQ(KMMU_FAULT_MMIO_CACHED, fault(vm, as, HOT_GFN, &f));
	ASSERT_FALSE(f.mmio_info_cached);
	ASSERT_EQ(NR_AS * (NR_MMIO + 1), vm->stat.mmio_sptes);
	ASSERT_EQ(0, w->inprog_err);
	ASSERT_EQ(0, w->inprog_bad) {
		TH_LOG("update %lu: a cached MMIO SPTE answered during the update", w->updates);
	}
}

static void check_zapped(struct __test_metadata *_metadata, struct wrap *w, int as)
{
	struct kmmu_ref_vm *vm = w->vm;
	int a, k;

	w->wraps++;
	ASSERT_EQ(w->wraps, vm->stat.zap_all_fast) {
		TH_LOG("no zap at update %lu as %d gen %#" PRIx64, w->updates, as, w->exp_gen[as]);
	}
	ASSERT_EQ(w->wraps, w->wrap_events);
	ASSERT_EQ(w->exp_gen[as], w->wrap_event_gen);
	ASSERT_EQ(0, vm->stat.mmio_sptes);
	ASSERT_EQ(0, vm->stat.pages_2m + vm->stat.pages_4k);
	for (a = 0; a < NR_AS; a++)
		for (k = 0; k < NR_MMIO; k++)
			ASSERT_EQ(0, kmmu_lookup_spte(vm, 0, a, mmio_gfn(k), NULL));
	ksft_print_msg("zap all at update %lu: as %d generation %#" PRIx64 "\n",
		       w->updates, as, w->exp_gen[as]);
	populate(_metadata, w);
}

static void run_alternating(struct __test_metadata *_metadata, enum kmmu_spte_layout layout,
			    unsigned int want_wraps)
{
	struct wrap w;
	unsigned long limit;
	char why[160] = "";
	int as = 0;

	setup_vm(_metadata, &w, layout);
	/* Both address spaces once through 2^19 generations, plus a margin. */
	limit = max_updates((1ul << GEN_BITS) + 64);
	while (w.updates < limit) {
		if (update(_metadata, &w, as, layout))
			check_zapped(_metadata, &w, as);
		else
			check_survived(_metadata, &w, as);
		as ^= 1;
	}
	ASSERT_EQ(0, kmmu_mmu_audit(w.vm, why, sizeof(why))) {
		TH_LOG("audit: %s", why);
	}
	ksft_print_msg("%lu updates, %u zaps, generations %#" PRIx64 "/%#" PRIx64
		       ", %lu faults during updates\n",
		       w.updates, w.wraps, w.exp_gen[0], w.exp_gen[1], w.inprog_faults);
	ASSERT_EQ(0, w.inprog_bad);
	ASSERT_GE(w.inprog_faults, w.updates);
	fflush(stdout);
	if (limit >= (1ul << GEN_BITS))
		ASSERT_EQ(want_wraps, w.wraps);
	kmmu_ref_vm_destroy(w.vm);
	urcu_memb_unregister_thread();
}

TEST(upstream_layout_wraps_each_address_space)
{
	/* as 0 at generation 2^19, as 1 at 2^19 + 1. */
	run_alternating(_metadata, KMMU_SPTE_LAYOUT_UPSTREAM, 2);
}

TEST(seed2013_layout_zaps_at_max_gen)
{
	/* Only as 1 reaches the odd MMIO_MAX_GEN; as 0 steps over it. */
	run_alternating(_metadata, KMMU_SPTE_LAYOUT_SEED2013, 1);
}

/*
 * Only address space 0 is updated.  An MMIO SPTE for gfn G is created at
 * the start; then a RAM slot is created over G; G is not accessed until
 * address space 0's generation has gone through 2^19 values.
 */
static void run_alias(struct __test_metadata *_metadata, enum kmmu_spte_layout layout,
		      enum kmmu_fault_result want)
{
	struct kmmu_ref_vm_config cfg;
	struct kmmu_ref_vm *vm;
	struct kmmu_fault f;
	unsigned long i, n;
	uint32_t flags = 0;
	const gfn_t G = 0x40000;

	urcu_memb_register_thread();
	kmmu_ref_vm_config_default(&cfg);
	cfg.layout = layout;
	ASSERT_EQ(0, kmmu_ref_vm_create(&vm, &cfg));
	ASSERT_EQ(KMMU_FAULT_MMIO_SPTE, fault(vm, 0, G, &f));
	ASSERT_EQ(0, kmmu_get_mmio_spte_generation(vm->gen_layout, f.spte));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 1), 0, G << 12, 1 << 20, HVA));
	ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), 0, TOGGLE_GPA, 4096,
						   HVA + (1ull << 32)));
	/* 2 updates so far; 2^18 in all bring generation 0 back to 0 mod 2^19. */
	n = max_updates((1ul << (GEN_BITS - 1)) - 2);
	for (i = 0; i < n; i++) {
		flags ^= KMMU_MEM_LOG_DIRTY_PAGES;
		ASSERT_EQ(0, kmmu_ref_vm_set_memory_region(vm, SLOT(0, 0), flags, TOGGLE_GPA, 4096,
							   HVA + (1ull << 32)));
	}
	if (n == (1ul << (GEN_BITS - 1)) - 2) {
		ASSERT_EQ(1ull << GEN_BITS, kmmu_ref_vm_memslots_generation(vm, 0));
		ASSERT_EQ(want, fault(vm, 0, G, &f));
	}
	kmmu_ref_vm_destroy(vm);
	urcu_memb_unregister_thread();
}

TEST(upstream_layout_no_alias_after_wrap)
{
	/* Zapped at the wrap: G is RAM and gets mapped. */
	run_alias(_metadata, KMMU_SPTE_LAYOUT_UPSTREAM, KMMU_FAULT_MAPPED_4K);
}

TEST(seed2013_layout_aliases_with_two_address_spaces)
{
	/* The old MMIO SPTE looks current again: RAM exits as MMIO. */
	run_alias(_metadata, KMMU_SPTE_LAYOUT_SEED2013, KMMU_FAULT_MMIO_CACHED);
}

TEST_HARNESS_MAIN
