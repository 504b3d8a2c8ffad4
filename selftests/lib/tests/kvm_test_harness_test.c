// SPDX-License-Identifier: GPL-2.0
/*
 * The fixture layer (kmmu/kvm_test_harness.h) and the runtime's two tiers,
 * where they need no KVM: a bad VM is refused before /dev/kvm is opened.
 * (The asserting tier's failure is an ASSERT's: the 6.1 harness reports
 * its abort as a failure even to TEST_SIGNAL(, SIGABRT), so it is not
 * tested here; kmmu_vm_create() on a bad VM prints "creating the VM: bad
 * vCPU count 65 (1..64)" and fails the test.)
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"

/* The __ tier returns -errno and says why. */
TEST(returning_tier)
{
	struct kmmu_vm_opts bad = { .nr_vcpus = 0 };
	struct kmmu_vm *vm = (struct kmmu_vm *)&bad;
	char err[128] = "";

	ASSERT_EQ(-EINVAL, __kmmu_vm_create(&vm, &bad, err, sizeof(err)));
	ASSERT_EQ(NULL, vm);
	ASSERT_NE(NULL, strstr(err, "bad vCPU count 0"));
}

FIXTURE(skipped) {
	int setup_done;
};

FIXTURE_SETUP(skipped)
{
	self->setup_done = 1;
}

FIXTURE_TEARDOWN(skipped)
{
}

/* KMMU_TEST_F runs its body after a setup that did not SKIP. */
KMMU_TEST_F(skipped, body_runs, 30)
{
	ASSERT_EQ(1, self->setup_done);
}

TEST_HARNESS_MAIN
