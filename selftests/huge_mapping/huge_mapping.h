/* SPDX-License-Identifier: GPL-2.0 */
/*
 * huge_mapping_test, one program in six files (what it tests and why it is
 * judged so: the head comment of selftests/huge_mapping_test.c):
 *
 *   huge_mapping_test.c  the harness: the fixture, each test's verdicts, main()
 *   huge_mapping/guest.c     the guest's code
 *   huge_mapping/backing.c   buffers, slots, the VM, steps, host-side checks,
 *                            the hugetlb reservation
 *   huge_mapping/data.c      thp_data and hugetlb_data's rounds
 *   huge_mapping/notifier.c  notifier_one_page's operations
 *   huge_mapping/invalid.c   invalid_memslots' churn and refused updates
 *
 * The kselftest harness can be in one file of a program only (it defines
 * its runner there), so the runs return 0 or -errno with the reason in
 * err; every ASSERT is huge_mapping_test.c's.
 */
#ifndef KMMU_HUGE_MAPPING_H
#define KMMU_HUGE_MAPPING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmmu/bench.h"
#include "kmmu/gate.h"
#include "kmmu/host_thread.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"
#include "kmmu/opts.h"
#include "kmmu/slot_state.h"
#include "kmmu/kvm_stats.h"
#include "kmmu/trace_session.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB	(21 << MAP_HUGE_SHIFT)
#endif

#define HM_PAGE		4096ULL
#define HM_HUGE		(2ULL << 20)
#define HM_MB		(1ULL << 20)
#define HM_PAGES_2M	512
#define HM_WIN_A	KMMU_GPA_TEST			/* 1G aligned */
#define HM_WIN_SIZE	(64ULL << 20)
#define HM_WIN_B	(HM_WIN_A + HM_WIN_SIZE)
#define HM_ALIAS	(1ULL << 40)	/* the 4K view: GVA = GPA + HM_ALIAS */
#define HM_W1		(HM_PAGE - 8)	/* the second word of a page that is checked */
#define HM_MAX_SLOTS	24
#define HM_MAX_BUFS	24
#define HM_MAX_PROBES	64
#define HM_NR_VCPUS	2
#define HM_SLOT_ID0	KMMU_SLOT_FIRST_FREE
#define HM_HUGETLB_DIR	"/sys/kernel/mm/hugepages/hugepages-2048kB"

/* ---- values ---- */

enum {
	HM_TAG_GUEST = 0xa5,	/* written by a vCPU */
	HM_TAG_HOST = 0x5a,	/* written by the host */
	HM_TAG_FILE = 0xf1,	/* a memfd's file content */
	HM_TAG_FOREIGN = 0xee,	/* buffer memory outside every slot */
};
#define HM_POISON	0xdeadbeefdeadbeefULL	/* MMIO loads read this */

/* Word 0 of a page: tag, slot (index), page in the slot, generation. */
static inline uint64_t hm_pat(uint64_t tag, uint64_t slot, uint64_t page, uint64_t gen)
{
	return tag << 56 | (slot & 0xff) << 48 | (page & 0xffffff) << 24 | (gen & 0xffffff);
}

/* The last word of a page: derived from word 0, so that both are checked. */
static inline uint64_t hm_tail(uint64_t v)
{
	return v ? v ^ 0x0f0f0f0f0f0f0f0fULL : 0;
}

/* ---- shared memory ---- */

struct hm_gslot {
	uint64_t gpa, size;	/* where the guest finds it; size 0: not there */
	uint64_t exp_gva;	/* uint64_t[size / 4K]: expected word 0 of each page */
	uint64_t alt_gpa;	/* invalid_memslots: the churned slot's other place */
};

enum hm_cmd {
	HM_QUIT = 1,
	HM_IDLE,
	HM_WRITE,	/* arg: slot, gen, writer, start, stride */
	HM_CHECK,	/* arg: vCPU mask, view mask, slot mask */
	HM_TOUCH,	/* the notifier steps: arg[HM_A_*] */
	HM_RACE,
	HM_VERIFY,
	HM_SPIN,	/* arg: stable slot mask, churned slot mask */
	HM_FINAL,	/* HM_CHECK by both, then the probes */
	HM_GONE,	/* arg: vCPU mask; the probes */
};

enum { HM_SYNC_GATE, HM_SYNC_YIELD };
#define HM_NONE		(~0ULL)

/* The notifier steps' arguments (arg[]). */
enum {
	HM_A_SLOT, HM_A_PAGE, HM_A_NPAGES, HM_A_ASLOT, HM_A_APAGE, HM_A_VERIFIER,
	HM_A_GEN,	/* of the verifier's stores (TOUCH, VERIFY) */
	HM_A_OLDGEN,	/* of the content before the operation */
	HM_A_NEWKIND, HM_A_NEWARG,	/* the content after: enum hm_new */
	HM_A_STORM,	/* HM_NEW_STORM: the host's steps */
	HM_NR_ARGS,
};

/* The content of a page after the host's operation. */
enum hm_new {
	HM_NEW_ZERO,		/* dropped anonymous or punched page */
	HM_NEW_OLD,		/* unchanged (mprotect, shared memfd DONTNEED) */
	HM_NEW_FILE,		/* the private memfd's file page NEWARG + i */
	HM_NEW_HOST,		/* the host's pattern, generation NEWARG */
	HM_NEW_HOST_ON_ZERO,	/* the same, stored into a mapped zero page */
	HM_NEW_STORM,		/* hm_g_storm_val() */
};

#define HM_FILE_SLOT	3	/* the private memfd slot (its file pattern) */

struct hm_shared {
	uint64_t nr_slots;
	struct hm_gslot slot[HM_MAX_SLOTS];
	uint64_t arg[HM_NR_ARGS];
	uint64_t race_started, race_done;
	uint64_t verify_at;	/* the GPA of the verifier's latest store */
	uint64_t storm_seq;	/* odd while a storm step runs, 2 * steps done */
	uint64_t storm_checked, storm_racy;	/* guest: reads between / across steps */
	uint64_t stop;
	uint64_t progress[HM_NR_VCPUS];
	uint64_t nr_probes;
	uint64_t probe_gpa[HM_MAX_PROBES];
};

/*
 * A storm alternates between two pages: step j (1, 2, ...) drops page
 * page + (j & 1) and stores the host's pattern of generation NEWARG + j
 * into it.  The content of page q once 2 * i steps... i steps are done:
 */
static inline uint64_t hm_g_storm_val(struct hm_shared *sh, uint64_t q, uint64_t i)
{
	uint64_t j = q == sh->arg[HM_A_PAGE] ? i & ~1ULL : (i & 1 ? i : i - 1);

	if (!i || !j)
		return hm_pat(HM_TAG_GUEST, sh->arg[HM_A_SLOT], q, sh->arg[HM_A_OLDGEN]);
	return hm_pat(HM_TAG_HOST, sh->arg[HM_A_SLOT], q, sh->arg[HM_A_NEWARG] + j);
}

/* ---- options ---- */

struct hm_opts {
	uint64_t seed;
	long rounds;		/* data tests */
	long ops;		/* notifier_one_page */
	long passes;		/* invalid_memslots */
	bool check_all;		/* every test against the reference */
	const char *inject;
};

/* ---- host: buffers and slots ---- */

enum hm_kind {
	HM_BK_THP,		/* anonymous, MADV_HUGEPAGE */
	HM_BK_ANON4K,		/* anonymous, MADV_NOHUGEPAGE */
	HM_BK_HUGETLB,		/* anonymous MAP_HUGETLB, 2M pages */
	HM_BK_MEMFD_PRIVATE,	/* memfd, MAP_PRIVATE: copy-on-write over the file */
	HM_BK_MEMFD_SHARED,	/* memfd, MAP_SHARED */
};

struct hm_buf {
	enum hm_kind kind;
	uint8_t *raw;		/* the whole mapping (guards included) */
	size_t raw_size;
	uint8_t *base;		/* 2M aligned */
	size_t size;
	int fd;
};

struct hm_slot {
	const char *name;
	uint32_t id;		/* memslot id */
	int buf;
	uint64_t off;		/* in the buffer */
	uint64_t size;
	uint64_t gpa;		/* current place (when present) */
	bool present;
	uint64_t *exp;		/* host view of the guest's expectations */
	uint64_t exp_gva;
};

struct hm_ctx {
	struct kmmu_vm *vm;
	struct kmmu_gate gate;
	bool gate_init;
	uint64_t arrivals;
	struct hm_shared *sh;
	uint64_t sh_gva;
	struct hm_buf buf[HM_MAX_BUFS];
	int nr_bufs;
	struct hm_slot slot[HM_MAX_SLOTS];
	int nr_slots;
	struct kmmu_stats stats;
	bool stats_ok;
	/* The reference check's action log while the session runs, else NULL. */
	_Atomic(struct kmmu_trace_log *) log;
	uint64_t rng;
	char phase[320];	/* what the host is doing: for failure reports */

	/* notifier_one_page: the page made read-only, and what KVM_RUN said */
	_Atomic(uint8_t *) ro_page;
	size_t ro_len;
	uint64_t efault_at;	/* the verifier's store that failed KVM_RUN */
	_Atomic int ro_vcpu;
	_Atomic int efaults, other_run_errors;

	/* hugetlb_data */
	bool hugetlb_changed;
	long hugetlb_old;

	/* invalid_memslots */
	uint64_t mmio_lo[3], mmio_hi[3];	/* ranges whose loads may exit */
	_Atomic long mmio_exits;
};

/* A layout: buffers, then slots on them with two places each. */
struct hm_bufdef {
	enum hm_kind kind;
	uint64_t size;
};

struct hm_slotdef {
	const char *name;
	int buf;
	uint64_t off, size;
	uint64_t at[2];		/* offset in window A, in window B */
};

struct hm_layout {
	const struct hm_bufdef *bufs;
	int nr_bufs;
	const struct hm_slotdef *slots;
	int nr_slots;
};

#define HM_HUGETLB_PAGES 6

/* ---- hm.notifier_one_page ---- */

enum hm_nop {
	HM_OP_DONTNEED,
	HM_OP_PUNCH,
	HM_OP_MPROTECT,
	HM_OP_HOSTWRITE,
	HM_OP_ZERO_COW,		/* host store into a zero page the guest mapped */
	HM_OP_STORM,		/* HM_STORM_STEPS drops and stores, two pages */
	HM_NR_OPS,
};

struct hm_n_counts {
	long ops[HM_NR_OPS];
	long pages;
	long efaults;
};

/* ---- hm.invalid_memslots ---- */

/* Refused updates: the ioctl's arguments, what the kernel must return. */
struct hm_case {
	char what[96];
	uint32_t slot, flags;
	uint64_t gpa, size, hva;
	int want;		/* -errno */
	/*
	 * Tried only after the reference check ended: the checker replays
	 * memslots without x86's kvm_arch_prepare_memory_region(), so it
	 * would accept a slot beyond kvm_mmu_max_gfn() that the kernel
	 * refuses (and, for a MOVE, the refusal's two memslot swaps).
	 */
	bool untraced;
	long tried, wrong;
	int got;		/* the last wrong answer */
};

#define HM_I_STABLE	4	/* slots 0..3: huge, anon, memfd, the mover */
#define HM_I_CHURN	8	/* slots 4..11, two pages each */
#define HM_I_PROBE	(HM_WIN_A + 12 * HM_MB)	/* refused creates land here */
#define HM_I_FREE	(HM_WIN_A + 10 * HM_MB)	/* refused MOVEs go here */
#define HM_I_HOME	(HM_WIN_A + 16 * HM_MB)
#define HM_I_ALT	(HM_WIN_A + 20 * HM_MB)
#define HM_I_NEWID	(HM_SLOT_ID0 + 20)
#define HM_I_MIN_CHURN	8	/* churn updates per pass, at least */

struct hm_churn {
	struct hm_ctx *c;
	struct kmmu_host_thread thread;
	int where[HM_I_CHURN];	/* 0 absent, 1 home, 2 alt */
	long ops;
	int err;		/* -errno of a failed memslot call */
	char what[160];
	uint64_t rng;
};

#define HM_MAX_CASES 40

/* guest.c */
void hm_guest(uint32_t v, void *arg);

/* backing.c */
extern const char *const hm_kind_names[];
uint8_t *hm_hva(struct hm_ctx *c, const struct hm_slot *s);
uint64_t hm_w0(const uint8_t *p);
void hm_put(uint8_t *p, uint64_t v);
void hm_describe(struct hm_ctx *c, uint64_t v, char *buf, size_t len);
int hm_buf_alloc(struct hm_ctx *c, enum hm_kind kind, size_t size, char *err, size_t len);
void hm_bufs_free(struct hm_ctx *c);
struct hm_slot *hm_slot_def(struct hm_ctx *c, const char *name, int buf, uint64_t off,
			    uint64_t size, uint64_t gpa);
void hm_set_exp_page(struct hm_ctx *c, int s, uint64_t page, uint64_t v);
void hm_set_exp_hva(struct hm_ctx *c, const uint8_t *hva, uint64_t v);
int hm_trace_finish(struct hm_ctx *c, struct kmmu_trace_session **t);
int hm_vm_start(struct hm_ctx *c, struct kmmu_trace_session *trace, uint64_t win,
		uint64_t win2, uint64_t win_size, char *err, size_t len);
int hm_step(struct hm_ctx *c, uint64_t cmd, char *err, size_t len);
int hm_quit(struct hm_ctx *c, char *err, size_t len);
int hm_stat(struct hm_ctx *c, const char *name, uint64_t *v);
int hm_place(struct hm_ctx *c, int s, uint64_t gpa, bool move, char *err, size_t len);
int hm_unplace(struct hm_ctx *c, int s, char *err, size_t len);
int hm_host_check_slot(struct hm_ctx *c, int s, char *err, size_t len);
int hm_foreign(struct hm_ctx *c, bool fill, char *err, size_t len);
void hm_host_write_slot(struct hm_ctx *c, int s, uint64_t gen);
void hm_hugetlb_restore(void *arg);
int hm_hugetlb_reserve(struct hm_ctx *c, long need, char *why, size_t len);

/* data.c */
extern const struct hm_layout hm_thp_layout, hm_hugetlb_layout;
int hm_data_setup(struct hm_ctx *c, const struct hm_layout *layout, char *err, size_t len);
int hm_data_run(struct hm_ctx *c, struct kmmu_trace_session *trace,
		const struct hm_layout *layout, char *err, size_t len);

/* notifier.c */
extern const char *const hm_op_names[HM_NR_OPS];
int hm_notifier_run(struct hm_ctx *c, struct kmmu_trace_session *trace,
		    struct hm_n_counts *cnt, char *err, size_t len);

/* invalid.c */
void hm_churn_stop(struct hm_churn *ch);
int hm_invalid_run(struct hm_ctx *c, struct kmmu_trace_session **trace, struct hm_churn *ch,
		   struct hm_case *cs, int *nr_cases, char *err, size_t len);

/* huge_mapping_test.c: the command line */
extern struct hm_opts hm_opts;
bool hm_inject(const char *what);

#endif
