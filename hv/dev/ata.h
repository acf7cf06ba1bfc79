/*
 * ata.h - the legacy disk: one ATA (IDE) drive on the primary channel, PIO only.
 *
 * Concept: full virtualization of a disk. The guest's driver was written for a real drive
 * on a real IDE cable, and it talks to it one 8-bit register at a time: six OUTs to describe
 * the request (the "taskfile"), one OUT of the command, then it polls the status register and
 * moves the data through a single 16-bit data port, 256 words per 512-byte sector. On real
 * hardware each of those instructions is one bus cycle. Under KVM every one of them is a VM
 * exit: the CPU leaves the guest, KVM hands hv "IN of 2 bytes from port 0x1F0", the bus calls
 * this device, and the guest resumes. A 4 KiB write therefore costs thousands of exits, which
 * is exactly what virtio-blk (the other path in chapter 4) was invented to avoid.
 * Textbook: chapter 4 "Two I/O paths", section "Full virtualization: the legacy ATA disk".
 *
 * The string-I/O asymmetry (measured on this host with hv's trace): a guest moves a sector
 * with `rep insw` (read) or `rep outsw` (write), one instruction for 256 words. KVM emulates
 * string port I/O in its instruction emulator (Linux arch/x86/kvm/emulate.c, em_in /
 * pio_in_emulated): for INS it *reads ahead* into a small cache, asking user space for as many
 * elements as fit in the rest of the destination page (and in the cache, 1 KiB), so one exit
 * carries count = 256 and hv answers all 256 words at once. For OUTS there is no such batching
 * on the exit to user space: each word is its own KVM_EXIT_IO with count = 1. So reading a
 * sector costs 1 exit and writing one costs 256, provided the read buffer does not cross a
 * page boundary (the guest driver keeps its buffers 512-byte aligned for that reason). The
 * device below cannot tell the difference: it sees 256 16-bit reads either way.
 *
 * Register map (offset from the base the bus gives us):
 *
 *   command block, HV_PORT_ATA_CMD (0x1F0), ATA_CMD_LEN = 8 ports
 *     off  read                     write
 *     0    data (16-bit)            data (16-bit)
 *     1    error                    features
 *     2    sector count             sector count
 *     3    LBA bits 0-7             LBA bits 0-7      ("sector number" in CHS days)
 *     4    LBA bits 8-15            LBA bits 8-15     ("cylinder low")
 *     5    LBA bits 16-23           LBA bits 16-23    ("cylinder high")
 *     6    drive/head               drive/head: bit 6 LBA, bit 4 DEV, bits 3-0 LBA 24-27
 *     7    status (clears INTRQ)    command
 *   control block, HV_PORT_ATA_CTL (0x3F6), ATA_CTL_LEN = 1 port
 *     0    alternate status         device control: bit 2 SRST, bit 1 nIEN
 *                                   (reading it does NOT clear INTRQ)
 *
 * Status bits: BSY 0x80, DRDY 0x40, DF 0x20, DSC 0x10, DRQ 0x08, ERR 0x01. This drive is
 * never busy: every command is finished (or its first sector is in the buffer) by the time
 * the OUT that issued it returns, so the values a guest sees are 0x50 (DRDY|DSC, idle),
 * 0x58 (DRQ: a data block is ready / wanted), 0x51 (ERR) and, only while SRST is held,
 * 0x90 (BSY|DSC). DSC ("seek complete") is always set because nothing ever seeks; QEMU reports
 * 0x41 on errors, we keep DSC for one consistent rule.
 *
 * Everything that the ATA standard leaves open, and what this model chose (ata.c explains):
 *   - LBA28 only. A command without the LBA bit (CHS addressing) is aborted, and IDENTIFY
 *     reports no CHS geometry (words 1/3/6 = 0, word 53 bit 0 = 0): CHS is obsolete since
 *     ATA8-ACS and no geometry means nothing can divide by one.
 *   - Commands: IDENTIFY DEVICE (0xEC), READ SECTORS (0x20/0x21), WRITE SECTORS (0x30/0x31),
 *     FLUSH CACHE (0xE7), SET FEATURES (0xEF; subcommands 0x02/0x82 write cache on/off,
 *     0x03 with a PIO mode, 0xAA/0x55 look-ahead, 0x66/0xCC defaults). Everything else
 *     (ATAPI 0xA0/0xA1, LBA48 0x24/0x34, DMA 0xC8/0xCA, READ MULTIPLE 0xC4, NOP 0x00, ...)
 *     ends with ERR and ABRT.
 *   - Errors: LBA range beyond the capacity -> ERR + IDNF; host read failure -> ERR + UNC;
 *     host write/flush failure or read-only image -> ERR + ABRT. The LBA registers then hold
 *     the sector that failed (the registers advance after each sector, as on QEMU).
 *   - Only a master exists. With DEV = 1 (slave) selected, status, alternate status and error
 *     read 0x00 and commands are ignored, as QEMU does for an absent slave; the shared
 *     taskfile registers still read back. With no disk at all (disk == NULL) every register
 *     reads 0x00 and commands are ignored: Linux's probe (write 0x55/0xAA to the count and
 *     LBA-low registers, read back) and the guest driver (status 0x00 or 0xFF) see "no drive".
 *   - Data port with DRQ clear (no command, or after the transfer): reads return 0 and
 *     writes are dropped, the buffer index does not move (QEMU does the same). A 32-bit
 *     access is two 16-bit words, low word first (QEMU's ide_data_readl; Linux's 32-bit PIO).
 *     An 8-bit data access reads 0xFF and writes nothing. Other registers are 8-bit only:
 *     a wider access reads all ones and writes nothing. All are counted in bad_width.
 *   - A command, or a write to taskfile registers 1-6, while BSY or DRQ is set is ignored
 *     (QEMU does the same; ATA calls it indeterminate). SRST ends any transfer. This includes
 *     the drive/head register: the drive cannot be deselected mid-transfer.
 *   - No DMA (appendix C, row L5): no bus-master registers are claimed, IDENTIFY offers no
 *     DMA mode, DMA commands abort. A guest can only move data through the data port.
 *
 * Every guest misbehaviour is counted here and becomes one HVT_GUEST_ERROR trace record:
 *   kind HVT_GUEST_ERROR, reason HVT_R_IO, size = access width, addr = the port,
 *   data = enum ata_guest_error below, arg = a detail (listed per code), flags HVT_F_WRITE for
 *   a write. A record, not a log line: a guest repeating it forever costs 64 bytes each in the
 *   trace, never a line on hv's stderr (appendix C, R1).
 */
#ifndef HV_DEV_ATA_H
#define HV_DEV_ATA_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "disk.h"
#include "trace_write.h"

#define ATA_CMD_LEN 8u
#define ATA_CTL_LEN 1u
#define ATA_SECTOR_SIZE 512u

/* LBA28: 28 address bits, so at most 2^28 - 1 sectors are reported and reachable (128 GiB). */
#define ATA_LBA28_MAX 0x0FFFFFFFu

/* The model string of IDENTIFY DEVICE words 27-46 and the firmware revision (words 23-26). */
#define ATA_MODEL    "HVLAB LEGACY DISK"
#define ATA_FIRMWARE "1.0"

/* Status register bits (offset 7 read, and the control block's alternate status). */
#define ATA_SR_BSY  0x80u /* busy: the drive owns the registers */
#define ATA_SR_DRDY 0x40u /* drive ready to accept commands */
#define ATA_SR_DF   0x20u /* device fault (never set here) */
#define ATA_SR_DSC  0x10u /* seek complete (always set here: nothing seeks) */
#define ATA_SR_DRQ  0x08u /* data request: a 512-byte block waits at the data port */
#define ATA_SR_ERR  0x01u /* the last command failed: see the error register */

/* Error register bits (offset 1 read), valid when ERR is set. */
#define ATA_ER_UNC  0x40u /* uncorrectable data error (our host read failed) */
#define ATA_ER_IDNF 0x10u /* ID not found: the address is outside the disk */
#define ATA_ER_ABRT 0x04u /* command aborted: unsupported, or it could not be done */

/* Drive/head register (offset 6). */
#define ATA_DH_OBS  0xA0u /* bits 7 and 5: obsolete, always read as one (QEMU forces them) */
#define ATA_DH_LBA  0x40u /* address is an LBA, not cylinder/head/sector */
#define ATA_DH_DEV  0x10u /* 0 = master (device 0), 1 = slave (device 1) */

/* Device control register (control block write). */
#define ATA_DC_SRST 0x04u /* software reset, held while 1 */
#define ATA_DC_NIEN 0x02u /* 1 = INTRQ disabled (polling drivers set it) */

/* Commands this drive knows. */
#define ATA_CMD_READ_SECTORS    0x20u
#define ATA_CMD_READ_SECTORS_NR 0x21u /* "without retries": obsolete alias */
#define ATA_CMD_WRITE_SECTORS   0x30u
#define ATA_CMD_WRITE_SECTORS_NR 0x31u
#define ATA_CMD_FLUSH_CACHE     0xE7u
#define ATA_CMD_IDENTIFY        0xECu
#define ATA_CMD_SET_FEATURES    0xEFu

/* HVT_GUEST_ERROR data values: what the guest did wrong (appendix C row), and arg. */
enum ata_guest_error {
	ATA_GE_NO_DRQ = 1,      /* L1 data port used while DRQ is clear: arg = value written (0 on a read) */
	ATA_GE_BAD_WIDTH = 2,   /* a register accessed with a width it does not have: arg = offset */
	ATA_GE_BUSY_CMD = 3,    /* L4 command written while BSY/DRQ: ignored; arg = command */
	ATA_GE_BUSY_REG = 4,    /* L4 taskfile register written while BSY/DRQ: ignored;
				   arg = offset << 8 | value */
	ATA_GE_NO_DEVICE = 5,   /* L2 command to the absent slave or with no disk: ignored; arg = command */
	ATA_GE_UNSUPPORTED = 6, /* L2 command (or SET FEATURES subcommand) not supported: ABRT;
				   arg = command | features << 8 */
	ATA_GE_CHS = 7,         /* command without the LBA bit: ABRT; arg = command */
	ATA_GE_RANGE = 8,       /* L3 LBA range beyond the capacity: IDNF; arg = lba | count << 32 */
	ATA_GE_RESET_XFER = 9,  /* L4 SRST while a transfer was in progress: arg = its command */
	ATA_GE_MAX = 9
};

/* Which way the data port is moving data, if at all (DRQ is set iff not ATA_XFER_NONE). */
enum ata_xfer { ATA_XFER_NONE = 0, ATA_XFER_IN = 1, ATA_XFER_OUT = 2 };

struct ata {
	struct disk *disk;          /* NULL: no drive on the cable (every register reads 0) */
	struct trace_writer *trace; /* may be NULL; set by vm.c; HVT_GUEST_ERROR records go here */

	/* INTRQ, a level: called only when the level changes */
	void (*set_irq)(void *ctx, int level);
	void *irq_ctx;
	int irq_level;
	bool irq_pending;           /* the drive wants attention; INTRQ = pending && !nIEN && master */

	/* the taskfile: what the guest wrote (and what the drive reports back) */
	uint8_t features, error, nsect, lbal, lbam, lbah, select, status, devctl;
	bool write_cache;           /* SET FEATURES 0x02/0x82; off: every WRITE ends with a flush */

	/* the PIO transfer in progress */
	enum ata_xfer xfer;
	uint8_t command;            /* the command that owns the transfer (for traces) */
	uint8_t buf[ATA_SECTOR_SIZE];
	uint32_t pos;               /* next byte of buf at the data port, 0 .. 510, even */
	uint32_t lba;               /* the sector in buf (READ/WRITE) */
	uint32_t remaining;         /* sectors left including the one in buf, 0 .. 256 */
	bool counts_sectors;        /* READ/WRITE (true) or IDENTIFY (false) */

	/* counters for hv's summary and the tests; they survive resets */
	uint64_t commands;          /* commands the drive started (including those that failed) */
	uint64_t sectors_read, sectors_written;
	uint64_t flushes;           /* FLUSH CACHE commands (and write-cache-off write flushes) */
	uint64_t aborts;            /* commands that ended with ERR */
	uint64_t data_overruns;     /* data-port accesses with DRQ clear (L1) */
	uint64_t bad_width;         /* accesses of a width the register does not have */
	uint64_t ignored;           /* commands/register writes ignored (busy, absent device) */
	uint64_t guest_errors;      /* HVT_GUEST_ERROR events (emitted if trace != NULL) */
};

extern const struct device_ops ata_cmd_ops; /* register at HV_PORT_ATA_CMD, ATA_CMD_LEN */
extern const struct device_ops ata_ctl_ops; /* register at HV_PORT_ATA_CTL, ATA_CTL_LEN, same dev */

/* A drive in its power-on state on `disk` (may be NULL), or NULL with errno = ENOMEM. The
 * disk stays the caller's; its trace_dev is set to HVT_DISK_ATA. */
struct ata *ata_create(struct disk *disk);
void ata_destroy(struct ata *a);

/* Wire INTRQ (IRQ 14 on a PC). set_irq may be NULL (polling only). */
void ata_connect_irq(struct ata *a, void (*set_irq)(void *ctx, int level), void *ctx);

#endif
