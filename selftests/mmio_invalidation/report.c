// SPDX-License-Identifier: GPL-2.0
/*
 * mmio_invalidation_test's numbers: the vCPUs' totals, the lines printed
 * and the result file's parameters and metrics.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "kmmu/test_run.h"
#include "mmio_invalidation.h"

/* ---- the run's statistics: totals, the lines printed, the result ---- */

/* From the guest's shared counters: before the VM, and its memory, go. */
void mi_totals(const struct mi_ctx *c, struct mi_totals *t)
{
	int v;

	for (v = 0; v < mi_opts.vcpus; v++) {
		kmmu_ss_vcpu_add(&t->ss, &c->sh->vcpu[v].ss);
		t->wake_reads += c->sh->vcpu[v].wake_reads;
		t->mmio += c->mmio_exits[v];
	}
}

void mi_print(const struct mi_ctx *c, const struct mi_totals *t, double dur)
{
	ksft_print_msg("seed %llu: flip: %ld ops (creates+deletes+moves) in %.2f s, %llu memslot swaps\n",
		       (unsigned long long)mi_opts.seed, c->flip_ops, c->flip_s,
		       (unsigned long long)c->flip_swaps);
	ksft_print_msg("wrap: %llu memslot swaps (generations) in %.2f s (%ld scratch toggles), sleepers %ld stamped at MMIO generation %#llx (swap %llu), woken%s at generation %#llx (swap %llu), MMIO generation wraps crossed %llu%s\n",
		       (unsigned long long)c->wrap_swaps, c->wrap_s, c->toggles,
		       c->sleepers, (unsigned long long)mi_mmio_gen(c->prime_swaps),
		       (unsigned long long)c->prime_swaps, c->woke ? "" : " (not reached)",
		       (unsigned long long)mi_mmio_gen(c->wake_swaps),
		       (unsigned long long)c->wake_swaps,
		       (unsigned long long)c->wraps_crossed,
		       mi_opts.full_wrap ? " (full wrap)" : " (bounded; --full-wrap for the wrap)");
	ksft_print_msg("totals: creates %ld deletes %ld moves %ld; memslot swaps %llu (MMIO generation %#llx); guest reads %lld writes %lld, MMIO loads %lld stores %lld (host saw %lld MMIO exits); accesses checked exactly %lld, raced %lld; sleeper reads at the wake %lld; final sweep reads %lld; %.2f s\n",
		       c->creates, c->deletes, c->moves, (unsigned long long)c->swaps,
		       (unsigned long long)mi_mmio_gen(c->swaps), (long long)t->ss.reads,
		       (long long)t->ss.writes, (long long)t->ss.mmio_reads,
		       (long long)t->ss.mmio_writes, t->mmio, (long long)t->ss.stable,
		       (long long)t->ss.racy, t->wake_reads, (long long)t->ss.sweeps, dur);
}

/* The parameters and metrics of the result file; @c NULL: the run never began. */
void mi_record(struct kmmu_result *res, const struct mi_ctx *c,
	       const struct mi_totals *t, double dur)
{
	char seed[32];

	kmmu_result_param_int(res, "vcpus", mi_opts.vcpus);
	kmmu_result_param_int(res, "cells", mi_opts.cells);
	kmmu_result_param_int(res, "ops", mi_opts.ops);
	kmmu_result_param_int(res, "generations", mi_opts.full_wrap ?
			      (long long)(c && c->swaps_per_wrap ? c->swaps_per_wrap :
					  MI_SWAPS_PER_WRAP_SMM) + MI_WRAP_WINDOW :
			      mi_opts.generations);
	kmmu_result_param_str(res, "full_wrap", mi_opts.full_wrap ? "yes" : "no");
	/* A string: JSON readers lose precision on integers above 2^53. */
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)mi_opts.seed);
	kmmu_result_param_str(res, "seed", seed);
	if (c) {
		kmmu_test_metric(res, "flip_ops", c->flip_ops, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "flip_duration", c->flip_s, "s", KMMU_LOWER_IS_BETTER);
		kmmu_test_metric(res, "memslot_creates", c->creates, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "memslot_deletes", c->deletes, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "memslot_moves", c->moves, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "scratch_toggles", c->toggles, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "memslot_swaps", c->swaps, "count", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "wrap_generations", c->wrap_swaps, "count", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "wrap_duration", c->wrap_s, "s", KMMU_LOWER_IS_BETTER);
		kmmu_test_metric(res, "mmio_generation_wraps", c->wraps_crossed, "count",
			  KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "guest_reads", t->ss.reads, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "guest_writes", t->ss.writes, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "mmio_exits", t->mmio, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "accesses_exact", t->ss.stable, "ops", KMMU_HIGHER_IS_BETTER);
		kmmu_test_metric(res, "accesses_raced", t->ss.racy, "ops", KMMU_HIGHER_IS_BETTER);
	}
	kmmu_test_metric(res, "duration", dur, "s", KMMU_LOWER_IS_BETTER);
}
