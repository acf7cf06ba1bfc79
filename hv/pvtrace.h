/*
 * pvtrace.h - the para-virtual trace page: how a guest kernel tells hv about its own ring
 * changes without causing a single VM exit. Shared by hv and the guests (no host-only types).
 *
 * Concept: para-virtualization in its smallest form. A VM exit is what the host sees of a
 * guest; a system call inside the guest (ring 3 -> ring 0 -> ring 3) causes none, so hv cannot
 * see it. A guest that *knows* it is virtualized can cooperate: it writes a small record into
 * a page of its own memory at every ring change, and hv reads that page whenever the guest
 * stops anyway (at every exit, and at the end). This is the same pattern as KVM's
 * para-virtual clock (kvmclock) and steal-time pages: the guest registers a page of its RAM
 * with the host once, then both sides share it through plain memory.
 * Textbook: chapter 5 "A guest OS", section "Seeing ring changes: the trace page".
 *
 * The handover, step by step:
 *   1. hv appends "hvlab.pvtrace=0x528" to the boot command line: the port to register at.
 *      (No such word, e.g. under QEMU: the guest writes no records.)
 *   2. The guest fills the header of a page-aligned page of its RAM (magic, version,
 *      record_size, capacity, head = tail = lost = 0) and writes the page's guest-physical
 *      address with one 32-bit OUT to that port. That is one VM exit, once.
 *   3. At every ring change the guest kernel writes records[head % capacity] and then
 *      increments head. No exit.
 *   4. hv drains the page at every VM exit (the guest is stopped: no locking is needed) and
 *      at the end of the run: it reads head, copies the records from tail to head, and sets
 *      tail = head. The records go into the trace before the exit they were drained at.
 *   5. When the ring is full (head - tail == capacity) the guest writes the page address to
 *      the port again: a deliberate exit whose only job is to get the page drained. It shows
 *      in the trace as an exit to the "pvtrace" device, so students can tell it apart.
 *
 * The clock: records carry the guest's time stamp counter (RDTSC, which does not exit).
 * hv turns it into trace time at each drain: it reads the guest's TSC (KVM_GET_MSRS) and its
 * own monotonic clock back to back, and places a record `delta` TSC ticks before that instant
 * at `delta / tsc_khz` earlier (KVM_GET_TSC_KHZ). Accuracy: a few microseconds, the time
 * between those two reads (hv/tracepage.c, "The clock").
 *
 * A hostile guest owns this page: it can write anything at any time. hv reads it only
 * through the checked guest-memory functions, reads at most `capacity` records per drain, and
 * treats a wrong magic/version/size, a head that moved backwards or more than capacity
 * records, or a record with impossible fields as a guest error: traced, counted, and the
 * bad part skipped (textbook appendix C, rows P1-P4; hv/tracepage.c).
 */
#ifndef HV_PVTRACE_H
#define HV_PVTRACE_H

#include <stdint.h>

#define HV_PORT_PVTRACE     0x528u  /* OUT32 page address: register, or "drain me now" */
#define HV_PVTRACE_MAGIC    0x54505648u /* "HVPT" in memory (little-endian) */
#define HV_PVTRACE_VERSION  1u
#define HV_PVTRACE_PAGE     4096u
#define HV_PVTRACE_HDR_SIZE 64u
#define HV_PVTRACE_REC_SIZE 32u
/*
 * (4096 - 64) / 32 = 126 records would fit in the page, but the ring holds 64: a power of two,
 * so that slot = head % capacity stays continuous when the free-running head wraps from
 * 2^32 - 1 to 0 (2^32 is a multiple of 64, not of 126). The rest of the page is unused.
 */
#define HV_PVTRACE_CAPACITY 64u
_Static_assert(HV_PVTRACE_HDR_SIZE + HV_PVTRACE_CAPACITY * HV_PVTRACE_REC_SIZE <= HV_PVTRACE_PAGE,
	       "the ring must fit in one page");

/* What happened. "enter" kinds go into the kernel (to_cpl 0), "leave" kinds go back out. */
enum hv_pvtrace_kind {
	HV_PVT_SYSCALL = 1,    /* int 0x80 (or syscall) entered the kernel: nr = system call number */
	HV_PVT_SYSRET = 2,     /* the kernel returned from that system call: arg = return value */
	HV_PVT_EXCEPTION = 3,  /* a CPU exception entered the kernel: vector, nr = error code, arg = CR2 */
	HV_PVT_INTERRUPT = 4,  /* a hardware interrupt entered the kernel: vector */
	HV_PVT_IRET = 5,       /* the kernel returned from an exception or interrupt */
	HV_PVT_TASK_START = 6, /* the kernel started a task: first entry to ring 3 */
	HV_PVT_TASK_EXIT = 7,  /* a task ended with the exit system call: nr = status */
	HV_PVT_TASK_KILL = 8,  /* the kernel killed a task: vector = the exception that did it */
	HV_PVT_KIND_MAX = 8
};

/*
 * The mini OS's system call numbers (guest/os), here so that `hv trace dump` can name them.
 * Where Linux on i386 has the same call, the number is Linux's (exit 1, write 4, getpid 20),
 * so a student who has read an strace of a 32-bit program recognises them; the disk calls
 * exist only in hvlab.
 */
enum hv_os_syscall {
	HV_SYS_EXIT = 1,        /* exit(status): ends the task */
	HV_SYS_WRITE = 4,       /* write(fd 1, buf, len) -> bytes written, to the UART */
	HV_SYS_GETPID = 20,     /* getpid() -> task id */
	HV_SYS_DISK_READ = 400, /* disk_read(lba, buf, sectors) -> 0 or -1 */
	HV_SYS_DISK_WRITE = 401,/* disk_write(lba, buf, sectors) -> 0 or -1 */
	HV_SYS_DISK_FLUSH = 402,/* disk_flush() -> 0 or -1 */
	HV_SYS_TICKS = 403,     /* ticks() -> timer interrupts seen since boot */
};

struct hv_pvtrace_header {
	uint32_t magic;       /*  0: HV_PVTRACE_MAGIC */
	uint16_t version;     /*  4: HV_PVTRACE_VERSION */
	uint16_t record_size; /*  6: HV_PVTRACE_REC_SIZE */
	uint32_t capacity;    /*  8: HV_PVTRACE_CAPACITY */
	uint32_t head;        /* 12: guest: records written so far (free-running, wraps at 2^32) */
	uint32_t tail;        /* 16: hv: records consumed so far (free-running) */
	uint32_t lost;        /* 20: guest: records it could not write */
	uint8_t reserved[40]; /* 24: zero */
};

struct hv_pvtrace_record {
	uint64_t tsc;         /*  0: RDTSC at the ring change */
	uint8_t kind;         /*  8: enum hv_pvtrace_kind */
	uint8_t from_cpl;     /*  9: privilege level before (0-3) */
	uint8_t to_cpl;       /* 10: privilege level after (0-3) */
	uint8_t vector;       /* 11: interrupt/exception vector (0x80 for int 0x80 system calls) */
	uint32_t nr;          /* 12: system call number, error code or exit status */
	uint64_t rip;         /* 16: for a fault, the faulting instruction; for int 0x80 and an
				 interrupt, where ring 3 resumes; for sysret/iret, the target */
	uint32_t task;        /* 24: the task's id (1, 2, ...; 0 = the kernel itself) */
	uint32_t arg;         /* 28: return value, CR2, or first argument (per kind) */
};

_Static_assert(sizeof(struct hv_pvtrace_header) == HV_PVTRACE_HDR_SIZE, "pvtrace header size");
_Static_assert(sizeof(struct hv_pvtrace_record) == HV_PVTRACE_REC_SIZE, "pvtrace record size");

#endif
