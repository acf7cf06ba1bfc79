/*
 * disk.c - a program that writes 8 sectors, flushes, reads them back and compares.
 *
 * Concept: a task uses a device it cannot touch. Ring 3 has no I/O ports (IOPL 0, no I/O
 * bitmap in the TSS) and no MMIO mapping, so every sector goes through the kernel's system
 * calls and its driver, legacy ATA or virtio-blk (the kernel's disk.c). The buffers are on
 * this task's stack, in the user region: the kernel checks that, then hands them to the
 * driver as they are (virtio's device writes straight into them).
 * Textbook: chapter 5 "A guest OS", section "System calls".
 *
 * Data: the shared pattern (guest/lib/diskpattern.h) of disk bytes [64 * 512, 72 * 512),
 * so a host test can check the image file independently.
 */
#include <stdint.h>

#include "diskpattern.h"
#include "ulib.h"

#define DISK_LBA     64u
#define DISK_SECTORS 8u
#define DISK_BYTES   (DISK_SECTORS * 512u)

/* "disk: FAIL <what>" and exit status 1: the kernel prints the status in its exit line. */
static int disk_fail(const char *what)
{
	char line[80], *p;

	p = ucat(line, "disk: FAIL ");
	p = ucat(p, what);
	ucat(p, "\n");
	uputs(line);
	return 1;
}

int disk_main(const char *driver)
{
	uint8_t wbuf[DISK_BYTES], rbuf[DISK_BYTES];
	uint32_t bad;
	char line[80], *p;

	if (ustreq(driver, "none")) {
		uputs("disk: no disk attached\n");
		return 0;
	}
	diskpattern_fill(wbuf, DISK_LBA * 512u, DISK_BYTES);
	for (uint32_t i = 0; i < DISK_BYTES; i++)
		rbuf[i] = 0; /* a read that moves nothing must not pass */

	/* Three system calls: on hv the write costs 2065 exits through the legacy driver and
	   1 through virtio (textbook chapter 4); the task sees neither, only the result. */
	if (sys_disk_write(DISK_LBA, wbuf, DISK_SECTORS) != 0)
		return disk_fail("write of 8 sectors at lba 64");
	if (sys_disk_flush() != 0)
		return disk_fail("flush");
	if (sys_disk_read(DISK_LBA, rbuf, DISK_SECTORS) != 0)
		return disk_fail("read of 8 sectors at lba 64");
	bad = diskpattern_check(rbuf, DISK_LBA * 512u, DISK_BYTES);
	if (bad != DISK_BYTES) {
		p = ucat(line, "disk: FAIL verify at byte ");
		p = ucat_u32(p, bad);
		ucat(p, " of the 8 sectors\n");
		uputs(line);
		return 1;
	}
	p = ucat(line, "disk: OK 8 sectors through the ");
	p = ucat(p, driver);
	ucat(p, " driver\n");
	uputs(line);
	return 0;
}
