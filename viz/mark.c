/*
 * mark.c - count what happened between a marked event and the current one (mark.h).
 *
 * Concept: a difference between two moments of a trace, read off the screen: events, exits by
 * device, time (textbook chapter 6, "Mark and count"). The counts are of exits that reached
 * hv, the only ones a trace records one by one; exits KVM handled itself are whole-run
 * totals only (the Stats view's "in-kernel exits").
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mark.h"
#include "viz.h"

/* Add (sign = +1) or remove (-1) record i's share of the count. */
static void mark_apply(const struct model *m, uint64_t i, int sign, struct mark_count *c)
{
	struct hvt_record r;
	model_get(m, i, &r);
	if (r.kind != HVT_EXIT)
		return;
	enum viz_dev d = viz_device_of(&r);
	if (sign > 0) {
		c->exits++;
		c->by_device[d]++;
	} else {
		c->exits--;
		c->by_device[d]--;
	}
}

/* Time between two events; records of two threads can be a few ns out of order. */
static uint64_t mark_ns(const struct model *m, uint64_t lo, uint64_t hi)
{
	struct hvt_record a, b;
	model_get(m, lo, &a);
	model_get(m, hi, &b);
	return b.time_ns > a.time_ns ? b.time_ns - a.time_ns : 0;
}

void mark_count(const struct model *m, uint64_t lo, uint64_t hi, struct mark_count *c)
{
	memset(c, 0, sizeof *c);
	c->lo = c->hi = lo;
	mark_move(m, hi, c);
}

void mark_move(const struct model *m, uint64_t hi, struct mark_count *c)
{
	for (uint64_t i = c->hi + 1; i <= hi; i++)
		mark_apply(m, i, +1, c);
	for (uint64_t i = c->hi; i > hi; i--)
		mark_apply(m, i, -1, c);
	c->hi = hi;
	c->ns = mark_ns(m, c->lo, c->hi);
	/* Reading records maps pages of the file; give them back as a jump does (model.h). */
	if (hi > c->lo + 65536)
		model_trim(m);
}

void mark_format(const struct mark_count *c, uint64_t mark, uint64_t cur, char *buf, size_t len,
		 int width)
{
	char t[32];
	ui_time(t, sizeof t, c->ns);
	uint64_t events = c->hi - c->lo;
	int n = snprintf(buf, len, "mark %" PRIu64 " to %" PRIu64 ": %" PRIu64 " event%s, %" PRIu64
			 " exit%s", mark, cur, events, events == 1 ? "" : "s", c->exits,
			 c->exits == 1 ? "" : "s");
	if (n < 0 || (size_t)n >= len)
		return;
	size_t o = (size_t)n;
	/* The devices, largest first (ties: table order), while the line still fits with what
	 * must follow: ")" or ", ...)" when some are left out, then ", <time>". */
	int order[VIZ_DEV_MAX], nd = 0;
	for (int d = 0; d < VIZ_DEV_MAX; d++) {
		if (!c->by_device[d])
			continue;
		int j = nd++;
		while (j > 0 && c->by_device[order[j - 1]] < c->by_device[d]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = d;
	}
	int shown = 0;
	for (; shown < nd; shown++) {
		int d = order[shown];
		char item[48];
		int k = snprintf(item, sizeof item, "%s%s %" PRIu64, shown ? ", " : " (",
				 d == VIZ_DEV_NONE ? "no device" : viz_device_name((enum viz_dev)d),
				 c->by_device[d]);
		size_t tail = (shown + 1 < nd ? 6 : 1) + 2 + strlen(t);
		if ((int)(o + (size_t)k + tail) > width || o + (size_t)k + 1 >= len)
			break;
		memcpy(buf + o, item, (size_t)k + 1);
		o += (size_t)k;
	}
	if (shown > 0 && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%s)", shown < nd ? ", ..." : "");
	if (o >= len)
		return;
	snprintf(buf + o, len - o, ", %s", t);
}
