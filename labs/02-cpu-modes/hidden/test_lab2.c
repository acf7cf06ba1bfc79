/*
 * test_lab2.c - lab 2's hidden tests (suite hidden2): the GDT, the page tables and the registers
 * hv gives each boot mode, checked from the outside and with random parameters.
 *
 *   identity_map_translates_random_addresses   in-process: a long-mode VM with a random --mem;
 *                                              walking the guest's page tables from its CR3
 *                                              (any page sizes) maps random addresses below
 *                                              4 GiB to themselves, present and writable
 *   gdt_in_guest_ram_matches_the_loaded_segments  the descriptors in guest RAM (through GDTR)
 *                                              decode to the segments KVM holds, in both the
 *                                              protected-mode and the long-mode VM
 *   modeswitch_exits_per_mode_in_order         51 exits in real, 54 in protected, 45 in long
 *                                              mode, in that order (guest/modeswitch.S)
 *   long_mode_guest_runs_with_random_mem       hello64 with a random --mem starts in long mode
 *
 * The seed (getpid() ^ time) is printed in every failure message, so a failure can be replayed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../../tests/integration/harness.h"
#include "layout.h"
#include "regs.h"
#include "trace_read.h"
#include "vm.h"

static unsigned seed_once(void)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	srand(seed);
	return seed;
}

static unsigned random_mib(void)
{
	return HV_MEM_MIN_MIB + (unsigned)rand() % (HV_MEM_MAX_MIB - HV_MEM_MIN_MIB + 1);
}

/* A VM built as hv run would build it, not run: its RAM and vCPU registers can be read. */
static struct vm *build_vm(const char *file, unsigned mib, unsigned seed, struct kvm_sregs *s)
{
	struct vm_options opt = { .mem_mib = mib, .guest_path = guest(file), .quiet = true };
	struct vm *vm = calloc(1, sizeof(*vm));
	cr_assert_not_null(vm);
	cr_assert_eq(vm_create(vm, &opt), 0, "seed %u, %s --mem %u: vm_create failed", seed, file, mib);
	cr_assert_eq(sregs_get(vm, s), 0);
	return vm;
}

static uint64_t entry_at(struct vm *vm, uint64_t table, unsigned idx, unsigned seed, uint64_t va)
{
	uint64_t *e = gm_ptr(&vm->mem, (table & 0x000FFFFFFFFFF000ull) + idx * 8ull, 8);
	cr_assert_not_null(e, "seed %u, va 0x%llx: a page table at 0x%llx is not in guest RAM", seed,
			   (unsigned long long)va, (unsigned long long)table);
	cr_assert(*e & 1, "seed %u, va 0x%llx: entry %u of the table at 0x%llx is not present", seed,
		  (unsigned long long)va, idx, (unsigned long long)table);
	cr_assert(*e & 2, "seed %u, va 0x%llx: entry %u of the table at 0x%llx is not writable", seed,
		  (unsigned long long)va, idx, (unsigned long long)table);
	return *e;
}

/* The 4-level walk the CPU does (SDM vol. 3, 4.5), 1 GiB, 2 MiB or 4 KiB pages. */
static uint64_t translate(struct vm *vm, uint64_t cr3, uint64_t va, unsigned seed)
{
	const uint64_t addr = 0x000FFFFFFFFFF000ull;
	uint64_t e = entry_at(vm, cr3, (va >> 39) & 511, seed, va);
	e = entry_at(vm, e, (va >> 30) & 511, seed, va);
	if (e & 0x80)
		return (e & addr & ~((1ull << 30) - 1)) | (va & ((1ull << 30) - 1));
	e = entry_at(vm, e, (va >> 21) & 511, seed, va);
	if (e & 0x80)
		return (e & addr & ~((1ull << 21) - 1)) | (va & ((1ull << 21) - 1));
	e = entry_at(vm, e, (va >> 12) & 511, seed, va);
	return (e & addr) | (va & 0xFFF);
}

Test(hidden2, identity_map_translates_random_addresses)
{
	require_kvm();
	unsigned seed = seed_once();
	unsigned mib = random_mib();
	struct kvm_sregs s;
	struct vm *vm = build_vm("hello64.bin", mib, seed, &s);
	cr_assert(s.cr0 & (1u << 31), "seed %u: CR0.PG is off", seed);
	cr_assert(s.cr4 & (1u << 5), "seed %u: CR4.PAE is off", seed);
	cr_assert(s.efer & (1u << 10), "seed %u: EFER.LMA is off", seed);
	uint64_t fixed[] = { 0, 0xFFF, 0x1000, 0x1FFFFF, 0x200000, 0x100000, 0x3FFFFFFF,
			     0x40000000, 0xBFFFFFFF, 0xD0000000, 0xFFFFFFFF, ((uint64_t)mib << 20) - 1 };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		cr_assert_eq(translate(vm, s.cr3, fixed[i], seed), fixed[i],
			     "seed %u: virtual 0x%llx maps elsewhere", seed, (unsigned long long)fixed[i]);
	for (int i = 0; i < 2000; i++) {
		uint64_t va = (((uint64_t)rand() << 16) ^ (uint64_t)rand()) & 0xFFFFFFFFull;
		cr_assert_eq(translate(vm, s.cr3, va, seed), va, "seed %u: virtual 0x%llx maps to 0x%llx",
			     seed, (unsigned long long)va,
			     (unsigned long long)translate(vm, s.cr3, va, seed));
	}
	vm_destroy(vm);
	free(vm);
}

/* The descriptor for a loaded segment, decoded, must be what KVM holds for it. */
static void check_segment(struct vm *vm, const struct kvm_sregs *s, const struct kvm_segment *seg,
			  const char *name, const char *file, unsigned seed)
{
	cr_assert_neq(seg->selector & ~7u, 0, "seed %u, %s: %s has the null selector", seed, file, name);
	cr_assert_leq((seg->selector & ~7u) + 7u, s->gdt.limit, "seed %u, %s: %s's selector 0x%x is "
		      "past the GDT limit %u", seed, file, name, seg->selector, s->gdt.limit);
	uint64_t *p = gm_ptr(&vm->mem, s->gdt.base + (seg->selector & ~7u), 8);
	cr_assert_not_null(p, "seed %u, %s: the GDT is not in guest RAM", seed, file);
	uint64_t d = *p;
	uint32_t base = (uint32_t)(((d >> 16) & 0xFFFFFF) | ((d >> 56) << 24));
	uint32_t limit = (uint32_t)((d & 0xFFFF) | (((d >> 48) & 0xF) << 16));
	unsigned g = (d >> 55) & 1, db = (d >> 54) & 1, l = (d >> 53) & 1;
	unsigned present = (d >> 47) & 1, dpl = (d >> 45) & 3, sbit = (d >> 44) & 1;
	unsigned type = (d >> 40) & 0xF;
	if (g)
		limit = (limit << 12) | 0xFFF;
#define SAME(field, want) cr_assert_eq((uint64_t)(field), (uint64_t)(want), "seed %u, %s: the GDT " \
				       "descriptor of %s (selector 0x%x, 0x%016llx) disagrees with " \
				       "the loaded segment in %s", seed, file, name, seg->selector, \
				       (unsigned long long)d, #want)
	SAME(base, seg->base);
	SAME(limit, seg->limit);
	SAME(present, seg->present);
	SAME(dpl, seg->dpl);
	SAME(sbit, seg->s);
	SAME(l, seg->l);
	SAME(db, seg->db);
	SAME(g, seg->g);
	/* the accessed bit (type bit 0) may differ: the CPU sets it on the first load */
	SAME(type | 1, seg->type | 1);
#undef SAME
}

Test(hidden2, gdt_in_guest_ram_matches_the_loaded_segments)
{
	require_kvm();
	unsigned seed = seed_once();
	const char *files[] = { "hello32.bin", "hello64.bin" };
	for (int f = 0; f < 2; f++) {
		struct kvm_sregs s;
		struct vm *vm = build_vm(files[f], random_mib(), seed, &s);
		cr_assert(s.cr0 & 1, "seed %u, %s: CR0.PE is off", seed, files[f]);
		check_segment(vm, &s, &s.cs, "CS", files[f], seed);
		check_segment(vm, &s, &s.ds, "DS", files[f], seed);
		check_segment(vm, &s, &s.ss, "SS", files[f], seed);
		check_segment(vm, &s, &s.es, "ES", files[f], seed);
		cr_assert_eq(s.cs.l, f == 1, "seed %u, %s: CS.L", seed, files[f]);
		vm_destroy(vm);
		free(vm);
	}
}

Test(hidden2, modeswitch_exits_per_mode_in_order)
{
	require_kvm();
	unsigned seed = seed_once();
	unsigned mib = random_mib();
	char mem[16];
	snprintf(mem, sizeof(mem), "%u", mib);
	const char *t = tmp_path("ms.hvt");
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "30", "--mem", mem, "--trace", t,
				      guest("modeswitch.bin"), NULL });
	cr_assert_eq(r.status, 0, "seed %u, --mem %u: stderr: %s", seed, mib, r.err);
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(t, &tf, err, sizeof(err)), 0, "%s", err);
	const uint8_t want_mode[3] = { HVT_MODE_REAL, HVT_MODE_PROT32, HVT_MODE_LONG };
	const uint64_t want_n[3] = { 51, 54, 45 };
	uint64_t n[3] = { 0 };
	int at = 0;
	for (uint64_t i = 0; i < tf.count; i++) {
		const struct hvt_record *e = &tf.records[i];
		if (e->kind != HVT_EXIT)
			continue;
		while (at < 3 && e->mode != want_mode[at])
			at++;
		cr_assert_lt(at, 3, "seed %u: exit %llu in mode %u out of the order real, prot32, long",
			     seed, (unsigned long long)i, e->mode);
		n[at]++;
	}
	for (int m = 0; m < 3; m++)
		cr_assert_eq(n[m], want_n[m], "seed %u, --mem %u: %llu exits in mode %u, want %llu", seed,
			     mib, (unsigned long long)n[m], want_mode[m], (unsigned long long)want_n[m]);
	trace_free(&tf);
}

Test(hidden2, long_mode_guest_runs_with_random_mem)
{
	require_kvm();
	unsigned seed = seed_once();
	unsigned mib = random_mib();
	char mem[16];
	snprintf(mem, sizeof(mem), "%u", mib);
	const char *t = tmp_path("h64.hvt");
	struct hv_result r;
	hv_exec(&r, (const char *[]){ "run", "--timeout", "20", "--mem", mem, "--trace", t,
				      guest("hello64.elf"), NULL });
	cr_assert_str_eq(r.out, "Hello from long mode\n", "seed %u, --mem %u: stderr: %s", seed, mib, r.err);
	cr_assert_eq(r.status, HV_EXIT_OK, "seed %u, --mem %u: stderr: %s", seed, mib, r.err);
	struct trace_file tf;
	char err[512];
	cr_assert_eq(trace_load(t, &tf, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tf.records[1].kind, HVT_ENTRY);
	cr_assert_eq(tf.records[1].mode, HVT_MODE_LONG, "seed %u: the first entry is in mode %u", seed,
		     tf.records[1].mode);
	trace_free(&tf);
}
