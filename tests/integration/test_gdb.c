/*
 * test_gdb.c - hv run --gdb with the real gdb (Debian's /usr/bin/gdb, batch mode) and with a
 * raw socket playing a hostile client. Suite gdb needs KVM (KVM_TESTS in the Makefile); suite
 * gdbring3 needs ring 3 as well (RING3_TESTS: the lab VM on PVM and on hosts without KVM).
 *
 * Each test starts hv in the background on a free port, waits until hv says it listens, then
 * runs `gdb -batch -nx GUEST.elf -ex 'target remote :PORT' ...` through the harness and reads
 * what gdb printed, what the guest printed and hv's status. Textbook: chapter 8 "Debugging a
 * guest"; the stub is hv/gdbstub.c and hv/gdbhv.c.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"

struct bg {
	pid_t pid;
	int port;
	char out[4096], err[8192];
	const char *outpath, *errpath;
	int status;
};

static const char *hv_bin(void)
{
	const char *v = getenv("HV");
	return v && *v ? v : "build/hv";
}

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
}

/* hv run --gdb 127.0.0.1:PORT [extra...] GUEST in the background (extra: NULL, or up to four
 * words ending in NULL); returns once hv listens. */
static void start_hv(struct bg *b, const char *const *extra, const char *guest_name)
{
	b->port = free_tcp_port();
	b->outpath = tmp_path("hv.out");
	b->errpath = tmp_path("hv.err");
	char spec[32];
	snprintf(spec, sizeof spec, "127.0.0.1:%d", b->port);
	b->pid = fork();
	cr_assert_neq(b->pid, -1);
	if (b->pid == 0) {
		int fo = open(b->outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(b->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
			_exit(126);
		alarm(120); /* a stub that never lets go fails the test instead of hanging it */
		const char *argv[10] = { hv_bin(), "run", "--gdb", spec };
		int i = 4;
		for (int k = 0; extra && extra[k] && k < 4; k++)
			argv[i++] = extra[k];
		argv[i++] = guest(guest_name);
		argv[i] = NULL;
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int tries = 0; tries < 200; tries++) {
		slurp(b->errpath, b->err, sizeof b->err);
		if (strstr(b->err, "waiting for gdb") || strstr(b->err, "gdb may connect"))
			return;
		usleep(50 * 1000);
	}
	cr_assert_fail("hv never listened: %s", b->err);
}

/* Wait for hv to end (at most 60 s); its status, stdout and stderr. */
static void wait_hv(struct bg *b)
{
	int st = 0;
	for (int i = 0; i < 1200; i++) {
		pid_t p = waitpid(b->pid, &st, WNOHANG);
		if (p == b->pid)
			break;
		if (i == 1199) {
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &st, 0);
		}
		usleep(50 * 1000);
	}
	b->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	slurp(b->outpath, b->out, sizeof b->out);
	slurp(b->errpath, b->err, sizeof b->err);
}

/* gdb -batch -nx ELF -ex 'target remote :PORT' -ex CMD... (NULL-terminated). */
static void run_gdb(struct hv_result *r, const struct bg *b, const char *elf, const char *const *cmds)
{
	char target[64];
	snprintf(target, sizeof target, "target remote 127.0.0.1:%d", b->port);
	const char *argv[64] = { "gdb", "-batch", "-nx", guest(elf), "-ex", "set pagination off",
				 "-ex", target };
	int n = 8;
	for (int i = 0; cmds[i] && n < 62; i++) {
		argv[n++] = "-ex";
		argv[n++] = cmds[i];
	}
	argv[n] = NULL;
	cmd_exec(r, argv);
	/* gdb prints `monitor` answers and console text on stderr in batch mode: one text. */
	size_t lo = strlen(r->out), le = strlen(r->err);
	if (lo + le < sizeof r->out) {
		memmove(r->out + lo, r->err, le + 1);
	}
}

static void require_gdb(void)
{
	require_kvm();
	if (access("/usr/bin/gdb", X_OK) != 0)
		cr_skip_test("/usr/bin/gdb is not installed (apt-get install gdb)");
}

TestSuite(gdb, .timeout = 150);

/* Break on a guest symbol, continue, read registers the guest set, read memory, stepi, detach:
 * the guest then runs to its normal end. */
Test(gdb, break_registers_memory_stepi_detach_hello64)
{
	require_gdb();
	struct bg b;
	struct hv_result r;
	start_hv(&b, NULL, "hello64.elf");
	run_gdb(&r, &b, "hello64.elf", (const char *[]){
		"info registers rip", "break guest_main", "continue", "info registers rip rsp",
		"x/2xb guest_main", "stepi", "info registers rip", "detach", NULL });
	wait_hv(&b);
	/* held before the first instruction: _start */
	cr_assert(strstr(r.out, "<_start>"), "gdb: %s %s", r.out, r.err);
	cr_assert(strstr(r.out, "Breakpoint 1, guest_main"), "gdb: %s %s", r.out, r.err);
	/* _start set rsp to stack_top (0x1020d0); the call pushed 8 bytes */
	cr_assert(strstr(r.out, "0x1020c8"), "gdb: %s", r.out);
	/* guest_main's first byte, read through guestmem: push %rbp... or whatever gcc made of
	 * it: compare with the ELF through objdump would be heavier; 2 bytes were printed */
	cr_assert(strstr(r.out, "<guest_main>:\t0x"), "gdb: %s", r.out);
	cr_assert(strstr(r.out, "<guest_main+1>"), "stepi did not move rip by one instruction: %s",
		  r.out);
	cr_assert(strstr(r.out, "detached"), "gdb: %s", r.out);
	cr_assert_eq(b.status, HV_EXIT_OK, "hv status %d: %s", b.status, b.err);
	cr_assert(strstr(b.out, "Hello from long mode"), "guest output: %s", b.out);
}

/* The 32-bit layout (i386): eip and esp where gdb expects them. */
Test(gdb, break_and_registers_hello32)
{
	require_gdb();
	struct bg b;
	struct hv_result r;
	start_hv(&b, NULL, "hello32.elf");
	run_gdb(&r, &b, "hello32.elf", (const char *[]){
		"break guest_main", "continue", "info registers eip", "monitor mode", "detach", NULL });
	wait_hv(&b);
	cr_assert(strstr(r.out, "Breakpoint 1, guest_main"), "gdb: %s %s", r.out, r.err);
	cr_assert(strstr(r.out, "<guest_main>"), "gdb: %s", r.out);
	cr_assert(strstr(r.out, "mode prot32, CPL 0, paging off"), "gdb: %s", r.out);
	cr_assert(strstr(r.out, "layout: i386\n"), "gdb: %s", r.out);
	cr_assert_eq(b.status, HV_EXIT_OK, "hv status %d: %s", b.status, b.err);
	cr_assert(strstr(b.out, "Hello"), "guest output: %s", b.out);
}

/* A real-mode guest: the flat binary runs, its ELF gives gdb the symbols, and
 * `set architecture i8086` is the recipe (gdbhv.c; the i386 layout with 16-bit code). Here
 * CS = 0, so gdb's linear addresses are the guest's offsets. */
Test(gdb, real_mode_with_set_architecture_i8086)
{
	require_gdb();
	struct bg b;
	struct hv_result r;
	start_hv(&b, NULL, "hello16.bin");
	char target[64];
	snprintf(target, sizeof target, "target remote 127.0.0.1:%d", b.port);
	cmd_exec(&r, (const char *[]){ "gdb", "-batch", "-nx", guest("hello16.elf"), "-ex",
				       "set architecture i8086", "-ex", target, "-ex",
				       "break guest_main", "-ex", "continue", "-ex",
				       "info registers eip", "-ex", "monitor mode", "-ex", "detach",
				       NULL });
	wait_hv(&b);
	cr_assert(strstr(r.out, "Breakpoint 1, guest_main"), "gdb: %s %s", r.out, r.err);
	cr_assert(strstr(r.out, "<guest_main>"), "gdb: %s", r.out);
	cr_assert(strstr(r.out, "mode real, CPL 0") || strstr(r.err, "mode real, CPL 0"),
		  "gdb: %s %s", r.out, r.err);
	cr_assert_eq(b.status, HV_EXIT_OK, "hv status %d: %s", b.status, b.err);
	cr_assert(strstr(b.out, "Hello from real mode"), "guest output: %s", b.out);
}

/* monitor break-exit io port=0x3f8: the next OUT to the UART stops the guest; monitor exits
 * lists it; kill ends hv with a clear status. */
Test(gdb, break_exit_at_the_uart_then_kill)
{
	require_gdb();
	struct bg b;
	struct hv_result r;
	start_hv(&b, NULL, "hello64.elf");
	run_gdb(&r, &b, "hello64.elf", (const char *[]){
		"monitor help", "monitor break-exit io port=0x3f8", "continue", "monitor exits 2",
		"info registers rip", "kill", NULL });
	wait_hv(&b);
	cr_assert(strstr(r.out, "monitor break-exit io|mmio|hlt|any"), "gdb: %s", r.out);
	/* the first exits are uart_init's OUTs to 0x3f9 and 0x3fb; the break is at 0x3f8 */
	cr_assert(strstr(r.out, "break-exit: stopped after exit #"), "gdb: %s", r.out);
	cr_assert(strstr(r.out, ", io write addr=0x3f8"), "gdb: %s", r.out);
	cr_assert(strstr(r.out, " io write addr=0x3f8 size=1"), "monitor exits: %s", r.out);
	cr_assert(strstr(r.out, "<uart_init"), "stopped in uart_init's OUT: %s", r.out);
	cr_assert_eq(b.status, HV_EXIT_INTERRUPTED, "hv status %d: %s", b.status, b.err);
	cr_assert(strstr(b.err, "killed by gdb"), "%s", b.err);
}

/* gdb writes guest memory: the guest prints what gdb wrote, then exits normally (W00). */
Test(gdb, memory_write_changes_the_output)
{
	require_gdb();
	struct bg b;
	struct hv_result r;
	start_hv(&b, NULL, "hello64.elf");
	run_gdb(&r, &b, "hello64.elf", (const char *[]){
		"find /b 0x100000, 0x101000, 'H', 'e', 'l', 'l', 'o'", "set var *(char *)$_ = 'J'",
		"continue", NULL });
	wait_hv(&b);
	cr_assert(strstr(r.out, "exited normally"), "gdb: %s %s", r.out, r.err);
	cr_assert_eq(b.status, HV_EXIT_OK, "hv status %d: %s", b.status, b.err);
	cr_assert(strstr(b.out, "Jello from long mode"), "guest output: %s", b.out);
}

/*
 * hbreak (Z1, DR0 on execution) and a hardware write watchpoint (Z2, DR0-3 with R/W = 01).
 * The watched quadword, 0x1020c0, is the stack slot just below guest_main's return address:
 * zero (the start code clears the stack with the BSS) until uart_puts calls uart_putc, whose
 * return address lands there; it never changes after that. gdb stops at a write watchpoint only
 * when the value changed (gdb's breakpoint.c: "write watchpoints shouldn't fire if the value
 * hasn't changed"), so the watch is set at uart_init, before that first call: Old value = 0,
 * and the stop is at uart_putc's first instruction with c = 'H'.
 * Where the watchpoint fires, on each host (the test asserts that it does, on every one):
 *   full (VT-x/AMD-V)   the debug registers: DR7 R/W = 01, a #DB after the write
 *   pvm                 hv's seek (gdbhv.c): data watchpoints never fire there (a ring-0 guest
 *                       runs in KVM's instruction emulator, which checks only execution
 *                       breakpoints), so hv single-steps and compares the watched bytes
 *   lab VM (TCG SVM)    the same seek: no debug register fires there
 */
Test(gdb, hbreak_and_hardware_watchpoint)
{
	require_gdb();
	struct bg b;
	struct hv_result r;
	start_hv(&b, NULL, "hello64.elf");
	run_gdb(&r, &b, "hello64.elf", (const char *[]){
		"hbreak uart_init", "continue", "delete", "watch *(long *)0x1020c0", "continue",
		"detach", NULL });
	wait_hv(&b);
	cr_assert(strstr(r.out, "Breakpoint 1, uart_init ()"), "gdb: %s", r.out);
	cr_assert(strstr(r.out, "Hardware watchpoint 2: *(long *)0x1020c0"), "gdb: %s", r.out);
	cr_assert(strstr(r.out, "Old value = 0\nNew value = "), "the watchpoint did not fire: %s",
		  r.out);
	cr_assert(strstr(r.out, "uart_putc (c=c@entry=72 'H')"), "stopped elsewhere: %s", r.out);
	cr_assert_eq(b.status, HV_EXIT_OK, "hv status %d: %s", b.status, b.err);
	cr_assert(strstr(b.out, "Hello from long mode"), "guest output: %s", b.out);
}

/* ---- a raw client: what gdb never sends ---- */

static int connect_to(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert(s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s",
		  strerror(errno));
	struct timeval tv = { .tv_sec = 20 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return s;
}

/* Send $payload#cs; return the reply's payload (after the '+'). */
static const char *xchg(int s, const char *payload)
{
	static char buf[8192];
	char pkt[512];
	unsigned sum = 0;
	for (const char *p = payload; *p; p++)
		sum += (unsigned char)*p;
	int n = snprintf(pkt, sizeof pkt, "$%s#%02x", payload, sum & 0xff);
	cr_assert_eq(write(s, pkt, (size_t)n), n);
	size_t len = 0;
	while (len < sizeof buf - 1) {
		ssize_t k = read(s, buf + len, 1);
		cr_assert_eq(k, 1, "no reply to %s", payload);
		len++;
		buf[len] = 0;
		char *h = strchr(buf, '#');
		if (h && strlen(h) == 3)
			break;
	}
	char *d = strchr(buf, '$');
	cr_assert(d, "reply: %s", buf);
	*strchr(d, '#') = 0;
	return d + 1;
}

/* Outside RAM is an E reply; a fifth debug register is an E reply; a bad checksum is '-';
 * a client that disconnects mid-packet leaves the guest to run to its end. */
Test(gdb, hostile_client_then_disconnect_mid_packet)
{
	require_kvm();
	struct bg b;
	start_hv(&b, NULL, "hello64.elf");
	int s = connect_to(b.port);
	cr_assert_str_eq(xchg(s, "mf0000000,4"), "E14");
	cr_assert_str_eq(xchg(s, "m100010,100000"), "E01");
	cr_assert_str_eq(xchg(s, "M100010,2:zz"), "E01");
	for (int i = 0; i < 4; i++) {
		char z[32];
		snprintf(z, sizeof z, "Z1,%x,1", 0x100010 + i);
		cr_assert_str_eq(xchg(s, z), "OK");
	}
	cr_assert_str_eq(xchg(s, "Z1,100020,1"), "E0e");
	cr_assert_str_eq(xchg(s, "Z2,100021,4"), "E0e"); /* misaligned and no slot */
	cr_assert_str_eq(xchg(s, "Zz"), "E01");
	cr_assert_str_eq(xchg(s, "qFrobnicate"), "");
	char c;
	cr_assert_eq(write(s, "$?#00", 5), 5);
	cr_assert_eq(read(s, &c, 1), 1);
	cr_assert_eq(c, '-');
	cr_assert_eq(write(s, "$m1000", 6), 6);
	close(s);
	wait_hv(&b);
	cr_assert_eq(b.status, HV_EXIT_OK, "hv status %d: %s", b.status, b.err);
	cr_assert(strstr(b.err, "gdb disconnected"), "%s", b.err);
	cr_assert(strstr(b.out, "Hello from long mode"), "%s", b.out);
}

/* Ctrl-C (0x03) while the guest runs: it stops with SIGINT (T02). To keep it running, the
 * client first writes `jmp .` (EB FE) over guest_main; then k ends hv. */
Test(gdb, ctrl_c_stops_the_running_guest)
{
	require_kvm();
	struct bg b;
	start_hv(&b, NULL, "hello64.elf");
	int s = connect_to(b.port);
	const char *r = xchg(s, "?"); /* held before the first instruction */
	cr_assert_str_eq(r, "T05thread:01;");
	cr_assert_str_eq(xchg(s, "M100036,2:ebfe"), "OK");
	cr_assert_eq(write(s, "$c#63", 5), 5);
	char c;
	cr_assert_eq(read(s, &c, 1), 1);
	cr_assert_eq(c, '+');
	usleep(100 * 1000);
	cr_assert_eq(write(s, "\x03", 1), 1);
	char buf[256];
	size_t len = 0;
	while (len < sizeof buf - 1 && !(len >= 3 && buf[len - 3] == '#')) {
		cr_assert_eq(read(s, buf + len, 1), 1);
		len++;
	}
	buf[len] = 0;
	cr_assert(strstr(buf, "$T02"), "%s", buf);
	cr_assert_str_eq(xchg(s, "p10"), "3600100000000000"); /* rip: in the loop at guest_main */
	cr_assert_eq(write(s, "$k#6b", 5), 5);
	wait_hv(&b);
	close(s);
	cr_assert_eq(b.status, HV_EXIT_INTERRUPTED, "hv status %d: %s", b.status, b.err);
	cr_assert(strstr(b.err, "killed by gdb"), "%s", b.err);
}

/* The command line: a bad port, --gdb-nowait alone, --gdb with --step. */
Test(gdb, bad_options_are_refused)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "--gdb", "99999", guest("hello64.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
	cr_assert(strstr(r.err, "bad --gdb '99999'"), "%s", r.err);
	hv_exec_nokvm(&r, (const char *[]){ "run", "--gdb", "localhost:1234", guest("hello64.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
	hv_exec_nokvm(&r, (const char *[]){ "run", "--gdb-nowait", guest("hello64.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
	cr_assert(strstr(r.err, "--gdb-nowait needs --gdb"), "%s", r.err);
	hv_exec_nokvm(&r, (const char *[]){ "run", "--gdb", "1234", "--step", "guest_main",
					    guest("hello64.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
}

/* ---- ring 3: the mini OS (suite gdbring3, in RING3_TESTS: the lab VM on PVM and without KVM) ---- */

TestSuite(gdbring3, .timeout = 300);

/* The hexadecimal number after `key` in text (0 if absent). */
static unsigned long hex_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtoul(p + strlen(key), NULL, 16) : 0;
}

/*
 * stepi across `int $0x80`: from ring 3 into the kernel's handler. os_step_window is the
 * `mov $20, %eax` just before the `int $0x80` of getpid (guest/os/user/hello.c). The first
 * stepi executes the mov; the second executes the int and must stop at the first instruction
 * of vector128, the handler the IDT's gate 0x80 names, at CPL 0. Without hv's trap on the
 * handler (gdbhv.c, catch_int_handler) the CPU clears TF as it enters the handler and the step
 * ends back in ring 3, after the handler's iret. Then detach: the OS runs to its normal end.
 */
Test(gdbring3, stepi_across_int_0x80_enters_the_handler_at_cpl0)
{
	require_ring3();
	if (access("/usr/bin/gdb", X_OK) != 0)
		cr_skip_test("/usr/bin/gdb is not installed (apt-get install gdb)");
	struct bg b;
	struct hv_result r;
	start_hv(&b, (const char *[]){ "--cmdline", "os.run=hello", NULL }, "os.elf");
	run_gdb(&r, &b, "os.elf", (const char *[]){
		"break os_step_window", "continue", "delete", "stepi", "monitor mode", "x/i $pc",
		"stepi", "monitor mode", "print/x $pc", "print $cs & 3", "x/i $pc",
		"info address vector128", "detach", NULL });
	wait_hv(&b);
	/* gdb's own output first (stdout), in order: the breakpoint, the int, the handler */
	const char *bp = strstr(r.out, "Breakpoint 1, getpid_in_window");
	cr_assert(bp, "gdb: %s", r.out);
	const char *at_int = strstr(bp, "int    $0x80");
	cr_assert(at_int, "the first stepi did not stop at the int: %s", r.out);
	const char *in_handler = strstr(at_int, "vector128 () at guest/os/trapasm.S");
	cr_assert(in_handler, "the stepi over int $0x80 did not stop in vector128: %s", r.out);
	unsigned long pc = hex_after(in_handler, "$1 = 0x");
	unsigned long handler = hex_after(r.out, "Symbol \"vector128\" is at 0x");
	cr_assert(handler != 0, "no vector128 in the ELF: %s", r.out);
	cr_assert_eq(pc, handler, "stopped at 0x%lx, not at vector128 (0x%lx): %s", pc, handler,
		     r.out);
	cr_assert(strstr(in_handler, "$2 = 0\n"), "$cs & 3 is not 0 in the handler: %s", r.out);
	cr_assert(strstr(in_handler, "<vector128>:"), "x/i: %s", r.out);
	/* then the monitor's answers (gdb prints them on stderr): CPL 3 at the int, CPL 0 after */
	const char *cpl3 = strstr(r.out, "mode prot32, CPL 3,");
	cr_assert(cpl3 && strstr(cpl3, "cs=0x1b "), "not in ring 3 at the int: %s", r.out);
	const char *cpl0 = strstr(cpl3, "mode prot32, CPL 0,");
	cr_assert(cpl0, "monitor mode does not say CPL 0 in the handler: %s", r.out);
	char want[64];
	snprintf(want, sizeof want, "cs=0x8 rip=0x%lx;", handler);
	cr_assert(strstr(cpl0, want), "monitor mode: not %s: %s", want, r.out);
	cr_assert(strstr(r.out, "detached"), "gdb: %s", r.out);
	cr_assert_eq(b.status, HV_EXIT_OK, "hv status %d: %s", b.status, b.err);
	cr_assert(strstr(b.out, "hello: my pid is 1"), "guest output: %s", b.out);
	cr_assert(strstr(b.out, "exited with status 0"), "guest output: %s", b.out);
}
