/*
 * test_ata.c - unit tests for the legacy ATA disk (hv/dev/ata.c) on a real image file.
 *
 * Each test drives the drive as a guest driver does: 8-bit IN/OUT on the taskfile at
 * 0x1F1-0x1F7, 16-bit IN/OUT on the data port 0x1F0, the control port 0x3F6, all through the
 * bus. Behind the drive is a real temporary image opened with disk_open (hv/disk.h), and the
 * tests check the file itself with pread/pwrite: what the guest reads must be the file's
 * bytes, what it writes must land in the file, byte for byte.
 * Textbook: chapter 4 "Two I/O paths", section "Full virtualization: the legacy ATA disk".
 *
 * Status values, from the bits (ATA status register): BSY 0x80, DRDY 0x40, DSC 0x10,
 * DRQ 0x08, ERR 0x01, so
 *   0x50 = DRDY|DSC          idle, command done
 *   0x58 = DRDY|DSC|DRQ      a 512-byte block waits at (or is wanted by) the data port
 *   0x51 = DRDY|DSC|ERR      the command failed; the error register says why:
 *                              ABRT 0x04, IDNF 0x10, UNC 0x40
 *   0x90 = BSY|DSC           while SRST is held
 * Hostile-guest rows L1-L6 (textbook appendix C, C.4) have a test
 * each, named after the row. L5 (bus-master DMA) has nothing to attack: no DMA registers exist
 * (no PCI BAR, nothing claimed besides 0x1F0-0x1F7 and 0x3F6); its test proves that the drive
 * offers no DMA and refuses DMA commands without moving data.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "dev/ata.h"
#include "disk.h"
#include "layout.h"
#include "trace_read.h"
#include "trace_write.h"

/* 320 sectors: more than 256, so "count 0 = 256 sectors" fits from LBA 0 and not from 100. */
#define IMG_SECTORS 320u

enum { DATA = 0, ERROR = 1, FEATURES = 1, NSECT = 2, LBAL = 3, LBAM = 4, LBAH = 5, SELECT = 6,
       STATUS = 7, COMMAND = 7 };

static struct bus bus;
static struct disk d;
static struct ata *a;
static char path[64];
static int fd = -1; /* the test's own handle on the image, to check and prepare the file */

/* INTRQ as the interrupt controller sees it: every call recorded. */
static int irq_levels[64];
static int irq_calls;

static void record_irq(void *ctx, int level)
{
	cr_assert_eq(ctx, &irq_calls);
	if (irq_calls < (int)(sizeof(irq_levels) / sizeof(irq_levels[0])))
		irq_levels[irq_calls] = level;
	irq_calls++;
}

static void setup(void)
{
	char err[256];

	strcpy(path, "/tmp/hvata-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)IMG_SECTORS * 512), 0);
	cr_assert_eq(disk_open(&d, path, DISK_WRITEBACK, false, err, sizeof err), 0, "%s", err);
	a = ata_create(&d);
	cr_assert_not_null(a);
	bus_init(&bus);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_ATA_CMD, ATA_CMD_LEN, &ata_cmd_ops, a), 0);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_ATA_CTL, ATA_CTL_LEN, &ata_ctl_ops, a), 0);
	irq_calls = 0;
}

static void teardown(void)
{
	ata_destroy(a);
	disk_close(&d);
	close(fd);
	unlink(path);
}

TestSuite(ata, .init = setup, .fini = teardown);

/* ---- the guest's side: port accesses through the bus ---- */

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

static uint8_t alt_status(void)
{
	uint8_t v = 0;
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CTL, &v, 1, false), BUS_OK);
	return v;
}

static void devctl(uint8_t v)
{
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CTL, &v, 1, true), BUS_OK);
}

/* The taskfile a driver writes for an LBA28 command on the master: drive/head = 0xE0 | LBA
 * bits 27-24 (0xA0 obsolete bits, 0x40 LBA, DEV = 0), then count, LBA, command. */
static void issue(uint8_t cmd, uint32_t lba, uint8_t count)
{
	outb(SELECT, (uint8_t)(0xE0 | ((lba >> 24) & 0x0F)));
	outb(NSECT, count);
	outb(LBAL, (uint8_t)lba);
	outb(LBAM, (uint8_t)(lba >> 8));
	outb(LBAH, (uint8_t)(lba >> 16));
	outb(COMMAND, cmd);
}

/* 256 IN of 16 bits: one sector, bytes in the order the data port gives them. */
static void read_block(uint8_t *buf)
{
	for (int i = 0; i < 256; i++) {
		uint16_t w = inw();
		buf[2 * i] = (uint8_t)w;
		buf[2 * i + 1] = (uint8_t)(w >> 8);
	}
}

static void write_block(const uint8_t *buf)
{
	for (int i = 0; i < 256; i++)
		outw((uint16_t)(buf[2 * i] | buf[2 * i + 1] << 8));
}

/* Sector contents no two sectors share: byte i of sector s = (s * 7 + i * 13 + seed) & 0xFF. */
static void pattern(uint8_t *buf, uint32_t sector, unsigned seed)
{
	for (unsigned i = 0; i < 512; i++)
		buf[i] = (uint8_t)(sector * 7 + i * 13 + seed);
}

static void file_put(uint32_t sector, const uint8_t *buf)
{
	cr_assert_eq(pwrite(fd, buf, 512, (off_t)sector * 512), 512);
}

static void file_get(uint32_t sector, uint8_t *buf)
{
	cr_assert_eq(pread(fd, buf, 512, (off_t)sector * 512), 512);
}

static void identify(uint16_t *id)
{
	issue(0xEC, 0, 0);
	cr_assert_eq(inb(STATUS), 0x58);
	for (int i = 0; i < 256; i++)
		id[i] = inw();
	cr_assert_eq(inb(STATUS), 0x50);
}

/* An ATA string: in each word the first character is in the high byte (ata.h). */
static void id_string(const uint16_t *id, unsigned word, unsigned len, char *out)
{
	for (unsigned i = 0; i < len; i += 2) {
		out[i] = (char)(id[word + i / 2] >> 8);
		out[i + 1] = (char)(id[word + i / 2] & 0xFF);
	}
	out[len] = '\0';
}

/* ---- power-on, IDENTIFY ---- */

Test(ata, power_on_state_is_idle_with_ata_signature)
{
	cr_assert_eq(inb(STATUS), 0x50);  /* DRDY | DSC */
	cr_assert_eq(alt_status(), 0x50);
	cr_assert_eq(inb(ERROR), 0x01);   /* diagnostic code: device 0 passed */
	/* The ATA disk signature: count 1, LBA low 1, LBA mid/high 0 (ATAPI: 0x14/0xEB). */
	cr_assert_eq(inb(NSECT), 0x01);
	cr_assert_eq(inb(LBAL), 0x01);
	cr_assert_eq(inb(LBAM), 0x00);
	cr_assert_eq(inb(LBAH), 0x00);
	cr_assert_eq(inb(SELECT), 0xA0);  /* device 0; bits 7 and 5 obsolete, read as one */
	cr_assert_eq(d.trace_dev, HVT_DISK_ATA);
}

Test(ata, identify_reports_capacity_lba_flush_and_swapped_strings)
{
	uint16_t id[256];
	char s[41];

	strcpy(d.serial, "HVTEST-SERIAL-42");   /* 16 characters: 4 spaces of padding follow */
	identify(id);
	cr_assert_eq(id[0], 0x0040);             /* ATA device, fixed media */
	cr_assert_eq(id[1], 0);                  /* no CHS geometry (LBA-only drive) */
	cr_assert_eq(id[3], 0);
	cr_assert_eq(id[6], 0);
	cr_assert_eq(id[47], 0x8000);            /* no READ/WRITE MULTIPLE */
	cr_assert_eq(id[49] & 0x0200, 0x0200);   /* bit 9: LBA supported */
	cr_assert_eq(id[49] & 0x0100, 0);        /* bit 8: no DMA */
	cr_assert_eq(id[59], 0);
	cr_assert_eq(id[60], IMG_SECTORS);       /* capacity 320 = 0x00000140: low word first */
	cr_assert_eq(id[61], 0);
	cr_assert_eq(id[83], 0x5000);            /* bit 14 valid, bit 12 FLUSH CACHE supported */
	cr_assert_eq(id[86], 0x1000);            /* bit 12 FLUSH CACHE enabled */
	cr_assert_eq(id[85], 0x0020);            /* write cache on at power-on */
	/* Word 27 holds "HV": 'H' (0x48) in the high byte, 'V' (0x56) in the low byte. */
	cr_assert_eq(id[27], 0x4856);
	id_string(id, 27, 40, s);
	cr_assert_str_eq(s, "HVLAB LEGACY DISK                       ");
	id_string(id, 10, 20, s);
	cr_assert_str_eq(s, "HVTEST-SERIAL-42    ");
	id_string(id, 23, 8, s);
	cr_assert_str_eq(s, "1.0     ");
	/* Word 255: signature A5h, and the 512 bytes sum to 0 modulo 256. */
	cr_assert_eq(id[255] & 0xFF, 0xA5);
	uint8_t sum = 0;
	for (int i = 0; i < 256; i++)
		sum = (uint8_t)(sum + (id[i] & 0xFF) + (id[i] >> 8));
	cr_assert_eq(sum, 0);
	cr_assert_eq(a->commands, 1);
	cr_assert_eq(a->sectors_read, 0); /* IDENTIFY is not a disk read */
	cr_assert_eq(d.reads, 0);
}

Test(ata, identify_caps_capacity_at_lba28_max)
{
	uint16_t id[256];

	d.sectors = 0x123456789ull; /* pretend: 2^32+ sectors; LBA28 reaches 0x0FFFFFFF */
	identify(id);
	cr_assert_eq(id[60], 0xFFFF);
	cr_assert_eq(id[61], 0x0FFF);
}

/* ---- READ, WRITE, FLUSH ---- */

Test(ata, read_sectors_returns_the_file_bytes)
{
	uint8_t want[512], got[512];

	for (uint32_t s = 5; s < 8; s++) {
		pattern(want, s, 1);
		file_put(s, want);
	}
	issue(0x20, 5, 3);
	for (uint32_t s = 5; s < 8; s++) {
		cr_assert_eq(inb(STATUS), 0x58);   /* each block: DRQ */
		read_block(got);
		pattern(want, s, 1);
		cr_assert_arr_eq(got, want, 512);
	}
	cr_assert_eq(inb(STATUS), 0x50);       /* after the last word: idle */
	cr_assert_eq(a->sectors_read, 3);
	cr_assert_eq(d.reads, 3);              /* one disk_read per sector */
	/* The taskfile followed the transfer: next LBA 8, 0 sectors left. */
	cr_assert_eq(inb(LBAL), 8);
	cr_assert_eq(inb(NSECT), 0);
}

Test(ata, write_sectors_land_in_the_file)
{
	uint8_t buf[512], got[512];

	issue(0x30, 10, 2);
	cr_assert_eq(inb(STATUS), 0x58);       /* DRQ at once: send the first block */
	pattern(buf, 10, 9);
	write_block(buf);
	cr_assert_eq(inb(STATUS), 0x58);       /* second block wanted */
	pattern(buf, 11, 9);
	write_block(buf);
	cr_assert_eq(inb(STATUS), 0x50);
	for (uint32_t s = 10; s < 12; s++) {
		file_get(s, got);
		pattern(buf, s, 9);
		cr_assert_arr_eq(got, buf, 512);
	}
	file_get(12, got);                     /* the neighbour is untouched (zero) */
	memset(buf, 0, 512);
	cr_assert_arr_eq(got, buf, 512);
	cr_assert_eq(a->sectors_written, 2);
	cr_assert_eq(d.writes, 2);
}

Test(ata, count_zero_reads_256_sectors)
{
	uint8_t want[512], got[512];

	pattern(want, 255, 3);
	file_put(255, want);
	issue(0x20, 0, 0);                     /* count 0 = 256 sectors: 0..255, inside 320 */
	for (int s = 0; s < 255; s++) {
		cr_assert_eq(inb(STATUS), 0x58);
		read_block(got);
	}
	cr_assert_eq(inb(STATUS), 0x58);
	read_block(got);
	cr_assert_arr_eq(got, want, 512);      /* the 256th sector is sector 255 */
	cr_assert_eq(inb(STATUS), 0x50);
	cr_assert_eq(a->sectors_read, 256);
}

Test(ata, count_zero_past_the_end_is_idnf)
{
	issue(0x20, 100, 0);                   /* 100 + 256 = 356 > 320 */
	cr_assert_eq(inb(STATUS), 0x51);       /* DRDY|DSC|ERR, no DRQ: nothing to read */
	cr_assert_eq(inb(ERROR), 0x10);        /* IDNF */
	cr_assert_eq(d.reads, 0);
}

Test(ata, flush_cache_calls_disk_flush)
{
	issue(0xE7, 0, 0);
	cr_assert_eq(inb(STATUS), 0x50);
	cr_assert_eq(a->flushes, 1);
	cr_assert_eq(d.flushes, 1);
	cr_assert_eq(d.syncs, 1);              /* cache=writeback: a real fdatasync */
}

Test(ata, write_cache_off_makes_each_write_durable)
{
	uint8_t buf[512] = { 1 };
	uint16_t id[256];

	outb(FEATURES, 0x82);                  /* SET FEATURES: disable write cache */
	outb(COMMAND, 0xEF);
	cr_assert_eq(inb(STATUS), 0x50);
	identify(id);
	cr_assert_eq(id[85] & 0x0020, 0);      /* word 85 bit 5: write cache now off */
	issue(0x30, 3, 1);
	write_block(buf);
	cr_assert_eq(inb(STATUS), 0x50);
	cr_assert_eq(d.syncs, 1);              /* the WRITE ended with a flush */
}

Test(ata, set_features_common_subcommands_are_accepted)
{
	const uint8_t sub[] = { 0x02, 0xAA, 0x55, 0x66, 0xCC };
	for (size_t i = 0; i < sizeof sub; i++) {
		outb(FEATURES, sub[i]);
		outb(COMMAND, 0xEF);
		cr_assert_eq(inb(STATUS), 0x50, "subcommand %#x", sub[i]);
	}
	outb(FEATURES, 0x03);
	outb(NSECT, 0x0C);                     /* set transfer mode: PIO flow control mode 4 */
	outb(COMMAND, 0xEF);
	cr_assert_eq(inb(STATUS), 0x50);
	cr_assert_eq(a->aborts, 0);
}

Test(ata, read_only_image_refuses_write_with_abrt)
{
	char err[256];
	struct disk ro;
	cr_assert_eq(disk_open(&ro, path, DISK_WRITEBACK, true, err, sizeof err), 0, "%s", err);
	a->disk = &ro;
	issue(0x30, 0, 1);
	cr_assert_eq(inb(STATUS), 0x51);       /* refused before any data: no DRQ */
	cr_assert_eq(inb(ERROR), 0x04);        /* ABRT */
	cr_assert_eq(ro.writes, 0);
	a->disk = &d;
	disk_close(&ro);
}

Test(ata, host_read_failure_reports_unc)
{
	/* The image shrinks under hv (disk.sectors still says 320): pread hits end of file and
	 * disk.c reports EIO. ATA's word for "could not read this sector" is UNC. */
	cr_assert_eq(ftruncate(fd, 10 * 512), 0);
	issue(0x20, 100, 1);
	cr_assert_eq(inb(STATUS), 0x51);
	cr_assert_eq(inb(ERROR), 0x40);        /* UNC */
	cr_assert_eq(inb(LBAL), 100);          /* the registers name the failing sector */
	cr_assert_eq(a->aborts, 1);
}

/* ---- status, alternate status, interrupts ---- */

Test(ata, interrupt_per_block_cleared_by_status_not_by_alt_status)
{
	uint8_t buf[512];

	ata_connect_irq(a, record_irq, &irq_calls);
	issue(0x20, 0, 2);                     /* data-in: first block ready -> INTRQ */
	cr_assert_eq(irq_calls, 1);
	cr_assert_eq(irq_levels[0], 1);
	cr_assert_eq(alt_status(), 0x58);      /* looking without acknowledging */
	cr_assert_eq(irq_calls, 1);
	cr_assert_eq(inb(STATUS), 0x58);       /* acknowledges: line falls */
	cr_assert_eq(irq_calls, 2);
	cr_assert_eq(irq_levels[1], 0);
	read_block(buf);                       /* second block ready -> INTRQ */
	cr_assert_eq(irq_calls, 3);
	cr_assert_eq(irq_levels[2], 1);
	cr_assert_eq(inb(STATUS), 0x58);
	cr_assert_eq(irq_calls, 4);
	read_block(buf);                       /* end of a data-in command: no interrupt */
	cr_assert_eq(irq_calls, 4);
	cr_assert_eq(inb(STATUS), 0x50);

	issue(0x30, 0, 1);                     /* data-out: no interrupt for the first DRQ */
	cr_assert_eq(irq_calls, 4);
	write_block(buf);                      /* block written, command complete: INTRQ */
	cr_assert_eq(irq_calls, 5);
	cr_assert_eq(irq_levels[4], 1);
	cr_assert_eq(inb(STATUS), 0x50);
	cr_assert_eq(irq_calls, 6);
	cr_assert_eq(irq_levels[5], 0);

	issue(0xE7, 0, 0);                     /* non-data: one interrupt at completion */
	cr_assert_eq(irq_calls, 7);
	outb(COMMAND, 0xE7);                   /* writing a command acknowledges the old one... */
	cr_assert_eq(irq_calls, 7);            /* ...and the new one raises it: level unchanged */
	cr_assert_eq(inb(STATUS), 0x50);
	cr_assert_eq(irq_calls, 8);
	cr_assert_eq(irq_levels[7], 0);
}

Test(ata, nien_masks_intrq_and_pending_shows_when_cleared)
{
	ata_connect_irq(a, record_irq, &irq_calls);
	devctl(0x02);                          /* nIEN: the polling driver's setting */
	issue(0xE7, 0, 0);
	cr_assert_eq(irq_calls, 0);            /* pending, but the pin is released */
	devctl(0x00);                          /* ATA: pending and nIEN = 0 -> INTRQ asserted */
	cr_assert_eq(irq_calls, 1);
	cr_assert_eq(irq_levels[0], 1);
	devctl(0x02);                          /* masked again: line falls */
	cr_assert_eq(irq_calls, 2);
	cr_assert_eq(irq_levels[1], 0);
	cr_assert_eq(inb(STATUS), 0x50);       /* acknowledged while masked */
	devctl(0x00);
	cr_assert_eq(irq_calls, 2);            /* nothing pending any more */
}

Test(ata, errors_raise_intrq)
{
	ata_connect_irq(a, record_irq, &irq_calls);
	outb(COMMAND, 0xC8);                   /* READ DMA: aborted, and the abort interrupts */
	cr_assert_eq(irq_calls, 1);
	cr_assert_eq(irq_levels[0], 1);
	cr_assert_eq(inb(STATUS), 0x51);
	cr_assert_eq(irq_levels[1], 0);
}

Test(ata, srst_holds_bsy_then_restores_signature)
{
	outb(LBAL, 0x77);
	devctl(0x04);                          /* SRST = 1 */
	cr_assert_eq(alt_status(), 0x90);      /* BSY | DSC while held */
	cr_assert_eq(inb(STATUS), 0x90);
	outb(COMMAND, 0xEC);                   /* ignored: the drive is busy */
	cr_assert_eq(a->commands, 0);
	devctl(0x00);                          /* SRST = 0 */
	cr_assert_eq(inb(STATUS), 0x50);
	cr_assert_eq(inb(ERROR), 0x01);
	cr_assert_eq(inb(NSECT), 0x01);
	cr_assert_eq(inb(LBAL), 0x01);         /* signature replaced our 0x77 */
}

Test(ata, bus_reset_returns_to_power_on_mid_transfer)
{
	ata_connect_irq(a, record_irq, &irq_calls);
	issue(0x20, 0, 4);
	cr_assert_eq(irq_calls, 1);
	devctl(0x02);                          /* mask (line falls), then the RESET line */
	bus_reset(&bus);
	cr_assert_eq(alt_status(), 0x50);
	cr_assert_eq(a->xfer, ATA_XFER_NONE);
	cr_assert_eq(a->devctl, 0);            /* nIEN back to 0, nothing pending: line low */
	cr_assert_eq(irq_levels[irq_calls - 1], 0);
	cr_assert_eq(inw(), 0);                /* no data left */
}

/* ---- slave, no drive ---- */

Test(ata, absent_slave_reads_zero_and_ignores_commands)
{
	outb(SELECT, 0xB0);                    /* DEV = 1 */
	cr_assert_eq(inb(STATUS), 0x00);
	cr_assert_eq(alt_status(), 0x00);
	cr_assert_eq(inb(ERROR), 0x00);
	outb(NSECT, 0x55);
	cr_assert_eq(inb(NSECT), 0x55);        /* the shared taskfile latch reads back */
	cr_assert_eq(inb(SELECT), 0xB0);
	outb(SELECT, 0x10);                    /* obsolete bits 7 and 5 always read as one */
	cr_assert_eq(inb(SELECT), 0xB0);
	outb(COMMAND, 0xEC);                   /* IDENTIFY to nobody: nothing happens */
	cr_assert_eq(inb(STATUS), 0x00);
	cr_assert_eq(inw(), 0);
	cr_assert_eq(a->commands, 0);
	cr_assert_eq(a->ignored, 1);
	outb(SELECT, 0xA0);                    /* the master is unaffected */
	cr_assert_eq(inb(STATUS), 0x50);
}

Test(ata, no_disk_every_register_reads_zero)
{
	struct bus b2;
	struct ata *none = ata_create(NULL);
	cr_assert_not_null(none);
	bus_init(&b2);
	cr_assert_eq(bus_register(&b2, BUS_PIO, HV_PORT_ATA_CMD, ATA_CMD_LEN, &ata_cmd_ops, none), 0);
	cr_assert_eq(bus_register(&b2, BUS_PIO, HV_PORT_ATA_CTL, ATA_CTL_LEN, &ata_ctl_ops, none), 0);
	uint8_t v = 0x55;
	cr_assert_eq(bus_dispatch(&b2, BUS_PIO, HV_PORT_ATA_CMD + NSECT, &v, 1, true), BUS_OK);
	v = 0xEC;
	cr_assert_eq(bus_dispatch(&b2, BUS_PIO, HV_PORT_ATA_CMD + COMMAND, &v, 1, true), BUS_OK);
	/* Linux's probe writes 0x55 to the count register and expects it back: 0 = no device. */
	for (unsigned reg = 1; reg < 8; reg++) {
		v = 0xAA;
		cr_assert_eq(bus_dispatch(&b2, BUS_PIO, HV_PORT_ATA_CMD + reg, &v, 1, false), BUS_OK);
		cr_assert_eq(v, 0x00, "register %u", reg);
	}
	v = 0xAA;
	cr_assert_eq(bus_dispatch(&b2, BUS_PIO, HV_PORT_ATA_CTL, &v, 1, false), BUS_OK);
	cr_assert_eq(v, 0x00);
	cr_assert_eq(none->commands, 0);
	cr_assert_eq(none->ignored, 1);
	ata_destroy(none);
}

/* ---- access widths ---- */

Test(ata, data_port_8bit_refused_32bit_is_two_words)
{
	uint8_t want[512], got[512];

	pattern(want, 2, 5);
	file_put(2, want);
	issue(0x20, 2, 1);
	uint8_t b = 0;
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CMD, &b, 1, false), BUS_OK);
	cr_assert_eq(b, 0xFF);                 /* 8-bit data read: refused, index unmoved */
	cr_assert_eq(a->bad_width, 1);
	for (int i = 0; i < 128; i++)          /* 128 x 32 bits = 256 words, low word first */
		cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CMD, got + 4 * i, 4, false),
			     BUS_OK);
	cr_assert_arr_eq(got, want, 512);
	cr_assert_eq(inb(STATUS), 0x50);

	pattern(want, 7, 6);
	issue(0x30, 7, 1);
	b = 0x11;
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CMD, &b, 1, true), BUS_OK);
	for (int i = 0; i < 128; i++)
		cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CMD, want + 4 * i, 4, true),
			     BUS_OK);
	cr_assert_eq(inb(STATUS), 0x50);
	file_get(7, got);
	cr_assert_arr_eq(got, want, 512);      /* the 8-bit write did not shift anything */
	cr_assert_eq(a->bad_width, 2);
}

Test(ata, taskfile_registers_are_8bit_only)
{
	uint8_t v[2] = { 0, 0 };
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CMD + 6, v, 2, false), BUS_OK);
	cr_assert_eq(v[0], 0xFF);              /* 16-bit read of drive/head + status: refused */
	cr_assert_eq(v[1], 0xFF);
	cr_assert_eq(a->bad_width, 1);
	uint8_t w[2] = { 0xEC, 0xEC };
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ATA_CMD + 6, w, 2, true), BUS_OK);
	cr_assert_eq(a->commands, 0);          /* nothing was issued */
	cr_assert_eq(inb(SELECT), 0xA0);
	cr_assert_eq(a->bad_width, 2);
}

/* ---- appendix C rows ---- */

Test(ata, L1_data_port_without_command_is_bounded)
{
	uint8_t buf[512];

	for (int i = 0; i < 100000; i++)
		cr_assert_eq(inw(), 0);            /* DRQ clear: 0, and no index moves */
	for (int i = 0; i < 100000; i++)
		outw(0xBEEF);                      /* dropped */
	cr_assert_eq(a->pos, 0);
	cr_assert_eq(a->data_overruns, 200000);
	cr_assert_eq(d.writes, 0);
	cr_assert_eq(inb(STATUS), 0x50);

	/* After a completed READ the port is dead again, however long the guest keeps going. */
	issue(0x20, 0, 1);
	read_block(buf);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(inw(), 0);
	/* After a completed WRITE, extra words do not reach the next sector. */
	issue(0x30, 4, 1);
	memset(buf, 0x5A, 512);
	write_block(buf);
	for (int i = 0; i < 1000; i++)
		outw(0xFFFF);
	cr_assert_eq(d.writes, 1);
	file_get(5, buf);
	cr_assert_eq(buf[0], 0);
	cr_assert_eq(a->data_overruns, 202000);
	cr_assert_eq(a->pos, 0);
}

Test(ata, L2_invalid_commands_abort_and_absent_slave_ignores)
{
	/* ATAPI PACKET, IDENTIFY PACKET, LBA48 READ/WRITE EXT, READ/WRITE DMA, READ MULTIPLE,
	 * NOP, EXECUTE DEVICE DIAGNOSTIC... all: status 0x51, error ABRT 0x04. */
	const uint8_t bad[] = { 0xA0, 0xA1, 0x24, 0x34, 0xC8, 0xCA, 0xC4, 0xC5, 0x00, 0x90, 0xFF };
	for (size_t i = 0; i < sizeof bad; i++) {
		issue(bad[i], 0, 1);
		cr_assert_eq(inb(STATUS), 0x51, "command %#x", bad[i]);
		cr_assert_eq(inb(ERROR), 0x04, "command %#x", bad[i]);
		cr_assert_eq(inw(), 0);            /* no data phase */
	}
	cr_assert_eq(a->aborts, sizeof bad);
	/* An unknown SET FEATURES subcommand aborts too. */
	outb(FEATURES, 0x42);
	outb(COMMAND, 0xEF);
	cr_assert_eq(inb(STATUS), 0x51);
	/* CHS addressing (drive/head bit 6 clear): no geometry, so ABRT, never a division. */
	outb(SELECT, 0xA0);
	outb(NSECT, 1);
	outb(COMMAND, 0x20);
	cr_assert_eq(inb(STATUS), 0x51);
	cr_assert_eq(inb(ERROR), 0x04);
	/* IDENTIFY on the absent slave: nobody answers, nothing changes. */
	outb(SELECT, 0xF0);
	outb(COMMAND, 0xEC);
	cr_assert_eq(inb(STATUS), 0x00);
	cr_assert_eq(a->ignored, 1);
	cr_assert_eq(d.reads, 0);
	cr_assert_eq(d.writes, 0);
}

Test(ata, L3_lba_beyond_capacity_is_idnf_and_overflow_safe)
{
	uint8_t buf[512];

	issue(0x20, IMG_SECTORS - 1, 1);       /* the last sector: fine */
	cr_assert_eq(inb(STATUS), 0x58);
	read_block(buf);
	cr_assert_eq(inb(STATUS), 0x50);

	const struct { uint32_t lba; uint8_t count; } bad[] = {
		{ IMG_SECTORS, 1 },                /* one past the end */
		{ IMG_SECTORS - 1, 2 },            /* starts inside, ends outside */
		{ 0x0FFFFFFF, 0 },                 /* largest LBA28, 256 sectors: no wrap */
		{ 0x0FFFFF00, 0xFF },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		issue(0x20, bad[i].lba, bad[i].count);
		cr_assert_eq(inb(STATUS), 0x51, "lba %#x", bad[i].lba);
		cr_assert_eq(inb(ERROR), 0x10, "lba %#x", bad[i].lba);  /* IDNF */
		issue(0x30, bad[i].lba, bad[i].count);
		cr_assert_eq(inb(STATUS), 0x51);                         /* no DRQ: nothing sent */
		cr_assert_eq(inb(ERROR), 0x10);
	}
	cr_assert_eq(d.reads, 1);
	cr_assert_eq(d.writes, 0);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, (off_t)IMG_SECTORS * 512);     /* the image never grows */
}

Test(ata, L4_command_select_and_srst_mid_transfer_are_deterministic)
{
	uint8_t want[512], got[512];

	pattern(want, 20, 4);
	file_put(20, want);
	issue(0x20, 20, 2);
	for (int i = 0; i < 10; i++) {         /* 10 of 256 words read */
		uint16_t w = inw();
		got[2 * i] = (uint8_t)w;
		got[2 * i + 1] = (uint8_t)(w >> 8);
	}
	outb(COMMAND, 0x30);                   /* a command while DRQ: ignored */
	outb(LBAL, 0x99);                      /* taskfile writes while DRQ: ignored */
	outb(SELECT, 0xF0);                    /* so is deselecting the drive */
	cr_assert_eq(inb(STATUS), 0x58);       /* still the same READ */
	cr_assert_eq(inb(LBAL), 20);
	cr_assert_eq(inb(SELECT), 0xE0);
	cr_assert_eq(a->ignored, 3);
	for (int i = 10; i < 256; i++) {       /* the rest of the sector continues seamlessly */
		uint16_t w = inw();
		got[2 * i] = (uint8_t)w;
		got[2 * i + 1] = (uint8_t)(w >> 8);
	}
	cr_assert_arr_eq(got, want, 512);

	/* SRST in the middle of the second sector: the transfer ends, nothing is left. */
	for (int i = 0; i < 100; i++)
		inw();
	devctl(0x04);
	cr_assert_eq(inw(), 0);
	cr_assert_eq(a->pos, 0);
	devctl(0x00);
	cr_assert_eq(inb(STATUS), 0x50);

	/* SRST in the middle of a WRITE: the half-sent sector never reaches the image. */
	issue(0x30, 30, 1);
	for (int i = 0; i < 200; i++)
		outw(0xABCD);
	devctl(0x04);
	for (int i = 0; i < 56; i++)
		outw(0xABCD);                      /* the words that would have completed it */
	devctl(0x00);
	cr_assert_eq(d.writes, 0);
	file_get(30, got);
	cr_assert_eq(got[0], 0);
	/* And the drive works normally afterwards. */
	issue(0x20, 20, 1);
	cr_assert_eq(inb(STATUS), 0x58);
	read_block(got);
	cr_assert_arr_eq(got, want, 512);
	cr_assert_eq(inb(STATUS), 0x50);
}

Test(ata, L5_no_dma_offered_and_dma_commands_move_nothing)
{
	uint16_t id[256];

	identify(id);
	cr_assert_eq(id[49] & 0x0100, 0);      /* no DMA */
	cr_assert_eq(id[62], 0);               /* no single-word, multiword or Ultra DMA modes */
	cr_assert_eq(id[63], 0);
	cr_assert_eq(id[88], 0);
	issue(0xCA, 0, 1);                     /* WRITE DMA */
	cr_assert_eq(inb(STATUS), 0x51);
	cr_assert_eq(inb(ERROR), 0x04);
	outb(FEATURES, 0x03);                  /* SET FEATURES transfer mode: UDMA 2 (0x42) */
	outb(NSECT, 0x42);
	outb(COMMAND, 0xEF);
	cr_assert_eq(inb(STATUS), 0x51);
	cr_assert_eq(d.reads + d.writes, 0);
	/* Only the two legacy windows are claimed; the bus-master block a PCI IDE controller
	 * would have (BAR4, commonly 0xC000) belongs to nobody. */
	cr_assert_null(bus_find(&bus, BUS_PIO, 0xC000));
	cr_assert_null(bus_find(&bus, BUS_PIO, HV_PORT_ATA_CTL + 1));
}

/*
 * L6: a fixed pseudo-random storm (an LCG, reproducible) of 100000 accesses of every width
 * to every ATA port, commands included. Nothing may abort (under SAN=1 any out-of-bounds
 * index would), and on every step the invariants hold: the buffer index is even and inside
 * the sector, DRQ is set exactly when a transfer runs, and the image keeps its size.
 */
Test(ata, L6_random_access_storm_keeps_state_defined)
{
	uint32_t x = 2024;
	const uint32_t sizes[] = { 1, 2, 4 };

	for (int i = 0; i < 100000; i++) {
		x = x * 1103515245u + 12345u;
		uint8_t v[4] = { (uint8_t)(x >> 8), (uint8_t)(x >> 12), (uint8_t)(x >> 16), 0 };
		uint32_t size = sizes[(x >> 20) % 3];
		bool w = x & 0x80000000u;
		uint64_t port;
		if (((x >> 24) & 15) == 0) {
			port = HV_PORT_ATA_CTL;
			size = 1;
			v[0] &= 0x06;                  /* SRST/nIEN only: keep the drive mostly alive */
		} else {
			port = HV_PORT_ATA_CMD + ((x >> 16) & 7);
		}
		if (w && port == HV_PORT_ATA_CMD + 7 && v[0] == 0xE7)
			v[0] = 0x20;               /* keep fdatasync out of the loop: it is slow */
		enum bus_result r = bus_dispatch(&bus, BUS_PIO, port, v, size, w);
		cr_assert(r == BUS_OK || r == BUS_BAD_SIZE);
		cr_assert_eq(a->pos % 2, 0);
		cr_assert_lt(a->pos, 512);
		if (!(a->status & ATA_SR_BSY))
			cr_assert_eq(a->xfer != ATA_XFER_NONE, (a->status & ATA_SR_DRQ) != 0);
		cr_assert_leq(a->remaining, 256);
	}
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, (off_t)IMG_SECTORS * 512);
}

/* ---- the trace ---- */

Test(ata, guest_errors_become_trace_records)
{
	char tpath[sizeof path + 8], err[256];
	snprintf(tpath, sizeof tpath, "%s.hvt", path);
	struct trace_writer *t = trace_create(tpath, HVT_HOST_UNKNOWN, "ata", err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	a->trace = t;
	inw();                                 /* L1: data read with DRQ clear */
	issue(0xA0, 0, 1);                     /* L2: ATAPI PACKET on an ATA disk */
	a->trace = NULL;
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);

	struct trace_file tf;
	cr_assert_eq(trace_load(tpath, &tf, err, sizeof err), 0, "%s", err);
	unlink(tpath);
	cr_assert_eq(tf.count, 2);
	cr_assert_eq(tf.records[0].kind, HVT_GUEST_ERROR);
	cr_assert_eq(tf.records[0].reason, HVT_R_IO);
	cr_assert_eq(tf.records[0].addr, 0x1F0);
	cr_assert_eq(tf.records[0].data, ATA_GE_NO_DRQ);
	cr_assert_eq(tf.records[0].size, 2);
	cr_assert_eq(tf.records[0].flags, 0);
	cr_assert_eq(tf.records[1].addr, 0x1F7);
	cr_assert_eq(tf.records[1].data, ATA_GE_UNSUPPORTED);
	cr_assert_eq(tf.records[1].arg, 0xA0);
	cr_assert_eq(tf.records[1].flags, HVT_F_WRITE);
	trace_free(&tf);
	cr_assert_eq(a->guest_errors, 2);
}
