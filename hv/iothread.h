/*
 * iothread.h - --ioeventfd: the virtio doorbell handled by a thread of hv, without an exit to hv.
 *
 * Concept: KVM_IOEVENTFD lets KVM finish a doorbell store in the kernel by signalling an eventfd;
 * a thread of hv sleeping on it serves the queue while the guest runs on. Textbook: chapter 4
 * "Two I/O paths", section "ioeventfd: a doorbell that stays in the kernel".
 */
#ifndef HV_IOTHREAD_H
#define HV_IOTHREAD_H

#include <stdbool.h>
#include <stddef.h>

struct vm;

/* vm_build: register the eventfd with KVM. vm_run: start and stop the thread. */
int iothread_setup(struct vm *vm, char *err, size_t errlen);
int iothread_start(struct vm *vm);
void iothread_stop(struct vm *vm);
/* irq.c, for a halted guest: a doorbell is waiting or being served (it may still raise a line). */
bool iothread_may_wake(struct vm *vm);

#endif
