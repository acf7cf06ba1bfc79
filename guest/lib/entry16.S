/*
 * entry16.S - the first instructions of a real-mode guest (hello16): from "the CPU jumped to
 * 0000:8000" to "C code is running with a stack".
 *
 * Concept: C needs a stack and known segment registers; nothing gives you either for free.
 * A real-mode CPU computes every address as segment * 16 + offset, so a C compiler that
 * assumes one flat address space (gcc -m16 does) only works if CS = DS = ES = SS = 0 and the
 * whole program lives below 64 KiB. This file establishes exactly that, clears .bss (nobody
 * else will: the flat .bin does not even contain it) and calls guest_main().
 * Textbook: chapter 1 "The guests", section "Real mode: hello16".
 */
#include "boothdr.h"

	HV_BOOT_HEADER 16		/* bytes 0..15: EB 0E "HVLB" 16 1 0*8 */

	.code16				/* the CPU decodes 16-bit instructions here */
	.globl _start
_start:					/* byte 16 = 0x8010, where the header's jmp lands */
	cli				/* no IDT/IVT of ours: an interrupt now would crash */
	cld				/* string instructions (rep stosb) count upwards */

	/*
	 * Normalise CS:IP. hv enters with CS=0, IP=0x8000, but other loaders (a BIOS, a boot
	 * sector) may use 0800:0000, which is the same physical byte with a different CS. Our C
	 * code computes addresses relative to segment 0, so force CS=0 with a far jump: the only
	 * way to load CS in real mode is a far jmp/call/ret.
	 */
	ljmp	$0, $1f
1:
	xorw	%ax, %ax
	movw	%ax, %ds		/* data at DS:offset = 0 + offset */
	movw	%ax, %es		/* rep stosb writes to ES:DI */
	movw	%ax, %ss		/* the stack lives at SS:SP; a mov to SS also holds off */
	movl	$stack_top, %esp	/* interrupts for one instruction, so SS:SP switch as one */
					/* movl (not movw): gcc -m16 code addresses the stack with
					   32-bit %esp, so its upper half must be zero too */

	/* Zero .bss: __bss_start/__bss_end come from the linker script (guest/real16.ld). */
	movw	$__bss_start, %di
	movw	$__bss_end, %cx
	subw	%di, %cx
	xorb	%al, %al
	rep stosb			/* the stack is in .bss too: fine, nothing is on it yet */

	/* gcc -m16 code uses 32-bit calls (66 E8, pushing a 4-byte return address), so call
	   it with calll and it returns with retl. */
	calll	guest_main

	/* guest_main returned: "cli; hlt" is hvlab's "done, exit 0" (hv/layout.h). On real
	   hardware an NMI can still wake a halted CPU, hence the loop. */
2:	cli
	hlt
	jmp	2b

	/* The stack: 2 KiB in .bss, inside the image (all below 0x10000, see real16.ld). */
	.section .bss
	.balign 16
stack_bottom:
	.skip 2048
stack_top:

	NO_EXEC_STACK
