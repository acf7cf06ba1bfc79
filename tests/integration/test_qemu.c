/*
 * test_qemu.c - the same guest ELF boots unchanged on another VMM: QEMU's microvm via PVH.
 *
 * The 32-bit guests carry the PVH ELF note (XEN_ELFNOTE_PHYS32_ENTRY). QEMU's `-kernel`
 * loader finds it and starts the guest the way hv does: 32-bit protected mode, paging off,
 * EBX = start-info block with the command line. If our note, our start-info reading or our
 * UART driver were hv-specific, these would fail. QEMU runs with TCG (pure emulation) so the
 * result does not depend on this host's KVM.
 *
 * The disk tests go one step further: diskio's ATA and virtio-blk drivers run against QEMU's
 * own IDE controller and virtio-blk device. A driver that only worked with hv's devices (a
 * shared misreading of the spec) would fail here.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../guest/lib/diskpattern.h"
#include "harness.h"

#define QEMU "qemu-system-x86_64"

static void require_qemu(void)
{
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ QEMU, "--version", NULL });
	if (r.status != 0)
		cr_skip_test(QEMU " is not installed ('make deps' installs qemu-system-x86)");
}

/* -no-reboot: a triple fault ends QEMU instead of looping; isa-debug-exit at 0xF4 with 4
 * ports gives the guest the same exit device hv has. */
#define QEMU_ARGS QEMU, "-M", "microvm", "-accel", "tcg", "-nographic", "-no-reboot", \
	"-nodefaults", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4"

/* hello32 ends in cli; hlt, which QEMU (unlike hv) keeps as a halted CPU: `timeout` ends
 * it, and the test checks what the UART printed before. */
Test(qemu, hello32_elf_boots_on_qemu_microvm_via_pvh)
{
	require_qemu();
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "timeout", "5", QEMU_ARGS, "-kernel",
				       guest("hello32.elf"), NULL });
	cr_assert_eq(r.status, 124, "QEMU should still be running when timeout ends it: %s", r.err);
	cr_assert_str_eq(r.out, "Hello from protected mode\n", "stderr: %s", r.err);
}

/*
 * exits.elf reads loops=N from the PVH command line. loops=0: no test-device access, just
 * OUT 0 to 0xF4 -> status (0 << 1) | 1 = 1. loops=1: QEMU has no test device at port 0x500,
 * reads float high (0xFFFFFFFF), the guest's check fails and it writes 1 -> status 3.
 * Different statuses for different command lines prove QEMU's start-info reached the guest.
 */
Test(qemu, exits_elf_reads_its_command_line_on_qemu)
{
	require_qemu();
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "timeout", "20", QEMU_ARGS, "-kernel", guest("exits.elf"),
				       "-append", "loops=0", NULL });
	cr_assert_eq(r.status, 1, "stderr: %s", r.err);
	cmd_exec(&r, (const char *[]){ "timeout", "20", QEMU_ARGS, "-kernel", guest("exits.elf"),
				       "-append", "loops=1", NULL });
	cr_assert_eq(r.status, 3, "stderr: %s", r.err);
}

/*
 * exits.dev=pc-testdev puts the guest's latches on QEMU's pc-testdev (port 0xE0, MMIO
 * 0xFF000000), where every read must return what was written: status 1 after 3 loops, so the
 * benchmark's QEMU anchor counts the same 10 exits per loop as hv (bench/exitbench.c).
 */
Test(qemu, exits_elf_runs_its_loops_on_qemus_pc_testdev)
{
	require_qemu();
	struct hv_result r;
	cmd_exec(&r, (const char *[]){ "timeout", "20", QEMU_ARGS, "-device", "pc-testdev",
				       "-kernel", guest("exits.elf"), "-append",
				       "loops=3 exits.dev=pc-testdev", NULL });
	cr_assert_eq(r.status, 1, "stderr: %s", r.err);
}

/* ---- our disk drivers against QEMU's real devices (textbook chapter 4, appendix B) ---- */

/* A zeroed 1 MiB image; after the run: the pattern in sectors 0..127, zeros after. */
static const char *zero_image(const char *name)
{
	const char *path = tmp_path(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	return path;
}

static void assert_pattern(const char *path)
{
	static uint8_t buf[1 << 20];
	int fd = open(path, O_RDONLY);
	cr_assert_eq(read(fd, buf, sizeof buf), (ssize_t)sizeof buf);
	close(fd);
	for (uint32_t i = 0; i < sizeof buf; i++)
		cr_assert_eq(buf[i], i < 65536 ? diskpattern_byte(i) : 0, "byte %u", i);
}

/*
 * Run diskio on QEMU with `append` as its command line and a fresh image; it must print
 * `want_first` and `want_last`, and the image must hold the pattern. The guest ends with
 * cli; hlt, which QEMU keeps: `timeout` ends it (124). Under TCG the workload takes well under
 * a second; 10 s is the margin for a slow machine.
 */
static void qemu_guest(const char *kernel, int virtio, const char *append, const char *want_first,
		       const char *want_last, int check_image)
{
	require_qemu();
	const char *img = zero_image(virtio ? "qemu-virtio.img" : "qemu-ide.img");
	char drive[256];
	snprintf(drive, sizeof drive, virtio ? "id=d0,file=%s,format=raw,if=none" :
					       "file=%s,format=raw,if=ide", img);
	/*
	 * virtio: microvm lists its virtio-mmio transports on the command line itself
	 * (auto-kernel-cmdline, only with acpi=off), at 0xfeb00e00 with IRQ 12: the driver must
	 * find the device there, not at hv's address. force-legacy=false: QEMU's transport
	 * defaults to the pre-1.0 layout (Version 1), which the driver rightly refuses.
	 * legacy: the PC machine's IDE controller (PVH boot works there too). -display none
	 * rather than -nographic: SeaBIOS would print to the serial port.
	 */
	const char *virtio_args[] = { "timeout", "10", QEMU, "-M", "microvm,acpi=off,auto-kernel-cmdline=on",
		"-accel", "tcg", "-display", "none", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-global", "virtio-mmio.force-legacy=false",
		"-drive", drive, "-device", "virtio-blk-device,drive=d0", "-kernel", guest(kernel),
		"-append", append, NULL };
	const char *ide_args[] = { "timeout", "10", QEMU, "-M", "pc", "-accel", "tcg", "-display", "none",
		"-no-reboot", "-nodefaults", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
		"-drive", drive, "-kernel", guest(kernel), "-append", append, NULL };
	struct hv_result r;
	cmd_exec(&r, virtio ? virtio_args : ide_args);
	cr_assert(strstr(r.out, want_first), "%s %s", r.out, r.err);
	cr_assert(strstr(r.out, want_last), "%s %s", r.out, r.err);
	cr_assert_eq(r.status, 124, "%s", r.err);
	if (check_image)
		assert_pattern(img);
}

static void qemu_diskio(int virtio, const char *append, const char *want_first, const char *want_last)
{
	qemu_guest("diskio.elf", virtio, append, want_first, want_last, 1);
}

/*
 * The mini OS (chapter 5) on QEMU's TCG, which emulates ring 3, paging and the PIT itself: a
 * second machine for the same guest code that hv runs in the lab VM. All five tasks, with the
 * disk task on each of QEMU's disks.
 */
Test(qemu, mini_os_runs_its_tasks_on_qemus_ide)
{
	qemu_guest("os.elf", 0, "hvlab.disk=legacy", "disk: OK 8 sectors through the legacy driver\n",
		   "os: 5 tasks run, 2 killed\n", 0);
}

Test(qemu, mini_os_runs_its_tasks_on_qemus_virtio_blk)
{
	qemu_guest("os.elf", 1, "hvlab.disk=virtio", "disk: OK 8 sectors through the virtio driver\n",
		   "os: 5 tasks run, 2 killed\n", 0);
}

Test(qemu, diskio_virtio_driver_works_with_qemus_virtio_blk)
{
	qemu_diskio(1, "hvlab.disk=virtio", "diskio: virtio-blk at 0xfeb00e00",
		    "diskio: OK 33 requests\n");
}

Test(qemu, diskio_ata_driver_works_with_qemus_ide)
{
	qemu_diskio(0, "hvlab.disk=legacy", "diskio: legacy ATA, 2048 sectors",
		    "diskio: OK 33 requests\n");
}

/*
 * Interrupt mode (diskio.irq=1): the drivers sleep in `sti; hlt` and wake on the device's
 * interrupt through a 32-bit IDT and the 8259A PICs: IRQ 14 from QEMU's IDE, and IRQ 12 from
 * microvm's virtio-mmio transport (microvm routes it to its legacy PIC as well). This is the
 * protected-mode half of the interrupt path, which a PVM host cannot deliver (test_disk.c).
 */
Test(qemu, diskio_virtio_interrupt_mode_on_qemu)
{
	qemu_diskio(1, "hvlab.disk=virtio diskio.irq=1", "diskio: virtio-blk at 0xfeb00e00",
		    "diskio: OK 33 requests (interrupts)\n");
}

Test(qemu, diskio_ata_interrupt_mode_on_qemu)
{
	qemu_diskio(0, "hvlab.disk=legacy diskio.irq=1", "diskio: legacy ATA, 2048 sectors",
		    "diskio: OK 33 requests (interrupts)\n");
}
