/*
 * iothread.h - --ioeventfd: the virtio doorbell handled by a thread of hv, without an exit to hv.
 *
 * Concept: KVM_IOEVENTFD lets KVM finish a doorbell store in the kernel by signalling an eventfd;
 * a thread of hv sleeping on it serves the queue while the guest runs on. Textbook: chapter 4
 * "Two I/O paths", section "ioeventfd: a doorbell that stays in the kernel".
 */
#ifndef HV_IOTHREAD_H
#define HV_IOTHREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct vm;

/*
 * The I/O thread's own state; struct vm embeds one (vm->io). Two eventfds: KVM signals
 * `notify_fd` when the guest writes the doorbell (no exit), and the main thread signals
 * `stop_fd` to end the thread, so one poll() waits for either. `busy` is read by the vCPU
 * thread without a lock (atomics): a halted guest must not be declared stuck while a request
 * is being served and may still raise the interrupt line.
 */
struct iothread_state {
	int notify_fd;  /* --ioeventfd: KVM signals it on a doorbell write (-1: none) */
	int stop_fd;    /* the main thread tells the I/O thread to end (-1: none) */
	pthread_t thread;
	bool running;
	int busy;       /* serving a doorbell right now (atomic; iothread_may_wake) */
};

/* vm_build: register the eventfd with KVM. vm_run: start and stop the thread. */
int iothread_setup(struct vm *vm, char *err, size_t errlen);
int iothread_start(struct vm *vm);
void iothread_stop(struct vm *vm);
/* irq.c, for a halted guest: a doorbell is waiting or being served (it may still raise a line). */
bool iothread_may_wake(struct vm *vm);

#endif
