/*
 * cpu.c - put the virtual CPU into real, protected or long mode before the first VM entry.
 *
 * Concept: an x86 CPU wakes up in 16-bit real mode; an operating system climbs to protected
 * and long mode itself (the `modeswitch` guest shows every step). A VMM can skip the climb: it
 * writes the *result* straight into the vCPU's registers (through regs.c, the one door to
 * them). But the CPU still needs the data structures those registers point at (a GDT for
 * segments, page tables for long mode) in guest RAM, so hv builds them at fixed addresses
 * (hv/layout.h), exactly where a boot loader would. Textbook: chapter 2, section "CPU modes".
 *
 *   real       CR0.PE = 0. Address = segment * 16 + offset. hv sets every segment to 0.
 *   protected  CR0.PE = 1. Segment registers hold selectors into the GDT; hv's GDT has flat
 *              4 GiB segments (base 0), so addresses are physical addresses. Paging off.
 *   long       protected mode + CR4.PAE + EFER.LME + CR0.PG: the CPU then sets EFER.LMA. The
 *              code segment's L bit makes it 64-bit. Paging is mandatory, so hv maps the first
 *              4 GiB 1:1 (virtual = physical) with 2 MiB pages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "layout.h"
#include "regs.h"
#include "vm.h"

/* Control register and EFER bits (Intel SDM vol. 3, 2.5 and 2.2.1). */
#define CR0_PE  (1u << 0)   /* protection enable */
#define CR0_ET  (1u << 4)   /* extension type: always 1 on modern CPUs */
#define CR0_PG  (1u << 31)  /* paging */
#define CR4_PAE (1u << 5)   /* physical address extension: needed for long mode */
#define EFER_LME (1u << 8)  /* long mode enable (we ask) */
#define EFER_LMA (1u << 10) /* long mode active (the CPU reports); KVM wants it set with LME */

/* Page-table entry bits (SDM vol. 3, 4.5). */
#define PTE_P  (1ull << 0)  /* present */
#define PTE_RW (1ull << 1)  /* writable */
#define PTE_PS (1ull << 7)  /* in a page directory: this entry maps a 2 MiB page */

/* GDT selectors hv uses: index * 8 (the low 3 bits are RPL and table indicator). */
#define SEL_CODE32 0x08
#define SEL_DATA   0x10
#define SEL_CODE64 0x18

/* The same segment, in the unpacked form struct kvm_sregs holds: what the CPU caches from the
 * descriptor when a selector is loaded (its "hidden part"), and what KVM loads into the VMCS. */
static struct kvm_segment segment(uint16_t sel, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xFFFFFFFF, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .s = 1, .g = 1,
		.db = code64 ? 0 : 1, /* a 64-bit code segment must have D = 0 */
		.l = code64 ? 1 : 0,
	};
}

/*
 * A GDT descriptor packs base, limit and flags into 8 bytes in a famously scattered way
 * (a legacy of the 80286). access: P, DPL, S, type. flags: G (4 KiB granularity), D/B
 * (32-bit default size), L (64-bit code).
 */
/*
 * Bit by bit: limit 15:0 in bits 15:0, base 23:0 in bits 39:16, the access byte in 47:40, limit
 * 19:16 in 51:48, the flags nibble in 55:52 and base 31:24 in 63:56. With G = 1 the 20-bit
 * limit counts 4 KiB pages, so 0xFFFFF means the whole 4 GiB (SDM vol. 3, 3.4.5).
 */
/*
 * The GDT lives in guest RAM because the CPU reads it from there: on every segment load (a far
 * jump, a mov to a segment register, an interrupt) it fetches the 8-byte descriptor through
 * GDTR. hv loads the hidden parts itself below (segment(), above), but the guest's own first segment
 * load, e.g. its first far jump, goes to this table; so it must agree with what hv loaded.
 */
/* LAB 2 BEGIN gdt: pack a segment descriptor (gdt_entry) and write hv's GDT into guest RAM (write_gdt) */
static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (uint64_t)(limit & 0xFFFF) | ((uint64_t)(base & 0xFFFFFF) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xF) << 48) |
	       ((uint64_t)(flags & 0xF) << 52) | ((uint64_t)(base >> 24) << 56);
}

static int write_gdt(struct vm *vm, char *err, size_t errlen)
{
	uint64_t gdt[4] = {
		0,                                   /* the null descriptor: selector 0 is "none" */
		gdt_entry(0, 0xFFFFF, 0x9B, 0xC),    /* 0x08 code, 32-bit: P, S, execute/read */
		gdt_entry(0, 0xFFFFF, 0x93, 0xC),    /* 0x10 data: P, S, read/write */
		gdt_entry(0, 0xFFFFF, 0x9B, 0xA),    /* 0x18 code, 64-bit: L = 1, D = 0 */
	};
	if (gm_write(&vm->mem, HV_GDT_ADDR, gdt, sizeof(gdt)) < 0) {
		snprintf(err, errlen, "guest RAM too small for the GDT");
		return -1;
	}
	return 0;
}
/* LAB 2 STUB
static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	// TODO(lab 2): pack base, limit, the access byte and the flags nibble into the 8-byte
	// descriptor: limit 15:0 in bits 15:0, base 23:0 in 39:16, access in 47:40, limit 19:16 in
	// 51:48, flags in 55:52, base 31:24 in 63:56 (textbook ch02 "CPU modes"; Intel SDM vol. 3,
	// 3.4.5).
	(void)base;
	(void)limit;
	(void)access;
	(void)flags;
	return 0;
}

static int write_gdt(struct vm *vm, char *err, size_t errlen)
{
	// TODO(lab 2): four descriptors, in the order of the selectors above: the null descriptor,
	// then flat 4 GiB segments (base 0, limit 0xFFFFF with G = 1): 0x08 32-bit code, 0x10 data,
	// 0x18 64-bit code (L = 1, D = 0). They must describe exactly what segment() loads into
	// the hidden parts. Copy the table to HV_GDT_ADDR with gm_write; if that fails, say
	// "guest RAM too small for the GDT" in err and return -1 (textbook ch02 "CPU modes").
	(void)gdt_entry;
	(void)vm;
	snprintf(err, errlen, "lab 2: write_gdt (hv/cpu.c) is not written yet");
	return -1;
}
LAB 2 END */

/*
 * Identity-map 4 GiB: PML4[0] -> PDPT; PDPT[0..3] -> four PDs; each PD entry a 2 MiB page.
 * A 64-bit address is split 9+9+9+21 bits here: bits 47:39 pick the PML4 entry, 38:30 the PDPT
 * entry (one per GiB), 29:21 the PD entry (one per 2 MiB), and with PS = 1 the low 21 bits are
 * the offset in the page, so no fourth level (page table) is needed. Six 4 KiB pages of tables
 * map everything a teaching guest can reach. With EPT/NPT the CPU walks these guest tables and
 * then KVM's own for every guest-physical address they produce (textbook ch02 "CPU modes").
 */
static int write_page_tables(struct vm *vm, char *err, size_t errlen)
{
	/* LAB 2 BEGIN page_tables: identity-map the first 4 GiB with 2 MiB pages */
	uint64_t pml4[512] = { HV_PDPT_ADDR | PTE_P | PTE_RW };
	uint64_t pdpt[512] = { 0 };
	uint64_t pd[512];
	for (int g = 0; g < 4; g++) {
		pdpt[g] = (HV_PD_ADDR + g * 0x1000ull) | PTE_P | PTE_RW;
		for (int i = 0; i < 512; i++)
			pd[i] = ((uint64_t)g << 30 | (uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS;
		if (gm_write(&vm->mem, HV_PD_ADDR + g * 0x1000ull, pd, sizeof(pd)) < 0)
			goto small;
	}
	if (gm_write(&vm->mem, HV_PML4_ADDR, pml4, sizeof(pml4)) < 0 ||
	    gm_write(&vm->mem, HV_PDPT_ADDR, pdpt, sizeof(pdpt)) < 0)
		goto small;
	return 0;
small:
	snprintf(err, errlen, "guest RAM too small for the page tables");
	return -1;
	/* LAB 2 STUB
	// TODO(lab 2): build the tables at the addresses of hv/layout.h: a PML4 at HV_PML4_ADDR
	// whose entry 0 points at the PDPT (HV_PDPT_ADDR), PDPT entries 0-3 pointing at four page
	// directories (HV_PD_ADDR + g * 0x1000), and in each directory 512 entries of 2 MiB pages
	// (PTE_PS) so that virtual == physical for all of [0, 4 GiB). Every entry PTE_P | PTE_RW.
	// Copy each 4 KiB table into guest RAM with gm_write; if one does not fit, say "guest RAM
	// too small for the page tables" in err and return -1 (textbook ch02 "CPU modes").
	(void)vm;
	snprintf(err, errlen, "lab 2: write_page_tables (hv/cpu.c) is not written yet");
	return -1;
	LAB 2 END */
}

/*
 * The PVH start-info block (xen/include/public/arch-x86/hvm/start_info.h, version 1) and
 * a memory map: RAM below 0x8000 holds hv's tables, so it is reported as reserved. With an
 * initrd (hv run --initrd on an ELF kernel with the PVH note) the block also lists one *module*:
 * PVH's name for a file the loader put in memory for the kernel. Linux takes its first module
 * as its initrd (textbook ch 11 "The boot protocol").
 */
int pvh_write_start_info(const struct guest_mem *gm, const struct boot_info *bi,
			 const char *cmdline, char *err, size_t errlen)
{
	size_t n = cmdline ? strlen(cmdline) : 0;
	if (n >= HV_CMDLINE_MAX) {
		snprintf(err, errlen, "--cmdline is %zu bytes; at most %u fit", n, HV_CMDLINE_MAX - 1);
		return -1;
	}
	char line[HV_CMDLINE_MAX] = { 0 };
	if (n)
		memcpy(line, cmdline, n);
	uint64_t ram = gm->slots[0].size;
	struct { uint64_t addr, size; uint32_t type, reserved; } memmap[2] = {
		{ 0, HV_LOAD16_ADDR, 2, 0 },                  /* 2 = reserved */
		{ HV_LOAD16_ADDR, ram - HV_LOAD16_ADDR, 1, 0 }, /* 1 = usable RAM */
	};
	/* struct hvm_modlist_entry: paddr, size, cmdline_paddr (0: none), reserved. */
	uint64_t module[4] = { bi->initrd_addr, bi->initrd_size, 0, 0 };
	uint32_t info[14] = { 0 };
	info[0] = 0x336ec578;          /* magic: "xEn3" with the 0x80 bit of the 'E' set */
	info[1] = 1;                   /* version */
	info[3] = bi->initrd_size ? 1 : 0;             /* nr_modules */
	info[4] = bi->initrd_size ? HV_START_INFO_ADDR + 0x80 : 0; /* modlist_paddr, low half */
	info[6] = HV_CMDLINE_ADDR;     /* cmdline_paddr (64-bit field, low half) */
	info[10] = HV_START_INFO_ADDR + 0x40; /* memmap_paddr */
	info[12] = 2;                  /* memmap_entries */
	if (gm_write(gm, HV_START_INFO_ADDR, info, sizeof(info)) < 0 ||
	    gm_write(gm, HV_START_INFO_ADDR + 0x40, memmap, sizeof(memmap)) < 0 ||
	    (bi->initrd_size && gm_write(gm, HV_START_INFO_ADDR + 0x80, module, sizeof(module)) < 0) ||
	    gm_write(gm, HV_CMDLINE_ADDR, line, n + 1) < 0) {
		snprintf(err, errlen, "guest RAM too small for the start-info block");
		return -1;
	}
	return 0;
}

/*
 * After RESET a real CPU runs at F000:FFF0 with CS.base = 0xFFFF0000 (the BIOS ROM just below
 * 4 GiB): a hidden base that no real-mode segment value could produce. hv has no BIOS, so it
 * points the segments at 0 and jumps straight to the loaded image.
 */
/* LAB 2 BEGIN setup_modes: the registers of each boot mode (setup_real, setup_protected, setup_long) */
static void setup_real(struct kvm_sregs *s, struct kvm_regs *r, uint64_t entry)
{
	/* Keep KVM's reset state for everything else; just point all segments at 0 so that
	 * offsets equal physical addresses in the first 64 KiB. */
	struct kvm_segment *segs[] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss };
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		segs[i]->selector = 0;
		segs[i]->base = 0;
	}
	r->rip = entry;
	r->rsp = HV_STACK16_TOP;
}

static void setup_protected(struct kvm_sregs *s, struct kvm_regs *r, uint64_t entry)
{
	s->gdt.base = HV_GDT_ADDR;
	s->gdt.limit = 4 * 8 - 1;
	/* No IDT: limit 0 means "no gates at all", so the first exception the guest causes
	 * cannot be delivered and ends in a triple fault (a clear diagnostic) instead of
	 * jumping through whatever bytes lie at address 0. Guests that want interrupts load
	 * their own IDT with lidt, as any kernel does. */
	s->idt.base = 0;
	s->idt.limit = 0;
	s->cr0 = CR0_PE | CR0_ET;
	s->cs = segment(SEL_CODE32, 0xB, false); /* type 0xB: code, execute/read, accessed */
	s->ds = s->es = s->fs = s->gs = s->ss = segment(SEL_DATA, 0x3, false); /* data, r/w */
	r->rip = entry;
	r->rsp = HV_STACK_TOP;
	r->rbx = HV_START_INFO_ADDR; /* PVH: EBX holds the start-info address */
}

/*
 * A kernel enters long mode in a fixed order (SDM vol. 3, "Initializing IA-32e Mode"): page tables and CR3, then
 * CR4.PAE, then EFER.LME, and last CR0.PG, at which moment the CPU sets EFER.LMA. hv writes the
 * end state in one KVM_SET_SREGS, so it sets LMA itself: KVM checks the combination is one a
 * CPU could be in, and refuses LME without LMA when paging is on.
 */
static void setup_long(struct kvm_sregs *s, struct kvm_regs *r, uint64_t entry)
{
	setup_protected(s, r, entry);
	s->cr3 = HV_PML4_ADDR;
	s->cr4 = CR4_PAE;
	s->cr0 = CR0_PE | CR0_ET | CR0_PG;
	s->efer = EFER_LME | EFER_LMA;
	s->cs = segment(SEL_CODE64, 0xB, true);
}
/* LAB 2 STUB
static void setup_real(struct kvm_sregs *s, struct kvm_regs *r, uint64_t entry)
{
	// TODO(lab 2): keep KVM's reset state but give CS, DS, ES, FS, GS and SS selector 0 and
	// base 0, so offsets are physical addresses in the first 64 KiB; rip = entry, rsp =
	// HV_STACK16_TOP (textbook ch02 "CPU modes").
	(void)s;
	(void)r;
	(void)entry;
}

static void setup_protected(struct kvm_sregs *s, struct kvm_regs *r, uint64_t entry)
{
	// TODO(lab 2): GDTR = your GDT (HV_GDT_ADDR, limit: its size - 1); an empty IDT (base 0,
	// limit 0: the guest's first exception then ends in a clear triple fault); CR0 = PE | ET;
	// CS = segment(SEL_CODE32, 0xB, false), every data segment segment(SEL_DATA, 0x3, false);
	// rip = entry, rsp = HV_STACK_TOP, and for PVH rbx = HV_START_INFO_ADDR
	// (textbook ch02 "CPU modes").
	(void)segment;
	(void)s;
	(void)r;
	(void)entry;
}

// A kernel enters long mode in a fixed order (SDM vol. 3, "Initializing IA-32e Mode"): page
// tables and CR3, then CR4.PAE, then EFER.LME, and last CR0.PG, at which moment the CPU sets
// EFER.LMA. hv writes the end state in one KVM_SET_SREGS, so it must set LMA itself.
static void setup_long(struct kvm_sregs *s, struct kvm_regs *r, uint64_t entry)
{
	// TODO(lab 2): protected mode first (setup_protected), then CR3 = HV_PML4_ADDR,
	// CR4 = PAE, CR0 = PE | ET | PG, EFER = LME | LMA, and a 64-bit code segment:
	// CS = segment(SEL_CODE64, 0xB, true) (textbook ch02 "CPU modes").
	(void)s;
	(void)r;
	(void)entry;
}
LAB 2 END */

/*
 * A Linux bzImage's 64-bit entry (textbook ch 11 "The boot protocol"; Linux's boot.rst,
 * "64-bit BOOT PROTOCOL"): long mode as above, but the protocol names the selectors, __BOOT_CS =
 * 0x10 for flat 64-bit code and __BOOT_DS = 0x18 for flat data, which hv's own GDT uses the other
 * way round. So a Linux guest gets a GDT of its own, and RSI points at boot_params.
 */
static int write_linux_gdt(struct vm *vm, char *err, size_t errlen)
{
	uint64_t gdt[4] = {
		0, 0,                                /* 0x00 null; 0x08 unused */
		gdt_entry(0, 0xFFFFF, 0x9B, 0xA),    /* 0x10 __BOOT_CS: 64-bit code */
		gdt_entry(0, 0xFFFFF, 0x93, 0xC),    /* 0x18 __BOOT_DS: data */
	};
	if (gm_write(&vm->mem, HV_LINUX_GDT_ADDR, gdt, sizeof(gdt)) < 0) {
		snprintf(err, errlen, "guest RAM too small for the GDT");
		return -1;
	}
	return 0;
}

static void setup_linux(struct kvm_sregs *s, struct kvm_regs *r, const struct boot_info *bi)
{
	setup_long(s, r, bi->entry);
	s->gdt.base = HV_LINUX_GDT_ADDR;
	s->gdt.limit = 4 * 8 - 1;
	s->cs = segment(0x10, 0xB, true);
	s->ds = s->es = s->fs = s->gs = s->ss = segment(0x18, 0x3, false);
	r->rbx = 0;
	r->rsi = bi->boot_params;
}

int cpu_setup(struct vm *vm, const char *cmdline, char *err, size_t errlen)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 0x2 }; /* bit 1 is always 1; IF = 0: interrupts off */

	/* Start from what KVM_CREATE_VCPU left: the state of a real CPU after RESET. */
	if (sregs_get(vm, &sregs) < 0) {
		snprintf(err, errlen, "reading the vCPU's reset state failed: %s", strerror(errno));
		return -1;
	}
	/* Every mode gets the command line and start-info block; only 32/64-bit need tables. */
	if (pvh_write_start_info(&vm->mem, &vm->boot, cmdline, err, errlen) < 0)
		return -1;
	switch (vm->boot.mode) {
	case BOOT_REAL:
		setup_real(&sregs, &regs, vm->boot.entry);
		break;
	case BOOT_PROTECTED:
		if (write_gdt(vm, err, errlen) < 0)
			return -1;
		setup_protected(&sregs, &regs, vm->boot.entry);
		break;
	default:
		if (write_gdt(vm, err, errlen) < 0 || write_page_tables(vm, err, errlen) < 0)
			return -1;
		if (!vm->boot.boot_params) {
			setup_long(&sregs, &regs, vm->boot.entry);
			break;
		}
		/* A bzImage (linuxboot.c): the same tables, Linux's selectors. */
		if (write_linux_gdt(vm, err, errlen) < 0)
			return -1;
		setup_linux(&sregs, &regs, &vm->boot);
		break;
	}
	/*
	 * IA32_APIC_BASE without bit 11 (enable): this machine has no local APIC, interrupts come
	 * from the 8259A PICs (irq.c). KVM then also clears the APIC bit in the guest's CPUID, so
	 * a guest that checks (as an OS or a BIOS does) leaves the APIC page alone.
	 */
	sregs.apic_base = 0xFEE00000u;
	/* sregs first: they set the mode the general registers' values are meant for. */
	if (sregs_set(vm, &sregs) < 0 || regs_set(vm, &regs) < 0) {
		snprintf(err, errlen, "setting the vCPU registers failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- reading the mode back (for the trace and for diagnostics) ---- */

/* The CPU mode from CR0.PE, EFER.LMA and the code segment's L and D bits: the same three
 * facts the CPU itself uses to decide how to decode the next instruction. */
uint8_t cpu_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & CR0_PE))
		return HVT_MODE_REAL;
	if (s->efer & EFER_LMA)
		return s->cs.l ? HVT_MODE_LONG : HVT_MODE_COMPAT;
	return s->cs.db ? HVT_MODE_PROT32 : HVT_MODE_PROT16;
}

/* In protected mode the current privilege level is the RPL of CS (= SS.DPL); real mode
 * has no privilege levels, and we report it as ring 0. */
uint8_t cpu_cpl(const struct kvm_sregs *s)
{
	return (s->cr0 & CR0_PE) ? (s->cs.selector & 3) : 0;
}
