/*
 * vcpu.c - the vCPU thread and its exit loop: where the guest leaves, and how it comes back.
 *
 * Concept: to the host a virtual CPU is just a thread that calls KVM_RUN, an
 * ioctl, in a loop.
 * Inside that call the physical CPU switches to guest mode (VMX non-root on Intel, "guest
 * mode" on AMD) and runs guest instructions natively until something needs the host: a VM
 * exit. KVM (in the host kernel, root mode, ring 0) handles what it can; what it cannot,
 * such as an access to a device that only hv emulates, makes KVM_RUN return to hv (root mode,
 * ring 3) with the details in the shared `struct kvm_run`.
 *
 * The six steps of one guest device access (textbook chapter 3
 * "Exits", section "The six steps"):
 *
 *   1. guest process (ring 3)  asks its kernel to write a byte (a system call)
 *   2. guest kernel (ring 0)   its UART driver executes `out %al, $0x3f8`
 *   3. VM exit                 the CPU traps the OUT and leaves the guest (non-root -> root)
 *   4. KVM (host ring 0)       sees an I/O exit it cannot finish, fills kvm_run->io, returns
 *   5. hv (host ring 3)        this loop: bus -> device (hv/bus.c -> hv/dev/uart.c)
 *   6. back                    hv calls KVM_RUN again, KVM re-enters the guest (VM entry),
 *                              the guest continues after its OUT instruction
 *
 * The tiny guests of chapter 1 run in ring 0 only, so they show steps 2 to 6. This loop
 * records every exit that reaches it and the host-side transitions around it (hv/trace.h).
 *
 * Fail-closed: any exit reason hv does not understand stops the VM with a diagnostic; it is
 * never ignored and never retried blindly.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpu.h"
#include "diag.h"
#include "gdbhv.h"
#include "irq.h"
#include "layout.h"
#include "regs.h"
#include "step.h"
#include "vcpu.h"
#include "vizlink.h"
#include "vm.h"

#define RFLAGS_IF (1u << 9) /* interrupt flag: the CPU accepts maskable interrupts */
#define MSR_IA32_TSC 0x10u  /* the time stamp counter, as the guest reads it with RDTSC */

/*
 * Guest rip, mode and CPL at this exit. With KVM_CAP_SYNC_REGS, KVM already copied the
 * registers into kvm_run (no extra system call); otherwise regs.c asks with two ioctls.
 */
static void guest_state(struct vm *vm, struct hvt_record *r)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	const struct kvm_regs *rp = regs_at_exit(vm, &regs);
	const struct kvm_sregs *sp = rp ? sregs_at_exit(vm, &sregs) : NULL;
	if (!sp)
		return;
	r->rip = rp->rip;
	r->mode = cpu_mode(sp);
	r->cpl = cpu_cpl(sp);
}

/* ---- trace helpers: one line per transition keeps the loop readable ---- */

/* A transition record. It carries where the guest stands (rip, mode, CPL as of the last
 * exit, or the boot state before the first entry), so every event can be placed in lanes. */
static void emit(struct vm *vm, uint8_t kind, uint64_t t, uint32_t flags)
{
	struct hvt_record r = {
		.time_ns = t, .kind = kind, .flags = flags, .count = 1,
		.rip = vm->guest_rip, .mode = vm->guest_mode, .cpl = vm->guest_cpl,
	};
	/* never held back: the loop's own records mark where held device steps go */
	trace_emit_now(vm->trace, &r);
}

/* Record the exit that just happened, then the return from KVM_RUN to hv (step 4 -> 5).
 * Called after the exit was handled, so an IN's data and the handling time are known. */
static void record_exit(struct vm *vm, struct hvt_record *exit, uint64_t t_return, uint64_t t_now)
{
	if (!vm->trace)
		return;
	guest_state(vm, exit);
	vm->guest_rip = exit->rip;
	vm->guest_mode = exit->mode;
	vm->guest_cpl = exit->cpl;
	exit->kind = HVT_EXIT;
	/* hv cannot see the instant of the VM exit; the nearest it sees is KVM_RUN returning. */
	exit->time_ns = t_return;
	exit->flags |= HVT_F_TIME_BOUND;
	exit->duration_ns = t_now - t_return;
	/* These two go out now; what the device recorded while handling follows (trace_hold). */
	trace_emit_now(vm->trace, exit);
	emit(vm, HVT_RUN_RETURN, t_return, 0);
	trace_release(vm->trace);
}

/* hv calls KVM_RUN (ring 3 -> ring 0) and KVM enters the guest (root -> non-root). */
static void record_entry(struct vm *vm, uint64_t t_call)
{
	if (!vm->trace)
		return;
	emit(vm, HVT_RUN_CALL, t_call, 0);
	emit(vm, HVT_ENTRY, t_call, HVT_F_TIME_BOUND);
}

/*
 * The guest kernel's ring changes since the last exit (tracepage.c): they happened before this
 * exit, so they go into the trace before its record. The guest's TSC is read only when there
 * is something to place in time: one ioctl, not one per exit.
 */
static void drain_tracepage(struct vm *vm, uint64_t t_entry, uint64_t t_exit)
{
	struct tracepage *tp = &vm->tracepage;
	if (!tracepage_poll(tp))
		return;
	struct tracepage_clock clk = { .tsc_khz = vm->tsc_khz, .floor_ns = t_entry, .ceil_ns = t_exit };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} msr = { .hdr.nmsrs = 1, .e.index = MSR_IA32_TSC };
	/* Without a trace the records are only counted: no clock needed. No reading: every record
	 * gets the exit's time, flagged time-bound. */
	if (!vm->trace || ioctl(vm->vcpu_fd, KVM_GET_MSRS, &msr) != 1)
		clk.tsc_khz = 0;
	clk.now_ns = trace_now(vm->trace);
	clk.guest_tsc = msr.e.data;
	tp->mode = vm->guest_mode;
	tracepage_drain(tp, &clk);
}

/* ---- exit handlers: each may ask the VM to stop (vm_stop_with); otherwise hv re-enters ---- */

/*
 * Port I/O: KVM stored the data in the kvm_run page at data_offset. For a `rep ins` KVM's
 * emulator reads ahead, so one exit carries `count` elements back to back. A `rep outs` it
 * emulates one element per exit (count = 1), so there a loop of exits moves the string.
 */
static void handle_io(struct vm *vm, struct hvt_record *r)
{
	/* LAB 3 BEGIN handle_io: a port I/O exit: its data in kvm_run, each element to the bus, the record */
	struct kvm_run *run = vm->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	uint32_t size = run->io.size;
	uint32_t count = run->io.count;
	enum bus_result res = BUS_OK;

	/* KVM guarantees the data area lies inside the mapped kvm_run region; check anyway,
	 * since trusting a size we did not compute is how overflows start. */
	if (run->io.data_offset >= vm->run_size ||
	    (uint64_t)size * count > vm->run_size - run->io.data_offset) {
		vm_stop_with(vm, HV_EXIT_HOST, "KVM reported an I/O exit with data outside kvm_run");
		return;
	}
	if (vm->step.count && step_io_trap(vm, r)) /* hv run --step planted this OUT (step.c) */
		return;
	for (uint32_t i = 0; i < count; i++)
		res |= bus_dispatch(&vm->bus, BUS_PIO, run->io.port, data + i * size, size, out);
	bus_count_exit(&vm->bus, BUS_PIO, run->io.port);

	r->reason = HVT_R_IO;
	r->addr = run->io.port;
	r->size = (uint8_t)size;
	r->count = count;
	r->flags = (out ? HVT_F_WRITE : 0) | (count > 1 ? HVT_F_STRING : 0) |
		   (res != BUS_OK ? HVT_F_UNCLAIMED : 0);
	memcpy(&r->data, data, size <= 8 ? size : 8);
	/* LAB 3 STUB
	// TODO(lab 3): the exit is in vm->run->io: direction, size, port, count and the data at
	// (uint8_t *)vm->run + io.data_offset (count elements of size bytes back to back). Stop
	// the VM (vm_stop_with, HV_EXIT_HOST) if that data does not lie inside the vm->run_size
	// bytes of kvm_run. Then first: if (vm->step.count && step_io_trap(vm, r)) return;
	// (hv run --step, step.c). Hand each element to bus_dispatch(&vm->bus, BUS_PIO, ...),
	// count the exit once with bus_count_exit, and fill the record: reason HVT_R_IO, addr,
	// size, count, flags (HVT_F_WRITE, HVT_F_STRING for count > 1, HVT_F_UNCLAIMED if the bus
	// said so) and the first 8 bytes of data (textbook ch03 "Port I/O exits").
	r->reason = HVT_R_IO;
	vm_stop_with(vm, HV_EXIT_HOST, "lab 3: handle_io (hv/vcpu.c) is not written yet");
	LAB 3 END */
}

/* MMIO: a load or store to a guest-physical address with no RAM behind it. KVM decoded the
 * instruction for us; for a load, hv writes the value into run->mmio.data and KVM completes
 * the instruction on the next KVM_RUN. */
static void handle_mmio(struct vm *vm, struct hvt_record *r)
{
	/* LAB 3 BEGIN handle_mmio: an MMIO exit to the bus, and its record */
	struct kvm_run *run = vm->run;
	uint32_t len = run->mmio.len;
	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	enum bus_result res = bus_dispatch(&vm->bus, BUS_MMIO, run->mmio.phys_addr,
					   run->mmio.data, len, run->mmio.is_write);
	bus_count_exit(&vm->bus, BUS_MMIO, run->mmio.phys_addr);
	r->reason = HVT_R_MMIO;
	r->addr = run->mmio.phys_addr;
	r->size = (uint8_t)len;
	r->flags = (run->mmio.is_write ? HVT_F_WRITE : 0) | (res != BUS_OK ? HVT_F_UNCLAIMED : 0);
	memcpy(&r->data, run->mmio.data, len);
	/* LAB 3 STUB
	// TODO(lab 3): the exit is in vm->run->mmio: phys_addr, data, len, is_write. Hand it to
	// bus_dispatch(&vm->bus, BUS_MMIO, ...) (never more than sizeof(mmio.data) bytes; for a
	// load the device fills mmio.data and KVM completes the instruction), count it with
	// bus_count_exit, and fill the record: reason HVT_R_MMIO, addr, size, flags (HVT_F_WRITE,
	// HVT_F_UNCLAIMED) and the data (textbook ch03 "MMIO exits").
	r->reason = HVT_R_MMIO;
	vm_stop_with(vm, HV_EXIT_HOST, "lab 3: handle_mmio (hv/vcpu.c) is not written yet");
	LAB 3 END */
}

/*
 * HLT: without an in-kernel interrupt controller KVM hands HLT to us. With interrupts off
 * (IF = 0) nothing can ever wake the CPU again: the guest is done. With IF = 1 the guest waits
 * for an interrupt: irq.c sleeps until a device line (the I/O thread's disk, the PIT's tick)
 * makes one pending, and it is injected before the next KVM_RUN. If no device could ever raise
 * one, a real CPU would sleep forever; hv stops and says why rather than hang.
 */
static void handle_hlt(struct vm *vm, struct hvt_record *r)
{
	struct kvm_regs regs;
	r->reason = HVT_R_HLT;
	if (regs_get(vm, &regs) == 0 && (regs.rflags & RFLAGS_IF)) {
		if (irq_wait_halted(vm, regs.rip))
			return;
		vm_stop_with(vm, HV_EXIT_GUEST_ERROR,
			     "guest executed HLT with interrupts enabled, but no interrupt is pending "
			     "and no device can raise one: it would sleep forever");
		return;
	}
	vm_stop_with(vm, HV_EXIT_OK, NULL);
}

/* Everything else is the end of the run: a triple fault, a refused entry, an emulation
 * failure, a reason we do not know. diag.c explains each one to the student. */
static void handle_fatal(struct vm *vm, struct hvt_record *r)
{
	switch (vm->run->exit_reason) {
	case KVM_EXIT_SHUTDOWN: r->reason = HVT_R_SHUTDOWN; break;
	case KVM_EXIT_FAIL_ENTRY: r->reason = HVT_R_FAIL_ENTRY; break;
	case KVM_EXIT_INTERNAL_ERROR: r->reason = HVT_R_INTERNAL; break;
	case KVM_EXIT_SYSTEM_EVENT: r->reason = HVT_R_SYSTEM_EVENT; break;
	case KVM_EXIT_DEBUG: r->reason = HVT_R_DEBUG; break;
	default: r->reason = HVT_R_OTHER; r->data = vm->run->exit_reason; break;
	}
	diag_report(vm);
}

/* Step 5 of the six: decide what this exit means and who handles it. */
static void handle_exit(struct vm *vm, struct hvt_record *r)
{
	/* LAB 1 BEGIN handle_exit: dispatch one exit on its reason (kvm_run->exit_reason) */
	switch (vm->run->exit_reason) {
	case KVM_EXIT_IO: handle_io(vm, r); break;
	case KVM_EXIT_MMIO: handle_mmio(vm, r); break;
	case KVM_EXIT_HLT: handle_hlt(vm, r); break;
	/* hv asked for it (irq.c): the guest can take an interrupt now; injected before the next
	 * KVM_RUN. */
	case KVM_EXIT_IRQ_WINDOW_OPEN: r->reason = HVT_R_IRQ_WINDOW; break;
	/* hv run --step: a breakpoint or one stepped instruction (step.c). Without --step a
	 * debug exit is unexpected, and fatal like any other. */
	case KVM_EXIT_DEBUG:
		if (vm->step.count)
			step_handle_debug(vm, r);
		else
			handle_fatal(vm, r);
		break;
	default: handle_fatal(vm, r); break;
	}
	/* LAB 1 STUB
	// TODO(lab 1): switch on vm->run->exit_reason: KVM_EXIT_IO -> handle_io, KVM_EXIT_MMIO ->
	// handle_mmio, KVM_EXIT_HLT -> handle_hlt, KVM_EXIT_IRQ_WINDOW_OPEN -> only
	// r->reason = HVT_R_IRQ_WINDOW, KVM_EXIT_DEBUG -> step_handle_debug(vm, r) if vm->step.count
	// (hv run --step) else handle_fatal, anything else -> handle_fatal: hv fails closed
	// (textbook ch03 "From exit to device", "When the guest dies").
	(void)handle_io;
	(void)handle_mmio;
	(void)handle_hlt;
	(void)handle_fatal;
	r->reason = HVT_R_OTHER;
	vm_stop_with(vm, HV_EXIT_HOST, "lab 1: handle_exit (hv/vcpu.c) is not written yet");
	LAB 1 END */
}


/* KVM_RUN returned -1: another thread kicked us (timeout, Ctrl-C, hvviz, an interrupt) or a
 * host error. */
static void handle_run_error(struct vm *vm, int err, struct hvt_record *r)
{
	r->reason = HVT_R_INTR;
	if (err == EINTR || err == EAGAIN) {
		if (vm->cpu.kick == KICK_TIMEOUT)
			vm_stop_with(vm, HV_EXIT_TIMEOUT, "the guest ran past --timeout");
		else if (vm->cpu.kick == KICK_SIGNAL)
			vm_stop_with(vm, HV_EXIT_INTERRUPTED, vm->trace && viz_trace_kept(vm)
							      ? "interrupted; the trace was saved"
							      : "interrupted");
		else if (vm->cpu.kick == KICK_VIZ)
			viz_stop_vm(vm); /* the user quit hvviz (hv run --viz) */
		return;
	}
	char why[128];
	snprintf(why, sizeof(why), "KVM_RUN failed: %s", strerror(err));
	vm_stop_with(vm, HV_EXIT_HOST, why);
}

/* ---- the kick: how another thread makes KVM_RUN return ---- */

/*
 * Stop the vCPU thread wherever it is (KVM API documentation, kvm_run "immediate_exit"; Linux
 * 4.11). Inside KVM_RUN a signal stops it: the host interrupt that delivers the signal forces a
 * VM exit, KVM sees the pending signal and returns -1/EINTR (on_kick in vm.c is the handler,
 * which does nothing). But between two KVM_RUNs the handler runs, changes nothing, and the
 * thread then enters KVM_RUN and runs the guest on, perhaps forever: a lost wake-up. KVM reads
 * immediate_exit once when KVM_RUN starts and, if set, returns EINTR without entering the
 * guest. Stored *before* the signal is sent, it stops the thread wherever it is. (Older VMMs
 * used KVM_SET_SIGNAL_MASK instead, the signal blocked outside KVM_RUN, which costs a lock on
 * every KVM_RUN.) `kick` tells the vCPU thread why; KICK_NONE only makes it look at the PIC.
 *
 * Under kick_lock: the vCPU thread clears `running` under the same lock before it returns
 * (vcpu_exiting), so the thread we signal has not ended; a signal to a thread that has ended is
 * undefined behaviour. A stop kick sets immediate_exit even when the thread is not running
 * (yet): a thread about to start must not enter the guest either.
 */
void vcpu_kick(struct vm *vm, int why)
{
	pthread_mutex_lock(&vm->cpu.kick_lock);
	if (why != KICK_NONE)
		vm->cpu.kick = why;
	/* kick before immediate_exit, as the vCPU thread reads them in the other order
	 * (rearm_after_kick): the fence keeps the compiler and the CPU from swapping the stores. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	bool other = vm->cpu.running && !pthread_equal(pthread_self(), vm->cpu.thread);
	if (why != KICK_NONE || other)
		vm->run->immediate_exit = 1;
	if (other)
		pthread_kill(vm->cpu.thread, SIGUSR1);
	pthread_mutex_unlock(&vm->cpu.kick_lock);
}

/*
 * The vCPU thread's side of the kick. After an EINTR, immediate_exit must be cleared or every
 * KVM_RUN would return at once. A stop kick may have arrived meanwhile: the kicker stores `kick`
 * before immediate_exit, so looking at `kick` after clearing re-arms it.
 */
static void rearm_after_kick(struct vm *vm)
{
	vm->run->immediate_exit = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vm->cpu.kick != KICK_NONE)
		vm->run->immediate_exit = 1;
}

/* The thread starts and ends: from now on / no longer may other threads kick it (vcpu_kick). */
static void vcpu_set_running(struct vm *vm, bool running)
{
	pthread_mutex_lock(&vm->cpu.kick_lock);
	vm->cpu.running = running;
	pthread_mutex_unlock(&vm->cpu.kick_lock);
}

/* ---- the loop ---- */

/* What one trip through the loop remembers between KVM_RUN and the next. */
struct vcpu_loop {
	uint64_t t_call, t_return;   /* trace clock: hv called KVM_RUN, KVM_RUN returned */
	uint64_t ns_call, ns_return; /* the same on the monotonic clock, for the summary */
	struct hvt_record exit;      /* the exit being handled, recorded after it */
	bool ran;                    /* KVM_RUN returned an exit (not -1) */
	bool hidden;                 /* a silent --step-seek step: neither counted nor recorded */
	bool first;                  /* before the very first entry */
	bool finishing;              /* this KVM_RUN only completes step.c's trapped OUT */
};

/*
 * Before every KVM_RUN (step 6 of the six, and the first entry): each subsystem's hook, always
 * in this order. Returns false if the VM is to stop instead of entering the guest.
 *   0. gdb   --gdb: if gdb wants the guest stopped, talk to gdb until it resumes it (the wait
 *            is the user's: subtracted like viz's); then KVM's debug state (gdbhv.c)
 *   1. irq   inject a pending interrupt with this entry, or ask KVM for an interrupt window
 *   2. viz   --viz=step: hvviz shows the last exit, and the guest waits for the user's key
 *            (the wait is neither the guest's time nor hv's: subtracted)
 *   3. trace the run-call and entry records (not after a silent step)
 *   4. step  --step: the trap flag or a breakpoint, set again for every entry (step.c)
 * A run that only finishes step.c's I/O trap (finishing) needs none of them: it never enters
 * the guest, so it only sets immediate_exit, and it happens even with a stop request pending,
 * so the exit it completes is still recorded.
 */
static bool vcpu_before_run(struct vm *vm, struct vcpu_loop *lp)
{
	if (lp->finishing) {
		vm->run->immediate_exit = 1;
		return true;
	}
	uint64_t waited = vm->gdb ? gdb_before_run(vm) : 0;
	if (!vm->stop.requested)
		irq_before_run(vm);
	uint64_t paused = (lp->hidden ? 0 : viz_before_run(vm)) + waited;
	lp->t_call = vm->trace ? trace_now(vm->trace) : 0;
	lp->ns_call = vm_now_ns();
	if (!lp->first)
		vm->ns_in_hv += lp->ns_call - lp->ns_return - paused;
	lp->first = false;
	if (!vm->stop.requested && !lp->hidden)
		record_entry(vm, lp->t_call);
	if (!vm->stop.requested)
		step_before_run(vm);
	return !vm->stop.requested;
}

/* The exit is handled: count it and record it (steps 4 -> 5 in the trace), unless it was a
 * silent --step-seek step (step.c), an exit hv made only to find the window. Skipping it keeps
 * the trace's exit/entry rhythm, as if hv had not been looking. */
static void finish_exit(struct vm *vm, struct vcpu_loop *lp)
{
	struct hvt_record *r = &lp->exit;
	lp->hidden = vm->step.hide;
	vm->step.hide = false;
	if (lp->ran && !lp->hidden) {
		vm->exits_seen++;
		vm->exits_by_reason[r->reason <= HVT_REASON_MAX ? r->reason : HVT_R_OTHER]++;
	}
	if (lp->hidden)
		trace_release(vm->trace);
	else
		record_exit(vm, r, lp->t_return, vm->trace ? trace_now(vm->trace) : 0);
}

/*
 * After every KVM_RUN: the exit, through each subsystem in this order.
 *   1. clock   KVM_RUN returned: the time in the guest (and in KVM) ends here
 *   2. kick    -1/EINTR: which thread kicked us, and why (handle_run_error)
 *   3. trace page  the guest kernel's records since the entry (they happened before this exit)
 *   4. handle  step 5: bus -> device; debug exits to step.c or, with --gdb, to gdbhv.c; HLT
 *              to irq.c (handle_exit); then gdbhv.c sees the exit (monitor exits, break-exit)
 *   5. step    if the exit was step.c's I/O trap, one more run to finish it comes first
 *   6. record  count the exit and write its record (finish_exit)
 */
static void vcpu_after_exit(struct vm *vm, struct vcpu_loop *lp, int rc, int err)
{
	if (lp->finishing) { /* the run that completed the trapped OUT: now rip can move */
		lp->finishing = false;
		rearm_after_kick(vm);
		step_io_trap_finished(vm, rc, err);
		finish_exit(vm, lp);
		return;
	}
	lp->t_return = vm->trace ? trace_now(vm->trace) : 0;
	lp->ns_return = vm_now_ns();
	vm->ns_in_run += lp->ns_return - lp->ns_call;
	lp->exit = (struct hvt_record){ .count = 1 };
	lp->ran = rc >= 0;
	if (rc < 0) {
		handle_run_error(vm, err, &lp->exit);
		if (!vm->stop.requested)
			rearm_after_kick(vm);
	} else {
		drain_tracepage(vm, lp->t_call, lp->t_return); /* step 1's records, if kept */
		trace_hold(vm->trace); /* device steps wait for the exit's own record */
		if (!vm->gdb || !gdb_handle_debug(vm, &lp->exit))
			handle_exit(vm, &lp->exit); /* step 5 */
		if (vm->gdb)
			gdb_after_exit(vm, &lp->exit);
		if (vm->step.finish_io) {
			lp->finishing = true; /* recorded after that run, with its final rip */
			return;
		}
	}
	finish_exit(vm, lp);
}

/*
 * The vCPU thread: the six steps of a device access, over and over. The one KVM_RUN of hv is
 * here; everything else hooks in before it or after it, in the fixed order written above.
 */
void *vcpu_thread_main(void *arg)
{
	/* LAB 1 BEGIN run_loop: the vCPU thread: KVM_RUN in a loop, each exit handled in between */
	struct vm *vm = arg;
	struct vcpu_loop lp = { .first = true };

	vcpu_set_running(vm, true);
	/* Step 6 (for the first entry: step 1 is up to the guest); false: stop, don't enter. */
	while (vcpu_before_run(vm, &lp)) {
		/* Steps 2-4 happen inside this call: the guest runs until it needs us. */
		int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
		int err = errno;
		vcpu_after_exit(vm, &lp, rc, err); /* step 5: hv handles the exit */
	}
	/* Records written after the last exit (a guest that stopped by a fatal exit). */
	drain_tracepage(vm, lp.t_call, vm->trace ? trace_now(vm->trace) : 0);
	vcpu_set_running(vm, false);
	return NULL;
	/* LAB 1 STUB
	struct vm *vm = arg;
	struct vcpu_loop lp = { .first = true };

	vcpu_set_running(vm, true);
	// TODO(lab 1): the exit loop. As long as vcpu_before_run(vm, &lp) says go on: call the
	// KVM_RUN ioctl on vm->vcpu_fd (it returns when the guest exits), save errno at once, and
	// hand rc and errno to vcpu_after_exit(vm, &lp, rc, err), which handles the exit (it calls
	// your handle_exit) and records it (textbook ch03 "The six steps").
	(void)vcpu_before_run;
	(void)vcpu_after_exit;
	vm_stop_with(vm, HV_EXIT_HOST, "lab 1: the exit loop in vcpu_thread_main (hv/vcpu.c) is not written yet");
	// Records written after the last exit (a guest that stopped by a fatal exit).
	drain_tracepage(vm, lp.t_call, vm->trace ? trace_now(vm->trace) : 0);
	vcpu_set_running(vm, false);
	return NULL;
	LAB 1 END */
}
