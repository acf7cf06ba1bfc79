/*
 * diag.c - explain a VM that died: triple fault, failed entry, KVM internal error.
 *
 * Concept: when a real PC's CPU hits a fault while handling a fault while handling a fault
 * (a "triple fault") it enters shutdown, the chipset resets the machine, and the screen goes
 * black. In a VM the triple fault is a VM exit instead (KVM_EXIT_SHUTDOWN): nothing resets. A VMM can do better: it still has
 * the guest's registers, so it can show *where* and in *which mode* the guest died, and say
 * what that usually means. This matters doubly on PVM hosts (see `hv doctor`), where some
 * guest code that is correct on real VT-x/AMD-V cannot run at all.
 * Textbook: chapter 3 "Exits", section "When the guest dies".
 */
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "diag.h"
#include "layout.h"
#include "regs.h"
#include "vm.h"

/* The mode in words a student reads in the SDM. cpu_mode (hv/cpu.c) reads it from CR0.PE,
 * EFER.LMA and the CS L/D bits, the way the CPU itself decides. Textbook: chapter 2, section
 * "CPU modes". */
static const char *mode_words(const struct kvm_sregs *s)
{
	switch (cpu_mode(s)) {
	case HVT_MODE_REAL: return "real mode";
	case HVT_MODE_LONG: return "long mode (64-bit)";
	case HVT_MODE_COMPAT: return "compatibility mode";
	case HVT_MODE_PROT32: return "protected mode (32-bit)";
	default: return "protected mode (16-bit)";
	}
}

/* Read first: rip (where it died), cr2 (the last page-fault address), and the IDT: "idt 0x0+0"
 * is hv's start state, no IDT at all, in which any exception is fatal. */
static void print_registers(struct vm *vm)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	/* Fresh from KVM, not kvm_run's copy: on AMD-V a shutdown rewrote them (print_reset_note). */
	if (regs_get(vm, &r) < 0 || sregs_get(vm, &s) < 0) {
		fprintf(stderr, "  (registers unavailable)\n");
		return;
	}
	/* CPL is the low two bits of CS in protected and long mode; real mode has no rings. */
	unsigned cpl = cpu_cpl(&s);
	fprintf(stderr, "  cpu   %s, CPL %u, rip 0x%llx, rsp 0x%llx, rflags 0x%llx\n",
		mode_words(&s), cpl, (unsigned long long)r.rip, (unsigned long long)r.rsp,
		(unsigned long long)r.rflags);
	fprintf(stderr, "  regs  rax 0x%llx rbx 0x%llx rcx 0x%llx rdx 0x%llx rsi 0x%llx rdi 0x%llx\n",
		(unsigned long long)r.rax, (unsigned long long)r.rbx, (unsigned long long)r.rcx,
		(unsigned long long)r.rdx, (unsigned long long)r.rsi, (unsigned long long)r.rdi);
	fprintf(stderr, "  ctrl  cr0 0x%llx cr2 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx\n",
		(unsigned long long)s.cr0, (unsigned long long)s.cr2, (unsigned long long)s.cr3,
		(unsigned long long)s.cr4, (unsigned long long)s.efer);
	fprintf(stderr, "  segs  cs 0x%04x ds 0x%04x ss 0x%04x tr 0x%04x gdt 0x%llx+%u idt 0x%llx+%u\n",
		s.cs.selector, s.ds.selector, s.ss.selector, s.tr.selector,
		(unsigned long long)s.gdt.base, s.gdt.limit, (unsigned long long)s.idt.base,
		s.idt.limit);
}

/* What the host kind changes about the likely cause: the same guest bytes can die on one kind of
 * KVM and run on another (textbook ch 0, "Four kinds of KVM"). */
static void print_host_hint(struct vm *vm)
{
	if (vm->host.kind != HVT_HOST_PVM)
		return;
	fprintf(stderr,
		"  host  this is PVM (para-virtualized KVM): guests run in KVM's instruction emulator,\n"
		"        and IDT interrupt delivery or iret to ring 3 fail here although they work on\n"
		"        VT-x/AMD-V. If the guest is correct, this may be the cause: run it in the\n"
		"        lab VM ('make labvm') or on a machine with VT-x/AMD-V (see 'hv doctor').\n");
}

/*
 * On AMD-V the registers after a shutdown are not the guest's: the VMCB is undefined after a
 * SHUTDOWN intercept, so KVM re-initializes the vCPU (an INIT) before it reports the exit, and
 * hv finds the reset state, CS:IP = F000:FFF0. What hv still knows is where the guest stood
 * at its previous exit (when tracing) or at boot.
 */
static void print_reset_note(struct vm *vm)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (regs_get(vm, &r) < 0 || sregs_get(vm, &s) < 0 ||
	    s.cs.selector != 0xF000 || r.rip != 0xFFF0)
		return;
	static const char *const words[] = {
		[HVT_MODE_REAL] = "real mode", [HVT_MODE_PROT16] = "protected mode (16-bit)",
		[HVT_MODE_PROT32] = "protected mode (32-bit)", [HVT_MODE_COMPAT] = "compatibility mode",
		[HVT_MODE_LONG] = "long mode (64-bit)",
	};
	const char *mode = vm->guest_mode <= HVT_MODE_MAX && words[vm->guest_mode]
				   ? words[vm->guest_mode] : "an unknown mode";
	fprintf(stderr,
		"  note  these are the CPU's reset values: on AMD-V, KVM re-initializes the vCPU after a\n"
		"        shutdown. The guest was last seen in %s at rip 0x%llx (its\n"
		"        previous exit, or its start); --trace and 'hv trace dump' show the exits before.\n",
		mode, (unsigned long long)vm->guest_rip);
}

static void explain(struct vm *vm, const char *what, const char *meaning, int status)
{
	vm_stop_with(vm, status, NULL); /* the report below is the message */
	fprintf(stderr, "hv: guest stopped: %s\n", what);
	print_registers(vm);
	if (status == HV_EXIT_SHUTDOWN)
		print_reset_note(vm);
	fprintf(stderr, "  means %s\n", meaning);
	print_host_hint(vm);
}

void diag_report(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	char what[160];
	switch (run->exit_reason) {
	/*
	 * Triple fault: on VT-x itself a cause of VM exit (SDM vol. 3C, "Other Causes of VM
	 * Exits"), on AMD-V an intercepted shutdown. Where a PC would reset, hv still has the
	 * registers.
	 */
	case KVM_EXIT_SHUTDOWN:
		explain(vm, "triple fault (KVM_EXIT_SHUTDOWN)",
			"a fault happened while the CPU could not deliver it (no or a broken IDT, a bad\n"
			"        GDT entry, an unmapped stack); a real PC would reset here",
			HV_EXIT_SHUTDOWN);
		break;
	/*
	 * VMLAUNCH/VMRESUME or VMRUN refused the guest state (SDM vol. 3C, chapter "VM Entries",
	 * "Checks on the Guest-State Area"). The hardware reason is the CPU's own answer. Intel:
	 * the exit reason with bit 31 ("VM-entry failure") set; 0x80000021 is basic reason 33,
	 * invalid guest state, 34 a failed MSR load, 41 a machine check. AMD: VMEXIT_INVALID, -1
	 * (all ones). Instructions cannot normally build an invalid state (they fault instead),
	 * so on hv this points at the start state from cpu.c (textbook ch 3, "When the guest
	 * dies").
	 */
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		explain(vm, what,
			"the CPU refused the guest state hv or the guest set up (segment or control\n"
			"        register values that are invalid for the mode)",
			HV_EXIT_FAIL_ENTRY);
		break;
	/*
	 * KVM itself cannot go on. The suberror (linux/kvm.h) says why:
	 *   1 EMULATION    the instruction emulator met an instruction it does not implement
	 *                  (on PVM, where guest code runs through it, even POPCNT);
	 *   2 SIMUL_EX     an unexpected exception while another was being delivered;
	 *   3 DELIVERY_EV  an exit KVM cannot replay halfway through delivering an event, e.g.
	 *                  the guest's IDT or stack lies where there is no RAM;
	 *   4 UNEXPECTED_EXIT_REASON  a hardware exit reason KVM has no handler for.
	 * internal.data[] holds details; hv prints only the suberror.
	 */
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error, suberror %u%s",
			 run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failed)" :
			 run->internal.suberror == KVM_INTERNAL_ERROR_DELIVERY_EV ? " (event delivery failed)" : "");
		explain(vm, what,
			"KVM met guest code it could not run or emulate (an instruction its emulator\n"
			"        does not know, or an exception it could not deliver)",
			HV_EXIT_INTERNAL);
		break;
	/* Fail closed: an exit hv does not handle (a debug exit, a system event, a reason a
	 * newer kernel invented) stops the run; carrying on would mean guessing. */
	default:
		snprintf(what, sizeof(what), "unexpected exit reason %u", run->exit_reason);
		explain(vm, what, "hv does not handle this kind of exit; it stops rather than guess",
			HV_EXIT_GUEST_ERROR);
		break;
	}
}
