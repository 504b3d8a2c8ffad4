/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Checking a real-KVM test against the reference, the way selftests use it:
 *
 *	session = kmmu_trace_session_start("memslot_churn_test", why, sizeof(why));
 *	if (!session)
 *		ksft_print_msg("checking: off (%s)\n", why);
 *	... run the test, logging actions into kmmu_trace_session_log(session) ...
 *	ret = kmmu_trace_session_finish(session, &result);
 *
 * The capture is restricted to the test's process (and threads it creates
 * after the start).  finish() stops it, replays everything into the checker,
 * prints what was checked, and writes a trace file (kmmu-trace/1) when the
 * check failed, or always when $KMMU_TRACE_SAVE names a directory, so a
 * failure can be re-checked offline with `kmmu-trace check FILE` and
 * attached to a report.  Trace files go to $KMMU_TRACE_DIR (default
 * "results").  $KMMU_CHECK=0 turns checking off.
 */
#ifndef KMMU_TRACE_SESSION_H
#define KMMU_TRACE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmmu/checker.h"
#include "kmmu/trace_log.h"

struct kmmu_trace_session;
struct kmmu_trace_capture;
struct kmmu_host;

/*
 * Appends to @log what the checker needs to know about the host: its
 * SPTE format (backend, TDP, TDP MMU, from @host) and which of the shadow
 * MMU's kprobe events @cap has (KMMU_ACT_HOST).  Sessions do it when they
 * start; so does `kmmu-trace record`.
 */
void kmmu_trace_log_host(struct kmmu_trace_capture *cap, const struct kmmu_host *host,
			 struct kmmu_trace_log *log);

/*
 * What the checker must know of SPTE changes a capture of one program's
 * processes cannot see, for the page stats records (KMMU_STATS_*): the
 * session's and `kmmu-trace record`'s, one way.
 *
 * Other tasks' notifier calls (kswapd, kcompactd, khugepaged...) unmap
 * guest memory and change SPTEs untraced: a capture of all processes
 * records their kvm_unmap_hva_range, and the calls the program's own
 * capture lacks go into its log marked untraced, so the checker knows
 * when that happened to guest memory.
 */
struct kmmu_trace_others {
	struct kmmu_trace_capture *cap;	/* NULL: not available */
	struct kmmu_trace_log log;
};

/* Starts the all-process capture: 0, or KMMU_STATS_OTHERS_UNKNOWN when it cannot. */
uint32_t kmmu_trace_others_start(struct kmmu_trace_others *o);
/*
 * Stops it and merges into @log (sorted) the calls @log lacks, marked
 * untraced: 0, or KMMU_STATS_OTHERS_UNKNOWN when some may be missing
 * (never started, events lost, out of memory).
 */
uint32_t kmmu_trace_others_merge(struct kmmu_trace_others *o, struct kmmu_trace_log *log);
/* Removes its instance and frees its log; safe after a failed start. */
void kmmu_trace_others_destroy(struct kmmu_trace_others *o);
/* KMMU_STATS_NX_RECOVERY when the NX huge page recovery thread runs, else 0. */
uint32_t kmmu_trace_host_stats_flags(void);
/* Adds @flags to every page stats record of @log (KMMU_ACT_STATS). */
void kmmu_trace_log_mark_stats(struct kmmu_trace_log *log, uint32_t flags);

/* NULL with the reason in @why when checking is off or tracing unavailable. */
struct kmmu_trace_session *kmmu_trace_session_start(const char *test, char *why, size_t why_len);
struct kmmu_trace_log *kmmu_trace_session_log(struct kmmu_trace_session *s);

/*
 * Tells the checker about the VM: its KVM_CAP_MULTI_ADDRESS_SPACE value
 * (<= 1: one address space), which sets how far each memslot update moves
 * the generation.  Call right after creating the VM; NULL session: no-op.
 */
void kmmu_trace_session_vm(struct kmmu_trace_session *s, long multi_address_space_cap);

/*
 * Hands the checker other tasks' notifier calls on guest memory (kswapd,
 * kdamond, whichever task reclaims: the session's own capture sees only
 * this process), with the SPTE changes each made: those of the same task
 * that follow the call, for it holds mmu_lock throughout.  @from is a
 * capture of all processes (kmmu_trace_capture_opts.all_pids), sorted;
 * records of the tasks the session's log has already are left out, and so
 * are tasks after the first 64.  @on_guest_memory says whether a notifier
 * call (kvm_age_hva, kvm_test_age_hva, kvm_unmap_hva_range) is about the
 * test's guest memory; kvm_test_age_hva calls only switch a task on or
 * off, they change no SPTE.  The session's log is locked by it, not by
 * the caller.  0 with the count in *@added (may be NULL), -EINVAL without
 * a session, -ENOMEM.
 */
int kmmu_trace_session_add_foreign(struct kmmu_trace_session *s,
				   const struct kmmu_trace_log *from,
				   bool (*on_guest_memory)(const struct kmmu_trace_record *r, void *ctx),
				   void *ctx, uint64_t *added);

/*
 * Stops the capture and sorts the log (the kernel's stats last, as
 * finishing does), for a test that reads the whole history itself
 * (kmmu_trace_session_log()) before kmmu_trace_session_finish() judges
 * it; finishing then does not stop again, and nothing may be logged in
 * between.  0, -EOVERFLOW (events were lost; finishing says so) or
 * -ENOMEM as kmmu_trace_capture_stop(); the same again on a second call;
 * -EINVAL without a session.
 */
int kmmu_trace_session_stop(struct kmmu_trace_session *s);

/*
 * Ends the session (also frees it).  0: no divergence; 1: divergences
 * (described on stdout, trace file written); -EOVERFLOW: events were lost,
 * so nothing was judged — a failure, the history is incomplete; other
 * -errno: the check could not run.  @res may be NULL.
 */
int kmmu_trace_session_finish(struct kmmu_trace_session *s, struct kmmu_check_result *res);
/* Ends the session without checking (a test that failed before its run). */
void kmmu_trace_session_abort(struct kmmu_trace_session *s);

#endif
