/*
 * diskio.c - one disk workload, run through either of hv's two disk controllers: the
 * legacy ATA/IDE controller (full virtualization) or virtio-blk over virtio-mmio
 * (para-virtualization). Same data, same requests, so the exit counts can be compared.
 *
 * Concept: the cost of an I/O path is the number of times it leaves the guest. The ATA
 * driver programs a 1984 chip register by register and moves data 16 bits per IN/OUT; the
 * virtio driver describes whole requests in RAM and rings one doorbell per batch. Run both,
 * count the exits in hv's trace, and the difference is the case for para-virtualization.
 * Textbook: chapter 4 "Two I/O paths", section "Counting the difference".
 *
 * Command line (PVH start info; all optional):
 *   hvlab.disk=virtio|legacy    which controller (default virtio); anything else fails
 *   diskio.batch=N              virtio requests per doorbell, 1..16 (default 16); anything
 *                               else fails. The legacy path ignores it.
 *   virtio_mmio.device=...      where the virtio transport is (hv passes
 *                               "512@0xd0001000:5"; see virtio_blk.h)
 *   diskio.irq=0|1              1: interrupt mode (below); default 0, polling. Anything
 *                               else fails.
 *
 * The workload (DISKIO_* below):
 *   1. init the controller; print one line naming the path and the disk
 *   2. write sectors 0..127 (64 KiB) of the pattern (diskpattern.h), 16 requests of 8 sectors
 *   3. FLUSH, 1 request (skipped, and said so, if the device has no flush)
 *   4. read sectors 0..127 back into a second buffer, 16 requests of 8 sectors
 *   5. compare what came back with what was written (the pattern), every byte
 *   6. print "diskio: OK 33 requests" (32 without flush) and stop with cli; hlt (hv: exit 0)
 * The ID request (virtio GET_ID, ATA IDENTIFY) is part of step 1 and not in the 33.
 * On failure: print "diskio: FAIL <step> ..." and write the code below to port 0xF4, so hv
 * exits with status (code << 1) | 1.
 *
 * ---- Exits this guest makes on hv (success path) ----
 *
 * virtio path, b = diskio.batch, K = ceil(16 / b) kicks per phase:
 *   MMIO exits to the virtio window = 33 (vblk_init: probe 3 + setup 30)
 *                                   + 1 (GET_ID kick)
 *                                   + K (writes) + 1 (flush) + K (reads)
 *                                   = 35 + 2 * ceil(16 / b)
 *     b = 16: 37;  b = 8: 39;  b = 4: 43;  b = 1: 67.  (no flush offered: one less)
 *   Port I/O exits to the ATA ports: 0.
 *
 * legacy path (from guest/lib/ata.h's formulas: ata_init with a drive = 17,
 * ata_write(S) = 257 S + 9, ata_flush = 9, ata_read(S) = 2 S + 9; buffers 4 KiB-aligned, so
 * no sector crosses a page and every `rep insw` is one exit):
 *   Port I/O exits to 0x1F0-0x1F7 and 0x3F6 = 17 + 16 * (257 * 8 + 9) + 9 + 16 * (2 * 8 + 9)
 *                                           = 17 + 16 * 2065 + 9 + 16 * 25
 *                                           = 17 + 33040 + 9 + 400 = 33466
 *     (no flush offered: 33457). Of these, the data moves in 16 * 8 * 256 = 32768 OUTSW
 *     exits (one per 16-bit word) and 128 INSW exits (one per sector).
 *   MMIO exits: 0.
 *
 * Both paths, UART (ports 0x3F8-0x3FF): 7 OUTs for uart_init, then 1 IN + 1 OUT per character
 * printed (uart.c), so 7 + 2 * (bytes of output). The output is two lines (three without
 * flush), e.g. on hv with its default scratch disk:
 *   "diskio: virtio-blk at 0xd0001000, 2048 sectors, serial <serial>\n"
 *   "diskio: OK 33 requests\n"
 * Finally 1 HLT exit (cli; hlt). Nothing else leaves the guest: the buffers, rings, stack
 * and command line are RAM.
 *
 * ---- Interrupt mode (diskio.irq=1) ----
 *
 * The same workload, but the drivers wait for the device's interrupt (sti; hlt) instead of
 * polling: a 32-bit IDT (idt32.h) for the PIC's vectors 0x20-0x2F, both 8259As programmed
 * (pic.h), and one line unmasked: IRQ 14 (ATA) or the transport's IRQ from
 * virtio_mmio.device= (5 on hv), made level-triggered in the ELCR. The last line says
 * "diskio: OK 33 requests (interrupts)". It needs a host that delivers interrupts to a
 * protected-mode guest: QEMU (TCG or KVM), or hv on VT-x/AMD-V; hv on a PVM host cannot (its
 * KVM injects into real-mode guests only; see the real-mode irq16 guest).
 * Exits, on a host that delivers the interrupts (b = 16):
 *   both paths: pic_init 10 OUT; the local APIC set to pass the PIC through (idt32.c): 2 MMIO
 *         writes if the CPU reports an enabled APIC (QEMU does), else 0 (hv: no APIC)
 *   virtio: ELCR read-modify-write for the line (1 IN + 1 OUT), unmask 1 OUT. The driver
 *         looks at the used ring before it halts, and hv completes every request inside its
 *         doorbell exit: on hv the guest never halts, takes no interrupt, and the virtio
 *         window sees the polling count, 37 MMIO exits (measured: io 244 = 231 UART + 13
 *         PIC/ELCR, mmio 37). On QEMU, whose I/O completes later, each wait
 *         halts and each interrupt costs 2 MMIO (InterruptStatus, InterruptACK) + 1 OUT (EOI).
 *   legacy (ata.h, interrupt mode): the status IN per sector moves from the wait loop into the
 *         handler, so the ATA ports see exactly the polling count, 33466 exits. What the
 *         interrupts add: unmask IRQ 14 2 OUT, and per interrupt 2 OUT EOI (slave, master) +
 *         1 HLT; 258 interrupts = 1 (IDENTIFY) + 128 (written sectors) + 1 (flush) + 128
 *         (read sectors). PIC port I/O = 10 + 2 + 2 * 258 = 528; HLT = 258 + 1.
 *         Interrupts do not make PIO cheaper: they free the CPU while a *slow* drive works.
 */
#include <stdint.h>

#include "ata.h"
#include "cmdline.h"
#include "diskpattern.h"
#include "idt32.h"
#include "layout.h"
#include "pic.h"
#include "portio.h"
#include "uart.h"
#include "virtio_blk.h"

#define DISKIO_SECTORS   128u                    /* 64 KiB: sectors 0..127 */
#define DISKIO_CHUNK     8u                      /* sectors per request: 4 KiB */
#define DISKIO_REQS      (DISKIO_SECTORS / DISKIO_CHUNK) /* 16 writes, then 16 reads */
#define DISKIO_BYTES     (DISKIO_SECTORS * HV_SECTOR_SIZE)
#define DISKIO_BATCH_DEF 16u

/* Failure codes written to port 0xF4 (hv exit status = code * 2 + 1). */
enum {
	DISKIO_E_CMDLINE = 1, /* bad hvlab.disk= or diskio.batch=          -> status 3 */
	DISKIO_E_INIT = 2,    /* controller not found or init failed       -> status 5 */
	DISKIO_E_DISK = 3,    /* disk too small (< 128 sectors) or read-only -> status 7 */
	DISKIO_E_WRITE = 4,   /*                                           -> status 9 */
	DISKIO_E_FLUSH = 5,   /*                                           -> status 11 */
	DISKIO_E_READ = 6,    /*                                           -> status 13 */
	DISKIO_E_VERIFY = 7,  /* data read back is not the pattern         -> status 15 */
	DISKIO_E_IRQ = 8,     /* interrupt mode: an interrupt we did not ask for -> status 17 */
};

/* The data, in RAM the device reads and writes directly (virtio) or the driver copies
   through the data port (ATA). Page-aligned: no request buffer crosses a page needlessly. */
static uint8_t write_buf[DISKIO_BYTES] __attribute__((aligned(4096)));
static uint8_t read_buf[DISKIO_BYTES] __attribute__((aligned(4096)));

struct diskio_opts {
	int legacy;     /* 1: ATA, 0: virtio */
	uint32_t batch; /* virtio requests per kick */
	int irq;        /* 1: interrupt mode (diskio.irq=1) */
};

/* ---- output: every character is 2 exits on hv, so lines are short ---- */

static void put_u32(uint32_t v)
{
	char digits[10];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10u);
		v /= 10u;
	} while (v != 0);
	while (n > 0)
		uart_putc(digits[--n]);
}

static void put_hex(uint32_t v, int width)
{
	uart_puts("0x");
	for (int shift = 4 * (width - 1); shift >= 0; shift -= 4)
		uart_putc("0123456789abcdef"[(v >> shift) & 0xFu]);
}

/* Put a fixed-size ID string without its padding spaces (ATA pads with spaces). */
static void put_trimmed(const char *s)
{
	uint32_t start = 0, end = 0;

	while (s[end] != '\0')
		end++;
	while (start < end && s[start] == ' ')
		start++;
	while (end > start && s[end - 1] == ' ')
		end--;
	if (start == end)
		uart_puts("(none)");
	for (uint32_t i = start; i < end; i++)
		uart_putc(s[i]);
}

/* Stop: code 0 = success (cli; hlt, exit 0), else tell the exit device (status 2c+1). */
static void __attribute__((noreturn)) diskio_finish(uint8_t code)
{
	if (code != 0)
		port_write8(HV_PORT_EXIT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* "diskio: FAIL <what>: <why>" and stop with code. */
static void __attribute__((noreturn)) diskio_fail(uint8_t code, const char *what,
						   const char *why)
{
	uart_puts("diskio: FAIL ");
	uart_puts(what);
	uart_puts(": ");
	uart_puts(why);
	uart_putc('\n');
	diskio_finish(code);
}

/* ---- command line ---- */

/* diskio.batch: 1 or 2 decimal digits, 1..16; absent means the default. */
static int diskio_parse_batch(const char *cmdline, uint32_t *batch)
{
	const char *v;
	uint32_t len, n = 0;

	*batch = DISKIO_BATCH_DEF;
	if (!cmdline_get_nth(cmdline, HV_CMDLINE_MAX, "diskio.batch", 0, &v, &len))
		return 1;
	if (len == 0 || len > 2)
		return 0;
	for (uint32_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		n = n * 10u + (uint32_t)(v[i] - '0');
	}
	if (n < 1 || n > VBLK_SLOTS_MAX)
		return 0;
	*batch = n;
	return 1;
}

static void diskio_parse(const char *cmdline, struct diskio_opts *o)
{
	const char *v;
	uint32_t len;

	o->legacy = 0;
	if (cmdline_get_nth(cmdline, HV_CMDLINE_MAX, "hvlab.disk", 0, &v, &len)) {
		if (cmdline_value_is(v, len, "legacy"))
			o->legacy = 1;
		else if (!cmdline_value_is(v, len, "virtio"))
			diskio_fail(DISKIO_E_CMDLINE, "cmdline", "hvlab.disk= must be virtio or legacy");
	}
	if (!diskio_parse_batch(cmdline, &o->batch))
		diskio_fail(DISKIO_E_CMDLINE, "cmdline", "diskio.batch= must be 1..16");
	o->irq = 0;
	if (cmdline_get_nth(cmdline, HV_CMDLINE_MAX, "diskio.irq", 0, &v, &len)) {
		if (cmdline_value_is(v, len, "1"))
			o->irq = 1;
		else if (!cmdline_value_is(v, len, "0"))
			diskio_fail(DISKIO_E_CMDLINE, "cmdline", "diskio.irq= must be 0 or 1");
	}
}

/* ---- interrupt mode: the IDT and the PIC, before any driver runs ---- */

/*
 * Interrupts stay off (PVH starts us with IF = 0, entry32.S: cli) except inside the drivers'
 * "sti; hlt". Every line is masked by pic_init; the disk's line is unmasked by the caller
 * once its handler is in place.
 */
static void diskio_irq_setup(void)
{
	idt32_init();
	pic_init();
}

/* Route one line to a driver's handler and let it through. */
static void diskio_irq_route(unsigned irq, void (*fn)(void), int level)
{
	idt32_set_handler(irq, fn);
	if (level)
		pic_set_level(irq);
	pic_unmask(irq);
}

/* ---- the workload's own steps, shared by both paths ---- */

static void diskio_check_disk(uint64_t sectors, int read_only)
{
	if (sectors < DISKIO_SECTORS)
		diskio_fail(DISKIO_E_DISK, "disk", "smaller than 128 sectors");
	if (read_only)
		diskio_fail(DISKIO_E_DISK, "disk", "read-only");
}

/*
 * The first byte where read_buf differs from write_buf, or DISKIO_BYTES. Compared 32 bits at
 * a time (both buffers are 4 KiB-aligned): a quarter of the iterations of a byte loop, which
 * counts when the guest's instructions are emulated. write_buf holds exactly the pattern
 * (diskpattern_fill, nothing writes it after), and the host tests check the image file
 * against diskpattern_byte independently.
 */
static uint32_t diskio_first_difference(void)
{
	const uint32_t *got = (const uint32_t *)read_buf, *want = (const uint32_t *)write_buf;
	uint32_t w = 0, i;

	while (w < DISKIO_BYTES / 4u && got[w] == want[w])
		w++;
	for (i = w * 4u; i < DISKIO_BYTES && read_buf[i] == write_buf[i]; i++)
		;
	return i;
}

/* Compare what came back with what was written; on the first wrong byte, say where and what. */
static void diskio_verify(void)
{
	uint32_t bad = diskio_first_difference();

	if (bad == DISKIO_BYTES)
		return;
	uart_puts("diskio: FAIL verify at byte ");
	put_u32(bad);
	uart_puts(" (sector ");
	put_u32(bad / HV_SECTOR_SIZE);
	uart_puts("): got ");
	put_hex(read_buf[bad], 2);
	uart_puts(" want ");
	put_hex(write_buf[bad], 2);
	uart_putc('\n');
	diskio_finish(DISKIO_E_VERIFY);
}

static void diskio_no_flush(void)
{
	uart_puts("diskio: no flush (device lacks it)\n");
}

/* ---- virtio path ---- */

/* Wait for a kicked batch; any error ends the run. */
static void vblk_wait_or_fail(uint8_t code, const char *what)
{
	int err = vblk_wait_all();

	if (err != VBLK_OK)
		diskio_fail(code, what, vblk_strerror(err));
}

/*
 * 16 requests of 8 sectors, kicked every `batch` requests and after the last one; each kick
 * is waited for before the next batch is built (the slots are reused).
 */
static uint32_t vblk_phase(int write, uint32_t batch)
{
	uint8_t code = write ? DISKIO_E_WRITE : DISKIO_E_READ;
	const char *what = write ? "write" : "read";

	for (uint32_t i = 0; i < DISKIO_REQS; i++) {
		uint32_t off = i * DISKIO_CHUNK * HV_SECTOR_SIZE;
		int err = write ? vblk_submit_write(i * DISKIO_CHUNK, write_buf + off, DISKIO_CHUNK)
				: vblk_submit_read(i * DISKIO_CHUNK, read_buf + off, DISKIO_CHUNK);

		if (err != VBLK_OK)
			diskio_fail(code, what, vblk_strerror(err));
		if ((i + 1u) % batch == 0 || i + 1u == DISKIO_REQS) {
			vblk_kick();                       /* the only exit of the batch */
			vblk_wait_or_fail(code, what);     /* polls RAM: no exit */
		}
	}
	return DISKIO_REQS;
}

static uint32_t diskio_virtio(const char *cmdline, uint32_t batch, int irq)
{
	struct vblk_info info;
	uint32_t requests = 0;
	int err;

	vblk_irq_mode(irq);
	err = vblk_init(cmdline, HV_CMDLINE_MAX, &info);
	if (err != VBLK_OK)
		diskio_fail(DISKIO_E_INIT, "virtio init", vblk_strerror(err));
	/* The line is known only now (virtio_mmio.device=...:<irq>). virtio-mmio's line is
	   level-triggered: high while InterruptStatus is not 0. */
	if (irq) {
		if (info.irq > 15u)
			diskio_fail(DISKIO_E_INIT, "virtio init", "IRQ above 15: not a PIC line");
		diskio_irq_route(info.irq, vblk_irq, 1);
	}
	err = vblk_get_id(&info);
	if (err != VBLK_OK && err != VBLK_EUNSUPP) /* GET_ID is optional for a device */
		diskio_fail(DISKIO_E_INIT, "virtio get-id", vblk_strerror(err));
	if (batch > info.slots)
		diskio_fail(DISKIO_E_CMDLINE, "cmdline", "diskio.batch= exceeds the queue's slots");

	uart_puts("diskio: virtio-blk at ");
	put_hex(info.base, 8);
	uart_puts(", ");
	put_u32((uint32_t)(info.sectors > 0xFFFFFFFFu ? 0xFFFFFFFFu : info.sectors));
	uart_puts(" sectors, serial ");
	put_trimmed(info.serial);
	uart_putc('\n');
	diskio_check_disk(info.sectors, info.read_only);

	requests += vblk_phase(1, batch);
	if (info.flush_supported) {
		err = vblk_submit_flush();
		if (err != VBLK_OK)
			diskio_fail(DISKIO_E_FLUSH, "flush", vblk_strerror(err));
		vblk_kick();
		vblk_wait_or_fail(DISKIO_E_FLUSH, "flush");
		requests++;
	} else {
		diskio_no_flush();
	}
	requests += vblk_phase(0, batch);
	return requests;
}

/* ---- legacy ATA path ---- */

static const char *ata_strerror(int err)
{
	switch (err) {
	case ATA_ENODEV: return "no drive";
	case ATA_EIO: return "drive error";
	case ATA_ETIMEDOUT: return "drive stayed busy";
	case ATA_EINVAL: return "bad arguments";
	case ATA_ENOTSUP: return "drive cannot do LBA";
	default: return "unknown error";
	}
}

/* "diskio: FAIL write lba 8: drive error (status/error 0x5104)" and stop with code. */
static void __attribute__((noreturn)) ata_fail(uint8_t code, const char *what, int has_lba,
						uint32_t lba, int err)
{
	uart_puts("diskio: FAIL ");
	uart_puts(what);
	if (has_lba) {
		uart_puts(" lba ");
		put_u32(lba);
	}
	uart_puts(": ");
	uart_puts(ata_strerror(err));
	uart_puts(" (status/error ");
	put_hex(ata_last_error(), 4);
	uart_puts(")\n");
	diskio_finish(code);
}

static uint32_t diskio_legacy(int irq)
{
	struct ata_info info;
	uint32_t requests = 0;
	int err;

	/* IRQ 14 is edge-triggered (ISA): the drive's INTRQ rises once per event. */
	if (irq)
		diskio_irq_route(HV_IRQ_ATA, ata_irq, 0);
	ata_irq_mode(irq);
	err = ata_init(&info);

	if (err < 0)
		ata_fail(DISKIO_E_INIT, "ata init", 0, 0, err);
	uart_puts("diskio: legacy ATA, ");
	put_u32(info.sectors);
	uart_puts(" sectors, serial ");
	put_trimmed(info.serial);
	uart_putc('\n');
	diskio_check_disk(info.sectors, 0);

	for (uint32_t i = 0; i < DISKIO_REQS; i++, requests++) {
		uint32_t lba = i * DISKIO_CHUNK;

		err = ata_write(lba, write_buf + lba * HV_SECTOR_SIZE, DISKIO_CHUNK);
		if (err < 0)
			ata_fail(DISKIO_E_WRITE, "write", 1, lba, err);
	}
	if (info.flush_supported) {
		err = ata_flush();
		if (err < 0)
			ata_fail(DISKIO_E_FLUSH, "flush", 0, 0, err);
		requests++;
	} else {
		diskio_no_flush();
	}
	for (uint32_t i = 0; i < DISKIO_REQS; i++, requests++) {
		uint32_t lba = i * DISKIO_CHUNK;

		err = ata_read(lba, read_buf + lba * HV_SECTOR_SIZE, DISKIO_CHUNK);
		if (err < 0)
			ata_fail(DISKIO_E_READ, "read", 1, lba, err);
	}
	return requests;
}

void guest_main(uint32_t start_info_paddr);

void guest_main(uint32_t start_info_paddr)
{
	const char *cmdline = startinfo_cmdline(start_info_paddr);
	struct diskio_opts opts;
	uint32_t requests;

	uart_init();
	diskio_parse(cmdline, &opts);
	/* The pattern is computed before any I/O, so both paths send identical bytes, and
	   read_buf starts as zeros (.bss): a read that moves nothing cannot pass. */
	diskpattern_fill(write_buf, 0, DISKIO_BYTES);

	if (opts.irq)
		diskio_irq_setup();
	requests = opts.legacy ? diskio_legacy(opts.irq) : diskio_virtio(cmdline, opts.batch, opts.irq);
	diskio_verify();
	if (opts.irq && idt32_unexpected() != 0)
		diskio_fail(DISKIO_E_IRQ, "irq", "an interrupt arrived on a line without a handler");

	uart_puts("diskio: OK ");
	put_u32(requests);
	uart_puts(opts.irq ? " requests (interrupts)\n" : " requests\n");
	diskio_finish(0);
}
