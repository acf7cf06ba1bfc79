/*
 * syscall.c - the system calls: the only things a task can ask the kernel to do.
 *
 * Concept: a system call is a function call across a privilege boundary, and the kernel
 * must treat its arguments like input from an enemy. A task passes numbers in registers
 * (EAX = call number, EBX, ECX, EDX = arguments, the Linux i386 convention); when an argument
 * is a pointer, the kernel checks that the *whole* buffer lies in the user region before it
 * touches a byte, because the kernel itself may access all memory: an unchecked pointer
 * would let a task read or overwrite the kernel through it. This is the same discipline hv
 * applies to the guest (textbook appendix C), one level down.
 * Textbook: chapter 5 "A guest OS", section "System calls".
 *
 * The calls (numbers in hv/pvtrace.h, so hv's trace can name them):
 *   1   exit(status)                    ends the task; does not return
 *   4   write(fd, buf, len) -> len      fd 1 only: the bytes go to COM1; else -1
 *   20  getpid() -> id                  the task's id (1, 2, ...)
 *   400 disk_read(lba, buf, sectors)    -> 0 or -1 (no disk, bad buffer, I/O error)
 *   401 disk_write(lba, buf, sectors)   -> 0 or -1
 *   402 disk_flush()                    -> 0 or -1
 *   403 ticks() -> n                    timer interrupts since boot
 *   anything else                       -> -1
 */
#include <stdint.h>

#include "layout.h"
#include "os.h"
#include "pvtrace.h"
#include "uart.h"

#define SYS_ERR 0xFFFFFFFFu /* -1 in EAX */
#define DISK_MAX_SECTORS 256u /* the drivers' per-request limit (ata.h, virtio_blk.h) */

/* write: only fd 1 (the console) exists. Each byte is 2 exits on hv (uart.c). */
static uint32_t sys_write(uint32_t fd, uint32_t buf, uint32_t len)
{
	const char *p = (const char *)(uintptr_t)buf;

	if (fd != 1u)
		return SYS_ERR;
	if (len == 0)
		return 0;
	if (!user_range_ok(buf, len))
		return SYS_ERR;
	for (uint32_t i = 0; i < len; i++)
		uart_putc(p[i]);
	return len;
}

/*
 * The disk calls: check the count (so sectors * 512 cannot overflow), then the buffer, then
 * hand the user's buffer to the driver as it is. The mapping is the identity, so the
 * buffer's address is also the physical address a virtio device writes to.
 */
static uint32_t sys_disk(uint32_t nr, uint32_t lba, uint32_t buf, uint32_t nsect)
{
	int r;

	if (nsect == 0 || nsect > DISK_MAX_SECTORS || !user_range_ok(buf, nsect * HV_SECTOR_SIZE))
		return SYS_ERR;
	if (nr == HV_SYS_DISK_READ)
		r = disk_read(lba, (void *)(uintptr_t)buf, nsect);
	else
		r = disk_write(lba, (const void *)(uintptr_t)buf, nsect);
	return r == 0 ? 0 : SYS_ERR;
}

void syscall_dispatch(struct trapframe *tf)
{
	uint32_t ret;

	switch (tf->eax) {
	case HV_SYS_EXIT:
		task_exit((int)tf->ebx, tf->eip);
	case HV_SYS_WRITE:
		ret = sys_write(tf->ebx, tf->ecx, tf->edx);
		break;
	case HV_SYS_GETPID:
		ret = task_current_id();
		break;
	case HV_SYS_DISK_READ:
	case HV_SYS_DISK_WRITE:
		ret = sys_disk(tf->eax, tf->ebx, tf->ecx, tf->edx);
		break;
	case HV_SYS_DISK_FLUSH:
		ret = disk_flush() == 0 ? 0 : SYS_ERR;
		break;
	case HV_SYS_TICKS:
		ret = timer_ticks();
		break;
	default:
		ret = SYS_ERR;
		break;
	}
	tf->eax = ret;
}
