// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging of a kmmu VM: the per-slot bitmap (KVM_GET_DIRTY_LOG,
 * KVM_CLEAR_DIRTY_LOG) and the per-vCPU dirty ring, which KVM takes only
 * before vCPUs exist (kmmu_vm_enable_dirty_ring() from __kmmu_vm_create()).
 * The one place that issues KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG and
 * KVM_ENABLE_CAP, each reported to the VM's dirty-log hook, which the trace
 * session logs (the checker's DIRTY_LOG_PROTECT).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vm_internal.h"

/*
 * KVM_CAP_DIRTY_LOG_RING_ACQ_REL says userspace collects with
 * acquire/release ordering, which kmmu_vcpu_dirty_ring_collect() does;
 * kernels before 6.1 only know KVM_CAP_DIRTY_LOG_RING (x86 is TSO, where
 * the two are the same).  Both take the ring's size in bytes.
 */
int kmmu_vm_enable_dirty_ring(struct kmmu_vm *vm, uint32_t entries,
			      char *err, size_t len)
{
	uint64_t bytes = (uint64_t)entries * sizeof(struct kvm_dirty_gfn);
	uint32_t cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
	long max = kmmu_kvm_cap(vm->fd, cap);
	int r;

	if (max <= 0) {
		cap = KVM_CAP_DIRTY_LOG_RING;
		max = kmmu_kvm_cap(vm->fd, cap);
	}
	if (max <= 0) {
		snprintf(err, len, "KVM has no dirty ring (KVM_CAP_DIRTY_LOG_RING)");
		return -EOPNOTSUPP;
	}
	if (!entries || (entries & (entries - 1)) || bytes > (uint64_t)max) {
		snprintf(err, len, "dirty ring of %u entries: want a power of two of at most %ld",
			 entries, max / (long)sizeof(struct kvm_dirty_gfn));
		return -EINVAL;
	}
	r = kmmu_vm_enable_cap(vm, cap, bytes);
	if (r) {
		snprintf(err, len, "KVM_ENABLE_CAP dirty ring of %u entries: %s", entries,
			 strerror(-r));
		return r;
	}
	vm->ring_entries = entries;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The dirty-log hook, if any, of an ioctl issued at @issued that returned @ret. */
static int tell_hook(struct kmmu_vm *vm, uint64_t issued, enum kmmu_dirty_log_ioctl which,
		     uint32_t slot, uint64_t first_page, uint32_t num_pages, int ret)
{
	if (vm->dirty_log_hook)
		vm->dirty_log_hook(vm->dirty_log_hook_ctx, issued, which, slot, first_page,
				   num_pages, ret);
	return ret;
}

int kmmu_vm_enable_cap(struct kmmu_vm *vm, uint32_t cap, uint64_t arg0)
{
	struct kvm_enable_cap c = { .cap = cap, .args = { arg0 } };
	uint64_t issued = now_ns();
	int ret = ioctl(vm->fd, KVM_ENABLE_CAP, &c) ? -errno : 0;

	if (cap != KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)
		return ret;
	return tell_hook(vm, issued, KMMU_DIRTY_LOG_PROTECT_CAP, 0, arg0, 0, ret);
}

int kmmu_vm_get_dirty_log(struct kmmu_vm *vm, uint32_t slot, uint64_t *bitmap)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };
	uint64_t issued = now_ns();
	int ret = ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) ? -errno : 0;

	return tell_hook(vm, issued, KMMU_DIRTY_LOG_GET, slot, 0, 0, ret);
}

int kmmu_vm_clear_dirty_log(struct kmmu_vm *vm, uint32_t slot, const uint64_t *bitmap,
			    uint64_t first_page, uint32_t num_pages)
{
	struct kvm_clear_dirty_log log = {
		.slot = slot,
		.num_pages = num_pages,
		.first_page = first_page,
		.dirty_bitmap = (void *)bitmap,
	};
	uint64_t issued = now_ns();
	int ret = ioctl(vm->fd, KVM_CLEAR_DIRTY_LOG, &log) ? -errno : 0;

	return tell_hook(vm, issued, KMMU_DIRTY_LOG_CLEAR, slot, first_page, num_pages, ret);
}

int kmmu_vm_reset_dirty_rings(struct kmmu_vm *vm)
{
	int r = ioctl(vm->fd, KVM_RESET_DIRTY_RINGS, 0);

	return r < 0 ? -errno : r;
}

uint32_t kmmu_vm_dirty_ring_entries(const struct kmmu_vm *vm)
{
	return vm->ring_entries;
}

int kmmu_vcpu_dirty_ring_collect(struct kmmu_vcpu *vcpu, kmmu_dirty_gfn_fn fn, void *ctx)
{
	uint32_t mask = vcpu->vm->ring_entries - 1;
	int n = 0;

	if (!vcpu->ring)
		return -ENXIO;
	for (;;) {
		struct kvm_dirty_gfn *e = &vcpu->ring[vcpu->ring_fetch & mask];

		/* Acquire: slot and offset are valid once flags says DIRTY. */
		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
			break;
		fn(ctx, e->slot, e->offset);
		/* Release: KVM may reuse the entry once it sees RESET. */
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		vcpu->ring_fetch++;
		n++;
	}
	return n;
}

