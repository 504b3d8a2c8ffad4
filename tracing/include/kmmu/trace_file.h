/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmmu trace files: a recorded run (kernel events and the test's action log)
 * that can be re-checked offline and attached to a bug report.
 *
 * Format "kmmu-trace/1", little endian:
 *   0   char[8]  magic "KMMUTRC\n"
 *   8   u32      version (1)
 *   12  u32      header length H (at most 64 KiB)
 *   16  char[H]  header: "key: value\n" lines of printable text (host,
 *                kernel release, trace clock, events captured, events this
 *                kernel lacks, lost events, the program and its options)
 *   16+H u64     number of records N
 *   24+H N x 64-byte struct kmmu_trace_record, sorted by timestamp
 * Nothing may follow.  The reader checks every one of these facts and every
 * record's type, and reports the first violation with its offset.
 */
#ifndef KMMU_TRACE_FILE_H
#define KMMU_TRACE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "kmmu/trace_record.h"

#define KMMU_TRACE_MAGIC "KMMUTRC\n"
#define KMMU_TRACE_VERSION 1
#define KMMU_TRACE_MAX_HEADER (64 * 1024)

struct kmmu_trace_file {
	char *header;			/* NUL-terminated */
	struct kmmu_trace_record *recs;
	uint64_t nr;
};

/* All @len bytes of @buf to @fd (retrying short writes and EINTR); 0 or -errno. */
int kmmu_write_all(int fd, const void *buf, size_t len);

/* Atomic (temp file + rename). 0 or -errno. */
int kmmu_trace_file_write(const char *path, const char *header,
			  const struct kmmu_trace_record *recs, uint64_t nr);
/*
 * 0, or -errno with a one-line reason in @err (-EINVAL: not a valid trace
 * file).  Only a regular file is opened: a FIFO, device, directory or
 * socket is refused at once, by what it is.  Memory: the records, once.
 */
int kmmu_trace_file_read(const char *path, struct kmmu_trace_file *tf, char *err, size_t err_len);
/* The same checks on a buffer in memory (what the fuzzer drives). */
int kmmu_trace_file_parse(const void *buf, size_t len, struct kmmu_trace_file *tf,
			  char *err, size_t err_len);
void kmmu_trace_file_free(struct kmmu_trace_file *tf);
/* The value of "key: value" in the header, copied into @buf; NULL if absent. */
const char *kmmu_trace_file_header_get(const struct kmmu_trace_file *tf, const char *key,
				       char *buf, size_t len);

#endif
