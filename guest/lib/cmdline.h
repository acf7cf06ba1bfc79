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

/*
 * The value of the n-th (n = 0 for the first) whole word "key=VALUE": on success point *value
 * at its first byte, store its length in *len (it ends at a space, the NUL or max_len) and
 * return 1; return 0 if there are fewer than n + 1 such words. The value is not copied and
 * not NUL-terminated: compare it with cmdline_value_is. Some keys legitimately repeat (QEMU's
 * microvm appends one "virtio_mmio.device=" per transport), hence n.
 */
int cmdline_get_nth(const char *cmdline, uint32_t max_len, const char *key, uint32_t n,
		    const char **value, uint32_t *len);

/* Is the value (value, len) exactly the NUL-terminated string s? ("virtio" vs "virtio2": no.) */
int cmdline_value_is(const char *value, uint32_t len, const char *s);

/*
 * One "virtio_mmio.device=<size>@<base>:<irq>[:<id>]" word, the form Linux's virtio_mmio
 * driver parses (drivers/virtio/virtio_mmio.c, vm_cmdline_set): size and base are numbers in
 * decimal or 0x-hex with an optional K, M or G suffix (Linux's memparse), irq and the optional
 * platform-device id are decimal (the id is checked, then ignored). hv passes
 * "virtio_mmio.device=512@0xd0001000:5" (hv/layout.h).
 */
struct cmdline_mmio_dev {
	uint32_t size; /* bytes of register window */
	uint32_t base; /* guest-physical address of register 0 */
	uint32_t irq;  /* ISA/IOAPIC pin the transport would raise (our guests poll) */
};

/*
 * Parse the n-th virtio_mmio.device= word. Return 1 and fill *dev if it is well formed,
 * 0 if there is no n-th word, and -1 if it is garbage: a missing or extra character, a number
 * that overflows, a zero size, a base that is 0 or not 4-byte aligned, or a window
 * base + size that does not fit below 4 GiB (a 32-bit guest without paging cannot reach it).
 */
int cmdline_virtio_mmio(const char *cmdline, uint32_t max_len, uint32_t n,
			struct cmdline_mmio_dev *dev);

#endif
