/*
 * i8042.c - the keyboard controller: how a PC without ACPI reboots, and what Linux must hear
 * to stop looking for a keyboard.
 *
 * Concept: the IBM PC/AT put a small microcontroller, the Intel 8042, between the CPU and the
 * keyboard. It has a data port (0x60), a status and command port (0x64), and a few spare
 * output pins that IBM wired to other jobs. One of them is the CPU's RESET line: command 0xFE
 * ("pulse output pin 0") resets the machine. That is still the classic way to reboot a PC
 * without ACPI, and what Linux's `reboot=k` does (arch/x86/kernel/reboot.c: wait until the
 * input buffer is empty, then write 0xFE to port 0x64). In a VM a reset ends the run: hv files
 * a stop request with status HV_EXIT_RESET, as QEMU and Firecracker end on the same command.
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
 *
 * What Linux's i8042 driver (drivers/input/serio/i8042.c) asks at boot, and what hv answers:
 *   - is there a controller? It reads the status port and empties the output buffer; a port
 *     nobody decodes reads 0xFF ("output full" forever), which Linux takes as "no controller".
 *     hv answers as a real controller: the buffer is empty, status 0x14.
 *   - self-test 0xAA -> 0x55; read and write the command byte (0x20, 0x60); the AUX (mouse)
 *     port tests: loopback 0xD3 echoes, disable/enable 0xA7/0xA8 change the command byte, and
 *     the echo raises IRQ 12 if enabled, as Linux's AUX interrupt test expects;
 *   - then the keyboard and mouse drivers send commands to the devices (0x60, or 0xD4 then a
 *     byte for the mouse). hv has no keyboard and no mouse: like a real controller with nothing
 *     plugged in, it answers each such byte with 0xFE and the time-out bit (status bit 6) after
 *     the transfer fails, with IRQ 1 or 12. Linux's PS/2 library (drivers/input/serio/libps2.c)
 *     takes 0xFE as "not acknowledged", tries a second time, and gives up: the keyboard probe
 *     fails in milliseconds, instead of waiting for a timeout on each command.
 * Why this choice and not "no controller": the reset line needs a controller whose input buffer
 * empties (Linux polls status bit 1 up to 65536 times before each 0xFE), and the answers above
 * cost Linux a few exits each, with no waiting.
 *
 * Not modelled: the keyboard and the mouse themselves, scan codes and their translation, the
 * A20 gate (bit 1 of the output port is stored; hv's RAM never wraps at 1 MiB), password and
 * vendor commands (ignored and counted). The chip's output buffer holds one byte; hv queues up
 * to I8042_QUEUE, because it answers at once while a real device answers later.
 * Appendix C, C.7 rows: I1 any command, any data, any width or order is defined; I2 a flood of
 * answers is bounded (the queue drops and counts); I3 a reset ends the run once.
 */
#include "dev/i8042.h"
#include "layout.h"
#include "stop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Status register (port 0x64, read). */
#define STS_OBF     0x01u /* output buffer full: a byte waits at port 0x60 */
#define STS_IBF     0x02u /* input buffer full: the controller has not taken the last write */
#define STS_SYS     0x04u /* system flag: the power-on self-test passed */
#define STS_CMD     0x08u /* the last write was to 0x64 (a command), not 0x60 (data) */
#define STS_UNLOCK  0x10u /* the keyboard lock switch is open (Linux warns if it is not) */
#define STS_AUX     0x20u /* the waiting byte came from the mouse port */
#define STS_TIMEOUT 0x40u /* the device did not answer */

/* The command byte (CTR, RAM byte 0). */
#define CTR_KBDINT  0x01u /* raise IRQ 1 when keyboard data arrives */
#define CTR_AUXINT  0x02u /* raise IRQ 12 when mouse data arrives */
#define CTR_SYS     0x04u
#define CTR_KBDDIS  0x10u /* keyboard clock off */
#define CTR_AUXDIS  0x20u /* mouse clock off */
#define CTR_XLATE   0x40u /* translate scan codes to set 1 (the PC/XT's) */
/* What a BIOS leaves: keyboard interrupt on, mouse off, translation on. */
#define CTR_POWER_ON (CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE)

#define OUT_RESET   0x01u /* output port bit 0: the CPU's reset line, active low */
#define OUT_A20     0x02u /* output port bit 1: address line 20 enabled */

#define NO_DEVICE   0xFEu /* the answer for a byte no device took */

/* ---- the output buffer and the interrupt lines ---- */

/*
 * IRQ 1 is high while a keyboard-port byte waits and CTR bit 0 enables it; IRQ 12 likewise for
 * a mouse-port byte and CTR bit 1. Reading port 0x60 takes the byte and lowers the line. Only
 * changes are sent (like the UART, appendix C, S6).
 */
static void i8042_update_irq(struct i8042 *k)
{
	int l1 = 0, l12 = 0;
	if (k->out_count) {
		const struct i8042_byte *b = &k->out[k->out_head];
		if (b->aux)
			l12 = (k->ram[0] & CTR_AUXINT) != 0;
		else
			l1 = (k->ram[0] & CTR_KBDINT) != 0;
	}
	if (l1 != k->irq1 && k->set_irq)
		k->set_irq(k->irq_ctx, 1, l1);
	if (l12 != k->irq12 && k->set_irq)
		k->set_irq(k->irq_ctx, 12, l12);
	k->irq1 = l1;
	k->irq12 = l12;
}

/* Put one byte where the guest will read it; a full queue loses it (I2). */
static void i8042_post(struct i8042 *k, uint8_t v, bool aux, bool timeout)
{
	if (k->out_count == I8042_QUEUE) {
		k->dropped++;
		return;
	}
	k->out[(k->out_head + k->out_count) % I8042_QUEUE] =
		(struct i8042_byte){ .value = v, .aux = aux, .timeout = timeout };
	k->out_count++;
}

/* ---- the reset line ---- */

/*
 * A low pulse on output pin 0 resets the CPU. In a VM "reset" ends the run: hv's statuses say
 * who ended it, and a test waiting for `reboot` wants the run to end, not a second boot.
 */
static void i8042_reset_cpu(struct i8042 *k)
{
	k->resets++;
	vm_stop_request(k->stop, HV_EXIT_RESET,
			"the guest reset the machine (keyboard controller command 0xFE: reboot)");
}

/* ---- commands (port 0x64) ---- */

/* A byte sent to the keyboard or the mouse: nobody is there (see the header comment). */
static void i8042_to_device(struct i8042 *k, bool aux)
{
	k->to_devices++;
	i8042_post(k, NO_DEVICE, aux, true);
}

/* Commands 0x60-0x7F, 0xD1-0xD4 take a data byte: it arrives at port 0x60 next. */
static void i8042_command_data(struct i8042 *k, uint8_t cmd, uint8_t v)
{
	if (cmd >= 0x60 && cmd <= 0x7F) {
		k->ram[cmd & 0x1F] = v; /* 0x60: the command byte */
		return;
	}
	switch (cmd) {
	case 0xD1: /* write the output port: bit 0 low is the reset line pulled */
		k->outport = v;
		if (!(v & OUT_RESET))
			i8042_reset_cpu(k);
		break;
	case 0xD2: i8042_post(k, v, false, false); break; /* as if the keyboard sent it */
	case 0xD3: i8042_post(k, v, true, false); break;  /* as if the mouse sent it (loopback) */
	default: i8042_to_device(k, true); break;         /* 0xD4: to the mouse */
	}
}

/* Commands that answer with one byte. */
static bool i8042_command_reply(struct i8042 *k, uint8_t cmd)
{
	uint8_t reply;
	if (cmd >= 0x20 && cmd <= 0x3F)
		reply = k->ram[cmd & 0x1F];   /* 0x20: the command byte */
	else if (cmd == 0xAA)
		reply = 0x55;                 /* self-test passed */
	else if (cmd == 0xA9 || cmd == 0xAB)
		reply = 0x00;                 /* mouse / keyboard interface test: lines fine */
	else if (cmd == 0xD0)
		reply = k->outport;
	else
		return false;
	i8042_post(k, reply, false, false);
	return true;
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	k->pending = 0;
	if (i8042_command_reply(k, cmd))
		return;
	if ((cmd >= 0x60 && cmd <= 0x7F) || (cmd >= 0xD1 && cmd <= 0xD4)) {
		k->pending = cmd;
		return;
	}
	if (cmd >= 0xF0) { /* pulse output pins 0-3 low for 6 us: bit n clear = pin n pulsed */
		if (!(cmd & OUT_RESET))
			i8042_reset_cpu(k);
		return;
	}
	switch (cmd) {
	case 0xA7: k->ram[0] |= CTR_AUXDIS; break;
	case 0xA8: k->ram[0] &= (uint8_t)~CTR_AUXDIS; break;
	case 0xAD: k->ram[0] |= CTR_KBDDIS; break;
	case 0xAE: k->ram[0] &= (uint8_t)~CTR_KBDDIS; break;
	case 0xDD: k->outport &= (uint8_t)~OUT_A20; break;
	case 0xDF: k->outport |= OUT_A20; break;
	default: k->unknown++; break; /* passwords, vendor commands: ignored */
	}
}

/* ---- device_ops ---- */

/* Port 0x60 read: the oldest waiting byte. An empty buffer repeats the last byte on a real chip;
 * hv returns 0 (nothing a driver may rely on either way). */
static void data_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct i8042 *k = dev;
	(void)offset;
	if (size != 1) {
		k->bad_width++;
		memset(data, 0xFF, size);
		return;
	}
	data[0] = 0;
	if (k->out_count) {
		data[0] = k->out[k->out_head].value;
		k->out_head = (k->out_head + 1) % I8042_QUEUE;
		k->out_count--;
	}
	i8042_update_irq(k);
}

/* Port 0x60 write: the data byte of a pending command, or a byte for the keyboard. */
static void data_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct i8042 *k = dev;
	(void)offset;
	if (size != 1) {
		k->bad_width++;
		return;
	}
	k->last_was_command = false;
	uint8_t cmd = k->pending;
	k->pending = 0;
	if (cmd)
		i8042_command_data(k, cmd, data[0]);
	else
		i8042_to_device(k, false);
	i8042_update_irq(k);
}

/* Port 0x64 read: the status register. The input buffer is always empty (IBF = 0): hv takes
 * every write at once, so Linux's wait before each command never waits. */
static void cmd_read(void *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct i8042 *k = dev;
	(void)offset;
	if (size != 1) {
		k->bad_width++;
		memset(data, 0xFF, size);
		return;
	}
	uint8_t s = STS_SYS | STS_UNLOCK | (k->last_was_command ? STS_CMD : 0);
	if (k->out_count) {
		const struct i8042_byte *b = &k->out[k->out_head];
		s |= STS_OBF | (b->aux ? STS_AUX : 0) | (b->timeout ? STS_TIMEOUT : 0);
	}
	data[0] = s;
}

static void cmd_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct i8042 *k = dev;
	(void)offset;
	if (size != 1) {
		k->bad_width++;
		return;
	}
	k->last_was_command = true;
	i8042_command(k, data[0]);
	i8042_update_irq(k);
}

/* Power-on, as a BIOS leaves the controller: buffer empty, CTR_POWER_ON, reset line high,
 * A20 on. Counters are hv's and survive. */
static void i8042_power_on(void *dev)
{
	struct i8042 *k = dev;
	memset(k->ram, 0, sizeof(k->ram));
	k->ram[0] = CTR_POWER_ON;
	k->outport = OUT_RESET | OUT_A20;
	k->pending = 0;
	k->last_was_command = false;
	k->out_head = k->out_count = 0;
	i8042_update_irq(k);
}

const struct device_ops i8042_data_ops = {
	.name = "i8042-data",
	.read = data_read,
	.write = data_write,
	.reset = i8042_power_on,
};

const struct device_ops i8042_cmd_ops = {
	.name = "i8042-cmd",
	.read = cmd_read,
	.write = cmd_write,
	.reset = NULL, /* one chip: the data port's reset covers it */
};

struct i8042 *i8042_create(struct vm_stop *stop)
{
	if (!stop) {
		errno = EINVAL;
		return NULL;
	}
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k) {
		errno = ENOMEM;
		return NULL;
	}
	k->stop = stop;
	i8042_power_on(k);
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	free(k);
}

void i8042_connect_irq(struct i8042 *k, void (*set_irq)(void *ctx, unsigned line, int level),
		       void *ctx)
{
	k->set_irq = set_irq;
	k->irq_ctx = ctx;
}
