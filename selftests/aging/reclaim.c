// SPDX-License-Identifier: GPL-2.0
/*
 * aging_test's reclaim variant, its run (see aging/aging.h): a zram swap
 * device and a memory cgroup, the squeeze (the cgroup asked to reclaim
 * cold/2 bytes), and what reclaim took from the hot and cold sets as
 * pagemap, KVM's pages_4k and the aging events tell, with the guest's
 * progress sampled meanwhile.  The verdicts on those numbers are
 * aging_test.c's ag_reclaim().
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest.h"
#include "kmmu/bench.h"
#include "kmmu/hygiene.h"
#include "kmmu/pagemap.h"
#include "kmmu/reclaim.h"
#include "aging.h"

/*
 * The guest's progress over time, for judging a hot page's eviction by
 * whether its vCPU touched it between two of KVM's aging calls: a thread
 * reads every vCPU's pass counter each millisecond of the squeeze, with the
 * trace clock before and after the reads.  Bounded memory (it is charged to
 * the squeezed memcg): when full, every other sample goes and the period
 * doubles.
 */
#define AG_SAMPLES_MAX	8192

struct ag_sampler {
	const struct ag_shared *sh;
	int nr_vcpus;
	pthread_t thread;
	bool started;
	int stop;
	unsigned int nr, period_ms;
	uint64_t *t;		/* [nr][2]: trace clock before, after the reads */
	uint64_t *sweeps;	/* [nr][nr_vcpus] */
};

static void ag_sampler_halve(struct ag_sampler *s)
{
	unsigned int i, nv = s->nr_vcpus;

	for (i = 0; 2 * i < s->nr; i++) {
		s->t[2 * i] = s->t[4 * i];
		s->t[2 * i + 1] = s->t[4 * i + 1];
		memmove(&s->sweeps[i * nv], &s->sweeps[2 * i * nv], nv * sizeof(uint64_t));
	}
	s->nr = i;
	s->period_ms *= 2;
}

static void *ag_sampler_fn(void *arg)
{
	struct ag_sampler *s = arg;
	int v;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		unsigned int i;

		if (s->nr == AG_SAMPLES_MAX)
			ag_sampler_halve(s);
		i = s->nr;
		s->t[2 * i] = kmmu_trace_now();
		for (v = 0; v < s->nr_vcpus; v++)
			s->sweeps[i * s->nr_vcpus + v] = AG_READ(s->sh->vcpu[v].sweeps);
		s->t[2 * i + 1] = kmmu_trace_now();
		s->nr = i + 1;
		kmmu_sleep_ms(s->period_ms);
	}
	return NULL;
}

static int ag_sampler_start(struct ag_sampler *s, const struct ag_shared *sh, int nr_vcpus)
{
	memset(s, 0, sizeof(*s));
	s->sh = sh;
	s->nr_vcpus = nr_vcpus;
	s->period_ms = 1;
	s->t = calloc(2 * AG_SAMPLES_MAX, sizeof(uint64_t));
	s->sweeps = calloc((size_t)AG_SAMPLES_MAX * nr_vcpus, sizeof(uint64_t));
	if (!s->t || !s->sweeps)
		return -ENOMEM;
	if (pthread_create(&s->thread, NULL, ag_sampler_fn, s))
		return -EAGAIN;
	s->started = true;
	return 0;
}

static void ag_sampler_stop(struct ag_sampler *s)
{
	if (!s->started)
		return;
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->thread, NULL);
	s->started = false;
}

static void ag_sampler_free(struct ag_sampler *s)
{
	ag_sampler_stop(s);
	free(s->t);
	free(s->sweeps);
	s->t = s->sweeps = NULL;
}

/*
 * Did vCPU @v make @passes complete passes within [@from, @to] (trace
 * clock)?  A sample read at or after @from saw count a, one read at or
 * before @to saw b: the passes that ended with counts a+2 .. b began after
 * the first read and ended before the second (the one ending with a+1 may
 * have begun before it).
 */
static bool ag_passes_within(const struct ag_sampler *s, int v, uint64_t from, uint64_t to,
			     unsigned int passes)
{
	unsigned int lo = 0, hi = s->nr, a, b;

	while (lo < hi) {	/* the first sample taken entirely after @from */
		unsigned int mid = (lo + hi) / 2;

		if (s->t[2 * mid] < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	a = lo;
	lo = 0;
	hi = s->nr;
	while (lo < hi) {	/* the first sample not entirely before @to */
		unsigned int mid = (lo + hi) / 2;

		if (s->t[2 * mid + 1] <= to)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || a >= s->nr)
		return false;
	b = lo - 1;
	return b > a && s->sweeps[b * s->nr_vcpus + v] >=
			s->sweeps[a * s->nr_vcpus + v] + passes + 1;
}

static int ag_pages_4k(struct ag_run *self, uint64_t *v)
{
	if (!self->stats_open)
		return -ENOENT;
	return kmmu_stats_get(&self->stats, "pages_4k", v);
}

/* Residency of the hot [0] and cold [1] pages; pagemap entries kept in self->pm. */
static int ag_residency(struct ag_run *self, struct ag_res res[2])
{
	uint64_t i, n = ag_pages();
	int r = kmmu_pagemap_read(self->mem.hva, n, self->pm);

	memset(res, 0, 2 * sizeof(*res));
	if (r)
		return r;
	for (i = 0; i < n; i++) {
		struct ag_res *x = &res[i < ag_hot_pages() ? 0 : 1];

		if (self->pm[i] & KMMU_PM_PRESENT)
			x->present++;
		else if (self->pm[i] & KMMU_PM_SWAPPED)
			x->swapped++;
		else
			x->none++;
	}
	return 0;
}

/*
 * Hot pages a late kvm_unmap_hva_range (after the squeeze's first quarter)
 * took although their vCPU made two complete passes over them between
 * KVM's last two aging calls on them before it (see the top comment of aging_test.c).
 * *@judged: the late unmaps of hot pages that had two aging calls before
 * them.  -ENOMEM if the per-page history does not fit.
 */
static int64_t ag_hot_evicted_touched(struct ag_run *self, const struct ag_sampler *smp,
				      uint64_t *judged)
{
	uint64_t hot = ag_hot_pages(), lo = (uint64_t)(uintptr_t)self->mem.hva;
	uint64_t hi = lo + hot * AG_PAGE, *prev, *last, i, p;
	uint8_t *flagged;
	int64_t bad = 0;

	*judged = 0;
	prev = calloc(hot, sizeof(*prev));
	last = calloc(hot, sizeof(*last));
	flagged = calloc(hot, 1);
	if (!prev || !last || !flagged) {
		bad = -ENOMEM;
		goto out;
	}
	for (i = 0; i < self->log.nr; i++) {
		const struct kmmu_trace_record *rec = &self->log.recs[i];
		bool age = rec->type == KMMU_EV_AGE_HVA;
		uint64_t s, e;

		if (!age && rec->type != KMMU_EV_UNMAP_HVA_RANGE)
			continue;
		s = rec->hva_range.start;
		e = rec->hva_range.end;
		if (e <= lo || s >= hi)
			continue;
		s = s < lo ? lo : s;
		e = e > hi ? hi : e;
		for (p = (s - lo) / AG_PAGE; p < (e - lo + AG_PAGE - 1) / AG_PAGE; p++) {
			if (age) {
				prev[p] = last[p];
				last[p] = rec->ts;
				continue;
			}
			if (self->t_late && rec->ts >= self->t_late && prev[p]) {
				(*judged)++;
				if (!flagged[p] &&
				    ag_passes_within(smp, p % ag_opts.vcpus, prev[p], last[p], 2)) {
					flagged[p] = 1;
					if (bad++ < 5)
						AG_LOG("hot page %llu (gpa %#llx) unmapped at %+.3f s although vCPU %llu made two passes over it between KVM's aging calls at %+.3f s and %+.3f s",
						       (unsigned long long)p,
						       (unsigned long long)(KMMU_GPA_TEST + p * AG_PAGE),
						       ((double)rec->ts - self->t_squeeze) / 1e9,
						       (unsigned long long)(p % ag_opts.vcpus),
						       ((double)prev[p] - self->t_squeeze) / 1e9,
						       ((double)last[p] - self->t_squeeze) / 1e9);
				}
			}
			/* The SPTE is gone: its aging history starts again. */
			prev[p] = last[p] = 0;
		}
	}
out:
	free(prev);
	free(last);
	free(flagged);
	return bad;
}

int ag_reclaim_run(struct ag_run *self, struct ag_reclaim *out, char *why, size_t len)
{
	uint64_t hot_pages = ag_hot_pages(), cold_pages = ag_pages() - hot_pages;
	uint64_t squeeze = ag_opts.cold_mb / 2 * AG_MIB;
	uint64_t squeeze_pages = squeeze / AG_PAGE, usage0 = 0, usage1 = 0, swap_bytes = 0, taken;
	uint64_t p4k0 = 0, p4k1 = 0, i, hot_evicted = 0, hot_evicted_late = 0, hot_aged = 0;
	uint64_t cold_aged = 0;
	uint64_t cold_unmapped = 0, hot_unmapped = 0, cold_swapped_no_unmap = 0;
	uint64_t *pm_hold = NULL, sweeps_squeeze0, sweeps_squeeze1, judged_unmaps = 0;
	struct ag_sampler smp = { 0 };
	int64_t hot_touched_evicted = 0;
	struct ag_res r0[2], r1[2], r2[2];
	bool have_p4k, squeeze_ok = true;
	char squeeze_why[sizeof(out->squeeze_why)] = "";
	double t_sq, t_hold;
	int err, k;

	err = kmmu_reclaim_probe(why, len);
	if (err)
		return AG_RUN_SKIP;
	/* The janitors fork here, before any guest memory exists. */
	if (kmmu_reclaim_init(&self->rc, why, len))
		return -1;
	err = kmmu_reclaim_swap_on(&self->rc, ag_pages() * AG_PAGE + 64 * AG_MIB, why, len);
	snprintf(self->swap_dev, sizeof(self->swap_dev), "%s", self->rc.swap_dev);
	self->zram_id = self->rc.zram_id;
	if (err == -ENODEV || err == -EBUSY)
		return AG_RUN_SKIP;
	if (err)
		return -1;
	err = kmmu_reclaim_memcg(&self->rc, why, len);
	snprintf(self->cg_dir, sizeof(self->cg_dir), "%s", self->rc.cg_dir);
	if (err == -ENODEV)
		return AG_RUN_SKIP;
	if (err)
		return -1;
	ag_capture_start(self);
	/* The runtime's own memory stays charged where the process was. */
	if (ag_vm_create(self, why, len))
		return -1;
	err = kmmu_reclaim_attach(&self->rc, 0);
	if (err)
		return ag_fail(why, len, "moving the test into the memcg: %s", strerror(-err));
	ksft_print_msg("reclaim: swap on %s, memcg v%d %s; squeeze %llu MiB = cold/2\n",
		       self->rc.swap_dev, self->rc.cg_version, self->rc.cg_dir,
		       (unsigned long long)(squeeze / AG_MIB));
	if (ag_vm_start(self, why, len))
		return -1;
	err = ag_wait_warm(self, 120);
	if (err)
		return ag_fail(why, len, "guest did not get through its first touches: %s; %s",
			       strerror(-err), kmmu_vm_errors(self->run.vm));

	err = ag_residency(self, r0);
	if (err)
		return ag_fail(why, len, "pagemap: %s", strerror(-err));
	if (r0[0].present != hot_pages)
		return ag_fail(why, len, "hot pages not all resident before the squeeze (%llu of %llu)",
			       (unsigned long long)r0[0].present, (unsigned long long)hot_pages);
	if (r0[1].present != cold_pages)
		return ag_fail(why, len, "cold pages not all resident before the squeeze (%llu of %llu)",
			       (unsigned long long)r0[1].present, (unsigned long long)cold_pages);
	have_p4k = !ag_pages_4k(self, &p4k0);
	err = kmmu_reclaim_usage(&self->rc, &usage0);
	if (err)
		return ag_fail(why, len, "the memcg's usage: %s", strerror(-err));
	if (usage0 < ag_pages() * AG_PAGE * 9 / 10)
		return ag_fail(why, len, "memcg usage %llu: the guest memory is not charged to it?",
			       (unsigned long long)usage0);

	/*
	 * The squeeze: the cgroup's own reclaim request (v2 memory.reclaim;
	 * v1 a momentary limit), in steps of an eighth, 100 ms apart, so that the guest
	 * keeps running between them (on a 1-CPU machine the reclaiming
	 * thread and the vCPU share the CPU).  Not a standing memory.high:
	 * above it, every task of the cgroup that charges memory -- the vCPU
	 * thread too, for KVM's shadow pages and for refaults -- is
	 * throttled on its way back into the guest
	 * (mem_cgroup_handle_over_high), so the guest stops touching its hot
	 * set and KVM then rightly reports it old: measured, the hot set
	 * collapsed that way.  Up to 48 steps until the squeeze is taken: a
	 * memcg whose reclaim stalls for a while gets the time (seen on a
	 * memcg v1 host whose own DAMON pageout scheme works on the same
	 * memory: 12 of 32 MiB in 16 steps).
	 */
	sweeps_squeeze0 = ag_sweeps(self, NULL);
	if (ag_sampler_start(&smp, self->sh, ag_opts.vcpus))
		return ag_fail(why, len, "cannot sample the guest's passes");
	self->t_squeeze = kmmu_trace_now();
	t_sq = kmmu_now();
	/*
	 * What the steps took, each measured around its own request: the
	 * usage seen after the pause also counts the hot pages the guest
	 * faulted back meanwhile, and squeezing until that dropped by the
	 * squeeze took 70 MiB for a 32 MiB squeeze when the vCPU was busy
	 * refaulting (a loaded host): reclaim then rightly ate the hot set.
	 */
	for (k = 1, taken = 0; k <= 48 && taken < squeeze; k++) {
		uint64_t before, after;

		if (kmmu_reclaim_usage(&self->rc, &before))
			before = 0;
		err = kmmu_reclaim_reclaim(&self->rc, squeeze / 8);
		if (!kmmu_reclaim_usage(&self->rc, &after) && after < before)
			taken += before - after;
		/*
		 * -EAGAIN: the cgroup found nothing more to take this time;
		 * -EINTR: memory.reclaim gives up when a signal is pending
		 * for the writer.  Neither is a refusal; the next step asks
		 * again.
		 */
		if (err && err != -EAGAIN && err != -EINTR) {
			ksft_print_msg("reclaim: step %d: %s\n", k, strerror(-err));
			snprintf(squeeze_why, sizeof(squeeze_why),
				 "step %d of the squeeze: %s", k, strerror(-err));
			squeeze_ok = false;
			break;
		}
		if (!self->t_late && taken >= squeeze / 4)
			self->t_late = kmmu_trace_now();
		kmmu_sleep_ms(100);
	}
	t_sq = kmmu_now() - t_sq;
	/* A while after it, the hot set still in use. */
	t_hold = kmmu_now();
	kmmu_sleep_ms(1000);
	sweeps_squeeze1 = ag_sweeps(self, NULL);
	ag_sampler_stop(&smp);
	err = ag_residency(self, r1);
	if (err)
		return ag_fail(why, len, "pagemap: %s", strerror(-err));
	pm_hold = malloc(ag_pages() * sizeof(uint64_t));
	if (!pm_hold)
		return ag_fail(why, len, "out of memory");
	memcpy(pm_hold, self->pm, ag_pages() * sizeof(uint64_t));
	kmmu_reclaim_usage(&self->rc, &usage1);
	kmmu_reclaim_swap_usage(&self->rc, &swap_bytes);
	/* No limit is left standing: no more cgroup reclaim from here on. */
	t_hold = kmmu_now() - t_hold;
	if (!ag_opts.control) {
		/* Every hot page touched twice since: whatever reclaim took is back. */
		err = ag_wait_sweeps(self, 2, 60);
		if (err)
			return ag_fail(why, len, "guest stopped sweeping: %s",
				       kmmu_vm_errors(self->run.vm));
	}
	err = ag_stop_guest(self);
	if (err)
		return ag_fail(why, len, "vCPUs: %s", kmmu_vm_errors(self->run.vm));
	err = ag_residency(self, r2);
	if (err)
		return ag_fail(why, len, "pagemap: %s", strerror(-err));
	if (have_p4k)
		have_p4k = !ag_pages_4k(self, &p4k1);
	ag_capture_finish(self);
	if (self->ev.captured)
		hot_touched_evicted = ag_hot_evicted_touched(self, &smp, &judged_unmaps);
	ag_sampler_free(&smp);
	if (hot_touched_evicted < 0)
		return ag_fail(why, len, "judging the hot pages' evictions: %s",
			       strerror((int)-hot_touched_evicted));

	for (i = 0; i < ag_pages(); i++) {
		bool hot = i < hot_pages;
		bool evicted = (pm_hold[i] & KMMU_PM_SWAPPED) || (self->evflags[i] & AG_EV_UNMAPPED);

		if (hot) {
			hot_evicted += evicted;
			hot_evicted_late += (pm_hold[i] & KMMU_PM_SWAPPED) ||
					    (self->evflags[i] & AG_EV_UNMAPPED_LATE);
			hot_aged += !!(self->evflags[i] & AG_EV_AGED);
			hot_unmapped += !!(self->evflags[i] & AG_EV_UNMAPPED);
		} else {
			cold_aged += !!(self->evflags[i] & AG_EV_AGED);
			cold_unmapped += !!(self->evflags[i] & AG_EV_UNMAPPED);
			if ((self->pm[i] & KMMU_PM_SWAPPED) && !(self->evflags[i] & AG_EV_UNMAPPED_ANY))
				cold_swapped_no_unmap++;
		}
	}
	if (ag_opts.invert_one) {
		/* A cold page reclaim evicted is now expected to be hot. */
		for (i = hot_pages; i < ag_pages(); i++)
			if (self->pm[i] & KMMU_PM_SWAPPED)
				break;
		if (i < ag_pages()) {
			self->expect_hot[i] = 1;
			ksft_print_msg("INJECTED: the expectation for gpa %#llx (cold page %llu) is inverted to hot\n",
				       (unsigned long long)(KMMU_GPA_TEST + i * AG_PAGE),
				       (unsigned long long)(i - hot_pages));
		} else {
			ksft_print_msg("INJECTED: no evicted cold page whose expectation could be inverted\n");
		}
	}

	ksft_print_msg("reclaim%s: memcg usage %llu MiB -> %llu MiB after the squeeze, memcg swap %llu MiB; squeeze took %.2f s, held %.2f s; guest passes during squeeze+hold %llu\n",
		       ag_opts.control ? " (CONTROL: hot set idle)" : "",
		       (unsigned long long)(usage0 / AG_MIB), (unsigned long long)(usage1 / AG_MIB),
		       (unsigned long long)(swap_bytes / AG_MIB), t_sq, t_hold,
		       (unsigned long long)(sweeps_squeeze1 - sweeps_squeeze0));
	ksft_print_msg("reclaim: after the squeeze HOT %llu/%llu resident (%.1f%%), %llu swapped; COLD %llu/%llu resident (%.1f%%), %llu swapped\n",
		       (unsigned long long)r1[0].present, (unsigned long long)hot_pages,
		       100.0 * r1[0].present / hot_pages, (unsigned long long)r1[0].swapped,
		       (unsigned long long)r1[1].present, (unsigned long long)cold_pages,
		       100.0 * r1[1].present / cold_pages, (unsigned long long)r1[1].swapped);
	ksft_print_msg("reclaim: at the end       HOT %llu/%llu resident, %llu swapped; COLD %llu/%llu resident, %llu swapped\n",
		       (unsigned long long)r2[0].present, (unsigned long long)hot_pages,
		       (unsigned long long)r2[0].swapped, (unsigned long long)r2[1].present,
		       (unsigned long long)cold_pages, (unsigned long long)r2[1].swapped);
	ksft_print_msg("reclaim: pages aged by KVM (kvm_age_hva): hot %llu/%llu, cold %llu/%llu; unmapped by KVM (kvm_unmap_hva_range): hot %llu, cold %llu; hot pages evicted %llu, after the first quarter %llu\n",
		       (unsigned long long)hot_aged, (unsigned long long)hot_pages,
		       (unsigned long long)cold_aged, (unsigned long long)cold_pages,
		       (unsigned long long)hot_unmapped, (unsigned long long)cold_unmapped,
		       (unsigned long long)hot_evicted, (unsigned long long)hot_evicted_late);
	if (self->ev.captured)
		ksft_print_msg("reclaim: late unmaps of hot pages after two aging calls %llu; hot pages among them touched twice between the calls %lld (guest passes sampled %u times, every %u ms at the end)\n",
			       (unsigned long long)judged_unmaps, (long long)hot_touched_evicted,
			       smp.nr, smp.period_ms);
	if (have_p4k)
		ksft_print_msg("reclaim: KVM pages_4k %llu -> %llu (drop %lld)\n",
			       (unsigned long long)p4k0, (unsigned long long)p4k1,
			       (long long)(p4k0 - p4k1));
	free(pm_hold);
	/* What the verdicts need, all at once (the arrays after). */
	*out = (struct ag_reclaim){
		.squeeze_pages = squeeze_pages, .t_sq = t_sq, .squeeze_ok = squeeze_ok,
		.hot_evicted = hot_evicted, .hot_evicted_late = hot_evicted_late,
		.hot_aged = hot_aged, .hot_touched_evicted = hot_touched_evicted,
		.cold_swapped_no_unmap = cold_swapped_no_unmap,
		.have_p4k = have_p4k, .p4k0 = p4k0, .p4k1 = p4k1,
	};
	memcpy(out->r1, r1, sizeof(r1));
	memcpy(out->r2, r2, sizeof(r2));
	memcpy(out->squeeze_why, squeeze_why, sizeof(squeeze_why));
	return 0;
}
