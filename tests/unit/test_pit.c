/*
 * test_pit.c - the 8254 timer model (hv/dev/pit.c) on a clock the test moves by hand: what a
 * kernel programming 100 Hz reads back, latching, the period hv delivers, one-shot modes, and
 * the appendix C rows S1-S2 and S7; counter 2 and port 0x61 as Linux's TSC calibration uses
 * them. The tick thread itself is exercised by the OS tests (IRQ 0 in ring 3); here pit_tick
 * stands in for one expiry.
 * Textbook: chapter 5 "A guest OS", section "The timer"; chapter 11 "Booting Linux", section
 * "The PC pieces Linux asks for".
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

static void out61(uint8_t v);

Test(pit, counters_1_and_2_count_but_raise_nothing)
{
	out61(0x01);      /* counter 2 counts only with its gate (port 0x61 bit 0) high */
	out8(0x43, 0xB4); /* counter 2, LSB/MSB, mode 2 */
	out8(0x42, 0x10);
	out8(0x42, 0x00);
	fake_now += 5000; /* 5 us = 5 input ticks (5.96) */
	cr_assert_eq(pit_count_now(pit, 2), 16 - 5);
	cr_assert_eq(pit_period_ns(pit), 0); /* counter 0 not programmed */
}

/* ---- counter 2 and port 0x61 (chapter 11, "The PC pieces Linux asks for") ---- */

static void out61(uint8_t v)
{
	pit_port61_ops.write(pit, 0, &v, 1);
}

static uint8_t in61(void)
{
	uint8_t v;
	pit_port61_ops.read(pit, 0, &v, 1);
	return v;
}

/* What Linux's pit_calibrate_tsc does: gate 2 high, speaker off, counter 2 in mode 0 with a
 * 10 ms count (CAL_LATCH = 1193182 / 100 = 11931), then poll port 0x61 until bit 5 rises. */
static void calibrate_like_linux(void)
{
	out61((uint8_t)((in61() & ~0x02) | 0x01));
	out8(0x43, 0xB0); /* counter 2, LSB then MSB, mode 0 */
	out8(0x42, 11931 & 0xFF);
	out8(0x42, 11931 >> 8);
}

Test(pit, port61_out2_rises_when_a_mode0_count_on_counter_2_ends)
{
	calibrate_like_linux();
	cr_assert_eq(in61() & 0x21, 0x01, "gate high, OUT 2 low while counting");
	fake_now += 9990000; /* 9.99 ms: 11919 of 11931 ticks */
	cr_assert_eq(in61() & 0x20, 0);
	fake_now += 20000;   /* 10.01 ms */
	cr_assert_eq(in61() & 0x20, 0x20, "OUT 2 high at terminal count");
	fake_now += 50000000; /* and it stays high (mode 0) */
	cr_assert_eq(in61() & 0x20, 0x20);
}

Test(pit, quick_calibration_sees_the_msb_of_counter_2_fall_at_the_pit_rate)
{
	/* quick_pit_calibrate: mode 0, count 0xFFFF, then reads LSB and MSB; the MSB drops by one
	 * every 256 input ticks (214.6 us) */
	out61(0x01);
	out8(0x43, 0xB0);
	out8(0x42, 0xFF);
	out8(0x42, 0xFF);
	(void)in8(0x42);
	cr_assert_eq(in8(0x42), 0xFF);
	fake_now += 215000; /* 256.5 ticks */
	(void)in8(0x42);
	cr_assert_eq(in8(0x42), 0xFE);
	fake_now += 214600 * 9;
	(void)in8(0x42);
	cr_assert_eq(in8(0x42), 0xF5);
}

Test(pit, a_low_gate_pauses_counter_2_in_mode_0)
{
	out8(0x43, 0xB0);
	out8(0x42, 0x00);
	out8(0x42, 0x10); /* 4096 */
	fake_now += 1000000; /* gate still low: nothing counted */
	cr_assert_eq(pit_count_now(pit, 2), 4096);
	out61(0x01);
	fake_now += 1000000; /* 1193 ticks */
	cr_assert_eq(pit_count_now(pit, 2), 4096 - 1193);
	out61(0x00);
	fake_now += 5000000; /* paused */
	cr_assert_eq(pit_count_now(pit, 2), 4096 - 1193);
	out61(0x01);
	fake_now += 1000000; /* resumes where it stopped */
	cr_assert_eq(pit_count_now(pit, 2), 4096 - 2386);
}

Test(pit, mode3_on_counter_2_is_a_square_wave_restarted_by_the_gate)
{
	out8(0x43, 0xB6); /* counter 2, LSB/MSB, mode 3 */
	out8(0x42, 100);
	out8(0x42, 0);
	cr_assert(pit_out_now(pit, 2), "gate low: OUT high");
	out61(0x01); /* rising edge: starts the wave */
	cr_assert(pit_out_now(pit, 2));
	fake_now += 30000; /* 35 ticks: first half (50) */
	cr_assert(pit_out_now(pit, 2));
	fake_now += 20000; /* 59 ticks: second half */
	cr_assert(!pit_out_now(pit, 2));
	fake_now += 45000; /* 113 ticks: 13 into the next period */
	cr_assert(pit_out_now(pit, 2));
	out61(0x00);
	out61(0x01); /* a new rising edge reloads */
	cr_assert_eq(pit_count_now(pit, 2), 100);
}

Test(pit, mode2_out_is_low_for_one_tick_per_period)
{
	out61(0x01);
	out8(0x43, 0xB4); /* counter 2, mode 2 */
	out8(0x42, 10);
	out8(0x42, 0);
	cr_assert(pit_out_now(pit, 2));
	fake_now += 7800; /* 9.3 ticks: the count is 1 */
	cr_assert_eq(pit_count_now(pit, 2), 1);
	cr_assert(!pit_out_now(pit, 2));
	fake_now += 1000; /* 10.1: reloaded */
	cr_assert(pit_out_now(pit, 2));
}

Test(pit, mode0_out_is_low_from_the_control_word)
{
	out8(0x43, 0xB0);
	cr_assert(!pit_out_now(pit, 2));
	out8(0x43, 0xB4); /* any other mode: high */
	cr_assert(pit_out_now(pit, 2));
}

Test(pit, port61_refresh_bit_toggles_every_15us)
{
	fake_now = 0;
	uint8_t a = in61() & 0x10;
	fake_now += PIT_REFRESH_NS;
	uint8_t b = in61() & 0x10;
	fake_now += PIT_REFRESH_NS;
	uint8_t c = in61() & 0x10;
	cr_assert_neq(a, b);
	cr_assert_eq(a, c);
}

Test(pit, port61_keeps_its_writable_bits_and_reads_no_nmi_source)
{
	out61(0xFF);
	uint8_t v = in61();
	cr_assert_eq(v & 0x0F, 0x0F, "gate, speaker and the two NMI enables read back");
	cr_assert_eq(v & 0xC0, 0, "no parity or channel-check error is ever reported");
}

/* Appendix C, S7: any write to port 0x61, of any width, leaves it defined. */
Test(pit, s7_port61_any_value_or_width_is_harmless)
{
	uint8_t w[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
	pit_port61_ops.write(pit, 0, w, 4); /* ignored */
	cr_assert_eq(in61() & 0x0F, 0);
	pit_port61_ops.read(pit, 0, w, 2);
	cr_assert_eq(w[0], 0xFF);
	cr_assert_eq(w[1], 0xFF);
	for (unsigned i = 0; i < 100000; i++) {
		out61((uint8_t)(i * 37u));
		fake_now += i % 7;
		cr_assert_eq(in61() & 0xC0, 0);
	}
	/* counter 0's timer is not touched by any of it */
	program_100hz();
	cr_assert_eq(pit_period_ns(pit), 10000150);
}
