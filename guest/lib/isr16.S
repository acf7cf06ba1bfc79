/*
 * isr16.S - real-mode interrupt handlers for irq16: IRQ 14 (ATA), IRQ 4 (COM1), and a catch-all.
 *
 * Concept: what the CPU does with an interrupt in real mode, and what a handler owes the
 * interrupted code. On delivery of vector V the CPU pushes FLAGS, CS and IP (16 bits each),
 * clears IF (no nesting unless the handler allows it) and jumps to the far address stored at
 * physical 4 * V (the interrupt vector table: offset, then segment). The handler runs in the
 * middle of someone else's code, so it must leave every register as it found it, tell the
 * device "seen" (or the device keeps asking), tell the interrupt controller "done" (EOI, or
 * the controller blocks this line and every lower-priority one), and return with IRET, which
 * pops IP, CS and FLAGS (restoring IF) in one instruction.
 * Textbook: chapter 4 "Two I/O paths", section "Interrupts and polling".
 *
 * Written in assembler because a C function cannot end with IRET and must not clobber the
 * caller-saved registers of the code it interrupted. Exits on hv per handler are listed at
 * each one. The handlers address their variables through CS (always 0 here, the IVT entries
 * say so) rather than trusting DS, which interrupted code may have changed.
 */
#include "boothdr.h"

	.code16
	.text

/*
 * IRQ 14, the primary ATA channel (vector 0x2E = slave base 0x28 + 6). 3 exits:
 *   1 IN  0x1F7 status: reading the status register is the ATA acknowledge, it drops INTRQ
 *         (the alternate status at 0x3F6 would not); we keep it for the main code to check
 *   2 OUT EOI to the slave (0xA0), then to the master (0x20): both hold the request in service
 */
	.globl isr16_ata
isr16_ata:
	pushw	%ax
	pushw	%dx
	movw	$0x1F7, %dx
	inb	%dx, %al
	movb	%al, %cs:isr16_ata_status
	incw	%cs:isr16_ata_count
	movb	$0x20, %al		/* OCW2: non-specific EOI */
	outb	%al, $0xA0
	outb	%al, $0x20
	popw	%dx
	popw	%ax
	iret

/*
 * IRQ 4, COM1 (vector 0x24 = master base 0x20 + 4). 2 exits:
 *   1 IN  0x3FA IIR: names the cause (0x02 = THR empty, plus 0xC0 with FIFOs on), and reading
 *         it is what acknowledges a THR-empty interrupt (16550A datasheet)
 *   1 OUT EOI to the master
 */
	.globl isr16_uart
isr16_uart:
	pushw	%ax
	pushw	%dx
	movw	$0x3FA, %dx
	inb	%dx, %al
	movb	%al, %cs:isr16_uart_iir
	incw	%cs:isr16_uart_count
	movb	$0x20, %al
	outb	%al, $0x20
	popw	%dx
	popw	%ax
	iret

/*
 * Every other vector the PICs can send (0x20-0x2F): count it and return, no EOI. The only
 * ones that can arrive with every other line masked are the spurious IR7s (0x27, 0x2F),
 * which must not be EOI'd. Without this handler a stray vector would jump to 0000:0000 (the
 * zeroed IVT) and execute the IVT as code. 0 exits.
 */
	.globl isr16_unexpected
isr16_unexpected:
	incw	%cs:isr16_unexpected_count
	iret

	.section .bss
	.globl isr16_ata_status, isr16_ata_count, isr16_uart_iir, isr16_uart_count
	.globl isr16_unexpected_count
isr16_ata_count:	.skip 2
isr16_uart_count:	.skip 2
isr16_unexpected_count:	.skip 2
isr16_ata_status:	.skip 1
isr16_uart_iir:		.skip 1

	NO_EXEC_STACK
