/*
 * test_filter.c - unit tests for hvviz's Timeline filter and text search (viz/filter.c).
 *
 * Concept: a filter is a small language, and its words are the words `hv trace dump`
 * prints. These tests hold it to that: every accepted word gives the exact condition, every
 * rejected word gives the exact one-line error naming what is allowed, and the match table
 * over hand-built records proves which events each condition keeps (ranges at their edges,
 * the thread names, the reason byte read per kind). Search is checked on real dump lines.
 * Textbook: chapter 6 "Watching it happen", section "Finding the exits you care about";
 * appendix A "The trace format".
 */
#include <criterion/criterion.h>

#include <string.h>

#include "filter.h"
#include "layout.h"
#include "model.h"
#include "pvtrace.h"
#include "trace_dump.h"
#include "trace_names.h"

/* ---- helpers ---- */

static struct filter parse_ok(const char *text)
{
	struct filter f;
	char err[256] = "";
	int rc = filter_parse(text, &f, err, sizeof err);
	cr_assert_eq(rc, 0, "'%s' was refused: %s", text, err);
	return f;
}

static void parse_fails(const char *text, const char *want)
{
	struct filter f;
	char err[512] = "";
	cr_assert_eq(filter_parse(text, &f, err, sizeof err), -1, "'%s' was accepted", text);
	cr_assert_str_eq(err, want, "error for '%s'", text);
}

/* An exit record as the exit loop writes it (hv/vcpu.c): reason, port/address, direction. */
static struct hvt_record exit_rec(uint8_t reason, uint64_t addr, uint32_t flags)
{
	struct hvt_record r = { .seq = 2, .time_ns = 862810, .vcpu = 0, .kind = HVT_EXIT,
				.reason = reason, .size = 1, .mode = HVT_MODE_REAL, .addr = addr,
				.rip = 0x8130, .count = 1, .flags = flags, .duration_ns = 3635 };
	return r;
}

static struct hvt_record rec(uint8_t kind, uint8_t reason, uint16_t vcpu, uint64_t addr)
{
	struct hvt_record r = { .kind = kind, .reason = reason, .vcpu = vcpu, .addr = addr,
				.count = 1 };
	return r;
}

/* ---- accepted words ---- */

Test(filter, empty_text_is_an_inactive_filter_that_matches_everything)
{
	struct filter f = parse_ok("   ");
	cr_assert_eq(f.active, 0);
	cr_assert_str_eq(f.text, "");
	cr_assert_eq(f.kind, -1);
	cr_assert_eq(f.reason, -1);
	cr_assert_eq(f.dev, -1);
	cr_assert_eq(f.vcpu, -1);
	cr_assert_eq(f.has_addr, 0);
	struct hvt_record r = rec(HVT_COUNTER, 0, 0, HVT_C_EXITS);
	cr_assert_eq(filter_match(&f, &r), 1);
}

Test(filter, full_exit_filter_sets_every_condition)
{
	/* trace.h: HVT_EXIT = 1, HVT_R_IO = 1; 0x3f8 = COM1 (layout.h HV_PORT_UART0). */
	struct filter f = parse_ok(" kind=exit reason=io port=0x3f8 vcpu=0 ");
	cr_assert_eq(f.active, 1);
	cr_assert_str_eq(f.text, "kind=exit reason=io port=0x3f8 vcpu=0", "text trimmed, kept");
	cr_assert_eq(f.kind, HVT_EXIT);
	cr_assert_eq(f.reason, HVT_R_IO);
	cr_assert_eq(f.has_addr, 1);
	cr_assert_eq(f.addr_lo, 0x3f8);
	cr_assert_eq(f.addr_hi, 0x3f8);
	cr_assert_eq(f.vcpu, 0);
	cr_assert_eq(f.dev, -1);
}

Test(filter, reason_without_kind_picks_the_kind_that_names_it)
{
	/* Exit reasons first, then the vq, disk, irq and ring op tables (trace.h values). */
	struct filter f = parse_ok("reason=io");
	cr_assert_eq(f.kind, HVT_EXIT);
	cr_assert_eq(f.reason, HVT_R_IO);
	f = parse_ok("reason=notify");
	cr_assert_eq(f.kind, HVT_VQ);
	cr_assert_eq(f.reason, HVT_VQ_NOTIFY);
	f = parse_ok("reason=flush");
	cr_assert_eq(f.kind, HVT_DISK);
	cr_assert_eq(f.reason, HVT_DISK_FLUSH);
	f = parse_ok("reason=inject");
	cr_assert_eq(f.kind, HVT_IRQ);
	cr_assert_eq(f.reason, HVT_IRQ_INJECT);
	f = parse_ok("reason=task-kill");
	cr_assert_eq(f.kind, HVT_RING);
	cr_assert_eq(f.reason, HV_PVT_TASK_KILL);
}

Test(filter, reason_is_resolved_against_a_kind_given_after_it)
{
	/* "read" is disk op 1; the kind comes second and still decides the table. */
	struct filter f = parse_ok("reason=read kind=disk");
	cr_assert_eq(f.kind, HVT_DISK);
	cr_assert_eq(f.reason, HVT_DISK_READ);
	/* run-return records carry an exit reason (the table shared with exits). */
	f = parse_ok("kind=run-return reason=none");
	cr_assert_eq(f.kind, HVT_RUN_RETURN);
	cr_assert_eq(f.reason, HVT_R_NONE);
}

Test(filter, names_and_keys_ignore_case)
{
	struct filter f = parse_ok("KIND=Exit Reason=MMIO Dev=Virtio-Blk");
	cr_assert_eq(f.kind, HVT_EXIT);
	cr_assert_eq(f.reason, HVT_R_MMIO);
	cr_assert_eq(f.dev, VIZ_DEV_VIRTIO_BLK);
}

Test(filter, port_and_addr_take_hex_decimal_and_inclusive_ranges)
{
	/* 1016 decimal = 0x3f8. */
	struct filter f = parse_ok("addr=1016");
	cr_assert_eq(f.addr_lo, 0x3f8);
	cr_assert_eq(f.addr_hi, 0x3f8);
	f = parse_ok("port=0x1F0-0x1f7");
	cr_assert_eq(f.addr_lo, 0x1f0);
	cr_assert_eq(f.addr_hi, 0x1f7);
	f = parse_ok("addr=32-0x21");
	cr_assert_eq(f.addr_lo, 0x20);
	cr_assert_eq(f.addr_hi, 0x21);
	f = parse_ok("addr=0xffffffffffffffff");
	cr_assert_eq(f.addr_lo, UINT64_MAX);
}

Test(filter, vcpu_takes_numbers_and_the_thread_names)
{
	/* trace.h: HVT_VCPU_IOTHREAD = 0xFFFF, HVT_VCPU_TIMER = 0xFFFE. */
	cr_assert_eq(parse_ok("vcpu=iothread").vcpu, 0xFFFF);
	cr_assert_eq(parse_ok("vcpu=timer").vcpu, 0xFFFE);
	cr_assert_eq(parse_ok("vcpu=3").vcpu, 3);
	cr_assert_eq(parse_ok("vcpu=0xfffd").vcpu, 0xFFFD, "the highest vCPU number");
}

/* ---- rejected words: the exact line a student reads ---- */

Test(filter, unknown_kind_lists_every_kind)
{
	parse_fails("kind=exti",
		    "unknown kind 'exti' (exit, run-return, run-call, entry, counter, guest-error, "
		    "vq, disk, irq, ring, gdb-stop)");
}

Test(filter, unknown_word_lists_the_keys)
{
	parse_fails("kind=exit colour=red",
		    "unknown filter word 'colour=red' (kind=, reason=, port=, addr=, dev=, vcpu=)");
	parse_fails("exit",
		    "unknown filter word 'exit' (kind=, reason=, port=, addr=, dev=, vcpu=)");
}

Test(filter, word_without_value_is_refused)
{
	parse_fails("kind=", "'kind=' needs a value (for example kind=exit, port=0x3f8)");
}

Test(filter, unknown_reason_lists_the_kinds_ops_or_the_exit_reasons)
{
	parse_fails("kind=disk reason=notify",
		    "unknown reason 'notify' for kind disk (read, write, flush)");
	parse_fails("reason=bogus",
		    "unknown reason 'bogus' (exit reasons: none, io, mmio, hlt, shutdown, "
		    "fail-entry, internal, intr, debug, system-event, other, irq-window; with "
		    "kind=vq, disk, irq or ring: that kind's ops)");
	parse_fails("kind=counter reason=io",
		    "kind counter has no reason (reason= applies to exit, run-return, run-call, "
		    "entry, vq, disk, irq, ring)");
}

Test(filter, bad_numbers_and_reversed_ranges_are_refused)
{
	const char *tail = " (a number like 0x3f8 or 1016, or a range like 0x1f0-0x1f7)";
	const char *bad[] = { "0x3g8", "0x", "-5", "1-", "-", "99999999999999999999", "3f8" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[64], want[160];
		snprintf(text, sizeof text, "port=%s", bad[i]);
		snprintf(want, sizeof want, "bad port '%s'%s", bad[i], tail);
		parse_fails(text, want);
	}
	parse_fails("addr=0x10-0x1", "bad addr range '0x10-0x1' (the low end comes first)");
}

Test(filter, unknown_device_lists_the_devices)
{
	parse_fails("dev=floppy",
		    "unknown device 'floppy' (uart, ata, virtio-blk, pic, pit, exit, debugcon, "
		    "testdev, pvtrace, steptrap, rtc, i8042, acpi-pm1, unclaimed)");
}

Test(filter, bad_vcpu_is_refused)
{
	parse_fails("vcpu=cpu0", "bad vcpu 'cpu0' (a vCPU number like 0, iothread or timer)");
	/* 65534 is HVT_VCPU_TIMER's number: it must be named, not typed as a vCPU. */
	parse_fails("vcpu=65534", "bad vcpu '65534' (a vCPU number like 0, iothread or timer)");
}

Test(filter, a_condition_given_twice_is_refused)
{
	const char *why = " repeats a condition (each of kind=, reason=, port=, addr=, dev=, "
			  "vcpu= at most once; port= and addr= are the same)";
	char want[256];
	snprintf(want, sizeof want, "'kind=vq'%s", why);
	parse_fails("kind=exit kind=vq", want);
	snprintf(want, sizeof want, "'addr=2'%s", why);
	parse_fails("port=1 addr=2", want);
}

Test(filter, too_long_text_is_refused)
{
	char text[200];
	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	parse_fails(text, "filter too long (at most 127 characters)");
}

Test(filter, a_refused_filter_leaves_the_old_one_in_force)
{
	struct filter f = parse_ok("kind=vq");
	char err[256];
	cr_assert_eq(filter_parse("kind=vq port=zz", &f, err, sizeof err), -1);
	cr_assert_eq(f.active, 1);
	cr_assert_eq(f.kind, HVT_VQ);
	cr_assert_eq(f.has_addr, 0, "the half-parsed port= must not leak in");
	cr_assert_str_eq(f.text, "kind=vq");
}

/* The parser resolves reason= without kind= by the first table that knows the name; that
 * is only unambiguous while no name appears in two tables. */
Test(filter, reason_names_are_unique_across_kinds)
{
	struct { const char *(*name)(unsigned); unsigned lo, hi; } t[] = {
		{ hvt_reason_name, 0, HVT_REASON_MAX }, { hvt_vq_op_name, 1, HVT_VQ_OP_MAX },
		{ hvt_disk_op_name, 1, HVT_DISK_OP_MAX }, { hvt_irq_op_name, 1, HVT_IRQ_OP_MAX },
		{ hvt_ring_op_name, 1, HV_PVT_KIND_MAX },
	};
	size_t n = sizeof t / sizeof t[0];
	for (size_t a = 0; a < n; a++)
		for (size_t b = a + 1; b < n; b++)
			for (unsigned i = t[a].lo; i <= t[a].hi; i++)
				for (unsigned j = t[b].lo; j <= t[b].hi; j++)
					cr_assert_str_neq(t[a].name(i), t[b].name(j));
}

/* ---- matching ---- */

/*
 * The events of a small run, and which of them each filter keeps. The vq notify record has
 * op 1, the same number as the exit reason io: reason=io must still not match it (the kind
 * goes with the reason). The disk read at byte offset 1016 has addr = 0x3f8 too, but a file
 * offset is no port: port=0x3f8 must not match it.
 */
Test(filter, match_table_over_synthetic_records)
{
	uint64_t virtio = HV_MMIO_VIRTIO_BLK + 0x50; /* QueueNotify in the virtio-mmio window */
	struct hvt_record evs[] = {
		exit_rec(HVT_R_IO, 0x3f8, HVT_F_WRITE),       /* 0: UART THR write */
		exit_rec(HVT_R_IO, 0x1f7, 0),                 /* 1: ATA status read */
		exit_rec(HVT_R_MMIO, virtio, HVT_F_WRITE),    /* 2: virtio doorbell */
		rec(HVT_RUN_RETURN, HVT_R_NONE, 0, 0),        /* 3 */
		rec(HVT_VQ, HVT_VQ_NOTIFY, HVT_VCPU_IOTHREAD, virtio), /* 4 */
		rec(HVT_VQ, HVT_VQ_STATUS, 0, 0),             /* 5: a step without an address */
		rec(HVT_DISK, HVT_DISK_READ, HVT_VCPU_IOTHREAD, 0x3f8), /* 6: offset 1016 */
		rec(HVT_COUNTER, 0, 0, HVT_C_EXITS),          /* 7 */
		rec(HVT_IRQ, HVT_IRQ_LINE, HVT_VCPU_TIMER, 0),/* 8: PIT line 0 */
	};
	char vq_addr[64];
	snprintf(vq_addr, sizeof vq_addr, "addr=0x%x", (unsigned)virtio);
	struct {
		const char *filter;
		const char *want; /* '1' per event the filter keeps, in the order above */
	} cases[] = {
		{ "", "111111111" },
		{ "kind=exit", "111000000" },
		{ "reason=io", "110000000" },
		{ "reason=notify", "000010000" },
		{ "kind=vq", "000011000" },
		{ "port=0x3f8", "100000000" },
		{ "port=0x1f0-0x1f7", "010000000" },
		{ vq_addr, "001010000" },
		{ "dev=uart", "100000000" },
		{ "dev=ata", "010000000" },
		{ "dev=virtio-blk", "001000000" },
		{ "vcpu=0", "111101010" },
		{ "vcpu=iothread", "000010100" },
		{ "vcpu=timer", "000000001" },
		{ "kind=exit vcpu=0 port=0x3f8-0x3ff reason=io", "100000000" },
		{ "kind=irq reason=line vcpu=timer", "000000001" },
		{ "kind=exit port=0x0", "000000000" },
		{ "kind=counter", "000000010" },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct filter f = parse_ok(cases[c].filter);
		char got[16];
		size_t n = sizeof evs / sizeof evs[0];
		for (size_t i = 0; i < n; i++)
			got[i] = filter_match(&f, &evs[i]) ? '1' : '0';
		got[n] = '\0';
		cr_assert_str_eq(got, cases[c].want, "filter '%s'", cases[c].filter);
	}
}

Test(filter, ranges_include_both_ends_and_nothing_beyond)
{
	struct filter f = parse_ok("port=0x1f0-0x1f7");
	uint64_t ports[] = { 0x1ef, 0x1f0, 0x1f3, 0x1f7, 0x1f8 };
	int want[] = { 0, 1, 1, 1, 0 };
	for (size_t i = 0; i < 5; i++) {
		struct hvt_record r = exit_rec(HVT_R_IO, ports[i], 0);
		cr_assert_eq(filter_match(&f, &r), want[i], "port 0x%lx", (unsigned long)ports[i]);
	}
}

/* ---- search ---- */

/*
 * The dump line of exit_rec(io, 0x3f8, write) (hv/trace_dump.c dump_text):
 * "2 862.810 vcpu0 exit io real cpl0 rip=0x8130 port=0x3f8 size=1 out data=0x0 count=1
 *  flags=write handled_us=3.635"
 */
Test(filter, search_is_a_case_insensitive_substring_of_the_dump_line)
{
	struct hvt_record r = exit_rec(HVT_R_IO, 0x3f8, HVT_F_WRITE);
	char line[512];
	trace_format_record(line, sizeof line, &r);
	cr_assert_str_eq(line, "2 862.810 vcpu0 exit io real cpl0 rip=0x8130 port=0x3f8 size=1 "
			       "out data=0x0 count=1 flags=write handled_us=3.635");
	cr_assert_eq(search_match("port=0x3f8", &r), 1);
	cr_assert_eq(search_match("PORT=0X3F8", &r), 1);
	cr_assert_eq(search_match("vcpu0 Exit IO", &r), 1, "words across fields");
	cr_assert_eq(search_match("handled_us=3.635", &r), 1, "the end of the line");
	cr_assert_eq(search_match("port=0x3f9", &r), 0);
	cr_assert_eq(search_match("mmio", &r), 0);
}

Test(filter, search_finds_the_thread_names_of_device_steps)
{
	struct hvt_record r = rec(HVT_VQ, HVT_VQ_NOTIFY, HVT_VCPU_IOTHREAD, 0x1050);
	cr_assert_eq(search_match("IOTHREAD vq notify", &r), 1);
	cr_assert_eq(search_match("vcpu", &r), 0, "an I/O thread record names no vCPU");
}

Test(filter, empty_needle_matches_nothing)
{
	struct hvt_record r = exit_rec(HVT_R_IO, 0x3f8, 0);
	cr_assert_eq(search_match("", &r), 0);
	cr_assert_eq(search_match(NULL, &r), 0);
}
