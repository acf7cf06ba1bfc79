/*
 * i8042.h - the PC's keyboard controller (Intel 8042) at ports 0x60 (data) and 0x64 (status
 * and command): the controller, with no keyboard and no mouse behind it, and its CPU reset
 * line. i8042.c is the device; this is its interface.
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
 *
 * The struct is public so hv and the tests can print its counters; only i8042.c changes its
 * fields. i8042_create allocates one fixed-size struct (never an amount a guest chooses) and
 * returns NULL with errno = ENOMEM on failure. Only the vCPU thread touches it: no lock.
 */
#ifndef HV_DEV_I8042_H
#define HV_DEV_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "dev/exitdev.h"

#define I8042_PORT_LEN 1u  /* one port at 0x60 (data), one at 0x64 (status / command) */
#define I8042_QUEUE    8u  /* bytes waiting for the guest to read them (the chip has 1) */
#define I8042_RAM      32u /* the controller's RAM bytes 0x00-0x1F; byte 0 is the CTR */

/* One byte in the output buffer, and what the status register says about it. */
struct i8042_byte {
	uint8_t value;
	bool aux;      /* from the mouse port (status bit 5, IRQ 12) instead of the keyboard's */
	bool timeout;  /* "no device answered" (status bit 6) */
};

struct i8042 {
	struct vm_stop *stop;     /* a reset pulse files a stop request here */
	uint8_t ram[I8042_RAM];   /* ram[0] is the command byte (CTR): interrupts, disables */
	uint8_t outport;          /* the output port: bit 0 = CPU reset line (1 = running), bit 1 = A20 */
	uint8_t pending;          /* a command waiting for its data byte on port 0x60, or 0 */
	bool last_was_command;    /* status bit 3: the last write went to 0x64 */
	struct i8042_byte out[I8042_QUEUE]; /* the output buffer, oldest first */
	unsigned out_head, out_count;
	/* the interrupt lines: IRQ 1 (keyboard data) and IRQ 12 (mouse data) */
	void (*set_irq)(void *ctx, unsigned line, int level);
	void *irq_ctx;
	int irq1, irq12;          /* the levels last sent */
	/* counters */
	uint64_t resets;          /* reset pulses (the first ends the run) */
	uint64_t to_devices;      /* bytes sent to the absent keyboard or mouse */
	uint64_t unknown;         /* commands the model does not know (ignored) */
	uint64_t dropped;         /* output bytes lost to a full queue */
	uint64_t bad_width;       /* accesses wider than one byte */
};

extern const struct device_ops i8042_data_ops; /* at HV_PORT_I8042_DATA */
extern const struct device_ops i8042_cmd_ops;  /* at HV_PORT_I8042_CMD */

struct i8042 *i8042_create(struct vm_stop *stop);
void i8042_destroy(struct i8042 *k);
/* Wire IRQ 1 and IRQ 12: set_irq(ctx, line, level) with line 1 or 12. May stay NULL. */
void i8042_connect_irq(struct i8042 *k, void (*set_irq)(void *ctx, unsigned line, int level),
		       void *ctx);

#endif
