/*
 * statsview.h - the pure half of hvviz's Stats view: the model's totals turned into lines of
 * text (and bars), with no terminal involved.
 *
 * Concept: the Stats view is `hv trace stats` on one screen, the way kvm_stat is for a running
 * VM: which exits reached hv and why, which device caused them, and, next to it, what KVM
 * counted itself. Most exits never leave the kernel; only this comparison shows them.
 * Building the lines is separate from drawing them (viz/view_stats.c) so unit tests
 * (tests/unit/test_viewstats.c) can read the numbers and words without a terminal.
 * Textbook: chapter 3 "Exits", sections "Counting exits" and "Exits hv never sees";
 * appendix A, section A.11 "How `hv trace stats` is computed"; chapter 6 "Watching it happen".
 */
#ifndef VIZ_STATSVIEW_H
#define VIZ_STATSVIEW_H

#include <stdint.h>

#include "model.h"
#include "viz.h"

#define STATS_TEXT_MAX  200 /* one line's text; the widest terminal line we build */
#define STATS_LINES_MAX 128 /* more than the view ever needs (about 60 lines at 80 columns) */
#define STATS_BAR_COL   56  /* bars start here, two columns after the widest row of numbers */

/* One line of the view: text, and optionally a bar drawn from STATS_BAR_COL to the edge. */
struct stats_line {
	char text[STATS_TEXT_MAX];
	enum ui_role role;      /* UI_HEADER for section titles, UI_DIM for notes, ... */
	int bar;                /* 1: draw a bar of value out of max */
	uint64_t value, max;
	enum ui_role bar_role;  /* UI_BAR_A ('#') or UI_BAR_B ('='): different without colour */
};

/*
 * Indices 0..n-1 with counts[i] > 0, largest count first, ties by index (so the order is
 * the same as `hv trace stats` and the same every time). Fills order, returns how many.
 */
int stats_order(const uint64_t *counts, int n, int *order);

/*
 * The whole view as lines for a screen `width` columns wide (lists wrap to it). Reads only
 * m->stats, m->count, m->header and m->live: never the records. Returns the number of lines
 * written (at most max).
 */
int stats_build(const struct model *m, int width, struct stats_line *out, int max);
/* The same, with the three kinds of exit (device, other, in-kernel) of two traces side by
 * side, left and right as Compare shows them, and their ratio (left or right NULL: m's alone). */
int stats_build_pair(const struct model *m, const struct model *left, const struct model *right,
		     int width, struct stats_line *out, int max);

/* Rows left for lines when n lines go into a body of `rows`: all of them when they fit, else
 * one less, for the "more lines" marker at the bottom. */
int stats_view_rows(int nlines, int rows);
/* The first line shown, kept between 0 and the last full page. */
int stats_scroll_clamp(int scroll, int nlines, int view_rows);

#endif
