/*
 * idt32.h - the 32-bit interrupt descriptor table for the PIC's sixteen vectors, with the
 * handlers written in C.
 *
 * Concept: in protected mode the CPU finds an interrupt's handler in the IDT, a table of
 * 8-byte "gates" whose address and size the OS loads with LIDT. A gate names a code segment
 * selector and an offset, and its type says what the CPU does on entry (an *interrupt* gate
 * also clears IF, so handlers do not nest). The CPU pushes EFLAGS, CS and EIP and jumps; the
 * handler must save every register it uses and end with IRET. Here a tiny assembler stub per
 * vector (isr32.S) pushes the IRQ number and jumps to one common trampoline that saves all
 * registers and calls C, so drivers write plain C functions.
 * Textbook: chapter 4 "Two I/O paths", section "Interrupts and polling".
 *
 * Only vectors PIC_MASTER_VECTOR..PIC_SLAVE_VECTOR+7 (0x20-0x2F) get gates; the IDT's limit
 * covers vectors 0-0x2F and the CPU exception vectors 0-31 are left "not present", so a CPU
 * exception still ends the run as before (not present -> #NP -> double fault -> triple fault:
 * hv status 6). No exits: the IDT is RAM and LIDT does not leave the guest.
 *
 * Usage, with interrupts off (PVH and hv start guests with IF = 0):
 *   idt32_init();  pic_init();  idt32_set_handler(irq, fn);  pic_unmask(irq);
 *   then wait for the device with a loop of  "if (done) break; idt32_halt();"
 */
#ifndef GUEST_IDT32_H
#define GUEST_IDT32_H

#include <stdint.h>

/* Build the gates (using the CS the loader gave us), load the IDT, and make sure the PIC's
 * requests reach the CPU: the local APIC, which we do not use, is switched off (idt32.c). */
void idt32_init(void);

/* Run fn for every interrupt on line irq (0-15), before the EOI that idt32 sends after it.
 * fn must acknowledge its device (so the line drops) and must not enable interrupts. */
void idt32_set_handler(unsigned irq, void (*fn)(void));

/* Interrupts that arrived on a line without a handler, and spurious IRQ 7/15s. */
uint32_t idt32_unexpected(void);
uint32_t idt32_spurious(void);

/*
 * Let interrupts in for exactly one halt: "sti; hlt; cli". Call with IF = 0, after checking
 * the condition you wait for. STI enables interrupts only after the next instruction, so an
 * interrupt that became pending after the check still wakes the HLT instead of being taken
 * before it (and leaving the CPU halted with nothing left to wake it). Returns with IF = 0
 * after one interrupt has been handled.
 */
static inline void idt32_halt(void)
{
	__asm__ volatile("sti; hlt; cli" : : : "memory");
}

#endif
