#!/usr/bin/env bash
# test-labs.sh - `make test-labs` (and the last row of `make test`): the labs' tools on every lab.
#
#   labs/test-labs.sh            from the repository root, after the build (make test-labs)
#
# For every labs/NN-name/:
#   check      labs/labtool.sh check N: markers, tests file, every test exists
#   starter    its student copy (labtool.sh starter) builds with no warning
#   starter-0  the starter scores 0 on every test of the lab that depends on the regions (every
#              unit/integration/answer line of its tests file not marked `always`), visible ones
#   reference  this repository scores full marks (labs/grade.sh --hidden)
#   autograder the zip (make-zip.sh, from the same starter), unpacked into a temporary
#              /autograder (AUTOGRADER_ROOT) with the reference's hand-in files as the submission,
#              writes results.json with full marks and every field Gradescope reads
# One starter build per lab (the autograder reuses it), and each grading run boots the lab VM at
# most once. Ends with `test-labs: N passed, N failed, 0 skipped`; exit 1 if anything failed.
# Textbook chapter 7 "For instructors", section "Checking the labs".
set -uo pipefail
O=${O:-build}
# A student copy and the autograder build as a student would: plain, in build/. Under
# `make test SAN=1` the calling make's settings (SAN=1 in MAKEFLAGS) would reach every make run
# inside them and ask for build/san targets that the copy's commands do not name.
fresh() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SAN "$@"; }
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd -P)
pass=0 fail=0
ok() { echo "test-labs: PASS $*"; pass=$((pass + 1)); }
bad() { echo "test-labs: FAIL $*"; fail=$((fail + 1)); }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/test-labs.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT

# results.json has what Gradescope reads: a number score, tests[] each with name, score,
# max_score, output and visibility. jq, else python3, else awk on the field names.
json_ok() { # file
	if command -v jq >/dev/null; then
		jq -e '(.score | type == "number") and (.tests | type == "array") and
			all(.tests[]; (.name | type == "string") and (.score | type == "number") and
			(.max_score | type == "number") and (.output | type == "string") and
			(.visibility == "visible" or .visibility == "after_published"))' "$1" >/dev/null
	elif command -v python3 >/dev/null; then
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d["score"],(int,float)); assert all(set(t)>={"name","score","max_score","output","visibility"} for t in d["tests"])' "$1"
	else
		awk '/"score":/ { s = 1 } /"tests": \[/ { t = 1 } END { exit !(s && t) }' "$1" &&
			grep -c '"max_score":' "$1" | grep -qv '^0$'
	fi
}
# score and the sum of max_score of a results.json
scores() { # file
	if command -v jq >/dev/null; then jq -r '"\(.score) \([.tests[].max_score] | add // 0)"' "$1"
	else python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["score"], sum(t["max_score"] for t in d["tests"]))' "$1"; fi
}

labs=$(ls -d labs/[0-9][0-9]-*/ 2>/dev/null)
[ -n "$labs" ] || echo "test-labs: no labs (labs/NN-name/) yet"
for d in $labs; do
	d=${d%/}
	n=${d#labs/}
	n=${n%%-*}
	n=${n#0}
	echo "== test-labs: lab $n ($d) =="
	if out=$(O=$O sh labs/labtool.sh check "$n" 2>&1); then ok "lab $n check"; else bad "lab $n check:"; echo "$out" | sed 's/^/    /'; fi

	st=$TMP/starter-$n
	if ! O=$O sh labs/labtool.sh starter "$n" "$st" >"$TMP/starter.log" 2>&1; then
		bad "lab $n starter: labtool.sh starter failed"; sed 's/^/    /' "$TMP/starter.log"; continue
	fi
	# The lab VM's kernel is downloaded once, into the project's build/labvm: the starter gets a copy.
	mkdir -p "$st/build" && cp -a build/labvm "$st/build/" 2>/dev/null
	if (cd "$st" && fresh make --no-print-directory all build/tests/unit build/tests/integration build/bench/exitbench) >"$TMP/build-$n.log" 2>&1 &&
		! grep -q 'warning:' "$TMP/build-$n.log"; then
		ok "lab $n starter builds without warnings"
	else
		bad "lab $n starter does not build cleanly:"; grep -E 'warning:|error:|\*\*\*' "$TMP/build-$n.log" | head -n 20 | sed 's/^/    /'
		continue
	fi

	# The starter: 0 on every test that depends on the regions.
	(cd "$st" && fresh O=build bash labs/grade.sh --json "$TMP/starter-$n.json") >"$TMP/sgrade-$n.log" 2>&1
	if ! json_ok "$TMP/starter-$n.json"; then
		bad "lab $n starter grading wrote no valid results.json"; tail -n 20 "$TMP/sgrade-$n.log" | sed 's/^/    /'
	else
		wrong=$(sed -e 's/#.*//' "$d/tests" | awk '$2 == "visible" && $5 != "always" && NF >= 4 { print $4 }' | while read -r t; do
			grep -q "^$t: OK " "$TMP/sgrade-$n.log" && echo "$t"
		done)
		if [ -z "$wrong" ]; then ok "lab $n starter scores 0 on the tests of its regions"
		else bad "lab $n starter passes tests that should need the student's code (mark them always?): $wrong"; fi
	fi

	# The reference: full marks, hidden tests included.
	if LAB=$n O=$O bash labs/grade.sh --hidden >"$TMP/rgrade-$n.log" 2>&1; then
		ok "lab $n reference: $(tail -n 1 "$TMP/rgrade-$n.log")"
	else
		bad "lab $n reference is not full marks:"; grep -v ': OK (' "$TMP/rgrade-$n.log" | tail -n 30 | sed 's/^/    /'
	fi

	# The autograder, as Gradescope runs it, with the reference's files handed in.
	ag=$TMP/ag-$n
	mkdir -p "$ag/source" "$ag/submission" "$ag/results"
	if ! bash labs/autograder/make-zip.sh "$n" "$TMP/ag-$n.zip" "$st" >"$TMP/zip-$n.log" 2>&1 ||
		! unzip -q "$TMP/ag-$n.zip" -d "$ag/source"; then
		bad "lab $n autograder zip:"; sed 's/^/    /' "$TMP/zip-$n.log"; continue
	fi
	# The starter's build (older than every unpacked source): make rebuilds only what changed.
	cp -a "$st/build" "$ag/source/"
	while IFS= read -r f; do
		[ -f "$f" ] || continue
		mkdir -p "$ag/submission/$(dirname "$f")" && cp "$f" "$ag/submission/$f"
	done <"$ag/source/labs/HANDIN"
	fresh AUTOGRADER_ROOT=$ag bash "$ag/source/run_autograder" >"$TMP/ag-$n.log" 2>&1
	r=$ag/results/results.json
	if [ -f "$r" ] && json_ok "$r"; then
		read -r s m <<<"$(scores "$r")"
		if [ "$s" = "$m" ] && [ "$m" != 0 ]; then ok "lab $n autograder: results.json $s/$m"
		else bad "lab $n autograder: results.json scores $s/$m with the reference handed in:"; tail -n 30 "$TMP/ag-$n.log" | sed 's/^/    /'; fi
	else
		bad "lab $n autograder wrote no valid results.json:"; tail -n 30 "$TMP/ag-$n.log" | sed 's/^/    /'
	fi
	rm -rf "$st" "$ag"
done
echo "test-labs: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
