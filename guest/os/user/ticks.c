/*
 * ticks.c - a program that waits for the timer: busy, in ring 3, with interrupts on.
 *
 * Concept: interrupts arrive while ring 3 runs. The task never gives the CPU away, yet every
 * 10 ms the PIT's IRQ 0 pulls it into the kernel (gate 0x20), the kernel counts a tick, and
 * IRET puts the task back where it was. The task notices only through the counter it reads
 * with the TICKS system call. If no interrupt ever comes (a host that delivers none), the
 * iteration bound ends the wait and the program says so instead of hanging.
 * Textbook: chapter 5 "A guest OS", section "The timer".
 *
 * The delay between two TICKS calls keeps the number of system calls (and trace records)
 * small: a million iterations of an empty loop, about 0.3-2 ms of pure ring-3 work (native
 * or QEMU TCG), so a 30 ms wait costs some tens of calls, and a machine that never
 * interrupts gives up after at most TICKS_CALLS calls (well under a second natively).
 * No PAUSE instruction in the loop: with KVM on VT-x a PAUSE loop may cause exits of its
 * own (pause-loop exiting), which would blur what this program shows.
 */
#include <stdint.h>

#include "ulib.h"

#define TICKS_WANTED  3u
#define TICKS_CALLS   1000u     /* at most this many TICKS calls ... */
#define TICKS_SPIN    1000000u  /* ... with this many empty loop iterations between two */

int ticks_main(const char *arg)
{
	uint32_t start = sys_ticks();

	(void)arg;
	for (uint32_t i = 0; i < TICKS_CALLS; i++) {
		if (sys_ticks() - start >= TICKS_WANTED) {
			uputs("ticks: 3 timer interrupts arrived while in ring 3\n");
			return 0;
		}
		for (uint32_t j = 0; j < TICKS_SPIN; j++)
			__asm__ volatile(""); /* keeps the empty loop: the compiler may not drop it */
	}
	uputs("ticks: no timer interrupt arrived (this machine delivers none)\n");
	return 0;
}
