// SPDX-License-Identifier: GPL-2.0
/*
 * memslot_flags_test's gone.system_slot: the guest that spins on after its
 * system slot is gone, the host's handlers that see how its vCPU ended,
 * and the rounds of fresh VMs (what it tests: "slots that are gone" in
 * selftests/memslot_flags_test.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kselftest.h"
#include "kmmu/guest.h"
#include "memslot_flags.h"

const char *const mf_gone_when_name[GONE_NR_WHEN] = { "at_exit", "running" };

const char *const mf_gone_end_name[GONE_NR_ENDS] = {
	"SHUTDOWN", "INTERNAL_ERROR", "MMIO at an old gpa", "KVM_RUN error",
};

/* ---- the guest ---- */

static void g_sys(uint32_t id, void *arg)
{
	struct gone_shared *sh = arg;
	volatile uint64_t *fresh = (volatile uint64_t *)g_read(&sh->fresh_gva);
	uint64_t n;

	GUEST_SYNC(GONE_SYNC_SYS_EXIT);
	/*
	 * The loop's code and the flag are mapped after the first
	 * iterations; the store to the fresh page is then the vCPU's last
	 * fault, a lookup in the system slot, before the host removes it.
	 */
	for (n = 0; !g_read(&sh->go); n++)
		if (n == GONE_SPIN_WARM)
			*fresh = 1;
	GUEST_SYNC(GONE_SYNC_SYS_REACHED);
}

/* ---- the host ---- */

/* Deletes or moves the system slot of @s->vm (unless injected): 0 or -errno. */
static int gone_sys_op(struct gone_sys *s)
{
	atomic_store(&s->gone, true);
	if (mf_keep_slot)
		return 0;
	if (s->op == GONE_DELETE)
		return kmmu_slot_set_raw(s->vm, KMMU_SLOT_SYS, 0, s->gpa, 0, 0);
	return kmmu_slot_set_raw(s->vm, KMMU_SLOT_SYS, 0, GONE_SYS_ALT, s->size,
				 (uintptr_t)s->hva);
}

static void gone_sys_end(struct gone_sys *s, enum gone_end end)
{
	s->ended = true;
	s->end = end;
}

static uint64_t h_sys_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct gone_sys *s = ctx;

	switch (value) {
	case GONE_SYNC_SYS_EXIT:
		if (s->when == GONE_AT_EXIT) {
			s->op_ret = gone_sys_op(s);
			*(volatile uint64_t *)&s->sh->go = 1;
		}
		break;
	case GONE_SYNC_SYS_REACHED:
		s->reached = true;
		break;
	default:
		kmmu_vcpu_fail(vcpu, "GUEST_SYNC(%#llx): no such request", (unsigned long long)value);
	}
	return 0;
}

static int h_sys_exit(struct kmmu_vcpu *vcpu, uint32_t reason, void *ctx)
{
	struct gone_sys *s = ctx;

	if (!atomic_load(&s->gone))
		return -1;
	if (reason == KVM_EXIT_SHUTDOWN)
		gone_sys_end(s, GONE_END_SHUTDOWN);
	else if (reason == KVM_EXIT_INTERNAL_ERROR)
		gone_sys_end(s, GONE_END_INTERNAL_ERROR);
	else
		return -1;
	return 0;
}

static int h_sys_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		      bool is_write, void *ctx)
{
	struct gone_sys *s = ctx;

	if (!atomic_load(&s->gone) || gpa < s->gpa || gpa - s->gpa >= s->size) {
		kmmu_vcpu_fail(vcpu, "unexpected MMIO %s of %u bytes at gpa %#llx (the system slot was at gpa %#llx, %#llx bytes)",
			       is_write ? "store" : "load", len, (unsigned long long)gpa,
			       (unsigned long long)s->gpa, (unsigned long long)s->size);
		return -1;
	}
	gone_sys_end(s, GONE_END_MMIO);
	s->end_gpa = gpa;
	return 1;
}

static int h_sys_run_error(struct kmmu_vcpu *vcpu, int err, void *ctx)
{
	struct gone_sys *s = ctx;

	if (!atomic_load(&s->gone))
		return -1;
	gone_sys_end(s, GONE_END_RUN_ERROR);
	s->end_errno = err;
	return 1;
}

/* Until the spinning guest made its last fault (0), or it failed or took too long. */
static int gone_wait_fresh(struct gone_sys *s, double timeout_s)
{
	struct timespec ts = { 0, 1000000 };
	double waited = 0;

	while (!*s->fresh) {
		if (kmmu_vm_failed(s->vm))
			return -EIO;
		if (waited > timeout_s)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
		waited += 1e-3;
	}
	return 0;
}

/*
 * --rounds rounds of a fresh VM (self->run.vm) per way whose system slot
 * goes; how each vCPU ended is counted in @ends.  0, or -errno with the
 * reason in @err.
 */
int mf_system_slot_run(struct gone_run *self,
		       uint64_t ends[GONE_NR_OPS][GONE_NR_WHEN][GONE_NR_ENDS], char *err,
		       size_t len)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = 1, .shared_size = 2 * 4096 };
	struct kmmu_vm_handlers h = { .sync = h_sys_sync, .exit = h_sys_exit, .mmio = h_sys_mmio,
				      .run_error = h_sys_run_error };
	uint64_t n, sh_gva, fresh_gva;
	char why[512];
	int op, when, ret;

	for (n = 0; n < mf_gone_rounds; n++) {
		for (op = 0; op < GONE_NR_OPS; op++) {
			for (when = 0; when < GONE_NR_WHEN; when++) {
				struct gone_sys s = { .op = op, .when = when };
				const char *way = mf_gone_op_name[op], *at = mf_gone_when_name[when];

				kmmu_vm_destroy(self->run.vm);
				self->run.vm = NULL;
				ret = __kmmu_vm_create(&self->run.vm, &vo, why, sizeof(why));
				if (ret) {
					snprintf(err, len, "creating the VM: %s", why);
					return ret;
				}
				s.vm = self->run.vm;
				s.sh = kmmu_vm_alloc_shared(s.vm, sizeof(*s.sh), &sh_gva);
				s.fresh = kmmu_vm_alloc_shared(s.vm, sizeof(*s.fresh), &fresh_gva);
				if (!s.sh || !s.fresh) {
					snprintf(err, len, "no shared memory for the guest");
					return -ENOMEM;
				}
				s.sh->fresh_gva = fresh_gva;
				ret = kmmu_vm_slot_region(s.vm, KMMU_SLOT_SYS, &s.gpa, &s.size, &s.hva);
				if (ret) {
					snprintf(err, len, "where the system slot is: %s", strerror(-ret));
					return ret;
				}
				h.ctx = &s;
				kmmu_vm_set_handlers(s.vm, &h);
				ret = __kmmu_vm_start(s.vm, g_sys, (void *)(uintptr_t)sh_gva);
				if (ret) {
					snprintf(err, len, "starting the vCPUs: %s", strerror(-ret));
					return ret;
				}

				if (when == GONE_RUNNING) {
					ret = gone_wait_fresh(&s, 30);
					if (ret) {
						snprintf(err, len, "round %llu, %s %s: the guest did not reach its spin loop: %s",
							 (unsigned long long)n, way, at,
							 ret == -EIO ? kmmu_vm_errors(s.vm) : strerror(-ret));
						return ret;
					}
					s.op_ret = gone_sys_op(&s);
					*(volatile uint64_t *)&s.sh->go = 1;
				}
				ret = __kmmu_vm_wait(s.vm, 30);
				if (s.op_ret) {
					snprintf(err, len, "round %llu: %s of the system slot: %s",
						 (unsigned long long)n, way, strerror(-s.op_ret));
					return s.op_ret;
				}
				if (s.reached) {
					snprintf(err, len, "round %llu: after %s of the system slot (%s), which holds the guest's page tables, stack and ucall block, the guest reached its next hypercall: KVM ran the vCPU through the old slot",
						 (unsigned long long)n, way, at);
					return -EIO;
				}
				if (kmmu_vm_failed(s.vm)) {
					snprintf(err, len, "round %llu, %s of the system slot (%s): %s",
						 (unsigned long long)n, way, at, kmmu_vm_errors(s.vm));
					return -EIO;
				}
				if (!s.ended) {
					snprintf(err, len, "round %llu: after %s of the system slot (%s) the vCPU neither stopped nor reached its next hypercall within 30 s (%s)",
						 (unsigned long long)n, way, at,
						 ret == -ETIMEDOUT ? "timed out" : strerror(-ret));
					return ret ? ret : -EIO;
				}
				ends[op][when][s.end]++;
				if (n == 0 && s.end == GONE_END_MMIO)
					ksft_print_msg("%s %s: MMIO exit at gpa %#llx\n", way, at,
						       (unsigned long long)s.end_gpa);
				if (n == 0 && s.end == GONE_END_RUN_ERROR)
					ksft_print_msg("%s %s: KVM_RUN: %s\n", way, at,
						       strerror(s.end_errno));
			}
		}
	}
	return 0;
}
