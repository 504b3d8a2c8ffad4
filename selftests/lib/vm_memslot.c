// SPDX-License-Identifier: GPL-2.0
/*
 * Memslots of a kmmu VM: the one place that issues
 * KVM_SET_USER_MEMORY_REGION (and reports each call to the memslot hook,
 * which the trace session logs), the table of what each slot holds, and
 * GPA -> HVA lookups through it.  Slots below KMMU_RUNTIME_SLOTS belong to
 * the runtime and are refused to tests.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vm_internal.h"

int kmmu_vm_set_region(struct kmmu_vm *vm, uint32_t slot, uint32_t flags,
		       uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};
	struct timespec issued;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &issued);
	ret = ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
	if (vm->memslot_hook)
		vm->memslot_hook(vm->memslot_hook_ctx,
				 (uint64_t)issued.tv_sec * 1000000000 + issued.tv_nsec,
				 slot, flags, gpa, size, (uintptr_t)hva, ret);
	return ret;
}

static bool kmmu_covers_hypercall(uint64_t gpa, uint64_t size)
{
	return size && gpa < KMMU_HYPERCALL_GPA + KMMU_PAGE_SIZE &&
	       gpa + size > KMMU_HYPERCALL_GPA;
}

static int kmmu_slot_check(struct kmmu_vm *vm, uint32_t slot)
{
	if (slot < KMMU_RUNTIME_SLOTS)
		return -EPERM;
	return 0;
}

/*
 * Issues the ioctl and records the slot in the table on success; doing
 * both under slot_lock keeps the table in step with KVM.
 */
static int kmmu_slot_set_tracked(struct kmmu_vm *vm, uint32_t slot, uint32_t flags,
				 uint64_t gpa, uint64_t size, void *hva)
{
	int r;

	pthread_mutex_lock(&vm->slot_lock);
	r = kmmu_vm_set_region(vm, slot, flags, gpa, size, hva);
	if (!r && slot < vm->nr_slots) {
		struct kmmu_slot_info *s = &vm->slots[slot];

		s->used = size != 0;
		s->flags = flags;
		s->gpa = gpa;
		s->size = size;
		s->hva = hva;
	}
	pthread_mutex_unlock(&vm->slot_lock);
	return r;
}

/* A test's slot change: never over the hypercall page the runtime relies on. */
static int kmmu_slot_update(struct kmmu_vm *vm, uint32_t slot, uint32_t flags,
			    uint64_t gpa, uint64_t size, void *hva)
{
	if (kmmu_covers_hypercall(gpa, size))
		return -EADDRNOTAVAIL;
	return kmmu_slot_set_tracked(vm, slot, flags, gpa, size, hva);
}

int __kmmu_slot_add(struct kmmu_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
		    void *hva, uint32_t flags)
{
	int r = kmmu_slot_check(vm, slot);

	return r ? r : kmmu_slot_update(vm, slot, flags, gpa, size, hva);
}

int kmmu_slot_delete(struct kmmu_vm *vm, uint32_t slot)
{
	int r = kmmu_slot_check(vm, slot);

	return r ? r : kmmu_slot_update(vm, slot, 0, 0, 0, NULL);
}

/* The table's entry for any slot id, the runtime's included. */
static int kmmu_slot_read(struct kmmu_vm *vm, uint32_t slot, struct kmmu_slot_info *out)
{
	if (slot >= vm->nr_slots)
		return -EINVAL;
	pthread_mutex_lock(&vm->slot_lock);
	*out = vm->slots[slot];
	pthread_mutex_unlock(&vm->slot_lock);
	return out->used ? 0 : -ENOENT;
}

static int kmmu_slot_get(struct kmmu_vm *vm, uint32_t slot, struct kmmu_slot_info *out)
{
	int r = kmmu_slot_check(vm, slot);

	return r ? r : kmmu_slot_read(vm, slot, out);
}

int kmmu_slot_set_raw(struct kmmu_vm *vm, uint32_t slot, uint32_t flags, uint64_t gpa,
		      uint64_t size, uint64_t hva)
{
	return kmmu_slot_set_tracked(vm, slot, flags, gpa, size, (void *)(uintptr_t)hva);
}

int kmmu_slot_move(struct kmmu_vm *vm, uint32_t slot, uint64_t new_gpa)
{
	struct kmmu_slot_info s;
	int r = kmmu_slot_get(vm, slot, &s);

	return r ? r : kmmu_slot_update(vm, slot, s.flags, new_gpa, s.size, s.hva);
}

int kmmu_slot_set_flags(struct kmmu_vm *vm, uint32_t slot, uint32_t flags)
{
	struct kmmu_slot_info s;
	int r = kmmu_slot_get(vm, slot, &s);

	return r ? r : kmmu_slot_update(vm, slot, flags, s.gpa, s.size, s.hva);
}

int kmmu_vm_slot_region(struct kmmu_vm *vm, uint32_t slot, uint64_t *gpa, uint64_t *size,
			void **hva)
{
	struct kmmu_slot_info s;
	int r = kmmu_slot_read(vm, slot, &s);

	if (!r) {
		*gpa = s.gpa;
		*size = s.size;
		*hva = s.hva;
	}
	return r;
}

void *kmmu_vm_gpa_to_hva(struct kmmu_vm *vm, uint64_t gpa)
{
	void *hva = NULL;
	long i;

	pthread_mutex_lock(&vm->slot_lock);
	for (i = 0; i < vm->nr_slots; i++) {
		struct kmmu_slot_info *s = &vm->slots[i];

		if (s->used && gpa >= s->gpa && gpa - s->gpa < s->size) {
			hva = (uint8_t *)s->hva + (gpa - s->gpa);
			break;
		}
	}
	pthread_mutex_unlock(&vm->slot_lock);
	return hva;
}
