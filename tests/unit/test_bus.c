/*
 * test_bus.c - unit tests for the I/O bus (hv/bus.c), the chipset's address decoder.
 *
 * What these prove: ranges are claimed without overlap and without wrapping around 2^64;
 * an access reaches exactly the device that owns the address, with the offset relative to
 * that device; a read nobody claims floats high (all 0xFF); an access that runs past the
 * end of a device is refused before the device sees it (textbook appendix C, T2).
 * Textbook: chapter 3 "Exits", section "From exit to device".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "bus.h"

/* A device that records what reached it. Reads answer `fill` in every byte. */
struct fake {
	int reads, writes, resets;
	uint64_t last_off;
	uint32_t last_size;
	uint8_t last_data[8];
	uint8_t fill;
};

static void fake_read(void *dev, uint64_t off, uint8_t *data, uint32_t size)
{
	struct fake *f = dev;
	f->reads++;
	f->last_off = off;
	f->last_size = size;
	memset(data, f->fill, size);
}

static void fake_write(void *dev, uint64_t off, const uint8_t *data, uint32_t size)
{
	struct fake *f = dev;
	f->writes++;
	f->last_off = off;
	f->last_size = size;
	memcpy(f->last_data, data, size);
}

static void fake_reset(void *dev)
{
	((struct fake *)dev)->resets++;
}

static const struct device_ops fake_ops = { "fake", fake_read, fake_write, fake_reset };
static const struct device_ops fake_ops2 = { "fake2", fake_read, fake_write, fake_reset };

static struct bus bus;

static void setup(void)
{
	bus_init(&bus);
}

TestSuite(bus, .init = setup);

/* Register and return errno (0 on success), so each row of a table is one line. */
static int reg(enum bus_space s, uint64_t base, uint64_t len, void *dev)
{
	errno = 0;
	return bus_register(&bus, s, base, len, &fake_ops, dev) == 0 ? 0 : errno;
}

Test(bus, registered_ranges_are_found_at_first_and_last_byte_only)
{
	struct fake a = { 0 }, b = { 0 }, c = { 0 };
	/* Registered out of order on purpose: the bus keeps them sorted for the binary search. */
	cr_assert_eq(reg(BUS_PIO, 0x3F8, 8, &b), 0);
	cr_assert_eq(reg(BUS_PIO, 0xE9, 1, &a), 0);
	cr_assert_eq(reg(BUS_PIO, 0x500, 4, &c), 0);
	cr_assert_eq(bus.count[BUS_PIO], 3);
	cr_assert_eq(bus.ranges[BUS_PIO][0].base, 0xE9);
	cr_assert_eq(bus.ranges[BUS_PIO][1].base, 0x3F8);
	cr_assert_eq(bus.ranges[BUS_PIO][2].base, 0x500);

	cr_assert_eq(bus_find(&bus, BUS_PIO, 0xE9)->dev, &a);
	cr_assert_null(bus_find(&bus, BUS_PIO, 0xE8));
	cr_assert_null(bus_find(&bus, BUS_PIO, 0xEA));
	cr_assert_eq(bus_find(&bus, BUS_PIO, 0x3F8)->dev, &b);
	cr_assert_eq(bus_find(&bus, BUS_PIO, 0x3FF)->dev, &b); /* 0x3F8 + 8 - 1 */
	cr_assert_null(bus_find(&bus, BUS_PIO, 0x400));
	cr_assert_eq(bus_find(&bus, BUS_PIO, 0x503)->dev, &c);
	cr_assert_null(bus_find(&bus, BUS_PIO, 0x504));
	cr_assert_null(bus_find(&bus, BUS_PIO, 0));
	/* The two spaces are separate: port 0x3F8 says nothing about MMIO address 0x3F8. */
	cr_assert_null(bus_find(&bus, BUS_MMIO, 0x3F8));
}

Test(bus, overlap_rejected_exact_partial_containing_contained)
{
	struct fake a = { 0 };
	cr_assert_eq(reg(BUS_PIO, 0x100, 0x10, &a), 0); /* [0x100, 0x110) */
	cr_assert_eq(reg(BUS_PIO, 0x100, 0x10, &a), EEXIST); /* exact */
	cr_assert_eq(reg(BUS_PIO, 0x0F8, 0x10, &a), EEXIST); /* [0xF8,0x108): tail overlaps */
	cr_assert_eq(reg(BUS_PIO, 0x108, 0x10, &a), EEXIST); /* [0x108,0x118): head overlaps */
	cr_assert_eq(reg(BUS_PIO, 0x0F0, 0x40, &a), EEXIST); /* contains it */
	cr_assert_eq(reg(BUS_PIO, 0x104, 0x01, &a), EEXIST); /* contained in it */
	cr_assert_eq(reg(BUS_PIO, 0x10F, 0x01, &a), EEXIST); /* its last byte */
	cr_assert_eq(bus.count[BUS_PIO], 1);
}

Test(bus, adjacent_ranges_allowed_on_both_sides)
{
	struct fake a = { 0 }, b = { 0 }, c = { 0 };
	cr_assert_eq(reg(BUS_PIO, 0x100, 0x10, &a), 0);
	cr_assert_eq(reg(BUS_PIO, 0x110, 0x10, &b), 0); /* starts where a ends */
	cr_assert_eq(reg(BUS_PIO, 0x0F0, 0x10, &c), 0); /* ends where a starts */
	cr_assert_eq(bus_find(&bus, BUS_PIO, 0x10F)->dev, &a);
	cr_assert_eq(bus_find(&bus, BUS_PIO, 0x110)->dev, &b);
	cr_assert_eq(bus_find(&bus, BUS_PIO, 0x0FF)->dev, &c);
}

Test(bus, empty_and_wrapping_ranges_rejected)
{
	struct fake a = { 0 };
	cr_assert_eq(reg(BUS_MMIO, 0x1000, 0, &a), EINVAL);
	/* UINT64_MAX - 1 + 3 = 2^64 + 1: wraps to 1. */
	cr_assert_eq(reg(BUS_MMIO, UINT64_MAX - 1, 3, &a), EINVAL);
	/* base + len = 2^64 exactly is not representable either: rejected (bus.c's rule). */
	cr_assert_eq(reg(BUS_MMIO, UINT64_MAX, 1, &a), EINVAL);
	cr_assert_eq(reg(BUS_MMIO, 1, UINT64_MAX, &a), EINVAL);
	/* Ending at 2^64 - 1 is fine: [UINT64_MAX - 1, UINT64_MAX) . */
	cr_assert_eq(reg(BUS_MMIO, UINT64_MAX - 1, 1, &a), 0);
	cr_assert_eq(bus.count[BUS_MMIO], 1);
}

Test(bus, port_ranges_past_0xffff_rejected)
{
	struct fake a = { 0 };
	/* IN/OUT take a 16-bit port: the port space is [0, 0x10000). */
	cr_assert_eq(reg(BUS_PIO, 0xFFFC, 8, &a), EINVAL);
	cr_assert_eq(reg(BUS_PIO, 0x10000, 1, &a), EINVAL);
	cr_assert_eq(reg(BUS_PIO, 0xFFF8, 8, &a), 0); /* last 8 ports exactly */
	/* The same numbers are fine as memory addresses. */
	cr_assert_eq(reg(BUS_MMIO, 0x10000, 1, &a), 0);
}

Test(bus, bad_space_or_ops_rejected)
{
	struct fake a = { 0 };
	struct device_ops no_read = { "x", NULL, fake_write, NULL };
	errno = 0;
	cr_assert_eq(bus_register(&bus, (enum bus_space)2, 0, 1, &fake_ops, &a), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(bus_register(&bus, BUS_PIO, 0, 1, NULL, &a), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(bus_register(&bus, BUS_PIO, 0, 1, &no_read, &a), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(bus_find(&bus, (enum bus_space)2, 0));
}

Test(bus, full_bus_returns_enospc_after_BUS_MAX_RANGES)
{
	struct fake a = { 0 };
	for (int i = 0; i < BUS_MAX_RANGES; i++)
		cr_assert_eq(reg(BUS_MMIO, 0x1000u * (unsigned)i, 0x1000, &a), 0, "range %d", i);
	cr_assert_eq(reg(BUS_MMIO, 0x1000000, 1, &a), ENOSPC);
	cr_assert_eq(bus.count[BUS_MMIO], BUS_MAX_RANGES);
	/* Still sorted and searchable when full: the last page's last byte. */
	cr_assert_eq(bus_find(&bus, BUS_MMIO, 0x1000u * (BUS_MAX_RANGES - 1) + 0xFFF)->dev, &a);
}

Test(bus, dispatch_reaches_owner_with_offset_relative_to_its_base)
{
	struct fake a = { .fill = 0x11 }, b = { .fill = 0x22 };
	cr_assert_eq(reg(BUS_PIO, 0x3F8, 8, &a), 0);
	cr_assert_eq(reg(BUS_MMIO, 0xD0000000, 0x1000, &b), 0);

	uint8_t data[8] = { 0x41 };
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, 0x3FB, data, 1, true), BUS_OK);
	cr_assert_eq(a.writes, 1);
	cr_assert_eq(a.last_off, 3); /* 0x3FB - 0x3F8 */
	cr_assert_eq(a.last_size, 1);
	cr_assert_eq(a.last_data[0], 0x41);

	memset(data, 0, sizeof(data));
	cr_assert_eq(bus_dispatch(&bus, BUS_MMIO, 0xD0000FF8, data, 8, false), BUS_OK);
	cr_assert_eq(b.reads, 1);
	cr_assert_eq(b.last_off, 0xFF8);
	cr_assert_eq(b.last_size, 8);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(data[i], 0x22);
	cr_assert_eq(a.reads, 0);
	cr_assert_eq(b.writes, 0);
}

/* The summary's "exits by device": one count per exit, at any port of the device's range;
 * dispatching (a string I/O exit dispatches many times) counts nothing by itself. */
Test(bus, exits_are_counted_per_device_not_per_access)
{
	struct fake a = { 0 };
	cr_assert_eq(reg(BUS_PIO, 0x3F8, 8, &a), 0);
	uint8_t data[8] = { 0 };
	for (int i = 0; i < 256; i++) /* what one `rep outsb` exit with count 256 does */
		bus_dispatch(&bus, BUS_PIO, 0x3F8, data, 1, true);
	bus_count_exit(&bus, BUS_PIO, 0x3F8);
	bus_count_exit(&bus, BUS_PIO, 0x3FF);
	bus_count_exit(&bus, BUS_PIO, 0x2F8); /* unclaimed: nobody to count for */
	const struct bus_range *r = bus_find(&bus, BUS_PIO, 0x3F8);
	cr_assert_eq(r->hits, 2);
	cr_assert_eq(a.writes, 256);
}

Test(bus, unclaimed_read_is_all_ones_and_unclaimed_write_dropped)
{
	struct fake a = { 0 };
	cr_assert_eq(reg(BUS_PIO, 0x3F8, 8, &a), 0);
	uint8_t data[4] = { 0, 0, 0, 0 };
	/* An undriven ISA bus floats high: a 4-byte IN reads 0xFFFFFFFF. */
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, 0x2F8, data, 4, false), BUS_UNCLAIMED);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(data[i], 0xFF);
	uint8_t w = 0x41;
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, 0x2F8, &w, 1, true), BUS_UNCLAIMED);
	cr_assert_eq(w, 0x41); /* a write's data is never touched */
	cr_assert_eq(a.reads + a.writes, 0);
}

Test(bus, T2_access_running_past_device_end_refused)
{
	struct fake a = { .fill = 0x11 };
	cr_assert_eq(reg(BUS_PIO, 0x3F8, 8, &a), 0);
	uint8_t data[4] = { 0 };
	/* 2 bytes at 0x3FF: byte 0x400 is outside the device. */
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, 0x3FF, data, 2, false), BUS_BAD_SIZE);
	cr_assert_eq(data[0], 0xFF);
	cr_assert_eq(data[1], 0xFF);
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, 0x3FD, data, 4, true), BUS_BAD_SIZE);
	cr_assert_eq(a.reads + a.writes, 0);
	/* The last byte alone, and a 4-byte access ending exactly at the end, are fine. */
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, 0x3FF, data, 1, false), BUS_OK);
	cr_assert_eq(bus_dispatch(&bus, BUS_PIO, 0x3FC, data, 4, false), BUS_OK);
	cr_assert_eq(a.reads, 2);
}

Test(bus, T2_access_wrapping_past_2_pow_64_refused)
{
	struct fake a = { .fill = 0x33 };
	/* A device at the top of the address space: [2^64 - 8, 2^64 - 1), last byte UINT64_MAX - 1. */
	cr_assert_eq(reg(BUS_MMIO, UINT64_MAX - 7, 7, &a), 0);
	uint8_t data[8] = { 0 };
	/*
	 * 8 bytes at UINT64_MAX - 1: addr + size = 2^64 + 6 wraps to 6, so a naive
	 * "addr + size <= base + len" would let it through; the bus must refuse it.
	 */
	cr_assert_eq(bus_dispatch(&bus, BUS_MMIO, UINT64_MAX - 1, data, 8, false), BUS_BAD_SIZE);
	cr_assert_eq(data[0], 0xFF);
	cr_assert_eq(data[7], 0xFF);
	/* UINT64_MAX itself belongs to nobody. */
	cr_assert_eq(bus_dispatch(&bus, BUS_MMIO, UINT64_MAX, data, 1, false), BUS_UNCLAIMED);
	cr_assert_eq(a.reads, 0);
	cr_assert_eq(bus_dispatch(&bus, BUS_MMIO, UINT64_MAX - 7, data, 4, false), BUS_OK);
	cr_assert_eq(a.reads, 1);
}

Test(bus, size_other_than_1_2_4_8_refused)
{
	struct fake a = { 0 };
	cr_assert_eq(reg(BUS_MMIO, 0x1000, 0x1000, &a), 0);
	uint8_t data[16];
	uint32_t bad[] = { 0, 3, 5, 6, 7, 16 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(data, 0, sizeof(data));
		cr_assert_eq(bus_dispatch(&bus, BUS_MMIO, 0x1000, data, bad[i], false), BUS_BAD_SIZE,
			     "size %u", bad[i]);
		for (uint32_t j = 0; j < bad[i]; j++)
			cr_assert_eq(data[j], 0xFF);
	}
	cr_assert_eq(a.reads, 0);
}

Test(bus, reset_calls_each_device_once_even_with_two_windows)
{
	struct fake a = { 0 }, b = { 0 };
	struct device_ops no_reset = { "quiet", fake_read, fake_write, NULL };
	cr_assert_eq(reg(BUS_PIO, 0x500, 4, &a), 0);
	cr_assert_eq(reg(BUS_MMIO, 0xD0000000, 0x1000, &a), 0); /* same device, second window */
	cr_assert_eq(reg(BUS_PIO, 0x3F8, 8, &b), 0);
	cr_assert_eq(bus_register(&bus, BUS_PIO, 0x80, 1, &no_reset, &b), 0);
	/* Same dev with a different ops table (same reset function): still one device. */
	cr_assert_eq(bus_register(&bus, BUS_MMIO, 0xE0000000, 0x10, &fake_ops2, &b), 0);
	bus_reset(&bus);
	cr_assert_eq(a.resets, 1);
	cr_assert_eq(b.resets, 1);
}
