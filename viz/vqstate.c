/*
 * vqstate.c - rebuilding a virtqueue from the trace, the way the device saw it.
 *
 * Concept: a split virtqueue lives in guest RAM, and a trace does not contain guest RAM. What
 * it does contain is every read and write the device made (hv/dev/virtq.c traces each one as an
 * HVT_VQ record). Replaying those records in order gives back the descriptor table, the avail
 * ring and the used ring *as far as the device has looked at them*: an entry the device has
 * not read yet is unknown, and we keep it unknown (seq = UINT64_MAX) instead of guessing.
 * That is exactly the device's point of view, which is what the Virtqueue view teaches.
 * Textbook: chapter 4 "Two I/O paths", section "The virtqueue"; chapter 6, "Virtqueue";
 * virtio 1.1, section 2.6 "Split Virtqueues".
 *
 * Where each record comes from (so the replay mirrors the device, step by step):
 *   READY        virtq_activate, when the driver writes QueueReady = 1: the device resets its
 *                positions (last_avail = used_idx = 0) and knows the three table addresses.
 *   AVAIL_IDX    virtq_begin, once per doorbell: the device reads avail.idx; count is its own
 *                last_avail *before* it takes anything.
 *   AVAIL_ENTRY  virtq_pop: the device reads avail.ring[slot] (slot = last_avail % N, already
 *                reduced) and then moves last_avail on by one.
 *   DESC         virtq_parse: one descriptor of the chain, read once (index = count).
 *   REQUEST      virtio_blk_execute: the chain decoded as a block request.
 *   USED_ELEM    virtq_push: the device writes used.ring[slot] = {id, len}.
 *   USED_IDX     virtq_push, after a release fence: the new used.idx the driver will see.
 *   NOTIFY       virtio_mmio.c: the doorbell (an MMIO exit or an ioeventfd).
 *   IRQ_RAISE    virtio_mmio.c: the interrupt line goes up.
 *   RESET        virtio_mmio.c: the driver wrote 0 to Status; the queue is forgotten.
 *
 * Jumping: to show event N of a 10-million-event trace, replaying from event 0 would take a
 * second per key press. So while the model indexes the file (viz/model.c) it feeds every
 * record to vq_index_add, which keeps a full copy of the state every VQ_CHECKPOINT_EVERY
 * records; vq_state_at starts from the nearest copy and replays at most that many records.
 *
 * Every value in a record is treated as hostile: the file may come from anywhere, so an index
 * is checked against VIRTQ_NUM_MAX before it ever indexes an array (a bad record is skipped).
 */
#include "vqstate.h"

#include <stdlib.h>
#include <string.h>

#include "model.h"

#define VQ_UNSEEN UINT64_MAX /* an entry no record has set: "the device has not read it" */

/* Every table entry unknown; positions and addresses zero. Counters are left alone. */
static void vq_tables_clear(struct vq_state *s)
{
	s->ready = 0;
	s->size = 0;
	s->desc_gpa = s->avail_gpa = s->used_gpa = 0;
	s->avail_idx = s->last_avail = s->used_idx = 0;
	for (unsigned i = 0; i < VIRTQ_NUM_MAX; i++) {
		s->desc[i] = (struct vq_desc_view){ .seq = VQ_UNSEEN };
		s->avail[i] = (struct vq_slot_view){ .seq = VQ_UNSEEN };
		s->used[i] = (struct vq_slot_view){ .seq = VQ_UNSEEN };
	}
}

void vq_state_init(struct vq_state *s)
{
	/* memset first so that padding bytes are zero too: two equal states compare equal
	 * byte for byte, which keeps checkpoints easy to test. */
	memset(s, 0, sizeof(*s));
	vq_tables_clear(s);
	s->last_seq = VQ_UNSEEN;
}

/*
 * QueueReady = 1. hv only accepts a size of 1..QueueNumMax (T4) before it traces READY, so a
 * size of 0 or above VIRTQ_NUM_MAX can only come from a damaged or forged file: ignore it
 * rather than believe a table we could not hold.
 */
static void vq_apply_ready(struct vq_state *s, const struct hvt_record *r)
{
	if (r->count == 0 || r->count > VIRTQ_NUM_MAX)
		return;
	/* A fresh activation starts from nothing: whatever the device read in an earlier
	 * session says nothing about the new tables (virtq_activate resets its positions). */
	vq_tables_clear(s);
	s->ready = 1;
	s->size = r->count;
	s->desc_gpa = r->addr;
	s->avail_gpa = r->data;
	s->used_gpa = r->arg;
}

/* The device reads avail.ring[slot]: the head of the next chain, then moves on by one. */
static void vq_apply_avail_entry(struct vq_state *s, const struct hvt_record *r)
{
	if (r->count >= VIRTQ_NUM_MAX)
		return;
	s->avail[r->count] = (struct vq_slot_view){ .value = (uint32_t)r->data, .seq = r->seq };
	/* virtq_pop increments last_avail just before it traces the entry; the 16-bit counter
	 * runs freely and wraps at 65536 like the device's own. */
	s->last_avail++;
}

/* One descriptor: arg packs the 16-bit flags and next as flags | next << 16 (trace.h). */
static void vq_apply_desc(struct vq_state *s, const struct hvt_record *r)
{
	if (r->count >= VIRTQ_NUM_MAX)
		return;
	s->desc[r->count] = (struct vq_desc_view){
		.addr = r->addr,
		.len = (uint32_t)r->data,
		.flags = (uint16_t)(r->arg & 0xFFFFu),
		.next = (uint16_t)((r->arg >> 16) & 0xFFFFu),
		.seq = r->seq,
	};
}

/* The device writes used.ring[slot] = {id = the chain's head, len = bytes it wrote}. */
static void vq_apply_used_elem(struct vq_state *s, const struct hvt_record *r)
{
	if (r->count >= VIRTQ_NUM_MAX)
		return;
	s->used[r->count] = (struct vq_slot_view){ .value = (uint32_t)r->arg,
						   .len = (uint32_t)r->data, .seq = r->seq };
}

void vq_apply(struct vq_state *s, unsigned queue, const struct hvt_record *r)
{
	/* `size` carries the queue index in every HVT_VQ record. */
	if (r->kind != HVT_VQ || r->size != queue)
		return;
	switch (r->reason) {
	case HVT_VQ_READY:
		vq_apply_ready(s, r);
		break;
	case HVT_VQ_RESET:
		/* Status = 0: the device forgets the queue. The counters stay: they count what
		 * happened during the whole trace (hv's own virtq_reset keeps its counters too). */
		vq_tables_clear(s);
		break;
	case HVT_VQ_AVAIL_IDX:
		s->avail_idx = (uint16_t)r->data;
		s->last_avail = (uint16_t)r->count;
		break;
	case HVT_VQ_AVAIL_ENTRY:
		vq_apply_avail_entry(s, r);
		break;
	case HVT_VQ_DESC:
		vq_apply_desc(s, r);
		break;
	case HVT_VQ_USED_ELEM:
		vq_apply_used_elem(s, r);
		break;
	case HVT_VQ_USED_IDX:
		s->used_idx = (uint16_t)r->data;
		break;
	case HVT_VQ_REQUEST:
		s->requests++;
		break;
	case HVT_VQ_NOTIFY:
		s->notifies++;
		break;
	case HVT_VQ_IRQ_RAISE:
		s->interrupts++;
		break;
	default:
		/* STATUS, IRQ_SUPPRESS, ERROR and unknown ops change no table. They still count
		 * as "the last step of this queue" below. */
		break;
	}
	s->last_seq = r->seq;
}

/* ---- the checkpoint index ------------------------------------------------------------------ */

void vq_index_init(struct vq_index *vi)
{
	memset(vi, 0, sizeof(*vi));
	for (unsigned q = 0; q < VQ_MAX_QUEUES; q++)
		vq_state_init(&vi->cur[q]);
}

/* Room for one more checkpoint, doubling (a 10M-event trace needs about 150). */
static int vq_index_reserve(struct vq_index *vi)
{
	if (vi->n < vi->cap)
		return 0;
	size_t cap = vi->cap ? vi->cap * 2 : 16;
	struct vq_checkpoint *cp = realloc(vi->cp, cap * sizeof(*cp));
	if (!cp)
		return -1;
	vi->cp = cp;
	vi->cap = cap;
	return 0;
}

int vq_index_add(struct vq_index *vi, const struct hvt_record *r)
{
	/* Does this record complete a block of VQ_CHECKPOINT_EVERY? Make room before changing
	 * anything, so an allocation failure leaves the index exactly as it was. */
	int checkpoint = (vi->fed + 1) % VQ_CHECKPOINT_EVERY == 0;
	if (checkpoint && vq_index_reserve(vi) < 0)
		return -1;
	if (r->kind == HVT_VQ) {
		vi->vq_records++;
		if (r->size < 32)
			vi->queues_seen |= 1u << r->size;
		if (r->size < VQ_MAX_QUEUES)
			vq_apply(&vi->cur[r->size], r->size, r);
	}
	if (checkpoint) {
		struct vq_checkpoint *cp = &vi->cp[vi->n++];
		cp->seq = vi->fed;
		memcpy(cp->q, vi->cur, sizeof(cp->q));
	}
	vi->fed++;
	return 0;
}

void vq_index_free(struct vq_index *vi)
{
	free(vi->cp);
	vi->cp = NULL;
	vi->n = vi->cap = 0;
}

/*
 * The last checkpoint at or before seq, or NULL if seq comes before the first one.
 * Checkpoints are in seq order, so a binary search finds it in a few steps.
 */
static const struct vq_checkpoint *vq_index_find(const struct vq_index *vi, uint64_t seq)
{
	size_t lo = 0, hi = vi->n; /* answer: the number of checkpoints with cp.seq <= seq */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (vi->cp[mid].seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &vi->cp[lo - 1] : NULL;
}

int vq_state_at(const struct model *m, unsigned queue, uint64_t seq, struct vq_state *out)
{
	if (queue >= VQ_MAX_QUEUES)
		return -1;
	const struct vq_index *vi = &m->vq;
	/* Only records both in the model and in the index can be replayed. */
	uint64_t known = m->count < vi->fed ? m->count : vi->fed;
	if (known == 0) {
		vq_state_init(out);
		return 0;
	}
	if (seq >= known)
		seq = known - 1;
	/* The very last record (a live trace's newest event): the running state is it. */
	if (seq == vi->fed - 1) {
		*out = vi->cur[queue];
		return 0;
	}
	const struct vq_checkpoint *cp = vq_index_find(vi, seq);
	uint64_t next = 0;
	if (cp) {
		*out = cp->q[queue];
		next = cp->seq + 1;
	} else {
		vq_state_init(out);
	}
	/* At most VQ_CHECKPOINT_EVERY - 1 records: bounded work whatever the trace's length. */
	for (uint64_t i = next; i <= seq; i++) {
		struct hvt_record r;
		model_get(m, i, &r);
		vq_apply(out, queue, &r);
	}
	return 0;
}
