// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory of a kmmu VM: the test binary copied into the image slot
 * and mapped at the host's own addresses (so guest code is the test's own
 * functions), globals synced into it, the guest page tables, and the
 * shared area carved from the system slot.
 */
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

struct kmmu_image_seg {
	uint64_t va, memsz;
	uint32_t flags;
};

struct kmmu_image_scan {
	int n;
	struct kmmu_image_seg seg[16];
	bool done;
};

static int kmmu_image_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct kmmu_image_scan *s = data;
	int i;

	/* The first object reported is the main program. */
	if (s->done)
		return 1;
	s->done = true;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !ph->p_memsz)
			continue;
		if (s->n == (int)(sizeof(s->seg) / sizeof(s->seg[0])))
			return -1;
		s->seg[s->n].va = info->dlpi_addr + ph->p_vaddr;
		s->seg[s->n].memsz = ph->p_memsz;
		s->seg[s->n].flags = ph->p_flags;
		s->n++;
	}
	return 1;
}

int kmmu_vm_load_image(struct kmmu_vm *vm, char *err, size_t len)
{
	struct kmmu_image_scan scan = { 0 };
	uint64_t lo = ~0ULL, hi = 0, npages, p, start;
	uint8_t *pf;
	int i, r;

	dl_iterate_phdr(kmmu_image_cb, &scan);
	if (scan.n <= 0) {
		snprintf(err, len, "no PT_LOAD segments found for the main program");
		return -ENOEXEC;
	}
	for (i = 0; i < scan.n; i++) {
		if (scan.seg[i].va < lo)
			lo = scan.seg[i].va;
		if (scan.seg[i].va + scan.seg[i].memsz > hi)
			hi = scan.seg[i].va + scan.seg[i].memsz;
	}
	lo &= ~(KMMU_PAGE_SIZE - 1);
	hi = (hi + KMMU_PAGE_SIZE - 1) & ~(KMMU_PAGE_SIZE - 1);
	if (hi - lo > KMMU_IMAGE_MAX) {
		snprintf(err, len, "binary image too large (%#llx bytes)",
			 (unsigned long long)(hi - lo));
		return -EFBIG;
	}
	r = kmmu_mem_alloc(&vm->image, hi - lo, KMMU_BACKING_ANON, -1);
	if (r) {
		snprintf(err, len, "image memory: %s", strerror(-r));
		return r;
	}
	vm->image_lo = lo;
	vm->image_hi = hi;
	npages = (hi - lo) / KMMU_PAGE_SIZE;
	pf = calloc(npages, 1);	/* bit 0: mapped, 1: writable, 2: executable */
	if (!pf)
		return -ENOMEM;
	for (i = 0; i < scan.n; i++) {
		struct kmmu_image_seg *s = &scan.seg[i];
		uint64_t a = (s->va & ~(KMMU_PAGE_SIZE - 1)) - lo;
		uint64_t b = s->va + s->memsz - lo;

		/* Only the segment's own bytes: the gaps may be unmapped. */
		memcpy((uint8_t *)vm->image.hva + (s->va - lo), (void *)s->va, s->memsz);
		for (p = a / KMMU_PAGE_SIZE; p * KMMU_PAGE_SIZE < b; p++)
			pf[p] |= 1 | (s->flags & PF_W ? 2 : 0) | (s->flags & PF_X ? 4 : 0);
	}
	/* Map runs of pages with equal permissions at the host's addresses. */
	for (p = 0; p < npages; p = start) {
		unsigned int flags = 0;

		start = p + 1;
		while (start < npages && pf[start] == pf[p])
			start++;
		if (!(pf[p] & 1))
			continue;
		if (pf[p] & 2)
			flags |= KMMU_MAP_WRITE;
		if (!(pf[p] & 4))
			flags |= KMMU_MAP_NX;
		r = kmmu_pt_map(&vm->pt, lo + p * KMMU_PAGE_SIZE,
				KMMU_GPA_IMAGE + p * KMMU_PAGE_SIZE,
				(start - p) * KMMU_PAGE_SIZE, flags);
		if (r) {
			free(pf);
			snprintf(err, len, "mapping the image at %#llx: %s",
				 (unsigned long long)(lo + p * KMMU_PAGE_SIZE), strerror(-r));
			return r;
		}
	}
	free(pf);
	return 0;
}

int kmmu_vm_sync_global(struct kmmu_vm *vm, const void *addr, size_t size)
{
	uint64_t a = (uintptr_t)addr;

	if (a < vm->image_lo || a + size > vm->image_hi || a + size < a)
		return -EINVAL;
	memcpy((uint8_t *)vm->image.hva + (a - vm->image_lo), addr, size);
	return 0;
}
int __kmmu_vm_map(struct kmmu_vm *vm, uint64_t gva, uint64_t gpa, uint64_t size,
		  unsigned int flags)
{
	if (vm->started)
		return -EBUSY;
	return kmmu_pt_map(&vm->pt, gva, gpa, size, flags);
}

int kmmu_vm_map_page_table(struct kmmu_vm *vm, uint64_t gva, uint64_t alias_gva,
			   uint64_t *table_gpa)
{
	uint64_t gpa;
	int r;

	if (vm->started)
		return -EBUSY;
	r = kmmu_pt_leaf_table(&vm->pt, gva, &gpa);
	if (r)
		return r;
	/* NX: the guest writes entries there, never runs them. */
	r = kmmu_pt_map(&vm->pt, alias_gva, gpa, KMMU_PAGE_SIZE, KMMU_MAP_WRITE | KMMU_MAP_NX);
	if (r)
		return r;
	/* Mapping the alias may have added tables, never moved this one. */
	if (table_gpa)
		*table_gpa = gpa;
	return 0;
}

int kmmu_vm_gva_to_gpa(struct kmmu_vm *vm, uint64_t gva, uint64_t *gpa)
{
	return kmmu_pt_walk(&vm->pt, gva, gpa, NULL, NULL);
}

int kmmu_vm_guest_leaf(struct kmmu_vm *vm, uint64_t gva, uint64_t *leaf, int *level)
{
	/* The pool is the host's mapping of the system slot: what KVM wrote. */
	return kmmu_pt_walk(&vm->pt, gva, NULL, level, leaf);
}

void *kmmu_vm_alloc_shared(struct kmmu_vm *vm, size_t size, uint64_t *gva)
{
	uint64_t off;

	size = (size + KMMU_PAGE_SIZE - 1) & ~(KMMU_PAGE_SIZE - 1);
	if (!size || vm->shared_used + size > vm->shared_size)
		return NULL;
	off = vm->shared_off + vm->shared_used;
	vm->shared_used += size;
	*gva = KMMU_GPA_SYS + off;
	return (uint8_t *)vm->sys.hva + off;
}
