// SPDX-License-Identifier: GPL-2.0
/*
 * CPL3 long-mode vCPU state (see kmmu/x86.h).
 */
#include <string.h>

#include "kmmu/x86.h"

static void kmmu_x86_seg_flat(struct kvm_segment *seg, uint16_t sel, uint8_t type,
			      uint8_t dpl, int code)
{
	memset(seg, 0, sizeof(*seg));
	seg->base = 0;
	seg->limit = 0xffffffff;	/* byte granular view of limit 0xfffff, G=1 */
	seg->selector = sel;
	seg->type = type;
	seg->present = 1;
	seg->dpl = dpl;
	seg->s = 1;
	seg->g = 1;
	/* 64-bit code: L=1 requires D=0; data: B=1 (32-bit stack semantics). */
	seg->l = code;
	seg->db = !code;
}

void kmmu_x86_seg_ucode(struct kvm_segment *seg)
{
	kmmu_x86_seg_flat(seg, KMMU_SEL_UCODE, 11, 3, 1);	/* exec/read, accessed */
}

void kmmu_x86_seg_udata(struct kvm_segment *seg)
{
	kmmu_x86_seg_flat(seg, KMMU_SEL_UDATA, 3, 3, 0);	/* read/write, accessed */
}

void kmmu_x86_seg_kcode(struct kvm_segment *seg)
{
	kmmu_x86_seg_flat(seg, KMMU_SEL_KCODE, 11, 0, 1);
}

void kmmu_x86_seg_kdata(struct kvm_segment *seg)
{
	kmmu_x86_seg_flat(seg, KMMU_SEL_KDATA, 3, 0, 0);
}

void kmmu_x86_seg_tss(struct kvm_segment *seg, uint64_t tss_gva)
{
	memset(seg, 0, sizeof(*seg));
	seg->base = tss_gva;
	seg->limit = KMMU_TSS_SIZE - 1;
	seg->selector = KMMU_SEL_TSS;
	seg->type = 11;			/* 64-bit TSS, busy: what LTR leaves */
	seg->present = 1;
}

uint64_t kmmu_x86_desc(const struct kvm_segment *seg)
{
	uint64_t limit = seg->g ? (seg->limit >> 12) : seg->limit;
	uint64_t d = 0;

	d |= limit & 0xffff;
	d |= (seg->base & 0xffffffULL) << 16;
	d |= (uint64_t)(seg->type & 0xf) << 40;
	d |= (uint64_t)(seg->s & 1) << 44;
	d |= (uint64_t)(seg->dpl & 3) << 45;
	d |= (uint64_t)(seg->present & 1) << 47;
	d |= ((limit >> 16) & 0xf) << 48;
	d |= (uint64_t)(seg->avl & 1) << 52;
	d |= (uint64_t)(seg->l & 1) << 53;
	d |= (uint64_t)(seg->db & 1) << 54;
	d |= (uint64_t)(seg->g & 1) << 55;
	d |= ((seg->base >> 24) & 0xff) << 56;
	return d;
}

void kmmu_x86_desc_tss(const struct kvm_segment *seg, uint64_t out[2])
{
	out[0] = kmmu_x86_desc(seg);
	out[1] = seg->base >> 32;
}

void kmmu_x86_desc_decode(uint64_t d, struct kvm_segment *seg)
{
	uint64_t limit = (d & 0xffff) | (((d >> 48) & 0xf) << 16);

	memset(seg, 0, sizeof(*seg));
	seg->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	seg->type = (d >> 40) & 0xf;
	seg->s = (d >> 44) & 1;
	seg->dpl = (d >> 45) & 3;
	seg->present = (d >> 47) & 1;
	seg->avl = (d >> 52) & 1;
	seg->l = (d >> 53) & 1;
	seg->db = (d >> 54) & 1;
	seg->g = (d >> 55) & 1;
	seg->limit = seg->g ? (limit << 12) | 0xfff : limit;
}

void kmmu_x86_write_gdt(uint64_t *gdt, uint64_t tss_gva)
{
	struct kvm_segment seg;

	gdt[0] = 0;
	kmmu_x86_seg_kcode(&seg);
	gdt[KMMU_SEL_KCODE >> 3] = kmmu_x86_desc(&seg);
	kmmu_x86_seg_kdata(&seg);
	gdt[KMMU_SEL_KDATA >> 3] = kmmu_x86_desc(&seg);
	kmmu_x86_seg_ucode(&seg);
	gdt[KMMU_SEL_UCODE >> 3] = kmmu_x86_desc(&seg);
	kmmu_x86_seg_udata(&seg);
	gdt[KMMU_SEL_UDATA >> 3] = kmmu_x86_desc(&seg);
	kmmu_x86_seg_tss(&seg, tss_gva);
	kmmu_x86_desc_tss(&seg, &gdt[KMMU_SEL_TSS >> 3]);
}

void kmmu_x86_write_tss(void *tss, uint64_t rsp0)
{
	uint8_t *t = tss;

	memset(t, 0, KMMU_TSS_SIZE);
	memcpy(t + 4, &rsp0, sizeof(rsp0));	/* RSP0 at offset 4 */
	/* I/O map base beyond the limit: no I/O permission bitmap. */
	t[102] = KMMU_TSS_SIZE & 0xff;
	t[103] = KMMU_TSS_SIZE >> 8;
}

void kmmu_x86_fill_sregs(struct kvm_sregs *s, uint64_t cr3, uint64_t gdt_gva,
			 uint64_t tss_gva)
{
	kmmu_x86_seg_ucode(&s->cs);
	kmmu_x86_seg_udata(&s->ds);
	s->es = s->ds;
	s->ss = s->ds;
	s->fs = s->ds;
	s->gs = s->ds;
	kmmu_x86_seg_tss(&s->tr, tss_gva);
	memset(&s->ldt, 0, sizeof(s->ldt));
	s->ldt.type = 2;
	s->ldt.unusable = 1;
	s->gdt.base = gdt_gva;
	s->gdt.limit = KMMU_GDT_ENTRIES * 8 - 1;
	memset(s->gdt.padding, 0, sizeof(s->gdt.padding));
	/* No IDT: a guest exception triple-faults into KVM_EXIT_SHUTDOWN. */
	s->idt.base = 0;
	s->idt.limit = 0;
	memset(s->idt.padding, 0, sizeof(s->idt.padding));
	s->cr0 = KMMU_X86_CR0;
	s->cr2 = 0;
	s->cr3 = cr3;
	s->cr4 = KMMU_X86_CR4;
	s->cr8 = 0;
	s->efer = KMMU_X86_EFER;
}
