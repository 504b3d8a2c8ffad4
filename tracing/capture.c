// SPDX-License-Identifier: GPL-2.0
/*
 * Capture of KVM MMU tracepoints with libtracefs/libtraceevent into typed
 * records.  The field layout is read from the running kernel's format files
 * (tracefs_local_events), never assumed: a kernel whose event lacks a field
 * we decode fails the capture with a message naming event and field.
 *
 * One job, though over 800 lines: the life of one private tracefs instance
 * (created, its events bound and filtered to this process, read while the
 * test runs, and removed on every exit path, by its janitor if this
 * process dies).  The parts share the instance's state and its cleanup;
 * split, each file would have to know every other's exit paths.  The
 * event table at the top is the kernel's formats as data, not logic.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event-parse.h>
#include <tracefs.h>

#include "kmmu/err_msg.h"
#include "kmmu/kprobes.h"
#include "kmmu/spte.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_events.h"

#define F(n, member) KMMU_EVENT_FIELD(n, member, false)
#define F_OPTIONAL(n, member) KMMU_EVENT_FIELD(n, member, true)

static const struct kmmu_event_spec event_specs[] = {
	{ KMMU_EV_SET_SPTE, "kvmmmu", "kvm_mmu_set_spte",
	  { F("gfn", set_spte.gfn), F("spte", set_spte.spte), F("sptep", set_spte.sptep),
	    F("level", set_spte.level) } },
	{ KMMU_EV_SPTE_REQUESTED, "kvmmmu", "kvm_mmu_spte_requested",
	  { F("gfn", spte_requested.gfn), F("pfn", spte_requested.pfn),
	    F("level", spte_requested.level) } },
	{ KMMU_EV_GET_PAGE, "kvmmmu", "kvm_mmu_get_page",
	  { F("gfn", sp.gfn), F("role", sp.role), F("root_count", sp.root_count),
	    F("mmu_valid_gen", sp.mmu_valid_gen), F("unsync", sp.unsync),
	    F("created", sp.created) } },
	{ KMMU_EV_PREPARE_ZAP_PAGE, "kvmmmu", "kvm_mmu_prepare_zap_page",
	  { F("gfn", sp.gfn), F("role", sp.role), F("root_count", sp.root_count),
	    F("mmu_valid_gen", sp.mmu_valid_gen), F("unsync", sp.unsync) } },
	{ KMMU_EV_ZAP_ALL_FAST, "kvmmmu", "kvm_mmu_zap_all_fast",
	  { F("mmu_valid_gen", zap_all_fast.mmu_valid_gen),
	    F("mmu_used_pages", zap_all_fast.used_pages) } },
	{ KMMU_EV_MARK_MMIO_SPTE, "kvmmmu", "mark_mmio_spte",
	  { F("sptep", mark_mmio.sptep), F("gfn", mark_mmio.gfn),
	    F("access", mark_mmio.access), F("gen", mark_mmio.gen) } },
	{ KMMU_EV_CHECK_MMIO_SPTE, "kvmmmu", "check_mmio_spte",
	  { F("spte", check_mmio.spte), F("kvm_gen", check_mmio.kvm_gen),
	    F("spte_gen", check_mmio.spte_gen) } },
	{ KMMU_EV_HANDLE_MMIO_PAGE_FAULT, "kvmmmu", "handle_mmio_page_fault",
	  { F("addr", mmio_pf.addr), F("gfn", mmio_pf.gfn), F("access", mmio_pf.access) } },
	{ KMMU_EV_FAST_PAGE_FAULT, "kvmmmu", "fast_page_fault",
	  { F("vcpu_id", fast_pf.vcpu_id), F("cr2_or_gpa", fast_pf.gpa),
	    F("error_code", fast_pf.error_code), F("sptep", fast_pf.sptep),
	    F("old_spte", fast_pf.old_spte), F("new_spte", fast_pf.new_spte),
	    F("ret", fast_pf.ret) } },
	{ KMMU_EV_MMIO, "kvm", "kvm_mmio",
	  { F("type", mmio.type), F("len", mmio.len), F("gpa", mmio.gpa), F("val", mmio.val) } },
	{ KMMU_EV_PAGE_FAULT, "kvm", "kvm_page_fault",
	  { F("vcpu_id", page_fault.vcpu_id), F("guest_rip", page_fault.rip),
	    F("fault_address", page_fault.address), F("error_code", page_fault.error_code) } },
	{ KMMU_EV_AGE_HVA, "kvm", "kvm_age_hva",
	  { F("start", hva_range.start), F("end", hva_range.end) } },
	{ KMMU_EV_TEST_AGE_HVA, "kvm", "kvm_test_age_hva", { F("hva", test_age.hva) } },
	{ KMMU_EV_UNMAP_HVA_RANGE, "kvm", "kvm_unmap_hva_range",
	  { F("start", hva_range.start), F("end", hva_range.end) } },
	{ KMMU_EV_USERSPACE_EXIT, "kvm", "kvm_userspace_exit",
	  { F("reason", uexit.reason), F("errno", uexit.err) } },
	{ KMMU_EV_SPTE_CHANGED, "kvmmmu", "kvm_tdp_mmu_spte_changed",
	  { F("gfn", spte_changed.gfn), F("old_spte", spte_changed.old_spte),
	    F("new_spte", spte_changed.new_spte), F("level", spte_changed.level),
	    F("as_id", spte_changed.as_id) },
	  /*
	   * Zapping a table marks each of its 512 entries removed: measured,
	   * 97-99% of this event's volume in a memslot churn run is a
	   * non-present SPTE becoming another non-present value, which no
	   * property reads (a leaf count or an Accessed bit changes only when
	   * one side is present).  Dropped in the kernel, before the ring buffer.
	   */
	  "(old_spte & %llu) || (new_spte & %llu)" },
	{ KMMU_EV_SPLIT_HUGE_PAGE, "kvmmmu", "kvm_mmu_split_huge_page",
	  { F("gfn", split.gfn), F("spte", split.spte), F("level", split.level),
	    F("errno", split.err) } },
	/* The shadow MMU's SPTE clears, where the kernel has kprobe events (kprobes.c). */
	{ KMMU_EV_SHADOW_SPTE_CLEAR, "kprobe", "shadow_spte_clear",
	  { F("sptep", shadow_spte.sptep), F("old_spte", shadow_spte.old_spte),
	    F_OPTIONAL("page_offset", shadow_spte.page_offset) },
	  .kprobe = true },
	{ KMMU_EV_SHADOW_SPTE_AGE, "kprobe", "shadow_spte_age",
	  { F("sptep", shadow_spte.sptep), F("old_spte", shadow_spte.old_spte),
	    F_OPTIONAL("page_offset", shadow_spte.page_offset) },
	  .kprobe = true },
	/* Events the tests trigger themselves, enabled only on request. */
	{ KMMU_EV_MARKER, "ftrace", "print", { } },	/* text copied by hand */
	{ KMMU_EV_SYS_ENTER, "raw_syscalls", "sys_enter", { F("id", sys_enter.id) } },
	/* The DAMON driver's regions (selftests/lib/damon.c), on request; age from 5.17. */
	{ KMMU_EV_DAMON_AGGREGATED, "damon", "damon_aggregated",
	  { F("target_id", damon.target_id), F("nr_regions", damon.nr_regions),
	    F("start", damon.start), F("end", damon.end), F("nr_accesses", damon.nr_accesses),
	    F_OPTIONAL("age", damon.age) } },
};

const struct kmmu_event_spec *kmmu_trace_event_spec(unsigned int type)
{
	for (size_t i = 0; i < sizeof(event_specs) / sizeof(event_specs[0]); i++)
		if (event_specs[i].type == type)
			return &event_specs[i];
	return NULL;
}

struct bound_event {
	const struct kmmu_event_spec *spec;
	struct tep_event *event;
	struct tep_format_field *fields[KMMU_EVENT_MAX_FIELDS];
	struct tep_format_field *buf;	/* ftrace:print */
};

struct kmmu_trace_capture {
	struct tracefs_instance *instance;
	struct tep_handle *tep;
	struct kmmu_trace_log *log;
	struct bound_event bound[sizeof(event_specs) / sizeof(event_specs[0])];
	int nr_bound;
	struct bound_event *by_id[65536];	/* event id -> binding */
	char missing[1024];
	char name[64];		/* also the group of its kprobe events */
	char path[576];		/* <tracefs>/instances/<name> */
	char tracing_dir[512];
	unsigned int kprobes;		/* KMMU_KPROBE_* created in group <name> */
	unsigned int kprobes_inlined;	/* ... wanted, but their function has no symbol */
	pthread_t reader;
	bool reader_running;
	/* One reader of the buffers at a time: the thread, drain() and stop(). */
	pthread_mutex_t read_lock;
	atomic_bool stop;
	unsigned long long count;
	unsigned long long missed;	/* from page headers */
	unsigned int buffer_kb;		/* per CPU */
	atomic_int reader_tid;		/* not traced: see kmmu_trace_capture_start() */
	int janitor_pipe;		/* write end; the janitor waits for EOF */
	pid_t janitor;
};

const char *kmmu_tracefs_dir(void)
{
	const char *path = NULL;

	/* Mounts tracefs at /sys/kernel/tracing if nothing is mounted. */
	if (tracefs_tracing_dir_is_mounted(true, &path) < 0)
		return NULL;
	return tracefs_tracing_dir();
}

/* Instances of processes that died without cleaning up (SIGKILL, janitor killed too). */
static void remove_stale_instances(const char *tracing_dir)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/instances", tracing_dir);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		int pid;

		if (sscanf(de->d_name, "kmmu-%d-", &pid) != 1)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/instances/%s", tracing_dir, de->d_name);
		rmdir(path);
	}
	closedir(d);
}

/*
 * A child that removes the instance and the kprobes when this process is
 * gone, however it ended: it waits for EOF on a pipe only we hold the
 * write end of.  Started before either exists, so that no moment of the
 * start leaves one behind if this process is killed there.  It
 * ignores terminal signals (Ctrl-C reaches the whole process group) and
 * closes everything else, so it neither dies early nor keeps a runner's
 * output pipe open.
 */
static int start_janitor(struct kmmu_trace_capture *cap, const char *instance_path)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		char c, group[sizeof(cap->tracing_dir) + sizeof(cap->name) + 8];
		int devnull = open("/dev/null", O_RDWR);

		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		for (int fd = 3; fd < 1024; fd++)
			if (fd != fds[0])
				close(fd);
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		/* The owner's trace_pipe_raw fds may take a moment to go away. */
		for (int i = 0; i < 50; i++) {
			if (!rmdir(instance_path) || errno == ENOENT)
				break;
			usleep(100000);
		}
		/*
		 * Global, not the instance's: disabled with it, removable now.
		 * Started before any was added, this janitor does not know
		 * which: all of the group's, if the group exists.
		 */
		snprintf(group, sizeof(group), "%s/events/%s", cap->tracing_dir, cap->name);
		if (!access(group, F_OK))
			kmmu_kprobes_remove(cap->tracing_dir, cap->name, ~0u);
		_exit(0);
	}
	close(fds[0]);
	cap->janitor_pipe = fds[1];
	cap->janitor = pid;
	return 0;
}

static void stop_janitor(struct kmmu_trace_capture *cap)
{
	if (cap->janitor_pipe >= 0) {
		close(cap->janitor_pipe);
		cap->janitor_pipe = -1;
	}
	if (cap->janitor > 0) {
		waitpid(cap->janitor, NULL, 0);
		cap->janitor = 0;
	}
}

/* The event's system in tracefs: a kprobe event's is the capture's group. */
static const char *spec_system(const struct kmmu_trace_capture *cap,
			       const struct kmmu_event_spec *spec)
{
	return spec->kprobe ? cap->name : spec->system;
}

static int bind_event(struct kmmu_trace_capture *cap, const struct kmmu_event_spec *spec,
		      char *err, size_t err_len)
{
	struct bound_event *b = &cap->bound[cap->nr_bound];
	struct tep_event *ev = tep_find_event_by_name(cap->tep, spec_system(cap, spec), spec->name);

	if (!ev)
		return -ENOENT;
	memset(b, 0, sizeof(*b));
	b->spec = spec;
	b->event = ev;
	for (int i = 0; i < KMMU_EVENT_MAX_FIELDS && spec->fields[i].name; i++) {
		b->fields[i] = tep_find_field(ev, spec->fields[i].name);
		if (!b->fields[i] && !spec->fields[i].optional)
			return kmmu_err_msg(err, err_len, -EPROTO,
					    "%s:%s has no field '%s' on this kernel: the decoder needs it",
					    spec->system, spec->name, spec->fields[i].name);
	}
	if (spec->type == KMMU_EV_MARKER) {
		b->buf = tep_find_field(ev, "buf");
		if (!b->buf)
			return kmmu_err_msg(err, err_len, -EPROTO, "ftrace:print has no field 'buf'");
	}
	if (ev->id < 0 || ev->id > 65535)
		return kmmu_err_msg(err, err_len, -EPROTO, "%s:%s has event id %d",
				    spec->system, spec->name, ev->id);
	cap->by_id[ev->id] = b;
	cap->nr_bound++;
	return 0;
}

static void store(void *dst, unsigned int size, unsigned long long v)
{
	switch (size) {
	case 1: *(uint8_t *)dst = v; break;
	case 2: *(uint16_t *)dst = v; break;
	case 4: *(uint32_t *)dst = v; break;
	default: *(uint64_t *)dst = v; break;
	}
}

static int on_record(struct tep_event *event, struct tep_record *record, int cpu, void *ctx)
{
	struct kmmu_trace_capture *cap = ctx;
	struct bound_event *b;
	struct kmmu_trace_record r;
	unsigned long long v;

	if (record->missed_events > 0)
		cap->missed += record->missed_events;
	else if (record->missed_events < 0)	/* lost, count unknown */
		cap->missed++;
	if (!event || event->id < 0 || event->id > 65535)
		return 0;
	b = cap->by_id[event->id];
	if (!b)
		return 0;

	memset(&r, 0, sizeof(r));
	r.ts = record->ts;
	r.type = b->spec->type;
	r.cpu = cpu;
	r.pid = tep_data_pid(cap->tep, record);
	for (int i = 0; i < KMMU_EVENT_MAX_FIELDS && b->spec->fields[i].name; i++) {
		const struct kmmu_event_field *fs = &b->spec->fields[i];

		if (!b->fields[i] || tep_read_number_field(b->fields[i], record->data, &v))
			continue;
		store((char *)&r + fs->off, fs->size, v);
	}
	if (r.type == KMMU_EV_DAMON_AGGREGATED)
		r.damon.lost_before = record->missed_events != 0;
	if (b->buf && b->buf->offset < record->size) {
		size_t n = record->size - b->buf->offset;

		memcpy(&r.marker.value, (char *)record->data + b->buf->offset,
		       n < sizeof(r.marker.value) ? n : sizeof(r.marker.value));
	}
	cap->count++;
	kmmu_trace_log_append(cap->log, &r);
	return 0;
}

static unsigned long long stat_value(const char *stats, const char *key);

/* The most events any CPU's buffer holds unread right now. */
static unsigned long long max_unread_entries(struct kmmu_trace_capture *cap)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	unsigned long long max = 0;

	for (long cpu = 0; cpu < cpus; cpu++) {
		char file[64], *stats;
		unsigned long long n;

		snprintf(file, sizeof(file), "per_cpu/cpu%ld/stats", cpu);
		stats = tracefs_instance_file_read(cap->instance, file, NULL);
		if (!stats)
			continue;
		n = stat_value(stats, "entries");
		free(stats);
		if (n > max)
			max = n;
	}
	return max;
}

/*
 * Drains the buffers while the test runs, but only once a quarter of a
 * CPU's buffer is used: reading and decoding take CPU time from the very
 * workload being traced (measured by tracing/bench/trace_overhead: about
 * half of the overhead on a one-CPU VM came from draining every 100 ms).
 * A glance at the per-CPU stats is cheap; whatever is left is read at stop.
 */
static void *reader_thread(void *arg)
{
	struct kmmu_trace_capture *cap = arg;
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	/* Events of at most 64 bytes: a quarter of the buffer. */
	unsigned long long threshold = (unsigned long long)cap->buffer_kb * 1024 / 64 / 4;

	atomic_store(&cap->reader_tid, syscall(SYS_gettid));
	while (!atomic_load(&cap->stop)) {
		if (max_unread_entries(cap) >= threshold) {
			pthread_mutex_lock(&cap->read_lock);
			tracefs_iterate_raw_events(cap->tep, cap->instance, NULL, 0, on_record, cap);
			pthread_mutex_unlock(&cap->read_lock);
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* The event's own filter (present_filter) and the capture's (opts->filter), both. */
static int set_filter(struct kmmu_trace_capture *cap, const struct kmmu_event_spec *spec,
		      const char *opts_filter)
{
	unsigned long long present = KMMU_SPTE_MMU_PRESENT_MASK;
	char own[128] = "", filter[512];

	if (spec->present_filter)
		snprintf(own, sizeof(own), spec->present_filter, present, present);
	if (own[0] && opts_filter)
		snprintf(filter, sizeof(filter), "(%s) && (%s)", own, opts_filter);
	else if (own[0] || opts_filter)
		snprintf(filter, sizeof(filter), "%s", own[0] ? own : opts_filter);
	else
		return 0;
	return tracefs_event_file_write(cap->instance, spec_system(cap, spec), spec->name,
					"filter", filter) < 0 ? -EIO : 0;
}

/* Every thread that exists now; event-fork adds the ones created later. */
static int restrict_to_this_process(struct kmmu_trace_capture *cap)
{
	char line[300];
	struct dirent *de;
	DIR *d = opendir("/proc/self/task");
	int ret = 0;
	bool first = true;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == atomic_load(&cap->reader_tid))
			continue;
		snprintf(line, sizeof(line), "%s\n", de->d_name);
		/* The first write replaces, the later ones must append. */
		if (first) {
			ret = tracefs_instance_file_write(cap->instance, "set_event_pid", line);
			first = false;
		} else {
			ret = tracefs_instance_file_append(cap->instance, "set_event_pid", line);
		}
		if (ret < 0)
			break;
	}
	closedir(d);
	if (ret < 0)
		return -EIO;
	if (tracefs_option_enable(cap->instance, TRACEFS_OPTION_EVENT_FORK))
		return -EIO;
	return 0;
}

/* Whether @opts ask for @spec's event. */
static bool spec_wanted(const struct kmmu_trace_capture_opts *opts,
			const struct kmmu_event_spec *spec)
{
	if (!opts || !opts->events)
		/* only on request: for tests and the DAMON driver */
		return spec->type != KMMU_EV_MARKER && spec->type != KMMU_EV_SYS_ENTER &&
		       spec->type != KMMU_EV_DAMON_AGGREGATED;
	for (const char *const *e = opts->events; *e; e++) {
		const char *colon = strchr(*e, ':');

		if (colon && !strncmp(*e, spec->system, colon - *e) &&
		    strlen(spec->system) == (size_t)(colon - *e) && !strcmp(colon + 1, spec->name))
			return true;
	}
	return false;
}

static void note_missing(struct kmmu_trace_capture *cap, const struct kmmu_event_spec *spec,
			 const char *why)
{
	size_t l = strlen(cap->missing);

	snprintf(cap->missing + l, sizeof(cap->missing) - l, "%s%s:%s%s%s%s",
		 l ? "," : "", spec->system, spec->name, why ? " (" : "", why ? why : "",
		 why ? ")" : "");
}

/*
 * The kprobe events @opts ask for, in group cap->name.  A kernel without
 * kprobe events, or without a symbol for the function, only makes them
 * missing (kmmu_trace_capture_missing() says why); the capture goes on.
 */
static void add_kprobes(struct kmmu_trace_capture *cap, const struct kmmu_trace_capture_opts *opts)
{
	const char *kallsyms = opts && opts->kallsyms ? opts->kallsyms : "/proc/kallsyms";
	size_t nr_specs = sizeof(event_specs) / sizeof(event_specs[0]);
	unsigned int want = 0;
	char why[256];

	for (size_t i = 0; i < nr_specs; i++)
		if (event_specs[i].kprobe && spec_wanted(opts, &event_specs[i]))
			want |= kmmu_kprobe_of(event_specs[i].type)->bit;
	if (!want)
		return;
	if (kmmu_kprobes_add(cap->tracing_dir, kallsyms, cap->name, want, &cap->kprobes,
			     &cap->kprobes_inlined, why, sizeof(why)))
		snprintf(why, sizeof(why), "%s", kmmu_kprobes_supported(cap->tracing_dir) ?
			 "kprobe_events refused it" : "no kprobe_events");
	for (size_t i = 0; i < nr_specs; i++) {
		const struct kmmu_kprobe *k = kmmu_kprobe_of(event_specs[i].type);
		char inlined[128];

		if (!k || !(want & k->bit) || (cap->kprobes & k->bit))
			continue;
		snprintf(inlined, sizeof(inlined), "%s inlined in this kernel", k->func);
		note_missing(cap, &event_specs[i], cap->kprobes_inlined & k->bit ? inlined : why);
	}
}

int kmmu_trace_capture_start(struct kmmu_trace_capture **out,
			     const struct kmmu_trace_capture_opts *opts,
			     struct kmmu_trace_log *log, char *err, size_t err_len)
{
	static atomic_int seq;
	const char *systems[] = { "kvm", "kvmmmu", "ftrace", "raw_syscalls", "damon", NULL, NULL };
	const char *dir;
	struct kmmu_trace_capture *cap;
	size_t nr_specs = sizeof(event_specs) / sizeof(event_specs[0]);
	int ret;

	*out = NULL;
	if (opts && opts->tracefs_dir && tracefs_set_tracing_dir((char *)opts->tracefs_dir))
		return kmmu_err_msg(err, err_len, -ENODEV, "cannot use %s as tracefs", opts->tracefs_dir);
	dir = opts && opts->tracefs_dir ? opts->tracefs_dir : kmmu_tracefs_dir();
	if (!dir)
		return kmmu_err_msg(err, err_len, -ENODEV, "tracefs is not mounted and cannot be mounted");
	if (access(dir, W_OK))
		return kmmu_err_msg(err, err_len, -EACCES, "%s is not writable: tracing needs root", dir);
	remove_stale_instances(dir);
	kmmu_kprobes_remove_stale(dir);

	cap = calloc(1, sizeof(*cap));
	if (!cap)
		return kmmu_err_msg(err, err_len, -ENOMEM, "out of memory");
	cap->janitor_pipe = -1;
	cap->log = log;
	pthread_mutex_init(&cap->read_lock, NULL);
	if (opts && opts->name)
		snprintf(cap->name, sizeof(cap->name), "kmmu-%d-%s", (int)getpid(), opts->name);
	else
		snprintf(cap->name, sizeof(cap->name), "kmmu-%d-%d", (int)getpid(),
			 atomic_fetch_add(&seq, 1));
	snprintf(cap->path, sizeof(cap->path), "%s/instances/%s", dir, cap->name);
	snprintf(cap->tracing_dir, sizeof(cap->tracing_dir), "%s", dir);

	ret = start_janitor(cap, cap->path);
	if (ret) {
		kmmu_err_msg(err, err_len, ret, "cannot fork the instance janitor: %s", strerror(-ret));
		goto fail;
	}
	add_kprobes(cap, opts);
	if (cap->kprobes)
		systems[5] = cap->name;
	cap->tep = tracefs_local_events_system(NULL, systems);
	if (!cap->tep) {
		ret = kmmu_err_msg(err, err_len, -ENODEV, "cannot read the kvm/kvmmmu event formats in %s", dir);
		goto fail;
	}

	/* Bind the requested events (or all) to their formats before touching tracefs. */
	for (size_t i = 0; i < nr_specs; i++) {
		const struct kmmu_event_spec *spec = &event_specs[i];
		const struct kmmu_kprobe *k = kmmu_kprobe_of(spec->type);

		if (!spec_wanted(opts, spec))
			continue;
		if (spec->kprobe && !(cap->kprobes & k->bit))
			continue;	/* add_kprobes() said why */
		ret = bind_event(cap, spec, err, err_len);
		if (ret == -ENOENT) {
			note_missing(cap, spec, NULL);
			continue;
		}
		if (ret)
			goto fail;
	}
	if (opts && opts->events) {
		for (const char *const *e = opts->events; *e; e++) {
			bool known = false;

			for (size_t i = 0; i < nr_specs; i++) {
				char full[96];

				snprintf(full, sizeof(full), "%s:%s", event_specs[i].system,
					 event_specs[i].name);
				known |= !strcmp(full, *e);
			}
			if (!known) {
				ret = kmmu_err_msg(err, err_len, -EINVAL, "event '%s' has no decoder", *e);
				goto fail;
			}
		}
	}
	if (!cap->nr_bound) {
		ret = kmmu_err_msg(err, err_len, -ENOENT, "none of the requested events exists on this kernel (%s)",
				   cap->missing);
		goto fail;
	}

	/* Ours by name (opts->name): one of an earlier process with our pid is dead. */
	if (opts && opts->name)
		rmdir(cap->path);
	cap->instance = tracefs_instance_create(cap->name);
	if (!cap->instance) {
		ret = kmmu_err_msg(err, err_len, -errno ? -errno : -EIO, "cannot create tracefs instance %s: %s",
				   cap->name, strerror(errno));
		goto fail;
	}

	tracefs_trace_off(cap->instance);
	if (tracefs_instance_file_write(cap->instance, "trace_clock", "mono") < 0) {
		ret = kmmu_err_msg(err, err_len, -EIO, "cannot set trace_clock mono in %s", cap->name);
		goto fail;
	}
	/* Drop new events rather than overwrite old ones; both are counted. */
	tracefs_instance_file_write(cap->instance, "options/overwrite", "0");
	cap->buffer_kb = opts && opts->buffer_kb ? opts->buffer_kb : 16384;
	if (tracefs_instance_set_buffer_size(cap->instance, cap->buffer_kb, -1) < 0) {
		ret = kmmu_err_msg(err, err_len, -EIO, "cannot size the buffers of %s", cap->name);
		goto fail;
	}
	/*
	 * The reader first: it is left out of the traced threads, or its own
	 * reads would feed the buffers it drains (with syscall events: forever).
	 */
	if (pthread_create(&cap->reader, NULL, reader_thread, cap)) {
		ret = kmmu_err_msg(err, err_len, -EAGAIN, "cannot start the trace reader thread");
		goto fail;
	}
	cap->reader_running = true;
	while (!atomic_load(&cap->reader_tid))
		sched_yield();
	if (!(opts && opts->all_pids)) {
		ret = restrict_to_this_process(cap);
		if (ret) {
			kmmu_err_msg(err, err_len, ret, "cannot restrict %s to this process", cap->name);
			goto fail;
		}
	}
	for (int i = 0; i < cap->nr_bound; i++) {
		const struct kmmu_event_spec *spec = cap->bound[i].spec;

		if (set_filter(cap, spec, opts ? opts->filter : NULL)) {
			ret = kmmu_err_msg(err, err_len, -EIO, "cannot set the filter of %s:%s",
					   spec->system, spec->name);
			goto fail;
		}
		if (tracefs_event_enable(cap->instance, spec_system(cap, spec), spec->name)) {
			ret = kmmu_err_msg(err, err_len, -EIO, "cannot enable %s:%s", spec->system, spec->name);
			goto fail;
		}
	}
	if (!(opts && opts->paused) && tracefs_trace_on(cap->instance)) {
		ret = kmmu_err_msg(err, err_len, -EIO, "cannot turn tracing on in %s", cap->name);
		goto fail;
	}
	*out = cap;
	return 0;
fail:
	kmmu_trace_capture_destroy(cap);
	return ret;
}

static unsigned long long stat_value(const char *stats, const char *key)
{
	const char *p = stats;
	size_t klen = strlen(key);

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return strtoull(p + klen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

/* Overruns and drops the ring buffer counted, summed over CPUs. */
static unsigned long long ring_buffer_losses(struct kmmu_trace_capture *cap)
{
	unsigned long long lost = 0;
	long cpus = sysconf(_SC_NPROCESSORS_CONF);

	for (long cpu = 0; cpu < cpus; cpu++) {
		char file[64], *stats;

		snprintf(file, sizeof(file), "per_cpu/cpu%ld/stats", cpu);
		stats = tracefs_instance_file_read(cap->instance, file, NULL);
		if (!stats)
			continue;
		lost += stat_value(stats, "overrun") + stat_value(stats, "commit overrun") +
			stat_value(stats, "dropped events");
		free(stats);
	}
	return lost;
}

int kmmu_trace_capture_stop(struct kmmu_trace_capture *cap, unsigned long long *lost)
{
	unsigned long long ring_lost;

	if (!cap)
		return -EINVAL;
	tracefs_trace_off(cap->instance);
	if (cap->reader_running) {
		atomic_store(&cap->stop, true);
		pthread_join(cap->reader, NULL);
		cap->reader_running = false;
	}
	/* What is still in the buffers after the last periodic read. */
	pthread_mutex_lock(&cap->read_lock);
	tracefs_iterate_raw_events(cap->tep, cap->instance, NULL, 0, on_record, cap);
	pthread_mutex_unlock(&cap->read_lock);
	ring_lost = ring_buffer_losses(cap);
	if (lost)
		*lost = ring_lost > cap->missed ? ring_lost : cap->missed;
	if (cap->log->oom)
		return -ENOMEM;
	return ring_lost || cap->missed ? -EOVERFLOW : 0;
}

void kmmu_trace_capture_destroy(struct kmmu_trace_capture *cap)
{
	if (!cap)
		return;
	if (cap->reader_running) {
		atomic_store(&cap->stop, true);
		pthread_join(cap->reader, NULL);
	}
	if (cap->instance) {
		tracefs_trace_off(cap->instance);
		for (int i = 0; i < cap->nr_bound; i++)
			tracefs_event_disable(cap->instance, spec_system(cap, cap->bound[i].spec),
					      cap->bound[i].spec->name);
		tracefs_instance_destroy(cap->instance);
		tracefs_instance_free(cap->instance);
	}
	if (cap->kprobes)
		kmmu_kprobes_remove(cap->tracing_dir, cap->name, cap->kprobes);
	stop_janitor(cap);
	if (cap->tep)
		tep_free(cap->tep);
	pthread_mutex_destroy(&cap->read_lock);
	free(cap);
}

int kmmu_trace_capture_pause(struct kmmu_trace_capture *cap)
{
	return tracefs_trace_off(cap->instance) ? -EIO : 0;
}

int kmmu_trace_capture_resume(struct kmmu_trace_capture *cap)
{
	return tracefs_trace_on(cap->instance) ? -EIO : 0;
}

int kmmu_trace_capture_clear(struct kmmu_trace_capture *cap)
{
	return tracefs_instance_file_clear(cap->instance, "trace") ? -EIO : 0;
}

int kmmu_trace_capture_drain(struct kmmu_trace_capture *cap)
{
	pthread_mutex_lock(&cap->read_lock);
	tracefs_iterate_raw_events(cap->tep, cap->instance, NULL, 0, on_record, cap);
	pthread_mutex_unlock(&cap->read_lock);
	return cap->log->oom ? -ENOMEM : 0;
}

unsigned long long kmmu_trace_capture_losses(struct kmmu_trace_capture *cap)
{
	return ring_buffer_losses(cap) + cap->missed;
}

const char *kmmu_trace_capture_instance_path(const struct kmmu_trace_capture *cap)
{
	return cap->path;
}

bool kmmu_trace_capture_has_field(const struct kmmu_trace_capture *cap, unsigned int type,
				  const char *field)
{
	for (int i = 0; i < cap->nr_bound; i++) {
		const struct bound_event *b = &cap->bound[i];

		if (b->spec->type != type)
			continue;
		for (int f = 0; f < KMMU_EVENT_MAX_FIELDS && b->spec->fields[f].name; f++)
			if (!strcmp(b->spec->fields[f].name, field))
				return b->fields[f] != NULL;
	}
	return false;
}

const char *kmmu_trace_capture_instance_name(const struct kmmu_trace_capture *cap)
{
	return cap->name;
}

const char *kmmu_trace_capture_missing(const struct kmmu_trace_capture *cap)
{
	return cap->missing;
}

unsigned int kmmu_trace_capture_kprobes(const struct kmmu_trace_capture *cap,
					unsigned int *inlined)
{
	if (inlined)
		*inlined = cap->kprobes_inlined;
	return cap->kprobes;
}

bool kmmu_trace_capture_has(const struct kmmu_trace_capture *cap, unsigned int type)
{
	for (int i = 0; i < cap->nr_bound; i++)
		if (cap->bound[i].spec->type == type)
			return true;
	return false;
}

unsigned long long kmmu_trace_capture_count(const struct kmmu_trace_capture *cap)
{
	return cap->count;
}
