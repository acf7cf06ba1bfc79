/*
 * test_devices.c - unit tests for the small devices and the console: exit port, debug
 * console, test device, the ACPI PM1 registers, and the bounded host output path.
 *
 * Every access goes through the bus at the port or address layout.h assigns, as a guest's
 * would. Textbook: chapter 3 "Exits", section "From exit to device"; appendix C rows S4, T1.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "bus.h"
#include "console.h"
#include "dev/acpipm.h"
#include "dev/debugcon.h"
#include "dev/exitdev.h"
#include "dev/testdev.h"
#include "layout.h"

static struct bus bus;

static void setup(void)
{
	bus_init(&bus);
}

TestSuite(exitdev, .init = setup);
TestSuite(debugcon, .init = setup);
TestSuite(testdev, .init = setup);
TestSuite(console);

static enum bus_result pio(uint64_t port, uint64_t value, uint32_t size, bool is_write,
			   uint64_t *read_value)
{
	uint8_t d[8] = { 0 };
	for (uint32_t i = 0; i < size && i < 8; i++)
		d[i] = (uint8_t)(value >> (8 * i));
	enum bus_result r = bus_dispatch(&bus, BUS_PIO, port, d, size, is_write);
	if (read_value) {
		*read_value = 0;
		for (uint32_t i = 0; i < size && i < 8; i++)
			*read_value |= (uint64_t)d[i] << (8 * i);
	}
	return r;
}

static enum bus_result mmio(uint64_t addr, uint64_t value, uint32_t size, bool is_write,
			    uint64_t *read_value)
{
	uint8_t d[8] = { 0 };
	for (uint32_t i = 0; i < size && i < 8; i++)
		d[i] = (uint8_t)(value >> (8 * i));
	enum bus_result r = bus_dispatch(&bus, BUS_MMIO, addr, d, size, is_write);
	if (read_value) {
		*read_value = 0;
		for (uint32_t i = 0; i < size && i < 8; i++)
			*read_value |= (uint64_t)d[i] << (8 * i);
	}
	return r;
}

/* ---- exit port ---------------------------------------------------------------------- */

static struct exitdev *exit_setup(struct vm_stop *stop)
{
	struct exitdev *e = exitdev_create(stop);
	cr_assert_not_null(e);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_EXIT, EXITDEV_LEN, &exitdev_ops, e), 0);
	return e;
}

Test(exitdev, status_is_v_shifted_left_or_1_low_byte)
{
	/*
	 * status = ((V << 1) | 1) & 0xFF:
	 *   0x00 -> 0x01, 0x01 -> 0x03, 0x7F -> 0xFF,
	 *   0x80 -> 0x101 & 0xFF = 0x01 (the top bit of V falls off: same status as V = 0),
	 *   0xFF -> 0x1FF & 0xFF = 0xFF.
	 */
	const struct { uint8_t v; int status; } row[] = {
		{ 0x00, 0x01 }, { 0x01, 0x03 }, { 0x7F, 0xFF }, { 0x80, 0x01 }, { 0xFF, 0xFF },
		{ 0x21, 0x43 },
	};
	for (size_t i = 0; i < sizeof(row) / sizeof(row[0]); i++) {
		struct vm_stop stop = { 0 };
		bus_init(&bus);
		struct exitdev *e = exit_setup(&stop);
		cr_assert_eq(pio(HV_PORT_EXIT, row[i].v, 1, true, NULL), BUS_OK);
		cr_assert(stop.requested);
		cr_assert_eq(stop.status, row[i].status, "V=0x%02x", row[i].v);
		cr_assert_not_null(stop.why);
		exitdev_destroy(e);
	}
}

Test(exitdev, wide_write_uses_low_byte)
{
	struct vm_stop stop = { 0 };
	struct exitdev *e = exit_setup(&stop);
	/* `out dx, ax` with AX = 0x0102: low byte 0x02 -> (0x04 | 1) = 0x05. */
	cr_assert_eq(pio(HV_PORT_EXIT, 0x0102, 2, true, NULL), BUS_OK);
	cr_assert_eq(stop.status, 0x05);
	/* `out dx, eax` with EAX = 0xDEADBE03: low byte 0x03 -> 0x07. */
	stop = (struct vm_stop){ 0 };
	cr_assert_eq(pio(HV_PORT_EXIT, 0xDEADBE03, 4, true, NULL), BUS_OK);
	cr_assert_eq(stop.status, 0x07);
	cr_assert_eq(e->writes, 2);
	exitdev_destroy(e);
}

Test(exitdev, first_stop_request_wins)
{
	/* A stop already requested (say, by --timeout) keeps its status: 14 stays 14. */
	struct vm_stop stop = { .requested = true, .status = HV_EXIT_TIMEOUT, .why = "timeout" };
	struct exitdev *e = exit_setup(&stop);
	cr_assert_eq(pio(HV_PORT_EXIT, 0x01, 1, true, NULL), BUS_OK);
	cr_assert_eq(stop.status, HV_EXIT_TIMEOUT);
	cr_assert_str_eq(stop.why, "timeout");
	/* Two bytes in one `rep outsb`: the first (0x02 -> 0x05) is the status, not the second. */
	stop = (struct vm_stop){ 0 };
	cr_assert_eq(pio(HV_PORT_EXIT, 0x02, 1, true, NULL), BUS_OK);
	cr_assert_eq(pio(HV_PORT_EXIT, 0x03, 1, true, NULL), BUS_OK);
	cr_assert_eq(stop.status, 0x05);
	cr_assert_eq(e->writes, 3);
	exitdev_destroy(e);
}

Test(exitdev, read_returns_all_ones_and_requests_nothing)
{
	struct vm_stop stop = { 0 };
	struct exitdev *e = exit_setup(&stop);
	uint64_t v = 0;
	cr_assert_eq(pio(HV_PORT_EXIT, 0, 1, false, &v), BUS_OK);
	cr_assert_eq(v, 0xFF);
	cr_assert_eq(pio(HV_PORT_EXIT, 0, 4, false, &v), BUS_OK);
	cr_assert_eq(v, 0xFFFFFFFFu);
	cr_assert(!stop.requested);
	cr_assert_eq(e->reads, 2);
	exitdev_destroy(e);
}

Test(exitdev, create_refuses_null_stop)
{
	errno = 0;
	cr_assert_null(exitdev_create(NULL));
	cr_assert_eq(errno, EINVAL);
}

/* ---- debug console -------------------------------------------------------------------- */

Test(debugcon, each_byte_out_is_one_character)
{
	uint8_t out[64];
	struct console con;
	console_init_capture(&con, out, sizeof(out));
	struct debugcon *d = debugcon_create(&con);
	cr_assert_not_null(d);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_DEBUGCON, DEBUGCON_LEN, &debugcon_ops, d), 0);
	const char *msg = "ok 1\n";
	for (size_t i = 0; i < strlen(msg); i++)
		cr_assert_eq(pio(HV_PORT_DEBUGCON, (uint8_t)msg[i], 1, true, NULL), BUS_OK);
	console_flush(&con);
	cr_assert_eq(con.cap_len, 5);
	cr_assert_arr_eq(out, msg, 5);
	cr_assert_eq(d->chars, 5);
	debugcon_destroy(d);
}

Test(debugcon, in_returns_0xe9_so_guests_can_detect_it)
{
	struct debugcon *d = debugcon_create(NULL);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_DEBUGCON, DEBUGCON_LEN, &debugcon_ops, d), 0);
	uint64_t v = 0;
	cr_assert_eq(pio(HV_PORT_DEBUGCON, 0, 1, false, &v), BUS_OK);
	cr_assert_eq(v, 0xE9);
	debugcon_destroy(d);
}

Test(debugcon, wide_access_never_prints)
{
	uint8_t out[16];
	struct console con;
	console_init_capture(&con, out, sizeof(out));
	struct debugcon *d = debugcon_create(&con);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_DEBUGCON, DEBUGCON_LEN, &debugcon_ops, d), 0);
	/* A 2-byte OUT to a 1-port device runs past its end: the bus refuses it. */
	cr_assert_eq(pio(HV_PORT_DEBUGCON, 0x4142, 2, true, NULL), BUS_BAD_SIZE);
	/* Called directly (no bus), the device refuses it too and counts it. */
	uint8_t w[2] = { 'A', 'B' }, r[2] = { 0, 0 };
	debugcon_ops.write(d, 0, w, 2);
	debugcon_ops.read(d, 0, r, 2);
	cr_assert_eq(r[0], 0xFF);
	cr_assert_eq(r[1], 0xFF);
	cr_assert_eq(d->bad_width, 2);
	console_flush(&con);
	cr_assert_eq(con.cap_len, 0);
	debugcon_destroy(d);
}

/* ---- test device -------------------------------------------------------------------- */

static struct testdev *testdev_setup(void)
{
	struct testdev *t = testdev_create();
	cr_assert_not_null(t);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_TESTDEV, TESTDEV_PIO_LEN,
				  &testdev_pio_ops, t), 0);
	cr_assert_eq(bus_register(&bus, BUS_MMIO, HV_MMIO_TESTDEV, TESTDEV_MMIO_LEN,
				  &testdev_mmio_ops, t), 0);
	return t;
}

Test(testdev, pio_latch_returns_low_bytes_of_last_write)
{
	struct testdev *t = testdev_setup();
	uint64_t v;
	cr_assert_eq(pio(HV_PORT_TESTDEV, 0x11223344, 4, true, NULL), BUS_OK);
	cr_assert_eq(pio(HV_PORT_TESTDEV, 0, 1, false, &v), BUS_OK);
	cr_assert_eq(v, 0x44);
	cr_assert_eq(pio(HV_PORT_TESTDEV, 0, 2, false, &v), BUS_OK);
	cr_assert_eq(v, 0x3344);
	cr_assert_eq(pio(HV_PORT_TESTDEV, 0, 4, false, &v), BUS_OK);
	cr_assert_eq(v, 0x11223344);
	/* A 1-byte write replaces the whole latch (zero-extended): a 4-byte read gives 0xAB. */
	cr_assert_eq(pio(HV_PORT_TESTDEV, 0xAB, 1, true, NULL), BUS_OK);
	cr_assert_eq(pio(HV_PORT_TESTDEV, 0, 4, false, &v), BUS_OK);
	cr_assert_eq(v, 0xAB);
	cr_assert_eq(t->pio_writes, 2);
	cr_assert_eq(t->pio_reads, 4);
	cr_assert_eq(t->bad, 0);
	testdev_destroy(t);
}

Test(testdev, pio_reserved_ports_read_ones_and_drop_writes)
{
	struct testdev *t = testdev_setup();
	uint64_t v;
	cr_assert_eq(pio(HV_PORT_TESTDEV, 0x55, 1, true, NULL), BUS_OK);
	cr_assert_eq(pio(HV_PORT_TESTDEV + 1, 0x66, 1, true, NULL), BUS_OK); /* dropped */
	cr_assert_eq(pio(HV_PORT_TESTDEV + 2, 0, 2, false, &v), BUS_OK);
	cr_assert_eq(v, 0xFFFF);
	cr_assert_eq(pio(HV_PORT_TESTDEV, 0, 1, false, &v), BUS_OK);
	cr_assert_eq(v, 0x55);
	cr_assert_eq(t->bad, 2);
	/* 4 bytes at port +2 leave the device: the bus refuses, the device never counts it. */
	cr_assert_eq(pio(HV_PORT_TESTDEV + 2, 0, 4, false, &v), BUS_BAD_SIZE);
	cr_assert_eq(t->bad, 2);
	testdev_destroy(t);
}

Test(testdev, mmio_aligned_accesses_read_back_what_was_written)
{
	struct testdev *t = testdev_setup();
	uint64_t v;
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x10, 0xCAFEF00D, 4, true, NULL), BUS_OK);
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x10, 0, 4, false, &v), BUS_OK);
	cr_assert_eq(v, 0xCAFEF00D);
	/* Little-endian: the 2-byte register at 0x12 is the latch's upper half, 0xCAFE. */
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x12, 0, 2, false, &v), BUS_OK);
	cr_assert_eq(v, 0xCAFE);
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x13, 0, 1, false, &v), BUS_OK);
	cr_assert_eq(v, 0xCA);
	/* 8 bytes at the last aligned slot 0xFF8 cover the last two latches. */
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0xFF8, 0x0123456789ABCDEFull, 8, true, NULL), BUS_OK);
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0xFFC, 0, 4, false, &v), BUS_OK);
	cr_assert_eq(v, 0x01234567);
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0xFF8, 0, 8, false, &v), BUS_OK);
	cr_assert_eq(v, 0x0123456789ABCDEFull);
	/* Never written: reads 0. */
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x800, 0, 4, false, &v), BUS_OK);
	cr_assert_eq(v, 0);
	cr_assert_eq(t->mmio_writes, 2);
	cr_assert_eq(t->mmio_reads, 6);
	cr_assert_eq(t->bad, 0);
	testdev_destroy(t);
}

Test(testdev, T1_misaligned_mmio_reads_ones_and_drops_writes)
{
	struct testdev *t = testdev_setup();
	uint64_t v;
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x20, 0x11111111, 4, true, NULL), BUS_OK);
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x21, 0x22222222, 4, true, NULL), BUS_OK); /* 0x21 % 4 */
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x22, 0, 4, false, &v), BUS_OK);
	cr_assert_eq(v, 0xFFFFFFFFu);
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x24, 0, 8, false, &v), BUS_OK);          /* 0x24 % 8 */
	cr_assert_eq(v, UINT64_MAX);
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x20, 0, 4, false, &v), BUS_OK);
	cr_assert_eq(v, 0x11111111); /* the misaligned write changed nothing */
	cr_assert_eq(t->bad, 3);
	/* Past the page: the bus refuses before the device sees it. */
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0xFFC, 0, 8, false, &v), BUS_BAD_SIZE);
	cr_assert_eq(mmio(HV_MMIO_TESTDEV + 0x1000, 0, 4, false, &v), BUS_UNCLAIMED);
	cr_assert_eq(v, 0xFFFFFFFFu);
	/* Called directly, out of range is refused by the device itself. */
	uint8_t d[4];
	testdev_mmio_ops.read(t, TESTDEV_MMIO_LEN, d, 4);
	cr_assert_eq(d[0], 0xFF);
	cr_assert_eq(t->bad, 4);
	testdev_destroy(t);
}

Test(testdev, bus_reset_clears_latches_once_counters_survive)
{
	struct testdev *t = testdev_setup();
	uint64_t v;
	cr_assert_eq(pio(HV_PORT_TESTDEV, 0x77, 1, true, NULL), BUS_OK);
	cr_assert_eq(mmio(HV_MMIO_TESTDEV, 0x88, 1, true, NULL), BUS_OK);
	bus_reset(&bus);
	cr_assert_eq(pio(HV_PORT_TESTDEV, 0, 1, false, &v), BUS_OK);
	cr_assert_eq(v, 0);
	cr_assert_eq(mmio(HV_MMIO_TESTDEV, 0, 1, false, &v), BUS_OK);
	cr_assert_eq(v, 0);
	cr_assert_eq(t->pio_writes, 1);
	cr_assert_eq(t->mmio_writes, 1);
	testdev_destroy(t);
}

/* ---- console ------------------------------------------------------------------------ */

Test(console, S4_bytes_past_limit_dropped_and_counted)
{
	uint8_t out[64];
	struct console con;
	console_init_capture(&con, out, sizeof(out));
	con.limit = 10;
	for (int i = 0; i < 25; i++)
		console_putc(&con, (uint8_t)('a' + i));
	console_flush(&con);
	/* 25 bytes sent, limit 10: the first 10 kept, 15 dropped, nothing else. */
	cr_assert_eq(con.accepted, 10);
	cr_assert_eq(con.dropped, 15);
	cr_assert_eq(con.cap_len, 10);
	cr_assert_arr_eq(out, "abcdefghij", 10);
}

/*
 * S4: a stdout nobody reads must not stop the vCPU. A pipe whose reader never reads fills up
 * (64 KiB on Linux); without the stall rule the next write() would block forever, and this
 * test would hang until Criterion's timeout fails it. With it: one wait of CONSOLE_STALL_MS,
 * then every further buffer is dropped at once, counted, and named in the note.
 */
Test(console, S4_unread_stdout_drops_instead_of_blocking, .timeout = 20)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	struct console con;
	console_init(&con, p[1]);
	FILE *notes = tmpfile();
	con.notes = notes;
	/* 1 MiB of guest lines: 16 times what the pipe holds. */
	for (int i = 0; i < (1 << 20); i++)
		console_putc(&con, (i % 64 == 63) ? '\n' : 'x');
	console_flush(&con);
	cr_assert(con.stalled);
	cr_assert_gt(con.stall_dropped, 0);
	cr_assert_eq(con.dropped, con.stall_dropped);
	/* What went through is what the pipe held; the rest was dropped, nothing vanished. */
	int held = 0;
	cr_assert_eq(ioctl(p[0], FIONREAD, &held), 0);
	cr_assert_eq((uint64_t)held + con.dropped, 1u << 20);
	char line[256] = "";
	rewind(notes);
	cr_assert_not_null(fgets(line, sizeof line, notes));
	cr_assert(strstr(line, "nobody is reading hv's output"), "%s", line);
	fclose(notes);
	close(p[0]);
	close(p[1]);
}

Test(console, S4_drop_note_printed_once_with_count)
{
	uint8_t out[8];
	struct console con;
	console_init_capture(&con, out, sizeof(out));
	FILE *notes = tmpfile();
	cr_assert_not_null(notes);
	con.notes = notes;
	con.limit = 4;
	for (int i = 0; i < 7; i++)
		console_putc(&con, 'x');
	console_flush(&con);
	console_putc(&con, 'y');
	console_flush(&con); /* more drops, but the note is not repeated */
	cr_assert_eq(con.dropped, 4);
	char line[256] = { 0 };
	rewind(notes);
	size_t n = fread(line, 1, sizeof(line) - 1, notes);
	cr_assert_str_eq(line, "hv: console: guest output over the 4-byte limit: 3 bytes dropped "
			       "(the guest printed more than a run may keep)\n");
	cr_assert_eq(n, strlen(line));
	fclose(notes);
}

Test(console, default_limit_is_16_mib)
{
	struct console con;
	console_init(&con, STDOUT_FILENO);
	cr_assert_eq(con.limit, 16u << 20);
	cr_assert_eq(con.notes, stderr);
}

Test(console, capture_full_drops_and_counts)
{
	uint8_t out[4];
	struct console con;
	console_init_capture(&con, out, sizeof(out));
	const char *msg = "hello\n";
	for (size_t i = 0; i < 6; i++)
		console_putc(&con, (uint8_t)msg[i]);
	console_flush(&con);
	cr_assert_eq(con.cap_len, 4);
	cr_assert_arr_eq(out, "hell", 4);
	cr_assert_eq(con.dropped, 2);
}

/* Bytes currently readable from a pipe, without blocking. */
static size_t pipe_read(int fd, char *buf, size_t size)
{
	ssize_t n = read(fd, buf, size);
	return n < 0 ? 0 : (size_t)n;
}

Test(console, fd_output_written_per_line_and_on_flush)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
	struct console con;
	console_init(&con, p[1]);
	char buf[8192];
	console_putc(&con, 'a');
	console_putc(&con, 'b');
	cr_assert_eq(pipe_read(p[0], buf, sizeof(buf)), 0); /* buffered: no newline yet */
	console_putc(&con, '\n');
	cr_assert_eq(pipe_read(p[0], buf, sizeof(buf)), 3); /* the line went out in one piece */
	cr_assert_arr_eq(buf, "ab\n", 3);
	console_putc(&con, 'c');
	console_flush(&con);
	cr_assert_eq(pipe_read(p[0], buf, sizeof(buf)), 1);
	cr_assert_eq(buf[0], 'c');
	/* No newline at all: written when the 4096-byte buffer fills, not before. */
	for (unsigned i = 0; i < CONSOLE_BUF_SIZE - 1; i++)
		console_putc(&con, 'z');
	cr_assert_eq(pipe_read(p[0], buf, sizeof(buf)), 0);
	console_putc(&con, 'z');
	cr_assert_eq(pipe_read(p[0], buf, sizeof(buf)), CONSOLE_BUF_SIZE);
	cr_assert_eq(con.dropped, 0);
	close(p[0]);
	close(p[1]);
}

Test(console, write_error_drops_counts_and_notes_reason)
{
	int fd = open("/dev/null", O_RDONLY); /* write() fails with EBADF */
	cr_assert_geq(fd, 0);
	struct console con;
	console_init(&con, fd);
	FILE *notes = tmpfile();
	con.notes = notes;
	console_putc(&con, 'q');
	console_putc(&con, '\n');
	console_flush(&con);
	cr_assert_eq(con.dropped, 2);
	cr_assert_eq(con.write_errno, EBADF);
	char line[256] = { 0 };
	rewind(notes);
	cr_assert_gt(fread(line, 1, sizeof(line) - 1, notes), 0);
	cr_assert_str_eq(line, "hv: console: cannot write guest output: Bad file descriptor "
			       "(2 bytes dropped)\n");
	fclose(notes);
	close(fd);
}

/* ---- the ACPI PM1 registers (hv/dev/acpipm.c, textbook ch 11) ---- */

TestSuite(acpipm, .init = setup);

/* What Linux's ACPI core does: disable a fixed event (clear its enable bit) and read it back. */
Test(acpipm, enable_bits_read_back_status_is_zero_and_sci_en_is_set)
{
	struct acpipm *pm = acpipm_create();
	cr_assert(pm);
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_ACPI_PM1, ACPIPM_LEN, &acpipm_ops, pm), 0);
	uint8_t d[2] = { 0x20, 0x05 };        /* PM1_EN = 0x0520: RTC, power button, global lock */
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ACPI_PM1 + 2, d, 2, true), BUS_OK);
	d[0] = 0x00, d[1] = 0x01;             /* clear RTC_EN (bit 10) */
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ACPI_PM1 + 2, d, 2, true), BUS_OK);
	uint8_t r[4] = { 0xAA, 0xAA, 0xAA, 0xAA };
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ACPI_PM1, r, 4, false), BUS_OK);
	cr_assert_eq(r[0] | r[1] << 8, 0, "PM1_STS: no event ever happened");
	cr_assert_eq(r[2] | r[3] << 8, 0x0100, "PM1_EN reads back what was written");
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ACPI_PM1 + 4, r, 2, false), BUS_OK);
	cr_assert_eq(r[0] | r[1] << 8, 0x0001, "PM1_CNT: SCI_EN, the machine is in ACPI mode");
	acpipm_destroy(pm);
}

/* Appendix C, row A1: a sleep request (SLP_TYP and SLP_EN) changes nothing, since hv offers no
 * sleep state, and an access of any width at any offset stays inside the 6 registers. */
Test(acpipm, a1_slp_en_is_ignored_and_odd_accesses_stay_in_range)
{
	struct acpipm *pm = acpipm_create();
	cr_assert_eq(bus_register(&bus, BUS_PIO, HV_PORT_ACPI_PM1, ACPIPM_LEN, &acpipm_ops, pm), 0);
	uint8_t d[2] = { 0x00, 0x3C };        /* PM1_CNT: SLP_TYP = 7 (bits 12:10), SLP_EN */
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ACPI_PM1 + 4, d, 2, true), BUS_OK);
	cr_assert_eq(pm->control & (1u << 13), 0, "SLP_EN is write-only: never stored");
	uint8_t r[4];
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, HV_PORT_ACPI_PM1 + 5, r, 1, false), BUS_OK);
	cr_assert_eq(r[0], 0x1C, "the high byte alone: SLP_TYP kept, SLP_EN dropped");
	cr_assert_eq(pm->writes, 1);
	acpipm_destroy(pm);
}
