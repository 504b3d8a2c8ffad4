// SPDX-License-Identifier: GPL-2.0
/*
 * mmio_invalidation_test: vCPUs load from and store to a set of guest
 * physical pages while the host turns them from MMIO into RAM (creates a
 * memslot over them) and back (deletes or moves the slot).  KVM caches
 * "this GPA is MMIO" in MMIO SPTEs stamped with the memslot generation; a
 * memslot update that adds RAM does not zap them, it only bumps the
 * generation, so a stale MMIO SPTE must never be honoured after the
 * update.  The generation stored in an SPTE has 19 bits: when it wraps,
 * KVM zaps everything, or a SPTE from 2^19 generations ago would match
 * again.  Both are checked: phase "flip" and phase "wrap".
 *
 * Generation arithmetic (Linux 6.1; the rules have held since 5.2):
 * virt/kvm/kvm_main.c kvm_swap_active_memslots() sets the new memslot set's
 * generation to the old one plus KVM_ADDRESS_SPACE_NUM (2 on x86,
 * arch/x86/include/asm/kvm_host.h), address space 0 starting at 0
 * (kvm_create_vm()).  kvm_set_memslot() swaps once for CREATE and
 * FLAGS_ONLY, twice for DELETE and MOVE (kvm_invalidate_memslot() swaps in
 * the INVALID copy first); a call that changes nothing returns before
 * swapping.  Each swap calls kvm_arch_memslots_updated() ->
 * kvm_mmu_invalidate_mmio_sptes() (arch/x86/kvm/mmu/mmu.c), which zaps all
 * shadow pages (kvm_mmu_zap_all_fast) when (gen & MMIO_SPTE_GEN_MASK &
 * ~(KVM_ADDRESS_SPACE_NUM - 1)) == 0, MMIO_SPTE_GEN_MASK being 19 bits
 * (arch/x86/kvm/mmu/spte.h).  So in address space 0 the MMIO generation
 * wraps every 2^19 / 2 = 262144 swaps, i.e. when the number of swaps since
 * the VM was created is a multiple of 262144.  This test counts swaps
 * itself from every KVM_SET_USER_MEMORY_REGION of the VM (the runtime's
 * memslot hook, the runtime's own slots included) and predicts the
 * generation from them; where the host emits the MMIO SPTE tracepoints
 * the checker compares the prediction with the kernel (see below).
 * DELETE and MOVE also zap all shadow pages in 6.1
 * (kvm_arch_flush_shadow_memslot -> kvm_mmu_zap_all_fast), which would
 * clear every stale MMIO SPTE as a side effect: the wrap phase therefore
 * only creates slots and advances the generation with FLAGS_ONLY changes
 * (toggling dirty logging) of a scratch slot the guest never touches.
 *
 * Layout.  Cell i is one page with its own one-page memslot (id
 * KMMU_SLOT_FIRST_FREE + i) backed by page i of one host buffer; it lives
 * at "home" (home_gpa + i * 4K) or "alt" (alt_gpa + i * 4K), or is absent.
 * The guest page tables map both ranges (GVA == GPA), so the guest can
 * touch either place at any time; a place without the slot is MMIO.  vCPU
 * v owns the 8-byte word 8 * v of every cell, which holds
 * pattern(i, v, gen) = 1 << 62 | i << 40 | v << 32 | gen, gen counting
 * the stores that reached memory; the backing follows the slot, so the
 * value survives moves, deletes and re-creates.  MMIO loads are completed
 * with POISON (bit 63 set, never a pattern); MMIO stores are dropped.
 *
 * Publication and classification: the slot-state seqlock and the guest's
 * judgement of one access, see kmmu/slot_state.h.  Flags here: location |
 * SLEEP; a flag change without an ioctl (SLEEP) just adds 2 to seq.  A
 * stable access must exit iff the cell is not at the accessed place: the
 * ioctl that produced its state had returned, so every fault after it
 * sees the new layout and the new memslot generation.
 *
 * Phase "flip" (-n ops, at most -d seconds): random CREATE (home or alt),
 * DELETE and MOVE of the cells; the guest picks a cell and a place
 * uniformly, so MMIO SPTEs exist for many places when they turn into RAM.
 *
 * Phase "wrap" (--generations N swaps, or --full-wrap):
 *   1. every cell is deleted (absent at both places);
 *   2. prime: the vCPUs touch everything; the host waits until each
 *      "sleeper" cell (a quarter of them) exited as MMIO at home, i.e. has
 *      an MMIO SPTE there (with mmio_caching=Y) stamped with the current
 *      generation G; then it marks them SLEEP (the guest leaves them alone)
 *      and waits two loop iterations of every vCPU so none is in flight;
 *   3. the sleepers are created at home: their MMIO SPTEs are now stale,
 *      and nothing touches or zaps them;
 *   4. drive: one swap per step, a scratch slot's FLAGS_ONLY toggle or the
 *      scheduled CREATE of another cell at home (half of those clustered
 *      around the wrap); the vCPUs keep hammering the other cells and the
 *      always-absent alt places, so MMIO SPTEs are made, used and
 *      invalidated at every generation, across the wrap;
 *   5. wake: with --full-wrap when the generation is G + 2^19 again (the
 *      sleepers' stale SPTEs would match; only the zap at the wrap removed
 *      them), else after N steps: every vCPU reads every sleeper, which must
 *      be RAM with its exact value; then the sleepers join the others;
 *   6. with --full-wrap, some more steps past the wake.
 * --full-wrap drives 262144 swaps and is for `make stress`/nightly; the
 * default N is bounded so the test fits make check's budget.
 *
 * End of each phase: absent cells are re-created at home, then the vCPUs
 * read every cell once more (no exit allowed, exact value).
 *
 * Checking against the reference (tracing/): every ioctl of the VM goes
 * to the checker's action log through the memslot hook.  With
 * mmio_caching=Y the checker compares the generations of mark_mmio_spte
 * and check_mmio_spte with the reference's memslot generation, requires
 * every handle_mmio_page_fault (an MMIO SPTE KVM trusted) to be for a gfn
 * without a live memslot, and requires a kvm_mmu_zap_all_fast inside the
 * ioctl that wraps the MMIO generation.  Where the host has
 * mmio_caching=N those events never fire: the checker reports the
 * properties as not checkable and the test says so.
 *
 * $KMMU_MMIO_INJECT=invert-one inverts the guest's expectation for cell 0,
 * which must make the test fail (a check of the test, not of KVM).
 *
 * One program in several files (mmio_invalidation/mmio_invalidation.h
 * lists them): this one holds the harness, every verdict and main(); the
 * files in mmio_invalidation/ return what they found, or an error with the
 * reason.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "mmio_invalidation/mmio_invalidation.h"

struct mi_opts mi_opts = {
	.vcpus = 2,
	.cells = 64,
	.ops = 3000,
	.generations = 20000,
	.duration = 60,
};

/* ---- the harness ---- */

FIXTURE(mi) {
	struct kmmu_test_run run;	/* the VM, the checker's session, the result */
	struct kmmu_mem backing, scratch;
	struct mi_ctx *c;
};

FIXTURE_SETUP(mi)
{
	self->backing.fd = -1;
	self->scratch.fd = -1;
	KMMU_TEST_SETUP(&self->run, "mmio_invalidation_test");
}

FIXTURE_TEARDOWN(mi)
{
	struct mi_ctx *c = self->c;
	struct mi_totals t = { 0 };

	if (!self->run.started)
		return;
	if (c && c->sh)
		mi_totals(c, &t);
	/* The VM goes before the kernel log is looked at. */
	KMMU_TEST_END(&self->run);
	kmmu_mem_free(&self->backing);
	kmmu_mem_free(&self->scratch);
	if (c)
		mi_print(c, &t, self->run.dur);
	if (self->run.res)
		mi_record(self->run.res, c, &t, self->run.dur);
	KMMU_TEST_FINISH(&self->run, "mmio_invalidation_test", mi_opts.result);
	if (c) {
		kmmu_ss_host_free(&c->ss);
		free(c->home_exits);
		free(c->views);
		free(c);
		self->c = NULL;
	}
}

static bool mi_mmio_caching(void)
{
	FILE *f = fopen("/sys/module/kvm/parameters/mmio_caching", "r");
	int ch = f ? fgetc(f) : 'N';

	if (f)
		fclose(f);
	return ch == 'Y' || ch == 'y' || ch == '1';
}

KMMU_TEST_F(mi, run, 200)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = mi_opts.vcpus };
	uint64_t n = mi_opts.cells, i, sh_gva, rng;
	size_t exp_bytes, state_bytes;
	struct mi_ctx *c;
	char err[512];
	long cap;
	int r, v;

	c = calloc(1, sizeof(*c));
	ASSERT_NE(NULL, c);
	self->c = c;
	ASSERT_EQ(0, kmmu_ss_host_init(&c->ss, n));
	c->ss.op_names = mi_op_names;
	c->ss.state_text = mi_state_text;
	c->ss.op_text = mi_op_text;
	c->home_exits = calloc(n, sizeof(*c->home_exits));
	c->nr_views = KMMU_SLOT_FIRST_FREE + n + 1;
	c->views = calloc(c->nr_views, sizeof(*c->views));
	ASSERT_TRUE(c->home_exits && c->views);

	c->region = n * 4096;
	c->home_gpa = KMMU_GPA_TEST;
	c->alt_gpa = KMMU_GPA_TEST + ((c->region + (1ULL << 30) - 1) & ~((1ULL << 30) - 1));
	c->scratch_gpa = c->alt_gpa + ((c->region + (1ULL << 30) - 1) & ~((1ULL << 30) - 1));
	state_bytes = n * sizeof(uint64_t);
	exp_bytes = (size_t)mi_opts.vcpus * n * sizeof(uint32_t);
	vo.shared_size = sizeof(struct mi_shared) + 4096 + state_bytes + 4096 + exp_bytes + 4096;
	vo.pt_pages = 1024 + 2 * kmmu_pt_pages_for(c->region);
	/* The hook counts every memslot swap, the runtime's own slots included. */
	vo.memslot_hook = mi_memslot_hook;
	vo.memslot_hook_ctx = c;

	/* Its memslot hook (above) logs the ioctls into the session itself. */
	kmmu_test_run_trace(&self->run, "mmio_invalidation_test", NULL, err, sizeof(err));
	if (self->run.trace)
		c->log = kmmu_trace_session_log(self->run.trace);
	if (!mi_mmio_caching())
		ksft_print_msg("this host has mmio_caching=N: KVM makes no MMIO SPTEs, so their generations (mark_mmio_spte, check_mmio_spte, handle_mmio_page_fault) are not checkable here; classification still is\n");

	kmmu_vm_create(&self->run.vm, &vo);
	cap = kmmu_kvm_cap(kmmu_vm_fd(self->run.vm), KVM_CAP_MULTI_ADDRESS_SPACE);
	mi_nr_as = cap > 1 ? cap : 1;
	c->swaps_per_wrap = (MI_MMIO_GEN_MASK + 1) / mi_nr_as;
	kmmu_trace_session_vm(self->run.trace, cap);
	kmmu_result_host(self->run.res)->nr_memslots = kmmu_vm_nr_slots(self->run.vm);
	ASSERT_LE(n + 1, kmmu_vm_nr_slots(self->run.vm) - KMMU_RUNTIME_SLOTS);
	ASSERT_LT(c->scratch_gpa + 4096 - 1, 1ULL << kmmu_vm_phys_bits(self->run.vm))
		TH_LOG("guest MAXPHYADDR %u too small", kmmu_vm_phys_bits(self->run.vm));
	ASSERT_EQ(0, c->hook_unknown + c->hook_failures);

	c->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(struct mi_shared), &sh_gva);
	ASSERT_NE(NULL, c->sh);
	c->sh->nr_cells = n;
	c->sh->seed = mi_opts.seed;
	c->sh->home_gva = c->home_gpa;
	c->sh->alt_gva = c->alt_gpa;
	c->sh->inject_cell = mi_opts.inject ? 0 : MI_NO_CELL;
	c->ss.state = kmmu_vm_alloc_shared(self->run.vm, state_bytes, &c->sh->state_gva);
	ASSERT_NE(NULL, c->ss.state);
	ASSERT_NE(NULL, kmmu_vm_alloc_shared(self->run.vm, exp_bytes, &c->sh->exp_gva));

	/* Both places, GVA == GPA, mapped whether backed or not. */
	kmmu_vm_map(self->run.vm, c->home_gpa, c->home_gpa, c->region,
		    KMMU_MAP_WRITE | KMMU_MAP_NX);
	kmmu_vm_map(self->run.vm, c->alt_gpa, c->alt_gpa, c->region,
		    KMMU_MAP_WRITE | KMMU_MAP_NX);

	r = kmmu_mem_alloc(&self->backing, c->region, KMMU_BACKING_MEMFD, -1);
	ASSERT_EQ(0, r) TH_LOG("guest memory: %s", strerror(-r));
	r = kmmu_mem_alloc(&self->scratch, 4096, KMMU_BACKING_ANON, -1);
	ASSERT_EQ(0, r) TH_LOG("scratch memory: %s", strerror(-r));
	c->backing = self->backing.hva;
	c->scratch = self->scratch.hva;
	for (i = 0; i < n; i++)
		for (v = 0; v < mi_opts.vcpus; v++)
			((uint64_t *)(c->backing + i * 4096))[v] = KMMU_SS_PATTERN(i, v, 0);

	/* Every cell starts as RAM at home. */
	clock_gettime(CLOCK_MONOTONIC, &c->ss.t0);
	for (i = 0; i < n; i++)
		KMMU_ASSERT_CALL(mi_do_op, self->run.vm, c, i, MI_OP_CREATE, KMMU_SS_HOME, false);
	c->creates = 0;

	mi_set_handlers(self->run.vm, c);
	kmmu_vm_start(self->run.vm, mi_guest, (void *)(uintptr_t)sh_gva);

	r = mi_flip(self->run.vm, c, err, sizeof(err));
	if (r) {
		kmmu_vm_stop(self->run.vm);
		ASSERT_EQ(0, r) TH_LOG("flip phase: %s; vCPUs: %s", err, kmmu_vm_errors(self->run.vm));
	}
	if (mi_opts.generations || mi_opts.full_wrap) {
		rng = mi_opts.seed ^ 0x5bd1e995ULL;
		if (!rng)
			rng = 1;
		r = mi_wrap(self->run.vm, c, &rng, err, sizeof(err));
		if (r) {
			kmmu_vm_stop(self->run.vm);
			ASSERT_EQ(0, r) TH_LOG("wrap phase: %s; vCPUs: %s", err,
					       kmmu_vm_errors(self->run.vm));
		}
	}
	__atomic_store_n(&c->sh->stop, 1, __ATOMIC_RELEASE);
	r = __kmmu_vm_wait(self->run.vm, 60);
	if (r) {
		const char *e = kmmu_vm_errors(self->run.vm);

		ASSERT_EQ(0, r) TH_LOG("%s%s", r == -ETIMEDOUT ? "vCPUs did not finish: " : "",
				       e[0] ? e : strerror(-r));
	}
	ASSERT_EQ(0, c->hook_unknown + c->hook_failures)
		TH_LOG("memslot ioctls the generation model could not follow");
	for (v = 0; v < mi_opts.vcpus; v++)
		ASSERT_NE(0, c->sh->vcpu[v].ss.sweeps);
	/* The hook's log goes with the session. */
	c->log = NULL;
	KMMU_TEST_CHECK(&self->run);
}

static void mi_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-v vcpus] [-s cells] [-n ops] [-d seconds] [-S seed] [--generations N] [--full-wrap] [--result FILE]\n"
		"  -v  vCPUs (default 2, max %d)\n"
		"  -s  guest pages, each with its own memslot (default 64, max %d)\n"
		"  -n  memslot operations of the flip phase (default 3000; 0 skips it)\n"
		"  -d  maximum duration of each phase in seconds (default 60, 1800 with\n"
		"      --full-wrap, where not reaching the wrap in time is a failure)\n"
		"  -S  random seed (default: time based; always printed)\n"
		"  --generations N  memslot swaps the wrap phase drives (default 20000;\n"
		"      0 skips the phase); the MMIO generation wraps every %llu\n"
		"  --full-wrap  drive the generation once around (%llu swaps) and check\n"
		"      the pages whose stale MMIO SPTEs would match again (stress/nightly)\n"
		"  --result FILE  result file (default $KMMU_RESULT)\n"
		"$KMMU_MMIO_INJECT=invert-one inverts the expected outcome for page 0 (the\n"
		"test must then fail: a check of the test itself)\n",
		prog, KMMU_MAX_VCPUS, MI_MAX_CELLS, (unsigned long long)MI_SWAPS_PER_WRAP_SMM,
		(unsigned long long)MI_SWAPS_PER_WRAP_SMM);
}

/* The options of this test alone (kmmu_run_parse() does the rest). */
static const struct kmmu_opt mi_cli_opts[] = {
	KMMU_OPT_U(NULL, 's', mi_opts.cells, 1, MI_MAX_CELLS, 0,
		   "-s wants a page count from 1 to 4096"),
	KMMU_OPT_U("generations", 0, mi_opts.generations, 0, 100000000, 0,
		   "--generations wants a count from 0 to 1e8"),
	KMMU_OPT_BOOL("full-wrap", 0, mi_opts.full_wrap),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "mmio_invalidation_test";
	struct kmmu_run_opts run = { .vcpus = &mi_opts.vcpus, .min_vcpus = 1, .ops = &mi_opts.ops,
		.max_ops = 1000000000, .duration = &mi_opts.duration, .seed = &mi_opts.seed,
		.result = &mi_opts.result, .cli = { mi_usage, mi_cli_opts } };
	char why[256], msg[160];
	long cap;
	int fd;

	kmmu_run_parse(&run, prog, &argc, argv);
	/* A full wrap is 262144 memslot updates: give it time unless told. */
	if (mi_opts.full_wrap && !run.timed)
		mi_opts.duration = 1800;
	mi_opts.inject = getenv("KMMU_MMIO_INJECT");
	if (mi_opts.inject && strcmp(mi_opts.inject, "invert-one"))
		kmmu_usage_error(prog, "KMMU_MMIO_INJECT wants invert-one");

	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd >= 0) {
		cap = kmmu_kvm_cap(fd, KVM_CAP_NR_MEMSLOTS);
		close(fd);
		if (cap > 0 && mi_opts.cells + 1 > cap - KMMU_RUNTIME_SLOTS)
			kmmu_usage_error(prog, "-s %ld: this host allows %ld memslots, %d of them used by the runtime, one by the test",
					 mi_opts.cells, cap, KMMU_RUNTIME_SLOTS);
	}
	kmmu_test_header(prog, "vcpus %d cells %ld ops %ld generations %s duration %.3gs seed %llu%s%s",
			 mi_opts.vcpus, mi_opts.cells, mi_opts.ops,
			 mi_opts.full_wrap ? "full-wrap" : (snprintf(msg, sizeof(msg), "%ld",
								     mi_opts.generations), msg),
			 mi_opts.duration, (unsigned long long)mi_opts.seed,
			 mi_opts.inject ? " INJECTED BUG: " : "", mi_opts.inject ? mi_opts.inject : "");
	if (fd < 0)
		ksft_exit_skip("%s\n", why);
	/* The harness kills a test after .timeout seconds: both phases, the waits. */
	KMMU_TEST_TIMEOUT(mi, run, (int)(2 * mi_opts.duration) + 240 + mi_opts.cells / 100);
	return test_harness_run(argc, argv);
}
