/*
 * trace_dump.c - `hv trace dump`: every record of a trace as one line of words, or as JSON.
 *
 * Concept: the trace is the truth, and the dump is the truth in text. Every field of every
 * record is printed, in file order, as a `name=value` word, so the output reads as prose and
 * splits with awk; --json gives one object per line for scripts. hvviz prints the very same
 * line in its timeline (trace_format_record), so a screen can always be checked against a dump.
 * Textbook: appendix A "The trace format", section A.12 "Example"; chapter 3 "Exits", section
 * "Counting exits"; chapter 6 "Watching it happen".
 *
 * The input may come from a hostile file: the enums were range-checked by the reader
 * (trace_read.c), but numbers (addr, data, count, flags) can be anything. Nothing here indexes
 * a table with an unchecked value: every lookup is bounded, and out of range prints as "?".
 */
#include "trace_dump.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ata.h"     /* enum ata_guest_error: the legacy disk's guest errors, by name */
#include "layout.h"      /* which port a guest-error record came from */
#include "pvtrace.h"     /* the ring-change kinds (syscall, sysret, ...) */
#include "trace_names.h"
#include "tracepage.h"   /* enum tracepage_error */

/* ---- small printing helpers ---- */

/*
 * Direction word for an I/O or MMIO access, from the guest's point of view: OUT and stores
 * write, IN and loads read. For an IN, the data in the record is what hv's device returned,
 * which the guest will find in its register after the next VM entry.
 */
static const char *dir_name(const struct hvt_record *r)
{
	int write = (r->flags & HVT_F_WRITE) != 0;
	if (r->reason == HVT_R_IO)
		return write ? "out" : "in";
	if (r->reason == HVT_R_MMIO)
		return write ? "write" : "read";
	return "-";
}

/*
 * "write,string" (or "-"); unknown bits are shown in hex, never dropped silently. The meanings
 * are appendix A, section A.7. Two that surprise students: time-bound (hv cannot observe the
 * exact instant, so time_ns is the nearest one it can) and string (one exit moved `count`
 * elements: a `rep insw` that KVM batched; a `rep outs` never has it, KVM emulates it one
 * element per exit).
 */
static void flags_format(uint32_t flags, char *buf, size_t len)
{
	static const struct { uint32_t bit; const char *name; } names[] = {
		{ HVT_F_WRITE, "write" },
		{ HVT_F_TIME_BOUND, "time-bound" },
		{ HVT_F_UNCLAIMED, "unclaimed" },
		{ HVT_F_STRING, "string" },
		{ HVT_F_EVENTFD, "eventfd" },
		{ HVT_F_ERROR, "error" },
		{ HVT_F_GUEST_CLOCK, "guest-clock" },
		{ HVT_F_STEPPED, "stepped" },
	};
	/* The longest text, all eight names and a hex rest, is 80 bytes: n stays below len (96),
	 * and `len - n` never wraps. */
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (flags & names[i].bit) {
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", names[i].name);
			flags &= ~names[i].bit;
		}
	}
	if (flags)
		n += (size_t)snprintf(buf + n, len - n, "%s0x%" PRIx32, n ? "," : "", flags);
	if (n == 0)
		snprintf(buf, len, "-");
}

/* ---- dump: device steps ---- */

/*
 * The descriptor flags of the split ring (virtio 1.x, 2.7.5). "read" is printed for a clear
 * WRITE bit: the direction is always said, because a buffer the device may only read (the
 * request header) and one it writes (the data of a read, the status byte) are the rule the
 * device checks first (appendix C, Q7). Bits no spec defines are shown as "unknown", not dropped.
 */
static void desc_flags_format(uint64_t f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", (f & 1) ? "next," : "", (f & 2) ? "write," : "read,",
		 (f & 4) ? "indirect," : "", (f & ~7ull) ? "unknown," : "");
	size_t n = strlen(buf);
	if (n)
		buf[n - 1] = '\0'; /* drop the last comma */
}

/*
 * virtio-blk request types (virtio 1.x, 5.2.6). "in" and "out" are the spec's words, seen from
 * the driver: "in" reads the disk into guest memory. Any other number prints as itself, so an
 * unsupported request a guest sent (B6) is still visible in the dump.
 */
static void blk_type_format(uint64_t type, char *buf, size_t len)
{
	static const char *const names[] = { [0] = "in", [1] = "out", [4] = "flush",
					     [8] = "get-id", [11] = "discard", [13] = "write-zeroes" };
	if (type < sizeof names / sizeof names[0] && names[type])
		snprintf(buf, len, "%s", names[type]);
	else
		snprintf(buf, len, "%" PRIu64, type);
}

/*
 * The op-specific words of an HVT_VQ record (field table in trace.h). In file order the records
 * of one doorbell retell virtq.c step by step: notify, avail-idx, then per chain avail-entry,
 * desc records, request, the disk records, used-elem and used-idx, and last the interrupt or
 * the reason there was none (textbook ch06 "Virtqueue: the rings as the device saw them").
 */
static void dump_vq(FILE *out, const struct hvt_record *r)
{
	char buf[64];
	fprintf(out, " %s q%u", hvt_vq_op_name(r->reason), r->size);
	switch (r->reason) {
	/* The doorbell: how it came (an MMIO exit, or an eventfd KVM signalled in the kernel)
	 * is the whole difference between the two virtio paths of chapter 4. */
	case HVT_VQ_NOTIFY:
		fprintf(out, " addr=0x%" PRIx64 " value=%" PRIu64 " via=%s", r->addr, r->data,
			(r->flags & HVT_F_EVENTFD) ? "eventfd" : "mmio-exit");
		break;
	/* The driver told the device where its three rings are: every later address of this
	 * queue must fall inside them. */
	case HVT_VQ_READY:
		fprintf(out, " desc=0x%" PRIx64 " avail=0x%" PRIx64 " used=0x%" PRIx64 " num=%" PRIu32,
			r->addr, r->data, r->arg, r->count);
		break;
	/* Old and new status side by side: the driver's handshake (ACKNOWLEDGE, DRIVER,
	 * FEATURES_OK, DRIVER_OK) reads as a sequence of bit sets, and a refused step stands out. */
	case HVT_VQ_STATUS:
		fprintf(out, " status=0x%" PRIx64 " was=0x%" PRIx64, r->data, r->arg);
		break;
	/* idx - last_avail = how many new requests the driver offered in this batch. */
	case HVT_VQ_AVAIL_IDX:
		fprintf(out, " addr=0x%" PRIx64 " idx=%" PRIu64 " last_avail=%" PRIu32, r->addr,
			r->data, r->count);
		break;
	/* slot is last_avail % N; head is the first descriptor of the chain the driver offered. */
	case HVT_VQ_AVAIL_ENTRY:
		fprintf(out, " addr=0x%" PRIx64 " slot=%" PRIu32 " head=%" PRIu64, r->addr, r->count,
			r->data);
		break;
	/* flags and next share the arg field (trace.h): the low 16 bits and the next 16. */
	case HVT_VQ_DESC:
		desc_flags_format(r->arg & 0xFFFF, buf, sizeof buf);
		fprintf(out, " index=%" PRIu32 " addr=0x%" PRIx64 " len=%" PRIu64 " flags=%s next=%" PRIu64,
			r->count, r->addr, r->data, buf, (r->arg >> 16) & 0xFFFF);
		break;
	/* The parsed request header: the first point where guest bytes became a disk command. */
	case HVT_VQ_REQUEST:
		blk_type_format(r->arg, buf, sizeof buf);
		fprintf(out, " head=%" PRIu32 " type=%s sector=%" PRIu64 " bytes=%" PRIu64, r->count,
			buf, r->addr, r->data);
		break;
	/* id is the head the driver offered: that is how it finds which request finished. */
	/* len is what the device wrote into the chain (data + status byte); 0 for a rejected
	 * chain. */
	case HVT_VQ_USED_ELEM:
		fprintf(out, " addr=0x%" PRIx64 " slot=%" PRIu32 " id=%" PRIu64 " len=%" PRIu64, r->addr,
			r->count, r->arg, r->data);
		break;
	/* The driver polls this index (or is interrupted): the moment it moves is the moment the
	 * request is done, from the guest's point of view. */
	case HVT_VQ_USED_IDX:
		fprintf(out, " addr=0x%" PRIx64 " idx=%" PRIu64, r->addr, r->data);
		break;
	/* isr is InterruptStatus after the raise: bit 0 used buffers, bit 1 configuration change
	 * (NEEDS_RESET, hv/dev/virtio_mmio.c). */
	case HVT_VQ_IRQ_RAISE:
		fprintf(out, " isr=0x%" PRIx64, r->data);
		break;
	/* Why no interrupt: the driver asked for none (it polls), or the machine has no line. */
	case HVT_VQ_IRQ_SUPPRESS:
		fprintf(out, " why=%s", r->data == HVT_IRQ_NO_INTERRUPT_FLAG ? "no-interrupt-flag" :
					r->data == HVT_IRQ_NO_LINE ? "no-line" : "?");
		break;
	/* data is the error from the file: bounded before it becomes an index ("?" past it). */
	case HVT_VQ_ERROR:
		fprintf(out, " error=%s addr=0x%" PRIx64 " index=%" PRIu32 " detail=0x%" PRIx64,
			r->data <= HVT_VQE_MAX ? hvt_vq_error_name((unsigned)r->data) : "?", r->addr,
			r->count, r->arg);
		break;
	default:
		break;
	}
	fputc('\n', out);
}

/*
 * An HVT_DISK record: which controller, what system call, where, how long. offset is in bytes
 * (sector x 512), the argument of pread/pwrite; head ties a virtio record to its request
 * (always 0 for ATA, which has no heads). took_us is the time in the system call alone, so it
 * can be set against the handled_us of the exit that caused it (appendix A, section A.14).
 */
static void dump_disk(FILE *out, const struct hvt_record *r)
{
	/* Both tables are indexed with bytes from the file (size, arg), so every lookup below
	 * checks the bound first: a hostile trace prints "?" instead of reading past a table. */
	static const char *const devs[] = { [HVT_DISK_ATA] = "legacy-ata",
					    [HVT_DISK_VIRTIO] = "virtio-blk" };
	static const char *const caches[] = { "writeback", "writethrough", "none", "unsafe" };
	/* For a flush, data says whether fdatasync ran (cache=unsafe skips it), not a size. */
	const char *what = (r->flags & HVT_F_ERROR) ? "errno" :
			   r->reason == HVT_DISK_FLUSH ? "synced" : "bytes";
	fprintf(out, " %s dev=%s offset=%" PRIu64 " %s=%" PRIu64 " took_us=%.3f cache=%s head=%" PRIu32
		     "\n",
		hvt_disk_op_name(r->reason), r->size < 3 && devs[r->size] ? devs[r->size] : "?",
		r->addr, what, r->data,
		(double)r->duration_ns / 1000.0, r->arg < 4 ? caches[r->arg] : "?", r->count);
}

/*
 * The `reason` byte in words: an exit reason, a virtqueue step or a disk operation (trace.h).
 * One byte, four vocabularies: the kind says which table applies, which is why the reader
 * checks reason against the range of its kind (trace_record_check) before we get here.
 */
static const char *reason_word(const struct hvt_record *r)
{
	if (r->kind == HVT_VQ)
		return hvt_vq_op_name(r->reason);
	if (r->kind == HVT_DISK)
		return hvt_disk_op_name(r->reason);
	if (r->kind == HVT_IRQ)
		return hvt_irq_op_name(r->reason);
	if (r->kind == HVT_RING)
		return hvt_ring_op_name(r->reason);
	if (r->kind == HVT_GDB)
		return hvt_gdb_why_name(r->reason);
	return hvt_reason_name(r->reason);
}

/*
 * An HVT_RING record: a ring change the guest kernel reported through its trace page
 * (tracepage.c). `ring syscall 3->0 vector=0x80 nr=4(write) arg=0x... task=1 rip=0x...`.
 * What nr and arg mean depends on the kind (pvtrace.h).
 */
static void dump_ring(FILE *out, const struct hvt_record *r)
{
	/* data packs two 32-bit values (trace.h, HVT_RING fields): split them before printing. */
	uint32_t nr = (uint32_t)r->data, arg = (uint32_t)(r->data >> 32);
	char flags[96];
	flags_format(r->flags, flags, sizeof flags);
	fprintf(out, " %s %s %u->%u vector=0x%" PRIx64, hvt_ring_op_name(r->reason),
		hvt_mode_name(r->mode), r->cpl, r->size, r->addr);
	if (r->reason == HV_PVT_SYSCALL || r->reason == HV_PVT_SYSRET)
		fprintf(out, " nr=%" PRIu32 "(%s)", nr, hvt_syscall_name(nr));
	else
		fprintf(out, " nr=0x%" PRIx32, nr);
	fprintf(out, " arg=0x%" PRIx32 " task=%" PRIu32 " rip=0x%" PRIx64 " flags=%s\n", arg, r->count,
		r->rip, flags);
}

/* A guest-error record of the trace page's port (tracepage.h, enum tracepage_error). */
static const char *tracepage_error_name(uint64_t code)
{
	/* Each name leads with its appendix C row (P1-P4, tracepage.c), like the virtqueue errors:
	 * `hv trace dump | grep P3` finds where the guest broke that rule. */
	static const char *const names[] = {
		[TP_GE_BAD_ADDRESS] = "P1-page-address", [TP_GE_BAD_HEADER] = "P2-header-damaged",
		[TP_GE_HEAD_JUMP] = "P3-head-jump",      [TP_GE_BAD_RECORD] = "P4-bad-record",
		[TP_GE_BAD_WIDTH] = "bad-width",
	};
	return code < sizeof names / sizeof names[0] && names[code] ? names[code] : "?";
}

/* A guest-error record of the legacy disk (hv/dev/ata.h, enum ata_guest_error), in words. */
static const char *ata_error_name(uint64_t code)
{
	/* The legacy disk's rows are L1-L4 (ata.c); a code without a row (bad-width, chs) is a
	 * guest mistake the drive tolerates but reports, so the student sees it anyway. */
	static const char *const names[] = {
		[ATA_GE_NO_DRQ] = "L1-data-port-without-drq", [ATA_GE_BAD_WIDTH] = "bad-width",
		[ATA_GE_BUSY_CMD] = "L4-command-while-busy",  [ATA_GE_BUSY_REG] = "L4-register-while-busy",
		[ATA_GE_NO_DEVICE] = "L2-no-device",          [ATA_GE_UNSUPPORTED] = "L2-unsupported-command",
		[ATA_GE_CHS] = "chs-addressing",              [ATA_GE_RANGE] = "L3-lba-range",
		[ATA_GE_RESET_XFER] = "L4-reset-mid-transfer",
	};
	return code < sizeof names / sizeof names[0] && names[code] ? names[code] : "?";
}

/* An HVT_IRQ record: a line changing, an injection, a window request, a wake-up (trace.h). */
static void dump_irq(FILE *out, const struct hvt_record *r)
{
	/* A window request has nothing but its name to say: hv is waiting for the guest to set
	 * IF, and the next irq-window exit in the dump is the answer. */
	fprintf(out, " %s", hvt_irq_op_name(r->reason));
	switch (r->reason) {
	case HVT_IRQ_LINE:
		/* Recorded only when the level changes: 1 then 0 is one request on an edge line,
		 * and a level line that stays at 1 asks again after every EOI. */
		fprintf(out, " irq=%" PRIu64 " level=%" PRIu64, r->addr, r->data);
		break;
	case HVT_IRQ_INJECT:
		/* irq -1: the PIC answered with its spurious vector (nothing left to deliver). */
		fprintf(out, " irq=%" PRId64 " vector=0x%" PRIx32, (int64_t)r->addr, r->count);
		break;
	/* The guest's vCPU was halted (HLT) and hv waited for a line to change (hv/irq.c). */
	case HVT_IRQ_WAKE:
		fprintf(out, " slept_us=%.3f", (double)r->data / 1000.0);
		break;
	default:
		break;
	}
	fputc('\n', out);
}

/*
 * guest-error: which port, what went wrong, the detail (ata.h documents it per code). Each
 * line is one refusal of a hostile or buggy guest; hv prints nothing on stderr for it
 * (appendix C, R1), so this dump, `grep L4` for instance, is where a student finds them.
 */
static void dump_guest_error(FILE *out, const struct hvt_record *r)
{
	/* The code means something only together with the port: the ATA drive and the trace
	 * page number their errors independently, so the port picks the table. */
	int ata = (r->addr >= HV_PORT_ATA_CMD && r->addr < HV_PORT_ATA_CMD + 8) ||
		  r->addr == HV_PORT_ATA_CTL;
	const char *name = ata ? ata_error_name(r->data)
			       : r->addr == HV_PORT_PVTRACE ? tracepage_error_name(r->data) : "?";
	fprintf(out, " port=0x%" PRIx64 " size=%u %s error=%s code=%" PRIu64 " detail=0x%" PRIx64 "\n",
		r->addr, r->size, (r->flags & HVT_F_WRITE) ? "out" : "in", name, r->data, r->arg);
}

/* ---- dump ---- */

/*
 * `seq time_us vcpuN kind reason mode cplN rip=... port/addr=... size=N dir data=... ...`
 * Every field is a space-separated word, `name=value` where the name is not obvious, so the
 * line reads as text and splits cleanly with awk or str.split(). time_us has 3 decimals:
 * nanosecond precision, the unit of the file.
 */
static void dump_text(FILE *out, const struct hvt_record *r)
{
	/* seq and time lead every line, whatever the kind: sorting or joining two dumps by them
	 * always works, and `awk '$2 > 1000'` picks a time window. */
	fprintf(out, "%" PRIu64 " %.3f ", r->seq, (double)r->time_ns / 1000.0);
	/* The device's I/O thread (--ioeventfd) is no vCPU: it gets its own name. */
	if (r->vcpu == HVT_VCPU_IOTHREAD)
		fprintf(out, "iothread %s", hvt_kind_name(r->kind));
	else if (r->vcpu == HVT_VCPU_TIMER)
		fprintf(out, "timer %s", hvt_kind_name(r->kind));
	else
		fprintf(out, "vcpu%u %s", r->vcpu, hvt_kind_name(r->kind));
	/*
	 * Device steps have their own vocabulary (trace.h tables): their fields mean something
	 * different per kind (addr is a ring address, size a queue index), so printing them as an
	 * exit's "rip= addr= size=" would put true numbers under false names.
	 */
	if (r->kind == HVT_VQ || r->kind == HVT_DISK || r->kind == HVT_GUEST_ERROR ||
	    r->kind == HVT_IRQ || r->kind == HVT_RING || r->kind == HVT_GDB) {
		if (r->kind == HVT_GDB) /* hv run --gdb: the guest stopped for gdb (trace.h) */
			fprintf(out, " %s %s cpl%u rip=0x%" PRIx64 " signal=%" PRIu64 "\n",
				hvt_gdb_why_name(r->reason), hvt_mode_name(r->mode), r->cpl, r->rip,
				r->data);
		else if (r->kind == HVT_RING)
			dump_ring(out, r);
		else if (r->kind == HVT_VQ)
			dump_vq(out, r);
		else if (r->kind == HVT_DISK)
			dump_disk(out, r);
		else if (r->kind == HVT_IRQ)
			dump_irq(out, r);
		else
			dump_guest_error(out, r);
		return;
	}
	/* A counter record reuses addr as the counter id and data as its value (trace.h), so it
	 * prints as name=value and nothing else. */
	if (r->kind == HVT_COUNTER) {
		char buf[32];
		fprintf(out, " %s=%" PRIu64 "\n", hvt_counter_label(r->addr, buf, sizeof buf), r->data);
		return;
	}
	char flags[96];
	flags_format(r->flags, flags, sizeof flags);
	fprintf(out, " %s %s cpl%u rip=0x%" PRIx64 " %s=0x%" PRIx64 " size=%u %s data=0x%" PRIx64
		     " count=%" PRIu32 " flags=%s",
		hvt_reason_name(r->reason), hvt_mode_name(r->mode), r->cpl, r->rip,
		r->kind == HVT_EXIT && r->reason == HVT_R_IO ? "port" : "addr", r->addr, r->size,
		dir_name(r), r->data, r->count, flags);
	if (r->kind == HVT_EXIT)
		fprintf(out, " handled_us=%.3f", (double)r->duration_ns / 1000.0);
	fputc('\n', out);
}

/*
 * One JSON object per line ("JSON Lines"): a script can stream a huge trace line by line.
 * Every value is a number or one of our own fixed ASCII names, so nothing needs escaping;
 * the guest name (bytes from the file) is deliberately not printed here. addr/data/rip are
 * JSON numbers (Python reads 64-bit values exactly) with hex strings beside them for people.
 * JavaScript's JSON.parse turns numbers above 2^53 into doubles and loses the low bits (a
 * kernel address such as 0xffffffff81000000 is one), so JavaScript tools should read the hex
 * strings.
 */
static void dump_json(FILE *out, const struct hvt_record *r)
{
	/* Every field of the record appears, raw and by name: a script never has to know the
	 * text format's per-kind layout, and a JSON line is complete on its own. */
	char flags[96];
	flags_format(r->flags, flags, sizeof flags);
	fprintf(out,
		"{\"seq\":%" PRIu64 ",\"time_ns\":%" PRIu64 ",\"vcpu\":%u,\"kind\":\"%s\","
		"\"reason\":\"%s\",\"size\":%u,\"cpl\":%u,\"mode\":\"%s\",\"addr\":%" PRIu64
		",\"data\":%" PRIu64 ",\"rip\":%" PRIu64 ",\"count\":%" PRIu32 ",\"flags\":%" PRIu32
		",\"duration_ns\":%" PRIu64 ",\"addr_hex\":\"0x%" PRIx64 "\",\"data_hex\":\"0x%" PRIx64
		"\",\"rip_hex\":\"0x%" PRIx64 "\",\"flag_names\":\"%s\"",
		r->seq, r->time_ns, r->vcpu, hvt_kind_name(r->kind), reason_word(r),
		r->size, r->cpl, hvt_mode_name(r->mode), r->addr, r->data, r->rip, r->count, r->flags,
		r->duration_ns, r->addr, r->data, r->rip, flags);
	if (r->kind == HVT_COUNTER) {
		char buf[32];
		fprintf(out, ",\"counter\":\"%s\"", hvt_counter_label(r->addr, buf, sizeof buf));
	}
	if (r->kind == HVT_VQ)
		fprintf(out, ",\"op\":\"%s\"", hvt_vq_op_name(r->reason));
	if (r->kind == HVT_DISK)
		fprintf(out, ",\"op\":\"%s\"", hvt_disk_op_name(r->reason));
	if (r->kind == HVT_VQ && r->reason == HVT_VQ_ERROR)
		fprintf(out, ",\"error\":\"%s\"",
			r->data <= HVT_VQE_MAX ? hvt_vq_error_name((unsigned)r->data) : "?");
	fprintf(out, "}\n");
}

/* Records come out in file order, which trace_parse proved is seq order: 0, 1, 2, ... */
void trace_print_dump(FILE *out, const struct trace_file *tf, int json)
{
	/* Errors writing `out` are not checked per line: stdio remembers the first one, and the
	 * caller checks once at the end (hv/main.c, finish_output), which also catches the last
	 * buffer failing. */
	for (uint64_t i = 0; i < tf->count; i++) {
		if (json)
			dump_json(out, &tf->records[i]);
		else
			dump_text(out, &tf->records[i]);
	}
}

/* The dump line in a caller's buffer: fmemopen lets the one printer above serve both. */
void trace_format_record(char *buf, size_t len, const struct hvt_record *r)
{
	/* One printer for both: if hvviz formatted its own lines, the timeline and the dump would
	 * drift apart word by word, and a student could no longer check one against the other. */
	if (len == 0)
		return;
	buf[0] = '\0';
	FILE *f = fmemopen(buf, len, "w");
	if (!f)
		return;
	/* No buffer of stdio's own: what fits goes straight into buf, the rest is dropped. */
	setvbuf(f, NULL, _IONBF, 0);
	dump_text(f, r);
	fclose(f);
	buf[len - 1] = '\0';
	size_t n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}
