/*
 * live.c - hvviz watching a VM that is still running (hv run --viz, hv run --viz=step).
 *
 * Concept: a trace file that is still being written is just a file that grows. hv hands its
 * records to the file every 50 ms, and in step mode after every exit (hv/vizlink.c), so "live"
 * needs nothing new from the model: every tenth of a second the main loop calls live_poll,
 * which asks model_refresh for the records appended since the last look. The only other
 * channel is a socket to hv:
 *
 *   we send    one byte per "next" on the last event, in step mode: hv waits for it before
 *              every KVM_RUN, so one key runs the guest to exactly one more exit. This is the
 *              exit loop of textbook chapter 3 slowed down to human speed: the guest is
 *              stopped between exits, which is exactly where hv is in control.
 *   hv sends   "S <status> <why>\n" when the VM has stopped (why: hv's reason, the line it
 *              prints on the terminal once we are gone), then closes its end.
 *   we close   when the user quits: hv sees end-of-file and stops the VM (status 16, like
 *              Ctrl-C), so quitting hvviz never leaves a guest running unseen.
 *
 * Order matters when reading: the socket first, then the file. hv writes the last records
 * before it sends "S", so once we have read "S", a refresh is sure to find them all.
 * Textbook: chapter 6 "Watching it happen", section "Live".
 */
#include "live.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "layout.h"

void live_init(struct app *a, int ctl_fd, int step_mode)
{
	a->live = 1;
	a->step_mode = step_mode;
	a->waiting = 0;
	a->vm_done = 0;
	a->ctl_fd = ctl_fd;
	/*
	 * Non-blocking: live_poll runs between two keys and must never wait for hv. Close-on-exec:
	 * nothing hvviz might start should hold hv's socket open (hv would then never see our
	 * end-of-file). A descriptor that is not open means hv did not start us: no control.
	 */
	if (ctl_fd >= 0) {
		int fl = fcntl(ctl_fd, F_GETFL);
		if (fl < 0 || fcntl(ctl_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(ctl_fd, F_SETFD, FD_CLOEXEC) < 0) {
			app_message(a, "live: --control-fd %d is not open: hvviz cannot control the VM",
				    ctl_fd);
			a->ctl_fd = -1;
		}
	}
}

/*
 * hv's exit statuses (hv/layout.h) in words: even ones are hv's, odd ones the guest's own
 * value V written to the exit port, as ((V << 1) | 1) & 0xFF.
 */
static const char *status_text(int status, char *buf, size_t len)
{
	switch (status) {
	case HV_EXIT_OK: return "the guest halted";
	case HV_EXIT_USAGE: return "hv refused to start: see the log";
	case HV_EXIT_HOST: return "a host problem: see the log";
	case HV_EXIT_SHUTDOWN: return "triple fault";
	case HV_EXIT_FAIL_ENTRY: return "VM entry failed";
	case HV_EXIT_INTERNAL: return "KVM internal error";
	case HV_EXIT_GUEST_ERROR: return "hv stopped the guest: see the log";
	case HV_EXIT_TIMEOUT: return "--timeout expired";
	case HV_EXIT_INTERRUPTED: return "hv was interrupted (Ctrl-C, SIGTERM)";
	}
	if (status & 1)
		snprintf(buf, len, "the guest wrote %d to the exit port", (status >> 1) & 0x7F);
	else
		snprintf(buf, len, "status %d", status);
	return buf;
}

/* The VM has stopped: `why` is hv's own reason (may be empty), status -1: hv said nothing. */
static void vm_stopped(struct app *a, int status, const char *why)
{
	char buf[64];
	a->vm_done = 1;
	if (status < 0)
		app_message(a, "hv closed the connection: the VM has stopped; the trace stays here to "
			    "read (q quits)");
	else
		app_message(a, "the VM has stopped (status %d: %s); the trace stays here to read (q "
			    "quits)", status, why && why[0] ? why : status_text(status, buf, sizeof buf));
}

/*
 * hv's last line, "S <status> <why>\n": the status, then hv's reason in its own words (the
 * one it prints on the terminal once we are gone), possibly empty. Returns 0 if `line` is not
 * that line. The reason ends at the newline; anything after it is not ours to show.
 */
static int parse_status(const char *line, int *status, char *why, size_t len)
{
	int used = 0;
	if (sscanf(line, "S %d%n", status, &used) != 1)
		return 0;
	const char *p = line + used;
	while (*p == ' ')
		p++;
	size_t n = strcspn(p, "\n");
	snprintf(why, len, "%.*s", (int)(n < len ? n : len - 1), p);
	return 1;
}

/*
 * Everything hv has sent since the last look. hv sends at most one short line, "S <status>
 * <why>", in one write just before closing, so it arrives whole; end-of-file without it still
 * means the VM is gone (hv was killed, for one).
 */
static int read_control(struct app *a)
{
	char buf[512];
	size_t used = 0;
	int eof = 0;
	/* Non-blocking reads until the socket is empty (EAGAIN) or closed (0). A read of 0
	 * bytes is how a stream socket says "the other side closed": there is no other signal. */
	while (a->ctl_fd >= 0) {
		ssize_t n = read(a->ctl_fd, buf + used, sizeof(buf) - 1 - used);
		if (n > 0) {
			used += (size_t)n;
			if (used < sizeof(buf) - 1)
				continue;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			eof = 1;
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	buf[used] = '\0';
	int status;
	char why[256];
	int changed = 0;
	if (!a->vm_done && parse_status(buf, &status, why, sizeof why)) {
		vm_stopped(a, status, why);
		changed = 1;
	}
	if (eof) {
		if (!a->vm_done) {
			vm_stopped(a, -1, NULL);
			changed = 1;
		}
		close(a->ctl_fd);
		a->ctl_fd = -1;
	}
	return changed;
}

/*
 * hv has gone (the socket is closed) and the terminal's foreground process group is no longer
 * ours: hv was killed, and the shell that waited for it took the terminal back. We are then a
 * background process nobody can type to (the user's q goes to the shell) that still draws over
 * the shell's prompt, so we leave. While hv lives, or when hv is killed in a shell without job
 * control, the terminal stays ours and the user quits as usual. tcgetpgrp fails when stdin is
 * no terminal (the unit tests): nothing to decide then.
 */
static int terminal_lost(const struct app *a)
{
	if (a->ctl_fd >= 0)
		return 0;
	pid_t fg = tcgetpgrp(STDIN_FILENO);
	return fg > 0 && fg != getpgrp();
}

static int is_exit(const struct hvt_record *r, void *arg)
{
	(void)arg;
	return r->kind == HVT_EXIT;
}

/*
 * `c` in step mode (app.c): the guest runs exit by exit until a record hits a breakpoint.
 * Called when the records of one more exit have arrived (from `before` on): stop at a hit, or
 * ask hv for the next exit. Each exit is still a full round trip through the user's socket,
 * so this runs at the main loop's pace, a few hundred exits a second: a debugger's continue
 * that a student can watch go by, not a fast-forward.
 */
static void continue_step(struct app *a, uint64_t before)
{
	struct model *m = app_model(a);
	uint64_t hit = model_find(m, before ? before - 1 : MODEL_NONE, +1, app_breakpoint_hit, a);
	if (hit != MODEL_NONE) {
		a->continuing = 0;
		app_break_at(a, hit);
		return;
	}
	if (!live_request_step(a)) {
		a->continuing = 0;
		app_message(a, "the VM stopped before any breakpoint was hit");
		return;
	}
	app_message(a, "running the guest to the next breakpoint (any key stops) ...");
}

int live_poll(struct app *a)
{
	if (!a->live)
		return 0;
	int redraw = read_control(a);
	if (terminal_lost(a)) {
		a->quit = 1;
		return 0;
	}
	struct model *m = app_model(a);
	uint64_t before = m->count;
	/* Free-running and on the last event: the user is watching the end, keep it in view
	 * (like `tail -f`). Anywhere else they are reading, and the event stays put. */
	int follow = !a->step_mode && before > 0 && a->cur[a->shown] == before - 1;
	char err[256];
	int64_t added = model_refresh(m, err, sizeof err);
	if (added < 0) {
		app_message(a, "live: %s", err);
		return 1;
	}
	if (added > 0)
		redraw = 1;
	if (follow && m->count > before)
		app_goto(a, m->count - 1);
	/*
	 * We asked for one more exit: show it. The new records start with hv calling KVM_RUN and
	 * the VM entry; the exit is what the user wants to see. model_find starts after `before`
	 * and stops at the first exit, so this looks only at the records just added. They may
	 * come in two parts: hv's main thread hands over what it has every 50 ms (vizlink.c), so
	 * a guest that runs longer than that (halted, waiting for its timer) shows its entry
	 * first. Then we stay on the last record and keep waiting for the exit.
	 */
	if (a->waiting && m->count > before) {
		uint64_t at = model_find(m, before ? before - 1 : MODEL_NONE, +1, is_exit, NULL);
		app_goto(a, at != MODEL_NONE ? at : m->count - 1);
		if (at != MODEL_NONE) {
			a->waiting = 0;
			if (!a->vm_done)
				a->message[0] = '\0'; /* "running the guest ..." is over */
			if (a->continuing)
				continue_step(a, before);
		}
		redraw = 1;
	}
	if (a->waiting && a->vm_done) {
		a->waiting = 0; /* the VM stopped instead of exiting once more */
		redraw = 1;
	}
	if (a->continuing && a->vm_done && !a->waiting) {
		a->continuing = 0;
		redraw = 1;
	}
	return redraw;
}

int live_request_step(struct app *a)
{
	if (!a->live || !a->step_mode || a->vm_done || a->ctl_fd < 0)
		return 0;
	/* One key, one exit: asking again before the first answer came would run two. */
	if (a->waiting)
		return 1;
	/* MSG_NOSIGNAL: if hv is gone, the answer is EPIPE, not a SIGPIPE that kills us. */
	ssize_t n = send(a->ctl_fd, "n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == 1) {
		a->waiting = 1;
		return 1;
	}
	if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
		vm_stopped(a, -1, NULL);
	return 0;
}
