/*
 * view_timeline.c - the Timeline view: the trace as a list, one event per line, filtered.
 *
 * Concept: the Path view explains one event; the Timeline shows its neighbours, which is
 * where the cost of virtualization becomes visible. A single `out` to the UART is four
 * records (exit, run-return, run-call, entry) that repeat for every byte; a virtio request
 * is one exit followed by a dozen device steps. Reading the list, and then narrowing it with
 * a filter (`kind=exit reason=io port=0x3f8`, viz/filter.c), is how a student counts the
 * exits one driver causes. Each line is the `hv trace dump` line of the event (hv/trace_dump.c)
 * with its first columns aligned, so the screen and the command-line tool use the same words.
 * Textbook: chapter 3 "Exits" (the exit/return/call/entry cycle); chapter 6 "Watching it
 * happen", section "Timeline: finding the exits you care about".
 *
 * Speed: a trace can hold ten million events. Drawing never walks the whole file: it looks
 * at the rows on screen plus, with a filter, at most TL_SCAN_LIMIT records per scan, and says
 * so when that was not enough. Jumps (next matching event, a page) use model_find, which
 * scans only as far as the next match.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "viz.h"
#include "trace_dump.h"

/* Records one scan of a draw may look at before giving up (a sparse filter on a huge trace). */
#define TL_SCAN_LIMIT 100000u
/* Rows above the list: the filter line, and the column heads (or the hidden-event note). */
#define TL_HEAD 2
/* More list rows than any terminal has lines (hvviz --screen allows up to 1000). */
#define TL_MAX_ROWS 1024

/* ---- which events are listed ---- */

/*
 * A scan over the shown model. The list holds the events the filter matches plus the
 * current event, which is always listed (marked '>') even when the filter does not match
 * it: the student must never lose sight of where they are.
 */
struct tl_scan {
	const struct model *m;
	const struct filter *f;
	uint64_t cur;
	uint64_t budget;  /* records this scan may still look at */
	int exhausted;    /* the budget ran out before an end of the trace */
};

static struct tl_scan tl_scan_of(const struct app *a)
{
	struct tl_scan s = { .m = app_model(a), .f = &a->timeline.filter, .cur = app_cur(a),
			     .budget = TL_SCAN_LIMIT };
	return s;
}

static int tl_shown(const struct tl_scan *s, uint64_t i)
{
	if (!s->f->active || i == s->cur)
		return 1;
	struct hvt_record r;
	model_get(s->m, i, &r);
	return filter_match(s->f, &r);
}

/* The next listed event after `from` in direction dir (+1/-1), or MODEL_NONE at an end of
 * the trace or when the scan's budget runs out (then s->exhausted is set). */
static uint64_t tl_step(struct tl_scan *s, uint64_t from, int dir)
{
	uint64_t i = from;
	for (;;) {
		if (dir > 0 ? i + 1 >= s->m->count : i == 0)
			return MODEL_NONE;
		i = dir > 0 ? i + 1 : i - 1;
		/* Without a filter every event is listed: no record needs reading. */
		if (!s->f->active)
			return i;
		if (s->budget == 0) {
			s->exhausted = 1;
			return MODEL_NONE;
		}
		s->budget--;
		if (tl_shown(s, i))
			return i;
	}
}

/* The events of the n list rows starting at the first listed event at or after top. */
static int tl_fill(struct tl_scan *s, uint64_t top, uint64_t *rows, int n)
{
	s->budget = TL_SCAN_LIMIT;
	s->exhausted = 0;
	int k = 0;
	uint64_t i = tl_shown(s, top) ? top : tl_step(s, top, +1);
	while (i != MODEL_NONE && k < n) {
		rows[k++] = i;
		if (k < n)
			i = tl_step(s, i, +1);
	}
	return k;
}

static int tl_index(const uint64_t *rows, int k, uint64_t seq)
{
	for (int i = 0; i < k; i++)
		if (rows[i] == seq)
			return i;
	return -1;
}

/*
 * The top that puts the current event in the middle of the list. Near the end of the trace
 * the list is filled from the bottom instead, so the screen is never half empty while there
 * are earlier events to show (less does the same at the end of a file).
 */
static uint64_t tl_centre(struct tl_scan *s, int n)
{
	s->budget = TL_SCAN_LIMIT;
	int after = 0;
	uint64_t i = s->cur;
	while (after < n / 2 && (i = tl_step(s, i, +1)) != MODEL_NONE)
		after++;
	int back = n - 1 - after;
	s->budget = TL_SCAN_LIMIT;
	uint64_t top = s->cur;
	for (int b = 0; b < back && (i = tl_step(s, top, -1)) != MODEL_NONE; b++)
		top = i;
	return top;
}

/*
 * At the end of the trace, do what less does at the end of a file: no empty rows below the
 * last event while there are earlier ones to show (after End, or a page down with a sparse
 * filter). The current event was in the list and stays in it: the list only grows upwards.
 */
static uint64_t tl_fill_end(struct tl_scan *s, uint64_t top, uint64_t *rows, int n, int *k)
{
	if (*k == 0 || *k >= n || s->exhausted)
		return top;
	s->budget = TL_SCAN_LIMIT;
	uint64_t first = rows[0], i;
	int more = 0;
	while (more < n - *k && (i = tl_step(s, first, -1)) != MODEL_NONE) {
		first = i;
		more++;
	}
	if (more == 0)
		return top;
	*k = tl_fill(s, first, rows, n);
	return first;
}

/*
 * Keep the current event on screen, the way less does: if it is already visible nothing
 * moves; one line above or below the screen scrolls by one line (stepping with Up/Down);
 * anything further (a search hit, a breakpoint, g, Home/End) recentres. Returns the new top
 * and leaves the listed events in rows[0..*k-1].
 */
static uint64_t tl_fix_top(struct tl_scan *s, uint64_t top, uint64_t *rows, int n, int *k)
{
	if (top >= s->m->count)
		top = s->cur;
	*k = tl_fill(s, top, rows, n);
	if (tl_index(rows, *k, s->cur) >= 0)
		return tl_fill_end(s, top, rows, n, k);
	s->budget = TL_SCAN_LIMIT;
	if (*k > 0 && s->cur < rows[0] && tl_step(s, s->cur, +1) == rows[0])
		top = s->cur;
	else if (*k == n && s->cur > rows[n - 1] && tl_step(s, rows[n - 1], +1) == s->cur)
		top = n > 1 ? rows[1] : s->cur;
	else
		top = tl_centre(s, n);
	*k = tl_fill(s, top, rows, n);
	return tl_fill_end(s, top, rows, n, k);
}

/* ---- one row ---- */

/*
 * The words of a dump line after seq, time, thread and kind, most telling first. For an
 * exit that is what the guest did (reason, port or address, direction, value) and how long
 * hv took; for the run-return/run-call/entry records only the instruction pointer and the
 * flags (time-bound: hv could not observe that instant) differ from one cycle to the next.
 * Device steps are already printed compactly (hv/trace_dump.c). Every word stays: only their
 * order changes, so a search still finds what is on the line.
 */
static int word_rank(unsigned kind, const char *w, int pos)
{
	static const char *const exit_order[] = { "port=", "addr=", "in", "out", "read",
						  "write", "data=",
						  "handled_us=", "rip=" };
	static const char *const cycle_order[] = { "rip=", "flags=" };
	const char *const *order = NULL;
	size_t n = 0;
	if (kind == HVT_EXIT) {
		if (pos == 0)
			return 0; /* the exit reason */
		order = exit_order;
		n = sizeof exit_order / sizeof exit_order[0];
	} else if (kind == HVT_RUN_RETURN || kind == HVT_RUN_CALL || kind == HVT_ENTRY) {
		order = cycle_order;
		n = sizeof cycle_order / sizeof cycle_order[0];
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(order[i]);
		int prefix = order[i][l - 1] == '=';
		if (prefix ? strncmp(w, order[i], l) == 0 : strcmp(w, order[i]) == 0)
			return 1 + (int)i;
	}
	return 100;
}

/* Put the words of `rest` into out in rank order (stable: equal ranks keep their order). */
static void rest_reorder(char *out, size_t len, unsigned kind, char *rest)
{
	char *words[40];
	int ranks[40], nw = 0;
	char *save = NULL;
	for (char *w = strtok_r(rest, " ", &save); w && nw < 40; w = strtok_r(NULL, " ", &save)) {
		ranks[nw] = word_rank(kind, w, nw);
		words[nw++] = w;
	}
	size_t used = 0;
	out[0] = '\0';
	for (int r = 0; r <= 100; r++)
		for (int i = 0; i < nw && used < len; i++)
			if (ranks[i] == r) {
				int m = snprintf(out + used, len - used, "%s%s", used ? " " : "",
						 words[i]);
				used += m > 0 ? (size_t)m : 0;
			}
}

/* Column widths, so the first four words line up from row to row. */
struct tl_cols {
	int seq, time;
};

static struct tl_cols tl_cols_of(const struct model *m)
{
	struct tl_cols c = { 3, 7 }; /* at least as wide as the heads "seq" and "time_us" */
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%" PRIu64, m->count ? m->count - 1 : 0);
	if (n > c.seq)
		c.seq = n;
	/* Times only grow (hv's clock is monotonic), so the last one is the widest. */
	if (m->count) {
		struct hvt_record r;
		model_get(m, m->count - 1, &r);
		n = snprintf(buf, sizeof buf, "%.3f", (double)r.time_ns / 1000.0);
		if (n > c.time)
			c.time = n;
	}
	return c;
}

/*
 * "> 1234  862.810 vcpu0    exit        io port=0x3f9 out data=0x0 ..."
 * The first four words of every dump line are the same for every kind (seq, time in
 * microseconds, the thread that recorded it, the kind), so they become aligned columns;
 * what follows depends on the kind and stays free text, clipped at the window's edge.
 */
static void tl_row_text(char *out, size_t len, const struct hvt_record *r, struct tl_cols c,
			int current, int shift)
{
	char line[512];
	trace_format_record(line, sizeof line, r);
	char *save = NULL;
	const char *seq = strtok_r(line, " ", &save);
	const char *time = strtok_r(NULL, " ", &save);
	const char *who = strtok_r(NULL, " ", &save);
	const char *kind = strtok_r(NULL, " ", &save);
	char *rest = strtok_r(NULL, "", &save);
	char details[512] = "";
	if (rest)
		rest_reorder(details, sizeof details, r->kind, rest);
	/* > and < shift the details, the free text that runs past the edge; the columns stay. */
	size_t dl = strlen(details), skip = shift > 0 ? (size_t)shift : 0;
	snprintf(out, len, "%c %*s %*s %-8s %-11s %s%s", current ? '>' : ' ', c.seq, seq ? seq : "",
		 c.time, time ? time : "", who ? who : "", kind ? kind : "", skip ? "<" : "",
		 details + (skip < dl ? skip : dl));
}

/* ---- drawing ---- */

static void tl_draw_head(struct app *a, WINDOW *w, int width, int hidden, struct tl_cols c)
{
	const struct filter *f = &a->timeline.filter;
	char search[160] = "";
	if (a->search[0])
		snprintf(search, sizeof search, "   search: %s (n next, N previous)", a->search);
	if (f->active)
		ui_text(w, 0, 0, width, 1, ui_attr(a, UI_HEADER), "filter: %s (f to change, F to clear)%s",
			f->text, search);
	else
		ui_text(w, 0, 0, width, 1, ui_attr(a, UI_HEADER), "filter: none (f to set)%s", search);
	if (hidden)
		ui_text(w, 1, 0, width, 1, ui_attr(a, UI_ERROR),
			"current event %" PRIu64 " does not match the filter: listed anyway, marked '>'",
			app_cur(a));
	else {
		char what[96];
		if (a->hshift)
			snprintf(what, sizeof what, "<details from character %d (< back, d whole record)",
				 a->hshift + 1);
		else
			snprintf(what, sizeof what, "details (hv trace dump's words)");
		ui_text(w, 1, 0, width, 1, ui_attr(a, UI_DIM), "  %*s %*s %-8s %-11s %s", c.seq, "seq",
			c.time, "time_us", "thread", "kind", what);
	}
}

/*
 * The body: two head rows, then one row per listed event. The order matters: first decide
 * the top (that may move the list), then draw the head (which says whether the current
 * event is listed only because it is current), then the rows, then why the list stops.
 */
static void timeline_draw(struct app *a, WINDOW *w)
{
	int height, width;
	getmaxyx(w, height, width);
	werase(w);
	struct tl_scan s = tl_scan_of(a);
	if (s.m->count == 0) {
		ui_text(w, 0, 0, width, 0, A_NORMAL, "This trace has no events yet.");
		return;
	}
	int n = height - TL_HEAD;
	if (n > TL_MAX_ROWS)
		n = TL_MAX_ROWS;
	uint64_t rows[TL_MAX_ROWS];
	int k = 0;
	if (n > 0)
		a->timeline.top = tl_fix_top(&s, a->timeline.top, rows, n, &k);

	/* The current event is always listed; the head says when that is the only reason. */
	struct hvt_record cur;
	model_get(s.m, s.cur, &cur);
	struct tl_cols c = tl_cols_of(s.m);
	tl_draw_head(a, w, width, !filter_match(s.f, &cur), c);

	char text[1024];
	for (int i = 0; i < k; i++) {
		struct hvt_record r;
		model_get(s.m, rows[i], &r);
		int is_cur = rows[i] == s.cur;
		tl_row_text(text, sizeof text, &r, c, is_cur, a->hshift);
		ui_text(w, TL_HEAD + i, 0, width, 1, ui_attr(a, is_cur ? UI_CURRENT : UI_NORMAL),
			"%s", text);
	}
	/* Say why the list stops, so a short list is not mistaken for a short trace. */
	if (k < n) {
		if (s.exhausted)
			ui_text(w, TL_HEAD + k, 0, width, 0, ui_attr(a, UI_DIM),
				"  -- no more matching events within the next %u records "
				"(Down searches further) --", TL_SCAN_LIMIT);
		else
			ui_text(w, TL_HEAD + k, 0, width, 0, ui_attr(a, UI_DIM),
				"  -- end of the trace (%" PRIu64 " event%s%s) --", s.m->count,
				s.m->count == 1 ? "" : "s", a->live ? " so far" : "");
	}
}

/* ---- actions ---- */

static int tl_match(const struct hvt_record *r, void *arg)
{
	return filter_match(arg, r);
}

/*
 * Down/Up (and space/Left with a filter): the next or previous matching event. A jump is
 * what the student asked for, so unlike drawing it is not bounded: model_find reads forward
 * only as far as the next match (the whole rest of the trace only when there is none, once,
 * on a key press). The event found becomes the current one for every view, so switching to
 * the Path view then explains exactly this exit.
 */
static int tl_move(struct app *a, int dir)
{
	const struct filter *f = &a->timeline.filter;
	uint64_t at = model_find(app_model(a), app_cur(a), dir, tl_match, (void *)f);
	if (at == MODEL_NONE) {
		app_message(a, "no event %s %" PRIu64 " matches the filter '%s' (F clears it)",
			    dir > 0 ? "after" : "before", app_cur(a), f->text);
		return 1;
	}
	app_goto(a, at);
	return 1;
}

/* The event `count` listed events away from `from`, stopping early at an end (moved says
 * how far it got). Jumps may scan far, so they use model_find, not the bounded draw scan. */
static uint64_t tl_walk(const struct app *a, uint64_t from, int dir, int count, int *moved)
{
	const struct model *m = app_model(a);
	const struct filter *f = &a->timeline.filter;
	uint64_t at = from;
	*moved = 0;
	while (*moved < count) {
		uint64_t next;
		if (f->active)
			next = model_find(m, at, dir, tl_match, (void *)f);
		else
			next = dir > 0 ? (at + 1 < m->count ? at + 1 : MODEL_NONE)
				       : (at > 0 ? at - 1 : MODEL_NONE);
		if (next == MODEL_NONE)
			break;
		at = next;
		(*moved)++;
	}
	return at;
}

/*
 * PgDn/PgUp: a page of listed events. The current event keeps its row on the screen, and
 * the list moves under it by the same page, as in less.
 */
static int tl_page(struct app *a, int dir, int rows)
{
	int n = rows - TL_HEAD;
	if (n < 1)
		n = 1;
	if (n > TL_MAX_ROWS)
		n = TL_MAX_ROWS;
	struct tl_scan s = tl_scan_of(a);
	if (s.m->count == 0)
		return 0; /* the app says there are no events */
	uint64_t list[TL_MAX_ROWS];
	int k = tl_fill(&s, a->timeline.top, list, n);
	int row = tl_index(list, k, s.cur);
	if (row < 0)
		row = (n - 1) / 2;
	int moved;
	uint64_t to = tl_walk(a, s.cur, dir, n, &moved);
	if (moved == 0) {
		app_message(a, "this is the %s %sevent", dir > 0 ? "last" : "first",
			    a->timeline.filter.active ? "matching " : "");
		return 1;
	}
	app_goto(a, to);
	a->timeline.top = tl_walk(a, app_cur(a), -1, row, &moved);
	return 1;
}

static int timeline_act(struct app *a, enum action act, int rows)
{
	struct filter *f = &a->timeline.filter;
	switch (act) {
	case A_UP: case A_DOWN: case A_NEXT: case A_PREV:
		/* Without a filter every event is listed: the app's own stepping is the same
		 * thing (and at the end of a live trace it lets the guest run one more exit). */
		if (!f->active || app_model(a)->count == 0)
			return 0;
		/* At the last event of a live trace the app's step is what runs the guest on (step
		 * mode); the filter cannot look at events that do not exist yet. */
		if ((act == A_DOWN || act == A_NEXT) && a->live &&
		    app_cur(a) + 1 >= app_model(a)->count)
			return 0;
		return tl_move(a, act == A_DOWN || act == A_NEXT ? +1 : -1);
	case A_PAGE_DOWN: case A_PAGE_UP:
		return tl_page(a, act == A_PAGE_DOWN ? +1 : -1, rows);
	case A_FILTER_CLEAR:
		if (!f->active) {
			app_message(a, "no filter to clear (f sets one)");
			return 1;
		}
		filter_parse("", f, NULL, 0);
		app_message(a, "filter cleared");
		return 1;
	default:
		/* A_FILTER included: the app owns the prompt and calls filter_parse on Enter. */
		return 0;
	}
}

const struct view_ops view_timeline = {
	.name = "Timeline",
	.id = VIEW_TIMELINE,
	.draw = timeline_draw,
	.act = timeline_act,
};
