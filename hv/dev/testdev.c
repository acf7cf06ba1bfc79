/*
 * testdev.c - the test device: one latch on a port, a page of latches in MMIO.
 *
 * Concept: the 'exits' guest measures and shows the two ways a guest reaches a device.
 *   - Port I/O: IN/OUT are instructions made for devices. The CPU knows the access is I/O,
 *     so the VM exit tells hv the port, the width and the value directly (KVM_EXIT_IO).
 *   - MMIO: an ordinary MOV to an address where no RAM is. The CPU only sees a failed memory
 *     access (an EPT violation or NPT fault); KVM must decode the instruction to find the
 *     width and the value before it can report KVM_EXIT_MMIO. Same result, more work.
 * Both windows of this device just remember what was written, so the guest can check that a
 * value made the round trip through hv. Textbook: chapter 3 "Exits", sections "Port I/O
 * exits" and "MMIO exits".
 *
 * Port window (TESTDEV_PIO_LEN = 4 ports at HV_PORT_TESTDEV): offset 0 is a latch. A write of
 * S bytes stores the value (zero-extended); a read of S bytes returns the low S bytes of the
 * last value written. Offsets 1-3 are reserved: reads give all ones, writes are dropped.
 *
 * MMIO window (one 4 KiB page at HV_MMIO_TESTDEV): 1024 little-endian 32-bit latches. An
 * *aligned* access of 1, 2, 4 or 8 bytes reads back what was written at the same offset (an
 * 8-byte access covers two latches). A misaligned access reads all ones and writes nothing:
 * real device registers rarely accept a misaligned access, and refusing it is the safe
 * choice (textbook appendix C, T1). Refused accesses are counted in t->bad.
 */
#include "testdev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The widths a guest can produce: 1, 2 and 4 bytes for IN/OUT and MOV, 8 for a 64-bit MOV in
 * long mode. x86 has no 8-byte IN/OUT, so an 8-byte port access comes only from a unit test. */
static bool testdev_size_valid(uint32_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

/* Refuse an access: count it; a read sees all ones. */
static void testdev_refuse(struct testdev *t, uint8_t *data, uint32_t size)
{
	t->bad++;
	if (data)
		memset(data, 0xFF, size);
}

/* ---- port window --------------------------------------------------------------------- */

/*
 * An IN: KVM_EXIT_IO has already told hv the port, the width and the direction, so nothing is
 * decoded here. The guest's 'exits' loop reads back what it wrote, which proves the value
 * crossed the exit in both directions (textbook ch01 "exits: counting VM exits").
 */
static void testdev_pio_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct testdev *t = dev;

	if (offset != 0 || !testdev_size_valid(size)) {
		testdev_refuse(t, data, size);
		return;
	}
	/* Little-endian: byte i of the access is bits 8i..8i+7 of the latch. */
	for (uint32_t i = 0; i < size; i++)
		data[i] = (uint8_t)(t->pio_latch >> (8 * i));
	t->pio_reads++;
}

static void testdev_pio_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct testdev *t = dev;

	if (offset != 0 || !testdev_size_valid(size)) {
		testdev_refuse(t, NULL, size);
		return;
	}
	uint64_t v = 0;
	for (uint32_t i = 0; i < size; i++)
		v |= (uint64_t)data[i] << (8 * i);
	t->pio_latch = v;
	t->pio_writes++;
}

/* ---- MMIO window --------------------------------------------------------------------- */

/*
 * Inside the page and naturally aligned (offset a multiple of the size). Written so nothing
 * can overflow: offset < LEN is checked before size <= LEN - offset.
 */
static bool testdev_mmio_ok(uint64_t offset, uint32_t size)
{
	return testdev_size_valid(size) && offset < TESTDEV_MMIO_LEN &&
	       size <= TESTDEV_MMIO_LEN - offset && offset % size == 0;
}

/*
 * A load from the page: KVM decoded the guest's MOV to learn the width and the destination,
 * and will write `data` into that register when the vCPU resumes. The bytes are kept as the
 * guest wrote them, so the page reads back little-endian on any host.
 */
static void testdev_mmio_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct testdev *t = dev;

	if (!testdev_mmio_ok(offset, size)) {
		testdev_refuse(t, data, size);
		return;
	}
	memcpy(data, &t->mmio[offset], size);
	t->mmio_reads++;
}

static void testdev_mmio_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct testdev *t = dev;

	if (!testdev_mmio_ok(offset, size)) {
		testdev_refuse(t, NULL, size);
		return;
	}
	memcpy(&t->mmio[offset], data, size);
	t->mmio_writes++;
}

/*
 * Reset clears what the guest can see (the latches). The counters are the host's record of
 * the run and survive. Both windows share this function, so bus_reset calls it once.
 */
static void testdev_reset(void *dev)
{
	struct testdev *t = dev;

	t->pio_latch = 0;
	memset(t->mmio, 0, sizeof(t->mmio));
}

const struct device_ops testdev_pio_ops = {
	.name = "testdev-pio",
	.read = testdev_pio_read,
	.write = testdev_pio_write,
	.reset = testdev_reset,
};

const struct device_ops testdev_mmio_ops = {
	.name = "testdev-mmio",
	.read = testdev_mmio_read,
	.write = testdev_mmio_write,
	.reset = testdev_reset,
};

struct testdev *testdev_create(void)
{
	struct testdev *t = calloc(1, sizeof(*t));

	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void testdev_destroy(struct testdev *t)
{
	free(t);
}
