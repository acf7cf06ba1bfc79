/*
 * test_console_in.c - hv's stdin into the guest's UART (hv/console_in.c), with a pipe or a
 * pseudo-terminal standing in for stdin and a plain thread for hv's: the Ctrl-A keys, bytes
 * reaching RBR with LSR.DR and IRQ 4, back-pressure when the guest does not read (appendix C,
 * S8), and raw mode given back (S9).
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "console_in.h"
#include "dev/uart.h"

TestSuite(conin);

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	return pthread_create(t, NULL, fn, arg);
}

static int irq_level;
static void record_irq(void *ctx, int level)
{
	(void)ctx;
	irq_level = level;
}

static void out8(struct uart *u, unsigned off, uint8_t v)
{
	uart_ops.write(u, off, &v, 1);
}

static uint8_t in8(struct uart *u, unsigned off)
{
	uint8_t v;
	uart_ops.read(u, off, &v, 1);
	return v;
}

/* Wait (bounded) until the UART has data ready. */
static int wait_data(struct uart *u)
{
	for (int i = 0; i < 500; i++) {
		if (in8(u, 5) & 0x01)
			return 1;
		usleep(2000);
	}
	return 0;
}

static size_t filter(struct conin_keys *k, const char *in, uint8_t *out)
{
	return conin_filter(k, (const uint8_t *)in, strlen(in), out);
}

Test(conin, ctrl_a_x_quits_and_ctrl_a_c_sends_ctrl_c)
{
	struct conin_keys k = { 0 };
	uint8_t out[16];
	cr_assert_eq(filter(&k, "ls\r", out), 3);
	cr_assert_eq(memcmp(out, "ls\r", 3), 0);
	cr_assert_eq(filter(&k, "\x01" "c", out), 1);
	cr_assert_eq(out[0], 0x03);
	cr_assert_eq(filter(&k, "\x01\x01" "\x01" "a", out), 2, "Ctrl-A twice, or Ctrl-A a: one Ctrl-A each");
	cr_assert_eq(out[0], 0x01);
	cr_assert_eq(out[1], 0x01);
	cr_assert_eq(filter(&k, "\x01", out), 0, "the escape waits for its key, across reads");
	cr_assert_eq(filter(&k, "q", out), 1);
	cr_assert_eq(out[0], 'q');
	cr_assert(!k.quit);
	cr_assert_eq(filter(&k, "ab\x01xcd", out), 2, "Ctrl-A x ends the input there");
	cr_assert(k.quit);
}

/* A pipe on stdin: bytes pass unchanged (Ctrl-A included), reach RBR with LSR.DR set and raise
 * the receive interrupt; end of file ends the input. */
Test(conin, piped_bytes_reach_the_guest_with_data_ready_and_irq_4)
{
	struct uart *u = uart_create(NULL);
	uart_connect_irq(u, record_irq, NULL);
	out8(u, 2, 0x01); /* FIFOs on */
	out8(u, 1, 0x01); /* IER: received data */
	int p[2];
	cr_assert_eq(pipe(p), 0);
	struct console_input c;
	cr_assert_eq(conin_start(&c, p[0], u, start_thread), 0);
	cr_assert(!c.tty);
	cr_assert(conin_may_wake(&c));
	cr_assert_eq(write(p[1], "a\x01x", 3), 3);
	cr_assert(wait_data(u));
	cr_assert_eq(irq_level, 1);
	char got[4] = { 0 };
	for (int i = 0; i < 3; i++) {
		cr_assert(wait_data(u));
		got[i] = (char)in8(u, 0);
	}
	cr_assert_str_eq(got, "a\x01x", "no escape processing on a pipe");
	cr_assert(!conin_quit(&c));
	cr_assert_eq(irq_level, 0, "the FIFO is empty: the line is down");
	close(p[1]); /* end of file */
	for (int i = 0; i < 500 && conin_may_wake(&c); i++)
		usleep(2000);
	cr_assert(!conin_may_wake(&c), "no more input can come");
	conin_stop(&c);
	close(p[0]);
	uart_destroy(u);
}

/* Appendix C, S8: a guest that never reads. The FIFO fills (16 bytes), hv keeps at most
 * CONIN_BUF more and stops reading, so the writer is held back by the pipe: nothing grows. */
Test(conin, S8_a_guest_that_never_reads_holds_back_the_writer)
{
	struct uart *u = uart_create(NULL);
	out8(u, 2, 0x01);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	struct console_input c;
	cr_assert_eq(conin_start(&c, p[0], u, start_thread), 0);
	static char big[1 << 20];
	memset(big, 'z', sizeof(big));
	size_t sent = 0;
	for (int i = 0; i < 200; i++) {
		ssize_t n = write(p[1], big, sizeof(big) - sent);
		if (n > 0)
			sent += (size_t)n;
		usleep(2000);
	}
	cr_assert_lt(sent, sizeof(big), "the pipe filled: the writer was held back");
	cr_assert_eq(u->rx_count, 16);
	cr_assert_eq(u->overruns, 0, "host input never overruns the FIFO");
	cr_assert_leq(c.bytes_read, 16 + CONIN_BUF + CONIN_BUF, "read %llu",
		      (unsigned long long)c.bytes_read);
	conin_stop(&c);
	close(p[0]);
	close(p[1]);
	uart_destroy(u);
}

/* Appendix C, S9: a terminal is raw while the input runs (no line mode, no echo; Ctrl-C still
 * a signal for hv) and exactly as before afterwards; Ctrl-A x asks hv to quit. */
Test(conin, S9_a_terminal_is_raw_while_running_and_restored_after)
{
	struct uart *u = uart_create(NULL);
	int master, slave;
	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	struct termios before, during, after;
	cr_assert_eq(tcgetattr(slave, &before), 0);
	struct console_input c;
	cr_assert_eq(conin_start(&c, slave, u, start_thread), 0);
	cr_assert(c.tty);
	cr_assert_eq(tcgetattr(slave, &during), 0);
	cr_assert_eq(during.c_lflag & (ICANON | ECHO), 0);
	cr_assert(during.c_lflag & ISIG, "Ctrl-C still stops hv");
	cr_assert_eq(during.c_cc[VSUSP], _POSIX_VDISABLE, "Ctrl-Z goes to the guest");
	cr_assert_eq(write(master, "\x01x", 2), 2);
	for (int i = 0; i < 500 && !conin_quit(&c); i++)
		usleep(2000);
	cr_assert(conin_quit(&c));
	conin_stop(&c);
	cr_assert_eq(tcgetattr(slave, &after), 0);
	cr_assert_eq(after.c_lflag, before.c_lflag);
	cr_assert_eq(after.c_iflag, before.c_iflag);
	cr_assert_eq(after.c_oflag, before.c_oflag);
	conin_stop(&c); /* twice is harmless */
	close(master);
	close(slave);
	uart_destroy(u);
}
