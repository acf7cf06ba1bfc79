/*
 * irq.c - how a device's interrupt reaches the guest: line -> 8259A PIC -> KVM_INTERRUPT.
 *
 * Concept: polling costs a guest CPU time; an interrupt lets it sleep (HLT) until a device
 * needs it. On a PC the device raises a wire, the 8259A interrupt controller turns it into a
 * vector, and the CPU, when its interrupt flag (IF) allows, jumps through its interrupt table.
 * In a VM every piece of that is someone's work:
 *
 *   1. the device model raises its line           hv/dev/ata.c, virtio_mmio.c, uart.c
 *   2. the interrupt controller decides            hv/dev/pic.c (the chip, in user space)
 *   3. the VMM waits until the guest can take it   run->ready_for_interrupt_injection and
 *      (IF = 1, no interrupt shadow after STI/MOV SS)  run->if_flag; else it sets
 *                                                  request_interrupt_window and KVM exits
 *                                                  (KVM_EXIT_IRQ_WINDOW_OPEN) as soon as it can
 *   4. the VMM injects the vector                  ioctl(KVM_INTERRUPT): KVM writes it into the
 *                                                  VMCS/VMCB "event injection" field, and at the
 *                                                  next VM entry the CPU delivers it as if the
 *                                                  interrupt had come from the hardware
 *   5. the guest's handler runs, acknowledges the device and sends EOI to the PIC (exits)
 *
 * This is the "user-space irqchip" design. KVM can also emulate the PIC, IOAPIC and local APIC
 * in the kernel (KVM_CREATE_IRQCHIP), which is faster, but then a HLT never reaches hv and the
 * chip is invisible to students; hv keeps it visible. Each step is an HVT_IRQ trace record.
 * Textbook: chapter 4 "Two I/O paths", section "Interrupts and polling".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "dev/pic.h"
#include "dev/pit.h"
#include "layout.h"
#include "vm.h"

/* ---- step 1: device lines ---- */

/* A device's line changed (board.c wires one adapter per line to this): record it, and set
 * the PIC's input pin. Whether an interrupt follows is the PIC's decision (mask, priority). */
void irq_line(struct vm *vm, unsigned irq, int level)
{
	trace_device(vm->trace, HVT_IRQ, HVT_IRQ_LINE, 0, irq, (uint64_t)level, 0, 0);
	pic_set_irq(vm->pic, irq, level);
}

/*
 * The PIC's INTR output may have risen. On the vCPU thread nothing is needed: the exit loop
 * looks at the PIC before every KVM_RUN. From another thread (the --ioeventfd I/O thread) the
 * vCPU may be inside KVM_RUN running the guest, or asleep in irq_wait_halted: wake both.
 */
static void irq_intr_changed(void *ctx)
{
	struct vm *vm = ctx;
	pthread_mutex_lock(&vm->irq_lock);
	vm->irq_events++;
	pthread_cond_broadcast(&vm->irq_cond);
	/*
	 * Kick under irq_lock: the vCPU thread clears vcpu_running under the same lock before it
	 * returns (irq_vcpu_exiting), so the thread we signal has not ended yet; a signal to a
	 * thread that has ended is undefined behaviour.
	 */
	if (vm->vcpu_running && !pthread_equal(pthread_self(), vm->vcpu_thread)) {
		/* immediate_exit covers the window between two KVM_RUNs (see kick_vcpu in vm.c). */
		vm->run->immediate_exit = 1;
		pthread_kill(vm->vcpu_thread, SIGUSR1);
	}
	pthread_mutex_unlock(&vm->irq_lock);
}

/* The vCPU thread is about to return: nobody may kick it from now on. */
void irq_vcpu_exiting(struct vm *vm)
{
	if (!vm->pic)
		return;
	pthread_mutex_lock(&vm->irq_lock);
	vm->vcpu_running = false;
	pthread_mutex_unlock(&vm->irq_lock);
}

/* board.c calls this right after it created the PIC: the lock a halted vCPU sleeps on, and
 * the PIC's INTR pin wired to the CPU side (irq_intr_changed). */
int irq_setup(struct vm *vm)
{
	pthread_mutex_init(&vm->irq_lock, NULL);
	pthread_cond_init(&vm->irq_cond, NULL);
	pic_connect_intr(vm->pic, irq_intr_changed, vm);
	return 0;
}

/* board.c calls this before it destroys the PIC (the devices and the timer thread are gone). */
void irq_teardown(struct vm *vm)
{
	if (!vm->pic)
		return;
	pthread_cond_destroy(&vm->irq_cond);
	pthread_mutex_destroy(&vm->irq_lock);
}

/* ---- steps 3 and 4: before every KVM_RUN ---- */

/*
 * Where the guest will take the interrupt just injected. A correct guest waits with `sti; hlt`,
 * and a real CPU opens the interrupt window only *after* the HLT (STI holds interrupts off for
 * one more instruction), so the interrupt wakes the HLT. QEMU's emulated SVM (the lab VM)
 * sometimes opens it right after the STI: the interrupt is then taken before the HLT, the
 * handler runs, returns, and the HLT waits for nothing. On that host only, vcpu.c's handle_hlt
 * resumes such a guest once (a spurious wake-up, which x86 guests tolerate anyway); everywhere
 * else hv behaves like the hardware. Found in the lab VM; textbook chapter 5, "The lab VM".
 */
static void note_injection_rip(struct vm *vm)
{
	vm->inject_at_hlt = false;
	if (!hostinfo_is_emulated_svm(&vm->host))
		return; /* a real CPU honours the STI shadow: nothing to work around */
	struct kvm_regs regs;
	uint8_t op;
	const struct kvm_regs *r = &vm->run->s.regs.regs;
	if (!vm->sync_regs) {
		if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
			return;
		r = &regs;
	}
	vm->inject_rip = r->rip;
	/* flat code segments only (every guest here): rip is the guest-physical address with
	 * paging off; with paging on the read may miss, and then nothing is noted */
	vm->inject_at_hlt = gm_read(&vm->mem, r->rip, &op, 1) == 0 && op == 0xF4;
}

/*
 * KVM filled ready_for_interrupt_injection and if_flag at the last exit: together they say
 * "the guest would accept an external interrupt right now". If it would not (IF = 0, or the
 * one-instruction shadow after STI), asking KVM for an interrupt-window exit makes the CPU
 * leave the guest at the first instant it can take one (VT-x "interrupt-window exiting",
 * AMD's virtual interrupt intercept); until then the request stays in the PIC.
 */
void irq_before_run(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	/*
	 * While hv single-steps a window (hv run --step), interrupts wait in the PIC: a timer tick
	 * injected now would take the CPU into the timer's handler, and the window would show that
	 * instead of the code asked for. Debuggers do the same (KVM_GUESTDBG_BLOCKIRQ for an
	 * in-kernel irqchip, QEMU's gdbstub). The window is short; the tick arrives after it.
	 */
	if (!vm->pic || !pic_intr(vm->pic) || vm->step.phase == STEP_STEPPING) {
		run->request_interrupt_window = 0;
		return;
	}
	if (run->ready_for_interrupt_injection && run->if_flag) {
		int irq;
		uint8_t vector = pic_ack(vm->pic, &irq); /* the INTA cycle, played by hv */
		struct kvm_interrupt k = { .irq = vector };
		if (ioctl(vm->vcpu_fd, KVM_INTERRUPT, &k) < 0) {
			char why[96];
			snprintf(why, sizeof(why), "KVM_INTERRUPT failed: %s", strerror(errno));
			vm_stop_with(vm, HV_EXIT_HOST, why);
			return;
		}
		vm->irqs_injected++;
		note_injection_rip(vm);
		trace_device(vm->trace, HVT_IRQ, HVT_IRQ_INJECT, 0, (uint64_t)(int64_t)irq, 0, vector, 0);
		run->request_interrupt_window = 0;
		return;
	}
	/* One record per wait, not one per exit while the guest keeps IF = 0. */
	if (!run->request_interrupt_window)
		trace_device(vm->trace, HVT_IRQ, HVT_IRQ_WINDOW, 0, 0, 0, 0, 0);
	run->request_interrupt_window = 1;
}

/* ---- HLT with interrupts on ---- */

/* The halted guest can go on: record how long it slept (not hv's time: summary.c). */
static bool irq_woke(struct vm *vm, uint64_t t0)
{
	uint64_t slept = vm_now_ns() - t0;
	vm->ns_halted += slept;
	trace_device(vm->trace, HVT_IRQ, HVT_IRQ_WAKE, 0, 0, slept, 0, 0);
	return true;
}

/*
 * The guest executed HLT with IF = 1: "wake me with an interrupt". Returns true if the guest
 * may go on (a request is pending now, or came while it slept), false if nothing can ever wake
 * it. Only two threads raise lines while the vCPU sleeps: the I/O thread (--ioeventfd) and the
 * PIT's tick thread (a programmed timer); every other device acts only when the guest touches
 * it, which a halted guest cannot. A real CPU would sleep
 * forever; hv says so and stops instead (vcpu.c).
 */
bool irq_wait_halted(struct vm *vm)
{
	if (!vm->pic)
		return false;
	uint64_t t0 = vm_now_ns();
	pthread_mutex_lock(&vm->irq_lock);
	for (;;) {
		uint64_t seen = vm->irq_events;
		pthread_mutex_unlock(&vm->irq_lock);
		if (pic_intr(vm->pic))
			break;
		/* A stop request (--timeout, Ctrl-C): go back to the loop, which sees it. */
		if (vm->kick != KICK_NONE)
			return true;
		/* Nothing in flight that could raise a line: the guest would sleep forever. The
		 * PIC is asked once more, since a request that just finished may have raised one. */
		if (!iothread_may_wake(vm) &&
		    !(vm->pit && pit_may_wake(vm->pit) && pic_line_enabled(vm->pic, HV_IRQ_PIT)))
			return pic_intr(vm->pic) ? irq_woke(vm, t0) : false;
		/* Sleep until a line changes, waking every 50 ms to notice --timeout / Ctrl-C. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L)
			until.tv_sec++, until.tv_nsec -= 1000000000L;
		pthread_mutex_lock(&vm->irq_lock);
		if (vm->irq_events == seen)
			pthread_cond_timedwait(&vm->irq_cond, &vm->irq_lock, &until);
	}
	return irq_woke(vm, t0);
}
