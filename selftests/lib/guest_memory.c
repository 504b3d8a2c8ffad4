// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory backing.  The KVM device, its capabilities and the backend
 * are the host probe's (tracing/host_probe.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kmmu/kvm_vm.h"

int kmmu_mem_alloc(struct kmmu_mem *m, size_t size, enum kmmu_backing backing,
		   int node)
{
	long pg = sysconf(_SC_PAGESIZE);
	int e;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->node = -1;
	if (!size || size % pg)
		return -EINVAL;
	switch (backing) {
	case KMMU_BACKING_ANON:
		m->hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		break;
	case KMMU_BACKING_MEMFD:
		m->fd = memfd_create("kmmu-guest", MFD_CLOEXEC);
		if (m->fd < 0)
			return -errno;
		if (ftruncate(m->fd, size)) {
			e = errno;
			close(m->fd);
			m->fd = -1;
			return -e;
		}
		m->hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
		break;
	default:
		return -EINVAL;
	}
	if (m->hva == MAP_FAILED) {
		e = errno;
		if (m->fd >= 0)
			close(m->fd);
		m->fd = -1;
		m->hva = NULL;
		return -e;
	}
	m->size = size;
	m->backing = backing;
	if (node >= 0) {
		unsigned long mask[16] = { 0 };

		if (node >= (int)(sizeof(mask) * 8)) {
			kmmu_mem_free(m);
			return -EINVAL;
		}
		mask[node / (8 * sizeof(long))] |= 1UL << (node % (8 * sizeof(long)));
		/* Before the first touch, so every page is allocated on @node. */
		if (mbind(m->hva, size, MPOL_BIND, mask, sizeof(mask) * 8, MPOL_MF_STRICT)) {
			e = errno;
			kmmu_mem_free(m);
			return -e;
		}
		m->node = node;
	}
	return 0;
}

void kmmu_mem_free(struct kmmu_mem *m)
{
	if (m->hva)
		munmap(m->hva, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->hva = NULL;
	m->fd = -1;
	m->size = 0;
}

void *kmmu_map_2m_aligned(uint64_t size, bool thp, void **raw, uint64_t *raw_size)
{
	const uint64_t huge = 2ULL << 20;
	uint8_t *p;

	*raw_size = size + huge;
	p = mmap(NULL, *raw_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*raw = p;
	p = (uint8_t *)(((uintptr_t)p + huge - 1) & ~(huge - 1));
	madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}
