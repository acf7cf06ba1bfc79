/*
 * ulib.h - the user programs' whole C library: one function per system call, and three
 * helpers to build a line of text.
 *
 * Concept: a user program cannot call the kernel's functions: the kernel's pages are
 * supervisor-only, so even *reading* them from ring 3 is a page fault (that is the 'fault'
 * program's lesson). Everything a program needs must live in the user image, and the only
 * way to the kernel is `int $0x80`. This library is the user side of that door, like libc's
 * syscall wrappers. Textbook: chapter 5 "A guest OS", section "System calls".
 *
 * Every user program is `int NAME_main(const char *arg)`: arg is the disk driver the kernel
 * runs ("legacy", "virtio" or "none"); returning from main is exit(return value).
 */
#ifndef OS_ULIB_H
#define OS_ULIB_H

#include <stdint.h>

int sys_exit(int status) __attribute__((noreturn));
int sys_write(int fd, const void *buf, uint32_t len);
int sys_getpid(void);
int sys_disk_read(uint32_t lba, void *buf, uint32_t sectors);
int sys_disk_write(uint32_t lba, const void *buf, uint32_t sectors);
int sys_disk_flush(void);
uint32_t sys_ticks(void);

/* Building a line: each returns the new end, so calls chain: p = ucat(p, "x"). */
char *ucat(char *dst, const char *s);
char *ucat_u32(char *dst, uint32_t v);
char *ucat_hex(char *dst, uint32_t v); /* "0x" and 8 digits */

/* write(1, line, length): one system call for the whole line. */
void uputs(const char *s);
int ustreq(const char *a, const char *b);

#endif
