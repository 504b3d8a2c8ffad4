/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dirty_log_test, one program in four files (what it tests and why it is
 * judged so: the head comment of selftests/dirty_log_test.c):
 *
 *   dirty_log_test.c    the harness: the fixture, the verdicts, the ring-full
 *                       and errno tests, main()
 *   dirty_log/oracle.c  harvesting the dirty log and checking it
 *   dirty_log/run.c     the guest, the vCPUs, slot changes, one iteration
 *   dirty_log/setup.c   the layout, the backing, the VM, stats, the finish
 *
 * The kselftest harness can be in one file of a program only (it defines
 * its runner there), so the other files return 0, or -1 or -errno with the
 * reason in c->err; every ASSERT and EXPECT is dirty_log_test.c's.
 */
#ifndef KMMU_DIRTY_LOG_H
#define KMMU_DIRTY_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmmu/bench.h"
#include "kmmu/gate.h"
#include "kmmu/hygiene.h"
#include "kmmu/janitor.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/result.h"
#include "kmmu/kvm_stats.h"

#define DL_PAGE		4096ULL
#define DL_GPA		KMMU_GPA_TEST		/* 1G aligned */
#define DL_MEM_PAGES	4096ULL			/* 16 MiB of backing */
#define DL_HUGE_PAGES	512ULL			/* 4K pages in 2M */

enum { DL_A, DL_B, DL_RO, DL_NR_SLOTS };
#define DL_NR_DATA_SLOTS 2

/* Data page p: slot A's pages first, then slot B's. */
#define DL_DATA_PAGES	(1024 + 1536 + 3)
#define DL_RO_HOST_PAGES 512ULL			/* first half of RO: host PROT_READ */
/* Guest mappings: data [0, 12M) writable, RO [12M, 16M) read-only. */
#define DL_DATA_MAP	(3072 * DL_PAGE)

/*
 * VAL(gen, v, seq): generation (20 bits), vCPU (6), write counter (38).
 * Zero is "never written" (memory starts zeroed, exp too).
 */
#define DL_VAL(g, v, s)	(((uint64_t)(g) << 44) | ((uint64_t)(v) << 38) | \
			 ((uint64_t)(s) & ((1ULL << 38) - 1)))
#define DL_VAL_GEN(x)	((x) >> 44)
#define DL_VAL_SEQ(x)	((x) & ((1ULL << 38) - 1))
#define DL_GEN_MAX	((1ULL << 20) - 1)
#define DL_RO_VAL(p)	(0x524f000000000000ULL | (p))
#define DL_WINDOW	16		/* pages in the shared hot window */

enum dl_mode { DL_GET, DL_CLEAR, DL_CLEAR_INIT, DL_RING, DL_NR_MODES };
enum dl_backing { DL_4K, DL_THP, DL_HUGETLB, DL_NR_BACKINGS };

enum dl_cmd { DL_CMD_QUIT = 1, DL_CMD_SWEEP, DL_CMD_RUN };

struct dl_vcpu_shared {
	uint64_t progress;	/* writes completed */
	uint64_t ro_reads;
	uint64_t pad[6];
};

struct dl_shared {
	uint64_t gen;		/* host: generation of the writes */
	uint64_t park;		/* host: come to the gate */
	uint64_t window;	/* host: first page of the hot window */
	uint64_t cold;		/* host: first page of the last round's window, left alone */
	uint64_t seed;
	uint64_t avail[DL_NR_DATA_SLOTS];	/* host: slot present (changed while parked) */
	uint64_t exp_gva;	/* uint64_t[nr_vcpus][DL_DATA_PAGES] */
	uint64_t nr_vcpus;
	struct dl_vcpu_shared vcpu[KMMU_MAX_VCPUS];
};

struct dl_opts {
	int vcpus;
	int iterations;		/* per test case */
	double interval_ms;	/* mean pause between harvests */
	uint32_t ring_entries;
	uint64_t seed;
	bool modes[DL_NR_MODES];
	bool backings[DL_NR_BACKINGS];
	const char *inject;	/* $KMMU_DIRTY_INJECT */
};

/* Per-page state of the oracle (struct dl_slot.ps). */
#define PS_OWED		0x1	/* written during a harvest: the next must report it */
#define PS_STICKY	0x2	/* GET reported it, CLEAR left it set: the next GET too */
#define PS_NEXT_OK	0x4	/* may be reported next without being written again */
#define PS_EXTRA	0x8	/* reported for no reason by the harvest before */
/* Slot RO: reports in a row without a zap (upper nibble). */
#define PS_STREAK_SHIFT	4
#define PS_STREAK(ps)	((ps) >> PS_STREAK_SHIFT)
#define PS_STREAK_MAX(vcpus) ((vcpus) < 15 ? (vcpus) : 15)

struct dl_slot {
	uint32_t id;
	uint64_t off, npages;
	uint64_t first;		/* data slots: data index of the slot's page 0 */
	bool present, logging;
	uint64_t tracked_from;	/* writes of this generation on must be reported */
	bool all_due;		/* INITIALLY_SET: the next GET must report every page */
	bool fresh;		/* logging (re)started or SPTEs zapped since the last verify */
	int on_since, zapped_at;	/* rounds: logging last went on, last zap (-1: never) */
	uint64_t *bm;		/* pages reported since the last verify */
	uint64_t *tmp;		/* one KVM_GET_DIRTY_LOG */
	uint8_t *ps, *ps_next;	/* obligations of this verify, of the next */
};

struct dl_ctx {
	enum dl_mode mode;
	enum dl_backing backing;
	int nr_vcpus;
	uint64_t rng;
	bool shadow;		/* shadow paging: no TDP */
	struct kmmu_vm *vm;
	struct dl_shared *sh;
	uint64_t *exp;		/* the guest's exp[v][p], host view */
	uint64_t *snap;		/* exp at the last verify */
	uint8_t *mem;		/* backing, 2M aligned */
	void *raw;
	size_t raw_size;
	struct dl_slot slot[DL_NR_SLOTS];
	struct kmmu_gate gate;
	bool gate_init;
	uint64_t arrivals;
	uint64_t gen;
	int iter;
	uint64_t progress[KMMU_MAX_VCPUS];	/* noted before the harvest */
	bool quiesced;		/* this harvest: vCPUs parked before it */
	bool pml;		/* kvm_intel logs dirty pages with PML */
	int ncpus;
	/* dirty ring: collected by the main thread and by vCPUs on RING_FULL */
	pthread_mutex_t ring_lock;
	bool ring_lock_init;
	uint64_t ring_round;		/* collected since the last reset */
	long ring_entries, ring_full_exits, ring_stale;
	char ring_err[512];
	bool inject_done;
	int inject_slot;		/* the hidden page, once inject_done */
	uint64_t inject_page;
	/* what happened */
	long harvests, reported, extras, owed, untracked, ro_extras, strict;
	long toggles_on, toggles_off, deletes, creates, clear_calls, partial_clears;
	uint64_t reports;		/* reports that needed a fault (<= pf_taken) */
	struct kmmu_stats vm_stats, vcpu_stats[KMMU_MAX_VCPUS];
	bool stats_open;
	uint64_t pf_taken0;
	bool pf_taken_ok;
	int64_t pages_2m_populated, pages_2m_logging, pages_2m_recovered;
	double t0, t_started, t_populated, t_rounds, t_done;	/* kmmu_now() */
	char err[1024];
};

static inline bool dl_test_bit(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

static inline void dl_set_bit(uint64_t *bm, uint64_t i)
{
	bm[i / 64] |= 1ULL << (i % 64);
}

static inline void dl_clear_bit(uint64_t *bm, uint64_t i)
{
	bm[i / 64] &= ~(1ULL << (i % 64));
}

/* A finding (oracle.c): -1, and the case and the reason in c->err. */
int dl_fail(struct dl_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline uint64_t dl_rand(uint64_t *s)
{
	/* xorshift64*: no libc in the guest */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* setup.c: the slots' layout and the names of the cases */
extern const uint64_t dl_slot_off[DL_NR_SLOTS];
extern const uint64_t dl_slot_pages[DL_NR_SLOTS];
extern const char *const dl_slot_names[DL_NR_SLOTS];
extern const char *const dl_mode_names[DL_NR_MODES];
extern const char *const dl_backing_names[DL_NR_BACKINGS];

/* dirty_log_test.c: the command line */
extern struct dl_opts dl_opts;

/* oracle.c */
bool dl_pml(void);
uint64_t dl_gpa(const struct dl_slot *s, uint64_t page);
int dl_ring_collect_locked(struct dl_ctx *c, char *err, size_t len);
int dl_harvest(struct dl_ctx *c);
int dl_verify(struct dl_ctx *c);

/* run.c */
void dl_guest(uint32_t v, void *arg);
uint64_t dl_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx);
int dl_exit(struct kmmu_vcpu *vcpu, uint32_t reason, void *ctx);
void dl_pre_run(struct kmmu_vcpu *vcpu, void *ctx);
int dl_next_gen(struct dl_ctx *c);
int dl_set_logging(struct dl_ctx *c, int i, bool on);
int dl_create(struct dl_ctx *c, int i, uint32_t flags);
void dl_resume(struct dl_ctx *c, enum dl_cmd cmd);
int dl_iteration(struct dl_ctx *c, bool final);

/* setup.c */
void dl_stats_close(struct dl_ctx *c);
bool dl_vcpu_stat(struct dl_ctx *c, const char *name, uint64_t *sum);
int64_t dl_vm_stat(struct dl_ctx *c, const char *name);
int dl_hugetlb_reserve(struct dl_ctx *c, struct kmmu_janitor *jan, bool *jan_started);
int dl_ctx_init(struct dl_ctx *c, enum dl_mode mode, enum dl_backing backing);
void dl_ctx_free(struct dl_ctx *c);
struct kmmu_test_run;
int dl_start(struct dl_ctx *c, struct kmmu_test_run *run);
int dl_populate(struct dl_ctx *c);
int dl_finish(struct dl_ctx *c);

#endif
