/*
 * vizlink.c - `hv run --viz[=step]`: hv starts hvviz on its own trace and lets it watch the run.
 *
 * Concept: a VMM and the tool that shows its exits are two programs, and they need to share
 * surprisingly little. The trace file already says everything about an exit (hv/trace.h), so
 * hv only has to make the records reach the file sooner than 1024 at a time: every 50 ms, and
 * in step mode after every exit, before it waits for the user.
 * What the file cannot say travels on a socket pair (two connected descriptors, one per
 * process, like a pipe in both directions):
 *
 *   hvviz -> hv   --viz=step: one byte = "run the guest to its next exit". The vCPU thread
 *                 reads it before every KVM_RUN, so the guest runs exactly one exit per key.
 *   hv -> hvviz   "S <status> <why>\n" when the VM has stopped (why: the reason hv prints on
 *                 the terminal once hvviz is gone), then the socket closes.
 *   either side   closing its end: end-of-file on the other. hvviz quitting stops the VM (as
 *                 Ctrl-C would: status HV_EXIT_INTERRUPTED, trace saved).
 *
 * What the pair guarantees, and all that hvviz relies on (viz/live.c):
 *   - order: viz_finish flushes the trace before it sends "S", so once hvviz has read "S",
 *     one more look at the file finds every record of the run;
 *   - one byte, one exit: hvviz sends the next byte only after the last exit's records have
 *     reached the file, so a held-down key cannot queue up a burst of KVM_RUNs;
 *   - no endless wait: hv's vCPU thread waits for the byte in 100 ms polls that also watch
 *     for a stop, and hv's main thread and hvviz only take what is there, so a stuck hvviz
 *     cannot hang hv's shutdown, nor a stuck hv hvviz's keys.
 * The socket carries no records. The data path is the file alone, which is why a run watched
 * live and the same trace opened later are read by the same code (viz/model.c).
 *
 * One terminal, two programs: hvviz draws on it with curses, so everything hv would print
 * during the run (the guest's console, hv's messages) goes to TRACE.log instead, and hv takes
 * the terminal back to print its summary once the user has left hvviz.
 * Textbook: chapter 6 "Watching it happen", section "Live".
 */
#include "vizlink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "vcpu.h"
#include "vm.h"

int viz_parse(struct viz *v, const char *arg)
{
	/* -1 everywhere: descriptor 0 is stdin and pid 0 would mean "any child" to waitpid */
	*v = (struct viz){ .fd = -1, .pid = -1, .tty_out = -1, .tty_err = -1 };
	/* arg is NULL for a bare --viz; "step" is the only value --viz= takes. */
	if (arg && strcmp(arg, "step"))
		return -1;
	v->on = true;
	v->step = arg != NULL;
	return 0;
}

/*
 * hvviz is looked for next to hv's own binary, not in PATH: `build/hv` must start the hvviz
 * of the same build (a different one might read the trace differently). /proc/self/exe is the
 * kernel's link to the file this process runs, whatever argv[0] says.
 */
static int find_hvviz(struct viz *v)
{
	char self[sizeof(v->hvviz) - sizeof("/hvviz")]; /* room left for the name */
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		fprintf(stderr, "hv: --viz: cannot find hv's own binary: /proc/self/exe: %s (is /proc "
			"mounted?)\n", strerror(errno));
		return HV_EXIT_HOST;
	}
	/* readlink neither adds the NUL nor says that it cut a path short (hence the - 1 above):
	 * a cut path names no hvviz, and access() below then says which path it tried. */
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	*slash = '\0'; /* readlink gives an absolute path: there is always a '/' */
	snprintf(v->hvviz, sizeof(v->hvviz), "%s/hvviz", self);
	if (access(v->hvviz, X_OK) < 0) {
		fprintf(stderr, "hv: --viz: cannot start hvviz: %s: %s (run make)\n", v->hvviz,
			strerror(errno));
		return HV_EXIT_HOST;
	}
	return 0;
}

/* No --trace: a file of our own in $TMPDIR (or /tmp), removed when hv ends (viz_end). */
static int make_temp_trace(struct viz *v)
{
	const char *dir = getenv("TMPDIR");
	if (!dir || !dir[0])
		dir = "/tmp";
	int n = snprintf(v->trace, sizeof(v->trace), "%s/hv-viz-XXXXXX.hvt", dir);
	/* mkstemps fills in the six X's and creates the file, so no other program can take the
	 * same name between our choosing it and opening it. The suffix is 4 bytes, ".hvt". */
	int fd = n > 0 && (size_t)n < sizeof(v->trace) ? mkstemps(v->trace, 4) : -1;
	if (fd < 0) {
		fprintf(stderr, "hv: --viz: cannot create a temporary trace in %s: %s (set TMPDIR to a "
			"writable directory, or give --trace FILE)\n", dir,
			n > 0 && (size_t)n < sizeof(v->trace) ? strerror(errno) : "name too long");
		return HV_EXIT_HOST;
	}
	/* Only the name is kept: the trace writer opens the file again by that name (trace.c,
	 * with O_TRUNC), and hvviz by the same name. */
	close(fd);
	v->temp_trace = true;
	return 0;
}

int viz_prepare(struct viz *v, struct vm_options *opt)
{
	/* hvviz reads keys from stdin and draws on stdout: both must be the user's terminal. */
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "hv: --viz needs a terminal (run it in a terminal, or record with "
			"--trace FILE and open it later with hvviz FILE)\n");
		return HV_EXIT_USAGE;
	}
	int rc = find_hvviz(v);
	if (rc)
		return rc;
	if (opt->trace_path) {
		int n = snprintf(v->trace, sizeof(v->trace), "%s", opt->trace_path);
		if (n < 0 || (size_t)n + 4 >= sizeof(v->trace)) {
			fprintf(stderr, "hv: --viz: trace path too long: %.40s... (use a shorter path)\n",
				opt->trace_path);
			return HV_EXIT_USAGE;
		}
	} else if ((rc = make_temp_trace(v)) != 0) {
		return rc;
	}
	opt->trace_path = v->trace;
	/* "TRACE.log": the name says which run it belongs to, and it sits where the user looks. */
	snprintf(v->log, sizeof(v->log), "%s.log", v->trace);
	return 0;
}

/*
 * The child: the socket end it keeps must survive exec (the pair was made close-on-exec, so
 * that no *other* program hv might start inherits it), then hvviz replaces this process.
 * Only async-signal-safe calls would be required if hv had threads here; it has none yet
 * (vm_run starts them), but the code keeps to simple calls anyway.
 */
static void exec_hvviz(const struct viz *v, int fd)
{
	char fdbuf[16];
	snprintf(fdbuf, sizeof(fdbuf), "%d", fd);
	fcntl(fd, F_SETFD, 0); /* clear FD_CLOEXEC on this one descriptor */
	const char *argv[] = { v->hvviz, "--live", v->trace, "--control-fd", fdbuf,
			       v->step ? "--step" : NULL, NULL };
	execv(v->hvviz, (char *const *)argv);
	/*
	 * Only reached if execv failed. _exit, not exit: exit would run atexit handlers and
	 * flush stdio buffers that are copies of the parent's, in a process that is not really
	 * hv. 127 is the status a shell gives for a command it could not run.
	 */
	dprintf(STDERR_FILENO, "hv: --viz: cannot run %s: %s (run make)\n", v->hvviz, strerror(errno));
	_exit(127);
}

int viz_start(struct viz *v, struct vm *vm)
{
	int log = open(v->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log < 0) {
		fprintf(stderr, "hv: --viz: cannot create log '%s': %s (check the directory of the "
			"trace)\n", v->log, strerror(errno));
		return HV_EXIT_HOST;
	}
	/*
	 * A socket pair rather than two pipes: one descriptor per side carries both directions,
	 * and either side closing it is seen by the other as end-of-file, which is exactly the
	 * "the other program is gone" signal both need. SOCK_STREAM keeps the bytes in order.
	 */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "hv: --viz: socketpair failed: %s\n", strerror(errno));
		close(log);
		return HV_EXIT_HOST;
	}
	/* curses changes the terminal's modes and restores them at endwin; a hvviz killed by a
	 * signal never gets there, so hv keeps a copy (viz_finish). */
	v->have_termios = tcgetattr(STDIN_FILENO, &v->termios) == 0;
	/* fork copies stdio's buffers too: empty them first, or both processes print them. */
	fflush(stdout);
	fflush(stderr);
	/*
	 * fork now, before vm_run starts any thread: the child is a copy of a single-threaded
	 * process, so it holds no lock another thread had taken. The VM (KVM descriptors, guest
	 * RAM) is copied into the child only until execv replaces it; the descriptors are all
	 * close-on-exec, so hvviz holds none of them.
	 */
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "hv: --viz: fork failed: %s\n", strerror(errno));
		close(sv[0]), close(sv[1]), close(log);
		return HV_EXIT_HOST;
	}
	if (pid == 0)
		exec_hvviz(v, sv[1]);
	/* Our copy of hvviz's end must go: while hv held it, hv would never see end-of-file
	 * when hvviz quits (a socket is closed only when its last descriptor is). */
	close(sv[1]);
	v->fd = sv[0];
	v->pid = pid;
	v->started = true;
	/*
	 * From here on hvviz owns the terminal. hv's descriptors 1 and 2 (the guest's console
	 * writes to 1, every "hv: ..." message to 2) now lead to the log; copies of the terminal's
	 * are kept (close-on-exec, above 2) to be put back when hvviz has exited.
	 */
	/* F_DUPFD_CLOEXEC with 3: the copy takes the lowest free number from 3 up, never 0-2,
	 * which the dup2 calls below are about to reuse. */
	v->tty_out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	v->tty_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	/* dup2(a, b): descriptor b now refers to what a refers to. Every later write(1, ...)
	 * of the console goes to the log, with no change to the console's code. */
	dup2(log, STDOUT_FILENO);
	dup2(log, STDERR_FILENO);
	close(log);
	vm->viz = v;
	return 0;
}

/*
 * End-of-file on the socket: hvviz has gone. Usually the user quit it; but Ctrl-C ends hvviz
 * too (one terminal, one process group), and its end can reach this thread before the main
 * thread, which looks every 50 ms, has seen hv's own SIGINT. So the main thread decides
 * (wait_vcpu in vm.c: a signal first, then --timeout, then hvviz's end): a kick other than
 * KICK_VIZ makes KVM_RUN return at once and the exit loop names it, as for any kick.
 */
static void hvviz_gone(struct vm *vm)
{
	for (int ms = 0; ms < 120 && vm->cpu.kick == KICK_NONE; ms += 10)
		poll(NULL, 0, 10);
	if (vm->cpu.kick == KICK_NONE || vm->cpu.kick == KICK_VIZ)
		viz_stop_vm(vm); /* the user quit hvviz */
}

/*
 * Step mode: block until hvviz sends its byte. poll with a timeout rather than a bare read():
 * a stop kick (Ctrl-C, --timeout: vcpu_kick in vcpu.c) sent just before the read would be lost
 * and the thread would sleep on; looking at vm->cpu.kick every tenth of a second closes that gap.
 * The socket is looked at first, so hvviz's end is always noticed as such.
 */
static void wait_for_step(struct vm *vm, struct viz *v)
{
	struct pollfd p = { .fd = v->fd, .events = POLLIN };
	for (;;) {
		int rc = poll(&p, 1, 100);
		if (rc > 0) {
			char b;
			/* The byte's value means nothing (hvviz sends 'n'); only that it came. */
			ssize_t n = read(v->fd, &b, 1);
			if (n == 1)
				return; /* "next": one more KVM_RUN */
			if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				hvviz_gone(vm); /* end-of-file */
				return;
			}
			continue;
		}
		/* A stop kick: KVM_RUN will return at once (immediate_exit) and the exit loop
		 * ends the run as usual. Interrupt kicks (irq.c) leave kick at KICK_NONE. */
		if (vm->cpu.kick != KICK_NONE && poll(&p, 1, 0) == 0)
			return;
	}
}

/*
 * --trace-limit reached: records are dropped from now on (trace_write.c), so hvviz would wait for
 * an exit that never reaches the file while hv waits for hvviz's next byte. Better to stop
 * at the last exit the trace shows, and say why.
 */
static bool trace_full(struct vm *vm)
{
	if (trace_dropped(vm->trace) == 0)
		return false;
	char why[128];
	snprintf(why, sizeof(why), "--viz=step: the trace is full: VM stopped at exit %llu (raise "
		 "--trace-limit)", (unsigned long long)vm->exits_seen);
	vm_stop_with(vm, HV_EXIT_INTERRUPTED, why);
	return true;
}

uint64_t viz_before_run(struct vm *vm)
{
	struct viz *v = vm->viz;
	/*
	 * Free-running, hv writes records as usual and the main thread flushes them every 50 ms
	 * (viz_poll): hvviz looks ten times a second, so a write() per exit would only slow the
	 * guest down (and inflate the "in hv" time of the summary) for nothing it could show.
	 */
	if (!v || !v->step || vm->stop.requested || v->fd < 0)
		return 0;
	/* Step mode: the user must see this exit before deciding to run the next one. */
	trace_flush_now(vm->trace);
	if (trace_full(vm))
		return 0;
	uint64_t t0 = vm_now_ns();
	__atomic_store_n(&v->pause_since, t0, __ATOMIC_SEQ_CST);
	wait_for_step(vm, v);
	uint64_t paused = vm_now_ns() - t0;
	/* The total first, then "no pause": a reader between the two counts this pause twice
	 * (a later --timeout), never zero times (an early one). */
	__atomic_add_fetch(&v->paused_ns, paused, __ATOMIC_SEQ_CST);
	__atomic_store_n(&v->pause_since, 0, __ATOMIC_SEQ_CST);
	return paused;
}

uint64_t viz_paused_ns(struct vm *vm)
{
	struct viz *v = vm->viz;
	if (!v)
		return 0;
	uint64_t since = __atomic_load_n(&v->pause_since, __ATOMIC_SEQ_CST);
	uint64_t total = __atomic_load_n(&v->paused_ns, __ATOMIC_SEQ_CST);
	uint64_t now = vm_now_ns();
	return total + (since && now > since ? now - since : 0);
}

bool viz_trace_kept(const struct vm *vm)
{
	return !vm->viz || !vm->viz->temp_trace;
}

/*
 * The main thread looks every 50 ms (wait_vcpu in vm.c). The flush makes visible what no exit
 * would: the entry of a guest that computes without exiting, the I/O thread's records while
 * the vCPU thread waits for the user. Looking at the socket here also covers a guest that
 * never exits, which the vCPU thread could not notice. MSG_PEEK in step mode: a "next" byte
 * waiting there is the vCPU thread's, only end-of-file matters here. In free mode hvviz sends
 * nothing, but anything it did send is read and dropped, so it cannot hide the end-of-file.
 */
bool viz_poll(struct vm *vm)
{
	struct viz *v = vm->viz;
	if (!v || v->fd < 0)
		return false;
	trace_flush_now(vm->trace);
	char buf[64];
	ssize_t n = recv(v->fd, buf, v->step ? 1 : sizeof(buf),
			 MSG_DONTWAIT | (v->step ? MSG_PEEK : 0));
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void viz_stop_vm(struct vm *vm)
{
	char why[96];
	snprintf(why, sizeof(why), "hvviz closed: VM stopped at exit %llu",
		 (unsigned long long)vm->exits_seen);
	vm_stop_with(vm, HV_EXIT_INTERRUPTED, why);
}

/* Put the terminal's stdout/stderr back over the log's. */
static void restore_terminal(struct viz *v)
{
	fflush(stdout);
	fflush(stderr);
	if (v->tty_out >= 0) {
		dup2(v->tty_out, STDOUT_FILENO);
		close(v->tty_out);
		v->tty_out = -1;
	}
	if (v->tty_err >= 0) {
		dup2(v->tty_err, STDERR_FILENO);
		close(v->tty_err);
		v->tty_err = -1;
	}
}

/*
 * hvviz died without curses' endwin (SIGKILL, a crash): the terminal is still set up for
 * curses, in two places. The kernel's line discipline (echo, line editing, Ctrl-C): hv saved
 * those termios settings before starting hvviz and puts them back. And the terminal's own
 * modes, which only escape sequences change: curses drew on the alternate screen (a second
 * screen, so that the shell's text comes back at the end), hid the cursor and put the keypad
 * in application mode. hv does not link curses to look the sequences up in terminfo; it sends
 * those of xterm, which tmux, screen and the desktop terminals share (a terminal ignores a
 * private mode it does not know): leave the alternate screen, show the cursor, normal cursor
 * keys and keypad, and start at the left edge.
 */
static void reset_terminal(struct viz *v)
{
	if (v->have_termios)
		tcsetattr(STDIN_FILENO, TCSANOW, &v->termios);
	const char *term = getenv("TERM");
	if (isatty(STDOUT_FILENO) && term && term[0] && strcmp(term, "dumb")) {
		static const char seq[] = "\033[?1049l\033[?25h\033[?1l\033>\r";
		(void)!write(STDOUT_FILENO, seq, sizeof(seq) - 1);
	}
}

/* Reap hvviz if it ends within `ms` milliseconds; false if it still runs. */
static bool reaped_within(struct viz *v, int ms, int *st)
{
	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(v->pid, st, WNOHANG);
		if (r == v->pid || (r < 0 && errno != EINTR))
			return true; /* (ECHILD: nothing left to wait for) */
		if (waited >= ms)
			return false;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

/*
 * Wait for hvviz to end: the user reads the end of the run in it as long as they like. But
 * SIGINT or SIGTERM reaching hv (before: `asked`, the VM was stopped by one; or now: EINTR,
 * only vm.c's handler runs on this thread) can only mean "end hv", which cannot happen while
 * hvviz holds the terminal. A Ctrl-C reached hvviz too (one terminal, one process group) and
 * it is ending already: a signal now could cut curses' clean-up short, so hvviz gets 300 ms
 * first. Then SIGTERM (curses' handler puts the terminal back), and SIGKILL if asked again.
 */
static int wait_hvviz(struct viz *v, bool asked)
{
	int st = 0, sig = SIGTERM;
	for (;;) {
		if (asked) {
			if (reaped_within(v, 300, &st))
				return st;
			kill(v->pid, sig);
			sig = SIGKILL;
		}
		/* waitpid also reaps hvviz: without it, the ended process would stay a zombie
		 * until hv itself exits. */
		if (waitpid(v->pid, &st, 0) == v->pid)
			return st;
		if (errno != EINTR)
			return 0;
		asked = true;
	}
}

static void finish(struct viz *v, int status, const char *why, bool signalled)
{
	if (!v->started || v->finished)
		return;
	v->finished = true;
	if (v->fd >= 0) {
		/* The last word, then end-of-file: the status and hv's reason, which hv prints on the
		 * terminal only once hvviz is gone. MSG_NOSIGNAL: a hvviz that already quit must not
		 * kill hv with SIGPIPE. */
		char line[400];
		int n = snprintf(line, sizeof(line), "S %d %s\n", status, why ? why : "");
		if (n < 0 || (size_t)n >= sizeof(line))
			n = snprintf(line, sizeof(line), "S %d\n", status);
		/* One send of one short line: a Unix stream socket queues it as one piece, so
		 * viz/live.c's read_control finds the whole line or none of it. */
		(void)send(v->fd, line, (size_t)n, MSG_NOSIGNAL);
		close(v->fd);
		v->fd = -1;
	}
	int st = wait_hvviz(v, signalled);
	v->pid = -1;
	restore_terminal(v);
	if (WIFSIGNALED(st))
		reset_terminal(v);
	/* Ctrl-C reaches both programs (one terminal, one process group), and a SIGTERM is hv's
	 * own doing: hv says why itself. */
	if (WIFSIGNALED(st) && WTERMSIG(st) != SIGINT && !(signalled && WTERMSIG(st) == SIGTERM))
		fprintf(stderr, "hv: hvviz was killed by signal %d (%s)\n", WTERMSIG(st),
			strsignal(WTERMSIG(st)));
}

void viz_finish(struct vm *vm)
{
	struct viz *v = vm->viz;
	if (!v)
		return;
	/* Everything recorded so far, the KVM counters included, before the status line. */
	trace_flush_now(vm->trace);
	/* The reason hv will print (vm_run prints vm->why for a status other than 0), and what
	 * the trace lacks: a file cut short by --trace-limit ends before the run did, and hvviz
	 * cannot tell that from a run that ended there. */
	char why[sizeof(vm->why) + 96];
	const char *base = vm->stop.status != HV_EXIT_OK ? vm->why : "the guest halted";
	uint64_t dropped = trace_dropped(vm->trace);
	if (dropped)
		snprintf(why, sizeof(why), "%s; the trace is full: the last %llu events are not in "
			 "it (--trace-limit)", base, (unsigned long long)dropped);
	else
		snprintf(why, sizeof(why), "%s", vm->stop.status != HV_EXIT_OK ? vm->why : "");
	finish(v, vm->stop.status, why, vm->cpu.kick == KICK_SIGNAL);
}

void viz_end(struct viz *v, int status)
{
	if (!v->on)
		return;
	finish(v, status, NULL, false); /* vm_run ended before viz_finish (a thread failed) */
	if (v->started)
		fprintf(stderr, "hv: guest output and messages: %s\n", v->log);
	if (v->temp_trace)
		unlink(v->trace);
	else if (v->started)
		fprintf(stderr, "hv: trace: %s (look at it again with 'hvviz %s')\n", v->trace, v->trace);
}
