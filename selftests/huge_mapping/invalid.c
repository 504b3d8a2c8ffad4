// SPDX-License-Identifier: GPL-2.0
/*
 * hm.invalid_memslots' run: a host thread churns small slots while the
 * main thread tries the memslot updates KVM must refuse, each errno
 * compared with the kernel's; the churn undone, the layout must be as it
 * was.  Returns 0 or -errno with the reason: the verdicts are
 * huge_mapping_test.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "huge_mapping.h"

static void *hm_churn_thread(void *arg)
{
	struct hm_churn *ch = arg;
	struct hm_ctx *c = ch->c;
	int i, r, to;

	while (!kmmu_host_thread_stopping(&ch->thread)) {
		uint64_t x = kmmu_ss_rand(&ch->rng);
		struct hm_slot *sl;

		i = x % HM_I_CHURN;
		sl = &c->slot[HM_I_STABLE + i];
		to = ch->where[i] ? ((x >> 8) & 1 ? 0 : 3 - ch->where[i]) : 1 + ((x >> 8) & 1);
		if (!to)
			r = kmmu_slot_delete(c->vm, sl->id);
		else if (ch->where[i])
			r = kmmu_slot_move(c->vm, sl->id, to == 1 ? sl->gpa : c->sh->slot[HM_I_STABLE + i].alt_gpa);
		else
			r = __kmmu_slot_add(c->vm, sl->id, to == 1 ? sl->gpa : c->sh->slot[HM_I_STABLE + i].alt_gpa,
					    sl->size, hm_hva(c, sl), 0);
		if (r) {
			ch->err = r;
			snprintf(ch->what, sizeof(ch->what), "churn: slot %s from %d to %d: %s",
				 sl->name, ch->where[i], to, strerror(-r));
			break;
		}
		ch->where[i] = to;
		ch->ops++;
	}
	return NULL;
}

/* All churned slots home again (the thread is stopped). */
static int hm_churn_restore(struct hm_churn *ch, char *err, size_t len)
{
	struct hm_ctx *c = ch->c;
	int i, r = 0;

	for (i = 0; i < HM_I_CHURN && !r; i++) {
		struct hm_slot *sl = &c->slot[HM_I_STABLE + i];

		if (ch->where[i] == 2)
			r = kmmu_slot_move(c->vm, sl->id, sl->gpa);
		else if (!ch->where[i])
			r = __kmmu_slot_add(c->vm, sl->id, sl->gpa, sl->size, hm_hva(c, sl), 0);
		if (r)
			snprintf(err, len, "restoring churned slot %s: %s", sl->name, strerror(-r));
		else
			ch->where[i] = 1;
	}
	return r;
}

static int hm_churn_start(struct hm_churn *ch, char *err, size_t len)
{
	int r;

	r = kmmu_host_thread_start(&ch->thread, hm_churn_thread, ch);
	if (r)
		snprintf(err, len, "starting the churn thread: %s", strerror(-r));
	return r;
}

void hm_churn_stop(struct hm_churn *ch)
{
	kmmu_host_thread_stop(&ch->thread);
}

static int hm_cases(struct hm_ctx *c, struct hm_case *cs, uint64_t *probes, int *nr_probes)
{
	struct hm_slot *huge = &c->slot[0], *anon = &c->slot[1], *mfd = &c->slot[2];
	struct hm_slot *mv = &c->slot[3];
	uint64_t decoy = (uintptr_t)c->buf[c->nr_bufs - 1].base;
	long nslots = kmmu_vm_nr_slots(c->vm);
	long as = kmmu_kvm_cap(kmmu_vm_fd(c->vm), KVM_CAP_MULTI_ADDRESS_SPACE);
	uint32_t ro = KVM_MEM_READONLY;
	int n = 0, np = 0;

#define HM_CASE(w, sl, fl, g, sz, h, e) do {				\
		snprintf(cs[n].what, sizeof(cs[n].what), "%s", w);		\
		cs[n].untraced = (g) == 1ULL << 52;				\
		cs[n].slot = (sl);						\
		cs[n].flags = (fl);						\
		cs[n].gpa = (g);						\
		cs[n].size = (sz);						\
		cs[n].hva = (h);						\
		cs[n].want = (e);						\
		n++;								\
	} while (0)
#define HM_PROBE(g) (probes[np++] = (g))

	/* Overlaps: CREATE onto occupied ranges, MOVE onto other slots. */
	HM_CASE("create over the huge slot's last page", HM_I_NEWID, 0,
		huge->gpa + huge->size - HM_PAGE, 2 * HM_PAGE, decoy, -EEXIST);
	HM_CASE("create over the huge slot's middle 2M frame", HM_I_NEWID, 0,
		huge->gpa + HM_HUGE, HM_HUGE, decoy, -EEXIST);
	HM_CASE("create around a whole slot", HM_I_NEWID, 0, anon->gpa - HM_PAGE,
		anon->size + 2 * HM_PAGE, decoy, -EEXIST);
	HM_CASE("create exactly over another slot", HM_I_NEWID, 0, mfd->gpa, mfd->size, decoy,
		-EEXIST);
	HM_CASE("create whose last page is another slot's first page", HM_I_NEWID, 0,
		mfd->gpa - 3 * HM_PAGE, 4 * HM_PAGE, decoy, -EEXIST);
	HM_CASE("create of one page onto a slot's first page", HM_I_NEWID, 0, mfd->gpa, HM_PAGE,
		decoy, -EEXIST);
	HM_CASE("create inside the runtime's system slot", HM_I_NEWID, 0, KMMU_GPA_SYS, HM_PAGE,
		decoy, -EEXIST);
	HM_CASE("move onto another slot's first page", mv->id, 0,
		mfd->gpa - mv->size + HM_PAGE, mv->size, (uintptr_t)hm_hva(c, mv), -EEXIST);
	HM_CASE("move into the huge slot", mv->id, 0, huge->gpa + HM_HUGE - HM_PAGE, mv->size,
		(uintptr_t)hm_hva(c, mv), -EEXIST);
	/* Misaligned, wrapping, too large, beyond the address space. */
	HM_PROBE(HM_I_PROBE + 0 * 65536 + 0x800);
	HM_CASE("create with a gpa not page aligned", HM_I_NEWID, 0, probes[np - 1], HM_PAGE,
		decoy, -EINVAL);
	HM_PROBE(HM_I_PROBE + 1 * 65536);
	HM_CASE("create with a size not page aligned", HM_I_NEWID, 0, probes[np - 1],
		HM_PAGE + 512, decoy, -EINVAL);
	HM_PROBE(HM_I_PROBE + 2 * 65536);
	HM_CASE("create with an hva not page aligned", HM_I_NEWID, 0, probes[np - 1], HM_PAGE,
		decoy + 8, -EINVAL);
	HM_PROBE(HM_I_PROBE + 3 * 65536);
	HM_CASE("create with an hva in the kernel's half", HM_I_NEWID, 0, probes[np - 1], HM_PAGE,
		0xffffffff80000000ULL, -EINVAL);
	HM_CASE("create whose gpa + size wraps around", HM_I_NEWID, 0, ~0ULL & ~(HM_PAGE - 1),
		2 * HM_PAGE, decoy, -EINVAL);
	HM_PROBE(HM_I_PROBE + 4 * 65536);
	HM_CASE("create of 2^31 pages (KVM_MEM_MAX_NR_PAGES + 1)", HM_I_NEWID, 0, probes[np - 1],
		1ULL << 43, decoy, -EINVAL);
	HM_CASE("create beyond the guest physical address space (gpa 2^52)", HM_I_NEWID, 0,
		1ULL << 52, HM_PAGE, decoy, -EINVAL);
	HM_CASE("move beyond the guest physical address space (refused after invalidation)",
		mv->id, 0, 1ULL << 52, mv->size, (uintptr_t)hm_hva(c, mv), -EINVAL);
	HM_CASE("move to a gpa not page aligned", mv->id, 0, HM_I_FREE + 0x800, mv->size,
		(uintptr_t)hm_hva(c, mv), -EINVAL);
	/* Ids and address spaces out of range. */
	HM_PROBE(HM_I_PROBE + 5 * 65536);
	HM_CASE("create with id KVM_CAP_NR_MEMSLOTS", (uint32_t)nslots, 0, probes[np - 1], HM_PAGE,
		decoy, -EINVAL);
	HM_PROBE(HM_I_PROBE + 6 * 65536);
	HM_CASE("create in an address space beyond KVM_CAP_MULTI_ADDRESS_SPACE",
		(uint32_t)(as > 1 ? as : 1) << 16 | HM_I_NEWID, 0, probes[np - 1], HM_PAGE, decoy,
		-EINVAL);
	HM_PROBE(HM_I_PROBE + 7 * 65536);
	HM_CASE("create with an unknown flag (bit 7)", HM_I_NEWID, 1U << 7, probes[np - 1],
		HM_PAGE, decoy, -EINVAL);
	HM_CASE("delete an id that has no slot", HM_I_NEWID, 0, 0, 0, 0, -EINVAL);
	/* Changes of an existing slot that only CREATE may make. */
	HM_CASE("grow an existing slot in place", anon->id, 0, anon->gpa, anon->size + HM_PAGE,
		(uintptr_t)hm_hva(c, anon), -EINVAL);
	HM_CASE("shrink the huge slot in place", huge->id, 0, huge->gpa, huge->size - HM_HUGE,
		(uintptr_t)hm_hva(c, huge), -EINVAL);
	HM_CASE("change an existing slot's hva", anon->id, 0, anon->gpa, anon->size,
		(uintptr_t)hm_hva(c, anon) + HM_PAGE, -EINVAL);
	HM_CASE("toggle READONLY on an existing slot", anon->id, ro, anon->gpa, anon->size,
		(uintptr_t)hm_hva(c, anon), -EINVAL);
	HM_CASE("move and toggle READONLY at once", mv->id, ro, HM_I_FREE, mv->size,
		(uintptr_t)hm_hva(c, mv), -EINVAL);
	HM_CASE("move and change the size at once", mv->id, 0, HM_I_FREE, 2 * mv->size,
		(uintptr_t)hm_hva(c, mv), -EINVAL);
#undef HM_CASE
#undef HM_PROBE
	*nr_probes = np;
	return n;
}


/* Ends HM_SPIN: both vCPUs back at the gate. */
static int hm_spin_pause(struct hm_ctx *c, char *err, size_t len)
{
	int r;

	__atomic_store_n(&c->sh->stop, 1, __ATOMIC_RELEASE);
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r)
		snprintf(err, len, "stopping the sweeps: %s",
			 r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return r;
}

/*
 * One pass over the cases (those with ->untraced == @untraced), in a
 * seeded order; then both vCPUs must complete two more sweeps.
 */
static int hm_invalid_pass(struct hm_ctx *c, struct hm_churn *ch, struct hm_case *cs, int n,
			   bool untraced, int pass, char *err, size_t len)
{
	uint64_t last[HM_NR_VCPUS];
	int i, r, order[HM_MAX_CASES];
	long churned = ch->ops;
	double t0;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		int j = kmmu_ss_rand(&c->rng) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < HM_NR_VCPUS; i++)
		last[i] = __atomic_load_n(&c->sh->progress[i], __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		struct hm_case *k = &cs[order[i]];
		uint64_t size = k->size;

		if (k->untraced != untraced)
			continue;
		if (hm_inject("accept") && pass == 0 && k->want == -EINVAL &&
		    size == HM_PAGE + 512) {
			size = HM_PAGE;	/* KVM accepts this one */
			ksft_print_msg("INJECTED: '%s' issued with a valid size\n", k->what);
		}
		snprintf(c->phase, sizeof(c->phase), "pass %d: %s (slot %#x flags %#x gpa %#llx size %#llx hva %#llx)",
			 pass, k->what, k->slot, k->flags, (unsigned long long)k->gpa,
			 (unsigned long long)size, (unsigned long long)k->hva);
		r = kmmu_slot_set_raw(c->vm, k->slot, k->flags, k->gpa, size, k->hva);
		k->tried++;
		if (r != k->want) {
			k->wrong++;
			k->got = r;
			snprintf(err, len, "%s: KVM_SET_USER_MEMORY_REGION returned %d (%s), __kvm_set_memory_region specifies %d (%s)",
				 c->phase, r, r ? strerror(-r) : "success", k->want,
				 strerror(-k->want));
			return -1;
		}
		if (kmmu_vm_failed(c->vm)) {
			snprintf(err, len, "after %s: %s", c->phase, kmmu_vm_errors(c->vm));
			return -EIO;
		}
	}
	/*
	 * Both vCPUs must still get through their sweeps, and the churn must
	 * have moved (a busy host may starve its thread while the cases run).
	 */
	snprintf(c->phase, sizeof(c->phase), "pass %d: waiting for both vCPUs to sweep twice", pass);
	t0 = kmmu_now();
	while (ch->ops < churned + HM_I_MIN_CHURN && !ch->err && kmmu_now() - t0 < 60)
		usleep(1000);
	for (i = 0; i < HM_NR_VCPUS; i++) {
		while (__atomic_load_n(&c->sh->progress[i], __ATOMIC_ACQUIRE) < last[i] + 2) {
			if (kmmu_vm_failed(c->vm)) {
				snprintf(err, len, "pass %d: %s", pass, kmmu_vm_errors(c->vm));
				return -EIO;
			}
			if (kmmu_now() - t0 > 60) {
				snprintf(err, len, "pass %d: vCPU %d finished no sweep of its slots in 60 s after the refused updates (a slot left invalid, a fault retried forever?)",
					 pass, i);
				return -ETIMEDOUT;
			}
			usleep(1000);
		}
	}
	if (ch->err) {
		snprintf(err, len, "%s", ch->what);
		return ch->err;
	}
	return 0;
}

/*
 * hm_opts.passes passes over the cases with ->untraced == @untraced while
 * the churn thread updates its slots; the churn is stopped after them, and
 * its error is theirs.
 */
static int hm_churned_passes(struct hm_ctx *c, struct hm_churn *ch, struct hm_case *cs, int n,
			     bool untraced, char *err, size_t len)
{
	double t0 = kmmu_now();
	int pass, r;

	r = hm_churn_start(ch, err, len);
	if (r)
		return r;
	for (pass = 0; pass < hm_opts.passes; pass++) {
		r = hm_invalid_pass(c, ch, cs, n, untraced, pass, err, len);
		if (r)
			return r;
	}
	hm_churn_stop(ch);
	ksft_print_msg("%s passes: %.2f s, %ld churn updates\n", untraced ? "untraced" : "traced",
		       kmmu_now() - t0, ch->ops);
	if (ch->err) {
		snprintf(err, len, "%s", ch->what);
		return ch->err;
	}
	return 0;
}

int hm_invalid_run(struct hm_ctx *c, struct kmmu_trace_session **trace, struct hm_churn *ch,
		   struct hm_case *cs, int *nr_cases, char *err, size_t len)
{
	uint64_t probes[HM_MAX_PROBES], p;
	int i, s, r, n, np;
	double t0;

	/* Buffers: huge, anon, memfd, mover, churned, decoy (last). */
	static const struct hm_bufdef bufs[] = {
		{ HM_BK_THP, 4 * HM_MB }, { HM_BK_ANON4K, 2 * HM_MB },
		{ HM_BK_MEMFD_SHARED, 2 * HM_MB }, { HM_BK_ANON4K, 2 * HM_MB },
		{ HM_BK_ANON4K, 2 * HM_MB }, { HM_BK_ANON4K, 2 * HM_MB },
	};
	for (i = 0; i < (int)(sizeof(bufs) / sizeof(bufs[0])); i++) {
		r = hm_buf_alloc(c, bufs[i].kind, bufs[i].size, err, len);
		if (r)
			return r;
	}
	hm_slot_def(c, "huge", 0, 0, 4 * HM_MB, HM_WIN_A);
	hm_slot_def(c, "anon", 1, 3 * HM_PAGE, 16 * HM_PAGE, HM_WIN_A + 8 * HM_MB + 3 * HM_PAGE);
	hm_slot_def(c, "memfd", 2, 5 * HM_PAGE, 8 * HM_PAGE, HM_WIN_A + 8 * HM_MB + 256 * 1024);
	hm_slot_def(c, "mover", 3, HM_PAGE, 4 * HM_PAGE, HM_WIN_A + 9 * HM_MB);
	for (i = 0; i < HM_I_CHURN; i++) {
		static const char *const names[HM_I_CHURN] = {
			"churn0", "churn1", "churn2", "churn3", "churn4", "churn5", "churn6", "churn7",
		};

		hm_slot_def(c, names[i], 4, (2 * i + 1) * HM_PAGE, 2 * HM_PAGE,
			    HM_I_HOME + i * 65536);
	}
	r = hm_vm_start(c, *trace, HM_WIN_A, 0, 32 * HM_MB, err, len);
	if (r)
		return r;
	/* The decoy: what a wrongly accepted overlapping create would show. */
	for (p = 0; p < c->buf[5].size / HM_PAGE; p++)
		hm_put(c->buf[5].base + p * HM_PAGE, hm_pat(HM_TAG_FOREIGN, 5, p, 0));
	for (s = 0; s < c->nr_slots; s++) {
		hm_host_write_slot(c, s, 0);
		if (s >= HM_I_STABLE)
			c->sh->slot[s].alt_gpa = HM_I_ALT + (s - HM_I_STABLE) * 65536;
		r = hm_place(c, s, c->slot[s].gpa, false, err, len);
		if (r)
			return r;
	}
	n = hm_cases(c, cs, probes, &np);
	*nr_cases = n;
	c->sh->nr_probes = np;
	for (i = 0; i < np; i++)
		c->sh->probe_gpa[i] = probes[i];
	/* MMIO allowed: the churned slots' two places and the probes. */
	c->mmio_lo[0] = HM_I_HOME;
	c->mmio_hi[0] = HM_I_HOME + HM_I_CHURN * 65536;
	c->mmio_lo[1] = HM_I_ALT;
	c->mmio_hi[1] = HM_I_ALT + HM_I_CHURN * 65536;
	c->mmio_lo[2] = HM_I_PROBE;
	c->mmio_hi[2] = HM_I_PROBE + HM_MB;

	for (i = 0; i < HM_I_CHURN; i++)
		ch->where[i] = 1;
	ch->c = c;
	ch->rng = c->rng ^ 0x5bd1e9955bd1e995ULL;
	if (!ch->rng)
		ch->rng = 1;
	snprintf(c->phase, sizeof(c->phase), "refused memslot updates while slots churn");
	c->sh->arg[0] = (1ULL << HM_I_STABLE) - 1;
	c->sh->arg[1] = ((1ULL << HM_I_CHURN) - 1) << HM_I_STABLE;
	kmmu_gate_open(&c->gate, HM_SPIN);
	c->arrivals += HM_NR_VCPUS;
	/*
	 * The reference check covers every case but those it cannot judge.
	 * The churn thread is the other memslot writer: stopped while the
	 * check ends; the vCPUs pause too, so that the replay gets the CPU.
	 */
	r = hm_churned_passes(c, ch, cs, n, false, err, len);
	if (r)
		return r;
	t0 = kmmu_now();
	if (*trace) {
		r = hm_spin_pause(c, err, len);
		if (r)
			return r;
		r = hm_trace_finish(c, trace);
		if (r) {
			snprintf(err, len, "the kernel's MMU events diverge from the reference (see the checker's lines above)");
			return -1;
		}
		__atomic_store_n(&c->sh->stop, 0, __ATOMIC_RELEASE);
		kmmu_gate_open(&c->gate, HM_SPIN);
		c->arrivals += HM_NR_VCPUS;
	}
	for (i = 0; i < n; i++)
		if (cs[i].untraced)
			ksft_print_msg("after the reference check: %s\n", cs[i].what);
	ksft_print_msg("checker: %.2f s\n", kmmu_now() - t0);
	r = hm_churned_passes(c, ch, cs, n, true, err, len);
	if (r)
		return r;
	snprintf(c->phase, sizeof(c->phase), "undoing the churn");
	r = hm_churn_restore(ch, err, len);
	if (r)
		return r;
	r = hm_spin_pause(c, err, len);
	if (r)
		return r;
	snprintf(c->phase, sizeof(c->phase), "the final sweep: every slot exact, every refused range MMIO");
	r = hm_step(c, HM_FINAL, err, len);
	for (s = 0; !r && s < c->nr_slots; s++)
		r = hm_host_check_slot(c, s, err, len);
	return r;
}
