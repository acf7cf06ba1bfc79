/*
 * test_live.c - unit tests for hvviz's live mode (viz/live.c) and the writer's flush it needs
 * (trace_flush_now, hv/trace_write.c).
 *
 * Concept: live mode is a small protocol (viz/live.h): hv appends records to the trace file and
 * flushes them after each exit in step mode (every 50 ms otherwise); hvviz sends one byte per
 * "next" in step mode; hv sends "S <status> <why>\n" and closes when the VM stops. These tests
 * play hv's part by hand: hv's own trace writer makes the file, one end of a socketpair is
 * "hv", and the app is driven through live_poll and live_request_step exactly as the main loop
 * drives it. No terminal is needed.
 * Textbook: chapter 6 "Watching it happen", section "Live".
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "live.h"
#include "viz.h"

/* ---- fixture: a trace being written, its model, an app, and hv's end of the socket ---- */

static char path[64];
static struct trace_writer *tw;
static struct model model;
static struct app app;
static int hv_end = -1; /* what hv holds: written to by the test, read to see our bytes */

static void live_setup(int step)
{
	strcpy(path, "/tmp/hvviz-live-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	char err[256];
	tw = trace_create(path, HVT_HOST_VMX, "unit.bin", err, sizeof err);
	cr_assert_not_null(tw, "%s", err);
	/* The header is written at once (trace_write.c): the model can open the file before any record. */
	cr_assert_eq(model_open(&model, path, 1, err, sizeof err), 0, "%s", err);
	struct model *mp[2] = { &model, NULL };
	app_init(&app, mp, 1);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	hv_end = sv[1];
	live_init(&app, sv[0], step);
}

static void live_teardown(void)
{
	char err[256];
	trace_close(tw, err, sizeof err);
	model_close(&model);
	if (app.ctl_fd >= 0)
		close(app.ctl_fd);
	if (hv_end >= 0)
		close(hv_end);
	unlink(path);
}

static void setup_step(void) { live_setup(1); }
static void setup_free(void) { live_setup(0); }

/* hv's part: one record of `kind` (an I/O exit on `port` for HVT_EXIT), not yet flushed. */
static void emit(uint8_t kind, uint64_t port)
{
	struct hvt_record r = { .kind = kind, .count = 1 };
	if (kind == HVT_EXIT) {
		r.reason = HVT_R_IO;
		r.addr = port;
		r.size = 1;
		r.flags = HVT_F_WRITE;
	}
	trace_emit_now(tw, &r);
}

/* One exit as the exit loop writes it (hv/vcpu.c): hv calls KVM_RUN, the entry, the exit,
 * KVM_RUN returns. Four records; the exit is the third. */
static void emit_exit(uint64_t port)
{
	emit(HVT_RUN_CALL, 0);
	emit(HVT_ENTRY, 0);
	emit(HVT_EXIT, port);
	emit(HVT_RUN_RETURN, 0);
	trace_flush_now(tw);
}

/* Bytes hvviz sent to hv so far (without waiting). */
static ssize_t bytes_from_hvviz(void)
{
	char buf[16];
	ssize_t n = recv(hv_end, buf, sizeof buf, MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : n;
}

/* ---- the writer: what hvviz can see ---- */

/* The writer buffers 1024 records per write() (trace_write.c); until it is flushed, the file has
 * only its header, so the model finds nothing. trace_flush_now hands all 4 to the kernel. */
Test(live, records_reach_the_file_only_when_flushed, .init = setup_free, .fini = live_teardown)
{
	emit(HVT_RUN_CALL, 0);
	emit(HVT_ENTRY, 0);
	emit(HVT_EXIT, 0x3f8);
	emit(HVT_RUN_RETURN, 0);
	live_poll(&app);
	cr_assert_eq(model.count, 0);
	trace_flush_now(tw);
	cr_assert_eq(live_poll(&app), 1);
	cr_assert_eq(model.count, 4);
}

/* ---- step mode: one key, one byte, one exit ---- */

Test(live, step_request_sends_one_byte_and_a_second_waits, .init = setup_step,
     .fini = live_teardown)
{
	cr_assert_eq(live_request_step(&app), 1);
	cr_assert_eq(app.waiting, 1);
	cr_assert_eq(bytes_from_hvviz(), 1);
	/* Asked again before hv answered: still "asked", but no second byte (it would run a
	 * second exit behind the user's back). */
	cr_assert_eq(live_request_step(&app), 1);
	cr_assert_eq(bytes_from_hvviz(), 0);
}

/* Records 0-3 are the first exit; the user asks for the next one; hv writes records 4-7 and
 * the exit among them is record 6 (run-call 4, entry 5, exit 6): that is where we land. */
Test(live, new_records_move_a_waiting_app_to_the_new_exit, .init = setup_step,
     .fini = live_teardown)
{
	emit_exit(0x3f9);
	live_poll(&app);
	cr_assert_eq(app_cur(&app), 0, "not waiting: new records do not move the user");
	app_goto(&app, 3);
	cr_assert_eq(live_request_step(&app), 1);
	/* Nothing new yet: still waiting, still at 3. */
	live_poll(&app);
	cr_assert_eq(app.waiting, 1);
	cr_assert_eq(app_cur(&app), 3);
	emit_exit(0x3fb);
	cr_assert_eq(live_poll(&app), 1);
	cr_assert_eq(app.waiting, 0);
	cr_assert_eq(app_cur(&app), 6);
	struct hvt_record r;
	model_get(&model, app_cur(&app), &r);
	cr_assert_eq(r.kind, HVT_EXIT);
	cr_assert_eq(r.addr, 0x3fb);
}

/*
 * hv's main thread hands over what it has every 50 ms (hv/vizlink.c), so a guest that runs
 * longer than that before its exit shows its run-call and entry first (records 4 and 5): we go
 * to the last of them (5) and keep waiting; the exit (6) moves us when it comes.
 */
Test(live, an_entry_before_its_exit_keeps_the_wait_on_the_last_record, .init = setup_step,
     .fini = live_teardown)
{
	emit_exit(0x3f9);
	live_poll(&app);
	app_goto(&app, 3);
	cr_assert_eq(live_request_step(&app), 1);
	emit(HVT_RUN_CALL, 0);
	emit(HVT_ENTRY, 0);
	trace_flush_now(tw);
	live_poll(&app);
	cr_assert_eq(app_cur(&app), 5);
	cr_assert_eq(app.waiting, 1);
	/* Still waiting, so a second "next" sends nothing: hv has not used the first byte up. */
	cr_assert_eq(bytes_from_hvviz(), 1);
	cr_assert_eq(live_request_step(&app), 1);
	cr_assert_eq(bytes_from_hvviz(), 0);
	emit(HVT_EXIT, 0x3fb);
	emit(HVT_RUN_RETURN, 0);
	trace_flush_now(tw);
	live_poll(&app);
	cr_assert_eq(app_cur(&app), 6);
	cr_assert_eq(app.waiting, 0);
}

/* New records without an exit and then the end (the end-of-run counters, "S 0"): the wait
 * ends on the last record, index 5. */
Test(live, records_without_an_exit_then_the_end_stop_the_wait, .init = setup_step,
     .fini = live_teardown)
{
	emit_exit(0x3f9);
	live_poll(&app);
	cr_assert_eq(live_request_step(&app), 1);
	emit(HVT_COUNTER, 0);
	emit(HVT_COUNTER, 0);
	trace_flush_now(tw);
	cr_assert_eq(write(hv_end, "S 0 \n", 5), 5);
	live_poll(&app);
	cr_assert_eq(app_cur(&app), 5);
	cr_assert_eq(app.waiting, 0);
	cr_assert_eq(app.vm_done, 1);
}

/* ---- the end of the VM ---- */

/* hv's last words: "S 16" (HV_EXIT_INTERRUPTED) and end-of-file. The app says so, lets go of
 * the socket, and asks for no more steps. Without a reason from hv, the status's own words. */
Test(live, status_line_and_close_mean_the_vm_stopped, .init = setup_step, .fini = live_teardown)
{
	cr_assert_eq(write(hv_end, "S 16\n", 5), 5);
	close(hv_end);
	hv_end = -1;
	cr_assert_eq(live_poll(&app), 1);
	cr_assert_eq(app.vm_done, 1);
	cr_assert_eq(app.ctl_fd, -1);
	cr_assert(strstr(app.message, "the VM has stopped (status 16: hv was interrupted (Ctrl-C, "
			 "SIGTERM))"), "%s", app.message);
	cr_assert_eq(live_request_step(&app), 0);
	cr_assert_eq(app.waiting, 0);
}

/* An odd status is the guest's own: hv maps value V written to port 0xF4 to (V << 1) | 1, so
 * status 7 is V = 3. */
Test(live, odd_status_names_the_guests_value, .init = setup_free, .fini = live_teardown)
{
	cr_assert_eq(write(hv_end, "S 7\n", 4), 4);
	live_poll(&app);
	cr_assert(strstr(app.message, "status 7: the guest wrote 3 to the exit port"), "%s",
		  app.message);
}

/*
 * hv's reason, in its own words, is what the user reads (hv prints it on the terminal only
 * after hvviz is gone): "S 14 the guest ran past --timeout" shows that text, not the status's
 * generic words; it ends at the newline (what follows is not part of it).
 */
Test(live, status_line_shows_hvs_reason, .init = setup_free, .fini = live_teardown)
{
	static const char line[] = "S 14 the guest ran past --timeout\nrest";
	cr_assert_eq(write(hv_end, line, sizeof line - 1), (ssize_t)sizeof line - 1);
	live_poll(&app);
	cr_assert_eq(app.vm_done, 1);
	cr_assert(strstr(app.message, "the VM has stopped (status 14: the guest ran past --timeout); "
			 "the trace"), "%s", app.message);
}

/* hv killed: end-of-file without a status line still means the VM is gone. */
Test(live, close_without_status_still_means_stopped, .init = setup_step, .fini = live_teardown)
{
	close(hv_end);
	hv_end = -1;
	live_poll(&app);
	cr_assert_eq(app.vm_done, 1);
	cr_assert(strstr(app.message, "hv closed the connection"), "%s", app.message);
}

/* The records hv flushed before "S" are all there after the poll that reads "S" (the socket
 * is read first, then the file). */
Test(live, records_written_before_the_status_are_seen_with_it, .init = setup_free,
     .fini = live_teardown)
{
	emit_exit(0x3f9);
	emit_exit(0x3fb);
	cr_assert_eq(write(hv_end, "S 0\n", 4), 4);
	live_poll(&app);
	cr_assert_eq(app.vm_done, 1);
	cr_assert_eq(model.count, 8);
}

/* A VM that stops while we wait for its next exit ends the wait. */
Test(live, vm_stopping_ends_a_wait, .init = setup_step, .fini = live_teardown)
{
	cr_assert_eq(live_request_step(&app), 1);
	close(hv_end);
	hv_end = -1;
	live_poll(&app);
	cr_assert_eq(app.waiting, 0);
	cr_assert_eq(app.vm_done, 1);
}

/* ---- free-running mode ---- */

/* hv does not wait for us: "next" at the end asks for nothing and sends nothing. */
Test(live, free_mode_never_asks_for_a_step, .init = setup_free, .fini = live_teardown)
{
	cr_assert_eq(live_request_step(&app), 0);
	cr_assert_eq(app.waiting, 0);
	cr_assert_eq(bytes_from_hvviz(), 0);
}

/*
 * Free-running, the user on the last event is watching the end: new records keep the last one
 * in view (4 records, cursor on 3; 4 more: cursor on 7). Anywhere else the cursor stays.
 */
Test(live, free_mode_follows_the_end_only_from_the_last_event, .init = setup_free,
     .fini = live_teardown)
{
	emit_exit(0x3f9);
	live_poll(&app);
	cr_assert_eq(app_cur(&app), 0, "the first records do not move the user from event 0");
	app_goto(&app, 3);
	emit_exit(0x3fb);
	live_poll(&app);
	cr_assert_eq(app_cur(&app), 7);
	app_goto(&app, 2);
	emit_exit(0x3f8);
	live_poll(&app);
	cr_assert_eq(app_cur(&app), 2);
}

/* Step mode never follows: there the user's "next" decides what is shown. */
Test(live, step_mode_does_not_follow_without_a_request, .init = setup_step, .fini = live_teardown)
{
	emit_exit(0x3f9);
	live_poll(&app);
	app_goto(&app, 3);
	emit(HVT_COUNTER, 0);
	trace_flush_now(tw);
	live_poll(&app);
	cr_assert_eq(app_cur(&app), 3);
}

/* Not live at all (plain hvviz FILE): live_poll does nothing. */
Test(live, poll_outside_live_mode_does_nothing)
{
	static struct app a;
	a.live = 0;
	cr_assert_eq(live_poll(&a), 0);
	cr_assert_eq(live_request_step(&a), 0);
}

/* ---- c in step mode: a debugger's continue, one exit at a time ---- */

/* One exit round whose exit is a HLT (the breakpoint below): run-call, entry, exit, return. */
static void emit_hlt_exit(void)
{
	emit(HVT_RUN_CALL, 0);
	emit(HVT_ENTRY, 0);
	struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_HLT, .count = 1 };
	trace_emit_now(tw, &r);
	emit(HVT_RUN_RETURN, 0);
	trace_flush_now(tw);
}

/*
 * Records 0-3: a UART exit. A breakpoint on exit:hlt, which no record hits yet; `c` asks hv
 * for one more exit (a byte). Records 4-7, another UART exit: no hit, so hvviz asks for the
 * next at once (a second byte). Records 8-11 hold the HLT exit (record 10): hvviz stops there
 * and asks for nothing more.
 */
Test(live, continue_runs_exit_by_exit_to_a_breakpoint, .init = setup_step, .fini = live_teardown)
{
	emit_exit(0x3f9);
	live_poll(&app);
	app_goto(&app, 3);
	app.brk[0] = (struct breakpoint){ .kind = HVT_EXIT, .sub = HVT_R_HLT };
	app.nbrk = 1;
	app_key(&app, 'c');
	cr_assert_eq(app.continuing, 1);
	cr_assert_eq(bytes_from_hvviz(), 1);
	emit_exit(0x3fb);
	live_poll(&app);
	cr_assert_eq(app.continuing, 1, "no breakpoint in the new exit: keep going");
	cr_assert_eq(bytes_from_hvviz(), 1, "and ask hv for the next exit");
	emit_hlt_exit();
	live_poll(&app);
	cr_assert_eq(app.continuing, 0);
	cr_assert_eq(app_cur(&app), 10);
	cr_assert(strstr(app.message, "breakpoint: exit:hlt at event 10"), "%s", app.message);
	cr_assert_eq(bytes_from_hvviz(), 0, "stopped: nothing more asked of hv");
}

/* Any key while the guest runs to a breakpoint stops the run: the exit already asked for
 * arrives and is shown, and no further one is asked for. */
Test(live, a_key_stops_a_continue, .init = setup_step, .fini = live_teardown)
{
	emit_exit(0x3f9);
	live_poll(&app);
	app_goto(&app, 3);
	app.brk[0] = (struct breakpoint){ .kind = HVT_EXIT, .sub = HVT_R_HLT };
	app.nbrk = 1;
	app_key(&app, 'c');
	cr_assert_eq(bytes_from_hvviz(), 1);
	app_key(&app, 'x');
	cr_assert_eq(app.continuing, 0);
	emit_exit(0x3fb);
	live_poll(&app);
	cr_assert_eq(app_cur(&app), 6, "the exit asked for is shown");
	cr_assert_eq(bytes_from_hvviz(), 0);
}
