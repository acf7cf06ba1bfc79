/*
 * test_lab5.c - lab 5's hidden tests (suite hidden5): the legacy ATA disk (hv/dev/ata.c) with
 * numbers a student cannot hard-code: random image sizes, random LBAs (up to bits 27-24, in
 * the drive/head register), random sector counts, random data. The seed comes from
 * getpid() ^ time and is printed in every failure message: HVLAB_SEED=<seed> reruns a failure.
 *
 * Two tests drive the controller's registers directly, as test_ata.c does (tests/unit), on a
 * sparse image file; the third runs the diskio guest through hv on an image full of random
 * bytes and judges by the exit status, the file and the trace, not by the guest's output.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../../tests/integration/harness.h"
#include "../../../guest/lib/diskpattern.h"
#include "bus.h"
#include "dev/ata.h"
#include "disk.h"
#include "layout.h"
#include "trace_read.h"

enum { DATA = 0, ERROR = 1, NSECT = 2, LBAL = 3, LBAM = 4, LBAH = 5, SELECT = 6, STATUS = 7,
       COMMAND = 7 };

static unsigned seed;
static uint64_t rng;

static void seed_init(void)
{
	const char *s = getenv("HVLAB_SEED");
	seed = s ? (unsigned)strtoul(s, NULL, 0) : (unsigned)getpid() ^ (unsigned)time(NULL);
	rng = seed * 0x9E3779B97F4A7C15ull + 1;
}

/* xorshift64*: uniform enough for test parameters. */
static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* A value in [lo, hi]. */
static uint32_t rnd_in(uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(((uint64_t)rnd() * ((uint64_t)hi - lo + 1)) >> 32);
}

/* ---- the controller behind a bus, on a sparse image of `sectors` sectors ---- */

static struct bus bus;
static struct disk d;
static struct ata *a;
static int fd = -1;

static void drive_open(uint64_t sectors)
{
	char err[256];
	const char *path = tmp_path("hidden5.img");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)(sectors * 512)), 0, "seed %u", seed);
	cr_assert_eq(disk_open(&d, path, DISK_WRITEBACK, false, err, sizeof err), 0, "%s", err);
	a = ata_create(&d);
	cr_assert_not_null(a);
	bus_init(&bus);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_ATA_CMD, ATA_CMD_LEN, &ata_cmd_ops, a), 0);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_ATA_CTL, ATA_CTL_LEN, &ata_ctl_ops, a), 0);
}

static void drive_close(void)
{
	ata_destroy(a);
	disk_close(&d);
	close(fd);
}

static uint8_t inb(unsigned reg)
{
	uint8_t v = 0;
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CMD + reg, &v, 1, false), BUS_OK);
	return v;
}

static void outb(unsigned reg, uint8_t v)
{
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CMD + reg, &v, 1, true), BUS_OK);
}

static uint16_t inw(void)
{
	uint8_t v[2];
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CMD, v, 2, false), BUS_OK);
	return (uint16_t)(v[0] | v[1] << 8);
}

static void outw(uint16_t w)
{
	uint8_t v[2] = { (uint8_t)w, (uint8_t)(w >> 8) };
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CMD, v, 2, true), BUS_OK);
}

/* An LBA28 command on the master, as guest/lib/ata.c issues it. count 256 is written as 0. */
static void issue(uint8_t cmd, uint32_t lba, uint32_t count)
{
	outb(SELECT, (uint8_t)(0xE0 | ((lba >> 24) & 0x0F)));
	outb(NSECT, (uint8_t)count);
	outb(LBAL, (uint8_t)lba);
	outb(LBAM, (uint8_t)(lba >> 8));
	outb(LBAH, (uint8_t)(lba >> 16));
	outb(COMMAND, cmd);
}

static uint32_t taskfile_lba(void)
{
	return (uint32_t)(inb(SELECT) & 0x0F) << 24 | (uint32_t)inb(LBAH) << 16 |
	       (uint32_t)inb(LBAM) << 8 | inb(LBAL);
}

static void file_get(uint32_t sector, uint8_t *buf)
{
	cr_assert_eq(pread(fd, buf, 512, (off_t)sector * 512), 512);
}

static int all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/*
 * WRITE SECTORS of a random pattern at a random LBA (its top nibble in the drive/head register
 * on a large sparse image), a random count 1-256, then READ SECTORS of the same range: the
 * file holds the pattern at exactly those sectors, the neighbours stay zero, the data port
 * gives the pattern back, and after each transfer the taskfile names the next sector with a
 * count of 0 (hv, like QEMU, writes the position back: ata.c, ata_set_position). A range
 * one sector past the end is IDNF and moves nothing.
 */
Test(hidden5, random_lba_and_count_write_then_read_through_the_registers)
{
	seed_init();
	uint64_t sectors = rnd_in(1u << 25, (1u << 28) - 2); /* 16-128 GiB, sparse */
	drive_open(sectors);
	static uint8_t want[256 * 512], got[512];
	/* Round r writes inside quarter r of the disk, away from its edges, so no range touches
	 * another's neighbours; quarter 3 lies above 2^24, where the drive/head nibble counts. */
	uint32_t quarter = (uint32_t)(sectors / 4);
	for (uint32_t round = 0; round < 4; round++) {
		uint32_t count = rnd_in(1, 256);
		uint32_t lba = rnd_in(round * quarter + 1, (round + 1) * quarter - 258);
		for (uint32_t i = 0; i < count * 512; i++)
			want[i] = (uint8_t)rnd();
		issue(0x30, lba, count);
		for (uint32_t s = 0; s < count; s++) {
			cr_assert_eq(inb(STATUS), 0x58, "seed %u: WRITE lba %u count %u: sector %u: "
				     "no DRQ", seed, lba, count, s);
			for (int w = 0; w < 256; w++)
				outw((uint16_t)(want[s * 512 + 2 * w] | want[s * 512 + 2 * w + 1] << 8));
		}
		cr_assert_eq(inb(STATUS), 0x50, "seed %u: WRITE lba %u count %u: not idle after the "
			     "last word", seed, lba, count);
		cr_assert_eq(taskfile_lba(), lba + count, "seed %u: position after WRITE", seed);
		cr_assert_eq(inb(NSECT), 0, "seed %u", seed);
		for (uint32_t s = 0; s < count; s++) {
			file_get(lba + s, got);
			cr_assert_arr_eq(got, want + s * 512, 512, "seed %u: WRITE lba %u count %u: "
					 "sector %u in the file", seed, lba, count, lba + s);
		}
		file_get(lba - 1, got);
		cr_assert(all_zero(got, 512), "seed %u: sector %u before the range was written",
			  seed, lba - 1);
		if (lba + count < sectors) {
			file_get(lba + count, got);
			cr_assert(all_zero(got, 512), "seed %u: sector %u after the range was written",
				  seed, lba + count);
		}

		issue(0x20, lba, count);
		for (uint32_t s = 0; s < count; s++) {
			cr_assert_eq(inb(STATUS), 0x58, "seed %u: READ lba %u count %u: sector %u: "
				     "no DRQ", seed, lba, count, s);
			for (int w = 0; w < 256; w++) {
				uint16_t v = inw();
				got[2 * w] = (uint8_t)v;
				got[2 * w + 1] = (uint8_t)(v >> 8);
			}
			cr_assert_arr_eq(got, want + s * 512, 512, "seed %u: READ lba %u count %u: "
					 "sector %u from the data port", seed, lba, count, lba + s);
		}
		cr_assert_eq(inb(STATUS), 0x50, "seed %u: READ not idle after the last word", seed);
		cr_assert_eq(taskfile_lba(), lba + count, "seed %u: position after READ", seed);
	}
	/* One sector too many: IDNF before any data moves. */
	uint32_t count = rnd_in(1, 256);
	uint32_t lba = (uint32_t)sectors - count + 1;
	issue(0x30, lba, count);
	cr_assert_eq(inb(STATUS), 0x51, "seed %u: WRITE lba %u count %u past the end of %lu sectors",
		     seed, lba, count, (unsigned long)sectors);
	cr_assert_eq(inb(ERROR), 0x10, "seed %u: IDNF expected", seed);
	outw(0x1234); /* L1: dropped */
	file_get((uint32_t)sectors - 1, got);
	cr_assert(all_zero(got, 512), "seed %u: the last sector was written", seed);
	drive_close();
}

/* IDENTIFY on an image of a random size: words 60-61 are its sector count, the serial is the
 * disk's, LBA and FLUSH CACHE are offered, and the 512 bytes sum to 0 (word 255, A5h). */
Test(hidden5, identify_reports_a_random_capacity)
{
	seed_init();
	uint32_t sectors = rnd_in(128, (1u << 28) - 2);
	drive_open(sectors);
	uint16_t id[256];
	issue(0xEC, 0, 0);
	cr_assert_eq(inb(STATUS), 0x58, "seed %u: IDENTIFY: no DRQ", seed);
	for (int i = 0; i < 256; i++)
		id[i] = inw();
	cr_assert_eq(inb(STATUS), 0x50, "seed %u: IDENTIFY: not idle after 256 words", seed);
	uint32_t cap = id[60] | (uint32_t)id[61] << 16;
	cr_assert_eq(cap, sectors, "seed %u: IDENTIFY words 60-61 say %u sectors, the image has %u",
		     seed, cap, sectors);
	cr_assert_eq(id[0] & 0x8000, 0, "seed %u: word 0 bit 15 must be 0 (ATA device)", seed);
	cr_assert(id[49] & 0x0200, "seed %u: word 49 bit 9: LBA", seed);
	cr_assert(id[83] & 0x1000, "seed %u: word 83 bit 12: FLUSH CACHE", seed);
	char serial[21];
	for (int i = 0; i < 20; i += 2) {
		serial[i] = (char)(id[10 + i / 2] >> 8);
		serial[i + 1] = (char)(id[10 + i / 2] & 0xFF);
	}
	serial[20] = '\0';
	cr_assert_str_eq(serial, d.serial, "seed %u: serial (words 10-19, first character in the "
			 "high byte)", seed);
	uint8_t sum = 0;
	for (int i = 0; i < 256; i++)
		sum = (uint8_t)(sum + (id[i] & 0xFF) + (id[i] >> 8));
	cr_assert_eq(id[255] & 0xFF, 0xA5, "seed %u: word 255 signature", seed);
	cr_assert_eq(sum, 0, "seed %u: the 512 bytes must sum to 0 mod 256", seed);
	/* The data port is empty again: a 257th word reads 0 (L1). */
	cr_assert_eq(inw(), 0, "seed %u", seed);
	drive_close();
}

/* ---- the whole legacy path: the diskio guest through hv ---- */

/*
 * diskio on an image of random size whose every byte is random: status 0, sectors 0-127 hold
 * the pattern (guest/lib/diskpattern.h) and every other byte is what it was; the ATA ports saw
 * exactly 17 + 16 x (257 x 8 + 9) + 9 + 16 x (2 x 8 + 9) = 33466 exits (guest/lib/ata.h), of
 * which 32768 are data-port OUTs; one pwrite and one pread per sector and one flush.
 */
Test(hidden5, legacy_diskio_on_a_random_image_exact_exits_and_bytes)
{
	require_kvm();
	seed_init();
	uint32_t sectors = rnd_in(128, 4096);
	size_t bytes = (size_t)sectors * 512;
	uint8_t *before = malloc(bytes), *after = malloc(bytes);
	cr_assert(before && after);
	for (size_t i = 0; i < bytes; i++)
		before[i] = (uint8_t)rnd();
	const char *img = write_tmp("hidden5-diskio.img", before, bytes);
	const char *t = tmp_path("hidden5-diskio.hvt");
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "120", "--quiet", "--disk", img,
				      "--disk-path", "legacy", "--trace", t, guest("diskio.bin"), NULL });
	cr_assert_eq(r.status, 0, "seed %u, %u sectors: status %d (diskio's failure code is "
		     "(status - 1) / 2, guest/diskio.c); stderr: %s", seed, sectors, r.status, r.err);
	int f = open(img, O_RDONLY);
	cr_assert_geq(f, 0);
	cr_assert_eq(read(f, after, bytes), (ssize_t)bytes, "seed %u: the image changed size", seed);
	close(f);
	for (size_t i = 0; i < bytes; i++) {
		uint8_t want = i < 128 * 512 ? diskpattern_byte((uint32_t)i) : before[i];
		if (after[i] != want)
			cr_assert_fail("seed %u, %u sectors: byte %zu (sector %zu) is 0x%02x, want 0x%02x",
				       seed, sectors, i, i / 512, after[i], want);
	}
	free(before);
	free(after);

	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(t, &tf, err, sizeof err), 0, "%s", err);
	uint64_t ata = 0, data_out = 0, pw = 0, pr = 0, fl = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		if (e->kind == HVT_EXIT && e->reason == HVT_R_IO &&
		    ((e->addr >= HV_PORT_ATA_CMD && e->addr < HV_PORT_ATA_CMD + 8) ||
		     e->addr == HV_PORT_ATA_CTL)) {
			ata++;
			data_out += e->addr == HV_PORT_ATA_CMD && (e->flags & HVT_F_WRITE);
		}
		if (e->kind == HVT_DISK) {
			pw += e->reason == HVT_DISK_WRITE;
			pr += e->reason == HVT_DISK_READ;
			fl += e->reason == HVT_DISK_FLUSH;
		}
	}
	trace_free(&tf);
	cr_assert_eq(ata, 33466, "seed %u: %lu exits to the ATA ports", seed, (unsigned long)ata);
	cr_assert_eq(data_out, 16 * 8 * 256, "seed %u: data-port OUTs", seed);
	cr_assert_eq(pw, 128, "seed %u: sector writes reaching the image", seed);
	cr_assert_eq(pr, 128, "seed %u: sector reads from the image", seed);
	cr_assert_eq(fl, 1, "seed %u: flushes", seed);
}
