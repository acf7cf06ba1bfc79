/*
 * trace_write.c - writing the hvlab trace format (.hvt), byte by byte, while the guest runs.
 *
 * Concept: a VM exit is invisible to the guest and gone a microsecond later. To let a student
 * *see* exits, hv writes one fixed-size record per event into a file that outlives the run.
 * Two lessons live in this file:
 *
 *   1. A file format is a contract between programs that never share memory. We therefore
 *      never fwrite() a C struct: padding, field order and byte order are compiler and CPU
 *      details. Every field is serialized explicitly, little-endian, at the offset the
 *      textbook's table gives. A big-endian host would write the very same bytes. The reader
 *      (trace_read.c) mirrors every store here with a load at the same offset.
 *   2. Recording must be cheap, or the trace changes what it measures: records go into a fixed
 *      in-memory buffer and reach the kernel in one write() per TRACE_BUF_RECORDS records.
 *
 * Textbook: appendix A "The trace format", section A.10 "How the writer works"; chapter 3
 * "Exits", section "Counting exits".
 */
#include "trace_write.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trace_read.h" /* trace_fail: the one-line error convention all trace code shares */

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
