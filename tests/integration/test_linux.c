/*
 * test_linux.c - a Debian Linux kernel as hv's guest: boot, Linux's own drivers, the way out.
 *
 * The kernel is the lab VM's (tests/labvm/fetch.sh: Debian's linux-image-amd64 bzImage), the
 * initramfs tests/linux/mkinitramfs.sh's (busybox, the disk drivers, tests/linux/init). Linux
 * needs interrupts through its IDT, so on a PVM host or one without KVM suite linux runs in the
 * lab VM (RING3_TESTS in the Makefile), where one boot takes about 10 s; the suite keeps to one
 * boot per disk path, one for the console shell of `make linux`, and one pair for hvviz's
 * Compare of the two paths (each test records its own traces). Suite linuxcli checks what
 * hv refuses before it asks KVM for anything: it runs anywhere.
 * Textbook: chapter 11 "Booting Linux".
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"
#include "trace_read.h"

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

/* make test builds both (Makefile: linux-initramfs); a missing one is a failure, not a skip. */
static const char *kernel(void)
{
	const char *k = env_or("LINUX_KERNEL", "build/labvm/kernel/vmlinuz");
	cr_assert_eq(access(k, R_OK), 0, "no kernel %s (run: make linux-initramfs)", k);
	return k;
}

static const char *initrd(void)
{
	const char *i = env_or("LINUX_INITRD", "build/linux/initramfs.cpio");
	cr_assert_eq(access(i, R_OK), 0, "no initramfs %s (run: make linux-initramfs)", i);
	return i;
}

/* The 4096 bytes tests/linux/scripts/disk.sh writes at sector 8: 64 lines of 64 bytes. */
static void disk_pattern(char *buf)
{
	for (int n = 0; n < 64; n++)
		snprintf(buf + n * 64, 65, "hvlab linux disk test line %02d "
			 ".................................\n", n);
}

/*
 * One Linux boot per disk path, and each checks everything: the kernel reaches init (the time
 * is printed, not asserted), the 8250 driver finds a 16550A on hv's UART, the disk driver
 * finds hv's disk as `dev`, the script writes, syncs and reads back 8 sectors, and `halt -f`
 * ends hv with status 0. The host then reads the image itself.
 */
/*
 * What the trace of the run says about the one write, on each path (textbook ch 11, "Watching
 * Linux"). Only counts that do not depend on timing or on the host's KVM are asserted.
 */
static void check_trace(const char *path, const char *trace)
{
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(trace, &tf, err, sizeof err), 0, "%s", err);
	uint64_t words = 0, write_cmds = 0, notify = 0, requests = 0, writes = 0, pci = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		bool out = e->kind == HVT_EXIT && e->reason == HVT_R_IO && (e->flags & HVT_F_WRITE);
		/* legacy: the data port takes the 4096 bytes as 16-bit words, whether KVM delivers a
		 * `rep outsw` as one exit per word or as fewer exits of many (count) */
		if (out && e->addr == HV_PORT_ATA_CMD)
			words += e->count;
		/* PCI configuration ports 0xCF8-0xCFF: no device, and `pci=off` from hv (vm.c) */
		if (e->kind == HVT_EXIT && e->reason == HVT_R_IO && e->addr >= 0xCF8 && e->addr <= 0xCFF)
			pci++;
		if (out && e->addr == HV_PORT_ATA_CMD + 7 && (e->data & 0xFF) == 0x30)
			write_cmds++; /* WRITE SECTORS */
		if (e->kind == HVT_VQ && e->reason == HVT_VQ_NOTIFY)
			notify++;
		if (e->kind == HVT_VQ && e->reason == HVT_VQ_REQUEST) {
			requests++;
			writes += e->arg == 1 && e->addr == 8 && e->data == 4096; /* VIRTIO_BLK_T_OUT */
		}
	}
	trace_free(&tf);
	/* Without `pci=off` Linux scanned for an AGP bridge twice on the lab VM's AMD CPU model:
	 * about 33,200 exits here. What is left is one read Linux makes before it reads its
	 * command line (textbook ch 11, "The PCI scan that was four exits in five"). */
	cr_assert_leq(pci, 4, "%llu exits to the PCI configuration ports 0xCF8-0xCFF",
		      (unsigned long long)pci);
	/* hvviz opens the trace; its Stats view (key 5) counts the disk file's work: the write
	 * reached the image (as 8 sector writes on the ATA path, one request on virtio). The
	 * screen is tall enough for the whole view, which scrolls on a short one. */
	struct hv_result v;
	cmd_exec(&v, (const char *[]){ env_or("HVVIZ", "build/hvviz"), "--screen", "120x80", "--keys",
				       "5", trace, NULL });
	cr_assert_eq(v.status, 0, "%s", v.err);
	cr_assert(strstr(v.out, !strcmp(path, "legacy") ? "write 8, flush" : "write 1, flush"),
		  "%s", v.out);
	if (!strcmp(path, "legacy")) {
		cr_assert_eq(write_cmds, 1, "one WRITE SECTORS for the script's 8 sectors");
		cr_assert_eq(words, 4096 / 2);
	} else {
		cr_assert_eq(writes, 1, "one virtio-blk write of 4096 bytes at sector 8");
		cr_assert(notify >= 1 && notify <= requests, "%llu doorbells for %llu requests",
			  (unsigned long long)notify, (unsigned long long)requests);
	}
}

static void boot_write_read_halt(const char *path, const char *dev)
{
	require_ring3();
	char name[64], line[128];
	snprintf(name, sizeof name, "linux-%s.img", path);
	const char *img = tmp_path(name);
	snprintf(name, sizeof name, "linux-%s.hvt", path);
	const char *trace = tmp_path(name);
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--mem", "256", "--timeout", "600", "--disk", img,
				      "--disk-path", path, "--trace", trace, "--kernel", kernel(), "--initrd",
				      initrd(), "--cmdline", "console=ttyS0 quiet hvlab.run=disk",
				      NULL });
	const char *init = strstr(r.out, "HVLAB-LINUX-INIT uptime=");
	cr_assert(init, "Linux never reached init: %s %s", r.out, r.err);
	/* Time to init in guest seconds, for the log only: it depends on the host. */
	fprintf(stderr, "linux (%s): %.*s\n", path, (int)strcspn(init, "\n"), init);
	cr_assert(strstr(r.out, "serial8250: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) "
			  "is a 16550A"), "%s", r.out);
	snprintf(line, sizeof line, "disk.sh: %s is 2048 sectors", dev);
	cr_assert(strstr(r.out, line), "%s", r.out);
	snprintf(line, sizeof line, "disk.sh: wrote, synced and read back 4096 bytes on %s", dev);
	cr_assert(strstr(r.out, line), "%s", r.out);
	cr_assert(strstr(r.out, "HVLAB-LINUX-DONE status=0"), "%s", r.out);
	/* errors print even with quiet: e.g. an ACPI register that does not read back (acpipm.c) */
	cr_assert_null(strstr(r.out, "ACPI Error"), "%s", r.out);
	cr_assert_eq(r.status, HV_EXIT_OK, "%s", r.err);
	char want[4096 + 1], got[4096];
	disk_pattern(want);
	cr_assert_eq(pread(fd, got, sizeof got, 8 * 512), (ssize_t)sizeof got);
	cr_assert_eq(memcmp(got, want, sizeof got), 0, "the image does not hold what Linux wrote");
	close(fd);
	check_trace(path, trace);
}

/* pata_legacy, Linux's driver for ISA-style ATA channels, on hv's ATA device (0x1F0, IRQ 14). */
Test(linux, legacy_disk_boot_write_read_halt, .timeout = 900)
{
	boot_write_read_halt("legacy", "/dev/sda");
}

/* virtio_mmio finds hv's device in the ACPI tables hv wrote (hv/acpi.c), virtio_blk drives it. */
Test(linux, virtio_disk_boot_write_read_halt, .timeout = 900)
{
	boot_write_read_halt("virtio", "/dev/vda");
}

/* Line 4 of hvviz's Compare screen (80x24, the two traces of this suite) after `keys`: the
 * current request of each side. It names requests, not costs, so it does not depend on timing. */
static const char *compare_line(const char *keys)
{
	static char line[256];
	struct hv_result v;
	cmd_exec(&v, (const char *[]){ env_or("HVVIZ", "build/hvviz"), "--screen", "80x24", "--keys",
				       keys, "--compare", tmp_path("linux-legacy.hvt"),
				       tmp_path("linux-virtio.hvt"), NULL });
	cr_assert_eq(v.status, 0, "%s", v.err);
	const char *p = v.out;
	for (int i = 0; i < 3 && p; i++) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	cr_assert_not_null(p, "%s", v.out);
	snprintf(line, sizeof line, "%.*s", (int)strcspn(p, "\n"), p);
	return line;
}

/*
 * Linux's two drivers make different requests (textbook ch 11, "Watching Linux"): pata_legacy
 * identifies the drive first and flushes once more at the end, virtio_blk does neither. hvviz's
 * Compare pairs requests by what they do, so the first step is the IDENTIFY alone and the
 * write is one step, the sixth: request 6 of 9 with request 5 of 7. The chapter shows both
 * lines as hvviz draws them.
 */
Test(linux, compare_pairs_the_two_drivers_write, .timeout = 1800)
{
	boot_write_read_halt("legacy", "/dev/sda");
	boot_write_read_halt("virtio", "/dev/vda");
	FILE *f = fopen("textbook/ch11-booting-linux.md", "r");
	cr_assert_not_null(f, "run from the repository's root");
	static char chapter[131072];
	size_t n = fread(chapter, 1, sizeof chapter - 1, f);
	fclose(f);
	chapter[n] = '\0';
	const char *first = compare_line("Space");
	cr_assert_str_eq(first, "> request 1/9 legacy only: IDENTIFY    |  no request like it here "
			 "(0/7 done)");
	cr_assert(strstr(chapter, first), "the chapter shows: %s", first);
	const char *write = compare_line("Space Space Space Space Space Space");
	cr_assert_str_eq(write, "> request 6/9: write sector 8 +8       |> request 5/7: write "
			 "sector 8 +8");
	cr_assert(strstr(chapter, write), "the chapter shows: %s", write);
}

/*
 * make linux's shell, fed from hv's stdin (the serial console's receive path, hv/console_in.c).
 * The 8250 driver empties the UART's FIFO when it starts, as on a real serial port, so a line
 * in flight then loses its first bytes (seen: "o hi-$((6*7))"). So `echo` goes every second,
 * and `exit` only after 12 s, long after that moment; lines typed before the shell starts wait
 * in the tty for it. The init then halts the machine and hv ends with 0 (the writer stops on
 * the closed pipe).
 */
Test(linux, shell_reads_the_console_and_exit_halts, .timeout = 900)
{
	require_ring3();
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "for i in $(seq 300); do printf 'echo hi-$((6*7))\\n'; "
		 "[ $i -gt 12 ] && printf 'exit\\n'; sleep 1; done | "
		 "%s run --mem 256 --timeout 600 --kernel %s --initrd %s --cmdline 'console=ttyS0 quiet'",
		 env_or("HV", "build/hv"), kernel(), initrd());
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "sh", "-c", cmd, NULL });
	cr_assert(strstr(r.out, "Linux on hv: a busybox shell."), "%s %s", r.out, r.err);
	cr_assert(strstr(r.out, "\nhi-42"), "the shell did not run the line: %s", r.out);
	cr_assert(strstr(r.out, "HVLAB-LINUX-DONE status=0"), "%s", r.out);
	cr_assert_eq(r.status, HV_EXIT_OK, "%s", r.err);
}

/* ---- what hv refuses, before KVM (runs on any host) ---- */

/* The first 100 KiB of the real kernel: the setup header is whole, the kernel is not. */
Test(linuxcli, truncated_kernel_is_refused_with_one_line)
{
	FILE *f = fopen(kernel(), "rb");
	cr_assert(f);
	static char head[100 * 1024];
	cr_assert_eq(fread(head, 1, sizeof head, f), sizeof head);
	fclose(f);
	const char *cut = write_tmp("vmlinuz-cut", head, sizeof head);
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "--mem", "256", "--kernel", cut, NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "%s", r.err);
	cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
	cr_assert(strstr(r.err, "hv: '") && strstr(r.err, "vmlinuz-cut' is truncated: its setup "
							"header promises "), "%s", r.err);
}

/* An ELF guest is no bzImage. */
Test(linuxcli, wrong_kernel_file_is_refused_with_one_line)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "--kernel", guest("hello64.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "%s", r.err);
	cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
	cr_assert(strstr(r.err, "hello64.elf' is not a Linux bzImage: no \"HdrS\" setup header"),
		  "%s", r.err);
}

/* Too little RAM for the kernel to unpack itself: the message names the --mem that works. */
Test(linuxcli, kernel_needing_more_ram_names_the_mem_to_give)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "--mem", "32", "--kernel", kernel(), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "%s", r.err);
	cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
	cr_assert(strstr(r.err, "while it unpacks itself (give --mem "), "%s", r.err);
}

Test(linuxcli, initrd_for_a_non_pvh_guest_and_guest_after_kernel_are_refused)
{
	struct hv_result r;
	/* hello64.elf has no PVH note: nothing in it would look for a module list */
	hv_exec_nokvm(&r, (const char *[]){ "run", "--initrd", initrd(), guest("hello64.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "%s", r.err);
	cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
	cr_assert(strstr(r.err, "hv: --initrd needs a kernel that takes one"), "%s", r.err);
	hv_exec_nokvm(&r, (const char *[]){ "run", "--kernel", kernel(), guest("hello64.elf"), NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "%s", r.err);
	cr_assert(strstr(r.err, "is one guest too many"), "%s", r.err);
}

/* A bad --initrd is named as the initrd, not as "guest": the reader is shared (loader.c). */
Test(linuxcli, bad_initrd_file_is_named_as_the_initrd)
{
	struct hv_result r;
	hv_exec_nokvm(&r, (const char *[]){ "run", "--mem", "256", "--kernel", kernel(), "--initrd",
					    "/nonexistent/initrd.cpio", NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "%s", r.err);
	cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
	cr_assert(strstr(r.err, "hv: cannot open initrd '/nonexistent/initrd.cpio': No such file"),
		  "%s", r.err);
	hv_exec_nokvm(&r, (const char *[]){ "run", "--mem", "256", "--kernel", kernel(), "--initrd",
					    "/tmp", NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "%s", r.err);
	cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
	cr_assert(strstr(r.err, "hv: initrd '/tmp' is a directory, not a cpio archive (give a cpio "),
		  "%s", r.err);
	cr_assert_null(strstr(r.err, "guest"), "%s", r.err);
	/* the kernel file is named as the kernel */
	hv_exec_nokvm(&r, (const char *[]){ "run", "--kernel", "/tmp", NULL });
	cr_assert_eq(r.status, HV_EXIT_USAGE, "%s", r.err);
	cr_assert(strstr(r.err, "hv: kernel '/tmp' is a directory, not a kernel image (give a "
			  "bzImage"), "%s", r.err);
}
