/*
 * console.c - the host side of guest output: buffered, bounded, counted.
 *
 * Concept: every byte a guest prints cost a VM exit; it must not also cost a system call, and
 * it must not let the guest consume unbounded host resources. This file is the last hop of a
 * guest's "hello": guest OUT -> VM exit -> bus -> UART or debugcon -> console_putc -> write().
 * Textbook: chapter 3 "Exits", section "From exit to device"; textbook appendix C, S4
 * ("Unbounded TX output: host output path bounded, drop and count").
 *
 * Three rules, each a lesson:
 *   1. Buffer, then write one line at a time (or a full buffer): a guest printing a line of
 *      80 characters makes 80 exits but hv makes one write().
 *   2. Cap the total: after c->limit bytes, further bytes are dropped and counted. A guest
 *      in an endless print loop then costs CPU time (which --timeout bounds) but not disk.
 *   3. Guest misbehaviour is not a host error: no message per dropped byte, just one note
 *      with the count when the console is flushed.
 */
#include "console.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

/* The counters' starting state, shared by both constructors. */
static void console_setup(struct console *c)
{
	c->len = 0;
	c->limit = CONSOLE_DEFAULT_LIMIT;
	c->accepted = 0;
	c->dropped = 0;
	c->write_errno = 0;
	c->noted = false;
	c->stalled = false;
	c->stall_dropped = 0;
}

void console_init(struct console *c, int fd)
{
	console_setup(c);
	c->fd = fd;
	c->cap = NULL;
	c->cap_size = 0;
	c->cap_len = 0;
	/* Guest output to stdout, hv's own notes to stderr: `hv run g > out.txt` captures
	 * exactly the bytes the guest printed, nothing of hv's. */
	c->notes = stderr;
}

/* Capture mode is for the unit tests (tests/unit/test_uart.c): the same buffering, cap and
 * counting, with the guest's bytes landing in memory a test can compare. */
void console_init_capture(struct console *c, uint8_t *mem, size_t size)
{
	console_setup(c);
	c->fd = -1;
	c->cap = mem;
	c->cap_size = mem ? size : 0;
	c->cap_len = 0;
	c->notes = NULL;
}

/* Capture mode: append to the caller's memory, counting what does not fit. */
static void console_drain_capture(struct console *c)
{
	size_t room = c->cap_size - c->cap_len;
	size_t n = c->len < room ? c->len : room;

	if (n > 0)
		memcpy(c->cap + c->cap_len, c->buf, n);
	c->cap_len += n;
	c->dropped += c->len - n;
}

/*
 * Can the descriptor take a buffer now, or within `ms` milliseconds? POLLOUT on a pipe means
 * at least one page is free, so a write of up to CONSOLE_BUF_SIZE (one page, PIPE_BUF) then
 * completes without blocking; regular files are always ready.
 */
static bool console_writable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int n;
	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	/* An error or hang-up is "ready": write() then reports what is wrong. */
	return n != 0;
}

/*
 * fd mode: write() may write less than asked (a pipe with little room) or be interrupted by
 * a signal (hv's --timeout uses one): both are retried. Any other error (the reader closed
 * the pipe, the disk is full) drops the rest of this buffer and counts it.
 *
 * A reader that is slow gets backpressure: hv waits up to CONSOLE_STALL_MS for room, and the
 * guest waits with it, as a real UART's full transmit FIFO makes its driver wait. A reader
 * that does not read at all (a terminal stopped with Ctrl-S, a pipe nobody drains) must not
 * stop the vCPU forever (appendix C, S4): after one such wait the console counts as stalled and
 * drops whole buffers without waiting, until the descriptor takes data again.
 */
static void console_drain_fd(struct console *c)
{
	size_t done = 0;
	int wait_ms = c->stalled ? 0 : CONSOLE_STALL_MS;

	/*
	 * Poll before *every* write, not only the first: on a terminal POLLOUT means only "some
	 * room", so a write can block halfway. hv's --timeout and Ctrl-C interrupt such a write
	 * (EINTR, or a short write); the poll that follows, with no more waiting, then finds the
	 * terminal still full and gives up instead of blocking again.
	 */
	while (done < c->len) {
		if (!console_writable(c->fd, wait_ms)) {
			c->stalled = true;
			c->dropped += c->len - done;
			c->stall_dropped += c->len - done;
			return;
		}
		c->stalled = false;
		ssize_t w = write(c->fd, c->buf + done, c->len - done);
		if (w < 0 && errno == EINTR) {
			wait_ms = 0; /* hv was kicked (timeout, Ctrl-C): do not wait again */
			continue;
		}
		/* A reader that closed the pipe shows here as EPIPE only because main.c ignores
		 * SIGPIPE: by default that signal would kill hv in the middle of this write. */
		if (w <= 0) {
			if (c->write_errno == 0)
				/* w == 0 for a non-empty write is no progress with no reason:
				 * count it as EIO. */
				c->write_errno = w < 0 ? errno : EIO;
			c->dropped += c->len - done;
			break;
		}
		done += (size_t)w;
	}
}

/* Empty the buffer to wherever this console writes. */
static void console_drain(struct console *c)
{
	if (c->len == 0)
		return;
	if (c->cap || c->fd < 0)
		console_drain_capture(c);
	else
		console_drain_fd(c);
	/* Emptied whatever happened: bytes that could not be written were counted as dropped,
	 * and are never retried, so a dead reader cannot stall the guest twice. */
	c->len = 0;
}

void console_putc(struct console *c, uint8_t byte)
{
	/*
	 * This runs once per guest byte, that is once per UART or debugcon exit, so it stays a
	 * few instructions: no system call except at '\n' or a full buffer. That is stdio's line
	 * buffering, kept for the same reason: a finished line appears at once, yet 80 exits make
	 * one write().
	 *
	 * The cap is checked before the byte is taken, so `accepted` never exceeds `limit` and
	 * the test "accepted + dropped == bytes the guest sent" holds exactly.
	 */
	if (c->accepted >= c->limit) {
		c->dropped++;
		return;
	}
	c->accepted++;
	c->buf[c->len++] = byte;
	if (byte == '\n' || c->len == sizeof(c->buf))
		console_drain(c);
}

/* The single note (appendix C, R1: guest-triggered messages are rate limited; here: once). */
static void console_note(struct console *c)
{
	if (c->noted || c->dropped == 0 || !c->notes)
		return;
	c->noted = true;
	if (c->stall_dropped)
		fprintf(c->notes, "hv: console: nobody is reading hv's output: %llu bytes of guest "
			"output dropped (read hv's stdout, or redirect it to a file)\n",
			(unsigned long long)c->stall_dropped);
	else if (c->write_errno)
		fprintf(c->notes, "hv: console: cannot write guest output: %s "
			"(%llu bytes dropped)\n", strerror(c->write_errno),
			(unsigned long long)c->dropped);
	else
		fprintf(c->notes, "hv: console: guest output over the %llu-byte limit: "
			"%llu bytes dropped (the guest printed more than a run may keep)\n",
			(unsigned long long)c->limit, (unsigned long long)c->dropped);
	fflush(c->notes);
}

/* Called by vm_run on the main thread after the vCPU thread has ended, so the buffer has a
 * single user and needs no lock. */
void console_flush(struct console *c)
{
	console_drain(c);
	console_note(c);
}
