/*
 * pit.h - the 8254 programmable interval timer (channel 0 -> IRQ 0): the PC's clock tick, and
 * port 0x61 (counter 2's gate and output: what Linux calibrates the TSC against).
 * Textbook: chapter 5 "A guest OS", section "The timer"; chapter 11 "Booting Linux", section
 * "The PC pieces Linux asks for".
 */
#ifndef HV_DEV_PIT_H
#define HV_DEV_PIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

#define PIT_LEN     4u        /* ports 0x40-0x43: counters 0, 1, 2 and the mode/command port */
#define PIT_PORT61_LEN 1u     /* port 0x61: system control port B (gate 2, OUT 2, refresh) */
/* Port 0x61's refresh bit toggles once per DRAM refresh request: every 15.085 us on a PC
 * (counter 1 once made those requests; chipsets keep the bit for old timing loops). */
#define PIT_REFRESH_NS 15085u
#define PIT_HZ      1193182u  /* the input clock of every PC's 8254: 14.31818 MHz / 12 */
/* The fastest channel 0 may tick here. A guest may program a reload of 1 (1.19 MHz); hv then
 * ticks at this rate instead, like KVM's own limit on guest timers (min_timer_period_us), so
 * a guest cannot keep a host core busy delivering ticks it could never handle. */
#define PIT_MIN_PERIOD_NS 100000u /* 100 us: 10 kHz */

struct pit_counter {
	uint8_t mode;        /* 0-5 (bits 3-1 of the control word) */
	uint8_t access;      /* 1 = LSB only, 2 = MSB only, 3 = LSB then MSB */
	bool bcd;            /* counts in BCD: not supported, counted as a guest error */
	bool write_msb_next; /* access 3: the next data write is the MSB */
	bool read_msb_next;  /* access 3: the next data read is the MSB */
	bool latched;        /* a latch command froze `latch` for the next read(s) */
	bool armed;          /* a full reload value was written: the counter runs */
	bool fired;          /* modes 0 and 4: terminal count reached, IRQ 0 raised once */
	bool gate;           /* the GATE input: high for counters 0 and 1, port 0x61 bit 0 for 2 */
	bool triggered;      /* modes 1 and 5: a rising gate edge started the count */
	uint64_t held_ns;    /* time counted before the gate went low (it counts on when high) */
	uint16_t latch;
	uint32_t reload;     /* 1..65536 (a written 0 means 65536) */
	uint16_t partial;    /* LSB waiting for its MSB */
	uint64_t start_ns;   /* when counting started (reload written) */
};

struct pit {
	pthread_mutex_t lock;
	pthread_cond_t changed;  /* channel 0 was reprogrammed, or the timer must stop */
	struct pit_counter c[3];
	uint8_t port61;          /* port 0x61 bits 1-3 as the guest wrote them (bit 0 is c[2].gate) */
	void (*irq)(void *ctx, int level); /* IRQ 0 (NULL: no line wired) */
	void *irq_ctx;
	uint64_t (*now_ns)(void);
	pthread_t thread;
	bool thread_running, stop;
	/* counters */
	uint64_t ticks;          /* IRQ 0 pulses delivered */
	uint64_t guest_errors;   /* unsupported programming (BCD, read-back, counter 3) */
};

extern const struct device_ops pit_ops;        /* at 0x40, PIT_LEN */
extern const struct device_ops pit_port61_ops; /* at 0x61, PIT_PORT61_LEN */

/* now_ns: a monotonic clock in nanoseconds (vm_now_ns; tests pass their own). */
struct pit *pit_create(uint64_t (*now_ns)(void));
void pit_destroy(struct pit *p);
void pit_connect_irq(struct pit *p, void (*irq)(void *ctx, int level), void *ctx);

/* The tick thread: raises IRQ 0 at channel 0's rate while it runs in mode 2 or 3 (or once,
 * in modes 0 and 4). `start` creates the thread (hv passes vm_start_thread, which blocks
 * SIGINT/SIGTERM in it); returns its error number. now_ns must be CLOCK_MONOTONIC. */
int pit_start(struct pit *p, int (*start)(pthread_t *, void *(*)(void *), void *));
void pit_stop(struct pit *p);

/* Channel 0's period in ns as hv delivers it (0: not running periodically), and whether it
 * will raise IRQ 0 again (so a guest halted with IF = 1 will wake). */
uint64_t pit_period_ns(struct pit *p);
bool pit_may_wake(struct pit *p);

/* One tick of channel 0, as the thread does it: exposed for unit tests. */
void pit_tick(struct pit *p);

/* The value a read of counter `ch` would return now, and its OUT pin (for tests). */
uint16_t pit_count_now(struct pit *p, unsigned ch);
bool pit_out_now(struct pit *p, unsigned ch);

#endif
