// SPDX-License-Identifier: GPL-2.0
/*
 * DAMON's regions as data (kmmu/damon.h): the snapshot in a run of
 * damon_aggregated records, a scheme's tried_regions directory, and what
 * the regions say about given ranges.  The kdamond itself is damon.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmmu/damon.h"
#include "kmmu/hygiene.h"

static int kmmu_damon_rec_cmp(const void *a, const void *b)
{
	const struct kmmu_damon_record *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int kmmu_damon_snapshot(struct kmmu_damon_record *rec, size_t nr,
			struct kmmu_damon_region *out, int max, size_t *keep)
{
	size_t i, first = 0, k;
	unsigned int n = 0;	/* records in the open run rec[first..i) */

	qsort(rec, nr, sizeof(*rec), kmmu_damon_rec_cmp);
	for (i = 0; i < nr; i++) {
		const struct kmmu_damon_record *r = &rec[i], *p = &rec[i ? i - 1 : 0];

		if (n && (r->lost_before || r->target_id != p->target_id ||
			  r->nr_regions != p->nr_regions || r->region.start < p->region.end))
			n = 0;
		if (!r->nr_regions || r->region.end <= r->region.start) {
			n = 0;		/* not a region DAMON could have */
			first = i + 1;
			continue;
		}
		if (!n)
			first = i;
		if (++n < r->nr_regions)
			continue;
		for (k = 0; k < n && k < (size_t)max; k++)
			out[k] = rec[first + k].region;
		if (keep)
			*keep = i + 1;
		return n;
	}
	if (keep)
		*keep = n ? first : nr;
	return 0;
}

static int kmmu_damon_region_cmp(const void *a, const void *b)
{
	const struct kmmu_damon_region *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* A name of only digits: a region directory (total_bytes is a file). */
static bool kmmu_damon_is_index(const char *name)
{
	if (!*name)
		return false;
	for (; *name; name++)
		if (*name < '0' || *name > '9')
			return false;
	return true;
}

int kmmu_damon_tried_read(const char *dir, struct kmmu_damon_region *out, int max,
			  uint64_t *bytes, uint64_t *total_bytes, char *why, size_t len)
{
	static const char *const f[] = { "start", "end", "nr_accesses", "age" };
	struct kmmu_damon_region *all = NULL, *na;
	size_t n = 0, cap = 0, i;
	char path[600];
	unsigned long v[4], tb;
	struct dirent *e;
	int err = 0, k;
	DIR *dp;

	*bytes = 0;
	*total_bytes = UINT64_MAX;
	dp = opendir(dir);
	if (!dp) {
		err = -errno;
		kmmu_why(why, len, "opendir %s: %s", dir, strerror(errno));
		return err;
	}
	while ((e = readdir(dp))) {
		if (!kmmu_damon_is_index(e->d_name))
			continue;
		for (k = 0; k < 4; k++) {
			snprintf(path, sizeof(path), "%s/%s/%s", dir, e->d_name, f[k]);
			err = kmmu_damon_read_ul(path, &v[k]);
			if (err) {
				kmmu_why(why, len, "reading %s: %s", path, strerror(-err));
				goto out;
			}
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			na = realloc(all, cap * sizeof(*all));
			if (!na) {
				err = -ENOMEM;
				kmmu_why(why, len, "%s: out of memory at %zu regions", dir, n);
				goto out;
			}
			all = na;
		}
		all[n].start = v[0];
		all[n].end = v[1];
		all[n].nr_accesses = v[2];
		all[n].age = v[3];
		n++;
	}
	qsort(all, n, sizeof(*all), kmmu_damon_region_cmp);
	for (i = 0; i < n; i++) {
		if (all[i].end <= all[i].start || (i && all[i].start < all[i - 1].end)) {
			kmmu_why(why, len, "%s: region [%#llx, %#llx) is empty or overlaps "
				 "the one before", dir, (unsigned long long)all[i].start,
				 (unsigned long long)all[i].end);
			err = -EIO;
			goto out;
		}
		*bytes += all[i].end - all[i].start;
		if (i < (size_t)max)
			out[i] = all[i];
	}
	snprintf(path, sizeof(path), "%s/total_bytes", dir);
	if (!kmmu_damon_read_ul(path, &tb))
		*total_bytes = tb;
out:
	closedir(dp);
	free(all);
	return err ? err : (int)n;
}

/*
 * Ask the kdamond to walk its regions once and read what it found; a
 * snapshot that does not cover exactly the monitored bytes is taken again.
 */
void kmmu_damon_summarize(const struct kmmu_damon_region *reg, int nr_reg,
			  const struct kmmu_phys_range *ranges, int nr_ranges,
			  struct kmmu_damon_summary *s)
{
	double weighted = 0;
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < nr_reg; i++) {
		uint64_t b = kmmu_phys_ranges_overlap(ranges, nr_ranges,
						      reg[i].start, reg[i].end);

		if (!b)
			continue;
		s->bytes += b;
		if (reg[i].nr_accesses)
			s->accessed_bytes += b;
		if (reg[i].nr_accesses > s->max_nr_accesses)
			s->max_nr_accesses = reg[i].nr_accesses;
		if (reg[i].age > s->max_age)
			s->max_age = reg[i].age;
		weighted += (double)b * reg[i].nr_accesses;
	}
	if (s->bytes)
		s->mean_nr_accesses = weighted / s->bytes;
}
