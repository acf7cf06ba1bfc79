/*
 * vqstate.h - a virtqueue rebuilt from the trace, as the device saw it at any event.
 *
 * Concept: a split virtqueue (virtio 1.x, section 2.7) is three tables in guest RAM: the
 * descriptor table (buffers), the avail ring (what the driver offers) and the used ring (what
 * the device finished). hv never keeps a copy of them: it reads them from guest memory when
 * the doorbell rings. But every read and write it does is a trace record (HVT_VQ: READY,
 * AVAIL_IDX, AVAIL_ENTRY, DESC, USED_ELEM, USED_IDX, RESET; hv/trace.h), so replaying those
 * records rebuilds the tables *as the device has seen them* at any moment. Entries the device
 * has not read yet are unknown, and the view says so rather than guessing.
 * To jump to event N of a long trace without replaying it all, the model keeps a checkpoint of
 * the state every VQ_CHECKPOINT_EVERY records, so reaching any event replays at most that many
 * (about half a millisecond), and a 10-million-event trace keeps about 150 checkpoints.
 * Textbook: chapter 4 "Two I/O paths", section "The virtqueue"; chapter 6, "Virtqueue".
 */
#ifndef VIZ_VQSTATE_H
#define VIZ_VQSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"
#include "dev/virtq.h" /* VIRTQ_NUM_MAX */

#define VQ_MAX_QUEUES 2u          /* virtio-blk uses queue 0; records for others are counted only */
#define VQ_CHECKPOINT_EVERY 65536u /* records (of any kind) between checkpoints */

struct vq_desc_view {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
	uint64_t seq;   /* the record that last set it (MODEL_NONE-like UINT64_MAX: never read) */
};

struct vq_slot_view {
	uint32_t value; /* avail: the head index; used: the id (head) */
	uint32_t len;   /* used: bytes written */
	uint64_t seq;   /* the record that last set it, UINT64_MAX: never seen */
};

/* One queue at one event. */
struct vq_state {
	int ready;            /* a READY record was seen since the last RESET */
	uint32_t size;        /* queue size (QueueNum) */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx;   /* last avail.idx the device read */
	uint16_t last_avail;  /* the device's own position in the avail ring */
	uint16_t used_idx;    /* last used.idx the device wrote */
	uint64_t requests;    /* REQUEST records so far */
	uint64_t notifies;    /* NOTIFY records so far */
	uint64_t interrupts;  /* IRQ_RAISE records so far */
	uint64_t last_seq;    /* the last record applied (UINT64_MAX: none) */
	struct vq_desc_view desc[VIRTQ_NUM_MAX];
	struct vq_slot_view avail[VIRTQ_NUM_MAX];
	struct vq_slot_view used[VIRTQ_NUM_MAX];
};

/* Start empty: not ready, every entry unknown. */
void vq_state_init(struct vq_state *s);
/* Apply one record if it is an HVT_VQ record of this queue (others are ignored). Hostile
 * values (a slot or index >= VIRTQ_NUM_MAX, a size of 0) are ignored, never indexed with. */
void vq_apply(struct vq_state *s, unsigned queue, const struct hvt_record *r);

struct vq_checkpoint {
	uint64_t seq;             /* state after applying every record up to and including seq */
	struct vq_state q[VQ_MAX_QUEUES];
};

struct vq_index {
	struct vq_checkpoint *cp;
	size_t n, cap;
	struct vq_state cur[VQ_MAX_QUEUES]; /* state after the last record fed */
	uint64_t fed;             /* records fed so far (the next one's seq) */
	uint64_t vq_records;      /* virtqueue records in all */
	uint32_t queues_seen;     /* bit q: some record named queue q */
};

void vq_index_init(struct vq_index *vi);
/* Feed every record in seq order. Returns 0, or -1 when out of memory. */
int vq_index_add(struct vq_index *vi, const struct hvt_record *r);
void vq_index_free(struct vq_index *vi);

struct model;
/*
 * The state of `queue` just after record seq (seq < m->count): the nearest checkpoint before
 * it, then the records in between replayed from the model. Returns 0, or -1 if queue >=
 * VQ_MAX_QUEUES.
 */
int vq_state_at(const struct model *m, unsigned queue, uint64_t seq, struct vq_state *out);

#endif
