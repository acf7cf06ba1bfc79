/*
 * test_viz.c - hvviz as a user meets it: golden screens of every view, bad input, and the
 * real binary in a real terminal (tmux).
 *
 * Golden screens: `hvviz --screen COLSxROWS --keys "..." TRACE` presses the keys with no
 * terminal and prints the screen as text. Each case below compares that text with a checked-in
 * screen in tests/viz/golden/, for every view at 80x24 and 120x40. The traces are real ones,
 * checked in (tests/viz/traces/README.md says how each was recorded), so the screens are
 * reproducible. When a change to a view is intended, regenerate the screens with
 * `make golden-update`, read the diff, and commit it with the change.
 *
 * The tmux test runs hvviz in a pseudo-terminal, as a person would: keys go in with
 * `tmux send-keys`, the screen comes out with `tmux capture-pane`, and resizing the window
 * checks the too-small message and the recovery from it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define TRACES "tests/viz/traces/"
#define GOLDEN "tests/viz/golden/"

static const char *hvviz(void)
{
	const char *p = getenv("HVVIZ");
	return p ? p : "build/hvviz";
}

/* A checked-in trace; the .xz ones are unpacked once per test process. */
static const char *trace(const char *name)
{
	static char path[4][512];
	static int slot;
	char xz[512];
	snprintf(xz, sizeof xz, TRACES "%s.xz", name);
	if (access(xz, R_OK) != 0) {
		snprintf(path[slot], sizeof path[slot], TRACES "%s", name);
		return path[slot++ % 4];
	}
	const char *out = tmp_path(name);
	if (access(out, R_OK) != 0) {
		char cmd[1200];
		snprintf(cmd, sizeof cmd, "xz -dc '%s' > '%s'", xz, out);
		cr_assert_eq(system(cmd), 0, "cannot unpack %s (is xz-utils installed?)", xz);
	}
	return out;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	static char buf[2][65536];
	static int slot;
	char *b = buf[slot++ % 2];
	size_t n = fread(b, 1, sizeof buf[0] - 1, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

/* The first line where two screens differ, for a readable failure. */
static void first_difference(const char *want, const char *got, char *msg, size_t len)
{
	int line = 1;
	while (*want && *want == *got) {
		if (*want == '\n')
			line++;
		want++;
		got++;
	}
	const char *we = strchr(want, '\n'), *ge = strchr(got, '\n');
	int wl = we ? (int)(we - want) : (int)strlen(want), gl = ge ? (int)(ge - got) : (int)strlen(got);
	snprintf(msg, len, "line %d:\n  expected: ...%.*s\n  got:      ...%.*s", line, wl, want, gl, got);
}

/*
 * Render NAME at COLSxROWS after KEYS and compare it with tests/viz/golden/NAME-COLSxROWS.txt.
 * HVVIZ_UPDATE_GOLDEN=1 (make golden-update) writes the file instead.
 */
static void golden(const char *name, int cols, int rows, const char *keys, const char *t1,
		   const char *t2)
{
	char size[32], file[256];
	snprintf(size, sizeof size, "%dx%d", cols, rows);
	snprintf(file, sizeof file, GOLDEN "%s-%s.txt", name, size);
	struct hv_result r;
	const char *argv[10] = { hvviz(), "--screen", size, "--keys", keys };
	int n = 5;
	if (t2)
		argv[n++] = "--compare";
	argv[n++] = t1;
	if (t2)
		argv[n++] = t2;
	argv[n] = NULL;
	cmd_exec(&r, argv);
	cr_assert_eq(r.status, 0, "hvviz failed: %s", r.err);
	cr_assert_eq(count_lines(r.out), rows, "a screen of %d rows prints %d lines", rows, rows);
	const char *update = getenv("HVVIZ_UPDATE_GOLDEN");
	if (update && !strcmp(update, "1")) {
		FILE *f = fopen(file, "w");
		cr_assert(f, "cannot write %s", file);
		fputs(r.out, f);
		fclose(f);
		return;
	}
	const char *want = slurp(file);
	cr_assert(want, "no golden screen %s: run make golden-update and check it", file);
	if (strcmp(want, r.out) != 0) {
		char msg[800];
		first_difference(want, r.out, msg, sizeof msg);
		cr_assert_fail("screen differs from %s (make golden-update accepts an intended change)\n%s\n"
			       "whole screen:\n%s", file, msg, r.out);
	}
}

/* Every view at both sizes, each at a moment worth showing. */
static void both_sizes(const char *name, const char *keys, const char *t1, const char *t2)
{
	golden(name, 80, 24, keys, t1, t2);
	golden(name, 120, 40, keys, t1, t2);
}

/* Path: the OS trace at the first write system call, then at its VM exit (step 3). */
Test(golden, path_view_at_a_write_system_call)
{
	both_sizes("path-syscall", "/ nr=4 Enter", trace("os-ring3.hvt"), NULL);
}

Test(golden, path_view_at_the_vm_exit_of_a_uart_write)
{
	both_sizes("path-exit", "/ nr=4 Enter / port=0x3f8 Enter", trace("os-ring3.hvt"), NULL);
}

/* Timeline: filtered to MMIO exits of the virtio disk, after two steps. */
Test(golden, timeline_view_filtered)
{
	both_sizes("timeline-filter", "2 f kind=exit Space dev=virtio-blk Enter j j",
		   trace("diskio-virtio.hvt"), NULL);
}

/* With a filter, space and Left step through the matching events only: 30, 34, 38, back to 34. */
Test(golden, timeline_filter_steps_with_space_and_left)
{
	golden("timeline-filter-steps", 80, 24,
	       "2 f kind=exit Space dev=virtio-blk Enter Space Space Space Left",
	       trace("diskio-virtio.hvt"), NULL);
}

Test(golden, timeline_view_of_the_os_trace)
{
	both_sizes("timeline-os", "2 / syscall Enter", trace("os-ring3.hvt"), NULL);
}

/* Virtqueue: the device reading descriptor 13, the second of the fifth write request (head 12). */
Test(golden, virtqueue_view_at_a_descriptor)
{
	both_sizes("virtq-desc", "3 / index=13 Space Enter", trace("diskio-virtio.hvt"), NULL);
}

/* Compare: legacy vs virtio, three requests in. */
Test(golden, compare_view_three_requests_in)
{
	both_sizes("compare", "Space Space Space", trace("diskio-legacy.hvt"), trace("diskio-virtio.hvt"));
}

/* w: with two traces, the other views show the other one (the title names it). */
Test(golden, w_shows_the_other_trace_in_the_other_views)
{
	golden("swap", 80, 24, "w 5", trace("diskio-legacy.hvt"), trace("diskio-virtio.hvt"));
}

Test(golden, compare_view_with_one_trace_explains_itself)
{
	golden("compare-one", 80, 24, "4", trace("modeswitch.hvt"), NULL);
}

/* Mark and count (issue 17): a mark on the first write system call, the current event on its
 * return; the bottom line reads 36 UART exits for its 18 characters, 2 exits per character. */
Test(golden, mark_counts_exits_per_character)
{
	golden("mark-write", 80, 24, "/ nr=4 Enter m / sysret Enter 1", trace("os-ring3.hvt"), NULL);
}

/* The filter prompt shows the old filter selected, so typing replaces it (issue 17). */
Test(golden, filter_prompt_selects_the_old_filter)
{
	golden("filter-prompt", 80, 24, "2 f kind=exit Enter f", trace("diskio-virtio.hvt"), NULL);
}

/* d: the whole record, wrapped, where the Path's dump line is cut (issue 17). */
Test(golden, d_shows_the_whole_record)
{
	golden("record", 80, 24, "/ nr=4 Enter d", trace("os-ring3.hvt"), NULL);
}

/* > shifts the Timeline's details, which run past 80 columns, to show their end. */
Test(golden, timeline_lines_shift_sideways)
{
	golden("timeline-shift", 80, 24, "2 f kind=exit Space dev=virtio-blk Enter j j > >",
	       trace("diskio-virtio.hvt"), NULL);
}

/* A wide terminal: the Path's lanes grow, the explanation has room. */
Test(golden, path_view_uses_a_wide_terminal)
{
	golden("path-wide", 200, 60, "/ nr=4 Enter", trace("os-ring3.hvt"), NULL);
}

/*
 * A timer row in the middle of the disk_write system call (event 2388): the heading says it
 * is no step of that access and fits in 80 columns; the explanation says nothing is injected
 * when the line goes low (textbook chapter 6, "Path").
 */
Test(golden, path_view_at_a_timer_row)
{
	golden("path-timer", 80, 24, "g 2390 Enter", trace("os-ring3.hvt"), NULL);
}

/* Compare in the set-up: one time, with its unit, since "so far" is the set-up itself. */
Test(golden, compare_view_in_the_set_up)
{
	golden("compare-setup", 80, 24, "", trace("diskio-legacy.hvt"), trace("diskio-virtio.hvt"));
}

/* Compare at the last request: "so far" is the whole run (textbook chapter 6, "Compare"). */
Test(golden, compare_view_at_the_last_request)
{
	golden("compare-end", 80, 24, "End", trace("diskio-legacy.hvt"), trace("diskio-virtio.hvt"));
}

/*
 * The screens textbook/ch06-watching-it-happen.md shows are golden screens: each block that
 * starts with hvviz's title line equals one file of tests/viz/golden/, and each excerpt that
 * starts with "so far" is part of one. So when a view changes, `make golden-update` and this
 * test point at the chapter too.
 */
/* A whole text file in malloc'ed memory (slurp's two static buffers are too few here). */
static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	for (size_t got; b && (got = fread(b + n, 1, cap - 1 - n, f)) > 0; ) {
		n += got;
		if (n + 1 == cap) {
			char *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				b = NULL;
			}
			b = nb;
		}
	}
	fclose(f);
	if (b)
		b[n] = '\0';
	return b;
}

Test(golden, chapter6_shows_golden_screens)
{
	static const char *const names[] = {
		"path-syscall-80x24", "timeline-filter-80x24", "virtq-desc-80x24", "compare-80x24",
		"compare-end-80x24", "swap-80x24", "mark-write-80x24",
	};
	char *chapter = read_all("textbook/ch06-watching-it-happen.md");
	cr_assert(chapter, "cannot read chapter 6");
	char *gold[sizeof names / sizeof names[0]];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "tests/viz/golden/%s.txt", names[i]);
		gold[i] = read_all(path);
		cr_assert(gold[i], "no golden screen %s", path);
	}
	int screens = 0;
	for (char *b = strstr(chapter, "```\n"); b; ) {
		b += 4;
		char *end = strstr(b, "```");
		if (!end)
			break;
		*end = '\0';
		int title = strncmp(b, " ", 1) == 0 && strstr(b, ".hvt (") &&
			    strstr(b, ".hvt (") < strchr(b, '\n');
		int excerpt = strncmp(b, "so far ", 7) == 0;
		if (title || excerpt) {
			int found = 0;
			for (size_t i = 0; i < sizeof names / sizeof names[0] && !found; i++)
				found = title ? strcmp(gold[i], b) == 0 : strstr(gold[i], b) != NULL;
			cr_assert(found, "chapter 6 shows a screen no golden file has:\n%s", b);
			screens++;
		}
		b = strstr(end + 3, "```\n"); /* the next block's opening fence */
	}
	cr_assert_geq(screens, 7, "chapter 6 shows %d hvviz screens", screens);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		free(gold[i]);
	free(chapter);
}

/* Stats: exits by reason and device, the legacy disk (33466 device exits). */
Test(golden, stats_view)
{
	both_sizes("stats", "5", trace("diskio-legacy.hvt"), NULL);
}

Test(golden, help_lists_every_key)
{
	both_sizes("help", "?", trace("modeswitch.hvt"), NULL);
}

Test(golden, a_terminal_too_small_gets_a_message)
{
	golden("too-small", 60, 20, "", trace("modeswitch.hvt"), NULL);
}

/* A search in Compare moves the view to the request that holds the match, on both sides, and
 * marks the event '>' in the list (it used to move the event unseen). */
Test(golden, compare_view_follows_a_search)
{
	golden("compare-search", 80, 24, "/ port=0x1f7 Enter n n", trace("diskio-legacy.hvt"),
	       trace("diskio-virtio.hvt"));
}

/* Scrolled by hand, the Virtqueue view says so and which rows it shows; the help scrolled to
 * its end says which lines it shows. */
Test(golden, scrolled_views_say_where_they_are)
{
	golden("virtq-scrolled", 80, 24, "3 / index=13 Space Enter PgDn", trace("diskio-virtio.hvt"),
	       NULL);
	golden("help-end", 80, 24, "? PgDn PgDn", trace("modeswitch.hvt"), NULL);
}

/* Breakpoint on "exit:io", continue twice; then a bad goto: one line on the bottom row. */
Test(golden, breakpoint_continue_and_a_bad_goto)
{
	golden("breakpoint", 80, 24, "/ exit Space io Enter b c c", trace("modeswitch.hvt"), NULL);
	golden("bad-goto", 80, 24, "g 99999999 Enter", trace("modeswitch.hvt"), NULL);
}

/* ---- bad input: one line, the file named, a fix, status 2 ---- */

static void bad_input(const char *path, const char *want)
{
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ hvviz(), "--screen", "80x24", path, NULL });
	cr_assert_eq(r.status, 2, "%s: status %d", path, r.status);
	cr_assert_eq(count_lines(r.err), 1, "one line: %s", r.err);
	cr_assert(strncmp(r.err, "hvviz: ", 7) == 0, "%s", r.err);
	cr_assert(strstr(r.err, want), "want '%s' in: %s", want, r.err);
}

Test(vizcli, bad_input_gets_one_line_and_status_2)
{
	bad_input("/nonexistent/t.hvt", "No such file");
	bad_input(write_tmp("notes.txt", "hello, this is text\n", 20), "not an hvlab trace");
	/* A real trace cut in the middle of a record. */
	FILE *f = fopen(TRACES "modeswitch.hvt", "rb");
	cr_assert(f);
	static unsigned char buf[65536];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	bad_input(write_tmp("cut.hvt", buf, n - 10), "truncated");
	/* Version 99 at offset 8 (hv/trace.h header layout). */
	buf[8] = 99;
	bad_input(write_tmp("v99.hvt", buf, n), "unknown version 99");
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ hvviz(), "--frobnicate", "x", NULL });
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "unknown option '--frobnicate'"), "%s", r.err);
	cmd_exec(&r, (const char *[]){ hvviz(), NULL });
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "no trace given"), "%s", r.err);
}

/* Root reads a mode-000 file, so as root hvviz runs as user nobody (setpriv, util-linux): the
 * same message a student sees, tested on CI too (which runs as root). */
Test(vizcli, unreadable_trace_names_the_problem)
{
	const char *p = write_tmp("locked.hvt", "HVLTRACE", 8);
	cr_assert_eq(chmod(p, 0), 0);
	if (geteuid() != 0) {
		bad_input(p, "ermission denied");
		return;
	}
	char dir[512];
	snprintf(dir, sizeof dir, "%s", p);
	*strrchr(dir, '/') = '\0';
	cr_assert_eq(chmod(dir, 0711), 0); /* nobody must reach the file */
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
				       hvviz(), "--screen", "80x24", p, NULL });
	cr_assert_eq(r.status, 2, "status %d: %s", r.status, r.err);
	cr_assert_eq(count_lines(r.err), 1, "one line: %s", r.err);
	cr_assert(strstr(r.err, "ermission denied") && strstr(r.err, p), "%s", r.err);
}

/* Without a terminal and without --screen, hvviz says how to get text instead. */
Test(vizcli, no_terminal_says_what_to_use_instead)
{
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ hvviz(), TRACES "modeswitch.hvt", NULL });
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "needs a terminal"), "%s", r.err);
}

/* ---- the real binary in a real terminal ---- */

static void tmux(const char *args, struct hv_result *r)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "tmux -L hvviz-test-%d %s", (int)getpid(), args);
	cmd_exec(r, (const char *[]){ "sh", "-c", cmd, NULL });
}

/* Poll the pane until it shows `want` (hvviz draws asynchronously), at most ~5 s. */
static int pane_shows(const char *want, struct hv_result *r)
{
	for (int i = 0; i < 100; i++) {
		tmux("capture-pane -p -t viz", r);
		if (strstr(r->out, want))
			return 1;
		usleep(50000);
	}
	return 0;
}

Test(tmux, hvviz_in_a_real_terminal_steps_resizes_and_quits)
{
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "sh", "-c", "command -v tmux", NULL });
	cr_assert_eq(r.status, 0, "tmux is not installed (make deps installs it)");
	char start[1024];
	snprintf(start, sizeof start,
		 "new-session -d -s viz -x 100 -y 30 'TERM=xterm %s " TRACES "modeswitch.hvt; "
		 "echo hvviz-exit=$?; sleep 30'", hvviz());
	tmux(start, &r);
	cr_assert_eq(r.status, 0, "tmux: %s", r.err);
	cr_assert(pane_shows("[1 Path]", &r), "hvviz did not draw its Path view:\n%s", r.out);
	cr_assert(pane_shows("event 0/", &r), "%s", r.out);
	/* Three steps forward with three different keys. */
	tmux("send-keys -t viz Space l Right", &r);
	cr_assert(pane_shows("event 3/", &r), "space, l and Right each go one event on:\n%s", r.out);
	tmux("send-keys -t viz Tab", &r);
	cr_assert(pane_shows("[2 Timeline]", &r), "%s", r.out);
	/* Smaller than 80x24: the message, not a broken screen; larger again: the view is back. */
	tmux("resize-window -t viz -x 70 -y 20", &r);
	cr_assert(pane_shows("at least 80x24", &r), "too-small message missing:\n%s", r.out);
	tmux("resize-window -t viz -x 100 -y 30", &r);
	cr_assert(pane_shows("[2 Timeline]", &r), "the view must come back:\n%s", r.out);
	tmux("send-keys -t viz q", &r);
	int quit = pane_shows("hvviz-exit=0", &r);
	tmux("kill-server", &r);
	cr_assert(quit, "q must end hvviz with status 0");
}

/* A trace cut shorter while hvviz shows it (recorded again under the same name): the records
 * past the new end are gone from the mapping (SIGBUS on access). One line and status 2, and
 * the terminal back, instead of a crash. */
Test(tmux, a_trace_that_shrinks_while_open_ends_with_one_line)
{
	struct hv_result r;
	static unsigned char buf[90000];
	FILE *f = fopen(TRACES "diskio-virtio.hvt", "rb");
	cr_assert(f);
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	const char *copy = write_tmp("shrink.hvt", buf, n);
	char start[1024];
	snprintf(start, sizeof start,
		 "new-session -d -s viz -x 200 -y 30 '%s %s; echo hvviz-exit=$?; sleep 30'", hvviz(),
		 copy); /* wide: the message stays on one line of the pane */
	tmux(start, &r);
	cr_assert_eq(r.status, 0, "tmux: %s", r.err);
	cr_assert(pane_shows("[1 Path]", &r), "%s", r.out);
	cr_assert_eq(truncate(copy, 4096), 0);
	tmux("send-keys -t viz End", &r);
	int ended = pane_shows("hvviz-exit=2", &r);
	int said = strstr(r.out, "got shorter while it was open (recorded again?); open it again") != NULL;
	static char screen[sizeof r.out];
	memcpy(screen, r.out, sizeof screen);
	tmux("kill-server", &r);
	cr_assert(ended, "hvviz must end with status 2:\n%s", screen);
	cr_assert(said, "%s", screen);
}
