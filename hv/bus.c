/*
 * bus.c - the chipset's address decoder, in software.
 *
 * Concept: on a real PC, when the CPU executes `out 0x3F8, al`, the chipset looks at the port
 * number, decides which chip is selected (the "chip select" of the serial controller) and
 * only that chip sees the write. Under KVM the access leaves the guest instead (a VM exit),
 * and hv must play the decoder: given (space, address, size), find the one device that owns
 * the address and hand it the access with an offset relative to the device's own base.
 * Textbook: chapter 3 "Exits", section "From exit to device".
 *
 * Two lessons live here besides the lookup itself:
 *   - An address nobody decodes reads as all ones. On an ISA or PCI bus nobody drives the
 *     data lines, the pull-ups win, and the CPU reads 0xFF...; guests rely on this to detect
 *     absent hardware (a missing UART reads LSR = 0xFF, and Linux gives up on it).
 *   - Range arithmetic is done so it cannot overflow. A range [base, base + len) with
 *     base + len > 2^64 is rejected outright, and every later test is written as
 *     "offset < len" or "size <= len - offset", which never forms a sum that could wrap
 *     (textbook appendix C, T2).
 */
#include "bus.h"

#include <errno.h>
#include <string.h>

/*
 * Why a sorted table: lookups happen at every I/O and MMIO exit, registrations only while the
 * machine is built (vm.c, irq.c, at the addresses of layout.h), and a guest cannot move a
 * device (there are no PCI BARs here). So the table is sorted once, at insertion, and each
 * lookup is a binary search over a dozen ranges. An array indexed by port would work for the
 * 64 Ki ports but not for a 2^64 MMIO space. KVM's own in-kernel bus (the one ioeventfd
 * registers on) is the same idea: a sorted array of ranges searched with bsearch.
 */
/* IN and OUT take a 16-bit port number: the port space ends at 0x10000. */
#define BUS_PIO_END 0x10000ull

void bus_init(struct bus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

static bool bus_space_valid(enum bus_space space)
{
	return space == BUS_PIO || space == BUS_MMIO;
}

/* [a, a + alen) and [b, b + blen) overlap iff each starts before the other ends. */
static bool bus_ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* Both ends are representable: bus_register refused any range ending past 2^64. */
	return a < b + blen && b < a + alen;
}

/* Empty, wrapping past 2^64, or (for ports) reaching past port 0xFFFF. */
static bool bus_range_valid(enum bus_space space, uint64_t base, uint64_t len)
{
	if (len == 0 || len > UINT64_MAX - base)
		return false;
	if (space == BUS_PIO && (base >= BUS_PIO_END || len > BUS_PIO_END - base))
		return false;
	return true;
}

int bus_register(struct bus *bus, enum bus_space space, uint64_t base, uint64_t len,
		 const struct device_ops *ops, void *dev)
{
	if (!bus_space_valid(space) || !ops || !ops->read || !ops->write ||
	    !bus_range_valid(space, base, len)) {
		errno = EINVAL;
		return -1;
	}
	struct bus_range *r = bus->ranges[space];
	int n = bus->count[space];

	/* Every error here is a bug in hv's machine layout, never the guest's doing: the guest
	 * cannot register anything. errno says which rule was broken. */
	/* Two devices answering the same address would both drive the bus: refuse. */
	for (int i = 0; i < n; i++) {
		if (bus_ranges_overlap(base, len, r[i].base, r[i].len)) {
			errno = EEXIST;
			return -1;
		}
	}
	if (n == BUS_MAX_RANGES) {
		errno = ENOSPC;
		return -1;
	}
	/* Insert in order of base, so bus_find can binary-search. */
	int pos = n;
	while (pos > 0 && r[pos - 1].base > base) {
		r[pos] = r[pos - 1];
		pos--;
	}
	r[pos] = (struct bus_range){ .base = base, .len = len, .ops = ops, .dev = dev };
	bus->count[space] = n + 1;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, enum bus_space space, uint64_t addr)
{
	if (!bus_space_valid(space))
		return NULL;
	const struct bus_range *r = bus->ranges[space];

	/*
	 * Binary search for the last range whose base is <= addr. Ranges never overlap, so it is
	 * the only candidate: addr belongs to it iff addr - base < len. Invariant of the loop:
	 * every range before lo has base <= addr, every range from hi on has base > addr.
	 */
	int lo = 0, hi = bus->count[space];
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (r[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct bus_range *cand = &r[lo - 1];
	return addr - cand->base < cand->len ? cand : NULL;
}

/* The data lines nobody drives: every byte reads as 0xFF. */
static void bus_float_high(uint8_t *data, uint32_t size, bool is_write)
{
	if (!is_write)
		memset(data, 0xFF, size);
}

static bool bus_size_valid(uint32_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

enum bus_result bus_dispatch(struct bus *bus, enum bus_space space, uint64_t addr,
			     uint8_t *data, uint32_t size, bool is_write)
{
	/*
	 * x86 accesses are 1, 2 or 4 bytes for IN/OUT and up to 8 for MMIO (KVM splits wider
	 * ones). Anything else is not an access a CPU makes: refuse it before looking up.
	 */
	if (!bus_size_valid(size)) {
		bus_float_high(data, size, is_write);
		return BUS_BAD_SIZE;
	}
	const struct bus_range *r = bus_find(bus, space, addr);
	if (!r) {
		bus_float_high(data, size, is_write);
		return BUS_UNCLAIMED;
	}
	/*
	 * The device sees only offsets inside its own range. An access that starts inside and
	 * runs past the end (a 4-byte IN at the last port of an 8-port UART) is refused as a
	 * whole: letting it through would have the device index past its register file.
	 * off < r->len holds (bus_find checked it), so r->len - off cannot underflow.
	 */
	uint64_t off = addr - r->base;
	if (size > r->len - off) {
		bus_float_high(data, size, is_write);
		return BUS_BAD_SIZE;
	}
	/*
	 * The device call happens on the thread that took the exit, while the vCPU waits in user
	 * space: a slow device handler is guest time lost (textbook ch03 "What an exit costs").
	 * When one exit carries several elements (run->io.count > 1, a `rep ins` for one),
	 * vcpu.c calls this once per element.
	 */
	if (is_write)
		r->ops->write(r->dev, off, data, size);
	else
		r->ops->read(r->dev, off, data, size);
	return BUS_OK;
}

/*
 * One VM exit reached the device at addr. Counted per exit, not per access: a `rep insw` of a
 * whole sector is one exit that carries 256 accesses (textbook ch 4, "Full virtualization").
 */
void bus_count_exit(struct bus *bus, enum bus_space space, uint64_t addr)
{
	/* bus_find's pointer is into bus->ranges, and the bus is not const here: dropping the
	 * const only restores what the caller gave us. */
	struct bus_range *r = (struct bus_range *)bus_find(bus, space, addr);
	if (r)
		r->hits++;
}

/* Has (reset, dev) already been called among ranges that come before (space, idx)? */
static bool bus_reset_seen(const struct bus *bus, int space, int idx)
{
	const struct bus_range *me = &bus->ranges[space][idx];

	for (int s = 0; s <= space; s++) {
		int end = s == space ? idx : bus->count[s];
		for (int i = 0; i < end; i++) {
			const struct bus_range *o = &bus->ranges[s][i];
			/* Same device and same reset function: the ATA controller's command and
			 * control windows (vm.c) share both, the test device's port and MMIO windows
			 * too. A quadratic scan, over at most 2 x 32 ranges, once per reset. */
			if (o->dev == me->dev && o->ops->reset == me->ops->reset)
				return true;
		}
	}
	return false;
}

void bus_reset(struct bus *bus)
{
	/*
	 * Like the RESET line of a real board: every chip returns to its power-on state. A device
	 * may own several windows (the test device has ports and an MMIO page); it is reset once.
	 */
	for (int s = BUS_PIO; s <= BUS_MMIO; s++) {
		for (int i = 0; i < bus->count[s]; i++) {
			const struct bus_range *r = &bus->ranges[s][i];
			if (r->ops->reset && !bus_reset_seen(bus, s, i))
				r->ops->reset(r->dev);
		}
	}
}
