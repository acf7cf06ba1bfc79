/*
 * spawn.c - run a program under observation: when it first speaks, when it ends, how big
 * it got (see spawn.h).
 *
 * Concept: start-up time and memory of a VMM are properties of the whole process, so they
 * are measured from outside it: the clock starts before fork(), the first byte on the pipe
 * is the guest's first serial output (both VMMs copy the UART's transmit register to their
 * stdout at once), and wait4() returns the kernel's own accounting of the child's peak
 * resident memory (getrusage(2): ru_maxrss). Textbook: chapter 3, "What an exit costs".
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double spawn_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * The child: its stdout and stderr become the pipes, stdin /dev/null. Not a closed fd 0: the
 * next file the child opens would get number 0, and QEMU's -serial stdio would read from it.
 */
static void child_exec(const char *const *argv, int out_w, int err_w)
{
	int null = open("/dev/null", O_RDONLY);
	dup2(null, 0);
	dup2(out_w, 1);
	dup2(err_w, 2);
	execvp(argv[0], (char *const *)argv);
	fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Keep the last non-empty line of everything seen on stderr so far. */
static void note_err(struct spawn_result *r, char *acc, size_t *n, size_t cap, const char *p,
		     size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			if (*n) {
				acc[*n] = '\0';
				snprintf(r->err_line, sizeof r->err_line, "%s", acc);
			}
			*n = 0;
		} else if (*n + 1 < cap) {
			acc[(*n)++] = p[i];
		}
	}
}

/* Append to r->out; report whether a whole line has arrived. */
static int note_out(struct spawn_result *r, double t0, const char *p, size_t len)
{
	size_t have = strlen(r->out), room = sizeof r->out - 1 - have;
	if (r->first_out_s < 0 && len)
		r->first_out_s = spawn_now() - t0;
	memcpy(r->out + have, p, len < room ? len : room);
	r->out[have + (len < room ? len : room)] = '\0';
	return strchr(r->out, '\n') != NULL;
}

/* Read both pipes until both close (a chatty child never blocks on a full pipe). */
static void drain(pid_t pid, int fds[2], int kill_after_line, double t0, double timeout_s,
		  struct spawn_result *r)
{
	char acc[sizeof r->err_line];
	size_t acc_n = 0;
	struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		double left = timeout_s - (spawn_now() - t0);
		if (left <= 0 && !r->killed_by_us) {
			kill(pid, SIGKILL);
			r->killed_by_us = 1;
		}
		if (poll(p, 2, left > 0 ? (int)(left * 1000) + 1 : 100) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			ssize_t got = read(p[i].fd, buf, sizeof buf);
			if (got <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
			} else if (i == 1) {
				note_err(r, acc, &acc_n, sizeof acc, buf, (size_t)got);
			} else if (note_out(r, t0, buf, (size_t)got) && kill_after_line &&
				   !r->killed_by_us) {
				kill(pid, SIGKILL);
				r->killed_by_us = 1;
			}
		}
	}
	if (acc_n) {
		acc[acc_n] = '\0';
		snprintf(r->err_line, sizeof r->err_line, "%s", acc);
	}
}

int spawn_run(const char *const *argv, int kill_after_line, double timeout_s,
	      struct spawn_result *r)
{
	int po[2], pe[2];
	memset(r, 0, sizeof *r);
	r->status = -1;
	r->first_out_s = -1;
	if (pipe(po) < 0)
		return -1;
	if (pipe(pe) < 0) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	double t0 = spawn_now();
	pid_t pid = fork();
	if (pid == 0)
		child_exec(argv, po[1], pe[1]);
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		return -1;
	}
	drain(pid, (int[2]){ po[0], pe[0] }, kill_after_line, t0, timeout_s, r);
	int st = 0;
	struct rusage ru = { 0 };
	while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
		;
	r->total_s = spawn_now() - t0;
	r->maxrss_kib = ru.ru_maxrss;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}
