/*
 * exits.c - a guest whose only job is to cause an exactly known number of VM exits.
 *
 * Concept: every port I/O instruction and every access to an address with no RAM behind it
 * (MMIO) leaves the guest; hv handles it and resumes the guest. This guest makes those exits
 * countable, so tests and the benchmark can compare hv's trace with arithmetic:
 *
 *   per loop:  4 x OUT  32-bit to port 0x500 (HV_PORT_TESTDEV)       4 IO exits
 *              3 x IN   32-bit from port 0x500                        3 IO exits
 *              2 x MOV  32-bit store to HV_MMIO_TESTDEV + 0 and + 4   2 MMIO exits
 *              1 x MOV  32-bit load from HV_MMIO_TESTDEV + 0          1 MMIO exit
 *   at the end: 1 x OUT 8-bit of 0 to port 0xF4 (HV_PORT_EXIT)        1 IO exit
 *
 *   With N = loops:  IO exits = 4N + 3N + 1 = 7N + 1,   MMIO exits = 2N + N = 3N,
 *   and hv's exit status is (0 << 1) | 1 = 1.  (N = 1000: IO 7001, MMIO 3000.)
 *
 * N comes from "loops=N" on the boot command line (struct hvm_start_info -> cmdline_paddr),
 * default 1 when absent, capped at 100000000. loops=0 is allowed: IO 1, MMIO 0.
 *
 * Nothing else may leave the guest: no UART output (printing would add exits), no other port,
 * no other MMIO address; the stack, .bss and the command line are ordinary RAM (no exits).
 * The test device is a latch (a 32-bit IN of 0x500 returns the last 32-bit value OUT to it;
 * an MMIO load returns the last value stored at that offset), so the guest checks every
 * read. On a mismatch it writes 1 to port 0xF4 (status 3) and stops: a wrong count is then
 * never mistaken for a right one.
 *
 * "exits.dev=pc-testdev" on the command line moves the latch to where QEMU's pc-testdev
 * (-device pc-testdev) has the same two latches: port 0xE0 and MMIO 0xFF000000. QEMU has
 * nothing at 0x500 (an IN reads 0xFFFFFFFF and the first check fails), so this is how the
 * benchmark makes QEMU handle the same 10 exits per loop as hv (bench/exitbench.c).
 *
 * Every access is a volatile pointer or an asm volatile statement, which the compiler may
 * neither merge, nor drop, nor reorder, so the machine code does exactly the list above.
 * Textbook: chapter 1 "The guests", section "exits: counting VM exits".
 */
#include <stdint.h>

#include "cmdline.h"
#include "layout.h"
#include "portio.h"

#define EXITS_LOOPS_DEFAULT 1u
#define EXITS_LOOPS_MAX     100000000u

/* QEMU's pc-testdev (hw/misc/pc-testdev.c): a 32-bit latch at port 0xE0 and a 64 KiB buffer
   of latches at 0xFF000000, both handled by QEMU in user space like hv's test device. */
#define QEMU_TESTDEV_PORT 0xE0u
#define QEMU_TESTDEV_MMIO 0xFF000000u

/* Where the latches are: hv's test device, or QEMU's pc-testdev (exits.dev=pc-testdev). */
struct latch_dev {
	uint16_t port;
	volatile uint32_t *mmio;
};

/* IN/OUT: portio.h, one instruction each; its "memory" clobber orders them against the
   MMIO accesses. */

/* Tell hv (or QEMU's isa-debug-exit) the result and stop. status 0 -> exit 1, 1 -> exit 3. */
static void __attribute__((noreturn)) exits_finish(uint8_t status)
{
	port_write8(HV_PORT_EXIT, status);
	for (;;) /* only reached if nobody listens on 0xF4: halt for good */
		__asm__ volatile("cli; hlt");
}

static uint32_t exits_loops(uint32_t start_info_paddr)
{
	uint32_t loops = EXITS_LOOPS_DEFAULT;

	/* Reading the start info and the command line is RAM access: no exits. */
	cmdline_get_uint(startinfo_cmdline(start_info_paddr), HV_CMDLINE_MAX, "loops",
			 EXITS_LOOPS_MAX, &loops);
	return loops;
}

static struct latch_dev exits_device(uint32_t start_info_paddr)
{
	const char *value;
	uint32_t len;
	struct latch_dev dev = { HV_PORT_TESTDEV, (volatile uint32_t *)HV_MMIO_TESTDEV };

	if (cmdline_get_nth(startinfo_cmdline(start_info_paddr), HV_CMDLINE_MAX, "exits.dev", 0,
			    &value, &len) &&
	    cmdline_value_is(value, len, "pc-testdev")) {
		dev.port = QEMU_TESTDEV_PORT;
		dev.mmio = (volatile uint32_t *)QEMU_TESTDEV_MMIO;
	}
	return dev;
}

/* One loop: exactly 4 OUT + 3 IN + 2 MMIO stores + 1 MMIO load. Values change every loop
   (base = 8 * i + 0x1000), so a device that ignores writes cannot pass by luck. */
static void exits_one_loop(const struct latch_dev *dev, uint32_t base)
{
	volatile uint32_t *const mmio = dev->mmio;
	const uint16_t port = dev->port;

	port_write32(port, base + 0);                /* OUT 1 (overwritten next: never read) */
	port_write32(port, base + 1);                /* OUT 2 */
	if (port_read32(port) != base + 1)           /* IN 1 */
		exits_finish(1);
	port_write32(port, base + 2);                /* OUT 3 */
	if (port_read32(port) != base + 2)           /* IN 2 */
		exits_finish(1);
	port_write32(port, base + 3);                /* OUT 4 */
	if (port_read32(port) != base + 3)           /* IN 3 */
		exits_finish(1);

	mmio[0] = base + 4;                          /* MMIO store 1, offset 0 */
	mmio[1] = base + 5;                          /* MMIO store 2, offset 4 */
	if (mmio[0] != base + 4)                     /* MMIO load, offset 0 */
		exits_finish(1);
}

void guest_main(uint32_t start_info_paddr);

void guest_main(uint32_t start_info_paddr)
{
	uint32_t loops = exits_loops(start_info_paddr);
	struct latch_dev dev = exits_device(start_info_paddr);

	for (uint32_t i = 0; i < loops; i++)
		exits_one_loop(&dev, 8u * i + 0x1000u);
	exits_finish(0);
}
