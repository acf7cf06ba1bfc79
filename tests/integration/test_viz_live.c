/*
 * test_viz_live.c - `hv run --viz[=step]`: hv starts hvviz on a terminal and the two talk.
 *
 * What must hold (hv/vizlink.c, viz/live.c): without a terminal hv refuses with one line; in
 * step mode the guest runs exactly one exit per "next" pressed on the last event, so the
 * trace holds the exits stepped and no more; quitting hvviz stops the VM (status 16) and hv
 * prints its last lines on the terminal it gets back; the guest's console goes to TRACE.log.
 *
 * The end-to-end tests need a real terminal: tmux runs hv in a detached session of a fixed
 * size on a private server (-L, no configuration file), keys go in with send-keys, and
 * capture-pane reads the screen back as text.
 *
 * The guest is hello16 (guest/hello16.c): uart_init's first three OUTs are IER (0x3F9) = 0,
 * LCR (0x3FB) = 0x80 (DLAB), DLL (0x3F8) = 1 (guest/lib/uart.c), one exit each; all of it is
 * 49 I/O exits and a HLT, printing "Hello from real mode".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"
#include "trace_read.h"

#define VIZ_NEEDS_TTY "hv: --viz needs a terminal (run it in a terminal, or record with --trace " \
		      "FILE and open it later with hvviz FILE)\n"

/* ---- without a terminal ---- */

/* The harness gives hv /dev/null as stdin and pipes as stdout/stderr: no terminal at all. */
Test(vizlive, viz_without_a_terminal_is_refused_in_one_line)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--viz", guest("hello16.bin"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "status %d: %s", r.status, r.err);
	cr_assert_str_eq(r.err, VIZ_NEEDS_TTY);
	cr_assert_str_eq(r.out, "");
	hv_exec(&r, (const char *[]){ "run", "--viz=step", "--trace", tmp_path("none.hvt"),
				       guest("hello16.bin"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
	cr_assert_str_eq(r.err, VIZ_NEEDS_TTY);
	/* Refused before the VM exists: no trace was created. */
	cr_assert_neq(access(tmp_path("none.hvt"), F_OK), 0);
}

Test(vizlive, viz_with_an_unknown_mode_is_a_usage_error)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--viz=fast", guest("hello16.bin"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
	cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
	cr_assert(strstr(r.err, "bad --viz (use --viz or --viz=step): 'fast'"), "%s", r.err);
}

/*
 * hv looks for hvviz next to its own binary (/proc/self/exe), never in PATH. A copy of hv in a
 * directory without hvviz, on a pseudo-terminal (so the terminal check passes), must name the
 * exact path it looked at and the fix, and stop before any VM exists (no KVM needed).
 */
Test(vizlive, missing_hvviz_names_the_path_and_make)
{
	char dir[] = "/tmp/hvviz-missing.XXXXXX";
	cr_assert(mkdtemp(dir));
	char hv[512], cmd[1200];
	snprintf(hv, sizeof hv, "%s/hv", dir);
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", getenv("HV") ? getenv("HV") : "build/hv", hv);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	int master, slave;
	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	int errp[2];
	cr_assert_eq(pipe(errp), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(errp[1], 2);
		execl(hv, "hv", "run", "--viz", guest("hello16.bin"), (char *)NULL);
		_exit(127);
	}
	close(slave);
	close(errp[1]);
	char err[1024] = "";
	size_t used = 0;
	ssize_t n;
	while ((n = read(errp[0], err + used, sizeof err - 1 - used)) > 0)
		used += (size_t)n;
	err[used] = '\0';
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	close(errp[0]);
	close(master);
	char want[600];
	snprintf(want, sizeof want, "hv: --viz: cannot start hvviz: %s/hvviz: No such file or "
		 "directory (run make)\n", dir);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == HV_EXIT_HOST, "status %d: %s", st, err);
	cr_assert_str_eq(err, want);
	unlink(hv);
	rmdir(dir);
}

/* ---- hv's side alone: a stand-in for hvviz ---- */

/*
 * hv starts the hvviz next to its own binary. A copy of hv in a directory of its own, next to a
 * bash script named hvviz, lets a test play hvviz's part exactly: the script gets hvviz's
 * arguments (--live TRACE --control-fd N [--step], so the socket is "$4") and can send "next"
 * bytes, read hv's last line, sleep like a user reading, or die. hv runs on a pseudo-terminal
 * (--viz wants one) with stderr on a pipe. SIGTERM to hv after `term_ms` milliseconds (0:
 * none). Fails if hv has not ended 10 s after it started.
 */
struct fake_run {
	int status;         /* hv's exit status */
	double seconds;     /* from start to hv's end */
	char err[16384];    /* hv's stderr */
	char tty[4096];     /* what hv wrote on the terminal (escape sequences) */
	char dir[512];      /* the directory of hv, hvviz and the script's files */
	struct termios end; /* the terminal's settings after hv ended */
};

/* The two tiny guests: real mode, loaded at 0x8000 without a header. spin: `jmp $` (EB FE),
 * never exits. inloop: `mov dx, 0x500` (BA 00 05), then `in al, dx` (EC) and `jmp` back to it
 * (EB FD) forever: one I/O exit each time round, to the test device (HV_PORT_TESTDEV). */
static const char *tiny_guest(const char *name, char *buf)
{
	static const unsigned char spin[] = { 0xEB, 0xFE };
	static const unsigned char inloop[] = { 0xBA, 0x00, 0x05, 0xEC, 0xEB, 0xFD };
	int is_spin = !strcmp(name, "spin.bin");
	snprintf(buf, 512, "%s", write_tmp(name, is_spin ? spin : inloop,
					   is_spin ? sizeof spin : sizeof inloop));
	return buf;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Read what is there without waiting; keeps the buffer NUL-terminated. */
static void drain(int fd, char *buf, size_t size)
{
	size_t used = strlen(buf);
	ssize_t n;
	while (used < size - 1 && (n = read(fd, buf + used, size - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
}

static void fake_viz(struct fake_run *r, const char *script, const char *const *args, int term_ms)
{
	memset(r, 0, sizeof *r);
	snprintf(r->dir, sizeof r->dir, "%s", tmp_path("fake.XXXXXX")); /* the test's directory */
	cr_assert(mkdtemp(r->dir));
	char hv[600], viz[600], cmd[1400];
	snprintf(hv, sizeof hv, "%s/hv", r->dir);
	snprintf(viz, sizeof viz, "%s/hvviz", r->dir);
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", getenv("HV") ? getenv("HV") : "build/hv", hv);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	FILE *f = fopen(viz, "w");
	cr_assert(f);
	fprintf(f, "#!/bin/bash\ncd '%s'\n%s\n", r->dir, script);
	fclose(f);
	cr_assert_eq(chmod(viz, 0755), 0);

	int master, slave, errp[2];
	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	cr_assert_eq(pipe(errp), 0);
	const char *argv[24] = { hv };
	for (int i = 0; args[i] && i < 22; i++)
		argv[i + 1] = args[i];
	double t0 = now_s();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(errp[1], 2);
		setenv("TMPDIR", r->dir, 1); /* a temporary trace and its log go there too */
		execv(hv, (char *const *)argv);
		_exit(127);
	}
	close(slave);
	close(errp[1]);
	fcntl(master, F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	int st = 0, termed = 0;
	for (;;) {
		drain(errp[0], r->err, sizeof r->err);
		drain(master, r->tty, sizeof r->tty);
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		double t = now_s() - t0;
		if (term_ms && !termed && t * 1000 >= term_ms) {
			kill(pid, SIGTERM);
			termed = 1;
		}
		if (t > 10) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			cr_assert_fail("hv did not end within 10 s; stderr:\n%s", r->err);
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	r->seconds = now_s() - t0;
	drain(errp[0], r->err, sizeof r->err);
	drain(master, r->tty, sizeof r->tty);
	tcgetattr(master, &r->end);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	close(master);
	close(errp[0]);
}

/* A file the script wrote in its directory ("" if none). */
static const char *fake_file(const struct fake_run *r, const char *name)
{
	static char buf[4096];
	char p[600];
	snprintf(p, sizeof p, "%s/%s", r->dir, name);
	buf[0] = '\0';
	FILE *f = fopen(p, "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

static void fake_clean(struct fake_run *r)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
	cr_assert_eq(system(cmd), 0);
}

/*
 * --viz=step with --trace-limit: once the trace drops records, hvviz can never see another exit,
 * and would wait for one while hv waits for its next byte. hv must stop at the last exit the
 * trace holds. The numbers: 1 MiB holds (1048576 - 128) / 64 = 16382 records after the header
 * (trace.h); trace_write.c keeps HVT_C_MAX = 11 of them for the end-of-run counters, so 16371 are
 * for the run, records 0-16370. Every exit of the inloop guest is 4 records (run-call, entry,
 * exit, run-return: 4k-4 .. 4k-1 for exit k), so exit 4093's run-return (16371) is the first
 * record dropped: hv stops before the 4094th entry. The stand-in sends 20000 "next" bytes at
 * once, far more than that, then keeps hv's last line.
 */
Test(vizlive, step_mode_stops_when_the_trace_is_full, .timeout = 30)
{
	require_kvm();
	char g[512], trace[512];
	snprintf(trace, sizeof trace, "%s", tmp_path("full.hvt"));
	static struct fake_run r;
	fake_viz(&r, "head -c 20000 /dev/zero >&$4; cat <&$4 > got",
		 (const char *[]){ "run", "--viz=step", "--trace-limit", "1", "--trace", trace,
				   tiny_guest("inloop.bin", g), NULL }, 0);
	cr_assert_eq(r.status, HV_EXIT_INTERRUPTED, "status %d: %s", r.status, r.err);
	static const char why[] = "--viz=step: the trace is full: VM stopped at exit 4093 (raise "
				  "--trace-limit)";
	char want[256];
	snprintf(want, sizeof want, "hv: %s\n", why);
	cr_assert(strstr(r.err, want), "want '%s' in:\n%s", want, r.err);
	snprintf(want, sizeof want, "S 16 %s; the trace is full: the last 1 events are not in it "
		 "(--trace-limit)\n", why);
	cr_assert_str_eq(fake_file(&r, "got"), want);
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(trace, &tf, err, sizeof err), 0, "%s", err);
	uint64_t exits = 0;
	for (uint64_t i = 0; i < tf.count; i++)
		exits += tf.records[i].kind == HVT_EXIT;
	trace_free(&tf);
	cr_assert_eq(exits, 4093);
	fake_clean(&r);
}

/*
 * hvviz killed (SIGKILL: no curses clean-up) while the terminal is in curses' modes: the
 * stand-in turns echo and line editing off as curses does, then kills itself. hv must notice
 * (the socket closes), stop the VM, put the terminal's termios back, send the sequences that
 * leave the alternate screen and show the cursor (ESC [ ? 1049 l, ESC [ ? 25 h), and say so.
 */
Test(vizlive, hvviz_killed_stops_the_vm_and_restores_the_terminal, .timeout = 30)
{
	require_kvm();
	char g[512];
	static struct fake_run r;
	fake_viz(&r, "stty -echo -icanon; kill -9 $$",
		 (const char *[]){ "run", "--viz=step", tiny_guest("inloop.bin", g), NULL }, 0);
	cr_assert_eq(r.status, HV_EXIT_INTERRUPTED, "status %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "hv: hvviz was killed by signal 9 (Killed)\n"), "%s", r.err);
	cr_assert(strstr(r.err, "hv: hvviz closed: VM stopped at exit 0\n"), "%s", r.err);
	cr_assert(strstr(r.tty, "\033[?1049l\033[?25h"), "no terminal reset in '%s'", r.tty);
	cr_assert(r.end.c_lflag & ECHO, "echo is still off");
	cr_assert(r.end.c_lflag & ICANON, "line editing is still off");
	fake_clean(&r);
}

/*
 * SIGTERM to hv alone (kill, timeout, a test harness) while hvviz shows the run: the VM stops
 * and hv must end too, which it cannot while hvviz holds the terminal, so hvviz is asked to
 * end (SIGTERM, 300 ms after hv's last line). The stand-in reads hv's last line, then sleeps
 * like a user reading it. No --trace: the temporary trace is removed, so hv must not claim
 * "the trace was saved", and hvviz's SIGTERM is hv's own doing, not worth a line.
 */
Test(vizlive, sigterm_to_hv_ends_hvviz_too, .timeout = 30)
{
	require_kvm();
	char g[512];
	static struct fake_run r;
	fake_viz(&r, "cat <&$4 > got; exec sleep 30",
		 (const char *[]){ "run", "--viz", tiny_guest("spin.bin", g), NULL }, 500);
	cr_assert_eq(r.status, HV_EXIT_INTERRUPTED, "status %d: %s", r.status, r.err);
	cr_assert_lt(r.seconds, 5, "hv took %.1f s", r.seconds);
	cr_assert_str_eq(fake_file(&r, "got"), "S 16 interrupted\n");
	cr_assert(strstr(r.err, "hv: interrupted\n"), "%s", r.err);
	cr_assert_null(strstr(r.err, "killed by signal"), "%s", r.err);
	fake_clean(&r);
}

/*
 * --timeout in step mode counts the time the guest could run, not the user's reading time: the
 * stand-in "reads" for 1.5 s before its first "next", then the spinning guest runs until the
 * 1 s limit. So hv ends no sooner than 2.5 s after it started, with status 14 and hv's reason
 * in the last line. (Counted from the start, the limit would stop it during the reading.)
 */
Test(vizlive, timeout_in_step_mode_leaves_out_the_reading_time, .timeout = 30)
{
	require_kvm();
	char g[512];
	static struct fake_run r;
	fake_viz(&r, "sleep 1.5; printf n >&$4; cat <&$4 > got",
		 (const char *[]){ "run", "--viz=step", "--timeout", "1", tiny_guest("spin.bin", g),
				   NULL }, 0);
	cr_assert_eq(r.status, HV_EXIT_TIMEOUT, "status %d: %s", r.status, r.err);
	cr_assert_geq(r.seconds, 2.5, "hv ended after %.2f s", r.seconds);
	cr_assert_str_eq(fake_file(&r, "got"), "S 14 the guest ran past --timeout\n");
	fake_clean(&r);
}

/* ---- in a terminal: tmux ---- */

static char tmux_server[64]; /* the private server of this test: tmux -L NAME */

static void tmux(struct hv_result *r, const char *const *args)
{
	const char *argv[16] = { "tmux", "-L", tmux_server };
	int n = 3;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cmd_exec(r, argv);
}

/* The test's server, with everything it still runs, goes away however the test ended. */
static void tmux_stop(void)
{
	if (!tmux_server[0])
		return;
	static struct hv_result r;
	tmux(&r, (const char *[]){ "kill-server", NULL });
	/* The server's socket file stays behind otherwise: $TMUX_TMPDIR or /tmp, tmux-UID/NAME. */
	char sock[512];
	const char *dir = getenv("TMUX_TMPDIR");
	snprintf(sock, sizeof sock, "%s/tmux-%d/%s", dir && dir[0] ? dir : "/tmp", (int)getuid(),
		 tmux_server);
	unlink(sock);
}

static void require_tmux(void)
{
	static struct hv_result r;
	cmd_exec(&r, (const char *[]){ "tmux", "-V", NULL });
	if (r.status != 0)
		cr_skip_test("tmux is not installed (make deps installs it): terminal test skipped");
}

static const char *abs_path(const char *p, char *buf)
{
	cr_assert(realpath(p, buf), "%s: %s", p, strerror(errno));
	return buf;
}

/*
 * Start `sh -c COMMAND` in a detached 120x40 session. The shell writes hv's exit status to
 * STATUS when hv ends, then keeps the pane (and hv's last lines) for capture-pane.
 */
static void tmux_start(const char *command, const char *status_file)
{
	static int serial;
	snprintf(tmux_server, sizeof tmux_server, "hvtest-%d-%d", (int)getpid(), serial++);
	char cwd[4096], line[16384];
	cr_assert(getcwd(cwd, sizeof cwd));
	snprintf(line, sizeof line, "%s; echo $? > '%s'; sleep 120", command, status_file);
	static struct hv_result r;
	tmux(&r, (const char *[]){ "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40",
				   "-c", cwd, line, NULL });
	cr_assert_eq(r.status, 0, "tmux new-session: %s", r.err);
}

static void screen(struct hv_result *r)
{
	tmux(r, (const char *[]){ "capture-pane", "-p", NULL });
}

/* Wait up to 10 s for text on the screen; fail with the screen if it never comes. */
static void wait_screen(const char *text)
{
	static struct hv_result r;
	for (int i = 0; i < 100; i++) {
		screen(&r);
		if (strstr(r.out, text))
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
	cr_assert_fail("'%s' never appeared on the screen:\n%s", text, r.out);
}

/* One or two keys, by tmux's names ("End", "Space", "q"); k2 may be NULL. */
static void keys(const char *k1, const char *k2)
{
	static struct hv_result r;
	tmux(&r, (const char *[]){ "send-keys", k1, k2, NULL });
	cr_assert_eq(r.status, 0, "tmux send-keys: %s", r.err);
}

/* hv's exit status from the file the shell wrote, waiting up to 10 s for hv to end. */
static int wait_status(const char *status_file)
{
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(status_file, "r");
		int st = -1;
		if (f && fscanf(f, "%d", &st) == 1) {
			fclose(f);
			return st;
		}
		if (f)
			fclose(f);
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
	static struct hv_result r;
	screen(&r);
	cr_assert_fail("hv did not end after q; screen:\n%s", r.out);
	return -1;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert(f, "%s: %s", path, strerror(errno));
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The exit records of a finished trace, in order. */
static size_t trace_exits(const char *path, struct hvt_record *out, size_t max)
{
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(path, &tf, err, sizeof err), 0, "%s", err);
	size_t n = 0;
	for (uint64_t i = 0; i < tf.count; i++)
		if (tf.records[i].kind == HVT_EXIT && n < max)
			out[n++] = tf.records[i];
	trace_free(&tf);
	return n;
}

/*
 * Step mode, three steps. End goes to the last event and space on it is "next", which lets the
 * guest run to its next exit. Before each step the screen must not show that exit's port yet
 * (the guest waits, it did not run ahead); after it, it must. Then q: hv stops the VM at exit
 * 3 with status 16 (HV_EXIT_INTERRUPTED) and the trace holds exactly the 3 exits stepped, not
 * hello16's 50: the guest never reached its first character, so the log has no "Hello".
 */
Test(vizlive, step_mode_runs_one_exit_per_key_and_q_stops_the_vm, .timeout = 90,
     .fini = tmux_stop)
{
	require_kvm();
	require_tmux();
	char hv[4096], g[4096], cmd[12288];
	const char *trace = tmp_path("step.hvt");
	const char *status = tmp_path("step.status");
	snprintf(cmd, sizeof cmd, "'%s' run --viz=step --trace '%s' '%s'",
		 abs_path(getenv("HV") ? getenv("HV") : "build/hv", hv), trace,
		 abs_path(guest("hello16.bin"), g));
	tmux_start(cmd, status);
	/* hv waits before the very first KVM_RUN: the trace is empty. */
	wait_screen("LIVE");
	static const char *ports[] = { "port=0x3f9", "port=0x3fb", "port=0x3f8" };
	static struct hv_result r;
	for (int i = 0; i < 3; i++) {
		screen(&r);
		cr_assert_null(strstr(r.out, ports[i]), "step %d: %s shown before its step:\n%s", i + 1,
			       ports[i], r.out);
		keys("End", "Space");
		wait_screen(ports[i]);
	}
	/* (A fourth exit would write DLM at 0x3f9 again, so the screen cannot prove that no
	 * fourth one ran; the trace file does, below.) */
	keys("q", NULL);
	cr_assert_eq(wait_status(status), HV_EXIT_INTERRUPTED);
	wait_screen("hv: guest output and messages:");
	screen(&r);
	cr_assert(strstr(r.out, "hv: hvviz closed: VM stopped at exit 3"), "%s", r.out);
	char log[4200];
	snprintf(log, sizeof log, "hv: guest output and messages: %s.log", trace);
	cr_assert(strstr(r.out, log), "want '%s' in:\n%s", log, r.out);

	struct hvt_record ex[64];
	size_t n = trace_exits(trace, ex, 64);
	cr_assert_eq(n, 3, "the trace has %zu exits, want the 3 stepped", n);
	static const uint64_t want_port[] = { 0x3f9, 0x3fb, 0x3f8 };
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(ex[i].reason, HVT_R_IO);
		cr_assert_eq(ex[i].addr, want_port[i], "exit %zu: port 0x%llx", i + 1,
			     (unsigned long long)ex[i].addr);
	}
	snprintf(log, sizeof log, "%s.log", trace);
	cr_assert_null(strstr(read_file(log), "Hello"));
}

/* q before the first step: the guest never entered, so the trace has no exit at all and hv
 * says it stopped at exit 0. */
Test(vizlive, quitting_before_the_first_step_runs_nothing, .timeout = 60, .fini = tmux_stop)
{
	require_kvm();
	require_tmux();
	char hv[4096], g[4096], cmd[12288];
	const char *trace = tmp_path("q0.hvt");
	const char *status = tmp_path("q0.status");
	snprintf(cmd, sizeof cmd, "'%s' run --viz=step --trace '%s' '%s'",
		 abs_path(getenv("HV") ? getenv("HV") : "build/hv", hv), trace,
		 abs_path(guest("hello16.bin"), g));
	tmux_start(cmd, status);
	wait_screen("LIVE");
	keys("q", NULL);
	cr_assert_eq(wait_status(status), HV_EXIT_INTERRUPTED);
	wait_screen("hv: hvviz closed: VM stopped at exit 0");
	struct hvt_record ex[4];
	cr_assert_eq(trace_exits(trace, ex, 4), 0);
}

/*
 * Free-running, no --trace: the guest runs to its HLT (status 0) while hvviz watches; hvviz
 * says the VM stopped and stays until q. The guest's console went to the log, whose name hv
 * prints on the terminal; the temporary trace (the log's name without ".log", in $TMPDIR) is
 * gone, the log stays.
 */
Test(vizlive, free_mode_runs_to_the_end_and_logs_the_console, .timeout = 60, .fini = tmux_stop)
{
	require_kvm();
	require_tmux();
	char hv[4096], g[4096], cmd[12288], dir[4096];
	const char *status = tmp_path("free.status");
	snprintf(dir, sizeof dir, "%s", tmp_path("x"));
	*strrchr(dir, '/') = '\0'; /* this test's own temporary directory */
	snprintf(cmd, sizeof cmd, "TMPDIR='%s' '%s' run --viz '%s'", dir,
		 abs_path(getenv("HV") ? getenv("HV") : "build/hv", hv),
		 abs_path(guest("hello16.bin"), g));
	tmux_start(cmd, status);
	wait_screen("the VM has stopped (status 0: the guest halted)");
	keys("q", NULL);
	cr_assert_eq(wait_status(status), HV_EXIT_OK);
	wait_screen("hv: guest output and messages:");
	static struct hv_result r;
	screen(&r);
	/* "hv: guest output and messages: DIR/hv-viz-XXXXXX.hvt.log" */
	char want[4200];
	snprintf(want, sizeof want, "hv: guest output and messages: %s/hv-viz-", dir);
	const char *at = strstr(r.out, want);
	cr_assert(at, "want '%s' in:\n%s", want, r.out);
	char log[4200];
	cr_assert_eq(sscanf(at + strlen("hv: guest output and messages: "), "%4199s", log), 1);
	cr_assert_str_eq(read_file(log), "Hello from real mode\n");
	char trace[4200];
	snprintf(trace, sizeof trace, "%s", log);
	trace[strlen(trace) - strlen(".log")] = '\0';
	cr_assert_neq(access(trace, F_OK), 0, "the temporary trace %s is still there", trace);
	cr_assert(strstr(r.out, "hv: summary: 50 exits: io 49, hlt 1"), "%s", r.out);
	unlink(log);
}

/* ---- the terminal after abnormal ends ---- */

/* tmux's own view of the pane: "ALT CURSOR", 1 0 while curses has the alternate screen with
 * the cursor hidden. */
static void pane_modes(struct hv_result *r)
{
	tmux(r, (const char *[]){ "display-message", "-p", "#{alternate_on} #{cursor_flag}", NULL });
}

/* hv started as `sh -c 'echo $$ > PIDFILE; exec hv ...'` has the shell's pid; hvviz is its one
 * child. Both read back here, exactly: no process is looked for by name. */
static void live_pids(const char *pidfile, pid_t *hv, pid_t *viz)
{
	*hv = (pid_t)atoi(read_file(pidfile));
	cr_assert_gt(*hv, 0);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)*hv);
	static struct hv_result r;
	cmd_exec(&r, (const char *[]){ "pgrep", "-P", pid, NULL });
	*viz = (pid_t)atoi(r.out);
	cr_assert_gt(*viz, 0, "hv %s has no child: %s", pid, r.err);
}

/* The command line that starts hv with its pid in PIDFILE; a temporary trace and its log go to
 * the test's own directory (TMPDIR). */
static void hv_with_pid(char *cmd, size_t len, const char *pidfile, const char *args)
{
	char hv[4096], dir[512];
	snprintf(dir, sizeof dir, "%s", pidfile);
	*strrchr(dir, '/') = '\0';
	snprintf(cmd, len, "TMPDIR='%s' sh -c 'echo $$ > %s; exec %s %s'", dir, pidfile,
		 abs_path(getenv("HV") ? getenv("HV") : "build/hv", hv), args);
}

/*
 * hvviz killed by SIGKILL, so curses never ran endwin: the terminal is on the alternate screen,
 * the cursor hidden, echo off. hv must put all of it back before its last lines: tmux says
 * "0 1" (normal screen, cursor shown) and `stty -a`, run after hv, shows echo and icanon on.
 */
Test(vizlive, sigkill_of_hvviz_gives_the_terminal_back, .timeout = 60, .fini = tmux_stop)
{
	require_kvm();
	require_tmux();
	char g[512], args[1024], cmd[8192], pidfile[512], stty_file[512];
	const char *status = tmp_path("kill9.status");
	snprintf(pidfile, sizeof pidfile, "%s", tmp_path("kill9.pid"));
	snprintf(stty_file, sizeof stty_file, "%s", tmp_path("kill9.stty"));
	snprintf(args, sizeof args, "run --viz %s", tiny_guest("spin.bin", g));
	hv_with_pid(cmd, sizeof cmd - 64, pidfile, args);
	snprintf(cmd + strlen(cmd), 600, "; s=$?; stty -a > '%s'; (exit $s)", stty_file);
	tmux_start(cmd, status);
	wait_screen("LIVE");
	static struct hv_result r;
	pane_modes(&r);
	cr_assert_str_eq(r.out, "1 0\n", "curses did not set the terminal up as expected");
	pid_t hv, viz;
	live_pids(pidfile, &hv, &viz);
	cr_assert_eq(kill(viz, SIGKILL), 0);
	cr_assert_eq(wait_status(status), HV_EXIT_INTERRUPTED);
	wait_screen("hv: guest output and messages:");
	screen(&r);
	cr_assert(strstr(r.out, "hv: hvviz was killed by signal 9 (Killed)\n"), "%s", r.out);
	pane_modes(&r);
	cr_assert_str_eq(r.out, "0 1\n");
	const char *st = read_file(stty_file);
	cr_assert(strstr(st, " echo ") && strstr(st, " icanon "), "%s", st);
}

/*
 * Ctrl-C reaches hv and hvviz at once (one terminal, one process group). hvviz's end may reach
 * hv's vCPU thread (waiting for the next step) before hv's main thread has seen its own SIGINT;
 * hv must still report the Ctrl-C, not "hvviz closed", and the terminal must be the shell's.
 */
Test(vizlive, ctrl_c_in_step_mode_is_reported_as_an_interrupt, .timeout = 60, .fini = tmux_stop)
{
	require_kvm();
	require_tmux();
	char hv[4096], g[512], cmd[8192];
	const char *status = tmp_path("ctrlc.status");
	snprintf(cmd, sizeof cmd, "'%s' run --viz=step --trace '%s' '%s'",
		 abs_path(getenv("HV") ? getenv("HV") : "build/hv", hv), tmp_path("ctrlc.hvt"),
		 tiny_guest("inloop.bin", g));
	tmux_start(cmd, status);
	wait_screen("LIVE");
	keys("End", "Space");
	wait_screen("port=0x500");
	keys("C-c", NULL);
	cr_assert_eq(wait_status(status), HV_EXIT_INTERRUPTED);
	wait_screen("hv: guest output and messages:");
	static struct hv_result r;
	screen(&r);
	cr_assert(strstr(r.out, "hv: interrupted; the trace was saved\n"), "%s", r.out);
	cr_assert_null(strstr(r.out, "hvviz closed"), "%s", r.out);
	pane_modes(&r);
	cr_assert_str_eq(r.out, "0 1\n");
}

/* Has the process ended (gone, or a zombie waiting for its parent)? */
static int process_ended(pid_t pid)
{
	char p[64], st[256];
	snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return 1;
	size_t n = fread(st, 1, sizeof st - 1, f);
	fclose(f);
	st[n] = '\0';
	const char *close_paren = strrchr(st, ')'); /* "PID (NAME) STATE ..." */
	return close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

/*
 * hv killed (SIGKILL) in an interactive shell: the shell takes the terminal back for its prompt,
 * and hvviz, now a background process whose keys go to the shell, could never be quit. It must
 * leave by itself (hv's socket closed and the terminal's foreground group is not its own).
 */
Test(vizlive, hvviz_leaves_when_hv_is_killed_and_the_shell_takes_the_terminal, .timeout = 60,
     .fini = tmux_stop)
{
	require_kvm();
	require_tmux();
	static int serial;
	snprintf(tmux_server, sizeof tmux_server, "hvtest-sh-%d-%d", (int)getpid(), serial++);
	static struct hv_result r;
	tmux(&r, (const char *[]){ "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40",
				   "bash --norc --noprofile -i", NULL });
	cr_assert_eq(r.status, 0, "tmux new-session: %s", r.err);
	char g[512], args[1024], cmd[8192], pidfile[512];
	snprintf(pidfile, sizeof pidfile, "%s", tmp_path("killhv.pid"));
	snprintf(args, sizeof args, "run --viz %s", tiny_guest("spin.bin", g));
	hv_with_pid(cmd, sizeof cmd, pidfile, args);
	tmux(&r, (const char *[]){ "send-keys", "-l", cmd, NULL });
	keys("Enter", NULL);
	wait_screen("LIVE");
	pid_t hv, viz;
	live_pids(pidfile, &hv, &viz);
	cr_assert_eq(kill(hv, SIGKILL), 0);
	int ended = 0;
	for (int i = 0; i < 30 && !ended; i++) {
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
		ended = process_ended(viz);
	}
	if (!ended)
		kill(viz, SIGKILL);
	cr_assert(ended, "hvviz (pid %d) still runs 3 s after hv was killed", (int)viz);
}
