// SPDX-License-Identifier: GPL-2.0
/*
 * The record log and the records' names and text form.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/grow.h"
#include "kmmu/trace_log.h"

static const char *const rec_names[KMMU_REC_TYPE_MAX] = {
	[KMMU_EV_SET_SPTE] = "kvm_mmu_set_spte",
	[KMMU_EV_SPTE_REQUESTED] = "kvm_mmu_spte_requested",
	[KMMU_EV_GET_PAGE] = "kvm_mmu_get_page",
	[KMMU_EV_PREPARE_ZAP_PAGE] = "kvm_mmu_prepare_zap_page",
	[KMMU_EV_ZAP_ALL_FAST] = "kvm_mmu_zap_all_fast",
	[KMMU_EV_MARK_MMIO_SPTE] = "mark_mmio_spte",
	[KMMU_EV_CHECK_MMIO_SPTE] = "check_mmio_spte",
	[KMMU_EV_HANDLE_MMIO_PAGE_FAULT] = "handle_mmio_page_fault",
	[KMMU_EV_FAST_PAGE_FAULT] = "fast_page_fault",
	[KMMU_EV_MMIO] = "kvm_mmio",
	[KMMU_EV_PAGE_FAULT] = "kvm_page_fault",
	[KMMU_EV_AGE_HVA] = "kvm_age_hva",
	[KMMU_EV_TEST_AGE_HVA] = "kvm_test_age_hva",
	[KMMU_EV_UNMAP_HVA_RANGE] = "kvm_unmap_hva_range",
	[KMMU_EV_USERSPACE_EXIT] = "kvm_userspace_exit",
	[KMMU_EV_MARKER] = "print",
	[KMMU_EV_SYS_ENTER] = "sys_enter",
	[KMMU_EV_SPTE_CHANGED] = "kvm_tdp_mmu_spte_changed",
	[KMMU_EV_SPLIT_HUGE_PAGE] = "kvm_mmu_split_huge_page",
	[KMMU_EV_DAMON_AGGREGATED] = "damon_aggregated",
	[KMMU_EV_SHADOW_SPTE_CLEAR] = "kprobe:mmu_spte_clear_track_bits",
	[KMMU_EV_SHADOW_SPTE_AGE] = "kprobe:mmu_spte_age",
	[KMMU_ACT_SET_MEMSLOT] = "action:set_memslot",
	[KMMU_ACT_GUEST_ACCESS] = "action:guest_access",
	[KMMU_ACT_MMIO_EXIT] = "action:mmio_exit",
	[KMMU_ACT_AGE_REQUEST] = "action:age_request",
	[KMMU_ACT_VM_CREATE] = "action:vm_create",
	[KMMU_ACT_VM_CLOSE] = "action:vm_close",
	[KMMU_ACT_STATS] = "action:stats",
	[KMMU_ACT_HOST] = "action:host",
	[KMMU_ACT_IDLE] = "action:idle",
	[KMMU_ACT_GET_DIRTY_LOG] = "action:get_dirty_log",
	[KMMU_ACT_CLEAR_DIRTY_LOG] = "action:clear_dirty_log",
	[KMMU_ACT_DIRTY_LOG_PROTECT] = "action:dirty_log_protect",
};

const char *kmmu_rec_type_name(unsigned int type)
{
	if (type < KMMU_REC_TYPE_MAX && rec_names[type])
		return rec_names[type];
	return "unknown";
}

int kmmu_rec_format(const struct kmmu_trace_record *r, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%" PRIu64 ".%09" PRIu64 " cpu%u pid %d %s:",
			 r->ts / 1000000000, r->ts % 1000000000, r->cpu, r->pid,
			 kmmu_rec_type_name(r->type));

	if (n < 0 || (size_t)n >= len)
		return n;
	buf += n;
	len -= n;

	switch (r->type) {
	case KMMU_EV_SET_SPTE:
		return snprintf(buf, len, " gfn %#" PRIx64 " spte %#" PRIx64 " level %u sptep %#" PRIx64,
				r->set_spte.gfn, r->set_spte.spte, r->set_spte.level, r->set_spte.sptep);
	case KMMU_EV_SPTE_REQUESTED:
		return snprintf(buf, len, " gfn %#" PRIx64 " pfn %#" PRIx64 " level %u",
				r->spte_requested.gfn, r->spte_requested.pfn, r->spte_requested.level);
	case KMMU_EV_GET_PAGE:
	case KMMU_EV_PREPARE_ZAP_PAGE:
		return snprintf(buf, len, " gfn %#" PRIx64 " role %#x level %u gen %u root_count %u%s%s",
				r->sp.gfn, r->sp.role, r->sp.role & 0xf, r->sp.mmu_valid_gen,
				r->sp.root_count, r->sp.unsync ? " unsync" : "",
				r->type == KMMU_EV_GET_PAGE && r->sp.created ? " created" : "");
	case KMMU_EV_ZAP_ALL_FAST:
		return snprintf(buf, len, " gen %u used_pages %u",
				r->zap_all_fast.mmu_valid_gen, r->zap_all_fast.used_pages);
	case KMMU_EV_MARK_MMIO_SPTE:
		return snprintf(buf, len, " gfn %#" PRIx64 " access %#x gen %u",
				r->mark_mmio.gfn, r->mark_mmio.access, r->mark_mmio.gen);
	case KMMU_EV_CHECK_MMIO_SPTE:
		return snprintf(buf, len, " spte %#" PRIx64 " kvm_gen %u spte_gen %u",
				r->check_mmio.spte, r->check_mmio.kvm_gen, r->check_mmio.spte_gen);
	case KMMU_EV_HANDLE_MMIO_PAGE_FAULT:
		return snprintf(buf, len, " addr %#" PRIx64 " gfn %#" PRIx64 " access %#x",
				r->mmio_pf.addr, r->mmio_pf.gfn, r->mmio_pf.access);
	case KMMU_EV_FAST_PAGE_FAULT:
		return snprintf(buf, len, " vcpu %d gpa %#" PRIx64 " ec %#" PRIx64 " old %#" PRIx64
				" new %#" PRIx64 " ret %d", r->fast_pf.vcpu_id, r->fast_pf.gpa,
				r->fast_pf.error_code, r->fast_pf.old_spte, r->fast_pf.new_spte,
				r->fast_pf.ret);
	case KMMU_EV_MMIO:
		return snprintf(buf, len, " type %u len %u gpa %#" PRIx64 " val %#" PRIx64,
				r->mmio.type, r->mmio.len, r->mmio.gpa, r->mmio.val);
	case KMMU_EV_PAGE_FAULT:
		return snprintf(buf, len, " vcpu %u rip %#" PRIx64 " address %#" PRIx64 " ec %#" PRIx64,
				r->page_fault.vcpu_id, r->page_fault.rip, r->page_fault.address,
				r->page_fault.error_code);
	case KMMU_EV_AGE_HVA:
	case KMMU_EV_UNMAP_HVA_RANGE:
	case KMMU_ACT_AGE_REQUEST:
		return snprintf(buf, len, " hva %#" PRIx64 "-%#" PRIx64 "%s",
				r->hva_range.start, r->hva_range.end,
				r->hva_range.untraced ? " (another task: untraced)" : "");
	case KMMU_EV_SPTE_CHANGED:
		return snprintf(buf, len, " as %u gfn %#" PRIx64 " level %u old %#" PRIx64
				" new %#" PRIx64, r->spte_changed.as_id, r->spte_changed.gfn,
				r->spte_changed.level, r->spte_changed.old_spte,
				r->spte_changed.new_spte);
	case KMMU_EV_SPLIT_HUGE_PAGE:
		return snprintf(buf, len, " gfn %#" PRIx64 " spte %#" PRIx64 " level %u errno %d",
				r->split.gfn, r->split.spte, r->split.level, r->split.err);
	case KMMU_EV_DAMON_AGGREGATED:
		return snprintf(buf, len, " target %" PRIu64 " region %#" PRIx64 "-%#" PRIx64
				" of %u accesses %u age %u%s", r->damon.target_id, r->damon.start,
				r->damon.end, r->damon.nr_regions, r->damon.nr_accesses, r->damon.age,
				r->damon.lost_before ? " (events lost before)" : "");
	case KMMU_ACT_STATS:
		return snprintf(buf, len, " pages_4k %" PRIu64 " pages_2m %" PRIu64 " pages_1g %"
				PRIu64 " of %u VM(s) (VM %u) flags %#x (read in %" PRIu64 " ns)",
				r->stats.pages[0], r->stats.pages[1], r->stats.pages[2],
				r->stats.nr_vms, r->stats.vm, r->stats.flags, r->ts - r->stats.start_ts);
	case KMMU_ACT_HOST:
		return snprintf(buf, len, " backend %u tdp %d tdp_mmu %d kprobes %#x inlined %#x",
				r->host.backend, r->host.tdp, r->host.tdp_mmu, r->host.kprobes,
				r->host.kprobes_inlined);
	case KMMU_EV_SHADOW_SPTE_CLEAR:
	case KMMU_EV_SHADOW_SPTE_AGE:
		return snprintf(buf, len, " sptep %#" PRIx64 " (direct map at %#" PRIx64 ") old %#"
				PRIx64, r->shadow_spte.sptep, r->shadow_spte.page_offset,
				r->shadow_spte.old_spte);
	case KMMU_ACT_IDLE:
		return snprintf(buf, len, " gpa %#" PRIx64 "+%#" PRIx64, r->idle.gpa, r->idle.size);
	case KMMU_EV_TEST_AGE_HVA:
		return snprintf(buf, len, " hva %#" PRIx64, r->test_age.hva);
	case KMMU_EV_USERSPACE_EXIT:
		return snprintf(buf, len, " reason %u errno %d", r->uexit.reason, r->uexit.err);
	case KMMU_EV_MARKER:
		return snprintf(buf, len, " %#" PRIx64, r->marker.value);
	case KMMU_ACT_VM_CREATE:
		return snprintf(buf, len, " VM %u address spaces %u", r->vm.id,
				r->vm.nr_address_spaces);
	case KMMU_ACT_VM_CLOSE:
		return snprintf(buf, len, " VM %u", r->vm.id);
	case KMMU_EV_SYS_ENTER:
		return snprintf(buf, len, " NR %" PRIu64, r->sys_enter.id);
	case KMMU_ACT_SET_MEMSLOT:
		return snprintf(buf, len, " VM %u slot %u:%u flags %#x gpa %#" PRIx64 " size %#" PRIx64
				" hva %#" PRIx64 " ret %d (issued %" PRIu64 " ns before)",
				r->memslot.vm, r->memslot.slot >> 16,
				r->memslot.slot & 0xffff, r->memslot.flags, r->memslot.gpa,
				r->memslot.size, r->memslot.hva, r->memslot.ret,
				r->ts - r->memslot.start_ts);
	case KMMU_ACT_GET_DIRTY_LOG:
		return snprintf(buf, len, " VM %u slot %u:%u ret %d (issued %" PRIu64 " ns before)",
				r->dirty_log.vm, r->dirty_log.slot >> 16, r->dirty_log.slot & 0xffff,
				r->dirty_log.ret, r->ts - r->dirty_log.start_ts);
	case KMMU_ACT_CLEAR_DIRTY_LOG:
		return snprintf(buf, len, " VM %u slot %u:%u pages %#" PRIx64 "+%#x ret %d (issued %"
				PRIu64 " ns before)", r->dirty_log.vm, r->dirty_log.slot >> 16,
				r->dirty_log.slot & 0xffff, r->dirty_log.first_page,
				r->dirty_log.num_pages, r->dirty_log.ret,
				r->ts - r->dirty_log.start_ts);
	case KMMU_ACT_DIRTY_LOG_PROTECT:
		return snprintf(buf, len, " VM %u flags %#" PRIx64 " ret %d (issued %" PRIu64
				" ns before)", r->protect_cap.vm, r->protect_cap.flags,
				r->protect_cap.ret, r->ts - r->protect_cap.start_ts);
	case KMMU_ACT_GUEST_ACCESS:
	case KMMU_ACT_MMIO_EXIT:
		return snprintf(buf, len, " vcpu %u %s gpa %#" PRIx64 " value %#" PRIx64 " %s",
				r->access.vcpu, r->access.write ? "write" : "read", r->access.gpa,
				r->access.value,
				r->access.outcome == KMMU_ACCESS_MMIO ? "mmio" : "ram");
	default:
		return snprintf(buf, len, " (no fields)");
	}
}

void kmmu_trace_log_init(struct kmmu_trace_log *log)
{
	memset(log, 0, sizeof(*log));
	pthread_mutex_init(&log->lock, NULL);
}

void kmmu_trace_log_free(struct kmmu_trace_log *log)
{
	free(log->recs);
	pthread_mutex_destroy(&log->lock);
	memset(log, 0, sizeof(*log));
}

int kmmu_trace_log_append(struct kmmu_trace_log *log, const struct kmmu_trace_record *rec)
{
	int ret = 0;

	pthread_mutex_lock(&log->lock);
	if (kmmu_grow(&log->recs, &log->capacity, log->nr, 1, 4096)) {
		log->oom = true;
		ret = -ENOMEM;
		goto out;
	}
	log->recs[log->nr++] = *rec;
out:
	pthread_mutex_unlock(&log->lock);
	return ret;
}

/*
 * Merge sort: qsort is not stable, and the order of equal timestamps (an
 * action and the events it caused) carries meaning.
 */
static void merge_sort(struct kmmu_trace_record *a, struct kmmu_trace_record *tmp, uint64_t n)
{
	uint64_t mid = n / 2, i = 0, j = mid, k = 0;

	if (n < 2)
		return;
	merge_sort(a, tmp, mid);
	merge_sort(a + mid, tmp, n - mid);
	if (a[mid - 1].ts <= a[mid].ts)
		return;
	while (i < mid && j < n)
		tmp[k++] = a[j].ts < a[i].ts ? a[j++] : a[i++];
	while (i < mid)
		tmp[k++] = a[i++];
	memcpy(a, tmp, k * sizeof(*a));
}

void kmmu_trace_log_sort(struct kmmu_trace_log *log)
{
	struct kmmu_trace_record *tmp;

	if (log->nr < 2)
		return;
	tmp = malloc(log->nr * sizeof(*tmp));
	if (!tmp) {
		/* Insertion sort needs no memory; logs are mostly sorted already. */
		for (uint64_t i = 1; i < log->nr; i++) {
			struct kmmu_trace_record r = log->recs[i];
			uint64_t j = i;

			for (; j > 0 && log->recs[j - 1].ts > r.ts; j--)
				log->recs[j] = log->recs[j - 1];
			log->recs[j] = r;
		}
		return;
	}
	merge_sort(log->recs, tmp, log->nr);
	free(tmp);
}

int kmmu_trace_log_merge_sorted(struct kmmu_trace_log *log, const struct kmmu_trace_record *add,
				uint64_t n)
{
	uint64_t i, j, k;
	int ret = 0;

	if (!n)
		return 0;
	pthread_mutex_lock(&log->lock);
	if (kmmu_grow(&log->recs, &log->capacity, log->nr, n, 4096)) {
		log->oom = true;
		ret = -ENOMEM;
		goto out;
	}
	/* From the back, in place; on equal timestamps @add's go after the log's. */
	i = log->nr;
	j = n;
	k = log->nr + n;
	while (j) {
		if (i && log->recs[i - 1].ts > add[j - 1].ts)
			log->recs[--k] = log->recs[--i];
		else
			log->recs[--k] = add[--j];
	}
	log->nr += n;
out:
	pthread_mutex_unlock(&log->lock);
	return ret;
}

uint64_t kmmu_trace_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void kmmu_rec_stamp(struct kmmu_trace_record *r, unsigned int type)
{
	memset(r, 0, sizeof(*r));
	r->ts = kmmu_trace_now();
	r->type = type;
	r->pid = syscall(SYS_gettid);
	r->cpu = sched_getcpu() < 0 ? 0 : sched_getcpu();
}

void kmmu_rec_dirty_log(struct kmmu_trace_record *r, unsigned int type, uint32_t vm,
			uint64_t start_ts, uint32_t slot, uint64_t first_page, uint32_t num_pages,
			int ret)
{
	kmmu_rec_stamp(r, type);
	r->dirty_log = (__typeof__(r->dirty_log)){ .start_ts = start_ts, .slot = slot,
		.first_page = first_page, .num_pages = num_pages, .ret = ret, .vm = vm };
}

void kmmu_rec_protect_cap(struct kmmu_trace_record *r, uint32_t vm, uint64_t start_ts,
			  uint64_t flags, int ret)
{
	kmmu_rec_stamp(r, KMMU_ACT_DIRTY_LOG_PROTECT);
	r->protect_cap = (__typeof__(r->protect_cap)){ .start_ts = start_ts, .flags = flags,
		.ret = ret, .vm = vm };
}

int kmmu_trace_action_memslot(struct kmmu_trace_log *log, uint64_t start_ts, uint32_t slot,
			      uint32_t flags, uint64_t gpa, uint64_t size, uint64_t hva, int ret)
{
	struct kmmu_trace_record r;

	kmmu_rec_stamp(&r, KMMU_ACT_SET_MEMSLOT);
	r.memslot = (__typeof__(r.memslot)){ .start_ts = start_ts, .slot = slot, .flags = flags,
		.gpa = gpa, .size = size, .hva = hva, .ret = ret };
	return kmmu_trace_log_append(log, &r);
}

int kmmu_trace_action_access(struct kmmu_trace_log *log, uint32_t vcpu, uint64_t gpa,
			     bool write, uint64_t value, enum kmmu_access_outcome outcome)
{
	struct kmmu_trace_record r;

	kmmu_rec_stamp(&r, outcome == KMMU_ACCESS_MMIO ? KMMU_ACT_MMIO_EXIT : KMMU_ACT_GUEST_ACCESS);
	r.access = (__typeof__(r.access)){ .vcpu = vcpu, .gpa = gpa, .write = write,
		.value = value, .outcome = outcome };
	return kmmu_trace_log_append(log, &r);
}

int kmmu_trace_action_vm(struct kmmu_trace_log *log, uint32_t nr_address_spaces)
{
	struct kmmu_trace_record r;

	kmmu_rec_stamp(&r, KMMU_ACT_VM_CREATE);
	r.vm.nr_address_spaces = nr_address_spaces;
	return kmmu_trace_log_append(log, &r);
}

int kmmu_trace_action_age(struct kmmu_trace_log *log, uint64_t hva_start, uint64_t hva_end)
{
	struct kmmu_trace_record r;

	kmmu_rec_stamp(&r, KMMU_ACT_AGE_REQUEST);
	r.hva_range.start = hva_start;
	r.hva_range.end = hva_end;
	return kmmu_trace_log_append(log, &r);
}
