/*
 * irq16.c - a real-mode guest that takes two hardware interrupts: COM1's "transmitter empty"
 * (IRQ 4) and the ATA disk's "sector ready" (IRQ 14), delivered through the two 8259A PICs
 * and the real-mode interrupt vector table.
 *
 * Concept: the other half of I/O. Every other guest *polls*: it reads a status register
 * until the device is ready. Here the guest instead asks the device to interrupt it, halts,
 * and is woken by the interrupt: the device raises its line, the PIC turns the line into a
 * vector, the hypervisor injects that vector (hv: KVM_INTERRUPT after a HLT exit), the CPU
 * looks the vector up in the IVT and runs our handler, which acknowledges the device and the
 * PIC. Follow one interrupt through the trace: the OUT that starts the disk read, the HLT, the
 * injection, the handler's IN and two OUTs.
 * Textbook: chapter 4 "Two I/O paths", section "Interrupts and polling".
 *
 * Why real mode: the simplest interrupt table there is (4 bytes per vector, physical 0), and
 * on hosts whose KVM can only deliver injected interrupts to a real-mode guest (a PVM host),
 * the only mode where this works at all. guest/diskio.c's "diskio.irq=1" is the protected-
 * mode version (an IDT).
 *
 * Run: hv run --disk-path legacy build/guest/irq16.bin   (the ATA controller exists only
 * with a disk; without one the guest says so and fails with status 3).
 * Output on success:
 *   "irq16: uart irq 4 vector 0x24 ok\n"
 *   "irq16: ata irq 14 vector 0x2e ok\n"
 * then cli; hlt (hv status 0). On failure "irq16: FAIL <why>\n" and code C written to port
 * 0xF4 (hv status 2C+1), codes below.
 *
 * ---- Exits on hv (success path; each IN/OUT is one exit) ----
 *   uart_init                                                       7 OUT
 *   pic_init: ICW1-4 to both chips, both masks 0xFF                10 OUT
 *   COM1 (IRQ 4):
 *     pic_unmask(4): master mask 0xEF                               1 OUT
 *     MCR = DTR|RTS|OUT2 (OUT2 gates the UART's IRQ onto the bus)   1 OUT
 *     IER = ETBEI: THR is empty, so the line rises at once          1 OUT
 *     the request in the master's IRR: OCW3 + read                  1 OUT + 1 IN
 *     sti; hlt: the wait                                            1 HLT (W, see below)
 *     handler isr16_uart: IIR, EOI master                           1 IN + 1 OUT
 *     IER = 0 (the prints below must not raise it again)            1 OUT
 *   ATA (IRQ 14):
 *     pic_unmask(14): slave mask 0xBF, master mask 0xEB (IR2)       2 OUT
 *     device control = 0 (nIEN clear), drive/head = 0xE0            2 OUT
 *     alternate status: "is a drive there" (ATA's 400 ns wait)      1 IN
 *     count, LBA 0-7, 8-15, 16-23, command READ SECTORS             5 OUT
 *     the request in the slave's IRR: OCW3 + read                   1 OUT + 1 IN
 *     sti; hlt                                                      1 HLT (W)
 *     handler isr16_ata: status, EOI slave, EOI master              1 IN + 2 OUT
 *     `rep insw` of the sector (buffer 512-aligned: one exit)       1 INS
 *     alternate status: the command ended cleanly                   1 IN
 *   output: 2 lines of 33 bytes, 1 IN + 1 OUT per byte (uart.c)   132
 *   cli; hlt                                                        1 HLT
 * Port I/O to the PICs 0x20/0x21/0xA0/0xA1: 10 + 1 + 2 + 1 (UART: unmask, OCW3, IRR, EOI)
 *   + 2 + 2 + 2 (ATA: unmask, OCW3 + IRR, EOIs) = 20 exits.
 * Port I/O to COM1: 7 + 1 + 1 + 1 + 1 (init, MCR, IER, IIR, IER) + 132 = 143 exits.
 * Port I/O to the ATA ports: 2 + 1 + 5 + 1 + 1 + 1 = 11 exits (the INS counts once).
 * Total port I/O: 20 + 143 + 11 = 174; plus W HLT exits for the two waits, plus the final 1.
 * W: the guest halts once per wait (the request is already pending, IF = 1 only inside
 * "sti; hlt"), and hv injects the vector at that HLT exit: W = 2, and no interrupt-window
 * exit is needed. hv's summary of a run (hv run --disk-path legacy):
 *   177 exits: io 174, hlt 3; by device: pic-master 11, pic-slave 9, ata-cmd 8, ata-ctl 3,
 *   uart16550a 143; interrupts injected: 2.
 *   pic-master 11 = 4 ICWs + mask 0xFF + unmask IRQ 4 + OCW3 + IRR read + EOI (IRQ 4)
 *                   + unmask IR2 (for IRQ 14) + EOI (IRQ 14)
 *   pic-slave   9 = 4 ICWs + mask 0xFF + unmask IRQ 14 + OCW3 + IRR read + EOI (IRQ 14)
 *   ata-cmd     8 = 6 taskfile OUTs + the handler's status IN + the INS
 *   ata-ctl     3 = device control OUT + 2 alternate-status INs
 * Without --disk-path legacy: the UART half passes, then "irq16: FAIL ata: no drive ..."
 * and status 3.
 */
#include <stdint.h>

#include "layout.h"
#include "pic.h"
#include "portio.h"
#include "uart.h"

/* Failure codes written to port 0xF4 (hv exit status = 2 * code + 1). */
enum {
	IRQ16_E_NODRIVE = 1,    /* no ATA drive at 0x1F0 (hv run --disk-path legacy) -> 3 */
	IRQ16_E_UART_IRR = 2,   /* COM1 never requested IRQ 4 (IRR bit clear)       -> 5 */
	IRQ16_E_UART_WAKE = 3,  /* IRQ 4 pending but the handler never ran          -> 7 */
	IRQ16_E_UART_IIR = 4,   /* IIR did not say "THR empty"                      -> 9 */
	IRQ16_E_ATA_IRR = 5,    /* the drive never requested IRQ 14                 -> 11 */
	IRQ16_E_ATA_WAKE = 6,   /* IRQ 14 pending but the handler never ran         -> 13 */
	IRQ16_E_ATA_STATUS = 7, /* the drive was not ready, reported an error or no data -> 15 */
	IRQ16_E_UNEXPECTED = 8, /* a vector we did not ask for arrived              -> 17 */
};

/* Timeouts, counted in loops: IRR polls (a real drive takes milliseconds to read a sector;
   hv and QEMU raise the line during the command's OUT) and wake-ups from hlt that did not
   run our handler (something else woke us). */
#define IRQ16_POLL_MAX 1000000u
#define IRQ16_WAKE_MAX 16u

/* The handlers and what they record (guest/lib/isr16.S). */
void isr16_ata(void);
void isr16_uart(void);
void isr16_unexpected(void);
extern volatile uint16_t isr16_ata_count, isr16_uart_count, isr16_unexpected_count;
extern volatile uint8_t isr16_ata_status, isr16_uart_iir;

/* ATA registers and status bits (as in guest/lib/ata.c). */
#define ATA_DATA    (HV_PORT_ATA_CMD + 0u)
#define ATA_NSECT   (HV_PORT_ATA_CMD + 2u)
#define ATA_LBA_LO  (HV_PORT_ATA_CMD + 3u)
#define ATA_LBA_MID (HV_PORT_ATA_CMD + 4u)
#define ATA_LBA_HI  (HV_PORT_ATA_CMD + 5u)
#define ATA_DEVICE  (HV_PORT_ATA_CMD + 6u)
#define ATA_COMMAND (HV_PORT_ATA_CMD + 7u)
#define ST_BSY  0x80u
#define ST_DRDY 0x40u
#define ST_DF   0x20u
#define ST_DRQ  0x08u
#define ST_ERR  0x01u

/* COM1 registers used here (uart.c has the full list). */
#define UART_IER (HV_PORT_UART0 + 1u)
#define UART_MCR (HV_PORT_UART0 + 4u)
#define IER_ETBEI 0x02u /* interrupt when the transmitter holding register is empty */
#define MCR_DTR_RTS_OUT2 0x0Bu
#define IIR_ID_MASK 0x0Fu
#define IIR_THRE    0x02u

#define IRQ16_VEC_UART (PIC_MASTER_VECTOR + HV_IRQ_UART0)     /* 0x24 */
#define IRQ16_VEC_ATA  (PIC_SLAVE_VECTOR + HV_IRQ_ATA - 8u)   /* 0x2E */

/* One sector, 512-aligned so the `rep insw` stays in one page (one exit, guest/lib/ata.h). */
static uint16_t sector[256] __attribute__((aligned(512)));

static void __attribute__((noreturn)) irq16_fail(uint8_t code, const char *why)
{
	uart_puts("irq16: FAIL ");
	uart_puts(why);
	uart_putc('\n');
	port_write8(HV_PORT_EXIT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/*
 * IVT entry for `vector`: offset at 4 * vector, segment at 4 * vector + 2. Our code runs
 * with every segment 0, so segment 0 and the handler's address as offset. Written with an
 * explicit store instruction: in C, a pointer to an address this low is one the compiler may
 * treat as a null-page access (and warn about or assume unreachable). No exits: RAM.
 */
static void ivt_set(uint32_t vector, void (*handler)(void))
{
	uint16_t offset = (uint16_t)(uintptr_t)handler;
	uint32_t entry = vector * 4u;

	__asm__ volatile("movw %w0, (%1)\n\t"
			 "movw $0, 2(%1)"
			 : : "r"(offset), "r"(entry) : "memory");
}

/* Every vector the PICs can send goes somewhere: the catch-all, then the two we want. */
static void ivt_install(void)
{
	for (uint32_t v = PIC_MASTER_VECTOR; v < PIC_SLAVE_VECTOR + 8u; v++)
		ivt_set(v, isr16_unexpected);
	ivt_set(IRQ16_VEC_UART, isr16_uart);
	ivt_set(IRQ16_VEC_ATA, isr16_ata);
}

/*
 * The request must reach the PIC's IRR before we halt: while IF = 0 it waits there. Polling
 * IRR (bounded) turns "the device never interrupted" into a message instead of a CPU halted
 * forever. On hv and QEMU the line rose during the OUT that caused it: 1 OUT + 1 IN.
 */
static int irq16_wait_irr(unsigned irq)
{
	for (uint32_t i = 0; i < IRQ16_POLL_MAX; i++)
		if (pic_irr(irq))
			return 1;
	return 0;
}

/*
 * Let the pending interrupt in. IF is 0 everywhere else, so the test of the counter and the
 * halt cannot race: STI takes effect only after the *next* instruction, so an interrupt
 * cannot slip in between "sti" and "hlt" and leave us halted with nothing left to wake us.
 * The interrupt ends the HLT; the handler runs; IRET returns after the HLT; cli.
 */
static int irq16_wait_handler(volatile uint16_t *count)
{
	for (uint32_t i = 0; i < IRQ16_WAKE_MAX; i++) {
		if (*count != 0)
			return 1;
		__asm__ volatile("sti; hlt; cli" : : : "memory");
	}
	return *count != 0;
}

/* IRQ 4: enabling ETBEI while THR is already empty makes the 16550A request at once. */
static void irq16_uart(void)
{
	pic_unmask(HV_IRQ_UART0);
	port_write8(UART_MCR, MCR_DTR_RTS_OUT2);
	port_write8(UART_IER, IER_ETBEI);
	if (!irq16_wait_irr(HV_IRQ_UART0))
		irq16_fail(IRQ16_E_UART_IRR, "uart: IRQ 4 never requested (IRR bit 4 clear)");
	if (!irq16_wait_handler(&isr16_uart_count))
		irq16_fail(IRQ16_E_UART_WAKE, "uart: IRQ 4 pending but vector 0x24 never ran");
	/* Off again before printing: every byte sent would empty THR and interrupt anew. */
	port_write8(UART_IER, 0);
	if ((isr16_uart_iir & IIR_ID_MASK) != IIR_THRE)
		irq16_fail(IRQ16_E_UART_IIR, "uart: IIR did not report THR empty");
	uart_puts("irq16: uart irq 4 vector 0x24 ok\n");
}

/*
 * IRQ 14: READ SECTORS, 1 sector at LBA 0, with nIEN clear. ATA PIO data-in: the drive reads
 * the sector, sets DRQ and raises INTRQ; the host's handler reads status (acknowledge), and
 * the sector is then read from the data port. After the last sector no interrupt follows.
 */
static void irq16_ata(void)
{
	uint8_t s;

	pic_unmask(HV_IRQ_ATA);
	port_write8(HV_PORT_ATA_CTL, 0x00);    /* device control: nIEN = 0, interrupts on */
	port_write8(ATA_DEVICE, 0xE0);         /* LBA mode, master, LBA bits 24-27 = 0 */
	s = port_read8(HV_PORT_ATA_CTL);       /* where ATA waits 400 ns; 0x00/0xFF: no drive */
	if (s == 0x00 || s == 0xFF)
		irq16_fail(IRQ16_E_NODRIVE, "ata: no drive at 0x1f0 (hv run --disk-path legacy)");
	if ((s & (ST_BSY | ST_DRQ)) || !(s & ST_DRDY))
		irq16_fail(IRQ16_E_ATA_STATUS, "ata: drive not ready for a command");
	port_write8(ATA_NSECT, 1);
	port_write8(ATA_LBA_LO, 0);
	port_write8(ATA_LBA_MID, 0);
	port_write8(ATA_LBA_HI, 0);
	port_write8(ATA_COMMAND, 0x20);        /* READ SECTORS */

	if (!irq16_wait_irr(HV_IRQ_ATA))
		irq16_fail(IRQ16_E_ATA_IRR, "ata: IRQ 14 never requested (IRR bit 6 clear)");
	if (!irq16_wait_handler(&isr16_ata_count))
		irq16_fail(IRQ16_E_ATA_WAKE, "ata: IRQ 14 pending but vector 0x2e never ran");
	s = isr16_ata_status;                  /* what the handler's acknowledging read saw */
	if ((s & (ST_BSY | ST_ERR | ST_DF)) || !(s & ST_DRQ))
		irq16_fail(IRQ16_E_ATA_STATUS, "ata: no sector offered (status without DRQ)");
	port_read16_rep(ATA_DATA, sector, 256);
	s = port_read8(HV_PORT_ATA_CTL);       /* alternate status: no acknowledge needed */
	if (s & (ST_BSY | ST_ERR | ST_DF | ST_DRQ))
		irq16_fail(IRQ16_E_ATA_STATUS, "ata: command did not end cleanly");
	uart_puts("irq16: ata irq 14 vector 0x2e ok\n");
}

void guest_main(void);

void guest_main(void)
{
	uart_init();
	pic_init();     /* interrupts are off (entry16.S: cli) and stay off outside the waits */
	ivt_install();
	irq16_uart();
	irq16_ata();
	if (isr16_unexpected_count != 0)
		irq16_fail(IRQ16_E_UNEXPECTED, "a vector other than 0x24 and 0x2e arrived");
	/* Returning to entry16.S ends with cli; hlt: hv's "done, exit status 0". */
}
