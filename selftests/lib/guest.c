// SPDX-License-Identifier: GPL-2.0
/*
 * Code that runs in the guest (CPL3): the vCPU entry point, the hypercall
 * and libc-free helpers.  No libc calls, no TLS; stores the compiler could
 * turn into memset/memcpy calls are volatile.
 */
#include "kmmu/guest.h"

uint64_t kmmu_guest_ucall(uint64_t nr, const char *file, uint64_t line,
			  const char *fmt, uint64_t nr_args, const uint64_t *args)
{
	struct kmmu_vcpu_page *page = kmmu_guest_page();

	kmmu_ucall_fill(&page->uc, nr, file, line, fmt, nr_args, args);
	/*
	 * The store that exits: the memory clobber keeps the block's stores
	 * before it and the read of ->ret after it.
	 */
	__asm__ volatile("movq %0, (%1)"
			 : : "r"((uint64_t)&page->uc), "r"(KMMU_HYPERCALL_GVA)
			 : "memory");
	return *(volatile uint64_t *)&page->uc.ret;
}

void kmmu_guest_ucall_noreturn(uint64_t nr, const char *file, uint64_t line,
			       const char *fmt, uint64_t nr_args, const uint64_t *args)
{
	/* The host never resumes after DONE/FAIL; repeat if it does. */
	for (;;)
		kmmu_guest_ucall(nr, file, line, fmt, nr_args, args);
}

void kmmu_guest_entry(uint64_t vcpu_id, void *arg, kmmu_guest_fn fn)
{
	fn((uint32_t)vcpu_id, arg);
	kmmu_guest_ucall_noreturn(KMMU_UCALL_DONE, __FILE__, __LINE__, NULL, 0, NULL);
}

void kmmu_guest_memset(void *dst, int c, size_t n)
{
	volatile uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
}

void kmmu_guest_memcpy(void *dst, const void *src, size_t n)
{
	volatile uint8_t *d = dst;
	const volatile uint8_t *s = src;

	while (n--)
		*d++ = *s++;
}
