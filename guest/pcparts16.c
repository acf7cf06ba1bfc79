/*
 * pcparts16.c - a real-mode guest that uses the PC pieces Linux asks for, as Linux does: it
 * reads the date from the CMOS clock, times counter 2 of the PIT through port 0x61 against that
 * clock, sleeps until a key typed on hv's stdin wakes it through the UART's receive interrupt
 * (IRQ 4), and reboots the machine through the keyboard controller.
 * Textbook: chapter 11 "Booting Linux", section "The PC pieces Linux asks for".
 *
 * Why real mode: it runs on every host hv runs on (PVM too), and IRQ 4 arrives through the
 * simplest interrupt table there is (guest/irq16.c has the same set-up).
 *
 * Run: printf 'hello\n' | hv run build/guest/pcparts16.bin
 * Output (the date and the count change):
 *   "pcparts: cpuid: hypervisor KVMKVMKVM, kvmclock\n"
 *   "pcparts: rtc 2026-12-06 10:41:07 (bcd, 24h)\n"
 *   "pcparts: pit2: 99 periods of 10 ms in one rtc second\n"
 *   "pcparts: irq4: got 'hello'\n"
 *   "pcparts: reset through the keyboard controller\n"
 * and hv ends with status 18 (HV_EXIT_RESET). On failure "pcparts: FAIL <why>" and code C to
 * port 0xF4 (hv status 2C+1). With nothing on stdin (end of file) the guest halts waiting for a
 * key that never comes, and hv stops it: "no device can raise" an interrupt (status 12).
 *
 * The steps, each what Linux does at boot:
 *   0. CPUID: is this a virtual machine, and does it offer kvmclock (hv/vm.c sets the bit);
 *   1. the date: mc146818_get_time's loop (wait until UIP is clear, read the seconds, read
 *      everything, read the seconds again, retry if they changed), BCD decoded;
 *   2. the timer: pit_calibrate_tsc's sequence (gate on, speaker off, counter 2 in mode 0
 *      with a 10 ms count, poll port 0x61 bit 5), repeated for one second of the RTC: about
 *      100 periods, fewer when hv's host is slow to answer the polls;
 *   3. the console: IER bit 0 (received data), MCR OUT2, PIC line 4 unmasked, sti; hlt until
 *      bytes arrive, then read RBR while LSR bit 0 says data is ready, up to a newline;
 *   4. the reset: machine_real_restart's keyboard path (reboot=k): wait until status bit 1
 *      (input buffer full) is clear, then command 0xFE.
 */
#include <stdint.h>

#include "layout.h"
#include "pic.h"
#include "portio.h"
#include "uart.h"

enum {
	PC_E_RTC = 1,     /* the clock's UIP never fell, or register D says "no clock"   -> 3 */
	PC_E_PIT = 2,     /* counter 2's OUT never rose in port 0x61 bit 5               -> 5 */
	PC_E_INPUT = 3,   /* IRQ 4 woke us but no byte was there, or the line ran long   -> 7 */
	PC_E_RESET = 4,   /* the 0xFE command did not end the run                        -> 9 */
};

#define POLL_MAX 50000000u /* bounded waits: a broken device is a message, not a hang */

/* The handlers (guest/lib/isr16.S). */
void isr16_uart(void);
void isr16_unexpected(void);
extern volatile uint16_t isr16_uart_count, isr16_unexpected_count;
extern volatile uint8_t isr16_uart_iir;

#define RTC_INDEX HV_PORT_RTC
#define RTC_DATA  (HV_PORT_RTC + 1u)
#define UART_RBR  (HV_PORT_UART0 + 0u)
#define UART_IER  (HV_PORT_UART0 + 1u)
#define UART_MCR  (HV_PORT_UART0 + 4u)
#define UART_LSR  (HV_PORT_UART0 + 5u)

void guest_main(void);

static void __attribute__((noreturn)) pc_fail(uint8_t code, const char *why)
{
	uart_puts("pcparts: FAIL ");
	uart_puts(why);
	uart_putc('\n');
	port_write8(HV_PORT_EXIT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void put_dec(uint32_t v, int digits)
{
	char buf[10];
	int n = 0;
	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < 10);
	while (n < digits--)
		uart_putc('0');
	while (n)
		uart_putc(buf[--n]);
}

/* ---- 0. CPUID: does the CPU say it is virtual? ---- */

static void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* Linux's first question, before any device: leaf 1 ECX bit 31 ("hypervisor present"), then
 * the hypervisor's name in leaf 0x40000000 (EBX, ECX, EDX) and, for KVM, its features in
 * 0x40000001 (EAX bit 3: kvmclock, the clock that makes PIT calibration unnecessary).
 * CPUID is handled by KVM in the kernel: no exit reaches hv. */
static void cpuid_print(void)
{
	uint32_t r[4];
	cpuid(1, r);
	if (!(r[2] & (1u << 31))) {
		uart_puts("pcparts: cpuid: no hypervisor bit\n");
		return;
	}
	cpuid(0x40000000u, r);
	char name[13];
	for (int i = 0; i < 12; i++)
		name[i] = (char)(r[1 + i / 4] >> (8 * (i % 4)));
	name[12] = 0;
	uart_puts("pcparts: cpuid: hypervisor ");
	uart_puts(name);
	cpuid(0x40000001u, r);
	uart_puts((r[0] & (1u << 3)) ? ", kvmclock\n" : ", no kvmclock\n");
}

/* ---- 1. the CMOS clock ---- */

static uint8_t cmos_read(uint8_t reg)
{
	port_write8(RTC_INDEX, reg);
	return port_read8(RTC_DATA);
}

static uint32_t bcd(uint8_t v)
{
	return (uint32_t)(v >> 4) * 10u + (v & 0x0Fu);
}

/* Wait for UIP (register A bit 7) to be clear; false if it never is. */
static int rtc_wait_uip(void)
{
	for (uint32_t i = 0; i < POLL_MAX; i++)
		if (!(cmos_read(0x0A) & 0x80))
			return 1;
	return 0;
}

static uint8_t rtc_seconds(void)
{
	if (!rtc_wait_uip())
		pc_fail(PC_E_RTC, "rtc: UIP never fell");
	return cmos_read(0x00);
}

static void rtc_print_date(void)
{
	if (cmos_read(0x0D) & 0x40)
		pc_fail(PC_E_RTC, "rtc: register D bit 6 set: no clock there");
	uint8_t sec, t[6];
	do {
		sec = rtc_seconds();
		t[0] = cmos_read(0x32);
		t[1] = cmos_read(0x09);
		t[2] = cmos_read(0x08);
		t[3] = cmos_read(0x07);
		t[4] = cmos_read(0x04);
		t[5] = cmos_read(0x02);
	} while (sec != cmos_read(0x00)); /* the second changed under us: read again */
	uint8_t b = cmos_read(0x0B);
	int binary = b & 0x04;
	uint32_t v[6];
	for (int i = 0; i < 6; i++)
		v[i] = binary ? t[i] : bcd(t[i]);
	uart_puts("pcparts: rtc ");
	put_dec(v[0] * 100u + v[1], 4);
	uart_putc('-');
	put_dec(v[2], 2);
	uart_putc('-');
	put_dec(v[3], 2);
	uart_putc(' ');
	put_dec(v[4], 2);
	uart_putc(':');
	put_dec(v[5], 2);
	uart_putc(':');
	put_dec(binary ? sec : bcd(sec), 2);
	uart_puts(binary ? " (binary" : " (bcd");
	uart_puts((b & 0x02) ? ", 24h)\n" : ", 12h)\n");
}

/* ---- 2. counter 2 through port 0x61 ---- */

/* One 10 ms one-shot on counter 2 (1193182 / 100 = 11931 input ticks), as pit_calibrate_tsc
 * loads it: the control word (OUT goes low), the count LSB then MSB (counting starts), then
 * poll port 0x61 until bit 5, OUT, goes high. */
static void pit2_wait_10ms(void)
{
	port_write8(HV_PORT_PIT + 3u, 0xB0); /* counter 2, LSB then MSB, mode 0, binary */
	port_write8(HV_PORT_PIT + 2u, 11931u & 0xFFu);
	port_write8(HV_PORT_PIT + 2u, 11931u >> 8);
	for (uint32_t i = 0; i < POLL_MAX; i++)
		if (port_read8(HV_PORT_PORT61) & 0x20)
			return;
	pc_fail(PC_E_PIT, "pit: counter 2's OUT (port 0x61 bit 5) never rose");
}

static void pit_against_rtc(void)
{
	/* gate on (bit 0), speaker off (bit 1) */
	port_write8(HV_PORT_PORT61, (uint8_t)((port_read8(HV_PORT_PORT61) & ~0x02u) | 0x01u));
	uint8_t s0 = rtc_seconds();
	while (rtc_seconds() == s0) /* start at a second's edge */
		;
	uint8_t s1 = cmos_read(0x00);
	uint32_t periods = 0;
	do {
		pit2_wait_10ms();
		periods++;
	} while (rtc_seconds() == s1 && periods < 1000);
	uart_puts("pcparts: pit2: ");
	put_dec(periods, 1);
	uart_puts(" periods of 10 ms in one rtc second\n");
}

/* ---- 3. a key on hv's stdin, through IRQ 4 ---- */

static void ivt_set(uint32_t vector, void (*handler)(void))
{
	uint16_t offset = (uint16_t)(uintptr_t)handler;
	uint32_t entry = vector * 4u;
	__asm__ volatile("movw %w0, (%1)\n\t"
			 "movw $0, 2(%1)"
			 : : "r"(offset), "r"(entry) : "memory");
}

static void console_line(void)
{
	for (uint32_t v = PIC_MASTER_VECTOR; v < PIC_SLAVE_VECTOR + 8u; v++)
		ivt_set(v, isr16_unexpected);
	ivt_set(PIC_MASTER_VECTOR + HV_IRQ_UART0, isr16_uart);
	pic_init();
	pic_unmask(HV_IRQ_UART0);
	port_write8(UART_MCR, 0x0B); /* DTR, RTS, OUT2 */
	port_write8(UART_IER, 0x01); /* interrupt on received data */
	char line[32];
	unsigned n = 0;
	for (;;) {
		/* Sleep until a key: hv's input thread fills the FIFO and raises IRQ 4. STI takes
		 * effect after the next instruction, so no interrupt slips in before the HLT. */
		uint16_t seen = isr16_uart_count;
		while (!(port_read8(UART_LSR) & 0x01) && isr16_uart_count == seen)
			__asm__ volatile("sti; hlt; cli" : : : "memory");
		if (!(port_read8(UART_LSR) & 0x01))
			pc_fail(PC_E_INPUT, "input: IRQ 4 woke us but LSR says no data");
		while (port_read8(UART_LSR) & 0x01) {
			char c = (char)port_read8(UART_RBR);
			if (c == '\n' || c == '\r')
				goto done;
			if (n == sizeof(line) - 1)
				pc_fail(PC_E_INPUT, "input: line longer than 31 bytes");
			line[n++] = c;
		}
	}
done:
	port_write8(UART_IER, 0);
	line[n] = 0;
	uart_puts("pcparts: irq4: got '");
	uart_puts(line);
	uart_puts("'\n");
}

/* ---- 4. reset ---- */

static void reset_through_kbc(void)
{
	uart_puts("pcparts: reset through the keyboard controller\n");
	for (uint32_t i = 0; i < 0x10000u && (port_read8(HV_PORT_I8042_CMD) & 0x02); i++)
		;
	port_write8(HV_PORT_I8042_CMD, 0xFE);
	pc_fail(PC_E_RESET, "reset: still running after command 0xFE");
}

void guest_main(void)
{
	uart_init();
	cpuid_print();
	rtc_print_date();
	pit_against_rtc();
	console_line();
	reset_through_kbc();
}
