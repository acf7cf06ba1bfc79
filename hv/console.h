/*
 * console.h - where the guest's text goes on the host.
 *
 * Concept: a guest "prints" by writing bytes into an emulated device (the UART's transmit
 * register, the debug console port). Each of those writes is a VM exit that hv turns into a
 * byte on the host. That output path is a resource the *guest* controls: a loop of OUT
 * instructions can produce gigabytes. So the path is bounded: bytes are buffered (one write()
 * per line, not one per exit), and past a cap they are dropped and counted instead of filling
 * the disk; a reader that stops reading makes hv drop output, not stop the guest.
 * Textbook: chapter 3 "Exits", section "From exit to device"; textbook appendix C, row S4
 * (unbounded TX output).
 *
 * A console writes either to a file descriptor (normally stdout) or, for unit tests, into a
 * caller-supplied memory buffer, so a test can assert the exact bytes a guest produced.
 * One console is used by one thread at a time (the vCPU thread while the guest runs, then the
 * main thread for the final flush): there is no lock.
 */
#ifndef HV_CONSOLE_H
#define HV_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONSOLE_BUF_SIZE      4096u          /* bytes buffered before one write() */
#define CONSOLE_DEFAULT_LIMIT (16ull << 20)  /* 16 MiB of guest output per run */
#define CONSOLE_STALL_MS      200            /* longest wait for a reader before dropping */

struct console {
	int fd;               /* output file descriptor, or -1 when capturing */
	uint8_t *cap;         /* capture mode: caller's memory ... */
	size_t cap_size;      /* ... its size ... */
	size_t cap_len;       /* ... and how much of it holds guest bytes */

	uint8_t buf[CONSOLE_BUF_SIZE]; /* bytes accepted but not yet written */
	size_t len;

	uint64_t limit;       /* at most this many guest bytes reach the host (settable) */
	uint64_t accepted;    /* bytes taken from the guest so far (never more than limit) */
	uint64_t dropped;     /* bytes lost: past the limit, capture full, or write() failed */
	int write_errno;      /* first write() error, 0 if none */

	bool stalled;         /* the reader took nothing for CONSOLE_STALL_MS: drop, do not wait */
	uint64_t stall_dropped; /* bytes dropped because nobody read them */
	FILE *notes;          /* where the one-line drop note goes: stderr, or NULL for none */
	bool noted;           /* the note has been printed (it is printed once) */
};

/* Output to `fd` (not owned: never closed), limit CONSOLE_DEFAULT_LIMIT, notes to stderr. */
void console_init(struct console *c, int fd);

/*
 * Output into mem[0 .. size): for tests. Bytes that do not fit are dropped and counted like
 * bytes past the limit. Notes are off (c->notes = NULL) so tests stay quiet; set it to see them.
 */
void console_init_capture(struct console *c, uint8_t *mem, size_t size);

/* One guest byte. Written out at '\n' or when the buffer is full; dropped past the limit. */
void console_putc(struct console *c, uint8_t byte);

/* Write out what is buffered. The first flush that finds dropped bytes prints one note. */
void console_flush(struct console *c);

#endif
