/*
 * ata.h - the guests' polling driver for an ATA (IDE) disk on the primary channel, PIO, LBA28.
 *
 * Concept: the guest side of full virtualization of a disk. This driver speaks the register
 * protocol of a real IDE drive (ports 0x1F0-0x1F7, 0x3F6) and runs unchanged on real
 * hardware, on QEMU's "-M pc" IDE and on hv's emulated drive (hv/dev/ata.c), where every IN
 * and OUT below is a VM exit. Because hv's drive is never busy, the number of exits each call
 * costs is exact, and the formulas below are what the trace of the 'diskio' guest shows.
 * Textbook: chapter 4 "Two I/O paths", section "Full virtualization: the legacy ATA disk".
 *
 * Exit cost on hv (nothing is ever busy, so every poll succeeds at its first read):
 *
 *   every command, the prelude                                              8 exits
 *     1 IN  status         wait until not BSY (and check no DRQ is left over)
 *     6 OUT taskfile       drive/head, sector count, LBA 0-7, 8-15, 16-23, command
 *                          (the features register is not written: no command here needs it)
 *     1 IN  alt status     where ATA wants 400 ns before status is valid (ata.c, top)
 *   per sector, data in (READ, IDENTIFY)                                    2 exits
 *     1 IN  status         wait for DRQ, check ERR/DF
 *     1 INS `rep insw` of 256 words: ONE exit, because KVM's emulator reads ahead a
 *                          whole page worth of string input (count = 256 in the trace)
 *   per sector, data out (WRITE)                                          257 exits
 *     1 IN  status         wait for DRQ, check ERR/DF
 *   256 OUTS `rep outsw`   one exit per word: KVM does not batch string output
 *   every command, the end                                                  1 exit
 *     1 IN  status         wait until not BSY, check ERR/DF and that DRQ is clear
 *
 *   ata_read  (S sectors)  = 8 + 2 S + 1   = 2 S + 9      (S = 1: 11, S = 8: 25, S = 256: 521)
 *   ata_write (S sectors)  = 8 + 257 S + 1 = 257 S + 9    (S = 1: 266, S = 8: 2065)
 *   ata_flush              = 8 + 1         = 9
 *   IDENTIFY (inside init) = 2 * 1 + 9     = 11           (a one-sector read)
 *   ata_init, drive found  = 1 OUT device control (nIEN) + 1 OUT drive/head (master)
 *                            + 4 IN alt status (where ATA wants 400 ns after selecting a device,
 *                            and the presence check) + IDENTIFY = 2 + 4 + 11 = 17
 *   ata_init, no drive     = 2 + 4 = 6 (alt status read 0x00 or 0xFF)
 *   a failed command costs 1 more exit: the error register is read for ata_last_error().
 *   So a READ/WRITE the drive refuses at once (LBA past the end: IDNF) costs 8 + 1 + 1 = 10.
 *   Invalid arguments (nsect 0 or > 256, LBA beyond 28 bits) cost 0 exits.
 *
 * The `rep insw` count assumes the sector's 512 bytes do not cross a 4 KiB page in guest
 * memory (KVM stops the read-ahead at the page end): keep buffers 512-byte aligned. A
 * misaligned buffer still works, at up to 2 exits per sector.
 *
 * On real hardware, drives are busy for milliseconds: every wait is a poll bounded by
 * ATA_POLL_MAX status reads, after which the call fails with ATA_ETIMEDOUT.
 *
 * ---- Interrupt mode (ata_irq_mode(1) before ata_init; the caller owns the IDT and PIC) ----
 *
 * ata_init writes nIEN = 0 instead of 1, and the caller routes IRQ 14 to ata_irq(). Then the
 * ATA PIO protocols say where the drive interrupts, and the driver halts there (sti; hlt)
 * instead of polling status:
 *   data-in  (READ, IDENTIFY)  one interrupt per sector, when its DRQ block is ready; none
 *                              after the last one, so the end is still one status read
 *   data-out (WRITE)           no interrupt for the first block (DRQ is polled, 1 IN), then
 *                              one per sector written: "next block wanted" or "done"
 *   non-data (FLUSH)           one interrupt at completion
 * ata_irq() reads the status register, which is the drive's acknowledge (INTRQ drops), so
 * the per-sector status IN moves into the handler; the caller's dispatcher adds the PIC's
 * EOI (2 OUT for IRQ 14: slave, master). Exits to the ATA ports are therefore exactly the
 * polling formulas above (read 2 S + 9, write 257 S + 9, flush 9, init 17), and each
 * interrupt adds 2 OUT to the PICs and 1 HLT: S for a read or a write, 1 for a flush and for
 * the IDENTIFY in ata_init. A drive that never interrupts leaves the CPU halted (no timer
 * runs): the host's timeout ends the run.
 */
#ifndef GUEST_ATA_H
#define GUEST_ATA_H

#include <stdint.h>

/* Return values: 0 or one of these. */
#define ATA_OK         0
#define ATA_ENODEV    -1 /* no drive (status reads 0x00 or 0xFF) */
#define ATA_EIO       -2 /* the drive reported ERR or DF, or a protocol step went wrong */
#define ATA_ETIMEDOUT -3 /* BSY never cleared within ATA_POLL_MAX status reads */
#define ATA_EINVAL    -4 /* bad arguments: nothing was sent to the drive */
#define ATA_ENOTSUP   -5 /* the drive cannot do LBA addressing (this driver needs it) */

/* Status reads per wait before giving up. A real drive spinning up may take seconds; on hv
 * the first read always succeeds. */
#define ATA_POLL_MAX 10000000u

struct ata_info {
	uint32_t sectors;    /* LBA28 capacity, IDENTIFY words 60-61 */
	int flush_supported; /* FLUSH CACHE (word 83 bit 12, with word 83 valid) */
	char model[41];      /* words 27-46, byte-swapped back, trailing spaces removed */
	char serial[21];     /* words 10-19, the same */
};

/* Select the master, set nIEN (polling; clear it in interrupt mode), IDENTIFY. 0, or
 * ATA_ENODEV, ATA_EIO, ATA_ETIMEDOUT, ATA_ENOTSUP. */
int ata_init(struct ata_info *info);

/* Interrupt mode on (1) or off (0, the default), for the next ata_init and every call after
 * it. Interrupt mode needs IRQ 14 routed to ata_irq and unmasked before ata_init. */
void ata_irq_mode(int on);

/* The IRQ 14 handler's device part: 1 IN (status, the acknowledge). Runs with IF = 0. */
void ata_irq(void);

/* READ SECTORS / WRITE SECTORS: nsect 1..256 sectors at lba (lba + nsect <= 2^28), buf
 * nsect * 512 bytes, 512-byte aligned for the exit counts above. */
int ata_read(uint32_t lba, void *buf, uint32_t nsect);
int ata_write(uint32_t lba, const void *buf, uint32_t nsect);

/* FLUSH CACHE: returns when the drive says written data is durable. */
int ata_flush(void);

/* After a failed call: status << 8 | error register (0 if the failure was a timeout or bad
 * arguments, where there is no drive error to report). */
uint16_t ata_last_error(void);

#endif
