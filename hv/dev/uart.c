/*
 * uart.c - a 16550A serial port, emulated register by register.
 *
 * Full virtualization in miniature: the guest's driver believes it talks to a real chip.
 * Every IN/OUT it executes on ports 0x3F8-0x3FF leaves the guest (a VM exit), KVM hands it
 * to hv, the bus hands it here, and this file plays the chip. The model follows the National
 * Semiconductor / TI PC16550D datasheet closely enough that an unmodified Linux 8250 driver
 * probes it as a "16550A" and drives it, with or without interrupts.
 * Textbook: chapter 3 "Exits", section "From exit to device" (and "Full virtualization").
 *
 * The register file (offset from the base port; DLAB = LCR bit 7):
 *
 *   off  DLAB=0 read   DLAB=0 write   DLAB=1
 *   0    RBR receive   THR transmit   DLL divisor latch, low byte
 *   1    IER interrupt enable         DLM divisor latch, high byte
 *   2    IIR interrupt id  FCR FIFO control (same with DLAB=1)
 *   3    LCR line control
 *   4    MCR modem control
 *   5    LSR line status (read-only)
 *   6    MSR modem status (read-only)
 *   7    SCR scratch
 *
 * What we do not model, and why it is safe: there is no wire and no time. A byte written to
 * THR is "on the wire" at once, so the transmitter is always empty (LSR.THRE = LSR.TEMT = 1)
 * and the guest never waits. Parity, framing and break errors cannot happen. The divisor is
 * stored and reported but never used to pace anything.
 *
 * Only 1-byte accesses are meaningful: the chip has an 8-bit data bus. A wider access (a
 * 2-byte IN from 0x3F8) reads all ones and a wider write is ignored; both are counted in
 * u->bad_width. Appendix C rows S1-S6 are marked where they are handled.
 */
#include "uart.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Register offsets. */
enum {
	UART_RBR_THR = 0, UART_IER = 1, UART_IIR_FCR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

/* IER: which events may raise the interrupt line. Bits 7:4 read as 0 on a 16550A. */
#define IER_ERBFI 0x01u /* received data available (and character timeout) */
#define IER_ETBEI 0x02u /* transmitter holding register empty */
#define IER_ELSI  0x04u /* receiver line status (errors) */
#define IER_EDSSI 0x08u /* modem status change */
#define IER_MASK  0x0Fu

/* IIR: bit 0 = 1 means "no interrupt pending"; bits 3:1 say which; bits 7:6 = FIFOs on. */
#define IIR_NONE    0x01u
#define IIR_MSR     0x00u /* priority 4 (lowest): modem status */
#define IIR_THRE    0x02u /* priority 3: transmitter holding register empty */
#define IIR_RDA     0x04u /* priority 2: received data at the trigger level */
#define IIR_RLS     0x06u /* priority 1 (highest): receiver line status */
#define IIR_TIMEOUT 0x0Cu /* priority 2: data below the trigger level, line idle */
#define IIR_FIFO_ON 0xC0u

/* FCR (write-only). */
#define FCR_ENABLE   0x01u
#define FCR_CLEAR_RX 0x02u
#define FCR_CLEAR_TX 0x04u
#define FCR_DMA      0x08u
#define FCR_TRIGGER  0xC0u

#define LCR_DLAB 0x80u

/* MCR: outputs to the modem. Bits 7:5 are 0 on a 16550A. */
#define MCR_DTR  0x01u
#define MCR_RTS  0x02u
#define MCR_OUT1 0x04u
#define MCR_OUT2 0x08u
#define MCR_LOOP 0x10u
#define MCR_MASK 0x1Fu

/* LSR. */
#define LSR_DR   0x01u /* data ready: the receiver holds at least one byte */
#define LSR_OE   0x02u /* overrun error: a received byte was lost */
#define LSR_THRE 0x20u /* transmitter holding register empty: you may write THR */
#define LSR_TEMT 0x40u /* transmitter completely empty (shift register too) */

/* MSR: bits 7:4 are the modem input lines, bits 3:0 record changes. */
#define MSR_DCTS 0x01u
#define MSR_DDSR 0x02u
#define MSR_TERI 0x04u /* trailing edge of RI: RI went from on to off */
#define MSR_DDCD 0x08u
#define MSR_CTS  0x10u
#define MSR_DSR  0x20u
#define MSR_RI   0x40u
#define MSR_DCD  0x80u

/*
 * Outside loopback the input lines come from "the cable". hv's cable is a terminal that is
 * always ready: Clear To Send, Data Set Ready and Data Carrier Detect on, Ring Indicator off
 * (QEMU makes the same choice). A driver waiting for CTS before sending never waits.
 */
#define MSR_CABLE (MSR_CTS | MSR_DSR | MSR_DCD)

/* Every device counts the same thing for an access of the wrong width: fill reads with 1s. */
static void uart_bad_width(struct uart *u, uint8_t *data, uint32_t size)
{
	u->bad_width++;
	if (data)
		memset(data, 0xFF, size);
}

static bool uart_fifo_enabled(const struct uart *u)
{
	return u->fcr & FCR_ENABLE;
}

/*
 * How many bytes the receiver holds: 16 with FIFOs on; with FIFOs off the chip behaves like
 * its ancestor the 16450, whose receiver buffer register (RBR) holds exactly one byte.
 */
static unsigned uart_rx_capacity(const struct uart *u)
{
	return uart_fifo_enabled(u) ? UART_FIFO_SIZE : 1u;
}

/* ---- the interrupt logic --------------------------------------------------------------- */

/* LAB 4 BEGIN interrupts: which interrupt is pending (IIR priority) and the INTRQ line */
/* FCR bits 7:6 select after how many bytes "received data available" fires: 1, 4, 8, 14. */
static unsigned uart_rx_trigger(const struct uart *u)
{
	static const unsigned level[4] = { 1, 4, 8, 14 };
	return uart_fifo_enabled(u) ? level[(u->fcr & FCR_TRIGGER) >> 6] : 1u;
}

/*
 * IIR bits 3:0: the highest-priority *enabled* pending interrupt. The datasheet's table:
 *   1. receiver line status (an error such as overrun)   IIR = 0x06, cleared by reading LSR
 *   2. received data at the trigger level                 IIR = 0x04, cleared by reading RBR
 *      or character timeout (FIFO mode)                   IIR = 0x0C, cleared by reading RBR
 *   3. THR empty                                          IIR = 0x02, cleared by reading IIR
 *                                                         (if it is the source) or writing THR
 *   4. modem status change                                IIR = 0x00, cleared by reading MSR
 * A real chip raises the timeout after four character times with no new byte. hv has no
 * time, so the line is always "already idle": data below the trigger level reports timeout
 * at once. A driver reads RBR until LSR.DR clears in both cases, so it cannot tell.
 */
static uint8_t uart_iir_id(const struct uart *u)
{
	if ((u->ier & IER_ELSI) && u->lsr_err)
		return IIR_RLS;
	if ((u->ier & IER_ERBFI) && u->rx_count > 0)
		return u->rx_count >= uart_rx_trigger(u) ? IIR_RDA : IIR_TIMEOUT;
	if ((u->ier & IER_ETBEI) && u->thre_pending)
		return IIR_THRE;
	if ((u->ier & IER_EDSSI) && u->msr_delta)
		return IIR_MSR;
	return IIR_NONE;
}

/*
 * The INTR pin is high whenever IIR says something is pending. The callback runs only when
 * the level changes (S6): a guest that rewrites IER a million times without changing what
 * is pending causes no interrupt injection at all. (On a PC board MCR.OUT2 gates INTR onto the
 * ISA bus; that gate belongs to the board's wiring, which hv does not model.)
 */
static void uart_update_irq(struct uart *u)
{
	int level = uart_iir_id(u) != IIR_NONE;

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	if (u->set_irq)
		u->set_irq(u->irq_ctx, level);
}

/* LAB 4 STUB
static uint8_t uart_iir_id(const struct uart *u)
{
	// TODO(lab 4): return IIR bits 3:0 for the highest-priority interrupt that is both
	// pending and enabled in IER: line status (an error in u->lsr_err) 0x06, received data
	// 0x04 (at the FIFO trigger level; below it, the character timeout 0x0C), THR empty 0x02
	// (u->thre_pending), modem status 0x00 (u->msr_delta); nothing pending: 0x01.
	// Textbook chapter 3 "Exits", section "From exit to device"; appendix C, section C.5 (S6).
	(void)u;
	return IIR_NONE;
}

static void uart_update_irq(struct uart *u)
{
	// TODO(lab 4): the line is high while uart_iir_id() reports something; call
	// u->set_irq(u->irq_ctx, level) only when the level changes (S6), and remember it.
	(void)u;
	(void)uart_iir_id; // the cast only silences "unused" until you call it
}
LAB 4 END */

/* ---- receiver ---------------------------------------------------------------------------- */

/*
 * One byte arrives at the receiver (from the host, or from our own transmitter in loopback).
 * The FIFO is bounded (S3): when it is full the byte is lost and LSR.OE set. Which byte is
 * lost differs by mode, per the datasheet: with FIFOs on the FIFO keeps its contents and the
 * new byte (still in the shift register) is overwritten; with FIFOs off the new byte
 * overwrites the unread one in RBR.
 */
static void uart_rx_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count < uart_rx_capacity(u)) {
		u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
		u->rx_count++;
		u->rx_bytes++;
		return;
	}
	u->lsr_err |= LSR_OE;
	u->overruns++;
	if (!uart_fifo_enabled(u))
		u->rx[u->rx_head] = byte;
}

/* RBR: the oldest received byte. Reading an empty receiver returns 0 (undefined on the chip). */
static uint8_t uart_rx_pop(struct uart *u)
{
	if (u->rx_count == 0)
		return 0;
	uint8_t byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	return byte;
}

static void uart_rx_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* ---- modem lines --------------------------------------------------------------------------- */

/*
 * MSR bits 7:4. In loopback (MCR bit 4) the datasheet wires the modem outputs straight back
 * to the inputs: DTR -> DSR, RTS -> CTS, OUT1 -> RI, OUT2 -> DCD. Linux's 8250 autoconfig
 * relies on it: it writes MCR = LOOP | OUT2 | RTS (0x1A) and expects MSR & 0xF0 == 0x90
 * (DCD | CTS), or it decides there is no UART.
 */
static uint8_t uart_msr_lines(const struct uart *u)
{
	if (!(u->mcr & MCR_LOOP))
		return MSR_CABLE;
	uint8_t lines = 0;
	if (u->mcr & MCR_DTR)
		lines |= MSR_DSR;
	if (u->mcr & MCR_RTS)
		lines |= MSR_CTS;
	if (u->mcr & MCR_OUT1)
		lines |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		lines |= MSR_DCD;
	return lines;
}

/*
 * Recompute the input lines and latch the "delta" bits 3:0 for every line that changed since
 * (they stay set until MSR is read). RI is special: its bit records only the trailing edge,
 * the ring stopping (on -> off).
 */
static void uart_msr_update(struct uart *u)
{
	uint8_t now = uart_msr_lines(u);
	uint8_t changed = now ^ u->msr_lines;

	if (changed & MSR_CTS)
		u->msr_delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr_delta |= MSR_DDSR;
	if ((u->msr_lines & MSR_RI) && !(now & MSR_RI))
		u->msr_delta |= MSR_TERI;
	if (changed & MSR_DCD)
		u->msr_delta |= MSR_DDCD;
	u->msr_lines = now;
}

/* ---- register reads ------------------------------------------------------------------------ */

/* MSR: the lines plus the change bits; reading clears the change bits (and their interrupt). */
static uint8_t uart_read_msr(struct uart *u)
{
	uint8_t v = u->msr_lines | u->msr_delta;

	u->msr_delta = 0;
	return v;
}

/* LAB 4 BEGIN read_regs: what a read of each register returns (DLAB, RBR, IIR, LSR, MSR, SCR) */
/*
 * IIR. Bits 7:6 read 11 when FCR bit 0 enabled the FIFOs: that is how a driver tells a
 * 16550A (0xC0) from a 16450 (0x00) or the buggy original 16550 (0x80). Linux writes
 * FCR = 0x01 and classifies the chip by IIR >> 6 (3 = "16550A"). Reading IIR is also an
 * acknowledgement: if THR empty is the interrupt being reported, the read clears it.
 */
static uint8_t uart_read_iir(struct uart *u)
{
	uint8_t id = uart_iir_id(u);

	if (id == IIR_THRE)
		u->thre_pending = false;
	return id | (uart_fifo_enabled(u) ? IIR_FIFO_ON : 0);
}

/*
 * LSR. DR (bit 0) while the receiver holds a byte. THRE (bit 5) tells the driver it may write
 * the next byte, TEMT (bit 6) that even the shift register is empty; we transmit instantly,
 * so both are always set: 0x60 is the idle value. Error bits (OE, bit 1) are sticky and a
 * read of LSR clears them; that read is also what acknowledges the line-status interrupt.
 */
static uint8_t uart_read_lsr(struct uart *u)
{
	uint8_t v = LSR_THRE | LSR_TEMT | u->lsr_err;

	if (u->rx_count > 0)
		v |= LSR_DR;
	u->lsr_err = 0;
	return v;
}

static uint8_t uart_read_reg(struct uart *u, uint64_t off)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (off) {
	case UART_RBR_THR:
		return dlab ? u->dll : uart_rx_pop(u);
	case UART_IER:
		return dlab ? u->dlm : u->ier;
	case UART_IIR_FCR:
		return uart_read_iir(u);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return uart_read_lsr(u);
	case UART_MSR:
		return uart_read_msr(u);
	default: /* UART_SCR; the bus never passes an offset >= UART_LEN */
		return u->scr;
	}
}

/* LAB 4 STUB
static uint8_t uart_read_reg(struct uart *u, uint64_t off)
{
	// TODO(lab 4): what a 1-byte IN from offset `off` returns, with its side effects. With
	// DLAB (LCR bit 7) set, offsets 0 and 1 are the divisor latch (u->dll, u->dlm); else RBR
	// (the oldest received byte: uart_rx_pop) and IER. IIR: the id of uart_iir_id() plus 0xC0
	// with FIFOs on; reading it acknowledges a THR-empty interrupt. LSR: THRE | TEMT always,
	// DR while a byte waits, the sticky errors, which the read clears. MSR: uart_read_msr.
	// LCR, MCR, SCR read back what was written.
	// Textbook chapter 3 "Exits", section "From exit to device"; appendix B, section B.6.
	(void)u;
	(void)off;
	(void)uart_rx_pop;   // the casts only silence "unused" until you call these helpers
	(void)uart_read_msr;
	return 0xFF;
}
LAB 4 END */

/* ---- register writes ----------------------------------------------------------------------- */

/*
 * FCR. Bit 0 enables both FIFOs, and changing it empties them. While bit 0 is 0 the other
 * bits are ignored (the datasheet: FCR0 must be 1 for them to be programmed). Bits 1 and 2
 * clear the receive / transmit FIFO and clear themselves. Bits 7:6 set the receive trigger
 * level. FCR shares offset 2 with IIR: written here, never read back.
 */
static void uart_write_fcr(struct uart *u, uint8_t v)
{
	if ((v & FCR_ENABLE) != (u->fcr & FCR_ENABLE))
		uart_rx_clear(u);
	if (!(v & FCR_ENABLE)) {
		u->fcr = 0;
		return;
	}
	if (v & FCR_CLEAR_RX)
		uart_rx_clear(u);
	/* FCR_CLEAR_TX: our transmit FIFO is always empty already. */
	u->fcr = v & (FCR_ENABLE | FCR_DMA | FCR_TRIGGER);
}

/*
 * MCR. Bits 4:0 exist. Entering or leaving loopback, or changing an output while in it,
 * changes what MSR sees; uart_msr_update latches the change bits.
 */
static void uart_write_mcr(struct uart *u, uint8_t v)
{
	u->mcr = v & MCR_MASK;
	uart_msr_update(u);
}

/* LAB 4 BEGIN write_regs: what a write to each register does (DLAB, THR, IER, LCR, SCR) */
/*
 * THR. The byte goes on the wire at once: to the console, or in loopback straight back into
 * our own receiver (where a flood overruns the bounded FIFO instead of growing anything, S3).
 * The holding register is empty again immediately, so the THR-empty interrupt re-arms: that
 * is the drop-then-rise edge an interrupt-driven driver waits for between bytes.
 */
static void uart_write_thr(struct uart *u, uint8_t v)
{
	u->tx_bytes++;
	if (u->mcr & MCR_LOOP)
		uart_rx_push(u, v);
	else if (u->out)
		console_putc(u->out, v);
	u->thre_pending = true;
}

/*
 * IER. Only bits 3:0 exist; Linux's probe writes 0x0F and then 0x00 and expects to read back
 * exactly that (and XScale detection writes bit 6, which must read back 0 here). Enabling
 * ETBEI while THR is empty raises the THR-empty interrupt at once (datasheet), which is how a
 * driver "kicks" transmission: set ETBEI, take the interrupt, write bytes.
 */
static void uart_write_ier(struct uart *u, uint8_t v)
{
	uint8_t old = u->ier;

	u->ier = v & IER_MASK;
	if (!(old & IER_ETBEI) && (u->ier & IER_ETBEI))
		u->thre_pending = true;
}

static void uart_write_reg(struct uart *u, uint64_t off, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (off) {
	case UART_RBR_THR:
		/* DLL: divisor low byte. Any value, 0 included, is stored; nothing divides by it. */
		if (dlab)
			u->dll = v;
		else
			uart_write_thr(u, v);
		break;
	case UART_IER:
		if (dlab)
			u->dlm = v;
		else
			uart_write_ier(u, v);
		break;
	case UART_IIR_FCR:
		uart_write_fcr(u, v);
		break;
	case UART_LCR:
		/* Word length, stop bits, parity: stored only (no wire). Bit 7 is DLAB. */
		u->lcr = v;
		break;
	case UART_MCR:
		uart_write_mcr(u, v);
		break;
	case UART_LSR:
	case UART_MSR:
		/* Read-only status (S2): the write changes nothing, and is counted. */
		u->ro_writes++;
		break;
	default: /* UART_SCR: a byte of plain storage, used by drivers to test that a UART is there */
		u->scr = v;
		break;
	}
}

/* LAB 4 STUB
static void uart_write_reg(struct uart *u, uint64_t off, uint8_t v)
{
	// TODO(lab 4): what a 1-byte OUT of `v` to offset `off` does. With DLAB (LCR bit 7) set,
	// offsets 0 and 1 load the divisor latch (u->dll, u->dlm); else THR sends the byte (to
	// the console, console_putc(u->out, v), or in loopback, MCR bit 4, into our own receiver
	// with uart_rx_push) and re-arms the THR-empty interrupt, and IER keeps bits 3:0 (turning
	// ETBEI on with THR empty raises THRE at once). FCR: uart_write_fcr; LCR and SCR: stored;
	// MCR: uart_write_mcr; LSR and MSR are read-only (count the write in u->ro_writes).
	// Count every byte sent in u->tx_bytes.
	// Textbook chapter 3 "Exits", section "From exit to device"; appendix C, section C.5.
	(void)u;
	(void)off;
	(void)v;
	(void)uart_write_fcr; // the casts only silence "unused" until you call these helpers
	(void)uart_write_mcr;
}
LAB 4 END */

/* ---- device_ops ---------------------------------------------------------------------------- */

/* The lock: hv's console input thread may be filling the receive FIFO at the same moment
 * (uart_receive). Held across the interrupt update, so the line follows the state in order. */
static void uart_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct uart *u = dev;

	pthread_mutex_lock(&u->lock);
	if (size != 1 || offset >= UART_LEN)
		uart_bad_width(u, data, size);
	else {
		data[0] = uart_read_reg(u, offset);
		uart_update_irq(u);
	}
	pthread_mutex_unlock(&u->lock);
}

static void uart_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct uart *u = dev;

	pthread_mutex_lock(&u->lock);
	if (size != 1 || offset >= UART_LEN)
		uart_bad_width(u, NULL, size);
	else {
		uart_write_reg(u, offset, data[0]);
		uart_update_irq(u);
	}
	pthread_mutex_unlock(&u->lock);
}

/*
 * Power-on / master reset values, from the datasheet's reset table: IER = 0, IIR = 0x01 (no
 * interrupt pending), FCR = 0 (FIFOs off), LCR = 0, MCR = 0, LSR = 0x60 (transmitter empty),
 * MSR bits 3:0 = 0 and bits 7:4 = the input lines. The datasheet leaves the divisor latch
 * and the scratch register undefined; we choose 0, so "divisor 0" (S1) is the default case.
 * Counters are the host's observations and survive a reset.
 */
static void uart_power_on(struct uart *u)
{
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->dll = 0;
	u->dlm = 0;
	u->fcr = 0;
	u->lsr_err = 0;
	u->msr_lines = MSR_CABLE;
	u->msr_delta = 0;
	u->thre_pending = false;
	uart_rx_clear(u);
	uart_update_irq(u);
}

static void uart_reset(void *dev)
{
	struct uart *u = dev;

	pthread_mutex_lock(&u->lock);
	uart_power_on(u);
	pthread_mutex_unlock(&u->lock);
}

const struct device_ops uart_ops = {
	.name = "uart16550a",
	.read = uart_read,
	.write = uart_write,
	.reset = uart_reset,
};

struct uart *uart_create(struct console *out)
{
	struct uart *u = calloc(1, sizeof(*u));

	if (!u) {
		errno = ENOMEM;
		return NULL;
	}
	u->out = out;
	pthread_mutex_init(&u->lock, NULL);
	uart_power_on(u);
	return u;
}

void uart_destroy(struct uart *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u);
}

void uart_connect_irq(struct uart *u, void (*set_irq)(void *ctx, int level), void *ctx)
{
	u->set_irq = set_irq;
	u->irq_ctx = ctx;
}

/*
 * Host input: the bytes a user typed, as if they had arrived on the wire. Each sets LSR.DR
 * (data ready) and, with IER bit 0, raises the "received data" interrupt on IRQ 4: that is how
 * Linux's 8250 driver learns that a key was pressed, without polling.
 */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t n)
{
	pthread_mutex_lock(&u->lock);
	size_t take = 0;
	/* Loopback disconnects the serial input pin: nothing from outside gets in. */
	if (!(u->mcr & MCR_LOOP)) {
		/* Back-pressure (S5): take what fits, never overrun on host input. */
		size_t room = uart_rx_capacity(u) - u->rx_count;
		take = n < room ? n : room;
		for (size_t i = 0; i < take; i++)
			uart_rx_push(u, buf[i]);
		uart_update_irq(u);
	}
	pthread_mutex_unlock(&u->lock);
	return take;
}

bool uart_rx_irq_enabled(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	bool yes = (u->ier & IER_ERBFI) && !(u->mcr & MCR_LOOP);
	pthread_mutex_unlock(&u->lock);
	return yes;
}

uint32_t uart_baud(const struct uart *u)
{
	/*
	 * The PC's UART clock is 1.8432 MHz and the chip samples 16 times per bit, so the baud
	 * rate is 1843200 / 16 / divisor = 115200 / divisor. A guest may well program 0 (S1):
	 * a real chip then simply does not run; we report 0 instead of dividing.
	 */
	uint32_t divisor = (uint32_t)u->dll | ((uint32_t)u->dlm << 8);

	if (divisor == 0)
		return 0;
	return 115200u / divisor;
}
