/*
 * uart.h - the 16550A serial port (COM1 at HV_PORT_UART0, IRQ HV_IRQ_UART0): its state, its
 * ops table, and how hv feeds it host input. uart.c plays the chip; this is its interface.
 *
 * Concept: KVM emulates a CPU and memory, nothing else. Every other part of the "PC" the guest
 * sees is a few hundred lines of hv: a state struct (the chip's registers), a device_ops table
 * (what happens on a read or write at an offset) and a create function. The bus (bus.h) routes
 * accesses to them; none of them calls KVM, so unit tests drive
 * them with synthetic accesses exactly as a guest would. Textbook: chapter 3 "Exits", section
 * "From exit to device".
 *
 * The struct is public so hv and the tests can print its counters; only uart.c changes its
 * fields. uart_create allocates one fixed-size struct (never an amount a guest chooses) and
 * returns NULL with errno = ENOMEM on failure. Guest-visible misbehaviour is *counted* in
 * the device, never printed: a guest can repeat it billions of times (textbook appendix C, R1).
 */
#ifndef HV_DEV_UART_H
#define HV_DEV_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "console.h"

#define UART_LEN       8u   /* registers: ports base .. base + 7 */
#define UART_FIFO_SIZE 16u  /* the 16550A's receive FIFO */

struct uart {
	struct console *out;  /* transmitted bytes go here (NULL: discarded) */
	/* Two threads touch the chip: the vCPU (register accesses) and hv's console input thread
	 * (uart_receive, hv/console_in.c). One lock around each, in the ops and uart_receive. */
	pthread_mutex_t lock;

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
 * Host input (hv's stdin, hv/console_in.c) arriving on the serial line. Takes at most the free receive space
 * and returns how many bytes it took: the caller keeps the rest and offers it again later
 * (back-pressure, appendix C, S5). Takes nothing in loopback mode (the line is disconnected).
 */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t n);

/* Whether received data can raise the interrupt now (IER bit 0 set and not in loopback): a
 * guest halted with it set may be woken by host input (irq.c). */
bool uart_rx_irq_enabled(struct uart *u);

/* Baud rate the guest programmed: 115200 / divisor, or 0 if the divisor is 0 (S1). */
uint32_t uart_baud(const struct uart *u);

#endif
