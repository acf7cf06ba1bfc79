#!/usr/bin/env bash
# answers.sh - check lab 5's numeric answers against a trace of your own hv.
#
#   labs/05-legacy-disk/answers.sh [ANSWERS]      (ANSWERS: default labs/05-legacy-disk/answers.md)
#
# The script runs your build/hv (or $O/hv) on build/guest/diskio.bin through the legacy disk
# with --trace, and counts in `hv trace dump` the exits to the data port 0x1F0 during the first
# WRITE SECTORS (from its OUT of 0x30 to 0x1F7 up to the next command) for q1, and during the
# first READ SECTORS (0x20) for q2. It compares them with the lines `q1: N` and `q2: N` of the
# answers file. One line per question: `qN OK` or `qN FAIL reason`. Exit status 0 when every
# checked answer is right, else 1.
set -u
cd "$(dirname "$0")/../.." || exit 1
ANSWERS=${1:-labs/05-legacy-disk/answers.md}
O=${O:-build}
HV=$O/hv
GUEST=build/guest/diskio.bin

answer() {
	sed -n "s/^[[:space:]]*$1:[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$ANSWERS" 2>/dev/null | head -n 1
}

both_fail() {
	echo "q1 FAIL $1"
	echo "q2 FAIL $1"
	exit 1
}

[ -r "$ANSWERS" ] || both_fail "cannot read $ANSWERS"
{ [ -x "$HV" ] && [ -r "$GUEST" ]; } || both_fail "$HV or $GUEST missing: run make first"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab5-answers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
"$HV" run --quiet --timeout 120 --disk-path legacy --trace "$tmp/l.hvt" "$GUEST" >"$tmp/out" 2>"$tmp/err"
status=$?
if [ $status -ne 0 ] || [ ! -s "$tmp/l.hvt" ]; then
	both_fail "hv run of diskio (legacy) failed (status $status): $(head -c 200 "$tmp/err")"
fi
# "... exit io ... port=0x1f7 size=1 out data=0x30 ...": the command register selects what the
# following data-port exits belong to.
read -r w r < <("$HV" trace dump "$tmp/l.hvt" | awk '
	/ exit io / {
		port = ""; data = ""; out = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^port=/) port = substr($i, 6)
			else if ($i ~ /^data=/) data = substr($i, 6)
			else if ($i == "out") out = 1
		}
		if (port == "0x1f7" && out) {
			cmd = data
			if (cmd == "0x30") writes++
			if (cmd == "0x20") reads++
		} else if (port == "0x1f0") {
			if (cmd == "0x30" && writes == 1) w++
			if (cmd == "0x20" && reads == 1) r++
		}
	}
	END { print w + 0, r + 0 }')

fail=0
check() { # qN measured what
	local given
	given=$(answer "$1")
	if [ -z "$given" ]; then
		echo "$1 FAIL no line '$1: <number>' in $ANSWERS"; fail=1
	elif [ "$given" = "$2" ]; then
		echo "$1 OK"
	else
		echo "$1 FAIL you wrote $given; your hv's trace has $2 $3"; fail=1
	fi
}
check q1 "$w" "data-port exits in the first WRITE SECTORS"
check q2 "$r" "data-port exits in the first READ SECTORS"
exit $fail
