#!/bin/sh
# kvm-on-host.sh - show that KVM is part of the host's kernel, and every request hv makes to it.
#
#   textbook/tools/kvm-on-host.sh [GUEST]     (make kvm-on-host; GUEST defaults to build/guest/hello32.bin)
#
# Concept: "the kernel is the hypervisor". KVM is not a program: it is a kernel module (kvm,
# plus kvm_intel, kvm_amd or kvm_pvm for the CPU's virtualization extension). It shows itself
# to user space as one character device, /dev/kvm. A VMM such as hv or QEMU is an ordinary
# process that opens that device and asks the kernel for a VM, memory, a vCPU, and then "run
# the guest" again and again, all with ioctl() system calls. This script prints, in order:
#   1. the KVM modules the running kernel has loaded (/sys/module/kvm*);
#   2. /dev/kvm: a character device, major 10 (misc), minor 232;
#   3. the ioctl() calls of one `hv run GUEST`, caught by strace, one line per kind of call
#      in the order of first use, with the file descriptor's role (kvm = /dev/kvm, vm = the
#      VM's fd from KVM_CREATE_VM, vcpu = from KVM_CREATE_VCPU, stats = KVM_GET_STATS_FD's fd)
#      and how many times it was made. KVM_RUN is the "enter the guest" call: one per exit.
# Textbook: chapter 9 "Hypervisors, then and now", section "The kernel is the hypervisor: KVM".
# Needs strace (make deps installs it). Run as a user who may open /dev/kvm.
set -eu
HV=${HV:-build/hv}
GUEST=${1:-build/guest/hello32.bin}
command -v strace >/dev/null || {
	echo "kvm-on-host: strace not found (make deps installs it)" >&2
	exit 2
}
[ -e /dev/kvm ] || {
	echo "kvm-on-host: /dev/kvm does not exist: no KVM in this kernel (textbook chapter 0)" >&2
	exit 2
}

echo "== 1. KVM in the running kernel: modules under /sys/module =="
for m in /sys/module/kvm*; do
	[ -d "$m" ] && echo "  ${m##*/}"
done
echo "== 2. the device file a VMM opens =="
echo "  /dev/kvm: $(stat -c '%F, major %Hr minor %Lr' /dev/kvm)"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== 3. the KVM ioctls of: hv run $GUEST =="
# A sanitizer build of hv (make SAN=1) cannot check for leaks under ptrace: LeakSanitizer
# stops with a fatal error. The leak check is off for this one traced run only.
ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
	strace -f -qq -e trace=openat,ioctl -e signal=none -o "$log" "$HV" run --quiet "$GUEST" >/dev/null
# Each strace line: PID syscall(args) = result. Track which fd is which, then count each
# (role, request) pair in the order it first appears.
awk '
/openat\(.*"\/dev\/kvm"/ { fd[$NF] = "kvm"; next }
/ioctl\(/ {
	sub(/^[0-9]+ +/, "")
	f = $0; sub(/^ioctl\(/, "", f); sub(/,.*/, "", f)
	# A call another thread interrupts is printed as "ioctl(5, KVM_RUN <unfinished ...>":
	# the request name ends at a space, a comma or the closing parenthesis.
	req = $0; sub(/^ioctl\([0-9]+, /, "", req); sub(/[ ,)].*/, "", req)
	if (req !~ /^KVM_/) next
	role = (f in fd) ? fd[f] : "fd" f
	if (req == "KVM_CREATE_VM") fd[$NF] = "vm"
	if (req == "KVM_CREATE_VCPU") fd[$NF] = "vcpu"
	if (req == "KVM_GET_STATS_FD") fd[$NF] = "stats"
	key = role " " req
	if (!(key in n)) order[++k] = key
	n[key]++
}
END { for (i = 1; i <= k; i++) { split(order[i], p, " "); printf "  %-5s %-28s x%d\n", p[1], p[2], n[order[i]] } }
' "$log"
