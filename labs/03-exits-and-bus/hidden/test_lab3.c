/*
 * test_lab3.c - lab 3's hidden tests (suite hidden3): the bus against a model, and the exits of
 * the exits guest address by address, with random parameters.
 *
 *   random_ranges_match_a_linear_model     random ranges registered in random order in both
 *                                          spaces: bus_register accepts exactly those that
 *                                          overlap nothing (EEXIST otherwise, ENOSPC when full);
 *                                          bus_find and bus_dispatch agree with a linear search
 *   exits_per_address_with_random_loops    the exits guest (guest/exits.c) with a random N:
 *                                          per port and address and direction the documented
 *                                          counts, none unclaimed, and the values each IN and
 *                                          MMIO load returned are in the records, in order
 *
 * The seed (getpid() ^ time) is printed in every failure message, so a failure can be replayed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../../tests/integration/harness.h"
#include "bus.h"
#include "layout.h"
#include "trace_read.h"

static unsigned seed_once(void)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	srand(seed);
	return seed;
}

/* Each model device answers its own index in every byte, and remembers the last offset. */
struct dev {
	int id;
	uint64_t last_off;
	int calls;
};

static void dev_read(void *d, uint64_t off, uint8_t *data, uint32_t size)
{
	struct dev *x = d;
	x->last_off = off;
	x->calls++;
	memset(data, x->id, size);
}

static void dev_write(void *d, uint64_t off, const uint8_t *data, uint32_t size)
{
	struct dev *x = d;
	(void)data;
	(void)size;
	x->last_off = off;
	x->calls++;
}

static const struct device_ops dev_ops = { "model", dev_read, dev_write, NULL };

struct model_range {
	uint64_t base, len;
	struct dev *dev;
};

Test(hidden3, random_ranges_match_a_linear_model)
{
	unsigned seed = seed_once();
	static struct bus bus;
	static struct dev devs[2][200];
	struct model_range model[2][BUS_MAX_RANGES];
	int nmodel[2] = { 0, 0 };
	bus_init(&bus);
	for (int sp = 0; sp < 2; sp++) {
		/* ports: [0, 0x1000); MMIO: near the top of the 64-bit space, to catch sums that wrap */
		uint64_t origin = sp == BUS_PIO ? 0 : UINT64_MAX - 0xFFF;
		for (int i = 0; i < 200; i++) {
			uint64_t off = (uint64_t)rand() % 0xFF0, len = 1 + (uint64_t)rand() % 0x60;
			if (off + len > 0xFFF)
				len = 0xFFF - off;
			uint64_t base = origin + off;
			devs[sp][i].id = 1 + i % 250;
			int want = 0;
			for (int k = 0; k < nmodel[sp]; k++)
				if (base < model[sp][k].base + model[sp][k].len &&
				    model[sp][k].base < base + len)
					want = EEXIST;
			if (!want && nmodel[sp] == BUS_MAX_RANGES)
				want = ENOSPC;
			errno = 0;
			int rc = bus_register(&bus, (enum bus_space)sp, base, len, &dev_ops, &devs[sp][i]);
			int got = rc == 0 ? 0 : errno;
			cr_assert_eq(got, want, "seed %u, space %d: [0x%llx, +0x%llx) gave errno %d, want %d",
				     seed, sp, (unsigned long long)base, (unsigned long long)len, got, want);
			if (!want)
				model[sp][nmodel[sp]++] = (struct model_range){ base, len, &devs[sp][i] };
		}
		cr_assert_eq(bus.count[sp], nmodel[sp], "seed %u", seed);
		for (int q = 0; q < 5000; q++) {
			uint64_t addr = origin + (uint64_t)rand() % 0x1000;
			const struct model_range *want = NULL;
			for (int k = 0; k < nmodel[sp]; k++)
				if (addr - model[sp][k].base < model[sp][k].len && addr >= model[sp][k].base)
					want = &model[sp][k];
			const struct bus_range *got = bus_find(&bus, (enum bus_space)sp, addr);
			cr_assert_eq(got ? got->dev : NULL, want ? (void *)want->dev : NULL,
				     "seed %u, space %d: bus_find(0x%llx)", seed, sp, (unsigned long long)addr);
			uint8_t data = 0;
			enum bus_result res = bus_dispatch(&bus, (enum bus_space)sp, addr, &data, 1, false);
			if (want) {
				cr_assert_eq(res, BUS_OK, "seed %u: dispatch at 0x%llx", seed,
					     (unsigned long long)addr);
				cr_assert_eq(data, want->dev->id);
				cr_assert_eq(want->dev->last_off, addr - want->base, "seed %u: offset at 0x%llx",
					     seed, (unsigned long long)addr);
			} else {
				cr_assert_eq(res, BUS_UNCLAIMED, "seed %u: dispatch at 0x%llx", seed,
					     (unsigned long long)addr);
				cr_assert_eq(data, 0xFF);
			}
		}
	}
}

Test(hidden3, exits_per_address_with_random_loops)
{
	require_kvm();
	unsigned seed = seed_once();
	unsigned n = 1 + (unsigned)rand() % 2000;
	char cmdline[32], what[64];
	snprintf(cmdline, sizeof(cmdline), "loops=%u", n);
	snprintf(what, sizeof(what), "seed %u, --cmdline loops=%u", seed, n);
	const char *t = tmp_path("exits.hvt");
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "60", "--trace", t, "--cmdline", cmdline,
				      guest("exits.bin"), NULL });
	cr_assert_eq(r.status, 1, "%s: status %d (want 1), stderr: %s", what, r.status, r.err);
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(t, &tf, err, sizeof(err)), 0, "%s: %s", what, err);
	uint64_t pio_out = 0, pio_in = 0, mw0 = 0, mw4 = 0, mr0 = 0, exit_out = 0, other = 0;
	uint64_t ins = 0, loads = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		if (e->kind != HVT_EXIT)
			continue;
		bool w = e->flags & HVT_F_WRITE;
		cr_assert(!(e->flags & HVT_F_UNCLAIMED), "%s: exit record %llu (addr 0x%llx) unclaimed",
			  what, (unsigned long long)i, (unsigned long long)e->addr);
		if (e->reason == HVT_R_IO && e->addr == HV_PORT_TESTDEV) {
			cr_assert_eq(e->size, 4, "%s: IO size", what);
			if (w) {
				pio_out++;
			} else {
				/* loop k's INs return 8k + 0x1001, 0x1002, 0x1003 */
				uint64_t want = 8 * (ins / 3) + 0x1000 + 1 + ins % 3;
				cr_assert_eq(e->data & 0xFFFFFFFF, want, "%s: IN %llu recorded 0x%llx, want 0x%llx",
					     what, (unsigned long long)ins, (unsigned long long)e->data,
					     (unsigned long long)want);
				ins++;
				pio_in++;
			}
		} else if (e->reason == HVT_R_IO && e->addr == HV_PORT_EXIT && w) {
			exit_out++;
		} else if (e->reason == HVT_R_MMIO && e->addr == HV_MMIO_TESTDEV && w) {
			mw0++;
		} else if (e->reason == HVT_R_MMIO && e->addr == HV_MMIO_TESTDEV + 4 && w) {
			mw4++;
		} else if (e->reason == HVT_R_MMIO && e->addr == HV_MMIO_TESTDEV) {
			uint64_t want = 8 * loads + 0x1000 + 4;
			cr_assert_eq(e->size, 4, "%s: MMIO size", what);
			cr_assert_eq(e->data & 0xFFFFFFFF, want, "%s: MMIO load %llu recorded 0x%llx, want 0x%llx",
				     what, (unsigned long long)loads, (unsigned long long)e->data,
				     (unsigned long long)want);
			loads++;
			mr0++;
		} else {
			other++;
		}
	}
	cr_assert_eq(pio_out, 4ull * n, "%s: OUT to 0x500", what);
	cr_assert_eq(pio_in, 3ull * n, "%s: IN from 0x500", what);
	cr_assert_eq(mw0, n, "%s: MMIO stores at the test page + 0", what);
	cr_assert_eq(mw4, n, "%s: MMIO stores at the test page + 4", what);
	cr_assert_eq(mr0, n, "%s: MMIO loads at the test page + 0", what);
	cr_assert_eq(exit_out, 1, "%s: OUT to the exit port", what);
	cr_assert_eq(other, 0, "%s: other exits", what);
	trace_free(&tf);
}
