/*
 * trap.c - every entry into the kernel ends up here: system calls, hardware interrupts and
 * CPU exceptions, each from ring 3 (a task) or ring 0 (the kernel itself).
 *
 * Concept: one function decides what a trap means. The vector says what happened; the CPL
 * in the saved CS says who was running. The same #PF is a task's mistake when it came from
 * ring 3 (kill the task, keep the machine) and a kernel bug when it came from ring 0 (there
 * is nobody left to blame: report everything and stop). Every ring change is also written
 * to the trace page (pvtrace.c), because none of them is a VM exit hv could see.
 * Textbook: chapter 5 "A guest OS", sections "The IDT and exceptions", "System calls" and
 * "Seeing ring changes: the trace page".
 */
#include <stdint.h>

#include "os.h"
#include "pic.h"
#include "pvtrace.h"

/* Names as the Intel SDM writes them (vol. 3, table 6-1 "Protected-mode exceptions and
   interrupts"), with their mnemonic. */
static const char *const exception_names[T_EXCEPTIONS] = {
	"#DE divide error",          "#DB debug",
	"NMI",                       "#BP breakpoint",
	"#OF overflow",              "#BR bound range exceeded",
	"#UD invalid opcode",        "#NM device not available",
	"#DF double fault",          "coprocessor segment overrun",
	"#TS invalid TSS",           "#NP segment not present",
	"#SS stack-segment fault",   "#GP general protection fault",
	"#PF page fault",            "reserved exception 15",
	"#MF x87 floating-point error", "#AC alignment check",
	"#MC machine check",         "#XM SIMD floating-point exception",
	"#VE virtualization exception", "#CP control protection exception",
	"reserved exception 22",     "reserved exception 23",
	"reserved exception 24",     "reserved exception 25",
	"reserved exception 26",     "reserved exception 27",
	"#HV hypervisor injection exception", "#VC VMM communication exception",
	"#SX security exception",    "reserved exception 31",
};

const char *trap_name(uint32_t vector)
{
	if (vector < T_EXCEPTIONS)
		return exception_names[vector];
	if (vector >= T_IRQ0 && vector < T_IRQ0 + T_IRQS)
		return "hardware interrupt";
	return vector == T_SYSCALL ? "system call" : "unknown vector";
}

/*
 * Instructions that #GP at CPL 3 because they are privileged (CPL must be 0) or I/O
 * sensitive (CPL must be <= IOPL, which is 0): cli, sti, hlt, in, out, and the 0F-prefixed
 * system instructions (lgdt/lidt group, clts, invd, wbinvd, mov to/from CRn, wrmsr, rdmsr).
 * The kernel may read the task's code to say which case it was: it is in the user region.
 */
static int is_privileged_insn(uint32_t eip)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)eip;

	if (!user_range_ok(eip, 2))
		return 0;
	switch (p[0]) {
	case 0xFA: case 0xFB: case 0xF4:                         /* cli sti hlt */
	case 0xE4: case 0xE5: case 0xE6: case 0xE7:              /* in/out imm8 */
	case 0xEC: case 0xED: case 0xEE: case 0xEF:              /* in/out dx */
		return 1;
	case 0x0F:
		return p[1] == 0x01 || p[1] == 0x06 || p[1] == 0x08 || p[1] == 0x09 ||
		       p[1] == 0x20 || p[1] == 0x22 || p[1] == 0x30 || p[1] == 0x32;
	default:
		return 0;
	}
}

/*
 * Why a ring-3 exception happened, in words, for the kill line. #PF error code bits
 * (SDM section 4.7): bit 0 P = the page was present (so a protection check failed, here
 * U/S = 0), bit 1 W = a write, bit 2 U = the access came from CPL 3.
 */
static const char *trap_explain(const struct trapframe *tf, uint32_t cr2)
{
	switch (tf->trapno) {
	case T_PF:
		if (!(tf->err & 1u))
			return "ring 3 touched unmapped memory";
		if (!user_range_ok(cr2, 1))
			return "ring 3 touched kernel memory";
		return "a protection check failed";
	case T_GP:
		if (tf->err & 1u) /* EXT: raised while delivering an external event, not by the task */
			return "an external event hit a bad gate";
		if (tf->err & 2u)
			return "int n through a gate ring 3 may not use";
		if (is_privileged_insn(tf->eip))
			return "a privileged instruction in ring 3";
		return "a protection check failed";
	case 0:
		return "division by zero";
	case 6:
		return "not an instruction";
	default:
		return "an exception in ring 3";
	}
}

/*
 * A fault in ring 0 is a kernel bug. Say everything we know on one screen, then stop the
 * machine with the vector as the exit code (hv status (vector << 1) | 1, e.g. 29 for #PF).
 * No attempt to continue: the kernel's own state can no longer be trusted.
 */
static void __attribute__((noreturn)) trap_panic(const struct trapframe *tf, uint32_t cr2)
{
	/* No ESP/SS were pushed (no privilege change): the stack was right above EFLAGS. */
	uint32_t esp = (uint32_t)(uintptr_t)&tf->esp;

	kprintf("os: PANIC: %s in ring 0 at eip=0x%08x", trap_name(tf->trapno), tf->eip);
	if (tf->trapno == T_PF)
		kprintf(" cr2=0x%08x", cr2);
	kprintf(" err=0x%x\n", tf->err);
	kprintf("os: eax=0x%08x ebx=0x%08x ecx=0x%08x edx=0x%08x\n", tf->eax, tf->ebx, tf->ecx,
		tf->edx);
	kprintf("os: esi=0x%08x edi=0x%08x ebp=0x%08x esp=0x%08x\n", tf->esi, tf->edi, tf->ebp,
		esp);
	/* A 32-bit push of a segment register may leave the upper 16 bits of its slot
	   unchanged (SDM, PUSH): only the low 16 are the selector. */
	kprintf("os: cs=0x%x ds=0x%x eflags=0x%08x task=%u\n", tf->cs & 0xFFFFu,
		tf->ds & 0xFFFFu, tf->eflags, task_current_id());
	os_exit((uint8_t)tf->trapno);
}

/* An exception: the task's fault (kill it) or the kernel's (panic). */
static void trap_exception(struct trapframe *tf)
{
	/* Read CR2 first: the next page fault, anywhere, would overwrite it. */
	uint32_t cr2 = tf->trapno == T_PF ? read_cr2() : 0;

	if (tf_cpl(tf) == 0) {
		if (paging_fixup(tf))
			return; /* an expected fault: the kernel resumes past it */
		trap_panic(tf, cr2);
	}
	/* #DF (8) and #MC (18) are aborts: the saved state may be garbage and the cause is the
	 * machine or the kernel's tables, not the task. Stop, whoever was running. */
	if (tf->trapno == 8 || tf->trapno == 18)
		trap_panic(tf, cr2);
	pvtrace_emit(HV_PVT_EXCEPTION, (uint8_t)tf_cpl(tf), 0, (uint8_t)tf->trapno, tf->err,
		     tf->eip, cr2);
	task_kill(tf, cr2, trap_explain(tf, cr2));
}

/*
 * A hardware interrupt. Only the timer (IRQ 0) is unmasked; the PIC may still deliver a
 * spurious IRQ 7 or 15 (pic.h), which must not be acknowledged. The EOI tells the PIC this
 * line may interrupt again; IRET then resumes the task exactly where it was.
 */
static void trap_irq(struct trapframe *tf)
{
	uint32_t irq = tf->trapno - T_IRQ0;
	uint8_t cpl = (uint8_t)tf_cpl(tf);

	pvtrace_emit(HV_PVT_INTERRUPT, cpl, 0, (uint8_t)tf->trapno, 0, tf->eip, 0);
	if (pic_is_spurious(irq)) {
		pic_eoi_spurious(irq);
	} else {
		if (irq == 0)
			timer_irq();
		pic_eoi(irq);
	}
	pvtrace_emit(HV_PVT_IRET, 0, cpl, (uint8_t)tf->trapno, 0, tf->eip, 0);
}

/*
 * int 0x80: EAX = number, EBX/ECX/EDX = arguments, the result goes back in EAX (it is
 * written into the trap frame, and trapret's POPAL loads it). tf->eip is already the
 * instruction after `int $0x80`: the CPU pushed the return address of a *trap*.
 */
static void trap_syscall(struct trapframe *tf)
{
	uint32_t nr = tf->eax;

	if (tf_cpl(tf) != 3)
		trap_panic(tf, 0); /* the kernel never makes system calls */
	pvtrace_emit(HV_PVT_SYSCALL, 3, 0, T_SYSCALL, nr, tf->eip, tf->ebx);
	syscall_dispatch(tf); /* exit does not come back */
	pvtrace_emit(HV_PVT_SYSRET, 0, 3, T_SYSCALL, nr, tf->eip, tf->eax);
}

/* Called by trapasm.S (alltraps) with interrupts off. */
void trap(struct trapframe *tf)
{
	if (tf->trapno == T_SYSCALL)
		trap_syscall(tf);
	else if (tf->trapno >= T_IRQ0 && tf->trapno < T_IRQ0 + T_IRQS)
		trap_irq(tf);
	else if (tf->trapno < T_EXCEPTIONS)
		trap_exception(tf);
	else
		trap_panic(tf, 0); /* no gate leads here: trapasm.S has no other stubs */
}
