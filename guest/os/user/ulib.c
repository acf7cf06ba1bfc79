/*
 * ulib.c - system call stubs and string helpers for ring 3 (declared in ulib.h).
 *
 * Concept: the system call instruction and its register convention. `int $0x80` is a
 * software interrupt through the IDT's DPL-3 gate (idt.c): the CPU switches to the kernel
 * stack from the TSS and enters trapasm.S. Number in EAX, arguments in EBX, ECX, EDX, result
 * back in EAX, exactly as on Linux i386. The asm names every register it reads and writes,
 * and says "memory", because the kernel may read or write the buffers we pass.
 * Textbook: chapter 5 "A guest OS", section "System calls".
 *
 * This file, like every file in guest/os/user/, is linked into the user image at 4 MiB
 * (os.ld), the only memory ring 3 may touch.
 */
#include <stdint.h>

#include "pvtrace.h" /* the system call numbers, HV_SYS_* */
#include "ulib.h"

/*
 * The one place where a user program leaves ring 3. The constraints put each value in the
 * register the kernel reads it from ("a" = EAX, "b" = EBX, "c" = ECX, "d" = EDX) and tell
 * the compiler that EAX comes back changed (the result). The kernel preserves every other
 * register (trapasm.S saves and restores them all), so nothing else needs to be listed.
 */
static inline int32_t syscall3(uint32_t nr, uint32_t a, uint32_t b, uint32_t c)
{
	int32_t ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

/*
 * main's return address (task.c puts it on the user stack): main's result is in EAX, so
 * pass it on to exit. Written in assembler because it is not a function: nobody calls it.
 */
__asm__(".text\n"
	".globl user_return\n"
	"user_return:\n\t"
	"movl %eax, %ebx\n\t"      /* exit's argument: main's return value */
	"movl $1, %eax\n\t"        /* HV_SYS_EXIT */
	"int $0x80\n"
	"1:\tjmp 1b\n");           /* exit does not return */

int sys_exit(int status)
{
	syscall3(HV_SYS_EXIT, (uint32_t)status, 0, 0);
	for (;;)
		;
}

int sys_write(int fd, const void *buf, uint32_t len)
{
	return syscall3(HV_SYS_WRITE, (uint32_t)fd, (uint32_t)(uintptr_t)buf, len);
}

int sys_getpid(void)
{
	return syscall3(HV_SYS_GETPID, 0, 0, 0);
}

int sys_disk_read(uint32_t lba, void *buf, uint32_t sectors)
{
	return syscall3(HV_SYS_DISK_READ, lba, (uint32_t)(uintptr_t)buf, sectors);
}

int sys_disk_write(uint32_t lba, const void *buf, uint32_t sectors)
{
	return syscall3(HV_SYS_DISK_WRITE, lba, (uint32_t)(uintptr_t)buf, sectors);
}

int sys_disk_flush(void)
{
	return syscall3(HV_SYS_DISK_FLUSH, 0, 0, 0);
}

uint32_t sys_ticks(void)
{
	return (uint32_t)syscall3(HV_SYS_TICKS, 0, 0, 0);
}

/* No libc here: these few string helpers are all the programs use. Each appends and
   returns the new end, so a line is built left to right and written with one system call. */
char *ucat(char *dst, const char *s)
{
	while (*s != '\0')
		*dst++ = *s++;
	*dst = '\0';
	return dst;
}

char *ucat_u32(char *dst, uint32_t v)
{
	char digits[10];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10u);
		v /= 10u;
	} while (v != 0);
	while (n > 0)
		*dst++ = digits[--n];
	*dst = '\0';
	return dst;
}

char *ucat_hex(char *dst, uint32_t v)
{
	dst = ucat(dst, "0x");
	for (int shift = 28; shift >= 0; shift -= 4)
		*dst++ = "0123456789abcdef"[(v >> shift) & 0xFu];
	*dst = '\0';
	return dst;
}

void uputs(const char *s)
{
	uint32_t len = 0;

	while (s[len] != '\0')
		len++;
	sys_write(1, s, len);
}

int ustreq(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}
