/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host control files (sysfs, cgroupfs, procfs): read whole into @buf
 * (at most @len - 1 bytes) without trailing newlines and blanks, so that
 * multi-line files (cgroup.procs) stay whole; written with one write().
 * 0 or -errno.  The _retry variants try up to @tries times, 5 ms apart,
 * while the file answers EBUSY (DAMON's files while another writer holds
 * their lock) or EINTR.
 *
 * In tracing/, the layer that observes the host (the host probe reads its
 * /sys/module parameters with them); selftests/lib's drivers write with
 * them too.  Only open/read/write/close: safe in a signal handler.
 */
#ifndef KMMU_CTL_FILE_H
#define KMMU_CTL_FILE_H

#include <stddef.h>

int kmmu_ctl_read(const char *path, char *buf, size_t len);
int kmmu_ctl_write(const char *path, const char *val);
int kmmu_ctl_read_retry(const char *path, char *buf, size_t len, int tries);
int kmmu_ctl_write_retry(const char *path, const char *val, int tries);

#endif
