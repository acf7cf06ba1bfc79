/*
 * irq.h - interrupts from device lines through the 8259A PIC to KVM_INTERRUPT.
 *
 * Concept: the "user-space irqchip": the interrupt controller is hv's (hv/dev/pic.c), and hv
 * injects each vector into the vCPU itself before a KVM_RUN. irq.c explains the five steps;
 * this header is what the VM's build (vm.c) and the exit loop (vcpu.c) call, and the state
 * irq.c keeps in struct vm. Textbook: chapter 4 "Two I/O paths", section "Interrupts and
 * polling".
 */
#ifndef HV_IRQ_H
#define HV_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;
struct pic;
struct pit;

/* All of the interrupt path's state; struct vm embeds one (vm->irq). */
struct irq_state {
	struct pic *pic;
	struct pit *pit;           /* the 8254 timer and its tick thread (dev/pit.c) */
	pthread_mutex_t lock;      /* with cond: a halted vCPU sleeps until a line changes */
	pthread_cond_t cond;
	uint64_t events;           /* times the PIC's output may have risen */
	uint64_t injected;         /* interrupts injected with KVM_INTERRUPT */
	bool inject_at_hlt;        /* the last injection found the guest about to execute HLT */
	uint64_t inject_rip;       /* ...at this rip (irq_before_run) */
	uint64_t hlt_after_injection; /* HLTs resumed once because of that (irq_wait_halted) */
};

/* board.c (dev/board.c) creates the PIC and the PIT into this struct, calls irq_setup right
 * after the PIC (the lock, and the PIC's INTR pin to the CPU side) and irq_teardown before it
 * destroys the PIC, and wires each device's line to irq_line. */
int irq_setup(struct vm *vm);
void irq_teardown(struct vm *vm);
void irq_line(struct vm *vm, unsigned irq, int level); /* a device line changed level */

/* The exit loop's hooks (vcpu.c): before every KVM_RUN, inject or ask for an interrupt window;
 * on HLT with IF = 1 (the guest at rip), wait for an interrupt: true if the guest can go on. */
void irq_before_run(struct vm *vm);
bool irq_wait_halted(struct vm *vm, uint64_t rip);

#endif
