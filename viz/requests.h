/*
 * requests.h - a trace cut into disk requests, so two I/O paths can be compared request by
 * request (hvviz's Compare view).
 *
 * Concept: the diskio guest issues the same requests (IDENTIFY/GET_ID, 16 writes, a flush,
 * 16 reads) through either controller. On the legacy ATA path a request starts when the
 * driver writes a command to the command register (OUT to port 0x1F7); on the virtio path
 * the device takes a request off the avail ring (an HVT_VQ REQUEST record): the first
 * request of a doorbell starts at that doorbell (the notify write's exit, or the NOTIFY
 * record of an ioeventfd doorbell), a later one of the same doorbell at the avail-ring entry
 * its descriptor chain was taken from (HVT_VQ AVAIL_ENTRY). A request
 * lasts until the next one starts, so everything in between, data transfer, polling,
 * interrupts and acknowledgements, is charged to it. Events before the first request are the
 * set-up ("before the first request"), not a request.
 * Textbook: chapter 4 "Two I/O paths"; chapter 6 "Watching it happen", section "Compare".
 */
#ifndef VIZ_REQUESTS_H
#define VIZ_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

enum req_type { REQ_OTHER = 0, REQ_READ, REQ_WRITE, REQ_FLUSH, REQ_ID };

struct request {
	uint64_t start;      /* seq of its first event */
	uint64_t end;        /* seq one past its last event (the next request's start, or the
				end of the trace) */
	uint8_t type;        /* enum req_type */
	uint8_t path;        /* enum hvt_disk_dev: HVT_DISK_ATA or HVT_DISK_VIRTIO */
	uint8_t cmd;         /* what the driver asked, in its controller's words: the ATA
				command byte, or the virtio-blk request type (req_cmd_name) */
	uint32_t sectors;    /* sectors moved (0 for flush/id/unknown) */
	uint64_t sector;     /* first sector */
	/* Totals over [start, end): */
	uint64_t exits;       /* HVT_EXIT records (exits that reached hv) */
	uint64_t dev_exits;   /* of those, "device exits": to the disk controller itself (the
				 ATA ports or the virtio-blk window); the rest are "other exits"
				 (console, timer, HLT), textbook chapter 6 "Compare" */
	uint64_t transitions; /* mode transitions: EXIT, RUN_RETURN, RUN_CALL, ENTRY, RING */
	uint64_t ns;          /* time from its first event to the next request's first event
				 (or to the last event of the trace) */
};

struct requests {
	struct request *v;
	size_t n, cap;
	/* Totals of the events before the first request (boot and driver set-up). */
	uint64_t setup_exits, setup_dev_exits, setup_transitions;
	/* internal state of the incremental scan (requests.c explains each) */
	uint64_t next_seq;     /* seq the next record should have */
	uint64_t open_ns;      /* time_ns of the last request's first event */
	/* Where the next virtio request will start if one follows: its doorbell, or the avail-ring
	 * entry its chain was taken from; and what was counted since then (it moves with it). */
	int doorbell_open;     /* 0: nothing pending, 1: a doorbell, 2: an avail entry */
	uint64_t cand_seq, cand_ns, cand_exits, cand_dev_exits, cand_transitions;
	/* The ATA taskfile as the driver last wrote it (ports 0x1F2-0x1F6), and the last command. */
	uint8_t ata_nsect, ata_lba[3], ata_select;
	uint8_t ata_pending_cmd;
};

void requests_init(struct requests *rq);
/* Feed every record, in seq order (the model does this while it checks the file). Returns 0,
 * or -1 when out of memory. */
int requests_add(struct requests *rq, const struct hvt_record *r);
/* Close the last request at the end of what was fed (callable again after more records). */
void requests_finish(struct requests *rq, uint64_t count, uint64_t last_ns);
void requests_free(struct requests *rq);
const char *req_type_name(unsigned type); /* "read", "write", "flush", "identify", "other" */
/* The command as its controller names it: "IDENTIFY", "SET FEATURES", "GET_ID", "OUT"... */
const char *req_cmd_name(const struct request *q);
/* 1: r is an exit to the disk controller (ATA ports, virtio-blk window): a "device exit". */
int requests_is_device_exit(const struct hvt_record *r);

/*
 * Pairing two traces' requests for the Compare view (textbook chapter 6, "Compare"). Two
 * drivers of the same workload may ask for different things: Linux's pata_legacy identifies
 * the drive and flushes once more at the end, its virtio_blk does neither (chapter 11,
 * "Watching Linux"). So requests pair by what they do, the same kind of request (read, write,
 * flush, identify) on the same sectors, in order; a request with no partner is a step of its
 * own, present on one side only. Two identical sequences pair request N with request N.
 */
#define REQ_NONE SIZE_MAX /* a step's side that has no request */
struct req_step {
	size_t req[2]; /* the request index of each side, or REQ_NONE */
};
/* 1: the two requests do the same thing (same kind and sectors), so they pair. */
int requests_same(const struct request *x, const struct request *y);
/* Align a (left) with b (right) into out, which has room for a->n + b->n steps; returns how
 * many steps it wrote. Greedy: where the two disagree, the nearest pair that agrees (fewest
 * requests passed over on both sides, at most REQ_ALIGN_WINDOW each) is taken, and the
 * requests passed over become one-sided steps, the left ones first. */
#define REQ_ALIGN_WINDOW 32
size_t requests_align(const struct requests *a, const struct requests *b, struct req_step *out);

#endif
