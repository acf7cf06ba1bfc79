#!/usr/bin/env bash
# answers.sh - lab 1: check the numeric answers in answers.md against a trace of your own hv.
#
#   bash labs/01-first-vm/answers.sh      (from anywhere; builds nothing: run `make` first)
#
# Prints `q1 OK` or `q1 FAIL reason`; exits 1 if any answer is wrong. The number is read from the
# first line of answers.md that starts with `q1:`. O (default build) is the build directory.
set -u
LAB=labs/01-first-vm
. "$(dirname "$0")/../answers-lib.sh"

# q1: the io exits of hello16, from the "by reason" table of hv trace stats.
want=
if "$O/hv" run --quiet --timeout 20 --trace "$TMP/q1.hvt" "$GUESTS/hello16.bin" >/dev/null 2>"$TMP/q1.err"; then
	want=$("$O/hv" trace stats "$TMP/q1.hvt" 2>/dev/null | awk '$1 == "io" && $2 ~ /^[0-9]+$/ { print $2; exit }')
fi
check q1 "$want"

answers_done
