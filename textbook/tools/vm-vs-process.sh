#!/bin/sh
# vm-vs-process.sh - start cost and isolation of a plain process, a process in new namespaces
# (what a container is), a JVM and a hv VM, measured side by side on this host.
#
#   textbook/tools/vm-vs-process.sh           (make vm-vs-process)
#   ROWS=host textbook/tools/vm-vs-process.sh only the rows that need no KVM
#   ROWS=vm   textbook/tools/vm-vs-process.sh only the hv row
#
# ROWS lets make test run the host rows on the host and the hv row where KVM is (the lab VM on
# a host without KVM, where a JVM's start-up under TCG would cost minutes and measure nothing).
#
# Concept: three different things are called "virtual". A VM (hv + a guest) gets a machine of
# its own: its own CPU state, memory and kernel. A container is a host process that the host
# kernel shows a smaller world: new namespaces give it its own PID numbers, hostname, mounts
# and network, but the kernel is the host's. A JVM is a host process that runs bytecode: it
# isolates nothing from the host. Each row runs a probe that prints what the program sees:
#   pid   the PID it has in its own eyes (1 = the first process of a new PID namespace)
#   procs how many processes it can see (in /proc; for the JVM, ProcessHandle.allProcesses)
#   host  the hostname it sees (the namespace row sets its own: hvlab-box)
# The hv row runs build/guest/hello32.bin: the guest has its own machine and no view of the
# host's processes or names at all; its line shows the guest's own output instead.
# Times are the median of RUNS runs (default 5) of start-to-exit, in milliseconds, on this
# host: they are printed to compare, never checked (they depend on the machine and its load).
# Textbook: chapter 10 "VMs, containers and the JVM", section "Start cost and isolation, measured".
set -eu
HV=${HV:-build/hv}
RUNS=${RUNS:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The shell probe forks nothing (set -- and read are built in), so it counts only itself and
# the processes that already existed.
PROBE='set -- /proc/[0-9]*; read h </proc/sys/kernel/hostname; echo "$$ $# $h"'

# median_ms CMD...: run CMD RUNS times, print the median start-to-exit time in ms; its last
# output is kept in $TMP/out. A failing CMD stops the script (set -e) with its message.
median_ms() {
	i=0
	: >"$TMP/times"
	while [ "$i" -lt "$RUNS" ]; do
		t0=$(date +%s%N)
		"$@" >"$TMP/out"
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000)) >>"$TMP/times"
		i=$((i + 1))
	done
	sort -n "$TMP/times" | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] / 1000 }'
}

row() { # what, ms, own kernel, then the probe's "pid procs host"
	printf '%-30s %9s  %-10s %-8s %-7s %s\n' "$1" "$2" "$3" "$4" "$5" "$6"
}

# New PID, mount (for a /proc of its own), UTS (hostname), network and IPC namespaces. As
# root directly; otherwise in a new user namespace where the user is root (if allowed).
ns() {
	if [ "$(id -u)" = 0 ]; then
		unshare --pid --fork --mount-proc --uts --net --ipc sh -c "hostname hvlab-box; $PROBE"
	else
		unshare --user --map-root-user --pid --fork --mount-proc --uts --net --ipc \
			sh -c "hostname hvlab-box; $PROBE"
	fi
}

ROWS=${ROWS:-all}
case $ROWS in
host | vm | all) ;;
*) echo "vm-vs-process: ROWS='$ROWS' is not host, vm or all" >&2; exit 2 ;;
esac

host_rows() {
	ms=$(median_ms sh -c "$PROBE")
	set -- $(cat "$TMP/out")
	row "plain process (sh)" "$ms" "no" "$1" "$2" "$3"
	ms=$(median_ms ns)
	set -- $(cat "$TMP/out")
	row "new namespaces (unshare)" "$ms" "no" "$1" "$2" "$3"
	if command -v java >/dev/null && command -v javac >/dev/null; then
		javac -d "$TMP" textbook/tools/Probe.java
		ms=$(median_ms java -Xshare:auto -cp "$TMP" Probe)
		set -- $(cat "$TMP/out")
		row "JVM (java Probe)" "$ms" "no" "$1" "$2" "$3"
	else
		row "JVM (java Probe)" "-" "no" "-" "-" "not installed here: no java/javac on PATH"
	fi
}

vm_row() {
	ms=$(median_ms "$HV" run --quiet build/guest/hello32.bin)
	row "hv VM (hello32 guest)" "$ms" "yes" "-" "-" "guest printed: $(cat "$TMP/out")"
}

echo "== start cost and isolation (median of $RUNS runs; times are this host's, not checked) =="
row "what" "start ms" "own kernel" "pid" "procs" "host"
[ "$ROWS" = vm ] || host_rows
[ "$ROWS" = host ] || vm_row
echo "== the host, for comparison =="
set -- /proc/[0-9]*
echo "this shell: pid $$, $# processes, host $(cat /proc/sys/kernel/hostname), kernel $(uname -r)"
