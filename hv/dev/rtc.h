/*
 * rtc.h - the CMOS real-time clock (MC146818 and its successors) at ports 0x70/0x71: the PC's
 * time of day, its 128 bytes of battery-backed CMOS memory, and the NMI mask bit. rtc.c is the
 * device; this is its interface.
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
 *
 * The struct is public so hv and the tests can print its counters; only rtc.c changes its
 * fields. rtc_create allocates one fixed-size struct (never an amount a guest chooses) and
 * returns NULL with errno = ENOMEM on failure. Only the vCPU thread touches it: no lock.
 */
#ifndef HV_DEV_RTC_H
#define HV_DEV_RTC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bus.h"

#define RTC_LEN       2u    /* 0x70 index (and NMI mask), 0x71 data */
#define RTC_CMOS_SIZE 128u  /* registers 0x00-0x0D and 114 bytes of CMOS memory */
/* The "update in progress" flag rises this long before each second ticks over (data sheet:
 * 244 us at the 32.768 kHz time base), so a reader knows the registers are about to change. */
#define RTC_UIP_NS    244000u

struct rtc {
	uint64_t (*wall_ns)(void); /* the host's wall clock, ns since 1970 UTC (tests: their own) */
	uint8_t index;          /* register selected by the last write to 0x70 (bits 6-0) */
	bool nmi_masked;        /* bit 7 of that write: "NMI off" (hv has no NMI source) */
	uint8_t cmos[RTC_CMOS_SIZE]; /* registers A, B, the alarm bytes and CMOS memory */
	int64_t offset_s;       /* the guest's clock minus the host's: 0 until the guest sets it */
	struct tm frozen;       /* register B's SET bit is on: the time as the guest sees/writes it */
	/* counters */
	uint64_t time_writes;   /* writes to the time and date registers (the guest set its clock) */
	uint64_t ro_writes;     /* writes to the read-only registers C and D (ignored) */
	uint64_t bad_width;     /* accesses wider than one byte */
};

extern const struct device_ops rtc_ops; /* at HV_PORT_RTC, RTC_LEN */

/* An RTC on the given wall clock, showing the host's time in UTC. mem_mib: the guest's RAM,
 * written into the CMOS memory-size bytes as a PC BIOS does. */
struct rtc *rtc_create(uint64_t (*wall_ns)(void), uint32_t mem_mib);
void rtc_destroy(struct rtc *r);

/* The host's wall clock (CLOCK_REALTIME) in ns: what board.c gives rtc_create. */
uint64_t rtc_host_clock(void);

#endif
