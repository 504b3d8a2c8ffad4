/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86-64 architectural state of a kmmu guest vCPU: CPL3 long mode.
 *
 * PVM hosts execute CPL0 guest code in KVM's instruction emulator, so the
 * guest starts (and stays) in ring 3: CS = 0x1b (64-bit code, DPL 3),
 * SS/DS/ES/FS/GS = 0x23 (data, DPL 3).  VMX entry additionally requires a
 * usable TR, so a real GDT (whose descriptors are encoded from the very
 * kvm_segment values given to KVM_SET_SREGS) and a 64-bit TSS live in
 * guest memory; SVM and PVM ignore them.  There is no IDT (limit 0): any
 * guest exception escalates to a triple fault, KVM_EXIT_SHUTDOWN.
 */
#ifndef KMMU_X86_H
#define KMMU_X86_H

#include <stdint.h>
#include <linux/kvm.h>

#define KMMU_X86_CR0_PE		(1ULL << 0)
#define KMMU_X86_CR0_ET		(1ULL << 4)
#define KMMU_X86_CR0_NE		(1ULL << 5)
#define KMMU_X86_CR0_PG		(1ULL << 31)
#define KMMU_X86_CR4_PAE	(1ULL << 5)
#define KMMU_X86_CR4_PGE	(1ULL << 7)
#define KMMU_X86_CR4_OSFXSR	(1ULL << 9)
#define KMMU_X86_CR4_OSXMMEXCPT	(1ULL << 10)
#define KMMU_X86_EFER_LME	(1ULL << 8)
#define KMMU_X86_EFER_LMA	(1ULL << 10)
#define KMMU_X86_EFER_NXE	(1ULL << 11)
#define KMMU_X86_RFLAGS_FIXED	0x2ULL

#define KMMU_X86_CR0	(KMMU_X86_CR0_PE | KMMU_X86_CR0_ET | KMMU_X86_CR0_NE | KMMU_X86_CR0_PG)
#define KMMU_X86_CR4	(KMMU_X86_CR4_PAE | KMMU_X86_CR4_OSFXSR | KMMU_X86_CR4_OSXMMEXCPT)
#define KMMU_X86_EFER	(KMMU_X86_EFER_LME | KMMU_X86_EFER_LMA | KMMU_X86_EFER_NXE)

/* GDT layout: selectors (with RPL) of the runtime's descriptors. */
#define KMMU_SEL_KCODE		0x08
#define KMMU_SEL_KDATA		0x10
#define KMMU_SEL_UCODE		0x1b	/* index 3, RPL 3 */
#define KMMU_SEL_UDATA		0x23	/* index 4, RPL 3 */
#define KMMU_SEL_TSS		0x28	/* index 5-6 (16-byte descriptor) */
#define KMMU_GDT_ENTRIES	7
#define KMMU_TSS_SIZE		104

/* The flat 64-bit user code / user data / TSS segments. */
void kmmu_x86_seg_ucode(struct kvm_segment *seg);
void kmmu_x86_seg_udata(struct kvm_segment *seg);
void kmmu_x86_seg_kcode(struct kvm_segment *seg);
void kmmu_x86_seg_kdata(struct kvm_segment *seg);
void kmmu_x86_seg_tss(struct kvm_segment *seg, uint64_t tss_gva);

/* 8-byte descriptor of a code/data segment; TSS: 16 bytes (two u64). */
uint64_t kmmu_x86_desc(const struct kvm_segment *seg);
void kmmu_x86_desc_tss(const struct kvm_segment *seg, uint64_t out[2]);
/* Inverse of kmmu_x86_desc(), for tests: fills type/s/dpl/present/l/db/g/base/limit. */
void kmmu_x86_desc_decode(uint64_t desc, struct kvm_segment *seg);

/* Writes the whole GDT (KMMU_GDT_ENTRIES u64) and a TSS (RSP0, no I/O map). */
void kmmu_x86_write_gdt(uint64_t *gdt, uint64_t tss_gva);
void kmmu_x86_write_tss(void *tss, uint64_t rsp0);

/*
 * Sets every field of @s the runtime controls (keeps apic_base and the
 * interrupt bitmap as KVM_GET_SREGS returned them).
 */
void kmmu_x86_fill_sregs(struct kvm_sregs *s, uint64_t cr3, uint64_t gdt_gva,
			 uint64_t tss_gva);

#endif
