/*
 * bus.h - the I/O bus: who answers a port or an MMIO address.
 *
 * Concept: when the guest touches a device, the CPU leaves the guest (a VM exit) and KVM tells
 * hv only "an OUT of 1 byte to port 0x3F8, value 0x41". Something must decide which emulated
 * device owns port 0x3F8: that is the bus. A real PC has the same job done by address decoders
 * in the chipset. Devices register address ranges; one lookup finds the owner; one callback
 * lets the device act. Textbook: chapter 3 "Exits", section "From exit to device".
 */
#ifndef HV_BUS_H
#define HV_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* Two address spaces, as on x86: the 64 KiB port space (IN/OUT) and memory-mapped I/O. */
enum bus_space { BUS_PIO = 0, BUS_MMIO = 1 };

/*
 * Every device implements this small table. `offset` is relative to the start of the range the
 * device registered, so a device never needs to know where it was placed. `size` is 1, 2, 4 or
 * 8 bytes; `data` is little-endian, as the guest sees it. A read must fill all `size` bytes.
 */
struct device_ops {
	const char *name;
	void (*read)(void *dev, uint64_t offset, uint8_t *data, uint32_t size);
	void (*write)(void *dev, uint64_t offset, const uint8_t *data, uint32_t size);
	void (*reset)(void *dev); /* may be NULL */
};

/* One registered range. */
struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct device_ops *ops;
	void *dev;
	uint64_t hits; /* VM exits that reached the device (bus_count_exit), for the summary */
};

#define BUS_MAX_RANGES 32

struct bus {
	struct bus_range ranges[2][BUS_MAX_RANGES]; /* [space][i], sorted by base */
	int count[2];
};

/* What a dispatch found. */
enum bus_result { BUS_OK = 0, BUS_UNCLAIMED = 1, BUS_BAD_SIZE = 2 };

void bus_init(struct bus *bus);

/*
 * Claim [base, base + len) in `space` for `dev`. Returns 0, or -1 with errno set:
 * EINVAL for an empty or wrapping range, EEXIST if it overlaps a range already claimed,
 * ENOSPC if the bus is full.
 */
int bus_register(struct bus *bus, enum bus_space space, uint64_t base, uint64_t len,
		 const struct device_ops *ops, void *dev);

/* The device owning `addr`, or NULL. */
const struct bus_range *bus_find(const struct bus *bus, enum bus_space space, uint64_t addr);

/*
 * Deliver one access. A read nobody claims returns all ones (an undriven bus floats high on a
 * PC); a write nobody claims is dropped. Accesses that start inside a device but run past its
 * end, or have a size other than 1/2/4/8, are refused the same way (BUS_BAD_SIZE).
 */
enum bus_result bus_dispatch(struct bus *bus, enum bus_space space, uint64_t addr,
			     uint8_t *data, uint32_t size, bool is_write);

/* Count one VM exit for the device owning addr (nothing if unclaimed). */
void bus_count_exit(struct bus *bus, enum bus_space space, uint64_t addr);

/* Call every device's reset. */
void bus_reset(struct bus *bus);

#endif
