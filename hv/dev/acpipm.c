/*
 * acpipm.c - the ACPI PM1 registers: where an ACPI kernel enables its fixed events and reads
 * the machine's power state.
 *
 * Concept: a PC with ACPI has a few fixed registers for power management, named in the FADT
 * (ACPI specification 6.4, section 4.8 "ACPI Hardware Model"): PM1 *status* (bits the hardware
 * sets when an event happens: power button, clock alarm, timer overflow; software clears a
 * bit by writing 1 to it), PM1 *enable* (which of those events may raise the SCI interrupt) and
 * PM1 *control* (SCI_EN: the machine is in ACPI mode; SLP_TYP and SLP_EN: enter a sleep state).
 * Linux's ACPI core writes them as it starts, and reads back what it wrote: a register block at
 * a port where nothing answers reads all ones, and then Linux reports "Could not disable
 * RealTimeClock events". hv has none of those events, so this device only keeps what is
 * written: status reads 0 (nothing happened), enable reads back, control reads back with
 * SCI_EN set (hv's machine is always in ACPI mode: the FADT has no SMI command to switch).
 * A write of SLP_EN is ignored: hv's tables offer no sleep state (no \_S5), so a kernel never
 * asks. Textbook: chapter 11 "Booting Linux", section "Telling Linux where the virtio disk is".
 */
#include "acpipm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PM1_STS 0u        /* offsets in the 6-port range */
#define PM1_EN  2u
#define PM1_CNT 4u
#define CNT_SCI_EN (1u << 0)
#define CNT_SLP_EN (1u << 13)

/* The 6 register bytes as the guest sees them now. */
static void acpipm_bytes(const struct acpipm *pm, uint8_t regs[ACPIPM_LEN])
{
	uint16_t v[3] = { 0, pm->enable, (uint16_t)(pm->control | CNT_SCI_EN) };
	memcpy(regs, v, sizeof v); /* x86: little-endian, as the registers */
}

/* Any width at any offset: byte by byte, bytes past the range read as an empty bus. */
static void acpipm_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	uint8_t regs[ACPIPM_LEN];
	acpipm_bytes(dev, regs);
	for (uint32_t i = 0; i < size; i++)
		data[i] = offset + i < ACPIPM_LEN ? regs[offset + i] : 0xFF;
}

static void acpipm_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct acpipm *pm = dev;
	uint8_t regs[ACPIPM_LEN];
	acpipm_bytes(pm, regs);
	for (uint32_t i = 0; i < size; i++)
		if (offset + i < ACPIPM_LEN)
			regs[offset + i] = data[i];
	uint16_t v[3];
	memcpy(v, regs, sizeof v);
	/* v[0], status: write-1-to-clear of bits that are never set, so nothing to do. */
	pm->enable = v[1];
	pm->control = (uint16_t)(v[2] & ~(CNT_SCI_EN | CNT_SLP_EN));
	pm->writes++;
}

static void acpipm_reset(void *dev)
{
	struct acpipm *pm = dev;
	pm->enable = 0;
	pm->control = 0;
}

const struct device_ops acpipm_ops = {
	.name = "acpi-pm1",
	.read = acpipm_read,
	.write = acpipm_write,
	.reset = acpipm_reset,
};

struct acpipm *acpipm_create(void)
{
	struct acpipm *pm = calloc(1, sizeof(*pm));
	if (!pm)
		errno = ENOMEM;
	return pm;
}

void acpipm_destroy(struct acpipm *pm)
{
	free(pm);
}
