/*
 * view_stats.c - hvviz's Stats view: what `hv trace stats` says, on one screen, with bars.
 *
 * Concept: the cost of virtualization is the cost of exits, so the first questions about a
 * run are the ones kvm_stat answers for a live VM: how many exits, why, for which device, and
 * how much time each kind cost. This view answers them for a trace, and puts next to them the
 * one number a trace alone cannot give: KVM's own count of every exit. Most exits (EPT faults,
 * host interrupts, many CPUID/MSR accesses, ioeventfd doorbells) are handled inside the
 * kernel and never come back to hv, so "exits KVM saw" is larger than "exits that reached hv",
 * and the difference is work hv never saw. The words and numbers are the ones `hv trace
 * stats` prints (hv/trace_stats.c), so a student can check one against the other.
 * Textbook: chapter 3 "Exits", sections "Counting exits", "Exits hv never sees" and "What an
 * exit costs"; appendix A, section A.11 "How `hv trace stats` is computed"; chapter 6
 * "Watching it happen".
 *
 * Speed: everything here comes from struct model_stats, the totals viz/model.c gathers once
 * while it checks the file. Drawing never reads a record, so a 10-million-event trace draws
 * as fast as a small one.
 */
#include "statsview.h"
#include "viz.h"
#include "trace_names.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- pure helpers (statsview.h) ---- */

/*
 * Sort by count, largest first; ties keep the lower index first, exactly like `hv trace
 * stats`, so both list the rows in the same order. At most a dozen rows: an insertion sort.
 */
int stats_order(const uint64_t *counts, int n, int *order)
{
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (counts[i] == 0)
			continue;
		/* Strictly greater moves up: an equal count stays behind the earlier index. */
		int j = k++;
		for (; j > 0 && counts[i] > counts[order[j - 1]]; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	return k;
}

int stats_view_rows(int nlines, int rows)
{
	if (nlines <= rows)
		return rows;
	return rows > 1 ? rows - 1 : 1;
}

int stats_scroll_clamp(int scroll, int nlines, int view_rows)
{
	int last = nlines - view_rows; /* the first line of the last full page */
	if (scroll > last)
		scroll = last;
	return scroll < 0 ? 0 : scroll;
}

/* ---- building lines ---- */

/* One list item: a name and a number, or a time with its share (at most about 60 bytes). */
#define STATS_ITEM 80

/*
 * Where lines go while they are built. The view is short (a few dozen lines), so it is
 * rebuilt from the model's totals on every draw instead of being cached: nothing can go
 * stale when a live trace grows (hv run --viz), and the cost does not depend on the trace.
 */
struct stats_out {
	struct stats_line *l;
	int n, max, width;
	struct stats_line spare; /* written to when the array is full, so callers never check */
};

static struct stats_line *out_line(struct stats_out *o, enum ui_role role, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct stats_line *out_line(struct stats_out *o, enum ui_role role, const char *fmt, ...)
{
	struct stats_line *l = o->n < o->max ? &o->l[o->n++] : &o->spare;
	memset(l, 0, sizeof *l);
	l->role = role;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof l->text, fmt, ap);
	va_end(ap);
	return l;
}

static void out_bar(struct stats_line *l, uint64_t value, uint64_t max, enum ui_role role)
{
	l->bar = 1;
	l->value = value;
	l->max = max;
	l->bar_role = role;
}

/*
 * Items joined by ", " after `lead`, wrapped at the screen width; continuation lines are
 * indented under the first item. Lists of op counts differ per trace, so they wrap instead
 * of being cut off at the edge. role: the attribute of every line of the list.
 */
static void out_list(struct stats_out *o, enum ui_role role, const char *lead,
		     char items[][STATS_ITEM], int n)
{
	int indent = (int)strlen(lead);
	int room = (o->width < STATS_TEXT_MAX ? o->width : STATS_TEXT_MAX) - 1;
	struct stats_line *l = out_line(o, role, "%s", lead);
	int first = 1;
	for (int i = 0; i < n; i++) {
		int len = (int)strlen(l->text);
		int need = (first ? 0 : 2) + (int)strlen(items[i]);
		if (!first && len + need > room) {
			/* Leave the comma on this line: the list visibly goes on below. */
			strncat(l->text, ",", sizeof l->text - (size_t)len - 1);
			l = out_line(o, role, "%*s", indent, "");
			first = 1;
			len = indent;
		}
		snprintf(l->text + len, sizeof l->text - (size_t)len, "%s%s", first ? "" : ", ",
			 items[i]);
		first = 0;
	}
}

/* "name count" for each op with a count, lo..hi; returns how many items it made. */
static int count_items(char items[][STATS_ITEM], const uint64_t *counts, unsigned lo, unsigned hi,
		       const char *(*name)(unsigned))
{
	int n = 0;
	for (unsigned i = lo; i <= hi; i++)
		if (counts[i])
			snprintf(items[n++], STATS_ITEM, "%s %" PRIu64, name(i), counts[i]);
	return n;
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* hv's time over all reasons. Durations come from the file: a hostile one could make the sum
 * wrap around to a small, believable number, so it stops at the largest value instead. */
static uint64_t hv_ns_total(const struct model_stats *s)
{
	uint64_t t = 0;
	for (int r = 0; r <= HVT_REASON_MAX; r++)
		t = s->hv_ns_by_reason[r] > UINT64_MAX - t ? UINT64_MAX : t + s->hv_ns_by_reason[r];
	return t;
}

/*
 * Totals. Only `exit` records are exits: the other three records of a round trip
 * (run-return, run-call, entry) are transitions around the same exit (appendix A, A.4), so a
 * whole run has about four events per exit plus the counters at the end. The duration is the
 * time of the last record (time 0 is when recording started).
 */
static void build_totals(struct stats_out *o, const struct model *m)
{
	const struct model_stats *s = &m->stats;
	uint64_t nexits = s->by_kind[HVT_EXIT];
	char items[4][STATS_ITEM], t[32];
	int n = 0;
	snprintf(items[n++], STATS_ITEM, "%" PRIu64 " event%s", m->count, m->count == 1 ? "" : "s");
	snprintf(items[n++], STATS_ITEM, "%" PRIu64 " exit%s seen by hv", nexits,
		 nexits == 1 ? "" : "s");
	ui_time(t, sizeof t, s->last_ns);
	snprintf(items[n++], STATS_ITEM, "duration %s", t);
	/* Exits per second over the whole recording: the rate kvm_stat shows for a live VM. */
	if (s->last_ns > 0)
		snprintf(items[n++], STATS_ITEM, "%.1f exits/s",
			 (double)nexits * 1e9 / (double)s->last_ns);
	out_list(o, UI_HEADER, m->live ? "Totals (live, growing): " : "Totals: ", items, n);
	/* Notes are lists too, so they wrap at 80 columns instead of losing their end. */
	if (m->header.dropped) {
		snprintf(items[0], STATS_ITEM, "%" PRIu64 " later events were not recorded "
			 "(--trace-limit)", m->header.dropped);
		snprintf(items[1], STATS_ITEM, "so these numbers cover the start of the run only");
		out_list(o, UI_ERROR, "NOTE: ", items, 2);
	}

	/*
	 * Where the time went. hv cannot see the instant of a VM entry or exit from user space:
	 * those records carry HVT_F_TIME_BOUND and the time of the KVM_RUN call or return. So
	 * guest_ns (each entry to the next exit) is the time spent inside KVM_RUN: the guest
	 * running plus KVM's own work, which on a PVM host (KVM emulating the guest instruction
	 * by instruction) is most of it. hv's part is the sum of the exits' duration_ns (KVM_RUN
	 * return to the next call). The rest is start-up before the first KVM_RUN and the gaps
	 * around the records.
	 */
	uint64_t hv = hv_ns_total(s), guest = s->guest_ns;
	ui_time(t, sizeof t, guest);
	snprintf(items[0], STATS_ITEM, "in KVM_RUN (guest + KVM) %s (%.1f%%)", t,
		 share(guest, s->last_ns));
	ui_time(t, sizeof t, hv);
	snprintf(items[1], STATS_ITEM, "hv handling exits %s (%.1f%%)", t, share(hv, s->last_ns));
	n = 2;
	if (guest + hv <= s->last_ns && guest + hv >= guest) { /* no wrap on hostile values */
		ui_time(t, sizeof t, s->last_ns - guest - hv);
		snprintf(items[n++], STATS_ITEM, "start-up and the rest %s", t);
	}
	out_list(o, UI_NORMAL, "  time: ", items, n);
}

/*
 * Exits that reached hv, by reason, with the time hv spent on them. The share is of all exits
 * hv saw (as in `hv trace stats`); avg is the total over the count, so it matches the avg
 * column there (in other units: ui_time picks ns, us or ms).
 */
static void build_reasons(struct stats_out *o, const struct model_stats *s)
{
	uint64_t nexits = s->by_kind[HVT_EXIT];
	int order[HVT_REASON_MAX + 1];
	int n = stats_order(s->exits_by_reason, HVT_REASON_MAX + 1, order);
	out_line(o, UI_HEADER, "Exits that reached hv, by reason (bars: count)");
	if (n == 0) {
		out_line(o, UI_DIM, "  (no exits reached hv)");
		return;
	}
	out_line(o, UI_DIM, "  %-12s %9s %7s %11s %9s", "reason", "count", "share", "time in hv",
		 "avg");
	/* Bars are scaled to the largest row, so the biggest cost is always a full bar. */
	uint64_t top = s->exits_by_reason[order[0]];
	for (int i = 0; i < n; i++) {
		int r = order[i];
		uint64_t c = s->exits_by_reason[r], ns = s->hv_ns_by_reason[r];
		char total[32], avg[32];
		ui_time(total, sizeof total, ns);
		ui_time(avg, sizeof avg, ns / c); /* c > 0: only rows with a count are listed */
		struct stats_line *l = out_line(o, UI_NORMAL, "  %-12s %9" PRIu64 " %6.2f%% %11s %9s",
						hvt_reason_name((unsigned)r), c, share(c, nexits),
						total, avg);
		out_bar(l, c, top, UI_BAR_A);
	}
}

/*
 * The same exits by the device that owns the port or address (hv/layout.h's map, the same for
 * every trace). Exits with no port or address (HLT, debug, ...) form their own row.
 * This is where the two disk paths of chapter 4 differ at a glance: the legacy ATA disk
 * writes a sector with one exit per 16-bit word (`rep outsw` is 256 exits), while
 * virtio-blk needs a handful of MMIO exits per batch of requests, or none at all when the
 * doorbell goes through an ioeventfd. Textbook: chapter 4 "Two I/O paths", section
 * "Counting the difference".
 */
static void build_devices(struct stats_out *o, const struct model_stats *s)
{
	uint64_t nexits = s->by_kind[HVT_EXIT];
	int order[VIZ_DEV_MAX];
	int n = stats_order(s->exits_by_device, VIZ_DEV_MAX, order);
	if (n == 0)
		return;
	out_line(o, UI_HEADER, "Exits by device (from the port or address)");
	out_line(o, UI_DIM, "  %-12s %9s %7s", "device", "count", "share");
	uint64_t top = s->exits_by_device[order[0]];
	for (int i = 0; i < n; i++) {
		int d = order[i];
		uint64_t c = s->exits_by_device[d];
		const char *name = d == VIZ_DEV_NONE ? "(no device)" : viz_device_name((enum viz_dev)d);
		struct stats_line *l = out_line(o, UI_NORMAL, "  %-12s %9" PRIu64 " %6.2f%%", name,
						c, share(c, nexits));
		out_bar(l, c, top, UI_BAR_A);
	}
}

/*
 * What KVM counted. hv reads KVM's per-vCPU binary statistics (KVM_GET_STATS_FD) before and
 * after the run and records the difference as counter records at the end of the trace. The
 * "exits" counter counts every VM exit, handled in the kernel or passed to hv, so it is at
 * least hv's count; the difference is what KVM handled without hv. A '#' bar for KVM's count
 * and a '=' bar for hv's, on the same scale, make the gap visible without colour.
 */
static void build_kvm(struct stats_out *o, const struct model *m)
{
	const struct model_stats *s = &m->stats;
	uint64_t nexits = s->by_kind[HVT_EXIT], kvm = s->counters[HVT_C_EXITS];
	out_line(o, UI_HEADER, "Counted by KVM (exits that did not reach hv are only visible here)");
	if (s->by_kind[HVT_COUNTER] == 0) {
		/* Counters are written when the run ends: a live trace has none yet. */
		if (m->live) {
			out_line(o, UI_DIM, "  (not yet: hv records KVM's counters when the run ends)");
		} else {
			char items[2][STATS_ITEM] = { "no KVM binary statistics on this kernel",
						      "or the run did not end normally)" };
			out_list(o, UI_DIM, "  (none recorded: ", items, 2);
		}
		return;
	}
	uint64_t top = kvm > nexits ? kvm : nexits;
	struct stats_line *l = out_line(o, UI_NORMAL, "  %-22s %9" PRIu64, "exits KVM saw", kvm);
	out_bar(l, kvm, top, UI_BAR_A);
	l = out_line(o, UI_NORMAL, "  %-22s %9" PRIu64, "exits that reached hv", nexits);
	out_bar(l, nexits, top, UI_BAR_B);
	/*
	 * KVM's count below hv's would mean counters read at the wrong moment, a missing "exits"
	 * counter, or a damaged file. A negative "handled inside KVM" would teach a falsehood, so
	 * then the view says why there is no difference instead (the same rule as trace_stats.c).
	 */
	if (kvm >= nexits && kvm > 0)
		out_line(o, UI_NORMAL, "  %-22s %9" PRIu64 "  (%.2f%% never left the kernel)",
			 "handled inside KVM", kvm - nexits, share(kvm - nexits, kvm));
	else
		out_line(o, UI_DIM, "  (no comparison: KVM's exits counter is missing or below hv's "
				    "count)");
	/*
	 * The other counters, by KVM's own names: `grep -rn io_exits arch/x86/kvm` finds the line
	 * that increments each, and that line is its meaning. A counter the kernel does not
	 * provide is absent from the trace, and the model keeps only values, so a zero here may
	 * also mean "absent": only counters with a value are listed.
	 */
	char items[HVT_C_MAX][STATS_ITEM];
	int n = count_items(items, s->counters, HVT_C_EXITS + 1, HVT_C_MAX, hvt_counter_name);
	if (n < HVT_C_MAX - 1)
		snprintf(items[n++], STATS_ITEM, "the rest 0 or absent");
	out_list(o, UI_NORMAL, "  ", items, n);
}

/*
 * Device work: steps hv's devices took (virtqueue steps, disk system calls, interrupt
 * delivery). These are not exits; they show what the exits caused, and, for a virtio doorbell
 * through an ioeventfd, work done with no exit at all. Shown only when the trace has any.
 */
static void build_device_work(struct stats_out *o, const struct model_stats *s)
{
	if (!s->by_kind[HVT_VQ] && !s->by_kind[HVT_DISK] && !s->by_kind[HVT_IRQ])
		return;
	out_line(o, UI_HEADER, "Device work (steps hv's devices took; not exits)");
	char items[HVT_VQ_OP_MAX + 1][STATS_ITEM];
	int n;
	if ((n = count_items(items, s->vq_by_op, 1, HVT_VQ_OP_MAX, hvt_vq_op_name)) > 0)
		out_list(o, UI_NORMAL, "  virtqueue: ", items, n);
	if ((n = count_items(items, s->disk_by_op, 1, HVT_DISK_OP_MAX, hvt_disk_op_name)) > 0)
		out_list(o, UI_NORMAL, "  disk file: ", items, n);
	if ((n = count_items(items, s->irq_by_op, 1, HVT_IRQ_OP_MAX, hvt_irq_op_name)) > 0)
		out_list(o, UI_NORMAL, "  interrupt: ", items, n);
}

/* Every record by kind: the check that events = 4 x exits + counters (+ device steps). */
static void build_kinds(struct stats_out *o, const struct model_stats *s)
{
	char items[HVT_KIND_MAX + 1][STATS_ITEM];
	int n = count_items(items, s->by_kind, 1, HVT_KIND_MAX, hvt_kind_name);
	if (n == 0)
		return;
	out_line(o, UI_HEADER, "Events by kind (one exit's round trip: exit, run-return, "
			       "run-call, entry)");
	out_list(o, UI_NORMAL, "  ", items, n);
}

/* "legacy" or "virtio" when the two traces took different I/O paths, else "this"/"other". */
static const char *path_word(const struct model *m, const struct model *other, int me)
{
	unsigned p = m->requests.n ? m->requests.v[0].path : 0;
	unsigned q = other && other->requests.n ? other->requests.v[0].path : 0;
	if (p && q && p != q)
		return p == HVT_DISK_ATA ? "legacy" : "virtio";
	return me ? "left" : "right";
}

/*
 * The three kinds of exit, named as Compare, `hv trace stats` and the textbook name them
 * (model.h, model_device_exits): device exits reached hv at the disk controller, other exits
 * reached hv anywhere else, in-kernel exits never reached hv. With two traces (--compare)
 * both traces' counts stand side by side in Compare's order (left, right) with the ratio
 * left/right, whichever trace `w` shows: the whole-run figures read the same here, at
 * Compare's last request and in chapter 4.
 */
static void build_three(struct stats_out *o, const struct model *m, const struct model *other)
{
	static const char *const name[4] = { "device exits", "other exits", "all exits to hv",
					     "in-kernel exits" };
	static const char *const what[4] = { "to the disk controller", "console, timer, hlt",
					     "device + other", "never reached hv" };
	uint64_t v[2][4];
	int known[2] = { 1, 1 };
	const struct model *ms[2] = { m, other };
	for (int i = 0; i < 2 && ms[i]; i++) {
		v[i][0] = model_device_exits(ms[i]);
		v[i][1] = model_other_exits(ms[i]);
		v[i][2] = v[i][0] + v[i][1];
		known[i] = model_kernel_exits(ms[i], &v[i][3]) == 0;
	}
	if (!other) {
		out_line(o, UI_HEADER, "Exits by kind (the counts Compare and chapter 4 use)");
		for (int k = 0; k < 4; k++) {
			if (k == 3 && !known[0])
				out_line(o, UI_DIM, "  %-16s %9s  (KVM's exit counter is not in this trace)",
					 name[k], "-");
			else
				out_line(o, UI_NORMAL, "  %-16s %9" PRIu64 "  %s", name[k], v[0][k], what[k]);
		}
		return;
	}
	const char *w0 = path_word(m, other, 1), *w1 = path_word(other, m, 0);
	out_line(o, UI_HEADER, "Exits by kind, both traces (ratio = %s/%s)", w0, w1);
	out_line(o, UI_DIM, "  %-16s %9s %9s  %-8s", "", w0, w1, "ratio");
	for (int k = 0; k < 4; k++) {
		char r[32];
		if (k == 3 && !(known[0] && known[1])) {
			out_line(o, UI_DIM, "  %-16s  (KVM's exit counter is not in both traces)",
				 name[k]);
			continue;
		}
		ui_ratio(r, sizeof r, v[0][k], v[1][k]);
		out_line(o, UI_NORMAL, "  %-16s %9" PRIu64 " %9" PRIu64 "  %-8s %s", name[k], v[0][k],
			 v[1][k], r, what[k]);
	}
}

/*
 * The order is the order of importance, so that at 80x24 everything that matters is on the
 * first page: totals, why exits happened, for which device, and what KVM saw. Device steps
 * and the per-kind check follow below, one scroll away.
 */
int stats_build(const struct model *m, int width, struct stats_line *out, int max)
{
	return stats_build_pair(m, NULL, NULL, width, out, max);
}

int stats_build_pair(const struct model *m, const struct model *left, const struct model *right,
		     int width, struct stats_line *out, int max)
{
	struct stats_out o = { .l = out, .max = max, .width = width };
	build_totals(&o, m);
	out_line(&o, UI_NORMAL, "%s", "");
	if (left && right)
		build_three(&o, left, right);
	else
		build_three(&o, m, NULL);
	out_line(&o, UI_NORMAL, "%s", "");
	build_reasons(&o, &m->stats);
	out_line(&o, UI_NORMAL, "%s", "");
	build_devices(&o, &m->stats);
	out_line(&o, UI_NORMAL, "%s", "");
	build_kvm(&o, m);
	if (m->stats.by_kind[HVT_VQ] || m->stats.by_kind[HVT_DISK] || m->stats.by_kind[HVT_IRQ]) {
		out_line(&o, UI_NORMAL, "%s", "");
		build_device_work(&o, &m->stats);
	}
	out_line(&o, UI_NORMAL, "%s", "");
	build_kinds(&o, &m->stats);
	return o.n;
}

/* ---- the view ---- */

/* With --compare, the left (0) or right (1) trace: both stand side by side. */
static const struct model *stats_pair(const struct app *a, int side)
{
	return a->nmodels == 2 && a->m[0] && a->m[1] ? a->m[side] : NULL;
}

/*
 * One line per row, from the scroll position. Section titles and notes differ by attribute
 * (ui_attr), but never only by it: titles are flush left and rows are indented, and the two
 * bar series use different characters, so a monochrome or NO_COLOR terminal shows it all.
 */
static void stats_draw(struct app *a, WINDOW *w)
{
	int rows, cols;
	getmaxyx(w, rows, cols);
	const struct model *m = app_model(a);
	struct stats_line lines[STATS_LINES_MAX];
	int n = m ? stats_build_pair(m, stats_pair(a, 0), stats_pair(a, 1), cols, lines, STATS_LINES_MAX) : 0;
	int view = stats_view_rows(n, rows);
	a->stats.scroll = stats_scroll_clamp(a->stats.scroll, n, view);

	for (int y = 0; y < view; y++) {
		int i = a->stats.scroll + y;
		if (i >= n) {
			ui_text(w, y, 0, cols, 1, ui_attr(a, UI_NORMAL), "%s", "");
			continue;
		}
		const struct stats_line *l = &lines[i];
		ui_text(w, y, 0, cols, 1, ui_attr(a, l->role), "%s", l->text);
		/* The bar fills from its column to one before the edge; a row whose text is too
		 * wide for that (never at 80 columns) keeps its text and loses the bar. */
		int bw = cols - STATS_BAR_COL - 1;
		if (l->bar && bw > 0 && (int)strlen(l->text) < STATS_BAR_COL)
			ui_bar(a, w, y, STATS_BAR_COL, bw, l->value, l->max, l->bar_role);
	}
	/* Not everything fits: say where we are and how to see the rest (in words, not colour). */
	if (view < rows)
		ui_text(w, rows - 1, 0, cols, 1, ui_attr(a, UI_DIM),
			"-- lines %d-%d of %d: Up/Down, PgUp/PgDn scroll --", a->stats.scroll + 1,
			a->stats.scroll + view, n);
}

/* Up/Down scroll by a line, PgUp/PgDn by a page less one line (one line of context stays). */
static int stats_act(struct app *a, enum action act, int rows)
{
	int page = rows > 2 ? rows - 2 : 1, delta;
	switch (act) {
	case A_UP: delta = -1; break;
	case A_DOWN: delta = 1; break;
	case A_PAGE_UP: delta = -page; break;
	case A_PAGE_DOWN: delta = page; break;
	default: return 0;
	}
	/* Clamp against the same lines draw will show (a->cols: the width drawn last), so that
	 * Down at the end does not pile up presses that Up must undo first. */
	const struct model *m = app_model(a);
	struct stats_line lines[STATS_LINES_MAX];
	int n = m ? stats_build_pair(m, stats_pair(a, 0), stats_pair(a, 1), a->cols > 0 ? a->cols : VIZ_MIN_COLS, lines,
				   STATS_LINES_MAX) : 0;
	a->stats.scroll = stats_scroll_clamp(a->stats.scroll + delta, n, stats_view_rows(n, rows));
	return 1;
}

const struct view_ops view_stats = {
	.name = "Stats",
	.id = VIEW_STATS,
	.draw = stats_draw,
	.act = stats_act,
};
