// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu_file_write_atomic() (kmmu/atomic_file.h): in the result library,
 * the lowest layer whose writers need it (ref/result.c, tracing's trace
 * files and exports).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "kmmu/atomic_file.h"

int kmmu_file_write_atomic(const char *path, int (*fill)(int fd, void *ctx), void *ctx)
{
	char tmp[PATH_MAX];
	int fd, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = fill(fd, ctx);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -EIO;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}
