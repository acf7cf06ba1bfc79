/*
 * hello64.c - a 64-bit long-mode guest: print one line through the UART, then halt.
 *
 * Concept: in long mode paging is always on; hv enters this guest with its own identity
 * page tables (PML4 at 0x2000, hv/layout.h), so addresses still equal physical addresses.
 * The code is compiled with -mno-red-zone (no interrupt may scribble below RSP in a kernel)
 * and -mcmodel=small (everything below 2 GiB, so 32-bit absolute addresses suffice).
 * On hv: 7 OUTs (uart_init) + 21 x (IN LSR + OUT THR) = 49 port-I/O exits, then HLT.
 * Textbook: chapter 1 "The guests", section "Long mode: hello64".
 */
#include <stdint.h>

#include "uart.h"

void guest_main(uint64_t start_info_paddr);

void guest_main(uint64_t start_info_paddr)
{
	(void)start_info_paddr;
	uart_init();
	uart_puts("Hello from long mode\n");
}
