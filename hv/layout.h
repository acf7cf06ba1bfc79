/*
 * layout.h - the guest's physical memory map, port numbers and exit statuses.
 *
 * Concept: a virtual machine is a *contract*. The guest cannot ask the host where things are;
 * it can only rely on fixed addresses (like a real PC's BIOS tables, or the PVH boot ABI).
 * Every fixed number hv and the guests share lives in this one file, so a student who asks
 * "where does hv put the page tables?" or "why does port 0xF4 end the VM?" finds it here.
 * Guests include this file too (it has no host-only types), so the two sides cannot drift.
 * Textbook: chapter 2 "A VM from the inside", section "The guest-physical memory map".
 *
 * Guest-physical memory map (RAM is one block from 0 to --mem MiB, default 16 MiB):
 *
 *   0x0000_0000  real-mode interrupt vector table (left zero; hv does not emulate a BIOS)
 *   0x0000_0500  PVH start-info block (struct hvm_start_info) for 32/64-bit guests
 *   0x0000_0600  boot command line, NUL-terminated, at most HV_CMDLINE_MAX bytes
 *   0x0000_1000  GDT that hv builds for protected and long mode
 *   0x0000_1100  GDT for a Linux bzImage (its selectors: 0x10 code, 0x18 data; hv/linuxboot.c)
 *   0x0000_2000  PML4  \
 *   0x0000_3000  PDPT   > identity page tables hv builds for long mode: 4 GiB in 2 MiB pages
 *   0x0000_4000  4 PDs /   (0x4000-0x7FFF, one page directory per GiB)
 *   0x0000_8000  raw real-mode binaries load and start here (CS:IP = 0000:8000, SP = 0x8000)
 *   0x0000_9000  a Linux bzImage's boot_params, the "zero page" (hv/linuxboot.c)
 *   0x0000_A000  ACPI tables describing the virtio-mmio disk to a Linux guest (hv/acpi.c)
 *   0x0008_0000  initial stack top for raw 32/64-bit binaries (guests usually set their own)
 *   0x0010_0000  raw 32/64-bit binaries load and start here (1 MiB, where PVH kernels live)
 *   0x0100_0000  a Linux bzImage's protected-mode kernel (16 MiB, its pref_address); its initrd
 *                at the top of RAM (textbook ch 11 "Booting Linux")
 *   0xD000_0000  MMIO window: devices live here, never RAM (RAM is capped below it)
 *   0xD000_0000    test device (one page)
 *   0xD000_1000    virtio-mmio transport of the virtio-blk disk (0x200 bytes, IRQ 5)
 *   0xFFFB_D000  three pages KVM needs on Intel for real-mode emulation (KVM_SET_TSS_ADDR)
 */
#ifndef HV_LAYOUT_H
#define HV_LAYOUT_H

#define HV_START_INFO_ADDR 0x0500u
#define HV_CMDLINE_ADDR    0x0600u
#define HV_CMDLINE_MAX     1024u
#define HV_GDT_ADDR        0x1000u
#define HV_LINUX_GDT_ADDR  0x1100u
#define HV_PML4_ADDR       0x2000u
#define HV_PDPT_ADDR       0x3000u
#define HV_PD_ADDR         0x4000u /* four pages: 0x4000, 0x5000, 0x6000, 0x7000 */
#define HV_LOAD16_ADDR     0x8000u
#define HV_ZEROPAGE_ADDR   0x9000u
#define HV_ACPI_ADDR       0xA000u
#define HV_STACK16_TOP     0x8000u
#define HV_STACK_TOP       0x80000u
#define HV_LOAD_ADDR       0x100000u
#define HV_MMIO_BASE       0xD0000000u
#define HV_TSS_ADDR        0xFFFBD000u

/* RAM size limits for --mem (MiB). RAM must end below the MMIO window. */
#define HV_MEM_DEFAULT_MIB 16u
#define HV_MEM_MIN_MIB     2u
#define HV_MEM_MAX_MIB     3072u

/*
 * Devices and where they answer. Port numbers are the ones real PCs (and QEMU) use, so a guest
 * written for hv also talks to QEMU's devices.
 */
#define HV_PORT_UART0      0x3F8u /* COM1: 16550A, 8 registers */
#define HV_PORT_DEBUGCON   0xE9u  /* Bochs/QEMU debug console: one OUT = one character */
#define HV_PORT_EXIT       0xF4u  /* like QEMU's isa-debug-exit: OUT ends the VM */
#define HV_PORT_TESTDEV    0x500u /* test port device used by the 'exits' guest, 4 ports */
#define HV_MMIO_TESTDEV    (HV_MMIO_BASE + 0x0000u) /* test MMIO device, one 4 KiB page */

/*
 * The two disk controllers (textbook chapter 4 "Two I/O paths"). A disk is attached to one of
 * them (hv run --disk-path legacy|virtio).
 *
 * Legacy: the primary ATA/IDE channel of every PC since the IBM AT, at the ports Linux,
 * QEMU's "-M pc" and real chipsets use: command block 0x1F0-0x1F7, control block 0x3F6, IRQ 14.
 *
 * virtio: one virtio-mmio transport (virtio 1.x, register layout version 2). A guest cannot
 * probe for MMIO devices, so hv tells it where the device is on the boot command line, in the
 * form Linux's virtio_mmio driver parses: "virtio_mmio.device=<size>@<base>:<irq>", here
 * "virtio_mmio.device=512@0xd0001000:5". The IRQ number is an ISA/IOAPIC pin.
 */
#define HV_PORT_ATA_CMD    0x1F0u /* 8 ports: data, error/features, count, LBA 0-23, drive, status/command */
#define HV_PORT_ATA_CTL    0x3F6u /* 1 port: alternate status / device control */
#define HV_IRQ_ATA         14u
#define HV_MMIO_VIRTIO_BLK (HV_MMIO_BASE + 0x1000u)
#define HV_VIRTIO_MMIO_LEN 0x200u /* registers 0x000-0x0FF, device config 0x100-0x1FF */
#define HV_IRQ_VIRTIO_BLK  5u

/*
 * Interrupts (textbook chapter 4, section "Interrupts and polling"). hv emulates the PC's two
 * cascaded 8259A interrupt controllers in user space and injects the vector the guest
 * programmed with KVM_INTERRUPT; no in-kernel irqchip is created, so HLT still exits to hv.
 * Lines: 4 = COM1, 5 = virtio-blk, 14 = ATA (primary channel), 2 = the cascade (slave PIC).
 */
#define HV_PORT_PIC_MASTER 0x20u  /* command 0x20, data (mask) 0x21 */
#define HV_PORT_PIC_SLAVE  0xA0u  /* command 0xA0, data (mask) 0xA1 */
#define HV_PORT_ELCR       0x4D0u /* edge/level control: 0x4D0 (IRQ 0-7), 0x4D1 (IRQ 8-15) */
#define HV_PORT_ACPI_PM1   0x600u /* ACPI PM1 event (0x600) and control (0x604) registers, named by
				     the FADT hv writes for Linux (hv/acpi.c, hv/dev/acpipm.c) */
#define HV_IRQ_UART0       4u

/* The 8254 timer (chapter 5 "A guest OS", section "The timer"): counters at 0x40-0x42, the
 * control word at 0x43; counter 0 drives IRQ 0, the PC's clock tick. */
#define HV_PORT_PIT        0x40u
#define HV_IRQ_PIT         0u

/*
 * The rest of the PC that Linux asks for (chapter 11 "Booting Linux", section "The PC pieces
 * Linux asks for"): port 0x61 (counter 2's gate and output, for TSC calibration), the i8042
 * keyboard controller (data 0x60, status/command 0x64: the reset line), and the CMOS RTC
 * (index 0x70, data 0x71: the time of day).
 */
#define HV_PORT_PORT61     0x61u
#define HV_PORT_I8042_DATA 0x60u
#define HV_PORT_I8042_CMD  0x64u
#define HV_PORT_RTC        0x70u
#define HV_IRQ_KBD         1u  /* the i8042's keyboard port */
#define HV_IRQ_MOUSE       12u /* the i8042's mouse (AUX) port, on the slave PIC */

/* The scratch disk hv creates when --disk-path is given without --disk: an unlinked temporary
 * file of this size (2048 sectors) that vanishes when hv exits. */
#define HV_SCRATCH_DISK_MIB 1u

/* hv run --step: instructions stepped when --step-count is not given, and the most allowed
 * (every one is a VM exit and a trace record: stepping is for short windows). */
#define HV_STEP_DEFAULT    16u
#define HV_STEP_MAX        100000u
/* Where a breakpoint cannot stop the CPU (the lab VM), --step stops it at an `int n` handler
 * with `out %al, $0x80` instead (hv/step.c). 0x80 is the PC's POST-code port, which nothing
 * else uses; hv claims an OUT there only at the address where it planted one. */
#define HV_PORT_STEPTRAP   0x80u

/* hv run --trace-limit: the default cap on a trace file (about 4 million exits). */
#define HV_TRACE_LIMIT_DEFAULT_MIB 1024u
#define HV_SECTOR_SIZE      512u

/*
 * The hvlab boot header: the first 16 bytes of a raw guest binary (.bin) may be
 *
 *   offset 0: EB 0E        "jmp short +14", so executing the file from byte 0 skips the
 *                          header in real, protected and long mode alike (same encoding)
 *   offset 2: 'H' 'V' 'L' 'B'   magic
 *   offset 6: mode          16, 32 or 64: the CPU mode hv starts the guest in
 *   offset 7: version       1
 *   offset 8..15            zero
 *
 * It plays the role the multiboot or Linux setup header plays for real loaders: it tells the
 * loader how to start a file that has no ELF headers. `--mode` overrides it; a .bin without
 * it starts in real mode.
 */
#define HV_BOOTHDR_MAGIC   "HVLB"
#define HV_BOOTHDR_SIZE    16u
#define HV_BOOTHDR_VERSION 1u

/*
 * Exit statuses of `hv run`. Odd values come from the guest (exit device), even ones from hv,
 * so a test can always tell who ended the run.
 *   guest wrote V to port 0xF4  -> ((V << 1) | 1) & 0xFF   (QEMU isa-debug-exit convention)
 */
#define HV_EXIT_OK           0  /* guest halted with interrupts off */
#define HV_EXIT_USAGE        2  /* bad command line or input file: hv printed the fix */
#define HV_EXIT_HOST         4  /* host problem: no /dev/kvm, ioctl failed, out of memory */
#define HV_EXIT_SHUTDOWN     6  /* triple fault: a shutdown VM exit; hv stops the VM */
#define HV_EXIT_FAIL_ENTRY   8  /* VM entry failed: the CPU refused the guest state */
#define HV_EXIT_INTERNAL    10  /* KVM could not handle something (emulation failure, ...) */
#define HV_EXIT_GUEST_ERROR 12  /* guest did something hv stops for (unhandled exit, HLT with IF=1) */
#define HV_EXIT_TIMEOUT     14  /* --timeout expired */
#define HV_EXIT_INTERRUPTED 16  /* Ctrl-C (SIGINT) or SIGTERM: stopped cleanly, trace saved */
#define HV_EXIT_RESET       18  /* the guest reset the machine (reboot): i8042 command 0xFE */

#endif
