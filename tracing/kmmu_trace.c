// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu-trace: look at and make kmmu trace files.
 *
 *   kmmu-trace report FILE          the header and every record, one per line
 *   kmmu-trace stats FILE           counts per record type
 *   kmmu-trace check FILE           replay it into the reference and check
 *                                   the properties (exit 1 on a divergence)
 *   kmmu-trace record -o FILE [-e system:event]... -- CMD [ARGS]
 *                                   run CMD and record the KVM MMU events of
 *                                   it and the processes it creates
 *
 * Exit status: 0, 1 when a recording lost events or CMD failed, 2 on bad
 * usage or a file that is not a valid trace (one line on stderr).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmmu/checker.h"
#include "kmmu/trace_capture.h"
#include "kmmu/trace_file.h"

#define MAX_EVENTS 32

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kmmu-trace report FILE\n"
		"       kmmu-trace stats FILE\n"
		"       kmmu-trace check FILE\n"
		"       kmmu-trace record -o FILE [-e system:event]... [-b KB] -- CMD [ARGS...]\n");
}

static int load(const char *path, struct kmmu_trace_file *tf)
{
	char err[512];

	if (kmmu_trace_file_read(path, tf, err, sizeof(err))) {
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

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	ret = load(argv[1], &tf);
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

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	ret = load(argv[1], &tf);
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

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	ret = load(argv[1], &tf);
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
		fprintf(stderr, "kmmu-trace: cannot replay %s: %s\n", argv[1], strerror(-ret));
		free(res);
		return 2;
	}
	kmmu_check_print_summary(stdout, res);
	printf("%" PRIu64 " records, %" PRIu64 " divergences\n", res->nr_records, res->nr_divergences);
	ret = res->nr_divergences ? 1 : 0;
	free(res);
	return ret;
}

static int cmd_record(int argc, char **argv)
{
	const char *events[MAX_EVENTS + 1] = { NULL }, *out = NULL;
	struct kmmu_trace_capture_opts opts = { 0 };
	struct kmmu_trace_capture *cap;
	struct kmmu_trace_log log;
	unsigned long long lost = 0;
	char err[512], header[2048];
	int nr_events = 0, opt, status = 0, ret, stop_ret;
	struct utsname uts;
	pid_t child;
	char *end;

	optind = 1;
	while ((opt = getopt(argc, argv, "+o:e:b:h")) != -1) {
		switch (opt) {
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
			usage(stderr);
			return 2;
		}
	}
	if (!out || optind >= argc) {
		fprintf(stderr, "kmmu-trace: record needs -o FILE and a command after --\n");
		return 2;
	}
	opts.events = nr_events ? events : NULL;

	kmmu_trace_log_init(&log);
	ret = kmmu_trace_capture_start(&cap, &opts, &log, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "kmmu-trace: %s\n", err);
		return ret == -EACCES || ret == -ENODEV ? 4 : 2;
	}
	/* Children inherit the capture through event-fork. */
	child = fork();
	if (child == 0) {
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "kmmu-trace: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	if (child > 0) {
		signal(SIGINT, SIG_IGN);	/* the command gets it; we still write */
		waitpid(child, &status, 0);
	}
	stop_ret = kmmu_trace_capture_stop(cap, &lost);
	kmmu_trace_log_sort(&log);
	uname(&uts);
	snprintf(header, sizeof(header),
		 "kernel: %s\nclock: mono\ncommand: %s\nevents missing on this kernel: %s\n"
		 "lost events: %llu\n", uts.release, argv[optind],
		 kmmu_trace_capture_missing(cap), lost);
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
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "record"))
		return cmd_record(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "kmmu-trace: unknown command '%s'\n", argv[1]);
	return 2;
}
