# linux.mk - a Debian Linux kernel as hv's guest (textbook chapter 11 "Booting Linux"). Included
# by the top-level Makefile after tests/labvm/labvm.mk, paths relative to the repository root.
#
#   make linux            an interactive Linux shell on hv: the lab VM's Debian kernel, booted
#                         with `hv run --kernel`, and the initramfs below (busybox, a scratch
#                         ATA disk at /dev/sda); keys reach it through hv's console input
#                         (hv/console_in.c), `exit` halts it. Linux needs interrupts through
#                         its IDT, so this runs where ring-3 work runs (tests/labvm/onkvm.sh):
#                         on a PVM host or one without KVM, hv runs in the lab VM with this
#                         terminal as its console (tests/labvm/run.sh shell INITRD CMD).
#   make linux-initramfs  build/linux/initramfs.cpio (tests/linux/mkinitramfs.sh)
#
# The kernel and the guest's modules come with the lab VM's (tests/labvm/fetch.sh): the same
# Debian package, downloaded once.

LINUX_KERNEL  := $(LABVM_KERNEL)
LINUX_INITRD  := build/linux/initramfs.cpio
LINUX_CMDLINE ?= console=ttyS0 quiet

.PHONY: linux linux-initramfs

$(LINUX_INITRD): tests/linux/init tests/linux/mkinitramfs.sh $(wildcard tests/linux/scripts/*.sh) \
		$(LABVM_KERNEL) $(LABVM_BUSYBOX)
	@sh tests/linux/mkinitramfs.sh $@ $(LABVM_DIR)

linux-initramfs: $(LINUX_INITRD)

# Suite linux (tests/integration/test_linux.c) boots it.
integration: $(LINUX_INITRD)

LINUX_RUN = $(O)/hv run --mem 256 --disk-path legacy --kernel $(LINUX_KERNEL) \
	--initrd $(LINUX_INITRD) --cmdline '$(LINUX_CMDLINE)'

linux: all $(LINUX_INITRD)
	@if [ "$$(O=$(O) sh tests/labvm/onkvm.sh --where ring3)" = host ]; then \
	  $(LINUX_RUN); \
	else \
	  [ -t 0 ] || { echo "linux: make linux needs a terminal (standard input is not one)" >&2; exit 2; }; \
	  echo "== linux: this host's KVM cannot deliver Linux's interrupts: running hv in the lab VM ==";\
	  $(MAKE) --no-print-directory $(LABVM_INITRD) && \
	  bash tests/labvm/run.sh shell $(LABVM_INITRD) "$(LINUX_RUN)"; \
	fi
