/*
 * test_vqstate.c - unit tests for the virtqueue rebuilt from a trace (viz/vqstate.c) and for
 * the Virtqueue view that draws it (viz/view_virtq.c).
 *
 * The device's point of view is only as good as the replay: these tests pin each HVT_VQ record
 * to the exact table entry it sets (the field table in hv/trace.h, and what hv/dev/virtq.c writes
 * into each field), check that values from a forged file never index outside the tables, and
 * that jumping through checkpoints gives exactly the state a replay from event 0 gives, on
 * both sides of every checkpoint boundary. The view tests draw into a curses pad (no terminal)
 * and read the text back: marks must be there without colour.
 * Textbook: chapter 4 "Two I/O paths", section "The virtqueue"; chapter 6 "Virtqueue".
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
/* The path spelled out: viz/viz.h is hvviz's header (hv's side of --viz is hv/vizlink.h). */
#include "../../viz/viz.h"
#include "vqstate.h"

#define UNSEEN UINT64_MAX

/* One HVT_VQ record with the fields of the table in trace.h. */
static struct hvt_record vqrec(uint64_t seq, uint8_t op, uint8_t queue, uint64_t addr,
			       uint64_t data, uint32_t count, uint64_t arg)
{
	return (struct hvt_record){ .seq = seq, .kind = HVT_VQ, .reason = op, .size = queue,
				    .addr = addr, .data = data, .count = count, .arg = arg };
}

static void apply(struct vq_state *s, uint64_t seq, uint8_t op, uint64_t addr, uint64_t data,
		  uint32_t count, uint64_t arg)
{
	struct hvt_record r = vqrec(seq, op, 0, addr, data, count, arg);
	vq_apply(s, 0, &r);
}

/* Field-by-field equality (structs have padding, so memcmp would compare garbage). */
static void assert_same_state(const struct vq_state *a, const struct vq_state *b, uint64_t seq)
{
	cr_assert_eq(a->ready, b->ready, "seq %lu: ready", (unsigned long)seq);
	cr_assert_eq(a->size, b->size, "seq %lu: size", (unsigned long)seq);
	cr_assert_eq(a->desc_gpa, b->desc_gpa, "seq %lu: desc_gpa", (unsigned long)seq);
	cr_assert_eq(a->avail_gpa, b->avail_gpa, "seq %lu: avail_gpa", (unsigned long)seq);
	cr_assert_eq(a->used_gpa, b->used_gpa, "seq %lu: used_gpa", (unsigned long)seq);
	cr_assert_eq(a->avail_idx, b->avail_idx, "seq %lu: avail_idx", (unsigned long)seq);
	cr_assert_eq(a->last_avail, b->last_avail, "seq %lu: last_avail", (unsigned long)seq);
	cr_assert_eq(a->used_idx, b->used_idx, "seq %lu: used_idx", (unsigned long)seq);
	cr_assert_eq(a->requests, b->requests, "seq %lu: requests", (unsigned long)seq);
	cr_assert_eq(a->notifies, b->notifies, "seq %lu: notifies", (unsigned long)seq);
	cr_assert_eq(a->interrupts, b->interrupts, "seq %lu: interrupts", (unsigned long)seq);
	cr_assert_eq(a->last_seq, b->last_seq, "seq %lu: last_seq", (unsigned long)seq);
	for (unsigned i = 0; i < VIRTQ_NUM_MAX; i++) {
		const struct vq_desc_view *x = &a->desc[i], *y = &b->desc[i];
		cr_assert(x->addr == y->addr && x->len == y->len && x->flags == y->flags &&
			  x->next == y->next && x->seq == y->seq, "seq %lu: desc[%u]", (unsigned long)seq, i);
		cr_assert(a->avail[i].value == b->avail[i].value && a->avail[i].len == b->avail[i].len &&
			  a->avail[i].seq == b->avail[i].seq, "seq %lu: avail[%u]", (unsigned long)seq, i);
		cr_assert(a->used[i].value == b->used[i].value && a->used[i].len == b->used[i].len &&
			  a->used[i].seq == b->used[i].seq, "seq %lu: used[%u]", (unsigned long)seq, i);
	}
}

static void assert_all_unseen(const struct vq_state *s)
{
	for (unsigned i = 0; i < VIRTQ_NUM_MAX; i++) {
		cr_assert_eq(s->desc[i].seq, UNSEEN, "desc[%u] should be unknown", i);
		cr_assert_eq(s->avail[i].seq, UNSEEN, "avail[%u] should be unknown", i);
		cr_assert_eq(s->used[i].seq, UNSEEN, "used[%u] should be unknown", i);
	}
}

/*
 * One GET_ID request, copied from build/demo-virtio.hvt (diskio guest, `hv trace dump`,
 * events 144-179): queue-ready with 64 entries, then a doorbell, avail.idx 1, head 0, the
 * chain 0 -> 1 -> 2 (16-byte header, 20-byte id buffer, 1-byte status), the request, used
 * element {id 0, len 21 = 20 id bytes + 1 status byte}, used.idx 1, no interrupt (polling).
 */
static void replay_get_id(struct vq_state *s)
{
	apply(s, 144, HVT_VQ_READY, 0x128000, 0x127000, 64, 0x126000);
	apply(s, 170, HVT_VQ_NOTIFY, 0xd0001050, 0, 0, 0);
	apply(s, 171, HVT_VQ_AVAIL_IDX, 0x127002, 1, 0, 0);
	apply(s, 172, HVT_VQ_AVAIL_ENTRY, 0x127004, 0, 0, 0);
	apply(s, 173, HVT_VQ_DESC, 0x125080, 16, 0, VIRTQ_DESC_F_NEXT | 1u << 16);
	apply(s, 174, HVT_VQ_DESC, 0x12504c, 20, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | 2u << 16);
	apply(s, 175, HVT_VQ_DESC, 0x125070, 1, 2, VIRTQ_DESC_F_WRITE | 3u << 16);
	apply(s, 176, HVT_VQ_REQUEST, 0, 20, 0, 8);
	apply(s, 177, HVT_VQ_USED_ELEM, 0x126004, 21, 0, 0);
	apply(s, 178, HVT_VQ_USED_IDX, 0x126002, 1, 0, 0);
	apply(s, 179, HVT_VQ_IRQ_SUPPRESS, 0, HVT_IRQ_NO_INTERRUPT_FLAG, 0, 0);
}

Test(vqstate, init_knows_no_entry_and_no_record)
{
	struct vq_state s;
	memset(&s, 0xAB, sizeof s); /* init must not rely on a zeroed struct */
	vq_state_init(&s);
	cr_assert_eq(s.ready, 0);
	cr_assert_eq(s.size, 0);
	cr_assert_eq(s.last_seq, UNSEEN);
	cr_assert_eq(s.requests + s.notifies + s.interrupts, 0);
	assert_all_unseen(&s);
}

Test(vqstate, get_id_request_replays_to_exact_tables)
{
	struct vq_state s;
	vq_state_init(&s);
	replay_get_id(&s);
	cr_assert_eq(s.ready, 1);
	cr_assert_eq(s.size, 64);
	cr_assert_eq(s.desc_gpa, 0x128000);
	cr_assert_eq(s.avail_gpa, 0x127000);
	cr_assert_eq(s.used_gpa, 0x126000);
	/* avail.idx read = 1; last_avail was 0 at the read and the device took one entry. */
	cr_assert_eq(s.avail_idx, 1);
	cr_assert_eq(s.last_avail, 1);
	cr_assert_eq(s.used_idx, 1);
	cr_assert_eq(s.requests, 1);
	cr_assert_eq(s.notifies, 1);
	cr_assert_eq(s.interrupts, 0); /* IRQ_SUPPRESS is not an interrupt */
	cr_assert_eq(s.last_seq, 179);

	cr_assert_eq(s.avail[0].value, 0);
	cr_assert_eq(s.avail[0].seq, 172);
	cr_assert_eq(s.avail[1].seq, UNSEEN);

	cr_assert_eq(s.desc[0].addr, 0x125080);
	cr_assert_eq(s.desc[0].len, 16);
	cr_assert_eq(s.desc[0].flags, VIRTQ_DESC_F_NEXT);
	cr_assert_eq(s.desc[0].next, 1);
	cr_assert_eq(s.desc[0].seq, 173);
	cr_assert_eq(s.desc[1].addr, 0x12504c);
	cr_assert_eq(s.desc[1].len, 20);
	cr_assert_eq(s.desc[1].flags, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE);
	cr_assert_eq(s.desc[1].next, 2);
	cr_assert_eq(s.desc[1].seq, 174);
	cr_assert_eq(s.desc[2].addr, 0x125070);
	cr_assert_eq(s.desc[2].len, 1);
	cr_assert_eq(s.desc[2].flags, VIRTQ_DESC_F_WRITE);
	cr_assert_eq(s.desc[2].next, 3);
	cr_assert_eq(s.desc[2].seq, 175);
	cr_assert_eq(s.desc[3].seq, UNSEEN); /* the chain ended at 2: the device never read 3 */

	cr_assert_eq(s.used[0].value, 0);
	cr_assert_eq(s.used[0].len, 21);
	cr_assert_eq(s.used[0].seq, 177);
	cr_assert_eq(s.used[1].seq, UNSEEN);
}

Test(vqstate, counters_count_requests_notifies_and_interrupts)
{
	struct vq_state s;
	vq_state_init(&s);
	apply(&s, 1, HVT_VQ_NOTIFY, 0, 0, 0, 0);
	apply(&s, 2, HVT_VQ_NOTIFY, 0, 0, 0, 0);
	apply(&s, 3, HVT_VQ_REQUEST, 8, 4096, 3, 1);
	apply(&s, 4, HVT_VQ_IRQ_RAISE, 0, 1, 0, 0);
	apply(&s, 5, HVT_VQ_IRQ_RAISE, 0, 1, 0, 0);
	apply(&s, 6, HVT_VQ_IRQ_RAISE, 0, 1, 0, 0);
	cr_assert_eq(s.notifies, 2);
	cr_assert_eq(s.requests, 1);
	cr_assert_eq(s.interrupts, 3);
	cr_assert_eq(s.last_seq, 6);
}

Test(vqstate, records_of_other_queues_and_kinds_change_nothing)
{
	struct vq_state s, fresh;
	vq_state_init(&s);
	vq_state_init(&fresh);
	/* Queue 1's READY and DESC applied to the state of queue 0. */
	struct hvt_record r = vqrec(5, HVT_VQ_READY, 1, 0x1000, 0x2000, 8, 0x3000);
	vq_apply(&s, 0, &r);
	r = vqrec(6, HVT_VQ_DESC, 1, 0x5000, 512, 3, 0);
	vq_apply(&s, 0, &r);
	/* An exit whose reason number equals HVT_VQ_DESC (6 = internal error) is not a VQ step. */
	r = vqrec(7, HVT_VQ_DESC, 0, 0x5000, 512, 3, 0);
	r.kind = HVT_EXIT;
	vq_apply(&s, 0, &r);
	assert_same_state(&s, &fresh, 7);
}

Test(vqstate, reset_forgets_tables_but_keeps_counters)
{
	struct vq_state s;
	vq_state_init(&s);
	replay_get_id(&s);
	apply(&s, 200, HVT_VQ_RESET, 0, 0, 0, 0);
	cr_assert_eq(s.ready, 0);
	cr_assert_eq(s.size, 0);
	cr_assert_eq(s.desc_gpa | s.avail_gpa | s.used_gpa, 0);
	cr_assert_eq(s.avail_idx | s.last_avail | s.used_idx, 0);
	assert_all_unseen(&s);
	/* The counters describe the whole trace so far, like hv's own (virtq_reset keeps them). */
	cr_assert_eq(s.requests, 1);
	cr_assert_eq(s.notifies, 1);
	cr_assert_eq(s.last_seq, 200);
}

Test(vqstate, ready_again_starts_a_new_session_with_no_entries)
{
	struct vq_state s;
	vq_state_init(&s);
	replay_get_id(&s);
	apply(&s, 300, HVT_VQ_READY, 0x8000, 0x9000, 16, 0xa000);
	cr_assert_eq(s.ready, 1);
	cr_assert_eq(s.size, 16);
	cr_assert_eq(s.desc_gpa, 0x8000);
	cr_assert_eq(s.avail_gpa, 0x9000);
	cr_assert_eq(s.used_gpa, 0xa000);
	/* virtq_activate sets last_avail = used_idx = 0; avail.idx is unread until the next
	 * doorbell. */
	cr_assert_eq(s.avail_idx | s.last_avail | s.used_idx, 0);
	assert_all_unseen(&s);
}

Test(vqstate, avail_entry_moves_last_avail_across_the_16_bit_wrap)
{
	struct vq_state s;
	vq_state_init(&s);
	apply(&s, 1, HVT_VQ_READY, 0x1000, 0x2000, 128, 0x3000);
	/* The device last took entry 65534 (slot 65535 % 128 = 127 next); the driver offered 3. */
	apply(&s, 2, HVT_VQ_AVAIL_IDX, 0x2002, 2, 65535, 0);
	cr_assert_eq(s.avail_idx, 2);
	cr_assert_eq(s.last_avail, 65535);
	apply(&s, 3, HVT_VQ_AVAIL_ENTRY, 0x2000 + 4 + 2 * 127, 9, 127, 0);
	cr_assert_eq(s.last_avail, 0, "65535 + 1 wraps to 0 in 16 bits");
	apply(&s, 4, HVT_VQ_AVAIL_ENTRY, 0x2004, 10, 0, 0);
	cr_assert_eq(s.last_avail, 1);
	cr_assert_eq(s.avail[127].value, 9);
	cr_assert_eq(s.avail[0].value, 10);
	cr_assert_eq(s.avail[0].seq, 4);
}

Test(vqstate, desc_arg_unpacks_flags_low_and_next_high)
{
	struct vq_state s;
	vq_state_init(&s);
	/* arg = flags | next << 16; bits above 32 are not part of either and are dropped. */
	apply(&s, 9, HVT_VQ_DESC, 0xfffffffffffff000ull, 0x1200, 127,
	      0xABCD00000000ull | 0x007Full << 16 | 0x0007u);
	cr_assert_eq(s.desc[127].addr, 0xfffffffffffff000ull);
	cr_assert_eq(s.desc[127].len, 0x1200);
	cr_assert_eq(s.desc[127].flags, 7);
	cr_assert_eq(s.desc[127].next, 0x7F);
	cr_assert_eq(s.desc[127].seq, 9);
}

Test(vqstate, hostile_indices_and_sizes_are_ignored_never_indexed)
{
	struct vq_state s, before;
	vq_state_init(&s);
	replay_get_id(&s);
	before = s;
	/* Indices at and far beyond VIRTQ_NUM_MAX (128): under ASan an out-of-bounds write would
	 * abort here; without it the tables must still be exactly as before. */
	static const uint32_t bad[] = { VIRTQ_NUM_MAX, VIRTQ_NUM_MAX + 1, 65535, UINT32_MAX };
	uint64_t seq = 400;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		apply(&s, seq++, HVT_VQ_DESC, 0x1000, 512, bad[i], 0);
		apply(&s, seq++, HVT_VQ_AVAIL_ENTRY, 0x1000, 5, bad[i], 0);
		apply(&s, seq++, HVT_VQ_USED_ELEM, 0x1000, 5, bad[i], 7);
	}
	/* A READY with a size hv can never accept (T4: 0 or above QueueNumMax). */
	apply(&s, seq++, HVT_VQ_READY, 0x5000, 0x6000, 0, 0x7000);
	apply(&s, seq++, HVT_VQ_READY, 0x5000, 0x6000, VIRTQ_NUM_MAX + 1, 0x7000);
	apply(&s, seq++, HVT_VQ_READY, 0x5000, 0x6000, UINT32_MAX, 0x7000);
	/* An unknown op and queue number 255. */
	apply(&s, seq++, 200, 0, 0, 3, 0);
	struct hvt_record r = vqrec(seq++, HVT_VQ_DESC, 255, 0x1000, 1, 200, 0);
	vq_apply(&s, 0, &r);   /* not this queue */
	vq_apply(&s, 255, &r); /* its queue, but index 200 does not fit any table */
	before.last_seq = s.last_seq; /* the one field ignored records may move */
	/* last_avail must not advance for an entry that was ignored. */
	assert_same_state(&s, &before, seq);
}

/* ---- the checkpoint index ------------------------------------------------------------------- */

/* A record that is not a virtqueue step (a port I/O exit). */
static struct hvt_record exitrec(uint64_t seq)
{
	return (struct hvt_record){ .seq = seq, .kind = HVT_EXIT, .reason = HVT_R_IO, .count = 1 };
}

Test(vqstate, index_keeps_a_checkpoint_every_65536_records)
{
	struct vq_index vi;
	vq_index_init(&vi);
	/* 2 * 65536 + 10 records: checkpoints after record 65535 and after record 131071. */
	uint64_t total = 2ull * VQ_CHECKPOINT_EVERY + 10;
	struct vq_state expect;
	vq_state_init(&expect);
	uint64_t vq = 0;
	for (uint64_t i = 0; i < total; i++) {
		struct hvt_record r = exitrec(i);
		if (i == 3)
			r = vqrec(i, HVT_VQ_READY, 0, 0x1000, 0x2000, 16, 0x3000);
		else if (i == VQ_CHECKPOINT_EVERY - 1) /* the last record before checkpoint 0 */
			r = vqrec(i, HVT_VQ_DESC, 0, 0x4000, 512, 5, VIRTQ_DESC_F_WRITE);
		else if (i == VQ_CHECKPOINT_EVERY) /* the first record after it */
			r = vqrec(i, HVT_VQ_DESC, 0, 0x4000, 100, 6, 0);
		else if (i == 77)
			r = vqrec(i, HVT_VQ_NOTIFY, 5, 0, 0, 0, 0); /* a queue that is counted only */
		if (r.kind == HVT_VQ)
			vq++;
		if (i < VQ_CHECKPOINT_EVERY)
			vq_apply(&expect, 0, &r);
		cr_assert_eq(vq_index_add(&vi, &r), 0);
	}
	cr_assert_eq(vi.fed, total);
	cr_assert_eq(vi.vq_records, vq);
	cr_assert_eq(vi.vq_records, 4);
	cr_assert_eq(vi.queues_seen, (1u << 0) | (1u << 5));
	cr_assert_eq(vi.n, 2);
	cr_assert_eq(vi.cp[0].seq, VQ_CHECKPOINT_EVERY - 1);
	cr_assert_eq(vi.cp[1].seq, 2ull * VQ_CHECKPOINT_EVERY - 1);
	/* Checkpoint 0 holds record 65535's descriptor 5 but not record 65536's descriptor 6. */
	assert_same_state(&vi.cp[0].q[0], &expect, vi.cp[0].seq);
	cr_assert_eq(vi.cp[0].q[0].desc[5].len, 512);
	cr_assert_eq(vi.cp[0].q[0].desc[6].seq, UNSEEN);
	cr_assert_eq(vi.cp[1].q[0].desc[6].len, 100);
	cr_assert_eq(vi.cur[0].desc[6].seq, VQ_CHECKPOINT_EVERY);
	vq_index_free(&vi);
	cr_assert_null(vi.cp);
}

/* ---- jumping through checkpoints, on a model of a real file --------------------------------- */

static char trace_path[64];

static void remove_trace(void)
{
	if (trace_path[0])
		unlink(trace_path);
}

/*
 * A device's life over 3 checkpoints and a bit: one request every 13 records (avail.idx,
 * entry, three descriptors, request, used element, used.idx, interrupt; the rest exits), on a
 * 16-entry queue whose slots wrap many times, a reset and a new READY at record 100000, and
 * queue 1 records sprinkled in. Slots, heads and lengths vary with the request number, so a
 * replay that skipped or repeated any record would leave a different table.
 */
static uint64_t write_device_trace(void)
{
	snprintf(trace_path, sizeof trace_path, "/tmp/hv-vqstate-%d.hvt", (int)getpid());
	char err[256];
	struct trace_writer *t = trace_create(trace_path, HVT_HOST_UNKNOWN, "test_vqstate", err,
					      sizeof err);
	cr_assert_not_null(t, "%s", err);
	const uint64_t total = 3ull * VQ_CHECKPOINT_EVERY + 1234;
	uint16_t last_avail = 0, used = 0;
	struct hvt_record r;
	for (uint64_t i = 0; i < total; i++) {
		uint64_t k = i / 13, step = i % 13;
		uint16_t head = (uint16_t)((k * 3) % 16);
		if (i == 1 || i == 100001) {
			r = vqrec(0, HVT_VQ_READY, 0, 0x10000 + i, 0x20000, 16, 0x30000);
			last_avail = used = 0;
		} else if (i == 100000) {
			r = vqrec(0, HVT_VQ_RESET, 0, 0, 0, 0, 0);
		} else if ((i + 1) % VQ_CHECKPOINT_EVERY == 0) {
			/* A checkpoint's own record, and the one after it, change counters: replaying
			 * either twice or never would show. */
			r = vqrec(0, HVT_VQ_NOTIFY, 0, 0xd0001050, 0, 0, 0);
		} else if (i % VQ_CHECKPOINT_EVERY == 0 && i > 0) {
			r = vqrec(0, HVT_VQ_IRQ_RAISE, 0, 0, 1, 0, 0);
		} else if (step == 2) {
			r = vqrec(0, HVT_VQ_AVAIL_IDX, 0, 0x20002, (uint16_t)(last_avail + 1), last_avail, 0);
		} else if (step == 3) {
			r = vqrec(0, HVT_VQ_AVAIL_ENTRY, 0, 0x20004, head, last_avail % 16, 0);
			last_avail++;
		} else if (step >= 4 && step <= 6) {
			uint32_t d = (uint32_t)((head + step - 4) % 16);
			r = vqrec(0, HVT_VQ_DESC, 0, 0x40000 + k * 0x1000, 16 + (k % 7) * 512, d,
				  (step < 6 ? VIRTQ_DESC_F_NEXT : VIRTQ_DESC_F_WRITE) |
					  (uint64_t)((d + 1) % 16) << 16);
		} else if (step == 7) {
			r = vqrec(0, HVT_VQ_REQUEST, 0, k, 512, head, k % 2);
		} else if (step == 8) {
			r = vqrec(0, HVT_VQ_USED_ELEM, 0, 0x30004, (k % 5) + 1, used % 16, head);
		} else if (step == 9) {
			r = vqrec(0, HVT_VQ_USED_IDX, 0, 0x30002, ++used, 0, 0);
		} else if (step == 10) {
			r = vqrec(0, HVT_VQ_IRQ_RAISE, 0, 0, 1, 0, 0);
		} else if (step == 11 && k % 4 == 0) {
			r = vqrec(0, HVT_VQ_DESC, 1, 0x50000, k, (uint32_t)(k % 16), 0); /* queue 1 */
		} else {
			r = exitrec(0);
		}
		trace_emit(t, &r);
	}
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);
	return total;
}

Test(vqstate, state_at_equals_replay_from_event_0_across_checkpoints, .fini = remove_trace)
{
	uint64_t total = write_device_trace();
	static struct model m;
	char err[512];
	cr_assert_eq(model_open(&m, trace_path, 0, err, sizeof err), 0, "%s", err);
	cr_assert_eq(m.count, total);
	cr_assert_eq(m.vq.n, 3, "checkpoints after records 65535, 131071, 196607");

	/* Seqs on both sides of each checkpoint, the reset, the first and last records. */
	const uint64_t E = VQ_CHECKPOINT_EVERY;
	const uint64_t want[] = { 0, 1, 2, 12, 13, E - 2, E - 1, E, E + 1, 99999, 100000, 100001,
				  100013, 2 * E - 1, 2 * E, 2 * E + 7, 3 * E - 1, 3 * E,
				  total - 2, total - 1 };
	/* One pass from event 0, both queues, stopping at each wanted seq (they are sorted). */
	static struct vq_state scratch[2], jumped;
	vq_state_init(&scratch[0]);
	vq_state_init(&scratch[1]);
	size_t w = 0;
	for (uint64_t i = 0; i < total && w < sizeof want / sizeof want[0]; i++) {
		struct hvt_record r;
		model_get(&m, i, &r);
		vq_apply(&scratch[0], 0, &r);
		vq_apply(&scratch[1], 1, &r);
		if (i != want[w])
			continue;
		for (unsigned q = 0; q < 2; q++) {
			cr_assert_eq(vq_state_at(&m, q, i, &jumped), 0);
			assert_same_state(&jumped, &scratch[q], i);
		}
		w++;
	}
	cr_assert_eq(w, sizeof want / sizeof want[0], "every wanted seq was checked");
	/* The replay did real work: by the end the queue has been used, wrapped and reset. */
	cr_assert_eq(scratch[0].ready, 1);
	cr_assert_eq(scratch[0].desc_gpa, 0x10000 + 100001);
	cr_assert_gt(scratch[0].requests, 15000);
	cr_assert_eq(scratch[1].ready, 0);
	cr_assert_neq(scratch[1].desc[0].seq, UNSEEN, "queue 1's descriptors are kept apart");

	/* No such queue; a seq past the end is the last event. */
	cr_assert_eq(vq_state_at(&m, VQ_MAX_QUEUES, 5, &jumped), -1);
	cr_assert_eq(vq_state_at(&m, 0, total + 1000, &jumped), 0);
	assert_same_state(&jumped, &scratch[0], total - 1);
	model_close(&m);
}

/* ---- the view, drawn into a pad ------------------------------------------------------------- */

static SCREEN *screen;
static FILE *devnull;

static void curses_on(void)
{
	devnull = fopen("/dev/null", "w");
	cr_assert_not_null(devnull);
	screen = newterm("vt100", devnull, stdin);
	cr_assert_not_null(screen, "newterm(vt100) failed: terminfo missing?");
}

static void curses_off(void)
{
	endwin();
	delscreen(screen);
	fclose(devnull);
	remove_trace();
}

/* Row y of the pad as text, trailing spaces removed. */
static const char *row_text(WINDOW *w, int y)
{
	static char buf[256];
	mvwinnstr(w, y, 0, buf, (int)sizeof buf - 1);
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return buf;
}

static int screen_has(WINDOW *w, const char *needle)
{
	int rows, cols;
	getmaxyx(w, rows, cols);
	(void)cols;
	for (int y = 0; y < rows; y++)
		if (strstr(row_text(w, y), needle))
			return 1;
	return 0;
}

/* The get-id request of replay_get_id as a trace: exits, then the virtqueue records. */
static void write_get_id_trace(struct model *m)
{
	snprintf(trace_path, sizeof trace_path, "/tmp/hv-vqview-%d.hvt", (int)getpid());
	char err[256];
	struct trace_writer *t = trace_create(trace_path, HVT_HOST_UNKNOWN, "diskio.bin", err,
					      sizeof err);
	cr_assert_not_null(t, "%s", err);
	struct hvt_record recs[] = {
		exitrec(0),                                                              /* 0 */
		vqrec(0, HVT_VQ_READY, 0, 0x128000, 0x127000, 64, 0x126000),             /* 1 */
		vqrec(0, HVT_VQ_NOTIFY, 0, 0xd0001050, 0, 0, 0),                         /* 2 */
		vqrec(0, HVT_VQ_AVAIL_IDX, 0, 0x127002, 1, 0, 0),                        /* 3 */
		vqrec(0, HVT_VQ_AVAIL_ENTRY, 0, 0x127004, 0, 0, 0),                      /* 4 */
		vqrec(0, HVT_VQ_DESC, 0, 0x125080, 16, 0, VIRTQ_DESC_F_NEXT | 1u << 16), /* 5 */
		vqrec(0, HVT_VQ_DESC, 0, 0x12504c, 20, 1, 3u | 2u << 16),                /* 6 */
		vqrec(0, HVT_VQ_DESC, 0, 0x125070, 1, 2, VIRTQ_DESC_F_WRITE | 3u << 16), /* 7 */
		vqrec(0, HVT_VQ_REQUEST, 0, 0, 20, 0, 8),                                /* 8 */
		vqrec(0, HVT_VQ_USED_ELEM, 0, 0x126004, 21, 0, 0),                       /* 9 */
		vqrec(0, HVT_VQ_USED_IDX, 0, 0x126002, 1, 0, 0),                         /* 10 */
		exitrec(0),                                                              /* 11 */
	};
	for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++)
		trace_emit(t, &recs[i]);
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);
	cr_assert_eq(model_open(m, trace_path, 0, err, sizeof err), 0, "%s", err);
}

static void draw_at(struct app *a, WINDOW *w, uint64_t seq)
{
	app_goto(a, seq);
	werase(w);
	view_virtq.draw(a, w);
}

TestSuite(vqview, .init = curses_on, .fini = curses_off);

Test(vqview, descriptor_read_is_marked_and_explained_at_80_columns)
{
	static struct model m;
	write_get_id_trace(&m);
	struct model *ms[1] = { &m };
	static struct app a;
	app_init(&a, ms, 1);
	a.view = VIEW_VIRTQ;
	WINDOW *w = newpad(22, 80);
	draw_at(&a, w, 7); /* DESC 2: 1-byte buffer the device writes, last of the chain */
	cr_assert(strncmp(row_text(w, 0), "> 7 ", 4) == 0, "dump line: '%s'", row_text(w, 0));
	/* The Path view's sentence for the step (sixstep.c): one explanation per event. */
	cr_assert(screen_has(w, "descriptor 2: 1 byte at "), "teaching line: '%s'", row_text(w, 1));
	cr_assert(screen_has(w, "device-writable; the chain ends here"), "'%s'", row_text(w, 1));
	cr_assert(screen_has(w, "queue 0 of 2  size 64  ready  desc 0x128000  avail 0x127000  "
				"used 0x126000"), "'%s'", row_text(w, 3));
	cr_assert(strstr(row_text(w, 4), "avail.idx 1 last_avail 1 used.idx 0  requests read 0,")
		  != NULL, "'%s'", row_text(w, 4));
	cr_assert(screen_has(w, "? not read by the device yet"));
	/* Row 7 is index 0: desc 0 read earlier, avail[0] = head 0 read earlier, used[0] not yet
	 * (the used element comes at event 9). Row 9 is index 2: desc 2 touched now. */
	const char *r0 = row_text(w, 7);
	cr_assert(strstr(r0, "   0 0x125080         16 NEXT          1") == r0 + 1, "'%s'", r0);
	cr_assert(strstr(r0, "    0     0") != NULL, "avail[0] = head 0: '%s'", r0);
	const char *r2 = row_text(w, 9);
	cr_assert_eq(r2[0], '*', "touched descriptor marked: '%s'", r2);
	/* the last descriptor of the chain: no NEXT flag, so `next` means nothing and shows '-'
	 * (issue 17: it showed the 3 the driver left in the field) */
	cr_assert(strstr(r2, "0x125070          1 WRITE         -") != NULL, "'%s'", r2);
	const char *r3 = row_text(w, 10);
	cr_assert(strncmp(r3, "    3 ?", 7) == 0, "descriptor 3 never read: '%s'", r3);
	/* Nothing drawn past column 80 (the pad is 80 wide; the last column is the '<'). */
	for (int y = 0; y < 22; y++)
		cr_assert_leq(strlen(row_text(w, y)), 80);
	delwin(w);
	model_close(&m);
}

Test(vqview, used_element_touches_the_used_ring_at_120_columns)
{
	static struct model m;
	write_get_id_trace(&m);
	struct model *ms[1] = { &m };
	static struct app a;
	app_init(&a, ms, 1);
	WINDOW *w = newpad(38, 120);
	draw_at(&a, w, 9);
	const char *r0 = row_text(w, 7);
	/* Index 0: desc 0 (plain), avail[0] (plain), used[0] = {id 0, len 21} touched now. */
	cr_assert_eq(r0[0], ' ', "desc 0 is not touched by event 9: '%s'", r0);
	cr_assert(strstr(r0, "*   0     0         21") != NULL, "used[0] touched: '%s'", r0);
	cr_assert(strstr(r0, "0x125080") != NULL);
	draw_at(&a, w, 10);
	cr_assert(strstr(row_text(w, 4), "used.idx 1*") != NULL, "'%s'", row_text(w, 4));
	/* used.idx is 1 now: the next used slot is 1, marked '<'. */
	cr_assert(strstr(row_text(w, 8), "   1     ?          ? <") != NULL, "'%s'", row_text(w, 8));
	delwin(w);
	model_close(&m);
}

Test(vqview, before_queue_ready_and_on_a_legacy_trace_it_says_so)
{
	static struct model m;
	write_get_id_trace(&m);
	struct model *ms[1] = { &m };
	static struct app a;
	app_init(&a, ms, 1);
	WINDOW *w = newpad(22, 80);
	draw_at(&a, w, 0);
	cr_assert(screen_has(w, "queue 0 is not set up at this event"));
	cr_assert(screen_has(w, "event 0 is not a virtqueue step"));
	/* Queue 1 has no record at all. */
	cr_assert_eq(view_virtq.act(&a, A_QUEUE_NEXT, 22), 1);
	cr_assert_eq(a.virtq.queue, 1);
	draw_at(&a, w, 5);
	cr_assert(screen_has(w, "no record names queue 1"));
	cr_assert_eq(view_virtq.act(&a, A_QUEUE_NEXT, 22), 1);
	cr_assert_eq(a.virtq.queue, 0, "queues wrap around");
	model_close(&m);

	/* A trace with exits only: the legacy disk, or no disk. */
	char err[256];
	struct trace_writer *t = trace_create(trace_path, HVT_HOST_UNKNOWN, "x", err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	struct hvt_record r = exitrec(0);
	trace_emit(t, &r);
	trace_emit(t, &r);
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);
	cr_assert_eq(model_open(&m, trace_path, 0, err, sizeof err), 0, "%s", err);
	app_init(&a, ms, 1);
	draw_at(&a, w, 1);
	cr_assert(screen_has(w, "this trace has no virtqueue"));
	cr_assert(screen_has(w, "--disk-path virtio"));
	delwin(w);
	model_close(&m);
}

Test(vqview, follows_the_touched_descriptor_until_scrolled_by_hand)
{
	/* A 64-entry queue whose device reads descriptor 40 at event 2. */
	snprintf(trace_path, sizeof trace_path, "/tmp/hv-vqview-%d.hvt", (int)getpid());
	char err[256];
	struct trace_writer *t = trace_create(trace_path, HVT_HOST_UNKNOWN, "x", err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	struct hvt_record recs[] = {
		vqrec(0, HVT_VQ_READY, 0, 0x1000, 0x2000, 64, 0x3000),
		exitrec(0),
		vqrec(0, HVT_VQ_DESC, 0, 0x8000, 512, 40, VIRTQ_DESC_F_WRITE),
		exitrec(0),
	};
	for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++)
		trace_emit(t, &recs[i]);
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);
	static struct model m;
	cr_assert_eq(model_open(&m, trace_path, 0, err, sizeof err), 0, "%s", err);
	struct model *ms[1] = { &m };
	static struct app a;
	app_init(&a, ms, 1);
	WINDOW *w = newpad(22, 80);
	/* 22 body rows - 7 above the table - 1 position line below it = 14 table rows: showing
	 * 40 needs top = 40 - 13 = 27, so 40 is on row 7 + 13 = 20. */
	cr_assert_eq(a.virtq.follow, 1, "app_init starts following");
	draw_at(&a, w, 2);
	cr_assert(strncmp(row_text(w, 20), "*  40 0x8000", 12) == 0, "'%s'", row_text(w, 20));
	cr_assert(strncmp(row_text(w, 7), "   27 ", 6) == 0, "'%s'", row_text(w, 7));
	cr_assert_str_eq(row_text(w, 21), "-- rows 27-40 of 64, following the device (Up/Down scroll) --");
	/* The user scrolls up a page less one row (13): the next draw keeps the user's row, not
	 * the touched one, and says so. */
	cr_assert_eq(view_virtq.act(&a, A_PAGE_UP, 22), 1);
	cr_assert_eq(a.virtq.follow, 0);
	werase(w);
	view_virtq.draw(&a, w);
	cr_assert(strncmp(row_text(w, 7), "   14 ", 6) == 0, "27 - 13 = 14: '%s'", row_text(w, 7));
	cr_assert_str_eq(row_text(w, 21), "-- rows 14-27 of 64, scrolled by hand (a step follows again) --");
	/* Scrolling never goes past the last row: 64 - 14 = 50 at most. */
	for (int i = 0; i < 10; i++)
		view_virtq.act(&a, A_PAGE_DOWN, 22);
	werase(w);
	view_virtq.draw(&a, w);
	cr_assert(strncmp(row_text(w, 7), "   50 ", 6) == 0, "'%s'", row_text(w, 7));
	cr_assert(strncmp(row_text(w, 20), "   63 ", 6) == 0, "'%s'", row_text(w, 20));
	/* ... nor above the first: 70 presses of Up from 50 stop at 0. */
	for (int i = 0; i < 70; i++)
		cr_assert_eq(view_virtq.act(&a, A_UP, 22), 1);
	cr_assert_eq(a.virtq.scroll, 0);
	/* A step (the app's action) makes the view follow again: back to the touched row. */
	cr_assert_eq(view_virtq.act(&a, A_NEXT, 22), 0);
	cr_assert_eq(a.virtq.follow, 1);
	draw_at(&a, w, 2);
	cr_assert(screen_has(w, "*  40 0x8000"), "touched row visible again");
	delwin(w);
	model_close(&m);
}
