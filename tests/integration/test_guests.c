/*
 * test_guests.c - every chapter-1 guest under KVM: output, exit status, exact exit counts.
 *
 * These run the real build/hv on the real /dev/kvm. Where /dev/kvm is not usable each test is
 * reported as skipped with the reason (Criterion prints it), never silently passed.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <stdlib.h>

#include "harness.h"
#include "hostinfo.h"
#include "layout.h"
#include "trace_read.h"

/* ---- chapter 1: hello in each mode ---- */

/* Run one guest; it must print exactly `want` through its UART driver and halt (status 0). */
static void assert_guest_prints(const char *file, const char *want)
{
	require_kvm();
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "20", guest(file), NULL });
	cr_assert_str_eq(r.out, want, "%s: stderr: %s", file, r.err);
	cr_assert_eq(r.status, HV_EXIT_OK, "%s: status %d, stderr: %s", file, r.status, r.err);
}

Test(guests, hello16_prints_from_real_mode)
{
	assert_guest_prints("hello16.bin", "Hello from real mode\n");
}

Test(guests, hello32_prints_from_protected_mode)
{
	assert_guest_prints("hello32.bin", "Hello from protected mode\n");
}

Test(guests, hello64_prints_from_long_mode)
{
	assert_guest_prints("hello64.bin", "Hello from long mode\n");
}

/* The ELF files boot too: ELF32 with the PVH note in protected mode, ELF64 in long mode. */
Test(guests, elf_guests_start_in_the_mode_of_their_class)
{
	assert_guest_prints("hello32.elf", "Hello from protected mode\n");
	assert_guest_prints("hello64.elf", "Hello from long mode\n");
}

/* --mode overrides the boot header: hello16 started in long mode runs its 16-bit code as
 * 64-bit instructions, prints nothing and dies; the CPU state at its exit says long mode. */
Test(guests, mode_option_overrides_the_boot_header)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("mode.hvt");
	hv_exec(&r, (const char *[]){ "run", "--timeout", "20", "--mode", "long", "--trace", t,
				      guest("hello16.bin"), NULL });
	cr_assert_str_eq(r.out, "");
	cr_assert_neq(r.status, HV_EXIT_OK);
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(t, &tf, err, sizeof(err)), 0, "%s", err);
	/* The entry carries the state hv gave the vCPU (read back from KVM). The exit's own state
	 * would do on Intel, but on AMD-V KVM resets the vCPU after a shutdown (diag.c). */
	cr_assert_eq(tf.records[1].kind, HVT_ENTRY);
	cr_assert_eq(tf.records[1].mode, HVT_MODE_LONG);
	cr_assert_eq(tf.records[2].kind, HVT_EXIT);
	trace_free(&tf);
}

/* ---- the trace of a run ---- */

static void load(const char *path, struct trace_file *tf)
{
	char err[512];
	cr_assert_eq(trace_load(path, tf, err, sizeof(err)), 0, "%s", err);
}

/*
 * modeswitch climbs real -> protected -> long by itself. Every exit it causes is a UART
 * access, so the modes of the exit records must run through exactly those three, in order.
 */
Test(guests, modeswitch_trace_shows_the_mode_changing)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("ms.hvt");
	hv_exec(&r, (const char *[]){ "run", "--timeout", "30", "--trace", t,
				      guest("modeswitch.bin"), NULL });
	cr_assert_str_eq(r.out, "modeswitch: real mode\nmodeswitch: protected mode\n"
				"modeswitch: long mode\n", "stderr: %s", r.err);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);

	struct trace_file tf;
	load(t, &tf);
	uint8_t seen[8] = { 0 };
	int n = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		if (e->kind != HVT_EXIT)
			continue;
		if (n == 0 || seen[n - 1] != e->mode) {
			cr_assert_lt(n, 8, "too many mode changes");
			seen[n++] = e->mode;
		}
	}
	cr_assert_eq(n, 3, "modes seen: %d", n);
	cr_assert_eq(seen[0], HVT_MODE_REAL);
	cr_assert_eq(seen[1], HVT_MODE_PROT32);
	cr_assert_eq(seen[2], HVT_MODE_LONG);
	trace_free(&tf);
}

/* Count exit records matching reason, address and direction. */
static uint64_t count_exits(const struct trace_file *tf, int reason, uint64_t addr, int write)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *e = &tf->records[i];
		n += e->kind == HVT_EXIT && e->reason == reason && e->addr == addr &&
		     !!(e->flags & HVT_F_WRITE) == write;
	}
	return n;
}

static uint64_t count_kind(const struct trace_file *tf, int kind)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < tf->count; i++)
		n += tf->records[i].kind == kind;
	return n;
}

/*
 * The exits guest documents (guest/exits.c): per loop 4 OUT + 3 IN on port 0x500, 2 MMIO
 * writes + 1 MMIO read on the test page, then one OUT to 0xF4 with value 0, so hv exits with
 * (0 << 1) | 1 = 1. With loops=25: 100 OUT, 75 IN, 50 MMIO writes, 25 MMIO reads, 1 exit OUT,
 * 251 exits in all. Each exit hv handles comes with three host-side transitions.
 */
Test(guests, exits_guest_causes_exactly_the_documented_exits)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("exits.hvt");
	hv_exec(&r, (const char *[]){ "run", "--timeout", "60", "--trace", t, "--cmdline",
				      "loops=25", guest("exits.bin"), NULL });
	cr_assert_eq(r.status, 1, "status %d, stderr: %s", r.status, r.err);

	struct trace_file tf;
	load(t, &tf);
	cr_assert_eq(count_exits(&tf, HVT_R_IO, HV_PORT_TESTDEV, 1), 100);
	cr_assert_eq(count_exits(&tf, HVT_R_IO, HV_PORT_TESTDEV, 0), 75);
	cr_assert_eq(count_exits(&tf, HVT_R_MMIO, HV_MMIO_TESTDEV + 0, 1), 25);
	cr_assert_eq(count_exits(&tf, HVT_R_MMIO, HV_MMIO_TESTDEV + 4, 1), 25);
	cr_assert_eq(count_exits(&tf, HVT_R_MMIO, HV_MMIO_TESTDEV + 0, 0), 25);
	cr_assert_eq(count_exits(&tf, HVT_R_IO, HV_PORT_EXIT, 1), 1);
	cr_assert_eq(count_kind(&tf, HVT_EXIT), 251);
	/* one RUN_RETURN per exit; RUN_CALL and ENTRY before each entry: the first and one
	 * after every exit except the last */
	cr_assert_eq(count_kind(&tf, HVT_RUN_RETURN), 251);
	cr_assert_eq(count_kind(&tf, HVT_RUN_CALL), 251);
	cr_assert_eq(count_kind(&tf, HVT_ENTRY), 251);
	/* Where the kernel has binary stats (KVM_CAP_BINARY_STATS_FD), KVM's own "exits"
	 * counter is recorded, and it counts at least every exit hv saw. */
	struct host_info hi;
	hostinfo_probe(&hi);
	if (hi.cap_binary_stats_fd) {
		const struct hvt_record *c = NULL;
		for (uint64_t i = 0; i < tf.count; i++)
			if (tf.records[i].kind == HVT_COUNTER && tf.records[i].addr == HVT_C_EXITS)
				c = &tf.records[i];
		cr_assert_not_null(c, "no 'exits' counter in the trace");
		cr_assert_geq(c->data, 251);
	}
	/* and in this order: run-call, entry, then per exit: exit, run-return (run-call, entry
	 * unless it was the last); the transitions carry the rip of the exit they follow */
	cr_assert_eq(tf.records[0].kind, HVT_RUN_CALL);
	cr_assert_eq(tf.records[1].kind, HVT_ENTRY);
	for (uint64_t i = 2; i + 1 < tf.count && tf.records[i].kind != HVT_COUNTER; i += 4) {
		const struct hvt_record *e = &tf.records[i];
		cr_assert_eq(e->kind, HVT_EXIT, "record %llu", (unsigned long long)i);
		cr_assert_eq(e[1].kind, HVT_RUN_RETURN);
		cr_assert_eq(e[1].rip, e->rip);
		cr_assert_eq(e[1].mode, HVT_MODE_PROT32);
		cr_assert_leq(e->time_ns, e[1].time_ns);
		if (e[2].kind == HVT_COUNTER)
			break;
		cr_assert_eq(e[2].kind, HVT_RUN_CALL);
		cr_assert_eq(e[3].kind, HVT_ENTRY);
		cr_assert_leq(e[1].time_ns, e[2].time_ns);
	}
	trace_free(&tf);
}

/* The loop count changes the numbers exactly as documented (no hidden exits). */
Test(guests, exits_guest_scales_with_loops)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("exits3.hvt");
	hv_exec(&r, (const char *[]){ "run", "--timeout", "60", "--trace", t, "--cmdline",
				      "loops=3", guest("exits.bin"), NULL });
	cr_assert_eq(r.status, 1, "stderr: %s", r.err);
	struct trace_file tf;
	load(t, &tf);
	cr_assert_eq(count_kind(&tf, HVT_EXIT), 7 * 3 + 1 + 3 * 3);
	trace_free(&tf);
}

/* The count column of the stats row that starts with `prefix` (columns split by spaces). */
static long stats_row_count(const char *out, const char *prefix)
{
	for (const char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		while (*line == ' ')
			line++;
		size_t n = strlen(prefix);
		if (strncmp(line, prefix, n) == 0 && line[n] == ' ')
			return strtol(line + n, NULL, 10);
	}
	return -1;
}

/* `hv trace stats` shows the same numbers, grouped like perf kvm stat. 10 loops:
 * io = 40 OUT + 30 IN + 1 exit OUT = 71, mmio = 20 writes + 10 reads = 30, total 101. */
Test(guests, trace_stats_reports_counts_by_reason_and_port)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("stats.hvt");
	hv_exec(&r, (const char *[]){ "run", "--timeout", "60", "--trace", t, "--cmdline",
				      "loops=10", guest("exits.bin"), NULL });
	cr_assert_eq(r.status, 1, "stderr: %s", r.err);
	hv_exec(&r, (const char *[]){ "trace", "stats", t, NULL });
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_eq(stats_row_count(r.out, "io"), 71, "%s", r.out);
	cr_assert_eq(stats_row_count(r.out, "mmio"), 30, "%s", r.out);
	cr_assert_eq(stats_row_count(r.out, "total"), 101, "%s", r.out);
	/* by port/address: "io   0x0500     out   40 ..." */
	cr_assert(strstr(r.out, "io   0x0500     out          40 "), "%s", r.out);
	cr_assert(strstr(r.out, "io   0x0500     in           30 "), "%s", r.out);
}

Test(guests, trace_dump_prints_one_line_per_event)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("dump.hvt");
	hv_exec(&r, (const char *[]){ "run", "--timeout", "20", "--trace", t,
				      guest("hello16.bin"), NULL });
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	struct trace_file tf;
	load(t, &tf);
	hv_exec(&r, (const char *[]){ "trace", "dump", t, NULL });
	cr_assert_eq(r.status, 0);
	cr_assert_eq(count_lines(r.out), (int)tf.count);
	hv_exec(&r, (const char *[]){ "trace", "dump", "--json", t, NULL });
	cr_assert_eq(r.status, 0);
	cr_assert_eq(count_lines(r.out), (int)tf.count);
	cr_assert_eq(r.out[0], '{');
	trace_free(&tf);
}

/* ---- how runs end ---- */

/*
 * A hand-made 32-bit program (hvlab boot header, mode 32) that executes ud2. hv loads an
 * IDT with limit 0, so vector 6 is beyond the limit (#GP), so is #GP (double fault), and so
 * is #DF: a triple fault, KVM_EXIT_SHUTDOWN (SDM vol. 3A 6.15).
 */
Test(guests, triple_fault_reports_and_exits_with_shutdown_status)
{
	require_kvm();
	static const unsigned char prog[] = {
		0xEB, 0x0E, 'H', 'V', 'L', 'B', 32, 1, 0, 0, 0, 0, 0, 0, 0, 0, /* boot header */
		0x0F, 0x0B,                                                      /* ud2 */
	};
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "20", write_tmp("tf.bin", prog, sizeof(prog)),
				      NULL });
	cr_assert_eq(r.status, HV_EXIT_SHUTDOWN, "status %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "triple fault"), "%s", r.err);
	/* Intel (and PVM): the registers at the fault, the ud2 at 1 MiB + 16. AMD-V: KVM resets
	 * the vCPU after a shutdown (CS:IP F000:FFF0), and hv says so and names where the guest
	 * was last seen: its start, the boot header's jmp at 1 MiB, two bytes before the ud2. */
	if (strstr(r.err, "rip 0xfff0")) {
		cr_assert(strstr(r.err, "on AMD-V, KVM re-initializes the vCPU"), "%s", r.err);
		cr_assert(strstr(r.err, "last seen in protected mode (32-bit) at rip 0x100000"), "%s", r.err);
	} else {
		cr_assert(strstr(r.err, "protected mode (32-bit)"), "%s", r.err);
		cr_assert(strstr(r.err, "rip 0x100010"), "the faulting ud2 is at 1 MiB + 16: %s", r.err);
	}
}

/* sti; hlt: waiting for an interrupt that no device of this machine will ever raise. */
Test(guests, hlt_with_interrupts_enabled_stops_instead_of_hanging)
{
	require_kvm();
	static const unsigned char prog[] = { 0xFB, 0xF4 };
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "20", write_tmp("sti.bin", prog, 2), NULL });
	cr_assert_eq(r.status, HV_EXIT_GUEST_ERROR, "status %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "interrupts enabled"), "%s", r.err);
}

/* jmp $: a guest that never exits is stopped by --timeout, with its own status. */
Test(guests, timeout_stops_a_spinning_guest)
{
	require_kvm();
	static const unsigned char prog[] = { 0xEB, 0xFE };
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "1", write_tmp("spin.bin", prog, 2), NULL });
	cr_assert_eq(r.status, HV_EXIT_TIMEOUT, "status %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "timeout"), "%s", r.err);
}

/* Writing V to port 0xF4 ends the run with (V << 1) | 1, as QEMU's isa-debug-exit does:
 * mov al, 0x15; out 0xF4, al  ->  status 0x2B = 43. */
Test(guests, exit_device_status_follows_isa_debug_exit)
{
	require_kvm();
	static const unsigned char prog[] = { 0xB0, 0x15, 0xE6, 0xF4, 0xF4 };
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "20", write_tmp("x.bin", prog, 5), NULL });
	cr_assert_eq(r.status, (0x15 << 1) | 1, "status %d, stderr: %s", r.status, r.err);
}

/* Ctrl-C (SIGINT) stops a running guest cleanly: status 16, and the trace on disk is whole
 * (it loads, and its last exit record is the interruption). The shell sends the signal half a
 * second after the start; the guest spins forever, so it is surely running by then. */
Test(guests, ctrl_c_stops_cleanly_and_keeps_the_trace)
{
	require_kvm();
	static const unsigned char prog[] = { 0xEB, 0xFE }; /* jmp $ */
	const char *bin = write_tmp("spin2.bin", prog, 2);
	const char *t = tmp_path("int.hvt");
	char script[2048];
	snprintf(script, sizeof(script),
		 "\"$HV\" run --trace '%s' '%s' & pid=$!; sleep 0.5; kill -INT $pid; wait $pid", t, bin);
	struct hv_result r;
	setenv("HV", getenv("HV") ? getenv("HV") : "build/hv", 0);
	cmd_exec(&r, (const char *[]){ "sh", "-c", script, NULL });
	cr_assert_eq(r.status, HV_EXIT_INTERRUPTED, "status %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "interrupted"), "%s", r.err);
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(t, &tf, err, sizeof(err)), 0, "%s", err);
	const struct hvt_record *last_exit = NULL;
	for (uint64_t i = 0; i < tf.count; i++)
		if (tf.records[i].kind == HVT_EXIT)
			last_exit = &tf.records[i];
	cr_assert_not_null(last_exit);
	cr_assert_eq(last_exit->reason, HVT_R_INTR);
	trace_free(&tf);
}

/* A closed terminal (SIGHUP: the window or the ssh session went away) ends the run like
 * Ctrl-C: status 16 and a whole trace, instead of the default action killing hv with the
 * trace's last buffer unwritten. */
Test(guests, hangup_stops_cleanly_and_keeps_the_trace)
{
	require_kvm();
	static const unsigned char prog[] = { 0xEB, 0xFE }; /* jmp $ */
	const char *bin = write_tmp("spin3.bin", prog, 2);
	const char *t = tmp_path("hup.hvt");
	char script[2048];
	snprintf(script, sizeof(script),
		 "\"$HV\" run --trace '%s' '%s' & pid=$!; sleep 0.5; kill -HUP $pid; wait $pid", t, bin);
	struct hv_result r;
	setenv("HV", getenv("HV") ? getenv("HV") : "build/hv", 0);
	cmd_exec(&r, (const char *[]){ "sh", "-c", script, NULL });
	cr_assert_eq(r.status, HV_EXIT_INTERRUPTED, "status %d, stderr: %s", r.status, r.err);
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(t, &tf, err, sizeof(err)), 0, "%s", err);
	cr_assert_gt(tf.count, 0);
	trace_free(&tf);
}

/* ---- the price of a byte (textbook chapter 3, section "Full virtualization") ---- */

/*
 * hello16 on hv's 16550A: uart_init programs the chip with 7 OUTs (IER, LCR = DLAB, DLL, DLM,
 * LCR = 8N1, FCR, MCR: 0x3F9, 0x3FB, 0x3F8, 0x3F9, 0x3FB, 0x3FA, 0x3FC), then every byte costs
 * 2 exits: 1 IN of LSR (0x3FD), which must say THRE at once, and 1 OUT of the byte to THR
 * (0x3F8). "Hello from real mode\n" is 21 bytes: 7 + 2 x 21 = 49 UART exits, and the OUTs to
 * 0x3F8 after the divisor carry the bytes of the output in order. A UART that made the driver
 * wait (LSR without THRE) would show more INs than bytes.
 */
Test(guests, hello16_costs_two_uart_exits_per_byte)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("h16.hvt");
	hv_exec(&r, (const char *[]){ "run", "--timeout", "20", "--trace", t, guest("hello16.bin"), NULL });
	cr_assert_eq(r.status, HV_EXIT_OK, "status %d, stderr: %s", r.status, r.err);
	const char *want = "Hello from real mode\n";
	size_t n = strlen(want);
	cr_assert_str_eq(r.out, want);
	struct trace_file tf;
	load(t, &tf);
	uint64_t uart = 0, lsr = 0, thr = 0;
	char sent[64];
	int dlab = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		if (e->kind != HVT_EXIT || e->reason != HVT_R_IO || e->addr < HV_PORT_UART0 ||
		    e->addr >= HV_PORT_UART0 + 8)
			continue;
		uart++;
		int write = !!(e->flags & HVT_F_WRITE);
		if (e->addr == HV_PORT_UART0 + 3 && write)
			dlab = !!(e->data & 0x80);
		if (e->addr == HV_PORT_UART0 + 5 && !write) {
			cr_assert_eq(e->data & 0x60, 0x60, "LSR read %lu: 0x%02lx, THRE|TEMT expected",
				     (unsigned long)lsr, (unsigned long)e->data);
			lsr++;
		}
		if (e->addr == HV_PORT_UART0 && write && !dlab && thr < sizeof(sent))
			sent[thr++] = (char)e->data;
	}
	cr_assert_eq(uart, 7 + 2 * n, "%lu UART exits for %zu bytes", (unsigned long)uart, n);
	cr_assert_eq(lsr, n, "one LSR read per byte");
	cr_assert_eq(thr, n, "one THR write per byte");
	cr_assert_arr_eq(sent, want, n, "the THR writes are the bytes printed");
	trace_free(&tf);
}

/* ---- the example of appendix A, section A.12 ---- */

/*
 * The 63-byte 32-bit program of appendix A.12, byte for byte as the appendix prints it: 2 OUTs
 * to the UART ('h', 'i'), 1 IN of its line status, `rep outsb` of "hello" to the debug console,
 * 2 stores to the test MMIO device, 1 load from an address no device owns, hlt. The counts the
 * appendix shows must hold on every host: 12 exits (8 io, 3 mmio, 1 hlt), and the REP OUTSB is
 * 5 exits of one byte each (KVM emulates OUTS one element per exit, never batched), all with
 * rip on the instruction. The stats table by port is printed exactly as the appendix shows it.
 */
Test(guests, appendix_a12_example)
{
	require_kvm();
	static const unsigned char prog[] = {
		0xb0, 0x68, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xb0, 0x69, 0xee, 0x66, 0xba, 0xfd,
		0x03, 0xec, 0xbe, 0x3a, 0x00, 0x10, 0x00, 0xb9, 0x05, 0x00, 0x00, 0x00, 0x66,
		0xba, 0xe9, 0x00, 0xfc, 0xf3, 0x6e, 0xc7, 0x05, 0x00, 0x00, 0x00, 0xd0, 0x01,
		0x00, 0x00, 0x00, 0xc7, 0x05, 0x00, 0x00, 0x00, 0xd0, 0x02, 0x00, 0x00, 0x00,
		0xa1, 0x00, 0x20, 0x00, 0xd0, 0xf4, 'h', 'e', 'l', 'l', 'o',
	};
	cr_assert_eq(sizeof(prog), 63);
	struct hv_result r;
	const char *t = tmp_path("hello.hvt");
	hv_exec(&r, (const char *[]){ "run", "--timeout", "20", "--mode", "protected", "--trace", t,
				      write_tmp("hello.bin", prog, sizeof(prog)), NULL });
	cr_assert_eq(r.status, HV_EXIT_OK, "status %d, stderr: %s", r.status, r.err);
	cr_assert_str_eq(r.out, "hihello");
	cr_assert(strstr(r.err, "hv: summary: 12 exits: io 8, mmio 3, hlt 1\n"), "%s", r.err);
	cr_assert(strstr(r.err, "exits by device: debugcon 5, uart16550a 3, testdev-mmio 2\n"), "%s",
		  r.err);

	struct trace_file tf;
	load(t, &tf);
	cr_assert_eq(count_kind(&tf, HVT_EXIT), 12);
	/* Every exit brings run-call, entry and run-return; the rest are KVM's counters. */
	cr_assert_eq(tf.count, 4 * 12 + count_kind(&tf, HVT_COUNTER));
	cr_assert_eq(count_exits(&tf, HVT_R_IO, HV_PORT_UART0, 1), 2);
	/* Record 2, the first exit: the OUT at 0x100006. KVM's emulator (PVM) has finished it and
	 * rip is past it; on VT-x and AMD-V KVM returns with rip still on the OUT and skips it at
	 * the next KVM_RUN (appendix A, section A.3). */
	struct host_info hi;
	hostinfo_probe(&hi);
	cr_assert_eq(tf.records[2].kind, HVT_EXIT);
	cr_assert_eq(tf.records[2].addr, HV_PORT_UART0);
	cr_assert_eq(tf.records[2].rip, hi.kind == HVT_HOST_PVM ? 0x100007u : 0x100006u,
		     "host kind %d: rip 0x%lx", (int)hi.kind, (unsigned long)tf.records[2].rip);
	cr_assert_eq(count_exits(&tf, HVT_R_IO, HV_PORT_UART0 + 5, 0), 1);
	cr_assert_eq(count_exits(&tf, HVT_R_MMIO, HV_MMIO_TESTDEV, 1), 2);
	cr_assert_eq(count_exits(&tf, HVT_R_MMIO, HV_MMIO_TESTDEV + 0x2000, 0), 1);
	char sent[8] = { 0 };
	int n = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		if (e->kind == HVT_EXIT && e->reason == HVT_R_MMIO && !(e->flags & HVT_F_WRITE))
			cr_assert(e->flags & HVT_F_UNCLAIMED, "the load at 0xd0002000 has no device");
		if (e->kind != HVT_EXIT || e->reason != HVT_R_IO || e->addr != HV_PORT_DEBUGCON)
			continue;
		cr_assert_eq(e->count, 1, "rep outsb: one element per exit, got %u", e->count);
		cr_assert_eq(e->flags & HVT_F_STRING, 0);
		cr_assert_eq(e->rip, 0x10001e, "rip stays on the rep outsb: 0x%lx", (unsigned long)e->rip);
		if (n < 5)
			sent[n] = (char)e->data;
		n++;
	}
	cr_assert_eq(n, 5, "5 bytes of rep outsb: %d exits", n);
	cr_assert_str_eq(sent, "hello");
	/* The appendix's 59 events: 48 plus the 11 counters KVM's binary stats give hv. */
	char events[32];
	snprintf(events, sizeof events, "events: %lu\n", (unsigned long)tf.count);
	trace_free(&tf);

	hv_exec(&r, (const char *[]){ "trace", "stats", t, NULL });
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out,
			 "I/O and MMIO exits by port / address (elements = values moved; KVM batches "
			 "REP INS, not REP OUTS):\n"
			 "  type addr       dir       exits    share  elements\n"
			 "  io   0x00e9     out           5   41.67%         5\n"
			 "  io   0x03f8     out           2   16.67%         2\n"
			 "  mmio 0xd0000000 write         2   16.67%         2\n"
			 "  io   0x03fd     in            1    8.33%         1\n"
			 "  mmio 0xd0002000 read          1    8.33%         1 unclaimed\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, events), "%s", r.out);
	cr_assert(strstr(r.out, "exits seen by hv: 12\n"), "%s", r.out);
}
