/*
 * badcall.c - a program that hands the kernel bad system call arguments, and checks that
 * every one is refused with -1 while the task itself survives. (Not in the default task
 * list: run it with os.run=badcall.)
 *
 * Concept: the kernel as a careful deputy. The kernel may touch all memory; a task may not.
 * If a system call used a task's pointer without checking it, the task could make the kernel
 * read or write kernel memory on its behalf. So syscall.c checks that a whole buffer lies in
 * the user region, computed so that no sum can wrap around 2^32.
 * Textbook: chapter 5 "A guest OS", section "System calls".
 */
#include <stdint.h>

#include "ulib.h"

#define KERNEL_ADDR 0x00100000u /* the kernel image: mapped, but supervisor-only */
#define USER_TOP    0x00800000u /* one past the user region */

static int raw_syscall(uint32_t nr)
{
	int ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr) : "memory");
	return ret;
}

int badcall_main(const char *arg)
{
	static char buf[512];
	char line[64], *p;
	uint32_t refused = 0, checks = 0;

	(void)arg;
#define CHECK(call) do { checks++; if ((call) == -1) refused++; } while (0)
	CHECK(sys_write(1, (const void *)KERNEL_ADDR, 16));          /* kernel memory */
	CHECK(sys_write(1, (const void *)(USER_TOP - 8u), 16));      /* runs past the region */
	CHECK(sys_write(1, (const void *)0xFFFFFFF0u, 0x20));        /* wraps past 2^32 */
	CHECK(sys_write(2, buf, 1));                                 /* no fd 2 */
	CHECK(sys_disk_read(0, (void *)KERNEL_ADDR, 1));             /* DMA into the kernel */
	CHECK(sys_disk_read(0, buf, 0x00800001u));                   /* sectors * 512 wraps */
	CHECK(raw_syscall(999));                                     /* no such call */
#undef CHECK
	p = ucat(line, "badcall: ");
	p = ucat_u32(p, refused);
	p = ucat(p, " of ");
	p = ucat_u32(p, checks);
	ucat(p, " bad calls refused\n");
	uputs(line);
	return refused == checks ? 0 : 1;
}
