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
 *     Counter 1 counts and can be read but drives nothing.
 *   - counter 2, the PC speaker's, and port 0x61 ("system control port B" of the chipset):
 *     bit 0 is counter 2's GATE input, bit 5 shows counter 2's OUT pin, bit 4 toggles with
 *     every DRAM refresh. This is the one counter whose output software can *see* without an
 *     interrupt, so it is what Linux times the TSC against at boot (arch/x86/kernel/tsc.c:
 *     quick_pit_calibrate reads counter 2's falling MSB in mode 0; pit_calibrate_tsc sets the
 *     gate, loads a 10 ms or 50 ms count in mode 0 and polls port 0x61 until OUT goes high).
 *     Without it Linux prints "tsc: Unable to calibrate against PIT".
 *     Modes 1 and 5 start on a rising gate edge, which only counter 2 gets (0 and 1 have
 *     their gates tied high): on counters 0 and 1 they never fire.
 * Not modelled: BCD counting and the read-back command (each a guest error: counted, refused);
 * the speaker itself (bit 1 is stored, nothing sounds).
 * Appendix C, C.5 rows: S1 any width and offset is safe (bytes only; others see 0xFF); S2 a
 * reload of 1 does not flood the host (PIT_MIN_PERIOD_NS); S3 the thread never touches guest
 * memory; S7 port 0x61 keeps only its writable bits.
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
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
/* Modes 0, 2, 3 and 4 stop counting while GATE is low; in modes 1 and 5 the gate is only a
 * trigger (data sheet, "Gate" table). */
static bool gate_pauses(const struct pit_counter *c)
{
	return c->mode != 1 && c->mode != 5;
}

/*
 * How long the counter has counted. The time counted before the gate fell is kept in held_ns,
 * and the clock runs again only while the gate is high. Counters 0 and 1 have their gates tied
 * high: for them this is simply now - start.
 */
static uint64_t counted_ns(const struct pit *p, const struct pit_counter *c)
{
	if (!c->gate && gate_pauses(c))
		return c->held_ns;
	return c->held_ns + (p->now_ns() - c->start_ns);
}

/* Modes 1 and 5 count only after a gate edge triggered them ("hardware triggered"). */
static bool counter_waiting(const struct pit_counter *c)
{
	return (c->mode == 1 || c->mode == 5) && !c->triggered;
}

static uint16_t counter_value(const struct pit *p, const struct pit_counter *c)
{
	if (!c->armed || counter_waiting(c))
		return (uint16_t)c->reload;
	uint64_t elapsed = pit_ticks_in(counted_ns(p, c));
	if (c->mode == 2 || c->mode == 3)
		return (uint16_t)(c->reload - elapsed % c->reload);
	return (uint16_t)(c->reload - elapsed); /* wraps modulo 2^16, as the chip does */
}

/*
 * The OUT pin, from the data sheet's mode definitions, for a count of N = reload:
 *   mode 0  low from the control word until the count reaches 0, then high ("interrupt on
 *           terminal count": the edge Linux's pit_calibrate_tsc waits for in port 0x61 bit 5)
 *   mode 1  low from the trigger until terminal count (a one-shot pulse of N clocks)
 *   mode 2  high, low for one clock when the count reaches 1, then reloads
 *   mode 3  a square wave: high for the first half of each N clocks, low for the second
 *   mode 4  high, low for one clock at terminal count
 *   mode 5  as mode 4, after a trigger
 * Before a count is written, OUT is low in mode 0 and high in every other mode. A low gate
 * forces OUT high in modes 2 and 3.
 */
static bool counter_out(const struct pit *p, const struct pit_counter *c)
{
	if (!c->armed)
		return c->mode != 0;
	if (counter_waiting(c))
		return true;
	uint64_t n = pit_ticks_in(counted_ns(p, c));
	switch (c->mode) {
	case 0: return n >= c->reload;
	case 1: return n >= c->reload;
	case 2: return !c->gate || n % c->reload != c->reload - 1;
	case 3: return !c->gate || n % c->reload < (c->reload + 1) / 2;
	default: return n != c->reload; /* modes 4 and 5 */
	}
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
	c->held_ns = 0;
	c->armed = true;
	c->fired = false;
	c->triggered = false; /* modes 1 and 5 wait for the next gate edge */
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
 * programs counter 0. Gates 0 and 1 are wired high on the board; gate 2 (port 0x61 bit 0)
 * starts low, as a BIOS leaves the speaker off. */
static void power_on_locked(struct pit *p)
{
	memset(p->c, 0, sizeof(p->c));
	p->c[0].gate = p->c[1].gate = true;
	p->port61 = 0;
}

/* The tick thread is woken to notice that it has nothing to do. */
static void pit_reset(void *dev)
{
	struct pit *p = dev;
	pthread_mutex_lock(&p->lock);
	power_on_locked(p);
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

const struct device_ops pit_ops = {
	.name = "pit8254",
	.read = pit_read,
	.write = pit_write,
	.reset = pit_reset,
};

/* ---- port 0x61: counter 2's gate and output ---- */

/* Port 0x61, bit by bit (the PC/AT's "port B", kept by every chipset since):
 *   bit 0  R/W  counter 2 GATE            bit 4  RO  refresh request toggle
 *   bit 1  R/W  speaker data enable       bit 5  RO  counter 2 OUT
 *   bit 2  R/W  parity check (NMI) off    bit 6  RO  I/O channel check (NMI source)
 *   bit 3  R/W  channel check (NMI) off   bit 7  RO  memory parity error (NMI source) */
#define P61_GATE2    0x01u
#define P61_WRITABLE 0x0Eu /* bits 1-3: stored and read back */
#define P61_REFRESH  0x10u
#define P61_OUT2     0x20u

/*
 * A change on counter 2's GATE input. Falling: the count pauses (time counted so far is kept).
 * Rising: modes 0 and 4 go on counting where they stopped; modes 1, 2, 3 and 5 restart from
 * the reload value (the edge is their trigger, data sheet "Gate" table).
 */
static void gate_set(struct pit *p, struct pit_counter *c, bool high)
{
	uint64_t now = p->now_ns();
	if (high == c->gate)
		return;
	c->gate = high;
	if (!high) {
		if (gate_pauses(c)) {
			c->held_ns += now - c->start_ns;
			c->start_ns = now;
		}
		return;
	}
	if (c->mode != 0 && c->mode != 4) { /* the edge is a trigger: count from the reload */
		c->held_ns = 0;
		c->triggered = true;
	}
	c->start_ns = now; /* modes 0 and 4 resume: held_ns keeps what was counted */
}

/*
 * Reads: bit 5 is counter 2's OUT now, bit 4 the refresh toggle. No NMI source exists in hv,
 * so bits 6 and 7 are always 0. The refresh bit is computed from the clock like the counts:
 * old BIOS delay loops count its toggles (one every 15.085 us) to wait a known time.
 */
static void port61_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct pit *p = dev;
	(void)offset;
	if (size != 1) { /* a byte register, as every ISA port (S1) */
		memset(data, 0xFF, size);
		return;
	}
	pthread_mutex_lock(&p->lock);
	uint8_t v = p->port61 & P61_WRITABLE;
	if (p->c[2].gate)
		v |= P61_GATE2;
	if ((p->now_ns() / PIT_REFRESH_NS) & 1)
		v |= P61_REFRESH;
	if (counter_out(p, &p->c[2]))
		v |= P61_OUT2;
	pthread_mutex_unlock(&p->lock);
	data[0] = v;
}

/* Writes: bit 0 drives gate 2, bits 1-3 are stored, the read-only bits 4-7 are ignored (S7). */
static void port61_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct pit *p = dev;
	(void)offset;
	if (size != 1)
		return;
	pthread_mutex_lock(&p->lock);
	p->port61 = data[0] & P61_WRITABLE;
	gate_set(p, &p->c[2], data[0] & P61_GATE2);
	pthread_mutex_unlock(&p->lock);
}

/* Reset: pit_reset (the same chip) already puts gate 2 low and clears the stored bits. */
const struct device_ops pit_port61_ops = {
	.name = "port61",
	.read = port61_read,
	.write = port61_write,
	.reset = NULL,
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

bool pit_out_now(struct pit *p, unsigned ch)
{
	pthread_mutex_lock(&p->lock);
	bool out = ch < 3 && counter_out(p, &p->c[ch]);
	pthread_mutex_unlock(&p->lock);
	return out;
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
	power_on_locked(p); /* no other thread has it yet */
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
