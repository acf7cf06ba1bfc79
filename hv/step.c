/*
 * step.c - hv run --step SYMBOL --step-count N: run the guest to SYMBOL, then execute N
 * instructions one at a time and record, for each, where the CPU stands: rip, mode and CPL.
 *
 * Concept: single-stepping, the debugger's oldest tool, done from outside the guest. x86 has
 * two mechanisms, and a VMM can use both without the guest's help:
 *   - a hardware breakpoint: debug register DR0 holds an address, DR7 enables it for
 *     execution; the CPU raises a debug exception (#DB) before executing that instruction;
 *   - the trap flag (RFLAGS.TF): the CPU raises #DB after every instruction.
 * KVM_SET_GUEST_DEBUG asks KVM to set these up in the *guest's* CPU state and to turn the
 * resulting #DB into a VM exit (KVM_EXIT_DEBUG) instead of delivering it to the guest. The guest
 * cannot tell; its own debug registers are restored when hv stops debugging.
 * Textbook: chapter 5 "A guest OS", section "Watching one instruction at a time".
 *
 * Why this is set again before *every* KVM_RUN: TF lives in the guest's RFLAGS, which the guest
 * changes. The CPU itself clears TF when it enters an interrupt or exception handler (it pushes
 * RFLAGS with TF set, then clears it, so the handler is not traced; Intel SDM vol. 3A, "Single-
 * step exception condition"). An `int 0x80` from ring 3 would end the stepping right where it
 * becomes interesting: the switch to ring 0. Two things bring it back:
 *   - before every KVM_RUN hv sets the debug state again, so after any exit inside the handler
 *     TF is on again;
 *   - before stepping over an `int n` (opcode CD nn), hv reads the guest's IDT gate n, and puts
 *     a hardware breakpoint on the handler's first instruction. The CPU enters the handler,
 *     hits the breakpoint before executing anything, and stepping goes on from there.
 * So the CPL sequence shows 3, 3, 0, 0, ..., 0, 3: the system call as the CPU lives it. (At
 * the `iret` the CPU reloads RFLAGS from the stack, with the TF it pushed: stepping continues in
 * ring 3.) Hardware interrupts that arrive while stepping are not followed into their handler.
 *
 * Every stepped instruction is one VM exit, recorded as an exit of reason "debug" with the
 * "stepped" flag and data = the step's number (0 = the breakpoint at SYMBOL). So stepping is
 * slow by design: use it for windows of tens or hundreds of instructions.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm.h"

#define DR7_L0 0x1u        /* local enable of breakpoint 0 (R/W0 = 00: on execution, LEN0 = 00) */
#define DR7_FIXED 0x400u   /* bit 10 of DR7 always reads as 1 */

/* What KVM should do with the guest's debug state on this entry: DR0 = `bp` if not 0. */
static int step_set_debug(struct vm *vm, uint32_t control, uint64_t bp)
{
	struct kvm_guest_debug dbg;
	memset(&dbg, 0, sizeof dbg);
	dbg.control = control;
	if (bp) {
		dbg.control |= KVM_GUESTDBG_USE_HW_BP;
		dbg.arch.debugreg[0] = bp;
		dbg.arch.debugreg[7] = DR7_FIXED | DR7_L0;
	}
	return ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg);
}

/* Copy guest-*linear* memory (what the guest's rip and IDTR hold) through the guest's page
 * tables: KVM_TRANSLATE walks them for us, then gm_read does the checked copy. Page by page,
 * since two linear pages need not be neighbours in physical memory. */
static int read_linear(struct vm *vm, uint64_t la, void *dst, uint32_t len)
{
	uint8_t *out = dst;
	while (len) {
		struct kvm_translation tr = { .linear_address = la };
		uint32_t chunk = 4096 - (uint32_t)(la & 4095);
		if (chunk > len)
			chunk = len;
		if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid ||
		    gm_read(&vm->mem, tr.physical_address, out, chunk) < 0)
			return -1;
		la += chunk, out += chunk, len -= chunk;
	}
	return 0;
}

/*
 * If the instruction at rip is `int n`, where does the CPU go? The gate's offset fields
 * (Intel SDM vol. 3A, "IDT Descriptors"): bytes 0-1 and 6-7 of an 8-byte gate in protected
 * mode, plus bytes 8-11 of a 16-byte gate in long mode; real mode's vector table holds
 * offset:segment pairs. Returns the handler's linear address, or 0 (not an INT n, or
 * unreadable: then only the next exit re-arms).
 */
static uint64_t int_handler(struct vm *vm)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t insn[2], gate[16];
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0 || ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return 0;
	uint64_t pc = sregs.cr0 & 1 ? sregs.cs.base + regs.rip : sregs.cs.base + (regs.rip & 0xFFFF);
	if (read_linear(vm, pc, insn, 2) < 0 || insn[0] != 0xCD)
		return 0;
	unsigned n = insn[1];
	uint8_t mode = cpu_mode(&sregs);
	if (mode == HVT_MODE_REAL) {
		uint16_t ivt[2];
		if (read_linear(vm, sregs.idt.base + n * 4u, ivt, 4) < 0)
			return 0;
		return (uint64_t)ivt[1] * 16 + ivt[0];
	}
	unsigned size = mode == HVT_MODE_LONG || mode == HVT_MODE_COMPAT ? 16 : 8;
	if ((uint64_t)n * size + size - 1 > sregs.idt.limit ||
	    read_linear(vm, sregs.idt.base + (uint64_t)n * size, gate, size) < 0)
		return 0;
	uint64_t off = (uint64_t)gate[0] | (uint64_t)gate[1] << 8 | (uint64_t)gate[6] << 16 |
		       (uint64_t)gate[7] << 24;
	if (size == 16)
		off |= (uint64_t)gate[8] << 32 | (uint64_t)gate[9] << 40 | (uint64_t)gate[10] << 48 |
		       (uint64_t)gate[11] << 56;
	return off; /* the handler's code segment is flat in every kernel hv runs (base 0) */
}

/* Before every KVM_RUN: a breakpoint while waiting for SYMBOL, the trap flag while stepping,
 * and, once, nothing at all when the window is done (the guest gets its own DR7 back). */
void step_before_run(struct vm *vm)
{
	struct step_state *s = &vm->step;
	uint32_t control;
	uint64_t bp = 0;
	switch (s->phase) {
	case STEP_WAIT: control = KVM_GUESTDBG_ENABLE; bp = s->addr; break;
	case STEP_STEPPING:
		control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
		s->handler = int_handler(vm); /* about to step over `int n`? catch its handler */
		bp = s->handler;
		break;
	case STEP_DONE: control = 0; break;
	default: return; /* STEP_OFF, or already disarmed */
	}
	if (step_set_debug(vm, control, bp) < 0) {
		char why[160];
		snprintf(why, sizeof why, "KVM_SET_GUEST_DEBUG failed: %s (this KVM cannot single-step "
			 "its guests; run without --step)", strerror(errno));
		vm_stop_with(vm, HV_EXIT_HOST, why);
		return;
	}
	if (s->phase == STEP_DONE)
		s->phase = STEP_OFF;
}

/* One line per stepped instruction on stderr, for the student at the terminal. */
static void step_print(const struct vm *vm, uint32_t n)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (vm->quiet || ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return;
	fprintf(stderr, "hv: step %u: cpl%u %s rip=0x%llx\n", n, cpu_cpl(&sregs),
		hvt_mode_name(cpu_mode(&sregs)), (unsigned long long)regs.rip);
}

/*
 * KVM_EXIT_DEBUG. While waiting, it is the breakpoint at SYMBOL (step 0: the CPU stands at the
 * first instruction of the window, not yet executed). While stepping, the CPU has executed one
 * more instruction and stands at the next. After `count` records the window is closed.
 */
void step_handle_debug(struct vm *vm, struct hvt_record *r)
{
	struct step_state *s = &vm->step;
	r->reason = HVT_R_DEBUG;
	if (s->phase == STEP_WAIT) {
		if (vm->run->debug.arch.pc != s->addr)
			return; /* not our breakpoint: go on waiting */
		s->phase = STEP_STEPPING;
	} else if (s->phase != STEP_STEPPING) {
		return; /* a late #DB after the window closed: nothing to record */
	}
	r->flags |= HVT_F_STEPPED;
	r->data = s->done;
	step_print(vm, s->done);
	if (++s->done >= s->count)
		s->phase = STEP_DONE;
}
