#!/usr/bin/env bash
# check-refs.sh - every reference a comment or a chapter makes must resolve inside the repository.
#
#   tests/check-refs.sh          run from anywhere inside the repository
#
# A reader who meets "see hv/bus.c" or 'textbook chapter 3 "Exits", section "The six steps"'
# must be able to open it. This script reads the comments of the sources (*.c, *.h, *.S, *.sh,
# *.mk, Makefile) and the Markdown files of hv/, viz/, guest/, tests/, bench/ and textbook/, and
# README.md, and checks three kinds of reference:
#
#   paths      hv/..., viz/..., guest/..., tests/..., bench/..., textbook/... must name a file
#              or directory the repository holds (git ls-files, or the tree outside git). A glob
#              such as hv/dev/virtq.[ch] must match something; a placeholder (hv/dev/<device>.c,
#              corpus/{virtio,ata}, golden/NAME-COLSxROWS.txt) is checked up to it or skipped.
#              A path that follows a '/' (build/guest/hello16.bin: a build output) is not a
#              reference to the source tree, nor is one level without an extension ("hv/raw":
#              a ratio). Paths in Markdown code blocks are checked too.
#   sections   after "chapter N" (or "ch N", "chNN"), the quoted names that follow it with only
#              commas, "section", "and", "or" and parentheses in between must each be the
#              chapter's title or one of its headings (or either side of a heading's ": "):
#              chapter 3 "Exits", section "The six steps". Not in Markdown code blocks, and
#              not after "SDM", "volume", "manual" or "specification" (another book's chapter).
#              "appendix A, section A.14" and "section A.14" must be a heading of that appendix.
#   links      Markdown links [text](target) to a file in the repository must resolve.
#
# Prints one line per broken reference (file:line: what) and exits 1 if there is any, 0 if none.
# Run by make test (the Makefile's test target), before the tests themselves.
set -euo pipefail

cd "$(dirname "$0")/.."
DIRS=(hv viz guest tests bench textbook labs)

# The repository's files: tracked ones when this is a git checkout, else whatever is on disk.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	list_files() { git ls-files -- "$@"; }
else
	list_files() { find "$@" -type f 2>/dev/null | sed 's|^\./||'; }
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/check-refs.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

list_files "${DIRS[@]}" README.md Makefile >"$TMP/files"
# Every file, and every directory above it.
awk '{ print; p = $0; while (sub(/\/[^\/]*$/, "", p)) print p }' "$TMP/files" | sort -u >"$TMP/exists"

# The headings of each chapter and appendix: "ch03<TAB>The six steps", "appA<TAB>A.14 ...".
for f in textbook/ch[0-9][0-9]-*.md textbook/appendix-[a-z]-*.md; do
	[ -e "$f" ] || continue
	b=${f#textbook/}
	case $b in
	ch*) key=ch${b:2:2} ;;
	appendix-*) key=app$(printf '%s' "${b:9:1}" | tr '[:lower:]' '[:upper:]') ;;
	esac
	grep '^#' "$f" | sed -e 's/^#* *//' -e "s/^/$key	/"
done >"$TMP/headings"

# The files whose text is read: sources and Markdown (not golden screens, traces or corpora).
grep -E '(\.(c|h|S|sh|mk|md)|(^|/)Makefile)$' "$TMP/files" >"$TMP/texts"

status=0
# shellcheck disable=SC2016
xargs -d '\n' awk -v exists="$TMP/exists" -v headings="$TMP/headings" '
BEGIN {
	while ((getline l < exists) > 0) have[l] = 1
	nh = 0
	while ((getline l < headings) > 0) {
		t = index(l, "\t"); key = substr(l, 1, t - 1); h = substr(l, t + 1)
		head[key "\t" h] = 1
		# Chapter titles: "Chapter 3: Exits" also answers to "Exits".
		if (sub(/^Chapter [0-9]+: */, "", h)) head[key "\t" h] = 1
		# Appendix headings: "A.14 Version 2: ..." also answers to "A.14" and to the words.
		if (match(h, /^[A-Z]\.[0-9]+ /)) {
			head[key "\t" substr(h, 1, RLENGTH - 1)] = 1
			head[key "\t" substr(h, RLENGTH + 1)] = 1
		}
		# Appendix titles: "Appendix A — The trace format (`.hvt`)".
		if (sub(/^Appendix [A-Z] [^A-Za-z]* */, "", h)) head[key "\t" h] = 1
		# "Live: watching a guest run" also answers to "Live" and to "watching a guest run".
		if ((t = index(h, ": ")) > 0) {
			head[key "\t" substr(h, 1, t - 1)] = 1
			head[key "\t" substr(h, t + 2)] = 1
		}
		nh++
	}
	bad = 0
}
function report(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg; bad = 1 }
function glob_to_re(p,    r, i, c) {
	r = "^"
	for (i = 1; i <= length(p); i++) {
		c = substr(p, i, 1)
		if (c == "*") r = r "[^/]*"
		else if (c == "[") { j = index(substr(p, i), "]"); r = r substr(p, i, j); i += j - 1 }
		else if (c ~ /[.+?()|^$\\]/) r = r "\\" c
		else r = r c
	}
	return r "$"
}
function path_exists(p,    re, k) {
	if (p in have) return 1
	if (p !~ /[*[]/) return 0
	re = glob_to_re(p)
	for (k in have) if (k ~ re) return 1
	return 0
}
# Collapse "a/b/../c" and "./" (Markdown links are relative to their file).
function normalize(p,    n, i, parts, out, m) {
	n = split(p, parts, "/"); m = 0
	for (i = 1; i <= n; i++) {
		if (parts[i] == "" || parts[i] == ".") continue
		if (parts[i] == "..") { if (m > 0) m--; continue }
		out[++m] = parts[i]
	}
	p = ""
	for (i = 1; i <= m; i++) p = p (i > 1 ? "/" : "") out[i]
	return p
}
# Compared without backquotes, case or doubled blanks: "finding the exits" is "Finding the exits".
function heading_ok(key, name,    plain, k, h) {
	if ((key "\t" name) in head) return 1
	plain = tolower(name); gsub(/`/, "", plain); gsub(/[ \t]+/, " ", plain)
	for (k in head) { h = tolower(k); gsub(/`/, "", h); if (h == key "\t" plain) return 1 }
	return 0
}
# The comment text of one source line ("" for code). C: /* ... */ (across lines) and //,
# string and character literals skipped; shell and make: from a # at the start or after a
# blank. Markdown: the whole line.
function comment_text(l,    out, i, c, n, q) {
	if (md) return l
	if (!csrc) {
		if (match(l, /(^|[ \t])#+[ \t]?/)) return substr(l, RSTART + RLENGTH)
		return ""
	}
	out = ""; n = length(l)
	for (i = 1; i <= n; i++) {
		c = substr(l, i, 1)
		if (incom) {
			if (c == "*" && substr(l, i + 1, 1) == "/") { incom = 0; i++; out = out " "; continue }
			out = out c
			continue
		}
		if (c == "/" && substr(l, i + 1, 1) == "*") { incom = 1; i++; continue }
		if (c == "/" && substr(l, i + 1, 1) == "/") { out = out " " substr(l, i + 2); break }
		if (c == "\"" || c == "\047") {   # skip a literal
			q = c
			for (i++; i <= n && substr(l, i, 1) != q; i++) if (substr(l, i, 1) == "\\") i++
		}
	}
	sub(/^[ \t]*\**[ \t]?/, "", out)   # the " * " that starts a comment line
	return out
}
FNR == 1 {
	md = FILENAME ~ /\.md$/
	csrc = FILENAME ~ /\.[chS]$/
	incom = 0
	dir = FILENAME; if (!sub(/\/[^\/]*$/, "", dir)) dir = ""
	# Read the whole file: a reference may wrap onto the next line.
	n = 0; file = FILENAME
	while ((getline l < file) > 0) line[++n] = comment_text(l)
	close(file)
	line[n + 1] = ""; line[n + 2] = ""
	fence = 0
}
{
	s = line[FNR]
	if (md && s ~ /^```/) fence = !fence

	# ---- paths ----
	t = s
	while (match(t, /(^|[^A-Za-z0-9_.\/$-])(hv|viz|guest|tests|bench|textbook)\/[A-Za-z0-9_.\/*[\]+-]*/)) {
		p = substr(t, RSTART, RLENGTH); t = substr(t, RSTART + RLENGTH)
		if (p !~ /^(hv|viz|guest|tests|bench|textbook)\//) p = substr(p, 2)
		sub(/[.\/-]+$/, "", p)
		if (p ~ /\[[^\]]*$/) sub(/\[[^\]]*$/, "", p)   # "hv/virtq.[ch" cut by a line end
		sub(/[.\/-]+$/, "", p)
		# A path names a file (has an extension) or goes two levels deep: "hv/raw" and
		# "guest/host" are ratios and pairs. A component in capitals is a placeholder.
		if (p !~ /\/[^\/]*\.[^\/]+$/ && p !~ /\/.*\//) continue
		if (p ~ /(^|\/)[A-Z][A-Z]+[-_.]/ && p !~ /(^|\/)(README|Makefile)/) continue
		if (!path_exists(p)) report("no such file or directory: " p)
	}

	# ---- Markdown links ----
	if (md) {
		t = s
		while (match(t, /\]\([^) ]+\)/)) {
			p = substr(t, RSTART + 2, RLENGTH - 3); t = substr(t, RSTART + RLENGTH)
			if (p ~ /^[a-z]+:/ || p ~ /^#/) continue
			sub(/#.*/, "", p)
			q = normalize((dir == "" ? "" : dir "/") p)
			if (!path_exists(q)) report("link to a missing file: " p)
		}
	}

	# ---- chapter and appendix sections ----
	if (fence) next
	# The line and the next two, so that a reference can wrap; matches start on this line.
	w = s " " line[FNR + 1] " " line[FNR + 2]
	lim = length(s)
	off = 0
	while (off < lim && match(substr(w, off + 1), /([Cc]hapter |[Cc]h\.? ?)[0-9]+/)) {
		start = off + RSTART; len = RLENGTH
		off = start + len - 1
		if (start > lim) break
		ref = substr(w, start, len)
		if (start > 1 && substr(w, start - 1, 1) ~ /[A-Za-z0-9_\/-]/) continue  # "ach1", "ch04-...md"
		num = ref; gsub(/[^0-9]/, "", num)
		key = sprintf("ch%02d", num + 0)
		rest = substr(w, start + len)
		if (rest ~ /^[0-9A-Za-z_-]/) continue   # "ch04-two-io-paths.md" is a path
		# A chapter of another book: "Intel SDM volume 3, chapter 6", "SDM vol. 3A chapter 6".
		if (substr(line[FNR - 1] " " w, 1, length(line[FNR - 1]) + start) ~ /(SDM|[Vv]ol(ume|\.) *[0-9A-Z]+|[Mm]anual|[Ss]pecification)[ ,]*[^ ]* *$/) continue
		# Quoted names joined to the reference only by commas, parentheses, "section", "and".
		while (1) {
			if (match(rest, /^([ ,:()]+|section |sections |and |or |the )/)) {
				rest = substr(rest, RLENGTH + 1); continue
			}
			if (match(rest, /^"[^"]*"/)) {
				name = substr(rest, 2, RLENGTH - 2); rest = substr(rest, RLENGTH + 1)
				if (!heading_ok(key, name))
					report(ref " has no section \"" name "\"")
				continue
			}
			break
		}
	}
	# "appendix X, section X.N" and a bare "section X.N".
	t = s
	while (match(t, /section [A-Z]\.[0-9]+/)) {
		sec = substr(t, RSTART + 8, RLENGTH - 8); t = substr(t, RSTART + RLENGTH)
		key = "app" substr(sec, 1, 1)
		if (!heading_ok(key, sec)) report("appendix " substr(sec, 1, 1) " has no section " sec)
	}
}
END { exit bad }
' <"$TMP/texts" || status=1

if [ "$status" = 0 ]; then
	echo "check-refs: every path, section and link resolves"
else
	echo "check-refs: broken references above" >&2
fi
exit "$status"
