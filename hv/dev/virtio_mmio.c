/*
 * virtio_mmio.c - the virtio-mmio transport (register layout version 2) of hv's virtio-blk.
 *
 * Concept: a para-virtualized device still needs a few registers: a way to say "I am a virtio
 * block device", to agree on features, to tell the device where the queue lives, and a
 * doorbell. virtio-mmio is the simplest transport: 0x100 bytes of 32-bit registers followed
 * by the device's config space, at a fixed guest-physical address (no PCI enumeration). Every
 * access is one MMIO exit, so a driver touches these registers only while setting up, and
 * afterwards only the doorbell (QueueNotify) and the interrupt acknowledge.
 * Textbook: chapter 4 "Two I/O paths", section "virtio"; virtio 1.1, section 4.2.2.
 *
 *   off    name                 dir  hv's answer
 *   0x000  MagicValue           R    0x74726976 ("virt" in little-endian)
 *   0x004  Version              R    2 (virtio 1.x layout; 1 would be the legacy one)
 *   0x008  DeviceID             R    2 (block device)
 *   0x00c  VendorID             R    0x424C5648: the bytes "HVLB" (hvlab's boot magic)
 *   0x010  DeviceFeatures       R    32 feature bits, the half DeviceFeaturesSel selects
 *   0x014  DeviceFeaturesSel    W
 *   0x020  DriverFeatures       W    the bits the driver accepts (half DriverFeaturesSel)
 *   0x024  DriverFeaturesSel    W
 *   0x030  QueueSel             W    which queue the Queue* registers mean (only 0 exists)
 *   0x034  QueueNumMax          R    VIRTQ_NUM_MAX (128), 0 for a queue that does not exist
 *   0x038  QueueNum             RW*  queue size chosen by the driver
 *   0x044  QueueReady           RW   writing 1 makes hv validate and start the queue
 *   0x050  QueueNotify          W    the doorbell: the value is the queue index
 *   0x060  InterruptStatus      R    bit 0 used buffers, bit 1 config change (NEEDS_RESET)
 *   0x064  InterruptACK         W    clears the bits written; the line drops at 0
 *   0x070  Status               RW   device status (state machine below)
 *   0x080  QueueDescLow/High    RW*  descriptor table address
 *   0x090  QueueDriverLow/High  RW*  available ring address
 *   0x0a0  QueueDeviceLow/High  RW*  used ring address
 *   0x0fc  ConfigGeneration     R    0: hv's config space never changes
 *   0x100  device config        R    virtio_blk.c
 *   (*: write-only in the spec; hv also reads them back, which no driver relies on)
 *
 * Hostile-guest rows handled here (appendix C, section C.1), each refusal traced as
 * HVT_VQ_ERROR with addr = HV_MMIO_VIRTIO_BLK + offset:
 *   T1  a register access that is not 4 bytes (index = size) or not 4-aligned: read 0, write
 *       ignored. Reads of offsets that are no readable register, writes to offsets that are
 *       no writable register: same, as BAD_OFFSET.
 *   T2  config space: 1/2/4/8-byte accesses inside 0x100-0x1FF, checked without overflow.
 *   T3  QueueSel/QueueNotify >= 1: traced BAD_QUEUE, nothing else happens (unsigned compare).
 *   T4  QueueNum 0, not a power of two or > 128: the queue stays not ready, NEEDS_RESET.
 *   T5  ring addresses misaligned or not all RAM: the same.
 *   T6  the device status only moves along the whitelisted path; FEATURES_OK is refused if
 *       the driver acked a bit hv did not offer or did not ack VERSION_1.
 *   T7  queue registers change only between FEATURES_OK and DRIVER_OK with the queue not
 *       ready, features only between DRIVER and FEATURES_OK: else LATE_WRITE, ignored.
 *   T8  the doorbell is refused (NOT_LIVE, no buffer touched) unless DRIVER_OK is set, the
 *       queue is ready and the device is not FAILED or NEEDS_RESET.
 *   T9  applies to virtio-pci only (BARs, capabilities, MSI-X): hv has no PCI.
 *   T10 the device allocates nothing after create, so reset/activate cycles cannot leak.
 */
#include "virtio_mmio.h"

#include <string.h>

/* Register offsets (virtio 1.1, section 4.2.2, table "MMIO Device Register Layout"). */
enum {
	VM_MAGIC = 0x000, VM_VERSION = 0x004, VM_DEVICE_ID = 0x008, VM_VENDOR_ID = 0x00c,
	VM_DEV_FEATURES = 0x010, VM_DEV_FEATURES_SEL = 0x014,
	VM_DRV_FEATURES = 0x020, VM_DRV_FEATURES_SEL = 0x024,
	VM_QUEUE_SEL = 0x030, VM_QUEUE_NUM_MAX = 0x034, VM_QUEUE_NUM = 0x038,
	VM_QUEUE_READY = 0x044, VM_QUEUE_NOTIFY = 0x050,
	VM_INT_STATUS = 0x060, VM_INT_ACK = 0x064, VM_STATUS = 0x070,
	VM_QUEUE_DESC_LO = 0x080, VM_QUEUE_DESC_HI = 0x084,
	VM_QUEUE_DRIVER_LO = 0x090, VM_QUEUE_DRIVER_HI = 0x094,
	VM_QUEUE_DEVICE_LO = 0x0a0, VM_QUEUE_DEVICE_HI = 0x0a4,
	VM_CONFIG_GEN = 0x0fc,
};

/*
 * What a driver checks before it believes a device is there (virtio 1.1, 4.2.3.1.1): the
 * magic, then the version, then a DeviceID other than 0 (0 marks an empty slot). A window
 * nobody claims reads all ones and fails the first test (textbook ch04 "virtio-mmio: finding
 * the device"). The vendor ID is free-form: drivers match on the DeviceID, not on it.
 */
#define VIRTIO_MMIO_MAGIC   0x74726976u
#define VIRTIO_MMIO_VERSION 2u
#define VIRTIO_ID_BLOCK     2u
#define VIRTIO_MMIO_VENDOR  0x424C5648u
#define VIRTIO_NUM_QUEUES   1u

/*
 * Device status bits (virtio 1.1, section 2.1 "Device Status Field"). The numeric order is not
 * the order of the handshake: FEATURES_OK (8) is set before DRIVER_OK (4), because it was added
 * in virtio 1.0 after the legacy bits were taken. The whole status reads back: the driver
 * learns from it whether the device refused FEATURES_OK or gave up (NEEDS_RESET).
 */
#define ST_ACKNOWLEDGE 0x01u /* the guest found the device */
#define ST_DRIVER      0x02u /* the guest has a driver for it */
#define ST_DRIVER_OK   0x04u /* the driver is ready: the device may use the queues */
#define ST_FEATURES_OK 0x08u /* feature negotiation is over (the device may refuse it) */
#define ST_NEEDS_RESET 0x40u /* set by the device: it hit an error it cannot recover from */
#define ST_FAILED      0x80u /* set by the driver: it gave up on the device */
#define ST_KNOWN (ST_ACKNOWLEDGE | ST_DRIVER | ST_DRIVER_OK | ST_FEATURES_OK | ST_NEEDS_RESET | \
		  ST_FAILED)

/* InterruptStatus bits (virtio 1.1, 4.2.2): "used buffer notification" (the used ring moved)
 * and "configuration change notification" (config space or, here, NEEDS_RESET in Status). */
#define INT_USED   0x1u
#define INT_CONFIG 0x2u

/* ---- small helpers ------------------------------------------------------------------------ */

/* The guest-physical address of a register: what the trace records, so a reader can match it
 * to the guest's own MOV (the bus hands the device only the offset into its window). */
static uint64_t vm_gpa(uint64_t offset)
{
	return HV_MMIO_VIRTIO_BLK + offset;
}

/* Every transport refusal goes through the queue's error counter, so stats.errors counts all. */
static void vm_error(struct virtio_blk *b, uint64_t offset, enum hvt_vq_error err,
		     uint32_t index, uint64_t detail)
{
	virtq_error(&b->vq, vm_gpa(offset), err, index, detail);
}

static void vm_trace(struct virtio_blk *b, uint8_t op, uint64_t addr, uint64_t data,
		     uint32_t count, uint64_t arg)
{
	trace_device(b->trace, HVT_VQ, op, b->vq.index, addr, data, count, arg);
}

/* virtio 1.x registers are little-endian whatever the host's byte order (the spec says so,
 * unlike legacy virtio, which used the guest's): store byte by byte instead of a memcpy of a
 * host uint32_t, so the code is right on a big-endian host too. */
static void vm_put32(uint8_t *data, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

/* ---- the interrupt line ------------------------------------------------------------------- */

/*
 * virtio-mmio has one level-triggered line: it is high exactly while InterruptStatus is not 0.
 * The driver's handler reads InterruptStatus, writes the same bits to InterruptACK, and the
 * line drops. set_irq is called only when the level changes (an interrupt controller counts
 * edges of the level, not our calls).
 */
/*
 * The line is IRQ 5 on the master 8259A (hv/dev/board.c), which the guest must switch to
 * level-triggered in the ELCR (guest/diskio.c does). Edge-triggered, a completion that arrives
 * while the line is still high raises no new edge, and the driver may never hear of it. A
 * guest that writes InterruptACK in a loop only clears bits: the level changes at most once,
 * and nothing is injected (the same rule as the UART, appendix C, S6).
 */
static void vm_update_line(struct virtio_blk *b)
{
	int level = b->interrupt_status != 0;
	if (level == b->irq_level)
		return;
	b->irq_level = level;
	if (b->set_irq)
		b->set_irq(b->irq_ctx, level);
}

/* Signal `bits` (INT_USED or INT_CONFIG). With no line wired, InterruptStatus still records
 * it, so a polling driver sees it; the trace says why no interrupt followed. */
static void vm_signal(struct virtio_blk *b, uint32_t bits)
{
	b->interrupt_status |= bits;
	if (!b->set_irq) {
		b->stats.irqs_suppressed++;
		vm_trace(b, HVT_VQ_IRQ_SUPPRESS, 0, HVT_IRQ_NO_LINE, 0, 0);
		return;
	}
	vm_update_line(b);
	b->stats.irqs_raised++;
	vm_trace(b, HVT_VQ_IRQ_RAISE, 0, b->interrupt_status, 0, 0);
}

/* ---- device status ------------------------------------------------------------------------ */

/* Every change of the device status is one HVT_VQ_STATUS record (old value in arg): hvviz
 * draws the handshake of section 3.1.1 from these. */
static void vm_set_status(struct virtio_blk *b, uint32_t status)
{
	uint32_t old = b->status;
	b->status = status;
	vm_trace(b, HVT_VQ_STATUS, 0, status, 0, old);
}

/*
 * The device gives up until the driver resets it (virtio 1.1, section 2.1.2): DEVICE_NEEDS_RESET
 * in Status, the queue stops, and if the driver is live it gets a configuration change
 * interrupt so it looks at Status.
 */
static void vm_needs_reset(struct virtio_blk *b)
{
	if (b->status & ST_NEEDS_RESET)
		return;
	b->stats.needs_reset++;
	vm_set_status(b, b->status | ST_NEEDS_RESET);
	if (b->status & ST_DRIVER_OK)
		vm_signal(b, INT_CONFIG);
}

/*
 * Writing 0 to Status: back to power-on. Under the lock, so no request is half-done (T7).
 * A driver resets first, before ACKNOWLEDGE, so it never inherits a previous driver's queue
 * (a bootloader's, or its own before a kexec). Nothing is freed or allocated: a guest can
 * reset and reactivate forever without hv's memory moving (T10).
 */
static void vm_reset(struct virtio_blk *b)
{
	if (b->status != 0)
		vm_set_status(b, 0);
	b->device_features_sel = 0;
	b->driver_features_sel = 0;
	b->driver_features = 0;
	b->driver_features_beyond = false;
	b->queue_sel = 0;
	b->interrupt_status = 0;
	vm_update_line(b);
	virtq_reset(&b->vq);
	vm_trace(b, HVT_VQ_RESET, 0, 0, 0, 0);
}

/* T6: the driver may accept only what was offered, and must accept VERSION_1 (without it
 * the driver speaks legacy virtio 0.9, which this version-2 transport does not). */
static bool vm_features_ok(struct virtio_blk *b)
{
	uint64_t offered = virtio_blk_features(b);
	if ((b->driver_features & ~offered) || b->driver_features_beyond ||
	    !(b->driver_features & VIRTIO_F_VERSION_1)) {
		vm_error(b, VM_STATUS, HVT_VQE_FEATURES, 0, b->driver_features);
		return false;
	}
	return true;
}

/*
 * The one bit the driver may add next on the initialisation path (virtio 1.1, 3.1.1): reset,
 * ACKNOWLEDGE ("I have seen a virtio device"), DRIVER ("I can drive it"), the features,
 * FEATURES_OK, the queues, DRIVER_OK. Textbook ch04 "The handshake" shows the 33 exits of it.
 */
static uint32_t vm_next_step(uint32_t old)
{
	if (!(old & ST_ACKNOWLEDGE))
		return ST_ACKNOWLEDGE;
	if (!(old & ST_DRIVER))
		return ST_DRIVER;
	if (!(old & ST_FEATURES_OK))
		return ST_FEATURES_OK;
	if (!(old & ST_DRIVER_OK))
		return ST_DRIVER_OK;
	return 0;
}

/*
 * T6: a whitelist. 0 resets. FAILED may be added at any time. Otherwise exactly the next bit
 * of ACKNOWLEDGE -> DRIVER -> FEATURES_OK -> DRIVER_OK may be added, nothing may be cleared,
 * and after FAILED only a reset is accepted. NEEDS_RESET belongs to the device: whatever the
 * driver writes in bit 6 is ignored (a driver that writes back "Status | FAILED" keeps it).
 */
static void vm_write_status(struct virtio_blk *b, uint32_t v)
{
	if (v == 0) {
		vm_reset(b);
		return;
	}
	uint32_t old = b->status;
	uint32_t want = (v & ~ST_NEEDS_RESET) | (old & ST_NEEDS_RESET);
	if (want == old)
		return;
	uint32_t added = want & ~old;
	bool ok = (v & ~ST_KNOWN) == 0 && (old & ~want) == 0 && !(old & ST_FAILED) &&
		  (added == ST_FAILED || added == vm_next_step(old));
	if (!ok) {
		vm_error(b, VM_STATUS, HVT_VQE_STATUS, old, v);
		return;
	}
	/* FEATURES_OK is the device's chance to say no: the bit is simply not kept, and the
	 * driver, reading Status back, sees the refusal (virtio 1.1, 3.1.1 step 6). */
	if (added == ST_FEATURES_OK && !vm_features_ok(b))
		return;
	vm_set_status(b, want);
}

/* ---- queue configuration ------------------------------------------------------------------ */

/* T3: the Queue* registers refer to QueueSel; only queue 0 exists. */
static bool vm_queue_selected(struct virtio_blk *b, uint64_t offset)
{
	if (b->queue_sel < VIRTIO_NUM_QUEUES)
		return true;
	vm_error(b, offset, HVT_VQE_BAD_QUEUE, b->queue_sel, 0);
	return false;
}

/* T7: the spec's window for queue setup (virtio 1.1, 3.1.1 step 7): after FEATURES_OK, before
 * DRIVER_OK, and only while the queue is not running. */
static bool vm_queue_config_open(struct virtio_blk *b, uint64_t offset, uint32_t v)
{
	if ((b->status & ST_FEATURES_OK) && !(b->status & ST_DRIVER_OK) && !b->vq.ready)
		return true;
	vm_error(b, offset, HVT_VQE_LATE_WRITE, b->status, v);
	return false;
}

/*
 * Replace the low or high 32 bits of a 64-bit ring address. Between the two writes the address
 * is half old, half new; that is harmless because nothing reads it until QueueReady = 1, which
 * checks the final value (T5), and after that the registers are frozen (T7). So the address hv
 * validated is the address hv uses: no time-of-check-to-time-of-use gap.
 */
static void vm_set_half(uint64_t *addr, bool high, uint32_t v)
{
	if (high)
		*addr = (*addr & 0xFFFFFFFFull) | (uint64_t)v << 32;
	else
		*addr = (*addr & ~0xFFFFFFFFull) | v;
}

/*
 * QueueReady = 1: validate everything the driver configured (T4, T5). On failure the queue
 * stays not ready and, as appendix C's row T4 says, the device sets NEEDS_RESET: the driver
 * (which does not read QueueReady back) then sees in Status that activation failed.
 */
static void vm_queue_ready(struct virtio_blk *b, uint32_t v)
{
	/* A queue size or address that fails here costs the guest its device until reset, not
	 * hv anything: no ring is read before it passed. */
	if (v == 0) {
		/* Stopping a queue is allowed in the same window as starting it; it is already
		 * stopped whenever that window is open, so this only forgets progress. */
		if (b->vq.ready && vm_queue_config_open(b, VM_QUEUE_READY, v))
			b->vq.ready = false;
		return;
	}
	if (b->vq.ready)
		return; /* 1 again: nothing changes */
	if (!vm_queue_config_open(b, VM_QUEUE_READY, v))
		return;
	if (virtq_activate(&b->vq, VIRTQ_NUM_MAX) != 0)
		vm_needs_reset(b);
}

/* A write to one of the Queue* registers of the selected queue. The driver writes QueueNum and
 * the three ring addresses (each as two 32-bit halves: every register of the window is 32
 * bits wide, and the spec asks the driver for 32-bit accesses only), then QueueReady = 1. */
static void vm_write_queue(struct virtio_blk *b, uint64_t offset, uint32_t v)
{
	if (!vm_queue_selected(b, offset))
		return;
	if (offset == VM_QUEUE_READY) {
		vm_queue_ready(b, v);
		return;
	}
	if (!vm_queue_config_open(b, offset, v))
		return;
	struct virtq *q = &b->vq;
	switch (offset) {
	case VM_QUEUE_NUM:
		/* Kept as written (truncation to 16 bits would turn 65536 into a "valid" 0);
		 * a value > 0xFFFF is stored as 0, which activation refuses (T4). */
		q->num = v > 0xFFFFu ? 0 : (uint16_t)v;
		break;
	case VM_QUEUE_DESC_LO: case VM_QUEUE_DESC_HI:
		vm_set_half(&q->desc, offset == VM_QUEUE_DESC_HI, v);
		break;
	case VM_QUEUE_DRIVER_LO: case VM_QUEUE_DRIVER_HI:
		vm_set_half(&q->avail, offset == VM_QUEUE_DRIVER_HI, v);
		break;
	default: /* VM_QUEUE_DEVICE_LO / HI */
		vm_set_half(&q->used, offset == VM_QUEUE_DEVICE_HI, v);
		break;
	}
}

/*
 * DriverFeatures: only between DRIVER and FEATURES_OK (T7). Bits beyond 63 are remembered as
 * "acked something not offered", which FEATURES_OK then refuses (T6).
 *
 * Features are a bit field wider than a register, read and written in 32-bit halves through
 * the *FeaturesSel registers (Sel = 0: bits 0-31, 1: bits 32-63). After FEATURES_OK the set is
 * fixed; that is what lets hv check everything once, in vm_features_ok.
 */
static void vm_write_driver_features(struct virtio_blk *b, uint32_t v)
{
	if (!(b->status & ST_DRIVER) || (b->status & ST_FEATURES_OK)) {
		vm_error(b, VM_DRV_FEATURES, HVT_VQE_LATE_WRITE, b->status, v);
		return;
	}
	if (b->driver_features_sel == 0)
		vm_set_half(&b->driver_features, false, v);
	else if (b->driver_features_sel == 1)
		vm_set_half(&b->driver_features, true, v);
	else if (v != 0)
		b->driver_features_beyond = true;
}

/* ---- the doorbell -------------------------------------------------------------------------- */

/* May the device touch the rings now? Only while the driver says DRIVER_OK, the device has not
 * given up (NEEDS_RESET) or been given up on (FAILED), and the queue was validated. */
static bool vm_live(const struct virtio_blk *b)
{
	return (b->status & ST_DRIVER_OK) && !(b->status & (ST_NEEDS_RESET | ST_FAILED)) &&
	       b->vq.ready && !b->vq.broken;
}

/*
 * One doorbell: take every chain the driver made available (at most N, Q12), execute it,
 * return it, then decide about the interrupt once for the whole batch.
 *
 * This loop is where para-virtualization pays off: one exit (the QueueNotify write) for any
 * number of requests and any amount of data, against an exit per register and per data word
 * on the ATA path (textbook ch04 "One request, step by step"). The requests run synchronously
 * on this thread, so when the loop ends every chain taken is in the used ring.
 */
static void vm_process(struct virtio_blk *b)
{
	struct virtq *q = &b->vq;
	if (virtq_begin(q) < 0) {
		vm_needs_reset(b);
		return;
	}
	for (;;) {
		enum virtq_pop_result r = virtq_pop(q, &b->chain);
		if (r == VIRTQ_EMPTY)
			break;
		if (r == VIRTQ_RING_ERROR) {
			vm_needs_reset(b);
			break;
		}
		if (r == VIRTQ_REJECTED)
			continue;
		uint32_t len = virtio_blk_execute(b, &b->chain);
		if (virtq_push(q, b->chain.head, len) < 0) {
			vm_needs_reset(b);
			break;
		}
	}
	/* Chains completed before a ring error are still the driver's to collect. */
	switch (virtq_end(q)) {
	case VIRTQ_IRQ_SEND:
		vm_signal(b, INT_USED);
		break;
	case VIRTQ_IRQ_SUPPRESSED:
		b->stats.irqs_suppressed++;
		vm_trace(b, HVT_VQ_IRQ_SUPPRESS, 0, HVT_IRQ_NO_INTERRUPT_FLAG, 0, 0);
		break;
	case VIRTQ_IRQ_NONE:
		break;
	}
}

/*
 * The NOTIFY record is written here rather than with trace_device because it needs a flag:
 * HVT_F_EVENTFD says KVM took the doorbell in the kernel and no exit reached hv.
 */
static void vm_notify_locked(struct virtio_blk *b, uint32_t queue, bool via_eventfd)
{
	if (b->trace) {
		struct hvt_record r = {
			.time_ns = trace_now(b->trace), .vcpu = trace_thread_id(), .kind = HVT_VQ,
			.reason = HVT_VQ_NOTIFY, .size = b->vq.index,
			.addr = vm_gpa(VM_QUEUE_NOTIFY), .data = queue,
			.flags = via_eventfd ? HVT_F_EVENTFD : 0,
		};
		trace_emit(b->trace, &r);
	}
	if (via_eventfd)
		b->stats.notifies_eventfd++;
	else
		b->stats.notifies_mmio++;
	/* T3: an unsigned compare, so a "negative" index is just a large one. */
	if (queue >= VIRTIO_NUM_QUEUES) {
		vm_error(b, VM_QUEUE_NOTIFY, HVT_VQE_BAD_QUEUE, queue, 0);
		return;
	}
	/* T8: before DRIVER_OK (or on a stopped queue) the rings may be half written: touch
	 * nothing. A spurious doorbell on a live queue is harmless: it finds no new entries. */
	if (!vm_live(b)) {
		vm_error(b, VM_QUEUE_NOTIFY, HVT_VQE_NOT_LIVE, queue, b->status);
		return;
	}
	vm_process(b);
}

/*
 * The doorbell from outside the register path: with --ioeventfd, KVM turns the guest's write
 * to QueueNotify into an eventfd signal without an exit, and the I/O thread (hv/iothread.c)
 * calls this. Textbook ch04 "ioeventfd: a doorbell that stays in the kernel".
 */
void virtio_mmio_notify(struct virtio_blk *b, uint32_t queue, bool via_eventfd)
{
	pthread_mutex_lock(&b->lock);
	vm_notify_locked(b, queue, via_eventfd);
	pthread_mutex_unlock(&b->lock);
}

/* ---- register reads and writes ------------------------------------------------------------- */

/* The value of a readable register, or false if `offset` is none. */
static bool vm_read_reg(struct virtio_blk *b, uint64_t offset, uint32_t *v)
{
	uint64_t f = virtio_blk_features(b);
	bool q0 = b->queue_sel < VIRTIO_NUM_QUEUES; /* queue registers of a missing queue read 0 */
	switch (offset) {
	case VM_MAGIC: *v = VIRTIO_MMIO_MAGIC; break;
	case VM_VERSION: *v = VIRTIO_MMIO_VERSION; break;
	case VM_DEVICE_ID: *v = VIRTIO_ID_BLOCK; break;
	case VM_VENDOR_ID: *v = VIRTIO_MMIO_VENDOR; break;
	case VM_DEV_FEATURES:
		*v = b->device_features_sel == 0 ? (uint32_t)f :
		     b->device_features_sel == 1 ? (uint32_t)(f >> 32) : 0;
		break;
	case VM_QUEUE_NUM_MAX: *v = q0 ? VIRTQ_NUM_MAX : 0; break;
	case VM_QUEUE_NUM: *v = q0 ? b->vq.num : 0; break;
	case VM_QUEUE_READY: *v = q0 && b->vq.ready; break;
	/* Read by the driver's interrupt handler, then written back to InterruptACK. */
	case VM_INT_STATUS: *v = b->interrupt_status; break;
	case VM_STATUS: *v = b->status; break;
	case VM_QUEUE_DESC_LO: *v = q0 ? (uint32_t)b->vq.desc : 0; break;
	case VM_QUEUE_DESC_HI: *v = q0 ? (uint32_t)(b->vq.desc >> 32) : 0; break;
	case VM_QUEUE_DRIVER_LO: *v = q0 ? (uint32_t)b->vq.avail : 0; break;
	case VM_QUEUE_DRIVER_HI: *v = q0 ? (uint32_t)(b->vq.avail >> 32) : 0; break;
	case VM_QUEUE_DEVICE_LO: *v = q0 ? (uint32_t)b->vq.used : 0; break;
	case VM_QUEUE_DEVICE_HI: *v = q0 ? (uint32_t)(b->vq.used >> 32) : 0; break;
	/* A driver reads it before and after a multi-word config read (the 64-bit capacity)
	 * and retries if it changed; hv's config never changes, so one read pair suffices. */
	case VM_CONFIG_GEN: *v = 0; break;
	default: return false;
	}
	return true;
}

/* false if `offset` is no writable register. */
static bool vm_write_reg(struct virtio_blk *b, uint64_t offset, uint32_t v)
{
	switch (offset) {
	case VM_DEV_FEATURES_SEL: b->device_features_sel = v; break;
	case VM_DRV_FEATURES_SEL: b->driver_features_sel = v; break;
	case VM_DRV_FEATURES: vm_write_driver_features(b, v); break;
	case VM_QUEUE_SEL:
		/* Stored even when out of range: the spec lets a driver probe with QueueSel and
		 * read QueueNumMax = 0 back. Traced because hv offers exactly one queue. */
		b->queue_sel = v;
		if (v >= VIRTIO_NUM_QUEUES)
			vm_error(b, offset, HVT_VQE_BAD_QUEUE, v, 0);
		break;
	case VM_QUEUE_NUM: case VM_QUEUE_READY:
	case VM_QUEUE_DESC_LO: case VM_QUEUE_DESC_HI:
	case VM_QUEUE_DRIVER_LO: case VM_QUEUE_DRIVER_HI:
	case VM_QUEUE_DEVICE_LO: case VM_QUEUE_DEVICE_HI:
		vm_write_queue(b, offset, v);
		break;
	case VM_QUEUE_NOTIFY: vm_notify_locked(b, v, false); break;
	case VM_INT_ACK:
		/* Clear exactly the bits written: a completion that set INT_USED after the handler
		 * read InterruptStatus is not acknowledged by accident, and the line stays up. */
		b->interrupt_status &= ~v;
		vm_update_line(b);
		break;
	case VM_STATUS: vm_write_status(b, v); break;
	default: return false;
	}
	return true;
}

/*
 * T2: config space accepts 1, 2, 4 or 8 bytes anywhere inside it. "off <= len - size" with
 * off < len already known cannot overflow, unlike "off + size <= len".
 */
static bool vm_config_access_ok(uint64_t offset, uint32_t size)
{
	uint64_t len = HV_VIRTIO_MMIO_LEN - VIRTIO_MMIO_CONFIG_OFFSET;
	if (offset < VIRTIO_MMIO_CONFIG_OFFSET)
		return false;
	uint64_t off = offset - VIRTIO_MMIO_CONFIG_OFFSET;
	return (size == 1 || size == 2 || size == 4 || size == 8) && off < len && size <= len - off;
}

/*
 * T1: the register file is 32-bit only. Returns true if the access may go on. The spec asks
 * drivers for 32-bit accesses to these registers (4.2.2); refusing the rest means the code
 * below never has to decide what a 1-byte write to half a register would mean.
 */
static bool vm_reg_access_ok(struct virtio_blk *b, uint64_t offset, uint32_t size,
			     uint64_t value)
{
	if (size != 4) {
		vm_error(b, offset, HVT_VQE_BAD_WIDTH, size, value);
		return false;
	}
	if (offset % 4 != 0) {
		vm_error(b, offset, HVT_VQE_BAD_OFFSET, size, value);
		return false;
	}
	return true;
}

/* A read of the window, after the bus has checked that it lies inside the 0x200 bytes (T2).
 * `data` is zeroed first, so a refused read can never hand out a previous access's bytes. */
static void vm_read_locked(struct virtio_blk *b, uint64_t offset, uint8_t *data, uint32_t size)
{
	memset(data, 0, size); /* every refused read returns 0 (T1, T2) */
	if (offset >= VIRTIO_MMIO_CONFIG_OFFSET) {
		if (vm_config_access_ok(offset, size))
			virtio_blk_config_read(b, offset - VIRTIO_MMIO_CONFIG_OFFSET, data, size);
		else
			vm_error(b, offset, HVT_VQE_BAD_OFFSET, size, 0);
		return;
	}
	if (!vm_reg_access_ok(b, offset, size, 0))
		return;
	uint32_t v;
	if (vm_read_reg(b, offset, &v))
		vm_put32(data, v);
	else
		vm_error(b, offset, HVT_VQE_BAD_OFFSET, size, 0);
}

static void vm_write_locked(struct virtio_blk *b, uint64_t offset, const uint8_t *data,
			    uint32_t size)
{
	if (offset >= VIRTIO_MMIO_CONFIG_OFFSET) {
		/* virtio-blk's config is read-only (hv offers no CONFIG_WCE): every write there
		 * is refused, in or out of bounds. detail = the first byte written. */
		vm_error(b, offset, HVT_VQE_READ_ONLY, size, size ? data[0] : 0);
		return;
	}
	/* The value as written, whatever the width, so a refused access is traced with it. */
	uint64_t written = 0;
	for (uint32_t i = 0; i < size && i < 8; i++)
		written |= (uint64_t)data[i] << (8 * i);
	uint32_t v = (uint32_t)written;
	if (!vm_reg_access_ok(b, offset, size, written))
		return;
	if (!vm_write_reg(b, offset, v))
		vm_error(b, offset, HVT_VQE_BAD_OFFSET, size, v);
}

/* ---- device_ops ------------------------------------------------------------------------------ */

/* The bus calls these on the vCPU thread, once per MMIO exit. The lock is for the other thread:
 * with --ioeventfd the I/O thread may be executing a request (virtio_mmio_notify) while the
 * vCPU reads InterruptStatus or resets the device. */
static void virtio_mmio_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct virtio_blk *b = dev;
	pthread_mutex_lock(&b->lock);
	vm_read_locked(b, offset, data, size);
	pthread_mutex_unlock(&b->lock);
}

static void virtio_mmio_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct virtio_blk *b = dev;
	pthread_mutex_lock(&b->lock);
	vm_write_locked(b, offset, data, size);
	pthread_mutex_unlock(&b->lock);
}

static void virtio_mmio_reset(void *dev)
{
	struct virtio_blk *b = dev;
	pthread_mutex_lock(&b->lock);
	vm_reset(b);
	pthread_mutex_unlock(&b->lock);
}

const struct device_ops virtio_mmio_ops = {
	.name = "virtio-mmio-blk",
	.read = virtio_mmio_read,
	.write = virtio_mmio_write,
	.reset = virtio_mmio_reset,
};

/* ---- wiring ---------------------------------------------------------------------------------- */

/* The board (board.c) wires the line to the PIC before the guest runs; under the lock because
 * vm_update_line may read it from the I/O thread. */
void virtio_mmio_connect_irq(struct virtio_blk *b, void (*set_irq)(void *ctx, int level),
			     void *ctx)
{
	pthread_mutex_lock(&b->lock);
	b->set_irq = set_irq;
	b->irq_ctx = ctx;
	pthread_mutex_unlock(&b->lock);
}
