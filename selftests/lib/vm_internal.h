/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The insides of struct kmmu_vm and struct kmmu_vcpu, shared by the files
 * that make up the VM runtime (vm.c, vm_memslot.c, vm_memory.c,
 * vm_dirty_log.c, vcpu_run.c) and by nothing else: tests and other
 * libraries see only the opaque types and the calls in kmmu/kvm_vm.h.
 */
#ifndef KMMU_VM_INTERNAL_H
#define KMMU_VM_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kmmu/kvm_vm.h"
#include "kmmu/x86.h"

/* The signal that kicks a vCPU thread out of KVM_RUN (see kmmu_vm_stop()). */
#define KMMU_KICK_SIGNAL	SIGUSR1
#define KMMU_ERRORS_MAX		8192

struct kmmu_slot_info {
	bool used;
	uint32_t flags;
	uint64_t gpa, size;
	void *hva;
};

struct kmmu_vcpu {
	struct kmmu_vm *vm;
	int idx;		/* vCPU id */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started, joined;
	atomic_bool stop;
	_Atomic int status;
	uint64_t page_gva;	/* its kmmu_vcpu_page; area = page .. +AREA */
	struct kmmu_vcpu_page *page;
	struct kmmu_vcpu_counts counts;
	char error[2048];
	struct kvm_dirty_gfn *ring;	/* mmap of the dirty ring, or NULL */
	uint32_t ring_fetch;		/* next entry to collect */
};

struct kmmu_vm {
	int kvm_fd, fd;
	size_t run_size;
	int nr_vcpus;
	long nr_slots;
	unsigned int phys_bits;
	struct kvm_cpuid2 *cpuid;

	pthread_mutex_t slot_lock;
	struct kmmu_slot_info *slots;

	struct kmmu_mem image, sys;
	uint64_t image_lo, image_hi;	/* GVA range of the image */
	struct kmmu_pt pt;
	uint64_t gdt_gva, tss_gva;
	uint64_t areas_off, shared_off, shared_used, shared_size;

	struct kmmu_vcpu vcpus[KMMU_MAX_VCPUS];
	uint32_t ring_entries;		/* dirty ring entries per vCPU, or 0 */
	bool started;
	struct kmmu_vm_handlers h;
	kmmu_memslot_hook_fn memslot_hook;
	void *memslot_hook_ctx;
	kmmu_dirty_log_hook_fn dirty_log_hook;
	void *dirty_log_hook_ctx;

	pthread_mutex_t lock;		/* errors, nr_finished */
	pthread_cond_t cond;
	int nr_finished;
	atomic_bool failed;
	char errors[KMMU_ERRORS_MAX];
};

/* vm_memslot.c: the one place that issues KVM_SET_USER_MEMORY_REGION. */
int kmmu_vm_set_region(struct kmmu_vm *vm, uint32_t slot, uint32_t flags,
		       uint64_t gpa, uint64_t size, void *hva);

/* vm_memory.c: copies the test binary into guest memory and maps it. */
int kmmu_vm_load_image(struct kmmu_vm *vm, char *err, size_t len);

/* vm_dirty_log.c: must run before any vCPU exists. */
int kmmu_vm_enable_dirty_ring(struct kmmu_vm *vm, uint32_t entries,
			      char *err, size_t len);

#endif /* KMMU_VM_INTERNAL_H */
