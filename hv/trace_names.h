/*
 * trace_names.h - the words for the trace format's numbers: "exit", "io", "prot32", "Q4-loop".
 *
 * Concept: a format's vocabulary is part of the format. `hv trace dump`, `hv trace stats`,
 * hvviz and students' scripts all print and match these words, so there is one table per enum
 * and renaming a word is a format change, like moving a field.
 * Textbook: appendix A "The trace format", sections A.4-A.8 (kinds, reasons, modes, flags, counters).
 */
#ifndef HV_TRACE_NAMES_H
#define HV_TRACE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

/* Names for printing: "io", "mmio", "real", "prot32", ... ("?" when out of range). */
const char *hvt_kind_name(unsigned kind);
const char *hvt_reason_name(unsigned reason);
const char *hvt_mode_name(unsigned mode);
const char *hvt_host_name(unsigned host);
const char *hvt_counter_name(unsigned counter); /* KVM's stat name, e.g. "io_exits" */
const char *hvt_vq_op_name(unsigned op);          /* "notify", "desc", ... */
const char *hvt_vq_error_name(unsigned err);      /* "Q4-loop", ... */
const char *hvt_disk_op_name(unsigned op);        /* "read", "write", "flush" */
const char *hvt_irq_op_name(unsigned op);         /* "line", "inject", "window", "wake" */
const char *hvt_ring_op_name(unsigned op);
const char *hvt_gdb_why_name(unsigned why);       /* "hold", "trap", "interrupt", "break-exit" */        /* "syscall", "sysret", "exception", ... */
const char *hvt_syscall_name(unsigned nr);        /* the mini OS's: "write", "getpid", ... ("?") */
/* A counter's KVM name, or "counter-N" for an id past the table (a newer hv may record more
 * counters; the reader does not range-check ids). Uses buf only for the second form. */
const char *hvt_counter_label(uint64_t id, char *buf, size_t len);

#endif
