/*
 * priv.c - a program that tries a privileged instruction: cli.
 *
 * Concept: privilege levels. CLI would switch interrupts off for the whole machine, so the
 * CPU allows it only when CPL <= IOPL; the kernel runs tasks with IOPL = 0 and CPL = 3, so
 * the CPU refuses with a general-protection fault (#GP, error code 0) *before* the
 * instruction has any effect. The kernel gets the fault, sees it came from ring 3, and kills
 * the task: "os: task 3 (priv) killed: #GP general protection fault at eip=... (a privileged
 * instruction in ring 3)". Intel SDM vol. 2, CLI, "Protected mode exceptions".
 * Textbook: chapter 5 "A guest OS", section "The IDT and exceptions".
 */
#include "ulib.h"

int priv_main(const char *arg)
{
	(void)arg;
	uputs("priv: trying cli in ring 3\n");
	__asm__ volatile("cli");
	uputs("priv: cli worked?! (it must not)\n");
	return 1;
}
