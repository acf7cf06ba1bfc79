/*
 * gdbstub.h - hv run --gdb: a GDB remote-serial-protocol server for the guest.
 *
 * Concept: gdb debugs a program it cannot touch directly by talking to a "stub" over a byte
 * stream: "read the registers", "write 4 bytes at 0x1000", "continue", "stop when you get to
 * 0x2000". The stub does the work on the real CPU; here the CPU is the guest's vCPU, and the
 * work is done with KVM's ioctls, from outside the guest (hv/gdbhv.c). gdbstub.c explains
 * the protocol.
 *
 * The protocol is split from hv so it can be tested and fuzzed without KVM: this header is
 * the packet parser and the command handlers (gdbstub.c), which act on a `struct gdb_target`,
 * a table of operations. hv implements it with regs.c, guestmem.c and KVM_SET_GUEST_DEBUG
 * (gdbhv.c); the unit tests and the fuzzer implement it with a fake machine.
 * Textbook: chapter 5 "A guest OS", section "Watching one instruction at a time".
 */
#ifndef HV_GDBSTUB_H
#define HV_GDBSTUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest packet the stub accepts and sends (qSupported PacketSize), payload bytes. */
#define GDB_PACKET_MAX 4096u

/* Z/z types: 0 software breakpoint, 1 hardware breakpoint, 2 write, 3 read, 4 access
 * watchpoint. */
enum gdb_bp_type { GDB_BP_SW = 0, GDB_BP_HW = 1, GDB_WP_WRITE = 2, GDB_WP_READ = 3,
		   GDB_WP_ACCESS = 4 };

/*
 * What a target can do. Every function returns 0 (or a byte count) on success and -1 on
 * failure; a failure becomes an `E` reply, never a crash. ctx is the target's own state.
 */
struct gdb_target_ops {
	/* All registers in the order and sizes of gdb's layout for target_arch; returns the
	 * number of bytes written into buf (at most cap). */
	int (*read_regs)(void *ctx, uint8_t *buf, size_t cap);
	int (*write_regs)(void *ctx, const uint8_t *buf, size_t len);
	/* One register, gdb's number n: bytes written, or -1 (no such register). */
	int (*read_reg)(void *ctx, unsigned n, uint8_t *buf, size_t cap);
	int (*write_reg)(void *ctx, unsigned n, const uint8_t *buf, size_t len);
	/* Guest memory at a guest-linear address (what gdb's addresses are). */
	int (*read_mem)(void *ctx, uint64_t addr, uint8_t *buf, size_t len);
	int (*write_mem)(void *ctx, uint64_t addr, const uint8_t *buf, size_t len);
	/* Breakpoints and watchpoints (enum gdb_bp_type); len is gdb's "kind": bytes watched. */
	int (*insert_bp)(void *ctx, int type, uint64_t addr, unsigned len);
	int (*remove_bp)(void *ctx, int type, uint64_t addr, unsigned len);
	/* `monitor CMD`: the text to show the user, into out (NUL-terminated). */
	void (*monitor)(void *ctx, const char *cmd, char *out, size_t cap);
	/* gdb's name of the register layout: "i386:x86-64" or "i386". */
	const char *(*arch)(void *ctx);
};

struct gdb_target {
	const struct gdb_target_ops *ops;
	void *ctx;
};

/* What the caller must do after a byte was fed (gdb_feed). */
enum gdb_action {
	GDB_NONE = 0,     /* nothing: keep feeding */
	GDB_CONTINUE,     /* run the guest until something stops it */
	GDB_STEP,         /* execute one instruction, then stop (report with gdb_stopped) */
	GDB_INTERRUPT,    /* Ctrl-C (0x03): stop the running guest, report SIGINT */
	GDB_DETACH,       /* clear all debug state, let the guest run on without gdb */
	GDB_KILL,         /* end the run */
};

/* Input parser states: between packets, in the payload, the two checksum digits. */
enum gdb_rx { GDB_RX_IDLE = 0, GDB_RX_DATA, GDB_RX_CSUM1, GDB_RX_CSUM2 };

/* One connection's protocol state. Zero it, set target/send/io, and feed it bytes. */
struct gdb_conn {
	struct gdb_target target;
	/* Sends bytes to gdb (the socket, or a test's buffer). */
	void (*send)(void *io, const char *buf, size_t len);
	void *io;
	enum gdb_rx rx;
	char pkt[GDB_PACKET_MAX + 1]; /* the payload, unescaped, NUL-terminated */
	size_t len;
	bool overflow;       /* longer than GDB_PACKET_MAX: dropped, answered E */
	bool escape;         /* the previous payload byte was 0x7d */
	uint8_t sum;         /* checksum of the raw payload bytes so far */
	uint8_t csum;        /* the checksum the packet carries */
	char stop_reply[96]; /* the last stop, for `?` */
	uint64_t packets, bad_checksums;
};

/* Start a connection's state with the target and the output function. */
void gdb_conn_init(struct gdb_conn *c, const struct gdb_target *t,
		   void (*send)(void *io, const char *buf, size_t len), void *io);

/* One byte from gdb. Returns what the caller must now do (enum gdb_action). */
enum gdb_action gdb_feed(struct gdb_conn *c, uint8_t byte);

/* The guest stopped: send the stop reply, signal sig (5 SIGTRAP, 2 SIGINT) plus `extra`
 * (e.g. "watch:1000;", may be NULL). Also what `?` answers from now on. */
void gdb_stopped(struct gdb_conn *c, int sig, const char *extra);

/* Console text for gdb to print while the guest runs or stops (an `O` packet). */
void gdb_console(struct gdb_conn *c, const char *text);

/* The guest's run ended with exit status `status` (a `W` packet). */
void gdb_exited(struct gdb_conn *c, int status);

/* Send one packet with payload buf (framing, escaping, checksum). */
void gdb_send_packet(struct gdb_conn *c, const char *buf, size_t len);

#endif
