// SPDX-License-Identifier: GPL-2.0
/*
 * Host side of the slot-state protocol (see kmmu/slot_state.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmmu/kvm_vm.h"
#include "kmmu/slot_state.h"

uint64_t kmmu_ss_place(uint64_t gpa, uint64_t home, uint64_t alt, uint64_t size,
		       uint64_t *i)
{
	if (gpa >= home && gpa < home + size) {
		*i = (gpa - home) / 4096;
		return KMMU_SS_HOME;
	}
	if (gpa >= alt && gpa < alt + size) {
		*i = (gpa - alt) / 4096;
		return KMMU_SS_ALT;
	}
	return KMMU_SS_ABSENT;
}

bool kmmu_ss_own_word(struct kmmu_vcpu *vcpu, uint64_t gpa, uint32_t len, bool is_write,
		      uint64_t i)
{
	if (len == 8 && (gpa & 4095) == (uint64_t)kmmu_vcpu_id(vcpu) * 8)
		return true;
	kmmu_vcpu_fail(vcpu, "MMIO %s of %u bytes at gpa %#llx: not this vCPU's word of slot %llu",
		       is_write ? "store" : "load", len, (unsigned long long)gpa,
		       (unsigned long long)i);
	return false;
}

bool kmmu_ss_exit_wrong(uint64_t s, uint64_t last_change, uint64_t run_gseq, uint64_t at,
			bool is_write, uint64_t ro)
{
	/* Present since before KVM_RUN: stable, or only a flags-only change started since. */
	return (!(KMMU_SS_SEQ(s) & 1) || (s & KMMU_SS_FLAGS_ONLY)) && last_change <= run_gseq &&
	       (s & KMMU_SS_LOC_MASK) == at && !(is_write && (s & ro));
}

void kmmu_ss_exit_done(struct kmmu_ss_vcpu *ss, uint64_t gpa, uint8_t *data, bool is_write)
{
	uint64_t poison = KMMU_SS_POISON;

	if (!is_write)
		memcpy(data, &poison, sizeof(poison));
	/* The GPA first: the guest reads it once it sees the count move. */
	ss->mmio_last_gpa = gpa;
	ss->mmio_count++;
}

void kmmu_ss_vcpu_add(struct kmmu_ss_vcpu *sum, const struct kmmu_ss_vcpu *v)
{
	sum->reads += v->reads;
	sum->writes += v->writes;
	sum->mmio_reads += v->mmio_reads;
	sum->mmio_writes += v->mmio_writes;
	sum->stable += v->stable;
	sum->racy += v->racy;
	sum->sweeps += v->sweeps;
}

int kmmu_ss_host_init(struct kmmu_ss_host *h, uint64_t nr)
{
	h->nr = nr;
	pthread_mutex_init(&h->lock, NULL);
	h->last_change = calloc(nr, sizeof(*h->last_change));
	h->hist = calloc(nr, sizeof(*h->hist));
	return h->last_change && h->hist ? 0 : -ENOMEM;
}

void kmmu_ss_host_free(struct kmmu_ss_host *h)
{
	free(h->last_change);
	free(h->hist);
	h->last_change = NULL;
	h->hist = NULL;
	pthread_mutex_destroy(&h->lock);
}

double kmmu_ss_now(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

void kmmu_ss_pre_run(struct kmmu_ss_host *h, int vcpu)
{
	h->run_gseq[vcpu] = atomic_load(&h->gseq);
}

/* Called with the lock held. */
static void kmmu_ss_record(struct kmmu_ss_host *h, uint64_t i, uint8_t kind, uint64_t before,
			   uint64_t after, int64_t arg)
{
	struct kmmu_ss_op *op = &h->hist[i].ops[h->hist[i].n++ % KMMU_SS_HIST];

	op->kind = kind;
	op->before = before;
	op->after = after;
	op->gseq = h->last_change[i];
	op->arg = arg;
	op->t = kmmu_ss_now(&h->t0);
}

uint64_t kmmu_ss_begin(struct kmmu_ss_host *h, uint64_t i, uint64_t extra, uint64_t *old)
{
	uint64_t before;

	pthread_mutex_lock(&h->lock);
	*old = h->state[i];
	before = KMMU_SS_STATE(KMMU_SS_SEQ(*old) + 1, (*old & KMMU_SS_FLAGS) | extra);
	__atomic_store_n(&h->state[i], before, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&h->lock);
	return before;
}

uint64_t kmmu_ss_end(struct kmmu_ss_host *h, uint64_t i, uint64_t before, uint64_t flags,
		     uint8_t kind, int64_t arg)
{
	uint64_t after = KMMU_SS_STATE(KMMU_SS_SEQ(before) + 1, flags);

	pthread_mutex_lock(&h->lock);
	__atomic_store_n(&h->state[i], after, __ATOMIC_RELEASE);
	h->last_change[i] = atomic_fetch_add(&h->gseq, 1) + 1;
	kmmu_ss_record(h, i, kind, before, after, arg);
	pthread_mutex_unlock(&h->lock);
	return after;
}

void kmmu_ss_set(struct kmmu_ss_host *h, uint64_t i, uint64_t flags, uint8_t kind,
		 int64_t arg)
{
	uint64_t old, after;

	pthread_mutex_lock(&h->lock);
	old = h->state[i];
	after = KMMU_SS_STATE(KMMU_SS_SEQ(old) + 2, flags);
	__atomic_store_n(&h->state[i], after, __ATOMIC_RELEASE);
	kmmu_ss_record(h, i, kind, old, after, arg);
	pthread_mutex_unlock(&h->lock);
}

void kmmu_ss_history(struct kmmu_ss_host *h, uint64_t i, uint64_t lo, uint64_t hi,
		     char *buf, size_t len)
{
	struct kmmu_ss_hist *hs = &h->hist[i];
	unsigned int k, first;
	char st[2][80], tail[80];
	size_t off;

	h->state_text(h->state[i], st[0], sizeof(st[0]));
	off = snprintf(buf, len, "slot %llu (memslot %llu) now: %s; recent ops:",
		       (unsigned long long)i, (unsigned long long)(i + KMMU_SLOT_FIRST_FREE),
		       st[0]);
	first = hs->n > KMMU_SS_HIST ? hs->n - KMMU_SS_HIST : 0;
	for (k = first; k < hs->n && off < len; k++) {
		struct kmmu_ss_op *op = &hs->ops[k % KMMU_SS_HIST];
		/* Started (odd seq published) between the two reads, or in flight at the first. */
		bool raced = KMMU_SS_SEQ(op->before) >= lo && KMMU_SS_SEQ(op->before) <= hi;

		h->state_text(op->before, st[0], sizeof(st[0]));
		h->state_text(op->after, st[1], sizeof(st[1]));
		h->op_text(op, tail, sizeof(tail));
		off += snprintf(buf + off, len - off, " [%s%s at %.6fs gseq %llu: %s -> %s%s]",
				raced ? "RACED " : "", h->op_names[op->kind], op->t,
				(unsigned long long)op->gseq, st[0], st[1], tail);
	}
}

bool kmmu_ss_check_exit(struct kmmu_ss_host *h, int vcpu, uint64_t i, uint64_t at,
			bool is_write, uint64_t ro, uint64_t *s, uint64_t *lc,
			char *hist, size_t len)
{
	bool wrong;

	pthread_mutex_lock(&h->lock);
	*s = h->state[i];
	*lc = h->last_change[i];
	wrong = kmmu_ss_exit_wrong(*s, *lc, h->run_gseq[vcpu], at, is_write, ro);
	if (wrong)
		kmmu_ss_history(h, i, KMMU_SS_SEQ(*s), KMMU_SS_SEQ(*s), hist, len);
	pthread_mutex_unlock(&h->lock);
	return wrong;
}

void kmmu_ss_fail_context(struct kmmu_ss_host *h, const struct kmmu_ucall_msg *m,
			  const char *more, char *buf, size_t len)
{
	uint64_t i = m->args[1];
	char s1[80], s2[80];
	size_t off;

	/* Every guest FAIL of these tests passes (gpa, slot, state1, state2, ...). */
	if (m->nr != KMMU_UCALL_FAIL || m->nr_args < 4 || i >= h->nr)
		return;
	h->state_text(m->args[2], s1, sizeof(s1));
	h->state_text(m->args[3], s2, sizeof(s2));
	off = snprintf(buf, len, "guest saw slot state %s before the access, %s after; %s",
		       s1, s2, more);
	if (off >= len)
		return;
	pthread_mutex_lock(&h->lock);
	kmmu_ss_history(h, i, KMMU_SS_SEQ(m->args[2]), KMMU_SS_SEQ(m->args[3]), buf + off,
			len - off);
	pthread_mutex_unlock(&h->lock);
}
