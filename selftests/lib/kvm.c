// SPDX-License-Identifier: GPL-2.0
/*
 * KVM device, capabilities, backend detection, guest memory backing.
 */
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmmu/kvm_vm.h"
#include "kmmu/result.h"

const char *kmmu_kvm_dev_path(void)
{
	const char *p = getenv("KMMU_KVM_DEV");

	return p && *p ? p : "/dev/kvm";
}

int kmmu_kvm_open(char *why, size_t len)
{
	const char *path = kmmu_kvm_dev_path();
	int fd, v, e;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(why, len, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		e = v < 0 ? errno : EINVAL;
		snprintf(why, len, "%s: KVM_GET_API_VERSION gave %d (%s), want %d",
			 path, v, v < 0 ? strerror(e) : "mismatch", KVM_API_VERSION);
		close(fd);
		return -e;
	}
	return fd;
}

long kmmu_kvm_cap(int fd, long cap)
{
	long r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? -errno : r;
}

int kmmu_host_probe_kvm(struct kmmu_host *host, char *why, size_t len)
{
	long n;
	int fd;

	kmmu_host_probe(host);
	fd = kmmu_kvm_open(why, len);
	host->kvm_available = fd >= 0;
	if (fd < 0)
		return -1;
	n = kmmu_kvm_cap(fd, KVM_CAP_NR_MEMSLOTS);
	host->nr_memslots = n > 0 ? n : -1;
	close(fd);
	return 0;
}

const char *kmmu_kvm_backend(void)
{
	static const struct {
		const char *path, *name;
	} b[] = {
		{ "/sys/module/kvm_intel", "vmx" },
		{ "/sys/module/kvm_amd", "svm" },
		{ "/sys/module/kvm_pvm", "pvm" },
	};
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (!stat(b[i].path, &st))
			return b[i].name;
	return "none";
}

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
