#!/usr/bin/env bash
# run.sh - boot the hvlab lab VM in QEMU: run the tests in it, or give a shell in it.
#
#   tests/labvm/run.sh test  INITRD [CMD]   run CMD (default: the initramfs's /labvm/cmd) in the
#                                           VM, stream its console here, exit with its status
#   tests/labvm/run.sh shell INITRD         an interactive shell in the VM on this terminal
#
# Usually started by `make test-labvm` / `make labvm` (tests/labvm/labvm.mk).
#
# Why a VM inside the machine: the build machines and CI run on a para-virtualized KVM (PVM)
# on which a guest can neither run ring-3 code nor take interrupts through an IDT in protected
# mode. So this script builds the machine the tests need out of software:
#
#   host (PVM KVM, no VT-x/AMD-V flag)
#    └ QEMU with TCG: every instruction emulated, on a made-up AMD CPU that has SVM (AMD-V)
#       └ Debian's cloud kernel with kvm_amd: /dev/kvm is a real AMD-V KVM (nested: QEMU plays
#         the SVM hardware, including nested paging)
#          └ hv (the hvlab VMM) -> the guest, with rings and interrupts as on a student's PC
#
# Environment (all optional):
#   LABVM_KERNEL   the kernel (build/labvm/kernel/vmlinuz, from tests/labvm/fetch.sh)
#   LABVM_MEM      the VM's memory in MiB (1024: enough for AddressSanitizer builds)
#   LABVM_TIMEOUT  seconds before a test run is ended (600)
#   LABVM_ACCEL    QEMU's -accel (tcg)
#   LABVM_APPEND   more kernel command-line words (e.g. "loglevel=7" to see every message)
#
# The last line the VM prints in test mode, read here (see tests/labvm/init):
#   LABVM-RESULT status=0 tests=1 passed=1 failed=0 crashed=0 skipped=0 seconds=3
# Textbook: chapter 5 "A guest OS", section "The lab VM: hardware virtualization in software".
set -u

QEMU=qemu-system-x86_64
MODE=${1:-}
INITRD=${2:-}
CMD=${3:-}
KERNEL=${LABVM_KERNEL:-build/labvm/kernel/vmlinuz}
MEM=${LABVM_MEM:-1024}
TIMEOUT=${LABVM_TIMEOUT:-600}
ACCEL=${LABVM_ACCEL:-tcg}

die() { # status message
	echo "labvm: $2" >&2
	exit "$1"
}

case $MODE in
test | shell) ;;
*) die 2 "usage: $0 test|shell INITRD [CMD]" ;;
esac
command -v $QEMU >/dev/null ||
	die 2 "$QEMU not found (install Debian package qemu-system-x86: make deps)"
for f in "$KERNEL" "$INITRD"; do
	[ -f "$f" ] || die 2 "$f is missing (build it with: make $([ "$MODE" = test ] && echo test-labvm || echo labvm))"
done
# The kernel reads the command line with "..." for values with spaces: no " inside one.
case $CMD in
*\"*) die 2 "the test command may not contain a double quote: $CMD" ;;
esac

# -cpu qemu64,+svm,+npt: QEMU's generic 64-bit CPU is an AMD one (vendor AuthenticAMD); +svm
#   gives it AMD-V, +npt nested paging, which kvm_amd then uses for its guests' memory.
# -smp 1: TCG runs one host thread per vCPU; hv and its guest need one.
# -nodefaults: no VGA, network card or CD-ROM to emulate and probe: a faster boot.
# virtio-rng-pci: randomness from the host, so that nothing in the VM waits for entropy.
# -no-reboot + panic=-1: a kernel panic ends QEMU at once instead of waiting for the timeout.
# quiet: only kernel warnings and errors on the console, so the test output stays readable.
ARGS=(-accel "$ACCEL" -cpu qemu64,+svm,+npt -m "$MEM" -smp 1 -nodefaults -no-reboot
	-device virtio-rng-pci -kernel "$KERNEL" -initrd "$INITRD")
APPEND="console=ttyS0 quiet panic=-1 hvlab.labvm=$MODE ${LABVM_APPEND:-}"

if [ "$MODE" = shell ]; then
	[ -t 0 ] || die 2 "make labvm needs a terminal (standard input is not one); for a run without one: make test-labvm"
	size=$(stty size 2>/dev/null)
	[ -n "$size" ] && APPEND="$APPEND hvlab.rows=${size% *} hvlab.cols=${size#* }"
	echo "labvm: booting $(cat "${KERNEL%/*}/version" 2>/dev/null || echo the lab VM) in QEMU TCG (about 3 s); Ctrl-A X ends QEMU"
	# One character device for the console and QEMU's monitor (Ctrl-A C switches); signal=off:
	# Ctrl-C goes to the program in the VM instead of ending QEMU.
	exec $QEMU "${ARGS[@]}" -display none -chardev stdio,id=con,mux=on,signal=off \
		-serial chardev:con -mon chardev=con,mode=readline -append "$APPEND"
fi

# ---- test mode ----
[ -n "$CMD" ] && APPEND="$APPEND hvlab.cmd=\"$CMD\""
LOG=$(mktemp /tmp/labvm.XXXXXX)
trap 'rm -f "$LOG"' EXIT
start=$(date +%s.%N)
# Standard input is /dev/null: on a terminal QEMU's stdio would put it in raw mode. The serial
# console ends lines with CR LF; tr drops the CR. timeout -k: a QEMU that ignores SIGTERM is
# killed 5 s later.
timeout -k 5 "$TIMEOUT" $QEMU "${ARGS[@]}" -display none -serial stdio -append "$APPEND" \
	</dev/null 2>&1 | tr -d '\r' | tee "$LOG"
qemu_status=${PIPESTATUS[0]}
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# 124: timeout stopped QEMU with SIGTERM; 137: QEMU ignored that and was killed 5 s later.
[ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ] &&
	die 124 "the lab VM did not finish within $TIMEOUT s and was stopped (LABVM_TIMEOUT=seconds to allow more)"
line=$(grep '^LABVM-RESULT ' "$LOG" | tail -n 1)
[ -n "$line" ] ||
	die 1 "the lab VM ended without a result line (see the console output above)"
status=$(echo "$line" | sed -n 's/.* status=\([0-9]*\).*/\1/p')
echo "labvm: lab VM done in $took s (boot + tests + power off), status ${status:-?}"
exit "${status:-1}"
