// SPDX-License-Identifier: GPL-2.0
/*
 * The slot-state seqlock's rules (kmmu/slot_state.h) without a VM: which
 * pairs of state words make an access exact, and which MMIO exits the
 * host-side check calls wrong.
 */
#include "kselftest_harness.h"
#include "kmmu/slot_state.h"

#define RO	0x4ULL

TEST(stable)
{
	uint64_t home = KMMU_SS_STATE(4, KMMU_SS_HOME);

	ASSERT_TRUE(kmmu_ss_stable(home, home));
	/* An ioctl started before, during or after the access: racy. */
	ASSERT_FALSE(kmmu_ss_stable(KMMU_SS_STATE(5, KMMU_SS_HOME), KMMU_SS_STATE(5, KMMU_SS_HOME)));
	ASSERT_FALSE(kmmu_ss_stable(home, KMMU_SS_STATE(5, KMMU_SS_HOME)));
	ASSERT_FALSE(kmmu_ss_stable(home, KMMU_SS_STATE(6, KMMU_SS_ALT)));
	/* Only a flags-only change overlapped: still exact. */
	ASSERT_TRUE(kmmu_ss_stable(home, KMMU_SS_STATE(5, KMMU_SS_HOME | KMMU_SS_FLAGS_ONLY)));
	ASSERT_TRUE(kmmu_ss_stable(KMMU_SS_STATE(5, KMMU_SS_HOME | KMMU_SS_FLAGS_ONLY),
				   KMMU_SS_STATE(6, KMMU_SS_HOME)));
	ASSERT_FALSE(kmmu_ss_stable(KMMU_SS_STATE(5, KMMU_SS_HOME | KMMU_SS_FLAGS_ONLY),
				    KMMU_SS_STATE(7, KMMU_SS_HOME)));
}

TEST(place)
{
	uint64_t i = ~0ULL;

	ASSERT_EQ(KMMU_SS_HOME, kmmu_ss_place(0x10000 + 3 * 4096 + 8, 0x10000, 0x40000000,
					      16 * 4096, &i));
	ASSERT_EQ(3, i);
	ASSERT_EQ(KMMU_SS_ALT, kmmu_ss_place(0x40000000 + 15 * 4096, 0x10000, 0x40000000,
					     16 * 4096, &i));
	ASSERT_EQ(15, i);
	ASSERT_EQ(KMMU_SS_ABSENT, kmmu_ss_place(0x10000 + 16 * 4096, 0x10000, 0x40000000,
						16 * 4096, &i));
}

TEST(exit_wrong)
{
	uint64_t home = KMMU_SS_STATE(4, KMMU_SS_HOME);

	ASSERT_TRUE(kmmu_ss_exit_wrong(home, 7, 7, KMMU_SS_HOME, false, RO));
	/* Changed after KVM_RUN began, elsewhere, or changing: allowed. */
	ASSERT_FALSE(kmmu_ss_exit_wrong(home, 8, 7, KMMU_SS_HOME, false, RO));
	ASSERT_FALSE(kmmu_ss_exit_wrong(home, 7, 7, KMMU_SS_ALT, false, RO));
	ASSERT_FALSE(kmmu_ss_exit_wrong(KMMU_SS_STATE(5, KMMU_SS_HOME), 7, 7, KMMU_SS_HOME,
					false, RO));
	ASSERT_TRUE(kmmu_ss_exit_wrong(KMMU_SS_STATE(5, KMMU_SS_HOME | KMMU_SS_FLAGS_ONLY), 7, 7,
				       KMMU_SS_HOME, false, RO));
	/* A store to a read-only slot must exit. */
	ASSERT_FALSE(kmmu_ss_exit_wrong(KMMU_SS_STATE(4, KMMU_SS_HOME | RO), 7, 7, KMMU_SS_HOME,
					true, RO));
	ASSERT_TRUE(kmmu_ss_exit_wrong(KMMU_SS_STATE(4, KMMU_SS_HOME | RO), 7, 7, KMMU_SS_HOME,
				       false, RO));
}

TEST(exit_done)
{
	struct kmmu_ss_vcpu ss = { 0 };
	uint64_t data = 0;

	kmmu_ss_exit_done(&ss, 0x1008, (uint8_t *)&data, false);
	ASSERT_EQ(KMMU_SS_POISON, data);
	ASSERT_EQ(0x1008, ss.mmio_last_gpa);
	ASSERT_EQ(1, ss.mmio_count);
	data = 5;
	kmmu_ss_exit_done(&ss, 0x2008, (uint8_t *)&data, true);
	ASSERT_EQ(5, data);
	ASSERT_EQ(2, ss.mmio_count);
}

TEST_HARNESS_MAIN
