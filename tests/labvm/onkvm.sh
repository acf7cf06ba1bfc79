#!/bin/sh
# onkvm.sh - run a command on this host's KVM when it can do the work, in the lab VM otherwise.
#
#   tests/labvm/onkvm.sh NEED CMD [WHAT]  run CMD (one shell command line) where it can run;
#                                       WHAT names it in the one line (default: CMD itself)
#   tests/labvm/onkvm.sh --where NEED   print where that would be: host or labvm
#
#   NEED  kvm    any KVM work: real-, protected- and long-mode guests in ring 0, exits, traces,
#                disks (a PVM host does this, through KVM's instruction emulator)
#         ring3  ring-3 code and interrupts through a protected-mode IDT (needs VT-x/AMD-V)
#
# This is the one place where hvlab decides where work that needs KVM runs. It asks
# `hv doctor --class` (hv/doctor.c) what the host is:
#   full   VT-x/AMD-V, or a nested KVM that runs ring 3 and IDT interrupts: everything here
#   pvm    a para-virtualized KVM: kvm work here, ring3 work in the lab VM
#   none   no usable /dev/kvm: everything that needs KVM in the lab VM
# and says in one line when it sends the work to the lab VM. `make demo`, `make test` (through
# tests/run-tests.sh) and `make bench` come through here (`make labvm-run` and `make labvm` go
# to the lab VM whatever the host: tests/labvm/labvm.mk).
#
# Environment: O, the build tree (build, or build/san for SAN=1); HVLAB_KVM_DEVICE makes hv (and
# so this script) look for KVM at another path: HVLAB_KVM_DEVICE=/nonexistent plays a host
# without KVM. The lab VM does not inherit it (its /dev/kvm is always AMD-V).
# Textbook: chapter 0 "Your host", section "What runs where".
set -u

O=${O:-build}
usage() {
	echo "usage: $0 kvm|ring3 CMD [WHAT], or $0 --where kvm|ring3" >&2
	exit 2
}

# What the host is: full, pvm or none.
host_class() {
	"$O/hv" doctor --class 2>/dev/null ||
		{ echo "onkvm: $O/hv is missing or broken (build it with: make)" >&2; exit 2; }
}

# host or labvm for one NEED on a host of class $class.
where() {
	case $1:$class in
	kvm:full | kvm:pvm | ring3:full) echo host ;;
	kvm:none | ring3:pvm | ring3:none) echo labvm ;;
	*:full | *:pvm | *:none) usage ;;
	*) echo "onkvm: 'hv doctor --class' said '$class', not full, pvm or none" >&2; exit 2 ;;
	esac
}

[ $# -ge 2 ] && [ $# -le 3 ] || usage
class=$(host_class) || exit 2
if [ "$1" = --where ]; then
	where "$2"
	exit 0
fi
need=$1
cmd=$2
what=${3:-$cmd}
place=$(where "$need") || exit $?
if [ "$place" = host ]; then
	exec sh -c "$cmd"
fi
case $class in
pvm) why="this host's KVM is PVM, which cannot run ring 3 or IDT interrupts" ;;
*) why="this host has no usable KVM ('$O/hv doctor' says why)" ;;
esac
echo "== $why: running $what in the lab VM (QEMU TCG with AMD-V; times there are nested-emulation times) =="
make --no-print-directory -s labvm-initramfs >&2 || exit 125
exec bash tests/labvm/run.sh run build/labvm/initramfs.cpio "$cmd"
