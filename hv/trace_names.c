/*
 * trace_names.c - the words for the trace format's numbers, one table per enum.
 *
 * Concept: a number in a file means nothing until someone agrees what it is called. These
 * tables are that agreement: `hv trace dump`, `hv trace stats`, hvviz and students' scripts
 * all print and match the same words, so a renamed word breaks scripts exactly as a moved
 * field would. Every lookup is bounds-checked: a value from a hostile file prints as "?",
 * never indexes past a table.
 * Textbook: appendix A "The trace format", sections A.4-A.8 (kinds, reasons, modes, flags,
 * counters) and A.15 (ring changes).
 */
#include "trace_names.h"

#include <inttypes.h>
#include <stdio.h>

#include "pvtrace.h"

/* ---- names ---- */
/* These names are the format's vocabulary on screen: the tests and students' scripts match them
 * as text, so renaming one is a format change, like moving a field. */

/*
 * One table per enum, indexed by value; anything outside the table prints as "?". Designated
 * initializers ([HVT_R_IO] = "io") keep each name next to the enum constant it belongs to, so
 * the table cannot silently shift if a value is added in the middle.
 */
static const char *name_of(const char *const *table, size_t n, unsigned v)
{
	/* Two checks: past the end of the table, and a hole inside it (a value the designated
	 * initializers skipped). Both print "?", never NULL: printf("%s", NULL) is undefined. */
	return v < n && table[v] ? table[v] : "?";
}

#define NAME_OF(table, v) name_of(table, sizeof table / sizeof table[0], v)

/*
 * The kinds are the four steps of one exit's round trip (exit, run-return, run-call, entry:
 * appendix A.4) and the events around them. Short lowercase words, hyphenated, never spaces:
 * a dump line must split into fields on blanks.
 */
const char *hvt_kind_name(unsigned kind)
{
	static const char *const names[] = {
		[HVT_EXIT] = "exit",       [HVT_RUN_RETURN] = "run-return",
		[HVT_RUN_CALL] = "run-call", [HVT_ENTRY] = "entry",
		[HVT_COUNTER] = "counter", [HVT_GUEST_ERROR] = "guest-error",
		[HVT_VQ] = "vq",           [HVT_DISK] = "disk",
		[HVT_IRQ] = "irq",         [HVT_RING] = "ring",
		[HVT_GDB] = "gdb-stop",
	};
	return NAME_OF(names, kind);
}

/*
 * Ring changes the guest kernel reports on its trace page (pvtrace.h). The enum is the guest's,
 * not ours: the guest kernel and hv share pvtrace.h, so these names follow the guest's words.
 */
const char *hvt_ring_op_name(unsigned op)
{
	static const char *const names[] = {
		[HV_PVT_SYSCALL] = "syscall",       [HV_PVT_SYSRET] = "sysret",
		[HV_PVT_EXCEPTION] = "exception",   [HV_PVT_INTERRUPT] = "interrupt",
		[HV_PVT_IRET] = "iret",             [HV_PVT_TASK_START] = "task-start",
		[HV_PVT_TASK_EXIT] = "task-exit",   [HV_PVT_TASK_KILL] = "task-kill",
	};
	return NAME_OF(names, op);
}

/*
 * Exit reasons in hvlab's own numbering (trace.h), named after what the CPU did rather than
 * after KVM's KVM_EXIT_* constants: a student reads "hlt" and "io", not "KVM_EXIT_HLT".
 */
const char *hvt_reason_name(unsigned reason)
{
	static const char *const names[] = {
		[HVT_R_NONE] = "none",           [HVT_R_IO] = "io",
		[HVT_R_MMIO] = "mmio",           [HVT_R_HLT] = "hlt",
		[HVT_R_SHUTDOWN] = "shutdown",   [HVT_R_FAIL_ENTRY] = "fail-entry",
		[HVT_R_INTERNAL] = "internal",   [HVT_R_INTR] = "intr",
		[HVT_R_DEBUG] = "debug",         [HVT_R_SYSTEM_EVENT] = "system-event",
		[HVT_R_OTHER] = "other",         [HVT_R_IRQ_WINDOW] = "irq-window",
	};
	return NAME_OF(names, reason);
}

/*
 * CPU modes with the code width in the name ("prot16", "prot32"): the same protected mode runs
 * 16- and 32-bit code, and which one decides how the guest's instructions were decoded.
 * Unknown prints as "?" on purpose: hv could not tell, and a guess would teach the wrong mode.
 */
const char *hvt_mode_name(unsigned mode)
{
	static const char *const names[] = {
		[HVT_MODE_UNKNOWN] = "?",    [HVT_MODE_REAL] = "real",
		[HVT_MODE_PROT16] = "prot16", [HVT_MODE_PROT32] = "prot32",
		[HVT_MODE_COMPAT] = "compat", [HVT_MODE_LONG] = "long",
	};
	return NAME_OF(names, mode);
}

/* The host kinds of `hv doctor` (hostinfo.c): a trace says which KVM recorded it, because
 * exit costs differ by a factor of ten between hardware virtualization and PVM. */
const char *hvt_host_name(unsigned host)
{
	static const char *const names[] = {
		[HVT_HOST_UNKNOWN] = "unknown", [HVT_HOST_VMX] = "vmx", [HVT_HOST_SVM] = "svm",
		[HVT_HOST_PVM] = "pvm",         [HVT_HOST_NESTED] = "nested",
	};
	return NAME_OF(names, host);
}

/*
 * The names KVM's binary statistics use (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD).
 * Keeping KVM's spelling means `grep -rn io_exits arch/x86/kvm` in a kernel tree finds the line
 * that counts each one, and that line is its definition (textbook ch 3, "Exits hv never sees").
 */
const char *hvt_counter_name(unsigned counter)
{
	static const char *const names[] = {
		[HVT_C_EXITS] = "exits",
		[HVT_C_IO_EXITS] = "io_exits",
		[HVT_C_MMIO_EXITS] = "mmio_exits",
		[HVT_C_HALT_EXITS] = "halt_exits",
		[HVT_C_IRQ_EXITS] = "irq_exits",
		[HVT_C_SIGNAL_EXITS] = "signal_exits",
		[HVT_C_INSN_EMULATION] = "insn_emulation",
		[HVT_C_INSN_EMULATION_FAIL] = "insn_emulation_fail",
		[HVT_C_HYPERCALLS] = "hypercalls",
		[HVT_C_REQUEST_IRQ_EXITS] = "request_irq_exits",
		[HVT_C_IRQ_WINDOW_EXITS] = "irq_window_exits",
	};
	return NAME_OF(names, counter);
}

/*
 * The steps of one virtio request as the device walks its queue (trace.h, HVT_VQ table; textbook
 * chapter 4, "One request, step by step"), in the order they happen: notify, avail-idx,
 * avail-entry, desc..., request, used-elem, used-idx, irq-raise.
 */
const char *hvt_vq_op_name(unsigned op)
{
	static const char *const names[] = {
		[HVT_VQ_NOTIFY] = "notify",           [HVT_VQ_READY] = "queue-ready",
		[HVT_VQ_STATUS] = "status",           [HVT_VQ_AVAIL_IDX] = "avail-idx",
		[HVT_VQ_AVAIL_ENTRY] = "avail-entry", [HVT_VQ_DESC] = "desc",
		[HVT_VQ_REQUEST] = "request",         [HVT_VQ_USED_ELEM] = "used-elem",
		[HVT_VQ_USED_IDX] = "used-idx",       [HVT_VQ_IRQ_RAISE] = "irq-raise",
		[HVT_VQ_IRQ_SUPPRESS] = "irq-suppress", [HVT_VQ_ERROR] = "error",
		[HVT_VQ_RESET] = "reset",
	};
	return NAME_OF(names, op);
}

/* Each name starts with its appendix C row, so `hv trace dump | grep Q4` finds the defence. */
const char *hvt_vq_error_name(unsigned err)
{
	static const char *const names[] = {
		[HVT_VQE_BAD_WIDTH] = "T1-bad-width",       [HVT_VQE_BAD_OFFSET] = "T2-bad-offset",
		[HVT_VQE_BAD_QUEUE] = "T3-bad-queue",       [HVT_VQE_QUEUE_SIZE] = "T4-queue-size",
		[HVT_VQE_RING_ADDR] = "T5-ring-address",    [HVT_VQE_STATUS] = "T6-status-order",
		[HVT_VQE_FEATURES] = "T6-features",         [HVT_VQE_LATE_WRITE] = "T7-late-write",
		[HVT_VQE_NOT_LIVE] = "T8-not-live",         [HVT_VQE_AVAIL_IDX] = "Q1-avail-idx",
		[HVT_VQE_HEAD] = "Q2-head-range",           [HVT_VQE_NEXT] = "Q3-next-range",
		[HVT_VQE_LOOP] = "Q4-loop",                 [HVT_VQE_CHAIN_LEN] = "Q5-chain-length",
		[HVT_VQE_BUFFER] = "Q6-buffer-range",       [HVT_VQE_ORDER] = "Q7-read-after-write",
		[HVT_VQE_INDIRECT] = "Q9-indirect",         [HVT_VQE_DUP_HEAD] = "Q10-duplicate-head",
		[HVT_VQE_BLK_HEADER] = "B1-header",         [HVT_VQE_BLK_STATUS] = "B2-status",
		[HVT_VQE_BLK_RANGE] = "B3-sector-range",    [HVT_VQE_BLK_LENGTH] = "B4-length",
		[HVT_VQE_BLK_DIRECTION] = "B5-direction",   [HVT_VQE_BLK_UNSUPP] = "B6-unsupported",
		[HVT_VQE_BLK_FLUSH] = "B7-flush-args",      [HVT_VQE_BLK_GET_ID] = "B8-get-id-length",
		[HVT_VQE_BLK_READ_ONLY] = "B9-read-only",   [HVT_VQE_BLK_IO] = "backend-io",
		[HVT_VQE_RING_ACCESS] = "ring-access",      [HVT_VQE_DESC_FLAGS] = "Q9-unknown-flags",
		[HVT_VQE_READ_ONLY] = "T2-read-only-config",
	};
	return NAME_OF(names, err);
}

/* The backend's system calls on the image file, named after what they do to the data, not
 * after the call (pread, pwrite, fdatasync), so both controllers read the same. */
const char *hvt_disk_op_name(unsigned op)
{
	static const char *const names[] = {
		[HVT_DISK_READ] = "read", [HVT_DISK_WRITE] = "write", [HVT_DISK_FLUSH] = "flush",
	};
	return NAME_OF(names, op);
}

/* The four stations of an interrupt (chapter 4, "Interrupts and polling"): a device's line
 * rises, hv injects the vector, or must wait for a window, or wakes a halted vCPU. */
const char *hvt_irq_op_name(unsigned op)
{
	static const char *const names[] = {
		[HVT_IRQ_LINE] = "line", [HVT_IRQ_INJECT] = "inject", [HVT_IRQ_WINDOW] = "window",
		[HVT_IRQ_WAKE] = "wake",
	};
	return NAME_OF(names, op);
}

const char *hvt_gdb_why_name(unsigned why)
{
	static const char *const names[] = {
		[HVT_GDB_HOLD] = "hold", [HVT_GDB_TRAP] = "trap", [HVT_GDB_INTERRUPT] = "interrupt",
		[HVT_GDB_BREAK_EXIT] = "break-exit",
	};
	return NAME_OF(names, why);
}

/*
 * A counter's KVM name. Counter ids are not range-checked by the reader (a newer hv may
 * record more counters), so ids outside the table still get a stable, parseable name.
 */
const char *hvt_counter_label(uint64_t id, char *buf, size_t len)
{
	if (id >= 1 && id <= HVT_C_MAX)
		return hvt_counter_name((unsigned)id);
	snprintf(buf, len, "counter-%" PRIu64, id);
	return buf;
}

/* The mini OS's system call numbers (pvtrace.h), so a dump reads "nr=4(write)". */
const char *hvt_syscall_name(unsigned nr)
{
	/* A switch, not a table: the numbers are Linux's where Linux has the call (pvtrace.h),
	 * so they are sparse, and a table indexed by them would be mostly holes. */
	switch (nr) {
	case HV_SYS_EXIT: return "exit";
	case HV_SYS_WRITE: return "write";
	case HV_SYS_GETPID: return "getpid";
	case HV_SYS_DISK_READ: return "disk_read";
	case HV_SYS_DISK_WRITE: return "disk_write";
	case HV_SYS_DISK_FLUSH: return "disk_flush";
	case HV_SYS_TICKS: return "ticks";
	default: return "?";
	}
}
