/*
 * fuzz_ata.c - libFuzzer target: a hostile guest driving the legacy ATA disk port by port.
 *
 * Concept: a fully emulated device is a state machine that the guest clocks with IN and OUT
 * instructions, in any order, of any width, as fast as it likes. The classic bugs live in the
 * corners of that machine: a data port that keeps counting after the transfer ended (VENOM),
 * a command in the middle of a transfer, a reset at the wrong moment, a sector count of 0 that
 * means 256. This target plays the guest: the fuzzer's bytes become a program of port reads
 * and writes, `rep insw`/`rep outsw`-like bursts on the data port, whole commands and resets.
 * ASan and UBSan catch memory errors; the checks below turn ata.h's documented promises into
 * abort()s that libFuzzer reports with the input that caused them.
 * Build and run: make fuzz-ata   (clang; not part of `make test`)
 * Textbook: chapter 4 "Two I/O paths", sections "Full virtualization" and "A hostile guest";
 * textbook appendix C, section C.4 (L1-L6) and B13.
 *
 * Input format (tests/fuzz/gen_dev_corpus.c writes seeds in it; keep the two in step):
 *
 *   byte 0     flags: bit 0 read-only image, bit 1 trace to /dev/null, bit 2 interrupt line,
 *              bit 3 no drive on the cable (ata_create(NULL))
 *   then steps one opcode byte (value % FA_NOPS), then its operands, little-endian:
 *     0 WRITE       port8 size8 value32   port % 9: 0-7 command block, 8 control port;
 *                                         size {1, 2, 4}[size % 3] (what KVM delivers)
 *     1 READ        port8 size8
 *     2 REP         mode8 count16 seed16  count % 1025 data-port accesses; mode bit 0 write,
 *                                         bit 1 32-bit; written words are seed, seed+1, ...
 *     3 COMMAND     feat8 nsect8 lbal8 lbam8 lbah8 select8 cmd8   taskfile 1-6, then command
 *     4 RESET       -                     device_ops.reset (hv's power cycle)
 *     5 IRQ_TOGGLE  -                     wire or unwire INTRQ
 *   An incomplete last step is ignored.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev/ata.h"
#include "disk.h"
#include "fuzz_image.h"
#include "trace_write.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FA_SECTORS   64u   /* 32 KiB image: a count of 0 (256 sectors) is out of range */
#define FA_MAX_STEPS 4096u /* bounded work per input */
#define FA_MAX_REP   1024u /* two sectors of 16-bit words per burst */

enum fa_flag { FA_READ_ONLY = 1, FA_TRACE = 2, FA_IRQ = 4, FA_NO_DISK = 8 };
enum fa_op { FA_WRITE, FA_READ, FA_REP, FA_COMMAND, FA_RESET, FA_IRQ_TOGGLE, FA_NOPS };

/* Created once. */
static struct disk disk_rw, disk_ro;
static struct trace_writer *trace_null;

/* Per input. */
static struct ata *dev;
static int line_level;
static bool line_wired;

/* ---- input decoding ------------------------------------------------------------------------ */

struct fa_input {
	const uint8_t *p;
	size_t left;
};

static bool fa_take(struct fa_input *in, void *out, size_t n)
{
	if (in->left < n)
		return false;
	memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
	return true;
}

/* ---- set-up, once per process --------------------------------------------------------------- */

static void fa_die(const char *what)
{
	fprintf(stderr, "fuzz_ata: %s\n", what);
	abort();
}

/* The image: fuzz_image.h. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char err[256];
	fuzz_image_open("fuzz_ata", FA_SECTORS, &disk_rw, &disk_ro);
	trace_null = trace_create("/dev/null", HVT_HOST_UNKNOWN, "fuzz_ata", err, sizeof(err));
	if (!trace_null)
		fa_die(err);
	return 0;
}

static void fa_reset_image(void)
{
	fuzz_image_reset("fuzz_ata", FA_SECTORS, &disk_rw);
}

/* ---- invariants ------------------------------------------------------------------------------ */

/* INTRQ (ata.h): pending && nIEN clear && a drive answers; set_irq only on a change. */
static void fa_set_irq(void *ctx, int level)
{
	struct ata *a = ctx;
	int want = a->irq_pending && !(a->devctl & ATA_DC_NIEN) && a->disk &&
		   !(a->select & ATA_DH_DEV);
	if (level == line_level || level != want)
		abort();
	line_level = level;
}

/*
 * What must hold between any two guest accesses (L1, L3, L4, B13):
 *   the buffer index is even and inside the 512-byte buffer;
 *   DRQ is set exactly while a transfer is in progress (ata.h), and only with a drive;
 *   a sector transfer never reaches past the image: lba + remaining <= capacity;
 *   no host system call on the image failed, a read-only image was never written,
 *   and the image file keeps its size.
 */
static void fa_check(uint64_t errors_before, uint64_t ro_writes_before)
{
	const struct ata *a = dev;
	if (a->pos >= ATA_SECTOR_SIZE || a->pos % 2 || a->remaining > 256)
		abort();
	if (!!(a->status & ATA_SR_DRQ) != (a->xfer != ATA_XFER_NONE))
		abort();
	if (a->xfer != ATA_XFER_NONE && !a->disk)
		abort();
	if (a->xfer != ATA_XFER_NONE && a->counts_sectors &&
	    (uint64_t)a->lba + a->remaining > FA_SECTORS)
		abort();
	struct stat st;
	if (disk_rw.errors + disk_ro.errors != errors_before || disk_ro.writes != ro_writes_before ||
	    fstat(disk_rw.fd, &st) < 0 || st.st_size != FA_SECTORS * ATA_SECTOR_SIZE)
		abort();
}

/* ---- the guest's steps ----------------------------------------------------------------------- */

/* port % 9 -> (ops, offset): 0-7 the command block, 8 the control block's one port. */
static void fa_access(uint8_t port, uint32_t size, uint8_t *d, bool write)
{
	bool ctl = port % 9 == 8;
	const struct device_ops *ops = ctl ? &ata_ctl_ops : &ata_cmd_ops;
	uint64_t off = ctl ? 0 : port % 9;
	if (write)
		ops->write(dev, off, d, size);
	else
		ops->read(dev, off, d, size);
}

static const uint32_t fa_sizes[3] = { 1, 2, 4 };

/*
 * A read fills exactly `size` bytes (bus.h). With no drive on the cable every 8-bit register
 * reads 0 (ata.h: that is how a driver's probe sees "nothing there").
 */
static bool fa_step_access(struct fa_input *in, bool write)
{
	uint8_t a[2], v[4] = { 0 };
	if (!fa_take(in, a, 2) || (write && !fa_take(in, v, 4)))
		return false;
	uint32_t size = fa_sizes[a[1] % 3];
	if (write) {
		fa_access(a[0], size, v, true);
		return true;
	}
	uint8_t d[8];
	memset(d, 0xA5, sizeof(d));
	fa_access(a[0], size, d, false);
	for (uint32_t i = size; i < sizeof(d); i++)
		if (d[i] != 0xA5)
			abort();
	if (!dev->disk && size == 1 && a[0] % 9 != 0 && d[0] != 0)
		abort();
	return true;
}

/* `rep insw` / `rep outsw`: KVM hands the device one data-port access per element. */
static bool fa_step_rep(struct fa_input *in)
{
	uint8_t a[5];
	if (!fa_take(in, a, 5))
		return false;
	bool write = a[0] & 1;
	uint32_t size = a[0] & 2 ? 4 : 2;
	unsigned count = (unsigned)(a[1] | a[2] << 8) % (FA_MAX_REP + 1);
	uint32_t w = (uint32_t)(a[3] | a[4] << 8);
	for (unsigned i = 0; i < count; i++, w++) {
		uint8_t d[4] = { (uint8_t)w, (uint8_t)(w >> 8), (uint8_t)w, (uint8_t)(w >> 8) };
		fa_access(0, size, d, write);
	}
	return true;
}

/* What every ATA driver does to start a command: the taskfile (features, count, LBA, drive),
 * then the command register. All 8-bit OUTs, as on the real cable. */
static bool fa_step_command(struct fa_input *in)
{
	uint8_t t[7];
	if (!fa_take(in, t, 7))
		return false;
	for (unsigned i = 0; i < 7; i++)
		ata_cmd_ops.write(dev, i + 1, &t[i], 1);
	return true;
}

static void fa_toggle_irq(void)
{
	line_wired = !line_wired;
	line_level = dev->irq_level;
	ata_connect_irq(dev, line_wired ? fa_set_irq : NULL, dev);
}

static bool fa_step(struct fa_input *in)
{
	uint8_t op;
	if (!fa_take(in, &op, 1))
		return false;
	switch (op % FA_NOPS) {
	case FA_WRITE: return fa_step_access(in, true);
	case FA_READ: return fa_step_access(in, false);
	case FA_REP: return fa_step_rep(in);
	case FA_COMMAND: return fa_step_command(in);
	case FA_RESET: ata_cmd_ops.reset(dev); return true;
	default: fa_toggle_irq(); return true;
	}
}

/* ---- one input ------------------------------------------------------------------------------- */

static void fa_start(uint8_t flags)
{
	fa_reset_image();
	struct disk *disk = flags & FA_NO_DISK ? NULL : flags & FA_READ_ONLY ? &disk_ro : &disk_rw;
	if (disk)
		disk->trace = flags & FA_TRACE ? trace_null : NULL;
	dev = ata_create(disk);
	if (!dev)
		fa_die("out of memory");
	dev->trace = flags & FA_TRACE ? trace_null : NULL;
	line_wired = !(flags & FA_IRQ); /* fa_toggle_irq flips it to the wanted state */
	fa_toggle_irq();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fa_start(data[0]);
	struct fa_input in = { .p = data + 1, .left = size - 1 };
	uint64_t errors_before = disk_rw.errors + disk_ro.errors, ro_writes_before = disk_ro.writes;
	for (unsigned steps = 0; steps < FA_MAX_STEPS && fa_step(&in); steps++)
		fa_check(errors_before, ro_writes_before);
	fa_check(errors_before, ro_writes_before);
	ata_destroy(dev);
	dev = NULL;
	return 0;
}
