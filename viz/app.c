/*
 * app.c - hvviz's application: one screen, one current event, five views.
 *
 * Concept: a trace is read like a debugger session. There is always one current event (the
 * one being explained); keys move it forward and back, jump to a sequence number, search the
 * text, or run to the next event of a kind, like a breakpoint. The views (viz/view_*.c) are
 * different pictures of the same moment: the Path across host and guest, the Timeline around
 * it, the Virtqueue as the device saw it, two I/O paths side by side, the Stats of the whole
 * run. This file owns what they share: the title line, the bottom line (messages and the
 * prompts of g, / and f), the help screen printed from the key table, the too-small message,
 * and every action a view does not take over.
 * Textbook: chapter 6 "Watching it happen".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* live.h: live_request_step, for the keys that let a live guest run (space, c). */
#include "live.h"
#include "sixstep.h"
#include "trace_dump.h"
#include "viz.h"
#include "trace_names.h"

/*
 * The only place that knows every view. Each is a struct view_ops, a table of function
 * pointers (draw, act): an interface in C, the pattern hv uses for its devices (struct
 * device_ops, hv/bus.h). The index is the view's number on the title line (draw_title), and
 * Tab and S-Tab step through it modulo VIEW_COUNT.
 */
static const struct view_ops *const views[VIEW_COUNT] = {
	[VIEW_PATH] = &view_path,     [VIEW_TIMELINE] = &view_timeline,
	[VIEW_VIRTQ] = &view_virtq,   [VIEW_COMPARE] = &view_compare,
	[VIEW_STATS] = &view_stats,
};

void app_init(struct app *a, struct model **models, int n)
{
	memset(a, 0, sizeof *a);
	/*
	 * Two traces at most (--compare A B). Each keeps its own current event in cur[], so `w`
	 * (swap) returns to where the other trace was left; `shown` says which one the views
	 * other than Compare draw.
	 */
	a->nmodels = n;
	for (int i = 0; i < n && i < 2; i++)
		a->m[i] = models[i];
	/* No control socket until live_init: a trace opened from a file is not live. */
	a->ctl_fd = -1;
	/* Compare starts before its first request (SIZE_MAX: none chosen yet). */
	a->compare.req = SIZE_MAX;
	/* -1 in a filter field means "any": a fresh hvviz shows every event. */
	a->timeline.filter.kind = -1;
	a->timeline.filter.reason = -1;
	a->timeline.filter.dev = -1;
	a->timeline.filter.vcpu = -1;
	/* The Virtqueue view starts by following the device's steps (view_virtq.c). */
	a->virtq.follow = 1;
	/* Two traces were given to be compared: start where they are. */
	a->view = n == 2 ? VIEW_COMPARE : VIEW_PATH;
}

void app_free(struct app *a)
{
	free(a->compare.steps);
	a->compare.steps = NULL;
	a->compare.nsteps = 0;
	a->compare.aligned[0] = a->compare.aligned[1] = 0;
}

/* The views never index m[] or cur[] themselves: these two are their only way to the shown
 * trace, so `w` changes what every view sees at once. */
struct model *app_model(const struct app *a)
{
	return a->m[a->shown];
}

uint64_t app_cur(const struct app *a)
{
	return a->cur[a->shown];
}

/*
 * Every move of the current event ends here, and the clamp is the only one: no view can be
 * handed an event past the end, even when a key asks for it (End, PgDn) or a live trace has
 * not grown yet. An empty trace clamps to 0; app_draw and needs_event then keep anyone from
 * reading that event 0, which does not exist.
 */
void app_goto(struct app *a, uint64_t seq)
{
	const struct model *m = app_model(a);
	if (m->count == 0)
		seq = 0;
	else if (seq >= m->count)
		seq = m->count - 1;
	a->cur[a->shown] = seq;
}

/* The bottom line's one message: printf-style, cut to fit the buffer, and shown until the next
 * key clears it (app_key), so every key answers with at most one sentence. */
void app_message(struct app *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->message, sizeof a->message, fmt, ap);
	va_end(ap);
}

/* ---- breakpoints: a kind, refined by the reason or operation where the kind has one ---- */

/*
 * A debugger breaks at an address; hvviz breaks at a kind of event, because the question a
 * student asks of a trace is "show me the next MMIO exit", not "show me record 5812". The
 * kinds listed here have a sub-kind worth telling apart (the exit reason, the virtqueue, disk,
 * interrupt or ring operation); any other kind is broken on as a whole. Textbook ch06
 * "Keys: one current event".
 */
static struct breakpoint breakpoint_of(const struct hvt_record *r)
{
	struct breakpoint b = { .kind = r->kind, .sub = -1 };
	if (r->kind == HVT_EXIT || r->kind == HVT_VQ || r->kind == HVT_DISK || r->kind == HVT_IRQ ||
	    r->kind == HVT_RING)
		b.sub = r->reason;
	return b;
}

/* "kind:sub" in the words of `hv trace dump`, the form B accepts: a name shown in a message
 * can be typed back. */
static void breakpoint_name(const struct breakpoint *b, char *buf, size_t len)
{
	const char *sub = NULL;
	if (b->sub >= 0) {
		unsigned s = (unsigned)b->sub;
		sub = b->kind == HVT_EXIT ? hvt_reason_name(s) :
		      b->kind == HVT_VQ ? hvt_vq_op_name(s) :
		      b->kind == HVT_DISK ? hvt_disk_op_name(s) :
		      b->kind == HVT_IRQ ? hvt_irq_op_name(s) : hvt_ring_op_name(s);
	}
	snprintf(buf, len, "%s%s%s", hvt_kind_name(b->kind), sub ? ":" : "", sub ? sub : "");
}

/* Called by model_find for every record it passes, so it stays a short loop over at most
 * VIZ_MAX_BREAKPOINTS entries. A set sub of -1 matches every sub-kind of its kind. */
int app_breakpoint_hit(const struct hvt_record *r, void *arg)
{
	const struct app *a = arg;
	struct breakpoint b = breakpoint_of(r);
	for (int i = 0; i < a->nbrk; i++)
		if (a->brk[i].kind == b.kind && (a->brk[i].sub == -1 || a->brk[i].sub == b.sub))
			return 1;
	return 0;
}

/* Set breakpoint b, or remove it if it is set: b (and B with the same name) toggles. */
static void breakpoint_flip(struct app *a, struct breakpoint b)
{
	char name[64];
	breakpoint_name(&b, name, sizeof name);
	for (int i = 0; i < a->nbrk; i++) {
		if (a->brk[i].kind == b.kind && a->brk[i].sub == b.sub) {
			/* The last one fills the hole: breakpoints have no order, so removal is one
			 * copy instead of a shift. */
			a->brk[i] = a->brk[--a->nbrk];
			app_message(a, "breakpoint on %s removed (%d left)", name, a->nbrk);
			return;
		}
	}
	if (a->nbrk == VIZ_MAX_BREAKPOINTS) {
		app_message(a, "at most %d breakpoints: remove one first (b on an event of its kind)",
			    VIZ_MAX_BREAKPOINTS);
		return;
	}
	a->brk[a->nbrk++] = b;
	app_message(a, "breakpoint on %s set: c runs to the next one", name);
}

/* b takes the kind of the event under the cursor: the student points at an example instead
 * of typing its name (B is for a kind not on the screen yet). */
static void breakpoint_toggle(struct app *a)
{
	struct model *m = app_model(a);
	if (m->count == 0)
		return;
	struct hvt_record r;
	model_get(m, app_cur(a), &r);
	breakpoint_flip(a, breakpoint_of(&r));
}

/*
 * B: a breakpoint by name, for a kind the trace has not shown yet (live, before the first
 * MMIO exit). "kind:sub" in the words of `hv trace dump`; the filter's parser knows them all
 * (filter.c), so "exit:mmio" is read as the filter "kind=exit reason=mmio". No sub: any event
 * of the kind.
 */
static void breakpoint_commit(struct app *a, const char *text)
{
	char words[160], err[200];
	const char *colon = strchr(text, ':');
	if (colon)
		/* %.*s prints only the part before the colon: the precision is a length, so the
		 * text needs no copy to be cut. */
		snprintf(words, sizeof words, "kind=%.*s reason=%s", (int)(colon - text), text, colon + 1);
	else
		snprintf(words, sizeof words, "kind=%s", text);
	struct filter f;
	if (!text[0] || filter_parse(words, &f, err, sizeof err) < 0 || f.kind < 0) {
		app_message(a, text[0] ? "%s" : "type a kind, e.g. exit:mmio, vq:notify, ring:syscall",
			    err);
		return;
	}
	breakpoint_flip(a, (struct breakpoint){ .kind = (uint8_t)f.kind, .sub = f.reason });
}

/* Also called by live.c when a run to a breakpoint (c in step mode) finds its hit among the
 * records of the exit just taken. */
void app_break_at(struct app *a, uint64_t seq)
{
	app_goto(a, seq);
	struct hvt_record r;
	model_get(app_model(a), seq, &r);
	struct breakpoint b = breakpoint_of(&r);
	char name[64];
	breakpoint_name(&b, name, sizeof name);
	app_message(a, "breakpoint: %s at event %" PRIu64, name, seq);
}

static void breakpoint_continue(struct app *a)
{
	if (a->nbrk == 0) {
		app_message(a, "no breakpoints: press b on an event to break on its kind");
		return;
	}
	/* Strictly after the current event (model_find excludes `from`): pressing c again moves
	 * on to the next hit instead of staying on this one. */
	uint64_t at = model_find(app_model(a), app_cur(a), +1, app_breakpoint_hit, a);
	if (at != MODEL_NONE) {
		app_break_at(a, at);
		return;
	}
	/*
	 * Live, in step mode: the breakpoint may lie in the guest's future. Run it exit by exit,
	 * as a debugger's `continue` does, and stop at the first record that hits one
	 * (live_poll checks each exit's records; any key stops the run earlier).
	 */
	if (live_request_step(a)) {
		a->continuing = 1;
		app_message(a, "running the guest to the next breakpoint (any key stops) ...");
		return;
	}
	app_message(a, "no breakpoint hit after event %" PRIu64, app_cur(a));
}

/* ---- search ---- */

static int search_hit(const struct hvt_record *r, void *arg)
{
	return search_match(arg, r);
}

/*
 * n and N: the same text, forwards or backwards from the current event, as in less and vi.
 * The text is matched against the line `hv trace dump` prints for each record (search_match
 * in filter.c), so what a student found with grep in a dump is found here too.
 */
static void search_step(struct app *a, int dir)
{
	if (!a->search[0]) {
		app_message(a, "no search yet: / starts one");
		return;
	}
	uint64_t at = model_find(app_model(a), app_cur(a), dir, search_hit, a->search);
	if (at == MODEL_NONE) {
		app_message(a, "'%s' not found %s event %" PRIu64 " (%s searches the other way)",
			    a->search, dir > 0 ? "after" : "before", app_cur(a), dir > 0 ? "N" : "n");
		return;
	}
	app_goto(a, at);
	app_message(a, "'%s' at event %" PRIu64, a->search, at);
}

/* ---- prompts: g, / and f read a line on the bottom row ---- */

static const char *prompt_label(enum action p)
{
	return p == A_GOTO ? "go to event: " : p == A_SEARCH ? "/" :
	       p == A_BREAK_NAME ? "break on (kind:reason): " : "filter: ";
}

/* While a prompt is open every key is text for it (prompt_key): typing a 'q' in a search must
 * not quit, nor a digit switch the view. */
static void prompt_open(struct app *a, enum action p)
{
	a->prompt = p;
	a->input_len = 0;
	a->input[0] = '\0';
	a->input_selected = 0;
	/* The filter in force is shown, selected, as a text field shows it: typing replaces it
	 * (a new filter is the usual wish), Right or End keeps it to add a word. Appending by
	 * default made "f syscall..." read as "kind=exitsyscall...". */
	if (p == A_FILTER && a->timeline.filter.text[0]) {
		snprintf(a->input, sizeof a->input, "%s", a->timeline.filter.text);
		a->input_len = strlen(a->input);
		a->input_selected = 1;
	}
}

/*
 * Sequence numbers are decimal, as `hv trace dump` prints them, or hex with 0x. Not base 0:
 * strtoull would read "010" as octal 8, and a student typing a number from a dump line with
 * a leading zero would land on the wrong event without noticing.
 */
static void goto_commit(struct app *a, const char *text)
{
	const struct model *m = app_model(a);
	if (!text[0]) {
		app_message(a, "type an event number after g (e.g. 120 or 0x78)");
		return;
	}
	int hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
	char *end;
	/* strtoull reports overflow only through errno (ERANGE, with the value ULLONG_MAX),
	 * so errno is cleared first. */
	errno = 0;
	unsigned long long seq = strtoull(hex ? text + 2 : text, &end, hex ? 16 : 10);
	/* strtoull also takes spaces, a sign (and negates "-1" into a huge number): digits only. */
	const char *digits = hex ? text + 2 : text;
	if (!digits[0] || *end || errno || strspn(digits, "0123456789abcdefABCDEF") != strlen(digits)) {
		app_message(a, "'%s' is not an event number (type e.g. 120 or 0x78)", text);
		return;
	}
	/* The message gives the valid range: a live trace may simply not have reached that
	 * event yet. */
	if (seq >= m->count) {
		if (m->count == 0)
			app_message(a, "no event %llu: this trace has no events yet", seq);
		else
			app_message(a, "no event %llu: this trace has events 0 to %" PRIu64, seq,
				    m->count - 1);
		return;
	}
	app_goto(a, seq);
}

/*
 * The filter belongs to the Timeline: it chooses which events that list shows (the current
 * event is listed even when it does not match, view_timeline.c). The current event, search
 * and breakpoints ignore it. A filter that does not parse leaves the one in force.
 */
static void filter_commit(struct app *a, const char *text)
{
	struct filter f;
	char err[200];
	if (filter_parse(text, &f, err, sizeof err) < 0) {
		app_message(a, "%s", err);
		return;
	}
	a->timeline.filter = f;
	app_message(a, f.active ? "filter: %s" : "filter cleared%s", f.active ? f.text : "");
}

static void prompt_commit(struct app *a)
{
	enum action p = a->prompt;
	a->prompt = A_NONE;
	if (p == A_GOTO) {
		goto_commit(a, a->input);
	} else if (p == A_SEARCH) {
		/* An empty search repeats the last one, as in less and vi. */
		if (a->input[0])
			snprintf(a->search, sizeof a->search, "%s", a->input);
		if (!a->search[0])
			app_message(a, "type some text after / (e.g. /port=0x3f8), then Enter");
		else
			search_step(a, +1);
	} else if (p == A_FILTER) {
		filter_commit(a, a->input);
	} else if (p == A_BREAK_NAME) {
		breakpoint_commit(a, a->input);
	}
}

/* Ctrl-W: the word before the cursor and the spaces after it, as a shell erases it. */
static void prompt_erase_word(struct app *a)
{
	while (a->input_len > 0 && a->input[a->input_len - 1] == ' ')
		a->input_len--;
	while (a->input_len > 0 && a->input[a->input_len - 1] != ' ')
		a->input_len--;
	a->input[a->input_len] = '\0';
}

/*
 * Editing is a shell's: Backspace erases a character, Ctrl-U (21) the whole line, Ctrl-W (23)
 * the last word. While the old text is selected any of them, or any character, replaces it.
 */
static void prompt_key(struct app *a, int key)
{
	/*
	 * 27 is Esc. A terminal also starts every escape sequence (the arrow keys, F1...) with
	 * it, so curses holds a lone Esc back for ESCDELAY to see whether more bytes follow:
	 * main.c sets 50 ms, as ncurses' default of a second makes Esc feel broken. Backspace
	 * arrives as KEY_BACKSPACE, 127 (DEL) or 8 (^H), depending on the terminal's settings.
	 * Only printable ASCII is taken, the same rule as every string drawn (ui_text).
	 */
	if (key == 27) {
		a->prompt = A_NONE;
		app_message(a, "cancelled");
	} else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
		prompt_commit(a);
	} else if (key == KEY_RIGHT || key == KEY_END) {
		a->input_selected = 0;
	} else if (key == PROMPT_CTRL_U || (a->input_selected && (key == KEY_BACKSPACE ||
		   key == 127 || key == 8 || key == PROMPT_CTRL_W))) {
		a->input_len = 0;
		a->input[0] = '\0';
	} else if (key == PROMPT_CTRL_W) {
		prompt_erase_word(a);
	} else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
		if (a->input_len > 0)
			a->input[--a->input_len] = '\0';
	} else if (key >= 0x20 && key < 0x7f && a->input_len + 1 < sizeof a->input) {
		if (a->input_selected)
			a->input_len = 0;
		a->input[a->input_len++] = (char)key;
		a->input[a->input_len] = '\0';
	}
	if (key != KEY_RIGHT && key != KEY_END)
		a->input_selected = 0;
}

/* ---- actions every view shares ---- */

/* The rows between the title line and the bottom line: one page for PgUp/PgDn. */
static int body_rows(const struct app *a)
{
	return a->rows > 2 ? a->rows - 2 : 1;
}

/*
 * space, l: the next event. In a file that is all. Live in step mode, at the last event, the
 * next one does not exist yet, and asking for it is what runs the guest (textbook ch06 "Live:
 * watching a guest run").
 */
static void step_next(struct app *a)
{
	const struct model *m = app_model(a);
	if (m->count > 0 && app_cur(a) + 1 < m->count) {
		app_goto(a, app_cur(a) + 1);
		return;
	}
	/* At the end of a live trace in step mode, "next" is what lets the guest run. */
	if (live_request_step(a))
		app_message(a, "running the guest to its next exit ...");
	else if (m->count == 0)
		app_message(a, "this trace has no events%s", a->live ? " yet" : "");
	else
		app_message(a, "this is the last event (%" PRIu64 ")", m->count - 1);
}

static void move_by(struct app *a, int64_t delta)
{
	uint64_t cur = app_cur(a);
	/* The test comes before the subtraction: in unsigned arithmetic cur - 10 at event 3
	 * would wrap to a huge number, which app_goto would clamp to the *last* event. */
	if (delta < 0 && (uint64_t)-delta > cur)
		app_goto(a, 0);
	else
		app_goto(a, cur + (uint64_t)delta);
}

/*
 * Actions that need a current event. A trace with no events yet (a live run before the first
 * exit, or a file of only a header) has none: those keys say so instead of pretending ("this
 * is the last event (0)"). Stepping on is kept: in live step mode it lets the guest run.
 */
static int needs_event(enum action act)
{
	switch (act) {
	case A_PREV: case A_UP: case A_PAGE_UP: case A_PAGE_DOWN: case A_HOME: case A_END:
	case A_GOTO: case A_SEARCH: case A_SEARCH_NEXT: case A_SEARCH_PREV: case A_BREAK:
	case A_CONTINUE:
		return 1;
	default:
		return 0;
	}
}

/* m: a mark on the current event of the shown trace, or off again when it is already there. */
static void mark_toggle(struct app *a)
{
	int s = a->shown;
	if (a->marked[s] && a->mark[s] == app_cur(a)) {
		a->marked[s] = 0;
		app_message(a, "mark removed");
		return;
	}
	a->marked[s] = 1;
	a->mark[s] = app_cur(a);
	a->markc_valid[s] = 0;
	app_message(a, "mark at event %" PRIu64 ": move on, and the bottom line counts from it",
		    app_cur(a));
}

/*
 * The count from the mark to the current event, kept between draws: when only the current
 * event moved on the same side of the mark, mark_move adds or removes the records between,
 * so a step costs a record, not the whole range.
 */
static const struct mark_count *mark_now(struct app *a)
{
	int s = a->shown;
	const struct model *m = app_model(a);
	uint64_t cur = app_cur(a), mk = a->mark[s];
	if (mk >= m->count)
		return NULL;
	uint64_t lo = cur < mk ? cur : mk, hi = cur < mk ? mk : cur;
	struct mark_count *c = &a->markc[s];
	if (a->markc_valid[s] && c->lo == lo)
		mark_move(m, hi, c);
	else
		mark_count(m, lo, hi, c);
	a->markc_valid[s] = 1;
	return c;
}

/* Switching view closes the help: it lists the view keys, and pressing one there means "go
 * there" (help_key). */
static void view_switch(struct app *a, int view)
{
	a->view = view;
	a->help_open = 0;
}

static void app_action(struct app *a, enum action act)
{
	const struct model *m = app_model(a);
	switch (act) {
	case A_NEXT: case A_DOWN: step_next(a); break;
	case A_PREV: case A_UP:
		if (app_cur(a) == 0)
			app_message(a, "this is the first event");
		move_by(a, -1);
		break;
	/* A message for the edge, but the move still happens: at the edge it is a no-op, and
	 * the message says why nothing moved. */
	case A_PAGE_DOWN: case A_END:
		if (app_cur(a) + 1 >= m->count)
			app_message(a, "this is the last event (%" PRIu64 ")", app_cur(a));
		if (act == A_END)
			app_goto(a, m->count - 1); /* count > 0: app_key checked */
		else
			move_by(a, body_rows(a));
		break;
	case A_PAGE_UP: case A_HOME:
		if (app_cur(a) == 0)
			app_message(a, "this is the first event");
		move_by(a, act == A_HOME ? -(int64_t)app_cur(a) : -(int64_t)body_rows(a));
		break;
	case A_GOTO: case A_SEARCH: case A_FILTER: case A_BREAK_NAME: prompt_open(a, act); break;
	case A_SEARCH_NEXT: search_step(a, +1); break;
	case A_SEARCH_PREV: search_step(a, -1); break;
	case A_BREAK: breakpoint_toggle(a); break;
	case A_MARK: mark_toggle(a); break;
	case A_RECORD: a->record_open = !a->record_open; break;
	/* Lines are cut at the window's edge; these move the cut. 20 columns a press: about
	 * two fields of a dump line. */
	case A_SHIFT_RIGHT: case A_SHIFT_LEFT:
		if (a->view != VIEW_TIMELINE && a->view != VIEW_COMPARE) {
			app_message(a, "< and > shift the Timeline's and Compare's lists; d shows the "
				       "whole record");
			break;
		}
		a->hshift += act == A_SHIFT_RIGHT ? 20 : -20;
		if (a->hshift < 0)
			a->hshift = 0;
		if (a->hshift > 400)
			a->hshift = 400;
		break;
	case A_CONTINUE: breakpoint_continue(a); break;
	case A_HELP: a->help_open = 1; a->help_scroll = 0; break;
	/* Esc outside the help and the prompts: nothing is open, nothing to close. */
	case A_CLOSE: break;
	case A_QUIT: a->quit = 1; break;
	case A_VIEW_NEXT: view_switch(a, (a->view + 1) % VIEW_COUNT); break;
	case A_VIEW_PREV: view_switch(a, (a->view + VIEW_COUNT - 1) % VIEW_COUNT); break;
	case A_VIEW_PATH: view_switch(a, VIEW_PATH); break;
	case A_VIEW_TIMELINE: view_switch(a, VIEW_TIMELINE); break;
	case A_VIEW_VIRTQ: view_switch(a, VIEW_VIRTQ); break;
	case A_VIEW_COMPARE: view_switch(a, VIEW_COMPARE); break;
	case A_VIEW_STATS: view_switch(a, VIEW_STATS); break;
	/* Only which trace is shown changes; each keeps its current event (cur[]). */
	case A_SWAP:
		if (a->nmodels < 2) {
			app_message(a, "w needs two traces (hvviz --compare A.hvt B.hvt)");
			break;
		}
		a->shown ^= 1;
		app_message(a, "showing %s", a->m[a->shown]->path);
		break;
	default:
		app_message(a, "nothing to do for this key in the %s view", views[a->view]->name);
		break;
	}
}

/* The help screen takes the keys while it is open: scrolling, closing, quitting, and the
 * view keys it lists (1-5, Tab), which close it and go there. */
static void help_key(struct app *a, enum action act)
{
	if (act == A_CLOSE || act == A_HELP)
		a->help_open = 0;
	else if (act == A_QUIT)
		a->quit = 1;
	else if (act >= A_VIEW_NEXT && act <= A_VIEW_STATS)
		app_action(a, act); /* view_switch closes the help */
	/* help_scroll may pass the end here: draw_help clamps it, being the one that knows how
	 * many lines fit on this screen. */
	else if (act == A_DOWN || act == A_PAGE_DOWN)
		a->help_scroll += act == A_DOWN ? 1 : body_rows(a) - 2;
	else if ((act == A_UP || act == A_PAGE_UP) && a->help_scroll > 0)
		a->help_scroll -= act == A_UP ? 1 : body_rows(a) - 2;
	if (a->help_scroll < 0)
		a->help_scroll = 0;
}

/*
 * The order of the tests is the order of who owns a key: a resize (no key at all), an open
 * prompt (everything is text), a running `c` (any key stops it), a screen too small to show
 * anything, the help screen, then the current view, which may take a key for itself (its act
 * returns 1), and last the actions every view shares. Past a prompt, the previous key's
 * message is cleared, so a stale one never describes this key.
 */
void app_key(struct app *a, int key)
{
	if (key == KEY_RESIZE)
		return; /* the next draw reads the new size */
	if (a->prompt != A_NONE) {
		prompt_key(a, key);
		return;
	}
	a->message[0] = '\0';
	if (a->continuing) {
		/* A key while `c` runs the guest: stop there (the exit asked for still comes). */
		a->continuing = 0;
		app_message(a, "stopped running to a breakpoint");
		return;
	}
	enum action act = keys_lookup(key, a->view);
	/* Too small, the screen shows only the message that asks for more room: a key that
	 * changed what cannot be seen would surprise when the window grows. q still quits. */
	if (a->rows > 0 && (a->rows < VIZ_MIN_ROWS || a->cols < VIZ_MIN_COLS)) {
		if (act == A_QUIT)
			a->quit = 1;
		return;
	}
	if (a->help_open) {
		help_key(a, act);
		return;
	}
	if (act == A_NONE) {
		app_message(a, "that key does nothing here: ? lists every key");
		return;
	}
	if (views[a->view]->act && views[a->view]->act(a, act, body_rows(a)))
		return;
	/* An empty trace has no current event: only views, help, quit and stepping (which may
	 * let a live guest run) mean anything. */
	/* (c in live step mode may run the guest to a breakpoint set with B: no event needed.) */
	int runs_guest = act == A_CONTINUE && a->live && a->step_mode;
	if (app_model(a)->count == 0 && needs_event(act) && !runs_guest) {
		app_message(a, "this trace has no events%s", !a->live ? "" :
			    a->step_mode ? " yet: space runs the guest to its first exit" : " yet");
		return;
	}
	app_action(a, act);
}

/* ---- drawing ---- */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* The title says which file, which kind of host recorded it (the trace header's host kind:
 * an exit costs very different times on VMX, nested or PVM, textbook ch00 "Four kinds of
 * KVM"), whether it is live, and which view is shown. */
static void draw_title(struct app *a)
{
	const struct model *m = app_model(a);
	attr_t t = ui_attr(a, UI_TITLE);
	/* The view tabs: the current one in brackets, so it shows without reverse video too. */
	char tabs[160] = "";
	size_t off = 0;
	for (int v = 0; v < VIEW_COUNT && off < sizeof tabs; v++)
		/* snprintf returns the length it wanted, not what fitted: off can pass the end,
		 * and the loop test stops before sizeof tabs - off would wrap around. */
		off += (size_t)snprintf(tabs + off, sizeof tabs - off, v == a->view ? "%s[%d %s]" : "%s%d %s",
					v ? " " : "", v + 1, views[v]->name);
	int x = a->cols - (int)strlen(tabs) - 1;
	/* The file name gets what the tabs leave; "hvviz" only when there is room to spare. */
	ui_text(stdscr, 0, 0, a->cols, 1, t, "%s%s (%s%s)", a->cols >= 100 ? " hvviz  " : " ",
		base_name(m->path), hvt_host_name(m->header.host_kind), a->live ? ", live" : "");
	/* Drawn after the file name and over its end: on a narrow screen the tabs win. */
	ui_text(stdscr, 0, x - 1, a->cols - x + 1, 1, t, " %s", tabs);
}

/*
 * The bottom line: where you are (event, time, breakpoints), then the keys a newcomer needs.
 * "? help  q quit" must never be cut off, so the longer hint is used only when it fits.
 * In live step mode at the last event, space is what runs the guest one more exit: the hint
 * says so exactly there, and nowhere else.
 */
static void draw_bottom(struct app *a)
{
	int y = a->rows - 1;
	if (a->prompt != A_NONE) {
		/* The end of what is typed must stay in sight: a long filter drops the hint, then
		 * shows only the input's last part after a '<'. */
		static const char hint[] = "  (Enter: ok, Esc: cancel, C-u C-w: erase)";
		const char *label = prompt_label(a->prompt), *in = a->input;
		if (a->input_selected) {
			/* Selected: in brackets, so it reads as selected without colour too. */
			ui_text(stdscr, y, 0, a->cols, 1, A_NORMAL, "%s[%s]_  (type to replace, Right "
				"to edit, Enter: ok, Esc: cancel)", label, in);
			return;
		}
		int room = a->cols - (int)strlen(label) - 2; /* the '_' and the screen's last cell */
		if ((int)(a->input_len + sizeof hint - 1) <= room) {
			ui_text(stdscr, y, 0, a->cols, 1, A_NORMAL, "%s%s_%s", label, in, hint);
			return;
		}
		if ((int)a->input_len > room && room > 1)
			ui_text(stdscr, y, 0, a->cols, 1, A_NORMAL, "%s<%s_", label,
				in + a->input_len - (size_t)(room - 1));
		else
			ui_text(stdscr, y, 0, a->cols, 1, A_NORMAL, "%s%s_", label, in);
		return;
	}
	if (a->message[0]) {
		ui_text(stdscr, y, 0, a->cols, 1, ui_attr(a, UI_HEADER), "%s", a->message);
		return;
	}
	const struct model *m = app_model(a);
	/* Live, the first word says whose turn it is: the VM stopped for good, the guest running
	 * the exit asked for, the user's turn in step mode, or a free-running guest. */
	const char *status = !a->live ? "" : a->vm_done ? "VM stopped  " :
			     a->waiting ? "guest running...  " : a->step_mode ? "LIVE step  " : "LIVE  ";
	char where[200];
	const struct mark_count *mc = a->marked[a->shown] && m->count ? mark_now(a) : NULL;
	if (mc) {
		/* The mark replaces the event number and time: "mark 1449 to 1594" names the
		 * current event, and the keys' hint shrinks first (below). */
		int room = a->cols - (int)strlen(status) - (int)sizeof "  | ? help  q quit" + 1;
		mark_format(mc, a->mark[a->shown], app_cur(a), where, sizeof where,
			    room < 20 ? 20 : room);
	} else if (m->count) {
		struct hvt_record r;
		char when[32];
		model_get(m, app_cur(a), &r);
		/* model_get decoded the record where the file is mapped (model.c): hvviz keeps no
		 * copy of the trace (textbook ch06 "Opening a big trace"). */
		ui_time(when, sizeof when, r.time_ns);
		snprintf(where, sizeof where, "event %" PRIu64 "/%" PRIu64 "  t=%s", app_cur(a),
			 m->count, when);
	} else {
		snprintf(where, sizeof where, "no events yet");
	}
	char bps[24] = "";
	if (a->nbrk)
		snprintf(bps, sizeof bps, "  %d bp", a->nbrk);
	int at_end = m->count == 0 || app_cur(a) + 1 >= m->count;
	const char *space = a->live && a->step_mode && !a->vm_done && !a->waiting && at_end
				    ? "space runs 1 exit" : "space next";
	/* The longest hint that fits, down to the two keys that explain all the others. */
	char line[320];
	int n = snprintf(line, sizeof line, "%s%s%s  | %s  h prev  Tab view  ? help  q quit",
			 status, where, bps, space);
	if (n > a->cols)
		n = snprintf(line, sizeof line, "%s%s%s  | %s  ? help  q quit", status, where, bps,
			     space);
	if (n > a->cols)
		snprintf(line, sizeof line, "%s%s%s  | ? help  q quit", status, where, bps);
	ui_text(stdscr, y, 0, a->cols, 1, ui_attr(a, UI_DIM), "%s", line);
}

/* Help lines from the key table: keys with the same action and scope share a line. */
/* The help is built from the same table the keys are looked up in (viz_keys, keys.c), so it
 * cannot list a key that does something else, or miss one: a new binding documents itself. */
static int help_lines(char lines[][120], int max)
{
	int n = 0;
	for (size_t i = 0; i < viz_key_count && n < max; i++) {
		const struct key_binding *k = &viz_keys[i];
		if (i > 0 && viz_keys[i - 1].action == k->action && viz_keys[i - 1].view == k->view)
			continue;
		char keys[48] = "";
		size_t off = 0;
		for (size_t j = i; j < viz_key_count && viz_keys[j].action == k->action &&
				   viz_keys[j].view == k->view && off < sizeof keys; j++)
			off += (size_t)snprintf(keys + off, sizeof keys - off, "%s%s", j > i ? " " : "",
						viz_keys[j].name);
		/* A view's own key says which view; the rest work everywhere. */
		snprintf(lines[n++], 120, "%-14s %s%s%s", keys,
			 k->view == VIEW_ANY ? "" : views[k->view]->name,
			 k->view == VIEW_ANY ? "" : ": ", k->help);
	}
	return n;
}

/*
 * d: the current event's whole record in a box at the bottom of the body: the line `hv trace
 * dump` prints for it, then what the Path view says of it, both wrapped at spaces, nothing cut
 * (the lists cut a long line at the window's edge; here is where it is read in full).
 */
static void draw_record(struct app *a)
{
	const struct model *m = app_model(a);
	struct hvt_record r;
	struct path_step p;
	char dump[512];
	model_get(m, app_cur(a), &r);
	trace_format_record(dump, sizeof dump, &r);
	struct sixstep_ctx ctx = sixstep_ctx_of(m, &r);
	sixstep_classify_in(&r, &ctx, &p);
	int w = a->cols - 4;
	char lines[24][256];
	int n = 0;
	const char *parts[3] = { dump, p.title, p.explain };
	for (int k = 0; k < 3 && n < 24; k++)
		n += ui_wrap(parts[k], w, lines + n, 24 - n);
	int h = n + 2, top = a->rows - 1 - h;
	if (top < 1) {
		top = 1;
		h = a->rows - 2;
	}
	WINDOW *win = derwin(stdscr, h, a->cols, top, 0);
	if (!win)
		return;
	werase(win);
	wborder(win, '|', '|', '-', '-', '+', '+', '+', '+');
	ui_text(win, 0, 2, a->cols - 4, 0, ui_attr(a, UI_HEADER), " event %" PRIu64 ", the whole "
		"record (d closes) ", app_cur(a));
	for (int i = 0; i < n && i < h - 2; i++)
		ui_text(win, 1 + i, 2, w, 0, A_NORMAL, "%s", lines[i]);
	delwin(win);
}

static void draw_help(struct app *a)
{
	char lines[64][120];
	int n = help_lines(lines, 64);
	int h = a->rows - 2, w = a->cols;
	/* derwin: a window that shares stdscr's cells, so the help is drawn over the view already
	 * drawn, and delwin frees only the window's description, not what it drew. */
	WINDOW *win = derwin(stdscr, h, w, 1, 0);
	if (!win)
		return;
	werase(win);
	/* ASCII corners: the screen must read the same as text (golden screens, any terminal). */
	wborder(win, '|', '|', '-', '-', '+', '+', '+', '+');
	ui_text(win, 0, 2, w - 4, 0, ui_attr(a, UI_HEADER), " keys (from the key table)  Esc or ? closes ");
	int shown = h - 2;
	if (a->help_scroll > n - shown)
		a->help_scroll = n - shown > 0 ? n - shown : 0;
	for (int i = 0; i < shown && a->help_scroll + i < n; i++)
		ui_text(win, 1 + i, 2, w - 4, 1, A_NORMAL, "%s", lines[a->help_scroll + i]);
	/* Where you are in the help, when it does not fit: which lines, and how to see the rest. */
	if (n > shown)
		ui_text(win, h - 1, 2, w - 4, 0, ui_attr(a, UI_DIM),
			" lines %d-%d of %d: Up/Down, PgUp/PgDn scroll ", a->help_scroll + 1,
			a->help_scroll + shown, n);
	delwin(win);
}

/* 80x24 is the classic terminal size (the VT100's): every view is laid out for it at least,
 * and the golden-screen tests check each one there (textbook ch06 "Screens as text"). */
static void draw_too_small(struct app *a)
{
	const char *lines[] = { "hvviz needs a terminal of at least 80x24.", "",
				"Make this window larger, or press q to quit." };
	char size[64];
	snprintf(size, sizeof size, "This one is %dx%d.", a->cols, a->rows);
	int y = a->rows / 2 - 2;
	for (int i = 0; i < 3; i++)
		ui_text(stdscr, y + i, 0, a->cols, 0, A_BOLD, "%s", i == 1 ? size : lines[i]);
}

void app_draw(struct app *a)
{
	/*
	 * The size is read again at every draw: a resized terminal sends SIGWINCH, ncurses
	 * updates stdscr and hands us KEY_RESIZE (app_key ignores it), and this draw then fits
	 * the new size. The whole screen is erased and drawn from scratch each time; that is
	 * cheap, because refresh compares it with what the terminal shows and sends only the
	 * cells that changed.
	 */
	getmaxyx(stdscr, a->rows, a->cols);
	werase(stdscr);
	if (a->rows < VIZ_MIN_ROWS || a->cols < VIZ_MIN_COLS) {
		draw_too_small(a);
		return;
	}
	draw_title(a);
	WINDOW *body = derwin(stdscr, a->rows - 2, a->cols, 1, 0);
	if (body) {
			/* Compare draws its own empty state, from two traces. */
		if (app_model(a)->count == 0 && a->view != VIEW_COMPARE)
			ui_text(body, 1, 2, a->cols - 4, 0, A_NORMAL,
				"This trace has no events yet%s.", a->live ? " (the guest has not run)" : "");
		else
			views[a->view]->draw(a, body);
		delwin(body);
	}
	draw_bottom(a);
	if (a->record_open && !a->help_open && app_model(a)->count)
		draw_record(a);
	if (a->help_open)
		/* Last, over the body: the help is a window on top of the view, not a view. */
		draw_help(a);
}
