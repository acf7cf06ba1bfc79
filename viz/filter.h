/*
 * filter.h - which events the Timeline shows, and text search over events.
 *
 * A filter is typed as words, all of which must hold (an AND): `kind=exit reason=io
 * port=0x3f8 vcpu=0`, also `dev=virtio-blk`, `port=0x1f0-0x1f7` (a range), `addr=` (same as
 * port=: the field is the port for I/O and the address for MMIO). Names are hv trace dump's
 * words (hvt_kind_name, hvt_reason_name, viz_device_name). Search is a case-insensitive
 * substring of the event's `hv trace dump` line, so what a student sees is what they can find.
 */
#ifndef VIZ_FILTER_H
#define VIZ_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct filter {
	int active;          /* 0: everything matches */
	int kind;            /* -1: any */
	int reason;          /* -1: any (exit reason for exits, op for vq/disk/irq/ring) */
	int dev;             /* -1: any, else enum viz_dev */
	int has_addr;
	uint64_t addr_lo, addr_hi; /* inclusive */
	int vcpu;            /* -1: any; HVT_VCPU_IOTHREAD/TIMER by the names iothread/timer */
	char text[128];      /* what the user typed, to show it */
};

/* Parse TEXT (empty: no filter). Returns 0, or -1 with a one-line reason in err naming the
 * bad word and the words that are allowed. */
int filter_parse(const char *text, struct filter *f, char *err, size_t errlen);
int filter_match(const struct filter *f, const struct hvt_record *r);

/* Does the dump line of r contain needle (case-insensitive)? An empty needle matches nothing. */
int search_match(const char *needle, const struct hvt_record *r);

#endif
