/*
 * hello32.c - a 32-bit protected-mode guest: print one line through the UART, then halt.
 *
 * Concept: the PVH boot ABI. The same ELF boots on hv and, unchanged, on QEMU
 * (qemu-system-x86_64 -M microvm -kernel build/guest/hello32.elf -nographic), because it
 * carries the PVH ELF note (guest/lib/boothdr.h) and talks to a real 16550 UART, not to
 * anything hv-specific. guest/lib/entry32.S runs first and passes the start-info address.
 * On hv: 7 OUTs (uart_init) + 26 x (IN LSR + OUT THR) = 59 port-I/O exits, then HLT.
 * Textbook: chapter 1 "The guests", section "Protected mode: hello32".
 */
#include <stdint.h>

#include "uart.h"

void guest_main(uint32_t start_info_paddr);

void guest_main(uint32_t start_info_paddr)
{
	(void)start_info_paddr; /* this guest needs no boot parameters */
	uart_init();
	uart_puts("Hello from protected mode\n");
}
