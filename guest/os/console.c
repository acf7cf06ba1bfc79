/*
 * console.c - kprintf: the kernel's formatted output, to COM1 through the polling UART
 * driver (guest/lib/uart.c).
 *
 * Concept: a kernel's first tool is a print function that needs nothing: no heap, no
 * interrupts, no locks. It formats into the UART one character at a time. On hv each
 * character is 2 VM exits (uart.c), which is why the kernel's lines are short.
 * Textbook: chapter 5 "A guest OS", section "Running it".
 *
 * Formats: %s %c %d %u %x, with an optional 0-padded width for %x and %u ("%08x").
 * That is all the kernel uses; anything else is printed as it stands.
 */
#include <stdarg.h>
#include <stdint.h>

#include "os.h"
#include "uart.h"

/* v in base 10 or 16, at least `width` digits (zero-padded). The digits come out lowest
   first, so they are collected in a small buffer and sent in reverse: 10 digits hold any
   32-bit number in either base. */
static void put_uint(uint32_t v, uint32_t base, int width)
{
	char digits[10];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	while (width-- > n)
		uart_putc('0');
	while (n > 0)
		uart_putc(digits[--n]);
}

/* One conversion after the '%' (and width): the argument is taken from ap. */
static void put_conv(char c, int width, va_list *ap)
{
	switch (c) {
	case 's': {
		const char *s = va_arg(*ap, const char *);
		uart_puts(s ? s : "(null)");
		break;
	}
	case 'c':
		uart_putc((char)va_arg(*ap, int));
		break;
	case 'd': {
		int v = va_arg(*ap, int);
		if (v < 0) {
			uart_putc('-');
			put_uint(0u - (uint32_t)v, 10, width);
		} else {
			put_uint((uint32_t)v, 10, width);
		}
		break;
	}
	case 'u':
		put_uint(va_arg(*ap, uint32_t), 10, width);
		break;
	case 'x':
		put_uint(va_arg(*ap, uint32_t), 16, width);
		break;
	default:
		uart_putc('%');
		uart_putc(c);
		break;
	}
}

/*
 * Walk the format once: plain characters go straight out, "%" starts a conversion whose
 * argument va_arg fetches from the caller's stack (cdecl pushes variadic arguments there, as
 * 32-bit values: a char or short is promoted to int). No buffering: a line the kernel is
 * printing when it panics is at least partly on the console.
 */
void kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt != '\0'; fmt++) {
		int width = 0;

		if (*fmt != '%') {
			uart_putc(*fmt);
			continue;
		}
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '\0')
			break;
		put_conv(*fmt, width, &ap);
	}
	va_end(ap);
}
