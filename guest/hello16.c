/*
 * hello16.c - the smallest real-mode guest: print one line through the UART, then halt.
 *
 * Concept: real mode is the mode every x86 CPU wakes up in (16-bit, segment * 16 + offset,
 * 1 MiB reachable). gcc -m16 writes 32-bit code with operand/address-size prefixes that runs
 * in real mode, as long as every address fits in 16 bits with all segments zero, so the
 * linker script (guest/real16.ld) keeps the whole guest between 0x8000 and 0x10000.
 * guest/lib/entry16.S runs first (boot header, segments, stack, .bss) and calls guest_main.
 * On hv: 7 OUTs (uart_init) + 21 x (IN LSR + OUT THR) = 49 port-I/O exits, then HLT.
 * Textbook: chapter 1 "The guests", section "Real mode: hello16".
 */
#include "uart.h"

void guest_main(void);

void guest_main(void)
{
	uart_init();
	uart_puts("Hello from real mode\n");
	/* Returning to entry16.S ends with "cli; hlt": hv's "done, exit status 0". */
}
