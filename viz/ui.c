/*
 * ui.c - hvviz's drawing helpers: roles instead of colours, clipped text, bars, times.
 *
 * Concept: a screen for learning must read the same in colour, in black and white, and when
 * someone sets NO_COLOR (no-color.org). So views never pick colours: they name a role
 * ("current event", "touched entry", "lane of KVM") and this file maps it to colour plus an
 * attribute, or to an attribute alone. The meaning itself is always carried by text too (a
 * '>' mark, a '*', brackets), so even a screen dump without attributes says everything; the
 * golden-screen tests compare exactly that text.
 * Textbook: chapter 6 "Watching it happen".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viz.h"

/*
 * -1 is the terminal's own colour (use_default_colors): roles without a background keep the
 * user's light or dark theme. The mono attribute is applied in colour too, so bold, reverse
 * and underline carry the same cue to a reader who cannot tell red from green. The lanes get
 * no attribute: they are vertical columns under a row of names (view_path.c). The two bars of
 * Compare differ by character as well ('#' and '=', ui_bar).
 */
/* Colour pairs, one per role that has a colour. */
static const struct {
	enum ui_role role;
	short fg;
	short bg;
	attr_t mono; /* the attribute used with colour and without it */
} roles[] = {
	{ UI_NORMAL, -1, -1, A_NORMAL },
	{ UI_TITLE, COLOR_BLACK, COLOR_CYAN, A_REVERSE },
	{ UI_CURRENT, COLOR_BLACK, COLOR_YELLOW, A_REVERSE | A_BOLD },
	{ UI_TOUCHED, COLOR_GREEN, -1, A_BOLD },
	{ UI_DIM, COLOR_BLUE, -1, A_DIM },
	{ UI_ERROR, COLOR_RED, -1, A_BOLD },
	{ UI_HEADER, COLOR_CYAN, -1, A_UNDERLINE },
	{ UI_LANE0, COLOR_GREEN, -1, A_NORMAL },   /* guest ring 3 */
	{ UI_LANE1, COLOR_CYAN, -1, A_NORMAL },    /* guest ring 0 */
	{ UI_LANE2, COLOR_MAGENTA, -1, A_NORMAL }, /* KVM */
	{ UI_LANE3, COLOR_YELLOW, -1, A_NORMAL },  /* hv */
	{ UI_BAR_A, COLOR_RED, -1, A_NORMAL },
	{ UI_BAR_B, COLOR_GREEN, -1, A_NORMAL },
};

void ui_init_colors(struct app *a)
{
	/* NO_COLOR: "when present and not an empty string, prevents the addition of ANSI color". */
	const char *no_color = getenv("NO_COLOR");
	a->color = has_colors() && !(no_color && no_color[0]);
	if (!a->color)
		return;
	/* has_colors is false on terminals whose terminfo entry has none (TERM=vt100, dumb).
	 * start_color must come before any init_pair; use_default_colors (an ncurses extension)
	 * is what makes -1 mean "the terminal's default". Pair 0 is curses' own and cannot be
	 * redefined, hence role + 1 as the pair number. */
	start_color();
	use_default_colors();
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (roles[i].fg != -1 || roles[i].bg != -1)
			init_pair((short)(roles[i].role + 1), roles[i].fg, roles[i].bg);
}

attr_t ui_attr(const struct app *a, enum ui_role role)
{
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		if (roles[i].role != role)
			continue;
		attr_t at = roles[i].mono;
		if (a->color && (roles[i].fg != -1 || roles[i].bg != -1))
			at |= COLOR_PAIR(role + 1);
		return at;
	}
	return A_NORMAL;
}

void ui_text(WINDOW *w, int y, int x, int width, int pad, attr_t at, const char *fmt, ...)
{
	int rows, cols;
	getmaxyx(w, rows, cols);
	if (y < 0 || y >= rows || x < 0 || x >= cols || width <= 0)
		return;
	/* curses does not cut text at the window's right edge, it wraps it onto the next line:
	 * every string is clipped here, so no view can spill into the row below. */
	if (width > cols - x)
		width = cols - x;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* Control characters would move the cursor: a trace's guest name is the file's bytes. */
	int n = 0;
	for (; buf[n] && n < width; n++)
			/* Bytes from 0x80 up go too: every view's column arithmetic counts one byte
			 * as one cell, which only ASCII keeps (a UTF-8 character is 2-4 bytes). */
		if ((unsigned char)buf[n] < 0x20 || (unsigned char)buf[n] >= 0x7f)
			buf[n] = '?';
	if (pad)
		for (; n < width && n < (int)sizeof buf - 1; n++)
			buf[n] = ' ';
	buf[n] = '\0';
	/* Set for this string, and reset after it, so a call that passes no attribute never
	 * inherits the previous call's reverse video. */
	wattrset(w, at);
	mvwaddnstr(w, y, x, buf, n);
	wattrset(w, A_NORMAL);
}

void ui_bar(const struct app *a, WINDOW *w, int y, int x, int width, uint64_t value,
	    uint64_t max, enum ui_role role)
{
	if (width <= 0)
		return;
	/* A bar is relative to max (the largest of the values drawn on one scale): bars compare,
	 * the number next to them measures. */
	/* Any non-zero value gets at least one mark: "a few" must not look like "none". */
	int n = 0;
	if (max > 0 && value > 0) {
		/* Rounded to the nearest cell: value == max fills the width exactly. */
		n = (int)((double)value / (double)max * width + 0.5);
		if (n < 1)
			n = 1;
		if (n > width)
			n = width;
	}
	char buf[512];
	if (n > (int)sizeof buf - 1)
		n = (int)sizeof buf - 1;
	memset(buf, role == UI_BAR_B ? '=' : '#', (size_t)n);
	buf[n] = '\0';
	ui_text(w, y, x, width, 0, ui_attr(a, role), "%s", buf);
}

/* The unit follows the size, so a time never shows as a long row of digits and a glance gives
 * its order of magnitude; "us", not the micro sign, for the ASCII rule of ui_text. */
void ui_time(char *buf, size_t len, uint64_t ns)
{
	if (ns >= 1000000000ull)
		snprintf(buf, len, "%.3f s", (double)ns / 1e9);
	else if (ns >= 1000000ull)
		snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
	else if (ns >= 1000ull)
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	else
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
}

/* "904x", "2.5x", "0.33x": how many times the left number is the right one. Exit counts of
 * the two I/O paths span three orders of magnitude, so the precision follows the size. */
void ui_ratio(char *buf, size_t len, uint64_t left, uint64_t right)
{
	if (right == 0) {
		snprintf(buf, len, left ? "none on the right" : "both none");
		return;
	}
	double r = (double)left / (double)right;
	if (r >= 10.0)
		snprintf(buf, len, "%.0fx", r);
	else if (r >= 1.0)
		snprintf(buf, len, "%.1fx", r);
	else if (r >= 0.01)
		snprintf(buf, len, "%.2fx", r);
	else
		snprintf(buf, len, "%.4fx", r);
}

/*
 * Wrap s into lines of at most width characters (width < 256), breaking at spaces; a word
 * longer than a line is cut into pieces, so nothing is lost. Returns the lines written.
 */
int ui_wrap(const char *s, int width, char lines[][256], int max)
{
	int n = 0;
	if (width > 255)
		width = 255;
	while (*s == ' ')
		s++;
	while (*s && n < max && width > 0) {
		int len = (int)strlen(s);
		if (len > width) {
			len = width;
			while (len > 0 && s[len] != ' ')
				len--;
			if (len == 0)
				len = width;
		}
		memcpy(lines[n], s, (size_t)len);
		lines[n][len] = '\0';
		n++;
		s += len;
		while (*s == ' ')
			s++;
	}
	return n;
}

/*
 * A record's fields are words: "arg=0x12" cut to "arg=0" would say the write returned 0. So a
 * line wider than the window ends at the last space that leaves room for " ...". One word
 * wider than the whole line (only a damaged file's) is cut where it must be.
 */
void ui_cut_at_word(char *line, int width)
{
	int n = (int)strlen(line);
	if (n <= width || width < 8)
		return;
	int k = width - 4; /* room for " ..." */
	while (k > 0 && line[k] != ' ')
		k--;
	if (k == 0)
		k = width - 4;
	memcpy(line + k, " ...", 5);
}
