// SPDX-License-Identifier: GPL-2.0
/*
 * The backings of memslot_flags_test's slots: a 4K memfd and a 2M-aligned
 * THP mapping, shared by ro.readonly and gone.data_slot.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "memslot_flags.h"

void mf_backing_init(struct mf_backing *b)
{
	memset(b, 0, sizeof(*b));
	b->mem4k.fd = -1;
}

/* Both backings, or -errno with the reason in @err (mf_backing_free() frees what was made). */
int mf_backing_alloc(struct mf_backing *b, uint64_t size_4k, uint64_t size_thp, char *err,
		     size_t len)
{
	int ret = kmmu_mem_alloc(&b->mem4k, size_4k, KMMU_BACKING_MEMFD, -1);

	if (ret) {
		snprintf(err, len, "memfd of %llu bytes: %s", (unsigned long long)size_4k,
			 strerror(-ret));
		return ret;
	}
	b->hva[0] = b->mem4k.hva;
	b->thp = kmmu_map_2m_aligned(size_thp, true, &b->thp_raw, &b->thp_raw_size);
	if (!b->thp) {
		snprintf(err, len, "mmap of %llu bytes: %s", (unsigned long long)size_thp,
			 strerror(errno));
		return -ENOMEM;
	}
	/* The checker's janitor forks: shared copy-on-write, every THP would split. */
	if (madvise(b->thp_raw, b->thp_raw_size, MADV_DONTFORK)) {
		ret = -errno;
		snprintf(err, len, "madvise(MADV_DONTFORK): %s", strerror(-ret));
		return ret;
	}
	b->hva[1] = b->thp;
	return 0;
}

void mf_backing_free(struct mf_backing *b)
{
	kmmu_mem_free(&b->mem4k);
	if (b->thp_raw)
		munmap(b->thp_raw, b->thp_raw_size);
	mf_backing_init(b);
}
