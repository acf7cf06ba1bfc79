/*
 * idt.c - the interrupt descriptor table: where the CPU goes on each of the 256 vectors.
 *
 * Concept: the IDT is the list of doors into the kernel. Each 8-byte gate names a handler
 * (selector:offset), a type and a DPL. The DPL is checked only for *software* interrupts
 * (`int n`): the CPU lets code at CPL 3 through a gate only if the gate's DPL is 3. So the
 * system call gate (0x80) has DPL 3, and every other gate DPL 0: a task that tries
 * `int $14` to fake a page fault gets #GP instead. Exceptions and hardware interrupts ignore
 * the gate's DPL. All gates are *interrupt* gates (type 0xE), which clear IF on entry, so the
 * kernel always runs with interrupts off (main.c says why).
 * Textbook: chapter 5 "A guest OS", section "The IDT and exceptions".
 * Intel SDM vol. 3, sections 6.10 "Interrupt descriptor table", 6.11 "IDT descriptors",
 * 6.12.1.1 "Protection of exception- and interrupt-handler procedures".
 *
 * Gates present: 0-31 (CPU exceptions), 0x20-0x2F (PIC IRQ 0-15, moved there by pic_init
 * because the PC's power-on vectors 8-15 collide with exceptions), 0x80 (system calls).
 * Any other vector is "not present": `int $0x81` from a task raises #GP (error code =
 * vector * 8 + 2, "IDT entry") and the task is killed.
 */
#include <stdint.h>

#include "os.h"

struct gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t zero;
	uint8_t type; /* P (bit 7), DPL (bits 6:5), 0xE = 32-bit interrupt gate */
	uint16_t offset_hi;
} __attribute__((packed));

_Static_assert(sizeof(struct gate) == 8, "an IDT gate is 8 bytes");

#define GATE_INT32     0x8Eu /* present, DPL 0, 32-bit interrupt gate */
#define GATE_DPL3      0x60u /* DPL 3: `int n` allowed from ring 3 */
#define IDT_VECTORS    256u
#define STUBS          (T_EXCEPTIONS + T_IRQS + 1u) /* trapasm.S's table: 0-31, 0x20-0x2F, 0x80 */

static struct gate idt[IDT_VECTORS] __attribute__((aligned(8)));
extern const uint32_t trap_stubs[STUBS]; /* trapasm.S */

static void idt_set(uint32_t vector, uint32_t handler, uint8_t type)
{
	idt[vector].offset_lo = (uint16_t)handler;
	idt[vector].selector = SEL_KCODE;
	idt[vector].zero = 0;
	idt[vector].type = type;
	idt[vector].offset_hi = (uint16_t)(handler >> 16);
}

void idt_init(void)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) p = { sizeof(idt) - 1u, (uint32_t)(uintptr_t)idt };

	for (uint32_t v = 0; v < T_EXCEPTIONS; v++)
		idt_set(v, trap_stubs[v], GATE_INT32);
	for (uint32_t i = 0; i < T_IRQS; i++)
		idt_set(T_IRQ0 + i, trap_stubs[T_EXCEPTIONS + i], GATE_INT32);
	idt_set(T_SYSCALL, trap_stubs[STUBS - 1u], GATE_INT32 | GATE_DPL3);
	__asm__ volatile("lidt %0" : : "m"(p) : "memory");
}
