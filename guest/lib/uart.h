/*
 * uart.h - the guests' polling driver for a 16550A serial port (COM1).
 *
 * Concept: a device driver is a program that speaks a chip's register protocol. This one is
 * compiled three times from the same source (gcc -m16, -m32, -m64): port I/O means the same
 * thing in every CPU mode. Textbook: chapter 1 "The guests", section "A real UART driver".
 *
 * guest/modeswitch.S links all three copies into one image, so its build renames them with
 * -Duart_init=uart_init16 and so on (guest/guest.mk); everyone else sees the plain names.
 */
#ifndef GUEST_UART_H
#define GUEST_UART_H

/* Program COM1 for 115200 baud, 8 data bits, no parity, 1 stop bit, FIFOs on, IRQs off. */
void uart_init(void);

/* Send one byte, waiting until the transmitter can take it. Bytes are sent as they are:
   "\n" stays "\n" (hv copies every byte the guest transmits to stdout verbatim). */
void uart_putc(char c);

/* Send a NUL-terminated string with uart_putc. */
void uart_puts(const char *s);

#endif
