/*
 * trace.h - the hvlab trace format (.hvt) and the API to write and read it.
 *
 * Concept: virtualization is invisible by design; a trace makes it visible. Every VM exit hv
 * handles is one record, and around it hv records the mode transitions it causes on the host
 * side (KVM_RUN returns to hv, hv calls KVM_RUN again, the CPU re-enters the guest). Exits that
 * KVM handles inside the kernel never reach hv: those appear only as counters read from KVM's
 * binary statistics, so the trace never claims to have seen what it did not.
 * Textbook: appendix A "The trace format" (textbook/appendix-a-trace-format.md).
 *
 * File layout (all integers little-endian, no padding):
 *
 *   header  (HVT_HEADER_SIZE = 128 bytes)
 *     0  char     magic[8]      "HVLTRACE"
 *     8  uint32   version       HVT_VERSION
 *    12  uint32   record_size   HVT_RECORD_SIZE (64)
 *    16  uint32   header_size   HVT_HEADER_SIZE (128)
 *    20  uint32   host_kind     enum hvt_host_kind: which KVM recorded it
 *    24  uint64   start_unix_ns wall-clock time when recording started
 *    32  char     guest[64]     guest file name (basename), NUL-padded
 *    96  char     reserved[32]  zero
 *   records (HVT_RECORD_SIZE = 64 bytes each, struct hvt_record below), in sequence order
 *
 * A reader rejects: a file shorter than the header, a wrong magic, an unknown version, a
 * record_size or header_size it does not expect, a length that is not header + N records
 * (truncated), and any record whose kind is unknown or whose seq is not the previous seq + 1.
 */
#ifndef HV_TRACE_H
#define HV_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HVT_MAGIC       "HVLTRACE"
#define HVT_VERSION     1u
#define HVT_HEADER_SIZE 128u
#define HVT_RECORD_SIZE 64u

/* What kind of event a record is. The comment gives the transition, as (side, ring). */
enum hvt_kind {
	HVT_EXIT = 1,        /* VM exit: guest (non-root) -> KVM (root, ring 0). Details below. */
	HVT_RUN_RETURN = 2,  /* KVM_RUN returns: KVM (root, ring 0) -> hv (root, ring 3) */
	HVT_RUN_CALL = 3,    /* hv calls KVM_RUN: hv (root, ring 3) -> KVM (root, ring 0) */
	HVT_ENTRY = 4,       /* VM entry: KVM (root, ring 0) -> guest (non-root) */
	HVT_COUNTER = 5,     /* a KVM statistic over the whole run: addr = enum hvt_counter, data = value */
	HVT_GUEST_ERROR = 6, /* the guest did something a device refused: addr/data say what */
	HVT_KIND_MAX = 6
};

/*
 * Exit reasons, hvlab's own numbering (KVM's KVM_EXIT_* numbers are an ABI detail; ours are
 * stable in the file). Only exits that reach hv have a reason.
 */
enum hvt_reason {
	HVT_R_NONE = 0,
	HVT_R_IO = 1,        /* port I/O: IN/OUT/INS/OUTS */
	HVT_R_MMIO = 2,      /* load/store to an address with no RAM behind it */
	HVT_R_HLT = 3,       /* HLT instruction */
	HVT_R_SHUTDOWN = 4,  /* triple fault */
	HVT_R_FAIL_ENTRY = 5,
	HVT_R_INTERNAL = 6,  /* KVM_EXIT_INTERNAL_ERROR, e.g. the emulator gave up */
	HVT_R_INTR = 7,      /* KVM_RUN interrupted by a signal (timeout, Ctrl-C) */
	HVT_R_DEBUG = 8,     /* single step or breakpoint */
	HVT_R_SYSTEM_EVENT = 9,
	HVT_R_OTHER = 10,    /* any other KVM exit reason: data = KVM's number */
	HVT_REASON_MAX = 10
};

/* CPU mode of the guest at the event, from CR0.PE, EFER.LMA and the CS descriptor. */
enum hvt_mode {
	HVT_MODE_UNKNOWN = 0,
	HVT_MODE_REAL = 1,   /* CR0.PE = 0: 16-bit real mode */
	HVT_MODE_PROT16 = 2, /* protected mode, 16-bit code segment */
	HVT_MODE_PROT32 = 3, /* protected mode, 32-bit code segment */
	HVT_MODE_COMPAT = 4, /* long mode (EFER.LMA), 32/16-bit code segment */
	HVT_MODE_LONG = 5,   /* long mode, 64-bit code segment (CS.L = 1) */
	HVT_MODE_MAX = 5
};

/* Which KVM the trace was recorded on (see hv doctor). */
enum hvt_host_kind {
	HVT_HOST_UNKNOWN = 0,
	HVT_HOST_VMX = 1,    /* Intel VT-x */
	HVT_HOST_SVM = 2,    /* AMD-V */
	HVT_HOST_PVM = 3,    /* para-virtualized KVM (kvm_pvm), no hardware virtualization */
	HVT_HOST_NESTED = 4, /* VT-x/AMD-V offered by a hypervisor below us */
	HVT_HOST_MAX = 4
};

/* Record flags. */
#define HVT_F_WRITE        0x1u /* I/O or MMIO direction: guest wrote (OUT / store) */
#define HVT_F_TIME_BOUND   0x2u /* hv cannot observe this instant; time_ns is the nearest
				   instant it can observe (KVM_RUN return or call) */
#define HVT_F_UNCLAIMED    0x4u /* no device owns this port/address */
#define HVT_F_STRING       0x8u /* string I/O (INS/OUTS), count > 1 possible */

/* Statistics KVM keeps per vCPU (binary stats fd); only these names are recorded. */
enum hvt_counter {
	HVT_C_EXITS = 1,            /* "exits": every VM exit, handled in KVM or not */
	HVT_C_IO_EXITS = 2,         /* "io_exits": port I/O exits passed to user space */
	HVT_C_MMIO_EXITS = 3,       /* "mmio_exits" */
	HVT_C_HALT_EXITS = 4,       /* "halt_exits" */
	HVT_C_IRQ_EXITS = 5,        /* "irq_exits": host interrupts that stopped the guest */
	HVT_C_SIGNAL_EXITS = 6,     /* "signal_exits" */
	HVT_C_INSN_EMULATION = 7,   /* "insn_emulation": instructions KVM's emulator ran */
	HVT_C_INSN_EMULATION_FAIL = 8,
	HVT_C_HYPERCALLS = 9,
	HVT_C_REQUEST_IRQ_EXITS = 10,
	HVT_C_IRQ_WINDOW_EXITS = 11,
	HVT_C_MAX = 11
};

/* One event: 64 bytes on disk, in this order, little-endian. */
struct hvt_record {
	uint64_t seq;         /*  0: 0, 1, 2, ... */
	uint64_t time_ns;     /*  8: CLOCK_MONOTONIC nanoseconds since recording started */
	uint16_t vcpu;        /* 16 */
	uint8_t kind;         /* 18: enum hvt_kind */
	uint8_t reason;       /* 19: enum hvt_reason (HVT_EXIT), else 0 */
	uint8_t size;         /* 20: access size in bytes (1, 2, 4, 8) */
	uint8_t cpl;          /* 21: guest CPL (0-3) at the event */
	uint8_t mode;         /* 22: enum hvt_mode */
	uint8_t reserved;     /* 23: zero */
	uint64_t addr;        /* 24: port or guest-physical address; counter id for HVT_COUNTER */
	uint64_t data;        /* 32: value written or read (first element for string I/O) */
	uint64_t rip;         /* 40: guest instruction pointer */
	uint32_t count;       /* 48: repetitions for string I/O, else 1 */
	uint32_t flags;       /* 52: HVT_F_* */
	uint64_t duration_ns; /* 56: HVT_EXIT: time hv spent handling it (KVM_RUN return to the
				 next KVM_RUN call); else 0 */
};

_Static_assert(sizeof(struct hvt_record) == HVT_RECORD_SIZE, "trace record must be 64 bytes");

/* ---- writing (used by the exit loop) ---- */

struct trace_writer;

/* Create FILE. On failure returns NULL and puts a one-line reason in err. */
struct trace_writer *trace_create(const char *path, enum hvt_host_kind host, const char *guest,
				  char *err, size_t errlen);
/* Append one record; seq is assigned here. Buffered: no system call per record. */
void trace_emit(struct trace_writer *t, struct hvt_record *rec);
/* Monotonic nanoseconds since the writer was created (the time_ns of a record). */
uint64_t trace_now(const struct trace_writer *t);
/* Flush and close. Returns 0, or -1 with a reason in err (disk full, ...). */
int trace_close(struct trace_writer *t, char *err, size_t errlen);

/* ---- reading (hv trace, hvviz, tests) ---- */

struct trace_header {
	uint32_t version;
	uint32_t host_kind;
	uint64_t start_unix_ns;
	char guest[65];
};

struct trace_file {
	struct trace_header header;
	struct hvt_record *records;
	uint64_t count;
};

/*
 * Read and validate a whole trace. Returns 0, or -1 with a one-line reason in err
 * ("not an hvlab trace (bad magic)", "truncated: ...", "unknown version 7 ...").
 */
int trace_load(const char *path, struct trace_file *out, char *err, size_t errlen);
/* Same, from bytes in memory (used by the loader above and by fuzzers). */
int trace_parse(const uint8_t *buf, size_t len, struct trace_file *out, char *err, size_t errlen);
void trace_free(struct trace_file *tf);

/* Names for printing: "io", "mmio", "real", "prot32", ... ("?" when out of range). */
const char *hvt_kind_name(unsigned kind);
const char *hvt_reason_name(unsigned reason);
const char *hvt_mode_name(unsigned mode);
const char *hvt_host_name(unsigned host);
const char *hvt_counter_name(unsigned counter); /* KVM's stat name, e.g. "io_exits" */

/* `hv trace stats|dump`: print a loaded trace. json: one JSON object per line. */
void trace_print_stats(FILE *out, const struct trace_file *tf);
void trace_print_dump(FILE *out, const struct trace_file *tf, int json);

#endif
