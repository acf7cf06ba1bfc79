#!/usr/bin/env bash
# run.sh - boot the hvlab lab VM in QEMU and run one command in it, the tests, or a shell.
#
#   tests/labvm/run.sh run   INITRD CMD     run CMD in the VM, from the repository; only CMD's
#                                           output is shown, and the exit status is CMD's
#   tests/labvm/run.sh test  INITRD CMD     the same for a test program, showing everything the
#                                           VM prints and one LABVM-RESULT line with the counts
#   tests/labvm/run.sh shell INITRD         an interactive shell in the VM on this terminal
#   tests/labvm/run.sh shell INITRD CMD     CMD instead of the shell, on this terminal (make linux)
#
# Usually started by `make labvm-run CMD=...`, `make labvm`, `make test`, `make demo` and
# `make bench` (tests/labvm/labvm.mk, tests/labvm/onkvm.sh). Run it from the repository root.
#
# Why a VM inside the machine: many hosts have no KVM that can do hvlab's work: no /dev/kvm at
# all (a laptop VM without nested virtualization, a container, a CI runner), or a
# para-virtualized KVM (PVM) on which a guest can neither run ring-3 code nor take interrupts
# through an IDT. So this script builds the machine the work needs out of software:
#
#   host (no KVM, PVM, or anything with QEMU)
#    └ QEMU with TCG: every instruction emulated, on a made-up AMD CPU that has SVM (AMD-V)
#       └ Debian's kernel with kvm_amd: /dev/kvm is a real AMD-V KVM (nested: QEMU plays
#         the SVM hardware, including nested paging)
#          └ the host's own programs (shared over 9p), hv among them -> the guest, with rings
#            and interrupts as on a student's PC
#
# The host's files reach the VM through two 9p shares served by QEMU itself (-virtfs): the host's
# root read-only (its programs and libraries: bash, tmux, qemu, the sanitizer runtimes) and the
# repository read-write at the same path, so what a command writes (a trace, a disk image, a
# log) is on the host when it ends. 9p needs no daemon and no privilege, so it works for a
# student without root and in a container (virtiofs needs virtiofsd; see fetch.sh).
#
# Environment (all optional):
#   LABVM_KERNEL        the kernel (build/labvm/kernel/vmlinuz, from tests/labvm/fetch.sh)
#   LABVM_MEM           the VM's memory in MiB (1024: enough for AddressSanitizer builds)
#   LABVM_TIMEOUT       seconds before a run is ended with status 124 (600)
#   LABVM_BOOT_TIMEOUT  seconds for the kernel to reach the VM's init (60): a kernel or QEMU
#                       that does not boot is reported in one line instead of hanging
#   LABVM_ACCEL         QEMU's -accel (tcg)
#   LABVM_APPEND        more kernel command-line words (e.g. "loglevel=7" to see every message)
#   LABVM_GDB_PORT      forward this TCP port from the host's 127.0.0.1 to the VM's 127.0.0.1,
#                       for a gdb on the host and `hv run --gdb 127.0.0.1:PORT` in the VM
#                       (tests/labvm/gdb.sh, `make gdb`; below, "The gdb port")
#
# Exit status: the command's (run, test); 124 when LABVM_TIMEOUT ran out; 125 when the VM
# itself failed (did not boot, could not load KVM or mount the host's files); 2 for bad usage.
# Textbook: chapter 0 "Your host", section "The lab VM"; chapter 5 "A guest OS", section "The
# lab VM: hardware virtualization in software".
set -u

QEMU=qemu-system-x86_64
MODE=${1:-}
INITRD=${2:-}
CMD=${3:-}
KERNEL=${LABVM_KERNEL:-build/labvm/kernel/vmlinuz}
MEM=${LABVM_MEM:-1024}
TIMEOUT=${LABVM_TIMEOUT:-600}
BOOT_TIMEOUT=${LABVM_BOOT_TIMEOUT:-60}
ACCEL=${LABVM_ACCEL:-tcg}
REPO=$(pwd -P)

die() { # status message
	echo "labvm: $2" >&2
	exit "$1"
}

case $MODE in
run | test) [ -n "$CMD" ] || die 2 "usage: $0 $MODE INITRD CMD (CMD is missing)" ;;
shell) ;;
*) die 2 "usage: $0 run|test|shell INITRD [CMD]" ;;
esac
command -v $QEMU >/dev/null ||
	die 2 "$QEMU not found (install Debian package qemu-system-x86: make deps)"
for f in "$KERNEL" "$INITRD"; do
	[ -f "$f" ] || die 2 "$f is missing (build it with: make labvm-initramfs)"
done
# QEMU's -kernel boots a bzImage (signature "HdrS" at offset 0x202) or an ELF vmlinux (with a
# PVH note); anything else it misreads and reports as "linux kernel too old to load a ram disk".
case $(od -An -tx1 -j 514 -N 4 "$KERNEL" 2>/dev/null | tr -d ' \n'):$(od -An -tx1 -N 4 "$KERNEL" | tr -d ' \n') in
48647253:* | *:7f454c46) ;;
*) die 125 "$KERNEL is not a Linux kernel image (no bzImage header, not ELF): point LABVM_KERNEL at a bzImage, or unset it for build/labvm/kernel/vmlinuz (make labvm-initramfs)" ;;
esac
[ -f tests/labvm/run.sh ] || die 2 "run this from the repository root (no tests/labvm/run.sh here)"
# QEMU's option syntax splits at commas, and the kernel command line at spaces.
case $REPO in
*,* | *" "* | *\"*) die 2 "the repository's path '$REPO' has a comma, space or quote, which the lab VM cannot pass on: clone it to a plain path" ;;
esac
case $TIMEOUT$BOOT_TIMEOUT in
*[!0-9]*) die 2 "LABVM_TIMEOUT and LABVM_BOOT_TIMEOUT are whole seconds (got '$TIMEOUT', '$BOOT_TIMEOUT')" ;;
esac

# -cpu qemu64,+svm,+npt: QEMU's generic 64-bit CPU is an AMD one (vendor AuthenticAMD); +svm
#   gives it AMD-V, +npt nested paging, which kvm_amd then uses for its guests' memory.
# -smp 1: TCG runs one host thread per vCPU; hv and its guest need one.
# -nodefaults: no VGA, network card or CD-ROM to emulate and probe: a faster boot.
# virtio-rng-pci: randomness from the host, so that nothing in the VM waits for entropy.
# -virtfs: the two 9p shares. security_model=none: files are read and written as the user who
#   runs QEMU, with no attributes of their own; multidevs=remap keeps inode numbers of different
#   host file systems (/, /proc, ...) apart.
# -no-reboot + panic=-1: a kernel panic ends QEMU at once instead of waiting for the timeout.
# quiet: only kernel warnings and errors on the console, so the output stays readable.
ARGS=(-accel "$ACCEL" -cpu qemu64,+svm,+npt -m "$MEM" -smp 1 -nodefaults -no-reboot
	-device virtio-rng-pci
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$REPO,mount_tag=hvlab,security_model=none,multidevs=remap"
	-kernel "$KERNEL" -initrd "$INITRD")
APPEND="console=ttyS0 quiet panic=-1 hvlab.labvm=$MODE hvlab.repo=$REPO ${LABVM_APPEND:-}"

# The gdb port. gdb on the host must reach `hv run --gdb` in the VM. The VM has no network card
# (-nodefaults), and the Debian kernel has every NIC driver as a module that the initramfs does
# not carry. What it does have built in is the PC's serial port driver, and QEMU can plug a
# second serial port into a TCP socket on the host. So: QEMU listens on the host's
# 127.0.0.1:PORT (server=on, wait=off: the VM boots without waiting for gdb) and gives what
# arrives there to the VM's second serial port, /dev/ttyS1; the VM's init (tests/labvm/init,
# gdb_relay) joins /dev/ttyS1 to 127.0.0.1:PORT inside the VM, where hv listens, with busybox
# nc. A serial line carries any byte, gdb's Ctrl-C (0x03) included, once init sets it raw. The
# extra serial port comes after the console's, so that the console stays ttyS0.
GDBARGS=()
if [ -n "${LABVM_GDB_PORT:-}" ]; then
	case $LABVM_GDB_PORT in
	*[!0-9]* | "") die 2 "LABVM_GDB_PORT is a TCP port number (got '$LABVM_GDB_PORT')" ;;
	esac
	GDBARGS=(-chardev "socket,id=gdb,host=127.0.0.1,port=$LABVM_GDB_PORT,server=on,wait=off"
		-serial chardev:gdb)
	APPEND="$APPEND hvlab.gdbport=$LABVM_GDB_PORT"
fi

if [ "$MODE" = shell ]; then
	[ -t 0 ] || die 2 "make labvm needs a terminal (standard input is not one); for one command without one: make labvm-run CMD='...'"
	size=$(stty size 2>/dev/null)
	[ -n "$size" ] && APPEND="$APPEND hvlab.rows=${size% *} hvlab.cols=${size#* }"
	# With a CMD, init gives the console to CMD instead of a shell (make linux). loglevel=3
	# keeps the lab VM kernel's own error lines (its firmware has no ACPI tables; its KVM
	# reports MSRs a guest writes that it does not model) out of that program's console.
	[ -z "$CMD" ] || APPEND="$APPEND loglevel=3 hvlab.cmd64=$(printf '%s' "$CMD" | base64 -w 0)"
	echo "labvm: booting $(cat "${KERNEL%/*}/version" 2>/dev/null || echo the lab VM) in QEMU TCG (about 4 s); Ctrl-A X ends QEMU"
	# One character device for the console and QEMU's monitor (Ctrl-A C switches); signal=off:
	# Ctrl-C goes to the program in the VM instead of ending QEMU.
	exec $QEMU "${ARGS[@]}" -display none -chardev stdio,id=con,mux=on,signal=off \
		-serial chardev:con -mon chardev=con,mode=readline "${GDBARGS[@]}" -append "$APPEND"
fi

# ---- run and test modes ----
# The command travels on the kernel command line in base64, so that any quote or character in
# it arrives intact (init decodes it); the kernel keeps 2048 bytes of command line in all.
CMD64=$(printf '%s' "$CMD" | base64 -w 0)
[ ${#CMD64} -le 1500 ] || die 2 "the command is too long for the kernel command line (${#CMD} characters; put it in a script and run that)"
APPEND="$APPEND hvlab.cmd64=$CMD64"
LOG=$(mktemp -t labvm.XXXXXX)
FLAG=$LOG.noboot
# QEMU's own messages (an option it refuses, "terminating on signal 15") go to a file of their
# own, not into the console stream: in run mode the output must be the command's only.
QERR=$LOG.qemu
# QEMU runs under timeout, which puts itself in a process group of its own: a signal to this
# script's group (Ctrl-C at the terminal, or tests/labvm/gdb.sh ending a run it started) would
# not reach it, and the VM would run on until LABVM_TIMEOUT. So timeout's pid is kept in
# $LOG.pid while it runs, and whatever ends this script ends QEMU too (timeout passes the
# signal on to it).
stop_qemu() {
	[ -s "$LOG.pid" ] && kill "$(cat "$LOG.pid")" 2>/dev/null
	rm -f "$LOG.pid"
}
trap 'stop_qemu; rm -f "$LOG" "$FLAG" "$QERR"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start=$(date +%s.%N)

# The boot watchdog: QEMU runs in the background of this pipeline, and a second process waits
# for init's first line (LABVM-BOOTED). A kernel that panics ends QEMU by itself (panic=-1);
# one that hangs, or a QEMU that starts and does nothing, is killed after BOOT_TIMEOUT.
watchdog() { # qemu's pid
	local i=0
	while [ $i -lt "$BOOT_TIMEOUT" ]; do
		grep -q '^LABVM-BOOTED' "$LOG" 2>/dev/null && return
		kill -0 "$1" 2>/dev/null || return
		sleep 1
		i=$((i + 1))
	done
	touch "$FLAG"
	kill "$1" 2>/dev/null
}

# What the user sees. test: everything the VM prints. run: only the command's output, between
# init's LABVM-CMD-START and LABVM-EXIT (the kernel's and init's own lines stay in the log and
# are shown only when something goes wrong). sed -u, line by line as the VM prints them: awk
# would do, but Debian's awk (mawk) reads a pipe in large blocks, so a line would appear only
# when the block is full or the VM ends (tests/labvm/gdb.sh waits for a line while it runs).
show() {
	if [ "$MODE" = test ]; then
		cat
	else
		sed -u -n '/^LABVM-CMD-START$/,/^LABVM-EXIT status=/{/^LABVM-CMD-START$/b;/^LABVM-EXIT status=/b;p}'
	fi
}

# Standard input is /dev/null: on a terminal QEMU's stdio would put it in raw mode. The serial
# console ends lines with CR LF; sed drops the CR, line by line (-u: unbuffered, so that every
# line reaches the log, the watchdog and the screen when the VM prints it, not 4 KiB later).
# timeout -k: a QEMU that ignores SIGTERM is killed 5 s later. QEMU's own complaints go to
# a file of their own ($QERR), so they never mix with the command's output.
{
	timeout -k 5 "$TIMEOUT" $QEMU "${ARGS[@]}" -display none -serial stdio "${GDBARGS[@]}" \
		-append "$APPEND" </dev/null 2>"$QERR" &
	qemu=$!
	echo $qemu >"$LOG.pid"
	watchdog $qemu >/dev/null &
	wait $qemu
	echo $? >"$LOG.status"
	rm -f "$LOG.pid"
} | sed -u 's/\r$//' | tee "$LOG" | show
qemu_status=$(cat "$LOG.status" 2>/dev/null || echo 1)
rm -f "$LOG.status"
# In test mode everything is shown: QEMU's complaints too (its "terminating on signal" is said
# better by the lines below).
[ "$MODE" = test ] && grep -v 'terminating on signal' "$QERR" >&2
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# Says in one line why the VM did not get to run the command: what went wrong, then the line of
# output that tells why: QEMU's own complaint (a refused option), else the kernel's panic (the
# lines after it are a stack trace), else init's last word (a set-up step that failed), else the
# console's last line. The whole console, QEMU's messages after it, is kept for the details.
boot_failed() { # what
	local why
	why=$(grep -v -e 'terminating on signal' -e '^$' "$QERR" | head -n 1)
	[ -n "$why" ] || why=$(grep -m 1 'Kernel panic - not syncing' "$LOG" | sed 's/^\[[ 0-9.]*\] //')
	[ -n "$why" ] || why=$(grep '^labvm: ' "$LOG" | tail -n 1 | sed 's/^labvm: //')
	[ -n "$why" ] || why=$(grep -v '^$' "$LOG" | tail -n 1)
	cat "$QERR" >>"$LOG"
	trap 'stop_qemu; rm -f "$FLAG" "$QERR"' EXIT
	die 125 "$1${why:+: $why}; the lab VM could not run the command (kernel $KERNEL; its console: $LOG; LABVM_APPEND=loglevel=7 shows every kernel message)"
}

if [ -e "$FLAG" ]; then
	boot_failed "the kernel did not reach the lab VM's init within $BOOT_TIMEOUT s (LABVM_BOOT_TIMEOUT=seconds to allow more)"
fi
# 124: timeout stopped QEMU with SIGTERM; 137: QEMU ignored that and was killed 5 s later.
[ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ] &&
	die 124 "the lab VM did not finish within $TIMEOUT s and was stopped (LABVM_TIMEOUT=seconds to allow more)"
grep -q '^LABVM-BOOTED' "$LOG" ||
	boot_failed "QEMU or the kernel stopped before the lab VM's init started (QEMU's status $qemu_status)"

if [ "$MODE" = run ]; then
	# A set-up failure ends init before the command starts (status 125, no LABVM-CMD-START); a
	# command that itself exits 125 has started, and its status is passed on like any other.
	grep -q '^LABVM-CMD-START$' "$LOG" || boot_failed "the lab VM could not be set up"
	line=$(grep '^LABVM-EXIT status=' "$LOG" | tail -n 1)
	[ -n "$line" ] || boot_failed "the lab VM ended without the command's status"
	exit "${line#LABVM-EXIT status=}"
fi
line=$(grep '^LABVM-RESULT ' "$LOG" | tail -n 1)
[ -n "$line" ] ||
	die 1 "the lab VM ended without a result line (see the console output above)"
status=$(echo "$line" | sed -n 's/.* status=\([0-9]*\).*/\1/p')
echo "labvm: lab VM done in $took s (boot + command + power off), status ${status:-?}"
exit "${status:-1}"
