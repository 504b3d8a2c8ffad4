/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mmio_invalidation_test, one program in four files (what it tests and why
 * it is judged so: the head comment of selftests/mmio_invalidation_test.c):
 *
 *   mmio_invalidation_test.c    the harness: the fixture, the verdicts, main()
 *   mmio_invalidation/cells.c   the guest, the generation model, the MMIO exit
 *                               handler, the memslot ioctl on a cell
 *   mmio_invalidation/phases.c  the flip and the wrap phase
 *   mmio_invalidation/report.c  totals, the lines printed, the result
 *
 * The kselftest harness can be in one file of a program only (it defines
 * its runner there), so the other files return 0 or -errno with the reason;
 * every ASSERT is mmio_invalidation_test.c's.
 */
#ifndef KMMU_MMIO_INVALIDATION_H
#define KMMU_MMIO_INVALIDATION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/result.h"
#include "kmmu/slot_exit.h"
#include "kmmu/slot_state.h"
#include "kmmu/trace_session.h"

#define MI_MAX_CELLS	4096
#define MI_SLEEP	0x4ULL		/* the guest must not touch the cell */

/*
 * arch/x86/kvm/mmu/spte.h MMIO_SPTE_GEN_MASK.  Each swap moves the
 * generation by the VM's number of memslot address spaces: 2 on x86 with
 * SMM (the 6.1 figures above), 1 on a kernel without CONFIG_KVM_SMM, where
 * a wrap takes twice the swaps.  Read from KVM_CAP_MULTI_ADDRESS_SPACE.
 */
#define MI_MMIO_GEN_MASK	((1ULL << 19) - 1)
#define MI_SWAPS_PER_WRAP_SMM	((MI_MMIO_GEN_MASK + 1) / 2)
/* Swaps after the wake point driven by --full-wrap, and the cluster width. */
#define MI_WRAP_WINDOW		2000

#define MI_NO_CELL	(~0ULL)

struct mi_vcpu_shared {
	struct kmmu_ss_vcpu ss;
	uint64_t wake_reads;	/* guest: sleeper reads at the wake */
	uint64_t iters;		/* guest: loop iterations */
	uint64_t woke;		/* guest: the last wake it served */
	uint64_t swept;		/* guest: the last sweep it served */
	uint64_t pad[3];
};

struct mi_shared {
	uint64_t stop;		/* host: end the run after a final sweep */
	uint64_t sweep;		/* host: bump to request a final sweep */
	uint64_t wake;		/* host: bump to request a sleeper sweep */
	uint64_t nr_cells;
	uint64_t seed;
	uint64_t home_gva, alt_gva;
	uint64_t state_gva;	/* uint64_t[nr_cells] */
	uint64_t exp_gva;	/* uint32_t[nr_vcpus][nr_cells], guest-private */
	uint64_t inject_cell;	/* expectation inverted for it (MI_NO_CELL: none) */
	struct mi_vcpu_shared vcpu[KMMU_MAX_VCPUS];
};

enum mi_op_kind { MI_OP_NONE, MI_OP_CREATE, MI_OP_DELETE, MI_OP_MOVE, MI_OP_SLEEP };

struct mi_opts {
	int vcpus;
	long cells;
	long ops;
	long generations;
	bool full_wrap;
	double duration;
	uint64_t seed;
	const char *result;
	const char *inject;	/* $KMMU_MMIO_INJECT */
};

/* What the runtime's memslot hook saw of one slot id (address space 0). */
struct mi_slot_view {
	bool present;
	uint64_t gpa;
	uint32_t flags;
};

struct mi_ctx {
	struct mi_shared *sh;
	struct kmmu_ss_host ss;		/* the state words (ss.state: host view) */
	_Atomic uint64_t *home_exits;	/* MMIO exits at the cell's home place */
	uint64_t mmio_exits[KMMU_MAX_VCPUS];
	uint64_t home_gpa, alt_gpa, scratch_gpa, region;
	uint8_t *backing, *scratch;

	/* The generation model, fed by the memslot hook. */
	struct kmmu_trace_log *log;	/* checker's action log, or NULL */
	struct mi_slot_view *views;
	uint32_t nr_views;
	uint64_t swaps;			/* memslot swaps of address space 0 */
	uint64_t hook_failures, hook_unknown;

	/* Counts. */
	long creates, deletes, moves, toggles;
	long flip_ops;
	uint64_t flip_swaps, wrap_swaps;	/* swaps during each phase */
	uint64_t prime_swaps, wake_swaps;	/* swap counts at prime and wake */
	uint64_t wraps_crossed;
	long sleepers;
	bool woke;
	double flip_s, wrap_s;
	uint64_t swaps_per_wrap;
};

/* What the vCPUs did, summed over them. */
struct mi_totals {
	struct kmmu_ss_vcpu ss;		/* the guest's counters */
	long long mmio;			/* the MMIO exits the host saw */
	long long wake_reads;		/* the sleepers' reads at the wake */
};

/* cells.c */
extern const char *const mi_op_names[];
extern unsigned int mi_nr_as;

/* mmio_invalidation_test.c: the command line */
extern struct mi_opts mi_opts;

/* cells.c */
void mi_guest(uint32_t v, void *arg);
uint64_t mi_mmio_gen(uint64_t swaps);
void mi_memslot_hook(void *ctx, uint64_t issued_ns, uint32_t slot, uint32_t flags,
		     uint64_t gpa, uint64_t size, uint64_t hva, int ret);
int mi_state_text(uint64_t s, char *buf, size_t len);
int mi_op_text(const struct kmmu_ss_op *op, char *buf, size_t len);
void mi_set_handlers(struct kmmu_vm *vm, struct mi_ctx *c);
int mi_do_op(struct kmmu_vm *vm, struct mi_ctx *c, uint64_t i, enum mi_op_kind kind,
	     uint64_t loc, bool sleep, char *err, size_t len);

/* phases.c */
int mi_flip(struct kmmu_vm *vm, struct mi_ctx *c, char *err, size_t len);
int mi_wrap(struct kmmu_vm *vm, struct mi_ctx *c, uint64_t *rng, char *err,
	    size_t len);

/* report.c */
void mi_totals(const struct mi_ctx *c, struct mi_totals *t);
void mi_print(const struct mi_ctx *c, const struct mi_totals *t, double dur);
void mi_record(struct kmmu_result *res, const struct mi_ctx *c,
	       const struct mi_totals *t, double dur);

#endif
