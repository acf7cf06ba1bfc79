/*
 * mark.h - a mark on one event and what happened between it and the current event: how many
 * events, how many exits reached hv at each device, and how much time passed.
 *
 * Concept: questions like "how many exits does one character cost?" are differences between
 * two moments of a trace. With a mark (`m`) on the system call and the current event on its
 * return, the bottom line reads the answer off the screen: 36 exits at the UART for 18
 * characters is 2 per character, chapter 3's IN-then-OUT per byte. No arithmetic on sequence
 * numbers. Textbook: chapter 6 "Watching it happen", section "Mark and count".
 *
 * The count covers the events after the lower of the two and up to the higher one, (lo, hi]:
 * the marked event itself is where counting starts, as a stopwatch starts at zero. Moving the
 * current event by a few updates the count by a few records (mark_move), so stepping with a
 * mark set stays as fast as without one, even in a trace of ten million events.
 */
#ifndef VIZ_MARK_H
#define VIZ_MARK_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct mark_count {
	uint64_t lo, hi;                      /* the range counted: events lo+1 .. hi */
	uint64_t exits;                       /* HVT_EXIT records in it (exits that reached hv) */
	uint64_t by_device[VIZ_DEV_MAX];      /* the same, by device (viz_device_of) */
	uint64_t ns;                          /* time_ns of hi minus time_ns of lo (0 if earlier) */
};

/* Count (lo, hi] of m from scratch (lo <= hi < m->count). */
void mark_count(const struct model *m, uint64_t lo, uint64_t hi, struct mark_count *c);
/* Move the counted range's upper end to hi (lo stays): adds or removes only the records in
 * between. hi must be >= c->lo and < m->count. */
void mark_move(const struct model *m, uint64_t hi, struct mark_count *c);
/*
 * The bottom line's words: "mark 1449 to 1594: 145 events, 36 exits (uart 36), 1.234 ms",
 * the devices largest first, as many as fit in `width` columns (at least the total).
 */
void mark_format(const struct mark_count *c, uint64_t mark, uint64_t cur, char *buf, size_t len,
		 int width);

#endif
