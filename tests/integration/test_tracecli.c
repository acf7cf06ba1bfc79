/*
 * test_tracecli.c - `hv trace` and `hvviz --screen` on inputs that are not trace files, and on
 * outputs that cannot be written.
 *
 * Suite tracecli needs no KVM: it only reads traces (the checked-in ones of tests/viz/traces)
 * and paths that are not traces at all. Three promises of the readers (hv/trace_read.c,
 * viz/model.c) are checked: a path is refused for what it is before a byte of it is read (a
 * device that never ends, a FIFO with no writer, a directory, a huge file whose first bytes
 * are wrong), a result that could not be written is an error, not a silent status 0, and a
 * file cut shorter while it is being read is one line and status 2, not a death by SIGBUS.
 *
 * These tests start hv themselves (fork + exec) instead of through the harness, for two
 * things the harness does not give: wait4's resource usage (the child's peak memory) and an
 * alarm that turns a hang into a failure instead of a stuck test run.
 * Textbook: appendix A "The trace format", section A.9 "Validation rules".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"

#define TRACES "tests/viz/traces/"

struct run {
	int status;        /* exit status, or 128 + signal */
	long maxrss_kb;    /* the child's peak resident memory */
	char err[4096];    /* its stderr */
};

static const char *prog(const char *var, const char *def)
{
	const char *v = getenv(var);
	return v && *v ? v : def;
}

/*
 * Run argv with stdout on `out` (a path opened for writing, or -1 with out_fd given) and stderr
 * into a temporary file. alarm(20) survives exec: a child that blocks (on a FIFO, say) dies of
 * SIGALRM and the test fails with status 142 instead of hanging the whole run.
 */
static void run_with_stdout(struct run *r, int out_fd, const char *const *argv)
{
	const char *errpath = tmp_path("stderr.txt");
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fe = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fe < 0 || dup2(out_fd, 1) < 0 || dup2(fe, 2) < 0)
			_exit(126);
		signal(SIGPIPE, SIG_DFL); /* what a shell gives its commands */
		alarm(20);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	struct rusage ru;
	cr_assert_eq(wait4(pid, &st, 0, &ru), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->maxrss_kb = ru.ru_maxrss;
	FILE *f = fopen(errpath, "r");
	size_t n = f ? fread(r->err, 1, sizeof r->err - 1, f) : 0;
	r->err[n] = '\0';
	if (f)
		fclose(f);
}

static void run_to(struct run *r, const char *out_path, const char *const *argv)
{
	int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", out_path, strerror(errno));
	run_with_stdout(r, fd, argv);
	close(fd);
}

static void assert_refused(const struct run *r, const char *needle)
{
	cr_assert_eq(r->status, HV_EXIT_USAGE, "status %d, stderr: %s", r->status, r->err);
	cr_assert_eq(count_lines(r->err), 1, "want one line, got: %s", r->err);
	cr_assert(strncmp(r->err, "hv: ", 4) == 0, "%s", r->err);
	cr_assert(strstr(r->err, needle), "want '%s' in: %s", needle, r->err);
}

/* hv trace dump|stats PATH, stdout into a temporary file. */
static void hv_trace(struct run *r, const char *cmd, const char *path)
{
	run_to(r, tmp_path("out.txt"), (const char *[]){ prog("HV", "build/hv"), "trace", cmd, path,
							 NULL });
}

/* /dev/zero never ends: reading it "to the end" grew memory without bound. */
Test(tracecli, dev_zero_is_refused_at_once)
{
	struct run r;
	hv_trace(&r, "dump", "/dev/zero");
	assert_refused(&r, "trace '/dev/zero' is not a regular file");
	hv_trace(&r, "stats", "/dev/zero");
	assert_refused(&r, "is not a regular file");
}

/* A FIFO with no writer: open() for reading would wait for one forever (alarm: status 142). */
Test(tracecli, fifo_is_refused_without_blocking)
{
	const char *p = tmp_path("pipe.hvt");
	cr_assert_eq(mkfifo(p, 0600), 0, "mkfifo: %s", strerror(errno));
	struct run r;
	hv_trace(&r, "stats", p);
	assert_refused(&r, "is not a regular file");
}

Test(tracecli, directory_is_refused)
{
	struct run r;
	hv_trace(&r, "dump", "/tmp");
	assert_refused(&r, "trace '/tmp' is a directory, not a trace");
}

/*
 * A 2 GiB file (sparse: no disk used) whose magic is wrong. The header is checked before the
 * records are looked at, so hv reads 128 bytes of it: its peak memory stays that of a small
 * program. Reading the file first would need 2 GiB (and seconds) before saying "bad magic".
 */
Test(tracecli, huge_file_with_bad_magic_is_refused_before_it_is_read)
{
	const char *p = tmp_path("huge.hvt");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "NOTATRACE", 9), 9);
	cr_assert_eq(ftruncate(fd, (off_t)2 << 30), 0, "ftruncate: %s", strerror(errno));
	close(fd);
	struct run r;
	hv_trace(&r, "dump", p);
	assert_refused(&r, "not an hvlab trace (bad magic)");
	/* 256 MiB: far above hv's own size even with AddressSanitizer, far below 2 GiB. */
	cr_assert_lt(r.maxrss_kb, 256 * 1024, "hv used %ld KiB to refuse a file by its header",
		     r.maxrss_kb);
}

/* /dev/full: every write fails with ENOSPC. The dump is bigger than stdio's buffer (writes fail
 * while printing), the stats are smaller (only the final flush fails): both must be noticed. */
Test(tracecli, dump_and_stats_to_a_full_disk_fail)
{
	static const char want[] = "hv: writing the output failed: No space left on device\n";
	struct run r;
	const char *hv = prog("HV", "build/hv");
	run_to(&r, "/dev/full", (const char *[]){ hv, "trace", "dump", TRACES "diskio-virtio.hvt",
						  NULL });
	cr_assert_neq(r.status, 0, "dump to /dev/full: status 0");
	cr_assert_str_eq(r.err, want);
	run_to(&r, "/dev/full", (const char *[]){ hv, "trace", "stats", TRACES "modeswitch.hvt",
						  NULL });
	cr_assert_neq(r.status, 0, "stats to /dev/full: status 0");
	cr_assert_str_eq(r.err, want);
	/* --json takes the same way out. */
	run_to(&r, "/dev/full", (const char *[]){ hv, "trace", "dump", "--json",
						  TRACES "modeswitch.hvt", NULL });
	cr_assert_neq(r.status, 0, "dump --json to /dev/full: status 0");
	cr_assert_str_eq(r.err, want);
}

Test(tracecli, hvviz_screen_to_a_full_disk_fails)
{
	struct run r;
	run_to(&r, "/dev/full", (const char *[]){ prog("HVVIZ", "build/hvviz"), "--screen", "80x24",
						  TRACES "modeswitch.hvt", NULL });
	cr_assert_neq(r.status, 0, "hvviz --screen to /dev/full: status 0");
	cr_assert_str_eq(r.err, "hvviz: writing the output failed: No space left on device\n");
}

/*
 * `hv trace dump big.hvt | head -1`: the reader takes one line and closes the pipe. The dump
 * (130 KB) is bigger than the pipe (64 KiB), so hv is still writing: it must not end with
 * status 0 as if it had printed everything (SIGPIPE kills it: 128 + 13).
 */
Test(tracecli, dump_into_a_closed_pipe_is_not_a_success)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	/* The reader: read one line, close. In a thread-free way: a child of our own. */
	pid_t reader = fork();
	cr_assert_neq(reader, -1);
	if (reader == 0) {
		close(p[1]);
		char c;
		while (read(p[0], &c, 1) == 1 && c != '\n')
			;
		_exit(0);
	}
	close(p[0]);
	struct run r;
	run_with_stdout(&r, p[1], (const char *[]){ prog("HV", "build/hv"), "trace", "dump",
						    TRACES "diskio-virtio.hvt", NULL });
	close(p[1]);
	waitpid(reader, NULL, 0);
	cr_assert_neq(r.status, 0, "hv trace dump into a closed pipe: status 0");
	cr_assert(r.status == 128 + SIGPIPE || strstr(r.err, "writing the output failed"),
		  "status %d, stderr: %s", r.status, r.err);
}

/* ---- a trace cut shorter while it is read ---- */

/*
 * Another process truncates the trace while hv or hvviz reads it (hv still writing it and
 * stopped, a student's `truncate`). To hit that moment every time, not by luck, gdb runs the
 * program, stops it at `bp` (after it measured or mapped the file, before it reads the
 * records), cuts the file to 4096 bytes from outside, and lets it go on. `handle SIGBUS
 * nostop pass` gives a bus error to the program exactly as without a debugger; `quit
 * $_exitcode` makes gdb's status the program's (a program killed by a signal has no exit code:
 * gdb then fails with status 1). The program's own stderr goes to its own file.
 */
/* In a SAN=1 build the program checks for leaks at exit, and LeakSanitizer cannot work under
 * a debugger (it fails with status 1): off for these runs only. The other tests still check. */
#define LSAN_OFF "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "

static void run_cut_at(struct run *r, char *prog_err, size_t errlen, const char *bp,
		       const char *program, const char *args, const char *file)
{
	struct hv_result which;
	cmd_exec(&which, (const char *[]){ "sh", "-c", "command -v gdb", NULL });
	cr_assert_eq(which.status, 0, "gdb is not installed (make deps installs it)");
	char errfile[512], brk[256], run[2048], cut[1024];
	snprintf(errfile, sizeof errfile, "%s", tmp_path("prog-stderr.txt"));
	snprintf(brk, sizeof brk, "break %s", bp);
	snprintf(run, sizeof run, "run %s >/dev/null 2>%s", args, errfile);
	snprintf(cut, sizeof cut, "shell truncate -s 4096 %s", file);
	run_to(r, tmp_path("gdb-out.txt"),
	       (const char *[]){ "/bin/sh", "-c", LSAN_OFF "exec gdb \"$@\"", "gdb", "-q", "-nx",
				 "-batch", "-ex", "handle SIGBUS nostop noprint pass", "-ex", brk,
				 "-ex", run,
				 "-ex", "delete", "-ex", cut, "-ex", "continue", "-ex",
				 "quit $_exitcode", program, NULL });
	FILE *f = fopen(errfile, "r");
	size_t n = f ? fread(prog_err, 1, errlen - 1, f) : 0;
	prog_err[n] = '\0';
	if (f)
		fclose(f);
}

/* A private copy of a checked-in trace (the test cuts it). */
static const char *cut_copy(char *path, size_t len, size_t *size)
{
	static unsigned char buf[1 << 17];
	FILE *f = fopen(TRACES "diskio-virtio.hvt", "rb");
	cr_assert(f);
	*size = fread(buf, 1, sizeof buf, f);
	fclose(f);
	cr_assert_gt(*size, 3 * 4096, "the trace must reach well past the cut");
	snprintf(path, len, "%s", write_tmp("cut.hvt", buf, *size));
	return path;
}

static void assert_one_line_status_2(const struct run *r, const char *err, const char *want)
{
	char gdb_out[4096] = "";
	FILE *f = fopen(tmp_path("gdb-out.txt"), "r");
	if (f) {
		gdb_out[fread(gdb_out, 1, sizeof gdb_out - 1, f)] = '\0';
		fclose(f);
	}
	cr_assert_eq(r->status, HV_EXIT_USAGE, "status %d (1: killed by a signal, see gdb):\n"
		     "%s\n%s\nprogram: %s", r->status, gdb_out, r->err, err);
	cr_assert_str_eq(err, want);
}

/* hv reads with pread (hv/trace_read.c): the cut is a short read, one line, status 2. */
Test(tracecli, hv_trace_of_a_file_cut_while_it_is_read_is_one_line, .timeout = 60)
{
	char p[512], args[1024], want[1536], err[4096];
	size_t size;
	cut_copy(p, sizeof p, &size);
	snprintf(args, sizeof args, "trace stats %s", p);
	struct run r;
	run_cut_at(&r, err, sizeof err, "trace_read_records", prog("HV", "build/hv"), args, p);
	snprintf(want, sizeof want, "hv: trace '%s' was truncated while being read: it ends at "
		 "byte 4096, not %zu (record it again)\n", p, size);
	assert_one_line_status_2(&r, err, want);
}

/* hvviz maps the file (viz/model.c): the cut during the open scan is a SIGBUS, which
 * viz/fileguard.c turns into one line and status 2. */
Test(tracecli, hvviz_open_of_a_file_cut_while_it_is_read_is_one_line, .timeout = 60)
{
	char p[512], args[1024], want[1536], err[4096];
	size_t size;
	cut_copy(p, sizeof p, &size);
	snprintf(args, sizeof args, "--screen 80x24 %s", p);
	struct run r;
	/* The first record is being checked: the scan has the file mapped and reads on. */
	run_cut_at(&r, err, sizeof err, "trace_record_check", prog("HVVIZ", "build/hvviz"), args,
		   p);
	snprintf(want, sizeof want, "hvviz: '%s' was truncated while being read (record it "
		 "again)\n", p);
	assert_one_line_status_2(&r, err, want);
}

/* The same after the open: the file is cut once the model is built, and End makes the Path
 * view read the last record, far past the cut. */
Test(tracecli, hvviz_screen_of_a_file_cut_after_the_open_is_one_line, .timeout = 60)
{
	char p[512], args[1024], want[1536], err[4096];
	size_t size;
	cut_copy(p, sizeof p, &size);
	snprintf(args, sizeof args, "--screen 80x24 --keys End %s", p);
	struct run r;
	run_cut_at(&r, err, sizeof err, "app_init", prog("HVVIZ", "build/hvviz"), args, p);
	snprintf(want, sizeof want, "hvviz: '%s' was truncated while being read (record it "
		 "again)\n", p);
	assert_one_line_status_2(&r, err, want);
}
