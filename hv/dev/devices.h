/*
 * devices.h - the emulated devices of hv's machine, and how to create them.
 *
 * Concept: KVM emulates a CPU and memory, nothing else. Every other part of the "PC" the guest
 * sees is a few hundred lines of hv: a state struct (the chip's registers), a device_ops table
 * (what happens on a read or write at an offset) and a create function. The bus (bus.h) routes
 * accesses to them; none of them calls KVM, so unit tests drive them with synthetic accesses
 * exactly as a guest would. Textbook: chapter 3 "Exits", section "From exit to device".
 *
 * The structs are public so hv and the tests can print a device's counters; only the device's
 * own file changes its fields. Every create function allocates one fixed-size struct (never an
 * amount a guest chooses) and returns NULL with errno = ENOMEM on failure.
 *
 * Guest-visible misbehaviour (an access of a width a register does not have, a write to a
 * read-only register) is *counted* in the device, never printed: a guest can repeat it
 * billions of times (textbook appendix C, R1).
 */
#ifndef HV_DEVICES_H
#define HV_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "console.h"

/*
 * Why the run should end, set by a device (the exit port) or by the exit loop. The loop checks
 * `requested` after every exit; `status` becomes hv's exit status; `why` is a static string
 * for the summary line.
 */
struct vm_stop {
	bool requested;
	int status;
	const char *why;
};

/* ---- uart.c: 16550A serial port (COM1 at HV_PORT_UART0) ------------------------------- */

#define UART_LEN       8u   /* registers: ports base .. base + 7 */
#define UART_FIFO_SIZE 16u  /* the 16550A's receive FIFO */

struct uart {
	struct console *out;  /* transmitted bytes go here (NULL: discarded) */

	/* the interrupt line (INTR pin): optional, called only when the level changes */
	void (*set_irq)(void *ctx, int level);
	void *irq_ctx;
	int irq_level;

	/* registers (see uart.c for each one's lesson) */
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr;          /* write-only on the chip: FIFO enable, DMA mode, trigger bits */
	uint8_t lsr_err;      /* sticky LSR error bits (OE), cleared by reading LSR */
	uint8_t msr_lines;    /* MSR bits 7:4, the modem input lines as last seen */
	uint8_t msr_delta;    /* MSR bits 3:0, changes since MSR was last read */
	bool thre_pending;    /* the "THR empty" interrupt is latched */

	/* receive FIFO: a ring of UART_FIFO_SIZE bytes (1 byte deep with FIFOs disabled) */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;

	/* counters for hv and the tests */
	uint64_t tx_bytes;    /* bytes written to THR */
	uint64_t rx_bytes;    /* bytes that entered the receiver (host input or loopback) */
	uint64_t overruns;    /* bytes lost to a full receiver (each sets LSR.OE) */
	uint64_t bad_width;   /* accesses wider than 1 byte */
	uint64_t ro_writes;   /* writes to read-only LSR / MSR */
};

extern const struct device_ops uart_ops;

/* A UART in its power-on state whose transmitter writes to `out` (may be NULL). */
struct uart *uart_create(struct console *out);
void uart_destroy(struct uart *u);

/* Wire the INTR pin. Connect before the guest runs; `set_irq` may be NULL (polled use only). */
void uart_connect_irq(struct uart *u, void (*set_irq)(void *ctx, int level), void *ctx);

/*
 * Host input (e.g. stdin) arriving on the serial line. Takes at most the free receive space
 * and returns how many bytes it took: the caller keeps the rest and offers it again later
 * (back-pressure, appendix C, S5). Takes nothing in loopback mode (the line is disconnected).
 */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t n);

/* Baud rate the guest programmed: 115200 / divisor, or 0 if the divisor is 0 (S1). */
uint32_t uart_baud(const struct uart *u);

/* ---- debugcon.c: Bochs/QEMU debug console (HV_PORT_DEBUGCON) --------------------------- */

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

/* ---- exitdev.c: the exit port (HV_PORT_EXIT), like QEMU's isa-debug-exit -------------- */

#define EXITDEV_LEN 4u /* ports 0xF4-0xF7, so OUT of 1, 2 or 4 bytes all reach the device */

struct exitdev {
	struct vm_stop *stop; /* the VM's stop request, filled on a write */
	uint64_t writes;
	uint64_t reads;
};

extern const struct device_ops exitdev_ops;
struct exitdev *exitdev_create(struct vm_stop *stop);
void exitdev_destroy(struct exitdev *e);

/* ---- testdev.c: the test device of the 'exits' guest ----------------------------------- */

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
