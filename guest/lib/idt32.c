/*
 * idt32.c - building and loading a 32-bit IDT, and dispatching PIC interrupts to C handlers.
 *
 * Concept: the protected-mode interrupt table, gate by gate, and the order of work in an
 * interrupt: spurious check, the device's own acknowledge (the driver's handler), then the
 * PIC's end-of-interrupt. EOI last, because on a level-triggered line an EOI sent while the
 * device still holds the line high makes the PIC request the same interrupt again at once.
 * Textbook: chapter 4 "Two I/O paths", section "Interrupts and polling".
 *
 * Intel SDM volume 3, chapter 6 "Interrupt and exception handling", sections "Interrupt
 * descriptor table" and "IDT descriptors" (the gate format below).
 */
#include <stdint.h>

#include "idt32.h"
#include "pic.h"

#define IDT_VECTORS (PIC_SLAVE_VECTOR + 8u) /* 0..0x2F: the limit covers the PIC's vectors */
#define IRQ_LINES   16u

/*
 * A 32-bit interrupt gate: offset 15:0, segment selector, a zero byte, the type byte, then
 * offset 31:16. Type 0x8E = present (bit 7), DPL 0 (bits 6:5), 0xE = 32-bit interrupt gate
 * (IF is cleared on entry; a trap gate, 0xF, would leave it alone).
 */
struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t zero;
	uint8_t type;
	uint16_t offset_hi;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 8, "an IDT gate is 8 bytes (SDM figure 6-2)");

#define GATE_INTERRUPT32 0x8Eu

/* What LIDT loads: a 16-bit limit (size - 1) and the 32-bit linear base. */
struct idt_ptr {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

/* Zeroed (.bss): every gate not written below is "not present". 8-byte aligned as the SDM
   recommends for performance. */
static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(8)));
static void (*handlers[IRQ_LINES])(void);
static volatile uint32_t unexpected, spurious;

extern void (*const isr32_stubs[IRQ_LINES])(void); /* isr32.S */

void idt32_dispatch(uint32_t irq);

static void idt_set_gate(uint32_t vector, void (*stub)(void), uint16_t cs)
{
	uint32_t off = (uint32_t)(uintptr_t)stub;

	idt[vector].offset_lo = (uint16_t)off;
	idt[vector].selector = cs;
	idt[vector].zero = 0;
	idt[vector].type = GATE_INTERRUPT32;
	idt[vector].offset_hi = (uint16_t)(off >> 16);
}

/*
 * The PIC's INTR output reaches the CPU through the local APIC's LINT0 pin. While the local
 * APIC is enabled, LINT0 must be programmed as ExtINT ("virtual wire mode", Intel MP spec
 * section 3.6.2.2) or the PIC's requests stay in its IRR and the CPU never hears them. A PC
 * BIOS does this at boot (so QEMU -M pc works untouched); QEMU's microvm firmware does not,
 * and leaves LINT0 masked with the APIC software-disabled. So we do what the BIOS would:
 * enable the APIC in its spurious-vector register and set LVT LINT0 = ExtINT, unmasked.
 * (Switching the APIC off in IA32_APIC_BASE should also connect INTR directly, but QEMU's
 * TCG keeps routing the PIC through the masked LINT0 entry.)
 * A CPU without an APIC (CPUID leaf 1, EDX bit 9), or with it disabled in IA32_APIC_BASE
 * (MSR 0x1B, bit 11: KVM without an in-kernel APIC, as hv runs it, reports it so and clears
 * the CPUID bit), takes INTR straight from the PIC: nothing to do, no exits. Otherwise 2 MMIO
 * writes to the APIC page (0xFEE00000 unless moved).
 */
#define MSR_IA32_APIC_BASE 0x1Bu
#define APIC_BASE_ENABLE   (1u << 11)
#define APIC_BASE_ADDR     0xFFFFF000u
#define CPUID1_EDX_MSR     (1u << 5)
#define CPUID1_EDX_APIC    (1u << 9)
#define LAPIC_SVR          0x0F0u /* spurious-interrupt vector register */
#define LAPIC_LVT_LINT0    0x350u
#define SVR_APIC_ENABLE    0x100u /* bit 8: APIC software-enabled */
#define SVR_SPURIOUS_VEC   0xFFu  /* low 4 bits must be 1 on P6-era APICs */
#define LVT_DM_EXTINT      0x700u /* delivery mode 111: the vector comes from the PIC */

static void idt32_lapic_virtual_wire(void)
{
	uint32_t eax = 1, ebx, ecx = 0, edx, lo, hi;
	volatile uint32_t *lapic;

	__asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
	if ((edx & (CPUID1_EDX_MSR | CPUID1_EDX_APIC)) != (CPUID1_EDX_MSR | CPUID1_EDX_APIC))
		return;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_IA32_APIC_BASE));
	if (!(lo & APIC_BASE_ENABLE) || hi != 0)
		return; /* disabled (INTR is wired straight through), or out of a 32-bit reach */
	lapic = (volatile uint32_t *)(uintptr_t)(lo & APIC_BASE_ADDR);
	lapic[LAPIC_SVR / 4u] = SVR_APIC_ENABLE | SVR_SPURIOUS_VEC;
	lapic[LAPIC_LVT_LINT0 / 4u] = LVT_DM_EXTINT;
}

/*
 * The gates name the code segment the CPU loads on entry. PVH leaves the selector value to
 * the loader (hv and QEMU's PVH option ROM pick different ones), so we take whatever CS holds
 * now: it is a flat 32-bit code segment, which is all a handler needs.
 */
void idt32_init(void)
{
	struct idt_ptr p;
	uint16_t cs;

	__asm__ volatile("movw %%cs, %0" : "=r"(cs));
	for (uint32_t irq = 0; irq < IRQ_LINES; irq++) {
		uint32_t base = irq < 8u ? PIC_MASTER_VECTOR : PIC_SLAVE_VECTOR - 8u;
		idt_set_gate(base + irq, isr32_stubs[irq], cs);
	}
	p.limit = (uint16_t)(sizeof(idt) - 1u);
	p.base = (uint32_t)(uintptr_t)idt;
	__asm__ volatile("lidt %0" : : "m"(p) : "memory");
	idt32_lapic_virtual_wire();
}

void idt32_set_handler(unsigned irq, void (*fn)(void))
{
	if (irq < IRQ_LINES)
		handlers[irq] = fn;
}

uint32_t idt32_unexpected(void)
{
	return unexpected;
}

uint32_t idt32_spurious(void)
{
	return spurious;
}

/* Called by isr32.S with the line number, interrupts off, all registers saved. */
void idt32_dispatch(uint32_t irq)
{
	if (irq >= IRQ_LINES)
		return;
	if (pic_is_spurious(irq)) {  /* only IRQ 7 and 15 can be; costs exits only for them */
		spurious++;
		pic_eoi_spurious(irq);
		return;
	}
	if (handlers[irq])
		handlers[irq]();      /* the device's acknowledge: its line drops */
	else
		unexpected++;
	pic_eoi(irq);
}
