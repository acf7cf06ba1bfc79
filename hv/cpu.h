/*
 * cpu.h - the vCPU's start state, and reading its mode back.
 *
 * Concept: a VMM skips the boot climb from real mode by writing the result into the vCPU's
 * registers (cpu.c builds the GDT and page tables those registers point at); the same three
 * register facts, read back, say which mode the guest is in at any exit. Textbook: chapter 2
 * "A VM from the inside", section "CPU modes".
 */
#ifndef HV_CPU_H
#define HV_CPU_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "guestmem.h"
#include "loader.h"

struct vm;

/* Put the vCPU into the start state for the boot mode; the guest's command line goes into the
 * start-info block. -1 with the reason in err. */
int cpu_setup(struct vm *vm, const char *cmdline, char *err, size_t errlen);

/* The PVH start-info block at HV_START_INFO_ADDR, its memory map, the module list (bi's initrd,
 * if any) and the command line at HV_CMDLINE_ADDR (cpu.c). Returns 0, or -1 with err set. */
int pvh_write_start_info(const struct guest_mem *gm, const struct boot_info *bi,
			 const char *cmdline, char *err, size_t errlen);

/* The guest's CPU mode (enum hvt_mode) and privilege level, read from its registers. */
uint8_t cpu_mode(const struct kvm_sregs *s);
uint8_t cpu_cpl(const struct kvm_sregs *s);

#endif
