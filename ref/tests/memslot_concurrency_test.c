// SPDX-License-Identifier: GPL-2.0
/*
 * Readers against an updater, as vCPUs and MMU notifiers run against
 * KVM_SET_USER_MEMORY_REGION: reader threads look slots up by gfn, id and
 * hva range under urcu_memb_read_lock() while one thread creates, deletes,
 * moves and re-flags slots.  Every slot a reader finds must contain what it
 * was looked up by and match the slot's fixed layout (never a torn or freed
 * slot; the ASan twin turns a use-after-free into a crash), a set must
 * answer the same within one read-side critical section, and generations
 * only move forward.  Bounded by KMMU_CONCURRENCY_SECONDS (default 2).
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include <kmmu/clock.h>
#include <kmmu/memslot.h>

#define PG		KMMU_PAGE_SIZE
#define HVA_BASE	0x7f0000000000ul
#define NR_IDS		48
/*
 * Slot id i, when it exists, covers gfns [i * 64 + m * 32, +32) with m in
 * {0, 1} (MOVE toggles m), and host range HVA_BASE + [i * 32, +32) pages.
 */
#define SLOT_PAGES	32
#define MIN_RACED_UPDATES 40	/* judged only after this many updates */

struct shared {
	struct kmmu_vm_memslots *vm;
	volatile int stop;
	char why[256];
	int failed;
	pthread_mutex_t lock;
};

struct reader_stats {
	long lookups, hits, in_progress, invalid_seen, hva_queries, gens_seen;
};

static void fail(struct shared *sh, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&sh->lock);
	if (!sh->failed++) {
		va_start(ap, fmt);
		vsnprintf(sh->why, sizeof(sh->why), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&sh->lock);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
}

static bool stopped(struct shared *sh)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE);
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Does the slot look exactly like slot slot->id of address space @as_id may? */
static bool slot_consistent(const struct kmmu_memory_slot *slot, int as_id)
{
	int id = slot->id;

	if (id < 0 || id >= NR_IDS || slot->as_id != as_id)
		return false;
	if (slot->base_gfn != (gfn_t)id * 64 && slot->base_gfn != (gfn_t)id * 64 + 32)
		return false;
	if (slot->npages != SLOT_PAGES)
		return false;
	if (slot->userspace_addr != HVA_BASE + (unsigned long)id * SLOT_PAGES * PG)
		return false;
	if (slot->flags & ~(KMMU_MEM_LOG_DIRTY_PAGES | KMMU_MEMSLOT_INVALID))
		return false;
	return true;
}

struct reader_arg {
	struct shared *sh;
	int as_id;
	uint64_t seed;
	struct reader_stats st;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	struct shared *sh = a->sh;
	uint64_t rs = a->seed, last_gen = 0;
	bool have_gen = false;

	urcu_memb_register_thread();
	while (!stopped(sh)) {
		struct kmmu_memslots *slots;
		struct kmmu_memory_slot *slot, *again, *prev;
		uint64_t gen, g;
		unsigned long h;
		int i, n;

		urcu_memb_read_lock();
		slots = kmmu_memslots_active(sh->vm, a->as_id);

		gen = kmmu_memslots_generation(slots);
		a->st.gens_seen++;
		if (gen & KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
			a->st.in_progress++;
		g = gen & ~KMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS;
		if ((g & 1) != (uint64_t)a->as_id)
			fail(sh, "as %d: generation %#" PRIx64 " of the other address space", a->as_id, gen);
		if (have_gen && g < last_gen)
			fail(sh, "as %d: generation went back %#" PRIx64 " -> %#" PRIx64,
			     a->as_id, last_gen, g);
		last_gen = g;
		have_gen = true;

		for (i = 0; i < 64; i++) {
			g = rnd(&rs) % (NR_IDS * 64 + 16);
			slot = kmmu_gfn_to_memslot(slots, g);
			a->st.lookups++;
			if (!slot)
				continue;
			a->st.hits++;
			if (!kmmu_gfn_in_memslot(slot, g) || !slot_consistent(slot, a->as_id)) {
				fail(sh, "gfn %#" PRIx64 ": slot %d [%#" PRIx64 ", +%lu) flags %#x is wrong",
				     g, slot->id, slot->base_gfn, slot->npages, slot->flags);
				break;
			}
			if (slot->flags & KMMU_MEMSLOT_INVALID)
				a->st.invalid_seen++;
			/* The set cannot change under a read-side critical section. */
			again = kmmu_search_memslots(slots, g, false);
			if (again != slot || kmmu_id_to_memslot(slots, slot->id) != slot) {
				fail(sh, "gfn %#" PRIx64 ": the set changed under the reader", g);
				break;
			}
		}

		/* A host range: every slot found overlaps it, in address order. */
		h = HVA_BASE + rnd(&rs) % ((NR_IDS + 1) * SLOT_PAGES * PG);
		n = 0;
		prev = NULL;
		kmmu_for_each_memslot_in_hva_range(slot, slots, h, h + 3 * PG) {
			unsigned long s_end = slot->userspace_addr + slot->npages * PG;

			if (!slot_consistent(slot, a->as_id) || slot->userspace_addr >= h + 3 * PG ||
			    s_end <= h || (prev && prev->userspace_addr > slot->userspace_addr) ||
			    ++n > 2) {
				fail(sh, "hva %#lx: slot %d does not belong", h, slot->id);
				break;
			}
			prev = slot;
		}
		a->st.hva_queries++;

		/* The whole set in gfn order: sorted, disjoint, consistent. */
		if (!(rnd(&rs) % 16)) {
			gfn_t end = 0;

			n = 0;
			kmmu_for_each_memslot(slot, slots) {
				if (!slot_consistent(slot, a->as_id) || slot->base_gfn < end ||
				    ++n > NR_IDS) {
					fail(sh, "set walk: slot %d out of place", slot->id);
					break;
				}
				end = slot->base_gfn + slot->npages;
			}
			if (n != (int)slots->nr_slots)
				fail(sh, "set walk: %d slots, nr_slots %u", n, slots->nr_slots);
		}
		urcu_memb_read_unlock();
	}
	urcu_memb_unregister_thread();
	return NULL;
}

/*
 * An MMU notifier: invalidate_range_start/end bracket the hva walk; a
 * memslot swap must not happen in between, so both walks see one set.
 */
static void *notifier(void *p)
{
	struct reader_arg *a = p;
	struct shared *sh = a->sh;
	uint64_t rs = a->seed;

	urcu_memb_register_thread();
	while (!stopped(sh)) {
		struct kmmu_memslots *first, *second;
		unsigned long h = HVA_BASE + rnd(&rs) % (NR_IDS * SLOT_PAGES * PG);

		kmmu_memslots_mn_invalidate_begin(sh->vm);
		urcu_memb_read_lock();
		first = kmmu_memslots_active(sh->vm, a->as_id);
		urcu_memb_read_unlock();
		for (volatile int spin = 0; spin < 2000; spin++)
			;
		urcu_memb_read_lock();
		second = kmmu_memslots_active(sh->vm, a->as_id);
		urcu_memb_read_unlock();
		kmmu_memslots_mn_invalidate_end(sh->vm);
		if (first != second)
			fail(sh, "memslots swapped inside an mmu notifier invalidation (hva %#lx)", h);
		a->st.hva_queries++;
	}
	urcu_memb_unregister_thread();
	return NULL;
}

TEST(readers_never_see_torn_memslots)
{
	const char *secs = getenv("KMMU_CONCURRENCY_SECONDS");
	const char *env = getenv("KMMU_SEED");
	double limit = secs ? atof(secs) : 2.0, start;
	struct shared sh = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct reader_arg ra[3];
	uint32_t flags[KMMU_ADDRESS_SPACE_NUM][NR_IDS] = {};
	int half[KMMU_ADDRESS_SPACE_NUM][NR_IDS] = {};
	bool live[KMMU_ADDRESS_SPACE_NUM][NR_IDS] = {};
	uint64_t seed, rs;
	long ops = 0;
	pthread_t t[3];
	int i;

	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	ksft_print_msg("seed %" PRIu64 " (replay: KMMU_SEED=%" PRIu64 ")\n", seed, seed);
	fflush(stdout);
	rs = seed;

	urcu_memb_register_thread();
	ASSERT_EQ(0, kmmu_memslots_init(&sh.vm, NULL, NULL, 0));
	for (i = 0; i < 3; i++) {
		ra[i] = (struct reader_arg){ .sh = &sh, .as_id = i == 1, .seed = seed + i + 1 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, i < 2 ? reader : notifier, &ra[i]));
	}

	/*
	 * Time-bounded, but never judged on too little work: a loaded or
	 * emulated machine (the stress runs this in a TCG VM next to other
	 * jobs) can take a second per grace period.  Go on until enough
	 * updates raced with the readers, up to a hard cap.
	 */
	start = kmmu_now();
	while (!stopped(&sh) && (kmmu_now() - start < limit || ops < MIN_RACED_UPDATES) &&
	       kmmu_now() - start < 30 * limit) {
		int as = rnd(&rs) % 4 ? 0 : 1, id = rnd(&rs) % NR_IDS, r, expect = 0;
		uint32_t slot = (uint32_t)as << 16 | id;
		unsigned long hva = HVA_BASE + (unsigned long)id * SLOT_PAGES * PG;

		if (!live[as][id]) {
			half[as][id] = rnd(&rs) & 1;
			flags[as][id] = rnd(&rs) & 1 ? KMMU_MEM_LOG_DIRTY_PAGES : 0;
			live[as][id] = true;
		} else {
			switch (rnd(&rs) % 3) {
			case 0:
				live[as][id] = false;
				break;
			case 1:
				half[as][id] ^= 1;
				break;
			case 2:
				flags[as][id] ^= KMMU_MEM_LOG_DIRTY_PAGES;
				break;
			}
		}
		r = kmmu_set_memory_region(sh.vm, slot, flags[as][id],
					   ((gfn_t)id * 64 + half[as][id] * 32) * PG,
					   live[as][id] ? SLOT_PAGES * PG : 0, hva);
		if (r != expect)
			fail(&sh, "update %d of slot %#x returned %d", (int)ops, slot, r);
		ops++;
	}
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);

	ksft_print_msg("%ld updates; readers: %ld lookups (%ld hits, %ld on INVALID slots), "
		       "%ld generations read (%ld in progress), %ld hva walks; %ld notifier brackets\n",
		       ops, ra[0].st.lookups + ra[1].st.lookups, ra[0].st.hits + ra[1].st.hits,
		       ra[0].st.invalid_seen + ra[1].st.invalid_seen,
		       ra[0].st.gens_seen + ra[1].st.gens_seen,
		       ra[0].st.in_progress + ra[1].st.in_progress,
		       ra[0].st.hva_queries + ra[1].st.hva_queries, ra[2].st.hva_queries);
	fflush(stdout);
	kmmu_memslots_destroy(sh.vm);
	urcu_memb_unregister_thread();
	EXPECT_EQ(0, sh.failed) TH_LOG("%s (seed %" PRIu64 ")", sh.why, seed);
	/* The readers must actually have raced with the updater. */
	EXPECT_LE(MIN_RACED_UPDATES, ops);
	EXPECT_LT(0, ra[0].st.hits);
	EXPECT_LT(0, ra[1].st.hits);
}

TEST_HARNESS_MAIN
