// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the checker: whatever records a trace file that
 * the reader accepts holds (any valid type, any field values, timestamps
 * in order), the replay must end, with 0 or -errno, and never crash,
 * hang, leak or read out of bounds.  An input that is a trace file is
 * replayed as it is; any other is taken as 64-byte records with each type
 * folded onto a valid one and timestamps made to grow by small steps, so
 * that events fall inside memslot ioctls.  `make check` runs it briefly
 * from the real traces in tracing/fixtures; run it longer by hand:
 *   build/tracing/fuzz/checker_fuzz -max_total_time=600 build/tracing/fuzz/checker-corpus tracing/fixtures
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmmu/checker.h"
#include "kmmu/trace_file.h"

#define MAX_RECS 8192	/* a replay of at most a few ms */

static unsigned int valid_types[KMMU_REC_TYPE_MAX];
static unsigned int nr_valid;

/* @data as records the reader would accept, in @recs; how many. */
static size_t fold(const uint8_t *data, size_t size, struct kmmu_trace_record *recs)
{
	size_t nr = size / sizeof(*recs);
	uint64_t ts = 0;

	if (!nr_valid)
		for (unsigned int t = 0; t < KMMU_REC_TYPE_MAX; t++)
			if (kmmu_rec_type_valid(t))
				valid_types[nr_valid++] = t;
	if (nr > MAX_RECS)
		nr = MAX_RECS;
	memcpy(recs, data, nr * sizeof(*recs));
	for (size_t i = 0; i < nr; i++) {
		ts += recs[i].ts % 4096;
		recs[i].ts = ts;
		recs[i].type = valid_types[recs[i].type % nr_valid];
	}
	return nr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kmmu_trace_record recs[MAX_RECS];
	/* 16 GiB of guest memory: about 34 MiB of reference metadata. */
	struct kmmu_checker_opts opts = { .report = NULL, .max_guest_pages = 1ull << 22 };
	static struct kmmu_check_result res;
	struct kmmu_trace_file tf;
	int ret;

	if (!kmmu_trace_file_parse(data, size, &tf, NULL, 0)) {
		ret = kmmu_check(tf.recs, tf.nr, &opts, &res);
		kmmu_trace_file_free(&tf);
	} else {
		ret = kmmu_check(recs, fold(data, size, recs), &opts, &res);
	}
	/* Both are valid and sorted: only memory, or the memslots' size, may refuse. */
	if (ret && ret != -ENOMEM && ret != -EFBIG)
		abort();
	return 0;
}
