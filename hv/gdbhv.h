/*
 * gdbhv.h - hv run --gdb: hv's side of the gdb stub (the protocol is gdbstub.c).
 *
 * Concept: gdb's remote protocol turned into KVM operations on the guest's vCPU: registers
 * through regs.c, memory through guestmem.c, breakpoints, watchpoints and single steps through
 * KVM_SET_GUEST_DEBUG. gdbhv.c explains the hardware and where each piece hooks into the exit
 * loop (vcpu.c). Textbook: chapter 8 "Debugging a guest"; chapter 5 "A guest OS", section
 * "Watching one instruction at a time".
 */
#ifndef HV_GDBHV_H
#define HV_GDBHV_H

#include <stdbool.h>
#include <stdint.h>

#include "trace.h"

struct vm;
struct gdb_server;

/* hv run --gdb [ADDR:]PORT: where to listen; parsed into host and port. */
struct gdb_options {
	const char *spec;  /* NULL: no gdb */
	bool nowait;       /* --gdb-nowait: the guest starts at once; gdb may attach later */
};

/* Check a --gdb spec without opening anything: "1234", "127.0.0.1:1234", "0.0.0.0:1234".
 * 0, or -1 (with a one-line reason in err). */
int gdb_parse_spec(const char *spec, char *host, size_t hostlen, uint16_t *port, char *err,
		   size_t errlen);

/* Listen (before the guest starts) and hang the server on vm->gdb. 0, or -1 after printing
 * the reason. */
int gdb_server_start(struct vm *vm, const struct gdb_options *opt);
/* After the vCPU thread ended: the watcher thread, the sockets, the memory. */
void gdb_server_stop(struct vm *vm);

/* The exit loop's hooks (vcpu.c). Before every KVM_RUN: if gdb wants the guest stopped,
 * talk to gdb until it resumes (returns the nanoseconds spent waiting for the user), then give
 * KVM the debug state. After an exit: a debug exit of gdb's (true: handled), and every exit
 * for `monitor exits` and `monitor break-exit`. */
uint64_t gdb_before_run(struct vm *vm);
bool gdb_handle_debug(struct vm *vm, struct hvt_record *r);
void gdb_after_exit(struct vm *vm, const struct hvt_record *r);

#endif
