// SPDX-License-Identifier: GPL-2.0
/*
 * Taint and kernel-log checks, cleanup on every exit path.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/hygiene.h"

static int kmmu_read_taint(unsigned long *t)
{
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%lu", t) == 1;
	fclose(f);
	return ok ? 0 : -EIO;
}

void kmmu_hygiene_begin(struct kmmu_hygiene *h)
{
	pid_t parent = getppid();

	/*
	 * The 6.1 harness runs each test in a child with its own process
	 * group, so a Ctrl-C reaches only the harness: die with it rather than
	 * run on unseen (the kernel frees the VM, janitors undo host changes,
	 * the capture's janitor removes its trace instance).
	 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		raise(SIGTERM);

	h->taint_ok = !kmmu_read_taint(&h->taint_start);
	/*
	 * /dev/kmsg: each read() returns one record; SEEK_END skips all
	 * that was logged before the test.
	 */
	h->kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (h->kmsg_fd >= 0 && lseek(h->kmsg_fd, 0, SEEK_END) < 0) {
		close(h->kmsg_fd);
		h->kmsg_fd = -1;
	}
}

int kmmu_kmsg_is_bad(const char *msg)
{
	static const char *const bad[] = {
		"WARNING:", "BUG:", "Call Trace", "kernel BUG", "Oops",
		"general protection fault", "RIP: 0010:", "list_add corruption",
		"list_del corruption", "UBSAN:", "KASAN:", "refcount_t:",
		"rcu_sched detected stall", "rcu: INFO:", "soft lockup",
		"hung_task", "lockdep", "possible circular locking",
		"suspicious RCU usage",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strstr(msg, bad[i]))
			return 1;
	return 0;
}

void kmmu_taint_text(unsigned long taint, char *buf, size_t len)
{
	/* Letters of the kernel's taint_flags[] for bits 0..18. */
	static const char letters[] = "PFSRMBUDAWCIOELKXTN";
	size_t off = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < 64 && off + 8 < len; i++) {
		if (!(taint & (1UL << i)))
			continue;
		if (i < (int)sizeof(letters) - 1)
			off += snprintf(buf + off, len - off, "%c", letters[i]);
		else
			off += snprintf(buf + off, len - off, "[bit %d]", i);
	}
}

int kmmu_hygiene_end(struct kmmu_hygiene *h, char *report, size_t len)
{
	size_t off = 0;
	int dirty = 0, nbad = 0;
	unsigned long t;
	char rec[8192];

	report[0] = 0;
	if (h->taint_ok && !kmmu_read_taint(&t)) {
		unsigned long added = t & ~h->taint_start;

		if (added) {
			char txt[128];

			kmmu_taint_text(added, txt, sizeof(txt));
			off += snprintf(report + off, len - off,
					"kernel newly tainted: %#lx (%s); ", added, txt);
			dirty = 1;
		}
	} else if (off < len) {
		off += snprintf(report + off, len - off, "(taint not checked) ");
	}
	if (h->kmsg_fd < 0) {
		if (off < len)
			off += snprintf(report + off, len - off, "(kernel log not checked) ");
		return dirty;
	}
	for (;;) {
		ssize_t r = read(h->kmsg_fd, rec, sizeof(rec) - 1);
		char *msg;

		if (r < 0) {
			if (errno == EPIPE)	/* overwritten records: go on */
				continue;
			if (errno == EINTR)
				continue;
			break;			/* EAGAIN: nothing more */
		}
		if (!r)
			break;
		rec[r] = 0;
		/* "prio,seq,usec,flags;message\n continuation lines" */
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = 0;
		if (kmmu_kmsg_is_bad(msg)) {
			if (nbad++ < 5 && off < len)
				off += snprintf(report + off, len - off,
						"kernel log: \"%.200s\"; ", msg);
			dirty = 1;
		}
	}
	if (nbad > 5 && off < len)
		off += snprintf(report + off, len - off, "(%d bad kernel log lines in all) ", nbad);
	close(h->kmsg_fd);
	h->kmsg_fd = -1;
	return dirty;
}

/* ---- cleanup ---- */

#define KMMU_CLEANUP_MAX 32

static struct {
	void (*fn)(void *);
	void *arg;
} kmmu_cleanups[KMMU_CLEANUP_MAX];
static volatile int kmmu_nr_cleanups;
static int kmmu_cleanup_installed;

void kmmu_cleanup_run(void)
{
	while (kmmu_nr_cleanups > 0) {
		int i = --kmmu_nr_cleanups;

		if (kmmu_cleanups[i].fn)
			kmmu_cleanups[i].fn(kmmu_cleanups[i].arg);
	}
}

static void kmmu_cleanup_signal(int sig)
{
	kmmu_cleanup_run();
	signal(sig, SIG_DFL);
	raise(sig);
}

int kmmu_cleanup_push(void (*fn)(void *), void *arg)
{
	if (!kmmu_cleanup_installed) {
		struct sigaction sa = { .sa_handler = kmmu_cleanup_signal };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		atexit(kmmu_cleanup_run);
		kmmu_cleanup_installed = 1;
	}
	if (kmmu_nr_cleanups >= KMMU_CLEANUP_MAX)
		return -ENOSPC;
	kmmu_cleanups[kmmu_nr_cleanups].fn = fn;
	kmmu_cleanups[kmmu_nr_cleanups].arg = arg;
	kmmu_nr_cleanups++;
	return 0;
}

void kmmu_cleanup_forget(void (*fn)(void *), void *arg)
{
	int i;

	for (i = 0; i < kmmu_nr_cleanups; i++)
		if (kmmu_cleanups[i].fn == fn && kmmu_cleanups[i].arg == arg)
			kmmu_cleanups[i].fn = NULL;
}

void kmmu_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void kmmu_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}
