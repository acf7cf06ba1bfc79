/*
 * main.c - the `hv` command: run a guest, read a trace, check the host.
 *
 * Concept: this file is only the front door. It turns the command line into options and
 * calls the pieces in the order a VM comes to life: vm_prepare (hv/vm.c) checks the user's
 * files without KVM, vm_build builds the machine, vm_run starts the vCPU thread whose exit loop (hv/vcpu.c) is the heart of hv. With --viz,
 * hvviz watches the run on the terminal (hv/vizlink.c).
 *
 *   hv run [--mem MiB] [--mode real|protected|long] [--trace FILE] [--cmdline STR]
 *          [--timeout SEC] [--disk FILE] [--disk-path legacy|virtio]
 *          [--cache writeback|writethrough|none|unsafe] [--ioeventfd] [--read-only]
 *          [--trace-limit MiB] [--quiet] [--step SYMBOL [--step-count N] [--step-seek]]
 *          [--viz[=step]] [--gdb [ADDR:]PORT [--gdb-nowait]] GUEST
 *   hv run [options] --kernel BZIMAGE [--initrd FILE] [--cmdline STR]    a Linux kernel
 *   hv run [options] [--initrd FILE] VMLINUX     an ELF kernel with the PVH note: a PVH module
 *   hv trace stats FILE          exits by reason, port/address, mode; KVM's counters
 *   hv trace dump [--json] FILE  one line per event
 *   hv doctor [--json|--class]   which KVM this host has and what works on it
 *
 * Environment: HVLAB_KVM_DEVICE, the KVM device (default /dev/kvm; hv/hostinfo.c).
 *
 * Textbook: chapter 1 "The guests", section "Running your first guest"; the exit statuses are
 * in chapter 3 "Exits", section "When the guest dies".
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdbhv.h"
#include "layout.h"
#include "vizlink.h"
#include "vm.h"
#include "trace_read.h"
#include "trace_dump.h"
#include "trace_stats.h"

#define HV_VERSION "0.1"

/* The usage text goes to stdout when asked for (--help, status 0) and to stderr after a mistake
 * (status HV_EXIT_USAGE): scripts can pipe the one and still see the other. */
static const char usage[] =
	"usage: hv run [--mem MiB] [--mode real|protected|long] [--trace FILE]\n"
	"              [--cmdline STR] [--timeout SEC] [--disk FILE]\n"
	"              [--disk-path legacy|virtio] [--cache writeback|writethrough|none|unsafe]\n"
	"              [--ioeventfd] [--read-only] [--trace-limit MiB] [--quiet]\n"
	"              [--step SYMBOL|ADDRESS [--step-count N] [--step-seek]]\n"
	"              [--viz[=step]] [--gdb [ADDR:]PORT [--gdb-nowait]] GUEST\n"
	"       hv run [options] --kernel BZIMAGE [--initrd FILE] [--cmdline STR]\n"
	"       hv run [options] [--initrd FILE] VMLINUX   (an ELF kernel with the PVH note)\n"
	"       hv trace stats FILE\n"
	"       hv trace dump [--json] FILE\n"
	"       hv doctor [--json|--class]\n"
	"       hv --version\n"
	"console:\n"
	"  the guest's serial port (COM1) prints to stdout and reads stdin. On a terminal:\n"
	"  Ctrl-C stops hv, Ctrl-A x quits too, Ctrl-A c sends Ctrl-C to the guest\n"
	"environment:\n"
	"  HVLAB_KVM_DEVICE  the KVM device hv opens (default /dev/kvm). Set to a path that does\n"
	"                    not exist, hv behaves as on a host without KVM (tests, teaching)\n";

/*
 * Every command-line mistake is status 2 (HV_EXIT_USAGE), as for most Unix tools. hv's own
 * statuses are even and the guest's are odd (layout.h), so a test can always tell whether hv
 * refused to start or the guest chose to end.
 */
static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "hv: %s '%s' (see 'hv --help')\n", what, arg);
	return HV_EXIT_USAGE;
}

/* Names or code widths: "real"/16, "protected"/32, "long"/64. The numbers are the boot header's
 * mode byte and the values of enum boot_mode (loader.h). */
static int parse_mode(const char *s, enum boot_mode *mode)
{
	if (!strcmp(s, "real") || !strcmp(s, "16"))
		*mode = BOOT_REAL;
	else if (!strcmp(s, "protected") || !strcmp(s, "32"))
		*mode = BOOT_PROTECTED;
	else if (!strcmp(s, "long") || !strcmp(s, "64"))
		*mode = BOOT_LONG;
	else
		return -1;
	return 0;
}

/*
 * A whole number in [lo, hi], digits only, nothing else on the line. strtoul alone is a poor
 * validator: it skips leading blanks, accepts a sign ("+64", and "-1" becomes ULONG_MAX), stops
 * quietly at the first non-digit, and reports overflow only through errno. Hence the extra
 * tests: the first character must be a digit (no blank, no sign, not empty), errno (overflow),
 * *end (trailing text).
 */
static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/*
 * `hv run` in three steps, each short enough to read at once: run_parse_args turns the words
 * into struct run_options, run_check refuses combinations that make no sense (and fills in
 * defaults that depend on other options), run_vm brings the VM to life. Nothing touches a
 * file or KVM before run_vm, so a typo costs nothing.
 */
struct run_options {
	struct vm_options vm;  /* what vm_prepare/vm_build/vm_run are told (vm.h) */
	struct viz viz;        /* --viz: off until given (vizlink.h) */
	struct gdb_options gdb; /* --gdb [ADDR:]PORT, --gdb-nowait (gdbhv.h) */
	bool cache_given;      /* --cache was typed: refused without a disk, not silently ignored */
	bool help;             /* --help: print the usage, run nothing */
};

/*
 * The options about the machine and the trace. Returns 0, or the exit status of a mistake
 * (HV_EXIT_USAGE) after printing one line about it.
 */
static int run_option_machine(int c, const char *arg, struct run_options *ro)
{
	struct vm_options *opt = &ro->vm;
	unsigned long v;
	switch (c) {
	case 'm':
		/*
		 * The bounds come from the memory map (layout.h): enough RAM for hv's tables and a
		 * guest at 1 MiB, and RAM must end below the MMIO window at 0xD0000000.
		 */
		if (parse_uint(arg, HV_MEM_MIN_MIB, HV_MEM_MAX_MIB, &v) < 0) {
			fprintf(stderr, "hv: bad --mem '%s' (give MiB, %u to %u)\n", arg,
				HV_MEM_MIN_MIB, HV_MEM_MAX_MIB);
			return HV_EXIT_USAGE;
		}
		opt->mem_mib = (uint32_t)v;
		return 0;
	/* Without --mode (BOOT_AUTO) the guest file decides: a flat binary's boot header names
	 * its mode (no header: real mode), an ELF its class and PVH note (hv/loader.c). --mode
	 * overrides the file. */
	case 'M':
		if (parse_mode(arg, &opt->mode) < 0)
			return usage_error("bad --mode (use real, protected or long):", arg);
		return 0;
	/*
	 * The trace is created in vm.c step 0, after the guest and the disk were checked: a bad
	 * guest file leaves no empty trace behind. The command line is copied to guest-physical
	 * 0x600 and announced in the PVH start-info block, as a boot loader hands Linux its
	 * command line.
	 */
	case 't': opt->trace_path = arg; return 0;
	case 'c': opt->cmdline = arg; return 0;
	case 'T':
		/* A guest in an endless loop without I/O makes no exit that reaches hv: only the
		 * clock can stop it (vm.c, wait_vcpu). The run then ends with HV_EXIT_TIMEOUT (14),
		 * an even status: hv stopped the guest, the guest did not choose to end. */
		if (parse_uint(arg, 1, 86400, &v) < 0)
			return usage_error("bad --timeout (whole seconds, 1 to 86400):", arg);
		opt->timeout_s = (double)v;
		return 0;
	/* A guest decides how many exits it makes, so it decides the trace's size: 256 bytes per
	 * exit. The limit keeps a runaway guest from filling the disk. */
	case 'L':
		if (parse_uint(arg, 1, 1u << 20, &v) < 0)
			return usage_error("bad --trace-limit (MiB, 1 to 1048576):", arg);
		opt->trace_limit = (uint64_t)v << 20;
		return 0;
	case 'q': opt->quiet = true; return 0;
	/* A Linux bzImage instead of GUEST, loaded by the Linux boot protocol (hv/linuxboot.c,
	 * textbook ch 11 "Booting Linux"), and the initrd it unpacks as its first file system. */
	case 'k': opt->guest_path = arg; opt->linux_kernel = true; return 0;
	case 'i': opt->initrd_path = arg; return 0; /* with an ELF kernel: a PVH module */
	/* Watch the run in hvviz (hv/vizlink.c): --viz runs freely, --viz=step waits for the user
	 * before every entry. Only the "=" form: "--viz step" would make "step" the guest file. */
	case 'V':
		if (viz_parse(&ro->viz, arg) < 0)
			return usage_error("bad --viz (use --viz or --viz=step):", arg);
		return 0;
	}
	return -1; /* not one of these: the caller tries the next group */
}

/* The options about the disk and single-stepping; same contract as run_option_machine. */
static int run_option_disk_step(int c, const char *arg, struct run_options *ro)
{
	struct vm_options *opt = &ro->vm;
	unsigned long v;
	switch (c) {
	/*
	 * The disk (textbook chapter 4). --disk alone attaches FILE to virtio-blk; --disk-path
	 * alone gives the guest a scratch image (HV_SCRATCH_DISK_MIB), so a demo needs no file.
	 * Both controllers are never present at once.
	 */
	case 'd': opt->disk_file = arg; return 0;
	/* The two I/O paths of chapter 4. legacy: an ATA drive at ports 0x1F0-0x1F7 and 0x3F6
	 * (hv/dev/ata.c), full virtualization, an exit per register access and per data word
	 * written. virtio: virtio-blk behind a virtio-mmio window (hv/dev/virtio_mmio.c),
	 * para-virtualization, an exit per doorbell. */
	case 'p':
		if (!strcmp(arg, "legacy"))
			opt->disk_path = DISK_PATH_LEGACY;
		else if (!strcmp(arg, "virtio"))
			opt->disk_path = DISK_PATH_VIRTIO;
		else
			return usage_error("bad --disk-path (use legacy or virtio):", arg);
		return 0;
	/* How hv's writes pass the host's page cache: four of QEMU's five modes (no directsync),
	 * from writeback (fast, durable at the guest's FLUSH) to unsafe (FLUSH ignored).
	 * Textbook ch04 "Cache modes". */
	case 'C':
		if (disk_cache_parse(arg, &opt->cache) < 0)
			return usage_error("bad --cache (use writeback, writethrough, none or unsafe):",
					   arg);
		ro->cache_given = true;
		return 0;
	/* KVM_IOEVENTFD: KVM matches the guest's write to QueueNotify in the kernel and signals
	 * an eventfd instead of exiting to hv; hv's I/O thread serves the queue (hv/iothread.c).
	 * Textbook ch04 "ioeventfd: a doorbell that stays in the kernel". */
	case 'e': opt->ioeventfd = true; return 0;
	/* The image is opened O_RDONLY; virtio-blk offers VIRTIO_BLK_F_RO, the ATA disk aborts
	 * writes. Good for sharing one image between several runs. */
	case 'r': opt->read_only = true; return 0;
	/* Single-stepping (hv/step.c, textbook chapter 5): each instruction is one exit, so the
	 * window is short by design. The symbol is looked up after loading. */
	case 's':
		if (!arg[0])
			return usage_error("empty --step (give a symbol of the guest's ELF or an "
					   "address):", arg);
		opt->step_at = arg;
		return 0;
	case 'S': opt->step_seek = true; return 0;
	case 'n':
		if (parse_uint(arg, 1, HV_STEP_MAX, &v) < 0) {
			fprintf(stderr, "hv: bad --step-count '%s' (instructions, 1 to %u)\n", arg,
				HV_STEP_MAX);
			return HV_EXIT_USAGE;
		}
		opt->step_count = (uint32_t)v;
		return 0;
	/* A gdb stub (hv/gdbhv.c): listen on 127.0.0.1:PORT (another address only when named:
	 * the protocol has no password), hold the guest before its first instruction until gdb
	 * says continue; --gdb-nowait starts it at once. */
	case 'g': {
		char host[64], err[160];
		uint16_t port;
		if (gdb_parse_spec(arg, host, sizeof host, &port, err, sizeof err) < 0) {
			fprintf(stderr, "hv: %s\n", err);
			return HV_EXIT_USAGE;
		}
		ro->gdb.spec = arg;
		return 0;
	}
	case 'G': ro->gdb.nowait = true; return 0;
	}
	return -1;
}

/* The command line of `hv run` into *ro. Returns 0, or the exit status of a mistake. */
static int run_parse_args(int argc, char **argv, struct run_options *ro)
{
	static const struct option longopts[] = {
		{ "mem", required_argument, 0, 'm' },   { "mode", required_argument, 0, 'M' },
		{ "trace", required_argument, 0, 't' }, { "cmdline", required_argument, 0, 'c' },
		{ "timeout", required_argument, 0, 'T' }, { "help", no_argument, 0, 'h' },
		{ "disk", required_argument, 0, 'd' },  { "disk-path", required_argument, 0, 'p' },
		{ "cache", required_argument, 0, 'C' }, { "ioeventfd", no_argument, 0, 'e' },
		{ "quiet", no_argument, 0, 'q' },      { "read-only", no_argument, 0, 'r' },
		{ "trace-limit", required_argument, 0, 'L' },
		{ "step", required_argument, 0, 's' },  { "step-count", required_argument, 0, 'n' },
		{ "step-seek", no_argument, 0, 'S' },
		{ "viz", optional_argument, 0, 'V' },
		{ "gdb", required_argument, 0, 'g' },   { "gdb-nowait", no_argument, 0, 'G' },
		{ "kernel", required_argument, 0, 'k' }, { "initrd", required_argument, 0, 'i' },
		{ 0, 0, 0, 0 },
	};
	*ro = (struct run_options){
		.vm = { .mem_mib = HV_MEM_DEFAULT_MIB, .mode = BOOT_AUTO,
			.trace_limit = (uint64_t)HV_TRACE_LIMIT_DEFAULT_MIB << 20 },
		.viz = { .on = false },
	};
	int c;
	/*
	 * opterr = 0: getopt prints nothing itself; hv prints its own one-line message. The "+"
	 * in the option string stops at the first non-option word (the GUEST), so anything after
	 * it is not mistaken for an option of hv's: it is an extra argument, and refused below.
	 */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (c == 'h') {
			ro->help = true;
			return 0;
		}
		int status = run_option_machine(c, optarg, ro);
		if (status < 0)
			status = run_option_disk_step(c, optarg, ro);
		/* getopt returns '?' for an unknown option or one without its argument;
		 * argv[optind - 1] is the word it stopped at. */
		if (status < 0)
			return usage_error("unknown or incomplete option", argv[optind - 1]);
		if (status > 0)
			return status;
	}
	/* --kernel names the guest itself: then no GUEST word may follow. */
	if (ro->vm.linux_kernel && optind != argc) {
		fprintf(stderr, "hv: --kernel names the guest; '%s' is one guest too many\n",
			argv[optind]);
		return HV_EXIT_USAGE;
	}
	if (ro->vm.linux_kernel)
		return 0;
	if (optind != argc - 1) {
		fprintf(stderr, "hv: run needs exactly one GUEST file (e.g. hv run build/guest/hello16.bin)\n");
		return HV_EXIT_USAGE;
	}
	ro->vm.guest_path = argv[optind];
	return 0;
}

/*
 * Options that are each fine alone but make no sense together, and the defaults that depend
 * on other options. Returns 0, or HV_EXIT_USAGE after one line naming the fix.
 */
static int run_check(struct run_options *ro)
{
	struct vm_options *opt = &ro->vm;
	if ((opt->step_count || opt->step_seek) && !opt->step_at) {
		fprintf(stderr, "hv: --step-count and --step-seek need --step SYMBOL (where to start "
			"stepping)\n");
		return HV_EXIT_USAGE;
	}
	/* The boot protocol decides how a bzImage starts. (--initrd without --kernel: an ELF
	 * kernel gets it as a PVH module, if it has the PVH note; vm.c checks.) */
	if (opt->linux_kernel && opt->mode != BOOT_AUTO) {
		fprintf(stderr, "hv: --mode cannot be combined with --kernel (the Linux boot protocol "
			"enters a bzImage in long mode)\n");
		return HV_EXIT_USAGE;
	}
	if (opt->step_at && !opt->step_count)
		opt->step_count = HV_STEP_DEFAULT;
	if (ro->gdb.nowait && !ro->gdb.spec) {
		fprintf(stderr, "hv: --gdb-nowait needs --gdb [ADDR:]PORT\n");
		return HV_EXIT_USAGE;
	}
	/* Both want the guest's debug registers and trap flag (KVM_SET_GUEST_DEBUG) to themselves. */
	if (ro->gdb.spec && (opt->step_at || ro->viz.on)) {
		fprintf(stderr, "hv: --gdb cannot be combined with --step or --viz (gdb's stepi and "
			"breakpoints do what --step does)\n");
		return HV_EXIT_USAGE;
	}
	/* A disk with no path named gets virtio-blk, the path with the fewest exits; the legacy
	 * drive must be asked for by name. */
	if (opt->disk_file && opt->disk_path == DISK_PATH_NONE)
		opt->disk_path = DISK_PATH_VIRTIO;
	/* Options that only mean something with a disk are refused without one, not ignored. */
	if (opt->disk_path == DISK_PATH_NONE && (ro->cache_given || opt->ioeventfd || opt->read_only)) {
		fprintf(stderr, "hv: --cache, --ioeventfd and --read-only need a disk (add --disk FILE "
			"or --disk-path legacy|virtio)\n");
		return HV_EXIT_USAGE;
	}
	if (opt->read_only && !opt->disk_file) {
		fprintf(stderr, "hv: --read-only needs --disk FILE (a scratch disk is blank: nothing "
			"to read)\n");
		return HV_EXIT_USAGE;
	}
	if (opt->ioeventfd && opt->disk_path == DISK_PATH_LEGACY) {
		fprintf(stderr, "hv: --ioeventfd diverts the virtio doorbell; the legacy disk has none "
			"(use --disk-path virtio)\n");
		return HV_EXIT_USAGE;
	}
	return 0;
}

/* Bring the VM to life with checked options; returns hv's exit status (layout.h). */
static int run_vm(struct run_options *ro)
{
	struct vm_options *opt = &ro->vm;
	/* --viz needs a terminal, hvviz, and a trace file (a temporary one without --trace). */
	int status = ro->viz.on ? viz_prepare(&ro->viz, opt) : 0;
	if (status)
		return status;
	/*
	 * First the user's files, then the machine: vm_prepare reads and checks the guest,
	 * resolves --step, opens the disk and the trace, all without KVM (vm.c, step 0), so a
	 * mistake in them is reported as such on any host, with or without /dev/kvm.
	 */
	struct vm_inputs in;
	status = vm_prepare(&in, opt);
	if (status) {
		viz_end(&ro->viz, status);
		return status;
	}
	/*
	 * struct vm is about 7 KiB (the console's 4 KiB buffer, the bus table) and is shared
	 * with the vCPU thread for the whole run; one calloc keeps it off the stack. A VM's life
	 * is three calls: vm_build builds it (vm.c, steps 1-7), vm_run runs the exit loop until
	 * something asks to stop, vm_destroy takes it apart, and is safe after a vm_build that
	 * failed halfway.
	 */
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		fprintf(stderr, "hv: out of memory\n");
		vm_inputs_free(&in);
		viz_end(&ro->viz, HV_EXIT_HOST);
		return HV_EXIT_HOST;
	}
	/* On failure vm_build has already printed its one-line reason and returns HV_EXIT_USAGE
	 * or HV_EXIT_HOST (vm.h); nothing is added here, so every error stays one line. */
	status = vm_build(vm, opt, &in);
	vm_inputs_free(&in); /* the guest file's copy; the VM has its own in RAM */
	/* --viz: hvviz starts once the trace file exists; the VM has not run yet. */
	if (status == 0 && ro->viz.on)
		status = viz_start(&ro->viz, vm);
	/* --gdb: listen before the guest starts; the vCPU thread holds it until gdb says go. */
	if (status == 0 && ro->gdb.spec && gdb_server_start(vm, &ro->gdb) < 0)
		status = HV_EXIT_HOST;
	if (status == 0)
		status = vm_run(vm, opt);
	gdb_server_stop(vm);
	vm_destroy(vm);
	free(vm);
	viz_end(&ro->viz, status); /* --viz: name the log; a temporary trace is removed */
	return status;
}

static int cmd_run(int argc, char **argv)
{
	/*
	 * Guest output may go to a pipe whose reader quits (hv run ... | head). Then write()
	 * fails with EPIPE and the console counts the dropped bytes, instead of the default
	 * SIGPIPE killing hv before it can close the trace. Only `hv run` has a trace to save:
	 * the other commands keep the default, and a closed pipe ends them as it ends cat.
	 */
	signal(SIGPIPE, SIG_IGN);
	/* On this stack frame for the whole run: run_vm hands pointers into it to the vCPU
	 * thread and to hvviz's supervisor, and returns only when both are done. */
	struct run_options ro;
	int status = run_parse_args(argc, argv, &ro);
	if (status == 0 && ro.help) {
		fputs(usage, stdout);
		return 0;
	}
	if (status == 0)
		status = run_check(&ro);
	if (status == 0)
		status = run_vm(&ro);
	return status;
}

/*
 * `hv trace stats|dump FILE`. Reading a trace needs no KVM at all, so these commands work on any
 * machine, for instance on a trace a classmate recorded on another kind of host (the header says
 * which: textbook appendix A). A file that fails validation is bad input, so it is
 * HV_EXIT_USAGE, never a crash: trace_load checks every rule before it believes a number.
 */
static int cmd_trace(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "hv: trace needs a command: 'hv trace stats FILE' or "
			"'hv trace dump [--json] FILE'\n");
		return HV_EXIT_USAGE;
	}
	int json = 0, i = 2;
	if (!strcmp(argv[1], "dump") && i < argc && !strcmp(argv[i], "--json"))
		json = 1, i++;
	/* The subcommand is checked after "--json" was taken, but before the file is opened: a
	 * typo costs no trace load, which for a large trace is not free. */
	if (strcmp(argv[1], "stats") && strcmp(argv[1], "dump"))
		return usage_error("unknown trace command (use stats or dump):", argv[1]);
	if (i != argc - 1) {
		fprintf(stderr, "hv: trace %s needs one FILE (record one with 'hv run --trace FILE')\n",
			argv[1]);
		return HV_EXIT_USAGE;
	}
	struct trace_file tf;
	char err[512];
	if (trace_load(argv[i], &tf, err, sizeof(err)) < 0) {
		fprintf(stderr, "hv: %s\n", err);
		return HV_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "stats"))
		trace_print_stats(stdout, &tf);
	else
		trace_print_dump(stdout, &tf, json);
	trace_free(&tf);
	return 0;
}

/*
 * stdio buffers what we print, so a write that fails (a full disk: `> /dev/full`; a file size
 * limit) is often only noticed when the buffer is flushed at exit, and exit() ignores the error:
 * the output would be cut short and the status still 0, and a script would go on with half a
 * dump. So the commands that print a result flush and close stdout themselves and turn a failure
 * into one line and a non-zero status. A closed pipe (`hv trace dump big.hvt | head -1`) does not
 * get here: SIGPIPE, left at its default outside `hv run`, ends hv with status 128 + 13, which
 * is how `cat` stops too.
 */
static int finish_output(int status)
{
	errno = 0;
	bool failed = fflush(stdout) != 0;
	int e = errno;
	/* ferror: an earlier write failed even if this last flush had nothing left to write. */
	failed = failed || ferror(stdout);
	if (fclose(stdout) != 0 && !failed) {
		failed = true;
		e = errno;
	}
	if (!failed)
		return status;
	fprintf(stderr, "hv: writing the output failed: %s\n", strerror(e ? e : EIO));
	return status ? status : HV_EXIT_HOST;
}

static int dispatch(int argc, char **argv)
{
	/*
	 * Subcommands, git-style: the first word picks the tool, and each returns the process
	 * exit status directly. `hv doctor` is the one to run first on a new machine (textbook
	 * chapter 0 "Your host").
	 */
	const char *cmd = argv[1];
	/* trace and doctor need no KVM: they work on any machine, and doctor is what explains
	 * why `hv run` did not work on this one. */
	if (!strcmp(cmd, "trace"))
		return cmd_trace(argc - 1, argv + 1);
	if (!strcmp(cmd, "doctor"))
		return doctor_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("hv %s (hvlab)\n", HV_VERSION);
		return 0;
	}
	return usage_error("unknown command", cmd);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return HV_EXIT_USAGE;
	}
	/* `hv run`'s stdout is the guest's console: hv/console.c counts what could not be
	 * written, and the run's status is the guest's, so it is not checked here. */
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	return finish_output(dispatch(argc, argv));
}
