/*
 * test_pcparts.c - the PC pieces Linux asks for, in a real guest under KVM (suite `guests`):
 * guest/pcparts16.c asks CPUID whether it runs on a hypervisor (KVM, with kvmclock), reads the
 * CMOS clock (the host's date), times PIT counter 2 through port
 * 0x61 against it, sleeps until a line typed on hv's stdin arrives through IRQ 4, and resets
 * the machine through the keyboard controller (status 18). Also: hv's stdin as a terminal is
 * put into raw mode and given back, and Ctrl-A x quits.
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"

static void utc_date(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

/*
 * The whole guest, with "hello\n" on its stdin. The line is sent 0.3 s after hv starts: the
 * guest's UART driver clears the receive FIFO when it programs the chip (as Linux's 8250 driver
 * does), so bytes typed before that are lost, as on a real serial port. The guest reads its
 * input only after its one-second PIT measurement, so 0.3 s is long after the FIFO was set up.
 */
Test(guests, pcparts16_reads_the_date_times_pit2_takes_a_line_and_resets, .timeout = 120)
{
	require_kvm();
	char before[16], after[16];
	utc_date(before, sizeof(before));
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "sh", "-c",
		"(sleep 0.3; printf 'hello\\n') | \"$0\" run --timeout 60 \"$1\"",
		getenv("HV"), guest("pcparts16.bin"), NULL });
	utc_date(after, sizeof(after));
	cr_assert_eq(r.status, HV_EXIT_RESET, "status %d, out: %s, err: %s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "the guest reset the machine"), "%s", r.err);

	/* 0. CPUID says "hypervisor", names KVM and offers kvmclock (hv/vm.c) */
	cr_assert(strstr(r.out, "pcparts: cpuid: hypervisor KVMKVMKVM, kvmclock\n"), "%s", r.out);
	/* 1. the host's date, in BCD and 24 hours (midnight may fall during the run) */
	char want1[64], want2[64];
	snprintf(want1, sizeof(want1), "pcparts: rtc %s ", before);
	snprintf(want2, sizeof(want2), "pcparts: rtc %s ", after);
	cr_assert(strstr(r.out, want1) || strstr(r.out, want2), "%s", r.out);
	cr_assert(strstr(r.out, " (bcd, 24h)\n"), "%s", r.out);

	/* 2. counter 2 counts at the PIT's rate: at most 100 periods of 10 ms fit in one RTC
	 * second (each is at least 10 ms long); a busy host makes each one a little longer, so
	 * the lower bound only catches a timer that is wrong by a large factor. */
	const char *p = strstr(r.out, "pcparts: pit2: ");
	cr_assert_not_null(p, "%s", r.out);
	int periods = atoi(p + strlen("pcparts: pit2: "));
	cr_assert(periods >= 10 && periods <= 101, "%d periods: %s", periods, r.out);

	/* 3. the line typed on stdin, through LSR.DR and IRQ 4 */
	cr_assert(strstr(r.out, "pcparts: irq4: got 'hello'\n"), "%s", r.out);
	/* 4. the reset */
	cr_assert(strstr(r.out, "pcparts: reset through the keyboard controller\n"), "%s", r.out);
	cr_assert(strstr(r.err, "i8042-cmd"), "the summary counts the controller: %s", r.err);
}

/* stdin at end of file (the harness gives /dev/null): no key can ever come, so a guest halted
 * waiting for one is stopped at once (status 12), not left until --timeout. */
Test(guests, pcparts16_with_stdin_at_end_of_file_is_stopped_not_left_hanging, .timeout = 120)
{
	require_kvm();
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "60", guest("pcparts16.bin"), NULL });
	cr_assert_eq(r.status, HV_EXIT_GUEST_ERROR, "status %d, err: %s", r.status, r.err);
	cr_assert(strstr(r.out, "pcparts: pit2: "), "%s", r.out);
	cr_assert(strstr(r.err, "no device can raise one"), "%s", r.err);
}

/* Wait (bounded) until the terminal's ICANON flag is `on`; tcgetattr on the master reports the
 * slave's settings. */
static int wait_icanon(int master, int on)
{
	for (int i = 0; i < 500; i++) {
		struct termios t;
		if (tcgetattr(master, &t) == 0 && !!(t.c_lflag & ICANON) == on)
			return 1;
		usleep(10000);
	}
	return 0;
}

/*
 * hv's stdin is a terminal: while the guest runs it is in raw mode (no line buffering, no
 * echo), Ctrl-A x ends the run like Ctrl-C (status 16), and the terminal's settings are back
 * afterwards. The guest is 2 bytes: `jmp $`.
 */
Test(guests, a_terminal_on_stdin_is_raw_while_hv_runs_and_ctrl_a_x_quits, .timeout = 60)
{
	require_kvm();
	static const uint8_t g[] = { 0xEB, 0x0E, 'H', 'V', 'L', 'B', 16, 1, 0, 0, 0, 0, 0, 0, 0, 0,
				     0xEB, 0xFE };
	const char *path = write_tmp("spin.bin", g, sizeof g);
	int master, slave;
	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	struct termios orig;
	cr_assert_eq(tcgetattr(slave, &orig), 0);
	cr_assert(orig.c_lflag & ICANON, "a new terminal is in line mode");
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(slave, 0);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		close(master);
		execl(getenv("HV"), "hv", "run", "--quiet", "--timeout", "30", path, (char *)NULL);
		_exit(127);
	}
	cr_assert(wait_icanon(master, 0), "hv put the terminal into raw mode");
	cr_assert_eq(write(master, "\x01x", 2), 2);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == HV_EXIT_INTERRUPTED, "status %d", st);
	struct termios now;
	cr_assert_eq(tcgetattr(slave, &now), 0);
	cr_assert_eq(now.c_lflag, orig.c_lflag, "line mode and echo are back");
	cr_assert_eq(now.c_iflag, orig.c_iflag);
	cr_assert_eq(now.c_oflag, orig.c_oflag);
	close(slave);
	close(master);
}

/* The same terminal, but hv ends by --timeout: the settings still come back. */
Test(guests, the_terminal_is_restored_when_the_run_times_out, .timeout = 60)
{
	require_kvm();
	static const uint8_t g[] = { 0xEB, 0x0E, 'H', 'V', 'L', 'B', 16, 1, 0, 0, 0, 0, 0, 0, 0, 0,
				     0xEB, 0xFE };
	const char *path = write_tmp("spin2.bin", g, sizeof g);
	int master, slave;
	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	struct termios orig;
	cr_assert_eq(tcgetattr(slave, &orig), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(slave, 0);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		close(master);
		execl(getenv("HV"), "hv", "run", "--quiet", "--timeout", "1", path, (char *)NULL);
		_exit(127);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == HV_EXIT_TIMEOUT, "status %d", st);
	struct termios now;
	cr_assert_eq(tcgetattr(slave, &now), 0);
	cr_assert_eq(now.c_lflag, orig.c_lflag);
	close(slave);
	close(master);
}

/*
 * hv started in the background (`hv run ... &`) on its controlling terminal: it must not read
 * the terminal or change its mode, which would stop it (SIGTTIN, SIGTTOU) until the user
 * brings it to the foreground. A session of our own with a pseudo-terminal as controlling
 * terminal plays the user's shell; hv runs in a process group that is not the foreground one.
 * The middle process reports: 0 hv ended by --timeout, 1 hv was stopped, 2 anything else.
 */
Test(guests, hv_in_the_background_leaves_its_terminal_alone, .timeout = 60)
{
	require_kvm();
	static const uint8_t g[] = { 0xEB, 0x0E, 'H', 'V', 'L', 'B', 16, 1, 0, 0, 0, 0, 0, 0, 0, 0,
				     0xEB, 0xFE };
	const char *path = write_tmp("spin3.bin", g, sizeof g);
	int master, slave;
	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	struct termios orig;
	cr_assert_eq(tcgetattr(slave, &orig), 0);
	pid_t shell = fork();
	cr_assert_geq(shell, 0);
	if (shell == 0) {
		setsid();
		if (ioctl(slave, TIOCSCTTY, 0) != 0 || tcsetpgrp(slave, getpgrp()) != 0)
			_exit(2);
		pid_t hv = fork();
		if (hv == 0) {
			setpgid(0, 0); /* a background job */
			dup2(slave, 0);
			int null = open("/dev/null", O_WRONLY);
			dup2(null, 1);
			dup2(null, 2);
			execl(getenv("HV"), "hv", "run", "--quiet", "--timeout", "1", path, (char *)NULL);
			_exit(127);
		}
		int st;
		if (waitpid(hv, &st, WUNTRACED) != hv)
			_exit(2);
		if (WIFSTOPPED(st)) {
			kill(hv, SIGKILL);
			_exit(1);
		}
		_exit(WIFEXITED(st) && WEXITSTATUS(st) == HV_EXIT_TIMEOUT ? 0 : 2);
	}
	int st;
	cr_assert_eq(waitpid(shell, &st, 0), shell);
	cr_assert(WIFEXITED(st), "status %d", st);
	cr_assert_neq(WEXITSTATUS(st), 1, "hv was stopped by its terminal");
	cr_assert_eq(WEXITSTATUS(st), 0, "hv did not end by --timeout");
	struct termios now;
	cr_assert_eq(tcgetattr(slave, &now), 0);
	cr_assert_eq(now.c_lflag, orig.c_lflag, "the terminal's mode was not touched");
	close(slave);
	close(master);
}

/* Every run of digits to one '0': the date, the time and the count of periods (99 or 100)
 * change from run to run. */
static void shape(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		int digit = *r >= '0' && *r <= '9';
		if (digit && w > s && w[-1] == '0' && r > s && r[-1] >= '0' && r[-1] <= '9')
			continue;
		*w++ = digit ? '0' : *r;
	}
	*w = '\0';
}

/*
 * Chapter 11, section "The PC pieces Linux asks for", shows one run of pcparts16. This runs the
 * chapter's own command and checks that the chapter shows what hv prints, line by line; only
 * digits may differ. In a terminal hv's stderr line comes after the guest's output and before
 * the shell's `echo $?`, so the run's output is put together in that order.
 */
Test(guests, chapter_11_shows_what_pcparts16_prints, .timeout = 120)
{
	require_kvm();
	static const char cmd[] = "$ (sleep 0.3; printf 'hello\\n') | build/hv run --quiet "
				  "build/guest/pcparts16.bin; echo $?\n";
	FILE *f = fopen("textbook/ch11-booting-linux.md", "r");
	cr_assert_not_null(f, "run from the repository's root");
	static char chapter[65536];
	size_t n = fread(chapter, 1, sizeof(chapter) - 1, f);
	fclose(f);
	chapter[n] = '\0';
	char *shown = strstr(chapter, cmd);
	cr_assert_not_null(shown, "the chapter shows the command: %s", cmd);
	shown += strlen(cmd);
	char *end = strstr(shown, "```");
	cr_assert_not_null(end);
	*end = '\0';

	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "sh", "-c",
		"(sleep 0.3; printf 'hello\\n') | \"$0\" run --quiet \"$1\"; echo $?",
		getenv("HV"), guest("pcparts16.bin"), NULL });
	char *last = strrchr(r.out, '\n');
	cr_assert_not_null(last);
	*last = '\0';
	char *status = strrchr(r.out, '\n');
	cr_assert_not_null(status, "%s", r.out);
	*status++ = '\0';
	static char run[sizeof(((struct hv_result *)0)->out) + sizeof(((struct hv_result *)0)->err) + 64];
	snprintf(run, sizeof(run), "%s\n%s%s\n", r.out, r.err, status);
	shape(run);
	shape(shown);
	cr_assert_str_eq(shown, run, "the chapter shows:\n%s\nhv printed:\n%s", shown, run);
}
