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
#include <sys/stat.h>
#include <unistd.h>

#include "kmmu/atomic_file.h"
#include "kmmu/err_msg.h"
#include "kmmu/trace_file.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kmmu-trace/1 records are stored in host (little endian) order"
#endif

int kmmu_write_all(int fd, const void *buf, size_t len)
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

struct trace_file_content {
	const char *header;
	const struct kmmu_trace_record *recs;
	uint64_t nr;
};

static int fill_trace_file(int fd, void *ctx)
{
	const struct trace_file_content *c = ctx;
	uint32_t version = htole32(KMMU_TRACE_VERSION), hlen = htole32(strlen(c->header));
	uint64_t count = htole64(c->nr);
	int ret;

	ret = kmmu_write_all(fd, KMMU_TRACE_MAGIC, 8);
	if (!ret)
		ret = kmmu_write_all(fd, &version, 4);
	if (!ret)
		ret = kmmu_write_all(fd, &hlen, 4);
	if (!ret)
		ret = kmmu_write_all(fd, c->header, strlen(c->header));
	if (!ret)
		ret = kmmu_write_all(fd, &count, 8);
	if (!ret && c->nr)
		ret = kmmu_write_all(fd, c->recs, c->nr * sizeof(*c->recs));
	return ret;
}

int kmmu_trace_file_write(const char *path, const char *header,
			  const struct kmmu_trace_record *recs, uint64_t nr)
{
	struct trace_file_content c = { header, recs, nr };

	if (!path || !header || (nr && !recs))
		return -EINVAL;
	if (strlen(header) > KMMU_TRACE_MAX_HEADER)
		return -E2BIG;
	return kmmu_file_write_atomic(path, fill_trace_file, &c);
}

/*
 * The fixed part of a file of @len bytes, its first 16 (fewer if it is
 * shorter): magic, version and header length, which must fit in @len.
 */
static int check_fixed(const unsigned char *p, uint64_t len, uint32_t *hlen,
		       char *err, size_t err_len)
{
	uint32_t version;

	if (len < 16 || memcmp(p, KMMU_TRACE_MAGIC, 8))
		return kmmu_err_msg(err, err_len, -EINVAL, "not a kmmu trace file (bad magic)");
	memcpy(&version, p + 8, 4);
	memcpy(hlen, p + 12, 4);
	version = le32toh(version);
	*hlen = le32toh(*hlen);
	if (version != KMMU_TRACE_VERSION)
		return kmmu_err_msg(err, err_len, -EINVAL, "unsupported kmmu trace version %u (this reader: %u)",
				    version, KMMU_TRACE_VERSION);
	if (*hlen > KMMU_TRACE_MAX_HEADER)
		return kmmu_err_msg(err, err_len, -EINVAL, "header length %u exceeds %u", *hlen,
				    KMMU_TRACE_MAX_HEADER);
	if (len < 16 + (uint64_t)*hlen + 8)
		return kmmu_err_msg(err, err_len, -EINVAL, "truncated: file ends inside the header (%" PRIu64
				    " bytes)", len);
	return 0;
}

static int check_header(const unsigned char *h, uint32_t hlen, char *err, size_t err_len)
{
	for (uint32_t i = 0; i < hlen; i++) {
		unsigned char c = h[i];

		if (c != '\n' && c != '\t' && (c < 0x20 || c > 0x7e))
			return kmmu_err_msg(err, err_len, -EINVAL,
					    "corrupt header: byte %#x at offset %u", c, 16 + i);
	}
	return 0;
}

/* @nr records, as the file says, in the @need bytes that follow the count. */
static int check_count(uint64_t nr, uint64_t need, char *err, size_t err_len)
{
	/* Divide, don't multiply: nr comes from the file and may overflow. */
	if (nr > need / sizeof(struct kmmu_trace_record))
		return kmmu_err_msg(err, err_len, -EINVAL,
				    "truncated: header says %" PRIu64 " records, file holds %" PRIu64 " bytes of records",
				    nr, need);
	if (nr * sizeof(struct kmmu_trace_record) != need)
		return kmmu_err_msg(err, err_len, -EINVAL, "%" PRIu64 " bytes of trailing garbage after %" PRIu64 " records",
				    need - nr * sizeof(struct kmmu_trace_record), nr);
	return 0;
}

/* Room in @tf for a header of @hlen bytes and @nr records. */
static int alloc_file(struct kmmu_trace_file *tf, uint32_t hlen, uint64_t nr,
		      char *err, size_t err_len)
{
	tf->header = malloc(hlen + 1);
	tf->recs = malloc(nr ? nr * sizeof(*tf->recs) : 1);
	if (!tf->header || !tf->recs) {
		kmmu_trace_file_free(tf);
		return kmmu_err_msg(err, err_len, -ENOMEM, "out of memory for %" PRIu64 " records", nr);
	}
	tf->header[hlen] = '\0';
	return 0;
}

/* Records [@from, @to) of @tf, the file's header being @hlen bytes. */
static int check_records(const struct kmmu_trace_file *tf, uint64_t from, uint64_t to,
			 uint32_t hlen, char *err, size_t err_len)
{
	for (uint64_t i = from; i < to; i++) {
		const struct kmmu_trace_record *r = &tf->recs[i];
		uint64_t off = 16 + hlen + 8 + i * sizeof(*r);

		if (!kmmu_rec_type_valid(r->type))
			return kmmu_err_msg(err, err_len, -EINVAL, "record %" PRIu64 " (offset %" PRIu64
					    "): unknown type %u", i, off, r->type);
		if (i && r->ts < tf->recs[i - 1].ts)
			return kmmu_err_msg(err, err_len, -EINVAL, "record %" PRIu64 " (offset %" PRIu64
					    "): timestamp goes backwards", i, off);
	}
	return 0;
}

/*
 * Everything before the records of a file of @len bytes, which @p holds:
 * checked, the header copied to @tf and room made for the records.
 */
static int parse_head(const unsigned char *p, uint64_t len, struct kmmu_trace_file *tf,
		      uint32_t *hlen, uint64_t *nr, char *err, size_t err_len)
{
	int ret;

	ret = check_fixed(p, len, hlen, err, err_len);
	if (!ret)
		ret = check_header(p + 16, *hlen, err, err_len);
	if (ret)
		return ret;
	memcpy(nr, p + 16 + *hlen, 8);
	*nr = le64toh(*nr);
	ret = check_count(*nr, len - (16 + *hlen + 8), err, err_len);
	if (!ret)
		ret = alloc_file(tf, *hlen, *nr, err, err_len);
	if (!ret)
		memcpy(tf->header, p + 16, *hlen);
	return ret;
}

int kmmu_trace_file_parse(const void *buf, size_t len, struct kmmu_trace_file *tf,
			  char *err, size_t err_len)
{
	const unsigned char *p = buf;
	uint32_t hlen;
	uint64_t nr;
	int ret;

	memset(tf, 0, sizeof(*tf));
	ret = parse_head(p, len, tf, &hlen, &nr, err, err_len);
	if (ret)
		return ret;
	memcpy(tf->recs, p + 16 + hlen + 8, nr * sizeof(*tf->recs));
	ret = check_records(tf, 0, nr, hlen, err, err_len);
	if (ret) {
		kmmu_trace_file_free(tf);
		return ret;
	}
	tf->nr = nr;
	return 0;
}

/* Exactly @len bytes at @off of @fd (of @size bytes when it was opened). */
static int read_at(int fd, void *buf, size_t len, uint64_t off, uint64_t size,
		   char *err, size_t err_len)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kmmu_err_msg(err, err_len, -errno, "read error at offset %" PRIu64 ": %s",
					    off, strerror(errno));
		if (!n)
			return kmmu_err_msg(err, err_len, -EIO, "file shrank below its %" PRIu64
					    " bytes while it was read", size);
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

/*
 * Reads and checks the file @fd of @size bytes, part by part: never more
 * memory than the file's records need, and records are checked as they
 * arrive, so a file of garbage is refused after its first part.  Read,
 * not mapped: a file truncated under a mapping would kill us with SIGBUS.
 */
static int read_file(int fd, uint64_t size, struct kmmu_trace_file *tf, char *err, size_t err_len)
{
	const uint64_t chunk = 16384;	/* records: 1 MiB */
	unsigned char *head;
	uint32_t hlen = 0;
	uint64_t nr = 0, off;
	char c;
	int ret;

	if (!size)
		return kmmu_err_msg(err, err_len, -EINVAL, "empty file");
	head = malloc(16 + KMMU_TRACE_MAX_HEADER + 8);
	if (!head)
		return kmmu_err_msg(err, err_len, -ENOMEM, "out of memory");
	ret = read_at(fd, head, size < 16 ? size : 16, 0, size, err, err_len);
	if (!ret)
		ret = check_fixed(head, size, &hlen, err, err_len);
	if (!ret)
		ret = read_at(fd, head + 16, hlen + 8, 16, size, err, err_len);
	if (!ret)
		ret = parse_head(head, size, tf, &hlen, &nr, err, err_len);
	free(head);
	off = 16 + hlen + 8;
	for (uint64_t i = 0; !ret && i < nr; i += chunk) {
		uint64_t n = nr - i < chunk ? nr - i : chunk;

		ret = read_at(fd, tf->recs + i, n * sizeof(*tf->recs),
			      off + i * sizeof(*tf->recs), size, err, err_len);
		if (!ret)
			ret = check_records(tf, i, i + n, hlen, err, err_len);
	}
	/* Whatever was appended since it was opened would be unchecked. */
	if (!ret && pread(fd, &c, 1, size) > 0)
		ret = kmmu_err_msg(err, err_len, -EIO, "file grew beyond its %" PRIu64
				   " bytes while it was read", size);
	if (ret) {
		kmmu_trace_file_free(tf);
		return ret;
	}
	tf->nr = nr;
	return 0;
}

/* Why @mode is no trace file. */
static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "a special file";
	}
}

int kmmu_trace_file_read(const char *path, struct kmmu_trace_file *tf, char *err, size_t err_len)
{
	struct stat st;
	int fd, ret;

	memset(tf, 0, sizeof(*tf));
	/*
	 * Only a regular file is opened: opening a FIFO waits for a writer
	 * (forever, for one nobody writes to), opening a socket fails with
	 * an unhelpful ENXIO, a device may act on being opened.  The path
	 * may be replaced in between: O_NONBLOCK keeps that open from
	 * waiting, and the open file is checked again.
	 */
	if (stat(path, &st))
		return kmmu_err_msg(err, err_len, -errno, "%s: %s", path, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			return kmmu_err_msg(err, err_len, -errno, "%s: %s", path, strerror(errno));
		if (fstat(fd, &st)) {
			ret = -errno;
			close(fd);
			return kmmu_err_msg(err, err_len, ret, "%s: %s", path, strerror(-ret));
		}
		if (!S_ISREG(st.st_mode))
			close(fd);
	}
	if (!S_ISREG(st.st_mode))
		return kmmu_err_msg(err, err_len, -EINVAL, "%s: is %s, not a regular file", path,
				    file_kind(st.st_mode));
	ret = read_file(fd, st.st_size, tf, err, err_len);
	close(fd);
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
