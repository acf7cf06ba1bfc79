#!/usr/bin/env bash
# check-glossary.sh - the English-Korean glossary (textbook/glossary.md) stays complete, and every
# chapter links the first use of each term to it.
#
#   tests/check-glossary.sh                 check; one line per problem, exit 1 if any
#   tests/check-glossary.sh --link FILE...  add the missing first-use links to chapters, in place
#   tests/check-glossary.sh --self-test     damage copies of textbook/ and check that each is found
#
# Run by `make test` (with --self-test first) next to tests/check-refs.sh. Textbook: textbook/glossary.md, whose
# introduction says the same in short.
#
# An entry of the glossary is these lines (the test reads exactly this shape):
#
#   <a id="vm-exit"></a>                         a stable anchor: chapters link glossary.md#vm-exit
#   ### VM exit · VM 엑시트(VM exit)             the English term, " · ", the Korean term
#   <!-- forms: VM exit -->                      optional: the words that count as a use of it
#   - **English:** one-line definition
#   - **한국어:** 한 줄 정의
#   - **Introduced in:** [chapter 3, "The six steps"](ch03-exits.md#the-six-steps)
#
# Checked: at least 120 entries, anchors unique; the Korean term and definition contain Hangul;
# the "Introduced in" link names an existing file of textbook/ and a heading in it (GitHub's
# anchor for a heading: lower case, punctuation dropped, spaces as '-', '-1' for a repeat); every
# link in textbook/*.md to a '#anchor' resolves, glossary.md#... ones to an entry.
#
# First use: in each chapter and appendix, the first use of each term in running text must be a
# link to its entry. A use is one of the entry's forms, as a whole word (a letter, digit, '_' or
# '-' on either side, or '.', '/' before it, make it part of a longer word: "guest" does not
# occur in "guest-physical"), with an optional plural "s"/"es", and a form that starts in lower
# case also counts capitalised. Running text is everything but code blocks (fenced, or indented
# four spaces after a blank line), inline `code`, text in double quotes (section names, quoted
# messages), headings, table rows and HTML lines. A use inside the text of another link (to
# another entry or anywhere else), or inside a longer use of another term ("VM" in "VM exit"),
# is not counted: the first use outside those is the one that must be linked. Uses are found
# within one line: a term split over a line break is not seen there. An entry without a forms
# comment is never required (its words occur only in code, or are too common to find safely).
set -euo pipefail

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
# CHECK_GLOSSARY_ROOT: check another tree that holds a textbook/ (the self-test's copies).
cd "${CHECK_GLOSSARY_ROOT:-$(dirname "$0")/..}"

# --self-test: the check must fail on each kind of damage, and --link must repair a missing link.
if [ "${1:-}" = "--self-test" ]; then
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/check-glossary.XXXXXX")
	trap 'rm -rf "$TMP"' EXIT
	fails=0
	# expect NAME MESSAGE SED-SCRIPT FILE: damage a fresh copy, the check must report MESSAGE.
	# The SED-SCRIPT "keep119" keeps only the first 119 entries of the glossary instead.
	expect() {
		rm -rf "$TMP/t" && mkdir -p "$TMP/t" && cp -r textbook "$TMP/t/"
		if [ "$3" = keep119 ]; then
			awk '/^<a id=/ { n++ } n < 120' "$TMP/t/$4" >"$TMP/t/g" && mv "$TMP/t/g" "$TMP/t/$4"
		else
			sed -i -e "$3" "$TMP/t/$4"
		fi
		if out=$(CHECK_GLOSSARY_ROOT="$TMP/t" bash "$SELF" 2>&1); then
			echo "check-glossary self-test: $1: the check passed"; fails=$((fails + 1))
		elif ! grep -q -- "$2" <<<"$out"; then
			echo "check-glossary self-test: $1: no \"$2\" in: $out"; fails=$((fails + 1))
		fi
	}
	expect korean-term "has no Hangul" '0,/^### \(.*\) · .*/s//### \1 · none/' textbook/glossary.md
	expect korean-definition "Korean definition has no Hangul" '0,/^- \*\*한국어:\*\* .*/s//- **한국어:** none/' textbook/glossary.md
	expect introduced-anchor "is not a heading of" '0,/\](ch\([0-9]*\)-\([^#]*\)#\([^)]*\))$/s//](ch\1-\2#\3-nosuch)/' textbook/glossary.md
	expect too-few "only 119 entries" keep119 textbook/glossary.md
	expect chapter-anchor "glossary.md has no entry #no-such-term" '0,/(glossary\.md#[a-z0-9-]*)/s//(glossary.md#no-such-term)/' textbook/ch03-exits.md
	expect first-use "is not linked to glossary.md#vm-exit" 's/\[\(VM exits\?\)\](glossary\.md#vm-exit)/\1/' textbook/ch03-exits.md
	# --link puts the removed link back, and the copy passes again.
	CHECK_GLOSSARY_ROOT="$TMP/t" bash "$SELF" --link textbook/ch03-exits.md >/dev/null
	if ! CHECK_GLOSSARY_ROOT="$TMP/t" bash "$SELF" >/dev/null 2>&1; then
		echo "check-glossary self-test: --link did not repair the missing first use"; fails=$((fails + 1))
	fi
	[ "$fails" = 0 ] || exit 1
	echo "check-glossary self-test: every kind of damage is found, and --link repairs a first use"
	exit 0
fi
LINK=0
if [ "${1:-}" = "--link" ]; then
	LINK=1
	shift
	[ $# -gt 0 ] || { echo "usage: tests/check-glossary.sh [--link FILE...]" >&2; exit 2; }
fi
GLOSSARY=textbook/glossary.md
[ -f "$GLOSSARY" ] || { echo "check-glossary: $GLOSSARY is missing" >&2; exit 1; }

if [ "$LINK" = 1 ]; then
	CHAPTERS=("$@")
else
	CHAPTERS=()
	for f in textbook/ch[0-9][0-9]-*.md textbook/appendix-[a-z]-*.md; do
		[ -e "$f" ] && CHAPTERS+=("$f")
	done
fi
# The chapters first; in check mode then every textbook/*.md, for the anchor check.
FILES=("${CHAPTERS[@]}")
[ "$LINK" = 1 ] || FILES+=(textbook/*.md)

# Byte semantics: Hangul is matched as UTF-8 bytes, lengths are bytes (mawk and gawk agree).
export LC_ALL=C
# shellcheck disable=SC2016
# The first-use rule is checked once the chapters carry their links (1), not before (0).
FIRST_USE=1
awk -v link="$LINK" -v glossary="$GLOSSARY" -v nchap="${#CHAPTERS[@]}" -v first_use_checked="$FIRST_USE" '
function report(f, n, msg) { printf "%s:%d: %s\n", f, n, msg; bad = 1 }
function hangul(s) { return s ~ /\352[\260-\277]|[\353\354][\200-\277]|\355[\200-\236]/ }
# GitHub'"'"'s anchor for a heading.
function slug(h) { h = tolower(h); gsub(/[^a-z0-9 _-]/, "", h); gsub(/ /, "-", h); return h }
function read_headings(f,    l, fence, s, n) {
	if (f in scanned) return
	scanned[f] = 1; fence = 0
	delete seen
	while ((getline l < f) > 0) {
		if (l ~ /^[ \t]*```/) { fence = !fence; continue }
		if (fence || l !~ /^#+[ \t]/) continue
		sub(/^#+[ \t]+/, "", l); sub(/[ \t]+$/, "", l)
		s = slug(l); n = seen[s]++
		anchor[f "#" (n ? s "-" n : s)] = 1
	}
	close(f)
}
function re_quote(s,    r, i, c) {
	r = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (index("\\^$.|?*+()[]{}", c)) r = r "\\" c
		else r = r c
	}
	return r
}
# ---- the glossary ----
function read_glossary(    l, n, id, st, h, t, f, k, e, a, i) {
	n = 0; st = 0
	while ((getline l < glossary) > 0) {
		n++
		if (l ~ /^<a id="[^"]*"><\/a>$/) {
			if (st) report(glossary, eline, "entry \"" id "\" is incomplete (needs English, 한국어 and Introduced in lines)")
			id = l; sub(/^<a id="/, "", id); sub(/".*/, "", id)
			if (id in entry) report(glossary, n, "anchor \"" id "\" is used twice")
			entry[id] = n; ids[++nterms] = id; st = 1; eline = n
			continue
		}
		if (!st) continue
		if (st == 1) {
			if (l !~ /^### .+ · .+$/) { report(glossary, n, "entry \"" id "\": the line after the anchor must be ### English · Korean"); st = 0; continue }
			h = substr(l, 5); t = index(h, " · ")
			en = substr(h, 1, t - 1); ko = substr(h, t + length(" · "))
			if (en !~ /[A-Za-z0-9]/) report(glossary, n, "entry \"" id "\" has no English term")
			if (!hangul(ko)) report(glossary, n, "entry \"" id "\": the Korean term \"" ko "\" has no Hangul")
			st = 2; have_en = have_ko = have_in = 0
			continue
		}
		if (l ~ /^<!-- forms: .* -->$/) {
			f = l; sub(/^<!-- forms: /, "", f); sub(/ -->$/, "", f)
			k = split(f, a, /; */)
			for (i = 1; i <= k; i++) if (a[i] != "") forms[id, ++nforms[id]] = a[i]
			continue
		}
		if (l ~ /^- \*\*English:\*\* /) {
			if (l ~ /^- \*\*English:\*\* *[A-Za-z]/) have_en = 1
			else report(glossary, n, "entry \"" id "\" has an empty English definition")
		} else if (index(l, "- **한국어:** ") == 1) {
			if (hangul(substr(l, length("- **한국어:** ") + 1))) have_ko = 1
			else report(glossary, n, "entry \"" id "\": the Korean definition has no Hangul")
		} else if (l ~ /^- \*\*Introduced in:\*\* /) {
			if (!match(l, /\]\([^)# ]+#[^) ]+\)$/)) {
				report(glossary, n, "entry \"" id "\": Introduced in needs a link [chapter N, \"Section\"](file.md#anchor)")
			} else {
				t = substr(l, RSTART + 2, RLENGTH - 3)
				f = "textbook/" substr(t, 1, index(t, "#") - 1)
				if ((getline e < f) <= 0) report(glossary, n, "entry \"" id "\": no such file " f)
				else { close(f); read_headings(f); if (!(("textbook/" t) in anchor)) report(glossary, n, "entry \"" id "\": " t " is not a heading of " f) }
			}
			have_in = 1
		}
		if (have_en && have_ko && have_in) st = 0
	}
	close(glossary)
	if (st) report(glossary, eline, "entry \"" id "\" is incomplete (needs English, 한국어 and Introduced in lines)")
	if (nterms < 120) report(glossary, 1, "only " nterms " entries; the glossary must have at least 120")
}
# ---- one line of running text, masked ----
# mline[i]: the line with inline code and link syntax replaced by \037 (same length), so a form
# never matches inside them; lk_*: where each link text starts and ends, and its target.
function mask(i,    s, out, p, q, r, n, run, rest, c, k, tgt) {
	s = line[i]; out = ""
	# inline code: a run of n backticks up to the next run of exactly n
	while (match(s, /`+/)) {
		n = RLENGTH; p = RSTART
		rest = substr(s, p + n); q = 0; r = 0
		while (match(substr(rest, r + 1), /`+/)) {
			if (RLENGTH == n) { q = r + RSTART; break }
			r += RSTART + RLENGTH - 1
		}
		if (!q) { out = out substr(s, 1, p + n - 1); s = rest; continue }
		run = ""; for (c = 0; c < n + q - 1 + n; c++) run = run "\037"
		out = out substr(s, 1, p - 1) run
		s = substr(rest, q + n)
	}
	s = out s; nlk[i] = 0
	# links: [text](target)
	out = ""; r = 0
	while (match(s, /!?\[[^]]*\]\([^) ]+\)/)) {
		p = RSTART; n = RLENGTH
		k = index(substr(s, p, n), "](")
		tgt = substr(s, p + k + 1, n - k - 2)
		nlk[i]++
		lk_s[i, nlk[i]] = r + p + (substr(s, p, 1) == "!" ? 2 : 1)
		lk_e[i, nlk[i]] = r + p + k - 2
		lk_t[i, nlk[i]] = tgt
		run = ""; for (c = 0; c < n - k; c++) run = run "\037"
		out = out substr(s, 1, p - 1) (substr(s, p, 1) == "!" ? "\037\037" : "\037") \
			substr(s, lk_s[i, nlk[i]] - r, lk_e[i, nlk[i]] - lk_s[i, nlk[i]] + 1) "\037" run
		r += p + n - 1
		s = substr(s, p + n)
	}
	mline[i] = out s
}
function read_chapter(f,    l, n, fence, prevblank, incode, inq) {
	n = 0; fence = 0; prevblank = 1; incode = 0; inq = 0
	while ((getline l < f) > 0) {
		line[++n] = l; text[n] = 0
		if (l ~ /^[ \t]*```/) { fence = !fence; prevblank = 0; inq = 0; continue }
		if (fence) continue
		if (l ~ /^[ \t]*$/) { prevblank = 1; inq = 0; continue }
		if ((l ~ /^(    |\t)/) && (prevblank || incode)) { incode = 1; prevblank = 0; inq = 0; continue }
		incode = 0; prevblank = 0
		if (l ~ /^#/ || l ~ /^[ \t]*\|/ || l ~ /^[ \t]*</) { inq = 0; continue }
		text[n] = 1; mask(n)
		qin[n] = inq; inq = quote_mask(n, inq)
	}
	close(f)
	return n
}
# Text between double quotes is not running text either: a section name after "chapter N" (which
# tests/check-refs.sh compares with the heading) or a message quoted from a program. The state
# carries over line ends within a paragraph; qin[i] is the state at the start of line i.
function quote_mask(i, inq,    t, out, c, k) {
	t = mline[i]; out = ""
	for (k = 1; k <= length(t); k++) {
		c = substr(t, k, 1)
		if (c == "\"") { inq = !inq; out = out "\036"; continue }
		out = out (inq ? "\036" : c)
	}
	mline[i] = out
	return inq
}
# A match at p of length len is a whole word: see the top of this file. A '.' after it must end
# a sentence: "EFER.LMA" is not a use of EFER.
function whole(t, p, len,    pre, post) {
	pre = p > 1 ? substr(t, p - 1, 1) : ""
	post = substr(t, p + len, 1)
	if (pre ~ /[A-Za-z0-9_.\/-]/ || post ~ /[A-Za-z0-9_-]/) return 0
	if (post == "." && substr(t, p + len + 1, 1) ~ /[A-Za-z0-9_]/) return 0
	return 1
}
# Is the use of term id at p..p+len-1 part of a longer use of another term? "VM" in "VM exit",
# "host" in "host class": then it is a use of that term, not of this one.
function covered(i, id, p, len,    u, t, off, q, m) {
	t = mline[i]
	for (u in termre) {
		if (u == id || tlong[u] <= len) continue
		off = 0
		while (match(substr(t, off + 1), termre[u])) {
			q = off + RSTART; m = RLENGTH; off = q
			if (q > p) break
			if (m > len && q + m >= p + len && whole(t, q, m)) return 1
		}
	}
	return 0
}
# The first use of term id in the chapter: 0 if there is none or it is linked; else sets
# use_line/use_pos/use_len and returns 1.
function first_use(id, nl,    i, t, off, p, len, k, inlink, tgt) {
	for (i = 1; i <= nl; i++) {
		if (!text[i]) continue
		t = mline[i]; off = 0
		while (match(substr(t, off + 1), termre[id])) {
			p = off + RSTART; len = RLENGTH; off = p
			if (!whole(t, p, len)) continue
			inlink = 0
			for (k = 1; k <= nlk[i]; k++)
				if (p >= lk_s[i, k] && p + len - 1 <= lk_e[i, k]) { inlink = k; break }
			if (inlink) {
				tgt = lk_t[i, inlink]; sub(/^\.\//, "", tgt)
				if (tgt == "glossary.md#" id) return 0
				continue
			}
			if (covered(i, id, p, len)) continue
			use_line = i; use_pos = p; use_len = len
			return 1
		}
	}
	return 0
}
BEGIN {
	bad = 0; nterms = 0
	read_glossary()
	# A regular expression per term, from its forms; terms with the longest form first, so that
	# --link wraps "shadow page tables" before "page table" could take its words.
	nt = 0
	for (j = 1; j <= nterms; j++) {
		id = ids[j]; if (!nforms[id]) continue
		re = ""; longest = 0
		for (k = 1; k <= nforms[id]; k++) {
			f = forms[id, k]
			re = re (re == "" ? "" : "|") re_quote(f)
			if (substr(f, 1, 1) ~ /[a-z]/) re = re "|" re_quote(toupper(substr(f, 1, 1)) substr(f, 2))
			if (length(f) > longest) longest = length(f)
		}
		termre[id] = "(" re ")(s|es)?"; tlong[id] = longest
		order[++nt] = id; olen[nt] = longest
	}
	for (a = 2; a <= nt; a++) for (b = a; b > 1 && olen[b] > olen[b - 1]; b--) {
		t = order[b]; order[b] = order[b - 1]; order[b - 1] = t
		t = olen[b]; olen[b] = olen[b - 1]; olen[b - 1] = t
	}
	nfiles = 0
}
# The files named after the awk program: the chapters first (nchap of them), then every
# textbook/*.md for the link check. FNR == 1 starts a file; the whole file is read by getline.
FNR == 1 {
	nfiles++
	f = FILENAME
	if (nfiles <= nchap) {
		if (!link && !first_use_checked) next
		nl = read_chapter(f); changed = 0
		for (j = 1; j <= nt; j++) {
			id = order[j]
			if (!first_use(id, nl)) continue
			if (link) {
				line[use_line] = substr(line[use_line], 1, use_pos - 1) "[" substr(line[use_line], use_pos, use_len) \
					"](glossary.md#" id ")" substr(line[use_line], use_pos + use_len)
				mask(use_line); quote_mask(use_line, qin[use_line]); changed++
			} else {
				report(f, use_line, "the first use of \"" substr(line[use_line], use_pos, use_len) \
					"\" is not linked to glossary.md#" id " (tests/check-glossary.sh --link " f " adds it)")
			}
		}
		if (link && changed) {
			printf "" > f
			for (i = 1; i <= nl; i++) print line[i] > f
			close(f)
			printf "check-glossary: %s: %d first uses linked\n", f, changed
		}
	} else if (!link) {
		# every link to an #anchor in textbook/*.md resolves
		n = 0; fence = 0
		while ((getline l < f) > 0) {
			n++
			if (l ~ /^[ \t]*```/) { fence = !fence; continue }
			if (fence) continue
			while (match(l, /\]\([^) ]*#[^) ]+\)/)) {
				t = substr(l, RSTART + 2, RLENGTH - 3); l = substr(l, RSTART + RLENGTH)
				if (t ~ /^[a-z]+:/) continue
				p = substr(t, 1, index(t, "#") - 1); a = substr(t, index(t, "#") + 1)
				sub(/^\.\//, "", p)
				if (p == "") p = substr(f, 10)
				if (p == "glossary.md") { if (!(a in entry)) report(f, n, "glossary.md has no entry #" a); continue }
				if ((getline e < ("textbook/" p)) <= 0) continue   # a missing file: check-refs.sh reports it
				close("textbook/" p); read_headings("textbook/" p)
				if (!(("textbook/" p "#" a) in anchor)) report(f, n, p " has no heading with anchor #" a)
			}
		}
		close(f)
	}
}
END {
	if (link) exit 0
	if (bad) { print "check-glossary: problems above" > "/dev/stderr"; exit 1 }
	printf "check-glossary: %d terms in English and Korean, every anchor resolves%s\n", nterms, \
		first_use_checked ? "; the first use of each term is linked in " nchap " chapters" : ""
}
' "${FILES[@]}"
