// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the trace file reader: whatever the bytes, the
 * parser must either accept them (and then every record is well-formed and
 * can be printed) or refuse them with a message, never crash, leak or read
 * out of bounds.  `make check` runs it briefly; run it longer by hand:
 *   build/tracing/fuzz/trace_file_fuzz -max_total_time=600 build/tracing/fuzz/corpus tracing/fuzz/seeds
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmmu/trace_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kmmu_trace_file tf;
	char err[256], line[512], val[64];

	err[0] = '\0';
	if (kmmu_trace_file_parse(data, size, &tf, err, sizeof(err))) {
		if (!err[0])
			abort();	/* a refusal must say why */
		return 0;
	}
	kmmu_trace_file_header_get(&tf, "kernel", val, sizeof(val));
	for (uint64_t i = 0; i < tf.nr; i++)
		kmmu_rec_format(&tf.recs[i], line, sizeof(line));
	kmmu_trace_file_free(&tf);
	return 0;
}
