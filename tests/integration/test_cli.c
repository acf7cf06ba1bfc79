/*
 * test_cli.c - bad input gets one line naming the problem and the fix, and a non-zero exit.
 *
 * Suite cli needs no KVM at all: every test passes on a host without /dev/kvm. Those about
 * the guest, the disk, the trace file and --step run hv with HVLAB_KVM_DEVICE pointing
 * nowhere (hv_exec_nokvm): hv must find the user's mistake, with its own message and status,
 * before it asks for KVM (hv/vm.c, step 0). Suite clirun runs a guest and skips without KVM.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <pty.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "hostinfo.h"
#include "layout.h"

static void assert_one_line_error(const struct hv_result *r, int status, const char *needle)
{
	cr_assert_eq(r->status, status, "status %d, stderr: %s", r->status, r->err);
	cr_assert_eq(count_lines(r->err), 1, "want one line, got: %s", r->err);
	cr_assert(strncmp(r->err, "hv: ", 4) == 0, "%s", r->err);
	cr_assert(strstr(r->err, needle), "want '%s' in: %s", needle, r->err);
	cr_assert_str_eq(r->out, "");
}

Test(cli, no_arguments_prints_usage_and_fails)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
	cr_assert(strstr(r.err, "usage: hv run"), "%s", r.err);
}

Test(cli, unknown_command)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "fly", NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "unknown command 'fly'");
}

Test(cli, unknown_option)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--frobnicate", "x.bin", NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "--frobnicate");
}

Test(cli, bad_mode_names_the_choices)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--mode", "turbo", "x.bin", NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "real, protected or long");
}

Test(cli, bad_mem_names_the_range)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--mem", "99999", "x.bin", NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "--mem");
	hv_exec(&r, (const char *[]){ "run", "--mem", "12abc", "x.bin", NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "--mem");
}

/* strtoul skips blanks and takes a sign; --mem takes digits only (main.c, parse_uint). */
Test(cli, mem_with_a_blank_or_a_sign_is_refused)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "--mem", " 64", guest("hello16.bin"), NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "bad --mem ' 64' (give MiB, 2 to 3072)");
	hv_exec_nokvm(&r, (const char *[]){ "run", "--mem", "+64", guest("hello16.bin"), NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "bad --mem '+64' (give MiB, 2 to 3072)");
	hv_exec_nokvm(&r, (const char *[]){ "run", "--timeout", "+5", guest("hello16.bin"), NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "bad --timeout");
}

/* The control for every "before KVM" test below: with HVLAB_KVM_DEVICE pointing nowhere, a
 * good guest gets the no-KVM line and status 4, as on a host without /dev/kvm. */
Test(cli, missing_kvm_device_is_a_host_without_kvm)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", guest("hello16.bin"), NULL });
	/* The fix fits this host (hv doctor's words), then the way to run it anyway. */
	assert_one_line_error(&r, HV_EXIT_HOST, "/dev/kvm");
	cr_assert(strstr(r.err, "; the lab VM runs it anyway: make labvm-run CMD='build/hv run ...'"),
		  "%s", r.err);
	struct host_info hi;
	hostinfo_probe(&hi);
	if (hi.cpu_hypervisor) /* a VM: its BIOS is not the user's to change */
		cr_assert_null(strstr(r.err, "BIOS"), "a VM guest told to change the BIOS: %s", r.err);
	/* The trace file is created before KVM is asked for; a run that never started removes
	 * it again. */
	const char *t = tmp_path("never.hvt");
	hv_exec_nokvm(&r, (const char *[]){ "run", "--trace", t, guest("hello16.bin"), NULL });
	assert_one_line_error(&r, HV_EXIT_HOST, "make labvm-run");
	cr_assert_neq(access(t, F_OK), 0, "a trace of a run without KVM was left behind");
}

Test(cli, run_without_guest)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "GUEST");
}

Test(cli, missing_guest_file)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "/nonexistent/guest.bin", NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE,
			      "cannot open guest '/nonexistent/guest.bin': No such file or directory");
}

Test(cli, empty_guest_is_refused)
{
	struct hv_result r;
	const char *p = write_tmp("empty.bin", "", 0);
	hv_exec_nokvm(&r, (const char *[]){ "run", p, NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "is empty");
}

Test(cli, directory_as_guest_is_refused)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "/tmp", NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "guest '/tmp' is a directory, not a guest image "
			      "(give a .bin or .elf file");
}

/* A FIFO without a writer: open(2) would wait for one forever. hv must answer at once. */
Test(cli, fifo_as_guest_is_refused_without_blocking, .timeout = 20)
{
	const char *p = tmp_path("guest.fifo");
	cr_assert_eq(mkfifo(p, 0600), 0);
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", p, NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "is a FIFO, not a guest image");
}

/* A minimal ELF32 executable with one PT_LOAD program header (52 + 32 + 4 bytes). */
static void make_elf32(unsigned char elf[88])
{
	memset(elf, 0, 88);
	memcpy(elf, (const unsigned char[]){ 0x7F, 'E', 'L', 'F', 1, 1, 1 }, 7);
	elf[16] = 2;                 /* e_type ET_EXEC */
	elf[18] = 3;                 /* e_machine EM_386 */
	elf[20] = 1;                 /* e_version */
	elf[28] = 52;                /* e_phoff */
	elf[40] = 52;                /* e_ehsize */
	elf[42] = 32;                /* e_phentsize */
	elf[44] = 1;                 /* e_phnum */
	unsigned char *ph = elf + 52;
	ph[0] = 1;                   /* PT_LOAD */
	ph[4] = 84;                  /* p_offset */
	ph[13] = 0x10;               /* p_paddr = 0x100000 */
	ph[16] = 4, ph[20] = 4;      /* p_filesz = p_memsz = 4 */
}

/* An ELF whose segment would land at 3 GiB - far outside 16 MiB of RAM. */
Test(cli, elf_segment_outside_ram_is_refused)
{
	unsigned char elf[88];
	make_elf32(elf);
	elf[52 + 13] = 0, elf[52 + 15] = 0xC0; /* p_paddr = 0xC0000000 */
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", write_tmp("far.elf", elf, sizeof(elf)), NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "does not fit in guest RAM");
}

/* The program header table must lie inside the file; here e_phoff points past its end. */
Test(cli, elf_bad_program_header_is_refused)
{
	unsigned char elf[88];
	make_elf32(elf);
	elf[28] = 200;               /* e_phoff beyond the 88-byte file */
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", write_tmp("badph.elf", elf, sizeof(elf)), NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "bad ELF program header table");
	make_elf32(elf);
	elf[52 + 4] = 200;           /* p_offset beyond the file */
	hv_exec_nokvm(&r, (const char *[]){ "run", write_tmp("badseg.elf", elf, sizeof(elf)), NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "ELF segment 0 lies outside the file");
}

Test(cli, truncated_elf_is_refused)
{
	static const unsigned char elf[] = { 0x7F, 'E', 'L', 'F', 2, 1, 1, 0, 0 };
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", write_tmp("cut.elf", elf, sizeof(elf)), NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "truncated");
}

Test(cli, real_mode_binary_too_big)
{
	static unsigned char big[0x9000];
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", write_tmp("big.bin", big, sizeof(big)), NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "too big for real mode");
}

Test(cli, missing_disk_image_is_refused)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "--disk", "/nonexistent/disk.img",
					    guest("hello16.bin"), NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE,
			      "cannot open disk image '/nonexistent/disk.img': No such file or directory");
}

Test(cli, trace_of_a_file_that_is_not_a_trace)
{
	struct hv_result r;
	const char *p = write_tmp("notes.txt", "hello, world\n", 13);
	hv_exec(&r, (const char *[]){ "trace", "stats", p, NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "not an hvlab trace");
}

Test(cli, trace_missing_file)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "trace", "dump", "/nonexistent.hvt", NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "/nonexistent.hvt");
}

Test(cli, trace_unwritable_path)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "--trace", "/nonexistent/dir/t.hvt",
				      guest("hello16.bin"), NULL });
	assert_one_line_error(&r, HV_EXIT_USAGE, "/nonexistent/dir/t.hvt");
}

Test(cli, doctor_runs)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "doctor", NULL });
	/* exit 0 exactly when /dev/kvm is usable, and it names the KVM kind; on a PVM host
	 * (module kvm_pvm loaded) it must say PVM and point to the lab VM. */
	if (access(hostinfo_kvm_device(), R_OK | W_OK) == 0) {
		cr_assert_eq(r.status, 0, "%s", r.err);
		cr_assert(strstr(r.out, "KVM kind"), "%s", r.out);
		if (access("/sys/module/kvm_pvm", F_OK) == 0)
			cr_assert(strstr(r.out, "PVM") && strstr(r.out, "lab VM"), "%s", r.out);
	} else {
		cr_assert_neq(r.status, 0);
		cr_assert(strstr(r.err, "/dev/kvm"), "%s", r.err);
	}
}

/* hv doctor --class: one word on every host, status 0 even without KVM (scripts read it). */
Test(cli, doctor_class_is_none_without_kvm)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "doctor", "--class", NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "none\n");
	cr_assert_str_eq(r.err, "");
}

/* Without KVM the plain report ends with what to do (the last lines on stdout), the same fix
 * goes to stderr as one line, and the status says KVM is not usable. */
Test(cli, doctor_without_kvm_ends_with_the_fix)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "doctor", NULL });
	cr_assert_eq(r.status, HV_EXIT_HOST, "%s", r.err);
	cr_assert(strstr(r.out, "\n  host class      none\n"), "%s", r.out);
	cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
	cr_assert(strncmp(r.err, "hv: ", 4) == 0, "%s", r.err);
	/* stdout ends: "What to do:", the fix (stderr's line without "hv: "), the lab VM line. */
	char tail[1024];
	snprintf(tail, sizeof tail, "\nWhat to do:\n  %.512s  everything that needs KVM runs in the lab "
		 "VM: 'make labvm' for a shell, make labvm-run CMD='build/hv run build/guest/hello16.bin' "
		 "for one command; 'make demo', 'make test' and 'make bench' do it by themselves\n",
		 r.err + 4);
	size_t n = strlen(r.out), m = strlen(tail);
	cr_assert(n > m && strcmp(r.out + n - m, tail) == 0, "want the end:\n%s\ngot:\n%s", tail, r.out);
}

/* On this host, whatever it is: one of the three words, the same as --json's class. */
Test(cli, doctor_class_matches_json)
{
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "doctor", "--class", NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(!strcmp(r.out, "full\n") || !strcmp(r.out, "pvm\n") || !strcmp(r.out, "none\n"),
		  "%s", r.out);
	char want[32];
	snprintf(want, sizeof want, "\"class\":\"%.*s\"", (int)strlen(r.out) - 1, r.out);
	hv_exec(&r, (const char *[]){ "doctor", "--json", NULL });
	cr_assert(strstr(r.out, want), "want %s in %s", want, r.out);
}

/* ---- clirun: these run a guest, so they need KVM ---- */

/*
 * --trace-limit 1: the exits guest with loops=10000 makes 70001 + 30000 exits, 4 records
 * each, about 25 MiB of trace. The file stops at 1 MiB (a valid trace of the start of the
 * run), hv says once what it left out, and the guest's own result (status 1) is unchanged.
 */
Test(clirun, trace_limit_caps_the_file_and_says_what_was_left_out)
{
	require_kvm();
	struct hv_result r;
	const char *t = tmp_path("limit.hvt");
	hv_exec(&r, (const char *[]){ "run", "--quiet", "--trace", t, "--trace-limit", "1",
				      "--cmdline", "loops=10000", guest("exits.bin"), NULL });
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert(strstr(r.err, "hv: trace: the --trace-limit of 1 MiB was reached"), "%s", r.err);
	cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
	struct stat st;
	cr_assert_eq(stat(t, &st), 0);
	cr_assert_leq(st.st_size, 1 << 20);
	hv_exec(&r, (const char *[]){ "trace", "stats", t, NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "later events were not recorded (--trace-limit)"), "%s", r.out);
	cr_assert(strstr(r.out, "  exits  "), "KVM's counters are still there: %s", r.out);
	hv_exec(&r, (const char *[]){ "run", "--trace-limit", "0", guest("exits.bin"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE);
	cr_assert(strstr(r.err, "bad --trace-limit"), "%s", r.err);
}

/*
 * S4 on a real terminal: hv's stdout is a pty whose other end nobody reads, and the guest
 * prints forever (debugcon, 'x' without end). A terminal's POLLOUT means only "some room", so
 * a write can block halfway; --timeout must still end the run (status 14) within seconds, with
 * the dropped output named on stderr. Before the fix this hung until SIGKILL.
 * The guest: boot header (16-bit), then lines of 127 'x' and a newline, forever:
 *   16: mov cx, 127   19: mov al, 'x'   21: out 0xE9, al   23: loop 21
 *   25: mov al, '\n'  27: out 0xE9, al   29: jmp 16
 * (Whole lines matter: the terminal's line discipline turns each '\n' into "\r\n", and where
 * its buffer fills decides whether a write blocks halfway.)
 */
Test(clirun, S4_unread_terminal_does_not_outlive_timeout, .timeout = 60)
{
	require_kvm();
	static const uint8_t g[] = { 0xEB, 0x0E, 'H', 'V', 'L', 'B', 16, 1, 0, 0, 0, 0, 0, 0, 0, 0,
				     0xB9, 0x7F, 0x00, 0xB0, 'x', 0xE6, 0xE9, 0xE2, 0xFC,
				     0xB0, '\n', 0xE6, 0xE9, 0xEB, 0xF1 };
	const char *path = write_tmp("spam.bin", g, sizeof g);
	int master, slave;
	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	int errp[2];
	cr_assert_eq(pipe(errp), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(slave, 1);
		dup2(errp[1], 2);
		close(master);
		execl(getenv("HV"), "hv", "run", "--quiet", "--timeout", "2", path, (char *)NULL);
		_exit(127);
	}
	close(slave);
	close(errp[1]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	char err[512] = "";
	ssize_t n = read(errp[0], err, sizeof err - 1);
	err[n > 0 ? n : 0] = '\0';
	close(errp[0]);
	close(master);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == HV_EXIT_TIMEOUT, "status %d: %s", st, err);
	cr_assert(strstr(err, "nobody is reading hv's output"), "%s", err);
}
