/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Typed records of what the kernel did (KVM tracepoints, decoded from the
 * running kernel's event formats) and of what the test did (its action log),
 * on one clock: the trace instance uses trace_clock "mono", the same clock as
 * CLOCK_MONOTONIC, so kernel events and actions sort into one history.
 *
 * A record is a fixed 64 bytes so that trace files can be read and replayed
 * at memory speed; fields mirror the tracepoints' own (arch/x86/kvm/mmu/
 * mmutrace.h, include/trace/events/kvm.h).
 */
#ifndef KMMU_TRACE_RECORD_H
#define KMMU_TRACE_RECORD_H

#include <stddef.h>
#include <stdint.h>

enum kmmu_rec_type {
	KMMU_REC_NONE = 0,
	/* kernel events */
	KMMU_EV_SET_SPTE,		/* kvmmmu:kvm_mmu_set_spte */
	KMMU_EV_SPTE_REQUESTED,		/* kvmmmu:kvm_mmu_spte_requested */
	KMMU_EV_GET_PAGE,		/* kvmmmu:kvm_mmu_get_page */
	KMMU_EV_PREPARE_ZAP_PAGE,	/* kvmmmu:kvm_mmu_prepare_zap_page */
	KMMU_EV_ZAP_ALL_FAST,		/* kvmmmu:kvm_mmu_zap_all_fast */
	KMMU_EV_MARK_MMIO_SPTE,		/* kvmmmu:mark_mmio_spte */
	KMMU_EV_CHECK_MMIO_SPTE,	/* kvmmmu:check_mmio_spte */
	KMMU_EV_HANDLE_MMIO_PAGE_FAULT,	/* kvmmmu:handle_mmio_page_fault */
	KMMU_EV_FAST_PAGE_FAULT,	/* kvmmmu:fast_page_fault */
	KMMU_EV_MMIO,			/* kvm:kvm_mmio */
	KMMU_EV_PAGE_FAULT,		/* kvm:kvm_page_fault */
	KMMU_EV_AGE_HVA,		/* kvm:kvm_age_hva */
	KMMU_EV_TEST_AGE_HVA,		/* kvm:kvm_test_age_hva */
	KMMU_EV_UNMAP_HVA_RANGE,	/* kvm:kvm_unmap_hva_range */
	KMMU_EV_USERSPACE_EXIT,		/* kvm:kvm_userspace_exit */
	KMMU_EV_MARKER,			/* ftrace:print (trace_marker), for tests */
	KMMU_EV_SYS_ENTER,		/* raw_syscalls:sys_enter, for tests */
	/* Appended: trace files store these numbers. */
	KMMU_EV_SPTE_CHANGED,		/* kvmmmu:kvm_tdp_mmu_spte_changed */
	KMMU_EV_SPLIT_HUGE_PAGE,	/* kvmmmu:kvm_mmu_split_huge_page */
	KMMU_EV_DAMON_AGGREGATED,	/* damon:damon_aggregated (the DAMON driver) */
	/*
	 * The shadow MMU's SPTE clears, which no tracepoint shows: dynamic
	 * kprobe events on mmu.c (tracing/kprobes.c), read at the function's
	 * entry, so the SPTE is the one it is about to clear.
	 */
	KMMU_EV_SHADOW_SPTE_CLEAR,	/* mmu_spte_clear_track_bits(kvm, sptep) */
	KMMU_EV_SHADOW_SPTE_AGE,	/* mmu_spte_age(sptep) (6.1; inlined in many builds) */
	KMMU_EV_NR_KERNEL,

	/* the test's action log */
	KMMU_ACT_SET_MEMSLOT = 64,	/* a KVM_SET_USER_MEMORY_REGION and its result */
	KMMU_ACT_GUEST_ACCESS,		/* a guest access and what the guest observed */
	KMMU_ACT_MMIO_EXIT,		/* a KVM_EXIT_MMIO the host handled */
	KMMU_ACT_AGE_REQUEST,		/* the test asked for aging of an hva range */
	KMMU_ACT_VM_CREATE,		/* the VM exists from here on */
	KMMU_ACT_STATS,			/* the kernel's page stats of the test's VMs */
	KMMU_ACT_HOST,			/* the KVM backend and MMU the run had */
	KMMU_ACT_IDLE,			/* the guest leaves a gpa range idle from now */
	KMMU_ACT_VM_CLOSE,		/* the VMM closed a VM's fd (vm.id): its last ioctl */
	/* Appended: trace files store these numbers. */
	KMMU_ACT_GET_DIRTY_LOG,		/* a KVM_GET_DIRTY_LOG and its result (dirty_log) */
	KMMU_ACT_CLEAR_DIRTY_LOG,	/* a KVM_CLEAR_DIRTY_LOG and its result (dirty_log) */
	KMMU_ACT_DIRTY_LOG_PROTECT,	/* KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) */
	KMMU_REC_TYPE_MAX,
};

/* kmmu_trace_record.host.backend */
enum kmmu_host_backend {
	KMMU_HOST_UNKNOWN,
	KMMU_HOST_VMX,			/* EPT SPTE format */
	KMMU_HOST_SVM,			/* NPT: the x86 page-table format */
	KMMU_HOST_PVM,
};

/* kmmu_trace_record.host.kprobes and .kprobes_inlined: the shadow MMU's kprobe events */
#define KMMU_KPROBE_SPTE_CLEAR	0x1	/* KMMU_EV_SHADOW_SPTE_CLEAR */
#define KMMU_KPROBE_SPTE_AGE	0x2	/* KMMU_EV_SHADOW_SPTE_AGE */

/* kmmu_trace_record.protect_cap.flags (KVM's, include/uapi/linux/kvm.h) */
#define KMMU_DIRTY_LOG_MANUAL_PROTECT	0x1	/* KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE */
#define KMMU_DIRTY_LOG_INITIALLY_SET	0x2	/* KVM_DIRTY_LOG_INITIALLY_SET */

/* kmmu_trace_record.stats.flags: SPTE changes the trace may not hold */
#define KMMU_STATS_NX_RECOVERY	0x1	/* kvm.nx_huge_pages on: its kthread zaps untraced */
#define KMMU_STATS_OTHERS_UNKNOWN 0x2	/* other tasks' notifier calls were not captured */

/* How a guest access ended, as the guest or host saw it. */
enum kmmu_access_outcome {
	KMMU_ACCESS_RAM,		/* completed against memory */
	KMMU_ACCESS_MMIO,		/* exited to the host as MMIO */
};

struct kmmu_trace_record {
	uint64_t ts;		/* ns on the trace clock (CLOCK_MONOTONIC) */
	uint16_t type;		/* enum kmmu_rec_type */
	uint16_t cpu;
	int32_t pid;
	union {
		struct {
			uint64_t gfn, spte, sptep;
			uint8_t level;
		} set_spte;
		struct {
			uint64_t gfn, pfn;
			uint8_t level;
		} spte_requested;
		struct {			/* get_page and prepare_zap_page */
			uint64_t gfn;
			uint32_t role;		/* union kvm_mmu_page_role word */
			uint32_t root_count;
			uint8_t mmu_valid_gen;
			uint8_t unsync;
			uint8_t created;	/* get_page only */
		} sp;
		struct {
			uint32_t used_pages;
			uint8_t mmu_valid_gen;
		} zap_all_fast;
		struct {
			uint64_t sptep, gfn;
			uint32_t access, gen;
		} mark_mmio;
		struct {
			uint64_t spte;
			uint32_t kvm_gen, spte_gen;
		} check_mmio;
		struct {
			uint64_t addr, gfn;
			uint32_t access;
		} mmio_pf;
		struct {
			uint64_t gpa, error_code, sptep, old_spte, new_spte;
			int32_t vcpu_id, ret;
		} fast_pf;
		struct {
			uint64_t gpa, val;
			uint32_t type, len;	/* KVM_TRACE_MMIO_{READ_UNSATISFIED,READ,WRITE} */
		} mmio;
		struct {
			uint64_t address, error_code, rip;
			uint32_t vcpu_id;
		} page_fault;
		struct {
			uint64_t start, end;
			/*
			 * Another task's notifier call, from an all-process
			 * capture whose SPTE changes the trace lacks.
			 */
			uint8_t untraced;
		} hva_range;			/* age_hva, unmap_hva_range, age request */
		struct {
			uint64_t hva;
		} test_age;
		struct {
			uint32_t reason;
			int32_t err;
		} uexit;
		struct {
			uint64_t start_ts;	/* when the ioctl was issued; ts: returned */
			uint64_t gpa, size, hva;
			uint32_t slot, flags;	/* slot = as_id << 16 | id */
			int32_t ret;		/* 0 or -errno */
			uint32_t vm;		/* its VM's vm.id; 0: unknown (one VM) */
		} memslot;
		struct {
			uint64_t start_ts;	/* when the ioctl was issued; ts: returned */
			/* CLEAR_DIRTY_LOG's pages, from the slot's first; 0 for GET */
			uint64_t first_page;
			uint32_t num_pages;
			uint32_t slot;		/* as_id << 16 | id */
			int32_t ret;		/* 0 or -errno */
			uint32_t vm;		/* its VM's vm.id; 0: unknown (one VM) */
		} dirty_log;			/* GET_DIRTY_LOG and CLEAR_DIRTY_LOG */
		struct {
			uint64_t start_ts;	/* when the ioctl was issued; ts: returned */
			/* args[0]: KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, _INITIALLY_SET */
			uint64_t flags;
			int32_t ret;		/* 0 or -errno */
			uint32_t vm;		/* its VM's vm.id; 0: unknown (one VM) */
		} protect_cap;			/* DIRTY_LOG_PROTECT */
		struct {
			uint64_t gpa, value;
			uint32_t vcpu;
			uint8_t write;
			uint8_t outcome;	/* enum kmmu_access_outcome */
			uint8_t len;
		} access;
		struct {
			uint64_t value;		/* first 8 bytes of the marker text */
		} marker;
		struct {
			uint64_t id;
		} sys_enter;
		struct {
			uint32_t nr_address_spaces;	/* KVM_CAP_MULTI_ADDRESS_SPACE */
			/*
			 * The VM's number in the trace, 1, 2, ... in the order
			 * of creation (the ioctl interposer's); 0: unknown, the
			 * trace is of one VM at a time as far as it tells.
			 */
			uint32_t id;
		} vm;				/* VM_CREATE and VM_CLOSE */
		struct {
			uint64_t gfn, old_spte, new_spte;
			uint8_t level, as_id;
		} spte_changed;
		struct {
			/*
			 * The SPTE's kernel (direct map) address, and the
			 * direct map's base, page_offset_base (0: the
			 * kernel has no such symbol, the base is 4-level
			 * paging's): kvm_mmu_set_spte names an SPTE by its
			 * physical address (virt_to_phys()).
			 */
			uint64_t sptep, page_offset;
			uint64_t old_spte;	/* its value at the probe */
		} shadow_spte;			/* SHADOW_SPTE_CLEAR and _AGE */
		struct {
			uint64_t gfn, spte;	/* the huge SPTE that was split */
			int32_t err;		/* 0: split */
			uint8_t level;		/* its level */
		} split;
		struct {
			uint64_t target_id, start, end;	/* a region of a target */
			uint32_t nr_regions;	/* the target's, this aggregation */
			uint32_t nr_accesses, age;	/* age 0 before 5.17 */
			uint8_t lost_before;	/* the kernel lost events just before */
		} damon;
		struct {
			uint64_t start_ts;	/* reading began; ts: it ended */
			uint64_t pages[3];	/* pages_4k, pages_2m, pages_1g */
			uint32_t nr_vms;	/* VMs summed (events carry no VM) */
			uint32_t flags;		/* KMMU_STATS_* */
			/*
			 * The one VM read, by its vm.id (the ioctl interposer
			 * reads each VM's before its close); 0: not numbered,
			 * the sum over every VM of the process (a session's),
			 * or a trace file older than the field.
			 */
			uint32_t vm;
		} stats;
		struct {
			uint8_t backend;	/* enum kmmu_host_backend */
			int8_t tdp, tdp_mmu;	/* 1, 0, -1 unknown */
			/*
			 * KMMU_KPROBE_* events the capture had, and those it
			 * could not have because the kernel has no symbol of
			 * their function (inlined); 0 in older trace files.
			 */
			uint8_t kprobes, kprobes_inlined;
		} host;
		struct {
			uint64_t gpa, size;
		} idle;
		uint8_t raw[48];
	};
};

_Static_assert(sizeof(struct kmmu_trace_record) == 64, "trace files rely on 64-byte records");

/* "kvm_mmu_set_spte", "set_memslot", ...; "unknown" for anything else. */
const char *kmmu_rec_type_name(unsigned int type);
static inline int kmmu_rec_is_action(unsigned int type)
{
	return type >= KMMU_ACT_SET_MEMSLOT && type < KMMU_REC_TYPE_MAX;
}
static inline int kmmu_rec_type_valid(unsigned int type)
{
	return (type > KMMU_REC_NONE && type < KMMU_EV_NR_KERNEL) || kmmu_rec_is_action(type);
}

/*
 * Starts an action record of @type: zeroed, stamped with now (the trace
 * clock), the calling thread and CPU.  The caller fills in the fields and
 * appends it (kmmu_trace_log_append).
 */
void kmmu_rec_stamp(struct kmmu_trace_record *rec, unsigned int type);

/*
 * The record of a dirty-log ioctl that was issued at @start_ts and has just
 * returned @ret (0 or -errno), stamped now: KMMU_ACT_GET_DIRTY_LOG or
 * KMMU_ACT_CLEAR_DIRTY_LOG (@type) of @slot (as_id << 16 | id), pages
 * [@first_page, +@num_pages) for CLEAR; @vm its VM's number, 0 if unknown.
 * The one builder of both kmmu's runtime and the ioctl interposer.
 */
void kmmu_rec_dirty_log(struct kmmu_trace_record *rec, unsigned int type, uint32_t vm,
			uint64_t start_ts, uint32_t slot, uint64_t first_page, uint32_t num_pages,
			int ret);
/* ... and of KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) with args[0] @flags. */
void kmmu_rec_protect_cap(struct kmmu_trace_record *rec, uint32_t vm, uint64_t start_ts,
			  uint64_t flags, int ret);

/* One human-readable line for @rec (no newline) into @buf. */
int kmmu_rec_format(const struct kmmu_trace_record *rec, char *buf, size_t len);

#endif
