/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kmmu guest runtime on raw KVM ioctls: a VM whose vCPUs run C code of
 * the test binary at CPL3 (see kmmu/x86.h and kmmu/guest.h for why), each
 * vCPU on its own host thread; memslots; the ucall hypercall; exit reports.
 *
 * Guest physical layout (guest virtual = guest physical unless noted):
 *   KMMU_GPA_IMAGE   slot KMMU_SLOT_IMAGE: copy of the binary's PT_LOAD
 *                    segments, mapped at the host's own addresses (GVA =
 *                    host VA), NX/W per segment
 *   KMMU_GPA_SYS     slot KMMU_SLOT_SYS: GDT, TSS, page tables (unmapped),
 *                    per-vCPU areas (page + guard + stack), shared region
 *   KMMU_HYPERCALL_GPA  never backed, mapped: the hypercall
 *   KMMU_GPA_TEST .. free for tests (below 1 << phys_bits)
 * Slots 0 and 1 belong to the runtime; tests use ids from
 * KMMU_SLOT_FIRST_FREE up to kmmu_vm_nr_slots() - 1.
 *
 * vCPU threads are kicked out of KVM_RUN with SIGUSR1 (handler installed by
 * creating a VM, no SA_RESTART) plus kvm_run.immediate_exit: tests must
 * leave SIGUSR1 alone.  A VM holds no host state beyond its fds and memory,
 * which the kernel releases when the process dies, so a test killed by a
 * signal leaves nothing behind; kmmu_vm_destroy() is for orderly exits.
 *
 * Two tiers, as in the kernel's KVM selftests: the VM's life --
 * __kmmu_vm_create(), __kmmu_slot_add(), __kmmu_vm_map(), __kmmu_vm_start(),
 * __kmmu_vm_wait() -- returns 0 or -errno here; kmmu/kvm_test_harness.h
 * has each without the __ for a test, which fails there with the reason.
 * The other calls return 0 or -errno and have no asserting form yet.
 */
#ifndef KMMU_KVM_VM_H
#define KMMU_KVM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "kmmu/guest.h"
#include "kmmu/host_probe.h"
#include "kmmu/pt.h"
#include "kmmu/ucall.h"

#define KMMU_GPA_IMAGE		0x40000000ULL
#define KMMU_IMAGE_MAX		(KMMU_GPA_SYS - KMMU_GPA_IMAGE)
#define KMMU_GPA_SYS		0x80000000ULL
#define KMMU_SYS_MAX		(KMMU_HYPERCALL_GPA - KMMU_GPA_SYS)
#define KMMU_GPA_TEST		0x100000000ULL

#define KMMU_SLOT_IMAGE		0
#define KMMU_SLOT_SYS		1
#define KMMU_SLOT_FIRST_FREE	2
#define KMMU_RUNTIME_SLOTS	2

#define KMMU_MAX_VCPUS		64

/* ---- host and KVM: the host probe's, kmmu/host_probe.h ---- */

/* ---- guest memory backing ---- */

enum kmmu_backing {
	KMMU_BACKING_ANON,	/* private anonymous */
	KMMU_BACKING_MEMFD,	/* shmem via memfd_create, MAP_SHARED */
};

struct kmmu_mem {
	void *hva;
	size_t size;
	int fd;			/* memfd or -1 */
	enum kmmu_backing backing;
	int node;		/* NUMA node bound with mbind, or -1 */
};

/* Page-aligned, zeroed.  @node >= 0 binds it (MPOL_BIND).  0 or -errno. */
int kmmu_mem_alloc(struct kmmu_mem *m, size_t size, enum kmmu_backing backing,
		   int node);
void kmmu_mem_free(struct kmmu_mem *m);
/*
 * Anonymous memory (MAP_NORESERVE) of @size from a 2 MiB boundary, so
 * that a slot, its GPA and a transparent huge page line up; THP advised
 * if @thp, else refused.  The mapping to munmap() is *@raw, *@raw_size.
 * NULL if mmap failed.
 */
void *kmmu_map_2m_aligned(uint64_t size, bool thp, void **raw, uint64_t *raw_size);

/* ---- VM ---- */

struct kmmu_vm;
struct kmmu_vcpu;

/*
 * Called after every KVM_SET_USER_MEMORY_REGION the runtime issues (its own
 * slots included, so set it at creation) with CLOCK_MONOTONIC ns taken just
 * before the ioctl, the ioctl's arguments and its 0 or -errno.  It is how a
 * test logs its memslot actions for the checker (tracing/) without the
 * runtime knowing about tracing.  Runs on the thread that issued the ioctl.
 */
typedef void (*kmmu_memslot_hook_fn)(void *ctx, uint64_t issued_ns, uint32_t slot,
				     uint32_t flags, uint64_t gpa, uint64_t size,
				     uint64_t hva, int ret);

/* The dirty-log ioctls the dirty-log hook is told of. */
enum kmmu_dirty_log_ioctl {
	KMMU_DIRTY_LOG_GET,		/* KVM_GET_DIRTY_LOG */
	KMMU_DIRTY_LOG_CLEAR,		/* KVM_CLEAR_DIRTY_LOG */
	KMMU_DIRTY_LOG_PROTECT_CAP,	/* KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) */
};

/*
 * Called after every dirty-log ioctl the runtime issues, as the memslot
 * hook is after memslot ioctls (same clock, same thread): the ioctl @which,
 * its @slot, and for CLEAR its pages [@first_page, +@num_pages); for
 * PROTECT_CAP, @first_page is args[0] (the flags) and @slot 0.  @ret: 0
 * or -errno.  The checker judges write protection from these.
 */
typedef void (*kmmu_dirty_log_hook_fn)(void *ctx, uint64_t issued_ns,
				       enum kmmu_dirty_log_ioctl which, uint32_t slot,
				       uint64_t first_page, uint32_t num_pages, int ret);

struct kmmu_vm_opts {
	int nr_vcpus;		/* 1..KMMU_MAX_VCPUS */
	size_t shared_size;	/* bytes for kmmu_vm_alloc_shared() */
	size_t pt_pages;	/* page-table pool, 4K pages (0: 1024) */
	kmmu_memslot_hook_fn memslot_hook;	/* NULL: none */
	void *memslot_hook_ctx;
	kmmu_dirty_log_hook_fn dirty_log_hook;	/* NULL: none */
	void *dirty_log_hook_ctx;
	/*
	 * Entries of each vCPU's dirty ring (KVM_CAP_DIRTY_LOG_RING_ACQ_REL,
	 * else KVM_CAP_DIRTY_LOG_RING), a power of two; 0: no ring.  KVM
	 * takes it only between VM and vCPU creation, so it is an option of
	 * creation.  Without a dirty ring in KVM, __kmmu_vm_create() fails with
	 * -EOPNOTSUPP.
	 */
	uint32_t dirty_ring_entries;
};

/*
 * vCPU-thread callbacks (they run on the vCPU's thread, concurrently for
 * different vCPUs).  A handler reports a test failure with kmmu_vcpu_fail().
 *
 * mmio: a KVM_EXIT_MMIO that is not the hypercall.  Fill @data for reads.
 *       Return 0 to resume the guest, < 0 to stop this vCPU as failed
 *       (kmmu_vcpu_fail() first to say why), > 0 to stop it without a
 *       failure (the exit was the test's expected end of the guest).
 * sync: GUEST_SYNC(value); the return value is the guest's result.
 * fail_context: a guest ASSERT/FAIL is being reported; append context
 *       (e.g. what the test was doing) to @buf.
 * pre_run: called before every KVM_RUN.
 * run_error: KVM_RUN failed with @err (an errno other than EINTR/EAGAIN,
 *       e.g. EFAULT when KVM cannot get a writable page for a guest store
 *       to memory the host made read-only).  Return 0 to enter KVM_RUN
 *       again (the guest retries the access), < 0 to fail the vCPU,
 *       > 0 to stop it without a failure.  NULL: every such error fails
 *       the vCPU.
 * exit: an exit reason the runtime does not handle itself (e.g.
 *       KVM_EXIT_DIRTY_RING_FULL), and before the runtime reports them as
 *       a guest crash, KVM_EXIT_SHUTDOWN and KVM_EXIT_INTERNAL_ERROR.
 *       Return 1 to resume the guest, 0 to stop this vCPU (call
 *       kmmu_vcpu_fail() first for a failure), -1 to have the runtime
 *       report it as it does without a handler.  NULL: -1.
 */
struct kmmu_vm_handlers {
	int (*mmio)(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data,
		    uint32_t len, bool is_write, void *ctx);
	uint64_t (*sync)(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx);
	void (*fail_context)(struct kmmu_vcpu *vcpu, const struct kmmu_ucall_msg *msg,
			     char *buf, size_t len, void *ctx);
	void (*pre_run)(struct kmmu_vcpu *vcpu, void *ctx);
	void *ctx;
	int (*run_error)(struct kmmu_vcpu *vcpu, int err, void *ctx);
	int (*exit)(struct kmmu_vcpu *vcpu, uint32_t exit_reason, void *ctx);
};

/*
 * Creates the VM, the runtime's two memslots, the guest page tables for
 * them, the GDT/TSS, and opts->nr_vcpus vCPUs with CPUID and CPL3 state.
 * 0 or -errno with a message in @err.
 */
int __kmmu_vm_create(struct kmmu_vm **vmp, const struct kmmu_vm_opts *opts,
		     char *err, size_t len);
/* Stops and joins the vCPU threads, closes fds, frees memory.  NULL ok. */
void kmmu_vm_destroy(struct kmmu_vm *vm);

int kmmu_vm_fd(const struct kmmu_vm *vm);
int kmmu_vm_kvm_fd(const struct kmmu_vm *vm);
int kmmu_vm_nr_vcpus(const struct kmmu_vm *vm);
unsigned int kmmu_vm_phys_bits(const struct kmmu_vm *vm);
/* KVM_CAP_NR_MEMSLOTS: total user memslot ids, runtime's included. */
long kmmu_vm_nr_slots(const struct kmmu_vm *vm);
void kmmu_vm_set_handlers(struct kmmu_vm *vm, const struct kmmu_vm_handlers *h);

/*
 * Memslots (KVM_SET_USER_MEMORY_REGION).  Return 0 or the ioctl's -errno.
 * The runtime itself refuses, before any ioctl: the runtime's slot ids
 * (-EPERM) and any range covering the hypercall page (-EADDRNOTAVAIL).
 */
int __kmmu_slot_add(struct kmmu_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
		    void *hva, uint32_t flags);
int kmmu_slot_delete(struct kmmu_vm *vm, uint32_t slot);
int kmmu_slot_move(struct kmmu_vm *vm, uint32_t slot, uint64_t new_gpa);
int kmmu_slot_set_flags(struct kmmu_vm *vm, uint32_t slot, uint32_t flags);
/*
 * KVM_SET_USER_MEMORY_REGION exactly as given (@slot is as_id << 16 | id),
 * without the runtime's refusals above, so that a test can try what KVM
 * must refuse (ids out of range, misaligned or overlapping ranges, sizes
 * KVM does not allow).  Logged through the memslot hook like every other
 * update; when it succeeds, the runtime's slot table follows for the ids
 * it tracks.  0 or the ioctl's -errno.
 */
int kmmu_slot_set_raw(struct kmmu_vm *vm, uint32_t slot, uint32_t flags, uint64_t gpa,
		      uint64_t size, uint64_t hva);
/*
 * Where memslot @slot (the runtime's own ids included) is, as the runtime
 * last set it: 0, or -ENOENT (not in use) or -EINVAL (no such id).  With
 * kmmu_slot_set_raw(), how a test moves or deletes the runtime's slots.
 */
int kmmu_vm_slot_region(struct kmmu_vm *vm, uint32_t slot, uint64_t *gpa, uint64_t *size,
			void **hva);
/* Host view of @gpa in the slot table as the runtime last set it, or NULL. */
void *kmmu_vm_gpa_to_hva(struct kmmu_vm *vm, uint64_t gpa);

/*
 * Guest page tables: map @size bytes at @gva to @gpa (KMMU_MAP_* flags,
 * U at every level).  Only before the first vCPU starts (-EBUSY after:
 * the host cannot change guest page tables behind a shadow MMU).
 */
int __kmmu_vm_map(struct kmmu_vm *vm, uint64_t gva, uint64_t gpa, uint64_t size,
		  unsigned int flags);
/*
 * Maps the guest's level-1 page table that holds @gva's 4K leaf entry at
 * @alias_gva, writable (NX), so that guest code rewrites @gva's mapping
 * with plain stores: entry (@gva >> 12) & 511 of the page at @alias_gva.
 * *@table_gpa (if not NULL): the table's GPA (in the system slot; the
 * host's view is kmmu_vm_gpa_to_hva()).  Before the first vCPU starts
 * (-EBUSY after); -ENOENT if no level-1 table covers @gva (nothing mapped
 * in its 2M yet, or a 2M leaf).  A guest that rewrites its page tables
 * flushes its TLB for the change to take effect: kmmu_vcpu_flush_guest_tlb().
 */
int kmmu_vm_map_page_table(struct kmmu_vm *vm, uint64_t gva, uint64_t alias_gva,
			   uint64_t *table_gpa);
/* Software walk of the guest page tables: GPA, or -ENOENT/-EFAULT. */
int kmmu_vm_gva_to_gpa(struct kmmu_vm *vm, uint64_t gva, uint64_t *gpa);
/*
 * The guest's leaf entry for @gva as it is now in guest memory (a PTE, or
 * the PDE of a 2M page: *@level 1 or 2), with the Accessed and Dirty bits
 * the guest's accesses set in it (the CPU's walker on TDP, KVM's on a
 * shadow MMU).  Read while the vCPUs are stopped or parked in a ucall.
 * 0, -ENOENT or -EFAULT.
 */
int kmmu_vm_guest_leaf(struct kmmu_vm *vm, uint64_t gva, uint64_t *leaf, int *level);

/*
 * Carves @size bytes (page granular) from the shared region: zeroed,
 * mapped writable NX at *@gva.  Returns the host pointer or NULL.
 */
void *kmmu_vm_alloc_shared(struct kmmu_vm *vm, size_t size, uint64_t *gva);
/* Copies the host's current value of an image object into the guest copy. */
int kmmu_vm_sync_global(struct kmmu_vm *vm, const void *addr, size_t size);

/* ---- vCPUs ---- */

enum kmmu_vcpu_status {
	KMMU_VCPU_IDLE,
	KMMU_VCPU_RUNNING,
	KMMU_VCPU_DONE,		/* GUEST_DONE / guest function returned */
	KMMU_VCPU_FAILED,	/* see kmmu_vcpu_error() */
	KMMU_VCPU_STOPPED,	/* kicked out by kmmu_vm_stop() */
};

struct kmmu_vcpu *kmmu_vm_vcpu(struct kmmu_vm *vm, int idx);
int kmmu_vcpu_id(const struct kmmu_vcpu *vcpu);
int kmmu_vcpu_fd(const struct kmmu_vcpu *vcpu);
struct kmmu_vm *kmmu_vcpu_vm(const struct kmmu_vcpu *vcpu);
/* Host view of the vCPU's kmmu_vcpu_page (shared with the guest). */
struct kmmu_vcpu_page *kmmu_vcpu_page(struct kmmu_vcpu *vcpu);
enum kmmu_vcpu_status kmmu_vcpu_status(const struct kmmu_vcpu *vcpu);
const char *kmmu_vcpu_error(const struct kmmu_vcpu *vcpu);
/* From a handler (vCPU thread): mark the vCPU failed with a message. */
void kmmu_vcpu_fail(struct kmmu_vcpu *vcpu, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Registers and segments, one block of text (vCPU thread or stopped vCPU). */
void kmmu_vcpu_describe(struct kmmu_vcpu *vcpu, char *buf, size_t len);
/*
 * Flushes @vcpu's guest TLB as a guest CR4.PGE toggle does (non-global and
 * global translations): KVM_SET_SREGS with CR4.PGE flipped, then as it
 * was.  A CPL3 guest cannot flush its own TLB (INVLPG and MOV CR are
 * privileged); the host can, because KVM_SET_SREGS with a CR3, CR0, CR4 or
 * EFER other than the vCPU's resets its MMU context (6.1 x86.c
 * __set_sregs(): kvm_mmu_reset_context(), which frees the roots): the next
 * entry loads new ones and, with a shadow MMU, syncs every unsync shadow
 * page under them from the guest's page tables (kvm_mmu_load() ->
 * kvm_mmu_sync_roots()), as a guest CR3 load would.  Call it from the
 * vCPU's own thread (a handler) or while it is stopped.  0 or -errno
 * (the vCPU's registers are then as the failed ioctl left them).
 */
int kmmu_vcpu_flush_guest_tlb(struct kmmu_vcpu *vcpu);
/* Exits of kinds the runtime counts. */
struct kmmu_vcpu_counts {
	uint64_t runs, mmio, ucalls, intr;
};
void kmmu_vcpu_counts(const struct kmmu_vcpu *vcpu, struct kmmu_vcpu_counts *c);

/*
 * Starts every vCPU's thread running fn(vcpu_id, arg) in the guest.
 * 0 or -errno (nothing started in that case).
 */
int __kmmu_vm_start(struct kmmu_vm *vm, kmmu_guest_fn fn, void *arg);
/*
 * Waits until every vCPU is DONE (0), any FAILED (-EIO, the others are
 * stopped), or @timeout_s passes (-ETIMEDOUT, all stopped).  Joins.
 */
int __kmmu_vm_wait(struct kmmu_vm *vm, double timeout_s);
/* Kicks every vCPU out of KVM_RUN and joins its thread. */
void kmmu_vm_stop(struct kmmu_vm *vm);
bool kmmu_vm_failed(const struct kmmu_vm *vm);
/* All failure messages, one per line (empty if none). */
const char *kmmu_vm_errors(struct kmmu_vm *vm);

/*
 * ---- dirty logging ----
 *
 * Bitmaps are KVM's: one bit per page of the memslot, bit i % 64 of 64-bit
 * word i / 64 for page i (x86 is little-endian), kmmu_dirty_bitmap_words()
 * words long.  Functions return 0 or the ioctl's -errno: -ENOENT for a
 * slot without dirty logging, -ENXIO where the VM uses a dirty ring.
 */
static inline size_t kmmu_dirty_bitmap_words(uint64_t pages)
{
	return (pages + 63) / 64;
}

/* KVM_ENABLE_CAP on the VM with args[0] = @arg0 (e.g. MANUAL_DIRTY_LOG_PROTECT2). */
int kmmu_vm_enable_cap(struct kmmu_vm *vm, uint32_t cap, uint64_t arg0);
/* KVM_GET_DIRTY_LOG of memslot @slot into @bitmap. */
int kmmu_vm_get_dirty_log(struct kmmu_vm *vm, uint32_t slot, uint64_t *bitmap);
/*
 * KVM_CLEAR_DIRTY_LOG: re-protects the pages [@first_page, @first_page +
 * @num_pages) of @slot whose bit is set in @bitmap, where bit 0 of
 * @bitmap is page @first_page (KVM wants it 64-aligned).
 */
int kmmu_vm_clear_dirty_log(struct kmmu_vm *vm, uint32_t slot, const uint64_t *bitmap,
			    uint64_t first_page, uint32_t num_pages);
/* KVM_RESET_DIRTY_RINGS: the number of entries KVM reset, or -errno. */
int kmmu_vm_reset_dirty_rings(struct kmmu_vm *vm);
/* kmmu_vm_opts.dirty_ring_entries of @vm (0: no ring). */
uint32_t kmmu_vm_dirty_ring_entries(const struct kmmu_vm *vm);

/*
 * Harvests @vcpu's dirty ring: calls @fn(@ctx, slot, offset) for every
 * entry KVM published since the last call, in ring order (slot is
 * as_id << 16 | id, offset the page within the slot), hands each back to
 * KVM as collected and returns how many there were.  KVM re-protects them
 * at the next kmmu_vm_reset_dirty_rings().  One caller at a time per vCPU,
 * on any thread (also while the vCPU runs).  -ENXIO without a ring.
 */
typedef void (*kmmu_dirty_gfn_fn)(void *ctx, uint32_t slot, uint64_t offset);
int kmmu_vcpu_dirty_ring_collect(struct kmmu_vcpu *vcpu, kmmu_dirty_gfn_fn fn, void *ctx);

/* Name of a KVM_EXIT_* reason. */
const char *kmmu_exit_name(uint32_t reason);

#endif
