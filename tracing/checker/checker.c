// SPDX-License-Identifier: GPL-2.0
/*
 * The differential checker (see kmmu/checker.h): one pass over the sorted
 * records.  Memslot actions are applied to the reference VM (ref/) when
 * their ioctl returned; kernel events are judged against the reference
 * layout at their timestamp, widened by the memslot ioctls in flight at
 * that moment, and the kernel's SPTE installs and drops are replayed into
 * the reference MMU (ref_mmu.c), which judges by what it then holds.  This file only dispatches: each record type has one
 * handler (on_record[]), in the file of its property family:
 *
 *   memslot.c       the reference VM's layout and the ioctls in flight;
 *                   MEMSLOT_RESULT, SPTE_IN_SLOT, ZAP_ON_REMOVE,
 *                   NO_SPTE_AFTER_ZAP, MMIO_UNBACKED
 *   mmio_gen.c      MMIO_GENERATION, MMIO_GEN_MODEL, ZAP_AT_WRAP,
 *                   MMIO_CHECK, MMIO_SPTE_UNBACKED
 *   spte.c          leaf SPTEs: SPTE_IN_SLOT, HUGE_ALLOWED (by the reference
 *                   VM's fault level), SPTE_WRITABLE,
 *                   LEAF_CHANGE; the leaf table and counts the others read
 *   spte_history.c  SPTE_HISTORY
 *   aging.c         AGING_IN_PASS, AGING_KEEPS_DIRTY, AGING_IDLE
 *   shadow.c        the shadow MMU's leaves from kprobe events: its
 *                   drops for PAGE_STATS and ZAP_ON_REMOVE, its Accessed
 *                   clears for AGING_IN_PASS
 *   page_stats.c    PAGE_STATS
 *   ref_mmu.c       the reference VM's SPTE state from the kernel's
 *                   installs, drops, unmaps, fast zaps and aging passes;
 *                   ZAP_ON_REMOVE per SPTE, MMU_VALID_GEN, AGING_MAKES_OLD
 *   dirty_log.c     DIRTY_LOG_PROTECT: write-protects at dirty logging's
 *                   enable and harvests (KVM_GET_DIRTY_LOG,
 *                   KVM_CLEAR_DIRTY_LOG), and by their tasks nowhere else
 *   task.c          per-task state, and claims on a task's next record
 *   report.c        property names, divergence reports, verdicts, summary
 *   table.c         the hash table of per-key state
 *   vms.c           traces of several VMs: one replay per VM
 *   replay.h        the replay's state (struct checker), shared by all
 *
 * A new property:
 *  1. its KMMU_PROP_ value in kmmu/checker.h, with a line saying what it
 *     holds, and its name in report.c's prop_names[];
 *  2. its judgement in the family file whose events and state it reads
 *     (a new family: a new file here, with its handlers declared in
 *     replay.h); it counts res->checked[] for every event it judges and
 *     reports with chk_diverge();
 *  3. a new event it reads: its handler in on_record[] below, and its
 *     tracepoint in kmmu_check_events[] so that captures enable it;
 *  4. when it judged nothing, why: chk_not_checkable() from the family's
 *     explain function, called after the replay in chk_replay();
 *  5. tests in tracing/tests/checker*_test.c (one program per property family): a history that passes and
 *     one with the divergence planted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "replay.h"

const char *const kmmu_check_events[] = {
	"kvmmmu:kvm_mmu_set_spte",
	"kvmmmu:kvm_mmu_prepare_zap_page",
	"kvmmmu:kvm_mmu_zap_all_fast",
	"kvmmmu:mark_mmio_spte",
	"kvmmmu:check_mmio_spte",
	"kvmmmu:handle_mmio_page_fault",
	"kvm:kvm_mmio",
	"kvmmmu:kvm_tdp_mmu_spte_changed",
	"kvmmmu:kvm_mmu_split_huge_page",
	"kvm:kvm_age_hva",
	/* The shadow MMU's drops and Accessed clears (shadow.c), where kprobes can show them. */
	"kprobe:shadow_spte_clear",
	"kprobe:shadow_spte_age",
	NULL
};

/* The test told how many address spaces its VM has: that overrides what was learned. */
static void on_vm_create(struct checker *c, const struct kmmu_trace_record *r)
{
	if (r->vm.nr_address_spaces == 1 || r->vm.nr_address_spaces == 2) {
		c->nr_as = r->vm.nr_address_spaces;
		c->nr_as_told = true;
	}
	c->vm_creates++;
}

static void on_host(struct checker *c, const struct kmmu_trace_record *r)
{
	c->host = r;
}

static void on_unmap_hva_range(struct checker *c, const struct kmmu_trace_record *r)
{
	chk_on_unmap(c, r);
	chk_log_untraced_unmap(c, r);
	chk_ref_unmap(c, r);
}

/* Who judges each record type: one handler per type, in the family's file. */
static chk_handler *const on_record[KMMU_REC_TYPE_MAX] = {
	/* the test's own actions */
	[KMMU_ACT_SET_MEMSLOT] = chk_on_memslot,
	[KMMU_ACT_VM_CREATE] = on_vm_create,
	[KMMU_ACT_HOST] = on_host,
	[KMMU_ACT_STATS] = chk_on_stats,
	[KMMU_ACT_IDLE] = chk_on_idle,
	/* dirty_log.c */
	[KMMU_ACT_GET_DIRTY_LOG] = chk_on_get_dirty_log,
	[KMMU_ACT_CLEAR_DIRTY_LOG] = chk_on_clear_dirty_log,
	[KMMU_ACT_DIRTY_LOG_PROTECT] = chk_on_protect_cap,
	/* memslot.c */
	[KMMU_EV_SET_SPTE] = chk_on_set_spte,
	[KMMU_EV_MMIO] = chk_on_mmio,
	[KMMU_EV_ZAP_ALL_FAST] = chk_on_zap_all_fast,
	[KMMU_EV_PREPARE_ZAP_PAGE] = chk_on_prepare_zap_page,
	/* mmio_gen.c */
	[KMMU_EV_MARK_MMIO_SPTE] = chk_on_mark_mmio,
	[KMMU_EV_CHECK_MMIO_SPTE] = chk_on_check_mmio,
	[KMMU_EV_HANDLE_MMIO_PAGE_FAULT] = chk_on_handle_mmio_pf,
	/* spte.c */
	[KMMU_EV_SPTE_CHANGED] = chk_on_spte_changed,
	[KMMU_EV_SPLIT_HUGE_PAGE] = chk_on_split,
	/* shadow.c */
	[KMMU_EV_SHADOW_SPTE_CLEAR] = chk_shadow_on_clear,
	[KMMU_EV_SHADOW_SPTE_AGE] = chk_shadow_on_age,
	/* page_stats.c and spte_history.c */
	[KMMU_EV_UNMAP_HVA_RANGE] = on_unmap_hva_range,
	/* ref_mmu.c */
	[KMMU_EV_AGE_HVA] = chk_ref_age_start,
};

/*
 * One replay of @recs (one VM's history) into @res, adding to what it
 * holds: the divergences of the properties in @judged count, the other
 * properties' judgements are dropped.  @vm_id: the VM they are of (a
 * history chk_check_vms() split out); 0: the whole trace, which goes to
 * chk_check_vms() if it numbers its VMs (found in the pass that validates
 * the records, so a trace of one VM is read once, as before).
 */
int chk_replay(const struct kmmu_trace_record *recs, uint64_t nr,
	       const struct kmmu_checker_opts *opts, struct kmmu_check_result *res,
	       uint32_t judged, uint32_t vm_id)
{
	bool numbered = false;
	uint64_t checked[KMMU_PROP_NR];
	struct kmmu_ref_vm_config cfg;
	struct checker c = {
		.recs = recs, .nr = nr, .opts = opts, .res = res,
		.judged = judged, .vm_id = vm_id,
		.leaves.esize = sizeof(struct leaf),
		.tasks.esize = sizeof(struct task_ctx),
		.shadow.esize = sizeof(struct shadow_leaf),
		.ref_frames.esize = sizeof(struct ref_frame),
		.slots_stamp = 1,	/* the slot cache's entries (stamp 0) start empty */
	};
	int ret;

	memcpy(checked, res->checked, sizeof(checked));
	for (uint64_t i = 0; i < nr; i++) {
		if (!kmmu_rec_type_valid(recs[i].type) || (i && recs[i].ts < recs[i - 1].ts))
			return -EINVAL;
		c.any_spte_changes |= recs[i].type == KMMU_EV_SPTE_CHANGED;
		if (recs[i].type == KMMU_ACT_VM_CREATE) {
			c.vm_creates_total++;
			numbered |= recs[i].vm.id != 0;
		}
		c.any_age_hva |= recs[i].type == KMMU_EV_AGE_HVA;
		if (recs[i].type != KMMU_ACT_SET_MEMSLOT)
			continue;
		c.nr_ops++;
		c.any_other_as |= recs[i].memslot.slot >> 16 != 0;
	}
	if (numbered && !vm_id)
		return chk_check_vms(recs, nr, opts, res);
	c.ops = calloc(c.nr_ops ? c.nr_ops : 1, sizeof(*c.ops));
	c.sptes = calloc(KMMU_ADDRESS_SPACE_NUM * KMMU_MEM_SLOTS_NUM, sizeof(*c.sptes));
	c.shadow_slot_live = calloc(KMMU_MEM_SLOTS_NUM, sizeof(*c.shadow_slot_live));
	if (!c.ops || !c.sptes || !c.shadow_slot_live) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0, k = 0; i < nr; i++)
		if (recs[i].type == KMMU_ACT_SET_MEMSLOT)
			c.ops[k++].pos = i;
	c.epoch = 1;

	/*
	 * Without the test's memslot actions (a trace of a foreign program) the
	 * layout is unknown: judging against an empty one would cry wolf.
	 */
	if (!c.nr_ops) {
		res->no_actions = true;
		ret = 0;
		goto out;
	}
	c.gen_layout = kmmu_mmio_gen_layout(KMMU_SPTE_LAYOUT_UPSTREAM);
	/*
	 * The reference VM: upstream defaults, with the widest guest physical
	 * address space it models (the host's MAXPHYADDR is not in the trace:
	 * the kernel's own limit is at most this wide).
	 */
	kmmu_ref_vm_config_default(&cfg);
	cfg.phys_bits = 51;
	/* The kernel's fast zap, where it makes one, is traced and replayed. */
	cfg.slot_zap_all = false;
	/* This thread is the VM's only one: its grace periods need no wait. */
	cfg.single_thread = true;
	ret = kmmu_ref_vm_create(&c.vm, &cfg);
	if (ret)
		goto out;
	c.ms = c.vm->memslots;
	c.no_history = chk_history_gaps(&c);
	chk_ref_mmu_init(&c);
	chk_shadow_init(&c);
	/* Reference readers must be registered urcu threads; ours is for this replay. */
	urcu_memb_register_thread();

	for (c.pos = 0; c.pos < nr && !c.too_big; c.pos++) {
		const struct kmmu_trace_record *r = &recs[c.pos];

		chk_track_task(&c, r);
		if (c.nr_claims)
			chk_settle_claims(&c, r);
		if (on_record[r->type])
			on_record[r->type](&c, r);
	}
	chk_mmio_gen_finish(&c);
	chk_explain_aging(&c);
	chk_explain_page_stats(&c);
	chk_explain_leaf(&c);
	chk_ref_explain(&c);
	chk_explain_dirty_log(&c);
	/* Its SPTEs go by call_rcu, from this registered thread. */
	kmmu_ref_vm_destroy(c.vm);
	urcu_memb_unregister_thread();
	ret = c.too_big ? -EFBIG : c.oom ? -ENOMEM : 0;
out:
	free(c.ops);
	free(c.sptes);
	free(c.shadow_slot_live);
	chk_table_free(&c.shadow);
	chk_table_free(&c.leaves);
	chk_table_free(&c.tasks);
	chk_table_free(&c.ref_frames);
	free(c.young);
	free(c.unmap_log);
	free(c.wrprots);
	for (int p = 0; p < KMMU_PROP_NR; p++)
		if (!(judged >> p & 1))
			res->checked[p] = checked[p];
	return ret;
}

int kmmu_check(const struct kmmu_trace_record *recs, uint64_t nr,
	       const struct kmmu_checker_opts *opts, struct kmmu_check_result *res)
{
	memset(res, 0, sizeof(*res));
	res->nr_records = nr;
	if (nr && !recs)
		return -EINVAL;
	return chk_replay(recs, nr, opts, res, CHK_JUDGE_ALL, 0);
}
