/*
 * exitbench.c - what does one VM exit cost, and what does hv add to it?
 *
 * Concept: a VM exit is expensive (the CPU saves the guest, loads the host, KVM decides, and
 * for a device access the kernel returns to user space and back). This benchmark runs the
 * `exits` guest, which does nothing but cause exits, three ways in one process:
 *
 *   raw     the smallest possible loop around KVM_RUN: a switch on the exit reason and a
 *           latch for the test device; no bus, no trace
 *   hv      hv's real exit loop (hv/vcpu.c): bus lookup, device callback
 *   traced  the same with --trace: four trace records per exit, buffered
 *
 * and prints the time per exit and the two ratios to the raw loop. The machine is built the
 * same way each time (vm_create), only the loop differs. This is a benchmark, not a test:
 * nothing here passes or fails on a number. Textbook: chapter 3, section "What an exit costs".
 *
 *   usage: exitbench GUEST [LOOPS]     (default 20000 loops = 10 exits each + 1 = 200001 exits)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "vm.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * The raw loop. It must still answer the guest correctly (the guest checks that IN returns
 * what it wrote, and the MMIO read too), so it keeps the two latches inline.
 */
static long raw_loop(struct vm *vm, int *status)
{
	struct kvm_run *run = vm->run;
	uint32_t port_latch = 0, mmio_latch[2] = { 0, 0 };
	long exits = 0;
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			perror("exitbench: KVM_RUN");
			return -1;
		}
		exits++;
		if (run->exit_reason == KVM_EXIT_IO) {
			uint8_t *d = (uint8_t *)run + run->io.data_offset;
			if (run->io.port == HV_PORT_EXIT) {
				*status = (d[0] << 1) | 1;
				return exits;
			}
			if (run->io.direction == KVM_EXIT_IO_OUT)
				memcpy(&port_latch, d, 4);
			else
				memcpy(d, &port_latch, 4);
		} else if (run->exit_reason == KVM_EXIT_MMIO) {
			uint32_t i = (run->mmio.phys_addr - HV_MMIO_TESTDEV) / 4 & 1;
			if (run->mmio.is_write)
				memcpy(&mmio_latch[i], run->mmio.data, 4);
			else
				memcpy(run->mmio.data, &mmio_latch[i], 4);
		} else {
			fprintf(stderr, "exitbench: unexpected exit %u\n", run->exit_reason);
			return -1;
		}
	}
}

/* Build the machine, run it one way, report seconds and exits. */
static int measure(const char *what, struct vm_options *opt, double *secs, long *exits)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm || vm_create(vm, opt) != 0)
		return -1;
	int status = 0;
	double t0 = now_s();
	if (!strcmp(what, "raw")) {
		*exits = raw_loop(vm, &status);
	} else {
		status = vm_run(vm, opt);
		*exits = (long)vm->exits_seen;
	}
	*secs = now_s() - t0;
	vm_destroy(vm);
	free(vm);
	if (status != 1 || *exits <= 0) {
		fprintf(stderr, "exitbench: %s run ended with status %d (want 1)\n", what, status);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: exitbench GUEST [LOOPS]\n");
		return 2;
	}
	long loops = argc == 3 ? strtol(argv[2], NULL, 10) : 20000;
	if (loops < 1 || loops > 10000000) {
		fprintf(stderr, "exitbench: LOOPS must be 1..10000000\n");
		return 2;
	}
	char cmdline[64], trace_path[] = "/tmp/exitbench.XXXXXX";
	snprintf(cmdline, sizeof(cmdline), "loops=%ld", loops);
	int fd = mkstemp(trace_path);
	if (fd < 0) {
		perror("exitbench: mkstemp");
		return 1;
	}
	close(fd);

	const char *names[3] = { "raw", "hv", "traced" };
	double secs[3], per[3];
	long exits[3];
	for (int i = 0; i < 3; i++) {
		struct vm_options opt = {
			.mem_mib = HV_MEM_DEFAULT_MIB, .guest_path = argv[1], .cmdline = cmdline,
			.trace_path = i == 2 ? trace_path : NULL,
		};
		if (measure(names[i], &opt, &secs[i], &exits[i]) < 0) {
			unlink(trace_path);
			return 1;
		}
		per[i] = secs[i] / (double)exits[i] * 1e6;
	}
	unlink(trace_path);

	printf("exitbench: %ld loops of the exits guest, one run each way\n", loops);
	printf("  %-8s %10s %10s %12s %8s\n", "loop", "exits", "seconds", "us/exit", "x raw");
	for (int i = 0; i < 3; i++)
		printf("  %-8s %10ld %10.3f %12.3f %8.2f\n", names[i], exits[i], secs[i], per[i],
		       per[i] / per[0]);
	printf("  hv/raw %.2f, traced/raw %.2f\n", per[1] / per[0], per[2] / per[0]);
	return 0;
}
