/*
 * acpi.c - four ACPI tables that describe one virtio-mmio device to Linux.
 *
 * Concept: firmware tells an operating system what a machine has. On a PC that is ACPI
 * (Advanced Configuration and Power Interface): tables in memory that start at the RSDP (Root
 * System Description Pointer). Linux's virtio_mmio driver finds a device in one of three ways:
 * a device tree (not used on PCs), the command-line word virtio_mmio.device= (only if the kernel
 * was built with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES; Debian's 6.1 kernels are not), or an ACPI
 * device whose hardware ID is "LNRO0005". So for a Linux guest with a virtio disk hv writes:
 *
 *   RSDP  "RSD PTR ": where the XSDT is. Linux gets its address in boot_params (acpi_rsdp_addr),
 *         so it need not search the BIOS area for it.
 *   XSDT  the list of the other tables: here only the FADT.
 *   FADT  Fixed ACPI Description Table: where the DSDT, the FACS and the power-management
 *         registers are. Linux's ACPI core refuses to start without PM1 event and control
 *         registers, so the FADT names two small port ranges that hold what is written
 *         (hv/dev/acpipm.c). It is not "hardware-reduced": that flag would
 *         make Linux drop the 8259A PIC, the only interrupt controller hv has.
 *   FACS  Firmware ACPI Control Structure: a 64-byte block the FADT must point at.
 *   DSDT  Differentiated System Description Table: AML (ACPI Machine Language) byte code that
 *         declares, under \_SB (the system bus), one device: _HID "LNRO0005", and in _CRS its
 *         resources, the MMIO window and the IRQ.
 *
 * Every table starts with the same 36-byte header and carries a checksum: all its bytes add up
 * to 0 modulo 256. Reference: the ACPI specification 6.4, chapters 5.2 (tables), 6.4
 * (resource descriptors) and 20 (AML encoding). Textbook: chapter 11 "Booting Linux", section
 * "Telling Linux where the virtio disk is".
 */
#include "acpi.h"

#include <string.h>

#include "layout.h"

/* Where each table lies, as offsets from base. The FACS must be 64-byte aligned. */
#define OFF_RSDP 0x000
#define OFF_XSDT 0x040
#define OFF_FACS 0x0C0
#define OFF_FADT 0x100
#define OFF_DSDT 0x240
#define FADT_LEN 276   /* FADT revision 6 */
#define HDR_LEN  36

/* PM1 register blocks (hv/dev/acpipm.c; PIIX4 chipsets put them at 0x600 too). */
#define PM1A_EVT_PORT HV_PORT_ACPI_PM1
#define PM1A_CNT_PORT (HV_PORT_ACPI_PM1 + 4)
#define SCI_IRQ 9

static void w16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); } /* x86: little-endian */
static void w32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void w64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* The common header; the checksum (byte 9) is set last, over the whole table. */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	w32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "HVLAB ", 6);     /* OEM ID */
	memcpy(t + 16, "HVLABVM ", 8);   /* OEM table ID */
	w32(t + 24, 1);                  /* OEM revision */
	memcpy(t + 28, "HVLB", 4);       /* creator ID */
	w32(t + 32, 1);                  /* creator revision */
}

static void checksum(uint8_t *t, size_t len, size_t at)
{
	t[at] = 0;
	t[at] = (uint8_t)(0x100 - sum(t, len));
}

/*
 * The DSDT's AML, byte by byte:
 *
 *   Scope (\_SB) {
 *     Device (VRT0) {
 *       Name (_HID, "LNRO0005")        the ID Linux's virtio_mmio driver matches
 *       Name (_UID, 0)
 *       Name (_CRS, ResourceTemplate () {
 *         Memory32Fixed (ReadWrite, mmio, len)
 *         IRQNoFlags () { irq }        an ISA interrupt: edge-triggered, active high
 *       })
 *     }
 *   }
 *
 * A package's length (PkgLength) counts itself and what follows; below 64 it is one byte, and
 * everything here is smaller.
 */
static size_t dsdt_aml(uint8_t *a, uint32_t mmio, uint32_t len, uint8_t irq)
{
	static const uint8_t crs_tail[] = { 0x79, 0x00 }; /* End Tag, checksum 0 = "not used" */
	uint8_t crs[17];
	crs[0] = 0x86;                  /* Memory32Fixed descriptor */
	w16(crs + 1, 9);                /* its length after this field */
	crs[3] = 0x01;                  /* read-write */
	w32(crs + 4, mmio);
	w32(crs + 8, len);
	crs[12] = 0x22;                 /* IRQ descriptor, 2 bytes of mask: IRQNoFlags */
	w16(crs + 13, (uint16_t)(1u << irq));
	memcpy(crs + 15, crs_tail, 2);

	uint8_t dev[64];
	size_t n = 0;
	memcpy(dev + n, "VRT0", 4), n += 4;
	dev[n++] = 0x08;                /* NameOp */
	memcpy(dev + n, "_HID", 4), n += 4;
	dev[n++] = 0x0D;                /* StringPrefix */
	memcpy(dev + n, "LNRO0005", 9), n += 9;
	dev[n++] = 0x08;
	memcpy(dev + n, "_UID", 4), n += 4;
	dev[n++] = 0x00;                /* ZeroOp */
	dev[n++] = 0x08;
	memcpy(dev + n, "_CRS", 4), n += 4;
	dev[n++] = 0x11;                /* BufferOp */
	dev[n++] = (uint8_t)(1 + 2 + sizeof crs); /* PkgLength: itself, the size, the bytes */
	dev[n++] = 0x0A;                /* BytePrefix: the buffer's size */
	dev[n++] = (uint8_t)sizeof crs;
	memcpy(dev + n, crs, sizeof crs), n += sizeof crs;

	size_t k = 0;
	a[k++] = 0x10;                  /* ScopeOp */
	a[k++] = (uint8_t)(1 + 5 + 2 + 1 + n); /* PkgLength: itself, \_SB_, the Device */
	memcpy(a + k, "\\_SB_", 5), k += 5;
	a[k++] = 0x5B;                  /* DeviceOp = ExtOpPrefix 0x5B, 0x82 */
	a[k++] = 0x82;
	a[k++] = (uint8_t)(1 + n);      /* PkgLength of the Device */
	memcpy(a + k, dev, n), k += n;
	return k;
}

size_t acpi_build(uint8_t *buf, uint32_t base, uint32_t mmio, uint32_t len, uint8_t irq)
{
	memset(buf, 0, ACPI_TABLES_MAX);

	/* DSDT: the header, then the AML. */
	uint8_t *dsdt = buf + OFF_DSDT;
	size_t dsdt_len = HDR_LEN + dsdt_aml(dsdt + HDR_LEN, mmio, len, irq);
	header(dsdt, "DSDT", (uint32_t)dsdt_len, 2);
	checksum(dsdt, dsdt_len, 9);

	/* FACS: signature and length only; it has no checksum. */
	memcpy(buf + OFF_FACS, "FACS", 4);
	w32(buf + OFF_FACS + 4, 64);

	/* FADT (ACPI 6.4, 5.2.9): the fields Linux needs, at their offsets; the rest 0. */
	uint8_t *f = buf + OFF_FADT;
	header(f, "FACP", FADT_LEN, 6);
	w32(f + 36, base + OFF_FACS);   /* FIRMWARE_CTRL */
	w32(f + 40, base + OFF_DSDT);   /* DSDT */
	w16(f + 46, SCI_IRQ);           /* SCI_INT; SMI_CMD (48) = 0: always in ACPI mode */
	w32(f + 56, PM1A_EVT_PORT);     /* PM1a_EVT_BLK */
	w32(f + 64, PM1A_CNT_PORT);     /* PM1a_CNT_BLK */
	f[88] = 4;                      /* PM1_EVT_LEN */
	f[89] = 2;                      /* PM1_CNT_LEN */
	/* IAPC_BOOT_ARCH: LEGACY_DEVICES (ISA devices exist) and 8042 (hv/dev/i8042.c is there:
	 * with the bit clear, Linux would not probe it, nor use it to reboot). */
	w16(f + 109, 0x0003);
	/* Flags: WBINVD works (bit 0); no fixed power or sleep button (bits 4, 5). */
	w32(f + 112, (1u << 0) | (1u << 4) | (1u << 5));
	w64(f + 132, base + OFF_FACS);  /* X_FIRMWARE_CTRL */
	w64(f + 140, base + OFF_DSDT);  /* X_DSDT */
	checksum(f, FADT_LEN, 9);

	/* XSDT: the header and one 64-bit pointer. */
	uint8_t *x = buf + OFF_XSDT;
	header(x, "XSDT", HDR_LEN + 8, 1);
	w64(x + HDR_LEN, base + OFF_FADT);
	checksum(x, HDR_LEN + 8, 9);

	/* RSDP (ACPI 2.0+, 36 bytes): checksum over the first 20, extended over all 36. */
	uint8_t *r = buf + OFF_RSDP;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "HVLAB ", 6);
	r[15] = 2;                      /* revision: 2 = has the XSDT fields */
	w32(r + 20, 36);                /* length */
	w64(r + 24, base + OFF_XSDT);
	checksum(r, 20, 8);
	checksum(r, 36, 32);
	return OFF_DSDT + dsdt_len;
}
