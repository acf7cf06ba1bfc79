/*
 * pic.h - the guests' driver for the PC's two cascaded 8259A interrupt controllers.
 *
 * Concept: the guest half of an interrupt. A device raises a wire; the 8259A turns the wire
 * into a *vector number* the OS chose (ICW2), and holds further requests of the same or lower
 * priority until the OS says "done" (an end-of-interrupt, EOI). Before the first interrupt
 * the OS must program the chip (the four initialization command words, ICW1-ICW4), choose
 * which lines may interrupt (the mask, OCW1), and afterwards acknowledge each interrupt
 * (OCW2). hv emulates the chip in user space (hv/dev/pic.h), so every call below is made of
 * OUTs (and a few INs) that each leave the guest.
 * Textbook: chapter 4 "Two I/O paths", section "Interrupts and polling".
 *
 * Ports (hv/layout.h): master command 0x20, data 0x21 (IRQ 0-7); slave command 0xA0, data
 * 0xA1 (IRQ 8-15, cascaded into the master's IR2); ELCR 0x4D0/0x4D1 (edge/level per line).
 *
 * The same source is compiled with gcc -m16 (irq16) and -m32 (diskio): port I/O only, and
 * the driver's state (the two masks) lives in .bss, which both entry files clear.
 *
 * ---- Exits on hv (every IN/OUT is one exit) ----
 *   pic_init              = 10 OUT: ICW1-ICW4 to each chip (8), then OCW1 = 0xFF to each (2)
 *   pic_unmask(irq < 8)   = 1 OUT (master mask), 0 if the line was already unmasked
 *   pic_unmask(irq >= 8)  = 1 OUT (slave mask) + 1 OUT (master mask) the first time, when the
 *                           cascade line IR2 is still masked; 0 or 1 afterwards
 *   pic_mask(irq)         = 1 OUT, 0 if already masked
 *   pic_eoi(irq < 8)      = 1 OUT (master)
 *   pic_eoi(irq >= 8)     = 2 OUT (slave, then master)
 *   pic_irr(irq)          = 1 OUT (OCW3 "read IRR") + 1 IN
 *   pic_is_spurious(irq)  = 0 for IRQs other than 7 and 15; else 1 OUT (OCW3 "read ISR") + 1 IN
 *   pic_set_level(irq)    = 1 IN + 1 OUT (read-modify-write of the ELCR byte)
 */
#ifndef GUEST_PIC_H
#define GUEST_PIC_H

#include <stdint.h>

/*
 * The vectors our guests choose (ICW2): IRQ 0-7 -> 0x20-0x27, IRQ 8-15 -> 0x28-0x2F, the
 * numbers Linux uses in protected mode. Vectors 0-31 are the CPU's own exceptions in
 * protected mode, which is why the PC BIOS's choice (0x08-0x0F) is wrong for an OS. In real
 * mode on hv nothing lives in the IVT at all (no BIOS), so the same numbers work there too.
 */
#define PIC_MASTER_VECTOR 0x20u
#define PIC_SLAVE_VECTOR  0x28u
#define PIC_CASCADE_IRQ   2u /* the master's input the slave's INT pin is wired to */

/* Program both chips (edge-triggered, cascaded, 8086 mode, normal EOI) with the vector bases
 * above, and mask every line. Call with interrupts off (cli). */
void pic_init(void);

/* Allow / forbid interrupts from one line (0-15). Unmasking a slave line also unmasks the
 * cascade IR2 on the master, without which no slave interrupt gets through. */
void pic_unmask(unsigned irq);
void pic_mask(unsigned irq);

/* End of interrupt for a line that was delivered: the slave first (if irq >= 8), then the
 * master, which saw the slave's request on IR2 and holds IR2 in service as well. */
void pic_eoi(unsigned irq);

/* Is the line's request bit set in the interrupt request register (IRR)? The request waits
 * there while the CPU has interrupts off. 1 or 0. */
int pic_irr(unsigned irq);

/* IRQ 7 and 15 may be *spurious*: the line dropped between INTR and the CPU's acknowledge,
 * and the chip answered with its lowest-priority vector. The in-service bit tells: if it is
 * clear the interrupt was spurious and must not be EOI'd (except the master's IR2 for a
 * spurious IRQ 15, which pic_eoi_spurious does). Always 0 for other lines. */
int pic_is_spurious(unsigned irq);
void pic_eoi_spurious(unsigned irq);

/* Make a line level-triggered in the ELCR (for a device that holds its line high until the
 * driver acknowledges it, like virtio-mmio). IRQ 0, 1, 2, 8 and 13 cannot be level on a
 * PC chipset; the call ignores them. */
void pic_set_level(unsigned irq);

#endif
