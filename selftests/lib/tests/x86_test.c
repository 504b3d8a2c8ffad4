// SPDX-License-Identifier: GPL-2.0
/*
 * The CPL3 long-mode state the runtime gives KVM, checked field by field
 * against what HOST.md measured to run on PVM and what VMX entry checks
 * need (usable 64-bit busy TSS in TR, SS.DPL == CS.DPL == 3, L=1/D=0),
 * and the GDT encoded in guest memory against the same segments.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kmmu/x86.h"

/* Flat 64-bit user code and data, as KVM must be given them. */
#define UCODE { .selector = 0x1b, .type = 11, .dpl = 3, .l = 1, .db = 0, .s = 1, .g = 1, \
		.present = 1, .base = 0, .limit = 0xffffffffu }
#define UDATA { .selector = 0x23, .type = 3, .dpl = 3, .l = 0, .db = 1, .s = 1, .g = 1, \
		.present = 1, .base = 0, .limit = 0xffffffffu }

/*
 * @got against @want, field by field; the selector and the unusable bit
 * only with @whole (a GDT descriptor has neither).
 */
static void check_segment(struct __test_metadata *_metadata, const char *what,
			  const struct kvm_segment *want, const struct kvm_segment *got,
			  bool whole)
{
	static const struct {
		const char *name;
		size_t offset, size;
		bool whole_only;
	} fields[] = {
#define SEG_FIELD(f, whole_only) \
	{ #f, offsetof(struct kvm_segment, f), sizeof(((struct kvm_segment *)0)->f), whole_only }
		SEG_FIELD(selector, true), SEG_FIELD(unusable, true),
		SEG_FIELD(type, false), SEG_FIELD(dpl, false), SEG_FIELD(l, false),
		SEG_FIELD(db, false), SEG_FIELD(s, false), SEG_FIELD(g, false),
		SEG_FIELD(present, false), SEG_FIELD(base, false), SEG_FIELD(limit, false),
#undef SEG_FIELD
	};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint64_t w = 0, g = 0;

		if (fields[i].whole_only && !whole)
			continue;
		/* x86 is little-endian: the low bytes of a u64 hold the field. */
		memcpy(&w, (const char *)want + fields[i].offset, fields[i].size);
		memcpy(&g, (const char *)got + fields[i].offset, fields[i].size);
		ASSERT_EQ(w, g) TH_LOG("%s.%s", what, fields[i].name);
	}
}

TEST(sregs)
{
	static const struct {
		const char *name;
		size_t offset;
		struct kvm_segment want;
	} segs[] = {
		{ "cs", offsetof(struct kvm_sregs, cs), UCODE },
		{ "ds", offsetof(struct kvm_sregs, ds), UDATA },
		{ "es", offsetof(struct kvm_sregs, es), UDATA },
		{ "ss", offsetof(struct kvm_sregs, ss), UDATA },
		{ "fs", offsetof(struct kvm_sregs, fs), UDATA },
		{ "gs", offsetof(struct kvm_sregs, gs), UDATA },
		/* A usable 64-bit busy TSS, as VMX entry checks want. */
		{ "tr", offsetof(struct kvm_sregs, tr),
		  { .selector = 0x28, .type = 11, .present = 1, .base = 0x80001000,
		    .limit = 103 } },
	};
	struct kvm_sregs s;
	size_t i;

	memset(&s, 0xff, sizeof(s));
	s.apic_base = 0xfee00900;
	kmmu_x86_fill_sregs(&s, 0x80010000, 0x80000000, 0x80001000);
	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		check_segment(_metadata, segs[i].name, &segs[i].want,
			      (const struct kvm_segment *)((char *)&s + segs[i].offset), true);
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
	check_segment(_metadata, "gdt[cs]", &s.cs, &d, false);
	kmmu_x86_desc_decode(gdt[s.ss.selector >> 3], &d);
	check_segment(_metadata, "gdt[ss]", &s.ss, &d, false);
	/* The well-known encodings of flat 64-bit user code and data. */
	ASSERT_EQ(0x00affb000000ffffULL, gdt[3]);
	ASSERT_EQ(0x00cff3000000ffffULL, gdt[4]);
	ASSERT_EQ(0x00af9b000000ffffULL, gdt[1]);
	ASSERT_EQ(0x00cf93000000ffffULL, gdt[2]);
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
