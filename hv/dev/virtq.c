/*
 * virtq.c - walking a split virtqueue as a device, defensively.
 *
 * Concept: the rings live in guest RAM, and the guest is a second CPU writing them while we
 * read. So the device (1) reads each shared field exactly once into a local and validates the
 * local copy, never the shared memory (a guest that rewrites a descriptor after we checked it
 * changes nothing: appendix C, Q11); (2) bounds every loop by the queue size N, never by what the
 * guest claims (Q1, Q4, Q12); (3) turns every guest address into a host pointer only through
 * gm_ptr over the whole length (T5, Q6); and (4) orders its memory accesses with fences,
 * because the x86 compiler, not only the CPU, may otherwise reorder them.
 * Textbook: chapter 4 "Two I/O paths", section "One request, step by step"; virtio 1.1,
 * section 2.6 "Split Virtqueues" and 2.6.13 "Supplying Buffers to The Device".
 *
 * Two kinds of errors (textbook appendix C, section C.2):
 *   ring-level    (Q1 avail.idx jumped, Q2 head out of range): the ring itself can no longer be
 *                 trusted; virtq marks itself broken and the transport sets DEVICE_NEEDS_RESET.
 *   request-level (Q3-Q9: one bad chain): the chain is returned at once with used len 0 and the
 *                 device never touches its buffers (a chain with a loop or a buffer outside RAM
 *                 has no trustworthy "status byte"); the queue goes on.
 *
 * In-flight requests (Q10): the disk backend is synchronous, so a chain is completed before
 * the next one is taken: at most one chain is ever in flight, and a head the driver puts twice
 * into the available ring is simply served twice, one after the other. HVT_VQE_DUP_HEAD is
 * therefore never reported by this device (an asynchronous backend would need it).
 */
#include "virtq.h"

#include <endian.h>
#include <stdatomic.h>
#include <string.h>

/*
 * Offsets inside the available and used rings (virtio 1.1, section 2.6.6 and 2.6.8). The
 * available ring is the driver's: it writes flags, the heads of new chains and idx; hv only
 * reads it. The used ring is the device's: hv writes {id, len} elements and idx, and never
 * writes used.flags, so it never asks for NO_NOTIFY: the driver rings for every batch.
 * Both idx fields are free-running 16-bit counters, never reduced modulo N: the slot is
 * idx % N, and "how many are new" is a 16-bit difference (virtq_begin).
 */
#define AVAIL_FLAGS 0u
#define AVAIL_IDX   2u
#define AVAIL_RING  4u
#define USED_IDX    2u
#define USED_RING   4u
#define USED_ELEM_SIZE 8u

uint64_t virtq_desc_bytes(uint16_t num)
{
	return (uint64_t)VIRTQ_DESC_SIZE * num;
}

/* flags, idx, ring[N], used_event: 2 + 2 + 2N + 2. used_event exists only for EVENT_IDX, which
 * hv does not offer, but the spec sizes the area with it, so the driver allocates it anyway. */
uint64_t virtq_avail_bytes(uint16_t num)
{
	return 6u + 2u * (uint64_t)num;
}

/* flags, idx, ring[N] of {id, len}, avail_event: 2 + 2 + 8N + 2. */
uint64_t virtq_used_bytes(uint16_t num)
{
	return 6u + (uint64_t)USED_ELEM_SIZE * num;
}

static void virtq_trace(struct virtq *q, uint8_t op, uint64_t addr, uint64_t data,
			uint32_t count, uint64_t arg)
{
	trace_device(q->trace, HVT_VQ, op, q->index, addr, data, count, arg);
}

void virtq_error(struct virtq *q, uint64_t addr, enum hvt_vq_error err, uint32_t index,
		 uint64_t detail)
{
	q->errors++;
	virtq_trace(q, HVT_VQ_ERROR, addr, err, index, detail);
}

void virtq_init(struct virtq *q, const struct guest_mem *mem, struct trace_writer *trace,
		uint8_t index)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->trace = trace;
	q->index = index;
}

void virtq_reset(struct virtq *q)
{
	/* Counters survive a reset: they describe the whole run, not one driver session. */
	uint64_t errors = q->errors, chains = q->chains;
	virtq_init(q, q->mem, q->trace, q->index);
	q->errors = errors;
	q->chains = chains;
}

/* ---- activation (QueueReady = 1) -------------------------------------------------------- */

/*
 * One area: aligned as the spec requires (descriptor table 16, available ring 2, used ring 4
 * bytes, virtio 1.1 section 2.6), and every byte of it guest RAM in one slot. gm_ptr
 * compares without forming gpa + len, so an address near 2^64 cannot wrap into RAM (T5).
 * `which` (1 descriptor table, 2 driver area, 3 device area) goes into the ERROR's detail.
 */
static bool virtq_area_ok(struct virtq *q, uint64_t gpa, uint64_t len, uint64_t align,
			  unsigned which)
{
	if (gpa % align != 0 || !gm_ptr(q->mem, gpa, len)) {
		virtq_error(q, gpa, HVT_VQE_RING_ADDR, q->index, which);
		return false;
	}
	return true;
}

int virtq_activate(struct virtq *q, uint16_t num_max)
{
	/* T4: N must be 1..QueueNumMax and a power of two, so that idx % N survives the 16-bit
	 * wrap of idx (65536 is a multiple of every power of two up to 32768). */
	if (q->num == 0 || q->num > num_max || (q->num & (q->num - 1u)) != 0) {
		virtq_error(q, 0, HVT_VQE_QUEUE_SIZE, q->index, q->num);
		return HVT_VQE_QUEUE_SIZE;
	}
	if (!virtq_area_ok(q, q->desc, virtq_desc_bytes(q->num), VIRTQ_DESC_ALIGN, 1) ||
	    !virtq_area_ok(q, q->avail, virtq_avail_bytes(q->num), VIRTQ_AVAIL_ALIGN, 2) ||
	    !virtq_area_ok(q, q->used, virtq_used_bytes(q->num), VIRTQ_USED_ALIGN, 3))
		return HVT_VQE_RING_ADDR;
	q->ready = true;
	q->broken = false;
	q->last_avail = 0;
	q->used_idx = 0;
	virtq_trace(q, HVT_VQ_READY, q->desc, q->avail, q->num, q->used);
	return 0;
}

/* ---- reading the available ring ---------------------------------------------------------- */

/*
 * The 16-bit index fields are the synchronisation points between the guest's vCPU and us. A
 * plain memcpy would be a data race the compiler may split, repeat or move; the __atomic
 * builtins make it one 16-bit load or store (the field is 2-aligned: checked at activation).
 * Relaxed is enough for the load itself: the ordering against the other ring accesses comes
 * from the explicit fences at each use (virtq_begin, virtq_push, virtq_end).
 */
static bool virtq_load16(struct virtq *q, uint64_t gpa, uint16_t *out)
{
	uint16_t *p = gm_ptr(q->mem, gpa, 2);
	if (!p)
		return false;
	*out = le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
	return true;
}

int virtq_begin(struct virtq *q)
{
	q->todo = 0;
	q->pushed = 0;
	if (!q->ready || q->broken)
		return 0;
	uint16_t idx;
	if (!virtq_load16(q, q->avail + AVAIL_IDX, &idx)) {
		virtq_error(q, q->avail + AVAIL_IDX, HVT_VQE_RING_ACCESS, q->index, 0);
		q->broken = true;
		return -1;
	}
	/*
	 * Acquire fence: the driver wrote ring entries and descriptors, then (after its own write
	 * barrier) avail.idx. Our later reads of those entries must not be satisfied from before
	 * the idx load, or we would see the new idx with old entries. On x86 loads are not
	 * reordered with loads, so this costs nothing at run time; it stops the compiler.
	 */
	atomic_thread_fence(memory_order_acquire);
	virtq_trace(q, HVT_VQ_AVAIL_IDX, q->avail + AVAIL_IDX, idx, q->last_avail, 0);

	/* Q1: at most N entries can be outstanding. More means the driver is broken or hostile;
	 * believing it would make us walk up to 65535 "entries" of stale ring. */
	uint16_t delta = (uint16_t)(idx - q->last_avail);
	if (delta > q->num) {
		virtq_error(q, q->avail + AVAIL_IDX, HVT_VQE_AVAIL_IDX, q->last_avail, idx);
		q->broken = true;
		return -1;
	}
	/* Q12: this snapshot bounds the work of this notify, however fast the guest appends. */
	q->todo = delta;
	return delta;
}

/* ---- parsing one chain -------------------------------------------------------------------- */

/*
 * One descriptor as it is in guest memory, copied once (Q11) and decoded. The 16 bytes are
 * le64 addr, le32 len, le16 flags, le16 next (virtio 1.1, 2.6.5). flags: NEXT (1) says `next`
 * continues the chain, WRITE (2) says the device writes this buffer (else it only reads it),
 * INDIRECT (4) says the buffer is itself a table of descriptors (not offered here, Q9).
 */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* gm_read copies the 16 bytes out of guest RAM before anything looks at them: the decoded
 * copy is what the checks and the chain use, whatever the guest writes afterwards (Q11). */
static bool virtq_read_desc(struct virtq *q, uint16_t i, struct virtq_desc *d)
{
	uint8_t raw[VIRTQ_DESC_SIZE];
	if (gm_read(q->mem, q->desc + (uint64_t)i * VIRTQ_DESC_SIZE, raw, sizeof(raw)) < 0)
		return false;
	uint64_t a;
	uint32_t l;
	uint16_t f, n;
	memcpy(&a, raw + 0, 8);
	memcpy(&l, raw + 8, 4);
	memcpy(&f, raw + 12, 2);
	memcpy(&n, raw + 14, 2);
	d->addr = le64toh(a);
	d->len = le32toh(l);
	d->flags = le16toh(f);
	d->next = le16toh(n);
	return true;
}

/*
 * Validate one decoded descriptor and add it to the chain. Returns 0 or the error code (after
 * tracing it). `i` is the descriptor's index, `total` the running length of the chain.
 */
static int virtq_add_buf(struct virtq *q, uint16_t i, const struct virtq_desc *d,
			 struct virtq_chain *c, uint64_t *total)
{
	uint64_t daddr = q->desc + (uint64_t)i * VIRTQ_DESC_SIZE;
	/* Q9: INDIRECT is not offered, so a driver must not use it; other bits are undefined.
	 * Both reject the chain (detail = the flags), each under its own name. */
	if (d->flags & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE)) {
		int code = (d->flags & VIRTQ_DESC_F_INDIRECT) ? HVT_VQE_INDIRECT : HVT_VQE_DESC_FLAGS;
		virtq_error(q, daddr, code, i, d->flags);
		return code;
	}
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	/* Q7: readable buffers come first (spec 2.6.4.2). Refusing the mix also guarantees the
	 * device never writes into a buffer the driver marked read-only. */
	if (!writable && c->n > c->nread) {
		virtq_error(q, daddr, HVT_VQE_ORDER, i, d->flags);
		return HVT_VQE_ORDER;
	}
	/* Q8: a zero-length descriptor carries nothing. It is traced and counted as a link (so
	 * a loop of them still ends, Q4) but not kept: no later code sees a buffer of length 0. */
	if (d->len == 0)
		return 0;
	/* Q5: the sum of 32-bit lengths is kept in 64 bits, so it cannot wrap before the check. */
	*total += d->len;
	if (*total > UINT32_MAX) {
		virtq_error(q, daddr, HVT_VQE_CHAIN_LEN, i, *total);
		return HVT_VQE_CHAIN_LEN;
	}
	/* Q6: the whole buffer must be RAM in one slot; never split, never MMIO. */
	uint8_t *host = gm_ptr(q->mem, d->addr, d->len);
	if (!host) {
		virtq_error(q, d->addr, HVT_VQE_BUFFER, i, d->len);
		return HVT_VQE_BUFFER;
	}
	c->buf[c->n++] = (struct virtq_buf){ .gpa = d->addr, .host = host, .len = d->len,
					     .writable = writable };
	if (writable)
		c->writable_bytes += d->len;
	else {
		c->nread++;
		c->readable_bytes += d->len;
	}
	return 0;
}

/* Follow the chain from `head`. Returns 0 with *c filled, or the error code. */
static int virtq_parse(struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	c->head = head;
	c->n = c->nread = 0;
	c->readable_bytes = c->writable_bytes = 0;
	uint64_t total = 0;
	uint16_t i = head;
	for (uint32_t links = 0;; links++) {
		uint64_t daddr = q->desc + (uint64_t)i * VIRTQ_DESC_SIZE;
		/* Q4: a chain visits each of the N descriptors at most once, so link N + 1 means a
		 * loop (0 -> 1 -> 0, or i -> i). Counting links needs no "visited" set. */
		if (links == q->num) {
			virtq_error(q, daddr, HVT_VQE_LOOP, i, links);
			return HVT_VQE_LOOP;
		}
		struct virtq_desc d;
		if (!virtq_read_desc(q, i, &d)) {
			virtq_error(q, daddr, HVT_VQE_RING_ACCESS, i, 0);
			return HVT_VQE_RING_ACCESS;
		}
		virtq_trace(q, HVT_VQ_DESC, d.addr, d.len, i, d.flags | (uint64_t)d.next << 16);
		int err = virtq_add_buf(q, i, &d, c, &total);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		/* Q3: next must name a descriptor of this table. */
		if (d.next >= q->num) {
			virtq_error(q, daddr, HVT_VQE_NEXT, i, d.next);
			return HVT_VQE_NEXT;
		}
		i = d.next;
	}
}

/*
 * Take the next available entry of this doorbell's snapshot and parse its chain. The entry is
 * a descriptor index (the chain's head), read once; the head is also the id hv answers with
 * in the used ring, so the driver knows which of its requests finished.
 */
enum virtq_pop_result virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	if (q->todo == 0 || q->broken)
		return VIRTQ_EMPTY;
	uint16_t slot = q->last_avail % q->num;
	uint64_t eaddr = q->avail + AVAIL_RING + 2u * (uint64_t)slot;
	uint16_t head;
	if (gm_read(q->mem, eaddr, &head, 2) < 0) {
		virtq_error(q, eaddr, HVT_VQE_RING_ACCESS, slot, 0);
		q->broken = true;
		return VIRTQ_RING_ERROR;
	}
	head = le16toh(head);
	q->todo--;
	q->last_avail++;
	virtq_trace(q, HVT_VQ_AVAIL_ENTRY, eaddr, head, slot, 0);
	/* Q2: the ring names a descriptor that does not exist. Unlike a bad chain, we cannot even
	 * return it (its id is meaningless), so the ring is broken. */
	if (head >= q->num) {
		virtq_error(q, eaddr, HVT_VQE_HEAD, slot, head);
		q->broken = true;
		return VIRTQ_RING_ERROR;
	}
	if (virtq_parse(q, head, c) != 0) {
		/* Request-level error: hand the chain back untouched (used len 0), go on. */
		return virtq_push(q, head, 0) < 0 ? VIRTQ_RING_ERROR : VIRTQ_REJECTED;
	}
	q->chains++;
	return VIRTQ_CHAIN;
}

/* ---- the used ring ------------------------------------------------------------------------ */

/*
 * The used element's len is the number of bytes the device wrote into the chain's writable
 * buffers (virtio 1.1, 2.6.8); a driver may rely on it for reads, so hv reports only what it
 * really wrote (0 for a rejected chain). Chains may be returned in any order; hv's happen to
 * come back in the order they were taken because the backend is synchronous (Q10).
 */
int virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	uint16_t slot = q->used_idx % q->num;
	uint64_t eaddr = q->used + USED_RING + (uint64_t)USED_ELEM_SIZE * slot;
	uint32_t elem[2] = { htole32(head), htole32(len) };
	uint16_t *idxp = gm_ptr(q->mem, q->used + USED_IDX, 2);
	if (!idxp || gm_write(q->mem, eaddr, elem, sizeof(elem)) < 0) {
		virtq_error(q, eaddr, HVT_VQE_RING_ACCESS, slot, head);
		q->broken = true;
		return -1;
	}
	virtq_trace(q, HVT_VQ_USED_ELEM, eaddr, len, slot, head);
	/*
	 * Release fence: the element (and the data we wrote into the buffers) must be visible to
	 * the guest's vCPU before the new used.idx is, or the driver could read a stale element
	 * for an index it already sees. x86 keeps stores in order; the fence stops the compiler.
	 */
	atomic_thread_fence(memory_order_release);
	q->used_idx++;
	__atomic_store_n(idxp, htole16(q->used_idx), __ATOMIC_RELAXED);
	virtq_trace(q, HVT_VQ_USED_IDX, q->used + USED_IDX, q->used_idx, 0, 0);
	q->pushed++;
	return 0;
}

enum virtq_irq virtq_end(struct virtq *q)
{
	if (q->pushed == 0)
		return VIRTQ_IRQ_NONE;
	/*
	 * A full fence: our store to used.idx must be globally visible before we read avail.flags.
	 * This is the one place x86 itself reorders (a later load may pass an earlier store), and
	 * without the fence the driver could set NO_INTERRUPT off, look at the old used.idx, and
	 * sleep while we read the old flags and stay silent: a lost wake-up.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	uint16_t flags = 0;
	if (!virtq_load16(q, q->avail + AVAIL_FLAGS, &flags))
		return VIRTQ_IRQ_SEND; /* cannot happen after activation; interrupt to be safe */
	/*
	 * Q13: only bit 0 has a meaning without EVENT_IDX; all other bits are ignored. The
	 * driver sets NO_INTERRUPT while it polls the used ring, to save the interrupt and the
	 * exits of its handler. The spec makes it a hint (the device may interrupt anyway);
	 * hv honours it. Textbook ch04 "Polling is still the default".
	 */
	return (flags & VIRTQ_AVAIL_F_NO_INTERRUPT) ? VIRTQ_IRQ_SUPPRESSED : VIRTQ_IRQ_SEND;
}
