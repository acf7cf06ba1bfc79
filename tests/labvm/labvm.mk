# labvm.mk - the lab VM: a small Linux machine in QEMU whose /dev/kvm really works, so that the
# tests of ring-3 code and protected-mode interrupts run on any machine. Included by the
# top-level Makefile (after guest/guest.mk), paths relative to the repository root.
#
#   make labvm            build everything, boot the lab VM, and give an interactive shell in it
#                         on this terminal (cd'ed to a copy of the repository layout; the banner
#                         says what is where). `exit` powers it off; Ctrl-A X ends QEMU.
#   make test-labvm       build everything, boot the lab VM, run the tests in it, power it off,
#                         and exit with the tests' status (one LABVM-RESULT line says the counts)
#   ... SAN=1             the same with the AddressSanitizer + UBSan build (build/san/)
#   make test-labvm LABVM_FILTER='disk/legacy_interrupt*'
#                         only the tests matching a Criterion --filter glob (suite/test)
#
# Why it exists. The build machines and CI run on a para-virtualized KVM (PVM: module
# kvm_pvm, no vmx/svm flag in /proc/cpuinfo). Its guests cannot run ring-3 code, nor take
# interrupts through an IDT in protected mode, so those tests are skipped there. Students'
# PCs have VT-x or AMD-V, where they work. The lab VM gives every machine an AMD-V:
#
#   host (PVM KVM, or any Linux with QEMU)
#    └ QEMU, TCG (pure software emulation), -cpu qemu64,+svm,+npt: an AMD CPU with SVM and
#      nested paging, played by QEMU instruction by instruction
#       └ Debian's cloud kernel (linux-image-cloud-amd64) with kvm_amd loaded: its /dev/kvm is a
#         real AMD-V KVM, running its guests through the emulated SVM (VMRUN, #VMEXIT, NPT)
#          └ hv, the hvlab VMM, from build/ (or build/san/)
#             └ the guest (build/guest/*): rings, IDT, PIC interrupts as on real hardware
#
# What is built (nothing is installed on the host):
#   build/labvm/kernel/   vmlinuz + kvm modules from the Debian archive (tests/labvm/fetch.sh:
#                         apt-get download + dpkg -x, once; rm -rf build/labvm to fetch anew)
#   build/labvm/busybox   Debian's busybox-static, the VM's whole userland (downloaded the same
#                         way rather than installed: no root needed, the host's busybox untouched)
#   $(O)/labvm/initramfs.cpio   the VM's root file system (tests/labvm/mkinitramfs.sh): init,
#                         busybox, the modules, $(O)/hv, build/guest/, $(LABVM_PROGRAMS) and
#                         their shared libraries. Rebuilt only when one of those changes.
# Then tests/labvm/run.sh boots it (about 2.3 s to the tests under TCG; 2.8 s for boot + power
# off) and tests/labvm/init, the VM's process 1, mounts /proc /sys /dev, loads irqbypass kvm
# kvm_amd (plus brd: a RAM disk for /tmp, and virtio_rng: entropy from the host), and runs the
# tests in /hvlab (the repository layout) exactly as `make integration` does on the host.
#
# Variables:
#   LABVM_FILTER    Criterion --filter glob for the tests in the VM (default $(LABVM_TESTS), from
#                   the Makefile: the ring-3 and interrupt tests; '*/*' runs everything)
#   LABVM_PROGRAMS  the test programs carried into the VM (default $(O)/tests/integration)
#   LABVM_CMD       the command run in the VM, from /hvlab (default: the integration tests
#                   with $(CRITERION_FLAGS) and LABVM_FILTER; no double quotes in it)
#   LABVM_TIMEOUT   seconds before a test run is stopped (600); LABVM_MEM MiB of RAM (1024)
#
# Textbook: chapter 5 "A guest OS", section "The lab VM: hardware virtualization in software".

LABVM_DIR      := build/labvm
LABVM_KERNEL   := $(LABVM_DIR)/kernel/vmlinuz
LABVM_BUSYBOX  := $(LABVM_DIR)/busybox
LABVM_INITRD   := $(O)/labvm/initramfs.cpio
LABVM_PROGRAMS ?= $(O)/tests/integration
LABVM_FILTER   ?= $(LABVM_TESTS)
LABVM_CMD      ?= HV=$(O)/hv GUESTDIR=build/guest $(O)/tests/integration $(CRITERION_FLAGS) --filter='$(LABVM_FILTER)'
# What `labvm-test` runs in the shell (written into the initramfs, so without a filter: a
# change of LABVM_FILTER must not rebuild it).
LABVM_DEFAULT_CMD := HV=$(O)/hv GUESTDIR=build/guest $(O)/tests/integration $(CRITERION_FLAGS)
# Every guest guest.mk builds, plus any other file already in build/guest/.
LABVM_GUESTS   := $(sort $(foreach n,$(GUEST_NAMES),$(GUEST_OUT)/$(n).elf $(GUEST_OUT)/$(n).bin) \
                         $(filter-out $(GUEST_OBJ),$(wildcard $(GUEST_OUT)/*)))

export LABVM_TIMEOUT LABVM_MEM

.PHONY: labvm test-labvm labvm-initramfs labvm-need-tty labvm-FORCE

# Downloaded once; grouped target (&:): one run of fetch.sh makes both files. A changed
# fetch.sh runs again, but downloads again only if its module list changed.
$(LABVM_KERNEL) $(LABVM_BUSYBOX) &: tests/labvm/fetch.sh
	@sh tests/labvm/fetch.sh $(LABVM_DIR)

# The program list and the default command are inputs too: this file changes only when they
# do (make then compares its time with the archive's, as for any other input).
$(O)/labvm/inputs: labvm-FORCE
	@mkdir -p $(dir $@)
	@echo '$(LABVM_PROGRAMS) | $(LABVM_DEFAULT_CMD)' >$@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

$(LABVM_INITRD): tests/labvm/init tests/labvm/mkinitramfs.sh $(O)/labvm/inputs \
		$(LABVM_KERNEL) $(LABVM_BUSYBOX) $(O)/hv $(LABVM_GUESTS) $(LABVM_PROGRAMS)
	@sh tests/labvm/mkinitramfs.sh $@ $(O) $(LABVM_DIR) "$(LABVM_DEFAULT_CMD)" $(O)/hv $(LABVM_PROGRAMS)

labvm-initramfs: $(LABVM_INITRD)

test-labvm: guests $(LABVM_INITRD)
	@bash tests/labvm/run.sh test $(LABVM_INITRD) "$(LABVM_CMD)"

# The terminal is checked first, before minutes of building for nothing (run.sh checks again).
labvm: labvm-need-tty guests $(LABVM_INITRD)
	@bash tests/labvm/run.sh shell $(LABVM_INITRD)

labvm-need-tty:
	@[ -t 0 ] || { echo "labvm: make labvm needs a terminal (standard input is not one); for a run without one: make test-labvm" >&2; exit 2; }
