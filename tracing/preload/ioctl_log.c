// SPDX-License-Identifier: GPL-2.0
/*
 * libkmmu-ioctl-log.so: an LD_PRELOAD interposer on ioctl(2) that logs a
 * VMM's KVM_CREATE_VM and memslot ioctls, with their results, as kmmu trace
 * actions on the trace clock.  `kmmu-trace record -- CMD` preloads it, so
 * any dynamically linked VMM (QEMU, the upstream KVM selftests) is checked
 * against the reference as kmmu's own tests are, which log these actions
 * themselves.
 *
 * Where the records go: $KMMU_IOCTL_LOG_FD, a file descriptor the recorder
 * opened (a memfd) and the command inherited.  Each record is one 64-byte
 * write(2) to it; the recorder reads them when the command has exited and
 * merges them with the kernel's events.  Without the variable, or after a
 * write failed, the interposer only passes calls through.
 *
 * The dirty-log ioctls (KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG, and
 * KVM_ENABLE_CAP of KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) are logged the same
 * way, for the checker's DIRTY_LOG_PROTECT.
 *
 * A memslot ioctl is logged as the interval it took (issued, returned), as
 * the checker wants: the kernel's events between the two belong to it.
 * Only ioctls on file descriptors that KVM_CREATE_VM returned are logged,
 * so a VMM's other ioctls (and the same number on another driver) are not.
 *
 * A command may create several VMs (upstream set_memory_region_test makes
 * one after another).  Kernel events carry no VM and slot ids repeat across
 * VMs, so each KVM_CREATE_VM gets a number (1, 2, ...) that its create
 * record and every memslot record of the VM carry, and the close of a VM's
 * fd is logged too, by the process that created it: the VMM is done with
 * that VM from then on (the kernel tears it down at its last reference,
 * which may come later).  A VMM that exits with a VM open (QEMU does; so
 * does a selftest whose assertion fails) is done with it too: its process
 * logs the close at exit (not at _exit() or exec, where nothing of ours
 * runs), so that the next VMM's VM of a script does not look live beside
 * it.  A dup() of a VM fd is not followed: its ioctls go unlogged, as
 * before.
 *
 * Just before that close, the process reads the VM's page stats (pages_4k,
 * 2m, 1g through KVM_GET_STATS_FD, with kmmu's KVM stats reader) and logs
 * them with the VM's number (KMMU_ACT_STATS), for the checker's page
 * stats and SPTE history properties; at exit, a destructor does both for
 * the VMs still open.  A process that ends in _exit() or by a signal logs
 * neither.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "kmmu/kvm_stats.h"
#include "kmmu/trace_log.h"

typedef int (*ioctl_fn)(int, unsigned long, ...);

static ioctl_fn real_ioctl;
static int log_fd = -1;

/*
 * The VM number of each VM file descriptor, 0 for other fds (fds beyond
 * this are not expected of a VMM's VM), and the process that created it:
 * a forked child inherits the fd, and its ioctls are the VM's, but its
 * close is not the VMM's.
 */
#define MAX_VM_FD 4096
static uint32_t vm_of_fd[MAX_VM_FD];
static pid_t vm_owner[MAX_VM_FD];

static void vm_fd_set(int fd, uint32_t vm)
{
	if (fd < 0 || fd >= MAX_VM_FD)
		return;
	vm_owner[fd] = vm ? getpid() : 0;
	__atomic_store_n(&vm_of_fd[fd], vm, __ATOMIC_RELAXED);
}

/* The VM number of @fd; 0 if it is no VM's. */
static uint32_t vm_of(int fd)
{
	return fd >= 0 && fd < MAX_VM_FD ? __atomic_load_n(&vm_of_fd[fd], __ATOMIC_RELAXED) : 0;
}

__attribute__((constructor)) static void ioctl_log_init(void)
{
	const char *fd = getenv("KMMU_IOCTL_LOG_FD");
	char *end;
	long v;

	real_ioctl = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
	if (!fd)
		return;
	errno = 0;
	v = strtol(fd, &end, 10);
	if (errno || *end || v < 0 || fcntl(v, F_GETFD) < 0)
		return;
	log_fd = v;
}

static void emit(const struct kmmu_trace_record *r)
{
	int saved = errno;

	/* One write per record: records of concurrent threads never interleave. */
	if (log_fd >= 0 && write(log_fd, r, sizeof(*r)) != sizeof(*r))
		log_fd = -1;	/* the recorder sees a short log by its count */
	errno = saved;
}

/*
 * VM numbers are the trace's, not the process's: every process of the
 * command (a script running one VMM after another, a VMM's forked child)
 * writes to the same log, so a new VM's number is one more than the
 * creates the log holds, counted and written under a lock: the mutex
 * among this process's threads, flock() among processes (it locks the
 * log's open file, which they all share).
 */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
static off_t creates_counted_to;	/* the log is read up to here ... */
static uint32_t creates_counted;	/* ... and holds these creates there */

static uint32_t next_vm_number(void)
{
	struct kmmu_trace_record r;

	while (pread(log_fd, &r, sizeof(r), creates_counted_to) == sizeof(r)) {
		creates_counted_to += sizeof(r);
		creates_counted += r.type == KMMU_ACT_VM_CREATE;
	}
	return creates_counted + 1;
}

static void log_vm_create(int vm_fd)
{
	struct kmmu_trace_record r;
	int nr_as, saved = errno;

	nr_as = real_ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
	pthread_mutex_lock(&create_lock);
	if (log_fd >= 0 && !flock(log_fd, LOCK_EX)) {
		kmmu_rec_stamp(&r, KMMU_ACT_VM_CREATE);
		r.vm.nr_address_spaces = nr_as > 0 ? nr_as : 1;
		r.vm.id = next_vm_number();
		vm_fd_set(vm_fd, r.vm.id);
		emit(&r);
		flock(log_fd, LOCK_UN);
	}
	pthread_mutex_unlock(&create_lock);
	errno = saved;
}

static void log_memslot(uint32_t vm, uint64_t start_ts,
			const struct kvm_userspace_memory_region *m, int ret)
{
	struct kmmu_trace_record r;

	kmmu_rec_stamp(&r, KMMU_ACT_SET_MEMSLOT);
	r.memslot.vm = vm;
	r.memslot.start_ts = start_ts;
	r.memslot.slot = m->slot;
	r.memslot.flags = m->flags;
	r.memslot.gpa = m->guest_phys_addr;
	r.memslot.size = m->memory_size;
	r.memslot.hva = m->userspace_addr;
	r.memslot.ret = ret;
	emit(&r);
}

/*
 * The page stats of VM @vm (fd @vm_fd) as its record; nothing when this
 * KVM has no binary stats (before 5.14).  The reading is an interval, as
 * the session's: SPTE changes inside it make the checker's comparison moot.
 */
static void log_stats(int vm_fd, uint32_t vm)
{
	struct kmmu_trace_record r;
	uint64_t start_ts = kmmu_trace_now(), pages[3] = { 0 };
	int saved = errno;

	if (!kmmu_stats_vm_pages(vm_fd, pages)) {
		kmmu_rec_stamp(&r, KMMU_ACT_STATS);
		r.stats.start_ts = start_ts;
		memcpy(r.stats.pages, pages, sizeof(pages));
		r.stats.nr_vms = 1;
		r.stats.vm = vm;
		emit(&r);
	}
	errno = saved;
}

static void log_vm_close(uint32_t vm)
{
	struct kmmu_trace_record r;

	kmmu_rec_stamp(&r, KMMU_ACT_VM_CLOSE);
	r.vm.id = vm;
	emit(&r);
}

/*
 * A dirty-log ioctl of VM @vm and its record: KVM_GET_DIRTY_LOG,
 * KVM_CLEAR_DIRTY_LOG, and KVM_ENABLE_CAP of the manual-protect
 * capability (the others pass through unlogged).
 */
static int dirty_log_ioctl(uint32_t vm, int fd, unsigned long request, void *arg)
{
	/* The VMM may reuse its struct as soon as we return. */
	const struct kvm_enable_cap cap = request == KVM_ENABLE_CAP ?
		*(struct kvm_enable_cap *)arg : (struct kvm_enable_cap){ 0 };
	const struct kvm_clear_dirty_log clear = request == KVM_CLEAR_DIRTY_LOG ?
		*(struct kvm_clear_dirty_log *)arg : (struct kvm_clear_dirty_log){ 0 };
	const uint32_t get_slot = request == KVM_GET_DIRTY_LOG ?
		((struct kvm_dirty_log *)arg)->slot : 0;
	struct kmmu_trace_record r;
	uint64_t start_ts;
	int ret, err;

	if (request == KVM_ENABLE_CAP && cap.cap != KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)
		return real_ioctl(fd, request, arg);
	start_ts = kmmu_trace_now();
	ret = real_ioctl(fd, request, arg);
	err = errno;
	if (request == KVM_ENABLE_CAP)
		kmmu_rec_protect_cap(&r, vm, start_ts, cap.args[0], ret < 0 ? -err : 0);
	else if (request == KVM_CLEAR_DIRTY_LOG)
		kmmu_rec_dirty_log(&r, KMMU_ACT_CLEAR_DIRTY_LOG, vm, start_ts, clear.slot,
				   clear.first_page, clear.num_pages, ret < 0 ? -err : 0);
	else
		kmmu_rec_dirty_log(&r, KMMU_ACT_GET_DIRTY_LOG, vm, start_ts, get_slot, 0, 0,
				   ret < 0 ? -err : 0);
	emit(&r);
	errno = err;	/* the VMM reads what the ioctl said */
	return ret;
}

/* The only symbols the library exports (it is built -fvisibility=hidden). */
#define INTERPOSED __attribute__((visibility("default")))

INTERPOSED int ioctl(int fd, unsigned long request, ...)
{
	struct kvm_userspace_memory_region region;
	uint64_t start_ts;
	uint32_t vm;
	va_list ap;
	void *arg;
	int ret, err;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real_ioctl) {
		errno = ENOSYS;
		return -1;
	}
	if (log_fd < 0)
		return real_ioctl(fd, request, arg);

	switch (request) {
	case KVM_CREATE_VM:
		ret = real_ioctl(fd, request, arg);
		if (ret >= 0)
			log_vm_create(ret);
		return ret;
	case KVM_GET_DIRTY_LOG:
	case KVM_CLEAR_DIRTY_LOG:
	case KVM_ENABLE_CAP:
		vm = vm_of(fd);
		if (!vm || !arg)
			break;
		return dirty_log_ioctl(vm, fd, request, arg);
	case KVM_SET_USER_MEMORY_REGION:
		vm = vm_of(fd);
		if (!vm || !arg)
			break;
		/* The VMM may reuse its struct as soon as we return. */
		memcpy(&region, arg, sizeof(region));
		start_ts = kmmu_trace_now();
		ret = real_ioctl(fd, request, arg);
		err = errno;
		log_memslot(vm, start_ts, &region, ret < 0 ? -err : 0);
		errno = err;	/* the VMM reads what the ioctl said */
		return ret;
	}
	return real_ioctl(fd, request, arg);
}

/*
 * A closed VM fd's number may come back as another VM's, or as anything.
 * The close of a VM's fd is logged once it succeeded, stamped after it.
 */
INTERPOSED int close(int fd)
{
	static int (*real_close)(int);
	uint32_t vm = vm_of(fd);
	bool owner = vm && vm_owner[fd] == getpid();
	int ret;

	if (!real_close)
		real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	/* While the VM is certainly alive: after the close it may be gone. */
	if (owner && log_fd >= 0)
		log_stats(fd, vm);
	vm_fd_set(fd, 0);
	ret = real_close(fd);
	if (owner && !ret)
		log_vm_close(vm);
	return ret;
}

/*
 * The VMs this process created and never closed: exit() closes their fds
 * after this.  A forked child's copies are not its VMs.
 */
__attribute__((destructor)) static void ioctl_log_exit(void)
{
	pid_t self = getpid();

	for (int fd = 0; fd < MAX_VM_FD && log_fd >= 0; fd++) {
		uint32_t vm = vm_of(fd);

		if (!vm || vm_owner[fd] != self)
			continue;
		log_stats(fd, vm);
		vm_fd_set(fd, 0);
		log_vm_close(vm);
	}
}
