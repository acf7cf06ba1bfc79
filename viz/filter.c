/*
 * filter.c - the Timeline's filter (`kind=exit reason=io port=0x3f8`) and hvviz's text search.
 *
 * Concept: a trace of a few seconds holds hundreds of thousands of events, and a student
 * looking for "the exits the UART caused" needs a way to say so. The filter's words are the
 * very words `hv trace dump` prints (the name tables in hv/trace_names.c), so what a student reads
 * in one event's line is what they can type to find all the others like it: the line
 * `2 862.810 vcpu0 exit io real ... port=0x3f9` answers to `kind=exit reason=io port=0x3f9`.
 * Search works on that same line, so anything visible on screen can be found.
 * Textbook: chapter 6 "Watching it happen", section "Finding the exits you care about";
 * appendix A "The trace format" (what each field means for each kind).
 *
 * Words (all must hold, in any order, each at most once):
 *   kind=NAME      exit, run-return, run-call, entry, counter, guest-error, vq, disk, irq, ring
 *   reason=NAME    an exit reason (io, mmio, hlt, ...) or, for vq/disk/irq/ring, the step's op
 *                  (notify, read, inject, syscall, ...). Without kind= the name picks the kind:
 *                  exit reasons are tried first, then vq, disk, irq and ring ops.
 *   port=N, addr=N one value or an inclusive range LO-HI, hex (0x3f8) or decimal (1016)
 *   dev=NAME       the device the access was for (viz_device_name: uart, ata, virtio-blk, ...)
 *   vcpu=N         a vCPU number, or iothread / timer for the device and timer threads
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter.h"
#include "model.h"
#include "pvtrace.h"
#include "trace_read.h"
#include "trace_names.h"
#include "trace_dump.h"

/* ---- one-line errors (trace_fail, hv/trace.h) ---- */

/*
 * "a, b, c" from a name function over [lo, hi]: the list of allowed words in an error comes
 * from the same tables the dump prints with, so it can never offer a word the parser refuses.
 */
static void names_list(char *buf, size_t len, const char *(*name)(unsigned), unsigned lo,
		       unsigned hi)
{
	size_t used = 0;
	buf[0] = '\0';
	for (unsigned v = lo; v <= hi && used < len; v++) {
		int n = snprintf(buf + used, len - used, "%s%s", v > lo ? ", " : "", name(v));
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* viz_device_name takes an enum; this adapter lets names_list walk it like the others. */
static const char *dev_name(unsigned d)
{
	return viz_device_name((enum viz_dev)d);
}

/* The value of NAME in a name table, compared without case ("Exit" is as good as "exit"),
 * or -1. */
static int name_lookup(const char *word, const char *(*name)(unsigned), unsigned lo,
		       unsigned hi)
{
	for (unsigned v = lo; v <= hi; v++)
		if (strcasecmp(word, name(v)) == 0)
			return (int)v;
	return -1;
}

/* ---- reason names: which vocabulary belongs to which kind ---- */

/*
 * A record's reason byte means different things per kind (hv/trace.h): an exit reason for
 * the exit-loop records, and the step's op for device, interrupt and ring records. Counters
 * and guest errors leave it 0, so reason= means nothing for them.
 */
struct vocab {
	int kind;                        /* the kind this table names the reason of */
	const char *(*name)(unsigned);   /* hvt_reason_name, hvt_vq_op_name, ... */
	unsigned lo, hi;                 /* the valid values */
};

static const struct vocab vocabs[] = {
	/* Exit reasons first: reason=io without kind= means I/O exits. */
	{ HVT_EXIT, hvt_reason_name, HVT_R_NONE, HVT_REASON_MAX },
	{ HVT_VQ, hvt_vq_op_name, 1, HVT_VQ_OP_MAX },
	{ HVT_DISK, hvt_disk_op_name, 1, HVT_DISK_OP_MAX },
	{ HVT_IRQ, hvt_irq_op_name, 1, HVT_IRQ_OP_MAX },
	{ HVT_RING, hvt_ring_op_name, 1, HV_PVT_KIND_MAX },
	{ HVT_GDB, hvt_gdb_why_name, 1, HVT_GDB_WHY_MAX },
};
#define NVOCABS (sizeof vocabs / sizeof vocabs[0])

/* The vocabulary of KIND's reason byte, or NULL when the kind has none. run-return,
 * run-call and entry carry the exit reason of the exit they belong to ("none" around the
 * first entry), so they share the exit table. */
static const struct vocab *vocab_of_kind(int kind)
{
	if (kind == HVT_RUN_RETURN || kind == HVT_RUN_CALL || kind == HVT_ENTRY)
		kind = HVT_EXIT;
	for (size_t i = 0; i < NVOCABS; i++)
		if (vocabs[i].kind == kind)
			return &vocabs[i];
	return NULL;
}

/*
 * Resolve reason=WORD. With a kind the word must be in that kind's table. Without one, the
 * first table that knows the word decides, and the filter takes that kind too: the tables
 * share no name (checked by the unit tests), and an op value alone would match every kind
 * whose reason byte happens to hold the same number (notify = 1 = io).
 */
static int reason_resolve(const char *word, struct filter *f, char *err, size_t errlen)
{
	char allowed[512];
	if (f->kind >= 0) {
		const struct vocab *v = vocab_of_kind(f->kind);
		if (!v)
			return trace_fail(err, errlen,
				    "kind %s has no reason (reason= applies to exit, run-return, "
				    "run-call, entry, vq, disk, irq, ring)",
				    hvt_kind_name((unsigned)f->kind));
		f->reason = name_lookup(word, v->name, v->lo, v->hi);
		if (f->reason >= 0)
			return 0;
		names_list(allowed, sizeof allowed, v->name, v->lo, v->hi);
		return trace_fail(err, errlen, "unknown reason '%s' for kind %s (%s)", word,
			    hvt_kind_name((unsigned)f->kind), allowed);
	}
	for (size_t i = 0; i < NVOCABS; i++) {
		int r = name_lookup(word, vocabs[i].name, vocabs[i].lo, vocabs[i].hi);
		if (r >= 0) {
			f->reason = r;
			f->kind = vocabs[i].kind;
			return 0;
		}
	}
	names_list(allowed, sizeof allowed, hvt_reason_name, HVT_R_NONE, HVT_REASON_MAX);
	return trace_fail(err, errlen,
		    "unknown reason '%s' (exit reasons: %s; with kind=vq, disk, irq or ring: "
		    "that kind's ops)",
		    word, allowed);
}

/* ---- numbers and ranges ---- */

/*
 * One unsigned number, hex with 0x or decimal, the whole text and nothing else. strtoull
 * alone is too forgiving for a filter: it skips leading spaces, accepts "-5" (and returns
 * 2^64 - 5), stops quietly at the first bad digit ("3f8" in decimal is 3), and turns a number
 * too big for 64 bits into the maximum with errno = ERANGE. Each of those would give a
 * filter that silently matches something else than what was typed, so each is refused.
 */
static int number_parse(const char *s, uint64_t *out)
{
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	char *end;
	int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || *end || end == s || (base == 16 && end == s + 2))
		return -1;
	*out = v;
	return 0;
}

/* port=/addr=: "0x3f8", "1016", or "0x1f0-0x1f7" (inclusive, like the datasheets write it). */
static int range_parse(const char *key, const char *val, struct filter *f, char *err,
		       size_t errlen)
{
	char lo[64];
	const char *dash = strchr(val, '-');
	size_t n = dash ? (size_t)(dash - val) : strlen(val);
	if (n >= sizeof lo)
		n = sizeof lo - 1; /* too long to be a number: number_parse refuses the cut */
	memcpy(lo, val, n);
	lo[n] = '\0';
	uint64_t a, b;
	if (number_parse(lo, &a) < 0 || (dash && number_parse(dash + 1, &b) < 0))
		return trace_fail(err, errlen,
			    "bad %s '%s' (a number like 0x3f8 or 1016, or a range like "
			    "0x1f0-0x1f7)",
			    key, val);
	if (!dash)
		b = a;
	if (b < a)
		return trace_fail(err, errlen, "bad %s range '%s' (the low end comes first)", key, val);
	f->has_addr = 1;
	f->addr_lo = a;
	f->addr_hi = b;
	return 0;
}

/* vcpu=0, vcpu=iothread, vcpu=timer: the names `hv trace dump` prints in that column. */
static int vcpu_parse(const char *val, struct filter *f, char *err, size_t errlen)
{
	uint64_t v;
	if (strcasecmp(val, "iothread") == 0)
		f->vcpu = HVT_VCPU_IOTHREAD;
	else if (strcasecmp(val, "timer") == 0)
		f->vcpu = HVT_VCPU_TIMER;
	else if (number_parse(val, &v) == 0 && v < HVT_VCPU_TIMER)
		f->vcpu = (int)v;
	else
		return trace_fail(err, errlen, "bad vcpu '%s' (a vCPU number like 0, iothread or timer)",
			    val);
	return 0;
}

/* ---- words ---- */

static int kind_parse(const char *val, struct filter *f, char *err, size_t errlen)
{
	f->kind = name_lookup(val, hvt_kind_name, HVT_EXIT, HVT_KIND_MAX);
	if (f->kind >= 0)
		return 0;
	char allowed[256];
	names_list(allowed, sizeof allowed, hvt_kind_name, HVT_EXIT, HVT_KIND_MAX);
	return trace_fail(err, errlen, "unknown kind '%s' (%s)", val, allowed);
}

static int dev_parse(const char *val, struct filter *f, char *err, size_t errlen)
{
	/* From 1: VIZ_DEV_NONE ("-") is "no device", which no student would type. */
	f->dev = name_lookup(val, dev_name, VIZ_DEV_NONE + 1, VIZ_DEV_MAX - 1);
	if (f->dev >= 0)
		return 0;
	char allowed[256];
	names_list(allowed, sizeof allowed, dev_name, VIZ_DEV_NONE + 1, VIZ_DEV_MAX - 1);
	return trace_fail(err, errlen, "unknown device '%s' (%s)", val, allowed);
}

/* The keys a word may have, for the "unknown word" and "twice" errors. */
enum fkey { K_KIND, K_REASON, K_ADDR, K_DEV, K_VCPU, K_COUNT };
#define KEYS_ALLOWED "kind=, reason=, port=, addr=, dev=, vcpu="

static int key_of(const char *key, size_t n)
{
	static const struct { const char *name; enum fkey k; } keys[] = {
		{ "kind", K_KIND }, { "reason", K_REASON }, { "port", K_ADDR },
		{ "addr", K_ADDR }, { "dev", K_DEV },       { "vcpu", K_VCPU },
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strlen(keys[i].name) == n && strncasecmp(key, keys[i].name, n) == 0)
			return keys[i].k;
	return -1;
}

/*
 * One word "key=value". reason= is only remembered here and resolved after all words,
 * because its meaning depends on kind=, which may come later ("reason=read kind=disk").
 */
static int word_parse(const char *word, struct filter *f, int seen[K_COUNT], char *reason,
		      size_t reasonlen, char *err, size_t errlen)
{
	const char *eq = strchr(word, '=');
	int k = eq ? key_of(word, (size_t)(eq - word)) : -1;
	if (k < 0)
		return trace_fail(err, errlen, "unknown filter word '%s' (" KEYS_ALLOWED ")", word);
	const char *val = eq + 1;
	if (!*val)
		return trace_fail(err, errlen, "'%s' needs a value (for example kind=exit, port=0x3f8)",
			    word);
	/* Conditions are ANDed, so a second kind= could only ever match nothing: say so. */
	if (seen[k]++)
		return trace_fail(err, errlen, "'%s' repeats a condition (each of " KEYS_ALLOWED
			    " at most once; port= and addr= are the same)", word);
	switch (k) {
	case K_KIND:
		return kind_parse(val, f, err, errlen);
	case K_REASON:
		snprintf(reason, reasonlen, "%s", val);
		return 0;
	case K_ADDR:
		return range_parse(word[0] == 'p' || word[0] == 'P' ? "port" : "addr", val, f,
				   err, errlen);
	case K_DEV:
		return dev_parse(val, f, err, errlen);
	default:
		return vcpu_parse(val, f, err, errlen);
	}
}

static void filter_clear(struct filter *f)
{
	memset(f, 0, sizeof *f);
	f->kind = f->reason = f->dev = f->vcpu = -1;
}

int filter_parse(const char *text, struct filter *f, char *err, size_t errlen)
{
	/* Parse into a copy: a typo must not throw away the filter the student already had. */
	struct filter nf;
	filter_clear(&nf);
	while (*text == ' ' || *text == '\t')
		text++;
	size_t len = strlen(text);
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len >= sizeof nf.text)
		return trace_fail(err, errlen, "filter too long (at most %zu characters)",
			    sizeof nf.text - 1);
	memcpy(nf.text, text, len);
	nf.text[len] = '\0';

	/* Words are separated by blanks; strtok_r cuts a private copy, so nf.text keeps what
	 * the student typed for the header line and for editing the filter again with f. */
	char buf[sizeof nf.text];
	memcpy(buf, nf.text, len + 1);
	int seen[K_COUNT] = { 0 };
	char reason[sizeof nf.text] = "";
	char *save = NULL;
	for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (word_parse(w, &nf, seen, reason, sizeof reason, err, errlen) < 0)
			return -1;
	if (reason[0] && reason_resolve(reason, &nf, err, errlen) < 0)
		return -1;
	/* Only blanks typed: no condition at all, the same as no filter (every event listed). */
	nf.active = len > 0;
	*f = nf;
	return 0;
}

/* ---- matching ---- */

/*
 * Does the record's addr field hold a port or a guest-physical address? Only then can
 * port=/addr= match it: an exit for I/O (a port) or MMIO (an address), a guest error (the
 * port refused), and the virtqueue steps that read or write guest memory (the ring and
 * buffer addresses, hv/trace.h's HVT_VQ table). So `addr=<descriptor table>` finds every
 * step that touched the table. Elsewhere addr is a counter id, a sector, a file offset or
 * an IRQ line, and matching a port number against those would only mislead.
 */
static int record_has_addr(const struct hvt_record *r)
{
	switch (r->kind) {
	case HVT_EXIT:
		return r->reason == HVT_R_IO || r->reason == HVT_R_MMIO;
	case HVT_GUEST_ERROR:
		return 1;
	case HVT_VQ:
		return r->reason == HVT_VQ_NOTIFY || r->reason == HVT_VQ_READY ||
		       r->reason == HVT_VQ_AVAIL_IDX || r->reason == HVT_VQ_AVAIL_ENTRY ||
		       r->reason == HVT_VQ_DESC || r->reason == HVT_VQ_USED_ELEM ||
		       r->reason == HVT_VQ_USED_IDX || r->reason == HVT_VQ_ERROR;
	default:
		return 0;
	}
}

/*
 * All conditions must hold (an AND), so the cheapest, most selective tests go first: most
 * records of a trace are the exit/run-return/run-call/entry cycle, and kind= rejects three
 * of those four with one comparison. The reason byte is compared as a number: filter_parse
 * always sets kind together with reason, so "1" means io for exits and notify for vq steps
 * and can never mean both at once.
 */
int filter_match(const struct filter *f, const struct hvt_record *r)
{
	if (!f->active)
		return 1;
	if (f->kind >= 0 && r->kind != f->kind)
		return 0;
	if (f->reason >= 0 && r->reason != f->reason)
		return 0;
	if (f->vcpu >= 0 && r->vcpu != f->vcpu)
		return 0;
	if (f->has_addr && (!record_has_addr(r) || r->addr < f->addr_lo || r->addr > f->addr_hi))
		return 0;
	/* Last: working out the device costs a few comparisons more than the fields above. */
	if (f->dev >= 0 && (int)viz_device_of(r) != f->dev)
		return 0;
	return 1;
}

/* ---- search ---- */

/*
 * Search reads the line `hv trace dump` prints, not the record's fields: a student types
 * what they see ("port=0x3f8", "iothread", "Q4-loop"), and the same text found with grep
 * in a dump is found here. Hex digits print in lower case and names are lower case, so the
 * comparison ignores case: "PORT=0X3F8" finds the line too.
 */
int search_match(const char *needle, const struct hvt_record *r)
{
	if (!needle || !needle[0])
		return 0;
	/* The longest dump line (an exit with every flag) is under 250 bytes. */
	char line[512];
	trace_format_record(line, sizeof line, r);
	return strcasestr(line, needle) != NULL;
}
