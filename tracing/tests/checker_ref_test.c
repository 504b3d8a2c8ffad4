// SPDX-License-Identifier: GPL-2.0
/*
 * The reference MMU in the checker's loop: the judgements the checker
 * takes from ref/'s VM rather than from rules of its own, each shown on
 * a real trace altered in one record (the bug it must flag) and on benign
 * alterations it must pass, and on small hand-made histories where a real
 * trace has no such event.
 *
 * tracing/fixtures/huge-tdp-6.1.kmmutrace is huge_mapping_test's
 * invalid_memslots run on Debian's 6.1 with the TDP MMU (kvm_amd, NPT),
 * from the corpus the nightly keeps: slot 0:2 (gpa 4 GiB, 4 MiB, host
 * memory 2M-aligned) is mapped with 2M SPTEs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>

#include "checker_history.h"
#include "kmmu/trace_file.h"

#define HUGE_FIXTURE	"huge-tdp-6.1.kmmutrace"
#define HUGE_SLOT	2		/* the slot with the 2M SPTEs */

/* tracing/fixtures/@file (or in $KMMU_FIXTURE_DIR); 0 or -errno with @err. */
static int read_fixture(const char *file, struct kmmu_trace_file *tf, char *err, size_t len)
{
	const char *dir = getenv("KMMU_FIXTURE_DIR");
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tracing/fixtures", file);
	return kmmu_trace_file_read(path, tf, err, len);
}

FIXTURE(huge) {
	struct kmmu_trace_file tf;
	struct kmmu_check_result res;
	int64_t create;			/* the record creating HUGE_SLOT */
};

FIXTURE_SETUP(huge)
{
	char err[512];

	ASSERT_EQ(0, read_fixture(HUGE_FIXTURE, &self->tf, err, sizeof(err)))
		TH_LOG("%s (run from the repository root or set KMMU_FIXTURE_DIR)", err);
	self->create = -1;
	for (uint64_t i = 0; i < self->tf.nr && self->create < 0; i++) {
		const struct kmmu_trace_record *r = &self->tf.recs[i];

		if (r->type == KMMU_ACT_SET_MEMSLOT && r->memslot.slot == HUGE_SLOT &&
		    r->memslot.size && !r->memslot.ret)
			self->create = i;
	}
	ASSERT_LE(0, self->create) TH_LOG("slot %d is never created in the fixture", HUGE_SLOT);
}

FIXTURE_TEARDOWN(huge)
{
	kmmu_trace_file_free(&self->tf);
}

static struct kmmu_trace_record *huge_create(struct _test_data_huge *self)
{
	return &self->tf.recs[self->create];
}

/* The fixture (as altered) replays without a divergence, huge SPTEs judged. */
static void expect_clean(struct __test_metadata *_metadata, struct _test_data_huge *self)
{
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(KMMU_CHECK_PASS, kmmu_check_verdict(&self->res, KMMU_PROP_HUGE_ALLOWED));
	EXPECT_LE(10, self->res.checked[KMMU_PROP_HUGE_ALLOWED]);
}

/* HUGE_ALLOWED fails, and only it, with a report saying @says. */
static void expect_huge_flagged(struct __test_metadata *_metadata, struct _test_data_huge *self,
				const char *says)
{
	ASSERT_EQ(0, kmmu_check(self->tf.recs, self->tf.nr, NULL, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_HUGE_ALLOWED));
	EXPECT_EQ(self->res.divergences[KMMU_PROP_HUGE_ALLOWED], self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_NE(NULL, strstr(self->res.first_divergence, says)) {
		TH_LOG("%s", self->res.first_divergence);
	}
}

TEST_F(huge, replays_clean)
{
	expect_clean(_metadata, self);
}

/*
 * The slot's host memory 4K off the 2M alignment of its gfns: the
 * reference's lpage_info allows no 2M page in it, so every 2M SPTE the
 * kernel installed there is one the reference's fault would not make.
 */
TEST_F(huge, planted_misaligned_host_memory)
{
	huge_create(self)->memslot.hva += 0x1000;
	expect_huge_flagged(_metadata, self, "the reference maps gfn");
}

/* The slot created with dirty logging: the reference maps it 4K only. */
TEST_F(huge, planted_dirty_logging)
{
	huge_create(self)->memslot.flags |= KVM_MEM_LOG_DIRTY_PAGES;
	expect_huge_flagged(_metadata, self, "logs dirty pages");
}

/* Benign: the host memory moved by 2M keeps gfns and hvas aligned alike. */
TEST_F(huge, benign_host_memory_moved_by_2m)
{
	huge_create(self)->memslot.hva += 0x200000;
	expect_clean(_metadata, self);
}

/*
 * The reference VM refuses a slot beyond the guest physical address space
 * (x86's kvm_mmu_max_gfn() check in kvm_arch_prepare_memory_region()), as
 * the kernel does: a kernel's -EINVAL there is right, a 0 is not.  The
 * reference memslots alone lacked that check, so huge_mapping_test's
 * refusals there showed as divergences.  (The chk fixture: slot 0 at gfn
 * 0x100, one SPTE; checker_history.h.)
 */
#define BEYOND_GFN	(1ull << 40)	/* gpa 2^52: beyond any MAXPHYADDR */

TEST_F(chk, slot_beyond_the_address_space_refused)
{
	memslot(&self->h, 1, BEYOND_GFN, 4, 0, -EINVAL);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_MEMSLOT_RESULT]);
}

TEST_F(chk, slot_beyond_the_address_space_accepted)
{
	memslot(&self->h, 1, BEYOND_GFN, 4, 0, 0);
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(KMMU_CHECK_FAIL, kmmu_check_verdict(&self->res, KMMU_PROP_MEMSLOT_RESULT));
	EXPECT_NE(NULL, strstr(self->res.first_divergence, "the reference returns -22"));
}

/* A 2M SPTE at the first 2M of a slot whose base is not 2M-aligned. */
TEST_F(chk, huge_spte_at_an_unaligned_slot_base)
{
	/* gfns 0x1ff-0x5ff, host memory aligned alike */
	memslot(&self->h, 1, 0x1ff, 0x401, 0, 0)->memslot.hva -= 0x1000;
	set_spte_at(&self->h, 0x200, 2, leaf(0x3000, 2, true));	/* allowed */
	set_spte_at(&self->h, 0x400, 2, leaf(0x3200, 2, true));	/* allowed */
	ASSERT_EQ(0, check(&self->h, &self->res));
	EXPECT_EQ(0, self->res.nr_divergences) {
		TH_LOG("%s", self->res.first_divergence);
	}
	EXPECT_EQ(2, self->res.checked[KMMU_PROP_HUGE_ALLOWED]);
}

TEST_HARNESS_MAIN
