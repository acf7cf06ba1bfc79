/*
 * modeswitch.S - a guest that climbs from real mode to long mode by itself, printing in each
 * mode on the way: real mode -> 32-bit protected mode -> 64-bit long mode.
 *
 * Concept: the x86 boot ladder. Every PC (and hv when given a mode-16 binary) starts the CPU
 * in 16-bit real mode; a 64-bit kernel must switch modes itself, and it cannot skip a rung:
 * long mode is only reachable from protected mode. This file is the whole ladder, one
 * commented step at a time, in the order the Intel SDM (vol. 3, 9.9 "Mode switching" and
 * 9.8.5 "Initializing IA-32e mode") requires. It is correct on real hardware too.
 * Textbook: chapter 1 "The guests", section "modeswitch: climbing the ladder".
 *
 * Printing reuses the C UART driver (guest/lib/uart.c) compiled three times, for three
 * instruction encodings: uart_*16 (gcc -m16), uart_*32 (gcc -m32), uart_*64 (gcc -m64).
 * All of them are assembled into 64-bit ELF objects so one `ld -m elf_x86_64` can link them
 * (guest/guest.mk shows how). Run build/guest/modeswitch.bin; the .elf is for gdb only (an
 * ELF64 file would be started in long mode, skipping the very lesson).
 *
 * Memory used (all below 1 MiB, so the A20 gate never matters, even on an old PC):
 *   0x08000-0x0FFFF  this image: code, GDT, messages, .bss with a 2 KiB stack (real16.ld)
 *   0x20000-0x20FFF  PML4                 \  our own identity map of the first 4 GiB,
 *   0x21000-0x21FFF  PDPT (4 entries)      > 2 MiB pages: the same shape as hv's tables,
 *   0x22000-0x25FFF  4 page directories   /  at an address that is free in real mode:
 *                    above the image, clear of the start info, GDT and tables hv uses
 *                    for 32/64-bit guests (0x500-0x7FFF), and of the BIOS areas on a PC.
 */
#include "boothdr.h"

#define MS_PML4       0x20000
#define MS_PDPT       0x21000
#define MS_PD         0x22000		/* four 4 KiB pages, one per GiB */
#define MS_TABLES_END 0x26000

/* Selectors: index * 8 into our GDT (table indicator 0 = GDT, requested privilege 0). */
#define SEL_CODE32    0x08
#define SEL_DATA      0x10
#define SEL_CODE64    0x18

#define CR0_PE        (1 << 0)		/* Protection Enable: segments become descriptors */
#define CR0_PG        (1 << 31)		/* Paging: addresses go through the page tables */
#define CR4_PAE       (1 << 5)		/* Physical Address Extension: 64-bit table entries */
#define MSR_EFER      0xC0000080	/* Extended Feature Enable Register */
#define EFER_LME      (1 << 8)		/* Long Mode Enable (takes effect when CR0.PG is set) */

#define PTE_P         (1 << 0)		/* present */
#define PTE_W         (1 << 1)		/* writable */
#define PTE_PS        (1 << 7)		/* in a page-directory entry: a 2 MiB page, no table */

	HV_BOOT_HEADER 16		/* hv: load at 0x8000, start in real mode */

/* ---------------------------------------------------------------------------------------
 * Rung 1: real mode. 16-bit code, address = segment * 16 + offset, no protection.
 */
	.code16
	.globl _start
_start:					/* 0x8010 */
	cli				/* interrupts off for the whole climb: there is no
					   handler table valid in all three modes */
	cld
	ljmp	$0, $1f			/* CS = 0 whatever the loader used (see entry16.S) */
1:	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	$stack_top, %esp	/* 32-bit: gcc -m16 code uses %esp */

	movw	$__bss_start, %di	/* zero .bss, which holds the stack */
	movw	$__bss_end, %cx
	subw	%di, %cx
	xorb	%al, %al
	rep stosb

	calll	uart_init16		/* program COM1 once; the chip keeps its settings */
	pushl	$msg_real		/* gcc -m16 calls: 32-bit pushes, calll/retl */
	calll	uart_puts16
	addl	$4, %esp

	/*
	 * Step 1: tell the CPU where our GDT is. In protected mode a segment register holds a
	 * selector, an index into the Global Descriptor Table, and the descriptor there gives
	 * base, limit, size (16/32/64-bit) and rights. LGDT loads the 6-byte pointer (limit,
	 * base); the "l" form loads all 32 bits of the base.
	 */
	lgdtl	gdt_ptr

	/*
	 * Step 2: an IDT with limit 0. The real-mode vector table at address 0 means nothing
	 * in protected mode; with an empty IDT any exception or NMI becomes a triple fault
	 * (a clean reset that hv reports as status 6) instead of a jump into garbage.
	 */
	lidtl	idt_null

	/*
	 * Step 3: set CR0.PE. From the next instruction on the CPU is in protected mode, but CS
	 * still holds a cached real-mode segment (a "hidden" copy of base/limit/size made when
	 * CS was last loaded), so we keep executing 16-bit code until CS is reloaded.
	 */
	movl	%cr0, %eax
	orl	$CR0_PE, %eax
	movl	%eax, %cr0

	/*
	 * Step 4: the far jump. Only a far jmp/call/ret reloads CS; this one loads selector
	 * 0x08, so the CPU reads our 32-bit code descriptor and decodes 32-bit instructions from
	 * pm32 on. It also discards instructions the CPU fetched and decoded in 16-bit mode.
	 * "ljmpl": the 32-bit offset form (66 EA), so the target could be above 64 KiB.
	 */
	ljmpl	$SEL_CODE32, $pm32

/* ---------------------------------------------------------------------------------------
 * Rung 2: 32-bit protected mode. Flat segments (base 0, limit 4 GiB), paging off.
 */
	.code32
pm32:
	/* The data segment registers still hold real-mode values; load the flat data
	   descriptor into all of them (SS too: the stack is addressed through SS). */
	movw	$SEL_DATA, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %fs
	movw	%ax, %gs
	movw	%ax, %ss
	movl	$stack_top, %esp	/* same bytes as before: base 0 in both modes */

	pushl	$msg_prot
	call	uart_puts32
	addl	$4, %esp

	/*
	 * Step 5: build identity page tables: virtual address X maps to physical X, so the
	 * instruction after "paging on" is found at the same address it had before. Long mode
	 * uses 4 levels (PML4 -> PDPT -> PD -> PT); with PS set in the PD entries each maps a
	 * 2 MiB page directly and no PT level is needed. 1 PML4 entry x 4 PDPT entries x 512
	 * PD entries x 2 MiB = 4 GiB.
	 * Tables are 4 KiB-aligned arrays of 8-byte entries; clear them first, so every entry
	 * we do not set is "not present" (bit 0 = 0).
	 */
	movl	$MS_PML4, %edi
	movl	$(MS_TABLES_END - MS_PML4) / 4, %ecx
	xorl	%eax, %eax
	rep stosl

	/* PML4[0] -> PDPT: covers virtual 0..512 GiB. */
	movl	$(MS_PDPT | PTE_W | PTE_P), MS_PML4

	/* PDPT[0..3] -> the four page directories, one per GiB. */
	movl	$MS_PDPT, %edi
	movl	$(MS_PD | PTE_W | PTE_P), %eax
	movl	$4, %ecx
2:	movl	%eax, (%edi)		/* low half of the 8-byte entry; high half stays 0 */
	addl	$0x1000, %eax		/* next page directory */
	addl	$8, %edi
	loop	2b

	/* PD entries 0..2047 (4 pages x 512): entry i maps the 2 MiB page at i * 2 MiB. */
	movl	$MS_PD, %edi
	movl	$(PTE_PS | PTE_W | PTE_P), %eax
	movl	$2048, %ecx
3:	movl	%eax, (%edi)
	addl	$0x200000, %eax		/* + 2 MiB */
	addl	$8, %edi
	loop	3b

	/*
	 * Step 6: CR4.PAE. Long mode requires the PAE page-table format (8-byte entries);
	 * setting it while paging is off changes nothing yet.
	 */
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4

	/* Step 7: CR3 = physical address of the top-level table, the PML4. */
	movl	$MS_PML4, %eax
	movl	%eax, %cr3

	/*
	 * Step 8: EFER.LME. EFER is a model-specific register: RDMSR/WRMSR take its number in
	 * ECX and its value in EDX:EAX. LME only *arms* long mode; it becomes active (EFER.LMA
	 * reads 1) at the moment paging is turned on.
	 */
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr

	/*
	 * Step 9: CR0.PG. With PAE and LME set, this switches on 4-level paging and activates
	 * long mode, but in *compatibility* mode: CS still holds the 32-bit descriptor, so the
	 * CPU keeps running 32-bit code (through the identity map, hence nothing moves).
	 */
	movl	%cr0, %eax
	orl	$CR0_PG, %eax
	movl	%eax, %cr0

	/*
	 * Step 10: far jump to selector 0x18, the descriptor with L=1. Reloading CS is, again,
	 * the only way to change how instructions are decoded: from lm64 on they are 64-bit.
	 */
	ljmpl	$SEL_CODE64, $lm64

/* ---------------------------------------------------------------------------------------
 * Rung 3: 64-bit long mode. Segment bases and limits are ignored (except FS/GS bases);
 * the data selectors loaded above are still valid, so there is nothing to reload.
 */
	.code64
lm64:
	movl	$stack_top, %esp	/* writing ESP zero-extends into RSP: no stale upper half */
	movl	$msg_long, %edi		/* System V ABI: first argument in RDI */
	call	uart_puts64

	/* Done: cli; hlt = exit status 0 on hv. Loop in case an NMI wakes the CPU. */
4:	cli
	hlt
	jmp	4b

/* ---------------------------------------------------------------------------------------
 * Data: the GDT and the messages.
 */
	.section .rodata
	.balign 8
	/*
	 * A segment descriptor is 8 bytes with its fields scattered for 286 compatibility:
	 *   limit 15:0 | base 23:0 | access byte | flags (4 bits) + limit 19:16 | base 31:24
	 * access 0x9B = P(present) | DPL 0 | S(code/data) | type 1011: code, readable, accessed
	 * access 0x93 = P | DPL 0 | S | type 0011: data, writable, accessed
	 * flags 0xC = G (limit counts 4 KiB pages: 0xFFFFF -> 4 GiB) | D (32-bit default size)
	 * flags 0xA = G | L (64-bit code); D must be 0 when L is 1
	 * The accessed bit is preset, so the CPU never needs to write to this table.
	 */
gdt:
	.quad 0				/* 0x00: the null descriptor, required, never used */
	.quad 0x00CF9B000000FFFF	/* 0x08: 32-bit code, base 0, limit 4 GiB */
	.quad 0x00CF93000000FFFF	/* 0x10: data, base 0, limit 4 GiB */
	.quad 0x00AF9B000000FFFF	/* 0x18: 64-bit code */
gdt_end:

gdt_ptr:				/* the operand of LGDT: limit (size - 1), then base */
	.word gdt_end - gdt - 1
	.long gdt

idt_null:				/* the operand of LIDT: an empty table */
	.word 0
	.long 0

msg_real:
	.asciz "modeswitch: real mode\n"
msg_prot:
	.asciz "modeswitch: protected mode\n"
msg_long:
	.asciz "modeswitch: long mode\n"

	.section .bss
	.balign 16
stack_bottom:
	.skip 2048
stack_top:

	NO_EXEC_STACK
