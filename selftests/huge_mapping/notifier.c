// SPDX-License-Identifier: GPL-2.0
/*
 * hm.notifier_one_page's run: operations on one page (or two or three)
 * of multi-page slots -- MADV_DONTNEED, hole punching, mprotect, host
 * stores, copy-on-write of mapped zero pages, storms -- each checked
 * exactly by one vCPU while the other reads.  Returns 0 or -errno with the
 * reason: the verdicts are huge_mapping_test.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "huge_mapping.h"

const char *const hm_op_names[] = {
	"MADV_DONTNEED", "FALLOC_FL_PUNCH_HOLE", "mprotect(PROT_READ)", "host store",
	"host store into a mapped zero page",
	"MADV_DONTNEED + host store storm",
};

/* The notifier layout: which operations each slot gets. */
struct hm_nslot {
	const char *name;
	int buf;
	uint64_t off, size, at;
	unsigned int ops;	/* 1 << enum hm_nop */
	int alias_of;		/* -1, or the slot whose pages [alias_first, ...) it maps */
	uint64_t alias_first;
};

#define HM_N_MOST	((1 << HM_OP_DONTNEED) | (1 << HM_OP_MPROTECT) | (1 << HM_OP_HOSTWRITE))
#define HM_N_ANON	(HM_N_MOST | (1 << HM_OP_STORM))
#define HM_STORM_STEPS	256
#define HM_N_SHARED	(HM_N_ANON | (1 << HM_OP_PUNCH))	/* storms punch holes */
#define HM_N_ZERO	(1 << HM_OP_ZERO_COW)

static const struct hm_bufdef hm_n_bufs[] = {
	{ HM_BK_THP, 8 * HM_MB },		/* 0 */
	{ HM_BK_ANON4K, 2 * HM_MB },		/* 1: two slots, overlapping */
	{ HM_BK_MEMFD_PRIVATE, 2 * HM_MB },	/* 2 */
	{ HM_BK_MEMFD_SHARED, 2 * HM_MB },	/* 3 */
	{ HM_BK_ANON4K, 2 * HM_MB },		/* 4: zero pages */
	{ HM_BK_THP, 8 * HM_MB },		/* 5: huge zero pages */
};

static const struct hm_nslot hm_n_slots[] = {
	{ "thp", 0, 0, 8 * HM_MB, 0, HM_N_ANON, -1, 0 },
	{ "anon", 1, 9 * 4096, 40 * 4096, 8 * HM_MB + 5 * 4096, HM_N_ANON, -1, 0 },
	{ "anon-alias", 1, 25 * 4096, 24 * 4096, 9 * HM_MB + 3 * 4096, HM_N_MOST, 1, 16 },
	{ "memfd-private", 2, 2 * 4096, 48 * 4096, 10 * HM_MB + 3 * 4096, HM_N_ANON, -1, 0 },
	{ "memfd-shared", 3, 7 * 4096, 40 * 4096, 11 * HM_MB, HM_N_SHARED, -1, 0 },
	{ "zero", 4, 0, 128 * 4096, 12 * HM_MB + 4096, HM_N_ZERO, -1, 0 },
	{ "huge-zero", 5, 0, 8 * HM_MB, 16 * HM_MB, HM_N_ZERO, -1, 0 },
};

#define HM_N_SLOTS ((int)(sizeof(hm_n_slots) / sizeof(hm_n_slots[0])))

/* The file content of page @fp of the private memfd (what DONTNEED brings back). */
static uint64_t hm_file_val(uint64_t fp)
{
	return hm_pat(HM_TAG_FILE, HM_FILE_SLOT, fp, 0);
}

/* The slot and page of the other view of (s, page), or -1. */
static int hm_n_alias(int s, uint64_t page, uint64_t *apage)
{
	int t;

	for (t = 0; t < HM_N_SLOTS; t++) {
		const struct hm_nslot *a = &hm_n_slots[t], *b = &hm_n_slots[s];

		if (t == s || a->buf != b->buf)
			continue;
		/* Same buffer, other slot: is the host page in it? */
		if (b->off + page * 4096 >= a->off && b->off + page * 4096 < a->off + a->size) {
			*apage = (b->off + page * 4096 - a->off) / 4096;
			return t;
		}
	}
	return -1;
}

/* A page of slot @s: its first or last, one at a 2M boundary, or any. */
static uint64_t hm_n_pick_page(struct hm_ctx *c, int s)
{
	uint64_t n = c->slot[s].size / HM_PAGE, r = kmmu_ss_rand(&c->rng);
	uint64_t gpa = c->slot[s].gpa, end = gpa + c->slot[s].size;
	uint64_t f = (gpa + HM_HUGE) & ~(HM_HUGE - 1);	/* first boundary above gpa */

	switch (r % 4) {
	case 0:
		return 0;
	case 1:
		return n - 1;
	case 2:
		/* Either side of a 2M boundary inside the slot, if there is one. */
		if (f < end) {
			f += (r >> 8) % ((end - 1 - f) / HM_HUGE + 1) * HM_HUGE;
			return (f - gpa) / HM_PAGE - ((r >> 40) & 1);
		}
		/* fall through */
	default:
		return (r >> 8) % n;
	}
}

/* An untouched page of a zero slot, or -1 when all were used. */
static int64_t hm_n_zero_page(struct hm_ctx *c, int s, bool *used)
{
	uint64_t n = c->slot[s].size / HM_PAGE, start = kmmu_ss_rand(&c->rng) % n, k;

	for (k = 0; k < n; k++) {
		uint64_t p = (start + k) % n;

		if (!used[p] && !c->slot[s].exp[p])
			return p;
	}
	return -1;
}

/* Waits until @flag (guest memory) is set, the VM fails, or 120 s pass. */
static int hm_wait_flag(struct hm_ctx *c, uint64_t *flag, char *err, size_t len)
{
	double t0 = kmmu_now();

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (kmmu_vm_failed(c->vm)) {
			snprintf(err, len, "%s: %s", c->phase, kmmu_vm_errors(c->vm));
			return -EIO;
		}
		if (kmmu_now() - t0 > 120) {
			snprintf(err, len, "%s: the sweeping vCPU did not start in 120 s", c->phase);
			return -ETIMEDOUT;
		}
		usleep(200);
	}
	return 0;
}

/* The content of page @q of the range after @op (host side of hm_g_new()). */
static uint64_t hm_n_new(struct hm_ctx *c, uint64_t q)
{
	uint64_t *a = c->sh->arg;

	switch (a[HM_A_NEWKIND]) {
	case HM_NEW_STORM:
		return hm_g_storm_val(c->sh, q, a[HM_A_STORM]);
	case HM_NEW_ZERO:
		return 0;
	case HM_NEW_OLD:
		return hm_pat(HM_TAG_GUEST, a[HM_A_SLOT], q, a[HM_A_OLDGEN]);
	case HM_NEW_FILE:
		return hm_file_val(a[HM_A_NEWARG] + q - a[HM_A_PAGE]);
	default:
		return hm_pat(HM_TAG_HOST, a[HM_A_SLOT], q, a[HM_A_NEWARG]);
	}
}

/*
 * The storm (HM_OP_STORM), while the other vCPU reads both pages: step j
 * drops page + (j & 1) (MADV_DONTNEED, or a punched hole for shared
 * memory) and stores the host's pattern into it; storm_seq is odd while a
 * step runs.  0 or -errno.
 */
static int hm_n_storm(struct hm_ctx *c, struct hm_slot *sl, uint64_t page)
{
	struct hm_buf *b = &c->buf[sl->buf];
	uint64_t j, q;
	uint8_t *h;

	for (j = 1; j <= HM_STORM_STEPS; j++) {
		q = page + (j & 1);
		h = hm_hva(c, sl) + q * HM_PAGE;
		__atomic_store_n(&c->sh->storm_seq, 2 * j - 1, __ATOMIC_RELEASE);
		if (b->kind == HM_BK_MEMFD_SHARED ?
		    fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)(h - b->base), HM_PAGE) :
		    madvise(h, HM_PAGE, MADV_DONTNEED))
			return -errno;
		hm_put(h, hm_g_storm_val(c->sh, q, j));
		__atomic_store_n(&c->sh->storm_seq, 2 * j, __ATOMIC_RELEASE);
		/* Give the reading vCPU a chance to fault in between. */
		sched_yield();
	}
	return 0;
}

/*
 * One operation on pages [page, page + n) of slot @s: the verifier maps
 * them, the host operates while the other vCPU sweeps the slot, the
 * verifier reads the new content and stores through the other view.
 */
static int hm_n_op(struct hm_ctx *c, int k, int s, uint64_t page, uint64_t n, enum hm_nop op,
		   bool *zero_used[], struct hm_n_counts *cnt, char *err, size_t len)
{
	struct hm_slot *sl = &c->slot[s];
	struct hm_buf *b = &c->buf[sl->buf];
	uint8_t *h = hm_hva(c, sl) + page * HM_PAGE;
	uint64_t apage = HM_NONE, fp = (h - b->base) / HM_PAGE, *a = c->sh->arg, q, v;
	int as = n == 1 ? hm_n_alias(s, page, &apage) : -1, vc = k % HM_NR_VCPUS, r;
	char d[160];

	snprintf(c->phase, sizeof(c->phase), "op %d: %s on slot %s pages %llu..%llu (gpa %#llx, hva %p, %s)%s; vCPU %d verifies",
		 k, hm_op_names[op], sl->name, (unsigned long long)page,
		 (unsigned long long)(page + n - 1), (unsigned long long)(sl->gpa + page * HM_PAGE),
		 h, hm_kind_names[b->kind], as >= 0 ? ", which another slot maps too" : "", vc);
	ksft_print_msg("%s\n", c->phase);
	a[HM_A_VERIFIER] = vc;
	a[HM_A_SLOT] = s;
	a[HM_A_PAGE] = page;
	a[HM_A_NPAGES] = n;
	a[HM_A_ASLOT] = as >= 0 ? (uint64_t)as : HM_NONE;
	a[HM_A_APAGE] = apage;
	a[HM_A_GEN] = a[HM_A_OLDGEN] = 2 * k + 1;
	switch (op) {
	case HM_OP_DONTNEED:
		a[HM_A_NEWKIND] = b->kind == HM_BK_MEMFD_PRIVATE ? HM_NEW_FILE :
				  b->kind == HM_BK_MEMFD_SHARED ? HM_NEW_OLD : HM_NEW_ZERO;
		a[HM_A_NEWARG] = fp;
		break;
	case HM_OP_PUNCH:
		a[HM_A_NEWKIND] = HM_NEW_ZERO;
		break;
	case HM_OP_MPROTECT:
		a[HM_A_NEWKIND] = HM_NEW_OLD;
		break;
	case HM_OP_ZERO_COW:
		a[HM_A_NEWKIND] = HM_NEW_HOST_ON_ZERO;
		a[HM_A_NEWARG] = 2 * k + 1;
		break;
	case HM_OP_STORM:
		a[HM_A_NEWKIND] = HM_NEW_STORM;
		a[HM_A_NEWARG] = (uint64_t)(k + 1) << 9;	/* + step, step <= 256 */
		a[HM_A_STORM] = HM_STORM_STEPS;
		__atomic_store_n(&c->sh->storm_seq, 0, __ATOMIC_RELEASE);
		break;
	default:
		a[HM_A_NEWKIND] = HM_NEW_HOST;
		a[HM_A_NEWARG] = 2 * k + 1;
		break;
	}

	/* 1. The verifier maps the pages: stores, or (zero pages) loads. */
	r = hm_step(c, HM_TOUCH, err, len);
	if (r)
		return r;
	for (q = page; q < page + n; q++) {
		if (op == HM_OP_ZERO_COW)
			zero_used[s][q] = true;
		else
			hm_set_exp_hva(c, hm_hva(c, sl) + q * HM_PAGE, hm_pat(HM_TAG_GUEST, s, q, a[HM_A_GEN]));
	}
	r = hm_host_check_slot(c, s, err, len);
	if (r)
		return r;

	/* 2. The operation, while the other vCPU sweeps the slot(s). */
	__atomic_store_n(&c->sh->race_started, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->sh->race_done, 0, __ATOMIC_RELEASE);
	kmmu_gate_open(&c->gate, HM_RACE);
	c->arrivals += HM_NR_VCPUS;
	r = kmmu_gate_wait(&c->gate, c->arrivals - 1, c->vm, 120);
	if (!r)
		r = hm_wait_flag(c, &c->sh->race_started, err, len);
	else
		snprintf(err, len, "%s: %s", c->phase, kmmu_vm_errors(c->vm));
	if (r)
		return r;
	switch (op) {
	case HM_OP_DONTNEED:
		r = madvise(h, n * HM_PAGE, MADV_DONTNEED) ? -errno : 0;
		if (!r && hm_inject("stale") && a[HM_A_NEWKIND] == HM_NEW_ZERO &&
		    !cnt->ops[op]) {
			/* As if the guest still saw the old page. */
			hm_put(h, hm_pat(HM_TAG_GUEST, s, page, a[HM_A_OLDGEN]));
			ksft_print_msg("INJECTED: the old content written back after %s\n", c->phase);
		}
		break;
	case HM_OP_PUNCH:
		r = fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)fp * HM_PAGE, n * HM_PAGE) ? -errno : 0;
		break;
	case HM_OP_MPROTECT:
		atomic_store(&c->ro_vcpu, vc);
		atomic_store(&c->efaults, 0);
		c->efault_at = 0;
		c->ro_len = n * HM_PAGE;
		r = mprotect(h, n * HM_PAGE, PROT_READ) ? -errno : 0;
		if (!r)
			atomic_store(&c->ro_page, h);
		break;
	case HM_OP_STORM:
		r = hm_n_storm(c, sl, page);
		break;
	default:
		for (q = page; q < page + n; q++)
			hm_put(hm_hva(c, sl) + q * HM_PAGE, hm_n_new(c, q));
		r = 0;
		break;
	}
	if (r) {
		snprintf(err, len, "%s: the host's call failed: %s", c->phase, strerror(-r));
		return r;
	}
	for (q = page; q < page + n; q++)
		hm_set_exp_hva(c, hm_hva(c, sl) + q * HM_PAGE, hm_n_new(c, q));
	__atomic_store_n(&c->sh->race_done, 1, __ATOMIC_RELEASE);
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r) {
		snprintf(err, len, "%s: %s", c->phase,
			 r == -EIO ? kmmu_vm_errors(c->vm) : "the sweeping vCPU did not finish in 120 s");
		return r;
	}
	for (q = page; q < page + n && !hm_inject("stale"); q++) {
		v = hm_w0(hm_hva(c, sl) + q * HM_PAGE);
		if (v == hm_n_new(c, q))
			continue;
		hm_describe(c, v, d, sizeof(d));
		snprintf(err, len, "%s: the host reads %#llx (%s) in page %llu after its own operation, expected %#llx",
			 c->phase, (unsigned long long)v, d, (unsigned long long)q,
			 (unsigned long long)hm_n_new(c, q));
		return -1;
	}

	/* 3. The verifier reads the new content and the frame, then stores. */
	a[HM_A_GEN] = 2 * k + 2;
	r = hm_step(c, HM_VERIFY, err, len);
	if (op == HM_OP_MPROTECT) {
		uint8_t *still = atomic_exchange(&c->ro_page, NULL);

		if (still)
			mprotect(still, c->ro_len, PROT_READ | PROT_WRITE);
		cnt->efaults += atomic_load(&c->efaults);
		if (!r && atomic_load(&c->efaults) != 1) {
			snprintf(err, len, "%s: the guest's store to the page(s) the host had made read-only completed without KVM_RUN failing with EFAULT (%d EFAULTs): KVM kept a writable mapping after the MMU notifier",
				 c->phase, atomic_load(&c->efaults));
			return -1;
		}
		q = sl->gpa + (page + n - 1) * HM_PAGE;
		if (!r && c->efault_at != q) {
			snprintf(err, len, "%s: the guest's first store, to gpa %#llx (the last page), completed while the host had the page read-only; KVM_RUN failed only at gpa %#llx: KVM kept a writable mapping of the range's last page after the MMU notifier",
				 c->phase, (unsigned long long)q, (unsigned long long)c->efault_at);
			return -1;
		}
	}
	if (r)
		return r;
	for (q = page; q < page + n; q++)
		hm_set_exp_hva(c, hm_hva(c, sl) + q * HM_PAGE, hm_pat(HM_TAG_GUEST, s, q, a[HM_A_GEN]));
	r = hm_host_check_slot(c, s, err, len);
	if (!r && as >= 0)
		r = hm_host_check_slot(c, as, err, len);
	cnt->ops[op]++;
	cnt->pages += n;
	return r;
}

int hm_notifier_run(struct hm_ctx *c, struct kmmu_trace_session *trace,
		    struct hm_n_counts *cnt, char *err, size_t len)
{
	bool *zero_used[HM_MAX_SLOTS] = { 0 };
	uint64_t p, v, fp, u;
	int i, k, s, r;

	for (i = 0; i < (int)(sizeof(hm_n_bufs) / sizeof(hm_n_bufs[0])); i++) {
		r = hm_buf_alloc(c, hm_n_bufs[i].kind, hm_n_bufs[i].size, err, len);
		if (r)
			return r;
	}
	/* The private memfd's file content: what DONTNEED brings back. */
	for (fp = 0; fp < c->buf[2].size / HM_PAGE; fp++) {
		uint64_t w[2] = { hm_file_val(fp), hm_tail(hm_file_val(fp)) };

		if (pwrite(c->buf[2].fd, &w[0], 8, fp * HM_PAGE) != 8 ||
		    pwrite(c->buf[2].fd, &w[1], 8, fp * HM_PAGE + HM_W1) != 8) {
			snprintf(err, len, "writing the memfd: %s", strerror(errno));
			return -EIO;
		}
	}
	for (s = 0; s < HM_N_SLOTS; s++)
		hm_slot_def(c, hm_n_slots[s].name, hm_n_slots[s].buf, hm_n_slots[s].off,
			    hm_n_slots[s].size, HM_WIN_A + hm_n_slots[s].at);
	r = hm_vm_start(c, trace, HM_WIN_A, 0, 32 * HM_MB, err, len);
	if (r)
		return r;
	for (s = 0; s < HM_N_SLOTS; s++) {
		struct hm_slot *sl = &c->slot[s];

		zero_used[s] = calloc(sl->size / HM_PAGE, sizeof(bool));
		if (!zero_used[s]) {
			r = -ENOMEM;
			snprintf(err, len, "out of memory");
			goto out;
		}
		for (p = 0; p < sl->size / HM_PAGE; p++) {
			uint8_t *h = hm_hva(c, sl) + p * HM_PAGE;

			if (hm_n_slots[s].alias_of >= 0)
				continue;	/* the slot it aliases set it */
			if (hm_n_slots[s].ops == HM_N_ZERO) {
				v = 0;	/* never touched by the host */
			} else if (c->buf[sl->buf].kind == HM_BK_MEMFD_PRIVATE) {
				/* The file's page, not copied: DONTNEED must change it. */
				v = hm_file_val((h - c->buf[sl->buf].base) / HM_PAGE);
			} else {
				v = hm_pat(HM_TAG_HOST, s, p, 0);
				hm_put(h, v);
			}
			hm_set_exp_hva(c, h, v);
		}
		r = hm_place(c, s, sl->gpa, false, err, len);
		if (r)
			goto out;
	}
	for (k = 0; k < hm_opts.ops; k++) {
		uint64_t n = 1;
		enum hm_nop op;
		int64_t page;

		/* A slot, then one of its operations (on a page still unused for zero pages). */
		do {
			s = kmmu_ss_rand(&c->rng) % HM_N_SLOTS;
			do
				op = kmmu_ss_rand(&c->rng) % HM_NR_OPS;
			while (!(hm_n_slots[s].ops & (1 << op)));
			page = op == HM_OP_ZERO_COW ? hm_n_zero_page(c, s, zero_used[s]) :
			       (int64_t)hm_n_pick_page(c, s);
		} while (page < 0);
		/*
		 * One page mostly; now and then 2 or 3, whose last page a walk
		 * with an off-by-one end would leave mapped (not where two
		 * slots map the same host page: one page there).
		 */
		if (op == HM_OP_STORM)
			n = 2;
		else if (op != HM_OP_ZERO_COW && hm_n_slots[s].alias_of < 0 &&
			 hm_n_alias(s, page, &u) < 0)
			n = (uint64_t[]){ 1, 1, 2, 3 }[kmmu_ss_rand(&c->rng) % 4];
		if (page + n > c->slot[s].size / HM_PAGE)
			page = c->slot[s].size / HM_PAGE - n;
		r = hm_n_op(c, k, s, page, n, op, zero_used, cnt, err, len);
		if (r)
			goto out;
	}
	snprintf(c->phase, sizeof(c->phase), "after %ld operations: both vCPUs read every slot through both views",
		 hm_opts.ops);
	c->sh->arg[0] = 3;
	c->sh->arg[1] = 3;
	c->sh->arg[2] = ~0ULL;
	r = hm_step(c, HM_CHECK, err, len);
	for (s = 0; !r && s < HM_N_SLOTS; s++)
		r = hm_host_check_slot(c, s, err, len);
out:
	for (s = 0; s < HM_N_SLOTS; s++)
		free(zero_used[s]);
	return r;
}
