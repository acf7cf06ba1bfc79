/*
 * cmdline.h - finding and reading the boot command line a PVH loader hands the guest.
 *
 * Concept: the only channel from the person typing "hv run --cmdline loops=1000 exits.bin"
 * to the guest is memory: the loader writes a struct hvm_start_info (the PVH boot ABI, shared
 * by Xen, QEMU and hv) and passes its physical address in EBX. The guest must treat it like
 * any input it did not write itself: check the magic, bound every read.
 * Textbook: chapter 1 "The guests", section "PVH".
 */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include <stdint.h>

/*
 * struct hvm_start_info, version 0 part (Xen public/arch-x86/hvm/start_info.h). All fields
 * are little-endian and at fixed offsets, checked below, so the struct means the same to the
 * 32-bit and 64-bit compilers (the 64-bit fields happen to be 8-byte aligned in both).
 */
#define HVM_START_MAGIC 0x336ec578u /* "xEn3" with bit 7 of the 'E' set */

struct hvm_start_info {
	uint32_t magic;         /*  0: HVM_START_MAGIC */
	uint32_t version;       /*  4: 0 or 1 */
	uint32_t flags;         /*  8: SIF_* flags */
	uint32_t nr_modules;    /* 12: entries in the module list */
	uint64_t modlist_paddr; /* 16: physical address of the module list */
	uint64_t cmdline_paddr; /* 24: physical address of the NUL-terminated command line */
	uint64_t rsdp_paddr;    /* 32: physical address of the ACPI RSDP, 0 if none */
};

_Static_assert(__builtin_offsetof(struct hvm_start_info, cmdline_paddr) == 24,
	       "hvm_start_info.cmdline_paddr must be at offset 24 (PVH ABI)");
_Static_assert(sizeof(struct hvm_start_info) == 40, "hvm_start_info v0 is 40 bytes");

/* The command line from the start info at physical address start_info_paddr, or 0 (NULL) if
   there is none: no start info (address 0), wrong magic, no command line, or one this guest
   cannot address (above 4 GiB in a 32-bit guest). Paging is off or identity-mapped in every
   hvlab guest, so a physical address is also a pointer. */
const char *startinfo_cmdline(uintptr_t start_info_paddr);

/*
 * Look for "key=DIGITS" as a whole word (at the start or after a space) in cmdline, reading
 * at most max_len bytes. On success store the decimal value, capped at cap, in *value and
 * return 1; return 0 if the key is absent or has no digits ("loops=" or "loops=x").
 */
int cmdline_get_uint(const char *cmdline, uint32_t max_len, const char *key, uint32_t cap,
		     uint32_t *value);

#endif
