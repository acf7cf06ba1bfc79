/*
 * vcpu.c - the vCPU thread and its exit loop: where the guest leaves, and how it comes back.
 *
 * Concept: to the host a virtual CPU is just a thread that calls ioctl(KVM_RUN) in a loop.
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
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layout.h"
#include "vizlink.h"
#include "vm.h"

#define RFLAGS_IF (1u << 9) /* interrupt flag: the CPU accepts maskable interrupts */
#define MSR_IA32_TSC 0x10u  /* the time stamp counter, as the guest reads it with RDTSC */

/*
 * Guest rip, mode and CPL at this exit. With KVM_CAP_SYNC_REGS, KVM already copied the
 * registers into kvm_run (no extra system call); otherwise ask with two ioctls.
 */
static void guest_state(struct vm *vm, struct hvt_record *r)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	const struct kvm_regs *rp = &regs;
	const struct kvm_sregs *sp = &sregs;
	if (vm->sync_regs) {
		rp = &vm->run->s.regs.regs;
		sp = &vm->run->s.regs.sregs;
	} else if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0 ||
		   ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
		return;
	}
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
 * Port I/O: KVM stored the data in the kvm_run page at data_offset. For string instructions
 * (rep outsb/insw) one exit carries `count` elements back to back.
 */
static void handle_io(struct vm *vm, struct hvt_record *r)
{
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
}

/* MMIO: a load or store to a guest-physical address with no RAM behind it. KVM decoded the
 * instruction for us; for a load, hv writes the value into run->mmio.data and KVM completes
 * the instruction on the next KVM_RUN. */
static void handle_mmio(struct vm *vm, struct hvt_record *r)
{
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
}

/*
 * HLT: without an in-kernel interrupt controller KVM hands HLT to us. With interrupts off
 * (IF = 0) nothing can ever wake the CPU again: the guest is done. With IF = 1 the guest
 * waits for an interrupt, but in this machine no device raises one yet, so it would sleep
 * forever: we stop and say why rather than hang.
 */
static void handle_hlt(struct vm *vm, struct hvt_record *r)
{
	struct kvm_regs regs;
	r->reason = HVT_R_HLT;
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) == 0 && (regs.rflags & RFLAGS_IF)) {
		/* Waiting for an interrupt: one pending (or arriving) is injected before the next
		 * KVM_RUN, and the guest resumes after its HLT, in its handler first (irq.c). */
		if (irq_wait_halted(vm))
			return;
		/*
		 * This very HLT was where the last interrupt was injected: the interrupt was taken
		 * before it instead of waking it (irq.c, note_injection_rip). Resume once, as a
		 * spurious wake-up; a guest that halts again with nothing pending is stopped below.
		 */
		if (vm->inject_at_hlt && regs.rip == vm->inject_rip + 1) {
			vm->inject_at_hlt = false;
			vm->hlt_after_injection++;
			return;
		}
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
}

/* KVM_RUN returned -1: the main thread kicked us (timeout, Ctrl-C) or a host error. */
static void handle_run_error(struct vm *vm, int err, struct hvt_record *r)
{
	r->reason = HVT_R_INTR;
	if (err == EINTR || err == EAGAIN) {
		if (vm->kick == KICK_TIMEOUT)
			vm_stop_with(vm, HV_EXIT_TIMEOUT, "the guest ran past --timeout");
		else if (vm->kick == KICK_SIGNAL)
			vm_stop_with(vm, HV_EXIT_INTERRUPTED, vm->trace && viz_trace_kept(vm)
							      ? "interrupted; the trace was saved"
							      : "interrupted");
		else if (vm->kick == KICK_VIZ)
			viz_stop_vm(vm); /* the user quit hvviz (hv run --viz) */
		return;
	}
	char why[128];
	snprintf(why, sizeof(why), "KVM_RUN failed: %s", strerror(err));
	vm_stop_with(vm, HV_EXIT_HOST, why);
}

/*
 * After an EINTR that was only an interrupt kick (irq.c), immediate_exit must be cleared or
 * every KVM_RUN would return at once. A stop kick may have arrived meanwhile: the main thread
 * stores `kick` before immediate_exit, so looking at `kick` after clearing re-arms it.
 */
static void rearm_after_kick(struct vm *vm)
{
	vm->run->immediate_exit = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vm->kick != KICK_NONE)
		vm->run->immediate_exit = 1;
}

void *vcpu_thread_main(void *arg)
{
	struct vm *vm = arg;

	pthread_mutex_lock(&vm->irq_lock); /* kickers read it under this lock (irq.c) */
	vm->vcpu_running = true;
	pthread_mutex_unlock(&vm->irq_lock);
	viz_before_run(vm); /* --viz=step: the user starts the guest from hvviz (vizlink.c) */
	uint64_t t_call = vm->trace ? trace_now(vm->trace) : 0;
	uint64_t ns_call = vm_now_ns();
	/* Step 6 for the very first entry: hv calls KVM_RUN, KVM enters the guest. */
	irq_before_run(vm);
	if (!vm->stop.requested) /* (hvviz may have quit before the first entry) */
		record_entry(vm, t_call);
	while (!vm->stop.requested) {
		step_before_run(vm); /* --step: breakpoint or trap flag, set again every time */
		if (vm->stop.requested)
			break;
		/* Steps 2-4 happen inside this call: the guest runs until it needs us. */
		int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
		int err = errno;
		uint64_t t_return = vm->trace ? trace_now(vm->trace) : 0;
		uint64_t ns_return = vm_now_ns();
		struct hvt_record r = { .count = 1 };

		vm->ns_in_run += ns_return - ns_call;
		if (rc < 0) {
			handle_run_error(vm, err, &r);
			if (!vm->stop.requested)
				rearm_after_kick(vm);
		} else {
			drain_tracepage(vm, t_call, t_return); /* step 1's records, if the guest keeps them */
			trace_hold(vm->trace); /* device steps wait for the exit's own record */
			handle_exit(vm, &r); /* step 5 */
		}
		/*
		 * A silent --step-seek step (step.c) is an exit hv made only to find the window: it is
		 * neither counted nor recorded, and neither is the entry after it, so the trace keeps
		 * its exit/entry rhythm and shows the run as if hv had not been looking.
		 */
		bool hidden = vm->step.hide;
		vm->step.hide = false;
		if (rc >= 0 && !hidden) {
			vm->exits_seen++;
			vm->exits_by_reason[r.reason <= HVT_REASON_MAX ? r.reason : HVT_R_OTHER]++;
		}
		/* Step 6: record, then go back into the guest unless something asked to stop. */
		if (hidden)
			trace_release(vm->trace);
		else
			record_exit(vm, &r, t_return, vm->trace ? trace_now(vm->trace) : 0);
		if (!vm->stop.requested)
			irq_before_run(vm); /* a pending interrupt goes in with this entry (irq.c) */
		/* --viz=step: hvviz sees this exit now and the guest waits for the user's "next",
		 * time that is neither the guest's nor hv's (vizlink.c). Hidden exits show nothing. */
		uint64_t paused = hidden ? 0 : viz_before_run(vm);
		t_call = vm->trace ? trace_now(vm->trace) : 0;
		ns_call = vm_now_ns();
		vm->ns_in_hv += ns_call - ns_return - paused;
		if (!vm->stop.requested && !hidden)
			record_entry(vm, t_call);
	}
	/* Records written after the last exit (a guest that stopped by a fatal exit). */
	drain_tracepage(vm, t_call, vm->trace ? trace_now(vm->trace) : 0);
	irq_vcpu_exiting(vm);
	return NULL;
}
