/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel events behind the record types: for each, its tracefs system
 * and name and the fields a struct kmmu_trace_record keeps of it (the
 * kernel's field name, where the record keeps it, how wide, signed or
 * not).  The capture decodes events with this table and the .dat export
 * (kmmu/trace_dat.h) describes the records to trace-cmd with it, so the two
 * cannot disagree about a field.
 */
#ifndef KMMU_TRACE_EVENTS_H
#define KMMU_TRACE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "kmmu/trace_record.h"

#define KMMU_EVENT_MAX_FIELDS 8

struct kmmu_event_field {
	const char *name;
	unsigned short off;	/* in struct kmmu_trace_record */
	unsigned short size;
	bool optional;		/* older kernels lack it: then it reads 0 */
	bool is_signed;
};

struct kmmu_event_spec {
	enum kmmu_rec_type type;
	const char *system;
	const char *name;
	struct kmmu_event_field fields[KMMU_EVENT_MAX_FIELDS];
	/* kernel-side event filter, a format of one %llu: SPTE_MMU_PRESENT_MASK */
	const char *present_filter;
	/*
	 * A kprobe event of kmmu_kprobes[] (system "kprobe" in requests): the
	 * capture creates it in a group named like its instance.
	 */
	bool kprobe;
};

/* A field kept in @member of struct kmmu_trace_record; @opt: see optional. */
#define KMMU_REC_MEMBER(member) (((struct kmmu_trace_record *)0)->member)
#define KMMU_EVENT_FIELD(n, member, opt) { n, offsetof(struct kmmu_trace_record, member), \
		sizeof(KMMU_REC_MEMBER(member)), opt, \
		(__typeof__(KMMU_REC_MEMBER(member)))-1 < (__typeof__(KMMU_REC_MEMBER(member)))1 }

/* The kernel event behind record @type; NULL for an action or unknown type. */
const struct kmmu_event_spec *kmmu_trace_event_spec(unsigned int type);

#endif
