// SPDX-License-Identifier: GPL-2.0
/*
 * The host's check of an MMIO exit in a region of one-page slots
 * (kmmu/slot_exit.h) without a VM: which exits it lets through, and what
 * it says of the one it calls wrong.
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kmmu/slot_exit.h"

#define RO	0x4ULL

static int state_text(uint64_t s, char *buf, size_t len)
{
	return snprintf(buf, len, "seq %llu%s", (unsigned long long)KMMU_SS_SEQ(s),
			s & RO ? " ro" : "");
}

static int op_text(const struct kmmu_ss_op *op, char *buf, size_t len)
{
	return snprintf(buf, len, ", ret %d", (int)op->arg);
}

static const char *const names[] = { "none", "create", "move" };

static const struct kmmu_slot_exit_rules rules = {
	.home_gpa = 0x10000, .alt_gpa = 0x40000000, .size = 2 * 4096, .ro = RO,
	.outside = "the region", .mapped = "present",
};

FIXTURE(slots) {
	struct kmmu_ss_host h;
	uint64_t state[2];
	char why[2048];
};

/* Slot 1 created at home; then vCPU 0 enters KVM_RUN. */
FIXTURE_SETUP(slots)
{
	uint64_t old, before;

	memset(self->state, 0, sizeof(self->state));
	ASSERT_EQ(0, kmmu_ss_host_init(&self->h, 2));
	self->h.state = self->state;
	self->h.op_names = names;
	self->h.state_text = state_text;
	self->h.op_text = op_text;
	clock_gettime(CLOCK_MONOTONIC, &self->h.t0);
	before = kmmu_ss_begin(&self->h, 1, 0, &old);
	kmmu_ss_end(&self->h, 1, before, KMMU_SS_HOME, 1, 0);
	kmmu_ss_pre_run(&self->h, 0);
}

FIXTURE_TEARDOWN(slots)
{
	kmmu_ss_host_free(&self->h);
}

TEST_F(slots, mapped_since_before_run)
{
	uint64_t gpa = rules.home_gpa + 4096;

	ASSERT_EQ(-EINVAL, __kmmu_slot_exit_check(&rules, &self->h, 0, gpa, 1, KMMU_SS_HOME,
						  false, self->why, sizeof(self->why)));
	ASSERT_NE(NULL, strstr(self->why, "MMIO exit (load) at gpa 0x11000 of slot 1, which has been present there (seq 2) since gseq 1, before this KVM_RUN began (gseq 1); "))
		TH_LOG("%s", self->why);
	/* The history names the ioctl that put it there. */
	ASSERT_NE(NULL, strstr(self->why, "create")) TH_LOG("%s", self->why);
}

TEST_F(slots, other_place_or_changed_since)
{
	uint64_t old, before;

	/* Not at alt: the exit is what KVM must do. */
	ASSERT_EQ(0, __kmmu_slot_exit_check(&rules, &self->h, 0, rules.alt_gpa + 4096, 1,
					    KMMU_SS_ALT, false, self->why, sizeof(self->why)));
	/* Moved away and back during this KVM_RUN: a stale exit may race. */
	before = kmmu_ss_begin(&self->h, 1, 0, &old);
	kmmu_ss_end(&self->h, 1, before, KMMU_SS_ALT, 2, 0);
	before = kmmu_ss_begin(&self->h, 1, 0, &old);
	kmmu_ss_end(&self->h, 1, before, KMMU_SS_HOME, 2, 0);
	ASSERT_EQ(0, __kmmu_slot_exit_check(&rules, &self->h, 0, rules.home_gpa + 4096, 1,
					    KMMU_SS_HOME, false, self->why, sizeof(self->why)));
	/* ... until the next KVM_RUN. */
	kmmu_ss_pre_run(&self->h, 0);
	ASSERT_EQ(-EINVAL, __kmmu_slot_exit_check(&rules, &self->h, 0, rules.home_gpa + 4096, 1,
						  KMMU_SS_HOME, false, self->why,
						  sizeof(self->why)));
}

TEST_F(slots, read_only)
{
	uint64_t old, before;

	before = kmmu_ss_begin(&self->h, 1, KMMU_SS_FLAGS_ONLY, &old);
	kmmu_ss_end(&self->h, 1, before, KMMU_SS_HOME | RO, 2, 0);
	kmmu_ss_pre_run(&self->h, 0);
	/* A store to a read-only slot must exit; a load must not. */
	ASSERT_EQ(0, __kmmu_slot_exit_check(&rules, &self->h, 0, rules.home_gpa + 4096, 1,
					    KMMU_SS_HOME, true, self->why, sizeof(self->why)));
	ASSERT_EQ(-EINVAL, __kmmu_slot_exit_check(&rules, &self->h, 0, rules.home_gpa + 4096, 1,
						  KMMU_SS_HOME, false, self->why,
						  sizeof(self->why)));
	ASSERT_NE(NULL, strstr(self->why, "(seq 4 ro)")) TH_LOG("%s", self->why);
}

TEST_HARNESS_MAIN
