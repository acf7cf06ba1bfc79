/*
 * virtio_blk.c - a polling virtio-blk driver: the virtio-mmio transport, one split virtqueue,
 * and block requests (read, write, flush, get-id).
 *
 * Concept: para-virtualization seen from the guest. Compare with the ATA driver (ata.c):
 * there, moving 4 KiB means 2048 16-bit port reads, each one a VM exit on hv. Here the
 * guest builds a request in RAM (three descriptors: header, data, status), publishes it in
 * the "available" ring, and writes QueueNotify once for a whole batch. The host walks the
 * rings in guest memory, does the I/O, and answers in the "used" ring, also RAM. The only
 * exits are the doorbell stores and the one-time setup below (counted in virtio_blk.h).
 * Textbook: chapter 4 "Two I/O paths", section "Para-virtualization: virtio".
 *
 * Memory ordering, the part every virtio driver must get right (spec 2.6.13 "Supplying
 * Buffers to The Device"; textbook chapter 4 "Two I/O paths", section "The virtqueue"):
 *   - The device may look at the rings the moment avail->idx moves, so the descriptors and
 *     the avail ring entries must be in memory *before* the avail->idx store, and avail->idx
 *     *before* the doorbell. x86 is TSO: stores become visible in program order, so the CPU
 *     keeps this order by itself; only the compiler could reorder plain stores around the
 *     volatile ones. A compiler barrier (an empty asm with a "memory" clobber) forbids that.
 *   - Reading back: we read used->idx, then the used entries and status bytes it covers.
 *     x86 never reorders a load with an older load, so again a compiler barrier between
 *     them is enough. (On ARM both places need real fences: dmb/dsb.)
 *   - The MMIO store itself is an uncached access that leaves the guest on hv: by the time
 *     the guest runs again the host has seen every earlier store.
 *   - This driver rings the doorbell after every batch; it never reads used->flags or
 *     avail_event to skip one (spec 2.6.13.4). A driver that does must put a full fence (mfence
 *     or a locked instruction; Linux's virtio_mb) between its avail->idx store and that load:
 *     x86 may let a load pass an older store, and then driver and device can each miss the
 *     other's update. Only the store-then-load case needs it.
 * Every ring field the device writes is read through a volatile pointer, so the compiler
 * reloads it on every poll instead of hoisting it out of the loop.
 *
 * Interrupt mode (vblk_irq_mode) differs in three places only, each marked "interrupt mode":
 * the avail ring's flags, the handler vblk_irq, and how vblk_wait_all waits.
 *
 * Paging is off (or identity-mapped), so a pointer is a guest-physical address: that is what
 * goes into descriptors and ring address registers (high halves 0: a 32-bit guest lives
 * below 4 GiB).
 */
#include <stddef.h>
#include <stdint.h>

#include "cmdline.h"
#include "idt32.h"
#include "virtio_blk.h"

/* ---- virtio-mmio registers (spec 4.2.2, version 2 layout), offsets from the base ---- */
enum {
	VMMIO_MAGIC = 0x000,          /* R: 0x74726976, "virt" in little-endian ASCII */
	VMMIO_VERSION = 0x004,        /* R: 2 = virtio 1.x layout (1 = legacy) */
	VMMIO_DEVICE_ID = 0x008,      /* R: 2 = block device; 0 = empty slot */
	VMMIO_DEVICE_FEATURES = 0x010,     /* R: 32 feature bits, selected by ..._SEL */
	VMMIO_DEVICE_FEATURES_SEL = 0x014, /* W: 0 = bits 0-31, 1 = bits 32-63 */
	VMMIO_DRIVER_FEATURES = 0x020,     /* W: the bits we accept */
	VMMIO_DRIVER_FEATURES_SEL = 0x024, /* W */
	VMMIO_QUEUE_SEL = 0x030,      /* W: which virtqueue the Queue* registers mean */
	VMMIO_QUEUE_NUM_MAX = 0x034,  /* R: largest size the device supports, 0 = no queue */
	VMMIO_QUEUE_NUM = 0x038,      /* W: the size we chose */
	VMMIO_QUEUE_READY = 0x044,    /* RW: 1 = the device may use the queue */
	VMMIO_QUEUE_NOTIFY = 0x050,   /* W: the doorbell, value = queue index */
	VMMIO_INTERRUPT_STATUS = 0x060, /* R: bit 0 used buffers, bit 1 configuration change */
	VMMIO_INTERRUPT_ACK = 0x064,  /* W: clear these InterruptStatus bits */
	VMMIO_STATUS = 0x070,         /* RW: device status (spec 2.1), write 0 = reset */
	VMMIO_QUEUE_DESC_LOW = 0x080, /* W: physical address of the descriptor table */
	VMMIO_QUEUE_DESC_HIGH = 0x084,
	VMMIO_QUEUE_DRIVER_LOW = 0x090, /* W: ... of the available ring ("driver area") */
	VMMIO_QUEUE_DRIVER_HIGH = 0x094,
	VMMIO_QUEUE_DEVICE_LOW = 0x0A0, /* W: ... of the used ring ("device area") */
	VMMIO_QUEUE_DEVICE_HIGH = 0x0A4,
	VMMIO_CONFIG_GENERATION = 0x0FC, /* R: changes whenever the config space changes */
	VMMIO_CONFIG = 0x100,         /* device-specific config: for blk, capacity at +0 */
};

#define VIRTIO_MMIO_MAGIC_VALUE 0x74726976u
#define VIRTIO_MMIO_VERSION_2   2u
#define VIRTIO_ID_BLOCK         2u
/* We touch registers up to the capacity's high word, 0x104..0x107. */
#define VMMIO_MIN_WINDOW        0x108u

/* Device status bits (spec 2.1). The driver sets them one by one as init progresses. */
#define VSTAT_ACKNOWLEDGE 1u   /* "I have seen you" */
#define VSTAT_DRIVER      2u   /* "I know how to drive you" */
#define VSTAT_DRIVER_OK   4u   /* "set up, go" */
#define VSTAT_FEATURES_OK 8u   /* "these are the features": the device clears it to refuse */
#define VSTAT_FAILED      128u /* "I gave up" */

/* Feature bits we look at (spec 6 "Reserved Feature Bits", 5.2.3 block feature bits). */
#define VBLK_F_RO      (1u << 5)  /* in word 0: the disk is read-only */
#define VBLK_F_FLUSH   (1u << 9)  /* in word 0: VIRTIO_BLK_T_FLUSH exists */
#define VIRTIO_F_VERSION_1 (1u << 0) /* bit 32 = bit 0 of word 1: a virtio 1.x device */

/* Block request types and status values (spec 5.2.6). */
#define VIRTIO_BLK_T_IN     0u /* read: device writes the data buffer */
#define VIRTIO_BLK_T_OUT    1u /* write: device reads the data buffer */
#define VIRTIO_BLK_T_FLUSH  4u
#define VIRTIO_BLK_T_GET_ID 8u /* 20 bytes of serial number */
#define VIRTIO_BLK_S_OK     0u
#define VIRTIO_BLK_S_IOERR  1u
#define VIRTIO_BLK_S_UNSUPP 2u
#define VBLK_STATUS_UNSET   0xFFu /* what we put in a status byte before the device answers */
#define VIRTIO_BLK_ID_BYTES 20u

/* ---- the split virtqueue (spec 2.6), laid out exactly as the device reads it ---- */
#define VIRTQ_DESC_F_NEXT  1u /* the chain continues at .next */
#define VIRTQ_DESC_F_WRITE 2u /* the device writes this buffer (otherwise it reads it) */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u /* "don't interrupt me when you use a buffer" */

struct virtq_desc {
	uint64_t addr;  /* guest-physical address of the buffer */
	uint32_t len;   /* its length in bytes */
	uint16_t flags; /* VIRTQ_DESC_F_* */
	uint16_t next;  /* next descriptor of the chain, if F_NEXT */
};

struct virtq_avail {
	uint16_t flags;                 /* VIRTQ_AVAIL_F_NO_INTERRUPT */
	uint16_t idx;                   /* where the driver will put the next entry (mod 2^16) */
	uint16_t ring[VBLK_QUEUE_MAX];  /* heads of descriptor chains offered to the device */
	uint16_t used_event;            /* only with VIRTIO_F_EVENT_IDX, which we do not use */
};

struct virtq_used_elem {
	uint32_t id;  /* head of the chain the device finished */
	uint32_t len; /* bytes it wrote into the chain */
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;                              /* where the device will put the next entry */
	struct virtq_used_elem ring[VBLK_QUEUE_MAX];
	uint16_t avail_event;
};

/* The 16-byte header that starts every block request (spec 5.2.6). */
struct virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector; /* in 512-byte units, whatever the device's block size */
};

/* The layouts are the spec's, byte for byte, in a 32-bit build (where uint64_t is only
   4-byte aligned inside structs) and a 64-bit one alike. */
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc is 16 bytes (spec 2.6.5)");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem is 8 bytes (spec 2.6.8)");
_Static_assert(offsetof(struct virtq_used, ring) == 4, "used ring entries start at byte 4");
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "blk request header is 16 bytes");
_Static_assert(VBLK_SLOTS_MAX * 3u <= VBLK_QUEUE_MAX, "every slot needs 3 descriptors");

/*
 * The rings, statically allocated in .bss (zeroed by entry32.S). The spec asks for 16-byte
 * alignment of the descriptor table, 2 for the avail ring and 4 for the used ring; a page
 * each is more than enough and makes them easy to find in a memory dump.
 */
static struct virtq_desc vq_desc[VBLK_QUEUE_MAX] __attribute__((aligned(4096)));
static struct virtq_avail vq_avail __attribute__((aligned(4096)));
static struct virtq_used vq_used __attribute__((aligned(4096)));

/* One request slot per possible request in flight: slot s owns descriptors 3s, 3s+1, 3s+2,
   its header and its status byte, so a chain never needs a free list. */
static struct virtio_blk_req_hdr slot_hdr[VBLK_SLOTS_MAX] __attribute__((aligned(16)));
static uint8_t slot_status[VBLK_SLOTS_MAX];
static uint8_t slot_done[VBLK_SLOTS_MAX];
static uint8_t id_buf[VIRTIO_BLK_ID_BYTES];

/* The driver's own state: what it told the device, and what it has seen back. */
static struct {
	uintptr_t base;       /* transport in use; 0 = not initialised */
	uint64_t sectors;
	uint32_t qsize;       /* queue size n, a power of two */
	uint32_t slots;
	int read_only, flush;
	uint32_t pending;     /* requests submitted since the last wait_all (slots 0..pending-1) */
	uint32_t unkicked;    /* of those, not yet published in avail->idx */
	uint16_t avail_idx;   /* our copy of avail->idx (the last value published) */
	uint16_t used_seen;   /* used->idx up to which we have consumed entries */
	int irq_mode;         /* interrupt mode: avail->flags 0, halt while waiting */
} vb;

/* Interrupts handled, and the InterruptStatus bits they carried (for a debugger's eyes). */
static volatile uint32_t irq_count, irq_bits;

/* Polls of used->idx before wait_all gives up. hv completes a request inside the doorbell
   exit, so the first poll already sees it; QEMU's I/O threads take a few microseconds. */
#define VBLK_POLL_LIMIT 200000000u
#define VBLK_RESET_POLLS 1000u
#define VBLK_CONFIG_TRIES 4u

/* ---- MMIO: each call is exactly one 32-bit MOV to or from the window = one exit ---- */
static inline uint32_t mmio_read(uintptr_t base, uint32_t reg)
{
	return *(volatile uint32_t *)(base + reg);
}

static inline void mmio_write(uintptr_t base, uint32_t reg, uint32_t value)
{
	*(volatile uint32_t *)(base + reg) = value;
}

/* Keep the compiler from moving memory accesses across this point (emits no instruction). */
static inline void compiler_barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

static inline uint32_t phys(const volatile void *p)
{
	return (uint32_t)(uintptr_t)p;
}

/*
 * Is there a virtio-blk device of the modern (version 2) layout at base? Spec 4.2.3.1.1:
 * the driver MUST ignore a device whose MagicValue or Version is wrong, and one with
 * DeviceID 0 (an empty transport slot, as QEMU microvm has many of). Accesses: 1, 2 or 3.
 */
static int vblk_probe(uintptr_t base, uint32_t *accesses)
{
	(*accesses)++;
	if (mmio_read(base, VMMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE)        /* probe 1 */
		return 0;
	(*accesses)++;
	if (mmio_read(base, VMMIO_VERSION) != VIRTIO_MMIO_VERSION_2)        /* probe 2 */
		return 0;
	(*accesses)++;
	return mmio_read(base, VMMIO_DEVICE_ID) == VIRTIO_ID_BLOCK;         /* probe 3 */
}

/* Walk the virtio_mmio.device= words in order; stop at the first real block device. */
static int vblk_find(const char *cmdline, uint32_t max_len, struct vblk_info *info)
{
	struct cmdline_mmio_dev dev;
	uint32_t n = 0;

	info->probe_mmio = 0;
	for (;; n++) {
		int r = cmdline_virtio_mmio(cmdline, max_len, n, &dev);

		if (r == 0)
			return n == 0 ? VBLK_ENOCMDLINE : VBLK_ENODEV;
		/* Garbage is an error, not "skip it": a typo in the one word that names our
		   disk must not turn into a quiet "no disk". A window too small for the
		   registers we use would let us read past it. */
		if (r < 0 || dev.size < VMMIO_MIN_WINDOW)
			return VBLK_ECMDLINE;
		if (vblk_probe(dev.base, &info->probe_mmio)) {
			info->base = dev.base;
			info->irq = dev.irq;
			return VBLK_OK;
		}
	}
}

/* Spec 2.1.2 / 4.2.3.1: write 0 to Status, then wait until Status reads 0. Accesses: 2. */
static int vblk_reset(uintptr_t base)
{
	mmio_write(base, VMMIO_STATUS, 0);                                    /* 1 */
	for (uint32_t i = 0; i < VBLK_RESET_POLLS; i++) {
		if (mmio_read(base, VMMIO_STATUS) == 0)                       /* 2 */
			return VBLK_OK;
	}
	return VBLK_ERESET;
}

/*
 * Feature negotiation (spec 3.1.1 steps 4-6). The device offers 64 bits, 32 at a time; we
 * accept VERSION_1 (without it this is a legacy device with different rules) and FLUSH (so
 * that "data is on disk" means something). We note RO but do not need to accept it: a
 * read-only device fails writes either way, and we refuse them before they are sent.
 * Accesses: 4 (read) + 4 (write) + 2 (FEATURES_OK and its read-back) = 10.
 */
static int vblk_features(uintptr_t base)
{
	uint32_t lo, hi, status;

	mmio_write(base, VMMIO_DEVICE_FEATURES_SEL, 0);                      /* 5 */
	lo = mmio_read(base, VMMIO_DEVICE_FEATURES);                          /* 6 */
	mmio_write(base, VMMIO_DEVICE_FEATURES_SEL, 1);                      /* 7 */
	hi = mmio_read(base, VMMIO_DEVICE_FEATURES);                          /* 8 */
	if ((hi & VIRTIO_F_VERSION_1) == 0)
		return VBLK_ELEGACY;
	vb.read_only = (lo & VBLK_F_RO) != 0;
	vb.flush = (lo & VBLK_F_FLUSH) != 0;

	mmio_write(base, VMMIO_DRIVER_FEATURES_SEL, 0);                      /* 9 */
	mmio_write(base, VMMIO_DRIVER_FEATURES, lo & VBLK_F_FLUSH);          /* 10 */
	mmio_write(base, VMMIO_DRIVER_FEATURES_SEL, 1);                      /* 11 */
	mmio_write(base, VMMIO_DRIVER_FEATURES, VIRTIO_F_VERSION_1);         /* 12 */

	/* The device accepts the set by leaving FEATURES_OK set; it clears it to refuse. */
	status = VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK;
	mmio_write(base, VMMIO_STATUS, status);                              /* 13 */
	if ((mmio_read(base, VMMIO_STATUS) & VSTAT_FEATURES_OK) == 0)        /* 14 */
		return VBLK_EFEATURES;
	return VBLK_OK;
}

/* Largest power of two <= n (n >= 1): split virtqueues must have a power-of-two size. */
static uint32_t pow2_floor(uint32_t n)
{
	uint32_t p = 1;

	while (p <= n / 2u)
		p *= 2u;
	return p;
}

/*
 * Queue 0 (the only queue of a virtio-blk device without VIRTIO_BLK_F_MQ), spec 4.2.3.2.
 * Accesses: 4 (select, check, size) + 6 (addresses) + 1 (QueueReady) = 11.
 */
static int vblk_queue_setup(uintptr_t base)
{
	uint32_t max;

	mmio_write(base, VMMIO_QUEUE_SEL, 0);                                /* 15 */
	if (mmio_read(base, VMMIO_QUEUE_READY) != 0)                          /* 16 */
		return VBLK_EQUEUE; /* after a reset it must be 0: something is wrong */
	max = mmio_read(base, VMMIO_QUEUE_NUM_MAX);                           /* 17 */
	if (max < 4u)
		return VBLK_EQUEUE; /* 0 = no such queue; 1..3 cannot hold one request */
	vb.qsize = pow2_floor(max < VBLK_QUEUE_MAX ? max : VBLK_QUEUE_MAX);
	vb.slots = vb.qsize / 3u < VBLK_SLOTS_MAX ? vb.qsize / 3u : VBLK_SLOTS_MAX;
	mmio_write(base, VMMIO_QUEUE_NUM, vb.qsize);                         /* 18 */

	/* Before the device may look: no interrupts please (interrupt mode: yes please), and
	   empty rings. */
	vq_avail.flags = vb.irq_mode ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT;
	vq_avail.idx = 0;
	vb.avail_idx = 0;
	vb.used_seen = 0;
	compiler_barrier();

	mmio_write(base, VMMIO_QUEUE_DESC_LOW, phys(vq_desc));               /* 19 */
	mmio_write(base, VMMIO_QUEUE_DESC_HIGH, 0);                          /* 20 */
	mmio_write(base, VMMIO_QUEUE_DRIVER_LOW, phys(&vq_avail));           /* 21 */
	mmio_write(base, VMMIO_QUEUE_DRIVER_HIGH, 0);                        /* 22 */
	mmio_write(base, VMMIO_QUEUE_DEVICE_LOW, phys(&vq_used));            /* 23 */
	mmio_write(base, VMMIO_QUEUE_DEVICE_HIGH, 0);                        /* 24 */
	mmio_write(base, VMMIO_QUEUE_READY, 1);                              /* 25 */
	return VBLK_OK;
}

/*
 * Capacity, a 64-bit field read as two 32-bit halves. The device could change it between
 * the two reads (a resized disk), so spec 4.2.3.4 / 2.4.1: read ConfigGeneration before and
 * after, and start over if it moved. Accesses: 4 when nothing changes.
 */
static int vblk_read_capacity(uintptr_t base)
{
	for (uint32_t t = 0; t < VBLK_CONFIG_TRIES; t++) {
		uint32_t gen = mmio_read(base, VMMIO_CONFIG_GENERATION);      /* 27 */
		uint32_t lo = mmio_read(base, VMMIO_CONFIG + 0);              /* 28 */
		uint32_t hi = mmio_read(base, VMMIO_CONFIG + 4);              /* 29 */

		if (mmio_read(base, VMMIO_CONFIG_GENERATION) == gen) {        /* 30 */
			vb.sectors = ((uint64_t)hi << 32) | lo;
			return VBLK_OK;
		}
	}
	return VBLK_ECONFIG;
}

/* Steps 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. */
static int vblk_setup(uintptr_t base)
{
	int err = vblk_reset(base);                                          /* 1-2 */

	if (err != VBLK_OK)
		return err;
	mmio_write(base, VMMIO_STATUS, VSTAT_ACKNOWLEDGE);                   /* 3 */
	mmio_write(base, VMMIO_STATUS, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER);    /* 4 */
	err = vblk_features(base);                                           /* 5-14 */
	if (err == VBLK_OK)
		err = vblk_queue_setup(base);                                /* 15-25 */
	if (err != VBLK_OK) {
		/* Spec 3.1.1: give up visibly, so the device (and hv's trace) knows. */
		mmio_write(base, VMMIO_STATUS, VSTAT_FAILED);
		return err;
	}
	mmio_write(base, VMMIO_STATUS, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK |
		   VSTAT_DRIVER_OK);                                         /* 26 */
	return vblk_read_capacity(base);                                    /* 27-30 */
}

int vblk_init(const char *cmdline, uint32_t max_len, struct vblk_info *info)
{
	int err;

	vb.base = 0;
	info->serial[0] = '\0';
	err = vblk_find(cmdline, max_len, info);                             /* P */
	if (err != VBLK_OK)
		return err;
	err = vblk_setup(info->base);
	if (err != VBLK_OK)
		return err;
	vb.base = info->base;
	vb.pending = 0;
	vb.unkicked = 0;
	info->sectors = vb.sectors;
	info->queue_size = vb.qsize;
	info->slots = vb.slots;
	info->read_only = vb.read_only;
	info->flush_supported = vb.flush;
	return VBLK_OK;
}

/* Fill descriptor i. */
static void desc_set(uint32_t i, const volatile void *buf, uint32_t len, uint16_t flags)
{
	vq_desc[i].addr = phys(buf);
	vq_desc[i].len = len;
	vq_desc[i].flags = flags;
	vq_desc[i].next = (uint16_t)(i + 1u); /* only followed when flags has F_NEXT */
}

/*
 * Build one request in the next free slot and put its head in the avail ring, but do not
 * publish it (avail->idx stays): chain = header (device reads) [+ data (device reads for a
 * write, writes for a read)] + status byte (device writes). No exits: all RAM.
 */
static int vblk_submit(uint32_t type, uint64_t sector, const void *buf, uint32_t len,
		       int device_writes_data)
{
	uint32_t slot = vb.pending, head = 3u * slot, d = head;

	if (vb.base == 0)
		return VBLK_ENOTREADY;
	if (slot >= vb.slots)
		return VBLK_EFULL;

	slot_hdr[slot].type = type;
	slot_hdr[slot].reserved = 0;
	slot_hdr[slot].sector = sector;
	slot_status[slot] = VBLK_STATUS_UNSET; /* so an unwritten status is caught */
	slot_done[slot] = 0;

	desc_set(d++, &slot_hdr[slot], sizeof(slot_hdr[slot]), VIRTQ_DESC_F_NEXT);
	if (len != 0)
		desc_set(d++, buf, len,
			 VIRTQ_DESC_F_NEXT | (device_writes_data ? VIRTQ_DESC_F_WRITE : 0));
	desc_set(d, &slot_status[slot], 1, VIRTQ_DESC_F_WRITE); /* end of chain: no F_NEXT */

	/* The ring entry after those already published and those waiting for the next kick. */
	vq_avail.ring[(uint16_t)(vb.avail_idx + vb.unkicked) & (vb.qsize - 1u)] = (uint16_t)head;
	vb.pending++;
	vb.unkicked++;
	return VBLK_OK;
}

/* A data request must cover 1..256 whole sectors inside the disk (no 64-bit wrap). */
static int vblk_range_ok(uint64_t sector, uint32_t nsect)
{
	return nsect != 0 && nsect <= VBLK_MAX_SECTORS && sector < vb.sectors &&
	       nsect <= vb.sectors - sector;
}

int vblk_submit_read(uint64_t sector, void *buf, uint32_t nsect)
{
	if (vb.base != 0 && !vblk_range_ok(sector, nsect))
		return VBLK_EARG;
	return vblk_submit(VIRTIO_BLK_T_IN, sector, buf, nsect * 512u, 1);
}

int vblk_submit_write(uint64_t sector, const void *buf, uint32_t nsect)
{
	if (vb.base != 0 && vb.read_only)
		return VBLK_ERO;
	if (vb.base != 0 && !vblk_range_ok(sector, nsect))
		return VBLK_EARG;
	return vblk_submit(VIRTIO_BLK_T_OUT, sector, buf, nsect * 512u, 0);
}

int vblk_submit_flush(void)
{
	if (vb.base != 0 && !vb.flush)
		return VBLK_ENOFLUSH; /* spec 5.2.6.2: only with VIRTIO_BLK_F_FLUSH negotiated */
	return vblk_submit(VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
}

void vblk_kick(void)
{
	volatile uint16_t *avail_idx = &vq_avail.idx;

	if (vb.base == 0 || vb.unkicked == 0)
		return;
	/* Descriptors and ring entries first, then the index that makes them visible ... */
	compiler_barrier();
	vb.avail_idx = (uint16_t)(vb.avail_idx + vb.unkicked);
	*avail_idx = vb.avail_idx;
	vb.unkicked = 0;
	/* ... and only then the doorbell: the device may read the ring during this store. */
	compiler_barrier();
	mmio_write(vb.base, VMMIO_QUEUE_NOTIFY, 0); /* value = queue index 0: one exit */
}

/* Consume used entries up to used_idx: each must name the head of a slot in flight that has
   not completed yet (a device returning a chain twice, or a random one, is caught). */
static int vblk_consume(uint16_t used_idx)
{
	const volatile struct virtq_used_elem *ring = vq_used.ring;

	while (vb.used_seen != used_idx) {
		uint32_t id = ring[vb.used_seen & (vb.qsize - 1u)].id;
		uint32_t slot = id / 3u;

		if (id % 3u != 0 || slot >= vb.pending || slot_done[slot])
			return VBLK_EUSED;
		slot_done[slot] = 1;
		vb.used_seen++;
	}
	return VBLK_OK;
}

/* After all completions: the status byte of every slot, in submission order. */
static int vblk_check_status(void)
{
	const volatile uint8_t *status = slot_status;

	for (uint32_t s = 0; s < vb.pending; s++) {
		switch (status[s]) {
		case VIRTIO_BLK_S_OK:
			break;
		case VIRTIO_BLK_S_IOERR:
			return VBLK_EIOERR;
		case VIRTIO_BLK_S_UNSUPP:
			return VBLK_EUNSUPP;
		default:
			return VBLK_ESTATUS;
		}
	}
	return VBLK_OK;
}

void vblk_irq_mode(int on)
{
	vb.irq_mode = on != 0;
}

/*
 * Interrupt mode: the handler. The transport's line is level-triggered and stays high while
 * InterruptStatus is not 0, so the handler must clear what it saw before the caller's EOI, or
 * the PIC would request again at once. The completions themselves are read from the used
 * ring by vblk_wait_all, not here: the handler only acknowledges. 2 MMIO exits.
 */
void vblk_irq(void)
{
	uint32_t bits;

	if (vb.base == 0)
		return;
	bits = mmio_read(vb.base, VMMIO_INTERRUPT_STATUS);
	if (bits != 0)
		mmio_write(vb.base, VMMIO_INTERRUPT_ACK, bits);
	irq_bits |= bits;
	irq_count++;
}

/* Nothing new in the used ring yet: spin once (polling mode) or halt until an interrupt
   (interrupt mode, with IF = 0 around the check, idt32.h). */
static void vblk_idle(void)
{
	if (vb.irq_mode)
		idt32_halt();
	else
		__asm__ volatile("pause"); /* spin-wait hint to the CPU */
}

int vblk_wait_all(void)
{
	const volatile uint16_t *used_idx = &vq_used.idx;
	uint32_t polls = 0;
	int err = VBLK_OK;

	if (vb.base == 0)
		return VBLK_ENOTREADY;
	if (vb.unkicked != 0)
		return VBLK_ENOTKICKED; /* the device was never told: we would wait forever */

	while (err == VBLK_OK && vb.used_seen != vb.avail_idx) {
		uint16_t idx = *used_idx; /* RAM: no exit, however often we poll */

		if (idx == vb.used_seen) {
			if (++polls >= VBLK_POLL_LIMIT)
				err = VBLK_ETIMEOUT;
			vblk_idle();
			continue;
		}
		/* More entries than requests outstanding: the device is lying. */
		if ((uint16_t)(idx - vb.used_seen) > (uint16_t)(vb.avail_idx - vb.used_seen)) {
			err = VBLK_EUSED;
			break;
		}
		compiler_barrier(); /* the entries are read after the index that covers them */
		err = vblk_consume(idx);
	}
	compiler_barrier(); /* status bytes (and read data) after the completions */
	if (err == VBLK_OK)
		err = vblk_check_status();
	vb.pending = 0;
	return err;
}

int vblk_get_id(struct vblk_info *info)
{
	int err;
	uint32_t i;

	info->serial[0] = '\0';
	if (vb.pending != 0)
		return VBLK_EFULL;
	err = vblk_submit(VIRTIO_BLK_T_GET_ID, 0, id_buf, VIRTIO_BLK_ID_BYTES, 1);
	if (err != VBLK_OK)
		return err;
	vblk_kick();                                                         /* 1 exit */
	err = vblk_wait_all();
	if (err != VBLK_OK)
		return err;
	/* Spec 5.2.6: the ID is up to 20 bytes, NUL-terminated only if shorter. It comes from
	   the host: keep it printable before anyone sends it to a terminal. */
	for (i = 0; i < VIRTIO_BLK_ID_BYTES && id_buf[i] != 0; i++)
		info->serial[i] = (id_buf[i] >= 0x20 && id_buf[i] < 0x7F) ? (char)id_buf[i] : '?';
	info->serial[i] = '\0';
	return VBLK_OK;
}

const char *vblk_strerror(int err)
{
	switch (err) {
	case VBLK_OK: return "ok";
	case VBLK_ENOCMDLINE: return "no virtio_mmio.device= on the command line";
	case VBLK_ECMDLINE: return "malformed virtio_mmio.device= (want <size>@<base>:<irq>)";
	case VBLK_ENODEV: return "no virtio-blk (magic virt, version 2, id 2) at the listed addresses";
	case VBLK_ERESET: return "device did not reset (Status stayed non-zero)";
	case VBLK_ELEGACY: return "device does not offer VERSION_1 (legacy virtio only)";
	case VBLK_EFEATURES: return "device refused our features (FEATURES_OK cleared)";
	case VBLK_EQUEUE: return "queue 0 unusable (already ready, or QueueNumMax < 4)";
	case VBLK_ECONFIG: return "config space kept changing (ConfigGeneration)";
	case VBLK_ENOTREADY: return "driver not initialised";
	case VBLK_EFULL: return "all request slots in use (kick and wait first)";
	case VBLK_EARG: return "request outside the disk or of 0 or > 256 sectors";
	case VBLK_ERO: return "device is read-only";
	case VBLK_ENOFLUSH: return "device does not offer FLUSH";
	case VBLK_ENOTKICKED: return "waiting for requests that were never kicked";
	case VBLK_ETIMEOUT: return "device did not complete (used ring stuck)";
	case VBLK_EUSED: return "bad used ring entry (unknown or repeated request)";
	case VBLK_EIOERR: return "device reported VIRTIO_BLK_S_IOERR";
	case VBLK_EUNSUPP: return "device reported VIRTIO_BLK_S_UNSUPP";
	case VBLK_ESTATUS: return "status byte unwritten or invalid";
	default: return "unknown error";
	}
}
