// SPDX-License-Identifier: GPL-2.0
/*
 * The fixture layer (kmmu/kvm_test_harness.h) and the runtime's two tiers,
 * where they need no KVM: a bad VM is refused before /dev/kvm is opened.
 * The asserting tier's failure is an ASSERT's, which jumps back to the
 * test it fails: KMMU_ASSERT_CALL() fails one made up for the purpose
 * (asserting_tier_any_call); kmmu_vm_create() on a bad VM prints "creating
 * the VM: bad vCPU count 65 (1..64)" and fails the test the same way.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A call of the err/len kind: fails with a message unless @ok. */
static int call_with_message(bool ok, char *err, size_t len)
{
	if (ok)
		return 0;
	snprintf(err, len, "the planted failure");
	return -EIO;
}

static bool asserting_call_returned;

static void assert_the_call(struct __test_metadata *_metadata, bool ok)
{
	KMMU_ASSERT_CALL(call_with_message, ok);
	asserting_call_returned = true;
}

/*
 * KMMU_ASSERT_CALL(): on success it goes on; on failure it fails the test
 * there (the harness's ASSERT jumps back to the test) with the call's own
 * message.  The failing test is one of this test's, its log a file.
 */
TEST(asserting_tier_any_call)
{
	struct __test_metadata inner = { .name = "inner", .passed = 1 };
	char path[] = "/tmp/kvm_test_harness_test_XXXXXX", log[512] = "";
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, saved);
	assert_the_call(_metadata, true);
	ASSERT_TRUE(asserting_call_returned);

	asserting_call_returned = false;
	fflush(stderr);
	dup2(fd, 2);
	if (!setjmp(inner.env))
		assert_the_call(&inner, false);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, log, sizeof(log) - 1, 0);
	close(fd);
	unlink(path);
	ASSERT_FALSE(asserting_call_returned);
	ASSERT_TRUE(inner.aborted);
	ASSERT_EQ(0, inner.passed);
	ASSERT_LT(0, n);
	ASSERT_NE(NULL, strstr(log, "the planted failure")) TH_LOG("%s", log);
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
