/*
 * view_compare.c - hvviz's Compare view: two traces of the same disk workload, side by side,
 * one request at a time.
 *
 * Concept: full virtualization and para-virtualization of a disk do the same work, and the
 * only honest way to compare them is request by request. The diskio guest makes the same 34
 * requests through the legacy ATA disk and through virtio-blk (guest/diskio.c); this view
 * steps through them in lockstep, left trace and right trace, and shows what each request
 * cost in time and in exits, each count named: device exits (to the disk controller), other
 * exits (console, timer, HLT), and, for the whole run, in-kernel exits (KVM's counter). On
 * the ATA side a 4 KiB write is some two thousand device exits, one per 16-bit word; on the
 * virtio side it is one doorbell for a whole batch, and most requests cost no exit at all.
 * The bars at the bottom make that difference visible without colour ('#' for the left
 * trace, '=' for the right one).
 * The view steps through pairs of requests that do the same thing (requests_align in
 * viz/requests.c): for diskio that is request N with request N; Linux's two drivers ask for
 * different things (chapter 11 "Watching Linux"), so a request with no partner is a step of
 * its own, and the other side says it has no request like it.
 * Where a request starts and ends is decided in viz/requests.c (the model cuts the trace
 * while it checks it); this file only draws that index and a few records of each request.
 * Textbook: chapter 4 "Two I/O paths", section "Counting the difference"; chapter 6
 * "Watching it happen", section "Compare".
 *
 * Speed: drawing reads the request index and at most one screenful of records per side. The
 * running totals add up the requests before the current one: the index has one entry per
 * request, never one per event.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viz.h"
#include "trace_names.h"
#include "trace_dump.h"

/* Rows of the body that are not the event lists (see compare_layout). */
#define TOP_ROWS    5 /* file, set-up, request, time, "events a-b of n" */
#define BOTTOM_ROWS 9 /* separator, the table of exits (6 rows), two bars */
#define LINE_MAX    512
/* A side with no request at this step: side_this and side_range give nothing for it. */
#define NO_REQ      (SIZE_MAX - 1)
#define TABLE_LABEL 31 /* the table's first column: "so far = set-up + requests 1-34", 31 */

/* ---- numbers for people ---- */

/* 10324 -> "10,324": exit counts span six orders of magnitude between the two paths. */
static void fmt_count(char *buf, size_t len, uint64_t v)
{
	char digits[32];
	int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
	size_t o = 0;
	for (int i = 0; i < n && o + 1 < len; i++) {
		if (i > 0 && (n - i) % 3 == 0 && o + 2 < len)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Which I/O path a trace's requests went through (all of one trace's go through one). */
static int side_path(const struct model *m)
{
	return m->requests.n ? m->requests.v[0].path : 0;
}

static const char *path_long(const struct model *m)
{
	switch (side_path(m)) {
	case HVT_DISK_ATA: return "legacy ATA";
	case HVT_DISK_VIRTIO: return "virtio-blk";
	default: return "no disk requests";
	}
}

/* The short name a ratio line uses: the path when the two sides took different ones (the
 * usual legacy-against-virtio comparison), else the file name (two virtio runs with different
 * batch sizes, say). */
static const char *side_label(const struct app *a, int side)
{
	int p = side_path(a->m[side]), q = side_path(a->m[!side]);
	if (p != q && p == HVT_DISK_ATA && q != 0)
		return "legacy";
	if (p != q && p == HVT_DISK_VIRTIO && q != 0)
		return "virtio";
	return base_name(a->m[side]->path);
}

/* ---- pairing the two sides' requests ---- */

/*
 * The steps: the two traces' requests paired by what they do (requests_align). hvlab's diskio
 * guest makes the same requests on both paths, so step N is request N of each side. Linux's two
 * drivers do not: its ATA driver sends commands virtio has no use for, so some steps have a
 * request on one side only. Paired again when a side has grown (a live trace).
 */
static void compare_align(struct app *a)
{
	const struct requests *l = &a->m[0]->requests, *r = &a->m[1]->requests;
	struct compare_state *c = &a->compare;
	if (c->steps && c->aligned[0] == l->n && c->aligned[1] == r->n)
		return;
	size_t need = l->n + r->n; /* every request is in one step */
	if (need > SIZE_MAX / sizeof *c->steps - 1) {
		c->nsteps = 0;
		return;
	}
	struct req_step *v = realloc(c->steps, (need + 1) * sizeof *v);
	if (!v) {
		c->nsteps = 0; /* the old pairing is for other counts: show nothing, not it */
		app_message(a, "out of memory pairing the requests");
		return;
	}
	c->steps = v;
	c->nsteps = requests_align(l, r, v);
	c->aligned[0] = l->n;
	c->aligned[1] = r->n;
	if (c->req != SIZE_MAX && c->req >= c->nsteps)
		c->req = c->nsteps ? c->nsteps - 1 : SIZE_MAX;
}

/* How many steps the two sides go through together; none when a side has no request at all
 * (a trace of another guest: there is nothing to compare with). */
static size_t compare_steps(struct app *a)
{
	compare_align(a);
	if (a->m[0]->requests.n == 0 || a->m[1]->requests.n == 0)
		return 0;
	return a->compare.nsteps;
}

/*
 * Where one side is at a step. req: its request at this step, or SIZE_MAX for the set-up.
 * none = 1: the other side's request has no partner here, and req is this side's last request
 * before the step (what "so far" adds up to).
 */
struct side_pos {
	size_t req;
	int none;
};

static struct side_pos side_at(const struct app *a, size_t step, int side)
{
	struct side_pos p = { SIZE_MAX, 0 };
	const struct compare_state *c = &a->compare;
	if (step == SIZE_MAX || step >= c->nsteps)
		return p;
	p.req = c->steps[step].req[side];
	if (p.req != REQ_NONE)
		return p;
	p.none = 1;
	p.req = SIZE_MAX;
	for (size_t i = step; i-- > 0;) {
		if (c->steps[i].req[side] != REQ_NONE) {
			p.req = c->steps[i].req[side];
			break;
		}
	}
	return p;
}

/* ---- what a side shows ---- */

/*
 * The events of request k of one side, [*start, *end). k = SIZE_MAX is the set-up: the
 * events before the first request (the whole trace if it has none).
 */
static void side_range(const struct model *m, size_t k, uint64_t *start, uint64_t *end)
{
	const struct requests *rq = &m->requests;
	*start = *end = 0;
	if (k == SIZE_MAX) {
		*end = rq->n ? rq->v[0].start : m->count;
	} else if (k < rq->n) {
		*start = rq->v[k].start;
		*end = rq->v[k].end;
	}
	if (*end > m->count)
		*end = m->count;
	if (*start > *end)
		*start = *end;
}

/* The events of one side at the current step; a side with no request there has none. */
static void step_range(const struct app *a, int side, uint64_t *start, uint64_t *end)
{
	struct side_pos p = side_at(a, a->compare.req, side);
	side_range(a->m[side], p.none ? NO_REQ : p.req, start, end);
}

/* Where a side's current event goes at this step: its request's first event. A side with no
 * request here goes to the first event after its last one, where the missing one would be. */
static uint64_t step_cursor(const struct app *a, int side)
{
	const struct model *m = a->m[side];
	struct side_pos p = side_at(a, a->compare.req, side);
	uint64_t start, end;
	side_range(m, p.req, &start, &end);
	if (!p.none)
		return start;
	return end < m->count ? end : (m->count ? m->count - 1 : 0);
}

/* The step that holds request k of one side (SIZE_MAX, the set-up, for SIZE_MAX). */
static size_t step_of(const struct app *a, int side, size_t k)
{
	for (size_t i = 0; k != SIZE_MAX && i < a->compare.nsteps; i++)
		if (a->compare.steps[i].req[side] == k)
			return i;
	return SIZE_MAX;
}

/* exits = all exits that reached hv; dev = of those, device exits (to the disk controller:
 * requests_is_device_exit); exits - dev = other exits (console, timer, HLT). */
struct totals {
	uint64_t exits, dev, ns;
};

/* Request k alone (or the set-up for SIZE_MAX). */
static void side_this(const struct model *m, size_t k, struct totals *t)
{
	const struct requests *rq = &m->requests;
	memset(t, 0, sizeof *t);
	if (k == SIZE_MAX) {
		t->exits = rq->setup_exits;
		t->dev = rq->setup_dev_exits;
		/* the set-up lasts from the first record to the first request's first record */
		uint64_t start, end;
		side_range(m, k, &start, &end);
		if (end > 0) {
			struct hvt_record first, last;
			model_get(m, 0, &first);
			model_get(m, end < m->count ? end : end - 1, &last);
			t->ns = last.time_ns > first.time_ns ? last.time_ns - first.time_ns : 0;
		}
	} else if (k < rq->n) {
		t->exits = rq->v[k].exits;
		t->dev = rq->v[k].dev_exits;
		t->ns = rq->v[k].ns;
	}
}

/*
 * The set-up and requests 0..k together: the running totals ("so far"). The set-up is in
 * them, so at the last request "so far" is the whole run, the same numbers as the Stats view,
 * `hv trace stats` and the textbook (chapter 4 "The run", chapter 6 "Compare").
 */
static void side_so_far(const struct model *m, size_t k, struct totals *t)
{
	const struct requests *rq = &m->requests;
	side_this(m, SIZE_MAX, t);
	if (k == SIZE_MAX)
		return;
	for (size_t i = 0; i <= k && i < rq->n; i++) {
		t->exits += rq->v[i].exits;
		t->dev += rq->v[i].dev_exits;
		t->ns += rq->v[i].ns;
	}
}

/*
 * One record, as `hv trace dump` prints it, with what does not fit a half screen left out:
 * the time and vCPU (every record here is one request's), the mode and CPL, the RIP, the
 * flags, and fields that are zero or one by default. "790 exit mmio addr=0xd0001050 size=4
 * write data=0x0" is what the student needs to recognise the doorbell. A descriptor's `next`
 * stays only when its NEXT flag is set: at the end of a chain the field means nothing, and
 * with the flags left out nothing else would say so (the Virtqueue view shows `-` there).
 */
static void event_line(char *out, size_t len, const struct hvt_record *r)
{
	static const char *const drop_prefix[] = { "cpl", "rip=", "flags=", "handled_us=", "vcpu",
						   "size=" };
	static const char *const drop_word[] = { "none", "-", "count=1", "size=0", "addr=0x0",
						 "data=0x0" };
	char line[LINE_MAX];
	size_t o = 0;
	int word = 0;
	/* VIRTQ_DESC_F_NEXT is bit 0 of the flags in arg (hv/trace_dump.c) */
	int chain_ends = r->kind == HVT_VQ && r->reason == HVT_VQ_DESC && !(r->arg & 1);

	trace_format_record(line, sizeof line, r);
	out[0] = '\0';
	for (char *save = NULL, *t = strtok_r(line, " ", &save); t;
	     t = strtok_r(NULL, " ", &save), word++) {
		int keep = word != 1; /* word 1 is the time */
		for (size_t i = 0; keep && i < sizeof drop_prefix / sizeof drop_prefix[0]; i++)
			keep = strncmp(t, drop_prefix[i], strlen(drop_prefix[i])) != 0;
		for (size_t i = 0; keep && i < sizeof drop_word / sizeof drop_word[0]; i++)
			keep = strcmp(t, drop_word[i]) != 0;
		for (unsigned m = 1; keep && m <= HVT_MODE_MAX; m++)
			keep = strcmp(t, hvt_mode_name(m)) != 0;
		if (keep && chain_ends)
			keep = strncmp(t, "next=", 5) != 0;
		if (!keep)
			continue;
		int n = snprintf(out + o, len - o, "%s%s", o ? " " : "", t);
		if (n < 0 || (size_t)n >= len - o)
			break;
		o += (size_t)n;
	}
}

/* ---- drawing ---- */

struct layout {
	int rows, cols;
	int x[2], width[2]; /* the two columns */
	int list_rows;      /* events shown per request */
	int ratio_y;        /* first row of the ratio block */
};

static void compare_layout(WINDOW *w, struct layout *l)
{
	getmaxyx(w, l->rows, l->cols);
	l->width[0] = (l->cols - 1) / 2;
	l->x[0] = 0;
	l->x[1] = l->width[0] + 1; /* one column for the '|' between them */
	l->width[1] = l->cols - l->x[1];
	l->list_rows = l->rows - TOP_ROWS - BOTTOM_ROWS;
	if (l->list_rows < 1)
		l->list_rows = 1;
	l->ratio_y = TOP_ROWS + l->list_rows;
}

/* The list height for paging, from the body's height alone (act() has no window). */
static int compare_list_rows(int rows)
{
	int n = rows - TOP_ROWS - BOTTOM_ROWS;
	return n < 1 ? 1 : n;
}

/* One column: the file, the current request, its totals, and its first events. */
static void draw_side(struct app *a, WINDOW *w, const struct layout *l, int side)
{
	const struct model *m = a->m[side];
	const struct requests *rq = &m->requests;
	const int x = l->x[side], wd = l->width[side];
	const struct side_pos pos = side_at(a, a->compare.req, side);
	const size_t k = pos.req;
	char c1[32], c2[32], c3[32], t[32];
	struct totals th, sf;

	ui_text(w, 0, x, wd, 1, ui_attr(a, UI_HEADER), "%s: %s", base_name(m->path),
		path_long(m));
	fmt_count(c1, sizeof c1, rq->setup_dev_exits);
	fmt_count(c2, sizeof c2, rq->setup_exits - rq->setup_dev_exits);
	ui_text(w, 1, x, wd, 1, A_NORMAL, "set-up: %s device + %s other exits", c1, c2);

	if (rq->n == 0) {
		ui_text(w, 2, x, wd, 1, ui_attr(a, UI_ERROR), "no disk requests in this trace");
		ui_text(w, 3, x, wd, 1, A_NORMAL, "(is it a run of build/guest/diskio.bin?)");
	} else if (pos.none) {
		/* the other side's request has no partner: say where this side is instead */
		ui_text(w, 2, x, wd, 1, ui_attr(a, UI_DIM), "  no request like it here (%zu/%zu done)",
			k == SIZE_MAX ? 0 : k + 1, rq->n);
	} else if (k == SIZE_MAX) {
		ui_text(w, 2, x, wd, 1, ui_attr(a, UI_CURRENT), "> set-up, before request 1");
	} else if (k < rq->n) {
		const struct request *q = &rq->v[k];
		/* a request with no partner says so, in its controller's own words */
		const struct side_pos other = side_at(a, a->compare.req, !side);
		char what[64];
		if (other.none)
			snprintf(what, sizeof what, " %s only: %s",
				 q->path == HVT_DISK_ATA ? "legacy" : "virtio", req_cmd_name(q));
		else
			snprintf(what, sizeof what, ": %s%s", req_type_name(q->type),
				 q->sectors ? " sector" : "");
		if (q->sectors)
			ui_text(w, 2, x, wd, 1, ui_attr(a, UI_CURRENT),
				"> request %zu/%zu%s %" PRIu64 " +%" PRIu32, k + 1, rq->n, what,
				q->sector, q->sectors);
		else
			ui_text(w, 2, x, wd, 1, ui_attr(a, UI_CURRENT), "> request %zu/%zu%s",
				k + 1, rq->n, what);
	} else {
		ui_text(w, 2, x, wd, 1, ui_attr(a, UI_DIM), "  request %zu: none (%zu here)", k + 1,
			rq->n);
	}

	/* The time; the exits are in the table below the lists, both sides on one row. */
	side_this(m, pos.none ? NO_REQ : k, &th);
	side_so_far(m, k, &sf);
	ui_time(t, sizeof t, th.ns);
	ui_time(c3, sizeof c3, sf.ns);
	/* In the set-up, "so far" is the set-up itself: one time, so the unit fits at 80 columns. */
	if (k == SIZE_MAX && !pos.none)
		ui_text(w, 3, x, wd, 1, A_NORMAL, "time: set-up %s", t);
	else
		ui_text(w, 3, x, wd, 1, A_NORMAL, "time: this %s, so far %s", t, c3);

	/* The request's first events, from the scroll position on. */
	uint64_t start, end;
	side_range(m, pos.none ? NO_REQ : k, &start, &end);
	/* The scroll is shared; a side with fewer events than it shows its last page. */
	uint64_t n = end - start, from = (uint64_t)a->compare.scroll;
	if (from + (uint64_t)l->list_rows > n)
		from = n > (uint64_t)l->list_rows ? n - (uint64_t)l->list_rows : 0;
	fmt_count(c1, sizeof c1, n);
	if (n == 0) {
		ui_text(w, TOP_ROWS - 1, x, wd, 1, ui_attr(a, UI_DIM), "no events");
		return;
	}
	uint64_t last = from + (uint64_t)l->list_rows;
	if (last > n)
		last = n;
	ui_text(w, TOP_ROWS - 1, x, wd, 1, ui_attr(a, UI_DIM), "events %" PRIu64 "-%" PRIu64 " of %s:",
		from + 1, last, c1);
	/* '>' marks the side's current event: the one the other views show (1, 2, 3, 5). */
	for (uint64_t i = from; i < last; i++) {
		struct hvt_record r;
		char line[LINE_MAX];
		int cur = start + i == a->cur[side];
		model_get(m, start + i, &r);
		event_line(line, sizeof line, &r);
		/* > and < shift what follows the sequence number, which stays (d: the whole record) */
		char *rest = strchr(line, ' ');
		size_t skip = (size_t)a->hshift;
		if (rest && skip) {
			*rest++ = '\0';
			rest += skip < strlen(rest) ? skip : strlen(rest);
		}
		ui_text(w, TOP_ROWS + (int)(i - from), x, wd, 1, ui_attr(a, cur ? UI_CURRENT : UI_NORMAL),
			"%c%s%s%s", cur ? '>' : ' ', line, rest && skip ? " <" : "",
			rest && skip ? rest : "");
	}
}

/* One row of the table: a label, the two sides' counts, and the ratio of left to right. */
static void table_row(WINDOW *w, const struct layout *l, int y, const char *label, uint64_t left,
		      uint64_t right)
{
	char c0[32], c1[32], r[32];
	fmt_count(c0, sizeof c0, left);
	fmt_count(c1, sizeof c1, right);
	ui_ratio(r, sizeof r, left, right);
	ui_text(w, y, 0, l->cols, 1, A_NORMAL, "%-*s %9s %9s  %s", TABLE_LABEL, label, c0, c1, r);
}

/*
 * The table under the lists names every count (textbook chapter 6, "Compare"):
 *   device exits     reached hv at the disk controller, the cost of the I/O path itself
 *   other exits      reached hv anywhere else (console, timer, HLT): paid on both paths
 *   in-kernel exits  never reached hv: KVM handled them itself, and only its own counter,
 *                    read at the end of the run, knows how many; so whole run only
 * for this request (or the set-up) and so far (the set-up and the requests up to this one).
 * Then bars of the device exits so far: the difference chapter 4 is about, seen at a glance.
 */
static void draw_table(struct app *a, WINDOW *w, const struct layout *l, int y, size_t k)
{
	const char *n0 = side_label(a, 0), *n1 = side_label(a, 1);
	struct totals t0, t1, s0, s1;
	char head[64], r0[16], r1[16];
	const struct side_pos p0 = side_at(a, k, 0), p1 = side_at(a, k, 1);
	side_this(a->m[0], p0.none ? NO_REQ : p0.req, &t0);
	side_this(a->m[1], p1.none ? NO_REQ : p1.req, &t1);
	side_so_far(a->m[0], p0.req, &s0);
	side_so_far(a->m[1], p1.req, &s1);
	if (k == SIZE_MAX)
		snprintf(head, sizeof head, "so far = the set-up");
	else if (p0.none || p1.none || p0.req != k || p1.req != k)
		snprintf(head, sizeof head, "so far = set-up + up to here");
	else
		snprintf(head, sizeof head, k ? "so far = set-up + requests 1-%zu" :
			 "so far = set-up + request %zu", k + 1);
	snprintf(r0, sizeof r0, "%.9s", n0);
	snprintf(r1, sizeof r1, "%.9s", n1);
	ui_text(w, y, 0, l->cols, 1, ui_attr(a, UI_HEADER), "%-*s %9s %9s  %.9s/%.9s", TABLE_LABEL,
		head, r0, r1, r0, r1);
	const char *first = k == SIZE_MAX ? "set-up" : "this request";
	char lab[64];
	snprintf(lab, sizeof lab, "%-12s  device exits", first);
	table_row(w, l, y + 1, lab, t0.dev, t1.dev);
	table_row(w, l, y + 2, "              other exits", t0.exits - t0.dev, t1.exits - t1.dev);
	table_row(w, l, y + 3, "so far        device exits", s0.dev, s1.dev);
	table_row(w, l, y + 4, "              other exits", s0.exits - s0.dev, s1.exits - s1.dev);
	uint64_t k0, k1;
	if (model_kernel_exits(a->m[0], &k0) == 0 && model_kernel_exits(a->m[1], &k1) == 0)
		table_row(w, l, y + 5, "whole run     in-kernel exits", k0, k1);
	else
		ui_text(w, y + 5, 0, l->cols, 1, ui_attr(a, UI_DIM), "%-*s  (KVM's counter is not "
			"in both traces)", TABLE_LABEL, "whole run     in-kernel exits");

	/* label (16) and number (12), then the bar; both bars share one scale */
	char c0[32], c1[32], b0[32], b1[32];
	uint64_t max = s0.dev > s1.dev ? s0.dev : s1.dev;
	int bx = 2 + 16 + 12 + 1, bw = l->cols - bx;
	fmt_count(c0, sizeof c0, s0.dev);
	fmt_count(c1, sizeof c1, s1.dev);
	snprintf(b0, sizeof b0, "%.9s device", n0);
	snprintf(b1, sizeof b1, "%.9s device", n1);
	ui_text(w, y + 6, 2, 28, 1, A_NORMAL, "%-16.16s %11s", b0, c0);
	ui_bar(a, w, y + 6, bx, bw, s0.dev, max, UI_BAR_A);
	ui_text(w, y + 7, 2, 28, 1, A_NORMAL, "%-16.16s %11s", b1, c1);
	ui_bar(a, w, y + 7, bx, bw, s1.dev, max, UI_BAR_B);
}

static void draw_needs_two(struct app *a, WINDOW *w)
{
	static const char record[] =
		"(record them with hv run --disk-path legacy|virtio --trace FILE build/guest/diskio.bin)";
	int rows, cols, y = 1;
	getmaxyx(w, rows, cols);
	(void)rows;
	ui_text(w, y++, 2, cols - 2, 0, ui_attr(a, UI_ERROR),
		"Compare needs two traces: hvviz --compare legacy.hvt virtio.hvt");
	if (cols - 2 >= (int)sizeof record - 1) {
		ui_text(w, y++, 2, cols - 2, 0, A_NORMAL, "%s", record);
	} else {
		/* at 80 columns the command goes on its own line rather than being clipped */
		ui_text(w, y++, 2, cols - 2, 0, A_NORMAL, "(record them with");
		ui_text(w, y++, 4, cols - 4, 0, A_NORMAL,
			"hv run --disk-path legacy|virtio --trace FILE build/guest/diskio.bin)");
	}
	ui_text(w, y + 1, 2, cols - 2, 0, ui_attr(a, UI_DIM),
		"Both make the same 34 requests; this view steps through them side by side.");
}

/*
 * The request that holds event seq of one side: the last one starting at or before it
 * (requests are in order and follow each other, requests.h), or SIZE_MAX for the set-up.
 * A binary search: a trace may hold many requests, and this runs at every draw.
 */
static size_t request_of(const struct model *m, uint64_t seq)
{
	const struct requests *rq = &m->requests;
	if (rq->n == 0 || seq < rq->v[0].start)
		return SIZE_MAX;
	size_t lo = 0, hi = rq->n; /* v[lo].start <= seq; the answer is below hi */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (rq->v[mid].start <= seq)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void compare_sync(struct app *a);

/*
 * The current event can move without this view: a search (n, N), g, a breakpoint (c), or a
 * step in another view. Then the view moves to the request that holds it, on both sides, and
 * scrolls its list to it, so what the bottom line says ("event 5120") and what this view
 * shows always agree. A scroll by hand does not move the event, so it is left alone.
 */
static void compare_follow(struct app *a, int list_rows)
{
	int s = a->shown;
	const struct model *m = a->m[s];
	uint64_t cur = a->cur[s], start, end;
	if (cur == a->compare.seen)
		return;
	a->compare.seen = cur;
	step_range(a, s, &start, &end);
	/* a side with no request at this step stays there while its event is where the step put it */
	int here = (cur >= start && cur < end) ||
		   (side_at(a, a->compare.req, s).none && cur == step_cursor(a, s));
	if (!here) {
		/* A request only this side has is fine: the other side says so (draw_side). */
		a->compare.req = step_of(a, s, request_of(m, cur));
		compare_sync(a);
		a->cur[s] = cur; /* compare_sync put it at the start; the found event is the one */
		step_range(a, s, &start, &end);
	}
	if (cur < start)
		return; /* a live trace not grown that far: nothing to scroll to */
	/* Off screen: put it at the top, or lower near the end so the list stays full. */
	uint64_t off = cur - start, len = end - start, rows = (uint64_t)list_rows;
	if (off < (uint64_t)a->compare.scroll || off >= (uint64_t)a->compare.scroll + rows) {
		uint64_t top = len > rows && off > len - rows ? len - rows : off;
		if (len <= rows)
			top = 0;
		a->compare.scroll = top > INT32_MAX ? INT32_MAX : (int)top;
	}
}

static void compare_draw(struct app *a, WINDOW *w)
{
	struct layout l;

	if (a->nmodels != 2 || !a->m[0] || !a->m[1]) {
		draw_needs_two(a, w);
		return;
	}
	compare_layout(w, &l);
	compare_align(a);
	compare_follow(a, l.list_rows);
	draw_side(a, w, &l, 0);
	draw_side(a, w, &l, 1);
	for (int y = 0; y < l.ratio_y; y++)
		ui_text(w, y, l.width[0], 1, 0, ui_attr(a, UI_DIM), "|");

	/* The table of exits: the current request (or the set-up), then the running totals. */
	const size_t k = a->compare.req;
	char sep[LINE_MAX];
	int n = l.cols < (int)sizeof sep - 1 ? l.cols : (int)sizeof sep - 1;
	memset(sep, '-', (size_t)n);
	sep[n] = '\0';
	ui_text(w, l.ratio_y, 0, l.cols, 0, ui_attr(a, UI_DIM), "%s", sep);
	draw_table(a, w, &l, l.ratio_y + 1, k);
}

/* ---- actions ---- */

/* The other views follow: each side's current event is its request's first event. */
static void compare_sync(struct app *a)
{
	for (int i = 0; i < 2; i++)
		a->cur[i] = step_cursor(a, i);
	a->compare.scroll = 0;
	a->compare.seen = a->cur[a->shown];
}

/* The longer of the two current event lists, for the scroll limit. */
static uint64_t compare_list_len(const struct app *a)
{
	uint64_t best = 0;
	for (int i = 0; i < 2; i++) {
		uint64_t start, end;
		step_range(a, i, &start, &end);
		if (end - start > best)
			best = end - start;
	}
	return best;
}

/* Scroll both lists; the last stop is the longer list's last full page (list_rows rows), so
 * Down at the end does not pile up presses that Up must undo first. */
static void compare_scroll(struct app *a, int64_t by, int list_rows)
{
	uint64_t len = compare_list_len(a);
	int64_t s = (int64_t)a->compare.scroll + by;
	int64_t max = len > (uint64_t)list_rows ? (int64_t)(len - (uint64_t)list_rows) : 0;
	if (max > INT32_MAX)
		max = INT32_MAX;
	if (s > max)
		s = max;
	if (s < 0)
		s = 0;
	a->compare.scroll = (int)s;
}

/* The next step: the next request of both sides, or of one; at the end, say why it stops. */
static void compare_next(struct app *a)
{
	size_t steps = compare_steps(a);
	const struct model *l = a->m[0], *r = a->m[1];

	if (steps == 0) {
		app_message(a, "nothing to step through: %s has no disk requests",
			    base_name((l->requests.n == 0 ? l : r)->path));
		return;
	}
	if (a->compare.req == SIZE_MAX) {
		a->compare.req = 0;
	} else if (a->compare.req + 1 < steps) {
		a->compare.req++;
	} else if (l->requests.n != steps || r->requests.n != steps) {
		app_message(a, "this is the last step (%zu): %.20s has %zu requests, %.20s %zu",
			    steps, side_label(a, 0), l->requests.n, side_label(a, 1), r->requests.n);
		return;
	} else {
		app_message(a, "this is the last request (%zu)", steps);
		return;
	}
	compare_sync(a);
}

static void compare_prev(struct app *a)
{
	if (a->compare.req == SIZE_MAX) {
		app_message(a, "this is the set-up, before the first request");
		return;
	}
	a->compare.req = a->compare.req == 0 ? SIZE_MAX : a->compare.req - 1;
	compare_sync(a);
}

static int compare_act(struct app *a, enum action act, int rows)
{
	if (a->nmodels != 2 || !a->m[0] || !a->m[1]) {
		/* With one trace this view shows no event: moving would change the current event
		 * of the other views unseen. Say why nothing moves instead. */
		switch (act) {
		case A_NEXT: case A_PREV: case A_UP: case A_DOWN: case A_PAGE_UP: case A_PAGE_DOWN:
		case A_HOME: case A_END:
			app_message(a, "Compare needs two traces; 1 (Path) or 2 (Timeline) steps "
				       "through this one");
			return 1;
		default:
			return 0;
		}
	}
	size_t steps = compare_steps(a);
	int page = compare_list_rows(rows);

	switch (act) {
	case A_NEXT: compare_next(a); return 1;
	case A_PREV: compare_prev(a); return 1;
	case A_HOME:
	case A_END:
		if (steps == 0) {
			app_message(a, "no requests to go to");
			return 1;
		}
		a->compare.req = act == A_HOME ? 0 : steps - 1;
		compare_sync(a);
		return 1;
	case A_UP: compare_scroll(a, -1, page); return 1;
	case A_DOWN: compare_scroll(a, 1, page); return 1;
	case A_PAGE_UP: compare_scroll(a, -page, page); return 1;
	case A_PAGE_DOWN: compare_scroll(a, page, page); return 1;
	default: return 0;
	}
}

const struct view_ops view_compare = {
	.name = "Compare",
	.id = VIEW_COMPARE,
	.draw = compare_draw,
	.act = compare_act,
};
