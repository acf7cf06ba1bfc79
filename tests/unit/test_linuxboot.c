/*
 * test_linuxboot.c - the Linux boot protocol loader (hv/linuxboot.c) on synthetic bzImages.
 *
 * No KVM and no real kernel: a bzImage is built byte by byte (a setup header with the fields
 * hv reads, then a protected-mode "kernel" of known bytes), so each test says which field it
 * breaks. The real Debian kernel boots in suite linux (tests/integration/test_linux.c).
 * Textbook: chapter 11 "Booting Linux", section "The boot protocol".
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "guestmem.h"
#include "layout.h"
#include "linuxboot.h"
#include "vm.h"

#define RAM (128u << 20)  /* guest RAM: the kernel loads at 16 MiB */
#define SETUP_SECTS 3     /* (3 + 1) * 512 = 2048 bytes of setup */
#define KSIZE 0x2000      /* protected-mode kernel bytes (syssize = KSIZE / 16) */
#define IMG_LEN (4 * 512 + KSIZE)

static struct guest_mem gm;
static uint8_t img[IMG_LEN + 512];
static char err[512];
static struct boot_info bi;

static void put16(size_t off, uint16_t v) { memcpy(img + off, &v, 2); }
static void put32(size_t off, uint32_t v) { memcpy(img + off, &v, 4); }
static void put64(size_t off, uint64_t v) { memcpy(img + off, &v, 8); }

/* A bzImage as a 64-bit x86 kernel of protocol 2.15 has it (the offsets of boot.rst). */
static void setup(void)
{
	gm.slots[0] = (struct gm_slot){ .gpa = 0, .size = RAM, .host = calloc(1, RAM) };
	gm.nslots = 1;
	memset(img, 0, sizeof img);
	img[0x1F1] = SETUP_SECTS;
	put32(0x1F4, KSIZE / 16);          /* syssize */
	put16(0x1FE, 0xAA55);              /* boot_flag */
	img[0x200] = 0xEB;                 /* jmp short: the header ends at 0x202 + 0x6A */
	img[0x201] = 0x6A;
	memcpy(img + 0x202, "HdrS", 4);
	put16(0x206, 0x020F);              /* version 2.15 */
	img[0x211] = 0x01;                 /* loadflags: LOADED_HIGH */
	put32(0x22C, 0x7FFFFFFF);          /* initrd_addr_max */
	put16(0x236, 0x0001);              /* xloadflags: XLF_KERNEL_64 */
	put32(0x238, 2047);                /* cmdline_size */
	put64(0x258, 0x1000000);           /* pref_address: 16 MiB */
	put32(0x260, 0x100000);            /* init_size: 1 MiB */
	for (size_t i = 0; i < KSIZE; i++) /* the "kernel": bytes the test can recognise */
		img[4 * 512 + i] = (uint8_t)(i * 7 + 1);
	err[0] = '\0';
}

static void teardown(void)
{
	free(gm.slots[0].host);
}

TestSuite(linuxboot, .init = setup, .fini = teardown);

static int load(size_t len, const uint8_t *initrd, size_t initrd_len)
{
	return linux_load(&gm, img, len, "k", initrd, initrd_len, false, &bi, err, sizeof err);
}

static const uint8_t *bp(void)
{
	return gm.slots[0].host + HV_ZEROPAGE_ADDR;
}

Test(linuxboot, kernel_lands_at_pref_address_and_enters_at_startup_64)
{
	cr_assert_eq(load(IMG_LEN, NULL, 0), 0, "%s", err);
	cr_assert_eq(memcmp(gm.slots[0].host + 0x1000000, img + 4 * 512, KSIZE), 0);
	cr_assert_eq(bi.mode, BOOT_LONG);
	cr_assert_eq(bi.entry, 0x1000200);
	cr_assert_eq(bi.boot_params, HV_ZEROPAGE_ADDR);
	cr_assert_eq(bi.cmdline_max, 2047);
}

Test(linuxboot, boot_params_hold_the_header_the_loader_fields_and_e820)
{
	cr_assert_eq(load(IMG_LEN, NULL, 0), 0, "%s", err);
	const uint8_t *p = bp();
	cr_assert_eq(memcmp(p + 0x202, "HdrS", 4), 0);   /* the header, copied */
	cr_assert_eq(p[0x210], 0xFF);                    /* type_of_loader */
	uint32_t v;
	memcpy(&v, p + 0x228, 4);
	cr_assert_eq(v, HV_CMDLINE_ADDR);                /* cmd_line_ptr */
	memcpy(&v, p + 0x218, 4);
	cr_assert_eq(v, 0);                              /* no initrd */
	cr_assert_eq(p[0x1E8], 4);                       /* e820_entries */
	uint64_t addr, size;
	uint32_t type;
	const uint8_t *last = p + 0x2D0 + 3 * 20;        /* RAM from 1 MiB to the end */
	memcpy(&addr, last, 8);
	memcpy(&size, last + 8, 8);
	memcpy(&type, last + 16, 4);
	cr_assert_eq(addr, 0x100000);
	cr_assert_eq(addr + size, RAM);
	cr_assert_eq(type, 1);
	cr_assert_eq(p[0x1EF], 0, "the sentinel must stay 0");
}

Test(linuxboot, initrd_goes_to_the_top_of_ram_page_aligned)
{
	static uint8_t rd[5000];
	memset(rd, 0x5A, sizeof rd);
	cr_assert_eq(load(IMG_LEN, rd, sizeof rd), 0, "%s", err);
	uint32_t at, size;
	memcpy(&at, bp() + 0x218, 4);
	memcpy(&size, bp() + 0x21C, 4);
	cr_assert_eq(size, sizeof rd);
	cr_assert_eq(at % 4096, 0);
	cr_assert_eq(at, (RAM - sizeof rd) & ~0xFFFu);
	cr_assert_eq(memcmp(gm.slots[0].host + at, rd, sizeof rd), 0);
}

Test(linuxboot, a_file_without_HdrS_is_not_a_bzimage)
{
	memcpy(img + 0x202, "HdrX", 4);
	cr_assert_eq(load(IMG_LEN, NULL, 0), -1);
	cr_assert(strstr(err, "'k' is not a Linux bzImage"), "%s", err);
}

Test(linuxboot, a_file_cut_inside_the_header_is_truncated)
{
	cr_assert_eq(load(0x210, NULL, 0), -1);
	cr_assert(strstr(err, "'k' is truncated: the file ends inside its setup header"), "%s", err);
}

Test(linuxboot, a_file_shorter_than_syssize_promises_is_truncated)
{
	cr_assert_eq(load(IMG_LEN - 1, NULL, 0), -1);
	cr_assert(strstr(err, "'k' is truncated: its setup header promises 10240 bytes, the file has "
			      "10239"), "%s", err);
}

Test(linuxboot, protocol_older_than_2_12_is_refused)
{
	put16(0x206, 0x020B);
	cr_assert_eq(load(IMG_LEN, NULL, 0), -1);
	cr_assert(strstr(err, "speaks boot protocol 2.11; hv needs 2.12 or later"), "%s", err);
}

Test(linuxboot, a_kernel_without_a_64_bit_entry_is_refused)
{
	put16(0x236, 0x0000);
	cr_assert_eq(load(IMG_LEN, NULL, 0), -1);
	cr_assert(strstr(err, "'k' has no 64-bit entry point"), "%s", err);
}

Test(linuxboot, a_zimage_is_refused)
{
	img[0x211] = 0;
	cr_assert_eq(load(IMG_LEN, NULL, 0), -1);
	cr_assert(strstr(err, "'k' is a zImage"), "%s", err);
}

/* A damaged or hostile header cannot make hv write outside guest RAM (make fuzz-loader tries
 * many more). */
Test(linuxboot, init_size_or_load_address_beyond_ram_is_refused_not_written)
{
	put32(0x260, 0xFFFFFFFF);
	cr_assert_eq(load(IMG_LEN, NULL, 0), -1);
	cr_assert(strstr(err, "needs guest RAM"), "%s", err);
	put32(0x260, 0x100000);
	put64(0x258, 0xFFFFFFFFFFFFF000ull); /* a load address that would wrap */
	cr_assert_eq(load(IMG_LEN, NULL, 0), -1);
	cr_assert(strstr(err, "needs guest RAM"), "%s", err);
}

Test(linuxboot, an_initrd_that_does_not_fit_above_the_kernel_is_refused)
{
	size_t big = RAM - 0x1000000; /* the kernel's init_size leaves less than this */
	uint8_t *rd = calloc(1, big);
	cr_assert_eq(load(IMG_LEN, rd, big), -1);
	cr_assert(strstr(err, "the initrd (") && strstr(err, "does not fit in guest RAM"), "%s", err);
	free(rd);
}

Test(linuxboot, checking_against_a_ram_map_of_sizes_only_copies_nothing)
{
	struct guest_mem plan = { .slots = { { .size = RAM } }, .nslots = 1 };
	cr_assert_eq(linux_load(&plan, img, IMG_LEN, "k", NULL, 0, false, &bi, err, sizeof err), 0,
		     "%s", err);
	cr_assert_eq(bi.entry, 0x1000200);
}

/* ---- the ACPI tables of a guest with a virtio-mmio disk (hv/acpi.c) ---- */

static uint8_t bytesum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* The chain Linux follows: boot_params -> RSDP -> XSDT -> FADT -> DSDT, every checksum 0. */
Test(linuxboot, virtio_guest_gets_acpi_tables_that_linux_can_follow)
{
	cr_assert_eq(linux_load(&gm, img, IMG_LEN, "k", NULL, 0, true, &bi, err, sizeof err), 0,
		     "%s", err);
	const uint8_t *ram = gm.slots[0].host;
	uint64_t rsdp = rd64(bp() + 0x070);
	cr_assert_eq(rsdp, HV_ACPI_ADDR);
	cr_assert_eq(memcmp(ram + rsdp, "RSD PTR ", 8), 0);
	cr_assert_eq(bytesum(ram + rsdp, 20), 0);
	cr_assert_eq(bytesum(ram + rsdp, 36), 0);
	const uint8_t *xsdt = ram + rd64(ram + rsdp + 24);
	cr_assert_eq(memcmp(xsdt, "XSDT", 4), 0);
	cr_assert_eq(bytesum(xsdt, rd32(xsdt + 4)), 0);
	const uint8_t *fadt = ram + rd64(xsdt + 36);
	cr_assert_eq(memcmp(fadt, "FACP", 4), 0);
	cr_assert_eq(bytesum(fadt, rd32(fadt + 4)), 0);
	cr_assert_eq(rd32(fadt + 112) & (1u << 20), 0, "hardware-reduced ACPI would drop the PIC");
	const uint8_t *dsdt = ram + rd64(fadt + 140);
	cr_assert_eq(memcmp(dsdt, "DSDT", 4), 0);
	uint32_t dlen = rd32(dsdt + 4);
	cr_assert_eq(bytesum(dsdt, dlen), 0);
	cr_assert(memmem(dsdt, dlen, "LNRO0005", 9), "no virtio-mmio device in the DSDT");
	/* _CRS: Memory32Fixed at the virtio window, IRQ 5 as an ISA IRQ mask. */
	const uint8_t mem[] = { 0x86, 9, 0, 1, 0x00, 0x10, 0x00, 0xD0, 0x00, 0x02, 0, 0 };
	cr_assert(memmem(dsdt, dlen, mem, sizeof mem), "the MMIO window is not described");
	const uint8_t irq[] = { 0x22, 1u << HV_IRQ_VIRTIO_BLK, 0 };
	cr_assert(memmem(dsdt, dlen, irq, sizeof irq), "IRQ 5 is not described");
}

Test(linuxboot, without_virtio_there_are_no_acpi_tables)
{
	cr_assert_eq(load(IMG_LEN, NULL, 0), 0, "%s", err);
	cr_assert_eq(rd64(bp() + 0x070), 0);
	cr_assert_neq(memcmp(gm.slots[0].host + HV_ACPI_ADDR, "RSD PTR ", 8), 0);
}

/* ---- an initrd for an ELF kernel with the PVH note: a PVH module (hv/loader.c, hv/cpu.c) ---- */

Test(linuxboot, pvh_initrd_becomes_the_start_info_module)
{
	struct boot_info pvh = { .mode = BOOT_PROTECTED, .is_elf = 1, .has_pvh = 1,
				 .lowest = 0x1000000, .highest = 0x3000000 };
	static uint8_t rd[6000];
	memset(rd, 0xA5, sizeof rd);
	cr_assert_eq(loader_add_initrd(&gm, &pvh, rd, sizeof rd, "rd", err, sizeof err), 0, "%s", err);
	cr_assert_eq(pvh.initrd_addr, (RAM - sizeof rd) & ~0xFFFull);
	cr_assert_eq(memcmp(gm.slots[0].host + pvh.initrd_addr, rd, sizeof rd), 0);
	cr_assert_eq(pvh_write_start_info(&gm, &pvh, "console=ttyS0", err, sizeof err), 0, "%s", err);
	const uint8_t *si = gm.slots[0].host + HV_START_INFO_ADDR;
	cr_assert_eq(rd32(si + 12), 1, "nr_modules");
	uint64_t modlist = rd64(si + 16);
	const uint8_t *m = gm.slots[0].host + modlist;
	cr_assert_eq(rd64(m), pvh.initrd_addr);
	cr_assert_eq(rd64(m + 8), sizeof rd);
	cr_assert(modlist + 32 <= HV_CMDLINE_ADDR, "the module list overlaps the command line");
}

Test(linuxboot, pvh_start_info_without_initrd_lists_no_module)
{
	struct boot_info pvh = { .mode = BOOT_PROTECTED, .is_elf = 1, .has_pvh = 1 };
	cr_assert_eq(pvh_write_start_info(&gm, &pvh, NULL, err, sizeof err), 0, "%s", err);
	const uint8_t *si = gm.slots[0].host + HV_START_INFO_ADDR;
	cr_assert_eq(rd32(si + 12), 0);
	cr_assert_eq(rd64(si + 16), 0);
}

Test(linuxboot, initrd_for_a_guest_without_pvh_or_too_big_is_refused)
{
	static uint8_t rd[4096];
	struct boot_info elf64 = { .mode = BOOT_LONG, .is_elf = 1, .highest = 0x200000 };
	cr_assert_eq(loader_add_initrd(&gm, &elf64, rd, sizeof rd, "rd", err, sizeof err), -1);
	cr_assert(strstr(err, "--initrd needs a kernel that takes one"), "%s", err);
	struct boot_info pvh = { .mode = BOOT_PROTECTED, .is_elf = 1, .has_pvh = 1,
				 .highest = RAM - 100 };
	cr_assert_eq(loader_add_initrd(&gm, &pvh, rd, sizeof rd, "rd", err, sizeof err), -1);
	cr_assert(strstr(err, "the initrd 'rd' (4096 bytes) does not fit"), "%s", err);
}

/*
 * The words hv adds to a Linux kernel's command line (vm.c, vm_build_cmdline): `pci=off`, so
 * that Linux does not scan PCI slots that hv does not have (textbook ch 11, "The PCI scan that
 * was four exits in five"), unless the user gave a `pci=` word of their own. Other guests'
 * command lines get no `pci=off`.
 */
static const char *cmdline_for(bool linux_kernel, const char *user, enum disk_path path)
{
	static char line[HV_CMDLINE_MAX];
	struct vm_options opt = { .linux_kernel = linux_kernel, .cmdline = user, .disk_path = path };
	int n = vm_build_cmdline(line, sizeof line, &opt);
	cr_assert(n > 0 && (size_t)n < sizeof line, "%d", n);
	return line;
}

Test(linuxboot, a_linux_command_line_gets_pci_off_unless_it_has_a_pci_word)
{
	cr_assert_str_eq(cmdline_for(true, "console=ttyS0 quiet", DISK_PATH_LEGACY),
			 "console=ttyS0 quiet hvlab.disk=legacy pci=off hvlab.pvtrace=0x528");
	cr_assert_str_eq(cmdline_for(true, NULL, DISK_PATH_NONE), "pci=off hvlab.pvtrace=0x528");
	/* the user's own pci= word wins, at the start or after a space */
	cr_assert_str_eq(cmdline_for(true, "pci=noearly quiet", DISK_PATH_NONE),
			 "pci=noearly quiet hvlab.pvtrace=0x528");
	cr_assert_null(strstr(cmdline_for(true, "quiet pci=conf1", DISK_PATH_VIRTIO), "pci=off"));
	/* a word that only contains "pci=" is another option: hv still adds its own */
	cr_assert(strstr(cmdline_for(true, "foo.pci=1", DISK_PATH_NONE), " pci=off "));
	/* a guest that is no --kernel bzImage gets no pci=off */
	cr_assert_null(strstr(cmdline_for(false, "quiet", DISK_PATH_LEGACY), "pci="));
}
