/*
 * virtio_blk.h - the para-virtualized disk: the virtio-blk device and its state.
 *
 * Concept: the legacy ATA disk makes the guest poke eight I/O ports per sector, one VM exit
 * each. virtio turns that around: the guest's driver *knows* it runs on a hypervisor, puts
 * whole requests into a queue in its own RAM (virtq.h) and rings one doorbell register; hv
 * does all the work in one exit (or in none, with an ioeventfd: KVM signals an eventfd and an
 * I/O thread of hv picks the doorbell up). Textbook: chapter 4 "Two I/O paths"; virtio 1.1
 * specification, sections 4.2 "Virtio Over MMIO" and 5.2 "Block Device".
 *
 * A virtio device is two layers, and hv keeps them in two files:
 *   virtio_mmio.c  the transport (virtio_mmio.h): the register file at HV_MMIO_VIRTIO_BLK
 *                  (magic, version, features, queue setup, doorbell, interrupt status, device
 *                  status), the device-status state machine, and the interrupt line. It is
 *                  the same for every kind of virtio device.
 *   virtio_blk.c   the block device (this header): what it offers (features), its config
 *                  space (capacity, ...) and the execution of one request (header, data,
 *                  status byte) on the disk backend (disk.h). Only this part knows "disk".
 * kvmtool and QEMU make the transport generic, with a table of device callbacks; hv has one
 * virtio device, so the two files share one struct, struct virtio_blk, and its lock, and the
 * transport calls the three device functions at the end of this header directly.
 *
 * Threads: the vCPU thread calls the MMIO handlers, an I/O thread may call virtio_mmio_notify
 * (ioeventfd mode). Every entry point takes b->lock, so a reset from one thread never meets a
 * request half-done by the other (appendix C, T7).
 */
#ifndef HV_DEV_VIRTIO_BLK_H
#define HV_DEV_VIRTIO_BLK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "disk.h"
#include "guestmem.h"
#include "layout.h"
#include "trace_write.h"
#include "virtq.h"

/* Counters for the end-of-run summary and the tests. */
struct virtio_blk_stats {
	uint64_t requests;         /* requests whose header was read (one HVT_VQ_REQUEST each) */
	uint64_t bytes;            /* data bytes moved between guest buffers and the image */
	uint64_t notifies_mmio;    /* QueueNotify writes that reached the MMIO handler (an exit) */
	uint64_t notifies_eventfd; /* doorbells that came through the ioeventfd (no exit in hv) */
	uint64_t errors;           /* HVT_VQ_ERROR records: every refusal of guest input */
	uint64_t irqs_raised;      /* interrupts the device signalled (HVT_VQ_IRQ_RAISE) */
	uint64_t irqs_suppressed;  /* used-buffer notifications not sent (HVT_VQ_IRQ_SUPPRESS) */
	uint64_t needs_reset;      /* times the device set DEVICE_NEEDS_RESET */
};

/*
 * The device's state: transport registers and block device in one. Public so hv and the
 * tests can look; only virtio_mmio.c and virtio_blk.c change it, always under `lock`.
 */
struct virtio_blk {
	pthread_mutex_t lock;
	const struct guest_mem *mem;
	struct disk *disk;
	struct trace_writer *trace;

	/* the interrupt line: level = (interrupt_status != 0) */
	void (*set_irq)(void *ctx, int level);
	void *irq_ctx;
	int irq_level;

	/* transport registers (virtio_mmio.c explains each one) */
	uint32_t status;             /* device status: ACKNOWLEDGE, DRIVER, FEATURES_OK, ... */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;    /* what the driver acked, bits 0-63 */
	bool driver_features_beyond; /* the driver acked a bit >= 64 (DriverFeaturesSel >= 2) */
	uint32_t queue_sel;
	uint32_t interrupt_status;   /* bit 0: used buffer notification, bit 1: config change */

	struct virtq vq;             /* virtio-blk without VIRTIO_BLK_F_MQ has one queue: 0 */
	struct virtq_chain chain;    /* the chain being executed (3 KiB: not on the stack) */
	uint8_t sector_buf[HV_SECTOR_SIZE]; /* one sector split across descriptors */

	struct virtio_blk_stats stats;
};

/* A device in its reset state on guest memory `mem` and image `disk` (both outlive it).
 * Allocates one fixed-size struct; NULL with errno = ENOMEM on failure. Put it on the bus
 * with virtio_mmio_ops (virtio_mmio.h). */
struct virtio_blk *virtio_blk_create(const struct guest_mem *mem, struct disk *disk);
void virtio_blk_destroy(struct virtio_blk *b);

/* Record HVT_VQ steps to `t` (NULL: stop). The disk's own HVT_DISK records go to disk->trace,
 * which the disk's owner sets. Call before the guest runs. */
void virtio_blk_set_trace(struct virtio_blk *b, struct trace_writer *t);

void virtio_blk_get_stats(struct virtio_blk *b, struct virtio_blk_stats *out);

/* ---- what the transport asks the device (called with b->lock held) ---------------------- */

/* Feature bits (virtio 1.1, sections 6 "Reserved Feature Bits" and 5.2.3). */
#define VIRTIO_F_VERSION_1      (1ull << 32)
#define VIRTIO_BLK_F_SEG_MAX    (1ull << 2)
#define VIRTIO_BLK_F_RO         (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE   (1ull << 6)
#define VIRTIO_BLK_F_FLUSH      (1ull << 9)

/* The features this device offers (depends on disk->read_only). */
uint64_t virtio_blk_features(const struct virtio_blk *b);
/* Read `size` bytes of device config at `off` (relative to the config space, 0x100 in the
 * window; checked by the caller: off + size <= HV_VIRTIO_MMIO_LEN - 0x100). */
void virtio_blk_config_read(const struct virtio_blk *b, uint64_t off, uint8_t *data,
			    uint32_t size);
/* Execute one valid chain; returns the used length (bytes written into the chain's
 * device-writable buffers, status byte included), 0 if nothing was written. */
uint32_t virtio_blk_execute(struct virtio_blk *b, const struct virtq_chain *c);

#endif
