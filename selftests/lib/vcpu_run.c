// SPDX-License-Identifier: GPL-2.0
/*
 * The vCPU run loop of a kmmu VM: one thread per vCPU in KVM_RUN, exits
 * handled (the ucall hypercall page, MMIO handed to the test, crashes
 * described with registers and the last ucall), start and wait, and the
 * VM's error list that every failure lands in.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/timed_wait.h"
#include "vm_internal.h"

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

	/*
	 * A guest crash is the runtime's to report, unless the test expects
	 * it (a test that pulls the guest's own memory away): ask first.
	 */
	if (vm->h.exit && (run->exit_reason == KVM_EXIT_SHUTDOWN ||
			   run->exit_reason == KVM_EXIT_INTERNAL_ERROR)) {
		int r = vm->h.exit(vcpu, run->exit_reason, vm->h.ctx);

		if (r >= 0)
			return r;
	}

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
			int r = vm->h.mmio(vcpu, run->mmio.phys_addr, run->mmio.data,
					   run->mmio.len, run->mmio.is_write, vm->h.ctx);

			if (r < 0 && atomic_load(&vcpu->status) != KMMU_VCPU_FAILED)
				kmmu_vcpu_fail(vcpu, "MMIO handler refused gpa %#llx",
					       (unsigned long long)run->mmio.phys_addr);
			return !r;
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
	int r;

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
			r = vm->h.run_error ? vm->h.run_error(vcpu, e, vm->h.ctx) : -1;
			if (!r)
				continue;
			if (r < 0 && atomic_load(&vcpu->status) != KMMU_VCPU_FAILED)
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
	kmmu_deadline(&ts, timeout_s);
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
