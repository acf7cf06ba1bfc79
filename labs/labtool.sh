#!/bin/sh
# labtool.sh - the labs' regions: make a student copy of the repository, check a lab's markers.
#
#   labs/labtool.sh starter N OUT   write a buildable student copy for lab N to OUT (a new git
#                                   repository, one commit): lab N's regions replaced by their
#                                   stubs, every other lab's marker comments removed (their
#                                   reference code kept), every labs/*/hidden/ left out, and
#                                   labs/LAB holding N
#   labs/labtool.sh check N         check lab N: its markers (balanced BEGIN/STUB/END, no
#                                   nesting, a TODO(lab N) line in each stub, 10-100 reference
#                                   lines), its tests file, and that every test it names exists
#                                   ($O/tests/unit --list, $O/tests/integration --list: build
#                                   them first). One line per problem; exit 1 if any.
#   labs/labtool.sh files N         the files that hold lab N's regions (what a student hands in)
#   labs/labtool.sh dir N           lab N's directory (labs/NN-name)
#
# Works on the git repository of the current directory (`git ls-files`: build/ and untracked
# files are never copied). POSIX sh and awk only. The conventions (markers, tests file) are in
# labs/README.md; the course side in textbook chapter 7 "For instructors".
set -u

die() {
	echo "labtool: $*" >&2
	exit 2
}
usage() {
	die "usage: labtool.sh starter N OUT | check N | files N | dir N"
}

SELF=$(cd "$(dirname "$0")" && pwd -P)/$(basename "$0")
ROOT=$(git rev-parse --show-toplevel 2>/dev/null) || die "not inside a git repository"
cd "$ROOT" || exit 2
O=${O:-build}

lab_number() { # N: one digit 1..9
	case $1 in
	[1-9]) ;;
	*) die "the lab number is 1..9 (got '$1')" ;;
	esac
}

# labs/0N-name (or labs/N-name): exactly one directory.
lab_dir() {
	d=""
	for x in labs/0"$1"-*/ labs/"$1"-*/; do
		[ -d "$x" ] || continue
		[ -z "$d" ] || die "two directories for lab $1: $d and ${x%/}"
		d=${x%/}
	done
	[ -n "$d" ] || die "no directory labs/0$1-name for lab $1"
	echo "$d"
}

# The repository's files: tracked (and, for check, new ones not yet added), minus deleted ones.
repo_files() {
	git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
		[ -f "$f" ] && printf '%s\n' "$f"
	done
}

# The source files (C and assembly, outside labs/) that hold a marker of lab N ("" = any lab).
# Markdown is never read: the textbook shows markers as examples.
marker_files() {
	# Anchored as the starter's awk reads them (a marker alone at the start of its line), so a
	# file that merely mentions a marker in a string (the grader's own tests) is not a hand-in.
	pat="^[[:space:]]*(/\\* )?LAB ${1:-[0-9]} (BEGIN|STUB|END)"
	repo_files | grep -v '^labs/' | grep -E '\.(c|h|S)$' | while IFS= read -r f; do
		if grep -Eq "$pat" "$f" 2>/dev/null; then printf '%s\n' "$f"; fi
	done
}

# The awk program that rewrites one file for lab N's starter: lab N's regions become their
# stubs; other labs' BEGIN lines and STUB...END blocks disappear.
STARTER_AWK='
function lab_of(s,   t) { t = s; sub(/^[ \t]*\/\* LAB /, "", t); sub(/ .*/, "", t); return t }
/^[ \t]*\/\* LAB [0-9] BEGIN / { state = (lab_of($0) == n) ? "ref" : "other"; next }
/^[ \t]*\/\* LAB [0-9] STUB[ \t]*$/ { state = (state == "ref") ? "stub" : "otherstub"; next }
/^[ \t]*LAB [0-9] END \*\/[ \t]*$/ { state = ""; next }
state == "ref" || state == "otherstub" { next }
{ print }
'

# answers.md as a form: the text before the first question, each `## qN.` heading, and its
# `qN:` line with the number removed; the reference's explanations are left out.
ANSWERS_FORM_AWK='
NR == 1 { sub(/ \(reference\)/, "") }
/^## / { seen = 1; print ""; print; print ""; print "(your answer)"; next }
!seen { print; next }
/^q[0-9]+:/ { sub(/:.*/, ":"); print ""; print; next }
'

cmd_starter() {
	lab_number "$1"
	out=$2
	dir=$(lab_dir "$1")
	if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
		die "$out exists and is not empty"
	fi
	# A check first: a starter with broken markers would not build.
	O=$O sh "$SELF" check "$1" --markers-only || die "lab $1's markers have problems (above); no starter written"
	mkdir -p "$out" || die "cannot create $out"
	out=$(cd "$out" && pwd -P)
	case $out in
	"$ROOT" | "$ROOT"/*) die "OUT must be outside the repository ($out)" ;;
	esac
	# Tracked files only (git ls-files), without labs/*/hidden/ and deleted files.
	git ls-files | grep -v '^labs/[^/]*/hidden/' | while IFS= read -r f; do
		[ -f "$f" ] || [ -L "$f" ] || continue
		mkdir -p "$out/$(dirname "$f")" && cp -pP "$f" "$out/$f" || exit 1
	done || die "copying the files to $out failed"
	marker_files | while IFS= read -r f; do
		case $f in labs/*/hidden/*) continue ;; esac
		awk -v n="$1" "$STARTER_AWK" "$f" >"$out/$f.tmp" && cat "$out/$f.tmp" >"$out/$f" &&
			rm -f "$out/$f.tmp" || exit 1
	done || die "rewriting the regions failed"
	# The project's answers.md files are the reference answers: a student copy gets each as a
	# form instead (its intro, every question heading and an empty `qN:` line), for every lab.
	for f in "$out"/labs/*/answers.md; do
		[ -f "$f" ] || continue
		awk "$ANSWERS_FORM_AWK" "$f" >"$f.tmp" && mv "$f.tmp" "$f" || die "blanking $f failed"
	done
	echo "$1" >"$out/labs/LAB"
	(
		cd "$out" &&
			git init -q . &&
			git add -A &&
			git -c user.name=hvlab -c user.email=hvlab@localhost -c commit.gpgsign=false \
				commit -q -m "hvlab, lab $1: $(basename "$dir") (starter)"
	) || die "git init/commit in $out failed"
	echo "labtool: lab $1 starter in $out ($(marker_files "$1" | wc -l | tr -d ' ') file(s) with regions to write; hand-in: $(marker_files "$1" | tr '\n' ' ')$dir/answers.md)"
}

# The markers of lab N in every file: prints "file:line: problem" lines.
CHECK_AWK='
function lab_of(s,   t) { t = s; sub(/^[ \t]*(\/\* )?LAB /, "", t); sub(/[^0-9].*/, "", t); return t }
function problem(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg; bad++ }
FNR == 1 {
	if (state != "") printf "%s: lab %s region \"%s\" (line %d) has no END\n", prev, rlab, rname, rline
	state = ""; prev = FILENAME
}
/LAB [0-9]+ (BEGIN|STUB|END)/ {
	if ($0 ~ /^[ \t]*\/\* LAB [0-9] BEGIN [A-Za-z0-9_.-]+: [^ ].* \*\/[ \t]*$/) kind = "BEGIN"
	else if ($0 ~ /^[ \t]*\/\* LAB [0-9] STUB[ \t]*$/) kind = "STUB"
	else if ($0 ~ /^[ \t]*LAB [0-9] END \*\/[ \t]*$/) kind = "END"
	else {
		if (lab_of($0) == n || $0 ~ /BEGIN|STUB/ && state != "")
			problem("not a marker line of the form \"/* LAB N BEGIN name: summary */\", \"/* LAB N STUB\" or \"LAB N END */\" (alone on its line)")
		next
	}
	l = lab_of($0)
	if (kind == "BEGIN") {
		if (state != "") { problem("LAB " l " BEGIN inside lab " rlab " region \"" rname "\" (line " rline "): regions do not nest"); next }
		t = $0; sub(/^[ \t]*\/\* LAB [0-9] BEGIN /, "", t); sub(/:.*/, "", t)
		state = "ref"; rlab = l; rname = t; rline = FNR; nref = 0; todo = 0
		if (l == n) {
			if (t in seen) problem("region name \"" t "\" is used twice in lab " n " (also " seen[t] ")")
			seen[t] = FILENAME ":" FNR; regions++
		}
	} else if (kind == "STUB") {
		if (state != "ref" || l != rlab) { problem("LAB " l " STUB without its LAB " l " BEGIN"); state = ""; next }
		state = "stub"
		if (l == n && (nref < 10 || nref > 100)) problem("lab " n " region \"" rname "\" has " nref " reference lines (a region is 10-100)")
	} else {
		if (state != "stub" || l != rlab) { problem("LAB " l " END without its LAB " l " STUB"); state = ""; next }
		if (l == n && !todo) problem("the stub of lab " n " region \"" rname "\" has no \"TODO(lab " n "):\" line")
		state = ""
	}
	next
}
state == "ref" { nref++ }
state == "stub" {
	if (index($0, "*/")) problem("a stub may not contain \"*/\" (it ends the comment)")
	if (index($0, "TODO(lab " rlab "):")) todo = 1
}
END {
	if (state != "") printf "%s: lab %s region \"%s\" (line %d) has no END\n", prev, rlab, rname, rline
	if (bad_only == "" && regions == 0) print "lab " n ": no regions (no \"/* LAB " n " BEGIN name: summary */\" line in any source file)"
}
'

# The tests of a Criterion binary as suite/test lines (from its --list).
criterion_list() {
	"$1" --list 2>/dev/null | awk '
		/^[^ │├└].*: [0-9]+ tests?$/ { suite = $0; sub(/: [0-9]+ tests?$/, "", suite); next }
		/── / { t = $0; sub(/^.*── /, "", t); print suite "/" t }'
}

cmd_check() {
	lab_number "$1"
	n=$1
	dir=$(lab_dir "$n")
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/labtool.XXXXXX") || exit 2
	trap 'rm -rf "$tmp"' EXIT
	files=$(marker_files)
	# shellcheck disable=SC2086
	[ -n "$files" ] && awk -v n="$n" "$CHECK_AWK" $files >>"$tmp/problems"
	[ -n "$files" ] || echo "lab $n: no regions (no \"/* LAB $n BEGIN name: summary */\" line in any source file)" >>"$tmp/problems"
	if [ "${2:-}" != --markers-only ]; then
		[ -f "$dir/README.md" ] || echo "$dir/README.md: missing (the handout)" >>"$tmp/problems"
		if [ ! -f "$dir/tests" ]; then
			echo "$dir/tests: missing (the test list)" >>"$tmp/problems"
		else
			for b in unit integration; do
				if [ -x "$O/tests/$b" ]; then
					criterion_list "$O/tests/$b" >"$tmp/$b.list"
				else
					echo "$O/tests/$b: not built, so the tests cannot be checked (make $O/tests/$b)" >>"$tmp/problems"
					: >"$tmp/$b.list"
					touch "$tmp/$b.missing"
				fi
			done
			awk -v n="$n" -v dir="$dir" -v tmp="$tmp" '
				function problem(msg) { printf "%s/tests:%d: %s\n", dir, FNR, msg }
				FILENAME != ARGV[ARGC - 1] { known[FILENAME, $0] = 1; next }
				{ sub(/#.*/, "") }
				NF == 0 { next }
				{
					if (NF < 4 || NF > 6) { problem("want 4 to 6 fields: points visibility kind name [always] [timeout=S], got " NF); next }
					if ($1 !~ /^[0-9]+$/ || $1 == 0) problem("points \"" $1 "\" is not a positive whole number")
					if ($2 != "visible" && $2 != "hidden") problem("visibility \"" $2 "\" is not visible or hidden")
					for (i = 5; i <= NF; i++)
						if ($i != "always" && $i !~ /^timeout=[0-9]+$/)
							problem("after the name only \"always\" and \"timeout=S\" may follow, not \"" $i "\"")
					if ($4 in names) problem("test " $4 " is listed twice")
					names[$4] = 1; ntests++
					if ($3 == "unit" || $3 == "integration") {
						if ($4 !~ /^[A-Za-z0-9_]+\/[A-Za-z0-9_]+$/) { problem("\"" $4 "\" is not suite/test"); next }
						suite = $4; sub(/\/.*/, "", suite)
						if ($2 == "hidden" && suite != "hidden" n) problem("hidden test " $4 " is not in suite hidden" n " (labs/*/hidden/*.c, left out of the student copy)")
						if ($2 == "visible" && suite ~ /^hidden[0-9]+$/) problem("visible test " $4 " is in a hidden suite, which the student copy does not have")
						f = tmp "/" $3 ".list"
						if (!((f, $4) in known) && system("test -e " tmp "/" $3 ".missing") != 0)
							problem("no " $3 " test " $4 " (not in $O/tests/" $3 " --list)")
					} else if ($3 == "answer") {
						if ($4 !~ /^q[0-9]+(:.*)?$/) problem("answer test \"" $4 "\" is not qN:name")
						if (system("test -f " dir "/answers.sh") != 0) problem("answer test " $4 " but no " dir "/answers.sh to check it")
					} else problem("kind \"" $3 "\" is not unit, integration or answer")
				}
				END { if (!ntests) problem("no tests") }
			' "$tmp/unit.list" "$tmp/integration.list" "$dir/tests" >>"$tmp/problems"
		fi
	fi
	if [ -s "$tmp/problems" ]; then
		cat "$tmp/problems"
		exit 1
	fi
	[ "${2:-}" = --markers-only ] || echo "labtool: lab $n ($dir): markers and tests OK"
	exit 0
}

case ${1:-} in
starter)
	[ $# -eq 3 ] || usage
	cmd_starter "$2" "$3"
	;;
check)
	[ $# -ge 2 ] || usage
	cmd_check "$2" "${3:-}"
	;;
files)
	[ $# -eq 2 ] || usage
	lab_number "$2"
	marker_files "$2"
	;;
dir)
	[ $# -eq 2 ] || usage
	lab_number "$2"
	lab_dir "$2"
	;;
*) usage ;;
esac
