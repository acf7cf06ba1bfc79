/*
 * test_uart.c - unit tests for the 16550A model (hv/dev/uart.c).
 *
 * Each test drives the UART the way a guest does: 1-byte IN/OUT on ports 0x3F8-0x3FF, through
 * the bus, and checks what the datasheet says the chip answers. Expected values are derived
 * in the comments from the register bits (PC16550D datasheet, register descriptions):
 *   LSR: DR = 0x01, OE = 0x02, THRE = 0x20, TEMT = 0x40
 *   IIR: none = 0x01, line status = 0x06, data = 0x04, timeout = 0x0C, THRE = 0x02,
 *        modem = 0x00; FIFOs on add 0xC0
 *   MSR: DCTS 0x01, DDSR 0x02, TERI 0x04, DDCD 0x08, CTS 0x10, DSR 0x20, RI 0x40, DCD 0x80
 * Appendix C rows S1-S6 are tested by the tests named after them.
 * Textbook: chapter 3 "Exits", section "From exit to device".
 */
#include <criterion/criterion.h>
#include <string.h>

#include "bus.h"
#include "console.h"
#include "dev/uart.h"
#include "layout.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

static struct bus bus;
static struct console con;
static uint8_t out[256];
static struct uart *u;

/* The IRQ line as the interrupt controller would see it: every call recorded. */
static int irq_levels[4096];
static int irq_calls;

static void record_irq(void *ctx, int level)
{
	cr_assert_eq(ctx, &irq_calls);
	if (irq_calls < (int)(sizeof(irq_levels) / sizeof(irq_levels[0])))
		irq_levels[irq_calls] = level;
	irq_calls++;
}

static void setup(void)
{
	bus_init(&bus);
	console_init_capture(&con, out, sizeof(out));
	u = uart_create(&con);
	cr_assert_not_null(u);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_UART0, UART_LEN, &uart_ops, u), 0);
	irq_calls = 0;
}

static void teardown(void)
{
	uart_destroy(u);
}

TestSuite(uart, .init = setup, .fini = teardown);

/* A guest's `in al, dx` / `out dx, al` on register `reg` of COM1. */
static uint8_t inb(unsigned reg)
{
	uint8_t v = 0;
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_UART0 + reg, &v, 1, false), BUS_OK);
	return v;
}

static void outb(unsigned reg, uint8_t v)
{
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_UART0 + reg, &v, 1, true), BUS_OK);
}

Test(uart, reset_values_match_datasheet)
{
	cr_assert_eq(inb(IER), 0x00);
	cr_assert_eq(inb(IIR), 0x01); /* bit 0 = 1: no interrupt pending; FIFOs off: bits 7:6 = 0 */
	cr_assert_eq(inb(LCR), 0x00);
	cr_assert_eq(inb(MCR), 0x00);
	cr_assert_eq(inb(LSR), 0x60); /* THRE | TEMT: transmitter empty, nothing received */
	/* MSR: change bits 3:0 = 0; lines 7:4 = hv's always-ready cable: DCD|DSR|CTS = 0xB0. */
	cr_assert_eq(inb(MSR), 0xB0);
	cr_assert_eq(inb(SCR), 0x00);
	outb(LCR, 0x80);
	cr_assert_eq(inb(DLL), 0x00); /* undefined on the chip; hv's choice is 0 */
	cr_assert_eq(inb(DLM), 0x00);
	cr_assert_eq(uart_baud(u), 0);
}

Test(uart, ops_reset_restores_power_on_state)
{
	outb(IER, 0x0F);
	outb(FCR, 0xC1);
	outb(MCR, 0x1F);
	outb(SCR, 0x5A);
	outb(LCR, 0x83);
	outb(DLL, 0x0C);
	outb(LCR, 0x03);
	outb(THR, 'x'); /* loopback: lands in the receiver */
	uart_ops.reset(u);
	cr_assert_eq(inb(IER), 0x00);
	cr_assert_eq(inb(IIR), 0x01);
	cr_assert_eq(inb(LCR), 0x00);
	cr_assert_eq(inb(MCR), 0x00);
	cr_assert_eq(inb(LSR), 0x60); /* the received 'x' is gone */
	cr_assert_eq(inb(MSR), 0xB0);
	cr_assert_eq(inb(SCR), 0x00);
	cr_assert_eq(uart_baud(u), 0);
}

Test(uart, scratch_register_round_trip)
{
	/* Linux's 8250 probe for chips without FIFOs writes 0xA5 and 0x5A to SCR and reads back. */
	const uint8_t v[] = { 0xA5, 0x5A, 0x00, 0xFF };
	for (size_t i = 0; i < sizeof(v); i++) {
		outb(SCR, v[i]);
		cr_assert_eq(inb(SCR), v[i]);
	}
}

Test(uart, dlab_switches_offsets_0_1_to_divisor_and_back)
{
	outb(IER, 0x05);
	outb(LCR, 0x83);   /* DLAB = 1, 8 data bits */
	outb(DLL, 0x0C);   /* divisor 12: 115200 / 12 = 9600 baud */
	outb(DLM, 0x00);
	cr_assert_eq(inb(DLL), 0x0C);
	cr_assert_eq(inb(DLM), 0x00);
	cr_assert_eq(uart_baud(u), 9600);
	outb(LCR, 0x03);   /* DLAB = 0 */
	cr_assert_eq(inb(IER), 0x05); /* IER was not touched by the DLM write */
	/* The DLL write went to the latch, not to the wire. */
	console_flush(&con);
	cr_assert_eq(con.cap_len, 0);
	cr_assert_eq(u->tx_bytes, 0);
	/* And with DLAB = 1 again the latch still holds 12. */
	outb(LCR, 0x83);
	cr_assert_eq(inb(DLL), 0x0C);
}

Test(uart, S1_divisor_zero_never_divides)
{
	outb(LCR, 0x80);
	outb(DLL, 0x00);
	outb(DLM, 0x00);
	cr_assert_eq(uart_baud(u), 0); /* 115200 / 0 is not computed: 0 means "not programmed" */
	outb(DLL, 0x01);
	cr_assert_eq(uart_baud(u), 115200);
	outb(DLL, 0xFF);
	outb(DLM, 0xFF);
	cr_assert_eq(uart_baud(u), 1); /* 115200 / 65535 = 1 */
	outb(DLL, 0x00);
	outb(DLM, 0x00);
	outb(LCR, 0x03);
	/* Transmission does not depend on the divisor: there is no wire to pace. */
	outb(THR, 'k');
	console_flush(&con);
	cr_assert_eq(con.cap_len, 1);
	cr_assert_eq(out[0], 'k');
}

Test(uart, transmit_goes_to_console_byte_exact)
{
	const uint8_t msg[] = { 'H', 'i', '\n', 0x00, 0xFF, 0x1B };
	for (size_t i = 0; i < sizeof(msg); i++)
		outb(THR, msg[i]);
	console_flush(&con);
	cr_assert_eq(con.cap_len, sizeof(msg));
	cr_assert_arr_eq(out, msg, sizeof(msg));
	cr_assert_eq(u->tx_bytes, sizeof(msg));
}

Test(uart, lsr_thre_temt_always_set_transmitter_never_busy)
{
	cr_assert_eq(inb(LSR), 0x60);
	outb(THR, 'a');
	cr_assert_eq(inb(LSR), 0x60); /* no DR: the byte left, it did not come in */
}

Test(uart, iir_fifo_bits_follow_fcr_enable)
{
	outb(FCR, 0x01);
	cr_assert_eq(inb(IIR), 0xC1); /* FIFOs on (bits 7:6 = 11), nothing pending (bit 0) */
	outb(FCR, 0xC7);              /* enable, clear both, trigger 14 */
	cr_assert_eq(inb(IIR), 0xC1);
	outb(FCR, 0x00);
	cr_assert_eq(inb(IIR), 0x01);
	outb(FCR, 0x06);              /* clear bits without enable: ignored, FIFOs stay off */
	cr_assert_eq(inb(IIR), 0x01);
	/*
	 * Linux's 16750 probe writes FCR = 0x21 (enable + 64-byte FIFO) and checks IIR >> 5 == 7.
	 * A 16550A has no bit 5: IIR = 0xC1, 0xC1 >> 5 = 6, so Linux keeps calling it a 16550A.
	 */
	outb(FCR, 0x21);
	cr_assert_eq(inb(IIR) >> 5, 6);
}

Test(uart, ier_keeps_only_low_four_bits)
{
	outb(IER, 0xFF);
	cr_assert_eq(inb(IER), 0x0F); /* bits 7:4 are 0 on a 16550A (Linux's XScale probe: bit 6) */
	outb(IER, 0x00);
	cr_assert_eq(inb(IER), 0x00);
}

Test(uart, thre_interrupt_raised_by_ier_cleared_by_iir_read_rearmed_by_thr)
{
	outb(IER, 0x02);              /* ETBEI with THR empty: THRE interrupt at once */
	cr_assert_eq(inb(IIR), 0x02);
	cr_assert_eq(inb(IIR), 0x01); /* the previous read was the acknowledgement */
	outb(THR, 'a');               /* THR empties again: re-armed */
	cr_assert_eq(inb(IIR), 0x02);
	outb(FCR, 0x01);
	outb(THR, 'b');
	cr_assert_eq(inb(IIR), 0xC2);
	cr_assert_eq(inb(IIR), 0xC1);
}

Test(uart, iir_reports_pending_interrupts_in_datasheet_priority)
{
	outb(FCR, 0x01);       /* FIFOs on, trigger level 1 */
	outb(MCR, 0x10);       /* loopback: lines go 0xB0 -> 0x00, so DCTS|DDSR|DDCD = 0x0B latch */
	for (int i = 0; i < 17; i++)
		outb(THR, (uint8_t)i); /* 16 fill the FIFO, the 17th overruns: OE */
	outb(IER, 0x0F);       /* everything enabled at once; THRE pending from the THR writes */

	cr_assert_eq(inb(IIR), 0xC6); /* 1: line status (OE) */
	cr_assert_eq(inb(LSR), 0x63); /* DR | OE | THRE | TEMT; this read clears OE */
	cr_assert_eq(inb(IIR), 0xC4); /* 2: received data (16 >= trigger 1) */
	for (int i = 0; i < 16; i++)
		cr_assert_eq(inb(RBR), i);
	cr_assert_eq(inb(IIR), 0xC2); /* 3: THR empty; this read acknowledges it */
	cr_assert_eq(inb(IIR), 0xC0); /* 4: modem status */
	cr_assert_eq(inb(MSR), 0x0B); /* loopback lines all off (MCR = 0x10), deltas 0x0B */
	cr_assert_eq(inb(IIR), 0xC1); /* nothing left */
}

Test(uart, rx_below_trigger_reports_timeout_at_trigger_reports_data)
{
	outb(FCR, 0xC1);       /* trigger level 14 */
	outb(IER, 0x01);
	uint8_t b[14] = { 0 };
	cr_assert_eq(uart_receive(u, b, 1), 1);
	cr_assert_eq(inb(IIR), 0xCC); /* 1 < 14: character timeout (hv has no time: at once) */
	cr_assert_eq(uart_receive(u, b, 13), 13);
	cr_assert_eq(inb(IIR), 0xC4); /* 14 >= 14: received data available */
	outb(FCR, 0x43);              /* trigger 4, and clear RX */
	cr_assert_eq(inb(LSR), 0x60);
	cr_assert_eq(inb(IIR), 0xC1);
	cr_assert_eq(uart_receive(u, b, 4), 4);
	cr_assert_eq(inb(IIR), 0xC4);
}

Test(uart, loopback_echo_reaches_rbr_and_sets_dr)
{
	outb(MCR, 0x10);
	outb(THR, 'A');
	cr_assert_eq(inb(LSR), 0x61); /* DR set */
	cr_assert_eq(inb(RBR), 'A');
	cr_assert_eq(inb(LSR), 0x60); /* DR clear once read */
	console_flush(&con);
	cr_assert_eq(con.cap_len, 0); /* in loopback nothing goes out on the wire */
	outb(MCR, 0x00);
	outb(THR, 'B');
	console_flush(&con);
	cr_assert_eq(con.cap_len, 1);
	cr_assert_eq(out[0], 'B');
	cr_assert_eq(inb(LSR), 0x60);
}

Test(uart, loopback_msr_reflects_mcr_as_linux_autoconfig_expects)
{
	/* Linux: MCR = LOOP | OUT2 | RTS = 0x1A, then MSR & 0xF0 must be DCD | CTS = 0x90. */
	outb(MCR, 0x1A);
	cr_assert_eq(inb(MSR) & 0xF0, 0x90);
	outb(MCR, 0x11);                      /* DTR -> DSR */
	cr_assert_eq(inb(MSR) & 0xF0, 0x20);
	outb(MCR, 0x14);                      /* OUT1 -> RI */
	cr_assert_eq(inb(MSR) & 0xF0, 0x40);
	outb(MCR, 0x1F);
	cr_assert_eq(inb(MSR) & 0xF0, 0xF0);
	outb(MCR, 0x00);                      /* out of loopback: the cable again */
	cr_assert_eq(inb(MSR) & 0xF0, 0xB0);
}

Test(uart, msr_delta_bits_latch_changes_and_clear_on_read)
{
	outb(MCR, 0x10);              /* 0xB0 -> 0x00: CTS, DSR, DCD changed */
	cr_assert_eq(inb(MSR), 0x0B); /* DCTS | DDSR | DDCD; RI did not change */
	cr_assert_eq(inb(MSR), 0x00); /* cleared by the read */
	outb(MCR, 0x14);              /* RI comes on: rising edge, no TERI */
	cr_assert_eq(inb(MSR), 0x40);
	outb(MCR, 0x10);              /* RI goes off: trailing edge, TERI = 0x04 */
	cr_assert_eq(inb(MSR), 0x04);
	outb(MSR, 0xFF);              /* read-only: ignored */
	cr_assert_eq(inb(MSR), 0x00);
	cr_assert_eq(u->ro_writes, 1);
}

Test(uart, lsr_writes_ignored)
{
	outb(LSR, 0x00);
	cr_assert_eq(inb(LSR), 0x60);
	outb(LSR, 0x9F);
	cr_assert_eq(inb(LSR), 0x60);
	cr_assert_eq(u->ro_writes, 2);
}

Test(uart, fifo_overrun_sets_oe_and_lsr_read_clears_it)
{
	outb(FCR, 0x01);
	uint8_t b[16];
	for (int i = 0; i < 16; i++)
		b[i] = (uint8_t)('a' + i);
	cr_assert_eq(uart_receive(u, b, 16), 16);
	outb(MCR, 0x10);
	outb(THR, 'Z');               /* 17th byte: FIFO full, lost, OE */
	cr_assert_eq(u->overruns, 1);
	cr_assert_eq(inb(LSR), 0x63); /* DR | OE | THRE | TEMT */
	cr_assert_eq(inb(LSR), 0x61); /* OE cleared by the previous read, DR stays */
	/* FIFO mode keeps the FIFO: the 16 old bytes survive, 'Z' is the one lost. */
	for (int i = 0; i < 16; i++)
		cr_assert_eq(inb(RBR), 'a' + i);
	cr_assert_eq(inb(LSR), 0x60);
}

Test(uart, non_fifo_overrun_overwrites_rbr_like_a_16450)
{
	outb(MCR, 0x10);              /* FIFOs off: the receiver holds one byte */
	outb(THR, '1');
	outb(THR, '2');               /* '1' was not read: overrun, '2' overwrites it */
	cr_assert_eq(inb(LSR), 0x63);
	cr_assert_eq(inb(RBR), '2');
	cr_assert_eq(inb(LSR), 0x60);
}

Test(uart, S3_loopback_flood_bounded)
{
	outb(FCR, 0x01);
	outb(MCR, 0x10);
	const int n = 100000;
	for (int i = 0; i < n; i++)
		outb(THR, (uint8_t)i);
	/* Memory does not grow: 16 bytes held, every other byte counted as an overrun. */
	cr_assert_eq(u->rx_count, UART_FIFO_SIZE);
	cr_assert_eq(u->rx_bytes, UART_FIFO_SIZE);
	cr_assert_eq(u->overruns, (uint64_t)(n - 16));
	cr_assert_eq(inb(LSR), 0x63);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(inb(RBR), i); /* the first 16 bytes, in order */
	cr_assert_eq(inb(LSR), 0x60);
}

Test(uart, S5_host_input_larger_than_fifo)
{
	uint8_t big[100];
	for (int i = 0; i < 100; i++)
		big[i] = (uint8_t)i;
	/* FIFOs off: one byte of room. */
	cr_assert_eq(uart_receive(u, big, 100), 1);
	cr_assert_eq(uart_receive(u, big + 1, 99), 0);  /* full: back-pressure, no overrun */
	cr_assert_eq(inb(RBR), 0);
	outb(FCR, 0x01);
	cr_assert_eq(uart_receive(u, big, 100), 16);
	cr_assert_eq(uart_receive(u, big + 16, 84), 0);
	cr_assert_eq(inb(LSR), 0x61);                   /* DR, and no OE: nothing was lost */
	cr_assert_eq(u->overruns, 0);
	cr_assert_eq(inb(RBR), 0);
	cr_assert_eq(uart_receive(u, big + 16, 84), 1); /* one byte freed, one taken */
	for (int i = 1; i <= 16; i++)
		cr_assert_eq(inb(RBR), i);
	cr_assert_eq(inb(LSR), 0x60);
}

Test(uart, host_input_refused_in_loopback)
{
	outb(MCR, 0x10);
	const uint8_t b[1] = { 'x' };
	cr_assert_eq(uart_receive(u, b, 1), 0); /* loopback disconnects the input pin */
	cr_assert_eq(inb(LSR), 0x60);
}

Test(uart, irq_callback_only_on_level_change)
{
	uart_connect_irq(u, record_irq, &irq_calls);
	outb(IER, 0x02);        /* THRE pending: line rises */
	cr_assert_eq(irq_calls, 1);
	cr_assert_eq(irq_levels[0], 1);
	outb(IER, 0x02);        /* nothing changes: no call */
	outb(SCR, 0x12);
	cr_assert_eq(inb(LSR), 0x60);
	cr_assert_eq(irq_calls, 1);
	cr_assert_eq(inb(IIR), 0x02); /* acknowledged: line falls */
	cr_assert_eq(irq_calls, 2);
	cr_assert_eq(irq_levels[1], 0);
	outb(THR, 'a');         /* re-armed: line rises */
	cr_assert_eq(irq_calls, 3);
	cr_assert_eq(irq_levels[2], 1);
	outb(THR, 'b');         /* still pending: no new call */
	cr_assert_eq(irq_calls, 3);
	outb(IER, 0x00);        /* disabled: line falls */
	cr_assert_eq(irq_calls, 4);
	cr_assert_eq(irq_levels[3], 0);
	uint8_t x = 'r';
	outb(IER, 0x01);        /* received-data enable with nothing received: stays low */
	cr_assert_eq(irq_calls, 4);
	cr_assert_eq(uart_receive(u, &x, 1), 1); /* data arrives: rises */
	cr_assert_eq(irq_calls, 5);
	cr_assert_eq(irq_levels[4], 1);
	cr_assert_eq(inb(RBR), 'r');             /* read: falls */
	cr_assert_eq(irq_calls, 6);
	cr_assert_eq(irq_levels[5], 0);
}

Test(uart, S6_thre_rearm_storm_injects_nothing_while_level_unchanged)
{
	uart_connect_irq(u, record_irq, &irq_calls);
	outb(IER, 0x02);
	/* A guest hammering THR and IER with THRE enabled: the line is already high. */
	for (int i = 0; i < 10000; i++) {
		outb(THR, 'x');
		outb(IER, 0x02);
	}
	cr_assert_eq(irq_calls, 1);
	/* Toggling the enable bit does change the level each time: exactly one call per edge. */
	for (int i = 0; i < 1000; i++) {
		outb(IER, 0x00);
		outb(IER, 0x02);
	}
	cr_assert_eq(irq_calls, 1 + 2000);
	cr_assert_eq(irq_levels[irq_calls - 1], 1);
}

Test(uart, reset_lowers_a_raised_irq_line)
{
	uart_connect_irq(u, record_irq, &irq_calls);
	outb(IER, 0x02);
	cr_assert_eq(irq_calls, 1);
	uart_ops.reset(u);
	cr_assert_eq(irq_calls, 2);
	cr_assert_eq(irq_levels[1], 0);
}

Test(uart, wide_access_reads_all_ones_and_write_ignored)
{
	uint8_t d[4] = { 0 };
	outb(SCR, 0x5A);
	/* 2 bytes at SCR - 1 (MSR + SCR): inside the 8 ports, but the chip has an 8-bit bus. */
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_UART0 + 6, d, 2, false), BUS_OK);
	cr_assert_eq(d[0], 0xFF);
	cr_assert_eq(d[1], 0xFF);
	uint8_t w[4] = { 0x11, 0x22, 0x33, 0x44 };
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_UART0 + 4, w, 4, true), BUS_OK);
	cr_assert_eq(inb(SCR), 0x5A);   /* unchanged */
	cr_assert_eq(inb(MCR), 0x00);
	cr_assert_eq(u->bad_width, 2);
	/* 4 bytes at port 7 would leave the UART: the bus refuses it before the device. */
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_UART0 + 7, d, 4, false), BUS_BAD_SIZE);
	cr_assert_eq(u->bad_width, 2);
}

/*
 * S2: any sequence of reads and writes at offsets 0-7 with DLAB toggling keeps the registers
 * well-defined. A fixed pseudo-random sequence (an LCG, so the test is reproducible) of
 * 200000 accesses; under SAN=1 any out-of-bounds index would abort. Invariants checked on
 * every read: LSR always has THRE|TEMT, IER (DLAB = 0) never shows bits 7:4, MCR never shows
 * bits 7:5, and the receiver never holds more than 16 bytes.
 */
Test(uart, S2_any_access_order_keeps_registers_defined)
{
	uint32_t x = 12345;
	for (int i = 0; i < 200000; i++) {
		x = x * 1103515245u + 12345u;
		unsigned reg = (x >> 16) & 7;
		uint8_t v = (uint8_t)(x >> 8);
		if (x & 0x80000000u) {
			outb(reg, v);
		} else {
			uint8_t lcr = u->lcr;
			uint8_t r = inb(reg);
			if (reg == LSR)
				cr_assert_eq(r & 0x60, 0x60);
			if (reg == IER && !(lcr & 0x80))
				cr_assert_eq(r & 0xF0, 0);
			if (reg == MCR)
				cr_assert_eq(r & 0xE0, 0);
		}
		cr_assert_leq(u->rx_count, UART_FIFO_SIZE);
		(void)uart_baud(u); /* S1 inside: DLL/DLM are often 0 here */
	}
}

/*
 * The probe of Linux's 8250 driver (drivers/tty/serial/8250/8250_port.c, autoconfig()), in
 * the order it runs, with the answers that make it say "16550A":
 *   IER test: write 0, read 0; write 0x0F, read 0x0F.
 *   loopback test: MCR = 0x1A, MSR & 0xF0 == 0x90.
 *   FIFO test: FCR = 0x01, IIR >> 6 == 3.
 */
Test(uart, linux_8250_autoconfig_identifies_16550a)
{
	uint8_t save_ier = inb(IER);
	outb(IER, 0x00);
	cr_assert_eq(inb(IER) & 0x0F, 0x00);
	outb(IER, 0x0F);
	cr_assert_eq(inb(IER) & 0x0F, 0x0F);
	outb(IER, save_ier);

	uint8_t save_mcr = inb(MCR);
	outb(MCR, 0x1A);
	cr_assert_eq(inb(MSR) & 0xF0, 0x90);
	outb(MCR, save_mcr);

	outb(LCR, 0x00);
	outb(FCR, 0x01);
	cr_assert_eq(inb(IIR) >> 6, 3);
	/* Detection finishes by reading LSR; 0xFF would mean "no UART here". */
	cr_assert_neq(inb(LSR), 0xFF);
}
