/*
 * board.c - the PC this VM is: every device, its port or MMIO range, its IRQ line.
 *
 * Concept: KVM gives hv a CPU and RAM; the rest of the machine exists only because hv says so
 * here. A device is three things on a PC's board, and three things in this file:
 *
 *   the chip            a create function: the device's state in its power-on values
 *   the address decoder a bus range: "ports 0x3F8-0x3FF belong to the UART" (bus_register);
 *                       an access there leaves the guest (an exit, since KVM has no idea what
 *                       a UART is) and bus.c hands it to the device's ops table
 *   the interrupt trace a line to an input pin of the 8259A PIC (irq.c turns the PIC's output
 *                       into KVM_INTERRUPT)
 *
 * The map below is what `cat /proc/ioports` and `/proc/interrupts` show inside a Linux guest
 * on hv. The numbers themselves live in layout.h, the one place the guests share with hv.
 * Textbook: chapter 3 "Exits", section "From exit to device"; chapter 4 "Two I/O paths",
 * sections "Full virtualization: the legacy ATA disk", "virtio-mmio: finding the device" and
 * "Interrupts and polling".
 *
 * Nothing here calls KVM: a board is only hv's own bookkeeping, which is why the unit tests can
 * build devices without one. The exit loop never looks here either: exit -> bus -> device ops.
 */
#include "board.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dev/ata.h"
#include "dev/debugcon.h"
#include "dev/acpipm.h"
#include "dev/exitdev.h"
#include "dev/i8042.h"
#include "dev/pic.h"
#include "dev/pit.h"
#include "dev/rtc.h"
#include "dev/testdev.h"
#include "dev/uart.h"
#include "dev/virtio_mmio.h"
#include "layout.h"
#include "pvtrace.h"
#include "tracepage.h"

/* ---- the chips ------------------------------------------------------------------------------ */

/* Guest RAM in MiB (all slots), for the CMOS memory-size bytes. */
static uint32_t ram_mib(const struct vm *vm)
{
	uint64_t bytes = 0;
	for (int i = 0; i < vm->mem.nslots; i++)
		bytes += vm->mem.slots[i].size;
	return (uint32_t)(bytes >> 20);
}

/*
 * The PIC first, and irq_setup at once: from the moment vm->irq.pic exists, irq.c may take its
 * lock (vm->irq.pic != NULL is irq.c's "interrupts are set up"), and board_destroy relies on it.
 */
static int create_chips(struct vm *vm, enum disk_path disk, char *err, size_t errlen)
{
	vm->irq.pic = pic_create();
	if (!vm->irq.pic || irq_setup(vm) < 0) {
		snprintf(err, errlen, "cannot set up the interrupt controller: %s",
			 strerror(errno ? errno : ENOMEM));
		return -1;
	}
	vm->irq.pit = pit_create(vm_now_ns); /* counts on hv's monotonic clock (vm.c) */
	/* The UART and the debug console both print to hv's stdout, through one console buffer. */
	console_init(&vm->console, STDOUT_FILENO);
	vm->uart = uart_create(&vm->console);
	vm->debugcon = debugcon_create(&vm->console);
	vm->exitdev = exitdev_create(&vm->stop); /* its OUT only *requests* the stop (vcpu.c) */
	vm->i8042 = i8042_create(&vm->stop);     /* its reset line, too */
	vm->testdev = testdev_create();
	vm->acpipm = acpipm_create(); /* read only by an ACPI kernel: a Linux guest (hv/acpi.c) */
	/* The CMOS clock shows the host's date; its CMOS bytes say how much RAM there is. */
	vm->rtc = rtc_create(rtc_host_clock, ram_mib(vm));
	/* The para-virtual trace page's port: a guest kernel registers its page here (chapter 5). */
	tracepage_init(&vm->tracepage, &vm->mem, NULL);
	if (!vm->irq.pit || !vm->uart || !vm->debugcon || !vm->exitdev || !vm->testdev || !vm->rtc ||
	    !vm->i8042 || !vm->acpipm) {
		snprintf(err, errlen, "out of memory creating devices");
		return -1;
	}
	/* The disk controller: one image (vm->disk), one of two controllers (chapter 4). Each
	 * names itself in the disk's HVT_DISK records. The virtio device follows guest addresses
	 * (rings, buffers) only through vm->mem. */
	if (disk == DISK_PATH_LEGACY && !(vm->ata = ata_create(&vm->disk))) {
		snprintf(err, errlen, "out of memory creating the ATA controller");
		return -1;
	}
	if (disk == DISK_PATH_VIRTIO && !(vm->vblk = virtio_blk_create(&vm->mem, &vm->disk))) {
		snprintf(err, errlen, "out of memory creating the virtio-blk device");
		return -1;
	}
	return 0;
}

/* ---- the address decoders ------------------------------------------------------------------- */

/* One row of the map: a range of one address space, and who answers there. */
struct board_slot {
	enum bus_space space;
	uint64_t base, len;
	const struct device_ops *ops;
	void *dev; /* NULL: not on this board (the disk controller that was not chosen) */
};

/*
 * The whole map, in address order. Ranges may not overlap (bus_register refuses with EEXIST):
 * a real PC with two chips decoding one port would be broken too. Some devices answer in two
 * windows, as on the real chips: the PIC pair has a master and a slave at different ports plus
 * the ELCR, the ATA drive its command block and its one control port at 0x3F6, the keyboard
 * controller its data port 0x60 and its command port 0x64 (with the timer's port 0x61 between
 * them), and the test device one latch in port space and a page in MMIO space.
 */
static int map_devices(struct vm *vm)
{
	const struct board_slot map[] = {
		/* space    base                 length              ops               device */
		{ BUS_PIO,  HV_PORT_PIC_MASTER,  PIC_LEN,            &pic_master_ops,  vm->irq.pic },
		{ BUS_PIO,  HV_PORT_PIT,         PIT_LEN,            &pit_ops,         vm->irq.pit },
		{ BUS_PIO,  HV_PORT_I8042_DATA,  I8042_PORT_LEN,     &i8042_data_ops,  vm->i8042 },
		{ BUS_PIO,  HV_PORT_PORT61,      PIT_PORT61_LEN,     &pit_port61_ops,  vm->irq.pit },
		{ BUS_PIO,  HV_PORT_I8042_CMD,   I8042_PORT_LEN,     &i8042_cmd_ops,   vm->i8042 },
		{ BUS_PIO,  HV_PORT_RTC,         RTC_LEN,            &rtc_ops,         vm->rtc },
		{ BUS_PIO,  HV_PORT_PIC_SLAVE,   PIC_LEN,            &pic_slave_ops,   vm->irq.pic },
		{ BUS_PIO,  HV_PORT_DEBUGCON,    DEBUGCON_LEN,       &debugcon_ops,    vm->debugcon },
		{ BUS_PIO,  HV_PORT_EXIT,        EXITDEV_LEN,        &exitdev_ops,     vm->exitdev },
		{ BUS_PIO,  HV_PORT_ATA_CMD,     ATA_CMD_LEN,        &ata_cmd_ops,     vm->ata },
		{ BUS_PIO,  HV_PORT_ATA_CTL,     ATA_CTL_LEN,        &ata_ctl_ops,     vm->ata },
		{ BUS_PIO,  HV_PORT_UART0,       UART_LEN,           &uart_ops,        vm->uart },
		{ BUS_PIO,  HV_PORT_ELCR,        ELCR_LEN,           &pic_elcr_ops,    vm->irq.pic },
		{ BUS_PIO,  HV_PORT_TESTDEV,     TESTDEV_PIO_LEN,    &testdev_pio_ops, vm->testdev },
		{ BUS_PIO,  HV_PORT_PVTRACE,     TRACEPAGE_LEN,      &tracepage_ops,   &vm->tracepage },
		{ BUS_PIO,  HV_PORT_ACPI_PM1,    ACPIPM_LEN,         &acpipm_ops,      vm->acpipm },
		{ BUS_MMIO, HV_MMIO_TESTDEV,     TESTDEV_MMIO_LEN,   &testdev_mmio_ops, vm->testdev },
		{ BUS_MMIO, HV_MMIO_VIRTIO_BLK,  HV_VIRTIO_MMIO_LEN, &virtio_mmio_ops, vm->vblk },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const struct board_slot *s = &map[i];
		if (s->dev && bus_register(&vm->bus, s->space, s->base, s->len, s->ops, s->dev) < 0)
			return -1;
	}
	return 0;
}

/* ---- the interrupt traces ------------------------------------------------------------------- */

/*
 * One adapter per wire, so a device needs to know only "my line", never the PIC: the UART
 * calls set_irq(ctx, 1) and cannot tell whether a PIC, an IOAPIC or a test is listening.
 * irq_line records the change (HVT_IRQ_LINE) and sets the PIC's input pin.
 */
static void line_pit(void *ctx, int level) { irq_line(ctx, HV_IRQ_PIT, level); }
static void line_uart(void *ctx, int level) { irq_line(ctx, HV_IRQ_UART0, level); }
static void line_virtio(void *ctx, int level) { irq_line(ctx, HV_IRQ_VIRTIO_BLK, level); }
static void line_ata(void *ctx, int level) { irq_line(ctx, HV_IRQ_ATA, level); }
static void line_i8042(void *ctx, unsigned line, int level) { irq_line(ctx, line, level); }

/* The IRQ column of the board. The debug console, the exit port, the test device and the
 * CMOS clock raise no interrupt: a guest only ever writes to them, or reads them back at once
 * (the RTC's IRQ 8 is not modelled: appendix B, section B.10). */
static void wire_irqs(struct vm *vm)
{
	pit_connect_irq(vm->irq.pit, line_pit, vm);            /* IRQ 0: the timer tick */
	i8042_connect_irq(vm->i8042, line_i8042, vm);      /* IRQ 1 and 12: keyboard, mouse */
	uart_connect_irq(vm->uart, line_uart, vm);         /* IRQ 4: COM1 */
	if (vm->vblk)                                      /* IRQ 5: virtio-mmio, level */
		virtio_mmio_connect_irq(vm->vblk, line_virtio, vm);
	if (vm->ata)                                       /* IRQ 14: the primary ATA channel */
		ata_connect_irq(vm->ata, line_ata, vm);
}

/* ---- the board -------------------------------------------------------------------------------- */

int board_create(struct vm *vm, enum disk_path disk, char *err, size_t errlen)
{
	bus_init(&vm->bus);
	if (create_chips(vm, disk, err, errlen) < 0)
		return -1;
	if (map_devices(vm) < 0) {
		snprintf(err, errlen, "device address map is inconsistent: %s", strerror(errno));
		return -1;
	}
	wire_irqs(vm);
	return 0;
}

void board_destroy(struct vm *vm)
{
	/* The timer's tick thread may still raise IRQ 0: stop it (pit_destroy) before the PIC
	 * it raises goes away. The I/O thread (virtio doorbells) was stopped by vm_destroy. */
	pit_destroy(vm->irq.pit);
	vm->irq.pit = NULL;
	uart_destroy(vm->uart);
	debugcon_destroy(vm->debugcon);
	exitdev_destroy(vm->exitdev);
	testdev_destroy(vm->testdev);
	rtc_destroy(vm->rtc);
	i8042_destroy(vm->i8042);
	acpipm_destroy(vm->acpipm);
	ata_destroy(vm->ata);
	virtio_blk_destroy(vm->vblk);
	irq_teardown(vm); /* the interrupt lock, while vm->irq.pic still says it exists */
	pic_destroy(vm->irq.pic);
	vm->irq.pic = NULL;
}
