/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM binary statistics (KVM_GET_STATS_FD), read by name.
 *
 * The file is parsed generically from its header: the descriptor block at
 * desc_offset (num_desc records of sizeof(struct kvm_stats_desc) +
 * name_size bytes each) and the data block at data_offset, where each
 * statistic has desc->size u64 values at data_offset + desc->offset.
 * Values are re-read with pread() on every call; the descriptors once.
 */
#ifndef KMMU_KVM_STATS_H
#define KMMU_KVM_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct kmmu_stats {
	int fd;
	struct kvm_stats_header hdr;
	char id[64];		/* "kvm-<pid>" or "kvm-<pid>/vcpu-<n>" */
	uint8_t *descs;		/* num_desc records */
	size_t desc_size;	/* sizeof(kvm_stats_desc) + name_size */
};

/* Takes ownership of @stats_fd (closed by kmmu_stats_close()). 0/-errno. */
int kmmu_stats_open_fd(struct kmmu_stats *s, int stats_fd);
/* KVM_GET_STATS_FD on a VM or vCPU fd, then kmmu_stats_open_fd(). */
int kmmu_stats_open(struct kmmu_stats *s, int vm_or_vcpu_fd);
void kmmu_stats_close(struct kmmu_stats *s);

int kmmu_stats_count(const struct kmmu_stats *s);
const struct kvm_stats_desc *kmmu_stats_desc(const struct kmmu_stats *s, int i);
const struct kvm_stats_desc *kmmu_stats_find(const struct kmmu_stats *s,
					     const char *name);
/*
 * Reads up to @n values of statistic @name into @vals.  Returns the number
 * of values read (desc->size capped to @n), -ENOENT if there is no such
 * statistic, -EIO/-errno on read errors.
 */
int kmmu_stats_read(const struct kmmu_stats *s, const char *name,
		    uint64_t *vals, size_t n);
/* The first (for most stats the only) value. */
int kmmu_stats_get(const struct kmmu_stats *s, const char *name, uint64_t *val);

/*
 * pages_4k/2m/1g of the VM @vm_fd added to @pages; a statistic this KVM
 * does not have adds nothing.  0, or -errno (then @pages may hold part of it).
 */
int kmmu_stats_vm_pages(int vm_fd, uint64_t pages[3]);

#endif
