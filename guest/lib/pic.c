/*
 * pic.c - programming the two 8259A interrupt controllers: initialization, masks, EOI.
 *
 * Concept: an interrupt controller is a device like any other, driven by port I/O. Nothing
 * about it is automatic: after power-on the chip does not even know which vectors to send.
 * The OS writes a fixed sequence of four "initialization command words" (ICW1-ICW4), the
 * same sequence Linux's init_8259A() writes, then "operation command words": OCW1 (the mask,
 * written to the data port), OCW2 (EOI, to the command port), OCW3 (which register a read of
 * the command port returns). Each write below is one VM exit on hv, which plays the chip in
 * hv/dev/pic.c. Textbook: chapter 4 "Two I/O paths", section "Interrupts and polling".
 *
 * Intel 8259A datasheet, "Initialization command words" and "Operation command words".
 */
#include <stdint.h>

#include "layout.h"
#include "pic.h"
#include "portio.h"

#define PIC_M_CMD  HV_PORT_PIC_MASTER          /* 0x20 */
#define PIC_M_DATA (HV_PORT_PIC_MASTER + 1u)   /* 0x21 */
#define PIC_S_CMD  HV_PORT_PIC_SLAVE           /* 0xA0 */
#define PIC_S_DATA (HV_PORT_PIC_SLAVE + 1u)    /* 0xA1 */

/* ICW1: bit 4 = 1 marks an ICW1 (it restarts initialization); bit 0 = ICW4 follows.
   Bit 1 = 0: cascade mode (two chips); bit 3 = 0: edge-triggered (the ELCR can override per
   line on PCI-era chipsets). ICW1 also clears the mask and selects IRR for command reads. */
#define ICW1_INIT_ICW4 0x11u
/* ICW3: to the master, a bit mask of inputs with a slave (IR2 -> 1 << 2 = 4); to the slave,
   its own cascade identity, the master input it hangs on (2). */
#define ICW3_MASTER (1u << PIC_CASCADE_IRQ)
#define ICW3_SLAVE  PIC_CASCADE_IRQ
/* ICW4: bit 0 = 8086/88 mode (the chip sends a vector number; 0 would be the 8080's CALL
   instruction). Bit 1 = 0: normal EOI, the OS acknowledges every interrupt itself. */
#define ICW4_8086 0x01u

/* OCW2 0x20: non-specific EOI, "the highest-priority line in service is done". */
#define OCW2_EOI 0x20u
/* OCW3: bit 3 = 1 marks an OCW3; bits 1:0 = 10 read IRR, 11 read ISR at the command port. */
#define OCW3_READ_IRR 0x0Au
#define OCW3_READ_ISR 0x0Bu

/* ELCR bits that a PC chipset hard-wires to edge: IRQ 0 (timer), 1 (keyboard), 2 (cascade),
   8 (RTC) and 13 (FPU error). QEMU's masks are the same (0xF8 and 0xDE are the writable bits). */
#define ELCR_WRITABLE_MASTER 0xF8u
#define ELCR_WRITABLE_SLAVE  0xDEu

/* Our copy of the two masks (OCW1), so changing one line costs one OUT, not an IN and an OUT.
   1 = masked. pic_init sets both to 0xFF. */
static uint8_t mask_master, mask_slave;

/* The chip a line belongs to and the line's bit in that chip's registers. */
static inline int pic_is_slave(unsigned irq)
{
	return irq >= 8u;
}

static inline uint8_t pic_bit(unsigned irq)
{
	return (uint8_t)(1u << (irq & 7u));
}

/*
 * ICW1 to the command port starts the sequence; ICW2, ICW3, ICW4 follow on the data port,
 * in that order (the chip counts them). Master first, then the slave, as Linux does. After
 * the sequence the mask register is 0 (everything unmasked), so we write OCW1 = 0xFF at once:
 * interrupts are off (cli) meanwhile, so nothing can be delivered in between.
 * 10 OUTs.
 */
void pic_init(void)
{
	port_write8(PIC_M_CMD, ICW1_INIT_ICW4);
	port_write8(PIC_M_DATA, PIC_MASTER_VECTOR); /* ICW2: IR0 -> vector 0x20 */
	port_write8(PIC_M_DATA, ICW3_MASTER);
	port_write8(PIC_M_DATA, ICW4_8086);

	port_write8(PIC_S_CMD, ICW1_INIT_ICW4);
	port_write8(PIC_S_DATA, PIC_SLAVE_VECTOR);  /* ICW2: IR0 of the slave (IRQ 8) -> 0x28 */
	port_write8(PIC_S_DATA, ICW3_SLAVE);
	port_write8(PIC_S_DATA, ICW4_8086);

	mask_master = 0xFF;
	mask_slave = 0xFF;
	port_write8(PIC_M_DATA, mask_master); /* OCW1: every line masked until a driver asks */
	port_write8(PIC_S_DATA, mask_slave);
}

/* Write a chip's mask only if it changed: 0 or 1 OUT. */
static void pic_write_mask(int slave, uint8_t mask)
{
	uint8_t *cur = slave ? &mask_slave : &mask_master;

	if (*cur == mask)
		return;
	*cur = mask;
	port_write8(slave ? PIC_S_DATA : PIC_M_DATA, mask);
}

void pic_unmask(unsigned irq)
{
	if (irq > 15u)
		return;
	if (pic_is_slave(irq)) {
		/* The slave's INT pin is wired to the master's IR2: both must let it through. */
		pic_write_mask(1, (uint8_t)(mask_slave & ~pic_bit(irq)));
		pic_write_mask(0, (uint8_t)(mask_master & ~pic_bit(PIC_CASCADE_IRQ)));
	} else {
		pic_write_mask(0, (uint8_t)(mask_master & ~pic_bit(irq)));
	}
}

void pic_mask(unsigned irq)
{
	if (irq > 15u)
		return;
	if (pic_is_slave(irq))
		pic_write_mask(1, (uint8_t)(mask_slave | pic_bit(irq)));
	else
		pic_write_mask(0, (uint8_t)(mask_master | pic_bit(irq)));
}

/*
 * A slave interrupt is in service on *both* chips: on the slave as its own line, on the
 * master as IR2. Each needs its own EOI, the slave's first, so that when the master's IR2
 * is released no lower-priority slave request is still blocked by a stale in-service bit.
 */
void pic_eoi(unsigned irq)
{
	if (pic_is_slave(irq))
		port_write8(PIC_S_CMD, OCW2_EOI);
	port_write8(PIC_M_CMD, OCW2_EOI);
}

/* Select a register with OCW3 and read it at the command port: 1 OUT + 1 IN. */
static uint8_t pic_read_reg(int slave, uint8_t ocw3)
{
	uint16_t cmd = slave ? PIC_S_CMD : PIC_M_CMD;

	port_write8(cmd, ocw3);
	return port_read8(cmd);
}

int pic_irr(unsigned irq)
{
	if (irq > 15u)
		return 0;
	return (pic_read_reg(pic_is_slave(irq), OCW3_READ_IRR) & pic_bit(irq)) != 0;
}

/*
 * The chip answers an acknowledge without a request (the line fell after INTR was raised)
 * with its IR7 vector and does not set the ISR bit. Only IR7 of each chip can be spurious.
 */
int pic_is_spurious(unsigned irq)
{
	if (irq != 7u && irq != 15u)
		return 0;
	return (pic_read_reg(pic_is_slave(irq), OCW3_READ_ISR) & pic_bit(irq)) == 0;
}

/* A spurious IRQ 15 came through the master's IR2, which *is* in service: release it. A
   spurious IRQ 7 needs nothing. */
void pic_eoi_spurious(unsigned irq)
{
	if (irq == 15u)
		port_write8(PIC_M_CMD, OCW2_EOI);
}

/*
 * Level-triggered: the chip requests while the line is high, not on a rising edge. A
 * virtio-mmio transport holds its line high while InterruptStatus is not 0; if the driver
 * acknowledged one completion while another arrived, an edge-triggered input would never see
 * a new edge and the interrupt would be lost. Read-modify-write: a firmware may have set
 * other lines (SeaBIOS marks its PCI interrupt lines level). 1 IN + 1 OUT.
 */
void pic_set_level(unsigned irq)
{
	uint16_t port = (uint16_t)(HV_PORT_ELCR + (pic_is_slave(irq) ? 1u : 0u));
	uint8_t writable = pic_is_slave(irq) ? ELCR_WRITABLE_SLAVE : ELCR_WRITABLE_MASTER;

	if (irq > 15u || !(writable & pic_bit(irq)))
		return;
	port_write8(port, (uint8_t)(port_read8(port) | pic_bit(irq)));
}
