/*
 * vcpu.h - the vCPU thread: the one exit loop, and the one way to make it leave KVM_RUN.
 *
 * Concept: a virtual CPU is a host thread calling KVM_RUN in a loop; every exit that
 * needs hv returns from that call. Other threads never touch the vCPU's state: to get its
 * attention they kick it out of KVM_RUN. Textbook: chapter 3 "Exits", section "The six steps".
 */
#ifndef HV_VCPU_H
#define HV_VCPU_H

#include <pthread.h>
#include <stdbool.h>

struct vm;

/*
 * The vCPU thread's own state; struct vm embeds one (vm->cpu). Other threads read `running`
 * and write `kick` under `kick_lock`, so that a kick can never reach a thread that has left
 * (pthread_kill on an ended thread is undefined behaviour). `kick` is also read by the loop
 * without the lock, hence volatile: a stale read only delays the stop by one more exit.
 */
struct vcpu_state {
	pthread_t thread;
	pthread_mutex_t kick_lock;
	volatile bool running; /* the vCPU thread started: other threads may kick it */
	volatile int kick;     /* why another thread kicked the vCPU out of KVM_RUN (KICK_*) */
};

/* Why another thread kicked the vCPU out of KVM_RUN (vm->cpu.kick). KICK_NONE: only to look at
 * the PIC again (irq.c). KICK_VIZ: the user quit hvviz (vizlink.c). */
enum { KICK_NONE = 0, KICK_TIMEOUT = 1, KICK_SIGNAL = 2, KICK_VIZ = 3 };

/* The vCPU thread's body (vm_run starts it): the exit loop, until the VM is asked to stop. */
void *vcpu_thread_main(void *arg);

/* From any thread but the vCPU's own: make KVM_RUN return now, or keep the next one from
 * entering the guest. A `why` other than KICK_NONE also asks the loop to stop the run. */
void vcpu_kick(struct vm *vm, int why);

#endif
