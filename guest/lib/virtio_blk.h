/*
 * virtio_blk.h - a polling virtio-blk driver over the virtio-mmio transport (virtio 1.x,
 * register layout version 2), for 32-bit guests with paging off.
 *
 * Concept: para-virtualization. The ATA driver (ata.h) talks to a chip one register at a
 * time, and on a hypervisor every one of those IN/OUTs is a VM exit. A virtio driver instead
 * writes whole requests into ordinary RAM that guest and host share (a "virtqueue"), and
 * leaves the guest exactly once per batch, to ring a doorbell (one 32-bit store to the
 * QueueNotify register). Completions come back in RAM too, so waiting costs no exits at all.
 * Textbook: chapter 4 "Two I/O paths", sections "Para-virtualization: virtio" and
 * "Counting the difference".
 *
 * Spec references (virtio v1.1, OASIS): 2.1 device status, 2.2 feature bits, 2.6 split
 * virtqueues, 3.1.1 driver initialization, 4.2.2 MMIO register layout, 4.2.3.1-4.2.3.4 MMIO
 * driver requirements, 5.2 block device.
 *
 * The driver hard-wires no address: it reads "virtio_mmio.device=<size>@<base>:<irq>" words
 * from the boot command line (cmdline.h), probes each in order and takes the first with
 * MagicValue 0x74726976 ("virt"), Version 2 and DeviceID 2 (block). QEMU's microvm lists one
 * word per transport slot and most slots are empty (DeviceID 0), so probing in order matters.
 *
 * Usage: vblk_init, then any number of rounds of
 *     vblk_submit_read/write/flush (up to info.slots of them; they only fill RAM),
 *     vblk_kick   (the doorbell: makes the whole batch visible and tells the device),
 *     vblk_wait_all (polls the used ring, checks every completion and status byte).
 *
 * ---- Exact MMIO access count (every access is one 32-bit volatile load or store, i.e. one
 * ---- MOV instruction, i.e. one VM exit on hv, where the window is not RAM)
 *
 *   vblk_init            = P + 30, where P is what probing costs:
 *                            per listed transport, 1 (MagicValue wrong) or 2 (Version not 2)
 *                            or 3 (MagicValue, Version, DeviceID all read); the transport
 *                            taken costs 3. hv lists one transport: P = 3, vblk_init = 33.
 *                          The 30 after the probe (numbered in virtio_blk.c):
 *                            reset: Status=0, read Status (hv and QEMU reset at once)     2
 *                            Status=ACKNOWLEDGE, Status|=DRIVER                           2
 *                            DeviceFeaturesSel=0, read, DeviceFeaturesSel=1, read         4
 *                            DriverFeaturesSel=0, write, DriverFeaturesSel=1, write       4
 *                            Status|=FEATURES_OK, read Status back                        2
 *                            QueueSel=0, read QueueReady, read QueueNumMax, QueueNum=n    4
 *                            QueueDesc/Driver/Device Low+High                             6
 *                            QueueReady=1, Status|=DRIVER_OK                              2
 *                            capacity: ConfigGeneration, low, high, ConfigGeneration     4
 *                          (a device that takes longer to reset, or whose ConfigGeneration
 *                          changes under us, costs more: neither happens on hv or QEMU)
 *   vblk_get_id          = 1 (it is one request: submit + kick + wait)
 *   vblk_submit_*        = 0 (descriptors and avail ring are RAM)
 *   vblk_kick            = 1 if requests were submitted since the last kick, else 0
 *   vblk_wait_all        = 0 (the used ring and status bytes are RAM)
 *   an init that fails after ACKNOWLEDGE adds 1 (Status=FAILED)
 *
 * No interrupts by default: the driver sets VIRTQ_AVAIL_F_NO_INTERRUPT and never touches
 * InterruptStatus or InterruptACK, and every count above is for this polling mode.
 *
 * ---- Interrupt mode (vblk_irq_mode(1) before vblk_init; the caller owns the IDT and PIC) ----
 *
 * avail->flags stays 0 ("interrupt me when you use buffers", spec 2.6.7), vblk_wait_all halts
 * (sti; hlt) instead of spinning until used->idx moves, and the caller routes info.irq (the
 * :<irq> of virtio_mmio.device=, 5 on hv) to vblk_irq, which reads InterruptStatus (0x060)
 * and writes the same bits to InterruptACK (0x064), so the level-triggered line drops
 * (spec 4.2.2, 4.2.3.5). Everything else is unchanged: the same setup, rings and doorbells.
 * Extra MMIO per interrupt: 2 (the read and the ACK). On hv, which completes a batch inside
 * its doorbell exit and raises the line once, that is 1 interrupt per kick: 2 MMIO + the
 * caller's EOI (1 OUT for a master line), plus the HLT.
 */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include <stdint.h>

/* Largest queue the driver sets up (it uses min(QueueNumMax, this), rounded down to a power
   of two as split virtqueues require), and most requests in flight at once (3 descriptors
   each: 16 x 3 = 48 <= 64). */
#define VBLK_QUEUE_MAX 64u
#define VBLK_SLOTS_MAX 16u
/* Largest transfer in one request, in 512-byte sectors (the same limit as ata_read). */
#define VBLK_MAX_SECTORS 256u

/* MMIO accesses vblk_init costs after probing (see above). */
#define VBLK_INIT_MMIO_AFTER_PROBE 30u

struct vblk_info {
	uint32_t base;          /* guest-physical address of the transport in use */
	uint32_t irq;           /* its IRQ from the command line (interrupt mode routes it) */
	uint64_t sectors;       /* capacity in 512-byte sectors (config space offset 0) */
	uint32_t queue_size;    /* descriptors in queue 0 */
	uint32_t slots;         /* requests that can be submitted before a wait: <= 16 */
	uint32_t probe_mmio;    /* P above: MMIO accesses spent probing */
	int read_only;          /* device offered VIRTIO_BLK_F_RO (bit 5) */
	int flush_supported;    /* device offered VIRTIO_BLK_F_FLUSH (bit 9), and we accepted it */
	char serial[21];        /* from vblk_get_id, NUL-terminated, "" if none */
};

/* Errors: negative, each with a one-line meaning from vblk_strerror. */
enum {
	VBLK_OK = 0,
	VBLK_ENOCMDLINE = -1,  /* no virtio_mmio.device= word at all */
	VBLK_ECMDLINE = -2,    /* a virtio_mmio.device= word is malformed */
	VBLK_ENODEV = -3,      /* no listed transport is a version-2 virtio-blk device */
	VBLK_ERESET = -4,      /* Status did not read 0 after the reset */
	VBLK_ELEGACY = -5,     /* VERSION_1 (feature bit 32) not offered */
	VBLK_EFEATURES = -6,   /* FEATURES_OK did not stick: device refused our features */
	VBLK_EQUEUE = -7,      /* queue 0 already live, or too small (QueueNumMax < 4) */
	VBLK_ECONFIG = -8,     /* ConfigGeneration kept changing */
	VBLK_ENOTREADY = -9,   /* vblk_init did not succeed */
	VBLK_EFULL = -10,      /* all slots in use: kick and wait first */
	VBLK_EARG = -11,       /* 0 or > 256 sectors, or a range outside the disk */
	VBLK_ERO = -12,        /* write to a read-only device */
	VBLK_ENOFLUSH = -13,   /* flush on a device without VIRTIO_BLK_F_FLUSH */
	VBLK_ENOTKICKED = -14, /* wait_all with submitted requests that were never kicked */
	VBLK_ETIMEOUT = -15,   /* the used ring stopped moving */
	VBLK_EUSED = -16,      /* a used-ring entry that names no request in flight */
	VBLK_EIOERR = -17,     /* a request completed with VIRTIO_BLK_S_IOERR */
	VBLK_EUNSUPP = -18,    /* a request completed with VIRTIO_BLK_S_UNSUPP */
	VBLK_ESTATUS = -19,    /* a status byte left unwritten or with an unknown value */
};

/* Find, reset and set up the device (see the count above). max_len bounds every read of the
   command line (HV_CMDLINE_MAX). Returns 0 or a VBLK_E* error; fills *info on success. */
int vblk_init(const char *cmdline, uint32_t max_len, struct vblk_info *info);

/* VIRTIO_BLK_T_GET_ID: the device's 20-byte serial, into info->serial (non-printable bytes
   become '?'). Needs no request in flight. One kick. */
int vblk_get_id(struct vblk_info *info);

/* Queue one request without telling the device. buf must stay untouched until wait_all
   returns; it may sit anywhere in RAM (the device reads it by physical address). */
int vblk_submit_read(uint64_t sector, void *buf, uint32_t nsect);
int vblk_submit_write(uint64_t sector, const void *buf, uint32_t nsect);
int vblk_submit_flush(void);

/* Publish everything submitted since the last kick (one avail->idx store) and ring the
   doorbell (one QueueNotify store = one MMIO exit). Nothing submitted: nothing done. */
void vblk_kick(void);

/* Interrupt mode on (1) or off (0, the default), for the next vblk_init and after. */
void vblk_irq_mode(int on);

/* The interrupt handler's device part: read InterruptStatus, acknowledge those bits with
   InterruptACK (2 MMIO exits). Runs with IF = 0. */
void vblk_irq(void);

/* Poll (interrupt mode: halt between looks) until every kicked request is back, then check
   each one. Returns 0 if all completed
   with VIRTIO_BLK_S_OK, else the first error. Either way the slots are free again. */
int vblk_wait_all(void);

/* "no virtio_mmio.device= on the command line" and so on: one line, no newline. */
const char *vblk_strerror(int err);

#endif
