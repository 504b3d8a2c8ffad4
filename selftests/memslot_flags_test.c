// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_flags_test: memslot semantics checked in a fixed order that
 * needs no luck: KVM_MEM_READONLY slots (ro.readonly, here), and that no
 * vCPU reaches a slot once it is deleted or moved away (gone.data_slot,
 * gone.system_slot: see "slots that are gone" below).
 *
 * ro.readonly:
 *
 * A read-only slot is ROM: a guest load reads its memory, a guest store
 * must exit to userspace as an MMIO write (KVM_EXIT_MMIO, is_write, the
 * store's gpa and value) and leave the memory unchanged.  KVM gets that
 * by never giving a read-only slot a writable pfn
 * (__gfn_to_pfn_memslot()), so that no SPTE of it is writable: a store
 * always faults and the fault path sends it to the emulator.  A bug that
 * maps a read fault writable (ci/mutants/patches/012) lets every store
 * after a load land in memory; a random churn finds it only when it
 * happens to load and then store into such a slot, so here every page
 * is loaded first and stored to, or stored to first, then loaded, then
 * stored to again.
 *
 * Two read-only slots: 64 pages of memfd (4K pages), and 4M of anonymous
 * THP memory with 2M-aligned gpa and host address, mapped by the guest
 * with 2M pages, so that KVM may map it with 2M SPTEs (KVM's pages_2m is
 * printed).  The host fills word 0 of every page with a pattern naming
 * the slot, page and generation.  For each tested page, the guest:
 *   load-first pages: load (the pattern), store (must exit), load (still
 *   the pattern), store (must exit);
 *   store-first pages: store (must exit), load, store (must exit), load.
 * Before each store the guest tells the host which gpa and value it is
 * about to store; the MMIO handler counts the exit only if it is exactly
 * that store, fails the vCPU on any other exit, and the guest fails if
 * its store was not counted (it reached memory instead).  After each
 * phase the host reads every page of both slots: only what the test
 * meant to change may have changed.
 *
 * Then the slots become read-write (DELETE and CREATE over the same
 * memory): the guest's stores must now reach memory without an exit,
 * which leaves writable SPTEs behind.  KVM refuses to toggle READONLY in
 * place (a flags-only update: EINVAL), which the test checks, so the
 * slots become read-only again by DELETE and CREATE, and the first
 * phase runs again over the new values: the writable SPTEs of the
 * read-write slots must all be gone.
 *
 * The run is checked against the reference when tracing is available:
 * the property "no SPTE of a read-only slot is writable" judges every
 * traced SPTE install (kvm_mmu_set_spte, both MMUs) in the read-only
 * slots, and "MMIO is emulated only for gfns without a live memslot"
 * allows a store to a read-only slot only.  The first must have judged
 * SPTEs (both MMUs trace their installs): the test fails if it is NOT
 * CHECKABLE, rather than pass having judged nothing.
 *
 * $KMMU_FLAGS_INJECT=drop-readonly plants a bug in the test itself: it
 * creates its read-only slots without KVM_MEM_READONLY, so the stores
 * land in memory as a writable SPTE would let them; the test must fail.
 *
 * One program in several files (memslot_flags/memslot_flags.h lists them):
 * this one holds the harness, every verdict and main(); the runs in
 * memslot_flags/ return what they found, or -errno with the reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/checker.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/opts.h"
#include "memslot_flags/memslot_flags.h"

bool mf_drop_readonly;
bool mf_keep_slot;
uint64_t mf_gone_rounds = GONE_ROUNDS_DEFAULT;

FIXTURE(ro) {
	struct ro_run ro;
};

FIXTURE_SETUP(ro)
{
	mf_backing_init(&self->ro.mem);
	KMMU_TEST_SETUP(&self->ro.run, NULL);
}

FIXTURE_TEARDOWN(ro)
{
	struct ro_run *ro = &self->ro;

	if (!ro->run.started)
		return;
	KMMU_TEST_END(&ro->run);
	mf_backing_free(&ro->mem);
	ksft_print_msg("%.2f s\n", ro->run.dur);
}

KMMU_TEST_F(ro, readonly, 120)
{
	struct ro_run *ro = &self->ro;
	struct kmmu_vm_opts vo = { .nr_vcpus = 1, .shared_size = 4096 };
	char err[512];

	kmmu_test_run_trace(&ro->run, "memslot_flags_test", &vo, err, sizeof(err));
	kmmu_vm_create(&ro->run.vm, &vo);
	kmmu_trace_session_vm(ro->run.trace, kmmu_kvm_cap(kmmu_vm_fd(ro->run.vm),
						      KVM_CAP_MULTI_ADDRESS_SPACE));
	if (kmmu_kvm_cap(kmmu_vm_fd(ro->run.vm), KVM_CAP_READONLY_MEM) <= 0)
		SKIP(return, "KVM has no read-only memslots (KVM_CAP_READONLY_MEM)");
	KMMU_ASSERT_CALL(mf_readonly_run, ro);

	ksft_print_msg("MMIO store exits to read-only slots: %llu (%llu tested pages, 2 stores each, 2 read-only phases)\n",
		       (unsigned long long)ro->sh->exits, (unsigned long long)mf_ro_tested_pages());
	ksft_print_msg("KVM pages_2m after each phase: read-only %llu, read-write %llu, read-only again %llu\n",
		       (unsigned long long)ro->pages_2m[RO_PHASE_RO],
		       (unsigned long long)ro->pages_2m[RO_PHASE_RW],
		       (unsigned long long)ro->pages_2m[RO_PHASE_RO_AGAIN]);
	ASSERT_EQ(0, ro->nr_bad) TH_LOG("%d pages whose memory is not what it must be:%s",
					ro->nr_bad, ro->bad);
	ASSERT_EQ(EINVAL, ro->toggle_errno)
		TH_LOG("a flags-only update toggling KVM_MEM_READONLY returned %s, want EINVAL",
		       ro->toggle_errno ? strerror(ro->toggle_errno) : "success");
	if (ro->run.trace) {
		struct kmmu_check_result res;

		ASSERT_EQ(0, kmmu_test_run_check_result(&ro->run, &res))
			TH_LOG("the checker found the kernel's MMU events diverging from the reference, or could not judge them (see its lines above)");
		/* kvm_mmu_set_spte is traced on both MMUs: never left unjudged. */
		ASSERT_NE(0, res.checked[KMMU_PROP_SPTE_WRITABLE])
			TH_LOG("the checker judged no SPTE of the read-only slots: %s",
			       res.not_checkable[KMMU_PROP_SPTE_WRITABLE] ?
			       res.not_checkable[KMMU_PROP_SPTE_WRITABLE] : "no reason given");
	}
}

/*
 * ---- slots that are gone ----
 *
 * After KVM_SET_USER_MEMORY_REGION deletes a slot or moves it away, no
 * vCPU may reach guest memory through the old slot: an access to its old
 * gpas must exit as MMIO (no slot), whatever the vCPU looked up last.
 * KVM keeps a per-vCPU cache of the slot it found last
 * (kvm_vcpu_gfn_to_memslot(), vcpu->last_used_slot) and drops it when the
 * memslot generation changes; without that (ci/mutants/patches/003) the
 * cache keeps returning the freed slot for gfns of its old range, as long
 * as the first lookup after the update is in that range.
 *
 * data_slot: a 4K (memfd) and a THP slot.  Each round, per slot and per
 * DELETE / MOVE: the guest loads a word of the slot, its hypercall asks
 * the host to delete or move the slot, and the guest loads the same gpa
 * again: that load must exit as MMIO at exactly that gpa (the host's
 * handler answers with a value memory never holds), and after a MOVE the
 * same page at its new gpa must read the memory.  Then the slot goes back.
 *
 * system_slot: the runtime's system slot holds the guest's page tables,
 * stack and ucall block, so after it is gone the guest can do nothing.
 * A fresh VM per round and per way: DELETE it, or MOVE it away
 * (to KMMU_GPA_TEST), either
 *   at_exit: in the handler of the guest's hypercall (the vCPU's last
 *            exit), or
 *   running: from the main thread while the guest spins, after its last
 *            fault, a store to a page of the slot it had not touched, so
 *            that the vCPU's last lookup is the system slot.
 * The host then lets the guest on (a flag in the slot's memory); a kernel
 * that runs the vCPU through the old slot lets the guest reach its next
 * hypercall, which fails the test.  A correct one ends the vCPU: with
 * KVM_EXIT_SHUTDOWN (the shadow MMU cannot load the root of the guest's
 * page tables: mmu_check_root() makes a triple fault), an internal error,
 * an MMIO exit at a gpa of the old slot, or a KVM_RUN error; the counts
 * of each are printed.  The rounds (--rounds) repeat the cheap sequence
 * so that one freed slot reused in time does not hide the bug.
 *
 * $KMMU_FLAGS_INJECT=keep-slot plants a bug in the test: the host skips
 * the DELETE / MOVE it claims to make, so the guest goes on through the
 * slot as a kernel that kept the old slot would let it; both tests must
 * fail.
 */

FIXTURE(gone) {
	struct gone_run gone;
};

FIXTURE_SETUP(gone)
{
	mf_backing_init(&self->gone.mem);
	KMMU_TEST_SETUP(&self->gone.run, NULL);
}

FIXTURE_TEARDOWN(gone)
{
	struct gone_run *gone = &self->gone;

	if (!gone->run.started)
		return;
	KMMU_TEST_END(&gone->run);
	mf_backing_free(&gone->mem);
	ksft_print_msg("%.2f s\n", gone->run.dur);
}

KMMU_TEST_F(gone, data_slot, 120)
{
	struct gone_run *gone = &self->gone;
	struct kmmu_vm_opts vo = { .nr_vcpus = 1, .shared_size = 4096 };
	char err[512];

	kmmu_test_run_trace(&gone->run, "memslot_flags_test", &vo, err, sizeof(err));
	kmmu_vm_create(&gone->run.vm, &vo);
	kmmu_trace_session_vm(gone->run.trace, kmmu_kvm_cap(kmmu_vm_fd(gone->run.vm),
							    KVM_CAP_MULTI_ADDRESS_SPACE));
	KMMU_ASSERT_CALL(mf_data_slot_run, gone);

	ksft_print_msg("data slots: %llu DELETE/MOVE (%llu rounds x 2 slots x 2), %llu loads from an old gpa, each an MMIO exit there%s\n",
		       (unsigned long long)gone->slot_ops, (unsigned long long)mf_gone_rounds,
		       (unsigned long long)gone->sh->exits,
		       mf_keep_slot ? " (INJECTED: keep-slot, no update issued)" : "");
	ASSERT_EQ(mf_gone_rounds * GONE_NR_REGIONS * GONE_NR_OPS, gone->sh->exits);
	KMMU_TEST_CHECK(&gone->run);
}

KMMU_TEST_F(gone, system_slot, 300)
{
	uint64_t ends[GONE_NR_OPS][GONE_NR_WHEN][GONE_NR_ENDS] = { 0 };
	int op, when, e;

	KMMU_ASSERT_CALL(mf_system_slot_run, &self->gone, ends);
	for (op = 0; op < GONE_NR_OPS; op++) {
		for (when = 0; when < GONE_NR_WHEN; when++) {
			char line[256];
			size_t off = 0;

			for (e = 0; e < GONE_NR_ENDS; e++)
				if (ends[op][when][e])
					off += snprintf(line + off, sizeof(line) - off, " %s %llu",
							mf_gone_end_name[e],
							(unsigned long long)ends[op][when][e]);
			ksft_print_msg("system slot %s %s, how the vCPU ended in %llu rounds:%s\n",
				       mf_gone_op_name[op], mf_gone_when_name[when],
				       (unsigned long long)mf_gone_rounds, off ? line : " -");
		}
	}
}

static void flags_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-h] [--rounds N]\n"
		"  --rounds N  rounds of the gone.* tests (default %d): a DELETE and a MOVE\n"
		"              of each data slot per round, four VMs whose system slot goes\n"
		"              per round\n"
		"$KMMU_FLAGS_INJECT plants a bug in the test, which must then fail:\n"
		"  drop-readonly  ro.readonly creates its read-only slots without\n"
		"                 KVM_MEM_READONLY\n"
		"  keep-slot      the gone.* tests skip the DELETE / MOVE they claim to make\n",
		prog, GONE_ROUNDS_DEFAULT);
}

static const struct kmmu_opt flags_cli_opts[] = {
	KMMU_OPT_U("rounds", 0, mf_gone_rounds, 1, 10000, 0, "--rounds wants 1 to 10000"),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "memslot_flags_test", *inject;
	struct kmmu_run_opts run = { .cli = { flags_usage, flags_cli_opts } };

	kmmu_run_parse(&run, prog, &argc, argv);
	inject = getenv("KMMU_FLAGS_INJECT");
	if (inject && *inject) {
		if (!strcmp(inject, "drop-readonly"))
			mf_drop_readonly = true;
		else if (!strcmp(inject, "keep-slot"))
			mf_keep_slot = true;
		else
			kmmu_usage_error(prog, "KMMU_FLAGS_INJECT wants drop-readonly or keep-slot");
	} else {
		inject = NULL;
	}
	/* Four VMs a round, a few seconds each in a slow test VM. */
	KMMU_TEST_TIMEOUT(gone, system_slot, 120 + 20 * mf_gone_rounds);
	KMMU_TEST_TIMEOUT(gone, data_slot, 60 + 10 * mf_gone_rounds);
	kmmu_test_header(prog, "rounds %llu, %s%s", (unsigned long long)mf_gone_rounds,
			 inject ? "INJECTED BUG: " : "no injected bug", inject ? inject : "");
	return test_harness_run(argc, argv);
}
