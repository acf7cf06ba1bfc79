/*
 * vm.h - one virtual machine: KVM file descriptors, guest RAM, the bus and its devices.
 *
 * Concept: to KVM a VM is a file descriptor (from KVM_CREATE_VM) and each virtual CPU another
 * one (KVM_CREATE_VCPU). Guest RAM is plain host memory hv lends to KVM. Everything else a
 * "machine" has (serial port, disk controller) does not exist in KVM at all: hv emulates it
 * in user space. This struct gathers those pieces in the order the textbook explains them.
 * Textbook: chapter 2 "A VM from the inside".
 */
#ifndef HV_VM_H
#define HV_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bus.h"
#include "console.h"
#include "console_in.h"
#include "disk.h"
#include "dev/debugcon.h"
#include "dev/exitdev.h"
#include "dev/testdev.h"
#include "dev/uart.h"
#include "guestmem.h"
#include "hostinfo.h"
#include "iothread.h"
#include "irq.h"
#include "layout.h"
#include "loader.h"
#include "step.h"
#include "stop.h"
#include "trace_write.h"
#include "tracepage.h"
#include "vcpu.h"

/* Which controller the disk hangs on (hv run --disk-path). */
enum disk_path { DISK_PATH_NONE = 0, DISK_PATH_LEGACY = 1, DISK_PATH_VIRTIO = 2 };

struct viz; /* hv run --viz (hv/vizlink.h) */
struct rtc; /* hv/dev/rtc.h */
struct i8042; /* hv/dev/i8042.h */
struct acpipm; /* hv/dev/acpipm.h */
struct gdb_server; /* hv run --gdb (hv/gdbhv.h) */

struct vm_options {
	uint32_t mem_mib;        /* guest RAM size */
	enum boot_mode mode;     /* BOOT_AUTO: from the file */
	const char *guest_path;
	bool linux_kernel;       /* --kernel: guest_path is a bzImage (linuxboot.c) */
	const char *initrd_path; /* --initrd FILE: the kernel's initial RAM disk (bzImage or PVH) */
	const char *trace_path;  /* NULL: no trace */
	uint64_t trace_limit;    /* bytes of trace file at most (--trace-limit MiB) */
	const char *cmdline;     /* boot command line (may be NULL) */
	double timeout_s;        /* 0: none */
	const char *disk_file;   /* --disk FILE; NULL with a disk path: a scratch image */
	enum disk_path disk_path;
	enum disk_cache cache;
	bool ioeventfd;          /* virtio doorbell through an in-kernel eventfd */
	bool read_only;          /* --read-only: the guest may read the image, never write it */
	bool quiet;              /* no end-of-run summary */
	const char *step_at;     /* --step SYMBOL or address: single-step from there (step.c) */
	uint32_t step_count;     /* --step-count N: instructions to step */
	bool step_seek;          /* --step-seek: reach the window by stepping, not a breakpoint */
};

struct vm {
	/* KVM objects */
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;   /* shared with KVM: exit details appear here after KVM_RUN */
	size_t run_size;
	int stats_fd;          /* vCPU binary statistics (KVM_GET_STATS_FD), -1 if absent */
	struct host_info host;

	/* the machine hv emulates */
	struct guest_mem mem;
	struct bus bus;
	struct console console;
	struct console_input conin; /* hv's stdin into the UART's receiver (console_in.h) */
	struct uart *uart;
	struct debugcon *debugcon;
	struct exitdev *exitdev;
	struct testdev *testdev;
	struct rtc *rtc;       /* the CMOS clock (dev/rtc.h) */
	struct i8042 *i8042;   /* the keyboard controller and the reset line (dev/i8042.h) */
	struct acpipm *acpipm; /* the ACPI PM1 registers the FADT names (dev/acpipm.h) */
	struct vm_stop stop;   /* set by a device or the exit loop to end the run */

	/* interrupts (irq.h): device lines -> PIC -> KVM_INTERRUPT */
	struct irq_state irq;

	/* the disk and its controller (chapter 4): at most one of ata/vblk exists */
	struct disk disk;
	bool have_disk;
	struct ata *ata;
	struct virtio_blk *vblk;
	struct iothread_state io; /* --ioeventfd: the doorbell's own thread (iothread.h) */
	char cmdline[HV_CMDLINE_MAX]; /* what the guest gets: --cmdline plus the device words */

	/* recording */
	struct trace_writer *trace;
	struct tracepage tracepage; /* the guest kernel's ring changes (tracepage.c) */
	uint32_t tsc_khz;      /* the guest TSC's rate (KVM_GET_TSC_KHZ), 0 if unknown */
	bool sync_regs;        /* KVM copies registers into kvm_run on each exit */
	uint64_t guest_rip;    /* where the guest stands, as of the last exit (for the trace) */
	uint8_t guest_mode, guest_cpl;

	/* run control */
	struct boot_info boot;
	struct step_state step; /* hv run --step (step.h) */
	bool quiet;            /* --quiet: no summary, no step lines */
	struct vcpu_state cpu;  /* the vCPU thread, and kicking it out of KVM_RUN (vcpu.h) */
	uint64_t exits_seen;   /* exits that reached hv */
	uint64_t exits_by_reason[HVT_REASON_MAX + 1];
	uint64_t ns_in_run;    /* time inside KVM_RUN: the guest, and KVM's exits in the kernel */
	uint64_t ns_in_hv;     /* time between KVM_RUNs: hv handling exits (step 5) */
	uint64_t ns_halted;    /* of that, a halted guest waiting for an interrupt (irq.c) */
	char why[256];         /* why the run stopped, for the final message */
	struct viz *viz;       /* hv run --viz: hvviz is watching (vizlink.c); NULL otherwise */
	struct gdb_server *gdb; /* hv run --gdb: the gdb stub (gdbhv.c); NULL otherwise */
};

/* Ask the VM to stop with an exit status and a reason (NULL: a normal end), copied into
 * vm->why. The first reason wins (vm_stop_request, stop.h): a later one never hides what really
 * ended the run. */
void vm_stop_with(struct vm *vm, int status, const char *why);

/* A thread of hv, created with SIGINT/SIGTERM blocked (they belong to the main thread). */
int vm_start_thread(pthread_t *thread, void *(*fn)(void *), void *arg);

/* Monotonic nanoseconds, for time accounting (vm.c). */
uint64_t vm_now_ns(void);

/*
 * What the user named on the command line, checked and opened before hv asks KVM for anything
 * (vm.c, step 0): a mistake in a file is then reported as that mistake on every host, with or
 * without /dev/kvm, instead of hiding behind "no KVM here".
 */
struct vm_inputs {
	struct host_info host;   /* what this host is (hostinfo_probe): the trace header says it */
	char cmdline[HV_CMDLINE_MAX]; /* what the guest will get: --cmdline plus the device words */
	uint8_t *img;            /* the guest file, read whole */
	size_t len;
	uint8_t *initrd;         /* --initrd: the file, read whole (NULL: none) */
	size_t initrd_len;
	struct boot_info boot;   /* where it goes and how it starts (loader_check's answer) */
	uint64_t step_addr;      /* --step: the window's address, and where its byte is loaded */
	uint64_t step_gpa;
	struct disk disk;        /* --disk or --disk-path: the image, open */
	bool have_disk;
	struct trace_writer *trace; /* --trace: the file, created, header written */
	const char *trace_path;
};

/* Step 0: check and open the inputs; no KVM. On failure prints the one-line reason, frees what
 * it opened and returns the exit status (HV_EXIT_USAGE). */
int vm_prepare(struct vm_inputs *in, const struct vm_options *opt);
/* The guest's command line (part of vm_prepare): --cmdline, then the words hv adds. Returns the
 * length it needs, which is cap or more when it did not fit (as snprintf), or -1. */
int vm_build_cmdline(char *line, size_t cap, const struct vm_options *opt);
/* Steps 1-7: create the VM and its devices from prepared inputs, load the guest, set up the
 * CPU. It takes over the disk and the trace; vm_inputs_free releases the rest. On failure
 * prints the one-line reason and returns the exit status (HV_EXIT_USAGE or HV_EXIT_HOST). */
int vm_build(struct vm *vm, const struct vm_options *opt, struct vm_inputs *in);
/* Free what vm_build did not take over. A trace file not taken over is removed. */
void vm_inputs_free(struct vm_inputs *in);
/* vm_prepare, then vm_build: the whole recipe in one call. */
int vm_create(struct vm *vm, const struct vm_options *opt);
/* Run the vCPU thread to the end; returns hv's exit status. */
int vm_run(struct vm *vm, const struct vm_options *opt);
void vm_destroy(struct vm *vm);

#endif
