/*
 * debugcon.c - the Bochs/QEMU debug console: the simplest output device there is.
 *
 * Concept: one port (0xE9), one rule: every byte the guest writes with OUT is one character
 * of output. No registers, no status, no handshake. It is the "hello world" of device
 * emulation and the first thing a brand-new guest can use, before it could drive a UART.
 * It also shows the cost model of full virtualization at its barest: one character = one
 * OUT = one VM exit = one trip through hv. Textbook: chapter 3 "Exits", section "From exit
 * to device".
 *
 * Reading the port returns 0xE9 (the Bochs and QEMU convention): a guest executes `in al, 0xE9`
 * and, if it gets 0xE9 back rather than the 0xFF of an empty bus, knows a debug console is
 * listening. Only 1-byte accesses exist; the device is registered for one port, so the bus
 * refuses wider ones before they get here, and the device refuses them too (counted).
 */
#include "debugcon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The detection read: a guest that is not sure it runs under Bochs, QEMU or hv reads the port
 * once and writes to it only if 0xE9 came back, so on real hardware its output goes nowhere. */
static void debugcon_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct debugcon *d = dev;

	if (size != 1 || offset != 0) {
		d->bad_width++;
		memset(data, 0xFF, size);
		return;
	}
	data[0] = DEBUGCON_READBACK;
}

/*
 * One character. No status bit to poll and no interrupt: the device is never busy, so a guest
 * writes as fast as it can exit. hv's console buffers the bytes and caps the total, so a guest
 * printing forever costs the host a bounded amount of output (appendix C, S4 and R1).
 */
static void debugcon_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct debugcon *d = dev;

	if (size != 1 || offset != 0) {
		d->bad_width++;
		return;
	}
	d->chars++;
	if (d->out)
		console_putc(d->out, data[0]);
}

/* Nothing the guest can see survives a reset: the device has no registers. */
const struct device_ops debugcon_ops = {
	.name = "debugcon",
	.read = debugcon_read,
	.write = debugcon_write,
	.reset = NULL,
};

struct debugcon *debugcon_create(struct console *out)
{
	struct debugcon *d = calloc(1, sizeof(*d));

	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	d->out = out;
	return d;
}

void debugcon_destroy(struct debugcon *d)
{
	free(d);
}
