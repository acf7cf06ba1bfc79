#!/usr/bin/env bash
# gdb.sh - `make gdb`: one command from nothing to a gdb prompt on a guest, wherever KVM can run
# it: hv run --gdb on this host, or in the lab VM with its port forwarded to this host.
#
#   tests/labvm/gdb.sh [--labvm] GUEST.elf [GDB-ARGUMENTS...]
#     GUEST.elf       the guest's ELF (build/guest/NAME.elf), for gdb's symbols
#     --labvm         run hv in the lab VM even where this host's KVM could run the guest
#     GDB-ARGUMENTS   passed to gdb after the session's script (e.g. -batch -ex 'break f')
#
# Environment: O (the build tree, build), GDB_PORT (the TCP port, 1234), HV_ARGS (more words for
# hv run, e.g. "--cmdline os.run=hello" or "--trace build/t.hvt"), NEED (kvm or ring3; default
# ring3 for the mini OS, os.elf, and kvm for every other guest: tests/labvm/onkvm.sh).
#
# What it does:
#   1. writes build/gdb/NAME.gdb, the guest's gdb script: `file` (the ELF, for symbols),
#      `set architecture i8086` for a guest that starts in real mode, `target remote`;
#   2. starts hv where tests/labvm/onkvm.sh says the guest can run:
#        host   build/hv run --gdb 127.0.0.1:PORT ... in the background, on this terminal
#        labvm  the same command in the lab VM (tests/labvm/run.sh run, in the background),
#               with LABVM_GDB_PORT=PORT: QEMU listens on this host's 127.0.0.1:PORT and the
#               VM's init relays it to 127.0.0.1:PORT inside (run.sh, "The gdb port")
#   3. waits until gdb can connect (hv's "waiting for gdb" line; in the lab VM, init's "gdb
#      relay" line, printed once hv listens in the VM), then runs gdb with the script in the
#      foreground. gdb's stop requests reach hv; the guest's output appears on the terminal.
#   4. when gdb ends (detach, kill, quit: each ends the stub), waits for hv (or the lab VM) to
#      end and exits with hv's status.
# A real-mode guest (linked at 0x8000 by guest/real16.ld: hello16, irq16, modeswitch) runs from
# its flat NAME.bin, as hv boots it; gdb still reads the ELF's symbols.
# Textbook: chapter 8 "Debugging a guest", section "Debugging on a host without KVM".
set -u

O=${O:-build}
PORT=${GDB_PORT:-1234}
HV_ARGS=${HV_ARGS:-}
die() { # status message
	echo "gdb.sh: $2" >&2
	exit "$1"
}

FORCE_LABVM=
if [ "${1:-}" = --labvm ]; then
	FORCE_LABVM=1
	shift
fi
ELF=${1:-}
[ -n "$ELF" ] || die 2 "usage: make gdb GUEST=build/guest/NAME.elf (or: $0 [--labvm] GUEST.elf [gdb arguments])"
shift
[ -f "$ELF" ] || die 2 "no guest '$ELF' (give an ELF from build/guest/, e.g. GUEST=build/guest/hello64.elf; make builds them)"
case $PORT in
*[!0-9]* | "") die 2 "GDB_PORT is a TCP port number (got '$PORT')" ;;
esac
command -v gdb >/dev/null || die 2 "gdb is not installed (Debian package gdb: make deps)"
[ -x "$O/hv" ] || die 2 "$O/hv is missing (build it with: make)"

NAME=$(basename "$ELF" .elf)
entry=$(readelf -h "$ELF" 2>/dev/null | sed -n 's/.*Entry point address: *//p')
[ -n "$entry" ] || die 2 "'$ELF' is not an ELF file (give build/guest/NAME.elf)"
RUN=$ELF ARCH=
if [ $((entry)) -lt $((0x10000)) ]; then # real16.ld links real-mode guests at 0x8000
	RUN=${ELF%.elf}.bin ARCH="set architecture i8086"
	[ -f "$RUN" ] || die 2 "'$ELF' starts in real mode, so hv boots its flat image '$RUN', which is missing (make builds it)"
fi
NEED=${NEED:-$([ "$NAME" = os ] && echo ring3 || echo kvm)}
WHERE=$(O=$O sh tests/labvm/onkvm.sh --where "$NEED") || exit 2
[ -n "$FORCE_LABVM" ] && WHERE=labvm

# The guest's gdb script, kept for a second gdb later: gdb -x build/gdb/NAME.gdb
mkdir -p build/gdb
SCRIPT=build/gdb/$NAME.gdb
{
	echo "# $SCRIPT - written by tests/labvm/gdb.sh (make gdb) for hv run --gdb 127.0.0.1:$PORT"
	echo "file $ELF"
	[ -n "$ARCH" ] && echo "$ARCH"
	echo "target remote 127.0.0.1:$PORT"
} >"$SCRIPT"

LOG=$(mktemp -t hvgdb.XXXXXX)
server=
# On the way out: hv (or the lab VM) must not outlive this script, or it would hold the port
# and the terminal (a Ctrl-C while the lab VM boots ends this script, not the background job).
# After a normal end it is gone already. No trap on INT itself: a Ctrl-C typed in gdb is gdb's.
cleanup() {
	if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
		if [ "$WHERE" = host ]; then kill "$server"; else kill -- "-$server"; fi 2>/dev/null
	fi
	rm -f "$LOG"
}
trap cleanup EXIT
HVCMD="$O/hv run --gdb 127.0.0.1:$PORT ${HV_ARGS:+$HV_ARGS }$RUN"
if [ "$WHERE" = host ]; then
	echo "gdb.sh: hv runs on this host: $HVCMD"
	READY="waiting for gdb on"
	# hv's messages go to the terminal and to $LOG, where step 3 looks for READY.
	$HVCMD 2> >(tee "$LOG" >&2) &
else
	echo "gdb.sh: hv runs in the lab VM (NEED=$NEED, host class $("$O/hv" doctor --class)); this host's 127.0.0.1:$PORT is forwarded to it: $HVCMD"
	make --no-print-directory -s labvm-initramfs >&2 || exit 125
	READY="labvm: gdb relay: "
	# setsid: run.sh, its timeout and QEMU in a process group of their own, which step 3 can
	# end as a whole if gdb never gets to connect.
	LABVM_GDB_PORT=$PORT setsid bash tests/labvm/run.sh run build/labvm/initramfs.cpio "$HVCMD" \
		> >(tee "$LOG") 2>&1 &
fi
server=$!

# Step 3: until gdb can connect, or hv (or the lab VM) ended first (a busy port, a bad guest).
waited=0
until grep -q "$READY" "$LOG" 2>/dev/null; do
	kill -0 $server 2>/dev/null || { wait $server; die 1 "hv ended before gdb could connect (status $?; its messages are above)"; }
	[ $waited -lt 1800 ] || die 1 "gdb could not connect within 180 s (hv's messages are above)"
	sleep 0.1
	waited=$((waited + 1))
done
echo "gdb.sh: gdb -x $SCRIPT $*"
gdb -q -nx -x "$SCRIPT" "$@"
gdb_status=$?
wait $server
status=$?
echo "gdb.sh: gdb ended (status $gdb_status); hv ended with status $status"
exit $status
