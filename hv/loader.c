/*
 * loader.c - load a raw binary or an ELF file into guest RAM and decide how the guest starts.
 *
 * Concept: a VMM is also the guest's boot loader. Real firmware finds a boot sector or a
 * kernel image and jumps to it in some CPU mode; hv does the same, from a file on the host.
 *
 *   raw .bin  copied as is. If it starts with the hvlab boot header (hv/layout.h) the header
 *             names the mode; otherwise the file is a real-mode program. Real-mode files load
 *             at 0x8000 (inside the first 64 KiB, where 16-bit offsets reach), others at 1 MiB.
 *   ELF       every PT_LOAD segment is copied to its *physical* address (p_paddr). ELF32 starts
 *             in 32-bit protected mode, ELF64 in long mode. If an ELF32 carries the PVH note
 *             (XEN_ELFNOTE_PHYS32_ENTRY), the entry point is the note's address and the guest
 *             is started the way the PVH boot ABI defines it (32-bit protected mode, paging off,
 *             EBX = start-info block), so the same file also boots on QEMU, Firecracker and
 *             cloud-hypervisor.
 *
 * The file is untrusted input: every offset and size in it is checked against the file length
 * and every destination against guest RAM (through gm_ptr), with overflow-safe arithmetic.
 * Textbook: chapter 2 "A VM from the inside", section "Loading a guest".
 */
#include "loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"

/*
 * PVH: the note type Xen defined for "enter me in 32-bit protected mode at this address".
 *
 * Why a Xen name in a KVM tool. Xen first ran guests paravirtualized (PV): the guest kernel knew
 * it was virtual and called the hypervisor instead of touching privileged hardware. With
 * VT-x/AMD-V came HVM guests, which need an emulated PC: BIOS, chipset, devices. PVH ("PV in an
 * HVM container") keeps hardware virtualization for CPU and memory but drops the emulated
 * firmware: the hypervisor loads the kernel itself and enters it directly, in a small documented
 * state (32-bit protected mode, paging off, EBX = start-info block). That direct boot is exactly
 * what a minimal VMM wants, so QEMU (-kernel, the microvm machine), Firecracker and
 * cloud-hypervisor implement the same note and start-info block, and Linux kernels built with
 * CONFIG_PVH carry the note. Textbook: chapter 1, section "PVH".
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* The words --mode accepts (main.c), for messages. */
const char *boot_mode_name(enum boot_mode mode)
{
	switch (mode) {
	case BOOT_REAL: return "real";
	case BOOT_PROTECTED: return "protected";
	case BOOT_LONG: return "long";
	default: return "auto";
	}
}

/*
 * True if [off, off + n) lies inside a buffer of len bytes (no sum is formed). The obvious
 * `off + n <= len` wraps modulo 2^64 for a hostile off and n and then passes; comparing first
 * and subtracting second cannot wrap (textbook ch 2, "Guest RAM is host memory", the same rule
 * as gm_ptr; textbook appendix C, T5 and Q6).
 */
static int in_file(size_t len, uint64_t off, uint64_t n)
{
	return off <= len && n <= len - off;
}

/*
 * Copy `n` file bytes to guest-physical `gpa` and zero the rest, up to `total` bytes. For an ELF
 * segment n is p_filesz and total is p_memsz: the tail that occupies memory but not the file is
 * .bss, which C promises starts as zero. It is zeroed explicitly, not taken on trust from fresh
 * mmap memory, because an earlier segment may already have written there.
 */
static int copy_to_guest(const struct guest_mem *gm, uint64_t gpa, const uint8_t *src,
			 uint64_t n, uint64_t total, const char *name, char *err, size_t errlen)
{
	/* One check of the whole destination range: gm_holds refuses a range that wraps 2^64 or
	 * leaves RAM, so the two memcpy/memset below cannot go outside guest memory. */
	if (total && !gm_holds(gm, gpa, total)) {
		snprintf(err, errlen,
			 "'%s' does not fit in guest RAM: it needs 0x%llx-0x%llx (give more with --mem)",
			 name, (unsigned long long)gpa, (unsigned long long)(gpa + total - 1));
		return -1;
	}
	/* loader_check: RAM has a size but no memory yet (gm_ptr NULL): checked, nothing to copy. */
	uint8_t *dst = total ? gm_ptr(gm, gpa, total) : NULL;
	if (!dst)
		return 0;
	if (n)
		memcpy(dst, src, n);
	if (total > n)
		memset(dst + n, 0, total - n);
	return 0;
}

/* ---- raw binaries ---- */
/*
 * A raw binary (objcopy -O binary) is the memory image alone, from the load address to the last
 * byte with contents: nothing in it says where it goes or where it starts, so the loader decides
 * by convention. A PC BIOS does the same with a boot sector: 512 bytes loaded at 0x7C00 and
 * jumped to in real mode. hv uses 0x8000, leaving its own tables below (layout.h), and lets the
 * boot header name the mode.
 */

/*
 * Mode named by the hvlab boot header, or 0 if the file does not start with one. EB 0E alone
 * proves nothing (it is an ordinary short jump a real-mode program may begin with), so the magic
 * and the version must match too. A header naming an unknown mode counts as no header.
 */
static int boot_header_mode(const uint8_t *img, size_t len)
{
	/*
	 * Bytes 0-1 are the instruction `jmp short +14`: 2 bytes of jump and the 14 it skips make
	 * the 16-byte header, so a CPU entering at byte 0 lands right after it. Bytes 2-5 are
	 * the magic, 6 the mode (16, 32 or 64), 7 the version.
	 */
	if (len < HV_BOOTHDR_SIZE || img[0] != 0xEB || img[1] != 0x0E ||
	    memcmp(img + 2, HV_BOOTHDR_MAGIC, 4) != 0 || img[7] != HV_BOOTHDR_VERSION)
		return 0;
	if (img[6] == 16 || img[6] == 32 || img[6] == 64)
		return img[6];
	return 0;
}

static int load_raw(const struct guest_mem *gm, const uint8_t *img, size_t len,
		    const char *name, enum boot_mode want, struct boot_info *bi, char *err,
		    size_t errlen)
{
	int hdr = boot_header_mode(img, len);
	/*
	 * --mode first, then the header; a file with neither is taken for a real-mode program,
	 * like a boot sector. Real mode loads at 0x8000, the others at 1 MiB, where kernels
	 * live.
	 */
	bi->mode = want != BOOT_AUTO ? want : hdr ? (enum boot_mode)hdr : BOOT_REAL;
	uint64_t at = bi->mode == BOOT_REAL ? HV_LOAD16_ADDR : HV_LOAD_ADDR;

	/* In real mode the CPU forms addresses as segment * 16 + a 16-bit offset; with all
	 * segments 0 the program must end below 64 KiB. */
	if (bi->mode == BOOT_REAL && len > 0x10000 - at) {
		snprintf(err, errlen, "'%s' is too big for real mode: %zu bytes, at most %u fit "
			 "between 0x%x and 64 KiB (use --mode protected or long)",
			 name, len, 0x10000u - (unsigned)at, (unsigned)at);
		return -1;
	}
	if (copy_to_guest(gm, at, img, len, len, name, err, errlen) < 0)
		return -1;
	/*
	 * The entry is byte 0: with a header, that is the `jmp short +14` over it, which decodes
	 * the same in real, protected and long mode. lowest/highest tell callers what the image
	 * covers.
	 */
	bi->entry = at;
	bi->lowest = at;
	bi->highest = at + len;
	return 0;
}

/* ---- ELF ---- */
/*
 * An ELF file has two views of the same bytes. The *program headers* (segments) are the loader's
 * view: "copy these file bytes to this address; in memory the segment is this big". The *section
 * headers* (.text, .data, .bss, .symtab) are the linker's and the debugger's view. A loader
 * needs only the first: the kernel's execve, ld.so and hv all ignore sections, and a file
 * without a section table loads fine. `readelf -l` shows segments, `readelf -S` sections.
 * Reference: the System V ABI (gABI) "Program Header", and elf(5).
 */

/* The ELF fields hv needs, read from either class into one shape. The two classes have the same
 * fields in different widths and order (ELF64 moves p_flags second, for alignment). */
struct elf_phdr_info {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz, vaddr;
};

/*
 * p_vaddr is where the program expects to be in its *virtual* address space, p_paddr where its
 * bytes must be in *physical* memory (the linker script's load address, AT(...)). For a kernel
 * they differ: x86-64 Linux is linked at virtual 0xffffffff81000000 but loaded at physical
 * 16 MiB, and turns paging on itself. A VMM writes guest-*physical* memory, and the guest starts
 * with paging off (PVH) or identity-mapped (hv's long mode), so p_paddr is the address that
 * counts. hv's guests have both equal (readelf -l: VirtAddr = PhysAddr).
 */
static void elf_get_phdr(const uint8_t *img, int is64, uint64_t at, struct elf_phdr_info *ph)
{
	if (is64) {
		Elf64_Phdr p;
		memcpy(&p, img + at, sizeof(p)); /* memcpy: the file need not be aligned */
		*ph = (struct elf_phdr_info){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz,
					      p.p_vaddr };
	} else {
		Elf32_Phdr p;
		memcpy(&p, img + at, sizeof(p));
		*ph = (struct elf_phdr_info){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz,
					      p.p_vaddr };
	}
}

/*
 * Walk the notes in one PT_NOTE segment looking for the PVH entry. A note is
 * namesz, descsz, type (4 bytes each), then the name and the descriptor, each padded to 4.
 * namesz counts the name's NUL: "Xen\0" is 4. The paddings are computed in 64 bits, so a
 * namesz near 2^32 cannot wrap, and each is compared with what is left before pos moves on;
 * pos therefore never passes size, and `size - pos` never wraps.
 */
static int elf_find_pvh(const uint8_t *note, uint64_t size, uint64_t *entry)
{
	uint64_t pos = 0;
	while (size - pos >= 12) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, note + pos, 4);
		memcpy(&descsz, note + pos + 4, 4);
		memcpy(&type, note + pos + 8, 4);
		uint64_t name_pad = ((uint64_t)namesz + 3) & ~3ull;
		uint64_t desc_pad = ((uint64_t)descsz + 3) & ~3ull;
		pos += 12;
		if (name_pad > size - pos || desc_pad > size - pos - name_pad)
			return 0; /* a note that runs past its segment: stop looking */
		/* The 4 bytes compared include the name's NUL: "Xen" exactly, never a longer name
		 * that starts with it. */
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(note + pos, "Xen", 4) == 0 && (descsz == 4 || descsz == 8)) {
			/*
			 * The address is 32 bits (the entry is in 32-bit mode); some 64-bit
			 * kernels store it in an 8-byte field. Little-endian: the first 4 bytes
			 * are the low half either way.
			 */
			uint32_t e;
			memcpy(&e, note + pos + name_pad, 4); /* a 32-bit physical address */
			*entry = e;
			return 1;
		}
		pos += name_pad + desc_pad;
	}
	return 0;
}

/* Check the ELF identification and header; fill class and the program header table place. */
static int elf_check_header(const uint8_t *img, size_t len, const char *name, int *is64,
			    uint64_t *phoff, uint64_t *phnum, uint64_t *entry, char *err,
			    size_t errlen)
{
	if (len < EI_NIDENT) {
		snprintf(err, errlen, "'%s' is a truncated ELF file (%zu bytes)", name, len);
		return -1;
	}
	/*
	 * e_ident, the first 16 bytes, has the same layout in both classes: the magic, EI_CLASS
	 * (32- or 64-bit), EI_DATA (byte order), the version, the OS ABI. Only the class tells
	 * how long the rest of the header is and where its fields sit.
	 */
	if (img[EI_CLASS] != ELFCLASS32 && img[EI_CLASS] != ELFCLASS64) {
		snprintf(err, errlen, "'%s' is not a 32- or 64-bit ELF file", name);
		return -1;
	}
	*is64 = img[EI_CLASS] == ELFCLASS64;
	size_t ehsize = *is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phentsize = *is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (len < ehsize) {
		snprintf(err, errlen, "'%s' is a truncated ELF file (header cut short)", name);
		return -1;
	}
	uint16_t machine, type, ph_entsize;
	if (*is64) {
		Elf64_Ehdr h;
		memcpy(&h, img, sizeof(h));
		machine = h.e_machine, type = h.e_type, ph_entsize = h.e_phentsize;
		*phoff = h.e_phoff, *phnum = h.e_phnum, *entry = h.e_entry;
	} else {
		Elf32_Ehdr h;
		memcpy(&h, img, sizeof(h));
		machine = h.e_machine, type = h.e_type, ph_entsize = h.e_phentsize;
		*phoff = h.e_phoff, *phnum = h.e_phnum, *entry = h.e_entry;
	}
	/*
	 * ET_EXEC is a fixed-address executable. A PIE (ET_DYN) expects to be relocated to
	 * wherever it is put, and hv has no relocator: guests are linked -no-pie at their load
	 * address (textbook ch 1, "Building a guest without an OS"). EM_386 or EM_X86_64: KVM
	 * runs the host's instruction set, nothing else.
	 */
	if (img[EI_DATA] != ELFDATA2LSB || (machine != EM_386 && machine != EM_X86_64) ||
	    type != ET_EXEC) {
		snprintf(err, errlen, "'%s' is not an x86 little-endian executable ELF "
			 "(link it with -static, no PIE)", name);
		return -1;
	}
	/*
	 * The gABI allows a larger e_phentsize (room for future fields); hv refuses it rather
	 * than misread every entry after the first. phnum < 2^16 and entries are at most 56
	 * bytes, so the product cannot overflow 64 bits.
	 */
	if (*phnum == 0 || ph_entsize != phentsize ||
	    !in_file(len, *phoff, *phnum * (uint64_t)phentsize)) {
		snprintf(err, errlen, "'%s': bad ELF program header table (missing or outside the file)",
			 name);
		return -1;
	}
	return 0;
}

static int load_elf(const struct guest_mem *gm, const uint8_t *img, size_t len,
		    const char *name, enum boot_mode want, struct boot_info *bi, char *err,
		    size_t errlen)
{
	int is64;
	uint64_t phoff, phnum, entry;
	if (elf_check_header(img, len, name, &is64, &phoff, &phnum, &entry, err, errlen) < 0)
		return -1;
	size_t phentsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	bi->is_elf = 1;
	bi->lowest = UINT64_MAX;
	bi->highest = 0;
	int loaded = 0;
	uint64_t pvh_entry = 0;

	/*
	 * One pass over the program headers: PT_LOAD segments are copied, PT_NOTE segments
	 * searched for PVH. The rest (PT_GNU_STACK, PT_GNU_PROPERTY, ...) is advice for an
	 * operating system's loader and means nothing before the first instruction. The PVH
	 * note counts in both classes: a 64-bit kernel such as Linux's vmlinux carries it to say
	 * "you may also start me in 32-bit protected mode, here".
	 */
	for (uint64_t i = 0; i < phnum; i++) {
		struct elf_phdr_info ph;
		elf_get_phdr(img, is64, phoff + i * phentsize, &ph);
		if (ph.type == PT_NOTE && in_file(len, ph.offset, ph.filesz))
			bi->has_pvh |= elf_find_pvh(img + ph.offset, ph.filesz, &pvh_entry);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		/* filesz > memsz is malformed: more file bytes than room in memory. */
		if (!in_file(len, ph.offset, ph.filesz) || ph.filesz > ph.memsz) {
			snprintf(err, errlen, "'%s': ELF segment %llu lies outside the file", name,
				 (unsigned long long)i);
			return -1;
		}
		if (copy_to_guest(gm, ph.paddr, img + ph.offset, ph.filesz, ph.memsz, name, err,
				  errlen) < 0)
			return -1;
		loaded++;
		if (ph.paddr < bi->lowest)
			bi->lowest = ph.paddr;
		if (ph.paddr + ph.memsz > bi->highest)
			bi->highest = ph.paddr + ph.memsz;
	}
	if (!loaded) {
		snprintf(err, errlen, "'%s': ELF file has no loadable segment", name);
		return -1;
	}
	/*
	 * A PVH note decides first: the file asks to be started the PVH way (32-bit protected
	 * mode at the note's address). Otherwise the class decides: ELF32 holds 32-bit code,
	 * ELF64 64-bit code. --mode overrides both, e.g. real mode for gcc -m16 output (16-bit
	 * code in an ELF32 wrapper); a 64-bit kernel forced into long mode starts at e_entry.
	 */
	bi->mode = want != BOOT_AUTO ? want : bi->has_pvh || !is64 ? BOOT_PROTECTED : BOOT_LONG;
	bi->entry = bi->has_pvh && bi->mode == BOOT_PROTECTED ? pvh_entry : entry;
	if (bi->mode == BOOT_REAL && entry >= 0x10000) {
		snprintf(err, errlen, "'%s': entry 0x%llx is above 64 KiB, unreachable in real mode "
			 "(drop --mode real)", name, (unsigned long long)entry);
		return -1;
	}
	return 0;
}

int loader_load(const struct guest_mem *gm, const uint8_t *img, size_t len, const char *name,
		enum boot_mode want, struct boot_info *bi, char *err, size_t errlen)
{
	memset(bi, 0, sizeof(*bi));
	if (len == 0) {
		snprintf(err, errlen, "'%s' is empty", name);
		return -1;
	}
	/* By content, not name: an ELF starts with 7F 'E' 'L' 'F'; anything else is raw. */
	if (len >= 4 && memcmp(img, ELFMAG, SELFMAG) == 0)
		return load_elf(gm, img, len, name, want, bi, err, errlen);
	return load_raw(gm, img, len, name, want, bi, err, errlen);
}

/*
 * A PVH kernel's initrd goes where a bzImage's does (linuxboot.c): as high in RAM as it fits,
 * on a page boundary, so the kernel's own memory below stays free while it starts.
 */
int loader_add_initrd(const struct guest_mem *gm, struct boot_info *bi, const uint8_t *rd,
		      size_t len, const char *name, char *err, size_t errlen)
{
	if (!bi->is_elf || !bi->has_pvh || bi->mode != BOOT_PROTECTED) {
		snprintf(err, errlen, "--initrd needs a kernel that takes one: a bzImage (--kernel) or an "
			 "ELF with the PVH note, started in protected mode");
		return -1;
	}
	uint64_t ram = gm->slots[0].size;
	if (len == 0 || ram < bi->highest || len > ((ram - bi->highest) & ~0xFFFull)) {
		snprintf(err, errlen, "the initrd '%s' (%zu bytes) does not fit in guest RAM above "
			 "the kernel (give more with --mem)", name, len);
		return -1;
	}
	bi->initrd_addr = (ram - len) & ~0xFFFull;
	bi->initrd_size = len;
	return copy_to_guest(gm, bi->initrd_addr, rd, len, len, name, err, errlen);
}

/*
 * Why a path that exists is still no guest file, for the one-line error. st_mode's type bits
 * (stat(2), "The file type and mode").
 */
static const char *not_regular(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/* read() until len bytes or end of file; EINTR is retried. Returns the bytes read, -1 on error. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* What each kind of file is called in hv's messages, and what to give instead. */
const struct loader_file_kind LOADER_GUEST = { "guest", "guest image",
	"a .bin or .elf file, e.g. build/guest/hello16.bin" };
const struct loader_file_kind LOADER_KERNEL = { "kernel", "kernel image",
	"a bzImage such as /boot/vmlinuz-*" };
const struct loader_file_kind LOADER_INITRD = { "initrd", "cpio archive",
	"a cpio archive such as build/linux/initramfs.cpio from make linux-initramfs" };

/*
 * The whole file is read into host memory first, then checked and copied. The size is checked
 * before anything is allocated: nothing bigger than guest RAM could be loaded anyway, so a huge
 * file costs no memory.
 *
 * O_NONBLOCK: open(2) of a FIFO without a writer waits for one, possibly forever ("hv run
 * some-fifo" would hang before saying a word). With O_NONBLOCK the open returns at once, and
 * fstat on the descriptor we hold (not stat on the name, which could change in between) says
 * what it is. Only regular files are accepted: a FIFO or a device has no meaningful size
 * (st_size is 0 for /dev/zero, and a pipe may never end). On a regular file O_NONBLOCK changes
 * nothing (POSIX, open(2)).
 */
uint8_t *loader_read_as(const char *path, const struct loader_file_kind *kind, size_t max,
			size_t *len, char *err, size_t errlen)
{
	const char *what = kind->what;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s '%s' is %s, not a %s (give %s)", what, path,
			 not_regular(st.st_mode), kind->noun, kind->hint);
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s '%s' is %lld bytes, bigger than guest RAM (use --mem)",
			 what, path, (long long)st.st_size);
		close(fd);
		return NULL;
	}
	/*
	 * malloc(0) may return NULL, which would look like "out of memory" for an empty file; it
	 * is refused with a proper message later. A file truncated after fstat gives a short
	 * read.
	 */
	uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	ssize_t got = buf ? read_full(fd, buf, (size_t)st.st_size) : 0;
	if (!buf || got != (ssize_t)st.st_size) {
		snprintf(err, errlen, "cannot read %s '%s': %s", what, path,
			 !buf ? "out of memory" : got < 0 ? strerror(errno) : "short read");
		free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	*len = (size_t)got;
	return buf;
}

/* A guest file (hv run FILE): the messages call it a guest. */
uint8_t *loader_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	return loader_read_as(path, &LOADER_GUEST, max, len, err, errlen);
}

int loader_check(const uint8_t *img, size_t len, const char *name, enum boot_mode want,
		 uint64_t ram_size, struct boot_info *bi, char *err, size_t errlen)
{
	/* The RAM map hv will build (vm.c step 3), sizes only: no memory behind it yet. */
	struct guest_mem plan = { .slots = { { .gpa = 0, .size = ram_size, .host = NULL } },
				  .nslots = 1 };
	return loader_load(&plan, img, len, name, want, bi, err, errlen);
}

/* ---- symbols (hv run --step SYMBOL) ---- */

/* Section header i's type, offset, size, link and entry size, whichever the ELF class. */
struct sect {
	uint32_t type, link;
	uint64_t offset, size, entsize;
};

static int read_sect(const uint8_t *img, size_t len, int is64, uint64_t shoff, uint64_t i,
		     struct sect *s)
{
	size_t sz = is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	if (!in_file(len, shoff, (i + 1) * sz))
		return -1;
	if (is64) {
		Elf64_Shdr h;
		memcpy(&h, img + shoff + i * sz, sz);
		*s = (struct sect){ h.sh_type, h.sh_link, h.sh_offset, h.sh_size, h.sh_entsize };
	} else {
		Elf32_Shdr h;
		memcpy(&h, img + shoff + i * sz, sz);
		*s = (struct sect){ h.sh_type, h.sh_link, h.sh_offset, h.sh_size, h.sh_entsize };
	}
	return in_file(len, s->offset, s->size) ? 0 : -1;
}

/* Does the NUL-terminated string at strtab[off] equal name? (Never reads past the table.) */
static int str_equals(const uint8_t *strtab, uint64_t tabsize, uint64_t off, const char *name)
{
	size_t n = strlen(name);
	return off < tabsize && n < tabsize - off && memcmp(strtab + off, name, n + 1) == 0;
}

/*
 * The static symbol table (.symtab, SHT_SYMTAB) maps the names the linker saw to addresses;
 * its names live in the string table its sh_link names. Debuggers read the same table (gdb's
 * "info address os_step_window"). A stripped file has none. Every offset is checked against
 * the file: the file is the user's, and may be anything.
 */
int loader_find_symbol(const uint8_t *img, size_t len, const char *name, uint64_t *addr)
{
	int is64;
	uint64_t phoff, phnum, entry, shoff, shnum;
	char err[8];
	if (len < 4 || memcmp(img, ELFMAG, SELFMAG) != 0 ||
	    elf_check_header(img, len, "", &is64, &phoff, &phnum, &entry, err, sizeof err) < 0)
		return -1;
	if (is64) {
		Elf64_Ehdr h;
		memcpy(&h, img, sizeof(h));
		shoff = h.e_shoff, shnum = h.e_shnum;
	} else {
		Elf32_Ehdr h;
		memcpy(&h, img, sizeof(h));
		shoff = h.e_shoff, shnum = h.e_shnum;
	}
	size_t symsize = is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
	for (uint64_t i = 0; i < shnum; i++) {
		struct sect tab, str;
		if (read_sect(img, len, is64, shoff, i, &tab) < 0 || tab.type != SHT_SYMTAB ||
		    tab.entsize != symsize || read_sect(img, len, is64, shoff, tab.link, &str) < 0)
			continue;
		/* Entry 0 is the null symbol; undefined, section and file symbols name no code. */
		for (uint64_t off = symsize; off + symsize <= tab.size; off += symsize) {
			uint64_t name_off, value;
			unsigned type, shndx;
			if (is64) {
				Elf64_Sym s;
				memcpy(&s, img + tab.offset + off, sizeof(s));
				name_off = s.st_name, value = s.st_value;
				type = ELF64_ST_TYPE(s.st_info), shndx = s.st_shndx;
			} else {
				Elf32_Sym s;
				memcpy(&s, img + tab.offset + off, sizeof(s));
				name_off = s.st_name, value = s.st_value;
				type = ELF32_ST_TYPE(s.st_info), shndx = s.st_shndx;
			}
			if (shndx == SHN_UNDEF || type == STT_SECTION || type == STT_FILE)
				continue;
			if (str_equals(img + str.offset, str.size, name_off, name)) {
				*addr = value;
				return 0;
			}
		}
	}
	return -1;
}

/*
 * Where did the loader put the byte a program sees at virtual address `vaddr`? In the PT_LOAD
 * segment whose [p_vaddr, p_vaddr + p_filesz) holds it, at p_paddr + (vaddr - p_vaddr). For
 * hv's small guests the two are equal; the mini OS links its user programs at 0x400000 but
 * stores them after the kernel, and copies them up before each task (guest/os/os.ld).
 */
int loader_load_address(const uint8_t *img, size_t len, uint64_t vaddr, uint64_t *paddr)
{
	int is64;
	uint64_t phoff, phnum, entry;
	char err[8];
	if (len < 4 || memcmp(img, ELFMAG, SELFMAG) != 0 ||
	    elf_check_header(img, len, "", &is64, &phoff, &phnum, &entry, err, sizeof err) < 0)
		return -1;
	size_t phentsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	for (uint64_t i = 0; i < phnum; i++) {
		struct elf_phdr_info ph;
		elf_get_phdr(img, is64, phoff + i * phentsize, &ph);
		if (ph.type == PT_LOAD && vaddr >= ph.vaddr && vaddr - ph.vaddr < ph.filesz) {
			*paddr = ph.paddr + (vaddr - ph.vaddr);
			return 0;
		}
	}
	return -1;
}
