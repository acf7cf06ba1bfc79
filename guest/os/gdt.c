/*
 * gdt.c - the kernel's own global descriptor table: kernel and user segments, and the TSS
 * that tells the CPU which stack to use when ring 3 enters ring 0.
 *
 * Concept: privilege in protected mode lives in the segment registers. The low two bits of
 * CS are the current privilege level (CPL): 0 for the kernel, 3 for tasks. The CPU changes
 * CPL, in this kernel, only through its gates (idt.c) and IRET (SYSENTER/SYSCALL, far
 * calls through call gates and hardware task switches are other ways that it does not use),
 * and every time it enters ring 0 from ring 3 through a gate it switches to a kernel stack it
 * reads from the task-state segment (TSS): SS0:ESP0. Without a TSS, no gate from ring 3 works. The segments themselves are flat (base 0, limit
 * 4 GiB): memory protection comes from paging (paging.c), as in every modern OS.
 * Textbook: chapter 5 "A guest OS", section "Segments, rings and the TSS".
 * Intel SDM vol. 3, sections 3.4.5 "Segment descriptors", 7.2.1 "Task-state segment" and
 * 7.2.2 "TSS descriptor".
 *
 * Why build our own GDT when hv and QEMU's PVH start us with one: theirs has no ring-3
 * segments and no TSS we own. hv even loads TR from outside, with the TSS marked *busy*;
 * QEMU's TCG then refuses the ring 3 -> ring 0 switch. LTR of a fresh, *available* TSS of
 * our own is the only reliable start.
 *
 *   index selector  what               DPL  access byte
 *   0     0x00      null (required)     -    0x00
 *   1     0x08      kernel code         0    0x9A  P=1 DPL=0 S=1 type=code, execute/read
 *   2     0x10      kernel data/stack   0    0x92  P=1 DPL=0 S=1 type=data, read/write
 *   3     0x1B      user code           3    0xFA  P=1 DPL=3 S=1 type=code, execute/read
 *   4     0x23      user data/stack     3    0xF2  P=1 DPL=3 S=1 type=data, read/write
 *   5     0x28      TSS                 0    0x89  P=1 DPL=0 S=0 type=9 (32-bit TSS, available)
 * The code/data segments use flags 0xC: G=1 (limit counts 4 KiB pages, so 0xFFFFF is 4 GiB)
 * and D/B=1 (32-bit).
 */
#include <stdint.h>

#include "os.h"

struct seg_desc {
	uint16_t limit_lo;
	uint16_t base_lo;
	uint8_t base_mid;
	uint8_t access;      /* P, DPL, S, type */
	uint8_t limit_flags; /* limit 19:16 in bits 3:0, flags G D/B L AVL in bits 7:4 */
	uint8_t base_hi;
} __attribute__((packed));

_Static_assert(sizeof(struct seg_desc) == 8, "a segment descriptor is 8 bytes");

/*
 * The 32-bit TSS (SDM figure 7-2). Of its 104 bytes the CPU uses only SS0:ESP0 and the I/O map
 * base here (the latter on every ring-3 IN/OUT, which is why those fault): we
 * never switch tasks in hardware (that is what the rest of it was for), and the I/O map base
 * points past the end, so there is no I/O permission bitmap and every IN/OUT in ring 3 faults
 * (IOPL is 0).
 */
struct tss {
	uint32_t prev_task;
	uint32_t esp0, ss0;  /* the ring-0 stack for a ring 3 -> ring 0 change */
	uint32_t esp1, ss1, esp2, ss2;
	uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap_base;
} __attribute__((packed));

_Static_assert(sizeof(struct tss) == 104, "the 32-bit TSS is 104 bytes");

#define GDT_ENTRIES 6u
#define FLAGS_4K_32 0xCu /* G=1, D/B=1 */

static struct seg_desc gdt[GDT_ENTRIES] __attribute__((aligned(8)));
static struct tss tss;

static void gdt_set(uint32_t i, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	gdt[i].limit_lo = (uint16_t)limit;
	gdt[i].base_lo = (uint16_t)base;
	gdt[i].base_mid = (uint8_t)(base >> 16);
	gdt[i].access = access;
	gdt[i].limit_flags = (uint8_t)(((limit >> 16) & 0xFu) | (uint32_t)(flags << 4));
	gdt[i].base_hi = (uint8_t)(base >> 24);
}

/*
 * LGDT only tells the CPU where the table is: the segment registers keep the descriptors
 * they cached when they were loaded (the "hidden part"). So we reload every one of them:
 * CS with a far jump (the only way to write CS), the others with MOV.
 */
static void gdt_load(void)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) p = { sizeof(gdt) - 1u, (uint32_t)(uintptr_t)gdt };

	__asm__ volatile("lgdt %0\n\t"
			 "ljmp %1, $1f\n"
			 "1:\n\t"
			 "movw %w2, %%ax\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw %%ax, %%fs\n\t"
			 "movw %%ax, %%gs\n\t"
			 "movw %%ax, %%ss\n\t"
			 : : "m"(p), "i"(SEL_KCODE), "i"(SEL_KDATA) : "eax", "memory");
}

void gdt_init(void)
{
	gdt_set(0, 0, 0, 0, 0);
	gdt_set(1, 0, 0xFFFFFu, 0x9A, FLAGS_4K_32);
	gdt_set(2, 0, 0xFFFFFu, 0x92, FLAGS_4K_32);
	gdt_set(3, 0, 0xFFFFFu, 0xFA, FLAGS_4K_32);
	gdt_set(4, 0, 0xFFFFFu, 0xF2, FLAGS_4K_32);
	/* A system descriptor: limit in bytes (G=0), the last valid byte is offset 103. */
	gdt_set(5, (uint32_t)(uintptr_t)&tss, sizeof(tss) - 1u, 0x89, 0);

	tss.ss0 = SEL_KDATA;
	tss.esp0 = 0;                             /* set per task, before it first runs */
	tss.iomap_base = (uint16_t)sizeof(tss);   /* past the limit: no I/O bitmap */

	gdt_load();
	/* LTR checks the descriptor is an *available* TSS and marks it busy (type 9 -> 11). */
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

/* The kernel stack the CPU switches to on the next entry from ring 3. */
void tss_set_esp0(uint32_t esp0)
{
	tss.esp0 = esp0;
}
