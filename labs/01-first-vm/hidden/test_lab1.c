/*
 * test_lab1.c - lab 1's hidden tests (suite hidden1): the exit loop and the VM's memory and vCPU,
 * with parameters a solution cannot hard-code.
 *
 *   exits_by_reason_with_random_loops   the exits guest (guest/exits.c) with a random loop count
 *                                       N causes exactly 7N + 1 IO and 3N MMIO exits, nothing else
 *   hello16_runs_with_random_mem_size   hello16 prints and halts with any --mem: 49 IO, 1 HLT
 *   kvm_slot_0_covers_exactly_the_ram   in-process: vm_create with a random --mem; KVM itself
 *                                       says slot 0 covers [0, mem) and no more (a second slot
 *                                       overlapping its last page is refused with EEXIST)
 *
 * The seed (getpid() ^ time) is printed in every failure message, so a failure can be replayed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../../../tests/integration/harness.h"
#include "layout.h"
#include "trace_read.h"
#include "vm.h"

static unsigned seed_once(void)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	srand(seed);
	return seed;
}

static uint64_t count(const struct trace_file *tf, int kind, int reason)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < tf->count; i++)
		n += tf->records[i].kind == kind && (reason < 0 || tf->records[i].reason == reason);
	return n;
}

Test(hidden1, exits_by_reason_with_random_loops)
{
	require_kvm();
	unsigned seed = seed_once();
	unsigned n = 1 + (unsigned)rand() % 3000;
	char cmdline[32], loops[64];
	snprintf(cmdline, sizeof(cmdline), "loops=%u", n);
	snprintf(loops, sizeof(loops), "seed %u, --cmdline loops=%u", seed, n);
	const char *t = tmp_path("exits.hvt");
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "60", "--trace", t, "--cmdline", cmdline,
				      guest("exits.bin"), NULL });
	cr_assert_eq(r.status, 1, "%s: status %d (want 1), stderr: %s", loops, r.status, r.err);
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(t, &tf, err, sizeof(err)), 0, "%s: %s", loops, err);
	uint64_t io = count(&tf, HVT_EXIT, HVT_R_IO), mmio = count(&tf, HVT_EXIT, HVT_R_MMIO);
	uint64_t all = count(&tf, HVT_EXIT, -1);
	cr_assert_eq(io, 7ull * n + 1, "%s: %llu IO exits, want 7N + 1 = %llu", loops,
		     (unsigned long long)io, 7ull * n + 1);
	cr_assert_eq(mmio, 3ull * n, "%s: %llu MMIO exits, want 3N = %llu", loops,
		     (unsigned long long)mmio, 3ull * n);
	cr_assert_eq(all, io + mmio, "%s: %llu exits of other reasons", loops,
		     (unsigned long long)(all - io - mmio));
	/* every exit returned from KVM_RUN once, and every entry but none after the last */
	cr_assert_eq(count(&tf, HVT_RUN_RETURN, -1), all, "%s", loops);
	cr_assert_eq(count(&tf, HVT_RUN_CALL, -1), all, "%s", loops);
	cr_assert_eq(count(&tf, HVT_ENTRY, -1), all, "%s", loops);
	trace_free(&tf);
}

Test(hidden1, hello16_runs_with_random_mem_size)
{
	require_kvm();
	unsigned seed = seed_once();
	unsigned mib = HV_MEM_MIN_MIB + (unsigned)rand() % (HV_MEM_MAX_MIB - HV_MEM_MIN_MIB + 1);
	char mem[16], what[64];
	snprintf(mem, sizeof(mem), "%u", mib);
	snprintf(what, sizeof(what), "seed %u, --mem %u", seed, mib);
	const char *t = tmp_path("h16.hvt");
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "20", "--mem", mem, "--trace", t,
				      guest("hello16.bin"), NULL });
	cr_assert_str_eq(r.out, "Hello from real mode\n", "%s: stderr: %s", what, r.err);
	cr_assert_eq(r.status, HV_EXIT_OK, "%s: status %d, stderr: %s", what, r.status, r.err);
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(t, &tf, err, sizeof(err)), 0, "%s: %s", what, err);
	cr_assert_eq(count(&tf, HVT_EXIT, HVT_R_IO), 49, "%s", what);
	cr_assert_eq(count(&tf, HVT_EXIT, HVT_R_HLT), 1, "%s", what);
	cr_assert_eq(count(&tf, HVT_EXIT, -1), 50, "%s", what);
	trace_free(&tf);
}

/* Ask KVM for one more slot at guest-physical gpa, one page: its errno (0: accepted). */
static int try_slot(struct vm *vm, uint64_t gpa, void *page)
{
	struct kvm_userspace_memory_region region = {
		.slot = 1, .guest_phys_addr = gpa, .memory_size = 4096,
		.userspace_addr = (uint64_t)(uintptr_t)page,
	};
	int rc = ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
	int err = rc < 0 ? errno : 0;
	if (rc == 0) { /* remove it again: size 0 deletes a slot */
		region.memory_size = 0;
		ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
	}
	return err;
}

Test(hidden1, kvm_slot_0_covers_exactly_the_ram)
{
	require_kvm();
	unsigned seed = seed_once();
	unsigned mib = HV_MEM_MIN_MIB + (unsigned)rand() % (HV_MEM_MAX_MIB - HV_MEM_MIN_MIB + 1);
	uint64_t size = (uint64_t)mib << 20;
	struct vm_options opt = { .mem_mib = mib, .guest_path = guest("hello16.bin"), .quiet = true };
	struct vm *vm = calloc(1, sizeof(*vm));
	cr_assert_not_null(vm);
	cr_assert_eq(vm_create(vm, &opt), 0, "seed %u, --mem %u: vm_create failed", seed, mib);
	/* hv's own view */
	cr_assert_eq(vm->mem.nslots, 1, "seed %u", seed);
	cr_assert_eq(vm->mem.slots[0].gpa, 0, "seed %u", seed);
	cr_assert_eq(vm->mem.slots[0].size, size, "seed %u, --mem %u", seed, mib);
	volatile uint8_t *last = gm_ptr(&vm->mem, size - 1, 1);
	cr_assert_not_null((void *)last, "seed %u", seed);
	*last = 0x5A; /* the RAM must be writable host memory */
	cr_assert_eq(*last, 0x5A);
	/* KVM's view: a slot overlapping the last page of RAM is refused, one right after it is
	 * accepted */
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(page, MAP_FAILED);
	cr_assert_eq(try_slot(vm, size - 4096, page), EEXIST,
		     "seed %u, --mem %u: KVM has no RAM slot under the last page of guest RAM", seed, mib);
	cr_assert_eq(try_slot(vm, 0, page), EEXIST, "seed %u: KVM has no RAM slot at address 0", seed);
	cr_assert_eq(try_slot(vm, size, page), 0,
		     "seed %u, --mem %u: KVM's RAM slot reaches past --mem", seed, mib);
	/* the vCPU and its kvm_run page */
	cr_assert_geq(vm->vcpu_fd, 0, "seed %u", seed);
	cr_assert_not_null(vm->run, "seed %u", seed);
	cr_assert_geq(vm->run_size, sizeof(struct kvm_run));
	cr_assert_eq(vm->run_size % 4096, 0, "kvm_run mapping of %zu bytes", vm->run_size);
	munmap(page, 4096);
	vm_destroy(vm);
	free(vm);
}
