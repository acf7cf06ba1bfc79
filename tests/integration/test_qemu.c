/*
 * test_qemu.c - the same guest ELF boots unchanged on another VMM: QEMU's microvm via PVH.
 *
 * The 32-bit guests carry the PVH ELF note (XEN_ELFNOTE_PHYS32_ENTRY). QEMU's `-kernel`
 * loader finds it and starts the guest the way hv does: 32-bit protected mode, paging off,
 * EBX = start-info block with the command line. If our note, our start-info reading or our
 * UART driver were hv-specific, these would fail. QEMU runs with TCG (pure emulation) so the
 * result does not depend on this host's KVM.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

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
