/*
 * fuzz_viz.c - libFuzzer target: any trace file given to hvviz, its model and every view.
 *
 * Concept: hvviz reads a file from outside (a classmate's trace, a truncated download, a
 * crafted file) and then lets a person walk all over it: first and last event, search,
 * breakpoints, five views at two sizes. Every one of those reads fields hv never promised to
 * keep in range: time_ns, addr, data, count, arg, vcpu, size and flags are whatever the file
 * says. fuzz_trace.c already covers the reader's own checks; this target covers what comes
 * after them: the model's index (statistics, disk requests, virtqueue checkpoints), live
 * refresh of a growing file, and the views drawing on a headless ncurses screen.
 * AddressSanitizer and UndefinedBehaviorSanitizer turn a silent out-of-bounds read or an
 * overflow into a crash libFuzzer can report; the checks below (__builtin_trap) turn a wrong
 * answer into one too.
 * Build and run: make -f tests/fuzz/fuzz.mk fuzz-viz   (clang; not part of `make test`)
 * Textbook: appendix A "The trace format", section "Validation rules"; chapter 6 "Watching it
 * happen"; textbook appendix C, R6 (files from outside are validated like guest input).
 *
 * The input, and how it is made into a trace (so that mutations explore record contents
 * instead of dying at the reader's checks):
 *   - Input that starts with the magic "HVLTRACE" is a whole file. Byte 127 of its header
 *     (reserved, never checked by the reader) is this target's control byte:
 *       bit 0  raw: leave every record as it is, so the reader's rules (seq, kind, reason,
 *              mode) and the model's error paths are fuzzed too;
 *       bit 1  draw the app with a->live set (the title and bottom line of hv run --viz).
 *     Without bit 0 every whole record is repaired: seq := its index, and an out-of-range
 *     kind, reason or mode is folded into range (kind 1 + k % 10, and so on).
 *   - Any other input is a compact script, 8 bytes per record: byte 0 picks one of a few
 *     dozen record templates (an ATA register OUT, the virtio doorbell, each virtqueue step,
 *     the exit/run-return/run-call/entry cycle, disk, irq, ring, counter records), bytes 1-7
 *     fill its variable fields (slot, head, queue, size, time step, vcpu, flags). A valid
 *     version-3 header is put in front. Random bytes so become *meaningful* event sequences
 *     (a doorbell, then an ATA command, then a chain...), which raw 64-byte records almost
 *     never do by mutation: this is how the request cutter's ordering bugs are reached.
 *   So a mutation of any byte gives a *valid* trace with new field values, which is what the
 *   views must survive; the seeds (real traces, tests/viz/traces) keep their shape.
 *
 * One run: the file is written to a memfd (/proc/self/fd/N is its path), opened whole
 * (live = 0), then opened live from a prefix and grown in two appends with model_refresh
 * after each; the two models must agree on every count (a differential check of live
 * refresh). Then every reader API is called as a view would, and the app draws every view at
 * 80x24 and 120x40 with a script of keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout.h"
#include "dev/virtio_mmio.h" /* VIRTIO_BLK_NOTIFY_OFFSET */
#include "model.h"
#include "sixstep.h"
#include "viz.h"
#include "trace_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* At most this many records go through the per-record printers: bounded time per input. */
#define PER_RECORD_MAX 4096u

/* Control bits (header byte 127 of an input that has a header). */
#define CTL_RAW  0x01u
#define CTL_LIVE 0x02u

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A header hv's reader accepts: version 3, 64-byte records, a VMX host. */
static void header_make(uint8_t *h)
{
	memset(h, 0, HVT_HEADER_SIZE);
	memcpy(h, HVT_MAGIC, 8);
	put_le32(h + 8, HVT_VERSION);
	put_le32(h + 12, HVT_RECORD_SIZE);
	put_le32(h + 16, HVT_HEADER_SIZE);
	put_le32(h + 20, HVT_HOST_VMX);
	memcpy(h + 32, "fuzz.bin", 8);
}

/* Fold one on-disk record into what trace_record_check accepts (offsets: hv/trace.h). */
static void record_repair(uint8_t *p, uint64_t index)
{
	put_le64(p, index);
	uint8_t *kind = p + 18, *reason = p + 19, *mode = p + 22;
	if (*kind < 1 || *kind > HVT_KIND_MAX)
		*kind = (uint8_t)(1 + *kind % HVT_KIND_MAX);
	unsigned max = *kind == HVT_VQ ? HVT_VQ_OP_MAX : *kind == HVT_DISK ? HVT_DISK_OP_MAX :
		       *kind == HVT_IRQ ? HVT_IRQ_OP_MAX : HVT_REASON_MAX;
	if (*reason > max)
		*reason = (uint8_t)(*reason % (max + 1));
	if (*mode > HVT_MODE_MAX)
		*mode = (uint8_t)(*mode % (HVT_MODE_MAX + 1));
}

/* Templates of the compact script: kind, reason, addr, flags, size. */
struct tmpl {
	uint8_t kind, reason, size;
	uint32_t flags;
	uint64_t addr;
};
#define NOTIFY_GPA ((uint64_t)HV_MMIO_VIRTIO_BLK + VIRTIO_BLK_NOTIFY_OFFSET)
static const struct tmpl tmpls[] = {
	{ HVT_EXIT, HVT_R_IO, 1, HVT_F_WRITE, HV_PORT_ATA_CMD },       /* + b2 % 8: taskfile */
	{ HVT_EXIT, HVT_R_IO, 1, HVT_F_WRITE, HV_PORT_ATA_CMD + 7 },   /* ATA command */
	{ HVT_EXIT, HVT_R_MMIO, 4, HVT_F_WRITE, NOTIFY_GPA },         /* virtio doorbell */
	{ HVT_RUN_RETURN, 0, 0, 0, 0 },
	{ HVT_RUN_CALL, 0, 0, 0, 0 },
	{ HVT_ENTRY, 0, 0, HVT_F_TIME_BOUND, 0 },
	{ HVT_VQ, HVT_VQ_NOTIFY, 0, HVT_F_EVENTFD, NOTIFY_GPA },
	{ HVT_VQ, HVT_VQ_READY, 0, 0, 0x125000 },
	{ HVT_VQ, HVT_VQ_AVAIL_IDX, 0, 0, 0x126002 },
	{ HVT_VQ, HVT_VQ_AVAIL_ENTRY, 0, 0, 0x126004 },
	{ HVT_VQ, HVT_VQ_DESC, 0, 0, 0x200000 },
	{ HVT_VQ, HVT_VQ_REQUEST, 0, 0, 0 },
	{ HVT_VQ, HVT_VQ_USED_ELEM, 0, 0, 0x127004 },
	{ HVT_VQ, HVT_VQ_USED_IDX, 0, 0, 0x127002 },
	{ HVT_VQ, HVT_VQ_RESET, 0, 0, 0 },
	{ HVT_VQ, HVT_VQ_IRQ_RAISE, 0, 0, 0 },
	{ HVT_DISK, HVT_DISK_READ, HVT_DISK_VIRTIO, 0, 0 },
	{ HVT_IRQ, HVT_IRQ_INJECT, 0, 0, 14 },
	{ HVT_RING, 1, 0, HVT_F_GUEST_CLOCK, 0x80 },
	{ HVT_EXIT, HVT_R_IO, 1, 0, 0x3F8 },                          /* + b2 % 8: uart IN */
	{ HVT_EXIT, HVT_R_HLT, 0, 0, 0 },
	{ HVT_COUNTER, 0, 0, 0, HVT_C_EXITS },
	{ HVT_GUEST_ERROR, 0, 0, 0, 0x1F7 },
	{ HVT_EXIT, HVT_R_MMIO, 4, 0, HV_MMIO_VIRTIO_BLK },           /* + b2 * 4: a register */
};
#define NTMPLS (sizeof tmpls / sizeof tmpls[0])

/*
 * One record of the compact script: b[0] the template, b[1] flag bits to toggle (only when
 * its top bit is set, so most records keep the template's flags), b[2]-b[4] the variable
 * fields, b[5] the queue (or access size), b[6] the time step, b[7] the vcpu.
 */
static void record_from_script(const uint8_t *b, uint64_t index, uint64_t *time, uint8_t *p)
{
	const struct tmpl *t = &tmpls[b[0] % NTMPLS];
	struct hvt_record r;
	memset(&r, 0, sizeof r);
	*time += (uint64_t)b[6] * 97;
	r.time_ns = b[6] == 0xFF ? *time - (*time > 500 ? 500 : 0) : *time; /* now and then back */
	r.kind = t->kind;
	r.reason = t->reason;
	r.size = t->size;
	r.flags = t->flags ^ (b[1] & 0x80 ? b[1] & 0x7Fu : 0);
	r.addr = t->addr;
	r.count = 1;
	r.vcpu = b[7] >= 0xFE ? (uint16_t)(0xFF00u | b[7]) : (uint16_t)(b[7] & 3);
	r.mode = (uint8_t)(b[5] % (HVT_MODE_MAX + 1));
	r.cpl = b[5] >> 6;
	r.rip = 0x1000u + b[4];
	uint32_t slot = b[2], head = b[3];
	switch (r.kind) {
	case HVT_EXIT:
		if (r.addr == HV_PORT_ATA_CMD || r.addr == 0x3F8)
			r.addr += b[2] % 8;
		else if (r.addr == HV_MMIO_VIRTIO_BLK)
			r.addr += (uint64_t)b[2] * 4;
		r.data = b[3];
		if (b[5] & 0x20)
			r.size = (uint8_t)(1u << (b[5] & 3));
		if (r.reason == HVT_R_HLT)
			r.reason = (uint8_t)(b[2] % (HVT_REASON_MAX + 1));
		r.duration_ns = (uint64_t)b[4] * 1000;
		break;
	case HVT_VQ:
		r.size = (uint8_t)(b[5] % 3); /* queue 0, 1, or 2 (beyond what the index keeps) */
		r.vcpu = b[7] & 1 ? HVT_VCPU_IOTHREAD : 0;
		switch (r.reason) {
		case HVT_VQ_READY:
			r.count = b[2] & 0x80 ? (uint32_t)b[2] << 1 : 1u << (b[2] % 9); /* 1..256, odd */
			r.data = 0x126000;
			r.arg = 0x127000;
			break;
		case HVT_VQ_AVAIL_IDX: r.data = head; r.count = slot; break;
		case HVT_VQ_AVAIL_ENTRY: r.count = slot; r.data = head; break;
		case HVT_VQ_DESC: r.count = slot; r.data = 512u * b[4]; r.arg = (uint64_t)b[1] | (uint64_t)head << 16; break;
		case HVT_VQ_REQUEST: r.addr = slot; r.data = 512u * b[4]; r.count = head; r.arg = b[1] % 10; break;
		case HVT_VQ_USED_ELEM: r.count = slot; r.arg = head; r.data = b[4]; break;
		case HVT_VQ_USED_IDX: r.data = slot; break;
		default: break;
		}
		break;
	case HVT_DISK:
		r.reason = (uint8_t)(1 + b[2] % HVT_DISK_OP_MAX);
		r.addr = (uint64_t)b[3] * 512;
		r.data = 512u * b[4];
		r.size = (uint8_t)(1 + (b[5] & 1));
		break;
	case HVT_IRQ:
		r.reason = (uint8_t)(1 + b[2] % HVT_IRQ_OP_MAX);
		r.addr = b[3] % 16;
		r.data = b[4] & 1;
		r.count = 0x20u + b[3] % 16;
		break;
	case HVT_RING:
		r.reason = (uint8_t)(b[2] % (HVT_REASON_MAX + 1));
		r.cpl = b[3] & 3;
		r.size = (b[3] >> 2) & 3;
		r.data = (uint64_t)b[4] << 32 | b[1];
		r.count = b[7];
		break;
	case HVT_COUNTER:
		r.addr = b[2] % (HVT_C_MAX + 3);
		r.data = (uint64_t)b[3] << 8 | b[4];
		break;
	default:
		r.addr += b[2];
		r.data = b[3];
		break;
	}
	r.seq = index;
	/* The on-disk layout is the struct's (little-endian, no padding: trace.h). */
	memcpy(p, &r, HVT_RECORD_SIZE);
}

/* The file's bytes from the input (see the comment at the top). Caller frees. */
static uint8_t *file_make(const uint8_t *data, size_t size, size_t *len, unsigned *ctl)
{
	int has_header = size >= 8 && memcmp(data, HVT_MAGIC, 8) == 0;
	size_t n = has_header ? size : HVT_HEADER_SIZE + size / 8 * HVT_RECORD_SIZE;
	uint8_t *f = malloc(n);
	if (!f)
		return NULL;
	*ctl = has_header && size >= HVT_HEADER_SIZE ? data[HVT_HEADER_SIZE - 1] : 0;
	if (!has_header) {
		header_make(f);
		uint64_t time = 0;
		for (size_t i = 0; i < size / 8; i++)
			record_from_script(data + 8 * i, i, &time,
					   f + HVT_HEADER_SIZE + i * HVT_RECORD_SIZE);
		*len = n;
		return f;
	}
	memcpy(f, data, size);
	if (!(*ctl & CTL_RAW))
		for (size_t i = 0; n >= HVT_HEADER_SIZE && i < (n - HVT_HEADER_SIZE) / HVT_RECORD_SIZE; i++)
			record_repair(f + HVT_HEADER_SIZE + i * HVT_RECORD_SIZE, i);
	*len = n;
	return f;
}

static int fd_append(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A memfd holding bytes [0, n) of f; *path names it for model_open. */
static int memfd_with(const uint8_t *f, size_t n, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz-viz", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fd_append(fd, f, n) < 0) {
		close(fd);
		return -1;
	}
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

/* ---- oracles: what must hold for any model, whatever the file said ---- */

/* Field by field: struct padding is not part of the state. */
static int vq_state_same(const struct vq_state *a, const struct vq_state *b)
{
	return a->ready == b->ready && a->size == b->size && a->desc_gpa == b->desc_gpa &&
	       a->avail_gpa == b->avail_gpa && a->used_gpa == b->used_gpa &&
	       a->avail_idx == b->avail_idx && a->last_avail == b->last_avail &&
	       a->used_idx == b->used_idx && a->requests == b->requests &&
	       a->notifies == b->notifies && a->interrupts == b->interrupts &&
	       a->last_seq == b->last_seq &&
	       memcmp(a->desc, b->desc, sizeof a->desc) == 0 &&
	       memcmp(a->avail, b->avail, sizeof a->avail) == 0 &&
	       memcmp(a->used, b->used, sizeof a->used) == 0;
}

static void check_same_requests(const struct requests *a, const struct requests *b)
{
	CHECK(a->n == b->n);
	CHECK(a->setup_exits == b->setup_exits && a->setup_transitions == b->setup_transitions);
	for (size_t i = 0; i < a->n; i++)
		CHECK(memcmp(&a->v[i], &b->v[i], sizeof a->v[i]) == 0);
}

/* Two models of the same records: a live one grown in pieces and one opened whole. */
static void check_same_model(const struct model *a, const struct model *b)
{
	CHECK(a->count == b->count);
	CHECK(memcmp(&a->stats, &b->stats, sizeof a->stats) == 0);
	check_same_requests(&a->requests, &b->requests);
	CHECK(a->vq.fed == b->vq.fed && a->vq.n == b->vq.n);
	CHECK(a->vq.vq_records == b->vq.vq_records && a->vq.queues_seen == b->vq.queues_seen);
	for (unsigned q = 0; q < VQ_MAX_QUEUES; q++)
		CHECK(vq_state_same(&a->vq.cur[q], &b->vq.cur[q]));
}

/*
 * The requests cut the trace into contiguous pieces after the set-up: each starts where the
 * previous ends, none is empty, the last ends at the trace's end; and every exit and
 * transition is charged exactly once, to a request or to the set-up.
 */
static void check_requests(const struct model *m)
{
	const struct requests *rq = &m->requests;
	const struct model_stats *s = &m->stats;
	uint64_t exits = rq->setup_exits, trans = rq->setup_transitions;
	for (size_t i = 0; i < rq->n; i++) {
		const struct request *q = &rq->v[i];
		CHECK(q->start < q->end && q->end <= m->count);
		if (i + 1 < rq->n)
			CHECK(q->end == rq->v[i + 1].start);
		else
			CHECK(q->end == m->count);
		CHECK(q->exits <= q->end - q->start && q->transitions <= q->end - q->start);
		CHECK(q->type <= REQ_ID);
		exits += q->exits;
		trans += q->transitions;
	}
	CHECK(exits == s->by_kind[HVT_EXIT]);
	CHECK(trans == s->by_kind[HVT_EXIT] + s->by_kind[HVT_RUN_RETURN] +
		       s->by_kind[HVT_RUN_CALL] + s->by_kind[HVT_ENTRY] + s->by_kind[HVT_RING]);
	if (rq->n > 0)
		CHECK(rq->setup_exits + rq->setup_transitions <= rq->v[0].start * 2);
}

/* Every by-kind count adds up to the records, and each table agrees with its kind. */
static void check_stats(const struct model *m)
{
	const struct model_stats *s = &m->stats;
	uint64_t total = 0, exits = 0, devs = 0;
	for (unsigned k = 0; k <= HVT_KIND_MAX; k++)
		total += s->by_kind[k];
	CHECK(total == m->count && s->by_kind[0] == 0);
	for (unsigned r = 0; r <= HVT_REASON_MAX; r++)
		exits += s->exits_by_reason[r];
	for (unsigned d = 0; d < VIZ_DEV_MAX; d++)
		devs += s->exits_by_device[d];
	CHECK(exits == s->by_kind[HVT_EXIT] && devs == exits);
}

static int match_kind(const struct hvt_record *r, void *arg)
{
	return r->kind == *(const uint8_t *)arg;
}

static void check_vq_state(const struct vq_state *s)
{
	CHECK(s->size <= VIRTQ_NUM_MAX);
	CHECK(s->ready == 0 || s->ready == 1);
}

/* What a view reads, read directly: records, searches, virtqueue states, per-record text. */
static void exercise_model(const struct model *m, uint64_t pick)
{
	struct hvt_record r;
	uint64_t n = m->count;
	uint64_t at[] = { 0, n / 2, n ? n - 1 : 0, n, n + 1, pick % (n + 1), MODEL_NONE };
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		model_get(m, at[i], &r);
		if (at[i] >= n)
			CHECK(r.kind == 0); /* past the end: the all-zero record */
		else
			CHECK(r.seq == at[i]);
		for (unsigned q = 0; q <= VQ_MAX_QUEUES; q++) {
			struct vq_state s;
			int rc = vq_state_at(m, q, at[i], &s);
			CHECK(rc == (q < VQ_MAX_QUEUES ? 0 : -1));
			if (rc == 0)
				check_vq_state(&s);
		}
	}
	/* The state after the last record is the running state the index kept. */
	if (n > 0) {
		struct vq_state s;
		vq_state_at(m, 0, n - 1, &s);
		CHECK(vq_state_same(&s, &m->vq.cur[0]));
		/* and replaying from the start to the middle gives the same as the index */
		struct vq_state replay;
		vq_state_init(&replay);
		uint64_t mid = pick % n;
		for (uint64_t i = 0; i <= mid && mid < VQ_CHECKPOINT_EVERY; i++) {
			model_get(m, i, &r);
			vq_apply(&replay, 0, &r);
		}
		vq_state_at(m, 0, mid, &s);
		if (mid < VQ_CHECKPOINT_EVERY)
			CHECK(vq_state_same(&s, &replay));
	}
	/* model_find both ways from the edges, for a kind that is there and one that is not. */
	uint8_t kinds[] = { HVT_EXIT, HVT_VQ, (uint8_t)(1 + pick % HVT_KIND_MAX), 0 };
	uint64_t from[] = { MODEL_NONE, 0, n / 2, n ? n - 1 : 0, n, n + 7 };
	for (size_t k = 0; k < sizeof kinds; k++)
		for (size_t f = 0; f < sizeof from / sizeof from[0]; f++)
			for (int dir = -1; dir <= 1; dir++) {
				uint64_t hit = model_find(m, from[f], dir, match_kind, &kinds[k]);
				if (hit == MODEL_NONE)
					continue;
				CHECK(dir != 0 && hit < n && kinds[k] != 0);
				model_get(m, hit, &r);
				CHECK(r.kind == kinds[k]);
				if (dir > 0 && from[f] != MODEL_NONE)
					CHECK(hit > from[f]);
				if (dir < 0)
					CHECK(hit < from[f]);
			}
	/* Per record: the dump line (also cut short), the Path view's step, filter and search. */
	struct filter fl;
	char err[256];
	static const char *const filters[] = {
		"kind=exit reason=io", "dev=virtio-blk", "port=0x1f0-0x1f7", "vcpu=iothread",
		"reason=notify", "kind=ring", "addr=0-0xffffffffffffffff", "dev=unclaimed vcpu=0",
	};
	CHECK(filter_parse(filters[pick % 8], &fl, err, sizeof err) == 0);
	/* The header's guest name is text from the file: as a filter a student could type, and
	 * as a search. A refused filter must say why in one line and keep nothing. */
	struct filter typed;
	memset(err, 'x', sizeof err);
	int typed_ok = filter_parse(m->header.guest, &typed, err, sizeof err) == 0;
	if (!typed_ok)
		CHECK(err[0] != 'x' && memchr(err, '\0', sizeof err) && !strchr(err, '\n'));
	uint64_t lim = n < PER_RECORD_MAX ? n : PER_RECORD_MAX;
	for (uint64_t i = 0; i < lim; i++) {
		char line[512], tiny[9];
		model_get(m, i, &r);
		trace_format_record(line, sizeof line, &r);
		CHECK(memchr(line, '\0', sizeof line) != NULL && !strchr(line, '\n'));
		memset(tiny, 'x', sizeof tiny);
		trace_format_record(tiny, sizeof tiny, &r);
		CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);
		struct path_step ps;
		memset(&ps, 'x', sizeof ps);
		sixstep_classify(&r, &ps);
		CHECK(ps.from >= LANE_NONE && ps.from < LANE_COUNT);
		CHECK(ps.to >= LANE_NONE && ps.to < LANE_COUNT);
		CHECK(ps.step >= 0 && ps.step <= 6);
		CHECK(memchr(ps.title, '\0', sizeof ps.title) && memchr(ps.explain, '\0', sizeof ps.explain));
		CHECK(lane_name(ps.from) && lane_where(ps.to));
		(void)viz_device_name(viz_device_of(&r));
		int fm = filter_match(&fl, &r);
		CHECK(fm == 0 || fm == 1);
		CHECK(search_match(line, &r)); /* a line is found by itself (lower case) */
		(void)search_match("port=0x1f7", &r);
		(void)search_match(m->header.guest, &r);
		if (typed_ok)
			(void)filter_match(&typed, &r);
		CHECK(!search_match("", &r));
	}
}

/* ---- drawing: the app on a headless screen ---- */

static SCREEN *screen_get(void)
{
	static SCREEN *s;
	if (!s) {
		FILE *out = fopen("/dev/null", "w");
		FILE *in = fopen("/dev/null", "r");
		if (!out || !in)
			abort();
		/* A fixed terminal type, as hvviz --screen uses: nothing depends on $TERM. */
		s = newterm("xterm", out, in);
		if (!s)
			abort();
	}
	return s;
}

static void type_text(struct app *a, const char *text)
{
	for (const char *c = text; *c; c++)
		app_key(a, (unsigned char)*c);
}

/* Keys a student presses, each followed by a draw. Text after a prompt key is typed. */
static void keys_script(struct app *a, uint64_t pick)
{
	static const char *const searches[] = { "x", "io", "0x1f7", "ring", "notify", "vcpu0" };
	static const char *const filters[] = { "kind=exit", "dev=ata", "reason=desc",
					       "port=0x3f8-0x3ff", "bogus=1", "vcpu=timer" };
	const int keys[] = {
		KEY_END, KEY_HOME, '\t', '\t', '\t', '\t', '\t', '/', -1, '\n', 'n', 'N',
		'b', 'c', 'm', 'b', '2', '>', '>', 'j', 'j', KEY_NPAGE, 'k', KEY_PPAGE, 'f', -2, '\n', KEY_END,
		KEY_UP, 'F', '3', ']', ']', '[', KEY_DOWN, 'l', KEY_END, '4', ' ', ' ', KEY_LEFT,
		KEY_END, KEY_HOME, '5', KEY_DOWN, KEY_NPAGE, '1', 'g', -3, '\n', ' ', 'h', '?',
		KEY_NPAGE, 'j', 27, 'w', KEY_BTAB, KEY_RESIZE, 'Z', '2', 'f', -4, '\n', KEY_END,
		'd', KEY_END, 'm', KEY_HOME, 'd', '<', '4', '>', 'd', 'f', PROMPT_CTRL_W, PROMPT_CTRL_U,
		27, KEY_HOME, 'q',
	};
	char num[32];
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (keys[i] == -1)
			type_text(a, searches[pick % 6]);
		else if (keys[i] == -2)
			type_text(a, filters[(pick / 7) % 6]);
		else if (keys[i] == -4)
			type_text(a, app_model(a)->header.guest);
		else if (keys[i] == -3) {
			snprintf(num, sizeof num, "%llu", (unsigned long long)(pick % (app_model(a)->count + 2)));
			type_text(a, num);
		} else
			app_key(a, keys[i]);
		app_draw(a);
	}
}

/*
 * Every view drawn as it opens at 80x24, 120x40 and too small (79x23); the key script at
 * 80x24, drawing after each key (the keys move the state each view draws from). Drawing is
 * most of this target's time, so the compare app (two traces) gets the views and a short
 * script only.
 */
static void exercise_app(struct model **ms, int n, int live, uint64_t pick)
{
	screen_get();
	static const int sizes[][2] = { { 24, 80 }, { 40, 120 }, { 23, 79 } };
	for (size_t s = 0; s < 3; s++) {
		resize_term(sizes[s][0], sizes[s][1]);
		struct app a;
		app_init(&a, ms, n);
		a.live = live;
		ui_init_colors(&a);
		for (int v = 0; v < VIEW_COUNT; v++) {
			a.view = v;
			app_draw(&a);
		}
		a.view = n == 2 ? VIEW_COMPARE : VIEW_PATH;
		if (s == 0 && n == 1) {
			keys_script(&a, pick);
		} else if (s < 2) {
			static const int few[] = { KEY_END, '4', ' ', KEY_HOME, ' ', ' ', KEY_LEFT,
						   KEY_END, 'j', '2', KEY_END, '3', '5', KEY_NPAGE };
			for (size_t k = 0; k < sizeof few / sizeof few[0]; k++) {
				app_key(&a, few[k]);
				app_draw(&a);
			}
		}
		app_free(&a);
	}
}

/* ---- one input ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	unsigned ctl;
	uint8_t *f = file_make(data, size, &len, &ctl);
	if (!f)
		return 0;
	/* A number from the input picking positions, filters and split points. */
	uint64_t pick = size;
	for (size_t i = 0; i < size && i < 16; i++)
		pick = pick * 131 + data[size - 1 - i];

	char path[64], err[512];
	struct model whole, live, ref;

	/* 1. Opened whole: a rejection is one line and leaves nothing open. */
	int fd = memfd_with(f, len, path, sizeof path);
	if (fd < 0)
		goto out;
	memset(err, 'x', sizeof err);
	int whole_ok = model_open(&whole, path, 0, err, sizeof err) == 0;
	if (!whole_ok)
		CHECK(err[0] != 'x' && memchr(err, '\0', sizeof err) && !strchr(err, '\n') &&
		      whole.map == NULL && whole.fd == -1 && whole.count == 0);
	close(fd);

	/* 2. Live: opened from a prefix (at least the header: hv writes it first, in one
	 * write), then two appends, each split anywhere, even inside a record. */
	if (len < HVT_HEADER_SIZE) {
		if (whole_ok)
			model_close(&whole);
		goto out;
	}
	size_t body = len - HVT_HEADER_SIZE;
	size_t cut1 = HVT_HEADER_SIZE + (body ? pick % (body + 1) : 0);
	size_t cut2 = cut1 + (len - cut1 ? (pick >> 20) % (len - cut1 + 1) : 0);
	int lfd = memfd_with(f, cut1, path, sizeof path);
	if (lfd < 0) {
		if (whole_ok)
			model_close(&whole);
		goto out;
	}
	int live_ok = model_open(&live, path, 1, err, sizeof err) == 0;
	int live_bad = 0; /* a refresh refused a record */
	if (live_ok) {
		CHECK(model_refresh(&live, err, sizeof err) == 0); /* nothing new yet */
		size_t cuts[] = { cut2, len };
		size_t have = cut1;
		for (int c = 0; c < 2 && !live_bad; c++) {
			uint64_t before = live.count;
			if (fd_append(lfd, f + have, cuts[c] - have) < 0)
				break;
			have = cuts[c];
			int64_t got = model_refresh(&live, err, sizeof err);
			if (got < 0)
				live_bad = 1;
			else
				CHECK((uint64_t)got == live.count - before &&
				      live.count == (have - HVT_HEADER_SIZE) / HVT_RECORD_SIZE);
		}
		/* The whole file opened iff the live model took every record and no byte is left
		 * half a record; then both models must be identical. */
		if (whole_ok) {
			CHECK(!live_bad);
			check_same_model(&live, &whole);
		} else if (!live_bad) {
			CHECK(body % HVT_RECORD_SIZE != 0); /* only a partial tail is refused */
		}
	} else {
		/* Same header, and the prefix's records are the whole file's first ones: the live
		 * open fails only where the whole one does. */
		CHECK(!whole_ok);
	}
	close(lfd);

	/* 3. The model the views get: the live one (every record checked so far). A reference
	 * opened whole from exactly those records must match it. */
	struct model *m = live_ok ? &live : whole_ok ? &whole : NULL;
	if (m) {
		check_stats(m);
		check_requests(m);
		if (live_ok) {
			size_t rlen = HVT_HEADER_SIZE + (size_t)live.count * HVT_RECORD_SIZE;
			int rfd = memfd_with(f, rlen, path, sizeof path);
			if (rfd >= 0) {
				/* live's header re-read can differ only in bytes the model ignores */
				if (model_open(&ref, path, 0, err, sizeof err) == 0) {
					check_same_model(&live, &ref);
					model_close(&ref);
				} else {
					CHECK(0); /* live accepted these records: whole must too */
				}
				close(rfd);
			}
		}
		exercise_model(m, pick);
		struct model *ms[2] = { m, whole_ok ? &whole : m };
		exercise_app(ms, 1, (ctl & CTL_LIVE) != 0, pick);
		exercise_app(ms, 2, 0, pick >> 8);
	}
	if (live_ok)
		model_close(&live);
	if (whole_ok)
		model_close(&whole);
out:
	free(f);
	return 0;
}
