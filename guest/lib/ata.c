/*
 * ata.c - a polling PIO driver for the master drive on the primary ATA (IDE) channel.
 *
 * Concept: what a kernel's legacy disk driver does, stripped to the protocol. A request is
 * described by writing the "taskfile", six 8-bit registers (which drive, how many sectors,
 * the 28-bit LBA, the command); then the driver polls the status register and moves each
 * 512-byte sector through one 16-bit data port. There is no memory shared with the device and
 * no DMA: the CPU carries every word. On hv each IN/OUT is a VM exit (hv/dev/ata.c answers
 * it), so this file is the "before" picture of chapter 4; virtio-blk is the "after".
 * Textbook: chapter 4 "Two I/O paths", section "Full virtualization: the legacy ATA disk".
 *
 * Written with real drives in mind: every wait is bounded and ERR and DF are checked at every
 * step. Where the ATA standard asks for a 400 ns pause, the driver reads the alternate status
 * register (no side effects). That marks the place but is shorter than 400 ns on real
 * hardware, where a timed delay must follow (Linux: one read, then ndelay(400)); hv's and
 * QEMU's drives have a valid status at once (textbook appendix B, section B.7). The exit cost of each call is in ata.h; every IN and
 * OUT below is marked with the line of that table it belongs to.
 *
 * Interrupt mode (ata_irq_mode, ata.h) changes only *how the driver waits* where the ATA
 * protocols say the drive interrupts: it halts until ata_irq() has run instead of polling
 * status. The taskfile, the data transfers and every check stay the same.
 *
 * Freestanding 32-bit code (gcc -m32 -ffreestanding): no libc, port I/O through inline asm.
 */
#include <stdint.h>

#include "ata.h"
#include "idt32.h"
#include "portio.h"
#include "layout.h"

/* Command block registers, offsets from HV_PORT_ATA_CMD (0x1F0). */
enum {
	ATA_DATA = 0,    /* 16-bit data port */
	ATA_ERROR = 1,   /* read: why the last command failed */
	ATA_NSECT = 2,   /* sector count (0 means 256) */
	ATA_LBA_LO = 3,  /* LBA bits 0-7 */
	ATA_LBA_MID = 4, /* LBA bits 8-15 */
	ATA_LBA_HI = 5,  /* LBA bits 16-23 */
	ATA_DEVICE = 6,  /* drive/head: LBA mode, which drive, LBA bits 24-27 */
	ATA_STATUS = 7,  /* read: status (and it acknowledges an interrupt) */
	ATA_COMMAND = 7, /* write: start a command */
};

/* Status bits. */
#define ST_BSY  0x80 /* busy: no other bit is valid */
#define ST_DRDY 0x40 /* ready for commands */
#define ST_DF   0x20 /* device fault */
#define ST_DRQ  0x08 /* a data block is ready / wanted at the data port */
#define ST_ERR  0x01 /* the command failed: read the error register */

/* Drive/head: 0xE0 = obsolete bits 7 and 5 (set, as drives of every age accept) + LBA
   (bit 6) + DEV = 0 (the master). The low four bits carry LBA bits 24-27. */
#define DEV_MASTER_LBA 0xE0
#define DEV_MASTER     0xA0

/* Device control: nIEN = 1, the drive never raises IRQ 14 (we poll, interrupts are off).
   0 lets the drive assert INTRQ (interrupt mode). */
#define CTL_NIEN 0x02
#define CTL_IEN  0x00

#define CMD_READ_SECTORS  0x20
#define CMD_WRITE_SECTORS 0x30
#define CMD_FLUSH_CACHE   0xE7
#define CMD_IDENTIFY      0xEC

#define ATA_SECTOR_WORDS 256u
#define ATA_LBA28_LIMIT  0x10000000u /* 2^28 sectors */

/* What the last failure looked like: status << 8 | error. */
static uint16_t last_error;

/* Interrupt mode. The handler (ata_irq) counts interrupts and keeps the status it read; the
   driver counts how many it has used, so "an interrupt I have not used yet" is
   irq_count != irq_used. volatile: the handler changes them behind the compiler's back. */
static int irq_mode;
static volatile uint32_t irq_count;
static volatile uint8_t irq_status;
static uint32_t irq_used;

/* Halts allowed per wait that end without our interrupt (another line woke us). */
#define ATA_IRQ_WAKE_MAX 1000000u

/* IDENTIFY lands here: 512-byte aligned, so the `rep insw` stays inside one page (1 exit). */
static uint16_t identify_buf[ATA_SECTOR_WORDS] __attribute__((aligned(512)));

/* Port I/O: portio.h (one instruction each; `rep insw` is 1 exit per sector on KVM, `rep
   outsw` 256: ata.h). */

static inline uint8_t ata_status(void)
{
	return port_read8(HV_PORT_ATA_CMD + ATA_STATUS);
}

/* The alternate status: the same bits, without acknowledging anything. */
static inline uint8_t ata_alt_status(void)
{
	return port_read8(HV_PORT_ATA_CTL);
}

/* ---- waiting ---- */

/*
 * A failed step: remember the status, and if the drive reported an error, read the error
 * register too (1 extra exit, only on failure).
 */
static int ata_fail(int status, int rc)
{
	uint8_t err = 0;

	if (status >= 0 && (status & (ST_ERR | ST_DF)))
		err = port_read8(HV_PORT_ATA_CMD + ATA_ERROR);
	last_error = (uint16_t)((status >= 0 ? (unsigned)status << 8 : 0u) | err);
	return rc;
}

/* Poll status until BSY clears: the status then, or ATA_ETIMEDOUT. While BSY is set no other
   bit means anything. On hv: exactly one read. */
static int ata_wait_not_busy(void)
{
	for (uint32_t i = 0; i < ATA_POLL_MAX; i++) {
		uint8_t s = ata_status();
		if (!(s & ST_BSY))
			return s;
	}
	return ATA_ETIMEDOUT;
}

/*
 * Interrupt mode: halt until the drive interrupts, and return the status the handler read
 * (its acknowledge), or ATA_ETIMEDOUT. Interrupts are on only inside idt32_halt's
 * "sti; hlt", so the check and the halt cannot race (idt32.h). A drive interrupts only once
 * BSY is clear; should one report BSY anyway, poll the rest of the way.
 */
static int ata_wait_irq(void)
{
	for (uint32_t i = 0; i < ATA_IRQ_WAKE_MAX; i++) {
		if (irq_count != irq_used) {
			uint8_t s = irq_status;

			irq_used = irq_count;
			return (s & ST_BSY) ? ata_wait_not_busy() : s;
		}
		idt32_halt();
	}
	return ATA_ETIMEDOUT;
}

void ata_irq(void)
{
	irq_status = ata_status(); /* reading status drops INTRQ: the drive's acknowledge */
	irq_count++;
}

void ata_irq_mode(int on)
{
	irq_mode = on != 0;
}

/* A block must be on offer (or wanted): ERR/DF end the command; neither error nor DRQ means
   the drive stopped early. s is a status, or a negative error from the wait. */
static int ata_check_drq(int s)
{
	if (s < 0)
		return ata_fail(-1, s);
	if (s & (ST_ERR | ST_DF))
		return ata_fail(s, ATA_EIO);
	if (!(s & ST_DRQ))
		return ata_fail(s, ATA_EIO);
	return ATA_OK;
}

/* Per sector, polling: wait until the drive offers (or asks for) a block. On hv: 1 IN. */
static int ata_wait_drq(void)
{
	return ata_check_drq(ata_wait_not_busy());
}

/* Per sector where the protocol interrupts: the interrupt in interrupt mode, else a poll. */
static int ata_next_drq(void)
{
	return ata_check_drq(irq_mode ? ata_wait_irq() : ata_wait_not_busy());
}

/* End of a command: not busy, no error, and no data left over. */
static int ata_check_done(int s)
{
	if (s < 0)
		return ata_fail(-1, s);
	if (s & (ST_ERR | ST_DF | ST_DRQ))
		return ata_fail(s, ATA_EIO);
	return ATA_OK;
}

/* The end of a data-in command: the drive does not interrupt after the last block, so this
   is a status read in both modes. 1 IN. */
static int ata_wait_done(void)
{
	return ata_check_done(ata_wait_not_busy());
}

/* The end of a data-out or non-data command: it interrupts (interrupt mode) or is polled. */
static int ata_wait_done_irq(void)
{
	return ata_check_done(irq_mode ? ata_wait_irq() : ata_wait_not_busy());
}

/* ---- issuing a command: the 8-exit prelude of ata.h ---- */

/*
 * 1 IN: the drive must be idle and ready (DRDY) before its registers may be written (writes
 * while BSY or DRQ are ignored by drives, hv's included). A DRQ left over from someone else's
 * unfinished transfer is an error, not something to wait out.
 * 6 OUT: the taskfile, drive/head first (it selects which drive latches the rest), the
 * command last (it starts everything). The count register takes 256 as 0.
 * 1 IN: the alternate status, where ATA wants a 400 ns pause before the status register is
 * valid (a real drive would need a timed delay as well; see the top of this file).
 */
static int ata_issue(uint8_t cmd, uint32_t lba, uint32_t nsect)
{
	int s = ata_wait_not_busy();

	if (s < 0)
		return ata_fail(-1, s);
	if ((s & ST_DRQ) || !(s & ST_DRDY))
		return ata_fail(s, ATA_EIO);
	/* That status read also dropped any INTRQ still pending: start counting afresh. */
	irq_used = irq_count;
	port_write8(HV_PORT_ATA_CMD + ATA_DEVICE, (uint8_t)(DEV_MASTER_LBA | ((lba >> 24) & 0x0F)));
	port_write8(HV_PORT_ATA_CMD + ATA_NSECT, (uint8_t)nsect);
	port_write8(HV_PORT_ATA_CMD + ATA_LBA_LO, (uint8_t)lba);
	port_write8(HV_PORT_ATA_CMD + ATA_LBA_MID, (uint8_t)(lba >> 8));
	port_write8(HV_PORT_ATA_CMD + ATA_LBA_HI, (uint8_t)(lba >> 16));
	port_write8(HV_PORT_ATA_CMD + ATA_COMMAND, cmd);
	(void)ata_alt_status();
	return ATA_OK;
}

/* nsect 1..256 and the whole range below 2^28 (written so nothing overflows). */
static int ata_args_ok(uint32_t lba, uint32_t nsect)
{
	return nsect >= 1 && nsect <= 256 && lba < ATA_LBA28_LIMIT &&
	       nsect <= ATA_LBA28_LIMIT - lba;
}

/* PIO data-in for nsect blocks into buf, then the final status: 2 exits per sector + 1. */
static int ata_data_in(void *buf, uint32_t nsect)
{
	uint16_t *p = buf;

	for (uint32_t i = 0; i < nsect; i++) {
		int rc = ata_next_drq();  /* data-in: every block is announced by an interrupt */
		if (rc < 0)
			return rc;
		port_read16_rep(HV_PORT_ATA_CMD + ATA_DATA, p, ATA_SECTOR_WORDS);
		p += ATA_SECTOR_WORDS;
	}
	return ata_wait_done();
}

/* ---- the API ---- */

int ata_read(uint32_t lba, void *buf, uint32_t nsect)
{
	if (!ata_args_ok(lba, nsect))
		return ata_fail(-1, ATA_EINVAL);
	int rc = ata_issue(CMD_READ_SECTORS, lba, nsect);
	if (rc < 0)
		return rc;
	return ata_data_in(buf, nsect);
}

/* PIO data-out: after each block the drive writes it (BSY on real drives), then asks for the
   next one with DRQ, or finishes. 257 exits per sector on hv, + 9. The first DRQ comes
   without an interrupt (ATA: the host polls for it), every later one and the end with one. */
int ata_write(uint32_t lba, const void *buf, uint32_t nsect)
{
	const uint16_t *p = buf;

	if (!ata_args_ok(lba, nsect))
		return ata_fail(-1, ATA_EINVAL);
	int rc = ata_issue(CMD_WRITE_SECTORS, lba, nsect);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < nsect; i++) {
		rc = i == 0 ? ata_wait_drq() : ata_next_drq();
		if (rc < 0)
			return rc;
		port_write16_rep(HV_PORT_ATA_CMD + ATA_DATA, p, ATA_SECTOR_WORDS);
		p += ATA_SECTOR_WORDS;
	}
	return ata_wait_done_irq();
}

/* FLUSH CACHE: no data, so prelude + the final wait (a real drive may be BSY for a while
   here, writing its cache to the platters; on hv this is where fdatasync runs). 9 exits. */
int ata_flush(void)
{
	int rc = ata_issue(CMD_FLUSH_CACHE, 0, 0);

	if (rc < 0)
		return rc;
	return ata_wait_done_irq();
}

uint16_t ata_last_error(void)
{
	return last_error;
}

/*
 * ATA strings: two characters per word, the first in the high byte. Swap them back, then cut
 * the space padding. `out` has room for len + 1 bytes.
 */
static void ata_copy_string(char *out, const uint16_t *words, unsigned len)
{
	for (unsigned i = 0; i < len; i += 2) {
		out[i] = (char)(words[i / 2] >> 8);
		out[i + 1] = (char)(words[i / 2] & 0xFF);
	}
	out[len] = '\0';
	for (unsigned i = len; i > 0 && (out[i - 1] == ' ' || out[i - 1] == '\0'); i--)
		out[i - 1] = '\0';
}

/* Fill info from IDENTIFY data. Words 82-87 are valid when bit 14 is 1 and bit 15 is 0. */
static int ata_parse_identify(const uint16_t *id, struct ata_info *info)
{
	if (!(id[49] & (1u << 9)))
		return ata_fail(-1, ATA_ENOTSUP);
	info->sectors = (uint32_t)id[60] | (uint32_t)id[61] << 16;
	info->flush_supported = (id[83] & 0xC000u) == 0x4000u && (id[83] & (1u << 12));
	ata_copy_string(info->serial, id + 10, 20);
	ata_copy_string(info->model, id + 27, 40);
	return ATA_OK;
}

/*
 * 2 OUT: nIEN on (no interrupts: this driver polls) or off (interrupt mode), then select
 * the master.
 * 4 IN: the alternate status, four times: ATA wants 400 ns after selecting a device before its
 * status means anything. Four reads were the old rule for ISA buses (about 100 ns each); on a
 * modern chipset they may be faster, and a driver for real disks adds a timed delay. The last one is also the presence check: an empty channel reads 0x00 (QEMU, hv) or
 * 0xFF (nothing decodes the port at all, the bus floats high).
 * 11: IDENTIFY DEVICE, a one-sector data-in command.
 */
int ata_init(struct ata_info *info)
{
	uint8_t s = 0;

	port_write8(HV_PORT_ATA_CTL, irq_mode ? CTL_IEN : CTL_NIEN);
	port_write8(HV_PORT_ATA_CMD + ATA_DEVICE, DEV_MASTER);
	for (int i = 0; i < 4; i++)
		s = ata_alt_status();
	if (s == 0x00 || s == 0xFF) {
		last_error = (uint16_t)(s << 8); /* no error register to read: nobody is there */
		return ATA_ENODEV;
	}
	int rc = ata_issue(CMD_IDENTIFY, 0, 0);
	if (rc < 0)
		return rc;
	rc = ata_data_in(identify_buf, 1);
	if (rc < 0)
		return rc;
	return ata_parse_identify(identify_buf, info);
}
