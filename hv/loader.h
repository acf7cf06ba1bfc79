/*
 * loader.h - putting a guest image into guest RAM: raw binaries and ELF (with PVH).
 *
 * Concept: before the first VM entry, the VMM plays the role of firmware and boot loader: it
 * copies the guest's code into guest RAM and decides in which CPU mode, at which address, the
 * guest starts. Textbook: chapter 2 "A VM from the inside", section "Loading a guest".
 */
#ifndef HV_LOADER_H
#define HV_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "guestmem.h"

/* CPU mode a guest starts in. The numbers are the code width, as in the boot header. */
enum boot_mode { BOOT_AUTO = 0, BOOT_REAL = 16, BOOT_PROTECTED = 32, BOOT_LONG = 64 };

struct boot_info {
	enum boot_mode mode; /* what the CPU is set up for */
	uint64_t entry;      /* first instruction (guest-physical; real mode: below 64 KiB) */
	int is_elf;
	int has_pvh;         /* the ELF carried XEN_ELFNOTE_PHYS32_ENTRY */
	uint64_t boot_params; /* a Linux bzImage: where its boot_params are (RSI at entry), else 0 */
	uint32_t cmdline_max; /* a Linux bzImage: the longest command line it reads */
	uint64_t initrd_addr; /* --initrd on a PVH kernel: where it is (the PVH module list) */
	uint64_t initrd_size;
	uint64_t lowest;     /* lowest and highest+1 guest-physical byte written */
	uint64_t highest;
};

/*
 * Load `img` (len bytes, named `name` in messages) into guest memory. `want` is the --mode
 * the user asked for, or BOOT_AUTO. Returns 0, or -1 with a one-line reason in err.
 */
int loader_load(const struct guest_mem *gm, const uint8_t *img, size_t len, const char *name,
		enum boot_mode want, struct boot_info *bi, char *err, size_t errlen);

/*
 * The same checks as loader_load against RAM of ram_size bytes that does not exist yet, copying
 * nothing: hv runs it before it opens /dev/kvm, so a bad guest file is reported as such on
 * any host (vm.c, vm_prepare). Fills bi as loader_load would. Returns 0, or -1 with err set.
 */
int loader_check(const uint8_t *img, size_t len, const char *name, enum boot_mode want,
		 uint64_t ram_size, struct boot_info *bi, char *err, size_t errlen);

/* Read a whole regular file (at most max bytes; a FIFO, directory or device is refused without
 * blocking). Returns a malloc()ed buffer or NULL with err set. Its messages call the file a
 * "guest"; loader_read_as names the kind of file (LOADER_KERNEL, LOADER_INITRD). */
struct loader_file_kind {
	const char *what; /* in messages: "cannot open initrd 'x'" */
	const char *noun; /* "... is a directory, not a cpio archive" */
	const char *hint; /* "(give ...)" */
};
extern const struct loader_file_kind LOADER_GUEST, LOADER_KERNEL, LOADER_INITRD;
uint8_t *loader_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);
uint8_t *loader_read_as(const char *path, const struct loader_file_kind *kind, size_t max,
			size_t *len, char *err, size_t errlen);

const char *boot_mode_name(enum boot_mode mode);

/* --initrd on an ELF kernel with the PVH note: put the file at the top of RAM, page-aligned,
 * above the kernel, and note it in bi for the start-info block's module list. With a RAM map of
 * sizes only it checks without copying. Returns 0, or -1 with a one-line reason in err. */
int loader_add_initrd(const struct guest_mem *gm, struct boot_info *bi, const uint8_t *rd,
		      size_t len, const char *name, char *err, size_t errlen);

/* The address of symbol `name` in an ELF file's symbol table (.symtab): 0, or -1 if the file
 * is not an ELF, has no symbol table (stripped, or a .bin), or no such symbol. */
int loader_find_symbol(const uint8_t *img, size_t len, const char *name, uint64_t *addr);

/* The guest-physical address where loader_load put the file byte of virtual address vaddr
 * (p_paddr + (vaddr - p_vaddr) of its PT_LOAD segment): 0, or -1 if no segment's file bytes
 * hold it (or img is not an ELF). */
int loader_load_address(const uint8_t *img, size_t len, uint64_t vaddr, uint64_t *paddr);

#endif
