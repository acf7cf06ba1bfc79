/*
 * entry64.S - the first instructions of a 64-bit long-mode guest (hello64).
 *
 * Concept: in long mode the loader has already done the hard work (page tables, EFER.LME,
 * CR0.PG; guest/modeswitch.S shows every step), so a 64-bit entry is short: own stack,
 * clear .bss, call C. hv enters at the load address with RBX = start-info address.
 * Textbook: chapter 1 "The guests", section "Long mode: hello64".
 */
#include "boothdr.h"

	HV_BOOT_HEADER 64		/* EB 0E is the same jmp short in 64-bit mode */

	.code64
	.globl _start
_start:					/* 0x100010 */
	cli
	cld
	movq	%rbx, %rsi		/* keep the start-info address */
	/* A 32-bit immediate move zero-extends into RSP; the image is below 2 GiB (-mcmodel=small). */
	movl	$stack_top, %esp

	movl	$__bss_start, %edi	/* zero .bss: the .bin does not contain it */
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb

	/* System V ABI: first argument in RDI; RSP is 16-byte aligned before the call. */
	movq	%rsi, %rdi
	call	guest_main		/* void guest_main(uint64_t start_info_paddr) */

1:	cli
	hlt
	jmp	1b

	.section .bss
	.balign 16
stack_bottom:
	.skip 8192
stack_top:

	NO_EXEC_STACK
