// SPDX-License-Identifier: GPL-2.0
/*
 * guest_runtime_test: the guest runtime itself on real KVM.  Run it first
 * on a new host: if the CPL3 state, the image copy, the hypercall or the
 * exit reports do not work there, every other selftest fails for reasons
 * that have nothing to do with the MMU.
 *
 * Each test checks one promise of kmmu/kvm_vm.h and kmmu/guest.h: ucall
 * round trips, assertion, crash and emulation-failure reports, a crash or
 * MMIO exit a test's handler takes as the guest's end, MMIO on
 * unbacked GPAs,
 * memslot errno values, several vCPUs on their threads, SSE at CPL3,
 * KVM binary stats, a host flush of the guest TLB that leaves the vCPU's
 * state as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/kvm_test_harness.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/opts.h"

#define RT_MMIO_GPA	(KMMU_GPA_TEST + 0x10000000ULL)	/* mapped, never backed */
#define RT_SLOT_GPA	(KMMU_GPA_TEST)
#define RT_SLOT		KMMU_SLOT_FIRST_FREE

/* A guest global: the guest sees the value it had when the VM was made. */
static uint64_t rt_global = 0x1111;

FIXTURE(rt) {
	struct kmmu_test_run run;	/* the VM is run.vm */
	struct kmmu_mem mem;
	uint64_t mmio_reads, mmio_writes, mmio_last;
};

FIXTURE_SETUP(rt)
{
	struct kmmu_vm_opts o = { .nr_vcpus = 4, .shared_size = 4096 };

	self->mem.fd = -1;
	KMMU_TEST_SETUP(&self->run, NULL);
	/* The image is copied at VM creation: the guest must see 0x2222. */
	rt_global = 0x2222;
	kmmu_vm_create(&self->run.vm, &o);
	rt_global = 0x3333;
	kmmu_vm_map(self->run.vm, RT_MMIO_GPA, RT_MMIO_GPA, 4096,
		    KMMU_MAP_WRITE | KMMU_MAP_NX);
	kmmu_vm_map(self->run.vm, RT_SLOT_GPA, RT_SLOT_GPA, 2 << 20,
		    KMMU_MAP_WRITE | KMMU_MAP_NX | KMMU_MAP_HUGE);
	ASSERT_EQ(0, kmmu_mem_alloc(&self->mem, 2 << 20, KMMU_BACKING_MEMFD, -1));
}

FIXTURE_TEARDOWN(rt)
{
	if (!self->run.started)
		return;
	KMMU_TEST_END(&self->run);
	kmmu_mem_free(&self->mem);
}

/* ---- guests ---- */

static void g_sync(uint32_t id, void *arg)
{
	uint64_t i;

	GUEST_ASSERT_EQ(rt_global, 0x2222);
	for (i = 0; i < 10; i++)
		GUEST_ASSERT_EQ(GUEST_SYNC(id * 100 + i), 2 * (id * 100 + i));
}

static void g_flush(uint32_t id, void *arg)
{
	uint64_t i;

	for (i = 0; i < 4; i++) {
		GUEST_ASSERT_EQ(GUEST_SYNC(i), 1);
		GUEST_ASSERT_EQ(rt_global, 0x2222);
	}
}

static void g_assert(uint32_t id, void *arg)
{
	uint64_t one = 1;

	GUEST_ASSERT_EQ(one, 2);
}

static void g_crash(uint32_t id, void *arg)
{
	*(volatile uint64_t *)0x7ff000000000ULL = 1;	/* not mapped: #PF */
}

static void g_mmio(uint32_t id, void *arg)
{
	volatile uint64_t *p = (volatile uint64_t *)RT_MMIO_GPA;

	*p = 0xabcdef;
	GUEST_ASSERT_EQ(*p, 0x5a5a5a5a5a5a5a5aULL);
}

static void g_slot(uint32_t id, void *arg)
{
	volatile uint64_t *p = (volatile uint64_t *)(RT_SLOT_GPA + 0x1000);

	/* vCPU 0 only: the others would race with the deletion. */
	if (id)
		return;
	GUEST_ASSERT_EQ(*p, 0xfeedULL);
	p[1] = 0xbeef;
	GUEST_SYNC(0);
	/* The host deleted the slot: the same load now exits as MMIO. */
	GUEST_ASSERT_EQ(*p, 0x5a5a5a5a5a5a5a5aULL);
}

static void g_sse(uint32_t id, void *arg)
{
	volatile double a = 1.5, b = 4.0 + id;
	double c = a * b;

	GUEST_ASSERT_EQ((uint64_t)(c * 2), (uint64_t)(3 * (4 + id)));
}

/*
 * addps (%rdi), %xmm0 (0f 58 07), then ret: an SSE instruction with a
 * memory operand, which KVM's instruction emulator does not implement (0f
 * 58 is 'N' in its two-byte opcode table).  Its operand on a GPA without a
 * memslot makes KVM emulate it, and the emulation fails.  Plain assembly,
 * so that the instruction's address is the function's.
 */
void rt_addps_mmio(const void *p);
asm(".pushsection .text\n"
    ".globl rt_addps_mmio\n"
    ".type rt_addps_mmio, @function\n"
    "rt_addps_mmio:\n"
    "	addps (%rdi), %xmm0\n"
    "	ret\n"
    ".size rt_addps_mmio, .-rt_addps_mmio\n"
    ".popsection\n");

static void g_addps_mmio(uint32_t id, void *arg)
{
	if (id)
		return;
	rt_addps_mmio((const void *)RT_MMIO_GPA);
	GUEST_FAIL("addps on an unbacked GPA was executed, not reported");
}

static void g_fail_fmt(uint32_t id, void *arg)
{
	GUEST_FAIL("value %#lx at %lu", 0xdeadULL, 7ULL);
}

/* ---- host handlers ---- */

/*
 * kmmu_vcpu_flush_guest_tlb() on the vCPU's own thread: 1 if the control
 * registers and the segments are as they were before it (CR4.PGE back).
 */
static uint64_t h_flush(struct kmmu_vcpu *vcpu, uint64_t v, void *ctx)
{
	struct kvm_sregs a, b;

	if (ioctl(kmmu_vcpu_fd(vcpu), KVM_GET_SREGS, &a) || kmmu_vcpu_flush_guest_tlb(vcpu) ||
	    ioctl(kmmu_vcpu_fd(vcpu), KVM_GET_SREGS, &b))
		return 0;
	return a.cr0 == b.cr0 && a.cr3 == b.cr3 && a.cr4 == b.cr4 && a.efer == b.efer &&
	       !memcmp(&a.cs, &b.cs, sizeof(a.cs)) && !memcmp(&a.ss, &b.ss, sizeof(a.ss)) &&
	       !memcmp(&a.tr, &b.tr, sizeof(a.tr)) && a.gdt.base == b.gdt.base;
}

static uint64_t h_double(struct kmmu_vcpu *vcpu, uint64_t v, void *ctx)
{
	return 2 * v;
}

static int h_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		  bool is_write, void *ctx)
{
	FIXTURE_DATA(rt) *self = ctx;
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL;

	if (is_write) {
		memcpy(&self->mmio_last, data, 8);
		__atomic_fetch_add(&self->mmio_writes, 1, __ATOMIC_RELAXED);
	} else {
		memcpy(data, &v, len > 8 ? 8 : len);
		__atomic_fetch_add(&self->mmio_reads, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

struct slot_ctx {
	struct kmmu_vm *vm;
	int deleted;
};

static uint64_t h_delete(struct kmmu_vcpu *vcpu, uint64_t v, void *ctx)
{
	struct slot_ctx *s = ctx;

	s->deleted = kmmu_slot_delete(s->vm, RT_SLOT) == 0;
	return 0;
}

static int h_mmio_plain(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
			bool is_write, void *ctx)
{
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL;

	if (!is_write)
		memcpy(data, &v, len > 8 ? 8 : len);
	return 0;
}

/* ---- tests ---- */

KMMU_TEST_F(rt, sync_on_every_vcpu, TEST_TIMEOUT_DEFAULT)
{
	struct kmmu_vm_handlers h = { .sync = h_double };
	struct kmmu_vcpu_counts cnt;
	int i;

	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_sync, NULL);
	kmmu_vm_wait(self->run.vm, 20);
	for (i = 0; i < kmmu_vm_nr_vcpus(self->run.vm); i++) {
		ASSERT_EQ(KMMU_VCPU_DONE, kmmu_vcpu_status(kmmu_vm_vcpu(self->run.vm, i)));
		kmmu_vcpu_counts(kmmu_vm_vcpu(self->run.vm, i), &cnt);
		ASSERT_EQ(11, cnt.ucalls);	/* 10 syncs + done */
	}
}

/* Every vCPU flushed between its syncs, and it goes on where it was. */
KMMU_TEST_F(rt, flush_guest_tlb_keeps_state, TEST_TIMEOUT_DEFAULT)
{
	struct kmmu_vm_handlers h = { .sync = h_flush };

	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_flush, NULL);
	kmmu_vm_wait(self->run.vm, 20);
}

KMMU_TEST_F(rt, assert_is_reported_with_file_and_values, TEST_TIMEOUT_DEFAULT)
{
	kmmu_vm_start(self->run.vm, g_assert, NULL);
	ASSERT_EQ(-EIO, __kmmu_vm_wait(self->run.vm, 20));
	ASSERT_NE(NULL, strstr(kmmu_vm_errors(self->run.vm), "guest_runtime_test.c:"))
		TH_LOG("%s", kmmu_vm_errors(self->run.vm));
	ASSERT_NE(NULL, strstr(kmmu_vm_errors(self->run.vm), "one == 2 (0x1 vs 0x2)"))
		TH_LOG("%s", kmmu_vm_errors(self->run.vm));
}

KMMU_TEST_F(rt, fail_format_is_expanded, TEST_TIMEOUT_DEFAULT)
{
	kmmu_vm_start(self->run.vm, g_fail_fmt, NULL);
	ASSERT_EQ(-EIO, __kmmu_vm_wait(self->run.vm, 20));
	ASSERT_NE(NULL, strstr(kmmu_vm_errors(self->run.vm), "value 0xdead at 7"))
		TH_LOG("%s", kmmu_vm_errors(self->run.vm));
}

KMMU_TEST_F(rt, crash_is_reported_with_rip, TEST_TIMEOUT_DEFAULT)
{
	kmmu_vm_start(self->run.vm, g_crash, NULL);
	ASSERT_EQ(-EIO, __kmmu_vm_wait(self->run.vm, 20));
	ASSERT_NE(NULL, strstr(kmmu_vm_errors(self->run.vm), "SHUTDOWN"))
		TH_LOG("%s", kmmu_vm_errors(self->run.vm));
	ASSERT_NE(NULL, strstr(kmmu_vm_errors(self->run.vm), "RIP="));
	TH_LOG("%.400s", kmmu_vm_errors(self->run.vm));
}

static int h_expected_shutdown(struct kmmu_vcpu *vcpu, uint32_t reason, void *ctx)
{
	FIXTURE_DATA(rt) *self = ctx;

	if (reason != KVM_EXIT_SHUTDOWN)
		return -1;
	__atomic_fetch_add(&self->mmio_reads, 1, __ATOMIC_RELAXED);	/* here: shutdowns */
	return 0;
}

/* A test that expects its guest to crash takes the SHUTDOWN: stopped, not failed. */
KMMU_TEST_F(rt, expected_crash_is_the_tests, TEST_TIMEOUT_DEFAULT)
{
	struct kmmu_vm_handlers h = { .exit = h_expected_shutdown, .ctx = self };

	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_crash, NULL);
	ASSERT_EQ(-EIO, __kmmu_vm_wait(self->run.vm, 20));	/* no vCPU is DONE */
	ASSERT_FALSE(kmmu_vm_failed(self->run.vm)) TH_LOG("%s", kmmu_vm_errors(self->run.vm));
	ASSERT_EQ(kmmu_vm_nr_vcpus(self->run.vm), self->mmio_reads);
	ASSERT_EQ(KMMU_VCPU_STOPPED, kmmu_vcpu_status(kmmu_vm_vcpu(self->run.vm, 0)));
}

static int h_mmio_ends(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		       bool is_write, void *ctx)
{
	FIXTURE_DATA(rt) *self = ctx;

	__atomic_fetch_add(&self->mmio_writes, 1, __ATOMIC_RELAXED);
	return 1;
}

/* An MMIO handler returning > 0 stops its vCPU at that exit, without a failure. */
KMMU_TEST_F(rt, mmio_handler_stops_a_vcpu, TEST_TIMEOUT_DEFAULT)
{
	struct kmmu_vm_handlers h = { .mmio = h_mmio_ends, .ctx = self };

	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_mmio, NULL);
	ASSERT_EQ(-EIO, __kmmu_vm_wait(self->run.vm, 20));
	ASSERT_FALSE(kmmu_vm_failed(self->run.vm)) TH_LOG("%s", kmmu_vm_errors(self->run.vm));
	/* Each vCPU's first store, and not its load after it. */
	ASSERT_EQ(kmmu_vm_nr_vcpus(self->run.vm), self->mmio_writes);
}

/*
 * With KVM_CAP_EXIT_ON_EMULATION_FAILURE, an instruction KVM cannot emulate
 * at CPL3 exits to userspace (handle_emulation_failure() in x86.c) as
 * KVM_EXIT_INTERNAL_ERROR, suberror KVM_INTERNAL_ERROR_EMULATION, with the
 * instruction's bytes in data[1..2] and RIP still on the instruction; the
 * report must say all of that.  (Without the cap VMX and SVM queue a #UD,
 * which ends in a SHUTDOWN here; PVM hosts exit the same way either way.)
 */
KMMU_TEST_F(rt, emulation_failure_is_reported_with_instruction, TEST_TIMEOUT_DEFAULT)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = { 1 },
	};
	unsigned long long word[16];
	const char *err, *p;
	char rip[40], *end;
	int n = 0;

	if (kmmu_kvm_cap(kmmu_vm_fd(self->run.vm), KVM_CAP_EXIT_ON_EMULATION_FAILURE) <= 0)
		SKIP(return, "KVM_CAP_EXIT_ON_EMULATION_FAILURE not supported: without it the failure is a #UD in the guest");
	ASSERT_EQ(0, ioctl(kmmu_vm_fd(self->run.vm), KVM_ENABLE_CAP, &cap));
	kmmu_vm_start(self->run.vm, g_addps_mmio, NULL);
	ASSERT_EQ(-EIO, __kmmu_vm_wait(self->run.vm, 20));
	err = kmmu_vm_errors(self->run.vm);
	TH_LOG("%.700s", err);
	ASSERT_NE(NULL, strstr(err, "vcpu 0: KVM_EXIT_INTERNAL_ERROR suberror 1 (EMULATION) data["));
	ASSERT_NE(NULL, strstr(err, "; instruction bytes: 0f 58 07"));
	snprintf(rip, sizeof(rip), "RIP=%#llx ", (unsigned long long)(uintptr_t)rt_addps_mmio);
	ASSERT_NE(NULL, strstr(err, rip));

	/* The raw words: data[0] flags the bytes, data[1] is size then bytes. */
	p = strstr(strstr(err, "data["), "]:") + 2;
	while (n < 16) {
		word[n] = strtoull(p, &end, 16);
		if (end == p)
			break;
		n++;
		p = end;
	}
	ASSERT_LE(3, n);
	ASSERT_TRUE(word[0] & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES);
	ASSERT_LE(3, word[1] & 0xff);
	ASSERT_EQ(0x07580f, (word[1] >> 8) & 0xffffff);
}

KMMU_TEST_F(rt, mmio_on_unbacked_gpa, TEST_TIMEOUT_DEFAULT)
{
	struct kmmu_vm_handlers h = { .mmio = h_mmio, .ctx = self };

	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_mmio, NULL);
	kmmu_vm_wait(self->run.vm, 20);
	ASSERT_EQ(4, self->mmio_writes);
	ASSERT_EQ(4, self->mmio_reads);
	ASSERT_EQ(0xabcdef, self->mmio_last);
}

KMMU_TEST_F(rt, memslot_errno_and_delete, TEST_TIMEOUT_DEFAULT)
{
	struct slot_ctx s = { .vm = self->run.vm };
	struct kmmu_vm_handlers h = { .sync = h_delete, .mmio = h_mmio_plain, .ctx = &s };
	uint8_t *m = self->mem.hva;
	uint64_t v = 0xfeed;

	memcpy(m + 0x1000, &v, 8);
	kmmu_slot_add(self->run.vm, RT_SLOT, RT_SLOT_GPA, 2 << 20, m, 0);
	/* Overlap with an existing slot: KVM's own -EEXIST. */
	ASSERT_EQ(-EEXIST, __kmmu_slot_add(self->run.vm, RT_SLOT + 1, RT_SLOT_GPA + 4096, 4096,
					   m + 4096, 0));
	/* Unaligned size: KVM's -EINVAL. */
	ASSERT_EQ(-EINVAL, __kmmu_slot_add(self->run.vm, RT_SLOT + 1, RT_SLOT_GPA + (4 << 20), 100,
					   m, 0));
	/* The runtime guards its own slots and the hypercall page. */
	ASSERT_EQ(-EPERM, kmmu_slot_delete(self->run.vm, KMMU_SLOT_SYS));
	ASSERT_EQ(-EADDRNOTAVAIL, __kmmu_slot_add(self->run.vm, RT_SLOT + 1, KMMU_HYPERCALL_GPA,
						  4096, m, 0));
	/* Slot id beyond KVM_CAP_NR_MEMSLOTS: KVM's -EINVAL. */
	ASSERT_EQ(-EINVAL, __kmmu_slot_add(self->run.vm, kmmu_vm_nr_slots(self->run.vm) + 5,
					   RT_SLOT_GPA + (8 << 20), 4096, m, 0));
	ASSERT_EQ(m + 0x1008, kmmu_vm_gpa_to_hva(self->run.vm, RT_SLOT_GPA + 0x1008));

	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_slot, NULL);
	kmmu_vm_wait(self->run.vm, 20);
	ASSERT_TRUE(s.deleted);
	memcpy(&v, m + 0x1008, 8);
	ASSERT_EQ(0xbeef, v);	/* the guest's store reached the backing */
}

KMMU_TEST_F(rt, sse_at_cpl3, TEST_TIMEOUT_DEFAULT)
{
	kmmu_vm_start(self->run.vm, g_sse, NULL);
	kmmu_vm_wait(self->run.vm, 20);
}

KMMU_TEST_F(rt, binary_stats, TEST_TIMEOUT_DEFAULT)
{
	struct kmmu_vm_handlers h = { .sync = h_double };
	struct kmmu_stats vs, cs;
	uint64_t v;
	int r;

	if (kmmu_kvm_cap(kmmu_vm_fd(self->run.vm), KVM_CAP_BINARY_STATS_FD) <= 0)
		SKIP(return, "KVM_CAP_BINARY_STATS_FD not supported");
	ASSERT_EQ(0, kmmu_stats_open(&vs, kmmu_vm_fd(self->run.vm)));
	ASSERT_EQ(0, kmmu_stats_open(&cs, kmmu_vcpu_fd(kmmu_vm_vcpu(self->run.vm, 0))));
	kmmu_vm_set_handlers(self->run.vm, &h);
	kmmu_vm_start(self->run.vm, g_sync, NULL);
	kmmu_vm_wait(self->run.vm, 20);
	ASSERT_GT(kmmu_stats_count(&vs), 0);
	r = kmmu_stats_get(&vs, "pages_4k", &v);
	ASSERT_EQ(0, r);
	TH_LOG("vm %s: pages_4k %llu", vs.id, (unsigned long long)v);
	r = kmmu_stats_get(&cs, "pf_fixed", &v);
	ASSERT_EQ(0, r);
	ASSERT_GT(v, 0);	/* the guest touched its stack, image, ucall page */
	r = kmmu_stats_get(&cs, "exits", &v);
	ASSERT_EQ(0, r);
	ASSERT_GE(v, 11);
	kmmu_stats_close(&vs);
	kmmu_stats_close(&cs);
}

int main(int argc, char **argv)
{
	struct kmmu_run_opts run = { .cli = { kmmu_usage_no_options, NULL } };
	char why[256];
	int fd;

	kmmu_run_parse(&run, "guest_runtime_test", &argc, argv);
	fd = kmmu_kvm_open(why, sizeof(why));
	if (fd < 0) {
		ksft_print_header();
		ksft_exit_skip("%s\n", why);
	}
	close(fd);
	return test_harness_run(argc, argv);
}
