// SPDX-License-Identifier: GPL-2.0
/*
 * `kmmu-trace record -- CMD` checks a VMM that is not kmmu's: the ioctl
 * interposer it preloads (libkmmu-ioctl-log.so) logs the command's
 * KVM_CREATE_VM and memslot ioctls with their results, so the checker knows
 * the memslot layout without the command's help.
 *
 * The VMM here is this program run as "--vmm": raw ioctls, no kmmu library
 * in its path to KVM.  It creates two slots, tries an overlapping third
 * (EEXIST), runs a real-mode vCPU that writes two pages and reads a third
 * of slot 0, moves slot 1, turns on dirty logging for slot 0 and deletes
 * both.  The test reads the trace file: exactly those seven memslot ioctls
 * with their results, one VM, its page stats before its close, and the
 * checker's replay of the whole trace with no divergence, the memslot
 * properties judged, and on a TDP MMU host the page stats and SPTE
 * history too.
 *
 * Needs /dev/kvm, root and tracefs for the recording (else SKIP); the
 * interposer's pass-through and the recorder's refusal without it run
 * anywhere, and so do its numbering of VMs and its page stats records, on
 * a fake KVM ("--fakevm": a seccomp filter hands the KVM ioctls to a
 * thread that answers them, KVM_GET_STATS_FD with a file in KVM's binary
 * stats format).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/checker.h"
#include "kmmu/trace_file.h"
#include "kvm_stats_file.h"
#include "test_paths.h"

#define MB (1024UL * 1024)

/* The VMM's memslot ioctls, in order, and what each must return. */
static const struct {
	uint32_t slot, flags;
	uint64_t gpa, size, hva_off;
	int ret;
} vmm_ops[] = {
	{ 0, 0, 0, 2 * MB, 0, 0 },				/* CREATE */
	{ 1, 0, 2 * MB, 1 * MB, 2 * MB, 0 },			/* CREATE */
	{ 2, 0, 1 * MB, 2 * MB, 3 * MB, -EEXIST },		/* overlaps 0 and 1 */
	{ 1, 0, 8 * MB, 1 * MB, 2 * MB, 0 },			/* MOVE */
	{ 0, KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, 0, 0 },	/* FLAGS_ONLY */
	{ 1, 0, 8 * MB, 0, 2 * MB, 0 },				/* DELETE */
	{ 0, KVM_MEM_LOG_DIRTY_PAGES, 0, 0, 0, 0 },		/* DELETE */
};

/*
 * Real mode at gpa 0: mov byte [0x1000], 1; mov byte [0x5000], 2;
 * mov al, [0x9000]; hlt.
 */
static const uint8_t guest_code[] = {
	0xc6, 0x06, 0x00, 0x10, 0x01,
	0xc6, 0x06, 0x00, 0x50, 0x02,
	0xa0, 0x00, 0x90,
	0xf4,
};

/* Runs the vCPU to its hlt; 0, or what went wrong (the VMM goes on). */
static const char *run_guest(int vm, uint8_t *mem)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0, .rflags = 2 };
	struct kvm_run *run;
	int kvm, vcpu, size;

	memcpy(mem, guest_code, sizeof(guest_code));
	kvm = open("/dev/kvm", O_RDWR);
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	close(kvm);
	if (vcpu < 0 || size <= 0)
		return "KVM_CREATE_VCPU";
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs))
		return "KVM_GET_SREGS";
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) || ioctl(vcpu, KVM_SET_REGS, &regs))
		return "KVM_SET_SREGS";
	if (ioctl(vcpu, KVM_RUN, 0) || run->exit_reason != KVM_EXIT_HLT)
		return "KVM_RUN did not end at the guest's hlt (a backend without real mode?)";
	if (mem[0x1000] != 1 || mem[0x5000] != 2)
		return "the guest's writes are not in its memory";
	return NULL;
}

/* The "VMM": exit 0 when every ioctl returned what vmm_ops says. */
static int vmm(void)
{
	struct kvm_userspace_memory_region r;
	const char *why;
	uint8_t *mem;
	int kvm, vm;

	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		return 10;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	mem = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm < 0 || mem == MAP_FAILED)
		return 11;
	for (size_t i = 0; i < sizeof(vmm_ops) / sizeof(vmm_ops[0]); i++) {
		r = (struct kvm_userspace_memory_region){
			.slot = vmm_ops[i].slot, .flags = vmm_ops[i].flags,
			.guest_phys_addr = vmm_ops[i].gpa, .memory_size = vmm_ops[i].size,
			.userspace_addr = (uintptr_t)mem + vmm_ops[i].hva_off,
		};
		errno = 0;
		if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) != (vmm_ops[i].ret ? -1 : 0) ||
		    (vmm_ops[i].ret && errno != -vmm_ops[i].ret)) {
			fprintf(stderr, "vmm: memslot ioctl %zu: %s\n", i, strerror(errno));
			return 12;
		}
		if (i == 2) {
			why = run_guest(vm, mem);
			if (why)
				fprintf(stderr, "vmm: no guest run: %s\n", why);
		}
	}
	close(vm);
	close(kvm);
	return 0;
}

/* Another program's ioctls: errno and results as without the interposer. */
static int passthrough(void)
{
	struct kvm_userspace_memory_region r = { .memory_size = MB };
	int fd = open("/dev/null", O_RDWR);

	errno = 0;
	if (ioctl(fd, KVM_CREATE_VM, 0) != -1 || errno != ENOTTY)
		return 20;
	errno = 0;
	if (ioctl(fd, KVM_SET_USER_MEMORY_REGION, &r) != -1 || errno != ENOTTY)
		return 21;
	return close(fd) ? 22 : 0;
}

/*
 * The fake KVM: a thread started before the filter (so not under it)
 * answers the ioctls the filter hands it.  KVM_CREATE_VM gets a real fd
 * (of /dev/null, for close() to close), a memslot ioctl of FAKE_EEXIST
 * bytes EEXIST, any other 0; KVM_CHECK_EXTENSION says 1 address space;
 * KVM_GET_STATS_FD on the n-th VM's fd gets a file in KVM's binary stats
 * format with that VM's page counts, fake_pages(n); KVM_GET_DIRTY_LOG of
 * slot FAKE_NO_LOG ENOENT (as of a slot without dirty logging), the other
 * dirty-log ioctls and KVM_ENABLE_CAP 0.
 */
#define FAKE_EEXIST (3 * MB)
#define FAKE_NO_LOG 9
/* The VMs fake_vmm() creates, and which of them (1, 2, ...) each fd is. */
#define FAKE_VMS 4
static int fake_vm_of_fd[64];

/* pages_4k, pages_2m, pages_1g of the fake's @n-th VM: a VM's own, never 0. */
static uint64_t fake_pages(unsigned int n, int level)
{
	return 100 * n + 10 * level + 1;
}

/* The statistics file of the fake's @n-th VM, pages among others, as KVM's has them. */
static int fake_stats_fd(unsigned int n)
{
	const struct synth st[] = {
		{ "remote_tlb_flush", 1, { 7 } },
		{ "pages_4k", 1, { fake_pages(n, 0) } },
		{ "pages_2m", 1, { fake_pages(n, 1) } },
		{ "pages_1g", 1, { fake_pages(n, 2) } },
		{ "nx_lpage_splits", 1, { 3 } },
	};

	return make_stats(st, sizeof(st) / sizeof(st[0]), 48, true);
}

static void *fake_kvm(void *arg)
{
	int listener = *(int *)arg, vms = 0;
	const struct kvm_userspace_memory_region *m;
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	uint64_t fd;

	for (;;) {
		memset(&req, 0, sizeof(req));
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req))
			return NULL;
		resp = (struct seccomp_notif_resp){ .id = req.id };
		fd = req.data.args[0];
		switch (req.data.args[1]) {
		case KVM_CREATE_VM:
			resp.val = open("/dev/null", O_RDWR);
			if (resp.val >= 0 && resp.val < 64)
				fake_vm_of_fd[resp.val] = ++vms;
			break;
		case KVM_GET_STATS_FD:
			if (fd < 64 && fake_vm_of_fd[fd])
				resp.val = fake_stats_fd(fake_vm_of_fd[fd]);
			else
				resp.error = -ENOTTY;
			break;
		case KVM_CHECK_EXTENSION:
			resp.val = 1;
			break;
		case KVM_SET_USER_MEMORY_REGION:
			/* A thread of this process: its pointer is ours. */
			m = (const void *)(uintptr_t)req.data.args[2];
			if (m->memory_size == FAKE_EEXIST)
				resp.error = -EEXIST;
			break;
		case KVM_GET_DIRTY_LOG:
			if (((const struct kvm_dirty_log *)(uintptr_t)req.data.args[2])->slot ==
			    FAKE_NO_LOG)
				resp.error = -ENOENT;
			break;
		}
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

/* The KVM ioctls of this thread go to the fake; the listener's fd, or -1. */
static int fake_kvm_filter(void)
{
#define KVM_IOCTL_TO_FAKE(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF)
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* The request's low 32 bits (little endian): KVM's numbers fit. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		KVM_IOCTL_TO_FAKE(KVM_CREATE_VM),
		KVM_IOCTL_TO_FAKE(KVM_CHECK_EXTENSION),
		KVM_IOCTL_TO_FAKE(KVM_SET_USER_MEMORY_REGION),
		KVM_IOCTL_TO_FAKE(KVM_GET_STATS_FD),
		KVM_IOCTL_TO_FAKE(KVM_GET_DIRTY_LOG),
		KVM_IOCTL_TO_FAKE(KVM_CLEAR_DIRTY_LOG),
		KVM_IOCTL_TO_FAKE(KVM_ENABLE_CAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
		       &prog);
}

/* A memslot ioctl of @size bytes at @gpa on @vm; what ioctl() returned. */
static int fake_memslot(int vm, uint32_t slot, uint64_t gpa, uint64_t size, void *mem)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)mem,
	};

	return ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r);
}

/*
 * Dirty logging on @vm: manual protect on, a harvest, one of a slot without
 * logging, a clear; another capability and a harvest on @kvm (no VM's fd),
 * which go unlogged.  0, or which step failed.
 */
static int fake_dirty_log(int kvm, int vm)
{
	uint64_t bitmap[2] = { 0 };
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
				      .args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
						KVM_DIRTY_LOG_INITIALLY_SET } };
	struct kvm_enable_cap halt = { .cap = KVM_CAP_HALT_POLL };
	struct kvm_dirty_log get = { .slot = 1, .dirty_bitmap = bitmap };
	struct kvm_dirty_log unlogged = { .slot = FAKE_NO_LOG, .dirty_bitmap = bitmap };
	struct kvm_clear_dirty_log clear = { .slot = 1, .first_page = 64, .num_pages = 128,
					     .dirty_bitmap = bitmap };

	if (ioctl(vm, KVM_ENABLE_CAP, &cap) || ioctl(vm, KVM_GET_DIRTY_LOG, &get))
		return 40;
	if (ioctl(vm, KVM_GET_DIRTY_LOG, &unlogged) != -1 || errno != ENOENT)
		return 41;
	if (ioctl(vm, KVM_CLEAR_DIRTY_LOG, &clear) || ioctl(vm, KVM_ENABLE_CAP, &halt) ||
	    ioctl(kvm, KVM_GET_DIRTY_LOG, &get))
		return 42;
	return 0;
}

/*
 * The "VMM" of several VMs on the fake KVM: VM 1 alone, then VMs 2 and 3
 * overlapping, with dirty logging on VM 2; fd numbers come back; VM 4 it
 * leaves to exit() to close.
 * Exit 0, 4 if this kernel has no seccomp user notification, else which
 * step failed.
 */
static int fake_vmm(void)
{
	int kvm = open("/dev/null", O_RDWR), listener, a, b, c, d, status;
	void *mem = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t thread;
	pid_t child;

	if (kvm < 0 || mem == MAP_FAILED)
		return 30;
	listener = fake_kvm_filter();
	if (listener < 0)
		return 4;
	/* Under the filter too, which its own ioctls pass. */
	if (pthread_create(&thread, NULL, fake_kvm, &listener))
		return 31;

	a = ioctl(kvm, KVM_CREATE_VM, 0);
	if (a < 0 || fake_memslot(a, 0, 0, MB, mem) || close(a))
		return 32;
	b = ioctl(kvm, KVM_CREATE_VM, 0);		/* likely a's number again */
	if (b < 0 || fake_memslot(b, 0, 0, MB, mem))
		return 33;
	c = ioctl(kvm, KVM_CREATE_VM, 0);
	/* The fake's EEXIST is KVM's: the slot overlaps slot 0. */
	if (c < 0 || fake_memslot(c, 0, 0, MB, mem) ||
	    fake_memslot(c, 1, 0, FAKE_EEXIST, mem) != -1 || errno != EEXIST)
		return 34;
	if (fake_memslot(b, 1, 4 * MB, 2 * MB, mem) || fake_memslot(kvm, 2, 0, MB, mem))
		return 35;				/* the last on no VM's fd */
	status = fake_dirty_log(kvm, b);
	if (status)
		return status;
	/* A child's close of its copy of the fd: the VMM still has VM 2. */
	child = fork();
	if (child == 0)
		_exit(close(b) ? 1 : 0);
	if (child < 0 || waitpid(child, &status, 0) != child || status)
		return 37;
	if (close(b) || close(c))
		return 36;
	d = ioctl(kvm, KVM_CREATE_VM, 0);
	if (d < 0)
		return 38;
	return 0;
}

/* build/tracing/tests/record_vmm_test -> build/tracing/NAME (test_paths.h) */
static void build_path(char *buf, size_t len, const char *name)
{
	if (test_tool_path(buf, len, name))
		buf[0] = '\0';
}

static int self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* The fake VMM run twice, one process after the other, as a script would. */
static int fake_vmm_twice(void)
{
	char self[PATH_MAX];
	int status;
	pid_t pid;

	if (self_exe(self, sizeof(self)))
		return 40;
	for (int i = 0; i < 2; i++) {
		pid = fork();
		if (pid == 0) {
			execl(self, self, "--fakevm", (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			return 41;
		if (WEXITSTATUS(status))
			return WEXITSTATUS(status);
	}
	return 0;
}

/*
 * Runs this program in @mode with the interposer preloaded, logging to
 * @log_fd; its wait status, or -1 with why in @err.
 */
static int run_preloaded(const char *mode, int log_fd, char *err, size_t err_len)
{
	char lib[PATH_MAX], self[PATH_MAX], preload[PATH_MAX + 16], fd_env[32];
	char *argv[] = { self, (char *)mode, NULL };
	char *envp[] = { preload, fd_env, NULL };

	build_path(lib, sizeof(lib), "libkmmu-ioctl-log.so");
	if (access(lib, R_OK) || self_exe(self, sizeof(self))) {
		snprintf(err, err_len, "%.900s: not built, or no /proc/self/exe", lib);
		return -1;
	}
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lib);
	snprintf(fd_env, sizeof(fd_env), "KMMU_IOCTL_LOG_FD=%d", log_fd);
	return test_run_cmd(argv, envp, true, err, err_len);
}

TEST(interposer_passes_other_ioctls_through)
{
	int memfd = memfd_create("ioctl-log", 0);
	char err[1024];
	int status;

	ASSERT_LE(0, memfd);
	status = run_preloaded("--passthrough", memfd, err, sizeof(err));
	ASSERT_NE(-1, status) TH_LOG("%s", err);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", err);
	/* Nothing logged: no KVM_CREATE_VM succeeded, so no fd is a VM's. */
	EXPECT_EQ(0, lseek(memfd, 0, SEEK_END));
	close(memfd);
}

/*
 * Each record the fake VMM's run must log, in order: type, VM, slot,
 * result.  A VM's page stats come just before its close, VM 4's from
 * exit(); the child's close of VM 2 logs nothing.
 */
static const struct {
	uint16_t type;
	uint32_t vm, slot;
	int ret;
	uint64_t first, num;	/* CLEAR's pages; PROTECT's flags in first */
} fake_log[] = {
	{ KMMU_ACT_VM_CREATE, 1 },
	{ KMMU_ACT_SET_MEMSLOT, 1, 0, 0 },
	{ KMMU_ACT_STATS, 1 },
	{ KMMU_ACT_VM_CLOSE, 1 },
	{ KMMU_ACT_VM_CREATE, 2 },
	{ KMMU_ACT_SET_MEMSLOT, 2, 0, 0 },
	{ KMMU_ACT_VM_CREATE, 3 },
	{ KMMU_ACT_SET_MEMSLOT, 3, 0, 0 },
	{ KMMU_ACT_SET_MEMSLOT, 3, 1, -EEXIST },
	{ KMMU_ACT_SET_MEMSLOT, 2, 1, 0 },
	{ KMMU_ACT_DIRTY_LOG_PROTECT, 2, 0, 0, KMMU_DIRTY_LOG_MANUAL_PROTECT |
					       KMMU_DIRTY_LOG_INITIALLY_SET },
	{ KMMU_ACT_GET_DIRTY_LOG, 2, 1, 0 },
	{ KMMU_ACT_GET_DIRTY_LOG, 2, FAKE_NO_LOG, -ENOENT },
	{ KMMU_ACT_CLEAR_DIRTY_LOG, 2, 1, 0, 64, 128 },
	{ KMMU_ACT_STATS, 2 },
	{ KMMU_ACT_VM_CLOSE, 2 },
	{ KMMU_ACT_STATS, 3 },
	{ KMMU_ACT_VM_CLOSE, 3 },
	{ KMMU_ACT_VM_CREATE, 4 },
	{ KMMU_ACT_STATS, 4 },
	{ KMMU_ACT_VM_CLOSE, 4 },
};

/*
 * Runs the fake VMM in @mode, which makes @rounds runs of it, and checks
 * the interposer's log: fake_log per run, VM numbers going on across runs.
 */
static void check_fake_log(struct __test_metadata *_metadata, const char *mode, int rounds)
{
	size_t per_round = sizeof(fake_log) / sizeof(fake_log[0]);
	int memfd = memfd_create("ioctl-log", 0);
	struct kmmu_trace_record recs[64];
	struct kmmu_check_result *res;
	char err[1024];
	ssize_t n;
	int status;

	ASSERT_LE(0, memfd);
	status = run_preloaded(mode, memfd, err, sizeof(err));
	ASSERT_NE(-1, status) TH_LOG("%s", err);
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 4)
		SKIP(return, "no seccomp user notification here: no fake KVM");
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", err);

	n = pread(memfd, recs, sizeof(recs), 0);
	close(memfd);
	ASSERT_EQ(rounds * per_round, n / sizeof(recs[0]));
	for (size_t i = 0; i < rounds * per_round; i++) {
		const struct kmmu_trace_record *r = &recs[i];
		uint32_t vm = fake_log[i % per_round].vm + FAKE_VMS * (i / per_round);

		ASSERT_EQ(fake_log[i % per_round].type, r->type) TH_LOG("record %zu", i);
		if (r->type == KMMU_ACT_SET_MEMSLOT) {
			EXPECT_EQ(vm, r->memslot.vm) TH_LOG("record %zu", i);
			EXPECT_EQ(fake_log[i % per_round].slot, r->memslot.slot) TH_LOG("record %zu", i);
			EXPECT_EQ(fake_log[i % per_round].ret, r->memslot.ret) TH_LOG("record %zu", i);
		} else if (r->type == KMMU_ACT_GET_DIRTY_LOG ||
			   r->type == KMMU_ACT_CLEAR_DIRTY_LOG) {
			EXPECT_EQ(vm, r->dirty_log.vm) TH_LOG("record %zu", i);
			EXPECT_EQ(fake_log[i % per_round].slot, r->dirty_log.slot) TH_LOG("record %zu", i);
			EXPECT_EQ(fake_log[i % per_round].ret, r->dirty_log.ret) TH_LOG("record %zu", i);
			EXPECT_EQ(fake_log[i % per_round].first, r->dirty_log.first_page)
				TH_LOG("record %zu", i);
			EXPECT_EQ(fake_log[i % per_round].num, r->dirty_log.num_pages)
				TH_LOG("record %zu", i);
			EXPECT_LE(r->dirty_log.start_ts, r->ts) TH_LOG("record %zu", i);
		} else if (r->type == KMMU_ACT_DIRTY_LOG_PROTECT) {
			EXPECT_EQ(vm, r->protect_cap.vm) TH_LOG("record %zu", i);
			EXPECT_EQ(fake_log[i % per_round].first, r->protect_cap.flags)
				TH_LOG("record %zu", i);
			EXPECT_EQ(0, r->protect_cap.ret) TH_LOG("record %zu", i);
			EXPECT_LE(r->protect_cap.start_ts, r->ts) TH_LOG("record %zu", i);
		} else if (r->type == KMMU_ACT_STATS) {
			/* That VM's counts, read from its stats file, and nothing summed. */
			EXPECT_EQ(vm, r->stats.vm) TH_LOG("record %zu", i);
			EXPECT_EQ(1, r->stats.nr_vms) TH_LOG("record %zu", i);
			for (int l = 0; l < 3; l++) {
				EXPECT_EQ(fake_pages(fake_log[i % per_round].vm, l), r->stats.pages[l])
					TH_LOG("record %zu level %d", i, l);
			}
			EXPECT_LE(r->stats.start_ts, r->ts) TH_LOG("record %zu", i);
			/* What the recorder knows of other tasks is its to add. */
			EXPECT_EQ(0, r->stats.flags) TH_LOG("record %zu", i);
		} else {
			EXPECT_EQ(vm, r->vm.id) TH_LOG("record %zu", i);
		}
	}

	/* The checker replays each VM's ioctls into a reference VM of its own. */
	res = calloc(1, sizeof(*res));
	ASSERT_NE(NULL, res);
	ASSERT_EQ(0, kmmu_check(recs, n / sizeof(recs[0]), NULL, res));
	EXPECT_EQ(5 * rounds, res->checked[KMMU_PROP_MEMSLOT_RESULT]);
	EXPECT_EQ(0, res->nr_divergences) TH_LOG("%s", res->first_divergence);
	free(res);
}

TEST(interposer_numbers_vms)
{
	check_fake_log(_metadata, "--fakevm", 1);
}

/* A script running VMMs one after another: one log, one numbering. */
TEST(interposer_numbers_vms_across_processes)
{
	check_fake_log(_metadata, "--fakevm-twice", 2);
}

TEST(record_refuses_without_the_interposer)
{
	char tool[PATH_MAX], out[] = "/tmp/kmmu-record-XXXXXX", err[1024];
	char *argv[] = { tool, "record", "-o", out, "--", "/bin/true", NULL };
	char *envp[] = { "KMMU_IOCTL_LOG_LIB=/nonexistent/libkmmu-ioctl-log.so", NULL };
	int status, fd = mkstemp(out);

	ASSERT_LE(0, fd);
	close(fd);
	build_path(tool, sizeof(tool), "kmmu-trace");
	status = test_run_cmd(argv, envp, true, err, sizeof(err));
	unlink(out);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(2, WEXITSTATUS(status));
	EXPECT_NE(NULL, strstr(err, "/nonexistent/libkmmu-ioctl-log.so")) TH_LOG("%s", err);
	EXPECT_EQ(strlen(err) - 1, (size_t)(strchr(err, '\n') - err)) TH_LOG("not one line: %s", err);
}

/*
 * With the VM's page stats in the trace, the properties that need them
 * are judged wherever the host lets them be: on a TDP MMU host with no
 * untraced SPTE changes (the stats record's flags), the page stats and
 * the SPTE history; elsewhere they may be NOT CHECKABLE, but never for
 * want of a stats record.
 */
static void expect_stats_judged(struct __test_metadata *_metadata,
				const struct kmmu_trace_record *host,
				const struct kmmu_trace_record *stats,
				const struct kmmu_check_result *res)
{
	static const enum kmmu_check_property props[] = {
		KMMU_PROP_PAGE_STATS, KMMU_PROP_SPTE_HISTORY, KMMU_PROP_AGING_MAKES_OLD,
	};

	ASSERT_NE(NULL, host);
	ASSERT_NE(NULL, stats);
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		const char *why = res->not_checkable[props[i]];

		EXPECT_TRUE(!why || !strstr(why, "page stats")) TH_LOG("property %d: %s", props[i], why);
	}
	if (host->host.tdp != 1 || host->host.tdp_mmu != 1 || stats->stats.flags) {
		ksft_print_msg("not a TDP MMU host, or SPTE changes it cannot trace (flags %#x):"
			       " page stats and SPTE history may be NOT CHECKABLE\n",
			       stats->stats.flags);
		return;
	}
	EXPECT_LT(0, res->checked[KMMU_PROP_PAGE_STATS])
		TH_LOG("%s", res->not_checkable[KMMU_PROP_PAGE_STATS]);
	EXPECT_LT(0, res->checked[KMMU_PROP_SPTE_HISTORY])
		TH_LOG("%s", res->not_checkable[KMMU_PROP_SPTE_HISTORY]);
}

/*
 * What a real recording needs: /dev/kvm and root (else the test SKIPs,
 * and this returns -1), the trace file @out (a mkstemp() template), the
 * kmmu-trace in @tool and this program in @self (PATH_MAX each).
 */
static int recording_setup(struct __test_metadata *_metadata, char *tool, char *self, char *out)
{
	int fd = open("/dev/kvm", O_RDWR);

	if (fd < 0)
		SKIP(return -1, "/dev/kvm: %s", strerror(errno));
	close(fd);
	if (geteuid())
		SKIP(return -1, "recording needs root (tracefs)");
	fd = mkstemp(out);
	ASSERT_LE(0, fd) {
		return -1;
	}
	close(fd);
	build_path(tool, PATH_MAX, "kmmu-trace");
	ASSERT_EQ(0, self_exe(self, PATH_MAX)) {
		return -1;
	}
	return 0;
}

TEST(records_a_vmm)
{
	char tool[PATH_MAX], self[PATH_MAX], out[] = "/tmp/kmmu-record-XXXXXX", err[4096];
	char *argv[] = { tool, "record", "-o", out, "--", self, "--vmm", NULL };
	struct kmmu_checker_opts opts = { .report = stdout };
	struct kmmu_check_result *res;
	const struct kmmu_trace_record *host = NULL, *stats = NULL;
	struct kmmu_trace_file tf;
	size_t nr_ops = 0, vms = 0, hosts = 0, nr_stats = 0;
	uint32_t vm_id = 0;
	int status;

	if (recording_setup(_metadata, tool, self, out))
		return;
	status = test_run_cmd(argv, NULL, true, err, sizeof(err));
	ksft_print_msg("kmmu-trace record said: %s", err);
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 4) {
		unlink(out);
		SKIP(return, "no tracing here: %.200s", err);
	}
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", err);
	ASSERT_EQ(0, kmmu_trace_file_read(out, &tf, err, sizeof(err))) TH_LOG("%s", err);
	unlink(out);

	for (uint64_t i = 0; i < tf.nr; i++) {
		const struct kmmu_trace_record *r = &tf.recs[i];

		if (r->type == KMMU_ACT_HOST) {
			/* The SPTE format, for the checker's SPTE properties. */
			hosts++;
			host = r;
			EXPECT_NE(KMMU_HOST_UNKNOWN, r->host.backend);
		}
		if (r->type == KMMU_ACT_VM_CREATE) {
			vms++;
			vm_id = r->vm.id;
			EXPECT_LE(1, r->vm.nr_address_spaces);
			EXPECT_GE(2, r->vm.nr_address_spaces);
		}
		if (r->type == KMMU_ACT_STATS) {
			/* The VM's page stats, read before its close, all slots deleted. */
			nr_stats++;
			stats = r;
			EXPECT_EQ(vm_id, r->stats.vm);
			EXPECT_EQ(1, r->stats.nr_vms);
			EXPECT_EQ(0, r->stats.pages[0] + r->stats.pages[1] + r->stats.pages[2]);
			EXPECT_LE(r->stats.start_ts, r->ts);
		}
		if (r->type == KMMU_ACT_VM_CLOSE)
			EXPECT_EQ(1, nr_stats) TH_LOG("the VM's close came before its stats");
		if (r->type != KMMU_ACT_SET_MEMSLOT)
			continue;
		ASSERT_GT(sizeof(vmm_ops) / sizeof(vmm_ops[0]), nr_ops);
		EXPECT_EQ(vmm_ops[nr_ops].slot, r->memslot.slot);
		EXPECT_EQ(vmm_ops[nr_ops].flags, r->memslot.flags);
		EXPECT_EQ(vmm_ops[nr_ops].gpa, r->memslot.gpa);
		EXPECT_EQ(vmm_ops[nr_ops].size, r->memslot.size);
		EXPECT_EQ(vmm_ops[nr_ops].ret, r->memslot.ret) TH_LOG("ioctl %zu", nr_ops);
		EXPECT_LE(r->memslot.start_ts, r->ts);
		nr_ops++;
	}
	EXPECT_EQ(1, vms);
	EXPECT_EQ(1, hosts);
	EXPECT_EQ(1, nr_stats);
	EXPECT_EQ(sizeof(vmm_ops) / sizeof(vmm_ops[0]), nr_ops);

	res = calloc(1, sizeof(*res));
	ASSERT_NE(NULL, res);
	ASSERT_EQ(0, kmmu_check(tf.recs, tf.nr, &opts, res));
	kmmu_check_print_summary(stdout, res);
	EXPECT_FALSE(res->no_actions);
	EXPECT_EQ(sizeof(vmm_ops) / sizeof(vmm_ops[0]), res->checked[KMMU_PROP_MEMSLOT_RESULT]);
	EXPECT_EQ(0, res->nr_divergences) TH_LOG("%s", res->first_divergence);
	expect_stats_judged(_metadata, host, stats, res);
	free(res);
	kmmu_trace_file_free(&tf);
}

/*
 * The command of records_other_tasks_unmaps: a VM that lives until the
 * test, told on @ready_fd, says on @go_fd that it is done.
 */
static int vm_waiting(const char *ready_fd, const char *go_fd)
{
	int kvm = open("/dev/kvm", O_RDWR), vm;
	char c = 0;

	if (kvm < 0)
		return 10;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return 11;
	if (write(atoi(ready_fd), &c, 1) != 1 || read(atoi(go_fd), &c, 1) != 1)
		return 12;
	close(vm);
	close(kvm);
	return 0;
}

/*
 * Another task's MMU notifier call: this process has a VM too, so KVM's
 * notifier on its memory emits kvm_unmap_hva_range when it unmaps some.
 * The range, or 0 in @start when that failed.
 */
static void unmap_in_another_task(uint64_t *start, uint64_t *end)
{
	int kvm = open("/dev/kvm", O_RDWR), vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
	uint8_t *mem = mmap(NULL, MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	*start = *end = 0;
	if (vm >= 0 && mem != MAP_FAILED) {
		memset(mem, 1, MB);
		if (!munmap(mem, MB)) {
			*start = (uintptr_t)mem;
			*end = *start + MB;
		}
	}
	if (vm >= 0)
		close(vm);
	if (kvm >= 0)
		close(kvm);
}

/*
 * kmmu-trace record captures other tasks' kvm_unmap_hva_range as a session
 * does: this test, not under the recording, unmaps memory of its own VM
 * while the recorded command holds one; the trace has the call, marked
 * untraced, and none of the command's own calls so marked.
 */
TEST(records_other_tasks_unmaps)
{
	char tool[PATH_MAX], self[PATH_MAX], out[] = "/tmp/kmmu-record-XXXXXX", err[4096];
	char ready_arg[16], go_arg[16];
	char *argv[] = { tool, "record", "-o", out, "--", self, "--vm-waiting", ready_arg, go_arg,
			 NULL };
	int ready[2], go[2], status, errpipe[2];
	uint64_t start = 0, end = 0;
	struct kmmu_trace_file tf;
	size_t got = 0, mine = 0, stats = 0;
	int32_t command = 0;
	char header[64], c = 0;
	ssize_t n;
	pid_t pid;

	if (recording_setup(_metadata, tool, self, out))
		return;
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(errpipe));
	snprintf(ready_arg, sizeof(ready_arg), "%d", ready[1]);
	snprintf(go_arg, sizeof(go_arg), "%d", go[0]);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		dup2(errpipe[1], 2);
		close(ready[0]);
		close(go[1]);
		close(errpipe[0]);
		execv(tool, argv);
		_exit(127);
	}
	close(ready[1]);
	close(go[0]);
	close(errpipe[1]);
	/* The command runs once the recording has started; no byte: it failed. */
	if (read(ready[0], &c, 1) == 1) {
		unmap_in_another_task(&start, &end);
		EXPECT_EQ(1, write(go[1], &c, 1));
	}
	close(go[1]);
	close(ready[0]);
	while (got + 1 < sizeof(err) && (n = read(errpipe[0], err + got, sizeof(err) - 1 - got)) > 0)
		got += n;
	err[got] = '\0';
	close(errpipe[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 4) {
		unlink(out);
		SKIP(return, "no tracing here: %.200s", err);
	}
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", err);
	ASSERT_NE(0, start) TH_LOG("this test's own VM and unmap failed");
	ASSERT_EQ(0, kmmu_trace_file_read(out, &tf, err, sizeof(err))) TH_LOG("%s", err);
	unlink(out);

	EXPECT_STREQ("captured", kmmu_trace_file_header_get(&tf, "other tasks' unmaps",
							    header, sizeof(header)));
	for (uint64_t i = 0; i < tf.nr; i++) {
		const struct kmmu_trace_record *r = &tf.recs[i];

		if (r->type == KMMU_ACT_VM_CREATE)
			command = r->pid;
		if (r->type == KMMU_ACT_STATS) {
			stats++;
			EXPECT_EQ(0, r->stats.flags & KMMU_STATS_OTHERS_UNKNOWN);
		}
		if (r->type != KMMU_EV_UNMAP_HVA_RANGE || !r->hva_range.untraced)
			continue;
		EXPECT_NE(command, r->pid) TH_LOG("the command's own call, marked another's");
		mine += r->pid == getpid() && r->hva_range.start <= start && end <= r->hva_range.end;
	}
	EXPECT_NE(0, command);
	EXPECT_EQ(1, stats);
	EXPECT_LE(1, mine) TH_LOG("no untraced kvm_unmap_hva_range of pid %d [%#lx, %#lx)",
				  getpid(), (unsigned long)start, (unsigned long)end);
	kmmu_trace_file_free(&tf);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--vmm"))
		return vmm();
	if (argc == 2 && !strcmp(argv[1], "--passthrough"))
		return passthrough();
	if (argc == 2 && !strcmp(argv[1], "--fakevm"))
		return fake_vmm();
	if (argc == 2 && !strcmp(argv[1], "--fakevm-twice"))
		return fake_vmm_twice();
	if (argc == 4 && !strcmp(argv[1], "--vm-waiting"))
		return vm_waiting(argv[2], argv[3]);
	return test_harness_run(argc, argv);
}
