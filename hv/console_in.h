/*
 * console_in.h - the other half of the console: what the user types on hv's stdin reaches the
 * guest's serial port. console_in.c is the thread and the terminal handling.
 *
 * Concept: a guest's console is a serial line, and a serial line has two wires. Output leaves
 * the guest through the UART's transmit register (console.c writes it to stdout). Input arrives
 * on the host's stdin, and hv puts each byte into the UART's receive FIFO as if it had come down
 * the wire: LSR's data-ready bit rises and, if the guest enabled it, IRQ 4 fires. Linux's 8250
 * driver then reads the byte and its tty layer does the echo and the line editing, as for a
 * real terminal on a real serial port. So hv must pass every key as it is pressed: the host
 * terminal is switched to *raw mode* while hv runs (no echo, no line buffering), and restored
 * on every way out. Ctrl-C keeps its meaning everywhere in hvlab (it stops hv, status 16);
 * Ctrl-A x also quits, as in QEMU, and Ctrl-A c sends a Ctrl-C to the guest.
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for"; appendix C,
 * section C.5 (rows S8-S9).
 */
#ifndef HV_CONSOLE_IN_H
#define HV_CONSOLE_IN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

struct uart;

#define CONIN_BUF    256u /* bytes read from stdin but not yet taken by the guest, at most */
#define CONIN_ESCAPE 0x01u /* Ctrl-A: the next key is for hv */
#define CONIN_CTRL_C 0x03u
#define CONIN_RETRY_MS 10  /* how often a full receive FIFO is offered the waiting bytes again */

/* The Ctrl-A state machine: pure, so the unit tests can drive it with bytes. */
struct conin_keys {
	bool escape;  /* the last key was Ctrl-A */
	bool quit;    /* Ctrl-A x was typed */
};

/*
 * Filter n bytes typed on a terminal into out (room for n bytes): Ctrl-A x sets k->quit and
 * ends the filtering there; Ctrl-A c sends Ctrl-C (0x03); Ctrl-A Ctrl-A and Ctrl-A a send one
 * Ctrl-A; Ctrl-A and any other key send that key. Returns how many bytes go to the guest.
 * Bytes from a pipe or a file are not filtered: a script may send any byte.
 */
size_t conin_filter(struct conin_keys *k, const uint8_t *in, size_t n, uint8_t *out);

struct console_input {
	int fd;                 /* where input comes from (stdin), -1: none */
	struct uart *uart;      /* where it goes */
	bool tty;               /* fd is a terminal: raw mode and Ctrl-A */
	bool raw;               /* the terminal is in raw mode now: `saved` must be restored */
	struct termios saved;
	int wake[2];            /* a pipe: a byte in it stops the thread */
	pthread_t thread;
	bool running;           /* the thread was started (and not yet joined) */
	struct conin_keys keys;
	uint8_t pend[CONIN_BUF];/* read but not yet in the UART (its FIFO was full) */
	size_t pend_len, pend_off;
	int ended;              /* atomic: input is over (end of file, error, Ctrl-A x) */
	int quit;               /* atomic: Ctrl-A x */
	uint64_t bytes_read, bytes_to_guest;
};

/*
 * Start reading fd into the UART on a thread of hv (`start`, vm_start_thread). A terminal is
 * put into raw mode first, and an atexit handler restores it if hv exits without conin_stop.
 * A terminal whose foreground is another process group (hv run ... &) is left alone: no input.
 * Returns 0, or an error number (the thread could not start; nothing was changed).
 */
int conin_start(struct console_input *c, int fd, struct uart *uart,
		int (*start)(pthread_t *, void *(*)(void *), void *));

/* Stop the thread and give the terminal back as it was. Safe to call twice, or never started. */
void conin_stop(struct console_input *c);

/* Input may still arrive (the thread runs, stdin has not ended): irq.c's "may a halted guest
 * still wake?". */
bool conin_may_wake(struct console_input *c);

/* The user typed Ctrl-A x: hv should stop as for Ctrl-C (vm.c, wait_vcpu). */
bool conin_quit(struct console_input *c);

#endif
