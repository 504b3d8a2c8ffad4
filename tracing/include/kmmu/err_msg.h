/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The error convention of the library calls that take "char *err, size_t
 * len": they return a negative errno and say why in err.  kmmu_err_msg()
 * is that return in one line: it formats the reason into @err (when the
 * caller gave a buffer) and returns @ret.
 */
#ifndef KMMU_ERR_MSG_H
#define KMMU_ERR_MSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline __attribute__((format(printf, 4, 5)))
int kmmu_err_msg(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

#endif /* KMMU_ERR_MSG_H */
