// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_churn_test --host-unmap: a host thread madvise(MADV_DONTNEED)s
 * the backing of present slots while the updater churns, and afterwards
 * every range it dropped must have been seen by KVM (kvm_unmap_hva_range).
 * Returns 0 or -errno with the reason: the verdicts are memslot_churn_test.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "memslot_churn.h"

/* ---- host unmaps (--host-unmap) ---- */

static bool ch_present(const struct ch_ctx *c, uint64_t i, uint64_t *s)
{
	*s = __atomic_load_n(&c->ss.state[i], __ATOMIC_ACQUIRE);
	return (*s & KMMU_SS_LOC_MASK) != KMMU_SS_ABSENT;
}

static void ch_record_range(struct ch_ctx *c, uint64_t start, uint64_t end)
{
	if (c->nr_ranges == c->cap_ranges) {
		size_t cap = c->cap_ranges ? 2 * c->cap_ranges : 4096;
		struct ch_range *r = realloc(c->ranges, cap * sizeof(*r));

		if (!r) {
			c->ranges_oom = true;
			c->record_ranges = false;
			return;
		}
		c->ranges = r;
		c->cap_ranges = cap;
	}
	c->ranges[c->nr_ranges++] = (struct ch_range){ start, end };
}

/*
 * One unmap: from a slot that is present -- every other time the slot of
 * the churn's latest ioctl, to hit one that is being deleted or moved, else
 * a random one (a few tries) -- up to CH_UNMAP_MAX_PAGES pages while the
 * next slots are present too.  The state words only choose; whatever the
 * churn does meanwhile, the pages are the test's (the backing outlives
 * every slot).  0, or -errno of madvise.
 */
static int ch_unmap_one(struct ch_ctx *c, uint64_t *rng)
{
	uint64_t n = c->sh->nr_slots, r = kmmu_ss_rand(rng), i = r % n, k, len, s;
	uint64_t before[CH_UNMAP_MAX_PAGES], ns;
	int tries;
	bool raced = false;

	if (r & (1ULL << 63))
		i = atomic_load_explicit(&c->churn_slot, memory_order_relaxed);
	for (tries = 0; !ch_present(c, i, &s); tries++) {
		if (tries == 8)
			return 0;
		i = kmmu_ss_rand(rng) % n;
	}
	/*
	 * The run starts at the slot just found present, with the state word
	 * that check read: looking again could find it deleted by now, and
	 * an empty madvise reaches no MMU notifier, so the event it is
	 * checked against would never come (a false alarm seen once in
	 * 70124 unmaps).  The backing outlives the slot: page i is still
	 * ours to drop.
	 */
	before[0] = s;
	len = 1 + (r >> 40) % CH_UNMAP_MAX_PAGES;
	for (k = 1; k < len && i + k < n && ch_present(c, i + k, &before[k]); k++)
		;
	len = k;
	/* Noted first: a vCPU may fail on the page before madvise returns. */
	ns = kmmu_ss_now(&c->ss.t0) * 1e9;
	for (k = 0; k < len; k++) {
		__atomic_store_n(&c->unmap_count[i + k], c->unmap_count[i + k] + 1,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&c->unmap_last_ns[i + k], ns, __ATOMIC_RELAXED);
	}
	if (madvise(c->backing + i * 4096, len * 4096, MADV_DONTNEED))
		return -errno;
	for (k = 0; k < len; k++)
		raced |= __atomic_load_n(&c->ss.state[i + k], __ATOMIC_ACQUIRE) != before[k];
	c->unmaps++;
	c->unmap_pages += len;
	c->unmaps_raced += raced;
	if (c->record_ranges)
		ch_record_range(c, (uintptr_t)c->backing + i * 4096,
				(uintptr_t)c->backing + (i + len) * 4096);
	return 0;
}

/* The unmap thread: ch_opts.host_unmap unmaps a second, no bursts after a stall. */
static void *ch_unmapper(void *arg)
{
	struct ch_ctx *c = arg;
	uint64_t rng = ch_opts.seed ^ 0x5bd1e9955bd1e995ULL;
	double period = 1.0 / ch_opts.host_unmap, next = 0, now;
	struct timespec t0;
	int r;

	if (!rng)
		rng = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!kmmu_host_thread_stopping(&c->unmapper)) {
		now = kmmu_ss_now(&t0);
		if (now < next) {
			/* At most 10 ms asleep: stop is noticed promptly. */
			double d = next - now < 0.01 ? next - now : 0.01;
			struct timespec ts = { 0, (long)(d * 1e9) };

			nanosleep(&ts, NULL);
			continue;
		}
		next = now - next > 1 ? now + period : next + period;
		r = ch_unmap_one(c, &rng);
		if (r) {
			c->unmap_err = -r;
			break;
		}
	}
	c->unmap_s = kmmu_ss_now(&t0);
	return NULL;
}

/*
 * Starts the unmap thread; when the run is checked, first a capture of
 * kvm:kvm_unmap_hva_range for this process (the checker does not capture
 * it).  0 or -errno.
 */
int ch_unmapper_start(struct ch_ctx *c, bool traced)
{
	static const char *const events[] = { "kvm:kvm_unmap_hva_range", NULL };
	struct kmmu_trace_capture_opts o = { .events = events, .buffer_kb = 1024 };
	char why[128];
	int r;

	c->unmap_count = calloc(c->ss.nr, sizeof(*c->unmap_count));
	c->unmap_last_ns = calloc(c->ss.nr, sizeof(*c->unmap_last_ns));
	if (!c->unmap_count || !c->unmap_last_ns)
		return -ENOMEM;
	if (!traced) {
		snprintf(c->unmap_why, sizeof(c->unmap_why), "the run is not traced");
	} else {
		kmmu_trace_log_init(&c->ulog);
		c->ulog_init = true;
		r = kmmu_trace_capture_start(&c->ucap, &o, &c->ulog, why, sizeof(why));
		if (r)
			snprintf(c->unmap_why, sizeof(c->unmap_why), "capture: %s", why);
		c->record_ranges = !r;
	}
	return kmmu_host_thread_start(&c->unmapper, ch_unmapper, c);
}

/* Stops and joins the thread (idempotent: also the teardown's). */
void ch_unmapper_stop(struct ch_ctx *c)
{
	kmmu_host_thread_stop(&c->unmapper);
}

static int ch_range_cmp(const void *a, const void *b)
{
	const struct ch_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/*
 * After ch_unmapper_stop(): every madvised range must have a
 * kvm_unmap_hva_range event with exactly that range (KVM's MMU notifier
 * saw it).  0 (verified, or not verifiable: c->unmap_why says why), or -1
 * with the reason in @err.
 */
int ch_unmap_verify(struct ch_ctx *c, char *err, size_t len)
{
	uint64_t base = (uintptr_t)c->backing, top = base + c->region, k;
	unsigned long long lost = 0;
	struct ch_range *ev;
	size_t nr = 0, a, b;
	int r;

	if (!c->ucap)
		return 0;
	r = kmmu_trace_capture_stop(c->ucap, &lost);
	kmmu_trace_capture_destroy(c->ucap);
	c->ucap = NULL;
	if (r) {
		snprintf(err, len, "the capture of kvm_unmap_hva_range is incomplete (%s, %llu lost)",
			 strerror(-r), lost);
		return -1;
	}
	if (c->ranges_oom) {
		snprintf(c->unmap_why, sizeof(c->unmap_why), "out of memory for the ranges");
		return 0;
	}
	ev = malloc((c->ulog.nr + 1) * sizeof(*ev));
	if (!ev) {
		snprintf(c->unmap_why, sizeof(c->unmap_why), "out of memory for the events");
		return 0;
	}
	for (k = 0; k < c->ulog.nr; k++) {
		const struct kmmu_trace_record *rec = &c->ulog.recs[k];

		if (rec->type == KMMU_EV_UNMAP_HVA_RANGE && rec->hva_range.start >= base &&
		    rec->hva_range.end <= top)
			ev[nr++] = (struct ch_range){ rec->hva_range.start, rec->hva_range.end };
	}
	c->unmap_events = nr;
	qsort(ev, nr, sizeof(*ev), ch_range_cmp);
	qsort(c->ranges, c->nr_ranges, sizeof(*c->ranges), ch_range_cmp);
	/* A multiset inclusion: both sorted, each event matches one unmap. */
	for (a = b = 0; a < c->nr_ranges; a++) {
		while (b < nr && ch_range_cmp(&ev[b], &c->ranges[a]) < 0)
			b++;
		if (b == nr || ch_range_cmp(&ev[b], &c->ranges[a])) {
			snprintf(err, len, "KVM saw no kvm_unmap_hva_range for the host's madvise of backing pages %llu..%llu (%zu of %zu unmaps checked, %zu events in the backing)",
				 (unsigned long long)((c->ranges[a].start - base) / 4096),
				 (unsigned long long)((c->ranges[a].end - base) / 4096 - 1),
				 a, c->nr_ranges, nr);
			free(ev);
			return -1;
		}
		b++;
	}
	free(ev);
	c->unmap_verified = true;
	return 0;
}

void ch_unmapper_free(struct ch_ctx *c)
{
	ch_unmapper_stop(c);
	kmmu_trace_capture_destroy(c->ucap);
	c->ucap = NULL;
	if (c->ulog_init)
		kmmu_trace_log_free(&c->ulog);
	c->ulog_init = false;
	free(c->ranges);
	free(c->unmap_count);
	free(c->unmap_last_ns);
	c->ranges = NULL;
	c->unmap_count = NULL;
	c->unmap_last_ns = NULL;
}
