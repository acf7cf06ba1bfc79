/*
 * model.h - hvviz's trace model: a trace file opened through mmap, checked, and indexed.
 *
 * Concept: a trace is a long list of small events (hv/trace.h); a person looks at a few dozen
 * at a time. So the model never copies the file: it maps it, checks every record once while
 * building a small index (counts for the Stats view, request boundaries for Compare, virtqueue
 * checkpoints for the Virtqueue view), and decodes a record only when a view asks for it. A
 * 10-million-event trace (640 MB) opens in well under a second and the model stays far below
 * 100 MB (`make bench`). Nothing here draws: the views (viz/view_*.c) only read the model, and
 * the unit tests (tests/unit/test_model.c) drive it without a terminal.
 * Textbook: appendix A "The trace format"; chapter 6 "Watching it happen" (hvviz).
 */
#ifndef VIZ_MODEL_H
#define VIZ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "trace_read.h"
#include "requests.h"
#include "vqstate.h"

#define MODEL_NONE UINT64_MAX /* "no such event" from the search functions */

/*
 * The device an exit was for, from its port or MMIO address (hv/layout.h). The Stats view's
 * "exits by device" and the timeline filter use it.
 */
enum viz_dev {
	VIZ_DEV_NONE = 0,   /* not a port/MMIO exit (HLT, debug, ...) */
	VIZ_DEV_UART,       /* 0x3F8-0x3FF */
	VIZ_DEV_ATA,        /* 0x1F0-0x1F7, 0x3F6 */
	VIZ_DEV_VIRTIO_BLK, /* the virtio-mmio window at HV_MMIO_VIRTIO_BLK */
	VIZ_DEV_PIC,        /* 0x20-0x21, 0xA0-0xA1, ELCR 0x4D0-0x4D1 */
	VIZ_DEV_PIT,        /* 0x40-0x43, and 0x61 (counter 2's gate and output) */
	VIZ_DEV_EXIT,       /* 0xF4 */
	VIZ_DEV_DEBUGCON,   /* 0xE9 */
	VIZ_DEV_TESTDEV,    /* port 0x500-0x503 and the test MMIO page */
	VIZ_DEV_PVTRACE,    /* port 0x528: trace-page registration */
	VIZ_DEV_STEPTRAP,   /* port 0x80 used by step mode */
	VIZ_DEV_RTC,        /* 0x70-0x71: the CMOS clock */
	VIZ_DEV_I8042,      /* 0x60 and 0x64: the keyboard controller */
	VIZ_DEV_ACPIPM,     /* 0x600-0x605: the ACPI PM1 registers (Linux guests, chapter 11) */
	VIZ_DEV_UNCLAIMED,  /* a port/address no device owns */
	VIZ_DEV_MAX
};
enum viz_dev viz_device_of(const struct hvt_record *r);
const char *viz_device_name(enum viz_dev d); /* "uart", "ata", "virtio-blk", ... */

/* Totals gathered while the file is checked; the Stats view draws these. */
struct model_stats {
	uint64_t by_kind[HVT_KIND_MAX + 1];
	uint64_t exits_by_reason[HVT_REASON_MAX + 1];
	uint64_t exits_by_device[VIZ_DEV_MAX];
	uint64_t hv_ns_by_reason[HVT_REASON_MAX + 1]; /* sum of duration_ns: time in hv */
	uint64_t vq_by_op[HVT_VQ_OP_MAX + 1];
	uint64_t disk_by_op[HVT_DISK_OP_MAX + 1];
	uint64_t irq_by_op[HVT_IRQ_OP_MAX + 1];
	uint64_t counters[HVT_C_MAX + 1]; /* KVM statistics (HVT_COUNTER records), last value */
	uint64_t guest_ns;  /* time the guest ran: each ENTRY to the next EXIT */
	uint64_t last_ns;   /* time_ns of the last record */
	/* seq of the trace's first RUN_CALL and first ENTRY (valid once seen_run_call, seen_entry are 1): they
	 * start the guest rather than come back from an exit (viz/sixstep.h, struct sixstep_ctx) */
	uint64_t first_run_call, first_entry;
	int seen_run_call, seen_entry;
	uint64_t last_entry_ns; /* internal: the open ENTRY, for guest_ns */
	int in_guest;           /* internal */
};

struct model {
	char path[4096];
	int fd;
	const uint8_t *map;   /* the whole file, read-only (NULL when the file has no records) */
	size_t map_len;
	struct trace_header header;
	uint64_t count;       /* records checked and indexed: valid indices are 0..count-1 */
	int live;             /* the file is still being written (hv run --viz) */
	struct model_stats stats;
	struct requests requests; /* disk requests, for Compare (requests.h) */
	struct vq_index vq;       /* virtqueue checkpoints (vqstate.h) */
};

/*
 * Open and check PATH. live = 0: the whole file must be a valid trace (a partial last record
 * is "truncated"). live = 1: hv is still writing it, so a partial last record is simply not
 * there yet. Returns 0, or -1 with a one-line reason in err (without the program name), e.g.
 * "'x.txt' is not an hvlab trace (bad magic); record one with 'hv run --trace FILE'".
 */
int model_open(struct model *m, const char *path, int live, char *err, size_t errlen);
/* Live: check and index the records appended since the last call. Returns how many are new
 * (0 if none), or -1 with a reason when a new record is bad. */
int64_t model_refresh(struct model *m, char *err, size_t errlen);
void model_close(struct model *m);

/*
 * The three kinds of exit hvviz names everywhere (Compare, Stats; textbook chapter 6,
 * "Compare"): device exits reached hv at the disk controller (requests_is_device_exit), other
 * exits reached hv anywhere else (console, timer, HLT), in-kernel exits never reached hv: KVM's
 * own exit counter minus the exits hv saw. model_kernel_exits returns 0 and sets *out when the
 * trace has that counter and it is not below hv's count, else -1 (a live trace before the end,
 * a kernel without binary statistics, a damaged file).
 */
uint64_t model_device_exits(const struct model *m);
uint64_t model_other_exits(const struct model *m);
int model_kernel_exits(const struct model *m, uint64_t *out);

/* Record i (i < m->count), decoded from the mapping. */
void model_get(const struct model *m, uint64_t i, struct hvt_record *out);

/*
 * Give back the pages of the file that reading records has mapped into our memory (they stay
 * in the kernel's page cache, so the next model_get is still fast). Without it, jumping around
 * a big trace slowly maps all of it: RSS grows towards the file size. The main loop calls it
 * after each jump (search, goto, Compare); model_find calls it itself.
 */
void model_trim(const struct model *m);

/*
 * The next (dir = +1) or previous (dir = -1) record after `from` (exclusive) for which
 * match(rec, arg) is true, or MODEL_NONE. from = MODEL_NONE with dir = +1 starts at record 0.
 */
uint64_t model_find(const struct model *m, uint64_t from, int dir,
		    int (*match)(const struct hvt_record *r, void *arg), void *arg);

#endif
