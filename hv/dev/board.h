/*
 * board.h - the PC this VM is: which devices it has, where each one answers, which interrupt
 * line each one drives.
 *
 * Concept: on a real motherboard the chipset's address decoders and the traces to the 8259A
 * are soldered; in a VMM they are a table. board.c is that table: every device of hv's
 * machine is created, put on the I/O bus (bus.h) and wired to its IRQ line in one place, so a
 * student can read the whole machine on one screen and compare it with `lspci`/`/proc/ioports`
 * of a real PC. Textbook: chapter 3 "Exits", section "From exit to device", and chapter 4
 * "Two I/O paths", section "Interrupts and polling".
 */
#ifndef HV_DEV_BOARD_H
#define HV_DEV_BOARD_H

#include <stddef.h>

#include "vm.h"

/*
 * Create every device of the machine into vm (vm->irq.pic, vm->irq.pit, vm->uart, ...),
 * register each on vm->bus, and wire each interrupt line to the PIC. `disk` picks the disk
 * controller: none, the legacy ATA drive or virtio-blk on vm->disk, which must already be open. Returns 0, or -1
 * with a one-line reason in err; board_destroy then frees what was made.
 */
int board_create(struct vm *vm, enum disk_path disk, char *err, size_t errlen);

/* Free every device board_create made (any that exist), timer thread first. */
void board_destroy(struct vm *vm);

#endif
