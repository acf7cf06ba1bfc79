/*
 * popf.c - two instructions that classic x86 let ring 3 run although they touch the
 * machine's privileged state: POPF (the interrupt flag) and SGDT (where the GDT is).
 *
 * Concept: why trap-and-emulate failed on classic x86. Popek and Goldberg (1974): a CPU can be
 * virtualized by trap-and-emulate if every *sensitive* instruction (one that reads or changes
 * the machine's control state) is also *privileged* (it traps when run outside ring 0). On
 * x86 some sensitive instructions do not trap:
 *   - POPF in ring 3 with IOPL = 0 loads EFLAGS but silently keeps IF as it was: no #GP, no
 *     exit, nothing for a hypervisor to catch (Intel SDM vol. 2, POPF, "Operation": IF changes
 *     only when CPL <= IOPL). A de-privileged guest kernel that runs `popf` to switch
 *     interrupts off would go on with them on, and nobody would know.
 *   - SGDT stores the GDT register in ring 3 too (unless CR4.UMIP is set, which this kernel
 *     does not do). On a 1999 PC a guest running under a trap-and-emulate monitor would read
 *     the *monitor's* GDT address here. With VT-x/AMD-V the CPU keeps a guest GDTR of its own
 *     (in the VMCS/VMCB), so the guest reads its own value, again without any exit.
 * This program prints what the CPU did; the trace of the run shows that neither instruction
 * caused a VM exit or an exception (hv trace dump: no exit and no ring record at their eip).
 * The labels popf_insn and sgdt_insn let a test find the two instructions in the trace.
 * Textbook: chapter 9 "Hypervisors, then and now", section "Classic x86: sensitive but not
 * privileged".
 */
#include <stdint.h>

#include "ulib.h"

#define EFLAGS_IF 0x200u

struct __attribute__((packed)) gdtr {
	uint16_t limit;
	uint32_t base;
};

static uint32_t flags_read(void)
{
	uint32_t f;
	__asm__ volatile("pushfl; popl %0" : "=r"(f));
	return f;
}

/* POPF with IF = 0 asked for; returns EFLAGS as the CPU left it. */
static uint32_t popf_try_clear_if(void)
{
	uint32_t want = flags_read() & ~EFLAGS_IF;
	__asm__ volatile("pushl %0\n\t"
			 ".globl popf_insn\n"
			 "popf_insn: popfl"
			 : : "r"(want) : "cc", "memory");
	return flags_read();
}

static struct gdtr sgdt_read(void)
{
	struct gdtr g;
	__asm__ volatile(".globl sgdt_insn\n"
			 "sgdt_insn: sgdtl %0" : "=m"(g));
	return g;
}

int popf_main(const char *arg)
{
	char line[96], *p;
	uint32_t before = flags_read(), after = popf_try_clear_if();
	struct gdtr g = sgdt_read();

	(void)arg;
	p = ucat(line, "popf: IF was ");
	p = ucat_u32(p, (before & EFLAGS_IF) != 0);
	p = ucat(p, ", popf asked for 0, IF is ");
	p = ucat_u32(p, (after & EFLAGS_IF) != 0);
	p = ucat(p, (after & EFLAGS_IF) ? ": ignored, no trap\n" : ": cleared\n");
	uputs(line);
	p = ucat(line, "popf: sgdt in ring 3 read base ");
	p = ucat_hex(p, g.base);
	p = ucat(p, " limit ");
	p = ucat_u32(p, g.limit);
	ucat(p, ", no trap\n");
	uputs(line);
	return (after & EFLAGS_IF) ? 0 : 1;
}
