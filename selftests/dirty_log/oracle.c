// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_log_test's oracle: what KVM must report.  Harvests the dirty log
 * (KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG, or the dirty ring) into each
 * slot's bitmap, and with the vCPUs parked compares it with what the
 * guest wrote: every page written since it was last reported must be
 * reported, every report needs a reason.  A finding is -1 with the
 * reason in c->err (dl_fail()); the verdicts are dirty_log_test.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "dirty_log.h"

/* kvm_intel logs dirty pages with PML (a per-vCPU buffer of 512 GPAs). */
bool dl_pml(void)
{
	char v[8];

	return !kmmu_ctl_read("/sys/module/kvm_intel/parameters/pml", v, sizeof(v)) &&
	       (v[0] == 'Y' || v[0] == '1');
}

int dl_fail(struct dl_ctx *c, const char *fmt, ...)
{
	va_list ap;
	size_t off;

	off = snprintf(c->err, sizeof(c->err), "iteration %d, %s/%s: ", c->iter,
		       dl_mode_names[c->mode], dl_backing_names[c->backing]);
	va_start(ap, fmt);
	vsnprintf(c->err + off, sizeof(c->err) - off, fmt, ap);
	va_end(ap);
	return -1;
}

uint64_t dl_gpa(const struct dl_slot *s, uint64_t page)
{
	return DL_GPA + (s->off + page) * DL_PAGE;
}

static volatile uint64_t *dl_word(struct dl_ctx *c, const struct dl_slot *s, uint64_t page,
				  int v)
{
	return (volatile uint64_t *)(c->mem + (s->off + page) * DL_PAGE + 64 * v);
}

/* Bits at or beyond the slot's last page: KVM must never set them. */
static int dl_check_tail(struct dl_ctx *c, const struct dl_slot *s, const uint64_t *bm,
			 const char *what)
{
	uint64_t rem = s->npages % 64, w = s->npages / 64;

	if (rem && bm[w] >> rem)
		return dl_fail(c, "%s of slot %s (%llu pages) has bits beyond its last page: word %llu = %#llx",
			       what, dl_slot_names[s - c->slot], (unsigned long long)s->npages,
			       (unsigned long long)w, (unsigned long long)bm[w]);
	return 0;
}

/* ---- dirty ring ---- */

static void dl_ring_gfn(void *ctx, uint32_t id, uint64_t off)
{
	struct dl_ctx *c = ctx;
	struct dl_slot *s = NULL;
	int i;

	c->ring_round++;
	c->ring_entries++;
	for (i = 0; i < DL_NR_SLOTS; i++)
		if (c->slot[i].id == id)
			s = &c->slot[i];
	if (!s || off >= s->npages) {
		if (!c->ring_err[0])
			snprintf(c->ring_err, sizeof(c->ring_err),
				 "dirty ring entry for memslot %#x offset %llu: %s", id,
				 (unsigned long long)off,
				 s ? "beyond the slot's last page" : "not a logged slot of the test");
		return;
	}
	/* From before the slot's logging was switched off or the slot deleted. */
	if (!s->present || !s->logging) {
		c->ring_stale++;
		return;
	}
	dl_set_bit(s->bm, off);
}

/* Under ring_lock: collect every vCPU's ring, reset, compare the counts. */
int dl_ring_collect_locked(struct dl_ctx *c, char *err, size_t len)
{
	int v, r;

	for (v = 0; v < c->nr_vcpus; v++) {
		r = kmmu_vcpu_dirty_ring_collect(kmmu_vm_vcpu(c->vm, v), dl_ring_gfn, c);
		if (r < 0) {
			snprintf(err, len, "collecting vcpu %d's dirty ring: %s", v, strerror(-r));
			return r;
		}
	}
	if (c->ring_err[0]) {
		snprintf(err, len, "%s", c->ring_err);
		return -EINVAL;
	}
	r = kmmu_vm_reset_dirty_rings(c->vm);
	if (r < 0 || (uint64_t)r != c->ring_round) {
		snprintf(err, len, "KVM_RESET_DIRTY_RINGS reset %d entries (%s), %llu were collected",
			 r, r < 0 ? strerror(-r) : "ok", (unsigned long long)c->ring_round);
		return -EIO;
	}
	c->ring_round = 0;
	return 0;
}

/* ---- harvest ---- */

/* One KVM_CLEAR_DIRTY_LOG of pages [@first, @end) with the bits of the last GET. */
static int dl_clear_call(struct dl_ctx *c, struct dl_slot *s, uint64_t first, uint64_t end,
			 uint64_t *cleared)
{
	uint64_t p;
	int r;

	r = kmmu_vm_clear_dirty_log(c->vm, s->id, s->tmp + first / 64, first, end - first);
	c->clear_calls++;
	if (r)
		return dl_fail(c, "KVM_CLEAR_DIRTY_LOG of slot %s pages [%llu, %llu): %s",
			       dl_slot_names[s - c->slot], (unsigned long long)first,
			       (unsigned long long)end, strerror(-r));
	for (p = first; p < end; p++)
		dl_set_bit(cleared, p);
	return 0;
}

/*
 * Manual protect: clear what the GET reported, in one call for the whole
 * slot, in two calls split at a 64-page boundary, or only a random
 * 64-aligned sub-range (or one reaching the slot's unaligned end).  What
 * the GET reported and no call cleared must be reported by the next GET.
 */
static int dl_clear(struct dl_ctx *c, struct dl_slot *s)
{
	uint64_t words = kmmu_dirty_bitmap_words(s->npages), r = dl_rand(&c->rng), a, b, p;
	uint64_t cleared[kmmu_dirty_bitmap_words(DL_MEM_PAGES)];

	memset(cleared, 0, sizeof(cleared));
	switch (r % 4) {
	case 2:
		a = 1 + (r >> 8) % (words - 1);
		/* Either order: KVM must not care. */
		if ((r >> 40) & 1) {
			if (dl_clear_call(c, s, a * 64, s->npages, cleared) ||
			    dl_clear_call(c, s, 0, a * 64, cleared))
				return -1;
		} else if (dl_clear_call(c, s, 0, a * 64, cleared) ||
			   dl_clear_call(c, s, a * 64, s->npages, cleared)) {
			return -1;
		}
		break;
	case 3:
		a = (r >> 8) % words;
		b = a + 1 + (r >> 24) % (words - a);
		if (dl_clear_call(c, s, a * 64, b == words ? s->npages : b * 64, cleared))
			return -1;
		c->partial_clears++;
		break;
	default:
		if (dl_clear_call(c, s, 0, s->npages, cleared))
			return -1;
	}
	for (p = 0; p < s->npages; p++)
		if (dl_test_bit(s->tmp, p) && !dl_test_bit(cleared, p))
			s->ps_next[p] |= PS_STICKY;
	return 0;
}

/* Was data page @p changed since the last verify by a write complete before the harvest? */
static bool dl_strict_change(struct dl_ctx *c, const struct dl_slot *s, uint64_t p)
{
	uint64_t d = s->first + p, e;
	int v;

	for (v = 0; v < c->nr_vcpus; v++) {
		e = __atomic_load_n(&c->exp[v * DL_DATA_PAGES + d], __ATOMIC_ACQUIRE);
		if (e != c->snap[v * DL_DATA_PAGES + d] && DL_VAL_SEQ(e) < c->progress[v] &&
		    DL_VAL_GEN(e) >= s->tracked_from)
			return true;
	}
	return false;
}

/*
 * KMMU_DIRTY_INJECT=drop-one: a page the guest wrote before a harvest is
 * hidden from that harvest and every later one, as if KVM never marked it
 * dirty again (dl_verify() hides it).  =drop-owed: the same for a page
 * the guest wrote only after the previous harvest and not since, as if
 * KVM had not logged a write that came after it write-protected the page
 * (a vCPU writing on through a stale TLB entry).
 */
static bool dl_inject_pick(struct dl_ctx *c, const struct dl_slot *s, uint64_t p)
{
	if (!dl_test_bit(s->bm, p))
		return false;
	if (!strcmp(dl_opts.inject, "drop-owed"))
		return (s->ps[p] & PS_OWED) && !dl_strict_change(c, s, p);
	return dl_strict_change(c, s, p);
}

static void dl_inject_drop(struct dl_ctx *c)
{
	int i;
	uint64_t p;

	if (!dl_opts.inject || c->inject_done || c->iter < 1)
		return;
	for (i = 0; i < DL_NR_DATA_SLOTS; i++) {
		struct dl_slot *s = &c->slot[i];

		if (!s->present || !s->logging)
			continue;
		for (p = 0; p < s->npages; p++)
			if (dl_inject_pick(c, s, p)) {
				c->inject_done = true;
				c->inject_slot = i;
				c->inject_page = p;
				ksft_print_msg("INJECTED: slot %s page %llu (gpa %#llx) hidden from this harvest on\n",
					       dl_slot_names[i], (unsigned long long)p,
					       (unsigned long long)dl_gpa(s, p));
				return;
			}
	}
}

int dl_harvest(struct dl_ctx *c)
{
	char err[512];
	uint64_t w;
	int i, r;

	c->harvests++;
	if (c->mode == DL_RING) {
		pthread_mutex_lock(&c->ring_lock);
		r = dl_ring_collect_locked(c, err, sizeof(err));
		pthread_mutex_unlock(&c->ring_lock);
		if (r)
			return dl_fail(c, "%s", err);
		dl_inject_drop(c);
		return 0;
	}
	for (i = 0; i < DL_NR_SLOTS; i++) {
		struct dl_slot *s = &c->slot[i];

		if (!s->present)
			continue;
		r = kmmu_vm_get_dirty_log(c->vm, s->id, s->tmp);
		if (!s->logging) {
			if (r != -ENOENT)
				return dl_fail(c, "KVM_GET_DIRTY_LOG of slot %s, whose logging is off, returned %s, not ENOENT",
					       dl_slot_names[i], r ? strerror(-r) : "success");
			continue;
		}
		if (r)
			return dl_fail(c, "KVM_GET_DIRTY_LOG of slot %s: %s", dl_slot_names[i],
				       strerror(-r));
		if (dl_check_tail(c, s, s->tmp, "KVM_GET_DIRTY_LOG"))
			return -1;
		for (w = 0; w < kmmu_dirty_bitmap_words(s->npages); w++)
			s->bm[w] |= s->tmp[w];
		if ((c->mode == DL_CLEAR || c->mode == DL_CLEAR_INIT) && dl_clear(c, s))
			return -1;
	}
	dl_inject_drop(c);
	return 0;
}

/* ---- verify (vCPUs parked) ---- */

static int dl_verify_data(struct dl_ctx *c, struct dl_slot *s)
{
	const char *name = dl_slot_names[s - c->slot];
	uint64_t p, d, e, m;
	bool changed, need, strict, late, in;
	int v, strict_v, writers;
	uint8_t ps;

	for (p = 0; p < s->npages; p++) {
		d = s->first + p;
		changed = need = strict = late = false;
		strict_v = -1;
		writers = 0;
		for (v = 0; v < c->nr_vcpus; v++) {
			e = c->exp[v * DL_DATA_PAGES + d];
			m = *dl_word(c, s, p, v);
			if (m != e)
				return dl_fail(c, "slot %s page %llu (gpa %#llx): vcpu %d's word holds %#llx in host memory, the guest wrote %#llx there",
					       name, (unsigned long long)p,
					       (unsigned long long)dl_gpa(s, p), v,
					       (unsigned long long)m, (unsigned long long)e);
			if (e == c->snap[v * DL_DATA_PAGES + d])
				continue;
			changed = true;
			writers++;
			if (DL_VAL_GEN(e) < s->tracked_from || DL_VAL_SEQ(e) >= c->progress[v])
				late = true;
			if (DL_VAL_GEN(e) >= s->tracked_from) {
				need = true;
				if (DL_VAL_SEQ(e) < c->progress[v] && !strict) {
					strict = true;
					strict_v = v;
				}
			}
		}
		if (!s->present) {
			if (changed)
				return dl_fail(c, "slot %s page %llu changed while the slot was deleted",
					       name, (unsigned long long)p);
			continue;
		}
		if (!s->logging) {
			c->untracked += changed;
			continue;
		}
		/*
		 * A write complete before the harvest may still be reported
		 * one harvest late (owed) where KVM marks the page after the
		 * guest could write it: the fast page fault path marks after
		 * its cmpxchg made the SPTE writable, so another vCPU's write
		 * can slip in before the mark; PML logs writes in a per-vCPU
		 * buffer that the harvest's kick flushes asynchronously.  With
		 * the vCPUs parked before the harvest nothing is in flight.
		 */
		if (strict && !c->quiesced && (c->pml || writers > 1))
			strict = false;
		in = dl_test_bit(s->bm, p);
		ps = s->ps[p];
		if (changed && !in) {
			if (strict) {
				e = c->exp[strict_v * DL_DATA_PAGES + d];
				return dl_fail(c, "MISSED dirty page: slot %s page %llu (gpa %#llx) was written by vcpu %d (value %#llx: generation %llu, write %llu; %llu writes were complete before the harvest) while logging was on (since generation %llu), and no %s reported it",
					       name, (unsigned long long)p,
					       (unsigned long long)dl_gpa(s, p), strict_v,
					       (unsigned long long)e,
					       (unsigned long long)DL_VAL_GEN(e),
					       (unsigned long long)DL_VAL_SEQ(e),
					       (unsigned long long)c->progress[strict_v],
					       (unsigned long long)s->tracked_from,
					       c->mode == DL_RING ? "dirty ring entry" :
					       "KVM_GET_DIRTY_LOG");
			}
			if (need) {
				s->ps_next[p] |= PS_OWED;
				c->owed++;
			} else {
				c->untracked++;
			}
		}
		if (!in && (ps & PS_OWED))
			return dl_fail(c, "MISSED dirty page: slot %s page %llu (gpa %#llx) was written during the previous harvest, which did not report it, and this one does not either",
				       name, (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
		if (!in && (ps & PS_STICKY))
			return dl_fail(c, "slot %s page %llu (gpa %#llx): the previous KVM_GET_DIRTY_LOG reported it and no KVM_CLEAR_DIRTY_LOG cleared it, but this GET does not report it",
				       name, (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
		if (!in && s->all_due)
			return dl_fail(c, "slot %s page %llu (gpa %#llx): the first KVM_GET_DIRTY_LOG after logging went on with KVM_DIRTY_LOG_INITIALLY_SET does not report it",
				       name, (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
		if (in && changed) {
			c->reported++;
			c->strict += strict;
		} else if (in && !(ps & (PS_OWED | PS_STICKY | PS_NEXT_OK)) && !s->all_due &&
			   !s->fresh) {
			if (ps & PS_EXTRA)
				return dl_fail(c, "slot %s page %llu (gpa %#llx) reported dirty by two harvests in a row although the guest did not touch it since the first (a dirty bit that does not clear); logging on since round %d, last zap in round %d",
					       name, (unsigned long long)p,
					       (unsigned long long)dl_gpa(s, p), s->on_since,
					       s->zapped_at);
			s->ps_next[p] |= PS_EXTRA;
			c->extras++;
		}
		if (late)
			s->ps_next[p] |= PS_NEXT_OK;
		/* Every report needs a fault, but not the bits KVM set itself. */
		if (in && !(ps & PS_STICKY) && !s->all_due)
			c->reports++;
	}
	return 0;
}

static int dl_verify_ro(struct dl_ctx *c, struct dl_slot *s)
{
	unsigned int streak;
	uint64_t p, m;
	int v;

	for (p = 0; p < s->npages; p++) {
		for (v = 0; v < c->nr_vcpus; v++) {
			m = *dl_word(c, s, p, v);
			if (m != DL_RO_VAL(p))
				return dl_fail(c, "read-only page %llu (gpa %#llx) holds %#llx at vcpu %d's word in host memory, not its pattern: a write landed there",
					       (unsigned long long)p, (unsigned long long)dl_gpa(s, p),
					       (unsigned long long)m, v);
		}
		if (!s->present || !s->logging)
			continue;
		if (!dl_test_bit(s->bm, p)) {
			if (s->ps[p] & PS_STICKY)
				return dl_fail(c, "slot RO page %llu (gpa %#llx): the previous KVM_GET_DIRTY_LOG reported it and no KVM_CLEAR_DIRTY_LOG cleared it, but this GET does not report it",
					       (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
			if (s->all_due)
				return dl_fail(c, "slot RO page %llu (gpa %#llx): the first KVM_GET_DIRTY_LOG after logging went on with KVM_DIRTY_LOG_INITIALLY_SET does not report it",
					       (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
			continue;
		}
		/* Bits KVM set itself (INITIALLY_SET) or we left set: no fault needed. */
		if (s->all_due || (s->ps[p] & PS_STICKY))
			continue;
		if (p < DL_RO_HOST_PAGES)
			return dl_fail(c, "read-only page %llu (gpa %#llx), which the host maps PROT_READ so KVM cannot map it writable, was reported dirty; the guest only reads it",
				       (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
		if (c->shadow)
			return dl_fail(c, "page %llu of slot RO (gpa %#llx), read-only in the guest's page tables, was reported dirty with shadow paging; the guest only reads it",
				       (unsigned long long)p, (unsigned long long)dl_gpa(s, p));
		/*
		 * TDP: a read fault on writable host memory makes a writable
		 * SPTE, which KVM marks dirty.  Once per SPTE, but every vCPU
		 * that faulted on the page at the same time marks it, and a
		 * vCPU delayed between its mark and its (failing) install
		 * marks it after the first harvest: up to one report per
		 * vCPU in a row, unless the SPTEs were zapped (fresh).
		 */
		streak = s->fresh ? 0 : PS_STREAK(s->ps[p]) + 1;
		if (streak > PS_STREAK_MAX(c->nr_vcpus))
			return dl_fail(c, "page %llu of slot RO (gpa %#llx), which the guest only reads, reported dirty by %u harvests in a row with %d vCPUs, logging on since round %d and no SPTE zapped since round %d (a dirty bit that does not clear)",
				       (unsigned long long)p, (unsigned long long)dl_gpa(s, p),
				       streak, c->nr_vcpus, s->on_since, s->zapped_at);
		s->ps_next[p] |= streak << PS_STREAK_SHIFT;
		c->ro_extras++;
		c->reports++;
	}
	return 0;
}

int dl_verify(struct dl_ctx *c)
{
	int i;

	if (c->inject_done)
		dl_clear_bit(c->slot[c->inject_slot].bm, c->inject_page);
	for (i = 0; i < DL_NR_SLOTS; i++) {
		struct dl_slot *s = &c->slot[i];
		uint8_t *t;

		if (dl_check_tail(c, s, s->bm, "the harvest") ||
		    (i == DL_RO ? dl_verify_ro(c, s) : dl_verify_data(c, s)))
			return -1;
		s->all_due = false;
		s->fresh = false;
		memset(s->bm, 0, kmmu_dirty_bitmap_words(s->npages) * 8);
		t = s->ps;
		s->ps = s->ps_next;
		s->ps_next = t;
		memset(s->ps_next, 0, s->npages);
	}
	memcpy(c->snap, c->exp, (size_t)c->nr_vcpus * DL_DATA_PAGES * 8);
	return 0;
}
