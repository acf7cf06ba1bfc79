/*
 * uart.c - a polling driver for the 16550A UART on COM1 (I/O ports 0x3F8-0x3FF).
 *
 * Concept: the guest side of full virtualization. This driver is written for the real chip,
 * register by register, exactly as a kernel's early console would be. It runs unchanged on
 * QEMU's emulated 16550, on real hardware, and on hv (hv/dev/uart.c), where every IN and OUT
 * below is a VM exit that hv answers by playing the chip. Count them: that is the price of
 * emulating a device one register at a time.
 * Textbook: chapter 1 "The guests", section "A real UART driver".
 *
 * Exit cost on hv: uart_init = 7 OUTs; uart_putc = 1 IN (LSR, when THRE is already set,
 * which hv always reports) + 1 OUT (THR).
 *
 * The same source is compiled by gcc -m16, -m32 and -m64, so it uses nothing but port I/O:
 * no memory-mapped registers, no globals, no libc.
 */
#include <stdint.h>

#include "layout.h"
#include "portio.h"
#include "uart.h"

/*
 * The 16550's eight registers, as offsets from the base port. Some offsets mean two things:
 * which one you get depends on the direction (read/write) and on LCR bit 7, DLAB.
 */
enum {
	UART_THR = 0, /* write, DLAB=0: Transmit Holding Register, the next byte to send */
	UART_DLL = 0, /* DLAB=1: Divisor Latch, low byte */
	UART_IER = 1, /* DLAB=0: Interrupt Enable Register */
	UART_DLM = 1, /* DLAB=1: Divisor Latch, high byte */
	UART_FCR = 2, /* write: FIFO Control Register */
	UART_LCR = 3, /* Line Control Register: frame format, and DLAB in bit 7 */
	UART_MCR = 4, /* Modem Control Register: the DTR/RTS output pins */
	UART_LSR = 5, /* read: Line Status Register */
};

#define LCR_DLAB  0x80 /* bit 7: offsets 0/1 become the baud-rate divisor latch */
#define LCR_8N1   0x03 /* bits 1:0 = 11: 8 data bits; bit 2 = 0: 1 stop bit; bit 3 = 0: no parity */
#define FCR_SETUP 0x07 /* bit 0: enable FIFOs; bit 1: clear receive FIFO; bit 2: clear transmit FIFO */
#define MCR_SETUP 0x03 /* bit 0: DTR, bit 1: RTS ("terminal ready", "request to send") */
#define LSR_THRE  0x20 /* bit 5: Transmit Holding Register Empty, THR can take a byte */

/*
 * The divisor: the chip's clock is 1.8432 MHz and it samples each bit 16 times, so
 * baud = 1843200 / 16 / divisor = 115200 / divisor. Divisor 1 gives the fastest standard
 * rate, 115200 baud. (On hv the rate means nothing: bytes leave at memory speed.)
 */
#define UART_DIVISOR 1u

/* OUT and IN come from portio.h: one instruction, one exit each. */

static inline void uart_reg_write(unsigned reg, uint8_t value)
{
	port_write8((uint16_t)(HV_PORT_UART0 + reg), value);
}

void uart_init(void)
{
	/* No interrupts: we poll. With IER=0 the chip never raises IRQ 4, so a guest with
	   interrupts off (all of ours) can never be surprised by one. */
	uart_reg_write(UART_IER, 0x00);

	/* Open the divisor latch (DLAB=1), write the 16-bit divisor, close it again by writing
	   the frame format with DLAB=0. Order matters: while DLAB=1, offset 0 is DLL, not THR. */
	uart_reg_write(UART_LCR, LCR_DLAB);
	uart_reg_write(UART_DLL, (uint8_t)(UART_DIVISOR & 0xFF));
	uart_reg_write(UART_DLM, (uint8_t)(UART_DIVISOR >> 8));
	uart_reg_write(UART_LCR, LCR_8N1);

	/* Enable the 16-byte FIFOs and empty both of them, so no stale byte is sent or read. */
	uart_reg_write(UART_FCR, FCR_SETUP);

	/* Raise DTR and RTS: some terminals (and real cables) only listen when they are up. */
	uart_reg_write(UART_MCR, MCR_SETUP);
}

void uart_putc(char c)
{
	/* Wait until the transmitter has room. On a real chip at 115200 baud one byte takes
	   about 87 us to leave; writing THR before THRE is set would overwrite (lose) a byte.
	   If no UART is present the port reads 0xFF, THRE looks set, and we do not hang. */
	while ((port_read8(HV_PORT_UART0 + UART_LSR) & LSR_THRE) == 0)
		;
	uart_reg_write(UART_THR, (uint8_t)c);
}

void uart_puts(const char *s)
{
	/* No "\n" -> "\r\n" translation: the host prints exactly the bytes the guest sent. */
	while (*s != '\0')
		uart_putc(*s++);
}
