/*
 * exitdev.c - the exit port: how a guest ends the VM with a status of its choosing.
 *
 * Concept: a real PC has no instruction meaning "end the program and return 3 to the shell";
 * a guest can only halt or reset. For tests we want a guest to *report* a result, so hv
 * copies QEMU's isa-debug-exit device: an OUT of value V to port 0xF4 ends the run and hv
 * exits with status ((V << 1) | 1) & 0xFF. The shift-and-set-bit-0 makes every guest-chosen
 * status odd, while hv's own statuses (layout.h) are even, so a test can always tell who
 * ended the run. The & 0xFF is the shell's: a process exit status is one byte, so V = 0x80
 * gives (0x101 & 0xFF) = 0x01, the same as V = 0. Textbook: chapter 3 "Exits", section
 * "From exit to device"; layout.h "Exit statuses of hv run".
 *
 * The device does not stop anything itself: it only records the request in the VM's
 * struct vm_stop. The exit loop checks it after every exit. That keeps the order of events
 * in one place (vcpu.c) and lets a unit test see the request without a VM.
 */
#include "exitdev.h"
#include "stop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Reading the port means nothing: all ones, as from an empty bus. */
static void exitdev_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct exitdev *e = dev;

	(void)offset;
	e->reads++;
	memset(data, 0xFF, size);
}

/*
 * Any write, of any width (OUT of 1, 2 or 4 bytes; the device spans ports 0xF4-0xF7 so all of
 * them arrive) at any of its ports, asks to end the run. Only the low byte of V counts: the status
 * is one byte anyway, and computing with the low byte keeps V << 1 from ever overflowing.
 */
static void exitdev_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct exitdev *e = dev;
	unsigned v = size > 0 ? data[0] : 0;

	(void)offset;
	e->writes++;
	/*
	 * hv's one stop (stop.h): the first request wins, so a `rep outsb` to the port, or a
	 * timeout that fired first, does not have its status replaced by a later byte.
	 */
	vm_stop_request(e->stop, (int)(((v << 1) | 1u) & 0xFFu), "the guest wrote to the exit port");
}

/* Reset leaves the VM's stop request alone: that belongs to the VM, not to the device. */
const struct device_ops exitdev_ops = {
	.name = "exitdev",
	.read = exitdev_read,
	.write = exitdev_write,
	.reset = NULL,
};

struct exitdev *exitdev_create(struct vm_stop *stop)
{
	if (!stop) {
		errno = EINVAL;
		return NULL;
	}
	struct exitdev *e = calloc(1, sizeof(*e));

	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	e->stop = stop;
	return e;
}

void exitdev_destroy(struct exitdev *e)
{
	free(e);
}
