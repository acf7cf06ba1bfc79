/*
 * exitbench.c - what does one VM exit cost, and what does hv add to it?
 *
 * Concept: a VM exit is expensive (the CPU saves the guest, loads the host, KVM decides, and
 * for a device access the kernel returns to user space and back). This benchmark runs the
 * `exits` guest, which does nothing but cause exits, three ways in one process:
 *
 *   raw     the smallest possible loop around KVM_RUN: a switch on the exit reason and a
 *           latch for the test device; no bus, no trace
 *   hv      hv's real exit loop (hv/vcpu.c): bus lookup, device callback
 *   traced  the same with --trace and no --trace-limit: four 64-byte records per exit, every
 *           one written to the file (the run fails if one is missing: see check_trace)
 *
 * and prints the time per exit and the two ratios to the raw loop. The machine is built the
 * same way each time (vm_create), only the loop differs. This is a benchmark, not a test:
 * nothing here passes or fails on a number. Textbook: chapter 3, section "What an exit costs".
 *
 * The first line says which KVM this is (hv/hostinfo.c): absolute times mean nothing without
 * it, and in the nested lab VM (QEMU TCG emulating AMD-V, chapter 5) only ratios do.
 *
 * Two anchors put hv next to a production VMM, QEMU with the same KVM (-accel kvm, machine
 * microvm, the guests' PVH ELF files; bench/spawn.c runs both as processes):
 *
 *   1. the same exits guest, its latches on QEMU's pc-testdev (exits.dev=pc-testdev): time
 *      per exit = (wall time of LOOPS loops - wall time of 1 loop) / (difference in exits),
 *      so each VMM's start-up cancels out; hv/QEMU is the ratio of the two.
 *   2. hello32: fork to its first byte on the serial port, and peak RSS (wait4's ru_maxrss).
 *
 * Where QEMU is missing or its KVM accelerator fails, one line says so; no number is made up.
 *
 *   usage: exitbench [--keep-trace FILE] [--no-anchors] [--hv PATH] GUEST [LOOPS]
 *          (default 20000 loops = 10 exits each + 1 = 200001 exits; --keep-trace: the traced
 *          run's trace goes to FILE and stays there, for `hv trace stats FILE`; the other
 *          guests are read next to GUEST; hv is PATH, by default ../hv next to exitbench)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hostinfo.h"
#include "layout.h"
#include "spawn.h"
#include "trace_read.h"
#include "trace_names.h"
#include "vm.h"

/* The traced run must write every event: 256 bytes per exit is 51 MB for the default 20000
 * loops. hv's --trace-limit protects a disk from a runaway guest; here the guest is known,
 * so the limit is "no limit" (trace_set_limit takes bytes; 0 would mean one record). */
#define BENCH_TRACE_LIMIT UINT64_MAX

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * The raw loop. It must still answer the guest correctly (the guest checks that IN returns
 * what it wrote, and the MMIO read too), so it keeps the two latches inline.
 */
static long raw_loop(struct vm *vm, int *status)
{
	struct kvm_run *run = vm->run;
	uint32_t port_latch = 0, mmio_latch[2] = { 0, 0 };
	long exits = 0;
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			perror("exitbench: KVM_RUN");
			return -1;
		}
		exits++;
		if (run->exit_reason == KVM_EXIT_IO) {
			uint8_t *d = (uint8_t *)run + run->io.data_offset;
			if (run->io.port == HV_PORT_EXIT) {
				*status = (d[0] << 1) | 1;
				return exits;
			}
			if (run->io.direction == KVM_EXIT_IO_OUT)
				memcpy(&port_latch, d, 4);
			else
				memcpy(d, &port_latch, 4);
		} else if (run->exit_reason == KVM_EXIT_MMIO) {
			uint32_t i = (run->mmio.phys_addr - HV_MMIO_TESTDEV) / 4 & 1;
			if (run->mmio.is_write)
				memcpy(&mmio_latch[i], run->mmio.data, 4);
			else
				memcpy(run->mmio.data, &mmio_latch[i], 4);
		} else {
			fprintf(stderr, "exitbench: unexpected exit %u\n", run->exit_reason);
			return -1;
		}
	}
}

/* Build the machine, run it one way, report seconds and exits. */
static int measure(const char *what, struct vm_options *opt, double *secs, long *exits)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm || vm_create(vm, opt) != 0)
		return -1;
	int status = 0;
	double t0 = now_s();
	if (!strcmp(what, "raw")) {
		*exits = raw_loop(vm, &status);
	} else {
		status = vm_run(vm, opt); /* with a trace: closes it, so the time includes the flush */
		*exits = (long)vm->exits_seen;
	}
	*secs = now_s() - t0;
	vm_destroy(vm);
	free(vm);
	if (status != 1 || *exits <= 0) {
		fprintf(stderr, "exitbench: %s run ended with status %d (want 1)\n", what, status);
		return -1;
	}
	return 0;
}

/* ---- the host: what kind of KVM made these numbers (textbook chapter 0) ---- */

static int ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* One line a reader of pasted output needs first: VT-x, AMD-V, nested, PVM or the lab VM. */
static void print_host(void)
{
	struct host_info hi;
	hostinfo_probe(&hi);
	printf("exitbench: host: %s KVM, CPU %s, %d CPUs\n", hvt_host_name(hi.kind), hi.cpu_model,
	       ncpus());
	/* The lab VM: its "AMD-V" is QEMU's TCG emulating SVM, so every guest instruction and
	 * every exit of ours is itself emulated by a program running on the real host. */
	if (hostinfo_is_emulated_svm(&hi))
		printf("exitbench: this is the nested lab VM (AMD-V emulated by QEMU TCG): absolute "
		       "times are nested-TCG times; only the ratios, taken in one run, mean anything\n");
	else if (hi.kind == HVT_HOST_PVM)
		printf("exitbench: PVM: KVM emulates every guest instruction, so a us/exit here is "
		       "mostly emulation; compare ratios, not times, with other hosts\n");
}

/* ---- the traced run's file: did every event reach it? ---- */

struct trace_count {
	uint64_t bytes, events, exits, dropped;
};

/*
 * Count records and exit records by reading the file in 64 KiB chunks with hv's own parsers
 * (a whole trace_load of a long run would need as much memory as the file).
 */
static int count_trace(const char *path, struct trace_count *c)
{
	static uint8_t buf[1024 * HVT_RECORD_SIZE];
	char err[256];
	struct trace_header h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	memset(c, 0, sizeof *c);
	if (fd < 0 || read(fd, buf, HVT_HEADER_SIZE) != (ssize_t)HVT_HEADER_SIZE ||
	    trace_header_parse(buf, HVT_HEADER_SIZE, &h, err, sizeof err) < 0) {
		fprintf(stderr, "exitbench: %s: not a readable trace\n", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	c->dropped = h.dropped;
	c->bytes = HVT_HEADER_SIZE;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t off = 0; off + HVT_RECORD_SIZE <= n; off += HVT_RECORD_SIZE) {
			struct hvt_record r;
			trace_record_parse(buf + off, &r);
			c->exits += r.kind == HVT_EXIT;
			c->events++;
		}
		c->bytes += (uint64_t)n;
	}
	close(fd);
	return 0;
}

/* The traced line's second half: bytes per event, and the proof that nothing was dropped. */
static int check_trace(const char *path, long exits)
{
	struct trace_count c;
	if (count_trace(path, &c) < 0)
		return -1;
	printf("  traced   file %llu bytes, %llu events, %.1f bytes/event (%.0f per exit), %llu "
	       "exit records for %ld exits\n", (unsigned long long)c.bytes,
	       (unsigned long long)c.events, c.events ? (double)c.bytes / (double)c.events : 0.0,
	       (double)c.bytes / (double)exits, (unsigned long long)c.exits, exits);
	if (c.dropped || c.exits != (uint64_t)exits) {
		fprintf(stderr, "exitbench: the trace lacks events (%llu dropped): the traced time "
			"would not measure tracing\n", (unsigned long long)c.dropped);
		return -1;
	}
	return 0;
}

/* ---- the three loops ---- */

static const char *const names[3] = { "raw", "hv", "traced" };

struct results {
	double secs[3], per[3]; /* seconds, microseconds per exit */
	long exits[3];
};

static int run_three(const char *guest, const char *cmdline, const char *trace_path,
		     struct results *res)
{
	for (int i = 0; i < 3; i++) {
		struct vm_options opt = {
			.mem_mib = HV_MEM_DEFAULT_MIB, .guest_path = guest, .cmdline = cmdline,
			.trace_path = i == 2 ? trace_path : NULL, .trace_limit = BENCH_TRACE_LIMIT,
			.quiet = true,
		};
		if (measure(names[i], &opt, &res->secs[i], &res->exits[i]) < 0)
			return -1;
		res->per[i] = res->secs[i] / (double)res->exits[i] * 1e6;
	}
	return 0;
}

static void print_three(const struct results *res)
{
	printf("  %-8s %10s %10s %12s %8s\n", "loop", "exits", "seconds", "us/exit", "x raw");
	for (int i = 0; i < 3; i++)
		printf("  %-8s %10ld %10.3f %12.3f %8.2f\n", names[i], res->exits[i], res->secs[i],
		       res->per[i], res->per[i] / res->per[0]);
}

/* ---- anchors: hv next to QEMU on the same KVM, both as processes ---- */

#define QEMU "qemu-system-x86_64"
#define ANCHOR_TIMEOUT_S 600.0
#define STARTUP_RUNS 5

struct paths {
	char hv[PATH_MAX], exits_bin[PATH_MAX], exits_elf[PATH_MAX], hello_bin[PATH_MAX],
		hello_elf[PATH_MAX];
};

/* The guests live next to GUEST; hv is ../hv next to this program (build/bench/exitbench). */
static void find_paths(struct paths *p, const char *guest, const char *hv)
{
	char g[PATH_MAX], self[PATH_MAX] = ".";
	snprintf(g, sizeof g, "%s", guest);
	const char *dir = dirname(g);
	snprintf(p->exits_bin, sizeof p->exits_bin, "%s", guest);
	snprintf(p->exits_elf, sizeof p->exits_elf, "%s/exits.elf", dir);
	snprintf(p->hello_bin, sizeof p->hello_bin, "%s/hello32.bin", dir);
	snprintf(p->hello_elf, sizeof p->hello_elf, "%s/hello32.elf", dir);
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 1] = '\0';
	if (hv)
		snprintf(p->hv, sizeof p->hv, "%s", hv);
	else
		snprintf(p->hv, sizeof p->hv, "%s/../hv", dirname(self));
}

/*
 * QEMU's microvm with what the guests expect of hv: isa-debug-exit at 0xF4 (the guest's OUT
 * there ends QEMU with status (value << 1) | 1, hv's convention), COM1 on stdout, the same
 * 16 MiB of RAM. -no-reboot: a triple fault ends QEMU instead of restarting the guest.
 */
#define QEMU_ARGS(kernel) QEMU, "-M", "microvm", "-accel", "kvm", "-m", "16M", "-nographic", \
	"-no-reboot", "-nodefaults", "-serial", "stdio", "-device", \
	"isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", kernel

/* One run of the exits guest as a process: its wall time, or -1 with the reason in *why. */
static double exits_process(const struct paths *p, int qemu, const char *cmd, int want_status,
			    const char **why, struct spawn_result *r)
{
	const char *hv_argv[] = { p->hv, "run", "--quiet", "--cmdline", cmd, p->exits_bin, NULL };
	const char *q_argv[] = { QEMU_ARGS(p->exits_elf), "-device", "pc-testdev", "-append", cmd,
				 NULL };
	if (spawn_run(qemu ? q_argv : hv_argv, 0, ANCHOR_TIMEOUT_S, r) < 0) {
		*why = "could not start a process";
		return -1;
	}
	if (r->status != want_status) { /* 127: not installed; else e.g. -accel kvm refused */
		*why = r->err_line[0] ? r->err_line : "it ended with another status";
		return -1;
	}
	return r->total_s;
}

/*
 * QEMU ends with status 1 both when our guest says "done" (OUT 0 to isa-debug-exit) and when
 * QEMU itself fails (no KVM, a bad option). So first a run only our guest can end with 3: on
 * loops=1 without exits.dev=pc-testdev, the IN from port 0x500 reads 0xFFFFFFFF, the check
 * fails and the guest writes 1 (test_qemu.c does the same).
 */
static int qemu_runs_guest(const struct paths *p)
{
	struct spawn_result r;
	const char *why = NULL;
	if (exits_process(p, 1, "loops=1", 3, &why, &r) >= 0)
		return 1;
	printf("  %-6s not measured: " QEMU " -accel kvm -M microvm did not run the guest "
	       "(status %d): %s\n", "qemu", r.status, why);
	return 0;
}

/* Time per exit from two process runs: (T(loops) - T(1)) / (10 x (loops - 1)), printed. */
static double per_exit_process(const struct paths *p, int qemu, long loops)
{
	struct spawn_result r;
	const char *why = NULL;
	char one[64], many[64];
	const char *dev = qemu ? " exits.dev=pc-testdev" : "";
	snprintf(one, sizeof one, "loops=1%s", dev);
	snprintf(many, sizeof many, "loops=%ld%s", loops, dev);
	double small = exits_process(p, qemu, one, 1, &why, &r);
	double big = small < 0 ? -1 : exits_process(p, qemu, many, 1, &why, &r);
	const char *name = qemu ? "qemu" : "hv";
	if (big < 0) {
		printf("  %-6s not measured: %s (status %d): %s\n", name, qemu ? QEMU : p->hv,
		       r.status, why);
		return -1;
	}
	double us = (big - small) / (10.0 * (double)(loops - 1)) * 1e6;
	printf("  %-6s %10.3f s for %ld loops %10.3f us/exit\n", name, big, loops, us);
	return us;
}

static void anchor_exits(const struct paths *p, long loops)
{
	printf("anchor 1: the same guest as a process, hv vs QEMU microvm -accel kvm (pc-testdev);\n"
	       "          us/exit = (wall time of %ld loops - wall time of 1 loop) / %ld exits\n",
	       loops, 10 * (loops - 1));
	if (loops < 2) {
		printf("  not measured: needs LOOPS >= 2\n");
		return;
	}
	double hv = per_exit_process(p, 0, loops);
	if (hv < 0 || !qemu_runs_guest(p))
		return;
	double q = per_exit_process(p, 1, loops);
	if (q > 0)
		printf("  hv/qemu %.2f per exit\n", hv / q);
}

/* Best of STARTUP_RUNS: the fastest first byte, the largest peak RSS. */
static int startup(const char *const *argv, int qemu, double *first_s, long *rss)
{
	*first_s = 1e9;
	*rss = 0;
	for (int i = 0; i < STARTUP_RUNS; i++) {
		struct spawn_result r;
		/* QEMU keeps hello32's final `cli; hlt` as a halted CPU: killed after its line. */
		if (spawn_run(argv, qemu, 60.0, &r) < 0 ||
		    strcmp(r.out, "Hello from protected mode\n") != 0) {
			printf("  %-6s not measured: %s (status %d): %s\n", qemu ? "qemu" : "hv",
			       argv[0], r.status, r.err_line[0] ? r.err_line : "no hello line");
			return -1;
		}
		*first_s = r.first_out_s < *first_s ? r.first_out_s : *first_s;
		*rss = r.maxrss_kib > *rss ? r.maxrss_kib : *rss;
	}
	return 0;
}

static void anchor_startup(const struct paths *p)
{
	const char *hv_argv[] = { p->hv, "run", "--quiet", p->hello_bin, NULL };
	const char *q_argv[] = { QEMU_ARGS(p->hello_elf), NULL };
	double hv_s, q_s;
	long hv_rss, q_rss;
	printf("anchor 2: hello32, fork to its first serial byte and peak RSS (wait4 ru_maxrss), "
	       "best of %d\n", STARTUP_RUNS);
	if (startup(hv_argv, 0, &hv_s, &hv_rss) < 0)
		return;
	printf("  %-6s %10.1f ms %10ld KiB\n", "hv", hv_s * 1e3, hv_rss);
	if (startup(q_argv, 1, &q_s, &q_rss) < 0)
		return;
	printf("  %-6s %10.1f ms %10ld KiB\n", "qemu", q_s * 1e3, q_rss);
	printf("  hv/qemu %.2f start-up, %.2f peak RSS\n", hv_s / q_s, (double)hv_rss / (double)q_rss);
}

static int usage(void)
{
	fprintf(stderr, "usage: exitbench [--keep-trace FILE] [--no-anchors] [--hv PATH] GUEST "
		"[LOOPS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "keep-trace", required_argument, 0, 'k' },
						  { "no-anchors", no_argument, 0, 'n' },
						  { "hv", required_argument, 0, 'h' },
						  { 0, 0, 0, 0 } };
	const char *keep = NULL, *hv = NULL;
	int anchors = 1;
	for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
		if (c == 'k')
			keep = optarg;
		else if (c == 'h')
			hv = optarg;
		else if (c == 'n')
			anchors = 0;
		else
			return usage();
	}
	if (argc - optind < 1 || argc - optind > 2)
		return usage();
	const char *guest = argv[optind];
	long loops = argc - optind == 2 ? strtol(argv[optind + 1], NULL, 10) : 20000;
	if (loops < 1 || loops > 10000000) {
		fprintf(stderr, "exitbench: LOOPS must be 1..10000000\n");
		return 2;
	}
	char cmdline[64], tmp[] = "/tmp/exitbench.XXXXXX";
	snprintf(cmdline, sizeof(cmdline), "loops=%ld", loops);
	if (!keep) {
		int fd = mkstemp(tmp);
		if (fd < 0) {
			perror("exitbench: mkstemp");
			return 1;
		}
		close(fd);
	}
	const char *trace_path = keep ? keep : tmp;

	print_host();
	printf("exitbench: %ld loops of the exits guest, one run each way\n", loops);
	fflush(stdout);
	struct results res;
	int bad = run_three(guest, cmdline, trace_path, &res);
	if (!bad) {
		print_three(&res);
		bad = check_trace(trace_path, res.exits[2]);
	}
	if (!keep)
		unlink(trace_path);
	if (bad)
		return 1;
	printf("  hv/raw %.2f, traced/raw %.2f\n", res.per[1] / res.per[0], res.per[2] / res.per[0]);
	if (anchors) {
		struct paths p;
		find_paths(&p, guest, hv);
		fflush(stdout);
		anchor_exits(&p, loops);
		anchor_startup(&p);
	}
	return 0;
}
