/*
 * isr32.S - the sixteen 32-bit interrupt entry stubs for the PIC's vectors, and the common
 * trampoline that saves the interrupted code's registers and calls C (idt32.c).
 *
 * Concept: the contract at an interrupt. The CPU saves only EFLAGS, CS and EIP (no privilege
 * change here: guest code and handler both run in ring 0, so no stack switch) and enters
 * through an interrupt gate with IF = 0. Everything else belongs to the interrupted code: the
 * trampoline saves all eight general registers (PUSHAL), clears the direction flag that the
 * C ABI assumes, calls idt32_dispatch(irq), restores, and IRETs, which reloads EIP, CS and
 * EFLAGS (IF = 1 again if it was before) in one step. Segment registers are not touched:
 * every hvlab 32-bit guest uses the same flat segments everywhere.
 * Textbook: chapter 4 "Two I/O paths", section "Interrupts and polling".
 */
#include "boothdr.h"

	.code32
	.text

/* One stub per IRQ: push the line number (0-15), then share the rest. The CPU pushes no
   error code for external interrupts, so the frame is the same for every vector. */
.macro IRQ_STUB irq
isr32_irq\irq:
	pushl	$\irq
	jmp	isr32_common
.endm

	IRQ_STUB 0
	IRQ_STUB 1
	IRQ_STUB 2
	IRQ_STUB 3
	IRQ_STUB 4
	IRQ_STUB 5
	IRQ_STUB 6
	IRQ_STUB 7
	IRQ_STUB 8
	IRQ_STUB 9
	IRQ_STUB 10
	IRQ_STUB 11
	IRQ_STUB 12
	IRQ_STUB 13
	IRQ_STUB 14
	IRQ_STUB 15

/*
 * Stack on entry: [esp] = irq, then EIP, CS, EFLAGS pushed by the CPU. After PUSHAL
 * (32 bytes) the irq is at 32(%esp).
 */
isr32_common:
	pushal
	cld
	pushl	32(%esp)		/* cdecl argument: void idt32_dispatch(uint32_t irq) */
	call	idt32_dispatch
	addl	$4, %esp
	popal
	addl	$4, %esp		/* drop the irq number */
	iret

/* The stubs' addresses, for idt32_init to put into the gates: isr32_stubs[irq]. */
	.section .rodata
	.balign 4
	.globl isr32_stubs
isr32_stubs:
	.long isr32_irq0, isr32_irq1, isr32_irq2, isr32_irq3
	.long isr32_irq4, isr32_irq5, isr32_irq6, isr32_irq7
	.long isr32_irq8, isr32_irq9, isr32_irq10, isr32_irq11
	.long isr32_irq12, isr32_irq13, isr32_irq14, isr32_irq15

	NO_EXEC_STACK
