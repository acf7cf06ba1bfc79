/*
 * test_hypervisors.c - the runs of textbook chapter 9 "Hypervisors, then and now" and chapter 10
 * "VMs, containers and the JVM", kept true:
 *   - the mini OS's popf task: POPF in ring 3 silently keeps IF, SGDT reads the GDT register,
 *     and neither instruction causes an exception or a VM exit (suite ring3: it needs ring 3);
 *   - the hypercall guest: VMCALL/VMMCALL handled inside KVM, counted only by KVM's
 *     "hypercalls" statistic, next to the same number of OUTs that each reach hv (ring3: it
 *     needs VT-x/AMD-V), and what a PVM host does with the same guest (guests);
 *   - textbook/tools/kvm-on-host.sh: the kvm module, /dev/kvm and the ioctl sequence of one hv run;
 *   - textbook/tools/vm-vs-process.sh: the start-cost table and the isolation facts behind it
 *     (suite cli: the rows that need no KVM, on every host; guests: the hv row).
 * guests and ring3 start guests, so they are in KVM_TESTS (Makefile), ring3 also in RING3_TESTS;
 * cli starts none and runs on the host.
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

#define RUN_TIMEOUT "120" /* seconds: generous for the lab VM, where every exit is emulated twice */

static void load(const char *path, struct trace_file *tf)
{
	char err[512];
	cr_assert_eq(trace_load(path, tf, err, sizeof(err)), 0, "%s", err);
}

static uint64_t elf_symbol(const char *elf, const char *name)
{
	char err[256];
	size_t len;
	uint8_t *img = loader_read_file(guest(elf), 64u << 20, &len, err, sizeof err);
	cr_assert_not_null(img, "%s", err);
	uint64_t addr = 0;
	cr_assert_eq(loader_find_symbol(img, len, name, &addr), 0, "%s has no symbol %s", elf, name);
	free(img);
	return addr;
}

/* The value of one KVM statistic recorded at the end of the run, or -1 if absent. */
static int64_t counter(const struct trace_file *tf, unsigned id)
{
	for (uint64_t i = 0; i < tf->count; i++)
		if (tf->records[i].kind == HVT_COUNTER && tf->records[i].addr == id)
			return (int64_t)tf->records[i].data;
	return -1;
}

/* ---- chapter 9, "Classic x86: sensitive but not privileged" ---- */

/*
 * `hv run --cmdline os.run=popf build/guest/os.elf`: the task prints that IF stayed 1 and what
 * SGDT read, and exits 0. The GDT base it reads is the kernel's own GDT (symbol gdt of os.elf),
 * not anything of hv's or the host's: the CPU keeps a guest GDTR. In the trace no exit and no
 * ring record (exception) has the eip of either instruction.
 */
Test(ring3, popf_in_ring_3_keeps_if_without_a_trap_or_an_exit)
{
	require_ring3();
	const char *t = tmp_path("popf.hvt");
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", RUN_TIMEOUT, "--trace", t, "--cmdline",
				      "os.run=popf", guest("os.elf"), NULL });
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "popf: IF was 1, popf asked for 0, IF is 1: ignored, no trap\n"),
		  "%s", r.out);
	char want[96];
	snprintf(want, sizeof want, "popf: sgdt in ring 3 read base 0x%08llx limit ",
		 (unsigned long long)elf_symbol("os.elf", "gdt"));
	cr_assert(strstr(r.out, want), "want '%s' in: %s", want, r.out);
	cr_assert(strstr(r.out, "os: task 1 (popf) exited with status 0\n"), "%s", r.out);
	cr_assert(strstr(r.out, "os: 1 tasks run, 0 killed\n"), "%s", r.out);

	struct trace_file tf;
	load(t, &tf);
	uint64_t popf = elf_symbol("os.elf", "popf_insn"), sgdt = elf_symbol("os.elf", "sgdt_insn");
	int exceptions = 0, syscalls = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *rec = &tf.records[i];
		if (rec->kind == HVT_EXIT || rec->kind == HVT_RING)
			cr_assert(rec->rip != popf && rec->rip != sgdt,
				  "record %llu is at the popf/sgdt instruction", (unsigned long long)i);
		exceptions += rec->kind == HVT_RING && rec->reason == HV_PVT_EXCEPTION;
		syscalls += rec->kind == HVT_RING && rec->reason == HV_PVT_SYSCALL;
	}
	cr_assert_eq(exceptions, 0, "no #GP or any other exception in the task");
	cr_assert_geq(syscalls, 3, "two writes and the exit, seen on the trace page");
	trace_free(&tf);
}

/* ---- chapter 9, "Hypercalls: a guest that knows" ---- */

/* The hypercall guest's trace: exits that reached hv to port 0x500 and in total. */
struct hc_counts {
	int testdev, exits, not_io;
};

static struct hc_counts hc_count(const struct trace_file *tf)
{
	struct hc_counts c = { 0, 0, 0 };
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *rec = &tf->records[i];
		if (rec->kind != HVT_EXIT)
			continue;
		c.exits++;
		c.testdev += rec->reason == HVT_R_IO && rec->addr == HV_PORT_TESTDEV;
		c.not_io += rec->reason != HVT_R_IO;
	}
	return c;
}

/* 25 hypercalls: the guest checks each returned 0; KVM counted exactly 25, hv saw none of them,
 * and each of the 25 OUTs to port 0x500 reached hv as one exit. */
static void hypercall_check_completed(const struct hv_result *r, const struct trace_file *tf)
{
	cr_assert_eq(r->status, 1, "status %d: %s%s", r->status, r->out, r->err);
	cr_assert(strstr(r->out, "25 x vmcall returned 0, 25 x OUT to port 0x500\n") ||
		  strstr(r->out, "25 x vmmcall returned 0, 25 x OUT to port 0x500\n"), "%s", r->out);
	cr_assert_eq(counter(tf, HVT_C_HYPERCALLS), 25, "KVM's hypercalls statistic");
	/* hv's summary, as chapter 9 shows it: the UART's exits depend on the line's length
	 * ("vmcall" is one byte shorter: one IN and one OUT fewer) */
	int amd = strstr(r->out, "x vmmcall") != NULL;
	cr_assert(strstr(r->err, amd ? "hv: summary: 129 exits: io 129\n"
				     : "hv: summary: 127 exits: io 127\n"), "%s", r->err);
	cr_assert(strstr(r->err, amd ? "exits by device: exitdev 1, uart16550a 103, testdev-pio 25\n"
				     : "exits by device: exitdev 1, uart16550a 101, testdev-pio 25\n"),
		  "%s", r->err);
	struct hc_counts c = hc_count(tf);
	cr_assert_eq(c.testdev, 25);
	cr_assert_eq(c.not_io, 0, "only port I/O reached hv: the hypercalls stayed in KVM");
	cr_assert_geq(counter(tf, HVT_C_EXITS), c.exits + 25, "KVM counted the hypercall exits");
}

Test(ring3, a_hypercall_is_handled_inside_kvm_and_counted_only_there)
{
	require_ring3();
	const char *t = tmp_path("hc.hvt");
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", RUN_TIMEOUT, "--trace", t, "--cmdline",
				      "calls=25", guest("hypercall.elf"), NULL });
	struct trace_file tf;
	load(t, &tf);
	hypercall_check_completed(&r, &tf);
	trace_free(&tf);
}

/*
 * The same guest on the host it runs on. VT-x/AMD-V (and the lab VM): as above. PVM: KVM's
 * instruction emulator, which runs this ring-0 guest there, never completes the VMCALL: the
 * guest stays on it, KVM counts no hypercall and a great many emulated instructions, and only
 * --timeout ends the run (status 14). Chapter 9 shows both.
 */
Test(guests, the_hypercall_guest_completes_on_vtx_amdv_and_stalls_on_pvm)
{
	require_kvm();
	struct host_info hi;
	hostinfo_probe(&hi);
	const char *t = tmp_path("hc-host.hvt");
	int pvm = hi.kind == HVT_HOST_PVM;
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", pvm ? "2" : RUN_TIMEOUT, "--trace", t,
				      "--cmdline", "calls=25", guest("hypercall.elf"), NULL });
	struct trace_file tf;
	load(t, &tf);
	if (!pvm) {
		hypercall_check_completed(&r, &tf);
	} else {
		cr_assert_eq(r.status, HV_EXIT_TIMEOUT, "status %d: %s", r.status, r.err);
		cr_assert(strstr(r.err, "hv: the guest ran past --timeout"), "%s", r.err);
		cr_assert_eq(counter(&tf, HVT_C_HYPERCALLS), 0);
		cr_assert_gt(counter(&tf, HVT_C_INSN_EMULATION), 100000);
		cr_assert_eq(hc_count(&tf).testdev, 0, "the guest never got past the first call");
		uint64_t call = elf_symbol("hypercall.elf", "guest_main");
		/* the last exit (the timeout's kick) is inside guest_main, on the call */
		uint64_t last = 0;
		for (uint64_t i = 0; i < tf.count; i++)
			if (tf.records[i].kind == HVT_EXIT)
				last = tf.records[i].rip;
		cr_assert_gt(last, call);
		cr_assert_lt(last, call + 0x200);
	}
	trace_free(&tf);
}

/* ---- chapter 9, "The kernel is the hypervisor: KVM" ---- */

/* Position of needle in haystack, failing the test if absent. */
static const char *must_find(const char *haystack, const char *needle)
{
	const char *p = strstr(haystack, needle);
	cr_assert_not_null(p, "no '%s' in:\n%s", needle, haystack);
	return p;
}

/*
 * textbook/tools/kvm-on-host.sh with hello32: the kvm module, /dev/kvm as the misc device 10:232, and
 * the ioctls in the order a VM is built: the VM before its memory, the memory before the vCPU,
 * the vCPU's registers before the first KVM_RUN. hello32 exits 60 times (59 port I/O and one
 * HLT, suite guests), so KVM_RUN is called 60 times.
 */
Test(guests, kvm_on_host_shows_the_module_the_device_and_the_ioctls)
{
	require_kvm();
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "sh", "textbook/tools/kvm-on-host.sh", guest("hello32.bin"), NULL });
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	const char *mods = must_find(r.out, "== 1. KVM in the running kernel: modules under /sys/module ==\n");
	must_find(mods, "\n  kvm\n");
	must_find(r.out, "  /dev/kvm: character special file, major 10 minor 232\n");
	const char *order[] = { "kvm   KVM_GET_API_VERSION ", "kvm   KVM_CREATE_VM ",
				"vm    KVM_SET_USER_MEMORY_REGION ", "vm    KVM_CREATE_VCPU ",
				"vcpu  KVM_SET_CPUID2 ", "vcpu  KVM_SET_SREGS ", "vcpu  KVM_SET_REGS ",
				"vcpu  KVM_RUN                      x60\n" };
	const char *at = r.out;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		at = must_find(at, order[i]);
	cr_assert_eq(count_lines(strstr(r.out, "== 3.")), 17, "16 kinds of ioctl:\n%s", r.out);
}

/* ---- chapter 10, "Start cost and isolation, measured" ---- */

/* The fields of one row of the table: what it saw. Returns 0 if the row is missing. */
static int table_row(const char *out, const char *what, char *pid, char *procs, char *host)
{
	const char *p = strstr(out, what);
	if (!p)
		return 0;
	char ms[32], kernel[16];
	p += strlen(what);
	return sscanf(p, "%31s %15s %31s %31s %127[^\n]", ms, kernel, pid, procs, host) == 5;
}

/*
 * Every row is printed. The isolation facts behind them: the plain process has a host PID and
 * sees the host's processes and name; in new namespaces it is PID 1, sees itself alone and a
 * hostname of its own, while the host's hostname stays the same; the JVM (when installed) is a
 * plain process; the hv guest ran and printed its line. Times are printed, never checked.
 */
Test(cli, vm_vs_process_host_rows_show_the_isolation_facts)
{
	/* The rows that need no KVM run on every host, here (ROWS=host). */
	struct hv_result r;
	cmd_exec_env(&r, (const char *[]){ "RUNS=2", "ROWS=host", NULL },
		     (const char *[]){ "sh", "textbook/tools/vm-vs-process.sh", NULL });
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	char pid[32], procs[32], host[128], host_ns[128];
	cr_assert(table_row(r.out, "plain process (sh)", pid, procs, host), "%s", r.out);
	cr_assert_neq(atoi(pid), 1);
	cr_assert_gt(atoi(procs), 1, "a plain process sees the host's processes");
	char pid_ns[32], procs_ns[32];
	cr_assert(table_row(r.out, "new namespaces (unshare)", pid_ns, procs_ns, host_ns), "%s", r.out);
	cr_assert_str_eq(pid_ns, "1", "the first process of a new PID namespace");
	cr_assert_str_eq(procs_ns, "1", "it sees only itself");
	cr_assert_str_eq(host_ns, "hvlab-box");
	cr_assert_str_neq(host, "hvlab-box", "the host's hostname did not change");
	char jpid[32], jprocs[32], jhost[128];
	cr_assert(table_row(r.out, "JVM (java Probe)", jpid, jprocs, jhost), "%s", r.out);
	if (strcmp(jpid, "-") != 0) {
		cr_assert_neq(atoi(jpid), 1);
		cr_assert_gt(atoi(jprocs), 1, "a JVM is a plain host process");
		cr_assert_str_eq(jhost, host);
	} else {
		cr_assert(strstr(jhost, "not installed here"), "%s", r.out);
	}
	cr_assert_null(strstr(r.out, "hv VM"), "ROWS=host runs no VM:\n%s", r.out);
}

Test(guests, vm_vs_process_vm_row_shows_the_guests_own_output)
{
	/* The hv row needs KVM: it runs where the guests suite runs (ROWS=vm). */
	require_kvm();
	struct hv_result r;
	cmd_exec_env(&r, (const char *[]){ "RUNS=2", "ROWS=vm", NULL },
		     (const char *[]){ "sh", "textbook/tools/vm-vs-process.sh", NULL });
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	char hpid[32], hprocs[32], hwhat[128];
	cr_assert(table_row(r.out, "hv VM (hello32 guest)", hpid, hprocs, hwhat), "%s", r.out);
	cr_assert_str_eq(hwhat, "guest printed: Hello from protected mode");
	must_find(r.out, "yes        -        -       guest printed:");
	cr_assert_null(strstr(r.out, "plain process"), "ROWS=vm runs only the VM:\n%s", r.out);
}

/* ---- chapter 10, "vCPUs are host threads" ---- */

/* The hv process has a thread named hv-vcpu0 besides its main thread; taskset pins it to
 * CPU 0; SIGINT stops the VM with status 16 (HV_EXIT_INTERRUPTED). */
Test(guests, vcpu_threads_shows_the_vcpu_as_a_thread_and_pins_it)
{
	require_kvm();
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "sh", "textbook/tools/vcpu-threads.sh", NULL });
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	const char *ps = must_find(r.out, "== 1. ps -L -p ");
	int pid = atoi(ps + strlen("== 1. ps -L -p "));
	cr_assert_gt(pid, 0);
	/* ps -L lines: PID TID PSR COMMAND, right-aligned */
	int main_thread = 0, vcpu_thread = 0;
	for (const char *line = strchr(ps, '\n'); line && line[1] && line[1] != '=';
	     line = strchr(line + 1, '\n')) {
		int p, t, psr;
		char comm[32];
		if (sscanf(line + 1, "%d %d %d %31s", &p, &t, &psr, comm) != 4)
			continue;
		cr_assert_eq(p, pid, "every thread belongs to the one hv process");
		main_thread += t == pid && strcmp(comm, "hv") == 0;
		vcpu_thread += t != pid && strcmp(comm, "hv-vcpu0") == 0;
	}
	cr_assert_eq(main_thread, 1, "%s", r.out);
	cr_assert_eq(vcpu_thread, 1, "%s", r.out);
	const char *pin = must_find(r.out, "== 2. the vCPU thread ");
	int tid = atoi(pin + strlen("== 2. the vCPU thread "));
	cr_assert_neq(tid, pid, "the vCPU is a thread of its own");
	char want[96];
	snprintf(want, sizeof want, "pid %d's current affinity list: 0\n", tid);
	must_find(pin, want);
	must_find(r.out, "hv exited with status 16\n");
}
