/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A growing, thread-safe log of trace records: the capture appends the
 * kernel's events to it, test threads append their actions.  Sorted by
 * timestamp once, when the run is over.
 */
#ifndef KMMU_TRACE_LOG_H
#define KMMU_TRACE_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kmmu/trace_record.h"

struct kmmu_trace_log {
	pthread_mutex_t lock;
	struct kmmu_trace_record *recs;
	uint64_t nr;
	uint64_t capacity;
	bool oom;		/* a record could not be stored: the log is incomplete */
};

void kmmu_trace_log_init(struct kmmu_trace_log *log);
void kmmu_trace_log_free(struct kmmu_trace_log *log);
/* 0, or -ENOMEM (then log->oom stays set: never a silently short log). */
int kmmu_trace_log_append(struct kmmu_trace_log *log, const struct kmmu_trace_record *rec);
/* Stable sort by timestamp: events of one CPU and actions of one thread keep their order. */
void kmmu_trace_log_sort(struct kmmu_trace_log *log);
/*
 * Merges @n records sorted by timestamp into the sorted @log: the result
 * is what appending them and kmmu_trace_log_sort() would give (on equal
 * timestamps the log's records first), without sorting the log again.
 * 0, or -ENOMEM (log->oom set, the log unchanged).
 */
int kmmu_trace_log_merge_sorted(struct kmmu_trace_log *log, const struct kmmu_trace_record *add,
				uint64_t n);

/* Now, on the trace clock. */
uint64_t kmmu_trace_now(void);

/*
 * Action helpers: stamp the record with now, the calling thread and append.
 * A memslot ioctl is an interval: take @start_ts = kmmu_trace_now() before
 * issuing it and log it after it returned, with its 0 or -errno.
 */
int kmmu_trace_action_memslot(struct kmmu_trace_log *log, uint64_t start_ts, uint32_t slot,
			      uint32_t flags, uint64_t gpa, uint64_t size, uint64_t hva, int ret);
int kmmu_trace_action_access(struct kmmu_trace_log *log, uint32_t vcpu, uint64_t gpa,
			     bool write, uint64_t value, enum kmmu_access_outcome outcome);
/*
 * The VM the actions are about: how many memslot address spaces it has
 * (KVM_CAP_MULTI_ADDRESS_SPACE; 2 on x86 with SMM, 1 without), which sets
 * how far each memslot update moves the generation.
 */
int kmmu_trace_action_vm(struct kmmu_trace_log *log, uint32_t nr_address_spaces);
int kmmu_trace_action_age(struct kmmu_trace_log *log, uint64_t hva_start, uint64_t hva_end);

#endif
