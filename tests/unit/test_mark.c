/*
 * test_mark.c - mark and count (viz/mark.c): the events, exits by device and time between a
 * marked event and the current one, as the bottom line shows them.
 *
 * What it proves: on the mini OS trace (tests/viz/traces/README.md) a mark on the first
 * write system call and the current event on its return count the 36 UART exits of its 18
 * characters, 2 per character (textbook chapter 6, "Mark and count"); moving the current event
 * step by step, forwards and back, gives the same counts as counting from scratch; the words
 * fit the width they are given and name the total even when no device fits.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mark.h"

static struct model m;

static void open_os(void)
{
	char path[] = "/tmp/mark-os-XXXXXX", cmd[256], err[256];
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(cmd, sizeof cmd, "xz -dc tests/viz/traces/os-ring3.hvt.xz > %s", path);
	cr_assert_eq(system(cmd), 0, "is xz installed?");
	cr_assert_eq(model_open(&m, path, 0, err, sizeof err), 0, "%s", err);
	unlink(path); /* the mapping keeps the data */
}

/* Records 1449 (syscall write, 18 bytes) and 1594 (its sysret): see test_sixstep.c. */
Test(mark, exits_per_character_of_one_write)
{
	open_os();
	struct mark_count c;
	mark_count(&m, 1449, 1594, &c);
	cr_assert_eq(c.hi - c.lo, 145);
	cr_assert_eq(c.exits, 36);
	cr_assert_eq(c.by_device[VIZ_DEV_UART], 36);
	cr_assert_gt(c.ns, 0);
	char line[200];
	mark_format(&c, 1449, 1594, line, sizeof line, 62);
	cr_assert_str_eq(line, "mark 1449 to 1594: 145 events, 36 exits (uart 36), 2.516 ms");
	/* too narrow for the device: the total and the time stay */
	mark_format(&c, 1449, 1594, line, sizeof line, 40);
	cr_assert_str_eq(line, "mark 1449 to 1594: 145 events, 36 exits, 2.516 ms");
	model_close(&m);
}

Test(mark, moving_matches_counting_from_scratch)
{
	open_os();
	struct mark_count moved, fresh;
	mark_count(&m, 1000, 1000, &moved);
	cr_assert_eq(moved.exits, 0);
	uint64_t stops[] = { 1001, 1300, 1594, 2500, 1200, 1000, 4812, 1449 };
	for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
		mark_move(&m, stops[i], &moved);
		mark_count(&m, 1000, stops[i], &fresh);
		cr_assert_eq(moved.exits, fresh.exits, "at %llu", (unsigned long long)stops[i]);
		cr_assert_eq(memcmp(moved.by_device, fresh.by_device, sizeof fresh.by_device), 0);
		cr_assert_eq(moved.ns, fresh.ns);
	}
	/* the whole trace: every exit (the Stats total) */
	mark_count(&m, 0, m.count - 1, &fresh);
	struct hvt_record first;
	model_get(&m, 0, &first);
	cr_assert_eq(fresh.exits, m.stats.by_kind[HVT_EXIT] - (first.kind == HVT_EXIT));
	model_close(&m);
}
