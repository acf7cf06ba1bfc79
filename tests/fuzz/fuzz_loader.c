/*
 * fuzz_loader.c - libFuzzer target: any byte string handed to hv's guest loader.
 *
 * Concept: the guest file is input from outside, like a disk image a cloud customer uploads.
 * Every offset and size in an ELF header is a number the file's author chose; the loader must
 * check each against the file length and each destination against guest RAM (through gm_ptr)
 * without ever overflowing. The fuzzer mutates inputs towards new paths (ELF32/ELF64, notes,
 * segments, raw binaries with and without the hvlab boot header); AddressSanitizer turns any
 * read or write outside the input buffer or the synthetic RAM into a crash it reports.
 * After a successful load the entry point must make sense: below 64 KiB in real mode. Bit 2 of
 * the last byte hands the input to the Linux boot protocol instead (hv/linuxboot.c: the setup
 * header's sizes and addresses, with an initrd and, by bit 3, the ACPI tables).
 * Build and run: make fuzz-loader   (clang; not part of `make test`)
 * Textbook: chapter 2 "A VM from the inside", section "Loading a guest".
 */
#include <stdlib.h>
#include <string.h>

#include "guestmem.h"
#include "linuxboot.h"
#include "loader.h"

#define FUZZ_RAM (2u << 20) /* 2 MiB: small, so out-of-RAM segments are easy to reach */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	if (!ram)
		ram = malloc(FUZZ_RAM);
	struct guest_mem gm = { .slots = { { .gpa = 0, .size = FUZZ_RAM, .host = ram } }, .nslots = 1 };
	/* The last byte picks the --mode the user asked for, so every mode path is fuzzed and
	 * the seed files still start with their ELF or boot header. */
	static const enum boot_mode modes[4] = { BOOT_AUTO, BOOT_REAL, BOOT_PROTECTED, BOOT_LONG };
	enum boot_mode want = size ? modes[data[size - 1] & 3] : BOOT_AUTO;
	struct boot_info bi;
	char err[512];
	if (size && (data[size - 1] & 4)) {
		static const uint8_t initrd[4096];
		size_t rd = (data[size - 1] >> 4) * 256; /* 0 to 3840 bytes of initrd */
		if (linux_load(&gm, data, size - 1, "fuzz", initrd, rd, data[size - 1] & 8, &bi, err,
			       sizeof(err)) == 0) {
			if (bi.highest > FUZZ_RAM || bi.entry != bi.lowest + 0x200)
				abort(); /* past the end of RAM, or not startup_64 */
		} else if (!memchr(err, '\0', sizeof(err)) || strchr(err, '\n')) {
			abort();
		}
		return 0;
	}
	if (loader_load(&gm, data, size ? size - 1 : 0, "fuzz", want, &bi, err, sizeof(err)) == 0) {
		if (bi.mode == BOOT_REAL && bi.entry >= 0x10000)
			abort(); /* the loader promised a reachable real-mode entry */
		if (bi.highest > FUZZ_RAM)
			abort(); /* something was written past the end of RAM */
	} else if (!memchr(err, '\0', sizeof(err)) || strchr(err, '\n')) {
		abort(); /* every refusal is one terminated line */
	}
	return 0;
}
