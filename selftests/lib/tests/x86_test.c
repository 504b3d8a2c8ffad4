// SPDX-License-Identifier: GPL-2.0
/*
 * The CPL3 long-mode state the runtime gives KVM, checked field by field
 * against what HOST.md measured to run on PVM and what VMX entry checks
 * need (usable 64-bit busy TSS in TR, SS.DPL == CS.DPL == 3, L=1/D=0),
 * and the GDT encoded in guest memory against the same segments.
 */
#include <string.h>

#include "kselftest_harness.h"
#include "kmmu/x86.h"

static void check_data(struct __test_metadata *_metadata, const struct kvm_segment *s)
{
	ASSERT_EQ(0x23, s->selector);
	ASSERT_EQ(3, s->type);
	ASSERT_EQ(3, s->dpl);
	ASSERT_EQ(1, s->db);
	ASSERT_EQ(1, s->s);
	ASSERT_EQ(1, s->g);
	ASSERT_EQ(1, s->present);
	ASSERT_EQ(0, s->l);
	ASSERT_EQ(0, s->unusable);
	ASSERT_EQ(0, s->base);
	ASSERT_EQ(0xffffffffu, s->limit);
}

TEST(sregs)
{
	struct kvm_sregs s;

	memset(&s, 0xff, sizeof(s));
	s.apic_base = 0xfee00900;
	kmmu_x86_fill_sregs(&s, 0x80010000, 0x80000000, 0x80001000);
	ASSERT_EQ(0x1b, s.cs.selector);
	ASSERT_EQ(11, s.cs.type);
	ASSERT_EQ(3, s.cs.dpl);
	ASSERT_EQ(1, s.cs.l);
	ASSERT_EQ(0, s.cs.db);
	ASSERT_EQ(1, s.cs.s);
	ASSERT_EQ(1, s.cs.g);
	ASSERT_EQ(1, s.cs.present);
	ASSERT_EQ(0, s.cs.unusable);
	check_data(_metadata, &s.ds);
	check_data(_metadata, &s.es);
	check_data(_metadata, &s.ss);
	check_data(_metadata, &s.fs);
	check_data(_metadata, &s.gs);
	ASSERT_EQ(0x28, s.tr.selector);
	ASSERT_EQ(11, s.tr.type);
	ASSERT_EQ(0, s.tr.s);
	ASSERT_EQ(1, s.tr.present);
	ASSERT_EQ(0, s.tr.unusable);
	ASSERT_EQ(0x80001000, s.tr.base);
	ASSERT_EQ(103, s.tr.limit);
	ASSERT_EQ(1, s.ldt.unusable);
	ASSERT_EQ(0x80000000, s.gdt.base);
	ASSERT_EQ(KMMU_GDT_ENTRIES * 8 - 1, s.gdt.limit);
	ASSERT_EQ(0, s.idt.limit);
	ASSERT_EQ(0x80000031ULL, s.cr0);	/* PG|NE|ET|PE */
	ASSERT_EQ(0x620ULL, s.cr4);		/* OSXMMEXCPT|OSFXSR|PAE */
	ASSERT_EQ(0xd00ULL, s.efer);		/* NXE|LMA|LME */
	ASSERT_EQ(0x80010000, s.cr3);
	ASSERT_EQ(0, s.cr8);
	ASSERT_EQ(0xfee00900, s.apic_base);	/* kept */
	ASSERT_EQ(0x2, KMMU_X86_RFLAGS_FIXED);
}

TEST(gdt_matches_segments)
{
	uint64_t gdt[KMMU_GDT_ENTRIES];
	struct kvm_sregs s;
	struct kvm_segment d;

	memset(&s, 0, sizeof(s));
	kmmu_x86_fill_sregs(&s, 0, 0x80000000, 0xffffff8012345000ULL);
	kmmu_x86_write_gdt(gdt, 0xffffff8012345000ULL);
	ASSERT_EQ(0, gdt[0]);
	kmmu_x86_desc_decode(gdt[s.cs.selector >> 3], &d);
	ASSERT_EQ(s.cs.type, d.type);
	ASSERT_EQ(s.cs.dpl, d.dpl);
	ASSERT_EQ(s.cs.l, d.l);
	ASSERT_EQ(s.cs.db, d.db);
	ASSERT_EQ(s.cs.s, d.s);
	ASSERT_EQ(s.cs.g, d.g);
	ASSERT_EQ(s.cs.present, d.present);
	ASSERT_EQ(s.cs.limit, d.limit);
	/* The well-known encodings of flat 64-bit user code and data. */
	ASSERT_EQ(0x00affb000000ffffULL, gdt[3]);
	ASSERT_EQ(0x00cff3000000ffffULL, gdt[4]);
	ASSERT_EQ(0x00af9b000000ffffULL, gdt[1]);
	ASSERT_EQ(0x00cf93000000ffffULL, gdt[2]);
	kmmu_x86_desc_decode(gdt[s.ss.selector >> 3], &d);
	ASSERT_EQ(s.ss.type, d.type);
	ASSERT_EQ(s.ss.dpl, d.dpl);
	ASSERT_EQ(s.ss.db, d.db);
	/* 16-byte TSS descriptor: base split over both halves. */
	kmmu_x86_desc_decode(gdt[5], &d);
	ASSERT_EQ(11, d.type);
	ASSERT_EQ(0, d.s);
	ASSERT_EQ(1, d.present);
	ASSERT_EQ(103, d.limit);
	ASSERT_EQ(0x12345000ULL, d.base);
	ASSERT_EQ(0xffffff80ULL, gdt[6]);
}

TEST(tss)
{
	uint8_t tss[KMMU_TSS_SIZE];
	uint64_t rsp0;

	memset(tss, 0xee, sizeof(tss));
	kmmu_x86_write_tss(tss, 0x123456789aULL);
	memcpy(&rsp0, tss + 4, 8);
	ASSERT_EQ(0x123456789aULL, rsp0);
	ASSERT_EQ(104, tss[102] | tss[103] << 8);
	ASSERT_EQ(0, tss[0]);
	ASSERT_EQ(0, tss[50]);
}

TEST_HARNESS_MAIN
