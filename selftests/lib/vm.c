// SPDX-License-Identifier: GPL-2.0
/*
 * VM, memslots, guest image, page tables and vCPU threads on raw KVM
 * ioctls (see kmmu/kvm_vm.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/kvm_vm.h"
#include "kmmu/x86.h"

#define KMMU_KICK_SIGNAL	SIGUSR1
#define KMMU_SYS_GDT_OFF	0x0000
#define KMMU_SYS_TSS_OFF	0x1000
#define KMMU_SYS_PT_OFF		0x10000
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

	pthread_mutex_t lock;		/* errors, nr_finished */
	pthread_cond_t cond;
	int nr_finished;
	atomic_bool failed;
	char errors[KMMU_ERRORS_MAX];
};

/* ---- errors ---- */

static void kmmu_vm_add_error(struct kmmu_vm *vm, const char *msg)
{
	size_t off;

	pthread_mutex_lock(&vm->lock);
	off = strlen(vm->errors);
	if (off < sizeof(vm->errors) - 1)
		snprintf(vm->errors + off, sizeof(vm->errors) - off, "%s\n", msg);
	atomic_store(&vm->failed, true);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

void kmmu_vcpu_fail(struct kmmu_vcpu *vcpu, const char *fmt, ...)
{
	char msg[sizeof(vcpu->error) - 32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Keep the first failure of this vCPU; the VM collects all. */
	if (atomic_load(&vcpu->status) != KMMU_VCPU_FAILED) {
		snprintf(vcpu->error, sizeof(vcpu->error), "vcpu %d: %s", vcpu->idx, msg);
		atomic_store(&vcpu->status, KMMU_VCPU_FAILED);
		kmmu_vm_add_error(vcpu->vm, vcpu->error);
	}
}

/* ---- image ---- */

struct kmmu_image_seg {
	uint64_t va, memsz;
	uint32_t flags;
};

struct kmmu_image_scan {
	int n;
	struct kmmu_image_seg seg[16];
	bool done;
};

static int kmmu_image_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct kmmu_image_scan *s = data;
	int i;

	/* The first object reported is the main program. */
	if (s->done)
		return 1;
	s->done = true;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !ph->p_memsz)
			continue;
		if (s->n == (int)(sizeof(s->seg) / sizeof(s->seg[0])))
			return -1;
		s->seg[s->n].va = info->dlpi_addr + ph->p_vaddr;
		s->seg[s->n].memsz = ph->p_memsz;
		s->seg[s->n].flags = ph->p_flags;
		s->n++;
	}
	return 1;
}

static int kmmu_vm_load_image(struct kmmu_vm *vm, char *err, size_t len)
{
	struct kmmu_image_scan scan = { 0 };
	uint64_t lo = ~0ULL, hi = 0, npages, p, start;
	uint8_t *pf;
	int i, r;

	dl_iterate_phdr(kmmu_image_cb, &scan);
	if (scan.n <= 0) {
		snprintf(err, len, "no PT_LOAD segments found for the main program");
		return -ENOEXEC;
	}
	for (i = 0; i < scan.n; i++) {
		if (scan.seg[i].va < lo)
			lo = scan.seg[i].va;
		if (scan.seg[i].va + scan.seg[i].memsz > hi)
			hi = scan.seg[i].va + scan.seg[i].memsz;
	}
	lo &= ~(KMMU_PAGE_SIZE - 1);
	hi = (hi + KMMU_PAGE_SIZE - 1) & ~(KMMU_PAGE_SIZE - 1);
	if (hi - lo > KMMU_IMAGE_MAX) {
		snprintf(err, len, "binary image too large (%#llx bytes)",
			 (unsigned long long)(hi - lo));
		return -EFBIG;
	}
	r = kmmu_mem_alloc(&vm->image, hi - lo, KMMU_BACKING_ANON, -1);
	if (r) {
		snprintf(err, len, "image memory: %s", strerror(-r));
		return r;
	}
	vm->image_lo = lo;
	vm->image_hi = hi;
	npages = (hi - lo) / KMMU_PAGE_SIZE;
	pf = calloc(npages, 1);	/* bit 0: mapped, 1: writable, 2: executable */
	if (!pf)
		return -ENOMEM;
	for (i = 0; i < scan.n; i++) {
		struct kmmu_image_seg *s = &scan.seg[i];
		uint64_t a = (s->va & ~(KMMU_PAGE_SIZE - 1)) - lo;
		uint64_t b = s->va + s->memsz - lo;

		/* Only the segment's own bytes: the gaps may be unmapped. */
		memcpy((uint8_t *)vm->image.hva + (s->va - lo), (void *)s->va, s->memsz);
		for (p = a / KMMU_PAGE_SIZE; p * KMMU_PAGE_SIZE < b; p++)
			pf[p] |= 1 | (s->flags & PF_W ? 2 : 0) | (s->flags & PF_X ? 4 : 0);
	}
	/* Map runs of pages with equal permissions at the host's addresses. */
	for (p = 0; p < npages; p = start) {
		unsigned int flags = 0;

		start = p + 1;
		while (start < npages && pf[start] == pf[p])
			start++;
		if (!(pf[p] & 1))
			continue;
		if (pf[p] & 2)
			flags |= KMMU_MAP_WRITE;
		if (!(pf[p] & 4))
			flags |= KMMU_MAP_NX;
		r = kmmu_pt_map(&vm->pt, lo + p * KMMU_PAGE_SIZE,
				KMMU_GPA_IMAGE + p * KMMU_PAGE_SIZE,
				(start - p) * KMMU_PAGE_SIZE, flags);
		if (r) {
			free(pf);
			snprintf(err, len, "mapping the image at %#llx: %s",
				 (unsigned long long)(lo + p * KMMU_PAGE_SIZE), strerror(-r));
			return r;
		}
	}
	free(pf);
	return 0;
}

int kmmu_vm_sync_global(struct kmmu_vm *vm, const void *addr, size_t size)
{
	uint64_t a = (uintptr_t)addr;

	if (a < vm->image_lo || a + size > vm->image_hi || a + size < a)
		return -EINVAL;
	memcpy((uint8_t *)vm->image.hva + (a - vm->image_lo), addr, size);
	return 0;
}

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

/* ---- memslots ---- */

static int kmmu_vm_set_region(struct kmmu_vm *vm, uint32_t slot, uint32_t flags,
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

/* Updates the table on success; ioctl under slot_lock keeps both in step. */
static int kmmu_slot_update(struct kmmu_vm *vm, uint32_t slot, uint32_t flags,
			    uint64_t gpa, uint64_t size, void *hva)
{
	int r;

	if (kmmu_covers_hypercall(gpa, size))
		return -EADDRNOTAVAIL;
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

static int kmmu_slot_get(struct kmmu_vm *vm, uint32_t slot, struct kmmu_slot_info *out)
{
	int r = kmmu_slot_check(vm, slot);

	if (r)
		return r;
	if (slot >= vm->nr_slots)
		return -EINVAL;
	pthread_mutex_lock(&vm->slot_lock);
	*out = vm->slots[slot];
	pthread_mutex_unlock(&vm->slot_lock);
	return out->used ? 0 : -ENOENT;
}

int kmmu_slot_set_raw(struct kmmu_vm *vm, uint32_t slot, uint32_t flags, uint64_t gpa,
		      uint64_t size, uint64_t hva)
{
	int r;

	pthread_mutex_lock(&vm->slot_lock);
	r = kmmu_vm_set_region(vm, slot, flags, gpa, size, (void *)(uintptr_t)hva);
	if (!r && slot < vm->nr_slots) {
		struct kmmu_slot_info *s = &vm->slots[slot];

		s->used = size != 0;
		s->flags = flags;
		s->gpa = gpa;
		s->size = size;
		s->hva = (void *)(uintptr_t)hva;
	}
	pthread_mutex_unlock(&vm->slot_lock);
	return r;
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

/* ---- page tables and shared memory ---- */

int __kmmu_vm_map(struct kmmu_vm *vm, uint64_t gva, uint64_t gpa, uint64_t size,
		  unsigned int flags)
{
	if (vm->started)
		return -EBUSY;
	return kmmu_pt_map(&vm->pt, gva, gpa, size, flags);
}

int kmmu_vm_gva_to_gpa(struct kmmu_vm *vm, uint64_t gva, uint64_t *gpa)
{
	return kmmu_pt_walk(&vm->pt, gva, gpa, NULL, NULL);
}

void *kmmu_vm_alloc_shared(struct kmmu_vm *vm, size_t size, uint64_t *gva)
{
	uint64_t off;

	size = (size + KMMU_PAGE_SIZE - 1) & ~(KMMU_PAGE_SIZE - 1);
	if (!size || vm->shared_used + size > vm->shared_size)
		return NULL;
	off = vm->shared_off + vm->shared_used;
	vm->shared_used += size;
	*gva = KMMU_GPA_SYS + off;
	return (uint8_t *)vm->sys.hva + off;
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

/*
 * KVM_CAP_DIRTY_LOG_RING_ACQ_REL says userspace collects with
 * acquire/release ordering, which kmmu_vcpu_dirty_ring_collect() does;
 * kernels before 6.1 only know KVM_CAP_DIRTY_LOG_RING (x86 is TSO, where
 * the two are the same).  Both take the ring's size in bytes.
 */
static int kmmu_vm_enable_dirty_ring(struct kmmu_vm *vm, uint32_t entries,
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
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
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

enum kmmu_vcpu_status kmmu_vcpu_status(const struct kmmu_vcpu *vcpu)
{
	return atomic_load(&vcpu->status);
}

void kmmu_vcpu_counts(const struct kmmu_vcpu *vcpu, struct kmmu_vcpu_counts *c)
{
	*c = vcpu->counts;
}

/* ---- dirty logging ---- */

int kmmu_vm_enable_cap(struct kmmu_vm *vm, uint32_t cap, uint64_t arg0)
{
	struct kvm_enable_cap c = { .cap = cap, .args = { arg0 } };

	return ioctl(vm->fd, KVM_ENABLE_CAP, &c) ? -errno : 0;
}

int kmmu_vm_get_dirty_log(struct kmmu_vm *vm, uint32_t slot, uint64_t *bitmap)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	return ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) ? -errno : 0;
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

	return ioctl(vm->fd, KVM_CLEAR_DIRTY_LOG, &log) ? -errno : 0;
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

/* ---- the run loop ---- */

const char *kmmu_exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN", [KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO", [KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG", [KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO", [KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN", [KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR", [KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS", [KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
		[KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI", [KVM_EXIT_HYPERV] = "HYPERV",
		[KVM_EXIT_X86_RDMSR] = "X86_RDMSR", [KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
		[KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
		[KVM_EXIT_AP_RESET_HOLD] = "AP_RESET_HOLD",
		[KVM_EXIT_X86_BUS_LOCK] = "X86_BUS_LOCK", [KVM_EXIT_XEN] = "XEN",
		[KVM_EXIT_NOTIFY] = "NOTIFY",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "?";
}

static const char *kmmu_internal_name(uint32_t sub)
{
	switch (sub) {
	case KVM_INTERNAL_ERROR_EMULATION: return "EMULATION";
	case KVM_INTERNAL_ERROR_SIMUL_EX: return "SIMUL_EX";
	case KVM_INTERNAL_ERROR_DELIVERY_EV: return "DELIVERY_EV";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "UNEXPECTED_EXIT_REASON";
	default: return "?";
	}
}

static size_t kmmu_seg_text(char *buf, size_t len, const char *name,
			    const struct kvm_segment *s)
{
	return snprintf(buf, len, " %s=%#x(base %#llx limit %#x type %u dpl %u p %u s %u l %u db %u g %u%s)",
			name, s->selector, (unsigned long long)s->base, s->limit,
			s->type, s->dpl, s->present, s->s, s->l, s->db, s->g,
			s->unusable ? " unusable" : "");
}

void kmmu_vcpu_describe(struct kmmu_vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kmmu_ucall uc = vcpu->page->uc;
	size_t off = 0;

	buf[0] = 0;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r)) {
		snprintf(buf, len, "(KVM_GET_REGS: %s)", strerror(errno));
		return;
	}
	off += snprintf(buf + off, len - off,
			"RIP=%#llx RSP=%#llx RFLAGS=%#llx RAX=%#llx RBX=%#llx RCX=%#llx RDX=%#llx RSI=%#llx RDI=%#llx RBP=%#llx R8=%#llx R9=%#llx R10=%#llx R11=%#llx R12=%#llx R13=%#llx R14=%#llx R15=%#llx",
			(unsigned long long)r.rip, (unsigned long long)r.rsp,
			(unsigned long long)r.rflags, (unsigned long long)r.rax,
			(unsigned long long)r.rbx, (unsigned long long)r.rcx,
			(unsigned long long)r.rdx, (unsigned long long)r.rsi,
			(unsigned long long)r.rdi, (unsigned long long)r.rbp,
			(unsigned long long)r.r8, (unsigned long long)r.r9,
			(unsigned long long)r.r10, (unsigned long long)r.r11,
			(unsigned long long)r.r12, (unsigned long long)r.r13,
			(unsigned long long)r.r14, (unsigned long long)r.r15);
	if (off < len && r.rip >= vcpu->vm->image_lo && r.rip < vcpu->vm->image_hi)
		off += snprintf(buf + off, len - off, " (RIP in the test binary: addr2line -e /proc/%d/exe %#llx)",
				(int)getpid(), (unsigned long long)r.rip);
	if (off < len && !ioctl(vcpu->fd, KVM_GET_SREGS, &s)) {
		if (!(s.cr0 & KMMU_X86_CR0_PG))
			off += snprintf(buf + off, len - off,
					" [paging is off: these are reset values, e.g. SVM re-initialises the vCPU after a triple fault; see the last ucall below]");
		off += snprintf(buf + off, len - off,
				" CR0=%#llx CR2=%#llx CR3=%#llx CR4=%#llx EFER=%#llx",
				(unsigned long long)s.cr0, (unsigned long long)s.cr2,
				(unsigned long long)s.cr3, (unsigned long long)s.cr4,
				(unsigned long long)s.efer);
		if (off < len)
			off += kmmu_seg_text(buf + off, len - off, "CS", &s.cs);
		if (off < len)
			off += kmmu_seg_text(buf + off, len - off, "SS", &s.ss);
		if (off < len)
			off += kmmu_seg_text(buf + off, len - off, "TR", &s.tr);
	}
	if (off < len && uc.magic == KMMU_UCALL_MAGIC) {
		struct kmmu_ucall_msg m;

		if (kmmu_ucall_decode(&uc, NULL, &m) > 0)
			snprintf(buf + off, len - off, "; last ucall #%llu: %s",
				 (unsigned long long)uc.seq, m.text);
	}
}

static void kmmu_vcpu_fail_exit(struct kmmu_vcpu *vcpu, const char *what)
{
	char regs[1536];

	kmmu_vcpu_describe(vcpu, regs, sizeof(regs));
	kmmu_vcpu_fail(vcpu, "%s; %s", what, regs);
}

/* Returns 1 to keep running, 0 when the vCPU is finished. */
static int kmmu_vcpu_ucall(struct kmmu_vcpu *vcpu, uint64_t value)
{
	struct kmmu_vm *vm = vcpu->vm;
	struct kmmu_ucall uc = vcpu->page->uc;	/* snapshot: guest is stopped */
	struct kmmu_ucall_msg m;
	char extra[1024] = "";
	int nr;

	vcpu->counts.ucalls++;
	if (value != vcpu->page_gva + offsetof(struct kmmu_vcpu_page, uc)) {
		kmmu_vcpu_fail(vcpu, "hypercall with value %#llx, not this vCPU's ucall block %#llx",
			       (unsigned long long)value,
			       (unsigned long long)(vcpu->page_gva +
						    offsetof(struct kmmu_vcpu_page, uc)));
		return 0;
	}
	nr = kmmu_ucall_decode(&uc, NULL, &m);
	switch (nr) {
	case KMMU_UCALL_SYNC:
		vcpu->page->uc.ret = vm->h.sync ? vm->h.sync(vcpu, m.args[0], vm->h.ctx) : 0;
		return 1;
	case KMMU_UCALL_PRINT:
		fprintf(stderr, "# vcpu %d: %s\n", vcpu->idx, m.text);
		return 1;
	case KMMU_UCALL_DONE:
		atomic_store(&vcpu->status, KMMU_VCPU_DONE);
		return 0;
	case KMMU_UCALL_ASSERT:
	case KMMU_UCALL_FAIL:
		if (vm->h.fail_context)
			vm->h.fail_context(vcpu, &m, extra, sizeof(extra), vm->h.ctx);
		kmmu_vcpu_fail(vcpu, "%s%s%s", m.text, extra[0] ? "; " : "", extra);
		return 0;
	default:
		kmmu_vcpu_fail(vcpu, "malformed ucall: %s", m.text);
		return 0;
	}
}

static int kmmu_vcpu_handle_exit(struct kmmu_vcpu *vcpu)
{
	struct kmmu_vm *vm = vcpu->vm;
	struct kvm_run *run = vcpu->run;
	char what[512];
	uint32_t i;
	size_t off;

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		vcpu->counts.mmio++;
		if (run->mmio.phys_addr >= KMMU_HYPERCALL_GPA &&
		    run->mmio.phys_addr < KMMU_HYPERCALL_GPA + KMMU_PAGE_SIZE) {
			uint64_t v = 0;

			if (!run->mmio.is_write || run->mmio.len != 8) {
				snprintf(what, sizeof(what),
					 "hypercall page access that is not an 8-byte store (%s, len %u, gpa %#llx)",
					 run->mmio.is_write ? "write" : "read", run->mmio.len,
					 (unsigned long long)run->mmio.phys_addr);
				kmmu_vcpu_fail_exit(vcpu, what);
				return 0;
			}
			memcpy(&v, run->mmio.data, 8);
			return kmmu_vcpu_ucall(vcpu, v);
		}
		if (vm->h.mmio) {
			if (vm->h.mmio(vcpu, run->mmio.phys_addr, run->mmio.data,
				       run->mmio.len, run->mmio.is_write, vm->h.ctx) < 0) {
				if (atomic_load(&vcpu->status) != KMMU_VCPU_FAILED)
					kmmu_vcpu_fail(vcpu, "MMIO handler refused gpa %#llx",
						       (unsigned long long)run->mmio.phys_addr);
				return 0;
			}
			return 1;
		}
		snprintf(what, sizeof(what), "unexpected MMIO %s of %u bytes at gpa %#llx",
			 run->mmio.is_write ? "write" : "read", run->mmio.len,
			 (unsigned long long)run->mmio.phys_addr);
		kmmu_vcpu_fail_exit(vcpu, what);
		return 0;
	case KVM_EXIT_INTR:
		vcpu->counts.intr++;
		return 1;
	case KVM_EXIT_SHUTDOWN:
		kmmu_vcpu_fail_exit(vcpu, "guest crashed: KVM_EXIT_SHUTDOWN (triple fault; the guest has no IDT, so any exception ends here)");
		return 0;
	case KVM_EXIT_INTERNAL_ERROR:
		off = snprintf(what, sizeof(what), "KVM_EXIT_INTERNAL_ERROR suberror %u (%s) data[%u]:",
			       run->internal.suberror,
			       kmmu_internal_name(run->internal.suberror),
			       run->internal.ndata);
		for (i = 0; i < run->internal.ndata && i < 16 && off < sizeof(what); i++)
			off += snprintf(what + off, sizeof(what) - off, " %#llx",
					(unsigned long long)run->internal.data[i]);
		/*
		 * An emulation failure says which instruction, in data[1..2]
		 * (struct emulation_failure's insn_size and insn_bytes) when
		 * its flags (data[0]) say so: spelled out, it is the first
		 * thing to look up.
		 */
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
		    run->emulation_failure.ndata >= 3 &&
		    (run->emulation_failure.flags &
		     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
		    off < sizeof(what)) {
			off += snprintf(what + off, sizeof(what) - off, "; instruction bytes:");
			for (i = 0; i < run->emulation_failure.insn_size &&
			     i < sizeof(run->emulation_failure.insn_bytes) && off < sizeof(what); i++)
				off += snprintf(what + off, sizeof(what) - off, " %02x",
						run->emulation_failure.insn_bytes[i]);
		}
		kmmu_vcpu_fail_exit(vcpu, what);
		return 0;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what),
			 "KVM_EXIT_FAIL_ENTRY hardware_entry_failure_reason %#llx on cpu %u",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			 run->fail_entry.cpu);
		kmmu_vcpu_fail_exit(vcpu, what);
		return 0;
	default:
		if (vm->h.exit) {
			int r = vm->h.exit(vcpu, run->exit_reason, vm->h.ctx);

			if (r >= 0)
				return r;
		}
		snprintf(what, sizeof(what), "unexpected exit %u (%s)", run->exit_reason,
			 kmmu_exit_name(run->exit_reason));
		kmmu_vcpu_fail_exit(vcpu, what);
		return 0;
	}
}

static void *kmmu_vcpu_thread(void *arg)
{
	struct kmmu_vcpu *vcpu = arg;
	struct kmmu_vm *vm = vcpu->vm;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, KMMU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!atomic_load(&vcpu->stop)) {
		if (vm->h.pre_run)
			vm->h.pre_run(vcpu, vm->h.ctx);
		vcpu->counts.runs++;
		if (ioctl(vcpu->fd, KVM_RUN, 0)) {
			int e = errno;

			if (e == EINTR || e == EAGAIN) {
				vcpu->counts.intr++;
				continue;
			}
			if (vm->h.run_error && !vm->h.run_error(vcpu, e, vm->h.ctx))
				continue;
			if (atomic_load(&vcpu->status) != KMMU_VCPU_FAILED)
				kmmu_vcpu_fail(vcpu, "KVM_RUN: %s", strerror(e));
			break;
		}
		if (!kmmu_vcpu_handle_exit(vcpu))
			break;
	}
	if (atomic_load(&vcpu->status) == KMMU_VCPU_RUNNING)
		atomic_store(&vcpu->status, KMMU_VCPU_STOPPED);
	pthread_mutex_lock(&vm->lock);
	vm->nr_finished++;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int __kmmu_vm_start(struct kmmu_vm *vm, kmmu_guest_fn fn, void *arg)
{
	int i, r;

	if (vm->started)
		return -EBUSY;
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct kmmu_vcpu *vcpu = &vm->vcpus[i];
		struct kvm_regs regs;

		memset(&regs, 0, sizeof(regs));
		regs.rip = (uintptr_t)kmmu_guest_entry;
		/* As after a call: RSP + 8 is 16-byte aligned. */
		regs.rsp = vcpu->page_gva + KMMU_VCPU_AREA_SIZE - 8;
		regs.rdi = i;
		regs.rsi = (uintptr_t)arg;
		regs.rdx = (uintptr_t)fn;
		regs.rflags = KMMU_X86_RFLAGS_FIXED;
		vcpu->page->arg = (uintptr_t)arg;
		vcpu->page->fn = (uintptr_t)fn;
		if (ioctl(vcpu->fd, KVM_SET_REGS, &regs))
			return -errno;
	}
	/* From here on the host must not touch the guest page tables. */
	vm->started = true;
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct kmmu_vcpu *vcpu = &vm->vcpus[i];

		atomic_store(&vcpu->status, KMMU_VCPU_RUNNING);
		r = pthread_create(&vcpu->thread, NULL, kmmu_vcpu_thread, vcpu);
		if (r) {
			atomic_store(&vcpu->status, KMMU_VCPU_IDLE);
			kmmu_vm_stop(vm);
			return -r;
		}
		vcpu->thread_started = true;
	}
	return 0;
}

int __kmmu_vm_wait(struct kmmu_vm *vm, double timeout_s)
{
	struct timespec ts;
	int started = 0, i, r = 0;

	for (i = 0; i < vm->nr_vcpus; i++)
		started += vm->vcpus[i].thread_started;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)timeout_s;
	ts.tv_nsec += (long)((timeout_s - (time_t)timeout_s) * 1e9);
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&vm->lock);
	while (vm->nr_finished < started && !atomic_load(&vm->failed)) {
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &ts) == ETIMEDOUT) {
			r = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	kmmu_vm_stop(vm);
	if (atomic_load(&vm->failed))
		return -EIO;
	if (r) {
		/* Say where each late vCPU was (it is stopped now: regs are stable). */
		for (i = 0; i < vm->nr_vcpus; i++) {
			struct kmmu_vcpu *vcpu = &vm->vcpus[i];
			char regs[1536], line[1700];

			if (!vcpu->thread_started ||
			    atomic_load(&vcpu->status) != KMMU_VCPU_STOPPED)
				continue;
			kmmu_vcpu_describe(vcpu, regs, sizeof(regs));
			snprintf(line, sizeof(line), "vcpu %d still running after %.1fs: %s",
				 i, timeout_s, regs);
			kmmu_vm_add_error(vm, line);
		}
		return r;
	}
	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].thread_started &&
		    atomic_load(&vm->vcpus[i].status) != KMMU_VCPU_DONE)
			return -EIO;
	return 0;
}
