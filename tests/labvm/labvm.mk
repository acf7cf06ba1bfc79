# labvm.mk - the lab VM: a small Linux machine in QEMU whose /dev/kvm really works (AMD-V), so
# that everything in hvlab that needs KVM runs on any machine. Included by the top-level
# Makefile (after guest/guest.mk), paths relative to the repository root.
#
#   make labvm            build everything, boot the lab VM, and give an interactive shell in it
#                         on this terminal, in this repository (shared with the host: edit here,
#                         run there). `exit` powers it off; Ctrl-A X ends QEMU.
#   make labvm-run CMD='build/hv run --trace build/t.hvt build/guest/hello16.bin'
#                         build everything, run one command in the lab VM from the repository,
#                         show its output and exit with its status (no terminal needed). What it
#                         writes in the repository is on the host at once.
#   make test-labvm       run the integration tests in it (LABVM_FILTER picks them; default every
#                         test that needs KVM), with one LABVM-RESULT line of counts
#   ... SAN=1             the same with the AddressSanitizer + UBSan build (build/san/)
#
# Who needs it. Any host whose KVM cannot do the work: no /dev/kvm at all (a laptop VM without
# nested virtualization, a container such as Gradescope's, a CI runner), or a para-virtualized
# KVM (PVM: module kvm_pvm, no vmx/svm flag) whose guests cannot run ring-3 code nor take
# interrupts through an IDT. `make demo`, `make test` and `make bench` send their KVM work here
# by themselves (tests/labvm/onkvm.sh decides, from `hv doctor --class`). The lab VM gives
# every machine an AMD-V:
#
#   host (no KVM, PVM, or anything with QEMU)
#    └ QEMU, TCG (pure software emulation), -cpu qemu64,+svm,+npt: an AMD CPU with SVM and
#      nested paging, played by QEMU instruction by instruction
#       └ Debian's kernel (linux-image-amd64) with kvm_amd loaded: its /dev/kvm is a real
#         AMD-V KVM, running its guests through the emulated SVM (VMRUN, #VMEXIT, NPT)
#          └ the host's own programs over 9p: hv from build/ (or build/san/), the tests, tmux...
#             └ the guest (build/guest/*): rings, IDT, PIC interrupts as on real hardware
#
# What is built (nothing is installed on the host):
#   build/labvm/kernel/   vmlinuz + the kvm and 9p modules from the Debian archive
#                         (tests/labvm/fetch.sh: apt-get download + dpkg -x, once; rm -rf
#                         build/labvm to fetch anew)
#   build/labvm/busybox   Debian's busybox-static, the set-up's userland (downloaded the same way)
#   build/labvm/initramfs.cpio   init, busybox and the modules (tests/labvm/mkinitramfs.sh): a few
#                         MiB. hv, the guests and the tests are not in it: the VM mounts the
#                         host's root read-only and this repository read-write over 9p, and runs
#                         the host's own files (tests/labvm/init), so it never goes stale.
# Then tests/labvm/run.sh boots it (about 4 s to the command under TCG) and runs the command.
#
# Variables:
#   CMD             for labvm-run: the command (shell syntax, run from the repository root)
#   LABVM_FILTER    Criterion --filter glob for test-labvm ('*/*' runs every integration test)
#   LABVM_TIMEOUT   seconds before a run is stopped with status 124 (600); LABVM_MEM MiB of RAM
#                   (1024); LABVM_BOOT_TIMEOUT seconds to reach the VM's init (60)
#
# Textbook: chapter 0 "Your host", section "The lab VM"; chapter 5 "A guest OS", section "The
# lab VM: hardware virtualization in software".

LABVM_DIR      := build/labvm
LABVM_KERNEL   := $(LABVM_DIR)/kernel/vmlinuz
LABVM_BUSYBOX  := $(LABVM_DIR)/busybox
LABVM_INITRD   := $(LABVM_DIR)/initramfs.cpio
LABVM_FILTER   ?= $(KVM_TESTS)
LABVM_CMD      ?= $(INTEG_ENV) $(O)/tests/integration $(CRITERION_FLAGS) --filter='$(LABVM_FILTER)'

export LABVM_TIMEOUT LABVM_MEM LABVM_BOOT_TIMEOUT

.PHONY: labvm labvm-run test-labvm labvm-initramfs labvm-need-tty labvm-need-cmd

# Downloaded once; grouped target (&:): one run of fetch.sh makes both files. A changed
# fetch.sh runs again, but downloads again only if its package or module list changed.
$(LABVM_KERNEL) $(LABVM_BUSYBOX) &: tests/labvm/fetch.sh
	@sh tests/labvm/fetch.sh $(LABVM_DIR)

$(LABVM_INITRD): tests/labvm/init tests/labvm/mkinitramfs.sh $(LABVM_KERNEL) $(LABVM_BUSYBOX)
	@sh tests/labvm/mkinitramfs.sh $@ $(LABVM_DIR)

labvm-initramfs: $(LABVM_INITRD)

# Suite labvm (tests/integration/test_labvm.c) boots the lab VM on the host, on every kind of
# host, so the integration tests need it built (make test builds it too).
integration: $(LABVM_INITRD)

test-labvm: all $(O)/tests/integration $(LABVM_INITRD)
	@bash tests/labvm/run.sh test $(LABVM_INITRD) "$(LABVM_CMD)"

# $(value CMD): the command exactly as typed (make would expand a $ in it), handed over in the
# environment so that no shell quoting stands between the user and the VM.
labvm-run: export LABVM_RUN_CMD = $(value CMD)
labvm-run: labvm-need-cmd all $(LABVM_INITRD)
	@bash tests/labvm/run.sh run $(LABVM_INITRD) "$$LABVM_RUN_CMD" || \
	  { s=$$?; echo "labvm-run: the command ended with status $$s (tests/labvm/run.sh run returns it as is; make says 2)" >&2; exit $$s; }

# The terminal and the command are checked first, before minutes of building for nothing.
labvm: labvm-need-tty all $(LABVM_INITRD)
	@bash tests/labvm/run.sh shell $(LABVM_INITRD)

labvm-need-tty:
	@[ -t 0 ] || { echo "labvm: make labvm needs a terminal (standard input is not one); for one command without one: make labvm-run CMD='...'" >&2; exit 2; }

labvm-need-cmd:
	$(if $(strip $(value CMD)),@true,@{ echo "labvm: make labvm-run needs a command: make labvm-run CMD='build/hv run build/guest/hello16.bin'" >&2; exit 2; })
