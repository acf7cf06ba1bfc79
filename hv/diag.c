/*
 * diag.c - explain a VM that died: triple fault, failed entry, KVM internal error.
 *
 * Concept: when a real PC's CPU hits a fault while handling a fault while handling a fault
 * (a "triple fault") it resets, and the screen goes black. A VMM can do better: it still has
 * the guest's registers, so it can show *where* and in *which mode* the guest died, and say
 * what that usually means. This matters doubly on PVM hosts (see `hv doctor`), where some
 * guest code that is correct on real VT-x/AMD-V cannot run at all.
 * Textbook: chapter 3 "Exits", section "When the guest dies".
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layout.h"
#include "vm.h"

static const char *mode_words(const struct kvm_sregs *s)
{
	if (!(s->cr0 & 1))
		return "real mode";
	if (s->efer & (1u << 10))
		return s->cs.l ? "long mode (64-bit)" : "compatibility mode";
	return s->cs.db ? "protected mode (32-bit)" : "protected mode (16-bit)";
}

static void print_registers(struct vm *vm)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(stderr, "  (registers unavailable)\n");
		return;
	}
	unsigned cpl = (s.cr0 & 1) ? (s.cs.selector & 3u) : 0;
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

/* What the host kind changes about the likely cause. */
static void print_host_hint(struct vm *vm)
{
	if (vm->host.kind != HVT_HOST_PVM)
		return;
	fprintf(stderr,
		"  host  this is PVM (para-virtualized KVM): guests run in KVM's instruction emulator,\n"
		"        and IDT interrupt delivery or iret to ring 3 fail here although they work on\n"
		"        VT-x/AMD-V. If the guest is correct, this may be the cause: try it in the lab\n"
		"        VM or on a machine with hardware virtualization (see 'hv doctor').\n");
}

static void explain(struct vm *vm, const char *what, const char *meaning, int status)
{
	vm_stop_with(vm, status, NULL); /* the report below is the message */
	fprintf(stderr, "hv: guest stopped: %s\n", what);
	print_registers(vm);
	fprintf(stderr, "  means %s\n", meaning);
	print_host_hint(vm);
}

void diag_report(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	char what[160];
	switch (run->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		explain(vm, "triple fault (KVM_EXIT_SHUTDOWN)",
			"a fault happened while the CPU could not deliver it (no or a broken IDT, a bad\n"
			"        GDT entry, an unmapped stack); a real PC would reset here",
			HV_EXIT_SHUTDOWN);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		explain(vm, what,
			"the CPU refused the guest state hv or the guest set up (segment or control\n"
			"        register values that are invalid for the mode)",
			HV_EXIT_FAIL_ENTRY);
		break;
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
	default:
		snprintf(what, sizeof(what), "unexpected exit reason %u", run->exit_reason);
		explain(vm, what, "hv does not handle this kind of exit; it stops rather than guess",
			HV_EXIT_GUEST_ERROR);
		break;
	}
}
