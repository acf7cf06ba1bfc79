/*
 * acpi.h - the smallest ACPI tables that tell Linux where hv's virtio-mmio disk is.
 *
 * Concept: a guest cannot discover a memory-mapped device by probing; firmware must describe
 * it. On a PC that description is ACPI: tables in memory, found from the RSDP. hv writes
 * four of them (RSDP, XSDT, FADT with its FACS, and a DSDT holding one device) when a Linux
 * guest has a virtio-mmio disk. Textbook: chapter 11 "Booting Linux", section "Telling Linux
 * where the virtio disk is".
 */
#ifndef HV_ACPI_H
#define HV_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* Bytes acpi_build writes at most. */
#define ACPI_TABLES_MAX 0x400u

/*
 * Build the tables as they must lie at guest-physical `base` (addresses inside them point
 * there), announcing one virtio-mmio device of `len` bytes at `mmio` on ISA IRQ `irq`. Returns
 * the bytes written into buf (at least ACPI_TABLES_MAX bytes); the RSDP is at offset 0.
 */
size_t acpi_build(uint8_t *buf, uint32_t base, uint32_t mmio, uint32_t len, uint8_t irq);

#endif
