/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host hygiene around a test: the kernel must not become tainted nor log
 * a WARNING/BUG/oops while the test runs; and whatever the test set up is
 * torn down on every exit path (normal return, exit(), SIGINT/SIGTERM).
 *
 * The kselftest harness forks per test and ends the child with _exit(),
 * which skips atexit handlers: a fixture TEARDOWN must call
 * kmmu_cleanup_run() itself; atexit and the signal handlers are the
 * backstop for the other paths.
 */
#ifndef KMMU_HYGIENE_H
#define KMMU_HYGIENE_H

#include <stdbool.h>
#include <stddef.h>

/* kmmu_ctl_read/write(): host control files, tracing/'s. */
#include "kmmu/ctl_file.h"

struct kmmu_hygiene {
	unsigned long taint_start;
	bool taint_ok;		/* /proc/sys/kernel/tainted was readable */
	int kmsg_fd;		/* /dev/kmsg positioned at the start, or -1 */
};

/* Snapshot taint and the kernel log position.  Never fails. */
void kmmu_hygiene_begin(struct kmmu_hygiene *h);
/*
 * Compares with the snapshot: returns 0 if clean, 1 if the kernel got
 * newly tainted or logged a bad line since begin (described in @report).
 * What could not be checked is said in @report but is not a failure.
 * Closes the log fd.
 */
int kmmu_hygiene_end(struct kmmu_hygiene *h, char *report, size_t len);
/* 1 if a kernel log message says something went wrong in the kernel. */
int kmmu_kmsg_is_bad(const char *msg);
/* Taint bits as letters, like the kernel's "Tainted:" line. */
void kmmu_taint_text(unsigned long taint, char *buf, size_t len);

/*
 * Cleanup stack: functions run in reverse order of registration by
 * kmmu_cleanup_run(), at exit() and on SIGINT/SIGTERM/SIGHUP (then the
 * signal's default action).  Up to 32 entries.
 */
int kmmu_cleanup_push(void (*fn)(void *), void *arg);
/* Removes an entry without running it (after the owner cleaned up). */
void kmmu_cleanup_forget(void (*fn)(void *), void *arg);
void kmmu_cleanup_run(void);

/* Sleeps @ms milliseconds, across signal interruptions. */
void kmmu_sleep_ms(long ms);
/* Formats a one-line reason (for a SKIP or an error) into @why; NULL/0 ok. */
void kmmu_why(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
