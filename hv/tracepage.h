/*
 * tracepage.h - hv's side of the para-virtual trace page: registering it, draining it into the
 * trace, and refusing a damaged one. The page format itself (shared with guests) is pvtrace.h.
 * Textbook: chapter 5 "A guest OS", section "Seeing ring changes: the trace page".
 */
#ifndef HV_TRACEPAGE_H
#define HV_TRACEPAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "guestmem.h"
#include "pvtrace.h"
#include "trace.h"

/* What a hostile (or buggy) guest did to its page: the data of an HVT_GUEST_ERROR record at
 * port HV_PORT_PVTRACE. Rows P1-P4 of textbook appendix C (tracepage.c). */
enum tracepage_error {
	TP_GE_BAD_ADDRESS = 1, /* P1 registered address not page-aligned or not all RAM: arg = it */
	TP_GE_BAD_HEADER = 2,  /* P2 magic, version, record size or capacity wrong: arg = magic */
	TP_GE_HEAD_JUMP = 3,   /* P3 head - tail > capacity: arg = head - tail; hv resyncs */
	TP_GE_BAD_RECORD = 4,  /* P4 kind or CPL impossible: arg = kind << 8 | from << 4 | to */
	TP_GE_BAD_WIDTH = 5,   /* the port takes one 32-bit OUT; other accesses are refused */
};

/* Turning the guest's TSC into trace time at one drain (see tracepage.c, "The clock"). */
struct tracepage_clock {
	uint64_t guest_tsc; /* the guest's TSC now (KVM_GET_MSRS IA32_TSC) */
	uint64_t now_ns;    /* the trace clock at the same instant */
	uint32_t tsc_khz;   /* KVM_GET_TSC_KHZ; 0: unknown, records get the exit's time */
	uint64_t floor_ns;  /* the last VM entry: every drained record is younger */
	uint64_t ceil_ns;   /* this exit: every drained record is older */
};

struct tracepage {
	const struct guest_mem *gm;
	struct trace_writer *trace; /* NULL: records are counted, not written */
	uint64_t page;              /* guest-physical address; 0: nothing registered */
	uint32_t tail;              /* hv's own count of consumed records (never the guest's) */
	bool header_bad;            /* P2 already reported for the current damage */
	uint64_t last_ns;           /* time of the last record written: trace time never goes back */
	uint8_t mode;               /* enum hvt_mode to stamp records with (the guest's last exit) */
	/* statistics for the summary and tests */
	uint64_t registrations, records, errors;
};

void tracepage_init(struct tracepage *tp, const struct guest_mem *gm, struct trace_writer *trace);

/* The port's device: an OUT32 of a page address registers it (or asks for a drain). */
extern const struct device_ops tracepage_ops;
#define TRACEPAGE_LEN 4u

/* Check the page at an exit: reports a damaged header (P2, once) or a head that jumped (P3,
 * then resyncs), and returns how many new records wait (0 if none, or if damaged). */
unsigned tracepage_poll(struct tracepage *tp);

/* Read every new record into the trace (if there is one), validated, and give the slots back
 * to the guest. Returns the number of valid records drained. */
unsigned tracepage_drain(struct tracepage *tp, const struct tracepage_clock *clk);

#endif
