/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ms fixture of the memslot_test programs: a VM's memslots with the
 * hook recorder (memslot_hooks.h) as its arch side.  Teardown fails the
 * test if a hook saw something wrong or an arch blob leaked.  A header,
 * not a library file: the kselftest harness's fixtures belong to the
 * program that includes them.
 */
#ifndef KMMU_TESTS_MEMSLOT_FIXTURE_H
#define KMMU_TESTS_MEMSLOT_FIXTURE_H

#include <string.h>

#include <urcu/urcu-memb.h>

#include "kselftest_harness.h"
#include "memslot_hooks.h"

FIXTURE(ms) {
	struct rec rec;
	struct kmmu_vm_memslots *vm;
};

FIXTURE_SETUP(ms)
{
	urcu_memb_register_thread();
	memset(&self->rec, 0, sizeof(self->rec));
	ASSERT_EQ(0, kmmu_memslots_init(&self->vm, &rec_ops, &self->rec, 0));
	self->rec.vm = self->vm;
}

FIXTURE_TEARDOWN(ms)
{
	kmmu_memslots_destroy(self->vm);
	/* Every arch blob handed out was freed exactly once. */
	EXPECT_EQ(0, self->rec.arch.arch_live);
	EXPECT_EQ(0, self->rec.bad) TH_LOG("%s", self->rec.why);
	urcu_memb_unregister_thread();
}

#endif
