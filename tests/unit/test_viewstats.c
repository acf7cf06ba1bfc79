/*
 * test_viewstats.c - the Stats view's numbers and words, without a terminal.
 *
 * What it proves: the Stats view (viz/view_stats.c) lists exits in the same order and with
 * the same shares as `hv trace stats`, compares KVM's exit counter with hv's count the same
 * way (and refuses a negative difference), scales its bars to the largest row, wraps lists
 * inside the screen width, and scrolls no further than the last page. The model is filled by
 * hand (struct model_stats), so each expected number follows from the numbers put in.
 * Textbook: chapter 3 "Exits", sections "Counting exits" and "Exits hv never sees";
 * appendix A, section A.11 "How `hv trace stats` is computed".
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "statsview.h"

static struct model m;
static struct stats_line lines[STATS_LINES_MAX];

/*
 * The run of textbook chapter 3, "Counting exits": the exits guest with N = 2 loops. Each loop
 * does 4 OUT + 3 IN and 2 MMIO stores + 1 MMIO load; the end is 1 OUT to 0xF4. So io = 7N + 1
 * = 15, mmio = 3N = 6, exits = 21, events = 4 x 21 round-trip records + 11 counters = 95, and
 * KVM's "exits" counter was 22: 1 exit handled inside KVM.
 */
static void model_exits_guest(void)
{
	memset(&m, 0, sizeof m);
	struct model_stats *s = &m.stats;
	m.count = 95;
	s->by_kind[HVT_EXIT] = s->by_kind[HVT_RUN_RETURN] = 21;
	s->by_kind[HVT_RUN_CALL] = s->by_kind[HVT_ENTRY] = 21;
	s->by_kind[HVT_COUNTER] = 11;
	s->exits_by_reason[HVT_R_IO] = 15;
	s->exits_by_reason[HVT_R_MMIO] = 6;
	s->hv_ns_by_reason[HVT_R_IO] = 3450;
	s->hv_ns_by_reason[HVT_R_MMIO] = 420;
	s->exits_by_device[VIZ_DEV_TESTDEV] = 20; /* port 0x500 and the test MMIO page */
	s->exits_by_device[VIZ_DEV_EXIT] = 1;     /* the OUT to 0xF4 */
	s->counters[HVT_C_EXITS] = 22;
	s->counters[HVT_C_MMIO_EXITS] = 6;
	s->counters[HVT_C_INSN_EMULATION] = 275;
	s->last_ns = 3258000;
}

/* The first line whose text starts with prefix, or NULL. */
static const struct stats_line *find_line(int n, const char *prefix)
{
	for (int i = 0; i < n; i++)
		if (!strncmp(lines[i].text, prefix, strlen(prefix)))
			return &lines[i];
	return NULL;
}

static int find_index(int n, const char *prefix)
{
	const struct stats_line *l = find_line(n, prefix);
	return l ? (int)(l - lines) : -1;
}

/* Some line contains text anywhere. */
static int any_line_has(int n, const char *text)
{
	for (int i = 0; i < n; i++)
		if (strstr(lines[i].text, text))
			return 1;
	return 0;
}

Test(viewstats, order_is_count_descending_ties_by_index)
{
	/* 9 first; the two 5s keep index order (1 before 3); then 3; zeros are left out. */
	uint64_t counts[6] = { 0, 5, 3, 5, 0, 9 };
	int order[6] = { -1, -1, -1, -1, -1, -1 };
	cr_assert_eq(stats_order(counts, 6, order), 4);
	cr_assert_eq(order[0], 5);
	cr_assert_eq(order[1], 1);
	cr_assert_eq(order[2], 3);
	cr_assert_eq(order[3], 2);
}

Test(viewstats, order_of_all_zero_counts_is_empty)
{
	uint64_t counts[3] = { 0, 0, 0 };
	int order[3];
	cr_assert_eq(stats_order(counts, 3, order), 0);
}

Test(viewstats, reasons_match_hv_trace_stats_rows)
{
	model_exits_guest();
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	/* Shares of N = 21: 15/21 = 71.43%, 6/21 = 28.57% (two decimals, as `hv trace stats`).
	 * Columns: 2 spaces, name in 12, count in 9, share in 7. */
	int io = find_index(n, "  io                  15  71.43%");
	int mmio = find_index(n, "  mmio                 6  28.57%");
	cr_assert_geq(io, 0);
	cr_assert_geq(mmio, 0);
	cr_assert_lt(io, mmio, "largest count first");
	/* No row for reasons that never happened (hlt: 0). */
	cr_assert_null(find_line(n, "  hlt "));
}

Test(viewstats, totals_count_events_and_exits)
{
	model_exits_guest();
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	const struct stats_line *t = find_line(n, "Totals: 95 events, 21 exits seen by hv");
	cr_assert_not_null(t);
	/* 21 exits in 3.258 ms: 21 / 0.003258 s = 6445.67... -> "6445.7 exits/s". */
	cr_assert(any_line_has(n, "6445.7 exits/s"));
	/* Events by kind: the 4 x 21 + 11 = 95 check, item by item. */
	cr_assert(any_line_has(n, "exit 21, run-return 21, run-call 21, entry 21, counter 11"));
}

Test(viewstats, devices_listed_by_count_with_their_names)
{
	model_exits_guest();
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	/* 20/21 = 95.24%, 1/21 = 4.76%. */
	int td = find_index(n, "  testdev             20  95.24%");
	int ex = find_index(n, "  exit                 1   4.76%");
	cr_assert_geq(td, 0);
	cr_assert_gt(ex, td);
}

Test(viewstats, kvm_counter_compared_with_exits_that_reached_hv)
{
	model_exits_guest();
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	/* 22 - 21 = 1 handled inside KVM; 1/22 = 4.545...% -> "4.55%". */
	cr_assert_not_null(find_line(n, "  handled inside KVM             1  (4.55% never left the kernel)"));
	/* Both bars on one scale (the larger, 22), '#' for KVM and '=' for hv. */
	const struct stats_line *kvm = find_line(n, "  exits KVM saw");
	const struct stats_line *hv = find_line(n, "  exits that reached hv");
	cr_assert_not_null(kvm);
	cr_assert_not_null(hv);
	cr_assert(kvm->bar && hv->bar);
	cr_assert_eq(kvm->value, 22);
	cr_assert_eq(kvm->max, 22);
	cr_assert_eq(kvm->bar_role, UI_BAR_A);
	cr_assert_eq(hv->value, 21);
	cr_assert_eq(hv->max, 22);
	cr_assert_eq(hv->bar_role, UI_BAR_B);
	/* The other counters with a value, by KVM's names; "exits" is not repeated there. */
	cr_assert(any_line_has(n, "mmio_exits 6, insn_emulation 275"));
}

Test(viewstats, kvm_counter_below_hv_count_gives_no_negative_difference)
{
	model_exits_guest();
	m.stats.counters[HVT_C_EXITS] = 5; /* fewer than the 21 hv saw: a damaged file */
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	cr_assert_null(find_line(n, "  handled inside KVM"));
	cr_assert(any_line_has(n, "(no comparison: KVM's exits counter is missing or below hv's"));
}

Test(viewstats, no_counters_says_why)
{
	model_exits_guest();
	m.stats.by_kind[HVT_COUNTER] = 0;
	memset(m.stats.counters, 0, sizeof m.stats.counters);
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	cr_assert(any_line_has(n, "(none recorded: no KVM binary statistics"));
	cr_assert_null(find_line(n, "  exits KVM saw"));
	/* hv run --viz: the counters come at the end of the run, not yet. */
	m.live = 1;
	n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	cr_assert(any_line_has(n, "(not yet: hv records KVM's counters when the run ends)"));
}

Test(viewstats, reason_bars_scale_to_the_largest_row)
{
	model_exits_guest();
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	const struct stats_line *io = find_line(n, "  io ");
	const struct stats_line *mmio = find_line(n, "  mmio ");
	cr_assert(io->bar && mmio->bar);
	cr_assert_eq(io->value, 15);
	cr_assert_eq(io->max, 15);
	cr_assert_eq(mmio->value, 6);
	cr_assert_eq(mmio->max, 15);
	/* Rows of numbers end before the bar column, so the bar never covers a number. */
	cr_assert_lt(strlen(io->text), STATS_BAR_COL);
}

Test(viewstats, long_lists_wrap_inside_the_width)
{
	model_exits_guest();
	/* Every virtqueue op once, with a 5-digit count: far more than 80 columns in one line. */
	for (int op = 1; op <= HVT_VQ_OP_MAX; op++)
		m.stats.vq_by_op[op] = 10000 + (uint64_t)op;
	m.stats.by_kind[HVT_VQ] = 13 * 10000 + 91;
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	for (int i = 0; i < n; i++)
		cr_assert_leq(strlen(lines[i].text), 79, "line %d too wide: '%s'", i, lines[i].text);
	/* First and last op both there: nothing was cut off. */
	cr_assert(any_line_has(n, "notify 10001"));
	cr_assert(any_line_has(n, "reset 10013"));
}

Test(viewstats, dropped_events_are_announced)
{
	model_exits_guest();
	m.header.dropped = 7;
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	const struct stats_line *l = find_line(n, "NOTE: 7 later events were not recorded");
	cr_assert_not_null(l);
	cr_assert_eq(l->role, UI_ERROR);
}

/* Lines are clipped at the window's edge, so a note longer than 80 columns would lose its end
 * ("... or the run did not end normally" became "... or the run did not en"). With the largest
 * numbers a file can hold, every note of every state still fits, wrapped if need be. */
static void assert_all_fit(int n, int width)
{
	for (int i = 0; i < n; i++)
		cr_assert_leq(strlen(lines[i].text), (size_t)width, "line %d too wide: '%s'", i,
			      lines[i].text);
}

Test(viewstats, notes_wrap_inside_80_columns_with_the_largest_numbers)
{
	model_exits_guest();
	m.header.dropped = UINT64_MAX;
	m.count = UINT64_MAX;
	m.stats.by_kind[HVT_COUNTER] = 0;
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	assert_all_fit(n, 80);
	/* Both halves of both notes are there: wrapped, not cut. */
	cr_assert(any_line_has(n, "NOTE: 18446744073709551615 later events were not recorded"));
	cr_assert(any_line_has(n, "so these numbers cover the start of the run only"));
	cr_assert(any_line_has(n, "no KVM binary statistics on this kernel"));
	cr_assert(any_line_has(n, "or the run did not end normally)"));
	/* KVM's counter at its largest: the comparison row stays inside too. */
	m.stats.by_kind[HVT_COUNTER] = 1;
	m.stats.counters[HVT_C_EXITS] = UINT64_MAX;
	n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	assert_all_fit(n, 80);
	cr_assert(any_line_has(n, "  handled inside KVM     18446744073709551594"));
}

/* One event, one exit: no "1 events" (UINT64_MAX - 21 = 18446744073709551594 above). */
Test(viewstats, one_event_is_singular)
{
	model_exits_guest();
	m.count = 1;
	m.stats.by_kind[HVT_EXIT] = 1;
	int n = stats_build(&m, 80, lines, STATS_LINES_MAX);
	cr_assert_not_null(find_line(n, "Totals: 1 event, 1 exit seen by hv"));
}

Test(viewstats, scroll_stops_at_the_last_page)
{
	/* 31 lines in a 22-row body: 21 rows of lines + the "more" marker; the last page starts
	 * at line 31 - 21 = 10. */
	cr_assert_eq(stats_view_rows(31, 22), 21);
	cr_assert_eq(stats_scroll_clamp(50, 31, 21), 10);
	cr_assert_eq(stats_scroll_clamp(9, 31, 21), 9);
	cr_assert_eq(stats_scroll_clamp(-3, 31, 21), 0);
	/* Everything fits: all rows are lines, and there is nothing to scroll. */
	cr_assert_eq(stats_view_rows(22, 22), 22);
	cr_assert_eq(stats_scroll_clamp(4, 22, 22), 0);
}

/*
 * Issue 17: the whole-run figures read three ways (166x in Compare, 138x here, "33 000
 * against 37" in the README) because no screen said which exits each counted. Now the Stats
 * view names the three kinds and, with two traces, gives each ratio: the figures README.md,
 * textbook/ch04-two-io-paths.md ("The run") and textbook/ch06-watching-it-happen.md ("Stats")
 * quote with these words. The traces are the checked-in ones (tests/viz/traces/README.md).
 */
Test(viewstats, three_kinds_of_exit_with_their_ratios)
{
	struct model v;
	char err[256];
	const char *tmp = "/tmp/hvlab-viewstats-legacy.hvt";
	cr_assert_eq(system("xz -dc tests/viz/traces/diskio-legacy.hvt.xz > "
			    "/tmp/hvlab-viewstats-legacy.hvt"), 0, "is xz installed?");
	cr_assert_eq(model_open(&m, tmp, 0, err, sizeof err), 0, "%s", err);
	unlink(tmp);
	cr_assert_eq(model_open(&v, "tests/viz/traces/diskio-virtio.hvt", 0, err, sizeof err), 0,
		     "%s", err);
	int n = stats_build_pair(&v, &m, &v, 80, lines, STATS_LINES_MAX); /* virtio shown (w) */
	cr_assert_geq(find_index(n, "Exits by kind, both traces (ratio = legacy/virtio)"),
		      0);
	cr_assert_geq(find_index(n, "  device exits         33466        37  904x     to the disk "
				    "controller"), 0);
	cr_assert_geq(find_index(n, "  other exits            178       206  0.86x    console"), 0);
	cr_assert_geq(find_index(n, "  all exits to hv      33644       243  138x     device + other"),
		      0);
	cr_assert_geq(find_index(n, "  in-kernel exits        615       627  0.98x    never reached hv"),
		      0);
	/* one trace alone: the same names, no ratio */
	n = stats_build(&v, 80, lines, STATS_LINES_MAX);
	cr_assert_geq(find_index(n, "  device exits            37  to the disk controller"), 0);
	cr_assert_geq(find_index(n, "  in-kernel exits        627  never reached hv"), 0);
	model_close(&v);
	model_close(&m);
}
