/*
 * testdev.h - the test device of the 'exits' guest: a latch on a port (HV_PORT_TESTDEV) and a
 * page of latches in MMIO (HV_MMIO_TESTDEV), so one device shows both kinds of exit.
 * testdev.c is the device; this is its interface. Textbook: chapter 3 "Exits", sections
 * "Port I/O exits" and "MMIO exits".
 *
 * The struct is public so hv and the tests can print its counters; only testdev.c changes its
 * fields. testdev_create allocates one fixed-size struct (never an amount a guest chooses) and
 * returns NULL with errno = ENOMEM on failure. Guest-visible misbehaviour is *counted* in
 * the device, never printed: a guest can repeat it billions of times.
 */
#ifndef HV_DEV_TESTDEV_H
#define HV_DEV_TESTDEV_H

#include <stdint.h>

#include "bus.h"

#define TESTDEV_PIO_LEN  4u    /* ports HV_PORT_TESTDEV .. + 3 */
#define TESTDEV_MMIO_LEN 4096u /* one page at HV_MMIO_TESTDEV: 1024 32-bit latches */

struct testdev {
	uint64_t pio_latch;                /* last value written at port offset 0 */
	uint8_t mmio[TESTDEV_MMIO_LEN];    /* the register page, little-endian */

	uint64_t pio_reads, pio_writes;    /* accesses that did what the device defines */
	uint64_t mmio_reads, mmio_writes;
	uint64_t bad;                      /* refused: misaligned, out of range, reserved port */
};

/* One device, two windows: register testdev_pio_ops and testdev_mmio_ops with the same dev. */
extern const struct device_ops testdev_pio_ops;
extern const struct device_ops testdev_mmio_ops;
struct testdev *testdev_create(void);
void testdev_destroy(struct testdev *t);

#endif
