// SPDX-License-Identifier: GPL-2.0
/*
 * guest_pte_test: the Accessed and Dirty bits of the guest's own page
 * tables, as the MMU must keep them.
 *
 * A guest OS reads the Dirty bit of its PTEs to know which pages to write
 * back (file pages, its own dirty tracking) and the Accessed bit to age
 * them.  With TDP the CPU's walker sets them; with a shadow MMU nobody
 * but KVM does: FNAME(walk_addr_generic) sets Accessed on every fault and
 * Dirty on a write fault, and for that a read fault through a writable PTE
 * whose Dirty bit is clear must install a read-only SPTE
 * (FNAME(protect_clean_gpte)), so that the first write faults again and
 * sets Dirty.  An MMIO access is emulated and walks the guest page tables
 * in KVM too (the emulator's gva_to_gpa, or the MMIO SPTE's cached
 * permissions, which must not include a write a clean PTE did not allow).
 *
 * The guest maps, with Accessed and Dirty clear in every leaf
 * (KMMU_MAP_NO_AD), 4K pages and 2M pages of a memslot and 4K pages of
 * an unbacked range (MMIO), and touches each in one pattern of its class:
 * read then write, write only, read only, untouched.  After each phase
 * the host reads the leaf entries in guest memory: a page read must have
 * Accessed set and Dirty clear; written, both set; untouched, both clear.
 * Then the host moves the slot away and back (every SPTE of it is zapped,
 * and the MMIO SPTEs are stale with the new memslot generation) and the
 * guest reads, then writes, the pages it had only read: their PTEs are
 * Accessed and clean now, the case where KVM must again map the page
 * read-only on the read so that the write sets Dirty.
 *
 * The host's view of the guest page tables is the system slot's memory,
 * which KVM and the CPU write into (kmmu_vm_guest_leaf()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"

#define PTE_4K_GPA	KMMU_GPA_TEST			/* 2M of 4K leaves */
#define PTE_2M_GPA	(KMMU_GPA_TEST + (2ULL << 20))	/* 4 x 2M leaves */
#define PTE_SLOT_SIZE	(10ULL << 20)
#define PTE_MOVED_GPA	(KMMU_GPA_TEST + (1ULL << 30))
#define PTE_MMIO_GPA	(KMMU_GPA_TEST + (2ULL << 30))	/* mapped, never backed */
#define PTE_SLOT	KMMU_SLOT_FIRST_FREE

#define PTE_NR_4K	64	/* of the 512 in the 4K range */
#define PTE_NR_2M	4
#define PTE_NR_MMIO	8

/* What the guest does with a page, by its index modulo 4. */
enum pte_class {
	PTE_READ_WRITE,		/* read in phase 1, written in phase 2 */
	PTE_WRITE,		/* written in phase 1 */
	PTE_READ,		/* read in phases 1, 2 and 3, written in phase 4 */
	PTE_UNTOUCHED,
};

static const char *const pte_class_names[] = {
	"read then written", "written", "read only", "untouched",
};

/* One range the guest touches. */
struct pte_range {
	const char *name;
	uint64_t gva;
	uint64_t stride;
	int nr;
};

static const struct pte_range pte_ranges[] = {
	{ "4K page of the slot", PTE_4K_GPA, KMMU_PAGE_SIZE, PTE_NR_4K },
	{ "2M page of the slot", PTE_2M_GPA, KMMU_HPAGE_SIZE, PTE_NR_2M },
	{ "4K MMIO page", PTE_MMIO_GPA, KMMU_PAGE_SIZE, PTE_NR_MMIO },
};
#define PTE_NR_RANGES	(sizeof(pte_ranges) / sizeof(pte_ranges[0]))

FIXTURE(pte) {
	struct kmmu_test_run run;	/* the VM is run.vm */
	struct kmmu_mem mem;
	char bad[2048];			/* the first wrong leaves, for the log */
	int nr_bad;
};

/* ---- the guest ---- */

static void g_touch(int phase)
{
	unsigned int r;
	int i;

	for (r = 0; r < PTE_NR_RANGES; r++) {
		const struct pte_range *pr = &pte_ranges[r];

		for (i = 0; i < pr->nr; i++) {
			volatile uint64_t *p = (volatile uint64_t *)(pr->gva + i * pr->stride);
			enum pte_class c = i % 4;

			if ((c == PTE_READ && phase <= 3) || (c == PTE_READ_WRITE && phase == 1))
				(void)*p;
			else if ((c == PTE_WRITE && phase == 1) ||
				 (c == PTE_READ_WRITE && phase == 2) ||
				 (c == PTE_READ && phase == 4))
				*p = i + 1;
		}
	}
}

/* SYNC(n): check the leaves after phase n; SYNC(0): move the slot away and back. */
static void g_pte(uint32_t id, void *arg)
{
	g_touch(1);
	GUEST_SYNC(1);
	g_touch(2);
	GUEST_SYNC(2);
	GUEST_SYNC(0);
	g_touch(3);
	GUEST_SYNC(3);
	g_touch(4);
	GUEST_SYNC(4);
}

/* ---- the host ---- */

/* The Accessed and Dirty bits phase @phase must have left in page @i's leaf. */
static uint64_t pte_want(uint64_t phase, int i)
{
	switch (i % 4) {
	case PTE_READ_WRITE:
		return phase == 1 ? KMMU_PTE_A : KMMU_PTE_A | KMMU_PTE_D;
	case PTE_WRITE:
		return KMMU_PTE_A | KMMU_PTE_D;
	case PTE_READ:
		return phase < 4 ? KMMU_PTE_A : KMMU_PTE_A | KMMU_PTE_D;
	default:
		return 0;
	}
}

/* Moves the slot away and back: a MOVE zaps its SPTEs, twice. */
static uint64_t pte_move_away_and_back(struct kmmu_vcpu *vcpu)
{
	struct kmmu_vm *vm = kmmu_vcpu_vm(vcpu);
	int r = kmmu_slot_move(vm, PTE_SLOT, PTE_MOVED_GPA);

	if (!r)
		r = kmmu_slot_move(vm, PTE_SLOT, PTE_4K_GPA);
	if (r)
		kmmu_vcpu_fail(vcpu, "moving the slot: %s", strerror(-r));
	return 0;
}

static uint64_t h_check(struct kmmu_vcpu *vcpu, uint64_t phase, void *ctx)
{
	FIXTURE_DATA(pte) *self = ctx;
	struct kmmu_vm *vm = kmmu_vcpu_vm(vcpu);
	size_t off = strlen(self->bad);
	unsigned int r;
	int i, level;

	if (!phase)
		return pte_move_away_and_back(vcpu);
	for (r = 0; r < PTE_NR_RANGES; r++) {
		const struct pte_range *pr = &pte_ranges[r];

		for (i = 0; i < pr->nr; i++) {
			uint64_t gva = pr->gva + i * pr->stride, leaf, want, got;

			if (kmmu_vm_guest_leaf(vm, gva, &leaf, &level)) {
				kmmu_vcpu_fail(vcpu, "no guest leaf for %#llx", (unsigned long long)gva);
				return 0;
			}
			want = pte_want(phase, i);
			got = leaf & (KMMU_PTE_A | KMMU_PTE_D);
			if (got == want)
				continue;
			if (self->nr_bad++ < 8 && off < sizeof(self->bad))
				off += snprintf(self->bad + off, sizeof(self->bad) - off,
						"\n  after phase %llu: %s %#llx (%s, level %d): A=%d D=%d, want A=%d D=%d (leaf %#llx)",
						(unsigned long long)phase, pr->name,
						(unsigned long long)gva, pte_class_names[i % 4], level,
						!!(got & KMMU_PTE_A), !!(got & KMMU_PTE_D),
						!!(want & KMMU_PTE_A), !!(want & KMMU_PTE_D),
						(unsigned long long)leaf);
		}
	}
	return 0;
}

static int h_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		  bool is_write, void *ctx)
{
	if (!is_write)
		memset(data, 0x5a, len);
	return 0;
}

FIXTURE_SETUP(pte)
{
	struct kmmu_vm_opts o = { .nr_vcpus = 1 };

	self->mem.fd = -1;
	KMMU_TEST_SETUP(&self->run, NULL);
	kmmu_vm_create(&self->run.vm, &o);
	kmmu_vm_map(self->run.vm, PTE_4K_GPA, PTE_4K_GPA, 2ULL << 20,
		    KMMU_MAP_WRITE | KMMU_MAP_NX | KMMU_MAP_NO_AD);
	kmmu_vm_map(self->run.vm, PTE_2M_GPA, PTE_2M_GPA, PTE_NR_2M * KMMU_HPAGE_SIZE,
		    KMMU_MAP_WRITE | KMMU_MAP_NX | KMMU_MAP_HUGE | KMMU_MAP_NO_AD);
	kmmu_vm_map(self->run.vm, PTE_MMIO_GPA, PTE_MMIO_GPA, PTE_NR_MMIO * KMMU_PAGE_SIZE,
		    KMMU_MAP_WRITE | KMMU_MAP_NX | KMMU_MAP_NO_AD);
	ASSERT_EQ(0, kmmu_mem_alloc(&self->mem, PTE_SLOT_SIZE, KMMU_BACKING_MEMFD, -1));
	kmmu_slot_add(self->run.vm, PTE_SLOT, PTE_4K_GPA, PTE_SLOT_SIZE, self->mem.hva, 0);
}

FIXTURE_TEARDOWN(pte)
{
	if (!self->run.started)
		return;
	KMMU_TEST_END(&self->run);
	kmmu_mem_free(&self->mem);
}

KMMU_TEST_F(pte, accessed_dirty, 120)
{
	struct kmmu_vm_handlers h = { .sync = h_check, .mmio = h_mmio, .ctx = self };
	uint64_t leaf;
	int level;

	/* The builder gave the 2M range 2M leaves: else it tests nothing new. */
	ASSERT_EQ(0, kmmu_vm_guest_leaf(self->run.vm, PTE_2M_GPA, &leaf, &level));
	ASSERT_EQ(2, level);
	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_pte, NULL);
	kmmu_vm_wait(self->run.vm, 60);
	ASSERT_EQ(0, self->nr_bad) TH_LOG("%d guest leaves with wrong Accessed/Dirty bits:%s",
					  self->nr_bad, self->bad);
}

/* Without /dev/kvm, KMMU_TEST_SETUP() SKIPs the test with the reason. */
int main(int argc, char **argv)
{
	struct kmmu_run_opts run = { .cli = { kmmu_usage_no_options, NULL } };

	kmmu_run_parse(&run, "guest_pte_test", &argc, argv);
	return test_harness_run(argc, argv);
}
