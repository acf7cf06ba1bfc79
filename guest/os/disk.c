/*
 * disk.c - one disk interface for the system calls, two drivers behind it: legacy ATA or
 * virtio-blk, whichever the command line names (hvlab.disk=legacy|virtio).
 *
 * Concept: a driver layer. A task calls disk_read/disk_write/disk_flush and never learns
 * which controller did the work, yet on hv the two cost wildly different numbers of exits
 * (textbook chapter 4: 2065 exits for an 8-sector ATA write, 1 for virtio). These are the
 * very drivers chapter 4 measured (guest/lib/ata.c, guest/lib/virtio_blk.c), used in polling
 * mode: the kernel runs with interrupts off, and a disk interrupt arriving in ring 3 would
 * have nobody waiting for it. Textbook: chapter 5 "A guest OS", section "Why 32-bit
 * protected mode".
 *
 * With paging on, device registers must be mapped before the driver touches them: the
 * virtio transport's window comes from the command line (virtio_mmio.device=<size>@<base>,
 * 0xd0001000 on hv, 0xfeb00e00 and up on QEMU microvm), so we map the page of every window
 * listed there before vblk_init probes them. ATA lives in I/O-port space, which paging does
 * not touch.
 */
#include <stdint.h>

#include "ata.h"
#include "cmdline.h"
#include "layout.h"
#include "os.h"
#include "virtio_blk.h"

enum disk_kind { DISK_NONE, DISK_LEGACY, DISK_VIRTIO };

static enum disk_kind ready;  /* what came up */
static uint64_t disk_sectors; /* capacity, for the range check */
static int disk_can_flush;

static enum disk_kind disk_parse(void)
{
	const char *v;
	uint32_t len;

	if (!os_option("hvlab.disk", &v, &len))
		return DISK_NONE;
	if (cmdline_value_is(v, len, "legacy"))
		return DISK_LEGACY;
	if (cmdline_value_is(v, len, "virtio"))
		return DISK_VIRTIO;
	return DISK_NONE; /* anything else: disk_init says so */
}

static const char *disk_kind_name(enum disk_kind k)
{
	return k == DISK_LEGACY ? "legacy" : k == DISK_VIRTIO ? "virtio" : "none";
}

/* main.c prints this in the boot line, before any driver ran. */
const char *disk_name(void)
{
	return disk_kind_name(disk_parse());
}

const char *disk_driver(void)
{
	return disk_kind_name(ready);
}

/*
 * ata_init selects the master drive on the primary channel and sends IDENTIFY; its answer
 * gives the capacity (LBA28 sectors) and whether FLUSH CACHE exists. On hv each register
 * access is one exit: 17 for the whole init (guest/lib/ata.h, "Exit cost").
 */
static int disk_init_legacy(void)
{
	struct ata_info info;
	int err = ata_init(&info); /* polling: nIEN = 1, the drive never raises IRQ 14 */

	if (err != ATA_OK) {
		kprintf("os: disk: legacy ATA init failed (error %d); no disk\n", err);
		return 0;
	}
	disk_sectors = info.sectors;
	disk_can_flush = info.flush_supported;
	return 1;
}

/* Map every listed virtio-mmio window (first and last byte: a window may cross 4 MiB). */
static void disk_map_virtio_windows(void)
{
	struct cmdline_mmio_dev dev;

	for (uint32_t n = 0; cmdline_virtio_mmio(os_cmdline, HV_CMDLINE_MAX, n, &dev) == 1; n++) {
		paging_map_mmio(dev.base);
		paging_map_mmio(dev.base + dev.size - 1u);
	}
}

/*
 * vblk_init walks the virtio_mmio.device= words, probes each window (MagicValue, Version,
 * DeviceID), and does the virtio handshake: reset, ACKNOWLEDGE, DRIVER, features, queue 0,
 * DRIVER_OK (guest/lib/virtio_blk.h: 33 MMIO exits on hv). The queue's rings live in the
 * driver's .bss, i.e. in kernel memory: the device reaches them by physical address, and
 * paging does not apply to a device (no IOMMU here), so supervisor-only pages are no obstacle.
 */
static int disk_init_virtio(void)
{
	struct vblk_info info;
	int err;

	disk_map_virtio_windows();
	err = vblk_init(os_cmdline, HV_CMDLINE_MAX, &info);
	if (err != VBLK_OK) {
		kprintf("os: disk: virtio init failed: %s; no disk\n", vblk_strerror(err));
		return 0;
	}
	disk_sectors = info.sectors;
	disk_can_flush = info.flush_supported;
	return 1;
}

void disk_init(void)
{
	enum disk_kind asked = disk_parse();
	const char *v;
	uint32_t len;

	if (asked == DISK_NONE && os_option("hvlab.disk", &v, &len))
		kprintf("os: disk: hvlab.disk= must be legacy or virtio; no disk\n");
	if (asked == DISK_LEGACY && disk_init_legacy())
		ready = DISK_LEGACY;
	else if (asked == DISK_VIRTIO && disk_init_virtio())
		ready = DISK_VIRTIO;
}

/* lba + nsect <= capacity, in 64 bits so the sum cannot wrap (lba = 0xFFFFFFFF, nsect = 8
   would wrap to 7 in 32 bits and pass). The drivers check too; the kernel does not rely on
   that, because its own callers are tasks. */
static int disk_range_ok(uint32_t lba, uint32_t nsect)
{
	return ready != DISK_NONE && (uint64_t)lba + nsect <= disk_sectors;
}

/*
 * One virtio request: queue it (descriptors and avail ring: RAM, no exit), ring the doorbell
 * (1 MMIO exit on hv), then poll the used ring (RAM again) until the device has answered.
 * hv completes the request inside the doorbell's exit, so the first poll already sees it;
 * QEMU answers a little later, from its own thread, and the loop spins a while.
 */
static int vblk_one(int err)
{
	if (err != VBLK_OK)
		return err;
	vblk_kick();
	err = vblk_wait_all();
	/* A device that did not answer may still write into the buffer later, which by then
	 * belongs to another task: stop trusting it. (The kernel does not reset it: a guest
	 * that gives up on a device should stop using it, and hv's device would answer a
	 * reset; a dead one might not.) */
	if (err != VBLK_OK && err != VBLK_EARG)
		ready = DISK_NONE;
	return err;
}

int disk_read(uint32_t lba, void *buf, uint32_t nsect)
{
	if (!disk_range_ok(lba, nsect))
		return -1;
	if (ready == DISK_LEGACY)
		return ata_read(lba, buf, nsect) == ATA_OK ? 0 : -1;
	return vblk_one(vblk_submit_read(lba, buf, nsect)) == VBLK_OK ? 0 : -1;
}

int disk_write(uint32_t lba, const void *buf, uint32_t nsect)
{
	if (!disk_range_ok(lba, nsect))
		return -1;
	if (ready == DISK_LEGACY)
		return ata_write(lba, buf, nsect) == ATA_OK ? 0 : -1;
	return vblk_one(vblk_submit_write(lba, buf, nsect)) == VBLK_OK ? 0 : -1;
}

/* A device without a flush command has no volatile cache to flush: nothing to do. */
int disk_flush(void)
{
	if (ready == DISK_NONE)
		return -1;
	if (!disk_can_flush)
		return 0;
	if (ready == DISK_LEGACY)
		return ata_flush() == ATA_OK ? 0 : -1;
	return vblk_one(vblk_submit_flush()) == VBLK_OK ? 0 : -1;
}
