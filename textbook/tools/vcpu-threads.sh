#!/bin/sh
# vcpu-threads.sh - a running VM, seen from the host: one process, and its vCPU is a thread.
#
#   textbook/tools/vcpu-threads.sh          (make vcpu-threads)
#
# Concept: a vCPU is not a CPU. It is a host thread that calls ioctl(KVM_RUN) in a loop, and the
# host's scheduler runs it on whichever physical CPU it likes, like any other thread. So the
# host's tools work on it: ps -L lists it, taskset pins it to a CPU. hv names its vCPU thread
# "hv-vcpu0" (hv/vm.c); QEMU's are "CPU 0/KVM", "CPU 1/KVM", ...
# The script starts hv with the exits guest busy for a long time (2 billion exits, stopped
# after 30 s at most), then:
#   1. ps -L: the threads of the hv process (TID, the CPU each last ran on (PSR), the name);
#   2. taskset -cp: the vCPU thread's allowed CPUs, then pins it to CPU 0 and shows it again;
#   3. stops hv with SIGINT, as Ctrl-C does (hv stops the guest cleanly, status 16).
# Textbook: chapter 10 "VMs, containers and the JVM", section "vCPUs are host threads".
set -eu
HV=${HV:-build/hv}
"$HV" run --quiet --timeout 30 --cmdline loops=200000000 build/guest/exits.bin &
pid=$!
# The vCPU thread is named right after it starts; wait for it (at most 5 s).
i=0
while ! ps -L -o comm= -p "$pid" | grep -q hv-vcpu0; do
	i=$((i + 1))
	if [ "$i" -gt 50 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "vcpu-threads: no hv-vcpu0 thread appeared in hv (pid $pid)" >&2
		kill -INT "$pid" 2>/dev/null || true
		exit 1
	fi
	sleep 0.1
done
echo "== 1. ps -L -p $pid: the threads of one hv process =="
ps -L -o pid,tid,psr,comm -p "$pid"
tid=$(ps -L -o tid=,comm= -p "$pid" | awk '$2 == "hv-vcpu0" { print $1 }')
echo "== 2. the vCPU thread $tid: where it may run, then pinned to CPU 0 =="
taskset -cp "$tid"
taskset -cp 0 "$tid" >/dev/null
taskset -cp "$tid"
sleep 0.2
ps -L -o tid,psr,comm -p "$pid" | awk -v t="$tid" 'NR == 1 || $1 == t'
echo "== 3. stop the VM (SIGINT, like Ctrl-C) =="
kill -INT "$pid"
status=0
wait "$pid" || status=$?
echo "hv exited with status $status"
