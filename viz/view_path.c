/*
 * view_path.c - the Path view: the current event drawn as a move between the four places code
 * runs on a virtualized machine, with its neighbours above and below, and what it means.
 *
 * Concept: a VM exit is a change of place. The guest's process and kernel run in VMX non-root
 * mode (rings 3 and 0), KVM and hv in root mode (rings 0 and 3). The view draws these four as
 * vertical lanes, with the VM exit / VM entry boundary between the guest's two and the host's
 * two, and each event as one row: an arrow from the lane it leaves to the lane it enters
 * ("o------->", "<-------o"), or a box "[*]" for work inside one lane (hv playing a device).
 * Stepping through an exit then draws the six steps of a device access (viz/sixstep.h; textbook
 * chapter 3 "Exits", section "The six steps"): across the boundary, up to hv, a few boxes in
 * hv's lane, and back down into the guest. Below the lanes: which step this is, a strip of the
 * six with the current one in brackets, one line saying what the hardware and the software do
 * (viz/sixstep.c), and the event's `hv trace dump` line.
 * Textbook: chapter 6 "Watching it happen", section "Path: the six steps across four lanes".
 *
 * Everything has a text mark besides its colour: '>' and the bracketed step for "current", ':'
 * and '|' for lanes and the boundary, so the screen reads the same in monochrome and in the
 * golden-screen tests. Drawing reads only the rows on screen (model_get), never the trace.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sixstep.h"
#include "viz.h"
#include "trace_dump.h"

/* Rows above the events: lane names, where they run, the guest/host rule. */
#define PV_HEAD 3
/* Rows below the events: rule, step line, strip, explanation (up to 3), dump line. */
#define PV_FOOT 7
#define PV_EXPLAIN_LINES 3
/* Left margin: the '>' mark of the current row and a space. */
#define PV_X0 2
/* The boundary between lane 1 (guest ring 0) and lane 2 (KVM) takes three columns: " | ". */
#define PV_DIV 3
/* More event rows than any terminal has lines (hvviz --screen allows up to 1000). */
#define PV_MAX_ROWS 1024

/* Column geometry for one draw, from the window's width. */
struct pv_geom {
	int lw;    /* width of one lane */
	int dx;    /* the boundary's column */
	int lx;    /* where the labels start */
	int lwid;  /* the labels' width */
	int seqw;  /* digits of the largest sequence number */
};

/*
 * The lanes get 10 to 28 columns each, the labels the rest: at 80 columns lanes of 10 leave
 * labels of 34 ("seq step title" of most events), at 120 lanes of 16 (wide enough for
 * "non-root ring 3") leave 50, room for the longest titles. From 160 columns on the lanes
 * grow again, keeping 80 for the labels, so a wide terminal shows longer, clearer arrows
 * (200 columns: lanes of 28).
 */
static struct pv_geom pv_geom_of(int cols, uint64_t count)
{
	struct pv_geom g;
	g.lw = (cols - 50) / LANE_COUNT;
	if (g.lw < 10)
		g.lw = 10;
	if (g.lw > 16)
		g.lw = (cols - 80) / LANE_COUNT > 16 ? (cols - 80) / LANE_COUNT : 16;
	if (g.lw > 28)
		g.lw = 28;
	g.dx = PV_X0 + 2 * g.lw + PV_DIV / 2;
	g.lx = PV_X0 + LANE_COUNT * g.lw + PV_DIV + 1;
	g.lwid = cols - g.lx;
	char buf[24];
	g.seqw = snprintf(buf, sizeof buf, "%" PRIu64, count ? count - 1 : 0);
	return g;
}

/* First column of lane i, and its centre, where arrows start and end. */
static int pv_lane_x(const struct pv_geom *g, int lane)
{
	return PV_X0 + lane * g->lw + (lane >= LANE_KVM ? PV_DIV : 0);
}

static int pv_lane_cx(const struct pv_geom *g, int lane)
{
	return pv_lane_x(g, lane) + g->lw / 2;
}

static enum ui_role pv_lane_role(int lane)
{
	static const enum ui_role roles[LANE_COUNT] = { UI_LANE0, UI_LANE1, UI_LANE2, UI_LANE3 };
	return lane >= 0 && lane < LANE_COUNT ? roles[lane] : UI_NORMAL;
}

/* One character at (y, x), if it is inside the window. */
static void pv_put(WINDOW *w, int y, int x, attr_t at, char c)
{
	int rows, cols;
	getmaxyx(w, rows, cols);
	if (y < 0 || y >= rows || x < 0 || x >= cols)
		return;
	wattrset(w, at);
	mvwaddch(w, y, x, (chtype)(unsigned char)c);
	wattrset(w, A_NORMAL);
}

/* ---- the header: four lanes and the boundary ---- */

/*
 * A lane's two header lines: its name and where it runs ("guest ring 3" / "non-root ring 3")
 * when the lane is wide enough. Narrower, three short lines say the same: "guest" / "ring 3",
 * and the rule below them says "non-root" or "root" for both lanes of its side.
 */
static void pv_lane_words(int lane, int lw, unsigned host, const char **name, const char **where)
{
	static const char *const short_name[LANE_COUNT] = { "guest", "guest", "KVM", "hv" };
	static const char *const short_where[LANE_COUNT] = { "ring 3", "ring 0", "ring 0", "ring 3" };
	/* One rule for all four lanes, so the header never mixes long and short words. */
	int wide = 1;
	for (int i = 0; i < LANE_COUNT; i++)
		if ((int)strlen(lane_where_on(i, host)) >= lw || (int)strlen(lane_name(i)) >= lw)
			wide = 0;
	*name = wide ? lane_name(lane) : short_name[lane];
	*where = wide ? lane_where_on(lane, host) : short_where[lane];
}

/* Text centred in [x, x + width). */
static void pv_centre(WINDOW *w, int y, int x, int width, attr_t at, const char *s)
{
	int n = (int)strlen(s);
	int off = n < width ? (width - n) / 2 : 0;
	ui_text(w, y, x + off, width - off, 0, at, "%s", s);
}

/* "----- guest: VMX non-root -----|----- host: VMX root -----" under the lane names. */
static void pv_rule(const struct app *a, WINDOW *w, int y, const struct pv_geom *g)
{
	attr_t dim = ui_attr(a, UI_DIM);
	for (int x = PV_X0; x < g->lx - 1; x++)
		pv_put(w, y, x, dim, x == g->dx ? '|' : '-');
	/* PVM has no root mode (sixstep.c, lane_where_on): there the sides are only named. */
	int pvm = app_model(a)->header.host_kind == HVT_HOST_PVM;
	pv_centre(w, y, PV_X0, 2 * g->lw, dim, pvm ? " guest (PVM) " : " guest: non-root ");
	pv_centre(w, y, pv_lane_x(g, LANE_KVM), 2 * g->lw, dim, pvm ? " host " : " host: root ");
}

static void pv_header(const struct app *a, WINDOW *w, const struct pv_geom *g)
{
	attr_t head = ui_attr(a, UI_HEADER);
	for (int lane = 0; lane < LANE_COUNT; lane++) {
		const char *name, *where;
		pv_lane_words(lane, g->lw, app_model(a)->header.host_kind, &name, &where);
		pv_centre(w, 0, pv_lane_x(g, lane), g->lw, ui_attr(a, pv_lane_role(lane)) | A_BOLD,
			  name);
		pv_centre(w, 1, pv_lane_x(g, lane), g->lw, ui_attr(a, UI_DIM), where);
	}
	pv_put(w, 0, g->dx, ui_attr(a, UI_DIM), '|');
	pv_put(w, 1, g->dx, ui_attr(a, UI_DIM), '|');
	pv_rule(a, w, 2, g);
	/* The labels' column: what the numbers are, and what the '|' line means. */
	ui_text(w, 0, g->lx, g->lwid, 0, head, "%*s s event", g->seqw, "seq");
	ui_text(w, 1, g->lx, g->lwid, 0, ui_attr(a, UI_DIM), "| = VM exit / VM entry boundary");
}

/* ---- one event row ---- */

/*
 * The move itself: 'o' where the event starts, an arrow head where it ends, '+' where it
 * crosses the VM exit / VM entry boundary (a VM exit or entry, nothing else, crosses it).
 */
static void pv_arrow(WINDOW *w, int y, const struct pv_geom *g, const struct path_step *p,
		     attr_t at)
{
	if (p->from == LANE_NONE)
		return;
	int a = pv_lane_cx(g, p->from), b = pv_lane_cx(g, p->to);
	if (a == b) {
		pv_put(w, y, a - 1, at, '[');
		pv_put(w, y, a, at, '*');
		pv_put(w, y, a + 1, at, ']');
		return;
	}
	int lo = a < b ? a : b, hi = a < b ? b : a;
	for (int x = lo + 1; x < hi; x++)
		pv_put(w, y, x, at, x == g->dx ? '+' : '-');
	pv_put(w, y, a, at, 'o');
	pv_put(w, y, b, at, a < b ? '>' : '<');
}

static void pv_row(const struct app *a, WINDOW *w, int y, const struct pv_geom *g,
		   const struct hvt_record *r, int current)
{
	struct path_step p;
	struct sixstep_ctx ctx = sixstep_ctx_of(app_model(a), r);
	sixstep_classify_in(r, &ctx, &p);
	attr_t cur = ui_attr(a, UI_CURRENT), dim = ui_attr(a, UI_DIM);
	int cols = getmaxx(w);
	if (current)
		ui_text(w, y, 0, cols, 1, cur, ">");
	/* The lanes as dotted rails, the boundary as a solid line, so an empty row still shows
	 * where everything is. */
	for (int lane = 0; lane < LANE_COUNT; lane++)
		pv_put(w, y, pv_lane_cx(g, lane), current ? cur : dim, ':');
	pv_put(w, y, g->dx, current ? cur : dim, '|');
	attr_t at = current ? cur : ui_attr(a, pv_lane_role(p.to == LANE_NONE ? p.from : p.to));
	pv_arrow(w, y, g, &p, at);
	char step = p.step ? (char)('0' + p.step) : '-';
	attr_t lat = current ? cur : p.from == LANE_NONE ? dim : A_NORMAL;
	ui_text(w, y, g->lx, g->lwid, current, lat, "%*" PRIu64 " %c %s", g->seqw, r->seq, step,
		p.title);
}

/* ---- the events on screen ---- */

/*
 * The n events around cur: cur in the middle, or as near it as the ends of the trace allow
 * (at the start more follow, at the end more precede, so no row stays empty needlessly).
 */
static uint64_t pv_first(uint64_t cur, uint64_t count, int n)
{
	uint64_t half = (uint64_t)n / 2;
	uint64_t first = cur > half ? cur - half : 0;
	if (count > (uint64_t)n && first > count - (uint64_t)n)
		first = count - (uint64_t)n;
	if (count <= (uint64_t)n)
		first = 0;
	return first;
}

/* ---- below the lanes: the step, the strip of six, the explanation ---- */

/*
 * "1 syscall  2 driver  [3 VM exit]  4 KVM->hv  5 device  6 back": the path with the current
 * step in brackets. In a narrow window the numbers alone: "1 2 [3] 4 5 6".
 */
static void pv_strip(char *buf, size_t len, int step, int width)
{
	static const char *const names[6] = { "syscall", "driver", "VM exit", "KVM->hv",
					       "hv device", "back" };
	size_t n = (size_t)snprintf(buf, len, "path:");
	for (int i = 1; i <= 6 && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, i == step ? " [%d %s]" : "  %d %s ", i,
				      names[i - 1]);
	if ((int)n <= width)
		return;
	n = (size_t)snprintf(buf, len, "path:");
	for (int i = 1; i <= 6 && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, i == step ? " [%d]" : "  %d ", i);
}

/*
 * The explanation is prose, so here (and only here) it wraps, at spaces, into at most `lines`
 * lines of `width`. Whatever does not fit is cut at the last line's end with "...", so a cut
 * sentence never reads as a whole one (sixstep.c keeps real records' text within 3 lines of
 * 78 columns; only a damaged file's huge numbers get this far).
 */
static void pv_wrap(WINDOW *w, int y, int x, int width, int lines, attr_t at, const char *s)
{
	for (int l = 0; l < lines && *s && width > 0; l++) {
		int n = (int)strlen(s);
		if (n > width && l < lines - 1) {
			n = width;
			while (n > 0 && s[n] != ' ')
				n--;
			if (n == 0)
				n = width; /* one word longer than the line: cut it */
		} else if (n > width && width > 3) {
			ui_text(w, y + l, x, width, 0, at, "%.*s...", width - 3, s);
			return;
		}
		ui_text(w, y + l, x, width, 0, at, "%.*s", n, s);
		s += n;
		while (*s == ' ')
			s++;
	}
}

static void pv_footer(const struct app *a, WINDOW *w, int y, const struct hvt_record *r)
{
	int cols = getmaxx(w);
	struct path_step p;
	struct sixstep_ctx ctx = sixstep_ctx_of(app_model(a), r);
	sixstep_classify_in(r, &ctx, &p);
	for (int x = 0; x < cols; x++)
		pv_put(w, y, x, ui_attr(a, UI_DIM), '-');

	char where[64] = "";
	if (p.from != LANE_NONE && p.from != p.to)
		snprintf(where, sizeof where, "   %s -> %s", lane_name(p.from), lane_name(p.to));
	else if (p.from != LANE_NONE)
		snprintf(where, sizeof where, "   inside %s", lane_name(p.from));
	if (p.step)
		ui_text(w, y + 1, 0, cols, 0, ui_attr(a, UI_NORMAL) | A_BOLD, "step %d of 6: %s%s", p.step,
			p.title, where);
	else
		ui_text(w, y + 1, 0, cols, 0, ui_attr(a, UI_NORMAL) | A_BOLD, "%s: %s%s",
			p.from == LANE_NONE ? "not an event" :
			sixstep_is_async(r) ? "no step, on its own clock" :
					      "not a device access", p.title, where);

	char strip[160];
	pv_strip(strip, sizeof strip, p.step, cols);
	ui_text(w, y + 2, 0, cols, 0, A_NORMAL, "%s", strip);

	pv_wrap(w, y + 3, 2, cols - 2, PV_EXPLAIN_LINES, A_NORMAL, p.explain);

	char dump[256], line[272];
	trace_format_record(dump, sizeof dump, r);
	snprintf(line, sizeof line, "dump: %s", dump);
	ui_cut_at_word(line, cols); /* "arg=0x12" cut to "arg=0" would read as 0 */
	ui_text(w, y + 3 + PV_EXPLAIN_LINES, 0, cols, 0, ui_attr(a, UI_DIM), "%s", line);
}

/* ---- the view ---- */

static void path_draw(struct app *a, WINDOW *w)
{
	const struct model *m = app_model(a);
	int rows, cols;
	getmaxyx(w, rows, cols);
	if (m->count == 0) {
		ui_text(w, 1, 2, cols - 4, 0, A_NORMAL, "this trace has no events");
		return;
	}
	struct pv_geom g = pv_geom_of(cols, m->count);
	pv_header(a, w, &g);

	int n = rows - PV_HEAD - PV_FOOT;
	if (n < 1)
		n = 1;
	if (n > PV_MAX_ROWS)
		n = PV_MAX_ROWS;
	uint64_t cur = app_cur(a);
	uint64_t first = pv_first(cur, m->count, n);
	for (int k = 0; k < n && first + (uint64_t)k < m->count; k++) {
		struct hvt_record r;
		model_get(m, first + (uint64_t)k, &r);
		pv_row(a, w, PV_HEAD + k, &g, &r, first + (uint64_t)k == cur);
	}

	struct hvt_record r;
	model_get(m, cur, &r);
	pv_footer(a, w, PV_HEAD + n, &r);
}

/*
 * Moving is the application's (next/previous event, search, breakpoints), except a page: the
 * list of events here is shorter than the body (the lanes' head and the explanation take
 * rows), and a page must be what the list shows, or PgDn would skip events never seen.
 */
static int path_act(struct app *a, enum action act, int rows)
{
	if (act != A_PAGE_UP && act != A_PAGE_DOWN)
		return 0;
	const struct model *m = app_model(a);
	if (m->count == 0)
		return 0; /* the app says there are no events */
	uint64_t page = (uint64_t)(rows - PV_HEAD - PV_FOOT > 1 ? rows - PV_HEAD - PV_FOOT : 1);
	uint64_t cur = app_cur(a);
	if (act == A_PAGE_UP) {
		if (cur == 0)
			app_message(a, "this is the first event");
		app_goto(a, cur > page ? cur - page : 0);
	} else {
		if (cur + 1 >= m->count)
			app_message(a, "this is the last event (%" PRIu64 ")", cur);
		app_goto(a, cur + page); /* app_goto clamps to the last event */
	}
	return 1;
}

const struct view_ops view_path = {
	.name = "Path",
	.id = VIEW_PATH,
	.draw = path_draw,
	.act = path_act,
};
