/*
 * test_lab4.c - lab 4's hidden tests (suite hidden4): the 16550A model (hv/dev/uart.c) with
 * values a student cannot hard-code: random scratch bytes, divisors, line settings, FIFO
 * trigger levels, byte counts and strings. The seed comes from getpid() ^ time and is printed
 * in every failure message: HVLAB_SEED=<seed> reruns a failure.
 *
 * The first two drive the UART through the bus as test_uart.c does (tests/unit); the third
 * runs a guest through hv and counts the exits per byte of output, for an output whose length
 * depends on a random disk size.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../../tests/integration/harness.h"
#include "bus.h"
#include "console.h"
#include "dev/uart.h"
#include "layout.h"
#include "trace_read.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

static unsigned seed;
static uint64_t rng;

static void seed_init(void)
{
	const char *s = getenv("HVLAB_SEED");
	seed = s ? (unsigned)strtoul(s, NULL, 0) : (unsigned)getpid() ^ (unsigned)time(NULL);
	rng = seed * 0x9E3779B97F4A7C15ull + 1;
}

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t rnd_in(uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(((uint64_t)rnd() * ((uint64_t)hi - lo + 1)) >> 32);
}

static struct bus bus;
static struct console con;
static uint8_t out[4096];
static struct uart *u;
static int irq_level = -1, irq_calls;

static void record_irq(void *ctx, int level)
{
	(void)ctx;
	irq_level = level;
	irq_calls++;
}

static void uart_setup(void)
{
	seed_init();
	bus_init(&bus);
	console_init_capture(&con, out, sizeof(out));
	u = uart_create(&con);
	cr_assert_not_null(u);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_UART0, UART_LEN, &uart_ops, u), 0);
	irq_level = -1;
	irq_calls = 0;
}

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

/*
 * Linux's 8250 driver finds a UART the way autoconfig() (drivers/tty/serial/8250/8250_port.c)
 * does it, in this order: IER test (write 0, read 0; write 0x0F, read 0x0F), loopback test
 * (MCR = LOOP | OUT2 | RTS = 0x1A, MSR & 0xF0 == DCD | CTS = 0x90), FIFO test (FCR = 0x01,
 * IIR >> 6 == 3: a 16550A), the scratch test of chips without FIFOs (0xA5, 0x5A), then it
 * programs the line with the divisor and sends. Here with random values everywhere a register
 * only has to keep what it was given: the scratch register, the divisor latch, LCR, IER.
 * After power-on reset LSR must read 0x60 (transmitter empty, nothing received).
 */
Test(hidden4, linux_8250_probe_with_random_values)
{
	uart_setup();
	cr_assert_eq(inb(LSR), 0x60, "seed %u: LSR after reset", seed);
	cr_assert_eq(inb(IIR), 0x01, "seed %u: IIR after reset", seed);

	uint8_t scratch = inb(IER);
	outb(IER, 0);
	cr_assert_eq(inb(IER) & 0x0F, 0, "seed %u: IER test, 0", seed);
	outb(IER, 0x0F);
	cr_assert_eq(inb(IER) & 0x0F, 0x0F, "seed %u: IER test, 0x0F", seed);
	outb(IER, scratch);

	outb(MCR, 0x1A);
	cr_assert_eq(inb(MSR) & 0xF0, 0x90, "seed %u: loopback test", seed);
	outb(MCR, 0x00);

	outb(LCR, 0x00);
	outb(FCR, 0x01);
	cr_assert_eq(inb(IIR) >> 6, 3, "seed %u: FIFO test: not a 16550A", seed);

	outb(SCR, 0xA5);
	cr_assert_eq(inb(SCR), 0xA5, "seed %u: scratch test", seed);
	outb(SCR, 0x5A);
	cr_assert_eq(inb(SCR), 0x5A, "seed %u: scratch test", seed);
	for (int i = 0; i < 64; i++) {
		uint8_t v = (uint8_t)rnd();
		outb(SCR, v);
		cr_assert_eq(inb(SCR), v, "seed %u: SCR kept 0x%02x?", seed, v);
	}

	/* The line: a random divisor through the latch, a random frame format, a random IER. */
	for (int i = 0; i < 32; i++) {
		uint16_t div = (uint16_t)rnd_in(1, 0xFFFF);
		uint8_t lcr = (uint8_t)(rnd() & 0x7F);
		uint8_t ier = (uint8_t)rnd();
		outb(IER, ier);
		outb(LCR, 0x80 | lcr);
		outb(DLL, (uint8_t)div);
		outb(DLM, (uint8_t)(div >> 8));
		cr_assert_eq(inb(LCR), 0x80 | lcr, "seed %u: LCR", seed);
		cr_assert_eq(inb(DLL), (uint8_t)div, "seed %u: DLL of divisor %u", seed, div);
		cr_assert_eq(inb(DLM), div >> 8, "seed %u: DLM of divisor %u", seed, div);
		cr_assert_eq(uart_baud(u), 115200u / div, "seed %u: divisor %u", seed, div);
		outb(LCR, lcr);
		cr_assert_eq(inb(IER), ier & 0x0F, "seed %u: IER 0x%02x after the divisor", seed, ier);
	}
	outb(IER, 0);

	/* Loopback echo of a random string (FIFOs on): back in order, nothing on the wire. */
	outb(FCR, 0x07);
	outb(MCR, 0x10);
	uint8_t msg[16];
	unsigned n = rnd_in(1, 16);
	for (unsigned i = 0; i < n; i++) {
		msg[i] = (uint8_t)rnd();
		outb(THR, msg[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(inb(LSR) & 0x61, 0x61, "seed %u: DR with %u of %u bytes left", seed, n - i, n);
		cr_assert_eq(inb(RBR), msg[i], "seed %u: loopback byte %u of %u", seed, i, n);
	}
	cr_assert_eq(inb(LSR), 0x60, "seed %u: LSR once the %u bytes are read", seed, n);
	console_flush(&con);
	cr_assert_eq(con.cap_len, 0, "seed %u: loopback bytes reached the console", seed);

	/* Out of loopback: a random string goes to the console byte for byte. */
	outb(MCR, 0x03);
	n = rnd_in(1, 200);
	uint8_t text[200];
	for (unsigned i = 0; i < n; i++) {
		text[i] = (uint8_t)rnd();
		cr_assert_eq(inb(LSR) & 0x20, 0x20, "seed %u: THRE before byte %u", seed, i);
		outb(THR, text[i]);
	}
	console_flush(&con);
	cr_assert_eq(con.cap_len, n, "seed %u: %u bytes sent", seed, n);
	cr_assert_arr_eq(out, text, n, "seed %u: the console got other bytes", seed);

	uart_ops.reset(u);
	cr_assert_eq(inb(LSR), 0x60, "seed %u: LSR after reset", seed);
	cr_assert_eq(inb(SCR), 0x00, "seed %u: SCR after reset", seed);
	uart_destroy(u);
}

/*
 * Interrupt identification with random trigger levels and byte counts: k bytes received with
 * trigger level t report "received data" (0x04) when k >= t, else "character timeout" (0x0C);
 * THR empty (0x02) waits behind them and shows once they are read; an overrun (line status,
 * 0x06) comes first of all. The line follows: high while anything enabled is pending.
 */
Test(hidden4, interrupt_ids_with_random_trigger_levels_and_counts)
{
	uart_setup();
	uart_connect_irq(u, record_irq, NULL);
	static const unsigned levels[4] = { 1, 4, 8, 14 };
	for (int round = 0; round < 50; round++) {
		unsigned sel = rnd_in(0, 3), k = rnd_in(1, 16);
		unsigned t = levels[sel];
		outb(FCR, (uint8_t)(sel << 6 | 0x07));
		outb(IER, 0x00);
		cr_assert_eq(inb(IIR), 0xC1, "seed %u round %d: IIR with nothing enabled", seed, round);
		uint8_t b[16];
		for (unsigned i = 0; i < k; i++)
			b[i] = (uint8_t)rnd();
		cr_assert_eq(uart_receive(u, b, k), k, "seed %u", seed);
		outb(IER, 0x03); /* received data and THR empty; ETBEI 0 -> 1 arms THRE */
		uint8_t want = k >= t ? 0xC4 : 0xCC;
		cr_assert_eq(inb(IIR), want, "seed %u round %d: %u bytes at trigger %u", seed, round, k, t);
		cr_assert_eq(irq_level, 1, "seed %u round %d: line low with data pending", seed, round);
		for (unsigned i = 0; i < k; i++)
			cr_assert_eq(inb(RBR), b[i], "seed %u round %d: byte %u", seed, round, i);
		cr_assert_eq(inb(IIR), 0xC2, "seed %u round %d: THR empty after the data", seed, round);
		cr_assert_eq(inb(IIR), 0xC1, "seed %u round %d: THRE acknowledged by the IIR read",
			     seed, round);
		cr_assert_eq(irq_level, 0, "seed %u round %d: line high with nothing pending", seed, round);
	}
	/* Overrun in loopback: 16 + m bytes, line status first, then data. */
	unsigned m = rnd_in(1, 40);
	outb(FCR, 0x07);
	outb(MCR, 0x10);
	outb(IER, 0x05);
	for (unsigned i = 0; i < 16 + m; i++)
		outb(THR, (uint8_t)i);
	cr_assert_eq(u->overruns, m, "seed %u: %u bytes past a full FIFO", seed, m);
	cr_assert_eq(inb(IIR), 0xC6, "seed %u: line status (overrun) first", seed);
	cr_assert_eq(inb(LSR), 0x63, "seed %u: DR | OE | THRE | TEMT", seed);
	cr_assert_eq(inb(IIR), 0xC4, "seed %u: then data (16 >= 14)", seed);
	uart_destroy(u);
}

/* The UART's exits in a trace: all of them, the LSR reads, and the bytes written to THR
 * (DLAB clear) in order. */
struct uart_exits {
	uint64_t all, lsr_reads;
	size_t sent;
	char bytes[4096];
};

static void count_uart_exits(const struct trace_file *tf, struct uart_exits *x)
{
	int dlab = 0;
	memset(x, 0, sizeof(*x));
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *e = &tf->records[i];
		if (e->kind != HVT_EXIT || e->reason != HVT_R_IO || e->addr < HV_PORT_UART0 ||
		    e->addr >= HV_PORT_UART0 + 8)
			continue;
		int write = !!(e->flags & HVT_F_WRITE);
		x->all++;
		if (e->addr == HV_PORT_UART0 + LCR && write)
			dlab = !!(e->data & 0x80);
		if (e->addr == HV_PORT_UART0 + LSR && !write)
			x->lsr_reads++;
		if (e->addr == HV_PORT_UART0 && write && !dlab && x->sent < sizeof(x->bytes))
			x->bytes[x->sent++] = (char)e->data;
	}
}

/*
 * diskio prints a line with its disk's size, so a disk of a random size (128 sectors to
 * 16 Mi sectors, sparse) gives an output of a length nobody can know in advance. The guest's
 * driver (guest/lib/uart.c) costs 7 OUTs to set up and 2 exits per byte, an IN of LSR that
 * says THRE and an OUT to THR: 7 + 2n UART exits for n bytes, the THR bytes are the output,
 * byte for byte. The virtio path is used: its few exits leave the UART's easy to see.
 */
Test(hidden4, uart_exits_per_byte_of_an_output_of_random_length)
{
	require_kvm();
	seed_init();
	uint32_t sectors = rnd_in(128, 1u << 24);
	const char *img = tmp_path("hidden4.img");
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)sectors * 512), 0);
	close(fd);
	const char *t = tmp_path("hidden4.hvt");
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "60", "--quiet", "--disk", img,
				      "--disk-path", "virtio", "--trace", t, guest("diskio.bin"), NULL });
	cr_assert_eq(r.status, 0, "seed %u: status %d, stderr: %s", seed, r.status, r.err);
	char size[32];
	snprintf(size, sizeof size, ", %u sectors,", sectors);
	cr_assert(strstr(r.out, size), "seed %u: the output does not say '%s': %s", seed, size, r.out);
	size_t n = strlen(r.out);
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(t, &tf, err, sizeof err), 0, "%s", err);
	static struct uart_exits x;
	count_uart_exits(&tf, &x);
	trace_free(&tf);
	cr_assert_eq(x.all, 7 + 2 * n, "seed %u: %lu UART exits for %zu bytes of output, want 7 + 2 x %zu",
		     seed, (unsigned long)x.all, n, n);
	cr_assert_eq(x.lsr_reads, n, "seed %u: LSR reads: one per byte, THRE at once", seed);
	cr_assert_eq(x.sent, n, "seed %u: THR writes", seed);
	cr_assert_arr_eq(x.bytes, r.out, n, "seed %u: the THR writes are not the output", seed);
}
