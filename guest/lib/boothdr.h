/*
 * boothdr.h - assembler macros for the two "how do I start this file?" records a guest carries:
 * the hvlab boot header (for raw .bin files) and the PVH ELF note (for ELF files).
 *
 * Concept: a loader can only start a kernel if the file tells it how. A flat binary has no
 * headers at all, so hvlab puts 16 bytes at its very start (like the multiboot header or the
 * Linux setup header); an ELF file instead carries an ELF note that Xen, QEMU, Firecracker
 * and cloud-hypervisor all understand (the PVH boot ABI). Both live here so every guest
 * writes them the same way. Textbook: chapter 1 "The guests", section "How a guest is started".
 *
 * Included from .S files only (it is assembler, not C). The numbers mirror hv/layout.h
 * (HV_BOOTHDR_MAGIC, HV_BOOTHDR_VERSION, HV_BOOTHDR_SIZE), which cannot be included here
 * because its constants carry C's 'u' suffix, which the assembler does not understand.
 */
#ifndef GUEST_BOOTHDR_H
#define GUEST_BOOTHDR_H

/*
 * HV_BOOT_HEADER mode: the 16-byte hvlab boot header, placed in section .text.boot, which
 * every linker script puts first, so it sits at byte 0 of both the .bin and the ELF image.
 *
 *   EB 0E   "jmp short +14": the CPU starts executing at byte 0, and this two-byte jump lands
 *           on byte 16, the first real instruction. EB rel8 decodes identically in real,
 *           protected and long mode, so one header works for all three.
 *   "HVLB"  magic, so hv knows the file has a header at all
 *   mode    16, 32 or 64: the CPU mode hv must start the guest in
 *   1       header version
 *   0 x 8   reserved, zero
 *
 * The bytes are written with .byte rather than a 'jmp' instruction on purpose: an assembler
 * may pick any encoding for a jump, but the loader looks for exactly EB 0E.
 */
.macro HV_BOOT_HEADER mode
	.section .text.boot, "ax", @progbits
	.globl hv_boot_header
hv_boot_header:
	.byte 0xEB, 0x0E
	.ascii "HVLB"
	.byte \mode
	.byte 1
	.fill 8, 1, 0
.endm

/*
 * PVH_NOTE entry: an ELF note of type XEN_ELFNOTE_PHYS32_ENTRY (18), owner name "Xen", whose
 * 4-byte payload is the 32-bit physical address where a PVH loader jumps, in 32-bit protected
 * mode with paging off and EBX = physical address of struct hvm_start_info.
 *
 * An ELF note is: namesz, descsz, type (three 32-bit words), then the name padded to 4 bytes,
 * then the descriptor padded to 4 bytes. The linker script puts section .note.Xen into a
 * PT_NOTE program header, which is where loaders look for it.
 */
.macro PVH_NOTE entry
	.pushsection .note.Xen, "a", @note
	.balign 4
	.long 4			/* namesz: "Xen" plus its NUL */
	.long 4			/* descsz: one 32-bit address */
	.long 18		/* type: XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long \entry		/* desc: the 32-bit entry point */
	.balign 4
	.popsection
.endm

/* No guest needs an executable stack; saying so keeps the linker from warning. */
.macro NO_EXEC_STACK
	.section .note.GNU-stack, "", @progbits
.endm

#endif
