/*
 * test_tracecli.c - `hv trace` and `hvviz --screen` on inputs that are not trace files, and on
 * outputs that cannot be written.
 *
 * Suite tracecli needs no KVM: it only reads traces (the checked-in ones of tests/viz/traces)
 * and paths that are not traces at all. Two promises of the reader (hv/trace_read.c) are
 * checked: a path is refused for what it is before a byte of it is read (a device that never
 * ends, a FIFO with no writer, a directory, a huge file whose first bytes are wrong), and a
 * result that could not be written is an error, not a silent status 0.
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
