// SPDX-License-Identifier: GPL-2.0
/*
 * The host's check of an MMIO exit in a region of one-page memslots at
 * two places (kmmu/slot_exit.h).
 */
#include <errno.h>
#include <stdio.h>

#include "kmmu/kvm_vm.h"
#include "kmmu/slot_exit.h"

int __kmmu_slot_exit_check(const struct kmmu_slot_exit_rules *r, struct kmmu_ss_host *ss,
			   int vcpu, uint64_t gpa, uint64_t i, uint64_t at, bool is_write,
			   char *why, size_t len)
{
	uint64_t s, lc;
	char hist[1024], st[80];

	if (!kmmu_ss_check_exit(ss, vcpu, i, at, is_write, r->ro, &s, &lc, hist, sizeof(hist)))
		return 0;
	ss->state_text(s, st, sizeof(st));
	snprintf(why, len, "MMIO exit (%s) at gpa %#llx of slot %llu, which has been %s there (%s) since gseq %llu, before this KVM_RUN began (gseq %llu); %s",
		 is_write ? "store" : "load", (unsigned long long)gpa, (unsigned long long)i,
		 r->mapped, st, (unsigned long long)lc,
		 (unsigned long long)ss->run_gseq[vcpu], hist);
	return -EINVAL;
}

int kmmu_slot_exit_check(const struct kmmu_slot_exit_rules *r, struct kmmu_ss_host *ss,
			 struct kmmu_vcpu *vcpu, uint64_t gpa, uint32_t len, bool is_write,
			 uint64_t *i, uint64_t *at)
{
	char why[2048];		/* as long as a vCPU's error: cut where it was */

	*at = kmmu_ss_place(gpa, r->home_gpa, r->alt_gpa, r->size, i);
	if (*at == KMMU_SS_ABSENT) {
		kmmu_vcpu_fail(vcpu, "MMIO %s of %u bytes at gpa %#llx, outside %s",
			       is_write ? "store" : "load", len, (unsigned long long)gpa,
			       r->outside);
		return -1;
	}
	if (!kmmu_ss_own_word(vcpu, gpa, len, is_write, *i))
		return -1;
	if (__kmmu_slot_exit_check(r, ss, kmmu_vcpu_id(vcpu), gpa, *i, *at, is_write,
				   why, sizeof(why))) {
		kmmu_vcpu_fail(vcpu, "%s", why);
		return -1;
	}
	return 0;
}
