/*
 * console_in.c - hv's stdin to the guest's serial port: a thread, a bounded buffer, and a
 * terminal in raw mode.
 *
 * Concept: the guest learns about a key press the way it would on a PC: a byte appears in the
 * UART's receive FIFO, LSR bit 0 (data ready) rises and, if IER bit 0 enables it, the UART
 * raises IRQ 4 (hv/dev/uart.c). Nobody in the guest asks for input, so hv needs a thread of its
 * own that waits on stdin and hands over what arrives: it is the "other end of the cable".
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
 *
 * Three rules:
 *   1. Bounded (appendix C, S8). The FIFO is 16 bytes; when the guest does not read, the
 *      thread keeps at most CONIN_BUF bytes and stops reading stdin, so the kernel's pipe or
 *      terminal buffer holds the rest (back-pressure), and a fast writer waits.
 *   2. Raw mode, always restored (S9). A terminal normally collects a line and echoes it; the
 *      guest's own tty layer does that, so hv switches it off (cfmakeraw) and sends every key
 *      as typed. The saved settings come back in conin_stop on every normal way out, and in an
 *      atexit handler for the others.
 *   3. Ctrl-C still stops hv (SIGINT, status 16, the trace saved), as everywhere in hvlab, so
 *      that key is kept as a signal; Ctrl-Z and Ctrl-\ are not (they would stop or kill hv
 *      with the terminal still raw) and go to the guest. An escape key does the rest, as in
 *      QEMU: Ctrl-A x quits, Ctrl-A c sends the guest a Ctrl-C. Only on a terminal: bytes from
 *      a pipe or a file pass unchanged, and their end of file just ends the input.
 */
#include "console_in.h"
#include "dev/uart.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Ctrl-A ---- */

size_t conin_filter(struct conin_keys *k, const uint8_t *in, size_t n, uint8_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n && !k->quit; i++) {
		uint8_t b = in[i];
		if (!k->escape) {
			if (b == CONIN_ESCAPE)
				k->escape = true;
			else
				out[o++] = b;
			continue;
		}
		k->escape = false;
		if (b == 'x' || b == 'X')
			k->quit = true;
		else if (b == 'c')
			out[o++] = CONIN_CTRL_C;
		else
			out[o++] = b == 'a' ? CONIN_ESCAPE : b; /* Ctrl-A Ctrl-A passes as itself */
	}
	return o;
}

/* ---- the terminal ---- */

/* The one terminal hv may have changed, for the atexit handler (exit() from anywhere). */
static struct console_input *raw_owner;

static void conin_restore(struct console_input *c)
{
	if (c->raw) {
		tcsetattr(c->fd, TCSADRAIN, &c->saved);
		c->raw = false;
	}
	if (raw_owner == c)
		raw_owner = NULL;
}

static void restore_at_exit(void)
{
	if (raw_owner)
		conin_restore(raw_owner);
}

/*
 * cfmakeraw: no echo, no line editing, no signals, no CR/NL translation, 8-bit bytes. Then two
 * things back: signals, with only Ctrl-C (VINTR) meaning one (rule 3), and output
 * post-processing (OPOST), so that hv's own messages with a bare "\n" still start at the left
 * margin. VMIN = 1: a read returns each key at once.
 */
static void conin_make_raw(struct console_input *c)
{
	if (tcgetattr(c->fd, &c->saved) != 0)
		return; /* not a terminal after all: pass bytes through */
	struct termios raw = c->saved;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST;
	raw.c_lflag |= ISIG;
	raw.c_cc[VQUIT] = _POSIX_VDISABLE;
	raw.c_cc[VSUSP] = _POSIX_VDISABLE;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(c->fd, TCSADRAIN, &raw) != 0)
		return;
	c->raw = true;
	c->tty = true;
	static bool registered;
	if (!registered)
		registered = atexit(restore_at_exit) == 0;
	raw_owner = c;
}

/* ---- the thread ---- */

/* Wait for input (or the stop byte) for at most ms milliseconds; true: stop. */
static bool conin_wait(struct console_input *c, int ms, bool want_input)
{
	struct pollfd p[2] = {
		{ .fd = c->wake[0], .events = POLLIN },
		{ .fd = c->fd, .events = POLLIN },
	};
	int n = poll(p, want_input ? 2 : 1, ms);
	return n > 0 && (p[0].revents & POLLIN);
}

/* Offer the waiting bytes to the UART; true when all were taken. */
static bool conin_push(struct console_input *c)
{
	size_t left = c->pend_len - c->pend_off;
	size_t took = left ? uart_receive(c->uart, c->pend + c->pend_off, left) : 0;
	c->pend_off += took;
	c->bytes_to_guest += took;
	return c->pend_off == c->pend_len;
}

/* One read of stdin into the pending buffer. False: input is over. */
static bool conin_read(struct console_input *c)
{
	uint8_t buf[CONIN_BUF];
	ssize_t n = read(c->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false; /* end of file (a closed pipe, /dev/null) or an error: no more input */
	c->bytes_read += (uint64_t)n;
	c->pend_off = 0;
	if (!c->tty) {
		memcpy(c->pend, buf, (size_t)n);
		c->pend_len = (size_t)n;
		return true;
	}
	c->pend_len = conin_filter(&c->keys, buf, (size_t)n, c->pend);
	if (c->keys.quit) {
		__atomic_store_n(&c->quit, 1, __ATOMIC_SEQ_CST);
		return false;
	}
	return true;
}

/*
 * The loop: while bytes wait for room in the FIFO, retry every CONIN_RETRY_MS without reading
 * more (rule 1); otherwise sleep in poll until stdin has bytes or conin_stop writes the wake
 * pipe. Polling the FIFO instead of being told when it drains keeps the UART free of any
 * knowledge of this thread; 10 ms is below what a typist notices.
 */
static void *conin_main(void *arg)
{
	struct console_input *c = arg;
	for (;;) {
		if (!conin_push(c)) {
			if (conin_wait(c, CONIN_RETRY_MS, false))
				break;
			continue;
		}
		if (conin_wait(c, -1, true))
			break;
		if (!conin_read(c))
			break;
	}
	__atomic_store_n(&c->ended, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

int conin_start(struct console_input *c, int fd, struct uart *uart,
		int (*start)(pthread_t *, void *(*)(void *), void *))
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->uart = uart;
	/* hv's controlling terminal, but hv started in the background (`&`): reading it, or
	 * changing its mode, would stop hv with SIGTTIN/SIGTTOU. Such a run takes no input. (For
	 * a terminal that is not hv's controlling one, tcgetpgrp fails: no job control there.) */
	pid_t fg = isatty(fd) ? tcgetpgrp(fd) : -1;
	if (fg != -1 && fg != getpgrp())
		return 0;
	if (pipe(c->wake) != 0)
		return errno;
	if (isatty(fd))
		conin_make_raw(c);
	int rc = start(&c->thread, conin_main, c);
	if (rc != 0) {
		conin_restore(c);
		close(c->wake[0]);
		close(c->wake[1]);
		c->fd = -1;
		return rc;
	}
	c->running = true;
	return 0;
}

void conin_stop(struct console_input *c)
{
	if (c->running) {
		char stop = 0;
		/* An empty pipe takes one byte: this write cannot fail or block. */
		if (write(c->wake[1], &stop, 1) != 1)
			stop = 1;
		pthread_join(c->thread, NULL);
		c->running = false;
		close(c->wake[0]);
		close(c->wake[1]);
	}
	conin_restore(c);
}

bool conin_may_wake(struct console_input *c)
{
	return c->running && !__atomic_load_n(&c->ended, __ATOMIC_SEQ_CST);
}

bool conin_quit(struct console_input *c)
{
	return __atomic_load_n(&c->quit, __ATOMIC_SEQ_CST) != 0;
}
