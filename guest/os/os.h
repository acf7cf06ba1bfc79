/*
 * os.h - the mini OS's shared definitions: memory map, segment selectors, the trap frame,
 * and one line per kernel module saying what it offers.
 *
 * Concept: a kernel is a handful of small modules that each own one piece of the machine
 * (the GDT, the IDT, the page directory, the timer, the disk, the tasks). This header is the
 * map of who owns what, in the order main.c brings them up.
 * Textbook: chapter 5 "A guest OS", section "Why 32-bit protected mode".
 */
#ifndef OS_OS_H
#define OS_OS_H

#include <stdint.h>

/*
 * ---- Memory (identity-mapped: virtual address == physical address everywhere) ----
 *
 *   0x0000_0000 - 0x003F_FFFF  kernel: hv's boot structures, the kernel image at 1 MiB, its
 *                              stacks, the page directory, the trace page (supervisor only)
 *   0x0040_0000 - 0x007F_FFFF  user region (U/S = 1): the user programs' image at 4 MiB,
 *                              then one 64 KiB stack per task slot at the top
 *   0x0080_0000 - 0x00FF_FFFF  rest of RAM (supervisor only)
 *   MMIO pages                 the virtio transport, the local APIC (supervisor, uncached)
 */
#define OS_USER_BASE      0x00400000u
#define OS_USER_END       0x00800000u /* one past the last user byte */
#define OS_USER_STACK_SZ  0x00010000u /* 64 KiB per task slot */
#define OS_TASKS_MAX      16u         /* task slots: 16 stacks = the top 1 MiB of the user region */
#define OS_USER_STACKS    (OS_USER_END - OS_TASKS_MAX * OS_USER_STACK_SZ) /* 0x700000 */
#define OS_KSTACK_SZ      8192u       /* each task's kernel stack (TSS.esp0 points at its top) */

/*
 * ---- Segment selectors (gdt.c) ----
 * A selector is index * 8 | TI | RPL: the low two bits are the *requested privilege level*,
 * so user selectors end in 3. Textbook: chapter 5, section "Segments, rings and the TSS".
 */
#define SEL_KCODE 0x08u
#define SEL_KDATA 0x10u
#define SEL_UCODE (0x18u | 3u)
#define SEL_UDATA (0x20u | 3u)
#define SEL_TSS   0x28u

/* Vectors: 0-31 CPU exceptions, 0x20-0x2F the PIC's IRQ 0-15 (pic.h), 0x80 system calls. */
#define T_EXCEPTIONS 32u
#define T_IRQ0       0x20u
#define T_IRQS       16u
#define T_SYSCALL    0x80u
#define T_PF         14u
#define T_GP         13u

/*
 * The trap frame: everything the CPU and trapasm.S push on the kernel stack on the way in,
 * lowest address first. trapasm.S pushes the segment registers and PUSHAL; the stub pushes the
 * vector and (for vectors where the CPU does not) a zero error code; the CPU pushes EIP, CS,
 * EFLAGS, and only when it came from ring 3 (a privilege change) the user's ESP and SS.
 * It is the same layout as xv6's struct trapframe. Intel SDM vol. 3, section 6.12.1
 * "Exception- or interrupt-handler procedures", figure 6-4.
 */
struct trapframe {
	/* PUSHAL (POPAL restores them; it skips the saved esp) */
	uint32_t edi, esi, ebp, esp_pushal, ebx, edx, ecx, eax;
	/* trapasm.S */
	uint32_t gs, fs, es, ds;
	/* the vector stub */
	uint32_t trapno, err;
	/* the CPU */
	uint32_t eip, cs, eflags;
	uint32_t esp, ss; /* only present when the trap came from ring 3 */
};

/* The CPL the trap came from: the low bits of the CS the CPU saved. */
static inline uint32_t tf_cpl(const struct trapframe *tf)
{
	return tf->cs & 3u;
}

/* The callee-saved registers swtch() keeps for a stack that is not running (xv6's context). */
struct context {
	uint32_t edi, esi, ebx, ebp, eip;
};

/* ---- console.c: the kernel's printf, to COM1 ---- */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- main.c: the boot command line (a kernel copy) and its options ---- */
extern char os_cmdline[];
extern int os_user_ram; /* the user region is RAM (start info's memory map) */
int os_option(const char *key, const char **value, uint32_t *len);
int os_option_is(const char *key, const char *want);
void os_exit(uint8_t code) __attribute__((noreturn));

/* ---- gdt.c ---- */
void gdt_init(void);
void tss_set_esp0(uint32_t esp0);

/* ---- paging.c ---- */
void paging_init(void);
int paging_enabled(void);
int paging_fixup(struct trapframe *tf);
void paging_map_mmio(uint32_t addr);
int user_range_ok(uint32_t addr, uint32_t len);

/* ---- idt.c, trapasm.S, trap.c ---- */
void idt_init(void);
void trap(struct trapframe *tf);
void trapret(void);
void swtch(struct context **save, struct context *load);
const char *trap_name(uint32_t vector);

/* ---- syscall.c ---- */
void syscall_dispatch(struct trapframe *tf);

/* ---- timer.c ---- */
void timer_init(void);
void timer_irq(void);
uint32_t timer_ticks(void);

/* ---- disk.c ---- */
void disk_init(void);
const char *disk_name(void);      /* "legacy", "virtio" or "none" (what the command line asked) */
const char *disk_driver(void);    /* the same, but "none" if the driver did not come up */
int disk_read(uint32_t lba, void *buf, uint32_t nsect);
int disk_write(uint32_t lba, const void *buf, uint32_t nsect);
int disk_flush(void);

/* ---- task.c ---- */
void tasks_run(void);
void tasks_summary(void);
uint32_t task_current_id(void);
void task_exit(int status, uint32_t eip) __attribute__((noreturn));
void task_kill(const struct trapframe *tf, uint32_t cr2, const char *why)
	__attribute__((noreturn));

/* ---- pvtrace.c ---- */
void pvtrace_init(void);
void pvtrace_emit(uint8_t kind, uint8_t from_cpl, uint8_t to_cpl, uint8_t vector, uint32_t nr,
		  uint32_t rip, uint32_t arg);
void pvtrace_corrupt(void);
void pvtrace_finish(void);

/* ---- small helpers ---- */
static inline void kmemcpy(void *dst, const void *src, uint32_t n)
{
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static inline uint32_t read_cr2(void)
{
	uint32_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#endif
