/*
 * test_virtq.c - unit tests for the split virtqueue alone (hv/dev/virtq.c), no device, no KVM.
 *
 * The queue is driven directly (virtq_activate / begin / pop / push / end) over a synthetic
 * 64 KiB guest RAM, the way a future fuzzer will drive it. These tests pin down the ring
 * arithmetic the device tests take for granted: area sizes, the 16-bit index wrap, the exact
 * boundaries of the Q4 and T5 checks, and the order of used-ring writes. The hostile rows
 * themselves (Q1-Q13) are tested end to end in test_virtio.c.
 * Textbook: chapter 4 "Two I/O paths"; virtio 1.1 section 2.6 "Split Virtqueues".
 *
 * Sizes for a queue of N entries (virtio 1.1, 2.6): descriptor table 16 N, available ring
 * 6 + 2 N, used ring 6 + 8 N bytes.
 */
#include <criterion/criterion.h>

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestmem.h"
#include "trace_read.h"
#include "trace_write.h"
#include "dev/virtq.h"

#define RAM   0x10000u
#define N     16u
#define DESC  0x1000u
#define AVAIL 0x2000u
#define USED  0x3000u

static uint8_t *ram;
static struct guest_mem gm;
static struct virtq q;
static struct virtq_chain c;
static struct trace_writer *tw;
static char trace_path[64];
static struct trace_file tf;

static void setup(void)
{
	ram = calloc(1, RAM);
	cr_assert_not_null(ram);
	gm = (struct guest_mem){ .slots = { { .gpa = 0, .size = RAM, .host = ram } }, .nslots = 1 };
	snprintf(trace_path, sizeof(trace_path), "/tmp/hv-virtq-%d.hvt", (int)getpid());
	char err[256];
	tw = trace_create(trace_path, HVT_HOST_UNKNOWN, "test_virtq", err, sizeof(err));
	cr_assert_not_null(tw, "%s", err);
	virtq_init(&q, &gm, tw, 0);
	q.num = N;
	q.desc = DESC;
	q.avail = AVAIL;
	q.used = USED;
	memset(&tf, 0, sizeof(tf));
}

static void teardown(void)
{
	if (tw)
		trace_close(tw, NULL, 0);
	trace_free(&tf);
	unlink(trace_path);
	free(ram);
}

TestSuite(virtq, .init = setup, .fini = teardown);

static void trace_finish(void)
{
	char err[256];
	cr_assert_eq(trace_close(tw, err, sizeof(err)), 0, "%s", err);
	tw = NULL;
	q.trace = NULL;
	cr_assert_eq(trace_load(trace_path, &tf, err, sizeof(err)), 0, "%s", err);
}

static int errors_with(enum hvt_vq_error code)
{
	int n = 0;
	for (uint64_t i = 0; i < tf.count; i++)
		n += tf.records[i].kind == HVT_VQ && tf.records[i].reason == HVT_VQ_ERROR &&
		     tf.records[i].data == (uint64_t)code;
	return n;
}

static void put16(uint64_t gpa, uint16_t v) { v = htole16(v); memcpy(ram + gpa, &v, 2); }
static uint16_t get16(uint64_t gpa) { uint16_t v; memcpy(&v, ram + gpa, 2); return le16toh(v); }
static uint32_t get32(uint64_t gpa) { uint32_t v; memcpy(&v, ram + gpa, 4); return le32toh(v); }

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint64_t d = DESC + 16u * i;
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	memcpy(ram + d, &a, 8);
	memcpy(ram + d + 8, &l, 4);
	put16(d + 12, flags);
	put16(d + 14, next);
}

/* avail.ring[slot % N] = head */
static void avail_entry(uint16_t slot, uint16_t head)
{
	put16(AVAIL + 4 + 2u * (slot % N), head);
}

Test(virtq, area_sizes_match_spec)
{
	/* N = 128: 16 * 128 = 2048; 6 + 2 * 128 = 262; 6 + 8 * 128 = 1030. */
	cr_assert_eq(virtq_desc_bytes(128), 2048);
	cr_assert_eq(virtq_avail_bytes(128), 262);
	cr_assert_eq(virtq_used_bytes(128), 1030);
	/* N = 1, the smallest queue: 16, 8, 14. */
	cr_assert_eq(virtq_desc_bytes(1), 16);
	cr_assert_eq(virtq_avail_bytes(1), 8);
	cr_assert_eq(virtq_used_bytes(1), 14);
}

Test(virtq, ring_ending_exactly_at_ram_end_accepted_one_byte_more_refused)
{
	/* The available ring of N = 16 is 6 + 32 = 38 bytes: at RAM - 38 its last byte is the
	 * last byte of RAM; at RAM - 36 (still 2-aligned) two bytes hang over the end. */
	q.avail = RAM - 38;
	cr_assert_eq(virtq_activate(&q, 128), 0);
	cr_assert(q.ready);
	virtq_reset(&q);
	q.num = N;
	q.desc = DESC;
	q.used = USED;
	q.avail = RAM - 36;
	cr_assert_eq(virtq_activate(&q, 128), HVT_VQE_RING_ADDR);
	cr_assert(!q.ready);
	trace_finish();
	cr_assert_eq(errors_with(HVT_VQE_RING_ADDR), 1);
}

Test(virtq, every_power_of_two_up_to_max_accepted)
{
	for (uint16_t n = 1; n <= 128; n = (uint16_t)(n * 2)) {
		virtq_reset(&q);
		q.num = n;
		q.desc = DESC;
		q.avail = AVAIL;
		q.used = USED;
		cr_assert_eq(virtq_activate(&q, 128), 0, "size %u", n);
	}
}

Test(virtq, chain_splits_readable_then_writable)
{
	cr_assert_eq(virtq_activate(&q, 128), 0);
	desc(3, 0x8000, 16, VIRTQ_DESC_F_NEXT, 7);
	desc(7, 0x8100, 100, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x9000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc(2, 0x9200, 1, VIRTQ_DESC_F_WRITE, 0);
	avail_entry(0, 3);
	put16(AVAIL + 2, 1);
	cr_assert_eq(virtq_begin(&q), 1);
	cr_assert_eq(virtq_pop(&q, &c), VIRTQ_CHAIN);
	cr_assert_eq(c.head, 3);
	cr_assert_eq(c.n, 4);
	cr_assert_eq(c.nread, 2);
	cr_assert_eq(c.readable_bytes, 116);
	cr_assert_eq(c.writable_bytes, 513);
	cr_assert_eq(c.buf[1].host, ram + 0x8100);
	cr_assert(c.buf[2].writable);
	cr_assert_eq(virtq_pop(&q, &c), VIRTQ_EMPTY);
}

Test(virtq, chain_of_exactly_n_descriptors_accepted)
{
	/* N links visit every descriptor once: legal. The Q4 limit is link N + 1. */
	cr_assert_eq(virtq_activate(&q, 128), 0);
	for (uint16_t i = 0; i < N; i++)
		desc(i, 0x8000 + 16u * i, 16, i + 1u < N ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	avail_entry(0, 0);
	put16(AVAIL + 2, 1);
	cr_assert_eq(virtq_begin(&q), 1);
	cr_assert_eq(virtq_pop(&q, &c), VIRTQ_CHAIN);
	cr_assert_eq(c.n, N);
}

Test(virtq, zero_length_descriptor_loop_still_terminates)
{
	/* Zero-length descriptors are skipped (Q8) but still count as links, so a loop made
	 * only of them ends after N links as Q4. */
	cr_assert_eq(virtq_activate(&q, 128), 0);
	desc(0, 0, 0, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0, 0, VIRTQ_DESC_F_NEXT, 0);
	avail_entry(0, 0);
	put16(AVAIL + 2, 1);
	cr_assert_eq(virtq_begin(&q), 1);
	cr_assert_eq(virtq_pop(&q, &c), VIRTQ_REJECTED);
	cr_assert_eq(get16(USED + 2), 1);
	cr_assert_eq(get32(USED + 8), 0); /* used len 0 */
	trace_finish();
	cr_assert_eq(errors_with(HVT_VQE_LOOP), 1);
}

Test(virtq, indices_wrap_at_65536)
{
	/* Both counters at 65534, avail.idx = 1: (uint16_t)(1 - 65534) = 3 entries, in slots
	 * 65534 % 16 = 14, 15 and 0; used.idx goes 65535, 0, 1. */
	cr_assert_eq(virtq_activate(&q, 128), 0);
	q.last_avail = 65534;
	q.used_idx = 65534;
	desc(5, 0x8000, 4, 0, 0);
	avail_entry(14, 5);
	avail_entry(15, 5);
	avail_entry(0, 5);
	put16(AVAIL + 2, 1);
	cr_assert_eq(virtq_begin(&q), 3);
	for (int k = 0; k < 3; k++) {
		cr_assert_eq(virtq_pop(&q, &c), VIRTQ_CHAIN);
		cr_assert_eq(virtq_push(&q, c.head, 4), 0);
	}
	cr_assert_eq(virtq_pop(&q, &c), VIRTQ_EMPTY);
	cr_assert_eq(get16(USED + 2), 1);
	cr_assert_eq(get32(USED + 4 + 8 * 14), 5); /* id of the first element, slot 14 */
	cr_assert_eq(get32(USED + 4 + 8 * 0), 5);  /* id of the third, slot 0 */
	cr_assert_eq(q.last_avail, 1);
}

Test(virtq, push_writes_element_then_index)
{
	cr_assert_eq(virtq_activate(&q, 128), 0);
	cr_assert_eq(virtq_push(&q, 9, 77), 0);
	cr_assert_eq(get32(USED + 4), 9);
	cr_assert_eq(get32(USED + 8), 77);
	cr_assert_eq(get16(USED + 2), 1);
	trace_finish();
	/* READY, then USED_ELEM {slot 0, id 9, len 77}, then USED_IDX = 1. */
	cr_assert_eq(tf.count, 3);
	cr_assert_eq(tf.records[1].reason, HVT_VQ_USED_ELEM);
	cr_assert_eq(tf.records[1].addr, USED + 4);
	cr_assert_eq(tf.records[1].data, 77);
	cr_assert_eq(tf.records[1].arg, 9);
	cr_assert_eq(tf.records[2].reason, HVT_VQ_USED_IDX);
	cr_assert_eq(tf.records[2].data, 1);
}

Test(virtq, work_bounded_by_the_avail_idx_snapshot)
{
	cr_assert_eq(virtq_activate(&q, 128), 0);
	desc(0, 0x8000, 4, 0, 0);
	for (uint16_t s = 0; s < 5; s++)
		avail_entry(s, 0);
	put16(AVAIL + 2, 2);
	cr_assert_eq(virtq_begin(&q), 2);
	put16(AVAIL + 2, 5); /* the guest appends while we drain */
	cr_assert_eq(virtq_pop(&q, &c), VIRTQ_CHAIN);
	cr_assert_eq(virtq_pop(&q, &c), VIRTQ_CHAIN);
	cr_assert_eq(virtq_pop(&q, &c), VIRTQ_EMPTY);
	cr_assert_eq(virtq_begin(&q), 3); /* the next notify takes the rest */
}

Test(virtq, interrupt_decision_reads_only_bit_0)
{
	cr_assert_eq(virtq_activate(&q, 128), 0);
	cr_assert_eq(virtq_begin(&q), 0);
	cr_assert_eq(virtq_end(&q), VIRTQ_IRQ_NONE); /* nothing used: nothing to signal */
	virtq_begin(&q);
	virtq_push(&q, 0, 0);
	put16(AVAIL, 0xFFFE);
	cr_assert_eq(virtq_end(&q), VIRTQ_IRQ_SEND);
	virtq_begin(&q);
	virtq_push(&q, 0, 0);
	put16(AVAIL, 0x0001);
	cr_assert_eq(virtq_end(&q), VIRTQ_IRQ_SUPPRESSED);
}

Test(virtq, broken_queue_takes_nothing_until_reset)
{
	cr_assert_eq(virtq_activate(&q, 128), 0);
	avail_entry(0, N); /* Q2 */
	put16(AVAIL + 2, 1);
	cr_assert_eq(virtq_begin(&q), 1);
	cr_assert_eq(virtq_pop(&q, &c), VIRTQ_RING_ERROR);
	cr_assert(q.broken);
	cr_assert_eq(virtq_begin(&q), 0);
	cr_assert_eq(virtq_pop(&q, &c), VIRTQ_EMPTY);
	uint64_t errors = q.errors;
	virtq_reset(&q);
	cr_assert(!q.broken);
	cr_assert(!q.ready);
	cr_assert_eq(q.num, 0);
	cr_assert_eq(q.errors, errors); /* counters describe the whole run */
}
