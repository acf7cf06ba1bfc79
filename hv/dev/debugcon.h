/*
 * debugcon.h - the Bochs/QEMU debug console (HV_PORT_DEBUGCON, 0xE9): one port, every byte
 * written is one character of output. debugcon.c is the device; this is its interface.
 * Textbook: chapter 3 "Exits", section "From exit to device".
 *
 * The struct is public so hv and the tests can print its counters; only debugcon.c changes its
 * fields. debugcon_create allocates one fixed-size struct (never an amount a guest chooses) and
 * returns NULL with errno = ENOMEM on failure. Guest-visible misbehaviour is *counted* in
 * the device, never printed: a guest can repeat it billions of times.
 */
#ifndef HV_DEV_DEBUGCON_H
#define HV_DEV_DEBUGCON_H

#include <stdint.h>

#include "bus.h"
#include "console.h"

#define DEBUGCON_LEN      1u
#define DEBUGCON_READBACK 0xE9u /* what IN from the port returns: "I am here" */

struct debugcon {
	struct console *out;
	uint64_t chars;       /* characters written */
	uint64_t bad_width;   /* accesses wider than 1 byte (ignored) */
};

extern const struct device_ops debugcon_ops;
struct debugcon *debugcon_create(struct console *out);
void debugcon_destroy(struct debugcon *d);

#endif
