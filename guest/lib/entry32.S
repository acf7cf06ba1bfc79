/*
 * entry32.S - the first instructions of a 32-bit protected-mode guest (hello32, exits), for
 * both ways it can be started: hv running the raw .bin, and any PVH loader (hv, QEMU, Xen,
 * Firecracker) running the ELF.
 *
 * Concept: the PVH boot ABI. The loader enters us in 32-bit protected mode with flat 4 GiB
 * segments, paging off, interrupts off, and EBX = physical address of a struct hvm_start_info
 * (guest/lib/cmdline.h). It promises nothing about the stack, so we set our own, clear .bss
 * and call guest_main(start_info). Textbook: chapter 1 "The guests", section "PVH".
 */
#include "boothdr.h"

	HV_BOOT_HEADER 32		/* bytes 0..15; hv enters at byte 0 and jumps to _start */

	/* The ELF's PVH entry point is the same _start the raw header jumps to. */
	PVH_NOTE _start

	.code32
	.globl _start
_start:					/* load address + 16 = 0x100010 */
	cli				/* PVH says interrupts are off; be sure anyway */
	cld				/* rep stosb counts upwards */
	movl	%ebx, %esi		/* keep the start-info address: EBX is ours to lose */
	movl	$stack_top, %esp	/* our own stack (PVH does not give us one) */

	/* Zero .bss (linker-script symbols). In the ELF the loader already did that (memsz >
	   filesz), but the flat .bin simply ends before .bss: nobody zeroes it but us. */
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	shrl	$2, %ecx		/* dwords: the linker scripts align both ends to 4 bytes */
	xorl	%eax, %eax
	rep stosl			/* 4 bytes per iteration: a debugger single-stepping the
					   boot (hv run --step-seek) sees a quarter of the steps */

	pushl	%esi			/* cdecl: argument on the stack */
	call	guest_main		/* void guest_main(uint32_t start_info_paddr) */

	/* Returned: cli; hlt = "done, exit 0". Loop in case an NMI wakes us. */
1:	cli
	hlt
	jmp	1b

	.section .bss
	.balign 16
stack_bottom:
	.skip 8192
stack_top:

	NO_EXEC_STACK
