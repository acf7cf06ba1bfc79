/*
 * trace_read.c - reading the hvlab trace format (.hvt): open, check, read, decode.
 *
 * Concept: a trace file is input, and input may be hostile (a student's corrupt file, a
 * fuzzer, a path that is a FIFO or /dev/zero). The reader checks every rule of the format
 * before it believes a single number, and never lets the input decide how much it reads or
 * allocates:
 *
 *   - What the path is comes first: only a regular file is a trace. A FIFO would block the
 *     reader until someone writes, /dev/zero never ends; both are refused before one byte is
 *     read (trace_open_file).
 *   - Then the 128-byte header: a 2 GiB file with a wrong magic costs one pread of 128 bytes,
 *     not 2 GiB of reading.
 *   - Only then are the records read, 1 MiB at a time with pread (trace_read_records), and
 *     the record count comes from the file's length, never from a number stored in the file.
 *     Not mmap: a file cut shorter while it is mapped kills the reader with SIGBUS, while
 *     pread simply returns fewer bytes (the comment above trace_read_records says more).
 *
 * `hv trace stats|dump`, hvviz (viz/model.c) and the tests all open traces this one way.
 * Textbook: appendix A "The trace format", section A.9 "Validation rules".
 */
#include "trace_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- little-endian deserialization ---- */

/*
 * Reading mirrors writing: byte i holds bits 8i..8i+7. We never cast the buffer to a
 * uint32_t *: the address may be unaligned (undefined behaviour in C, a fault on some CPUs)
 * and the load would use the host's byte order instead of the file's.
 */
static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * One-line error into err (if the caller gave a buffer); always returns -1. Messages say what
 * failed, the object and the reason; the caller adds the program name ("hv: ", "hvviz: "),
 * because only the caller knows who is speaking.
 */
int trace_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- reading ---- */

/*
 * Copy one record out of the file's bytes into a struct. After this nothing looks at the raw
 * bytes again: parse once, then validate the copy (the same discipline device code uses for
 * guest memory, textbook appendix C, Q11).
 */
void trace_record_parse(const uint8_t *p, struct hvt_record *r)
{
	r->seq = get_le64(p + 0);
	r->time_ns = get_le64(p + 8);
	r->vcpu = get_le16(p + 16);
	r->kind = p[18];
	r->reason = p[19];
	r->size = p[20];
	r->cpl = p[21];
	r->mode = p[22];
	r->reserved = p[23];
	r->addr = get_le64(p + 24);
	r->data = get_le64(p + 32);
	r->rip = get_le64(p + 40);
	r->count = get_le32(p + 48);
	r->flags = get_le32(p + 52);
	r->duration_ns = get_le64(p + 56);
}

/*
 * The header rules, in the order a person would check them by hand with a hex dump: is it
 * long enough, is it ours, is it a version we understand, is its geometry the one we expect.
 */
int trace_header_parse(const uint8_t *buf, size_t len, struct trace_header *h, char *err,
		       size_t errlen)
{
	/* Magic first, on the bytes there are: a short text file is "not a trace", not a
	 * "truncated trace". */
	size_t have = len < 8 ? len : 8;
	if (len > 0 && memcmp(buf, HVT_MAGIC, have) != 0)
		return trace_fail(err, errlen, "not an hvlab trace (bad magic); "
				  "record one with 'hv run --trace FILE'");
	if (len < HVT_HEADER_SIZE)
		return trace_fail(err, errlen,
				  "too short for an hvlab trace: %zu bytes, the header alone is %u",
				  len, HVT_HEADER_SIZE);
	uint32_t version = get_le32(buf + 8);
	uint32_t record_size = get_le32(buf + 12);
	uint32_t header_size = get_le32(buf + 16);
	uint32_t host = get_le32(buf + 20);
	/*
	 * Known versions only: a future version promises nothing about its layout, so guessing
	 * would print plausible nonsense. Versions 2 and 3 only added record kinds and flags, so
	 * an older file is a valid newer file. A wrong record_size would misalign every record after the
	 * first, so it is refused too rather than "mostly" read.
	 */
	if (version < HVT_VERSION_MIN || version > HVT_VERSION)
		return trace_fail(err, errlen, "unknown version %u (this program reads versions %u to %u)",
				  version, HVT_VERSION_MIN, HVT_VERSION);
	if (record_size != HVT_RECORD_SIZE)
		return trace_fail(err, errlen, "bad record_size %u in header (version %u uses %u)",
				  record_size, HVT_VERSION, HVT_RECORD_SIZE);
	if (header_size != HVT_HEADER_SIZE)
		return trace_fail(err, errlen, "bad header_size %u in header (version %u uses %u)",
				  header_size, HVT_VERSION, HVT_HEADER_SIZE);
	/* Printers index name tables with it; an unknown value means a file we do not understand. */
	if (host > HVT_HOST_MAX)
		return trace_fail(err, errlen, "unknown host_kind %u in header (0..%u)", host,
				  HVT_HOST_MAX);
	h->version = version;
	h->host_kind = host;
	h->start_unix_ns = get_le64(buf + 24);
	h->dropped = get_le64(buf + 96); /* 0 in version 1 (reserved, zero) */
	/* The file's 64 name bytes need not contain a NUL; our copy always ends with one. */
	/* Printers replace non-printable bytes; here the only promise is the terminating NUL. */
	memcpy(h->guest, buf + 32, 64);
	h->guest[64] = '\0';
	return 0;
}

/* The per-record rules. i is the record's index, which its seq must equal. */
/* Not checked here: addr, data, rip, count, cpl and durations may hold any value. Code that
 * prints them must not index a table with them (trace_dump.c, trace_stats.c). */
int trace_record_check(const struct hvt_record *r, uint64_t i, char *err, size_t errlen)
{
	/*
	 * seq == index catches a lost buffer (a gap), two traces concatenated (seq restarts at 0)
	 * and records shuffled by a broken tool. The enum checks guarantee that code printing a
	 * record may index its kind/reason/mode tables without checking again.
	 */
	if (r->seq != i)
		return trace_fail(err, errlen,
				  "record %llu: seq %llu, expected %llu (records missing or out of order)",
				  (unsigned long long)i, (unsigned long long)r->seq,
				  (unsigned long long)i);
	/* 0 is never a valid kind, so a record of zeros (a hole left by a crash) cannot pass as
	 * an event. */
	if (r->kind < 1 || r->kind > HVT_KIND_MAX)
		return trace_fail(err, errlen, "record %llu: unknown kind %u (1..%u)",
				  (unsigned long long)i, r->kind, HVT_KIND_MAX);
	/* `reason` means something different per kind (trace.h); each has its own range. */
	unsigned max = r->kind == HVT_VQ ? HVT_VQ_OP_MAX :
		       r->kind == HVT_DISK ? HVT_DISK_OP_MAX :
		       r->kind == HVT_IRQ ? HVT_IRQ_OP_MAX :
		       r->kind == HVT_GDB ? HVT_GDB_WHY_MAX : HVT_REASON_MAX;
	if (r->reason > max)
		return trace_fail(err, errlen, "record %llu: unknown %s %u (0..%u)",
				  (unsigned long long)i,
				  r->kind == HVT_VQ ? "virtqueue step" :
				  r->kind == HVT_DISK ? "disk operation" :
				  r->kind == HVT_IRQ ? "interrupt step" :
				  r->kind == HVT_GDB ? "gdb stop reason" : "exit reason",
				  r->reason, max);
	if (r->mode > HVT_MODE_MAX)
		return trace_fail(err, errlen, "record %llu: unknown CPU mode %u (0..%u)",
				  (unsigned long long)i, r->mode, HVT_MODE_MAX);
	return 0;
}

/* Check records [first, first + n) held in p, decoding them into recs[first..]. */
static int parse_records(const uint8_t *p, uint64_t first, uint64_t n, struct hvt_record *recs,
			 char *err, size_t errlen)
{
	for (uint64_t i = first; i < first + n; i++) {
		trace_record_parse(p + (i - first) * HVT_RECORD_SIZE, &recs[i]);
		if (trace_record_check(&recs[i], i, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int trace_parse(const uint8_t *buf, size_t len, struct trace_file *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (trace_header_parse(buf, len, &out->header, err, errlen) < 0)
		return -1;
	/*
	 * The record count comes from the file's length, never from a number stored in the file:
	 * a hostile file cannot make us allocate more than len bytes of records.
	 */
	size_t body = len - HVT_HEADER_SIZE;
	if (body % HVT_RECORD_SIZE != 0)
		return trace_fail(err, errlen,
				  "truncated: %zu bytes after the last whole record (record %zu)",
				  body % HVT_RECORD_SIZE, body / HVT_RECORD_SIZE);
	uint64_t count = body / HVT_RECORD_SIZE;
	struct hvt_record *recs = NULL;
	if (count > 0) {
		/* calloc, not malloc(count * size): calloc checks the multiplication for overflow. */
		recs = calloc((size_t)count, sizeof *recs);
		if (!recs)
			return trace_fail(err, errlen, "out of memory for %llu trace records",
					  (unsigned long long)count);
	}
	/*
	 * Parse and check in one pass. The first bad record ends the load and nothing half-valid
	 * is returned: `out` is zeroed again, so a caller cannot print a partial trace by
	 * mistake.
	 */
	if (parse_records(buf + HVT_HEADER_SIZE, 0, count, recs, err, errlen) < 0) {
		free(recs);
		memset(out, 0, sizeof *out);
		return -1;
	}
	out->records = recs;
	out->count = count;
	return 0;
}

/*
 * The reasons a path can fail to open, each with what to do about it. strerror's wording
 * ("No such file or directory") is kept as is: it is what every other tool prints.
 */
static int open_fail(const char *path, const char *label, int e, char *err, size_t errlen)
{
	if (e == EACCES || e == EPERM)
		return trace_fail(err, errlen, "cannot open %s: %s (you may not read it; "
				  "check 'ls -l %s')", label, strerror(e), path);
	return trace_fail(err, errlen, "cannot open %s: %s", label, strerror(e));
}

/* What kind of thing the path is, when it is not a regular file with a header in it. */
static int check_kind(const char *label, const struct stat *st, char *err, size_t errlen)
{
	if (S_ISDIR(st->st_mode))
		return trace_fail(err, errlen, "%s is a directory, not a trace; give the .hvt file "
				  "'hv run --trace FILE' wrote", label);
	/*
	 * A pipe or a device cannot be mapped, a pipe cannot be read twice, and a device such as
	 * /dev/zero never ends: reading it "until the end" would fill our memory. So only a
	 * regular file is a trace, and the check costs one fstat, before any read.
	 */
	if (!S_ISREG(st->st_mode))
		return trace_fail(err, errlen, "%s is not a regular file; save the trace to a file "
				  "first ('hv run --trace FILE')", label);
	if (st->st_size == 0)
		return trace_fail(err, errlen, "%s is empty, not an hvlab trace (hv writes the "
				  "header first: the run never started); record one with "
				  "'hv run --trace FILE'", label);
	return 0;
}

int trace_open_file(const char *path, const char *label, size_t *size, char *err, size_t errlen)
{
	/*
	 * O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; here
	 * it returns at once and check_kind refuses it. It changes nothing for a regular file.
	 */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return open_fail(path, label, errno, err, errlen);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return trace_fail(err, errlen, "cannot stat %s: %s", label, strerror(e));
	}
	if (check_kind(label, &st, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	*size = (size_t)st.st_size;
	return fd;
}

/*
 * The header is read with pread, not through a mapping: a trace with no records has nothing
 * worth mapping, and hvviz's live mode re-reads it at every refresh (hv fills in `dropped`
 * when it closes the file). 128 bytes at most, whatever the file's size.
 */
int trace_read_header(int fd, size_t size, struct trace_header *h, char *why, size_t whylen)
{
	uint8_t buf[HVT_HEADER_SIZE];
	size_t want = size < HVT_HEADER_SIZE ? size : HVT_HEADER_SIZE;
	ssize_t got = pread(fd, buf, want, 0);
	if (got < 0)
		return trace_fail(why, whylen, "cannot read the header: %s", strerror(errno));
	return trace_header_parse(buf, (size_t)got, h, why, whylen);
}

/*
 * Decode the records of an open trace whose size the caller measured (trace_open_file).
 *
 * Why pread and not mmap, although hvviz maps the same files (viz/model.c): a mapped file can
 * change under us. If another process cuts it shorter while we read it (`hv run --trace` is
 * still writing it and is stopped, or a student runs `truncate`), the pages past the new end
 * no longer exist, and touching one of them does not return an error: the kernel sends
 * SIGBUS, and the program dies of a signal. A signal handler could catch that (hvviz does,
 * viz/fileguard.c, because it keeps the mapping for as long as it shows the file), but here a
 * mapping saves nothing: `hv trace` decodes every record into its own array anyway. pread
 * copies the bytes from the page cache instead, and a file that got shorter is an ordinary
 * result: pread returns fewer bytes than asked for (0 at the new end), which we report.
 *
 * The copy goes through a bounded buffer, TRACE_READ_CHUNK bytes (a whole number of
 * records), so memory stays what the records array needs plus 1 MiB, whatever the file's size.
 * The extra copy costs about a tenth of a second per GB from the page cache, small next to
 * decoding, and the peak memory drops, since the mapped pages no longer count (2 million
 * events: the same half second, 139 MB instead of 251 MB). The 10-million-event goal of
 * `make bench` is hvviz's, which still maps.
 */
#define TRACE_READ_CHUNK ((size_t)HVT_RECORD_SIZE * 16384) /* 1 MiB */

/* Fill buf with len bytes at offset off, or say the file ended first (it was cut). */
static int read_exact(int fd, uint8_t *buf, size_t len, size_t off, const char *label,
		      char *err, size_t errlen)
{
	size_t done = 0;
	while (done < len) {
		ssize_t got = pread(fd, buf + done, len - done, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return trace_fail(err, errlen, "cannot read %s: %s", label, strerror(errno));
		if (got == 0)
			return trace_fail(err, errlen, "%s was truncated while being read: it ends "
					  "at byte %zu, not %zu (record it again)", label,
					  off + done, off + len);
		done += (size_t)got;
	}
	return 0;
}

int trace_read_records(int fd, size_t size, const char *label, struct trace_file *out,
		       char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	char why[256];
	uint8_t head[HVT_HEADER_SIZE];
	if (size < HVT_HEADER_SIZE)
		return trace_fail(err, errlen, "%s: too short for an hvlab trace: %zu bytes, the "
				  "header alone is %u", label, size, HVT_HEADER_SIZE);
	if (read_exact(fd, head, sizeof head, 0, label, err, errlen) < 0)
		return -1;
	if (trace_header_parse(head, sizeof head, &out->header, why, sizeof why) < 0)
		return trace_fail(err, errlen, "%s: %s", label, why);
	/* The count comes from the size, never from the file's contents (see trace_parse). */
	size_t body = size - HVT_HEADER_SIZE;
	if (body % HVT_RECORD_SIZE != 0)
		return trace_fail(err, errlen, "%s: truncated: %zu bytes after the last whole "
				  "record (record %zu)", label, body % HVT_RECORD_SIZE,
				  body / HVT_RECORD_SIZE);
	uint64_t count = body / HVT_RECORD_SIZE;
	if (count == 0)
		return 0;
	struct hvt_record *recs = calloc((size_t)count, sizeof *recs);
	uint8_t *buf = malloc(TRACE_READ_CHUNK);
	if (!recs || !buf) {
		free(recs);
		free(buf);
		return trace_fail(err, errlen, "out of memory for %llu trace records",
				  (unsigned long long)count);
	}
	/* One pass, front to back: the kernel may read ahead in big blocks. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	int rc = 0;
	for (uint64_t i = 0; i < count && rc == 0;) {
		uint64_t n = count - i;
		if (n > TRACE_READ_CHUNK / HVT_RECORD_SIZE)
			n = TRACE_READ_CHUNK / HVT_RECORD_SIZE;
		size_t off = HVT_HEADER_SIZE + (size_t)i * HVT_RECORD_SIZE;
		rc = read_exact(fd, buf, (size_t)n * HVT_RECORD_SIZE, off, label, err, errlen);
		if (rc == 0 && parse_records(buf, i, n, recs, why, sizeof why) < 0)
			rc = trace_fail(err, errlen, "%s: %s", label, why);
		i += n;
	}
	free(buf);
	/* Nothing half-valid is returned (see trace_parse). */
	if (rc < 0) {
		free(recs);
		memset(out, 0, sizeof *out);
		return -1;
	}
	out->records = recs;
	out->count = count;
	return 0;
}

int trace_load(const char *path, struct trace_file *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	/* "trace 'x.hvt'": every message names the file the way the user typed it. */
	char label[4200];
	snprintf(label, sizeof label, "trace '%s'", path);
	size_t size;
	int fd = trace_open_file(path, label, &size, err, errlen);
	if (fd < 0)
		return -1;
	/*
	 * The header first, before anything is mapped or allocated: a file that is not a trace
	 * is refused after one read of 128 bytes, however big it is. Loading and parsing stay
	 * separate so that the fuzzer and the tests can hand trace_parse any bytes without
	 * touching the file system; here we only add the file name in front of the parser's
	 * reason: "trace 'x.hvt': not an hvlab trace (bad magic)".
	 */
	char why[256];
	struct trace_header h;
	int rc = trace_read_header(fd, size, &h, why, sizeof why);
	if (rc < 0)
		trace_fail(err, errlen, "%s: %s", label, why);
	else
		rc = trace_read_records(fd, size, label, out, err, errlen);
	close(fd);
	return rc;
}

void trace_free(struct trace_file *tf)
{
	if (!tf)
		return;
	free(tf->records);
	tf->records = NULL;
	tf->count = 0;
}
