/*
 * rtc.c - the CMOS real-time clock: how a PC knows the date when it is switched on.
 *
 * Concept: a PC keeps the time of day while it is off in a small chip with a battery, the
 * Motorola MC146818 of the IBM PC/AT (today a part of every chipset). Software reaches it
 * through two ports: a write to 0x70 selects one of 128 byte registers, and 0x71 reads or
 * writes the selected one. Registers 0x00-0x09 hold seconds, minutes, hours, day of week, day
 * of month, month and year; A-D (0x0A-0x0D) are control and status; the rest is "CMOS
 * memory", where the BIOS kept its settings. Bit 7 of the index byte is not part of the index:
 * on a PC it switches the CPU's NMI input off (a wiring accident of the AT that every chipset
 * kept). Linux reads the clock once at boot to set its own (it then counts with the TSC), and
 * its rtc_cmos driver offers it as /dev/rtc0 to `hwclock` and `date`.
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
 *
 * What hv answers:
 *   - the time is the host's clock in UTC (what Linux assumes of a PC's clock, and QEMU's
 *     default), plus an offset that starts at 0 and changes when the guest sets its clock;
 *   - register B chooses BCD or binary numbers (bit 2) and 24 or 12 hours (bit 1); hv starts
 *     as a BIOS leaves it: BCD, 24-hour (0x02). Linux's rtc_cmos refuses 12-hour mode;
 *   - register A's UIP bit ("update in progress") is set in the last 244 us of every second,
 *     as on the chip: Linux's mc146818_get_time reads the seconds, checks UIP, reads again,
 *     and retries if the second changed, so it never sees a half-updated time;
 *   - register D bit 7 ("valid RAM and time": the battery is good) is 1 and bit 6 is 0: that
 *     is the "is anybody there" test of rtc_cmos (a missing chip reads 0xFF there, and Linux
 *     printed "rtc_cmos: broken or not accessible" on hv before this file existed);
 *   - register B's SET bit freezes the clock while the guest writes a new time, as on the chip;
 *     clearing it starts the clock from what was written;
 *   - byte 0x32 is the century (the IBM convention; ACPI names the byte) and bytes 0x15-0x18,
 *     0x30-0x31 and 0x34-0x35 the memory size, as a PC BIOS writes them.
 * Not modelled: interrupts (IRQ 8: alarm, periodic, update-ended) and the flags of register C,
 * which read 0; the divider bits of register A (stored; the clock always runs); daylight
 * saving (bit 0 of B is stored, nothing changes).
 * Appendix C, C.7 rows: K1 any index, value, width or order is defined; K2 a date written as
 * nonsense (BCD digits above 9, month 13) is normalised, never indexes a table.
 */
#include "dev/rtc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Register numbers, as the data sheet names them. */
enum {
	REG_SEC = 0x00, REG_MIN = 0x02, REG_HOUR = 0x04, REG_WDAY = 0x06, REG_MDAY = 0x07,
	REG_MON = 0x08, REG_YEAR = 0x09, REG_A = 0x0A, REG_B = 0x0B, REG_C = 0x0C, REG_D = 0x0D,
	REG_CENTURY = 0x32,
};

#define A_UIP      0x80u /* update in progress (read-only) */
#define A_DV_32K   0x20u /* divider bits 6-4 = 010: the 32.768 kHz crystal, clock running */
#define A_RS_1024  0x06u /* rate select: 1024 Hz periodic rate (unused: no interrupts) */
#define B_SET      0x80u /* stop updates: the guest is writing the time */
#define B_DM_BIN   0x04u /* data mode: 1 = binary, 0 = BCD */
#define B_24H      0x02u /* 1 = 24-hour, 0 = 12-hour with bit 7 of the hour = PM */
#define D_VRT      0x80u /* valid RAM and time: the battery is good */
#define HOUR_PM    0x80u

#define NS_PER_S 1000000000ull

/* ---- numbers in the registers: BCD or binary ---- */

/*
 * BCD (binary-coded decimal) puts one decimal digit in each half of the byte: 59 is 0x59.
 * Clock chips of the 1980s used it because a display can show each half directly. A guest
 * picks BCD or binary with register B bit 2; every time register follows it.
 */
static uint8_t rtc_encode(const struct rtc *r, unsigned v)
{
	if (r->cmos[REG_B] & B_DM_BIN)
		return (uint8_t)v;
	return (uint8_t)((v / 10) << 4 | v % 10); /* v <= 99 here, except a frozen oddity (K2) */
}

/* A written byte as a number. Nonsense BCD (0xFF: "digits" 15 and 15) decodes to 165: no
 * table is indexed with it, timegm normalises it (K2). */
static int rtc_decode(const struct rtc *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_DM_BIN)
		return v;
	return (v >> 4) * 10 + (v & 0x0F);
}

/* The hour register: 0-23, or in 12-hour mode 1-12 with bit 7 meaning PM. */
static uint8_t rtc_encode_hour(const struct rtc *r, int hour)
{
	if (r->cmos[REG_B] & B_24H)
		return rtc_encode(r, (unsigned)hour);
	unsigned h12 = hour % 12 == 0 ? 12u : (unsigned)hour % 12u;
	return (uint8_t)(rtc_encode(r, h12) | (hour >= 12 ? HOUR_PM : 0));
}

static int rtc_decode_hour(const struct rtc *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_24H)
		return rtc_decode(r, v);
	return rtc_decode(r, v & 0x7F) % 12 + ((v & HOUR_PM) ? 12 : 0);
}

/* ---- the clock ---- */

static bool rtc_frozen(const struct rtc *r)
{
	return r->cmos[REG_B] & B_SET;
}

/* The host's time in whole seconds, and the guest's: host + offset. */
static int64_t host_seconds(const struct rtc *r)
{
	return (int64_t)(r->wall_ns() / NS_PER_S);
}

/* The date and time the registers show now: the frozen copy while SET is on. */
static struct tm rtc_now(const struct rtc *r)
{
	if (rtc_frozen(r))
		return r->frozen;
	time_t t = (time_t)(host_seconds(r) + r->offset_s);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm)); /* cannot happen: offsets are bounded (K2) */
	return tm;
}

/* Start the clock from a date: the offset becomes "that date minus the host's now". A date
 * timegm cannot represent is ignored (the clock keeps its old offset). */
static void rtc_set_clock(struct rtc *r, struct tm *tm)
{
	time_t t = timegm(tm);
	if (t == (time_t)-1)
		return;
	r->offset_s = (int64_t)t - host_seconds(r);
}

/*
 * UIP: set during the last RTC_UIP_NS of each second, while the clock runs (not frozen, divider
 * at 32.768 kHz). The chip raises it before the update so that software that saw UIP = 0 has at
 * least 244 us to read the time safely. hv's time changes in one step at the second, so the
 * registers are never half updated; UIP is there because Linux's reading loop expects it to
 * behave, and a clock whose UIP never fell would make Linux wait forever.
 */
static bool rtc_update_in_progress(const struct rtc *r)
{
	if (rtc_frozen(r) || (r->cmos[REG_A] & 0x70) != A_DV_32K)
		return false;
	return r->wall_ns() % NS_PER_S >= NS_PER_S - RTC_UIP_NS;
}

/* ---- register reads and writes ---- */

static uint8_t rtc_read_time(const struct rtc *r, unsigned reg)
{
	struct tm tm = rtc_now(r);
	switch (reg) {
	case REG_SEC: return rtc_encode(r, (unsigned)tm.tm_sec % 100);
	case REG_MIN: return rtc_encode(r, (unsigned)tm.tm_min % 100);
	case REG_HOUR: return rtc_encode_hour(r, tm.tm_hour % 24);
	case REG_WDAY: return rtc_encode(r, (unsigned)tm.tm_wday % 7 + 1); /* 1 = Sunday */
	case REG_MDAY: return rtc_encode(r, (unsigned)tm.tm_mday % 100);
	case REG_MON: return rtc_encode(r, (unsigned)(tm.tm_mon + 1) % 100);
	case REG_YEAR: return rtc_encode(r, (unsigned)(tm.tm_year + 1900) % 100);
	default: return rtc_encode(r, (unsigned)(tm.tm_year + 1900) / 100 % 100); /* century */
	}
}

/*
 * The guest sets its clock (Linux: `hwclock --systohc`, and every 11 minutes when NTP keeps
 * time). Linux does it as the data sheet asks: SET on, write the registers, SET off. While SET
 * is on, each byte only changes the frozen copy, field by field, so "month = 2" written while
 * the day still says 31 is not rolled over to March before the day is written. Without SET, one
 * byte changes the running clock at once (the date is normalised: 31 February is 3 March).
 */
static void rtc_write_time(struct rtc *r, unsigned reg, uint8_t v)
{
	struct tm tm = rtc_now(r);
	int century = (tm.tm_year + 1900) / 100;
	switch (reg) {
	case REG_SEC: tm.tm_sec = rtc_decode(r, v); break;
	case REG_MIN: tm.tm_min = rtc_decode(r, v); break;
	case REG_HOUR: tm.tm_hour = rtc_decode_hour(r, v); break;
	case REG_WDAY: tm.tm_wday = (rtc_decode(r, v) + 6) % 7; break; /* timegm recomputes it */
	case REG_MDAY: tm.tm_mday = rtc_decode(r, v); break;
	case REG_MON: tm.tm_mon = rtc_decode(r, v) - 1; break;
	case REG_YEAR: tm.tm_year = century * 100 + rtc_decode(r, v) - 1900; break;
	default: tm.tm_year = rtc_decode(r, v) * 100 + (tm.tm_year + 1900) % 100 - 1900; break;
	}
	r->time_writes++;
	if (rtc_frozen(r))
		r->frozen = tm;
	else
		rtc_set_clock(r, &tm);
}

/* Register B. SET rising freezes the time the guest sees; SET falling starts the clock from
 * the (maybe rewritten) frozen time. */
static void rtc_write_b(struct rtc *r, uint8_t v)
{
	bool was = rtc_frozen(r);
	if (!was && (v & B_SET))
		r->frozen = rtc_now(r);
	r->cmos[REG_B] = v;
	if (was && !(v & B_SET))
		rtc_set_clock(r, &r->frozen);
}

static bool is_time_reg(unsigned reg)
{
	return reg <= REG_YEAR ? reg % 2 == 0 || reg >= REG_WDAY : reg == REG_CENTURY;
}

static uint8_t rtc_read_reg(struct rtc *r, unsigned reg)
{
	if (is_time_reg(reg))
		return rtc_read_time(r, reg);
	switch (reg) {
	case REG_A: return (uint8_t)((r->cmos[REG_A] & 0x7F) | (rtc_update_in_progress(r) ? A_UIP : 0));
	case REG_C: return 0;     /* no interrupt flags: hv raises no IRQ 8 */
	case REG_D: return D_VRT; /* the battery is good; bit 6 is 0 (Linux checks it) */
	default: return r->cmos[reg]; /* B, the alarm bytes 1, 3, 5, and CMOS memory */
	}
}

static void rtc_write_reg(struct rtc *r, unsigned reg, uint8_t v)
{
	if (is_time_reg(reg)) {
		rtc_write_time(r, reg, v);
		return;
	}
	switch (reg) {
	case REG_A: r->cmos[REG_A] = v & 0x7F; break; /* UIP is read-only */
	case REG_B: rtc_write_b(r, v); break;
	case REG_C:
	case REG_D: r->ro_writes++; break;
	default: r->cmos[reg] = v; break;
	}
}

/* ---- device_ops ---- */

/* Port 0x70 is write-only on a PC: reading it gives the undriven bus, 0xFF. Port 0x71 reads
 * the selected register. Every register is a byte: wider accesses read all ones (K1). */
static void rtc_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct rtc *r = dev;
	if (size != 1 || offset != 1) {
		if (size != 1)
			r->bad_width++;
		memset(data, 0xFF, size);
		return;
	}
	data[0] = rtc_read_reg(r, r->index);
}

/* Port 0x70: bits 6-0 select the register (so the index can never leave cmos[], K1), bit 7 is
 * the NMI mask. Port 0x71: write the selected register. */
static void rtc_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct rtc *r = dev;
	if (size != 1) {
		r->bad_width++;
		return;
	}
	if (offset == 0) {
		r->index = data[0] & 0x7F;
		r->nmi_masked = data[0] & 0x80;
		return;
	}
	rtc_write_reg(r, r->index, data[0]);
}

const struct device_ops rtc_ops = {
	.name = "rtc-cmos",
	.read = rtc_read,
	.write = rtc_write,
	.reset = NULL, /* the clock and the CMOS memory survive a reset: that is what a battery is for */
};

/* ---- create ---- */

/*
 * The memory size in CMOS, as a BIOS writes it at power-on (old boot loaders and DOS read
 * it): 0x15-0x16 base memory in KiB (640), 0x17-0x18 and 0x30-0x31 memory above 1 MiB in KiB
 * (at most 0xFFFF), 0x34-0x35 memory above 16 MiB in 64 KiB blocks (the Bochs/QEMU convention).
 */
static void rtc_set_memory(struct rtc *r, uint32_t mem_mib)
{
	uint32_t ext_kib = mem_mib > 1 ? (mem_mib - 1) * 1024u : 0;
	uint32_t ext16 = mem_mib > 16 ? (mem_mib - 16) * 16u : 0;
	if (ext_kib > 0xFFFF)
		ext_kib = 0xFFFF;
	if (ext16 > 0xFFFF)
		ext16 = 0xFFFF;
	r->cmos[0x15] = 640 & 0xFF;
	r->cmos[0x16] = 640 >> 8;
	r->cmos[0x17] = r->cmos[0x30] = (uint8_t)ext_kib;
	r->cmos[0x18] = r->cmos[0x31] = (uint8_t)(ext_kib >> 8);
	r->cmos[0x34] = (uint8_t)ext16;
	r->cmos[0x35] = (uint8_t)(ext16 >> 8);
}

uint64_t rtc_host_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

struct rtc *rtc_create(uint64_t (*wall_ns)(void), uint32_t mem_mib)
{
	struct rtc *r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	r->wall_ns = wall_ns;
	r->cmos[REG_A] = A_DV_32K | A_RS_1024; /* 0x26: the power-on value every BIOS sets */
	r->cmos[REG_B] = B_24H;                /* 0x02: BCD, 24-hour, no interrupts */
	rtc_set_memory(r, mem_mib);
	return r;
}

void rtc_destroy(struct rtc *r)
{
	free(r);
}
