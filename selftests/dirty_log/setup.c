// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_log_test's setup and teardown: the slot layout, the backing
 * (4K, THP, hugetlb with its reservation), the VM and its vCPUs, KVM's
 * binary stats, populating the slots and finishing the run.
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
#include "kmmu/test_run.h"
#include "kmmu/trace_session.h"

/* Offset (pages from DL_GPA and the backing) and size of each slot. */
const uint64_t dl_slot_off[DL_NR_SLOTS] = { 0, 1024 + 32, 3072 };
const uint64_t dl_slot_pages[DL_NR_SLOTS] = { 1024, 1536 + 3, 1024 };
const char *const dl_slot_names[DL_NR_SLOTS] = { "A", "B", "RO" };

const char *const dl_mode_names[] = { "get", "clear", "clear-init", "ring" };
const char *const dl_backing_names[] = { "4k", "thp", "hugetlb" };

/* ---- stats ---- */

static int dl_stats_open(struct dl_ctx *c)
{
	int v;

	if (kmmu_stats_open(&c->vm_stats, kmmu_vm_fd(c->vm)))
		return -1;
	for (v = 0; v < c->nr_vcpus; v++)
		if (kmmu_stats_open(&c->vcpu_stats[v], kmmu_vcpu_fd(kmmu_vm_vcpu(c->vm, v)))) {
			while (v--)
				kmmu_stats_close(&c->vcpu_stats[v]);
			kmmu_stats_close(&c->vm_stats);
			return -1;
		}
	c->stats_open = true;
	return 0;
}

void dl_stats_close(struct dl_ctx *c)
{
	int v;

	if (!c->stats_open)
		return;
	for (v = 0; v < c->nr_vcpus; v++)
		kmmu_stats_close(&c->vcpu_stats[v]);
	kmmu_stats_close(&c->vm_stats);
	c->stats_open = false;
}

/* A vCPU statistic summed over the vCPUs; false if KVM lacks it. */
bool dl_vcpu_stat(struct dl_ctx *c, const char *name, uint64_t *sum)
{
	uint64_t x;
	int v;

	*sum = 0;
	for (v = 0; c->stats_open && v < c->nr_vcpus; v++) {
		if (kmmu_stats_get(&c->vcpu_stats[v], name, &x))
			return false;
		*sum += x;
	}
	return c->stats_open;
}

int64_t dl_vm_stat(struct dl_ctx *c, const char *name)
{
	uint64_t x;

	if (!c->stats_open || kmmu_stats_get(&c->vm_stats, name, &x))
		return -1;
	return x;
}

/* ---- setup ---- */

/* "HugePages_Free:" etc. from /proc/meminfo, or -1. */
static long dl_meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	size_t n = strlen(key);
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/*
 * hugetlbfs backing needs DL_MEM_PAGES / 512 free huge pages.  Where there
 * are fewer and we are root, raise vm.nr_hugepages for the test; the
 * janitor puts the old value back even if the test dies.  1 (skip, reason
 * in c->err) where that cannot be done.
 */
int dl_hugetlb_reserve(struct dl_ctx *c, struct kmmu_janitor *jan, bool *jan_started)
{
	const char *path = "/proc/sys/vm/nr_hugepages";
	long need = DL_MEM_PAGES / DL_HUGE_PAGES, free_pages = dl_meminfo("HugePages_Free");
	char old[32], val[32];
	long total;
	int r;

	if (free_pages >= need)
		return 0;
	if (geteuid() || kmmu_ctl_read(path, old, sizeof(old))) {
		snprintf(c->err, sizeof(c->err), "hugetlbfs backing needs %ld free 2M huge pages (HugePages_Free %ld) and only root may add them",
			 need, free_pages);
		return 1;
	}
	r = kmmu_janitor_start(jan);
	if (r) {
		snprintf(c->err, sizeof(c->err), "starting the janitor: %s", strerror(-r));
		return -1;
	}
	*jan_started = true;
	r = kmmu_janitor_push(jan, KMMU_UNDO_WRITE, path, old);
	if (r) {
		snprintf(c->err, sizeof(c->err), "recording how to restore %s: %s", path, strerror(-r));
		return -1;
	}
	total = strtol(old, NULL, 10) + need - (free_pages > 0 ? free_pages : 0);
	snprintf(val, sizeof(val), "%ld", total);
	r = kmmu_ctl_write(path, val);
	free_pages = dl_meminfo("HugePages_Free");
	if (r || free_pages < need) {
		snprintf(c->err, sizeof(c->err), "the kernel could not provide %ld huge pages (%s = %s: %s, HugePages_Free %ld)",
			 need, path, val, r ? strerror(-r) : "ok", free_pages);
		return 1;
	}
	return 0;
}

/* The backing: 2M aligned; THP advised, or not, or hugetlbfs.  1: skip. */
static int dl_alloc(struct dl_ctx *c)
{
	size_t size = DL_MEM_PAGES * DL_PAGE, al = DL_HUGE_PAGES * DL_PAGE;
	struct dl_slot *ro = &c->slot[DL_RO];
	uint64_t p, w;
	uint8_t *m;

	if (c->backing == DL_HUGETLB) {
		m = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (m == MAP_FAILED) {
			snprintf(c->err, sizeof(c->err), "mmap of %zu MiB hugetlbfs memory: %s",
				 size >> 20, strerror(errno));
			return 1;
		}
		c->raw = m;
		c->raw_size = size;
	} else {
		m = mmap(NULL, size + al, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return dl_fail(c, "mmap of the backing: %s", strerror(errno));
		c->raw = m;
		c->raw_size = size + al;
		m = (uint8_t *)(((uintptr_t)m + al - 1) & ~(al - 1));
		madvise(m, size, c->backing == DL_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	}
	c->mem = m;
	/*
	 * Populated by the host: a guest read of a page never touched would
	 * map the zero page, and the write after it fault a second time.
	 */
	memset(m, 0, ro->off * DL_PAGE);
	for (p = 0; p < ro->npages; p++)
		for (w = 0; w < DL_PAGE / 8; w++)
			((uint64_t *)(m + (ro->off + p) * DL_PAGE))[w] = DL_RO_VAL(p);
	/* KVM can map these only read-only: they must never be reported. */
	if (mprotect(m + ro->off * DL_PAGE, DL_RO_HOST_PAGES * DL_PAGE, PROT_READ))
		return dl_fail(c, "mprotect of the host-read-only pages: %s", strerror(errno));
	return 0;
}

int dl_ctx_init(struct dl_ctx *c, enum dl_mode mode, enum dl_backing backing)
{
	struct kmmu_host host;
	cpu_set_t set;
	int i;

	c->mode = mode;
	c->backing = backing;
	c->nr_vcpus = dl_opts.vcpus;
	/* Each case its own stream, the same for the same seed. */
	c->rng = dl_opts.seed ^ (0x9e3779b97f4a7c15ULL * (mode * DL_NR_BACKINGS + backing + 1));
	if (!c->rng)
		c->rng = 1;
	kmmu_host_probe(&host);
	c->shadow = host.tdp == 0;
	c->pml = dl_pml();
	c->ncpus = sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);
	pthread_mutex_init(&c->ring_lock, NULL);
	c->ring_lock_init = true;
	c->pages_2m_populated = c->pages_2m_logging = c->pages_2m_recovered = -1;
	for (i = 0; i < DL_NR_SLOTS; i++) {
		struct dl_slot *s = &c->slot[i];
		size_t words = kmmu_dirty_bitmap_words(dl_slot_pages[i]);

		s->id = KMMU_SLOT_FIRST_FREE + i;
		s->zapped_at = -1;
		s->off = dl_slot_off[i];
		s->npages = dl_slot_pages[i];
		s->first = i == DL_B ? dl_slot_pages[DL_A] : 0;
		s->bm = calloc(words, 8);
		s->tmp = calloc(words, 8);
		s->ps = calloc(s->npages, 1);
		s->ps_next = calloc(s->npages, 1);
		if (!s->bm || !s->tmp || !s->ps || !s->ps_next)
			return dl_fail(c, "out of memory");
	}
	c->snap = calloc((size_t)c->nr_vcpus * DL_DATA_PAGES, 8);
	return c->snap ? 0 : dl_fail(c, "out of memory");
}

void dl_ctx_free(struct dl_ctx *c)
{
	int i;

	if (!c)
		return;
	dl_stats_close(c);
	if (c->gate_init)
		kmmu_gate_destroy(&c->gate);
	if (c->ring_lock_init)
		pthread_mutex_destroy(&c->ring_lock);
	for (i = 0; i < DL_NR_SLOTS; i++) {
		free(c->slot[i].bm);
		free(c->slot[i].tmp);
		free(c->slot[i].ps);
		free(c->slot[i].ps_next);
	}
	free(c->snap);
	free(c);
}

/*
 * VM, manual protect or ring, backing, slots with logging off, guest
 * mappings, vCPUs started and parked; the VM checked against the reference
 * in @run's trace session, which starts here (its memslot and dirty-log
 * ioctls logged from the first on).  0, 1 (skip: c->err), -1.
 */
int dl_start(struct dl_ctx *c, struct kmmu_test_run *run)
{
	char why[256];
	struct kmmu_vm_opts vo = { .nr_vcpus = c->nr_vcpus };
	struct kmmu_vm_handlers h = {
		.sync = dl_sync, .exit = dl_exit, .pre_run = dl_pre_run, .ctx = c,
	};
	unsigned int map = c->backing == DL_4K ? 0 : KMMU_MAP_HUGE;
	size_t exp_bytes = (size_t)c->nr_vcpus * DL_DATA_PAGES * 8;
	uint64_t gva, exp_gva;
	long caps;
	int i, r;

	vo.shared_size = sizeof(struct dl_shared) + exp_bytes + 2 * DL_PAGE;
	vo.pt_pages = 1024 + 2 * kmmu_pt_pages_for(DL_MEM_PAGES * DL_PAGE);
	if (c->mode == DL_RING)
		vo.dirty_ring_entries = dl_opts.ring_entries;
	kmmu_test_run_trace(run, "dirty_log_test", &vo, why, sizeof(why));
	r = __kmmu_vm_create(&c->vm, &vo, c->err, sizeof(c->err));
	if (r == -EOPNOTSUPP)
		return 1;
	if (r)
		return -1;
	kmmu_trace_session_vm(run->trace, kmmu_kvm_cap(kmmu_vm_fd(c->vm),
						       KVM_CAP_MULTI_ADDRESS_SPACE));
	if (c->mode == DL_CLEAR || c->mode == DL_CLEAR_INIT) {
		uint64_t want = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
				(c->mode == DL_CLEAR_INIT ? KVM_DIRTY_LOG_INITIALLY_SET : 0);

		caps = kmmu_kvm_cap(kmmu_vm_fd(c->vm), KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
		if (caps <= 0 || (caps & want) != want) {
			snprintf(c->err, sizeof(c->err), "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is %ld: no %s",
				 caps, c->mode == DL_CLEAR_INIT ? "KVM_DIRTY_LOG_INITIALLY_SET" :
				 "manual protect");
			return 1;
		}
		r = kmmu_vm_enable_cap(c->vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, want);
		if (r)
			return dl_fail(c, "enabling KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 %#llx: %s",
				       (unsigned long long)want, strerror(-r));
	}
	if (DL_GPA + DL_MEM_PAGES * DL_PAGE > 1ULL << kmmu_vm_phys_bits(c->vm))
		return dl_fail(c, "guest MAXPHYADDR %u too small", kmmu_vm_phys_bits(c->vm));
	r = dl_alloc(c);
	if (r)
		return r;
	c->sh = kmmu_vm_alloc_shared(c->vm, sizeof(*c->sh), &gva);
	c->exp = c->sh ? kmmu_vm_alloc_shared(c->vm, exp_bytes, &exp_gva) : NULL;
	if (!c->exp)
		return dl_fail(c, "shared memory");
	c->sh->exp_gva = exp_gva;
	c->sh->nr_vcpus = c->nr_vcpus;
	c->sh->seed = c->rng;
	r = __kmmu_vm_map(c->vm, DL_GPA, DL_GPA, DL_DATA_MAP, KMMU_MAP_WRITE | KMMU_MAP_NX | map);
	if (!r)
		r = __kmmu_vm_map(c->vm, DL_GPA + DL_DATA_MAP, DL_GPA + DL_DATA_MAP,
				  DL_MEM_PAGES * DL_PAGE - DL_DATA_MAP, KMMU_MAP_NX | map);
	if (r)
		return dl_fail(c, "guest mappings: %s", strerror(-r));
	for (i = 0; i < DL_NR_SLOTS; i++)
		if (dl_create(c, i, 0))
			return -1;
	c->creates = 0;
	kmmu_gate_init(&c->gate);
	c->gate_init = true;
	kmmu_vm_set_handlers(c->vm, &h);
	dl_stats_open(c);
	r = __kmmu_vm_start(c->vm, dl_guest, (void *)(uintptr_t)gva);
	if (r)
		return dl_fail(c, "starting the vCPUs: %s", strerror(-r));
	/* The guest's first GUEST_SYNC. */
	c->arrivals = c->nr_vcpus;
	r = kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120);
	if (r)
		return dl_fail(c, "vCPUs did not start: %s",
			       r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return 0;
}

/* Every page once with logging off: KVM maps it (2M where the backing allows). */
static int dl_sweep(struct dl_ctx *c)
{
	if (dl_next_gen(c))
		return -1;
	dl_resume(c, DL_CMD_SWEEP);
	c->arrivals += c->nr_vcpus;
	if (kmmu_gate_wait(&c->gate, c->arrivals, c->vm, 120))
		return dl_fail(c, "the sweep did not finish: %s", kmmu_vm_errors(c->vm));
	memcpy(c->snap, c->exp, (size_t)c->nr_vcpus * DL_DATA_PAGES * 8);
	return 0;
}

/* 2M pages the data regions could have: A's two, B's two whole ones. */
#define DL_DATA_HUGE_REGIONS 4

/* Populate with logging off; the huge variants need KVM to have mapped 2M. 1: skip. */
int dl_populate(struct dl_ctx *c)
{
	uint64_t x;

	if (dl_sweep(c))
		return -1;
	c->pages_2m_populated = dl_vm_stat(c, "pages_2m");
	if (c->backing != DL_4K && c->pages_2m_populated < DL_DATA_HUGE_REGIONS) {
		snprintf(c->err, sizeof(c->err), "KVM mapped %lld 2M pages after the guest touched all memory (pages_2m; at least %d expected): the %s backing gave no huge pages",
			 (long long)c->pages_2m_populated, DL_DATA_HUGE_REGIONS,
			 dl_backing_names[c->backing]);
		return 1;
	}
	c->pf_taken_ok = dl_vcpu_stat(c, "pf_taken", &x);
	c->pf_taken0 = x;
	return 0;
}

/*
 * Everything back and logged, a last round harvested with the vCPUs
 * parked (every change strict), logging off with flags-only updates, and
 * with huge backing a sweep after which KVM must map 2M again.
 */
int dl_finish(struct dl_ctx *c)
{
	uint64_t bm[kmmu_dirty_bitmap_words(DL_MEM_PAGES)], taken;
	int i, r;

	for (i = 0; i < DL_NR_SLOTS; i++) {
		if (!c->slot[i].present && dl_create(c, i, KVM_MEM_LOG_DIRTY_PAGES))
			return -1;
		if (!c->slot[i].logging && dl_set_logging(c, i, true))
			return -1;
	}
	if (dl_iteration(c, true))
		return -1;
	if (c->mode == DL_RING)
		taken = c->ring_entries;
	else
		taken = c->reports;
	if (c->pf_taken_ok) {
		uint64_t now;

		dl_vcpu_stat(c, "pf_taken", &now);
		if (taken > now - c->pf_taken0)
			return dl_fail(c, "%llu %s needed a guest fault each, but KVM counted only %llu faults (pf_taken) meanwhile",
				       (unsigned long long)taken,
				       c->mode == DL_RING ? "dirty ring entries" : "dirty reports",
				       (unsigned long long)(now - c->pf_taken0));
	}
	for (i = 0; i < DL_NR_SLOTS; i++) {
		if (dl_set_logging(c, i, false))
			return -1;
		r = kmmu_vm_get_dirty_log(c->vm, c->slot[i].id, bm);
		if (c->mode != DL_RING && r != -ENOENT)
			return dl_fail(c, "KVM_GET_DIRTY_LOG of slot %s after logging went off returned %s, not ENOENT",
				       dl_slot_names[i], r ? strerror(-r) : "success");
	}
	if (c->backing != DL_4K) {
		if (dl_sweep(c))
			return -1;
		c->pages_2m_recovered = dl_vm_stat(c, "pages_2m");
		if (c->pages_2m_recovered < DL_DATA_HUGE_REGIONS)
			return dl_fail(c, "after logging went off and the guest wrote every page again, KVM maps only %lld 2M pages (pages_2m; %lld before logging, %d data regions): huge pages were not recovered",
				       (long long)c->pages_2m_recovered,
				       (long long)c->pages_2m_populated, DL_DATA_HUGE_REGIONS);
	}
	dl_resume(c, DL_CMD_QUIT);
	r = __kmmu_vm_wait(c->vm, 60);
	if (r)
		return dl_fail(c, "vCPUs did not finish: %s",
			       r == -EIO ? kmmu_vm_errors(c->vm) : strerror(-r));
	return 0;
}
