/*
 * fuzz_virtio.c - libFuzzer target: a hostile guest driving virtio-blk over virtio-mmio.
 *
 * Concept: with para-virtualization the guest's RAM *is* the device's input. The rings, the
 * descriptors, the request headers are bytes a guest wrote and may rewrite at any moment, and
 * the register file is poked by a driver that may do anything in any order. This target plays
 * such a guest: the fuzzer's bytes become the guest's initial RAM and then a program of steps
 * (register reads and writes of any width, doorbells, rewrites of RAM between steps, resets).
 * AddressSanitizer turns every access outside the synthetic RAM into a crash (the RAM is two
 * malloc'ed blocks of exactly their size), UBSan every overflow, and the checks below turn the
 * appendix C's promises (bounded work, image never grows, no touch before DRIVER_OK, ...) into
 * abort()s that libFuzzer reports with the input that caused them.
 * Build and run: make fuzz-virtio   (clang; not part of `make test`)
 * Textbook: chapter 4 "Two I/O paths", sections "The virtqueue", "The handshake" and "A hostile
 * guest"; textbook appendix C, sections C.1 (T1-T8), C.2 (Q1-Q13) and C.3 (B1-B13).
 *
 * Input format (tests/fuzz/gen_dev_corpus.c writes seeds in it; keep the two in step):
 *
 *   byte 0        flags: bit 0 read-only image, bit 1 trace to /dev/null, bit 2 interrupt line
 *   bytes 1-2048  guest RAM at gpa 0 (a shorter input leaves the rest 0)
 *   then steps    one opcode byte (value % VF_NOPS), then its operands:
 *     0 MMIO_WRITE  off16 size8 value32   window offset & 0x3FF, size {1,2,3,4,8}[size % 5]
 *     1 MMIO_READ   off16 size8
 *     2 NOTIFY_FD   queue8                doorbell through the ioeventfd path
 *     3 NOTIFY_MMIO queue8                doorbell as a QueueNotify write (an exit)
 *     4 POKE        gpa24 len8 bytes[len] the guest rewrites its RAM (other vCPU, Q11)
 *     5 SUBMIT      head16                avail.ring[avail.idx % N] = head; avail.idx++
 *     6 HANDSHAKE   num8 desc16 avail16 used16 feat8   the whole virtio 3.1.1 sequence
 *     7 RESET       -                     device_ops.reset (power cycle by hv)
 *     8 IRQ_TOGGLE  -                     wire or unwire the interrupt line
 *   All multi-byte operands are little-endian. queue8 is sign-extended to 32 bits, so 0x80-0xFF
 *   are "negative" queue numbers (T3). An incomplete last step is ignored.
 *
 * Why only 2 KiB of RAM from the input: libFuzzer spreads its mutations over the whole input;
 * a 64 KiB image of which a few hundred bytes matter (rings, headers) would waste almost every
 * mutation. 2 KiB holds a 16-entry queue with headers; the rest of RAM starts at 0 and POKE
 * reaches all of it.
 *
 * Guest memory: slot 0 is 256 KiB at gpa 0, slot 1 is 64 KiB at gpa 0x40000, right after it
 * and allocated separately. A buffer spanning the two is contiguous for the guest but not on
 * the host, the case appendix C row Q6 ("spanning two RAM regions") warns about: if anything
 * walked across the boundary with one pointer, ASan would report it.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev/virtio_mmio.h"
#include "disk.h"
#include "fuzz_image.h"
#include "guestmem.h"
#include "trace_write.h"
#include "dev/virtq.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VF_RAM0_SIZE   (256u << 10)
#define VF_RAM1_GPA    VF_RAM0_SIZE
#define VF_RAM1_SIZE   (64u << 10)
#define VF_GPA_SPAN    (VF_RAM1_GPA + VF_RAM1_SIZE) /* POKE addresses wrap at this */
#define VF_IMAGE_SIZE  2048u
#define VF_SECTORS     64u                         /* 32 KiB image */
#define VF_MAX_STEPS   4096u                       /* bounded work per input */

enum vf_flag { VF_READ_ONLY = 1, VF_TRACE = 2, VF_IRQ = 4 };
enum vf_op {
	VF_MMIO_WRITE, VF_MMIO_READ, VF_NOTIFY_FD, VF_NOTIFY_MMIO, VF_POKE, VF_SUBMIT,
	VF_HANDSHAKE, VF_RESET, VF_IRQ_TOGGLE, VF_NOPS
};

/* Device status bits and the registers the handshake uses (virtio 1.1, 2.1 and 4.2.2). */
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_NEEDS_RESET = 0x40,
       S_FAILED = 0x80 };
enum { R_DRV_FEAT = 0x020, R_DRV_FEAT_SEL = 0x024, R_QSEL = 0x030, R_QNUM = 0x038,
       R_QREADY = 0x044, R_QNOTIFY = 0x050, R_STATUS = 0x070, R_QDESC = 0x080,
       R_QDRIVER = 0x090, R_QDEVICE = 0x0a0 };

/* Everything that lives across inputs: created once, reset per input. */
static uint8_t *ram0, *ram1, *ram_before;
static struct guest_mem gm;
static struct disk disk_rw, disk_ro;
static struct trace_writer *trace_null;

/* Per input. */
static struct virtio_blk *dev;
static struct disk *disk;
static int line_level; /* the interrupt line as an interrupt controller would see it */
static bool line_wired;

/* ---- input decoding ------------------------------------------------------------------------ */

struct vf_input {
	const uint8_t *p;
	size_t left;
};

static bool vf_take(struct vf_input *in, void *out, size_t n)
{
	if (in->left < n)
		return false;
	memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
	return true;
}

static uint32_t vf_le(const uint8_t *b, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)b[i] << (8 * i);
	return v;
}

/* ---- set-up, once per process --------------------------------------------------------------- */

static void vf_die(const char *what)
{
	fprintf(stderr, "fuzz_virtio: %s\n", what);
	abort();
}

/*
 * The image: a 64-sector temporary file, opened twice (read-write and read-only, so B9 is
 * reachable) and unlinked at once, so nothing is left in /tmp whatever happens. cache=unsafe:
 * a guest FLUSH costs no fdatasync, which keeps the fuzzer fast.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ram0 = malloc(VF_RAM0_SIZE);
	ram1 = malloc(VF_RAM1_SIZE);
	ram_before = malloc(VF_GPA_SPAN);
	if (!ram0 || !ram1 || !ram_before)
		vf_die("out of memory");
	gm = (struct guest_mem){ .slots = { { .gpa = 0, .size = VF_RAM0_SIZE, .host = ram0 },
					    { .gpa = VF_RAM1_GPA, .size = VF_RAM1_SIZE, .host = ram1 } },
				 .nslots = 2 };
	fuzz_image_open("fuzz_virtio", VF_SECTORS, &disk_rw, &disk_ro);
	char err[256];
	trace_null = trace_create("/dev/null", HVT_HOST_UNKNOWN, "fuzz_virtio", err, sizeof(err));
	if (!trace_null)
		vf_die(err);
	return 0;
}

/* Every input starts from the same disk (fuzz_image.h). */
static void vf_reset_image(void)
{
	fuzz_image_reset("fuzz_virtio", VF_SECTORS, &disk_rw);
}

/* ---- invariants ------------------------------------------------------------------------------ */

/* The line is level-triggered: the device calls set_irq only when the level changes, and the
 * level is exactly "InterruptStatus != 0" (virtio 1.1, 4.2.2). */
static void vf_set_irq(void *ctx, int level)
{
	struct virtio_blk *b = ctx;
	if (level == line_level || level != (b->interrupt_status != 0))
		abort();
	line_level = level;
}

/* B13: the guest can never change the size of the image, whatever it writes. */
static void vf_check_image(void)
{
	struct stat st;
	if (fstat(disk_rw.fd, &st) < 0 || st.st_size != VF_SECTORS * HV_SECTOR_SIZE ||
	    disk->sectors != VF_SECTORS)
		abort();
}

/*
 * What must hold between any two guest steps: Status has only the six defined bits (T6); a
 * ready queue passed T4 and T5 (size a power of two <= 128, every area aligned and all RAM);
 * no host system call on the image failed (every range the device asked for was inside it);
 * a read-only image was never written (B9).
 */
static void vf_check_device(uint64_t errors_before, uint64_t ro_writes_before)
{
	const struct virtq *q = &dev->vq;
	if (dev->status & ~(uint32_t)(S_ACK | S_DRIVER | S_DRIVER_OK | S_FEATURES_OK |
				      S_NEEDS_RESET | S_FAILED))
		abort();
	if (q->ready) {
		if (q->num == 0 || q->num > VIRTQ_NUM_MAX || (q->num & (q->num - 1)) ||
		    q->desc % VIRTQ_DESC_ALIGN || q->avail % VIRTQ_AVAIL_ALIGN ||
		    q->used % VIRTQ_USED_ALIGN || !gm_ptr(&gm, q->desc, virtq_desc_bytes(q->num)) ||
		    !gm_ptr(&gm, q->avail, virtq_avail_bytes(q->num)) ||
		    !gm_ptr(&gm, q->used, virtq_used_bytes(q->num)))
			abort();
	}
	if (disk->errors != errors_before || disk_ro.writes != ro_writes_before)
		abort();
	vf_check_image();
}

/* T8: the device uses the rings only when DRIVER_OK is set and nothing went wrong. */
static bool vf_live(void)
{
	return (dev->status & S_DRIVER_OK) && !(dev->status & (S_NEEDS_RESET | S_FAILED)) &&
	       dev->vq.ready && !dev->vq.broken;
}

static void vf_snapshot_ram(void)
{
	memcpy(ram_before, ram0, VF_RAM0_SIZE);
	memcpy(ram_before + VF_RAM1_GPA, ram1, VF_RAM1_SIZE);
}

static bool vf_ram_unchanged(void)
{
	return memcmp(ram_before, ram0, VF_RAM0_SIZE) == 0 &&
	       memcmp(ram_before + VF_RAM1_GPA, ram1, VF_RAM1_SIZE) == 0;
}

/* ---- the guest's steps ----------------------------------------------------------------------- */

static void vf_write32(uint64_t off, uint32_t v)
{
	uint8_t d[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	virtio_mmio_ops.write(dev, off, d, 4);
}

/*
 * A doorbell, by either path, with the two promises around it checked: a queue that is not
 * live is not touched at all (T8: no RAM byte, no disk access), and a live one takes at most
 * N chains per doorbell, N <= 128 (Q1, Q12: bounded work whatever avail.idx says).
 */
static void vf_notify(uint32_t queue, bool via_eventfd)
{
	bool live = vf_live();
	uint16_t last_before = dev->vq.last_avail;
	uint64_t io_before = disk->reads + disk->writes + disk->flushes;
	if (!live)
		vf_snapshot_ram();
	if (via_eventfd)
		virtio_mmio_notify(dev, queue, true);
	else
		vf_write32(R_QNOTIFY, queue);
	uint16_t taken = (uint16_t)(dev->vq.last_avail - last_before);
	if (!live && (!vf_ram_unchanged() || taken != 0 ||
		      disk->reads + disk->writes + disk->flushes != io_before))
		abort();
	if (live && taken > dev->vq.num)
		abort();
}

/* sizes 1, 2, 4, 8 are what the bus delivers; 3 proves an impossible width is refused too */
static const uint32_t vf_sizes[5] = { 1, 2, 3, 4, 8 };

static bool vf_step_mmio(struct vf_input *in, bool write)
{
	uint8_t a[3], v[4];
	if (!vf_take(in, a, 3) || (write && !vf_take(in, v, 4)))
		return false;
	uint64_t off = vf_le(a, 2) & 0x3FFu;
	uint32_t size = vf_sizes[a[2] % 5];
	if (write) {
		uint8_t d[8] = { v[0], v[1], v[2], v[3], 0, 0, 0, 0 };
		if (off == R_QNOTIFY && size == 4) {
			vf_notify(vf_le(v, 4), false); /* the doorbell, with its checks */
			return true;
		}
		virtio_mmio_ops.write(dev, off, d, size);
		return true;
	}
	/* A read fills exactly `size` bytes (bus.h), and an impossible width reads 0 (T1/T2). */
	uint8_t d[8];
	memset(d, 0xA5, sizeof(d));
	virtio_mmio_ops.read(dev, off, d, size);
	for (uint32_t i = size; i < sizeof(d); i++)
		if (d[i] != 0xA5)
			abort();
	if (size == 3 && (d[0] | d[1] | d[2]))
		abort();
	return true;
}

static bool vf_step_notify(struct vf_input *in, bool via_eventfd)
{
	uint8_t q;
	if (!vf_take(in, &q, 1))
		return false;
	vf_notify((uint32_t)(int32_t)(int8_t)q, via_eventfd);
	return true;
}

/* The other vCPU rewrites RAM while the device works (Q11): byte by byte through gm_write,
 * so a poke that runs off the end of a slot just stops there. */
static bool vf_step_poke(struct vf_input *in)
{
	uint8_t a[4];
	if (!vf_take(in, a, 4))
		return false;
	uint64_t gpa = vf_le(a, 3) % VF_GPA_SPAN;
	size_t len = a[3] < in->left ? a[3] : in->left;
	for (size_t i = 0; i < len; i++)
		gm_write(&gm, gpa + i, &in->p[i], 1);
	in->p += len;
	in->left -= len;
	return true;
}

/*
 * What a driver does to hand over a request (virtio 1.1, 2.6.13): put the head in the next
 * avail slot, then bump avail.idx. Uses the addresses the device was given; a queue whose
 * ring is not RAM simply gets nothing written.
 */
static bool vf_step_submit(struct vf_input *in)
{
	uint8_t h[2];
	if (!vf_take(in, h, 2))
		return false;
	const struct virtq *q = &dev->vq;
	uint8_t idx[2];
	if (q->num == 0 || gm_read(&gm, q->avail + 2, idx, 2) < 0)
		return true;
	uint16_t i = (uint16_t)vf_le(idx, 2);
	gm_write(&gm, q->avail + 4 + 2u * (i % q->num), h, 2);
	i++;
	uint8_t next[2] = { (uint8_t)i, (uint8_t)(i >> 8) };
	gm_write(&gm, q->avail + 2, next, 2);
	return true;
}

/* feat8 picks what the driver acks: bit 0 VERSION_1, 1 FLUSH, 2 SEG_MAX, 3 BLK_SIZE, 4 RO
 * (not offered on a writable image: FEATURES_OK is then refused, T6), 5 bit 40 (never). */
static uint64_t vf_features(uint8_t f)
{
	return (f & 1 ? VIRTIO_F_VERSION_1 : 0) | (f & 2 ? VIRTIO_BLK_F_FLUSH : 0) |
	       (f & 4 ? VIRTIO_BLK_F_SEG_MAX : 0) | (f & 8 ? VIRTIO_BLK_F_BLK_SIZE : 0) |
	       (f & 16 ? VIRTIO_BLK_F_RO : 0) | (f & 32 ? 1ull << 40 : 0);
}

/*
 * The initialisation of virtio 1.1, section 3.1.1, as Linux's virtio_mmio does it: reset,
 * ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0 set-up, QueueReady, DRIVER_OK. Every
 * write goes through the register file, so a refused step (bad features, bad ring) leaves the
 * device exactly where a real driver would find it.
 */
static bool vf_step_handshake(struct vf_input *in)
{
	uint8_t a[8];
	if (!vf_take(in, a, 8))
		return false;
	uint64_t f = vf_features(a[7]);
	vf_write32(R_STATUS, 0);
	vf_write32(R_STATUS, S_ACK);
	vf_write32(R_STATUS, S_ACK | S_DRIVER);
	vf_write32(R_DRV_FEAT_SEL, 0);
	vf_write32(R_DRV_FEAT, (uint32_t)f);
	vf_write32(R_DRV_FEAT_SEL, 1);
	vf_write32(R_DRV_FEAT, (uint32_t)(f >> 32));
	vf_write32(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	vf_write32(R_QSEL, 0);
	vf_write32(R_QNUM, a[0]);
	vf_write32(R_QDESC, vf_le(a + 1, 2));
	vf_write32(R_QDRIVER, vf_le(a + 3, 2));
	vf_write32(R_QDEVICE, vf_le(a + 5, 2));
	vf_write32(R_QREADY, 1);
	vf_write32(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return true;
}

/* Wire or unwire the line. The controller's view starts from the device's current level. */
static void vf_toggle_irq(void)
{
	line_wired = !line_wired;
	line_level = dev->irq_level;
	virtio_mmio_connect_irq(dev, line_wired ? vf_set_irq : NULL, dev);
}

/* One step; false when the input ran out in the middle of it. */
static bool vf_step(struct vf_input *in)
{
	uint8_t op;
	if (!vf_take(in, &op, 1))
		return false;
	switch (op % VF_NOPS) {
	case VF_MMIO_WRITE: return vf_step_mmio(in, true);
	case VF_MMIO_READ: return vf_step_mmio(in, false);
	case VF_NOTIFY_FD: return vf_step_notify(in, true);
	case VF_NOTIFY_MMIO: return vf_step_notify(in, false);
	case VF_POKE: return vf_step_poke(in);
	case VF_SUBMIT: return vf_step_submit(in);
	case VF_HANDSHAKE: return vf_step_handshake(in);
	case VF_RESET: virtio_mmio_ops.reset(dev); return true;
	default: vf_toggle_irq(); return true;
	}
}

/* ---- one input ------------------------------------------------------------------------------- */

static void vf_start(uint8_t flags, const uint8_t *image, size_t image_len)
{
	memset(ram0, 0, VF_RAM0_SIZE);
	memset(ram1, 0, VF_RAM1_SIZE);
	memcpy(ram0, image, image_len);
	vf_reset_image();
	disk = flags & VF_READ_ONLY ? &disk_ro : &disk_rw;
	disk->trace = flags & VF_TRACE ? trace_null : NULL;
	dev = virtio_blk_create(&gm, disk);
	if (!dev)
		vf_die("out of memory");
	virtio_blk_set_trace(dev, flags & VF_TRACE ? trace_null : NULL);
	line_wired = !(flags & VF_IRQ); /* vf_toggle_irq flips it to the wanted state */
	vf_toggle_irq();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t image_len = size - 1 < VF_IMAGE_SIZE ? size - 1 : VF_IMAGE_SIZE;
	vf_start(data[0], data + 1, image_len);
	struct vf_input in = { .p = data + 1 + image_len, .left = size - 1 - image_len };
	uint64_t errors_before = disk->errors, ro_writes_before = disk_ro.writes;
	for (unsigned steps = 0; steps < VF_MAX_STEPS && vf_step(&in); steps++)
		vf_check_device(errors_before, ro_writes_before);
	vf_check_device(errors_before, ro_writes_before);
	virtio_blk_destroy(dev);
	dev = NULL;
	return 0;
}
