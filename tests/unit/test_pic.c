/*
 * test_pic.c - unit tests for the cascaded 8259A pair (hv/dev/pic.c).
 *
 * The guest side is driven as a guest's OS drives it: 1-byte IN/OUT on ports 0x20/0x21
 * (master), 0xA0/0xA1 (slave) and 0x4D0/0x4D1 (ELCR), through the bus. hv's side is driven as
 * hv's vCPU loop drives it: pic_set_irq() for device wires, pic_intr() for the INTR pin and
 * pic_ack() for the INTA cycle (what hv hands to KVM_INTERRUPT).
 *
 * Expected values come from the Intel 8259A datasheet's register layouts:
 *   ICW1 = 0x10 | LTIM 0x08 | SNGL 0x02 | IC4 0x01; ICW2 = vector base (bits 7:3);
 *   ICW3 master = bit n for a slave on IRn, slave = its ID; ICW4 = AEOI 0x02 | 8086 0x01
 *   OCW2: 0x20 non-specific EOI, 0x60|n specific EOI, 0xA0 rotate on EOI, 0xC0|n set priority
 *   OCW3: 0x08 | P 0x04 | RR 0x02 | RIS 0x01 (0x0A read IRR, 0x0B read ISR), ESMM 0x40 | SMM 0x20
 * Vector = ICW2 base + line; the spurious vector is base + 7.
 * Textbook: chapter 4 "Two I/O paths", section "Interrupts and polling".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "bus.h"
#include "dev/pic.h"
#include "layout.h"

#define M_CMD  (HV_PORT_PIC_MASTER + 0)
#define M_DATA (HV_PORT_PIC_MASTER + 1)
#define S_CMD  (HV_PORT_PIC_SLAVE + 0)
#define S_DATA (HV_PORT_PIC_SLAVE + 1)
#define ELCR0  (HV_PORT_ELCR + 0)
#define ELCR1  (HV_PORT_ELCR + 1)

static struct bus bus;
static struct pic *p;

static void setup(void)
{
	bus_init(&bus);
	p = pic_create();
	cr_assert_not_null(p);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_PIC_MASTER, PIC_LEN, &pic_master_ops, p), 0);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_PIC_SLAVE, PIC_LEN, &pic_slave_ops, p), 0);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_ELCR, ELCR_LEN, &pic_elcr_ops, p), 0);
}

static void teardown(void)
{
	pic_destroy(p);
}

TestSuite(pic, .init = setup, .fini = teardown);

static uint8_t inb(unsigned port)
{
	uint8_t v = 0;
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, port, &v, 1, false), BUS_OK);
	return v;
}

static void outb(unsigned port, uint8_t v)
{
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, port, &v, 1, true), BUS_OK);
}

/*
 * Linux's init_8259A(): ICW1 0x11 (edge, cascade, ICW4 follows), ICW2 0x20 / 0x28 (the
 * vectors right after the 32 exception vectors), ICW3 0x04 (slave on IR2) / 0x02 (slave ID
 * 2), ICW4 0x01 (8086 mode, normal EOI) or 0x03 with AEOI.
 */
static void linux_init(uint8_t icw4)
{
	outb(M_CMD, 0x11);
	outb(M_DATA, 0x20);
	outb(M_DATA, 0x04);
	outb(M_DATA, icw4);
	outb(S_CMD, 0x11);
	outb(S_DATA, 0x28);
	outb(S_DATA, 0x02);
	outb(S_DATA, icw4);
}

static void pulse(unsigned irq)
{
	pic_set_irq(p, irq, 1);
	pic_set_irq(p, irq, 0);
}

static uint8_t read_isr(unsigned cmd_port)
{
	outb(cmd_port, 0x0B);
	return inb(cmd_port);
}

static uint8_t read_irr(unsigned cmd_port)
{
	outb(cmd_port, 0x0A);
	return inb(cmd_port);
}

static uint8_t ack(int expect_irq)
{
	int irq = 99;
	uint8_t v = pic_ack(p, &irq);
	cr_assert_eq(irq, expect_irq);
	return v;
}

/* ---- initialization and delivery --------------------------------------------------------- */

Test(pic, linux_init_then_irq4_delivers_0x24_and_blocks_until_eoi)
{
	linux_init(0x01);
	cr_assert_eq(inb(M_DATA), 0x00); /* ICW1 clears IMR */
	cr_assert_eq(inb(S_DATA), 0x00);
	cr_assert_not(pic_intr(p));

	pic_set_irq(p, 4, 1);
	cr_assert(pic_intr(p));
	cr_assert_eq(ack(4), 0x24); /* ICW2 0x20 + line 4 */
	cr_assert_eq(read_isr(M_CMD), 0x10); /* bit 4 in service */
	cr_assert_eq(read_irr(M_CMD), 0x00); /* edge request consumed by INTA */
	pic_set_irq(p, 4, 0);
	pulse(4); /* a new edge while 4 is in service: latched, but not higher priority */
	cr_assert_not(pic_intr(p));
	outb(M_CMD, 0x20); /* non-specific EOI */
	cr_assert_eq(read_isr(M_CMD), 0x00);
	cr_assert(pic_intr(p)); /* the second edge is delivered now */
	cr_assert_eq(ack(4), 0x24);
	cr_assert_eq(p->acks, 2);
	cr_assert_eq(p->eois, 1);
}

Test(pic, masked_line_is_held_and_delivered_after_unmask)
{
	linux_init(0x01);
	outb(M_DATA, 0x10); /* OCW1: mask IRQ 4 */
	pulse(4);
	cr_assert_not(pic_intr(p));
	cr_assert_eq(read_irr(M_CMD), 0x10); /* the request waits in IRR */
	outb(M_DATA, 0x00);
	cr_assert(pic_intr(p));
	cr_assert_eq(ack(4), 0x24);
}

Test(pic, irq1_is_delivered_before_irq4)
{
	linux_init(0x01);
	pulse(4);
	pulse(1);
	cr_assert_eq(ack(1), 0x21); /* fixed priority: IR1 outranks IR4 */
	outb(M_CMD, 0x20);
	cr_assert_eq(ack(4), 0x24);
}

Test(pic, irq4_waits_while_irq1_in_service_but_irq0_preempts)
{
	linux_init(0x01);
	pulse(1);
	cr_assert_eq(ack(1), 0x21);
	pulse(4);
	cr_assert_not(pic_intr(p)); /* 4 is below 1, which is in service */
	pulse(0);
	cr_assert(pic_intr(p)); /* 0 is above 1: nested interrupt */
	cr_assert_eq(ack(0), 0x20);
	cr_assert_eq(read_isr(M_CMD), 0x03);
	outb(M_CMD, 0x20); /* ends IRQ 0, the highest in service */
	cr_assert_eq(read_isr(M_CMD), 0x02);
	cr_assert_not(pic_intr(p));
	outb(M_CMD, 0x20); /* ends IRQ 1 */
	cr_assert_eq(ack(4), 0x24);
}

Test(pic, irq14_goes_through_master_ir2_as_0x2e_and_needs_both_eois)
{
	linux_init(0x01);
	pic_set_irq(p, 14, 1);
	cr_assert_eq(read_irr(M_CMD), 0x04); /* the slave's INT is the master's IR2 */
	cr_assert(pic_intr(p));
	cr_assert_eq(ack(14), 0x2E); /* slave ICW2 0x28 + line 6 */
	cr_assert_eq(read_isr(M_CMD), 0x04);
	cr_assert_eq(read_isr(S_CMD), 0x40);
	pic_set_irq(p, 14, 0);

	pulse(15); /* waits behind 14 on the slave and behind IR2 on the master */
	outb(S_CMD, 0x20);
	cr_assert_eq(read_isr(S_CMD), 0x00);
	cr_assert_not(pic_intr(p)); /* master IR2 still in service */
	outb(M_CMD, 0x20);
	cr_assert_eq(read_isr(M_CMD), 0x00);
	cr_assert(pic_intr(p));
	cr_assert_eq(ack(15), 0x2F);
}

Test(pic, slave_request_waits_behind_higher_master_line)
{
	linux_init(0x01);
	pulse(1);
	cr_assert_eq(ack(1), 0x21);
	pulse(8); /* slave line, arrives on master IR2, below IR1 */
	cr_assert_not(pic_intr(p));
	outb(M_CMD, 0x20);
	cr_assert_eq(ack(8), 0x28);
}

/* ---- edge and level ------------------------------------------------------------------------ */

Test(pic, edge_line_held_high_delivers_once)
{
	linux_init(0x01);
	pic_set_irq(p, 4, 1);
	cr_assert_eq(ack(4), 0x24);
	pic_set_irq(p, 4, 1); /* still high, no new edge */
	outb(M_CMD, 0x20);
	cr_assert_not(pic_intr(p));
	cr_assert_eq(read_irr(M_CMD), 0x00);
}

Test(pic, level_line_delivers_again_after_eoi_while_high)
{
	linux_init(0x01);
	outb(ELCR0, 0x20); /* IRQ 5 level (virtio-blk's line) */
	cr_assert_eq(inb(ELCR0), 0x20);
	pic_set_irq(p, 5, 1);
	cr_assert_eq(ack(5), 0x25);
	cr_assert_eq(read_irr(M_CMD), 0x20); /* a level request stays in IRR while high */
	cr_assert_not(pic_intr(p)); /* but is blocked by its own ISR bit */
	outb(M_CMD, 0x20);
	cr_assert(pic_intr(p));
	cr_assert_eq(ack(5), 0x25);
	pic_set_irq(p, 5, 0);
	outb(M_CMD, 0x20);
	cr_assert_not(pic_intr(p));
}

Test(pic, level_line_lowered_before_ack_gives_spurious_0x27)
{
	linux_init(0x01);
	outb(ELCR0, 0x20);
	pic_set_irq(p, 5, 1);
	cr_assert(pic_intr(p));
	pic_set_irq(p, 5, 0); /* the device was quieted before the CPU acknowledged */
	cr_assert_not(pic_intr(p));
	cr_assert_eq(ack(-1), 0x27); /* master ICW2 0x20 + 7 */
	cr_assert_eq(read_isr(M_CMD), 0x00); /* spurious: no ISR bit */
	cr_assert_eq(p->spurious, 1);
	cr_assert_eq(p->acks, 0);
}

Test(pic, ltim_makes_every_line_level)
{
	outb(M_CMD, 0x19); /* ICW1 with LTIM */
	outb(M_DATA, 0x20);
	outb(M_DATA, 0x04);
	outb(M_DATA, 0x01);
	pic_set_irq(p, 3, 1);
	pic_set_irq(p, 3, 0);
	cr_assert_not(pic_intr(p)); /* level: the request left with the line */
}

Test(pic, elcr_bits_for_irq_0_1_2_8_13_stay_edge)
{
	outb(ELCR0, 0xFF);
	outb(ELCR1, 0xFF);
	cr_assert_eq(inb(ELCR0), 0xF8); /* IRQ 0, 1, 2 cleared */
	cr_assert_eq(inb(ELCR1), 0xDE); /* IRQ 8 (bit 0), 13 (bit 5) cleared */
}

/* ---- OCW2, OCW3, ICW4 ------------------------------------------------------------------------ */

Test(pic, ocw3_selects_irr_or_isr_for_command_reads)
{
	linux_init(0x01);
	pulse(3);
	pulse(6);
	cr_assert_eq(ack(3), 0x23);
	cr_assert_eq(read_irr(M_CMD), 0x40); /* 6 still requesting */
	cr_assert_eq(read_isr(M_CMD), 0x08); /* 3 in service */
	cr_assert_eq(inb(M_CMD), 0x08);      /* the choice sticks */
	cr_assert_eq(inb(M_DATA), 0x00);     /* the data port always reads IMR */
}

Test(pic, auto_eoi_never_sets_isr)
{
	linux_init(0x03); /* ICW4 AEOI | 8086 */
	pulse(4);
	pulse(6);
	cr_assert_eq(ack(4), 0x24);
	cr_assert_eq(read_isr(M_CMD), 0x00);
	cr_assert(pic_intr(p)); /* nothing in service, so 6 goes at once */
	cr_assert_eq(ack(6), 0x26);
}

Test(pic, specific_eoi_ends_only_the_named_line)
{
	linux_init(0x01);
	pulse(4);
	cr_assert_eq(ack(4), 0x24);
	pulse(1);
	cr_assert_eq(ack(1), 0x21);
	outb(M_CMD, 0x64); /* specific EOI for 4 */
	cr_assert_eq(read_isr(M_CMD), 0x02);
	outb(M_CMD, 0x67); /* specific EOI for 7, not in service: no change */
	cr_assert_eq(read_isr(M_CMD), 0x02);
}

Test(pic, eoi_with_nothing_in_service_changes_nothing)
{
	linux_init(0x01);
	outb(M_DATA, 0x10);
	pulse(4);
	outb(M_CMD, 0x20);
	outb(S_CMD, 0x20);
	cr_assert_eq(read_isr(M_CMD), 0x00);
	cr_assert_eq(read_irr(M_CMD), 0x10);
	cr_assert_eq(inb(M_DATA), 0x10);
	cr_assert_eq(p->eois, 2);
}

Test(pic, rotate_on_eoi_makes_the_ended_line_lowest)
{
	linux_init(0x01);
	pulse(1);
	cr_assert_eq(ack(1), 0x21);
	outb(M_CMD, 0xA0); /* rotate on non-specific EOI: IR1 lowest, IR2 highest */
	pulse(1);
	pulse(4);
	cr_assert_eq(ack(4), 0x24); /* priority order now 2,3,4,...,7,0,1 */
}

Test(pic, set_priority_makes_named_line_lowest)
{
	linux_init(0x01);
	outb(M_CMD, 0xC4); /* IR4 lowest: order 5,6,7,0,1,2,3,4 */
	pulse(4);
	pulse(6);
	pulse(0);
	cr_assert_eq(ack(6), 0x26);
}

Test(pic, poll_read_returns_line_and_puts_it_in_service)
{
	linux_init(0x01);
	pulse(5);
	outb(M_CMD, 0x0C); /* OCW3 with P */
	cr_assert_eq(inb(M_CMD), 0x85); /* 0x80 "found" | line 5 */
	cr_assert_eq(read_isr(M_CMD), 0x20);
	outb(M_CMD, 0x0C);
	cr_assert_eq(inb(M_CMD), 0x00); /* nothing pending above 5 */
}

Test(pic, special_mask_mode_lets_lower_lines_past_a_masked_in_service_line)
{
	linux_init(0x01);
	pulse(1);
	cr_assert_eq(ack(1), 0x21);
	pulse(4);
	cr_assert_not(pic_intr(p));
	outb(M_DATA, 0x02);  /* mask IRQ 1, which is in service */
	outb(M_CMD, 0x68);   /* OCW3: ESMM | SMM */
	cr_assert(pic_intr(p));
	cr_assert_eq(ack(4), 0x24);
	outb(M_CMD, 0x48);   /* ESMM without SMM: back to normal nesting */
	cr_assert_eq(read_isr(M_CMD), 0x12);
}

Test(pic, icw1_in_the_middle_restarts_initialization)
{
	outb(M_CMD, 0x11);
	outb(M_DATA, 0x40); /* ICW2 */
	outb(M_CMD, 0x11);  /* again, before ICW3 */
	outb(M_DATA, 0x20);
	outb(M_DATA, 0x04);
	outb(M_DATA, 0x01);
	outb(M_DATA, 0xEF); /* now OCW1 */
	cr_assert_eq(inb(M_DATA), 0xEF);
	outb(M_DATA, 0x00);
	pulse(3);
	cr_assert_eq(ack(3), 0x23);
}

Test(pic, single_mode_without_icw4_needs_only_icw2)
{
	outb(M_CMD, 0x12); /* SNGL, no IC4 */
	outb(M_DATA, 0x50);
	outb(M_DATA, 0xFB); /* no ICW3/ICW4 expected: this is OCW1 */
	cr_assert_eq(inb(M_DATA), 0xFB);
}

Test(pic, irq2_and_numbers_above_15_are_ignored)
{
	linux_init(0x01);
	pic_set_irq(p, 2, 1);
	pic_set_irq(p, 16, 1);
	pic_set_irq(p, 0xFFFFFFFFu, 1);
	cr_assert_not(pic_intr(p));
	cr_assert_eq(read_irr(M_CMD), 0x00);
	cr_assert_eq(read_irr(S_CMD), 0x00);
}

/* ---- power-on and reset ---------------------------------------------------------------------- */

Test(pic, power_on_masks_every_line)
{
	/* A never-programmed PIC must not deliver vectors 0-15 (CPU exceptions). */
	cr_assert_eq(inb(M_DATA), 0xFF);
	cr_assert_eq(inb(S_DATA), 0xFF);
	for (unsigned irq = 0; irq < 16; irq++)
		pic_set_irq(p, irq, 1);
	cr_assert_not(pic_intr(p));
	cr_assert_eq(ack(-1), 0x07); /* vector base 0 + 7 */
	cr_assert_eq(inb(ELCR0), 0x00);
}

Test(pic, reset_op_restores_power_on_state)
{
	linux_init(0x03);
	outb(ELCR0, 0x20);
	pulse(4);
	cr_assert_eq(pic_master_ops.reset != NULL, true);
	pic_master_ops.reset(p);
	cr_assert_eq(inb(M_DATA), 0xFF);
	cr_assert_eq(inb(S_DATA), 0xFF);
	cr_assert_eq(inb(ELCR0), 0x00);
	cr_assert_eq(inb(M_CMD), 0x00); /* IRR */
	cr_assert_not(pic_intr(p));
	cr_assert_eq(ack(-1), 0x07);
	/* and the Linux sequence works again: no AEOI left over */
	linux_init(0x01);
	pulse(4);
	cr_assert_eq(ack(4), 0x24);
	cr_assert_eq(read_isr(M_CMD), 0x10);
}

/* ---- the intr_changed callback --------------------------------------------------------------- */

static int cb_calls;
static bool cb_intr_seen;

/*
 * Called by the PIC when INTR may have risen. trylock proves the PIC's lock is free; calling
 * pic_intr() would deadlock (caught by .timeout) if it were not.
 */
static void on_intr(void *ctx)
{
	cr_assert_eq(ctx, &cb_calls);
	cr_assert_eq(pthread_mutex_trylock(&p->lock), 0);
	pthread_mutex_unlock(&p->lock);
	cb_intr_seen = pic_intr(p);
	cb_calls++;
}

Test(pic, intr_changed_called_on_raise_unmask_and_uncovering_eoi, .timeout = 10)
{
	linux_init(0x01);
	pic_connect_intr(p, on_intr, &cb_calls);

	pulse(4); /* raise: INTR 0 -> 1 */
	cr_assert_eq(cb_calls, 1);
	cr_assert(cb_intr_seen);
	ack(4);

	outb(M_DATA, 0x08);
	pulse(3); /* masked: INTR stays 0 */
	cr_assert_eq(cb_calls, 1);
	outb(M_DATA, 0x00); /* unmask: 3 outranks 4 in service, INTR 0 -> 1 */
	cr_assert_eq(cb_calls, 2);
	ack(3);

	pulse(6); /* below 3 and 4: INTR stays 0 */
	cr_assert_eq(cb_calls, 2);
	outb(M_CMD, 0x20); /* ends 3; 4 still blocks 6 */
	cr_assert_eq(cb_calls, 2);
	outb(M_CMD, 0x20); /* ends 4; 6 uncovered: INTR 0 -> 1 */
	cr_assert_eq(cb_calls, 3);
	cr_assert(cb_intr_seen);
}

Test(pic, intr_changed_called_when_elcr_makes_a_high_line_level, .timeout = 10)
{
	linux_init(0x01);
	pic_set_irq(p, 5, 1);
	ack(5);
	outb(M_CMD, 0x20); /* edge consumed; line still high */
	cr_assert_not(pic_intr(p));
	pic_connect_intr(p, on_intr, &cb_calls);
	outb(ELCR0, 0x20); /* level now: the high line requests */
	cr_assert_eq(cb_calls, 1);
	cr_assert(cb_intr_seen);
}

/* ---- hostile guest --------------------------------------------------------------------------- */

Test(pic, wide_access_reads_ff_and_writes_nothing)
{
	linux_init(0x01);
	uint8_t buf[4] = { 0, 0, 0, 0 };
	const uint8_t zero[4] = { 0, 0, 0, 0 };
	outb(M_DATA, 0x5A);
	pic_master_ops.read(p, 1, buf, 2);
	cr_assert_eq(buf[0], 0xFF);
	cr_assert_eq(buf[1], 0xFF);
	pic_master_ops.write(p, 1, zero, 4);
	pic_elcr_ops.write(p, 0, (const uint8_t[]){ 0xFF, 0xFF }, 2);
	pic_slave_ops.read(p, 0, buf, 4);
	cr_assert_eq(memcmp(buf, "\xFF\xFF\xFF\xFF", 4), 0);
	cr_assert_eq(inb(M_DATA), 0x5A);
	cr_assert_eq(inb(ELCR0), 0x00);
	cr_assert_eq(p->bad_access, 4);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void) /* xorshift64: reproducible */
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

static void assert_chip_sane(const struct pic_chip *c)
{
	cr_assert_eq(c->vector_base & 7u, 0);
	cr_assert_lt(c->priority_base, 8);
	cr_assert(c->icw_step == 0 || (c->icw_step >= 2 && c->icw_step <= 4));
	cr_assert_eq(c->elcr & ~c->elcr_mask, 0);
}

Test(pic, hostile_100000_random_accesses_keep_state_defined, .timeout = 30)
{
	static const unsigned ports[6] = { M_CMD, M_DATA, S_CMD, S_DATA, ELCR0, ELCR1 };
	static const uint32_t widths[3] = { 1, 2, 4 };
	pic_connect_intr(p, on_intr, &cb_calls);

	for (int i = 0; i < 100000; i++) {
		uint32_t r = rng();
		unsigned port = ports[r % 6];
		uint32_t size = widths[(r >> 3) % 3];
		uint8_t data[4] = { (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24), 0 };
		bool write = (r >> 5) & 1;
		switch ((r >> 6) & 3) {
		case 0: /* through the bus (which refuses accesses that run past a device) */
			bus_dispatch(&bus, BUS_PIO, port, data, size, write);
			break;
		case 1: { /* straight to the ops, any width */
			const struct device_ops *ops = port >= HV_PORT_ELCR ? &pic_elcr_ops
				: port >= HV_PORT_PIC_SLAVE ? &pic_slave_ops : &pic_master_ops;
			if (write)
				ops->write(p, port & 1u, data, size);
			else
				ops->read(p, port & 1u, data, size);
			break;
		}
		case 2: /* a device wire */
			pic_set_irq(p, (r >> 8) % 18, (r >> 16) & 1);
			break;
		default: { /* the vCPU: INTA when INTR says so, or out of turn */
			int irq;
			bool intr = pic_intr(p);
			uint8_t v = pic_ack(p, &irq);
			cr_assert(irq >= -1 && irq < 16);
			if (intr)
				cr_assert_neq(irq, -1); /* single thread: nothing can withdraw it */
			if (irq >= 0) {
				const struct pic_chip *c = &p->chip[irq >= 8];
				cr_assert_eq(v, (uint8_t)(c->vector_base + (irq & 7)));
			}
			break;
		}
		}
		assert_chip_sane(&p->chip[0]);
		assert_chip_sane(&p->chip[1]);
	}
	pic_connect_intr(p, NULL, NULL);
	/* the storm leaves a chip an OS can still initialize and use */
	outb(ELCR0, 0);
	outb(ELCR1, 0);
	for (unsigned irq = 0; irq < 16; irq++)
		pic_set_irq(p, irq, 0);
	linux_init(0x01);
	outb(M_CMD, 0x48); /* special mask mode off (ICW1 already clears it) */
	pulse(4);
	cr_assert_eq(ack(4), 0x24);
}
