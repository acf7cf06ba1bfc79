/*
 * step.c - hv run --step SYMBOL --step-count N: run the guest to SYMBOL, then execute N
 * instructions one at a time and record, for each, where the CPU stands: rip, mode and CPL.
 *
 * Concept: single-stepping, the debugger's oldest tool, done from outside the guest, without
 * the guest's help or knowledge. Two x86 mechanisms, both turned into VM exits by KVM:
 *   - breakpoints, to stop at SYMBOL. hv sets two, because each works where the other fails:
 *     a hardware breakpoint (debug register DR0 = the address, DR7 enables it for execution;
 *     the CPU raises #DB *before* executing the instruction), and a software breakpoint: a
 *     one-byte instruction written over the instruction's first byte that raises #DB when
 *     executed. That byte is ICEBP (0xF1, "INT1"), not the debuggers' usual INT3 (0xCC, #BP):
 *     with KVM_GUESTDBG_USE_HW_BP, KVM intercepts every #DB and returns KVM_EXIT_DEBUG instead
 *     of delivering it to the guest. Whichever fires, hv puts the original byte back, so the
 *     guest runs its real instruction (gdb does the same to a process through ptrace).
 *     Measured: PVM honours DR0 but cannot deliver a breakpoint instruction in protected
 *     mode. The nested lab VM (SVM emulated by QEMU's TCG) stops at neither: it never fires
 *     DR0, and hands INT3 and ICEBP to the guest. There only the trap flag works, so hv
 *     reaches SYMBOL by stepping silently from the first instruction (--step-seek, chosen by
 *     itself on that host) and stops at an `int n` handler with `out %al, $0x80` instead
 *     (trap_plant): port I/O reaches hv on every KVM.
 *   - the trap flag (RFLAGS.TF): with KVM_GUESTDBG_SINGLESTEP, KVM sets it in the guest and
 *     intercepts the #DB the CPU raises after every instruction.
 * Textbook: chapter 5 "A guest OS", section "Watching one instruction at a time".
 *
 * Where the ICEBP goes: at the byte the loader put in guest memory for SYMBOL. Usually that is
 * SYMBOL's own address; the mini OS links its user programs at 0x400000 but the loader puts
 * them after the kernel and the kernel copies them up before each task, so hv writes the ICEBP
 * into the loaded copy (loader_load_address), and the kernel's copy carries it up.
 *
 * Why the debug state is set again before *every* KVM_RUN: TF lives in the guest's RFLAGS,
 * which the guest changes, and the CPU itself clears TF when it enters an interrupt or
 * exception handler (it pushes RFLAGS with TF set, then clears it, so handlers are not traced;
 * Intel SDM vol. 3A, "Single-step exception condition"). An `int 0x80` from ring 3 would end
 * the stepping right where it becomes interesting: the switch to ring 0. So:
 *   - before every KVM_RUN hv arms TF again, so after any exit inside a handler it is back on;
 *   - before stepping over an `int n` (opcode CD nn) hv reads the guest's IDT gate n and puts
 *     an ICEBP (and DR0) on the handler's first instruction. The CPU enters the handler, stops there
 *     before executing anything, hv restores the byte, and stepping goes on from there.
 * The CPL sequence then shows 3, 3, 0, 0, ..., 0, 3: the system call as the CPU lives it.
 * gdb's stepi (hv/gdbhv.c) has the same problem and shares step_int_handler and the I/O trap
 * below (step_trap_plant, step_trap_take), on every host.
 * (The final `iret` reloads RFLAGS with the TF the CPU pushed: stepping continues in ring 3.)
 * While the window is stepped, hv injects no interrupt (irq.c), so a timer tick cannot take the
 * CPU elsewhere. After it, hv still intercepts #DB for the rest of the run: a TF the guest pops
 * from a frame pushed during the window is taken out when it fires (after_window_db), so the
 * guest never sees a #DB of hv's, and a #DB of the guest's own is given back to it.
 *
 * Every stepped instruction is one VM exit, recorded as an exit of reason "debug" with the
 * "stepped" flag and data = the step's number (0 = the breakpoint at SYMBOL). So stepping is
 * slow by design: use it for windows of tens or hundreds of instructions.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpu.h"
#include "regs.h"
#include "step.h"
#include "vm.h"
#include "trace_names.h"

#define ICEBP 0xF1u /* INT1: raises #DB, which KVM intercepts while hv debugs the guest */


#define RFLAGS_TF 0x100u /* the trap flag: #DB after every instruction */
#define DR7_L0    0x1u   /* local enable of breakpoint 0 (R/W0 = 00: on execution, LEN0 = 00) */
#define DR7_FIXED 0x400u /* bit 10 of DR7 always reads as 1 */

/* What KVM should do with the guest's debug state on this entry; `hw`: also DR0 = hw. */
static int step_set_debug(struct vm *vm, uint32_t control, uint64_t hw)
{
	struct kvm_guest_debug dbg;
	memset(&dbg, 0, sizeof dbg);
	dbg.control = control;
	dbg.arch.debugreg[7] = DR7_FIXED; /* no breakpoint enabled... */
	if (hw) {
		dbg.control |= KVM_GUESTDBG_USE_HW_BP;
		dbg.arch.debugreg[0] = hw;
		dbg.arch.debugreg[7] = DR7_FIXED | DR7_L0; /* ...unless hw: DR0, on execution */
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

/* Put an ICEBP at guest-physical gpa, keeping the byte it covers. */
static int bp_plant(struct vm *vm, struct step_bp *bp, uint64_t la, uint64_t gpa)
{
	uint8_t cc = ICEBP;
	if (gm_read(&vm->mem, gpa, bp->orig, 1) < 0 || gm_write(&vm->mem, gpa, &cc, 1) < 0)
		return -1;
	*bp = (struct step_bp){ .la = la, .gpa = gpa, .orig = { bp->orig[0] }, .len = 1, .set = true };
	return 0;
}

/*
 * The I/O trap, for hosts where no breakpoint stops the CPU (QEMU's TCG): `out %al, $0x80`
 * (E6 80) over the first two bytes of ring-0 code. Every KVM passes port I/O to hv, so the CPU
 * stops there with an ordinary I/O exit; hv then puts both bytes back and moves rip onto them
 * (step_io_trap). Port 0x80 is the PC's POST-code port: writing AL there changes nothing.
 * Only for kernel code: in ring 3 an OUT would fault.
 */
static int trap_plant(struct vm *vm, struct step_bp *bp, uint64_t la, uint64_t gpa)
{
	static const uint8_t out80[2] = { 0xE6, HV_PORT_STEPTRAP };
	uint8_t orig[2];
	if ((gpa & 4095) == 4095 || gm_read(&vm->mem, gpa, orig, 2) < 0 ||
	    gm_write(&vm->mem, gpa, out80, 2) < 0)
		return -1; /* across a page the two bytes need not be neighbours: not planted */
	*bp = (struct step_bp){ .la = la, .gpa = gpa, .orig = { orig[0], orig[1] }, .len = 2,
				.io_trap = true, .set = true };
	return 0;
}

/* Give the guest its byte back: where it was planted, and where the CPU met it (the two differ
 * when the guest copied the code, as the mini OS copies its user programs). Only where the
 * ICEBP still is: a guest that rewrote the byte meanwhile keeps what it wrote. */
static void bp_remove(struct vm *vm, struct step_bp *bp, uint64_t pc)
{
	uint64_t where[2] = { bp->gpa, 0 };
	int n = 1;
	if (linear_to_gpa(vm, pc, &where[1]) == 0 && where[1] != bp->gpa)
		n = 2;
	uint8_t planted = bp->io_trap ? 0xE6 : ICEBP;
	for (int i = 0; i < n; i++) {
		uint8_t b;
		if (gm_read(&vm->mem, where[i], &b, 1) == 0 && b == planted)
			gm_write(&vm->mem, where[i], bp->orig, bp->len);
	}
	bp->set = false;
}

int step_arm(struct vm *vm, uint64_t addr, uint64_t load_gpa, uint32_t count, bool seek)
{
	struct step_state *s = &vm->step;
	*s = (struct step_state){ .phase = STEP_WAIT, .addr = addr, .count = count };
	/* --step-seek: no breakpoint at all; TF from the first instruction, silently, until the
	 * CPU stands at addr. Slow (one exit per instruction until then), but it needs nothing
	 * but the trap flag, which every KVM intercepts. */
	if (seek && addr != vm->boot.entry) {
		s->phase = STEP_SEEK;
		s->no_bp = true;
		return 0;
	}
	/* From the guest's very first instruction no breakpoint is needed: TF from the first
	 * entry on. (Step 0 is then the state after that first instruction.) */
	if (addr == vm->boot.entry) {
		s->phase = STEP_STEPPING;
		return 0;
	}
	return bp_plant(vm, &s->window, addr, load_gpa);
}

/*
 * Will the handler run at CPL 0? The gate names a code segment (selector in bytes 2-3); the CPU
 * takes the new CPL from that segment's descriptor in the GDT (its DPL, bits 5-6 of byte 5),
 * except for a conforming segment (type bits 0x0C both set), which keeps the caller's CPL.
 * An LDT selector (bit 2) or an unreadable descriptor: not known, so false.
 */
static bool gate_runs_ring0(struct vm *vm, const struct kvm_sregs *sregs, const uint8_t *gate)
{
	uint16_t sel = (uint16_t)(gate[2] | gate[3] << 8);
	uint8_t desc[8];
	if ((sel & 4) || (uint64_t)(sel & ~7u) + 7 > sregs->gdt.limit ||
	    read_linear(vm, sregs->gdt.base + (sel & ~7u), desc, 8) < 0)
		return false;
	bool conforming = (desc[5] & 0x0C) == 0x0C;
	return conforming ? cpu_cpl(sregs) == 0 : ((desc[5] >> 5) & 3) == 0;
}

/*
 * If the instruction at rip is `int n`, where does the CPU go? The gate's offset fields
 * (Intel SDM vol. 3A, "IDT Descriptors"): bytes 0-1 and 6-7 of an 8-byte gate in protected
 * mode, plus bytes 8-11 of a 16-byte gate in long mode; real mode's vector table holds
 * offset:segment pairs. Returns the handler's linear address, or 0 (not an INT n, or
 * unreadable: then only the next exit re-arms TF). Also in *how: whether the handler runs at
 * CPL 0 (always in real mode), where an I/O trap may be planted (trap_plant), and the size of
 * each slot of the frame the CPU pushes (2: real mode and 16-bit gates, 4: 32-bit, 8: long).
 */
uint64_t step_int_handler(struct vm *vm, struct step_int *how)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t insn[2], gate[16];
	*how = (struct step_int){ 0 };
	if (regs_get(vm, &regs) < 0 || sregs_get(vm, &sregs) < 0)
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
		*how = (struct step_int){ .ring0 = true, .slot = 2 };
		return (uint64_t)ivt[1] * 16 + ivt[0];
	}
	unsigned size = mode == HVT_MODE_LONG || mode == HVT_MODE_COMPAT ? 16 : 8;
	if ((uint64_t)n * size + size - 1 > sregs.idt.limit ||
	    read_linear(vm, sregs.idt.base + (uint64_t)n * size, gate, size) < 0)
		return 0;
	/*
	 * Only a gate the CPU will really go through: present (P, bit 7 of byte 5), an interrupt
	 * or trap gate (type 0xE/0xF; 0x6/0x7 are their 16-bit forms outside long mode; a task gate
	 * switches tasks instead), and DPL >= CPL, or `int n` raises #GP and never gets there. Else
	 * no breakpoint: hv must not write into bytes the guest never runs as code.
	 */
	unsigned type = gate[5] & 0xF, dpl = (gate[5] >> 5) & 3;
	bool type_ok = type == 0xE || type == 0xF || (size == 8 && (type == 0x6 || type == 0x7));
	if (!(gate[5] & 0x80) || !type_ok || dpl < cpu_cpl(&sregs))
		return 0;
	uint64_t off = (uint64_t)gate[0] | (uint64_t)gate[1] << 8 | (uint64_t)gate[6] << 16 |
		       (uint64_t)gate[7] << 24;
	if (size == 16)
		off |= (uint64_t)gate[8] << 32 | (uint64_t)gate[9] << 40 | (uint64_t)gate[10] << 48 |
		       (uint64_t)gate[11] << 56;
	how->ring0 = gate_runs_ring0(vm, &sregs, gate);
	how->slot = size == 16 ? 8 : type & 8 ? 4 : 2;
	return off; /* the handler's code segment is flat in every kernel hv runs (base 0) */
}

/* About to step over `int n`: a breakpoint on its handler catches the CPU there (TF will not). */
static void catch_int_handler(struct vm *vm)
{
	struct step_state *s = &vm->step;
	struct step_int how;
	uint64_t la = step_int_handler(vm, &how), gpa;
	if (!la || s->handler.set || linear_to_gpa(vm, la, &gpa) < 0)
		return;
	if (s->no_bp) {
		if (how.ring0) /* an OUT in a handler at CPL 3 would fault: no trap there */
			trap_plant(vm, &s->handler, la, gpa);
	} else {
		bp_plant(vm, &s->handler, la, gpa);
	}
}

/* gdb's stepi (hv/gdbhv.c): the I/O trap on the handler at la, whatever the host. */
int step_trap_plant(struct vm *vm, struct step_bp *bp, uint64_t la)
{
	uint64_t gpa;
	if (bp->set || linear_to_gpa(vm, la, &gpa) < 0)
		return -1;
	return trap_plant(vm, bp, la, gpa);
}

void step_bp_remove(struct vm *vm, struct step_bp *bp)
{
	if (bp->set)
		bp_remove(vm, bp, bp->la);
}

/* Before every KVM_RUN: the breakpoint (DR0; its ICEBP raises #DB, intercepted with it) while
 * waiting for SYMBOL; TF, and a breakpoint on an `int n` handler, while stepping; once, nothing
 * at all when the window is done. While hv debugs, the guest's own #DBs are not delivered. */
void step_before_run(struct vm *vm)
{
	struct step_state *s = &vm->step;
	uint32_t control;
	uint64_t hw = 0;
	switch (s->phase) {
	case STEP_WAIT:
		control = KVM_GUESTDBG_ENABLE;
		hw = s->addr;
		break;
	case STEP_STEPPING:
		catch_int_handler(vm);
		control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
		hw = s->handler.set && !s->handler.io_trap ? s->handler.la : 0;
		break;
	case STEP_SEEK: control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP; break;
	/* After the window: no trap flag, no breakpoint, but #DB still comes to hv. A frame the
	 * CPU pushed while stepping (an `int 0x80` in the window) holds TF = 1; the guest's iret
	 * will load it long after, and the #DB it then raises belongs to hv, not to the guest
	 * (step_handle_debug clears TF). */
	case STEP_DONE: control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP; break;
	default: return; /* STEP_OFF, or STEP_LINGER: already set */
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
		s->phase = STEP_LINGER;
	}
}

/* One line per stepped instruction on stderr, for the student at the terminal. */
static void step_print(struct vm *vm, uint32_t n)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (vm->quiet || regs_get(vm, &regs) < 0 || sregs_get(vm, &sregs) < 0)
		return;
	fprintf(stderr, "hv: step %u: cpl%u %s rip=0x%llx\n", n, cpu_cpl(&sregs),
		hvt_mode_name(cpu_mode(&sregs)), (unsigned long long)regs.rip);
}

/*
 * Did the CPU stop at breakpoint bp? DR0 stops it *before* the instruction (pc = the address).
 * For the ICEBP, KVM on VT-x reports the #DB at it, KVM on AMD-V after it (pc = the address +
 * 1); then rip is moved back one byte, onto the restored instruction.
 */
static bool at_breakpoint(struct vm *vm, struct step_bp *bp, uint64_t pc)
{
	if (!bp->set || (pc != bp->la && pc != bp->la + 1))
		return false;
	bp_remove(vm, bp, bp->la);
	struct kvm_regs regs;
	if (pc == bp->la + 1 && regs_get(vm, &regs) == 0) {
		regs.rip -= 1;
		regs_set(vm, &regs);
	}
	return true;
}

/* One stepped instruction: an exit of reason debug, flagged, numbered (trace.h). */
static void record_step(struct vm *vm, struct hvt_record *r)
{
	struct step_state *s = &vm->step;
	r->reason = HVT_R_DEBUG;
	r->flags |= HVT_F_STEPPED;
	r->data = s->done;
	step_print(vm, s->done);
	if (++s->done >= s->count)
		s->phase = STEP_DONE;
}

/*
 * A #DB that is not hv's: the guest's own INT1, or its own TF or debug registers. It belongs to
 * the guest, so hv delivers it as the CPU would have (KVM_SET_VCPU_EVENTS queues the
 * exception for the next entry). VT-x stops *at* an INT1 (0xF1) when KVM passes the #DB to
 * user space; the CPU would have pushed the address after it, so rip moves past it first.
 * Without this the guest would execute its INT1 again, forever.
 */
static void give_back_db(struct vm *vm, uint64_t pc)
{
	struct kvm_regs regs;
	struct kvm_vcpu_events ev;
	uint8_t b;
	vm->step.foreign_db++;
	if (read_linear(vm, pc, &b, 1) == 0 && b == ICEBP && regs_get(vm, &regs) == 0) {
		regs.rip += 1;
		regs_set(vm, &regs);
	}
	if (ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return;
	ev.exception.injected = 1;
	ev.exception.nr = 1; /* #DB */
	ev.exception.has_error_code = 0;
	ev.flags = 0; /* change nothing else (NMI, SIPI, interrupt shadow) */
	ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev);
}

/* A #DB after the window. If TF is set, it came back from a frame pushed while stepping:
 * take it out, so the guest runs on as if it had never been stepped. Otherwise it is the
 * guest's own. */
static void after_window_db(struct vm *vm, uint64_t pc)
{
	struct kvm_regs regs;
	if (regs_get(vm, &regs) == 0 && (regs.rflags & RFLAGS_TF)) {
		vm->step.late_db++;
		regs.rflags &= ~(uint64_t)RFLAGS_TF;
		regs_set(vm, &regs);
		return;
	}
	give_back_db(vm, pc);
}

/*
 * KVM_EXIT_DEBUG. While waiting, the breakpoint at SYMBOL (step 0: the CPU stands at the
 * window's first instruction, not yet executed). While stepping, either TF's #DB (one more
 * instruction executed) or the breakpoint on an `int n` handler. After `count` records the
 * window is closed.
 */
void step_handle_debug(struct vm *vm, struct hvt_record *r)
{
	struct step_state *s = &vm->step;
	uint64_t pc = vm->run->debug.arch.pc;
	r->reason = HVT_R_DEBUG;
	if (s->phase == STEP_LINGER) {
		after_window_db(vm, pc);
		return;
	}
	if (s->phase == STEP_SEEK) {
		if (pc != s->addr) {
			s->seek_steps++;
			s->hide = true; /* not part of the window: no trace record, no line */
			return;
		}
		s->phase = STEP_STEPPING; /* the CPU stands at addr: step 0 */
	} else if (at_breakpoint(vm, &s->window, pc)) {
		if (s->phase == STEP_WAIT)
			s->phase = STEP_STEPPING;
	} else if (at_breakpoint(vm, &s->handler, pc)) {
		/* the first instruction of the handler: record it like any step */
	} else if (s->phase == STEP_WAIT) {
		give_back_db(vm, pc); /* not our breakpoint: the guest's own #DB */
		return;
	}
	if (s->phase != STEP_STEPPING)
		return;
	record_step(vm, r);
}

/*
 * An I/O exit at port 0x80: is it hv's own trap on an `int n` handler (trap_plant)? Then the
 * CPU stands at the handler's first instruction: put the bytes back and record the step. One
 * thing is left before rip can be moved back onto the restored instruction: KVM is still
 * holding the OUT. An I/O exit to user space is only half an instruction; KVM finishes it (for
 * an OUT: moves rip past it) at the start of the next KVM_RUN, before entering the guest. Moving
 * rip now would have that finishing step skip the handler's first two bytes. So step mode asks
 * the exit loop for one run that only finishes the OUT and never enters the guest (finish_io:
 * vcpu.c calls KVM_RUN with immediate_exit = 1, which completes pending I/O and returns EINTR at
 * once), and step_io_trap_finished moves rip after it.
 */
bool step_trap_take(struct vm *vm, struct step_bp *bp)
{
	struct step_state *s = &vm->step;
	struct kvm_run *run = vm->run;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	/* KVM leaves rip on the OUT until the I/O completes; older KVMs (and PVM's instruction
	 * emulator) moved it past first. */
	if (!bp->set || !bp->io_trap || run->exit_reason != KVM_EXIT_IO ||
	    run->io.port != HV_PORT_STEPTRAP || run->io.direction != KVM_EXIT_IO_OUT ||
	    regs_get(vm, &regs) < 0 || sregs_get(vm, &sregs) < 0 ||
	    (sregs.cs.base + regs.rip != bp->la && sregs.cs.base + regs.rip != bp->la + 2))
		return false;
	bp_remove(vm, bp, bp->la);
	s->trap_rip = bp->la - sregs.cs.base; /* onto the handler's restored first byte */
	s->finish_io = true;
	return true;
}

bool step_io_trap(struct vm *vm, struct hvt_record *r)
{
	if (!step_trap_take(vm, &vm->step.handler))
		return false;
	record_step(vm, r);
	return true;
}

/* The exit loop ran KVM_RUN once with immediate_exit: -1/EINTR at once, with the OUT completed.
 * Now rip can go back onto the handler's first instruction. */
void step_io_trap_finished(struct vm *vm, int rc, int err)
{
	struct step_state *s = &vm->step;
	struct kvm_regs regs;
	s->finish_io = false;
	if ((rc < 0 && err != EINTR) || regs_get(vm, &regs) < 0) {
		vm_stop_with(vm, HV_EXIT_HOST, "could not complete the I/O trap on an int handler "
			     "(KVM_RUN with immediate_exit, then reading rip, failed)");
		return;
	}
	regs.rip = s->trap_rip;
	/* The trace records this exit only now (vcpu.c), from kvm_run's copy with sync regs, which
	 * the completing run refreshed with rip past the OUT: it gets the rip the guest resumes at. */
	if (regs_set(vm, &regs) == 0)
		vm->run->s.regs.regs.rip = regs.rip;
}
