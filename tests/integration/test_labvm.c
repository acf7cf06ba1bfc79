/*
 * test_labvm.c - the lab VM keeps its promises (tests/labvm/: run.sh, init, fetch.sh, labvm.mk).
 *
 * The lab VM is QEMU TCG with an emulated AMD CPU (+svm) booting Debian's kernel, which gives
 * any host a real AMD-V /dev/kvm (textbook chapter 0, "The lab VM"). Everything `make test`,
 * `make demo` and `make labvm-run` send there relies on what run.sh promises:
 *
 *   - the command's output arrives, nothing else, and its exit status is run.sh's;
 *   - what the command writes in the repository is on the host when it ends;
 *   - LABVM_TIMEOUT ends a command that runs too long: status 124 and one line;
 *   - a VM that does not boot (not a kernel, a kernel panic, a kernel that hangs before init,
 *     a QEMU that refuses its options) is status 125 and one line that names the cause,
 *     never a hang;
 *   - bad usage is status 2 (make labvm-run without CMD: its one-line hint);
 *   - without network and without the cached kernel, fetch.sh ends in one line that says
 *     what to do;
 *   - LABVM_GDB_PORT forwards a port: gdb on the host debugs hv in the VM (make gdb,
 *     tests/labvm/gdb.sh), Ctrl-C included.
 *
 * These run on the host, on every kind of host: they need QEMU and the kernel fetched once
 * into build/labvm/ (make labvm-initramfs), not the host's KVM. Each boot costs about 5 s,
 * so the checks share boots where they can. Run from the repository root (make does).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"
#include "trace_read.h"

#define INITRD "build/labvm/initramfs.cpio"
#define RUN_SH "tests/labvm/run.sh"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

/* What the lab VM needs on the host; without it every test here fails with the fix. */
static void require_labvm(void)
{
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "qemu-system-x86_64", "--version", NULL });
	cr_assert_eq(r.status, 0, "qemu-system-x86_64 is not installed ('make deps' installs "
		     "qemu-system-x86): %s", r.err);
	cr_assert(access(INITRD, R_OK) == 0 && access("build/labvm/kernel/vmlinuz", R_OK) == 0,
		  "the lab VM is not built (run: make labvm-initramfs; from the repository root)");
}

/* A directory for the test's TMPDIR: run.sh keeps a failed boot's console log there, and
 * the harness removes it with the test's other temporary files. */
static const char *tmpdir(void)
{
	const char *d = tmp_path("tmpdir");
	mkdir(d, 0700);
	return d;
}

/*
 * tests/labvm/run.sh run INITRD cmd, with the lab VM's knobs at their defaults (an empty
 * value means the default) unless `extra` sets them: a LABVM_TIMEOUT exported by whoever
 * started the tests must not change what they check. Returns the seconds it took.
 */
static double labvm_run(struct hv_result *r, const char *extra1, const char *extra2, const char *cmd)
{
	static char tmpenv[600];
	snprintf(tmpenv, sizeof tmpenv, "TMPDIR=%s", tmpdir());
	const char *env[] = { "LABVM_KERNEL=", "LABVM_TIMEOUT=", "LABVM_BOOT_TIMEOUT=",
			      "LABVM_MEM=", "LABVM_ACCEL=", "LABVM_APPEND=", tmpenv,
			      extra1, extra2, NULL };
	double t0 = now();
	cmd_exec_env(r, env, (const char *[]){ "bash", RUN_SH, "run", INITRD, cmd, NULL });
	return now() - t0;
}

/* stderr is exactly one line, "labvm: ...", and holds each of the NULL-terminated words. */
static void assert_one_line(const struct hv_result *r, const char *const *words)
{
	cr_assert_eq(count_lines(r->err), 1, "expected one line on stderr, got:\n%s", r->err);
	cr_assert(!strncmp(r->err, "labvm: ", 7), "%s", r->err);
	for (; *words; words++)
		cr_assert(strstr(r->err, *words), "'%s' not in: %s", *words, r->err);
}

/* A failed boot's line names where the whole console was kept: it exists and holds `want`. */
static void assert_console_kept(const struct hv_result *r, const char *want)
{
	const char *p = strstr(r->err, "its console: ");
	cr_assert(p, "no 'its console: ' in: %s", r->err);
	p += strlen("its console: ");
	char path[512];
	size_t n = strcspn(p, ";");
	cr_assert(n < sizeof path);
	memcpy(path, p, n);
	path[n] = '\0';
	FILE *f = fopen(path, "r");
	cr_assert(f, "the console log %s named in the report does not exist", path);
	static char log[65536];
	size_t got = fread(log, 1, sizeof log - 1, f);
	log[got] = '\0';
	fclose(f);
	cr_assert(strstr(log, want), "'%s' not in the console log %s:\n%s", want, path, log);
}

/*
 * One boot: hv runs a guest in the VM (on its AMD-V KVM) and writes a trace into the
 * repository, which the host then reads; the command's output arrives with quotes of both
 * kinds intact, nothing of the VM's own, and run.sh's status is the command's.
 */
Test(labvm, run_passes_output_status_and_files_back_to_the_host, .timeout = 120)
{
	require_labvm();
	char trace[128], cmd[512];
	snprintf(trace, sizeof trace, "build/labvm-test-%d.hvt", (int)getpid());
	unlink(trace);
	snprintf(cmd, sizeof cmd,
		 "%s run --trace %s %s && printf '%%s|\\n' \"a b\" 'c  \"d\"' && exit 3",
		 env_or("HV", "build/hv"), trace, guest("hello16.bin"));
	struct hv_result r;
	labvm_run(&r, NULL, NULL, cmd);

	struct trace_file tf;
	char err[256];
	int loaded = trace_load(trace, &tf, err, sizeof err);
	unlink(trace);
	cr_assert_eq(r.status, 3, "status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	cr_assert_str_empty(r.err);
	cr_assert(strstr(r.out, "Hello from real mode\n"), "%s", r.out);
	cr_assert(strstr(r.out, "\na b|\nc  \"d\"|\n"), "quotes did not survive:\n%s", r.out);
	cr_assert(!strstr(r.out, "LABVM-") && !strstr(r.out, "qemu"), "the VM's own lines leaked "
		  "into the command's output:\n%s", r.out);

	/* On the host now, whole, recorded on the lab VM's nested AMD-V: one exit record per
	 * exit hv counted in its summary line. */
	cr_assert_eq(loaded, 0, "%s: %s", trace, err);
	uint64_t exits = 0;
	for (uint64_t i = 0; i < tf.count; i++)
		exits += tf.records[i].kind == HVT_EXIT;
	unsigned long long said = 0;
	const char *s = strstr(r.out, "hv: summary: ");
	cr_assert(s && sscanf(s, "hv: summary: %llu exits", &said) == 1, "%s", r.out);
	cr_assert_eq(exits, said, "trace has %llu exit records, hv counted %llu",
		     (unsigned long long)exits, said);
	cr_assert_gt(exits, 0);
	cr_assert_str_eq(tf.header.guest, "hello16.bin");
	cr_assert_eq(tf.header.host_kind, HVT_HOST_NESTED);
	cr_assert_eq(tf.header.dropped, 0);
	trace_free(&tf);
}

/* 125 is also what a VM that could not be set up ends with; a command that started and
 * exits 125 is passed on as it is, without a report of a set-up failure. */
Test(labvm, a_command_that_exits_125_is_not_a_set_up_failure, .timeout = 90)
{
	require_labvm();
	struct hv_result r;
	/* "ran" comes through bash's process substitution, which needs /dev/fd: devtmpfs has none
	 * and init makes it (a lab's answers.sh once failed in the VM for want of it). Then a TCP
	 * connect to a closed port on 127.0.0.1: "refused" means the loopback interface answered
	 * (init brings lo up; down, it is "Network is unreachable", and hv run --gdb is out of
	 * gdb's reach). */
	labvm_run(&r, NULL, NULL, "bash -c 'cat <(echo ran); (exec 3<>/dev/tcp/127.0.0.1/1) 2>&1 | "
		  "grep -q refused && echo lo-up'; exit 125");
	cr_assert_eq(r.status, 125, "status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	cr_assert_str_eq(r.out, "ran\nlo-up\n");
	cr_assert_str_empty(r.err);
}

/* The command has started (its first line arrived), then LABVM_TIMEOUT stops it. */
Test(labvm, timeout_stops_a_command_with_status_124, .timeout = 90)
{
	require_labvm();
	struct hv_result r;
	double took = labvm_run(&r, "LABVM_TIMEOUT=15", NULL, "echo started; sleep 600");
	cr_assert_eq(r.status, 124, "status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	cr_assert_str_eq(r.out, "started\n", "the command did not start within 15 s, or QEMU's "
			 "messages leaked into its output");
	assert_one_line(&r, (const char *[]){ "did not finish within 15 s", "LABVM_TIMEOUT", NULL });
	cr_assert_lt(took, 15 + 10, "took %.1f s", took);
}

/* A file that is no kernel at all: said before QEMU starts. */
Test(labvm, a_kernel_that_is_not_one_is_one_line_125, .timeout = 30)
{
	require_labvm();
	static char junk[64 * 1024];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = "not a kernel\n"[i % 13];
	const char *k = write_tmp("vmlinuz", junk, sizeof junk);
	char kenv[600];
	snprintf(kenv, sizeof kenv, "LABVM_KERNEL=%s", k);
	struct hv_result r;
	double took = labvm_run(&r, kenv, NULL, "true");
	cr_assert_eq(r.status, 125, "status %d: %s", r.status, r.err);
	cr_assert_str_empty(r.out);
	assert_one_line(&r, (const char *[]){ k, "is not a Linux kernel image", "LABVM_KERNEL", NULL });
	cr_assert_lt(took, 10, "took %.1f s", took);
}

/* A kernel that panics before init (no init it can run: rdinit names none) ends QEMU at once
 * (panic=-1, -no-reboot), long before the boot watchdog, and the line quotes the panic. */
Test(labvm, a_kernel_panic_before_init_is_one_line_125, .timeout = 90)
{
	require_labvm();
	struct hv_result r;
	double took = labvm_run(&r, "LABVM_APPEND=rdinit=/nonexistent", "LABVM_BOOT_TIMEOUT=60",
				"true");
	cr_assert_eq(r.status, 125, "status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	cr_assert_str_empty(r.out);
	assert_one_line(&r, (const char *[]){ "before the lab VM's init started",
					      "Kernel panic - not syncing", NULL });
	assert_console_kept(&r, "Kernel panic");
	cr_assert_lt(took, 40, "took %.1f s: did the panic not end QEMU?", took);
}

/* A kernel that hangs before the lab VM's init: PID 1 is busybox sleep (the kernel hands
 * unknown words of its command line to init as arguments). The boot watchdog ends it after
 * LABVM_BOOT_TIMEOUT, not LABVM_TIMEOUT. */
Test(labvm, a_kernel_that_hangs_before_init_is_stopped_by_the_boot_watchdog, .timeout = 90)
{
	require_labvm();
	struct hv_result r;
	double took = labvm_run(&r, "LABVM_APPEND=rdinit=/bin/busybox sleep 600",
				"LABVM_BOOT_TIMEOUT=6", "true");
	cr_assert_eq(r.status, 125, "status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	cr_assert_str_empty(r.out);
	assert_one_line(&r, (const char *[]){ "did not reach the lab VM's init within 6 s",
					      "LABVM_BOOT_TIMEOUT", NULL });
	assert_console_kept(&r, "");
	cr_assert(took >= 6 && took < 20, "took %.1f s", took);
}

/* A QEMU that refuses its options: one line quoting QEMU, at once. */
Test(labvm, a_qemu_that_does_not_start_is_one_line_125, .timeout = 60)
{
	require_labvm();
	static const char *const cases[][2] = {
		{ "LABVM_ACCEL=nonsense", "qemu-system-x86_64: -accel nonsense" },
		{ "LABVM_MEM=abc", "qemu-system-x86_64: -m abc" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct hv_result r;
		double took = labvm_run(&r, cases[i][0], NULL, "true");
		cr_assert_eq(r.status, 125, "%s: status %d: %s", cases[i][0], r.status, r.err);
		cr_assert_str_empty(r.out);
		assert_one_line(&r, (const char *[]){ "before the lab VM's init started",
						      cases[i][1], NULL });
		assert_console_kept(&r, cases[i][1]);
		cr_assert_lt(took, 10, "%s took %.1f s", cases[i][0], took);
	}
}

/* Usage: run.sh without a command is 2 and a usage line; make labvm-run without CMD fails
 * with its one-line hint before building anything. */
Test(labvm, usage_errors_are_one_line, .timeout = 60)
{
	require_labvm();
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "bash", RUN_SH, "run", INITRD, NULL });
	cr_assert_eq(r.status, 2, "status %d: %s", r.status, r.err);
	assert_one_line(&r, (const char *[]){ "usage: ", "CMD is missing", NULL });

	/* CMD, MAKEFLAGS, MAKELEVEL emptied: neither a CMD in the environment nor an outer
	 * make's jobserver reaches this make. */
	cmd_exec_env(&r, (const char *[]){ "CMD=", "MAKEFLAGS=", "MAKELEVEL=", NULL },
		     (const char *[]){ "make", "-s", "--no-print-directory", "labvm-run", NULL });
	cr_assert_neq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.err, "labvm: make labvm-run needs a command: make labvm-run CMD='"),
		  "%s", r.err);
	int labvm_lines = 0;
	for (const char *p = r.err; (p = strstr(p, "labvm: ")); p++)
		labvm_lines++;
	cr_assert_eq(labvm_lines, 1, "%s", r.err);
	cr_assert_str_empty(r.out);
}

/* fetch.sh in a network namespace of its own (unshare -n: no network at all), into an empty
 * directory. Needs root for the namespace. */
static void require_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root: unshare -n (a network namespace of its own) is how this "
			     "test takes the network away from fetch.sh");
}

static void assert_says_what_to_do(const struct hv_result *r, const char *dir, const char *log)
{
	cr_assert_eq(r->status, 1, "status %d\nstdout:\n%s\nstderr:\n%s", r->status, r->out, r->err);
	assert_one_line(r, (const char *[]){ "no network", "make labvm-initramfs", log, NULL });
	char path[600];
	snprintf(path, sizeof path, "%s/kernel/vmlinuz", dir);
	cr_assert(access(path, F_OK) != 0, "%s exists", path);
}

Test(labvm, fetch_without_network_says_what_to_do, .timeout = 90)
{
	require_root();
	const char *dir = tmp_path("labvm");
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "unshare", "-n", "sh", "tests/labvm/fetch.sh", dir, NULL });
	/* With the host's package lists, the download fails; on a host without any, apt-get
	 * update does (see the next test). */
	char log[600];
	snprintf(log, sizeof log, "%s/deb/", dir);
	assert_says_what_to_do(&r, dir, log);
}

/* The same on a machine that has no Debian package lists yet: fetch.sh runs apt-get update,
 * which without network only warns and exits 0. APT_CONFIG points apt at empty list and
 * cache directories of this test's own (the host's are not touched), and without retries
 * (apt's backoff would only add seconds here). */
Test(labvm, fetch_without_network_or_package_lists_says_what_to_do, .timeout = 90)
{
	require_root();
	const char *lists = tmp_path("lists"), *cache = tmp_path("cache");
	char p[600];
	mkdir(lists, 0755);
	snprintf(p, sizeof p, "%s/partial", lists);
	mkdir(p, 0755);
	mkdir(cache, 0755);
	char conf[1400];
	snprintf(conf, sizeof conf, "Dir::State::Lists \"%s\";\nDir::Cache \"%s\";\n"
		 "Acquire::Retries \"0\";\n", lists, cache);
	const char *conf_path = write_tmp("apt.conf", conf, strlen(conf));
	char apt_env[600];
	snprintf(apt_env, sizeof apt_env, "APT_CONFIG=%s", conf_path);

	const char *dir = tmp_path("labvm");
	struct hv_result r;
	cmd_exec_env(&r, (const char *[]){ apt_env, NULL },
		     (const char *[]){ "unshare", "-n", "sh", "tests/labvm/fetch.sh", dir, NULL });
	char log[700];
	snprintf(log, sizeof log, "%s/deb/update.log", dir);
	assert_says_what_to_do(&r, dir, log);
	cr_assert(strstr(r.err, "even after apt-get update"), "%s", r.err);
	cr_assert(access(log, R_OK) == 0, "%s", log);
	cr_assert(strstr(r.out, "running apt-get update once"), "%s", r.out);
}

/*
 * The gdb port (run.sh, "The gdb port"; tests/labvm/gdb.sh, which `make gdb` runs): hv runs in
 * the lab VM with --gdb, and the host's own gdb connects to the host's 127.0.0.1:PORT, which
 * QEMU passes to the VM's second serial port and the VM's init relays to hv. gdb breaks on a
 * guest symbol (in the VM a seek: TF steps, gdbhv.c), reads a register the guest set, and
 * continues to the guest's normal end, which gdb hears as "exited normally".
 */
Test(labvm, gdb_on_the_host_debugs_hv_in_the_lab_vm, .timeout = 200)
{
	require_labvm();
	cr_assert(access("/usr/bin/gdb", X_OK) == 0, "gdb is not installed ('make deps' installs it)");
	static char port[32], obuild[300], tmpenv[600];
	snprintf(port, sizeof port, "GDB_PORT=%d", free_tcp_port());
	/* gdb.sh runs $O/hv: the build tree of the hv under test (build, or build/san) */
	const char *hv = env_or("HV", "build/hv");
	const char *slash = strrchr(hv, '/');
	snprintf(obuild, sizeof obuild, "O=%.*s", slash ? (int)(slash - hv) : 1, slash ? hv : ".");
	snprintf(tmpenv, sizeof tmpenv, "TMPDIR=%s", tmpdir());
	const char *env[] = { "LABVM_KERNEL=", "LABVM_TIMEOUT=", "LABVM_BOOT_TIMEOUT=",
			      "LABVM_MEM=", "LABVM_ACCEL=", "LABVM_APPEND=", "HV_ARGS=", tmpenv,
			      port, obuild, NULL };
	struct hv_result r;
	cmd_exec_env(&r, env, (const char *[]){ "bash", "tests/labvm/gdb.sh", "--labvm",
				guest("hello32.elf"), "-batch", "-ex", "break guest_main", "-ex",
				"continue", "-ex", "info registers eip", "-ex",
				"print $esp == (unsigned)&stack_top - 8", "-ex", "x/a $esp", "-ex",
				"continue", NULL });
	cr_assert_eq(r.status, 0, "status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "hv runs in the lab VM"), "%s", r.out);
	/* hv listened in the VM; init's relay joined it to the forwarded serial port */
	cr_assert(strstr(r.out, "labvm: gdb relay: the host's 127.0.0.1:"), "%s", r.out);
	cr_assert(strstr(r.out, "Breakpoint 1, guest_main"), "%s\n%s", r.out, r.err);
	cr_assert(strstr(r.out, "eip            0x") && strstr(r.out, "<guest_main>"),
		  "info registers eip: %s", r.out);
	/* _start set esp to stack_top, pushed guest_main's argument and called it: esp is
	 * stack_top - 8, and the word there is the return address into _start */
	cr_assert(strstr(r.out, "$1 = 1\n"), "esp is not stack_top - 8: %s", r.out);
	cr_assert(strstr(r.out, "<_start+"), "no return address into _start at esp: %s", r.out);
	cr_assert(strstr(r.out, "Hello from protected mode"), "guest output: %s", r.out);
	cr_assert(strstr(r.out, "[Inferior 1 (Remote target) exited normally]"), "%s", r.out);
	cr_assert(strstr(r.out, "hv ended with status 0"), "%s", r.out);
}

/* One gdb packet out ($payload#checksum); then bytes in until a whole reply packet ($...#xx)
 * is in buf (a '+' acknowledgement may come first). false: the socket ended or timed out. */
static bool gdb_xchg(int s, const char *payload, char *buf, size_t cap)
{
	char pkt[256];
	unsigned sum = 0;
	for (const char *p = payload; *p; p++)
		sum += (unsigned char)*p;
	int n = snprintf(pkt, sizeof pkt, "$%s#%02x", payload, sum & 0xff);
	if (*payload && write(s, pkt, (size_t)n) != n)
		return false;
	size_t len = 0;
	while (len < cap - 1) {
		if (read(s, buf + len, 1) != 1)
			return false;
		buf[++len] = 0;
		char *d = strchr(buf, '$'), *h = d ? strchr(d, '#') : NULL;
		if (h && strlen(h) == 3)
			return true;
	}
	return false;
}

/*
 * gdb's Ctrl-C is one byte, 0x03, outside any packet. Through the forwarded port it crosses
 * QEMU's socket, the VM's serial line and init's relay (tests/labvm/init, gdb_relay): the line
 * must be raw, or the VM's terminal layer would turn 0x03 into a signal and hv would never see
 * it. A raw client plays gdb: it writes `jmp .` (EB FE) over guest_main so the guest spins,
 * continues, sends 0x03, and must get a stop with SIGINT (T02) at guest_main; then k.
 */
Test(labvm, ctrl_c_reaches_hv_through_the_forwarded_port, .timeout = 200)
{
	require_labvm();
	int port = free_tcp_port();
	char outpath[300], cmd[300], env_port[32];
	snprintf(outpath, sizeof outpath, "%s", tmp_path("labvm.out"));
	snprintf(cmd, sizeof cmd, "%s run --gdb 127.0.0.1:%d %s", env_or("HV", "build/hv"), port,
		 guest("hello64.elf"));
	snprintf(env_port, sizeof env_port, "%d", port);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		setenv("LABVM_GDB_PORT", env_port, 1);
		const char *unset[] = { "LABVM_KERNEL", "LABVM_TIMEOUT", "LABVM_BOOT_TIMEOUT",
					"LABVM_MEM", "LABVM_ACCEL", "LABVM_APPEND" };
		for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++)
			unsetenv(unset[i]);
		setenv("LABVM_TIMEOUT", "150", 1);
		execlp("bash", "bash", RUN_SH, "run", INITRD, cmd, (char *)NULL);
		_exit(127);
	}
	/* gdb may connect once init's relay says so (bytes sent earlier could be lost when the
	 * VM opens its serial port) */
	static char out[16384];
	for (int i = 0; i < 1200 && !strstr(out, "labvm: gdb relay: "); i++) {
		FILE *f = fopen(outpath, "r");
		size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
		out[n] = 0;
		if (f)
			fclose(f);
		usleep(100 * 1000);
	}
	cr_assert(strstr(out, "labvm: gdb relay: "), "the relay never came up: %s", out);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert(s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0);
	struct timeval tv = { .tv_sec = 60 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char buf[512];
	cr_assert(gdb_xchg(s, "?", buf, sizeof buf) && strstr(buf, "$T05"), "hold: %s", buf);
	cr_assert(gdb_xchg(s, "M100036,2:ebfe", buf, sizeof buf) && strstr(buf, "$OK"), "%s", buf);
	cr_assert_eq(write(s, "$c#63", 5), 5);
	sleep(2); /* the guest spins in its `jmp .` */
	cr_assert_eq(write(s, "\x03", 1), 1);
	cr_assert(gdb_xchg(s, "", buf, sizeof buf) && strstr(buf, "$T02"), "after 0x03: %s", buf);
	cr_assert(gdb_xchg(s, "p10", buf, sizeof buf) && strstr(buf, "$3600100000000000#"),
		  "rip is not guest_main's jmp: %s", buf);
	cr_assert_eq(write(s, "$k#6b", 5), 5);
	int st = 0;
	waitpid(pid, &st, 0);
	close(s);
	FILE *f = fopen(outpath, "r");
	size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
	out[n] = 0;
	if (f)
		fclose(f);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == HV_EXIT_INTERRUPTED, "run.sh status %d "
		  "(want hv's, killed by gdb): %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, out);
	cr_assert(strstr(out, "killed by gdb"), "%s", out);
}
