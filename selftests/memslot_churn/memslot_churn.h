/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memslot_churn_test, one program in four files (what it tests and why it
 * is judged so: the head comment of selftests/memslot_churn_test.c):
 *
 *   memslot_churn_test.c       the harness: the fixture, the verdicts, main()
 *   memslot_churn/slots.c       the guest, the MMIO exit handler, the memslot
 *                               operations
 *   memslot_churn/host_unmap.c  --host-unmap's thread and its verification
 *   memslot_churn/report.c      KVM stats, totals, the lines printed, the result
 *
 * The kselftest harness can be in one file of a program only (it defines
 * its runner there), so the other files return 0 or -errno with the reason;
 * every ASSERT is memslot_churn_test.c's.
 */
#ifndef KMMU_MEMSLOT_CHURN_H
#define KMMU_MEMSLOT_CHURN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmmu/host_thread.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/result.h"
#include "kmmu/slot_exit.h"
#include "kmmu/slot_state.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_session.h"

#define CH_MAX_SLOTS	32768		/* 15 bits of slot index in a pattern */
#define CH_RO		0x4ULL
#define CH_DIRTY	0x8ULL
#define CH_UNMAP_MAX_PAGES 8		/* pages per host unmap, at most */
#define CH_UNMAP_MAX_RATE 1000000	/* --host-unmap, per second */

/* Per-vCPU counters in shared memory. */
struct ch_vcpu_shared {
	struct kmmu_ss_vcpu ss;
	uint64_t pad[7];
};

struct ch_shared {
	uint64_t stop;
	uint64_t nr_slots;
	uint64_t nr_vcpus;
	uint64_t seed;
	uint64_t home_gva, alt_gva;
	uint64_t state_gva;	/* uint64_t[nr_slots] */
	uint64_t exp_gva;	/* uint32_t[nr_vcpus][nr_slots], guest-private */
	struct ch_vcpu_shared vcpu[KMMU_MAX_VCPUS];
};

enum ch_op_kind { CH_OP_NONE, CH_OP_CREATE, CH_OP_DELETE, CH_OP_MOVE, CH_OP_FLAGS };

struct ch_opts {
	int vcpus;
	long slots;
	long ops;
	double duration;
	uint64_t seed;
	enum kmmu_backing backing;
	long host_unmap;	/* unmaps per second, 0: none */
	int numa_node;		/* the churned slots' backing bound here, or -1 */
	const char *result;
	/*
	 * $KMMU_CHURN_INJECT, to show that the test catches the bugs it is
	 * about: "stale-delete" publishes every 50th delete without doing it
	 * (a slot that should be gone keeps working), "phantom-add" publishes
	 * every 50th create without doing it (a present slot exits as MMIO),
	 * "lost-write" flips a word in the backing behind the guest's back
	 * once, mid-run, "unmap-anon" runs --host-unmap on anonymous memory,
	 * where MADV_DONTNEED drops the data (what the refusal prevents).
	 */
	const char *inject;
};

#define CH_NR_VM_STATS 8	/* report.c: ch_vm_stats[] */
#define CH_NR_VCPU_STATS 5	/* report.c: ch_vcpu_stats[] */
#define CH_NR_STATS (CH_NR_VM_STATS + CH_NR_VCPU_STATS)

/* An madvised hva range [start, end), or one kvm_unmap_hva_range saw. */
struct ch_range {
	uint64_t start, end;
};

struct ch_ctx {
	struct kmmu_stats vm_stats, vcpu_stats[KMMU_MAX_VCPUS];
	bool stats_open;
	bool stat_found[CH_NR_STATS];
	uint64_t stat_value[CH_NR_STATS];	/* delta, or final value if instant */
	struct ch_shared *sh;
	struct kmmu_ss_host ss;	/* the state words (ss.state: host view) */
	uint32_t *exp;
	bool *frozen;		/* slots an injected bug left alone */
	double churn_s;		/* the churn loop alone: what tracing may slow down */
	uint64_t home_gpa, alt_gpa, region;
	uint64_t mmio_exits[KMMU_MAX_VCPUS];
	long creates, deletes, moves, flag_changes;
	bool readonly_ok;
	_Atomic uint64_t churn_slot;	/* slot of the latest memslot ioctl */

	/* --host-unmap: the thread, what it did, and what KVM saw of it. */
	uint8_t *backing;
	struct kmmu_host_thread unmapper;
	int unmap_err;			/* errno of a failed madvise */
	long unmaps, unmap_pages, unmaps_raced;
	double unmap_s;			/* the thread's running time */
	uint32_t *unmap_count;		/* per slot, for failure reports */
	uint64_t *unmap_last_ns;	/* per slot, since ss.t0 */
	struct ch_range *ranges;	/* every madvised range, when verified */
	size_t nr_ranges, cap_ranges;
	bool record_ranges, ranges_oom;
	struct kmmu_trace_capture *ucap;	/* kvm:kvm_unmap_hva_range only */
	struct kmmu_trace_log ulog;
	bool ulog_init;
	bool unmap_verified;
	long unmap_events;		/* events inside the backing */
	char unmap_why[160];		/* why not verified */
};


/* What the vCPUs did, summed over them. */
struct ch_totals {
	struct kmmu_ss_vcpu ss;		/* the guest's counters */
	long long mmio;			/* the MMIO exits the host saw */
};

extern const char *const ch_op_names[];

/* memslot_churn_test.c: the command line */
extern struct ch_opts ch_opts;

/* slots.c */
void ch_guest(uint32_t v, void *arg);
int ch_state_text(uint64_t s, char *buf, size_t len);
int ch_op_text(const struct kmmu_ss_op *op, char *buf, size_t len);
void ch_set_handlers(struct kmmu_vm *vm, struct ch_ctx *c);
int ch_do_op(struct kmmu_vm *vm, struct ch_ctx *c, uint8_t *backing,
	     uint64_t i, enum ch_op_kind kind, uint64_t want, char *err, size_t len);
int ch_random_op(struct kmmu_vm *vm, struct ch_ctx *c, uint8_t *backing,
		 uint64_t *rng, char *err, size_t len);

/* host_unmap.c */
int ch_unmapper_start(struct ch_ctx *c, bool traced);
void ch_unmapper_stop(struct ch_ctx *c);
int ch_unmap_verify(struct ch_ctx *c, char *err, size_t len);
void ch_unmapper_free(struct ch_ctx *c);

/* report.c */
void ch_stats(struct ch_ctx *c, struct kmmu_vm *vm, bool end);
void ch_totals(const struct ch_ctx *c, struct ch_totals *t);
void ch_print(const struct ch_ctx *c, const struct ch_totals *t, double dur);
void ch_record(struct kmmu_result *res, const struct ch_ctx *c,
	       const struct ch_totals *t, double dur);

#endif
