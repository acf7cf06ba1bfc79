/*
 * diag.h - explaining a VM that died: triple fault, failed entry, KVM internal error.
 * Textbook: chapter 3 "Exits", section "When the guest dies".
 */
#ifndef HV_DIAG_H
#define HV_DIAG_H

struct vm;

/* A fatal exit: tell the user the registers, the CPU mode and what it most likely means on this
 * host, and stop the VM with the matching exit status. */
void diag_report(struct vm *vm);

#endif
