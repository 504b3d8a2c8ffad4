/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Replacing a file by a complete new one, the one way the suite writes
 * what others read while it runs (result files, trace files): a reader
 * sees the old file or the new one, never a part.
 */
#ifndef KMMU_ATOMIC_FILE_H
#define KMMU_ATOMIC_FILE_H

/*
 * Writes @path atomically: @fill writes the whole content to @fd, a new
 * file beside @path (PATH.tmp.PID), which is then synced and renamed over
 * @path; on any failure it is removed and @path left as it was.  0, or
 * -errno (@fill's, when it fails).
 */
int kmmu_file_write_atomic(const char *path, int (*fill)(int fd, void *ctx), void *ctx);

#endif
