/*
 * test_trace.c - unit tests for the trace format: writer, reader, validation, stats, dump.
 *
 * Concept: a file format is only a contract if both sides are tested against the written
 * specification, byte offsets included. These tests write traces with the real writer, read
 * them back with the real reader, check raw bytes against appendix A's tables, and corrupt
 * files one rule at a time to prove the reader names each broken rule.
 * Textbook: appendix A "The trace format".
 *
 * Every test works in its own mkdtemp() directory (Criterion runs each test in a separate
 * process; the suite's init/fini create and remove the directory).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pvtrace.h"
#include "trace_read.h"
#include "trace_write.h"
#include "trace_names.h"
#include "trace_dump.h"
#include "trace_stats.h"
#include "tmpdir.h"

/* ---- fixture: a private temporary directory (tmpdir.c) ---- */

TestSuite(trace, .init = tmpdir_setup, .fini = tmpdir_teardown);

/* ---- helpers ---- */

/*
 * Record i with every field distinct and derived from i, all values legal: kinds cycle
 * through 1..9, reasons through the range of each kind, modes through 0..5. addr/data/rip use the high bits
 * so a reader that dropped the upper 32 bits would fail.
 */
/* The largest valid `reason` of a kind: it means an exit reason, a virtqueue step or a disk
 * operation depending on the kind (trace.h). */
static unsigned reason_max(unsigned kind)
{
	return kind == HVT_VQ ? HVT_VQ_OP_MAX : kind == HVT_DISK ? HVT_DISK_OP_MAX :
	       kind == HVT_IRQ ? HVT_IRQ_OP_MAX : kind == HVT_GDB ? HVT_GDB_WHY_MAX : HVT_REASON_MAX;
}

static struct hvt_record rec_make(uint64_t i)
{
	unsigned kind = 1 + i % HVT_KIND_MAX;
	return (struct hvt_record){
		.seq = 999, /* must be overwritten by trace_emit */
		.time_ns = 1000 + i * 7,
		.vcpu = (uint16_t)(0x100 + i % 3),
		.kind = (uint8_t)kind,
		.reason = (uint8_t)(i % (reason_max(kind) + 1)),
		.size = (uint8_t)(1u << (i % 4)),
		.cpl = (uint8_t)(i % 4),
		.mode = (uint8_t)(i % (HVT_MODE_MAX + 1)),
		.reserved = 0xAA, /* the writer must store zero, whatever the caller left here */
		.addr = 0x1122334400000000ull + i * 0x101,
		.data = ~i,
		.rip = 0xffffffff80000000ull + i,
		.count = (uint32_t)(i * 3 + 1),
		.flags = (uint32_t)(i % 16),
		.duration_ns = i * 1000 + 5,
	};
}

/* Write n records made by rec_make to path; fail the test on any error. */
static void trace_write_n(const char *path, uint64_t n)
{
	char err[256] = "";
	struct trace_writer *t = trace_create(path, HVT_HOST_SVM, "/some/dir/guest.bin", err,
					      sizeof err);
	cr_assert_not_null(t, "trace_create: %s", err);
	for (uint64_t i = 0; i < n; i++) {
		struct hvt_record r = rec_make(i);
		trace_emit(t, &r);
		cr_assert_eq(r.seq, i, "trace_emit must assign seq %llu", (unsigned long long)i);
	}
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "trace_close: %s", err);
}

static uint8_t *file_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	static uint8_t big[1 << 20];
	*len = fread(big, 1, sizeof big, f);
	fclose(f);
	uint8_t *copy = malloc(*len ? *len : 1);
	memcpy(copy, big, *len);
	return copy;
}

static void file_write(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* A valid trace of n records, as bytes, made by the real writer. */
static uint8_t *trace_bytes(uint64_t n, size_t *len)
{
	char p[256];
	trace_write_n(tmp_path(p, sizeof p, "valid.hvt"), n);
	return file_read(p, len);
}

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32_at(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void records_equal(const struct hvt_record *got, const struct hvt_record *want)
{
	cr_assert_eq(got->seq, want->seq);
	cr_assert_eq(got->time_ns, want->time_ns);
	cr_assert_eq(got->vcpu, want->vcpu);
	cr_assert_eq(got->kind, want->kind);
	cr_assert_eq(got->reason, want->reason);
	cr_assert_eq(got->size, want->size);
	cr_assert_eq(got->cpl, want->cpl);
	cr_assert_eq(got->mode, want->mode);
	cr_assert_eq(got->reserved, 0);
	cr_assert_eq(got->addr, want->addr);
	cr_assert_eq(got->data, want->data);
	cr_assert_eq(got->rip, want->rip);
	cr_assert_eq(got->count, want->count);
	cr_assert_eq(got->flags, want->flags);
	cr_assert_eq(got->duration_ns, want->duration_ns);
}

/* Load a file that must be valid and check every record against rec_make. */
static void trace_check_n(const char *path, uint64_t n)
{
	struct trace_file tf;
	char err[256] = "";
	cr_assert_eq(trace_load(path, &tf, err, sizeof err), 0, "trace_load: %s", err);
	cr_assert_eq(tf.count, n);
	for (uint64_t i = 0; i < n; i++) {
		struct hvt_record want = rec_make(i);
		want.seq = i;
		records_equal(&tf.records[i], &want);
	}
	trace_free(&tf);
}

/* ---- writer and reader agree ---- */

/* 60 records = 10 of each of the 6 kinds, every field distinct. */
Test(trace, round_trip_keeps_every_field_of_every_kind)
{
	char p[256];
	trace_write_n(tmp_path(p, sizeof p, "rt.hvt"), 60);
	trace_check_n(p, 60);
}

Test(trace, header_fields_read_back)
{
	char p[256];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t before = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	trace_write_n(tmp_path(p, sizeof p, "hdr.hvt"), 1);
	struct trace_file tf;
	char err[256];
	cr_assert_eq(trace_load(p, &tf, err, sizeof err), 0, "%s", err);
	cr_assert_eq(tf.header.version, HVT_VERSION);
	cr_assert_eq(tf.header.host_kind, HVT_HOST_SVM);
	/* Only the basename of "/some/dir/guest.bin" is stored. */
	cr_assert_str_eq(tf.header.guest, "guest.bin");
	/* start_unix_ns is wall-clock time at trace_create: not before we read the clock. */
	cr_assert_geq(tf.header.start_unix_ns, before);
	cr_assert_lt(tf.header.start_unix_ns - before, 60ull * 1000000000u);
	trace_free(&tf);
}

/*
 * The raw bytes, checked against the offset tables of trace.h / appendix A. This proves the
 * writer serializes little-endian field by field rather than dumping a struct.
 */
Test(trace, header_and_record_bytes_are_little_endian_at_documented_offsets)
{
	size_t len;
	uint8_t *b = trace_bytes(2, &len);
	cr_assert_eq(len, 128 + 2 * 64);
	cr_assert_eq(memcmp(b, "HVLTRACE", 8), 0);
	cr_assert_eq(le32_at(b + 8), 4);   /* version */
	cr_assert_eq(le32_at(b + 12), 64); /* record_size */
	cr_assert_eq(le32_at(b + 16), 128); /* header_size */
	cr_assert_eq(le32_at(b + 20), HVT_HOST_SVM);
	cr_assert_str_eq((const char *)b + 32, "guest.bin");
	for (int i = 32 + 9; i < 128; i++)
		cr_assert_eq(b[i], 0, "header byte %d must be zero (name padding/reserved)", i);
	/* Record 1 at 128 + 64: rec_make(1). */
	const uint8_t *r = b + 128 + 64;
	cr_assert_eq(le64_at(r + 0), 1);             /* seq */
	cr_assert_eq(le64_at(r + 8), 1007);          /* time_ns = 1000 + 1*7 */
	cr_assert_eq(r[16], 0x01);                   /* vcpu 0x101, low byte first */
	cr_assert_eq(r[17], 0x01);
	cr_assert_eq(r[18], 2);                      /* kind = 1 + 1 % 9 */
	cr_assert_eq(r[19], 1);                      /* reason = 1 % 11 (an exit) */
	cr_assert_eq(r[20], 2);                      /* size = 1 << 1 */
	cr_assert_eq(r[21], 1);                      /* cpl */
	cr_assert_eq(r[22], 1);                      /* mode */
	cr_assert_eq(r[23], 0);                      /* reserved: 0xAA from caller not stored */
	cr_assert_eq(r[24], 0x01);                   /* addr 0x1122334400000101: LSB first */
	cr_assert_eq(r[31], 0x11);                   /*   ... MSB last */
	cr_assert_eq(le64_at(r + 32), ~1ull);        /* data */
	cr_assert_eq(le64_at(r + 40), 0xffffffff80000001ull); /* rip */
	cr_assert_eq(le32_at(r + 48), 4);            /* count = 1*3 + 1 */
	cr_assert_eq(le32_at(r + 52), 1);            /* flags = 1 % 16 */
	cr_assert_eq(le64_at(r + 56), 1005);         /* duration_ns = 1*1000 + 5 */
	free(b);
}

/* 3 full buffers of 1024 records plus 7: every buffer boundary is crossed. */
Test(trace, round_trip_across_buffer_boundaries)
{
	char p[256];
	trace_write_n(tmp_path(p, sizeof p, "big.hvt"), 1024 * 3 + 7);
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_size, 128 + (1024 * 3 + 7) * 64);
	trace_check_n(p, 1024 * 3 + 7);
}

/*
 * Buffering, observed from outside: after trace_create the file holds only the header (128
 * bytes); 1023 records stay in memory; the 1024th fills the 64 KiB buffer and it is written
 * in one go, so the file grows to 128 + 1024*64 = 65664 bytes.
 */
Test(trace, records_reach_the_file_one_full_buffer_at_a_time)
{
	char p[256], err[256];
	struct trace_writer *t = trace_create(tmp_path(p, sizeof p, "buf.hvt"), HVT_HOST_VMX, "g",
					      err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_size, 128);
	for (int i = 0; i < 1023; i++) {
		struct hvt_record r = rec_make((uint64_t)i);
		trace_emit(t, &r);
	}
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_size, 128, "no write before the buffer is full");
	struct hvt_record r = rec_make(1023);
	trace_emit(t, &r);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_size, 65664);
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);
}

Test(trace, empty_trace_is_valid_with_zero_records)
{
	char p[256];
	trace_write_n(tmp_path(p, sizeof p, "empty.hvt"), 0);
	trace_check_n(p, 0);
}

/* The file's 64 name bytes need not hold a NUL; the reader's copy always ends with one. */
Test(trace, guest_name_of_64_bytes_is_nul_terminated_by_reader)
{
	char p[256], err[256], name[80];
	memset(name, 'n', 70);
	name[70] = '\0';
	struct trace_writer *t = trace_create(tmp_path(p, sizeof p, "name.hvt"), HVT_HOST_VMX,
					      name, err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);
	struct trace_file tf;
	cr_assert_eq(trace_load(p, &tf, err, sizeof err), 0, "%s", err);
	cr_assert_eq(strlen(tf.header.guest), 64, "70-byte name truncated to the 64-byte field");
	trace_free(&tf);
}

Test(trace, trace_now_counts_monotonic_nanoseconds_since_create)
{
	char p[256], err[256];
	struct trace_writer *t = trace_create(tmp_path(p, sizeof p, "now.hvt"), HVT_HOST_VMX, "g",
					      err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	uint64_t a = trace_now(t);
	usleep(2000);
	uint64_t b = trace_now(t);
	cr_assert_lt(a, 1000000000ull, "just created: well under a second");
	cr_assert_geq(b - a, 2000000ull, "slept 2 ms = 2,000,000 ns");
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);
}

/* ---- writer errors ---- */

Test(trace, create_in_missing_directory_names_file_and_reason)
{
	char p[256], want[400], err[400] = "";
	tmp_path(p, sizeof p, "no-such-dir/x.hvt");
	cr_assert_null(trace_create(p, HVT_HOST_VMX, "g", err, sizeof err));
	snprintf(want, sizeof want, "cannot create trace '%s': No such file or directory", p);
	cr_assert_str_eq(err, want);
}

/*
 * A write error during recording (here: the file-size limit, as a full disk would) is kept
 * and reported by trace_close. Limit 128 + 10*64 bytes: the header fits, the first 64 KiB
 * buffer of records does not, so write() fails with EFBIG ("File too large").
 */
Test(trace, write_error_is_reported_by_close)
{
	char p[256], err[400] = "";
	signal(SIGXFSZ, SIG_IGN); /* else the kernel kills us instead of returning EFBIG */
	struct rlimit rl = { .rlim_cur = 128 + 10 * 64, .rlim_max = RLIM_INFINITY };
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	struct trace_writer *t = trace_create(tmp_path(p, sizeof p, "full.hvt"), HVT_HOST_VMX, "g",
					      err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	for (int i = 0; i < 2000; i++) {
		struct hvt_record r = rec_make((uint64_t)i);
		trace_emit(t, &r);
	}
	cr_assert_eq(trace_close(t, err, sizeof err), -1);
	cr_assert(strstr(err, "cannot write trace") && strstr(err, "File too large"), "got: %s",
		  err);
}

/* ---- reader rejects each broken rule, and says which ---- */

/* Parse buf and expect failure with `needle` in the message and an empty result. */
static void parse_rejects(const uint8_t *buf, size_t len, const char *needle)
{
	struct trace_file tf;
	char err[256] = "";
	cr_assert_eq(trace_parse(buf, len, &tf, err, sizeof err), -1, "accepted; wanted '%s'",
		     needle);
	cr_assert_not_null(strstr(err, needle), "error '%s' does not mention '%s'", err, needle);
	cr_assert_null(tf.records);
	cr_assert_eq(tf.count, 0);
	cr_assert_null(strchr(err, '\n'), "error must be one line");
}

Test(trace, rejects_empty_file)
{
	uint8_t nothing[1] = { 0 };
	parse_rejects(nothing, 0, "too short for an hvlab trace: 0 bytes");
}

Test(trace, rejects_short_header)
{
	size_t len;
	uint8_t *b = trace_bytes(0, &len);
	parse_rejects(b, 127, "127 bytes, the header alone is 128");
	free(b);
}

/* A short text file is not a trace at all; saying "truncated" would send the user looking
 * for the rest of it. */
Test(trace, short_text_file_is_not_a_trace)
{
	parse_rejects((const uint8_t *)"hello\n", 6, "not an hvlab trace (bad magic)");
}

Test(trace, rejects_bad_magic)
{
	size_t len;
	uint8_t *b = trace_bytes(1, &len);
	b[0] = 'X';
	parse_rejects(b, len, "not an hvlab trace (bad magic)");
	free(b);
}

Test(trace, rejects_version_5_and_0)
{
	size_t len;
	uint8_t *b = trace_bytes(1, &len);
	put32_at(b + 8, 5);
	parse_rejects(b, len, "unknown version 5 (this program reads versions 1 to 4)");
	put32_at(b + 8, 0);
	parse_rejects(b, len, "unknown version 0");
	free(b);
}

/* Version 2 only added record kinds, so a version 1 file still loads. */
Test(trace, reads_version_1)
{
	size_t len;
	uint8_t *b = trace_bytes(2, &len);
	put32_at(b + 8, 1);
	struct trace_file tf;
	char err[256];
	cr_assert_eq(trace_parse(b, len, &tf, err, sizeof err), 0, "%s", err);
	cr_assert_eq(tf.header.version, 1);
	cr_assert_eq(tf.count, 2);
	trace_free(&tf);
	free(b);
}

/* `reason` has a range per kind: 3 is a valid exit reason and virtqueue step, not a disk op. */
Test(trace, rejects_reason_out_of_range_for_its_kind)
{
	size_t len;
	uint8_t *b = trace_bytes(2, &len);
	uint8_t *r = b + 128 + 64 * 1;
	r[18] = HVT_DISK;
	r[19] = HVT_DISK_OP_MAX + 1;
	parse_rejects(b, len, "record 1: unknown disk operation 4 (0..3)");
	r[18] = HVT_VQ;
	r[19] = HVT_VQ_OP_MAX + 1;
	parse_rejects(b, len, "record 1: unknown virtqueue step 14 (0..13)");
	r[19] = HVT_VQ_OP_MAX;
	struct trace_file tf;
	char err[256];
	cr_assert_eq(trace_parse(b, len, &tf, err, sizeof err), 0, "%s", err);
	trace_free(&tf);
	free(b);
}

Test(trace, rejects_changed_record_size)
{
	size_t len;
	uint8_t *b = trace_bytes(1, &len);
	put32_at(b + 12, 32);
	parse_rejects(b, len, "bad record_size 32");
	free(b);
}

Test(trace, rejects_changed_header_size)
{
	size_t len;
	uint8_t *b = trace_bytes(1, &len);
	put32_at(b + 16, 256);
	parse_rejects(b, len, "bad header_size 256");
	free(b);
}

Test(trace, rejects_unknown_host_kind)
{
	size_t len;
	uint8_t *b = trace_bytes(1, &len);
	put32_at(b + 20, HVT_HOST_MAX + 1);
	parse_rejects(b, len, "unknown host_kind 5");
	free(b);
}

/* 3 records = 128 + 192 bytes; one byte cut leaves 191 = 2*64 + 63 bytes of records. */
Test(trace, rejects_truncated_file)
{
	size_t len;
	uint8_t *b = trace_bytes(3, &len);
	parse_rejects(b, len - 1, "truncated: 63 bytes after the last whole record (record 2)");
	free(b);
}

Test(trace, rejects_unknown_kind)
{
	size_t len;
	uint8_t *b = trace_bytes(3, &len);
	b[128 + 64 * 1 + 18] = HVT_KIND_MAX + 1;
	parse_rejects(b, len, "record 1: unknown kind 12");
	b[128 + 64 * 1 + 18] = 0; /* 0 is not a kind either: kinds start at 1 */
	parse_rejects(b, len, "record 1: unknown kind 0");
	free(b);
}

Test(trace, rejects_seq_gap)
{
	size_t len;
	uint8_t *b = trace_bytes(3, &len);
	b[128 + 64 * 2 + 0] = 3; /* record 2 claims seq 3: record 2 went missing */
	parse_rejects(b, len, "record 2: seq 3, expected 2");
	free(b);
}

Test(trace, rejects_unknown_reason_and_mode)
{
	size_t len;
	uint8_t *b = trace_bytes(3, &len);
	b[128 + 64 * 1 + 19] = HVT_REASON_MAX + 1;
	parse_rejects(b, len, "record 1: unknown exit reason 12");
	b[128 + 64 * 1 + 19] = 0;
	b[128 + 64 * 0 + 22] = HVT_MODE_MAX + 1;
	parse_rejects(b, len, "record 0: unknown CPU mode 6");
	free(b);
}

Test(trace, load_prefixes_path_to_parse_error)
{
	char p[256], want[400], err[400] = "";
	size_t len;
	uint8_t *b = trace_bytes(1, &len);
	b[0] = 'X';
	file_write(tmp_path(p, sizeof p, "notes.txt"), b, len);
	struct trace_file tf;
	cr_assert_eq(trace_load(p, &tf, err, sizeof err), -1);
	snprintf(want, sizeof want, "trace '%s': not an hvlab trace (bad magic); "
		 "record one with 'hv run --trace FILE'", p);
	cr_assert_str_eq(err, want);
	free(b);
}

Test(trace, load_of_missing_file_says_so)
{
	char p[256], want[400], err[400] = "";
	struct trace_file tf;
	cr_assert_eq(trace_load(tmp_path(p, sizeof p, "absent.hvt"), &tf, err, sizeof err), -1);
	snprintf(want, sizeof want, "cannot open trace '%s': No such file or directory", p);
	cr_assert_str_eq(err, want);
}

/* ---- a file cut shorter while it is read ---- */

/*
 * Another process truncates the trace after `hv trace` measured it (hv still writing it and
 * stopped, a student's `truncate`). The reader reads with pread, not through a mapping, so this
 * is a short read and an error, never SIGBUS. To make the race deterministic, the test opens
 * the file and measures it (trace_open_file, as trace_load does), cuts it, and only then asks
 * for the records with the stale size. 40000 records are more than one 1 MiB read (16384).
 */
Test(trace, file_cut_after_it_was_measured_is_an_error_not_a_signal)
{
	char p[256], label[300], want[600], err[600] = "";
	trace_write_n(tmp_path(p, sizeof p, "cut.hvt"), 40000);
	snprintf(label, sizeof label, "trace '%s'", p);
	size_t size;
	int fd = trace_open_file(p, label, &size, err, sizeof err);
	cr_assert_geq(fd, 0, "%s", err);
	cr_assert_eq(size, 128 + 40000 * 64);
	/* Cut in the middle of the second 1 MiB piece (records 16384..32767), inside a record. */
	size_t cut = 128 + 20000 * 64 + 10;
	cr_assert_eq(truncate(p, (off_t)cut), 0);
	struct trace_file tf;
	cr_assert_eq(trace_read_records(fd, size, label, &tf, err, sizeof err), -1);
	close(fd);
	/* The second piece starts at byte 128 + 16384 * 64 and is 1 MiB long. */
	snprintf(want, sizeof want, "trace '%s' was truncated while being read: it ends at byte "
		 "%zu, not %zu (record it again)", p, cut, (size_t)128 + 2 * 16384 * 64);
	cr_assert_str_eq(err, want);
	/* Nothing half-valid comes back: not the 16384 records that were read before the cut. */
	cr_assert_eq(tf.count, 0);
	cr_assert_null(tf.records);
}

/* Cut to the header alone: even the first piece of records finds nothing (pread returns 0). */
Test(trace, file_cut_to_its_header_after_it_was_measured_says_where_it_ends)
{
	char p[256], label[300], want[600], err[600] = "";
	trace_write_n(tmp_path(p, sizeof p, "cut0.hvt"), 3);
	snprintf(label, sizeof label, "trace '%s'", p);
	size_t size;
	int fd = trace_open_file(p, label, &size, err, sizeof err);
	cr_assert_geq(fd, 0, "%s", err);
	cr_assert_eq(truncate(p, 128), 0);
	struct trace_file tf;
	cr_assert_eq(trace_read_records(fd, size, label, &tf, err, sizeof err), -1);
	close(fd);
	snprintf(want, sizeof want, "trace '%s' was truncated while being read: it ends at byte "
		 "128, not %d (record it again)", p, 128 + 3 * 64);
	cr_assert_str_eq(err, want);
}

/* The same reader on a file nobody cuts: every record of several 1 MiB pieces comes back,
 * including the ones on each side of a piece boundary. */
Test(trace, records_across_read_pieces_load_exactly)
{
	char p[256];
	trace_write_n(tmp_path(p, sizeof p, "pieces.hvt"), 2 * 16384 + 5);
	trace_check_n(p, 2 * 16384 + 5);
}

/* ---- names ---- */

Test(trace, names_match_the_spec_and_out_of_range_is_question_mark)
{
	cr_assert_str_eq(hvt_kind_name(HVT_EXIT), "exit");
	cr_assert_str_eq(hvt_kind_name(HVT_GUEST_ERROR), "guest-error");
	cr_assert_str_eq(hvt_kind_name(0), "?");
	cr_assert_str_eq(hvt_kind_name(HVT_VQ), "vq");
	cr_assert_str_eq(hvt_kind_name(HVT_DISK), "disk");
	cr_assert_str_eq(hvt_kind_name(HVT_IRQ), "irq");
	cr_assert_str_eq(hvt_kind_name(HVT_RING), "ring");
	cr_assert_str_eq(hvt_kind_name(HVT_GDB), "gdb-stop");
	cr_assert_str_eq(hvt_kind_name(12), "?");
	cr_assert_str_eq(hvt_gdb_why_name(HVT_GDB_BREAK_EXIT), "break-exit");
	cr_assert_str_eq(hvt_gdb_why_name(5), "?");
	cr_assert_str_eq(hvt_ring_op_name(HV_PVT_SYSCALL), "syscall");
	cr_assert_str_eq(hvt_ring_op_name(HV_PVT_TASK_KILL), "task-kill");
	cr_assert_str_eq(hvt_ring_op_name(9), "?");
	cr_assert_str_eq(hvt_irq_op_name(HVT_IRQ_INJECT), "inject");
	cr_assert_str_eq(hvt_reason_name(HVT_R_IRQ_WINDOW), "irq-window");
	cr_assert_str_eq(hvt_vq_op_name(HVT_VQ_DESC), "desc");
	cr_assert_str_eq(hvt_vq_op_name(14), "?");
	cr_assert_str_eq(hvt_vq_error_name(HVT_VQE_LOOP), "Q4-loop");
	cr_assert_str_eq(hvt_vq_error_name(HVT_VQE_MAX + 1), "?");
	cr_assert_str_eq(hvt_disk_op_name(HVT_DISK_FLUSH), "flush");
	cr_assert_str_eq(hvt_reason_name(HVT_R_IO), "io");
	cr_assert_str_eq(hvt_reason_name(HVT_R_SYSTEM_EVENT), "system-event");
	cr_assert_str_eq(hvt_reason_name(12), "?");
	cr_assert_str_eq(hvt_mode_name(HVT_MODE_PROT32), "prot32");
	cr_assert_str_eq(hvt_mode_name(HVT_MODE_UNKNOWN), "?");
	cr_assert_str_eq(hvt_mode_name(6), "?");
	cr_assert_str_eq(hvt_host_name(HVT_HOST_PVM), "pvm");
	cr_assert_str_eq(hvt_host_name(5), "?");
	cr_assert_str_eq(hvt_counter_name(HVT_C_EXITS), "exits");
	cr_assert_str_eq(hvt_counter_name(HVT_C_INSN_EMULATION_FAIL), "insn_emulation_fail");
	cr_assert_str_eq(hvt_counter_name(HVT_C_IRQ_WINDOW_EXITS), "irq_window_exits");
	cr_assert_str_eq(hvt_counter_name(0), "?");
	cr_assert_str_eq(hvt_counter_name(12), "?");
}

/* ---- stats ---- */

/* Capture a printer's output as a malloc'd string. */
static char *capture(const struct trace_file *tf, int what)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	cr_assert_not_null(f);
	if (what == 0)
		trace_print_stats(f, tf);
	else
		trace_print_dump(f, tf, what == 2);
	fclose(f);
	return text;
}

/*
 * Index (0-based) of the first line equal to `want` after collapsing runs of spaces and
 * trimming; -1 if none. Column alignment is free; the words and numbers are not.
 */
static int line_find(const char *text, const char *want)
{
	int index = 0;
	const char *p = text;
	while (*p) {
		char norm[512];
		size_t n = 0;
		int space = 1;
		for (; *p && *p != '\n'; p++) {
			if (*p == ' ') {
				space = 1;
				continue;
			}
			if (space && n > 0 && n < sizeof norm - 1)
				norm[n++] = ' ';
			space = 0;
			if (n < sizeof norm - 1)
				norm[n++] = *p;
		}
		norm[n] = '\0';
		if (strcmp(norm, want) == 0)
			return index;
		if (*p == '\n')
			p++;
		index++;
	}
	return -1;
}

static void assert_line(const char *text, const char *want)
{
	cr_assert_geq(line_find(text, want), 0, "no line '%s' in:\n%s", want, text);
}

static struct hvt_record ex(uint8_t reason, uint64_t addr, uint32_t flags, uint32_t count,
			    uint8_t mode, uint8_t cpl, uint64_t duration_ns)
{
	return (struct hvt_record){ .kind = HVT_EXIT, .reason = reason, .addr = addr,
				    .flags = flags, .count = count, .mode = mode, .cpl = cpl,
				    .duration_ns = duration_ns, .size = 1 };
}

/*
 * The synthetic run (12 exits reach hv):
 *   4 x OUT 0x500       prot32 cpl0  handled in 1, 2, 3, 6 us
 *   2 x IN  0x3f8       prot32 cpl0  0.5, 1.5 us
 *   1 x OUTS 0xe9 (5 elements, string I/O)  real cpl0  4 us
 *   3 x store 0xd0000000 long cpl3  2 us each
 *   1 x load  0xd0000004 unclaimed  long cpl3  10 us
 *   1 x HLT              long cpl0   0 us
 * plus one each of run-return, run-call, entry, guest-error (not exits), and KVM's counters
 * exits = 20, io_exits = 7. Last record at 2,500,000 ns = 2.500 ms.
 */
static struct hvt_record stats_recs[] = {
	{ .kind = HVT_RUN_RETURN, .mode = HVT_MODE_PROT32 },
	{ .kind = HVT_RUN_CALL, .mode = HVT_MODE_PROT32 },
	{ .kind = HVT_ENTRY, .mode = HVT_MODE_PROT32, .flags = HVT_F_TIME_BOUND },
	{ .kind = HVT_GUEST_ERROR, .addr = 0x3f8 },
	{ .kind = HVT_COUNTER, .addr = HVT_C_EXITS, .data = 20 },
	{ .kind = HVT_COUNTER, .addr = HVT_C_IO_EXITS, .data = 7, .time_ns = 2500000 },
};

static struct trace_file stats_trace(struct hvt_record *recs, uint64_t *n)
{
	uint64_t k = 0;
	for (int i = 0; i < 4; i++)
		recs[k++] = ex(HVT_R_IO, 0x500, HVT_F_WRITE, 1, HVT_MODE_PROT32, 0,
			       (uint64_t[]){ 1000, 2000, 3000, 6000 }[i]);
	recs[k++] = ex(HVT_R_IO, 0x3f8, 0, 1, HVT_MODE_PROT32, 0, 500);
	recs[k++] = ex(HVT_R_IO, 0x3f8, 0, 1, HVT_MODE_PROT32, 0, 1500);
	recs[k++] = ex(HVT_R_IO, 0xe9, HVT_F_WRITE | HVT_F_STRING, 5, HVT_MODE_REAL, 0, 4000);
	for (int i = 0; i < 3; i++)
		recs[k++] = ex(HVT_R_MMIO, 0xd0000000, HVT_F_WRITE, 1, HVT_MODE_LONG, 3, 2000);
	recs[k++] = ex(HVT_R_MMIO, 0xd0000004, HVT_F_UNCLAIMED, 1, HVT_MODE_LONG, 3, 10000);
	recs[k++] = ex(HVT_R_HLT, 0, 0, 1, HVT_MODE_LONG, 0, 0);
	for (size_t i = 0; i < sizeof stats_recs / sizeof stats_recs[0]; i++)
		recs[k++] = stats_recs[i];
	for (uint64_t i = 0; i < k; i++)
		recs[i].seq = i;
	*n = k;
	struct trace_file tf = { .header = { .version = 1, .host_kind = HVT_HOST_VMX,
					     .guest = "stats.bin" },
				 .records = recs, .count = k };
	return tf;
}

Test(trace, stats_header_lines)
{
	struct hvt_record recs[32];
	uint64_t n;
	struct trace_file tf = stats_trace(recs, &n);
	char *out = capture(&tf, 0);
	assert_line(out, "guest: stats.bin");
	assert_line(out, "host: vmx");
	assert_line(out, "events: 18"); /* 12 exits + 6 other records */
	assert_line(out, "exits seen by hv: 12");
	assert_line(out, "duration: 2.500 ms");
	free(out);
}

/*
 * By reason, shares of 12 and times in us:
 *   io   7 = 4+2+1: 58.33%, min 0.5, avg (1+2+3+6+0.5+1.5+4)/7 = 18/7 = 2.571 -> 2.57, max 6
 *   mmio 4: 33.33%, min 2, avg (3*2+10)/4 = 4, max 10
 *   hlt  1: 8.33%, all 0
 *   total 12: avg (18 + 16 + 0)/12 = 2.8333 -> 2.83, min 0, max 10
 */
Test(trace, stats_counts_exits_by_reason_with_times)
{
	struct hvt_record recs[32];
	uint64_t n;
	struct trace_file tf = stats_trace(recs, &n);
	char *out = capture(&tf, 0);
	int io = line_find(out, "io 7 58.33% 0.50 2.57 6.00");
	int mmio = line_find(out, "mmio 4 33.33% 2.00 4.00 10.00");
	int hlt = line_find(out, "hlt 1 8.33% 0.00 0.00 0.00");
	int total = line_find(out, "total 12 100.00% 0.00 2.83 10.00");
	cr_assert(io >= 0 && mmio >= 0 && hlt >= 0 && total >= 0, "got:\n%s", out);
	cr_assert(io < mmio && mmio < hlt && hlt < total, "sorted by count, total last:\n%s", out);
	free(out);
}

/*
 * By (type, address, direction), sorted by exits then key; the string OUTS is one exit that
 * moved 5 elements; ties at 1 exit go io before mmio.
 */
Test(trace, stats_groups_io_and_mmio_by_port_and_direction)
{
	struct hvt_record recs[32];
	uint64_t n;
	struct trace_file tf = stats_trace(recs, &n);
	char *out = capture(&tf, 0);
	const char *want[] = {
		"io 0x0500 out 4 33.33% 4",
		"mmio 0xd0000000 write 3 25.00% 3",
		"io 0x03f8 in 2 16.67% 2",
		"io 0x00e9 out 1 8.33% 5",
		"mmio 0xd0000004 read 1 8.33% 1 unclaimed",
	};
	int prev = -1;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		int at = line_find(out, want[i]);
		cr_assert_gt(at, prev, "'%s' missing or out of order in:\n%s", want[i], out);
		prev = at;
	}
	free(out);
}

/* Modes: real 1, prot32 6 (4+2), long 5 (3+1+1). CPL: 0 for 8, 3 for the 4 MMIO exits. */
Test(trace, stats_breaks_down_by_mode_and_cpl)
{
	struct hvt_record recs[32];
	uint64_t n;
	struct trace_file tf = stats_trace(recs, &n);
	char *out = capture(&tf, 0);
	assert_line(out, "real 1 8.33%");
	assert_line(out, "prot32 6 50.00%");
	assert_line(out, "long 5 41.67%");
	assert_line(out, "cpl0 8 66.67%");
	assert_line(out, "cpl3 4 33.33%");
	free(out);
}

/* KVM counted 20 exits, hv saw 12: 20 - 12 = 8 were handled inside KVM. */
Test(trace, stats_compares_kvm_exit_counter_with_exits_seen)
{
	struct hvt_record recs[32];
	uint64_t n;
	struct trace_file tf = stats_trace(recs, &n);
	char *out = capture(&tf, 0);
	assert_line(out, "Counted by KVM (exits that did not reach hv are only visible here):");
	assert_line(out, "exits 20");
	assert_line(out, "io_exits 7");
	assert_line(out, "exits seen by hv: 12; KVM's exit counter: 20; handled inside KVM: 8");
	free(out);
}

/* Without an "exits" counter, or with one below hv's count, no difference is claimed. */
Test(trace, stats_claims_no_difference_without_a_usable_exit_counter)
{
	struct hvt_record recs[32];
	uint64_t n;
	struct trace_file tf = stats_trace(recs, &n);
	recs[n - 2].data = 11; /* "exits" = 11 < 12 seen */
	char *out = capture(&tf, 0);
	cr_assert_null(strstr(out, "handled inside KVM"), "got:\n%s", out);
	free(out);
	recs[n - 2].addr = HVT_C_HYPERCALLS;
	out = capture(&tf, 0);
	cr_assert_null(strstr(out, "handled inside KVM"), "got:\n%s", out);
	assert_line(out, "hypercalls 11");
	free(out);
}

/* A guest name from a hostile file must not reach the terminal as an escape sequence. */
Test(trace, stats_replaces_control_characters_in_guest_name)
{
	struct trace_file tf = { .header = { .version = 1, .guest = "\x1b[2Jevil" } };
	char *out = capture(&tf, 0);
	assert_line(out, "guest: ?[2Jevil");
	assert_line(out, "events: 0");
	free(out);
}

/* ---- dump ---- */

static int lines_count(const char *text)
{
	int n = 0;
	for (; *text; text++)
		n += *text == '\n';
	return n;
}

Test(trace, dump_prints_one_line_per_record)
{
	struct hvt_record recs[32];
	uint64_t n;
	struct trace_file tf = stats_trace(recs, &n);
	recs[0].time_ns = 1000;
	recs[0].rip = 0x100010;
	recs[0].data = 0x41;
	char *out = capture(&tf, 1);
	cr_assert_eq(lines_count(out), (int)n);
	/* Record 0: OUT 0x41 to port 0x500, 1 byte, handled in 1000 ns = 1.000 us. */
	assert_line(out, "0 1.000 vcpu0 exit io prot32 cpl0 rip=0x100010 port=0x500 size=1 out "
			 "data=0x41 count=1 flags=write handled_us=1.000");
	assert_line(out, "16 0.000 vcpu0 counter exits=20");
	free(out);
}

/* One JSON object per record; spot-check the keys and that numbers are plain numbers. */
Test(trace, dump_json_prints_one_object_per_record)
{
	struct hvt_record recs[32];
	uint64_t n;
	struct trace_file tf = stats_trace(recs, &n);
	char *out = capture(&tf, 2);
	cr_assert_eq(lines_count(out), (int)n);
	const char *line = out;
	for (uint64_t i = 0; i < n; i++) {
		char head[32];
		snprintf(head, sizeof head, "{\"seq\":%llu,", (unsigned long long)i);
		cr_assert_eq(strncmp(line, head, strlen(head)), 0, "line %llu: %s",
			     (unsigned long long)i, line);
		const char *end = strchr(line, '\n');
		cr_assert_eq(end[-1], '}');
		line = end + 1;
	}
	cr_assert_not_null(strstr(out, "\"kind\":\"exit\",\"reason\":\"io\",\"size\":1,\"cpl\":0,"
				       "\"mode\":\"prot32\",\"addr\":1280,"));
	cr_assert_not_null(strstr(out, "\"addr\":1,\"data\":20,"));
	cr_assert_not_null(strstr(out, "\"counter\":\"exits\"}"));
	free(out);
}

/*
 * --trace-limit: a file of 128 + 40 * 64 bytes has room for 40 records; 11 (HVT_C_MAX) are
 * kept for the end-of-run counters, so 29 events get in, the next 21 are counted as dropped,
 * and after trace_use_reserve the 3 "counters" still fit: 32 records, header.dropped = 21,
 * and the file is a valid trace (seq contiguous) no larger than the limit.
 */
Test(trace, limit_drops_later_events_keeps_room_for_counters_and_says_so)
{
	char p[256], err[256];
	tmp_path(p, sizeof p, "limit.hvt");
	struct trace_writer *t = trace_create(p, HVT_HOST_PVM, "g", err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	trace_set_limit(t, 128 + 40 * 64);
	for (uint64_t i = 0; i < 50; i++) {
		struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_IO, .time_ns = i };
		trace_emit(t, &r);
	}
	cr_assert_eq(trace_dropped(t), 21);
	trace_use_reserve(t);
	for (uint64_t c = 1; c <= 3; c++) {
		struct hvt_record r = { .kind = HVT_COUNTER, .addr = c, .data = 7 };
		trace_emit(t, &r);
	}
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);
	struct trace_file tf;
	cr_assert_eq(trace_load(p, &tf, err, sizeof err), 0, "%s", err);
	cr_assert_eq(tf.count, 32);
	cr_assert_eq(tf.header.dropped, 21);
	cr_assert_eq(tf.records[28].kind, HVT_EXIT);
	cr_assert_eq(tf.records[29].kind, HVT_COUNTER);
	trace_free(&tf);
}
