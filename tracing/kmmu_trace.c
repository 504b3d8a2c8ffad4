// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu-trace: look at and make kmmu trace files.
 *
 *   kmmu-trace report FILE          the header and every record, one per line
 *   kmmu-trace stats FILE           counts per record type
 *   kmmu-trace check FILE           replay it into the reference and check
 *                                   the properties (exit 1 on a divergence)
 *   kmmu-trace export --dat OUT FILE
 *                                   FILE as a trace-cmd data file OUT, for
 *                                   trace-cmd report and KernelShark
 *   kmmu-trace record -o FILE [-e system:event]... [-b KB] [-N] -- CMD [ARGS]
 *                                   run CMD and record the KVM MMU events of
 *                                   it and the processes it creates, and
 *                                   (unless -N) its KVM_CREATE_VM and memslot
 *                                   ioctls through libkmmu-ioctl-log.so
 *                                   (LD_PRELOAD), so the checker knows the
 *                                   memslot layout of any dynamically linked
 *                                   VMM; -N for a command that logs its own
 *                                   actions or is linked statically;
 *                                   the interposer also logs each VM's page
 *                                   stats before its fd is closed, and the
 *                                   recording has other tasks' unmaps of
 *                                   guest memory, as a session's has
 *
 * Exit status: 0, 1 when a recording lost events or CMD failed, 2 on bad
 * usage or a file that is not a valid trace (one line on stderr).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmmu/checker.h"
#include "kmmu/host_probe.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_dat.h"
#include "kmmu/trace_file.h"
#include "kmmu/trace_session.h"

#define MAX_EVENTS 32

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kmmu-trace report FILE\n"
		"       kmmu-trace stats FILE\n"
		"       kmmu-trace check FILE\n"
		"       kmmu-trace export --dat OUT FILE\n"
		"       kmmu-trace record -o FILE [-e system:event]... [-b KB] [-N] -- CMD [ARGS...]\n");
}

/* A bad command line: one line on stderr, exit status 2. */
static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fprintf(stderr, "kmmu-trace: %s (-h for help)\n", what);
	return 2;
}

/* getopt()'s error @opt (':' or '?', opterr 0) of @cmd, said in one line. */
static int getopt_error(const char *cmd, int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		return usage_error("%s: %s needs a value", cmd, arg);
	if (optopt && strncmp(arg, "--", 2))
		return usage_error("%s: unknown option -%c", cmd, optopt);
	return usage_error("%s: unknown option %.*s", cmd, (int)strcspn(arg, "="), arg);
}

/*
 * The FILE operand of report, stats and check (@argv[1], the only one):
 * read into @tf, or 2 after the usage or the reader's error on stderr.
 */
static int load_operand(int argc, char **argv, struct kmmu_trace_file *tf)
{
	char err[512];

	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1])
			return usage_error("%s: unknown option %s", argv[0], argv[i]);
	if (argc != 2)
		return usage_error("%s needs one trace FILE", argv[0]);
	if (kmmu_trace_file_read(argv[1], tf, err, sizeof(err))) {
		fprintf(stderr, "kmmu-trace: %s\n", err);
		return 2;
	}
	return 0;
}

static int cmd_report(int argc, char **argv)
{
	struct kmmu_trace_file tf;
	char line[512];
	int ret;

	ret = load_operand(argc, argv, &tf);
	if (ret)
		return ret;
	printf("# kmmu trace %s: %" PRIu64 " records\n", argv[1], tf.nr);
	for (char *p = tf.header, *eol; p && *p; p = eol ? eol + 1 : NULL) {
		eol = strchr(p, '\n');
		printf("# %.*s\n", eol ? (int)(eol - p) : (int)strlen(p), p);
	}
	for (uint64_t i = 0; i < tf.nr; i++) {
		kmmu_rec_format(&tf.recs[i], line, sizeof(line));
		if (puts(line) == EOF)
			break;
	}
	kmmu_trace_file_free(&tf);
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	uint64_t counts[KMMU_REC_TYPE_MAX] = { 0 };
	struct kmmu_trace_file tf;
	int ret;

	ret = load_operand(argc, argv, &tf);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < tf.nr; i++)
		counts[tf.recs[i].type]++;
	for (unsigned int t = 0; t < KMMU_REC_TYPE_MAX; t++)
		if (counts[t])
			printf("%-28s %" PRIu64 "\n", kmmu_rec_type_name(t), counts[t]);
	if (tf.nr)
		printf("%-28s %.6f s\n", "span", (tf.recs[tf.nr - 1].ts - tf.recs[0].ts) / 1e9);
	kmmu_trace_file_free(&tf);
	return 0;
}

static int cmd_check(int argc, char **argv)
{
	struct kmmu_checker_opts opts = { .report = stdout };
	struct kmmu_check_result *res;
	struct kmmu_trace_file tf;
	int ret;

	ret = load_operand(argc, argv, &tf);
	if (ret)
		return ret;
	res = malloc(sizeof(*res));
	if (!res) {
		fprintf(stderr, "kmmu-trace: out of memory\n");
		kmmu_trace_file_free(&tf);
		return 2;
	}
	ret = kmmu_check(tf.recs, tf.nr, &opts, res);
	kmmu_trace_file_free(&tf);
	if (ret) {
		fprintf(stderr, "kmmu-trace: cannot replay %s: %s\n", argv[1],
			kmmu_check_strerror(ret));
		free(res);
		return 2;
	}
	kmmu_check_print_summary(stdout, res);
	printf("%" PRIu64 " records, %" PRIu64 " divergences\n", res->nr_records, res->nr_divergences);
	ret = res->nr_divergences ? 1 : 0;
	free(res);
	return ret;
}

static int cmd_export(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "dat", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kmmu_trace_file tf;
	const char *out = NULL;
	char err[512];
	int opt, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", long_opts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt != 'd')
			return getopt_error("export", opt, argv);
		out = optarg;
	}
	if (!out || optind != argc - 1) {
		fprintf(stderr, "kmmu-trace: export needs --dat OUT and one trace FILE\n");
		return 2;
	}
	ret = load_operand(2, argv + optind - 1, &tf);
	if (ret)
		return ret;
	ret = kmmu_trace_dat_write(out, tf.recs, tf.nr, err, sizeof(err));
	if (ret)
		fprintf(stderr, "kmmu-trace: %s\n", err);
	else
		fprintf(stderr, "kmmu-trace: %" PRIu64 " events in %s\n", tf.nr, out);
	kmmu_trace_file_free(&tf);
	return ret ? 2 : 0;
}

/*
 * The interposer libkmmu-ioctl-log.so, beside this program in the build
 * directory ($KMMU_IOCTL_LOG_LIB names another).  0, or -ENOENT with the
 * reason in @err.
 */
static int find_ioctl_log_lib(char *path, size_t len, char *err, size_t err_len)
{
	const char *env = getenv("KMMU_IOCTL_LOG_LIB");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env) {
		snprintf(path, len, "%s", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			n = 0;
		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash)
			*slash = 0;
		snprintf(path, len, "%.*s/libkmmu-ioctl-log.so", (int)len - 32, slash ? exe : ".");
	}
	if (access(path, R_OK)) {
		snprintf(err, err_len, "%.300s: %s (build it with make, or record with -N: no memslot ioctls)",
			 path, strerror(errno));
		return -ENOENT;
	}
	return 0;
}

/*
 * In the child, before exec: the interposer is preloaded (ahead of any
 * LD_PRELOAD the user set) and told where to write.
 */
static void preload_ioctl_log(const char *lib, int log_fd)
{
	const char *old = getenv("LD_PRELOAD");
	char fd[16], *preload;

	snprintf(fd, sizeof(fd), "%d", log_fd);
	if (asprintf(&preload, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "") < 0)
		return;
	setenv("LD_PRELOAD", preload, 1);
	setenv("KMMU_IOCTL_LOG_FD", fd, 1);
}

/*
 * Appends the interposer's records to @log: only the action types it
 * writes, whole records.  The number taken, or -errno.
 */
static long merge_ioctl_log(int fd, struct kmmu_trace_log *log)
{
	struct kmmu_trace_record r;
	long nr = 0, bad = 0;
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, &r, sizeof(r), off)) == sizeof(r)) {
		off += n;
		if (r.type != KMMU_ACT_SET_MEMSLOT && r.type != KMMU_ACT_VM_CREATE &&
		    r.type != KMMU_ACT_VM_CLOSE && r.type != KMMU_ACT_STATS) {
			bad++;
			continue;
		}
		if (kmmu_trace_log_append(log, &r))
			return -ENOMEM;
		nr++;
	}
	if (n < 0)
		return -errno;
	if (n > 0 || bad)
		fprintf(stderr, "kmmu-trace: the ioctl log has %ld foreign record(s)%s: ignored\n",
			bad, n > 0 ? " and a torn tail" : "");
	return nr;
}

/* Whether the command's own records show it used KVM: more than the run's host record. */
static bool used_kvm(const struct kmmu_trace_log *log)
{
	for (uint64_t i = 0; i < log->nr; i++)
		if (log->recs[i].type != KMMU_ACT_HOST)
			return true;
	return false;
}

static int cmd_record(int argc, char **argv)
{
	const char *events[MAX_EVENTS + 1] = { NULL }, *out = NULL;
	struct kmmu_trace_capture_opts opts = { 0 };
	struct kmmu_trace_capture *cap;
	struct kmmu_trace_others others;
	struct kmmu_trace_log log;
	struct kmmu_host host;
	uint32_t stats_flags;
	bool kvm;
	unsigned long long lost = 0;
	char err[512], header[2048], lib[PATH_MAX];
	int nr_events = 0, opt, status = 0, ret, stop_ret, ioctl_log = 1, log_fd = -1;
	long nr_ioctls = 0;
	struct utsname uts;
	pid_t child;
	char *end;

	optind = 1;
	opterr = 0;
	while ((opt = getopt(argc, argv, "+:o:e:b:Nh")) != -1) {
		switch (opt) {
		case 'N':
			ioctl_log = 0;
			break;
		case 'o':
			out = optarg;
			break;
		case 'e':
			if (nr_events == MAX_EVENTS || !strchr(optarg, ':')) {
				fprintf(stderr, "kmmu-trace: -e wants system:event (at most %d)\n", MAX_EVENTS);
				return 2;
			}
			events[nr_events++] = optarg;
			break;
		case 'b':
			errno = 0;
			opts.buffer_kb = strtoul(optarg, &end, 10);
			if (errno || *end || !opts.buffer_kb || optarg[0] == '-') {
				fprintf(stderr, "kmmu-trace: -b wants a positive buffer size in KiB\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return getopt_error("record", opt, argv);
		}
	}
	if (!out || optind >= argc) {
		fprintf(stderr, "kmmu-trace: record needs -o FILE and a command after --\n");
		return 2;
	}
	opts.events = nr_events ? events : NULL;
	if (ioctl_log) {
		if (find_ioctl_log_lib(lib, sizeof(lib), err, sizeof(err))) {
			fprintf(stderr, "kmmu-trace: %s\n", err);
			return 2;
		}
		/* Not close-on-exec: the command writes to it. */
		log_fd = memfd_create("kmmu-ioctl-log", 0);
		if (log_fd < 0) {
			fprintf(stderr, "kmmu-trace: memfd_create: %s\n", strerror(errno));
			return 2;
		}
	}

	kmmu_trace_log_init(&log);
	ret = kmmu_trace_capture_start(&cap, &opts, &log, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "kmmu-trace: %s\n", err);
		return ret == -EACCES || ret == -ENODEV ? 4 : 2;
	}
	/* The SPTE format, for the checker's SPTE properties, as a session logs it. */
	kmmu_host_probe(&host);
	kmmu_trace_log_host(cap, &host, &log);
	/* What the capture cannot see, for the stats records, as a session has it. */
	stats_flags = kmmu_trace_host_stats_flags();
	stats_flags |= kmmu_trace_others_start(&others);
	/* Children inherit the capture through event-fork. */
	child = fork();
	if (child == 0) {
		if (ioctl_log)
			preload_ioctl_log(lib, log_fd);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "kmmu-trace: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	if (child > 0) {
		signal(SIGINT, SIG_IGN);	/* the command gets it; we still write */
		waitpid(child, &status, 0);
	}
	stop_ret = kmmu_trace_capture_stop(cap, &lost);
	if (ioctl_log) {
		nr_ioctls = merge_ioctl_log(log_fd, &log);
		close(log_fd);
		if (nr_ioctls < 0) {
			fprintf(stderr, "kmmu-trace: reading the ioctl log: %s\n", strerror(-nr_ioctls));
			kmmu_trace_others_destroy(&others);
			kmmu_trace_capture_destroy(cap);
			kmmu_trace_log_free(&log);
			return 2;
		}
	}
	kmmu_trace_log_sort(&log);
	/*
	 * Other VMs' unmaps are no business of a command that never used
	 * KVM: its trace stays what it was.
	 */
	kvm = used_kvm(&log);
	if (kvm)
		stats_flags |= kmmu_trace_others_merge(&others, &log);
	kmmu_trace_others_destroy(&others);
	kmmu_trace_log_mark_stats(&log, stats_flags);
	uname(&uts);
	snprintf(header, sizeof(header),
		 "kernel: %s\nclock: mono\ncommand: %s\nevents missing on this kernel: %s\n"
		 "lost events: %llu\nmemslot ioctls: %s\nother tasks' unmaps: %s\n", uts.release,
		 argv[optind], kmmu_trace_capture_missing(cap), lost,
		 !ioctl_log ? "not interposed (-N)" : nr_ioctls ? "interposed" :
		 "interposed, none seen (a statically linked command?)",
		 !kvm ? "not kept (the command used no KVM)" :
		 stats_flags & KMMU_STATS_OTHERS_UNKNOWN ? "not captured" : "captured");
	kmmu_trace_capture_destroy(cap);

	ret = kmmu_trace_file_write(out, header, log.recs, log.nr);
	if (ret) {
		fprintf(stderr, "kmmu-trace: cannot write %s: %s\n", out, strerror(-ret));
		kmmu_trace_log_free(&log);
		return 2;
	}
	fprintf(stderr, "kmmu-trace: %" PRIu64 " records in %s\n", log.nr, out);
	kmmu_trace_log_free(&log);
	if (stop_ret) {
		fprintf(stderr, "kmmu-trace: %llu events lost: the trace is incomplete\n", lost);
		return 1;
	}
	if (child < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("no command: report, stats, check, export or record");
	if (!strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "export"))
		return cmd_export(argc - 1, argv + 1);
	if (!strcmp(argv[1], "record"))
		return cmd_record(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "kmmu-trace: unknown command '%s'\n", argv[1]);
	return 2;
}
