/*
 * test_tracepage.c - the para-virtual trace page (hv/tracepage.c) driven as a guest kernel
 * would, and as a hostile one would: registration, draining in order, the clock, and rows
 * P1-P4 of textbook appendix C. No KVM: guest RAM is a calloc()ed buffer.
 * Textbook: chapter 5 "A guest OS", section "Seeing ring changes: the trace page".
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "guestmem.h"
#include "pvtrace.h"
#include "trace_read.h"
#include "trace_write.h"
#include "tracepage.h"

#define RAM_SIZE (64u * 1024u)
#define PAGE     0x3000u /* where our "guest kernel" keeps its trace page */

static uint8_t *ram;
static struct guest_mem gm;
static struct trace_writer *tw;
static struct trace_file tf;
static char trace_path[64];
static struct tracepage tp;

static void setup(void)
{
	ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(ram);
	gm = (struct guest_mem){ .slots = { { .gpa = 0, .size = RAM_SIZE, .host = ram } }, .nslots = 1 };
	snprintf(trace_path, sizeof(trace_path), "/tmp/hv-tracepage-%d.hvt", (int)getpid());
	char err[256];
	tw = trace_create(trace_path, HVT_HOST_UNKNOWN, "test_tracepage", err, sizeof(err));
	cr_assert_not_null(tw, "%s", err);
	tracepage_init(&tp, &gm, tw);
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

TestSuite(tracepage, .init = setup, .fini = teardown);

static struct hv_pvtrace_header *hdr(void)
{
	return (struct hv_pvtrace_header *)(ram + PAGE);
}

/* What the guest kernel does before registering (pvtrace.h, step 2). */
static void guest_fill_header(void)
{
	*hdr() = (struct hv_pvtrace_header){ .magic = HV_PVTRACE_MAGIC, .version = HV_PVTRACE_VERSION,
					     .record_size = HV_PVTRACE_REC_SIZE,
					     .capacity = HV_PVTRACE_CAPACITY };
}

/* The OUT32 of the page address to port 0x528. */
static void guest_register(uint32_t gpa)
{
	uint8_t data[4];
	memcpy(data, &gpa, 4);
	tracepage_ops.write(&tp, 0, data, 4);
}

/* The guest appends one record (pvtrace.h, step 3): the slot first, then head. */
static void guest_append(uint8_t kind, uint8_t from, uint8_t to, uint32_t nr, uint64_t tsc)
{
	struct hv_pvtrace_header *h = hdr();
	struct hv_pvtrace_record *r =
		(struct hv_pvtrace_record *)(ram + PAGE + HV_PVTRACE_HDR_SIZE) + h->head % h->capacity;
	*r = (struct hv_pvtrace_record){ .tsc = tsc, .kind = kind, .from_cpl = from, .to_cpl = to,
					 .vector = 0x80, .nr = nr, .rip = 0x400000 + h->head,
					 .task = 1, .arg = 7 };
	h->head++;
}

/* A clock with no TSC rate: records get the exit's time (ceil). */
static const struct tracepage_clock no_clock = { .ceil_ns = 1000, .floor_ns = 0 };

static void finish(void)
{
	char err[256];
	cr_assert_eq(trace_close(tw, err, sizeof(err)), 0, "%s", err);
	tw = NULL;
	cr_assert_eq(trace_load(trace_path, &tf, err, sizeof(err)), 0, "%s", err);
}

static int count_kind(uint8_t kind, uint8_t reason_or_0)
{
	int n = 0;
	for (uint64_t i = 0; i < tf.count; i++)
		n += tf.records[i].kind == kind && (!reason_or_0 || tf.records[i].reason == reason_or_0);
	return n;
}

static int guest_errors(enum tracepage_error why)
{
	int n = 0;
	for (uint64_t i = 0; i < tf.count; i++)
		n += tf.records[i].kind == HVT_GUEST_ERROR && tf.records[i].addr == HV_PORT_PVTRACE &&
		     tf.records[i].data == (uint64_t)why;
	return n;
}

/* ---- the protocol ---- */

Test(tracepage, the_ring_holds_64_records_a_power_of_two)
{
	/* 64 (chapter 5): 2^32 is a multiple of it, so slots stay in order across head's wrap. */
	cr_assert_eq(HV_PVTRACE_CAPACITY, 64);
	cr_assert_eq((1ull << 32) % HV_PVTRACE_CAPACITY, 0);
}

Test(tracepage, slots_stay_in_order_across_the_2_pow_32_wrap_of_head)
{
	guest_fill_header();
	hdr()->head = hdr()->tail = 0xFFFFFFF0u; /* 16 records before head wraps */
	guest_register(PAGE);
	for (uint32_t i = 0; i < 40; i++)
		guest_append(HV_PVT_INTERRUPT, 3, 0, i, 0);
	cr_assert_eq(hdr()->head, 40 - 16);
	cr_assert_eq(tracepage_drain(&tp, &no_clock), 40);
	finish();
	for (uint64_t i = 0; i < 40; i++)
		cr_assert_eq((uint32_t)tf.records[i].data, i, "record %llu", (unsigned long long)i);
}

Test(tracepage, registered_records_are_drained_in_order_with_their_fields)
{
	guest_fill_header();
	guest_register(PAGE);
	cr_assert_eq(tp.registrations, 1);
	cr_assert_eq(tracepage_poll(&tp), 0);
	guest_append(HV_PVT_SYSCALL, 3, 0, HV_SYS_WRITE, 0);
	guest_append(HV_PVT_SYSRET, 0, 3, HV_SYS_WRITE, 0);
	cr_assert_eq(tracepage_poll(&tp), 2);
	cr_assert_eq(tracepage_drain(&tp, &no_clock), 2);
	cr_assert_eq(tracepage_poll(&tp), 0);
	/* hv gave the slots back: the guest sees tail == head */
	cr_assert_eq(hdr()->tail, 2);
	finish();
	cr_assert_eq(tf.count, 2);
	const struct hvt_record *a = &tf.records[0], *b = &tf.records[1];
	cr_assert_eq(a->kind, HVT_RING);
	cr_assert_eq(a->reason, HV_PVT_SYSCALL);
	cr_assert_eq(a->cpl, 3);      /* from */
	cr_assert_eq(a->size, 0);     /* to */
	cr_assert_eq(a->addr, 0x80);  /* vector */
	cr_assert_eq(a->data, (7ull << 32) | HV_SYS_WRITE); /* arg << 32 | nr */
	cr_assert_eq(a->rip, 0x400000);
	cr_assert_eq(a->count, 1);    /* task */
	cr_assert_eq(b->reason, HV_PVT_SYSRET);
	cr_assert_eq(b->cpl, 0);
	cr_assert_eq(b->size, 3);
	/* no TSC rate: placed at the exit, and flagged as only bounded */
	cr_assert_eq(a->time_ns, 1000);
	cr_assert(a->flags & HVT_F_TIME_BOUND);
}

Test(tracepage, records_written_before_registration_are_not_read)
{
	guest_fill_header();
	guest_append(HV_PVT_SYSCALL, 3, 0, 1, 0);
	guest_register(PAGE);
	cr_assert_eq(tracepage_poll(&tp), 0);
	cr_assert_eq(tracepage_drain(&tp, &no_clock), 0);
}

Test(tracepage, the_ring_wraps_past_capacity)
{
	guest_fill_header();
	guest_register(PAGE);
	/* Five rounds of 50: 250 records through a 64-slot ring, drained after each round. */
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 50; i++)
			guest_append(HV_PVT_INTERRUPT, 3, 0, (uint32_t)(round * 50 + i), 0);
		cr_assert_eq(tracepage_drain(&tp, &no_clock), 50);
	}
	finish();
	cr_assert_eq(tf.count, 250);
	for (uint64_t i = 0; i < 250; i++)
		cr_assert_eq((uint32_t)tf.records[i].data, i, "record %llu out of order", (unsigned long long)i);
}

Test(tracepage, a_full_ring_is_drained_whole)
{
	guest_fill_header();
	guest_register(PAGE);
	for (unsigned i = 0; i < HV_PVTRACE_CAPACITY; i++)
		guest_append(HV_PVT_IRET, 0, 3, i, 0);
	/* head - tail == capacity is legal: the guest rings the port then (pvtrace.h step 5) */
	guest_register(PAGE);
	cr_assert_eq(tracepage_drain(&tp, &no_clock), HV_PVTRACE_CAPACITY);
	cr_assert_eq(tp.errors, 0);
}

/* ---- the clock ---- */

Test(tracepage, guest_tsc_is_turned_into_trace_time)
{
	guest_fill_header();
	guest_register(PAGE);
	/* TSC at 2 GHz (2,000,000 kHz): 2000 ticks = 1 us. Now: TSC 1,000,000, trace 500,000 ns.
	 * A record at TSC 980,000 is 20,000 ticks = 10,000 ns old: trace time 490,000. */
	guest_append(HV_PVT_SYSCALL, 3, 0, 4, 980000);
	guest_append(HV_PVT_SYSRET, 0, 3, 4, 990000); /* 5,000 ns old: 495,000 */
	struct tracepage_clock clk = { .guest_tsc = 1000000, .now_ns = 500000, .tsc_khz = 2000000,
				       .floor_ns = 100000, .ceil_ns = 499000 };
	cr_assert_eq(tracepage_drain(&tp, &clk), 2);
	finish();
	cr_assert_eq(tf.records[0].time_ns, 490000);
	cr_assert_eq(tf.records[1].time_ns, 495000);
	cr_assert(tf.records[0].flags & HVT_F_GUEST_CLOCK);
}

Test(tracepage, times_are_held_between_the_last_entry_and_this_exit_and_never_go_back)
{
	guest_fill_header();
	guest_register(PAGE);
	guest_append(HV_PVT_SYSCALL, 3, 0, 4, 0);        /* ancient: before the last entry */
	guest_append(HV_PVT_SYSRET, 0, 3, 4, 5000000);   /* "in the future": after now */
	guest_append(HV_PVT_SYSCALL, 3, 0, 4, 999000);   /* 500 ns old: but older than the previous? no: placed after it */
	struct tracepage_clock clk = { .guest_tsc = 1000000, .now_ns = 500000, .tsc_khz = 2000000,
				       .floor_ns = 200000, .ceil_ns = 499000 };
	tracepage_drain(&tp, &clk);
	finish();
	cr_assert_eq(tf.records[0].time_ns, 200000); /* clamped up to the floor (last entry) */
	cr_assert_eq(tf.records[1].time_ns, 499000); /* clamped down to the exit */
	cr_assert_eq(tf.records[2].time_ns, 499000); /* 499,500 > exit: clamped, and never < previous */
}

Test(tracepage, a_huge_tsc_distance_does_not_overflow)
{
	guest_fill_header();
	guest_register(PAGE);
	guest_append(HV_PVT_SYSCALL, 3, 0, 4, 1);
	/* delta = 2^64 - 2 ticks at 1 kHz: delta * 1e6 would overflow 64 bits many times over */
	struct tracepage_clock clk = { .guest_tsc = UINT64_MAX - 1, .now_ns = 700, .tsc_khz = 1,
				       .floor_ns = 10, .ceil_ns = 600 };
	tracepage_drain(&tp, &clk);
	finish();
	cr_assert_eq(tf.records[0].time_ns, 10); /* infinitely old: held at the floor */
}

/* ---- a hostile guest (P1-P4) ---- */

Test(tracepage, p1_unaligned_or_outside_ram_addresses_are_refused)
{
	guest_fill_header();
	guest_register(PAGE + 8);             /* not page-aligned */
	guest_register(RAM_SIZE - 0x800);     /* not aligned and runs off the end */
	guest_register(RAM_SIZE);             /* aligned, but no RAM there */
	guest_register(0xFFFFF000u);          /* far outside */
	guest_register(0);                    /* the null page is never a trace page */
	cr_assert_eq(tp.page, 0);
	cr_assert_eq(tp.registrations, 0);
	finish();
	cr_assert_eq(guest_errors(TP_GE_BAD_ADDRESS), 5);
}

Test(tracepage, p1_wrong_width_is_refused)
{
	uint8_t b[2] = { 0, 0x30 };
	tracepage_ops.write(&tp, 0, b, 2);
	tracepage_ops.write(&tp, 1, b, 1);
	cr_assert_eq(tp.page, 0);
	finish();
	cr_assert_eq(guest_errors(TP_GE_BAD_WIDTH), 2);
}

Test(tracepage, p2_a_page_without_the_header_is_refused)
{
	guest_register(PAGE); /* header all zero */
	cr_assert_eq(tp.page, 0);
	finish();
	cr_assert_eq(guest_errors(TP_GE_BAD_HEADER), 1);
}

Test(tracepage, p2_a_header_damaged_later_is_reported_once_and_not_read_until_repaired)
{
	guest_fill_header();
	guest_register(PAGE);
	guest_append(HV_PVT_SYSCALL, 3, 0, 4, 0);
	hdr()->magic = 0xdeadbeef;
	for (int i = 0; i < 5; i++) /* five exits with the damage in place */
		cr_assert_eq(tracepage_drain(&tp, &no_clock), 0);
	hdr()->magic = HV_PVTRACE_MAGIC; /* repaired: the record is read after all */
	cr_assert_eq(tracepage_drain(&tp, &no_clock), 1);
	finish();
	cr_assert_eq(guest_errors(TP_GE_BAD_HEADER), 1);
	cr_assert_eq(count_kind(HVT_RING, 0), 1);
}

Test(tracepage, p3_a_head_that_jumps_is_reported_and_hv_skips_to_it)
{
	guest_fill_header();
	guest_register(PAGE);
	hdr()->head += 100000; /* claims 100000 records in a 64-slot ring */
	cr_assert_eq(tracepage_drain(&tp, &no_clock), 0);
	cr_assert_eq(tp.tail, 100000);
	guest_append(HV_PVT_SYSCALL, 3, 0, 4, 0); /* from there on it works again */
	cr_assert_eq(tracepage_drain(&tp, &no_clock), 1);
	finish();
	cr_assert_eq(guest_errors(TP_GE_HEAD_JUMP), 1);
}

Test(tracepage, p3_a_head_that_goes_backwards_is_a_jump_too)
{
	guest_fill_header();
	guest_register(PAGE);
	guest_append(HV_PVT_SYSCALL, 3, 0, 4, 0);
	tracepage_drain(&tp, &no_clock);
	hdr()->head = 0; /* 0 - 1 = 0xFFFFFFFF records "new" */
	cr_assert_eq(tracepage_drain(&tp, &no_clock), 0);
	finish();
	cr_assert_eq(guest_errors(TP_GE_HEAD_JUMP), 1);
}

Test(tracepage, p4_impossible_records_are_reported_and_skipped)
{
	guest_fill_header();
	guest_register(PAGE);
	guest_append(99, 3, 0, 4, 0);               /* unknown kind */
	guest_append(HV_PVT_SYSCALL, 7, 0, 4, 0);   /* CPL 7 */
	guest_append(HV_PVT_SYSCALL, 3, 4, 4, 0);   /* CPL 4 */
	guest_append(0, 0, 0, 0, 0);                /* kind 0 */
	guest_append(HV_PVT_SYSCALL, 3, 0, 4, 0);   /* a good one after them */
	cr_assert_eq(tracepage_drain(&tp, &no_clock), 1);
	finish();
	cr_assert_eq(guest_errors(TP_GE_BAD_RECORD), 4);
	cr_assert_eq(count_kind(HVT_RING, 0), 1);
}

Test(tracepage, without_a_trace_records_are_counted_and_slots_given_back)
{
	tracepage_init(&tp, &gm, NULL);
	guest_fill_header();
	guest_register(PAGE);
	guest_append(HV_PVT_SYSCALL, 3, 0, 4, 0);
	cr_assert_eq(tracepage_drain(&tp, &no_clock), 1);
	cr_assert_eq(tp.records, 1);
	cr_assert_eq(hdr()->tail, 1);
}

Test(tracepage, p2_damage_is_seen_at_the_next_exit_even_with_nothing_new)
{
	guest_fill_header();
	guest_register(PAGE);
	hdr()->version = 7; /* head unchanged: nothing to drain, but the header is broken */
	cr_assert_eq(tracepage_poll(&tp), 0);
	cr_assert_eq(tracepage_poll(&tp), 0);
	finish();
	cr_assert_eq(guest_errors(TP_GE_BAD_HEADER), 1);
}
