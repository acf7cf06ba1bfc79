/*
 * test_os.c - the mini OS (guest/os/) under hv: ring-3 tasks, system calls, exceptions, timer
 * interrupts, both disk drivers, the para-virtual trace page and step mode.
 *
 * Two suites:
 *   os     runs on every KVM, PVM included: the kernel-only boot (no task ever enters ring 3),
 *          a hostile kernel damaging its trace page, step mode in ring 0, the CLI, and the
 *          message a PVM host gives for a ring-3 guest.
 *   ring3  needs VT-x/AMD-V: on a PVM host each test prints why it is skipped, and `make test`
 *          then runs this suite inside the nested lab VM (tests/labvm/), where it passes.
 * Textbook: chapter 5 "A guest OS".
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hostinfo.h"
#include "layout.h"
#include "loader.h"
#include "pvtrace.h"
#include "trace_read.h"
#include "tracepage.h"

#define OS_TIMEOUT "120" /* seconds: generous for the lab VM, where every exit is emulated twice */

static void load(const char *path, struct trace_file *tf)
{
	char err[512];
	cr_assert_eq(trace_load(path, tf, err, sizeof(err)), 0, "%s", err);
}

/* Ring records of one kind (and vector, or -1 for any). */
static int rings(const struct trace_file *tf, int kind, int vector)
{
	int n = 0;
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *r = &tf->records[i];
		n += r->kind == HVT_RING && r->reason == kind && (vector < 0 || r->addr == (uint64_t)vector);
	}
	return n;
}

static int pvtrace_errors(const struct trace_file *tf, enum tracepage_error why)
{
	int n = 0;
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *r = &tf->records[i];
		n += r->kind == HVT_GUEST_ERROR && r->addr == HV_PORT_PVTRACE && r->data == (uint64_t)why;
	}
	return n;
}

/* The address of a symbol of build/guest/os.elf (the tests read the same symbol table hv does). */
static uint64_t os_symbol(const char *name)
{
	char err[256];
	size_t len;
	uint8_t *img = loader_read_file(guest("os.elf"), 64u << 20, &len, err, sizeof err);
	cr_assert_not_null(img, "%s", err);
	uint64_t addr = 0;
	cr_assert_eq(loader_find_symbol(img, len, name, &addr), 0, "os.elf has no symbol %s", name);
	free(img);
	return addr;
}

/* ---- os: everything a PVM host can run ---- */

/*
 * With `os.run=none` the kernel sets up its GDT, TSS, IDT, paging, PIC and timer, registers its
 * trace page, and halts without starting a task. Nothing of that needs ring 3, so it runs
 * on every KVM (in KVM's emulator on PVM). The registration is one OUT to port 0x528.
 */
Test(os, kernel_only_boot_runs_on_every_kvm_and_registers_its_trace_page)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("boot.hvt");
	hv_exec(&r, (const char *[]){ "run", "--timeout", OS_TIMEOUT, "--trace", t, "--cmdline",
				      "os.run=none", guest("os.elf"), NULL });
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "os: hvlab mini OS (32-bit protected mode), disk=none\n"), "%s", r.out);
	cr_assert(strstr(r.out, "os: 0 tasks run, 0 killed\n"), "%s", r.out);
	struct trace_file tf;
	load(t, &tf);
	int registrations = 0, errors = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		registrations += e->kind == HVT_EXIT && e->reason == HVT_R_IO && e->addr == HV_PORT_PVTRACE;
		errors += e->kind == HVT_GUEST_ERROR;
	}
	cr_assert_eq(registrations, 1, "one OUT registers the page");
	cr_assert_eq(errors, 0);
	trace_free(&tf);
}

/*
 * A hostile kernel damages its own trace page after registering it (os.corrupt_pvtrace=N,
 * guest/os): hv must report the damage as a guest error, read nothing outside the page, and
 * let the guest run to its normal end. 1: head jumps 100000 ahead (P3). 2: the magic is
 * overwritten and never repaired (P2, reported once however many exits follow). 3: five
 * records with kind 99 and CPL 7 (P4, one report each).
 */
static void corrupt_run(const char *mode, struct trace_file *tf)
{
	require_kvm();
	struct hv_result r;
	char cmd[64], name[32];
	snprintf(cmd, sizeof cmd, "os.run=none os.corrupt_pvtrace=%s", mode);
	snprintf(name, sizeof name, "corrupt%s.hvt", mode);
	const char *t = tmp_path(name);
	hv_exec(&r, (const char *[]){ "run", "--timeout", OS_TIMEOUT, "--trace", t, "--cmdline", cmd,
				      guest("os.elf"), NULL });
	cr_assert_eq(r.status, 0, "hv must go on after a damaged trace page: %s%s", r.out, r.err);
	cr_assert(strstr(r.out, "os: 0 tasks run, 0 killed\n"), "%s", r.out);
	load(t, tf);
}

Test(os, a_trace_page_whose_head_jumps_is_reported_once_and_resynced)
{
	struct trace_file tf;
	corrupt_run("1", &tf);
	cr_assert_eq(pvtrace_errors(&tf, TP_GE_HEAD_JUMP), 1);
	trace_free(&tf);
}

Test(os, a_trace_page_with_a_broken_magic_is_reported_once)
{
	struct trace_file tf;
	corrupt_run("2", &tf);
	cr_assert_eq(pvtrace_errors(&tf, TP_GE_BAD_HEADER), 1);
	trace_free(&tf);
}

Test(os, impossible_trace_page_records_are_each_reported_and_skipped)
{
	struct trace_file tf;
	corrupt_run("3", &tf);
	cr_assert_eq(pvtrace_errors(&tf, TP_GE_BAD_RECORD), 5);
	cr_assert_eq(rings(&tf, 99, -1), 0, "no bad record reaches the trace as a ring change");
	trace_free(&tf);
}

/*
 * Step mode in ring 0 works on every KVM: a hardware breakpoint at the symbol, then the trap
 * flag. hello32's guest_main: step 0 is the breakpoint itself (rip = the symbol), and each
 * following record is one instruction further, all in ring 0, protected mode.
 */
Test(os, step_mode_records_each_instruction_from_the_symbol)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("step0.hvt");
	hv_exec(&r, (const char *[]){ "run", "--trace", t, "--step", "guest_main", "--step-count", "5",
				      guest("hello32.elf"), NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "Hello from protected mode"), "stepping must not change what the guest does");
	char err[256];
	size_t len;
	uint8_t *img = loader_read_file(guest("hello32.elf"), 1u << 20, &len, err, sizeof err);
	uint64_t at = 0;
	cr_assert_eq(loader_find_symbol(img, len, "guest_main", &at), 0);
	free(img);
	struct trace_file tf;
	load(t, &tf);
	uint64_t n = 0, last_rip = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		if (e->kind != HVT_EXIT || !(e->flags & HVT_F_STEPPED))
			continue;
		cr_assert_eq(e->reason, HVT_R_DEBUG);
		cr_assert_eq(e->data, n, "steps are numbered 0, 1, 2, ...");
		cr_assert_eq(e->cpl, 0);
		cr_assert_eq(e->mode, HVT_MODE_PROT32);
		if (n == 0)
			cr_assert_eq(e->rip, at, "step 0 stands at the symbol");
		else
			cr_assert_gt(e->rip, last_rip, "straight-line code: each step moves forward");
		last_rip = e->rip;
		n++;
	}
	cr_assert_eq(n, 5);
	cr_assert(strstr(r.err, "hv: step 0: cpl0 prot32 rip="), "%s", r.err);
	trace_free(&tf);
}

/*
 * The CPU clears TF when it enters an interrupt handler, so without help the trap flag would
 * skip the whole handler of an `int n`. hv plants a breakpoint on the handler (step.c). A
 * real-mode guest, which every KVM runs: it points vector 0x30 at an `iret` and calls it.
 *   0x8010  mov word [0xC0], 0x8020   ; IVT entry 0x30: offset 0x8020
 *   0x8016  mov word [0xC2], 0        ;                 segment 0
 *   0x801C  int 0x30
 *   0x801E  cli
 *   0x801F  hlt
 *   0x8020  iret                      ; the handler
 * Stepping from 0x8016: 0x8016, 0x801C, then the handler 0x8020, then back at 0x801E.
 */
Test(os, step_mode_follows_int_n_into_its_handler)
{
	require_kvm();
	static const uint8_t g[] = { 0xEB, 0x0E, 'H', 'V', 'L', 'B', 16, 1, 0, 0, 0, 0, 0, 0, 0, 0,
				     0xC7, 0x06, 0xC0, 0x00, 0x20, 0x80, 0xC7, 0x06, 0xC2, 0x00, 0x00, 0x00,
				     0xCD, 0x30, 0xFA, 0xF4, 0xCF };
	const char *path = write_tmp("intstep.bin", g, sizeof g);
	const char *t = tmp_path("intstep.hvt");
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--trace", t, "--step", "0x8016", "--step-count", "4",
				      path, NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	struct trace_file tf;
	load(t, &tf);
	static const uint64_t want[] = { 0x8016, 0x801C, 0x8020, 0x801E };
	unsigned n = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		if (e->kind == HVT_EXIT && (e->flags & HVT_F_STEPPED)) {
			cr_assert_lt(n, 4);
			cr_assert_eq(e->rip, want[n], "step %u at 0x%llx", n, (unsigned long long)e->rip);
			cr_assert_eq(e->mode, HVT_MODE_REAL);
			n++;
		}
	}
	cr_assert_eq(n, 4);
	trace_free(&tf);
}

/*
 * --step-seek (the lab VM's way to a window, chosen there by itself): the silent steps leave
 * nothing in the trace, so it keeps the exit / run-return / run-call / entry rhythm, and the
 * only debug exits in it are the window's own.
 */
Test(os, step_seek_leaves_only_the_window_in_the_trace)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("seek.hvt");
	hv_exec(&r, (const char *[]){ "run", "--trace", t, "--step-seek", "--step", "guest_main",
				      "--step-count", "3", guest("hello32.elf"), NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.err, "stepped 3 of 3 instructions ("), "%s", r.err);
	cr_assert(!strstr(r.err, "(0 more stepped silently"), "seeking took steps: %s", r.err);
	struct trace_file tf;
	load(t, &tf);
	int debug = 0, entries = 0, exits = 0;
	uint8_t last = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		if (e->kind == HVT_EXIT) {
			cr_assert(last == HVT_ENTRY, "record %llu: an exit without an entry before it",
				  (unsigned long long)i);
			exits++;
			debug += e->reason == HVT_R_DEBUG;
			cr_assert(e->reason != HVT_R_DEBUG || (e->flags & HVT_F_STEPPED));
		}
		if (e->kind == HVT_ENTRY) {
			cr_assert(last != HVT_ENTRY, "record %llu: two entries without an exit",
				  (unsigned long long)i);
			entries++;
		}
		if (e->kind == HVT_EXIT || e->kind == HVT_ENTRY)
			last = e->kind;
	}
	cr_assert_eq(debug, 3);
	cr_assert(entries == exits || entries == exits + 1);
	trace_free(&tf);
}

/*
 * A guest that programs the timer but leaves IRQ 0 masked in the PIC (here: never initializes
 * the PIC, whose lines start masked) and then waits with `sti; hlt` sleeps forever on real
 * hardware. hv must still say so at once, not wait for a tick that cannot arrive.
 *   mov $0x34, %al; out %al, $0x43     counter 0, LSB then MSB, mode 2
 *   mov $0x9c, %al; out %al, $0x40     11932 = 100 Hz
 *   mov $0x2e, %al; out %al, $0x40
 *   sti; hlt; jmp .
 */
Test(os, a_programmed_timer_behind_a_masked_line_wakes_nobody, .timeout = 30)
{
	require_kvm();
	static const uint8_t g[] = { 0xEB, 0x0E, 'H', 'V', 'L', 'B', 16, 1, 0, 0, 0, 0, 0, 0, 0, 0,
				     0xB0, 0x34, 0xE6, 0x43, 0xB0, 0x9C, 0xE6, 0x40, 0xB0, 0x2E, 0xE6, 0x40,
				     0xFB, 0xF4, 0xEB, 0xFE };
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--quiet", "--timeout", "20",
				      write_tmp("pitmask.bin", g, sizeof g), NULL });
	cr_assert_eq(r.status, HV_EXIT_GUEST_ERROR, "%s", r.err);
	cr_assert(strstr(r.err, "no device can raise one"), "%s", r.err);
}

/* Suite cli: the --step mistakes are found from the command line and the guest file alone,
 * before hv asks for KVM, so they are checked as on a host without /dev/kvm. */
Test(cli, step_options_are_checked)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "--step", "no_such_symbol", guest("hello32.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "%s", r.err);
	cr_assert(strstr(r.err, "--step no_such_symbol: no such symbol"), "%s", r.err);
	cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
	hv_exec_nokvm(&r, (const char *[]){ "run", "--step", "guest_main", guest("hello32.bin"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "a .bin has no symbols");
	cr_assert(strstr(r.err, "give the guest's .elf"), "%s", r.err);
	hv_exec_nokvm(&r, (const char *[]){ "run", "--step", "0x40000000", guest("hello32.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "%s", r.err);
	cr_assert(strstr(r.err, "--step 0x40000000: 0x40000000 (loaded at guest-physical 0x40000000) "
			 "is not in guest RAM"), "%s", r.err);
	hv_exec_nokvm(&r, (const char *[]){ "run", "--step-count", "5", guest("hello32.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
	cr_assert(strstr(r.err, "--step-count and --step-seek need --step"), "%s", r.err);
	hv_exec_nokvm(&r, (const char *[]){ "run", "--step", "guest_main", "--step-count", "0",
					    guest("hello32.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
	cr_assert(strstr(r.err, "bad --step-count"), "%s", r.err);
	hv_exec_nokvm(&r, (const char *[]){ "run", "--step", "", guest("hello32.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
	cr_assert(strstr(r.err, "empty --step"), "%s", r.err);
	/* A good --step gets as far as KVM: the no-KVM line, not a --step one. */
	hv_exec_nokvm(&r, (const char *[]){ "run", "--step", "guest_main", guest("hello32.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_HOST, "%s", r.err);
	cr_assert(strstr(r.err, "make labvm-run"), "%s", r.err);
}

/* On PVM, the first `iret` to ring 3 kills the VM. hv must say what happened and where to go. */
/*
 * What a ring-3 guest does depends on the host, and each host has its own promise to keep. On
 * PVM the kernel finds its paging refused and runs no task unless told to, and a task told to
 * run anyway dies at its first iret to ring 3, with hv naming the lab VM. Everywhere else
 * (VT-x, AMD-V, the lab VM) the same two runs simply work, and hv names no lab VM.
 */
Test(os, a_ring3_task_runs_or_on_pvm_hv_names_the_lab_vm)
{
	require_kvm();
	struct host_info hi;
	hostinfo_probe(&hi);
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--quiet", "--timeout", OS_TIMEOUT, "--cmdline",
				      "os.run=hello", guest("os.elf"), NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	if (hi.kind == HVT_HOST_PVM)
		cr_assert(strstr(r.out, "tasks not run (os.unprotected=1 runs them anyway)\n"), "%s",
			  r.out);
	else
		cr_assert(strstr(r.out, "os: 1 tasks run, 0 killed\n"), "%s", r.out);
	hv_exec(&r, (const char *[]){ "run", "--timeout", OS_TIMEOUT, "--cmdline",
				      "os.run=hello os.unprotected=1", guest("os.elf"), NULL });
	cr_assert(strstr(r.out, "os: task 1 (hello) starting in ring 3\n"), "%s", r.out);
	if (hi.kind == HVT_HOST_PVM) {
		cr_assert(r.status == HV_EXIT_SHUTDOWN || r.status == HV_EXIT_INTERNAL,
			  "status %d: %s", r.status, r.err);
		cr_assert(strstr(r.err, "lab VM ('make labvm')"), "%s", r.err);
	} else {
		cr_assert_eq(r.status, 0, "%s", r.err);
		cr_assert(strstr(r.out, "os: 1 tasks run, 0 killed\n"), "%s", r.out);
		cr_assert_null(strstr(r.err, "lab VM"), "%s", r.err);
	}
}

/* ---- ring3: needs VT-x/AMD-V (on PVM: in the lab VM) ---- */

struct os_run {
	struct hv_result r;
	struct trace_file tf;
};

static void os_run(struct os_run *o, const char *disk_path, const char *cmdline, const char *name)
{
	require_ring3();
	const char *t = tmp_path(name);
	const char *args[16] = { "run", "--timeout", OS_TIMEOUT, "--trace", t };
	int n = 5;
	if (disk_path) {
		args[n++] = "--disk-path";
		args[n++] = disk_path;
	}
	if (cmdline) {
		args[n++] = "--cmdline";
		args[n++] = cmdline;
	}
	args[n++] = guest("os.elf");
	args[n] = NULL;
	hv_exec(&o->r, args);
	cr_assert_eq(o->r.status, 0, "%s%s", o->r.out, o->r.err);
	load(t, &o->tf);
}

/* All five tasks, the disk through one driver; what every user sees on the console. */
static void check_all_tasks(struct os_run *o, const char *driver)
{
	const char *out = o->r.out;
	char want[96];
	cr_assert(strstr(out, "hello from ring 3\n"), "%s", out);
	snprintf(want, sizeof want, "disk: OK 8 sectors through the %s driver\n", driver);
	cr_assert(strstr(out, want), "%s", out);
	cr_assert(strstr(out, "(priv) killed: #GP"), "%s", out);
	cr_assert(strstr(out, "(fault) killed: #PF"), "%s", out);
	cr_assert(strstr(out, "ticks: 3 timer interrupts arrived while in ring 3\n"), "%s", out);
	cr_assert(strstr(out, "os: 5 tasks run, 2 killed\n"), "%s", out);
	cr_assert_eq(rings(&o->tf, HV_PVT_TASK_START, -1), 5);
	cr_assert_eq(rings(&o->tf, HV_PVT_TASK_KILL, -1), 2);
	cr_assert_eq(rings(&o->tf, HV_PVT_TASK_EXIT, -1), 3);
}

Test(ring3, the_os_runs_its_tasks_with_the_virtio_driver)
{
	struct os_run o;
	os_run(&o, "virtio", NULL, "os-virtio.hvt");
	check_all_tasks(&o, "virtio");
	trace_free(&o.tf);
}

Test(ring3, the_os_runs_its_tasks_with_the_legacy_driver)
{
	struct os_run o;
	os_run(&o, "legacy", NULL, "os-legacy.hvt");
	check_all_tasks(&o, "legacy");
	trace_free(&o.tf);
}

/*
 * The six steps of one guest device access (textbook chapter 3, "The six steps"), for the
 * hello task's one write system call, found in the merged trace:
 *   1. ring   syscall 3->0, nr 4 (write)                      (the guest kernel's trace page)
 *   2+3. exit io, OUT to 0x3F8 (the UART's data register), in ring 0 (the guest's driver
 *        executed it; the CPU left the guest)                  (the exit loop)
 *   4. run-return: KVM hands the exit to hv
 *   5. hv handled it (handled time on the exit record)
 *   6. run-call, then entry: back into the guest
 * ... and later the sysret 0->3 of the same call. Nothing else from ring 3 in between.
 */
Test(ring3, one_write_system_call_shows_the_six_steps_in_order)
{
	struct os_run o;
	os_run(&o, NULL, "os.run=hello", "six.hvt");
	const struct trace_file *tf = &o.tf;
	uint64_t i = 0, n = tf->count;
	const struct hvt_record *rec = tf->records;
	/* step 1 */
	while (i < n && !(rec[i].kind == HVT_RING && rec[i].reason == HV_PVT_SYSCALL &&
			  (uint32_t)rec[i].data == HV_SYS_WRITE))
		i++;
	cr_assert_lt(i, n, "no write system call in the trace");
	cr_assert_eq(rec[i].cpl, 3);
	cr_assert_eq(rec[i].size, 0);
	cr_assert_eq(rec[i].addr, 0x80);
	uint64_t t_prev = rec[i].time_ns;
	/* steps 2 and 3: the first OUT to the UART's data register after it */
	while (i < n && !(rec[i].kind == HVT_EXIT && rec[i].reason == HVT_R_IO &&
			  rec[i].addr == HV_PORT_UART0 && (rec[i].flags & HVT_F_WRITE)))  {
		cr_assert(!(rec[i].kind == HVT_RING && rec[i].reason == HV_PVT_SYSRET),
			  "the call returned before it reached the UART");
		i++;
	}
	cr_assert_lt(i, n);
	cr_assert_eq(rec[i].cpl, 0, "the guest kernel's driver executes the OUT");
	cr_assert_eq(rec[i].mode, HVT_MODE_PROT32);
	cr_assert_eq(rec[i].data & 0xFF, 'h', "the first byte of \"hello from ring 3\"");
	cr_assert_geq(rec[i].time_ns, t_prev);
	/* step 4 */
	cr_assert_eq(rec[i + 1].kind, HVT_RUN_RETURN);
	/* step 5: the exit was handled in hv (its handling time is on the record) */
	cr_assert_gt(rec[i].duration_ns, 0);
	/* step 6 */
	uint64_t j = i + 2;
	for (; j < n && rec[j].kind != HVT_RUN_CALL; j++)
		cr_assert(rec[j].kind != HVT_EXIT && rec[j].kind != HVT_RING, "only device steps between");
	cr_assert_lt(j + 1, n);
	cr_assert_eq(rec[j + 1].kind, HVT_ENTRY);
	/* and the return to ring 3 of the same call */
	while (j < n && !(rec[j].kind == HVT_RING && rec[j].reason == HV_PVT_SYSRET))
		j++;
	cr_assert_lt(j, n);
	cr_assert_eq((uint32_t)rec[j].data, HV_SYS_WRITE);
	cr_assert_eq(rec[j].cpl, 0);
	cr_assert_eq(rec[j].size, 3);
	cr_assert_eq(rec[j].data >> 32, strlen("hello from ring 3\n"), "write returns the bytes written");
	trace_free(&o.tf);
}

/* The merged timeline is in time order for the vCPU's records: guest ring changes sit between
 * the entry before and the exit after them. */
Test(ring3, the_merged_trace_is_in_time_order)
{
	struct os_run o;
	os_run(&o, NULL, "os.run=hello,priv", "order.hvt");
	uint64_t last = 0;
	int ring = 0;
	for (uint64_t i = 0; i < o.tf.count; i++) {
		const struct hvt_record *r = &o.tf.records[i];
		if (r->vcpu != 0 || r->kind == HVT_COUNTER)
			continue;
		cr_assert_geq(r->time_ns, last, "record %llu goes back in time", (unsigned long long)i);
		last = r->time_ns;
		ring += r->kind == HVT_RING;
	}
	cr_assert_gt(ring, 4);
	trace_free(&o.tf);
}

/* Exceptions: a privileged instruction (#GP, 13) and a read of kernel memory (#PF, 14, with
 * CR2 = the address) in ring 3 kill the task; the kernel goes on to the next task. */
Test(ring3, exceptions_in_ring_3_kill_the_task_and_the_kernel_survives)
{
	struct os_run o;
	os_run(&o, NULL, "os.run=priv,fault,hello", "exc.hvt");
	cr_assert(strstr(o.r.out, "os: task 1 (priv) killed: #GP"), "%s", o.r.out);
	cr_assert(strstr(o.r.out, "os: task 2 (fault) killed: #PF"), "%s", o.r.out);
	cr_assert(strstr(o.r.out, "hello from ring 3\n"), "the next task still runs: %s", o.r.out);
	cr_assert(strstr(o.r.out, "os: 3 tasks run, 2 killed\n"), "%s", o.r.out);
	cr_assert_eq(rings(&o.tf, HV_PVT_EXCEPTION, 13), 1);
	cr_assert_eq(rings(&o.tf, HV_PVT_EXCEPTION, 14), 1);
	for (uint64_t i = 0; i < o.tf.count; i++) {
		const struct hvt_record *r = &o.tf.records[i];
		if (r->kind == HVT_RING && r->reason == HV_PVT_EXCEPTION && r->addr == 14)
			cr_assert_eq(r->data >> 32, 0x100000, "CR2 holds the kernel address read");
		if (r->kind == HVT_RING && r->reason == HV_PVT_EXCEPTION)
			cr_assert_eq(r->cpl, 3);
	}
	trace_free(&o.tf);
}

/* The PIT's IRQ 0, injected by hv, taken in ring 3: interrupt records 3->0 at vector 0x20. */
Test(ring3, timer_interrupts_arrive_in_ring_3)
{
	struct os_run o;
	os_run(&o, NULL, "os.run=ticks", "ticks.hvt");
	cr_assert(strstr(o.r.out, "ticks: 3 timer interrupts arrived while in ring 3\n"), "%s", o.r.out);
	int from_ring3 = 0;
	for (uint64_t i = 0; i < o.tf.count; i++) {
		const struct hvt_record *r = &o.tf.records[i];
		from_ring3 += r->kind == HVT_RING && r->reason == HV_PVT_INTERRUPT && r->addr == 0x20 &&
			      r->cpl == 3;
	}
	cr_assert_geq(from_ring3, 3);
	int injected = 0;
	for (uint64_t i = 0; i < o.tf.count; i++)
		injected += o.tf.records[i].kind == HVT_IRQ && o.tf.records[i].reason == HVT_IRQ_INJECT &&
			    o.tf.records[i].addr == HV_IRQ_PIT;
	cr_assert_geq(injected, 3);
	trace_free(&o.tf);
}

/*
 * Step mode across a system call: from os_step_window (`mov $20, %eax` in ring 3), then
 * `int $0x80`, then the kernel's handler in ring 0, until the iret lands on os_step_window_end
 * in ring 3. The CPL sequence must be 3, 3, 0, ..., 0, 3: the trap flag, re-armed before every
 * entry, follows the CPU into the handler although the CPU clears TF when it enters one.
 */
Test(ring3, step_mode_shows_the_cpl_sequence_of_a_system_call)
{
	require_ring3();
	uint64_t start = os_symbol("os_step_window"), end = os_symbol("os_step_window_end");
	struct hv_result r;
	const char *t = tmp_path("step3.hvt");
	hv_exec(&r, (const char *[]){ "run", "--timeout", OS_TIMEOUT, "--trace", t, "--cmdline",
				      "os.run=hello", "--step", "os_step_window", "--step-count", "2000",
				      guest("os.elf"), NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	struct trace_file tf;
	load(t, &tf);
	int cpl[2000], n = 0;
	uint64_t rip[2000];
	for (uint64_t i = 0; i < tf.count && n < 2000; i++) {
		const struct hvt_record *e = &tf.records[i];
		if (e->kind == HVT_EXIT && (e->flags & HVT_F_STEPPED)) {
			cpl[n] = e->cpl;
			rip[n++] = e->rip;
		}
	}
	cr_assert_geq(n, 4);
	cr_assert_eq(rip[0], start);
	cr_assert_eq(cpl[0], 3, "mov $20, %%eax runs in ring 3");
	cr_assert_eq(cpl[1], 3, "int $0x80 is fetched in ring 3");
	cr_assert_eq(cpl[2], 0, "the next instruction is the kernel's handler");
	int k = 2;
	while (k < n && cpl[k] == 0)
		k++;
	cr_assert_lt(k, n, "the system call never returned within the window");
	cr_assert_eq(cpl[k], 3);
	cr_assert_eq(rip[k], end, "iret lands right after int $0x80");
	trace_free(&tf);
}
