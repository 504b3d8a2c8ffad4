// SPDX-License-Identifier: GPL-2.0
/*
 * VM and vCPU lifecycle on raw KVM ioctls (see kmmu/kvm_vm.h): create a VM
 * with its runtime slots, system region, page tables and vCPUs in CPL3
 * long mode; stop the vCPU threads; destroy it all; the accessors.  The
 * other jobs live beside it: memslots in vm_memslot.c, guest memory and
 * page tables in vm_memory.c, dirty logging in vm_dirty_log.c, the vCPU
 * run loop and failure reports in vcpu_run.c; the shared struct is in
 * vm_internal.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/timed_wait.h"
#include "vm_internal.h"

/* Layout of the system slot (KMMU_GPA_SYS). */
#define KMMU_SYS_GDT_OFF	0x0000
#define KMMU_SYS_TSS_OFF	0x1000
#define KMMU_SYS_PT_OFF		0x10000

/*
 * The kselftest harness runs each test in a child that ends with _exit():
 * whatever stdio still buffers is lost, and with stdout a file or pipe (a
 * runner's log) that is everything after the last flush -- the seed, the
 * counts, the checker's verdicts.  Line buffering keeps every line.
 */
__attribute__((constructor)) static void kmmu_stdout_line_buffered(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* ---- CPUID ---- */

static int kmmu_vm_get_cpuid(struct kmmu_vm *vm)
{
	int nent = 64;

	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (!ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c)) {
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG || nent > 4096)
			return -errno;
		nent *= 2;
	}
}

static unsigned int kmmu_cpuid_phys_bits(const struct kvm_cpuid2 *c)
{
	uint32_t i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0x80000008)
			return c->entries[i].eax & 0xff;
	return 36;	/* what KVM assumes without the leaf */
}

/* ---- vCPUs ---- */

static void kmmu_kick_handler(int sig)
{
}

static int kmmu_vcpu_init(struct kmmu_vm *vm, int idx, char *err, size_t len)
{
	struct kmmu_vcpu *vcpu = &vm->vcpus[idx];
	uint64_t area_off = vm->areas_off + idx * KMMU_VCPU_AREA_SIZE;
	struct kvm_sregs sregs;
	int r;

	vcpu->vm = vm;
	vcpu->idx = idx;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, idx);
	if (vcpu->fd < 0) {
		r = -errno;
		vcpu->fd = -1;
		snprintf(err, len, "KVM_CREATE_VCPU %d: %s", idx, strerror(-r));
		return r;
	}
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		r = -errno;
		vcpu->run = NULL;
		snprintf(err, len, "mmap of vcpu %d run area: %s", idx, strerror(-r));
		return r;
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, vm->cpuid)) {
		r = -errno;
		snprintf(err, len, "KVM_SET_CPUID2 on vcpu %d: %s", idx, strerror(-r));
		return r;
	}
	/* Start from KVM's reset state: keeps apic_base etc. as KVM wants. */
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs)) {
		r = -errno;
		snprintf(err, len, "KVM_GET_SREGS on vcpu %d: %s", idx, strerror(-r));
		return r;
	}
	kmmu_x86_fill_sregs(&sregs, vm->pt.root_gpa, vm->gdt_gva, vm->tss_gva);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs)) {
		r = -errno;
		snprintf(err, len, "KVM_SET_SREGS (CPL3 long mode) on vcpu %d: %s",
			 idx, strerror(-r));
		return r;
	}
	vcpu->page_gva = KMMU_GPA_SYS + area_off;
	vcpu->page = (struct kmmu_vcpu_page *)((uint8_t *)vm->sys.hva + area_off);
	vcpu->page->self = vcpu->page_gva;
	vcpu->page->vcpu_id = idx;
	/* Page, guard page (unmapped: a stack overflow faults), stack. */
	r = kmmu_pt_map(&vm->pt, vcpu->page_gva, vcpu->page_gva, KMMU_PAGE_SIZE,
			KMMU_MAP_WRITE | KMMU_MAP_NX);
	if (!r)
		r = kmmu_pt_map(&vm->pt, vcpu->page_gva + 2 * KMMU_PAGE_SIZE,
				vcpu->page_gva + 2 * KMMU_PAGE_SIZE,
				KMMU_VCPU_AREA_SIZE - 2 * KMMU_PAGE_SIZE,
				KMMU_MAP_WRITE | KMMU_MAP_NX);
	if (r) {
		snprintf(err, len, "mapping vcpu %d area: %s", idx, strerror(-r));
		return r;
	}
	if (vm->ring_entries) {
		/* The ring lives at KVM_DIRTY_LOG_PAGE_OFFSET pages into the vCPU fd. */
		vcpu->ring = mmap(NULL, vm->ring_entries * sizeof(struct kvm_dirty_gfn),
				  PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd,
				  KVM_DIRTY_LOG_PAGE_OFFSET * sysconf(_SC_PAGESIZE));
		if (vcpu->ring == MAP_FAILED) {
			r = -errno;
			vcpu->ring = NULL;
			snprintf(err, len, "mmap of vcpu %d dirty ring: %s", idx, strerror(-r));
			return r;
		}
	}
	atomic_store(&vcpu->status, KMMU_VCPU_IDLE);
	return 0;
}

int __kmmu_vm_create(struct kmmu_vm **vmp, const struct kmmu_vm_opts *opts,
		     char *err, size_t len)
{
	size_t pt_pages = opts->pt_pages ? opts->pt_pages : 1024;
	struct kmmu_vm *vm;
	uint64_t sys_size;
	long n;
	int i, r, tries;
	struct sigaction sa = { .sa_handler = kmmu_kick_handler };

	*vmp = NULL;
	if (opts->nr_vcpus < 1 || opts->nr_vcpus > KMMU_MAX_VCPUS) {
		snprintf(err, len, "bad vCPU count %d (1..%d)", opts->nr_vcpus,
			 KMMU_MAX_VCPUS);
		return -EINVAL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	vm->fd = -1;
	vm->image.fd = vm->sys.fd = -1;
	for (i = 0; i < KMMU_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	pthread_mutex_init(&vm->slot_lock, NULL);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	vm->nr_vcpus = opts->nr_vcpus;
	vm->memslot_hook = opts->memslot_hook;
	vm->memslot_hook_ctx = opts->memslot_hook_ctx;
	vm->dirty_log_hook = opts->dirty_log_hook;
	vm->dirty_log_hook_ctx = opts->dirty_log_hook_ctx;

	vm->kvm_fd = kmmu_kvm_open(err, len);
	if (vm->kvm_fd < 0) {
		r = vm->kvm_fd;
		goto fail;
	}
	/* KVM_CREATE_VM can fail transiently with EINTR. */
	for (tries = 0; tries < 10; tries++) {
		vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
		if (vm->fd >= 0 || errno != EINTR)
			break;
	}
	if (vm->fd < 0) {
		r = -errno;
		snprintf(err, len, "KVM_CREATE_VM: %s", strerror(-r));
		goto fail;
	}
	n = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (n < (long)sizeof(struct kvm_run)) {
		r = n < 0 ? -errno : -EINVAL;
		snprintf(err, len, "KVM_GET_VCPU_MMAP_SIZE: %ld", n);
		goto fail;
	}
	vm->run_size = n;
	/* Before anything else: KVM takes the ring only before vCPUs exist. */
	if (opts->dirty_ring_entries) {
		r = kmmu_vm_enable_dirty_ring(vm, opts->dirty_ring_entries, err, len);
		if (r)
			goto fail;
	}
	n = kmmu_kvm_cap(vm->fd, KVM_CAP_NR_MEMSLOTS);
	if (n <= 0)
		n = kmmu_kvm_cap(vm->kvm_fd, KVM_CAP_NR_MEMSLOTS);
	if (n < KMMU_RUNTIME_SLOTS) {
		r = -ENOSPC;
		snprintf(err, len, "KVM_CAP_NR_MEMSLOTS = %ld, need at least %d", n,
			 KMMU_RUNTIME_SLOTS);
		goto fail;
	}
	vm->nr_slots = n;
	vm->slots = calloc(n, sizeof(*vm->slots));
	if (!vm->slots) {
		r = -ENOMEM;
		snprintf(err, len, "out of memory");
		goto fail;
	}
	r = kmmu_vm_get_cpuid(vm);
	if (r) {
		snprintf(err, len, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
		goto fail;
	}
	vm->phys_bits = kmmu_cpuid_phys_bits(vm->cpuid);
	if (vm->phys_bits < 33 || vm->phys_bits > 52) {
		r = -EINVAL;
		snprintf(err, len, "guest MAXPHYADDR %u unusable", vm->phys_bits);
		goto fail;
	}

	/* The system slot: GDT, TSS, page-table pool, vCPU areas, shared. */
	vm->areas_off = (KMMU_SYS_PT_OFF + pt_pages * KMMU_PAGE_SIZE +
			 KMMU_VCPU_AREA_SIZE - 1) & ~(KMMU_VCPU_AREA_SIZE - 1);
	vm->shared_off = vm->areas_off + vm->nr_vcpus * KMMU_VCPU_AREA_SIZE;
	vm->shared_size = (opts->shared_size + KMMU_PAGE_SIZE - 1) & ~(KMMU_PAGE_SIZE - 1);
	sys_size = vm->shared_off + vm->shared_size;
	if (sys_size > KMMU_SYS_MAX) {
		r = -EFBIG;
		snprintf(err, len, "system region too large (%#llx bytes)",
			 (unsigned long long)sys_size);
		goto fail;
	}
	r = kmmu_mem_alloc(&vm->sys, sys_size, KMMU_BACKING_ANON, -1);
	if (r) {
		snprintf(err, len, "system memory: %s", strerror(-r));
		goto fail;
	}
	r = kmmu_pt_init(&vm->pt, (uint8_t *)vm->sys.hva + KMMU_SYS_PT_OFF,
			 KMMU_GPA_SYS + KMMU_SYS_PT_OFF, pt_pages * KMMU_PAGE_SIZE,
			 vm->phys_bits);
	if (r) {
		snprintf(err, len, "page-table pool: %s", strerror(-r));
		goto fail;
	}
	vm->gdt_gva = KMMU_GPA_SYS + KMMU_SYS_GDT_OFF;
	vm->tss_gva = KMMU_GPA_SYS + KMMU_SYS_TSS_OFF;
	kmmu_x86_write_gdt((uint64_t *)((uint8_t *)vm->sys.hva + KMMU_SYS_GDT_OFF),
			   vm->tss_gva);
	kmmu_x86_write_tss((uint8_t *)vm->sys.hva + KMMU_SYS_TSS_OFF, 0);
	/* Supervisor-only and read-only: CPL3 code can't corrupt them. */
	r = kmmu_pt_map(&vm->pt, vm->gdt_gva, vm->gdt_gva, 2 * KMMU_PAGE_SIZE,
			KMMU_MAP_SUPERVISOR | KMMU_MAP_NX);
	if (!r && vm->shared_size)
		r = kmmu_pt_map(&vm->pt, KMMU_GPA_SYS + vm->shared_off,
				KMMU_GPA_SYS + vm->shared_off, vm->shared_size,
				KMMU_MAP_WRITE | KMMU_MAP_NX);
	if (!r)
		r = kmmu_pt_map(&vm->pt, KMMU_HYPERCALL_GVA, KMMU_HYPERCALL_GPA,
				KMMU_PAGE_SIZE,
				KMMU_MAP_WRITE | KMMU_MAP_NX | KMMU_MAP_UNCACHED);
	if (r) {
		snprintf(err, len, "mapping the system region: %s", strerror(-r));
		goto fail;
	}
	r = kmmu_vm_load_image(vm, err, len);
	if (r)
		goto fail;

	r = kmmu_vm_set_region(vm, KMMU_SLOT_IMAGE, 0, KMMU_GPA_IMAGE,
			       vm->image.size, vm->image.hva);
	if (!r)
		r = kmmu_vm_set_region(vm, KMMU_SLOT_SYS, 0, KMMU_GPA_SYS,
				       vm->sys.size, vm->sys.hva);
	if (r) {
		snprintf(err, len, "KVM_SET_USER_MEMORY_REGION (runtime slots): %s",
			 strerror(-r));
		goto fail;
	}
	vm->slots[KMMU_SLOT_IMAGE] = (struct kmmu_slot_info){
		true, 0, KMMU_GPA_IMAGE, vm->image.size, vm->image.hva };
	vm->slots[KMMU_SLOT_SYS] = (struct kmmu_slot_info){
		true, 0, KMMU_GPA_SYS, vm->sys.size, vm->sys.hva };

	/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(KMMU_KICK_SIGNAL, &sa, NULL);

	for (i = 0; i < vm->nr_vcpus; i++) {
		r = kmmu_vcpu_init(vm, i, err, len);
		if (r)
			goto fail;
	}
	*vmp = vm;
	return 0;
fail:
	kmmu_vm_destroy(vm);
	return r;
}

static void kmmu_vcpu_join(struct kmmu_vcpu *vcpu)
{
	struct timespec ts;

	if (!vcpu->thread_started || vcpu->joined)
		return;
	atomic_store(&vcpu->stop, true);
	for (;;) {
		/*
		 * immediate_exit covers a kick that lands just before KVM_RUN;
		 * repeat the kick in case the thread was between checks.
		 */
		vcpu->run->immediate_exit = 1;
		pthread_kill(vcpu->thread, KMMU_KICK_SIGNAL);
		kmmu_deadline(&ts, 0.02);
		if (!pthread_timedjoin_np(vcpu->thread, NULL, &ts))
			break;
	}
	vcpu->joined = true;
}

void kmmu_vm_stop(struct kmmu_vm *vm)
{
	int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		atomic_store(&vm->vcpus[i].stop, true);
	for (i = 0; i < vm->nr_vcpus; i++)
		kmmu_vcpu_join(&vm->vcpus[i]);
}

void kmmu_vm_destroy(struct kmmu_vm *vm)
{
	int i;

	if (!vm)
		return;
	kmmu_vm_stop(vm);
	for (i = 0; i < KMMU_MAX_VCPUS; i++) {
		struct kmmu_vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->run)
			munmap(vcpu->run, vm->run_size);
		if (vcpu->ring)
			munmap(vcpu->ring, vm->ring_entries * sizeof(struct kvm_dirty_gfn));
		if (vcpu->fd >= 0)
			close(vcpu->fd);
	}
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	kmmu_mem_free(&vm->image);
	kmmu_mem_free(&vm->sys);
	free(vm->cpuid);
	free(vm->slots);
	pthread_mutex_destroy(&vm->slot_lock);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	free(vm);
}

int kmmu_vm_fd(const struct kmmu_vm *vm) { return vm->fd; }
int kmmu_vm_kvm_fd(const struct kmmu_vm *vm) { return vm->kvm_fd; }
int kmmu_vm_nr_vcpus(const struct kmmu_vm *vm) { return vm->nr_vcpus; }
unsigned int kmmu_vm_phys_bits(const struct kmmu_vm *vm) { return vm->phys_bits; }
long kmmu_vm_nr_slots(const struct kmmu_vm *vm) { return vm->nr_slots; }
bool kmmu_vm_failed(const struct kmmu_vm *vm) { return atomic_load(&vm->failed); }
const char *kmmu_vm_errors(struct kmmu_vm *vm) { return vm->errors; }

void kmmu_vm_set_handlers(struct kmmu_vm *vm, const struct kmmu_vm_handlers *h)
{
	vm->h = *h;
}

struct kmmu_vcpu *kmmu_vm_vcpu(struct kmmu_vm *vm, int idx)
{
	return idx >= 0 && idx < vm->nr_vcpus ? &vm->vcpus[idx] : NULL;
}

int kmmu_vcpu_id(const struct kmmu_vcpu *vcpu) { return vcpu->idx; }
int kmmu_vcpu_fd(const struct kmmu_vcpu *vcpu) { return vcpu->fd; }
struct kmmu_vm *kmmu_vcpu_vm(const struct kmmu_vcpu *vcpu) { return vcpu->vm; }
struct kmmu_vcpu_page *kmmu_vcpu_page(struct kmmu_vcpu *vcpu) { return vcpu->page; }
const char *kmmu_vcpu_error(const struct kmmu_vcpu *vcpu) { return vcpu->error; }

int kmmu_vcpu_flush_guest_tlb(struct kmmu_vcpu *vcpu)
{
	struct kvm_sregs s;
	int i;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &s))
		return -errno;
	/* Each KVM_SET_SREGS with a different CR4 resets the MMU context. */
	for (i = 0; i < 2; i++) {
		s.cr4 ^= KMMU_X86_CR4_PGE;
		if (ioctl(vcpu->fd, KVM_SET_SREGS, &s))
			return -errno;
	}
	return 0;
}

enum kmmu_vcpu_status kmmu_vcpu_status(const struct kmmu_vcpu *vcpu)
{
	return atomic_load(&vcpu->status);
}

void kmmu_vcpu_counts(const struct kmmu_vcpu *vcpu, struct kmmu_vcpu_counts *c)
{
	*c = vcpu->counts;
}
