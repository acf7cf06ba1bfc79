/*
 * pic.h - the PC's two cascaded 8259A programmable interrupt controllers, in user space.
 *
 * Concept: a device asks for the CPU's attention by raising a wire (an IRQ line). On a PC
 * those wires end at the 8259A: it remembers requests (IRR), lets the OS mask them (IMR),
 * picks the most urgent one, raises the CPU's INTR pin, and when the CPU acknowledges (INTA)
 * hands it the vector the OS programmed and marks the request in service (ISR) until the OS
 * writes an end-of-interrupt (EOI). hv plays this chip like any other device; the only new
 * step is the last one: hv tells KVM "inject vector V" (KVM_INTERRUPT) when the guest can take
 * it. Textbook: chapter 4 "Two I/O paths", section "Interrupts and polling".
 *
 * Master at ports 0x20/0x21 (IRQ 0-7), slave at 0xA0/0xA1 (IRQ 8-15) cascaded on the master's
 * IRQ 2, edge/level control (ELCR) at 0x4D0/0x4D1 as on PCI-era chipsets. No KVM in here:
 * unit tests drive it through its ops as a guest would.
 *
 * Threads: devices raise lines from the vCPU thread (during an exit) and from the I/O thread
 * (--ioeventfd), so every entry point takes the PIC's mutex. When INTR may have risen, the
 * `intr_changed` callback runs (without the lock held): hv uses it to kick the vCPU out of
 * KVM_RUN so it can inject.
 */
#ifndef HV_DEV_PIC_H
#define HV_DEV_PIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

#define PIC_LEN  2u /* ports: command, data */
#define ELCR_LEN 2u

/* One 8259A. */
struct pic_chip {
	uint8_t irr;       /* interrupt request register: lines asking */
	uint8_t isr;       /* in-service register: acknowledged, waiting for EOI */
	uint8_t imr;       /* interrupt mask register (OCW1): 1 = masked */
	uint8_t vector_base; /* ICW2: vector of IR0 (multiple of 8) */
	uint8_t elcr;      /* edge/level: 1 = level-triggered line */
	uint8_t lines;     /* current level of each input wire */
	uint8_t icw_step;  /* initialization: 0 = done, else the next ICW expected (2..4) */
	bool icw4_needed;
	bool single;       /* ICW1 SNGL: no cascade */
	bool auto_eoi;     /* ICW4 AEOI */
	bool read_isr;     /* OCW3: a command-port read returns ISR (else IRR) */
	uint8_t priority_base; /* lowest-priority line + 1 (rotation); 0 = IR0 highest */
	uint8_t cascade;   /* ICW3 */
	/* Added by pic.c (state the fields above do not cover): */
	bool ltim;         /* ICW1 LTIM: every line level-triggered, whatever the ELCR says */
	bool special_mask; /* OCW3 SMM: masked in-service lines stop blocking lower ones */
	bool poll;         /* OCW3 P: the next read is the poll word (an INTA by read) */
	bool rotate_aeoi;  /* OCW2 "rotate in automatic EOI mode" */
	uint8_t elcr_mask; /* ELCR bits the chipset lets software set (IRQ 0,1,2,8,13: edge only) */
};

struct pic {
	pthread_mutex_t lock;
	struct pic_chip chip[2]; /* [0] master, [1] slave */
	void (*intr_changed)(void *ctx);
	void *intr_ctx;
	/* counters */
	uint64_t acks, spurious, eois, bad_access;
};

extern const struct device_ops pic_master_ops; /* at HV_PORT_PIC_MASTER, PIC_LEN */
extern const struct device_ops pic_slave_ops;  /* at HV_PORT_PIC_SLAVE, PIC_LEN */
extern const struct device_ops pic_elcr_ops;   /* at HV_PORT_ELCR, ELCR_LEN */

struct pic *pic_create(void);
void pic_destroy(struct pic *p);
void pic_connect_intr(struct pic *p, void (*intr_changed)(void *ctx), void *ctx);

/* A device's line changed (irq 0-15; other numbers are ignored). Edge-triggered lines
 * request on a rising edge, level-triggered ones while high. Thread-safe. */
void pic_set_irq(struct pic *p, unsigned irq, int level);

/* Is the CPU's INTR pin asserted: an unmasked request of higher priority than anything in
 * service, through the cascade? Thread-safe. */
bool pic_intr(struct pic *p);

/* Initialized and unmasked all the way to the CPU (slave lines: through the cascade too)? */
bool pic_line_enabled(struct pic *p, unsigned irq);

/* The INTA cycle: the vector to deliver now, and the IRR/ISR bookkeeping that goes with it.
 * Without a request: the spurious vector (IR7 of the chip, as the real chip answers).
 * `irq_out` (may be NULL) gets the line number, or -1 for spurious. Thread-safe. */
uint8_t pic_ack(struct pic *p, int *irq_out);

#endif
