// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_churn_test's numbers: KVM's binary stats around the churn, the
 * vCPUs' totals, the lines printed and the result file's parameters and
 * metrics.
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
#include "kmmu/test_run.h"
#include "memslot_churn.h"

/* KVM binary stats reported as metrics: VM-wide, and summed over vCPUs. */
static const char *const ch_vm_stats[CH_NR_VM_STATS] = {
	"mmu_shadow_zapped", "mmu_pte_write", "mmu_flooded", "mmu_recycled",
	"mmu_cache_miss", "remote_tlb_flush", "pages_4k", "pages_2m",
};
static const char *const ch_vcpu_stats[CH_NR_VCPU_STATS] = {
	"pf_fixed", "pf_mmio_spte_created", "pf_guest", "mmio_exits", "exits",
};

/*
 * Reads the stats of ch_vm_stats/ch_vcpu_stats: at the start (@end false)
 * the values, at the end the delta (cumulative) or the value (instant).
 * Stats this kernel lacks are left out.
 */
void ch_stats(struct ch_ctx *c, struct kmmu_vm *vm, bool end)
{
	size_t k;
	int v;

	if (!end) {
		if (kmmu_stats_open(&c->vm_stats, kmmu_vm_fd(vm)))
			return;
		for (v = 0; v < ch_opts.vcpus; v++)
			if (kmmu_stats_open(&c->vcpu_stats[v],
					    kmmu_vcpu_fd(kmmu_vm_vcpu(vm, v)))) {
				while (v--)
					kmmu_stats_close(&c->vcpu_stats[v]);
				kmmu_stats_close(&c->vm_stats);
				return;
			}
		c->stats_open = true;
	}
	if (!c->stats_open)
		return;
	for (k = 0; k < CH_NR_STATS; k++) {
		bool vm_stat = k < CH_NR_VM_STATS;
		const char *name = vm_stat ? ch_vm_stats[k] : ch_vcpu_stats[k - CH_NR_VM_STATS];
		const struct kvm_stats_desc *d = kmmu_stats_find(&c->vm_stats, name);
		uint64_t sum = 0, x;
		bool found = true;

		if (vm_stat) {
			found = d && !kmmu_stats_get(&c->vm_stats, name, &sum);
		} else {
			d = kmmu_stats_find(&c->vcpu_stats[0], name);
			for (v = 0; v < ch_opts.vcpus && found; v++) {
				found = !kmmu_stats_get(&c->vcpu_stats[v], name, &x);
				sum += x;
			}
		}
		if (!end) {
			c->stat_found[k] = found;
			c->stat_value[k] = sum;
		} else if (found && c->stat_found[k]) {
			uint32_t type = d->flags & KVM_STATS_TYPE_MASK;

			c->stat_value[k] = type == KVM_STATS_TYPE_CUMULATIVE ?
					   sum - c->stat_value[k] : sum;
		} else {
			c->stat_found[k] = false;
		}
	}
	if (end) {
		c->stats_open = false;
		for (v = 0; v < ch_opts.vcpus; v++)
			kmmu_stats_close(&c->vcpu_stats[v]);
		kmmu_stats_close(&c->vm_stats);
	}
}

/* ---- the run's statistics: totals, the lines printed, the result ---- */

/* From the guest's shared counters: before the VM, and its memory, go. */
void ch_totals(const struct ch_ctx *c, struct ch_totals *t)
{
	int v;

	for (v = 0; v < ch_opts.vcpus; v++) {
		kmmu_ss_vcpu_add(&t->ss, &c->sh->vcpu[v].ss);
		t->mmio += c->mmio_exits[v];
	}
}

static const char *ch_stat_name(size_t k)
{
	return k < CH_NR_VM_STATS ? ch_vm_stats[k] : ch_vcpu_stats[k - CH_NR_VM_STATS];
}

void ch_print(const struct ch_ctx *c, const struct ch_totals *t, double dur)
{
	char line[1024];
	size_t off = 0, k;

	ksft_print_msg("seed %llu: creates %ld deletes %ld moves %ld flag-changes %ld; guest reads %lld writes %lld, MMIO loads %lld stores %lld (host saw %lld MMIO exits); accesses checked exactly %lld, raced %lld; final sweep reads %lld; %.2f s\n",
		       (unsigned long long)ch_opts.seed, c->creates, c->deletes,
		       c->moves, c->flag_changes, (long long)t->ss.reads, (long long)t->ss.writes,
		       (long long)t->ss.mmio_reads, (long long)t->ss.mmio_writes, t->mmio,
		       (long long)t->ss.stable, (long long)t->ss.racy, (long long)t->ss.sweeps, dur);
	line[0] = 0;
	for (k = 0; k < CH_NR_STATS && off < sizeof(line); k++)
		if (c->stat_found[k])
			off += snprintf(line + off, sizeof(line) - off, " %s %llu",
					ch_stat_name(k), (unsigned long long)c->stat_value[k]);
	if (line[0])
		ksft_print_msg("KVM stats over the run:%s\n", line);
	if (!ch_opts.host_unmap)
		return;
	if (c->unmap_verified)
		snprintf(line, sizeof(line), "%ld kvm_unmap_hva_range events in the backing, one for every unmap",
			 c->unmap_events);
	else
		snprintf(line, sizeof(line), "not verified (%s)",
			 c->unmap_why[0] ? c->unmap_why : "the run ended early");
	ksft_print_msg("host unmaps: %ld madvise(MADV_DONTNEED) of %ld pages in %.2f s (%.0f/s, asked %ld/s), %ld overlapped a memslot ioctl on the same slot; seen by KVM: %s\n",
		       c->unmaps, c->unmap_pages, c->unmap_s,
		       c->unmap_s > 0 ? c->unmaps / c->unmap_s : 0.0,
		       ch_opts.host_unmap, c->unmaps_raced, line);
}

/* The parameters and metrics of the result file; @c NULL: the run never began. */
void ch_record(struct kmmu_result *res, const struct ch_ctx *c,
	       const struct ch_totals *t, double dur)
{
	char seed[32];
	size_t k;

	kmmu_result_param_int(res, "vcpus", ch_opts.vcpus);
	kmmu_result_param_int(res, "slots", ch_opts.slots);
	kmmu_result_param_int(res, "ops", ch_opts.ops);
	/* A string: JSON readers lose precision on integers above 2^53. */
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)ch_opts.seed);
	kmmu_result_param_str(res, "seed", seed);
	kmmu_result_param_str(res, "backing",
			      ch_opts.backing == KMMU_BACKING_ANON ? "anon" : "memfd");
	kmmu_result_param_int(res, "host_unmap", ch_opts.host_unmap);
	/* Only when bound: unbound runs keep the parameters they always had. */
	if (ch_opts.numa_node >= 0)
		kmmu_result_param_int(res, "numa_node", ch_opts.numa_node);
	if (c) {
		kmmu_test_metric(res, "memslot_creates", c->creates, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "memslot_deletes", c->deletes, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "memslot_moves", c->moves, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "memslot_flag_changes", c->flag_changes, "ops",
			  KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "guest_reads", t->ss.reads, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "guest_writes", t->ss.writes, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "mmio_exits", t->mmio, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "guest_mmio_loads", t->ss.mmio_reads, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "guest_mmio_stores", t->ss.mmio_writes, "ops",
			  KMMU_HIGHER_IS_BETTER);
		if (c->churn_s > 0)
			kmmu_test_metric(res, "churn_duration", c->churn_s, "s", KMMU_LOWER_IS_BETTER);
		if (ch_opts.host_unmap) {
			kmmu_test_metric(res, "host_unmaps", c->unmaps, "ops", KMMU_HIGHER_IS_BETTER);
			kmmu_test_metric(res, "host_unmap_pages", c->unmap_pages, "pages",
				  KMMU_HIGHER_IS_BETTER);
			kmmu_test_metric(res, "host_unmaps_raced", c->unmaps_raced, "ops",
				  KMMU_HIGHER_IS_BETTER);
			if (c->unmap_verified)
				kmmu_test_metric(res, "kvm_unmap_hva_range_events", c->unmap_events,
					  "count", KMMU_HIGHER_IS_BETTER);
		}
		for (k = 0; k < CH_NR_STATS; k++) {
			char name[80];

			if (!c->stat_found[k])
				continue;
			snprintf(name, sizeof(name), "kvm_%s", ch_stat_name(k));
			kmmu_test_metric(res, name, c->stat_value[k], "count", KMMU_LOWER_IS_BETTER);
		}
	}
	kmmu_test_metric(res, "duration", dur, "s", KMMU_LOWER_IS_BETTER);
}
