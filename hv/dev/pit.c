/*
 * pit.c - the 8254 programmable interval timer: the PC's clock tick, as a device model.
 *
 * Concept: an operating system takes the CPU away from a program only when something
 * interrupts it, and the something is a timer. On every PC since 1981 that is counter 0 of the
 * 8254 PIT: it counts down from a reload value at 1.193182 MHz and, in mode 2 ("rate
 * generator"), pulses IRQ 0 each time it reaches 1. A kernel that wants 100 ticks a second
 * writes 1193182 / 100 = 11932. In a VM there is no crystal: hv keeps a *host* thread that
 * sleeps for the period and then raises the line, and the PIC and irq.c deliver the tick like
 * any other interrupt (kicking the vCPU out of KVM_RUN if the guest is running). That is why a
 * guest's "100 Hz" is only as regular as the host's scheduler: real VMMs have the same
 * problem, and guests use other clocks (TSC, kvmclock) to measure time.
 * Textbook: chapter 5 "A guest OS", section "The timer".
 *
 * What is modelled (Intel 82C54 data sheet, "Operation" and "Mode definitions"):
 *   - the control word at port 0x43: counter select (bits 7-6), access mode (5-4: latch,
 *     LSB, MSB, LSB then MSB), mode (3-1), BCD (0);
 *   - counters 0-2 at ports 0x40-0x42: reload writes and count reads, with latching;
 *   - counter 0 drives IRQ 0: modes 2 and 3 periodically, modes 0 and 4 once per reload.
 *     Counters 1 and 2 count and can be read (2 is the speaker's on a PC) but drive nothing.
 *     Modes 1 and 5 wait for a gate edge, which only counter 2 could get (port 0x61, not
 *     modelled): they never fire.
 * Not modelled: BCD counting and the read-back command (each a guest error: counted, refused).
 * Appendix C, C.5 rows: S1 any width and offset is safe (bytes only; others see 0xFF); S2 a
 * reload of 1 does not flood the host (PIT_MIN_PERIOD_NS); S3 the thread never touches guest
 * memory.
 */
#include "dev/pit.h"
#include "trace_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PIT_CONTROL 3u /* offset of port 0x43 */

/*
 * Why 1.193182 MHz, an odd number for a clock: the original PC had one 14.31818 MHz crystal,
 * four times the NTSC colour subcarrier (so the CGA card could drive a TV), and derived every
 * other clock from it. The CPU got 14.31818 / 3 = 4.77 MHz and the PIT 14.31818 / 12. Every
 * PC since keeps the same PIT frequency, so a guest's reload values still mean the same rate.
 */

/* Ticks of the 1.193182 MHz input clock in `ns` nanoseconds. Split into whole seconds and the
 * rest because ns * PIT_HZ overflows 64 bits after about 4 hours of uptime (2^64 / 1193182
 * ns): a guest left running over lunch would see its counter jump. */
static uint64_t pit_ticks_in(uint64_t ns)
{
	return ns / 1000000000u * PIT_HZ + ns % 1000000000u * PIT_HZ / 1000000000u;
}

/*
 * The counter's current value: it counts down from reload, restarting (modes 2/3) or
 * wrapping through 0xFFFF (modes 0/4, which run on after terminal count).
 *
 * The chip decrements its counting element on every input clock edge; hv cannot afford a
 * thread that wakes 1.19 million times a second, so it never counts at all. It remembers
 * when the count was loaded (start_ns) and computes the value only when a guest reads it.
 * Nobody can tell the difference, since the count is observable only through a read. In
 * mode 3 the real chip counts down by two, twice per period (once per half of the square
 * wave); hv reports the mode-2 count of the same period, which only a guest timing the
 * individual halves could notice.
 */
static uint16_t counter_value(const struct pit *p, const struct pit_counter *c)
{
	if (!c->armed)
		return (uint16_t)c->reload;
	uint64_t elapsed = pit_ticks_in(p->now_ns() - c->start_ns);
	if (c->mode == 2 || c->mode == 3)
		return (uint16_t)(c->reload - elapsed % c->reload);
	return (uint16_t)(c->reload - elapsed); /* wraps modulo 2^16, as the chip does */
}

/* A guest asked for something the model does not do (BCD, read-back, a data write before any
 * control word). Counted for the summary and the tests, never printed: a guest could do it in a
 * loop. */
static void pit_guest_error(struct pit *p)
{
	p->guest_errors++;
}

/*
 * Port 0x43: select a counter and how it is accessed, or latch its count.
 *
 * Why a latch command exists: a counter is 16 bits, the data bus 8, so a guest reads a count
 * with two INs, and the chip keeps counting between them. Read unlatched, a count going from
 * 0x0100 to 0x00FF between the two reads gives LSB 0x00 then MSB 0x00: 0x0000, a value the
 * counter never held. The latch copies the count into an output latch that the next read(s)
 * return, while the counting element runs on. A second latch command before the first copy
 * was read is ignored (data sheet, "Counter Latch Command"), hence the `if`.
 */
static void write_control(struct pit *p, uint8_t v)
{
	unsigned sel = v >> 6;
	if (sel == 3) { /* read-back command (8254 only): not modelled */
		pit_guest_error(p);
		return;
	}
	struct pit_counter *c = &p->c[sel];
	unsigned access = (v >> 4) & 3;
	if (access == 0) { /* counter latch command: freeze the count for the next read */
		if (!c->latched) {
			c->latch = counter_value(p, c);
			c->latched = true;
		}
		return;
	}
	c->access = (uint8_t)access;
	c->mode = (v >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4; /* modes 6 and 7 are aliases of 2 and 3 (data sheet) */
	/* BCD: the counter would count 9999..0 in decimal. A relic of 1970s front panels that
	 * no PC operating system uses; refusing it keeps the arithmetic above binary only. */
	c->bcd = v & 1;
	if (c->bcd)
		pit_guest_error(p);
	/* Writing a control word stops the counter until a new count is written (data sheet:
	 * it resets the counter's control logic and puts OUT in a known initial state). That is why a kernel always writes
	 * the control word first and the reload value after it, and why the byte order of a
	 * two-byte access restarts here: both flip-flops go back to "LSB next". */
	c->armed = false;
	c->write_msb_next = c->read_msb_next = c->latched = false;
	if (sel == 0)
		pthread_cond_broadcast(&p->changed);
}

/* A complete reload value arrived: the counter starts counting it. */
static void load_count(struct pit *p, unsigned ch, uint32_t value)
{
	struct pit_counter *c = &p->c[ch];
	/* 0 means the largest count, 2^16: a 16-bit register cannot hold 65536, and counting
	 * down from 0 reaches 0 again after 65536 clocks. It is the BIOS's default, and why DOS
	 * ticked at 1193182 / 65536 = 18.2 Hz. */
	c->reload = value ? value : 65536u;
	c->start_ns = p->now_ns();
	c->armed = true;
	c->fired = false;
	if (ch == 0)
		pthread_cond_broadcast(&p->changed); /* the tick thread re-reads the period */
}

/*
 * A data write to counter `ch` (ports 0x40-0x42). The access mode of the last control word says
 * what the byte is: the whole count's LSB (1), its MSB (2), or alternately LSB then MSB (3),
 * tracked by a flip-flop. Only the second byte of mode 3 loads the count, so the counter never
 * runs on half a value.
 */
static void write_counter(struct pit *p, unsigned ch, uint8_t v)
{
	struct pit_counter *c = &p->c[ch];
	switch (c->access) {
	case 1: load_count(p, ch, v); break;
	case 2: load_count(p, ch, (uint32_t)v << 8); break;
	case 3:
		if (!c->write_msb_next) {
			c->partial = v;
			c->write_msb_next = true;
		} else {
			c->write_msb_next = false;
			load_count(p, ch, (uint32_t)v << 8 | c->partial);
		}
		break;
	default: pit_guest_error(p); break; /* no control word yet */
	}
}

/*
 * A read takes the latched value if there is one (and releases it once fully read). The read
 * flip-flop is separate from the write one: the data sheet allows "read LSB, write LSB, read
 * MSB, write MSB" on one counter, and a driver doing that must get the bytes it expects.
 */
static uint8_t read_counter(struct pit *p, unsigned ch)
{
	struct pit_counter *c = &p->c[ch];
	uint16_t v = c->latched ? c->latch : counter_value(p, c);
	uint8_t out;
	switch (c->access) {
	case 2: out = (uint8_t)(v >> 8); c->latched = false; break;
	case 3:
		out = c->read_msb_next ? (uint8_t)(v >> 8) : (uint8_t)v;
		c->read_msb_next = !c->read_msb_next;
		if (!c->read_msb_next)
			c->latched = false;
		break;
	default: out = (uint8_t)v; c->latched = false; break;
	}
	return out;
}

/*
 * The ops table's read: ports 0x40-0x42 return a count byte. Port 0x43 is write-only: the chip
 * leaves the data bus undriven on a read, so the guest sees what an empty ISA bus gives, 0xFF.
 * The lock: the tick thread reads the same counter 0 state to compute its deadline.
 */
static void pit_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct pit *p = dev;
	if (size != 1 || offset == PIT_CONTROL) { /* byte registers; 0x43 is write-only */
		memset(data, 0xFF, size);
		return;
	}
	pthread_mutex_lock(&p->lock);
	data[0] = read_counter(p, (unsigned)offset);
	pthread_mutex_unlock(&p->lock);
}

static void pit_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct pit *p = dev;
	if (size != 1)
		return; /* byte registers only: wider writes are ignored, as on the ISA bus */
	pthread_mutex_lock(&p->lock);
	if (offset == PIT_CONTROL)
		write_control(p, data[0]);
	else
		write_counter(p, (unsigned)offset, data[0]);
	pthread_mutex_unlock(&p->lock);
}

/* Power-on: every counter without a control word, armed nowhere, IRQ 0 silent until a guest
 * programs counter 0. The tick thread is woken to notice that it has nothing to do. */
static void pit_reset(void *dev)
{
	struct pit *p = dev;
	pthread_mutex_lock(&p->lock);
	memset(p->c, 0, sizeof(p->c));
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

const struct device_ops pit_ops = {
	.name = "pit8254",
	.read = pit_read,
	.write = pit_write,
	.reset = pit_reset,
};

/* ---- the tick thread ---- */

/*
 * How often counter 0 interrupts, in host nanoseconds, or 0 for "not at all": not programmed,
 * a one-shot that already fired, or modes 1 and 5, which start only on a rising GATE edge that
 * counter 0 never gets (its gate is tied high on a PC). Never shorter than PIT_MIN_PERIOD_NS.
 */
static uint64_t period_locked(const struct pit *p)
{
	const struct pit_counter *c = &p->c[0];
	if (!c->armed || c->fired || c->mode == 1 || c->mode == 5)
		return 0;
	uint64_t ns = (uint64_t)c->reload * 1000000000u / PIT_HZ;
	return ns < PIT_MIN_PERIOD_NS ? PIT_MIN_PERIOD_NS : ns;
}

/* The periodic rate the guest programmed, 0 for none or a one-shot (the unit tests check it). */
uint64_t pit_period_ns(struct pit *p)
{
	pthread_mutex_lock(&p->lock);
	uint64_t ns = period_locked(p);
	if (p->c[0].mode == 0 || p->c[0].mode == 4)
		ns = 0; /* one-shot modes: not periodic */
	pthread_mutex_unlock(&p->lock);
	return ns;
}

/* Asked by irq_wait_halted: is a tick still coming? A guest in `hlt` whose only wake-up source
 * is the timer sleeps until it; with no tick coming it would sleep forever, and hv says so. */
bool pit_may_wake(struct pit *p)
{
	pthread_mutex_lock(&p->lock);
	bool yes = p->thread_running && period_locked(p) != 0;
	pthread_mutex_unlock(&p->lock);
	return yes;
}

/* One pulse on IRQ 0: the 8259A latches the rising edge (the line is edge-triggered on every
 * PC), so the line goes up and straight back down. Called without the lock: the PIC's
 * callbacks may kick the vCPU, which must not wait for us. */
void pit_tick(struct pit *p)
{
	p->ticks++;
	if (p->irq) {
		p->irq(p->irq_ctx, 1);
		p->irq(p->irq_ctx, 0);
	}
}

static struct timespec ts_of(uint64_t ns)
{
	struct timespec t = { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
	return t;
}

/*
 * Sleep until the next deadline (or a reprogramming), tick, repeat. Deadlines are absolute:
 * start + k * period, so the rate does not drift with the time each tick takes. A thread
 * that fell behind by more than a period (the host was busy) skips the lost ticks instead of
 * delivering a burst: a guest counting ticks then sees time jump, as guests on busy hosts do.
 */
static void *pit_thread(void *arg)
{
	struct pit *p = arg;
	trace_set_thread_id(HVT_VCPU_TIMER); /* its IRQ 0 records say "timer", not "vcpu0" */
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		uint64_t period = period_locked(p);
		struct pit_counter *c = &p->c[0];
		if (!period) {
			pthread_cond_wait(&p->changed, &p->lock);
			continue;
		}
		uint64_t start = c->start_ns, now = p->now_ns();
		uint64_t k = (now - start) / period + 1; /* the next deadline after now */
		uint64_t deadline = start + k * period;
		struct timespec until = ts_of(deadline);
		int rc = 0;
		while (!p->stop && rc != ETIMEDOUT && c->start_ns == start && period_locked(p) == period)
			rc = pthread_cond_timedwait(&p->changed, &p->lock, &until);
		if (rc != ETIMEDOUT || p->stop)
			continue; /* reprogrammed or stopping: look again */
		/* Mode 0 ("interrupt on terminal count") raises OUT once when the count reaches 0;
		 * mode 4 ("software triggered strobe") pulses once. A kernel uses them for a single
		 * deadline (a tickless kernel's next event), then writes a new count. */
		bool once = c->mode == 0 || c->mode == 4;
		if (once)
			c->fired = true; /* it counts on, but interrupts again only after a new count */
		pthread_mutex_unlock(&p->lock);
		pit_tick(p);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* The tick thread is started by whoever runs the VM, through `start` (vm_start_thread, which
 * blocks Ctrl-C in it): the device itself has no opinion about signals. */
int pit_start(struct pit *p, int (*start)(pthread_t *, void *(*)(void *), void *))
{
	p->stop = false;
	int rc = start(&p->thread, pit_thread, p);
	pthread_mutex_lock(&p->lock);
	p->thread_running = rc == 0;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void pit_stop(struct pit *p)
{
	if (!p || !p->thread_running)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->thread_running = false;
}

uint16_t pit_count_now(struct pit *p, unsigned ch)
{
	pthread_mutex_lock(&p->lock);
	uint16_t v = ch < 3 ? counter_value(p, &p->c[ch]) : 0;
	pthread_mutex_unlock(&p->lock);
	return v;
}

struct pit *pit_create(uint64_t (*now_ns)(void))
{
	struct pit *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	/* The deadline is on the monotonic clock (now_ns): a wall-clock jump must not stall it. */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->changed, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&p->lock, NULL);
	p->now_ns = now_ns;
	return p;
}

void pit_connect_irq(struct pit *p, void (*irq)(void *ctx, int level), void *ctx)
{
	p->irq = irq;
	p->irq_ctx = ctx;
}

void pit_destroy(struct pit *p)
{
	if (!p)
		return;
	pit_stop(p);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
