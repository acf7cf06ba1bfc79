/*
 * trace.c - writing and reading the hvlab trace format (.hvt), byte by byte.
 *
 * Concept: a VM exit is invisible to the guest and gone a microsecond later. To let a student
 * *see* exits, hv writes one fixed-size record per event into a file that outlives the run.
 * Two lessons live in this file:
 *
 *   1. A file format is a contract between programs that never share memory. We therefore
 *      never fwrite() a C struct: padding, field order and byte order are compiler and CPU
 *      details. Every field is serialized explicitly, little-endian, at the offset the
 *      textbook's table gives. A big-endian host would write the very same bytes.
 *   2. A trace file is input, and input may be hostile (a student's corrupt file, a fuzzer).
 *      The reader checks every rule of the format before it believes a single number, and
 *      never allocates more than the file's own length justifies.
 *
 * Recording must be cheap, or the trace changes what it measures: records go into a fixed
 * in-memory buffer and reach the kernel in one write() per TRACE_BUF_RECORDS records.
 * Textbook: appendix A "The trace format"; chapter 3 "Exits", section "Counting exits".
 */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pvtrace.h"
#include <time.h>
#include <unistd.h>

/*
 * 1024 records = 64 KiB: one write() per 1024 events instead of one per event. An exit that
 * reaches hv costs a few microseconds; a write() system call costs about a microsecond more.
 * Writing per event would make the traced guest measurably slower than the untraced one (see
 * `make bench`), and a trace that changes what it measures teaches the wrong numbers. Copying
 * 64 bytes into a buffer costs nanoseconds.
 *
 * Why 64 KiB and not more: the per-record share of the write() is already about a nanosecond,
 * the buffer still fits in the CPU's L2 cache, and a killed hv loses at most one buffer.
 * write() only copies into the kernel's page cache and returns; the kernel writes the disk
 * later, so a traced guest hardly ever waits for a disk. No fsync: losing the last records
 * in a power cut is acceptable, waiting for the disk at every buffer is not.
 */
#define TRACE_BUF_RECORDS 1024u

/*
 * Records a device may emit while one exit is being handled before they must go out in the
 * wrong order (trace_hold). One doorbell with a batch of 16 requests makes about 130; the
 * bound keeps the writer a fixed size whatever the guest queues (appendix C, R2).
 */
#define TRACE_HOLD_RECORDS 1024u

/*
 * The writer. Two threads may emit: the vCPU thread (exits, and device steps done during an
 * exit) and, with --ioeventfd, the virtio device's I/O thread. One mutex makes "take the next
 * seq and append" a single step, so seq order is file order is time order per thread. An
 * uncontended lock costs about 20 ns, far below the ~1 us of an exit. (A many-vCPU hv would
 * give each thread its own buffer and merge them.)
 */
struct trace_writer {
	pthread_mutex_t lock;
	int fd;
	char *path;              /* for error messages */
	uint64_t next_seq;       /* the seq the next record gets: 0, 1, 2, ... */
	struct timespec start;   /* CLOCK_MONOTONIC at trace_create: time 0 of the trace */
	int write_errno;         /* first write error, reported by trace_close; 0 if none */
	size_t used;             /* bytes of buf in use */
	uint8_t buf[TRACE_BUF_RECORDS * HVT_RECORD_SIZE];

	/* --trace-limit: at most this many records reach the file (0: no limit) */
	uint64_t max_records;
	uint64_t reserve;        /* records kept back for the end of the run (KVM's counters) */
	uint64_t dropped;        /* records not written because of the limit */

	/* trace_hold: records the holding thread emits wait here (see trace_hold) */
	bool holding;
	pthread_t holder;
	unsigned held;
	struct hvt_record hold[TRACE_HOLD_RECORDS];
};

/* ---- little-endian serialization ---- */

/*
 * Storing byte by byte with shifts is the portable way to say "least significant byte first":
 * it does not depend on the host's byte order, and compilers turn it into one plain store on
 * x86, which is little-endian already.
 */
static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

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

/* ---- writing ---- */

/*
 * write() may write less than asked (a signal, a pipe) and may be interrupted before writing
 * anything (EINTR). Only a real error stops the loop; errno then says which. On a regular
 * file write() writes everything unless the disk fills up or a file size limit is hit; the
 * loop matters for pipes (`--trace /dev/fd/3 3>&1 >/dev/null`, to pipe the trace on; plain
 * `--trace /dev/stdout` would mix it with the guest's console output).
 */
static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO; /* write() promised progress and made none */
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The header, at the offsets of the table in trace.h and appendix A. */
static void header_serialize(uint8_t hdr[HVT_HEADER_SIZE], enum hvt_host_kind host,
			     const char *guest, uint64_t start_unix_ns)
{
	memset(hdr, 0, HVT_HEADER_SIZE); /* guest padding and reserved[32] are zero */
	/* Eight ASCII bytes: `xxd FILE | head -1` shows at a glance what the file is. */
	memcpy(hdr + 0, HVT_MAGIC, 8);  /* 8 characters, no NUL: the magic is not a C string */
	put_le32(hdr + 8, HVT_VERSION);
	put_le32(hdr + 12, HVT_RECORD_SIZE);
	put_le32(hdr + 16, HVT_HEADER_SIZE);
	put_le32(hdr + 20, (uint32_t)host);
	/* Nanoseconds since 1970 fit in 64 bits until the year 2554. */
	put_le64(hdr + 24, start_unix_ns);
	/* Only the basename: a trace shared with a classmate should not leak a home directory. */
	const char *base = guest ? guest : "";
	const char *slash = strrchr(base, '/');
	if (slash)
		base = slash + 1;
	size_t n = strlen(base);
	memcpy(hdr + 32, base, n < 64 ? n : 64); /* 64 bytes exactly may leave no NUL; see reader */
}

struct trace_writer *trace_create(const char *path, enum hvt_host_kind host, const char *guest,
				  char *err, size_t errlen)
{
	/* One allocation, buffer included: from here on, the exit loop never allocates. */
	struct trace_writer *t = calloc(1, sizeof *t);
	char *pathcopy = strdup(path);
	if (!t || !pathcopy) {
		free(t);
		free(pathcopy);
		trace_fail(err, errlen, "cannot create trace '%s': out of memory", path);
		return NULL;
	}
	t->path = pathcopy;
	pthread_mutex_init(&t->lock, NULL);
	/*
	 * O_TRUNC: re-recording into the same file must not leave old records behind (they would
	 * fail the seq check, or worse, look like part of this run). O_CLOEXEC: the descriptor must
	 * not leak into programs hv might start. 0644: a trace is data to share, not a secret.
	 */
	t->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (t->fd < 0) {
		trace_fail(err, errlen, "cannot create trace '%s': %s", path, strerror(errno));
		goto fail;
	}
	/*
	 * Time 0 of the trace is now, on the monotonic clock: wall-clock time can jump (NTP,
	 * a student changing the date), which would make exits appear to take negative time.
	 * The wall clock is kept only once, in the header, to say *when* the run happened.
	 */
	struct timespec wall;
	clock_gettime(CLOCK_MONOTONIC, &t->start);
	clock_gettime(CLOCK_REALTIME, &wall);
	uint64_t start_unix_ns = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec;

	/* The header goes out at once, so even a run that crashes leaves a valid (empty) trace. */
	uint8_t hdr[HVT_HEADER_SIZE];
	header_serialize(hdr, host, guest, start_unix_ns);
	if (write_all(t->fd, hdr, sizeof hdr) < 0) {
		trace_fail(err, errlen, "cannot write trace '%s': %s", path, strerror(errno));
		close(t->fd);
		goto fail;
	}
	return t;
fail:
	free(t->path);
	free(t);
	return NULL;
}

/*
 * Hand the buffer to the kernel. After the first error we stop writing (the file is already
 * incomplete) but keep accepting records, so the exit loop never has to check: the error is
 * reported once, by trace_close.
 */
static void trace_flush(struct trace_writer *t)
{
	if (t->used > 0 && t->write_errno == 0 && write_all(t->fd, t->buf, t->used) < 0)
		t->write_errno = errno;
	t->used = 0;
}

/* Live mode (hv run --viz, hv/vizlink.c): each exit's records reach the file as soon as they
 * exist, so hvviz can show them. Whole records only: the buffer never holds a partial one. */
void trace_flush_now(struct trace_writer *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	trace_flush(t);
	pthread_mutex_unlock(&t->lock);
}

/*
 * One record at the offsets of struct hvt_record (trace.h): 64 bytes, little-endian. Every one
 * of the 64 bytes is stored, reserved included: the buffer is reused, and a byte left unwritten
 * would carry part of an older record into this one.
 */
static void record_serialize(uint8_t *p, const struct hvt_record *r)
{
	put_le64(p + 0, r->seq);
	put_le64(p + 8, r->time_ns);
	put_le16(p + 16, r->vcpu);
	p[18] = r->kind;
	p[19] = r->reason;
	p[20] = r->size;
	p[21] = r->cpl;
	p[22] = r->mode;
	p[23] = 0; /* reserved: always written as zero, whatever the caller left there */
	put_le64(p + 24, r->addr);
	put_le64(p + 32, r->data);
	put_le64(p + 40, r->rip);
	put_le32(p + 48, r->count);
	put_le32(p + 52, r->flags);
	put_le64(p + 56, r->duration_ns);
}

/*
 * The hot path: four calls per exit (run-return, exit, run-call, entry). No system call and no
 * allocation, only 64 stores, plus one write() per 1024 records. Textbook ch 3, "What an exit
 * costs", measures the total price of tracing at about 0.6 us per exit on a PVM host: mostly
 * clock readings and copying registers, not these stores.
 */
/* Append one record to the file buffer; the caller holds the lock. */
static void trace_append_locked(struct trace_writer *t, struct hvt_record *rec)
{
	/*
	 * The file is a resource the guest controls: every exit adds 256 bytes, and a guest in a
	 * tight I/O loop makes hundreds of thousands of exits a second. Past the limit records are
	 * counted, not written. Dropping at the end keeps the file valid (seq stays contiguous):
	 * the reader simply sees a shorter run.
	 */
	if (t->max_records && t->next_seq >= t->max_records) {
		t->dropped++;
		return;
	}
	/*
	 * seq is assigned here, not by callers, so a reader's "seq == index" rule always holds.
	 * It is written back into the caller's record so the exit loop can print or log it.
	 */
	rec->seq = t->next_seq++;
	record_serialize(t->buf + t->used, rec);
	t->used += HVT_RECORD_SIZE;
	/* Flushed exactly when full: the buffer holds a whole number of records (64 KiB / 64 B),
	 * so a record never straddles two write()s. */
	if (t->used == sizeof t->buf)
		trace_flush(t);
}

void trace_emit(struct trace_writer *t, struct hvt_record *rec)
{
	if (!t)
		return; /* tracing is off: callers may emit unconditionally */
	pthread_mutex_lock(&t->lock);
	if (t->holding && pthread_equal(t->holder, pthread_self()) && t->held < TRACE_HOLD_RECORDS)
		t->hold[t->held++] = *rec; /* seq is assigned at release */
	else
		trace_append_locked(t, rec);
	pthread_mutex_unlock(&t->lock);
}

void trace_set_limit(struct trace_writer *t, uint64_t max_bytes)
{
	if (!t)
		return;
	uint64_t cap = max_bytes > HVT_HEADER_SIZE ? (max_bytes - HVT_HEADER_SIZE) / HVT_RECORD_SIZE : 0;
	pthread_mutex_lock(&t->lock);
	/* The counters at the end say what the run cost even when its middle was cut off. */
	t->reserve = cap > 2 * HVT_C_MAX ? HVT_C_MAX : 0;
	t->max_records = cap - t->reserve > 0 ? cap - t->reserve : 1;
	pthread_mutex_unlock(&t->lock);
}

void trace_use_reserve(struct trace_writer *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->max_records += t->reserve; /* (0 stays 0: no limit) */
	t->reserve = 0;
	pthread_mutex_unlock(&t->lock);
}

uint64_t trace_dropped(struct trace_writer *t)
{
	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	uint64_t n = t->dropped;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void trace_emit_now(struct trace_writer *t, struct hvt_record *rec)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	trace_append_locked(t, rec);
	pthread_mutex_unlock(&t->lock);
}

/*
 * Why holding exists: the exit loop writes an exit's record *after* handling it (only then are
 * the value an IN read and hv's handling time known), but the device steps of that exit (a
 * doorbell's whole queue walk) are emitted *during* handling. Held back and released after the
 * exit and run-return records, they appear in the file in the order they happened: exit, KVM
 * returns to hv, the device works, hv calls KVM_RUN. Their time stamps are the real ones.
 * Only the holding thread's records wait; the I/O thread's go straight out.
 */
void trace_hold(struct trace_writer *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->holding = true;
	t->holder = pthread_self();
	t->held = 0;
	pthread_mutex_unlock(&t->lock);
}

void trace_release(struct trace_writer *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->held; i++)
		trace_append_locked(t, &t->hold[i]);
	t->held = 0;
	t->holding = false;
	pthread_mutex_unlock(&t->lock);
}

/* Which thread is emitting: C11 thread-local storage, so devices need not be told. */
static _Thread_local uint16_t thread_id;

void trace_set_thread_id(uint16_t id)
{
	thread_id = id;
}

uint16_t trace_thread_id(void)
{
	return thread_id;
}

/* Devices describe what they do in their own words (trace.h, HVT_VQ table); this stamps the
 * time and the thread. */
void trace_device(struct trace_writer *t, uint8_t kind, uint8_t op, uint8_t queue, uint64_t addr,
		  uint64_t data, uint32_t count, uint64_t arg)
{
	if (!t)
		return;
	struct hvt_record r = {
		.time_ns = trace_now(t), .vcpu = thread_id, .kind = kind, .reason = op,
		.size = queue, .addr = addr, .data = data, .count = count, .arg = arg,
	};
	trace_emit(t, &r);
}

/*
 * clock_gettime(CLOCK_MONOTONIC) normally runs in the vDSO, kernel code mapped into every
 * process that reads the CPU's time-stamp counter without a system call: tens of nanoseconds.
 * That is what makes two timestamps per exit affordable. It cannot see inside KVM_RUN, so the
 * instants of a VM entry or exit are only bounded (HVT_F_TIME_BOUND, appendix A).
 */
uint64_t trace_now(const struct trace_writer *t)
{
	if (!t)
		return 0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* Signed arithmetic: tv_nsec of now may be smaller than that of start. */
	int64_t ns = (int64_t)(now.tv_sec - t->start.tv_sec) * 1000000000 +
		     (int64_t)(now.tv_nsec - t->start.tv_nsec);
	return ns > 0 ? (uint64_t)ns : 0;
}

int trace_close(struct trace_writer *t, char *err, size_t errlen)
{
	if (!t)
		return 0;
	/* The last, partly filled buffer: without this flush the final exits would be lost.
	 * Every other thread that emits has been joined by now (vm_run). */
	trace_flush(t);
	pthread_mutex_destroy(&t->lock);
	/* A run cut short by --trace-limit says so in the header (offset 96), so `hv trace stats`
	 * can warn that its numbers cover only the start of the run. */
	struct stat st;
	/* Only a regular file can be rewritten in place (a pipe cannot seek back). */
	if (t->dropped && t->write_errno == 0 && fstat(t->fd, &st) == 0 && S_ISREG(st.st_mode)) {
		uint8_t n[8];
		put_le64(n, t->dropped);
		if (pwrite(t->fd, n, sizeof n, 96) != (ssize_t)sizeof n)
			t->write_errno = errno ? errno : EIO;
	}
	/* close() can report a delayed write error (NFS, some full disks): it counts too. */
	if (close(t->fd) < 0 && t->write_errno == 0)
		t->write_errno = errno;
	int rc = 0;
	if (t->write_errno != 0)
		rc = trace_fail(err, errlen, "cannot write trace '%s': %s (the trace is incomplete)",
				t->path, strerror(t->write_errno));
	/* The writer frees itself: after trace_close the pointer is dead, which is why vm_run
	 * sets vm->trace to NULL right after calling it. */
	free(t->path);
	free(t);
	return rc;
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
 * prints them must not index a table with them (tracefmt.c). */
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
		       r->kind == HVT_IRQ ? HVT_IRQ_OP_MAX : HVT_REASON_MAX;
	if (r->reason > max)
		return trace_fail(err, errlen, "record %llu: unknown %s %u (0..%u)",
				  (unsigned long long)i,
				  r->kind == HVT_VQ ? "virtqueue step" :
				  r->kind == HVT_DISK ? "disk operation" :
				  r->kind == HVT_IRQ ? "interrupt step" : "exit reason",
				  r->reason, max);
	if (r->mode > HVT_MODE_MAX)
		return trace_fail(err, errlen, "record %llu: unknown CPU mode %u (0..%u)",
				  (unsigned long long)i, r->mode, HVT_MODE_MAX);
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
	for (uint64_t i = 0; i < count; i++) {
		trace_record_parse(buf + HVT_HEADER_SIZE + i * HVT_RECORD_SIZE, &recs[i]);
		if (trace_record_check(&recs[i], i, err, errlen) < 0) {
			free(recs);
			memset(out, 0, sizeof *out);
			return -1;
		}
	}
	out->records = recs;
	out->count = count;
	return 0;
}

/*
 * Read the whole file into memory, growing the buffer by doubling. Reading (not mmap) also
 * works for pipes, e.g. `hv trace stats /dev/stdin`; memory stays below twice the file size.
 */
static int file_slurp(FILE *f, uint8_t **bufp, size_t *lenp)
{
	size_t cap = 64 * 1024, len = 0;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -1;
	errno = 0;
	for (;;) {
		if (len == cap) {
			uint8_t *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
			if (!bigger) {
				free(buf);
				errno = ENOMEM;
				return -1;
			}
			buf = bigger;
			cap *= 2;
		}
		/* fread returns 0 both at end of file and on an error; ferror below tells them
		 * apart. */
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		/* Keep read()'s reason (EISDIR for a directory, EIO for a bad disk) if there is one. */
		int e = errno ? errno : EIO;
		free(buf);
		errno = e;
		return -1;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

int trace_load(const char *path, struct trace_file *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	FILE *f = fopen(path, "rb");
	if (!f)
		return trace_fail(err, errlen, "cannot open trace '%s': %s", path, strerror(errno));
	uint8_t *buf;
	size_t len;
	int rc = file_slurp(f, &buf, &len);
	int saved = errno;
	fclose(f);
	if (rc < 0)
		return trace_fail(err, errlen, "cannot read trace '%s': %s", path, strerror(saved));
	/*
	 * Loading and parsing are separate so that the fuzzer and the tests can hand trace_parse
	 * any bytes without touching the file system. Here we only add the file name in front
	 * of the parser's reason: "trace 'x.hvt': not an hvlab trace (bad magic)".
	 */
	char why[256];
	rc = trace_parse(buf, len, out, why, sizeof why);
	free(buf);
	if (rc < 0)
		return trace_fail(err, errlen, "trace '%s': %s", path, why);
	return 0;
}

void trace_free(struct trace_file *tf)
{
	if (!tf)
		return;
	free(tf->records);
	tf->records = NULL;
	tf->count = 0;
}

/* ---- names ---- */
/* These names are the format's vocabulary on screen: the tests and students' scripts match them
 * as text, so renaming one is a format change, like moving a field. */

/*
 * One table per enum, indexed by value; anything outside the table prints as "?". Designated
 * initializers ([HVT_R_IO] = "io") keep each name next to the enum constant it belongs to, so
 * the table cannot silently shift if a value is added in the middle.
 */
static const char *name_of(const char *const *table, size_t n, unsigned v)
{
	return v < n && table[v] ? table[v] : "?";
}

#define NAME_OF(table, v) name_of(table, sizeof table / sizeof table[0], v)

const char *hvt_kind_name(unsigned kind)
{
	static const char *const names[] = {
		[HVT_EXIT] = "exit",       [HVT_RUN_RETURN] = "run-return",
		[HVT_RUN_CALL] = "run-call", [HVT_ENTRY] = "entry",
		[HVT_COUNTER] = "counter", [HVT_GUEST_ERROR] = "guest-error",
		[HVT_VQ] = "vq",           [HVT_DISK] = "disk",
		[HVT_IRQ] = "irq",         [HVT_RING] = "ring",
	};
	return NAME_OF(names, kind);
}

const char *hvt_ring_op_name(unsigned op)
{
	static const char *const names[] = {
		[HV_PVT_SYSCALL] = "syscall",       [HV_PVT_SYSRET] = "sysret",
		[HV_PVT_EXCEPTION] = "exception",   [HV_PVT_INTERRUPT] = "interrupt",
		[HV_PVT_IRET] = "iret",             [HV_PVT_TASK_START] = "task-start",
		[HV_PVT_TASK_EXIT] = "task-exit",   [HV_PVT_TASK_KILL] = "task-kill",
	};
	return NAME_OF(names, op);
}

const char *hvt_reason_name(unsigned reason)
{
	static const char *const names[] = {
		[HVT_R_NONE] = "none",           [HVT_R_IO] = "io",
		[HVT_R_MMIO] = "mmio",           [HVT_R_HLT] = "hlt",
		[HVT_R_SHUTDOWN] = "shutdown",   [HVT_R_FAIL_ENTRY] = "fail-entry",
		[HVT_R_INTERNAL] = "internal",   [HVT_R_INTR] = "intr",
		[HVT_R_DEBUG] = "debug",         [HVT_R_SYSTEM_EVENT] = "system-event",
		[HVT_R_OTHER] = "other",         [HVT_R_IRQ_WINDOW] = "irq-window",
	};
	return NAME_OF(names, reason);
}

const char *hvt_mode_name(unsigned mode)
{
	static const char *const names[] = {
		[HVT_MODE_UNKNOWN] = "?",    [HVT_MODE_REAL] = "real",
		[HVT_MODE_PROT16] = "prot16", [HVT_MODE_PROT32] = "prot32",
		[HVT_MODE_COMPAT] = "compat", [HVT_MODE_LONG] = "long",
	};
	return NAME_OF(names, mode);
}

const char *hvt_host_name(unsigned host)
{
	static const char *const names[] = {
		[HVT_HOST_UNKNOWN] = "unknown", [HVT_HOST_VMX] = "vmx", [HVT_HOST_SVM] = "svm",
		[HVT_HOST_PVM] = "pvm",         [HVT_HOST_NESTED] = "nested",
	};
	return NAME_OF(names, host);
}

/*
 * The names KVM's binary statistics use (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD).
 * Keeping KVM's spelling means `grep -rn io_exits arch/x86/kvm` in a kernel tree finds the line
 * that counts each one, and that line is its definition (textbook ch 3, "Exits hv never sees").
 */
const char *hvt_counter_name(unsigned counter)
{
	static const char *const names[] = {
		[HVT_C_EXITS] = "exits",
		[HVT_C_IO_EXITS] = "io_exits",
		[HVT_C_MMIO_EXITS] = "mmio_exits",
		[HVT_C_HALT_EXITS] = "halt_exits",
		[HVT_C_IRQ_EXITS] = "irq_exits",
		[HVT_C_SIGNAL_EXITS] = "signal_exits",
		[HVT_C_INSN_EMULATION] = "insn_emulation",
		[HVT_C_INSN_EMULATION_FAIL] = "insn_emulation_fail",
		[HVT_C_HYPERCALLS] = "hypercalls",
		[HVT_C_REQUEST_IRQ_EXITS] = "request_irq_exits",
		[HVT_C_IRQ_WINDOW_EXITS] = "irq_window_exits",
	};
	return NAME_OF(names, counter);
}

const char *hvt_vq_op_name(unsigned op)
{
	static const char *const names[] = {
		[HVT_VQ_NOTIFY] = "notify",           [HVT_VQ_READY] = "queue-ready",
		[HVT_VQ_STATUS] = "status",           [HVT_VQ_AVAIL_IDX] = "avail-idx",
		[HVT_VQ_AVAIL_ENTRY] = "avail-entry", [HVT_VQ_DESC] = "desc",
		[HVT_VQ_REQUEST] = "request",         [HVT_VQ_USED_ELEM] = "used-elem",
		[HVT_VQ_USED_IDX] = "used-idx",       [HVT_VQ_IRQ_RAISE] = "irq-raise",
		[HVT_VQ_IRQ_SUPPRESS] = "irq-suppress", [HVT_VQ_ERROR] = "error",
		[HVT_VQ_RESET] = "reset",
	};
	return NAME_OF(names, op);
}

/* Each name starts with its appendix C row, so `hv trace dump | grep Q4` finds the defence. */
const char *hvt_vq_error_name(unsigned err)
{
	static const char *const names[] = {
		[HVT_VQE_BAD_WIDTH] = "T1-bad-width",       [HVT_VQE_BAD_OFFSET] = "T2-bad-offset",
		[HVT_VQE_BAD_QUEUE] = "T3-bad-queue",       [HVT_VQE_QUEUE_SIZE] = "T4-queue-size",
		[HVT_VQE_RING_ADDR] = "T5-ring-address",    [HVT_VQE_STATUS] = "T6-status-order",
		[HVT_VQE_FEATURES] = "T6-features",         [HVT_VQE_LATE_WRITE] = "T7-late-write",
		[HVT_VQE_NOT_LIVE] = "T8-not-live",         [HVT_VQE_AVAIL_IDX] = "Q1-avail-idx",
		[HVT_VQE_HEAD] = "Q2-head-range",           [HVT_VQE_NEXT] = "Q3-next-range",
		[HVT_VQE_LOOP] = "Q4-loop",                 [HVT_VQE_CHAIN_LEN] = "Q5-chain-length",
		[HVT_VQE_BUFFER] = "Q6-buffer-range",       [HVT_VQE_ORDER] = "Q7-read-after-write",
		[HVT_VQE_INDIRECT] = "Q9-indirect",         [HVT_VQE_DUP_HEAD] = "Q10-duplicate-head",
		[HVT_VQE_BLK_HEADER] = "B1-header",         [HVT_VQE_BLK_STATUS] = "B2-status",
		[HVT_VQE_BLK_RANGE] = "B3-sector-range",    [HVT_VQE_BLK_LENGTH] = "B4-length",
		[HVT_VQE_BLK_DIRECTION] = "B5-direction",   [HVT_VQE_BLK_UNSUPP] = "B6-unsupported",
		[HVT_VQE_BLK_FLUSH] = "B7-flush-args",      [HVT_VQE_BLK_GET_ID] = "B8-get-id-length",
		[HVT_VQE_BLK_READ_ONLY] = "B9-read-only",   [HVT_VQE_BLK_IO] = "backend-io",
		[HVT_VQE_RING_ACCESS] = "ring-access",      [HVT_VQE_DESC_FLAGS] = "Q9-unknown-flags",
		[HVT_VQE_READ_ONLY] = "T2-read-only-config",
	};
	return NAME_OF(names, err);
}

const char *hvt_disk_op_name(unsigned op)
{
	static const char *const names[] = {
		[HVT_DISK_READ] = "read", [HVT_DISK_WRITE] = "write", [HVT_DISK_FLUSH] = "flush",
	};
	return NAME_OF(names, op);
}

const char *hvt_irq_op_name(unsigned op)
{
	static const char *const names[] = {
		[HVT_IRQ_LINE] = "line", [HVT_IRQ_INJECT] = "inject", [HVT_IRQ_WINDOW] = "window",
		[HVT_IRQ_WAKE] = "wake",
	};
	return NAME_OF(names, op);
}
