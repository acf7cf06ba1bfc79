/*
 * fileguard.h - hvviz surviving a trace file that another process cuts shorter while it is open.
 *
 * Concept: the cost of a memory-mapped file. hvviz reads records straight from a mapping of
 * the trace (viz/model.c): fast, and no copy of a 640 MB file in our memory. But a mapping is
 * a promise the file system cannot always keep. If the file is truncated while it is mapped
 * (hv recording a new trace under the same name, a trace still being written and cut, a
 * student's `truncate`), the pages past the new end no longer exist. A load from one of them
 * cannot be completed, so the CPU's page fault ends in SIGBUS ("bus error"), and by default
 * that kills the program. That is the user's doing, not a bug in hvviz, so it must end in one
 * line and status 2 like any other bad input.
 *
 * How: a SIGBUS handler that checks the faulting address (siginfo's si_addr). Inside one of
 * the watched models' mappings, it jumps back (siglongjmp) to the point the caller marked with
 * sigsetjmp(fileguard_jump, 1), which prints the line and exits. Anywhere else it is a real
 * bug: the default action is restored and the program still dies of the signal, with a core.
 * Why not check before every read instead: a fstat per record would cost more than the read,
 * and the file can still shrink between the check and the load. Why not read with pread, as
 * `hv trace` does (hv/trace_read.c): hvviz keeps the file open for as long as a person looks
 * at it and jumps around in it; the mapping is what keeps a 10-million-event trace fast and
 * small (`make bench`), and the guard costs nothing until the signal comes.
 * Textbook: chapter 6 "Watching it happen", section "Opening a big trace"; appendix A,
 * section A.9 "Validation rules".
 */
#ifndef VIZ_FILEGUARD_H
#define VIZ_FILEGUARD_H

#include <setjmp.h>

#include "model.h"

/* Where the handler jumps: the caller sets it with sigsetjmp(fileguard_jump, 1) (1: the
 * signal mask is restored too, so SIGBUS is not left blocked after the jump). */
extern sigjmp_buf fileguard_jump;

/*
 * Watch the mappings of models m[0..n-1] (their map and map_len as they are at the moment of
 * the fault, so a mapping that grows later, in live mode, is covered) and install the
 * handler. The caller must have set fileguard_jump first, in a function that stays on the
 * stack while the models are read. n = 0 stops watching: a SIGBUS is then fatal again.
 */
void fileguard_watch(struct model *const *m, int n);

/* After the jump: the path of the model whose page was gone ("" if none was recorded). */
const char *fileguard_path(void);

#endif
