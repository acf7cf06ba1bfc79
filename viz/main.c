/*
 * main.c - hvviz, the visualizer: open a trace (or two), then show it on the terminal.
 *
 *   hvviz TRACE                        step through one trace
 *   hvviz --compare A.hvt B.hvt        two traces side by side (Compare view), e.g. the same
 *                                      disk workload through the legacy and the virtio disk
 *   hvviz --screen 80x24 [--keys "K K ..."] TRACE...
 *                                      no terminal: press the keys, then print the screen as
 *                                      text (golden-screen tests, screens for the textbook)
 *   hvviz --live TRACE --control-fd N [--step]
 *                                      started by `hv run --viz` (viz/live.h)
 *
 * Concept: the trace is the truth, hvviz is a reader. Everything it shows comes from the file
 * hv wrote (hv/trace.h), so a screen can always be checked against `hv trace dump`.
 * Textbook: chapter 6 "Watching it happen".
 */
#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileguard.h"
#include "live.h"
#include "viz.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
	fprintf(out,
		"usage: hvviz TRACE\n"
		"       hvviz --compare A.hvt B.hvt\n"
		"       hvviz --screen COLSxROWS [--keys \"KEY KEY ...\"] [--compare] TRACE [TRACE]\n"
		"Record a trace with: hv run --trace FILE GUEST. Inside hvviz, ? lists every key.\n"
		"--keys: single characters are typed as they are; longer words name a key\n"
		"(Right, Left, Up, Down, Home, End, Tab, Enter, Esc, Space, PgUp, PgDn; any case),\n"
		"and other words are typed letter by letter: \"/ nr=4 Enter\" searches for nr=4.\n");
}

static int fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "hvviz: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

struct options {
	const char *files[2];
	int nfiles;
	int compare;
	int screen_cols, screen_rows; /* 0: interactive */
	const char *keys;
	int live, step;
	int ctl_fd;
};

static int parse_int(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!s[0] || *end || errno || v < 0 || v > 100000)
		return -1;
	*out = (int)v;
	return 0;
}

/* "120x40": both numbers, nothing after them ("80x24x" or "80x24 " is a typo, not a size). */
static int parse_size(const char *s, struct options *o)
{
	int used = 0;
	if (sscanf(s, "%dx%d%n", &o->screen_cols, &o->screen_rows, &used) != 2 || s[used] != '\0')
		return -1;
	if (o->screen_cols < 1 || o->screen_rows < 1 || o->screen_cols > 1000 ||
	    o->screen_rows > 1000)
		return -1;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof *o);
	o->ctl_fd = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--compare")) {
			o->compare = 1;
		} else if (!strcmp(a, "--step")) {
			o->step = 1;
		} else if (!strcmp(a, "--live")) {
			o->live = 1;
		} else if (!strcmp(a, "--keys") || !strcmp(a, "--screen") || !strcmp(a, "--control-fd")) {
			if (!next)
				return fail("%s needs a value (hvviz --help)", a);
			i++;
			if (!strcmp(a, "--keys"))
				o->keys = next;
			else if (!strcmp(a, "--control-fd") && parse_int(next, &o->ctl_fd) < 0)
				return fail("bad --control-fd '%s' (a file descriptor number)", next);
			else if (!strcmp(a, "--screen") && parse_size(next, o) < 0)
				return fail("bad --screen '%s' (COLSxROWS, e.g. 80x24)", next);
		} else if (a[0] == '-' && a[1]) {
			return fail("unknown option '%s' (hvviz --help lists them)", a);
		} else if (o->nfiles == 2) {
			return fail("too many files at '%s' (one trace, or two with --compare)", a);
		} else {
			o->files[o->nfiles++] = a;
		}
	}
	if (o->nfiles == 0)
		return fail("%s", "no trace given (usage: hvviz TRACE; record one with 'hv run --trace FILE GUEST')");
	if (o->compare != (o->nfiles == 2))
		return fail("%s", o->compare ? "--compare needs two traces (hvviz --compare A.hvt B.hvt)"
					     : "two traces need --compare (hvviz --compare A.hvt B.hvt)");
	if (o->keys && !o->screen_cols)
		return fail("%s", "--keys needs --screen COLSxROWS (it prints the screen instead of showing it)");
	if (o->live && (o->compare || o->screen_cols))
		return fail("%s", "--live takes one trace and a terminal (it is started by 'hv run --viz')");
	if (o->step && !o->live)
		return fail("%s", "--step is for --live (use 'hv run --viz=step GUEST')");
	return 0;
}

/* ---- headless: press the keys, print the screen ---- */

static int press_keys(struct app *a, const char *keys)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", keys);
	for (char *save, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		int code = keys_code_of_name(tok);
		if (code >= 0) {
			app_key(a, code);
			app_draw(a);
			continue;
		}
		/* Not a key name: type the word letter by letter (the text of a prompt). */
		for (const char *c = tok; *c; c++) {
			app_key(a, (unsigned char)*c);
			app_draw(a);
		}
	}
	return 0;
}

static void print_screen(int rows, int cols)
{
	char line[1024];
	for (int y = 0; y < rows; y++) {
		int n = mvinnstr(y, 0, line, cols < 1023 ? cols : 1023);
		if (n < 0)
			n = 0;
		line[n] = '\0';
		/* Trailing blanks carry nothing and would make golden files fragile. */
		while (n > 0 && line[n - 1] == ' ')
			line[--n] = '\0';
		puts(line);
	}
}

static int run_headless(struct app *a, const struct options *o)
{
	FILE *out = fopen("/dev/null", "w");
	FILE *in = fopen("/dev/null", "r");
	if (!out || !in)
		return fail("%s", "cannot open /dev/null");
	/* A fixed terminal type: the screen text must not depend on the caller's TERM. */
	SCREEN *s = newterm("xterm", out, in);
	if (!s)
		return fail("%s", "no terminfo entry for 'xterm' (apt-get install ncurses-base)");
	resize_term(o->screen_rows, o->screen_cols);
	ui_init_colors(a);
	app_draw(a);
	press_keys(a, o->keys ? o->keys : "");
	app_draw(a);
	print_screen(o->screen_rows, o->screen_cols);
	endwin();
	delscreen(s);
	fclose(out);
	fclose(in);
	return 0;
}

/* ---- interactive ---- */

static int run_terminal(struct app *a)
{
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return fail("%s", "needs a terminal (for text, use 'hv trace stats FILE' or "
				  "'hvviz --screen 80x24 FILE')");
	SCREEN *s = newterm(NULL, stdout, stdin);
	if (!s)
		return fail("cannot use terminal type '%s' (set TERM, e.g. TERM=xterm)",
			    getenv("TERM") ? getenv("TERM") : "");
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(50);
	ui_init_colors(a);
	/* Live: wake up ten times a second to read the records hv has added. */
	timeout(a->live ? 100 : -1);
	/*
	 * A trace cut shorter while we show it (fileguard.h): the terminal must be given back
	 * before the line is printed, and endwin cannot run inside a signal handler, so the
	 * handler jumps here. This replaces the jump point main set for the open.
	 */
	if (sigsetjmp(fileguard_jump, 1)) {
		endwin();
		delscreen(s);
		fprintf(stderr, "hvviz: '%s' got shorter while it was open (recorded again?); "
			"open it again\n", fileguard_path());
		return EXIT_USAGE;
	}
	while (!a->quit) {
		/* Running to a breakpoint (c in step mode): look for hv's next records at once. */
		if (a->live)
			timeout(a->continuing ? 2 : 100);
		app_draw(a);
		refresh();
		int key = getch();
		if (key != ERR)
			app_key(a, key);
		if (a->live)
			live_poll(a);
		/* Reading records maps file pages into our memory; hand them back (they stay in
		 * the page cache), so a long session on a huge trace stays small (model.h). */
		for (int i = 0; i < a->nmodels; i++)
			model_trim(a->m[i]);
	}
	endwin();
	delscreen(s);
	return 0;
}

/*
 * A screen printed with --screen goes through stdio's buffer, so a failed write (`> /dev/full`,
 * a full disk) would only show at exit, where it is ignored: a golden-screen script would get
 * half a screen and status 0. So hvviz flushes and closes stdout itself and says so in one line
 * with a non-zero status. A closed pipe ends hvviz by SIGPIPE (left at its default), also
 * non-zero.
 */
static int finish_output(int rc)
{
	errno = 0;
	int failed = fflush(stdout) != 0;
	int e = errno;
	failed = failed || ferror(stdout); /* an earlier write failed, the last flush did not */
	if (fclose(stdout) != 0 && !failed) {
		failed = 1;
		e = errno;
	}
	if (!failed)
		return rc;
	fprintf(stderr, "hvviz: writing the output failed: %s\n", strerror(e ? e : EIO));
	return rc ? rc : EXIT_USAGE;
}

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "");
	struct options o;
	if (parse_args(argc, argv, &o) != 0)
		return EXIT_USAGE;
	static struct model models[2];
	static struct model *mp[2] = { &models[0], &models[1] };
	/*
	 * From the first mapping on, a trace cut shorter by another process would end hvviz with
	 * SIGBUS (fileguard.h). The open scan and --screen come back here: one line, status 2.
	 * run_terminal sets its own jump point, to give the terminal back first.
	 */
	if (sigsetjmp(fileguard_jump, 1)) {
		fprintf(stderr, "hvviz: '%s' was truncated while being read (record it again)\n",
			fileguard_path());
		return EXIT_USAGE;
	}
	fileguard_watch(mp, o.nfiles);
	for (int i = 0; i < o.nfiles; i++) {
		char err[512];
		if (model_open(&models[i], o.files[i], o.live, err, sizeof err) < 0) {
			fprintf(stderr, "hvviz: %s\n", err);
			return EXIT_USAGE;
		}
	}
	static struct app a;
	app_init(&a, mp, o.nfiles);
	if (o.live)
		live_init(&a, o.ctl_fd, o.step);
	int rc = o.screen_cols ? run_headless(&a, &o) : run_terminal(&a);
	fileguard_watch(NULL, 0); /* its jump point may be gone with run_terminal's frame */
	app_free(&a);
	for (int i = 0; i < o.nfiles; i++)
		model_close(&models[i]);
	return finish_output(rc);
}
