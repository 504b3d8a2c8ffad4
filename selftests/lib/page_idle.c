// SPDX-License-Identifier: GPL-2.0
/*
 * Idle page tracking: sets of PFNs as bitmap words, the aging pass (write)
 * and the young count (read).  See kmmu/page_idle.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmmu/hygiene.h"
#include "kmmu/page_idle.h"
#include "kmmu/pagemap.h"
#include "kmmu/sort.h"

const char *kmmu_page_idle_path(void)
{
	const char *p = getenv("KMMU_PAGE_IDLE_BITMAP");

	return p && *p ? p : "/sys/kernel/mm/page_idle/bitmap";
}

int kmmu_page_idle_probe(char *why, size_t len)
{
	const char *path = kmmu_page_idle_path();
	int fd = kmmu_page_idle_open();

	if (fd == -ENOENT) {
		kmmu_why(why, len, "no idle page tracking (%s: %s); the kernel needs "
			 "CONFIG_IDLE_PAGE_TRACKING", path, strerror(-fd));
		return -ENODEV;
	}
	if (fd < 0) {
		kmmu_why(why, len, "idle page tracking needs root (%s: %s)", path,
			 strerror(-fd));
		return -EPERM;
	}
	close(fd);
	return 0;
}

int kmmu_page_idle_open(void)
{
	int fd = open(kmmu_page_idle_path(), O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

void kmmu_idle_set_free(struct kmmu_idle_set *s)
{
	free(s->mask);
	free(s->runs);
	memset(s, 0, sizeof(*s));
}

int kmmu_idle_set_from_pfns(struct kmmu_idle_set *s, const uint64_t *pfns, size_t n)
{
	struct kmmu_idle_run *runs;
	uint64_t *pfn, w, prev = 0;
	size_t i;
	int nr_runs;

	memset(s, 0, sizeof(*s));
	if (!n)
		return 0;
	pfn = malloc(n * sizeof(*pfn));
	if (!pfn)
		return -ENOMEM;
	memcpy(pfn, pfns, n * sizeof(*pfn));
	qsort(pfn, n, sizeof(*pfn), kmmu_cmp_u64_key);

	/*
	 * First the shape: runs and their lengths (gaps included), at most
	 * one run per PFN; a word after a gap longer than
	 * KMMU_IDLE_GAP_WORDS starts a new run.
	 */
	s->runs = malloc(n * sizeof(*s->runs));
	if (!s->runs)
		goto nomem;
	for (i = 0; i < n; i++) {
		struct kmmu_idle_run *r;

		w = pfn[i] / 64;
		if (i && w == prev)
			continue;
		if (!i || w - prev - 1 > KMMU_IDLE_GAP_WORDS) {
			r = &s->runs[s->nr_runs++];
			r->word = w;
			r->first = s->nr_words;
		}
		r = &s->runs[s->nr_runs - 1];
		r->nr = w - r->word + 1;
		s->nr_words = r->first + r->nr;
		prev = w;
	}
	runs = realloc(s->runs, s->nr_runs * sizeof(*s->runs));
	if (runs)
		s->runs = runs;
	s->mask = calloc(s->nr_words, sizeof(*s->mask));
	if (!s->mask)
		goto nomem;
	/* Then the bits: each PFN in the run that holds its word. */
	for (i = 0, nr_runs = 0; i < n; i++) {
		const struct kmmu_idle_run *r;
		uint64_t bit = 1ULL << (pfn[i] % 64);

		w = pfn[i] / 64;
		while (w >= s->runs[nr_runs].word + s->runs[nr_runs].nr)
			nr_runs++;
		r = &s->runs[nr_runs];
		if (!(s->mask[r->first + w - r->word] & bit))
			s->nr_pages++;
		s->mask[r->first + w - r->word] |= bit;
	}
	free(pfn);
	return 0;
nomem:
	free(pfn);
	kmmu_idle_set_free(s);
	return -ENOMEM;
}

int kmmu_idle_set_from_range(struct kmmu_idle_set *s, const void *addr, size_t len)
{
	long psz = sysconf(_SC_PAGESIZE);
	size_t npages = (len + psz - 1) / psz, n = 0;
	struct kmmu_phys_range *r;
	uint64_t *pfn, a;
	int nr, i;

	memset(s, 0, sizeof(*s));
	r = malloc((npages ? npages : 1) * sizeof(*r));
	pfn = malloc((npages ? npages : 1) * sizeof(*pfn));
	nr = r && pfn ? kmmu_virt_to_phys(addr, len, r, npages) : -ENOMEM;
	for (i = 0; i < nr; i++)
		for (a = r[i].start; a < r[i].end; a += psz)
			pfn[n++] = a / psz;
	if (nr >= 0)
		nr = kmmu_idle_set_from_pfns(s, pfn, n);
	free(r);
	free(pfn);
	return nr;
}

/*
 * The bitmap is a sysfs binary attribute: kernfs passes at most a page per
 * call, so a run takes several calls, each continuing where the last one
 * stopped (offsets and sizes stay multiples of 8, as the kernel demands).
 */
static int kmmu_idle_io(int fd, bool write, uint64_t *buf, uint64_t word, uint64_t nr)
{
	size_t off = 0, want = nr * sizeof(*buf);

	while (off < want) {
		ssize_t r;

		if (write)
			r = pwrite(fd, (char *)buf + off, want - off, word * 8 + off);
		else
			r = pread(fd, (char *)buf + off, want - off, word * 8 + off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		off += r;
	}
	return 0;
}

int kmmu_page_idle_mark(int fd, const struct kmmu_idle_set *s)
{
	int i, err;

	for (i = 0; i < s->nr_runs; i++) {
		const struct kmmu_idle_run *r = &s->runs[i];

		err = kmmu_idle_io(fd, true, s->mask + r->first, r->word, r->nr);
		if (err)
			return err;
	}
	return 0;
}

int64_t kmmu_page_idle_count_young(int fd, const struct kmmu_idle_set *s)
{
	uint64_t *buf, max = 0, k;
	int64_t young = 0;
	int i, err = 0;

	for (i = 0; i < s->nr_runs; i++)
		if (s->runs[i].nr > max)
			max = s->runs[i].nr;
	buf = malloc((max ? max : 1) * sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	for (i = 0; !err && i < s->nr_runs; i++) {
		const struct kmmu_idle_run *r = &s->runs[i];

		err = kmmu_idle_io(fd, false, buf, r->word, r->nr);
		for (k = 0; !err && k < r->nr; k++)
			young += __builtin_popcountll(s->mask[r->first + k] & ~buf[k]);
	}
	free(buf);
	return err ? err : young;
}

int kmmu_page_idle_read(int fd, const uint64_t *pfns, size_t n, bool *idle)
{
	struct kmmu_idle_set s;
	uint64_t *buf;
	size_t i;
	int r, err;

	err = kmmu_idle_set_from_pfns(&s, pfns, n);
	if (err)
		return err;
	buf = malloc((s.nr_words ? s.nr_words : 1) * sizeof(*buf));
	if (!buf) {
		kmmu_idle_set_free(&s);
		return -ENOMEM;
	}
	for (r = 0; !err && r < s.nr_runs; r++)
		err = kmmu_idle_io(fd, false, buf + s.runs[r].first, s.runs[r].word,
				   s.runs[r].nr);
	/* Each PFN's bit in its run's words (runs are sorted, a few). */
	for (i = 0; !err && i < n; i++) {
		uint64_t w = pfns[i] / 64;

		for (r = 0; w >= s.runs[r].word + s.runs[r].nr; r++)
			;
		idle[i] = buf[s.runs[r].first + w - s.runs[r].word] >> (pfns[i] % 64) & 1;
	}
	free(buf);
	kmmu_idle_set_free(&s);
	return err;
}
