/*
 * test_disk.c - unit tests for the disk image backend (hv/disk.c): ranges, cache modes, flush.
 *
 * What these prove: a transfer reaches exactly the bytes of the file it names, in every cache
 * mode; a range past the end (or wrapping 2^64) transfers nothing; the file never grows
 * (textbook appendix C, B3, L3, B13); a FLUSH becomes fdatasync except in cache=unsafe;
 * each system call is one HVT_DISK trace record. Textbook: chapter 4 "Two I/O paths", section
 * "Cache modes".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "layout.h"
#include "trace_read.h"
#include "trace_write.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/hvdisk-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(disk, .init = setup, .fini = teardown);

/* An image of `sectors` sectors where byte i of the file is (i * 3 + 1) & 0xFF. */
static const char *make_image(const char *name, uint64_t sectors, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	for (uint64_t i = 0; i < sectors * 512; i++)
		fputc((int)((i * 3 + 1) & 0xFF), f);
	cr_assert_eq(fclose(f), 0);
	return path;
}

static off_t file_size(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	return st.st_size;
}

static void open_ok(struct disk *d, const char *path, enum disk_cache cache, bool ro)
{
	char err[256];
	int rc = disk_open(d, path, cache, ro, err, sizeof err);
	cr_assert_eq(rc, 0, "disk_open: %s", err);
}

Test(disk, capacity_is_file_size_over_512)
{
	char path[128];
	struct disk d;
	open_ok(&d, make_image("a.img", 16, path, sizeof path), DISK_WRITEBACK, false);
	cr_assert_eq(d.sectors, 16);
	cr_assert_eq(strlen(d.serial), 20); /* the ID field of ATA and virtio-blk is 20 bytes */
	disk_close(&d);
}

Test(disk, read_returns_the_file_bytes)
{
	char path[128];
	struct disk d;
	uint8_t buf[1024];
	open_ok(&d, make_image("a.img", 8, path, sizeof path), DISK_WRITEBACK, false);
	cr_assert_eq(disk_read(&d, 3, buf, 2), 0);
	for (unsigned i = 0; i < sizeof buf; i++)
		cr_assert_eq(buf[i], (uint8_t)(((3 * 512 + i) * 3 + 1) & 0xFF), "byte %u", i);
	cr_assert_eq(d.reads, 1);
	cr_assert_eq(d.bytes_read, 1024);
	disk_close(&d);
}

/* Write through every mode, then read the file with the host's own read(): the data is there
 * and nothing around it moved. cache=none goes through the O_DIRECT bounce buffer. */
static void write_round_trip(enum disk_cache cache)
{
	char path[128];
	struct disk d;
	char err[256];
	make_image("w.img", 8, path, sizeof path);
	if (disk_open(&d, path, cache, false, err, sizeof err) < 0) {
		/* Only O_DIRECT may be refused, by a file system without it (tmpfs before 6.6). */
		cr_assert_eq(cache, DISK_NONE, "%s", err);
		cr_assert(strstr(err, "O_DIRECT") != NULL, "%s", err);
		cr_log_warn("cache=none skipped: %s", err);
		return;
	}
	uint8_t out[512];
	memset(out, 0xA5, sizeof out);
	cr_assert_eq(disk_write(&d, 5, out, 1), 0);
	disk_close(&d);

	int fd = open(path, O_RDONLY);
	uint8_t back[8 * 512];
	cr_assert_eq(read(fd, back, sizeof back), (ssize_t)sizeof back);
	close(fd);
	for (unsigned i = 0; i < sizeof back; i++) {
		uint8_t want = (i >= 5 * 512 && i < 6 * 512) ? 0xA5 : (uint8_t)((i * 3 + 1) & 0xFF);
		cr_assert_eq(back[i], want, "cache=%s byte %u", disk_cache_name(cache), i);
	}
}

Test(disk, write_reaches_the_file_writeback) { write_round_trip(DISK_WRITEBACK); }
Test(disk, write_reaches_the_file_writethrough) { write_round_trip(DISK_WRITETHROUGH); }
Test(disk, write_reaches_the_file_none) { write_round_trip(DISK_NONE); }
Test(disk, write_reaches_the_file_unsafe) { write_round_trip(DISK_UNSAFE); }

/* B3/L3: sector + nsect past the end, or wrapping 2^64, transfers nothing. */
Test(disk, B3_range_beyond_capacity_or_wrapping_is_refused)
{
	char path[128];
	struct disk d;
	uint8_t buf[512] = { 0 };
	open_ok(&d, make_image("r.img", 8, path, sizeof path), DISK_WRITEBACK, false);
	cr_assert(disk_range_ok(&d, 0, 8));
	cr_assert(disk_range_ok(&d, 8, 0));
	cr_assert_not(disk_range_ok(&d, 7, 2));
	cr_assert_not(disk_range_ok(&d, 9, 0));
	cr_assert_not(disk_range_ok(&d, UINT64_MAX, 2)); /* UINT64_MAX + 2 wraps to 1 */
	cr_assert_not(disk_range_ok(&d, 1, UINT64_MAX));
	cr_assert_eq(disk_read(&d, UINT64_MAX, buf, 2), -ERANGE);
	cr_assert_eq(disk_write(&d, 8, buf, 1), -ERANGE);
	cr_assert_eq(d.reads + d.writes, 0);
	disk_close(&d);
}

/* B13: whatever the guest does, the image keeps its size. */
Test(disk, B13_guest_writes_never_grow_the_image)
{
	char path[128];
	struct disk d;
	uint8_t buf[512] = { 0 };
	open_ok(&d, make_image("g.img", 8, path, sizeof path), DISK_WRITEBACK, false);
	cr_assert_eq(disk_write(&d, 7, buf, 1), 0);   /* the last sector: fine */
	cr_assert_eq(disk_write(&d, 8, buf, 1), -ERANGE);
	cr_assert_eq(disk_write(&d, 1ull << 60, buf, 1), -ERANGE);
	disk_close(&d);
	cr_assert_eq(file_size(path), 8 * 512);
}

/* B9: a read-only disk refuses writes before any system call; the file is opened O_RDONLY. */
Test(disk, B9_read_only_disk_refuses_writes)
{
	char path[128];
	struct disk d;
	uint8_t buf[512] = { 0 };
	open_ok(&d, make_image("ro.img", 8, path, sizeof path), DISK_WRITEBACK, true);
	cr_assert_eq(disk_write(&d, 0, buf, 1), -EROFS);
	cr_assert_eq(disk_read(&d, 0, buf, 1), 0);
	cr_assert_eq(buf[1], 4); /* byte 1 = 1 * 3 + 1 */
	disk_close(&d);
}

/* FLUSH = fdatasync, except in cache=unsafe, which ignores it by definition. */
Test(disk, flush_syncs_except_in_unsafe_mode)
{
	char path[128];
	struct disk d;
	make_image("f.img", 8, path, sizeof path);
	for (int c = DISK_WRITEBACK; c <= DISK_UNSAFE; c++) {
		char err[256];
		if (disk_open(&d, path, (enum disk_cache)c, false, err, sizeof err) < 0)
			continue; /* cache=none on a file system without O_DIRECT: see above */
		cr_assert_eq(disk_flush(&d), 0);
		cr_assert_eq(disk_flush(&d), 0);
		cr_assert_eq(d.flushes, 2);
		cr_assert_eq(d.syncs, c == DISK_UNSAFE ? 0u : 2u, "cache=%s",
			     disk_cache_name((enum disk_cache)c));
		disk_close(&d);
	}
}

Test(disk, cache_names_round_trip_and_unknown_is_refused)
{
	enum disk_cache c;
	cr_assert_eq(disk_cache_parse("writethrough", &c), 0);
	cr_assert_eq(c, DISK_WRITETHROUGH);
	cr_assert_str_eq(disk_cache_name(DISK_NONE), "none");
	cr_assert_eq(disk_cache_parse("directsync", &c), -1);
}

Test(disk, bad_images_get_a_reason_and_a_fix)
{
	char path[128], err[256];
	struct disk d;
	snprintf(path, sizeof path, "%s/absent.img", dir);
	cr_assert_eq(disk_open(&d, path, DISK_WRITEBACK, false, err, sizeof err), -1);
	cr_assert(strstr(err, "No such file or directory") && strstr(err, "truncate -s 1M"), "%s", err);
	/* 700 bytes: not a whole number of sectors */
	snprintf(path, sizeof path, "%s/odd.img", dir);
	FILE *f = fopen(path, "wb");
	for (int i = 0; i < 700; i++)
		fputc(0, f);
	fclose(f);
	cr_assert_eq(disk_open(&d, path, DISK_WRITEBACK, false, err, sizeof err), -1);
	cr_assert(strstr(err, "700 bytes") && strstr(err, "multiple of 512"), "%s", err);
}

Test(disk, scratch_disk_is_zeroed_sized_and_nameless)
{
	char err[256];
	struct disk d;
	setenv("TMPDIR", dir, 1);
	cr_assert_eq(disk_open_scratch(&d, HV_SCRATCH_DISK_MIB, DISK_WRITEBACK, err, sizeof err), 0,
		     "%s", err);
	cr_assert_eq(d.sectors, HV_SCRATCH_DISK_MIB * 2048u);
	uint8_t buf[512];
	memset(buf, 0x77, sizeof buf);
	cr_assert_eq(disk_read(&d, d.sectors - 1, buf, 1), 0);
	for (unsigned i = 0; i < sizeof buf; i++)
		cr_assert_eq(buf[i], 0);
	disk_close(&d);
	/* O_TMPFILE: the directory stays empty (only . and ..). */
	char cmd[160];
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Every system call is one HVT_DISK record: op, controller, offset, bytes, cache mode. */
Test(disk, each_transfer_is_one_trace_record)
{
	char path[128], tpath[160], err[256];
	struct disk d;
	uint8_t buf[1024] = { 0 };
	open_ok(&d, make_image("t.img", 8, path, sizeof path), DISK_WRITETHROUGH, false);
	snprintf(tpath, sizeof tpath, "%s/t.hvt", dir);
	d.trace = trace_create(tpath, HVT_HOST_UNKNOWN, "unit", err, sizeof err);
	cr_assert_not_null(d.trace, "%s", err);
	d.trace_dev = HVT_DISK_VIRTIO;
	d.trace_head = 7;
	cr_assert_eq(disk_write(&d, 2, buf, 2), 0);
	cr_assert_eq(disk_read(&d, 9, buf, 1), -ERANGE); /* refused before any call: no record */
	cr_assert_eq(disk_flush(&d), 0);
	cr_assert_eq(trace_close(d.trace, err, sizeof err), 0);
	disk_close(&d);

	struct trace_file tf;
	cr_assert_eq(trace_load(tpath, &tf, err, sizeof err), 0, "%s", err);
	cr_assert_eq(tf.count, 2);
	const struct hvt_record *w = &tf.records[0], *f = &tf.records[1];
	cr_assert_eq(w->kind, HVT_DISK);
	cr_assert_eq(w->reason, HVT_DISK_WRITE);
	cr_assert_eq(w->size, HVT_DISK_VIRTIO);
	cr_assert_eq(w->addr, 1024);  /* sector 2 * 512 */
	cr_assert_eq(w->data, 1024);  /* 2 sectors */
	cr_assert_eq(w->count, 7);
	cr_assert_eq(w->arg, DISK_WRITETHROUGH);
	cr_assert_eq(f->reason, HVT_DISK_FLUSH);
	cr_assert_eq(f->data, 1);     /* fdatasync ran */
	trace_free(&tf);
}
