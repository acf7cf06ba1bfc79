#!/usr/bin/env bash
# run-tests.sh - `make test`: every test, each where it can run, and one line that sums them.
#
#   tests/run-tests.sh O        O is the build tree: build, or build/san for SAN=1
#
# Run by `make test` after the build, from the repository root; its last row is the labs'
# tools on every lab (labs/test-labs.sh, make test-labs). The unit tests, hvviz's golden
# and tmux tests, the QEMU tests and hv's command-line checks run on this host: they need no
# KVM. The tests that run guests need KVM, and where they run depends on what the host's KVM
# can do (tests/labvm/onkvm.sh decides, from `hv doctor --class`):
#
#   host class   on this host                        in the lab VM (tests/labvm/)
#   full         everything                          nothing
#   pvm          everything but $RING3_TESTS         $RING3_TESTS (ring 3, IDT interrupts)
#   none         the tests that need no KVM          every test in $KVM_TESTS
#
# Each test is run exactly once, somewhere, so every host runs the same number of tests: none
# is skipped for lack of KVM. A test that needs KVM but is not in those lists fails on a
# host without it (HVTEST_STRICT, tests/integration/harness.c), so a new suite cannot be
# skipped silently: put it in KVM_TESTS (Makefile).
#
# The last line counts everything, host and lab VM together: `N passed, N failed, N skipped`,
# after the list of skipped tests with their reasons. Exit status 0 only when nothing failed.
# Textbook: chapter 0 "Your host", section "What runs where".
set -uo pipefail

O=${1:?usage: tests/run-tests.sh O}
# From the Makefile (Criterion --filter globs, suite/test): KVM_TESTS, every suite whose tests
# start a guest; RING3_TESTS, those that need ring 3 or IDT interrupts (VT-x/AMD-V); INTEG_ENV,
# the programs under test.
: "${KVM_TESTS:?run this through make test}" "${RING3_TESTS:?}" "${INTEG_ENV:?}"
# The same flags as `make unit` / `make integration`: -j1 keeps KVM tests from competing for
# the two cores of a CI machine; --verbose=0 names each test and every skip reason.
FLAGS=(-j1 --verbose=0)

START=$(date +%s)
LOGDIR=$(mktemp -d /tmp/hvtests.XXXXXX)
trap 'rm -rf "$LOGDIR"' EXIT
declare -a NAMES=() PASSED=() FAILED=() SKIPPED=() STATUS=()
failed_runs=0

# Reads one run's log: Criterion's last "Synthesis:" line and its [SKIP] lines (a test that a
# --filter left out prints "Test is disabled": not a skip). Appends one row to the tables.
count() { # name log status
	local syn t p f c s
	syn=$(sed -n 's/.*Synthesis: Tested: \([0-9]*\) | Passing: \([0-9]*\) | Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2 \3 \4/p' "$2" | tail -n 1)
	s=$(grep '^\[SKIP\] ' "$2" | grep -cv ': Test is disabled$')
	if [ -z "$syn" ]; then
		# No summary: the runner itself died (or the lab VM did). Count it as one failure.
		echo "run-tests: $1 ended without Criterion's summary (status $3): counted as a failure"
		syn="1 0 1 0"
	fi
	read -r t p f c <<<"$syn"
	NAMES+=("$1")
	PASSED+=("$p")
	FAILED+=($((f + c)))
	SKIPPED+=("$s")
	STATUS+=("$3")
	[ "$3" = 0 ] || failed_runs=$((failed_runs + 1))
	grep '^\[SKIP\] ' "$2" | grep -v ': Test is disabled$' | sed "s/^\[SKIP\] /  ($1) /" >>"$LOGDIR/skips"
}

# One Criterion run on this host: its output streams, and is kept for count().
on_host() { # name filter program...
	local name=$1 filter=$2 log="$LOGDIR/$(echo "$1" | tr -c 'a-z0-9\n' _).log"
	shift 2
	echo "== $name =="
	env HVTEST_STRICT=1 "$@" "${FLAGS[@]}" ${filter:+"--filter=$filter"} 2>&1 | tee "$log"
	count "$name" "$log" "${PIPESTATUS[0]}"
}

# The same in the lab VM (tests/labvm/run.sh test: its whole console streams here).
in_labvm() { # name filter
	local name=$1 log="$LOGDIR/labvm.log"
	echo "== $name: $WHY, so these run in the lab VM (QEMU TCG with AMD-V) =="
	make --no-print-directory -s labvm-initramfs || { count "$name" /dev/null 125; return; }
	bash tests/labvm/run.sh test build/labvm/initramfs.cpio \
		"$INTEG_ENV HVTEST_STRICT=1 $O/tests/integration ${FLAGS[*]} --filter='$2'" 2>&1 | tee "$log"
	count "$name" "$log" "${PIPESTATUS[0]}"
}

kvm=$(O=$O tests/labvm/onkvm.sh --where kvm) || exit 2
ring3=$(O=$O tests/labvm/onkvm.sh --where ring3) || exit 2
if [ "$kvm" = labvm ]; then
	host_filter="!($KVM_TESTS)" vm_filter=$KVM_TESTS
	WHY="this host has no usable KVM ('$O/hv doctor' says why)"
elif [ "$ring3" = labvm ]; then
	host_filter="!($RING3_TESTS)" vm_filter=$RING3_TESTS
	WHY="this host's KVM cannot run ring 3 or IDT interrupts (PVM)"
else
	host_filter='' vm_filter=''
fi
echo "== host class: $("$O/hv" doctor --class); KVM tests run on: $kvm; ring-3 tests run on: $ring3 =="

on_host "unit tests (host)" '' "$O/tests/unit"
on_host "integration tests (host)" "$host_filter" env $INTEG_ENV "$O/tests/integration"
[ -n "$vm_filter" ] && in_labvm "integration tests (lab VM)" "$vm_filter"

# The labs' tools on every lab (labs/test-labs.sh: checks, starters, grading, the autograder):
# one row, its checks counted like tests.
echo "== labs: make test-labs =="
O=$O bash labs/test-labs.sh 2>&1 | tee "$LOGDIR/labs.log"
labs_status=${PIPESTATUS[0]}
labs_counts=$(sed -n 's/^test-labs: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$LOGDIR/labs.log" | tail -n 1)
read -r lp lf ls <<<"${labs_counts:-0 1 0}"
NAMES+=("labs (make test-labs)") PASSED+=("$lp") FAILED+=("$lf") SKIPPED+=("$ls") STATUS+=("$labs_status")
[ "$labs_status" = 0 ] || failed_runs=$((failed_runs + 1))

echo
echo "== summary: every test ran once, here or in the lab VM =="
total_p=0 total_f=0 total_s=0
for i in "${!NAMES[@]}"; do
	printf '  %-30s %5d passed, %d failed, %d skipped\n' "${NAMES[$i]}" "${PASSED[$i]}" "${FAILED[$i]}" "${SKIPPED[$i]}"
	total_p=$((total_p + PASSED[i])) total_f=$((total_f + FAILED[i])) total_s=$((total_s + SKIPPED[i]))
done
if [ -s "$LOGDIR/skips" ]; then
	echo "  skipped, with their reasons:"
	cat "$LOGDIR/skips"
fi
# A runner that exited non-zero with every test passing (a crash after the summary, a lab VM
# that failed to power off cleanly) still fails the run.
[ "$failed_runs" -gt 0 ] && [ "$total_f" = 0 ] && total_f=$failed_runs
echo "  time: $(($(date +%s) - START)) s for the tests (the build not counted)"
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" = 0 ]
