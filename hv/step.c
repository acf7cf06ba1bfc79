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
 * step exception condition"). An `int 0x80` from ring 3 therefore would end the stepping right
 * where it becomes interesting: the switch to ring 0. Re-arming on every entry puts TF back, so
 * the first instruction of the guest's handler is stepped too, and the CPL sequence shows
 * 3, 3, ..., 0, 0, ..., 3: the system call as the CPU lives it.
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

/* What KVM should do with the guest's debug state on this entry. */
static int step_set_debug(struct vm *vm, uint32_t control)
{
	struct kvm_guest_debug dbg;
	memset(&dbg, 0, sizeof dbg);
	dbg.control = control;
	if (control & KVM_GUESTDBG_USE_HW_BP) {
		dbg.arch.debugreg[0] = vm->step.addr;
		dbg.arch.debugreg[7] = DR7_FIXED | DR7_L0;
	}
	return ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg);
}

/* Before every KVM_RUN: a breakpoint while waiting for SYMBOL, the trap flag while stepping,
 * and, once, nothing at all when the window is done (the guest gets its own DR7 back). */
void step_before_run(struct vm *vm)
{
	struct step_state *s = &vm->step;
	uint32_t control;
	switch (s->phase) {
	case STEP_WAIT: control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP; break;
	case STEP_STEPPING: control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP; break;
	case STEP_DONE: control = 0; break;
	default: return; /* STEP_OFF, or already disarmed */
	}
	if (step_set_debug(vm, control) < 0) {
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
