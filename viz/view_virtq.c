/*
 * view_virtq.c - the Virtqueue view: the three tables of a split virtqueue at the current event.
 *
 * Concept: para-virtual I/O is a data structure shared by two CPUs. The driver fills the
 * descriptor table (one buffer per entry), offers chains of descriptors in the avail ring and
 * rings a doorbell; the device walks them, does the work and reports each finished chain in
 * the used ring. This view shows those three tables *as the device has seen them* at the
 * current event, rebuilt from the trace (viz/vqstate.c), so a student stepping through a
 * trace watches the device read avail.idx, take a head, follow a chain of descriptors, and
 * publish the result. Each step has one line saying what it means.
 * Textbook: chapter 4 "Two I/O paths", section "One request, step by step"; chapter 6
 * "Watching it happen", section "Virtqueue"; virtio 1.1, section 2.6 "Split Virtqueues".
 *
 * Screen (the body window):
 *   0      > the current event, as `hv trace dump` prints it
 *   1-2    what this step means
 *   3-4    the queue: size, addresses, the device's positions, counters so far
 *   5      legend of the marks
 *   6      column names, then one row per index: desc[i] | avail.ring[i] | used.ring[i]
 *   last   which rows are shown, and whether the view follows the device
 * Marks never rely on colour: '*' an entry the current event touched, '?' an entry the
 * device has not read yet, '<' the slot the device uses next.
 *
 * Scrolling: the three tables scroll together (row i is index i in all three). The view
 * "follows" the device (a->virtq.follow = 1): if the current event touches a row that is off
 * screen, it scrolls there. Once the user scrolls by hand (follow = 0) the view stops
 * following until the next action that is not a scroll (stepping, jumping, searching), so a
 * scroll is never undone under the user's fingers. The last row says which mode is on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sixstep.h"
#include "viz.h"
#include "vqstate.h"
#include "trace_dump.h"

/* vqstate.h's "no record has set this entry": the device has not read it, so neither have we.
 * Showing a zero instead would teach something false (that descriptor 5 has length 0). */
#define VQ_UNSEEN UINT64_MAX

/* Rows above the table: dump line, two teaching lines, two queue lines, legend, columns. */
#define TABLE_TOP 7
/* Rows below it: the position line ("rows 26-39 of 64, following the device"). */
#define TABLE_BOTTOM 1

/* Table rows that fit in a body of `rows` (act() knows only the height; draw uses the same). */
static int table_rows(int rows)
{
	int n = rows - TABLE_TOP - TABLE_BOTTOM;
	return n > 1 ? n : 1;
}

/* ---- words for values ----------------------------------------------------------------------- */

/*
 * Descriptor flags as words: "NEXT|WRITE", "-" for none, unknown bits in hex. The bits are
 * virtio 1.1, section 2.6.5: NEXT (1) the chain continues at `next`; WRITE (2) the buffer is
 * device-writable (the device puts data there, e.g. a disk read or the status byte), without
 * it the device only reads it; INDIRECT (4) hv does not offer, so a driver using it is
 * refused (appendix C, Q9) and the view shows the word so a student sees why.
 */
static void flags_words(uint16_t f, char *buf, size_t len)
{
	static const struct { uint16_t bit; const char *name; } names[] = {
		{ VIRTQ_DESC_F_NEXT, "NEXT" },
		{ VIRTQ_DESC_F_WRITE, "WRITE" },
		{ VIRTQ_DESC_F_INDIRECT, "INDIRECT" },
	};
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof names / sizeof names[0] && off < len; i++)
		if (f & names[i].bit) {
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "|" : "",
						names[i].name);
			f &= (uint16_t)~names[i].bit;
		}
	if (f && off < len)
		off += (size_t)snprintf(buf + off, len - off, "%s0x%x", off ? "|" : "", f);
	if (off == 0)
		snprintf(buf, len, "-");
}

/* The teaching line for the current event, whatever its kind: most events of a trace are not
 * virtqueue steps (exits, KVM_RUN calls), and the tables simply stay as they were. */
static void explain(char *buf, size_t len, const struct hvt_record *r, unsigned queue)
{
	if (r->kind != HVT_VQ)
		snprintf(buf, len, "event %" PRIu64 " is not a virtqueue step: the tables are as the "
			 "device had seen them by then", r->seq);
	else if (r->size != queue)
		snprintf(buf, len, "this step is for queue %u, not queue %u (] and [ change the queue)",
			 r->size, queue);
	else {
		/* The same sentence the Path view shows for this step (viz/sixstep.c): one
		 * explanation per event, whichever view it is read in. */
		struct path_step ps;
		sixstep_classify(r, &ps);
		snprintf(buf, len, "%s", ps.explain);
	}
}

/* Text over up to two rows, split at the last space that fits (never wrapped by curses). */
static void draw_two_lines(WINDOW *w, int y, int cols, attr_t at, const char *text)
{
	size_t n = strlen(text);
	if ((int)n <= cols || cols < 2) {
		ui_text(w, y, 0, cols, 1, at, "%s", text);
		ui_text(w, y + 1, 0, cols, 1, at, "%s", "");
		return;
	}
	int cut = cols;
	while (cut > 0 && text[cut] != ' ')
		cut--;
	if (cut == 0)
		cut = cols;
	ui_text(w, y, 0, cols, 1, at, "%.*s", cut, text);
	ui_text(w, y + 1, 0, cols, 1, at, "  %s", text + cut + (text[cut] == ' '));
}

/* ---- the queue header ----------------------------------------------------------------------- */

/* Which header fields the current record set, so they carry a '*' like table entries: the
 * device's own positions are as much a part of the protocol as the tables are. */
struct touched_fields {
	int ready, avail_idx, last_avail, used_idx, requests, notifies, interrupts;
};

static struct touched_fields touched_of(const struct hvt_record *r, unsigned queue)
{
	struct touched_fields t = { 0 };
	if (r->kind != HVT_VQ || r->size != queue)
		return t;
	t.ready = r->reason == HVT_VQ_READY || r->reason == HVT_VQ_RESET;
	t.avail_idx = r->reason == HVT_VQ_AVAIL_IDX;
	t.last_avail = r->reason == HVT_VQ_AVAIL_IDX || r->reason == HVT_VQ_AVAIL_ENTRY;
	t.used_idx = r->reason == HVT_VQ_USED_IDX;
	t.requests = r->reason == HVT_VQ_REQUEST;
	t.notifies = r->reason == HVT_VQ_NOTIFY;
	t.interrupts = r->reason == HVT_VQ_IRQ_RAISE;
	return t;
}

/*
 * Two lines: what the driver told the device at QueueReady (size and the three guest-physical
 * addresses), then the positions. avail.idx is the driver's counter as the device last read
 * it, last_avail the device's own (how many chains it has taken), used.idx the device's
 * counter of finished chains. In a quiet queue all three are equal.
 */
static void draw_header(const struct app *a, WINDOW *w, int y, int cols, const struct vq_state *s,
			const struct touched_fields *t)
{
	attr_t at = ui_attr(a, UI_HEADER);
	if (s->ready)
		ui_text(w, y, 0, cols, 1, at, "queue %u of %u  size %" PRIu32 "  ready%s  desc 0x%" PRIx64
			"  avail 0x%" PRIx64 "  used 0x%" PRIx64, a->virtq.queue, VQ_MAX_QUEUES, s->size,
			t->ready ? "*" : "", s->desc_gpa, s->avail_gpa, s->used_gpa);
	else
		ui_text(w, y, 0, cols, 1, at, "queue %u of %u  not ready%s", a->virtq.queue,
			VQ_MAX_QUEUES, t->ready ? "*" : "");
	/* last_avail moves with each AVAIL_ENTRY (the device took one more), so it is touched
	 * by both avail records; avail.idx only by AVAIL_IDX. "requests read" counts REQUEST
	 * records: headers the device has read, not requests it has finished (that is used.idx). */
	ui_text(w, y + 1, 0, cols, 1, ui_attr(a, UI_NORMAL),
		"avail.idx %u%s last_avail %u%s used.idx %u%s  requests read %" PRIu64 "%s, notifies %"
		PRIu64 "%s, interrupts %" PRIu64 "%s",
		s->avail_idx, t->avail_idx ? "*" : "", s->last_avail, t->last_avail ? "*" : "",
		s->used_idx, t->used_idx ? "*" : "", s->requests, t->requests ? "*" : "",
		s->notifies, t->notifies ? "*" : "", s->interrupts, t->interrupts ? "*" : "");
}

/* ---- the tables ----------------------------------------------------------------------------- */

/* Column positions and widths: wide from 100 columns (full 64-bit addresses), else compact. */
struct layout {
	int wide;
	int xd, wd, xa, wa, xu, wu;
};

static struct layout layout_for(int cols)
{
	struct layout l = { .wide = cols >= 100 };
	/* mark + index(4) + addr + len + flags(10) + next(4), one space between columns */
	l.wd = l.wide ? 1 + 4 + 1 + 18 + 1 + 10 + 1 + 10 + 1 + 4 : 1 + 4 + 1 + 12 + 1 + 6 + 1 + 10 + 1 + 4;
	l.wa = 1 + 5 + 1 + 5 + 2;                     /* mark, slot, head, " <" */
	l.wu = l.wide ? 1 + 4 + 1 + 5 + 1 + 10 + 2 : 1 + 4 + 1 + 5 + 1 + 6 + 2; /* mark, slot, id, len */
	int gap = l.wide ? 3 : 2;
	l.xd = 0;
	l.xa = l.xd + l.wd + gap;
	l.xu = l.xa + l.wa + gap;
	return l;
}

/* Column names, printed with the same widths as the rows below them so they line up. The
 * first column of each table is its index: desc i, avail.ring[i], used.ring[i]. */
static void draw_columns(const struct app *a, WINDOW *w, int y, const struct layout *l)
{
	attr_t at = ui_attr(a, UI_HEADER);
	int aw = l->wide ? 18 : 12, lw = l->wide ? 10 : 6;
	ui_text(w, y, l->xd, l->wd, 1, at, " %4s %-*s %*s %-10s %4s", "desc", aw, "addr", lw, "len",
		"flags", "next");
	ui_text(w, y, l->xa, l->wa, 1, at, " %5s %5s", "avail", "head");
	ui_text(w, y, l->xu, l->wu, 1, at, " %4s %5s %*s", "used", "id", lw, "len");
}

/* The attribute and the mark of an entry: touched now, never seen, or plain. */
static attr_t entry_look(const struct app *a, uint64_t seq, uint64_t cur, char *mark)
{
	*mark = seq == cur ? '*' : ' ';
	if (seq == cur)
		return ui_attr(a, UI_TOUCHED);
	return ui_attr(a, seq == VQ_UNSEEN ? UI_DIM : UI_NORMAL);
}

/* desc[i]: the buffer's guest-physical address, its length, flags and next (virtq.h). */
static void draw_desc(const struct app *a, WINDOW *w, int y, const struct layout *l,
		      const struct vq_desc_view *d, unsigned i, uint64_t cur)
{
	char mark;
	attr_t at = entry_look(a, d->seq, cur, &mark);
	int aw = l->wide ? 18 : 12, lw = l->wide ? 10 : 6;
	if (d->seq == VQ_UNSEEN) {
		ui_text(w, y, l->xd, l->wd, 1, at, "%c%4u %-*s %*s %-10s %4s", mark, i, aw, "?", lw, "?",
			"?", "?");
		return;
	}
	char addr[24], flags[32];
	snprintf(addr, sizeof addr, "0x%" PRIx64, d->addr);
	flags_words(d->flags, flags, sizeof flags);
	/* `next` means something only with NEXT set (virtio 1.1, 2.7.5): the last descriptor of a
	 * chain keeps whatever the driver left there, so it shows as '-'. */
	char next[8] = "-";
	if (d->flags & 1)
		snprintf(next, sizeof next, "%u", d->next);
	ui_text(w, y, l->xd, l->wd, 1, at, "%c%4u %-*s %*" PRIu32 " %-10s %4s", mark, i, aw, addr, lw,
		d->len, flags, next);
}

/*
 * One ring slot. avail.ring[i] holds a head (the first descriptor of a chain the driver
 * offers); used.ring[i] holds {id, len}: the head of a finished chain and how many bytes the
 * device wrote into it. '<' marks the slot the device will use next (last_avail % N in the
 * avail ring, used.idx % N in the used ring): the rings are circular, so it wraps to 0.
 */
static void draw_slot(const struct app *a, WINDOW *w, int y, int x, int width, int lw,
		      const struct vq_slot_view *v, unsigned i, int is_next, int with_len, uint64_t cur)
{
	char mark;
	attr_t at = entry_look(a, v->seq, cur, &mark);
	char value[16], len[16];
	if (v->seq == VQ_UNSEEN) {
		snprintf(value, sizeof value, "?");
		snprintf(len, sizeof len, "?");
	} else {
		snprintf(value, sizeof value, "%" PRIu32, v->value);
		snprintf(len, sizeof len, "%" PRIu32, v->len);
	}
	if (with_len)
		ui_text(w, y, x, width, 1, at, "%c%4u %5s %*s %c", mark, i, value, lw, len,
			is_next ? '<' : ' ');
	else
		ui_text(w, y, x, width, 1, at, "%c%5u %5s %c", mark, i, value, is_next ? '<' : ' ');
}

/* The first row to show: the user's, or (following) moved just enough to show a touched row. */
static int table_top(struct app *a, const struct vq_state *s, uint64_t cur, int visible)
{
	int size = (int)s->size, top = a->virtq.scroll;
	if (a->virtq.follow) {
		int touched = -1;
		for (int i = 0; i < size && touched < 0; i++)
			if (s->desc[i].seq == cur || s->avail[i].seq == cur || s->used[i].seq == cur)
				touched = i;
		if (touched >= 0 && touched < top)
			top = touched;
		else if (touched >= 0 && touched >= top + visible)
			top = touched - visible + 1;
	}
	int max = size > visible ? size - visible : 0;
	if (top > max)
		top = max;
	if (top < 0)
		top = 0;
	a->virtq.scroll = top;
	return top;
}

/* Where the table is: which rows, and who moves it (the device's steps, or the user). */
static void draw_position(const struct app *a, WINDOW *w, int y, int cols, int top, int shown,
			  uint32_t size)
{
	ui_text(w, y, 0, cols, 1, ui_attr(a, UI_DIM), "-- rows %d-%d of %" PRIu32 ", %s --", top,
		top + shown - 1, size, a->virtq.follow ? "following the device (Up/Down scroll)"
						       : "scrolled by hand (a step follows again)");
}

/* The three tables side by side, row i = index i of each; only the rows that fit. */
static void draw_tables(struct app *a, WINDOW *w, int y, int rows, int cols,
			const struct vq_state *s, uint64_t cur)
{
	struct layout l = layout_for(cols);
	draw_columns(a, w, y, &l);
	/* vqstate never marks a queue ready with a size of 0 or above VIRTQ_NUM_MAX (a hostile
	 * READY record is ignored), so the modulo and the indices below are safe; check anyway,
	 * the arrays are VIRTQ_NUM_MAX long. */
	if (s->size == 0 || s->size > VIRTQ_NUM_MAX)
		return;
	int visible = table_rows(rows);
	int top = table_top(a, s, cur, visible);
	unsigned next_avail = s->last_avail % s->size, next_used = s->used_idx % s->size;
	int lw = l.wide ? 10 : 6, k = 0;
	for (; k < visible && top + k < (int)s->size; k++) {
		unsigned i = (unsigned)(top + k);
		draw_desc(a, w, y + 1 + k, &l, &s->desc[i], i, cur);
		draw_slot(a, w, y + 1 + k, l.xa, l.wa, 0, &s->avail[i], i, i == next_avail, 0, cur);
		draw_slot(a, w, y + 1 + k, l.xu, l.wu, lw, &s->used[i], i, i == next_used, 1, cur);
	}
	draw_position(a, w, rows - TABLE_BOTTOM, cols, top, k, s->size);
}

/* ---- the view ------------------------------------------------------------------------------- */

/*
 * The body. Never a loop over the trace: one record for the dump line, and vq_state_at, which
 * replays at most VQ_CHECKPOINT_EVERY records from the nearest checkpoint (fast on a
 * 10-million-event trace). The rest is bounded by the queue size.
 */
static void virtq_draw(struct app *a, WINDOW *w)
{
	int rows, cols;
	getmaxyx(w, rows, cols);
	const struct model *m = app_model(a);
	if (!m || m->count == 0) {
		ui_text(w, 0, 0, cols, 1, ui_attr(a, UI_NORMAL), "this trace has no events");
		return;
	}
	uint64_t cur = app_cur(a);
	struct hvt_record r;
	model_get(m, cur, &r);
	char dump[512], line[520];
	trace_format_record(dump, sizeof dump, &r);
	snprintf(line, sizeof line, "> %s", dump);
	ui_cut_at_word(line, cols);
	ui_text(w, 0, 0, cols, 1, ui_attr(a, UI_CURRENT), "%s", line);
	attr_t norm = ui_attr(a, UI_NORMAL);
	if (m->vq.vq_records == 0) {
		ui_text(w, 2, 0, cols, 1, norm, "this trace has no virtqueue: it was recorded with the "
			"legacy disk or no disk;");
		ui_text(w, 3, 0, cols, 1, norm, "try 'hv run --disk-path virtio --trace FILE GUEST'");
		return;
	}
	unsigned q = a->virtq.queue < VQ_MAX_QUEUES ? a->virtq.queue : 0;
	a->virtq.queue = q;
	/* 7 KiB on the stack; rebuilt at every draw from the nearest checkpoint (vqstate.h). */
	struct vq_state s;
	vq_state_at(m, q, cur, &s);

	explain(line, sizeof line, &r, q);
	draw_two_lines(w, 1, cols, norm, line);
	struct touched_fields t = touched_of(&r, q);
	draw_header(a, w, 3, cols, &s, &t);
	ui_text(w, 5, 0, cols, 1, ui_attr(a, UI_DIM),
		"* touched now  ? not read by the device yet  < the next slot the device uses");
	if (!(m->vq.queues_seen & (1u << q))) {
		ui_text(w, TABLE_TOP, 0, cols, 1, norm, "no record names queue %u: virtio-blk uses "
			"queue 0 only (] and [ change the queue)", q);
		return;
	}
	if (!s.ready) {
		/* At most 80 columns: this is the whole message of the screen. */
		ui_text(w, TABLE_TOP, 0, cols, 1, norm, "queue %u is not set up at this event: no "
			"queue-ready record yet, or a reset", q);
		return;
	}
	draw_tables(a, w, TABLE_TOP - 1, rows, cols, &s, cur);
}

/* Scroll by hand: the view stops following the device. The lower bound is kept here; the
 * upper one by the next draw, which knows the queue size. */
static void virtq_scroll(struct app *a, int by)
{
	int top = a->virtq.scroll + by;
	/* No queue has more rows than VIRTQ_NUM_MAX: holding Down on a queue that is not set up
	 * (nothing clamps then) must not run the int up to overflow. */
	a->virtq.scroll = top < 0 ? 0 : top > (int)VIRTQ_NUM_MAX ? (int)VIRTQ_NUM_MAX : top;
	a->virtq.follow = 0;
}

/* Queue switching and scrolling are ours; every other action goes on to the app (return 0). */
static int virtq_act(struct app *a, enum action act, int rows)
{
	/* A page less one row, so the row at the edge stays in sight (as in less). */
	int page = table_rows(rows) > 1 ? table_rows(rows) - 1 : 1;
	switch (act) {
	case A_QUEUE_NEXT:
	case A_QUEUE_PREV:
		/* Both directions wrap around, so every queue is one key away. */
		a->virtq.queue = (a->virtq.queue + (act == A_QUEUE_NEXT ? 1u : VQ_MAX_QUEUES - 1u)) %
				 VQ_MAX_QUEUES;
		a->virtq.scroll = 0;
		a->virtq.follow = 1;
		app_message(a, "queue %u", a->virtq.queue);
		return 1;
	case A_UP: virtq_scroll(a, -1); return 1;
	case A_DOWN: virtq_scroll(a, 1); return 1;
	case A_PAGE_UP: virtq_scroll(a, -page); return 1;
	case A_PAGE_DOWN: virtq_scroll(a, page); return 1;
	default:
		/* Anything else (a step, a jump, a search) may change the event: follow again. */
		a->virtq.follow = 1;
		return 0;
	}
}

const struct view_ops view_virtq = {
	.name = "Virtqueue",
	.id = VIEW_VIRTQ,
	.draw = virtq_draw,
	.act = virtq_act,
};
