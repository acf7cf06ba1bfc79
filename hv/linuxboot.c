/*
 * linuxboot.c - boot a Linux bzImage with the Linux x86 boot protocol, 64-bit entry.
 *
 * Concept: a boot loader (GRUB, QEMU's -kernel, kvmtool, Firecracker) and the kernel agree on a
 * contract, the *boot protocol* (Linux: Documentation/arch/x86/boot.rst). The kernel file starts
 * with a *setup header* at offset 0x1F1 that describes the file; the loader copies the kernel
 * into RAM, fills in a 4 KiB block called boot_params (the "zero page": in the oldest protocol it
 * sat at address 0 of the setup segment) and jumps in. A bzImage file is two programs:
 *
 *   file offset 0              real-mode setup: (setup_sects + 1) * 512 bytes. Its first
 *                              sector is a boot sector from 1991; the setup header lies in it.
 *                              A BIOS loader runs this code; hv does not.
 *   (setup_sects + 1) * 512    the protected-mode kernel: a small decompressor with the real
 *                              kernel (vmlinux) compressed inside. Loaded at load_addr.
 *
 * The 64-bit entry is load_addr + 0x200 (boot.rst, "64-bit BOOT PROTOCOL"). The CPU must be in
 * long mode with the kernel, boot_params and the command line identity-mapped, a GDT whose
 * selector 0x10 is flat 64-bit code and 0x18 flat data, interrupts off and RSI = the address of
 * boot_params. cpu.c sets that up from bi->boot_params (setup_linux); this file puts the bytes
 * in place. Every field read from the file is checked before it is believed: the file is the
 * user's. Textbook: chapter 11 "Booting Linux", section "The boot protocol".
 */
#include "linuxboot.h"

#include <stdio.h>
#include <string.h>

#include "acpi.h"
#include "layout.h"

/* Offsets in the file's first 4 KiB and in boot_params: the setup header has the same offsets
 * in both, because boot_params embeds a copy of it (boot.rst, "THE REAL-MODE KERNEL HEADER"). */
#define HDR_SETUP_SECTS   0x1F1 /* u8: sectors of setup after the boot sector; 0 means 4 */
#define HDR_SYSSIZE       0x1F4 /* u32: protected-mode kernel size in 16-byte units */
#define HDR_BOOT_FLAG     0x1FE /* u16: 0xAA55, the old boot-sector signature */
#define HDR_JUMP          0x200 /* 2 bytes: jmp short; its offset byte (0x201) ends the header */
#define HDR_MAGIC         0x202 /* "HdrS" */
#define HDR_VERSION       0x206 /* u16: protocol version, major in the high byte */
#define HDR_LOADER_TYPE   0x210 /* u8: who loaded the kernel; 0xFF = a loader with no ID */
#define HDR_LOADFLAGS     0x211 /* u8 */
#define HDR_CODE32_START  0x214 /* u32: where the protected-mode kernel is */
#define HDR_RAMDISK_IMAGE 0x218 /* u32: initrd address */
#define HDR_RAMDISK_SIZE  0x21C /* u32: initrd length */
#define HDR_CMD_LINE_PTR  0x228 /* u32: command line address */
#define HDR_INITRD_MAX    0x22C /* u32: highest address the initrd may end at */
#define HDR_CMDLINE_SIZE  0x238 /* u32: longest command line, without the NUL */
#define HDR_XLOADFLAGS    0x236 /* u16 */
#define HDR_PREF_ADDRESS  0x258 /* u64: where the kernel wants to be loaded */
#define HDR_INIT_SIZE     0x260 /* u32: memory the kernel needs from its load address */
#define HDR_END_MIN       0x264 /* the fields above must all lie inside the file's header */

/* boot_params fields outside the setup header (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ACPI_RSDP      0x070 /* u64: where the ACPI RSDP is (protocol 2.14 on), 0: search */
#define BP_E820_ENTRIES   0x1E8 /* u8 */
#define BP_E820_TABLE     0x2D0 /* 128 entries of { u64 addr, u64 size, u32 type }, packed */
#define BP_SIZE           4096

#define LOADED_HIGH   0x01 /* loadflags: the protected-mode kernel goes at 1 MiB or above */
#define XLF_KERNEL_64 0x01 /* xloadflags: there is a 64-bit entry at load address + 0x200 */
#define E820_RAM      1
#define E820_RESERVED 2

/* Little-endian fields at any offset (the file need not be aligned). */
static uint32_t get16(const uint8_t *p, size_t off)
{
	return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8;
}

static uint32_t get32(const uint8_t *p, size_t off)
{
	return get16(p, off) | get16(p, off + 2) << 16;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
	return get32(p, off) | (uint64_t)get32(p, off + 4) << 32;
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, 4); /* x86 is little-endian, as the protocol's fields */
}

/*
 * First the identity of the file, then the version, then what this version promises. Each
 * check names the one thing that is wrong, so the user knows whether the file is no kernel at
 * all, a cut-off download, or a kernel too old or too 32-bit for hv.
 */
static int check_header(const uint8_t *img, size_t len, const char *name, struct linux_image *li,
			char *err, size_t errlen)
{
	if (len < HDR_MAGIC + 4 || memcmp(img + HDR_MAGIC, "HdrS", 4) != 0 ||
	    get16(img, HDR_BOOT_FLAG) != 0xAA55) {
		snprintf(err, errlen, "'%s' is not a Linux bzImage: no \"HdrS\" setup header at "
			 "offset 0x202 (give a kernel such as /boot/vmlinuz-*)", name);
		return -1;
	}
	/* The header ends where its leading jump lands: 0x202 + the jump's offset byte. */
	size_t hdr_end = HDR_MAGIC + img[HDR_JUMP + 1];
	if (len < HDR_VERSION + 2 || len < hdr_end) {
		snprintf(err, errlen, "'%s' is truncated: the file ends inside its setup header "
			 "(%zu bytes)", name, len);
		return -1;
	}
	li->version = (uint16_t)get16(img, HDR_VERSION);
	if (li->version < LINUX_PROTO_MIN || hdr_end < HDR_END_MIN) {
		snprintf(err, errlen, "'%s' speaks boot protocol %u.%02u; hv needs %u.%02u or later "
			 "(a kernel from Linux 3.8 on)", name, li->version >> 8, li->version & 0xFF,
			 LINUX_PROTO_MIN >> 8, LINUX_PROTO_MIN & 0xFF);
		return -1;
	}
	li->loadflags = img[HDR_LOADFLAGS];
	li->xloadflags = (uint16_t)get16(img, HDR_XLOADFLAGS);
	if (!(li->loadflags & LOADED_HIGH)) {
		snprintf(err, errlen, "'%s' is a zImage (loaded below 1 MiB); hv boots bzImages only",
			 name);
		return -1;
	}
	if (!(li->xloadflags & XLF_KERNEL_64)) {
		snprintf(err, errlen, "'%s' has no 64-bit entry point (XLF_KERNEL_64 is clear: a "
			 "32-bit kernel? hv boots x86-64 kernels)", name);
		return -1;
	}
	return 0;
}

int linux_parse(const uint8_t *img, size_t len, const char *name, uint64_t ram_size,
		uint64_t initrd_len, struct linux_image *li, char *err, size_t errlen)
{
	memset(li, 0, sizeof(*li));
	if (check_header(img, len, name, li, err, errlen) < 0)
		return -1;
	/* setup_sects counts 512-byte sectors after the boot sector; 0 meant 4 in the oldest
	 * kernels, and the protocol keeps that rule. */
	unsigned sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	li->setup_size = (uint64_t)(sects + 1) * 512;
	li->kernel_size = (uint64_t)get32(img, HDR_SYSSIZE) * 16;
	/* A download cut short loses the end of the compressed kernel: the decompressor would
	 * crash on it long after hv started it. The header says how long the file must be. Signed
	 * kernels (Secure Boot) carry a signature after that, so the file may be longer. */
	if (li->kernel_size == 0 || li->setup_size > len || li->kernel_size > len - li->setup_size) {
		snprintf(err, errlen, "'%s' is truncated: its setup header promises %llu bytes, the "
			 "file has %zu", name,
			 (unsigned long long)(li->setup_size + li->kernel_size), len);
		return -1;
	}
	/*
	 * Where: the kernel's preferred address (pref_address, 16 MiB for x86-64 distribution
	 * kernels). A relocatable kernel would run elsewhere too, a non-relocatable one only
	 * there; hv has RAM at that address whenever --mem is large enough, so it always uses it.
	 * init_size is what the decompressor needs from there on: the compressed kernel, the
	 * unpacked one and its own work space.
	 */
	li->load_addr = get64(img, HDR_PREF_ADDRESS);
	li->init_size = get32(img, HDR_INIT_SIZE);
	li->cmdline_max = get32(img, HDR_CMDLINE_SIZE);
	if (li->load_addr < HV_LOAD_ADDR || li->init_size < li->kernel_size ||
	    li->load_addr > ram_size || li->init_size > ram_size - li->load_addr) {
		snprintf(err, errlen, "'%s' needs guest RAM 0x%llx-0x%llx while it unpacks itself "
			 "(give --mem %llu or more)", name, (unsigned long long)li->load_addr,
			 (unsigned long long)(li->load_addr + li->init_size - 1),
			 (unsigned long long)((li->load_addr + li->init_size + initrd_len) >> 20) + 16);
		return -1;
	}
	if (!initrd_len)
		return 0;
	/*
	 * The initrd goes as high as it may, page-aligned, as GRUB and QEMU put it: out of the
	 * kernel's way while it unpacks. initrd_addr_max is the last byte the kernel can reach
	 * that early (2 GiB - 1 for old kernels). The protocol gives it 32-bit fields.
	 */
	uint64_t top = ram_size;
	uint64_t max = (uint64_t)get32(img, HDR_INITRD_MAX) + 1;
	if (top > max)
		top = max;
	uint64_t low = li->load_addr + li->init_size;
	if (initrd_len > UINT32_MAX || top < low || initrd_len > ((top - low) & ~0xFFFull)) {
		snprintf(err, errlen, "the initrd (%llu bytes) does not fit in guest RAM above the "
			 "kernel (give --mem %llu or more)", (unsigned long long)initrd_len,
			 (unsigned long long)((low + initrd_len) >> 20) + 16);
		return -1;
	}
	li->initrd_addr = (top - initrd_len) & ~0xFFFull;
	li->initrd_size = initrd_len;
	return 0;
}

/* Copy n bytes to guest-physical gpa; with a map of sizes only (loader_check) just check. */
static int put(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t n)
{
	if (!gm_holds(gm, gpa, n))
		return -1;
	uint8_t *dst = gm_ptr(gm, gpa, n);
	if (dst)
		memcpy(dst, src, n);
	return 0;
}

/*
 * The e820 map (named after the BIOS call INT 15h, AX = E820h that returns it on a PC): which
 * physical ranges are RAM the kernel may use. hv's is a PC's: the first 64 KiB hold hv's tables,
 * boot_params and the command line (the kernel copies what it needs, but it must not hand those
 * pages out while it still reads them); 0x9F000-0xFFFFF is the PC's hole below 1 MiB, where a PC
 * has its BIOS data, video memory and ROMs; the rest of RAM is the kernel's.
 */
static int write_e820(uint8_t *bp, uint64_t ram)
{
	struct { uint64_t addr, size; uint32_t type; } map[] = {
		{ 0, 0x10000, E820_RESERVED },
		{ 0x10000, 0x9F000 - 0x10000, E820_RAM },
		{ 0x9F000, 0x100000 - 0x9F000, E820_RESERVED },
		{ 0x100000, ram - 0x100000, E820_RAM },
	};
	int n = (int)(sizeof(map) / sizeof(map[0]));
	for (int i = 0; i < n; i++) {
		uint8_t *e = bp + BP_E820_TABLE + i * 20; /* packed: 8 + 8 + 4 bytes */
		memcpy(e, &map[i].addr, 8);
		memcpy(e + 8, &map[i].size, 8);
		memcpy(e + 16, &map[i].type, 4);
	}
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	return n;
}

int linux_load(const struct guest_mem *gm, const uint8_t *img, size_t len, const char *name,
	       const uint8_t *initrd, size_t initrd_len, bool virtio_mmio, struct boot_info *bi,
	       char *err, size_t errlen)
{
	memset(bi, 0, sizeof(*bi));
	uint64_t ram = gm->slots[0].size;
	struct linux_image li;
	if (linux_parse(img, len, name, ram, initrd_len, &li, err, errlen) < 0)
		return -1;
	/* The kernel's file bytes, then the initrd. linux_parse proved both fit in RAM. */
	if (put(gm, li.load_addr, img + li.setup_size, li.kernel_size) < 0 ||
	    (initrd_len && put(gm, li.initrd_addr, initrd, initrd_len) < 0)) {
		snprintf(err, errlen, "'%s' does not fit in guest RAM (give more with --mem)", name);
		return -1;
	}
	/*
	 * boot_params: all zero, then the setup header copied from the file to the same offset
	 * (the kernel reads its own header back from here), then what the loader fills in.
	 * Zero matters: fields a loader leaves alone must read 0 (boot.rst "Details of header
	 * fields"; the kernel clears some itself if the sentinel at 0x1EF is not 0).
	 */
	uint8_t bp[BP_SIZE] = { 0 };
	size_t hdr_end = HDR_MAGIC + img[HDR_JUMP + 1];
	memcpy(bp + HDR_SETUP_SECTS, img + HDR_SETUP_SECTS, hdr_end - HDR_SETUP_SECTS);
	bp[HDR_LOADER_TYPE] = 0xFF; /* "undefined loader": hv has no ID assigned by Linux */
	put32(bp, HDR_CODE32_START, (uint32_t)li.load_addr);
	put32(bp, HDR_CMD_LINE_PTR, HV_CMDLINE_ADDR); /* cpu.c writes the line there */
	put32(bp, HDR_RAMDISK_IMAGE, (uint32_t)li.initrd_addr);
	put32(bp, HDR_RAMDISK_SIZE, (uint32_t)li.initrd_size);
	write_e820(bp, ram);
	/*
	 * A virtio-mmio disk cannot be found by probing. Debian's kernel does not read the
	 * virtio_mmio.device= word hv puts on the command line (vm.c, build_cmdline), so hv also
	 * describes the device the way PC firmware would: in ACPI tables (acpi.c). Kernels of
	 * protocol 2.14 and later take the RSDP's address from boot_params; older ones would
	 * search the BIOS area for it, where hv does not put it.
	 */
	if (virtio_mmio) {
		uint8_t tables[ACPI_TABLES_MAX];
		size_t n = acpi_build(tables, HV_ACPI_ADDR, HV_MMIO_VIRTIO_BLK, HV_VIRTIO_MMIO_LEN,
				      HV_IRQ_VIRTIO_BLK);
		if (put(gm, HV_ACPI_ADDR, tables, n) < 0) {
			snprintf(err, errlen, "guest RAM too small for the ACPI tables");
			return -1;
		}
		uint64_t rsdp = HV_ACPI_ADDR;
		memcpy(bp + BP_ACPI_RSDP, &rsdp, 8);
	}
	if (put(gm, HV_ZEROPAGE_ADDR, bp, sizeof(bp)) < 0) {
		snprintf(err, errlen, "guest RAM too small for boot_params");
		return -1;
	}
	bi->mode = BOOT_LONG;
	bi->entry = li.load_addr + 0x200; /* startup_64 */
	bi->boot_params = HV_ZEROPAGE_ADDR;
	bi->cmdline_max = li.cmdline_max;
	bi->lowest = li.load_addr;
	bi->highest = li.load_addr + li.kernel_size;
	return 0;
}
