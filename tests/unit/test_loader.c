/*
 * test_loader.c - the guest loader and the guest-memory door, with a synthetic guest RAM.
 *
 * No KVM here: guest RAM is a calloc()ed buffer described as one slot, exactly what hv hands
 * the loader after mmap(). ELF images are built byte by byte so each test says what it breaks.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "guestmem.h"
#include "layout.h"
#include "loader.h"

#define RAM (4u << 20) /* 4 MiB of synthetic guest RAM */

static struct guest_mem gm;
static char err[512];

static void ram_setup(void)
{
	gm.slots[0] = (struct gm_slot){ .gpa = 0, .size = RAM, .host = calloc(1, RAM) };
	gm.nslots = 1;
	err[0] = '\0';
}

static void ram_teardown(void)
{
	free(gm.slots[0].host);
}

TestSuite(loader, .init = ram_setup, .fini = ram_teardown);
TestSuite(guestmem, .init = ram_setup, .fini = ram_teardown);

/* ---- the checked accessor ---- */

Test(guestmem, whole_range_inside_ram_gives_pointer)
{
	cr_assert_eq(gm_ptr(&gm, 0, RAM), gm.slots[0].host);
	cr_assert_eq(gm_ptr(&gm, RAM - 1, 1), gm.slots[0].host + RAM - 1);
}

Test(guestmem, range_crossing_the_end_is_refused)
{
	cr_assert_null(gm_ptr(&gm, RAM - 1, 2));
	cr_assert_null(gm_ptr(&gm, RAM, 1));
	cr_assert_null(gm_ptr(&gm, 0, RAM + 1ull));
}

/* T5/Q6: gpa + len wraps past 2^64 to a small number; a naive "gpa + len <= size" passes. */
Test(guestmem, T5_length_wrapping_2_64_is_refused)
{
	cr_assert_null(gm_ptr(&gm, 16, UINT64_MAX - 8));
	cr_assert_null(gm_ptr(&gm, UINT64_MAX, 2));
	uint8_t b;
	cr_assert_eq(gm_read(&gm, UINT64_MAX - 1, &b, 4), -1);
}

Test(guestmem, zero_length_is_refused)
{
	cr_assert_null(gm_ptr(&gm, 0, 0));
}

Test(guestmem, read_write_round_trip)
{
	uint32_t v = 0xCAFEBABE, w = 0;
	cr_assert_eq(gm_write(&gm, 0x1234, &v, 4), 0);
	cr_assert_eq(gm_read(&gm, 0x1234, &w, 4), 0);
	cr_assert_eq(w, v);
	cr_assert_eq(gm_write(&gm, RAM - 2, &v, 4), -1);
}

/* ---- raw binaries ---- */

Test(loader, raw_without_header_is_real_mode_at_0x8000)
{
	static const uint8_t img[] = { 0xFA, 0xF4 }; /* cli; hlt */
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, img, 2, "x", BOOT_AUTO, &bi, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(bi.mode, BOOT_REAL);
	cr_assert_eq(bi.entry, HV_LOAD16_ADDR);
	cr_assert_eq(memcmp(gm.slots[0].host + HV_LOAD16_ADDR, img, 2), 0);
}

Test(loader, raw_boot_header_selects_mode_and_load_address)
{
	uint8_t img[18] = { 0xEB, 0x0E, 'H', 'V', 'L', 'B', 64, 1 };
	img[16] = 0xF4;
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, img, sizeof(img), "x", BOOT_AUTO, &bi, err, sizeof(err)), 0);
	cr_assert_eq(bi.mode, BOOT_LONG);
	cr_assert_eq(bi.entry, HV_LOAD_ADDR);
	cr_assert_eq(gm.slots[0].host[HV_LOAD_ADDR + 16], 0xF4);
}

Test(loader, mode_option_overrides_boot_header)
{
	uint8_t img[16] = { 0xEB, 0x0E, 'H', 'V', 'L', 'B', 64, 1 };
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, img, sizeof(img), "x", BOOT_PROTECTED, &bi, err, sizeof(err)), 0);
	cr_assert_eq(bi.mode, BOOT_PROTECTED);
	cr_assert_eq(bi.entry, HV_LOAD_ADDR);
}

Test(loader, boot_header_with_bad_version_is_ignored)
{
	uint8_t img[16] = { 0xEB, 0x0E, 'H', 'V', 'L', 'B', 64, 9 };
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, img, sizeof(img), "x", BOOT_AUTO, &bi, err, sizeof(err)), 0);
	cr_assert_eq(bi.mode, BOOT_REAL);
}

/* 0x10000 - 0x8000 = 32 KiB fit between the load address and the end of the first segment. */
Test(loader, real_mode_binary_larger_than_32k_is_refused)
{
	static uint8_t img[0x8001];
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, img, sizeof(img), "big", BOOT_AUTO, &bi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "too big for real mode"), "%s", err);
	cr_assert_eq(loader_load(&gm, img, 0x8000, "ok", BOOT_AUTO, &bi, err, sizeof(err)), 0);
}

Test(loader, raw_binary_larger_than_ram_is_refused)
{
	size_t n = RAM - HV_LOAD_ADDR + 1;
	uint8_t *img = calloc(1, n);
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, img, n, "huge", BOOT_LONG, &bi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "does not fit in guest RAM"), "%s", err);
	free(img);
}

Test(loader, empty_file_is_refused)
{
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (const uint8_t *)"", 0, "e", BOOT_AUTO, &bi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "empty"), "%s", err);
}

/* ---- ELF ---- */

/* A minimal ELF32: header, one PT_LOAD (+ optionally a PT_NOTE with the PVH entry), code. */
struct elf32_img {
	Elf32_Ehdr eh;
	Elf32_Phdr ph[2];
	struct { uint32_t namesz, descsz, type; char name[4]; uint32_t entry; } note;
	uint8_t code[16];
};

static void elf32_build(struct elf32_img *e, uint32_t paddr, int with_pvh)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
	e->eh.e_ident[EI_CLASS] = ELFCLASS32;
	e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	e->eh.e_ident[EI_VERSION] = EV_CURRENT;
	e->eh.e_type = ET_EXEC;
	e->eh.e_machine = EM_386;
	e->eh.e_version = EV_CURRENT;
	e->eh.e_entry = paddr;
	e->eh.e_phoff = offsetof(struct elf32_img, ph);
	e->eh.e_ehsize = sizeof(Elf32_Ehdr);
	e->eh.e_phentsize = sizeof(Elf32_Phdr);
	e->eh.e_phnum = with_pvh ? 2 : 1;
	e->ph[0] = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = offsetof(struct elf32_img, code),
				 .p_paddr = paddr, .p_vaddr = paddr, .p_filesz = 16, .p_memsz = 64 };
	e->ph[1] = (Elf32_Phdr){ .p_type = PT_NOTE, .p_offset = offsetof(struct elf32_img, note),
				 .p_filesz = sizeof(e->note) };
	e->note.namesz = 4, e->note.descsz = 4, e->note.type = 18; /* XEN_ELFNOTE_PHYS32_ENTRY */
	memcpy(e->note.name, "Xen", 4);
	e->note.entry = paddr + 8;
	memset(e->code, 0x90, sizeof(e->code));
}

Test(loader, elf32_loads_at_physical_address_and_zeroes_bss)
{
	struct elf32_img e;
	elf32_build(&e, 0x200000, 0);
	memset(gm.slots[0].host + 0x200000, 0xAA, 64);
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "e", BOOT_AUTO, &bi, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(bi.mode, BOOT_PROTECTED);
	cr_assert_eq(bi.entry, 0x200000);
	cr_assert_eq(bi.has_pvh, 0);
	cr_assert_eq(gm.slots[0].host[0x200000 + 15], 0x90);
	cr_assert_eq(gm.slots[0].host[0x200000 + 16], 0, "memsz beyond filesz is zeroed (bss)");
	cr_assert_eq(gm.slots[0].host[0x200000 + 63], 0);
}

Test(loader, pvh_note_sets_the_entry_point)
{
	struct elf32_img e;
	elf32_build(&e, 0x200000, 1);
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "e", BOOT_AUTO, &bi, err, sizeof(err)), 0);
	cr_assert_eq(bi.has_pvh, 1);
	cr_assert_eq(bi.entry, 0x200008);
}

Test(loader, elf_segment_beyond_ram_is_refused)
{
	struct elf32_img e;
	elf32_build(&e, RAM - 32, 0); /* 64 bytes of memsz: the last 32 fall off the end */
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "e", BOOT_AUTO, &bi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "does not fit in guest RAM"), "%s", err);
}

Test(loader, elf_segment_wrapping_address_space_is_refused)
{
	struct elf32_img e;
	elf32_build(&e, 0xFFFFFFF0u, 0);
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "e", BOOT_AUTO, &bi, err, sizeof(err)), -1);
}

Test(loader, elf_segment_data_outside_file_is_refused)
{
	struct elf32_img e;
	elf32_build(&e, 0x200000, 0);
	e.ph[0].p_offset = 0xFFFFFFF0u; /* offset + filesz wraps a 32-bit sum; we use 64-bit checks */
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "e", BOOT_AUTO, &bi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "outside the file"), "%s", err);
}

Test(loader, elf_filesz_larger_than_memsz_is_refused)
{
	struct elf32_img e;
	elf32_build(&e, 0x200000, 0);
	e.ph[0].p_memsz = 8;
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "e", BOOT_AUTO, &bi, err, sizeof(err)), -1);
}

Test(loader, elf_program_headers_outside_file_are_refused)
{
	struct elf32_img e;
	elf32_build(&e, 0x200000, 0);
	e.eh.e_phnum = 1000;
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "e", BOOT_AUTO, &bi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "program header"), "%s", err);
}

Test(loader, elf_of_another_machine_is_refused)
{
	struct elf32_img e;
	elf32_build(&e, 0x200000, 0);
	e.eh.e_machine = EM_ARM;
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "e", BOOT_AUTO, &bi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not an x86"), "%s", err);
}

Test(loader, truncated_elf_header_is_refused)
{
	struct elf32_img e;
	elf32_build(&e, 0x200000, 0);
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, 20, "e", BOOT_AUTO, &bi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "truncated"), "%s", err);
}

/* A note whose namesz claims more bytes than the segment holds must not be read past. */
Test(loader, pvh_note_running_past_its_segment_is_ignored)
{
	struct elf32_img e;
	elf32_build(&e, 0x200000, 1);
	e.note.namesz = 0xFFFFFFF0u;
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "e", BOOT_AUTO, &bi, err, sizeof(err)), 0);
	cr_assert_eq(bi.has_pvh, 0);
	cr_assert_eq(bi.entry, 0x200000);
}

Test(loader, real_mode_elf_entry_above_64k_is_refused)
{
	struct elf32_img e;
	elf32_build(&e, 0x200000, 0);
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "e", BOOT_REAL, &bi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "real mode"), "%s", err);
}

/* An ELF64 (like Linux's vmlinux) with a PVH note: started the PVH way, 32-bit protected mode
 * at the note's address; with --mode long it starts at e_entry instead. */
Test(loader, elf64_with_pvh_note_starts_in_protected_mode_at_the_note)
{
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph[2];
		struct { uint32_t namesz, descsz, type; char name[4]; uint64_t entry; } note;
		uint8_t code[16];
	} e;
	memset(&e, 0, sizeof(e));
	memcpy(e.eh.e_ident, ELFMAG, SELFMAG);
	e.eh.e_ident[EI_CLASS] = ELFCLASS64;
	e.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	e.eh.e_type = ET_EXEC;
	e.eh.e_machine = EM_X86_64;
	e.eh.e_entry = 0x200100;
	e.eh.e_phoff = offsetof(__typeof__(e), ph);
	e.eh.e_phentsize = sizeof(Elf64_Phdr);
	e.eh.e_phnum = 2;
	e.ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = offsetof(__typeof__(e), code),
				.p_paddr = 0x200000, .p_filesz = 16, .p_memsz = 16 };
	e.ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = offsetof(__typeof__(e), note),
				.p_filesz = sizeof(e.note) };
	e.note.namesz = 4, e.note.descsz = 8, e.note.type = 18; /* 8-byte address, as Linux */
	memcpy(e.note.name, "Xen", 4);
	e.note.entry = 0x200040;
	struct boot_info bi;
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "v", BOOT_AUTO, &bi, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(bi.has_pvh, 1);
	cr_assert_eq(bi.mode, BOOT_PROTECTED);
	cr_assert_eq(bi.entry, 0x200040);
	cr_assert_eq(loader_load(&gm, (uint8_t *)&e, sizeof(e), "v", BOOT_LONG, &bi, err, sizeof(err)), 0);
	cr_assert_eq(bi.mode, BOOT_LONG);
	cr_assert_eq(bi.entry, 0x200100);
}
