#!/usr/bin/env bash
# answers.sh - lab 3: check the numeric answers in answers.md against a trace of your own hv.
#
#   bash labs/03-exits-and-bus/answers.sh      (from anywhere; builds nothing: run `make` first)
#
# Prints `q1 OK` or `q1 FAIL reason`; exits 1 if any answer is wrong. The number is read from the
# first line of answers.md that starts with `q1:`. O (default build) is the build directory.
set -u
LAB=labs/03-exits-and-bus
. "$(dirname "$0")/../answers-lib.sh"

# q1: the exits guest with loops=7: the exits at MMIO address 0xd0000000, reads and writes, from
# the "by port / address" table of hv trace stats. The guest ends with status 1 (guest/exits.c).
want=
"$O/hv" run --quiet --timeout 30 --trace "$TMP/q1.hvt" --cmdline loops=7 "$GUESTS/exits.bin" >/dev/null 2>"$TMP/q1.err"
if [ $? -eq 1 ]; then
	want=$("$O/hv" trace stats "$TMP/q1.hvt" 2>/dev/null |
		awk '$1 == "mmio" && $2 == "0xd0000000" && $4 ~ /^[0-9]+$/ { n += $4; seen = 1 } END { if (seen) print n }')
fi
check q1 "$want"

answers_done
