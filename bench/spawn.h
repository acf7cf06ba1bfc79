/*
 * spawn.h - run another program and measure it from the outside: start-up, wall time, memory.
 *
 * Concept: to compare two VMMs fairly (hv and QEMU) the benchmark must treat both the same
 * way: as a process started with fork()/exec(), timed with the same clock from the fork,
 * and weighed with what the kernel says about it at the end (wait4()'s struct rusage,
 * ru_maxrss: the most resident memory the process ever had). Used by bench/exitbench.c.
 * Textbook: chapter 3, section "What an exit costs".
 */
#ifndef BENCH_SPAWN_H
#define BENCH_SPAWN_H

struct spawn_result {
	int status;          /* exit status; 128 + signal if killed; -1 if it never ran */
	double first_out_s;  /* fork to the first byte on its stdout; -1 if it printed nothing */
	double total_s;      /* fork to its end */
	long maxrss_kib;     /* peak resident set (ru_maxrss, KiB on Linux) */
	int killed_by_us;    /* it was still running after its first line or past the timeout */
	char out[256];       /* the start of its stdout */
	char err_line[160];  /* the last non-empty line of its stderr (why it failed) */
};

/*
 * Run argv (argv[0] looked up in PATH) with stdout and stderr on pipes. kill_after_line:
 * SIGKILL it once a whole line arrived on stdout (a guest that halts forever under QEMU).
 * timeout_s: SIGKILL it then. Returns 0 if it was started, -1 if fork or pipe failed.
 */
int spawn_run(const char *const *argv, int kill_after_line, double timeout_s,
	      struct spawn_result *r);

/* Monotonic seconds, the clock of every time above. */
double spawn_now(void);

#endif
