// SPDX-License-Identifier: GPL-2.0
/*
 * KVM binary stats parsing against synthetic files laid out like KVM's
 * (kvm_stats_file.h), in a memfd so the pread() path runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_stats.h"
#include "kvm_stats_file.h"

#define NAME_SIZE 48

static const struct synth kvm_like[] = {
	{ "remote_tlb_flush", 1, { 11 } },
	{ "mmu_shadow_zapped", 1, { 22 } },
	{ "pages_4k", 1, { 4096 } },
	{ "pages_2m", 1, { 3 } },
	{ "halt_poll_hist", 4, { 1, 2, 3, 4 } },
	{ "pf_fixed", 1, { 0xfedcba9876543210ULL } },
};

TEST(read_by_name)
{
	struct kmmu_stats s;
	uint64_t v, hist[8];
	int fd = make_stats(kvm_like, 6, NAME_SIZE, true);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, kmmu_stats_open_fd(&s, fd));
	ASSERT_EQ(6, kmmu_stats_count(&s));
	ASSERT_STREQ("kvm-1234", s.id);
	ASSERT_EQ(0, kmmu_stats_get(&s, "pages_4k", &v));
	ASSERT_EQ(4096, v);
	ASSERT_EQ(0, kmmu_stats_get(&s, "mmu_shadow_zapped", &v));
	ASSERT_EQ(22, v);
	ASSERT_EQ(0, kmmu_stats_get(&s, "pf_fixed", &v));
	ASSERT_EQ(0xfedcba9876543210ULL, v);
	ASSERT_EQ(4, kmmu_stats_read(&s, "halt_poll_hist", hist, 8));
	ASSERT_EQ(1, hist[0]);
	ASSERT_EQ(4, hist[3]);
	ASSERT_EQ(2, kmmu_stats_read(&s, "halt_poll_hist", hist, 2));
	ASSERT_EQ(-ENOENT, kmmu_stats_get(&s, "pages_1g", &v));
	ASSERT_EQ(-ENOENT, kmmu_stats_get(&s, "pages_", &v));
	ASSERT_NE(NULL, kmmu_stats_find(&s, "pages_2m"));
	/* Values are re-read on every call. */
	uint64_t nv = 5000;

	ASSERT_EQ(8, pwrite(s.fd, &nv, 8, s.hdr.data_offset + kmmu_stats_find(&s, "pages_4k")->offset));
	ASSERT_EQ(0, kmmu_stats_get(&s, "pages_4k", &v));
	ASSERT_EQ(5000, v);
	kmmu_stats_close(&s);
	ASSERT_EQ(-1, s.fd);
}

TEST(other_name_size)
{
	struct kmmu_stats s;
	uint64_t v;
	int fd = make_stats(kvm_like, 6, 24, true);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, kmmu_stats_open_fd(&s, fd));
	ASSERT_EQ(0, kmmu_stats_get(&s, "pf_fixed", &v));
	ASSERT_EQ(0xfedcba9876543210ULL, v);
	kmmu_stats_close(&s);
}

TEST(corrupt)
{
	struct kmmu_stats s;
	struct kvm_stats_header h = { 0 };
	int fd;

	/* Unterminated name. */
	fd = make_stats(kvm_like, 6, NAME_SIZE, false);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(-EINVAL, kmmu_stats_open_fd(&s, fd));
	/* name_size 0. */
	fd = memfd_create("stats", 0);
	h.desc_offset = h.data_offset = sizeof(h);
	ASSERT_EQ(sizeof(h), write(fd, &h, sizeof(h)));
	ASSERT_EQ(-EINVAL, kmmu_stats_open_fd(&s, fd));
	/* Descriptors beyond the end of the file. */
	fd = memfd_create("stats", 0);
	h.name_size = 48;
	h.num_desc = 3;
	h.desc_offset = 4096;
	ASSERT_EQ(sizeof(h), write(fd, &h, sizeof(h)));
	ASSERT_EQ(-EIO, kmmu_stats_open_fd(&s, fd));
	/* Truncated header. */
	fd = memfd_create("stats", 0);
	ASSERT_EQ(4, write(fd, &h, 4));
	ASSERT_EQ(-EIO, kmmu_stats_open_fd(&s, fd));
}

TEST_HARNESS_MAIN
