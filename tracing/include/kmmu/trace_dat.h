/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmmu records as a trace-cmd data file, so that `trace-cmd report` and
 * KernelShark open a kmmu trace.
 *
 * The file is trace-cmd's version 6 format (trace-cmd.dat.v6(5)): event
 * formats, then one stream of ring-buffer pages per CPU.  Every record
 * becomes one event on its own CPU at its own timestamp (ns on the trace
 * clock), with the pid it had.  A kernel event keeps its tracefs system
 * and name (kvmmmu:kvm_mmu_set_spte, kvm:kvm_page_fault, ...) and carries
 * the fields a kmmu record keeps of it, under the kernel's field names
 * (kmmu/trace_events.h); the event format describes exactly those fields,
 * so a trace exports on any machine, without the kernel it was recorded
 * on.  The test's actions are events of the system "kmmu" (kmmu:set_memslot,
 * kmmu:guest_access, ...), so they show on the same timeline.
 */
#ifndef KMMU_TRACE_DAT_H
#define KMMU_TRACE_DAT_H

#include <stddef.h>
#include <stdint.h>

#include "kmmu/trace_events.h"
#include "kmmu/trace_record.h"

/* The most CPUs a .dat gets: a record on a CPU beyond is refused. */
#define KMMU_DAT_MAX_CPUS 8192

/*
 * Writes @nr records, sorted by timestamp, to @path, atomically (temp file
 * + rename: on failure nothing is left at @path nor beside it).  0, or
 * -errno with a one-line reason in @err: -EINVAL a record of unknown type,
 * on a CPU beyond KMMU_DAT_MAX_CPUS or out of timestamp order.
 */
int kmmu_trace_dat_write(const char *path, const struct kmmu_trace_record *recs, uint64_t nr,
			 char *err, size_t err_len);

/*
 * The event record @type is in a .dat: its system, name and fields (the
 * kernel's event for a kernel record, a "kmmu" event for an action and
 * the marker); NULL for a type that has none.
 */
const struct kmmu_event_spec *kmmu_trace_dat_spec(unsigned int type);

#endif
