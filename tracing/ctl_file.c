// SPDX-License-Identifier: GPL-2.0
/*
 * Host control files (kmmu/ctl_file.h): sysfs, cgroupfs, procfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmmu/ctl_file.h"

/* Between two tries of a busy file. */
static void pause_5ms(void)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int kmmu_ctl_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, len - 1);
	if (r < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return (int)r;
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == ' '))
		r--;
	buf[r] = 0;
	return 0;
}

int kmmu_ctl_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = write(fd, val, strlen(val));
	if (r < 0)
		r = -errno;
	close(fd);
	return r < 0 ? (int)r : 0;
}

int kmmu_ctl_read_retry(const char *path, char *buf, size_t len, int tries)
{
	int r;

	while ((r = kmmu_ctl_read(path, buf, len)) == -EBUSY || r == -EINTR) {
		if (--tries <= 0)
			break;
		pause_5ms();
	}
	return r;
}

int kmmu_ctl_write_retry(const char *path, const char *val, int tries)
{
	int r;

	while ((r = kmmu_ctl_write(path, val)) == -EBUSY || r == -EINTR) {
		if (--tries <= 0)
			break;
		pause_5ms();
	}
	return r;
}
