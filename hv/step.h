/*
 * step.h - hv run --step: single-stepping a window of guest instructions from outside.
 *
 * Concept: a debugger's breakpoints and trap flag, turned into VM exits by KVM
 * (KVM_SET_GUEST_DEBUG), so hv can stop the guest at SYMBOL and then after every instruction.
 * step.c explains the mechanisms; this header is how the exit loop (vcpu.c) and the interrupt
 * path (irq.c) talk to it. Textbook: chapter 5 "A guest OS", section "Watching one instruction
 * at a time".
 */
#ifndef HV_STEP_H
#define HV_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include "trace.h"

struct vm;

/* Waiting for the breakpoint, stepping, done (disarm once), off; seeking the window by stepping
 * silently; lingering after it (intercepting #DB, arming nothing). */
enum step_phase { STEP_OFF = 0, STEP_WAIT = 1, STEP_STEPPING = 2, STEP_DONE = 3, STEP_SEEK = 4,
		  STEP_LINGER = 5 };

struct step_bp {           /* one breakpoint: DR0 and an ICEBP hv wrote into guest memory */
	uint64_t la, gpa;        /* where the CPU will meet it (linear), where hv wrote it */
	uint8_t orig[2], len;    /* the bytes it covers */
	bool io_trap;            /* `out %al, $0x80` instead (hosts without breakpoints) */
	bool set;
};

/* All of step mode's state; struct vm embeds one (vm->step). */
struct step_state {
	enum step_phase phase;
	uint64_t addr;           /* guest address of the window's first instruction */
	uint32_t count, done;    /* instructions to record, recorded so far */
	struct step_bp window;   /* at addr */
	struct step_bp handler;  /* an `int n` is being stepped: on its handler */
	uint64_t seek_steps;     /* --step-seek: instructions stepped silently to reach addr */
	uint64_t late_db;        /* #DBs after the window, from TF left in a pushed RFLAGS */
	uint64_t foreign_db;     /* the guest's own #DBs, given back to it */
	bool hide;               /* this exit was a silent seek step: not recorded */
	bool no_bp;              /* --step-seek: this KVM cannot stop at breakpoints; plant none */
	bool finish_io;          /* the I/O trap's OUT waits for a run that completes it (vcpu.c) */
	uint64_t trap_rip;       /* ...and then rip goes here: the handler's restored first byte */
};

/* vm_build: plant the breakpoint at addr (loaded at load_gpa), or choose to seek. -1: addr is
 * not in guest RAM. */
int step_arm(struct vm *vm, uint64_t addr, uint64_t load_gpa, uint32_t count, bool seek);

/* The exit loop's hooks (vcpu.c): before every KVM_RUN, the debug state for this entry; after
 * a debug exit, what it means; after an I/O exit at port 0x80, whether it is hv's own trap
 * (then it asks for a completing run through finish_io); after that run, rip is put back. */
void step_before_run(struct vm *vm);
void step_handle_debug(struct vm *vm, struct hvt_record *r);
bool step_io_trap(struct vm *vm, struct hvt_record *r);
void step_io_trap_finished(struct vm *vm, int rc, int err);

/*
 * Shared with gdb's stepi (hv/gdbhv.c), which has the same problem: the CPU clears TF when it
 * enters an `int n` handler. step_int_handler: if rip is at `int n`, the handler's linear
 * address (0: not an `int n`, or a gate the CPU would not go through), whether it runs at CPL 0
 * and the size of a slot of the frame the CPU will push. step_trap_plant: `out %al, $0x80` over its first two bytes (0, or -1: not planted).
 * step_trap_take, after an exit: was it that OUT? Then the bytes are back, and finish_io and
 * trap_rip ask the exit loop to complete the OUT and put rip back on the handler.
 * step_bp_remove: take a planted trap out (the CPU went elsewhere).
 */
struct step_int {
	bool ring0;     /* the handler runs at CPL 0: an I/O trap may go there */
	unsigned slot;  /* bytes per slot of the pushed frame: ip, cs, flags (2, 4 or 8) */
};
uint64_t step_int_handler(struct vm *vm, struct step_int *how);
int step_trap_plant(struct vm *vm, struct step_bp *bp, uint64_t la);
bool step_trap_take(struct vm *vm, struct step_bp *bp);
void step_bp_remove(struct vm *vm, struct step_bp *bp);

/* irq.c: while a window is stepped, no interrupt is injected (a tick would take the CPU away). */
static inline bool step_holds_interrupts(const struct step_state *s)
{
	return s->phase == STEP_STEPPING;
}

#endif
