// SPDX-License-Identifier: GPL-2.0
/*
 * The idle page tracking driver.
 *
 * Against a plain file standing in for the bitmap (KMMU_PAGE_IDLE_BITMAP):
 * which words a set writes, with which bits, in how many runs, how the
 * read-back counts young pages and reads single pages -- these run on any
 * machine; the set of a range of this process's pages, from pagemap
 * (root).  On the running kernel (root and CONFIG_IDLE_PAGE_TRACKING,
 * else SKIP): after a pass, exactly the pages this process touched again
 * read as young, in the count and page by page.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/page_idle.h"
#include "kmmu/pagemap.h"

TEST(set_shape)
{
	/* Words 0, 1 (one run), 600 and 1200 (gaps of 598 and 599: new runs). */
	const uint64_t pfns[] = { 64 * 1200 + 3, 5, 70, 64, 5, 64 * 600 };
	struct kmmu_idle_set s;

	ASSERT_EQ(0, kmmu_idle_set_from_pfns(&s, pfns, 6));
	EXPECT_EQ(5, s.nr_pages);
	ASSERT_EQ(3, s.nr_runs);
	EXPECT_EQ(0, s.runs[0].word);
	EXPECT_EQ(2, s.runs[0].nr);
	EXPECT_EQ(600, s.runs[1].word);
	EXPECT_EQ(1, s.runs[1].nr);
	EXPECT_EQ(1200, s.runs[2].word);
	EXPECT_EQ(4, s.nr_words);
	EXPECT_EQ(1ULL << 5, s.mask[0]);
	EXPECT_EQ(1ULL | 1ULL << 6, s.mask[1]);
	EXPECT_EQ(1ULL, s.mask[2]);
	EXPECT_EQ(1ULL << 3, s.mask[3]);
	kmmu_idle_set_free(&s);

	/* A gap of exactly KMMU_IDLE_GAP_WORDS zero words is written, not skipped. */
	{
		const uint64_t p2[] = { 0, 64 * (KMMU_IDLE_GAP_WORDS + 1),
					64 * (2 * KMMU_IDLE_GAP_WORDS + 3) };

		ASSERT_EQ(0, kmmu_idle_set_from_pfns(&s, p2, 3));
		ASSERT_EQ(2, s.nr_runs);
		EXPECT_EQ(KMMU_IDLE_GAP_WORDS + 2, s.runs[0].nr);
		EXPECT_EQ(2 * KMMU_IDLE_GAP_WORDS + 3, s.runs[1].word);
		kmmu_idle_set_free(&s);
	}

	ASSERT_EQ(0, kmmu_idle_set_from_pfns(&s, NULL, 0));
	EXPECT_EQ(0, s.nr_runs);
	EXPECT_EQ(0, s.nr_pages);
	kmmu_idle_set_free(&s);
}

/* Is @pfn one of the set's pages? */
static int in_set(const struct kmmu_idle_set *s, uint64_t pfn)
{
	int i;

	for (i = 0; i < s->nr_runs; i++) {
		const struct kmmu_idle_run *r = &s->runs[i];

		if (pfn / 64 >= r->word && pfn / 64 < r->word + r->nr)
			return !!(s->mask[r->first + pfn / 64 - r->word] & 1ULL << pfn % 64);
	}
	return 0;
}

/*
 * The set of a range is the PFNs pagemap gives for it (root: PFNs are
 * hidden otherwise); a page not present is -ENOENT.  Needs no bitmap.
 */
TEST(set_from_range)
{
	const size_t pages = 64;
	uint64_t pm[64];
	struct kmmu_idle_set s;
	uint8_t *p;
	size_t i;
	int r;

	p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	madvise(p, pages * 4096, MADV_NOHUGEPAGE);
	/* The last page is never touched: not present. */
	for (i = 0; i < pages - 1; i++)
		p[i * 4096] = 1;
	ASSERT_EQ(0, mlock(p, (pages - 1) * 4096));
	r = kmmu_idle_set_from_range(&s, p, (pages - 1) * 4096);
	if (r == -EPERM) {
		munmap(p, pages * 4096);
		SKIP(return, "PFNs are hidden from this process (not root)");
	}
	ASSERT_EQ(0, r);
	EXPECT_EQ(pages - 1, s.nr_pages);
	ASSERT_EQ(0, kmmu_pagemap_read(p, pages - 1, pm));
	for (i = 0; i < pages - 1; i++)
		EXPECT_TRUE(in_set(&s, pm[i] & KMMU_PM_PFN_MASK)) TH_LOG("page %zu", i);
	kmmu_idle_set_free(&s);
	EXPECT_EQ(-ENOENT, kmmu_idle_set_from_range(&s, p, pages * 4096));
	EXPECT_EQ(0, s.nr_pages);
	munmap(p, pages * 4096);
}

TEST(fake_bitmap)
{
	const uint64_t pfns[] = { 1, 2, 63, 64 * 3000 + 7, 64 * 3001 };
	const uint64_t q[] = { 64 * 3001, 63, 2, 1, 64 * 3000 + 7, 0, 63 };
	const bool want[] = { false, true, false, true, true, false, true };
	const uint64_t beyond = 64 * 4000;
	bool idle[7];
	int i;
	char path[] = "/tmp/kmmu-page-idle-XXXXXX", why[256];
	uint64_t w[2];
	struct kmmu_idle_set s;
	int fd;

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	close(fd);
	setenv("KMMU_PAGE_IDLE_BITMAP", path, 1);
	ASSERT_EQ(0, kmmu_page_idle_probe(why, sizeof(why)));
	ASSERT_EQ(0, kmmu_idle_set_from_pfns(&s, pfns, 5));
	fd = kmmu_page_idle_open();
	ASSERT_LE(0, fd);

	/* The pass writes the set's bits where the kernel reads them. */
	ASSERT_EQ(0, kmmu_page_idle_mark(fd, &s));
	ASSERT_EQ(8, pread(fd, w, 8, 0));
	EXPECT_EQ(1ULL << 1 | 1ULL << 2 | 1ULL << 63, w[0]);
	ASSERT_EQ(16, pread(fd, w, 16, 3000 * 8));
	EXPECT_EQ(1ULL << 7, w[0]);
	EXPECT_EQ(1ULL, w[1]);
	/* Nothing in between: two runs, the gap never written. */
	EXPECT_EQ(3001 * 8 + 8, lseek(fd, 0, SEEK_END));
	ASSERT_EQ(8, pread(fd, w, 8, 8));
	EXPECT_EQ(0, w[0]);

	/* All still idle: none young. */
	EXPECT_EQ(0, kmmu_page_idle_count_young(fd, &s));
	/* "The kernel" clears pfn 2 and 64 * 3001, and pfn 0 (not in the set). */
	w[0] = 1ULL << 63 | 1ULL << 1;
	ASSERT_EQ(8, pwrite(fd, w, 8, 0));
	w[0] = 0;
	ASSERT_EQ(8, pwrite(fd, w, 8, 3001 * 8));
	EXPECT_EQ(2, kmmu_page_idle_count_young(fd, &s));
	/* Per page, in any order, repeats allowed: 1, 63, 64 * 3000 + 7 idle. */
	ASSERT_EQ(0, kmmu_page_idle_read(fd, q, 7, idle));
	/* Braces: EXPECT_EQ() and its TH_LOG() are two statements. */
	for (i = 0; i < 7; i++) {
		EXPECT_EQ(want[i], idle[i]) TH_LOG("pfn %llu", (unsigned long long)q[i]);
	}
	/* Beyond the file's end, as beyond max_pfn: no word to read. */
	EXPECT_EQ(-EIO, kmmu_page_idle_read(fd, &beyond, 1, idle));
	close(fd);

	/* Without the file: SKIP's reason names the config option. */
	unlink(path);
	EXPECT_EQ(-ENODEV, kmmu_page_idle_probe(why, sizeof(why)));
	EXPECT_NE(NULL, strstr(why, "CONFIG_IDLE_PAGE_TRACKING")) TH_LOG("%s", why);
	kmmu_idle_set_free(&s);
	unsetenv("KMMU_PAGE_IDLE_BITMAP");
}

TEST(kernel)
{
	const size_t pages = 4096, half = pages / 2;
	uint64_t pm, pfn[8];
	bool idle[8];
	struct kmmu_idle_set s;
	char why[256];
	uint8_t *p;
	size_t i;
	int fd;

	unsetenv("KMMU_PAGE_IDLE_BITMAP");
	if (kmmu_page_idle_probe(why, sizeof(why)))
		SKIP(return, "%s", why);
	p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* 4K pages that stay where they are: their PFNs are the set. */
	madvise(p, pages * 4096, MADV_NOHUGEPAGE);
	for (i = 0; i < pages; i++)
		p[i * 4096] = 1;
	ASSERT_EQ(0, mlock(p, pages * 4096));
	ASSERT_EQ(0, kmmu_idle_set_from_range(&s, p, pages * 4096));
	ASSERT_EQ(pages, s.nr_pages);
	fd = kmmu_page_idle_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kmmu_page_idle_mark(fd, &s));
	/* Only this process maps them: exactly what it touches is young. */
	for (i = 0; i < half; i++)
		((volatile uint8_t *)p)[i * 4096]++;
	EXPECT_EQ(half, kmmu_page_idle_count_young(fd, &s));
	/* The read cleared the refs again: a second read finds the same. */
	EXPECT_EQ(half, kmmu_page_idle_count_young(fd, &s));
	/* And page by page: the touched half young, the rest idle. */
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, kmmu_pagemap_read(p + i * (pages / 8) * 4096, 1, &pm));
		pfn[i] = pm & KMMU_PM_PFN_MASK;
	}
	ASSERT_EQ(0, kmmu_page_idle_read(fd, pfn, 8, idle));
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(i >= 4, idle[i]) TH_LOG("page %zu", i * (pages / 8));
	}
	close(fd);
	kmmu_idle_set_free(&s);
	munmap(p, pages * 4096);
}

TEST_HARNESS_MAIN
