/*
 * vizlink.h - hv's side of `hv run --viz[=step]`: watching the VM in hvviz while it runs.
 *
 * Concept: the trace is the only thing hvviz ever reads, live or not, so live mode needs no
 * second way of describing exits: hv writes its trace as usual, flushes it every 50 ms (and in
 * step mode after every exit), and hvviz (a separate program, started by hv on the same
 * terminal) reads the new records a tenth of a second later. A socket pair between the two
 * carries the little that is not a record: in step mode one byte per "next" from hvviz (hv
 * waits for it before every KVM_RUN), and from hv a last line "S <status> <why>" when the VM
 * has stopped. Closing the socket is the other message: hvviz quitting stops the VM, hv
 * closing it says the VM is gone.
 * Textbook: chapter 6 "Watching it happen", section "Live".
 *
 * The order in cmd_run (hv/main.c):
 *   viz_prepare   before vm_create: a terminal? hvviz built? a trace file (temporary if none)
 *   viz_start     after vm_create (the trace file has its header): fork/exec hvviz, send
 *                 hv's own stdout/stderr (guest console, messages) to TRACE.log
 *   ...           vm_run: viz_before_run on the vCPU thread before every entry, viz_poll on
 *                 the main thread every 50 ms while it waits, viz_finish once the VM has stopped
 *   viz_end       after vm_destroy: the last lines on the terminal, temporary trace removed
 */
#ifndef HV_VIZLINK_H
#define HV_VIZLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <termios.h>

struct vm;
struct vm_options;

struct viz {
	bool on;                /* --viz or --viz=step given */
	bool step;              /* --viz=step: hv waits for hvviz before every KVM_RUN */
	bool temp_trace;        /* no --trace: the trace is a temporary file, removed by viz_end */
	bool started;           /* viz_start ran: hvviz was started and the log exists */
	bool finished;          /* viz_finish ran: hvviz is gone, stdout/stderr are back */
	int fd;                 /* hv's end of the socket pair; -1 when closed */
	pid_t pid;              /* hvviz; -1 when not running */
	int tty_out, tty_err;   /* the terminal's stdout/stderr, kept while the log has 1 and 2 */
	bool have_termios;
	struct termios termios; /* the terminal's settings, restored if hvviz dies without endwin */
	/* --viz=step: the user's reading time, which --timeout must not count (viz_paused_ns).
	 * Written by the vCPU thread, read by the main thread: __atomic builtins. */
	uint64_t paused_ns;     /* pauses that are over */
	uint64_t pause_since;   /* vm_now_ns() when the current pause began; 0: none */
	char hvviz[4096];       /* the hvviz binary: next to hv's own */
	char trace[4096];       /* the trace file hvviz reads */
	char log[4096 + 8];     /* TRACE.log: the guest console and hv's messages during the run */
};

/* Parse the argument of --viz (NULL: free-running; "step"). Returns 0, or -1 if unknown. */
int viz_parse(struct viz *v, const char *arg);
/* Before vm_create. Checks the terminal and hvviz, picks the trace file (sets opt->trace_path
 * if it was not given). Returns 0, or an exit status after printing one line. */
int viz_prepare(struct viz *v, struct vm_options *opt);
/* After vm_create: start hvviz on the trace and move hv's output to the log. vm->viz = v.
 * Returns 0, or an exit status after printing one line. */
int viz_start(struct viz *v, struct vm *vm);

/* vCPU thread, once before every entry (the first included). --viz=step: make this exit's
 * records visible to hvviz and wait for its byte; stops the VM if the trace is full. Returns
 * the nanoseconds spent waiting for the user, which are neither the guest's time nor hv's.
 * No-op without --viz=step (free-running, viz_poll hands hvviz the records). */
uint64_t viz_before_run(struct vm *vm);
/* Main thread, every 50 ms while it waits for the vCPU thread: hand hvviz what every thread
 * recorded meanwhile; returns true when hvviz has gone (the user quit). */
bool viz_poll(struct vm *vm);
/* Main thread: the user's reading time so far in step mode (0 without --viz=step), to be
 * left out of --timeout: the limit is for a guest that runs away, not for a slow reader. */
uint64_t viz_paused_ns(struct vm *vm);
/* false when the trace is --viz's temporary file, removed at the end: no "trace saved". */
bool viz_trace_kept(const struct vm *vm);
/* vCPU thread, after a KICK_VIZ or hvviz's end seen while waiting: stop the VM, as Ctrl-C
 * would, saying why. */
void viz_stop_vm(struct vm *vm);
/* vm_run, once the VM has stopped: the last records, the status and the reason to hvviz,
 * wait for the user to leave hvviz (or end it: hv got SIGINT/SIGTERM), give hv its terminal
 * back, reset it if hvviz died without curses' clean-up. Safe twice and without --viz. */
void viz_finish(struct vm *vm);
/* After vm_destroy: finish if vm_run did not, name the log, remove a temporary trace. */
void viz_end(struct viz *v, int status);

#endif
