/*
 * hypercall.c - a 32-bit guest that makes real hypercalls to KVM, then the same number of
 * ordinary device accesses, so a trace can compare the two.
 *
 * Concept: a hypercall is a guest kernel calling its hypervisor on purpose, like a program
 * making a system call to its kernel. On x86 the instruction is VMCALL (Intel VT-x) or
 * VMMCALL (AMD-V). Both always cause a VM exit. KVM handles the KVM hypercalls it knows inside
 * the host kernel (kvm_emulate_hypercall) and resumes the guest at once: hv, the user-space
 * VMM, never runs and never sees them. Only KVM's own statistics count them ("hypercalls",
 * which hv reads through hv/kvmstats.c and `hv trace stats` prints). An OUT to a device port
 * is the opposite case: KVM passes it to hv (KVM_EXIT_IO) and hv's trace has one record each.
 *
 *   1. uart_init and nothing else printed yet (the UART's own exits are ordinary port I/O)
 *   2. N x VMCALL/VMMCALL with EAX = 1, KVM_HC_VAPIC_POLL_IRQ (Linux
 *      Documentation/virt/kvm/x86/hypercalls.rst): the simplest KVM hypercall, it does nothing
 *      and returns 0 in EAX. Each return value is checked.
 *   3. N x OUT 32-bit to port 0x500 (hv's test device, like guest/exits.c)
 *   4. one line: "hypercall: N x vmcall returned 0, N x OUT to port 0x500", then OUT 0 to
 *      port 0xF4 (hv exit status 1). Any hypercall returning non-zero: a line with the
 *      value (KVM returns -1000, -KVM_ENOSYS, for a number it does not know) and OUT 1 to
 *      0xF4 (status 3).
 *
 * Which instruction: "hc.insn=vmcall" or "hc.insn=vmmcall" on the command line; without it
 * the guest asks CPUID for the CPU vendor (AuthenticAMD and HygonGenuine: vmmcall; others:
 * vmcall), as Linux's KVM guest code does. The wrong one for the CPU is an invalid opcode
 * (#UD); KVM catches that #UD and handles the call anyway (and may patch the instruction in
 * guest memory to the right one), so forcing it is an experiment, not an error.
 * N comes from "calls=N" (default 10, at most 1000000).
 * Textbook: chapter 9 "Hypervisors, then and now", section "Hypercalls: a guest that knows".
 */
#include <stdint.h>

#include "cmdline.h"
#include "layout.h"
#include "portio.h"
#include "uart.h"

#define HC_CALLS_DEFAULT 10u
#define HC_CALLS_MAX     1000000u
#define KVM_HC_VAPIC_POLL_IRQ 1u /* Linux include/uapi/linux/kvm_para.h */

/* CPUID leaf 0: the vendor string is in EBX, EDX, ECX, in that order. "Auth" = AMD,
   "Hygo" = Hygon (AMD's design): both use VMMCALL. */
static int cpu_is_amd(void)
{
	uint32_t a = 0, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return b == 0x68747541u /* "Auth" */ || b == 0x6f677948u /* "Hygo" */;
}

/* One hypercall: number in EAX, result back in EAX (KVM's 32-bit calling convention; the
   arguments would be in EBX, ECX, EDX, ESI, none of which this call reads). */
static uint32_t hc_vmcall(uint32_t nr)
{
	__asm__ volatile("vmcall" : "+a"(nr) : : "memory");
	return nr;
}

static uint32_t hc_vmmcall(uint32_t nr)
{
	__asm__ volatile("vmmcall" : "+a"(nr) : : "memory");
	return nr;
}

static int hc_use_vmmcall(const char *cmdline)
{
	const char *value;
	uint32_t len;

	if (cmdline_get_nth(cmdline, HV_CMDLINE_MAX, "hc.insn", 0, &value, &len)) {
		if (cmdline_value_is(value, len, "vmmcall"))
			return 1;
		if (cmdline_value_is(value, len, "vmcall"))
			return 0;
	}
	return cpu_is_amd();
}

/* Print v in decimal: the guest has no printf. */
static void put_u32(uint32_t v)
{
	char buf[11];
	int i = 10;

	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + v % 10u);
		v /= 10u;
	} while (v != 0);
	uart_puts(&buf[i]);
}

static void __attribute__((noreturn)) hc_finish(uint8_t status)
{
	port_write8(HV_PORT_EXIT, status);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void guest_main(uint32_t start_info_paddr);

void guest_main(uint32_t start_info_paddr)
{
	const char *cmdline = startinfo_cmdline(start_info_paddr);
	uint32_t calls = HC_CALLS_DEFAULT;
	int amd;

	cmdline_get_uint(cmdline, HV_CMDLINE_MAX, "calls", HC_CALLS_MAX, &calls);
	amd = hc_use_vmmcall(cmdline);
	uart_init();

	for (uint32_t i = 0; i < calls; i++) {
		uint32_t ret = amd ? hc_vmmcall(KVM_HC_VAPIC_POLL_IRQ) : hc_vmcall(KVM_HC_VAPIC_POLL_IRQ);
		if (ret != 0) {
			uart_puts("hypercall: call ");
			put_u32(i + 1);
			uart_puts(" returned ");
			uart_puts(ret & 0x80000000u ? "-" : "");
			put_u32(ret & 0x80000000u ? 0u - ret : ret);
			uart_puts("\n");
			hc_finish(1);
		}
	}
	for (uint32_t i = 0; i < calls; i++)
		port_write32(HV_PORT_TESTDEV, i);

	put_u32(calls);
	uart_puts(amd ? " x vmmcall" : " x vmcall");
	uart_puts(" returned 0, ");
	put_u32(calls);
	uart_puts(" x OUT to port 0x500\n");
	hc_finish(0);
}
