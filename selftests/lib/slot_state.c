// SPDX-License-Identifier: GPL-2.0
/*
 * Host side of the slot-state protocol (see kmmu/slot_state.h).
 */
#include <string.h>

#include "kmmu/kvm_vm.h"
#include "kmmu/slot_state.h"

uint64_t kmmu_ss_place(uint64_t gpa, uint64_t home, uint64_t alt, uint64_t size,
		       uint64_t *i)
{
	if (gpa >= home && gpa < home + size) {
		*i = (gpa - home) / 4096;
		return KMMU_SS_HOME;
	}
	if (gpa >= alt && gpa < alt + size) {
		*i = (gpa - alt) / 4096;
		return KMMU_SS_ALT;
	}
	return KMMU_SS_ABSENT;
}

bool kmmu_ss_own_word(struct kmmu_vcpu *vcpu, uint64_t gpa, uint32_t len, bool is_write,
		      uint64_t i)
{
	if (len == 8 && (gpa & 4095) == (uint64_t)kmmu_vcpu_id(vcpu) * 8)
		return true;
	kmmu_vcpu_fail(vcpu, "MMIO %s of %u bytes at gpa %#llx: not this vCPU's word of slot %llu",
		       is_write ? "store" : "load", len, (unsigned long long)gpa,
		       (unsigned long long)i);
	return false;
}

bool kmmu_ss_exit_wrong(uint64_t s, uint64_t last_change, uint64_t run_gseq, uint64_t at,
			bool is_write, uint64_t ro)
{
	/* Present since before KVM_RUN: stable, or only a flags-only change started since. */
	return (!(KMMU_SS_SEQ(s) & 1) || (s & KMMU_SS_FLAGS_ONLY)) && last_change <= run_gseq &&
	       (s & KMMU_SS_LOC_MASK) == at && !(is_write && (s & ro));
}

void kmmu_ss_exit_done(struct kmmu_ss_vcpu *ss, uint64_t gpa, uint8_t *data, bool is_write)
{
	uint64_t poison = KMMU_SS_POISON;

	if (!is_write)
		memcpy(data, &poison, sizeof(poison));
	/* The GPA first: the guest reads it once it sees the count move. */
	ss->mmio_last_gpa = gpa;
	ss->mmio_count++;
}
