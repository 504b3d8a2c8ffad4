// SPDX-License-Identifier: GPL-2.0
/*
 * What the checker tells: the properties' names, each divergence as it is
 * found (the event, the expectation, and what happened to its gfn just
 * before), and the verdicts and summary of kmmu/checker.h.  A new
 * property's name goes into prop_names[].
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "replay.h"

#define HISTORY		64	/* records remembered for a divergence report */

static const char *const prop_names[KMMU_PROP_NR] = {
	[KMMU_PROP_MEMSLOT_RESULT] = "memslot ioctls return what the reference returns",
	[KMMU_PROP_MMIO_UNBACKED] = "MMIO is emulated only for gfns without a live memslot",
	[KMMU_PROP_SPTE_IN_SLOT] = "a leaf SPTE is installed only for gfns of one live memslot",
	[KMMU_PROP_ZAP_ON_REMOVE] = "deleting or moving a slot with SPTEs zaps them",
	[KMMU_PROP_NO_SPTE_AFTER_ZAP] = "no SPTE for a slot between its zap and its removal",
	[KMMU_PROP_MMIO_GENERATION] = "MMIO SPTE generation changes exactly with memslot updates",
	[KMMU_PROP_MMIO_GEN_MODEL] = "MMIO SPTE generation is the reference's memslot generation",
	[KMMU_PROP_MMIO_SPTE_UNBACKED] = "an MMIO SPTE is honoured only for gfns without a live memslot",
	[KMMU_PROP_ZAP_AT_WRAP] = "the update that wraps the MMIO generation zaps all shadow pages",
	[KMMU_PROP_PAGE_STATS] = "KVM page stats equal the traced leaf SPTEs per level",
	[KMMU_PROP_AGING_IN_PASS] = "an Accessed bit is cleared only by aging that gfn's hva",
	[KMMU_PROP_AGING_KEEPS_DIRTY] = "aging keeps the Dirty and Writable bits",
	[KMMU_PROP_AGING_IDLE] = "aging reports a page the guest left idle young at most once",
	[KMMU_PROP_HUGE_ALLOWED] = "a huge SPTE is installed only where its slot's alignment and flags allow one",
	[KMMU_PROP_SPTE_WRITABLE] = "no SPTE of a read-only slot is writable, nor made writable huge while dirty logging",
	[KMMU_PROP_SPTE_HISTORY] = "each SPTE change starts from the SPTE the previous traced change left",
	[KMMU_PROP_LEAF_CHANGE] = "a present leaf SPTE changes in place only as KVM changes one",
	[KMMU_PROP_MMIO_CHECK] = "an MMIO SPTE is used exactly when its generation is KVM's",
	[KMMU_PROP_MMU_VALID_GEN] = "each fast zap toggles mmu_valid_gen as the reference's does",
	[KMMU_PROP_AGING_MAKES_OLD] = "an aging pass makes old every leaf the reference's aging finds young",
	[KMMU_PROP_DIRTY_LOG_PROTECT] = "dirty logging write-protects a slot's writable leaves at its enable and harvest, and nothing else",
};

const char *kmmu_check_property_name(enum kmmu_check_property p)
{
	return p < KMMU_PROP_NR ? prop_names[p] : "unknown";
}

static bool record_touches(struct checker *c, const struct kmmu_trace_record *r, gfn_t gfn)
{
	switch (r->type) {
	case KMMU_EV_SET_SPTE:
		return r->set_spte.gfn == gfn;
	case KMMU_EV_SPTE_REQUESTED:
		return r->spte_requested.gfn == gfn;
	case KMMU_EV_MMIO:
		return r->mmio.gpa >> PAGE_SHIFT == gfn;
	case KMMU_EV_MARK_MMIO_SPTE:
		return r->mark_mmio.gfn == gfn;
	case KMMU_EV_HANDLE_MMIO_PAGE_FAULT:
		return r->mmio_pf.gfn == gfn;
	case KMMU_EV_ZAP_ALL_FAST:
		return true;
	case KMMU_EV_SPTE_CHANGED:
		return in_range(gfn, r->spte_changed.gfn, level_pages(r->spte_changed.level));
	case KMMU_EV_SPLIT_HUGE_PAGE:
		return in_range(gfn, r->split.gfn, level_pages(r->split.level));
	case KMMU_ACT_SET_MEMSLOT:
		return chk_op_new_covers(r, gfn) || chk_op_old_covers(c, r, gfn);
	case KMMU_ACT_GUEST_ACCESS:
	case KMMU_ACT_MMIO_EXIT:
		return r->access.gpa >> PAGE_SHIFT == gfn;
	default:
		return false;
	}
}

void chk_diverge(struct checker *c, enum kmmu_check_property p, gfn_t gfn, bool have_gfn,
		 const char *fmt, ...)
{
	unsigned int max = c->opts && c->opts->max_reported ? c->opts->max_reported : 10;
	FILE *f = c->opts ? c->opts->report : NULL;
	char buf[2048], line[512], vm[32] = "";
	size_t len = 0;
	va_list ap;
	int shown = 0;

	if (!(c->judged >> p & 1))
		return;		/* another replay of this VM judges it */
	c->res->divergences[p]++;
	if (c->res->nr_divergences++ >= max && c->res->first_divergence[0])
		return;

	kmmu_rec_format(&c->recs[c->pos], line, sizeof(line));
	if (c->vm_id)	/* a trace of several VMs: which one's replay */
		snprintf(vm, sizeof(vm), " in VM %u", c->vm_id);
	len += snprintf(buf + len, sizeof(buf) - len, "divergence%s (%s): %s\n  expected: ",
			vm, prop_names[p], line);
	va_start(ap, fmt);
	len += vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	va_end(ap);
	len += snprintf(buf + len, sizeof(buf) - len, "\n");
	/* What happened to this gfn just before, newest last. */
	if (have_gfn) {
		uint64_t from = c->pos > 4096 ? c->pos - 4096 : 0;
		uint64_t hits[HISTORY];

		for (uint64_t i = c->pos; i-- > from && shown < 8;)
			if (record_touches(c, &c->recs[i], gfn))
				hits[shown++] = i;
		if (shown)
			len += snprintf(buf + len, sizeof(buf) - len,
					"  history of gfn %#" PRIx64 ":\n", gfn);
		while (shown-- > 0 && len < sizeof(buf)) {
			kmmu_rec_format(&c->recs[hits[shown]], line, sizeof(line));
			len += snprintf(buf + len, sizeof(buf) - len, "    %s\n", line);
		}
	}
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	buf[len] = '\0';
	if (!c->res->first_divergence[0])
		snprintf(c->res->first_divergence, sizeof(c->res->first_divergence), "%s", buf);
	if (f && c->res->nr_divergences <= max)
		fputs(buf, f);
}

void chk_not_checkable(struct checker *c, enum kmmu_check_property p, const char *why)
{
	c->res->not_checkable[p] = why;
}

const char *kmmu_check_strerror(int err)
{
	if (err == -EFBIG)
		return "its memslots back more guest memory at once than the reference VM"
		       " models (kmmu_checker_opts.max_guest_pages)";
	return strerror(-err);
}

enum kmmu_check_verdict kmmu_check_verdict(const struct kmmu_check_result *res,
					   enum kmmu_check_property p)
{
	if (res->divergences[p])
		return KMMU_CHECK_FAIL;
	return res->checked[p] ? KMMU_CHECK_PASS : KMMU_CHECK_NOT_CHECKABLE;
}

void kmmu_check_print_summary(FILE *f, const struct kmmu_check_result *res)
{
	if (res->no_actions)
		fprintf(f, "NOTHING CHECKABLE  the trace has no memslot actions of the test:"
			" the memslot layout the kernel worked on is unknown\n");
	for (int p = 0; p < KMMU_PROP_NR; p++) {
		switch (kmmu_check_verdict(res, p)) {
		case KMMU_CHECK_PASS:
			/* Judged in part: say what was not. */
			fprintf(f, "PASS  %s (%" PRIu64 " checked%s%s)\n", prop_names[p],
				res->checked[p], res->not_checkable[p] ? "; not judged: " : "",
				res->not_checkable[p] ? res->not_checkable[p] : "");
			break;
		case KMMU_CHECK_FAIL:
			fprintf(f, "FAIL  %s (%" PRIu64 " of %" PRIu64 " diverge)\n", prop_names[p],
				res->divergences[p], res->checked[p]);
			break;
		default:
			if (!res->no_actions)
				fprintf(f, "NOT CHECKABLE  %s (%s)\n", prop_names[p],
					res->not_checkable[p] ? res->not_checkable[p] :
					"no such events in this trace");
			break;
		}
	}
}
