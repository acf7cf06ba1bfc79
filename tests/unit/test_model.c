/*
 * test_model.c - unit tests for hvviz's trace model (viz/model.c): open, check, index, read.
 *
 * Concept: a viewer is only trustworthy if its numbers are the trace's numbers. These tests
 * write small traces with hv's own writer (hv/trace_write.c), open them through the model, and
 * compare every count and sum with the value worked out by hand from the records the test
 * wrote. Then they break files one rule at a time (appendix A's reader rules) and check that
 * the model refuses each with a message that names the file and the fix, and that live mode
 * waits for a half-written record instead of calling it damage.
 * Textbook: appendix A "The trace format"; chapter 6 "Watching it happen".
 *
 * Every test works in its own mkdtemp() directory (Criterion runs each test in a separate
 * process; the suite's init/fini create and remove it).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layout.h"
#include "fileguard.h"
#include "model.h"
#include "pvtrace.h"
#include "trace_read.h"
#include "trace_write.h"
#include "trace_names.h"
#include "tmpdir.h"

/* ---- fixture: a private temporary directory (tmpdir.c) ---- */

TestSuite(model, .init = tmpdir_setup, .fini = tmpdir_teardown);

/* ---- building traces ---- */

static struct hvt_record rec(uint8_t kind, uint8_t reason, uint64_t t)
{
	return (struct hvt_record){ .kind = kind, .reason = reason, .time_ns = t, .count = 1 };
}

static struct hvt_record exit_rec(uint8_t reason, uint64_t addr, uint32_t flags, uint64_t t,
				  uint64_t dur)
{
	struct hvt_record r = rec(HVT_EXIT, reason, t);
	r.addr = addr;
	r.flags = flags;
	r.size = 1;
	r.duration_ns = dur;
	return r;
}

/* Write recs with hv's real writer (which assigns seq 0, 1, 2, ...). */
static void write_trace(const char *path, const char *guest, struct hvt_record *recs, size_t n)
{
	char err[256];
	struct trace_writer *t = trace_create(path, HVT_HOST_VMX, guest, err, sizeof err);
	cr_assert_not_null(t, "trace_create: %s", err);
	for (size_t i = 0; i < n; i++)
		trace_emit(t, &recs[i]);
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "trace_close: %s", err);
}

/* n records of one simple kind: enough for tests about files rather than contents. */
static void write_n(const char *path, size_t n)
{
	char err[256];
	struct trace_writer *t = trace_create(path, HVT_HOST_VMX, "n.bin", err, sizeof err);
	cr_assert_not_null(t, "trace_create: %s", err);
	for (size_t i = 0; i < n; i++) {
		struct hvt_record r = rec(HVT_RUN_CALL, 0, i * 10);
		trace_emit(t, &r);
	}
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "trace_close: %s", err);
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Overwrite `bytes` little-endian bytes at file offset off (one rule broken at a time). */
static void poke(const char *path, off_t off, uint64_t v, int bytes)
{
	uint8_t b[8];
	put_le(b, v, bytes);
	int fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, b, (size_t)bytes, off), bytes);
	close(fd);
}

static void append(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* The whole file into a malloc'd buffer (small test files only). */
static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	uint8_t *buf = malloc((size_t)st.st_size);
	int fd = open(path, O_RDONLY);
	cr_assert(buf && fd >= 0);
	cr_assert_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/*
 * The reference trace: three exit round trips (UART OUT, a virtio doorbell with its device
 * steps, HLT) and two KVM counters. Every expected number below is derived from this table.
 *
 *   seq kind        detail                                    time   duration
 *    0  run-call                                               100
 *    1  entry                                                  100
 *    2  exit        io 0x3F8 out (UART THR)                   1100    400
 *    3  run-return                                            1100
 *    4  run-call                                              1500
 *    5  entry                                                 1500
 *    6  exit        mmio 0xD0001050 write (QueueNotify)       3500    900
 *    7  run-return                                            3500
 *    8  vq          notify                                    3600
 *    9  vq          request (read, head 0)                    3700
 *   10  disk        read (virtio)                             3800
 *   11  vq          used-idx                                  3900
 *   12  irq         line 5 up                                 4000
 *   13  run-call                                              4400
 *   14  entry                                                 4400
 *   15  exit        hlt                                       9400     50
 *   16  run-return                                            9400
 *   17  counter     exits = 42                                9500
 *   18  counter     id 99 (unknown to this hvviz) = 7         9500
 */
#define REF_N 19u
static void write_reference(const char *path)
{
	struct hvt_record r[REF_N] = {
		rec(HVT_RUN_CALL, 0, 100), rec(HVT_ENTRY, 0, 100),
		exit_rec(HVT_R_IO, HV_PORT_UART0, HVT_F_WRITE, 1100, 400),
		rec(HVT_RUN_RETURN, 0, 1100),
		rec(HVT_RUN_CALL, 0, 1500), rec(HVT_ENTRY, 0, 1500),
		exit_rec(HVT_R_MMIO, HV_MMIO_VIRTIO_BLK + 0x50, HVT_F_WRITE, 3500, 900),
		rec(HVT_RUN_RETURN, 0, 3500),
		rec(HVT_VQ, HVT_VQ_NOTIFY, 3600), rec(HVT_VQ, HVT_VQ_REQUEST, 3700),
		rec(HVT_DISK, HVT_DISK_READ, 3800), rec(HVT_VQ, HVT_VQ_USED_IDX, 3900),
		rec(HVT_IRQ, HVT_IRQ_LINE, 4000),
		rec(HVT_RUN_CALL, 0, 4400), rec(HVT_ENTRY, 0, 4400),
		exit_rec(HVT_R_HLT, 0, 0, 9400, 50),
		rec(HVT_RUN_RETURN, 0, 9400),
		rec(HVT_COUNTER, 0, 9500), rec(HVT_COUNTER, 0, 9500),
	};
	r[9].addr = 0;           /* sector 0 */
	r[9].data = 512;         /* one sector */
	r[9].arg = 0;            /* VIRTIO_BLK_T_IN: a read */
	r[10].size = HVT_DISK_VIRTIO;
	r[12].addr = HV_IRQ_VIRTIO_BLK;
	r[12].data = 1;
	r[17].addr = HVT_C_EXITS;
	r[17].data = 42;
	r[18].addr = 99;
	r[18].data = 7;
	write_trace(path, "stats.bin", r, REF_N);
}

static void open_ok(struct model *m, const char *path, int live)
{
	char err[512] = "";
	int rc = model_open(m, path, live, err, sizeof err);
	cr_assert_eq(rc, 0, "model_open: %s", err);
}

/* ---- a good trace ---- */

Test(model, reference_trace_counts_are_exact)
{
	char p[256];
	struct model m;
	write_reference(tmp_path(p, sizeof p, "ref.hvt"));
	open_ok(&m, p, 0);
	cr_assert_eq(m.count, REF_N);
	cr_assert_str_eq(m.header.guest, "stats.bin");
	cr_assert_eq(m.header.host_kind, HVT_HOST_VMX);
	cr_assert_eq(m.header.version, HVT_VERSION);
	cr_assert_eq(m.header.dropped, 0);
	/* Kinds, counted down the table's kind column. */
	const struct model_stats *s = &m.stats;
	cr_assert_eq(s->by_kind[HVT_RUN_CALL], 3);
	cr_assert_eq(s->by_kind[HVT_ENTRY], 3);
	cr_assert_eq(s->by_kind[HVT_EXIT], 3);
	cr_assert_eq(s->by_kind[HVT_RUN_RETURN], 3);
	cr_assert_eq(s->by_kind[HVT_VQ], 3);
	cr_assert_eq(s->by_kind[HVT_DISK], 1);
	cr_assert_eq(s->by_kind[HVT_IRQ], 1);
	cr_assert_eq(s->by_kind[HVT_COUNTER], 2);
	cr_assert_eq(s->by_kind[HVT_RING], 0);
	model_close(&m);
}

Test(model, reference_trace_stats_are_exact)
{
	char p[256];
	struct model m;
	write_reference(tmp_path(p, sizeof p, "ref.hvt"));
	open_ok(&m, p, 0);
	const struct model_stats *s = &m.stats;
	/* One exit of each reason; hv's handling time is each exit's own duration. */
	cr_assert_eq(s->exits_by_reason[HVT_R_IO], 1);
	cr_assert_eq(s->exits_by_reason[HVT_R_MMIO], 1);
	cr_assert_eq(s->exits_by_reason[HVT_R_HLT], 1);
	cr_assert_eq(s->hv_ns_by_reason[HVT_R_IO], 400);
	cr_assert_eq(s->hv_ns_by_reason[HVT_R_MMIO], 900);
	cr_assert_eq(s->hv_ns_by_reason[HVT_R_HLT], 50);
	/* 0x3F8 is the UART, 0xD0001050 inside the virtio window, HLT has no device. */
	cr_assert_eq(s->exits_by_device[VIZ_DEV_UART], 1);
	cr_assert_eq(s->exits_by_device[VIZ_DEV_VIRTIO_BLK], 1);
	cr_assert_eq(s->exits_by_device[VIZ_DEV_NONE], 1);
	cr_assert_eq(s->exits_by_device[VIZ_DEV_UNCLAIMED], 0);
	/* Guest time = each entry to the next exit: (1100-100) + (3500-1500) + (9400-4400). */
	cr_assert_eq(s->guest_ns, 1000 + 2000 + 5000);
	cr_assert_eq(s->last_ns, 9500);
	cr_assert_eq(s->vq_by_op[HVT_VQ_NOTIFY], 1);
	cr_assert_eq(s->vq_by_op[HVT_VQ_REQUEST], 1);
	cr_assert_eq(s->vq_by_op[HVT_VQ_USED_IDX], 1);
	cr_assert_eq(s->vq_by_op[HVT_VQ_DESC], 0);
	cr_assert_eq(s->disk_by_op[HVT_DISK_READ], 1);
	cr_assert_eq(s->irq_by_op[HVT_IRQ_LINE], 1);
	/* Counter 1 (exits) = 42; id 99 has no slot and must not land anywhere. */
	cr_assert_eq(s->counters[HVT_C_EXITS], 42);
	for (unsigned c = 0; c <= HVT_C_MAX; c++)
		if (c != HVT_C_EXITS)
			cr_assert_eq(s->counters[c], 0, "counter %u", c);
	model_close(&m);
}

Test(model, open_feeds_every_record_to_the_indexes)
{
	char p[256];
	struct model m;
	write_reference(tmp_path(p, sizeof p, "ref.hvt"));
	open_ok(&m, p, 0);
	/* The virtqueue index saw all 19 records (requests.h/vqstate.h: fed in seq order). */
	cr_assert_eq(m.vq.fed, REF_N);
	/* One virtio request: it starts at its doorbell's exit, seq 6 (requests.h), and runs to
	 * the end of the trace. */
	cr_assert_eq(m.requests.n, 1);
	cr_assert_eq(m.requests.v[0].start, 6);
	cr_assert_eq(m.requests.v[0].end, REF_N);
	cr_assert_eq(m.requests.v[0].type, REQ_READ);
	model_close(&m);
}

Test(model, model_get_round_trips_every_field)
{
	char p[256];
	struct model m;
	struct hvt_record w = {
		.time_ns = 777, .vcpu = 3, .kind = HVT_EXIT, .reason = HVT_R_IO, .size = 4,
		.cpl = 3, .mode = HVT_MODE_LONG, .addr = HV_PORT_ATA_CMD + 7,
		.data = 0xDEADBEEF12345678ull, .rip = 0xFFFFFFFF81000000ull, .count = 7,
		.flags = HVT_F_WRITE | HVT_F_STRING, .duration_ns = 12345,
	};
	struct hvt_record w1 = rec(HVT_ENTRY, 0, 778);
	struct hvt_record two[2] = { w, w1 };
	write_trace(tmp_path(p, sizeof p, "rt.hvt"), "rt.bin", two, 2);
	open_ok(&m, p, 0);
	struct hvt_record r;
	model_get(&m, 0, &r);
	cr_assert_eq(r.seq, 0);
	cr_assert_eq(r.time_ns, 777);
	cr_assert_eq(r.vcpu, 3);
	cr_assert_eq(r.kind, HVT_EXIT);
	cr_assert_eq(r.reason, HVT_R_IO);
	cr_assert_eq(r.size, 4);
	cr_assert_eq(r.cpl, 3);
	cr_assert_eq(r.mode, HVT_MODE_LONG);
	cr_assert_eq(r.addr, 0x1F7);
	cr_assert_eq(r.data, 0xDEADBEEF12345678ull);
	cr_assert_eq(r.rip, 0xFFFFFFFF81000000ull);
	cr_assert_eq(r.count, 7);
	cr_assert_eq(r.flags, HVT_F_WRITE | HVT_F_STRING);
	cr_assert_eq(r.duration_ns, 12345);
	model_get(&m, 1, &r);
	cr_assert_eq(r.seq, 1);
	cr_assert_eq(r.kind, HVT_ENTRY);
	model_close(&m);
}

Test(model, model_get_past_the_end_is_all_zero)
{
	char p[256];
	struct model m;
	write_n(tmp_path(p, sizeof p, "n.hvt"), 3);
	open_ok(&m, p, 0);
	struct hvt_record r;
	memset(&r, 0xAA, sizeof r);
	model_get(&m, 3, &r); /* count is 3: index 3 does not exist */
	struct hvt_record zero;
	memset(&zero, 0, sizeof zero);
	cr_assert_eq(memcmp(&r, &zero, sizeof r), 0);
	memset(&r, 0xAA, sizeof r);
	model_get(&m, MODEL_NONE, &r);
	cr_assert_eq(memcmp(&r, &zero, sizeof r), 0);
	model_close(&m);
}

Test(model, header_only_trace_opens_with_no_records)
{
	char p[256];
	struct model m;
	write_n(tmp_path(p, sizeof p, "empty-run.hvt"), 0);
	open_ok(&m, p, 0);
	cr_assert_eq(m.count, 0);
	cr_assert_null(m.map); /* model.h: NULL when the file has no records */
	cr_assert_eq(m.stats.last_ns, 0);
	model_close(&m);
}

/* ---- model_find ---- */

static int is_exit(const struct hvt_record *r, void *arg)
{
	(void)arg;
	return r->kind == HVT_EXIT;
}

static int addr_is(const struct hvt_record *r, void *arg)
{
	return r->kind == HVT_EXIT && r->addr == *(const uint64_t *)arg;
}

/* In the reference trace the exits are seq 2, 6 and 15. */
Test(model, find_forward_is_exclusive_and_starts_before_record_zero)
{
	char p[256];
	struct model m;
	write_reference(tmp_path(p, sizeof p, "ref.hvt"));
	open_ok(&m, p, 0);
	cr_assert_eq(model_find(&m, MODEL_NONE, +1, is_exit, NULL), 2);
	cr_assert_eq(model_find(&m, 2, +1, is_exit, NULL), 6);
	cr_assert_eq(model_find(&m, 6, +1, is_exit, NULL), 15);
	cr_assert_eq(model_find(&m, 15, +1, is_exit, NULL), MODEL_NONE);
	cr_assert_eq(model_find(&m, REF_N - 1, +1, is_exit, NULL), MODEL_NONE);
	model_close(&m);
}

Test(model, find_backward_is_exclusive_and_none_starts_after_the_end)
{
	char p[256];
	struct model m;
	write_reference(tmp_path(p, sizeof p, "ref.hvt"));
	open_ok(&m, p, 0);
	cr_assert_eq(model_find(&m, MODEL_NONE, -1, is_exit, NULL), 15);
	cr_assert_eq(model_find(&m, 15, -1, is_exit, NULL), 6);
	cr_assert_eq(model_find(&m, 6, -1, is_exit, NULL), 2);
	cr_assert_eq(model_find(&m, 2, -1, is_exit, NULL), MODEL_NONE);
	cr_assert_eq(model_find(&m, 0, -1, is_exit, NULL), MODEL_NONE);
	model_close(&m);
}

Test(model, find_passes_its_argument_to_the_matcher)
{
	char p[256];
	struct model m;
	write_reference(tmp_path(p, sizeof p, "ref.hvt"));
	open_ok(&m, p, 0);
	uint64_t notify = HV_MMIO_VIRTIO_BLK + 0x50, ata = HV_PORT_ATA_CMD;
	cr_assert_eq(model_find(&m, MODEL_NONE, +1, addr_is, &notify), 6);
	cr_assert_eq(model_find(&m, MODEL_NONE, -1, addr_is, &notify), 6);
	cr_assert_eq(model_find(&m, MODEL_NONE, +1, addr_is, &ata), MODEL_NONE);
	model_close(&m);
}

/* ---- bad input: every refusal names the file and says why ---- */

/* Open must fail with a message containing `want`, and leave the model closed. */
static void open_fails(const char *path, int live, const char *want)
{
	struct model m;
	char err[512] = "";
	cr_assert_eq(model_open(&m, path, live, err, sizeof err), -1, "opened '%s'", path);
	cr_assert(strstr(err, want) != NULL, "message \"%s\" lacks \"%s\"", err, want);
	cr_assert(strstr(err, path) != NULL, "message \"%s\" does not name the file", err);
	cr_assert_eq(m.fd, -1);
	cr_assert_null(m.map);
	cr_assert_eq(m.count, 0);
	model_close(&m); /* closing after a failed open is allowed */
}

Test(model, missing_file_says_no_such_file)
{
	char p[256], want[400];
	tmp_path(p, sizeof p, "missing.hvt");
	snprintf(want, sizeof want, "cannot open '%s': No such file or directory", p);
	open_fails(p, 0, want);
}

Test(model, text_file_is_not_a_trace_with_the_fix)
{
	char p[256], want[400];
	const char text[] = "these are my notes, not a trace\n";
	append(tmp_path(p, sizeof p, "notes.txt"), text, sizeof text - 1);
	/* style.md's example, word for word. */
	snprintf(want, sizeof want, "'%s' is not an hvlab trace (bad magic); record one with "
		 "'hv run --trace FILE'", p);
	open_fails(p, 0, want);
}

Test(model, empty_file_says_empty)
{
	char p[256];
	append(tmp_path(p, sizeof p, "empty.hvt"), "", 0);
	open_fails(p, 0, "is empty");
	open_fails(p, 1, "is empty");
}

Test(model, directory_says_directory)
{
	char p[256];
	cr_assert_eq(mkdir(tmp_path(p, sizeof p, "dir.hvt"), 0755), 0);
	open_fails(p, 0, "is a directory");
}

Test(model, fifo_is_refused_without_blocking)
{
	char p[256];
	/* open(O_RDONLY) of a FIFO with no writer would wait forever; the test would hang. */
	cr_assert_eq(mkfifo(tmp_path(p, sizeof p, "pipe.hvt"), 0644), 0);
	open_fails(p, 0, "is not a regular file");
}

/*
 * Root reads a mode-000 file, so as root the open runs in a child that has given up root for
 * user nobody (65534): the same EACCES a student sees, tested on CI too (which runs as root).
 */
static int open_as_nobody_fails_with_eacces(const char *path)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct model m;
		char err[512] = "";
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		int rc = model_open(&m, path, 0, err, sizeof err);
		_exit(rc == -1 && strstr(err, "Permission denied") && strstr(err, path) ? 0 : 1);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

Test(model, unreadable_file_says_permission_denied)
{
	char p[256];
	write_n(tmp_path(p, sizeof p, "secret.hvt"), 1);
	cr_assert_eq(chmod(p, 0), 0);
	if (geteuid() != 0) {
		open_fails(p, 0, "Permission denied");
		return;
	}
	/* nobody must reach the file: the test directory is root's own (mode 0700). */
	char dir[256];
	snprintf(dir, sizeof dir, "%s", p);
	*strrchr(dir, '/') = '\0';
	cr_assert_eq(chmod(dir, 0711), 0);
	cr_assert_eq(open_as_nobody_fails_with_eacces(p), 0,
		     "as user nobody, the open did not fail with 'Permission denied' naming the file");
}

Test(model, short_header_is_too_short)
{
	char p[256];
	/* The right magic, then 10 of the header's other 120 bytes: 18 bytes in all. */
	append(tmp_path(p, sizeof p, "short.hvt"), "HVLTRACE\3\0\0\0\0\0\0\0\0\0", 18);
	open_fails(p, 0, "too short for an hvlab trace: 18 bytes, the header alone is 128");
}

Test(model, truncated_record_is_refused_unless_live)
{
	char p[256], want[400];
	write_n(tmp_path(p, sizeof p, "trunc.hvt"), 2);
	append(p, "0123456789", 10);
	/* 128 + 2 * 64 + 10 bytes: records 0 and 1 whole, then 10 bytes of record 2. */
	snprintf(want, sizeof want, "'%s': truncated: 10 bytes after the last whole record "
		 "(record 2)", p);
	open_fails(p, 0, want);
	/* Live, the same bytes are a record hv has not finished writing: 2 records, no error. */
	struct model m;
	open_ok(&m, p, 1);
	cr_assert_eq(m.count, 2);
	model_close(&m);
}

Test(model, unknown_version_is_refused)
{
	char p[256];
	write_n(tmp_path(p, sizeof p, "v9.hvt"), 1);
	poke(p, 8, 9, 4); /* header offset 8: uint32 version */
	open_fails(p, 0, "unknown version 9 (this program reads versions 1 to 4)");
}

Test(model, bad_record_size_in_header_is_refused)
{
	char p[256];
	write_n(tmp_path(p, sizeof p, "rs.hvt"), 1);
	poke(p, 12, 32, 4); /* header offset 12: uint32 record_size */
	open_fails(p, 0, "bad record_size 32");
}

Test(model, record_with_wrong_seq_stops_the_open)
{
	char p[256];
	write_n(tmp_path(p, sizeof p, "seq.hvt"), 3);
	poke(p, HVT_HEADER_SIZE + 1 * HVT_RECORD_SIZE, 5, 8); /* record 1's seq becomes 5 */
	open_fails(p, 0, "record 1: seq 5, expected 1");
}

Test(model, record_of_zeros_stops_the_open)
{
	char p[256];
	write_n(tmp_path(p, sizeof p, "zero.hvt"), 3);
	/* Record 2's kind (offset 18 of the record) set to 0: a hole a crash might leave. */
	poke(p, HVT_HEADER_SIZE + 2 * HVT_RECORD_SIZE + 18, 0, 1);
	open_fails(p, 0, "record 2: unknown kind 0");
}

/* ---- live mode ---- */

/*
 * full.hvt: 6 records from the writer. live.hvt starts as its first 3 records plus 20 bytes
 * of the 4th, as if hv's write were caught half-way; then grows to the full 6.
 */
Test(model, live_ignores_a_partial_record_and_refresh_picks_up_the_rest)
{
	char full[256], live[256];
	write_n(tmp_path(full, sizeof full, "full.hvt"), 6);
	size_t len;
	uint8_t *bytes = slurp(full, &len);
	cr_assert_eq(len, HVT_HEADER_SIZE + 6 * HVT_RECORD_SIZE);
	size_t first = HVT_HEADER_SIZE + 3 * HVT_RECORD_SIZE + 20;
	append(tmp_path(live, sizeof live, "live.hvt"), bytes, first);

	struct model m;
	char err[512] = "";
	open_ok(&m, live, 1);
	cr_assert_eq(m.count, 3);
	cr_assert_eq(model_refresh(&m, err, sizeof err), 0, "nothing whole was added: %s", err);

	append(live, bytes + first, len - first);
	cr_assert_eq(model_refresh(&m, err, sizeof err), 3, "refresh: %s", err);
	cr_assert_eq(m.count, 6);
	cr_assert_eq(m.stats.by_kind[HVT_RUN_CALL], 6);
	struct hvt_record r;
	model_get(&m, 5, &r);
	cr_assert_eq(r.seq, 5);
	cr_assert_eq(r.time_ns, 50); /* write_n: record i at time 10 * i */
	cr_assert_eq(m.stats.last_ns, 50);
	cr_assert_eq(m.vq.fed, 6);
	cr_assert_eq(model_refresh(&m, err, sizeof err), 0);
	model_close(&m);
	free(bytes);
}

Test(model, live_refresh_maps_a_file_that_had_no_records)
{
	char full[256], live[256];
	write_n(tmp_path(full, sizeof full, "full.hvt"), 2);
	size_t len;
	uint8_t *bytes = slurp(full, &len);
	append(tmp_path(live, sizeof live, "live.hvt"), bytes, HVT_HEADER_SIZE);
	struct model m;
	char err[512] = "";
	open_ok(&m, live, 1);
	cr_assert_eq(m.count, 0);
	append(live, bytes + HVT_HEADER_SIZE, len - HVT_HEADER_SIZE);
	cr_assert_eq(model_refresh(&m, err, sizeof err), 2, "refresh: %s", err);
	struct hvt_record r;
	model_get(&m, 1, &r);
	cr_assert_eq(r.seq, 1);
	cr_assert_eq(r.kind, HVT_RUN_CALL);
	model_close(&m);
	free(bytes);
}

Test(model, live_refresh_rereads_dropped_from_the_header)
{
	char p[256], err[512] = "";
	write_n(tmp_path(p, sizeof p, "drop.hvt"), 2);
	struct model m;
	open_ok(&m, p, 1);
	cr_assert_eq(m.header.dropped, 0);
	poke(p, 96, 7, 8); /* what trace_close writes at offset 96 after --trace-limit */
	cr_assert_eq(model_refresh(&m, err, sizeof err), 0, "refresh: %s", err);
	cr_assert_eq(m.header.dropped, 7);
	model_close(&m);
}

Test(model, live_refresh_refuses_a_bad_new_record_and_keeps_the_good_ones)
{
	char p[256], err[512] = "";
	write_n(tmp_path(p, sizeof p, "bad.hvt"), 2);
	struct model m;
	open_ok(&m, p, 1);
	/* Record 2 claims seq 9. */
	uint8_t r[HVT_RECORD_SIZE] = { 0 };
	put_le(r, 9, 8);
	r[18] = HVT_RUN_CALL;
	append(p, r, sizeof r);
	cr_assert_eq(model_refresh(&m, err, sizeof err), -1);
	cr_assert(strstr(err, "record 2: seq 9, expected 2") != NULL, "message: %s", err);
	cr_assert_eq(m.count, 2);
	model_close(&m);
}

Test(model, live_refresh_notices_a_file_that_got_shorter)
{
	char p[256], err[512] = "";
	write_n(tmp_path(p, sizeof p, "short.hvt"), 4);
	struct model m;
	open_ok(&m, p, 1);
	cr_assert_eq(truncate(p, HVT_HEADER_SIZE + HVT_RECORD_SIZE), 0);
	cr_assert_eq(model_refresh(&m, err, sizeof err), -1);
	cr_assert(strstr(err, "got shorter") != NULL, "message: %s", err);
	model_close(&m);
}

/* ---- a trace cut shorter while it is mapped (fileguard.h) ---- */

/*
 * The records past the new end of a truncated file are gone from the mapping: reading one
 * raises SIGBUS. These tests do it for real in a child process (the child may die, the test
 * must not): open a trace, cut it to one page, read the last record. With the guard the child
 * comes back through its sigsetjmp point and exits with status 2, as hvviz's main does; the
 * parent checks it was an exit and not a signal. Which reader touches the page does not
 * matter: model_get (drawing a screen) and model_find (a search) are both tried.
 */
enum read_how { READ_GET, READ_FIND };

static int never_matches(const struct hvt_record *r, void *arg)
{
	(void)r;
	(void)arg;
	return 0;
}

/* In the child: open path, cut it, read through the model. Exit 2 if the guard jumped back
 * and named the file, 3 if it named another, 0 if the read did not fault at all. */
static void child_reads_cut_trace(const char *path, enum read_how how)
{
	static struct model m;
	static struct model *mp[1] = { &m };
	char err[512];
	if (model_open(&m, path, 0, err, sizeof err) < 0)
		_exit(4);
	if (truncate(path, 4096) < 0)
		_exit(5);
	if (sigsetjmp(fileguard_jump, 1))
		_exit(strcmp(fileguard_path(), path) == 0 ? 2 : 3);
	fileguard_watch(mp, 1);
	struct hvt_record r;
	if (how == READ_GET)
		model_get(&m, m.count - 1, &r);
	else
		model_find(&m, MODEL_NONE, +1, never_matches, NULL);
	_exit(0);
}

/* Fork, run fn's reading in the child, return its wait status. No core file from a crash. */
static int in_child(const char *path, enum read_how how)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		child_reads_cut_trace(path, how);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void assert_caught(int st)
{
	cr_assert(!WIFSIGNALED(st), "the child died of signal %d (%s)", WTERMSIG(st),
		  strsignal(WTERMSIG(st)));
	cr_assert(WIFEXITED(st));
	cr_assert_neq(WEXITSTATUS(st), 0, "reading past the new end did not fault: the test "
		      "proves nothing");
	cr_assert_eq(WEXITSTATUS(st), 2, "child status %d (3: wrong file named, 4/5: setup)",
		      WEXITSTATUS(st));
}

/* 20000 records = 1.25 MB: the last record is far past the 4096 bytes left. */
Test(model, a_record_read_after_the_file_was_cut_is_caught_not_fatal)
{
	char p[256];
	write_n(tmp_path(p, sizeof p, "cut.hvt"), 20000);
	assert_caught(in_child(p, READ_GET));
}

Test(model, a_search_after_the_file_was_cut_is_caught_not_fatal)
{
	char p[256];
	write_n(tmp_path(p, sizeof p, "cut.hvt"), 20000);
	assert_caught(in_child(p, READ_FIND));
}

/*
 * The guard catches only faults inside a watched trace's mapping. A bus error anywhere else
 * is a bug, and swallowing it would hide the bug: the child must still die of SIGBUS. Here
 * the fault is on a mapping of another file, cut the same way, while a trace is watched.
 */
Test(model, a_bus_error_outside_the_traces_is_still_fatal)
{
	char p[256], other[256];
	write_n(tmp_path(p, sizeof p, "watched.hvt"), 10);
	write_n(tmp_path(other, sizeof other, "other.bin"), 1000);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		static struct model m;
		static struct model *mp[1] = { &m };
		char err[512];
		int fd = open(other, O_RDONLY);
		const volatile uint8_t *q = mmap(NULL, 65536, PROT_READ, MAP_SHARED, fd, 0);
		if (model_open(&m, p, 0, err, sizeof err) < 0 || q == MAP_FAILED ||
		    truncate(other, 0) < 0)
			_exit(4);
		if (sigsetjmp(fileguard_jump, 1))
			_exit(2);
		fileguard_watch(mp, 1);
		_exit(q[40000] == 0x55 ? 0 : 1); /* faults: byte 40000 is past the new end */
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st), "the child must die of the signal, not exit (status %d)",
		  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	cr_assert_eq(WTERMSIG(st), SIGBUS);
}

/* ---- memory: the scan does not keep the file resident ---- */

/* RssFile from /proc/self/status, in KiB: file pages mapped into this process right now. */
static long rss_file_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "RssFile: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/*
 * 1,048,576 records = 64 MiB of file, all in the page cache (just written). Mapped and read
 * without madvise, every page would stay mapped: RssFile would grow by 64 MiB. With the
 * chunked scan only the last 16 MiB chunk's pages can still be mapped during the scan and
 * none after it, so growth must stay under 24 MiB (one chunk plus slack for read-around);
 * the same after a search that reads every record.
 */
Test(model, open_and_full_search_do_not_keep_the_file_resident)
{
	char p[256];
	write_n(tmp_path(p, sizeof p, "big.hvt"), 1u << 20);
	long before = rss_file_kib();
	if (before < 0)
		cr_skip_test("no RssFile in /proc/self/status (kernel older than 4.5)");
	struct model m;
	open_ok(&m, p, 0);
	cr_assert_eq(m.count, 1u << 20);
	long after_open = rss_file_kib();
	cr_assert_lt(after_open - before, 24 * 1024, "open left %ld KiB of the file mapped",
		     after_open - before);
	cr_assert_eq(model_find(&m, MODEL_NONE, +1, is_exit, NULL), MODEL_NONE);
	long after_find = rss_file_kib();
	cr_assert_lt(after_find - before, 24 * 1024, "search left %ld KiB of the file mapped",
		     after_find - before);
	model_close(&m);
}

/*
 * Reading the first 131072 records (8 MiB of file) one by one maps at least those 8 MiB; after
 * model_trim less than 1 MiB more than before the reads may stay mapped, and a record read
 * afterwards is still right (the mapping itself is intact).
 */
Test(model, trim_gives_back_what_reading_mapped)
{
	char p[256];
	write_n(tmp_path(p, sizeof p, "trim.hvt"), 1u << 18);
	struct model m;
	open_ok(&m, p, 0);
	long before = rss_file_kib();
	if (before < 0)
		cr_skip_test("no RssFile in /proc/self/status (kernel older than 4.5)");
	uint64_t sum = 0;
	for (uint64_t i = 0; i < (1u << 17); i++) {
		struct hvt_record r;
		model_get(&m, i, &r);
		sum += r.seq;
	}
	cr_assert_eq(sum, (uint64_t)(1u << 17) * ((1u << 17) - 1) / 2); /* 0 + 1 + ... + n-1 */
	long read = rss_file_kib();
	cr_assert_geq(read - before, 8 * 1024 - 64, "reading mapped only %ld KiB", read - before);
	model_trim(&m);
	long trimmed = rss_file_kib();
	cr_assert_lt(trimmed - before, 1024, "trim left %ld KiB mapped", trimmed - before);
	struct hvt_record r;
	model_get(&m, 12345, &r);
	cr_assert_eq(r.seq, 12345);
	cr_assert_eq(r.time_ns, 123450);
	model_close(&m);
}

/* ---- which device an exit was for ---- */

/*
 * Both ends of every device's range and the first address past it, from hv/layout.h and
 * the device lengths hv registers (UART 8 ports, ATA 8 + 1, PIC 2 + 2, ELCR 2, PIT 4, exit
 * 0xF4-0xF7, testdev 4 ports + one 4 KiB page, virtio-mmio 0x200 bytes, trace page 4 ports).
 */
Test(model, device_of_classifies_every_port_and_window)
{
	static const struct {
		uint8_t reason;
		uint64_t addr;
		uint32_t flags;
		enum viz_dev want;
	} cases[] = {
		{ HVT_R_IO, 0x3F8, 0, VIZ_DEV_UART },      { HVT_R_IO, 0x3FF, 0, VIZ_DEV_UART },
		{ HVT_R_IO, 0x3F7, 0, VIZ_DEV_UNCLAIMED }, { HVT_R_IO, 0x400, 0, VIZ_DEV_UNCLAIMED },
		{ HVT_R_IO, 0x1F0, 0, VIZ_DEV_ATA },       { HVT_R_IO, 0x1F7, 0, VIZ_DEV_ATA },
		{ HVT_R_IO, 0x1F8, 0, VIZ_DEV_UNCLAIMED }, { HVT_R_IO, 0x3F6, 0, VIZ_DEV_ATA },
		{ HVT_R_IO, 0x3F5, 0, VIZ_DEV_UNCLAIMED },
		{ HVT_R_IO, 0x20, 0, VIZ_DEV_PIC },        { HVT_R_IO, 0x21, 0, VIZ_DEV_PIC },
		{ HVT_R_IO, 0x22, 0, VIZ_DEV_UNCLAIMED },  { HVT_R_IO, 0xA0, 0, VIZ_DEV_PIC },
		{ HVT_R_IO, 0xA1, 0, VIZ_DEV_PIC },        { HVT_R_IO, 0x4D0, 0, VIZ_DEV_PIC },
		{ HVT_R_IO, 0x4D1, 0, VIZ_DEV_PIC },       { HVT_R_IO, 0x4D2, 0, VIZ_DEV_UNCLAIMED },
		{ HVT_R_IO, 0x40, 0, VIZ_DEV_PIT },        { HVT_R_IO, 0x43, 0, VIZ_DEV_PIT },
		{ HVT_R_IO, 0x44, 0, VIZ_DEV_UNCLAIMED },
		{ HVT_R_IO, 0xF4, 0, VIZ_DEV_EXIT },       { HVT_R_IO, 0xF7, 0, VIZ_DEV_EXIT },
		{ HVT_R_IO, 0xE9, 0, VIZ_DEV_DEBUGCON },   { HVT_R_IO, 0xEA, 0, VIZ_DEV_UNCLAIMED },
		{ HVT_R_IO, 0x500, 0, VIZ_DEV_TESTDEV },   { HVT_R_IO, 0x503, 0, VIZ_DEV_TESTDEV },
		{ HVT_R_IO, 0x504, 0, VIZ_DEV_UNCLAIMED },
		{ HVT_R_IO, HV_PORT_PVTRACE, 0, VIZ_DEV_PVTRACE },
		{ HVT_R_IO, 0x80, 0, VIZ_DEV_STEPTRAP },   { HVT_R_IO, 0x81, 0, VIZ_DEV_UNCLAIMED },
		/* hv's own verdict wins: a UART port the bus found no owner for is unclaimed. */
		{ HVT_R_IO, 0x3F8, HVT_F_UNCLAIMED, VIZ_DEV_UNCLAIMED },
		{ HVT_R_MMIO, 0xD0001000, 0, VIZ_DEV_VIRTIO_BLK },
		{ HVT_R_MMIO, 0xD00011FF, 0, VIZ_DEV_VIRTIO_BLK },
		{ HVT_R_MMIO, 0xD0001200, 0, VIZ_DEV_UNCLAIMED },
		{ HVT_R_MMIO, 0xD0000000, 0, VIZ_DEV_TESTDEV },
		{ HVT_R_MMIO, 0xD0000FFF, 0, VIZ_DEV_TESTDEV },
		{ HVT_R_MMIO, 0xCFFFFFFF, 0, VIZ_DEV_UNCLAIMED },
		/* Port and memory are separate address spaces: MMIO 0x3F8 is not the UART. */
		{ HVT_R_MMIO, 0x3F8, 0, VIZ_DEV_UNCLAIMED },
		{ HVT_R_MMIO, 0xD0001000, HVT_F_UNCLAIMED, VIZ_DEV_UNCLAIMED },
		{ HVT_R_HLT, 0x3F8, 0, VIZ_DEV_NONE },
		{ HVT_R_DEBUG, 0, 0, VIZ_DEV_NONE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct hvt_record r = exit_rec(cases[i].reason, cases[i].addr, cases[i].flags, 0, 0);
		cr_assert_eq(viz_device_of(&r), cases[i].want, "%s 0x%llx flags %u: got %s, want %s",
			     hvt_reason_name(cases[i].reason), (unsigned long long)cases[i].addr,
			     cases[i].flags, viz_device_name(viz_device_of(&r)),
			     viz_device_name(cases[i].want));
	}
}

Test(model, device_of_ignores_records_that_are_not_exits)
{
	/* A virtqueue record's addr is a ring address; even one equal to a port is no device. */
	struct hvt_record r = rec(HVT_VQ, HVT_VQ_NOTIFY, 0);
	r.addr = HV_MMIO_VIRTIO_BLK + 0x50;
	cr_assert_eq(viz_device_of(&r), VIZ_DEV_NONE);
	r = rec(HVT_RUN_RETURN, HVT_R_IO, 0);
	r.addr = HV_PORT_UART0;
	cr_assert_eq(viz_device_of(&r), VIZ_DEV_NONE);
}

Test(model, device_names_are_the_documented_words)
{
	/* port 0x61 belongs to the timer, the two i8042 ports to one device */
	struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_IO, .addr = HV_PORT_PORT61 };
	cr_assert_eq(viz_device_of(&r), VIZ_DEV_PIT);
	r.addr = HV_PORT_I8042_CMD;
	cr_assert_eq(viz_device_of(&r), VIZ_DEV_I8042);
	r.addr = HV_PORT_RTC + 1;
	cr_assert_eq(viz_device_of(&r), VIZ_DEV_RTC);
	r.addr = HV_PORT_ACPI_PM1 + 5; /* the PM1 control register's high byte */
	cr_assert_eq(viz_device_of(&r), VIZ_DEV_ACPIPM);
	r.addr = 0x62; /* between the controller's two ports: nobody */
	cr_assert_eq(viz_device_of(&r), VIZ_DEV_UNCLAIMED);
	static const char *const want[VIZ_DEV_MAX] = {
		"-", "uart", "ata", "virtio-blk", "pic", "pit", "exit", "debugcon", "testdev",
		"pvtrace", "steptrap", "rtc", "i8042", "acpi-pm1", "unclaimed",
	};
	for (int d = 0; d < VIZ_DEV_MAX; d++)
		cr_assert_str_eq(viz_device_name((enum viz_dev)d), want[d], "device %d", d);
	cr_assert_str_eq(viz_device_name(VIZ_DEV_MAX), "?");
}

/* ---- a real trace: the model agrees with hv's own reader ---- */

/*
 * tests/viz/traces/diskio-virtio.hvt is a checked-in recording of the diskio guest through
 * virtio-blk (tests/viz/traces/README.md). The
 * model's totals must equal what trace_load's records add up to, the numbers `hv trace stats`
 * prints from the same records ("exits seen by hv", the reason table, the duration).
 */
Test(model, real_virtio_trace_matches_hvs_reader)
{
	const char *path = "tests/viz/traces/diskio-virtio.hvt";
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(path, &tf, err, sizeof err), 0, "trace_load: %s", err);
	struct model m;
	open_ok(&m, path, 0);
	cr_assert_eq(m.count, tf.count);
	uint64_t kinds[HVT_KIND_MAX + 1] = { 0 }, reasons[HVT_REASON_MAX + 1] = { 0 };
	uint64_t hv_ns[HVT_REASON_MAX + 1] = { 0 }, virtio = 0, last = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *r = &tf.records[i];
		kinds[r->kind]++;
		if (r->time_ns > last)
			last = r->time_ns;
		if (r->kind != HVT_EXIT)
			continue;
		reasons[r->reason]++;
		hv_ns[r->reason] += r->duration_ns;
		if (r->reason == HVT_R_MMIO && !(r->flags & HVT_F_UNCLAIMED) &&
		    r->addr >= 0xD0001000 && r->addr < 0xD0001200)
			virtio++;
	}
	for (int k = 0; k <= HVT_KIND_MAX; k++)
		cr_assert_eq(m.stats.by_kind[k], kinds[k], "kind %d", k);
	for (int r = 0; r <= HVT_REASON_MAX; r++) {
		cr_assert_eq(m.stats.exits_by_reason[r], reasons[r], "reason %d", r);
		cr_assert_eq(m.stats.hv_ns_by_reason[r], hv_ns[r], "reason %d", r);
	}
	cr_assert_gt(virtio, 0, "a virtio trace has doorbell exits");
	cr_assert_eq(m.stats.exits_by_device[VIZ_DEV_VIRTIO_BLK], virtio);
	cr_assert_eq(m.stats.last_ns, last);
	/* Every record round-trips through the mapping exactly as trace_load decoded it. */
	for (uint64_t i = 0; i < tf.count; i++) {
		struct hvt_record r;
		model_get(&m, i, &r);
		cr_assert_eq(memcmp(&r, &tf.records[i], sizeof r), 0, "record %llu",
			     (unsigned long long)i);
	}
	model_close(&m);
	trace_free(&tf);
}
