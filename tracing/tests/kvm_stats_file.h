/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A file laid out like KVM's binary stats (KVM_GET_STATS_FD): struct
 * kvm_stats_header, id string, descriptors (+ name_size bytes of name
 * each), data block, in a memfd so that readers take the pread() path.
 * Shared by the stats reader's test and the fake KVM of record_vmm_test.
 */
#ifndef KMMU_TESTS_KVM_STATS_FILE_H
#define KMMU_TESTS_KVM_STATS_FILE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct synth {
	const char *name;
	uint32_t size;
	uint64_t vals[4];
};

/*
 * Layout: header | id | descs | pad | data (data_offset 8-aligned); the
 * last name unterminated unless @terminate_names.  The memfd, or -1.
 */
static inline int make_stats(const struct synth *st, int n, uint32_t name_size,
			     bool terminate_names)
{
	size_t dsz = sizeof(struct kvm_stats_desc) + name_size;
	struct kvm_stats_header h = {
		.flags = 0,
		.name_size = name_size,
		.num_desc = n,
		.id_offset = sizeof(h),
	};
	size_t data_off, off = 0, total;
	uint8_t *buf;
	int fd, i;

	h.desc_offset = h.id_offset + name_size;
	data_off = (h.desc_offset + dsz * n + 64) & ~7UL;
	h.data_offset = data_off;
	total = data_off;
	for (i = 0; i < n; i++)
		total += st[i].size * 8;
	buf = calloc(1, total);
	if (!buf)
		return -1;
	memcpy(buf, &h, sizeof(h));
	strcpy((char *)buf + h.id_offset, "kvm-1234");
	for (i = 0; i < n; i++) {
		struct kvm_stats_desc *d = (void *)(buf + h.desc_offset + i * dsz);

		d->flags = KVM_STATS_TYPE_CUMULATIVE;
		d->size = st[i].size;
		d->offset = off;
		strncpy(d->name, st[i].name, name_size);
		d->name[name_size - 1] = 0;
		if (!terminate_names && i == n - 1)
			memset(d->name, 'x', name_size);
		memcpy(buf + data_off + off, st[i].vals, st[i].size * 8);
		off += st[i].size * 8;
	}
	fd = memfd_create("stats", 0);
	if (fd >= 0 && write(fd, buf, total) != (ssize_t)total) {
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

#endif
