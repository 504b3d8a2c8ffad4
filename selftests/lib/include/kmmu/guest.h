/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side of the kmmu runtime: code that runs inside the VM at CPL3.
 *
 * Guest code is ordinary C in the test binary; the runtime copies the
 * binary's loaded image into a memslot and maps it at the same virtual
 * addresses, so functions and string literals work unchanged.  Globals are
 * the guest's private copies (taken when the VM was created, or refreshed
 * with kmmu_vm_sync_global() before the vCPUs start): share data through a
 * region from kmmu_vm_alloc_shared() instead.
 *
 * Rules for guest code: no libc (the shared libraries are not mapped; use
 * kmmu_guest_memset/memcpy), no TLS, no floating point beyond SSE, no
 * system calls, no port I/O.  Accessing unmapped GVAs or faulting in any
 * way ends the VM with a triple fault (KVM_EXIT_SHUTDOWN): there is no IDT.
 *
 * Each vCPU owns a KMMU_VCPU_AREA_SIZE-aligned area: its kmmu_vcpu_page
 * (id, ucall block, scratch) at the bottom, an unmapped guard page, and its
 * stack above.  The guest finds its page from RSP, so no register or
 * segment base has to be reserved for it.
 */
#ifndef KMMU_GUEST_H
#define KMMU_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "kmmu/ucall.h"

#define KMMU_VCPU_AREA_SIZE	(64ULL << 10)	/* power of two */

struct kmmu_vcpu_page {
	uint64_t self;		/* GVA of this page */
	uint64_t vcpu_id;
	uint64_t arg;		/* second argument of the guest function */
	uint64_t fn;		/* the guest function */
	struct kmmu_ucall uc;
	uint64_t scratch[32];	/* free for tests: host and guest may use */
};

typedef void (*kmmu_guest_fn)(uint32_t vcpu_id, void *arg);

static inline __attribute__((always_inline)) struct kmmu_vcpu_page *
kmmu_guest_page(void)
{
	uint64_t rsp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
	return (struct kmmu_vcpu_page *)(rsp & ~(KMMU_VCPU_AREA_SIZE - 1));
}

/* The hypercall: fill the vCPU's block, store its address.  Returns ret. */
uint64_t kmmu_guest_ucall(uint64_t nr, const char *file, uint64_t line,
			  const char *fmt, uint64_t nr_args, const uint64_t *args);
/* Never returns: the host does not resume a vCPU after DONE/FAIL. */
void kmmu_guest_ucall_noreturn(uint64_t nr, const char *file, uint64_t line,
			       const char *fmt, uint64_t nr_args,
			       const uint64_t *args) __attribute__((noreturn));

/* The vCPU entry point the host puts in RIP (RDI = id, RSI = arg, RDX = fn). */
void kmmu_guest_entry(uint64_t vcpu_id, void *arg, kmmu_guest_fn fn)
	__attribute__((noreturn));

void kmmu_guest_memset(void *dst, int c, size_t n);
void kmmu_guest_memcpy(void *dst, const void *src, size_t n);

#define KMMU_NARGS_(...) (sizeof((uint64_t[]){ 0, ##__VA_ARGS__ }) / sizeof(uint64_t) - 1)
#define KMMU_ARGV_(...) ((const uint64_t[]){ 0, ##__VA_ARGS__ } + 1)

#define GUEST_SYNC(v) ({						\
	uint64_t __v = (uint64_t)(v);					\
	kmmu_guest_ucall(KMMU_UCALL_SYNC, __FILE__, __LINE__, NULL, 1, &__v); \
})

#define GUEST_DONE()							\
	kmmu_guest_ucall_noreturn(KMMU_UCALL_DONE, __FILE__, __LINE__, NULL, 0, NULL)

#define GUEST_ASSERT(cond) do {						\
	if (!(cond))							\
		kmmu_guest_ucall_noreturn(KMMU_UCALL_ASSERT, __FILE__,	\
					  __LINE__, #cond, 0, NULL);	\
} while (0)

#define GUEST_ASSERT_EQ(a, b) do {					\
	uint64_t __ab[2] = { (uint64_t)(a), (uint64_t)(b) };		\
	if (__ab[0] != __ab[1])						\
		kmmu_guest_ucall_noreturn(KMMU_UCALL_ASSERT, __FILE__,	\
					  __LINE__, #a " == " #b, 2, __ab); \
} while (0)

/* printf-like with u64 arguments (%lu, %#lx ...), at most 6 of them. */
#define GUEST_FAIL(fmt, ...)						\
	kmmu_guest_ucall_noreturn(KMMU_UCALL_FAIL, __FILE__, __LINE__, fmt, \
				  KMMU_NARGS_(__VA_ARGS__),		\
				  KMMU_ARGV_(__VA_ARGS__))

#define GUEST_PRINT(fmt, ...)						\
	kmmu_guest_ucall(KMMU_UCALL_PRINT, __FILE__, __LINE__, fmt,	\
			 KMMU_NARGS_(__VA_ARGS__), KMMU_ARGV_(__VA_ARGS__))

#endif
