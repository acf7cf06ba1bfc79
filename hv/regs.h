/*
 * regs.h - the one door to the vCPU's registers.
 *
 * Concept: while a vCPU is not inside KVM_RUN, its registers live in the kernel (in the VMCS
 * on Intel, the VMCB on AMD, plus KVM's own copy of the general-purpose registers). A VMM reads
 * or writes them only through four ioctls on the vCPU fd: KVM_GET_REGS / KVM_SET_REGS (rax..r15,
 * rip, rflags) and KVM_GET_SREGS / KVM_SET_SREGS (segments, control registers, EFER, GDT/IDT).
 * As guestmem.h is for guest memory, this module is the only place in hv that issues them, so
 * the cost of each trip into the kernel and what happens when one fails are decided once.
 * Textbook: chapter 2 "A VM from the inside", section "CPU modes"; chapter 3 "Exits", section
 * "What an exit costs" (sync regs).
 */
#ifndef HV_REGS_H
#define HV_REGS_H

#include <linux/kvm.h>

struct vm;

/*
 * Fresh from the kernel: one ioctl each. Return 0, or -1 with errno set. A failed read changes
 * nothing in the VM: every caller can do without (the trace leaves out the rip, diag.c says
 * "registers unavailable"), so the caller decides.
 */
int regs_get(struct vm *vm, struct kvm_regs *regs);
int sregs_get(struct vm *vm, struct kvm_sregs *sregs);

/* The FPU and SSE registers (KVM_GET_FPU): x87 stack, control words, xmm0-15, MXCSR. For
 * gdb's `info all-registers` (gdbhv.c). 0, or -1 with errno set. */
int fpu_get(struct vm *vm, struct kvm_fpu *fpu);

/*
 * Change the guest's registers. A failed write is different: the guest would run on in a state
 * hv did not mean it to have, so the write stops the VM with the reason (fail closed), and
 * returns -1 with errno kept for a caller that words its own message (cpu_setup).
 */
int regs_set(struct vm *vm, const struct kvm_regs *regs);
int sregs_set(struct vm *vm, const struct kvm_sregs *sregs);

/*
 * The registers as they were at the last exit. With KVM_CAP_SYNC_REGS, KVM copies them into
 * the kvm_run page on every exit, so this costs no system call: the pointer is into kvm_run.
 * Without it, they are fetched into *buf. NULL if the fetch failed. The kvm_run copy is not
 * updated when hv writes a register (regs_set), so after a write use regs_get.
 */
const struct kvm_regs *regs_at_exit(struct vm *vm, struct kvm_regs *buf);
const struct kvm_sregs *sregs_at_exit(struct vm *vm, struct kvm_sregs *buf);

#endif
