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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"
#include "trace.h"

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
