/*
 * ata.c - an ATA (IDE) hard disk, emulated register by register, PIO only.
 *
 * Full virtualization of a disk: the guest's driver believes a drive sits on the primary IDE
 * channel, and every IN/OUT it executes on ports 0x1F0-0x1F7 and 0x3F6 is a VM exit that ends
 * up here. This file plays the drive's controller: it keeps the taskfile registers, runs the
 * ATA command protocol (PIO data-in, PIO data-out, non-data) and turns whole sectors into
 * disk_read / disk_write calls on the image (hv/disk.c). The protocol follows the ATA/ATAPI
 * standards (ATA-4 to ATA-6 era) and QEMU's hw/ide where the standard leaves room, closely
 * enough that Linux's legacy IDE/libata SFF code could drive it. ata.h lists every choice.
 * Textbook: chapter 4 "Two I/O paths", section "Full virtualization: the legacy ATA disk".
 *
 * The state machine, synchronous and deterministic (no timers, no threads):
 *
 *   idle (0x50) --READ--> first sector read into buf, DRQ (0x58), INTRQ
 *                 each 256 words read: next sector read, INTRQ; after the last: idle, no INTRQ
 *   idle (0x50) --WRITE-> DRQ (0x58) at once, no INTRQ
 *                 each 256 words written: disk_write, INTRQ; DRQ again or, after the last, idle
 *   idle (0x50) --FLUSH/SET FEATURES--> done at once, INTRQ
 *   any         --error--> 0x51 with the error register set, INTRQ
 *   any         --SRST=1--> 0x90 (BSY) until SRST=0, then idle with the reset signature
 *
 * A real drive is BSY between those steps (seeking, reading the platter); ours has already
 * finished before the guest's OUT returns, so a guest never sees BSY outside SRST. That is
 * also why the exit counts of the guest driver (guest/lib/ata.h) are exact: every status
 * poll succeeds on the first read.
 *
 * Hostile-guest rows (textbook appendix C, section C.4) are marked
 * L1-L6 where they are handled. There is no assert() on anything a guest can reach (L6): every
 * impossible-looking state has a defined answer instead.
 */
#include "ata.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

/*
 * Command block register offsets. Offsets 1 and 7 are two registers each: a read reaches one
 * (error, status), a write the other (features, command). So reading status can never start a
 * command, and a driver cannot read back the features or the command it wrote. Registers 2-6
 * read back what was written (or where a transfer has got to, ata_set_position). The table is
 * in textbook ch04 "The taskfile, register by register".
 */
enum {
	ATA_REG_DATA = 0, ATA_REG_ERROR = 1, ATA_REG_FEATURES = 1, ATA_REG_NSECT = 2,
	ATA_REG_LBAL = 3, ATA_REG_LBAM = 4, ATA_REG_LBAH = 5, ATA_REG_SELECT = 6,
	ATA_REG_STATUS = 7, ATA_REG_COMMAND = 7,
};

/*
 * The status of an idle, healthy drive: ready, and (always) seek complete. 0x50 is the value a
 * driver's "wait until not BSY and DRDY" loop wants; since this drive is never busy, that loop
 * ends on its first read, which is what makes the exit counts of ch04 "Exits per call" exact.
 */
#define ATA_SR_IDLE (ATA_SR_DRDY | ATA_SR_DSC)

/* The error register after a reset or power-on: the diagnostic code "device 0 passed, device
 * 1 passed or not present" (ATA: EXECUTE DEVICE DIAGNOSTIC codes). */
#define ATA_DIAG_PASSED 0x01u

/* IDENTIFY DEVICE is 256 16-bit words. */
#define ATA_ID_WORDS 256u

/* ---- small helpers ----------------------------------------------------------------------- */

/*
 * DEV = 0: the master, the only drive on our cable. On a real cable both drives latch every
 * taskfile write, and only the one whose number matches DEV drives the bus on a read and
 * accepts a command. That is why a register write always lands (ata_write_reg) while a read of
 * status or error, and a command, depend on who is selected.
 */
static bool ata_master_selected(const struct ata *a)
{
	return !(a->select & ATA_DH_DEV);
}

/* Does a drive answer register reads right now? Only the master, and only if it exists. */
static bool ata_drive_answers(const struct ata *a)
{
	return a->disk && ata_master_selected(a);
}

/*
 * One guest misbehaviour: counted always, and one HVT_GUEST_ERROR record when tracing. The guest
 * decides how often this runs, so it costs a counter and a fixed 64-byte record, never a line
 * on stderr (appendix C, R1), and never an allocation. The
 * device was not placed by the bus at a port of its choosing, but the legacy channel lives at
 * fixed ports on every PC (layout.h), so the record can name the real port.
 */
static void ata_guest_error(struct ata *a, uint64_t port, enum ata_guest_error why, uint64_t arg,
			    uint32_t size, bool is_write)
{
	a->guest_errors++;
	if (!a->trace)
		return;
	struct hvt_record r = {
		.time_ns = trace_now(a->trace), .vcpu = trace_thread_id(),
		.kind = HVT_GUEST_ERROR, .reason = HVT_R_IO, .size = (uint8_t)size,
		.addr = port, .data = why, .arg = arg, .count = 1,
		.flags = is_write ? HVT_F_WRITE : 0,
	};
	trace_emit(a->trace, &r);
}

/*
 * An access of a width the register does not have: reads see all ones, writes do nothing. All
 * ones is what an ISA read that nobody answers returns (the data lines float high), and the
 * UART, the PICs and the timer give the same answer (appendix C, S2).
 */
static void ata_bad_width(struct ata *a, uint64_t port, uint64_t off, uint8_t *data,
			  uint32_t size, bool is_write)
{
	a->bad_width++;
	if (!is_write)
		memset(data, 0xFF, size);
	ata_guest_error(a, port, ATA_GE_BAD_WIDTH, off, size, is_write);
}

/*
 * INTRQ. ATA: the drive asserts it when it has an interrupt pending, nIEN is 0 and it is the
 * selected device; otherwise the pin is released (high impedance), so the line is low. The
 * callback runs only when the level changes, so a guest re-reading status a million times
 * injects nothing (the UART's S6 lesson again).
 *
 * The line is IRQ 14, input 6 of the slave 8259A (hv/dev/board.c wires it). nIEN masks the
 * pin, not the condition: irq_pending survives, so a driver that clears nIEN while an interrupt
 * is pending sees INTRQ rise at once (ata_ctl_write_op calls this after the write). A driver
 * that polls (guest/lib/ata.c sets nIEN in ata_init) never sees IRQ 14 at all. Textbook ch04
 * "The path of one interrupt" follows the line from here to the guest's handler.
 */
static void ata_update_irq(struct ata *a)
{
	int level = a->irq_pending && !(a->devctl & ATA_DC_NIEN) && ata_drive_answers(a);

	if (level == a->irq_level)
		return;
	a->irq_level = level;
	if (a->set_irq)
		a->set_irq(a->irq_ctx, level);
}

/*
 * What the guest can address with LBA28, capped by the image: the capacity IDENTIFY reports.
 * Sectors of an image beyond 2^28 - 1 are simply unreachable: reaching them takes LBA48
 * (READ SECTORS EXT, 24h), which this drive aborts.
 */
static uint32_t ata_capacity(const struct ata *a)
{
	return a->disk->sectors > ATA_LBA28_MAX ? ATA_LBA28_MAX : (uint32_t)a->disk->sectors;
}

/*
 * The 28-bit LBA the taskfile holds: drive/head bits 3-0 are LBA bits 27-24. In CHS days those
 * four bits were the head number; LBA mode reused them, which is why LBA28 has 28 bits: three
 * 8-bit registers plus one nibble.
 */
static uint32_t ata_taskfile_lba(const struct ata *a)
{
	return (uint32_t)(a->select & 0x0Fu) << 24 | (uint32_t)a->lbah << 16 |
	       (uint32_t)a->lbam << 8 | a->lbal;
}

/*
 * Write the transfer's position back into the taskfile after every sector, as QEMU does: the
 * LBA registers name the next sector, the count register the sectors left (256 reads as 0).
 * On an error the registers therefore name the sector that failed, which is what ATA asks a
 * drive to report.
 */
static void ata_set_position(struct ata *a, uint32_t lba, uint32_t remaining)
{
	a->lbal = (uint8_t)lba;
	a->lbam = (uint8_t)(lba >> 8);
	a->lbah = (uint8_t)(lba >> 16);
	a->select = (uint8_t)((a->select & 0xF0u) | ((lba >> 24) & 0x0Fu));
	a->nsect = (uint8_t)remaining;
}

/* ---- ending a command ---------------------------------------------------------------------- */

/* Stop moving data: DRQ clears and the buffer index goes back to 0 (never left dangling, L4). */
static void ata_stop_transfer(struct ata *a)
{
	a->xfer = ATA_XFER_NONE;
	a->pos = 0;
	a->remaining = 0;
}

/* Success: ready for the next command. Whether INTRQ follows depends on the protocol. */
static void ata_end_ok(struct ata *a)
{
	ata_stop_transfer(a);
	a->status = ATA_SR_IDLE;
}

/*
 * Failure: ERR in status, the reason in the error register, and always an interrupt. The error
 * register is only meaningful while ERR is set; the next command clears it (ata_command). The
 * interrupt matters to an interrupt-driven driver: it sleeps until INTRQ, and a failure that
 * raised nothing would leave it asleep.
 */
static void ata_end_error(struct ata *a, uint8_t err)
{
	ata_stop_transfer(a);
	a->status = ATA_SR_IDLE | ATA_SR_ERR;
	a->error = err;
	a->aborts++;
	a->irq_pending = true;
}

/* ---- the data phases ----------------------------------------------------------------------- */

/*
 * A data-in block is ready: DRQ, and an interrupt per block (the PIO data-in protocol). The
 * host's side of that protocol: wait for INTRQ (or poll), read status (which acknowledges the
 * interrupt, ata_read_reg), see DRQ, then read 256 words from the data port.
 */
static void ata_start_in(struct ata *a)
{
	a->xfer = ATA_XFER_IN;
	a->pos = 0;
	a->status = ATA_SR_IDLE | ATA_SR_DRQ;
	a->irq_pending = true;
}

/*
 * Fetch the sector a->lba into the buffer and offer it at the data port. One disk_read (one
 * pread, one HVT_DISK record) per sector: the trace then shows the drive's rhythm, a sector
 * per 256 words, rather than one big read up front. The range was checked when the command
 * was written; -ERANGE here would mean the image shrank, reported like any address error.
 */
static void ata_read_sector(struct ata *a)
{
	int rc = disk_read(a->disk, a->lba, a->buf, 1);

	if (rc < 0) {
		ata_end_error(a, rc == -ERANGE ? ATA_ER_IDNF : ATA_ER_UNC);
		return;
	}
	ata_start_in(a);
}

/* LAB 5 BEGIN data_in: the PIO data-in phase: the data port hands out a sector word by word */
/* The guest has read the last word of a block. Next sector, or done (no interrupt: PIO in). */
static void ata_in_block_done(struct ata *a)
{
	if (a->counts_sectors) {
		a->sectors_read++;
		a->lba++;
		a->remaining--;
		ata_set_position(a, a->lba, a->remaining);
	} else {
		a->remaining = 0; /* IDENTIFY: a single block */
	}
	if (a->remaining == 0) {
		ata_end_ok(a);
		return;
	}
	ata_read_sector(a);
}

/*
 * One 16-bit word through the data port (L1). With DRQ clear there is nothing to transfer:
 * the index does not move and the read returns 0. The index is checked at every access, not
 * trusted from the state: even a model bug could not index past buf.
 *
 * This is the cost of full virtualization in one function. A sector is 256 calls, and on real
 * hardware each is one bus cycle; here each `in` from port 0x1F0 is a VM exit, unless KVM
 * batched a `rep insw` into one exit with count = 256 (ata.h, and textbook
 * ch04 "`rep insw` = 1 exit, `rep outsw` = 256 exits"). The test is `pos > SIZE - 2` rather
 * than `pos + 2 > SIZE`: the same no-sum form as every range check in hv.
 */
static bool ata_data_in16(struct ata *a, uint16_t *v)
{
	if (a->xfer != ATA_XFER_IN || a->pos > ATA_SECTOR_SIZE - 2) {
		*v = 0;
		return false;
	}
	*v = (uint16_t)(a->buf[a->pos] | a->buf[a->pos + 1] << 8);
	a->pos += 2;
	if (a->pos == ATA_SECTOR_SIZE)
		ata_in_block_done(a);
	return true;
}

/* LAB 5 STUB
static bool ata_data_in16(struct ata *a, uint16_t *v)
{
	// TODO(lab 5): the PIO data-in phase (READ SECTORS, IDENTIFY). Hand the guest the next
	// word of a->buf (little-endian, a->pos advancing by 2) only while a data-in transfer is
	// on (a->xfer == ATA_XFER_IN) and a->pos is inside the buffer; else *v = 0 and return
	// false (L1: the index never moves past buf). After the 256th word: a READ moves to the
	// next sector (a->lba, a->remaining, ata_set_position, ata_read_sector) or ends
	// (ata_end_ok, no interrupt); IDENTIFY (a->counts_sectors false) ends after one block.
	// Textbook chapter 4 "Two I/O paths", section "The taskfile, register by register";
	// appendix C, section C.4.
	(void)a;
	(void)ata_set_position; // the casts only silence "unused" until you call these helpers
	(void)ata_read_sector;
	*v = 0;
	return false;
}
LAB 5 END */

/* LAB 5 BEGIN data_out: the PIO data-out phase: words in, a whole sector to the image */
/*
 * The guest has written the 256th word: the sector goes to the image now. An interrupt
 * follows every block, for the next DRQ or for the completion. With the write cache turned
 * off (SET FEATURES 0x82) the drive must not report completion before the data is durable,
 * so the last sector is followed by a flush.
 */
static void ata_out_block_done(struct ata *a)
{
	int rc = disk_write(a->disk, a->lba, a->buf, 1);

	if (rc < 0) {
		ata_end_error(a, rc == -ERANGE ? ATA_ER_IDNF : ATA_ER_ABRT);
		return;
	}
	a->sectors_written++;
	a->lba++;
	a->remaining--;
	ata_set_position(a, a->lba, a->remaining);
	a->irq_pending = true;
	if (a->remaining > 0) {
		a->pos = 0; /* DRQ stays set: the next block is wanted */
		return;
	}
	if (!a->write_cache) {
		a->flushes++;
		if (disk_flush(a->disk) < 0) {
			ata_end_error(a, ATA_ER_ABRT);
			return;
		}
	}
	ata_end_ok(a);
}

/*
 * The write side: the word goes into buf, and the 256th word sends the sector to the image.
 * KVM never batches `rep outsw` on the way to user space, so each of these calls is a whole
 * exit of its own: 256 exits per sector written. As on the read side, a guest that keeps
 * writing after the last word finds DRQ clear and its words dropped (L1); pos cannot pass buf.
 */
static bool ata_data_out16(struct ata *a, uint16_t v)
{
	if (a->xfer != ATA_XFER_OUT || a->pos > ATA_SECTOR_SIZE - 2)
		return false;
	a->buf[a->pos] = (uint8_t)v;
	a->buf[a->pos + 1] = (uint8_t)(v >> 8);
	a->pos += 2;
	if (a->pos == ATA_SECTOR_SIZE)
		ata_out_block_done(a);
	return true;
}

/* LAB 5 STUB
static bool ata_data_out16(struct ata *a, uint16_t v)
{
	// TODO(lab 5): the PIO data-out phase (WRITE SECTORS). Store the word in a->buf at a->pos
	// (low byte first) only while a data-out transfer is on (a->xfer == ATA_XFER_OUT) and
	// a->pos is inside the buffer; else return false (L1). With the 256th word the sector
	// goes to the image: disk_write(a->disk, a->lba, a->buf, 1) (an error ends the command:
	// IDNF for -ERANGE, else ABRT), count it in a->sectors_written, move on (ata_set_position),
	// raise a->irq_pending, then DRQ again for the next sector or, after the last, flush if the
	// write cache is off (a->flushes, disk_flush) and ata_end_ok.
	// Textbook chapter 4 "Two I/O paths", section "The taskfile, register by register".
	(void)a;
	(void)v;
	(void)ata_set_position; // the cast only silences "unused" until you call it
	return false;
}
LAB 5 END */

/* ---- IDENTIFY DEVICE --------------------------------------------------------------------- */

/* Words are little-endian in the buffer: the data port hands out word 0 first, low byte in AL. */
static void ata_id_word(uint8_t *buf, unsigned word, uint16_t v)
{
	buf[2 * word] = (uint8_t)v;
	buf[2 * word + 1] = (uint8_t)(v >> 8);
}

/*
 * ATA strings: `len` characters, space-padded, and in each word the *first* character is in
 * the high byte. So "HVLAB" read as bytes from the data port comes out "VHAL B": every driver
 * (Linux's ata_id_string) swaps each pair back. Characters outside printable ASCII become
 * spaces, so an odd serial number can never smuggle control bytes into a guest's console.
 */
static void ata_id_string(uint8_t *buf, unsigned word, const char *s, unsigned len)
{
	size_t n = strnlen(s, len);

	for (unsigned i = 0; i < len; i++) {
		char c = i < n ? s[i] : ' ';
		if (c < 0x20 || c > 0x7E)
			c = ' ';
		buf[2 * word + (i ^ 1u)] = (uint8_t)c;
	}
}

/* LAB 5 BEGIN identify: IDENTIFY DEVICE: build the 512-byte self-description and offer it */
/*
 * The 512-byte self-description a driver reads before anything else. Only the words a driver
 * of this era looks at are filled; every other word is 0, "not reported".
 */
static void ata_identify_fill(struct ata *a)
{
	uint8_t *b = a->buf;
	uint32_t cap = ata_capacity(a);

	memset(b, 0, ATA_SECTOR_SIZE);
	ata_id_word(b, 0, 0x0040);        /* bit 15 = 0: ATA device; bit 6: fixed (not removable) */
	/* words 1, 3, 6 (cylinders, heads, sectors per track) = 0: no CHS geometry (ata.h) */
	ata_id_string(b, 10, a->disk->serial, 20);  /* words 10-19: serial number */
	ata_id_string(b, 23, ATA_FIRMWARE, 8);      /* words 23-26: firmware revision */
	ata_id_string(b, 27, ATA_MODEL, 40);        /* words 27-46: model number */
	ata_id_word(b, 47, 0x8000);       /* bits 15:8 = 80h (required); bits 7:0 = 0: no
					     READ/WRITE MULTIPLE, one sector per DRQ block */
	ata_id_word(b, 49, 0x0A00);       /* bit 9: LBA supported; bit 11: IORDY supported (PIO 3/4);
					     bit 8 = 0: no DMA */
	ata_id_word(b, 50, 0x4000);       /* bit 14 shall be one */
	ata_id_word(b, 51, 0x0200);       /* obsolete PIO timing mode: 2 (QEMU reports the same) */
	ata_id_word(b, 53, 0x0002);       /* bit 1: words 64-70 valid; bit 0 = 0: no CHS words */
	ata_id_word(b, 59, 0x0000);       /* bit 8 = 0: no multiple-sector setting */
	ata_id_word(b, 60, (uint16_t)cap);          /* words 60-61: LBA28 capacity, low word first */
	ata_id_word(b, 61, (uint16_t)(cap >> 16));
	ata_id_word(b, 64, 0x0003);       /* advanced PIO modes 3 and 4 (modes 0-2 are implied) */
	ata_id_word(b, 65, 120);          /* cycle times in ns (65/66 DMA, 67/68 PIO): fastest */
	ata_id_word(b, 66, 120);
	ata_id_word(b, 67, 120);
	ata_id_word(b, 68, 120);
	ata_id_word(b, 80, 0x0070);       /* major versions: ATA/ATAPI-4, -5 and -6 */
	/* Words 82-87: command sets supported (82-84) and enabled (85-87). Bit 14 of 83/84/87
	 * "shall be one" and bit 15 zero: that is how a driver knows the words are valid. */
	ata_id_word(b, 82, 0x0020);       /* bit 5: volatile write cache */
	ata_id_word(b, 83, 0x5000);       /* bit 12: FLUSH CACHE; bit 14 */
	ata_id_word(b, 84, 0x4000);
	ata_id_word(b, 85, a->write_cache ? 0x0020 : 0x0000); /* bit 5: write cache enabled */
	ata_id_word(b, 86, 0x1000);       /* bit 12: FLUSH CACHE enabled */
	ata_id_word(b, 87, 0x4000);
	/*
	 * Word 255, the integrity word: signature A5h in the low byte, and a high byte chosen so
	 * the 512 bytes sum to 0 modulo 256. Linux checks it when the signature is present.
	 */
	uint8_t sum = 0xA5;
	for (unsigned i = 0; i < ATA_SECTOR_SIZE - 2; i++)
		sum = (uint8_t)(sum + b[i]);
	ata_id_word(b, ATA_ID_WORDS - 1, (uint16_t)(0xA5u | (uint8_t)(0u - sum) << 8));
}

/*
 * IDENTIFY DEVICE (ECh): one PIO data-in block, built rather than read from the image.
 * counts_sectors = false keeps the LBA registers and the sector counters untouched
 * (ata_in_block_done).
 */
static void ata_cmd_identify(struct ata *a)
{
	ata_identify_fill(a);
	a->remaining = 1;
	a->counts_sectors = false;
	ata_start_in(a);
}

/* LAB 5 STUB
static void ata_cmd_identify(struct ata *a)
{
	// TODO(lab 5): IDENTIFY DEVICE (ECh). Build the drive's 256-word self-description in
	// a->buf (words a driver reads: 0 general config, 10-19 serial (a->disk->serial), 23-26
	// firmware (ATA_FIRMWARE), 27-46 model (ATA_MODEL), 47, 49 (LBA), 50, 53, 60-61 the LBA28
	// capacity (ata_capacity), 80, 82-87 (FLUSH CACHE, write cache), 255 the checksum; every
	// other word 0), then offer it as one PIO data-in block (ata_start_in) with
	// a->remaining = 1 and a->counts_sectors = false. Helpers: ata_id_word, ata_id_string.
	// Textbook chapter 4 "Two I/O paths", section "Full virtualization: the legacy ATA disk".
	(void)ata_id_word; // the casts only silence "unused" until you call these helpers
	(void)ata_id_string;
	(void)ata_capacity;
	ata_end_error(a, ATA_ER_ABRT);
}
LAB 5 END */

/* ---- commands --------------------------------------------------------------------------- */

/* LAB 5 BEGIN commands: READ SECTORS, WRITE SECTORS and FLUSH CACHE: check the request, start the transfer */
/*
 * The address of a READ/WRITE, checked before any data moves (L3). CHS (LBA bit clear) is
 * refused with ABRT. Count 0 means 256 sectors in LBA28. The range test is written so it
 * cannot overflow (lba <= cap, then count <= cap - lba), and disk_range_ok repeats it against
 * the image itself. Out of range: IDNF, "the address was not found".
 */
static bool ata_lba_request(struct ata *a, uint8_t cmd, uint32_t *lba, uint32_t *count)
{
	if (!(a->select & ATA_DH_LBA)) {
		ata_guest_error(a, HV_PORT_ATA_CMD + ATA_REG_COMMAND, ATA_GE_CHS, cmd, 1, true);
		ata_end_error(a, ATA_ER_ABRT);
		return false;
	}
	uint32_t cap = ata_capacity(a);
	*lba = ata_taskfile_lba(a);
	*count = a->nsect ? a->nsect : 256u;
	if (*lba > cap || *count > cap - *lba || !disk_range_ok(a->disk, *lba, *count)) {
		ata_guest_error(a, HV_PORT_ATA_CMD + ATA_REG_COMMAND, ATA_GE_RANGE,
				*lba | (uint64_t)*count << 32, 1, true);
		ata_end_error(a, ATA_ER_IDNF);
		return false;
	}
	return true;
}

/*
 * READ SECTORS (20h, or 21h "without retries", the same thing on a drive with no platter): PIO
 * data-in. The first sector is fetched now, so DRQ and INTRQ are already set when the guest's
 * OUT of the command returns; a real drive would show BSY for the seek first.
 */
static void ata_cmd_read(struct ata *a, uint8_t cmd)
{
	uint32_t lba, count;

	if (!ata_lba_request(a, cmd, &lba, &count))
		return;
	a->lba = lba;
	a->remaining = count;
	a->counts_sectors = true;
	ata_read_sector(a);
}

/* PIO data-out: DRQ at once and *no* interrupt for the first block (the host just wrote the
 * command and is polling for DRQ). A read-only image refuses before any data moves. */
static void ata_cmd_write(struct ata *a, uint8_t cmd)
{
	uint32_t lba, count;

	if (!ata_lba_request(a, cmd, &lba, &count))
		return;
	if (a->disk->read_only) {
		ata_end_error(a, ATA_ER_ABRT);
		return;
	}
	a->lba = lba;
	a->remaining = count;
	a->counts_sectors = true;
	a->xfer = ATA_XFER_OUT;
	a->pos = 0;
	a->status = ATA_SR_IDLE | ATA_SR_DRQ;
}

/*
 * FLUSH CACHE: the guest's only way to make written sectors durable (disk.h, cache modes;
 * textbook ch04 "Cache modes"). A non-data command: done before the OUT returns, and the
 * non-data protocol ends with an interrupt. A failed flush is ABRT, so the guest learns its
 * data may not be on disk.
 */
static void ata_cmd_flush(struct ata *a)
{
	a->flushes++;
	if (disk_flush(a->disk) < 0) {
		ata_end_error(a, ATA_ER_ABRT);
		return;
	}
	ata_end_ok(a);
	a->irq_pending = true;
}

/* LAB 5 STUB
static void ata_cmd_read(struct ata *a, uint8_t cmd)
{
	// TODO(lab 5): READ SECTORS. Check the request before any data moves (L3): LBA mode
	// (ATA_DH_LBA in a->select) else ABRT; the 28-bit LBA (ata_taskfile_lba), count 0 meaning
	// 256, and lba + count within ata_capacity and disk_range_ok, computed so nothing can
	// overflow, else IDNF; log refusals with ata_guest_error. Then set a->lba, a->remaining,
	// a->counts_sectors and fetch the first sector (ata_read_sector): DRQ and an interrupt.
	// Textbook chapter 4 "Two I/O paths", section "The taskfile, register by register";
	// appendix C, section C.4.
	(void)cmd;
	(void)ata_taskfile_lba; // the casts only silence "unused" until you call these helpers
	(void)ata_capacity;
	(void)ata_read_sector;
	ata_end_error(a, ATA_ER_ABRT);
}

static void ata_cmd_write(struct ata *a, uint8_t cmd)
{
	// TODO(lab 5): WRITE SECTORS. The same checks as READ; a read-only image aborts (ABRT)
	// before any data moves. Then DRQ at once and *no* interrupt: a data-out transfer
	// (a->xfer = ATA_XFER_OUT, a->pos = 0, status ATA_SR_IDLE | ATA_SR_DRQ) that
	// ata_data_out16 fills. Textbook chapter 4 "Two I/O paths", section "Exits per call".
	(void)cmd;
	ata_end_error(a, ATA_ER_ABRT);
}

static void ata_cmd_flush(struct ata *a)
{
	// TODO(lab 5): FLUSH CACHE, a non-data command: count it (a->flushes), disk_flush, and
	// end with an interrupt: ata_end_ok, or ABRT if the flush failed.
	// Textbook chapter 4 "Two I/O paths", section "Cache modes".
	ata_end_error(a, ATA_ER_ABRT);
}
LAB 5 END */

/* SET FEATURES 0x03 "set transfer mode": count = 00h/01h (PIO default) or 08h-0Ch (PIO flow
 * control mode 0-4). DMA modes (20h+, 40h+) are refused: there is no DMA (L5). */
static bool ata_pio_mode_ok(uint8_t mode)
{
	return mode <= 0x01u || (mode >= 0x08u && mode <= 0x0Cu);
}

/*
 * SET FEATURES: the subcommand is in the features register. The common ones a driver sends at
 * start-up are accepted; only the write cache switch changes anything (see ata_out_block_done).
 */
static void ata_cmd_set_features(struct ata *a, uint8_t cmd)
{
	bool ok = true;

	switch (a->features) {
	case 0x02: /* enable volatile write cache */
		a->write_cache = true;
		break;
	case 0x82: /* disable it: WRITE SECTORS completes only once the data is durable */
		a->write_cache = false;
		break;
	case 0x03:
		ok = ata_pio_mode_ok(a->nsect);
		break;
	case 0xAA: /* read look-ahead on / off */
	case 0x55:
	case 0x66: /* keep / revert to power-on defaults at reset */
	case 0xCC:
		break;
	default:
		ok = false;
		break;
	}
	if (!ok) {
		ata_guest_error(a, HV_PORT_ATA_CMD + ATA_REG_COMMAND, ATA_GE_UNSUPPORTED,
				cmd | (uint64_t)a->features << 8, 1, true);
		ata_end_error(a, ATA_ER_ABRT);
		return;
	}
	ata_end_ok(a);
	a->irq_pending = true;
}

/*
 * A write to the command register. Who listens first (L2): nobody, if there is no disk or the
 * absent slave is selected, so the command vanishes (QEMU ignores it the same way). Then the
 * busy rule (L4): a command while BSY or DRQ is set is ignored, so a transfer in progress can
 * only end by finishing, by an error or by SRST; its buffer is never reused half-way.
 * Writing a command clears a pending interrupt (ATA) and the error register.
 */
static void ata_command(struct ata *a, uint8_t cmd)
{
	const uint64_t port = HV_PORT_ATA_CMD + ATA_REG_COMMAND;

	if (!ata_drive_answers(a)) {
		a->ignored++;
		ata_guest_error(a, port, ATA_GE_NO_DEVICE, cmd, 1, true);
		return;
	}
	if (a->status & (ATA_SR_BSY | ATA_SR_DRQ)) {
		a->ignored++;
		ata_guest_error(a, port, ATA_GE_BUSY_CMD, cmd, 1, true);
		return;
	}
	a->commands++;
	a->command = cmd;
	a->irq_pending = false;
	a->error = 0;
	switch (cmd) {
	case ATA_CMD_READ_SECTORS:
	case ATA_CMD_READ_SECTORS_NR:
		ata_cmd_read(a, cmd);
		break;
	case ATA_CMD_WRITE_SECTORS:
	case ATA_CMD_WRITE_SECTORS_NR:
		ata_cmd_write(a, cmd);
		break;
	case ATA_CMD_IDENTIFY:
		ata_cmd_identify(a);
		break;
	case ATA_CMD_FLUSH_CACHE:
		ata_cmd_flush(a);
		break;
	case ATA_CMD_SET_FEATURES:
		ata_cmd_set_features(a, cmd);
		break;
	default:
		/* ATAPI (A0h/A1h), LBA48 (24h/34h), DMA (C8h/CAh), READ MULTIPLE (C4h), NOP (00h,
		 * which by definition always aborts), ...: "command aborted". */
		ata_guest_error(a, port, ATA_GE_UNSUPPORTED, cmd, 1, true);
		ata_end_error(a, ATA_ER_ABRT);
		break;
	}
}

/* ---- register reads and writes ------------------------------------------------------------ */

/*
 * 8-bit registers 1-7. With no drive at all everything reads 0 (QEMU); with the absent slave
 * selected, the registers only the drive drives (error, status) read 0 while the shared
 * taskfile latches still read back. Reading status acknowledges the interrupt; that is the
 * one register read with a side effect.
 *
 * Why a read acknowledges: an interrupt handler must read status anyway to learn what
 * happened (DRQ: the next block; ERR: a failure), and that one read also lowers INTRQ, so the
 * handler needs no separate "acknowledge" register. A driver that wants to look without
 * acknowledging reads the alternate status instead (ata_ctl_read_op).
 */
static uint8_t ata_read_reg(struct ata *a, uint64_t off)
{
	if (!a->disk)
		return 0;
	switch (off) {
	case ATA_REG_ERROR:
		return ata_master_selected(a) ? a->error : 0;
	case ATA_REG_NSECT:
		return a->nsect;
	case ATA_REG_LBAL:
		return a->lbal;
	case ATA_REG_LBAM:
		return a->lbam;
	case ATA_REG_LBAH:
		return a->lbah;
	case ATA_REG_SELECT:
		return a->select;
	default: /* ATA_REG_STATUS */
		if (!ata_master_selected(a))
			return 0;
		a->irq_pending = false;
		return a->status;
	}
}

/*
 * Taskfile writes (1-6) are latched for "both drives" (on a real cable both see every write;
 * here there is one set of latches). While BSY or DRQ is set they are ignored (L4, QEMU's
 * rule), which includes the drive/head register: no deselect mid-transfer.
 */
static void ata_write_reg(struct ata *a, uint64_t off, uint8_t v)
{
	if (off == ATA_REG_COMMAND) {
		ata_command(a, v);
		return;
	}
	if (a->status & (ATA_SR_BSY | ATA_SR_DRQ)) {
		a->ignored++;
		ata_guest_error(a, HV_PORT_ATA_CMD + off, ATA_GE_BUSY_REG, off << 8 | v, 1, true);
		return;
	}
	switch (off) {
	case ATA_REG_FEATURES:
		a->features = v;
		break;
	case ATA_REG_NSECT:
		a->nsect = v;
		break;
	case ATA_REG_LBAL:
		a->lbal = v;
		break;
	case ATA_REG_LBAM:
		a->lbam = v;
		break;
	case ATA_REG_LBAH:
		a->lbah = v;
		break;
	default: /* ATA_REG_SELECT */
		/* Bits 7 and 5 read as one whatever was written. Writing DEV = 1 selects the
		 * absent slave: status now reads 0 and INTRQ falls after this access. */
		a->select = v | ATA_DH_OBS;
		break;
	}
}

/* ---- reset -------------------------------------------------------------------------------- */

/*
 * The reset signature (ATA "signature and persistence"): count = 1, LBA low = 1, LBA mid/high
 * = 0 says "I am an ATA disk" (an ATAPI device would answer 14h/EBh in mid/high); error = 01h,
 * the diagnostic code. Device 0 is selected.
 */
static void ata_set_signature(struct ata *a)
{
	a->nsect = 1;
	a->lbal = 1;
	a->lbam = 0;
	a->lbah = 0;
	a->select = ATA_DH_OBS;
	a->error = ATA_DIAG_PASSED;
}

/*
 * SRST 0 -> 1: the drive drops whatever it was doing (L4: the transfer ends, the buffer index
 * goes back to 0, nothing half-written reaches the image) and is BSY while the bit is held.
 * SRST 1 -> 0: ready again with the signature. Resets never interrupt.
 *
 * SRST resets both drives on the cable, which is why it lives in the control block and not in
 * the per-drive taskfile; a driver sets it, waits, and clears it. nIEN, the other bit kept,
 * takes effect on this very write: ata_ctl_write_op recomputes INTRQ afterwards.
 */
static void ata_write_devctl(struct ata *a, uint8_t v)
{
	bool was = a->devctl & ATA_DC_SRST;
	bool now = v & ATA_DC_SRST;

	a->devctl = v & (ATA_DC_SRST | ATA_DC_NIEN); /* bit 7 (HOB) is LBA48: not kept */
	if (!was && now) {
		if (a->xfer != ATA_XFER_NONE)
			ata_guest_error(a, HV_PORT_ATA_CTL, ATA_GE_RESET_XFER, a->command, 1, true);
		ata_stop_transfer(a);
		a->status = ATA_SR_BSY | ATA_SR_DSC;
		a->error = ATA_DIAG_PASSED;
		a->irq_pending = false;
	} else if (was && !now) {
		a->status = ATA_SR_IDLE;
		ata_set_signature(a);
	}
}

/*
 * Power-on (the RESET line, bus_reset): the state after SRST, with nIEN clear and the write
 * cache on, as a drive comes out of the box. Counters are the host's and survive.
 */
static void ata_reset(void *dev)
{
	struct ata *a = dev;

	ata_stop_transfer(a);
	a->devctl = 0;
	a->features = 0;
	a->command = 0;
	a->status = ATA_SR_IDLE;
	a->write_cache = true;
	a->irq_pending = false;
	ata_set_signature(a);
	ata_update_irq(a);
}

/* ---- device_ops ---------------------------------------------------------------------------- */

/*
 * The data port: 16 bits is its width. 32 bits is two words, low first (many controllers, QEMU,
 * Linux's 32-bit PIO); an overrun is counted once per access. 8 bits is refused.
 *
 * A 32-bit access halves the exits of a `rep outsw` transfer: 128 exits per sector instead of
 * 256. The words go through ata_data_in16/out16 one by one, so a 32-bit access that straddles
 * the end of a block is split correctly: its second word belongs to the next block, or is
 * refused (L1) if there is none.
 */
static void ata_data_read(struct ata *a, uint8_t *data, uint32_t size)
{
	bool ok = true;

	for (uint32_t i = 0; i < size; i += 2) {
		uint16_t w;
		ok = ata_data_in16(a, &w) && ok;
		data[i] = (uint8_t)w;
		data[i + 1] = (uint8_t)(w >> 8);
	}
	if (!ok) {
		a->data_overruns++;
		ata_guest_error(a, HV_PORT_ATA_CMD, ATA_GE_NO_DRQ, 0, size, false);
	}
}

static void ata_data_write(struct ata *a, const uint8_t *data, uint32_t size)
{
	bool ok = true;
	uint64_t v = 0;

	for (uint32_t i = 0; i < size; i += 2) {
		uint16_t w = (uint16_t)(data[i] | data[i + 1] << 8);
		v |= (uint64_t)w << (8 * i);
		ok = ata_data_out16(a, w) && ok;
	}
	if (!ok) {
		a->data_overruns++;
		ata_guest_error(a, HV_PORT_ATA_CMD, ATA_GE_NO_DRQ, v, size, true);
	}
}

static bool ata_data_size_ok(uint32_t size)
{
	return size == 2 || size == 4;
}

/*
 * Every access to ports 0x1F0-0x1F7 arrives here, once per exit (or per element of a string
 * exit; hv/bus.c). The bus has already checked that offset and size lie inside the 8 ports
 * (appendix C, T2); this function only decides which widths each register has. INTRQ is
 * recomputed after every access, since any of them may have changed it: a status read
 * acknowledges, a data read may start the next sector, a command may finish.
 */
static void ata_cmd_read_op(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct ata *a = dev;

	if (offset == ATA_REG_DATA && ata_data_size_ok(size))
		ata_data_read(a, data, size);
	else if (size == 1 && offset > ATA_REG_DATA && offset < ATA_CMD_LEN)
		data[0] = ata_read_reg(a, offset);
	else
		ata_bad_width(a, HV_PORT_ATA_CMD + offset, offset, data, size, false);
	ata_update_irq(a);
}

static void ata_cmd_write_op(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct ata *a = dev;

	if (offset == ATA_REG_DATA && ata_data_size_ok(size))
		ata_data_write(a, data, size);
	else if (size == 1 && offset > ATA_REG_DATA && offset < ATA_CMD_LEN)
		ata_write_reg(a, offset, data[0]);
	else
		ata_bad_width(a, HV_PORT_ATA_CMD + offset, offset, NULL, size, true);
	ata_update_irq(a);
}

/* Alternate status: the status register without the side effect, for a driver that must look
 * without acknowledging (Linux reads it once after a command, then waits 400 ns). */
static void ata_ctl_read_op(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct ata *a = dev;

	if (size != 1 || offset != 0) {
		ata_bad_width(a, HV_PORT_ATA_CTL + offset, offset, data, size, false);
		return;
	}
	data[0] = ata_drive_answers(a) ? a->status : 0;
}

static void ata_ctl_write_op(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct ata *a = dev;

	if (size != 1 || offset != 0) {
		ata_bad_width(a, HV_PORT_ATA_CTL + offset, offset, NULL, size, true);
		return;
	}
	ata_write_devctl(a, data[0]);
	ata_update_irq(a);
}

const struct device_ops ata_cmd_ops = {
	.name = "ata-cmd",
	.read = ata_cmd_read_op,
	.write = ata_cmd_write_op,
	.reset = ata_reset,
};

/*
 * The control block is a second bus range because it sits at 0x3F6, far from the command
 * block, as on the IBM AT. The same reset: bus_reset calls it once per (dev, reset) pair, so
 * the drive resets once.
 */
const struct device_ops ata_ctl_ops = {
	.name = "ata-ctl",
	.read = ata_ctl_read_op,
	.write = ata_ctl_write_op,
	.reset = ata_reset,
};

struct ata *ata_create(struct disk *disk)
{
	struct ata *a = calloc(1, sizeof(*a));

	if (!a) {
		errno = ENOMEM;
		return NULL;
	}
	a->disk = disk;
	if (disk) {
		disk->trace_dev = HVT_DISK_ATA; /* HVT_DISK records name this controller */
		disk->trace_head = 0;
	}
	ata_reset(a);
	return a;
}

/*
 * Nothing is allocated after ata_create: the one-sector buffer lives in the struct, so no
 * command, reset or transfer a guest starts can grow hv's memory (appendix C, R2).
 */
void ata_destroy(struct ata *a)
{
	free(a);
}

void ata_connect_irq(struct ata *a, void (*set_irq)(void *ctx, int level), void *ctx)
{
	a->set_irq = set_irq;
	a->irq_ctx = ctx;
	ata_update_irq(a);
}
