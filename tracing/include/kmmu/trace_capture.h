/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Capture of the kernel's KVM MMU events into a struct kmmu_trace_log.
 *
 * Each capture has a private tracefs instance (never the global buffer),
 * trace_clock "mono", the requested events, optionally restricted to this
 * process and the threads it creates later (set_event_pid + event-fork), and
 * a reader thread that drains the per-CPU buffers while the test runs.  Lost
 * events (overrun, dropped) are counted and make kmmu_trace_capture_stop()
 * fail: a checker must never judge an incomplete history.
 *
 * The instance is removed by kmmu_trace_capture_destroy(), and also on exit
 * and on SIGINT/SIGTERM/SIGABRT/SIGSEGV, and instances left behind by dead
 * processes (SIGKILL) are removed by the next capture; so are the kprobe
 * events a capture creates for the shadow MMU (kmmu/kprobes.h).
 */
#ifndef KMMU_TRACE_CAPTURE_H
#define KMMU_TRACE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "kmmu/trace_log.h"

struct kmmu_trace_capture;

struct kmmu_trace_capture_opts {
	/*
	 * NULL-terminated "system:event" names, NULL for the default set (every
	 * event of enum kmmu_rec_type).  Events this kernel lacks are skipped
	 * and listed by kmmu_trace_capture_missing().
	 */
	const char *const *events;
	bool all_pids;		/* also other processes (aging runs in kdamond/kswapd) */
	unsigned int buffer_kb;	/* per CPU; 0 for the default (16 MiB) */
	/* A kernel-side filter for every event ("common_pid == 42"), or NULL. */
	const char *filter;
	/* Set up but not tracing until kmmu_trace_capture_resume(). */
	bool paused;
	/*
	 * The instance is "kmmu-<pid>-<name>" (one of an earlier, dead process
	 * of the same pid is removed first); NULL: "kmmu-<pid>-<n>".
	 */
	const char *name;
	/* Another tracefs mount than the system's (for all of this process's captures). */
	const char *tracefs_dir;
	/* The kernel's symbols, for kprobe events (NULL: /proc/kallsyms). */
	const char *kallsyms;
};

/*
 * 0 or -errno with a one-line reason in @err: -ENODEV no tracefs, -EACCES
 * not permitted, -ENOENT none of the events exists, -EPROTO an event's
 * format lacks a field the decoder needs (the message names it).
 */
int kmmu_trace_capture_start(struct kmmu_trace_capture **out,
			     const struct kmmu_trace_capture_opts *opts,
			     struct kmmu_trace_log *log, char *err, size_t err_len);
/*
 * Stops tracing, drains what is left, checks for loss.  0, or -EOVERFLOW
 * with the count in @lost when the kernel dropped events, or -ENOMEM when
 * the log could not hold them.
 */
int kmmu_trace_capture_stop(struct kmmu_trace_capture *cap, unsigned long long *lost);
/* Removes the instance; safe after a failed stop, and with NULL. */
void kmmu_trace_capture_destroy(struct kmmu_trace_capture *cap);

/*
 * For a reader that polls (the DAMON driver): tracing off and on, empty the
 * buffers, read what they hold now into the log (0, or -ENOMEM when the log
 * could not hold it), and the events lost so far (the ring buffer's count
 * and those page headers reported).  0 or -EIO.
 */
int kmmu_trace_capture_pause(struct kmmu_trace_capture *cap);
int kmmu_trace_capture_resume(struct kmmu_trace_capture *cap);
int kmmu_trace_capture_clear(struct kmmu_trace_capture *cap);
int kmmu_trace_capture_drain(struct kmmu_trace_capture *cap);
unsigned long long kmmu_trace_capture_losses(struct kmmu_trace_capture *cap);

const char *kmmu_trace_capture_instance_name(const struct kmmu_trace_capture *cap);
/* <tracefs>/instances/<name> */
const char *kmmu_trace_capture_instance_path(const struct kmmu_trace_capture *cap);
/* Whether @type's event has @field on this kernel (optional fields may be missing). */
bool kmmu_trace_capture_has_field(const struct kmmu_trace_capture *cap, unsigned int type,
				  const char *field);
/*
 * Comma-separated events this kernel does not have ("" if none); a kprobe
 * event with the reason: "kprobe:shadow_spte_age (mmu_spte_age inlined in
 * this kernel)", "(no kprobe_events)".
 */
const char *kmmu_trace_capture_missing(const struct kmmu_trace_capture *cap);
/*
 * The KMMU_KPROBE_* events the capture created (in a group named like its
 * instance, removed with it), and in *@inlined (may be NULL) those it
 * could not because their function has no symbol in this kernel.
 */
unsigned int kmmu_trace_capture_kprobes(const struct kmmu_trace_capture *cap,
					unsigned int *inlined);
/* Whether @type's event is enabled in this capture. */
bool kmmu_trace_capture_has(const struct kmmu_trace_capture *cap, unsigned int type);
unsigned long long kmmu_trace_capture_count(const struct kmmu_trace_capture *cap);

/* The tracefs mount point, mounting it if needed; NULL if there is none. */
const char *kmmu_tracefs_dir(void);

#endif
