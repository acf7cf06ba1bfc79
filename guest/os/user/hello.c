/*
 * hello.c - the first program in ring 3: one write, one getpid, exit(0).
 *
 * Concept: a system call, seen from the program. Each sys_* call below is `int $0x80`: two
 * ring changes (3 -> 0, 0 -> 3) and, on hv, not a single VM exit, unless the kernel itself
 * does I/O for it (write: 2 exits per character, the UART). The trace page shows the rest.
 * Textbook: chapter 5 "A guest OS", section "System calls".
 *
 * The getpid call is written out in assembler between two global labels, os_step_window and
 * os_step_window_end, so that hv's step mode can find it in the ELF's symbol table and
 * single-step exactly these two instructions: `movl $20, %eax` (in ring 3) and
 * `int $0x80` (which lands in the kernel's trapasm.S at CPL 0).
 */
#include <stdint.h>

#include "pvtrace.h"
#include "ulib.h"

/* noinline: the labels are global, so this asm must exist exactly once in the image. */
static int __attribute__((noinline)) getpid_in_window(void)
{
	int pid;

	__asm__ volatile(".globl os_step_window\n"
			 "os_step_window:\n\t"
			 "movl %1, %%eax\n\t"
			 "int $0x80\n"
			 ".globl os_step_window_end\n"
			 "os_step_window_end:\n"
			 : "=a"(pid) : "i"(HV_SYS_GETPID) : "memory");
	return pid;
}

int hello_main(const char *arg)
{
	static const char greeting[] = "hello from ring 3\n";
	char line[40], *p;
	int pid;

	(void)arg;
	sys_write(1, greeting, sizeof(greeting) - 1u); /* one system call for the whole line */
	pid = getpid_in_window();
	p = ucat(line, "hello: my pid is ");
	p = ucat_u32(p, (uint32_t)pid);
	p = ucat(p, "\n");
	sys_write(1, line, (uint32_t)(p - line));
	return 0;
}
