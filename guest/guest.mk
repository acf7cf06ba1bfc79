# guest/guest.mk - builds the tiny freestanding guests in build/guest/ with the *host* gcc.
#
# Included by the top-level Makefile (paths are relative to the repository root).
#   make guests     build/guest/NAME.elf (with symbols, for gdb) and NAME.bin (flat image
#                   for `hv run`) for NAME in hello16 hello32 hello64 modeswitch exits diskio irq16
#                   os (the mini OS with ring-3 tasks: guest/os/), hypercall (KVM hypercalls)
#
# Concept: no cross compiler is needed to write a kernel-like program. The host gcc can
# emit real-mode (-m16), 32-bit (-m32) and 64-bit (-m64) code; -ffreestanding and -nostdlib
# cut it loose from libc, a linker script places it where the loader puts it, and objcopy
# strips the ELF wrapping off to leave the raw bytes a CPU executes.
# Textbook: chapter 1 "The guests", section "Building a guest without an OS".
#
# Guests do not use the host CFLAGS (SAN=1 must not put sanitizers into a guest), and they
# always go to build/guest/ (the integration tests read GUESTDIR=build/guest).

GUEST_CC      ?= gcc
GUEST_AS      ?= as
GUEST_LD      ?= ld
GUEST_OBJCOPY ?= objcopy

GUEST_OUT := build/guest
GUEST_OBJ := $(GUEST_OUT)/obj
GUEST_NAMES := hello16 hello32 hello64 modeswitch exits diskio irq16 pcparts16 os hypercall

# -ffreestanding       no hosted libc assumptions (main is not special, no builtin printf)
# -fno-pic -fno-pie    absolute addresses: the guest runs exactly where it is linked
# -fno-stack-protector the canary needs TLS (%fs/%gs) that no guest sets up
# -fno-*unwind-tables  no .eh_frame: nobody unwinds, and it would bloat the image
# -fcf-protection=none no ENDBR instructions (some distributions turn CET on by default)
# -mgeneral-regs-only  no SSE/x87: nobody enabled them (CR0/CR4 bits) in the guest
# -Os                  small code; -g keeps debug info in the .elf only
GUEST_CFLAGS := -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none \
	-mgeneral-regs-only -Os -g -nostdlib -Wall -Wextra -Werror -std=c11 \
	-Ihv -Iguest/lib -MMD -MP
# 64-bit: no red zone (a kernel's interrupt would overwrite the 128 bytes below RSP) and
# the small code model (all symbols below 2 GiB).
GUEST_CFLAGS16 := -m16
GUEST_CFLAGS32 := -m32
GUEST_CFLAGS64 := -m64 -mno-red-zone -mcmodel=small

# -z noexecstack, --build-id=none: no stray notes; the image is only code and data.
# --no-warn-rwx-segments: one R/W/X segment is deliberate in a guest this small.
GUEST_LDFLAGS := -nostdlib -static -z noexecstack -z max-page-size=4096 --build-id=none \
	--no-warn-rwx-segments

.PHONY: guests
guests: $(foreach n,$(GUEST_NAMES),$(GUEST_OUT)/$(n).elf $(GUEST_OUT)/$(n).bin)

# ---- objects, one directory per CPU mode (the same uart.c is built in each) ----
$(GUEST_OBJ)/16/%.o: guest/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS16) -c -o $@ $<
$(GUEST_OBJ)/16/%.o: guest/lib/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS16) -c -o $@ $<
$(GUEST_OBJ)/16/%.o: guest/lib/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS16) -c -o $@ $<

$(GUEST_OBJ)/32/%.o: guest/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS32) -c -o $@ $<
$(GUEST_OBJ)/32/%.o: guest/lib/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS32) -c -o $@ $<
$(GUEST_OBJ)/32/%.o: guest/lib/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS32) -c -o $@ $<

$(GUEST_OBJ)/64/%.o: guest/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS64) -c -o $@ $<
$(GUEST_OBJ)/64/%.o: guest/lib/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS64) -c -o $@ $<
$(GUEST_OBJ)/64/%.o: guest/lib/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS64) -c -o $@ $<

# ---- os: kernel and user objects (guest/os/ and guest/os/user/), 32-bit ----
$(GUEST_OBJ)/os/%.o: guest/os/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS32) -Iguest/os -c -o $@ $<
$(GUEST_OBJ)/os/%.o: guest/os/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS32) -Iguest/os -c -o $@ $<

# ---- modeswitch: 16-, 32- and 64-bit code in ONE 64-bit ELF ----
# ld cannot link ELF32 and ELF64 objects together, and converting an ELF32 object with
# objcopy silently breaks its relocations (i386 keeps addends in the code, x86-64 in the
# relocation). So gcc emits assembler text for -m16/-m32, and the 64-bit assembler builds
# ELF64 objects from it: -m16 output starts with ".code16gcc" by itself; the -m32 output
# gets a ".code32" line in front. The renames keep the three copies apart.
# -fno-dwarf2-cfi-asm: gcc writes its debug frame tables itself instead of as .cfi_*
# directives, which the 64-bit assembler would check against 64-bit rules and reject.
GUEST_MS_SFLAGS := -fno-dwarf2-cfi-asm
GUEST_UART_RENAME = -Duart_init=uart_init$(1) -Duart_putc=uart_putc$(1) -Duart_puts=uart_puts$(1)

$(GUEST_OBJ)/ms/uart16.s: guest/lib/uart.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS16) $(GUEST_MS_SFLAGS) $(call GUEST_UART_RENAME,16) -S -o $@ $<
$(GUEST_OBJ)/ms/uart32.s: guest/lib/uart.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS32) $(GUEST_MS_SFLAGS) $(call GUEST_UART_RENAME,32) -S -o $@ $<
$(GUEST_OBJ)/ms/uart16.o: $(GUEST_OBJ)/ms/uart16.s
	$(GUEST_AS) --64 -o $@ $<
$(GUEST_OBJ)/ms/uart32.o: $(GUEST_OBJ)/ms/uart32.s
	printf '\t.code32\n' | cat - $< | $(GUEST_AS) --64 -o $@
$(GUEST_OBJ)/ms/uart64.o: guest/lib/uart.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS64) $(call GUEST_UART_RENAME,64) -c -o $@ $<
$(GUEST_OBJ)/ms/modeswitch.o: guest/modeswitch.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -m64 -c -o $@ $<

# ---- link: which objects, which linker script, which ELF class ----
GUEST_hello16_OBJS    := 16/entry16.o 16/hello16.o 16/uart.o
GUEST_hello16_LD      := -m elf_i386 -T guest/real16.ld
# irq16: two hardware interrupts in real mode, PIC + IVT (textbook ch. 4 "Interrupts and polling")
GUEST_irq16_OBJS      := 16/entry16.o 16/irq16.o 16/uart.o 16/pic.o 16/isr16.o
GUEST_irq16_LD        := -m elf_i386 -T guest/real16.ld
# pcparts16: the CMOS clock, PIT counter 2, console input on IRQ 4, the i8042 reset (ch. 11)
GUEST_pcparts16_OBJS  := 16/entry16.o 16/pcparts16.o 16/uart.o 16/pic.o 16/isr16.o
GUEST_pcparts16_LD    := -m elf_i386 -T guest/real16.ld
GUEST_hello32_OBJS    := 32/entry32.o 32/hello32.o 32/uart.o
GUEST_hello32_LD      := -m elf_i386 -T guest/pvh32.ld
GUEST_exits_OBJS      := 32/entry32.o 32/exits.o 32/cmdline.o
GUEST_exits_LD        := -m elf_i386 -T guest/pvh32.ld
# hypercall: VMCALL/VMMCALL handled inside KVM vs OUT handled by hv (textbook ch. 9)
GUEST_hypercall_OBJS  := 32/entry32.o 32/hypercall.o 32/cmdline.o 32/uart.o
GUEST_hypercall_LD    := -m elf_i386 -T guest/pvh32.ld
# diskio: one workload through the legacy ATA driver or the virtio-blk driver (textbook ch. 4)
GUEST_diskio_OBJS     := 32/entry32.o 32/diskio.o 32/cmdline.o 32/uart.o 32/virtio_blk.o 32/ata.o \
	32/pic.o 32/idt32.o 32/isr32.o
GUEST_diskio_LD       := -m elf_i386 -T guest/pvh32.ld
GUEST_hello64_OBJS    := 64/entry64.o 64/hello64.o 64/uart.o
GUEST_hello64_LD      := -m elf_x86_64 -T guest/long64.ld
GUEST_modeswitch_OBJS := ms/modeswitch.o ms/uart16.o ms/uart32.o ms/uart64.o
GUEST_modeswitch_LD   := -m elf_x86_64 -T guest/real16.ld
# os: the mini OS with ring-3 tasks (textbook ch. 5 "A guest OS"). The kernel reuses the 32-bit
# boot path and drivers from guest/lib; the objects from guest/os/user/ form the user image,
# which os.ld picks out by their path (os/user/) and links to run at 4 MiB.
GUEST_OS_KERNEL := main console gdt paging idt trapasm trap syscall timer disk task pvtrace
GUEST_OS_USER   := ulib hello disk priv fault ticks badcall popf
GUEST_os_OBJS   := 32/entry32.o 32/uart.o 32/cmdline.o 32/pic.o 32/ata.o 32/virtio_blk.o \
	$(GUEST_OS_KERNEL:%=os/%.o) $(GUEST_OS_USER:%=os/user/%.o)
GUEST_os_LD     := -m elf_i386 -T guest/os/os.ld

define GUEST_LINK_RULE
$(GUEST_OUT)/$(1).elf: $(addprefix $(GUEST_OBJ)/,$(GUEST_$(1)_OBJS)) $(lastword $(GUEST_$(1)_LD)) guest/guest.mk
	$$(GUEST_LD) $$(GUEST_LDFLAGS) $(GUEST_$(1)_LD) -o $$@ $(addprefix $(GUEST_OBJ)/,$(GUEST_$(1)_OBJS))
endef
$(foreach n,$(GUEST_NAMES),$(eval $(call GUEST_LINK_RULE,$(n))))

# The flat image: the loaded bytes only, from the first (the boot header) to the last byte
# with contents (.bss has none). It equals the file bytes of the ELF's PT_LOAD segment.
$(GUEST_OUT)/%.bin: $(GUEST_OUT)/%.elf
	$(GUEST_OBJCOPY) -O binary $< $@

-include $(wildcard $(GUEST_OBJ)/*/*.d $(GUEST_OBJ)/os/user/*.d)
