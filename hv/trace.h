/*
 * trace.h - the hvlab trace format (.hvt): the on-disk layout every trace module shares.
 *
 * Concept: virtualization is invisible by design; a trace makes it visible. Every VM exit hv
 * handles is one record, and around it hv records the mode transitions it causes on the host
 * side (KVM_RUN returns to hv, hv calls KVM_RUN again, the CPU re-enters the guest). Exits that
 * KVM handles inside the kernel never reach hv: those appear only as counters read from KVM's
 * binary statistics, so the trace never claims to have seen what it did not.
 * Textbook: appendix A "The trace format" (textbook/appendix-a-trace-format.md).
 *
 * This header is the contract only: sizes, numbers and the record's fields. It declares no
 * function, so anything that merely names a record kind (a device, a view of hvviz) depends on
 * the format and on nothing else. The code is split by who needs it:
 *
 *   trace_write.h  the writer: hv's exit loop and devices append records (hv only)
 *   trace_read.h   the reader: check a file against the rules below and load it
 *   trace_names.h  the words for the numbers ("io", "prot32", "Q4-loop")
 *   trace_dump.h   `hv trace dump`: one line per record (hvviz's timeline uses the same words)
 *   trace_stats.h  `hv trace stats`: exits by reason, port, mode; what KVM counted
 *
 * hvviz links the reader, names and dump, never the writer or the VMM (Makefile, TRACE_LIB).
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
 *    96  uint64   dropped       events not recorded because of --trace-limit (version 2)
 *   104  char     reserved[24]  zero
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

#define HVT_MAGIC       "HVLTRACE"
#define HVT_VERSION     4u /* 2 added HVT_VQ, HVT_DISK, HVT_IRQ; 3 added HVT_RING and stepped
			      exits; 4 added HVT_GDB. Older files are read too: each version only added kinds/flags */
#define HVT_VERSION_MIN 1u
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
	HVT_VQ = 7,          /* one step of a virtio device working on its queue (enum hvt_vq_op) */
	HVT_DISK = 8,        /* backend I/O on the disk image file (enum hvt_disk_op) */
	HVT_IRQ = 9,         /* an interrupt line, controller or injection step (enum hvt_irq_op) */
	HVT_RING = 10,       /* a ring change inside the guest, reported by its kernel through the
				para-virtual trace page (hv/pvtrace.h): guest ring 3 <-> ring 0 */
	HVT_GDB = 11,        /* hv run --gdb: the guest stopped for gdb (enum hvt_gdb_why) */
	HVT_KIND_MAX = 11
};

/*
 * HVT_GDB (version 4): the guest stopped and gdb took over (hv/gdbhv.c). reason = why,
 * data = the signal gdb is told (5 SIGTRAP, 2 SIGINT), rip = addr = where the guest stands,
 * mode and cpl as at that moment.
 */
enum hvt_gdb_why {
	HVT_GDB_HOLD = 1,       /* before the first instruction, or gdb connected (--gdb-nowait) */
	HVT_GDB_TRAP = 2,       /* a breakpoint, watchpoint or finished stepi */
	HVT_GDB_INTERRUPT = 3,  /* Ctrl-C in gdb */
	HVT_GDB_BREAK_EXIT = 4, /* `monitor break-exit` matched the exit before it */
	HVT_GDB_WHY_MAX = 4
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
	HVT_R_IRQ_WINDOW = 11, /* the guest can take an interrupt now (hv asked: request_interrupt_window) */
	HVT_REASON_MAX = 11
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
#define HVT_F_STRING       0x8u /* count > 1: one exit moved several elements (a batched
				   REP INS; KVM emulates REP OUTS one element per exit) */
#define HVT_F_EVENTFD      0x10u /* HVT_VQ: the doorbell came through an ioeventfd: KVM
				    signalled it in the kernel, no exit reached hv */
#define HVT_F_ERROR        0x20u /* HVT_DISK: the host system call failed; data = errno */
#define HVT_F_GUEST_CLOCK  0x40u /* HVT_RING: time_ns comes from the guest's TSC (tracepage.c,
				    "The clock"), not from hv's clock */
#define HVT_F_STEPPED      0x80u /* HVT_EXIT (reason debug): hv single-stepped this
				    instruction (hv run --step); not a natural exit */

/*
 * HVT_RING fields (one record per record the guest kernel wrote in its trace page):
 *   reason  enum hv_pvtrace_kind (syscall, sysret, exception, interrupt, iret, task-start,
 *           task-exit, task-kill)
 *   cpl     the guest's CPL before the change; size: the CPL after it
 *   addr    the vector (0x80 for a system call)
 *   data    low 32 bits: system call number, error code or exit status (per kind);
 *           high 32 bits: the kind's argument (return value, CR2, first argument)
 *   rip     the guest instruction the change happened at; count: the guest's task id
 */

/* HVT_VQ and HVT_DISK records written by a device's I/O thread (--ioeventfd), not a vCPU. */
#define HVT_VCPU_IOTHREAD 0xFFFFu
/* HVT_IRQ line records written by the PIT's tick thread (hv/dev/pit.c). */
#define HVT_VCPU_TIMER    0xFFFEu

/*
 * HVT_VQ: what a virtio device does, step by step (textbook chapter 4, "One request, step by
 * step"). Field use per op; `size` is always the queue index, `arg` shares the rip field
 * (device steps have no guest instruction of their own):
 *
 *   op            addr                    data                     count       arg
 *   NOTIFY        notify register (gpa)   queue index written      -           -
 *   READY         descriptor table (gpa)  driver area (avail, gpa) queue size  device area (used)
 *   STATUS        -                       new device status        -           old status
 *   AVAIL_IDX     avail.idx (gpa)         avail.idx read           last_avail  -
 *   AVAIL_ENTRY   avail.ring[slot] (gpa)  head descriptor index    slot        -
 *   DESC          desc.addr (buffer gpa)  desc.len                 desc index  flags | next << 16
 *   REQUEST       sector                  data bytes               head        request type
 *   USED_ELEM     used.ring[slot] (gpa)   len written              slot        id (head)
 *   USED_IDX      used.idx (gpa)          new used.idx             -           -
 *   IRQ_RAISE     -                       InterruptStatus bits     -           -
 *   IRQ_SUPPRESS  -                       why (enum hvt_irq_why)   -           -
 *   ERROR         address involved        enum hvt_vq_error        index       detail value
 *   RESET         -                       -                        -           -
 */
enum hvt_vq_op {
	HVT_VQ_NOTIFY = 1,
	HVT_VQ_READY = 2,
	HVT_VQ_STATUS = 3,
	HVT_VQ_AVAIL_IDX = 4,
	HVT_VQ_AVAIL_ENTRY = 5,
	HVT_VQ_DESC = 6,
	HVT_VQ_REQUEST = 7,
	HVT_VQ_USED_ELEM = 8,
	HVT_VQ_USED_IDX = 9,
	HVT_VQ_IRQ_RAISE = 10,
	HVT_VQ_IRQ_SUPPRESS = 11,
	HVT_VQ_ERROR = 12,
	HVT_VQ_RESET = 13,
	HVT_VQ_OP_MAX = 13
};

/* Why no interrupt followed a used-ring update. */
enum hvt_irq_why {
	HVT_IRQ_NO_INTERRUPT_FLAG = 1, /* the driver set VIRTQ_AVAIL_F_NO_INTERRUPT: it polls */
	HVT_IRQ_NO_LINE = 2,           /* the machine has no interrupt line wired (polling only) */
};

/*
 * Every validation failure a virtio device can report, named after the row of textbook
 * appendix C it defends (textbook/appendix-c-hostile-guests.md). NEEDS_RESET means the
 * device set DEVICE_NEEDS_RESET in its status and stops the queue until the driver resets it.
 */
enum hvt_vq_error {
	HVT_VQE_BAD_WIDTH = 1,      /* T1 register access not 4 bytes (config: 1/2/4/8 ok) */
	HVT_VQE_BAD_OFFSET = 2,     /* T1/T2 unaligned or beyond the register file/config */
	HVT_VQE_BAD_QUEUE = 3,      /* T3 QueueSel/QueueNotify names no queue */
	HVT_VQE_QUEUE_SIZE = 4,     /* T4 QueueNum 0, not a power of 2, or > QueueNumMax */
	HVT_VQE_RING_ADDR = 5,      /* T5 ring misaligned or not entirely in RAM */
	HVT_VQE_STATUS = 6,         /* T6 device status transition refused */
	HVT_VQE_FEATURES = 7,       /* T6 driver acked features the device did not offer */
	HVT_VQE_LATE_WRITE = 8,     /* T7 queue/feature register written when not allowed */
	HVT_VQE_NOT_LIVE = 9,       /* T8 notify before DRIVER_OK or to a queue not ready */
	HVT_VQE_AVAIL_IDX = 10,     /* Q1 avail.idx moved more than the queue size: NEEDS_RESET */
	HVT_VQE_HEAD = 11,          /* Q2 head index >= queue size: NEEDS_RESET */
	HVT_VQE_NEXT = 12,          /* Q3 desc.next >= queue size */
	HVT_VQE_LOOP = 13,          /* Q4 chain longer than the queue size (a loop) */
	HVT_VQE_CHAIN_LEN = 14,     /* Q5 total length of a chain overflows 32 bits */
	HVT_VQE_BUFFER = 15,        /* Q6 buffer not entirely inside guest RAM */
	HVT_VQE_ORDER = 16,         /* Q7 device-readable descriptor after a writable one */
	HVT_VQE_INDIRECT = 17,      /* Q9 VIRTQ_DESC_F_INDIRECT, which is not offered */
	HVT_VQE_DUP_HEAD = 18,      /* Q10 a head already in flight submitted again */
	HVT_VQE_BLK_HEADER = 19,    /* B1 request header missing, short, or device-writable */
	HVT_VQE_BLK_STATUS = 20,    /* B2 no device-writable status byte at the end */
	HVT_VQE_BLK_RANGE = 21,     /* B3 sector range beyond the capacity: IOERR */
	HVT_VQE_BLK_LENGTH = 22,    /* B4 data length not a multiple of 512: IOERR */
	HVT_VQE_BLK_DIRECTION = 23, /* B5 data buffer direction wrong for the request */
	HVT_VQE_BLK_UNSUPP = 24,    /* B6/B10 request type not supported: UNSUPP */
	HVT_VQE_BLK_FLUSH = 25,     /* B7 FLUSH with a sector or data: IOERR */
	HVT_VQE_BLK_GET_ID = 26,    /* B8 GET_ID buffer not 20 bytes: IOERR */
	HVT_VQE_BLK_READ_ONLY = 27, /* B9 write to a read-only disk: IOERR */
	HVT_VQE_BLK_IO = 28,        /* backend read/write/flush failed: IOERR */
	HVT_VQE_RING_ACCESS = 29,   /* a ring element could not be read/written (not RAM) */
	HVT_VQE_DESC_FLAGS = 30,    /* Q9 descriptor flag bits the split ring does not define */
	HVT_VQE_READ_ONLY = 31,     /* T2 write to read-only device configuration space */
	HVT_VQE_MAX = 31
};

/*
 * HVT_DISK: one system call on the image file, by either controller. `size` = enum
 * hvt_disk_dev, addr = byte offset in the image, data = bytes (or errno with HVT_F_ERROR),
 * duration_ns = time spent in the call, count = the virtio request's head (0 for ATA),
 * arg = the cache mode (enum disk_cache, hv/disk.h).
 */
enum hvt_disk_op {
	HVT_DISK_READ = 1,  /* pread */
	HVT_DISK_WRITE = 2, /* pwrite */
	HVT_DISK_FLUSH = 3, /* fdatasync (or nothing in cache=unsafe: data = 0) */
	HVT_DISK_OP_MAX = 3
};
enum hvt_disk_dev { HVT_DISK_ATA = 1, HVT_DISK_VIRTIO = 2 };

/*
 * HVT_IRQ: how a device's interrupt reaches the guest (textbook chapter 4, "Interrupts and
 * polling"). addr = the IRQ line (0-15), data as below, count = the vector where known.
 *   LINE     a device changed its line: data = new level (0/1)
 *   INJECT   hv injected the PIC's vector with KVM_INTERRUPT: count = vector
 *   WINDOW   the guest could not take it yet (IF = 0 or an interrupt shadow): hv set
 *            request_interrupt_window and waits for the IRQ-window exit
 *   WAKE     a HLT with interrupts on ended because a line rose (data = how long it slept, ns)
 */
enum hvt_irq_op {
	HVT_IRQ_LINE = 1,
	HVT_IRQ_INJECT = 2,
	HVT_IRQ_WINDOW = 3,
	HVT_IRQ_WAKE = 4,
	HVT_IRQ_OP_MAX = 4
};

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
	uint8_t reason;       /* 19: enum hvt_reason (HVT_EXIT), enum hvt_vq_op (HVT_VQ),
				 enum hvt_disk_op (HVT_DISK), else 0 */
	uint8_t size;         /* 20: access size in bytes (1, 2, 4, 8) */
	uint8_t cpl;          /* 21: guest CPL (0-3) at the event */
	uint8_t mode;         /* 22: enum hvt_mode */
	uint8_t reserved;     /* 23: zero */
	uint64_t addr;        /* 24: port or guest-physical address; counter id for HVT_COUNTER */
	uint64_t data;        /* 32: value written or read (first element for string I/O) */
	union {
		uint64_t rip; /* 40: guest instruction pointer */
		uint64_t arg; /* 40: HVT_VQ/HVT_DISK: a second argument (table above) */
	};
	uint32_t count;       /* 48: repetitions for string I/O, else 1 */
	uint32_t flags;       /* 52: HVT_F_* */
	uint64_t duration_ns; /* 56: HVT_EXIT: time hv spent handling it (KVM_RUN return to the
				 next KVM_RUN call); else 0 */
};

_Static_assert(sizeof(struct hvt_record) == HVT_RECORD_SIZE, "trace record must be 64 bytes");

#endif
