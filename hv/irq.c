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
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "dev/pic.h"
#include "dev/pit.h"
#include "iothread.h"
#include "irq.h"
#include "layout.h"
#include "regs.h"
#include "step.h"
#include "vcpu.h"
#include "vm.h"

/* ---- step 1: device lines ---- */

/* A device's line changed (board.c wires one adapter per line to this): record it, and set
 * the PIC's input pin. Whether an interrupt follows is the PIC's decision (mask, priority). */
void irq_line(struct vm *vm, unsigned irq, int level)
{
	trace_device(vm->trace, HVT_IRQ, HVT_IRQ_LINE, 0, irq, (uint64_t)level, 0, 0);
	pic_set_irq(vm->irq.pic, irq, level);
}

/*
 * The PIC's INTR output may have risen. On the vCPU thread nothing is needed: the exit loop
 * looks at the PIC before every KVM_RUN. From another thread (the --ioeventfd I/O thread, the
 * PIT's tick thread) the vCPU may be asleep in irq_wait_halted, or inside KVM_RUN running the
 * guest: wake the first with the condition variable, kick the second out of KVM_RUN (vcpu.c,
 * vcpu_kick, which does nothing on the vCPU thread itself or once it has ended).
 */
static void irq_intr_changed(void *ctx)
{
	struct vm *vm = ctx;
	pthread_mutex_lock(&vm->irq.lock);
	vm->irq.events++;
	pthread_cond_broadcast(&vm->irq.cond);
	pthread_mutex_unlock(&vm->irq.lock);
	vcpu_kick(vm, KICK_NONE);
}

/* board.c calls this right after it created the PIC: the lock a halted vCPU sleeps on, and
 * the PIC's INTR pin wired to the CPU side (irq_intr_changed). */
int irq_setup(struct vm *vm)
{
	pthread_mutex_init(&vm->irq.lock, NULL);
	pthread_cond_init(&vm->irq.cond, NULL);
	pic_connect_intr(vm->irq.pic, irq_intr_changed, vm);
	return 0;
}

/* board.c calls this before it destroys the PIC (the devices and the timer thread are gone). */
void irq_teardown(struct vm *vm)
{
	if (!vm->irq.pic)
		return;
	pthread_cond_destroy(&vm->irq.cond);
	pthread_mutex_destroy(&vm->irq.lock);
}

/* ---- steps 3 and 4: before every KVM_RUN ---- */

/*
 * Where the guest will take the interrupt just injected. A correct guest waits with `sti; hlt`,
 * and a real CPU opens the interrupt window only *after* the HLT (STI holds interrupts off for
 * one more instruction), so the interrupt wakes the HLT. QEMU's emulated SVM (the lab VM)
 * sometimes opens it right after the STI: the interrupt is then taken before the HLT, the
 * handler runs, returns, and the HLT waits for nothing. On that host only, irq_wait_halted
 * resumes such a guest once (a spurious wake-up, which x86 guests tolerate anyway); everywhere
 * else hv behaves like the hardware. Found in the lab VM; textbook chapter 5, "The lab VM".
 */
static void note_injection_rip(struct vm *vm)
{
	vm->irq.inject_at_hlt = false;
	if (!hostinfo_is_emulated_svm(&vm->host))
		return; /* a real CPU honours the STI shadow: nothing to work around */
	struct kvm_regs buf;
	uint8_t op;
	const struct kvm_regs *r = regs_at_exit(vm, &buf);
	if (!r)
		return;
	vm->irq.inject_rip = r->rip;
	/* flat code segments only (every guest here): rip is the guest-physical address with
	 * paging off; with paging on the read may miss, and then nothing is noted */
	vm->irq.inject_at_hlt = gm_read(&vm->mem, r->rip, &op, 1) == 0 && op == 0xF4;
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
	if (!vm->irq.pic || !pic_intr(vm->irq.pic) || step_holds_interrupts(&vm->step)) {
		run->request_interrupt_window = 0;
		return;
	}
	if (run->ready_for_interrupt_injection && run->if_flag) {
		int irq;
		uint8_t vector = pic_ack(vm->irq.pic, &irq); /* the INTA cycle, played by hv */
		struct kvm_interrupt k = { .irq = vector };
		if (ioctl(vm->vcpu_fd, KVM_INTERRUPT, &k) < 0) {
			char why[96];
			snprintf(why, sizeof(why), "KVM_INTERRUPT failed: %s", strerror(errno));
			vm_stop_with(vm, HV_EXIT_HOST, why);
			return;
		}
		vm->irq.injected++;
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

/* A key typed on hv's stdin could still wake it: input can arrive (console_in.c) and would
 * raise IRQ 4 (the UART's receive interrupt enabled, the PIC line unmasked). */
static bool console_may_wake(struct vm *vm)
{
	return vm->uart && conin_may_wake(&vm->conin) && uart_rx_irq_enabled(vm->uart) &&
	       pic_line_enabled(vm->irq.pic, HV_IRQ_UART0);
}

/* The halted guest can go on: record how long it slept (not hv's time: summary.c). */
static bool irq_woke(struct vm *vm, uint64_t t0)
{
	uint64_t slept = vm_now_ns() - t0;
	vm->ns_halted += slept;
	trace_device(vm->trace, HVT_IRQ, HVT_IRQ_WAKE, 0, 0, slept, 0, 0);
	return true;
}

/*
 * Sleep until an interrupt is pending. Returns true if the guest may go on (a request is
 * pending now, or came while it slept), false if nothing can ever wake it. Only three threads
 * raise lines while the vCPU sleeps: the I/O thread (--ioeventfd), the PIT's tick thread (a
 * programmed timer) and the console input thread (a key on hv's stdin); every other device
 * acts only when the guest touches it, which a halted guest cannot.
 */
static bool wait_for_interrupt(struct vm *vm)
{
	if (!vm->irq.pic)
		return false;
	uint64_t t0 = vm_now_ns();
	pthread_mutex_lock(&vm->irq.lock);
	for (;;) {
		uint64_t seen = vm->irq.events;
		pthread_mutex_unlock(&vm->irq.lock);
		if (pic_intr(vm->irq.pic))
			break;
		/* A stop request (--timeout, Ctrl-C): go back to the loop, which sees it. */
		if (vm->cpu.kick != KICK_NONE)
			return true;
		/* Nothing in flight that could raise a line: the guest would sleep forever. The
		 * PIC is asked once more, since a request that just finished may have raised one. */
		if (!iothread_may_wake(vm) &&
		    !(vm->irq.pit && pit_may_wake(vm->irq.pit) && pic_line_enabled(vm->irq.pic, HV_IRQ_PIT)) &&
		    !console_may_wake(vm))
			return pic_intr(vm->irq.pic) ? irq_woke(vm, t0) : false;
		/* Sleep until a line changes, waking every 50 ms to notice --timeout / Ctrl-C. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L)
			until.tv_sec++, until.tv_nsec -= 1000000000L;
		pthread_mutex_lock(&vm->irq.lock);
		if (vm->irq.events == seen)
			pthread_cond_timedwait(&vm->irq.cond, &vm->irq.lock, &until);
	}
	return irq_woke(vm, t0);
}

/*
 * The guest executed HLT with IF = 1: "wake me with an interrupt". Wait for one; a pending (or
 * arriving) interrupt is injected before the next KVM_RUN and the guest resumes after its HLT,
 * in its handler first. If nothing can ever wake it, a real CPU would sleep forever; hv returns
 * false and the exit loop stops the run and says why (vcpu.c, handle_hlt), with one exception:
 * this very HLT was where the last interrupt was injected (the guest at rip = that rip + 1, past
 * the HLT). The interrupt was then taken before the HLT instead of waking it (note_injection_rip):
 * resume once, as a spurious wake-up; a guest that halts again with nothing pending is stopped.
 */
bool irq_wait_halted(struct vm *vm, uint64_t rip)
{
	if (wait_for_interrupt(vm))
		return true;
	if (vm->irq.inject_at_hlt && rip == vm->irq.inject_rip + 1) {
		vm->irq.inject_at_hlt = false;
		vm->irq.hlt_after_injection++;
		return true;
	}
	return false;
}
