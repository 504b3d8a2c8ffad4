// SPDX-License-Identifier: GPL-2.0
/*
 * huge_mapping_test's host side that every test shares: the backing
 * buffers (THP, 4K anonymous, hugetlb, memfd) and the slots on them, the
 * guest's expectations, the VM and its vCPUs' handlers, the steps the
 * host asks of the guest, memslot placement, the host's own check of
 * each slot, and the hugetlb reservation (restored on every exit path).
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

const char *const hm_kind_names[] = {
	"THP", "anon 4K", "hugetlb 2M", "memfd private", "memfd shared",
};

uint8_t *hm_hva(struct hm_ctx *c, const struct hm_slot *s)
{
	return c->buf[s->buf].base + s->off;
}

uint64_t hm_w0(const uint8_t *p)
{
	return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

static uint64_t hm_w1(const uint8_t *p)
{
	return __atomic_load_n((const uint64_t *)(p + HM_W1), __ATOMIC_RELAXED);
}

void hm_put(uint8_t *p, uint64_t v)
{
	__atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)(p + HM_W1), hm_tail(v), __ATOMIC_RELAXED);
}

/* A value this test writes (or the MMIO poison)? */
static bool hm_tagged(uint64_t v)
{
	uint64_t tag = v >> 56;

	return v == HM_POISON || tag == HM_TAG_GUEST || tag == HM_TAG_HOST ||
	       tag == HM_TAG_FILE || tag == HM_TAG_FOREIGN;
}

/* What a value is, for failure reports. */
void hm_describe(struct hm_ctx *c, uint64_t v, char *buf, size_t len)
{
	uint64_t tag = v >> 56, s = (v >> 48) & 0xff, page = (v >> 24) & 0xffffff;
	uint64_t gen = v & 0xffffff;
	const char *name = s < (uint64_t)c->nr_slots ? c->slot[s].name : "?";

	if (!v)
		snprintf(buf, len, "zero");
	else if (v == HM_POISON)
		snprintf(buf, len, "the MMIO poison (no memslot)");
	else if (tag == HM_TAG_GUEST || tag == HM_TAG_HOST)
		snprintf(buf, len, "the %s's data of slot %s page %llu generation %llu",
			 tag == HM_TAG_GUEST ? "guest" : "host", name,
			 (unsigned long long)page, (unsigned long long)gen);
	else if (tag == HM_TAG_FILE)
		snprintf(buf, len, "the memfd file's content of page %llu (slot %s)",
			 (unsigned long long)page, name);
	else if (tag == HM_TAG_FOREIGN)
		snprintf(buf, len, "host memory outside every slot (buffer %llu page %llu)",
			 (unsigned long long)s, (unsigned long long)page);
	else
		snprintf(buf, len, "no value this test writes");
}

/*
 * Children of this process (the trace capture's janitor) get none of the
 * buffer: shared copy-on-write with a child, a THP would be split at the
 * next store (do_huge_pmd_wp_page) and every store would copy.
 */
static int hm_buf_dontfork(struct hm_buf *b, char *err, size_t len)
{
	if (!madvise(b->raw, b->raw_size, MADV_DONTFORK))
		return 0;
	snprintf(err, len, "madvise(MADV_DONTFORK): %s", strerror(errno));
	return -errno;
}

/*
 * Allocates a buffer of @size bytes (2M multiple) at a 2M-aligned address,
 * its own VMA: PROT_NONE guards on both sides keep it from merging with a
 * neighbour, so smaps' AnonHugePages of its VMA counts its THPs alone.
 */
int hm_buf_alloc(struct hm_ctx *c, enum hm_kind kind, size_t size, char *err, size_t len)
{
	struct hm_buf *b = &c->buf[c->nr_bufs];
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, prot = PROT_READ | PROT_WRITE;
	size_t head;

	if (c->nr_bufs == HM_MAX_BUFS) {
		snprintf(err, len, "too many buffers");
		return -ENOSPC;
	}
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->kind = kind;
	b->size = size;
	if (kind == HM_BK_HUGETLB) {
		/* hugetlb mappings are aligned and never merge. */
		b->raw = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			      MAP_HUGE_2MB, -1, 0);
		if (b->raw == MAP_FAILED) {
			snprintf(err, len, "mmap(MAP_HUGETLB) of %zu MiB: %s", size >> 20,
				 strerror(errno));
			return -errno;
		}
		b->raw_size = size;
		b->base = b->raw;
		c->nr_bufs++;
		return hm_buf_dontfork(b, err, len);
	}
	b->raw_size = size + 2 * HM_HUGE;
	b->raw = mmap(NULL, b->raw_size, PROT_NONE, flags, -1, 0);
	if (b->raw == MAP_FAILED) {
		snprintf(err, len, "mmap of %zu MiB: %s", b->raw_size >> 20, strerror(errno));
		return -errno;
	}
	b->base = (uint8_t *)(((uintptr_t)b->raw + HM_HUGE) & ~(HM_HUGE - 1));
	head = b->base - b->raw;
	c->nr_bufs++;	/* freed by the teardown from here on */
	if (kind == HM_BK_MEMFD_PRIVATE || kind == HM_BK_MEMFD_SHARED) {
		b->fd = memfd_create("kmmu-huge", MFD_CLOEXEC);
		if (b->fd < 0 || ftruncate(b->fd, size)) {
			snprintf(err, len, "memfd of %zu MiB: %s", size >> 20, strerror(errno));
			return -errno;
		}
		flags = (kind == HM_BK_MEMFD_SHARED ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED;
		if (mmap(b->base, size, prot, flags, b->fd, 0) == MAP_FAILED) {
			snprintf(err, len, "mmap of the memfd: %s", strerror(errno));
			return -errno;
		}
		return hm_buf_dontfork(b, err, len);
	}
	if (mprotect(b->base, size, prot) ||
	    madvise(b->base, size, kind == HM_BK_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
		snprintf(err, len, "mprotect/madvise of %zu MiB (head %zu): %s", size >> 20, head,
			 strerror(errno));
		return -errno;
	}
	return hm_buf_dontfork(b, err, len);
}

void hm_bufs_free(struct hm_ctx *c)
{
	int i;

	for (i = 0; i < c->nr_bufs; i++) {
		if (c->buf[i].raw && c->buf[i].raw != MAP_FAILED)
			munmap(c->buf[i].raw, c->buf[i].raw_size);
		if (c->buf[i].fd >= 0)
			close(c->buf[i].fd);
	}
	c->nr_bufs = 0;
}

/* Slot @name: buffer @buf at @off, @size bytes, first placed at @gpa. */
struct hm_slot *hm_slot_def(struct hm_ctx *c, const char *name, int buf, uint64_t off,
			    uint64_t size, uint64_t gpa)
{
	struct hm_slot *s = &c->slot[c->nr_slots];

	s->name = name;
	s->id = HM_SLOT_ID0 + c->nr_slots;
	s->buf = buf;
	s->off = off;
	s->size = size;
	s->gpa = gpa;
	c->nr_slots++;
	return s;
}

/* The guest's expectation of one slot page (and the host's copy). */
void hm_set_exp_page(struct hm_ctx *c, int s, uint64_t page, uint64_t v)
{
	__atomic_store_n(&c->slot[s].exp[page], v, __ATOMIC_RELEASE);
}

/* The host page at @hva now holds @v: every slot that maps it expects it. */
void hm_set_exp_hva(struct hm_ctx *c, const uint8_t *hva, uint64_t v)
{
	int s;

	for (s = 0; s < c->nr_slots; s++) {
		const uint8_t *h = hm_hva(c, &c->slot[s]);

		if (hva >= h && hva < h + c->slot[s].size)
			hm_set_exp_page(c, s, (hva - h) / HM_PAGE, v);
	}
}

/* Publishes where the guest finds slot @s (after the memslot changed). */
static void hm_publish(struct hm_ctx *c, int s)
{
	c->sh->slot[s].gpa = c->slot[s].gpa;
	__atomic_store_n(&c->sh->slot[s].size, c->slot[s].present ? c->slot[s].size : 0,
			 __ATOMIC_RELEASE);
}

/* Shared memory: the header and every slot's expectations. */
static int hm_shared_setup(struct hm_ctx *c, char *err, size_t len)
{
	int s;

	c->sh = kmmu_vm_alloc_shared(c->vm, sizeof(*c->sh), &c->sh_gva);
	if (!c->sh) {
		snprintf(err, len, "shared memory for the header");
		return -ENOMEM;
	}
	c->sh->nr_slots = c->nr_slots;
	for (s = 0; s < c->nr_slots; s++) {
		c->slot[s].exp = kmmu_vm_alloc_shared(c->vm, c->slot[s].size / HM_PAGE * 8,
						      &c->slot[s].exp_gva);
		if (!c->slot[s].exp) {
			snprintf(err, len, "shared memory for slot %s's expectations",
				 c->slot[s].name);
			return -ENOMEM;
		}
		c->sh->slot[s].exp_gva = c->slot[s].exp_gva;
	}
	return 0;
}

static size_t hm_shared_size(struct hm_ctx *c)
{
	size_t n = sizeof(struct hm_shared) + HM_PAGE;
	int s;

	for (s = 0; s < c->nr_slots; s++)
		n += (c->slot[s].size / HM_PAGE * 8 + HM_PAGE - 1) & ~(HM_PAGE - 1);
	return n;
}

/*
 * Ends the reference check: 0, or non-zero (the checker said why).  No
 * memslot ioctl may run meanwhile: the runtime's hook stops logging first.
 */
int hm_trace_finish(struct hm_ctx *c, struct kmmu_trace_session **t)
{
	int r;

	atomic_store(&c->log, NULL);
	if (!*t)
		return 0;
	r = kmmu_trace_session_finish(*t, NULL);
	*t = NULL;
	return r;
}

/* ---- host: the VM ---- */

static uint64_t hm_sync(struct kmmu_vcpu *vcpu, uint64_t value, void *ctx)
{
	struct hm_ctx *c = ctx;

	if (value == HM_SYNC_YIELD) {
		/* A sweeping vCPU gives the host's threads the CPU now and then. */
		sched_yield();
		return 0;
	}
	return kmmu_gate_arrive(&c->gate);
}

static void hm_fail_context(struct kmmu_vcpu *vcpu, const struct kmmu_ucall_msg *m,
			    char *buf, size_t len, void *ctx)
{
	struct hm_ctx *c = ctx;
	size_t off;
	char d[160];
	int i;

	off = snprintf(buf, len, "the host was at: %s", c->phase);
	if (m->nr < KMMU_UCALL_ASSERT)
		return;
	if (m->nr_args >= 1 && m->args[0] < (uint64_t)c->nr_slots && off < len)
		off += snprintf(buf + off, len - off, "; slot %llu is '%s' (memslot %u, %s)",
				(unsigned long long)m->args[0], c->slot[m->args[0]].name,
				c->slot[m->args[0]].id, hm_kind_names[c->buf[c->slot[m->args[0]].buf].kind]);
	/* Values among the arguments (addresses and indexes have no tag). */
	for (i = 1; i < m->nr_args && off < len; i++) {
		uint64_t v = m->args[i];

		if (!hm_tagged(v) && hm_tagged(hm_tail(v)))
			v = hm_tail(v);		/* a page's last word */
		if (!hm_tagged(v))
			continue;
		hm_describe(c, v, d, sizeof(d));
		off += snprintf(buf + off, len - off, "; %#llx is %s%s",
				(unsigned long long)m->args[i], v != m->args[i] ? "the last word of " : "", d);
	}
}

/* The mprotect() step: EFAULT on the verifier while a page is read-only. */
static int hm_run_error(struct kmmu_vcpu *vcpu, int err, void *ctx)
{
	struct hm_ctx *c = ctx;
	uint8_t *p = atomic_load(&c->ro_page);

	if (err != EFAULT || !p || kmmu_vcpu_id(vcpu) != atomic_load(&c->ro_vcpu)) {
		atomic_fetch_add(&c->other_run_errors, 1);
		return -1;
	}
	/* KVM could not get a writable page: give it one and let the guest retry. */
	if (mprotect(p, c->ro_len, PROT_READ | PROT_WRITE)) {
		kmmu_vcpu_fail(vcpu, "mprotect(PROT_READ|PROT_WRITE) after the EFAULT: %s",
			       strerror(errno));
		return -1;
	}
	atomic_store(&c->ro_page, NULL);
	c->efault_at = __atomic_load_n(&c->sh->verify_at, __ATOMIC_ACQUIRE);
	atomic_fetch_add(&c->efaults, 1);
	return 0;
}

static int hm_mmio(struct kmmu_vcpu *vcpu, uint64_t gpa, uint8_t *data, uint32_t len,
		   bool is_write, void *ctx)
{
	struct hm_ctx *c = ctx;
	uint64_t poison = HM_POISON;
	int i;

	for (i = 0; i < 3; i++) {
		if (gpa >= c->mmio_lo[i] && gpa < c->mmio_hi[i] && !is_write && len <= 8) {
			memcpy(data, &poison, len);
			atomic_fetch_add(&c->mmio_exits, 1);
			return 0;
		}
	}
	kmmu_vcpu_fail(vcpu, "MMIO %s of %u bytes at gpa %#llx, which should be memory (while %s)",
		       is_write ? "store" : "load", len, (unsigned long long)gpa, c->phase);
	return -1;
}

static void hm_log_memslot(void *ctx, uint64_t issued_ns, uint32_t slot, uint32_t flags,
			   uint64_t gpa, uint64_t size, uint64_t hva, int ret)
{
	struct hm_ctx *c = ctx;
	struct kmmu_trace_log *log = atomic_load(&c->log);

	if (log)
		kmmu_trace_action_memslot(log, issued_ns, slot, flags, gpa, size, hva, ret);
}

/*
 * The VM: two vCPUs, the shared region for @c's slots, the window at
 * @win (@win_size bytes) mapped twice (2M view and 4K view), and @win2
 * likewise when not 0.  vCPUs are started and parked at the gate.
 */
int hm_vm_start(struct hm_ctx *c, struct kmmu_trace_session *trace, uint64_t win,
		uint64_t win2, uint64_t win_size, char *err, size_t len)
{
	struct kmmu_vm_opts vo = { .nr_vcpus = HM_NR_VCPUS };
	struct kmmu_vm_handlers h = { 0 };
	uint64_t w[2] = { win, win2 };
	int r, i;

	vo.shared_size = hm_shared_size(c);
	vo.pt_pages = 1024 + 2 * kmmu_pt_pages_for(win_size) + 64;
	if (trace) {
		atomic_store(&c->log, kmmu_trace_session_log(trace));
		vo.memslot_hook = hm_log_memslot;
		vo.memslot_hook_ctx = c;
	}
	r = __kmmu_vm_create(&c->vm, &vo, err, len);
	if (r)
		return r;
	kmmu_trace_session_vm(trace, kmmu_kvm_cap(kmmu_vm_fd(c->vm), KVM_CAP_MULTI_ADDRESS_SPACE));
	for (i = 0; i < 2; i++) {
		if (!w[i])
			continue;
		if (w[i] + win_size > 1ULL << kmmu_vm_phys_bits(c->vm)) {
			snprintf(err, len, "guest MAXPHYADDR %u is too small", kmmu_vm_phys_bits(c->vm));
			return -E2BIG;
		}
		r = __kmmu_vm_map(c->vm, w[i], w[i], win_size,
				  KMMU_MAP_WRITE | KMMU_MAP_NX | KMMU_MAP_HUGE);
		if (!r)
			r = __kmmu_vm_map(c->vm, w[i] + HM_ALIAS, w[i], win_size,
					  KMMU_MAP_WRITE | KMMU_MAP_NX);
		if (r) {
			snprintf(err, len, "guest page tables: %s", strerror(-r));
			return r;
		}
	}
	r = hm_shared_setup(c, err, len);
	if (r)
		return r;
	c->stats_ok = !kmmu_stats_open(&c->stats, kmmu_vm_fd(c->vm));
	kmmu_gate_init(&c->gate);
	c->gate_init = true;
	h.sync = hm_sync;
	h.fail_context = hm_fail_context;
	h.run_error = hm_run_error;
	h.mmio = hm_mmio;
	h.ctx = c;
	kmmu_vm_set_handlers(c->vm, &h);
	r = __kmmu_vm_start(c->vm, hm_guest, (void *)(uintptr_t)c->sh_gva);
	if (r) {
		snprintf(err, len, "starting the vCPUs: %s", strerror(-r));
		return r;
	}
	c->arrivals = HM_NR_VCPUS;
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r)
		snprintf(err, len, "the vCPUs did not reach the gate: %s",
			 r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return r;
}

/* Opens the gate with @cmd and waits until both vCPUs are back at it. */
int hm_step(struct hm_ctx *c, uint64_t cmd, char *err, size_t len)
{
	int r;

	kmmu_gate_open(&c->gate, cmd);
	c->arrivals += HM_NR_VCPUS;
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r)
		snprintf(err, len, "%s: %s", c->phase,
			 r == -EIO ? kmmu_vm_errors(c->vm) : "the vCPUs did not come back in 120 s");
	return r;
}

int hm_quit(struct hm_ctx *c, char *err, size_t len)
{
	int r;

	snprintf(c->phase, sizeof(c->phase), "ending the guest");
	kmmu_gate_open(&c->gate, HM_QUIT);
	r = __kmmu_vm_wait(c->vm, 60);
	if (r)
		snprintf(err, len, "the vCPUs did not finish: %s",
			 r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return r;
}

int hm_stat(struct hm_ctx *c, const char *name, uint64_t *v)
{
	*v = 0;
	return c->stats_ok ? kmmu_stats_get(&c->stats, name, v) : -ENOENT;
}

/* Adds slot @s at its gpa (or moves it there when present). */
int hm_place(struct hm_ctx *c, int s, uint64_t gpa, bool move, char *err, size_t len)
{
	struct hm_slot *sl = &c->slot[s];
	int r;

	if (move)
		r = kmmu_slot_move(c->vm, sl->id, gpa);
	else
		r = __kmmu_slot_add(c->vm, sl->id, gpa, sl->size, hm_hva(c, sl), 0);
	if (r) {
		snprintf(err, len, "%s slot %s (memslot %u) at gpa %#llx, %llu KiB, hva %p: %s",
			 move ? "moving" : "adding", sl->name, sl->id, (unsigned long long)gpa,
			 (unsigned long long)(sl->size >> 10), hm_hva(c, sl), strerror(-r));
		return r;
	}
	sl->gpa = gpa;
	sl->present = true;
	hm_publish(c, s);
	return 0;
}

int hm_unplace(struct hm_ctx *c, int s, char *err, size_t len)
{
	struct hm_slot *sl = &c->slot[s];
	int r;

	sl->present = false;
	hm_publish(c, s);
	r = kmmu_slot_delete(c->vm, sl->id);
	if (r)
		snprintf(err, len, "deleting slot %s: %s", sl->name, strerror(-r));
	return r;
}

/* Every page of slot @s holds what the guest expects (host view). */
int hm_host_check_slot(struct hm_ctx *c, int s, char *err, size_t len)
{
	struct hm_slot *sl = &c->slot[s];
	uint8_t *h = hm_hva(c, sl);
	uint64_t p, w0, w1, want;
	char d[160];

	for (p = 0; p < sl->size / HM_PAGE; p++) {
		want = sl->exp[p];
		w0 = hm_w0(h + p * HM_PAGE);
		w1 = hm_w1(h + p * HM_PAGE);
		if (w0 == want && w1 == hm_tail(want))
			continue;
		hm_describe(c, w0, d, sizeof(d));
		snprintf(err, len, "%s: the host reads %#llx/%#llx (%s) in slot %s page %llu (gpa %#llx, hva %p), expected %#llx/%#llx",
			 c->phase, (unsigned long long)w0, (unsigned long long)w1, d, sl->name,
			 (unsigned long long)p, (unsigned long long)(sl->gpa + p * HM_PAGE),
			 h + p * HM_PAGE, (unsigned long long)want,
			 (unsigned long long)hm_tail(want));
		return -1;
	}
	return 0;
}

/* Is host page @p of buffer @b mapped by some slot? */
static bool hm_in_slot(struct hm_ctx *c, int b, const uint8_t *p)
{
	int s;

	for (s = 0; s < c->nr_slots; s++)
		if (c->slot[s].buf == b && p >= hm_hva(c, &c->slot[s]) &&
		    p < hm_hva(c, &c->slot[s]) + c->slot[s].size)
			return true;
	return false;
}

/* Buffer memory outside every slot: written once (@fill), then checked. */
int hm_foreign(struct hm_ctx *c, bool fill, char *err, size_t len)
{
	uint64_t p, v;
	int b;
	char d[160];

	for (b = 0; b < c->nr_bufs; b++) {
		for (p = 0; p < c->buf[b].size / HM_PAGE; p++) {
			uint8_t *h = c->buf[b].base + p * HM_PAGE;

			if (hm_in_slot(c, b, h))
				continue;
			v = hm_pat(HM_TAG_FOREIGN, b, p, 0);
			if (fill) {
				hm_put(h, v);
				continue;
			}
			if (hm_w0(h) == v && hm_w1(h) == hm_tail(v))
				continue;
			hm_describe(c, hm_w0(h), d, sizeof(d));
			snprintf(err, len, "%s: host memory that no slot maps changed: buffer %d page %llu (hva %p) holds %#llx (%s), expected %#llx: a guest store went through a mapping beyond its slot",
				 c->phase, b, (unsigned long long)p, h,
				 (unsigned long long)hm_w0(h), d, (unsigned long long)v);
			return -1;
		}
	}
	return 0;
}

/* Writes generation @gen of the host's pattern into every page of slot @s. */
void hm_host_write_slot(struct hm_ctx *c, int s, uint64_t gen)
{
	struct hm_slot *sl = &c->slot[s];
	uint64_t p, v;

	for (p = 0; p < sl->size / HM_PAGE; p++) {
		v = hm_pat(HM_TAG_HOST, s, p, gen);
		hm_put(hm_hva(c, sl) + p * HM_PAGE, v);
		hm_set_exp_page(c, s, p, v);
	}
}

/* ---- hugetlb reservation ---- */

static long hm_read_long(const char *path)
{
	char buf[64];
	long v;

	if (kmmu_ctl_read(path, buf, sizeof(buf)) || kmmu_parse_long(buf, 0, 1L << 40, &v))
		return -1;
	return v;
}

void hm_hugetlb_restore(void *arg)
{
	struct hm_ctx *c = arg;
	char buf[32];

	if (!c->hugetlb_changed)
		return;
	snprintf(buf, sizeof(buf), "%ld", c->hugetlb_old);
	kmmu_ctl_write(HM_HUGETLB_DIR "/nr_hugepages", buf);
	c->hugetlb_changed = false;
}

/*
 * At least @need free 2M hugetlb pages, raising nr_hugepages if there are
 * fewer (restored by hm_hugetlb_restore(), also on signals).  0, or
 * -errno with the reason (a SKIP) in @why.
 */
int hm_hugetlb_reserve(struct hm_ctx *c, long need, char *why, size_t len)
{
	long nr = hm_read_long(HM_HUGETLB_DIR "/nr_hugepages");
	long fr = hm_read_long(HM_HUGETLB_DIR "/free_hugepages");
	char buf[32];
	int r;

	if (nr < 0 || fr < 0) {
		snprintf(why, len, "no 2M hugetlb pages on this kernel (%s unreadable)", HM_HUGETLB_DIR);
		return -ENOENT;
	}
	if (fr >= need)
		return 0;
	c->hugetlb_old = nr;
	c->hugetlb_changed = true;
	kmmu_cleanup_push(hm_hugetlb_restore, c);
	snprintf(buf, sizeof(buf), "%ld", nr + need - fr);
	r = kmmu_ctl_write(HM_HUGETLB_DIR "/nr_hugepages", buf);
	fr = hm_read_long(HM_HUGETLB_DIR "/free_hugepages");
	if (r || fr < need) {
		snprintf(why, len, "%ld free 2M hugetlb pages, %ld needed, and raising nr_hugepages from %ld to %s %s",
			 fr, need, nr, buf, r ? strerror(-r) : "did not free enough (memory fragmented?)");
		hm_hugetlb_restore(c);
		kmmu_cleanup_forget(hm_hugetlb_restore, c);
		return -ENOMEM;
	}
	return 0;
}
