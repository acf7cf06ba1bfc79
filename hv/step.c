/*
 * step.c - hv run --step SYMBOL --step-count N: run the guest to SYMBOL, then execute N
 * instructions one at a time and record, for each, where the CPU stands: rip, mode and CPL.
 *
 * Concept: single-stepping, the debugger's oldest tool, done from outside the guest, without
 * the guest's help or knowledge. Two x86 mechanisms, both turned into VM exits by KVM:
 *   - breakpoints, to stop at SYMBOL. hv sets two, because each works where the other fails:
 *     a hardware breakpoint (debug register DR0 = the address, DR7 enables it for execution;
 *     the CPU raises #DB *before* executing the instruction), and a software breakpoint: the
 *     one-byte instruction INT3 (0xCC) written over the instruction's first byte, which raises
 *     #BP when executed. With KVM_GUESTDBG_USE_HW_BP and USE_SW_BP, KVM intercepts both and
 *     returns KVM_EXIT_DEBUG instead of delivering them to the guest. Whichever fires, hv puts
 *     the original byte back, so the guest runs its real instruction (gdb does the same to a
 *     process through ptrace). Measured: PVM honours DR0 but cannot intercept #BP in protected
 *     mode; the nested lab VM (SVM emulated by QEMU) intercepts #BP but never fires DR0.
 *   - the trap flag (RFLAGS.TF): with KVM_GUESTDBG_SINGLESTEP, KVM sets it in the guest and
 *     intercepts the #DB the CPU raises after every instruction.
 * Textbook: chapter 5 "A guest OS", section "Watching one instruction at a time".
 *
 * Where the INT3 goes: at the byte the loader put in guest memory for SYMBOL. Usually that is
 * SYMBOL's own address; the mini OS links its user programs at 0x400000 but the loader puts
 * them after the kernel and the kernel copies them up before each task, so hv writes the INT3
 * into the loaded copy (loader_load_address), and the kernel's copy carries it up.
 *
 * Why the debug state is set again before *every* KVM_RUN: TF lives in the guest's RFLAGS,
 * which the guest changes, and the CPU itself clears TF when it enters an interrupt or
 * exception handler (it pushes RFLAGS with TF set, then clears it, so handlers are not traced;
 * Intel SDM vol. 3A, "Single-step exception condition"). An `int 0x80` from ring 3 would end
 * the stepping right where it becomes interesting: the switch to ring 0. So:
 *   - before every KVM_RUN hv arms TF again, so after any exit inside a handler it is back on;
 *   - before stepping over an `int n` (opcode CD nn) hv reads the guest's IDT gate n and puts
 *     an INT3 on the handler's first instruction. The CPU enters the handler, stops there
 *     before executing anything, hv restores the byte, and stepping goes on from there.
 * The CPL sequence then shows 3, 3, 0, 0, ..., 0, 3: the system call as the CPU lives it.
 * (The final `iret` reloads RFLAGS with the TF the CPU pushed: stepping continues in ring 3.)
 * Hardware interrupts that arrive while stepping are not followed into their handlers.
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

#define INT3 0xCCu


#define DR7_L0    0x1u   /* local enable of breakpoint 0 (R/W0 = 00: on execution, LEN0 = 00) */
#define DR7_FIXED 0x400u /* bit 10 of DR7 always reads as 1 */

/* What KVM should do with the guest's debug state on this entry; `hw`: also DR0 = hw. */
static int step_set_debug(struct vm *vm, uint32_t control, uint64_t hw)
{
	struct kvm_guest_debug dbg;
	memset(&dbg, 0, sizeof dbg);
	dbg.control = control;
	if (hw) {
		dbg.control |= KVM_GUESTDBG_USE_HW_BP;
		dbg.arch.debugreg[0] = hw;
		dbg.arch.debugreg[7] = DR7_FIXED | DR7_L0;
	}
	return ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg);
}

/* Guest-*linear* address (what rip and IDTR hold) to guest-physical, through the guest's own
 * page tables: KVM_TRANSLATE walks them. With paging off the two are the same. */
static int linear_to_gpa(struct vm *vm, uint64_t la, uint64_t *gpa)
{
	struct kvm_translation tr = { .linear_address = la };
	if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return -1;
	*gpa = tr.physical_address;
	return 0;
}

/* Copy guest-linear memory, page by page (two linear pages need not be physical neighbours);
 * every byte through gm_read, the checked path into guest RAM. */
static int read_linear(struct vm *vm, uint64_t la, void *dst, uint32_t len)
{
	uint8_t *out = dst;
	while (len) {
		uint64_t gpa;
		uint32_t chunk = 4096 - (uint32_t)(la & 4095);
		if (chunk > len)
			chunk = len;
		if (linear_to_gpa(vm, la, &gpa) < 0 || gm_read(&vm->mem, gpa, out, chunk) < 0)
			return -1;
		la += chunk, out += chunk, len -= chunk;
	}
	return 0;
}

/* ---- software breakpoints ---- */

/* Put an INT3 at guest-physical gpa, keeping the byte it covers. */
static int bp_plant(struct vm *vm, struct step_bp *bp, uint64_t la, uint64_t gpa)
{
	uint8_t cc = INT3;
	if (gm_read(&vm->mem, gpa, &bp->orig, 1) < 0 || gm_write(&vm->mem, gpa, &cc, 1) < 0)
		return -1;
	bp->la = la;
	bp->gpa = gpa;
	bp->set = true;
	return 0;
}

/* Give the guest its byte back: where it was planted, and where the CPU met it (the two differ
 * when the guest copied the code, as the mini OS copies its user programs). Only where the
 * INT3 still is: a guest that rewrote the byte meanwhile keeps what it wrote. */
static void bp_remove(struct vm *vm, struct step_bp *bp, uint64_t pc)
{
	uint64_t where[2] = { bp->gpa, 0 };
	int n = 1;
	if (linear_to_gpa(vm, pc, &where[1]) == 0 && where[1] != bp->gpa)
		n = 2;
	for (int i = 0; i < n; i++) {
		uint8_t b;
		if (gm_read(&vm->mem, where[i], &b, 1) == 0 && b == INT3)
			gm_write(&vm->mem, where[i], &bp->orig, 1);
	}
	bp->set = false;
}

int step_arm(struct vm *vm, uint64_t addr, uint64_t load_gpa, uint32_t count)
{
	struct step_state *s = &vm->step;
	*s = (struct step_state){ .phase = STEP_WAIT, .addr = addr, .count = count };
	return bp_plant(vm, &s->window, addr, load_gpa);
}

/*
 * If the instruction at rip is `int n`, where does the CPU go? The gate's offset fields
 * (Intel SDM vol. 3A, "IDT Descriptors"): bytes 0-1 and 6-7 of an 8-byte gate in protected
 * mode, plus bytes 8-11 of a 16-byte gate in long mode; real mode's vector table holds
 * offset:segment pairs. Returns the handler's linear address, or 0 (not an INT n, or
 * unreadable: then only the next exit re-arms TF).
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

/* About to step over `int n`: an INT3 on its handler catches the CPU there (TF will not). */
static void catch_int_handler(struct vm *vm)
{
	struct step_state *s = &vm->step;
	uint64_t la = int_handler(vm), gpa;
	if (!la || s->handler.set || linear_to_gpa(vm, la, &gpa) < 0)
		return;
	bp_plant(vm, &s->handler, la, gpa);
}

/* Before every KVM_RUN: #BP intercepted while waiting for SYMBOL; TF (and #BP, for a handler's
 * INT3) while stepping; once, nothing at all when the window is done. A guest's own INT3 that
 * hv intercepted by mistake is handed back to it (KVM_GUESTDBG_INJECT_BP). */
void step_before_run(struct vm *vm)
{
	struct step_state *s = &vm->step;
	uint32_t control;
	uint64_t hw = 0;
	switch (s->phase) {
	case STEP_WAIT:
		control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
		hw = s->addr;
		break;
	case STEP_STEPPING:
		catch_int_handler(vm);
		control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_SW_BP;
		hw = s->handler.set ? s->handler.la : 0;
		break;
	case STEP_DONE: control = 0; break;
	default: return; /* STEP_OFF, or already disarmed */
	}
	if (s->reinject_bp) {
		control |= KVM_GUESTDBG_INJECT_BP;
		s->reinject_bp = false;
	}
	if (step_set_debug(vm, control, hw) < 0) {
		char why[160];
		snprintf(why, sizeof why, "KVM_SET_GUEST_DEBUG failed: %s (this KVM cannot single-step "
			 "its guests; run without --step)", strerror(errno));
		vm_stop_with(vm, HV_EXIT_HOST, why);
		return;
	}
	if (s->phase == STEP_DONE) {
		if (s->handler.set) /* a handler hv was waiting for that never ran */
			bp_remove(vm, &s->handler, s->handler.la);
		s->phase = STEP_OFF;
	}
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
 * KVM_EXIT_DEBUG. While waiting, the INT3 at SYMBOL (step 0: the CPU stands at the window's
 * first instruction, not yet executed; hv restores its byte). While stepping, either TF's #DB
 * (one more instruction executed) or the INT3 on an `int n` handler. After `count` records the
 * window is closed.
 */
void step_handle_debug(struct vm *vm, struct hvt_record *r)
{
	struct step_state *s = &vm->step;
	uint64_t pc = vm->run->debug.arch.pc;
	bool is_bp = vm->run->debug.arch.exception == 3; /* #BP, what INT3 raises (else #DB, 1) */
	r->reason = HVT_R_DEBUG;
	/* Our INT3 or our DR0, whichever fired first: the CPU stands at the instruction. */
	if (s->window.set && pc == s->window.la) {
		bp_remove(vm, &s->window, pc);
		if (s->phase == STEP_WAIT)
			s->phase = STEP_STEPPING;
	} else if (s->handler.set && pc == s->handler.la) {
		bp_remove(vm, &s->handler, pc);
	} else if (is_bp) {
		s->reinject_bp = true; /* the guest's own INT3: deliver it as if hv were not there */
		return;
	}
	if (s->phase != STEP_STEPPING)
		return; /* a late #DB after the window closed: nothing to record */
	r->flags |= HVT_F_STEPPED;
	r->data = s->done;
	step_print(vm, s->done);
	if (++s->done >= s->count)
		s->phase = STEP_DONE;
}
