#!/usr/bin/env bash
# grade.sh - build hvlab and run one lab's tests, each with its own limits; print and score them.
#
#   labs/grade.sh [--hidden] [--json FILE] [N]
#   make grade [LAB=N] [TEST=substring]          (labs/labs.mk)
#
# Which lab: N, else $LAB, else the file labs/LAB (a student copy holds it). The tests are the
# lines of labs/NN-name/tests (labs/README.md: points visibility kind name [always] [timeout=S]):
# the visible ones, and with --hidden (the autograder) the hidden ones too. TEST=substring keeps
# the tests whose name holds it.
#
# What it does:
#   1. builds: `make all $O/tests/unit $O/tests/integration`. A failed build scores 0 on every
#      test, and the compiler's errors are the output.
#   2. runs every test as a process of its own, with a time limit (timeout=S on its line, else
#      GRADE_TIMEOUT, 120 s; `timeout -k`: SIGTERM, then SIGKILL 5 s later, to its whole process
#      group) and an output cap (the first 64 KiB are kept; a test that writes more is stopped
#      there and fails: a flood cannot fill the disk). Unit tests run here; integration tests
#      here when this host's KVM can run them, else all of them in ONE boot of the lab VM
#      (tests/labvm/onkvm.sh decides, with the Makefile's KVM_TESTS and RING3_TESTS; answer
#      checks go with them, they read traces hv makes): grade.sh runs itself there (--inner) on
#      the shared repository and reads back the results it wrote under build/grade/.
#   3. prints one line per test, `name: OK (1.2s)` or `name: FAIL (reason)` and the first useful
#      lines of the failure (Criterion's assertion lines), then `Score: X/Y`.
#   Exit status 0 only with full marks (1 below, 2 for bad usage).
#
# --json FILE: Gradescope's results.json (score, execution_time, output, tests[] with name,
# score, max_score, status, output, visibility: "visible", or "after_published" for hidden
# tests). It is valid JSON at every moment: written before the build with every test pending
# ("not graded"), then again after the build and after every test, each time to a temporary
# file renamed over FILE. A grader that is killed leaves the last complete state; SIGTERM or
# SIGINT also stops the running test and records it as stopped.
#
# Who runs what. When grade.sh runs as root (the autograder) and the user GRADE_USER (student)
# exists, everything built from or containing the student's code runs as that user (setpriv):
# the build and every test; grade.sh itself, the lab VM's QEMU and the results stay root's.
# Inside the lab VM the same holds (the VM's root runs grade.sh --inner; the tests run as the
# user). Without root, everything runs as the caller.
#
# Environment:
#   LAB             the lab number (else the file labs/LAB)
#   TEST            run only the tests whose name contains this
#   O               the build tree (build)
#   GRADE_TIMEOUT   default seconds per test (120)
#   GRADE_BUDGET    seconds for the whole run, build included (900): a test not started by
#                   then scores 0 and says so; a test's limit never runs past it
#   GRADE_USER      the unprivileged user for student code when run as root (student)
#   LAB_DIR         the lab's directory (else labs/NN-*): the grader's own tests use a fake lab
#   GRADE_BUILD     the build command (shell), instead of make (the grader's own tests)
#   GRADE_WHERE     host: run every test here, whatever the KVM (the grader's own tests)
#   GRADE_NOTE      a line for the top of results.json's output (run_autograder's notes)
# Tests of kind `cmd` (a script in the lab directory, run with sh; exit 0 passes) exist for the
# grader's own tests (tests/integration/test_grade.c); the labs use unit, integration, answer.
# Textbook: chapter 7 "For instructors", section "Grading".
set -uo pipefail
shopt -s extglob

CAP=65536
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 2
O=${O:-build}
GRADE_TIMEOUT=${GRADE_TIMEOUT:-120}
GRADE_BUDGET=${GRADE_BUDGET:-900}
START=$(date +%s.%N)

die() { # status message
	echo "grade: $2" >&2
	exit "$1"
}
now() { date +%s.%N; }
# Seconds (one decimal) since $1.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

HIDDEN=0 JSON="" INNER=""
while [ $# -gt 0 ]; do
	case $1 in
	--hidden) HIDDEN=1 ;;
	--json) JSON=${2:?--json needs a file}; shift ;;
	--inner) INNER=${2:?}; shift ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	[1-9]) LAB=$1 ;;
	*) die 2 "usage: labs/grade.sh [--hidden] [--json FILE] [N] (unknown argument '$1')" ;;
	esac
	shift
done
case $GRADE_TIMEOUT$GRADE_BUDGET in *[!0-9]*) die 2 "GRADE_TIMEOUT and GRADE_BUDGET are whole seconds" ;; esac

# ---- who runs the student's code ----
RUNAS=()
GRADE_USER=${GRADE_USER-student}
if [ "$(id -u)" = 0 ] && [ -n "$GRADE_USER" ] && id -u "$GRADE_USER" >/dev/null 2>&1; then
	RUNAS=(setpriv --reuid="$GRADE_USER" --regid="$(id -g "$GRADE_USER")" --init-groups
		env HOME="$(getent passwd "$GRADE_USER" | cut -d: -f6)" USER="$GRADE_USER" LOGNAME="$GRADE_USER")
fi

# ---- the tests: the arrays T_* (from the tests file), the results R_* ----
declare -a T_PTS=() T_VIS=() T_KIND=() T_NAME=() T_LIM=() T_WHERE=()
declare -a R_DONE=() R_OK=() R_SEC=() R_WHY=() R_OUT=()

if [ -n "$INNER" ]; then
	# In the lab VM: the list and the limits come from the host (run_in_labvm).
	: "${LAB_DIR:?}" "${INTEG_ENV:?}"
	WORK=$INNER
else
	if [ -z "${LAB_DIR:-}" ]; then
		LAB=${LAB:-$(cat labs/LAB 2>/dev/null)}
		[ -n "$LAB" ] || die 2 "which lab? make grade LAB=N (a student copy names it in labs/LAB)"
		case $LAB in [1-9]) ;; *) die 2 "LAB is a lab number 1..9 (got '$LAB')" ;; esac
		LAB_DIR=$(ls -d labs/0"$LAB"-*/ labs/"$LAB"-*/ 2>/dev/null | head -n 1)
		LAB_DIR=${LAB_DIR%/}
		[ -n "$LAB_DIR" ] || die 2 "no lab $LAB here (no directory labs/0$LAB-name)"
	fi
	[ -f "$LAB_DIR/tests" ] || die 2 "$LAB_DIR/tests is missing"
	while read -r pts vis kind name rest; do
		[ "$HIDDEN" = 1 ] || [ "$vis" = visible ] || continue
		[ -z "${TEST:-}" ] || [[ $name == *"$TEST"* ]] || continue
		lim=$GRADE_TIMEOUT
		for w in $rest; do
			case $w in timeout=*[!0-9]* | timeout=) ;; timeout=*) lim=${w#timeout=} ;; esac
		done
		T_PTS+=("$pts") T_VIS+=("$vis") T_KIND+=("$kind") T_NAME+=("$name") T_LIM+=("$lim") T_WHERE+=(host)
	done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$LAB_DIR/tests")
	[ ${#T_NAME[@]} -gt 0 ] || die 2 "no test of $LAB_DIR/tests${TEST:+ matches TEST=$TEST}"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/grade.XXXXXX") || exit 2
	trap 'rm -rf "$WORK"' EXIT
fi

# ---- results.json ----
# JSON string from a file: valid UTF-8 (iconv drops what is not), control characters escaped.
json_string() { # file [max bytes]
	head -c "${2:-16384}" "$1" | tr -d '\000' | iconv -f UTF-8 -t UTF-8 -c 2>/dev/null |
		LC_ALL=C awk 'BEGIN { for (i = 1; i < 32; i++) ctl[sprintf("%c", i)] = sprintf("\\u%04x", i); printf "\"" }
		{
			if (NR > 1) printf "\\n"
			s = $0; out = ""
			if (s !~ /["\\\001-\037]/) { printf "%s", s; next }
			for (i = 1; i <= length(s); i++) {
				c = substr(s, i, 1)
				if (c == "\\") c = "\\\\"; else if (c == "\"") c = "\\\""; else if (c in ctl) c = ctl[c]
				out = out c
			}
			printf "%s", out
		}
		END { printf "\"" }'
}

# The file a test's JSON output comes from: why, then its useful lines, then its output.
OVERALL=$WORK/overall.txt
: >"$OVERALL"
# GRADE_NOTE (run_autograder: files not handed in) opens the overall output.
[ -z "${GRADE_NOTE:-}" ] || echo "$GRADE_NOTE" >"$OVERALL"
write_json() {
	[ -n "$JSON" ] || return 0
	local i score=0 tmp="$JSON.tmp.$$" f="$WORK/json-field"
	{
		printf '{\n  "score": %s,\n  "execution_time": %s,\n  "output": %s,\n  "tests": [' \
			"$(total_score)" "$(since "$START" | cut -d. -f1)" "$(json_string "$OVERALL")"
		for i in "${!T_NAME[@]}"; do
			[ "$i" -gt 0 ] && printf ','
			if [ "${R_OK[$i]:-0}" = 1 ]; then
				echo "OK (${R_SEC[$i]}s)" >"$f"
			elif [ -n "${R_DONE[$i]:-}" ]; then
				{ echo "FAIL (${R_WHY[$i]})"; [ -s "${R_OUT[$i]:-/dev/null}" ] && { echo; cat "${R_OUT[$i]}"; }; } >"$f"
			else
				echo "not graded: the grader stopped before this test (killed, or out of time)" >"$f"
			fi
			score=0
			[ "${R_OK[$i]:-0}" = 1 ] && score=${T_PTS[$i]}
			printf '\n    {"name": %s, "score": %s, "max_score": %s, "status": "%s", "visibility": "%s", "output": %s}' \
				"$(printf '%s' "${T_NAME[$i]}" >"$f.n"; json_string "$f.n")" "$score" "${T_PTS[$i]}" \
				"$([ "$score" != 0 ] && echo passed || echo failed)" \
				"$([ "${T_VIS[$i]}" = hidden ] && echo after_published || echo visible)" \
				"$(json_string "$f" 12288)"
		done
		printf '\n  ]\n}\n'
	} >"$tmp" && mv -f "$tmp" "$JSON"
}
total_score() {
	local i s=0
	for i in "${!T_NAME[@]}"; do [ "${R_OK[$i]:-0}" = 1 ] && s=$((s + T_PTS[i])); done
	echo "$s"
}
max_score() {
	local i s=0
	for i in "${!T_NAME[@]}"; do s=$((s + T_PTS[i])); done
	echo "$s"
}

# ---- one test ----
# The lines worth showing from a test's output: Criterion's assertion, crash and skip lines, or
# (other kinds) the first lines.
useful_lines() { # kind file
	case $1 in
	unit | integration)
		grep -a -e '^\[----\] ' -e '^\[FAIL\] ' -e '^\[SKIP\] ' "$2" | grep -av -e 'Test is disabled$' \
			-e '^\[----\] Criterion v' -e '^\[----\] *$' | head -n 12 ;;
	*) grep -av "^[[:space:]]*$" "$2" | head -n 5 ;;
	esac
}

CUR_PID=""
# Runs a command with the test's limits: output (stdout and stderr) to $out, capped at CAP + 1
# bytes (a writer past that gets SIGPIPE), status to $out.rc and $RC. In the background, waited for,
# so that a SIGTERM to grade.sh is handled at once (on_signal stops the test's process group).
limited() { # seconds out cmd...
	local lim=$1 out=$2
	shift 2
	rm -f "$out.rc" "$out.pid"
	{
		timeout -k 5 "$lim" "${RUNAS[@]}" "$@" </dev/null 2>&1 &
		echo $! >"$out.pid"
		wait $!
		echo $? >"$out.rc"
	} 2>/dev/null | head -c $((CAP + 1)) >"$out" &
	CUR_PID=$!
	while kill -0 "$CUR_PID" 2>/dev/null; do wait "$CUR_PID" 2>/dev/null; done
	# The rc file is written as soon as the test's process ends (head may end first, at the cap).
	local n=0
	while [ ! -s "$out.rc" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
	CUR_PID=""
	RC=$(cat "$out.rc" 2>/dev/null)
	RC=${RC:-1}
}

signame() { kill -l "$1" 2>/dev/null | sed 's/^/SIG/' || echo "signal $1"; }

# Runs test i; sets R_*; prints its lines; writes the JSON.
run_test() { # i
	local i=$1 kind=${T_KIND[$1]} name=${T_NAME[$1]} out="$WORK/out.$1" lim=${T_LIM[$1]} t0 rc why="" ok=0 left
	left=$(awk -v d="$DEADLINE" -v n="$(now)" 'BEGIN { printf "%d", d - n }')
	R_OUT[$i]=$out
	if [ "$left" -le 0 ]; then
		: >"$out"
		record "$i" 0 0 "not started: the grading budget of $GRADE_BUDGET s (GRADE_BUDGET) ran out"
		return
	fi
	local clipped=""
	[ "$left" -lt "$lim" ] && lim=$left clipped=" (what was left of the grading budget)"
	t0=$(now)
	RC=0
	case $kind in
	unit) limited "$lim" "$out" "$O/tests/unit" -j1 --verbose=0 "--filter=$name" ;;
	integration) limited "$lim" "$out" env HVTEST_STRICT=1 $INTEG_ENV "$O/tests/integration" -j1 --verbose=0 "--filter=$name" ;;
	answer) limited "$lim" "$out" env O="$O" LAB_DIR="$LAB_DIR" bash "$LAB_DIR/answers.sh" ;;
	cmd) limited "$lim" "$out" sh "$LAB_DIR/$name" ;;
	*) : >"$out"; why="unknown kind '$kind' in $LAB_DIR/tests" ;;
	esac
	rc=$RC
	local sec flood=0
	sec=$(since "$t0")
	if [ "$(wc -c <"$out")" -gt $CAP ]; then
		flood=1
		head -c $CAP "$out" >"$out.cap" && mv -f "$out.cap" "$out"
	fi
	# Criterion names every test its --filter left out ("Test is disabled"): not worth keeping.
	case $kind in
	unit | integration)
		grep -av -e ': Test is disabled$' -e '^\[====\] Running [0-9]* tests\{0,1\} from' "$out" >"$out.cut"
		mv -f "$out.cut" "$out" ;;
	esac
	if [ -n "$why" ]; then :
	elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then why="timed out after $lim s$clipped"
	elif [ $flood = 1 ]; then why="more than $((CAP / 1024)) KiB of output: stopped there (the first $((CAP / 1024)) KiB are kept)"
	else
		case $kind in
		unit | integration)
			local syn t p c skip
			syn=$(sed -n 's/.*Synthesis: Tested: \([0-9]*\) | Passing: \([0-9]*\) | Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2 \4/p' "$out" | tail -n 1)
			read -r t p c <<<"${syn:-x x x}"
			skip=$(grep -a '^\[SKIP\] ' "$out" | grep -av 'Test is disabled$' | head -n 1 | sed 's/^\[SKIP\] [^:]*: //')
			if [ -z "$syn" ]; then
				if [ "$rc" -gt 128 ]; then why="crashed: the test runner was killed by $(signame $((rc - 128)))"
				else why="the test runner ended without a result (status $rc)"; fi
			elif [ "$c" != 0 ]; then why="crashed (killed by a signal: see the line below)"
			elif [ "$t" = 1 ] && [ "$p" = 1 ] && [ "$rc" = 0 ]; then ok=1
			elif [ -n "$skip" ]; then why="skipped: $skip"
			elif [ "$t" = 0 ]; then why="no such test in $O/tests/$kind"
			else why="failed"; fi
			;;
		answer)
			local q=${name%%:*} line
			line=$(grep -a "^$q " "$out" | head -n 1)
			case $line in
			"$q OK"*) ok=1 ;;
			"$q FAIL"*) why="wrong: ${line#"$q FAIL"}" ;;
			*) why="$LAB_DIR/answers.sh said nothing about $q (status $rc)" ;;
			esac
			;;
		*)
			if [ "$rc" = 0 ]; then ok=1
			elif [ "$rc" -gt 128 ]; then why="crashed: killed by $(signame $((rc - 128)))"
			else why="failed (exit status $rc)"; fi
			;;
		esac
	fi
	record "$i" "$ok" "$sec" "$why"
}

record() { # i ok seconds why
	local i=$1
	R_DONE[$i]=1 R_OK[$i]=$2 R_SEC[$i]=$3 R_WHY[$i]=$4
	if [ "$2" = 1 ]; then
		echo "${T_NAME[$i]}: OK (${3}s)"
	else
		echo "${T_NAME[$i]}: FAIL ($4)"
		[ -s "${R_OUT[$i]:-/dev/null}" ] && useful_lines "${T_KIND[$i]}" "${R_OUT[$i]}" | sed 's/^/    /'
	fi
	# In the lab VM: one result file per test, for the host to read back.
	if [ -n "$INNER" ]; then
		printf '%s\t%s\t%s\n' "$2" "$3" "$4" >"$WORK/res.$i.tmp" && mv -f "$WORK/res.$i.tmp" "$WORK/res.$i"
	fi
	write_json
}

on_signal() {
	trap '' TERM INT
	if [ -n "$CUR_PID" ]; then
		for f in "$WORK"/out.*.pid; do
			[ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
		done
	fi
	for i in "${!T_NAME[@]}"; do
		[ -n "${R_DONE[$i]:-}" ] && continue
		R_DONE[$i]=1 R_OK[$i]=0 R_WHY[$i]="not graded: the grader was stopped (SIGTERM or SIGINT) before this test ended"
	done
	write_json
	echo "grade: stopped by a signal; Score: $(total_score)/$(max_score)"
	exit 143
}

# ---- the lab VM side (--inner): run the listed tests, write res.I and out.I ----
if [ -n "$INNER" ]; then
	DEADLINE=$(awk -v n="$(now)" -v l="$GRADE_LEFT" 'BEGIN { printf "%.0f", n + l }')
	while IFS=$'\t' read -r i pts vis kind name lim; do
		T_PTS[$i]=$pts T_VIS[$i]=$vis T_KIND[$i]=$kind T_NAME[$i]=$name T_LIM[$i]=$lim
	done <"$WORK/list"
	trap on_signal TERM INT
	for i in "${!T_NAME[@]}"; do run_test "$i"; done
	exit 0
fi

DEADLINE=$(awk -v s="$START" -v b="$GRADE_BUDGET" 'BEGIN { printf "%.0f", s + b }')
trap on_signal TERM INT
write_json

# ---- 1. the build ----
echo "== grade: lab ${LAB:-?} ($LAB_DIR): ${#T_NAME[@]} test(s)$([ "$HIDDEN" = 1 ] && echo ', hidden ones included'); building =="
BUILD_CMD=${GRADE_BUILD:-make --no-print-directory all $O/tests/unit $O/tests/integration $O/bench/exitbench$([ "$O" = build/san ] && echo ' SAN=1')}
blog=$WORK/build.log
left=$(awk -v d="$DEADLINE" -v n="$(now)" 'BEGIN { printf "%d", d - n }')
limited "$((left > 1 ? left : 1))" "$blog" sh -c "$BUILD_CMD"
brc=$RC
if [ "$brc" != 0 ]; then
	{
		echo "the build failed (status $brc): every test scores 0. The compiler's errors:"
		grep -a -E 'error|Error|undefined reference|No rule' "$blog" | head -n 40
		[ "$brc" = 124 ] && echo "(the build ran out of the grading budget of $GRADE_BUDGET s)"
	} >"$OVERALL"
	cat "$OVERALL"
	for i in "${!T_NAME[@]}"; do
		cp "$OVERALL" "$WORK/out.$i"
		R_OUT[$i]=$WORK/out.$i R_DONE[$i]=1 R_OK[$i]=0 R_SEC[$i]=0 R_WHY[$i]="the build failed"
		echo "${T_NAME[$i]}: FAIL (the build failed)"
	done
	echo "Score: 0/$(max_score)"
	echo "Score: 0/$(max_score)" >>"$OVERALL"
	write_json
	exit 1
fi

# ---- 2. where each test runs ----
if [ -z "${KVM_TESTS:-}" ] || [ -z "${RING3_TESTS:-}" ] || [ -z "${INTEG_ENV:-}" ]; then
	# Not started by make: ask the Makefile (labs/labs.mk: lab-vars).
	eval "$(make --no-print-directory -s lab-vars O="$O" 2>/dev/null)"
fi
INTEG_ENV=${INTEG_ENV:-HV=$O/hv HVVIZ=$O/hvviz GUESTDIR=build/guest EXITBENCH=$O/bench/exitbench}
need_vm=0
if [ "${GRADE_WHERE:-}" != host ]; then
	kvm_where=$(O=$O sh tests/labvm/onkvm.sh --where kvm 2>/dev/null || echo host)
	ring3_where=$(O=$O sh tests/labvm/onkvm.sh --where ring3 2>/dev/null || echo host)
	for i in "${!T_NAME[@]}"; do
		n=${T_NAME[$i]}
		case ${T_KIND[$i]} in
		integration)
			if [[ $n == ${RING3_TESTS:-nomatch} ]] && [ "$ring3_where" = labvm ]; then T_WHERE[$i]=labvm
			elif [[ $n == ${KVM_TESTS:-nomatch} ]] && [ "$kvm_where" = labvm ]; then T_WHERE[$i]=labvm; fi ;;
		answer) [ "$kvm_where" = labvm ] && T_WHERE[$i]=labvm ;;
		esac
		[ "${T_WHERE[$i]}" = labvm ] && need_vm=1
	done
fi

# ---- 3. the tests: here, then the rest in one boot of the lab VM ----
for i in "${!T_NAME[@]}"; do
	[ "${T_WHERE[$i]}" = host ] && run_test "$i"
done

if [ $need_vm = 1 ]; then
	mkdir -p build/grade && chmod 755 build/grade
	VM=$(mktemp -d "$ROOT/build/grade/vm.XXXXXX") || die 2 "cannot create build/grade/vm.*"
	trap 'rm -rf "$WORK" "$VM"' EXIT
	n=0
	for i in "${!T_NAME[@]}"; do
		[ "${T_WHERE[$i]}" = labvm ] || continue
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "${T_PTS[$i]}" "${T_VIS[$i]}" "${T_KIND[$i]}" "${T_NAME[$i]}" "${T_LIM[$i]}"
		n=$((n + 1))
	done >"$VM/list"
	left=$(awk -v d="$DEADLINE" -v n="$(now)" 'BEGIN { printf "%d", d - n }')
	if [ "$left" -le 5 ]; then
		vmwhy="not started: the grading budget of $GRADE_BUDGET s (GRADE_BUDGET) ran out"
	else
		echo "== $n test(s) need a KVM this host cannot give: running them in the lab VM (QEMU TCG with AMD-V, one boot; times there are nested-emulation times) =="
		vmwhy=""
		if ! make --no-print-directory -s labvm-initramfs >"$WORK/labvm-build.log" 2>&1; then
			vmwhy="not run: the lab VM could not be built ($(tail -n 1 "$WORK/labvm-build.log"))"
		else
			# The VM boots in about 5 s; what is left of the budget is the VM's own limit.
			LABVM_TIMEOUT=$((left + 10)) bash tests/labvm/run.sh run build/labvm/initramfs.cpio \
				"O='$O' LAB_DIR='$LAB_DIR' GRADE_LEFT=$((left - 8)) GRADE_USER='${RUNAS:+$GRADE_USER}' INTEG_ENV='$INTEG_ENV' GRADE_BUDGET=$GRADE_BUDGET bash labs/grade.sh --inner '$VM'" &
			CUR_PID=$!
			while kill -0 "$CUR_PID" 2>/dev/null; do wait "$CUR_PID"; vmrc=$?; done
			CUR_PID=""
			vmwhy="not graded: the lab VM stopped before this test ended (status ${vmrc:-?}: 124 = out of time, 125 = the VM failed)"
		fi
	fi
	for i in "${!T_NAME[@]}"; do
		[ "${T_WHERE[$i]}" = labvm ] || continue
		R_OUT[$i]=$VM/out.$i
		if [ -f "$VM/res.$i" ]; then
			IFS=$'\t' read -r R_OK[$i] R_SEC[$i] R_WHY[$i] <"$VM/res.$i"
			R_DONE[$i]=1
		else
			: >>"$VM/out.$i"
			R_DONE[$i]=1 R_OK[$i]=0 R_SEC[$i]=0 R_WHY[$i]=$vmwhy
			echo "${T_NAME[$i]}: FAIL ($vmwhy)"
		fi
	done
	write_json
	# The outputs are copied before the directory goes (the JSON above has them already).
fi

score=$(total_score) max=$(max_score)
echo "Score: $score/$max" | tee -a "$OVERALL"
write_json
[ "$score" = "$max" ]
