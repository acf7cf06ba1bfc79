/*
 * summary.c - the few lines `hv run` prints on stderr at the end: what the run cost.
 *
 * Concept: the price of virtualized I/O is counted in exits. These lines answer, without a
 * trace file, the questions of chapter 4: how many requests did the disk serve, how many exits
 * did that take (per request, per KiB), which device caused them, and how the time split
 * between the guest (inside KVM_RUN) and hv (between two KVM_RUNs, handling exits).
 * `--quiet` turns it off; everything here is also in `hv trace stats` for a traced run.
 * Textbook: chapter 4 "Two I/O paths", section "Counting the difference".
 *
 * Output (stderr, so a guest's stdout stays clean for pipes and tests), from the diskio guest:
 *   hv: summary: 243 exits: io 205, mmio 37, hlt 1
 *   hv: summary: exits by device: uart16550a 205, virtio-mmio-blk 37
 *   hv: summary: disk: virtio-blk (cache=writeback), 34 requests, 128.0 KiB, 37 exits to the
 *                controller: 1.09 per request, 0.289 per KiB (all exits: 7.15 per request)
 *   hv: summary: virtio doorbells: 4 by MMIO exit, 0 by ioeventfd; 0 queue errors
 *   hv: summary: time: in guest (KVM_RUN) 909.520 ms, in hv 0.821 ms
 * (one line each; the disk line is wrapped here). Requests are the controller's: diskio's 33
 * plus its identification (IDENTIFY or GET_ID).
 */
#include <inttypes.h>

#include "dev/ata.h"
#include "dev/virtio_blk.h"
#include "dev/pit.h"
#include "summary.h"
#include "vm.h"
#include "trace_names.h"

/* Every exit that reached hv, by reason: the exit loop counts each one once (vcpu.c), leaving
 * out only the silent steps --step-seek makes to find its window. */
static void summary_exits(FILE *out, const struct vm *vm)
{
	/*
	 * exits_seen counts only the exits that came back to hv from KVM_RUN (vcpu.c): the ones
	 * KVM handled in the kernel are not here, and neither is a KVM_RUN cut short by hv's own
	 * kick signal (it returns EINTR, not an exit). KVM's own total is in the trace's
	 * counters (kvmstats.c); the gap is textbook ch03 "Exits hv never sees".
	 */
	fprintf(out, "hv: summary: %" PRIu64 " exits", vm->exits_seen);
	const char *sep = ": ";
	for (unsigned r = 1; r <= HVT_REASON_MAX; r++) {
		/* Reason 0 is HVT_R_NONE, never counted; a reason hv does not know was counted as
		 * HVT_R_OTHER (vcpu.c). */
		if (!vm->exits_by_reason[r])
			continue;
		fprintf(out, "%s%s %" PRIu64, sep, hvt_reason_name(r), vm->exits_by_reason[r]);
		sep = ", ";
	}
	fputc('\n', out);
}

/* The bus counted the accesses each device got. A device with two windows (the test device,
 * the ATA controller) appears once per window, named after its ops table. */
static uint64_t summary_devices(FILE *out, const struct vm *vm, const void *disk_dev)
{
	uint64_t disk_exits = 0;
	const char *sep = "hv: summary: exits by device: ";
	/*
	 * hits are counted by bus.c at each exit it routes, so this is "exits per device", not
	 * "bytes per device": a rep insw of 256 words is one hit, 256 outw are 256 (textbook
	 * ch04 "`rep insw` = 1 exit, `rep outsw` = 256 exits"). Every window of the disk
	 * controller adds to disk_exits: ATA has two, its command and its control block.
	 */
	for (int s = BUS_PIO; s <= BUS_MMIO; s++) {
		for (int i = 0; i < vm->bus.count[s]; i++) {
			const struct bus_range *r = &vm->bus.ranges[s][i];
			if (r->dev == disk_dev)
				disk_exits += r->hits;
			if (!r->hits)
				continue;
			fprintf(out, "%s%s %" PRIu64, sep, r->ops->name, r->hits);
			sep = ", ";
		}
	}
	if (sep[0] == ',')
		fputc('\n', out);
	return disk_exits;
}

void summary_print(FILE *out, const struct vm *vm)
{
	summary_exits(out, vm);
	/* Only one of the two controllers exists in a run (--disk-path); its device pointer is
	 * what its bus windows carry, so it identifies the disk's windows below. */
	const void *disk_dev = vm->ata ? (const void *)vm->ata : (const void *)vm->vblk;
	uint64_t disk_exits = summary_devices(out, vm, disk_dev);
	if (vm->have_disk) {
		/* Requests as the controller counts them: ATA commands, or virtio-blk requests. */
		struct virtio_blk_stats st = { 0 };
		if (vm->vblk)
			virtio_blk_get_stats(vm->vblk, &st);
		uint64_t req = vm->ata ? vm->ata->commands : st.requests;
		/*
		 * The three ratios answer chapter 4's question from three sides: exits per request
		 * (the protocol's cost), exits per KiB (what moving data costs, the number that
		 * separates PIO from DMA), and all exits per request (the UART and the rest
		 * included). A run without requests prints 0 rather than dividing by zero.
		 */
		double kib = (double)(vm->disk.bytes_read + vm->disk.bytes_written) / 1024.0;
		fprintf(out, "hv: summary: disk: %s (cache=%s), %" PRIu64 " requests, %.1f KiB, %" PRIu64
			     " exits to the controller: %.2f per request, %.3f per KiB (all exits: %.2f "
			     "per request)\n",
			vm->ata ? "legacy-ata" : "virtio-blk", disk_cache_name(vm->disk.cache), req, kib,
			disk_exits, req ? (double)disk_exits / (double)req : 0.0,
			kib > 0 ? (double)disk_exits / kib : 0.0,
			req ? (double)vm->exits_seen / (double)req : 0.0);
		if (vm->vblk)
			fprintf(out, "hv: summary: virtio doorbells: %" PRIu64 " by MMIO exit, %" PRIu64
				     " by ioeventfd; %" PRIu64 " queue errors\n",
				st.notifies_mmio, st.notifies_eventfd, st.errors);
	}
	/* The interrupt path (irq.h): each injection is one KVM_INTERRUPT before a KVM_RUN, the
	 * cost a guest pays for sleeping in HLT instead of polling its device. */
	if (vm->irq.injected)
		fprintf(out, "hv: summary: interrupts injected: %" PRIu64 "\n", vm->irq.injected);
	/*
	 * On real hardware "sti; hlt" cannot lose a wake-up: STI holds interrupts off for one more
	 * instruction, so the interrupt arrives once HLT waits, and wakes it. An interrupt hv
	 * injected with the guest stopped right at such a HLT ran its handler before the HLT, which
	 * then halts with nothing pending; irq_wait_halted (irq.c) resumes it once, counted here.
	 */
	if (vm->irq.hlt_after_injection)
		fprintf(out, "hv: summary: HLTs resumed because an interrupt was delivered just before them "
			     "(inside the STI shadow): %" PRIu64 "\n", vm->irq.hlt_after_injection);
	if (vm->irq.pit && vm->irq.pit->ticks)
		fprintf(out, "hv: summary: timer (PIT) ticks: %" PRIu64 "\n", vm->irq.pit->ticks);
	/* Ring changes the guest kernel reported on its trace page (chapter 5): they cost no exit. */
	if (vm->tracepage.registrations || vm->tracepage.errors)
		fprintf(out, "hv: summary: guest ring changes reported on the trace page: %" PRIu64
			     " (%" PRIu64 " damaged-page reports)\n",
			vm->tracepage.records, vm->tracepage.errors);
	if (vm->step.count)
		fprintf(out, "hv: summary: stepped %" PRIu32 " of %" PRIu32 " instructions (%" PRIu64
			     " more stepped silently to reach the window, %" PRIu64 " late #DB, %" PRIu64
			     " #DB of the guest's own given back)\n",
			vm->step.done, vm->step.count, vm->step.seek_steps, vm->step.late_db,
			vm->step.foreign_db);
	/*
	 * The time split the exit loop measured (vcpu.c): inside KVM_RUN is the guest plus the
	 * exits KVM handled in the kernel; between two KVM_RUNs is hv. A halted guest's sleep is
	 * spent between two KVM_RUNs too, but it is waiting, not work: shown apart.
	 */
	fprintf(out, "hv: summary: time: in guest (KVM_RUN) %.3f ms, in hv %.3f ms",
		(double)vm->ns_in_run / 1e6, (double)(vm->ns_in_hv - vm->ns_halted) / 1e6);
	if (vm->ns_halted)
		fprintf(out, ", halted waiting for an interrupt %.3f ms", (double)vm->ns_halted / 1e6);
	fputc('\n', out);
}
