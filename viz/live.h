/*
 * live.h - hvviz watching a VM that is running (hv run --viz[=step]).
 *
 * hv writes its trace file as usual, flushing it every 50 ms (in step mode after every exit),
 * and starts hvviz on the same file with one end of a socket pair (--live FILE --control-fd N).
 * hvviz re-reads the file's new records every tenth of a second (model_refresh). With
 * --viz=step, hv waits before every KVM_RUN until hvviz sends it one byte: the user pressing
 * "next" on the last event is what lets the guest run to its next exit. When the VM stops, hv
 * sends its status and reason, closes its end, and hvviz says so; when the user quits hvviz,
 * hv stops the VM.
 * Textbook: chapter 6 "Watching it happen", section "Live".
 */
#ifndef VIZ_LIVE_H
#define VIZ_LIVE_H

#include "viz.h"

/* Set the app up for live mode on an open socket (ctl_fd, -1 for none). */
void live_init(struct app *a, int ctl_fd, int step_mode);
/* Called by the main loop on every key timeout and key: pick up new records, notice that hv
 * closed the socket, and move to the new event if we were waiting for it. Returns 1 when the
 * screen needs redrawing. */
int live_poll(struct app *a);
/* A_NEXT on the last event: in step mode, ask hv for one more exit (one byte). Returns 1 if
 * asked, 0 if there is nothing to ask (not live, not step mode, VM stopped). */
int live_request_step(struct app *a);

#endif
