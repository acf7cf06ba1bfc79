/*
 * regs.c - the one door to the vCPU's registers (KVM_GET/SET_REGS, KVM_GET/SET_SREGS).
 *
 * Concept: a register of a virtual CPU is not in any host CPU while hv looks at it. During
 * KVM_RUN it is in the physical CPU; when KVM_RUN returns, the hardware has saved it (VMCS/VMCB)
 * and KVM keeps the general-purpose ones in its vCPU struct. So every read is a request to the
 * kernel, and every write changes what the CPU will load at the next VM entry. Three rules
 * follow, and they are kept here so no other file has to remember them:
 *   - reading costs a system call, unless KVM already copied the registers into the kvm_run
 *     page at the exit (KVM_CAP_SYNC_REGS, kvm_valid_regs; vm.c turns it on with a trace);
 *   - a write must happen while the vCPU thread is outside KVM_RUN: only that thread calls
 *     these (the exit loop, its hooks, and cpu_setup before the thread starts);
 *   - a write that fails stops the VM: running on in a state hv did not intend would be guessing.
 * Textbook: chapter 2 "A VM from the inside", section "CPU modes"; chapter 3 "Exits", section
 * "What an exit costs".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "regs.h"
#include "vm.h"

/* A write KVM refused: stop the run and say which one. errno is the caller's to read after. */
static int write_failed(struct vm *vm, const char *what)
{
	int err = errno;
	char why[128];
	snprintf(why, sizeof(why), "%s failed: %s (hv could not change the guest's registers, and "
		 "stops rather than run it in a state it did not intend)", what, strerror(err));
	vm_stop_with(vm, HV_EXIT_HOST, why);
	errno = err;
	return -1;
}

int regs_get(struct vm *vm, struct kvm_regs *regs)
{
	return ioctl(vm->vcpu_fd, KVM_GET_REGS, regs) < 0 ? -1 : 0;
}

int fpu_get(struct vm *vm, struct kvm_fpu *fpu)
{
	return ioctl(vm->vcpu_fd, KVM_GET_FPU, fpu) < 0 ? -1 : 0;
}

int sregs_get(struct vm *vm, struct kvm_sregs *sregs)
{
	return ioctl(vm->vcpu_fd, KVM_GET_SREGS, sregs) < 0 ? -1 : 0;
}

int regs_set(struct vm *vm, const struct kvm_regs *regs)
{
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, regs) < 0)
		return write_failed(vm, "KVM_SET_REGS");
	return 0;
}

int sregs_set(struct vm *vm, const struct kvm_sregs *sregs)
{
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, sregs) < 0)
		return write_failed(vm, "KVM_SET_SREGS");
	return 0;
}

/*
 * With sync regs the kvm_run page already holds what KVM_GET_REGS would return, written by KVM
 * just before KVM_RUN returned: reading it is a memory load, not a trip into the kernel. That is
 * what makes a rip and a mode per traced exit affordable (textbook ch 3, "What an exit costs").
 */
const struct kvm_regs *regs_at_exit(struct vm *vm, struct kvm_regs *buf)
{
	if (vm->sync_regs)
		return &vm->run->s.regs.regs;
	return regs_get(vm, buf) == 0 ? buf : NULL;
}

const struct kvm_sregs *sregs_at_exit(struct vm *vm, struct kvm_sregs *buf)
{
	if (vm->sync_regs)
		return &vm->run->s.regs.sregs;
	return sregs_get(vm, buf) == 0 ? buf : NULL;
}
