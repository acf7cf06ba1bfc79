/*
 * acpipm.h - the ACPI PM1 register blocks (event and control) that hv's FADT names for Linux
 * guests with a virtio disk (hv/acpi.c): status, enable and control registers that hold what
 * is written, with no event behind them. acpipm.c is the device; this is its interface.
 * Textbook: chapter 11 "Booting Linux", section "Telling Linux where the virtio disk is".
 *
 * The struct is public so the tests can read its registers; only acpipm.c changes its fields.
 * acpipm_create allocates one fixed-size struct and returns NULL with errno = ENOMEM on failure.
 */
#ifndef HV_DEV_ACPIPM_H
#define HV_DEV_ACPIPM_H

#include <stdint.h>

#include "bus.h"

/* PM1a_EVT_BLK: status (2 bytes) then enable (2 bytes); PM1a_CNT_BLK: control (2 bytes), right
 * after it, so one range of 6 ports covers both (hv/acpi.c puts them at 0x600 and 0x604). */
#define ACPIPM_LEN 6u

struct acpipm {
	uint16_t enable;   /* PM1_EN: which fixed events may raise the SCI (none ever happens) */
	uint16_t control;  /* PM1_CNT, without SCI_EN (always 1) and SLP_EN (write-only) */
	uint64_t writes;
};

extern const struct device_ops acpipm_ops;
struct acpipm *acpipm_create(void);
void acpipm_destroy(struct acpipm *pm);

#endif
