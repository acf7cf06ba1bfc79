/*
 * viz.h - hvviz's application: the state every view shares, the view-ops table, the one key
 * table, and the drawing helpers.
 *
 * Concept: hvviz shows one trace (or two, side by side) through five views. Each view is one
 * file (viz/view_*.c) behind a small ops table: draw the body, and handle the few actions
 * that mean something special in it. Everything else (moving through events, search,
 * breakpoints, help, switching views, resizing) is the application's (viz/app.c), so every
 * view behaves the same. Keys are one table (viz/keys.c): the help screen is printed from it,
 * so help and bindings cannot drift apart. Drawing never decides colour alone: every
 * highlight also has a text mark ('>' for the current event, '*' for touched entries, brackets
 * for the current view), so NO_COLOR and monochrome terminals lose nothing.
 * Textbook: chapter 6 "Watching it happen".
 */
#ifndef VIZ_VIZ_H
#define VIZ_VIZ_H

#include <curses.h>
#include <stddef.h>
#include <stdint.h>

#include "filter.h"
#include "mark.h"
#include "model.h"

/* Smaller than this, hvviz draws one message asking for a bigger terminal. */
#define VIZ_MIN_COLS 80
#define VIZ_MIN_ROWS 24

enum view_id { VIEW_PATH, VIEW_TIMELINE, VIEW_VIRTQ, VIEW_COMPARE, VIEW_STATS, VIEW_COUNT };

/* What a key does. Global actions are the application's; a view may take any of them over
 * (Compare steps a request at a time on A_NEXT) and has its own (A_FILTER, A_QUEUE_NEXT). */
enum action {
	A_NONE = 0,
	A_NEXT, A_PREV,            /* next / previous event (Compare: request) */
	A_UP, A_DOWN,              /* move in a list (Timeline: the current event; others: scroll) */
	A_PAGE_UP, A_PAGE_DOWN,
	A_HOME, A_END,             /* first / last event */
	A_GOTO,                    /* prompt for a sequence number */
	A_SEARCH, A_SEARCH_NEXT, A_SEARCH_PREV,
	A_BREAK, A_CONTINUE,       /* breakpoint on the current event's kind; run to the next one */
	A_HELP, A_CLOSE, A_QUIT,
	A_VIEW_NEXT, A_VIEW_PREV,
	A_VIEW_PATH, A_VIEW_TIMELINE, A_VIEW_VIRTQ, A_VIEW_COMPARE, A_VIEW_STATS,
	A_SWAP,                    /* with two traces: the other views show the other one */
	A_FILTER, A_FILTER_CLEAR,  /* Timeline */
	A_QUEUE_NEXT, A_QUEUE_PREV,/* Virtqueue */
	A_BREAK_NAME,              /* a breakpoint typed by name: exit:mmio, vq:notify, ring */
	A_MARK,                    /* mark the current event; the bottom line counts from it */
	A_RECORD,                  /* show the current event's whole record, wrapped */
	A_SHIFT_LEFT, A_SHIFT_RIGHT,/* Timeline and Compare: the lists' long lines sideways */
	A_COUNT
};

#define VIEW_ANY (-1)
struct key_binding {
	int key;           /* a curses key code or a character */
	const char *name;  /* as help shows it: "space", "Right", "l" */
	enum action action;
	int view;          /* VIEW_ANY or the one view (enum view_id) where it applies */
	const char *help;  /* what it does, one short line */
};
extern const struct key_binding viz_keys[];
extern const size_t viz_key_count;
/* The action of KEY in VIEW (a view's own binding first, then the global one), or A_NONE. */
enum action keys_lookup(int key, int view);
/* Key names for scripts (hvviz --keys): "Right", "Tab", "Enter", "Esc", ... or -1. */
int keys_code_of_name(const char *name);

/* Drawing roles: each maps to an attribute with colour when there is colour, and to
 * bold/reverse/underline without it (viz/ui.c). */
enum ui_role {
	UI_NORMAL, UI_TITLE, UI_CURRENT, UI_TOUCHED, UI_DIM, UI_ERROR, UI_HEADER,
	UI_LANE0, UI_LANE1, UI_LANE2, UI_LANE3, UI_BAR_A, UI_BAR_B, UI_ROLE_COUNT
};

struct breakpoint {
	uint8_t kind;   /* enum hvt_kind */
	int sub;        /* exit reason / vq, disk, irq or ring op; -1: any of the kind */
};
#define VIZ_MAX_BREAKPOINTS 16

/* Per-view state lives here, not in statics, so an app can be drawn in tests. */
struct timeline_state {
	struct filter filter;
	uint64_t top;          /* first event shown (a matching one when filtered) */
};
struct virtq_state_ui {
	unsigned queue;        /* which queue */
	int scroll;            /* first descriptor row shown */
	int follow;            /* 1: scroll to the entry the current event touches; 0: the user
				  scrolled by hand (app_init sets 1) */
};
struct compare_state {
	size_t req;            /* current step: an index into steps[] (requests paired by what
				  they do, view_compare.c), SIZE_MAX: before the first */
	struct req_step *steps; /* the two traces' requests paired (requests_align), nsteps of
				  them, for aligned[0] and aligned[1] requests; app_free frees it */
	size_t nsteps, aligned[2];
	int scroll;
	uint64_t seen;         /* the shown trace's current event when the view last showed it:
				  when it differs, something else moved it (n, g, c) */
};
struct stats_state {
	int scroll;
};

struct app {
	struct model *m[2];
	int nmodels;           /* 1, or 2 with --compare */
	int shown;             /* which model the views other than Compare show */
	uint64_t cur[2];       /* the current event of each model */
	int view;              /* enum view_id */
	int help_open;
	int help_scroll;       /* first help line shown */
	int quit;
	int color;             /* 1: colours in use; 0: NO_COLOR or a monochrome terminal */
	int rows, cols;        /* the screen size drawn last */

	char search[128];      /* the last search text ("" none) */
	struct breakpoint brk[VIZ_MAX_BREAKPOINTS];
	int nbrk;

	char message[256];     /* the bottom line's message, cleared by the next key */
	enum action prompt;    /* A_NONE, or the action whose text is being typed (GOTO, SEARCH, FILTER) */
	char input[128];
	size_t input_len;
	int input_selected;    /* 1: the prompt holds the old text, selected: a typed key replaces it,
				  Right or End keeps it for editing (app.c, prompt_key) */

	/* The mark of each model (m): the bottom line counts events, exits and time from it to
	 * the current event (viz/mark.h); the count is kept and moved, not redone, per step. */
	int marked[2];
	uint64_t mark[2];
	struct mark_count markc[2];
	int markc_valid[2];

	int record_open;       /* d: the current event's whole record in a box over the body */
	int hshift;            /* < and >: columns the Timeline's and Compare's lines are shifted */

	struct timeline_state timeline;
	struct virtq_state_ui virtq;
	struct compare_state compare;
	struct stats_state stats;

	/* Live (hv run --viz): viz/live.c */
	int live;
	int ctl_fd;            /* socket to hv; -1 none */
	int step_mode;         /* --viz=step: hv waits for us before every KVM_RUN */
	int waiting;           /* we asked hv for one more exit and wait for its records */
	int vm_done;           /* hv closed the socket: the VM has stopped */
	int continuing;        /* c in step mode: run the guest exit by exit to a breakpoint */
};

struct view_ops {
	const char *name;      /* "Path" */
	enum view_id id;
	/* Draw the body into w (its size: getmaxyx). */
	void (*draw)(struct app *a, WINDOW *w);
	/* A view's own handling of an action; returns 1 if it took it, 0 to let the app handle it.
	 * rows: the body's height (for paging). */
	int (*act)(struct app *a, enum action act, int rows);
};
extern const struct view_ops view_path, view_timeline, view_virtq, view_compare, view_stats;

/* ---- app.c ---- */
void app_init(struct app *a, struct model **models, int n);
/* Free what the views allocated (the Compare view's pairing); the models stay open. */
void app_free(struct app *a);
/* The control keys a prompt edits with: Ctrl-U erases the line, Ctrl-W the last word. */
#define PROMPT_CTRL_U 21
#define PROMPT_CTRL_W 23

/* One key: prompts, help, view actions, global actions. */
void app_key(struct app *a, int key);
/* Draw the whole screen on stdscr (title, body, bottom line, help, too-small message). */
void app_draw(struct app *a);
/* The model and current event the views other than Compare show. */
struct model *app_model(const struct app *a);
uint64_t app_cur(const struct app *a);
/* Make seq the current event of the shown model (clamped to the trace). */
void app_goto(struct app *a, uint64_t seq);
void app_message(struct app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Does record r hit one of the app's breakpoints? (arg: the struct app; model_find's shape) */
int app_breakpoint_hit(const struct hvt_record *r, void *arg);
/* Move to a breakpoint's event and say which breakpoint it was. */
void app_break_at(struct app *a, uint64_t seq);

/* ---- ui.c ---- */
void ui_init_colors(struct app *a); /* decides a->color: has_colors() and no NO_COLOR */
attr_t ui_attr(const struct app *a, enum ui_role role);
/* Print at (y, x), at most width columns (clipped, never wrapped), padding with spaces to
 * width when pad is set. */
void ui_text(WINDOW *w, int y, int x, int width, int pad, attr_t at, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* A horizontal bar of `value` out of `max` in width columns, drawn with '#' (role A) or '='
 * (role B), so two series differ without colour. */
void ui_bar(const struct app *a, WINDOW *w, int y, int x, int width, uint64_t value,
	    uint64_t max, enum ui_role role);
/* "1.234 ms", "12.3 us", "850 ns": time for people. */
void ui_time(char *buf, size_t len, uint64_t ns);
void ui_ratio(char *buf, size_t len, uint64_t left, uint64_t right); /* "904x", "0.86x" */
/* s wrapped at spaces into lines of at most width (< 256) columns; returns how many. */
int ui_wrap(const char *s, int width, char lines[][256], int max);
/* A record's line on one row of width columns: cut after the last whole field that fits, then
 * " ...", so no value is shown cut short (`d` shows the whole record). */
void ui_cut_at_word(char *line, int width);

#endif
