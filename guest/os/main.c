/*
 * main.c - the hvlab mini OS: a 32-bit protected-mode kernel that runs small programs in
 * ring 3, one after the other, and survives the ones that misbehave.
 *
 * Concept: what an operating system adds to a guest. Until now every hvlab guest ran in
 * ring 0 and could do anything. A real guest OS keeps its programs in ring 3 and enters
 * ring 0 only through doors it built itself: system calls (int 0x80), exceptions (a program
 * touching kernel memory or executing cli) and interrupts (the timer). None of those ring
 * changes is a VM exit, so the hypervisor cannot see them; the kernel reports them itself
 * on a para-virtual trace page (pvtrace.c). Textbook: chapter 5 "A guest OS".
 *
 * Why 32-bit protected mode and not long mode:
 *   - it reuses the drivers and the PVH boot path of the existing 32-bit guests
 *     (guest/lib/entry32.S, ata.c, virtio_blk.c, uart.c, pic.c, cmdline.c, portio.h), so the
 *     disk a task writes goes through exactly the code chapter 4 counted exits for;
 *   - its TSS model is the simplest there is: on a ring 3 -> ring 0 change the CPU takes the
 *     new stack from one field pair, SS0:ESP0, and that is all the TSS is used for here;
 *   - `int 0x80` is the classic Linux i386 system call (eax = number, ebx/ecx/edx = args),
 *     and our call numbers are Linux's where Linux has the call (hv/pvtrace.h);
 *   - the whole GDT (null, kernel code/data, user code/data, TSS) fits on a page of the
 *     textbook.
 *
 * Boot, in the order a textbook explains it (each step is one file):
 *   uart (guest/lib)  -> the command line (here) -> gdt.c: our own GDT and TSS, ltr
 *   -> idt.c: 32 exception gates, 16 IRQ gates, the int 0x80 gate
 *   -> paging.c: 4 MiB pages, kernel supervisor-only, 4-8 MiB user
 *   -> pvtrace.c: register the trace page (if hv asked) -> timer.c: PIC + PIT at 100 Hz
 *   -> disk.c: the driver hvlab.disk= names -> task.c: run the tasks -> summary, cli; hlt.
 *
 * The kernel itself always runs with interrupts off (IF = 0; every gate is an interrupt
 * gate, which clears IF on entry). Tasks run with IF = 1, so interrupts arrive only while
 * ring 3 runs. That keeps the kernel free of locks, and it is what lets the kernel-only boot
 * (os.run=none) run on a PVM host, whose KVM cannot deliver interrupts to a protected-mode
 * guest (textbook chapter 0, "What works where, and what to do on PVM"). Such a host also
 * refuses 32-bit paging (paging.c says how the kernel notices and boots on without it) and
 * any IRET to ring 3: there the first task stops the VM, and hv explains why.
 *
 * Command line (PVH start info; all optional):
 *   hvlab.disk=legacy|virtio   the disk driver (hv adds it with --disk-path); absent: none
 *   virtio_mmio.device=...     where the virtio transport is (hv and QEMU microvm add it)
 *   hvlab.pvtrace=0x528        register the trace page at this port (hv adds it)
 *   os.run=a,b,c               the tasks, in order, from hello disk priv fault ticks
 *                              (default: these five), badcall and popf; "none" = kernel-only boot
 *   os.corrupt_pvtrace=1|2|3   test hook: damage the trace page like a hostile guest
 *   os.pvtrace_print=1         print the trace records on COM1 (when nobody drains them)
 *   os.test_panic=1            test hook: read unmapped memory in ring 0 (-> kernel panic)
 *                              (UD2 instead if paging is off)
 *
 * Output (deterministic: no time stamps), e.g. with the default task list and hvlab.disk=legacy:
 *   os: hvlab mini OS (32-bit protected mode), disk=legacy
 *   os: task 1 (hello) starting in ring 3 ... os: task 1 (hello) exited with status 0
 *   ... os: 5 tasks run, 2 killed
 * then cli; hlt (hv exit status 0). A kernel panic writes the exception vector to port 0xF4
 * instead (hv status (vector << 1) | 1).
 */
#include <stdint.h>

#include "cmdline.h"
#include "layout.h"
#include "os.h"
#include "portio.h"
#include "uart.h"

/* The boot command line, copied once into kernel memory: the original sits wherever the
   loader put it, and the kernel should not keep reading memory it does not own. */
char os_cmdline[HV_CMDLINE_MAX];

/* Copy at most HV_CMDLINE_MAX - 1 bytes and always terminate: the source may lack a NUL. */
static void cmdline_copy(uint32_t start_info_paddr)
{
	const char *src = startinfo_cmdline(start_info_paddr);
	uint32_t i = 0;

	if (src != 0) {
		for (; i < HV_CMDLINE_MAX - 1u && src[i] != '\0'; i++)
			os_cmdline[i] = src[i];
	}
	os_cmdline[i] = '\0';
}

/*
 * Is the user region (4-8 MiB) RAM? The PVH start info, version 1, carries a memory map
 * (struct hvm_memmap_table_entry: addr, size, type; type 1 = RAM), as the BIOS's E820 map
 * would on a PC. `hv run --mem 4` has no RAM there: the tasks' image would be copied into
 * an empty bus. Without a map (version 0) we cannot tell, and assume yes.
 */
#define START_INFO_V1_MEMMAP 40u /* offsets in struct hvm_start_info, version 1 */
#define START_INFO_V1_COUNT  48u
#define MEMMAP_TYPE_RAM      1u
#define MEMMAP_MAX           64u /* more entries than this: look at the first 64 only */

struct memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

int os_user_ram = 1;

static void user_region_check(uint32_t start_info_paddr)
{
	const struct hvm_start_info *si = (const struct hvm_start_info *)(uintptr_t)start_info_paddr;
	const uint8_t *raw = (const uint8_t *)si;
	const struct memmap_entry *map;
	uint64_t map_paddr;
	uint32_t count;

	if (si == 0 || si->magic != HVM_START_MAGIC || si->version < 1)
		return;
	map_paddr = *(const uint64_t *)(raw + START_INFO_V1_MEMMAP);
	count = *(const uint32_t *)(raw + START_INFO_V1_COUNT);
	if (map_paddr == 0 || map_paddr > 0xFFFFFFFFu || count == 0)
		return;
	map = (const struct memmap_entry *)(uintptr_t)map_paddr;
	os_user_ram = 0;
	for (uint32_t i = 0; i < count && i < MEMMAP_MAX; i++) {
		/* one RAM entry must hold all of [OS_USER_BASE, OS_USER_END) */
		if (map[i].type == MEMMAP_TYPE_RAM && map[i].addr <= OS_USER_BASE &&
		    map[i].size >= OS_USER_END - map[i].addr)
			os_user_ram = 1;
	}
}

/* The value of the first "key=value" word: 1 and (value, len), or 0 if absent. */
int os_option(const char *key, const char **value, uint32_t *len)
{
	return cmdline_get_nth(os_cmdline, HV_CMDLINE_MAX, key, 0, value, len);
}

/* Is "key=want" on the command line? */
int os_option_is(const char *key, const char *want)
{
	const char *v;
	uint32_t len;

	return os_option(key, &v, &len) && cmdline_value_is(v, len, want);
}

/*
 * Stop the machine with a status: the exit device (port 0xF4; hv and QEMU's isa-debug-exit
 * turn value v into exit status (v << 1) | 1). If nothing listens there, halt for good.
 */
void os_exit(uint8_t code)
{
	port_write8(HV_PORT_EXIT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/*
 * os.test_panic=1: a bug in the kernel, on purpose. 0xC0000000 is above RAM and outside
 * every page we mapped, so the read takes #PF in ring 0 and trap.c's panic report follows
 * (hv exit status (14 << 1) | 1 = 29). Without paging (a host that refused it) that read
 * would just reach an empty bus, so the kernel executes UD2 instead: #UD, status 13.
 */
static void os_test_panic(void)
{
	if (!os_option_is("os.test_panic", "1"))
		return;
	if (!paging_enabled()) {
		kprintf("os: test_panic: ud2 in ring 0 (paging is off)\n");
		__asm__ volatile("ud2");
	}
	kprintf("os: test_panic: reading unmapped memory at 0xc0000000 in ring 0\n");
	(void)*(volatile uint32_t *)0xC0000000u;
}

void guest_main(uint32_t start_info_paddr);

void guest_main(uint32_t start_info_paddr)
{
	uart_init();
	cmdline_copy(start_info_paddr);
	user_region_check(start_info_paddr);
	kprintf("os: hvlab mini OS (32-bit protected mode), disk=%s\n", disk_name());

	/* PVH promises IF = TF = 0 and nothing else about EFLAGS: NT = 1 would turn our first
	 * IRET into a task return, AC or IOPL would change what ring 3 may do. Start clean,
	 * as Linux's head_32.S does. */
	__asm__ volatile("pushl $2; popfl" ::: "memory", "cc");
	/* No x87/MMX for tasks: CR0.EM = 1 makes any use a #NM (the task is killed) instead of
	 * a unit whose registers nobody saves between tasks. MP = 1 as the SDM pairs them. */
	uint32_t cr0;
	__asm__ volatile("movl %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("movl %0, %%cr0" : : "r"(cr0 | 0x6u) : "memory");
	gdt_init();     /* our segments and TSS; the loader's GDT is forgotten */
	idt_init();     /* from here on a fault gets a clear report instead of a triple fault */
	paging_init();  /* from here on ring 3 cannot touch kernel memory (if the host allows
			   paging at all: task.c runs no task without it) */
	pvtrace_init();
	pvtrace_corrupt();
	timer_init();
	disk_init();
	os_test_panic();

	tasks_run();
	pvtrace_finish();
	tasks_summary(); /* "os: N tasks run, K killed", the last line */
	/* Returning to entry32.S ends with cli; hlt: hv's exit status 0. */
}
