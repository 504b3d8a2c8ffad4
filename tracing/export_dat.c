// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu records as a trace-cmd data file (kmmu/trace_dat.h).  The layout is
 * trace-cmd's version 6 as its manual page trace-cmd.dat.v6(5) describes
 * it; the CPU data are ring-buffer pages as the kernel's events/header_page
 * and events/header_event describe them, which this file also writes.
 *
 * Written by hand rather than through libtracecmd: libtracecmd 3.1.6
 * declares no output calls in its public header (trace-cmd.h), and those
 * it has read a live tracefs and raw per-CPU buffer files, neither of
 * which a trace recorded elsewhere has.  The tests read every .dat back
 * with libtracecmd and trace-cmd report.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmmu/atomic_file.h"
#include "kmmu/err_msg.h"
#include "kmmu/trace_dat.h"
#include "kmmu/trace_file.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .dat says little endian and copies records' fields as they are"
#endif

#define DAT_PAGE_SIZE	4096
/* A page starts with u64 timestamp and local_t commit (8 bytes: 64-bit kernel). */
#define PAGE_HEADER	16
#define PAGE_DATA	(DAT_PAGE_SIZE - PAGE_HEADER)
/* Event header: type_len (5 bits; 1-28: data length in 4-byte words), time_delta (27). */
#define MAX_SMALL_DATA	(28 * 4)
#define TYPE_TIME_EXTEND 30
#define DELTA_BITS	27
/* common_type, common_flags, common_preempt_count, common_pid */
#define COMMON_SIZE	8

/*
 * The test's actions, on the same timeline as the kernel's events, and the
 * marker, whose record keeps only the first 8 bytes of ftrace:print's text.
 */
#define A(n, member) KMMU_EVENT_FIELD(n, member, false)
static const struct kmmu_event_spec kmmu_specs[] = {
	{ KMMU_EV_MARKER, "kmmu", "marker", { A("text", marker.value) } },
	{ KMMU_ACT_SET_MEMSLOT, "kmmu", "set_memslot",
	  { A("slot", memslot.slot), A("flags", memslot.flags), A("gpa", memslot.gpa),
	    A("size", memslot.size), A("hva", memslot.hva), A("ret", memslot.ret),
	    A("issued_ts", memslot.start_ts), A("vm", memslot.vm) } },
	{ KMMU_ACT_GUEST_ACCESS, "kmmu", "guest_access",
	  { A("vcpu", access.vcpu), A("write", access.write), A("gpa", access.gpa),
	    A("value", access.value), A("len", access.len), A("outcome", access.outcome) } },
	{ KMMU_ACT_MMIO_EXIT, "kmmu", "mmio_exit",
	  { A("vcpu", access.vcpu), A("write", access.write), A("gpa", access.gpa),
	    A("value", access.value), A("len", access.len), A("outcome", access.outcome) } },
	{ KMMU_ACT_AGE_REQUEST, "kmmu", "age_request",
	  { A("start", hva_range.start), A("end", hva_range.end) } },
	{ KMMU_ACT_VM_CREATE, "kmmu", "vm_create",
	  { A("nr_address_spaces", vm.nr_address_spaces), A("id", vm.id) } },
	{ KMMU_ACT_VM_CLOSE, "kmmu", "vm_close", { A("id", vm.id) } },
	{ KMMU_ACT_STATS, "kmmu", "stats",
	  { A("pages_4k", stats.pages[0]), A("pages_2m", stats.pages[1]),
	    A("pages_1g", stats.pages[2]), A("nr_vms", stats.nr_vms), A("flags", stats.flags),
	    A("read_start_ts", stats.start_ts), A("vm", stats.vm) } },
	{ KMMU_ACT_HOST, "kmmu", "host",
	  { A("backend", host.backend), A("tdp", host.tdp), A("tdp_mmu", host.tdp_mmu) } },
	{ KMMU_ACT_IDLE, "kmmu", "idle", { A("gpa", idle.gpa), A("size", idle.size) } },
	{ KMMU_ACT_GET_DIRTY_LOG, "kmmu", "get_dirty_log",
	  { A("slot", dirty_log.slot), A("ret", dirty_log.ret),
	    A("issued_ts", dirty_log.start_ts), A("vm", dirty_log.vm) } },
	{ KMMU_ACT_CLEAR_DIRTY_LOG, "kmmu", "clear_dirty_log",
	  { A("slot", dirty_log.slot), A("first_page", dirty_log.first_page),
	    A("num_pages", dirty_log.num_pages), A("ret", dirty_log.ret),
	    A("issued_ts", dirty_log.start_ts), A("vm", dirty_log.vm) } },
	{ KMMU_ACT_DIRTY_LOG_PROTECT, "kmmu", "dirty_log_protect",
	  { A("flags", protect_cap.flags), A("ret", protect_cap.ret),
	    A("issued_ts", protect_cap.start_ts), A("vm", protect_cap.vm) } },
};

const struct kmmu_event_spec *kmmu_trace_dat_spec(unsigned int type)
{
	if (type != KMMU_EV_MARKER && kmmu_trace_event_spec(type))
		return kmmu_trace_event_spec(type);
	for (size_t i = 0; i < sizeof(kmmu_specs) / sizeof(kmmu_specs[0]); i++)
		if (kmmu_specs[i].type == type)
			return &kmmu_specs[i];
	return NULL;
}

/* Where each field of @spec lies in the event's data; the data's length. */
static unsigned int lay_out(const struct kmmu_event_spec *spec, unsigned int *off)
{
	unsigned int at = COMMON_SIZE;

	for (int i = 0; i < KMMU_EVENT_MAX_FIELDS && spec->fields[i].name; i++) {
		unsigned int size = spec->fields[i].size;

		at = (at + size - 1) / size * size;	/* naturally aligned, as in C */
		off[i] = at;
		at += size;
	}
	return (at + 3) & ~3u;
}

/* A growing buffer; the first failure sticks in @err and stops the rest. */
struct buf {
	char *p;
	size_t len, cap;
	int err;
};

static char *buf_grow(struct buf *b, size_t n)
{
	char *p;

	if (b->err)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	p = b->p + b->len;
	memset(p, 0, n);
	b->len += n;
	return p;
}

static void buf_put(struct buf *b, const void *data, size_t n)
{
	char *p = buf_grow(b, n);

	if (p)
		memcpy(p, data, n);
}

static void buf_u32(struct buf *b, uint32_t v)
{
	buf_put(b, &v, sizeof(v));
}

static void buf_u64(struct buf *b, uint64_t v)
{
	buf_put(b, &v, sizeof(v));
}

static __attribute__((format(printf, 2, 3))) void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	/* One more for vsnprintf's NUL, which is then taken back. */
	p = n < 0 ? NULL : buf_grow(b, n + 1);
	if (!p)
		return;
	va_start(ap, fmt);
	vsnprintf(p, n + 1, fmt, ap);
	va_end(ap);
	b->len--;
}

/* A section: its 8-byte length, then @text. */
static void buf_text64(struct buf *b, const struct buf *text)
{
	if (text->err && !b->err)
		b->err = text->err;
	buf_u64(b, text->len);
	buf_put(b, text->p, text->len);
}

static const char *c_type(unsigned int size, bool is_signed)
{
	switch (size) {
	case 1:
		return is_signed ? "signed char" : "unsigned char";
	case 2:
		return is_signed ? "short" : "unsigned short";
	case 4:
		return is_signed ? "int" : "unsigned int";
	default:
		return is_signed ? "long long" : "unsigned long long";
	}
}

static const char *conversion(unsigned int size, bool is_signed)
{
	if (size == 8)
		return is_signed ? "%lld" : "0x%llx";
	return is_signed ? "%d" : "%u";
}

/* events/<system>/<name>/format of record @type, as tracefs words it. */
static void put_format(struct buf *b, const struct kmmu_event_spec *spec)
{
	const struct kmmu_event_field *f = spec->fields;
	struct buf text = { 0 };
	unsigned int off[KMMU_EVENT_MAX_FIELDS];
	int nr = 0;

	lay_out(spec, off);
	buf_printf(&text, "name: %s\nID: %u\nformat:\n"
		   "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
		   "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
		   "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
		   "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n",
		   spec->name, spec->type);
	for (; nr < KMMU_EVENT_MAX_FIELDS && f[nr].name; nr++)
		buf_printf(&text, "\tfield:%s %s;\toffset:%u;\tsize:%u;\tsigned:%d;\n",
			   c_type(f[nr].size, f[nr].is_signed), f[nr].name, off[nr], f[nr].size,
			   f[nr].is_signed);
	buf_printf(&text, "\nprint fmt: \"");
	for (int i = 0; i < nr; i++)
		buf_printf(&text, "%s%s=%s", i ? " " : "", f[i].name,
			   conversion(f[i].size, f[i].is_signed));
	buf_printf(&text, "\"");
	for (int i = 0; i < nr; i++)
		buf_printf(&text, ", REC->%s", f[i].name);
	buf_printf(&text, "\n");
	buf_text64(b, &text);
	free(text.p);
}

/* Every event format, grouped by system in the order systems first appear. */
static void put_event_formats(struct buf *b)
{
	const char *systems[16];
	uint32_t nr_systems = 0;

	for (unsigned int t = 1; t < KMMU_REC_TYPE_MAX; t++) {
		const struct kmmu_event_spec *spec = kmmu_trace_dat_spec(t);
		uint32_t s = 0;

		while (spec && s < nr_systems && strcmp(systems[s], spec->system))
			s++;
		if (spec && s == nr_systems && nr_systems < sizeof(systems) / sizeof(systems[0]))
			systems[nr_systems++] = spec->system;
	}
	buf_u32(b, nr_systems);
	for (uint32_t s = 0; s < nr_systems; s++) {
		uint32_t nr_events = 0;

		for (unsigned int t = 1; t < KMMU_REC_TYPE_MAX; t++)
			nr_events += kmmu_trace_dat_spec(t) && !strcmp(kmmu_trace_dat_spec(t)->system, systems[s]);
		buf_put(b, systems[s], strlen(systems[s]) + 1);
		buf_u32(b, nr_events);
		for (unsigned int t = 1; t < KMMU_REC_TYPE_MAX; t++)
			if (kmmu_trace_dat_spec(t) && !strcmp(kmmu_trace_dat_spec(t)->system, systems[s]))
				put_format(b, kmmu_trace_dat_spec(t));
	}
}

/* Everything before the CPU data's offsets: the file's head and the formats. */
static void put_head(struct buf *b, uint32_t nr_cpus)
{
	static const char magic[] = { 0x17, 0x08, 0x44, 't', 'r', 'a', 'c', 'i', 'n', 'g',
				      '6', 0, 0 /* little endian */, 8 /* long */ };
	struct buf text = { 0 };

	buf_put(b, magic, sizeof(magic));
	buf_u32(b, DAT_PAGE_SIZE);
	buf_put(b, "header_page", sizeof("header_page"));
	buf_printf(&text, "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
		   "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
		   "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
		   "\tfield: char data;\toffset:%d;\tsize:%d;\tsigned:0;\n",
		   PAGE_HEADER, PAGE_DATA);
	buf_text64(b, &text);
	text.len = 0;
	buf_put(b, "header_event", sizeof("header_event"));
	buf_printf(&text, "# compressed entry header\n"
		   "\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n\tarray       :   32 bits\n\n"
		   "\tpadding     : type == 29\n\ttime_extend : type == 30\n"
		   "\ttime_stamp : type == 31\n\tdata max type_len  == 28\n");
	buf_text64(b, &text);
	free(text.p);
	buf_u32(b, 0);			/* ftrace's own event formats: none */
	put_event_formats(b);
	buf_u32(b, 0);			/* kallsyms: none */
	buf_u32(b, 0);			/* trace_printk formats: none */
	buf_u64(b, 0);			/* saved_cmdlines: the records keep no comm */
	buf_u32(b, nr_cpus);
	buf_put(b, "flyrecord", sizeof("flyrecord"));
}

/* One CPU's ring-buffer pages, filled one event at a time. */
struct cpu_pages {
	struct buf pages;
	size_t page;		/* offset of the page being filled */
	size_t used;		/* bytes of its data used */
	uint64_t last_ts;
	bool open;
};

static void put_u32_at(char *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void cpu_add(struct cpu_pages *c, uint64_t ts, const void *data, unsigned int len)
{
	uint64_t delta = c->open ? ts - c->last_ts : 0;
	size_t need = 4 + len + (delta >> DELTA_BITS ? 8 : 0);
	uint64_t commit;
	char *p;

	if (!c->open || c->used + need > PAGE_DATA) {
		c->page = c->pages.len;
		p = buf_grow(&c->pages, DAT_PAGE_SIZE);
		if (!p)
			return;
		memcpy(p, &ts, 8);	/* the page's timestamp: its first event's */
		c->used = 0;
		c->open = true;
		delta = 0;
		need = 4 + len;
	}
	p = c->pages.p + c->page + PAGE_HEADER + c->used;
	if (delta >> DELTA_BITS) {
		/* A time extend: the low 27 bits in its header, the rest after. */
		put_u32_at(p, TYPE_TIME_EXTEND | (uint32_t)(delta & ((1u << DELTA_BITS) - 1)) << 5);
		put_u32_at(p + 4, delta >> DELTA_BITS);
		p += 8;
		delta = 0;
	}
	put_u32_at(p, len / 4 | (uint32_t)delta << 5);
	memcpy(p + 4, data, len);
	c->used += need;
	c->last_ts = ts;
	commit = c->used;
	memcpy(c->pages.p + c->page + 8, &commit, 8);
}

/* Checks @recs and counts the CPUs they are on. */
static int count_cpus(const struct kmmu_trace_record *recs, uint64_t nr, uint32_t *nr_cpus,
		      char *err, size_t err_len)
{
	unsigned int off[KMMU_EVENT_MAX_FIELDS];

	*nr_cpus = 1;
	for (uint64_t i = 0; i < nr; i++) {
		const struct kmmu_trace_record *r = &recs[i];

		if (!kmmu_trace_dat_spec(r->type))
			return kmmu_err_msg(err, err_len, -EINVAL,
					    "record %" PRIu64 ": type %u has no trace-cmd event", i, r->type);
		/* Never true of the tables above; fill_cpus() relies on it. */
		if (lay_out(kmmu_trace_dat_spec(r->type), off) > MAX_SMALL_DATA)
			return kmmu_err_msg(err, err_len, -E2BIG, "record %" PRIu64 ": event %s too large",
					    i, kmmu_trace_dat_spec(r->type)->name);
		if (r->cpu >= KMMU_DAT_MAX_CPUS)
			return kmmu_err_msg(err, err_len, -EINVAL, "record %" PRIu64 ": cpu %u (at most %d CPUs)",
					    i, r->cpu, KMMU_DAT_MAX_CPUS);
		if (i && r->ts < recs[i - 1].ts)
			return kmmu_err_msg(err, err_len, -EINVAL,
					    "record %" PRIu64 ": timestamp goes backwards", i);
		if (r->cpu >= *nr_cpus)
			*nr_cpus = r->cpu + 1;
	}
	return 0;
}

/* Every record as an event on its CPU's pages. */
static int fill_cpus(const struct kmmu_trace_record *recs, uint64_t nr, struct cpu_pages *cpus)
{
	for (uint64_t i = 0; i < nr; i++) {
		const struct kmmu_trace_record *r = &recs[i];
		const struct kmmu_event_spec *spec = kmmu_trace_dat_spec(r->type);
		unsigned int off[KMMU_EVENT_MAX_FIELDS], len = lay_out(spec, off);
		unsigned char data[MAX_SMALL_DATA] = { 0 };
		uint16_t id = r->type;

		memcpy(data, &id, 2);
		memcpy(data + 4, &r->pid, 4);
		for (int f = 0; f < KMMU_EVENT_MAX_FIELDS && spec->fields[f].name; f++)
			memcpy(data + off[f], (const char *)r + spec->fields[f].off, spec->fields[f].size);
		cpu_add(&cpus[r->cpu], r->ts, data, len);
		if (cpus[r->cpu].pages.err)
			return cpus[r->cpu].pages.err;
	}
	return 0;
}

/* What write_dat() writes. */
struct dat_content {
	struct buf head;
	const struct cpu_pages *cpus;
	uint32_t nr_cpus;
};

/* The head, each CPU's offset and size, padding to a page, the pages. */
static int write_dat(int fd, void *ctx)
{
	struct dat_content *c = ctx;
	struct buf *head = &c->head;
	uint64_t at = (head->len + 16ull * c->nr_cpus + DAT_PAGE_SIZE - 1) / DAT_PAGE_SIZE * DAT_PAGE_SIZE;
	static const char zeros[DAT_PAGE_SIZE];
	int ret;

	for (uint32_t i = 0; i < c->nr_cpus; i++) {
		buf_u64(head, at);
		buf_u64(head, c->cpus[i].pages.len);
		at += c->cpus[i].pages.len;
	}
	if (head->err)
		return head->err;
	ret = kmmu_write_all(fd, head->p, head->len);
	if (!ret)
		ret = kmmu_write_all(fd, zeros, (DAT_PAGE_SIZE - head->len % DAT_PAGE_SIZE) % DAT_PAGE_SIZE);
	for (uint32_t i = 0; !ret && i < c->nr_cpus; i++)
		ret = kmmu_write_all(fd, c->cpus[i].pages.p, c->cpus[i].pages.len);
	return ret;
}

int kmmu_trace_dat_write(const char *path, const struct kmmu_trace_record *recs, uint64_t nr,
			 char *err, size_t err_len)
{
	struct dat_content c = { { 0 } };
	struct cpu_pages *cpus;
	int ret;

	if (!path || (nr && !recs))
		return kmmu_err_msg(err, err_len, -EINVAL, "no path or no records");
	ret = count_cpus(recs, nr, &c.nr_cpus, err, err_len);
	if (ret)
		return ret;
	cpus = calloc(c.nr_cpus, sizeof(*cpus));
	if (!cpus)
		return kmmu_err_msg(err, err_len, -ENOMEM, "out of memory for %u CPUs", c.nr_cpus);
	c.cpus = cpus;
	ret = fill_cpus(recs, nr, cpus);
	if (!ret) {
		put_head(&c.head, c.nr_cpus);
		ret = kmmu_file_write_atomic(path, write_dat, &c);
	}
	for (uint32_t i = 0; i < c.nr_cpus; i++)
		free(cpus[i].pages.p);
	free(cpus);
	free(c.head.p);
	if (ret)
		return kmmu_err_msg(err, err_len, ret, "%s: %s", path, strerror(-ret));
	return 0;
}
