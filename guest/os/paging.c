/*
 * paging.c - one page directory of 4 MiB pages: the kernel's memory is supervisor-only,
 * the user region is not. This is what makes a ring-3 read of kernel memory fault.
 *
 * Concept: the U/S bit. Every page-table entry has a User/Supervisor bit; the CPU lets code
 * at CPL 3 touch a page only if U/S = 1 in every level of the walk, and otherwise raises a
 * page fault (#PF) with the faulting address in CR2 and bit 2 (U) set in the error code.
 * The kernel's own code at CPL 0 may touch both kinds. With 32-bit paging and CR4.PSE = 1 a
 * page-directory entry with PS = 1 maps a whole 4 MiB page directly, so one 4 KiB directory
 * of 1024 entries covers the 4 GiB address space and no page tables are needed.
 * Textbook: chapter 5 "A guest OS", section "Segments, rings and the TSS" (protection moved
 * from segments to pages). Intel SDM vol. 3, section 4.3 "32-bit paging", table 4-4.
 *
 * Everything is identity-mapped (virtual = physical), so the drivers' "physical address =
 * pointer" assumption (virtio_blk.c hands buffer addresses to the device) keeps holding.
 *
 *   PDE  range                      U/S  what
 *   0    0x00000000 - 0x003FFFFF    0    hv's low structures, the kernel at 1 MiB
 *   1    0x00400000 - 0x007FFFFF    1    the user region: programs and their stacks
 *   2-3  0x00800000 - 0x00FFFFFF    0    the rest of hv's default 16 MiB of RAM
 *   MMIO the 4 MiB page around each device window a driver asks for (paging_map_mmio),
 *        supervisor, PCD = PWT = 1: device registers must never be cached
 *   all else: not present, so a stray pointer faults instead of reading garbage.
 */
#include <stdint.h>

#include "os.h"

#define PDE_P   0x001u  /* present */
#define PDE_RW  0x002u  /* writable */
#define PDE_US  0x004u  /* user: ring 3 may access */
#define PDE_PWT 0x008u  /* write-through */
#define PDE_PCD 0x010u  /* cache disable */
#define PDE_PS  0x080u  /* this entry maps a 4 MiB page */
#define PAGE_4M 0x00400000u
#define RAM_MAPPED_END 0x01000000u /* 16 MiB */

#define CR0_PG  0x80000000u
#define CR4_PSE 0x00000010u

/* The directory must be 4 KiB-aligned: CR3 holds only address bits 31:12. */
static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static int paging_on;

/*
 * Turn paging on: CR0.PG = 1. The instruction carries two global labels so that trap.c can
 * recognise a #GP at exactly this place (paging_fixup below): some hosts refuse it.
 * Identity mapping: the next instruction's address means the same with paging on.
 */
static void paging_enable(uint32_t cr0)
{
	__asm__ volatile(".globl paging_cr0_write, paging_cr0_done\n"
			 "paging_cr0_write:\n\t"
			 "mov %0, %%cr0\n"
			 "paging_cr0_done:\n"
			 : : "r"(cr0 | CR0_PG) : "memory");
}

/*
 * Build the directory and turn paging on. If the host refuses (paging_fixup), the kernel
 * says so and goes on without paging, i.e. without memory protection: such a host (PVM)
 * cannot run ring 3 at all (the first IRET to ring 3 fails, and hv says why), and the
 * kernel-only boot (os.run=none) still runs to its end there.
 */
void paging_init(void)
{
	uint32_t cr0, cr4;

	for (uint32_t addr = 0; addr < RAM_MAPPED_END; addr += PAGE_4M) {
		uint32_t user = (addr >= OS_USER_BASE && addr < OS_USER_END) ? PDE_US : 0;
		page_dir[addr >> 22] = addr | PDE_P | PDE_RW | PDE_PS | user;
	}

	/* PSE before PG: a PS=1 entry means "4 MiB page" only while CR4.PSE is set. */
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_PSE));
	__asm__ volatile("mov %0, %%cr3" : : "r"((uint32_t)(uintptr_t)page_dir) : "memory");
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	paging_enable(cr0);
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	paging_on = (cr0 & CR0_PG) != 0;
	if (!paging_on)
		kprintf("os: paging: CR0.PG refused (#GP, as on a PVM host): no memory "
			"protection\n");
}

int paging_enabled(void)
{
	return paging_on;
}

/*
 * An exception the kernel expects: called by trap.c for every exception in ring 0, before
 * it panics. If it is the #GP of a refused CR0.PG write, resume after that instruction
 * (paging_init then sees PG = 0) and return 1. This is Linux's "exception table" idea in its
 * smallest form (arch/x86/mm/extable.c): a list of instructions allowed to fault, each with
 * the place to continue at. Real hardware never refuses; KVM on a PVM host does (measured:
 * 32-bit paging, with or without 4 MiB pages, and PAE paging all get #GP there, while the
 * 4-level paging of long mode, as guest/modeswitch.S turns it on, is accepted).
 */
int paging_fixup(struct trapframe *tf)
{
	extern const char paging_cr0_write[], paging_cr0_done[];

	if (tf->trapno != T_GP || tf->eip != (uint32_t)(uintptr_t)paging_cr0_write)
		return 0;
	tf->eip = (uint32_t)(uintptr_t)paging_cr0_done;
	return 1;
}

/*
 * Map the 4 MiB page holding addr, supervisor-only and uncached. For device registers
 * (virtio-mmio, the local APIC) outside RAM. INVLPG: the CPU might remember that the page
 * was not present (it may cache nothing about a not-present entry, but INVLPG is cheap and
 * makes the rule obvious).
 */
void paging_map_mmio(uint32_t addr)
{
	uint32_t base = addr & ~(PAGE_4M - 1u);

	if (addr < RAM_MAPPED_END)
		return; /* RAM is mapped already, and never as a device */
	page_dir[addr >> 22] = base | PDE_P | PDE_RW | PDE_PS | PDE_PCD | PDE_PWT;
	__asm__ volatile("invlpg (%0)" : : "r"(base) : "memory");
}

/*
 * Does [addr, addr + len) lie entirely in the user region? The system calls check every
 * pointer a task hands them with this before the kernel touches it: the kernel may read and
 * write all memory, so without the check a task could make the kernel do what paging forbids
 * the task itself ("the confused deputy"). Written so that nothing can overflow:
 * addr + len is never formed (addr = 0xFFFFFFF0, len = 0x20 would wrap to 0x10).
 */
int user_range_ok(uint32_t addr, uint32_t len)
{
	const uint32_t size = OS_USER_END - OS_USER_BASE;

	if (addr < OS_USER_BASE || addr >= OS_USER_END || len > size)
		return 0;
	return addr - OS_USER_BASE <= size - len;
}
