/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest->host call ABI ("ucall") of the kmmu guest runtime.
 *
 * Port I/O faults at CPL3 on PVM hosts, so a hypercall is an 8-byte store
 * to KMMU_HYPERCALL_GPA, a guest physical page that no memslot ever covers
 * (the runtime refuses slots that would) but that the guest page tables
 * map at KMMU_HYPERCALL_GVA: it reaches the vCPU thread as KVM_EXIT_MMIO.
 *
 * Protocol: the guest fills the struct kmmu_ucall in its own per-vCPU page
 * (shared memory, see kmmu/guest.h), then stores the GVA of that struct to
 * the hypercall address.  The host checks magic and that the stored value
 * is that vCPU's block, decodes, and for SYNC writes a reply into ->ret
 * before re-entering the guest.  Strings (file, format) are pointers into
 * the test binary's image, which the guest runs at the host's addresses:
 * the host reads them from its own copy after checking they lie in it.
 *
 * FAIL/PRINT formats only accept integer conversions with an l/ll/z/j
 * length (%lu, %#lx, %lld ...) and %%; anything else is shown raw, because
 * every argument travels as a u64.
 */
#ifndef KMMU_UCALL_H
#define KMMU_UCALL_H

#include <stddef.h>
#include <stdint.h>

#define KMMU_HYPERCALL_GPA	0xf0000000ULL
#define KMMU_HYPERCALL_GVA	KMMU_HYPERCALL_GPA
#define KMMU_UCALL_MAGIC	0x6c6c6163756d6d6bULL	/* "kmmucall" */
#define KMMU_UCALL_MAX_ARGS	6

enum kmmu_ucall_nr {
	KMMU_UCALL_NONE,
	KMMU_UCALL_SYNC,	/* args[0] = value; host replies in ret */
	KMMU_UCALL_DONE,	/* guest function finished */
	KMMU_UCALL_ASSERT,	/* fmt = expression text; 0 or 2 args */
	KMMU_UCALL_FAIL,	/* fmt = printf format over args */
	KMMU_UCALL_PRINT,	/* like FAIL, but only logged */
	KMMU_UCALL_NR_MAX,
};

struct kmmu_ucall {
	uint64_t magic;
	uint64_t nr;
	uint64_t file;		/* address of __FILE__ */
	uint64_t line;
	uint64_t fmt;		/* address of expression text / format */
	uint64_t nr_args;
	uint64_t args[KMMU_UCALL_MAX_ARGS];
	uint64_t ret;		/* host -> guest (SYNC) */
	uint64_t seq;		/* incremented by the guest per call */
};

/*
 * Fills @uc the way the guest does (volatile stores, no libc: this runs in
 * the guest).  @nr_args is clamped to KMMU_UCALL_MAX_ARGS.
 */
void kmmu_ucall_fill(struct kmmu_ucall *uc, uint64_t nr, const char *file,
		     uint64_t line, const char *fmt, uint64_t nr_args,
		     const uint64_t *args);

/* Address range the host accepts strings from (default: the binary image). */
struct kmmu_str_range {
	uintptr_t lo, hi;
};

struct kmmu_ucall_msg {
	int nr;
	const char *file;	/* validated, or "?" */
	unsigned long line;
	uint64_t args[KMMU_UCALL_MAX_ARGS];
	int nr_args;
	char text[1024];	/* formatted "file:line: ..." for ASSERT/FAIL/PRINT */
};

/*
 * Host side: validates and decodes @uc (a snapshot copied out of guest
 * memory).  Returns the ucall nr (> 0) or -EINVAL with a reason in
 * @msg->text for a malformed block.  @range == NULL means the image.
 */
int kmmu_ucall_decode(const struct kmmu_ucall *uc,
		      const struct kmmu_str_range *range,
		      struct kmmu_ucall_msg *msg);

/* 1 if @fmt is a format kmmu_ucall_decode() will expand, else 0. */
int kmmu_ucall_format_ok(const char *fmt, int nr_args);

/* The running binary's loaded image [__executable_start, _end). */
void kmmu_image_range(struct kmmu_str_range *range);

#endif
