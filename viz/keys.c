/*
 * keys.c - every key hvviz understands, in one table.
 *
 * Concept: a tool people learn by pressing `?` must never lie about its keys. So there is one
 * table: the dispatcher (keys_lookup) reads it, the help screen (viz/app.c) prints it, and a
 * unit test (tests/unit/test_keys.c) proves that no key means two things in one view. A view's
 * own binding is listed with that view; the same key may mean something else in another view
 * (Up scrolls the Stats, but moves the current event in the Timeline), never twice in one.
 * The keys follow less/vi habits students already have (j/k, g, /, n/N, q).
 * Textbook: chapter 6 "Watching it happen", section "Keys".
 */
#include <string.h>
#include <strings.h>

#include "viz.h"

#define KEY_TAB 9
#define KEY_ESC 27
#define KEY_CTRL_L 12

const struct key_binding viz_keys[] = {
	/* moving through events: the same in every view (Compare: request by request) */
	{ ' ', "space", A_NEXT, VIEW_ANY, "next event (Compare: next request)" },
	{ KEY_RIGHT, "Right", A_NEXT, VIEW_ANY, "next event" },
	{ 'l', "l", A_NEXT, VIEW_ANY, "next event" },
	{ KEY_LEFT, "Left", A_PREV, VIEW_ANY, "previous event (Compare: previous request)" },
	{ 'h', "h", A_PREV, VIEW_ANY, "previous event" },
	{ KEY_UP, "Up", A_UP, VIEW_ANY, "move up in the list (Timeline: previous shown event)" },
	{ 'k', "k", A_UP, VIEW_ANY, "move up in the list" },
	{ KEY_DOWN, "Down", A_DOWN, VIEW_ANY, "move down in the list (Timeline: next shown event)" },
	{ 'j', "j", A_DOWN, VIEW_ANY, "move down in the list" },
	{ KEY_PPAGE, "PgUp", A_PAGE_UP, VIEW_ANY, "a page up in the list" },
	{ KEY_NPAGE, "PgDn", A_PAGE_DOWN, VIEW_ANY, "a page down in the list" },
	{ KEY_HOME, "Home", A_HOME, VIEW_ANY, "first event (Compare: first request)" },
	{ KEY_END, "End", A_END, VIEW_ANY, "last event (Compare: last request)" },
	{ 'g', "g", A_GOTO, VIEW_ANY, "go to an event by its sequence number" },
	{ '/', "/", A_SEARCH, VIEW_ANY, "search the event text (as hv trace dump prints it)" },
	{ 'n', "n", A_SEARCH_NEXT, VIEW_ANY, "next match of the search" },
	{ 'N', "N", A_SEARCH_PREV, VIEW_ANY, "previous match of the search" },
	{ 'b', "b", A_BREAK, VIEW_ANY, "breakpoint on this kind of event, e.g. exit:io (again: off)" },
	{ 'B', "B", A_BREAK_NAME, VIEW_ANY, "breakpoint by name: exit:mmio, vq:notify, ring" },
	{ 'c', "c", A_CONTINUE, VIEW_ANY, "continue to a breakpoint (live step mode: runs the guest)" },
	{ 'd', "d", A_RECORD, VIEW_ANY, "the current event's whole record, wrapped (again: close)" },
	{ '>', ">", A_SHIFT_RIGHT, VIEW_ANY, "Timeline, Compare: show the lines' right part (< back)" },
	{ '<', "<", A_SHIFT_LEFT, VIEW_ANY, "Timeline, Compare: shift the lines back left" },
	{ 'm', "m", A_MARK, VIEW_ANY, "mark this event: the bottom line counts from it (again: off)" },
	/* views */
	{ KEY_TAB, "Tab", A_VIEW_NEXT, VIEW_ANY, "next view" },
	{ KEY_BTAB, "S-Tab", A_VIEW_PREV, VIEW_ANY, "previous view" },
	{ '1', "1", A_VIEW_PATH, VIEW_ANY, "Path: the event across the four lanes, the six steps" },
	{ '2', "2", A_VIEW_TIMELINE, VIEW_ANY, "Timeline: every event, filtered and searched" },
	{ '3', "3", A_VIEW_VIRTQ, VIEW_ANY, "Virtqueue: descriptor table, avail and used rings" },
	{ '4', "4", A_VIEW_COMPARE, VIEW_ANY, "Compare: two traces, request by request" },
	{ '5', "5", A_VIEW_STATS, VIEW_ANY, "Stats: exits by reason and by device" },
	{ 'w', "w", A_SWAP, VIEW_ANY, "with two traces: show the other one in views 1-3, 5" },
	/* view-specific */
	{ 'f', "f", A_FILTER, VIEW_TIMELINE, "filter: kind= reason= port= addr= dev= vcpu=" },
	{ 'F', "F", A_FILTER_CLEAR, VIEW_TIMELINE, "clear the filter" },
	{ ']', "]", A_QUEUE_NEXT, VIEW_VIRTQ, "next queue" },
	{ '[', "[", A_QUEUE_PREV, VIEW_VIRTQ, "previous queue" },
	/* the program */
	{ '?', "?", A_HELP, VIEW_ANY, "this help (every key)" },
	{ KEY_ESC, "Esc", A_CLOSE, VIEW_ANY, "close the help, cancel a prompt" },
	{ 'q', "q", A_QUIT, VIEW_ANY, "quit (in live mode this stops the VM)" },
};
const size_t viz_key_count = sizeof viz_keys / sizeof viz_keys[0];

enum action keys_lookup(int key, int view)
{
	/* The view's own binding first: it is more specific than a global one. */
	for (size_t i = 0; i < viz_key_count; i++)
		if (viz_keys[i].key == key && viz_keys[i].view == view)
			return viz_keys[i].action;
	for (size_t i = 0; i < viz_key_count; i++)
		if (viz_keys[i].key == key && viz_keys[i].view == VIEW_ANY)
			return viz_keys[i].action;
	return A_NONE;
}

/*
 * Names a script may use (hvviz --keys): the table's own names plus the keys a prompt needs.
 * A single character is itself; anything longer must be a name, so "Tab" is the Tab key and
 * never the three letters.
 */
static const struct { const char *name; int code; } extra_names[] = {
	{ "Enter", '\n' }, { "Backspace", KEY_BACKSPACE }, { "Space", ' ' }, { "BTab", KEY_BTAB },
	{ "Resize", KEY_RESIZE },
	{ "C-u", PROMPT_CTRL_U }, { "C-w", PROMPT_CTRL_W },
};

int keys_code_of_name(const char *name)
{
	if (name[0] && !name[1])
		return (unsigned char)name[0];
	for (size_t i = 0; i < viz_key_count; i++)
		if (strlen(viz_keys[i].name) > 1 && strcasecmp(viz_keys[i].name, name) == 0)
			return viz_keys[i].key;
	for (size_t i = 0; i < sizeof extra_names / sizeof extra_names[0]; i++)
		if (strcasecmp(extra_names[i].name, name) == 0)
			return extra_names[i].code;
	return -1;
}
