/*
 * test_pit.c - the 8254 timer model (hv/dev/pit.c) on a clock the test moves by hand: what a
 * kernel programming 100 Hz reads back, latching, the period hv delivers, one-shot modes, and
 * the appendix C rows S1-S2. The tick thread itself is exercised by the OS tests (IRQ 0 in
 * ring 3); here pit_tick stands in for one expiry.
 * Textbook: chapter 5 "A guest OS", section "The timer".
 */
#include <criterion/criterion.h>

#include <string.h>

#include "dev/pit.h"

static uint64_t fake_now;
static uint64_t clock_fake(void) { return fake_now; }

static struct pit *pit;
static int levels[8], nlevels;

static void record_irq(void *ctx, int level)
{
	(void)ctx;
	if (nlevels < 8)
		levels[nlevels] = level;
	nlevels++;
}

static void setup(void)
{
	fake_now = 1000000000u; /* 1 s: an arbitrary start */
	pit = pit_create(clock_fake);
	cr_assert_not_null(pit);
	pit_connect_irq(pit, record_irq, NULL);
	nlevels = 0;
}

static void teardown(void)
{
	pit_destroy(pit);
}

TestSuite(pit, .init = setup, .fini = teardown);

static void out8(unsigned port, uint8_t v)
{
	pit_ops.write(pit, port - 0x40, &v, 1);
}

static uint8_t in8(unsigned port)
{
	uint8_t v;
	pit_ops.read(pit, port - 0x40, &v, 1);
	return v;
}

/* What a kernel does for 100 Hz: counter 0, LSB then MSB, mode 2, binary (0x34), then
 * 1193182 / 100 = 11932 = 0x2E9C. */
static void program_100hz(void)
{
	out8(0x43, 0x34);
	out8(0x40, 0x9C);
	out8(0x40, 0x2E);
}

Test(pit, a_100hz_rate_generator_has_a_10ms_period)
{
	program_100hz();
	/* 11932 / 1193182 s = 10.000 ms (to 1 ns: 11932e9 / 1193182 = 10000150.8) */
	cr_assert_eq(pit_period_ns(pit), 10000150);
}

Test(pit, the_count_runs_down_from_the_reload_and_restarts)
{
	program_100hz();
	cr_assert_eq(pit_count_now(pit, 0), 11932);
	/* 1 ms later: 1193 input ticks (1193182 * 0.001 = 1193.182) have passed */
	fake_now += 1000000;
	cr_assert_eq(pit_count_now(pit, 0), 11932 - 1193);
	/* 10 ms + 1 ms: one full period and 1 ms again (11932 + 1193 = 13125 ticks; 13125 mod 11932 = 1193) */
	fake_now += 10000150;
	cr_assert_eq(pit_count_now(pit, 0), 11932 - 1193);
}

Test(pit, a_latched_count_is_read_lsb_then_msb_and_stays_frozen)
{
	program_100hz();
	fake_now += 1000000;       /* count = 10739 = 0x29F3 */
	out8(0x43, 0x00);          /* latch counter 0 */
	fake_now += 3000000;       /* the counter moves on; the latch does not */
	cr_assert_eq(in8(0x40), 0xF3);
	cr_assert_eq(in8(0x40), 0x29);
	/* latch released: the next read is live again: 4 ms = 4772 ticks, 11932 - 4772 = 7160 = 0x1BF8 */
	cr_assert_eq(in8(0x40), 0xF8);
	cr_assert_eq(in8(0x40), 0x1B);
}

Test(pit, a_tick_is_one_rising_edge_on_irq0)
{
	program_100hz();
	pit_tick(pit);
	cr_assert_eq(nlevels, 2);
	cr_assert_eq(levels[0], 1);
	cr_assert_eq(levels[1], 0);
	cr_assert_eq(pit->ticks, 1);
}

Test(pit, a_control_word_stops_the_counter_until_a_count_is_written)
{
	program_100hz();
	out8(0x43, 0x34);
	cr_assert_eq(pit_period_ns(pit), 0);
	out8(0x40, 0x9C); /* half a count: still stopped */
	cr_assert_eq(pit_period_ns(pit), 0);
	out8(0x40, 0x2E);
	cr_assert_eq(pit_period_ns(pit), 10000150);
}

Test(pit, zero_means_65536)
{
	out8(0x43, 0x34);
	out8(0x40, 0);
	out8(0x40, 0);
	/* 65536 / 1193182 s = 54.925 ms, the 18.2 Hz of DOS */
	cr_assert_eq(pit_period_ns(pit), 54925401);
}

Test(pit, one_shot_mode_is_not_periodic)
{
	out8(0x43, 0x30); /* counter 0, LSB/MSB, mode 0: interrupt on terminal count */
	out8(0x40, 0x9C);
	out8(0x40, 0x2E);
	cr_assert_eq(pit_period_ns(pit), 0);
}

Test(pit, lsb_only_access_loads_at_once)
{
	out8(0x43, 0x14); /* counter 0, LSB only, mode 2 */
	out8(0x40, 100);
	/* 100 ticks = 83.8 us: below the 100 us floor */
	cr_assert_eq(pit_period_ns(pit), PIT_MIN_PERIOD_NS);
}

Test(pit, s2_a_reload_of_1_is_held_at_the_minimum_period)
{
	out8(0x43, 0x34);
	out8(0x40, 1);
	out8(0x40, 0);
	cr_assert_eq(pit_period_ns(pit), PIT_MIN_PERIOD_NS);
}

Test(pit, s1_wide_accesses_and_the_control_port_read_are_harmless)
{
	program_100hz();
	uint8_t b[4] = { 0x11, 0x22, 0x33, 0x44 };
	pit_ops.write(pit, 0, b, 4); /* ignored: byte registers */
	cr_assert_eq(pit_period_ns(pit), 10000150);
	memset(b, 0, 4);
	pit_ops.read(pit, 0, b, 4);
	cr_assert_eq(b[0], 0xFF);
	cr_assert_eq(b[3], 0xFF);
	cr_assert_eq(in8(0x43), 0xFF); /* the control word is write-only */
}

Test(pit, bcd_and_read_back_are_counted_as_guest_errors)
{
	out8(0x43, 0x35); /* BCD */
	out8(0x43, 0xC2); /* read-back */
	cr_assert_eq(pit->guest_errors, 2);
}

Test(pit, counters_1_and_2_count_but_raise_nothing)
{
	out8(0x43, 0xB4); /* counter 2, LSB/MSB, mode 2 */
	out8(0x42, 0x10);
	out8(0x42, 0x00);
	fake_now += 5000; /* 5 us = 5 input ticks (5.96) */
	cr_assert_eq(pit_count_now(pit, 2), 16 - 5);
	cr_assert_eq(pit_period_ns(pit), 0); /* counter 0 not programmed */
}
