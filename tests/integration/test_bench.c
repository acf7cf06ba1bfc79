/*
 * test_bench.c - the benchmark measures what it says it measures (bench/exitbench.c).
 *
 * A benchmark never passes or fails on a number, but what it ran can be checked: its
 * "traced" column must come from a run that wrote every event to the trace, or the
 * traced/raw ratio measures counting, not tracing (it once did: no --trace-limit was set,
 * which the writer read as room for one record). Here exitbench runs a few loops, keeps its
 * trace, and hv's own trace reader counts the exit records in it. Textbook: chapter 3,
 * "What an exit costs", and appendix A (the trace format).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "trace_read.h"

#define BENCH_LOOPS 50 /* exits guest: 10 exits per loop + 1 (guest/exits.c) */

static const char *exitbench(void)
{
	const char *p = getenv("EXITBENCH");
	cr_assert(p && *p, "EXITBENCH is not set (make integration sets it)");
	return p;
}

/* The exits column of the row named `loop` in exitbench's table ("  traced  501 ..."). */
static long table_exits(const char *out, const char *loop)
{
	char key[32];
	snprintf(key, sizeof key, "\n  %-8s ", loop);
	const char *row = strstr(out, key);
	cr_assert(row, "no %s row in: %s", loop, out);
	return strtol(row + strlen(key), NULL, 10);
}

static uint64_t exit_records(const char *path, uint64_t *dropped)
{
	struct trace_file tf;
	char err[256];
	cr_assert_eq(trace_load(path, &tf, err, sizeof err), 0, "%s: %s", path, err);
	uint64_t n = 0;
	for (uint64_t i = 0; i < tf.count; i++)
		n += tf.records[i].kind == HVT_EXIT;
	*dropped = tf.header.dropped;
	trace_free(&tf);
	return n;
}

Test(bench, traced_run_writes_one_exit_record_per_exit)
{
	require_kvm();
	const char *trace = tmp_path("bench.hvt");
	char loops[16];
	snprintf(loops, sizeof loops, "%d", BENCH_LOOPS);
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ exitbench(), "--no-anchors", "--keep-trace", trace,
				       guest("exits.bin"), loops, NULL });
	cr_assert_eq(r.status, 0, "stdout: %s\nstderr: %s", r.out, r.err);
	cr_assert(!strstr(r.err, "were not recorded"), "%s", r.err);

	long counted = table_exits(r.out, "traced");
	cr_assert_eq(counted, 10 * BENCH_LOOPS + 1, "%s", r.out);
	uint64_t dropped;
	cr_assert_eq(exit_records(trace, &dropped), (uint64_t)counted, "%s", r.out);
	cr_assert_eq(dropped, 0);
}

/* The output says where it was measured, before any number. */
Test(bench, output_names_the_host_first)
{
	require_kvm();
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ exitbench(), "--no-anchors", guest("exits.bin"), "2", NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(!strncmp(r.out, "exitbench: host: ", 17), "%s", r.out);
}

/* Each anchor gives its numbers or one line saying why not, never a crash: here with a PATH
 * where no QEMU can be found, so both anchors must say "not measured" for qemu. */
Test(bench, anchors_without_qemu_say_not_measured)
{
	require_kvm();
	struct hv_result r;
	const char *hv = getenv("HV");
	cr_assert(hv && *hv);
	cmd_exec(&r, (const char *[]){ "env", "PATH=/nonexistent", exitbench(), "--hv", hv,
				       guest("exits.bin"), "3", NULL });
	cr_assert_eq(r.status, 0, "%s %s", r.out, r.err);
	const char *a1 = strstr(r.out, "anchor 1:"), *a2 = strstr(r.out, "anchor 2:");
	cr_assert(a1 && a2, "%s", r.out);
	cr_assert(strstr(a1, "qemu   not measured: "), "%s", r.out);
	cr_assert(strstr(a2, "qemu   not measured: "), "%s", r.out);
	cr_assert(!strstr(r.out, "hv/qemu"), "%s", r.out);
}
