/*
 * timer.c - the timer interrupt: the 8254 PIT's channel 0 at 100 Hz, through the 8259A PIC
 * (IRQ 0 -> vector 0x20), counted in `ticks`.
 *
 * Concept: the timer is how a kernel gets the CPU back from a task that never makes a
 * system call. Every 10 ms the PIT raises IRQ 0; if the CPU is in ring 3 with IF = 1 it
 * enters the kernel through gate 0x20, the kernel counts the tick and sends the PIC its
 * end-of-interrupt, and IRET resumes the task where it was. (A scheduler would switch tasks
 * here; ours runs tasks one after another, so it only counts.) The kernel itself runs with
 * IF = 0, so ticks arrive only while a task runs: a request that comes while the kernel
 * works waits in the PIC's IRR until the next IRET to ring 3 sets IF again.
 * Textbook: chapter 5 "A guest OS", section "The timer".
 * Intel 8254 datasheet, "Control word format" and "Mode 2: rate generator".
 *
 * On hv the PIT and the PIC are emulated in user space: each OUT below is one VM exit, and
 * each tick is an injected interrupt. On a PVM host nothing is ever delivered in protected
 * mode, which is why the kernel-only boot (os.run=none) never enables interrupts at all.
 */
#include <stdint.h>

#include "os.h"
#include "pic.h"
#include "portio.h"

#define PIT_CH0      0x40u
#define PIT_CMD      0x43u
#define PIT_HZ       1193182u /* the PIT's input clock: the PC's 14.31818 MHz crystal / 12 */
#define TIMER_HZ     100u
/* 1193182 / 100 = 11931.82 -> 11932: the PIT counts down from it, so IRQ 0 comes every
   11932 input clocks = 10.0002 ms. */
#define PIT_DIVISOR  ((PIT_HZ + TIMER_HZ / 2u) / TIMER_HZ)
/* Control word 0x34: bits 7:6 = 00 channel 0, bits 5:4 = 11 low byte then high byte,
   bits 3:1 = 010 mode 2 (rate generator: a pulse every DIVISOR clocks), bit 0 = 0 binary. */
#define PIT_CH0_MODE2 0x34u

static volatile uint32_t ticks;

/*
 * The local APIC sits between the PIC and the CPU: while it is enabled, the PIC's INTR pin
 * reaches the CPU only through the APIC's LINT0 input programmed as ExtINT ("virtual wire
 * mode", Intel MP spec 3.6.2.2). A PC BIOS sets this up (QEMU -M pc); QEMU's microvm does
 * not. We do what the BIOS would, as guest/lib/idt32.c does for diskio. A CPU without an
 * enabled APIC (hv: KVM without an in-kernel APIC clears the CPUID bit) needs nothing.
 */
#define MSR_APIC_BASE    0x1Bu
#define APIC_BASE_ENABLE (1u << 11)
#define CPUID1_EDX_MSR   (1u << 5)
#define CPUID1_EDX_APIC  (1u << 9)
#define LAPIC_SVR        0x0F0u  /* spurious-interrupt vector register: bit 8 = enable */
#define LAPIC_LINT0      0x350u  /* local vector table entry for the LINT0 pin */
#define LVT_EXTINT       0x700u  /* delivery mode ExtINT: the PIC supplies the vector */

static void lapic_virtual_wire(void)
{
	uint32_t eax = 1, ebx, ecx = 0, edx, lo, hi;
	volatile uint32_t *lapic;

	__asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
	if ((edx & (CPUID1_EDX_MSR | CPUID1_EDX_APIC)) != (CPUID1_EDX_MSR | CPUID1_EDX_APIC))
		return;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_APIC_BASE));
	if (!(lo & APIC_BASE_ENABLE) || hi != 0)
		return;
	/* The APIC's registers are MMIO (0xFEE00000 unless moved): map them first. */
	paging_map_mmio(lo & 0xFFFFF000u);
	lapic = (volatile uint32_t *)(uintptr_t)(lo & 0xFFFFF000u);
	lapic[LAPIC_SVR / 4u] = 0x100u | 0xFFu;
	lapic[LAPIC_LINT0 / 4u] = LVT_EXTINT;
}

void timer_init(void)
{
	pic_init(); /* IRQ 0-15 -> vectors 0x20-0x2F, every line masked */
	lapic_virtual_wire();
	port_write8(PIT_CMD, PIT_CH0_MODE2);
	port_write8(PIT_CH0, (uint8_t)(PIT_DIVISOR & 0xFFu));
	port_write8(PIT_CH0, (uint8_t)(PIT_DIVISOR >> 8));
	pic_unmask(0);
}

/* From trap.c, for IRQ 0, before the EOI. */
void timer_irq(void)
{
	ticks++;
}

uint32_t timer_ticks(void)
{
	return ticks;
}
