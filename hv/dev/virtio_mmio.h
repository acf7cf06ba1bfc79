/*
 * virtio_mmio.h - the virtio-mmio transport (register layout version 2): how a guest finds,
 * configures and rings hv's virtio device through a window of MMIO registers.
 *
 * Concept: a para-virtualized device still needs a few registers: "I am a virtio block
 * device", feature negotiation, where the queue lives, a doorbell, an interrupt status.
 * virtio-mmio puts them at a fixed guest-physical address (HV_MMIO_VIRTIO_BLK, announced on
 * the guest's command line: there is no PCI bus to enumerate). The device behind the window
 * is virtio-blk (virtio_blk.h). Textbook: chapter 4 "Two I/O paths", section "virtio";
 * virtio 1.1, section 4.2.2.
 */
#ifndef HV_DEV_VIRTIO_MMIO_H
#define HV_DEV_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "virtio_blk.h"

/* QueueNotify, the doorbell, is at this offset of the window: the lead registers the
 * ioeventfd on HV_MMIO_VIRTIO_BLK + this (iothread.c). */
#define VIRTIO_MMIO_NOTIFY_OFFSET 0x050u
/* The same, under the name hvviz knows it by (viz/requests.c: "is this record a doorbell?"). */
#define VIRTIO_BLK_NOTIFY_OFFSET VIRTIO_MMIO_NOTIFY_OFFSET

#define VIRTIO_MMIO_CONFIG_OFFSET 0x100u /* the device's config space starts here */

/* The register window: dev = struct virtio_blk *, at HV_MMIO_VIRTIO_BLK, HV_VIRTIO_MMIO_LEN
 * bytes long. Its reset is the driver's "write 0 to Status". */
extern const struct device_ops virtio_mmio_ops;

/* Wire the interrupt line (IRQ HV_IRQ_VIRTIO_BLK); set_irq may be NULL (polling guests).
 * The line is high exactly while InterruptStatus is not 0. */
void virtio_mmio_connect_irq(struct virtio_blk *b, void (*set_irq)(void *ctx, int level),
			     void *ctx);

/* The doorbell for `queue`, from the MMIO handler (via_eventfd = false) or from the I/O
 * thread that read the ioeventfd (true). Thread-safe. */
void virtio_mmio_notify(struct virtio_blk *b, uint32_t queue, bool via_eventfd);

#endif
