/*
 * fault.c - a program that reads kernel memory: the first word of the kernel image at 1 MiB.
 *
 * Concept: memory protection by paging. The address is perfectly valid and mapped (the
 * kernel runs there), but its page directory entry has U/S = 0 (paging.c), so a read at
 * CPL 3 raises a page fault (#PF) with CR2 = 0x00100000 and error code 5 (bit 0: the page
 * is present, so it is a protection fault; bit 2: the access came from user mode). The kernel
 * kills the task: "os: task 4 (fault) killed: #PF page fault at eip=... cr2=0x00100000 (ring 3
 * touched kernel memory)". Intel SDM vol. 3, section 4.7 "Page-fault exceptions".
 * Textbook: chapter 5 "A guest OS", section "The IDT and exceptions".
 */
#include <stdint.h>

#include "ulib.h"

#define KERNEL_ADDR 0x00100000u /* the kernel image (hv/layout.h HV_LOAD_ADDR) */

int fault_main(const char *arg)
{
	char line[48], *p;
	uint32_t v;

	(void)arg;
	uputs("fault: reading kernel memory at 0x00100000\n");
	v = *(volatile uint32_t *)KERNEL_ADDR;
	p = ucat(line, "fault: read ");
	p = ucat_hex(p, v);
	ucat(p, "?! (it must not)\n");
	uputs(line);
	return 1;
}
