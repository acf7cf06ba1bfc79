/*
 * test_app.c - hvviz's application (viz/app.c): what keys do at the edges of a trace, and
 * what the title, bottom line and help say, drawn on an 80x24 screen with no terminal.
 *
 * What it proves: a trace with no events never claims a current event; g reads the numbers
 * `hv trace dump` prints (decimal, or hex with 0x; never octal); the bottom line always keeps
 * "? help  q quit" at 80 columns, and in live step mode says that space runs the guest
 * exactly when it does; the help says which of its lines are shown; Compare with one trace
 * does not move the other views' event behind the student's back, and with two traces whose
 * drivers ask for different things it shows a request with no partner on its side only.
 * Textbook: chapter 6 "Watching it happen", sections "Keys" and "Compare".
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
/* The path spelled out: viz/viz.h is hvviz's header (hv's side of --viz is hv/vizlink.h). */
#include "../../viz/viz.h"

static char trace_path[64];
static FILE *devnull;
static SCREEN *screen;
static struct model m;
static struct app a;

/* A trace of n exits (port 0x3f8 OUT), seq 0..n-1, 1 us apart. */
static void open_trace(int n)
{
	snprintf(trace_path, sizeof trace_path, "/tmp/hv-app-%d.hvt", (int)getpid());
	char err[256];
	struct trace_writer *t = trace_create(trace_path, HVT_HOST_UNKNOWN, "x.bin", err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	for (int i = 0; i < n; i++) {
		struct hvt_record r = { .time_ns = 1000u * (uint64_t)i, .kind = HVT_EXIT,
					.reason = HVT_R_IO, .size = 1, .addr = 0x3f8, .count = 1,
					.flags = HVT_F_WRITE };
		trace_emit(t, &r);
	}
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);
	cr_assert_eq(model_open(&m, trace_path, 0, err, sizeof err), 0, "%s", err);
	struct model *ms[1] = { &m };
	app_init(&a, ms, 1);
}

static void screen_on(void)
{
	devnull = fopen("/dev/null", "w");
	cr_assert_not_null(devnull);
	screen = newterm("vt100", devnull, stdin);
	cr_assert_not_null(screen, "newterm(vt100) failed: terminfo missing?");
	resize_term(24, 80);
}

static void screen_off(void)
{
	model_close(&m);
	endwin();
	delscreen(screen);
	fclose(devnull);
	unlink(trace_path);
}

TestSuite(app, .init = screen_on, .fini = screen_off);

/* Screen row y as text, trailing spaces removed. */
static const char *row(int y)
{
	static char buf[256];
	mvinnstr(y, 0, buf, 80);
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return buf;
}

/* Press the keys as the main loop does: a key, then a draw. */
static void press(const char *keys)
{
	for (const char *k = keys; *k; k++) {
		app_key(&a, *k == '\r' ? '\n' : (unsigned char)*k);
		app_draw(&a);
	}
}

Test(app, an_empty_trace_has_no_current_event_to_move)
{
	open_trace(0);
	app_draw(&a);
	cr_assert_str_eq(row(23), "no events yet  | space next  h prev  Tab view  ? help  q quit");
	/* Before the fix: "this is the first event", "no event 0: this trace has events 0 to
	 * 0", "'x' not found after event 0". Every key that needs an event says the one truth. */
	const char *keys[] = { "h", "b", "c", "g", "/", "n", "N" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		press(keys[i]);
		cr_assert_str_eq(row(23), "this trace has no events", "key %s: '%s'", keys[i], row(23));
		cr_assert_eq(a.prompt, A_NONE, "key %s opened a prompt", keys[i]);
	}
	press(" ");
	cr_assert_str_eq(row(23), "this trace has no events");
	cr_assert_eq(a.nbrk, 0);
}

Test(app, goto_reads_decimal_and_hex_never_octal)
{
	open_trace(20);
	press("g010\r");
	cr_assert_eq(app_cur(&a), 10, "010 is event 10 (strtoull base 0 made it 8)");
	press("g0x11\r");
	cr_assert_eq(app_cur(&a), 17);
	/* A sign, junk, or nothing: a message, and the event stays. */
	const char *bad[] = { "g-1\r", "g+5\r", "g0x\r", "g12a\r", "g0x1g\r" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		press(bad[i]);
		cr_assert_eq(app_cur(&a), 17, "'%s' moved the event", bad[i]);
		cr_assert(strstr(row(23), "is not an event number"), "'%s': '%s'", bad[i], row(23));
	}
	press("g\r");
	cr_assert_str_eq(row(23), "type an event number after g (e.g. 120 or 0x78)");
	press("g20\r");
	cr_assert_str_eq(row(23), "no event 20: this trace has events 0 to 19");
	cr_assert_eq(app_cur(&a), 17);
}

Test(app, an_empty_search_repeats_the_last_or_says_what_to_type)
{
	open_trace(5);
	press("/\r");
	cr_assert_str_eq(row(23), "type some text after / (e.g. /port=0x3f8), then Enter");
	press("/port\r");
	cr_assert_eq(app_cur(&a), 1, "the next match after event 0");
	press("/\r");
	cr_assert_eq(app_cur(&a), 2, "an empty search repeats 'port'");
}

/*
 * The longest bottom line: live step mode, a 7-digit event of a 7-digit trace, a time in
 * seconds and breakpoints. "LIVE step: space at the end runs one exit" used to push "? help
 * q quit" off an 80-column screen. Here the status is short, and the hint about space says
 * "runs 1 exit" only at the last event, where space really lets the guest run.
 */
Test(app, bottom_line_keeps_help_and_quit_in_live_step_mode)
{
	open_trace(3);
	a.live = 1;
	a.step_mode = 1;
	app_draw(&a);
	cr_assert_str_eq(row(23), "LIVE step  event 0/3  t=0 ns  | space next  h prev  Tab view  "
				  "? help  q quit");
	/* With breakpoints the full hint would be 82 columns: the short one keeps ? and q. */
	a.nbrk = 12;
	app_draw(&a);
	cr_assert_str_eq(row(23), "LIVE step  event 0/3  t=0 ns  12 bp  | space next  ? help  q quit");
	app_goto(&a, 2);
	app_draw(&a);
	const char *r = row(23);
	cr_assert(strstr(r, "space runs 1 exit"), "'%s'", r);
	cr_assert(strstr(r, "? help  q quit"), "'%s'", r);
	cr_assert_leq(strlen(r), 80);
	/* While the guest runs, the status says so; the keys stay. */
	a.waiting = 1;
	app_draw(&a);
	cr_assert(strstr(row(23), "guest running...  event 2/3"), "'%s'", row(23));
	cr_assert(strstr(row(23), "? help  q quit"), "'%s'", row(23));
	cr_assert_null(strstr(row(23), "runs 1 exit"), "one key, one exit: not while waiting");
}

/* 29 help lines in a 24-row screen: 20 show, and the frame says which (it used to say only
 * "more: Down/j", and nothing at all once scrolled to the end). */
Test(app, help_says_which_lines_are_shown)
{
	open_trace(3);
	press("?");
	cr_assert(strstr(row(22), "lines 1-20 of "), "'%s'", row(22));
	for (int i = 0; i < 5; i++)
		app_key(&a, KEY_NPAGE);
	app_draw(&a);
	int n = 0;
	cr_assert_eq(sscanf(strstr(row(22), "of ") + 3, "%d", &n), 1, "'%s'", row(22));
	char want[64];
	snprintf(want, sizeof want, "lines %d-%d of %d", n - 19, n, n);
	cr_assert(strstr(row(22), want), "scrolled to the end: '%s' (want '%s')", row(22), want);
	/* Up from the end: one line back; Esc closes. */
	app_key(&a, KEY_UP);
	app_draw(&a);
	snprintf(want, sizeof want, "lines %d-%d of %d", n - 20, n - 1, n);
	cr_assert(strstr(row(22), want), "'%s' (want '%s')", row(22), want);
	press("\033");
	cr_assert_eq(a.help_open, 0);
}

Test(app, compare_with_one_trace_does_not_move_the_event)
{
	open_trace(10);
	press("4");
	cr_assert_eq(a.view, VIEW_COMPARE);
	const int keys[] = { ' ', KEY_RIGHT, KEY_END, KEY_NPAGE, KEY_DOWN };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		app_key(&a, keys[i]);
		app_draw(&a);
		cr_assert_eq(app_cur(&a), 0, "key %d moved the unseen event", keys[i]);
		cr_assert_str_eq(row(23), "Compare needs two traces; 1 (Path) or 2 (Timeline) steps "
					  "through this one");
	}
}

/* w with one trace: a message, and the shown trace stays the only one. */
Test(app, swap_with_one_trace_says_it_needs_two)
{
	open_trace(3);
	press("w");
	cr_assert_eq(a.shown, 0);
	cr_assert_str_eq(row(23), "w needs two traces (hvviz --compare A.hvt B.hvt)");
}

/* At 80x24 the Path view lists 22 - 3 (lanes' head) - 7 (explanation) = 12 events. A page is
 * those 12: PgDn used to move by the body's 22 rows, past 10 events never shown. */
Test(app, path_page_is_the_events_it_lists)
{
	open_trace(100);
	app_draw(&a);
	app_key(&a, KEY_NPAGE);
	cr_assert_eq(app_cur(&a), 12);
	app_key(&a, KEY_NPAGE);
	app_key(&a, KEY_PPAGE);
	cr_assert_eq(app_cur(&a), 12);
	/* At either end a page says so, like h and space do. */
	app_key(&a, KEY_HOME);
	app_key(&a, KEY_PPAGE);
	app_draw(&a);
	cr_assert_str_eq(row(23), "this is the first event");
	app_key(&a, KEY_END);
	app_key(&a, KEY_NPAGE);
	app_draw(&a);
	cr_assert_str_eq(row(23), "this is the last event (99)");
	cr_assert_eq(app_cur(&a), 99);
}

/* Too small, only the message shows: keys other than q do nothing (a step would be unseen). */
Test(app, too_small_only_q_does_something)
{
	open_trace(10);
	resize_term(20, 60);
	app_draw(&a);
	cr_assert(strstr(row(8), "at least 80x24"), "'%s'", row(8));
	press(" l2?");
	cr_assert_eq(app_cur(&a), 0);
	cr_assert_eq(a.view, VIEW_PATH);
	cr_assert_eq(a.help_open, 0);
	press("q");
	cr_assert_eq(a.quit, 1);
}

/*
 * B: a breakpoint typed by name. The trace is 10 UART exits (seq 0-9). "exit:io" hits them
 * all, so c goes 0 -> 1 -> 2; "exit" with no reason means any exit, and is its own
 * breakpoint; the same name again removes it. A kind this trace never has (exit:mmio) can
 * still be set: that is what B is for (live, before the first MMIO exit).
 */
Test(app, a_breakpoint_typed_by_name)
{
	open_trace(10);
	press("Bexit:io\rc");
	cr_assert_eq(a.nbrk, 1);
	cr_assert_eq(a.brk[0].kind, HVT_EXIT);
	cr_assert_eq(a.brk[0].sub, HVT_R_IO);
	cr_assert_eq(app_cur(&a), 1);
	cr_assert_str_eq(a.message, "breakpoint: exit:io at event 1");
	press("Bexit:io\r");
	cr_assert_eq(a.nbrk, 0, "the same name again removes it");
	press("Bexit\rc");
	cr_assert_eq(a.brk[0].sub, -1, "no reason: any exit");
	cr_assert_eq(app_cur(&a), 2);
	press("Bexit\rBexit:mmio\r");
	cr_assert_eq(a.nbrk, 1);
	cr_assert_eq(a.brk[0].sub, HVT_R_MMIO);
	press("c");
	cr_assert_eq(app_cur(&a), 2, "no MMIO exit in this trace: c stays");
	cr_assert(strstr(a.message, "no breakpoint hit after event 2"), "%s", a.message);
	press("Bexti\r");
	cr_assert(strncmp(a.message, "unknown kind 'exti' (exit, ", 27) == 0, "%s", a.message);
	cr_assert_eq(a.nbrk, 1, "a bad name changes nothing");
}

/* b on an event sets a breakpoint on its kind; b again (on an event of the same kind) removes
 * it, as help says ("again: off"). */
Test(app, b_twice_removes_the_breakpoint)
{
	open_trace(5);
	press("b");
	cr_assert_eq(a.nbrk, 1);
	cr_assert_str_eq(a.message, "breakpoint on exit:io set: c runs to the next one");
	press("lb");
	cr_assert_eq(a.nbrk, 0);
	cr_assert_str_eq(a.message, "breakpoint on exit:io removed (0 left)");
}

/* Issue 17: the filter prompt came back holding the old filter and typing appended to it
 * ("kind=exitsyscall..." -> unknown reason). Now the old text is selected: a key replaces it,
 * Right keeps it to add a word; Ctrl-U and Ctrl-W edit as in a shell. */
Test(app, filter_prompt_replaces_the_old_filter_and_edits_like_a_shell)
{
	open_trace(20);
	press("2fkind=exit\r"); /* f belongs to the Timeline (2) */
	cr_assert_str_eq(a.timeline.filter.text, "kind=exit");
	press("f");
	cr_assert(a.input_selected);
	cr_assert(strstr(row(23), "filter: [kind=exit]_"), "'%s'", row(23));
	press("port=0x3f8\r");
	cr_assert_str_eq(a.timeline.filter.text, "port=0x3f8", "typing must replace, not append");

	/* Right: keep the old text and add to it */
	press("f");
	app_key(&a, KEY_RIGHT);
	press(" kind=exit\r");
	cr_assert_str_eq(a.timeline.filter.text, "port=0x3f8 kind=exit");

	/* Ctrl-W erases the last word (and the space before it), Ctrl-U the whole line */
	press("f");
	app_key(&a, KEY_RIGHT);
	app_key(&a, PROMPT_CTRL_W);
	cr_assert_str_eq(a.input, "port=0x3f8 ");
	app_key(&a, PROMPT_CTRL_W);
	cr_assert_str_eq(a.input, "");
	press("vcpu=0 kind=exit");
	app_key(&a, PROMPT_CTRL_U);
	cr_assert_str_eq(a.input, "");
	press("vcpu=0\r");
	cr_assert_str_eq(a.timeline.filter.text, "vcpu=0");

	/* Backspace on the selected text erases all of it */
	press("f");
	app_key(&a, KEY_BACKSPACE);
	cr_assert_str_eq(a.input, "");
	cr_assert(!a.input_selected);
	app_key(&a, 27);
	cr_assert_str_eq(a.timeline.filter.text, "vcpu=0", "Esc keeps the filter in force");
}

/*
 * Compare with two drivers that ask for different things (textbook ch 11, "Watching Linux"):
 * the legacy driver identifies the drive and sets a transfer mode (SET FEATURES) before its
 * write, the virtio one only writes. Each of the first two is a step on the legacy side only;
 * the writes, request 3 of 3 and request 1 of 1, are one step.
 */
static void write_disk_trace(const char *path, const struct hvt_record *recs, size_t n)
{
	char err[256];
	struct trace_writer *t = trace_create(path, HVT_HOST_UNKNOWN, "x.bin", err, sizeof err);
	cr_assert_not_null(t, "%s", err);
	for (size_t i = 0; i < n; i++) {
		struct hvt_record r = recs[i];
		r.time_ns = 1000u * (uint64_t)i;
		r.count = 1;
		trace_emit(t, &r);
	}
	cr_assert_eq(trace_close(t, err, sizeof err), 0, "%s", err);
}

#define ATA_OUT(port, v) { .kind = HVT_EXIT, .reason = HVT_R_IO, .size = 1, .addr = (port), \
			   .data = (v), .flags = HVT_F_WRITE }

Test(app, compare_shows_a_request_with_no_partner_on_one_side)
{
	const struct hvt_record legacy[] = { ATA_OUT(0x1F7, 0xEC), ATA_OUT(0x1F7, 0xEF),
					     ATA_OUT(0x1F2, 8), ATA_OUT(0x1F3, 8),
					     ATA_OUT(0x1F7, 0x30) };
	const struct hvt_record virtio[] = {
		{ .kind = HVT_VQ, .reason = HVT_VQ_REQUEST, .addr = 8, .data = 4096, .arg = 1 },
	};
	char path2[64];
	struct model m2;
	char err[256];
	snprintf(trace_path, sizeof trace_path, "/tmp/hv-app-%d.hvt", (int)getpid());
	snprintf(path2, sizeof path2, "/tmp/hv-app-%d-2.hvt", (int)getpid());
	write_disk_trace(trace_path, legacy, sizeof legacy / sizeof legacy[0]);
	write_disk_trace(path2, virtio, 1);
	cr_assert_eq(model_open(&m, trace_path, 0, err, sizeof err), 0, "%s", err);
	cr_assert_eq(model_open(&m2, path2, 0, err, sizeof err), 0, "%s", err);
	struct model *ms[2] = { &m, &m2 };
	app_init(&a, ms, 2);
	app_draw(&a);
	press(" ");
	cr_assert_str_eq(row(3), "> request 1/3 legacy only: IDENTIFY    |  no request like it here "
				 "(0/1 done)");
	press(" ");
	cr_assert_str_eq(row(3), "> request 2/3 legacy only: SET FEATURES|  no request like it here "
				 "(0/1 done)");
	/* the side with no request keeps its event where its next request starts */
	cr_assert_eq(a.cur[1], 0u);
	press(" ");
	cr_assert_str_eq(row(3), "> request 3/3: write sector 8 +8       |> request 1/1: write sector "
				 "8 +8");
	cr_assert_eq(a.cur[0], 4u);
	cr_assert_eq(a.cur[1], 0u);
	press(" ");
	cr_assert_str_eq(row(23), "this is the last step (3): legacy has 3 requests, virtio 1");
	/* back one step: the legacy side's SET FEATURES again, the event moved with it */
	press("h");
	cr_assert_eq(a.cur[0], 1u);
	app_free(&a);
	model_close(&m2);
	unlink(path2);
}
