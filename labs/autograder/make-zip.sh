#!/usr/bin/env bash
# make-zip.sh - the Gradescope autograder for one lab: `make lab-autograder LAB=N`.
#
#   labs/autograder/make-zip.sh N ZIP [STARTER]
#
# The zip is what Gradescope unpacks into /autograder/source: lab N's student copy (labtool.sh
# starter; STARTER = one made already, else a fresh one), with lab N's hidden tests put back
# (labs/NN-name/hidden/), setup.sh and run_autograder at its root, and labs/HANDIN: the files a
# submission provides (the files that hold lab N's regions, and labs/NN-name/answers.md).
# Everything else of a submission is ignored, so a student cannot change the tests, the
# Makefile or the grader. Textbook chapter 7 "For instructors", section "Grading on Gradescope".
set -euo pipefail

N=${1:?usage: make-zip.sh N ZIP [STARTER]}
ZIP=${2:?usage: make-zip.sh N ZIP [STARTER]}
STARTER=${3:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$ROOT"
command -v zip >/dev/null || { echo "make-zip: zip is not installed (make deps installs it)" >&2; exit 2; }
DIR=$(sh labs/labtool.sh dir "$N")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/autograder.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
if [ -z "$STARTER" ]; then
	STARTER=$TMP/starter
	sh labs/labtool.sh starter "$N" "$STARTER" >/dev/null
fi
SRC=$TMP/zip
mkdir -p "$SRC"
# The student copy's own files (not its build/, not its .git).
(cd "$STARTER" && git ls-files -z | tar --null -T - -cf -) | tar -C "$SRC" -xf -
if [ -d "$DIR/hidden" ]; then
	mkdir -p "$SRC/$DIR/hidden"
	cp -p "$DIR"/hidden/* "$SRC/$DIR/hidden/"
fi
{ sh labs/labtool.sh files "$N"; echo "$DIR/answers.md"; } >"$SRC/labs/HANDIN"
cp labs/autograder/setup.sh labs/autograder/run_autograder "$SRC/"
chmod 755 "$SRC/setup.sh" "$SRC/run_autograder"
mkdir -p "$(dirname "$ZIP")"
ZIP=$(cd "$(dirname "$ZIP")" && pwd -P)/$(basename "$ZIP")
rm -f "$ZIP"
(cd "$SRC" && zip -q -r -X "$ZIP" .)
echo "make-zip: $ZIP ($(du -k "$ZIP" | cut -f1) KiB): lab $N, hand-in $(tr '\n' ' ' <"$SRC/labs/HANDIN")"
