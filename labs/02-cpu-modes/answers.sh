#!/usr/bin/env bash
# answers.sh - lab 2: check the numeric answers in answers.md against a trace of your own hv.
#
#   bash labs/02-cpu-modes/answers.sh      (from anywhere; builds nothing: run `make` first)
#
# Prints `q1 OK` or `q1 FAIL reason`; exits 1 if any answer is wrong. The number is read from the
# first line of answers.md that starts with `q1:`. O (default build) is the build directory.
set -u
LAB=labs/02-cpu-modes
. "$(dirname "$0")/../answers-lib.sh"

# q1: the exits modeswitch caused in long mode, from the "by CPU mode" table of hv trace stats.
want=
if "$O/hv" run --quiet --timeout 30 --trace "$TMP/q1.hvt" "$GUESTS/modeswitch.bin" >/dev/null 2>"$TMP/q1.err"; then
	want=$("$O/hv" trace stats "$TMP/q1.hvt" 2>/dev/null | awk '$1 == "long" && $2 ~ /^[0-9]+$/ { print $2; exit }')
fi
check q1 "$want"

answers_done
