// SPDX-License-Identifier: GPL-2.0
/*
 * Reading and writing kmmu-trace/1 files (format in kmmu/trace_file.h).
 * The reader trusts nothing in the file: it is fed truncated, corrupt and
 * foreign files by the tests and by a fuzzer.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmmu/trace_file.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kmmu-trace/1 records are stored in host (little endian) order"
#endif

static int fail(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int kmmu_trace_file_write(const char *path, const char *header,
			  const struct kmmu_trace_record *recs, uint64_t nr)
{
	uint32_t version = htole32(KMMU_TRACE_VERSION), hlen;
	uint64_t count = htole64(nr);
	char tmp[PATH_MAX];
	int fd, ret;

	if (!path || !header || (nr && !recs))
		return -EINVAL;
	if (strlen(header) > KMMU_TRACE_MAX_HEADER)
		return -E2BIG;
	hlen = htole32(strlen(header));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, KMMU_TRACE_MAGIC, 8);
	if (!ret)
		ret = write_all(fd, &version, 4);
	if (!ret)
		ret = write_all(fd, &hlen, 4);
	if (!ret)
		ret = write_all(fd, header, strlen(header));
	if (!ret)
		ret = write_all(fd, &count, 8);
	if (!ret && nr)
		ret = write_all(fd, recs, nr * sizeof(*recs));
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

int kmmu_trace_file_parse(const void *buf, size_t len, struct kmmu_trace_file *tf,
			  char *err, size_t err_len)
{
	const unsigned char *p = buf;
	uint32_t version, hlen;
	uint64_t nr, need;

	memset(tf, 0, sizeof(*tf));
	if (len < 16 || memcmp(p, KMMU_TRACE_MAGIC, 8))
		return fail(err, err_len, -EINVAL, "not a kmmu trace file (bad magic)");
	memcpy(&version, p + 8, 4);
	memcpy(&hlen, p + 12, 4);
	version = le32toh(version);
	hlen = le32toh(hlen);
	if (version != KMMU_TRACE_VERSION)
		return fail(err, err_len, -EINVAL, "unsupported kmmu trace version %u (this reader: %u)",
			    version, KMMU_TRACE_VERSION);
	if (hlen > KMMU_TRACE_MAX_HEADER)
		return fail(err, err_len, -EINVAL, "header length %u exceeds %u", hlen,
			    KMMU_TRACE_MAX_HEADER);
	if (len < 16 + (size_t)hlen + 8)
		return fail(err, err_len, -EINVAL, "truncated: file ends inside the header (%zu bytes)", len);
	for (uint32_t i = 0; i < hlen; i++) {
		unsigned char c = p[16 + i];

		if (c != '\n' && c != '\t' && (c < 0x20 || c > 0x7e))
			return fail(err, err_len, -EINVAL,
				    "corrupt header: byte %#x at offset %u", c, 16 + i);
	}
	memcpy(&nr, p + 16 + hlen, 8);
	nr = le64toh(nr);
	need = len - (16 + hlen + 8);
	/* Divide, don't multiply: nr comes from the file and may overflow. */
	if (nr > need / sizeof(struct kmmu_trace_record))
		return fail(err, err_len, -EINVAL,
			    "truncated: header says %" PRIu64 " records, file holds %" PRIu64 " bytes of records",
			    nr, need);
	if (nr * sizeof(struct kmmu_trace_record) != need)
		return fail(err, err_len, -EINVAL, "%" PRIu64 " bytes of trailing garbage after %" PRIu64 " records",
			    need - nr * sizeof(struct kmmu_trace_record), nr);

	tf->header = malloc(hlen + 1);
	tf->recs = malloc(nr ? nr * sizeof(*tf->recs) : 1);
	if (!tf->header || !tf->recs) {
		kmmu_trace_file_free(tf);
		return fail(err, err_len, -ENOMEM, "out of memory for %" PRIu64 " records", nr);
	}
	memcpy(tf->header, p + 16, hlen);
	tf->header[hlen] = '\0';
	memcpy(tf->recs, p + 16 + hlen + 8, nr * sizeof(*tf->recs));
	tf->nr = nr;

	for (uint64_t i = 0; i < nr; i++) {
		const struct kmmu_trace_record *r = &tf->recs[i];
		uint64_t off = 16 + hlen + 8 + i * sizeof(*r);
		unsigned int type = r->type;
		int ret = 0;

		if (!kmmu_rec_type_valid(type))
			ret = fail(err, err_len, -EINVAL, "record %" PRIu64 " (offset %" PRIu64
				   "): unknown type %u", i, off, type);
		else if (i && r->ts < tf->recs[i - 1].ts)
			ret = fail(err, err_len, -EINVAL, "record %" PRIu64 " (offset %" PRIu64
				   "): timestamp goes backwards", i, off);
		if (ret) {
			kmmu_trace_file_free(tf);
			return ret;
		}
	}
	return 0;
}

int kmmu_trace_file_read(const char *path, struct kmmu_trace_file *tf, char *err, size_t err_len)
{
	struct stat st;
	void *map;
	int fd, ret;

	memset(tf, 0, sizeof(*tf));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, err_len, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		return fail(err, err_len, ret, "%s: %s", path, strerror(-ret));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, err_len, -EINVAL, "%s: not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return fail(err, err_len, -EINVAL, "%s: empty file", path);
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return fail(err, err_len, -errno, "%s: %s", path, strerror(errno));
	ret = kmmu_trace_file_parse(map, st.st_size, tf, err, err_len);
	munmap(map, st.st_size);
	if (ret && err && err_len) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", err);
		snprintf(err, err_len, "%s: %s", path, msg);
	}
	return ret;
}

void kmmu_trace_file_free(struct kmmu_trace_file *tf)
{
	free(tf->header);
	free(tf->recs);
	memset(tf, 0, sizeof(*tf));
}

const char *kmmu_trace_file_header_get(const struct kmmu_trace_file *tf, const char *key,
				       char *buf, size_t len)
{
	size_t klen = strlen(key);
	const char *p = tf->header;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t line = eol ? (size_t)(eol - p) : strlen(p);

		if (line > klen + 1 && !strncmp(p, key, klen) && p[klen] == ':') {
			const char *v = p + klen + 1;
			size_t vlen = line - klen - 1;

			while (vlen && *v == ' ') {
				v++;
				vlen--;
			}
			snprintf(buf, len, "%.*s", (int)vlen, v);
			return buf;
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}
