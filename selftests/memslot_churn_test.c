// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_churn_test: vCPUs write and read known patterns across a guest
 * region made of many one-page memslots while a host thread deletes,
 * re-adds, moves and re-flags those slots in a seeded random order.
 *
 * What must hold: every value a vCPU reads is the last value it wrote there
 * (no lost or stale write); an access to a GPA that no slot covers exits to
 * the host as MMIO; an access to a present slot does not.
 *
 * Layout.  Slot i (memslot id KMMU_SLOT_FIRST_FREE + i) is one page, backed
 * by page i of one host buffer, and lives at one of two guest physical
 * places: "home" (home_gpa + i * 4K) or "alt" (alt_gpa + i * 4K), or is
 * absent.  The guest page tables map both whole ranges (GVA == GPA), so the
 * guest can touch either place at any time.  vCPU v owns the 8-byte word
 * at offset 8 * v of every slot page, so vCPUs never race with each other.
 * Because the backing page follows the slot (delete keeps it, re-add and
 * MOVE reuse it), its contents survive every operation: the value of a
 * word is always the last value the guest managed to store into it.
 *
 * Values.  pattern(i, v, gen) = 1 << 62 | i << 40 | v << 32 | gen, where
 * gen counts the stores of vCPU v into slot i that reached memory (the
 * guest keeps it in exp[v][i]).  The host fills every word with gen 0
 * before the vCPUs start.  MMIO reads are completed by the host with
 * POISON (bit 63 set, never a pattern).
 *
 * Publication and classification: the slot-state seqlock and the guest's
 * judgement of one access, see kmmu/slot_state.h.  Flags here: location,
 * READONLY, LOG_DIRTY and KMMU_SS_FLAGS_ONLY.  A stable access must exit
 * iff the slot is not at the accessed place or it is a store to a
 * READONLY slot; a flags-only change keeps that exact, as READONLY cannot
 * change in place.  The host-side check (kmmu/slot_state.h) also counts a
 * slot whose only change since is a flags-only one still running as there.
 *
 * Host unmaps (--host-unmap N).  A second host thread, about N times a
 * second, picks a run of slots its state words show present and
 * madvise(MADV_DONTNEED)s their backing pages, racing with the churn on
 * those same slots.  KVM's MMU notifier zaps the SPTEs; the next guest
 * access refaults the page through KVM.  With memfd backing the data lives
 * in the file, so every check above still holds exactly; anonymous memory
 * would lose it (zero pages), so the option refuses -m anon.  The backing
 * is one buffer that outlives every slot (only the teardown frees it,
 * after joining the thread), so a range whose slot is being deleted or
 * moved is still the test's memory.  Traced runs also capture
 * kvm:kvm_unmap_hva_range (not in the checker's event list) and require
 * one event with exactly each madvised range.
 *
 * End.  When the operation budget (-n) or the time (-d) is used up, the
 * host re-adds every absent slot, then sets stop; each vCPU then reads
 * every slot at its place once more (no exit allowed, value exact).
 *
 * Failures report the GPA, slot, the state words seen, the values, and the
 * slot's recent operations with their seq, marking those that overlapped.
 *
 * One program in several files (memslot_churn/memslot_churn.h lists them):
 * this one holds the harness, every verdict and main(); the files in
 * memslot_churn/ return what they found, or an error with the reason.
 */
#include <errno.h>
#include <getopt.h>
#include <numa.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "memslot_churn/memslot_churn.h"

struct ch_opts ch_opts = {
	.vcpus = 2,
	.slots = 256,
	.ops = 10000,
	.duration = 30,
	.backing = KMMU_BACKING_MEMFD,
	.numa_node = -1,
};

/* ---- the harness ---- */

FIXTURE(churn) {
	struct kmmu_test_run run;	/* the VM, the checker's session, the result */
	struct kmmu_mem backing;
	struct ch_ctx *c;
};

FIXTURE_SETUP(churn)
{
	self->backing.fd = -1;
	KMMU_TEST_SETUP(&self->run, "memslot_churn_test");
}

FIXTURE_TEARDOWN(churn)
{
	struct ch_ctx *c = self->c;
	struct ch_totals t = { 0 };
	int v;

	if (!self->run.started)
		return;
	if (c && c->sh)
		ch_totals(c, &t);
	if (c && c->stats_open) {
		/* The test failed between the two readings: no KVM stats. */
		for (v = 0; v < ch_opts.vcpus; v++)
			kmmu_stats_close(&c->vcpu_stats[v]);
		kmmu_stats_close(&c->vm_stats);
		c->stats_open = false;
		memset(c->stat_found, 0, sizeof(c->stat_found));
	}
	/* The unmapper touches the backing: stopped before it goes. */
	if (c)
		ch_unmapper_stop(c);
	/* The VM goes before the kernel log is looked at. */
	KMMU_TEST_END(&self->run);
	kmmu_mem_free(&self->backing);
	if (c)
		ch_print(c, &t, self->run.dur);
	if (self->run.res)
		ch_record(self->run.res, c, &t, self->run.dur);
	KMMU_TEST_FINISH(&self->run, "memslot_churn_test", ch_opts.result);
	if (c) {
		ch_unmapper_free(c);
		kmmu_ss_host_free(&c->ss);
		free(c->frozen);
		free(c);
		self->c = NULL;
	}
}

KMMU_TEST_F(churn, run, 90)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = ch_opts.vcpus };
	struct ch_ctx *c;
	uint64_t n = ch_opts.slots, i, gva, rng, region;
	size_t exp_bytes, state_bytes;
	char err[512];
	uint8_t *backing;
	long done = 0;
	int r, v;

	c = calloc(1, sizeof(*c));
	ASSERT_NE(NULL, c);
	self->c = c;
	c->frozen = calloc(n, sizeof(*c->frozen));
	ASSERT_EQ(0, kmmu_ss_host_init(&c->ss, n));
	ASSERT_NE(NULL, c->frozen);
	c->ss.op_names = ch_op_names;
	c->ss.state_text = ch_state_text;
	c->ss.op_text = ch_op_text;

	region = n * 4096;
	c->region = region;
	c->home_gpa = KMMU_GPA_TEST;
	c->alt_gpa = KMMU_GPA_TEST + ((region + (1ULL << 30) - 1) & ~((1ULL << 30) - 1));
	state_bytes = n * sizeof(uint64_t);
	exp_bytes = (size_t)ch_opts.vcpus * n * sizeof(uint32_t);
	vo.shared_size = sizeof(struct ch_shared) + 4096 + state_bytes + 4096 + exp_bytes + 4096;
	vo.pt_pages = 1024 + 2 * kmmu_pt_pages_for(region);

	/* Checked against the reference from the VM's first memslot on. */
	kmmu_test_run_trace(&self->run, "memslot_churn_test", &vo, err, sizeof(err));

	kmmu_vm_create(&self->run.vm, &vo);
	kmmu_trace_session_vm(self->run.trace, kmmu_kvm_cap(kmmu_vm_fd(self->run.vm),
							KVM_CAP_MULTI_ADDRESS_SPACE));
	kmmu_result_host(self->run.res)->nr_memslots = kmmu_vm_nr_slots(self->run.vm);
	ASSERT_LE(n, kmmu_vm_nr_slots(self->run.vm) - KMMU_RUNTIME_SLOTS);
	ASSERT_LT(c->alt_gpa + region - 1, 1ULL << kmmu_vm_phys_bits(self->run.vm))
		TH_LOG("guest MAXPHYADDR %u too small", kmmu_vm_phys_bits(self->run.vm));
	c->readonly_ok = kmmu_kvm_cap(kmmu_vm_fd(self->run.vm), KVM_CAP_READONLY_MEM) > 0;

	/* Shared region: header, state words, guest expectations. */
	c->sh = kmmu_vm_alloc_shared(self->run.vm, sizeof(struct ch_shared), &gva);
	ASSERT_NE(NULL, c->sh);
	c->sh->nr_slots = n;
	c->sh->nr_vcpus = ch_opts.vcpus;
	c->sh->seed = ch_opts.seed;
	c->sh->home_gva = c->home_gpa;
	c->sh->alt_gva = c->alt_gpa;
	uint64_t sh_gva = gva;

	c->ss.state = kmmu_vm_alloc_shared(self->run.vm, state_bytes, &c->sh->state_gva);
	c->exp = kmmu_vm_alloc_shared(self->run.vm, exp_bytes, &c->sh->exp_gva);
	ASSERT_TRUE(c->ss.state && c->exp);

	/* Both places of the region, GVA == GPA, mapped whether backed or not. */
	kmmu_vm_map(self->run.vm, c->home_gpa, c->home_gpa, region,
		    KMMU_MAP_WRITE | KMMU_MAP_NX);
	kmmu_vm_map(self->run.vm, c->alt_gpa, c->alt_gpa, region,
		    KMMU_MAP_WRITE | KMMU_MAP_NX);

	r = kmmu_mem_alloc(&self->backing, region, ch_opts.backing, ch_opts.numa_node);
	ASSERT_EQ(0, r) TH_LOG("guest memory: %s", strerror(-r));
	backing = self->backing.hva;
	c->backing = backing;
	for (i = 0; i < n; i++)
		for (v = 0; v < ch_opts.vcpus; v++)
			((uint64_t *)(backing + i * 4096))[v] = KMMU_SS_PATTERN(i, v, 0);

	/* All slots start present at home. */
	clock_gettime(CLOCK_MONOTONIC, &c->ss.t0);
	for (i = 0; i < n; i++)
		KMMU_ASSERT_CALL(ch_do_op, self->run.vm, c, backing, i, CH_OP_CREATE, KMMU_SS_HOME);
	c->creates = 0;

	ch_set_handlers(self->run.vm, c);
	ch_stats(c, self->run.vm, false);
	kmmu_vm_start(self->run.vm, ch_guest, (void *)(uintptr_t)sh_gva);
	if (ch_opts.host_unmap) {
		r = ch_unmapper_start(c, self->run.trace);
		if (r)
			kmmu_vm_stop(self->run.vm);
		ASSERT_EQ(0, r) TH_LOG("starting the unmap thread: %s", strerror(-r));
	}

	/* The churn: this thread is the updater. */
	rng = ch_opts.seed ? ch_opts.seed : 1;
	while (done < ch_opts.ops && kmmu_ss_now(&c->ss.t0) < ch_opts.duration &&
	       !kmmu_vm_failed(self->run.vm)) {
		if (ch_opts.inject && !strcmp(ch_opts.inject, "lost-write") &&
		    done == ch_opts.ops / 4) {
			/* vCPU 0's word in every slot loses its latest store. */
			for (i = 0; i < n; i++)
				((uint64_t *)(backing + i * 4096))[0] ^= 1;
		}
		r = ch_random_op(self->run.vm, c, backing, &rng, err, sizeof(err));
		if (r) {
			/* Kick the vCPUs out without starting their final sweep. */
			kmmu_vm_stop(self->run.vm);
			ASSERT_EQ(0, r) TH_LOG("%s; vCPUs: %s", err, kmmu_vm_errors(self->run.vm));
		}
		done++;
	}
	c->churn_s = kmmu_ss_now(&c->ss.t0);
	if (ch_opts.host_unmap) {
		ch_unmapper_stop(c);
		if (c->unmap_err) {
			kmmu_vm_stop(self->run.vm);
			ASSERT_EQ(0, c->unmap_err) TH_LOG("madvise(MADV_DONTNEED) of the backing failed: %s",
							  strerror(c->unmap_err));
		}
		r = ch_unmap_verify(c, err, sizeof(err));
		if (r)
			kmmu_vm_stop(self->run.vm);
		ASSERT_EQ(0, r) TH_LOG("%s", err);
	}
	if (!kmmu_vm_failed(self->run.vm)) {
		/* Everything back, then the final sweep. */
		for (i = 0; i < n; i++) {
			if ((c->ss.state[i] & KMMU_SS_LOC_MASK) != KMMU_SS_ABSENT || c->frozen[i])
				continue;
			KMMU_ASSERT_CALL(ch_do_op, self->run.vm, c, backing, i, CH_OP_CREATE,
					 KMMU_SS_HOME);
		}
	}
	__atomic_store_n(&c->sh->stop, 1, __ATOMIC_RELEASE);
	r = __kmmu_vm_wait(self->run.vm, 30 + n / 1000.0);
	if (r) {
		const char *e = kmmu_vm_errors(self->run.vm);

		ASSERT_EQ(0, r) TH_LOG("%s%s", r == -ETIMEDOUT ? "vCPUs did not finish: " : "",
				       e[0] ? e : strerror(-r));
	}
	for (v = 0; v < ch_opts.vcpus; v++)
		ASSERT_EQ(n, c->sh->vcpu[v].ss.sweeps);
	ch_stats(c, self->run.vm, true);
	KMMU_TEST_CHECK(&self->run);
}

static void ch_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-v vcpus] [-s slots] [-n ops] [-d seconds] [-S seed] [-m anon|memfd]\n"
		"          [-N node] [--host-unmap N] [--result FILE]\n"
		"  -v  vCPUs (default 2, max %d)\n"
		"  -s  one-page memslots churned (default 256, max %d and KVM_CAP_NR_MEMSLOTS - %d)\n"
		"  -n  memslot operations (default 10000)\n"
		"  -d  maximum churn duration in seconds (default 30)\n"
		"  -S  random seed (default: time based; always printed)\n"
		"  -m  guest memory backing (default memfd)\n"
		"  -N, --numa-node NODE  bind the churned slots' backing to NUMA node NODE\n"
		"      (MPOL_BIND; default: the process's policy)\n"
		"  --host-unmap N  a host thread madvise(MADV_DONTNEED)s the backing of up to\n"
		"      %d present slots N times a second during the churn (max %d; memfd\n"
		"      backing only: anonymous memory would lose the data)\n"
		"  --result FILE  result file (default $KMMU_RESULT)\n"
		"$KMMU_CHURN_INJECT=stale-delete|phantom-add|lost-write|unmap-anon injects a\n"
		"bug the test must catch (to check the test itself); unmap-anon runs\n"
		"--host-unmap on anonymous backing\n",
		prog, KMMU_MAX_VCPUS, CH_MAX_SLOTS, KMMU_RUNTIME_SLOTS, CH_UNMAP_MAX_PAGES,
		CH_UNMAP_MAX_RATE);
}

/*
 * -N's node must be one this process may allocate memory on: mbind() would
 * refuse any other only once the test runs, as a failure, not a usage error.
 */
static void ch_parse_numa_node(const char *prog, const char *arg)
{
	struct bitmask *allowed;
	bool ok;
	uint64_t u;

	u = kmmu_option_u64(prog, arg, 0, 1023, "-N wants a NUMA node number from 0 to 1023");
	if (numa_available() < 0)
		kmmu_usage_error(prog, "-N: this host has no NUMA support (libnuma's numa_available() < 0)");
	allowed = numa_get_mems_allowed();
	ok = u <= (uint64_t)numa_max_node() && numa_bitmask_isbitset(allowed, u);
	numa_bitmask_free(allowed);
	if (!ok)
		kmmu_usage_error(prog, "-N %llu: not a NUMA node with memory this process may use (highest node %d)",
				 (unsigned long long)u, numa_max_node());
	ch_opts.numa_node = u;
}

static const char *const ch_backing_names[] = { "anon", "memfd" };
static const int ch_backing_values[] = { KMMU_BACKING_ANON, KMMU_BACKING_MEMFD };

/* The options of this test alone (kmmu_run_parse() does the rest). */
static const struct kmmu_opt ch_cli_opts[] = {
	KMMU_OPT_U(NULL, 's', ch_opts.slots, 1, CH_MAX_SLOTS, 0,
		   "-s wants a slot count from 1 to 32768"),
	KMMU_OPT_ONE_OF(NULL, 'm', ch_opts.backing, ch_backing_names, ch_backing_values, 2,
			"-m wants anon or memfd"),
	KMMU_OPT_FN("numa-node", 'N', ch_parse_numa_node),
	KMMU_OPT_U("host-unmap", 0, ch_opts.host_unmap, 0, CH_UNMAP_MAX_RATE, 0,
		   "--host-unmap wants unmaps per second from 0 to 1000000"),
	KMMU_OPTS_END,
};

int main(int argc, char **argv)
{
	const char *prog = "memslot_churn_test";
	struct kmmu_run_opts run = { .vcpus = &ch_opts.vcpus, .min_vcpus = 1, .ops = &ch_opts.ops,
		.max_ops = 1000000000, .duration = &ch_opts.duration, .seed = &ch_opts.seed,
		.result = &ch_opts.result, .cli = { ch_usage, ch_cli_opts } };
	char why[256], msg[160];
	size_t off;
	long cap;
	int fd;

	kmmu_run_parse(&run, prog, &argc, argv);
	ch_opts.inject = getenv("KMMU_CHURN_INJECT");
	if (ch_opts.inject && strcmp(ch_opts.inject, "stale-delete") &&
	    strcmp(ch_opts.inject, "phantom-add") && strcmp(ch_opts.inject, "lost-write") &&
	    strcmp(ch_opts.inject, "unmap-anon"))
		kmmu_usage_error(prog, "KMMU_CHURN_INJECT wants stale-delete, phantom-add, lost-write or unmap-anon");
	if (ch_opts.inject && !strcmp(ch_opts.inject, "unmap-anon")) {
		if (!ch_opts.host_unmap)
			kmmu_usage_error(prog, "KMMU_CHURN_INJECT=unmap-anon needs --host-unmap N");
		ch_opts.backing = KMMU_BACKING_ANON;
	} else if (ch_opts.host_unmap && ch_opts.backing == KMMU_BACKING_ANON) {
		kmmu_usage_error(prog, "--host-unmap needs -m memfd: MADV_DONTNEED would drop anonymous guest memory");
	}

	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd >= 0) {
		cap = kmmu_kvm_cap(fd, KVM_CAP_NR_MEMSLOTS);
		close(fd);
		if (cap > 0 && ch_opts.slots > cap - KMMU_RUNTIME_SLOTS)
			kmmu_usage_error(prog, "-s %ld: this host allows %ld memslots, %d of them used by the runtime",
					 ch_opts.slots, cap, KMMU_RUNTIME_SLOTS);
	}
	/* The parameters: the seed is always printed. */
	off = 0;
	msg[0] = 0;
	if (ch_opts.numa_node >= 0)
		off += snprintf(msg + off, sizeof(msg) - off, " numa-node %d", ch_opts.numa_node);
	if (ch_opts.host_unmap)
		snprintf(msg + off, sizeof(msg) - off, " host-unmap %ld/s", ch_opts.host_unmap);
	kmmu_test_header(prog, "vcpus %d slots %ld ops %ld duration %.3gs seed %llu backing %s%s%s%s",
			 ch_opts.vcpus, ch_opts.slots, ch_opts.ops, ch_opts.duration,
			 (unsigned long long)ch_opts.seed,
			 ch_opts.backing == KMMU_BACKING_ANON ? "anon" : "memfd", msg,
			 ch_opts.inject ? " INJECTED BUG: " : "", ch_opts.inject ? ch_opts.inject : "");
	if (fd < 0)
		ksft_exit_skip("%s\n", why);
	/* The harness kills a test after .timeout seconds: size it to -d. */
	KMMU_TEST_TIMEOUT(churn, run, (int)ch_opts.duration + 60 + ch_opts.slots / 500);
	return test_harness_run(argc, argv);
}
