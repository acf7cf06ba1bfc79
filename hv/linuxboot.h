/*
 * linuxboot.h - the Linux x86 boot protocol: load a bzImage (and an initrd) the way a boot
 * loader does, and hand the kernel its boot_params ("zero page").
 *
 * Concept: distributions ship a kernel as a bzImage, not as an ELF file. A bzImage starts with a
 * *setup header* that says how to load it; the loader fills in a 4 KiB block, boot_params, with
 * the memory map, the command line and the initrd, and enters the kernel. hv uses the 64-bit
 * entry, so no real-mode setup code runs. Textbook: chapter 11 "Booting Linux", section "The
 * boot protocol"; the protocol is Linux's Documentation/arch/x86/boot.rst.
 */
#ifndef HV_LINUXBOOT_H
#define HV_LINUXBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guestmem.h"
#include "loader.h"

/* The oldest protocol hv accepts: 2.12 added xloadflags, where the kernel says it has a 64-bit
 * entry point (XLF_KERNEL_64). Linux 3.8 (2013) and every later kernel speak it. */
#define LINUX_PROTO_MIN 0x020C

/* What the setup header says, and where hv puts things, checked. */
struct linux_image {
	uint16_t version;      /* boot protocol version, e.g. 0x020F for 2.15 */
	uint8_t loadflags;
	uint16_t xloadflags;
	uint64_t setup_size;   /* bytes of real-mode setup at the start of the file */
	uint64_t kernel_size;  /* bytes of protected-mode kernel after it (syssize * 16) */
	uint64_t load_addr;    /* where the protected-mode kernel goes */
	uint64_t init_size;    /* bytes the kernel needs from load_addr while it decompresses */
	uint64_t initrd_addr;  /* where the initrd goes (0: none) */
	uint64_t initrd_size;
	uint32_t cmdline_max;  /* the longest command line the kernel reads */
};

/*
 * Read and check the setup header of `img` (len bytes, named `name` in messages) for a guest of
 * ram_size bytes with an initrd of initrd_len bytes (0: none). Returns 0 or -1 with a one-line
 * reason in err that names what is wrong with the file.
 */
int linux_parse(const uint8_t *img, size_t len, const char *name, uint64_t ram_size,
		uint64_t initrd_len, struct linux_image *li, char *err, size_t errlen);

/*
 * linux_parse, then copy the kernel and the initrd into guest RAM and write boot_params at
 * HV_ZEROPAGE_ADDR. With a RAM map of sizes only (loader_check's) it checks without copying.
 * Fills bi: long mode, the 64-bit entry point, and bi->boot_params. With virtio_mmio, the
 * machine's virtio-mmio disk is also described in ACPI tables (acpi.c) at HV_ACPI_ADDR.
 * Returns 0 or -1 and err.
 */
int linux_load(const struct guest_mem *gm, const uint8_t *img, size_t len, const char *name,
	       const uint8_t *initrd, size_t initrd_len, bool virtio_mmio, struct boot_info *bi,
	       char *err, size_t errlen);

#endif
