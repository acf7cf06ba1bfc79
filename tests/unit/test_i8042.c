/*
 * test_i8042.c - the keyboard controller (hv/dev/i8042.c): the reset line (command 0xFE, and
 * the output port), the answers Linux's i8042 driver gets at boot, "no keyboard, no mouse",
 * the interrupt lines, and appendix C rows I1-I3.
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
 */
#include <criterion/criterion.h>

#include <string.h>

#include "dev/i8042.h"
#include "layout.h"

static struct vm_stop stop;
static struct i8042 *kbc;
static int level[16], changes;

static void record_irq(void *ctx, unsigned line, int lvl)
{
	(void)ctx;
	cr_assert(line == 1 || line == 12);
	level[line] = lvl;
	changes++;
}

static void setup(void)
{
	memset(&stop, 0, sizeof(stop));
	memset(level, 0, sizeof(level));
	changes = 0;
	kbc = i8042_create(&stop);
	cr_assert_not_null(kbc);
	i8042_connect_irq(kbc, record_irq, NULL);
}

static void teardown(void)
{
	i8042_destroy(kbc);
}

TestSuite(i8042, .init = setup, .fini = teardown);

static void out8(unsigned port, uint8_t v)
{
	(port == 0x64 ? &i8042_cmd_ops : &i8042_data_ops)->write(kbc, 0, &v, 1);
}

static uint8_t in8(unsigned port)
{
	uint8_t v;
	(port == 0x64 ? &i8042_cmd_ops : &i8042_data_ops)->read(kbc, 0, &v, 1);
	return v;
}

/* Linux's i8042_command: a command, maybe a data byte, maybe one byte back. */
static uint8_t command_reply(uint8_t cmd)
{
	out8(0x64, cmd);
	cr_assert(in8(0x64) & 0x01, "command 0x%02x answers at once", cmd);
	return in8(0x60);
}

Test(i8042, command_0xfe_resets_the_machine_with_its_own_status)
{
	/* Linux's reboot=k: wait for IBF (bit 1) to clear, then pulse the reset line */
	cr_assert_eq(in8(0x64) & 0x02, 0, "the input buffer is always empty");
	out8(0x64, 0xFE);
	cr_assert(stop.requested);
	cr_assert_eq(stop.status, HV_EXIT_RESET);
	cr_assert_not_null(strstr(stop.why, "0xFE"));
	cr_assert_eq(kbc->resets, 1);
}

Test(i8042, writing_the_output_port_with_bit_0_clear_resets_too)
{
	out8(0x64, 0xD1);
	out8(0x60, 0x03); /* reset line high, A20 on: nothing happens */
	cr_assert(!stop.requested);
	cr_assert_eq(command_reply(0xD0), 0x03);
	out8(0x64, 0xD1);
	out8(0x60, 0x02);
	cr_assert_eq(stop.status, HV_EXIT_RESET);
}

Test(i8042, pulses_that_leave_pin_0_alone_do_not_reset)
{
	out8(0x64, 0xFF); /* "pulse nothing", used as a delay */
	out8(0x64, 0xF1);
	cr_assert(!stop.requested);
	out8(0x64, 0xF0);
	cr_assert(stop.requested);
}

/* Linux: i8042_controller_check (empty the buffer), selftest, read and write the CTR. */
Test(i8042, linux_finds_an_empty_buffer_and_a_working_controller)
{
	cr_assert_eq(in8(0x64), 0x14, "OBF clear, system flag, keyboard not locked");
	cr_assert_eq(command_reply(0xAA), 0x55);
	cr_assert_eq(changes, 2, "the answer rose and lowered IRQ 1: the BIOS left it enabled");
	uint8_t ctr = command_reply(0x20);
	cr_assert_eq(ctr, 0x65, "keyboard interrupt, system flag, mouse off, translation");
	out8(0x64, 0x60); /* Linux: keyboard off, its interrupt off */
	out8(0x60, (uint8_t)((ctr | 0x10) & ~0x01));
	cr_assert_eq(in8(0x64) & 0x08, 0, "the last write was data");
	changes = 0;
	cr_assert_eq(command_reply(0x20), 0x74);
	cr_assert_eq(changes, 0, "no interrupt now that CTR bit 0 is clear");
}

/* Linux's i8042_check_aux: loopback, then disable/enable seen in the CTR, then IRQ 12. */
Test(i8042, the_mouse_port_tests_pass_and_its_loopback_raises_irq_12)
{
	out8(0x64, 0xD3);
	out8(0x60, 0x5A);
	cr_assert_eq(in8(0x64) & 0x21, 0x21, "a byte from the mouse port");
	cr_assert_eq(in8(0x60), 0x5A);
	out8(0x64, 0xA7);
	cr_assert(command_reply(0x20) & 0x20);
	out8(0x64, 0xA8);
	cr_assert_eq(command_reply(0x20) & 0x20, 0);
	out8(0x64, 0x60);
	out8(0x60, 0x47); /* mouse interrupt on */
	out8(0x64, 0xD3);
	out8(0x60, 0xA5);
	cr_assert_eq(level[12], 1);
	cr_assert_eq(in8(0x60), 0xA5);
	cr_assert_eq(level[12], 0, "reading the byte lowers the line");
}

/* atkbd's probe: GET ID (0xF2) to the keyboard. Nobody is there: 0xFE with the time-out bit,
 * on IRQ 1, which Linux's PS/2 code takes as a refusal. */
Test(i8042, a_byte_for_the_absent_keyboard_gets_fe_and_the_timeout_bit_on_irq_1)
{
	out8(0x60, 0xF2);
	cr_assert_eq(in8(0x64) & 0x61, 0x41, "OBF and time-out, keyboard port");
	cr_assert_eq(level[1], 1);
	cr_assert_eq(in8(0x60), 0xFE);
	cr_assert_eq(level[1], 0);
	out8(0x64, 0xD4); /* the same for the mouse */
	out8(0x60, 0xF2);
	cr_assert_eq(in8(0x64) & 0x61, 0x61);
	cr_assert_eq(in8(0x60), 0xFE);
	cr_assert_eq(kbc->to_devices, 2);
}

/* Appendix C, I1: any command, any data, any width, any order. */
Test(i8042, i1_any_access_is_defined)
{
	uint8_t w[4] = { 0xFE, 0xFE, 0xFE, 0xFE };
	i8042_cmd_ops.write(kbc, 0, w, 4); /* a wide write is not the reset command */
	cr_assert(!stop.requested);
	i8042_data_ops.read(kbc, 0, w, 2);
	cr_assert_eq(w[0], 0xFF);
	cr_assert_eq(kbc->bad_width, 2);
	for (unsigned i = 0; i < 200000; i++) {
		uint8_t c = (uint8_t)(i * 29u);
		if ((c >= 0xF0 && !(c & 1)) || c == 0xD1)
			continue; /* the reset commands: I3 */
		out8(0x64, c);
		out8(0x60, (uint8_t)(i * 13u));
		(void)in8(0x64);
		if (i % 3)
			(void)in8(0x60);
	}
	cr_assert(!stop.requested);
	cr_assert(kbc->out_count <= I8042_QUEUE);
}

/* Appendix C, I2: a guest that never reads the answers cannot grow the queue. */
Test(i8042, i2_unread_answers_are_bounded)
{
	for (unsigned i = 0; i < 100000; i++)
		out8(0x60, 0xF2);
	cr_assert_eq(kbc->out_count, I8042_QUEUE);
	cr_assert_eq(kbc->dropped, 100000 - I8042_QUEUE);
	cr_assert_eq(changes, 1, "IRQ 1 rose once and stays up");
}

/* Appendix C, I3: a guest that keeps pulsing reset ends the run once, with the first reason. */
Test(i8042, i3_repeated_resets_file_one_stop)
{
	for (unsigned i = 0; i < 1000; i++)
		out8(0x64, 0xFE);
	cr_assert_eq(kbc->resets, 1000);
	cr_assert_eq(stop.status, HV_EXIT_RESET);
}
