// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory that needs no KVM: kmmu_map_2m_aligned() gives a writable
 * mapping from a 2 MiB boundary inside the one to unmap, with THP advised
 * or refused as asked (the VMA's flags in /proc/self/smaps: hg, nh).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_vm.h"

/* The VmFlags line of the VMA that starts at @addr ("" if none). */
static void vma_flags(const void *addr, char *flags, size_t len)
{
	char line[512], start[32];
	bool in_vma = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	flags[0] = 0;
	if (!f)
		return;
	snprintf(start, sizeof(start), "%lx-", (unsigned long)addr);
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' '))
			in_vma = !strncmp(line, start, strlen(start));
		else if (in_vma && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, len, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

TEST(map_2m_aligned)
{
	const uint64_t size = 6ULL << 20, huge = 2ULL << 20;
	uint64_t raw_size;
	char flags[512];
	uint8_t *p;
	void *raw;

	for (int thp = 0; thp < 2; thp++) {
		p = kmmu_map_2m_aligned(size, thp, &raw, &raw_size);
		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, (uintptr_t)p % huge);
		ASSERT_LE((uintptr_t)raw, (uintptr_t)p);
		ASSERT_LE((uintptr_t)p + size, (uintptr_t)raw + raw_size);
		memset(p, 0x5a, size);
		vma_flags(p, flags, sizeof(flags));
		ASSERT_NE(NULL, strstr(flags, thp ? " hg" : " nh")) TH_LOG("VmFlags:%s", flags);
		ASSERT_EQ(0, munmap(raw, raw_size));
	}
}

TEST_HARNESS_MAIN
