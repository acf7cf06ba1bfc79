/*
 * diskpattern.h - the byte pattern the diskio guest writes to the disk and reads back.
 *
 * Concept: a disk test is only as good as its data. All-zero or repeated blocks cannot tell
 * "the device wrote sector 5" from "the device wrote sector 4's data to sector 5" or "it
 * wrote nothing at all to a zeroed image". This formula makes every byte depend on its
 * absolute position on the disk, so a dropped, repeated, shifted or misplaced sector shows.
 * Textbook: chapter 4 "Two I/O paths", section "Full virtualization: the legacy ATA disk".
 *
 * Shared by the guest (guest/diskio.c) and the host tests (which read the image file after
 * the run), so it is plain C with nothing but <stdint.h>: no guest-only types.
 *
 * The formula, for the byte at absolute disk offset `off` (bytes from the start of sector 0):
 *
 *     byte(off) = (off * 7 + (off >> 9) * 13 + 0x5A) & 0xFF
 *
 * Written per sector s (off = 512 * s + i, 0 <= i < 512), since 512 * 7 = 3584 = 14 * 256
 * vanishes modulo 256:
 *
 *     byte(s, i) = (7 * i + 13 * s + 0x5A) mod 256
 *
 * What it detects:
 *   - two different sectors s, s' hold different data unless s = s' (mod 256): 13 is odd, so
 *     13 * (s - s') = 0 (mod 256) only when 256 divides s - s'. Any 256 consecutive sectors
 *     (128 KiB; the diskio workload uses sectors 0..127) are pairwise different, so a sector
 *     written to or read from the wrong LBA, or a repeated sector, is caught;
 *   - a shift by k bytes inside a sector changes a byte by 7 * k (mod 256), non-zero for
 *     every k that is not a multiple of 256 (7 is odd); a shift by whole sectors is the
 *     wrong-LBA case above; a 256-byte shift keeps half a sector equal but breaks the other
 *     half (it pulls in the next sector, which differs by 13);
 *   - no sector is all zeros (byte 0 of sector s is 13 * s + 0x5A; within a sector the bytes
 *     run through all 256 values twice), so "nothing was written" to a zeroed image fails.
 *
 * Sector 0 begins 5A 61 68 6F 76 7D ...; sector 1 begins 67 6E 75 7C ... (0x5A + 13 = 0x67).
 */
#ifndef GUEST_DISKPATTERN_H
#define GUEST_DISKPATTERN_H

#include <stdint.h>

/* The pattern byte at absolute byte offset `off` of the disk. */
static inline uint8_t diskpattern_byte(uint32_t off)
{
	return (uint8_t)((off * 7u + (off >> 9) * 13u + 0x5Au) & 0xFFu);
}

/*
 * Fill buf with the pattern of the bytes [off, off + len) of the disk. Same values as
 * diskpattern_byte, computed incrementally (two additions per byte instead of two
 * multiplications): the next byte in a sector is 7 more, and crossing into the next sector
 * adds 13 more (the 511 steps of 7 plus one more step make 3584 = 0 mod 256). It matters in a
 * guest whose every instruction may be emulated.
 */
static inline void diskpattern_fill(uint8_t *buf, uint32_t off, uint32_t len)
{
	uint8_t b = diskpattern_byte(off);

	for (uint32_t i = 0; i < len; i++) {
		buf[i] = b;
		b = (uint8_t)(b + 7u);
		if (((off + i + 1u) & 511u) == 0)
			b = (uint8_t)(b + 13u);
	}
}

/* Index of the first byte of buf[0..len) that differs from the pattern at disk offset off,
   or len if all match. */
static inline uint32_t diskpattern_check(const uint8_t *buf, uint32_t off, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		if (buf[i] != diskpattern_byte(off + i))
			return i;
	}
	return len;
}

#endif
