/*
 * iothread.c - --ioeventfd: the virtio doorbell without an exit to hv.
 *
 * Concept: when the guest rings virtio-blk's doorbell (a 32-bit store of the queue number to
 * QueueNotify), the CPU exits to KVM like for any MMIO store. Normally KVM then returns from
 * KVM_RUN to hv, which decodes the store, finds the device on its bus and processes the queue
 * on the vCPU thread, while the guest waits. With an ioeventfd (KVM_IOEVENTFD, Linux 2.6.32)
 * hv tells KVM beforehand: "a 4-byte write of 0 to this address only means: signal this
 * eventfd". KVM then handles the exit *in the kernel*: it increments the eventfd's counter and
 * re-enters the guest at once. The exit still happens (KVM's "exits" counter shows it), but it
 * never reaches hv, and the guest runs on while a separate thread of hv, woken by the eventfd,
 * processes the queue. That is how QEMU, Firecracker and cloud-hypervisor all run virtio.
 *
 * The trace shows it: there is no MMIO exit record for such a doorbell, only the I/O thread's
 * NOTIFY record with HVT_F_EVENTFD (vcpu = "iothread"). KVM's counters at the end show where
 * the exits went: "mmio_exits" (exits passed to user space) drops by the number of doorbells,
 * while "exits" still counts them. (On a PVM host "exits" also holds thousands of emulation
 * exits, so the 4 doorbells of diskio are hard to see there; mmio_exits 37 -> 33 is clear.) Textbook: chapter 4 "Two I/O paths",
 * section "ioeventfd: a doorbell that stays in the kernel".
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dev/virtio_mmio.h"
#include "iothread.h"
#include "layout.h"
#include "vm.h"

/*
 * Register the doorbell with KVM. DATAMATCH 0: only "queue 0" is diverted. Any other value (a
 * guest naming a queue that does not exist, appendix C, T3) still exits to hv as a normal MMIO
 * store, so the device sees it, refuses it and traces it.
 */
int iothread_setup(struct vm *vm, char *err, size_t errlen)
{
	if (!vm->vblk) {
		snprintf(err, errlen, "--ioeventfd needs --disk-path virtio (the legacy disk has no doorbell)");
		return -1;
	}
	vm->io.notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->io.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->io.notify_fd < 0 || vm->io.stop_fd < 0) {
		snprintf(err, errlen, "cannot create an eventfd: %s", strerror(errno));
		return -1;
	}
	struct kvm_ioeventfd io = {
		.datamatch = 0,
		.addr = HV_MMIO_VIRTIO_BLK + VIRTIO_MMIO_NOTIFY_OFFSET,
		.len = 4,
		.fd = vm->io.notify_fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH, /* no PIO flag: an MMIO address */
	};
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		snprintf(err, errlen, "KVM_IOEVENTFD failed: %s (this KVM cannot divert the doorbell; "
			 "run without --ioeventfd)", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The thread: sleep in poll() until KVM signals the doorbell or the main thread says stop.
 * Reading an eventfd returns the number of signals since the last read and resets it to 0, so
 * three doorbells rung while this thread was busy wake it once: the device then finds all the
 * new requests in the avail ring anyway (doorbells are hints, not a message queue).
 */
static void *iothread_main(void *arg)
{
	struct vm *vm = arg;
	trace_set_thread_id(HVT_VCPU_IOTHREAD);
	struct pollfd fds[2] = {
		{ .fd = vm->io.notify_fd, .events = POLLIN },
		{ .fd = vm->io.stop_fd, .events = POLLIN },
	};
	for (;;) {
		if (poll(fds, 2, -1) < 0 && errno != EINTR) {
			char why[96];
			snprintf(why, sizeof(why), "the I/O thread cannot wait for doorbells: %s",
				 strerror(errno));
			vm_stop_with(vm, HV_EXIT_HOST, why);
			break;
		}
		/* Busy from before the read until the work is done, so that a halted vCPU can
		 * tell "a doorbell is being served" from "nothing will ever come" (irq.c). */
		__atomic_store_n(&vm->io.busy, 1, __ATOMIC_SEQ_CST);
		uint64_t kicks;
		if (read(vm->io.notify_fd, &kicks, sizeof(kicks)) == (ssize_t)sizeof(kicks))
			virtio_mmio_notify(vm->vblk, 0, true);
		__atomic_store_n(&vm->io.busy, 0, __ATOMIC_SEQ_CST);
		if (fds[1].revents & POLLIN)
			break; /* checked after the doorbell: a last kick is never lost */
	}
	return NULL;
}

/*
 * Could the I/O thread still raise an interrupt for a guest that is halted now? Only if a
 * doorbell is waiting in the eventfd or being served: a halted guest cannot ring a new one.
 * The eventfd is looked at first: the thread marks itself busy before it reads the eventfd,
 * so a doorbell is always seen in one of the two places.
 */
bool iothread_may_wake(struct vm *vm)
{
	if (!vm->io.running)
		return false;
	struct pollfd p = { .fd = vm->io.notify_fd, .events = POLLIN };
	if (poll(&p, 1, 0) > 0)
		return true;
	return __atomic_load_n(&vm->io.busy, __ATOMIC_SEQ_CST) != 0;
}

int iothread_start(struct vm *vm)
{
	int rc = vm_start_thread(&vm->io.thread, iothread_main, vm);
	if (rc != 0)
		return rc;
	vm->io.running = true;
	return 0;
}

void iothread_stop(struct vm *vm)
{
	if (!vm->io.running)
		return;
	/* An eventfd write of 1 cannot fail unless the counter would overflow 2^64 - 2, which one
	 * write per run never reaches; the thread's poll then sees it. */
	uint64_t one = 1;
	if (write(vm->io.stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		fprintf(stderr, "hv: cannot stop the I/O thread: %s\n", strerror(errno));
	pthread_join(vm->io.thread, NULL);
	vm->io.running = false;
}
