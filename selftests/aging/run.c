// SPDX-License-Identifier: GPL-2.0
/*
 * aging_test: what both variants share (see aging/aging.h): the guest,
 * its VM and memory, the all-process capture of the aging events and
 * their attribution to guest pages, the guest's progress, the checker.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest.h"
#include "kmmu/bench.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/trace_session.h"
#include "aging.h"

int ag_fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* The guest: the hot set, then the cold set, then the hot set over and over. */
void ag_guest(uint32_t v, void *arg)
{
	struct ag_shared *sh = arg;
	uint64_t nr = sh->nr_vcpus, i;

	/* Hot first: the older pages on the LRU (see the top comment of aging_test.c). */
	for (i = v; i < sh->hot_pages; i += nr)
		*(volatile uint64_t *)(sh->hot_gva + i * AG_PAGE) = AG_VALUE(i);
	__atomic_add_fetch(&sh->hot_done, 1, __ATOMIC_SEQ_CST);
	while (AG_READ(sh->hot_done) < nr)
		;
	for (i = v; i < sh->cold_pages; i += nr)
		*(volatile uint64_t *)(sh->cold_gva + i * AG_PAGE) = AG_VALUE(sh->hot_pages + i);
	__atomic_add_fetch(&sh->cold_done, 1, __ATOMIC_SEQ_CST);
	while (!AG_READ(sh->stop)) {
		if (!sh->control)
			for (i = v; i < sh->hot_pages; i += nr)
				(*(volatile uint64_t *)(sh->hot_gva + i * AG_PAGE + 8))++;
		sh->vcpu[v].sweeps++;
	}
}

/*
 * All-process capture of the three aging events (see the top comment of aging_test.c).
 * Must run before guest memory exists: it forks a janitor.
 */
void ag_capture_start(struct ag_run *self)
{
	static const char *const events[] = {
		"kvm:kvm_age_hva", "kvm:kvm_test_age_hva", "kvm:kvm_unmap_hva_range",
		"kvmmmu:kvm_tdp_mmu_spte_changed", NULL,
	};
	struct kmmu_trace_capture_opts o = { .events = events, .all_pids = true };
	int r;

	kmmu_trace_log_init(&self->log);
	self->log_inited = true;
	r = kmmu_trace_capture_start(&self->cap, &o, &self->log, self->ev.why,
				     sizeof(self->ev.why));
	if (r) {
		self->cap = NULL;
		ksft_print_msg("aging events: not captured (%s)\n", self->ev.why);
		return;
	}
	snprintf(self->cap_instance, sizeof(self->cap_instance), "%s",
		 kmmu_trace_capture_instance_name(self->cap));
	if (kmmu_trace_capture_missing(self->cap)[0])
		ksft_print_msg("aging events this kernel lacks: %s\n",
			       kmmu_trace_capture_missing(self->cap));
}

/* Whether a notifier call @r is about this VM's guest memory. */
static bool ag_guest_hva(const struct kmmu_trace_record *r, void *ctx)
{
	struct ag_run *self = ctx;
	uint64_t lo = (uint64_t)(uintptr_t)self->mem.hva, hi = lo + self->mem.size;

	if (r->type == KMMU_EV_TEST_AGE_HVA)
		return r->test_age.hva >= lo && r->test_age.hva < hi;
	return r->hva_range.start < hi && lo < r->hva_range.end;
}

/*
 * Other tasks' notifier calls on guest memory go to the checker with the
 * SPTE changes they made (kmmu_trace_session_add_foreign()).
 */
static void ag_merge_foreign(struct ag_run *self)
{
	uint64_t merged;

	if (kmmu_trace_session_add_foreign(self->run.trace, &self->log, ag_guest_hva, self, &merged))
		return;
	ksft_print_msg("checker: %llu records of other tasks' aging and unmapping of guest memory handed over\n",
		       (unsigned long long)merged);
}

/* Stop the capture and attribute the events to guest pages. */
void ag_capture_finish(struct ag_run *self)
{
	uint64_t lo = (uint64_t)(uintptr_t)self->mem.hva, hi = lo + self->mem.size, i, p;
	unsigned long long lost = 0;
	int r;

	if (!self->cap)
		return;
	r = kmmu_trace_capture_stop(self->cap, &lost);
	if (r) {
		snprintf(self->ev.why, sizeof(self->ev.why), "%s (%llu events lost)",
			 r == -ENOMEM ? "out of memory" : "the kernel dropped events", lost);
	}
	kmmu_trace_log_sort(&self->log);
	if (!r)
		ag_merge_foreign(self);
	for (i = 0; i < self->log.nr; i++) {
		const struct kmmu_trace_record *rec = &self->log.recs[i];
		uint64_t s, e;
		uint8_t bit;

		switch (rec->type) {
		case KMMU_EV_AGE_HVA:
			self->ev.all_ages++;
			bit = AG_EV_AGED;
			s = rec->hva_range.start;
			e = rec->hva_range.end;
			break;
		case KMMU_EV_UNMAP_HVA_RANGE:
			self->ev.all_unmaps++;
			bit = AG_EV_UNMAPPED;
			s = rec->hva_range.start;
			e = rec->hva_range.end;
			break;
		case KMMU_EV_TEST_AGE_HVA:
			self->ev.all_tests++;
			bit = AG_EV_TESTED;
			s = rec->test_age.hva;
			e = s + 1;
			break;
		default:
			continue;
		}
		if (e <= lo || s >= hi)
			continue;
		if (bit == AG_EV_UNMAPPED) {
			if (rec->ts < self->t_squeeze) {
				self->ev.unmaps_before++;
				bit = AG_EV_UNMAPPED_ANY;
			} else {
				bit |= AG_EV_UNMAPPED_ANY;
			}
			if (self->t_late && rec->ts >= self->t_late)
				bit |= AG_EV_UNMAPPED_LATE;
		}
		if (bit == AG_EV_AGED)
			self->ev.ages++;
		else if (bit & AG_EV_UNMAPPED_ANY)
			self->ev.unmaps++;
		else
			self->ev.tests++;
		if (s < lo)
			s = lo;
		if (e > hi)
			e = hi;
		for (p = (s - lo) / AG_PAGE; p < (e - lo + AG_PAGE - 1) / AG_PAGE; p++)
			self->evflags[p] |= bit;
	}
	self->ev.captured = !r;
	ksft_print_msg("aging events for guest memory: kvm_age_hva %llu, kvm_test_age_hva %llu, kvm_unmap_hva_range %llu, %llu of them before the squeeze (all processes: %llu, %llu, %llu)%s%s\n",
		       (unsigned long long)self->ev.ages, (unsigned long long)self->ev.tests,
		       (unsigned long long)self->ev.unmaps, (unsigned long long)self->ev.unmaps_before,
		       (unsigned long long)self->ev.all_ages,
		       (unsigned long long)self->ev.all_tests, (unsigned long long)self->ev.all_unmaps,
		       r ? "; INCOMPLETE: " : "", r ? self->ev.why : "");
}

/*
 * The VM, its page tables and shared page (no guest memory yet), and the
 * checker's session (this process only: the memslot and SPTE properties).
 * Both fork janitors: before guest memory exists.
 */
int ag_vm_create(struct ag_run *self, char *err, size_t len)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = ag_opts.vcpus };
	uint64_t size = ag_pages() * AG_PAGE;
	int r;

	kmmu_test_run_trace(&self->run, "aging_test", &vo, err, len);

	vo.shared_size = sizeof(struct ag_shared) + AG_PAGE;
	vo.pt_pages = 1024 + kmmu_pt_pages_for(size);
	r = __kmmu_vm_create(&self->run.vm, &vo, err, len);
	if (r)
		return r;
	kmmu_trace_session_vm(self->run.trace, kmmu_kvm_cap(kmmu_vm_fd(self->run.vm),
							KVM_CAP_MULTI_ADDRESS_SPACE));
	r = __kmmu_vm_map(self->run.vm, KMMU_GPA_TEST, KMMU_GPA_TEST, size,
			  KMMU_MAP_WRITE | KMMU_MAP_NX);
	if (r) {
		snprintf(err, len, "mapping the test region: %s", strerror(-r));
		return r;
	}
	self->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(struct ag_shared), &self->sh_gva);
	if (!self->sh) {
		snprintf(err, len, "no shared region");
		return -ENOMEM;
	}
	self->sh->hot_gva = KMMU_GPA_TEST;
	self->sh->hot_pages = ag_hot_pages();
	self->sh->cold_gva = KMMU_GPA_TEST + ag_hot_pages() * AG_PAGE;
	self->sh->cold_pages = ag_pages() - ag_hot_pages();
	self->sh->nr_vcpus = ag_opts.vcpus;
	self->sh->control = ag_opts.control || ag_opts.idle_hot;
	self->evflags = calloc(ag_pages(), 1);
	self->expect_hot = calloc(ag_pages(), 1);
	self->pm = calloc(ag_pages(), sizeof(uint64_t));
	if (!self->evflags || !self->expect_hot || !self->pm)
		return -ENOMEM;
	/* The expectation: hot pages are young, cold ones are not. */
	memset(self->expect_hot, 1, ag_hot_pages());
	return 0;
}

/* Guest memory (in whatever memcg the process is in now), slot, vCPUs. */
int ag_vm_start(struct ag_run *self, char *err, size_t len)
{
	uint64_t size = ag_pages() * AG_PAGE;
	int r;

	r = kmmu_mem_alloc(&self->mem, size, KMMU_BACKING_ANON, -1);
	if (r) {
		snprintf(err, len, "guest memory: %s", strerror(-r));
		return r;
	}
	if (madvise(self->mem.hva, size, MADV_NOHUGEPAGE) ||
	    madvise(self->mem.hva, size, MADV_DONTFORK)) {
		snprintf(err, len, "madvise: %s", strerror(errno));
		return -errno;
	}
	r = __kmmu_slot_add(self->run.vm, KMMU_SLOT_FIRST_FREE, KMMU_GPA_TEST, size, self->mem.hva, 0);
	if (r) {
		snprintf(err, len, "memslot: %s", strerror(-r));
		return r;
	}
	if (!kmmu_stats_open(&self->stats, kmmu_vm_fd(self->run.vm)))
		self->stats_open = true;
	r = __kmmu_vm_start(self->run.vm, ag_guest, (void *)(uintptr_t)self->sh_gva);
	if (r)
		snprintf(err, len, "starting vCPUs: %s", strerror(-r));
	return r;
}

/* Sum of the guest's main-loop passes; -1 once a vCPU failed. */
int64_t ag_sweeps(struct ag_run *self, uint64_t *min)
{
	uint64_t m = ~0ULL, sum = 0;
	int v;

	if (kmmu_vm_failed(self->run.vm))
		return -1;
	for (v = 0; v < ag_opts.vcpus; v++) {
		uint64_t s = AG_READ(self->sh->vcpu[v].sweeps);

		sum += s;
		if (s < m)
			m = s;
	}
	if (min)
		*min = m;
	return sum;
}

/* Wait until every vCPU made @n more passes (0) or @timeout_s passed. */
int ag_wait_sweeps(struct ag_run *self, uint64_t n, double timeout_s)
{
	uint64_t start[KMMU_MAX_VCPUS];
	double t0 = kmmu_now();
	int v, done;

	for (v = 0; v < ag_opts.vcpus; v++)
		start[v] = AG_READ(self->sh->vcpu[v].sweeps);
	do {
		if (kmmu_vm_failed(self->run.vm))
			return -EIO;
		for (v = 0, done = 1; v < ag_opts.vcpus; v++)
			if (AG_READ(self->sh->vcpu[v].sweeps) - start[v] < n)
				done = 0;
		if (done)
			return 0;
		kmmu_sleep_ms(5);
	} while (kmmu_now() - t0 < timeout_s);
	return -ETIMEDOUT;
}

/* Until both phases are done and the main loop runs. */
int ag_wait_warm(struct ag_run *self, double timeout_s)
{
	double t0 = kmmu_now();

	while (AG_READ(self->sh->cold_done) < (uint64_t)ag_opts.vcpus) {
		if (kmmu_vm_failed(self->run.vm))
			return -EIO;
		if (kmmu_now() - t0 > timeout_s)
			return -ETIMEDOUT;
		kmmu_sleep_ms(10);
	}
	/* The guest never touches the cold set again: the checker holds aging to that. */
	if (self->run.trace) {
		struct kmmu_trace_record idle;

		kmmu_rec_stamp(&idle, KMMU_ACT_IDLE);
		idle.idle.gpa = self->sh->cold_gva;
		idle.idle.size = self->sh->cold_pages * AG_PAGE;
		kmmu_trace_log_append(kmmu_trace_session_log(self->run.trace), &idle);
	}
	return ag_wait_sweeps(self, 2, timeout_s);
}

/* The guest leaves its main loop; the vCPUs are joined. */
int ag_stop_guest(struct ag_run *self)
{
	__atomic_store_n(&self->sh->stop, 1, __ATOMIC_RELEASE);
	return __kmmu_vm_wait(self->run.vm, 60);
}

/* The checker's verdicts on the run: memslots, SPTEs, page stats and aging. */
int ag_check(struct ag_run *self)
{
	return kmmu_test_run_check(&self->run);
}
