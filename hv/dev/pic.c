/*
 * pic.c - the PC's two cascaded 8259A programmable interrupt controllers (PICs).
 *
 * What the chip is: a device that wants the CPU's attention raises a wire, an IRQ line. The
 * CPU has a single INTR pin, so on every PC since the IBM AT fifteen of those wires end at two
 * Intel 8259A chips. Each one latches requests (IRR), lets the OS mask lines (IMR), picks the
 * most urgent unmasked request that outranks whatever it is already serving, and raises INTR.
 * The slave's output is wired to the master's input IR2, so IRQ 8-15 reach the CPU through
 * the master.
 *
 * The INTA cycle: when the CPU accepts the interrupt (IF = 1, between two instructions) it
 * runs two "interrupt acknowledge" bus cycles. The master answers by moving the request from
 * IRR to ISR (in service) and putting a vector number on the data bus: the base the OS chose
 * in ICW2 plus the line number. If the winning line is IR2, the master lets the slave answer
 * instead, and both chips mark the request in service. The line stays in service, and blocks
 * every line of equal or lower priority, until the OS writes an end-of-interrupt (EOI).
 *
 * Why a VMM emulates it: hv creates no in-kernel irqchip, so nothing in KVM plays this chip.
 * The guest's OS programs it with IN/OUT (VM exits, like any other device), hv's devices raise
 * lines with pic_set_irq(), and when pic_intr() says INTR is up and the guest can take an
 * interrupt, hv runs the INTA cycle in software, pic_ack(), and hands the vector to KVM with
 * the KVM_INTERRUPT ioctl: that ioctl *is* hv's INTA. Textbook: chapter 4 "Two I/O paths",
 * section "Interrupts and polling".
 *
 * Registers, per chip (A0 = port offset: 0 = command port 0x20/0xA0, 1 = data port 0x21/0xA1):
 *
 *   write A0=0, bit 4 = 1        ICW1  start initialization: LTIM bit 3, SNGL bit 1, IC4 bit 0
 *   write A0=1 during init        ICW2  vector base (bits 7:3), then ICW3 (cascade wiring,
 *                                       skipped if SNGL), then ICW4 (skipped unless IC4)
 *   write A0=1 after init         OCW1  the interrupt mask register (1 = masked)
 *   write A0=0, bits 4:3 = 00     OCW2  EOI and priority rotation
 *   write A0=0, bits 4:3 = 01     OCW3  what a command-port read returns; poll; special mask
 *   read  A0=0                    IRR or ISR (OCW3 chooses), or the poll word after a poll
 *   read  A0=1                    IMR
 *
 * and, outside the 8259A, the chipset's edge/level control register (ELCR) at 0x4D0 (IRQ 0-7)
 * and 0x4D1 (IRQ 8-15), one bit per line, 1 = level-triggered (PCI interrupts are level, ISA
 * ones are edge).
 *
 * Choices where the datasheet leaves room (QEMU's hw/intc/i8259.c behaves the same unless
 * said otherwise):
 *   - Only the 8086 mode exists: ICW4 bit 0 (uPM) is ignored, as are the 8080-only fields
 *     (ICW1 ADI and bits 7:5, ICW2 bits 2:0), buffered mode and special fully nested mode.
 *   - Power-on state: every line masked (IMR = 0xFF), vector base 0. The real chip's state
 *     before ICW1 is undefined and QEMU unmasks everything; we mask, because a guest that
 *     never programmed the PIC would otherwise receive vectors 0-15, which are the CPU's own
 *     exception vectors: IRQ 0 would look like a divide error.
 *   - An edge request is latched: it stays in IRR even if the line falls before INTA (the real
 *     chip wants the line held until INTA, else it answers IR7; QEMU latches too). A level
 *     request follows the line: lowered before INTA, it is withdrawn, and INTA then gets the
 *     spurious vector (IR7 of the chip) without setting any ISR bit, as the datasheet says.
 *   - The cascade input (master IR2) follows the slave's INT output as a level, recomputed
 *     after every change, so a slave request is never lost to a missed edge. pic_set_irq(2)
 *     is ignored: on a PC board pin IR2 is the slave's wire, not a device's (ISA cards that
 *     asked for "IRQ 2" were routed to IRQ 9).
 *   - All OCW2 commands are implemented (EOI, specific EOI, the rotations, set priority), as
 *     are OCW3 poll mode and special mask mode.
 *   - ICW1 forgets the edge history: a line that is high during ICW1 must fall and rise again
 *     to request (datasheet: "the edge sense circuit is reset"). QEMU instead forgets the line
 *     level, so its next "raise" counts as an edge.
 *
 * Hostile guest: any access width but 1 byte reads 0xFF and writes nothing, counted in
 * p->bad_access (the chip has an 8-bit data bus). Any order of writes leaves a defined state;
 * an EOI with nothing in service does nothing. Every loop is over 8 lines. Nothing is
 * allocated after pic_create().
 */
#include "pic.h"

#include <stdlib.h>
#include <string.h>

/*
 * A0, the chip's one address pin, picks the port: offset 0 is 0x20 (master) or 0xA0 (slave),
 * offset 1 is 0x21 or 0xA1. Two ports are not enough for ten kinds of write, so the chip also
 * looks at the written value (ICW1 vs OCW2 vs OCW3, pic_command) and at where it is in the
 * initialization sequence (ICW2-4 vs OCW1, pic_write).
 */
enum { PIC_CMD = 0, PIC_DATA = 1 };
enum { MASTER = 0, SLAVE = 1 };
#define CASCADE_IRQ 2u /* master input wired to the slave's INT output */

/*
 * ICW1 (command port, bit 4 = 1). A PC OS sends the same four words to each chip (Linux's
 * init_8259A(), guest/lib/pic.c): ICW1 = 0x11 (edge, cascade, ICW4 follows); ICW2 = its vector
 * base, 32 or more so that IRQs do not land on the CPU's exception vectors 0-31; ICW3 = 0x04
 * to the master (a slave on IR2) and 2 to the slave (its ID); ICW4 = 0x01 (8086 mode, normal
 * EOI). Eight OUTs, each one a VM exit here.
 */
#define ICW1_IC4  0x01u /* an ICW4 will follow */
#define ICW1_SNGL 0x02u /* single chip: no ICW3 */
#define ICW1_LTIM 0x08u /* level-triggered mode for all eight lines */
#define ICW1_INIT 0x10u /* marks the byte as ICW1 */

/* ICW4. With AEOI the OS never sends EOI, and nothing blocks a lower-priority line while a
 * handler runs; PC operating systems leave it off and EOI every interrupt themselves. */
#define ICW4_AEOI 0x02u /* automatic EOI: the INTA cycle itself ends the interrupt */

/*
 * OCW2: bits 7:5 are R (rotate), SL (specific level, L = bits 2:0), EOI. The one every OS
 * sends is 0x20, a non-specific EOI, at the end of each handler (`outb(0x20, 0x20)`). A slave
 * interrupt is in service on both chips, so its handler sends EOI to the slave and then to
 * the master.
 */
#define OCW2_CMD(v)   (((v) >> 5) & 7u)
#define OCW2_LEVEL(v) ((v) & 7u)
enum {
	OCW2_ROTATE_AEOI_CLEAR = 0, /* 000 */
	OCW2_EOI = 1,               /* 001 non-specific EOI: the highest line in service */
	OCW2_NOP = 2,               /* 010 */
	OCW2_SPECIFIC_EOI = 3,      /* 011 EOI for line L */
	OCW2_ROTATE_AEOI_SET = 4,   /* 100 */
	OCW2_ROTATE_EOI = 5,        /* 101 non-specific EOI, that line becomes the lowest */
	OCW2_SET_PRIORITY = 6,      /* 110 line L becomes the lowest */
	OCW2_ROTATE_SPECIFIC = 7,   /* 111 specific EOI, line L becomes the lowest */
};

/* OCW3 (command port, bits 4:3 = 01). OCW3 = 0x0B makes the next command-port read return ISR:
 * that is how Linux tells a real IRQ 7 from a spurious one (pic_ack explains). */
#define OCW3_SELECT 0x08u
#define OCW3_RIS    0x01u /* with RR: 1 = read ISR, 0 = read IRR */
#define OCW3_RR     0x02u /* change the register a command-port read returns */
#define OCW3_POLL   0x04u /* the next read is the poll word */
#define OCW3_SMM    0x20u /* with ESMM: special mask mode on/off */
#define OCW3_ESMM   0x40u

/* The poll word: bit 7 = a request was found, bits 2:0 = its line. */
#define POLL_INT 0x80u

/*
 * ELCR bits that can be 1. IRQ 0 (timer), 1 (keyboard), 2 (cascade), 8 (RTC) and 13 (FPU
 * error) are wired to edge-only inputs on PIIX-class chipsets; their bits read 0 whatever is
 * written (Intel 82371AB datasheet, ELCR1/ELCR2; QEMU uses the same masks).
 */
#define ELCR_MASK_MASTER 0xF8u /* not IRQ 0, 1, 2 */
#define ELCR_MASK_SLAVE  0xDEu /* not IRQ 8 (bit 0), 13 (bit 5) */

#define PRIORITY_NONE 8 /* "no line": lower than IR7 at the lowest priority */

/* ---- one chip: priority resolution ------------------------------------------------------ */

/*
 * Priorities are numbered 0 (highest) to 7. Fixed priority is IR0 > IR1 > ... > IR7, so on a
 * PC the order is IRQ 0, 1, then 8-15 (they enter the master at IR2), then 3-7: the timer
 * beats every other line, and the slave's lines beat the UART's IRQ 4. A
 * rotation makes line (priority_base - 1) the lowest, so line priority_base gets priority 0.
 * The best priority among the lines set in `bits`, or PRIORITY_NONE. At most 8 steps.
 */
static int chip_best(const struct pic_chip *c, uint8_t bits)
{
	for (int prio = 0; prio < 8; prio++)
		if (bits & (1u << ((prio + c->priority_base) & 7u)))
			return prio;
	return PRIORITY_NONE;
}

static unsigned chip_line_of(const struct pic_chip *c, int prio)
{
	return ((unsigned)prio + c->priority_base) & 7u;
}

/*
 * The line this chip would raise INT for, or -1. An unmasked request wins only if it outranks
 * every line in service: that is "fully nested" mode, the one every PC OS uses. In special
 * mask mode a masked in-service line stops counting, so a handler can mask its own line and
 * let lower-priority lines through.
 */
static int chip_pending(const struct pic_chip *c)
{
	int req = chip_best(c, (uint8_t)(c->irr & ~c->imr));
	if (req == PRIORITY_NONE)
		return -1;
	uint8_t serving = c->special_mask ? (uint8_t)(c->isr & ~c->imr) : c->isr;
	if (req >= chip_best(c, serving))
		return -1;
	return (int)chip_line_of(c, req);
}

/*
 * Lines in level mode: all of them after ICW1 with LTIM, else the ELCR bits. Edge lines suit
 * ISA devices that pulse; a level line suits a shared or a "until acknowledged" source such as
 * virtio-mmio's, which stays high while its InterruptStatus is not 0 (hv/dev/virtio_mmio.c).
 */
static uint8_t chip_level_mask(const struct pic_chip *c)
{
	return c->ltim ? 0xFFu : c->elcr;
}

/* A level-triggered request is the line itself: IRR copies the wire for those lines. */
static void chip_sync_level(struct pic_chip *c)
{
	uint8_t level = chip_level_mask(c);
	c->irr = (uint8_t)((c->irr & ~level) | (c->lines & level));
}

/*
 * The chip's half of INTA for `line`: the request moves to in-service (unless AEOI ends it at
 * once). An edge request is consumed; a level request stays in IRR while the wire is high,
 * which is why a level handler must quiet its device before the EOI.
 */
static void chip_ack(struct pic_chip *c, unsigned line)
{
	uint8_t bit = (uint8_t)(1u << line);
	if (!(chip_level_mask(c) & bit))
		c->irr &= (uint8_t)~bit;
	if (!c->auto_eoi)
		c->isr |= bit;
	else if (c->rotate_aeoi)
		c->priority_base = (uint8_t)((line + 1) & 7u);
}

/* ---- the pair: cascade and INTR --------------------------------------------------------- */

/*
 * Master IR2 is the slave's INT pin. We treat it as a level input recomputed after every
 * change (see the header), so IRR bit 2 of the master always says "the slave is asking".
 * Every register access, line change and INTA ends here, so INTR never sees a stale IR2.
 */
static void pic_sync(struct pic *p)
{
	struct pic_chip *m = &p->chip[MASTER];
	uint8_t bit = 1u << CASCADE_IRQ;

	chip_sync_level(&p->chip[SLAVE]);
	chip_sync_level(m);
	if (chip_pending(&p->chip[SLAVE]) >= 0) {
		m->lines |= bit;
		m->irr |= bit;
	} else {
		m->lines &= (uint8_t)~bit;
		m->irr &= (uint8_t)~bit;
	}
}

/* Does the master let the slave answer INTA for IR2 (ICW3 bit 2 set, not SNGL)? */
static bool pic_cascaded(const struct pic *p)
{
	const struct pic_chip *m = &p->chip[MASTER];
	return !m->single && (m->cascade & (1u << CASCADE_IRQ));
}

/* INTR, computed with the lock held. */
static bool pic_intr_locked(const struct pic *p)
{
	return chip_pending(&p->chip[MASTER]) >= 0;
}

/*
 * Leave the critical section. If INTR rose during it, tell hv (which kicks the vCPU out of
 * KVM_RUN so it can inject) - after unlocking, because the callback may call back into us.
 * The kick matters when the line was raised by another thread (the timer's tick thread, the
 * ioeventfd thread) while the vCPU sits in KVM_RUN or in a halted guest: without it the
 * interrupt would wait for the next exit, however late that is.
 */
static void pic_unlock_notify(struct pic *p, bool intr_before)
{
	bool rose = !intr_before && pic_intr_locked(p);
	void (*cb)(void *) = p->intr_changed;
	void *ctx = p->intr_ctx;

	pthread_mutex_unlock(&p->lock);
	if (rose && cb)
		cb(ctx);
}

/* ---- power-on and initialization ------------------------------------------------------- */

static void chip_power_on(struct pic_chip *c, uint8_t elcr_mask, uint8_t cascade)
{
	memset(c, 0, sizeof(*c));
	c->imr = 0xFF; /* all masked: see the header for why we differ from QEMU here */
	c->elcr_mask = elcr_mask;
	c->cascade = cascade; /* the PC's wiring: slave on master IR2, slave ID 2 */
}

static void pic_power_on(struct pic *p)
{
	chip_power_on(&p->chip[MASTER], ELCR_MASK_MASTER, 1u << CASCADE_IRQ);
	chip_power_on(&p->chip[SLAVE], ELCR_MASK_SLAVE, CASCADE_IRQ);
}

/*
 * ICW1, per the datasheet: the edge sense circuit is reset (requests and edge history are
 * forgotten), IMR is cleared, IR7 gets the lowest priority, special mask mode is cleared, a
 * command-port read returns IRR, and without IC4 every ICW4 function is off. The vector base
 * and the ELCR are untouched (ICW2 comes next; the ELCR is not part of the 8259A).
 */
static void chip_icw1(struct pic_chip *c, uint8_t v)
{
	c->irr = 0;
	c->isr = 0;
	c->imr = 0;
	c->priority_base = 0;
	c->special_mask = false;
	c->read_isr = false;
	c->poll = false;
	c->rotate_aeoi = false;
	c->ltim = v & ICW1_LTIM;
	c->single = v & ICW1_SNGL;
	c->icw4_needed = v & ICW1_IC4;
	if (!c->icw4_needed)
		c->auto_eoi = false;
	c->icw_step = 2;
}

/* ICW2-ICW4 arrive on the data port in order; `icw_step` says which one is next. While it is
 * not 0, a data-port write is an ICW, not a mask: a guest that stops half-way leaves the chip
 * taking its next data-port write as an ICW, and pic_line_enabled reports every line off, so
 * irq.c does not let a halted guest wait for a tick from a chip that is not set up. */
static void chip_icw_data(struct pic_chip *c, uint8_t v)
{
	switch (c->icw_step) {
	case 2: /* ICW2: vector of IR0. Bits 2:0 are the line number in every vector. */
		c->vector_base = v & 0xF8u;
		c->icw_step = !c->single ? 3 : c->icw4_needed ? 4 : 0;
		break;
	case 3: /* ICW3: master: bit n = a slave on IRn; slave: its ID (stored, not checked) */
		c->cascade = v;
		c->icw_step = c->icw4_needed ? 4 : 0;
		break;
	default: /* ICW4: only AEOI matters in 8086 mode (bit 0, uPM, is assumed 1) */
		c->auto_eoi = v & ICW4_AEOI;
		c->icw_step = 0;
		break;
	}
}

/* ---- OCW2 and OCW3 ---------------------------------------------------------------------- */

/* Non-specific EOI ends the highest-priority line in service; returns it, or -1 if none. In
 * fully nested mode that is the interrupt whose handler is running, which is why an OS can
 * send EOI without saying which line it means. */
static int chip_eoi_highest(struct pic_chip *c)
{
	int prio = chip_best(c, c->isr);
	if (prio == PRIORITY_NONE)
		return -1;
	unsigned line = chip_line_of(c, prio);
	c->isr &= (uint8_t)~(1u << line);
	return (int)line;
}

/* Make `line` the lowest priority: the line after it becomes the highest. */
static void chip_rotate_after(struct pic_chip *c, unsigned line)
{
	c->priority_base = (uint8_t)((line + 1) & 7u);
}

/* OCW2: end of interrupt and rotation. Returns true if it was an EOI command (for p->eois). */
static bool chip_ocw2(struct pic_chip *c, uint8_t v)
{
	unsigned level = OCW2_LEVEL(v);
	int line;

	switch (OCW2_CMD(v)) {
	case OCW2_EOI:
		chip_eoi_highest(c); /* nothing in service: nothing happens */
		return true;
	case OCW2_SPECIFIC_EOI:
		c->isr &= (uint8_t)~(1u << level); /* a line not in service: no change */
		return true;
	case OCW2_ROTATE_EOI:
		line = chip_eoi_highest(c);
		if (line >= 0)
			chip_rotate_after(c, (unsigned)line);
		return true;
	case OCW2_ROTATE_SPECIFIC:
		c->isr &= (uint8_t)~(1u << level);
		chip_rotate_after(c, level);
		return true;
	case OCW2_SET_PRIORITY:
		chip_rotate_after(c, level);
		return false;
	case OCW2_ROTATE_AEOI_SET:
		c->rotate_aeoi = true;
		return false;
	case OCW2_ROTATE_AEOI_CLEAR:
		c->rotate_aeoi = false;
		return false;
	default: /* OCW2_NOP */
		return false;
	}
}

/* OCW3: choose IRR or ISR for command-port reads, arm a poll, switch special mask mode. */
static void chip_ocw3(struct pic_chip *c, uint8_t v)
{
	if (v & OCW3_ESMM)
		c->special_mask = v & OCW3_SMM;
	if (v & OCW3_POLL)
		c->poll = true;
	if (v & OCW3_RR)
		c->read_isr = v & OCW3_RIS;
}

/*
 * The poll word. Polling is INTA done by a read, for a CPU running with interrupts off: the
 * chip acknowledges its best request (ISR set, exactly as INTA) and returns 0x80 | line, or
 * 0 if nothing is pending. Polling the master while the slave asks returns line 2; the OS then
 * polls the slave (the master's IR2 is not put in service, as in QEMU).
 */
static uint8_t pic_poll_read(struct pic *p, struct pic_chip *c)
{
	c->poll = false;
	int line = chip_pending(c);
	if (line < 0)
		return 0;
	if (c == &p->chip[MASTER] && (unsigned)line == CASCADE_IRQ && pic_cascaded(p))
		return POLL_INT | CASCADE_IRQ;
	chip_ack(c, (unsigned)line);
	p->acks++;
	return (uint8_t)(POLL_INT | (unsigned)line);
}

/* ---- the guest's view: port accesses ---------------------------------------------------- */

static bool pic_bad_access(struct pic *p, uint64_t offset, uint8_t *data, uint32_t size)
{
	if (size == 1 && offset < PIC_LEN)
		return false;
	p->bad_access++; /* the 8259A has an 8-bit data bus */
	if (data)
		memset(data, 0xFF, size);
	return true;
}

static void pic_read(struct pic *p, unsigned which, uint64_t offset, uint8_t *data,
		     uint32_t size)
{
	pthread_mutex_lock(&p->lock);
	if (!pic_bad_access(p, offset, data, size)) {
		struct pic_chip *c = &p->chip[which];
		if (c->poll) /* the datasheet: the next read pulse, on either port */
			data[0] = pic_poll_read(p, c);
		else if (offset == PIC_DATA)
			data[0] = c->imr;
		else
			data[0] = c->read_isr ? c->isr : c->irr;
		pic_sync(p); /* a poll may have changed the slave's INT */
	}
	pthread_mutex_unlock(&p->lock);
}

/* The command port decodes by bits 4 and 3 of the value: 1x = ICW1, 01 = OCW3, 00 = OCW2. */
static void pic_command(struct pic *p, struct pic_chip *c, uint8_t v)
{
	if (v & ICW1_INIT)
		chip_icw1(c, v); /* at any time, even in the middle of another sequence */
	else if (v & OCW3_SELECT)
		chip_ocw3(c, v);
	else if (chip_ocw2(c, v))
		p->eois++;
}

static void pic_write(struct pic *p, unsigned which, uint64_t offset, const uint8_t *data,
		      uint32_t size)
{
	pthread_mutex_lock(&p->lock);
	if (pic_bad_access(p, offset, NULL, size)) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	bool before = pic_intr_locked(p);
	struct pic_chip *c = &p->chip[which];
	if (offset == PIC_CMD)
		pic_command(p, c, data[0]);
	else if (c->icw_step)
		chip_icw_data(c, data[0]);
	else
		c->imr = data[0]; /* OCW1 */
	pic_sync(p);
	pic_unlock_notify(p, before);
}

static void pic_master_read(void *dev, uint64_t off, uint8_t *data, uint32_t size)
{
	pic_read(dev, MASTER, off, data, size);
}

static void pic_master_write(void *dev, uint64_t off, const uint8_t *data, uint32_t size)
{
	pic_write(dev, MASTER, off, data, size);
}

static void pic_slave_read(void *dev, uint64_t off, uint8_t *data, uint32_t size)
{
	pic_read(dev, SLAVE, off, data, size);
}

static void pic_slave_write(void *dev, uint64_t off, const uint8_t *data, uint32_t size)
{
	pic_write(dev, SLAVE, off, data, size);
}

/* ELCR: offset 0 = IRQ 0-7 (master), offset 1 = IRQ 8-15 (slave). Ports 0x4D0/0x4D1 belong to
 * the PCI-era chipset, not to the 8259A, but they change how its inputs sense, so they live
 * here; an OS sets the bit of each PCI (level) line, hvlab's guest that of IRQ 5 (virtio). */
static void elcr_read(void *dev, uint64_t off, uint8_t *data, uint32_t size)
{
	struct pic *p = dev;
	pthread_mutex_lock(&p->lock);
	if (!pic_bad_access(p, off, data, size))
		data[0] = p->chip[off].elcr;
	pthread_mutex_unlock(&p->lock);
}

static void elcr_write(void *dev, uint64_t off, const uint8_t *data, uint32_t size)
{
	struct pic *p = dev;
	pthread_mutex_lock(&p->lock);
	if (pic_bad_access(p, off, NULL, size)) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	bool before = pic_intr_locked(p);
	struct pic_chip *c = &p->chip[off];
	c->elcr = data[0] & c->elcr_mask;
	pic_sync(p); /* a line made level while high requests at once */
	pic_unlock_notify(p, before);
}

/* Reset: the power-on state. Counters describe the whole run and survive. */
static void pic_reset(void *dev)
{
	struct pic *p = dev;
	pthread_mutex_lock(&p->lock);
	pic_power_on(p); /* everything masked: INTR cannot rise, so no notification */
	pthread_mutex_unlock(&p->lock);
}

const struct device_ops pic_master_ops = {
	.name = "pic-master", .read = pic_master_read, .write = pic_master_write,
	.reset = pic_reset,
};

/* Reset lives on the master's table: one reset of the pair, not two. */
const struct device_ops pic_slave_ops = {
	.name = "pic-slave", .read = pic_slave_read, .write = pic_slave_write, .reset = NULL,
};

const struct device_ops pic_elcr_ops = {
	.name = "elcr", .read = elcr_read, .write = elcr_write, .reset = NULL,
};

/* ---- hv's view: create, lines, INTR, INTA ------------------------------------------------ */

struct pic *pic_create(void)
{
	struct pic *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		return NULL;
	}
	pic_power_on(p);
	return p;
}

void pic_destroy(struct pic *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void pic_connect_intr(struct pic *p, void (*intr_changed)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&p->lock);
	p->intr_changed = intr_changed;
	p->intr_ctx = ctx;
	pthread_mutex_unlock(&p->lock);
}

/*
 * A device's wire changed. An edge line requests on 0 -> 1 only (a line held high requests
 * once); a level line requests while high (pic_sync copies it into IRR).
 *
 * Called by hv's devices, never by the guest directly; a guest reaches it only through a
 * device, and each device calls it only when its level changes (appendix C, S6), so a storm
 * of register writes cannot become a storm of requests. IRQ numbers outside 0-15 are ignored.
 */
void pic_set_irq(struct pic *p, unsigned irq, int level)
{
	if (irq >= 16 || irq == CASCADE_IRQ)
		return;
	struct pic_chip *c = &p->chip[irq >> 3];
	uint8_t bit = (uint8_t)(1u << (irq & 7u));

	pthread_mutex_lock(&p->lock);
	bool before = pic_intr_locked(p);
	if (level) {
		if (!(c->lines & bit))
			c->irr |= bit; /* the rising edge (harmless for a level line) */
		c->lines |= bit;
	} else {
		c->lines &= (uint8_t)~bit; /* an edge request stays latched in IRR */
	}
	pic_sync(p);
	pic_unlock_notify(p, before);
}

/*
 * Could a request on line irq ever reach the CPU as things stand: both chips initialized, the
 * line unmasked (and for the slave's lines, the cascade IR2 on the master too)? irq.c asks
 * before it lets a halted guest wait for a timer tick: a masked timer never wakes anyone.
 */
bool pic_line_enabled(struct pic *p, unsigned irq)
{
	if (irq > 15)
		return false;
	pthread_mutex_lock(&p->lock);
	const struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
	bool on = m->icw_step == 0 && !(m->imr & (1u << (irq & 7)));
	if (irq >= 8)
		on = m->icw_step == 0 && !(m->imr & (1u << 2)) && s->icw_step == 0 &&
		     !(s->imr & (1u << (irq - 8)));
	pthread_mutex_unlock(&p->lock);
	return on;
}

/*
 * INTR, the chip's output pin: irq.c asks at every exit whether to inject. The answer alone
 * does not inject anything: the guest must also be able to take an interrupt (IF = 1, no
 * interrupt shadow), or irq.c asks KVM for an interrupt-window exit (textbook
 * ch04 "The path of one interrupt").
 */
bool pic_intr(struct pic *p)
{
	pthread_mutex_lock(&p->lock);
	bool intr = pic_intr_locked(p);
	pthread_mutex_unlock(&p->lock);
	return intr;
}

/*
 * The slave's half of INTA, when the master picked IR2. If the slave has nothing (it cannot
 * happen while pic_sync keeps IR2 honest, but the chip's answer is defined anyway) it answers
 * its IR7 as a spurious interrupt; the master's IR2 stays in service, and Linux, seeing a
 * spurious IRQ 15, EOIs the master only.
 */
static uint8_t pic_ack_slave(struct pic *p, int *irq)
{
	struct pic_chip *s = &p->chip[SLAVE];
	int line = chip_pending(s);
	if (line < 0) {
		p->spurious++;
		*irq = -1;
		return (uint8_t)(s->vector_base + 7u);
	}
	chip_ack(s, (unsigned)line);
	p->acks++;
	*irq = 8 + line;
	return (uint8_t)(s->vector_base + (unsigned)line);
}

/*
 * INTA. No notification here: the caller is the one injecting, and it asks pic_intr() again
 * before its next entry (with AEOI, INTR may well still be up).
 *
 * The spurious IRQ 7: when the request vanished between INTR and INTA, the chip still has to
 * put a vector on the bus, and it answers IR7's, with no ISR bit set. An OS cannot tell that
 * vector from a real IRQ 7 by the vector alone, so its IRQ 7 handler reads ISR (OCW3 0x0B)
 * first: bit 7 clear means spurious, and it must then send no EOI, since an EOI would end
 * some other line that is really in service. For the slave's IR7 (IRQ 15) the master's IR2 is
 * really in service, so the OS still sends the master its EOI (pic_ack_slave).
 */
uint8_t pic_ack(struct pic *p, int *irq_out)
{
	struct pic_chip *m = &p->chip[MASTER];
	uint8_t vector;
	int irq;

	pthread_mutex_lock(&p->lock);
	int line = chip_pending(m);
	if (line < 0) {
		/* INTR fell before INTA (a level line lowered): the chip answers IR7, no ISR bit */
		p->spurious++;
		irq = -1;
		vector = (uint8_t)(m->vector_base + 7u);
	} else {
		chip_ack(m, (unsigned)line);
		if ((unsigned)line == CASCADE_IRQ && pic_cascaded(p)) {
			vector = pic_ack_slave(p, &irq);
		} else {
			p->acks++;
			irq = line;
			vector = (uint8_t)(m->vector_base + (unsigned)line);
		}
	}
	pic_sync(p);
	pthread_mutex_unlock(&p->lock);
	if (irq_out)
		*irq_out = irq;
	return vector;
}
