// SPDX-License-Identifier: GPL-2.0
/*
 * Property test of the reference MMU: long random seeded sequences of
 * memslot operations and guest accesses, run on the reference and on a
 * naive model (the naive memslot model plus a flat map gfn -> state: not
 * mapped, mapped 4K, part of a mapped 2M frame, MMIO, with a per-address
 * space update counter instead of generations).  Every memslot result,
 * every fault outcome and the leaf counts (pages_4k/pages_2m) must agree;
 * the reference's own audit (rmaps <-> SPTEs <-> stats) runs periodically.
 *
 * The naive rules are written from KVM's documented behaviour, not from
 * the reference's code: a 2M frame is mapped huge iff the host backs it
 * huge, the slot is not dirty-logged, the frame lies inside the slot and
 * gpa and hva agree modulo 2M; an MMIO SPTE answers until its address space
 * is updated; DELETE/MOVE zap everything (KVM_X86_QUIRK_SLOT_ZAP_ALL) or
 * the slot's mappings; dirty logging on write-protects, off drops 4K
 * mappings of frames that could be huge, except on read-only slots.
 *
 * Seed printed; KMMU_SEED overrides, KMMU_PROP_OPS sets the length and
 * KMMU_PROPERTY_SECONDS, where set, bounds each test's time past its first
 * PROP_MIN_OPS operations: kmmu-stress runs it beside other jobs, in the
 * test VM and under ASan, where a fixed number of operations can outlast
 * the harness's 30 s on a loaded host (a failure that says nothing about
 * the reference).
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/clock.h>
#include <kmmu/mmu.h>
#include "lib/naive_memslots.h"

#define NR_AS		KMMU_ADDRESS_SPACE_NUM
#define GFN_SPACE	0x4000ull		/* 64 MiB per address space */
#define NR_IDS		6
#define HVA_BASE	0x7f0000000000ull
#define FRAME		512ull

enum nstate { N_NONE, N_4K, N_2M, N_MMIO };

struct ngfn {
	uint8_t state;
	uint8_t writable;
	uint8_t orphan4k;	/* a 4K leaf left in an unlinked table */
	uint32_t stamp;		/* MMIO: update counter at creation */
};

struct naive {
	struct kmmu_naive_memslots *slots;
	struct ngfn g[NR_AS][GFN_SPACE];
	uint32_t upd[NR_AS];
	uint64_t n4k, n2m;
	bool quirk, caching, huge, pml;
};

static uint64_t rng(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void set_state(struct naive *n, int as, gfn_t gfn, enum nstate st, bool w)
{
	struct ngfn *e = &n->g[as][gfn];

	if (e->state == N_4K)
		n->n4k--;
	if (e->state == N_2M && !(gfn & (FRAME - 1)))
		n->n2m--;
	e->state = st;
	e->writable = w;
	if (st == N_4K)
		n->n4k++;
	if (st == N_2M && !(gfn & (FRAME - 1)))
		n->n2m++;
}

static void clear_orphan(struct naive *n, int as, gfn_t gfn)
{
	if (n->g[as][gfn].orphan4k) {
		n->g[as][gfn].orphan4k = 0;
		n->n4k--;
	}
}

static bool frame_can_be_huge(const struct naive *n, const struct kmmu_naive_slot *s, gfn_t gfn)
{
	gfn_t f = gfn & ~(FRAME - 1);

	if (!n->huge || (s->flags & KMMU_MEM_LOG_DIRTY_PAGES))
		return false;
	if (f < s->base_gfn || f + FRAME > s->base_gfn + s->npages)
		return false;
	return !((s->base_gfn ^ (s->userspace_addr >> 12)) & (FRAME - 1));
}

/* What a guest access does, per the rules in the header comment. */
static enum kmmu_fault_result naive_access(struct naive *n, int as, gfn_t gfn, bool write)
{
	const struct kmmu_naive_slot *s = kmmu_naive_gfn_to_slot(n->slots, as, gfn);
	struct ngfn *e = &n->g[as][gfn];
	bool ro = s && (s->flags & KMMU_MEM_READONLY);
	gfn_t f = gfn & ~(FRAME - 1), i;

	if (e->state == N_4K || e->state == N_2M) {
		if (!write || e->writable)
			return KMMU_FAULT_SPURIOUS;
		if (ro)
			return KMMU_FAULT_RO_EMULATE;
		if (e->state == N_4K || !(s->flags & KMMU_MEM_LOG_DIRTY_PAGES)) {
			if (e->state == N_4K) {
				e->writable = 1;
			} else {
				for (i = f; i < f + FRAME; i++)
					n->g[as][i].writable = 1;
			}
			return KMMU_FAULT_FIXED;
		}
		/* Write to a protected 2M frame of a logged slot: remap 4K. */
		for (i = f; i < f + FRAME; i++)
			set_state(n, as, i, N_NONE, false);
	} else if (e->state == N_MMIO && e->stamp == n->upd[as]) {
		return KMMU_FAULT_MMIO_CACHED;
	}

	if (!s) {
		if (!n->caching)
			return KMMU_FAULT_EMULATE;
		set_state(n, as, gfn, N_MMIO, false);
		e->stamp = n->upd[as];
		return KMMU_FAULT_MMIO_SPTE;
	}
	if (write && ro)
		return KMMU_FAULT_RO_EMULATE;
	if (frame_can_be_huge(n, s, gfn)) {
		for (i = f; i < f + FRAME; i++) {
			/* 4K leaves under the frame stay, unreachable. */
			if (n->g[as][i].state == N_4K && !n->g[as][i].orphan4k) {
				n->g[as][i].orphan4k = 1;
				n->n4k++;
			}
			set_state(n, as, i, N_2M, !ro);
		}
		return KMMU_FAULT_MAPPED_2M;
	}
	set_state(n, as, gfn, N_4K, !ro);
	return KMMU_FAULT_MAPPED_4K;
}

static void naive_zap_range(struct naive *n, int as, gfn_t base, uint64_t npages)
{
	gfn_t g;

	for (g = base; g < base + npages && g < GFN_SPACE; g++) {
		if (n->g[as][g].state == N_4K || n->g[as][g].state == N_2M)
			set_state(n, as, g, N_NONE, false);
		clear_orphan(n, as, g);
	}
}

/* Effects of a successful memslot update on the mappings. */
static void naive_update(struct naive *n, int as, int change,
			 const struct kmmu_naive_slot *old, const struct kmmu_naive_slot *new)
{
	gfn_t g;
	int a;

	n->upd[as]++;
	if (change == KMMU_MR_DELETE || change == KMMU_MR_MOVE) {
		if (n->quirk) {
			for (a = 0; a < NR_AS; a++)
				for (g = 0; g < GFN_SPACE; g++) {
					set_state(n, a, g, N_NONE, false);
					clear_orphan(n, a, g);
				}
		} else {
			naive_zap_range(n, as, old->base_gfn, old->npages);
		}
		return;
	}
	if (change != KMMU_MR_FLAGS_ONLY || (new->flags & KMMU_MEM_READONLY))
		return;
	for (g = new->base_gfn; g < new->base_gfn + new->npages && g < GFN_SPACE; g++) {
		struct ngfn *e = &n->g[as][g];

		if (new->flags & KMMU_MEM_LOG_DIRTY_PAGES) {
			/* PML logs 4K writes itself: only huge frames are protected. */
			if (e->state == N_2M || (e->state == N_4K && !n->pml))
				e->writable = 0;
		} else if (e->state == N_4K || e->orphan4k) {
			if (frame_can_be_huge(n, new, g)) {
				if (e->state == N_4K)
					set_state(n, as, g, N_NONE, false);
				clear_orphan(n, as, g);
			}
		}
	}
}

struct prop_cfg {
	const char *name;
	bool quirk, caching, huge;
	enum kmmu_spte_layout layout;
	bool pml;
};

static uint64_t prop_seed(void)
{
	const char *env = getenv("KMMU_SEED");

	return env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
}

static unsigned long prop_ops(void)
{
	const char *env = getenv("KMMU_PROP_OPS");

	return env ? strtoul(env, NULL, 0) : 100000;
}

/* Enough operations for every outcome the test asserts it saw. */
#define PROP_MIN_OPS	5000

static double prop_seconds(void)
{
	const char *env = getenv("KMMU_PROPERTY_SECONDS");

	return env ? atof(env) : 0;
}

static void run(struct __test_metadata *_metadata, const struct prop_cfg *pc)
{
	static struct naive n;	/* large; the harness forks per test */
	uint64_t seed = prop_seed(), rs, op;
	unsigned long nops = prop_ops();
	double limit = prop_seconds(), start = kmmu_now();
	struct kmmu_ref_vm_config cfg;
	struct kmmu_ref_vm *vm;
	unsigned int counts[KMMU_FAULT_NR] = { 0 }, nupd = 0, changes[4] = { 0 }, i;
	char why[200];

	ksft_print_msg("%s: seed %" PRIu64 " (replay: KMMU_SEED=%" PRIu64 "), %lu ops\n",
		       pc->name, seed, seed, nops);
	rs = seed ? seed : 1;
	urcu_memb_register_thread();
	kmmu_ref_vm_config_default(&cfg);
	cfg.slot_zap_all = pc->quirk;
	cfg.mmio_caching = pc->caching;
	cfg.host_huge_pages = pc->huge;
	cfg.layout = pc->layout;
	cfg.pml = pc->pml;
	cfg.max_slots = NR_IDS;
	ASSERT_EQ(0, kmmu_ref_vm_create(&vm, &cfg));
	memset(&n, 0, sizeof(n));
	n.quirk = pc->quirk;
	n.caching = pc->caching;
	n.huge = pc->huge;
	n.pml = pc->pml;
	ASSERT_EQ(0, kmmu_naive_init(&n.slots, NR_IDS, kmmu_mmu_max_gfn(vm)));

	for (op = 0; op < nops; op++) {
		int as;

		if (limit > 0 && op >= PROP_MIN_OPS && op % 1024 == 0 && kmmu_now() - start >= limit)
			break;
		as = rng(&rs) % NR_AS;

		if (rng(&rs) % 8 == 0) {
			/* A memslot update. */
			unsigned int id = rng(&rs) % (NR_IDS + 1);
			const struct kmmu_naive_slot *cur = kmmu_naive_id_to_slot(n.slots, as, id);
			struct kmmu_naive_slot old = { 0 }, new;
			uint64_t gpa, size, hva, r = rng(&rs);
			uint32_t flags = 0;
			int rr, rn, change;

			if (cur)
				old = *cur;
			if (cur && r % 4 == 0) {
				/* Toggle dirty logging (or try READONLY: -EINVAL). */
				flags = cur->flags ^ (r & 0x100 ? KMMU_MEM_READONLY :
							      KMMU_MEM_LOG_DIRTY_PAGES);
				gpa = cur->base_gfn << 12;
				size = cur->npages << 12;
				hva = cur->userspace_addr;
			} else if (cur && r % 4 == 1) {
				size = 0;	/* delete */
				gpa = cur->base_gfn << 12;
				hva = cur->userspace_addr;
			} else {
				if (r & 0x10) {
					gpa = (rng(&rs) % (GFN_SPACE / FRAME)) * FRAME;
					size = (1 + rng(&rs) % 4) * FRAME;
				} else {
					gpa = rng(&rs) % GFN_SPACE;
					size = 1 + rng(&rs) % 0x900;
				}
				if (gpa + size > GFN_SPACE)
					size = GFN_SPACE - gpa;
				gpa <<= 12;
				size <<= 12;
				hva = HVA_BASE + (rng(&rs) % 64) * (2ull << 20);
				if (r & 0x20)
					hva += gpa & ((2ull << 20) - 1);
				else
					hva += (rng(&rs) % 512) << 12;
				if (r & 0x40)
					flags |= KMMU_MEM_LOG_DIRTY_PAGES;
				if ((r & 0x380) == 0x380)
					flags |= KMMU_MEM_READONLY;
				if (r % 97 == 0)
					flags |= 4;	/* invalid flag */
				if (cur && (r & 0x400))
					hva = cur->userspace_addr;
				if (cur && (r & 0x800)) {
					/* A move: same size and flags, new gpa. */
					size = cur->npages << 12;
					flags = cur->flags;
					if ((gpa >> 12) + cur->npages > GFN_SPACE)
						gpa = (GFN_SPACE - cur->npages) << 12;
				}
			}
			rr = kmmu_ref_vm_set_memory_region(vm, (uint32_t)as << 16 | id, flags, gpa,
							   size, hva);
			rn = kmmu_naive_set_memory_region(n.slots, (uint32_t)as << 16 | id, flags,
							  gpa, size, hva);
			ASSERT_EQ(rn, rr) {
				TH_LOG("op %" PRIu64 " set(as %d id %u flags %#x gpa %#" PRIx64
				       " size %#" PRIx64 ") seed %" PRIu64, op, as, id, flags, gpa,
				       size, seed);
			}
			change = kmmu_naive_last_change(n.slots);
			if (rr == 0 && change >= 0) {
				const struct kmmu_naive_slot *ns;

				ns = kmmu_naive_id_to_slot(n.slots, as, id);

				if (ns)
					new = *ns;
				naive_update(&n, as, change, &old, ns ? &new : NULL);
				nupd++;
				changes[change]++;
			}
		} else {
			/* A guest access, mostly inside or next to a slot. */
			unsigned int nr;
			const struct kmmu_naive_slot *ss = kmmu_naive_slots(n.slots, as, &nr);
			bool write = rng(&rs) & 1;
			struct kmmu_fault f;
			enum kmmu_fault_result want;
			gfn_t gfn;

			if (nr && rng(&rs) % 4) {
				const struct kmmu_naive_slot *s = &ss[rng(&rs) % nr];

				gfn = s->base_gfn + rng(&rs) % (s->npages + 2);
				if (rng(&rs) % 8 == 0 && s->base_gfn)
					gfn = s->base_gfn - 1;
				if (gfn >= GFN_SPACE)
					gfn = GFN_SPACE - 1;
			} else {
				gfn = rng(&rs) % GFN_SPACE;
			}
			ASSERT_EQ(0, kmmu_page_fault(vm, 0, as, gfn,
						     write ? KMMU_PFERR_WRITE_MASK : 0, &f));
			want = naive_access(&n, as, gfn, write);
			counts[f.result]++;
			ASSERT_EQ(want, f.result) {
				TH_LOG("op %" PRIu64 " access as %d gfn %#" PRIx64
				       " %s: want %s got %s, seed %" PRIu64,
				       op, as, (uint64_t)gfn, write ? "write" : "read",
				       kmmu_fault_result_name(want),
				       kmmu_fault_result_name(f.result), seed);
			}
		}
		ASSERT_EQ(n.n4k, vm->stat.pages_4k) {
			TH_LOG("op %" PRIu64 " pages_4k, seed %" PRIu64, op, seed);
		}
		ASSERT_EQ(n.n2m, vm->stat.pages_2m) {
			TH_LOG("op %" PRIu64 " pages_2m, seed %" PRIu64, op, seed);
		}
		if (op % 256 == 255 || op == nops - 1) {
			ASSERT_EQ(0, kmmu_mmu_audit(vm, why, sizeof(why))) {
				TH_LOG("op %" PRIu64 " audit: %s, seed %" PRIu64, op, why, seed);
			}
		}
	}
	ASSERT_EQ(0, kmmu_mmu_audit(vm, why, sizeof(why))) {
		TH_LOG("op %" PRIu64 " audit at the end: %s, seed %" PRIu64, op, why, seed);
	}
	ksft_print_msg("%s: %" PRIu64 " ops in %.1f s, %u updates (create %u delete %u move %u flags %u); outcomes:",
		       pc->name, op, kmmu_now() - start, nupd, changes[KMMU_MR_CREATE], changes[KMMU_MR_DELETE],
		       changes[KMMU_MR_MOVE], changes[KMMU_MR_FLAGS_ONLY]);
	for (i = 0; i < KMMU_FAULT_NR; i++)
		printf(" %s=%u", kmmu_fault_result_name(i), counts[i]);
	printf("\n");
	/* The harness ends each test's child with _exit(): flush now. */
	fflush(stdout);
	/* The run must have exercised the interesting outcomes. */
	ASSERT_GT(counts[KMMU_FAULT_MAPPED_4K], 0);
	ASSERT_GT(counts[KMMU_FAULT_RO_EMULATE], 0);
	/* With the quirk deletes zap too often, with PML 4K never needs it. */
	if (!pc->quirk && !pc->pml)
		ASSERT_GT(counts[KMMU_FAULT_FIXED], 0);
	for (i = 0; i < 4; i++)
		ASSERT_GT(changes[i], 0);
	if (pc->huge)
		ASSERT_GT(counts[KMMU_FAULT_MAPPED_2M], 0);
	if (pc->caching) {
		ASSERT_GT(counts[KMMU_FAULT_MMIO_SPTE], 0);
		ASSERT_GT(counts[KMMU_FAULT_MMIO_CACHED], 0);
	} else {
		ASSERT_GT(counts[KMMU_FAULT_EMULATE], 0);
	}
	kmmu_ref_vm_destroy(vm);
	kmmu_naive_destroy(n.slots);
	urcu_memb_unregister_thread();
}

TEST(quirk_zap_all)
{
	struct prop_cfg pc = { "quirk_zap_all", true, true, true, KMMU_SPTE_LAYOUT_UPSTREAM };

	run(_metadata, &pc);
}

TEST(per_slot_zap)
{
	struct prop_cfg pc = { "per_slot_zap", false, true, true, KMMU_SPTE_LAYOUT_UPSTREAM };

	run(_metadata, &pc);
}

TEST(no_mmio_caching_no_huge)
{
	struct prop_cfg pc = { "no_mmio_caching_no_huge", true, false, false,
			       KMMU_SPTE_LAYOUT_UPSTREAM };

	run(_metadata, &pc);
}

TEST(seed2013_layout)
{
	struct prop_cfg pc = { "seed2013_layout", false, true, true, KMMU_SPTE_LAYOUT_SEED2013 };

	run(_metadata, &pc);
}

TEST(pml)
{
	struct prop_cfg pc = { "pml", false, true, true, KMMU_SPTE_LAYOUT_UPSTREAM, true };

	run(_metadata, &pc);
}

TEST_HARNESS_MAIN
