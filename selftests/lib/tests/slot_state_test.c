// SPDX-License-Identifier: GPL-2.0
/*
 * The slot-state seqlock's rules (kmmu/slot_state.h) without a VM: which
 * pairs of state words make an access exact, and which MMIO exits the
 * host-side check calls wrong; the host's publication and history.
 */
#include <string.h>

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

static const char *const names[] = { "none", "create", "flags" };

static int state_text(uint64_t s, char *buf, size_t len)
{
	return snprintf(buf, len, "seq %llu loc %llu", (unsigned long long)KMMU_SS_SEQ(s),
			(unsigned long long)(s & KMMU_SS_LOC_MASK));
}

static int op_text(const struct kmmu_ss_op *op, char *buf, size_t len)
{
	return snprintf(buf, len, ", arg %lld", (long long)op->arg);
}

TEST(vcpu_totals)
{
	struct kmmu_ss_vcpu a = { .mmio_count = 9, .reads = 1, .writes = 2, .mmio_reads = 3,
				  .mmio_writes = 4, .stable = 5, .racy = 6, .sweeps = 7 };
	struct kmmu_ss_vcpu sum = { 0 };

	kmmu_ss_vcpu_add(&sum, &a);
	kmmu_ss_vcpu_add(&sum, &a);
	ASSERT_EQ(2, sum.reads);
	ASSERT_EQ(4, sum.writes);
	ASSERT_EQ(6, sum.mmio_reads);
	ASSERT_EQ(8, sum.mmio_writes);
	ASSERT_EQ(10, sum.stable);
	ASSERT_EQ(12, sum.racy);
	ASSERT_EQ(14, sum.sweeps);
	/* The host's own bookkeeping is no total. */
	ASSERT_EQ(0, sum.mmio_count);
}

TEST(publish)
{
	struct kmmu_ss_host h = { 0 };
	struct kmmu_ucall_msg m = { .nr = KMMU_UCALL_FAIL, .nr_args = 4 };
	uint64_t state[2] = { 0 }, old, before, after, s, lc;
	char buf[512];

	ASSERT_EQ(0, kmmu_ss_host_init(&h, 2));
	h.state = state;
	h.op_names = names;
	h.state_text = state_text;
	h.op_text = op_text;
	clock_gettime(CLOCK_MONOTONIC, &h.t0);

	before = kmmu_ss_begin(&h, 1, 0, &old);
	ASSERT_EQ(0, old);
	ASSERT_EQ(KMMU_SS_STATE(1, 0), before);
	ASSERT_EQ(before, state[1]);
	after = kmmu_ss_end(&h, 1, before, KMMU_SS_HOME, 1, 0);
	ASSERT_EQ(KMMU_SS_STATE(2, KMMU_SS_HOME), after);
	ASSERT_EQ(after, state[1]);
	ASSERT_EQ(1, h.last_change[1]);

	/* A flags-only change is marked while it runs; a set adds 2. */
	before = kmmu_ss_begin(&h, 1, KMMU_SS_FLAGS_ONLY, &old);
	ASSERT_EQ(KMMU_SS_STATE(3, KMMU_SS_HOME | KMMU_SS_FLAGS_ONLY), before);
	kmmu_ss_end(&h, 1, before, KMMU_SS_HOME | 0x4, 2, -22);
	kmmu_ss_set(&h, 1, KMMU_SS_HOME, 2, 7);
	ASSERT_EQ(KMMU_SS_STATE(6, KMMU_SS_HOME), state[1]);
	ASSERT_EQ(2, h.last_change[1]);

	/* Exits after the snapshot of gseq 2 at home are wrong, before it are not. */
	h.run_gseq[0] = 1;
	ASSERT_FALSE(kmmu_ss_check_exit(&h, 0, 1, KMMU_SS_HOME, false, 0, &s, &lc, buf,
					sizeof(buf)));
	kmmu_ss_pre_run(&h, 0);
	ASSERT_TRUE(kmmu_ss_check_exit(&h, 0, 1, KMMU_SS_HOME, false, 0, &s, &lc, buf,
				       sizeof(buf)));
	ASSERT_EQ(2, lc);
	ASSERT_NE(NULL, strstr(buf, "slot 1 (memslot "));
	ASSERT_NE(NULL, strstr(buf, "[create at "));
	ASSERT_NE(NULL, strstr(buf, ": seq 1 loc 0 -> seq 2 loc 1, arg 0]"));
	ASSERT_NE(NULL, strstr(buf, ", arg -22]"));
	ASSERT_EQ(NULL, strstr(buf, "RACED"));

	/* The guest saw seq 2..4: the flags change (odd seq 3) raced. */
	m.args[1] = 1;
	m.args[2] = KMMU_SS_STATE(2, KMMU_SS_HOME);
	m.args[3] = KMMU_SS_STATE(4, KMMU_SS_HOME);
	buf[0] = 0;
	kmmu_ss_fail_context(&h, &m, "more; ", buf, sizeof(buf));
	ASSERT_EQ(0, strncmp(buf, "guest saw slot state seq 2 loc 1 before the access, seq 4 loc 1 after; more; slot 1",
			     strlen("guest saw slot state seq 2 loc 1 before the access, seq 4 loc 1 after; more; slot 1")));
	ASSERT_NE(NULL, strstr(buf, "[RACED flags at "));
	/* Not a FAIL of these helpers: nothing added. */
	m.args[1] = 2;
	buf[0] = 0;
	kmmu_ss_fail_context(&h, &m, "", buf, sizeof(buf));
	ASSERT_EQ(0, buf[0]);
	kmmu_ss_host_free(&h);
}

TEST_HARNESS_MAIN
