#!/usr/bin/env bash
# answers.sh - check lab 4's numeric answer against a trace of your own hv.
#
#   labs/04-serial-port/answers.sh [ANSWERS]      (ANSWERS: default labs/04-serial-port/answers.md)
#
# q1: the UART exits (ports 0x3F8-0x3FF) of hello16. The script runs your build/hv (or $O/hv)
# on build/guest/hello16.bin with --trace, counts those exits in `hv trace dump`, and compares
# them with the number on the line `q1: N` of the answers file. One line per question:
# `q1 OK` or `q1 FAIL reason`. Exit status 0 when every checked answer is right, else 1.
set -u
cd "$(dirname "$0")/../.." || exit 1
ANSWERS=${1:-labs/04-serial-port/answers.md}
O=${O:-build}
HV=$O/hv
GUEST=build/guest/hello16.bin

# The number after "q1:" at the start of a line (first one wins); empty if there is none.
answer() {
	sed -n "s/^[[:space:]]*$1:[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$ANSWERS" 2>/dev/null | head -n 1
}

fail=0
given=$(answer q1)
if [ ! -r "$ANSWERS" ]; then
	echo "q1 FAIL cannot read $ANSWERS"; exit 1
elif [ -z "$given" ]; then
	echo "q1 FAIL no line 'q1: <number>' in $ANSWERS"; exit 1
elif [ ! -x "$HV" ] || [ ! -r "$GUEST" ]; then
	echo "q1 FAIL $HV or $GUEST missing: run make first"; exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab4-answers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
"$HV" run --quiet --timeout 20 --trace "$tmp/h16.hvt" "$GUEST" >"$tmp/out" 2>"$tmp/err"
status=$?
if [ $status -ne 0 ] || [ ! -s "$tmp/h16.hvt" ]; then
	echo "q1 FAIL hv run of hello16 failed (status $status): $(head -c 200 "$tmp/err")"; exit 1
fi
measured=$("$HV" trace dump "$tmp/h16.hvt" | grep -c ' exit io .* port=0x3f[89a-f] ')
if [ "$given" = "$measured" ]; then
	echo "q1 OK"
else
	echo "q1 FAIL you wrote $given; your hv's trace of hello16 has $measured UART exits"
	fail=1
fi
exit $fail
