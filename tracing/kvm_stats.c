// SPDX-License-Identifier: GPL-2.0
/*
 * KVM binary stats parsing (see kmmu/kvm_stats.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kmmu/kvm_stats.h"

/* Limits that no real KVM comes near; they reject corrupt headers. */
#define KMMU_STATS_MAX_DESC	65536
#define KMMU_STATS_MAX_NAME	4096

static int kmmu_pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, (uint8_t *)buf + done, len - done, off + done);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!r)
			return -EIO;	/* short file */
		done += r;
	}
	return 0;
}

int kmmu_stats_open_fd(struct kmmu_stats *s, int fd)
{
	size_t total;
	uint32_t i;
	int r;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	r = kmmu_pread_full(fd, &s->hdr, sizeof(s->hdr), 0);
	if (r)
		goto fail;
	if (!s->hdr.name_size || s->hdr.name_size > KMMU_STATS_MAX_NAME ||
	    s->hdr.num_desc > KMMU_STATS_MAX_DESC ||
	    s->hdr.desc_offset < sizeof(s->hdr) || s->hdr.data_offset < sizeof(s->hdr)) {
		r = -EINVAL;
		goto fail;
	}
	if (s->hdr.id_offset) {
		size_t n = s->hdr.name_size < sizeof(s->id) ? s->hdr.name_size : sizeof(s->id);

		r = kmmu_pread_full(fd, s->id, n, s->hdr.id_offset);
		if (r)
			goto fail;
		s->id[sizeof(s->id) - 1] = 0;
	}
	s->desc_size = sizeof(struct kvm_stats_desc) + s->hdr.name_size;
	total = s->desc_size * s->hdr.num_desc;
	s->descs = malloc(total ? total : 1);
	if (!s->descs) {
		r = -ENOMEM;
		goto fail;
	}
	r = kmmu_pread_full(fd, s->descs, total, s->hdr.desc_offset);
	if (r)
		goto fail;
	for (i = 0; i < s->hdr.num_desc; i++) {
		const struct kvm_stats_desc *d = kmmu_stats_desc(s, i);

		/* Names must be NUL-terminated inside their name_size bytes. */
		if (!memchr(d->name, 0, s->hdr.name_size) || !d->size) {
			r = -EINVAL;
			goto fail;
		}
	}
	return 0;
fail:
	free(s->descs);
	s->descs = NULL;
	s->fd = -1;
	close(fd);
	return r;
}

int kmmu_stats_open(struct kmmu_stats *s, int vm_or_vcpu_fd)
{
	int fd = ioctl(vm_or_vcpu_fd, KVM_GET_STATS_FD, NULL);

	if (fd < 0) {
		memset(s, 0, sizeof(*s));
		s->fd = -1;
		return -errno;
	}
	return kmmu_stats_open_fd(s, fd);
}

void kmmu_stats_close(struct kmmu_stats *s)
{
	free(s->descs);
	s->descs = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

int kmmu_stats_count(const struct kmmu_stats *s)
{
	return s->descs ? (int)s->hdr.num_desc : 0;
}

const struct kvm_stats_desc *kmmu_stats_desc(const struct kmmu_stats *s, int i)
{
	if (i < 0 || (uint32_t)i >= s->hdr.num_desc)
		return NULL;
	return (const struct kvm_stats_desc *)(s->descs + (size_t)i * s->desc_size);
}

const struct kvm_stats_desc *kmmu_stats_find(const struct kmmu_stats *s,
					     const char *name)
{
	int i;

	for (i = 0; i < kmmu_stats_count(s); i++) {
		const struct kvm_stats_desc *d = kmmu_stats_desc(s, i);

		if (!strcmp(d->name, name))
			return d;
	}
	return NULL;
}

int kmmu_stats_read(const struct kmmu_stats *s, const char *name,
		    uint64_t *vals, size_t n)
{
	const struct kvm_stats_desc *d = kmmu_stats_find(s, name);
	size_t cnt;
	int r;

	if (!d)
		return -ENOENT;
	cnt = d->size < n ? d->size : n;
	r = kmmu_pread_full(s->fd, vals, cnt * sizeof(uint64_t),
			    (off_t)s->hdr.data_offset + d->offset);
	return r ? r : (int)cnt;
}

int kmmu_stats_get(const struct kmmu_stats *s, const char *name, uint64_t *val)
{
	int r = kmmu_stats_read(s, name, val, 1);

	return r < 0 ? r : 0;
}

int kmmu_stats_vm_pages(int vm_fd, uint64_t pages[3])
{
	static const char *const names[3] = { "pages_4k", "pages_2m", "pages_1g" };
	struct kmmu_stats stats;
	int ret;

	ret = kmmu_stats_open(&stats, vm_fd);
	if (ret)
		return ret;
	for (int l = 0; l < 3; l++) {
		uint64_t v;

		ret = kmmu_stats_get(&stats, names[l], &v);
		if (ret == -ENOENT)
			continue;
		if (ret)
			break;
		pages[l] += v;
	}
	kmmu_stats_close(&stats);
	return ret == -ENOENT ? 0 : ret;
}
