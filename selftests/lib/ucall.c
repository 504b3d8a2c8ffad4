// SPDX-License-Identifier: GPL-2.0
/*
 * ucall encoding (shared by guest and tests) and host-side decoding.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kmmu/ucall.h"

/* Linker-provided bounds of the loaded image (non-PIE and PIE alike). */
extern const char __executable_start[];
extern const char _end[];

void kmmu_image_range(struct kmmu_str_range *range)
{
	range->lo = (uintptr_t)__executable_start;
	range->hi = (uintptr_t)_end;
}

/* Runs in the guest: volatile stores so gcc emits no memset/memcpy. */
void kmmu_ucall_fill(struct kmmu_ucall *uc, uint64_t nr, const char *file,
		     uint64_t line, const char *fmt, uint64_t nr_args,
		     const uint64_t *args)
{
	volatile struct kmmu_ucall *v = uc;
	uint64_t i;

	if (nr_args > KMMU_UCALL_MAX_ARGS)
		nr_args = KMMU_UCALL_MAX_ARGS;
	v->nr = nr;
	v->file = (uint64_t)(uintptr_t)file;
	v->line = line;
	v->fmt = (uint64_t)(uintptr_t)fmt;
	v->nr_args = nr_args;
	for (i = 0; i < KMMU_UCALL_MAX_ARGS; i++)
		v->args[i] = i < nr_args ? args[i] : 0;
	v->ret = 0;
	v->seq = v->seq + 1;
	v->magic = KMMU_UCALL_MAGIC;
}

/* A NUL-terminated string wholly inside @r, or NULL. */
static const char *kmmu_ucall_str(uint64_t addr, const struct kmmu_str_range *r)
{
	uintptr_t p = (uintptr_t)addr;

	if (!addr || p < r->lo || p >= r->hi)
		return NULL;
	if (!memchr((const void *)p, 0, r->hi - p))
		return NULL;
	return (const char *)p;
}

int kmmu_ucall_format_ok(const char *fmt, int nr_args)
{
	int convs = 0;
	const char *p;

	for (p = fmt; *p; p++) {
		int l = 0;

		if (*p != '%')
			continue;
		p++;
		if (*p == '%')
			continue;
		while (*p && strchr("#0- +", *p))
			p++;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (*p == 'z' || *p == 'j') {
			l = 1;
			p++;
		} else {
			while (*p == 'l' && l < 2) {
				l++;
				p++;
			}
		}
		if (!l || !*p || !strchr("diouxX", *p))
			return 0;
		convs++;
	}
	return convs <= nr_args;
}

static void kmmu_ucall_args_text(char *buf, size_t len, const struct kmmu_ucall_msg *m)
{
	size_t off = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < m->nr_args && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%#llx", i ? ", " : "",
				(unsigned long long)m->args[i]);
}

int kmmu_ucall_decode(const struct kmmu_ucall *uc,
		      const struct kmmu_str_range *range,
		      struct kmmu_ucall_msg *msg)
{
	struct kmmu_str_range image;
	const char *fmt, *file;
	char args[256], body[768];
	uint64_t *a;
	int i;

	memset(msg, 0, sizeof(*msg));
	if (!range) {
		kmmu_image_range(&image);
		range = &image;
	}
	if (uc->magic != KMMU_UCALL_MAGIC) {
		snprintf(msg->text, sizeof(msg->text),
			 "bad ucall block: magic %#llx", (unsigned long long)uc->magic);
		return -EINVAL;
	}
	if (uc->nr == KMMU_UCALL_NONE || uc->nr >= KMMU_UCALL_NR_MAX) {
		snprintf(msg->text, sizeof(msg->text), "bad ucall nr %llu",
			 (unsigned long long)uc->nr);
		return -EINVAL;
	}
	if (uc->nr_args > KMMU_UCALL_MAX_ARGS) {
		snprintf(msg->text, sizeof(msg->text), "bad ucall nr_args %llu",
			 (unsigned long long)uc->nr_args);
		return -EINVAL;
	}
	msg->nr = uc->nr;
	msg->nr_args = uc->nr_args;
	for (i = 0; i < KMMU_UCALL_MAX_ARGS; i++)
		msg->args[i] = uc->args[i];
	file = kmmu_ucall_str(uc->file, range);
	msg->file = file ? file : "?";
	msg->line = uc->line;
	fmt = kmmu_ucall_str(uc->fmt, range);
	kmmu_ucall_args_text(args, sizeof(args), msg);
	a = msg->args;

	switch (msg->nr) {
	case KMMU_UCALL_SYNC:
		snprintf(body, sizeof(body), "sync %#llx", (unsigned long long)a[0]);
		break;
	case KMMU_UCALL_DONE:
		snprintf(body, sizeof(body), "done");
		break;
	case KMMU_UCALL_ASSERT:
		if (msg->nr_args == 2)
			snprintf(body, sizeof(body),
				 "guest assertion failed: %s (%#llx vs %#llx)",
				 fmt ? fmt : "?", (unsigned long long)a[0],
				 (unsigned long long)a[1]);
		else
			snprintf(body, sizeof(body), "guest assertion failed: %s%s%s%s",
				 fmt ? fmt : "?", msg->nr_args ? " (" : "", args,
				 msg->nr_args ? ")" : "");
		break;
	case KMMU_UCALL_FAIL:
	case KMMU_UCALL_PRINT: {
		const char *what = msg->nr == KMMU_UCALL_FAIL ? "guest failure: " : "guest: ";

		if (fmt && kmmu_ucall_format_ok(fmt, msg->nr_args)) {
			char text[512];

			/* Extra arguments are ignored by printf; all are u64. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
			snprintf(text, sizeof(text), fmt, a[0], a[1], a[2], a[3], a[4], a[5]);
#pragma GCC diagnostic pop
			snprintf(body, sizeof(body), "%s%s", what, text);
		} else {
			snprintf(body, sizeof(body), "%s[unexpandable format \"%s\"] args: %s",
				 what, fmt ? fmt : "?", args);
		}
		break;
	}
	}
	snprintf(msg->text, sizeof(msg->text), "%s:%lu: %s", msg->file, msg->line, body);
	return msg->nr;
}
