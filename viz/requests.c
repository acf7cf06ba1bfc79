/*
 * requests.c - cut a trace into disk requests, one record at a time.
 *
 * Concept: "how much does one disk request cost?" has a precise answer only once we agree
 * where a request starts. The two controllers announce a request very differently, and that
 * difference is the lesson of chapter 4:
 *   - legacy ATA: the driver first fills the taskfile (sector count, LBA, drive) with one OUT
 *     per register, then writes the command to port 0x1F7. That OUT is the moment the drive
 *     is asked to work, so the request starts at its exit. Every byte of data then crosses the
 *     data port one 16-bit word per exit, all charged to this request.
 *   - virtio-blk: the driver describes whole requests in RAM and rings one doorbell (a write
 *     to the QueueNotify register, an MMIO exit; or, with --ioeventfd, a signal KVM delivers
 *     in the kernel and hv's I/O thread records as an HVT_VQ NOTIFY). The device then takes
 *     requests off the avail ring: the first one of a doorbell starts at the doorbell, each
 *     further one at the avail-ring entry it was taken from. Those later requests cost no
 *     exit at all: that is what batching buys.
 * A request lasts until the next one starts; before the first one is set-up.
 *
 * The scan is incremental (records arrive in seq order, from the model while it checks the
 * file, or from hv while it still runs), so a virtio request that starts *before* the record
 * naming it (at its doorbell) is handled with a candidate start: when a doorbell or an avail
 * entry is seen, we remember where it was and count what follows; if a REQUEST record comes,
 * the request starts there and what was counted moves from the previous request to it.
 * Textbook: chapter 4 "Two I/O paths"; chapter 6 "Watching it happen", section "Compare".
 */
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "dev/ata.h"
#include "dev/virtio_mmio.h"
#include "model.h"
#include "requests.h"

/*
 * virtio-blk request types (virtio 1.1, section 5.2.6 "Device Operation": the `type` field of
 * struct virtio_blk_req). hv records it in the REQUEST record's arg.
 */
#define VBLK_T_IN     0u /* read: device writes the data into the guest's buffer */
#define VBLK_T_OUT    1u /* write */
#define VBLK_T_FLUSH  4u
#define VBLK_T_GET_ID 8u /* the 20-byte serial number */

/* What doorbell_open holds: the kind of candidate start waiting for its REQUEST record. */
enum { CAND_NONE = 0, CAND_DOORBELL = 1, CAND_CHAIN = 2 };

void requests_init(struct requests *rq)
{
	memset(rq, 0, sizeof *rq);
}

void requests_free(struct requests *rq)
{
	free(rq->v);
	requests_init(rq);
}

const char *req_type_name(unsigned type)
{
	switch (type) {
	case REQ_READ: return "read";
	case REQ_WRITE: return "write";
	case REQ_FLUSH: return "flush";
	case REQ_ID: return "identify";
	default: return "other";
	}
}

const char *req_cmd_name(const struct request *q)
{
	if (q->path == HVT_DISK_VIRTIO) {
		switch (q->cmd) {
		case VBLK_T_IN: return "IN";
		case VBLK_T_OUT: return "OUT";
		case VBLK_T_FLUSH: return "FLUSH";
		case VBLK_T_GET_ID: return "GET_ID";
		default: return "unknown type";
		}
	}
	switch (q->cmd) {
	case ATA_CMD_READ_SECTORS: case ATA_CMD_READ_SECTORS_NR: return "READ SECTORS";
	case ATA_CMD_WRITE_SECTORS: case ATA_CMD_WRITE_SECTORS_NR: return "WRITE SECTORS";
	case ATA_CMD_FLUSH_CACHE: return "FLUSH CACHE";
	case ATA_CMD_IDENTIFY: return "IDENTIFY";
	case ATA_CMD_SET_FEATURES: return "SET FEATURES";
	default: return "unknown command";
	}
}

/* Room for one more request. The array doubles, so a trace of N requests costs log N
 * reallocations; the size computation is checked so a huge count cannot wrap around. */
static int requests_reserve(struct requests *rq)
{
	if (rq->n < rq->cap)
		return 0;
	size_t cap = rq->cap ? rq->cap : 64;
	if (rq->cap) {
		if (rq->cap > SIZE_MAX / 2 / sizeof *rq->v)
			return -1;
		cap = rq->cap * 2;
	}
	struct request *v = realloc(rq->v, cap * sizeof *v);
	if (!v)
		return -1;
	rq->v = v;
	rq->cap = cap;
	return 0;
}

/* A mode transition: the CPU (or the host thread) changed world. The same kinds the Path
 * view draws as lane changes (hv/trace.h gives each one's direction). */
static int is_transition(const struct hvt_record *r)
{
	return r->kind == HVT_EXIT || r->kind == HVT_RUN_RETURN || r->kind == HVT_RUN_CALL ||
	       r->kind == HVT_ENTRY || r->kind == HVT_RING;
}

/* A guest write (OUT) of one byte to an ATA command-block register that a device owns. The
 * drive's registers other than data are 8 bits wide; it ignores wider writes (ata.h). */
static int ata_reg_write(const struct hvt_record *r, unsigned off)
{
	return r->kind == HVT_EXIT && r->reason == HVT_R_IO && (r->flags & HVT_F_WRITE) &&
	       !(r->flags & HVT_F_UNCLAIMED) && !(r->flags & HVT_F_STRING) && r->size == 1 &&
	       r->addr == HV_PORT_ATA_CMD + off;
}

/* The virtio doorbell that cost an exit: a store to QueueNotify of the virtio-blk window. */
static int is_mmio_doorbell(const struct hvt_record *r)
{
	return r->kind == HVT_EXIT && r->reason == HVT_R_MMIO && (r->flags & HVT_F_WRITE) &&
	       !(r->flags & HVT_F_UNCLAIMED) &&
	       r->addr == (uint64_t)HV_MMIO_VIRTIO_BLK + VIRTIO_BLK_NOTIFY_OFFSET;
}

/* The doorbell that cost none: KVM matched the store against the ioeventfd in the kernel
 * and only hv's I/O thread saw it (no exit record exists for it). */
static int is_eventfd_doorbell(const struct hvt_record *r)
{
	return r->kind == HVT_VQ && r->reason == HVT_VQ_NOTIFY && (r->flags & HVT_F_EVENTFD);
}

static uint64_t ns_between(uint64_t from, uint64_t to)
{
	/* Records of the I/O thread and of the vCPU are stamped just before they take the
	 * writer's lock, so neighbours can be a few ns out of order: never wrap below zero. */
	return to > from ? to - from : 0;
}

/*
 * Open a new request at (seq, ns). moved_exits/moved_transitions were counted between seq
 * and now into the previous request (or the set-up): they belong to the new one.
 */
static struct request *request_open(struct requests *rq, uint64_t seq, uint64_t ns,
				    uint64_t moved_exits, uint64_t moved_dev_exits,
				    uint64_t moved_transitions)
{
	if (rq->n > 0) {
		struct request *prev = &rq->v[rq->n - 1];
		prev->end = seq;
		prev->ns = ns_between(rq->open_ns, ns);
		prev->exits -= moved_exits;
		prev->dev_exits -= moved_dev_exits;
		prev->transitions -= moved_transitions;
	} else {
		rq->setup_exits -= moved_exits;
		rq->setup_dev_exits -= moved_dev_exits;
		rq->setup_transitions -= moved_transitions;
	}
	struct request *q = &rq->v[rq->n++];
	memset(q, 0, sizeof *q);
	q->start = seq;
	q->end = seq + 1;
	q->exits = moved_exits;
	q->dev_exits = moved_dev_exits;
	q->transitions = moved_transitions;
	rq->open_ns = ns;
	return q;
}

/* Remember a place a virtio request may start at; counting restarts there. */
static void candidate_set(struct requests *rq, const struct hvt_record *r, int kind)
{
	rq->doorbell_open = kind;
	rq->cand_seq = r->seq;
	rq->cand_ns = r->time_ns;
	rq->cand_exits = 0;
	rq->cand_dev_exits = 0;
	rq->cand_transitions = 0;
}

/*
 * The ATA command register (offset 7) was written: a new request of the legacy path. The
 * taskfile written before it says which sectors: LBA28 is LBA low/mid/high plus the low
 * nibble of drive/head, and a sector count of 0 means 256 (ATA/ATAPI-6, READ SECTORS).
 */
static void ata_command(struct requests *rq, const struct hvt_record *r)
{
	uint8_t cmd = (uint8_t)r->data;
	struct request *q = request_open(rq, r->seq, r->time_ns, 0, 0, 0);
	/*
	 * A virtio doorbell still waiting for its REQUEST cannot start a request any more: that
	 * request would begin before this one and cut it to less than nothing. hv never writes
	 * it (a doorbell's chains follow it in the same exit), but a file may say anything; the
	 * chain's own avail entry starts such a request instead. So requests stay contiguous
	 * and every exit is charged exactly once (tests/fuzz/fuzz_viz.c checks both).
	 */
	rq->doorbell_open = CAND_NONE;
	uint32_t lba = (uint32_t)rq->ata_lba[0] | (uint32_t)rq->ata_lba[1] << 8 |
		       (uint32_t)rq->ata_lba[2] << 16 | (uint32_t)(rq->ata_select & 0x0Fu) << 24;

	rq->ata_pending_cmd = cmd;
	q->path = HVT_DISK_ATA;
	q->cmd = cmd;
	switch (cmd) {
	case ATA_CMD_READ_SECTORS:
	case ATA_CMD_READ_SECTORS_NR:
		q->type = REQ_READ;
		break;
	case ATA_CMD_WRITE_SECTORS:
	case ATA_CMD_WRITE_SECTORS_NR:
		q->type = REQ_WRITE;
		break;
	case ATA_CMD_FLUSH_CACHE:
		q->type = REQ_FLUSH;
		return;
	case ATA_CMD_IDENTIFY:
		q->type = REQ_ID;
		return;
	default:
		q->type = REQ_OTHER; /* SET FEATURES, or a command the drive will abort */
		return;
	}
	q->sector = lba;
	q->sectors = rq->ata_nsect ? rq->ata_nsect : 256u;
}

/* The taskfile: remember what the driver wrote, for the command that follows. */
static void ata_taskfile(struct requests *rq, const struct hvt_record *r)
{
	uint8_t v = (uint8_t)r->data;

	if (ata_reg_write(r, 2))
		rq->ata_nsect = v;
	else if (ata_reg_write(r, 3))
		rq->ata_lba[0] = v;
	else if (ata_reg_write(r, 4))
		rq->ata_lba[1] = v;
	else if (ata_reg_write(r, 5))
		rq->ata_lba[2] = v;
	else if (ata_reg_write(r, 6))
		rq->ata_select = v;
}

/*
 * An HVT_VQ REQUEST record: the device read a virtio-blk request header. It starts at the
 * pending doorbell or avail entry, if any, else here.
 */
static void vq_request(struct requests *rq, const struct hvt_record *r)
{
	struct request *q;

	if (rq->doorbell_open != CAND_NONE)
		q = request_open(rq, rq->cand_seq, rq->cand_ns, rq->cand_exits,
				 rq->cand_dev_exits, rq->cand_transitions);
	else
		q = request_open(rq, r->seq, r->time_ns, 0, 0, 0);
	rq->doorbell_open = CAND_NONE;

	q->path = HVT_DISK_VIRTIO;
	q->cmd = r->arg > 0xFFu ? 0xFFu : (uint8_t)r->arg;
	switch (r->arg) {
	case VBLK_T_IN: q->type = REQ_READ; break;
	case VBLK_T_OUT: q->type = REQ_WRITE; break;
	case VBLK_T_FLUSH: q->type = REQ_FLUSH; return;
	case VBLK_T_GET_ID: q->type = REQ_ID; return;
	default: q->type = REQ_OTHER; return;
	}
	q->sector = r->addr;
	/* data = bytes moved; a multiple of 512 or the device refused it (B4) */
	uint64_t sectors = r->data / HV_SECTOR_SIZE;
	q->sectors = sectors > UINT32_MAX ? UINT32_MAX : (uint32_t)sectors;
}

/*
 * A device exit: one that reached the disk controller itself, the ATA ports or the virtio-blk
 * window, the same rule as `hv trace stats`'s "exits to the controller" (viz_device_of, in
 * model.c, knows the machine's map). Every other exit (the console, the timer, HLT) is an
 * "other exit": the workload pays for those on both paths alike.
 */
int requests_is_device_exit(const struct hvt_record *r)
{
	enum viz_dev d = viz_device_of(r);
	return d == VIZ_DEV_ATA || d == VIZ_DEV_VIRTIO_BLK;
}

/* Charge one record to the open request (or the set-up) and to a pending candidate. */
static void requests_count(struct requests *rq, const struct hvt_record *r)
{
	uint64_t e = r->kind == HVT_EXIT, t = (uint64_t)is_transition(r);
	uint64_t d = (uint64_t)requests_is_device_exit(r);

	if (rq->n > 0) {
		struct request *q = &rq->v[rq->n - 1];
		q->exits += e;
		q->dev_exits += d;
		q->transitions += t;
		q->end = r->seq + 1;
		q->ns = ns_between(rq->open_ns, r->time_ns);
	} else {
		rq->setup_exits += e;
		rq->setup_dev_exits += d;
		rq->setup_transitions += t;
	}
	if (rq->doorbell_open != CAND_NONE) {
		rq->cand_exits += e;
		rq->cand_dev_exits += d;
		rq->cand_transitions += t;
	}
}

int requests_add(struct requests *rq, const struct hvt_record *r)
{
	int starts = ata_reg_write(r, 7) ||
		     (r->kind == HVT_VQ && r->reason == HVT_VQ_REQUEST);

	/* Only a record that opens a request needs memory; fail before changing anything. */
	if (starts && requests_reserve(rq) != 0)
		return -1;

	if (ata_reg_write(r, 7)) {
		ata_command(rq, r);
	} else if (r->kind == HVT_VQ && r->reason == HVT_VQ_REQUEST) {
		vq_request(rq, r);
	} else if (is_mmio_doorbell(r) || is_eventfd_doorbell(r)) {
		/* a newer doorbell replaces one that brought no request (an empty kick) */
		candidate_set(rq, r, CAND_DOORBELL);
	} else if (r->kind == HVT_VQ && r->reason == HVT_VQ_AVAIL_ENTRY) {
		/* the first chain of a doorbell keeps the doorbell as its start */
		if (rq->doorbell_open != CAND_DOORBELL)
			candidate_set(rq, r, CAND_CHAIN);
	} else {
		ata_taskfile(rq, r);
	}
	requests_count(rq, r);
	rq->next_seq = r->seq + 1;
	return 0;
}

void requests_finish(struct requests *rq, uint64_t count, uint64_t last_ns)
{
	if (rq->n == 0)
		return;
	struct request *q = &rq->v[rq->n - 1];
	if (count > q->start)
		q->end = count;
	q->ns = ns_between(rq->open_ns, last_ns);
}

/* ---- pairing two traces' requests (requests.h) ---- */

/*
 * Same kind, same first sector, same length. "other" (SET FEATURES, a command the drive
 * aborts, an unknown virtio type) pairs only with the same command of the same controller:
 * two unknown things are not the same thing.
 */
int requests_same(const struct request *x, const struct request *y)
{
	if (x->type != y->type || x->sector != y->sector || x->sectors != y->sectors)
		return 0;
	return x->type != REQ_OTHER || (x->path == y->path && x->cmd == y->cmd);
}

static void step_put(struct req_step *out, size_t *n, size_t l, size_t r)
{
	out[*n].req[0] = l;
	out[*n].req[1] = r;
	(*n)++;
}

/*
 * The nearest agreeing pair from (i, j) on: a[i+p] same as b[j+q] with p + q smallest (on a
 * tie, the smaller p). Returns 0 when there is none within the window.
 */
static int align_nearest(const struct requests *a, const struct requests *b, size_t i, size_t j,
			 size_t *p_out, size_t *q_out)
{
	size_t pmax = a->n - i < REQ_ALIGN_WINDOW ? a->n - i : REQ_ALIGN_WINDOW;
	size_t qmax = b->n - j < REQ_ALIGN_WINDOW ? b->n - j : REQ_ALIGN_WINDOW;
	for (size_t s = 0; s + 2 <= pmax + qmax; s++) {
		for (size_t p = 0; p <= s && p < pmax; p++) {
			size_t q = s - p;
			if (q < qmax && requests_same(&a->v[i + p], &b->v[j + q])) {
				*p_out = p;
				*q_out = q;
				return 1;
			}
		}
	}
	return 0;
}

size_t requests_align(const struct requests *a, const struct requests *b, struct req_step *out)
{
	size_t i = 0, j = 0, n = 0;
	while (i < a->n && j < b->n) {
		size_t p, q;
		if (!align_nearest(a, b, i, j, &p, &q)) {
			/* nothing agrees nearby: both requests stand alone, and the search goes on */
			step_put(out, &n, i++, REQ_NONE);
			step_put(out, &n, REQ_NONE, j++);
			continue;
		}
		while (p--)
			step_put(out, &n, i++, REQ_NONE);
		while (q--)
			step_put(out, &n, REQ_NONE, j++);
		step_put(out, &n, i++, j++);
	}
	while (i < a->n)
		step_put(out, &n, i++, REQ_NONE);
	while (j < b->n)
		step_put(out, &n, REQ_NONE, j++);
	return n;
}
