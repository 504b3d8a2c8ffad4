// SPDX-License-Identifier: GPL-2.0
/*
 * huge_mapping_test: guest data through 2M mappings, MMU-notifier ranges of
 * one page inside multi-page (and huge-mapped) slots, and memslot updates
 * KVM must refuse while other slots churn.  Four tests, each on its own VM
 * with two vCPUs (each on its own host thread, so on two CPUs where there
 * are two):
 *
 * hm.thp_data, hm.hugetlb_data.  Slots backed by transparent huge pages
 * (anonymous memory, 2M aligned, MADV_HUGEPAGE) or by 2M hugetlb pages
 * (reserved for the test, SKIP if none can be; nr_hugepages is restored
 * on every path), laid out so that KVM must map 2M in some places and
 * must not in others: 2M-aligned slots; slots whose size ends inside a 2M
 * frame (the tail) or whose start does (the head), two slots sharing one
 * frame; slots whose host address is not congruent with their guest
 * address modulo 2M (KVM may map no 2M page in them at all: lpage_info
 * disallows it).  The guest maps the whole window twice: with 2M pages at
 * GVA = GPA (so that the shadow MMU too may map 2M) and with 4K pages at
 * GVA = GPA + HM_ALIAS.  Each round, one vCPU writes a pattern of (slot,
 * page, generation) into every page, slot by slot, and the host checks it
 * through its own mapping; then the host writes the next generation and
 * both vCPUs read every page through both views.  A wrong gfn->pfn offset
 * in a huge mapping shows as another page's pattern; a huge mapping that
 * reaches beyond its slot as another slot's pattern, or as the "foreign"
 * pattern the host keeps in the parts of each buffer that no slot maps,
 * which must also survive the guest's writes.  Rounds alternate the
 * writer, MOVE every slot to places where congruence changes (a slot that
 * could be huge no longer can, and the reverse), and DELETE and re-create
 * them.  KVM's pages_2m, read around each slot's first touch, must not
 * exceed the 2M frames KVM may map in that slot, and must reach the
 * frames it may map whose backing is a PMD-mapped THP (smaps'
 * AnonHugePages, before and after) or a hugetlb page.  The hugetlb test
 * ends with MADV_DONTNEED of one 2M page inside a 4M slot.
 *
 * hm.notifier_one_page.  Operations on ONE page of multi-page slots (now
 * and then two or three, whose last page an off-by-one walk would miss)
 * while the other vCPU keeps reading the slot: MADV_DONTNEED of anonymous memory
 * (new content: zero), of a 4K page inside a huge-mapped THP (the other
 * 511 pages keep their data), of a private memfd mapping (the file's
 * content comes back), of a shared memfd mapping (content unchanged),
 * FALLOC_FL_PUNCH_HOLE of a shared memfd page (zero), mprotect(PROT_READ)
 * (the guest's first store, to the range's last page, must fail KVM_RUN
 * with EFAULT; the host then restores PROT_READ|PROT_WRITE and the stores
 * must land in the pages), host stores into a page
 * the guest has mapped, into zero pages the guest has mapped (4K and the
 * huge zero page: copy-on-write), and into pages two slots map at
 * different guest addresses (both must follow); and storms: 256 times in a
 * row the host drops one of two neighbouring pages and stores into it
 * again while the other vCPU reads both, and a read between two steps
 * must see exactly that step's content (a fault that raced with the
 * invalidation and mapped the dropped page -- a missed mmu_invalidate_seq
 * retry, a prefetch during the invalidation -- shows an older one).  Slots start at host
 * offsets that differ from their guest offsets, so a notifier that
 * converts hva->gfn wrongly, drops a partial range or misses a level of
 * a huge mapping leaves a stale SPTE: the guest reads the old page, or
 * its store does not reach the host.  Every step is exact: the verifying
 * vCPU reads after the operation returned; the reading vCPU accepts the
 * old or new value while it runs and only the new one after.
 *
 * hm.invalid_memslots.  While a host thread deletes, re-adds and moves
 * small slots and both vCPUs read (vCPU 0 stable slots exactly, vCPU 1
 * the churned slots and the target ranges of refused creates, which must
 * exit as MMIO), the main thread tries CREATEs and MOVEs that
 * __kvm_set_memory_region() (and x86's kvm_arch_prepare_memory_region())
 * must refuse, each errno compared with what the kernel specifies:
 * overlaps (EEXIST), misaligned gpa/size/hva, wrapping, too many pages,
 * beyond the guest physical address space (a MOVE there is refused only
 * after the slot was invalidated: the rollback path), ids and address
 * spaces out of range, size/hva/READONLY changes of an existing slot and
 * a MOVE that also toggles READONLY (EINVAL).  The vCPUs must keep making
 * progress; at the end the churn is undone and the guest reads every slot
 * exactly and every refused range as MMIO: the layout is unchanged.
 *
 * invalid_memslots is checked against the reference when tracing is
 * available (see kmmu/trace_session.h: every memslot ioctl's result and
 * the generations it moves), the other three only with --check-all: a
 * session costs 5-15 s in the TCG VM, and what it would add there (leaf
 * SPTEs against pages_4k/pages_2m on the TDP MMU, SPTEs only in live
 * slots) is left to such runs.  The two refusals
 * beyond the address space are tried after the check ended: its replay
 * lacks x86's max_gfn check.  Buffers are MADV_DONTFORK: the capture's
 * janitor child would otherwise share them copy-on-write and split every
 * THP at the next store.
 *
 * $KMMU_HUGE_INJECT plants a bug in the test itself, to show that it
 * fails: "swap" exchanges two pages of a huge slot behind the guest's
 * back (a wrong gfn->pfn offset), "stale" writes the old content back into
 * a page the host just dropped (a stale SPTE), "accept" replaces one
 * refused CREATE by one KVM accepts.
 *
 * One program in several files (huge_mapping/huge_mapping.h lists them):
 * this one holds the harness, every verdict and main(); the runs in
 * huge_mapping/ return what they found, or -errno with the reason.
 */
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "huge_mapping/huge_mapping.h"

struct hm_opts hm_opts = {
	.rounds = 3,
	.ops = 24,
	.passes = 3,
};

bool hm_inject(const char *what)
{
	return hm_opts.inject && !strcmp(hm_opts.inject, what);
}

/* ---- the harness ---- */

FIXTURE(hm) {
	struct kmmu_test_run run;	/* the checker's session; the VM is c->vm */
	struct hm_ctx *c;
	struct hm_churn *ch;
};

FIXTURE_SETUP(hm)
{
	KMMU_TEST_SETUP(&self->run, NULL);
	self->c = calloc(1, sizeof(*self->c));
	ASSERT_NE(NULL, self->c);
	self->c->rng = hm_opts.seed ? hm_opts.seed : 1;
}

FIXTURE_TEARDOWN(hm)
{
	struct hm_ctx *c = self->c;

	if (!self->run.started)
		return;
	/* Still set: the run failed.  Aborted first, as it always was. */
	kmmu_trace_session_abort(self->run.trace);
	self->run.trace = NULL;
	if (self->ch)
		hm_churn_stop(self->ch);
	if (c) {
		/*
		 * A vCPU parked at the gate waits in its sync handler, where
		 * no kick reaches it: release it into the guest's exit path.
		 */
		if (c->gate_init)
			kmmu_gate_open(&c->gate, HM_QUIT);
		kmmu_vm_destroy(c->vm);
		if (c->stats_ok)
			kmmu_stats_close(&c->stats);
		if (c->gate_init)
			kmmu_gate_destroy(&c->gate);
		hm_bufs_free(c);
		if (c->hugetlb_changed) {
			hm_hugetlb_restore(c);
			kmmu_cleanup_forget(hm_hugetlb_restore, c);
		}
	}
	free(self->ch);
	free(c);
	KMMU_TEST_END(&self->run);
	ksft_print_msg("%.2f s\n", kmmu_now() - self->run.t0);
}

/* A checked run of @name, or NULL.  @always: unless KMMU_CHECK=0; else with --check-all. */
static struct kmmu_trace_session *hm_trace_start(const char *name, bool always)
{
	char why[256];
	struct kmmu_trace_session *t;

	if (!always && !hm_opts.check_all) {
		ksft_print_msg("checking against the reference: off in this test (--check-all)\n");
		return NULL;
	}
	t = kmmu_trace_session_start(name, why, sizeof(why));

	if (t)
		ksft_print_msg("checking against the reference: on\n");
	else
		ksft_print_msg("checking against the reference: off (%s)\n", why);
	return t;
}



KMMU_TEST_F(hm, thp_data, 300)
{
	char thp[64] = "";

	if (kmmu_ctl_read("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp)) ||
	    strstr(thp, "[never]"))
		SKIP(return, "transparent huge pages are off (%s)", thp[0] ? thp : "no sysfs file");
	KMMU_ASSERT_CALL(hm_data_setup, self->c, &hm_thp_layout);
	self->run.trace = hm_trace_start("huge_mapping_test.thp_data", false);
	KMMU_ASSERT_CALL(hm_data_run, self->c, self->run.trace, &hm_thp_layout);
	KMMU_ASSERT_CALL(hm_quit, self->c);
	ASSERT_EQ(0, hm_trace_finish(self->c, &self->run.trace))
		TH_LOG("the kernel's MMU events diverge from the reference (see the checker's lines above)");
}

KMMU_TEST_F(hm, hugetlb_data, 300)
{
	struct hm_ctx *c = self->c;
	char err[1024];
	uint64_t p;
	int r;

	r = hm_hugetlb_reserve(c, HM_HUGETLB_PAGES, err, sizeof(err));
	if (r)
		SKIP(return, "%s", err);
	KMMU_ASSERT_CALL(hm_data_setup, c, &hm_hugetlb_layout);
	self->run.trace = hm_trace_start("huge_mapping_test.hugetlb_data", false);
	KMMU_ASSERT_CALL(hm_data_run, c, self->run.trace, &hm_hugetlb_layout);
	/* One 2M page of the 4M slot dropped: it reads zero, the other keeps its data. */
	snprintf(c->phase, sizeof(c->phase), "MADV_DONTNEED of the second 2M page of slot %s",
		 c->slot[0].name);
	ASSERT_EQ(0, madvise(hm_hva(c, &c->slot[0]) + HM_HUGE, HM_HUGE, MADV_DONTNEED))
		TH_LOG("madvise: %s", strerror(errno));
	for (p = HM_PAGES_2M; p < 2 * HM_PAGES_2M; p++)
		hm_set_exp_page(c, 0, p, 0);
	c->sh->arg[0] = 3;
	c->sh->arg[1] = 3;
	c->sh->arg[2] = ~0ULL;
	KMMU_ASSERT_CALL(hm_step, c, HM_CHECK);
	KMMU_ASSERT_CALL(hm_quit, c);
	ASSERT_EQ(0, hm_trace_finish(self->c, &self->run.trace))
		TH_LOG("the kernel's MMU events diverge from the reference (see the checker's lines above)");
}

KMMU_TEST_F(hm, notifier_one_page, 300)
{
	struct hm_n_counts cnt = { 0 };
	char err[1024];
	int r, i;

	self->run.trace = hm_trace_start("huge_mapping_test.notifier_one_page", false);
	r = hm_notifier_run(self->c, self->run.trace, &cnt, err, sizeof(err));
	for (i = 0; i < HM_NR_OPS; i++)
		ksft_print_msg("%-34s x%ld\n", hm_op_names[i], cnt.ops[i]);
	ksft_print_msg("pages operated on: %ld; KVM_RUN EFAULTs on stores to read-only pages: %ld\n",
		       cnt.pages, cnt.efaults);
	if (self->c->sh)
		ksft_print_msg("storms: %llu guest loads between two steps checked, %llu overlapped a step\n",
			       (unsigned long long)self->c->sh->storm_checked,
			       (unsigned long long)self->c->sh->storm_racy);
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	ASSERT_EQ(0, atomic_load(&self->c->other_run_errors));
	KMMU_ASSERT_CALL(hm_quit, self->c);
	ASSERT_EQ(0, hm_trace_finish(self->c, &self->run.trace))
		TH_LOG("the kernel's MMU events diverge from the reference (see the checker's lines above)");
}

KMMU_TEST_F(hm, invalid_memslots, 300)
{
	struct hm_case cs[HM_MAX_CASES];
	char err[1024];
	int r, i, n = 0;

	memset(cs, 0, sizeof(cs));
	self->ch = calloc(1, sizeof(*self->ch));
	ASSERT_NE(NULL, self->ch);
	self->run.trace = hm_trace_start("huge_mapping_test.invalid_memslots", true);
	r = hm_invalid_run(self->c, &self->run.trace, self->ch, cs, &n, err, sizeof(err));
	for (i = 0; i < n; i++)
		ksft_print_msg("%-78s %-6s x%ld%s\n", cs[i].what, strerror(-cs[i].want), cs[i].tried,
			       cs[i].wrong ? " WRONG" : "");
	ksft_print_msg("churn: %ld memslot updates meanwhile; MMIO exits %ld; guest sweeps %llu + %llu\n",
		       self->ch->ops, atomic_load(&self->c->mmio_exits),
		       (unsigned long long)(self->c->sh ? self->c->sh->progress[0] : 0),
		       (unsigned long long)(self->c->sh ? self->c->sh->progress[1] : 0));
	ASSERT_EQ(0, r) TH_LOG("%s", err);
	KMMU_ASSERT_CALL(hm_quit, self->c);
	ASSERT_EQ(0, hm_trace_finish(self->c, &self->run.trace))
		TH_LOG("the kernel's MMU events diverge from the reference (see the checker's lines above)");
}

/* ---- main ---- */

static void hm_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-S seed] [-r rounds] [-n ops] [-p passes] [--check-all] [-h]\n"
		"  -S  random seed (default: time based; always printed)\n"
		"  -r  data rounds per huge-page backing (default %ld, max 64)\n"
		"  -n  one-page MMU-notifier operations (default %ld, max 10000)\n"
		"  -p  passes over the refused memslot updates (default %ld, max 1000)\n"
		"  --check-all  check thp_data, hugetlb_data and notifier_one_page against\n"
		"      the reference too (invalid_memslots always is, unless KMMU_CHECK=0;\n"
		"      each check costs 5-15 s in a TCG VM)\n"
		"$KMMU_HUGE_INJECT=swap|stale|accept plants a bug in the test, which must\n"
		"then fail: swap (two pages of a huge slot trade places), stale (a dropped\n"
		"page gets its old content back), accept (a refused create made valid)\n",
		prog, hm_opts.rounds, hm_opts.ops, hm_opts.passes);
}

/* The options of this test alone (kmmu_run_parse() does the rest). */
static const struct kmmu_opt hm_cli_opts[] = {
	KMMU_OPT_U(NULL, 'r', hm_opts.rounds, 1, 64, 0, "-r wants a round count from 1 to 64"),
	KMMU_OPT_U(NULL, 'p', hm_opts.passes, 1, 1000, 0, "-p wants a pass count from 1 to 1000"),
	KMMU_OPT_BOOL("check-all", 0, hm_opts.check_all),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "huge_mapping_test";
	struct kmmu_run_opts run = { .ops = &hm_opts.ops, .max_ops = 10000, .seed = &hm_opts.seed,
		.cli = { hm_usage, hm_cli_opts } };
	char why[256];
	int fd;

	kmmu_run_parse(&run, prog, &argc, argv);
	hm_opts.inject = getenv("KMMU_HUGE_INJECT");
	if (hm_opts.inject && !*hm_opts.inject)
		hm_opts.inject = NULL;
	if (hm_opts.inject && !hm_inject("swap") && !hm_inject("stale") && !hm_inject("accept"))
		kmmu_usage_error(prog, "KMMU_HUGE_INJECT wants swap, stale or accept");
	kmmu_test_header(prog, "seed %llu rounds %ld ops %ld passes %ld%s%s%s",
			 (unsigned long long)hm_opts.seed, hm_opts.rounds, hm_opts.ops,
			 hm_opts.passes, hm_opts.check_all ? " check-all" : "",
			 hm_opts.inject ? " INJECTED BUG: " : "", hm_opts.inject ? hm_opts.inject : "");
	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd < 0)
		ksft_exit_skip("%s\n", why);
	close(fd);
	return test_harness_run(argc, argv);
}
