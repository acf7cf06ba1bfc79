/*
 * virtq.h - the split virtqueue: the shared-memory ring a virtio driver and device talk through.
 *
 * Concept: para-virtualization replaces "emulate every register access" by "agree on a data
 * structure in guest RAM". The guest's driver writes requests into three rings, rings one
 * doorbell, and the device (hv) walks the rings and does all the work in one go. One exit per
 * batch instead of one exit per byte. Textbook: chapter 4 "Two I/O paths", section "One
 * request, step by step"; virtio 1.1 specification, section 2.6 "Split Virtqueues".
 *
 * The three areas, all in guest RAM, all little-endian (virtio 1.x), for a queue of N entries:
 *
 *   descriptor table  16 * N bytes, 16-byte aligned, written by the driver
 *       struct { le64 addr; le32 len; le16 flags; le16 next; } desc[N]
 *       flags: NEXT (1) "the chain continues at desc[next]", WRITE (2) "device writes here",
 *              INDIRECT (4) "addr points to a table of descriptors" (not offered by hv)
 *   available ring    6 + 2 * N bytes, 2-byte aligned, written by the driver ("driver area")
 *       le16 flags (bit 0 NO_INTERRUPT); le16 idx; le16 ring[N]; le16 used_event
 *   used ring         6 + 8 * N bytes, 4-byte aligned, written by the device ("device area")
 *       le16 flags; le16 idx; struct { le32 id; le32 len; } ring[N]; le16 avail_event
 *
 * avail.idx and used.idx are free-running 16-bit counters: entry k lives in ring[k % N], and
 * "how many are new" is (uint16_t)(idx - last_seen), which is correct across the wrap at 65536
 * because N is a power of two dividing 65536.
 *
 * This file is pure logic: no KVM, no virtio-blk. Guest memory is reached only through
 * gm_ptr/gm_read/gm_write, so unit tests (and a fuzzer) drive it with a synthetic guest_mem.
 * Every step is traced as an HVT_VQ record (trace.h) and every refusal as HVT_VQ_ERROR with the
 * textbook appendix C row (Q1-Q13, T4, T5) it defends.
 */
#ifndef HV_VIRTQ_H
#define HV_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "guestmem.h"
#include "trace_write.h"

/* The largest queue hv offers (QueueNumMax). It also bounds a chain: a chain can use each
 * descriptor at most once, so it never has more than N links (appendix C, Q4, R2). */
#define VIRTQ_NUM_MAX 128u

#define VIRTQ_DESC_F_NEXT     1u
#define VIRTQ_DESC_F_WRITE    2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u

#define VIRTQ_DESC_SIZE 16u

/* Alignment the spec requires of each area (virtio 1.1, section 2.6, table "Virtqueue Part"). */
#define VIRTQ_DESC_ALIGN  16u
#define VIRTQ_AVAIL_ALIGN 2u
#define VIRTQ_USED_ALIGN  4u

/* One buffer of a parsed chain: a validated copy of one descriptor plus its host pointer. */
struct virtq_buf {
	uint64_t gpa;
	uint8_t *host;   /* gm_ptr(gpa, len): the whole buffer is RAM in one slot */
	uint32_t len;    /* never 0: zero-length descriptors are skipped (appendix C, Q8) */
	bool writable;   /* VIRTQ_DESC_F_WRITE: the device writes, the driver reads */
};

/*
 * A descriptor chain as the device uses it: device-readable buffers first (buf[0..nread)),
 * then device-writable ones (buf[nread..n)); the parser guarantees this order (Q7). A fixed
 * array: parsing never allocates, whatever lengths the guest chose (R2).
 */
struct virtq_chain {
	uint16_t head;              /* the id the device reports back in the used ring */
	uint16_t n, nread;
	uint32_t readable_bytes;    /* sum of the readable buffers' lengths (checked, Q5) */
	uint32_t writable_bytes;
	struct virtq_buf buf[VIRTQ_NUM_MAX];
};

/* Everything the device remembers about one queue. */
struct virtq {
	/* fixed at init */
	const struct guest_mem *mem;
	struct trace_writer *trace;
	uint8_t index;              /* queue number, the `size` field of every HVT_VQ record */

	/* configured by the driver (QueueNum, QueueDesc*, QueueDriver*, QueueDevice*) */
	uint16_t num;
	uint64_t desc, avail, used;
	bool ready;                 /* QueueReady = 1 accepted: the areas were validated */

	/* device state */
	uint16_t last_avail;        /* avail ring entries consumed so far (free-running) */
	uint16_t used_idx;          /* used ring entries published so far (free-running) */
	uint16_t todo;              /* entries left in this notify's avail.idx snapshot (Q12) */
	uint16_t pushed;            /* used entries published during this notify */
	bool broken;                /* a ring-level error happened: stop until reset */

	/* counters */
	uint64_t errors;            /* HVT_VQ_ERROR records written by this queue */
	uint64_t chains;            /* chains handed to the device */
};

/* Result of virtq_pop. */
enum virtq_pop_result {
	VIRTQ_RING_ERROR = -1, /* the ring itself is corrupt (Q2): the device must NEEDS_RESET */
	VIRTQ_EMPTY = 0,       /* nothing left of this notify's snapshot */
	VIRTQ_CHAIN = 1,       /* *chain is a valid chain for the device to execute */
	VIRTQ_REJECTED = 2,    /* a malformed chain (Q3-Q9) was completed with used len 0 */
};

/* What virtq_end decided about the used-buffer notification. */
enum virtq_irq { VIRTQ_IRQ_NONE = 0, VIRTQ_IRQ_SEND = 1, VIRTQ_IRQ_SUPPRESSED = 2 };

/* A queue in its reset state for guest memory `mem`, tracing to `trace` (may be NULL). */
void virtq_init(struct virtq *q, const struct guest_mem *mem, struct trace_writer *trace,
		uint8_t index);
/* Device reset: forget the configuration and all progress; keep mem, trace, index. */
void virtq_reset(struct virtq *q);

/* One traced refusal (HVT_VQ_ERROR): err = enum hvt_vq_error, index and detail per trace.h. */
void virtq_error(struct virtq *q, uint64_t addr, enum hvt_vq_error err, uint32_t index,
		 uint64_t detail);

/*
 * QueueReady = 1: check the size (T4: 1..num_max, a power of two) and the three areas (T5:
 * aligned, every byte RAM, no address arithmetic that wraps). Returns 0 and traces READY, or
 * returns the hvt_vq_error code (the queue stays not ready) after tracing the ERROR.
 */
int virtq_activate(struct virtq *q, uint16_t num_max);

/*
 * Start of one notify: snapshot avail.idx once (trace AVAIL_IDX) and check it moved by at most
 * N (Q1). Returns the number of chains to take (0..N), or -1 for a ring-level error.
 */
int virtq_begin(struct virtq *q);

/* Take and parse the next chain of the snapshot (see enum virtq_pop_result). */
enum virtq_pop_result virtq_pop(struct virtq *q, struct virtq_chain *chain);

/* Return chain `head` to the driver: used element {head, len}, then used.idx. 0 or -1 (the
 * used ring is no longer RAM: ring-level error). */
int virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* End of one notify: were buffers used, and does the driver want an interrupt (Q13)? */
enum virtq_irq virtq_end(struct virtq *q);

/* Sizes of the areas for a queue of `num` entries (virtio 1.1, section 2.6). */
uint64_t virtq_desc_bytes(uint16_t num);
uint64_t virtq_avail_bytes(uint16_t num);
uint64_t virtq_used_bytes(uint16_t num);

#endif
