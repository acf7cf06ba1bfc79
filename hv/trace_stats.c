/*
 * trace_stats.c - `hv trace stats`: turning trace records into answers.
 *
 * Concept: the cost of virtualization is the cost of exits. `stats` answers the questions a
 * performance engineer asks first, the way `perf kvm stat report` does for a real VM: which
 * exits happened, how often, how long hv spent on each, and which port or address caused them.
 * It then puts next to it what KVM counted itself: exits that KVM handled in the kernel never
 * reach hv, so the difference between the two numbers is the work hv did not see.
 * Textbook: appendix A "The trace format", section A.11 "How `hv trace stats` is computed";
 * chapter 3 "Exits", section "Counting exits".
 *
 * The input may come from a hostile file: every field was range-checked by trace_parse for
 * the enums (trace_read.c), but numbers (addr, cpl, count, durations) can be anything, and the guest name can
 * hold terminal escape sequences. Nothing here indexes a table with an unchecked value, and
 * text from the file is printed with non-printable bytes replaced.
 */
#include "trace_stats.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"      /* the disk controllers' ports and MMIO window */
#include "trace_names.h"

/* ---- small printing helpers ---- */

/*
 * Print s with anything that is not printable ASCII shown as '?'; an empty s as "-". A name from
 * a hostile file could hold terminal escape sequences (ESC [ ...) that clear the screen, fake
 * earlier output or set the window title; only 0x20-0x7E reach the terminal.
 */
static void print_safe(FILE *out, const char *s)
{
	if (!*s)
		fputc('-', out);
	for (; *s; s++)
		fputc(*s >= 0x20 && *s < 0x7f ? *s : '?', out);
}

/* Percentage of part in whole, safe when whole is 0 (a trace with no exits is legal). */
static double share(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Stored in nanoseconds, the file's unit; shown in microseconds, the scale of an exit (7-8 us
 * per exit on the textbook's PVM host). */
static double ns_to_us(double ns)
{
	return ns / 1000.0;
}

/* ---- stats: exits by reason ---- */

/*
 * Minimum, mean and maximum of hv's handling time. The mean alone hides the interesting
 * case: one slow exit (a page fault in hv, a blocked write to the terminal) among thousands
 * of fast ones shows up only in max.
 */
struct time_stat {
	uint64_t count;
	uint64_t min, max;
	double sum; /* double: a sum of hostile 64-bit durations must not wrap around */
	/* (exact up to 2^53 ns, about 104 days of handling time: far beyond any real run) */
};

/* The first sample sets min and max; after that each only moves outward. */
static void time_stat_add(struct time_stat *s, uint64_t ns)
{
	if (s->count == 0 || ns < s->min)
		s->min = ns;
	if (s->count == 0 || ns > s->max)
		s->max = ns;
	s->sum += (double)ns;
	s->count++;
}

/* Rows exist only for count > 0 (stats run only when there are exits), so the mean never divides
 * by zero. */
static void time_stat_row(FILE *out, const char *label, const struct time_stat *s, uint64_t all)
{
	fprintf(out, "  %-13s %9" PRIu64 " %7.2f%% %10.2f %10.2f %10.2f\n", label, s->count,
		share(s->count, all), ns_to_us((double)s->min),
		ns_to_us(s->sum / (double)s->count), ns_to_us((double)s->max));
}

/*
 * Only HVT_EXIT records are exits hv saw. Their duration_ns is hv's handling time (from
 * KVM_RUN returning to the next KVM_RUN call), which is the part of an exit hv controls.
 *
 * It is not what the exit cost the guest: the world switch out of the guest and back, and
 * KVM's own work (decoding an MMIO instruction, for one), come on top and are invisible here.
 * Textbook ch03 "What an exit costs" measures the whole round trip.
 */
static void stats_by_reason(FILE *out, const struct trace_file *tf, uint64_t nexits)
{
	struct time_stat by[HVT_REASON_MAX + 1] = { 0 }, total = { 0 };
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *r = &tf->records[i];
		if (r->kind != HVT_EXIT)
			continue;
		time_stat_add(&by[r->reason], r->duration_ns); /* reason <= MAX: checked by parse */
		time_stat_add(&total, r->duration_ns);
	}
	/*
	 * Sorted by count, largest first; ties by reason number, so output is deterministic (the
	 * tests and students' scripts compare it). Eleven rows: an insertion sort is plenty.
	 */
	int order[HVT_REASON_MAX + 1];
	for (int i = 0; i <= HVT_REASON_MAX; i++)
		order[i] = i;
	for (int i = 1; i <= HVT_REASON_MAX; i++)
		for (int j = i; j > 0 && by[order[j]].count > by[order[j - 1]].count; j--) {
			int tmp = order[j];
			order[j] = order[j - 1];
			order[j - 1] = tmp;
		}
	fprintf(out, "\nExits that reached hv, by reason (time hv spent handling each, in us):\n");
	fprintf(out, "  %-13s %9s %8s %10s %10s %10s\n", "reason", "count", "share", "min", "avg",
		"max");
	for (int i = 0; i <= HVT_REASON_MAX; i++)
		if (by[order[i]].count > 0)
			time_stat_row(out, hvt_reason_name((unsigned)order[i]), &by[order[i]], nexits);
	time_stat_row(out, "total", &total, nexits);
}

/* ---- stats: exits by port / address ---- */

/*
 * One I/O or MMIO exit, or (after merging) all exits with the same key. This table answers
 * "which device costs the most exits?": the first question when a guest is slow under
 * virtualization, and the reason paravirtual devices batch their work.
 */
struct port_stat {
	uint8_t reason; /* HVT_R_IO or HVT_R_MMIO */
	uint8_t write;
	uint64_t addr;
	uint64_t exits;
	uint64_t elements; /* values moved: a batched `rep ins` exit carries count of them */
	int unclaimed;
};

/*
 * qsort comparators compare, never subtract: `x->addr - y->addr` on 64-bit values does not fit
 * the int qsort wants and would give wrong signs. The key order is reason, address, direction.
 */
static int port_key_cmp(const void *a, const void *b)
{
	const struct port_stat *x = a, *y = b;
	if (x->reason != y->reason)
		return x->reason < y->reason ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->write != y->write)
		return x->write < y->write ? -1 : 1;
	return 0;
}

static int port_count_cmp(const void *a, const void *b)
{
	const struct port_stat *x = a, *y = b;
	if (x->exits != y->exits)
		return x->exits > y->exits ? -1 : 1;
	return port_key_cmp(a, b);
}

/*
 * Group by (reason, addr, direction): sort the exits by key, then merge runs of equal keys.
 * O(n log n) with one array of at most n entries (n is bounded by the file length).
 *
 * The addresses come from the file, so they may be anything. Sorting costs the same whatever
 * they are, where a hash table keyed by them could be fed collisions by a crafted trace; and
 * an address is only compared and printed, never used as an index.
 */
static size_t port_groups(const struct trace_file *tf, struct port_stat *ps)
{
	size_t n = 0;
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *r = &tf->records[i];
		if (r->kind != HVT_EXIT || (r->reason != HVT_R_IO && r->reason != HVT_R_MMIO))
			continue;
		ps[n] = (struct port_stat){
			.reason = r->reason,
			.write = (r->flags & HVT_F_WRITE) != 0,
			.addr = r->addr,
			.exits = 1,
			/*
			 * A REP INSW from a disk controller moves a whole sector with few exits:
			 * KVM's emulator reads ahead and hands hv many elements through the kvm_run
			 * data page. A REP OUTS it emulates one element per exit. Exits and
			 * elements are counted apart to show the difference.
			 */
			.elements = (r->flags & HVT_F_STRING) ? r->count : 1,
			.unclaimed = (r->flags & HVT_F_UNCLAIMED) != 0,
		};
		n++;
	}
	/* Equal keys become neighbours, so one pass can merge them. */
	qsort(ps, n, sizeof *ps, port_key_cmp);
	size_t groups = 0;
	for (size_t i = 0; i < n; i++) {
		if (groups > 0 && port_key_cmp(&ps[groups - 1], &ps[i]) == 0) {
			ps[groups - 1].exits++;
			ps[groups - 1].elements += ps[i].elements;
			ps[groups - 1].unclaimed |= ps[i].unclaimed;
		} else {
			ps[groups++] = ps[i];
		}
	}
	/* Busiest first; the key breaks ties so the order never depends on qsort's whims. */
	qsort(ps, groups, sizeof *ps, port_count_cmp);
	return groups;
}

static void stats_by_port(FILE *out, const struct trace_file *tf, uint64_t nexits)
{
	fprintf(out, "\nI/O and MMIO exits by port / address (elements = values moved; KVM "
		     "batches REP INS, not REP OUTS):\n");
	/* One slot per record is the worst case (every record an I/O exit); calloc checks the
	 * multiplication. The table is dropped, not the whole report, if memory runs out. */
	struct port_stat *ps = tf->count ? calloc((size_t)tf->count, sizeof *ps) : NULL;
	if (tf->count && !ps) {
		fprintf(out, "  (out of memory: table skipped)\n");
		return;
	}
	size_t groups = port_groups(tf, ps);
	fprintf(out, "  %-4s %-10s %-5s %9s %8s %9s\n", "type", "addr", "dir", "exits", "share",
		"elements");
	for (size_t i = 0; i < groups; i++) {
		const struct port_stat *p = &ps[i];
		int io = p->reason == HVT_R_IO;
		/* Ports are 16-bit (4 hex digits), guest-physical addresses are shown with 8.
		 * "unclaimed": no device was registered there (hv/bus.c), so a read saw all ones;
		 * a guest probing for hardware leaves these, as in textbook
		 * ch04 "virtio-mmio: finding the device". */
		char addr[32];
		snprintf(addr, sizeof addr, io ? "0x%04" PRIx64 : "0x%08" PRIx64, p->addr);
		fprintf(out, "  %-4s %-10s %-5s %9" PRIu64 " %7.2f%% %9" PRIu64 "%s\n",
			io ? "io" : "mmio", addr,
			io ? (p->write ? "out" : "in") : (p->write ? "write" : "read"), p->exits,
			share(p->exits, nexits), p->elements, p->unclaimed ? " unclaimed" : "");
	}
	if (groups == 0)
		fprintf(out, "  (none)\n");
	free(ps);
}

/* ---- stats: CPU mode and privilege level ---- */

/*
 * Exits per CPU mode and per privilege level. A guest that switches modes (real -> protected
 * -> long) shows which phase caused the exits; CPL shows whether the guest kernel (0) or its
 * user programs (3) touched the devices. Textbook: chapter 2 "A VM from the inside", section
 * "CPU modes".
 */
static void stats_by_mode(FILE *out, const struct trace_file *tf, uint64_t nexits)
{
	uint64_t by_mode[HVT_MODE_MAX + 1] = { 0 };
	uint64_t by_cpl[256] = { 0 }; /* cpl is a byte from the file: any value fits */
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *r = &tf->records[i];
		if (r->kind != HVT_EXIT)
			continue;
		by_mode[r->mode]++; /* mode <= MAX: checked by trace_parse */
		by_cpl[r->cpl]++;
	}
	/* Listed in the order the CPU goes through the modes at boot: real, then up. */
	fprintf(out, "\nExits by CPU mode:\n  %-8s %9s %8s\n", "mode", "exits", "share");
	for (unsigned m = 0; m <= HVT_MODE_MAX; m++)
		if (by_mode[m])
			fprintf(out, "  %-8s %9" PRIu64 " %7.2f%%\n", hvt_mode_name(m), by_mode[m],
				share(by_mode[m], nexits));
	/* CPL 0 is the guest kernel, 3 its user space: both exit, neither ever runs in root. */
	fprintf(out, "\nExits by privilege level (CPL):\n  %-8s %9s %8s\n", "cpl", "exits", "share");
	for (unsigned c = 0; c < 256; c++)
		if (by_cpl[c])
			fprintf(out, "  cpl%-5u %9" PRIu64 " %7.2f%%\n", c, by_cpl[c],
				share(by_cpl[c], nexits));
}

/* ---- stats: the two disk paths ---- */

/*
 * Which controller an exit went to, from the addresses in layout.h (the machine's contract,
 * the same for every trace): 0 = neither, else enum hvt_disk_dev. The MMIO test is written as
 * `addr - base < len` after `addr >= base`, so an address near 2^64 cannot wrap into the
 * window. The ATA ranges are the command block (8 ports) and the one control port.
 */
static unsigned disk_dev_of_exit(const struct hvt_record *r)
{
	if (r->reason == HVT_R_IO && ((r->addr >= HV_PORT_ATA_CMD && r->addr < HV_PORT_ATA_CMD + 8) ||
				      r->addr == HV_PORT_ATA_CTL))
		return HVT_DISK_ATA;
	if (r->reason == HVT_R_MMIO && r->addr >= HV_MMIO_VIRTIO_BLK &&
	    r->addr - HV_MMIO_VIRTIO_BLK < HV_VIRTIO_MMIO_LEN)
		return HVT_DISK_VIRTIO;
	return 0;
}

struct disk_stat {
	uint64_t requests;    /* ATA: commands written to 0x1F7; virtio: parsed requests */
	uint64_t bytes;       /* read + written by the backend */
	uint64_t exits;       /* exits that reached this controller */
	uint64_t doorbells_mmio, doorbells_eventfd; /* virtio only */
	uint64_t backend_ns;  /* time in pread/pwrite/fdatasync */
	uint64_t errors;      /* virtio validation failures, failed system calls */
};

/*
 * One record into the table. Three kinds feed it: exits (which controller the guest talked
 * to), disk records (what the backend moved, with `size` naming the controller, appendix A,
 * section A.14) and virtio's vq records (requests, doorbells, errors). A disk record whose
 * controller is neither of the two is skipped, so `size` never indexes past ds[].
 */
static void disk_stat_add(struct disk_stat *ds, const struct hvt_record *r)
{
	unsigned dev;
	if (r->kind == HVT_EXIT && (dev = disk_dev_of_exit(r)) != 0) {
		ds[dev].exits++;
		/* An ATA command is the OUT to the command register (0x1F7), refused ones
		 * included. IDENTIFY counts too: one request more than the guest counts. */
		if (dev == HVT_DISK_ATA && r->addr == HV_PORT_ATA_CMD + 7 && (r->flags & HVT_F_WRITE))
			ds[dev].requests++;
	} else if (r->kind == HVT_DISK && (r->size == HVT_DISK_ATA || r->size == HVT_DISK_VIRTIO)) {
		if (r->flags & HVT_F_ERROR)
			ds[r->size].errors++;
		/* A flush moves no bytes: its data field says whether fdatasync ran. */
		else if (r->reason != HVT_DISK_FLUSH)
			ds[r->size].bytes += r->data;
		ds[r->size].backend_ns += r->duration_ns;
	} else if (r->kind == HVT_VQ) {
		struct disk_stat *v = &ds[HVT_DISK_VIRTIO];
		if (r->reason == HVT_VQ_REQUEST)
			v->requests++;
		else if (r->reason == HVT_VQ_ERROR)
			v->errors++;
		else if (r->reason == HVT_VQ_NOTIFY && (r->flags & HVT_F_EVENTFD))
			v->doorbells_eventfd++;
		else if (r->reason == HVT_VQ_NOTIFY)
			v->doorbells_mmio++;
	}
}

/*
 * The comparison chapter 4 is about: the same requests, and how many exits each controller
 * needed for them. Exits counted here are the ones that went to the disk controller (not the
 * UART printing the result); a doorbell through an ioeventfd is no exit hv saw, so it is listed
 * apart. Rows only for controllers that appear in the trace.
 *
 * exits/request and exits/KiB are chapter 4's two measures: the ATA drive pays per word moved
 * (about 261 exits per KiB written and read in its run), virtio per request, whatever its size.
 * Textbook ch04 "Counting the difference" reads this table.
 */
static void stats_disks(FILE *out, const struct trace_file *tf, uint64_t nexits)
{
	/* The disk table compares the controllers with each other, not with all exits: its
	 * shares would mix in the UART and the timer, so nexits goes unused here. */
	(void)nexits;
	struct disk_stat ds[3] = { { 0 } };
	for (uint64_t i = 0; i < tf->count; i++)
		disk_stat_add(ds, &tf->records[i]);
	static const char *const names[3] = { "", "legacy-ata", "virtio-blk" };
	int header = 0;
	for (unsigned d = HVT_DISK_ATA; d <= HVT_DISK_VIRTIO; d++) {
		const struct disk_stat *s = &ds[d];
		if (!s->requests && !s->exits && !s->bytes)
			continue;
		if (!header++)
			fprintf(out, "\nDisk I/O by controller (exits = exits to the controller itself):\n"
				     "  %-11s %9s %9s %9s %14s %10s %10s %9s\n", "controller", "requests",
				"KiB", "exits", "exits/request", "exits/KiB", "backend_ms", "errors");
		double kib = (double)s->bytes / 1024.0;
		fprintf(out, "  %-11s %9" PRIu64 " %9.1f %9" PRIu64 " %14.2f %10.2f %10.3f %9" PRIu64 "\n",
			names[d], s->requests, kib, s->exits,
			s->requests ? (double)s->exits / (double)s->requests : 0.0,
			kib > 0 ? (double)s->exits / kib : 0.0, (double)s->backend_ns / 1e6, s->errors);
		if (d == HVT_DISK_VIRTIO)
			fprintf(out, "  %-11s doorbells: %" PRIu64 " by MMIO exit, %" PRIu64
				     " by ioeventfd (in the kernel, no exit to hv)\n", "",
				s->doorbells_mmio, s->doorbells_eventfd);
	}
}

/* ---- stats: interrupts ---- */

/*
 * How many interrupts each line raised and hv injected (chapter 4, "Interrupts and polling").
 * Lines are 0-15 on the PIC; a record with another number (a hostile file) is counted apart.
 */
static void stats_irqs(FILE *out, const struct trace_file *tf)
{
	/* Fixed arrays of 16: the PIC has 16 lines, and anything else in the file is counted
	 * apart (spurious) instead of becoming an index. */
	/* "raised" counts rising edges only (a line record with level 1); a level line that stays
	 * high while the guest handles it is raised once and may be injected more than once. */
	uint64_t raised[16] = { 0 }, injected[16] = { 0 }, spurious = 0, windows = 0, wakes = 0;
	uint64_t any = 0;
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *r = &tf->records[i];
		if (r->kind != HVT_IRQ)
			continue;
		any++;
		if (r->reason == HVT_IRQ_LINE && r->addr < 16 && r->data)
			raised[r->addr]++;
		else if (r->reason == HVT_IRQ_INJECT && r->addr < 16)
			injected[r->addr]++;
		/* addr = -1: the PIC answered INTA with IR7's vector and no line (pic_ack). */
		else if (r->reason == HVT_IRQ_INJECT)
			spurious++;
		/* window: the guest had IF = 0 or an interrupt shadow, so hv asked KVM for an exit
		 * as soon as it can take one (request_interrupt_window, hv/irq.c). */
		else if (r->reason == HVT_IRQ_WINDOW)
			windows++;
		else if (r->reason == HVT_IRQ_WAKE)
			wakes++;
	}
	if (!any)
		return;
	fprintf(out, "\nInterrupts (device line -> PIC -> KVM_INTERRUPT):\n  %-6s %9s %9s\n", "irq",
		"raised", "injected");
	for (unsigned l = 0; l < 16; l++)
		if (raised[l] || injected[l])
			fprintf(out, "  irq%-3u %9" PRIu64 " %9" PRIu64 "\n", l, raised[l], injected[l]);
	fprintf(out, "  spurious vectors injected: %" PRIu64 "; interrupt windows requested: %" PRIu64
		     "; HLT wake-ups: %" PRIu64 "\n", spurious, windows, wakes);
}

/* ---- stats: what KVM counted ---- */

/*
 * KVM counts every exit, including the many it handles without leaving the kernel (page
 * faults on EPT/NPT, most interrupts, CPUID on some paths). hv records those counters at the
 * end of a run. Comparing KVM's "exits" with the exits hv saw shows how much of the exit
 * traffic never reached user space. Counters of all vCPUs add up in the comparison.
 */
static void stats_counters(FILE *out, const struct trace_file *tf, uint64_t nexits)
{
	fprintf(out, "\nCounted by KVM (exits that did not reach hv are only visible here):\n");
	int have_exits = 0, several_vcpus = 0, any = 0;
	uint64_t kvm_exits = 0;
	/* Name the vCPU on each counter line only when there is more than one to tell apart. The
	 * number comes from the file, so it is only printed, never used as an index. */
	for (uint64_t i = 0; i < tf->count; i++)
		if (tf->records[i].kind == HVT_COUNTER && tf->records[i].vcpu != tf->records[0].vcpu)
			several_vcpus = 1;
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *r = &tf->records[i];
		if (r->kind != HVT_COUNTER)
			continue;
		char buf[32];
		any = 1;
		fprintf(out, "  %-20s %12" PRIu64, hvt_counter_label(r->addr, buf, sizeof buf), r->data);
		if (several_vcpus)
			fprintf(out, " vcpu%u", r->vcpu);
		fputc('\n', out);
		/* Each vCPU has its own exit counter; the comparison with N needs their sum. */
		if (r->addr == HVT_C_EXITS) {
			have_exits = 1;
			kvm_exits += r->data;
		}
	}
	if (!any)
		fprintf(out, "  (none recorded: no KVM binary statistics on this kernel, or the run "
			     "did not end normally)\n");
	/*
	 * M < N would mean KVM counted fewer exits than hv saw: counters read at the wrong moment
	 * or a damaged file. Printing a negative "handled inside KVM" would teach a falsehood, so
	 * the comparison is only printed when it makes sense.
	 */
	if (have_exits && kvm_exits >= nexits)
		fprintf(out, "  exits seen by hv: %" PRIu64 "; KVM's exit counter: %" PRIu64
			     "; handled inside KVM: %" PRIu64 "\n",
			nexits, kvm_exits, kvm_exits - nexits);
}

/*
 * The whole report, in the order a reader asks: what ran where, what exited and why, which
 * device caused it, in which mode, and what KVM saw that hv did not.
 *
 * tf has been validated by trace_read.c (appendix A, section A.9), so every enum field is in
 * range; everything below still treats numbers as untrusted. Output is deterministic: the
 * same file prints the same text, which the tests and students' scripts rely on.
 */
void trace_print_stats(FILE *out, const struct trace_file *tf)
{
	/*
	 * Only HVT_EXIT records count as exits: the other three records of a round trip
	 * (run-return, run-call, entry) are the transitions around that same exit (appendix A,
	 * section A.4 "Kinds: one exit's round trip"), and counters are KVM's, not hv's.
	 */
	uint64_t nexits = 0, duration = 0;
	for (uint64_t i = 0; i < tf->count; i++) {
		if (tf->records[i].kind == HVT_EXIT)
			nexits++;
		/* Duration = the latest instant recorded; time 0 is trace_create. */
		if (tf->records[i].time_ns > duration)
			duration = tf->records[i].time_ns;
	}
	fprintf(out, "guest: ");
	print_safe(out, tf->header.guest);
	fprintf(out, "\nhost: %s\n", hvt_host_name(tf->header.host_kind));
	/* A whole run has events = 4 x exits + counters (one round trip is four records): 95 = 4
	 * x 21 + 11 in textbook ch 3, "Counting exits" (guest-error records come on top). */
	fprintf(out, "events: %" PRIu64 "\n", tf->count);
	if (tf->header.dropped)
		fprintf(out, "NOTE: %" PRIu64 " later events were not recorded (--trace-limit): the "
			     "numbers below cover the start of the run only\n", tf->header.dropped);
	fprintf(out, "exits seen by hv: %" PRIu64 "\n", nexits);
	fprintf(out, "duration: %.3f ms\n", (double)duration / 1e6);
	if (nexits > 0) {
		stats_by_reason(out, tf, nexits);
		stats_by_port(out, tf, nexits);
		stats_by_mode(out, tf, nexits);
	}
	stats_disks(out, tf, nexits);
	stats_irqs(out, tf);
	stats_counters(out, tf, nexits);
}
