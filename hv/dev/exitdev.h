/*
 * exitdev.h - the exit port (HV_PORT_EXIT), like QEMU's isa-debug-exit: a guest ends the run
 * with a status of its choosing. exitdev.c is the device; this is its interface, and the
 * stop request (struct vm_stop) it fills in for the exit loop.
 * Textbook: chapter 3 "Exits", section "From exit to device".
 *
 * The struct is public so hv and the tests can print its counters; only exitdev.c changes its
 * fields. exitdev_create allocates one fixed-size struct (never an amount a guest chooses) and
 * returns NULL with errno = ENOMEM on failure. Guest-visible misbehaviour is *counted* in
 * the device, never printed: a guest can repeat it billions of times.
 */
#ifndef HV_DEV_EXITDEV_H
#define HV_DEV_EXITDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

/*
 * Why the run should end, set by a device (the exit port) or by the exit loop. The loop checks
 * `requested` after every exit; `status` becomes hv's exit status; `why` is a static string
 * for the summary line.
 */
struct vm_stop {
	bool requested;
	int status;
	const char *why;
};

#define EXITDEV_LEN 4u /* ports 0xF4-0xF7, so OUT of 1, 2 or 4 bytes all reach the device */

struct exitdev {
	struct vm_stop *stop; /* the VM's stop request, filled on a write */
	uint64_t writes;
	uint64_t reads;
};

extern const struct device_ops exitdev_ops;
struct exitdev *exitdev_create(struct vm_stop *stop);
void exitdev_destroy(struct exitdev *e);

#endif
