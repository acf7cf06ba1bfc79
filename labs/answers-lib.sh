# answers-lib.sh - what every lab's answers.sh shares: find the student's number for a question
# in the lab's answers.md and compare it with the one read from a trace of the student's own hv.
#
# Sourced (not run) by labs/NN-name/answers.sh after it sets LAB (the lab's directory, from the
# repository root). It moves to the repository root and gives the script:
#   O, GUESTS      the build directory (O, default build) and the guests (GUESTDIR, build/guest)
#   TMP            a temporary directory, removed at exit
#   check Q WANT   prints `Q OK` or `Q FAIL reason` (WANT empty: the trace could not be read)
#   answers_done   the exit status: 0 only if every check passed
# labs/grade.sh runs answers.sh and reads those lines (textbook chapter 7, "Grading").
cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
GUESTS=${GUESTDIR:-build/guest}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lab-answers.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0

# The student's number for question $1, or nothing.
answer() { sed -n "s/^$1:[^0-9]*\([0-9][0-9]*\).*/\1/p" "$LAB/answers.md" | head -n 1; }

check() { # check Q WANT-FROM-TRACE
	local q=$1 want=$2 got
	got=$(answer "$q")
	if [ -z "$want" ]; then
		echo "$q FAIL could not read the number from your trace (does hv run the guest?)"
		fails=$((fails + 1))
	elif [ -z "$got" ]; then
		echo "$q FAIL no number on a line '$q: N' in $LAB/answers.md"
		fails=$((fails + 1))
	elif [ "$got" != "$want" ]; then
		echo "$q FAIL answers.md says $got; your trace says otherwise (run the guest with --trace and read 'hv trace stats')"
		fails=$((fails + 1))
	else
		echo "$q OK"
	fi
}

answers_done() { [ "$fails" -eq 0 ]; }
