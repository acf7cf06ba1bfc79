/*
 * test_rtc.c - the CMOS real-time clock (hv/dev/rtc.c) on a wall clock the test sets by hand:
 * the host's date in BCD and binary, 24 and 12 hours, the UIP window Linux's reader relies on,
 * register D's "I am here", setting the clock with SET, the NMI mask bit, and appendix C rows
 * K1-K2. Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
 */
#include <criterion/criterion.h>

#include <string.h>
#include <time.h>

#include "dev/rtc.h"

static uint64_t fake_ns;
static uint64_t clock_fake(void) { return fake_ns; }

static struct rtc *rtc;

/* A date as the host's wall clock in ns (the tests start at 2026-12-06, a Sunday, 21:07:45.5 UTC). */
static uint64_t date_ns(int y, int mon, int d, int h, int m, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h,
			 .tm_min = m, .tm_sec = s };
	return (uint64_t)timegm(&tm) * 1000000000ull;
}

static void setup(void)
{
	fake_ns = date_ns(2026, 12, 6, 21, 7, 45) + 500000000ull;
	rtc = rtc_create(clock_fake, 256);
	cr_assert_not_null(rtc);
}

static void teardown(void)
{
	rtc_destroy(rtc);
}

TestSuite(rtc, .init = setup, .fini = teardown);

static void out8(unsigned port, uint8_t v)
{
	rtc_ops.write(rtc, port - 0x70, &v, 1);
}

static uint8_t in8(unsigned port)
{
	uint8_t v;
	rtc_ops.read(rtc, port - 0x70, &v, 1);
	return v;
}

/* What Linux's CMOS_READ does: select, then read. */
static uint8_t cmos(uint8_t reg)
{
	out8(0x70, reg);
	return in8(0x71);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	out8(0x70, reg);
	out8(0x71, v);
}

Test(rtc, the_time_is_the_hosts_in_bcd_24_hour_by_default)
{
	cr_assert_eq(cmos(0x0B), 0x02, "register B: BCD, 24-hour");
	cr_assert_eq(cmos(0x00), 0x45);
	cr_assert_eq(cmos(0x02), 0x07);
	cr_assert_eq(cmos(0x04), 0x21);
	cr_assert_eq(cmos(0x06), 0x01, "Sunday is day 1");
	cr_assert_eq(cmos(0x07), 0x06);
	cr_assert_eq(cmos(0x08), 0x12);
	cr_assert_eq(cmos(0x09), 0x26);
	cr_assert_eq(cmos(0x32), 0x20, "the century byte");
}

Test(rtc, binary_mode_and_12_hour_mode_follow_register_b)
{
	cmos_write(0x0B, 0x06); /* binary, 24-hour */
	cr_assert_eq(cmos(0x00), 45);
	cr_assert_eq(cmos(0x04), 21);
	cr_assert_eq(cmos(0x09), 26);
	cmos_write(0x0B, 0x04); /* binary, 12-hour: 21 h is 9 PM */
	cr_assert_eq(cmos(0x04), 0x80 | 9);
	cmos_write(0x0B, 0x00); /* BCD, 12-hour */
	cr_assert_eq(cmos(0x04), 0x89);
}

Test(rtc, the_clock_runs_with_the_host)
{
	fake_ns += 15ull * 1000000000ull; /* 21:08:00.5 */
	cr_assert_eq(cmos(0x00), 0x00);
	cr_assert_eq(cmos(0x02), 0x08);
}

/* mc146818_get_time: read seconds, check UIP, read seconds again. UIP is set only in the last
 * 244 us of a second, and falls when the second has changed. */
Test(rtc, uip_is_set_only_just_before_the_second_changes)
{
	cr_assert_eq(cmos(0x0A), 0x26, "power-on register A, UIP clear");
	fake_ns += 499800000ull; /* 45.9998 s: 200 us before the update */
	cr_assert_eq(cmos(0x0A) & 0x80, 0x80);
	cr_assert_eq(cmos(0x00), 0x45);
	fake_ns += 300000ull; /* 46.0001 s */
	cr_assert_eq(cmos(0x0A) & 0x80, 0);
	cr_assert_eq(cmos(0x00), 0x46);
}

Test(rtc, register_d_says_the_clock_is_there_and_c_has_no_flags)
{
	cr_assert_eq(cmos(0x0D), 0x80, "VRT set, bit 6 clear: rtc_cmos's presence test");
	cr_assert_eq(cmos(0x0C), 0x00);
	cmos_write(0x0D, 0x00);
	cmos_write(0x0C, 0xFF);
	cr_assert_eq(cmos(0x0D), 0x80, "read-only");
	cr_assert_eq(rtc->ro_writes, 2);
}

/* mc146818_set_time: SET on, year, month, day, hours, minutes, seconds, SET off. */
Test(rtc, the_guest_sets_its_clock_with_set_and_it_runs_on_from_there)
{
	cmos_write(0x0B, 0x82);  /* SET: the clock stops */
	fake_ns += 3000000000ull;
	cr_assert_eq(cmos(0x00), 0x45, "frozen while SET");
	cmos_write(0x09, 0x24);
	cmos_write(0x08, 0x02);  /* February while the day still says 6: no roll-over */
	cmos_write(0x07, 0x29);  /* 29 February 2024 exists */
	cmos_write(0x04, 0x23);
	cmos_write(0x02, 0x59);
	cmos_write(0x00, 0x58);
	cmos_write(0x0B, 0x02);  /* SET off: runs from 2024-02-29 23:59:58 */
	fake_ns += 3000000000ull; /* 3 s later: 1 March 00:00:01 */
	cr_assert_eq(cmos(0x00), 0x01);
	cr_assert_eq(cmos(0x02), 0x00);
	cr_assert_eq(cmos(0x04), 0x00);
	cr_assert_eq(cmos(0x07), 0x01);
	cr_assert_eq(cmos(0x08), 0x03);
	cr_assert_eq(cmos(0x09), 0x24);
	cr_assert_eq(rtc->time_writes, 6);
}

Test(rtc, index_bit_7_is_the_nmi_mask_not_part_of_the_index)
{
	out8(0x70, 0x80 | 0x09);
	cr_assert(rtc->nmi_masked);
	cr_assert_eq(in8(0x71), 0x26, "still register 9, the year");
	out8(0x70, 0x09);
	cr_assert(!rtc->nmi_masked);
	cr_assert_eq(in8(0x70), 0xFF, "the index port is write-only");
}

Test(rtc, cmos_memory_holds_bytes_and_the_memory_size)
{
	cmos_write(0x40, 0xA5);
	cr_assert_eq(cmos(0x40), 0xA5);
	cr_assert_eq(cmos(0x15) | cmos(0x16) << 8, 640);
	cr_assert_eq(cmos(0x30) | cmos(0x31) << 8, 0xFFFF, "255 MiB above 1 MiB: capped at 64 MiB");
	cr_assert_eq(cmos(0x34) | cmos(0x35) << 8, (256 - 16) * 16);
}

/* Appendix C, K1: any index, any value, any width, in any order. */
Test(rtc, k1_any_access_is_defined)
{
	uint8_t w[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
	rtc_ops.write(rtc, 0, w, 4);
	rtc_ops.read(rtc, 1, w, 2);
	cr_assert_eq(w[0], 0xFF);
	cr_assert_eq(rtc->bad_width, 2);
	for (unsigned i = 0; i < 200000; i++) {
		out8(0x70, (uint8_t)(i * 131u));
		if (i & 1)
			out8(0x71, (uint8_t)(i * 7u));
		else
			(void)in8(0x71);
		fake_ns += 1000;
	}
	cr_assert_eq(cmos(0x0D), 0x80);
}

/* Appendix C, K2: a date that is nonsense (BCD digits above 9, month 0 or 99) is normalised by
 * the C library's timegm, never used as an index, and the clock still reads valid BCD. */
Test(rtc, k2_a_nonsense_date_is_normalised)
{
	cmos_write(0x0B, 0x82);
	cmos_write(0x08, 0xFF);
	cmos_write(0x07, 0x00);
	cmos_write(0x32, 0xFF);
	cmos_write(0x04, 0xEE);
	cmos_write(0x0B, 0x02);
	for (uint8_t reg = 0; reg <= 9; reg += (reg < 6 ? 2 : 1)) {
		uint8_t v = cmos(reg);
		cr_assert((v & 0x0F) <= 9 && (v >> 4) <= 9, "register %u reads 0x%02x", reg, v);
	}
}
