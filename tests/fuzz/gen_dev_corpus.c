/*
 * gen_dev_corpus.c - writes the seed inputs of fuzz_virtio and fuzz_ata.
 *
 * Concept: a fuzzer mutates what it is given. Started from random bytes it would spend most of
 * its time failing the virtio handshake or writing nonsense to ATA registers; started from a
 * few *valid* guest programs (a driver's handshake, a read, a write, a flush, IDENTIFY) it
 * begins deep inside the device and mutates towards the hostile corners from there: a count
 * one too large, a descriptor pointing at itself, a reset in the middle of a transfer.
 * Each seed here is a small guest program in the input format documented at the top of
 * tests/fuzz/fuzz_virtio.c and tests/fuzz/fuzz_ata.c (the opcodes below must match theirs).
 * Usage: gen_dev_corpus VIRTIO_DIR ATA_DIR   (make fuzz-dev-corpus)
 * Textbook: chapter 4 "Two I/O paths", sections "The handshake", "One request, step by step"
 * and "The taskfile, register by register".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growing byte buffer ---------------------------------------------------------------- */

struct seed {
	uint8_t b[8192];
	size_t n;
};

static void put(struct seed *s, const void *p, size_t n)
{
	if (s->n + n > sizeof(s->b)) {
		fprintf(stderr, "gen_dev_corpus: seed too large (raise struct seed's buffer)\n");
		exit(1);
	}
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void put8(struct seed *s, unsigned v) { uint8_t b = (uint8_t)v; put(s, &b, 1); }
static void put16(struct seed *s, unsigned v) { put8(s, v & 0xFF); put8(s, v >> 8 & 0xFF); }
static void put32(struct seed *s, uint32_t v) { put16(s, v & 0xFFFF); put16(s, v >> 16); }

static void seed_write(const char *dir, const char *name, const struct seed *s)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
		fprintf(stderr, "gen_dev_corpus: cannot write '%s' (does the directory exist?)\n",
			path);
		exit(1);
	}
}

/* ---- virtio: guest RAM image, then steps ---------------------------------------------------- */

/* fuzz_virtio.c's format: flags, 2048 bytes of RAM at gpa 0, steps. */
enum { V_IMAGE = 2048 };
enum { V_MMIO_WRITE, V_MMIO_READ, V_NOTIFY_FD, V_NOTIFY_MMIO, V_POKE, V_SUBMIT, V_HANDSHAKE,
       V_RESET, V_IRQ_TOGGLE };
enum { VF_READ_ONLY = 1, VF_TRACE = 2, VF_IRQ = 4 };
/* feat8 of HANDSHAKE: bit 0 VERSION_1, bit 1 FLUSH */
enum { FEAT_V1_FLUSH = 3 };

/*
 * The seeds' guest memory map (all inside the 2 KiB image), queue size N = 16:
 *   0x000 descriptor table (256 bytes)   0x100 avail ring (38)   0x140 used ring (134)
 *   0x200 request headers, 16 bytes each 0x300 status bytes      0x400 two data sectors
 */
enum { QN = 16, DESC = 0x000, AVAIL = 0x100, USED = 0x140, HDR = 0x200, STAT = 0x300,
       DATA = 0x400 };
enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8 };
enum { F_NEXT = 1, F_WRITE = 2 };

static void ram16(uint8_t *ram, unsigned at, unsigned v) { ram[at] = (uint8_t)v; ram[at + 1] = (uint8_t)(v >> 8); }
static void ram32(uint8_t *ram, unsigned at, uint32_t v) { ram16(ram, at, v & 0xFFFF); ram16(ram, at + 2, v >> 16); }

/* desc[i] = { addr, len, flags, next } (virtio 1.1, 2.6.5), little-endian */
static void desc(uint8_t *ram, unsigned i, unsigned addr, unsigned len, unsigned flags,
		 unsigned next)
{
	unsigned d = DESC + 16 * i;
	ram32(ram, d, addr);
	ram32(ram, d + 4, 0);
	ram32(ram, d + 8, len);
	ram16(ram, d + 12, flags);
	ram16(ram, d + 14, next);
}

/* request header k at HDR + 16k: le32 type, le32 reserved, le64 sector */
static void header(uint8_t *ram, unsigned k, unsigned type, unsigned sector)
{
	ram32(ram, HDR + 16 * k, type);
	ram32(ram, HDR + 16 * k + 8, sector);
}

static void v_begin(struct seed *s, unsigned flags, const uint8_t *ram)
{
	s->n = 0;
	put8(s, flags);
	put(s, ram, V_IMAGE);
}

static void v_handshake(struct seed *s)
{
	put8(s, V_HANDSHAKE);
	put8(s, QN);
	put16(s, DESC);
	put16(s, AVAIL);
	put16(s, USED);
	put8(s, FEAT_V1_FLUSH);
}

static void v_submit(struct seed *s, unsigned head)
{
	put8(s, V_SUBMIT);
	put16(s, head);
}

static void v_mmio(struct seed *s, int write, unsigned off, unsigned size_sel, uint32_t v)
{
	put8(s, write ? V_MMIO_WRITE : V_MMIO_READ);
	put16(s, off);
	put8(s, size_sel);
	if (write)
		put32(s, v);
}

/* Read a sector (IN): header, 512 writable bytes, status. Then the interrupt handshake. */
static void seed_virtio_read(const char *dir)
{
	static uint8_t ram[V_IMAGE];
	static struct seed s;
	memset(ram, 0, sizeof(ram));
	header(ram, 0, T_IN, 3);
	desc(ram, 0, HDR, 16, F_NEXT, 1);
	desc(ram, 1, DATA, 512, F_WRITE | F_NEXT, 2);
	desc(ram, 2, STAT, 1, F_WRITE, 0);
	v_begin(&s, VF_TRACE | VF_IRQ, ram);
	v_handshake(&s);
	v_submit(&s, 0);
	put8(&s, V_NOTIFY_FD);
	put8(&s, 0);
	v_mmio(&s, 0, 0x060, 3, 0); /* InterruptStatus, 4 bytes (size_sel 3 -> 4) */
	v_mmio(&s, 1, 0x064, 3, 1); /* InterruptACK */
	seed_write(dir, "read", &s);
}

/* OUT, FLUSH and GET_ID in one doorbell; the OUT's sector straddles two buffers. */
static void seed_virtio_write_flush_id(const char *dir)
{
	static uint8_t ram[V_IMAGE];
	static struct seed s;
	memset(ram, 0, sizeof(ram));
	header(ram, 0, T_OUT, 5);
	desc(ram, 0, HDR, 16, F_NEXT, 1);
	desc(ram, 1, DATA, 300, F_NEXT, 2);
	desc(ram, 2, DATA + 300, 212, F_NEXT, 3);
	desc(ram, 3, STAT, 1, F_WRITE, 0);
	header(ram, 1, T_FLUSH, 0);
	desc(ram, 4, HDR + 16, 16, F_NEXT, 5);
	desc(ram, 5, STAT + 1, 1, F_WRITE, 0);
	header(ram, 2, T_GET_ID, 0);
	desc(ram, 6, HDR + 32, 16, F_NEXT, 7);
	desc(ram, 7, DATA + 512, 21, F_WRITE, 0); /* 20 ID bytes and the status share it (B12) */
	v_begin(&s, VF_TRACE, ram);
	v_handshake(&s);
	v_submit(&s, 0);
	v_submit(&s, 4);
	v_submit(&s, 6);
	put8(&s, V_NOTIFY_MMIO);
	put8(&s, 0);
	seed_write(dir, "write-flush-getid", &s);
}

/* IN into a sector cut 100 + 412 across two buffers (the device's one-sector bounce), and a
 * GET_ID whose 19-byte buffer is one short of the ID (B8). */
static void seed_virtio_split(const char *dir)
{
	static uint8_t ram[V_IMAGE];
	static struct seed s;
	memset(ram, 0, sizeof(ram));
	header(ram, 0, T_IN, 7);
	desc(ram, 0, HDR, 16, F_NEXT, 1);
	desc(ram, 1, DATA, 100, F_WRITE | F_NEXT, 2);
	desc(ram, 2, DATA + 100, 412, F_WRITE | F_NEXT, 3);
	desc(ram, 3, STAT, 1, F_WRITE, 0);
	header(ram, 1, T_GET_ID, 0);
	desc(ram, 4, HDR + 16, 16, F_NEXT, 5);
	desc(ram, 5, DATA + 512, 20, F_WRITE, 0); /* 19 data bytes + the status byte */
	v_begin(&s, VF_IRQ, ram);
	v_handshake(&s);
	v_submit(&s, 0);
	v_submit(&s, 4);
	put8(&s, V_NOTIFY_FD);
	put8(&s, 0);
	seed_write(dir, "split-getid-short", &s);
}

/* Every register and some config bytes, read at every width; a status walk by hand. */
static void seed_virtio_registers(const char *dir)
{
	static uint8_t ram[V_IMAGE];
	static struct seed s;
	memset(ram, 0, sizeof(ram));
	v_begin(&s, 0, ram);
	for (unsigned off = 0; off < 0x100; off += 4)
		v_mmio(&s, 0, off, 3, 0);
	for (unsigned sz = 0; sz < 5; sz++)
		v_mmio(&s, 0, 0x100 + 8 * sz, sz, 0);
	v_mmio(&s, 1, 0x070, 3, 1);
	v_mmio(&s, 1, 0x070, 3, 3);
	v_mmio(&s, 1, 0x070, 3, 0x0B); /* FEATURES_OK without VERSION_1: refused (T6) */
	v_mmio(&s, 1, 0x030, 3, 5);    /* QueueSel 5: no such queue (T3) */
	v_mmio(&s, 1, 0x070, 3, 0);
	seed_write(dir, "registers", &s);
}

/* The ring corners: a self-loop (Q4), avail.idx jumping by 1000 (Q1), a "negative" queue (T3),
 * a reset and a new handshake, then a doorbell after the driver set FAILED (T8). */
static void seed_virtio_hostile(const char *dir)
{
	static uint8_t ram[V_IMAGE];
	static struct seed s;
	memset(ram, 0, sizeof(ram));
	desc(ram, 0, HDR, 16, F_NEXT, 0);
	v_begin(&s, VF_IRQ, ram);
	v_handshake(&s);
	v_submit(&s, 0);
	put8(&s, V_NOTIFY_FD);
	put8(&s, 0);
	put8(&s, V_POKE); /* gpa24 = avail.idx, 2 bytes */
	put16(&s, AVAIL + 2);
	put8(&s, 0);
	put8(&s, 2);
	put16(&s, 1000);
	put8(&s, V_NOTIFY_FD);
	put8(&s, 0);
	put8(&s, V_NOTIFY_FD);
	put8(&s, 0xFF); /* queue "-1" (T3) */
	put8(&s, V_RESET);
	put8(&s, V_POKE); /* a new driver starts from a zeroed avail ring: avail.idx = 0 */
	put16(&s, AVAIL + 2);
	put8(&s, 0);
	put8(&s, 2);
	put16(&s, 0);
	v_handshake(&s);
	v_mmio(&s, 1, 0x070, 3, 0x8F); /* the driver gives up (FAILED): no more doorbells (T8) */
	v_submit(&s, 0);
	put8(&s, V_NOTIFY_MMIO);
	put8(&s, 0);
	seed_write(dir, "hostile", &s);
}

/* ---- ATA: steps only ----------------------------------------------------------------------- */

enum { A_WRITE, A_READ, A_REP, A_COMMAND, A_RESET, A_IRQ_TOGGLE };
enum { FA_READ_ONLY = 1, FA_TRACE = 2, FA_IRQ = 4, FA_NO_DISK = 8 };
enum { PORT_STATUS = 7, PORT_CTL = 8, SIZE1 = 0, SIZE2 = 1, SIZE4 = 2 };
enum { REP_READ16 = 0, REP_WRITE16 = 1, REP_READ32 = 2 };
/* drive/head: 0xE0 = obsolete bits 7 and 5, LBA (bit 6), master, LBA 27-24 = 0 */
enum { DH_LBA_MASTER = 0xE0 };

static void a_command(struct seed *s, unsigned feat, unsigned nsect, uint32_t lba,
		      unsigned select, unsigned cmd)
{
	put8(s, A_COMMAND);
	put8(s, feat);
	put8(s, nsect);
	put8(s, lba & 0xFF);
	put8(s, lba >> 8 & 0xFF);
	put8(s, lba >> 16 & 0xFF);
	put8(s, select | (lba >> 24 & 0x0F));
	put8(s, cmd);
}

static void a_rep(struct seed *s, unsigned mode, unsigned count, unsigned seed)
{
	put8(s, A_REP);
	put8(s, mode);
	put16(s, count);
	put16(s, seed);
}

static void a_access(struct seed *s, int write, unsigned port, unsigned size_sel, uint32_t v)
{
	put8(s, write ? A_WRITE : A_READ);
	put8(s, port);
	put8(s, size_sel);
	if (write)
		put32(s, v);
}

/* IDENTIFY (0xEC): one 256-word block, then status. */
static void seed_ata_identify(const char *dir)
{
	static struct seed s;
	s.n = 0;
	put8(&s, FA_TRACE | FA_IRQ);
	a_command(&s, 0, 0, 0, DH_LBA_MASTER, 0xEC);
	a_access(&s, 0, PORT_STATUS, SIZE1, 0);
	a_rep(&s, REP_READ16, 256, 0);
	a_access(&s, 0, PORT_STATUS, SIZE1, 0);
	seed_write(dir, "identify", &s);
}

/* WRITE SECTORS 2 at LBA 10, READ them back with 32-bit accesses, FLUSH, then write-cache
 * off (SET FEATURES 0x82) and one more write, which then ends with a flush. */
static void seed_ata_read_write(const char *dir)
{
	static struct seed s;
	s.n = 0;
	put8(&s, FA_IRQ);
	a_command(&s, 0, 2, 10, DH_LBA_MASTER, 0x30);
	a_rep(&s, REP_WRITE16, 512, 0x1234);
	a_command(&s, 0, 2, 10, DH_LBA_MASTER, 0x20);
	a_rep(&s, REP_READ32, 256, 0);
	a_command(&s, 0, 0, 0, DH_LBA_MASTER, 0xE7);
	a_command(&s, 0x82, 0, 0, DH_LBA_MASTER, 0xEF);
	a_command(&s, 0, 1, 63, DH_LBA_MASTER, 0x31);
	a_rep(&s, REP_WRITE16, 256, 7);
	a_access(&s, 0, PORT_STATUS, SIZE1, 0);
	seed_write(dir, "read-write", &s);
}

/* The L-rows: data port with no command (L1), past the end (L3), count 0 = 256 (L3), CHS and
 * the absent slave (L2), a command and SRST in the middle of a transfer (L4), bad widths. */
static void seed_ata_hostile(const char *dir)
{
	static struct seed s;
	s.n = 0;
	put8(&s, FA_TRACE | FA_IRQ);
	a_rep(&s, REP_READ16, 8, 0);
	a_command(&s, 0, 2, 63, DH_LBA_MASTER, 0x20);
	a_command(&s, 0, 0, 0, DH_LBA_MASTER, 0x20);
	a_command(&s, 0, 1, 0, 0xA0, 0x20);
	a_command(&s, 0, 1, 0, 0xF0, 0xEC);
	a_command(&s, 0, 1, 5, DH_LBA_MASTER, 0x20);
	a_rep(&s, REP_READ16, 100, 0);
	a_command(&s, 0, 1, 6, DH_LBA_MASTER, 0x30);
	a_access(&s, 1, PORT_CTL, SIZE1, 0x04);
	a_access(&s, 0, PORT_CTL, SIZE1, 0);
	a_access(&s, 1, PORT_CTL, SIZE1, 0x00);
	a_access(&s, 0, 0, SIZE1, 0);
	a_access(&s, 0, 3, SIZE4, 0);
	a_access(&s, 1, 7, SIZE2, 0xEC);
	put8(&s, A_RESET);
	seed_write(dir, "hostile", &s);
}

/* No drive at all: Linux's probe writes 0x55/0xAA to count and LBA low and reads them back. */
static void seed_ata_no_disk(const char *dir)
{
	static struct seed s;
	s.n = 0;
	put8(&s, FA_NO_DISK | FA_IRQ);
	a_access(&s, 1, 2, SIZE1, 0x55);
	a_access(&s, 1, 3, SIZE1, 0xAA);
	a_access(&s, 0, 2, SIZE1, 0);
	a_access(&s, 0, 3, SIZE1, 0);
	a_command(&s, 0, 1, 0, DH_LBA_MASTER, 0xEC);
	a_access(&s, 0, PORT_STATUS, SIZE1, 0);
	seed_write(dir, "no-disk", &s);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gen_dev_corpus VIRTIO_DIR ATA_DIR\n");
		return 2;
	}
	seed_virtio_read(argv[1]);
	seed_virtio_write_flush_id(argv[1]);
	seed_virtio_split(argv[1]);
	seed_virtio_registers(argv[1]);
	seed_virtio_hostile(argv[1]);
	seed_ata_identify(argv[2]);
	seed_ata_read_write(argv[2]);
	seed_ata_hostile(argv[2]);
	seed_ata_no_disk(argv[2]);
	return 0;
}
