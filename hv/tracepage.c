/*
 * tracepage.c - hv's side of the para-virtual trace page: the guest kernel writes a record at
 * every ring change into a page of its own RAM, and hv copies them into the trace whenever
 * the guest stops anyway.
 *
 * Concept: what hv cannot see. A system call inside the guest (ring 3 -> ring 0 -> ring 3)
 * never leaves the guest: the CPU switches rings through the guest's own IDT and TSS, in
 * non-root mode, and KVM is not involved. So the six steps of chapter 3 have a first step no
 * VMM can observe. A guest that cooperates can *tell* the host, the way para-virtualized
 * guests tell KVM about their clock (kvmclock) or their stolen time: a shared page, registered
 * once with one exit, then filled with no exits at all (pvtrace.h has the protocol). hv reads
 * it at each VM exit, when the vCPU is stopped and the page cannot change under it, and puts
 * the records into the trace *before* that exit's own record: the guest wrote them before it
 * exited, so that is where they happened.
 * Textbook: chapter 5 "A guest OS", section "Seeing ring changes: the trace page".
 *
 * The page belongs to the guest, and a guest may be hostile. Rows of textbook appendix C:
 *   P1  the registered address must be page-aligned and the whole page guest RAM
 *   P2  the header's magic, version, record size and capacity must stay what they were; a
 *       damaged header is reported once and the page is not read until it is repaired
 *   P3  head - tail may not exceed capacity: a head that "jumped" (or went backwards, which
 *       in unsigned arithmetic is a huge jump) is reported, and hv skips to it
 *   P4  a record with an unknown kind or a CPL above 3 is reported and skipped
 * Every read goes through gm_read (the one checked path into guest memory), at most
 * `capacity` records are read per drain, and nothing is allocated: a guest cannot make hv
 * read outside its RAM, loop, or grow. Each report is one HVT_GUEST_ERROR record.
 */
#include "tracepage.h"

#include <stddef.h>
#include <string.h>

#include "layout.h"
#include "trace_write.h"

void tracepage_init(struct tracepage *tp, const struct guest_mem *gm, struct trace_writer *trace)
{
	memset(tp, 0, sizeof(*tp));
	tp->gm = gm;
	tp->trace = trace;
}

/* One guest error: counted, and traced. `now` means "before the exit record" (found while
 * draining); otherwise it goes out with the exit's device steps (found by the port). */
/* The record reads as an access to the pvtrace port (reason io, addr HV_PORT_PVTRACE), like the
 * OUT that registered the page; data is enum tracepage_error and arg what was wrong. */
static void tp_error(struct tracepage *tp, enum tracepage_error why, uint64_t arg, bool now)
{
	tp->errors++;
	if (!tp->trace)
		return;
	struct hvt_record r = {
		.time_ns = trace_now(tp->trace), .vcpu = trace_thread_id(),
		.kind = HVT_GUEST_ERROR, .reason = HVT_R_IO, .size = 4, .addr = HV_PORT_PVTRACE,
		.data = why, .arg = arg, .count = 1, .flags = HVT_F_WRITE,
	};
	if (now)
		trace_emit_now(tp->trace, &r);
	else
		trace_emit(tp->trace, &r);
}

/* P2: is this the header the protocol promises? */
static bool header_ok(const struct hv_pvtrace_header *h)
{
	return h->magic == HV_PVTRACE_MAGIC && h->version == HV_PVTRACE_VERSION &&
	       h->record_size == HV_PVTRACE_REC_SIZE && h->capacity == HV_PVTRACE_CAPACITY;
}

/*
 * Registration (and "drain me"): the guest OUTs the page's address. A new address starts a
 * new page: hv takes the guest's head as its starting point, so records written before the
 * registration are not read. The same address again only asks for the drain that every exit
 * does anyway (vcpu.c drains before handling the exit): nothing more to do here.
 */
static void tp_register(struct tracepage *tp, uint64_t gpa)
{
	struct hv_pvtrace_header h = { 0 };
	if (tp->page && gpa == tp->page)
		return;
	/* P1: aligned, and every byte of the page is RAM (gm_ptr checks the whole range). */
	if (gpa == 0 || (gpa & (HV_PVTRACE_PAGE - 1)) || !gm_ptr(tp->gm, gpa, HV_PVTRACE_PAGE)) {
		tp_error(tp, TP_GE_BAD_ADDRESS, gpa, false);
		return;
	}
	if (gm_read(tp->gm, gpa, &h, sizeof h) < 0 || !header_ok(&h)) {
		tp_error(tp, TP_GE_BAD_HEADER, h.magic, false);
		return;
	}
	/*
	 * hv starts from the guest's head and from then on keeps its own tail: the tail field in
	 * the page is only ever written by hv, for the guest to read, and never read back. A
	 * guest that rewrote it could otherwise make hv read old slots again or skip new ones.
	 * A valid registration at another address replaces the first page; an invalid one
	 * (above) leaves it in place.
	 */
	tp->page = gpa;
	tp->tail = h.head;
	tp->header_bad = false;
	tp->registrations++;
}

static void tracepage_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	(void)dev, (void)offset;
	memset(data, 0xFF, size); /* nothing to read: all ones, as from an empty bus */
}

static void tracepage_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct tracepage *tp = dev;
	/* x86 has no 64-bit OUT: the page address is one 32-bit value, so the page must lie below
	 * 4 GiB, which every hvlab guest's RAM does. */
	uint32_t gpa;
	if (offset != 0 || size != 4) {
		tp_error(tp, TP_GE_BAD_WIDTH, offset << 8 | size, false);
		return;
	}
	memcpy(&gpa, data, 4);
	tp_register(tp, gpa);
}

const struct device_ops tracepage_ops = {
	.name = "pvtrace",
	.read = tracepage_read,
	.write = tracepage_write,
	.reset = NULL,
};

/*
 * At every exit: is the header intact (P2), and how many records are new? A head that claims
 * more than the ring holds (P3) is reported and hv skips to it. Reading 64 bytes per exit is
 * the whole cost of the page when the guest wrote nothing.
 */
unsigned tracepage_poll(struct tracepage *tp)
{
	struct hv_pvtrace_header h = { 0 };
	if (!tp->page || gm_read(tp->gm, tp->page, &h, sizeof h) < 0)
		return 0; /* nothing registered (P1 made sure a registered page is RAM) */
	if (!header_ok(&h)) {
		if (!tp->header_bad) /* P2: once per damage, not once per exit */
			tp_error(tp, TP_GE_BAD_HEADER, h.magic, true);
		tp->header_bad = true;
		return 0;
	}
	tp->header_bad = false;
	/*
	 * head and tail are free-running counts, not slot numbers. Across the wrap: tail
	 * 0xFFFFFFFE and head 3 give n = 5 (mod 2^32), and the slots those five records sit in,
	 * counter % 64, run 62, 63, 0, 1, 2 without a gap, because 64 divides 2^32 (pvtrace.h).
	 * A head that went backwards wraps to a huge n, which the next test catches.
	 */
	uint32_t n = h.head - tp->tail; /* unsigned: correct across the 2^32 wrap */
	if (n > HV_PVTRACE_CAPACITY) {
		/* P3: the guest claims more records than the ring holds. Skip to its head. */
		tp_error(tp, TP_GE_HEAD_JUMP, n, true);
		/* The records in between are not read: their slots may already hold newer ones,
		 * and their order is lost. Setting tail gives the guest its whole ring back. */
		tp->tail = h.head;
		gm_write(tp->gm, tp->page + offsetof(struct hv_pvtrace_header, tail), &tp->tail, 4);
		return 0;
	}
	return n;
}

/*
 * The clock. A record carries the guest's TSC; hv knows, at this drain, the guest's TSC and
 * its own trace clock at (nearly) the same instant, and the TSC's rate. A record `delta` ticks
 * older than now happened delta / tsc_khz milliseconds before now. The error is the time
 * between the two reads of "now" (one ioctl, a microsecond or two) plus the rate's rounding to
 * whole kHz (under 1 ppm of delta). The result is then held inside [floor, ceil], the last VM
 * entry and this exit, between which the guest wrote the record for certain, and never before
 * the previous record: so the order in the file is always the order of events.
 */
static uint64_t record_time(struct tracepage *tp, const struct tracepage_clock *clk, uint64_t tsc)
{
	uint64_t t = clk->ceil_ns;
	if (clk->tsc_khz && tsc <= clk->guest_tsc) {
		uint64_t delta = clk->guest_tsc - tsc;
		/* delta * 1e6 / khz in 64 bits: whole kHz periods, then the rest. A delta of more than
		 * 2^64 ns (584 years; a guest that rewrote its TSC) is simply "before the floor". */
		uint64_t whole = delta / clk->tsc_khz;
		if (whole > UINT64_MAX / 1000000u) {
			t = 0;
		} else {
			uint64_t ns = whole * 1000000u + delta % clk->tsc_khz * 1000000u / clk->tsc_khz;
			t = ns < clk->now_ns ? clk->now_ns - ns : 0;
		}
	}
	if (t > clk->ceil_ns)
		t = clk->ceil_ns;
	if (t < clk->floor_ns)
		t = clk->floor_ns;
	if (t < tp->last_ns)
		t = tp->last_ns;
	tp->last_ns = t;
	return t;
}

/* P4, then one HVT_RING record (trace.h has the field layout). */
static bool emit_record(struct tracepage *tp, const struct tracepage_clock *clk,
			const struct hv_pvtrace_record *g)
{
	if (g->kind < 1 || g->kind > HV_PVT_KIND_MAX || g->from_cpl > 3 || g->to_cpl > 3) {
		tp_error(tp, TP_GE_BAD_RECORD,
			 (uint64_t)g->kind << 8 | (g->from_cpl & 0xFu) << 4 | (g->to_cpl & 0xFu), true);
		return false;
	}
	tp->records++;
	/* The fields as textbook appendix A, section A.15 lists them: cpl and size carry the
	 * privilege levels before and after, data the argument and the number (system call,
	 * error code or exit status), count the guest's task id. */
	if (!tp->trace)
		return true;
	struct hvt_record r = {
		.time_ns = record_time(tp, clk, g->tsc), .vcpu = trace_thread_id(),
		.kind = HVT_RING, .reason = g->kind, .cpl = g->from_cpl, .size = g->to_cpl,
		.mode = tp->mode, .addr = g->vector, .data = (uint64_t)g->arg << 32 | g->nr,
		.rip = g->rip, .count = g->task,
		.flags = clk->tsc_khz ? HVT_F_GUEST_CLOCK : HVT_F_TIME_BOUND,
	};
	trace_emit_now(tp->trace, &r);
	return true;
}

unsigned tracepage_drain(struct tracepage *tp, const struct tracepage_clock *clk)
{
	unsigned written = 0;
	/* vcpu.c polls first on its own, and reads the guest's TSC (one ioctl) only when records
	 * wait; this second poll costs one 64-byte read and keeps the function safe alone. */
	uint32_t n = tracepage_poll(tp);
	if (!n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		struct hv_pvtrace_record g;
		uint64_t slot = (tp->tail + i) % HV_PVTRACE_CAPACITY;
		uint64_t at = tp->page + HV_PVTRACE_HDR_SIZE + slot * HV_PVTRACE_REC_SIZE;
			/* Copied once, then checked and used from the copy. A bad record still uses
			 * its slot (tail moves by n below), so one cannot stall the ring. */
		if (gm_read(tp->gm, at, &g, sizeof g) == 0 && emit_record(tp, clk, &g))
			written++;
	}
	tp->tail += n;
	/* No memory barrier: the vCPU is stopped while hv drains, and it sees this store only
	 * after the next VM entry. */
	/* Give the slots back: the guest compares its head with this tail to see free room. */
	gm_write(tp->gm, tp->page + offsetof(struct hv_pvtrace_header, tail), &tp->tail, 4);
	return written;
}
