/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host's check of a vCPU's MMIO exit in a region of one-page memslots
 * that each live at "home", at "alt" or nowhere (kmmu/slot_state.h), as
 * memslot_churn_test and mmio_invalidation_test judge it: an exit must
 * land in one of the two places, on this vCPU's own word of a slot page,
 * and the slot must not have been mapped at that place since before the
 * vCPU's KVM_RUN began.  The tests differ only in how they name things
 * and which state flag makes a slot read-only (a store to it must exit).
 *
 * Two tiers: __kmmu_slot_exit_check() returns -errno with the reason,
 * kmmu_slot_exit_check() is the vCPU handler's: it fails the vCPU.
 */
#ifndef KMMU_SLOT_EXIT_H
#define KMMU_SLOT_EXIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmmu/slot_state.h"

struct kmmu_vcpu;

struct kmmu_slot_exit_rules {
	uint64_t home_gpa, alt_gpa;	/* the region's two places */
	uint64_t size;			/* bytes of each place: 4096 per slot */
	uint64_t ro;			/* the state flag of a read-only slot, or 0 */
	const char *outside;		/* what an exit outside both places may have hit */
	const char *mapped;		/* what a slot at its place is: "present", "RAM" */
};

/*
 * Judges an exit by vCPU @vcpu at @gpa, place @at (KMMU_SS_HOME or
 * KMMU_SS_ALT) of slot @i, against the state words of @ss: 0 if KVM may
 * exit there, -EINVAL with the slot's state and history in @why if the
 * slot has been mapped there since before the vCPU's KVM_RUN began.
 */
int __kmmu_slot_exit_check(const struct kmmu_slot_exit_rules *r, struct kmmu_ss_host *ss,
			   int vcpu, uint64_t gpa, uint64_t i, uint64_t at, bool is_write,
			   char *why, size_t len);

/*
 * The whole check, for a vCPU's MMIO handler: 0 with the slot in *@i and
 * its place in *@at, or -1 after kmmu_vcpu_fail() with the reason.
 */
int kmmu_slot_exit_check(const struct kmmu_slot_exit_rules *r, struct kmmu_ss_host *ss,
			 struct kmmu_vcpu *vcpu, uint64_t gpa, uint32_t len, bool is_write,
			 uint64_t *i, uint64_t *at);

#endif
